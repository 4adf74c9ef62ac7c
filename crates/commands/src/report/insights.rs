//! Insights: DAU/WAU/MAU, new and returning members per day (`engagement insights`, `/insights growth`)
//! and weekly retention (`/insights retention`), from each day's activity and the members' first days.

use std::ops::ControlFlow;

use engagement_domain::insights::{MAU_WINDOW, RETENTION_WEEKS, monday_of};
use engagement_domain::{
    Audience, ChannelId, Cohort, CounterReader, Day, DayFigures, DayRange, GuildConfig, GuildId,
    Metric, Participation, Scope, UserId,
};

use super::{AnswerError, Drawing, Reporter, footer, nothing_counted, nothing_in, with_chart};
use crate::format;
use crate::reply::{EmbedDraft, Reply};
use crate::request::{ReportPeriod, ReportRequest, ScopeName};
use crate::visibility::Shown;

/// The fewest new members a join week needs for `/insights retention` to show its weeks after.
pub const MIN_COHORT: usize = 3;
/// The growth chart's file name.
pub const GROWTH_FILE: &str = "insights-growth.png";
/// The retention table's file name.
pub const RETENTION_FILE: &str = "insights-retention.png";

/// The columns of `engagement insights`: one record per day of the range.
pub const INSIGHTS_COLUMNS: [&str; 8] =
    ["guild_id", "day", "dau", "wau", "mau", "new_members", "returning_members", "messages"];

/// Reads what the figures of `range` need — each day's activity from 29 days before it (for MAU) and
/// the day before that (the previous period's end), and every member's first days — keeping the
/// (channel, member) pairs `counted` keeps, in `scope`: the one read of `engagement insights` and
/// `/insights growth`. A category's channels are those it holds as last seen (the all-time
/// counters' categories: one more read). Without a range: from the first day anyone was active to `today`. `None` when
/// nobody ever was.
///
/// # Errors
/// The reader's.
pub async fn participation<R: CounterReader>(
    reader: &R,
    guild: GuildId,
    (range, today): (Option<DayRange>, Day),
    scope: Scope,
    counted: impl Fn(ChannelId, UserId) -> bool + Send + Sync,
) -> Result<Option<(DayRange, Participation)>, R::Error> {
    let first_seen = reader.load_first_seen(guild).await?;
    // All time starts on the first day anyone was active in what is counted (never earlier: it would
    // date a message in a channel the audience cannot see).
    let first_ever = first_seen
        .iter()
        .filter(|((user, channel), _)| {
            counted(*channel, *user) && !matches!(scope, Scope::Channel(c) if c != *channel)
        })
        .map(|(_, day)| *day)
        .min();
    let Some(first_ever) = first_ever else { return Ok(None) };
    let range = range.unwrap_or(DayRange { first: first_ever, last: today });
    let mut out = Participation::default();
    let read = DayRange { first: range.first.plus(-MAU_WINDOW), last: range.last };
    reader
        .scan_activity(guild, read, |day, tally| {
            out.add_day(day, &tally, scope, &counted);
            ControlFlow::Continue(())
        })
        .await?;
    if let Scope::Category(_) = scope {
        out.learn_categories(&reader.load_all_time(guild).await?.categories);
    }
    out.add_first_seen(&first_seen, scope, &counted);
    Ok(Some((range, out)))
}

/// One day's figures as a record of `engagement insights`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InsightsRecord {
    /// The guild.
    pub guild: GuildId,
    /// The figures.
    pub figures: DayFigures,
}

impl InsightsRecord {
    /// The CSV header line.
    #[must_use]
    pub fn header() -> String {
        format!("{}\n", INSIGHTS_COLUMNS.join(","))
    }

    /// The record as a CSV line (with its newline), in [`INSIGHTS_COLUMNS`] order.
    #[must_use]
    pub fn csv_line(&self) -> String {
        let f = &self.figures;
        format!(
            "{},{},{},{},{},{},{},{}\n",
            self.guild, f.day, f.dau, f.wau, f.mau, f.new_members, f.returning_members, f.messages
        )
    }

    /// The record as one JSON object with [`INSIGHTS_COLUMNS`] as keys (the guild id as a string).
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        let f = &self.figures;
        serde_json::json!({
            "guild_id": self.guild.to_string(),
            "day": f.day.to_string(),
            "dau": f.dau,
            "wau": f.wau,
            "mau": f.mau,
            "new_members": f.new_members,
            "returning_members": f.returning_members,
            "messages": f.messages,
        })
    }
}

/// Whether a (channel, member) pair counts for this audience: a channel it may see, a member who did not
/// opt out.
pub(super) fn counted(shown: &Shown, channel: ChannelId, user: UserId) -> bool {
    shown.shows(channel) && !shown.config.opted_out.contains(&user)
}

fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Growth over a period: what `/insights growth` tells and the dashboard's growth page shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Growth {
    /// Each day's figures over the period.
    pub figures: Vec<DayFigures>,
    /// Members new in the period.
    pub new_members: usize,
    /// The period just before, as long (none for all time).
    pub before: Option<GrowthBefore>,
    /// DAU averaged over the period's days, rounded.
    pub average_dau: i64,
    /// Messages over the period.
    pub messages: i64,
}

/// The period before a [`Growth`]'s, to compare with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrowthBefore {
    /// How many days it has.
    pub days: u32,
    /// Members new in it.
    pub new_members: usize,
    /// Its last day's figures (MAU then).
    pub last: Option<DayFigures>,
}

/// Retention of the last join weeks: what `/insights retention` tells and the dashboard shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Monday of the first join week.
    pub first_week: Day,
    /// Monday of the last join week (the last complete one).
    pub last_week: Day,
    /// The join weeks, oldest first; weeks with fewer than [`MIN_COHORT`] new members keep only
    /// their size.
    pub cohorts: Vec<Cohort>,
    /// Members new over all the join weeks.
    pub joined: usize,
    /// For 1 and 4 weeks after joining: the share still active in percent and how many members that
    /// is of, weighted over the weeks that are over (`None`: none is yet).
    pub averages: [(usize, Option<(usize, usize)>); 2],
}

impl<R: CounterReader> Reporter<R> {
    /// DAU, WAU, MAU and new members per day over `period` in `scope`, as `audience` may see them, by
    /// `/insights growth`'s rules.
    ///
    /// # Errors
    /// [`AnswerError::User`] when nothing was counted, or the channel is excluded or not visible to
    /// the audience; read failures.
    pub async fn growth(
        &self,
        (guild, scope): (GuildId, Scope),
        period: &ReportPeriod,
        config: &GuildConfig,
        audience: &Audience,
    ) -> Result<Growth, AnswerError> {
        let shown = self.shown_in(guild, scope, config, audience).await?;
        growth_of(self, guild, period, scope, &shown).await
    }

    /// Retention of the last `weeks` complete join weeks before `period`'s today, as `audience` may
    /// see it, by `/insights retention`'s rules.
    ///
    /// # Errors
    /// [`AnswerError::User`] when nobody was new in those weeks; read failures.
    pub async fn retention(
        &self,
        guild: GuildId,
        (period, weeks): (&ReportPeriod, u8),
        config: &GuildConfig,
        audience: &Audience,
    ) -> Result<Retention, AnswerError> {
        let shown = self.shown(guild, config, audience).await?;
        retention_of(self, guild, period, weeks, &shown).await
    }
}

/// Growth over the period: only channels the audience may see count, in `scope`, without members who
/// opted out; a member is new on the first day they were active in those channels. All time starts on
/// the first day anyone was. Compared with the period before, as long, just before.
async fn growth_of(
    reporter: &Reporter<impl CounterReader>,
    guild: GuildId,
    period: &ReportPeriod,
    scope: Scope,
    shown: &Shown,
) -> Result<Growth, AnswerError> {
    let (range, participation) =
        participation(&reporter.reader, guild, (period.range, period.today), scope, |c, u| {
            counted(shown, c, u)
        })
        .await
        .map_err(AnswerError::read)?
        .ok_or_else(|| nothing_counted(period))?;
    let figures = participation.daily_figures(range);
    if !figures.iter().any(|f| f.dau > 0) {
        return Err(nothing_in(scope, period));
    }
    let new_members: usize = figures.iter().map(|f| f.new_members).sum();
    let dau_sum: usize = figures.iter().map(|f| f.dau).sum();
    let messages: i64 = figures.iter().map(|f| f.messages).sum();
    let len = as_i64(figures.len()).max(1);
    let before = period.previous().map(|previous| GrowthBefore {
        days: previous.len(),
        new_members: participation.first_day.values().filter(|d| previous.contains(**d)).count(),
        last: participation.daily_figures(DayRange::single(previous.last)).first().copied(),
    });
    Ok(Growth {
        figures,
        new_members,
        before,
        average_dau: (as_i64(dau_sum) + len / 2) / len,
        messages,
    })
}

/// `/insights growth`: [`growth_of`], drawn and told.
pub(super) async fn growth_reply(
    reporter: &Reporter<impl CounterReader>,
    request: &ReportRequest,
    scope: Scope,
    shown: &Shown,
) -> Result<Reply, AnswerError> {
    let period = &request.period;
    let growth = growth_of(reporter, request.guild, period, scope, shown).await?;
    let Some(last) = growth.figures.last().copied() else { return Err(nothing_in(scope, period)) };
    let when =
        if last.day == period.today { "Today".to_owned() } else { format!("On {}", last.day) };
    let mut description = format!(
        "{} · {}\n{when}: **{}** active (DAU) · **{}** in 7 days (WAU) · **{}** in 30 days (MAU)",
        ScopeName(scope),
        period.label(),
        format::number(as_i64(last.dau)),
        format::number(as_i64(last.wau)),
        format::number(as_i64(last.mau)),
    );
    description
        .push_str(&format!("\nNew members: **{}**", format::number(as_i64(growth.new_members))));
    if let Some(before) = growth.before {
        description.push_str(&format!(
            " · vs the {} days before: {}",
            before.days,
            format::trend(as_i64(before.new_members), as_i64(growth.new_members)),
        ));
        if let Some(then) = before.last {
            description.push_str(&format!(
                "\nMAU since {}: {}",
                then.day,
                format::trend(as_i64(then.mau), as_i64(last.mau)),
            ));
        }
    }
    description.push_str(&format!(
        "\nAverage DAU: {} · {}",
        format::number(growth.average_dau),
        format::count(growth.messages, Metric::Messages),
    ));
    let title = match scope {
        Scope::Guild => "Server growth",
        Scope::Channel(_) => "Channel growth",
        Scope::Category(_) => "Category growth",
    };
    let embed = EmbedDraft::new(title).description(description).footer(footer(period));
    with_chart(embed, &format!("{title}, {}", period.label()), Drawing::Growth(&growth.figures))
}

/// For each of the last `weeks` complete ISO weeks, the members new that week (first active in the
/// channels the audience may see) and how many of them were active in each of the weeks after, up to
/// [`RETENTION_WEEKS`] (the current week so far). With the average week-1 and week-4 retention,
/// weighted by cohort size.
async fn retention_of(
    reporter: &Reporter<impl CounterReader>,
    guild: GuildId,
    period: &ReportPeriod,
    weeks: u8,
    shown: &Shown,
) -> Result<Retention, AnswerError> {
    let today = period.today;
    let this_week = monday_of(today);
    let first = this_week.plus(-7 * i32::from(weeks.max(1)));
    let mut participation = Participation::default();
    reporter
        .reader
        .scan_activity(guild, DayRange { first, last: today }, |day, tally| {
            participation.add_day(day, &tally, Scope::Guild, |c, u| counted(shown, c, u));
            ControlFlow::Continue(())
        })
        .await
        .map_err(AnswerError::read)?;
    let first_seen = reporter.reader.load_first_seen(guild).await.map_err(AnswerError::read)?;
    participation.add_first_seen(&first_seen, Scope::Guild, |c, u| counted(shown, c, u));
    let mut cohorts = participation.retention(first, this_week.previous(), RETENTION_WEEKS, today);
    let joined: usize = cohorts.iter().map(|c| c.members).sum();
    // A week with only a member or two would show their own activity week by week: its size only.
    for cohort in cohorts.iter_mut().filter(|c| c.members < MIN_COHORT) {
        cohort.active.iter_mut().for_each(|cell| *cell = None);
    }
    if joined == 0 {
        return Err(AnswerError::user(format!(
            "Nobody was new in the last {weeks} weeks ({first} to {}): there is no retention to \
             show yet.",
            this_week.previous()
        )));
    }
    let averages = [1, 4].map(|k| {
        let (mut active, mut followed) = (0, 0);
        for cohort in &cohorts {
            // Only weeks that are over: a week just begun would pull the average down.
            let over = cohort.week.plus(7 * (i32::from(u8::try_from(k).unwrap_or(0)) + 1)) <= today;
            if let (true, Some(Some(n))) = (over, cohort.active.get(k - 1)) {
                active += n;
                followed += cohort.members;
            }
        }
        (k, (active * 100).checked_div(followed).map(|percent| (percent, followed)))
    });
    Ok(Retention { first_week: first, last_week: this_week.previous(), cohorts, joined, averages })
}

/// `/insights retention`: [`retention_of`], drawn and told.
pub(super) async fn retention_reply(
    reporter: &Reporter<impl CounterReader>,
    request: &ReportRequest,
    weeks: u8,
    shown: &Shown,
) -> Result<Reply, AnswerError> {
    let period = &request.period;
    let retention = retention_of(reporter, request.guild, period, weeks, shown).await?;
    let mut description = format!(
        "The server · {} new in the last {weeks} weeks, and how many of each week's were active in \
         each week after (the current week so far; weeks with fewer than {MIN_COHORT} new members show \
         their size only)",
        format::members(retention.joined)
    );
    for (k, average) in retention.averages {
        match average {
            None => description.push_str(&format!("\nWeek {k}: nothing to show yet")),
            Some((percent, followed)) => description.push_str(&format!(
                "\nWeek {k}: **{percent}%** still active on average ({} followed)",
                format::members(followed)
            )),
        }
    }
    let embed = EmbedDraft::new("Retention").description(description).footer(footer(period));
    let caption = "Retention: the share of each week's new members active in the weeks after";
    with_chart(embed, caption, Drawing::Retention(&retention.cohorts))
}
