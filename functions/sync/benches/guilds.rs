//! Many-guilds benchmark (a bench binary, not a timed test): how far behind the scheduled sync's guilds
//! fall, and what an idle guild costs, when the bot is in many small guilds and most of them are quiet.
//!
//! The world: `--guilds N` small guilds (5 members, 2 text channels with a few messages of the last day);
//! every 20th guild in id order (5 %) is active and gets one new message before every run. Runs are every
//! 5 simulated minutes (the schedule), each `sync_all` with the Lambda's 270 s budget; the run's clock is
//! the fake's, set to exactly 5 minutes after the previous run's (the schedule does not wait for a run,
//! so the real time a run takes does not stretch the simulated gaps).
//!
//! 1. Warm-up (not measured), limits off: one run checks every guild; a second one 25 hours later (the
//!    history then older than the reactions' 24-hour reconciliation window: the idle guilds are idle)
//!    does the daily work (roles listings, archived-thread sweeps), which therefore does not fall into
//!    the measured hours. Then each idle guild's schedule row is set as a long-running deployment
//!    leaves it: backed off to the hourly ceiling, the last checks spread over the past hour's 12 runs.
//!    (A deployment whose guilds were all first checked in one run keeps them in phase instead: each
//!    hour's checks then fall into one run; see BENCHMARKS.md.)
//! 2. Measured, with Discord's realistic limits (50 requests/s global, 5 per 5 s per route and guild or
//!    channel, the guild listing 1/s): `--hours H` simulated hours (12·H runs). Before each run, every
//!    guild's staleness (the run's clock minus its last complete check) is read from the stored schedule;
//!    each run's requests are attributed from the fake's log to active guilds, idle guilds (their
//!    `/guilds/{id}/…` and their channels' `/channels/{id}/…` routes) and the shared guild listing.
//!
//! Reported: staleness (max, p95) of active and idle guilds, requests per guild and hour, 429s, the
//! Lambda time per run, the runs that ran out of budget, and whether any guild waited more than two runs
//! past its due time; then a markdown table for BENCHMARKS.md. Daily work (role listings, archived-thread
//! sweeps: 1 + 2 requests a day per idle guild here) does not fall into the measured hours.
//!
//! Run: `scripts/bench guilds` (needs `AWS_ENDPOINT_URL_DYNAMODB`; the script starts moto), or
//! `cargo bench -p sync --bench guilds -- --guilds N --hours H [--quiet-for HOURS]` (defaults 500, 3
//! and 25; `--quiet-for 0` leaves out the second warm-up run and its folds: the idle guilds are then
//! guilds that were busy in the last day).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use engagement_discord::{DiscordClient, DiscordConfig};
use engagement_domain::{BackOff, GuildId, GuildSchedule};
use engagement_store::CounterStore;
use fake_discord::config::{RateLimits, WorldKnobs, WorldSize};
use fake_discord::world::{NewMessage, kind};
use fake_discord::{FakeConfig, FakeDiscord};
use sync::{RunSummary, SyncSettings, Syncer};

/// The schedule's interval.
const RUN_EVERY_MIN: i64 = 5;
const MINUTE_MS: u64 = 60_000;
/// The Lambda's budget per run.
const BUDGET: Duration = Duration::from_secs(270);
/// Every `ACTIVE_EVERY`-th guild in id order gets a message before every run.
const ACTIVE_EVERY: usize = 20;

/// `--name N` from the command line, the last one given (cargo bench adds `--bench`, which is ignored).
fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .rposition(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number, not {v}")))
}

/// The guilds, which are active, who writes where, and which channel belongs to which guild.
struct Layout {
    guilds: Vec<u64>,
    active: BTreeSet<u64>,
    /// Per active guild: its readable text channels and a human member.
    writers: BTreeMap<u64, (Vec<u64>, u64)>,
    channel_guild: BTreeMap<u64, u64>,
}

fn layout(fake: &FakeDiscord) -> Layout {
    fake.with_world(|w| {
        let guilds: Vec<u64> = w.guilds.keys().copied().collect();
        let active: BTreeSet<u64> = guilds.iter().copied().step_by(ACTIVE_EVERY).collect();
        let writers = active
            .iter()
            .map(|&g| {
                let channels: Vec<u64> = w
                    .channels
                    .values()
                    .filter(|c| c.guild_id == g && c.kind == kind::TEXT && c.readable)
                    .map(|c| c.id)
                    .collect();
                let member =
                    w.guilds[&g].members.iter().copied().find(|u| !w.users[u].bot).unwrap();
                assert!(!channels.is_empty(), "guild {g} has no readable text channel");
                (g, (channels, member))
            })
            .collect();
        let channel_guild = w.channels.values().map(|c| (c.id, c.guild_id)).collect();
        Layout { guilds, active, writers, channel_guild }
    })
}

/// Whom a request was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Owner {
    Active,
    Idle,
    /// `GET /users/@me/guilds`, shared by all guilds.
    Listing,
    Other,
}

fn owner(layout: &Layout, path: &str) -> Owner {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let id_after = |name: &str| {
        segments.windows(2).find(|w| w[0] == name).and_then(|w| w[1].parse::<u64>().ok())
    };
    let guild = if segments.ends_with(&["users", "@me", "guilds"]) {
        return Owner::Listing;
    } else if let Some(g) = id_after("guilds") {
        Some(g)
    } else {
        id_after("channels").and_then(|c| layout.channel_guild.get(&c).copied())
    };
    match guild {
        Some(g) if layout.active.contains(&g) => Owner::Active,
        Some(_) => Owner::Idle,
        None => Owner::Other,
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn minutes(ms: u64) -> f64 {
    ms as f64 / MINUTE_MS as f64
}

/// What the measured runs saw.
#[derive(Default)]
struct Tally {
    stale_active: Vec<u64>,
    stale_idle: Vec<u64>,
    /// Guild-runs more than two runs (plus the minute of slack) past their due time, active and idle.
    late_active: u64,
    late_idle: u64,
    max_overdue_active_ms: u64,
    max_overdue_idle_ms: u64,
    never_checked: u64,
    requests: BTreeMap<Owner, u64>,
    /// (owner, route) → requests.
    by_route: BTreeMap<(Owner, String), u64>,
    fake_requests: u64,
    fake_429s: u64,
    dynamo_requests: u64,
    summaries: Vec<RunSummary>,
    errors: Vec<String>,
}

/// Moves the fake's clock to one schedule interval after the previous run's (what is left of it after the
/// real time already gone by).
fn tick(fake: &FakeDiscord, previous: chrono::DateTime<chrono::Utc>) {
    let lag = previous + chrono::Duration::minutes(RUN_EVERY_MIN) - fake.clock();
    if lag > chrono::Duration::zero() {
        fake.advance_clock(lag);
    }
}

fn add_messages(fake: &FakeDiscord, layout: &Layout, run: usize) {
    for (channels, member) in layout.writers.values() {
        let channel = channels[run % channels.len()];
        fake.add_message(&NewMessage::new(channel, *member)).unwrap();
    }
}

/// One run's line. `dynamo`: the run's DynamoDB requests.
fn run_line(
    label: &str,
    run: usize,
    s: &RunSummary,
    fake_requests: u64,
    fake_429s: u64,
    dynamo: u64,
) -> String {
    format!(
        "{label} {run:>3}: {} visited, {} checked, {} not due, {} overdue, oldest check {:.1} min; \
         {} requests ({fake_requests} at the fake, {} 429s, {fake_429s} at the fake), {} messages counted, \
         {dynamo} DynamoDB requests, {:.1} s{}",
        s.guilds,
        s.guilds_checked,
        s.guilds_not_due,
        s.guilds_overdue,
        minutes(s.oldest_check_age_ms),
        s.discord_requests,
        s.discord_429s,
        s.messages_counted,
        s.duration_ms as f64 / 1000.0,
        if s.budget_exhausted { ", BUDGET EXHAUSTED" } else { "" },
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n = u32::try_from(arg("--guilds", 500))?;
    let hours = arg("--hours", 3);
    let knobs = WorldKnobs::many_small_guilds(n);
    let t = Instant::now();
    let fake = FakeDiscord::start(FakeConfig {
        seed: 5,
        size: WorldSize::Custom(knobs),
        limits: RateLimits::unlimited(),
        ..FakeConfig::default()
    })
    .await?;
    let layout = layout(&fake);
    let messages = fake.with_world(|w| w.message_count());
    println!(
        "world: {} guilds ({} active, every {ACTIVE_EVERY}th), {} channels, {messages} messages; \
         the fake started in {:.2} s",
        layout.guilds.len(),
        layout.active.len(),
        layout.channel_guild.len(),
        t.elapsed().as_secs_f64()
    );
    let (client, table) = engagement_testkit::dynamo::client_and_table_name("bench-guilds").await?;
    let store = CounterStore::new(client, table);
    store.create_table().await?;
    let discord =
        DiscordClient::new(DiscordConfig::new(fake.token()).with_api_base(fake.base_url()))?;

    // The guild listing pages (200 a page) cover every guild.
    fake.reset_stats();
    let listed = discord.current_user_guilds().await?;
    let listed_ids: BTreeSet<u64> = listed.iter().map(|g| g.id.get()).collect();
    let pages = fake.request_log().len();
    assert_eq!(
        listed_ids,
        layout.guilds.iter().copied().collect::<BTreeSet<u64>>(),
        "the listing's pages cover all guilds"
    );
    println!("guild listing: {} guilds in {pages} pages of up to 200", listed_ids.len());

    let settings = SyncSettings {
        first_sight_lookback: Duration::from_secs(2 * 86_400),
        fixed_now: Some(fake.clock()),
        ..SyncSettings::default()
    };
    let back_off: BackOff = settings.back_off();
    let mut syncer = Syncer { store: store.clone(), discord, settings };

    // Warm-up, limits off: one run checks every guild (first sight: its channels' recent messages
    // counted), given all the time it needs. A day later (the history now older than the reactions' reconciliation window: the idle guilds
    // are idle), a second run does each guild's daily work (the roles listing, the archived-thread
    // sweeps), so that it does not fall into the measured hours.
    let t = Instant::now();
    // `--quiet-for 0` skips the second run: the idle guilds then had messages in the last day, and
    // their checks re-read those channels hourly for reaction changes (a guild busy yesterday).
    let quiet_for = i64::try_from(arg("--quiet-for", 25))?;
    let warm_ups: &[(usize, i64)] =
        if quiet_for > 0 { &[(0, 0), (1, quiet_for)] } else { &[(0, 0)] };
    for &(run, later) in warm_ups {
        fake.advance_clock(chrono::Duration::hours(later));
        add_messages(&fake, &layout, run);
        syncer.settings.fixed_now = Some(fake.clock());
        let usage = store.usage();
        let warm = syncer.sync_all(Duration::from_secs(3_600)).await?;
        let dynamo = store.usage().since(&usage).requests;
        let (requests, limited) = (warm.discord_requests, warm.discord_429s);
        println!("{}", run_line("warm-up run", run, &warm, requests, limited, dynamo));
    }
    // Then the schedule a long-running deployment settles into, as of now (the fake's clock moved on
    // while the warm-up ran): the active guilds checked by the last run, every idle guild at the ceiling
    // with its last checks spread evenly over the past hour's runs.
    let mut now = fake.clock();
    let now_ms = u64::try_from(now.timestamp_millis())?;
    for g in &layout.active {
        let row = GuildSchedule {
            checked_ms: now_ms,
            roles_listed_ms: now_ms,
            ..GuildSchedule::default()
        };
        store.record_check(GuildId(*g), &row).await?;
    }
    let idle: Vec<u64> =
        layout.guilds.iter().copied().filter(|g| !layout.active.contains(g)).collect();
    let runs_an_hour = back_off.ceiling_ms / (RUN_EVERY_MIN.unsigned_abs() * MINUTE_MS);
    let mut seeded = 0;
    let quiet_to_ceiling = (1..64).find(|q| {
        GuildSchedule { quiet_checks: *q, ..GuildSchedule::default() }.wait_ms(&back_off)
            >= back_off.ceiling_ms
    });
    for (i, g) in idle.iter().enumerate() {
        let runs_ago = i as u64 % runs_an_hour.max(1);
        let checked_ms = now_ms - runs_ago * RUN_EVERY_MIN.unsigned_abs() * MINUTE_MS;
        let row = GuildSchedule {
            checked_ms,
            quiet_checks: quiet_to_ceiling.unwrap_or(1),
            nudged_ms: 0,
            roles_listed_ms: now_ms,
        };
        store.record_check(GuildId(*g), &row).await?;
        seeded += 1;
    }
    let rows = store.guild_schedules().await?;
    let unchecked = layout
        .guilds
        .iter()
        .filter(|g| rows.get(&GuildId(**g)).is_none_or(|r| r.checked_ms == 0))
        .count();
    println!(
        "warm-up done in {:.1} s (limits off): {unchecked} guilds never checked; {seeded} idle guilds \
         set at the {:.0}-minute ceiling, their last checks spread over the past hour",
        t.elapsed().as_secs_f64(),
        minutes(back_off.ceiling_ms)
    );
    let mut run = 2usize;

    // Measured: realistic limits, H simulated hours.
    fake.set_limits(RateLimits::realistic());
    let measured_runs = usize::try_from(hours * 12)?;
    let late_after_ms = 2 * RUN_EVERY_MIN.unsigned_abs() * MINUTE_MS + back_off.slack_ms;
    let mut tally = Tally::default();
    let t = Instant::now();
    for i in 0..measured_runs {
        tick(&fake, now);
        add_messages(&fake, &layout, run);
        syncer.settings.fixed_now = Some(fake.clock());
        now = syncer.settings.fixed_now.unwrap();
        let now_ms = u64::try_from(now.timestamp_millis())?;
        let rows = store.guild_schedules().await?;
        for g in &layout.guilds {
            let Some(row) = rows.get(&GuildId(*g)).filter(|r| r.checked_ms > 0) else {
                tally.never_checked += 1;
                continue;
            };
            let row: &GuildSchedule = row;
            let stale = now_ms.saturating_sub(row.checked_ms);
            let overdue = now_ms.saturating_sub(row.due_ms(&back_off));
            let late = overdue > late_after_ms;
            if layout.active.contains(g) {
                tally.stale_active.push(stale);
                tally.late_active += u64::from(late);
                tally.max_overdue_active_ms = tally.max_overdue_active_ms.max(overdue);
            } else {
                tally.stale_idle.push(stale);
                tally.late_idle += u64::from(late);
                tally.max_overdue_idle_ms = tally.max_overdue_idle_ms.max(overdue);
            }
        }
        fake.reset_stats();
        let usage = syncer.store.usage();
        let result = syncer.sync_all(BUDGET).await;
        let stats = fake.stats();
        let dynamo = syncer.store.usage().since(&usage).requests;
        tally.dynamo_requests += dynamo;
        tally.fake_requests += stats.requests;
        tally.fake_429s += stats.rate_limited;
        for r in fake.request_log() {
            let who = owner(&layout, &r.path);
            *tally.requests.entry(who).or_default() += 1;
            let route = r.route.map_or_else(|| r.path.clone(), |c| c.to_string());
            *tally.by_route.entry((who, route)).or_default() += 1;
        }
        match result {
            Ok(s) => {
                println!("{}", run_line("run", i, &s, stats.requests, stats.rate_limited, dynamo));
                tally.summaries.push(s);
            }
            Err(e) => {
                println!("run {i:>3}: FAILED after {} requests: {e}", stats.requests);
                tally.errors.push(e.to_string());
            }
        }
        run += 1;
    }
    let wall = t.elapsed().as_secs_f64();
    report(&layout, hours, measured_runs, &tally, wall, &back_off);
    Ok(())
}

fn report(
    layout: &Layout,
    hours: u64,
    runs: usize,
    tally: &Tally,
    wall_secs: f64,
    back_off: &BackOff,
) {
    let n = layout.guilds.len();
    let active = layout.active.len();
    let idle = n - active;
    let share = active as f64 / n as f64 * 100.0;
    let mut stale_active = tally.stale_active.clone();
    stale_active.sort_unstable();
    let mut stale_idle = tally.stale_idle.clone();
    stale_idle.sort_unstable();
    let req = |o: Owner| tally.requests.get(&o).copied().unwrap_or(0);
    let guild_hours = |guilds: usize| (guilds as f64 * hours as f64).max(1.0);
    let listing = req(Owner::Listing);
    let listing_per_guild_hour = listing as f64 / guild_hours(n);
    let idle_own = req(Owner::Idle) as f64 / guild_hours(idle);
    let active_own = req(Owner::Active) as f64 / guild_hours(active);
    let mut durations: Vec<u64> = tally.summaries.iter().map(|s| s.duration_ms).collect();
    durations.sort_unstable();
    let p50_s = percentile(&durations, 0.5) as f64 / 1000.0;
    let max_s = durations.last().copied().unwrap_or(0) as f64 / 1000.0;
    let exhausted = tally.summaries.iter().filter(|s| s.budget_exhausted).count();
    let summary_429s: u64 = tally.summaries.iter().map(|s| s.discord_429s).sum();
    let summary_requests: u64 = tally.summaries.iter().map(|s| s.discord_requests).sum();
    let max_oldest = tally.summaries.iter().map(|s| s.oldest_check_age_ms).max().unwrap_or(0);
    let max_overdue = tally.summaries.iter().map(|s| s.guilds_overdue).max().unwrap_or(0);
    let max_not_due = tally.summaries.iter().map(|s| s.guilds_not_due).max().unwrap_or(0);
    let late = tally.late_active + tally.late_idle;
    let ceiling = minutes(back_off.ceiling_ms);

    println!(
        "\n{n} guilds ({active} active = {share:.1} %), {hours} simulated hours = {runs} runs under realistic \
         limits, {wall_secs:.1} s of wall-clock time"
    );
    println!(
        "staleness at each run's start (run clock minus last complete check), {} active and {} idle guild-runs:",
        stale_active.len(),
        stale_idle.len()
    );
    println!(
        "  active guilds: max {:.2} min, p95 {:.2} min (target ≤ 10 min)",
        minutes(stale_active.last().copied().unwrap_or(0)),
        minutes(percentile(&stale_active, 0.95))
    );
    println!(
        "  idle guilds:   max {:.2} min, p95 {:.2} min (target: checked at least every {ceiling:.0} min)",
        minutes(stale_idle.last().copied().unwrap_or(0)),
        minutes(percentile(&stale_idle, 0.95))
    );
    if tally.never_checked > 0 {
        println!("  guild-runs with a guild never checked: {}", tally.never_checked);
    }
    println!("requests (attributed from the fake's log):");
    println!(
        "  idle guilds: {} = {idle_own:.3} per idle guild per hour (own routes), {:.3} with the shared \
         listing amortised (target ≤ 2)",
        req(Owner::Idle),
        idle_own + listing_per_guild_hour
    );
    println!("  active guilds: {} = {active_own:.3} per active guild per hour", req(Owner::Active));
    println!(
        "  guild listing (shared): {listing} = {:.2} per run, {listing_per_guild_hour:.4} per guild-hour",
        listing as f64 / runs.max(1) as f64
    );
    if req(Owner::Other) > 0 {
        println!("  other: {}", req(Owner::Other));
    }
    for ((who, route), count) in &tally.by_route {
        let per = match who {
            Owner::Active => {
                format!(", {:.3} per active guild per hour", *count as f64 / guild_hours(active))
            }
            Owner::Idle => {
                format!(", {:.3} per idle guild per hour", *count as f64 / guild_hours(idle))
            }
            Owner::Listing | Owner::Other => String::new(),
        };
        println!("    {who:?} {route}: {count}{per}");
    }
    println!(
        "  total: {} at the fake ({} by the runs' summaries); 429s: {} at the fake, {summary_429s} in the \
         summaries (target 0)",
        tally.fake_requests, summary_requests, tally.fake_429s
    );
    println!(
        "Lambda time per run: p50 {p50_s:.2} s, max {max_s:.2} s; {exhausted} of {runs} runs ran out of \
         budget ({} s); {} runs failed",
        BUDGET.as_secs(),
        tally.errors.len()
    );
    for e in &tally.errors {
        println!("  failed: {e}");
    }
    let checked: u64 = tally.summaries.iter().map(|s| s.guilds_checked).sum();
    let run_ms: u64 = tally.summaries.iter().map(|s| s.duration_ms).sum();
    println!(
        "  {checked} guild checks in all: {:.1} DynamoDB requests and {:.0} ms of run time per guild \
         checked ({} DynamoDB requests in all, against moto)",
        tally.dynamo_requests as f64 / checked.max(1) as f64,
        run_ms as f64 / checked.max(1) as f64,
        tally.dynamo_requests
    );
    println!(
        "max oldest_check_age: {:.2} min; max guilds_overdue: {max_overdue}; max guilds_not_due: {max_not_due}",
        minutes(max_oldest)
    );
    println!(
        "no guild more than 2 runs behind: max guilds_overdue {max_overdue}; guild-runs more than 2 runs + \
         {:.0} min past due: {} active, {} idle (most overdue: active {:.2} min, idle {:.2} min) → {}",
        minutes(back_off.slack_ms),
        tally.late_active,
        tally.late_idle,
        minutes(tally.max_overdue_active_ms),
        minutes(tally.max_overdue_idle_ms),
        if late == 0 && tally.never_checked == 0 { "yes" } else { "NO" }
    );

    println!(
        "\n| Many guilds ({n}, {share:.0} % active, {hours} h = {runs} runs, realistic limits) | Result | Target |"
    );
    println!("| --- | --- | --- |");
    println!(
        "| Active guilds: staleness max / p95 | {:.1} / {:.1} min | ≤ 10 min |",
        minutes(stale_active.last().copied().unwrap_or(0)),
        minutes(percentile(&stale_active, 0.95))
    );
    println!(
        "| Idle guilds: staleness max / p95 | {:.1} / {:.1} min | checked at least every {ceiling:.0} min |",
        minutes(stale_idle.last().copied().unwrap_or(0)),
        minutes(percentile(&stale_idle, 0.95))
    );
    println!(
        "| Requests per idle guild per hour (own / with the listing amortised) | {idle_own:.2} / {:.2} | ≤ 2 |",
        idle_own + listing_per_guild_hour
    );
    println!("| Requests per active guild per hour | {active_own:.2} | |");
    println!(
        "| Guild listing (shared) per run | {:.1} requests | |",
        listing as f64 / runs.max(1) as f64
    );
    println!(
        "| Requests in total / 429s (fake / summaries) | {} / {} / {summary_429s} | 0 429s |",
        tally.fake_requests, tally.fake_429s
    );
    println!(
        "| Lambda time per run p50 / max; runs out of budget | {p50_s:.1} / {max_s:.1} s; {exhausted} of {runs} | ≤ {} s; 0 |",
        BUDGET.as_secs()
    );
    println!(
        "| Max `oldest_check_age_ms` / max `guilds_overdue` | {:.1} min / {max_overdue} | ≤ {:.0} min / 0 |",
        minutes(max_oldest),
        ceiling + minutes(back_off.slack_ms)
    );
    println!(
        "| No guild more than 2 runs behind (guild-runs past due by > 2 runs) | {} ({} active, {} idle) | 0 |",
        if late == 0 && tally.never_checked == 0 { "yes" } else { "no" },
        tally.late_active,
        tally.late_idle
    );
}
