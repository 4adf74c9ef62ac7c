//! `/activity`: messages and active members per day, as a sparkline in the embed and (with the `chart`
//! feature, in the followup function) a PNG chart.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use engagement_domain::{CounterReader, Day, Metric, Scope, UserId};

use super::{AnswerError, Reporter, footer, nothing_counted, nothing_in};
use crate::format;
use crate::reply::{EmbedDraft, Reply};
use crate::request::{ReportRequest, ScopeName};
use crate::visibility::Shown;

/// Characters of the sparkline (longer periods are summed into this many buckets).
pub const SPARKLINE_WIDTH: usize = 42;
/// The chart's file name.
pub const CHART_FILE: &str = "activity.png";

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
        .each_day(request.guild, period, shown, None, |day, tally| {
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
    chart(embed, title, &series, period)
}

#[cfg(feature = "chart")]
fn chart(
    embed: EmbedDraft,
    title: &str,
    series: &[DayActivity],
    period: &crate::request::ReportPeriod,
) -> Result<Reply, AnswerError> {
    let caption = format!("{title}, {}", period.label());
    let png = crate::chart::activity_png(&caption, series)
        .map_err(|e| AnswerError::Chart(e.to_string()))?;
    let mut reply = Reply::embed(embed.attached_image(CHART_FILE).build());
    reply.files.push(crate::reply::ReplyFile {
        filename: CHART_FILE.to_owned(),
        content_type: "image/png".to_owned(),
        data: png,
    });
    Ok(reply)
}

#[cfg(not(feature = "chart"))]
fn chart(
    embed: EmbedDraft,
    _title: &str,
    _series: &[DayActivity],
    _period: &crate::request::ReportPeriod,
) -> Result<Reply, AnswerError> {
    // Without the renderer (the interactions function, which always defers /activity), the sparkline.
    Ok(Reply::embed(embed.build()))
}
