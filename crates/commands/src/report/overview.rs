//! A server's overview as data, for the web dashboard: messages and active members per day, the
//! hour-of-week heatmap, the top channels and members, and how fresh the counts are — under the same
//! rules as the slash commands (excluded channels, opt-outs, and the channels the audience can view).
//!
//! It reads less than `/activity`, `/activity view: heatmap` and `/leaderboard` together: the day
//! activity of the period (messages per channel and member, a fraction of the day summaries' size: one
//! pass serves the chart, the figures, the top lists and the heatmap's check), the hours, and the time
//! of the last sync. Reactions are not in it (the day activity does not hold them): they are on the
//! member pages and in the export.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use engagement_domain::{
    Audience, ChannelId, CounterReader, Counts, Day, DayRange, GuildConfig, GuildId, Metric, Scope,
    Tally, UserId,
};

use super::activity::{DayActivity, hours_of};
use super::{AnswerError, DayRead, Reporter, nothing_counted, nothing_in};
use crate::request::ReportPeriod;
use crate::visibility;

/// How many channels and members the overview ranks.
pub const TOP: usize = 10;

/// What the overview page shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overview {
    /// Every day of the period (for all time: from the first day with counts), empty days included.
    pub days: Vec<DayActivity>,
    /// Messages over the period.
    pub messages: i64,
    /// Distinct members with a message in the period.
    pub active_members: usize,
    /// The busiest channels by messages, busiest first (their messages only).
    pub top_channels: Vec<(ChannelId, Counts)>,
    /// The busiest categories by messages, busiest first (their messages only; empty for a channel's
    /// or category's page).
    pub top_categories: Vec<(ChannelId, Counts)>,
    /// The most active members by messages, most active first (their messages only).
    pub top_members: Vec<(UserId, Counts)>,
    /// Messages per weekday (Monday first) and local hour.
    pub heatmap: [[i64; 24]; 7],
    /// Messages of the period not in the heatmap (counted before hourly counts existed, or held back to
    /// keep opted-out members private).
    pub heatmap_left_out: i64,
    /// When the guild was last synced up to (Unix ms), if ever.
    pub counted_to_ms: Option<u64>,
}

impl<R: CounterReader> Reporter<R> {
    /// The overview of `guild` (or one of its channels or categories: `scope`) over `period` for
    /// `audience`.
    ///
    /// # Errors
    /// [`AnswerError::User`] when nothing was counted in the period, the channel is excluded or not
    /// visible to the audience (as the commands refuse it), or nothing the audience may see was
    /// counted in the category (so a category's page says nothing of one it cannot see); read
    /// failures.
    pub async fn overview(
        &self,
        (guild, scope): (GuildId, Scope),
        period: &ReportPeriod,
        config: &GuildConfig,
        audience: &Audience,
    ) -> Result<Overview, AnswerError> {
        let shown = self.shown_in(guild, scope, config, audience).await?;
        let mut per_day: BTreeMap<Day, (i64, usize)> = BTreeMap::new();
        let mut members: BTreeSet<UserId> = BTreeSet::new();
        let mut whole = Tally::new();
        let mut daily: BTreeMap<(Day, ChannelId), i64> = BTreeMap::new();
        let range = self
            .each_day(guild, (period, DayRead::Messages), &shown, |day, tally| {
                let active = tally.active_members(scope);
                per_day.insert(day, (tally.total(scope).messages, active.len()));
                members.extend(active);
                for (channel, counts) in tally.by_channel(scope, None) {
                    if counts.messages > 0 {
                        daily.insert((day, channel), counts.messages);
                    }
                }
                whole.merge(&tally);
                ControlFlow::Continue(())
            })
            .await?;
        // All time: from the first day with a message the audience may see.
        let Some(range) = range else { return Err(nothing_counted(period)) };
        if matches!(scope, Scope::Category(_)) && whole.total(scope).is_zero() {
            return Err(nothing_in(scope, period));
        }
        let days = range
            .days()
            .map(|day| {
                let (messages, active_members) = per_day.get(&day).copied().unwrap_or((0, 0));
                DayActivity { day, messages, active_members }
            })
            .collect();
        let hours = hours_of(self, guild, range, &daily).await?;
        // The page stands without it, as the commands' footers do.
        let counted_to_ms = self.reader.last_synced(guild).await.ok().flatten();
        Ok(Overview {
            days,
            messages: whole.total(scope).messages,
            active_members: members.len(),
            top_channels: whole.top_channels(Metric::Messages, scope, TOP),
            top_categories: match scope {
                Scope::Guild => whole.top_categories(Metric::Messages, TOP),
                Scope::Channel(_) | Scope::Category(_) => Vec::new(),
            },
            top_members: whole.top_members(Metric::Messages, scope, TOP),
            heatmap: hours.grid,
            heatmap_left_out: hours.left_out,
            counted_to_ms,
        })
    }
}

/// What the member page shows: one member's days over a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberOverview {
    /// Whether the member opted out (their own page still shows what was counted before, as `/stats`
    /// does; anyone else's is refused).
    pub opted_out: bool,
    /// Every day of the period (for all time: from the member's first day with counts), with the
    /// member's messages (`active_members` is 1 on a day they wrote, else 0).
    pub days: Vec<DayActivity>,
    /// Their messages and reactions over the period.
    pub totals: Counts,
    /// Their busiest channels by messages, busiest first.
    pub top_channels: Vec<(ChannelId, Counts)>,
    /// When the guild was last synced up to (Unix ms), if ever.
    pub counted_to_ms: Option<u64>,
}

impl<R: CounterReader> Reporter<R> {
    /// `member`'s days in `guild` over `period`, as `viewer` with `audience` may see them, by
    /// `/stats`' rules: a member who opted out is refused to anyone but themself, who sees what was
    /// counted before. Whether the viewer may look at this member at all is the caller's decision.
    /// Reads only the member's share of each day, as `/stats` does
    /// ([`CounterReader::member_days`]).
    ///
    /// # Errors
    /// [`AnswerError::User`] when nothing the audience may see was counted for the member in the
    /// period, or the member opted out; read failures.
    pub async fn member_overview(
        &self,
        guild: GuildId,
        (viewer, member): (UserId, UserId),
        period: &ReportPeriod,
        config: &GuildConfig,
        audience: &Audience,
    ) -> Result<MemberOverview, AnswerError> {
        let own = viewer == member;
        let opted_out = config.opted_out.contains(&member);
        if opted_out && !own {
            return Err(AnswerError::user("That member opted out of engagement statistics here."));
        }
        let shown = self.shown(guild, config, audience).await?;
        let scope = Scope::Guild;
        let read = period.range.unwrap_or_else(|| period.all_days());
        let days = self.reader.member_days(guild, member, read).await.map_err(AnswerError::read)?;
        let mut per_day: BTreeMap<Day, i64> = BTreeMap::new();
        let mut theirs = Tally::new();
        for (day, mut tally) in days.days {
            // Their own counters stay when they opted out (others were refused above).
            visibility::hide(&mut tally, &shown, Some(member));
            if !tally.is_empty() {
                per_day.insert(day, tally.member_total(member, scope).messages);
                theirs.merge(&tally);
            }
        }
        // One answer whether nothing was counted for them or only what the viewer may not see.
        let (Some(&first), false) = (per_day.keys().next(), theirs.is_empty()) else {
            return Err(AnswerError::user(format!(
                "Nothing was counted for this member {}.",
                period.phrase()
            )));
        };
        let range = period.range.unwrap_or(DayRange { first, last: read.last });
        let days = range
            .days()
            .map(|day| {
                let messages = per_day.get(&day).copied().unwrap_or(0);
                DayActivity { day, messages, active_members: usize::from(messages > 0) }
            })
            .collect();
        let counted_to_ms = self.reader.last_synced(guild).await.ok().flatten();
        Ok(MemberOverview {
            opted_out,
            days,
            totals: theirs.total(scope),
            top_channels: theirs.top_channels(Metric::Messages, scope, TOP),
            counted_to_ms,
        })
    }
}
