//! `engagement insights`: one record per day of a range with the day's DAU, WAU, MAU, new and returning
//! members and messages (`INSIGHTS_COLUMNS`), computed by the code behind `/insights`.
//!
//! Like `engagement export`, it reads everything counted (the operator's view): no audience, no
//! channel or member left out.

use std::io::Write as _;

use anyhow::Context as _;
use engagement_commands::report::insights::{self, InsightsRecord};
use engagement_domain::{Day, DayRange, GuildId, Scope};
use engagement_startup::Env;

use super::export::Format;

/// Arguments of `engagement insights`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The guild (server) id.
    #[arg(long)]
    pub guild: GuildId,
    /// First day, YYYY-MM-DD (default: 29 days before --to).
    #[arg(long)]
    pub from: Option<Day>,
    /// Last day, YYYY-MM-DD (default: today in UTC).
    #[arg(long)]
    pub to: Option<Day>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
}

/// Runs `engagement insights`.
///
/// # Errors
/// When the range is reversed, configuration is missing or DynamoDB fails.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let to = args
        .to
        .unwrap_or_else(|| Day::of(chrono::Utc::now(), engagement_domain::GuildTimeZone::UTC));
    let from = args.from.unwrap_or(to.plus(-29));
    let range =
        DayRange::new(from, to).with_context(|| format!("--from {from} is after --to {to}"))?;
    let store = super::store(&Env::process()).await?;
    let participation =
        insights::participation(&store, args.guild, (Some(range), to), Scope::Guild, |_, _| true)
            .await?
            .map(|(_, participation)| participation)
            .unwrap_or_default();
    let mut out = std::io::BufWriter::new(std::io::stdout());
    if args.format == Format::Csv {
        write!(out, "{}", InsightsRecord::header())?;
    }
    for figures in participation.daily_figures(range) {
        let record = InsightsRecord { guild: args.guild, figures };
        match args.format {
            Format::Csv => write!(out, "{}", record.csv_line())?,
            Format::Jsonl => writeln!(out, "{}", record.json())?,
        }
    }
    out.flush()?;
    Ok(())
}
