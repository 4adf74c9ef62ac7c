//! Slash commands against moto: handler latency (p50/p99) per command and period, and the DynamoDB requests
//! and read units each one costs (from `CounterStore::usage` deltas), for the interactions handler and, for
//! deferred commands, the followup handler (which edits the reply on an in-process fake Discord). Then,
//! on the same seeded server, the web dashboard's overview (`GET /g/{guild}?period=…`) through its
//! request handler, with a session cookie sealed here (no login) and the viewer's roles read from the
//! fake Discord: server time, DynamoDB requests and read units, and page size, beside
//! `Reporter::overview` alone (the reads and the aggregation without the page) and the two reads that
//! are most of it (`CounterStore::scan_activity`, `load_hours`; `scan_days` to compare). Issue #15's
//! target is a 90-day overview within 150 ms at p50 that reads no more than the equivalent commands
//! (`/activity` daily and heatmap, `/leaderboard`: their 90-day rows).
//!
//! `cargo bench --profile release -p interactions --bench commands` with a moto server in
//! `AWS_ENDPOINT_URL_DYNAMODB` (`scripts/bench commands` starts one). Prints two Markdown tables
//! (BENCHMARKS.md, "Slash commands"). Knobs: `BENCH_ITERATIONS` (default 30), `BENCH_DAYS` (400),
//! `BENCH_MEMBERS` (150), `BENCH_CHANNELS` (8), `BENCH_COUNTERS_PER_DAY` (400).

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark set-up: fail loudly

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashboard::session::{SESSION_COOKIE, SESSION_TTL_MS, Session, SessionGuild, SessionKey};
use dashboard::{Dashboard, DashboardSettings};
use engagement_commands::definition::{name, option};
use engagement_commands::job::InvokeFuture;
use engagement_commands::{FollowupInvoker, FollowupJob, ReportPeriod, Reporter};
use engagement_discord::oauth::OAuthConfig;
use engagement_discord::{DiscordClient, DiscordConfig};
use engagement_domain::visibility::ADMINISTRATOR;
use engagement_domain::{
    Audience, BatchBuilder, ChannelId, Counts, Day, GuildConfig, GuildId, GuildTimeZone, MessageId,
    Period, Scope, UserId,
};
use engagement_store::{CompactionPolicy, CounterStore, Usage};
use fake_discord::world::{Channel, Guild, Role, User, kind};
use fake_discord::{FakeConfig, FakeDiscord, RateLimits, World, WorldSize};
use followup::Followup;
use interactions::{App, EndpointSettings, Services, engagement_registry};
use serde_json::Value;
use support::{
    ALL_PERMISSIONS, GUILD, NOW, at, command, day, interaction, send, string, subcommand,
};

/// Records jobs; the benchmark runs the followup itself, to time it apart from the interactions handler.
#[derive(Default)]
struct Recorder(Mutex<Vec<FollowupJob>>);

impl FollowupInvoker for Recorder {
    fn invoke<'a>(&'a self, job: &'a FollowupJob) -> InvokeFuture<'a> {
        Box::pin(async move {
            self.0.lock().unwrap().push(job.clone());
            Ok(())
        })
    }
}

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// What [`seed`] wrote.
struct Seeded {
    days: u64,
    counters: u64,
    members: u64,
    channels: u64,
    /// Messages per day, the batch waiting in the log included: what a page must show.
    messages: BTreeMap<Day, i64>,
}

impl Seeded {
    /// The messages of `period`'s days.
    fn messages_in(&self, period: &ReportPeriod) -> i64 {
        self.messages
            .iter()
            .filter(|(day, _)| period.range.is_none_or(|range| range.contains(**day)))
            .map(|(_, n)| n)
            .sum()
    }
}

/// Seeds `days` days ending today (2025-11-28) with `per_day` (channel, member) counters each and their
/// messages per (hour, channel), folded into summaries, plus one batch of today's activity still waiting
/// in the log (as between two syncs).
async fn seed(store: &CounterStore) -> anyhow::Result<Seeded> {
    let (days, members, channels, per_day) = (
        knob("BENCH_DAYS", 400),
        knob("BENCH_MEMBERS", 150),
        knob("BENCH_CHANNELS", 8),
        knob("BENCH_COUNTERS_PER_DAY", 400),
    );
    let guild = GuildId(GUILD);
    let mut view = store.load_sync_view(guild, MessageId(0)).await?;
    let today = day("2025-11-28");
    let first = today.plus(1 - i32::try_from(days)?);
    let mut batch = BatchBuilder::new();
    let mut counters = 0;
    let mut messages = BTreeMap::new();
    for d in 0..days {
        let date = first.plus(i32::try_from(d)?);
        for i in 0..per_day.min(members * channels) {
            let member = UserId(support::ADMIN + (i % members));
            let channel = (i / members + d) % channels;
            let mix = (i * 2_654_435_761 + d * 40_503) % 97;
            let counts = Counts {
                messages: i64::try_from(1 + mix % 20)?,
                reactions_given: i64::try_from(mix % 5)?,
                reactions_received: i64::try_from(mix % 7)?,
            };
            *messages.entry(date).or_insert(0) += counts.messages;
            // Each counter's messages in one hour of the day, as the sync records them: the heatmap
            // (`/activity view:heatmap`, the dashboard's overview) has every message to draw.
            let hour = u8::try_from((mix + i) % 24)?;
            batch.add_hour(date, hour, ChannelId(support::GENERAL + channel), counts.messages);
            batch.add(date, ChannelId(support::GENERAL + channel), member, counts);
            batch.set_category(
                ChannelId(support::GENERAL + channel),
                Some(ChannelId(support::TEXT + channel % 3)),
            );
            counters += 1;
        }
        if d % 10 == 9 || d + 1 == days {
            let built = std::mem::take(&mut batch).build(d + 1);
            store.commit(&mut view, built).await?;
        }
    }
    store.compact(guild, CompactionPolicy::ALWAYS, days + 10).await?;
    // Every channel and category visible to `@everyone`, as the sync would record them: public replies
    // show what they would in a server without private channels.
    let public = engagement_domain::ChannelAccess { parent: None, overwrites: Vec::new() };
    let access = engagement_domain::GuildAccess {
        guild,
        owner: None,
        roles: [(engagement_domain::RoleId::everyone(guild), support::EVERYONE_PERMISSIONS)].into(),
        channels: (0..channels)
            .map(|c| ChannelId(support::GENERAL + c))
            .chain((0..3).map(|c| ChannelId(support::TEXT + c)))
            .map(|channel| (channel, public.clone()))
            .collect(),
    };
    store.put_guild_access(guild, &access, 0).await?;
    let mut waiting = BatchBuilder::new();
    waiting.add(today, ChannelId(support::GENERAL), UserId(support::ADMIN), Counts::messages(3));
    waiting.add_hour(today, 8, ChannelId(support::GENERAL), 3);
    *messages.entry(today).or_insert(0) += 3;
    store.commit(&mut view, waiting.build(days + 20)).await?;
    Ok(Seeded { days, counters, members, channels, messages })
}

/// The seeded server's `Administrator` role.
const ADMIN_ROLE: u64 = GUILD + 1;

/// The fake's generated world plus the seeded server as the bot sees it: its members (the first,
/// [`support::ADMIN`], with an `Administrator` role), its channels and their categories, for the
/// dashboard's role check and names.
fn world_with_seeded_guild(config: &FakeConfig, seeded: &Seeded) -> World {
    let mut world = fake_discord::generate::generate(config.seed, &config.size.knobs(), config.now);
    let members: Vec<u64> = (0..seeded.members).map(|i| support::ADMIN + i).collect();
    for (i, &id) in members.iter().enumerate() {
        world.users.insert(id, User { id, username: format!("member-{i}"), bot: false });
    }
    let role = |id, name: &str, permissions, position| Role {
        id,
        permissions,
        position,
        name: name.to_owned(),
        managed: false,
    };
    world.guilds.insert(
        GUILD,
        Guild {
            id: GUILD,
            name: "Busy benchmark server".to_owned(),
            members: members.iter().copied().chain([world.bot_user_id]).collect(),
            emojis: Vec::new(),
            webhooks: Vec::new(),
            roles: vec![
                role(GUILD, "@everyone", support::EVERYONE_PERMISSIONS, 0),
                role(ADMIN_ROLE, "Admin", ADMINISTRATOR, 1),
            ],
            member_roles: [(support::ADMIN, BTreeSet::from([ADMIN_ROLE]))].into(),
            owner_id: None,
        },
    );
    let channel = |id, kind, name: String, parent_id, position| Channel {
        id,
        guild_id: GUILD,
        kind,
        name,
        parent_id,
        position,
        readable: true,
        last_message_id: None,
        thread: None,
        messages: BTreeMap::new(),
        overwrites: Vec::new(),
    };
    for c in 0..3 {
        let id = support::TEXT + c;
        let position = i32::try_from(c).unwrap_or(0);
        world
            .channels
            .insert(id, channel(id, kind::CATEGORY, format!("category-{c}"), None, position));
    }
    for c in 0..seeded.channels {
        let (id, parent) = (support::GENERAL + c, Some(support::TEXT + c % 3));
        let position = i32::try_from(c).unwrap_or(0);
        world
            .channels
            .insert(id, channel(id, kind::TEXT, format!("channel-{c}"), parent, position));
    }
    world
}

struct Row {
    label: String,
    period: &'static str,
    answered: &'static str,
    handler: Vec<Duration>,
    handler_usage: Usage,
    followup: Vec<Duration>,
    followup_usage: Usage,
    /// The attachment of the followup's edit: name and size.
    attachment: Option<(String, usize)>,
}

/// The `p` quantile of `samples` (nearest rank); `None` for no samples.
fn quantile(samples: &[Duration], p: f64) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let index = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
    sorted.get(index).copied()
}

fn percentile(samples: &[Duration], p: f64) -> String {
    quantile(samples, p)
        .map_or_else(|| "—".to_owned(), |d| format!("{:.1} ms", d.as_secs_f64() * 1000.0))
}

fn usage(u: &Usage) -> String {
    format!("{} ({} RRU)", u.requests, u.read_units())
}

/// Two usages together.
const fn add(a: &Usage, b: &Usage) -> Usage {
    Usage {
        requests: a.requests + b.requests,
        write_requests: a.write_requests + b.write_requests,
        write_units: a.write_units + b.write_units,
        read_half_units: a.read_half_units + b.read_half_units,
        bytes_written: a.bytes_written + b.bytes_written,
    }
}

fn main() -> anyhow::Result<()> {
    if engagement_testkit::dynamo::endpoint().is_err() {
        anyhow::bail!(
            "this benchmark needs a moto server: `.venv/bin/python scripts/moto_server.py -p 8124 &` and \
             `export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8124` (or run `scripts/bench commands`)"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let iterations = usize::try_from(knob("BENCH_ITERATIONS", 30))?.max(1);
    let store = support::empty_store("bench-commands").await?;
    let started = Instant::now();
    let seeded = seed(&store).await?;
    let (days, counters) = (seeded.days, seeded.counters);
    eprintln!(
        "seeded {counters} counters over {days} days in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let config = FakeConfig {
        size: WorldSize::Small,
        limits: RateLimits::unlimited(),
        ..FakeConfig::default()
    };
    let world = world_with_seeded_guild(&config, &seeded);
    let fake = FakeDiscord::start_with_world(config, world).await?;
    let discord =
        DiscordClient::new(DiscordConfig::new(fake.token()).with_api_base(fake.base_url()))?;
    let followup = Followup::new(store.clone(), discord, GuildTimeZone::UTC);
    let recorder = Arc::new(Recorder::default());
    let key = support::key();
    let services = Services::new(
        store.clone(),
        Arc::clone(&recorder) as Arc<dyn FollowupInvoker>,
        GuildTimeZone::UTC,
    );
    let app = App::new(EndpointSettings::new(key.verifying_key()), engagement_registry(services)?);
    let application = fake.application_id();

    let periods = ["7d", "90d", "365d", "all"];
    let mut cases: Vec<(String, &'static str, Value)> = Vec::new();
    for period in periods {
        let p = || string(option::PERIOD, period);
        // 90 days only for what the dashboard's overview shows in one page (its table below): the
        // daily chart and the heatmap of `/activity`, and `/leaderboard`'s top lists.
        let overview_only = period == "90d";
        // A member with counters (the asker below is a different administrator each run).
        let member = support::user(option::MEMBER, support::ADMIN);
        if !overview_only {
            cases.push(("/stats".into(), period, command(name::STATS, vec![p(), member])));
            cases.push(("/channel-stats".into(), period, command(name::CHANNEL_STATS, vec![p()])));
        }
        cases.push(("/leaderboard".into(), period, command(name::LEADERBOARD, vec![p()])));
        cases.push(("/activity".into(), period, command(name::ACTIVITY, vec![p()])));
        if overview_only {
            let heatmap = string(option::VIEW, "heatmap");
            let data = command(name::ACTIVITY, vec![p(), heatmap]);
            cases.push(("/activity view:heatmap".into(), period, data));
        } else {
            cases.push(("/export".into(), period, command(name::EXPORT, vec![p()])));
        }
    }
    cases.push((
        "/engagement-config show".into(),
        "—",
        subcommand(name::ENGAGEMENT_CONFIG, name::SHOW, vec![]),
    ));

    let mut rows = Vec::new();
    // Each run is asked by another administrator: heavy commands hold a per-member cooldown (an export
    // a minute), which would refuse the same member's next run.
    let mut askers = (1_000..).map(|n| support::ADMIN + n);
    for (label, period, data) in cases {
        let mut body = || {
            interaction(
                application,
                askers.next().unwrap_or(support::ADMIN),
                ALL_PERMISSIONS,
                data.clone(),
            )
        };
        let mut row = Row {
            label,
            period,
            answered: "at once",
            handler: Vec::new(),
            handler_usage: Usage::default(),
            followup: Vec::new(),
            followup_usage: Usage::default(),
            attachment: None,
        };
        // One warm-up, not counted.
        send(&app, &key, &body()).await?;
        recorder.0.lock().unwrap().clear();
        for _ in 0..iterations {
            let body = body();
            let before = store.usage();
            let started = Instant::now();
            let answer = send(&app, &key, &body).await?;
            row.handler.push(started.elapsed());
            row.handler_usage = store.usage().since(&before);
            anyhow::ensure!(answer.status == 200, "{}: {answer:?}", row.label);
            // A report (embeds) or DEFERRED; never an error message.
            anyhow::ensure!(
                answer.json["type"] == 5 || answer.json["data"]["embeds"].is_array(),
                "{}: {answer:?}",
                row.label
            );
            let job = recorder.0.lock().unwrap().pop();
            if let Some(job) = job {
                row.answered = "deferred";
                let before = store.usage();
                let started = Instant::now();
                let outcome = followup.handle(&job, at(NOW + 1)).await?;
                row.followup.push(started.elapsed());
                row.followup_usage = store.usage().since(&before);
                anyhow::ensure!(outcome == followup::Outcome::Answered, "{}: {outcome}", row.label);
                let call = fake.webhook_calls().pop();
                row.attachment =
                    call.and_then(|c| c.files.first().map(|f| (f.filename.clone(), f.data.len())));
            }
        }
        eprintln!("{} {}: done", row.label, row.period);
        rows.push(row);
    }

    println!(
        "Seed: {counters} (day, channel, member) counters over {days} days ({} per day), folded into \
         summaries, plus one batch waiting in the log; {iterations} runs per row after one warm-up.\n",
        counters / days.max(1)
    );
    println!(
        "| Command | Period | Answered | Handler p50 | Handler p99 | Handler DynamoDB requests (RRU) | \
         Followup p50 | Followup p99 | Followup DynamoDB requests (RRU) | Attachment |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for row in &rows {
        let deferred = !row.followup.is_empty();
        println!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.label,
            row.period,
            row.answered,
            percentile(&row.handler, 0.5),
            percentile(&row.handler, 0.99),
            usage(&row.handler_usage),
            percentile(&row.followup, 0.5),
            percentile(&row.followup, 0.99),
            if deferred { usage(&row.followup_usage) } else { "—".to_owned() },
            row.attachment.as_ref().map_or_else(
                || "—".to_owned(),
                |(name, size)| format!(
                    "{} ({} kB)",
                    name.rsplit('.').next().unwrap_or_default(),
                    size.div_ceil(1000)
                )
            ),
        );
    }

    let pages = overview_rows(&store, &fake, &seeded, iterations).await?;
    println!(
        "\nThe web dashboard's overview on the same server, through `Dashboard::handle` in-process \
         (the viewer's roles and the names from the fake Discord, cached after one warm-up; the server \
         time is the handler's, from the request to the response), beside `Reporter::overview` alone \
         (the reads and the aggregation, no page).\n"
    );
    println!("| Request | Period | p50 | p99 | DynamoDB requests (RRU) | Page size |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for row in &pages {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.label,
            row.period,
            percentile(&row.times, 0.5),
            percentile(&row.times, 0.99),
            usage(&row.usage),
            row.bytes.map_or_else(|| "—".to_owned(), |b| format!("{b} bytes")),
        );
    }
    compare_90d(&rows, &pages);
    Ok(())
}

/// One timed dashboard request, or a part of the work behind it.
struct PageRow {
    label: String,
    period: &'static str,
    times: Vec<Duration>,
    usage: Usage,
    /// The page's size; `None` for the parts.
    bytes: Option<usize>,
}

/// Where the dashboard is served (the path prefix is empty, as on a function URL).
const DASHBOARD_URL: &str = "https://dashboard.bench.invalid";

/// Runs `step` once to warm up, then `iterations` times, timed from the first poll of its future to
/// its output (so making the request is not timed); every output must pass `check`. The times, the
/// DynamoDB usage of the last run, and its output.
async fn timed<T, Fut: Future<Output = T>>(
    store: &CounterStore,
    iterations: usize,
    mut step: impl FnMut() -> Fut,
    mut check: impl FnMut(&T) -> anyhow::Result<()>,
) -> anyhow::Result<(Vec<Duration>, Usage, T)> {
    let mut last = step().await;
    check(&last)?;
    let (mut times, mut used) = (Vec::with_capacity(iterations), Usage::default());
    for _ in 0..iterations {
        let run = step();
        let before = store.usage();
        let started = Instant::now();
        last = run.await;
        times.push(started.elapsed());
        used = store.usage().since(&before);
        check(&last)?;
    }
    Ok((times, used, last))
}

/// A row for a part of a page's work, from what [`timed`] measured.
fn part<T>(
    label: &str,
    period: &'static str,
    (times, usage, _): (Vec<Duration>, Usage, T),
) -> PageRow {
    PageRow { label: label.to_owned(), period, times, usage, bytes: None }
}

/// `GET /g/{GUILD}?period=…` for 7, 90 and 365 days as the seeded administrator; then, for the same
/// periods, the parts of its work: `Reporter::overview` alone (reads and aggregation, no page), and
/// the two reads that are most of it: the day activity (`scan_activity`, decoded, nothing done with
/// it) and the hours (`load_hours`); and, to compare, the day summaries (`scan_days`), which the
/// overview read before. Every page must be a 200 showing the seeded messages of its period, and every
/// part must find them, so an error is never what is timed.
async fn overview_rows(
    store: &CounterStore,
    fake: &FakeDiscord,
    seeded: &Seeded,
    iterations: usize,
) -> anyhow::Result<Vec<PageRow>> {
    let session_key = SessionKey::new(vec![7; 32]).map_err(anyhow::Error::msg)?;
    let pages_discord = DiscordConfig::new(fake.token()).with_api_base(fake.base_url());
    let settings = DashboardSettings {
        oauth: OAuthConfig::new(fake.application_id(), fake.client_secret(), Some(fake.base_url())),
        discord: dashboard::settings::for_pages(pages_discord),
        session_key: session_key.clone(),
        public_url: Some(DASHBOARD_URL.to_owned()),
        table_name: store.table().to_owned(),
        default_time_zone: GuildTimeZone::UTC,
    };
    // The dashboard's own client, as its main.rs makes it.
    let discord = DiscordClient::new(settings.discord.clone())?;
    let dashboard = Dashboard::new(settings, discord, store.clone())?;
    let now_ms = NOW * 1000;
    // The session a login would have made: no OAuth round trip in the bench.
    let session = Session {
        user: support::ADMIN,
        name: "member-0".to_owned(),
        guilds: vec![SessionGuild {
            id: GUILD,
            name: "Busy benchmark server".into(),
            owner: false,
        }],
        guilds_left_out: 0,
        expires_ms: now_ms + SESSION_TTL_MS,
    };
    let cookie = format!("{SESSION_COOKIE}={}", session_key.seal(SESSION_COOKIE, &session));
    let now = chrono::DateTime::from_timestamp_millis(i64::try_from(now_ms)?)
        .ok_or_else(|| anyhow::anyhow!("no such time: {now_ms}"))?;
    let periods = ["7d", "90d", "365d"];

    let mut rows = Vec::new();
    for period in periods {
        let expected =
            engagement_commands::format::number(seeded.messages_in(&resolve(period, now)?));
        let path = format!("/g/{GUILD}?period={period}");
        let get = || {
            lambda_http::http::Request::builder()
                .uri(format!("{DASHBOARD_URL}{path}"))
                .header(lambda_http::http::header::COOKIE, &cookie)
                .body(lambda_http::Body::Empty)
                .expect("a request")
        };
        // The warm-up reads the viewer's roles and the names from the fake Discord; then cached.
        let (times, usage, response) = timed(
            store,
            iterations,
            || dashboard.handle(get(), now_ms),
            |response| {
                let status = response.status();
                match response.body() {
                    lambda_http::Body::Text(html)
                        if status == 200 && html.contains(&format!(">{expected}<")) =>
                    {
                        Ok(())
                    }
                    lambda_http::Body::Text(html) => anyhow::bail!(
                        "GET {path}: {status}, not the {expected} messages seeded: {}",
                        html.chars().take(2_000).collect::<String>()
                    ),
                    _ => anyhow::bail!("GET {path}: {status} without a page"),
                }
            },
        )
        .await?;
        let bytes = match response.body() {
            lambda_http::Body::Text(html) => Some(html.len()),
            _ => None,
        };
        let label = format!("`GET /g/{{guild}}?period={period}`");
        rows.push(PageRow { label, period, times, usage, bytes });
        eprintln!("dashboard overview {period}: done");
    }

    let reporter = Reporter::new(store.clone());
    let config = store
        .guild_config(GuildId(GUILD))
        .await?
        .unwrap_or_else(|| GuildConfig { time_zone: GuildTimeZone::UTC, ..GuildConfig::default() });
    // The seeded member is an administrator: every channel.
    let everything = Audience::Everything;
    let guild = GuildId(GUILD);
    for period in periods {
        let resolved = resolve(period, now)?;
        let range = resolved.range.ok_or_else(|| anyhow::anyhow!("{period} has no range"))?;
        let expected = seeded.messages_in(&resolved);
        let found = |what: &str, messages: i64| {
            anyhow::ensure!(
                messages == expected,
                "{what} {period}: {messages} messages, not the {expected} seeded"
            );
            Ok(())
        };
        let report = timed(
            store,
            iterations,
            || reporter.overview((guild, Scope::Guild), &resolved, &config, &everything),
            |data| match data {
                Ok(data) => found("Reporter::overview", data.messages),
                Err(error) => anyhow::bail!("Reporter::overview {period}: {error}"),
            },
        )
        .await?;
        rows.push(part("`Reporter::overview` alone", period, report));
        // The day summaries (what the overview read before) and the day activity (what it reads).
        for (read, activity) in [("scan_days", false), ("scan_activity", true)] {
            let times = timed(
                store,
                iterations,
                || async move {
                    let mut messages = 0;
                    let count = |_, tally: engagement_domain::Tally| {
                        messages += tally.total(Scope::Guild).messages;
                        ControlFlow::Continue(())
                    };
                    if activity {
                        store.scan_activity(guild, range, count).await
                    } else {
                        store.scan_days(guild, range, count).await
                    }
                    .map(|()| messages)
                },
                |messages| match messages {
                    Ok(messages) => found(read, *messages),
                    Err(error) => anyhow::bail!("{read} {period}: {error}"),
                },
            )
            .await?;
            rows.push(part(&format!("`CounterStore::{read}` alone"), period, times));
        }
        let hours = timed(
            store,
            iterations,
            || store.load_hours(guild, range),
            |hours| match hours {
                Ok(hours) => found("load_hours", hours.per_day_and_channel().values().sum()),
                Err(error) => anyhow::bail!("load_hours {period}: {error}"),
            },
        )
        .await?;
        rows.push(part("`CounterStore::load_hours` alone", period, hours));
        eprintln!("overview parts {period}: done");
    }
    Ok(rows)
}

/// `period` (`7d`, …) on the seeded server at `now`, as a page or a command resolves it.
fn resolve(period: &str, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<ReportPeriod> {
    let period = Period::from_options(Some(period), None, None)?;
    Ok(ReportPeriod::resolve(period, GuildTimeZone::UTC, now)?)
}

/// Issue #15's target for the 90-day overview, from the rows just measured: p50 within 150 ms, and
/// no more DynamoDB requests or read units than the commands it stands for.
fn compare_90d(commands: &[Row], pages: &[PageRow]) {
    let Some(page) = pages.iter().find(|p| p.period == "90d" && p.bytes.is_some()) else { return };
    let p50 = percentile(&page.times, 0.5);
    let within = quantile(&page.times, 0.5).is_some_and(|d| d <= Duration::from_millis(150));
    println!(
        "\n90 days: the overview's p50 is {p50} ({} the 150 ms of issue #15); it costs {}.",
        if within { "within" } else { "over" },
        usage(&page.usage)
    );
    let mut sum = Usage::default();
    for row in commands.iter().filter(|r| r.period == "90d") {
        // A deferred command reads in the followup; the handler only answers DEFERRED.
        let cost = add(&row.handler_usage, &row.followup_usage);
        println!("- `{}` 90d: {} in all", row.label, usage(&cost));
        sum = add(&sum, &cost);
    }
    println!("- those commands together: {}", usage(&sum));
}
