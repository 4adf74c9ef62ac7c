//! Days in a guild's time zone, and date ranges.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone as _, Utc};
use serde::{Deserialize, Serialize};

/// A calendar day in a guild's time zone.
///
/// Stored as days since 1970-01-01 so it encodes compactly; printed as `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Day(i32);

/// `NaiveDate::num_days_from_ce` of 1970-01-01.
const DAYS_FROM_CE_TO_1970: i32 = 719_163;

impl Day {
    /// The day of a calendar date.
    #[must_use]
    pub fn from_date(date: NaiveDate) -> Self {
        Self(date.num_days_from_ce() - DAYS_FROM_CE_TO_1970)
    }

    /// The calendar date.
    #[must_use]
    pub fn date(self) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.0.saturating_add(DAYS_FROM_CE_TO_1970))
            .unwrap_or(NaiveDate::MIN)
    }

    /// The day, in `zone`, of an instant.
    #[must_use]
    pub fn of(instant: DateTime<Utc>, zone: GuildTimeZone) -> Self {
        Self::from_date(instant.with_timezone(&zone.0).date_naive())
    }

    /// The next day.
    #[must_use]
    pub const fn next(self) -> Self {
        Self(self.0 + 1)
    }

    /// The previous day.
    #[must_use]
    pub const fn previous(self) -> Self {
        Self(self.0 - 1)
    }

    /// `n` days later (earlier when negative).
    #[must_use]
    pub const fn plus(self, n: i32) -> Self {
        Self(self.0 + n)
    }

    /// Days since 1970-01-01.
    #[must_use]
    pub const fn ordinal(self) -> i32 {
        self.0
    }

    /// The day with a given number of days since 1970-01-01.
    #[must_use]
    pub const fn from_ordinal(days: i32) -> Self {
        Self(days)
    }

    /// The month this day is in.
    #[must_use]
    pub fn month(self) -> Month {
        let d = self.date();
        Month { year: d.year(), month: d.month() }
    }

    /// The first instant of this day in `zone` (for days that start in a DST gap, the first valid instant).
    #[must_use]
    pub fn start(self, zone: GuildTimeZone) -> DateTime<Utc> {
        let midnight = self.date().and_hms_opt(0, 0, 0).unwrap_or_default();
        match zone.0.from_local_datetime(&midnight) {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
                t.with_timezone(&Utc)
            }
            chrono::LocalResult::None => {
                // Midnight does not exist (a DST jump at 00:00): the day starts at the first valid minute.
                (1..=180)
                    .find_map(|m| {
                        zone.0
                            .from_local_datetime(&(midnight + chrono::Duration::minutes(m)))
                            .earliest()
                    })
                    .map_or_else(|| Utc.from_utc_datetime(&midnight), |t| t.with_timezone(&Utc))
            }
        }
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.date().format("%Y-%m-%d"))
    }
}

/// A date that is not `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a date: write it as YYYY-MM-DD, e.g. 2026-11-28")]
pub struct BadDate(pub String);

impl FromStr for Day {
    type Err = BadDate;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        // Exactly YYYY-MM-DD: chrono alone would also take "2026-1-5".
        let shaped = s.len() == 10
            && s.bytes()
                .enumerate()
                .all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
        if !shaped {
            return Err(BadDate(s.to_owned()));
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Self::from_date)
            .map_err(|_| BadDate(s.to_owned()))
    }
}

/// A calendar month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Month {
    /// Year, e.g. 2026.
    pub year: i32,
    /// Month, 1..=12.
    pub month: u32,
}

impl Month {
    /// The first day of the month.
    #[must_use]
    pub fn first_day(self) -> Day {
        Day::from_date(NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN))
    }

    /// The last day of the month.
    #[must_use]
    pub fn last_day(self) -> Day {
        self.next().first_day().previous()
    }

    /// Every day of the month.
    #[must_use]
    pub fn days(self) -> DayRange {
        DayRange { first: self.first_day(), last: self.last_day() }
    }

    /// The following month.
    #[must_use]
    pub const fn next(self) -> Self {
        if self.month >= 12 {
            Self { year: self.year + 1, month: 1 }
        } else {
            Self { year: self.year, month: self.month + 1 }
        }
    }
}

impl FromStr for Month {
    type Err = BadDate;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadDate(s.to_owned());
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        let (year, month) =
            (y.parse::<i32>().map_err(|_| bad())?, m.parse::<u32>().map_err(|_| bad())?);
        if y.len() != 4 || m.len() != 2 || !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Self { year, month })
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// An inclusive range of days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DayRange {
    /// First day, included.
    pub first: Day,
    /// Last day, included.
    pub last: Day,
}

impl DayRange {
    /// The days from `first` to `last`, both included; `None` when `first` is after `last`.
    #[must_use]
    pub fn new(first: Day, last: Day) -> Option<Self> {
        (first <= last).then_some(Self { first, last })
    }

    /// One day.
    #[must_use]
    pub const fn single(day: Day) -> Self {
        Self { first: day, last: day }
    }

    /// Whether `day` is in the range.
    #[must_use]
    pub fn contains(&self, day: Day) -> bool {
        self.first <= day && day <= self.last
    }

    /// Number of days in the range.
    #[must_use]
    pub const fn len(&self) -> u32 {
        (self.last.0 - self.first.0 + 1).unsigned_abs()
    }

    /// Always false: a range holds at least one day.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// Every day of the range, in order.
    pub fn days(&self) -> impl Iterator<Item = Day> + use<> {
        (self.first.0..=self.last.0).map(Day)
    }
}

/// How to read the total of a range from as few stored summaries as possible: months read whole from
/// month summaries, plus some day ranges and minus others (the parts of a month read whole that lie
/// outside the range). For every day, the months and added ranges holding it minus the subtracted ranges
/// holding it is 1 inside the range and 0 outside, which a test checks for
/// ranges of 1 to 400 days starting across a 400-day window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TotalPlan {
    /// Months read whole, consecutive, in order.
    pub months: Vec<Month>,
    /// Day ranges added.
    pub add: Vec<DayRange>,
    /// Day ranges subtracted.
    pub subtract: Vec<DayRange>,
}

/// A month summary holds at most the counters of its days, usually far fewer (the same member in the
/// same channel on many days is one counter), so reading one costs about as much as reading a few days.
const MONTH_READ_COST_IN_DAYS: u32 = 3;

impl DayRange {
    /// The cheapest [`TotalPlan`] for this range: whole months from month summaries; a month only partly
    /// inside the range is read as its days in the range, or as the whole month minus its days outside
    /// the range when those are fewer (the last 30 days are this month so far plus a few days of the
    /// month before; the days after today hold nothing and cost one empty read).
    #[must_use]
    pub fn total_plan(self) -> TotalPlan {
        let mut plan = TotalPlan::default();
        let mut month = self.first.month();
        loop {
            let whole = month.days();
            let inside =
                Self { first: whole.first.max(self.first), last: whole.last.min(self.last) };
            if inside == whole {
                plan.months.push(month);
            } else {
                let outside_days = whole.len() - inside.len();
                if outside_days + MONTH_READ_COST_IN_DAYS < inside.len() {
                    plan.months.push(month);
                    plan.subtract.extend(Self::new(whole.first, inside.first.previous()));
                    plan.subtract.extend(Self::new(inside.last.next(), whole.last));
                } else {
                    plan.add.push(inside);
                }
            }
            if whole.last >= self.last {
                return plan;
            }
            month = month.next();
        }
    }
}

impl fmt::Display for DayRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{} to {}", self.first, self.last)
        }
    }
}

/// A guild's time zone: an IANA name such as `Europe/Paris`. Days are counted in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GuildTimeZone(pub chrono_tz::Tz);

impl GuildTimeZone {
    /// UTC, the default.
    pub const UTC: Self = Self(chrono_tz::UTC);

    /// The IANA name.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// Today in this zone.
    #[must_use]
    pub fn today(&self, now: DateTime<Utc>) -> Day {
        Day::of(now, *self)
    }

    /// The hour, 0–23, that this zone's clocks show at an instant. When clocks go back, the repeated
    /// hour's messages count in that one hour; when they go forward, the skipped hour has none.
    #[must_use]
    pub fn hour_of(&self, instant: DateTime<Utc>) -> u8 {
        u8::try_from(chrono::Timelike::hour(&instant.with_timezone(&self.0))).unwrap_or(0)
    }
}

impl Default for GuildTimeZone {
    fn default() -> Self {
        Self::UTC
    }
}

impl fmt::Display for GuildTimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A time zone name that is not in the IANA database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a time zone: use an IANA name such as Europe/Paris, America/New_York or UTC")]
pub struct UnknownTimeZone(pub String);

impl FromStr for GuildTimeZone {
    type Err = UnknownTimeZone;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        s.parse::<chrono_tz::Tz>()
            .ok()
            .or_else(|| {
                chrono_tz::TZ_VARIANTS.iter().copied().find(|tz| tz.name().eq_ignore_ascii_case(s))
            })
            .map(Self)
            .ok_or_else(|| UnknownTimeZone(s.to_owned()))
    }
}

impl Serialize for GuildTimeZone {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for GuildTimeZone {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// Adds `n` days to a date, saturating.
#[must_use]
pub fn add_days(date: NaiveDate, n: u64) -> NaiveDate {
    date.checked_add_days(Days::new(n)).unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        s.parse().unwrap_or(Day(i32::MIN))
    }

    #[test]
    fn local_hours_follow_daylight_saving_time() {
        let zone: GuildTimeZone = "America/New_York".parse().unwrap_or_default();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap_or_default();
        // 2026-03-08: clocks go from 01:59:59 EST to 03:00 EDT; no instant shows 2 o'clock.
        let spring: Vec<u8> = (0..4)
            .map(|q| zone.hour_of(at("2026-03-08T06:00:00Z") + chrono::Duration::minutes(30 * q)))
            .collect();
        assert_eq!(spring, vec![1, 1, 3, 3]);
        // 2026-11-01: 01:00–01:59 happens twice (EDT, then EST); both count in hour 1 of that day.
        let fall: Vec<(u8, Day)> =
            ["2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-01T07:30:00Z"]
                .into_iter()
                .map(|s| (zone.hour_of(at(s)), Day::of(at(s), zone)))
                .collect();
        assert_eq!(
            fall,
            vec![(1, day("2026-11-01")), (1, day("2026-11-01")), (2, day("2026-11-01"))]
        );
        assert_eq!(GuildTimeZone::UTC.hour_of(at("2026-11-01T23:59:59Z")), 23);
    }

    #[test]
    fn total_plans_cover_each_day_of_the_range_exactly_once_and_read_few_days() {
        let window_start = day("2027-11-01");
        for start in (0..400).step_by(3) {
            for len in 1..=400 {
                let range = DayRange {
                    first: window_start.plus(start),
                    last: window_start.plus(start + len - 1),
                };
                let plan = range.total_plan();
                // coverage[i]: how many times day (range.first - 31 + i) is counted.
                let origin = range.first.plus(-31);
                let mut coverage = vec![0i32; range.len() as usize + 62];
                let mut apply = |r: DayRange, sign: i32| {
                    for d in r.days() {
                        let i = usize::try_from(d.0 - origin.0).unwrap_or(usize::MAX);
                        match coverage.get_mut(i) {
                            Some(c) => *c += sign,
                            None => panic!("{range}: {plan:?} reaches {d}"),
                        }
                    }
                };
                plan.months.iter().for_each(|m| apply(m.days(), 1));
                plan.add.iter().for_each(|r| apply(*r, 1));
                plan.subtract.iter().for_each(|r| apply(*r, -1));
                for (i, c) in coverage.iter().enumerate() {
                    let d = origin.plus(i32::try_from(i).unwrap_or(i32::MAX));
                    assert_eq!(*c, i32::from(range.contains(d)), "{range}: day {d}: {plan:?}");
                }
                assert!(plan.months.windows(2).all(|w| w[0].next() == w[1]), "{range}: {plan:?}");
                let days_read: u32 = plan.add.iter().chain(&plan.subtract).map(DayRange::len).sum();
                assert!(days_read <= 2 * 17, "{range}: {days_read} days read: {plan:?}");
                assert!(plan.months.len() <= 14, "{range}: {plan:?}");
            }
        }
        let year = DayRange { first: day("2025-11-29"), last: day("2026-11-28") };
        let plan = year.total_plan();
        assert_eq!(plan.months.len(), 12, "{plan:?}");
        assert_eq!(plan.add, vec![DayRange { first: day("2025-11-29"), last: day("2025-11-30") }]);
        assert_eq!(
            plan.subtract,
            vec![DayRange { first: day("2026-11-29"), last: day("2026-11-30") }]
        );
    }

    #[test]
    fn days_print_parse_and_step() {
        let d = day("2026-11-28");
        assert_eq!(d.to_string(), "2026-11-28");
        assert_eq!(d.next().to_string(), "2026-11-29");
        assert_eq!(day("2026-03-01").previous().to_string(), "2026-02-28");
        assert_eq!(day("1970-01-01").ordinal(), 0);
        for bad in ["2026-1-5", "2026-13-01", "2026-02-30", "yesterday", "", "2026/11/28"] {
            assert!(bad.parse::<Day>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn the_day_of_an_instant_depends_on_the_zone() {
        let instant = "2026-11-28T23:30:00Z".parse::<DateTime<Utc>>().unwrap_or_default();
        assert_eq!(Day::of(instant, GuildTimeZone::UTC).to_string(), "2026-11-28");
        let paris: GuildTimeZone = "Europe/Paris".parse().unwrap_or_default();
        assert_eq!(Day::of(instant, paris).to_string(), "2026-11-29");
        let la: GuildTimeZone = "america/los_angeles".parse().unwrap_or_default();
        assert_eq!(la.name(), "America/Los_Angeles");
        assert!("Mars/Olympus".parse::<GuildTimeZone>().is_err());
    }

    #[test]
    fn a_day_starts_at_local_midnight() {
        let paris: GuildTimeZone = "Europe/Paris".parse().unwrap_or_default();
        assert_eq!(day("2026-07-01").start(paris).to_rfc3339(), "2026-06-30T22:00:00+00:00");
        // Midnight skipped by DST (America/Havana jumps 00:00 → 01:00 in March).
        let havana: GuildTimeZone = "America/Havana".parse().unwrap_or_default();
        let start = day("2026-03-08").start(havana);
        assert_eq!(Day::of(start, havana), day("2026-03-08"));
    }

    #[test]
    fn months_have_first_and_last_days() {
        let m = day("2024-02-10").month();
        assert_eq!(m.to_string(), "2024-02");
        assert_eq!(m.last_day().to_string(), "2024-02-29");
        assert_eq!(Month { year: 2026, month: 12 }.next().to_string(), "2027-01");
        assert_eq!("2024-02".parse::<Month>(), Ok(m));
        assert!("2024-13".parse::<Month>().is_err() && "24-02".parse::<Month>().is_err());
    }

    #[test]
    fn ranges_hold_their_ends() {
        let r = DayRange::new(day("2026-11-01"), day("2026-11-30"));
        assert_eq!(r.map(|r| r.len()), Some(30));
        assert!(DayRange::new(day("2026-11-02"), day("2026-11-01")).is_none());
        assert_eq!(r.map(|r| r.days().count()), Some(30));
    }
}
