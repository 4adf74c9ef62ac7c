//! `engagement register-commands`: not implemented yet.

/// Arguments of `engagement register-commands`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `engagement register-commands`.
///
/// # Errors
/// Always, until it is implemented.
pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`engagement register-commands` is not implemented yet")
}
