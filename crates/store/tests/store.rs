//! The counter store against a real DynamoDB protocol server (moto, started by `scripts/test`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::BTreeMap;

use engagement_domain::summary::CursorTable;

use engagement_domain::{
    Batch, BatchBuilder, ChannelCursor, ChannelId, CounterReader, Counts, Day, DayRange,
    GuildConfig, GuildId, MessageId, Metric, Scope, Tally, UserId,
};
use engagement_store::{
    CompactionPolicy, ConfigVersion, CounterStore, StoreErrorKind, TableCreation,
};
use engagement_testkit::memory::MemoryCounters;

use common::{G, day, model, store};

#[tokio::test]
async fn create_table_is_idempotent_and_a_missing_table_says_how_to_create_it() -> anyhow::Result<()>
{
    let store = store("create").await?;
    assert_eq!(store.create_table().await?, TableCreation::AlreadyExists);
    let (client, name) = engagement_testkit::dynamo::client_and_table_name("missing").await?;
    let missing = CounterStore::new(client, name);
    let err = missing.guild_config(G).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::TableMissing);
    assert!(err.to_string().contains("engagement create-table"), "{err}");
    Ok(())
}

#[tokio::test]
async fn committed_batches_read_back_before_and_after_compaction() -> anyhow::Result<()> {
    let store = store("roundtrip").await?;
    let mut view = store.load_sync_view(G, MessageId(0)).await?;
    assert_eq!(view.seq, 0);
    let mut b = BatchBuilder::new();
    b.add(day("2026-11-27"), ChannelId(10), UserId(7), Counts::messages(2));
    b.add(
        day("2026-11-28"),
        ChannelId(10),
        UserId(7),
        Counts { messages: 1, reactions_given: 0, reactions_received: 4 },
    );
    b.add(day("2026-11-28"), ChannelId(11), UserId(8), Counts::messages(5));
    b.set_category(ChannelId(10), Some(ChannelId(100)));
    b.set_cursor(ChannelCursor {
        after: MessageId(500),
        ..ChannelCursor::starting_at(ChannelId(10), None, MessageId(0))
    });
    assert_eq!(store.commit(&mut view, b.build(1_000)).await?, 1);

    let range = DayRange::new(day("2026-11-27"), day("2026-11-28")).unwrap();
    let before = store.load_days(G, range).await?;
    assert_eq!(before.total().total(Scope::Guild).messages, 8);
    assert_eq!(before.total().total(Scope::Category(ChannelId(100))).messages, 3);
    let all_before = store.load_all_time(G).await?;

    let report = store.compact(G, CompactionPolicy::ALWAYS, 2_000).await?;
    assert_eq!(
        (report.days_written, report.cursors_written, report.all_time_written),
        (2, 1, true)
    );
    assert_eq!(store.load_days(G, range).await?, before);
    assert_eq!(store.load_all_time(G).await?, all_before);
    assert_eq!(all_before.member_total(UserId(7), Scope::Guild).reactions_received, 4);

    // A fresh view sees the folded cursor and the log position.
    let view = store.load_sync_view(G, MessageId(0)).await?;
    assert_eq!(view.seq, 1);
    assert_eq!(view.cursors.cursors.get(&ChannelId(10)).map(|c| c.after), Some(MessageId(500)));
    // Compacting again changes nothing.
    let again = store.compact(G, CompactionPolicy::ALWAYS, 3_000).await?;
    assert_eq!(again.days_written + again.cursors_written, 0);
    assert_eq!(store.load_days(G, range).await?, before);
    Ok(())
}

#[tokio::test]
async fn a_stale_view_cannot_commit_and_a_repeated_batch_counts_once() -> anyhow::Result<()> {
    let store = store("conflict").await?;
    let mut first = store.load_sync_view(G, MessageId(0)).await?;
    let mut stale = first.clone();
    let mut b = BatchBuilder::new();
    b.add(day("2026-11-28"), ChannelId(10), UserId(7), Counts::messages(1));
    b.set_cursor(ChannelCursor {
        after: MessageId(9),
        ..ChannelCursor::starting_at(ChannelId(10), None, MessageId(0))
    });
    let batch = b.build(1);
    store.commit(&mut first, batch.clone()).await?;
    // The same batch again through a view that did not see the first commit: recognised as already there.
    assert_eq!(store.commit(&mut stale.clone(), batch.clone()).await?, 1);
    // A different batch through the stale view: refused.
    let mut other = BatchBuilder::new();
    other.add(day("2026-11-28"), ChannelId(10), UserId(7), Counts::messages(1));
    other.set_cursor(ChannelCursor {
        after: MessageId(12),
        ..ChannelCursor::starting_at(ChannelId(10), None, MessageId(0))
    });
    let err = store.commit(&mut stale, other.build(2)).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Conflict);
    let days = store.load_days(G, DayRange::single(day("2026-11-28"))).await?;
    assert_eq!(days.total().total(Scope::Guild).messages, 1);
    Ok(())
}

#[tokio::test]
async fn erasing_a_member_removes_them_everywhere_and_opts_them_out() -> anyhow::Result<()> {
    let store = store("erase").await?;
    let mut view = store.load_sync_view(G, MessageId(0)).await?;
    for (i, d) in ["2026-11-26", "2026-11-27", "2026-11-28"].into_iter().enumerate() {
        let mut b = BatchBuilder::new();
        b.add(day(d), ChannelId(10), UserId(7), Counts::messages(2));
        b.add(day(d), ChannelId(10), UserId(8), Counts::messages(1));
        store.commit(&mut view, b.build(i as u64)).await?;
        if i == 1 {
            store.compact(G, CompactionPolicy::ALWAYS, 10).await?;
        }
    }
    store.erase_member(G, UserId(7), 100).await?;
    let range = DayRange::new(day("2026-11-01"), day("2026-11-30")).unwrap();
    let days = store.load_days(G, range).await?;
    assert!(days.records().all(|(_, _, u, _)| u != UserId(7)));
    assert_eq!(days.total().total(Scope::Guild).messages, 3);
    assert_eq!(store.load_all_time(G).await?.member_total(UserId(7), Scope::Guild), Counts::ZERO);
    assert!(store.guild_config(G).await?.unwrap_or_default().opted_out.contains(&UserId(7)));
    Ok(())
}

#[tokio::test]
async fn guild_configuration_round_trips() -> anyhow::Result<()> {
    let store = store("config").await?;
    assert_eq!(store.guild_config(G).await?, None);
    let mut config = GuildConfig { time_zone: "Europe/Paris".parse()?, ..GuildConfig::default() };
    config.excluded_channels.insert(ChannelId(5));
    store.put_guild_config(G, &config, ConfigVersion::NONE).await?;
    assert_eq!(store.guild_config(G).await?, Some(config));
    Ok(())
}

#[tokio::test]
async fn a_configuration_change_made_in_between_is_never_overwritten() -> anyhow::Result<()> {
    let store = store("configrace").await?;
    // Two first writers: the second finds the first's configuration there.
    store.put_guild_config(G, &GuildConfig::default(), ConfigVersion::NONE).await?;
    let err = store.put_guild_config(G, &GuildConfig::default(), ConfigVersion::NONE).await;
    assert_eq!(err.map_err(|e| e.kind()), Err(StoreErrorKind::Conflict));

    // An admin and a member read the same version; the admin saves first.
    let (Some(mut admin), admin_version) = store.guild_config_for_update(G).await? else {
        panic!("stored above")
    };
    let (Some(mut member), member_version) = store.guild_config_for_update(G).await? else {
        panic!("stored above")
    };
    admin.excluded_channels.insert(ChannelId(5));
    store.put_guild_config(G, &admin, admin_version).await?;
    member.opted_out.insert(UserId(7));
    let err = store.put_guild_config(G, &member, member_version).await;
    assert_eq!(
        err.map_err(|e| e.kind()),
        Err(StoreErrorKind::Conflict),
        "the opt-out must not erase the exclusion"
    );

    // Redone from a fresh read (what update_guild_config does), both changes are kept.
    let default = GuildConfig::default();
    assert!(store.update_guild_config(G, &default, |c| c.opted_out.insert(UserId(7))).await?);
    assert!(!store.update_guild_config(G, &default, |c| c.opted_out.insert(UserId(7))).await?);
    let stored = store.guild_config(G).await?.unwrap_or_default();
    assert!(
        stored.excluded_channels.contains(&ChannelId(5)) && stored.opted_out.contains(&UserId(7))
    );

    // A configuration stored before versions existed is version 0, and still guarded.
    let (client, table) = engagement_testkit::dynamo::client_and_table_name("configold").await?;
    let old = CounterStore::new(client.clone(), table.clone());
    old.create_table().await?;
    client
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S(format!("G#{}", G.0)))
        .item("sk", AttributeValue::S("CONFIG".to_owned()))
        .item("config", AttributeValue::S(serde_json::to_string(&GuildConfig::default())?))
        .send()
        .await?;
    let (Some(first), version) = old.guild_config_for_update(G).await? else {
        panic!("the item above does not read back: check the key layout in items.rs")
    };
    old.put_guild_config(G, &first, version).await?;
    let err = old.put_guild_config(G, &first, version).await;
    assert_eq!(err.map_err(|e| e.kind()), Err(StoreErrorKind::Conflict));
    Ok(())
}

#[tokio::test]
async fn the_lease_is_exclusive_until_released_or_expired() -> anyhow::Result<()> {
    let store = store("lease").await?;
    let a = store.acquire_lease("sync", "run-a", 60_000, 1_000).await?.expect("free lease");
    assert!(store.acquire_lease("sync", "run-b", 60_000, 2_000).await?.is_none());
    assert!(
        store.acquire_lease("sync", "run-a", 60_000, 3_000).await?.is_some(),
        "the holder renews"
    );
    assert!(
        store.acquire_lease("sync", "run-b", 60_000, 63_001).await?.is_some(),
        "an expired lease is free"
    );
    store.release_lease(&a).await?; // no longer a's: nothing happens
    assert!(store.acquire_lease("sync", "run-c", 60_000, 64_000).await?.is_none());
    Ok(())
}

/// The schedule rows read back as written, and a check recorded after a slash command keeps the nudge
/// (the command came during the check: the next run must still take the guild first).
#[tokio::test]
async fn schedule_rows_round_trip_and_a_check_keeps_a_later_nudge() -> anyhow::Result<()> {
    use engagement_domain::GuildSchedule;
    let store = store("schedule").await?;
    assert!(store.guild_schedules().await?.is_empty());
    let (a, b) = (GuildId(11), GuildId(12));
    store.nudge_guild(a, 5_000).await?;
    let checked =
        GuildSchedule { checked_ms: 4_000, quiet_checks: 3, nudged_ms: 0, roles_listed_ms: 4_000 };
    store.record_check(a, &checked).await?;
    store.record_check(b, &GuildSchedule { checked_ms: 9_000, ..GuildSchedule::default() }).await?;
    let rows = store.guild_schedules().await?;
    assert_eq!(rows.get(&a), Some(&GuildSchedule { nudged_ms: 5_000, ..checked }));
    assert!(rows.get(&a).is_some_and(GuildSchedule::urgent), "the nudge outlives the check");
    assert_eq!(rows.get(&b).map(|r| (r.checked_ms, r.quiet_checks)), Some((9_000, 0)));
    assert_eq!(rows.len(), 2);
    Ok(())
}

#[tokio::test]
async fn big_summaries_are_sharded_and_read_back_exactly() -> anyhow::Result<()> {
    let store = store("shards").await?;
    let mut view = store.load_sync_view(G, MessageId(0)).await?;
    // ~60k (channel, member) counters: well over one 300 KiB shard.
    for chunk in 0..6u64 {
        let mut b = BatchBuilder::new();
        for i in 0..10_000u64 {
            let user = UserId(900_000_000_000_000_000 + chunk * 10_000 + i);
            b.add(
                day("2026-11-28"),
                ChannelId(1 + i % 7),
                user,
                Counts {
                    messages: 1 + (i % 3) as i64,
                    reactions_given: (i % 2) as i64,
                    reactions_received: 0,
                },
            );
        }
        store.commit(&mut view, b.build(chunk)).await?;
    }
    let range = DayRange::single(day("2026-11-28"));
    let before = store.load_days(G, range).await?;
    store.compact(G, CompactionPolicy::ALWAYS, 10).await?;
    let after = store.load_days(G, range).await?;
    assert_eq!(after, before);
    assert_eq!(after.total().counters.len(), 60_000);
    // Too many members for one activity item: the day is read from its summary, messages only.
    let mut activity = Vec::new();
    store
        .scan_activity(G, range, |day, tally| {
            activity.push((day, tally));
            std::ops::ControlFlow::Continue(())
        })
        .await?;
    let messages = |t: &engagement_domain::Tally| {
        t.counters.iter().map(|(k, n)| (*k, n.messages)).collect::<Vec<_>>()
    };
    assert_eq!(activity.len(), 1);
    assert_eq!(messages(&activity[0].1), messages(&after.total()));
    let top = store.load_all_time(G).await?.top_members(Metric::Messages, Scope::Guild, 3);
    assert_eq!(top.len(), 3);
    assert!(
        store.usage().write_units > 600,
        "a 60k-counter day costs hundreds of write units to fold"
    );
    Ok(())
}

#[tokio::test]
async fn an_empty_cursor_table_is_what_a_new_guild_sees() -> anyhow::Result<()> {
    let store = store("newguild").await?;
    let view = store.load_sync_view(GuildId(99), MessageId(0)).await?;
    assert_eq!(view.cursors, CursorTable::default());
    assert!(view.reactions.messages.is_empty());
    Ok(())
}

#[tokio::test]
async fn totals_over_months_equal_the_sum_of_their_days_and_the_in_memory_reader_in_every_fold_state()
-> anyhow::Result<()> {
    let store = store("monthly").await?;
    let mut view = store.load_sync_view(G, MessageId(0)).await?;
    let first = day("2026-01-20");
    let commit_days = |from: i32, to: i32, seq: u64| {
        let mut b = BatchBuilder::new();
        for d in from..to {
            for u in 0..5u64 {
                let counts = Counts {
                    messages: 1 + (d as i64 + u as i64) % 4,
                    reactions_given: u as i64 % 2,
                    reactions_received: (d % 3) as i64,
                };
                b.add(first.plus(d), ChannelId(10 + u % 3), UserId(100 + u), counts);
            }
        }
        b.set_category(ChannelId(10), Some(ChannelId(99)));
        b.build(seq)
    };
    let ranges: Vec<DayRange> =
        // Whole months, months read as days, and months read whole minus days outside the range
        // (Feb 3-26; Jan 15-31; Apr 1-27 with data on Apr 28-29).
        [
            (0, 100),
            (5, 45),
            (11, 40),
            (12, 39),
            (12, 67),
            (40, 41),
            (0, 11),
            (30, 95),
            (14, 37),
            (-5, 60),
            (4, 97),
        ]
        .into_iter()
            .map(|(a, b)| DayRange { first: first.plus(a), last: first.plus(b) })
            .collect();
    // The in-memory reader the report tests use gets the same counters: both must answer alike.
    let mut memory = MemoryCounters::new();
    let mut commit = async |memory: &mut MemoryCounters, batch: Batch| {
        model(memory, &batch);
        store.commit(&mut view, batch).await
    };
    let check = |label: &'static str, memory: MemoryCounters| {
        let store = store.clone();
        let ranges = ranges.clone();
        async move {
            for range in ranges {
                let by_day = store.load_days(G, range).await?.total();
                let total = store.load_total(G, range).await?;
                assert_eq!(total.counters, by_day.counters, "{label}: {range}");
                let modelled = CounterReader::load_total(&memory, G, range).await?;
                same_tally(&total, &modelled, &format!("{label}: total of {range}"));
                let (stored, modelled) =
                    (scanned(&store, range).await?, scanned(&memory, range).await?);
                assert_eq!(stored.keys().collect::<Vec<_>>(), modelled.keys().collect::<Vec<_>>());
                for (day, tally) in &stored {
                    same_tally(tally, &modelled[day], &format!("{label}: {day}"));
                }
            }
            let all_time = CounterReader::load_all_time(&store, G).await?;
            same_tally(&all_time, &CounterReader::load_all_time(&memory, G).await?, label);
            anyhow::Ok(())
        }
    };
    commit(&mut memory, commit_days(0, 40, 1)).await?;
    check("nothing folded", memory.clone()).await?;
    store
        .compact(
            G,
            CompactionPolicy {
                all_time_after_batches: u64::MAX,
                all_time_after_ms: u64::MAX,
                ..CompactionPolicy::ALWAYS
            },
            10,
        )
        .await?;
    check("days folded, months not", memory.clone()).await?;
    commit(&mut memory, commit_days(30, 100, 2)).await?;
    store.compact(G, CompactionPolicy::ALWAYS, 20).await?;
    check("everything folded", memory.clone()).await?;
    commit(&mut memory, commit_days(35, 70, 3)).await?;
    let mut erase = BatchBuilder::new();
    erase.erase(UserId(101));
    commit(&mut memory, erase.build(4)).await?;
    check("new batches and an erasure waiting", memory.clone()).await?;
    store.compact(G, CompactionPolicy::ALWAYS, 30).await?;
    check("folded again", memory).await?;
    let year = DayRange { first: first.plus(0), last: first.plus(100) };
    let before = store.usage();
    store.load_total(G, year).await?;
    let months = store.usage().since(&before).requests;
    assert!(months <= 6, "a 100-day total took {months} requests");
    Ok(())
}

/// Equal counters, and the same category for each of their channels.
fn same_tally(stored: &Tally, modelled: &Tally, label: &str) {
    assert_eq!(stored.counters, modelled.counters, "{label}");
    for (channel, _) in stored.counters.keys() {
        assert_eq!(
            stored.category_of(*channel),
            modelled.category_of(*channel),
            "{label}: {channel}"
        );
    }
}

/// Every day `reader` hands over for `range`.
async fn scanned<R: CounterReader>(
    reader: &R,
    range: DayRange,
) -> Result<BTreeMap<Day, Tally>, R::Error> {
    let mut days = BTreeMap::new();
    reader
        .scan_days(G, range, |day, tally| {
            days.insert(day, tally);
            std::ops::ControlFlow::Continue(())
        })
        .await?;
    Ok(days)
}

#[tokio::test]
async fn scanning_days_hands_over_what_load_days_returns_in_day_order_and_can_stop()
-> anyhow::Result<()> {
    let store = store("scan").await?;
    let mut view = store.load_sync_view(G, MessageId(0)).await?;
    let first = day("2026-03-01");
    // Days 0, 2, 4, ... folded into day summaries; then days 1, 3, 5, ... only in waiting batches, and
    // one more count on a folded day.
    let mut folded = BatchBuilder::new();
    for d in (0..20).step_by(2) {
        folded.add(
            first.plus(d),
            ChannelId(10),
            UserId(100 + d as u64),
            Counts::messages(1 + d as i64),
        );
    }
    store.commit(&mut view, folded.build(1)).await?;
    store.compact(G, CompactionPolicy::ALWAYS, 10).await?;
    let mut waiting = BatchBuilder::new();
    for d in (1..20).step_by(2) {
        waiting.add(first.plus(d), ChannelId(11), UserId(7), Counts::messages(d as i64));
    }
    waiting.add(first.plus(4), ChannelId(10), UserId(104), Counts::messages(10));
    store.commit(&mut view, waiting.build(2)).await?;

    let range = DayRange { first: first.plus(-3), last: first.plus(25) };
    let expected = store.load_days(G, range).await?;
    assert_eq!(expected.days.len(), 20);
    assert_eq!(
        expected.days[&first.plus(4)].member_total(UserId(104), Scope::Guild),
        Counts::messages(15)
    );
    let mut seen = Vec::new();
    store
        .scan_days(G, range, |d, tally| {
            seen.push((d, tally));
            std::ops::ControlFlow::Continue(())
        })
        .await?;
    let days: Vec<Day> = seen.iter().map(|(d, _)| *d).collect();
    assert!(days.windows(2).all(|w| w[0] < w[1]), "not in day order: {days:?}");
    assert_eq!(seen.into_iter().collect::<std::collections::BTreeMap<_, _>>(), expected.days);

    let mut taken = Vec::new();
    store
        .scan_days(G, range, |d, _| {
            taken.push(d);
            if taken.len() == 3 {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        })
        .await?;
    assert_eq!(taken, vec![first, first.plus(1), first.plus(2)]);
    Ok(())
}
