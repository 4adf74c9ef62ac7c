//! `/activity`: messages and active members per day, as a sparkline in the embed and (with the `chart`
//! feature, in the followup function) a PNG chart; or, with `view: heatmap`, messages per weekday and
//! local hour as a 7 × 24 PNG, with the busiest hours named in the text.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use engagement_domain::{ChannelId, CounterReader, Day, Metric, Scope, UserId};

use super::{
    AnswerError, DayRead, Drawing, Reporter, footer, hours_footer, nothing_counted, nothing_in,
    with_chart,
};
use crate::format;
use crate::reply::{EmbedDraft, Reply};
use crate::request::{ReportRequest, ScopeName};
use crate::visibility::Shown;

/// Characters of the sparkline (longer periods are summed into this many buckets).
pub const SPARKLINE_WIDTH: usize = 42;
/// The chart's file name.
pub const CHART_FILE: &str = "activity.png";
/// The heatmap's file name.
pub const HEATMAP_FILE: &str = "activity-heatmap.png";
/// How many of the busiest hours the heatmap's text names.
pub const BUSIEST_HOURS: usize = 3;

/// One day of the chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayActivity {
    /// The day.
    pub day: Day,
    /// Messages.
    pub messages: i64,
    /// Distinct members with at least one message.
    pub active_members: usize,
}

pub(super) async fn answer(
    reporter: &Reporter<impl CounterReader>,
    request: &ReportRequest,
    scope: Scope,
    shown: &Shown,
) -> Result<Reply, AnswerError> {
    let period = &request.period;
    // Each day is reduced to what the chart needs as it is read.
    let mut per_day: BTreeMap<Day, (i64, usize)> = BTreeMap::new();
    let mut members: BTreeSet<UserId> = BTreeSet::new();
    let range = reporter
        .each_day(request.guild, (period, DayRead::Summaries), shown, |day, tally| {
            let active = tally.active_members(scope);
            per_day.insert(day, (tally.total(scope).messages, active.len()));
            members.extend(active);
            ControlFlow::Continue(())
        })
        .await?;
    let Some(range) = range else { return Err(nothing_counted(period)) };
    let series: Vec<DayActivity> = range
        .days()
        .map(|day| {
            let (messages, active_members) = per_day.get(&day).copied().unwrap_or((0, 0));
            DayActivity { day, messages, active_members }
        })
        .collect();
    let total: i64 = series.iter().map(|d| d.messages).sum();
    if total == 0 {
        return Err(nothing_in(scope, period));
    }
    let busiest = series.iter().max_by(|a, b| a.messages.cmp(&b.messages).then(b.day.cmp(&a.day)));
    let distinct = members.len();
    let most_active = series.iter().map(|d| d.active_members).max().unwrap_or(0);
    let len = i64::try_from(series.len()).unwrap_or(1).max(1);
    let values: Vec<i64> = series.iter().map(|d| d.messages).collect();

    let mut description = format!(
        "{} · {}\n`{}`\n\n**{}** (about {} a day)",
        ScopeName(scope),
        period.label(),
        format::sparkline(&values, SPARKLINE_WIDTH),
        format::count(total, Metric::Messages),
        format::number((total + len / 2) / len),
    );
    if let Some(busiest) = busiest {
        description.push_str(&format!(
            "\nBusiest day: {} ({})",
            busiest.day,
            format::count(busiest.messages, Metric::Messages)
        ));
    }
    description.push_str(&format!(
        "\nActive members: {} in all, up to {} on one day",
        format::number(i64::try_from(distinct).unwrap_or(i64::MAX)),
        format::number(i64::try_from(most_active).unwrap_or(i64::MAX)),
    ));
    let title = match scope {
        Scope::Guild => "Server activity",
        Scope::Channel(_) => "Channel activity",
        Scope::Category(_) => "Category activity",
    };
    let embed = EmbedDraft::new(title).description(description).footer(footer(period));
    with_chart(embed, &format!("{title}, {}", period.label()), Drawing::Daily(&series))
}

/// `/activity view: heatmap`: messages per weekday and local hour over the period.
///
/// The hourly counts name no member, so they still hold the messages of members who opted out or were
/// erased after they were counted. A (day, channel) is therefore drawn only when its hours add up to
/// exactly the messages the daily view shows for it (opt-outs, excluded and unseen channels left out, a
/// category as of that day): then they hold nobody hidden. The others are left out, and said to be, in
/// one sum with the messages counted before hourly counts existed. The days are read whole for this
/// check, so a heatmap costs what the daily chart of the same period costs.
pub(super) async fn heatmap(
    reporter: &Reporter<impl CounterReader>,
    request: &ReportRequest,
    scope: Scope,
    shown: &Shown,
) -> Result<Reply, AnswerError> {
    let period = &request.period;
    let HourGrid { grid, total, left_out } = hour_grid(reporter, request, scope, shown).await?;
    if total == 0 {
        return Err(no_hours(period));
    }
    let mut description = format!(
        "{} · {}\n**{}** by hour",
        ScopeName(scope),
        period.label(),
        format::count(total, Metric::Messages)
    );
    if left_out > 0 {
        description.push_str(&format!(
            "\n{} not in it: counted before hourly counts began, or on a day and channel where \
             leaving them out keeps members who opted out private",
            format::count(left_out, Metric::Messages)
        ));
    }
    description.push_str("\nBusiest hours: ");
    description.push_str(&busiest_hours_text(&grid));
    let by_weekday: Vec<i64> = grid.iter().map(|hours| hours.iter().sum()).collect();
    if let Some((weekday, n)) =
        by_weekday.iter().enumerate().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
    {
        description.push_str(&format!(
            "\nBusiest day of the week: {} ({})",
            format::WEEKDAY_NAMES[weekday],
            format::count(*n, Metric::Messages)
        ));
    }
    let title = match scope {
        Scope::Guild => "Server activity by hour",
        Scope::Channel(_) => "Channel activity by hour",
        Scope::Category(_) => "Category activity by hour",
    };
    let embed = EmbedDraft::new(title).description(description).footer(hours_footer(period));
    let caption = format!("{title}, {} · hours in {}", period.label(), period.time_zone);
    with_chart(embed, &caption, Drawing::Heatmap(&grid))
}

/// Messages per weekday and local hour over a report's period, drawn from the (day, channel)s whose
/// hours add up to what the daily view shows (see [`heatmap`]).
pub(super) struct HourGrid {
    /// Messages per weekday (Monday first) and hour.
    pub(super) grid: [[i64; 24]; 7],
    /// Messages in the grid.
    pub(super) total: i64,
    /// Messages of the period left out of it.
    pub(super) left_out: i64,
}

/// The [`HourGrid`] of `request`'s period in `scope`.
///
/// # Errors
/// Nothing counted in the period, or in the scope; read failures.
pub(super) async fn hour_grid(
    reporter: &Reporter<impl CounterReader>,
    request: &ReportRequest,
    scope: Scope,
    shown: &Shown,
) -> Result<HourGrid, AnswerError> {
    let period = &request.period;
    let mut daily: BTreeMap<(Day, ChannelId), i64> = BTreeMap::new();
    let range = reporter
        .each_day(request.guild, (period, DayRead::Summaries), shown, |day, tally| {
            for (channel, counts) in tally.by_channel(scope, None) {
                if counts.messages > 0 {
                    daily.insert((day, channel), counts.messages);
                }
            }
            ControlFlow::Continue(())
        })
        .await?;
    let Some(range) = range else { return Err(nothing_counted(period)) };
    if daily.is_empty() {
        return Err(nothing_in(scope, period));
    }
    hours_of(reporter, request.guild, range, &daily).await
}

/// The [`HourGrid`] of `range`, given the messages per (day, channel) the daily view shows.
///
/// # Errors
/// Read failures.
pub(super) async fn hours_of(
    reporter: &Reporter<impl CounterReader>,
    guild: engagement_domain::GuildId,
    range: engagement_domain::DayRange,
    daily: &BTreeMap<(Day, ChannelId), i64>,
) -> Result<HourGrid, AnswerError> {
    let hours = reporter.reader.load_hours(guild, range).await.map_err(AnswerError::read)?;
    let hourly = hours.per_day_and_channel();
    let drawn: BTreeSet<(Day, ChannelId)> = daily
        .iter()
        .filter(|(key, messages)| hourly.get(*key) == Some(*messages))
        .map(|(key, _)| *key)
        .collect();
    let grid = hours.by_hour_of_week(|day, channel| drawn.contains(&(day, channel)));
    let total: i64 = grid.iter().flatten().sum();
    let left_out: i64 = daily.values().sum::<i64>() - total;
    Ok(HourGrid { grid, total, left_out })
}

/// "**Mon 18:00–19:00** (45 messages)" for the busiest cells of a grid.
pub(super) fn busiest_hours_text(grid: &[[i64; 24]; 7]) -> String {
    busiest_hours(grid, BUSIEST_HOURS)
        .into_iter()
        .map(|(weekday, hour, n)| {
            format!(
                "**{} {hour:02}:00–{:02}:00** ({})",
                format::WEEKDAYS[weekday],
                (hour + 1) % 24,
                format::count(n, Metric::Messages)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `n` busiest (weekday, hour) cells with messages, busiest first (ties: earlier in the week).
#[must_use]
pub fn busiest_hours(grid: &[[i64; 24]; 7], n: usize) -> Vec<(usize, usize, i64)> {
    let mut cells: Vec<(usize, usize, i64)> = grid
        .iter()
        .enumerate()
        .flat_map(|(d, hours)| hours.iter().enumerate().map(move |(h, &m)| (d, h, m)))
        .filter(|(_, _, m)| *m > 0)
        .collect();
    cells.sort_by(|a, b| b.2.cmp(&a.2).then((a.0, a.1).cmp(&(b.0, b.1))));
    cells.truncate(n);
    cells
}

/// Messages in the period, but none with hours that can be shown.
fn no_hours(period: &crate::request::ReportPeriod) -> AnswerError {
    AnswerError::user(format!(
        "There are no hourly counts {} to show. Hours are kept for messages counted since this bot's \
         version that counts them was installed (backfills since then included); `view: daily` shows \
         every day counted.",
        period.phrase()
    ))
}
