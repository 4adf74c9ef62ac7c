//! `/export`: every (day, channel, member) counter of a period as a CSV attachment — gzip-compressed when
//! the plain file would not fit in one Discord attachment (a busy server's year is over 10 MB of CSV and
//! about a tenth of that compressed).

use std::io::Write as _;
use std::ops::ControlFlow;

use engagement_domain::{
    ChannelId, CounterReader, Counts, DailyTallies, Day, GuildId, HourlyCounts, Tally, UserId,
};
use flate2::Compression;
use flate2::write::GzEncoder;

use super::{AnswerError, DayRead, Reporter, nothing_counted};
use crate::format;
use crate::reply::{Reply, ReplyFile};
use crate::request::ReportRequest;
use crate::visibility::Shown;

/// The one schema of exported records, `/export`'s CSV and `engagement export` (CSV and JSON lines)
/// alike: one record per (day, channel, member). Ids are Discord snowflakes (strings in JSON: they exceed
/// 2^53); `category_id` is empty (JSON: null) for a channel outside any category; `day` is in the guild's
/// time zone.
pub const COLUMNS: [&str; 8] = [
    "guild_id",
    "day",
    "channel_id",
    "category_id",
    "member_id",
    "messages",
    "reactions_given",
    "reactions_received",
];

/// The CSV header line.
#[must_use]
pub fn header() -> String {
    format!("{}\n", COLUMNS.join(","))
}

/// One exported record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportRecord {
    /// The guild.
    pub guild: GuildId,
    /// The day.
    pub day: Day,
    /// The counting channel.
    pub channel: ChannelId,
    /// Its category, if any.
    pub category: Option<ChannelId>,
    /// The member.
    pub member: UserId,
    /// The counters.
    pub counts: Counts,
}

impl ExportRecord {
    /// Every record of one day's tally, in (channel, member) order.
    pub fn of_day(guild: GuildId, day: Day, tally: &Tally) -> impl Iterator<Item = Self> + '_ {
        tally.counters.iter().map(move |(&(channel, member), &counts)| Self {
            guild,
            day,
            channel,
            category: tally.category_of(channel),
            member,
            counts,
        })
    }

    /// The record as a CSV line (with its newline), in [`COLUMNS`] order.
    #[must_use]
    pub fn csv_line(&self) -> String {
        let category = self.category.map(|c| c.to_string()).unwrap_or_default();
        let c = self.counts;
        format!(
            "{},{},{},{category},{},{},{},{}\n",
            self.guild,
            self.day,
            self.channel,
            self.member,
            c.messages,
            c.reactions_given,
            c.reactions_received
        )
    }

    /// The record as one JSON object with [`COLUMNS`] as keys.
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "guild_id": self.guild.to_string(),
            "day": self.day.to_string(),
            "channel_id": self.channel.to_string(),
            "category_id": self.category.map(|c| c.to_string()),
            "member_id": self.member.to_string(),
            "messages": self.counts.messages,
            "reactions_given": self.counts.reactions_given,
            "reactions_received": self.counts.reactions_received,
        })
    }
}

/// The schema of hourly records (`engagement export --by hour`): one per (day, local hour, channel) with
/// messages; `hour` is the guild's local clock hour, 0–23.
pub const HOUR_COLUMNS: [&str; 5] = ["guild_id", "day", "hour", "channel_id", "messages"];

/// One hourly record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HourRecord {
    /// The guild.
    pub guild: GuildId,
    /// The day.
    pub day: Day,
    /// The local clock hour, 0–23.
    pub hour: u8,
    /// The counting channel.
    pub channel: ChannelId,
    /// Messages counted.
    pub messages: i64,
}

impl HourRecord {
    /// Every record of a range's hourly counts, in (day, hour, channel) order.
    pub fn of(guild: GuildId, hours: &HourlyCounts) -> impl Iterator<Item = Self> + '_ {
        hours.messages.iter().map(move |(&(day, hour, channel), &messages)| Self {
            guild,
            day,
            hour,
            channel,
            messages,
        })
    }

    /// The CSV header line.
    #[must_use]
    pub fn header() -> String {
        format!("{}\n", HOUR_COLUMNS.join(","))
    }

    /// The record as a CSV line (with its newline), in [`HOUR_COLUMNS`] order.
    #[must_use]
    pub fn csv_line(&self) -> String {
        format!("{},{},{},{},{}\n", self.guild, self.day, self.hour, self.channel, self.messages)
    }

    /// The record as one JSON object with [`HOUR_COLUMNS`] as keys (ids as strings).
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "guild_id": self.guild.to_string(),
            "day": self.day.to_string(),
            "hour": self.hour,
            "channel_id": self.channel.to_string(),
            "messages": self.messages,
        })
    }
}

/// The export would not fit in one Discord attachment, even compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the export is over {limit} bytes, even compressed")]
pub struct TooLarge {
    /// The attachment limit.
    pub limit: u64,
}

/// An export file.
#[derive(Clone, PartialEq, Eq)]
pub enum ExportFile {
    /// Plain CSV.
    Csv(Vec<u8>),
    /// The CSV, gzip-compressed (it did not fit plain).
    Gzip(Vec<u8>),
}

impl std::fmt::Debug for ExportFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Csv(data) => write!(f, "Csv({} bytes)", data.len()),
            Self::Gzip(data) => write!(f, "Gzip({} bytes)", data.len()),
        }
    }
}

/// The CSV of `days`, one row per (day, channel, member), sorted: plain when it fits in `limit` bytes,
/// else gzip-compressed. Gives up as soon as even the compressed file grows past `limit`, so a huge
/// export never sits in memory whole.
///
/// # Errors
/// [`TooLarge`].
pub fn csv(guild: GuildId, days: &DailyTallies, limit: u64) -> Result<ExportFile, TooLarge> {
    let mut file = CsvFile::new(guild, limit)?;
    for (day, tally) in &days.days {
        file.push_day(*day, tally)?;
    }
    file.finish()
}

/// An export being written day by day: plain CSV while it fits the limit, and gzip alongside.
struct CsvFile {
    guild: GuildId,
    limit: usize,
    plain: Option<String>,
    gzip: GzEncoder<Vec<u8>>,
    rows: usize,
}

impl CsvFile {
    fn new(guild: GuildId, limit: u64) -> Result<Self, TooLarge> {
        let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
        gzip.write_all(header().as_bytes()).map_err(|_| TooLarge { limit })?;
        Ok(Self {
            guild,
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            plain: Some(header()),
            gzip,
            rows: 0,
        })
    }

    fn too_large(&self) -> TooLarge {
        TooLarge { limit: u64::try_from(self.limit).unwrap_or(u64::MAX) }
    }

    /// Appends one day's rows; days must come in order.
    fn push_day(&mut self, day: Day, tally: &Tally) -> Result<(), TooLarge> {
        for record in ExportRecord::of_day(self.guild, day, tally) {
            let line = record.csv_line();
            self.gzip.write_all(line.as_bytes()).map_err(|_| self.too_large())?;
            if self.gzip.get_ref().len() > self.limit {
                return Err(self.too_large());
            }
            if let Some(text) = &mut self.plain {
                if text.len() + line.len() <= self.limit {
                    text.push_str(&line);
                } else {
                    self.plain = None; // from here on, only the compressed file can fit
                }
            }
            self.rows += 1;
        }
        Ok(())
    }

    fn finish(self) -> Result<ExportFile, TooLarge> {
        let too_large = self.too_large();
        if let Some(text) = self.plain {
            return Ok(ExportFile::Csv(text.into_bytes()));
        }
        let compressed = self.gzip.finish().map_err(|_| too_large)?;
        if compressed.len() > self.limit {
            Err(too_large)
        } else {
            Ok(ExportFile::Gzip(compressed))
        }
    }
}

fn too_big(e: TooLarge) -> AnswerError {
    AnswerError::user(format!(
        "That export is too big for one Discord attachment ({} MB at most here), even compressed: \
         choose a shorter period, or run `engagement export` from the command line.",
        e.limit / 1_000_000
    ))
}

pub(super) async fn answer(
    reporter: &Reporter<impl CounterReader>,
    request: &ReportRequest,
    shown: &Shown,
) -> Result<Reply, AnswerError> {
    let period = &request.period;
    // Written day by day as the days are read; stops reading once even the compressed file is too big.
    let mut file = CsvFile::new(request.guild, request.attachment_limit).map_err(too_big)?;
    let mut outcome = Ok(());
    let range = reporter
        .each_day(request.guild, (period, DayRead::Summaries), shown, |day, tally| {
            outcome = file.push_day(day, &tally);
            if outcome.is_ok() { ControlFlow::Continue(()) } else { ControlFlow::Break(()) }
        })
        .await?;
    outcome.map_err(too_big)?;
    let Some(range) = range else { return Err(nothing_counted(period)) };
    let rows = file.rows;
    let file = file.finish().map_err(too_big)?;
    let name = format!("engagement-{}-{}-{}.csv", request.guild, range.first, range.last);
    let mut text = format!(
        "Export of {} rows (one per day, channel and member), {}, days in {}. Excluded channels and \
         members who opted out are left out.",
        format::number(i64::try_from(rows).unwrap_or(i64::MAX)),
        range,
        period.time_zone
    );
    let file = match file {
        ExportFile::Csv(data) => {
            ReplyFile { filename: name, content_type: "text/csv".to_owned(), data }
        }
        ExportFile::Gzip(data) => {
            text.push_str(" Compressed with gzip to fit Discord's attachment limit.");
            ReplyFile {
                filename: format!("{name}.gz"),
                content_type: "application/gzip".to_owned(),
                data,
            }
        }
    };
    let mut reply = Reply::text(text);
    reply.files.push(file);
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use engagement_domain::DayRange;

    use super::*;

    fn day(s: &str) -> Day {
        s.parse().unwrap_or(Day::from_ordinal(0))
    }

    fn sample(rows_per_day: u64) -> DailyTallies {
        let range = DayRange { first: day("2025-11-01"), last: day("2025-11-02") };
        let mut days = DailyTallies::empty(range);
        for member in 0..rows_per_day {
            days.add(day("2025-11-02"), ChannelId(5), UserId(1_000 + member), Counts::messages(2));
        }
        days.add(
            day("2025-11-01"),
            ChannelId(5),
            UserId(8),
            Counts { messages: 1, reactions_given: 2, reactions_received: 3 },
        );
        days.set_category(ChannelId(5), Some(ChannelId(50)));
        days
    }

    #[test]
    fn rows_are_sorted_with_categories() {
        let file = csv(GuildId(9), &sample(1), 1_000);
        assert_eq!(
            file,
            Ok(ExportFile::Csv(
                format!("{}9,2025-11-01,5,50,8,1,2,3\n9,2025-11-02,5,50,1000,2,0,0\n", header())
                    .into_bytes()
            ))
        );
        assert_eq!(
            header(),
            "guild_id,day,channel_id,category_id,member_id,messages,reactions_given,reactions_received\n"
        );
    }

    #[test]
    fn an_export_over_the_limit_is_compressed_and_one_that_still_does_not_fit_is_refused()
    -> std::io::Result<()> {
        let days = sample(2_000);
        let Ok(ExportFile::Csv(plain)) = csv(GuildId(9), &days, 10_000_000) else {
            panic!("a 2,000-row export fits 10 MB plain");
        };
        let Ok(ExportFile::Gzip(compressed)) = csv(GuildId(9), &days, 20_000) else {
            panic!("compressed it fits 20 kB");
        };
        assert!(
            plain.len() > 20_000 && compressed.len() <= 20_000,
            "{} {}",
            plain.len(),
            compressed.len()
        );
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(compressed.as_slice()).read_to_end(&mut unpacked)?;
        assert_eq!(unpacked, plain);
        assert_eq!(csv(GuildId(9), &days, 500), Err(TooLarge { limit: 500 }));
        Ok(())
    }
}
