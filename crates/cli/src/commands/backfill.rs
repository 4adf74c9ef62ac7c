//! `engagement backfill`: not implemented yet.

/// Arguments of `engagement backfill`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `engagement backfill`.
///
/// # Errors
/// Always, until it is implemented.
pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`engagement backfill` is not implemented yet")
}
