//! Cost benchmark of the counter store against a real DynamoDB protocol server (moto).
//!
//! Simulates a busy guild's day — 100,000 messages from 2,000 active members in 50 channels, committed as
//! 288 five-minute sync batches with the lease taken and released each run and compaction on its default
//! policy — and reports write units per message (estimated with DynamoDB's billing rules from the real item
//! sizes), then the requests and read units of leaderboards and member cards over 1 day, 30 days and all
//! time. Run: `scripts/bench store` (or with `AWS_ENDPOINT_URL_DYNAMODB` set:
//! `cargo bench -p engagement-store --bench cost -- [--days N]`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation
)]

use std::time::Instant;

use engagement_domain::batch::EmojiReactions;
use engagement_domain::{
    BatchBuilder, ChannelCursor, ChannelId, Counts, Day, DayRange, GuildId, MessageId,
    MessageReactions, Metric, Scope, UserId, snowflake,
};
use engagement_store::{CompactionPolicy, CounterStore, Usage};

const MESSAGES_PER_DAY: u64 = 100_000;
const ACTIVE_MEMBERS: u64 = 2_000;
const CHANNELS: u64 = 50;
const BATCHES_PER_DAY: u64 = 288;

/// A small deterministic generator (no dependency needed for a benchmark).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Index drawn with probability ∝ 1 / (rank + 1)^s.
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: u64, s: f64) -> Self {
        let mut acc = 0.0;
        Self(
            (0..n)
                .map(|k| {
                    acc += 1.0 / ((k + 1) as f64).powf(s);
                    acc
                })
                .collect(),
        )
    }
    fn draw(&self, rng: &mut Rng) -> u64 {
        let x = rng.unit() * self.0.last().copied().unwrap_or(1.0);
        self.0.partition_point(|c| *c < x) as u64
    }
}

struct Guild {
    members: Zipf,
    channels: Zipf,
}

/// One five-minute batch of `n` messages at `at_ms`.
fn batch(
    g: &Guild,
    rng: &mut Rng,
    day: Day,
    at_ms: u64,
    n: u64,
    next_id: &mut u64,
) -> BatchBuilder {
    let mut b = BatchBuilder::new();
    let mut last: std::collections::BTreeMap<u64, u64> = Default::default();
    for _ in 0..n {
        let channel = g.channels.draw(rng);
        let author = UserId(1_000_000_000_000_000_000 + g.members.draw(rng));
        let counting = ChannelId(900_000_000_000_000_000 + channel);
        *next_id += 1 + rng.next() % 1000;
        let id = snowflake::from_timestamp_ms(at_ms) + *next_id % (1 << 22);
        b.add(day, counting, author, Counts::messages(1));
        b.add_hour(day, ((at_ms / 3_600_000) % 24) as u8, counting, 1);
        // 30 % of messages get reactions from 1–4 members.
        if rng.unit() < 0.3 {
            let reactors: Vec<UserId> = (0..1 + rng.next() % 4)
                .map(|_| UserId(1_000_000_000_000_000_000 + g.members.draw(rng)))
                .collect();
            for r in &reactors {
                b.add(day, counting, *r, Counts { reactions_given: 1, ..Counts::ZERO });
            }
            b.add(
                day,
                counting,
                author,
                Counts { reactions_received: reactors.len() as i64, ..Counts::ZERO },
            );
            let mut sorted = reactors.clone();
            sorted.sort();
            sorted.dedup();
            b.set_reactions(MessageReactions {
                message: MessageId(id),
                source: counting,
                channel: counting,
                day,
                author: Some(author),
                emojis: vec![EmojiReactions {
                    emoji: "👍".into(),
                    count: reactors.len() as u32,
                    reactors: sorted,
                }],
            });
        }
        b.set_category(counting, Some(ChannelId(800_000_000_000_000_000 + channel % 8)));
        last.insert(channel, id);
    }
    for (channel, id) in last {
        let c = ChannelId(900_000_000_000_000_000 + channel);
        b.set_cursor(ChannelCursor {
            after: MessageId(id),
            ..ChannelCursor::starting_at(c, None, MessageId(1))
        });
    }
    b
}

/// `/stats` for the busiest member and a typical one (the 200th busiest of 2,000): `member_days`.
async fn member_cards(
    store: &CounterStore,
    guild: GuildId,
    range: DayRange,
    label: &str,
) -> anyhow::Result<()> {
    for (who, rank) in [("busiest member", 0), ("200th member", 199)] {
        let member = UserId(1_000_000_000_000_000_000 + rank);
        let before = store.usage();
        let t = Instant::now();
        let days = store.member_days(guild, member, range).await?;
        let u = store.usage().since(&before);
        let total = days.total().member_total(member, Scope::Guild);
        println!(
            "  /stats {label}, {who}: member_days {} requests, {} RRU, {:.0} ms ({} messages, {} active days)",
            u.requests,
            u.read_units(),
            t.elapsed().as_secs_f64() * 1000.0,
            total.messages,
            days.days.len()
        );
    }
    Ok(())
}

fn per(u: Usage, messages: u64) -> String {
    format!(
        "{:.3} WRU/message ({} WRU, {} write requests, {:.1} MB written)",
        u.write_units as f64 / messages as f64,
        u.write_units,
        u.write_requests,
        u.bytes_written as f64 / 1e6
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let days: u64 = args
        .iter()
        .position(|a| a == "--days")
        .and_then(|i| args.get(i + 1))
        .and_then(|d| d.parse().ok())
        .unwrap_or(30);
    let (client, table) = engagement_testkit::dynamo::client_and_table_name("bench-cost").await?;
    let store = CounterStore::new(client, table);
    store.create_table().await?;
    let guild = GuildId(42);
    let g = Guild { members: Zipf::new(ACTIVE_MEMBERS, 0.9), channels: Zipf::new(CHANNELS, 1.0) };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let first_day: Day = "2026-01-01".parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let start_ms = snowflake::timestamp_ms(snowflake::from_time(
        first_day.start(engagement_domain::GuildTimeZone::UTC),
    ));
    let mut next_id = 0u64;
    let per_batch = MESSAGES_PER_DAY / BATCHES_PER_DAY;

    // Day 1: the realistic day, five-minute batches, lease per run, default compaction.
    println!("# Counter store cost (moto at {})", engagement_testkit::dynamo::endpoint()?);
    let t0 = Instant::now();
    let before = store.usage();
    let mut view = store.load_sync_view(guild, MessageId(0)).await?;
    let mut batch_bytes = 0usize;
    for i in 0..BATCHES_PER_DAY {
        let now = start_ms + i * 300_000;
        let lease = store.acquire_lease("sync", "bench", 60_000, now).await?.expect("lease");
        store.compact(guild, CompactionPolicy::default(), now).await?;
        let b = batch(&g, &mut rng, first_day, now, per_batch, &mut next_id);
        let built = b.build(now);
        batch_bytes += built.encode()?.len();
        store.commit(&mut view, built).await?;
        store.release_lease(&lease).await?;
    }
    let day_usage = store.usage().since(&before);
    let messages = per_batch * BATCHES_PER_DAY;
    println!(
        "realistic day: {messages} messages, {ACTIVE_MEMBERS} members (Zipf), {CHANNELS} channels, {BATCHES_PER_DAY} batches of {per_batch}"
    );
    println!(
        "  all writes of the day (batches, compaction, cursors, lease): {}",
        per(day_usage, messages)
    );
    println!("  average batch: {:.1} KiB", batch_bytes as f64 / BATCHES_PER_DAY as f64 / 1024.0);
    println!("  simulated in {:.1} s", t0.elapsed().as_secs_f64());
    // What each sync run reads before it calls Discord: cursors, the log's tail and the reaction window.
    let end_of_day = start_ms + BATCHES_PER_DAY * 300_000;
    let window = MessageId(snowflake::from_timestamp_ms(end_of_day - 86_400_000));
    let before = store.usage();
    let sync_view = store.load_sync_view(guild, window).await?;
    let u = store.usage().since(&before);
    println!(
        "  start-up read of an hourly reconciling run (cursors, log tail, 24 h reaction window of {} messages): {} requests, {} RRU",
        sync_view.reactions.messages.len(),
        u.requests,
        u.read_units()
    );
    let before = store.usage();
    store.load_sync_view(guild, engagement_store::NO_REACTION_WINDOW).await?;
    let u = store.usage().since(&before);
    println!(
        "  start-up read of the other runs (cursors, log tail): {} requests, {} RRU",
        u.requests,
        u.read_units()
    );
    // `/stats` at the end of the day: the day folded up to the last hour, the rest still in the log.
    member_cards(&store, guild, DayRange::single(first_day), "1 day, end of the realistic day")
        .await?;

    // More days, hourly batches (same summaries, faster to build), then everything folded.
    for d in 1..days {
        let day = first_day.plus(d as i32);
        let base = start_ms + d * 86_400_000;
        // A view lives for one sync run; reload it as each run does (24 h reaction window).
        let window = MessageId(snowflake::from_timestamp_ms(base.saturating_sub(86_400_000)));
        let mut view = store.load_sync_view(guild, window).await?;
        for h in 0..24 {
            let now = base + h * 3_600_000;
            let b = batch(&g, &mut rng, day, now, MESSAGES_PER_DAY / 24, &mut next_id);
            store.commit(&mut view, b.build(now)).await?;
            store.compact(guild, CompactionPolicy::default(), now).await?;
        }
    }
    let end_ms = start_ms + days * 86_400_000;
    store.compact(guild, CompactionPolicy::ALWAYS, end_ms).await?;
    let last_day = first_day.plus(days as i32 - 1);

    println!("\nreads after {days} days (folded):");
    for (label, range) in [
        ("1 day", DayRange::single(last_day)),
        ("7 days", DayRange { first: last_day.plus(-6), last: last_day }),
        ("30 days", DayRange { first: last_day.plus(-29), last: last_day }),
        (&*format!("{days} days"), DayRange { first: first_day, last: last_day }),
    ] {
        let before = store.usage();
        let t = Instant::now();
        let tallies = store.load_days(guild, range).await?;
        let total = tallies.total();
        let top = total.top_members(Metric::Messages, Scope::Guild, 10);
        let card = total.member_total(top[0].0, Scope::Guild);
        let u = store.usage().since(&before);
        println!(
            "  {label:>8} leaderboard + member card: {} requests, {} RRU, {:.0} ms (top member {} messages)",
            u.requests,
            u.read_units(),
            t.elapsed().as_secs_f64() * 1000.0,
            card.messages
        );
    }
    // Totals without the day breakdown (leaderboards): whole months come from month summaries.
    let whole = DayRange { first: first_day, last: last_day };
    let january = DayRange { first: first_day, last: first_day.month().last_day() };
    let last_30 = DayRange { first: last_day.plus(-29), last: last_day };
    for (label, range) in [
        ("January (one month summary)", january),
        ("last 30 days, totals", last_30),
        (&*format!("{days} days, totals"), whole),
    ] {
        if range.first < first_day || range.last > last_day {
            continue;
        }
        let before = store.usage();
        let t = Instant::now();
        let total = store.load_total(guild, range).await?;
        let u = store.usage().since(&before);
        println!(
            "  {label}: load_total {} requests, {} RRU, {:.0} ms ({} counters)",
            u.requests,
            u.read_units(),
            t.elapsed().as_secs_f64() * 1000.0,
            total.counters.len()
        );
    }
    let before = store.usage();
    let t = Instant::now();
    let all = store.load_all_time(guild).await?;
    let u = store.usage().since(&before);
    println!(
        "  all time leaderboard: {} requests, {} RRU, {:.0} ms ({} (channel, member) counters)",
        u.requests,
        u.read_units(),
        t.elapsed().as_secs_f64() * 1000.0,
        all.counters.len()
    );
    // Hourly counts (heatmaps, `export --by hour`): one small item per day.
    for (label, first) in [("7 days", last_day.plus(-6)), ("30 days", last_day.plus(-29))] {
        if first < first_day {
            continue;
        }
        let before = store.usage();
        let t = Instant::now();
        let hours = store.load_hours(guild, DayRange { first, last: last_day }).await?;
        let u = store.usage().since(&before);
        println!(
            "  hourly counts, {label}: load_hours {} requests, {} RRU, {:.0} ms ({} messages)",
            u.requests,
            u.read_units(),
            t.elapsed().as_secs_f64() * 1000.0,
            hours.messages.values().sum::<i64>()
        );
    }
    // `/activity view:heatmap`: the days read whole (to leave out what members who opted out said),
    // and the hourly counts.
    for (label, first) in [("7 days", last_day.plus(-6)), ("30 days", last_day.plus(-29))] {
        if first < first_day {
            continue;
        }
        let range = DayRange { first, last: last_day };
        let before = store.usage();
        let t = Instant::now();
        let mut messages = 0;
        store
            .scan_days(guild, range, |_, tally| {
                messages += tally.total(Scope::Guild).messages;
                std::ops::ControlFlow::Continue(())
            })
            .await?;
        store.load_hours(guild, range).await?;
        let u = store.usage().since(&before);
        println!(
            "  heatmap, {label}: {} requests, {} RRU, {:.0} ms ({messages} messages)",
            u.requests,
            u.read_units(),
            t.elapsed().as_secs_f64() * 1000.0,
        );
    }
    // `/insights growth` and `engagement insights`: the activity of the range and the 30 days before
    // it, and the first-seen days.
    for (label, len) in [("30 days", 30), ("90 days", 90)] {
        let first = last_day.plus(1 - len);
        if first.plus(-30) < first_day {
            println!("  insights, {label}: needs {} days stored (STORE_DAYS)", len + 30);
            continue;
        }
        let range = DayRange { first, last: last_day };
        let before = store.usage();
        let t = Instant::now();
        let (_, participation) = engagement_commands::report::insights::participation(
            &store,
            guild,
            (Some(range), last_day),
            Scope::Guild,
            |_, _| true,
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("nothing counted"))?;
        let figures = participation.daily_figures(range);
        let u = store.usage().since(&before);
        let last = figures.last().map(|f| (f.dau, f.mau)).unwrap_or_default();
        println!(
            "  insights, {label}: {} requests, {} RRU, {:.0} ms (last day DAU {}, MAU {}; {} members seen)",
            u.requests,
            u.read_units(),
            t.elapsed().as_secs_f64() * 1000.0,
            last.0,
            last.1,
            participation.first_day.len(),
        );
    }
    // `/stats`: one member's days, read as the member's shard of each day.
    for (label, range) in [
        ("7 days, folded", DayRange { first: last_day.plus(-6), last: last_day }),
        ("30 days, folded", DayRange { first: last_day.plus(-29), last: last_day }),
    ] {
        if range.first >= first_day {
            member_cards(&store, guild, range, label).await?;
        }
    }
    // The worst moment for a reader: 11 five-minute batches waiting, the most the default policy leaves.
    let mut view = store.load_sync_view(guild, engagement_store::NO_REACTION_WINDOW).await?;
    for i in 0..11 {
        let now = end_ms + i * 300_000;
        let b = batch(&g, &mut rng, last_day, now, per_batch, &mut next_id);
        store.commit(&mut view, b.build(now)).await?;
    }
    if last_day.plus(-29) >= first_day {
        let range = DayRange { first: last_day.plus(-29), last: last_day };
        member_cards(&store, guild, range, "30 days, 11 batches waiting").await?;
    }
    let day_summary = store.load_days(guild, DayRange::single(last_day)).await?;
    let counters = day_summary.total().counters.len();
    println!("  one day holds {counters} (channel, member) counters");
    Ok(())
}
