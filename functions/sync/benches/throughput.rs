//! Sync throughput benchmark (a bench binary, not a timed test).
//!
//! 1. CPU: parse + aggregate. Pages of 100 messages in Discord's JSON are parsed with the client's types,
//!    turned into counting facts and folded into a batch, as the sync does; reported in messages per
//!    second on one core.
//! 2. Against the fake Discord with realistic limits (50 requests/s global, 5 per 5 s per channel and
//!    route) and moto: a first sync of the medium synthetic world (2 guilds); reported are messages counted per second,
//!    requests per second as a share of the 50/s global ceiling, 429s, and DynamoDB write units per
//!    message; then an idle run's requests.
//!
//! Run: `scripts/bench sync` (needs `AWS_ENDPOINT_URL_DYNAMODB`; the script starts moto).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::time::{Duration, Instant};

use engagement_discord::model::Message;
use engagement_discord::{DiscordClient, DiscordConfig};
use engagement_domain::{BatchBuilder, ChannelId, Counts, GuildConfig};
use engagement_store::CounterStore;
use fake_discord::config::{RateLimits, WorldSize};
use fake_discord::{FakeConfig, FakeDiscord};
use sync::{SyncSettings, Syncer, message_facts};

fn page_json(page: usize) -> String {
    let messages: Vec<serde_json::Value> = (0..100u64)
        .map(|i| {
            let id = 1_300_000_000_000_000_000u64 + (page as u64) * 1000 + i;
            serde_json::json!({
                "id": id.to_string(),
                "channel_id": "1200000000000000000",
                "author": {"id": (900_000_000_000_000_000u64 + i % 37).to_string(), "username": "member", "bot": i % 17 == 0},
                "type": if i % 5 == 0 { 19 } else { 0 },
                "content": "",
                "timestamp": "2026-11-28T10:00:00.000000+00:00",
                "edited_timestamp": null,
                "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [],
                "embeds": [], "pinned": false, "flags": 0, "components": [],
            })
        })
        .collect();
    serde_json::to_string(&messages).unwrap()
}

fn cpu() {
    let pages: Vec<String> = (0..200).map(page_json).collect();
    let rules = GuildConfig::default();
    let channel = ChannelId(1_200_000_000_000_000_000);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let mut b = BatchBuilder::new();
        for json in &pages {
            let page: Vec<Message> = serde_json::from_str(json).unwrap();
            for m in &page {
                let facts = message_facts(m);
                if let Some((author, counts)) = rules.author_counts(&facts) {
                    b.add(
                        rules.day_of(&facts),
                        channel,
                        author,
                        Counts { reactions_received: 0, ..counts },
                    );
                }
            }
        }
        std::hint::black_box(b.build(0));
        best = best.min(t.elapsed().as_secs_f64());
    }
    let messages = (pages.len() * 100) as f64;
    println!(
        "parse + aggregate: {:.0} messages/s on one core ({:.2} µs per message; best of 5 over {} messages)",
        messages / best,
        best / messages * 1e6,
        messages as u64
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    cpu();
    let fake = FakeDiscord::start(FakeConfig {
        seed: 3,
        size: WorldSize::Medium,
        limits: RateLimits::realistic(),
        ..FakeConfig::default()
    })
    .await?;
    let (client, table) = engagement_testkit::dynamo::client_and_table_name("bench-sync").await?;
    let store = CounterStore::new(client, table);
    store.create_table().await?;
    let discord =
        DiscordClient::new(DiscordConfig::new(fake.token()).with_api_base(fake.base_url()))?;
    let concurrency: usize = std::env::var("SYNC_CONCURRENCY")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(SyncSettings::default().concurrency);
    let settings = SyncSettings {
        first_sight_lookback: Duration::from_secs(400 * 86_400),
        fixed_now: Some(fake.clock()),
        concurrency,
        time_budget: Duration::from_secs(3_600),
        ..SyncSettings::default()
    };
    let syncer = Syncer { store, discord, settings };
    let world_messages = fake.with_world(|w| w.message_count());
    let t = Instant::now();
    let summary = syncer.sync_all(Duration::from_secs(3_600)).await?;
    let secs = t.elapsed().as_secs_f64();
    let stats = fake.stats();
    // The ceiling: the least time any client could take for these requests under the fake's limits —
    // the global 50/s, and each (route, channel or guild) bucket's 5 per 5 s after its first burst.
    let mut per_bucket: std::collections::BTreeMap<(String, String), u64> = Default::default();
    for r in fake.request_log() {
        *per_bucket.entry((format!("{:?}", r.route), r.major.clone())).or_default() += 1;
    }
    let busiest = per_bucket.values().copied().max().unwrap_or(0);
    let ceiling_secs = (stats.requests as f64 / 50.0).max(busiest.saturating_sub(5) as f64);
    println!(
        "\nfirst sync of the medium world ({world_messages} messages in the world), concurrency {concurrency}:"
    );
    println!(
        "  {} messages read, {} counted in {secs:.1} s: {:.0} messages/s",
        summary.messages_read,
        summary.messages_counted,
        summary.messages_read as f64 / secs
    );
    println!(
        "  {} requests, {:.1}/s; the busiest bucket took {busiest} of them, so no client could finish in under \
         {ceiling_secs:.0} s: this run reached {:.0} % of that ceiling's rate",
        stats.requests,
        stats.requests as f64 / secs,
        ceiling_secs / secs * 100.0
    );
    println!(
        "  429s: {} ({:.2} % of requests)",
        stats.rate_limited,
        stats.rate_limited as f64 / stats.requests.max(1) as f64 * 100.0
    );
    println!(
        "  DynamoDB: {} WRU = {:.3} WRU per message read, {} batches",
        summary.write_units,
        summary.write_units as f64 / summary.messages_read.max(1) as f64,
        summary.batches
    );
    // The run right after reconciles the reactions of every recent channel once (hourly); the one after
    // that is idle.
    for label in ["next run (first hourly reaction reconciliation)", "idle run"] {
        fake.reset_stats();
        let run = syncer.sync_all(Duration::from_secs(600)).await?;
        println!(
            "{label}: {} requests to Discord ({} channels and threads checked, {} skipped without a request), {} WRU",
            fake.stats().requests,
            run.channels_checked,
            run.channels_skipped_idle,
            run.write_units
        );
    }
    Ok(())
}
