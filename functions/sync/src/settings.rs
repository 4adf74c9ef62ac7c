//! Sync settings from the environment, with the defaults a Discord admin would expect.

use std::time::Duration;

use engagement_domain::{BackOff, GuildTimeZone};
use engagement_startup::{Env, SettingError};

use crate::report::MetricsLevel;

/// How a sync run behaves.
#[derive(Clone, Debug)]
pub struct SyncSettings {
    /// Time zone of guilds that never set one.
    pub default_time_zone: GuildTimeZone,
    /// How far back a channel seen for the first time is counted.
    pub first_sight_lookback: Duration,
    /// Reactions are reconciled on messages younger than this.
    pub reconcile_window: Duration,
    /// How often a channel's recent messages are read again for reaction changes.
    pub reconcile_every: Duration,
    /// How often every channel's archived threads are listed even without other activity.
    pub thread_sweep_every: Duration,
    /// Wall-clock budget of a run (the Lambda timeout minus a margin, when running in Lambda).
    pub time_budget: Duration,
    /// Stop taking new Discord work when less than this is left of the budget.
    pub margin: Duration,
    /// Channels read at the same time.
    pub concurrency: usize,
    /// Pages of 100 messages a channel may read before the others get a turn.
    pub pages_per_turn: usize,
    /// A pending batch is committed once it is about this big.
    pub flush_bytes: usize,
    /// Run as if it were this time (tests and demos against a fake Discord with its own clock).
    pub fixed_now: Option<chrono::DateTime<chrono::Utc>>,
    /// Which custom metrics each run publishes.
    pub metrics: MetricsLevel,
    /// The longest a guild whose checks find nothing new waits between checks (0: every guild every run).
    pub idle_ceiling: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            default_time_zone: GuildTimeZone::UTC,
            first_sight_lookback: Duration::from_secs(24 * 3600),
            reconcile_window: Duration::from_secs(24 * 3600),
            reconcile_every: Duration::from_secs(3600),
            thread_sweep_every: Duration::from_secs(24 * 3600),
            time_budget: Duration::from_secs(270),
            margin: Duration::from_secs(10),
            concurrency: 16,
            pages_per_turn: 5,
            flush_bytes: 128 * 1024,
            fixed_now: None,
            metrics: MetricsLevel::default(),
            idle_ceiling: Duration::from_secs(60 * 60),
        }
    }
}

impl SyncSettings {
    /// Settings from the environment, defaults for those not set: `DEFAULT_TIME_ZONE`,
    /// `SYNC_LOOKBACK_HOURS`, `SYNC_RECONCILE_WINDOW_HOURS`, `SYNC_RECONCILE_EVERY_MINUTES`,
    /// `SYNC_THREAD_SWEEP_HOURS`, `SYNC_TIME_BUDGET_SECONDS`, `SYNC_CONCURRENCY`, `SYNC_METRICS`,
    /// `SYNC_IDLE_CEILING_MINUTES`.
    ///
    /// # Errors
    /// A variable that is set but malformed or out of range.
    pub fn from_env(env: &Env) -> Result<Self, SettingError> {
        const HOURS: &str = "a whole number of hours";
        let metrics = env.parsed("SYNC_METRICS", "essential, full or none (default essential)")?;
        let mut s = Self {
            default_time_zone: env.default_time_zone()?,
            metrics: metrics.unwrap_or_default(),
            ..Self::default()
        };
        let hours = |name| env.number_in(name, 0, 24 * 366, HOURS);
        if let Some(h) = hours("SYNC_LOOKBACK_HOURS")? {
            s.first_sight_lookback = Duration::from_secs(h * 3600);
        }
        if let Some(h) = hours("SYNC_RECONCILE_WINDOW_HOURS")? {
            s.reconcile_window = Duration::from_secs(h * 3600);
        }
        let minutes = "a whole number of minutes, at least 1";
        if let Some(m) = env.number_in("SYNC_RECONCILE_EVERY_MINUTES", 1, 60 * 24 * 366, minutes)? {
            s.reconcile_every = Duration::from_secs(m * 60);
        }
        if let Some(h) = hours("SYNC_THREAD_SWEEP_HOURS")? {
            s.thread_sweep_every = Duration::from_secs(h * 3600);
        }
        let seconds = "a whole number of seconds from 1 to 900 (Lambda's longest timeout)";
        if let Some(secs) = env.number_in("SYNC_TIME_BUDGET_SECONDS", 1, 900, seconds)? {
            s.time_budget = Duration::from_secs(secs);
        }
        let channels = "a whole number of channels read at once, from 1 to 64 (default 16)";
        if let Some(c) = env.number_in("SYNC_CONCURRENCY", 1, 64, channels)? {
            s.concurrency = usize::try_from(c).unwrap_or(16);
        }
        let ceiling =
            "a whole number of minutes from 0 (every guild every run) to 1440 (default 60)";
        if let Some(m) = env.number_in("SYNC_IDLE_CEILING_MINUTES", 0, 24 * 60, ceiling)? {
            s.idle_ceiling = Duration::from_secs(m * 60);
        }
        Ok(s)
    }

    /// How a quiet guild's checks back off: from the schedule's 5 minutes, doubling, up to
    /// [`idle_ceiling`](Self::idle_ceiling).
    #[must_use]
    pub fn back_off(&self) -> BackOff {
        BackOff {
            ceiling_ms: u64::try_from(self.idle_ceiling.as_millis()).unwrap_or(u64::MAX),
            ..BackOff::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_environment_with_defaults() -> Result<(), SettingError> {
        let s = SyncSettings::from_env(&Env::from_pairs(&[
            ("DEFAULT_TIME_ZONE", "Europe/Paris"),
            ("SYNC_LOOKBACK_HOURS", "48"),
        ]))?;
        assert_eq!(s.default_time_zone.name(), "Europe/Paris");
        assert_eq!(s.first_sight_lookback, Duration::from_secs(48 * 3600));
        assert_eq!(s.concurrency, 16);
        assert_eq!(s.metrics, MetricsLevel::Essential);
        assert_eq!(s.back_off().ceiling_ms, 60 * 60_000);
        let every_run =
            SyncSettings::from_env(&Env::from_pairs(&[("SYNC_IDLE_CEILING_MINUTES", "0")]))?;
        assert_eq!(every_run.back_off().ceiling_ms, 0);
        let full = SyncSettings::from_env(&Env::from_pairs(&[("SYNC_METRICS", "full")]))?;
        assert_eq!(full.metrics, MetricsLevel::Full);
        for (name, bad) in [
            ("SYNC_METRICS", "all"),
            ("SYNC_CONCURRENCY", "lots"),
            ("SYNC_CONCURRENCY", "0"),
            ("SYNC_TIME_BUDGET_SECONDS", "3600"),
            ("SYNC_IDLE_CEILING_MINUTES", "1441"),
        ] {
            let err = SyncSettings::from_env(&Env::from_pairs(&[(name, bad)])).err();
            assert_eq!(err.map(|e| e.name()), Some(name), "{name}={bad}");
        }
        Ok(())
    }
}
