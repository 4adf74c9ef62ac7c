//! The sync against the fake Discord (real HTTP) and moto (real DynamoDB protocol): after every run the
//! store's export must equal the fake's ground truth exactly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use engagement_discord::{DiscordClient, DiscordConfig};
use engagement_domain::{ChannelId, Counts, Day, DayRange, GuildId, Scope, UserId};
use engagement_store::{CompactionPolicy, CounterStore, StoreErrorKind};
use fake_discord::config::{Faults, WorldSize};
use fake_discord::truth::TruthOptions;
use fake_discord::world::{Emoji, NewMessage};
use fake_discord::{FakeConfig, FakeDiscord};
use sync::{SyncError, SyncSettings, Syncer};

type Export = BTreeMap<(u64, Day, ChannelId, UserId), Counts>;

struct Setup {
    fake: FakeDiscord,
    syncer: Syncer,
}

async fn setup(name: &str, seed: u64) -> anyhow::Result<Setup> {
    setup_sized(name, seed, WorldSize::Small).await
}

async fn setup_sized(name: &str, seed: u64, size: WorldSize) -> anyhow::Result<Setup> {
    let fake = FakeDiscord::start(FakeConfig { seed, size, ..FakeConfig::default() }).await?;
    let (client, table) = engagement_testkit::dynamo::client_and_table_name(name).await?;
    let store = CounterStore::new(client, table);
    store.create_table().await?;
    let mut config = DiscordConfig::new(fake.token()).with_api_base(fake.base_url());
    config.max_attempts = 6;
    let discord = DiscordClient::new(config)?;
    let settings = SyncSettings {
        // Count the whole synthetic history (two weeks) on first sight.
        first_sight_lookback: Duration::from_secs(400 * 24 * 3600),
        fixed_now: Some(fake.clock()),
        ..SyncSettings::default()
    };
    Ok(Setup { fake, syncer: Syncer { store, discord, settings } })
}

fn truth(fake: &FakeDiscord) -> Export {
    fake.ground_truth(&TruthOptions::default())
        .into_iter()
        .map(|r| {
            let counts = Counts {
                messages: r.messages as i64,
                reactions_given: r.reactions_given as i64,
                reactions_received: r.reactions_received as i64,
            };
            (
                (r.guild_id, Day::from_date(r.day), ChannelId(r.channel_id), UserId(r.user_id)),
                counts,
            )
        })
        .collect()
}

async fn export(s: &Setup) -> anyhow::Result<Export> {
    export_of(&s.fake, &s.syncer.store).await
}

async fn export_of(fake: &FakeDiscord, store: &CounterStore) -> anyhow::Result<Export> {
    let guilds: Vec<u64> = fake.with_world(|w| w.guilds.keys().copied().collect());
    let range = DayRange::new("2025-01-01".parse()?, "2027-12-31".parse()?).unwrap();
    let mut out = Export::new();
    for g in guilds {
        let days = store.load_days(GuildId(g), range).await?;
        for (day, channel, user, counts) in days.records() {
            out.insert((g, day, channel, user), counts);
        }
    }
    Ok(out)
}

/// Asserts that the store's hourly counts of every guild equal the fake's hourly ground truth.
async fn assert_hours_match(fake: &FakeDiscord, store: &CounterStore, context: &str) {
    let mut want: BTreeMap<(u64, Day, u8, ChannelId), i64> = BTreeMap::new();
    for r in fake.hourly_truth(&TruthOptions::default()) {
        let hour = u8::try_from(r.hour).unwrap();
        want.insert(
            (r.guild_id, Day::from_date(r.day), hour, ChannelId(r.channel_id)),
            r.messages as i64,
        );
    }
    let range =
        DayRange::new("2025-01-01".parse().unwrap(), "2027-12-31".parse().unwrap()).unwrap();
    let mut got = BTreeMap::new();
    for g in fake.with_world(|w| w.guilds.keys().copied().collect::<Vec<_>>()) {
        for ((day, hour, channel), n) in store.load_hours(GuildId(g), range).await.unwrap().messages
        {
            got.insert((g, day, hour, channel), n);
        }
    }
    assert!(!want.is_empty());
    assert_eq!(got, want, "hourly counts, {context}");
}

/// Asserts that DAU, WAU, MAU, new and returning members and messages of every guild and day, as
/// `engagement insights` computes them, equal the fake's participation ground truth (with `options`).
async fn assert_insights_match(
    fake: &FakeDiscord,
    store: &CounterStore,
    options: &TruthOptions,
    context: &str,
) {
    let mut want: BTreeMap<u64, BTreeMap<Day, [u64; 7]>> = BTreeMap::new();
    for r in fake.insights_truth(options) {
        let figures = [r.dau, r.wau, r.mau, r.new_members, r.returning_members, r.messages, 0];
        want.entry(r.guild_id).or_default().insert(Day::from_date(r.day), figures);
    }
    assert!(!want.is_empty());
    for (guild, days) in &want {
        let range =
            DayRange::new(*days.keys().next().unwrap(), *days.keys().last().unwrap()).unwrap();
        let (_, participation) = engagement_commands::report::insights::participation(
            store,
            GuildId(*guild),
            (Some(range), range.last),
            Scope::Guild,
            |_, _| true,
        )
        .await
        .unwrap()
        .unwrap();
        let got: BTreeMap<Day, [u64; 7]> = participation
            .daily_figures(range)
            .into_iter()
            .map(|f| {
                let n = |v: usize| v as u64;
                let figures = [
                    n(f.dau),
                    n(f.wau),
                    n(f.mau),
                    n(f.new_members),
                    n(f.returning_members),
                    f.messages as u64,
                    0,
                ];
                (f.day, figures)
            })
            .collect();
        assert_eq!(&got, days, "insights of guild {guild}, {context}");
    }
}

/// Asserts equality and, when different, shows only the keys that differ.
fn assert_same(got: &Export, want: &Export, context: &str) {
    if got == want {
        return;
    }
    let mut diff = Vec::new();
    for key in got.keys().chain(want.keys()).collect::<std::collections::BTreeSet<_>>() {
        let (g, w) = (got.get(key), want.get(key));
        if g != w {
            diff.push(format!("{key:?}: got {g:?}, want {w:?}"));
        }
    }
    panic!("{context}: {} keys differ:\n{}", diff.len(), diff.join("\n"));
}

fn first_text_channel(fake: &FakeDiscord) -> (u64, u64, Vec<u64>) {
    fake.with_world(|w| {
        let channel =
            w.channels.values().find(|c| c.kind == 0 && c.readable && c.thread.is_none()).unwrap();
        let guild = &w.guilds[&channel.guild_id];
        let members: Vec<u64> = guild.members.iter().copied().filter(|u| !w.users[u].bot).collect();
        (channel.guild_id, channel.id, members)
    })
}

#[tokio::test]
async fn a_sync_of_a_synthetic_guild_equals_the_ground_truth_and_stays_equal_as_it_changes()
-> anyhow::Result<()> {
    let s = setup("sync-truth", 7).await?;
    let first = s.syncer.sync_all(Duration::from_secs(120)).await?;
    assert!(!first.budget_exhausted);
    assert!(first.messages_counted > 100, "{first:?}");
    let expected = truth(&s.fake);
    assert!(!expected.is_empty());
    assert_same(&export(&s).await?, &expected, "after the first sync");
    assert_hours_match(&s.fake, &s.syncer.store, "after the first sync").await;
    assert_insights_match(
        &s.fake,
        &s.syncer.store,
        &TruthOptions::default(),
        "after the first sync",
    )
    .await;
    assert!(first.channels_no_access >= 1, "the small world has an unreadable channel: {first:?}");
    // Every guild counted up to when the run started.
    let started = s.syncer.settings.fixed_now.map(|t| t.timestamp_millis());
    let started = started.and_then(|ms| u64::try_from(ms).ok());
    for g in s.fake.with_world(|w| w.guilds.keys().copied().collect::<Vec<_>>()) {
        assert_eq!(s.syncer.store.last_synced(GuildId(g)).await?, started);
    }

    let mut syncer = Box::pin(assert_changes_are_counted(&s)).await?;
    Box::pin(assert_idle_runs_back_off(&s, &mut syncer)).await?;

    // Compaction does not change what is read.
    for g in s.fake.with_world(|w| w.guilds.keys().copied().collect::<Vec<_>>()) {
        s.syncer.store.compact(GuildId(g), CompactionPolicy::ALWAYS, u64::MAX / 2).await?;
    }
    assert_same(&export(&s).await?, &truth(&s.fake), "after compaction");
    assert_hours_match(&s.fake, &s.syncer.store, "after compaction").await;
    assert_insights_match(&s.fake, &s.syncer.store, &TruthOptions::default(), "after compaction")
        .await;
    Ok(())
}

/// New messages, reactions added and removed, a new thread, an archived thread: each counted as
/// Discord shows it. Returns the syncer at the fake's clock.
async fn assert_changes_are_counted(s: &Setup) -> anyhow::Result<Syncer> {
    // New messages, reactions added and removed, a new thread, an archived thread.
    let (_, channel, members) = first_text_channel(&s.fake);
    // The channel's newest message, counted by the first run and inside the 24 h reconciliation window.
    let recent =
        s.fake.with_world(|w| w.channels[&channel].messages.keys().next_back().copied()).unwrap();
    assert!(
        s.fake.clock() - engagement_domain::snowflake::created_at(recent)
            < chrono::Duration::hours(23)
    );
    s.fake.advance_clock(chrono::Duration::minutes(5));
    let m1 = s.fake.add_message(&NewMessage::new(channel, members[0]))?;
    let _m2 = s.fake.add_message(&NewMessage {
        kind: Some(19),
        reply_to: Some(m1),
        ..NewMessage::new(channel, members[1])
    })?;
    s.fake.add_reaction(channel, m1, members[2], &Emoji::unicode("🎉"), false)?;
    s.fake.add_reaction(channel, m1, members[3], &Emoji::unicode("🎉"), true)?;
    let thread = s.fake.create_thread(channel, "new thread", members[0], None)?;
    s.fake.add_message(&NewMessage::new(thread, members[4]))?;
    s.fake.add_message(&NewMessage::new(thread, members[0]))?;
    s.fake.set_archived(thread, true)?;
    s.fake.add_reaction(channel, recent, members[5], &Emoji::unicode("👀"), false)?;
    let mut syncer = s.syncer.clone();
    syncer.settings.fixed_now = Some(s.fake.clock());
    let second = syncer.sync_all(Duration::from_secs(120)).await?;
    assert_same(&export(s).await?, &truth(&s.fake), &format!("after changes: {second:?}"));
    assert_hours_match(&s.fake, &s.syncer.store, "after changes").await;
    assert_insights_match(&s.fake, &s.syncer.store, &TruthOptions::default(), "after changes")
        .await;
    assert!(second.reaction_corrections >= 1, "{second:?}");

    // Removing a reaction is a negative correction.
    s.fake.remove_reaction(channel, m1, members[2], &Emoji::unicode("🎉"), false)?;
    s.fake.advance_clock(chrono::Duration::hours(2));
    syncer.settings.fixed_now = Some(s.fake.clock());
    syncer.sync_all(Duration::from_secs(120)).await?;
    assert_same(&export(s).await?, &truth(&s.fake), "after a reaction was removed");

    Ok(syncer)
}

/// After runs that found nothing new: the next scheduled run checks every guild for two requests each
/// (channels and active threads), and the one after leaves them for later.
async fn assert_idle_runs_back_off(s: &Setup, syncer: &mut Syncer) -> anyhow::Result<()> {
    // An idle run, at the next scheduled run: only the listings (per guild its channels and active
    // threads: the roles are not listed again while the channels' permissions are unchanged and the
    // guild is backing off; the guilds were listed 5 minutes ago), nothing per channel.
    s.fake.reset_stats();
    s.fake.advance_clock(chrono::Duration::minutes(5));
    syncer.settings.fixed_now = Some(s.fake.clock());
    let idle = syncer.sync_all(Duration::from_secs(120)).await?;
    let guilds = s.fake.with_world(|w| w.guilds.len()) as u64;
    assert_eq!(
        (idle.guilds_checked, idle.guilds_not_due, idle.oldest_check_age_ms),
        (guilds, 0, 0)
    );
    assert_eq!(
        s.fake.stats().requests,
        2 * guilds,
        "idle run: {idle:?} {:?}",
        s.fake
            .request_log()
            .iter()
            .map(|r| format!("{} {} {}", r.path, r.query, r.status))
            .collect::<Vec<_>>()
    );
    assert_eq!(idle.batches, 0);
    assert_eq!(
        idle.discord_requests,
        s.fake.stats().requests,
        "the summary counts what Discord received"
    );
    assert_eq!(idle.discord_429s, 0);

    // Two quiet checks in a row: the guilds wait 10 minutes now, so a run 5 minutes later checks none
    // of them, and asks Discord nothing; their last check is 5 minutes old.
    s.fake.reset_stats();
    s.fake.advance_clock(chrono::Duration::minutes(5));
    syncer.settings.fixed_now = Some(s.fake.clock());
    let backing_off = syncer.sync_all(Duration::from_secs(120)).await?;
    assert_eq!(s.fake.stats().requests, 0, "{backing_off:?}");
    assert_eq!((backing_off.guilds, backing_off.guilds_not_due), (0, guilds));
    let age = backing_off.oldest_check_age_ms;
    assert!((5 * 60_000..6 * 60_000).contains(&age), "{age} ms since the last check");

    Ok(())
}

#[tokio::test]
async fn runs_killed_at_every_write_and_flaky_discord_still_count_exactly_once()
-> anyhow::Result<()> {
    let s = setup("sync-faults", 11).await?;
    s.fake.set_faults(Faults {
        server_error_rate: 0.05,
        shared_rate_limit_rate: 0.03,
        shared_retry_after: Duration::from_millis(20),
        ..Faults::default()
    });
    let expected = truth(&s.fake);
    // Small batches: many commit boundaries.
    let mut base = s.syncer.clone();
    base.settings.flush_bytes = 512;
    // A clean run on its own table tells how many writes a full sync makes.
    let clean = with_fresh_table(&base, "sync-clean").await?;
    clean.sync_all(Duration::from_secs(120)).await?;
    let writes = clean.store.usage().write_requests;
    assert_same(&export_of(&s.fake, &clean.store).await?, &expected, "clean run with 5xx and 429s");
    assert!(writes >= 12, "a sync of the small world makes {writes} writes");
    // Kill the run before (even k) or right after (odd k) each write in turn, then run again.
    for k in 0..writes {
        let syncer = with_fresh_table(&base, "sync-crash").await?;
        if k % 2 == 0 {
            syncer.store.inject_crash_after_writes(k);
        } else {
            syncer.store.inject_lost_ack_after_writes(k);
        }
        match syncer.sync_all(Duration::from_secs(120)).await {
            Err(SyncError::Store(e)) if e.kind() == StoreErrorKind::Injected => {}
            // Discord's injected 5xx and 429s land on other requests in each run (tasks interleave),
            // so a run may read fewer messages, commit fewer batches and end before write k: nothing
            // was killed, and the checks below still hold.
            Ok(_) if syncer.store.usage().write_requests <= k => {}
            other => panic!(
                "write {k} of {writes} should have failed ({} writes made): {other:?}",
                syncer.store.usage().write_requests
            ),
        }
        syncer.store.clear_faults();
        // A crashed run's lease expires after a minute in production; the test takes it back at once.
        syncer.store.break_lease("sync").await?;
        // Run again until a run completes without skipping a channel after Discord errors (they are
        // retried by the next run, as in production).
        let mut runs = Vec::new();
        loop {
            let summary = syncer.sync_all(Duration::from_secs(120)).await?;
            let clean = summary.channel_errors == 0;
            runs.push(summary);
            if clean || runs.len() >= 5 {
                break;
            }
        }
        assert_same(
            &export_of(&s.fake, &syncer.store).await?,
            &expected,
            &format!("crash at write {k}, reruns {runs:?}"),
        );
        assert_hours_match(&s.fake, &syncer.store, &format!("crash at write {k}")).await;
        let context = format!("crash at write {k}");
        assert_insights_match(&s.fake, &syncer.store, &TruthOptions::default(), &context).await;
    }
    let stats = s.fake.stats();
    assert!(stats.server_errors > 0 && stats.rate_limited > 0, "faults were injected: {stats:?}");
    Ok(())
}

/// A first sync that counts only the last days, then a backfill of the rest: members who were active
/// before those days get their first day moved back to their true first message, and every figure
/// equals the ground truth before (of the counted days) and after (of all history).
#[tokio::test]
async fn a_backfill_that_finds_older_messages_moves_members_first_days() -> anyhow::Result<()> {
    let mut s = setup("sync-first-seen", 7).await?;
    let lookback = chrono::Duration::days(3);
    s.syncer.settings.first_sight_lookback = lookback.to_std()?;
    s.syncer.sync_all(Duration::from_secs(120)).await?;
    // What the first sync counted: messages since the lookback's start (a day boundary in UTC or not,
    // the truth's `since` is the same instant).
    let since = TruthOptions { since: Some(s.fake.clock() - lookback), ..TruthOptions::default() };
    assert_insights_match(&s.fake, &s.syncer.store, &since, "before the backfill").await;

    // A member active in the last days whose first message is older.
    let recent = s.fake.ground_truth(&since);
    let all = s.fake.ground_truth(&TruthOptions::default());
    let first_of = |records: &[fake_discord::truth::TruthRecord], user: u64| {
        records.iter().filter(|r| r.user_id == user && r.messages > 0).map(|r| r.day).min()
    };
    let (guild, user) = recent
        .iter()
        .filter(|r| r.messages > 0)
        .map(|r| (r.guild_id, r.user_id))
        .find(|&(_, u)| first_of(&all, u) < first_of(&recent, u))
        .expect("a member with older messages");
    let stored_first = async |store: &CounterStore| {
        let first = store.load_first_seen(GuildId(guild)).await.unwrap();
        first.iter().filter(|((u, _), _)| *u == UserId(user)).map(|(_, d)| *d).min()
    };
    let before = stored_first(&s.syncer.store).await;
    assert_eq!(before, first_of(&recent, user).map(Day::from_date));

    let oldest = Day::from_date(all.iter().map(|r| r.day).min().unwrap());
    // A backfill an hour later reads back in time, not up to its start: reports still say the counts
    // go up to the forward sync's start.
    let synced = s.syncer.store.last_synced(GuildId(guild)).await?;
    assert!(synced.is_some());
    s.syncer.settings.fixed_now = s.syncer.settings.fixed_now.map(|t| t + lookback / 72);
    for g in s.fake.with_world(|w| w.guilds.keys().copied().collect::<Vec<_>>()) {
        let done =
            s.syncer.backfill(GuildId(g), oldest.previous(), Duration::from_secs(120)).await?;
        assert!(done.messages_counted > 0 || g != guild, "{done:?}");
    }
    assert_eq!(s.syncer.store.last_synced(GuildId(guild)).await?, synced);
    let after = stored_first(&s.syncer.store).await;
    assert_eq!(after, first_of(&all, user).map(Day::from_date));
    assert!(after < before);
    assert_same(&export(&s).await?, &truth(&s.fake), "after the backfill");
    assert_insights_match(&s.fake, &s.syncer.store, &TruthOptions::default(), "after the backfill")
        .await;
    Ok(())
}

async fn with_fresh_table(base: &Syncer, name: &str) -> anyhow::Result<Syncer> {
    let (client, table) = engagement_testkit::dynamo::client_and_table_name(name).await?;
    let store = CounterStore::new(client, table);
    store.create_table().await?;
    Ok(Syncer { store, ..base.clone() })
}

/// One guild's fold fails (an erasure waits to be folded past a summary that does not decode): that is
/// reported, and every guild — that one included — is still synced exactly.
#[tokio::test]
async fn a_failing_fold_in_one_guild_blocks_no_guild() -> anyhow::Result<()> {
    use aws_sdk_dynamodb::primitives::Blob;
    use aws_sdk_dynamodb::types::AttributeValue;

    // The small world, in two guilds.
    let knobs = fake_discord::config::WorldKnobs { guilds: 2, ..WorldSize::Small.knobs() };
    let s = setup_sized("sync-fold-fails", 11, WorldSize::Custom(knobs)).await?;
    let guilds: Vec<u64> = s.fake.with_world(|w| w.guilds.keys().copied().collect());
    assert_eq!(guilds.len(), 2);
    s.syncer.sync_all(Duration::from_secs(120)).await?;
    assert_same(&export(&s).await?, &truth(&s.fake), "after the first sync");
    for guild in &guilds {
        s.syncer.store.compact(GuildId(*guild), CompactionPolicy::ALWAYS, 0).await?;
    }

    // A day summary of the first guild that cannot be read (outside the days compared below)...
    let broken = guilds[0];
    let (client, _) = engagement_testkit::dynamo::client_and_table_name("unused").await?;
    let text = |v: String| AttributeValue::S(v);
    let number = |v: u64| AttributeValue::N(v.to_string());
    client
        .put_item()
        .table_name(s.syncer.store.table())
        .item("pk", text(format!("G#{broken}#DAY")))
        .item("sk", text("2024-01-01#0000000001#00000".to_owned()))
        .item("gen", number(1))
        .item("shards", number(1))
        .item("through", number(1))
        .item("data", AttributeValue::B(Blob::new(b"not a summary".to_vec())))
        .send()
        .await?;
    // ...and an erasure that must fold into every day: its fold fails there.
    // Two hours ago: due to be folded by the sync's own policy.
    let now = s.syncer.settings.fixed_now.unwrap();
    let two_hours_ago = u64::try_from((now - chrono::Duration::hours(2)).timestamp_millis())?;
    let erased = s.syncer.store.erase_member(GuildId(broken), UserId(1), two_hours_ago).await;
    assert_eq!(erased.map_err(|e| e.kind()), Err(StoreErrorKind::Corrupt));

    // New messages in both guilds; the next run reports the failed fold and counts everything.
    s.fake.advance_clock(chrono::Duration::minutes(5));
    for guild in &guilds {
        let (channel, author) = s.fake.with_world(|w| {
            let channel = w
                .channels
                .values()
                .find(|c| c.guild_id == *guild && c.kind == 0 && c.readable && c.thread.is_none())
                .map(|c| c.id)
                .unwrap();
            let author = w.guilds[guild].members.iter().copied().find(|u| !w.users[u].bot).unwrap();
            (channel, author)
        });
        s.fake.add_message(&NewMessage::new(channel, author))?;
    }
    let run = s.syncer.sync_all(Duration::from_secs(120)).await?;
    assert_eq!(run.compaction_failures, 1, "{run:?}");
    assert_eq!(run.messages_counted, 2, "{run:?}");
    assert_same(&export(&s).await?, &truth(&s.fake), "after a run with a failed fold");
    Ok(())
}

/// The sync keeps the store's snapshot of who can view which channel: a channel made private (staff only)
/// disappears from what `@everyone` can view, and comes back when it is opened again.
#[tokio::test]
async fn the_sync_keeps_the_channel_permissions_reports_read() -> anyhow::Result<()> {
    use engagement_domain::Audience;
    use engagement_domain::visibility::{VIEW_CHANNEL, visible_channels};
    use fake_discord::world::PermissionOverwrite;

    let s = setup("sync-access", 5).await?;
    let (guild, channel, _) = first_text_channel(&s.fake);
    let staff = s.fake.add_role(guild, 0)?;
    s.fake.set_overwrites(
        channel,
        vec![
            PermissionOverwrite { id: guild, kind: 0, allow: 0, deny: VIEW_CHANNEL },
            PermissionOverwrite { id: staff, kind: 0, allow: VIEW_CHANNEL, deny: 0 },
        ],
    )?;
    s.syncer.sync_all(Duration::from_secs(120)).await?;
    let access = s.syncer.store.guild_access(GuildId(guild)).await?.expect("a snapshot");
    let public = visible_channels(&access, &Audience::Public);
    assert!(!public.contains(&ChannelId(channel)), "the private channel is hidden");
    assert!(public.len() >= 3, "the other channels stay visible: {public:?}");
    let member = Audience::Member {
        roles: [engagement_domain::RoleId(staff)].into(),
        user: UserId(1),
        guild_permissions: 0,
    };
    assert!(visible_channels(&access, &member).contains(&ChannelId(channel)));

    s.fake.set_overwrites(channel, Vec::new())?;
    s.syncer.sync_all(Duration::from_secs(120)).await?;
    let access = s.syncer.store.guild_access(GuildId(guild)).await?.expect("a snapshot");
    assert!(visible_channels(&access, &Audience::Public).contains(&ChannelId(channel)));
    Ok(())
}

/// The message of `members[0]` that the first sync counted, with a reaction, in the first text channel.
async fn counted_message_with_a_reaction(s: &Setup) -> anyhow::Result<(u64, u64, u64, Vec<u64>)> {
    let (guild, channel, members) = first_text_channel(&s.fake);
    let message = s.fake.add_message(&NewMessage::new(channel, members[0]))?;
    s.fake.add_reaction(channel, message, members[1], &Emoji::unicode("🎉"), false)?;
    let mut syncer = s.syncer.clone();
    syncer.settings.fixed_now = Some(s.fake.clock());
    syncer.sync_all(Duration::from_secs(120)).await?;
    Ok((guild, channel, message, members))
}

/// Adds a reaction to `message` two hours on, and runs the sync (its hourly reconciliation pass).
async fn react_and_reconcile(
    s: &Setup,
    channel: u64,
    message: u64,
    reactor: u64,
) -> anyhow::Result<sync::RunSummary> {
    s.fake.add_reaction(channel, message, reactor, &Emoji::unicode("👀"), false)?;
    s.fake.advance_clock(chrono::Duration::hours(2));
    let mut syncer = s.syncer.clone();
    syncer.settings.fixed_now = Some(s.fake.clock());
    Ok(syncer.sync_all(Duration::from_secs(120)).await?)
}

fn member_counts(export: &Export, guild: u64, user: u64) -> Counts {
    export
        .iter()
        .filter(|((g, _, _, u), _)| *g == guild && u.0 == user)
        .fold(Counts::ZERO, |sum, (_, c)| sum + *c)
}

/// A member who opted out is credited nothing more, not even reactions received on a message counted
/// before: when that message changes, what it had credited them is withdrawn (so the counters always
/// match the recorded reaction state). The member who reacted is still credited.
#[tokio::test]
async fn reconciliation_credits_nothing_to_a_member_who_opted_out() -> anyhow::Result<()> {
    let s = setup("sync-opted-out-reactions", 3).await?;
    s.syncer.sync_all(Duration::from_secs(120)).await?;
    let (guild, channel, message, members) = counted_message_with_a_reaction(&s).await?;
    let before = export(&s).await?;
    let author = member_counts(&before, guild, members[0]);
    s.syncer
        .store
        .update_guild_config(GuildId(guild), &Default::default(), |c| {
            c.opted_out.insert(UserId(members[0]))
        })
        .await?;
    let run = react_and_reconcile(&s, channel, message, members[2]).await?;
    assert!(run.reaction_corrections >= 1, "{run:?}");
    let after = export(&s).await?;
    let now = member_counts(&after, guild, members[0]);
    assert_eq!(now.messages, author.messages);
    // The message had one reaction when it was counted: withdrawn, and the new one not credited.
    assert_eq!(now.reactions_received, author.reactions_received - 1, "{now:?} vs {author:?}");
    let reactor = member_counts(&after, guild, members[2]).reactions_given
        - member_counts(&before, guild, members[2]).reactions_given;
    assert_eq!(reactor, 1, "the reactor's reaction is counted");
    Ok(())
}

/// After a time-zone change, a reaction correction lands on the day the message was counted on, never on
/// the day the new zone would give it (where the message has no counters to correct).
#[tokio::test]
async fn corrections_land_on_the_day_the_message_was_counted_on() -> anyhow::Result<()> {
    let s = setup("sync-zone-change", 4).await?;
    s.syncer.sync_all(Duration::from_secs(120)).await?;
    let (guild, channel, message, members) = counted_message_with_a_reaction(&s).await?;
    let counted_on = Day::from_date(engagement_domain::snowflake::created_at(message).date_naive());
    // UTC+14: the message's day there is the next one.
    let zone: engagement_domain::GuildTimeZone = "Pacific/Kiritimati".parse()?;
    s.syncer
        .store
        .update_guild_config(GuildId(guild), &Default::default(), |c| {
            c.time_zone = zone;
            true
        })
        .await?;
    react_and_reconcile(&s, channel, message, members[2]).await?;
    let after = export(&s).await?;
    let on = |day: Day| after.get(&(guild, day, ChannelId(channel), UserId(members[0]))).copied();
    let received = on(counted_on).map(|c| c.reactions_received);
    assert_eq!(received, Some(2), "both reactions on the day the message counts on");
    let next = on(counted_on.next()).unwrap_or(Counts::ZERO);
    assert!(next.reactions_received >= 0 && next.messages >= 0, "{next:?}");
    assert!(
        after
            .values()
            .all(|c| c.messages >= 0 && c.reactions_received >= 0 && c.reactions_given >= 0)
    );
    Ok(())
}

/// A channel the bot cannot read is asked again (another 403) about once an hour while it gets new
/// messages, and at once when its permission overwrites change — not on every run.
#[tokio::test]
async fn an_unreadable_channel_is_asked_again_hourly_or_when_its_permissions_change()
-> anyhow::Result<()> {
    use fake_discord::world::PermissionOverwrite;

    let mut s = setup("sync-unreadable", 6).await?;
    // Every guild every run: this is about the channel's own hourly retry, not the guild's back-off
    // (a guild whose only news is in a channel it cannot read backs off like a quiet one).
    s.syncer.settings.idle_ceiling = Duration::ZERO;
    let (channel, author) = s.fake.with_world(|w| {
        let channel = w.channels.values().find(|c| c.kind == 0 && !c.readable).unwrap();
        let guild = &w.guilds[&channel.guild_id];
        (channel.id, guild.members.iter().copied().find(|u| !w.users[u].bot).unwrap())
    });
    let run = |minutes: i64| {
        let fake = &s.fake;
        let base = s.syncer.clone();
        async move {
            fake.advance_clock(chrono::Duration::minutes(minutes));
            fake.add_message(&NewMessage::new(channel, author))?;
            let mut syncer = base;
            syncer.settings.fixed_now = Some(fake.clock());
            Ok::<_, anyhow::Error>(syncer.sync_all(Duration::from_secs(120)).await?)
        }
    };
    let first = s.syncer.sync_all(Duration::from_secs(120)).await?;
    assert!(first.channels_no_access >= 1, "{first:?}");
    // A run "asks" the channel when it gets 403s for it (its messages, and its archived threads).
    let asked = |summary: sync::RunSummary| summary.channels_no_access > 0;
    // Its first new message since: asked (its newest message was hours older).
    assert!(asked(run(5).await?));
    // New messages five and twenty-five minutes on: not asked.
    assert!(!asked(run(5).await?));
    assert!(!asked(run(20).await?));
    // An hour past the last attempt: asked once more, then not again at once.
    assert!(asked(run(40).await?));
    assert!(!asked(run(5).await?));
    // Its overwrites change (someone gave a role access): asked at once.
    let role = s.fake.add_role(s.fake.with_world(|w| w.channels[&channel].guild_id), 0)?;
    s.fake.set_overwrites(
        channel,
        vec![PermissionOverwrite { id: role, kind: 0, allow: 1 << 10, deny: 0 }],
    )?;
    assert!(asked(run(5).await?));
    Ok(())
}

// ---- many guilds: the schedule -------------------------------------------------------------------------

/// A readable text channel of `guild` and a human member to post in it.
fn channel_and_author(fake: &FakeDiscord, guild: u64) -> (u64, u64) {
    fake.with_world(|w| {
        let channel = w
            .channels
            .values()
            .find(|c| c.guild_id == guild && c.kind == 0 && c.readable && c.thread.is_none())
            .map(|c| c.id)
            .unwrap();
        let author = w.guilds[&guild].members.iter().copied().find(|u| !w.users[u].bot).unwrap();
        (channel, author)
    })
}

/// The next scheduled run, five minutes of the fake's clock later. Returns its summary and the guilds
/// whose channels it listed (the guilds it checked).
async fn next_run(
    s: &Setup,
    syncer: &mut Syncer,
    budget: Duration,
) -> anyhow::Result<(sync::RunSummary, std::collections::BTreeSet<u64>)> {
    s.fake.advance_clock(chrono::Duration::minutes(5));
    syncer.settings.fixed_now = Some(s.fake.clock());
    s.fake.reset_stats();
    let summary = Box::pin(syncer.sync_all(budget)).await?;
    let checked = s
        .fake
        .request_log()
        .iter()
        .filter_map(|r| {
            r.path.strip_prefix("/api/v10/guilds/")?.strip_suffix("/channels")?.parse().ok()
        })
        .collect();
    Ok((summary, checked))
}

/// Thirty small guilds, one of them busy: the busy one is checked every run and the quiet ones back
/// off to the hourly ceiling; a slash command brings a quiet guild back at once; a run whose budget is
/// spent starts no guild and the next run checks every guild it left; a guild the bot was removed from
/// is dropped without an error; and the counts stay equal to the ground truth throughout.
#[tokio::test]
async fn many_guilds_back_off_when_quiet_and_come_back_when_nudged() -> anyhow::Result<()> {
    let knobs = fake_discord::config::WorldKnobs::many_small_guilds(30);
    let s = setup_sized("sync-many", 5, WorldSize::Custom(knobs)).await?;
    let guilds: Vec<u64> = s.fake.with_world(|w| w.guilds.keys().copied().collect());
    assert_eq!(guilds.len(), 30);
    let mut syncer = s.syncer.clone();
    let budget = Duration::from_secs(120);
    let (first, checked) = next_run(&s, &mut syncer, budget).await?;
    assert_eq!((first.guilds_checked, checked.len()), (30, 30), "{first:?}");
    assert_same(&export(&s).await?, &truth(&s.fake), "after the first run");

    // Two simulated hours: the busy guild posts before every run.
    let busy = guilds[7];
    let (busy_channel, busy_author) = channel_and_author(&s.fake, busy);
    let mut checks: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for run in 0..24 {
        s.fake.add_message(&NewMessage::new(busy_channel, busy_author))?;
        let (summary, checked) = next_run(&s, &mut syncer, budget).await?;
        assert_eq!(summary.discord_429s, 0, "{summary:?}");
        assert_eq!(summary.guilds_checked as usize, checked.len(), "{summary:?}");
        assert_eq!(summary.guilds_not_due as usize, 30 - checked.len(), "{summary:?}");
        for guild in checked {
            checks.entry(guild).or_default().push(run);
        }
    }
    assert_eq!(checks[&busy], (0..24).collect::<Vec<_>>(), "the busy guild, every run");
    for guild in guilds.iter().filter(|g| **g != busy) {
        // Quiet since the first run: checked after 5, 5, 10, 20, 40 and then 60 minutes.
        assert_eq!(checks[guild], [0, 1, 3, 7, 15], "guild {guild}");
    }
    assert_same(&export(&s).await?, &truth(&s.fake), "after two hours");

    // A slash command from a quiet guild: checked at the next run, its roles listed again.
    let nudged = guilds[3];
    let now_ms = || u64::try_from(s.fake.clock().timestamp_millis());
    syncer.store.nudge_guild(GuildId(nudged), now_ms()?).await?;
    let (summary, checked) = next_run(&s, &mut syncer, budget).await?;
    assert!(checked.contains(&nudged), "{summary:?}");
    let roles = format!("/api/v10/guilds/{nudged}/roles");
    assert!(s.fake.request_log().iter().any(|r| r.path == roles), "roles listed after a nudge");
    assert_eq!(checked.len(), 2, "the busy guild and the nudged one: {checked:?}");

    // Every guild has news; a run whose budget is already spent starts none of them (not even their
    // listings), and the next run checks them all.
    for guild in &guilds {
        let (channel, author) = channel_and_author(&s.fake, *guild);
        s.fake.add_message(&NewMessage::new(channel, author))?;
        syncer.store.nudge_guild(GuildId(*guild), now_ms()?).await?;
    }
    let spent = syncer.settings.margin;
    let (short, checked) = next_run(&s, &mut syncer, spent).await?;
    assert!(checked.is_empty() && short.budget_exhausted, "{short:?}");
    assert_eq!((short.guilds, short.guilds_overdue), (0, 30), "{short:?}");
    let (summary, checked) = next_run(&s, &mut syncer, budget).await?;
    assert_eq!((summary.guilds_checked, checked.len()), (30, 30), "{summary:?}");
    assert_same(&export(&s).await?, &truth(&s.fake), "after the run that caught up");

    // The bot is removed from a guild: dropped without an error, and the guilds are listed again.
    let gone = guilds[11];
    s.fake.remove_guild(gone)?;
    syncer.store.nudge_guild(GuildId(gone), now_ms()?).await?;
    let (summary, checked) = next_run(&s, &mut syncer, budget).await?;
    assert!(checked.contains(&gone) && summary.guilds_left == 1, "{summary:?}");
    assert!(!syncer.store.guild_schedules().await?.contains_key(&GuildId(gone)));
    let (summary, _) = next_run(&s, &mut syncer, budget).await?;
    let listed = s.fake.request_log().iter().any(|r| r.path == "/api/v10/users/@me/guilds");
    assert!(listed && summary.guilds_left == 0, "the guilds listed again: {summary:?}");
    assert_same(&export(&s).await?, &truth(&s.fake), "the other guilds, after the removal");
    Ok(())
}
