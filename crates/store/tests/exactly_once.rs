//! Exactly-once under crashes: a small sync driver over a synthetic world, crashed before and after every
//! single write, re-run from what is stored, must end with counters equal to a model computed in memory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use engagement_domain::counting::{emoji_state, reaction_deltas};
use engagement_domain::{
    BatchBuilder, ChannelCursor, ChannelId, Counts, DailyTallies, Day, DayRange, GuildId,
    MessageId, MessageReactions, Tally, UserId,
};
use engagement_store::{CompactionPolicy, CounterStore, StoreError, StoreErrorKind};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Msg {
    id: u64,
    day: Day,
    author: u64,
    reactions: BTreeMap<String, BTreeSet<u64>>,
}

/// Messages per channel, in id order.
type World = BTreeMap<ChannelId, Vec<Msg>>;

const FIRST_DAY: i32 = 20_000;
/// Batch creation time: after every message of the synthetic world (their ids are small snowflakes).
const NOW: u64 = 2_000_000_000_000;
const DAYS: i32 = 4;

fn expected(world: &World) -> BTreeMap<(Day, ChannelId, UserId), Counts> {
    let mut out: BTreeMap<(Day, ChannelId, UserId), Counts> = BTreeMap::new();
    for (&channel, msgs) in world {
        for m in msgs {
            let received: i64 = m.reactions.values().map(|r| r.len() as i64).sum();
            *out.entry((m.day, channel, UserId(m.author))).or_default() +=
                Counts { messages: 1, reactions_given: 0, reactions_received: received };
            for reactors in m.reactions.values() {
                for &r in reactors {
                    *out.entry((m.day, channel, UserId(r))).or_default() +=
                        Counts { reactions_given: 1, ..Counts::ZERO };
                }
            }
        }
    }
    out.retain(|_, c| !c.is_zero());
    out
}

/// The local hour of a synthetic message.
fn hour(m: &Msg) -> u8 {
    (m.id % 24) as u8
}

fn expected_hours(world: &World) -> BTreeMap<(Day, u8, ChannelId), i64> {
    let mut out: BTreeMap<(Day, u8, ChannelId), i64> = BTreeMap::new();
    for (&channel, msgs) in world {
        for m in msgs {
            *out.entry((m.day, hour(m), channel)).or_default() += 1;
        }
    }
    out
}

fn state(channel: ChannelId, m: &Msg) -> MessageReactions {
    MessageReactions {
        message: MessageId(m.id),
        source: channel,
        channel,
        day: m.day,
        author: Some(UserId(m.author)),
        emojis: m
            .reactions
            .iter()
            .filter(|(_, r)| !r.is_empty())
            .map(|(e, r)| emoji_state(e.clone(), r.len() as u32, r.iter().map(|u| UserId(*u))))
            .collect(),
    }
}

/// One sync run: forward over new messages in batches of `per_batch`, then reconcile reactions.
async fn sync_once(
    store: &CounterStore,
    guild: GuildId,
    world: &World,
    per_batch: usize,
    now: u64,
) -> Result<(), StoreError> {
    let policy = CompactionPolicy {
        days_after_batches: 2,
        days_after_ms: u64::MAX,
        all_time_after_batches: 3,
        all_time_after_ms: u64::MAX,
    };
    store.compact(guild, policy, now).await?;
    let mut view = store.load_sync_view(guild, MessageId(0)).await?;
    for (&channel, msgs) in world {
        let mut cursor = view
            .cursors
            .cursors
            .get(&channel)
            .copied()
            .unwrap_or(ChannelCursor::starting_at(channel, None, MessageId(0)));
        let new: Vec<&Msg> = msgs.iter().filter(|m| m.id > cursor.after.0).collect();
        for chunk in new.chunks(per_batch) {
            let mut b = BatchBuilder::new();
            for m in chunk {
                let s = state(channel, m);
                b.add(m.day, channel, UserId(m.author), Counts::messages(1));
                b.add_hour(m.day, hour(m), channel, 1);
                for (user, delta) in reaction_deltas(None, &s) {
                    b.add(m.day, channel, user, delta);
                }
                b.set_reactions(s);
                cursor.after = MessageId(m.id);
            }
            b.set_cursor(cursor);
            store.commit(&mut view, b.build(now)).await?;
            store.compact(guild, policy, now).await?;
        }
        // Reconcile reactions of counted messages.
        let mut b = BatchBuilder::new();
        for m in msgs.iter().filter(|m| m.id <= cursor.after.0) {
            let now_state = state(channel, m);
            let before = view.reactions.messages.get(&MessageId(m.id));
            let unchanged = before.map(|b| &b.emojis) == Some(&now_state.emojis)
                || (before.is_none() && now_state.emojis.is_empty());
            if !unchanged {
                for (user, delta) in reaction_deltas(before, &now_state) {
                    b.add(m.day, channel, user, delta);
                }
                b.set_reactions(now_state);
            }
        }
        if !b.is_empty() {
            store.commit(&mut view, b.build(now)).await?;
        }
    }
    Ok(())
}

/// Runs a sync to completion, re-running after injected crashes (at most `crashes` of them).
async fn sync_until_done(
    store: &CounterStore,
    guild: GuildId,
    world: &World,
    per_batch: usize,
    now: u64,
) -> Result<u32, StoreError> {
    let mut reruns = 0;
    loop {
        match sync_once(store, guild, world, per_batch, now).await {
            Ok(()) => return Ok(reruns),
            Err(e) if e.kind() == StoreErrorKind::Injected => {
                store.clear_faults();
                reruns += 1;
                assert!(reruns < 5, "a crash was injected more than once");
            }
            Err(e) => return Err(e),
        }
    }
}

fn range() -> DayRange {
    DayRange { first: Day::from_ordinal(FIRST_DAY), last: Day::from_ordinal(FIRST_DAY + DAYS - 1) }
}

fn as_map(days: &DailyTallies) -> BTreeMap<(Day, ChannelId, UserId), Counts> {
    days.records().map(|(d, c, u, n)| ((d, c, u), n)).collect()
}

fn all_time(model: &BTreeMap<(Day, ChannelId, UserId), Counts>) -> Tally {
    let mut t = Tally::new();
    for (&(_, c, u), &n) in model {
        t.add(c, u, n);
    }
    t
}

async fn assert_store_matches(
    store: &CounterStore,
    guild: GuildId,
    world: &World,
    context: &str,
) -> anyhow::Result<()> {
    let model = expected(world);
    assert_eq!(as_map(&store.load_days(guild, range()).await?), model, "days differ {context}");
    assert_eq!(
        store.load_all_time(guild).await?.counters,
        all_time(&model).counters,
        "all time differs {context}"
    );
    assert_eq!(
        store.load_hours(guild, range()).await?.messages,
        expected_hours(world),
        "hourly counts differ {context}"
    );
    let mut activity = BTreeMap::new();
    store
        .scan_activity(guild, range(), |day, tally| {
            activity
                .extend(tally.counters.into_iter().map(|((c, u), n)| ((day, c, u), n.messages)));
            std::ops::ControlFlow::Continue(())
        })
        .await?;
    let messages: BTreeMap<(Day, ChannelId, UserId), i64> =
        model.iter().filter(|(_, n)| n.messages > 0).map(|(k, n)| (*k, n.messages)).collect();
    assert_eq!(activity, messages, "activity differs {context}");
    let mut first_seen = BTreeMap::new();
    for &(day, channel, member) in messages.keys() {
        first_seen.entry((member, channel)).or_insert(day);
    }
    assert_eq!(store.load_first_seen(guild).await?, first_seen, "first days differ {context}");
    Ok(())
}

/// A deterministic world and a later wave: new messages, reactions added and removed.
fn waves() -> Vec<World> {
    let mut world: World = BTreeMap::new();
    let mut next_id = 1_000u64;
    let mut out = Vec::new();
    for wave in 0..2u64 {
        for ch in 1..=2u64 {
            let msgs = world.entry(ChannelId(ch)).or_default();
            for i in 0..(2 + ch + wave) {
                next_id += 1 + (i * 7 + ch) % 5;
                let mut reactions = BTreeMap::new();
                if (next_id + wave).is_multiple_of(3) {
                    reactions.insert("👍".to_owned(), BTreeSet::from([10 + (i % 4), 11 + ch]));
                }
                msgs.push(Msg {
                    id: next_id,
                    day: Day::from_ordinal(FIRST_DAY + ((next_id / 7) % DAYS as u64) as i32),
                    author: 10 + (i + ch) % 5,
                    reactions,
                });
            }
            // Reactions change on older messages.
            for (k, m) in msgs.iter_mut().enumerate() {
                if (k as u64 + wave) % 4 == 1 {
                    m.reactions.entry("party:42".to_owned()).or_default().insert(20 + wave);
                }
                if (k as u64 + wave) % 5 == 2 {
                    m.reactions.remove("👍");
                }
            }
        }
        out.push(world.clone());
    }
    out
}

async fn run_with_fault(
    store: &CounterStore,
    guild: GuildId,
    fault: Option<(u64, bool)>,
) -> anyhow::Result<u32> {
    let mut reruns = 0;
    for (wave, world) in waves().iter().enumerate() {
        if wave == 1
            && let Some((k, after)) = fault
        {
            if after {
                store.inject_lost_ack_after_writes(k);
            } else {
                store.inject_crash_after_writes(k);
            }
        }
        reruns += sync_until_done(store, guild, world, 3, NOW + 1_000 * wave as u64).await?;
        assert_store_matches(
            store,
            guild,
            world,
            &format!("after wave {wave} with fault {fault:?}"),
        )
        .await?;
    }
    store.clear_faults();
    store.compact(guild, CompactionPolicy::ALWAYS, NOW + 99_999).await?;
    assert_store_matches(
        store,
        guild,
        waves().last().unwrap(),
        &format!("after full compaction with fault {fault:?}"),
    )
    .await?;
    Ok(reruns)
}

async fn new_store(prefix: &str) -> anyhow::Result<CounterStore> {
    let (client, table) = engagement_testkit::dynamo::client_and_table_name(prefix).await?;
    let store = CounterStore::new(client, table);
    store.create_table().await?;
    Ok(store)
}

/// Crash before, and lose the acknowledgement after, every single write of the second wave in turn.
#[tokio::test]
async fn a_crash_at_every_write_boundary_never_double_counts_or_loses_a_count() -> anyhow::Result<()>
{
    let store = new_store("crash-sweep").await?;
    // Count the write requests of a clean run of the faulted waves.
    let clean = GuildId(1);
    let mut writes = 0;
    for (wave, world) in waves().iter().enumerate() {
        let before = store.usage().write_requests;
        sync_until_done(&store, clean, world, 3, NOW + 1_000 * wave as u64).await?;
        if wave >= 1 {
            writes += store.usage().write_requests - before;
        }
    }
    assert!(writes > 10, "the faulted waves make {writes} writes");
    let mut crashes = 0;
    for k in 0..writes {
        for after in [false, true] {
            let guild = GuildId(1_000 + k * 2 + u64::from(after));
            crashes += run_with_fault(&store, guild, Some((k, after))).await?;
        }
    }
    // Every write index crashed once in each mode.
    assert_eq!(u64::from(crashes), 2 * writes);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(12), ..ProptestConfig::default() })]

    /// Random worlds, batch sizes and crash points.
    #[test]
    fn random_batches_with_random_crashes_match_the_model(
        seed in 0u64..1_000_000,
        per_batch in 1usize..6,
        crash_at in 0u64..80,
        lost_ack in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let store = new_store("prop").await?;
            let guild = GuildId(seed);
            let mut world: World = BTreeMap::new();
            let mut rng = seed;
            let mut next = || { rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407); rng >> 33 };
            let mut id = 10_000u64;
            for wave in 0..3 {
                for _ in 0..(5 + next() % 10) {
                    id += 1 + next() % 50;
                    let ch = ChannelId(1 + next() % 4);
                    let mut reactions = BTreeMap::new();
                    for _ in 0..(next() % 3) {
                        reactions.entry(["👍", "🎉", "x:9"][(next() % 3) as usize].to_owned()).or_insert_with(BTreeSet::new).insert(100 + next() % 6);
                    }
                    world.entry(ch).or_default().push(Msg { id, day: Day::from_ordinal(FIRST_DAY + (next() % DAYS as u64) as i32), author: 100 + next() % 6, reactions });
                }
                // Random reaction changes on existing messages.
                for msgs in world.values_mut() {
                    for m in msgs.iter_mut() {
                        match next() % 6 {
                            0 => { m.reactions.entry("🔥".to_owned()).or_default().insert(100 + next() % 6); }
                            1 => { m.reactions.clear(); }
                            _ => {}
                        }
                    }
                }
                if wave == 1 {
                    if lost_ack { store.inject_lost_ack_after_writes(crash_at) } else { store.inject_crash_after_writes(crash_at) }
                }
                sync_until_done(&store, guild, &world, per_batch, NOW + wave * 1_000).await?;
                assert_store_matches(&store, guild, &world, &format!("seed {seed} wave {wave}")).await?;
            }
            store.clear_faults();
            store.compact(guild, CompactionPolicy::ALWAYS, NOW + 99_999).await?;
            assert_store_matches(&store, guild, &world, &format!("seed {seed} compacted")).await?;
            Ok::<(), anyhow::Error>(())
        }).map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
    }
}
