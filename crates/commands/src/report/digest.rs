//! The digest post (`/engagement-config digest`): a server's day or week in one embed with a chart —
//! messages and active members against the period before, the busiest channels, the top members, new
//! members and the busiest hours. Posted in a channel for everyone to read, it is built for the public
//! audience: only channels `@everyone` can view, without members who opted out.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use engagement_domain::{
    ChannelId, CounterReader, Day, DigestSchedule, Frequency, GuildId, GuildTimeZone, Metric,
    Period, Scope, Tally, UserId,
};

use super::activity::{DayActivity, busiest_hours_text, hours_of};
use super::insights::counted;
use super::{AnswerError, DayRead, Drawing, Reporter, with_chart};
use crate::format;
use crate::reply::{EmbedDraft, Reply};
use crate::request::{Report, ReportPeriod, ReportRequest};
use crate::visibility::Shown;

/// Channels and members a digest names.
pub const DIGEST_TOP: usize = 5;

/// Discord's attachment limit without boosts: what a posted digest's chart must fit (it is ~30 KB).
const ATTACHMENT_LIMIT: u64 = 10 * 1024 * 1024;

/// The request that builds the digest due on `due` under `schedule`, at `now` in `zone` (`viewer`: who
/// asked for a preview, or the bot for a post).
#[must_use]
pub fn request(
    guild: GuildId,
    viewer: UserId,
    schedule: &DigestSchedule,
    due: Day,
    zone: GuildTimeZone,
    now: DateTime<Utc>,
) -> ReportRequest {
    let range = schedule.period(due);
    ReportRequest {
        guild,
        viewer,
        report: Report::Digest { frequency: schedule.frequency },
        period: ReportPeriod {
            period: Period::Dates(range),
            range: Some(range),
            time_zone: zone,
            today: zone.today(now),
            now_ms: u64::try_from(now.timestamp_millis()).unwrap_or(0),
        },
        attachment_limit: ATTACHMENT_LIMIT,
    }
}

pub(super) async fn digest(
    reporter: &Reporter<impl CounterReader>,
    request: &ReportRequest,
    frequency: Frequency,
    shown: &Shown,
) -> Result<Reply, AnswerError> {
    let period = &request.period;
    let Some(range) = period.range else {
        return Err(AnswerError::user("A digest covers a day or a week, not all time."));
    };
    let mut per_day: BTreeMap<Day, (i64, usize)> = BTreeMap::new();
    let mut daily: BTreeMap<(Day, ChannelId), i64> = BTreeMap::new();
    let mut now = Tally::new();
    reporter
        .each_day(request.guild, (period, DayRead::Summaries), shown, |day, tally| {
            per_day.insert(
                day,
                (tally.total(Scope::Guild).messages, tally.active_members(Scope::Guild).len()),
            );
            for (channel, counts) in tally.by_channel(Scope::Guild, None) {
                if counts.messages > 0 {
                    daily.insert((day, channel), counts.messages);
                }
            }
            now.merge(&tally);
            ControlFlow::Continue(())
        })
        .await?;
    let before = match period.previous() {
        Some(previous) => reporter.range_totals(request.guild, previous, shown, None).await?,
        None => Tally::new(),
    };
    // New members: first counted in the period, in what the audience may see (their first day is
    // their first in those channels, as in `/insights`).
    let first_seen =
        reporter.reader.load_first_seen(request.guild).await.map_err(AnswerError::read)?;
    let mut first_day: BTreeMap<UserId, Day> = BTreeMap::new();
    for (&(member, channel), &day) in &first_seen {
        if counted(shown, channel, member) {
            let first = first_day.entry(member).or_insert(day);
            *first = (*first).min(day);
        }
    }
    let new_members = first_day.values().filter(|day| range.contains(**day)).count();
    let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let messages = (before.total(Scope::Guild).messages, now.total(Scope::Guild).messages);
    let active = (
        as_i64(before.active_members(Scope::Guild).len()),
        as_i64(now.active_members(Scope::Guild).len()),
    );
    let (title, than) = match frequency {
        Frequency::Daily => ("Daily digest", "the day before"),
        Frequency::Weekly => ("Weekly digest", "the week before"),
    };
    let mut draft = EmbedDraft::new(title)
        .description(format!("The server, {range}"))
        .field(
            "Messages",
            format!(
                "**{}** · {} vs {than}",
                format::number(messages.1),
                format::trend(messages.0, messages.1)
            ),
            false,
        )
        .field(
            "Active members",
            format!(
                "**{}** · {} vs {than}",
                format::number(active.1),
                format::trend(active.0, active.1)
            ),
            false,
        )
        .field("New members", format::number(as_i64(new_members)), true);
    let channels: Vec<String> = now
        .top_channels(Metric::Messages, Scope::Guild, DIGEST_TOP)
        .into_iter()
        .filter(|(_, c)| c.messages > 0)
        .map(|(channel, c)| {
            format!(
                "{} — {}",
                format::channel(channel),
                format::count(c.messages, Metric::Messages)
            )
        })
        .collect();
    let members: Vec<String> = now
        .top_members(Metric::Messages, Scope::Guild, DIGEST_TOP)
        .into_iter()
        .filter(|(_, c)| c.messages > 0)
        .map(|(member, c)| {
            format!("{} — {}", format::user(member), format::count(c.messages, Metric::Messages))
        })
        .collect();
    draft = draft.field("Busiest channels", nothing_or(&channels), false).field(
        "Top members",
        nothing_or(&members),
        false,
    );
    // Hours only where they hold nobody hidden (as in the heatmap); a quiet period has none.
    let hours = hours_of(reporter, request.guild, range, &daily).await?;
    if hours.total > 0 {
        draft = draft.field("Busiest hours", busiest_hours_text(&hours.grid), false);
    }
    draft = draft.footer(format!(
        "Days and hours in {} · members who opted out are left out",
        period.time_zone
    ));
    let series: Vec<DayActivity> = range
        .days()
        .map(|day| {
            let (messages, active_members) = per_day.get(&day).copied().unwrap_or((0, 0));
            DayActivity { day, messages, active_members }
        })
        .collect();
    with_chart(draft, &format!("{title}, {range}"), Drawing::Daily(&series))
}

fn nothing_or(lines: &[String]) -> String {
    if lines.is_empty() { "nothing counted".to_owned() } else { lines.join("\n") }
}
