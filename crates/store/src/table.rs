//! The table's definition, in one place: `engagement create-table` creates it from here, and a test checks
//! that `infra/template.yaml` defines the same table.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification,
    ScalarAttributeType, TimeToLiveSpecification,
};

use crate::items::{EXPIRES_AT, PK, SK};
use crate::{CounterStore, StoreError, StoreErrorKind};

/// Everything that defines the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDefinition {
    /// Partition key attribute (string).
    pub partition_key: &'static str,
    /// Sort key attribute (string).
    pub sort_key: &'static str,
    /// Billing: on demand.
    pub billing_mode: &'static str,
    /// TTL attribute (epoch seconds).
    pub ttl_attribute: &'static str,
    /// Point-in-time recovery.
    pub point_in_time_recovery: bool,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// Server-side encryption with the AWS managed KMS key (`aws/dynamodb`).
    pub sse_kms: bool,
}

impl TableDefinition {
    /// The one table of discord-engagement.
    pub const CURRENT: Self = Self {
        partition_key: PK,
        sort_key: SK,
        billing_mode: "PAY_PER_REQUEST",
        ttl_attribute: EXPIRES_AT,
        point_in_time_recovery: true,
        deletion_protection: true,
        sse_kms: true,
    };
}

/// What `create_table` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableCreation {
    /// The table was created.
    Created,
    /// A table of that name existed already; it was left as it is.
    AlreadyExists,
}

impl CounterStore {
    /// Creates the table as [`TableDefinition::CURRENT`] defines it, waits until it is active and turns on
    /// TTL and point-in-time recovery. An existing table is left alone.
    ///
    /// # Errors
    /// DynamoDB errors (a connection failure is not mistaken for "already exists").
    pub async fn create_table(&self) -> Result<TableCreation, StoreError> {
        let def = TableDefinition::CURRENT;
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder().attribute_name(name).key_type(kind).build()
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let build = |e: aws_sdk_dynamodb::error::BuildError| {
            StoreError::with_source(
                StoreErrorKind::Configuration,
                "building the table definition",
                e,
            )
        };
        let created = self
            .client()
            .await
            .create_table()
            .table_name(self.table())
            .key_schema(key(def.partition_key, KeyType::Hash).map_err(build)?)
            .key_schema(key(def.sort_key, KeyType::Range).map_err(build)?)
            .attribute_definitions(attr(def.partition_key).map_err(build)?)
            .attribute_definitions(attr(def.sort_key).map_err(build)?)
            .billing_mode(BillingMode::from(def.billing_mode))
            .deletion_protection_enabled(def.deletion_protection)
            .sse_specification(
                aws_sdk_dynamodb::types::SseSpecification::builder()
                    .enabled(def.sse_kms)
                    .sse_type(aws_sdk_dynamodb::types::SseType::Kms)
                    .build(),
            )
            .send()
            .await;
        let outcome = match created {
            Ok(_) => TableCreation::Created,
            Err(e) => {
                let exists = e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception());
                if exists {
                    return Ok(TableCreation::AlreadyExists);
                }
                return Err(StoreError::dynamo("creating the table", self.table(), e));
            }
        };
        self.wait_until_active().await?;
        self.client()
            .await
            .update_time_to_live()
            .table_name(self.table())
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(def.ttl_attribute)
                    .enabled(true)
                    .build()
                    .map_err(build)?,
            )
            .send()
            .await
            .map_err(|e| StoreError::dynamo("turning on TTL", self.table(), e))?;
        self.client()
            .await
            .update_continuous_backups()
            .table_name(self.table())
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(def.point_in_time_recovery)
                    .build()
                    .map_err(build)?,
            )
            .send()
            .await
            .map_err(|e| {
                StoreError::dynamo("turning on point-in-time recovery", self.table(), e)
            })?;
        Ok(outcome)
    }

    /// Polls the table status directly (the SDK waiter polls every 20 s at least).
    async fn wait_until_active(&self) -> Result<(), StoreError> {
        for attempt in 0..120u32 {
            let out = self
                .client()
                .await
                .describe_table()
                .table_name(self.table())
                .send()
                .await
                .map_err(|e| StoreError::dynamo("waiting for the table", self.table(), e))?;
            let active =
                out.table().and_then(|t| t.table_status()).is_some_and(|s| s.as_str() == "ACTIVE");
            if active {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(if attempt < 10 {
                100
            } else {
                1000
            }))
            .await;
        }
        Err(StoreError::new(
            StoreErrorKind::Unavailable,
            format!("table `{}` did not become active", self.table()),
        ))
    }

    /// Deletes the table (tests and local runs only: deletion protection is turned off first).
    ///
    /// # Errors
    /// DynamoDB errors.
    pub async fn delete_table(&self) -> Result<(), StoreError> {
        self.client()
            .await
            .update_table()
            .table_name(self.table())
            .deletion_protection_enabled(false)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("turning off deletion protection", self.table(), e))?;
        self.client()
            .await
            .delete_table()
            .table_name(self.table())
            .send()
            .await
            .map_err(|e| StoreError::dynamo("deleting the table", self.table(), e))?;
        Ok(())
    }
}
