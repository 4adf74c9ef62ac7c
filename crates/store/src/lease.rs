//! The sync lease: one sync run at a time, and a crashed run blocks the next for at most the lease time.
//!
//! Counts stay exact without it (the batch log decides); the lease only saves overlapping runs from doing
//! the same work.

use std::collections::HashMap;

use crate::items::{Item, PK, SK, n, s};
use crate::{CounterStore, StoreError, StoreErrorKind};

/// A held lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// What the lease is for, e.g. `sync`.
    pub name: String,
    /// Who holds it (a run id).
    pub owner: String,
    /// When it expires unless renewed (Unix ms).
    pub expires_at_ms: u64,
}

const LEASE_PK: &str = "LEASE";

impl CounterStore {
    /// Takes the lease `name` for `owner` for `ttl_ms`, if it is free, expired or already `owner`'s.
    /// Returns `None` when someone else holds it.
    ///
    /// # Errors
    /// DynamoDB errors.
    pub async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        ttl_ms: u64,
        now_ms: u64,
    ) -> Result<Option<Lease>, StoreError> {
        let expires = now_ms + ttl_ms;
        let item: Item = HashMap::from([
            (PK.to_owned(), s(LEASE_PK)),
            (SK.to_owned(), s(name)),
            ("owner".to_owned(), s(owner)),
            ("lease_expires_ms".to_owned(), n(expires)),
            // Let DynamoDB remove long-dead leases.
            ("expires_at".to_owned(), n(expires / 1000 + 86_400)),
        ]);
        let size = crate::usage::item_size(&item);
        self.usage.write_request();
        self.faults.before_write("taking the lease")?;
        self.usage.request();
        let result = self
            .client()
            .await
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(pk) OR lease_expires_ms < :now OR #owner = :owner",
            )
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => {
                self.usage.write(size);
                self.faults.after_write("taking the lease")?;
                Ok(Some(Lease {
                    name: name.to_owned(),
                    owner: owner.to_owned(),
                    expires_at_ms: expires,
                }))
            }
            Err(e) => {
                let err =
                    StoreError::dynamo(format_args!("taking the `{name}` lease"), self.table(), e);
                if err.kind() == StoreErrorKind::Conflict { Ok(None) } else { Err(err) }
            }
        }
    }

    /// Gives the lease back if `owner` still holds it.
    ///
    /// # Errors
    /// DynamoDB errors.
    pub async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        self.usage.write_request();
        self.faults.before_write("releasing the lease")?;
        self.usage.request();
        let result = self
            .client()
            .await
            .delete_item()
            .table_name(self.table())
            .set_key(Some(crate::items::key(LEASE_PK.to_owned(), lease.name.clone())))
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(&lease.owner))
            .send()
            .await;
        match result {
            Ok(_) => {
                self.usage.write(1);
                self.faults.after_write("releasing the lease")?;
                Ok(())
            }
            Err(e) => {
                let err = StoreError::dynamo(
                    format_args!("releasing the `{}` lease", lease.name),
                    self.table(),
                    e,
                );
                if err.kind() == StoreErrorKind::Conflict { Ok(()) } else { Err(err) }
            }
        }
    }
}

impl CounterStore {
    /// Removes a lease whoever holds it. For operators (and tests) when a crashed run's lease must not
    /// wait the minute it takes to expire; counts stay exact either way.
    ///
    /// # Errors
    /// DynamoDB errors.
    pub async fn break_lease(&self, name: &str) -> Result<(), StoreError> {
        self.usage.write_request();
        self.usage.request();
        self.client()
            .await
            .delete_item()
            .table_name(self.table())
            .set_key(Some(crate::items::key(LEASE_PK.to_owned(), name.to_owned())))
            .send()
            .await
            .map_err(|e| {
                StoreError::dynamo(format_args!("breaking the `{name}` lease"), self.table(), e)
            })?;
        self.usage.write(1);
        Ok(())
    }
}
