//! The counter store: per-day Discord engagement counters in one DynamoDB table, applied exactly once.
//!
//! Design in one paragraph (the full schema, every access pattern and its cost are in `docs/schema.md`):
//! every change to a guild's counters is a [`Batch`](engagement_domain::Batch) appended to that guild's
//! **batch log** under the next sequence number with a conditional `PutItem`. The log item is the only write
//! that decides anything, so a batch is applied whole or not at all, and a retried or re-run sync cannot
//! count twice: its batch would need a sequence number that is already taken. Batches also carry the
//! channel cursors and reaction state, so counters and cursors can never disagree. **Compaction** later
//! folds batches into day and all-time summaries (compact binary items, sharded below DynamoDB's item size
//! limit) and cursor items; each summary remembers the last batch folded into it, so compaction can crash
//! anywhere and be re-run. Readers load the summaries they need and add the few batches not yet folded.

mod access;
mod activity;
mod audit;
mod claims;
mod compaction;
mod config;
mod digest;
mod error;
mod hours;
mod items;
mod lease;
mod log;
mod read;
mod roles;
mod schedule;
mod sdk;
mod summaries;
mod synced;
mod table;
mod usage;

use std::sync::Arc;

use aws_sdk_dynamodb::Client;

pub use claims::Claim;
pub use compaction::{CompactionPolicy, CompactionReport};
pub use config::ConfigVersion;
pub use digest::DigestState;
pub use error::{StoreError, StoreErrorKind};
pub use lease::Lease;
pub use log::{NO_REACTION_WINDOW, SyncView};
pub use roles::RoleState;
pub use schedule::GuildListing;
pub use sdk::{LazySdk, SdkClient};
pub use table::{TableCreation, TableDefinition};
pub use usage::Usage;

/// Where the counters live: a DynamoDB client and the table name.
#[derive(Clone, Debug)]
pub struct CounterStore {
    client: Arc<SdkClient<Client>>,
    table: Arc<str>,
    usage: Arc<usage::UsageMeter>,
    faults: Arc<FaultPlan>,
}

impl CounterStore {
    /// A store over an existing client and table.
    #[must_use]
    pub fn new(client: Client, table: impl Into<Arc<str>>) -> Self {
        Self::with_client(SdkClient::ready(client), table)
    }

    /// A store over `table` whose client is made from `sdk` on its first request.
    #[must_use]
    pub fn lazy(sdk: LazySdk, table: impl Into<Arc<str>>) -> Self {
        Self::with_client(SdkClient::lazy(sdk, Client::new), table)
    }

    fn with_client(client: SdkClient<Client>, table: impl Into<Arc<str>>) -> Self {
        Self {
            client: Arc::new(client),
            table: table.into(),
            usage: Arc::default(),
            faults: Arc::default(),
        }
    }

    /// The DynamoDB client, made now if it was not yet.
    async fn client(&self) -> &Client {
        self.client.get().await
    }

    /// A store over `table`, with a client configured by the AWS SDK's own variables (`AWS_REGION`,
    /// credentials, `AWS_ENDPOINT_URL_DYNAMODB` for a local DynamoDB). The table name is a start-up
    /// setting (`engagement_startup::Env::table_name`).
    pub async fn connect(table: impl Into<Arc<str>>) -> Self {
        Self::from_sdk(&sdk_config().await, table)
    }

    /// As [`connect`](Self::connect), with an SDK configuration the caller already loaded (and shares
    /// with its other AWS clients).
    #[must_use]
    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: impl Into<Arc<str>>) -> Self {
        Self::new(Client::new(sdk), table)
    }

    /// The table name.
    #[must_use]
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Requests and capacity units this store has used so far (estimated from item sizes with DynamoDB's
    /// rounding rules, so that local runs measure what AWS would bill).
    #[must_use]
    pub fn usage(&self) -> Usage {
        self.usage.snapshot()
    }

    /// Test hook: after `writes` more writes, fail the next one before it is sent, as a crash would.
    #[doc(hidden)]
    pub fn inject_crash_after_writes(&self, writes: u64) {
        self.faults.arm(writes, false);
    }

    /// Test hook: after `writes` more writes, send the next one and then report a failure, as a lost
    /// acknowledgement (or a crash right after the write) would.
    #[doc(hidden)]
    pub fn inject_lost_ack_after_writes(&self, writes: u64) {
        self.faults.arm(writes, true);
    }

    /// Test hook: writes folded cursor items as a compaction that folded the log through `through` does
    /// (a slow compaction's late write, in the race tests).
    #[doc(hidden)]
    pub async fn write_cursors_for_test(
        &self,
        guild: engagement_domain::GuildId,
        cursors: impl IntoIterator<Item = engagement_domain::ChannelCursor>,
        through: u64,
    ) -> Result<(), StoreError> {
        self.write_cursor_items(guild, cursors, through).await
    }

    /// Test hook: stop failing writes.
    #[doc(hidden)]
    pub fn clear_faults(&self) {
        self.faults.disarm();
    }
}

/// The AWS SDK configuration from the environment, with retries suited to DynamoDB throttling: the SDK's
/// standard mode retries throttling and transient errors with exponential backoff and jitter.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let retry = aws_config::retry::RetryConfig::standard().with_max_attempts(8);
    sdk_defaults().retry_config(retry).load().await
}

/// The AWS SDK's configuration loader with [`https_client`]: every SDK configuration in the product
/// starts here.
#[must_use]
pub fn sdk_defaults() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client())
}

/// The SDK's own HTTPS client (hyper + rustls, the system's root certificates), built as the SDK builds its
/// default one — connector settings, sleep, `HTTPS_PROXY`/`NO_PROXY` from the environment — but with
/// rustls on *ring* rather than aws-lc: the same client, ~3 MB less in each function binary.
#[must_use]
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(|settings, runtime_components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = runtime_components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// Planned write failures for crash tests.
#[derive(Debug, Default)]
struct FaultPlan {
    /// Writes left before failing; negative: disarmed.
    remaining: std::sync::atomic::AtomicI64,
    armed: std::sync::atomic::AtomicBool,
    /// Fail after the write instead of before it.
    after: std::sync::atomic::AtomicBool,
    /// Set when the chosen write went through and its failure is still to be reported.
    owed: std::sync::atomic::AtomicBool,
}

impl FaultPlan {
    fn arm(&self, writes: u64, after: bool) {
        use std::sync::atomic::Ordering;
        self.remaining.store(i64::try_from(writes).unwrap_or(i64::MAX), Ordering::SeqCst);
        self.after.store(after, Ordering::SeqCst);
        self.owed.store(false, Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }

    fn disarm(&self) {
        self.armed.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// Called before every write request.
    fn before_write(&self, what: &str) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        if !self.armed.load(Ordering::SeqCst) {
            return Ok(());
        }
        if self.remaining.fetch_sub(1, Ordering::SeqCst) <= 0 {
            if self.after.load(Ordering::SeqCst) {
                // Let this one write through once, then fail (see `after_write`); later writes fail before.
                if self.remaining.load(Ordering::SeqCst) == -1 {
                    self.owed.store(true, Ordering::SeqCst);
                    return Ok(());
                }
            }
            return Err(StoreError::new(
                StoreErrorKind::Injected,
                format!("injected crash before {what}"),
            ));
        }
        Ok(())
    }

    /// Called after every successful write request.
    fn after_write(&self, what: &str) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        if self.owed.swap(false, Ordering::SeqCst) {
            return Err(StoreError::new(
                StoreErrorKind::Injected,
                format!("injected crash after {what}"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engagement_domain::{Day, DayRange, GuildId, MessageId};

    fn assert_send<T: Send>(_: &T) {}

    /// The functions run these futures on a multi-threaded runtime: they must be `Send`.
    #[test]
    fn store_futures_are_send() {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let store = CounterStore::new(Client::from_conf(config), "t");
        let guild = GuildId(1);
        let range = DayRange::single(Day::from_ordinal(0));
        assert_send(&store.load_days(guild, range));
        assert_send(&store.load_all_time(guild));
        assert_send(&store.guild_config(guild));
        assert_send(&store.load_sync_view(guild, MessageId(0)));
        assert_send(&store.compact(guild, CompactionPolicy::default(), 0));
        assert_send(&store.erase_member(guild, engagement_domain::UserId(2), 0));
        assert_send(&store.create_table());
    }
}
