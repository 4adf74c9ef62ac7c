//! An erasure's memory does not grow with the guild's history: it folds into one day summary at a time
//! and rewrites the log a page at a time. Measured with a counting allocator (this test binary only),
//! over 30 and over 300 days of history, side by side in one run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use engagement_domain::{BatchBuilder, ChannelId, Counts, Day, GuildId, MessageId, UserId};
use engagement_store::{CompactionPolicy, CounterStore, TableCreation};
use peak_alloc::PeakAlloc;

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

/// Members active every day: a day summary holds this many counters (~40 kB encoded, several times
/// that decoded), so holding every day at once would show.
const MEMBERS: u64 = 2_000;
const ERASED: UserId = UserId(1_000_000 + 7);

/// Writes `days` days of history for `guild`, folded into summaries, with a few batches left in the log.
async fn history(store: &CounterStore, guild: GuildId, days: i32) -> anyhow::Result<()> {
    let mut view = store.load_sync_view(guild, MessageId(0)).await?;
    let first = "2025-01-01".parse::<Day>().unwrap().ordinal();
    for d in 0..days {
        let day = Day::from_ordinal(first + d);
        let mut b = BatchBuilder::new();
        for m in 0..MEMBERS {
            let channel = ChannelId(10 + (m + d.unsigned_abs() as u64) % 10);
            b.add(day, channel, UserId(1_000_000 + m), Counts::messages(1 + i64::from(m % 3 == 0)));
        }
        let at = u64::from(d.unsigned_abs());
        store.commit(&mut view, b.build(at)).await?;
        // Fold as the sync does, in chunks, leaving the last few batches in the log.
        if d % 50 == 49 || d + 3 == days {
            store.compact(guild, CompactionPolicy::ALWAYS, at).await?;
        }
    }
    Ok(())
}

/// Peak bytes allocated during the erasure, above what was allocated when it started.
async fn erasure_peak(store: &CounterStore, guild: GuildId) -> anyhow::Result<usize> {
    let before = ALLOCATOR.current_usage();
    ALLOCATOR.reset_peak_usage();
    store.erase_member(guild, ERASED, 1_000_000).await?;
    Ok(ALLOCATOR.peak_usage().saturating_sub(before))
}

#[tokio::test(flavor = "current_thread")]
async fn erasure_memory_does_not_grow_with_history() -> anyhow::Result<()> {
    let (client, table) = engagement_testkit::dynamo::client_and_table_name("erase-mem").await?;
    let store = CounterStore::new(client, table);
    assert_eq!(store.create_table().await?, TableCreation::Created);
    let (short, long) = (GuildId(30), GuildId(300));
    history(&store, short, 30).await?;
    history(&store, long, 300).await?;

    let short_peak = erasure_peak(&store, short).await?;
    let long_peak = erasure_peak(&store, long).await?;
    eprintln!(
        "erasure peak memory: 30 days {:.2} MiB, 300 days {:.2} MiB",
        short_peak as f64 / 1_048_576.0,
        long_peak as f64 / 1_048_576.0
    );
    for guild in [short, long] {
        assert!(store.find_member(guild, ERASED).await?.is_empty());
    }
    let ratio = long_peak as f64 / short_peak as f64;
    assert!(
        (0.9..=1.1).contains(&ratio),
        "300 days of history took {ratio:.2}× the memory of 30 days ({long_peak} vs {short_peak} bytes)"
    );
    Ok(())
}
