//! What a run did: one structured summary per run, and CloudWatch metrics in embedded metric format.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Counters that the concurrent parts of a run add to.
#[derive(Debug, Default)]
pub(crate) struct RunCounters {
    pub(crate) channels_checked: AtomicU64,
    pub(crate) channels_skipped_idle: AtomicU64,
    pub(crate) channels_fetched: AtomicU64,
    pub(crate) channels_no_access: AtomicU64,
    pub(crate) channel_errors: AtomicU64,
    pub(crate) discord_calls: AtomicU64,
    pub(crate) messages_read: AtomicU64,
    pub(crate) messages_counted: AtomicU64,
    pub(crate) reaction_corrections: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) compaction_failures: AtomicU64,
    pub(crate) compactions_unfinished: AtomicU64,
}

impl RunCounters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The summary of one sync (or backfill) run, logged once as JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// `sync` or `backfill`.
    pub kind: &'static str,
    /// Guilds visited.
    pub guilds: u64,
    /// Channels and threads looked at.
    pub channels_checked: u64,
    /// Of those, skipped without a Discord call because nothing was new.
    pub channels_skipped_idle: u64,
    /// Of those, read.
    pub channels_fetched: u64,
    /// Skipped because the bot cannot read them (403/404).
    pub channels_no_access: u64,
    /// Skipped this run after errors (retried next run).
    pub channel_errors: u64,
    /// Discord API calls made (pages and listings; retries inside the client not included).
    pub discord_calls: u64,
    /// HTTP requests sent to Discord (retries included).
    pub discord_requests: u64,
    /// Of those, answered 429.
    pub discord_429s: u64,
    /// Invalid requests (401, 403, 429) in the Discord client's sliding 10-minute window at the end of the
    /// run: what counts toward Discord's IP ban.
    pub discord_invalid_requests: u64,
    /// Messages read from Discord.
    pub messages_read: u64,
    /// Messages that counted for their author.
    pub messages_counted: u64,
    /// Reaction changes applied to already counted messages.
    pub reaction_corrections: u64,
    /// Batches committed.
    pub batches: u64,
    /// Guilds whose compaction failed this run (each is logged; their sync went on).
    pub compaction_failures: u64,
    /// Guilds whose compaction stopped at the deadline (a long erasure fold; the next run goes on).
    pub compactions_unfinished: u64,
    /// DynamoDB write units used (estimated with DynamoDB's rules).
    pub write_units: u64,
    /// DynamoDB read units used.
    pub read_units: u64,
    /// Wall-clock duration.
    pub duration_ms: u64,
    /// Whether the run stopped because its time budget ran out (the next run resumes).
    pub budget_exhausted: bool,
    /// Whether another run held the lease, so this one did nothing.
    pub lease_held_elsewhere: bool,
}

impl RunSummary {
    pub(crate) fn absorb(&mut self, t: &RunCounters) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        self.channels_checked += get(&t.channels_checked);
        self.channels_skipped_idle += get(&t.channels_skipped_idle);
        self.channels_fetched += get(&t.channels_fetched);
        self.channels_no_access += get(&t.channels_no_access);
        self.channel_errors += get(&t.channel_errors);
        self.discord_calls += get(&t.discord_calls);
        self.messages_read += get(&t.messages_read);
        self.messages_counted += get(&t.messages_counted);
        self.reaction_corrections += get(&t.reaction_corrections);
        self.batches += get(&t.batches);
        self.compaction_failures += get(&t.compaction_failures);
        self.compactions_unfinished += get(&t.compactions_unfinished);
    }

    /// The summary as a CloudWatch embedded-metric-format line (namespace `DiscordEngagement`, dimension
    /// `Function`), which CloudWatch turns into metrics for the stack's alarms.
    #[must_use]
    pub fn emf_line(&self, function: &str, timestamp_ms: i64) -> String {
        let succeeded = u64::from(!self.lease_held_elsewhere);
        serde_json::json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": "DiscordEngagement",
                    "Dimensions": [["Function"]],
                    "Metrics": [
                        {"Name": "SyncSucceeded", "Unit": "Count"},
                        {"Name": "DiscordRequests", "Unit": "Count"},
                        {"Name": "Discord429", "Unit": "Count"},
                        {"Name": "DiscordInvalidRequests", "Unit": "Count"},
                        {"Name": "MessagesCounted", "Unit": "Count"},
                        {"Name": "WriteUnits", "Unit": "Count"},
                        {"Name": "SyncDurationMs", "Unit": "Milliseconds"}
                    ]
                }]
            },
            "Function": function,
            "SyncSucceeded": succeeded,
            "DiscordRequests": self.discord_requests,
            "Discord429": self.discord_429s,
            "DiscordInvalidRequests": self.discord_invalid_requests,
            "MessagesCounted": self.messages_counted,
            "WriteUnits": self.write_units,
            "SyncDurationMs": self.duration_ms,
            "summary": self,
        })
        .to_string()
    }
}
