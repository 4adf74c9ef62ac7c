//! Holds on one member's heavy work: an erasure in progress, and cooldowns between heavy deferred
//! commands, so that one member cannot keep the followup function (and the table) busy.
//!
//! A hold is a store claim (`CounterStore::claim`) named after the work and the member. Pure decisions
//! here; the functions take and release the claims.

use std::time::Duration;

use engagement_domain::UserId;

use crate::request::{Report, ReportRequest};

/// How long an erasure holds its claim at most: the interaction token's lifetime. The followup function
/// releases it when the erasure is done; a job that died releases it by running out.
pub const ERASE_HOLD: Duration = Duration::from_secs(15 * 60);
/// After an erasure, how long before the same member can start another one (erasure rereads the guild's
/// whole history: cheap once, not a thousand times).
pub const ERASE_COOLDOWN: Duration = Duration::from_secs(10 * 60);
/// Between two `/export`s of one member.
pub const EXPORT_COOLDOWN: Duration = Duration::from_secs(60);
/// Between two `/activity` charts over more than a month, of one member.
pub const LONG_ACTIVITY_COOLDOWN: Duration = Duration::from_secs(30);
/// Between two `/insights` over more than a month (retention: always), of one member.
pub const INSIGHTS_COOLDOWN: Duration = Duration::from_secs(30);
/// Between two `/engagement-config digest preview` of one member.
pub const DIGEST_PREVIEW_COOLDOWN: Duration = Duration::from_secs(30);

/// A claim to take before handing work over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    /// The claim's name (unique per guild).
    pub name: String,
    /// How long it holds.
    pub duration: Duration,
}

/// The cooldown a report puts on the member who asked for it, if it is heavy: exports, and charts over
/// long periods. Other reports, even deferred ones, read what an answer shows and no more.
#[must_use]
pub fn report_cooldown(request: &ReportRequest) -> Option<Hold> {
    let (what, duration) = match request.report {
        Report::Export => ("export", EXPORT_COOLDOWN),
        Report::Activity { .. } if request.period.is_long() => ("activity", LONG_ACTIVITY_COOLDOWN),
        Report::Growth { .. } if request.period.is_long() => ("insights", INSIGHTS_COOLDOWN),
        Report::Retention { .. } => ("insights", INSIGHTS_COOLDOWN),
        Report::Digest { .. } => ("digest", DIGEST_PREVIEW_COOLDOWN),
        Report::Activity { .. }
        | Report::Growth { .. }
        | Report::Stats { .. }
        | Report::ChannelStats { .. }
        | Report::Leaderboard { .. } => return None,
    };
    Some(Hold { name: format!("cooldown:{what}:{}", request.viewer), duration })
}

/// The claim an erasure holds while it runs.
#[must_use]
pub fn erase_in_progress(member: UserId) -> Hold {
    Hold { name: format!("erase:{member}"), duration: ERASE_HOLD }
}

/// The claim an erasure leaves behind when it is done.
#[must_use]
pub fn erase_cooldown(member: UserId) -> Hold {
    Hold { name: format!("cooldown:erase:{member}"), duration: ERASE_COOLDOWN }
}

/// "Try again in …" for a member who hit a cooldown.
#[must_use]
pub fn try_again_message(what: &str, remaining_ms: u64) -> String {
    let seconds = remaining_ms.div_ceil(1000).max(1);
    let wait =
        if seconds > 90 { format!("{} min", (seconds + 30) / 60) } else { format!("{seconds} s") };
    format!("You asked for {what} a moment ago. Please try again in {wait}.")
}

/// What a member sees when their erasure is still running.
pub const ERASE_IN_PROGRESS_MESSAGE: &str = "Erasing your data is already in progress: the reply to \
     your first request will confirm it when it is done (within a few minutes).";

#[cfg(test)]
mod tests {
    use engagement_domain::{GuildId, GuildTimeZone, Period, Scope};

    use super::*;
    use crate::request::{Ranked, ReportPeriod};

    fn request(report: Report, days: u16) -> ReportRequest {
        let now = chrono::DateTime::from_timestamp(1_764_320_000, 0).unwrap_or_default();
        let period = ReportPeriod::resolve(Period::LastDays(days), GuildTimeZone::UTC, now);
        ReportRequest {
            guild: GuildId(1),
            viewer: UserId(7),
            report,
            period: period.unwrap_or_else(|e| panic!("{e}")),
            attachment_limit: 1,
        }
    }

    #[test]
    fn only_exports_and_long_charts_cool_down() {
        let export = report_cooldown(&request(Report::Export, 7));
        assert_eq!(
            export,
            Some(Hold { name: "cooldown:export:7".into(), duration: EXPORT_COOLDOWN })
        );
        let chart = Report::Activity { scope: Scope::Guild, view: crate::ActivityView::Daily };
        assert_eq!(report_cooldown(&request(chart, 7)), None);
        assert_eq!(
            report_cooldown(&request(chart, 90)).map(|h| h.duration),
            Some(LONG_ACTIVITY_COOLDOWN)
        );
        let board = Report::Leaderboard {
            ranked: Ranked::default(),
            metric: Default::default(),
            scope: Scope::Guild,
        };
        assert_eq!(report_cooldown(&request(board, 365)), None);
    }

    #[test]
    fn the_wait_is_readable() {
        assert_eq!(
            try_again_message("an export", 1),
            "You asked for an export a moment ago. Please try again in 1 s."
        );
        assert!(try_again_message("an export", 59_001).ends_with("in 60 s."));
        assert!(try_again_message("an erasure", 9 * 60_000).ends_with("in 9 min."));
    }
}
