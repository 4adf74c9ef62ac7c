//! `engagement sign-event FILE... [--timestamp N] [--wrong-key] [--out-dir DIR]`: re-signs Lambda function
//! URL events from their bodies, as Discord would sign them, with the DEVELOPMENT-ONLY key.
//!
//! Edit an event's `body`, then run this to make its `x-signature-ed25519` / `x-signature-timestamp`
//! headers match again. Tests run the handler with a clock equal to the event's timestamp, so any fixed
//! timestamp works for files in `events/`; a request sent to a running function needs a current one (the
//! default).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use engagement_testkit::{events, signing};

/// Arguments of `engagement sign-event`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Event files (function URL payload format 2.0) to sign.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Unix time in seconds to sign at (default: now).
    #[arg(long, value_name = "N")]
    timestamp: Option<u64>,
    /// Sign with a different key, so the signature is well-formed but fails verification.
    #[arg(long)]
    wrong_key: bool,
    /// Write the signed events into this directory (same file names) instead of in place.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

/// Signs every file; prints one line per file written.
///
/// # Errors
/// When a file cannot be read, parsed or written.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let timestamp = match args.timestamp {
        Some(timestamp) => timestamp,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("system clock before 1970")?
            .as_secs(),
    };
    let key =
        if args.wrong_key { signing::wrong_signing_key() } else { signing::dev_signing_key() };
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    for file in &args.files {
        let target = match &args.out_dir {
            Some(dir) => dir.join(
                file.file_name().with_context(|| format!("{} is not a file", file.display()))?,
            ),
            None => file.clone(),
        };
        sign_file(file, &target, &key, timestamp)?;
        println!(
            "signed {} at {timestamp}{}",
            target.display(),
            if args.wrong_key { " (wrong key)" } else { "" }
        );
    }
    Ok(())
}

fn sign_file(
    source: &Path,
    target: &Path,
    key: &ed25519_dalek::SigningKey,
    timestamp: u64,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(source).with_context(|| format!("reading {}", source.display()))?;
    let mut event: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", source.display()))?;
    events::sign_event(&mut event, key, timestamp)
        .with_context(|| format!("signing {}", source.display()))?;
    std::fs::write(target, events::to_file_text(&event)?)
        .with_context(|| format!("writing {}", target.display()))
}
