//! Digest posts: when a server's daily or weekly digest is due, and which days it covers. Pure
//! functions of the schedule, the time zone and the time; the scheduled function posts
//! (`crates/actions/src/digest.rs`).
//!
//! A digest is due at `hour`:00 local time (daily) or on `weekday` at `hour`:00 (weekly). The post due on
//! day D covers the day before D (daily) or the 7 days before D (weekly), compared with the same number
//! of days before them. A post is identified by its due day: a run posts the latest digest due by now,
//! once, however late (a missed hour is posted late, up to the next due time, which supersedes it).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::{ChannelId, Day, DayRange, GuildId, GuildTimeZone};

/// How often a digest is posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// Every day, about the day before.
    Daily,
    /// Every week, about the 7 days before.
    Weekly,
}

impl Frequency {
    /// Days a digest covers.
    #[must_use]
    pub const fn days(self) -> i32 {
        match self {
            Self::Daily => 1,
            Self::Weekly => 7,
        }
    }

    /// The option value (`daily`, `weekly`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Weekly => "weekly",
        }
    }
}

impl FromStr for Frequency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "daily" => Ok(Self::Daily),
            "weekly" => Ok(Self::Weekly),
            other => Err(format!("`{other}` is not a frequency: use daily or weekly")),
        }
    }
}

/// A server's digest: where and when it is posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DigestSchedule {
    /// The channel posted to.
    pub channel: ChannelId,
    /// Daily or weekly.
    pub frequency: Frequency,
    /// The day of a weekly digest (ignored for daily ones).
    #[serde(with = "weekday_number")]
    pub weekday: Weekday,
    /// The local hour, 0–23.
    pub hour: u8,
    /// When it was set (Unix ms): posts due before are not made (a digest set on a Wednesday does not
    /// post Monday's late).
    #[serde(default)]
    pub since_ms: u64,
}

/// The weekday of a weekly digest when none is given.
pub const DEFAULT_WEEKDAY: Weekday = Weekday::Mon;
/// The local hour of a digest when none is given.
pub const DEFAULT_HOUR: u8 = 9;

impl DigestSchedule {
    /// The day of the latest digest due at or before `now` (its due time in `zone` has passed).
    #[must_use]
    pub fn latest_due(&self, now: DateTime<Utc>, zone: GuildTimeZone) -> Day {
        let today = Day::of(now, zone);
        let mut day = match self.frequency {
            Frequency::Daily => today,
            Frequency::Weekly => {
                let back = (7 + today.date().weekday().num_days_from_monday()
                    - self.weekday.num_days_from_monday())
                    % 7;
                today.plus(-i32::try_from(back).unwrap_or(0))
            }
        };
        if self.due_at(day, zone) > now {
            day = day.plus(-self.frequency.days());
        }
        day
    }

    /// The post to make at `now`, if any: the latest due by then, unless it was due before the schedule
    /// was set.
    #[must_use]
    pub fn post_due(&self, now: DateTime<Utc>, zone: GuildTimeZone) -> Option<Day> {
        let due = self.latest_due(now, zone);
        let since = i64::try_from(self.since_ms).unwrap_or(i64::MAX);
        (self.due_at(due, zone).timestamp_millis() >= since).then_some(due)
    }

    /// When the digest of due day `day` is due: `hour`:00 local time, or, when clocks skip that hour
    /// (a DST change), the first local time after it.
    #[must_use]
    pub fn due_at(&self, day: Day, zone: GuildTimeZone) -> DateTime<Utc> {
        let local = day.date().and_hms_opt(u32::from(self.hour.min(23)), 0, 0).unwrap_or_default();
        (0..=180)
            .find_map(|m| {
                zone.0.from_local_datetime(&(local + chrono::Duration::minutes(m))).earliest()
            })
            .map_or_else(|| Utc.from_utc_datetime(&local), |t| t.with_timezone(&Utc))
    }

    /// The days the digest due on `day` covers.
    #[must_use]
    pub fn period(&self, day: Day) -> DayRange {
        let last = day.previous();
        DayRange::new(last.plus(1 - self.frequency.days()), last).unwrap_or(DayRange::single(last))
    }

    /// When it is posted, in words: "every Monday at 09:00", "every day at 18:00".
    #[must_use]
    pub fn describe(&self) -> String {
        match self.frequency {
            Frequency::Daily => format!("every day at {:02}:00", self.hour),
            Frequency::Weekly => {
                format!("every {} at {:02}:00", weekday_name(self.weekday), self.hour)
            }
        }
    }
}

/// The `nonce` of the digest due on `day` in `guild` (Discord: at most 25 characters): the same for
/// every attempt at that post, so Discord returns the first message instead of a second.
#[must_use]
pub fn nonce(guild: GuildId, day: Day) -> String {
    // At most 15 hex digits of the guild and 5 of the day's ordinal: 21 characters at most.
    format!("d{:x}{:x}", guild.get() % (1 << 60), day.ordinal()).chars().take(25).collect()
}

/// A weekday's English name.
#[must_use]
pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

impl fmt::Display for DigestSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in <#{}>", self.describe(), self.channel)
    }
}

/// Weekdays stored as 0 (Monday) to 6 (Sunday).
mod weekday_number {
    use chrono::Weekday;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(day: &Weekday, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(u8::try_from(day.num_days_from_monday()).unwrap_or(0))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Weekday, D::Error> {
        let n = u8::deserialize(d)?;
        Weekday::try_from(n)
            .map_err(|_| serde::de::Error::custom(format!("weekday {n} is not 0–6")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> GuildTimeZone {
        name.parse().unwrap_or(GuildTimeZone::UTC)
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap_or_default()
    }

    fn day(text: &str) -> Day {
        text.parse().unwrap_or(Day::from_ordinal(0))
    }

    fn weekly(weekday: Weekday, hour: u8) -> DigestSchedule {
        DigestSchedule {
            channel: ChannelId(1),
            frequency: Frequency::Weekly,
            weekday,
            hour,
            since_ms: 0,
        }
    }

    #[test]
    fn a_weekly_digest_is_due_from_its_hour_until_the_next_week() {
        let s = weekly(Weekday::Mon, 9);
        let utc = GuildTimeZone::UTC;
        // 2026-11-30 is a Monday.
        assert_eq!(s.latest_due(at("2026-11-30T08:59:59Z"), utc), day("2026-11-23"));
        assert_eq!(s.latest_due(at("2026-11-30T09:00:00Z"), utc), day("2026-11-30"));
        assert_eq!(s.latest_due(at("2026-12-06T23:00:00Z"), utc), day("2026-11-30"));
        assert_eq!(s.latest_due(at("2026-12-07T09:00:00Z"), utc), day("2026-12-07"));
        assert_eq!(
            s.period(day("2026-11-30")),
            DayRange::new(day("2026-11-23"), day("2026-11-29"))
                .unwrap_or(DayRange::single(day("2026-11-23")))
        );
    }

    #[test]
    fn a_daily_digest_covers_yesterday() {
        let s = DigestSchedule { frequency: Frequency::Daily, ..weekly(Weekday::Fri, 18) };
        let paris = zone("Europe/Paris");
        // 17:30 UTC is 18:30 in Paris in winter.
        assert_eq!(s.latest_due(at("2026-11-30T17:30:00Z"), paris), day("2026-11-30"));
        assert_eq!(s.latest_due(at("2026-11-30T16:59:00Z"), paris), day("2026-11-29"));
        assert_eq!(s.period(day("2026-11-30")), DayRange::single(day("2026-11-29")));
    }

    /// Local 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer; the week of a change keeps
    /// the local hour.
    #[test]
    fn dst_weeks_keep_the_local_hour() {
        let s = weekly(Weekday::Mon, 9);
        let paris = zone("Europe/Paris");
        assert_eq!(s.due_at(day("2026-03-23"), paris), at("2026-03-23T08:00:00Z"));
        // Clocks went forward on Sunday 2026-03-29.
        assert_eq!(s.due_at(day("2026-03-30"), paris), at("2026-03-30T07:00:00Z"));
        assert_eq!(s.latest_due(at("2026-03-30T07:00:00Z"), paris), day("2026-03-30"));
        assert_eq!(s.latest_due(at("2026-03-30T06:59:00Z"), paris), day("2026-03-23"));
        // Back on Sunday 2026-10-25.
        assert_eq!(s.due_at(day("2026-10-26"), paris), at("2026-10-26T08:00:00Z"));
    }

    /// An hour the clocks skip is due at the first local time after it; a repeated hour, the first time.
    #[test]
    fn a_skipped_or_repeated_hour_is_due_once() {
        let sunday_2am = weekly(Weekday::Sun, 2);
        let paris = zone("Europe/Paris");
        // 2026-03-29 02:00 does not exist in Paris: 03:00 CEST is 01:00 UTC.
        assert_eq!(sunday_2am.due_at(day("2026-03-29"), paris), at("2026-03-29T01:00:00Z"));
        // 2026-10-25 02:00 happens twice: the first is 00:00 UTC.
        assert_eq!(sunday_2am.due_at(day("2026-10-25"), paris), at("2026-10-25T00:00:00Z"));
    }

    #[test]
    fn nothing_due_before_the_schedule_was_set_is_posted() {
        let set = at("2026-12-02T12:00:00Z"); // a Wednesday
        let s = DigestSchedule {
            since_ms: u64::try_from(set.timestamp_millis()).unwrap_or(0),
            ..weekly(Weekday::Mon, 9)
        };
        let utc = GuildTimeZone::UTC;
        assert_eq!(s.post_due(at("2026-12-04T00:00:00Z"), utc), None);
        assert_eq!(s.post_due(at("2026-12-07T09:05:00Z"), utc), Some(day("2026-12-07")));
    }

    #[test]
    fn nonces_fit_discords_limit_and_differ_per_post() {
        let guild = GuildId(1_300_000_000_000_000_200);
        let a = nonce(guild, day("2026-11-30"));
        assert!(a.len() <= 25, "{a}");
        assert_ne!(a, nonce(guild, day("2026-12-07")));
        assert_ne!(a, nonce(GuildId(1_300_000_000_000_000_201), day("2026-11-30")));
        assert_eq!(a, nonce(guild, day("2026-11-30")));
    }

    #[test]
    fn schedules_round_trip_with_weekday_numbers() -> Result<(), serde_json::Error> {
        let s = weekly(Weekday::Sun, 23);
        let json = serde_json::to_string(&s)?;
        assert!(json.contains(r#""weekday":6"#), "{json}");
        assert_eq!(serde_json::from_str::<DigestSchedule>(&json)?, s);
        assert!(serde_json::from_str::<DigestSchedule>(&json.replace(":6", ":7")).is_err());
        assert_eq!(s.describe(), "every Sunday at 23:00");
        Ok(())
    }
}
