//! Claims: one member's heavy work held for a while — an erasure in progress, a cooldown between exports.
//!
//! A claim is one item (`G#{guild}`, `CLAIM#{name}`) holding until when it is held (`until_ms`). Taking
//! it is one conditional `PutItem` that succeeds only when the item is absent or its time is over, so
//! two requests at the same moment cannot both take it. DynamoDB's TTL removes claims a day after they
//! end; nothing reads them but this module.

use std::collections::HashMap;

use engagement_domain::GuildId;

use crate::items::{self, EXPIRES_AT, Item, PK, SK, guild_pk, n, s};
use crate::{CounterStore, StoreError, StoreErrorKind};

/// Whether a claim was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// It is ours until the hold ends (or it is released).
    Taken,
    /// Someone holds it for this much longer (ms).
    Held {
        /// Milliseconds until it is free.
        remaining_ms: u64,
    },
}

/// How long after its end a claim item stays before DynamoDB's TTL removes it.
const CLAIM_RETENTION_SECONDS: u64 = 24 * 3600;

/// Attempts when a claim disappears between the failed write and the read that says who holds it.
const CLAIM_ATTEMPTS: usize = 3;

fn claim_sk(name: &str) -> String {
    format!("CLAIM#{name}")
}

fn claim_item(guild: GuildId, name: &str, until_ms: u64) -> Item {
    HashMap::from([
        (PK.to_owned(), s(guild_pk(guild))),
        (SK.to_owned(), s(claim_sk(name))),
        ("until_ms".to_owned(), n(until_ms)),
        (EXPIRES_AT.to_owned(), n(until_ms / 1000 + CLAIM_RETENTION_SECONDS)),
    ])
}

impl CounterStore {
    /// Takes the claim `name` in `guild` for `hold_ms` from `now_ms`, unless someone holds it.
    ///
    /// # Errors
    /// DynamoDB errors.
    pub async fn claim(
        &self,
        guild: GuildId,
        name: &str,
        now_ms: u64,
        hold_ms: u64,
    ) -> Result<Claim, StoreError> {
        let until_ms = now_ms.saturating_add(hold_ms);
        let doing = format!("taking the claim {name} in guild {guild}");
        for _ in 0..CLAIM_ATTEMPTS {
            let item = claim_item(guild, name, until_ms);
            let condition = "attribute_not_exists(pk) OR until_ms <= :now";
            match self
                .put_item_where(item, Some(condition), &[], vec![(":now", n(now_ms))], &doing)
                .await
            {
                Ok(()) => return Ok(Claim::Taken),
                Err(e) if e.kind() == StoreErrorKind::Conflict => {}
                Err(e) => return Err(e),
            }
            let held = self.get_item(guild_pk(guild), claim_sk(name), true, &doing).await?;
            if let Some(held) = held {
                let held_until = items::get_u64(&held, "until_ms")?;
                if held_until > now_ms {
                    return Ok(Claim::Held { remaining_ms: held_until - now_ms });
                }
            }
            // Released or over in between: try again.
        }
        Err(StoreError::new(
            StoreErrorKind::Conflict,
            format!("{doing}: it kept changing hands; try again"),
        ))
    }

    /// How long (ms) the claim `name` is still held at `now_ms`, if it is.
    ///
    /// # Errors
    /// DynamoDB errors.
    pub async fn held(
        &self,
        guild: GuildId,
        name: &str,
        now_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        let doing = format!("reading the claim {name} in guild {guild}");
        let item = self.get_item(guild_pk(guild), claim_sk(name), true, &doing).await?;
        let until_ms = item.map(|held| items::get_u64(&held, "until_ms")).transpose()?;
        Ok(until_ms.filter(|until| *until > now_ms).map(|until| until - now_ms))
    }

    /// Puts the claim `name` on hold until `now_ms + hold_ms`, whoever holds it now (a finished job
    /// turning its claim into a cooldown).
    ///
    /// # Errors
    /// DynamoDB errors.
    pub async fn hold(
        &self,
        guild: GuildId,
        name: &str,
        now_ms: u64,
        hold_ms: u64,
    ) -> Result<(), StoreError> {
        let until_ms = now_ms.saturating_add(hold_ms);
        self.put_item(
            claim_item(guild, name, until_ms),
            None,
            &format!("holding the claim {name} in guild {guild}"),
        )
        .await
    }

    /// Gives the claim `name` back if it is still the one held until `until_ms` (a job ending its own
    /// claim, never a later request's).
    ///
    /// # Errors
    /// DynamoDB errors.
    pub async fn release_own(
        &self,
        guild: GuildId,
        name: &str,
        until_ms: u64,
    ) -> Result<(), StoreError> {
        let doing = format!("releasing the claim {name} in guild {guild}");
        let key = items::key(guild_pk(guild), claim_sk(name));
        let condition = Some("until_ms = :until");
        let values = vec![(":until", n(until_ms))];
        match self.delete_item_where(key, condition, &[], values, 64, &doing).await {
            Err(e) if e.kind() == StoreErrorKind::Conflict => Ok(()),
            other => other,
        }
    }

    /// Gives the claim `name` back at once (taking a released claim always succeeds).
    ///
    /// # Errors
    /// DynamoDB errors.
    pub async fn release(&self, guild: GuildId, name: &str) -> Result<(), StoreError> {
        self.delete_item(
            items::key(guild_pk(guild), claim_sk(name)),
            &format!("releasing the claim {name} in guild {guild}"),
        )
        .await
    }
}
