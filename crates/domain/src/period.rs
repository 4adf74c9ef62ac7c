//! Periods people ask about: today, yesterday, the last N days, all time, or explicit dates.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Day, DayRange};

/// A period relative to "today" in the guild's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Period {
    /// Today so far.
    Today,
    /// Yesterday.
    Yesterday,
    /// The last `n` days, today included.
    LastDays(u16),
    /// Everything ever counted.
    AllTime,
    /// Explicit dates, both included.
    Dates(DayRange),
}

/// The longest explicit or relative range, in days.
pub const MAX_RANGE_DAYS: u32 = 3_660;

/// A period that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// Not one of the known names.
    #[error("`{0}` is not a period: use today, yesterday, 7d, 30d, 90d, 365d or all")]
    Unknown(String),
    /// A date is malformed.
    #[error(transparent)]
    BadDate(#[from] crate::day::BadDate),
    /// `from` is after `to`.
    #[error("the start date {from} is after the end date {to}")]
    Reversed {
        /// Start.
        from: Day,
        /// End.
        to: Day,
    },
    /// Only one of `from` and `to`.
    #[error("give both `from` and `to` dates (YYYY-MM-DD), or neither")]
    HalfOpen,
    /// Too long.
    #[error(
        "that range is {0} days long; the longest range is {MAX_RANGE_DAYS} days (use `all` for all time)"
    )]
    TooLong(u32),
    /// Starts after today.
    #[error("{0} is in the future")]
    Future(Day),
}

impl Period {
    /// The default period of most commands: the last 7 days.
    pub const DEFAULT: Self = Self::LastDays(7);

    /// A period from a command's `period`, `from` and `to` options; dates win over the name.
    ///
    /// # Errors
    /// A readable explanation of what is wrong.
    pub fn from_options(
        name: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Self, PeriodError> {
        match (from, to) {
            (Some(from), Some(to)) => {
                let (from, to): (Day, Day) = (from.parse()?, to.parse()?);
                let range = DayRange::new(from, to).ok_or(PeriodError::Reversed { from, to })?;
                if range.len() > MAX_RANGE_DAYS {
                    return Err(PeriodError::TooLong(range.len()));
                }
                Ok(Self::Dates(range))
            }
            (None, None) => name.map_or(Ok(Self::DEFAULT), str::parse),
            _ => Err(PeriodError::HalfOpen),
        }
    }

    /// The days of the period given today's date; `None` for all time.
    ///
    /// # Errors
    /// When explicit dates start after today.
    pub fn resolve(self, today: Day) -> Result<Option<DayRange>, PeriodError> {
        Ok(Some(match self {
            Self::Today => DayRange::single(today),
            Self::Yesterday => DayRange::single(today.previous()),
            Self::LastDays(n) => {
                DayRange { first: today.plus(1 - i32::from(n.max(1))), last: today }
            }
            Self::AllTime => return Ok(None),
            Self::Dates(range) => {
                if range.first > today {
                    return Err(PeriodError::Future(range.first));
                }
                range
            }
        }))
    }
}

impl FromStr for Period {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "today" => Ok(Self::Today),
            "yesterday" => Ok(Self::Yesterday),
            "all" | "all-time" | "all_time" | "alltime" => Ok(Self::AllTime),
            _ => {
                let n = t
                    .strip_suffix('d')
                    .and_then(|n| n.parse::<u16>().ok())
                    .filter(|n| (1..=3660).contains(n));
                n.map(Self::LastDays).ok_or_else(|| PeriodError::Unknown(s.trim().to_owned()))
            }
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Today => f.write_str("today"),
            Self::Yesterday => f.write_str("yesterday"),
            Self::LastDays(n) => write!(f, "last {n} days"),
            Self::AllTime => f.write_str("all time"),
            Self::Dates(r) => write!(f, "{r}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        s.parse().unwrap_or(Day::from_ordinal(0))
    }

    #[test]
    fn named_periods_resolve_against_today() {
        let today = day("2026-11-28");
        let r = |p: &str| {
            p.parse::<Period>()
                .ok()
                .and_then(|p| p.resolve(today).ok())
                .flatten()
                .map(|r| r.to_string())
        };
        assert_eq!(r("today").as_deref(), Some("2026-11-28"));
        assert_eq!(r("yesterday").as_deref(), Some("2026-11-27"));
        assert_eq!(r("7d").as_deref(), Some("2026-11-22 to 2026-11-28"));
        assert_eq!("all".parse::<Period>().map(|p| p.resolve(today)), Ok(Ok(None)));
        assert!("fortnight".parse::<Period>().is_err());
        assert!("0d".parse::<Period>().is_err());
    }

    #[test]
    fn explicit_dates_are_checked() {
        let ok = Period::from_options(Some("7d"), Some("2026-11-01"), Some("2026-11-03"));
        assert_eq!(ok.map(|p| p.to_string()), Ok("2026-11-01 to 2026-11-03".to_owned()));
        assert!(matches!(
            Period::from_options(None, Some("2026-11-05"), Some("2026-11-03")),
            Err(PeriodError::Reversed { .. })
        ));
        assert!(matches!(
            Period::from_options(None, Some("2026-11-05"), None),
            Err(PeriodError::HalfOpen)
        ));
        assert!(matches!(
            Period::from_options(None, Some("5 Nov"), Some("2026-11-03")),
            Err(PeriodError::BadDate(_))
        ));
        assert!(matches!(
            Period::from_options(None, Some("2000-01-01"), Some("2026-11-03")),
            Err(PeriodError::TooLong(_))
        ));
        let future = Period::from_options(None, Some("2027-01-01"), Some("2027-01-02"))
            .map(|p| p.resolve(day("2026-11-28")));
        assert!(matches!(future, Ok(Err(PeriodError::Future(_)))));
        assert_eq!(Period::from_options(None, None, None), Ok(Period::DEFAULT));
    }
}
