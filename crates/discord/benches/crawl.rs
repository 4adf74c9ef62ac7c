//! Crawl benchmark: the client against the fake Discord enforcing realistic limits (50 requests/s global,
//! 5 per 5 s per channel for messages, similar per route).
//!
//! A concurrent crawl of a large synthetic guild — guilds, channels, active threads, archived threads of
//! every channel, then every message of every channel and thread — and a report of:
//! messages fetched vs. the world (each exactly once), sustained request rate as a share of the allowed
//! rate, 429s as a share of requests, and 401/403 answers.
//!
//! ```text
//! cargo bench -p engagement-discord --bench crawl
//! cargo bench -p engagement-discord --bench crawl -- --latency-ms 20 --jitter-ms 30
//! ```
//! Options: `--size small|medium|large`, `--seed N`, `--concurrency N`, `--latency-ms N`, `--jitter-ms N`,
//! `--error-rate 0.01` (share of 5xx answers), `--shared-429-rate 0.01` (share of shared-scope 429s).

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use engagement_discord::{DiscordClient, DiscordConfig, Id, marker::ChannelMarker, model::Channel};
use fake_discord::{FakeConfig, FakeDiscord, Faults, RateLimits, Scope, World, WorldSize};
use futures::{StreamExt, stream};

#[derive(Debug)]
struct Options {
    size: WorldSize,
    seed: u64,
    concurrency: usize,
    latency: Duration,
    jitter: Duration,
    error_rate: f64,
    shared_rate: f64,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        size: WorldSize::Large,
        seed: 7,
        concurrency: 64,
        latency: Duration::ZERO,
        jitter: Duration::ZERO,
        error_rate: 0.0,
        shared_rate: 0.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--size" => options.size = value()?.parse().map_err(anyhow::Error::msg)?,
            "--seed" => options.seed = value()?.parse()?,
            "--concurrency" => options.concurrency = value()?.parse()?,
            "--latency-ms" => options.latency = Duration::from_millis(value()?.parse()?),
            "--jitter-ms" => options.jitter = Duration::from_millis(value()?.parse()?),
            "--error-rate" => options.error_rate = value()?.parse()?,
            "--shared-429-rate" => options.shared_rate = value()?.parse()?,
            // `cargo bench` passes `--bench`; ignore other flags.
            _ => {}
        }
    }
    Ok(options)
}

/// Walks one channel or thread forward from the beginning; a channel the bot cannot read is skipped.
async fn walk(client: DiscordClient, channel: Id<ChannelMarker>) -> anyhow::Result<Vec<u64>> {
    let mut ids = Vec::new();
    let mut pages = client.messages_after(channel, 0);
    loop {
        match pages.next_page().await {
            Ok(Some(page)) => ids.extend(page.iter().map(|m| m.id.get())),
            Ok(None) => return Ok(ids),
            Err(error) if error.is_no_access() => return Ok(ids),
            Err(error) => return Err(error.into()),
        }
    }
}

async fn archived(
    client: DiscordClient,
    channel: Id<ChannelMarker>,
) -> anyhow::Result<Vec<Channel>> {
    match client.public_archived_threads(channel, None).await {
        Ok(threads) => Ok(threads),
        Err(error) if error.is_no_access() => Ok(Vec::new()),
        Err(error) => Err(error.into()),
    }
}

#[allow(clippy::cast_precision_loss)]
fn main() -> anyhow::Result<()> {
    let options = options()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(options))
}

#[allow(clippy::cast_precision_loss, clippy::too_many_lines)]
async fn run(options: Options) -> anyhow::Result<()> {
    let limits = RateLimits::realistic();
    let allowed_rate =
        limits.global.map_or(f64::INFINITY, |g| f64::from(g.limit) / g.period.as_secs_f64());
    let fake = FakeDiscord::start(FakeConfig {
        seed: options.seed,
        size: options.size.clone(),
        limits,
        faults: Faults {
            latency: options.latency,
            latency_jitter: options.jitter,
            server_error_rate: options.error_rate,
            shared_rate_limit_rate: options.shared_rate,
            shared_retry_after: Duration::from_millis(500),
        },
        ..FakeConfig::default()
    })
    .await?;
    let expected = fake.with_world(World::readable_message_ids);
    let (channel_count, thread_count, unreadable) = fake.with_world(|w| {
        (
            w.channels.values().filter(|c| !fake_discord::world::kind::is_thread(c.kind)).count(),
            w.channels.values().filter(|c| fake_discord::world::kind::is_thread(c.kind)).count(),
            w.channels.values().filter(|c| !c.readable).count(),
        )
    });
    // The client with its defaults: 50 requests/s global, 50 ms margin.
    let client =
        DiscordClient::new(DiscordConfig::new(fake.token()).with_api_base(fake.base_url()))?;
    let started = Instant::now();

    let mut targets: Vec<Id<ChannelMarker>> = Vec::new();
    let mut parents: Vec<Id<ChannelMarker>> = Vec::new();
    for guild in client.current_user_guilds().await? {
        for channel in client.guild_channels(guild.id).await? {
            if channel.has_messages() {
                targets.push(channel.id);
            }
            if channel.has_threads() {
                parents.push(channel.id);
            }
        }
        targets.extend(client.active_threads(guild.id).await?.iter().map(|t| t.id));
    }
    let walkers = options.concurrency.max(2);
    let known = stream::iter(targets.clone())
        .map(|channel| walk(client.clone(), channel))
        .buffer_unordered(walkers * 3 / 4);
    let discovered = async {
        let threads: Vec<anyhow::Result<Vec<Channel>>> = stream::iter(parents.clone())
            .map(|channel| archived(client.clone(), channel))
            .buffer_unordered(walkers / 4)
            .collect()
            .await;
        let mut ids = Vec::new();
        for list in threads {
            ids.extend(list?.into_iter().map(|t| t.id));
        }
        let walked: Vec<anyhow::Result<Vec<u64>>> = stream::iter(ids)
            .map(|channel| walk(client.clone(), channel))
            .buffer_unordered(walkers / 4)
            .collect()
            .await;
        anyhow::Ok(walked)
    };
    let (known, discovered) = tokio::join!(known.collect::<Vec<_>>(), discovered);
    let elapsed = started.elapsed();

    let mut fetched: Vec<u64> = Vec::new();
    for ids in known.into_iter().chain(discovered?) {
        fetched.extend(ids?);
    }
    let unique: BTreeSet<u64> = fetched.iter().copied().collect();
    let duplicates = fetched.len() - unique.len();
    let missing = expected.difference(&unique).count();
    let extra = unique.difference(&expected).count();

    let stats = fake.stats();
    let log = fake.request_log();
    // The log is in completion order; rates are about arrival times.
    let mut arrivals: Vec<Duration> = log.iter().map(|r| r.at).collect();
    arrivals.sort_unstable();
    let requests = stats.requests as f64;
    let first = arrivals.first().copied().unwrap_or_default();
    let last = arrivals.last().copied().unwrap_or_default();
    let overall_rate = requests / (last - first).as_secs_f64().max(1e-9);
    // Steady state: between the 10th and the 90th percentile of arrivals (ramp-up and the tail of the last
    // channels, which only their own per-channel bucket limits, excluded).
    let at = |q: f64| {
        arrivals.get(((arrivals.len() as f64 - 1.0) * q) as usize).copied().unwrap_or_default()
    };
    let (p10, p90) = (at(0.1), at(0.9));
    let steady_rate = (arrivals.len() as f64 * 0.8) / (p90 - p10).as_secs_f64().max(1e-9);
    let mut busiest_second = 0;
    let mut end = 0;
    for (start, &t) in arrivals.iter().enumerate() {
        while end < arrivals.len() && arrivals[end] < t + Duration::from_secs(1) {
            end += 1;
        }
        busiest_second = busiest_second.max(end - start);
    }
    let forbidden_on_unreadable = log.iter().filter(|r| r.status == 403).all(|r| {
        fake.with_world(|w| {
            r.major
                .strip_prefix("channels/")
                .and_then(|c| c.parse::<u64>().ok())
                .and_then(|c| w.channels.get(&c))
                .is_some_and(|c| !c.readable)
        })
    });

    println!(
        "## Crawl benchmark ({:?}, seed {}, concurrency {}, latency {:?} + up to {:?}, 5xx share {}, shared-429 share {})",
        options.size,
        options.seed,
        walkers,
        options.latency,
        options.jitter,
        options.error_rate,
        options.shared_rate
    );
    println!();
    println!("| measure | value |");
    println!("| --- | --- |");
    println!(
        "| world | {} channels (+{} threads), {} readable messages, {} unreadable channels |",
        channel_count,
        thread_count,
        expected.len(),
        unreadable
    );
    println!(
        "| messages fetched | {} ({} unique, {} duplicates, {} missing, {} extra) |",
        fetched.len(),
        unique.len(),
        duplicates,
        missing,
        extra
    );
    println!("| requests | {} in {:.1} s |", stats.requests, elapsed.as_secs_f64());
    println!(
        "| overall request rate | {:.1}/s = {:.1} % of {:.0}/s allowed |",
        overall_rate,
        100.0 * overall_rate / allowed_rate,
        allowed_rate
    );
    println!(
        "| sustained rate (10th–90th percentile of requests) | {:.1}/s = {:.1} % of allowed |",
        steady_rate,
        100.0 * steady_rate / allowed_rate
    );
    println!("| busiest 1 s window | {busiest_second} requests |");
    println!(
        "| 429s | {} = {:.2} % of requests (user {}, global {}, shared {}) |",
        stats.rate_limited,
        100.0 * stats.rate_limited as f64 / requests.max(1.0),
        stats.rate_limited_with(Scope::User),
        stats.rate_limited_with(Scope::Global),
        stats.rate_limited_with(Scope::Shared)
    );
    println!("| 5xx (injected, retried) | {} |", stats.server_errors);
    println!(
        "| 401 / 403 | {} / {} (403s only on the world's unreadable channels: {}) |",
        stats.unauthorized, stats.forbidden, forbidden_on_unreadable
    );

    if duplicates != 0 || missing != 0 || extra != 0 {
        bail!("messages were not fetched exactly once");
    }
    if stats.unauthorized != 0 || !forbidden_on_unreadable {
        bail!("unprovoked 401/403");
    }
    fake.shutdown().await;
    Ok(())
}
