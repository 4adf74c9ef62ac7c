//! Sync settings from the environment, with the defaults a Discord admin would expect.

use std::time::Duration;

use engagement_domain::GuildTimeZone;

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
        }
    }
}

/// A setting with a value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}={value:?} is not valid: {expected}")]
pub struct SettingError {
    name: &'static str,
    value: String,
    expected: &'static str,
}

impl SyncSettings {
    /// Settings from environment variables, defaults for those not set:
    /// `DEFAULT_TIME_ZONE`, `SYNC_LOOKBACK_HOURS`, `SYNC_RECONCILE_WINDOW_HOURS`,
    /// `SYNC_RECONCILE_EVERY_MINUTES`, `SYNC_THREAD_SWEEP_HOURS`, `SYNC_TIME_BUDGET_SECONDS`,
    /// `SYNC_CONCURRENCY`.
    ///
    /// # Errors
    /// A variable that is set but malformed.
    pub fn from_env() -> Result<Self, SettingError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Settings from any lookup (tests pass a map).
    ///
    /// # Errors
    /// A variable that is set but malformed.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let mut s = Self::default();
        let number = |name: &'static str| -> Result<Option<u64>, SettingError> {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|_| SettingError {
                        name,
                        value: v,
                        expected: "a whole number",
                    })
                })
                .transpose()
        };
        if let Some(tz) = lookup("DEFAULT_TIME_ZONE").filter(|v| !v.trim().is_empty()) {
            s.default_time_zone = tz.parse().map_err(|_| SettingError {
                name: "DEFAULT_TIME_ZONE",
                value: tz,
                expected: "an IANA time zone such as Europe/Paris or UTC",
            })?;
        }
        if let Some(h) = number("SYNC_LOOKBACK_HOURS")? {
            s.first_sight_lookback = Duration::from_secs(h * 3600);
        }
        if let Some(h) = number("SYNC_RECONCILE_WINDOW_HOURS")? {
            s.reconcile_window = Duration::from_secs(h * 3600);
        }
        if let Some(m) = number("SYNC_RECONCILE_EVERY_MINUTES")? {
            s.reconcile_every = Duration::from_secs(m * 60);
        }
        if let Some(h) = number("SYNC_THREAD_SWEEP_HOURS")? {
            s.thread_sweep_every = Duration::from_secs(h * 3600);
        }
        if let Some(secs) = number("SYNC_TIME_BUDGET_SECONDS")? {
            s.time_budget = Duration::from_secs(secs);
        }
        if let Some(c) = number("SYNC_CONCURRENCY")? {
            if c == 0 {
                return Err(SettingError {
                    name: "SYNC_CONCURRENCY",
                    value: "0".into(),
                    expected: "at least 1",
                });
            }
            s.concurrency = usize::try_from(c).unwrap_or(64).min(64);
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_environment_with_defaults() {
        let env = |name: &str| match name {
            "DEFAULT_TIME_ZONE" => Some("Europe/Paris".to_owned()),
            "SYNC_LOOKBACK_HOURS" => Some("48".to_owned()),
            _ => None,
        };
        let s = SyncSettings::from_lookup(env).unwrap_or_default();
        assert_eq!(s.default_time_zone.name(), "Europe/Paris");
        assert_eq!(s.first_sight_lookback, Duration::from_secs(48 * 3600));
        assert_eq!(s.concurrency, 16);
        let bad =
            SyncSettings::from_lookup(|n| (n == "SYNC_CONCURRENCY").then(|| "lots".to_owned()));
        assert!(bad.is_err_and(|e| e.to_string().contains("SYNC_CONCURRENCY")));
    }
}
