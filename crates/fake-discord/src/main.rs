//! `fake-discord`: serves a synthetic Discord for the local demo.
//!
//! ```text
//! fake-discord --port 8089 --seed 7 --size medium --token demo-token --truth-file truth.jsonl --truth-tz Europe/Paris
//! export DISCORD_API_BASE=http://127.0.0.1:8089/api/v10 DISCORD_BOT_TOKEN=demo-token
//! ```
//!
//! The ground truth is written at start and again on Ctrl-C (after any changes made through `/_fake/...`).
//!
//! It is also Discord's OAuth2 provider for a web login: it prints the client id and secret, the authorize
//! URL (where the browser goes) and the token URL; `--redirect-uri` registers the redirect URIs it accepts.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Parser;
use fake_discord::{
    FakeConfig, FakeDiscord, Faults, RateLimits, TruthOptions, WorldKnobs, WorldSize,
    write_json_lines,
};

/// A fake Discord REST API with a deterministic synthetic world.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8089, env = "FAKE_DISCORD_PORT")]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Seed of the world.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// World size: small, medium or large.
    #[arg(long, default_value = "small")]
    size: WorldSize,
    /// Custom world knobs as JSON (overrides --size), e.g. '{"guilds":1,...}'.
    #[arg(long)]
    knobs: Option<String>,
    /// Bot token to accept.
    #[arg(long, default_value = "fake-bot-token", env = "FAKE_DISCORD_TOKEN")]
    token: String,
    /// OAuth2 client secret to accept (the client id is the application id).
    #[arg(long, default_value = fake_discord::DEFAULT_CLIENT_SECRET, env = "FAKE_DISCORD_CLIENT_SECRET")]
    client_secret: String,
    /// An OAuth2 redirect URI to register (repeat for several); without any, every http(s) URI is accepted.
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// The world's "now" (RFC 3339); default 2026-11-15T12:00:00Z.
    #[arg(long)]
    now: Option<DateTime<Utc>>,
    /// Rate limits: realistic, fast or off.
    #[arg(long, default_value = "realistic")]
    limits: RateLimits,
    /// Added latency in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Random extra latency up to this many milliseconds.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Share of requests answered with a 5xx (0..1).
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Share of requests answered with a shared-scope 429 (0..1).
    #[arg(long, default_value_t = 0.0)]
    shared_429_rate: f64,
    /// Write the ground truth as JSON lines here (at start and on exit).
    #[arg(long)]
    truth_file: Option<PathBuf>,
    /// Write the hourly ground truth (messages per day, local hour and channel) as JSON lines here (at
    /// start and on exit).
    #[arg(long)]
    hourly_truth_file: Option<PathBuf>,
    /// Write the participation ground truth (DAU, WAU, MAU, new and returning members and messages per
    /// guild and day) as JSON lines here (at start and on exit).
    #[arg(long)]
    insights_truth_file: Option<PathBuf>,
    /// Time zone of the ground truth's days.
    #[arg(long, default_value = "UTC")]
    truth_tz: chrono_tz::Tz,
}

/// Writes the ground truth files asked for, and says so.
fn write_truths(fake: &FakeDiscord, args: &Args) -> anyhow::Result<()> {
    let options = TruthOptions { time_zone: args.truth_tz, ..TruthOptions::default() };
    if let Some(path) = &args.truth_file {
        let count = write_file(path, &fake.ground_truth(&options))?;
        println!("ground truth: {count} records written to {}", path.display());
    }
    if let Some(path) = &args.hourly_truth_file {
        let count = write_file(path, &fake.hourly_truth(&options))?;
        println!("hourly ground truth: {count} records written to {}", path.display());
    }
    if let Some(path) = &args.insights_truth_file {
        let count = write_file(path, &fake.insights_truth(&options))?;
        println!("insights ground truth: {count} records written to {}", path.display());
    }
    Ok(())
}

fn write_file<T: serde::Serialize>(path: &PathBuf, records: &[T]) -> anyhow::Result<usize> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    write_json_lines(records, std::io::BufWriter::new(file))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(records.len())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    engagement_startup::logging::init();
    let args = Args::parse();
    let size = match &args.knobs {
        Some(json) => WorldSize::Custom(
            serde_json::from_str::<WorldKnobs>(json)
                .context("--knobs is not valid WorldKnobs JSON")?,
        ),
        None => args.size.clone(),
    };
    let config = FakeConfig {
        seed: args.seed,
        size,
        now: args.now.unwrap_or_else(fake_discord::default_now),
        token: args.token.clone(),
        bind: SocketAddr::new(args.host, args.port),
        limits: args.limits.clone(),
        faults: Faults {
            latency: Duration::from_millis(args.latency_ms),
            latency_jitter: Duration::from_millis(args.jitter_ms),
            server_error_rate: args.error_rate,
            shared_rate_limit_rate: args.shared_429_rate,
            shared_retry_after: Duration::from_millis(500),
        },
        client_secret: args.client_secret.clone(),
        redirect_uris: args.redirect_uris.clone(),
    };
    let fake = FakeDiscord::start(config).await.context("cannot start the fake Discord")?;
    let (guilds, messages) = fake.with_world(|w| (w.guilds.len(), w.message_count()));
    println!("fake Discord listening: DISCORD_API_BASE={}", fake.base_url());
    println!("bot token: {} (the fake's own; not a secret)", fake.token());
    println!("application id: {}; {guilds} guilds, {messages} messages", fake.application_id());
    println!(
        "OAuth2: client id {}, client secret {} (the fake's own; not a secret)",
        fake.application_id(),
        fake.client_secret()
    );
    println!("OAuth2 authorize URL: {}", fake.authorize_url());
    println!("OAuth2 token URL: {}", fake.token_url());
    let signed_in = fake.oauth_user().map_or_else(|| "nobody".to_owned(), |u| u.to_string());
    println!(
        "OAuth2 signed-in user: {signed_in} (add login_as=<user id> to the authorize URL to log in as \
         someone else; POST /_fake/oauth/user {{\"user_id\"}} changes it)"
    );
    println!(
        "admin: GET http://{}/_fake/world, /_fake/stats, /_fake/truth?tz=Europe/Paris",
        fake.addr()
    );
    write_truths(&fake, &args)?;
    tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
    write_truths(&fake, &args)?;
    fake.shutdown().await;
    Ok(())
}
