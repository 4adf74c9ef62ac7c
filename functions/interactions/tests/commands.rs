//! Every engagement command end to end through the interactions endpoint: signed requests, the command
//! registry, a store in moto seeded through commits, the answers checked against the seed. Deferred
//! commands are checked here up to the job handed to the followup function; `deferred.rs` follows them
//! through the followup function to the edited reply.

mod support;

use std::sync::Arc;

use engagement_commands::definition::{name, option};
use engagement_commands::{ActivityView, Ranked, Report, Work};
use engagement_domain::{ChannelId, GuildId, Metric, Period, Scope, UserId};
use engagement_testkit::events;
use lambda_http::http::StatusCode;
use serde_json::json;
use support::*;

/// A seeded store and the endpoint over it, with a recording invoker.
async fn setup(
    prefix: &str,
) -> anyhow::Result<(
    interactions::App,
    ed25519_dalek::SigningKey,
    Arc<InProcessInvoker>,
    engagement_store::CounterStore,
)> {
    let store = seeded_store(prefix).await?;
    let key = key();
    let invoker = Arc::new(InProcessInvoker::recording());
    let app = app(&key, store.clone(), Arc::clone(&invoker))?;
    Ok((app, key, invoker, store))
}

fn by(user: u64, data: serde_json::Value) -> serde_json::Value {
    interaction(APP, user, ALL_PERMISSIONS, data)
}

fn last_7_days(s: &Seed) -> bool {
    between(s, "2025-11-22", "2025-11-28")
}

// ---- /stats ------------------------------------------------------------------------------------------

#[tokio::test]
async fn stats_about_yourself_default_to_the_last_7_days_and_are_ephemeral() -> anyhow::Result<()> {
    let (app, key, invoker, _) = setup("stats-self").await?;
    let answer = send(&app, &key, &by(ADMIN, command(name::STATS, vec![]))).await?;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.is_ephemeral_message(), "{answer:?}");
    assert_eq!(answer.json["data"]["allowed_mentions"], json!({"parse": []}));
    let (messages, given, received) = sum(|s| last_7_days(s) && s.user == ADMIN);
    assert_eq!((messages, given, received), (11, 3, 3), "the seed itself");
    assert_eq!(answer.field("Messages"), messages.to_string());
    assert_eq!(answer.field("Reactions given"), given.to_string());
    assert_eq!(answer.field("Reactions received"), received.to_string());
    let fields = answer.embed()["fields"].as_array().cloned().unwrap_or_default();
    assert!(!fields.iter().any(|f| f["name"] == "Rank"), "ranks are the leaderboard's: {fields:?}");
    assert_eq!(answer.field("Active days"), "4 of 7");
    let general = sum(|s| last_7_days(s) && s.user == ADMIN && s.channel == GENERAL).0;
    let random = sum(|s| last_7_days(s) && s.user == ADMIN && s.channel == RANDOM).0;
    assert_eq!(
        answer.field("Top channels"),
        format!("<#{GENERAL}> — {general} messages\n<#{RANDOM}> — {random} messages")
    );
    let description = answer.embed()["description"].as_str().unwrap_or_default();
    assert!(
        description.starts_with(&format!("<@{ADMIN}> · last 7 days (2025-11-22 to 2025-11-28)")),
        "{description}"
    );
    assert!(invoker.jobs().is_empty(), "a 7-day report is answered at once");
    Ok(())
}

#[tokio::test]
async fn stats_about_another_member_over_explicit_dates() -> anyhow::Result<()> {
    let (app, key, _, _) = setup("stats-other").await?;
    let data = command(
        name::STATS,
        vec![
            user(option::MEMBER, ALICE),
            string(option::FROM, "2025-11-15"),
            string(option::TO, "2025-11-25"),
        ],
    );
    let answer = send(&app, &key, &by(ADMIN, data)).await?;
    let expected = sum(|s| between(s, "2025-11-15", "2025-11-25") && s.user == ALICE);
    assert_eq!(answer.field("Messages"), expected.0.to_string());
    assert_eq!(answer.field("Reactions received"), expected.2.to_string());
    assert_eq!(answer.field("Active days"), "3 of 11");
    // 31 days is the longest period with active days (and still answered at once).
    let month = command(
        name::STATS,
        vec![
            user(option::MEMBER, ALICE),
            string(option::FROM, "2025-10-29"),
            string(option::TO, "2025-11-28"),
        ],
    );
    let month = send(&app, &key, &by(ADMIN, month)).await?;
    let active = SEEDS
        .iter()
        .filter(|s| between(s, "2025-10-29", "2025-11-28") && s.user == ALICE && s.counts.0 > 0)
        .map(|s| s.day)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert!(active > 0, "the seed has days in that month");
    assert_eq!(month.field("Active days"), format!("{active} of 31"));
    let description = answer.embed()["description"].as_str().unwrap_or_default();
    assert!(
        description.starts_with(&format!("<@{ALICE}> · 2025-11-15 to 2025-11-25")),
        "{description}"
    );
    Ok(())
}

#[tokio::test]
async fn stats_over_a_year_or_all_time_are_deferred_ephemerally() -> anyhow::Result<()> {
    let (app, key, invoker, _) = setup("stats-long").await?;
    for period in ["365d", "all", "90d"] {
        let answer = send(
            &app,
            &key,
            &by(ADMIN, command(name::STATS, vec![string(option::PERIOD, period)])),
        )
        .await?;
        assert_eq!(answer.json, json!({"type": 5, "data": {"flags": 64}}), "{period}");
    }
    let jobs = invoker.jobs();
    assert_eq!(jobs.len(), 3);
    let job = &jobs[1];
    assert_eq!((job.application_id, job.token.as_str(), job.ephemeral), (APP, TOKEN, true));
    assert_eq!(job.requested_at_ms, NOW * 1000);
    let Work::Report { request, .. } = &job.work else { anyhow::bail!("not a report: {job:?}") };
    assert_eq!(request.report, Report::Stats { member: UserId(ADMIN) });
    assert_eq!((request.guild, request.viewer), (GuildId(GUILD), UserId(ADMIN)));
    assert_eq!((request.period.period, request.period.range), (Period::AllTime, None));
    assert_eq!(request.attachment_limit, 10_485_760);
    Ok(())
}

// ---- /channel-stats ----------------------------------------------------------------------------------

#[tokio::test]
async fn channel_stats_default_to_this_channel_with_a_trend_and_are_public() -> anyhow::Result<()> {
    let (app, key, _, _) = setup("channel-here").await?;
    let answer = send(&app, &key, &by(ADMIN, command(name::CHANNEL_STATS, vec![]))).await?;
    assert!(answer.is_public_message(), "{answer:?}");
    assert_eq!(answer.json["data"]["allowed_mentions"], json!({"parse": []}));
    assert_eq!(answer.embed()["title"], json!("Channel stats"));
    let now = sum(|s| last_7_days(s) && s.channel == GENERAL);
    let before = sum(|s| between(s, "2025-11-15", "2025-11-21") && s.channel == GENERAL).0;
    assert_eq!((now.0, before), (27, 10), "the seed itself");
    assert_eq!(answer.field("Messages"), now.0.to_string());
    assert_eq!(answer.field("Reactions received"), now.2.to_string());
    assert_eq!(answer.field("Active members"), "3");
    assert_eq!(answer.field("Messages vs the previous 7 days"), "▲ 170% (10 → 27)");
    assert_eq!(
        answer.field("Top members"),
        format!(
            "1. <@{ALICE}> — 11 messages\n2. <@{ADMIN}> — 9 messages\n3. <@{BOB}> — 7 messages"
        )
    );
    Ok(())
}

#[tokio::test]
async fn channel_stats_of_a_category_cover_its_channels() -> anyhow::Result<()> {
    let (app, key, _, _) = setup("channel-category").await?;
    let data = command(
        name::CHANNEL_STATS,
        vec![channel(option::CHANNEL, TEXT, 4), string(option::PERIOD, "30d")],
    );
    let answer = send(&app, &key, &by(ADMIN, data)).await?;
    assert_eq!(answer.embed()["title"], json!("Category stats"));
    let in_text =
        |s: &Seed| between(s, "2025-10-30", "2025-11-28") && category_of(s.channel) == Some(TEXT);
    assert_eq!(answer.field("Messages"), sum(in_text).0.to_string());
    let general = sum(|s| in_text(s) && s.channel == GENERAL).0;
    let random = sum(|s| in_text(s) && s.channel == RANDOM).0;
    assert_eq!(
        answer.field("Top channels in this category"),
        format!("1. <#{GENERAL}> — {general} messages\n2. <#{RANDOM}> — {random} messages")
    );
    Ok(())
}

// ---- /leaderboard ------------------------------------------------------------------------------------

#[tokio::test]
async fn leaderboards_rank_members_channels_and_categories() -> anyhow::Result<()> {
    let (app, key, _, _) = setup("leaderboard").await?;
    let members = send(&app, &key, &by(ADMIN, command(name::LEADERBOARD, vec![]))).await?;
    assert!(members.is_public_message(), "{members:?}");
    assert_eq!(members.embed()["title"], json!("Top members by messages"));
    let text = members.embed()["description"].as_str().unwrap_or_default().to_owned();
    let m = |u: u64| sum(|s| last_7_days(s) && s.user == u).0;
    // Ties are broken by id: ADMIN (…700) before BOB (…702).
    assert_eq!(
        text,
        format!(
            "the server · last 7 days (2025-11-22 to 2025-11-28)\n\n**1.** <@{ALICE}> — {} messages\n\
             **2.** <@{ADMIN}> — {} messages\n**3.** <@{BOB}> — {} messages",
            m(ALICE),
            m(ADMIN),
            m(BOB)
        )
    );

    let data = command(
        name::LEADERBOARD,
        vec![
            string(option::WHAT, "channels"),
            string(option::METRIC, "reactions_given"),
            string(option::PERIOD, "30d"),
        ],
    );
    let channels = send(&app, &key, &by(ADMIN, data)).await?;
    assert_eq!(channels.embed()["title"], json!("Top channels by reactions given"));
    let text = channels.embed()["description"].as_str().unwrap_or_default();
    let g = |c: u64| sum(|s| between(s, "2025-10-30", "2025-11-28") && s.channel == c).1;
    assert!(
        text.ends_with(&format!(
            "**1.** <#{GENERAL}> — {} reactions given\n**2.** <#{OFF_TOPIC}> — {} reactions given\n\
             **3.** <#{RANDOM}> — {} reaction given",
            g(GENERAL),
            g(OFF_TOPIC),
            g(RANDOM)
        )),
        "{text}"
    );

    let data = command(
        name::LEADERBOARD,
        vec![string(option::WHAT, "categories"), string(option::PERIOD, "today")],
    );
    let categories = send(&app, &key, &by(ADMIN, data)).await?;
    let text = categories.embed()["description"].as_str().unwrap_or_default();
    let today_text = sum(|s| s.day == "2025-11-28" && category_of(s.channel) == Some(TEXT)).0;
    assert!(text.ends_with(&format!("**1.** <#{TEXT}> — {today_text} messages")), "{text}");

    // Members of one channel only.
    let data = command(name::LEADERBOARD, vec![channel(option::CHANNEL, RANDOM, 0)]);
    let in_random = send(&app, &key, &by(ADMIN, data)).await?;
    let text = in_random.embed()["description"].as_str().unwrap_or_default();
    assert!(text.starts_with(&format!("<#{RANDOM}> · last 7 days")), "{text}");
    assert!(
        text.contains(&format!("**1.** <@{BOB}> — 4 messages\n**2.** <@{ADMIN}> — 2 messages")),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn leaderboards_over_all_time_are_deferred_publicly() -> anyhow::Result<()> {
    let (app, key, invoker, _) = setup("leaderboard-all").await?;
    let data = command(
        name::LEADERBOARD,
        vec![string(option::PERIOD, "all"), string(option::METRIC, "received")],
    );
    let answer = send(&app, &key, &by(ADMIN, data)).await?;
    assert_eq!(answer.json, json!({"type": 5}));
    let jobs = invoker.jobs();
    let Some(Work::Report { request, .. }) = jobs.first().map(|j| &j.work) else {
        anyhow::bail!("no job")
    };
    assert_eq!(
        request.report,
        Report::Leaderboard {
            ranked: Ranked::Members,
            metric: Metric::ReactionsReceived,
            scope: Scope::Guild
        }
    );
    assert!(!jobs[0].ephemeral);
    Ok(())
}

// ---- /activity and /export: always deferred -----------------------------------------------------------

#[tokio::test]
async fn activity_is_always_deferred_publicly_with_its_scope() -> anyhow::Result<()> {
    let (app, key, invoker, _) = setup("activity-defer").await?;
    let data = command(
        name::ACTIVITY,
        vec![string(option::PERIOD, "today"), channel(option::CHANNEL, TEXT, 4)],
    );
    let answer = send(&app, &key, &by(ADMIN, data)).await?;
    assert_eq!(answer.json, json!({"type": 5}));
    let jobs = invoker.jobs();
    let Some(Work::Report { request, .. }) = jobs.first().map(|j| &j.work) else {
        anyhow::bail!("no job")
    };
    assert_eq!(
        request.report,
        Report::Activity { scope: Scope::Category(ChannelId(TEXT)), view: ActivityView::Daily }
    );

    let heatmap = command(
        name::ACTIVITY,
        vec![string(option::VIEW, "heatmap"), string(option::PERIOD, "7d")],
    );
    assert_eq!(send(&app, &key, &by(ADMIN, heatmap)).await?.json, json!({"type": 5}));
    let jobs = invoker.jobs();
    let Some(Work::Report { request, .. }) = jobs.last().map(|j| &j.work) else {
        anyhow::bail!("no job")
    };
    assert_eq!(
        request.report,
        Report::Activity { scope: Scope::Guild, view: ActivityView::Heatmap }
    );
    Ok(())
}

#[tokio::test]
async fn export_is_for_server_managers_and_deferred_ephemerally() -> anyhow::Result<()> {
    let (app, key, invoker, _) = setup("export-perm").await?;
    let refused = send(
        &app,
        &key,
        &interaction(APP, ALICE, MEMBER_PERMISSIONS, command(name::EXPORT, vec![])),
    )
    .await?;
    assert!(refused.is_ephemeral_message(), "{refused:?}");
    assert!(refused.content().contains("Manage Server"), "{}", refused.content());
    assert!(invoker.jobs().is_empty());
    // MANAGE_GUILD alone (32) is enough.
    let allowed =
        send(&app, &key, &interaction(APP, ALICE, "32", command(name::EXPORT, vec![]))).await?;
    assert_eq!(allowed.json, json!({"type": 5, "data": {"flags": 64}}));
    let Some(job) = invoker.jobs().pop() else { anyhow::bail!("no job") };
    assert!(matches!(job.work, Work::Report { request, .. } if request.report == Report::Export));
    Ok(())
}

/// Exports and long charts cool down per member; short charts do not; another member is not held up.
#[tokio::test]
async fn heavy_deferred_commands_cool_down_per_member() -> anyhow::Result<()> {
    let (app, key, invoker, _) = setup("cooldown").await?;
    let export = || command(name::EXPORT, vec![]);
    let deferred = json!({"type": 5, "data": {"flags": 64}});
    assert_eq!(send(&app, &key, &by(ADMIN, export())).await?.json, deferred);
    let again = send(&app, &key, &by(ADMIN, export())).await?;
    assert!(again.is_ephemeral_message(), "{again:?}");
    assert_eq!(again.content(), "You asked for an export a moment ago. Please try again in 60 s.");
    assert_eq!(send(&app, &key, &by(ALICE, export())).await?.json, deferred, "per member");

    let chart = |period: &str| command(name::ACTIVITY, vec![string(option::PERIOD, period)]);
    for _ in 0..2 {
        assert_eq!(send(&app, &key, &by(ADMIN, chart("7d"))).await?.json, json!({"type": 5}));
    }
    assert_eq!(send(&app, &key, &by(ADMIN, chart("90d"))).await?.json, json!({"type": 5}));
    let long = send(&app, &key, &by(ADMIN, chart("90d"))).await?;
    assert!(long.content().contains("a long chart a moment ago"), "{long:?}");
    assert_eq!(invoker.jobs().len(), 5, "refused requests hand nothing over");
    Ok(())
}

/// A second erasure while the first is still running is told so, and hands nothing over.
#[tokio::test]
async fn a_second_erasure_while_one_runs_is_already_in_progress() -> anyhow::Result<()> {
    let (app, key, invoker, _) = setup("erase-twice").await?;
    let erase = grouped_subcommand(name::ENGAGEMENT, name::PRIVACY, name::ERASE, vec![]);
    let body = interaction(APP, BOB, MEMBER_PERMISSIONS, erase);
    let first = send(&app, &key, &body).await?;
    assert_eq!(first.json, json!({"type": 5, "data": {"flags": 64}}));
    let second = send(&app, &key, &body).await?;
    assert!(second.is_ephemeral_message(), "{second:?}");
    assert_eq!(second.content(), engagement_commands::holds::ERASE_IN_PROGRESS_MESSAGE);
    assert_eq!(invoker.jobs().len(), 1);
    Ok(())
}

/// A job that could not be handed over gives its hold back: trying again is not refused.
#[tokio::test]
async fn a_failed_hand_over_does_not_leave_a_cooldown() -> anyhow::Result<()> {
    let store = seeded_store("cooldown-refused").await?;
    let key = key();
    let refusing = app(&key, store.clone(), Arc::new(InProcessInvoker::refusing()))?;
    let export = by(ADMIN, command(name::EXPORT, vec![]));
    let failed = send(&refusing, &key, &export).await?;
    assert_eq!(failed.content(), interactions::services::DEFER_FAILED_MESSAGE);
    let working = app(&key, store, Arc::new(InProcessInvoker::recording()))?;
    assert_eq!(
        send(&working, &key, &export).await?.json,
        json!({"type": 5, "data": {"flags": 64}})
    );
    Ok(())
}

// ---- /engagement-config ------------------------------------------------------------------------------

fn config(sub: &str, options: Vec<serde_json::Value>) -> serde_json::Value {
    subcommand(name::ENGAGEMENT_CONFIG, sub, options)
}

#[tokio::test]
async fn config_sets_a_validated_time_zone() -> anyhow::Result<()> {
    let (app, key, _, store) = setup("config-tz").await?;
    let answer = send(
        &app,
        &key,
        &by(ADMIN, config(name::TIME_ZONE, vec![string(option::ZONE, "asia/tokyo")])),
    )
    .await?;
    assert!(answer.is_ephemeral_message(), "{answer:?}");
    // 08:53 UTC on the 28th is 17:53 in Tokyo.
    assert!(
        answer.content().contains("**Asia/Tokyo** (today there is 2025-11-28)"),
        "{}",
        answer.content()
    );
    let stored = store.guild_config(GuildId(GUILD)).await?.unwrap_or_default();
    assert_eq!(stored.time_zone.name(), "Asia/Tokyo");

    let bad = send(
        &app,
        &key,
        &by(ADMIN, config(name::TIME_ZONE, vec![string(option::ZONE, "Mars/Olympus")])),
    )
    .await?;
    assert!(bad.is_ephemeral_message());
    assert!(bad.content().contains("`Mars/Olympus` is not a time zone"), "{}", bad.content());
    assert_eq!(
        store.guild_config(GuildId(GUILD)).await?.unwrap_or_default().time_zone.name(),
        "Asia/Tokyo"
    );

    let show = send(&app, &key, &by(ADMIN, config(name::SHOW, vec![]))).await?;
    assert!(show.is_ephemeral_message());
    assert_eq!(show.field("Time zone"), "Asia/Tokyo");
    Ok(())
}

/// Discord hides `/engagement-config` from members without Manage Server, but a server may open it to
/// them (command permission overrides): the handler checks the member's permissions again.
#[tokio::test]
async fn config_is_refused_to_members_without_manage_server() -> anyhow::Result<()> {
    let (app, key, _, store) = setup("config-perm").await?;
    for data in [
        config(name::TIME_ZONE, vec![string(option::ZONE, "Europe/Paris")]),
        config(name::EXCLUDE, vec![channel(option::CHANNEL, RANDOM, 0)]),
        config(name::INCLUDE, vec![channel(option::CHANNEL, RANDOM, 0)]),
        config(name::SHOW, vec![]),
    ] {
        let answer = send(&app, &key, &interaction(APP, ALICE, MEMBER_PERMISSIONS, data)).await?;
        assert!(answer.is_ephemeral_message(), "{answer:?}");
        assert_eq!(answer.content(), interactions::handlers::options::NEEDS_MANAGE_GUILD);
    }
    assert_eq!(store.guild_config(GuildId(GUILD)).await?, None, "nothing was written");
    // MANAGE_GUILD (32) or ADMINISTRATOR (8) alone is enough.
    for permissions in ["32", "8"] {
        let show =
            send(&app, &key, &interaction(APP, ALICE, permissions, config(name::SHOW, vec![])))
                .await?;
        assert_eq!(show.field("Time zone"), "UTC (the default: not set for this server)");
    }
    Ok(())
}

/// The settings moved from `/engagement config …` to `/engagement-config …`: the old route is unknown.
#[tokio::test]
async fn the_old_config_route_is_unknown() -> anyhow::Result<()> {
    let (app, key, _, _) = setup("config-old-route").await?;
    let old = grouped_subcommand(name::ENGAGEMENT, "config", name::SHOW, vec![]);
    let answer = send(&app, &key, &by(ADMIN, old)).await?;
    assert!(answer.is_ephemeral_message(), "{answer:?}");
    assert!(
        answer.content().starts_with("Unknown command `/engagement config show`"),
        "{}",
        answer.content()
    );
    Ok(())
}

#[tokio::test]
async fn excluded_channels_leave_every_report_and_come_back_when_included() -> anyhow::Result<()> {
    let (app, key, _, store) = setup("config-exclude").await?;
    let excluded = send(
        &app,
        &key,
        &by(ADMIN, config(name::EXCLUDE, vec![channel(option::CHANNEL, GENERAL, 0)])),
    )
    .await?;
    assert!(
        excluded.content().starts_with(&format!("<#{GENERAL}> is excluded")),
        "{}",
        excluded.content()
    );
    let stored = store.guild_config(GuildId(GUILD)).await?.unwrap_or_default();
    assert!(stored.excluded_channels.contains(&ChannelId(GENERAL)));
    assert_eq!(
        stored.time_zone.name(),
        "UTC",
        "a new configuration starts from the default time zone"
    );

    // A report about the excluded channel: a short ephemeral explanation.
    let about = send(&app, &key, &by(ADMIN, command(name::CHANNEL_STATS, vec![]))).await?;
    assert!(about.is_ephemeral_message(), "{about:?}");
    assert!(about.content().contains("is excluded from counting"), "{}", about.content());
    for data in [
        command(name::LEADERBOARD, vec![channel(option::CHANNEL, GENERAL, 0)]),
        command(name::ACTIVITY, vec![channel(option::CHANNEL, GENERAL, 0)]),
    ] {
        let answer = send(&app, &key, &by(ADMIN, data)).await?;
        assert!(answer.content().contains("is excluded from counting"), "{answer:?}");
    }
    // Everything else leaves it out.
    let mine = send(&app, &key, &by(ADMIN, command(name::STATS, vec![]))).await?;
    let outside = sum(|s| last_7_days(s) && s.user == ADMIN && s.channel != GENERAL).0;
    assert_eq!(mine.field("Messages"), outside.to_string());
    assert!(!mine.field("Top channels").contains(&GENERAL.to_string()));

    let show = send(&app, &key, &by(ADMIN, config(name::SHOW, vec![]))).await?;
    assert_eq!(show.field("Excluded channels"), format!("<#{GENERAL}>"));
    let again = send(
        &app,
        &key,
        &by(ADMIN, config(name::EXCLUDE, vec![channel(option::CHANNEL, GENERAL, 0)])),
    )
    .await?;
    assert!(again.content().contains("already excluded"), "{}", again.content());
    let category = send(
        &app,
        &key,
        &by(ADMIN, config(name::EXCLUDE, vec![channel(option::CHANNEL, TEXT, 4)])),
    )
    .await?;
    assert!(category.content().starts_with("Categories are not counted"), "{}", category.content());

    let included = send(
        &app,
        &key,
        &by(ADMIN, config(name::INCLUDE, vec![channel(option::CHANNEL, GENERAL, 0)])),
    )
    .await?;
    assert!(included.content().contains("counted again"), "{}", included.content());
    let back = send(&app, &key, &by(ADMIN, command(name::STATS, vec![]))).await?;
    assert_eq!(back.field("Messages"), sum(|s| last_7_days(s) && s.user == ADMIN).0.to_string());
    Ok(())
}

// ---- /engagement privacy -----------------------------------------------------------------------------

// ---- /engagement-config activity-role ----------------------------------------------------------------

const ACTIVE: u64 = 1_300_000_000_000_000_900;

fn activity_role(sub: &str, options: Vec<serde_json::Value>) -> serde_json::Value {
    grouped_subcommand(name::ENGAGEMENT_CONFIG, name::ACTIVITY_ROLE, sub, options)
}

fn add(role_id: u64, managed: bool, extra: Vec<serde_json::Value>) -> serde_json::Value {
    let mut options = vec![role(option::ROLE, role_id, 2, managed)];
    options.extend(extra);
    activity_role(name::ADD, options)
}

/// `add` refuses at once what the interaction itself shows is wrong, and hands the rest (the checks
/// that need the guild's roles, and saving) to the followup function with the asker's roles.
#[tokio::test]
async fn activity_role_add_checks_what_it_can_and_defers_the_rest() -> anyhow::Result<()> {
    let (app, key, invoker, store) = setup("role-add").await?;
    let days = |n| integer(option::DAYS, n);
    let refused = [
        (add(ACTIVE, false, vec![days(7)]), "exactly one of `min-messages`"),
        (
            add(
                ACTIVE,
                false,
                vec![days(7), integer(option::TOP, 3), integer(option::MIN_MESSAGES, 5)],
            ),
            "exactly one of `min-messages`",
        ),
        (add(ACTIVE, false, vec![days(0), integer(option::TOP, 3)]), "`days` must be from 1 to 90"),
        (
            add(GUILD, false, vec![days(7), integer(option::TOP, 3)]),
            "`@everyone` is every member's role",
        ),
        (add(ACTIVE, true, vec![days(7), integer(option::TOP, 3)]), "managed by an integration"),
    ];
    for (data, expected) in refused {
        let answer = send(&app, &key, &by(ADMIN, data)).await?;
        assert!(answer.is_ephemeral_message(), "{answer:?}");
        assert!(answer.content().contains(expected), "{expected}: {}", answer.content());
    }
    assert!(invoker.jobs().is_empty());
    // Manage Server and bit 28 (in a channel: Manage Permissions): whether the asker's roles give
    // Manage Roles is for the followup to check, with the guild's roles.
    let data = add(ACTIVE, false, vec![days(7), integer(option::MIN_MESSAGES, 5)]);
    let answer = send(&app, &key, &interaction(APP, ALICE, "268435488", data)).await?;
    assert_eq!(answer.json, json!({"type": 5, "data": {"flags": 64}}));
    let jobs = invoker.jobs();
    let Some(Work::ActivityRole { guild, asker_permissions, task, .. }) =
        jobs.first().map(|j| &j.work)
    else {
        anyhow::bail!("not an activity-role job: {jobs:?}")
    };
    assert_eq!(*guild, GuildId(GUILD));
    assert_eq!(*asker_permissions, 268_435_488);
    let expected = engagement_domain::ActivityRole {
        role: engagement_domain::RoleId(ACTIVE),
        threshold: engagement_domain::Threshold::MinMessages(5),
        days: 7,
    };
    assert_eq!(*task, engagement_commands::RoleTask::Add { rule: expected });
    assert_eq!(store.guild_config(GuildId(GUILD)).await?, None, "the followup saves it");
    Ok(())
}

#[tokio::test]
async fn activity_roles_are_shown_previewed_removed_and_capped() -> anyhow::Result<()> {
    let (app, key, invoker, store) = setup("role-show").await?;
    let rule = |n: u64| engagement_domain::ActivityRole {
        role: engagement_domain::RoleId(ACTIVE + n),
        threshold: engagement_domain::Threshold::Top(3),
        days: 30,
    };
    store
        .update_guild_config(GuildId(GUILD), &Default::default(), |c| {
            c.activity_roles = (0..5).map(rule).collect();
            true
        })
        .await?;
    let show = send(&app, &key, &by(ADMIN, activity_role(name::SHOW, vec![]))).await?;
    assert!(show.is_ephemeral_message(), "{show:?}");
    assert_eq!(
        show.field("Rule 1"),
        format!(
            "<@&{ACTIVE}>: the top 3 members by messages in the last 30 days\nGiven by the bot to 0 \
             members. Not applied yet: the next sync applies it."
        )
    );
    // A sixth rule is refused; changing one of the five is not.
    let sixth = add(ACTIVE + 9, false, vec![integer(option::DAYS, 7), integer(option::TOP, 1)]);
    let answer = send(&app, &key, &by(ADMIN, sixth)).await?;
    assert!(answer.content().contains("has 5 activity roles"), "{}", answer.content());
    let change = add(ACTIVE, false, vec![integer(option::DAYS, 7), integer(option::TOP, 1)]);
    let answer = send(&app, &key, &by(ADMIN, change)).await?;
    assert_eq!(answer.json["type"], 5, "{answer:?}");
    // Preview: only of an activity role, deferred.
    let preview = |id| activity_role(name::PREVIEW, vec![role(option::ROLE, id, 2, false)]);
    let answer = send(&app, &key, &by(ADMIN, preview(ACTIVE + 9))).await?;
    assert!(answer.content().contains("is not an activity role"), "{}", answer.content());
    let answer = send(&app, &key, &by(ADMIN, preview(ACTIVE + 1))).await?;
    assert_eq!(answer.json, json!({"type": 5, "data": {"flags": 64}}));
    assert!(matches!(
        invoker.jobs().last().map(|j| &j.work),
        Some(Work::ActivityRole { task: engagement_commands::RoleTask::Preview { .. }, .. })
    ));
    // Remove: at once; a role that is not a rule is refused.
    let remove = |id| activity_role(name::REMOVE, vec![role(option::ROLE, id, 2, false)]);
    let answer = send(&app, &key, &by(ADMIN, remove(ACTIVE + 1))).await?;
    assert!(answer.content().contains("no longer gives or takes"), "{}", answer.content());
    let answer = send(&app, &key, &by(ADMIN, remove(ACTIVE + 1))).await?;
    assert!(answer.content().contains("is not an activity role"), "{}", answer.content());
    let stored = store.guild_config(GuildId(GUILD)).await?.unwrap_or_default();
    let roles: Vec<u64> = stored.activity_roles.iter().map(|r| r.role.get()).collect();
    assert_eq!(roles, vec![ACTIVE, ACTIVE + 2, ACTIVE + 3, ACTIVE + 4]);
    // Members without Manage Server get nothing of it.
    for data in [activity_role(name::SHOW, vec![]), remove(ACTIVE), preview(ACTIVE)] {
        let answer = send(&app, &key, &interaction(APP, ALICE, MEMBER_PERMISSIONS, data)).await?;
        assert_eq!(answer.content(), interactions::handlers::options::NEEDS_MANAGE_GUILD);
    }
    Ok(())
}

// ---- /engagement-config digest -----------------------------------------------------------------------

fn digest(sub: &str, options: Vec<serde_json::Value>) -> serde_json::Value {
    grouped_subcommand(name::ENGAGEMENT_CONFIG, name::DIGEST, sub, options)
}

#[tokio::test]
async fn the_digest_is_set_shown_previewed_and_turned_off() -> anyhow::Result<()> {
    let (app, key, invoker, store) = setup("digest").await?;
    let show = send(&app, &key, &by(ADMIN, digest(name::SHOW, vec![]))).await?;
    assert!(show.content().starts_with("No digest is set"), "{}", show.content());
    let weekly = |extra: Vec<serde_json::Value>| {
        let mut options =
            vec![channel(option::CHANNEL, GENERAL, 0), string(option::FREQUENCY, "weekly")];
        options.extend(extra);
        digest(name::SET, options)
    };
    // Refused with a reason, nothing saved.
    let daily_on_a_weekday = digest(
        name::SET,
        vec![
            channel(option::CHANNEL, GENERAL, 0),
            string(option::FREQUENCY, "daily"),
            string(option::WEEKDAY, "friday"),
        ],
    );
    for (data, expected) in [
        (daily_on_a_weekday, "`weekday` is for weekly digests"),
        (weekly(vec![integer(option::HOUR, 24)]), "`hour` must be from 0 to 23, not 24"),
        (weekly(vec![string(option::WEEKDAY, "someday")]), "`someday` is not a day of the week"),
        (
            digest(
                name::SET,
                vec![channel(option::CHANNEL, GENERAL, 0), string(option::FREQUENCY, "hourly")],
            ),
            "`hourly` is not a frequency",
        ),
    ] {
        let answer = send(&app, &key, &by(ADMIN, data)).await?;
        assert!(answer.is_ephemeral_message(), "{answer:?}");
        assert!(answer.content().contains(expected), "{expected}: {}", answer.content());
    }
    assert_eq!(store.guild_config(GuildId(GUILD)).await?, None);
    // NOW is Friday 2025-11-28 08:53 UTC: a digest set now for Fridays at 18:00 first posts today.
    let data = weekly(vec![string(option::WEEKDAY, "friday"), integer(option::HOUR, 18)]);
    let answer = send(&app, &key, &by(ADMIN, data)).await?;
    assert!(
        answer.content().starts_with(&format!(
            "The digest is posted every Friday at 18:00 (UTC) in <#{GENERAL}>, about the 7 days before; \
             the first on Friday 2025-11-28 18:00."
        )),
        "{}",
        answer.content()
    );
    let schedule = store.guild_config(GuildId(GUILD)).await?.unwrap_or_default().digest;
    assert_eq!(schedule.map(|s| (s.hour, s.since_ms)), Some((18, NOW * 1000)));
    let show = send(&app, &key, &by(ADMIN, digest(name::SHOW, vec![]))).await?;
    assert!(show.content().contains("Next: Friday 2025-11-28 18:00."), "{}", show.content());
    // The preview: the latest due digest (Friday 2025-11-21: the 14th to the 20th), for the public.
    let answer = send(&app, &key, &by(ADMIN, digest(name::PREVIEW, vec![]))).await?;
    assert_eq!(answer.json, json!({"type": 5, "data": {"flags": 64}}));
    let jobs = invoker.jobs();
    let Some(Work::Report { request, audience }) = jobs.last().map(|j| &j.work) else {
        anyhow::bail!("not a report job: {jobs:?}")
    };
    assert_eq!(*audience, engagement_domain::Audience::Public);
    assert_eq!(request.report, Report::Digest { frequency: engagement_domain::Frequency::Weekly });
    assert_eq!(
        request.period.range.map(|r| r.to_string()).as_deref(),
        Some("2025-11-14 to 2025-11-20")
    );
    // Off, then nothing to stop.
    let off = send(&app, &key, &by(ADMIN, digest(name::OFF, vec![]))).await?;
    assert!(off.content().starts_with("The digest is off"), "{}", off.content());
    let again = send(&app, &key, &by(ADMIN, digest(name::OFF, vec![]))).await?;
    assert_eq!(again.content(), "No digest is set: nothing to stop.");
    let member =
        send(&app, &key, &interaction(APP, ALICE, MEMBER_PERMISSIONS, digest(name::SHOW, vec![])))
            .await?;
    assert_eq!(member.content(), interactions::handlers::options::NEEDS_MANAGE_GUILD);
    Ok(())
}

fn privacy(sub: &str) -> serde_json::Value {
    grouped_subcommand(name::ENGAGEMENT, name::PRIVACY, sub, vec![])
}

#[tokio::test]
async fn opting_out_hides_a_member_from_others_and_opting_in_brings_them_back() -> anyhow::Result<()>
{
    let (app, key, invoker, store) = setup("privacy").await?;
    // Ordinary members may use privacy commands.
    let out =
        send(&app, &key, &interaction(APP, ALICE, MEMBER_PERMISSIONS, privacy(name::OPT_OUT)))
            .await?;
    assert!(out.is_ephemeral_message(), "{out:?}");
    assert!(out.content().starts_with("You are opted out"), "{}", out.content());
    assert!(
        store
            .guild_config(GuildId(GUILD))
            .await?
            .unwrap_or_default()
            .opted_out
            .contains(&UserId(ALICE))
    );

    let board = send(&app, &key, &by(ADMIN, command(name::LEADERBOARD, vec![]))).await?;
    let text = board.embed()["description"].as_str().unwrap_or_default();
    assert!(!text.contains(&ALICE.to_string()), "{text}");
    assert!(text.contains(&format!("**1.** <@{ADMIN}>")), "{text}");
    let looked_up =
        send(&app, &key, &by(ADMIN, command(name::STATS, vec![user(option::MEMBER, ALICE)])))
            .await?;
    assert_eq!(
        looked_up.content(),
        format!("<@{ALICE}> opted out of engagement statistics in this server.")
    );
    // Her own stats still show, with a note.
    let own = send(
        &app,
        &key,
        &interaction(APP, ALICE, MEMBER_PERMISSIONS, command(name::STATS, vec![])),
    )
    .await?;
    assert_eq!(own.field("Messages"), sum(|s| last_7_days(s) && s.user == ALICE).0.to_string());
    assert!(own.embed()["description"].as_str().unwrap_or_default().contains("You opted out"));

    let again =
        send(&app, &key, &interaction(APP, ALICE, MEMBER_PERMISSIONS, privacy(name::OPT_OUT)))
            .await?;
    assert!(again.content().contains("already opted out"), "{}", again.content());
    let back =
        send(&app, &key, &interaction(APP, ALICE, MEMBER_PERMISSIONS, privacy(name::OPT_IN)))
            .await?;
    assert!(back.content().starts_with("You are counted again"), "{}", back.content());
    let board = send(&app, &key, &by(ADMIN, command(name::LEADERBOARD, vec![]))).await?;
    assert!(
        board.embed()["description"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("**1.** <@{ALICE}>"))
    );
    assert!(invoker.jobs().is_empty());
    Ok(())
}

#[tokio::test]
async fn erasure_is_deferred_ephemerally_for_the_member_who_asked() -> anyhow::Result<()> {
    let (app, key, invoker, _) = setup("privacy-erase").await?;
    let answer =
        send(&app, &key, &interaction(APP, BOB, MEMBER_PERMISSIONS, privacy(name::ERASE))).await?;
    assert_eq!(answer.json, json!({"type": 5, "data": {"flags": 64}}));
    let jobs = invoker.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].work, Work::Erase { guild: GuildId(GUILD), member: UserId(BOB) });
    assert!(jobs[0].ephemeral);
    Ok(())
}

// ---- bad input -------------------------------------------------------------------------------------

#[tokio::test]
async fn bad_periods_get_short_ephemeral_explanations() -> anyhow::Result<()> {
    let (app, key, invoker, _) = setup("bad-input").await?;
    let cases: [(Vec<serde_json::Value>, &str); 7] = [
        (
            vec![string(option::FROM, "28/11/2025"), string(option::TO, "2025-11-28")],
            "`28/11/2025` is not a date: write it as YYYY-MM-DD",
        ),
        (
            vec![string(option::FROM, "2025-11-20"), string(option::TO, "2025-11-10")],
            "The start date 2025-11-20 is after the end date 2025-11-10",
        ),
        (vec![string(option::FROM, "2025-11-20")], "Give both `from` and `to` dates"),
        (
            vec![string(option::FROM, "2026-01-01"), string(option::TO, "2026-01-31")],
            "2026-01-01 is in the future",
        ),
        (vec![string(option::PERIOD, "fortnight")], "`fortnight` is not a period"),
        (
            vec![string(option::FROM, "2020-01-01"), string(option::TO, "2020-01-31")],
            "There is no data for that range: nothing was counted in this server between 2020-01-01 and 2020-01-31",
        ),
        (
            vec![string(option::FROM, "2000-01-01"), string(option::TO, "2025-01-01")],
            "the longest range is 3660 days",
        ),
    ];
    for (options, expected) in cases {
        for command_name in [name::STATS, name::CHANNEL_STATS, name::LEADERBOARD] {
            // `/stats` up to 31 days speaks of the member only (see `a_server_with_nothing_counted_says_so`).
            let expected = match expected.strip_prefix(
                "There is no data for that range: nothing was counted in this server ",
            ) {
                Some(period) if command_name == name::STATS => {
                    format!("Nothing was counted for <@{ADMIN}> {period}")
                }
                _ => expected.to_owned(),
            };
            let expected = expected.as_str();
            let answer =
                send(&app, &key, &by(ADMIN, command(command_name, options.clone()))).await?;
            assert!(answer.is_ephemeral_message(), "{command_name} {options:?}: {answer:?}");
            assert!(
                answer.content().contains(expected),
                "{command_name}: {} (expected {expected})",
                answer.content()
            );
        }
    }
    // Nothing counted in the channel although the server has data.
    let quiet = send(
        &app,
        &key,
        &by(
            ADMIN,
            command(
                name::CHANNEL_STATS,
                vec![channel(option::CHANNEL, OFF_TOPIC, 0), string(option::PERIOD, "yesterday")],
            ),
        ),
    )
    .await?;
    assert_eq!(
        quiet.content(),
        format!("Nothing was counted in <#{OFF_TOPIC}> yesterday (2025-11-27).")
    );
    let combination = send(
        &app,
        &key,
        &by(
            ADMIN,
            command(
                name::LEADERBOARD,
                vec![string(option::WHAT, "categories"), channel(option::CHANNEL, TEXT, 4)],
            ),
        ),
    )
    .await?;
    assert!(
        combination.content().starts_with("A categories leaderboard covers the whole server"),
        "{}",
        combination.content()
    );
    assert!(invoker.jobs().is_empty(), "bad input is refused before anything is deferred");
    Ok(())
}

#[tokio::test]
async fn a_server_with_nothing_counted_says_so() -> anyhow::Result<()> {
    let store = empty_store("nothing").await?;
    let key = key();
    let app = app(&key, store, Arc::new(InProcessInvoker::recording()))?;
    let answer = send(&app, &key, &by(ADMIN, command(name::LEADERBOARD, vec![]))).await?;
    assert!(answer.is_ephemeral_message());
    assert!(
        answer.content().starts_with("There is no data for that range: nothing was counted in this server in the last 7 days (2025-11-22 to 2025-11-28)."),
        "{}",
        answer.content()
    );
    // `/stats` speaks of the member only: whether the server counted nothing or only what the asker may
    // not see is not theirs to learn.
    let stats = send(&app, &key, &by(ADMIN, command(name::STATS, vec![]))).await?;
    assert!(stats.is_ephemeral_message());
    assert_eq!(
        stats.content(),
        format!(
            "Nothing was counted for <@{ADMIN}> in the last 7 days (2025-11-22 to 2025-11-28)."
        )
    );
    Ok(())
}

#[tokio::test]
async fn commands_outside_a_server_get_a_clear_message() -> anyhow::Result<()> {
    let (app, key, _, _) = setup("direct").await?;
    for data in [
        command(name::STATS, vec![]),
        command(name::EXPORT, vec![]),
        grouped_subcommand(name::ENGAGEMENT, name::PRIVACY, name::ERASE, vec![]),
    ] {
        let answer = send(&app, &key, &direct_message(APP, ALICE, data)).await?;
        assert!(answer.is_ephemeral_message(), "{answer:?}");
        assert_eq!(answer.content(), interactions::handlers::options::NOT_IN_A_GUILD);
    }
    Ok(())
}

#[tokio::test]
async fn a_followup_that_cannot_be_started_is_an_ephemeral_message_not_thinking_forever()
-> anyhow::Result<()> {
    let store = seeded_store("refused").await?;
    let key = key();
    let app = app(&key, store, Arc::new(InProcessInvoker::refusing()))?;
    let answer = send(&app, &key, &by(ADMIN, command(name::ACTIVITY, vec![]))).await?;
    assert!(answer.is_ephemeral_message(), "{answer:?}");
    assert_eq!(answer.content(), interactions::services::DEFER_FAILED_MESSAGE);
    Ok(())
}

/// A command from a guild brings the guild's next sync check forward (the sync's back-off is reset by
/// it); one outside a guild notes nothing.
#[tokio::test]
async fn a_command_from_a_guild_brings_its_next_sync_check_forward() -> anyhow::Result<()> {
    let (app, key, _, store) = setup("nudge").await?;
    send(&app, &key, &direct_message(APP, ALICE, command(name::STATS, vec![]))).await?;
    assert!(store.guild_schedules().await?.is_empty(), "not from a guild");
    let answer = send(&app, &key, &by(ADMIN, command(name::STATS, vec![]))).await?;
    assert_eq!(answer.status, StatusCode::OK);
    let rows = store.guild_schedules().await?;
    let row = rows.get(&GuildId(GUILD)).copied().unwrap_or_default();
    assert_eq!(row.nudged_ms, NOW * 1000, "the request's time: {rows:?}");
    assert!(row.urgent(), "never checked, and nudged: first in the next run");
    assert_eq!(rows.len(), 1, "{rows:?}");
    Ok(())
}

#[tokio::test]
async fn a_store_failure_is_an_apology_without_details() -> anyhow::Result<()> {
    let key = key();
    let app = app(&key, broken_store().await?, Arc::new(InProcessInvoker::recording()))?;
    let answer = send(&app, &key, &by(ADMIN, command(name::STATS, vec![]))).await?;
    assert!(answer.is_ephemeral_message());
    assert_eq!(answer.content(), interactions::handlers::INTERNAL_ERROR_MESSAGE);
    Ok(())
}

// ---- help and events ---------------------------------------------------------------------------------

#[tokio::test]
async fn help_lists_every_command() -> anyhow::Result<()> {
    let (app, key, _, _) = setup("help").await?;
    let answer = send(&app, &key, &by(ALICE, command(name::HELP, vec![]))).await?;
    for (route, _) in engagement_commands::definition::ROUTES {
        assert!(answer.content().contains(&format!("`/{route}`")), "{route}: {}", answer.content());
    }
    Ok(())
}

/// The command events in `events/` (signed with the development key) answered by the real commands.
#[tokio::test]
async fn the_command_events_answer_from_the_store() -> anyhow::Result<()> {
    let store = seeded_store("events").await?;
    let invoker = Arc::new(InProcessInvoker::recording());
    let app = app(&engagement_testkit::signing::dev_signing_key(), store, Arc::clone(&invoker))?;
    let answer = |name: &'static str| {
        let app = &app;
        async move {
            let event = events::load_event(name)?;
            let now = events::event_timestamp(&event)?;
            let request = lambda_http::request::from_str(&events::read_event(name)?)?;
            let response = app.handle(request, at(now)).await;
            anyhow::Ok(serde_json::from_slice::<serde_json::Value>(response.body().as_ref())?)
        }
    };
    let stats = answer("interactions-command-stats").await?;
    assert_eq!(stats["data"]["flags"], json!(64));
    assert_eq!(
        support::field(&stats["data"]["embeds"][0], "Messages"),
        sum(|s| last_7_days(s) && s.user == ADMIN).0.to_string()
    );
    let board = answer("interactions-command-leaderboard").await?;
    assert_eq!(board["data"]["embeds"][0]["title"], json!("Top members by messages"));
    let activity = answer("interactions-command-activity").await?;
    assert_eq!(activity, json!({"type": 5}));
    assert_eq!(invoker.jobs().len(), 1);
    Ok(())
}

#[tokio::test]
async fn retention_weeks_out_of_range_or_not_a_number_are_refused_with_a_reason()
-> anyhow::Result<()> {
    let (app, key, _, _) = setup("retention-weeks").await?;
    for (weeks, said) in [
        (json!(0), "`weeks` must be from 1 to 26, not 0."),
        (json!(27), "`weeks` must be from 1 to 26, not 27."),
        (json!(-3), "`weeks` must be from 1 to 26, not -3."),
    ] {
        let option = json!({"name": option::WEEKS, "type": 4, "value": weeks});
        let data = subcommand(name::INSIGHTS, name::RETENTION, vec![option]);
        let answer = send(&app, &key, &interaction(APP, ALICE, MEMBER_PERMISSIONS, data)).await?;
        assert!(answer.is_ephemeral_message(), "{answer:?}");
        assert_eq!(answer.content(), said);
    }
    let text = json!({"name": option::WEEKS, "type": 3, "value": "eight"});
    let data = subcommand(name::INSIGHTS, name::RETENTION, vec![text]);
    let answer = send(&app, &key, &interaction(APP, ALICE, MEMBER_PERMISSIONS, data)).await?;
    assert!(answer.is_ephemeral_message(), "{answer:?}");
    assert_eq!(answer.content(), "`weeks` must be a whole number.");
    Ok(())
}
