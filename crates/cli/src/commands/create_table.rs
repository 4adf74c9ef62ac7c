//! `engagement create-table`: not implemented yet.

/// Arguments of `engagement create-table`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `engagement create-table`.
///
/// # Errors
/// Always, until it is implemented.
pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`engagement create-table` is not implemented yet")
}
