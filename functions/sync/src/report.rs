//! What a run did: one structured summary per run, and CloudWatch metrics in embedded metric format.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Which custom metrics a run publishes (`SYNC_METRICS`, the stack's `Monitoring` parameter). Each one
/// costs $0.30 a month past CloudWatch's 10 free ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MetricsLevel {
    /// `SyncSucceeded` and `OldestCheckAgeMs`: what the sync-lag alarms read (nothing free can tell
    /// them).
    #[default]
    Essential,
    /// Every run figure: the essential ones and requests, 429s, invalid requests, messages counted,
    /// write units, duration.
    Full,
    /// None: the summary is logged without metrics.
    None,
}

impl std::str::FromStr for MetricsLevel {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "essential" => Ok(Self::Essential),
            "full" => Ok(Self::Full),
            "none" => Ok(Self::None),
            _ => Err(()),
        }
    }
}

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
    pub(crate) roles_given: AtomicU64,
    pub(crate) roles_taken: AtomicU64,
    pub(crate) role_rules_stopped: AtomicU64,
    pub(crate) digests_posted: AtomicU64,
    pub(crate) digests_failed: AtomicU64,
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
    /// Of those, checked completely (every channel read up to when the run started).
    pub guilds_checked: u64,
    /// Guilds backing off (nothing new at their last checks) and not due this run.
    pub guilds_not_due: u64,
    /// Guilds due that this run did not check completely (the budget ran out first, or a channel
    /// failed): the next run takes them first.
    pub guilds_overdue: u64,
    /// Guilds the bot turned out to have left (their channel listing answered 403 or 404): forgotten
    /// until a guild listing has them again.
    pub guilds_left: u64,
    /// How long the guild that waited longest has gone without a complete check, at the run's start
    /// (guilds checked by this run count as 0; guilds never checked are counted in `guilds_overdue`).
    pub oldest_check_age_ms: u64,
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
    /// Activity roles given to members.
    pub roles_given: u64,
    /// Activity roles taken from members.
    pub roles_taken: u64,
    /// Activity-role rules whose run stopped short: the bot may not manage the role (the reason is
    /// logged and shown by `/engagement-config activity-role show`), or a Discord call failed.
    pub role_rules_stopped: u64,
    /// Digests posted.
    pub digests_posted: u64,
    /// Digests due that could not be posted (refused by Discord, or failed for now): logged, shown by
    /// `/engagement-config digest show`, tried again.
    pub digests_failed: u64,
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
        self.roles_given += get(&t.roles_given);
        self.roles_taken += get(&t.roles_taken);
        self.role_rules_stopped += get(&t.role_rules_stopped);
        self.digests_posted += get(&t.digests_posted);
        self.digests_failed += get(&t.digests_failed);
    }

    /// The summary as the run's log line: JSON, with a CloudWatch embedded-metric-format block
    /// (namespace `DiscordEngagement`, dimension `Function`) for the metrics `level` publishes, which
    /// CloudWatch turns into metrics for the stack's alarms.
    #[must_use]
    pub fn log_line(&self, function: &str, timestamp_ms: i64, level: MetricsLevel) -> String {
        let values = [
            ("SyncSucceeded", "Count", u64::from(!self.lease_held_elsewhere)),
            ("OldestCheckAgeMs", "Milliseconds", self.oldest_check_age_ms),
            ("DiscordRequests", "Count", self.discord_requests),
            ("Discord429", "Count", self.discord_429s),
            ("DiscordInvalidRequests", "Count", self.discord_invalid_requests),
            ("MessagesCounted", "Count", self.messages_counted),
            ("WriteUnits", "Count", self.write_units),
            ("SyncDurationMs", "Milliseconds", self.duration_ms),
        ];
        let published = match level {
            MetricsLevel::None => 0,
            MetricsLevel::Essential => 2,
            MetricsLevel::Full => values.len(),
        };
        let mut line = serde_json::json!({ "summary": self });
        if published > 0
            && let Some(object) = line.as_object_mut()
        {
            let metrics: Vec<serde_json::Value> = values[..published]
                .iter()
                .map(|(name, unit, _)| serde_json::json!({"Name": name, "Unit": unit}))
                .collect();
            object.insert(
                "_aws".to_owned(),
                serde_json::json!({
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": "DiscordEngagement",
                        "Dimensions": [["Function"]],
                        "Metrics": metrics,
                    }]
                }),
            );
            object.insert("Function".to_owned(), function.into());
            for (name, _, value) in &values[..published] {
                object.insert((*name).to_owned(), (*value).into());
            }
        }
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(line: &str) -> Vec<String> {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let listed = &value["_aws"]["CloudWatchMetrics"][0]["Metrics"];
        listed
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["Name"].as_str())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn each_monitoring_level_publishes_its_metrics_and_always_logs_the_summary() {
        let summary = RunSummary { messages_counted: 7, ..RunSummary::default() };
        let essential = summary.log_line("stack-sync", 1, MetricsLevel::Essential);
        assert_eq!(metrics(&essential), ["SyncSucceeded", "OldestCheckAgeMs"]);
        assert!(
            essential.contains(r#""SyncSucceeded":1"#)
                && !essential.contains(r#""MessagesCounted""#)
        );
        let full = summary.log_line("stack-sync", 1, MetricsLevel::Full);
        assert_eq!(metrics(&full).len(), 8);
        assert!(
            full.contains(r#""MessagesCounted":7"#) && full.contains(r#""Function":"stack-sync""#)
        );
        let none = summary.log_line("stack-sync", 1, MetricsLevel::None);
        assert!(metrics(&none).is_empty() && !none.contains("_aws"), "{none}");
        for line in [essential, full, none] {
            assert!(line.contains(r#""messages_counted":7"#), "{line}");
        }
    }
}
