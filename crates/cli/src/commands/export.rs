//! `engagement export`: not implemented yet.

/// Arguments of `engagement export`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `engagement export`.
///
/// # Errors
/// Always, until it is implemented.
pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`engagement export` is not implemented yet")
}
