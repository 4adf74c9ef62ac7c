//! Slash commands against moto: handler latency (p50/p99) per command and period, and the DynamoDB requests
//! and read units each one costs (from `CounterStore::usage` deltas), for the interactions handler and, for
//! deferred commands, the followup handler (which edits the reply on an in-process fake Discord).
//!
//! `cargo bench --profile release -p interactions --bench commands` with a moto server in
//! `AWS_ENDPOINT_URL_DYNAMODB` (`scripts/bench commands` starts one). Prints a Markdown table
//! (BENCHMARKS.md, "Slash commands"). Knobs: `BENCH_ITERATIONS` (default 30), `BENCH_DAYS` (400),
//! `BENCH_MEMBERS` (150), `BENCH_CHANNELS` (8), `BENCH_COUNTERS_PER_DAY` (400).

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark set-up: fail loudly

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use engagement_commands::definition::{name, option};
use engagement_commands::job::InvokeFuture;
use engagement_commands::{FollowupInvoker, FollowupJob};
use engagement_discord::{DiscordClient, DiscordConfig};
use engagement_domain::{
    BatchBuilder, ChannelId, Counts, GuildId, GuildTimeZone, MessageId, UserId,
};
use engagement_store::{CompactionPolicy, CounterStore, Usage};
use fake_discord::{FakeConfig, FakeDiscord, RateLimits, WorldSize};
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

/// Seeds `days` days ending today (2025-11-28) with `per_day` (channel, member) counters each, folded into
/// summaries, plus one batch of today's activity still waiting in the log (as between two syncs).
async fn seed(store: &CounterStore) -> anyhow::Result<(u64, u64)> {
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
    store.commit(&mut view, waiting.build(days + 20)).await?;
    Ok((days, counters))
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

fn percentile(samples: &[Duration], p: f64) -> String {
    if samples.is_empty() {
        return "—".to_owned();
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let index = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    format!("{:.1} ms", sorted[index].as_secs_f64() * 1000.0)
}

fn usage(u: &Usage) -> String {
    format!("{} ({} RRU)", u.requests, u.read_units())
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
    let (days, counters) = seed(&store).await?;
    eprintln!(
        "seeded {counters} counters over {days} days in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let fake = FakeDiscord::start(FakeConfig {
        size: WorldSize::Small,
        limits: RateLimits::unlimited(),
        ..FakeConfig::default()
    })
    .await?;
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

    let periods = ["7d", "365d", "all"];
    let mut cases: Vec<(String, &'static str, Value)> = Vec::new();
    for period in periods {
        let p = || string(option::PERIOD, period);
        // A member with counters (the asker below is a different administrator each run).
        let member = support::user(option::MEMBER, support::ADMIN);
        cases.push(("/stats".into(), period, command(name::STATS, vec![p(), member])));
        cases.push(("/channel-stats".into(), period, command(name::CHANNEL_STATS, vec![p()])));
        cases.push(("/leaderboard".into(), period, command(name::LEADERBOARD, vec![p()])));
        cases.push(("/activity".into(), period, command(name::ACTIVITY, vec![p()])));
        cases.push(("/export".into(), period, command(name::EXPORT, vec![p()])));
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
    Ok(())
}
