//! Erasure against moto: complete when a sync commits around it, exclusive per member, and never able to
//! move a cursor back when two compactions race.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use engagement_domain::batch::EmojiReactions;
use engagement_domain::{
    BatchBuilder, ChannelCursor, ChannelId, Counts, DayRange, GuildId, MessageId, MessageReactions,
    Scope, UserId,
};
use engagement_store::{Claim, CompactionPolicy};

use common::{G, day, store};

const ERASED: UserId = UserId(7);
const OTHER: UserId = UserId(8);

/// A batch as a sync builds it: both members post in channel 10 and react to each other's message.
fn sync_batch(
    d: &str,
    message: u64,
    cursor_after: u64,
    created_at_ms: u64,
) -> engagement_domain::Batch {
    let mut b = BatchBuilder::new();
    b.add(
        day(d),
        ChannelId(10),
        ERASED,
        Counts { messages: 2, reactions_given: 1, reactions_received: 1 },
    );
    b.add(
        day(d),
        ChannelId(10),
        OTHER,
        Counts { messages: 1, reactions_given: 1, reactions_received: 1 },
    );
    for (author, reactor) in [(ERASED, OTHER), (OTHER, ERASED)] {
        b.set_reactions(MessageReactions {
            message: MessageId(message + author.0),
            source: ChannelId(10),
            channel: ChannelId(10),
            day: day(d),
            author: Some(author),
            emojis: vec![EmojiReactions {
                emoji: "👍".into(), count: 1, reactors: vec![reactor]
            }],
        });
    }
    b.set_cursor(ChannelCursor {
        after: MessageId(cursor_after),
        ..ChannelCursor::starting_at(ChannelId(10), None, MessageId(0))
    });
    b.build(created_at_ms)
}

/// A sync run that loaded its view before the erasure commits one batch before it and two after it: the
/// erased member is in none of them, nor anywhere else, and every other count is kept.
#[tokio::test]
async fn an_erasure_between_two_batches_of_a_sync_run_is_complete() -> anyhow::Result<()> {
    let store = store("erase-mid-run").await?;
    // History folded into summaries, and a batch still in the log.
    let mut earlier = store.load_sync_view(G, MessageId(0)).await?;
    store.commit(&mut earlier, sync_batch("2026-11-20", 100, 150, 1)).await?;
    store.compact(G, CompactionPolicy::ALWAYS, 2).await?;
    store.commit(&mut earlier, sync_batch("2026-11-21", 200, 250, 3)).await?;

    // The run starts, commits once, then the member erases themselves, then the run goes on.
    let mut run = store.load_sync_view(G, MessageId(0)).await?;
    store.commit(&mut run, sync_batch("2026-11-22", 300, 350, 4)).await?;
    store.erase_member(G, ERASED, 5).await?;
    store.commit(&mut run, sync_batch("2026-11-22", 400, 450, 6)).await?;
    store.commit(&mut run, sync_batch("2026-11-23", 500, 550, 7)).await?;
    store.compact(G, CompactionPolicy::ALWAYS, 8).await?;

    let traces = store.find_member(G, ERASED).await?;
    assert!(traces.is_empty(), "the erased member is still in: {traces:?}");
    // The other member keeps every count: 5 batches of 1 message each.
    let range = DayRange::new(day("2026-11-01"), day("2026-11-30")).unwrap();
    let days = store.load_days(G, range).await?;
    assert_eq!(days.total().member_total(OTHER, Scope::Guild).messages, 5);
    assert_eq!(days.total().member_total(ERASED, Scope::Guild), Counts::ZERO);
    assert_eq!(store.load_all_time(G).await?.member_total(ERASED, Scope::Guild), Counts::ZERO);
    assert!(
        !store.find_member(G, OTHER).await?.is_empty(),
        "the check finds a member who is there"
    );
    Ok(())
}

/// A second erasure (or export) while one is held answers how long it is still held; a released or
/// expired claim can be taken again; two members never share one.
#[tokio::test]
async fn a_claim_is_exclusive_until_released_or_over() -> anyhow::Result<()> {
    let store = store("claims").await?;
    assert_eq!(store.claim(G, "erase:7", 1_000, 60_000).await?, Claim::Taken);
    assert_eq!(
        store.claim(G, "erase:7", 11_000, 60_000).await?,
        Claim::Held { remaining_ms: 50_000 }
    );
    assert_eq!(store.claim(G, "erase:8", 11_000, 60_000).await?, Claim::Taken);
    assert_eq!(store.claim(GuildId(2), "erase:7", 11_000, 60_000).await?, Claim::Taken);
    store.release(G, "erase:7").await?;
    assert_eq!(store.claim(G, "erase:7", 12_000, 60_000).await?, Claim::Taken);
    // Over at 72 000: free again.
    assert_eq!(store.claim(G, "erase:7", 72_000, 1_000).await?, Claim::Taken);
    Ok(())
}

/// Two compactions at once (the sync's and an erasure's): the slower one, folding less of the log,
/// writes its cursors last. A cursor item only moves forward, so the channel is not read again from an
/// older cursor (which would count its messages twice).
#[tokio::test]
async fn a_late_compaction_never_moves_a_cursor_back() -> anyhow::Result<()> {
    let store = store("cursor-race").await?;
    let slow = store.clone();
    let mut view = store.load_sync_view(G, MessageId(0)).await?;
    store.commit(&mut view, sync_batch("2026-11-20", 100, 150, 1)).await?;
    store.commit(&mut view, sync_batch("2026-11-20", 200, 250, 2)).await?;
    // The slow compaction has read batches 1-2 and is about to write: it stops just before its first
    // cursor write (its day summary write went through)...
    slow.inject_crash_after_writes(1);
    assert!(slow.compact(G, CompactionPolicy::ALWAYS, 3).await.is_err());
    slow.clear_faults();
    // ...meanwhile the sync commits batch 3 and folds everything...
    store.commit(&mut view, sync_batch("2026-11-21", 300, 350, 4)).await?;
    store.compact(G, CompactionPolicy::ALWAYS, 5).await?;
    // ...then the slow one writes its cursors, folded through batch 2.
    let stale = ChannelCursor {
        after: MessageId(250),
        ..ChannelCursor::starting_at(ChannelId(10), None, MessageId(0))
    };
    slow.write_cursors_for_test(G, [stale], 2).await?;
    let fresh = store.load_sync_view(G, engagement_store::NO_REACTION_WINDOW).await?;
    assert_eq!(fresh.cursors.cursors[&ChannelId(10)].after, MessageId(350));
    Ok(())
}

/// An erasure's fold through every summary stops at its deadline (a sync run has one) and the next
/// compaction finishes it: nothing is lost or folded twice.
#[tokio::test]
async fn an_erasure_fold_stops_at_its_deadline_and_the_next_one_finishes() -> anyhow::Result<()> {
    let store = store("erase-deadline").await?;
    let mut view = store.load_sync_view(G, MessageId(0)).await?;
    for (i, d) in ["2026-11-20", "2026-11-21", "2026-11-22"].into_iter().enumerate() {
        store.commit(&mut view, sync_batch(d, 100 * (i as u64 + 1), 1000 + i as u64, 1)).await?;
    }
    store.compact(G, CompactionPolicy::ALWAYS, 2).await?;
    // The erasure is appended; its fold is left to a compaction with a deadline already past.
    let mut tail = store.load_sync_view(G, engagement_store::NO_REACTION_WINDOW).await?;
    let erasure =
        engagement_domain::Batch { created_at_ms: 3, erasures: vec![ERASED], ..Default::default() };
    store.commit(&mut tail, erasure).await?;
    let past = tokio::time::Instant::now();
    let stopped = store.compact_until(G, CompactionPolicy::ALWAYS, 4, Some(past)).await;
    assert_eq!(
        stopped.map_err(|e| e.kind()).err(),
        Some(engagement_store::StoreErrorKind::OutOfTime)
    );
    // Readers already leave the member out (the erasure is in the log)...
    let range = DayRange::new(day("2026-11-01"), day("2026-11-30")).unwrap();
    assert_eq!(
        store.load_days(G, range).await?.total().member_total(ERASED, Scope::Guild),
        Counts::ZERO
    );
    // ...and the next compaction folds it everywhere: summaries and log.
    store.compact(G, CompactionPolicy::ALWAYS, 5).await?;
    let traces = store.find_member(G, ERASED).await?;
    assert!(traces.is_empty(), "{traces:?}");
    assert_eq!(
        store.load_days(G, range).await?.total().member_total(OTHER, Scope::Guild).messages,
        3
    );
    Ok(())
}

/// A fold that stops after any of its writes — after a day's activity and before its summary, say —
/// and then an erasure of the only member that fold counted on a day: nothing of the member is left,
/// not in the activity (written before the summary) nor in the first days.
#[tokio::test]
async fn an_erasure_after_a_fold_that_stopped_anywhere_leaves_nothing_of_the_member() {
    let store = store("erase-after-stop").await.unwrap();
    let d = day("2026-11-01");
    for k in 0..10u64 {
        let guild = GuildId(500 + k);
        let mut view = store.load_sync_view(guild, MessageId(0)).await.unwrap();
        let mut b = BatchBuilder::new();
        b.add(d, ChannelId(10), OTHER, Counts::messages(1));
        store.commit(&mut view, b.build(1)).await.unwrap();
        store.compact(guild, CompactionPolicy::ALWAYS, 10).await.unwrap();
        let mut b = BatchBuilder::new();
        // On a day already folded (read back by the erasure's fold) and on a new one.
        b.add(d, ChannelId(10), ERASED, Counts::messages(2));
        b.add(d.plus(1), ChannelId(10), ERASED, Counts::messages(3));
        store.commit(&mut view, b.build(2)).await.unwrap();
        store.inject_crash_after_writes(k);
        let stopped = store.compact(guild, CompactionPolicy::ALWAYS, 20).await;
        store.clear_faults();
        store.erase_member(guild, ERASED, 30).await.unwrap();
        let traces = store.find_member(guild, ERASED).await.unwrap();
        assert!(traces.is_empty(), "after a fold stopped at write {k} ({stopped:?}): {traces:?}");
        let mut active = Vec::new();
        store
            .scan_activity(guild, DayRange { first: d, last: d.plus(3) }, |day, tally| {
                active.extend(tally.counters.keys().map(|(_, u)| (day, *u)));
                std::ops::ControlFlow::Continue(())
            })
            .await
            .unwrap();
        assert_eq!(active, vec![(d, OTHER)], "after a fold stopped at write {k}");
    }
}
