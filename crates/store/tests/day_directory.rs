//! Reads through the day directory: one member's days (`/stats`) as the member's shard of each day, and
//! whole days read eventually consistently, checked against the directory. Against moto, started by
//! `scripts/test` (moto's reads are all consistent: the tests make the directory disagree on purpose).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use engagement_domain::{
    Batch, BatchBuilder, ChannelId, CounterReader, Counts, DailyTallies, Day, DayRange, Tally,
    UserId,
};
use engagement_store::{CompactionPolicy, CounterStore, StoreErrorKind, TableCreation};
use engagement_testkit::memory::MemoryCounters;

use common::{G, day, model};

/// Members per day: enough that a day summary takes many shards.
const MEMBERS: u64 = 900;

fn member(i: u64) -> UserId {
    UserId(1_000_000_000_000 + i * 7_919)
}

/// The members the checks read: the busiest, a quiet one, one erased later, one never counted.
fn asked() -> [UserId; 5] {
    [member(0), member(1), member(17), member(MEMBERS - 1), UserId(42)]
}

async fn store_and_client(prefix: &str) -> (CounterStore, aws_sdk_dynamodb::Client, String) {
    let (client, table) = engagement_testkit::dynamo::client_and_table_name(prefix).await.unwrap();
    let store = CounterStore::new(client.clone(), table.clone());
    assert_eq!(store.create_table().await.unwrap(), TableCreation::Created);
    (store, client, table)
}

/// Every member on each day `first + from .. first + to`, in three channels of which one has a category.
fn days(first: Day, from: i32, to: i32, seq: u64) -> Batch {
    let mut b = BatchBuilder::new();
    for d in from..to {
        for i in 0..MEMBERS {
            // Not everyone every day: member i skips the days where (i + d) % 5 == 0.
            if (i as i32 + d) % 5 == 0 && i > 1 {
                continue;
            }
            let counts = Counts {
                messages: 1 + (i as i64 + d as i64) % 7,
                reactions_given: i as i64 % 2,
                reactions_received: i64::from(d % 3),
            };
            b.add(first.plus(d), ChannelId(10 + i % 3), member(i), counts);
            b.add_hour(first.plus(d), (i % 24) as u8, ChannelId(10 + i % 3), counts.messages);
        }
    }
    b.set_category(ChannelId(10), Some(ChannelId(99)));
    b.build(seq)
}

/// The member's part of days read whole.
fn restricted(days: &DailyTallies, who: UserId) -> BTreeMap<Day, Tally> {
    days.days
        .iter()
        .map(|(day, tally)| (*day, tally.only_member(who)))
        .filter(|(_, tally)| !tally.is_empty())
        .collect()
}

/// The same counters, and the same category for each of their channels (an unknown category and none
/// read alike).
fn same_days(stored: &BTreeMap<Day, Tally>, other: &BTreeMap<Day, Tally>, label: &str) {
    assert_eq!(stored.keys().collect::<Vec<_>>(), other.keys().collect::<Vec<_>>(), "{label}");
    for (day, tally) in stored {
        assert_eq!(tally.counters, other[day].counters, "{label}: {day}");
        for (channel, _) in tally.counters.keys() {
            let (a, b) = (tally.category_of(*channel), other[day].category_of(*channel));
            assert_eq!(a, b, "{label}: {day}, {channel}");
        }
    }
}

/// The store's member reads equal the whole days restricted to the member, and the in-memory reader's;
/// so do its hourly counts.
async fn check(store: &CounterStore, memory: &MemoryCounters, ranges: &[DayRange], label: &str) {
    for &range in ranges {
        assert_eq!(
            store.load_hours(G, range).await.unwrap(),
            CounterReader::load_hours(memory, G, range).await.unwrap(),
            "{label}: hourly counts over {range}"
        );
        let whole = store.load_days(G, range).await.unwrap();
        for who in asked() {
            let own = store.member_days(G, who, range).await.unwrap();
            assert_eq!(own.days, restricted(&whole, who), "{label}: {who} over {range}");
            let modelled = CounterReader::member_days(memory, G, who, range).await.unwrap();
            same_days(
                &own.days,
                &modelled.days,
                &format!("{label}: {who} over {range}, in memory"),
            );
        }
    }
}

#[tokio::test]
async fn one_members_days_equal_the_whole_days_restricted_to_them_in_every_fold_state() {
    let (store, _, _) = store_and_client("member-days").await;
    let first = day("2026-03-01");
    let ranges: Vec<DayRange> = [(0, 9), (2, 5), (7, 7), (-3, 20), (8, 12)]
        .into_iter()
        .map(|(a, b)| DayRange { first: first.plus(a), last: first.plus(b) })
        .collect();
    let mut view = store.load_sync_view(G, engagement_domain::MessageId(0)).await.unwrap();
    let mut memory = MemoryCounters::new();
    let mut commit = async |memory: &mut MemoryCounters, batch: Batch| {
        model(memory, &batch);
        store.commit(&mut view, batch).await.unwrap();
    };

    commit(&mut memory, days(first, 0, 6, 1)).await;
    check(&store, &memory, &ranges, "nothing folded").await;
    store.compact(G, CompactionPolicy::ALWAYS, 10).await.unwrap();
    check(&store, &memory, &ranges, "folded").await;

    // Later days and more on folded ones wait in the log, with an erasure after them.
    commit(&mut memory, days(first, 4, 10, 2)).await;
    let mut erase = BatchBuilder::new();
    erase.erase(member(17));
    commit(&mut memory, erase.build(3)).await;
    check(&store, &memory, &ranges, "batches and an erasure waiting").await;
    store.compact(G, CompactionPolicy::ALWAYS, 20).await.unwrap();
    check(&store, &memory, &ranges, "folded again").await;

    // The cost: a busy day is many shards, and the member's ten days are one shard each.
    let range = DayRange { first, last: first.plus(9) };
    let whole_before = store.usage();
    store.load_days(G, range).await.unwrap();
    let whole = store.usage().since(&whole_before);
    let before = store.usage();
    let own = store.member_days(G, member(0), range).await.unwrap();
    let used = store.usage().since(&before);
    assert_eq!(own.days.len(), 10);
    assert!(used.requests <= 4, "fold state, directory, shards, log: {used:?}");
    // Fold state 1 + directory 1 + ten shards of under 4 KiB read eventually consistently 5 + log 1.
    assert!(
        used.read_units() <= 8 && used.read_units() < whole.read_units(),
        "one member's 10 days cost {} RRU, the whole days {}",
        used.read_units(),
        whole.read_units()
    );
}

#[tokio::test]
async fn a_guild_folded_before_the_directory_reads_those_days_whole_and_later_ones_by_shard() {
    let (store, client, table) = store_and_client("member-upgrade").await;
    let first = day("2026-05-10");
    let mut view = store.load_sync_view(G, engagement_domain::MessageId(0)).await.unwrap();
    store.commit(&mut view, days(first, 0, 4, 1)).await.unwrap();
    store.compact(G, CompactionPolicy::ALWAYS, 10).await.unwrap();

    // What a store of the earlier version left: day summaries, and neither directory nor its start.
    let entries = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("G#{G}#DAYDIR")))
        .send()
        .await
        .unwrap();
    assert_eq!(entries.items().len(), 4, "one entry per folded day");
    for item in entries.items() {
        client.delete_item().table_name(&table).set_key(Some(key_of(item))).send().await.unwrap();
    }
    client
        .update_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(format!("G#{G}")))
        .key("sk", AttributeValue::S("FOLD".to_owned()))
        .update_expression("REMOVE directory_from")
        .send()
        .await
        .unwrap();
    let range = DayRange { first, last: first.plus(9) };
    let same = async |label: &str| {
        let whole = store.load_days(G, range).await.unwrap();
        for who in asked() {
            let own = store.member_days(G, who, range).await.unwrap();
            assert_eq!(own.days, restricted(&whole, who), "{label}: {who}");
        }
    };
    same("before any fold of this version").await;

    // The first fold of this version says where the directory starts: two days after the newest day
    // summary (first + 3), as a run of the earlier version may still write the day after it.
    store.commit(&mut view, days(first, 2, 8, 2)).await.unwrap();
    store.compact(G, CompactionPolicy::ALWAYS, 20).await.unwrap();
    let fold = client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(format!("G#{G}")))
        .key("sk", AttributeValue::S("FOLD".to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let from = fold.item().and_then(|i| i.get("directory_from")).and_then(|v| v.as_s().ok());
    assert_eq!(from.cloned(), Some(first.plus(5).to_string()));
    same("after it").await;
}

#[tokio::test]
async fn a_directory_entry_naming_shards_that_are_gone_is_an_error_never_a_missing_day() {
    let (store, client, table) = store_and_client("member-stale").await;
    let first = day("2026-07-01");
    let mut view = store.load_sync_view(G, engagement_domain::MessageId(0)).await.unwrap();
    store.commit(&mut view, days(first, 0, 1, 1)).await.unwrap();
    store.compact(G, CompactionPolicy::ALWAYS, 10).await.unwrap();
    // Point the entry back at a generation that no longer exists.
    client
        .update_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(format!("G#{G}#DAYDIR")))
        .key("sk", AttributeValue::S(first.to_string()))
        .update_expression("SET gen = :old")
        .expression_attribute_values(":old", AttributeValue::N("0".to_owned()))
        .send()
        .await
        .unwrap();
    let err = store.member_days(G, member(0), DayRange::single(first)).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
}

fn key_of(
    item: &std::collections::HashMap<String, AttributeValue>,
) -> std::collections::HashMap<String, AttributeValue> {
    ["pk", "sk"].into_iter().map(|k| (k.to_owned(), item[k].clone())).collect()
}

/// A day read eventually consistently that comes back older than the directory says (or not at all) is
/// read again strongly: what is handed over never mixes a replica's past with the log's present.
#[tokio::test]
async fn days_that_come_back_older_than_the_directory_says_are_read_again_strongly() {
    let (store, client, table) = store_and_client("directory-stale").await;
    let first = day("2026-09-01");
    let mut view = store.load_sync_view(G, engagement_domain::MessageId(0)).await.unwrap();
    store.commit(&mut view, days(first, 0, 5, 1)).await.unwrap();
    store.compact(G, CompactionPolicy::ALWAYS, 10).await.unwrap();
    store.commit(&mut view, days(first, 3, 7, 2)).await.unwrap();
    let range = DayRange { first, last: first.plus(9) };
    let truth = store.load_days(G, range).await.unwrap();
    let before = store.usage();
    store.load_days(G, range).await.unwrap();
    let checked = store.usage().since(&before);

    // As a replica that missed the newest generation of day 2 would answer: the directory names a
    // generation after the one the read returns. And day 8 listed though no summary is stored.
    let set_entry = async |day: Day, generation: &str| {
        client
            .put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S(format!("G#{G}#DAYDIR")))
            .item("sk", AttributeValue::S(day.to_string()))
            .item("gen", AttributeValue::N(generation.to_owned()))
            .item("slot", AttributeValue::S("a".to_owned()))
            .item("shards", AttributeValue::N("1".to_owned()))
            .item("through", AttributeValue::N("1".to_owned()))
            .send()
            .await
            .unwrap();
    };
    set_entry(first.plus(2), "99").await;
    let before = store.usage();
    let read = store.load_days(G, range).await.unwrap();
    let again = store.usage().since(&before);
    assert_eq!(read, truth, "day 2 read again");
    assert!(again.requests > checked.requests, "{again:?} vs {checked:?}");
    let total = store.load_total(G, range).await.unwrap();
    assert_eq!(total.counters, truth.total().counters);

    set_entry(first.plus(2), "1").await;
    let before = store.usage();
    store.load_days(G, range).await.unwrap();
    let checked = store.usage().since(&before);
    set_entry(first.plus(8), "1").await;
    let before = store.usage();
    assert_eq!(store.load_days(G, range).await.unwrap(), truth, "day 8 listed, nothing stored");
    let again = store.usage().since(&before);
    assert!(again.requests > checked.requests, "day 8 read again: {again:?} vs {checked:?}");
    let mut scanned = BTreeMap::new();
    store
        .scan_days(G, range, |day, tally| {
            scanned.insert(day, tally);
            std::ops::ControlFlow::Continue(())
        })
        .await
        .unwrap();
    assert_eq!(scanned, truth.days, "streamed in order, each day once");
}

/// A fold that stops after any write — mid-way through a day's shards, between the shards and the
/// directory, before the slot's leftovers go — leaves every read exact, and the next fold finishes.
#[tokio::test]
async fn a_fold_killed_after_any_write_leaves_every_read_exact() {
    let (store, client, table) = store_and_client("directory-crash").await;
    let first = day("2026-10-01");
    let range = DayRange { first, last: first.plus(4) };
    let mut view = store.load_sync_view(G, engagement_domain::MessageId(0)).await.unwrap();
    let mut memory = MemoryCounters::new();
    let mut seq = 0;
    let mut commit = async |memory: &mut MemoryCounters, batch: Batch| {
        model(memory, &batch);
        store.commit(&mut view, batch).await.unwrap();
    };
    for (from, to) in [(0, 2), (1, 4), (0, 5)] {
        seq += 1;
        commit(&mut memory, days(first, from, to, seq)).await;
        for crash_after in 0.. {
            store.inject_crash_after_writes(crash_after);
            // Each attempt 16 minutes after the last: the generation a stopped one left unfinished is
            // abandoned by then, and may be written over.
            let now = (seq * 100 + crash_after) * 16 * 60 * 1000;
            let folded = store.compact(G, CompactionPolicy::ALWAYS, now).await;
            store.clear_faults();
            let whole = store.load_days(G, range).await.unwrap();
            let modelled = CounterReader::load_total(&memory, G, range).await.unwrap();
            assert_eq!(whole.total().counters, modelled.counters, "after {crash_after} writes");
            check(&store, &memory, &[range], &format!("batch {seq}, after {crash_after} writes"))
                .await;
            match folded {
                Ok(_) => break,
                Err(e) => assert_eq!(e.kind(), StoreErrorKind::Injected, "{e}"),
            }
        }
    }
    // Folded three times, each day keeps at most two generations: the readable one and the one before.
    let generations = async || {
        let items = client
            .query()
            .table_name(&table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("G#{G}#DAY")))
            .send()
            .await
            .unwrap();
        let mut generations: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
        for item in items.items() {
            let sk = item["sk"].as_s().unwrap();
            let day = sk.split('#').next().unwrap().to_owned();
            generations.entry(day).or_default().insert(item["gen"].as_n().unwrap().clone());
        }
        generations
    };
    let kept = generations().await;
    assert!(kept.values().all(|g| g.len() <= 2), "{kept:?}");
    assert!(kept.values().any(|g| g.len() == 2), "{kept:?}");
    // Three hours after they last changed, the next fold deletes the previous generations.
    commit(&mut memory, days(first, 9, 10, 4)).await;
    store.compact(G, CompactionPolicy::ALWAYS, 400 * 16 * 60 * 1000 + 3 * 3_600_000).await.unwrap();
    let dropped = generations().await;
    assert!(dropped.values().all(|g| g.len() == 1), "{dropped:?}");
    check(&store, &memory, &[range], "previous generations deleted").await;
}

/// A fold that stopped part-way through a day leaves a newer generation that is not complete. Until it
/// is old enough to be abandoned (15 minutes), another fold must not write over it — it may be a fold
/// still writing — and then it may. Reads stay exact throughout.
#[tokio::test]
async fn a_generation_being_written_is_never_written_over_and_an_abandoned_one_is() {
    let (store, _, _) = store_and_client("directory-unfinished").await;
    let first = day("2026-11-01");
    let range = DayRange::single(first);
    let mut view = store.load_sync_view(G, engagement_domain::MessageId(0)).await.unwrap();
    let mut memory = MemoryCounters::new();
    let mut commit = async |memory: &mut MemoryCounters, batch: Batch| {
        model(memory, &batch);
        store.commit(&mut view, batch).await.unwrap();
    };
    commit(&mut memory, days(first, 0, 1, 1)).await;
    store.compact(G, CompactionPolicy::ALWAYS, 1_000).await.unwrap();
    commit(&mut memory, days(first, 0, 1, 2)).await;
    // The day's activity, the note, then shard 0 of the new generation: the fold stops there.
    store.inject_crash_after_writes(3);
    let stopped = store.compact(G, CompactionPolicy::ALWAYS, 2_000).await.unwrap_err();
    store.clear_faults();
    assert_eq!(stopped.kind(), StoreErrorKind::Injected);
    check(&store, &memory, &[range], "a generation begun").await;

    // Erasing member 17 now must neither write over that generation nor leave the member in it.
    let mut erase = BatchBuilder::new();
    erase.erase(member(17));
    commit(&mut memory, erase.build(3)).await;
    let refused = store.compact(G, CompactionPolicy::ALWAYS, 3_000).await.unwrap_err();
    assert_eq!(refused.kind(), StoreErrorKind::Conflict, "{refused}");
    check(&store, &memory, &[range], "the erasure waiting").await;

    let later = 3_000 + 15 * 60 * 1000 + 1;
    store.compact(G, CompactionPolicy::ALWAYS, later).await.unwrap();
    check(&store, &memory, &[range], "written over once abandoned").await;
    assert_eq!(store.find_member(G, member(17)).await.unwrap(), Vec::<String>::new());
}

/// A fold that stopped after a day's last shard but before its directory entry, then an erasure whose
/// member the day does not hold: the erasure finds the day folded already and must name the readable
/// generation before it deletes the one the directory still names.
#[tokio::test]
async fn an_erasure_after_a_stopped_fold_names_the_readable_generation_before_deleting_the_old() {
    let (store, _, _) = store_and_client("directory-erase-after-stop").await;
    let first = day("2026-11-05");
    let range = DayRange::single(first);
    let mut view = store.load_sync_view(G, engagement_domain::MessageId(0)).await.unwrap();
    let mut memory = MemoryCounters::new();
    let mut commit = async |memory: &mut MemoryCounters, batch: Batch| {
        model(memory, &batch);
        store.commit(&mut view, batch).await.unwrap();
    };
    commit(&mut memory, days(first, 0, 1, 1)).await;
    store.compact(G, CompactionPolicy::ALWAYS, 1_000).await.unwrap();
    commit(&mut memory, days(first, 0, 1, 2)).await;
    // Stop right before the directory entry: after the note and the day's three shards.
    store.inject_crash_after_writes(4);
    let stopped = store.compact(G, CompactionPolicy::ALWAYS, 2_000).await.unwrap_err();
    store.clear_faults();
    assert_eq!(stopped.kind(), StoreErrorKind::Injected);
    check(&store, &memory, &[range], "stopped before the entry").await;
    let mut erase = BatchBuilder::new();
    erase.erase(UserId(42));
    commit(&mut memory, erase.build(3)).await;
    store.compact(G, CompactionPolicy::ALWAYS, 3_000 + 15 * 60 * 1000).await.unwrap();
    check(&store, &memory, &[range], "after the erasure").await;
}

/// Messages per (day, channel, member) as the activity reads them, and as the whole days hold them; and
/// the first day of each (member, channel) as stored, and as the whole days say.
async fn activity_and_days(
    store: &CounterStore,
    range: DayRange,
) -> [Vec<(Day, u64, u64, i64)>; 2] {
    let mut read = Vec::new();
    store
        .scan_activity(G, range, |day, tally| {
            read.extend(tally.counters.iter().map(|((c, u), n)| (day, c.0, u.0, n.messages)));
            std::ops::ControlFlow::Continue(())
        })
        .await
        .unwrap();
    let whole = store.load_days(G, range).await.unwrap();
    let expected = whole
        .records()
        .filter(|(_, _, _, n)| n.messages > 0)
        .map(|(d, c, u, n)| (d, c.0, u.0, n.messages))
        .collect();
    [read, expected]
}

async fn first_seen_and_days(
    store: &CounterStore,
    range: DayRange,
) -> [BTreeMap<(UserId, ChannelId), Day>; 2] {
    let whole = store.load_days(G, range).await.unwrap();
    let mut expected = BTreeMap::new();
    for (day, channel, member, counts) in whole.records() {
        if counts.messages > 0 {
            expected.entry((member, channel)).or_insert(day);
        }
    }
    [store.load_first_seen(G).await.unwrap(), expected]
}

/// A guild whose days were folded before the store kept activity and first-seen days: reads say so
/// (never a wrong figure) until the next compaction builds both from the day summaries, and then agree
/// with the days.
#[tokio::test]
async fn activity_is_built_from_the_day_summaries_of_a_guild_counted_before_it_existed() {
    let (store, client, table) = store_and_client("activity-build").await;
    let first = day("2026-11-01");
    let mut view = store.load_sync_view(G, engagement_domain::MessageId(0)).await.unwrap();
    store.commit(&mut view, days(first, 0, 4, 1)).await.unwrap();
    store.compact(G, CompactionPolicy::ALWAYS, 10).await.unwrap();
    let range = DayRange { first, last: first.plus(9) };
    let [read, expected] = activity_and_days(&store, range).await;
    assert_eq!(read, expected, "written with the days");

    // What a store of the earlier version left: day summaries, no activity, no first days.
    for partition in ["ACTIVE", "FIRST"] {
        let items = client
            .query()
            .table_name(&table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("G#{G}#{partition}")))
            .send()
            .await
            .unwrap();
        assert!(!items.items().is_empty(), "{partition} items were written");
        for item in items.items() {
            client
                .delete_item()
                .table_name(&table)
                .set_key(Some(key_of(item)))
                .send()
                .await
                .unwrap();
        }
    }
    client
        .update_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(format!("G#{G}")))
        .key("sk", AttributeValue::S("FOLD".to_owned()))
        .update_expression("REMOVE activity_built")
        .send()
        .await
        .unwrap();
    let behind = store.load_first_seen(G).await.unwrap_err();
    assert_eq!(behind.kind(), StoreErrorKind::CompactionBehind, "{behind}");
    // The day activity, meanwhile, comes from the day summaries.
    let [read, expected] = activity_and_days(&store, range).await;
    assert_eq!(read, expected, "read from the days until it is built");
    assert!(!read.is_empty());

    // The first compaction of this version only notes when it saw the guild (a run of the earlier
    // version may still be folding days without activity), and folds its own batch (one member, who
    // was counted before too).
    let mut one = BatchBuilder::new();
    one.add(first.plus(1), ChannelId(10), member(0), Counts::messages(1));
    store.commit(&mut view, one.build(2)).await.unwrap();
    store.compact(G, CompactionPolicy::ALWAYS, 20).await.unwrap();
    let behind = store.load_first_seen(G).await.unwrap_err();
    assert_eq!(behind.kind(), StoreErrorKind::CompactionBehind, "{behind}");
    // 16 minutes later, a compaction with nothing to fold builds them: into the one shard that fold
    // wrote, and into 63 that no fold wrote.
    store.compact(G, CompactionPolicy::ALWAYS, 20 + 16 * 60 * 1000).await.unwrap();
    let [stored, expected] = first_seen_and_days(&store, range).await;
    assert_eq!(stored, expected, "built");
    // Then folds go on as usual (days 2..8, two of them new).
    store.commit(&mut view, days(first, 2, 8, 3)).await.unwrap();
    store.compact(G, CompactionPolicy::ALWAYS, 30 + 16 * 60 * 1000).await.unwrap();
    let [read, expected] = activity_and_days(&store, range).await;
    assert!(read.len() > 4_000, "{} counters", read.len());
    assert_eq!(read, expected, "built, then folded");
    let [stored, expected] = first_seen_and_days(&store, range).await;
    assert_eq!(stored, expected);
    assert!(stored.values().any(|d| *d == first) && stored.values().all(|d| *d < first.plus(4)));
}
