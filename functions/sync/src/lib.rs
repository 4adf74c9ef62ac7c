//! The scheduled sync: polls Discord's REST API for new messages and reactions and writes per-day counters
//! into the counter store, exactly once, inside a time budget.
//!
//! The same code runs as the `sync` Lambda function (on an EventBridge schedule) and as `engagement sync`
//! and `engagement backfill` on a laptop. See the README for what counts and `docs/schema.md` for how the
//! counts are stored.

mod engine;
pub mod report;
pub mod settings;

use std::time::Duration;

use chrono::{DateTime, Utc};
use engagement_discord::DiscordClient;
use engagement_domain::{Day, GuildId, MessageId, snowflake};
use engagement_store::{CounterStore, StoreError};
use serde::Deserialize;
use tokio::time::Instant;

pub use report::RunSummary;
pub use settings::SyncSettings;

use crate::engine::{GuildRun, Mode};
use crate::report::Tally;

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The counter store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Discord failed in a way that stops the run (bad token, invalid-request budget, listings failing).
    #[error(transparent)]
    Discord(#[from] engagement_discord::Error),
    /// An id that cannot be a Discord id (zero).
    #[error("{0} is not a valid Discord id")]
    InvalidId(u64),
    /// The event asked for something malformed.
    #[error("invalid sync request: {0}")]
    InvalidRequest(String),
}

/// What the sync function is asked to do. An EventBridge scheduled event (or anything else without a
/// `backfill` key) means a normal sync.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct SyncRequest {
    /// Walk older history of one guild.
    #[serde(default)]
    pub backfill: Option<BackfillRequest>,
}

/// A backfill: count a guild's history back to a date.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct BackfillRequest {
    /// The guild.
    pub guild_id: String,
    /// First day to count (YYYY-MM-DD, in the guild's time zone).
    pub since: String,
}

/// Everything a run needs.
#[derive(Clone, Debug)]
pub struct Syncer {
    /// The counter store.
    pub store: CounterStore,
    /// The Discord client.
    pub discord: DiscordClient,
    /// Settings.
    pub settings: SyncSettings,
}

/// How long the lease lasts without renewal: a crashed run blocks the next for at most this long.
const LEASE_TTL: Duration = Duration::from_secs(60);
const LEASE_RENEW_EVERY: Duration = Duration::from_secs(20);

impl Syncer {
    /// Handles one invocation: a sync, or a backfill if the request says so. `budget` is the time
    /// available (the Lambda deadline minus a margin, or the configured budget).
    ///
    /// # Errors
    /// When the run cannot continue; everything committed before the error stays counted exactly once.
    pub async fn handle(
        &self,
        request: &SyncRequest,
        budget: Duration,
    ) -> Result<RunSummary, SyncError> {
        match &request.backfill {
            None => self.sync_all(budget).await,
            Some(b) => {
                let guild = GuildId(b.guild_id.trim().parse().map_err(|_| {
                    SyncError::InvalidRequest(format!(
                        "guild_id `{}` is not a Discord id",
                        b.guild_id
                    ))
                })?);
                let since: Day = b
                    .since
                    .parse()
                    .map_err(|e| SyncError::InvalidRequest(format!("since: {e}")))?;
                self.backfill(guild, since, budget).await
            }
        }
    }

    /// Syncs every guild the bot is in.
    ///
    /// # Errors
    /// See [`SyncError`].
    pub async fn sync_all(&self, budget: Duration) -> Result<RunSummary, SyncError> {
        let started = Instant::now();
        let mut summary = RunSummary { kind: "sync", ..RunSummary::default() };
        let Some(lease) = self.take_lease().await? else {
            summary.lease_held_elsewhere = true;
            return Ok(summary);
        };
        let renewal = self.renew_in_background(lease.clone());
        let result = self.sync_guilds(started, budget, &mut summary).await;
        renewal.abort();
        self.store.release_lease(&lease).await?;
        result?;
        self.finish(&mut summary, started);
        Ok(summary)
    }

    async fn sync_guilds(
        &self,
        started: Instant,
        budget: Duration,
        summary: &mut RunSummary,
    ) -> Result<(), SyncError> {
        let usage_before = self.store.usage();
        let tally = Tally::default();
        Tally::add(&tally.discord_calls, 1);
        let guilds = self.discord.current_user_guilds().await?;
        let deadline = started + budget;
        for guild in guilds {
            summary.guilds += 1;
            let run = GuildRun {
                store: &self.store,
                discord: &self.discord,
                settings: &self.settings,
                tally: &tally,
                guild: GuildId(guild.id.get()),
                now: self.now(),
                deadline,
                mode: Mode::Forward,
            };
            let outcome = run.run().await?;
            if outcome.out_of_time {
                summary.budget_exhausted = true;
                break;
            }
        }
        summary.absorb(&tally);
        let used = self.store.usage().since(&usage_before);
        summary.write_units = used.write_units;
        summary.read_units = used.read_units();
        Ok(())
    }

    /// Counts a guild's history back to `since` (a day in the guild's time zone), resumably: each run
    /// continues where the last stopped, and nothing the forward sync counted is counted again.
    ///
    /// # Errors
    /// See [`SyncError`].
    pub async fn backfill(
        &self,
        guild: GuildId,
        since: Day,
        budget: Duration,
    ) -> Result<RunSummary, SyncError> {
        let started = Instant::now();
        let mut summary = RunSummary { kind: "backfill", guilds: 1, ..RunSummary::default() };
        let Some(lease) = self.take_lease().await? else {
            summary.lease_held_elsewhere = true;
            return Ok(summary);
        };
        let renewal = self.renew_in_background(lease.clone());
        let usage_before = self.store.usage();
        let tally = Tally::default();
        let result = async {
            let config = self.store.guild_config(guild).await?;
            let zone = config.map_or(self.settings.default_time_zone, |c| c.time_zone);
            let since_id = MessageId(snowflake::from_time(since.start(zone)));
            let run = GuildRun {
                store: &self.store,
                discord: &self.discord,
                settings: &self.settings,
                tally: &tally,
                guild,
                now: self.now(),
                deadline: started + budget,
                mode: Mode::Backfill { since: since_id },
            };
            run.run().await
        }
        .await;
        renewal.abort();
        self.store.release_lease(&lease).await?;
        let outcome = result?;
        summary.budget_exhausted = outcome.out_of_time;
        summary.absorb(&tally);
        let used = self.store.usage().since(&usage_before);
        summary.write_units = used.write_units;
        summary.read_units = used.read_units();
        self.finish(&mut summary, started);
        Ok(summary)
    }

    fn now(&self) -> DateTime<Utc> {
        self.settings.fixed_now.unwrap_or_else(Utc::now)
    }

    fn finish(&self, summary: &mut RunSummary, started: Instant) {
        summary.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        summary.discord_invalid_requests =
            u64::from(self.discord.rate_limiter().invalid_requests());
    }

    async fn take_lease(&self) -> Result<Option<engagement_store::Lease>, SyncError> {
        let owner = format!("run-{:016x}", rand::random::<u64>());
        Ok(self.store.acquire_lease("sync", &owner, ms(LEASE_TTL), now_ms()).await?)
    }

    fn renew_in_background(&self, lease: engagement_store::Lease) -> tokio::task::JoinHandle<()> {
        let store = self.store.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(LEASE_RENEW_EVERY).await;
                match store.acquire_lease(&lease.name, &lease.owner, ms(LEASE_TTL), now_ms()).await
                {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        tracing::error!("the sync lease was taken over by another run");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "renewing the sync lease failed; retrying")
                    }
                }
            }
        })
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

/// The time a run may use: the configured budget, cut to the Lambda deadline minus the margin.
#[must_use]
pub fn budget(settings: &SyncSettings, lambda_deadline: Option<DateTime<Utc>>) -> Duration {
    let from_deadline = lambda_deadline
        .map(|d| (d - Utc::now()).to_std().unwrap_or_default().saturating_sub(settings.margin));
    from_deadline.map_or(settings.time_budget, |d| d.min(settings.time_budget))
}
