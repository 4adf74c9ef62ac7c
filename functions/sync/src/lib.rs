//! The scheduled sync: polls Discord's REST API for new messages and reactions and writes per-day counters
//! into the counter store, exactly once, inside a time budget.
//!
//! The same code runs as the `sync` Lambda function (on an EventBridge schedule) and as `engagement sync`
//! and `engagement backfill` on a laptop. See the README for what counts and `docs/schema.md` for how the
//! counts are stored.

pub mod access;
mod engine;
pub mod plan;
pub mod report;
pub mod settings;

use std::time::Duration;

use chrono::{DateTime, Utc};
use engagement_actions::{DigestOutcome, DigestRun, RoleRun, RuleStatus};
use engagement_discord::DiscordClient;
use engagement_domain::{BackOff, Day, GuildId, MessageId, schedule, snowflake};
use engagement_store::{CounterStore, GuildListing, StoreError};
use futures::FutureExt as _;
use futures::StreamExt as _;
use serde::Deserialize;
use tokio::time::Instant;

pub use engine::message_facts;
pub use report::{MetricsLevel, RunSummary};
pub use settings::SyncSettings;

use crate::engine::GuildRun;
use crate::plan::{Mode, Planner};
use crate::report::RunCounters;

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
    /// A guild's run panicked (a bug): that guild stopped, the others went on.
    #[error("the sync of guild {0} panicked")]
    Panicked(u64),
}

/// What the sync function is asked to do: a normal sync (an EventBridge scheduled event, or `{}`) or a
/// backfill (`{"backfill": {"guild_id": "…", "since": "YYYY-MM-DD"}}`). Read it with
/// [`SyncRequest::from_event`], which refuses anything else rather than guessing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncRequest {
    /// Walk older history of one guild.
    pub backfill: Option<BackfillRequest>,
}

/// Keys of EventBridge's scheduled event: an object with only these (or none) is a normal sync.
const SCHEDULED_EVENT_KEYS: [&str; 9] =
    ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"];

impl SyncRequest {
    /// Reads an invocation's payload. A malformed payload is refused with a message naming the field —
    /// never treated as a scheduled sync: a backfill without `since`, a `backfill` that is not an object, a
    /// misspelt key inside it, or a top-level key that is neither `backfill` nor part of a scheduled event.
    ///
    /// # Errors
    /// [`SyncError::InvalidRequest`] as above.
    pub fn from_event(payload: &serde_json::Value) -> Result<Self, SyncError> {
        let invalid = |message: String| SyncError::InvalidRequest(message);
        let object = payload.as_object().ok_or_else(|| {
            invalid(format!(
                "the event must be a JSON object (an EventBridge scheduled event, {{}}, or \
                 {{\"backfill\": {{\"guild_id\": \"…\", \"since\": \"YYYY-MM-DD\"}}}}), not {}",
                json_kind(payload)
            ))
        })?;
        if let Some(backfill) = object.get("backfill") {
            if let Some(other) = object.keys().find(|k| *k != "backfill") {
                return Err(invalid(format!(
                    "unexpected key `{other}` beside `backfill`: a backfill event has only `backfill`"
                )));
            }
            let backfill = BackfillRequest::deserialize(backfill)
                .map_err(|e| invalid(format!("backfill: {e}")))?;
            return Ok(Self { backfill: Some(backfill) });
        }
        if let Some(other) = object.keys().find(|k| !SCHEDULED_EVENT_KEYS.contains(&k.as_str())) {
            return Err(invalid(format!(
                "unexpected key `{other}`: the event is neither a scheduled event nor a backfill \
                 (`{{\"backfill\": {{\"guild_id\": \"…\", \"since\": \"YYYY-MM-DD\"}}}}`)"
            )));
        }
        Ok(Self::default())
    }
}

/// The Lambda event, read through [`SyncRequest::from_event`]: a malformed one is a deserialization error
/// naming the field, so the runtime fails the invocation without running a sync.
impl<'de> Deserialize<'de> for SyncRequest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Self::from_event(&value).map_err(serde::de::Error::custom)
    }
}

/// At the Lambda boundary: the error type says whether a retry can help.
impl From<SyncError> for lambda_runtime::Diagnostic {
    fn from(error: SyncError) -> Self {
        let error_type = match &error {
            SyncError::Store(_) => "StoreFailed",
            SyncError::Discord(e) if e.is_fatal() => "DiscordRefused",
            SyncError::Discord(_) => "DiscordFailed",
            SyncError::InvalidId(_) | SyncError::InvalidRequest(_) => "InvalidRequest",
            SyncError::Panicked(_) => "GuildPanicked",
        };
        Self { error_type: error_type.to_owned(), error_message: error.to_string() }
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A backfill: count a guild's history back to a date.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
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
/// Guilds synced at the same time: every Discord call waits its turn in the client's one rate limiter, so
/// this only keeps the limiter busy while guilds wait on their listings.
const GUILD_CONCURRENCY: usize = 16;

/// What became of a due guild in a run.
enum Visit {
    /// The budget was spent before its turn.
    NotReached,
    /// It ran (completely or not).
    Ran(engine::GuildOutcome),
}

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
        let discord_before = self.discord.stats();
        let mut summary = RunSummary { kind: "sync", ..RunSummary::default() };
        let Some(lease) = self.take_lease().await? else {
            summary.lease_held_elsewhere = true;
            return Ok(summary);
        };
        let renewal = self.renew_in_background(lease.clone());
        // Boxed: the run's future is large, and a caller's stack need not hold it.
        let result = Box::pin(self.sync_guilds(started, budget, &mut summary)).await;
        renewal.abort();
        self.store.release_lease(&lease).await?;
        result?;
        self.finish(&mut summary, started, discord_before);
        Ok(summary)
    }

    async fn sync_guilds(
        &self,
        started: Instant,
        budget: Duration,
        summary: &mut RunSummary,
    ) -> Result<(), SyncError> {
        let usage_before = self.store.usage();
        let counters = RunCounters::default();
        let deadline = started + budget;
        let now = self.now();
        let now_ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        let back_off = self.settings.back_off();
        let rows = self.store.guild_schedules().await?;
        let listing = self.guild_listing(&back_off, now_ms, &counters).await?;
        // A server that added the bot since the listing is known once a slash command comes from it.
        let listed: std::collections::BTreeSet<GuildId> = listing.guilds.iter().copied().collect();
        let mut guilds = listing.guilds.clone();
        guilds.extend(
            rows.iter()
                .filter(|(g, row)| row.nudged_ms > listing.listed_ms && !listed.contains(g))
                .map(|(g, _)| *g),
        );
        // The guilds due, most overdue first: a guild this run does not reach keeps its old check, so
        // it is further past due at the next run.
        let order = schedule::run_order(&guilds, &rows, &back_off, now_ms);
        summary.guilds_not_due = u64::try_from(order.not_due.len()).unwrap_or(u64::MAX);
        // Guilds run side by side (their channels share the one rate limiter); a guild's failure does
        // not stop the others, and the first error is reported after all have finished.
        let counters_ref = &counters;
        let rows_ref = &rows;
        let listing_ref = &listing;
        let listed_ref = &listed;
        // Activity roles are applied after each guild's sync, within the same budget.
        let roles = RoleRun::new(
            &self.store,
            &self.discord,
            now,
            deadline.checked_sub(self.settings.margin),
            false,
        );
        let roles_ref = &roles;
        let digests = DigestRun::new(&self.store, &self.discord, now, false);
        let digests_ref = &digests;
        let visits: Vec<(GuildId, Result<Visit, SyncError>)> = futures::stream::iter(order.due)
            .map(|guild| async move {
                // A guild is not started once the budget is spent: not even its listings.
                if Instant::now() + self.settings.margin >= deadline {
                    return (guild, Ok(Visit::NotReached));
                }
                let row = rows_ref.get(&guild).copied().unwrap_or_default();
                let run = GuildRun {
                    store: &self.store,
                    discord: &self.discord,
                    settings: &self.settings,
                    counters: counters_ref,
                    guild,
                    planner: Planner::new(&self.settings, now, Mode::Forward),
                    deadline,
                    failed_channels: std::sync::atomic::AtomicU64::new(0),
                    read_new: std::sync::atomic::AtomicBool::new(false),
                    list_roles: row.roles_due(&back_off, now_ms),
                };
                // Boxed: a guild's work (its sync, roles and digest) is a large future, and the
                // run's stream holds several at once.
                let work = Box::pin(async {
                    let outcome = run.run().await?;
                    // Roles only on complete counts: a member must not lose a role because a channel
                    // was not read this run. A digest waits by itself until its days are counted.
                    if outcome.complete {
                        apply_roles(roles_ref, counters_ref, guild, &outcome.config).await?;
                        let checked =
                            row.after_check(now_ms, outcome.found_new, outcome.roles_listed);
                        self.store.record_check(guild, &checked).await?;
                    }
                    if outcome.left {
                        // Forgotten; the stored listing too, unless this run made it (then the
                        // next run checks the guild once more and lists the guilds again).
                        let relist = listed_ref.contains(&guild) && listing_ref.listed_ms < now_ms;
                        self.store.forget_guild(guild, relist).await?;
                    } else {
                        post_digest(digests_ref, counters_ref, guild, &outcome.config).await?;
                    }
                    Ok(Visit::Ran(outcome))
                });
                // A panic in one guild (a bug) must not take the other guilds' runs down with it.
                let visit = std::panic::AssertUnwindSafe(work)
                    .catch_unwind()
                    .await
                    .unwrap_or(Err(SyncError::Panicked(guild.0)));
                (guild, visit)
            })
            .buffer_unordered(GUILD_CONCURRENCY)
            .collect()
            .await;
        let mut first_error = None;
        let mut checked_now = std::collections::BTreeSet::new();
        for (guild, visit) in visits {
            match visit {
                Ok(Visit::NotReached) => {
                    summary.guilds_overdue += 1;
                    summary.budget_exhausted = true;
                }
                Ok(Visit::Ran(o)) if o.left => summary.guilds_left += 1,
                Ok(Visit::Ran(o)) => {
                    summary.guilds += 1;
                    summary.budget_exhausted |= o.out_of_time;
                    if o.complete {
                        summary.guilds_checked += 1;
                        checked_now.insert(guild);
                    } else {
                        summary.guilds_overdue += 1;
                    }
                }
                Err(e) => {
                    summary.guilds += 1;
                    summary.guilds_overdue += 1;
                    tracing::error!(error = %e, "a guild's sync stopped");
                    first_error.get_or_insert(e);
                }
            }
        }
        let waiting: Vec<GuildId> =
            guilds.iter().copied().filter(|g| !checked_now.contains(g)).collect();
        summary.oldest_check_age_ms = schedule::oldest_check_age_ms(&waiting, &rows, now_ms);
        if let Some(e) = first_error {
            return Err(e);
        }
        summary.absorb(&counters);
        let used = self.store.usage().since(&usage_before);
        summary.write_units = used.write_units;
        summary.read_units = used.read_units();
        Ok(())
    }

    /// The bot's guilds: the stored listing while it is younger than the back-off ceiling, else listed
    /// from Discord (a page per 200 guilds) and stored.
    async fn guild_listing(
        &self,
        back_off: &BackOff,
        now_ms: u64,
        counters: &RunCounters,
    ) -> Result<GuildListing, SyncError> {
        let stored = self.store.guild_listing().await?;
        if let Some(stored) = stored
            && !back_off.listing_due(stored.listed_ms, now_ms)
        {
            return Ok(stored);
        }
        RunCounters::add(&counters.discord_calls, 1);
        let listed = self.discord.current_user_guilds().await?;
        let listing = GuildListing {
            listed_ms: now_ms,
            guilds: listed.iter().map(|g| GuildId(g.id.get())).collect(),
        };
        self.store.put_guild_listing(&listing).await?;
        Ok(listing)
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
        let discord_before = self.discord.stats();
        let mut summary = RunSummary { kind: "backfill", guilds: 1, ..RunSummary::default() };
        let Some(lease) = self.take_lease().await? else {
            summary.lease_held_elsewhere = true;
            return Ok(summary);
        };
        let renewal = self.renew_in_background(lease.clone());
        let usage_before = self.store.usage();
        let counters = RunCounters::default();
        let result = async {
            let config = self.store.guild_config(guild).await?;
            let zone = config.map_or(self.settings.default_time_zone, |c| c.time_zone);
            let since_id = MessageId(snowflake::from_time(since.start(zone)));
            let run = GuildRun {
                store: &self.store,
                discord: &self.discord,
                settings: &self.settings,
                counters: &counters,
                guild,
                planner: Planner::new(
                    &self.settings,
                    self.now(),
                    Mode::Backfill { since: since_id },
                ),
                deadline: started + budget,
                failed_channels: std::sync::atomic::AtomicU64::new(0),
                read_new: std::sync::atomic::AtomicBool::new(false),
                list_roles: true,
            };
            run.run().await
        }
        .await;
        renewal.abort();
        self.store.release_lease(&lease).await?;
        let outcome = result?;
        summary.budget_exhausted = outcome.out_of_time;
        summary.absorb(&counters);
        let used = self.store.usage().since(&usage_before);
        summary.write_units = used.write_units;
        summary.read_units = used.read_units();
        self.finish(&mut summary, started, discord_before);
        Ok(summary)
    }

    /// The run's one clock: what the planner decides by, what batches and compaction are stamped with
    /// (`fixed_now` runs against a fake Discord with its own clock). Leases and the Lambda deadline use
    /// the wall clock: they coordinate real processes.
    fn now(&self) -> DateTime<Utc> {
        self.settings.fixed_now.unwrap_or_else(Utc::now)
    }

    fn finish(
        &self,
        summary: &mut RunSummary,
        started: Instant,
        discord_before: engagement_discord::ClientStats,
    ) {
        let discord = self.discord.stats().since(&discord_before);
        summary.discord_requests = discord.requests;
        summary.discord_429s = discord.rate_limited;
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

/// Applies the guild's activity roles that are due and adds what changed to the run's counters. Only a
/// failure that stops every Discord call fails the guild: anything else ends the rule's run (logged, and
/// counted in `role_rules_stopped`) and the next run tries again.
async fn apply_roles(
    roles: &RoleRun<'_, DiscordClient>,
    counters: &RunCounters,
    guild: GuildId,
    config: &engagement_domain::GuildConfig,
) -> Result<(), SyncError> {
    if config.activity_roles.is_empty() {
        return Ok(());
    }
    let outcomes = match roles.apply_guild(guild, config).await {
        Ok(outcomes) => outcomes,
        Err(engagement_actions::ActionError::Discord(e)) if e.is_fatal() => return Err(e.into()),
        Err(e) => {
            tracing::error!(%guild, error = %e, "activity roles could not be applied");
            RunCounters::add(&counters.role_rules_stopped, 1);
            return Ok(());
        }
    };
    for outcome in outcomes {
        RunCounters::add(&counters.roles_given, outcome.gained.len() as u64);
        RunCounters::add(&counters.roles_taken, outcome.lost.len() as u64);
        if matches!(outcome.status, RuleStatus::Refused(_) | RuleStatus::Failed(_)) {
            RunCounters::add(&counters.role_rules_stopped, 1);
        }
    }
    Ok(())
}

/// Posts the guild's digest if one is due. As for roles, only a failure that stops every Discord call
/// fails the guild; anything else is logged, and the next run sees to the post.
async fn post_digest(
    digests: &DigestRun<'_, DiscordClient>,
    counters: &RunCounters,
    guild: GuildId,
    config: &engagement_domain::GuildConfig,
) -> Result<(), SyncError> {
    if config.digest.is_none() {
        return Ok(());
    }
    match digests.post_due(guild, config).await {
        Ok(DigestOutcome::Posted(_)) => RunCounters::add(&counters.digests_posted, 1),
        Ok(DigestOutcome::Refused(_) | DigestOutcome::Failed(_)) => {
            RunCounters::add(&counters.digests_failed, 1);
        }
        Ok(_) => {}
        Err(engagement_actions::ActionError::Discord(e)) if e.is_fatal() => return Err(e.into()),
        Err(e) => {
            tracing::error!(%guild, error = %e, "the digest could not be posted");
            RunCounters::add(&counters.digests_failed, 1);
        }
    }
    Ok(())
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The wall clock, for leases (never `fixed_now`: a lease coordinates real processes).
fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

/// The time a run may use: the configured budget, cut to the Lambda deadline minus the margin. A deadline
/// already in the past is not a real one (the local emulator sends the timeout, not an instant) and is
/// ignored.
#[must_use]
pub fn budget(settings: &SyncSettings, lambda_deadline: Option<DateTime<Utc>>) -> Duration {
    let from_deadline = lambda_deadline
        .filter(|d| *d > Utc::now())
        .map(|d| (d - Utc::now()).to_std().unwrap_or_default().saturating_sub(settings.margin));
    from_deadline.map_or(settings.time_budget, |d| d.min(settings.time_budget))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str) -> serde_json::Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    #[test]
    fn the_event_files_parse_as_sync_requests() {
        let scheduled = SyncRequest::from_event(&event("sync-scheduled.json"));
        assert_eq!(scheduled.ok(), Some(SyncRequest::default()));
        assert_eq!(
            SyncRequest::from_event(&serde_json::json!({})).ok(),
            Some(SyncRequest::default())
        );
        let backfill = SyncRequest::from_event(&event("sync-backfill.json"));
        let backfill = backfill.ok().and_then(|r| r.backfill);
        assert_eq!(backfill.map(|b| b.since), Some("2026-11-01".to_owned()));
    }

    /// The typed event (`LambdaEvent<SyncRequest>`) refuses the same payloads with the same reasons.
    #[test]
    fn the_typed_event_refuses_a_malformed_payload() {
        let refused = serde_json::from_value::<SyncRequest>(serde_json::json!({"backfill": {}}));
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("missing field `guild_id`"), "{message}");
        let scheduled = serde_json::from_value::<SyncRequest>(event("sync-scheduled.json"));
        assert_eq!(scheduled.ok(), Some(SyncRequest::default()));
    }

    /// A malformed payload is refused, naming what is wrong; it never runs as a scheduled sync.
    #[test]
    fn malformed_events_are_refused_naming_the_field() {
        use serde_json::json;
        let cases = [
            (json!({"backfill": {"guild_id": "1"}}), "missing field `since`"),
            (json!({"backfill": "1209107113574400013"}), "backfill: invalid type: string"),
            (
                json!({"backfill": {"guild_id": "1", "sinse": "2026-11-01"}}),
                "unknown field `sinse`",
            ),
            (json!({"backfill": {"guild_id": "1", "since": "2026-11-01"}, "x": 1}), "`x`"),
            (
                json!({"backfil": {"guild_id": "1", "since": "2026-11-01"}}),
                "unexpected key `backfil`",
            ),
            (json!({"backfill": null}), "backfill: invalid type: null"),
            (json!("sync"), "not a string"),
            (json!(null), "not null"),
        ];
        for (payload, expected) in cases {
            match SyncRequest::from_event(&payload) {
                Err(SyncError::InvalidRequest(message)) => {
                    assert!(message.contains(expected), "{payload}: {message}");
                }
                other => panic!("{payload} was not refused: {other:?}"),
            }
        }
    }

    #[test]
    fn the_budget_stops_short_of_the_lambda_deadline() {
        let settings = SyncSettings::default();
        let deadline = Utc::now() + chrono::Duration::seconds(60);
        let b = budget(&settings, Some(deadline));
        assert!(b <= Duration::from_secs(50) && b > Duration::from_secs(45), "{b:?}");
        assert_eq!(budget(&settings, None), settings.time_budget);
        let emulator = DateTime::from_timestamp_millis(600_000);
        assert_eq!(budget(&settings, emulator), settings.time_budget);
    }
}
