//! Cost of erasing one member of a busy guild, against a real DynamoDB protocol server (moto).
//!
//! Writes `--days N` days of a busy guild's history (≈ 39,000 (channel, member) counters a day, the size
//! `cost.rs` measures for 100,000 messages from 2,000 members in 50 channels), folds it into summaries,
//! then erases the member who is active every day and reports the erasure's write units, read units,
//! requests and duration, and the same per day of history. The erasure reads every day summary and
//! rewrites the days (and months, and the all-time summary) that hold the member, so its cost is linear
//! in the history: run two lengths to see it, and multiply the per-day figures for a year.
//!
//! Run: `scripts/bench erase` (`ERASE_DAYS=N`, default 30), or with `AWS_ENDPOINT_URL_DYNAMODB` set:
//! `cargo bench -p engagement-store --bench erase -- --days N`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::time::Instant;

use engagement_domain::{BatchBuilder, ChannelId, Counts, Day, GuildId, MessageId, UserId};
use engagement_store::{CompactionPolicy, CounterStore, TableCreation};

const MEMBERS: u64 = 2_000;
const CHANNELS: u64 = 50;
/// (channel, member) pairs a day: each member posts in ~20 channels.
const COUNTERS_PER_DAY: u64 = 39_000;
/// The member erased: active every day, in every channel they use.
const ERASED: UserId = UserId(1_000_000);

fn days_arg() -> i32 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--days")
        .and_then(|i| args.get(i + 1))
        .and_then(|d| d.parse().ok())
        .unwrap_or(30)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let days = days_arg();
    let (client, table) = engagement_testkit::dynamo::client_and_table_name("bench-erase").await?;
    let store = CounterStore::new(client, table);
    assert_eq!(store.create_table().await?, TableCreation::Created);
    let guild = GuildId(1);
    let first = "2026-01-01".parse::<Day>().unwrap().ordinal();
    let started = Instant::now();
    let mut view = store.load_sync_view(guild, MessageId(0)).await?;
    for d in 0..days {
        let day = Day::from_ordinal(first + d);
        // Two batches a day keep each under the 350 kB batch limit.
        for half in 0..2_u64 {
            let mut b = BatchBuilder::new();
            for k in (half * COUNTERS_PER_DAY / 2)..((half + 1) * COUNTERS_PER_DAY / 2) {
                let member = k % MEMBERS;
                let channel = (k / MEMBERS + member + u64::from(d.unsigned_abs())) % CHANNELS;
                b.add(
                    day,
                    ChannelId(100 + channel),
                    UserId(1_000_000 + member),
                    Counts::messages(1),
                );
            }
            store.commit(&mut view, b.build(u64::from(d.unsigned_abs()))).await?;
        }
        if d % 10 == 9 || d + 1 == days {
            store.compact(guild, CompactionPolicy::ALWAYS, u64::from(d.unsigned_abs())).await?;
        }
    }
    eprintln!("history: {days} days written and folded in {:.0?}", started.elapsed());

    let before = store.usage();
    let started = Instant::now();
    store.erase_member(guild, ERASED, 10_000_000).await?;
    let took = started.elapsed();
    let used = store.usage().since(&before);
    assert!(store.find_member(guild, ERASED).await?.is_empty(), "the member is gone everywhere");
    let per_day = |x: f64| x / f64::from(days);
    println!("erasure of a member active every day, busy guild, {days} days of history:");
    println!(
        "  write units   {:>10}   ({:.0} per day of history)",
        used.write_units,
        per_day(used.write_units as f64)
    );
    println!(
        "  read units    {:>10}   ({:.0} per day of history)",
        used.read_units(),
        per_day(used.read_units() as f64)
    );
    println!(
        "  requests      {:>10}   ({:.1} per day of history)",
        used.requests,
        per_day(used.requests as f64)
    );
    println!(
        "  duration      {:>10.1?}   ({:.0} ms per day of history, moto on this machine)",
        took,
        per_day(took.as_secs_f64() * 1000.0)
    );
    Ok(())
}
