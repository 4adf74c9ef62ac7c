//! Discord snowflakes: 64-bit ids whose top 42 bits are milliseconds since the Discord epoch.
//!
//! A snowflake built from a time sorts between the ids of messages sent just before and just after it,
//! so it can be used as the `after`/`before` bound of a message listing.

use chrono::{DateTime, Utc};

/// Milliseconds between the Unix epoch and the Discord epoch (2015-01-01T00:00:00Z).
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// The Unix time in milliseconds at which the snowflake was created.
#[must_use]
pub const fn timestamp_ms(id: u64) -> u64 {
    (id >> 22) + DISCORD_EPOCH_MS
}

/// The creation time of a snowflake.
#[must_use]
pub fn created_at(id: u64) -> DateTime<Utc> {
    // `timestamp_ms` of any u64 is below 2^42 + epoch, well inside chrono's range.
    DateTime::from_timestamp_millis(i64::try_from(timestamp_ms(id)).unwrap_or(i64::MAX))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The smallest snowflake created at `unix_ms` (worker, process and increment bits zero).
///
/// Times before the Discord epoch map to 0.
#[must_use]
pub const fn from_timestamp_ms(unix_ms: u64) -> u64 {
    if unix_ms <= DISCORD_EPOCH_MS { 0 } else { (unix_ms - DISCORD_EPOCH_MS) << 22 }
}

/// The smallest snowflake created at `time`.
#[must_use]
pub fn from_time(time: DateTime<Utc>) -> u64 {
    from_timestamp_ms(u64::try_from(time.timestamp_millis()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_snowflake_decodes_to_its_documented_time() {
        // Example from Discord's reference docs: 175928847299117063 → 2016-04-30 11:18:25.796 UTC.
        assert_eq!(timestamp_ms(175_928_847_299_117_063), 1_462_015_105_796);
    }

    #[test]
    fn time_round_trips_through_a_snowflake() {
        let ms = 1_700_000_000_123;
        assert_eq!(timestamp_ms(from_timestamp_ms(ms)), ms);
        assert!(from_timestamp_ms(ms) <= 175_928_847_299_117_063 || ms > 1_462_015_105_796);
    }

    #[test]
    fn times_before_the_epoch_clamp_to_zero() {
        assert_eq!(from_timestamp_ms(0), 0);
    }
}
