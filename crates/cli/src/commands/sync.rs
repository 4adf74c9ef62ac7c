//! `engagement sync`: not implemented yet.

/// Arguments of `engagement sync`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `engagement sync`.
///
/// # Errors
/// Always, until it is implemented.
pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`engagement sync` is not implemented yet")
}
