//! Actions benchmark (a bench binary, not a timed test): what an activity role and a digest cost.
//!
//! The large synthetic world (one guild, ~55k messages over two weeks) is counted once with the fake's
//! limits off; then, with Discord's realistic limits (50 requests/s, 5 per 5 s per route and guild or
//! channel; role changes 10 per 10 s per guild), one rule "the top 50 members by messages in the last 30
//! days" is applied the first time (everyone gains), applied again with nothing to change, and checked by
//! a scheduled run with nothing due; then a weekly digest is posted and checked again. For each: the
//! Discord requests, the DynamoDB request and read/write units, and the wall-clock time (release build,
//! against moto and the fake on this machine).
//!
//! Run: `scripts/bench actions` (needs `AWS_ENDPOINT_URL_DYNAMODB`; the script starts moto).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::time::{Duration, Instant};

use engagement_actions::{DigestRun, RoleRun};
use engagement_discord::{DiscordClient, DiscordConfig};
use engagement_domain::{
    ActivityRole, ChannelId, DigestSchedule, Frequency, GuildConfig, GuildId, RoleId, Threshold,
};
use engagement_store::CounterStore;
use fake_discord::config::{RateLimits, WorldSize};
use fake_discord::world::seeded_role;
use fake_discord::{FakeConfig, FakeDiscord};
use sync::{SyncSettings, Syncer};

/// Runs `step` and prints what it cost.
async fn measure<T, F>(label: &str, fake: &FakeDiscord, store: &CounterStore, step: F) -> T
where
    F: std::future::Future<Output = T>,
{
    fake.reset_stats();
    let usage = store.usage();
    let t = Instant::now();
    let out = step.await;
    let secs = t.elapsed().as_secs_f64();
    let used = store.usage().since(&usage);
    let stats = fake.stats();
    println!(
        "{label}: {} Discord requests ({} 429s), {} DynamoDB requests, {} RRU, {} WRU, {secs:.2} s",
        stats.requests,
        stats.rate_limited,
        used.requests,
        used.read_units(),
        used.write_units,
    );
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let fake = FakeDiscord::start(FakeConfig {
        seed: 3,
        size: WorldSize::Large,
        limits: RateLimits::unlimited(),
        ..FakeConfig::default()
    })
    .await?;
    let (client, table) =
        engagement_testkit::dynamo::client_and_table_name("bench-actions").await?;
    let store = CounterStore::new(client, table);
    store.create_table().await?;
    let discord =
        DiscordClient::new(DiscordConfig::new(fake.token()).with_api_base(fake.base_url()))?;
    let settings = SyncSettings {
        first_sight_lookback: Duration::from_secs(400 * 86_400),
        fixed_now: Some(fake.clock()),
        time_budget: Duration::from_secs(3_600),
        ..SyncSettings::default()
    };
    let syncer = Syncer { store: store.clone(), discord: discord.clone(), settings };
    let summary = syncer.sync_all(Duration::from_secs(3_600)).await?;
    let (guild, active, channel, members) = fake.with_world(|w| {
        let (id, g) = w.guilds.iter().next().unwrap();
        (
            *id,
            g.role_named(seeded_role::ACTIVE).unwrap().id,
            w.busiest_text_channel(),
            g.members.len(),
        )
    });
    println!(
        "large world: {} messages counted, {members} members; realistic limits from here on",
        summary.messages_counted
    );
    fake.set_limits(RateLimits::realistic());
    let now = fake.clock();
    let rule = ActivityRole { role: RoleId(active), threshold: Threshold::Top(50), days: 30 };
    let schedule = DigestSchedule {
        channel: ChannelId(channel),
        frequency: Frequency::Weekly,
        weekday: chrono::Datelike::weekday(&now),
        hour: 0,
        since_ms: 0,
    };
    let config = GuildConfig {
        activity_roles: vec![rule],
        digest: Some(schedule),
        ..GuildConfig::default()
    };
    let forced = RoleRun::new(&store, &discord, now, None, true);
    let outcomes =
        measure("activity role, first application (top 50 over 30 days)", &fake, &store, async {
            forced.apply_guild(GuildId(guild), &config).await.unwrap()
        })
        .await;
    println!("  gained {}, held already {}", outcomes[0].gained.len(), outcomes[0].held_already);
    let forced = RoleRun::new(&store, &discord, now, None, true);
    measure(
        "activity role, applied again with nothing to change (every member re-checked)",
        &fake,
        &store,
        async { forced.apply_guild(GuildId(guild), &config).await.unwrap() },
    )
    .await;
    let hour_later = now + chrono::Duration::minutes(61);
    let scheduled = RoleRun::new(&store, &discord, hour_later, None, false);
    measure(
        "activity role, the next hour's application (a 24th of the members re-checked)",
        &fake,
        &store,
        async { scheduled.apply_guild(GuildId(guild), &config).await.unwrap() },
    )
    .await;
    let scheduled = RoleRun::new(&store, &discord, hour_later, None, false);
    measure("activity role, a scheduled run with nothing due", &fake, &store, async {
        scheduled.apply_guild(GuildId(guild), &config).await.unwrap()
    })
    .await;
    let digests = DigestRun::new(&store, &discord, now, false);
    let outcome = measure("weekly digest, the post", &fake, &store, async {
        digests.post_due(GuildId(guild), &config).await.unwrap()
    })
    .await;
    println!("  {outcome:?}");
    measure("weekly digest, a run with nothing due", &fake, &store, async {
        digests.post_due(GuildId(guild), &config).await.unwrap()
    })
    .await;
    Ok(())
}
