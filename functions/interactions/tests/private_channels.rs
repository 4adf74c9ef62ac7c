//! Replies show only what their audience may see: a public reply counts only channels `@everyone` can
//! view; an ephemeral one what the asker can view; server managers see everything. `#random` is the
//! private channel here (staff only), and BOB posted in it.

mod support;

use std::sync::Arc;

use anyhow::Context as _;
use engagement_commands::definition::{name, option};
use engagement_commands::{Reply, Work};
use engagement_domain::{Audience, GuildConfig, GuildId};
use serde_json::{Value, json};
use support::*;

fn last_7_days(s: &Seed) -> bool {
    between(s, "2025-11-22", "2025-11-28")
}

/// The same interaction with the member given `roles`.
fn with_roles(mut body: Value, roles: &[u64]) -> Value {
    body["member"]["roles"] = json!(roles.iter().map(u64::to_string).collect::<Vec<_>>());
    body
}

fn text_of(reply: &Reply) -> String {
    serde_json::to_string(&reply.message()).unwrap_or_default()
}

#[tokio::test]
async fn each_report_shows_only_what_its_audience_may_see() -> anyhow::Result<()> {
    let store = seeded_store("private-channels").await?;
    store.put_guild_access(GuildId(GUILD), &access(&[RANDOM]), 0).await?;
    let key = key();
    let invoker = Arc::new(InProcessInvoker::recording());
    let app = app(&key, store.clone(), Arc::clone(&invoker))?;
    let random = format!("<#{RANDOM}>");

    // /stats (ephemeral): BOB without the staff role does not count #random, even his own messages...
    let bob = |roles: &[u64]| {
        with_roles(interaction(APP, BOB, MEMBER_PERMISSIONS, command(name::STATS, vec![])), roles)
    };
    let everywhere = sum(|s| last_7_days(s) && s.user == BOB).0;
    let outside = sum(|s| last_7_days(s) && s.user == BOB && s.channel != RANDOM).0;
    assert!(everywhere > outside, "the seed has BOB in #random");
    let answer = send(&app, &key, &bob(&[])).await?;
    assert_eq!(answer.field("Messages"), outside.to_string());
    assert!(!answer.json.to_string().contains(&random), "{}", answer.json);
    // ...with it he does, and so does an administrator looking him up.
    assert_eq!(send(&app, &key, &bob(&[STAFF])).await?.field("Messages"), everywhere.to_string());
    let by_admin = command(name::STATS, vec![user(option::MEMBER, BOB)]);
    let answer = send(&app, &key, &interaction(APP, ADMIN, ALL_PERMISSIONS, by_admin)).await?;
    assert_eq!(answer.field("Messages"), everywhere.to_string());

    // /leaderboard (public), even asked by an administrator: #random is not ranked.
    let board = command(name::LEADERBOARD, vec![string(option::WHAT, "channels")]);
    let answer = send(&app, &key, &interaction(APP, ADMIN, ALL_PERMISSIONS, board)).await?;
    let shown = answer.json.to_string();
    assert!(shown.contains(&format!("<#{GENERAL}>")) && !shown.contains(&random), "{shown}");
    let members = command(name::LEADERBOARD, vec![]);
    let answer = send(&app, &key, &interaction(APP, ADMIN, ALL_PERMISSIONS, members)).await?;
    let general_and_off_topic = sum(|s| last_7_days(s) && s.user == BOB && s.channel != RANDOM).0;
    assert!(
        answer.json.to_string().contains(&format!("<@{BOB}> — {general_and_off_topic} messages"))
    );

    // /channel-stats (public) about the category holding #general and #random: #random's messages are
    // not in it; and the categories leaderboard counts the category without them too.
    let category = command(name::CHANNEL_STATS, vec![channel(option::CHANNEL, TEXT, 4)]);
    let answer = send(&app, &key, &interaction(APP, ADMIN, ALL_PERMISSIONS, category)).await?;
    let general_only = sum(|s| last_7_days(s) && s.channel == GENERAL).0;
    assert_eq!(answer.field("Messages"), general_only.to_string(), "{answer:?}");
    assert!(!answer.json.to_string().contains(&random), "{}", answer.json);
    let categories = command(name::LEADERBOARD, vec![string(option::WHAT, "categories")]);
    let answer = send(&app, &key, &interaction(APP, ADMIN, ALL_PERMISSIONS, categories)).await?;
    assert!(
        answer.json.to_string().contains(&format!("<#{TEXT}> — {general_only} messages")),
        "{}",
        answer.json
    );

    // /channel-stats (public) about #random: refused, saying nothing about it.
    let about = command(name::CHANNEL_STATS, vec![channel(option::CHANNEL, RANDOM, 0)]);
    let answer = send(&app, &key, &interaction(APP, ADMIN, ALL_PERMISSIONS, about)).await?;
    assert!(answer.is_ephemeral_message(), "{answer:?}");
    assert!(answer.content().starts_with("There is nothing to show for"), "{}", answer.content());
    // No number but the channel's own id in the mention.
    assert!(
        !answer.content().replace(&random, "").contains(char::is_numeric),
        "{}",
        answer.content()
    );

    // /activity (public) and /export (server managers): the jobs carry their audiences, and the
    // followup's answers follow them.
    let chart = command(name::ACTIVITY, vec![]);
    send(&app, &key, &interaction(APP, ADMIN, ALL_PERMISSIONS, chart)).await?;
    send(&app, &key, &interaction(APP, ADMIN, ALL_PERMISSIONS, command(name::EXPORT, vec![])))
        .await?;
    let jobs = invoker.jobs();
    let config = GuildConfig::default();
    let reporter = engagement_commands::Reporter::new(store);
    let [chart_job, export_job] = jobs.as_slice() else { anyhow::bail!("{jobs:?}") };
    let Work::Report { request, audience } = &chart_job.work else {
        anyhow::bail!("{chart_job:?}")
    };
    assert_eq!(audience, &Audience::Public);
    let chart = reporter.answer(request, &config, audience).await?;
    let public_total = sum(|s| last_7_days(s) && s.channel != RANDOM).0;
    assert!(
        text_of(&chart).contains(&format!("**{public_total} messages**")),
        "{}",
        text_of(&chart)
    );
    let Work::Report { request, audience } = &export_job.work else {
        anyhow::bail!("{export_job:?}")
    };
    assert_eq!(audience, &Audience::Everything);
    let export = reporter.answer(request, &config, audience).await?;
    let csv = String::from_utf8(export.files.first().context("no CSV")?.data.clone())?;
    assert!(csv.lines().any(|line| line.contains(&RANDOM.to_string())), "{csv}");
    Ok(())
}

/// Channels the sync's snapshot does not know (deleted ones, or none listed yet): fail closed — public
/// and member replies do not count them, server managers do.
#[tokio::test]
async fn unknown_channels_count_only_for_server_managers() -> anyhow::Result<()> {
    let store = seeded_store("unknown-channels").await?;
    // A snapshot that knows no channel.
    let mut none = access(&[]);
    none.channels.clear();
    store.put_guild_access(GuildId(GUILD), &none, 0).await?;
    let key = key();
    let app = app(&key, store, Arc::new(InProcessInvoker::recording()))?;
    let member =
        send(&app, &key, &interaction(APP, BOB, MEMBER_PERMISSIONS, command(name::STATS, vec![])))
            .await?;
    // Nothing the member may see was counted: the reply says so and shows no number.
    assert!(member.is_ephemeral_message(), "{member:?}");
    assert!(member.content().starts_with("Nothing was counted for"), "{}", member.content());
    let admin = send(
        &app,
        &key,
        &interaction(
            APP,
            ADMIN,
            ALL_PERMISSIONS,
            command(name::STATS, vec![user(option::MEMBER, BOB)]),
        ),
    )
    .await?;
    assert_eq!(admin.field("Messages"), sum(|s| last_7_days(s) && s.user == BOB).0.to_string());
    Ok(())
}
