//! `/leaderboard`: top members, channels or categories by one counter.

use std::fmt::Write as _;

use engagement_domain::{CounterReader, Metric, Scope};

use super::{AnswerError, Reporter, ensure_counted, footer};
use crate::format;
use crate::reply::{EmbedDraft, Reply};
use crate::request::{Ranked, ReportRequest, ScopeName};
use crate::visibility::Shown;

/// Rows shown.
pub const ROWS: usize = 10;

/// Refuses combinations of `what` and `channel` that mean nothing.
///
/// # Errors
/// [`AnswerError::User`] with what to do instead.
pub fn check_scope(ranked: Ranked, scope: Scope) -> Result<(), AnswerError> {
    match (ranked, scope) {
        (Ranked::Categories, Scope::Channel(_) | Scope::Category(_)) => Err(AnswerError::user(
            "A categories leaderboard covers the whole server: leave out `channel`.",
        )),
        (Ranked::Channels, Scope::Channel(_)) => Err(AnswerError::user(
            "A channels leaderboard needs a category (or no `channel`) to rank the channels of.",
        )),
        _ => Ok(()),
    }
}

pub(super) async fn answer(
    reporter: &Reporter<impl CounterReader>,
    request: &ReportRequest,
    ranked: Ranked,
    metric: Metric,
    scope: Scope,
    shown: &Shown,
) -> Result<Reply, AnswerError> {
    check_scope(ranked, scope)?;
    let period = &request.period;
    let tally = reporter.totals(request.guild, period, shown, None).await?;
    ensure_counted(tally.is_empty(), period)?;
    let (rows, counted): (Vec<(String, i64)>, usize) = match ranked {
        Ranked::Members => (
            tally
                .top_members(metric, scope, ROWS)
                .into_iter()
                .map(|(u, c)| (format::user(u), c.get(metric)))
                .collect(),
            tally.by_member(scope).values().filter(|c| c.get(metric) > 0).count(),
        ),
        Ranked::Channels => (
            tally
                .top_channels(metric, scope, ROWS)
                .into_iter()
                .map(|(ch, c)| (format::channel(ch), c.get(metric)))
                .collect(),
            tally.by_channel(scope, None).values().filter(|c| c.get(metric) > 0).count(),
        ),
        Ranked::Categories => (
            tally
                .top_categories(metric, ROWS)
                .into_iter()
                .map(|(ch, c)| (format::channel(ch), c.get(metric)))
                .collect(),
            tally.by_category().iter().filter(|(k, c)| k.is_some() && c.get(metric) > 0).count(),
        ),
    };
    if rows.is_empty() {
        return Err(AnswerError::user(format!(
            "No {} counted in {} {}.",
            metric.label().to_lowercase(),
            ScopeName(scope),
            period.phrase()
        )));
    }
    let mut text = format!("{} · {}\n", ScopeName(scope), period.label());
    for (i, (who, value)) in rows.iter().enumerate() {
        // Writing to a String cannot fail.
        let _ = write!(text, "\n**{}.** {who} — {}", i + 1, format::count(*value, metric));
    }
    let embed =
        EmbedDraft::new(format!("Top {} by {}", ranked.noun(), metric.label().to_lowercase()))
            .description(text)
            .footer(format!("{} {} ranked · {}", counted, ranked.noun(), footer(period)))
            .build();
    Ok(Reply::embed(embed))
}
