//! `engagement export`: prints one record per (day, channel, member) with its counters, in the one export
//! schema `/export` uses too ([`export::COLUMNS`]); with `--by hour`, one per (day, local hour, channel)
//! with its messages ([`export::HOUR_COLUMNS`]).

use std::io::Write as _;
use std::ops::ControlFlow;

use anyhow::Context as _;
use engagement_commands::report::export::{self, ExportRecord, HourRecord};
use engagement_domain::{Day, DayRange, GuildId};
use engagement_startup::Env;

/// Output formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header line.
    #[default]
    Csv,
    /// One JSON object per line (ids as strings: they exceed 2^53).
    Jsonl,
}

/// What one record is about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    /// One record per (day, channel, member): messages and reactions.
    #[default]
    Day,
    /// One record per (day, local hour, channel) with messages: no member.
    Hour,
}

/// Arguments of `engagement export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The guild (server) id.
    #[arg(long)]
    pub guild: GuildId,
    /// First day, YYYY-MM-DD (default: the first day there can be data).
    #[arg(long, default_value = "2015-01-01")]
    pub from: Day,
    /// Last day, YYYY-MM-DD (default: tomorrow in UTC, so every time zone's today is in).
    #[arg(long)]
    pub to: Option<Day>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// Records per (day, channel, member), or per (day, local hour, channel).
    #[arg(long, value_enum, default_value_t = By::Day)]
    pub by: By,
}

/// Runs `engagement export`.
///
/// # Errors
/// When the range is reversed, configuration is missing or DynamoDB fails.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let to = args.to.unwrap_or_else(|| {
        Day::of(chrono::Utc::now(), engagement_domain::GuildTimeZone::UTC).next()
    });
    let range = DayRange::new(args.from, to)
        .with_context(|| format!("--from {} is after --to {to}", args.from))?;
    let store = super::store(&Env::process()).await?;
    if args.by == By::Hour {
        let hours = store.load_hours(args.guild, range).await?;
        let mut out = std::io::BufWriter::new(std::io::stdout());
        if args.format == Format::Csv {
            write!(out, "{}", HourRecord::header())?;
        }
        for record in HourRecord::of(args.guild, &hours) {
            match args.format {
                Format::Csv => write!(out, "{}", record.csv_line())?,
                Format::Jsonl => writeln!(out, "{}", record.json())?,
            }
        }
        out.flush()?;
        return Ok(());
    }
    // Printed day by day as the days are read: a long export never sits in memory whole.
    let mut out = std::io::BufWriter::new(std::io::stdout());
    if args.format == Format::Csv {
        write!(out, "{}", export::header())?;
    }
    let mut written = Ok(());
    store
        .scan_days(args.guild, range, |day, tally| {
            written = ExportRecord::of_day(args.guild, day, &tally)
                .try_for_each(|record| write_record(&mut out, args.format, &record));
            if written.is_ok() { ControlFlow::Continue(()) } else { ControlFlow::Break(()) }
        })
        .await?;
    written.context("writing the export to standard output")?;
    out.flush()?;
    Ok(())
}

fn write_record(
    out: &mut impl std::io::Write,
    format: Format,
    record: &ExportRecord,
) -> std::io::Result<()> {
    match format {
        Format::Csv => write!(out, "{}", record.csv_line()),
        Format::Jsonl => writeln!(out, "{}", record.json()),
    }
}
