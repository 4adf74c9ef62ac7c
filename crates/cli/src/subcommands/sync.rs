//! `engagement sync`: one sync run, the same code as the `sync` Lambda function.

use std::time::Duration;

use engagement_startup::Env;
use sync::{SyncSettings, Syncer};

/// Arguments of `engagement sync`. Configuration comes from the environment, as for the function:
/// `DISCORD_BOT_TOKEN`, `DISCORD_API_BASE`, `TABLE_NAME`, `DEFAULT_TIME_ZONE`, `SYNC_*`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stop taking new work after this many seconds (default: `SYNC_TIME_BUDGET_SECONDS`, else 270).
    #[arg(long)]
    pub budget_seconds: Option<u64>,
}

/// Builds the syncer from the environment.
pub(crate) async fn syncer() -> anyhow::Result<Syncer> {
    let env = Env::process();
    let settings = SyncSettings::from_env(&env)?;
    Ok(Syncer { store: super::store(&env).await?, discord: super::discord(&env)?, settings })
}

/// Runs `engagement sync` and prints the run summary as JSON.
///
/// # Errors
/// When configuration is missing or the run fails (what was committed stays counted).
pub async fn run(args: Args) -> anyhow::Result<()> {
    let syncer = syncer().await?;
    let budget = args.budget_seconds.map_or(syncer.settings.time_budget, Duration::from_secs);
    let summary = syncer.sync_all(budget).await?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
