//! The digest post against the fake Discord (message creation with `nonce`/`enforce_nonce`, permissions)
//! and moto: posted once per period by the scheduled sync, never twice after a retry, a crash or an
//! overlapping run, late rather than never, and its numbers equal the fake's ground truth.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use engagement_actions::digest::{POSTING_HOLD_MS, REFUSED_RETRY_MS};
use engagement_actions::{ActionError, DigestOutcome, DigestRun, PostGateway};
use engagement_commands::Reply;
use engagement_discord::{DiscordClient, DiscordConfig};
use engagement_domain::{
    ChannelId, Day, DigestSchedule, Frequency, GuildConfig, GuildId, GuildTimeZone, UserId,
};
use engagement_store::CounterStore;
use fake_discord::truth::TruthOptions;
use fake_discord::world::{RoleUpdate, seeded_role};
use fake_discord::{FakeConfig, FakeDiscord};
use futures::FutureExt as _;
use sync::{SyncSettings, Syncer};

struct Setup {
    fake: FakeDiscord,
    syncer: Syncer,
    guild: u64,
    channel: u64,
    /// The fake's clock, for the claims' hold (wall clock in production).
    clock: Arc<Mutex<DateTime<Utc>>>,
}

/// A small world counted by a first sync; its history ends at the fake's clock.
async fn setup(name: &str) -> anyhow::Result<Setup> {
    let fake = FakeDiscord::start(FakeConfig { seed: 5, ..FakeConfig::default() }).await?;
    let (client, table) = engagement_testkit::dynamo::client_and_table_name(name).await?;
    let store = CounterStore::new(client, table);
    store.create_table().await?;
    let mut config = DiscordConfig::new(fake.token()).with_api_base(fake.base_url());
    config.max_attempts = 6;
    let discord = DiscordClient::new(config)?;
    let settings = SyncSettings {
        first_sight_lookback: Duration::from_secs(400 * 24 * 3600),
        fixed_now: Some(fake.clock()),
        ..SyncSettings::default()
    };
    let (guild, channel) =
        fake.with_world(|w| (*w.guilds.keys().next().unwrap(), w.busiest_text_channel()));
    let clock = Arc::new(Mutex::new(fake.clock()));
    let s = Setup { fake, syncer: Syncer { store, discord, settings }, guild, channel, clock };
    Box::pin(s.syncer.sync_all(Duration::from_secs(120))).await?;
    Ok(s)
}

impl Setup {
    /// A weekly digest due on the fake's current weekday at the hour before its clock (so it is due
    /// now), set long ago.
    fn weekly_due_now(&self) -> DigestSchedule {
        let now = self.fake.clock();
        DigestSchedule {
            channel: ChannelId(self.channel),
            frequency: Frequency::Weekly,
            weekday: chrono::Datelike::weekday(&now),
            hour: u8::try_from(chrono::Timelike::hour(&now)).unwrap(),
            since_ms: 0,
        }
    }

    async fn set_digest(&self, schedule: Option<DigestSchedule>) {
        self.syncer
            .store
            .update_guild_config(GuildId(self.guild), &GuildConfig::default(), |c| {
                c.digest = schedule;
                true
            })
            .await
            .unwrap();
    }

    async fn config(&self) -> GuildConfig {
        self.syncer.store.guild_config(GuildId(self.guild)).await.unwrap().unwrap()
    }

    /// Moves the fake's clock, and says a complete sync ran then (the digest's days are counted).
    async fn advance(&mut self, by: chrono::Duration) {
        self.fake.advance_clock(by);
        let now = self.fake.clock();
        self.syncer.settings.fixed_now = Some(now);
        *self.clock.lock().unwrap() = now;
        let ms = u64::try_from(now.timestamp_millis()).unwrap();
        self.syncer.store.record_synced(GuildId(self.guild), ms).await.unwrap();
    }

    fn run<'a, G: PostGateway>(&'a self, gateway: &'a G) -> DigestRun<'a, G> {
        self.run_at(gateway, self.fake.clock(), false)
    }

    fn run_at<'a, G: PostGateway>(
        &'a self,
        gateway: &'a G,
        now: DateTime<Utc>,
        force: bool,
    ) -> DigestRun<'a, G> {
        let clock = Arc::clone(&self.clock);
        DigestRun::new(&self.syncer.store, gateway, now, force)
            .with_clock(Arc::new(move || *clock.lock().unwrap()))
    }

    /// Posts made (deduplicated repeats left out).
    fn posts(&self) -> Vec<fake_discord::RecordedPost> {
        self.fake.posted_messages().into_iter().filter(|p| !p.deduplicated).collect()
    }

    /// Channels `@everyone` can view (threads as their parent): what a public post may count.
    fn public_channels(&self) -> BTreeSet<u64> {
        const VIEW_CHANNEL: u64 = 1 << 10;
        self.fake.with_world(|w| {
            w.channels
                .values()
                .filter(|c| c.guild_id == self.guild)
                .filter(|c| {
                    let owner = c
                        .thread
                        .as_ref()
                        .and(c.parent_id)
                        .and_then(|p| w.channels.get(&p))
                        .unwrap_or(c);
                    !owner
                        .overwrites
                        .iter()
                        .any(|o| o.id == self.guild && o.deny & VIEW_CHANNEL != 0)
                })
                .map(|c| c.id)
                .collect()
        })
    }

    /// Messages in `period` in public channels, without `opted_out` members, by the fake's ground truth.
    fn public_messages(&self, first: Day, last: Day, opted_out: &BTreeSet<u64>) -> u64 {
        let public = self.public_channels();
        let options =
            TruthOptions { opted_out_users: opted_out.clone(), ..TruthOptions::default() };
        self.fake
            .ground_truth(&options)
            .iter()
            .filter(|r| r.guild_id == self.guild && public.contains(&r.channel_id))
            .filter(|r| (first..=last).contains(&Day::from_date(r.day)))
            .map(|r| r.messages)
            .sum()
    }
}

fn field<'a>(post: &'a fake_discord::RecordedPost, name: &str) -> &'a str {
    post.payload["embeds"][0]["fields"]
        .as_array()
        .and_then(|fields| fields.iter().find(|f| f["name"] == name))
        .and_then(|f| f["value"].as_str())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_digest_is_posted_once_per_week_with_the_counted_numbers() -> anyhow::Result<()> {
    let mut s = setup("digest-weekly").await?;
    let schedule = s.weekly_due_now();
    // A channel `@everyone` cannot view and a member who opted out: neither shows in the post.
    let today = Day::of(s.fake.clock(), GuildTimeZone::UTC);
    let (first, last) = (today.plus(-7), today.plus(-1));
    let week: Vec<_> = s
        .fake
        .ground_truth(&TruthOptions::default())
        .into_iter()
        .filter(|r| r.guild_id == s.guild && (first..=last).contains(&Day::from_date(r.day)))
        .collect();
    let busiest = |key: fn(&fake_discord::TruthRecord) -> u64, skip: u64| {
        let mut totals: std::collections::BTreeMap<u64, u64> = Default::default();
        for r in &week {
            *totals.entry(key(r)).or_default() += r.messages;
        }
        totals.into_iter().filter(|(k, _)| *k != skip).max_by_key(|(_, n)| *n).unwrap().0
    };
    let hidden = busiest(|r| r.channel_id, s.channel);
    let overwrite =
        fake_discord::world::PermissionOverwrite { id: s.guild, kind: 0, allow: 0, deny: 1 << 10 };
    s.fake.set_overwrites(hidden, vec![overwrite])?;
    let opted_out = BTreeSet::from([busiest(|r| r.user_id, 0)]);
    s.syncer
        .store
        .update_guild_config(GuildId(s.guild), &GuildConfig::default(), |c| {
            c.digest = Some(schedule);
            c.opted_out = opted_out.iter().copied().map(UserId).collect();
            true
        })
        .await?;
    let summary = Box::pin(s.syncer.sync_all(Duration::from_secs(120))).await?;
    assert_eq!(summary.digests_posted, 1);
    let posts = s.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let post = &posts[0];
    assert_eq!(post.channel_id, s.channel);
    assert_eq!(post.payload["embeds"][0]["title"], "Weekly digest");
    assert_eq!(post.payload["allowed_mentions"], serde_json::json!({"parse": []}));
    assert_eq!(post.payload["enforce_nonce"], true);
    assert!(post.nonce.is_some());
    assert!(post.files.iter().any(|f| f.filename.ends_with(".png") && f.size > 1_000), "{post:?}");
    // The last 7 days before today, in public channels, without the member who opted out.
    let want = s.public_messages(first, last, &opted_out);
    assert!(want < week.iter().map(|r| r.messages).sum::<u64>(), "something is left out");
    let shown = field(post, "Messages");
    assert!(
        shown.starts_with(&format!("**{}**", engagement_commands::format::number(want as i64))),
        "{shown} vs {want}"
    );
    assert!(!field(post, "Busiest channels").contains(&format!("<#{hidden}>")), "{post:?}");
    let member = opted_out.iter().next().unwrap();
    assert!(!field(post, "Top members").contains(&format!("<@{member}>")), "{post:?}");
    // A run with an older clock (one that started before this post, or the server's time zone moved
    // back) never posts an older digest after a later one.
    let earlier = s.fake.clock() - chrono::Duration::days(2);
    let config = s.config().await;
    let outcome =
        Box::pin(s.run_at(&s.syncer.discord, earlier, true).post_due(GuildId(s.guild), &config))
            .await?;
    assert_eq!(outcome, DigestOutcome::NotDue);
    assert_eq!(s.posts().len(), 1);

    // Later that week: nothing more. The next week's is posted once.
    s.advance(chrono::Duration::days(3)).await;
    Box::pin(s.syncer.sync_all(Duration::from_secs(120))).await?;
    assert_eq!(s.posts().len(), 1);
    s.advance(chrono::Duration::days(4)).await;
    Box::pin(s.syncer.sync_all(Duration::from_secs(120))).await?;
    Box::pin(s.syncer.sync_all(Duration::from_secs(120))).await?;
    assert_eq!(s.posts().len(), 2);
    // Due, but no complete sync since: it waits until its days are counted.
    s.fake.advance_clock(chrono::Duration::days(7));
    let config = s.config().await;
    let outcome = s
        .run_at(&s.syncer.discord, s.fake.clock(), false)
        .post_due(GuildId(s.guild), &config)
        .await?;
    assert_eq!(outcome, DigestOutcome::Waiting);
    assert_eq!(s.posts().len(), 2);
    Ok(())
}

/// A run that misses the hour posts late; after a whole period without runs only the latest is posted.
#[tokio::test]
async fn a_missed_hour_posts_late_and_only_the_latest() -> anyhow::Result<()> {
    let mut s = setup("digest-late").await?;
    let mut schedule = s.weekly_due_now();
    schedule.frequency = Frequency::Daily;
    s.set_digest(Some(schedule)).await;
    let config = s.config().await;
    // Five hours after the hour: posted late.
    s.advance(chrono::Duration::hours(5)).await;
    assert!(matches!(
        Box::pin(s.run(&s.syncer.discord).post_due(GuildId(s.guild), &config)).await?,
        DigestOutcome::Posted(_)
    ));
    // Three days without a run: one post, the latest day's.
    s.advance(chrono::Duration::days(3)).await;
    let outcome = Box::pin(s.run(&s.syncer.discord).post_due(GuildId(s.guild), &config)).await?;
    assert!(matches!(outcome, DigestOutcome::Posted(_)), "{outcome:?}");
    assert_eq!(s.posts().len(), 2);
    let state = s.syncer.store.digest_state(GuildId(s.guild)).await?;
    assert_eq!(state.due, Some(Day::of(s.fake.clock(), GuildTimeZone::UTC)));
    // A digest set after today's hour starts tomorrow.
    schedule.since_ms = u64::try_from(s.fake.clock().timestamp_millis())?;
    s.set_digest(Some(schedule)).await;
    let config = s.config().await;
    assert_eq!(
        Box::pin(s.run(&s.syncer.discord).post_due(GuildId(s.guild), &config)).await?,
        DigestOutcome::NotDue
    );
    // `engagement actions` posts the latest anyway, once.
    let forced = || s.run_at(&s.syncer.discord, s.fake.clock(), true);
    let before = s.posts().len();
    assert_eq!(forced().post_due(GuildId(s.guild), &config).await?, DigestOutcome::NotDue);
    assert_eq!(s.posts().len(), before, "today's was posted above: not again");
    s.advance(chrono::Duration::hours(18)).await; // an hour before tomorrow's
    assert_eq!(
        Box::pin(s.run(&s.syncer.discord).post_due(GuildId(s.guild), &config)).await?,
        DigestOutcome::NotDue
    );
    s.advance(chrono::Duration::hours(2)).await;
    let outcome = Box::pin(s.run(&s.syncer.discord).post_due(GuildId(s.guild), &config)).await?;
    assert!(matches!(outcome, DigestOutcome::Posted(_)), "{outcome:?}");
    Ok(())
}

/// Stops the run (as a crash would) right after a post reached Discord.
struct CrashAfterPost<'a>(&'a DiscordClient);

impl PostGateway for CrashAfterPost<'_> {
    async fn bot_user(&self) -> Result<UserId, ActionError> {
        self.0.bot_user().await
    }
    async fn post(
        &self,
        channel: ChannelId,
        reply: &Reply,
        nonce: &str,
    ) -> Result<u64, ActionError> {
        let _ = self.0.post(channel, reply, nonce).await;
        panic!("crash after the post");
    }
    async fn posts_after(
        &self,
        channel: ChannelId,
        author: UserId,
        after: u64,
    ) -> Result<Vec<u64>, ActionError> {
        self.0.posts_after(channel, author, after).await
    }
}

/// A run killed after its post landed: the next runs leave the post to it for a while, then find it in
/// the channel and record it — nothing is posted twice. Two runs at once post once.
#[tokio::test]
async fn a_crash_after_the_post_or_two_runs_at_once_never_post_twice() -> anyhow::Result<()> {
    let mut s = setup("digest-crash").await?;
    s.set_digest(Some(s.weekly_due_now())).await;
    let config = s.config().await;
    let crashing = CrashAfterPost(&s.syncer.discord);
    let crashed =
        std::panic::AssertUnwindSafe(s.run(&crashing).post_due(GuildId(s.guild), &config))
            .catch_unwind()
            .await;
    assert!(crashed.is_err());
    assert_eq!(s.posts().len(), 1);
    assert_eq!(
        Box::pin(s.run(&s.syncer.discord).post_due(GuildId(s.guild), &config)).await?,
        DigestOutcome::Busy
    );
    s.advance(chrono::Duration::milliseconds(i64::try_from(POSTING_HOLD_MS)? + 1_000)).await;
    let outcome = Box::pin(s.run(&s.syncer.discord).post_due(GuildId(s.guild), &config)).await?;
    let DigestOutcome::Recovered(message) = outcome else { panic!("{outcome:?}") };
    assert_eq!(message, s.posts()[0].message_id);
    assert_eq!(s.posts().len(), 1, "not posted again");
    assert_eq!(
        Box::pin(s.run(&s.syncer.discord).post_due(GuildId(s.guild), &config)).await?,
        DigestOutcome::NotDue
    );

    // Next week, two runs at once.
    s.advance(chrono::Duration::days(7)).await;
    let (first, second) = (s.run(&s.syncer.discord), s.run(&s.syncer.discord));
    let (a, b) = tokio::join!(
        first.post_due(GuildId(s.guild), &config),
        second.post_due(GuildId(s.guild), &config)
    );
    let outcomes = [a?, b?];
    assert_eq!(
        outcomes.iter().filter(|o| matches!(o, DigestOutcome::Posted(_))).count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(s.posts().len(), 2);
    Ok(())
}

/// Without Send Messages the post is refused once, the reason kept, and tried again an hour later.
#[tokio::test]
async fn a_refused_post_is_tried_again_an_hour_later() -> anyhow::Result<()> {
    let mut s = setup("digest-refused").await?;
    s.set_digest(Some(s.weekly_due_now())).await;
    let config = s.config().await;
    let bot_role =
        s.fake.with_world(|w| w.guilds[&s.guild].role_named(seeded_role::BOT).unwrap().id);
    let without = |bits: u64| bits & !fake_discord::world::permission::SEND_MESSAGES;
    let (everyone, bot) = s.fake.with_world(|w| {
        let g = &w.guilds[&s.guild];
        (g.role(s.guild).unwrap().permissions, g.role(bot_role).unwrap().permissions)
    });
    for (role, bits) in [(s.guild, without(everyone)), (bot_role, without(bot))] {
        s.fake.update_role(role, &RoleUpdate { permissions: Some(bits), ..Default::default() })?;
    }
    let outcome = Box::pin(s.run(&s.syncer.discord).post_due(GuildId(s.guild), &config)).await?;
    let DigestOutcome::Refused(reason) = outcome else { panic!("{outcome:?}") };
    assert!(reason.contains("50013") || reason.contains("Missing Permissions"), "{reason}");
    let state = s.syncer.store.digest_state(GuildId(s.guild)).await?;
    assert_eq!(state.problem.as_deref(), Some(reason.as_str()));
    s.advance(chrono::Duration::minutes(30)).await;
    assert_eq!(
        Box::pin(s.run(&s.syncer.discord).post_due(GuildId(s.guild), &config)).await?,
        DigestOutcome::NotDue
    );
    for (role, bits) in [(s.guild, everyone), (bot_role, bot)] {
        s.fake.update_role(role, &RoleUpdate { permissions: Some(bits), ..Default::default() })?;
    }
    s.advance(chrono::Duration::milliseconds(i64::try_from(REFUSED_RETRY_MS)?)).await;
    assert!(matches!(
        Box::pin(s.run(&s.syncer.discord).post_due(GuildId(s.guild), &config)).await?,
        DigestOutcome::Posted(_)
    ));
    assert_eq!(s.posts().len(), 1);
    Ok(())
}
