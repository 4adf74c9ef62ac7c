//! Validated report requests: what the interactions function hands to a reply builder, directly or through
//! the followup function.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use engagement_domain::period::MAX_RANGE_DAYS;
use engagement_domain::{
    ChannelId, Day, DayRange, GuildId, GuildTimeZone, Metric, Period, PeriodError, Scope, UserId,
};
use serde::{Deserialize, Serialize};

/// Reports over at most this many days are answered at once; longer ones (and all time) are deferred.
///
/// 31 days covers `today`, `yesterday`, `7d` and `30d` (a channel's trend reads twice the range); a busy
/// server's 31 days of summaries are ~2 MB, a few hundred milliseconds to read and fold.
pub const QUICK_MAX_DAYS: u32 = 31;

/// The days a report covers, resolved in the guild's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportPeriod {
    /// What was asked for.
    pub period: Period,
    /// The days; `None` for all time. Never ends after `today`.
    pub range: Option<DayRange>,
    /// The guild's time zone.
    pub time_zone: GuildTimeZone,
    /// Today in that time zone, when the command was run.
    pub today: Day,
    /// When the command was run (Unix ms; 0 in a job queued before it was kept).
    #[serde(default)]
    pub now_ms: u64,
}

impl ReportPeriod {
    /// Resolves `period` at `now` in `zone`; a range that runs past today is cut at today.
    ///
    /// # Errors
    /// Explicit dates that start after today.
    pub fn resolve(
        period: Period,
        zone: GuildTimeZone,
        now: DateTime<Utc>,
    ) -> Result<Self, PeriodError> {
        let today = zone.today(now);
        let range =
            period.resolve(today)?.map(|r| DayRange { first: r.first, last: r.last.min(today) });
        let now_ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        Ok(Self { period, range, time_zone: zone, today, now_ms })
    }

    /// The number of days, `None` for all time.
    #[must_use]
    pub fn days(&self) -> Option<u32> {
        self.range.map(|r| r.len())
    }

    /// Whether answering needs more than a moment: all time, or more than [`QUICK_MAX_DAYS`] days.
    #[must_use]
    pub fn is_long(&self) -> bool {
        self.days().is_none_or(|d| d > QUICK_MAX_DAYS)
    }

    /// The same number of days just before this period (for trends); `None` for all time.
    #[must_use]
    pub fn previous(&self) -> Option<DayRange> {
        let range = self.range?;
        let len = i32::try_from(range.len()).unwrap_or(i32::MAX);
        Some(DayRange { first: range.first.plus(-len), last: range.first.previous() })
    }

    /// The widest range a report of "all time" reads day by day (charts, exports): the longest range a
    /// period may have, ending today.
    #[must_use]
    pub fn all_days(&self) -> DayRange {
        let span = i32::try_from(MAX_RANGE_DAYS).unwrap_or(3_660);
        DayRange { first: self.today.plus(1 - span), last: self.today }
    }

    /// E.g. `last 7 days (2025-11-22 to 2025-11-28)`, `all time`, `2025-11-01 to 2025-11-03`.
    #[must_use]
    pub fn label(&self) -> String {
        match (self.period, self.range) {
            (_, None) => "all time".to_owned(),
            (Period::Dates(_), Some(range)) => range.to_string(),
            (period, Some(range)) => format!("{period} ({range})"),
        }
    }

    /// How "nothing was counted …" ends: `in the last 7 days (…)`, `between 2020-01-01 and 2020-01-31`.
    #[must_use]
    pub fn phrase(&self) -> String {
        match (self.period, self.range) {
            (_, None) => "yet".to_owned(),
            (Period::Dates(_), Some(r)) if r.first == r.last => format!("on {}", r.first),
            (Period::Dates(_), Some(r)) => format!("between {} and {}", r.first, r.last),
            (Period::Today | Period::Yesterday, Some(r)) => {
                format!("{} ({})", self.period, r.first)
            }
            (_, Some(r)) => format!("in the {} ({r})", self.period),
        }
    }
}

/// What a leaderboard ranks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ranked {
    /// Members.
    #[default]
    Members,
    /// Counting channels.
    Channels,
    /// Categories.
    Categories,
}

impl Ranked {
    /// Plural noun for titles.
    #[must_use]
    pub const fn noun(self) -> &'static str {
        match self {
            Self::Members => "members",
            Self::Channels => "channels",
            Self::Categories => "categories",
        }
    }
}

/// Not one of `members`, `channels`, `categories`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` cannot be ranked: use members, channels or categories")]
pub struct UnknownRanked(pub String);

impl FromStr for Ranked {
    type Err = UnknownRanked;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "members" | "member" => Ok(Self::Members),
            "channels" | "channel" => Ok(Self::Channels),
            "categories" | "category" => Ok(Self::Categories),
            _ => Err(UnknownRanked(s.to_owned())),
        }
    }
}

/// What `/activity` draws.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityView {
    /// Messages and active members per day.
    #[default]
    Daily,
    /// Messages per weekday and local hour (7 × 24).
    Heatmap,
}

/// Not one of `daily`, `heatmap`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a view of /activity: use daily or heatmap")]
pub struct UnknownView(pub String);

impl FromStr for ActivityView {
    type Err = UnknownView;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "daily" => Ok(Self::Daily),
            "heatmap" => Ok(Self::Heatmap),
            _ => Err(UnknownView(s.to_owned())),
        }
    }
}

/// The report asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Report {
    /// `/stats`: one member.
    Stats {
        /// Whose numbers.
        member: UserId,
    },
    /// `/channel-stats`: a channel or a category.
    ChannelStats {
        /// [`Scope::Channel`] or [`Scope::Category`].
        scope: Scope,
    },
    /// `/leaderboard`.
    Leaderboard {
        /// What is ranked.
        ranked: Ranked,
        /// By which counter.
        metric: Metric,
        /// Where: the guild, a channel or a category.
        scope: Scope,
    },
    /// `/activity`: a daily chart or an hour-of-week heatmap.
    Activity {
        /// Where.
        scope: Scope,
        /// What is drawn (a job queued before views existed is daily).
        #[serde(default)]
        view: ActivityView,
    },
    /// `/insights growth`: DAU, WAU, MAU and new members per day.
    Growth {
        /// Where.
        scope: Scope,
    },
    /// `/insights retention`: of each week's new members, how many are active in the weeks after.
    Retention {
        /// How many join weeks, the last complete ones.
        weeks: u8,
    },
    /// `/export`: the per (day, channel, member) counters as CSV.
    Export,
    /// The digest post (and `/engagement-config digest preview`), over its day or week.
    Digest {
        /// Daily or weekly.
        frequency: engagement_domain::Frequency,
    },
}

/// A validated report request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRequest {
    /// The guild.
    pub guild: GuildId,
    /// Who ran the command.
    pub viewer: UserId,
    /// Which report.
    pub report: Report,
    /// Which days.
    pub period: ReportPeriod,
    /// The largest attachment Discord accepts for this interaction, in bytes (exports).
    pub attachment_limit: u64,
}

impl ReportRequest {
    /// Whether the answer is built by the followup function: charts and exports always (rendering and
    /// uploading take time), the others when the period [is long](ReportPeriod::is_long).
    #[must_use]
    pub fn deferred(&self) -> bool {
        match self.report {
            Report::Activity { .. }
            | Report::Growth { .. }
            | Report::Retention { .. }
            | Report::Export
            | Report::Digest { .. } => true,
            Report::Stats { .. } | Report::ChannelStats { .. } | Report::Leaderboard { .. } => {
                self.period.is_long()
            }
        }
    }

    /// Whether only the member who ran the command sees the answer: `/stats` (a personal lookup: it does
    /// not announce whom you looked up, and does not clutter the channel) and `/export` (per-member data
    /// for admins). Channel stats, leaderboards and activity charts are posted for everyone.
    #[must_use]
    pub const fn ephemeral(&self) -> bool {
        matches!(self.report, Report::Stats { .. } | Report::Export)
    }
}

/// How a scope is named in replies: `the server`, `<#id>`.
#[derive(Clone, Copy, Debug)]
pub struct ScopeName(pub Scope);

impl fmt::Display for ScopeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Scope::Guild => f.write_str("the server"),
            Scope::Channel(ChannelId(id)) | Scope::Category(ChannelId(id)) => write!(f, "<#{id}>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_320_000, 0).unwrap_or_default() // 2025-11-28T08:53:20Z
    }

    #[test]
    fn periods_resolve_in_the_guild_zone_and_say_what_they_cover() -> Result<(), PeriodError> {
        let week = ReportPeriod::resolve(Period::LastDays(7), GuildTimeZone::UTC, now())?;
        assert_eq!(week.label(), "last 7 days (2025-11-22 to 2025-11-28)");
        assert_eq!(week.days(), Some(7));
        assert!(!week.is_long());
        assert_eq!(
            week.previous().map(|r| r.to_string()).as_deref(),
            Some("2025-11-15 to 2025-11-21")
        );
        let year = ReportPeriod::resolve(Period::LastDays(365), GuildTimeZone::UTC, now())?;
        assert!(year.is_long());
        let all = ReportPeriod::resolve(Period::AllTime, GuildTimeZone::UTC, now())?;
        assert!(all.is_long());
        assert_eq!(all.label(), "all time");
        assert_eq!(all.all_days().len(), MAX_RANGE_DAYS);
        let tokyo = "Asia/Tokyo".parse().unwrap_or_default();
        let late = DateTime::from_timestamp(1_764_345_600, 0).unwrap_or_default(); // 16:00 UTC
        assert_eq!(
            ReportPeriod::resolve(Period::Today, tokyo, late)?.today.to_string(),
            "2025-11-29"
        );
        Ok(())
    }

    #[test]
    fn explicit_ranges_are_cut_at_today() -> Result<(), PeriodError> {
        let period = Period::from_options(None, Some("2025-11-20"), Some("2025-12-31"))?;
        let resolved = ReportPeriod::resolve(period, GuildTimeZone::UTC, now())?;
        assert_eq!(resolved.label(), "2025-11-20 to 2025-11-28");
        assert_eq!(resolved.phrase(), "between 2025-11-20 and 2025-11-28");
        Ok(())
    }

    #[test]
    fn charts_and_exports_are_always_deferred() -> Result<(), PeriodError> {
        let period = ReportPeriod::resolve(Period::Today, GuildTimeZone::UTC, now())?;
        let request = |report| ReportRequest {
            guild: GuildId(1),
            viewer: UserId(2),
            report,
            period,
            attachment_limit: 1,
        };
        assert!(
            request(Report::Activity { scope: Scope::Guild, view: ActivityView::Daily }).deferred()
        );
        assert!(request(Report::Export).deferred());
        assert!(!request(Report::Stats { member: UserId(2) }).deferred());
        assert!(request(Report::Stats { member: UserId(2) }).ephemeral());
        assert!(
            !request(Report::Activity { scope: Scope::Guild, view: ActivityView::Daily })
                .ephemeral()
        );
        Ok(())
    }
}
