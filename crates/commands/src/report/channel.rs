//! `/channel-stats`: a channel's or category's messages, active members, top members, and the trend against
//! the previous period of the same length.

use std::fmt::Write as _;
use std::ops::ControlFlow;

use engagement_domain::{CounterReader, DayRange, Metric, Scope, Tally};

use super::{AnswerError, Reporter, ensure_counted, footer, nothing_in};
use crate::format;
use crate::reply::{EmbedDraft, Reply};
use crate::request::{ReportRequest, ScopeName};
use crate::visibility::{self, Shown};

/// Members (and, for a category, channels) listed.
const TOP: usize = 5;

pub(super) async fn answer(
    reporter: &Reporter<impl CounterReader>,
    request: &ReportRequest,
    scope: Scope,
    shown: &Shown,
) -> Result<Reply, AnswerError> {
    let period = &request.period;
    let (current, previous) = match (period.range, period.previous()) {
        (Some(range), Some(before)) => {
            let wide = DayRange { first: before.first, last: range.last };
            if wide.total_plan().months.is_empty() {
                // Short periods: one read of the days covers the period and the one before it.
                let (mut current, mut previous) = (Tally::new(), Tally::new());
                reporter
                    .reader
                    .scan_days(request.guild, wide, |day, mut tally| {
                        visibility::hide(&mut tally, shown, None);
                        if range.contains(day) { &mut current } else { &mut previous }
                            .merge(&tally);
                        ControlFlow::Continue(())
                    })
                    .await
                    .map_err(AnswerError::read)?;
                (current, Some(previous))
            } else {
                // Long ones: each period's totals, mostly from month summaries.
                let current = reporter.range_totals(request.guild, range, shown, None).await?;
                (current, Some(reporter.range_totals(request.guild, before, shown, None).await?))
            }
        }
        _ => (reporter.totals(request.guild, period, shown, None).await?, None),
    };
    ensure_counted(current.is_empty(), period)?;
    let now = current.total(scope);
    let before = previous.as_ref().map(|p| p.total(scope));
    if now.is_zero() && before.is_none_or(|b| b.is_zero()) {
        return Err(nothing_in(scope, period));
    }

    let (title, what) = match scope {
        Scope::Category(_) => ("Category stats", "category"),
        Scope::Channel(_) | Scope::Guild => ("Channel stats", "channel"),
    };
    let mut embed = EmbedDraft::new(title)
        .description(format!("{} · {}", ScopeName(scope), period.label()))
        .field("Messages", format::number(now.messages), true)
        .field("Active members", format::number(to_i64(current.active_members(scope).len())), true)
        .field("Reactions received", format::number(now.reactions_received), true);
    if let (Some(before), Some(days)) = (before, period.days()) {
        let noun = if days == 1 { "day".to_owned() } else { format!("{days} days") };
        embed = embed.field(
            format!("Messages vs the previous {noun}"),
            format::trend(before.messages, now.messages),
            false,
        );
    }
    embed = embed.field(
        "Top members",
        ranked_lines(current.top_members(Metric::Messages, scope, TOP), format::user),
        false,
    );
    if let Scope::Category(_) = scope {
        embed = embed.field(
            format!("Top channels in this {what}"),
            ranked_lines(current.top_channels(Metric::Messages, scope, TOP), format::channel),
            false,
        );
    }
    Ok(Reply::embed(embed.footer(footer(period)).build()))
}

fn ranked_lines<K: Copy>(
    rows: Vec<(K, engagement_domain::Counts)>,
    mention: impl Fn(K) -> String,
) -> String {
    let mut text = String::new();
    for (i, (key, counts)) in rows.into_iter().enumerate() {
        // Writing to a String cannot fail.
        let _ = writeln!(
            text,
            "{}. {} — {}",
            i + 1,
            mention(key),
            format::count(counts.messages, Metric::Messages)
        );
    }
    text.trim_end().to_owned()
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
