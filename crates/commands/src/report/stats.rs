//! `/stats`: one member's messages, reactions, active days and top channels. (Ranks are `/leaderboard`'s:
//! a rank needs every member's counters, and `/stats` reads only the member's.)

use std::fmt::Write as _;

use engagement_domain::{ChannelId, CounterReader, Counts, Metric, Scope, Tally, UserId};

use super::{AnswerError, Reporter, ensure_counted, footer};
use crate::format;
use crate::reply::{EmbedDraft, Reply};
use crate::request::ReportRequest;
use crate::visibility::{self, Shown};

/// How many of the member's channels are listed.
const TOP_CHANNELS: usize = 3;

/// The longest period, in days, for which "Active days" is shown (it needs every day's counters): the
/// periods answered at once, so the endpoint never reads more days than that.
const ACTIVE_DAYS_UP_TO: u32 = crate::request::QUICK_MAX_DAYS;

pub(super) async fn answer(
    reporter: &Reporter<impl CounterReader>,
    request: &ReportRequest,
    member: UserId,
    shown: &Shown,
) -> Result<Reply, AnswerError> {
    let own = member == request.viewer;
    let opted_out = shown.config.opted_out.contains(&member);
    if opted_out && !own {
        return Err(AnswerError::user(format!(
            "{} opted out of engagement statistics in this server.",
            format::user(member)
        )));
    }
    let period = &request.period;
    // Up to a month, day by day, reading only the member's share of each day (the store reads the one
    // summary shard that holds them): active days come with it. Longer periods and all time read month
    // and all-time summaries: a busy server's year of day summaries is ~170 MB, its months a few MB.
    let (tally, active_days) = match period.range {
        Some(range) if range.len() <= ACTIVE_DAYS_UP_TO => {
            let days = reporter
                .reader
                .member_days(request.guild, member, range)
                .await
                .map_err(AnswerError::read)?;
            let (mut total, mut active) = (Tally::new(), 0);
            for mut day in days.days.into_values() {
                visibility::hide(&mut day, shown, Some(member));
                if day.member_total(member, Scope::Guild).messages > 0 {
                    active += 1;
                }
                total.merge(&day);
            }
            (total, Some((active, range.len())))
        }
        _ => {
            let tally = reporter.totals(request.guild, period, shown, Some(member)).await?;
            ensure_counted(tally.is_empty(), period)?;
            (tally, None)
        }
    };
    // One answer whether the server counted nothing or only what the asker may not see: which of the two
    // is not theirs to learn.
    if !tally.counters.keys().any(|(_, user)| *user == member) {
        return Err(AnswerError::user(format!(
            "Nothing was counted for {} {}.",
            format::user(member),
            period.phrase()
        )));
    }

    let counts = tally.member_total(member, Scope::Guild);
    let mut channels: Vec<(ChannelId, Counts)> = tally
        .by_channel(Scope::Guild, Some(member))
        .into_iter()
        .filter(|(_, c)| c.messages > 0)
        .collect();
    channels.sort_by(|a, b| b.1.messages.cmp(&a.1.messages).then(a.0.cmp(&b.0)));
    let mut top = String::new();
    for (channel, c) in channels.iter().take(TOP_CHANNELS) {
        // Writing to a String cannot fail.
        let _ = writeln!(
            top,
            "{} — {}",
            format::channel(*channel),
            format::count(c.messages, Metric::Messages)
        );
    }

    let mut description = format!("{} · {}", format::user(member), period.label());
    if own && opted_out {
        description.push_str(
            "\n\nYou opted out: nothing new is counted for you and you are left out of leaderboards. \
             `/engagement privacy erase` deletes what was counted before.",
        );
    }
    let mut embed = EmbedDraft::new("Member stats")
        .description(description)
        .field("Messages", format::number(counts.messages), true)
        .field("Reactions given", format::number(counts.reactions_given), true)
        .field("Reactions received", format::number(counts.reactions_received), true);
    if let Some((active, of)) = active_days {
        embed = embed.field("Active days", format!("{active} of {of}"), true);
    }
    let embed = embed.field("Top channels", top.trim_end(), false).footer(footer(period));
    Ok(Reply::embed(embed.build()))
}
