//! Insights: DAU/WAU/MAU, new and returning members per day (`engagement insights`, `/insights growth`)
//! and weekly retention (`/insights retention`), from each day's activity and the members' first days.

use std::ops::ControlFlow;

use engagement_domain::insights::MAU_WINDOW;
use engagement_domain::{
    ChannelId, CounterReader, DayFigures, DayRange, GuildId, Participation, Scope, UserId,
};

/// The columns of `engagement insights`: one record per day of the range.
pub const INSIGHTS_COLUMNS: [&str; 8] =
    ["guild_id", "day", "dau", "wau", "mau", "new_members", "returning_members", "messages"];

/// Reads what the figures of `range` need — each day's activity from 29 days before it (for MAU), and
/// every member's first days — keeping the (channel, member) pairs `counted` keeps, in `scope`.
///
/// # Errors
/// The reader's.
pub async fn participation<R: CounterReader>(
    reader: &R,
    guild: GuildId,
    range: DayRange,
    scope: Scope,
    counted: impl Fn(ChannelId, UserId) -> bool + Send + Sync,
) -> Result<Participation, R::Error> {
    let mut out = Participation::default();
    let read = DayRange { first: range.first.plus(1 - MAU_WINDOW), last: range.last };
    reader
        .scan_activity(guild, read, |day, tally| {
            out.add_day(day, &tally, scope, &counted);
            ControlFlow::Continue(())
        })
        .await?;
    let first_seen = reader.load_first_seen(guild).await?;
    out.add_first_seen(&first_seen, scope, &counted);
    Ok(out)
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
