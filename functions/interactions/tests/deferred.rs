//! The deferred path end to end: the interactions endpoint answers DEFERRED and hands the job to the
//! followup handler (in process, as a spawned task), which builds the reply from the store in moto and edits
//! `@original` on the fake Discord — with the chart PNG or the CSV attached. Failures end as a visible
//! message in that reply.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context as _, ensure};
use engagement_commands::definition::{name, option};
use engagement_discord::{DiscordClient, DiscordConfig};
use engagement_domain::{GuildId, GuildTimeZone, Scope, UserId};
use engagement_store::CounterStore;
use fake_discord::{FakeConfig, FakeDiscord, RecordedWebhookCall, WorldSize};
use followup::{Followup, Outcome};
use serde_json::{Value, json};
use support::*;

struct Deferred {
    app: interactions::App,
    key: ed25519_dalek::SigningKey,
    invoker: Arc<InProcessInvoker>,
    fake: FakeDiscord,
    store: CounterStore,
}

impl Deferred {
    /// The endpoint over a seeded store, with followups running against a fake Discord.
    async fn start(prefix: &str) -> anyhow::Result<Self> {
        Self::with_stores(seeded_store(prefix).await?, None).await
    }

    /// As [`Deferred::start`], the followup function reading `followup_store` instead.
    async fn with_stores(
        store: CounterStore,
        followup_store: Option<CounterStore>,
    ) -> anyhow::Result<Self> {
        let fake =
            FakeDiscord::start(FakeConfig { size: WorldSize::Small, ..FakeConfig::default() })
                .await?;
        let discord =
            DiscordClient::new(DiscordConfig::new(fake.token()).with_api_base(fake.base_url()))?;
        let followup = Followup::new(
            followup_store.unwrap_or_else(|| store.clone()),
            discord,
            GuildTimeZone::UTC,
        );
        let invoker = Arc::new(InProcessInvoker::running(followup));
        let key = key();
        let app = app(&key, store.clone(), Arc::clone(&invoker))?;
        Ok(Self { app, key, invoker, fake, store })
    }

    /// A followup handler of its own over the same store and fake Discord, to run recorded jobs by hand.
    fn followup(&self) -> anyhow::Result<Followup> {
        let discord = DiscordClient::new(
            DiscordConfig::new(self.fake.token()).with_api_base(self.fake.base_url()),
        )?;
        Ok(Followup::new(self.store.clone(), discord, GuildTimeZone::UTC))
    }

    /// Runs `data` as `user` (an admin), expects a DEFERRED answer of the given visibility, waits for the
    /// followup, and returns its outcome and the one edit it made.
    async fn run(
        &self,
        user: u64,
        data: Value,
        ephemeral: bool,
    ) -> anyhow::Result<(Outcome, RecordedWebhookCall)> {
        let body = interaction(self.fake.application_id(), user, ALL_PERMISSIONS, data);
        let answer = send(&self.app, &self.key, &body).await?;
        let deferred =
            if ephemeral { json!({"type": 5, "data": {"flags": 64}}) } else { json!({"type": 5}) };
        ensure!(answer.json == deferred, "expected {deferred}, got {answer:?}");
        let outcomes = self.invoker.finish().await?;
        ensure!(outcomes.len() == 1, "{outcomes:?}");
        let outcome = match outcomes.into_iter().next() {
            Some(Ok(outcome)) => outcome,
            other => anyhow::bail!("the followup failed: {other:?}"),
        };
        let calls = self.fake.webhook_calls();
        let call = calls.last().cloned().context("no edit of the original response")?;
        ensure!(call.method == "PATCH" && call.token == TOKEN, "{call:?}");
        ensure!(call.payload["allowed_mentions"] == json!({"parse": []}), "{}", call.payload);
        Ok((outcome, call))
    }
}

fn embed(call: &RecordedWebhookCall) -> &Value {
    &call.payload["embeds"][0]
}

#[tokio::test]
async fn the_activity_heatmap_edits_the_reply_with_a_heatmap_png_and_the_busiest_hours()
-> anyhow::Result<()> {
    let env = Deferred::start("deferred-heatmap").await?;
    let data = command(
        name::ACTIVITY,
        vec![string(option::VIEW, "heatmap"), string(option::PERIOD, "7d")],
    );
    let (outcome, call) = env.run(ADMIN, data, false).await?;
    assert_eq!(outcome, Outcome::Answered);
    let [file] = call.files.as_slice() else {
        anyhow::bail!("expected one file: {:?}", call.files)
    };
    assert_eq!(file.filename, "activity-heatmap.png");
    let reader = png::Decoder::new(std::io::Cursor::new(file.data.clone())).read_info()?;
    assert_eq!((reader.info().width, reader.info().height), (1000, 450));
    let embed = embed(&call);
    assert_eq!(embed["title"], json!("Server activity by hour"));
    assert_eq!(embed["image"]["url"], json!("attachment://activity-heatmap.png"));
    let text = embed["description"].as_str().unwrap_or_default();
    // The seeds' messages of the last 7 days by (weekday, hour), independently of the report's code.
    let mut cells: BTreeMap<(u32, u8), i64> = BTreeMap::new();
    for s in SEEDS.iter().filter(|s| between(s, "2025-11-22", "2025-11-28") && s.counts.0 > 0) {
        let weekday = chrono::Datelike::weekday(&s.day.parse::<chrono::NaiveDate>()?);
        *cells.entry((weekday.num_days_from_monday(), hour_of(s))).or_default() += s.counts.0;
    }
    let total: i64 = cells.values().sum();
    assert!(text.contains(&format!("**{total} messages** by hour")), "{text}");
    let ((weekday, hour), n) =
        cells.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).context("no cell")?;
    let name = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][*weekday as usize];
    let busiest =
        format!("Busiest hours: **{name} {hour:02}:00–{:02}:00** ({n} messages)", (hour + 1) % 24);
    assert!(text.contains(&busiest), "{busiest} in {text}");
    Ok(())
}

#[tokio::test]
async fn insights_growth_edits_the_reply_with_a_growth_png_and_the_figures() -> anyhow::Result<()> {
    let env = Deferred::start("deferred-growth").await?;
    let data = subcommand(name::INSIGHTS, name::GROWTH, vec![string(option::PERIOD, "7d")]);
    let (outcome, call) = env.run(ADMIN, data, false).await?;
    assert_eq!(outcome, Outcome::Answered);
    let [file] = call.files.as_slice() else {
        anyhow::bail!("expected one file: {:?}", call.files)
    };
    assert_eq!(file.filename, "insights-growth.png");
    let reader = png::Decoder::new(std::io::Cursor::new(file.data.clone())).read_info()?;
    assert_eq!((reader.info().width, reader.info().height), (1000, 450));
    let embed = embed(&call);
    assert_eq!(embed["title"], json!("Server growth"));
    let text = embed["description"].as_str().unwrap_or_default();
    // From the seeds, independently of the report's code: who sent a message when, and first days.
    let active = |first: &str, last: &str| -> std::collections::BTreeSet<u64> {
        SEEDS.iter().filter(|s| between(s, first, last) && s.counts.0 > 0).map(|s| s.user).collect()
    };
    let first_days: BTreeMap<u64, &str> =
        SEEDS.iter().filter(|s| s.counts.0 > 0).fold(BTreeMap::new(), |mut first, s| {
            let day = first.entry(s.user).or_insert(s.day);
            *day = (*day).min(s.day);
            first
        });
    let new_in = |first: &str, last: &str| {
        first_days.values().filter(|d| **d >= first && **d <= last).count()
    };
    let (dau, wau, mau) = (
        active("2025-11-28", "2025-11-28").len(),
        active("2025-11-22", "2025-11-28").len(),
        active("2025-10-30", "2025-11-28").len(),
    );
    let expected = format!(
        "Today: **{dau}** active (DAU) · **{wau}** in 7 days (WAU) · **{mau}** in 30 days (MAU)"
    );
    assert!(text.contains(&expected), "{expected} in {text}");
    let (now, before) = (new_in("2025-11-22", "2025-11-28"), new_in("2025-11-15", "2025-11-21"));
    assert!(text.contains(&format!("New members: **{now}** ·")), "{text}");
    assert!(text.contains(&format!("({before} → {now})")), "{text}");
    Ok(())
}

#[tokio::test]
async fn insights_retention_edits_the_reply_with_a_cohort_table() -> anyhow::Result<()> {
    let env = Deferred::start("deferred-retention").await?;
    let weeks = json!({"name": option::WEEKS, "type": 4, "value": 3});
    let (outcome, call) =
        env.run(ADMIN, subcommand(name::INSIGHTS, name::RETENTION, vec![weeks]), false).await?;
    assert_eq!(outcome, Outcome::Answered);
    let [file] = call.files.as_slice() else {
        anyhow::bail!("expected one file: {:?}", call.files)
    };
    assert_eq!(file.filename, "insights-retention.png");
    let embed = embed(&call);
    assert_eq!(embed["title"], json!("Retention"));
    // The weeks of 11-03, 11-10 and 11-17 (today is 2025-11-28): ADMIN (11-15) and BOB (11-20) were
    // new, each the only one of their week: too few to show their weeks after.
    let text = embed["description"].as_str().unwrap_or_default();
    assert!(text.contains("2 members new in the last 3 weeks"), "{text}");
    assert!(text.contains("Week 1: nothing to show yet"), "{text}");
    Ok(())
}

#[tokio::test]
async fn activity_edits_the_reply_with_a_chart_png_and_a_sparkline() -> anyhow::Result<()> {
    let env = Deferred::start("deferred-activity").await?;
    let data = command(name::ACTIVITY, vec![string(option::PERIOD, "30d")]);
    let (outcome, call) = env.run(ADMIN, data, false).await?;
    assert_eq!(outcome, Outcome::Answered);
    assert!(call.multipart, "the chart is uploaded as multipart");
    let [file] = call.files.as_slice() else {
        anyhow::bail!("expected one file: {:?}", call.files)
    };
    assert_eq!((file.field.as_str(), file.filename.as_str()), ("files[0]", "activity.png"));
    assert_eq!(file.content_type.as_deref(), Some("image/png"));
    let reader = png::Decoder::new(std::io::Cursor::new(file.data.clone())).read_info()?;
    assert_eq!((reader.info().width, reader.info().height), (1000, 450));
    assert_eq!(call.payload["attachments"], json!([{"id": 0, "filename": "activity.png"}]));

    let embed = embed(&call);
    assert_eq!(embed["title"], json!("Server activity"));
    assert_eq!(embed["image"]["url"], json!("attachment://activity.png"));
    let text = embed["description"].as_str().unwrap_or_default();
    let total = sum(|s| between(s, "2025-10-30", "2025-11-28")).0;
    assert!(text.contains(&format!("**{total} messages**")), "{text}");
    let sparkline = text.lines().nth(1).unwrap_or_default().trim_matches('`');
    assert_eq!(sparkline.chars().count(), 30, "one bar per day: {sparkline}");
    assert!(sparkline.chars().all(|c| ('▁'..='█').contains(&c)), "{sparkline}");
    // The busiest day of the seed: 2025-11-23 (9 + …) or 2025-11-24.
    let mut per_day: BTreeMap<&str, i64> = BTreeMap::new();
    for s in SEEDS.iter().filter(|s| between(s, "2025-10-30", "2025-11-28")) {
        *per_day.entry(s.day).or_default() += s.counts.0;
    }
    let (busiest, most) =
        per_day.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).context("no days")?;
    assert!(text.contains(&format!("Busiest day: {busiest} ({most} messages)")), "{text}");
    Ok(())
}

#[tokio::test]
async fn export_edits_the_reply_with_a_csv_that_matches_the_store() -> anyhow::Result<()> {
    let env = Deferred::start("deferred-export").await?;
    let data = command(name::EXPORT, vec![string(option::PERIOD, "all")]);
    let (outcome, call) = env.run(ADMIN, data, true).await?;
    assert_eq!(outcome, Outcome::Answered);
    let [file] = call.files.as_slice() else {
        anyhow::bail!("expected one file: {:?}", call.files)
    };
    assert_eq!(file.content_type.as_deref(), Some("text/csv"));
    assert_eq!(file.filename, format!("engagement-{GUILD}-2023-11-01-2025-11-28.csv"));
    let text = String::from_utf8(file.data.clone())?;
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "guild_id,day,channel_id,category_id,member_id,messages,reactions_given,\
             reactions_received"
        )
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), SEEDS.len(), "one row per seeded (day, channel, member)");
    // Every row is what the store holds for that day, channel and member.
    let stored = env.store.load_days(GuildId(GUILD), range("2023-11-01", "2025-11-28")).await?;
    let mut expected: Vec<String> = stored
        .records()
        .map(|(d, c, u, n)| {
            let category = support::category_of(c.0).map(|c| c.to_string()).unwrap_or_default();
            format!(
                "{GUILD},{d},{c},{category},{u},{},{},{}",
                n.messages, n.reactions_given, n.reactions_received
            )
        })
        .collect();
    expected.sort();
    let mut got: Vec<String> = rows.iter().map(|r| r.join(",")).collect();
    got.sort();
    assert_eq!(got, expected);
    // … and the seed, independently.
    for s in SEEDS {
        let row = format!(
            "{GUILD},{},{},{},{},{},{},{}",
            s.day,
            s.channel,
            support::category_of(s.channel).map(|c| c.to_string()).unwrap_or_default(),
            s.user,
            s.counts.0,
            s.counts.1,
            s.counts.2
        );
        assert!(got.contains(&row), "missing {row}");
    }
    assert!(call.payload["content"].as_str().unwrap_or_default().starts_with("Export of 16 rows"));
    Ok(())
}

#[tokio::test]
async fn a_year_of_stats_and_an_all_time_leaderboard_are_answered_by_the_followup()
-> anyhow::Result<()> {
    let env = Deferred::start("deferred-long").await?;
    let (outcome, call) = env
        .run(
            ADMIN,
            command(name::STATS, vec![user(option::MEMBER, ALICE), string(option::PERIOD, "365d")]),
            true,
        )
        .await?;
    assert_eq!(outcome, Outcome::Answered);
    let year = |s: &Seed| between(s, "2024-11-29", "2025-11-28") && s.user == ALICE;
    assert_eq!(support::field(embed(&call), "Messages"), sum(year).0.to_string());
    assert_eq!(support::field(embed(&call), "Reactions given"), sum(year).1.to_string());
    assert_eq!(support::field(embed(&call), "Reactions received"), sum(year).2.to_string());
    // A year reads month summaries, not 365 days: active days are shown up to 31 days only.
    assert!(
        !embed(&call)["fields"].to_string().contains("Active days"),
        "{}",
        embed(&call)["fields"]
    );
    assert!(call.payload.get("flags").is_none(), "an edit does not change the visibility");

    let (_, call) = env
        .run(ADMIN, command(name::LEADERBOARD, vec![string(option::PERIOD, "all")]), false)
        .await?;
    let text = embed(&call)["description"].as_str().unwrap_or_default();
    let all = |u: u64| sum(|s| s.user == u).0;
    assert!(text.starts_with("the server · all time"), "{text}");
    assert!(
        text.contains(&format!(
            "**1.** <@{CAROL}> — {} messages\n**2.** <@{ALICE}> — {} messages",
            all(CAROL),
            all(ALICE)
        )),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn erasure_removes_the_member_everywhere_then_confirms() -> anyhow::Result<()> {
    let env = Deferred::start("deferred-erase").await?;
    let data = grouped_subcommand(name::ENGAGEMENT, name::PRIVACY, name::ERASE, vec![]);
    let (outcome, call) = env.run(BOB, data, true).await?;
    assert_eq!(outcome, Outcome::Answered);
    assert_eq!(call.payload["content"], json!(followup::ERASED_MESSAGE));
    let guild = GuildId(GUILD);
    let days = env.store.load_days(guild, range("2023-01-01", "2025-11-28")).await?;
    assert!(days.records().all(|(_, _, u, _)| u != UserId(BOB)), "BOB is gone from every day");
    assert!(days.records().any(|(_, _, u, _)| u == UserId(ALICE)), "the others stay");
    assert!(
        env.store.load_all_time(guild).await?.member_total(UserId(BOB), Scope::Guild).is_zero()
    );
    assert!(
        env.store.guild_config(guild).await?.unwrap_or_default().opted_out.contains(&UserId(BOB))
    );
    assert!(env.store.find_member(guild, UserId(BOB)).await?.is_empty());
    // Done: no longer "in progress", but not again at once either.
    let body = interaction(
        env.fake.application_id(),
        BOB,
        MEMBER_PERMISSIONS,
        grouped_subcommand(name::ENGAGEMENT, name::PRIVACY, name::ERASE, vec![]),
    );
    let again = send(&env.app, &env.key, &body).await?;
    let text = again.json["data"]["content"].as_str().unwrap_or_default();
    assert_eq!(text, "You asked for an erasure a moment ago. Please try again in 10 min.");
    Ok(())
}

#[tokio::test]
async fn no_data_in_a_deferred_report_is_explained_in_the_reply() -> anyhow::Result<()> {
    let env = Deferred::start("deferred-nodata").await?;
    let data = command(
        name::ACTIVITY,
        vec![string(option::FROM, "2020-01-01"), string(option::TO, "2020-12-31")],
    );
    let (outcome, call) = env.run(ADMIN, data, false).await?;
    assert_eq!(outcome, Outcome::Explained);
    let content = call.payload["content"].as_str().unwrap_or_default();
    assert!(content.starts_with("There is no data for that range"), "{content}");
    assert!(call.files.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_failing_followup_ends_in_a_visible_message_not_silence() -> anyhow::Result<()> {
    let env =
        Deferred::with_stores(seeded_store("deferred-fail").await?, Some(broken_store().await?))
            .await?;
    let (outcome, call) = env.run(ADMIN, command(name::ACTIVITY, vec![]), false).await?;
    assert_eq!(outcome, Outcome::Failed);
    assert_eq!(call.payload["content"], json!(followup::FAILED_MESSAGE));

    // An erasure that fails says so, and fails the invocation so that Lambda retries it.
    let body = interaction(
        env.fake.application_id(),
        BOB,
        MEMBER_PERMISSIONS,
        grouped_subcommand(name::ENGAGEMENT, name::PRIVACY, name::ERASE, vec![]),
    );
    send(&env.app, &env.key, &body).await?;
    let outcomes = env.invoker.finish().await?;
    assert!(
        matches!(outcomes.as_slice(), [Err(followup::FollowupError::Erase(_))]),
        "{outcomes:?}"
    );
    let last = env.fake.webhook_calls().pop().context("no edit")?;
    assert_eq!(last.payload["content"], json!(followup::ERASE_FAILED_MESSAGE));
    Ok(())
}

#[tokio::test]
async fn a_job_older_than_the_token_is_dropped() -> anyhow::Result<()> {
    let env = Deferred::start("deferred-expired").await?;
    let followup = env.followup()?;
    let body = interaction(
        env.fake.application_id(),
        ADMIN,
        ALL_PERMISSIONS,
        command(name::ACTIVITY, vec![]),
    );
    send(&env.app, &env.key, &body).await?;
    env.invoker.finish().await?;
    let job = env.invoker.jobs().pop().context("no job")?;
    let before = env.fake.webhook_calls().len();
    let outcome = followup.handle(&job, at(NOW + 15 * 60)).await?;
    assert_eq!(outcome, Outcome::Expired);
    assert_eq!(env.fake.webhook_calls().len(), before, "nothing was sent with a dead token");
    Ok(())
}

/// Discord refuses an expired interaction token with 401: that job ends (no retry, no error), and the next
/// job of the same warm function still reaches Discord (the bot token is not condemned).
#[tokio::test]
async fn a_refused_interaction_token_ends_that_job_only() -> anyhow::Result<()> {
    let env = Deferred::start("deferred-token-401").await?;
    env.fake.expire_interaction_token(TOKEN);
    let body = interaction(
        env.fake.application_id(),
        ADMIN,
        ALL_PERMISSIONS,
        command(name::ACTIVITY, vec![]),
    );
    send(&env.app, &env.key, &body).await?;
    let outcomes = env.invoker.finish().await?;
    assert!(matches!(outcomes.as_slice(), [Ok(Outcome::Expired)]), "{outcomes:?}");
    assert!(env.fake.webhook_calls().is_empty(), "the refused edit is not recorded as shown");

    let mut fresh = env.invoker.jobs().pop().context("no job")?;
    fresh.token = "a-fresh-interaction-token".to_owned();
    let followup = env.followup()?;
    let mut late = fresh.clone();
    late.token = TOKEN.to_owned();
    assert_eq!(followup.handle(&late, at(NOW + 2)).await?, Outcome::Expired);
    assert_eq!(followup.handle(&fresh, at(NOW + 2)).await?, Outcome::Answered);
    assert_eq!(env.fake.webhook_calls().len(), 1);
    Ok(())
}

/// An erasure handed over late (the followup queue was full, say) still runs: only its reply needs the
/// token. Nothing is sent with the dead token.
#[tokio::test]
async fn a_late_erasure_still_erases() -> anyhow::Result<()> {
    let env = Deferred::start("deferred-late-erase").await?;
    let followup = env.followup()?;
    let body = interaction(
        env.fake.application_id(),
        BOB,
        MEMBER_PERMISSIONS,
        grouped_subcommand(name::ENGAGEMENT, name::PRIVACY, name::ERASE, vec![]),
    );
    let recording = Arc::new(InProcessInvoker::recording());
    let app = app(&env.key, env.store.clone(), Arc::clone(&recording))?;
    send(&app, &env.key, &body).await?;
    let job = recording.jobs().pop().context("no job")?;
    let outcome = followup.handle(&job, at(NOW + 20 * 60)).await?;
    assert_eq!(outcome, Outcome::Expired);
    assert!(env.store.find_member(GuildId(GUILD), UserId(BOB)).await?.is_empty());
    assert!(env.fake.webhook_calls().is_empty(), "nothing sent with a dead token");
    Ok(())
}

/// `/engagement-config activity-role add` as the followup finishes it: checked against the guild's roles
/// (the bot's and the asker's place in the hierarchy), saved only when both allow it; `preview` shows
/// who would gain and lose the role.
#[tokio::test]
async fn activity_roles_are_checked_against_the_guilds_roles_then_saved() -> anyhow::Result<()> {
    use engagement_commands::{FollowupJob, RoleTask, Work};
    use engagement_domain::{ActivityRole, RoleId, Threshold};
    use fake_discord::world::seeded_role;

    let env = Deferred::start("deferred-roles").await?;
    let followup = env.followup()?;
    let guild = env.fake.with_world(|w| *w.guilds.keys().next().unwrap_or(&0));
    let role = |name: &str| {
        env.fake.with_world(|w| w.guilds.get(&guild).and_then(|g| g.role_named(name)).map(|r| r.id))
    };
    let (active, moderators) = (
        role(seeded_role::ACTIVE).context("Active")?,
        role(seeded_role::MODERATORS).context("mods")?,
    );
    let job = |role: u64, asker_roles: Vec<u64>, asker_permissions: u64, task: Option<RoleTask>| {
        let rule = ActivityRole { role: RoleId(role), threshold: Threshold::Top(3), days: 30 };
        FollowupJob {
            application_id: env.fake.application_id(),
            token: TOKEN.to_owned(),
            requested_at_ms: NOW * 1000,
            ephemeral: true,
            work: Work::ActivityRole {
                guild: GuildId(guild),
                asker_roles: asker_roles.into_iter().map(RoleId).collect(),
                asker_permissions,
                task: task.unwrap_or(RoleTask::Add { rule }),
            },
        }
    };
    let manage = (1 << 5) | (1 << 28);
    let regulars = role(seeded_role::REGULARS).context("Regulars")?;
    let cases = [
        (job(moderators, vec![], 8, None), "not below the bot's highest role"),
        // Bit 28 of the interaction's (channel) permissions is Manage Permissions, not Manage Roles.
        (job(active, vec![moderators], manage, None), "you need the Manage Roles permission"),
    ];
    for (job, expected) in cases {
        let outcome = followup.handle(&job, at(NOW + 1)).await?;
        assert_eq!(outcome, Outcome::Explained);
        let calls = env.fake.webhook_calls();
        let text = calls.last().context("no edit")?.payload["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(text.contains(expected), "{expected}: {text}");
        assert_eq!(env.store.guild_config(GuildId(guild)).await?, None, "nothing saved");
    }
    // Moderators and Regulars get Manage Roles: a member whose highest role is Regulars (below Active)
    // still may not; one with Moderators (above it) may.
    let update =
        fake_discord::world::RoleUpdate { permissions: Some(1 << 28), ..Default::default() };
    env.fake.update_role(moderators, &update)?;
    env.fake.update_role(regulars, &update)?;
    let outcome = followup.handle(&job(active, vec![regulars], manage, None), at(NOW + 1)).await?;
    assert_eq!(outcome, Outcome::Explained);
    let calls = env.fake.webhook_calls();
    let text =
        calls.last().context("no edit")?.payload["content"].as_str().unwrap_or_default().to_owned();
    assert!(text.contains("not below your highest role"), "{text}");
    let outcome =
        followup.handle(&job(active, vec![moderators], manage, None), at(NOW + 1)).await?;
    assert_eq!(outcome, Outcome::Answered);
    let calls = env.fake.webhook_calls();
    let text =
        calls.last().context("no edit")?.payload["content"].as_str().unwrap_or_default().to_owned();
    assert!(text.starts_with(&format!("Saved: the bot gives <@&{active}>")), "{text}");
    let config = env.store.guild_config(GuildId(guild)).await?.unwrap_or_default();
    assert_eq!(
        config.activity_roles.iter().map(|r| r.role.get()).collect::<Vec<_>>(),
        vec![active]
    );
    // Preview: nothing counted in this store for the fake's guild, so nobody would gain it.
    let preview = job(active, vec![], manage, Some(RoleTask::Preview { role: RoleId(active) }));
    assert_eq!(followup.handle(&preview, at(NOW + 1)).await?, Outcome::Answered);
    let calls = env.fake.webhook_calls();
    let call = calls.last().context("no edit")?;
    assert_eq!(embed(call)["title"], "Activity role preview");
    assert_eq!(embed(call)["fields"][0]["name"], "Would gain it (0)");
    assert!(env.fake.role_changes().is_empty(), "a preview changes nothing");
    Ok(())
}

/// `/engagement-config digest preview`: the followup builds the digest (chart attached) for the public,
/// shown to the asker only.
#[tokio::test]
async fn the_digest_preview_is_the_post_with_its_chart() -> anyhow::Result<()> {
    let env = Deferred::start("deferred-digest").await?;
    let set = grouped_subcommand(
        name::ENGAGEMENT_CONFIG,
        name::DIGEST,
        name::SET,
        vec![channel(option::CHANNEL, GENERAL, 0), string(option::FREQUENCY, "daily")],
    );
    send(&env.app, &env.key, &interaction(env.fake.application_id(), ADMIN, ALL_PERMISSIONS, set))
        .await?;
    let preview = grouped_subcommand(name::ENGAGEMENT_CONFIG, name::DIGEST, name::PREVIEW, vec![]);
    let (outcome, call) = env.run(ADMIN, preview, true).await?;
    assert_eq!(outcome, Outcome::Answered);
    assert_eq!(embed(&call)["title"], "Daily digest");
    // Daily at 09:00 UTC, and NOW is 08:53 on the 28th: the latest due is the 27th's, about the 26th.
    assert_eq!(embed(&call)["description"], "The server, 2025-11-26");
    let file = call.files.first().context("no chart")?;
    assert!(file.filename.ends_with(".png"), "{file:?}");
    Ok(())
}
