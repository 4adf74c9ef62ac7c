//! `engagement backfill`: counts a guild's older history, resumably.

use std::time::Duration;

use engagement_domain::{Day, GuildId};

/// Arguments of `engagement backfill`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The guild (server) id.
    #[arg(long)]
    pub guild: GuildId,
    /// First day to count, YYYY-MM-DD in the guild's time zone.
    #[arg(long)]
    pub since: Day,
    /// Stop after this many seconds; run again to continue (default: `SYNC_TIME_BUDGET_SECONDS`, else 270).
    #[arg(long)]
    pub budget_seconds: Option<u64>,
}

/// Runs `engagement backfill` and prints the run summary as JSON. Running it again continues where it
/// stopped; nothing the forward sync counted is counted again.
///
/// # Errors
/// When configuration is missing or the run fails.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let syncer = super::sync::syncer().await?;
    let budget = args.budget_seconds.map_or(syncer.settings.time_budget, Duration::from_secs);
    let summary = syncer.backfill(args.guild, args.since, budget).await?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    if summary.budget_exhausted {
        eprintln!("the time budget ran out: run the same command again to continue");
    }
    Ok(())
}
