//! The reports over an in-memory store: what each one shows, and what it leaves out for whom. No
//! database: the store's own tests check that the DynamoDB reader's totals, days and all-time counters
//! equal the in-memory one's in every fold state.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{TimeZone as _, Utc};
use engagement_commands::request::{ActivityView, Ranked, Report, ReportPeriod, ReportRequest};
use engagement_commands::{AnswerError, Reply, Reporter};
use engagement_domain::visibility::VIEW_CHANNEL;
use engagement_domain::{
    Audience, ChannelAccess, ChannelId, Counts, Day, GuildAccess, GuildConfig, GuildId,
    GuildTimeZone, Metric, Overwrite, OverwriteTarget, Period, RoleId, Scope, UserId,
};
use engagement_testkit::memory::MemoryCounters;

const G: GuildId = GuildId(1);
/// A category holding GENERAL and STAFF_ROOM; LOOSE has no category.
const CATEGORY: ChannelId = ChannelId(100);
const GENERAL: ChannelId = ChannelId(10);
/// Only the STAFF role can view it.
const STAFF_ROOM: ChannelId = ChannelId(11);
const LOOSE: ChannelId = ChannelId(12);
const STAFF: RoleId = RoleId(50);
const ALICE: UserId = UserId(7);
const BOB: UserId = UserId(8);
const CAROL: UserId = UserId(9);

fn day(s: &str) -> Day {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Messages of `member` in `channel` on `on`.
fn said(store: &mut MemoryCounters, on: &str, channel: ChannelId, member: UserId, n: i64) {
    let category = (channel != LOOSE).then_some(CATEGORY);
    store.add(G, day(on), channel, category, member, Counts::messages(n));
}

/// Seven days up to 2026-11-28 (the "today" of every request) and the seven days before.
fn seeded() -> MemoryCounters {
    let mut store = MemoryCounters::new();
    // The previous 7 days (2026-11-15..21): 4 messages in GENERAL.
    said(&mut store, "2026-11-20", GENERAL, ALICE, 4);
    // The last 7 days (2026-11-22..28).
    said(&mut store, "2026-11-22", GENERAL, ALICE, 3);
    said(&mut store, "2026-11-25", GENERAL, ALICE, 2);
    said(&mut store, "2026-11-28", LOOSE, ALICE, 1);
    said(&mut store, "2026-11-23", GENERAL, BOB, 1);
    said(&mut store, "2026-11-24", STAFF_ROOM, BOB, 9);
    said(&mut store, "2026-11-26", GENERAL, CAROL, 5);
    store.add(
        G,
        day("2026-11-26"),
        GENERAL,
        Some(CATEGORY),
        ALICE,
        Counts { messages: 0, reactions_given: 2, reactions_received: 6 },
    );
    store
}

/// STAFF_ROOM hidden from `@everyone`, shown to STAFF.
fn access() -> GuildAccess {
    let everyone = RoleId::everyone(G);
    let plain = ChannelAccess::default();
    GuildAccess {
        guild: G,
        owner: None,
        roles: BTreeMap::from([(everyone, VIEW_CHANNEL), (STAFF, 0)]),
        channels: BTreeMap::from([
            (GENERAL, plain.clone()),
            (LOOSE, plain),
            (
                STAFF_ROOM,
                ChannelAccess {
                    parent: None,
                    overwrites: vec![
                        Overwrite {
                            target: OverwriteTarget::Role(everyone),
                            allow: 0,
                            deny: VIEW_CHANNEL,
                        },
                        Overwrite {
                            target: OverwriteTarget::Role(STAFF),
                            allow: VIEW_CHANNEL,
                            deny: 0,
                        },
                    ],
                },
            ),
        ]),
    }
}

/// A period by name (`7d`, `all`) or as `first..last` dates.
fn period(s: &str) -> Period {
    let parsed = match s.split_once("..") {
        Some((from, to)) => Period::from_options(None, Some(from), Some(to)),
        None => s.parse(),
    };
    parsed.unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn request(report: Report, named: &str) -> ReportRequest {
    let period = period(named);
    let now = Utc.with_ymd_and_hms(2026, 11, 28, 18, 0, 0).single().unwrap_or_default();
    let period =
        ReportPeriod::resolve(period, GuildTimeZone::UTC, now).unwrap_or_else(|e| panic!("{e}"));
    ReportRequest { guild: G, viewer: ALICE, report, period, attachment_limit: 10_000_000 }
}

fn member(user: UserId, roles: &[RoleId]) -> Audience {
    Audience::for_member(roles.iter().copied().collect::<BTreeSet<_>>(), user, VIEW_CHANNEL)
}

async fn answer(
    store: MemoryCounters,
    report: Report,
    period: &str,
    config: &GuildConfig,
    audience: &Audience,
) -> Result<Reply, AnswerError> {
    Reporter::new(store).answer(&request(report, period), config, audience).await
}

fn field(reply: &Reply, name: &str) -> String {
    let embed = reply.embeds.first().unwrap_or_else(|| panic!("no embed: {reply:?}"));
    let field = embed.fields.iter().find(|f| f.name == name);
    field.unwrap_or_else(|| panic!("no field {name}: {reply:?}")).value.clone()
}

fn description(reply: &Reply) -> String {
    reply.embeds.first().and_then(|e| e.description.clone()).unwrap_or_default()
}

#[tokio::test]
async fn stats_count_one_member_over_the_period_with_active_days() -> anyhow::Result<()> {
    let stats = Report::Stats { member: ALICE };
    let reply =
        answer(seeded(), stats, "7d", &GuildConfig::default(), &Audience::Everything).await?;
    assert_eq!(field(&reply, "Messages"), "6");
    assert_eq!(field(&reply, "Reactions given"), "2");
    assert_eq!(field(&reply, "Reactions received"), "6");
    assert_eq!(field(&reply, "Active days"), "3 of 7", "a reaction-only day is not active");
    let fields = reply.embeds.iter().flat_map(|e| &e.fields);
    assert!(fields.clone().all(|f| f.name != "Rank"), "ranks are the leaderboard's");
    // The day before the period is not in it; all time is.
    let all =
        answer(seeded(), stats, "all", &GuildConfig::default(), &Audience::Everything).await?;
    assert_eq!(field(&all, "Messages"), "10");
    // A member with nothing counted in the period is told so, not shown a card of zeros.
    let nobody = Report::Stats { member: UserId(999) };
    let refused = answer(seeded(), nobody, "7d", &GuildConfig::default(), &Audience::Everything)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(refused.contains("Nothing was counted for <@999>"), "{refused}");
    Ok(())
}

#[tokio::test]
async fn channel_stats_compare_with_the_previous_period_and_cover_a_category() -> anyhow::Result<()>
{
    let everything = Audience::Everything;
    let config = GuildConfig::default();
    let general = Report::ChannelStats { scope: Scope::Channel(GENERAL) };
    let reply = answer(seeded(), general, "7d", &config, &everything).await?;
    assert_eq!(field(&reply, "Messages"), "11");
    assert_eq!(field(&reply, "Active members"), "3");
    assert_eq!(field(&reply, "Messages vs the previous 7 days"), "▲ 175% (4 → 11)");
    let category = Report::ChannelStats { scope: Scope::Category(CATEGORY) };
    let reply = answer(seeded(), category, "7d", &config, &everything).await?;
    assert_eq!(field(&reply, "Messages"), "20", "GENERAL and STAFF_ROOM, not LOOSE");
    Ok(())
}

#[tokio::test]
async fn leaderboards_leave_out_excluded_channels_and_opted_out_members() -> anyhow::Result<()> {
    let board =
        |ranked| Report::Leaderboard { ranked, metric: Metric::Messages, scope: Scope::Guild };
    let everything = Audience::Everything;
    let all_counted = GuildConfig::default();
    let reply = answer(seeded(), board(Ranked::Members), "7d", &all_counted, &everything).await?;
    let text = description(&reply);
    assert!(text.contains("**1.** <@8> — 10 messages"), "{text}");
    assert!(text.contains("<@9>"), "{text}");

    let config = GuildConfig {
        excluded_channels: BTreeSet::from([STAFF_ROOM]),
        opted_out: BTreeSet::from([CAROL]),
        ..GuildConfig::default()
    };
    let reply = answer(seeded(), board(Ranked::Members), "7d", &config, &everything).await?;
    let text = description(&reply);
    assert!(text.contains("**1.** <@7> — 6 messages"), "{text}");
    assert!(text.contains("**2.** <@8> — 1 message"), "{text}");
    assert!(!text.contains("<@9>"), "opted out: {text}");
    let reply = answer(seeded(), board(Ranked::Channels), "7d", &config, &everything).await?;
    assert!(!description(&reply).contains(&format!("<#{STAFF_ROOM}>")), "{reply:?}");

    // Asking about an excluded channel is explained, not answered with zeros.
    let excluded = Report::ChannelStats { scope: Scope::Channel(STAFF_ROOM) };
    let refused = answer(seeded(), excluded, "7d", &config, &everything).await;
    assert!(matches!(&refused, Err(AnswerError::User(m)) if m.contains("excluded")), "{refused:?}");
    Ok(())
}

#[tokio::test]
async fn replies_show_only_the_channels_their_audience_can_view() -> anyhow::Result<()> {
    let mut store = seeded();
    store.set_access(G, access());
    let config = GuildConfig::default();
    let bob = Report::Stats { member: BOB };
    // BOB's 9 messages in the staff room count for him only when he can see it himself...
    let plain = answer(store.clone(), bob, "7d", &config, &member(BOB, &[])).await?;
    assert_eq!(field(&plain, "Messages"), "1");
    let staff = answer(store.clone(), bob, "7d", &config, &member(BOB, &[STAFF])).await?;
    assert_eq!(field(&staff, "Messages"), "10");
    // ...and never in a public reply.
    let board = Report::Leaderboard {
        ranked: Ranked::Channels,
        metric: Metric::Messages,
        scope: Scope::Guild,
    };
    let public = answer(store.clone(), board, "7d", &config, &Audience::Public).await?;
    let text = description(&public);
    assert!(text.contains(&format!("<#{GENERAL}>")), "{text}");
    assert!(!text.contains(&format!("<#{STAFF_ROOM}>")), "{text}");
    let about = Report::ChannelStats { scope: Scope::Channel(STAFF_ROOM) };
    let refused = answer(store, about, "7d", &config, &Audience::Public).await;
    assert!(matches!(refused, Err(AnswerError::User(_))), "{refused:?}");
    Ok(())
}

#[tokio::test]
async fn before_the_first_permission_snapshot_only_server_managers_see_channels()
-> anyhow::Result<()> {
    let config = GuildConfig::default();
    let activity = Report::Activity { scope: Scope::Guild, view: ActivityView::Daily };
    let public = answer(seeded(), activity, "7d", &config, &Audience::Public).await;
    assert!(matches!(&public, Err(AnswerError::User(m)) if m.contains("no data")), "{public:?}");
    let managers = answer(seeded(), activity, "7d", &config, &Audience::Everything).await?;
    let text = description(&managers);
    assert!(text.contains("**21 messages** (about 3 a day)"), "{text}");
    assert!(text.contains("Busiest day: 2026-11-24 (9 messages)"), "{text}");
    assert!(text.contains("Active members: 3 in all, up to 1 on one day"), "{text}");
    Ok(())
}

#[tokio::test]
async fn an_export_has_one_row_per_day_channel_and_member() -> anyhow::Result<()> {
    let config = GuildConfig { opted_out: BTreeSet::from([BOB]), ..GuildConfig::default() };
    let reply = answer(seeded(), Report::Export, "7d", &config, &Audience::Everything).await?;
    let file = reply.files.first().ok_or_else(|| anyhow::anyhow!("no file: {reply:?}"))?;
    assert_eq!(file.filename, "engagement-1-2026-11-22-2026-11-28.csv");
    let csv = String::from_utf8(file.data.clone())?;
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows,
        [
            "guild_id,day,channel_id,category_id,member_id,messages,reactions_given,reactions_received",
            "1,2026-11-22,10,100,7,3,0,0",
            "1,2026-11-25,10,100,7,2,0,0",
            "1,2026-11-26,10,100,7,0,2,6",
            "1,2026-11-26,10,100,9,5,0,0",
            "1,2026-11-28,12,,7,1,0,0",
        ],
        "BOB opted out"
    );
    Ok(())
}

#[tokio::test]
async fn a_period_with_nothing_counted_is_explained() -> anyhow::Result<()> {
    let config = GuildConfig::default();
    let stats = Report::Stats { member: ALICE };
    let empty =
        answer(seeded(), stats, "2020-01-01..2020-01-31", &config, &Audience::Everything).await;
    assert!(
        matches!(&empty, Err(AnswerError::User(m)) if m.contains("between 2020-01-01 and 2020-01-31")),
        "{empty:?}"
    );
    let nothing = answer(MemoryCounters::new(), stats, "all", &config, &Audience::Everything).await;
    assert!(
        matches!(&nothing, Err(AnswerError::User(m)) if m.contains("Nothing has been counted")),
        "{nothing:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_failed_read_is_an_error_never_an_empty_report() {
    let stats = Report::Stats { member: ALICE };
    for audience in [Audience::Everything, Audience::Public] {
        let failed =
            answer(MemoryCounters::unavailable(), stats, "7d", &GuildConfig::default(), &audience)
                .await;
        assert!(matches!(failed, Err(AnswerError::Read(_))), "{failed:?}");
    }
}

/// Hourly counts matching [`seeded`]'s messages day by day (the last 7 days are Sunday 2026-11-22 to
/// Saturday 2026-11-28).
fn with_hours() -> MemoryCounters {
    let mut store = seeded();
    for (on, h, channel, n) in [
        ("2026-11-20", 20, GENERAL, 4),   // Friday, before the period
        ("2026-11-22", 20, GENERAL, 3),   // Sunday 20:00
        ("2026-11-23", 9, GENERAL, 1),    // Monday 09:00
        ("2026-11-24", 3, STAFF_ROOM, 9), // Tuesday 03:00, hidden from @everyone
        ("2026-11-25", 20, GENERAL, 2),   // Wednesday 20:00
        ("2026-11-26", 20, GENERAL, 4),   // Thursday 20:00 and 21:00: CAROL's 5
        ("2026-11-26", 21, GENERAL, 1),
        ("2026-11-28", 9, LOOSE, 1), // Saturday 09:00
    ] {
        store.add_hour(G, (day(on), h), channel, n);
    }
    store
}

#[tokio::test]
async fn the_heatmap_names_the_busiest_hours_of_what_its_audience_may_see() -> anyhow::Result<()> {
    let heatmap = |scope| Report::Activity { scope, view: ActivityView::Heatmap };
    let config = GuildConfig::default();
    let mut store = with_hours();
    store.set_access(G, access());

    let public =
        answer(store.clone(), heatmap(Scope::Guild), "7d", &config, &Audience::Public).await?;
    let text = description(&public);
    assert!(text.contains("**12 messages** by hour"), "{text}");
    assert!(
        text.contains(
            "Busiest hours: **Thu 20:00–21:00** (4 messages), **Sun 20:00–21:00** (3 messages), \
             **Wed 20:00–21:00** (2 messages)"
        ),
        "{text}"
    );
    assert!(!text.contains("Tue"), "the staff room is hidden from a public reply: {text}");
    assert!(!text.contains("not in it"), "{text}");
    assert!(text.contains("Busiest day of the week: Thursday (5 messages)"), "{text}");
    let footer = public.embeds.first().and_then(|e| e.footer.as_ref()).map(|f| f.text.clone());
    assert!(footer.as_deref().is_some_and(|f| f.contains("Days and hours in UTC")), "{footer:?}");

    let managers =
        answer(store.clone(), heatmap(Scope::Guild), "7d", &config, &Audience::Everything).await?;
    assert!(description(&managers).contains("**21 messages**"), "{}", description(&managers));
    assert!(description(&managers).contains("Busiest hours: **Tue 03:00–04:00** (9 messages)"));
    let category = answer(
        store.clone(),
        heatmap(Scope::Category(CATEGORY)),
        "7d",
        &config,
        &Audience::Everything,
    )
    .await?;
    assert!(description(&category).contains("**20 messages**"), "{}", description(&category));
    let loose =
        answer(store.clone(), heatmap(Scope::Channel(LOOSE)), "all", &config, &Audience::Public)
            .await?;
    assert!(description(&loose).contains("**1 message** by hour"));
    // Excluded channels count nothing here either.
    let excluding =
        GuildConfig { excluded_channels: BTreeSet::from([GENERAL]), ..GuildConfig::default() };
    let without =
        answer(store, heatmap(Scope::Guild), "7d", &excluding, &Audience::Everything).await?;
    assert!(description(&without).contains("**10 messages**"), "{}", description(&without));
    Ok(())
}

#[tokio::test]
async fn the_heatmap_never_holds_the_hours_of_members_who_opted_out_or_were_erased()
-> anyhow::Result<()> {
    let heatmap = Report::Activity { scope: Scope::Guild, view: ActivityView::Heatmap };
    let mut store = with_hours();
    store.set_access(G, access());
    // CAROL (Thursday's 5 messages) opted out after they were counted: her hours are still in the
    // hourly counts, and must not show.
    let config = GuildConfig { opted_out: BTreeSet::from([CAROL]), ..GuildConfig::default() };
    let public = answer(store.clone(), heatmap, "7d", &config, &Audience::Public).await?;
    let text = description(&public);
    assert!(text.contains("**7 messages** by hour"), "{text}");
    assert!(!text.contains("Thu"), "{text}");
    // A member erased: gone from the days, still in the hours of Wednesday (3 more than shown).
    store.add_hour(G, (day("2026-11-25"), 21), GENERAL, 3);
    let erased =
        answer(store.clone(), heatmap, "7d", &GuildConfig::default(), &Audience::Public).await?;
    let text = description(&erased);
    assert!(text.contains("**10 messages** by hour"), "{text}");
    assert!(text.contains("2 messages not in it"), "{text}");
    assert!(!text.contains("Wed"), "{text}");
    Ok(())
}

#[tokio::test]
async fn a_heatmap_without_hourly_counts_says_why_and_reveals_no_hidden_channel()
-> anyhow::Result<()> {
    let heatmap = Report::Activity { scope: Scope::Guild, view: ActivityView::Heatmap };
    let config = GuildConfig::default();
    // Days counted, but no hours (counted before hourly counts existed).
    let old = answer(seeded(), heatmap, "7d", &config, &Audience::Everything).await;
    assert!(matches!(&old, Err(AnswerError::User(m)) if m.contains("no hourly counts")), "{old:?}");
    // Only the hidden staff room has hours: a public reply says the same as when there are none.
    let mut store = seeded();
    store.add_hour(G, (day("2026-11-24"), 3), STAFF_ROOM, 9);
    store.set_access(G, access());
    let hidden = answer(store.clone(), heatmap, "7d", &config, &Audience::Public).await;
    assert_eq!(
        hidden.as_ref().map_err(ToString::to_string).err(),
        old.as_ref().map_err(ToString::to_string).err()
    );
    // Some days with hours and some without: the reply says how many messages it leaves out.
    store.add_hour(G, (day("2026-11-22"), 20), GENERAL, 3);
    let partial = answer(store, heatmap, "7d", &config, &Audience::Public).await?;
    let text = description(&partial);
    assert!(text.contains("**3 messages** by hour"), "{text}");
    assert!(text.contains("9 messages not in it"), "{text}");
    Ok(())
}

/// DAVE first spoke in the staff room (hidden from `@everyone`) before the last 7 days, then in
/// GENERAL within them.
const DAVE: UserId = UserId(10);

fn with_dave() -> MemoryCounters {
    let mut store = seeded();
    said(&mut store, "2026-11-16", STAFF_ROOM, DAVE, 2);
    said(&mut store, "2026-11-27", GENERAL, DAVE, 1);
    store.set_access(G, access());
    store
}

#[tokio::test]
async fn growth_counts_active_and_new_members_in_what_its_audience_may_see() -> anyhow::Result<()> {
    let growth = Report::Growth { scope: Scope::Guild };
    let config = GuildConfig::default();
    let all = answer(with_dave(), growth, "7d", &config, &Audience::Everything).await?;
    let text = description(&all);
    // Today ALICE; in the week ALICE, BOB, CAROL, DAVE; new: BOB and CAROL (DAVE spoke on the 16th).
    assert!(
        text.contains("Today: **1** active (DAU) · **4** in 7 days (WAU) · **4** in 30 days (MAU)"),
        "{text}"
    );
    assert!(
        text.contains("New members: **2** · vs the 7 days before: no change (2 → 2)"),
        "{text}"
    );
    // MAU at the end of the previous week: ALICE and DAVE.
    assert!(text.contains("MAU since 2026-11-21: ▲ 100% (2 → 4)"), "{text}");
    assert!(text.contains("· 22 messages"), "{text}");

    // In public, the staff room is not there: DAVE is new on the 27th, and before the week only ALICE.
    let public = answer(with_dave(), growth, "7d", &config, &Audience::Public).await?;
    let text = description(&public);
    assert!(text.contains("New members: **3** · vs the 7 days before: ▲ 200% (1 → 3)"), "{text}");
    assert!(text.contains("MAU since 2026-11-21: ▲ 300% (1 → 4)"), "{text}");
    assert!(text.contains("· 13 messages"), "{text}");

    // A member who opted out is in no figure.
    let config = GuildConfig { opted_out: BTreeSet::from([CAROL]), ..GuildConfig::default() };
    let text = description(&answer(with_dave(), growth, "7d", &config, &Audience::Public).await?);
    assert!(text.contains("**3** in 7 days (WAU)"), "{text}");
    assert!(text.contains("New members: **2**"), "{text}");

    // All time: no period before it to compare with.
    let all_time = answer(with_dave(), growth, "all", &config, &Audience::Public).await?;
    let text = description(&all_time);
    assert!(text.contains("New members: **3**") && !text.contains("vs the"), "{text}");
    assert!(!text.contains("MAU since"), "{text}");

    // One channel: its own first days (ALICE's first message in LOOSE is today).
    let loose = Report::Growth { scope: Scope::Channel(LOOSE) };
    let text = description(&answer(with_dave(), loose, "7d", &config, &Audience::Public).await?);
    assert!(text.contains("Today: **1** active (DAU) · **1** in 7 days (WAU)"), "{text}");
    assert!(text.contains("New members: **1** · vs the 7 days before: new"), "{text}");
    Ok(())
}

#[tokio::test]
async fn retention_follows_each_weeks_new_members_into_the_weeks_after() -> anyhow::Result<()> {
    let config = GuildConfig::default();
    // Three members new in the week of 11-02, two of them back the week after.
    let mut store = with_dave();
    for member in [20, 21, 22] {
        said(&mut store, "2026-11-03", GENERAL, UserId(member), 1);
    }
    said(&mut store, "2026-11-10", GENERAL, UserId(20), 1);
    said(&mut store, "2026-11-12", LOOSE, UserId(21), 1);
    // Today is Saturday 2026-11-28: the join weeks are those of 10-26, 11-02, 11-09 and 11-16. ALICE
    // was new on the 20th and DAVE on the 16th (in the staff room): that week's week 1 is not over, and
    // it is too small to show (its size only).
    let all =
        answer(store.clone(), Report::Retention { weeks: 4 }, "7d", &config, &Audience::Everything)
            .await?;
    let text = description(&all);
    assert!(text.contains("5 members new in the last 4 weeks"), "{text}");
    assert!(
        text.contains("Week 1: **66%** still active on average (3 members followed)"),
        "{text}"
    );
    assert!(text.contains("Week 4: nothing to show yet"), "{text}");
    // In public DAVE's first day is the 27th.
    let public =
        answer(store, Report::Retention { weeks: 4 }, "7d", &config, &Audience::Public).await?;
    assert!(description(&public).contains("4 members new in the last 4 weeks"), "{public:?}");
    // With ALICE opted out, nobody new in public in the week of 11-16.
    let config = GuildConfig { opted_out: BTreeSet::from([ALICE]), ..GuildConfig::default() };
    let quiet =
        answer(with_dave(), Report::Retention { weeks: 1 }, "7d", &config, &Audience::Public);
    let quiet = quiet.await;
    assert!(
        matches!(&quiet, Err(AnswerError::User(m)) if m.contains("Nobody was new")),
        "{quiet:?}"
    );
    Ok(())
}

#[tokio::test]
async fn every_report_says_up_to_when_it_counted() -> anyhow::Result<()> {
    let config = GuildConfig::default();
    let footer = |reply: &Reply| {
        reply
            .embeds
            .first()
            .and_then(|e| e.footer.as_ref())
            .map(|f| f.text.clone())
            .unwrap_or_default()
    };
    // Requests are made at 2026-11-28 18:00 UTC; the last complete sync started at 17:55.
    let mut store = seeded();
    let synced = Utc.with_ymd_and_hms(2026, 11, 28, 17, 55, 0).single().unwrap_or_default();
    store.set_synced(G, u64::try_from(synced.timestamp_millis())?);
    for report in [
        Report::Stats { member: ALICE },
        Report::ChannelStats { scope: Scope::Channel(GENERAL) },
        Report::Leaderboard {
            ranked: Ranked::Members,
            metric: Metric::Messages,
            scope: Scope::Guild,
        },
        Report::Activity { scope: Scope::Guild, view: ActivityView::Daily },
        Report::Growth { scope: Scope::Guild },
    ] {
        let reply = answer(store.clone(), report, "7d", &config, &Audience::Everything).await?;
        let text = footer(&reply);
        assert!(text.ends_with(" · counted up to 17:55, 5 min ago"), "{report:?}: {text}");
    }
    let export =
        answer(store.clone(), Report::Export, "7d", &config, &Audience::Everything).await?;
    let content = export.content.unwrap_or_default();
    assert!(content.ends_with("\n-# Counted up to 17:55, 5 min ago"), "{content}");
    // Before the first complete sync, and after a long pause.
    let never = answer(
        seeded(),
        Report::Growth { scope: Scope::Guild },
        "7d",
        &config,
        &Audience::Everything,
    );
    assert!(footer(&never.await?).ends_with(" · not synced yet"));
    let days_ago = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).single().unwrap_or_default();
    store.set_synced(G, u64::try_from(days_ago.timestamp_millis())?);
    let late =
        answer(store, Report::Growth { scope: Scope::Guild }, "7d", &config, &Audience::Everything);
    assert!(footer(&late.await?).ends_with(" · counted up to Nov 26 09:00, 2 days ago"));
    Ok(())
}

#[tokio::test]
async fn a_categorys_overview_shows_only_what_its_audience_can_view() -> anyhow::Result<()> {
    // A second category whose one channel only STAFF can view.
    const SECRET: ChannelId = ChannelId(13);
    const SECRET_CATEGORY: ChannelId = ChannelId(101);
    let mut store = seeded();
    store.add(G, day("2026-11-27"), SECRET, Some(SECRET_CATEGORY), BOB, Counts::messages(5));
    let mut access = access();
    let staff_only = access.channels[&STAFF_ROOM].clone();
    access.channels.insert(SECRET, staff_only);
    store.set_access(G, access);
    let reporter = Reporter::new(store);
    let config = GuildConfig::default();
    let period = request(Report::Export, "7d").period;
    let plain = member(CAROL, &[]);

    // The category they can see: its channels they can view (GENERAL, not the staff room's 9).
    let seen = reporter.overview((G, Scope::Category(CATEGORY)), &period, &config, &plain).await?;
    assert_eq!(seen.messages, 3 + 2 + 1 + 5);
    // The server's overview ranks that category, not the one they cannot see.
    let server = reporter.overview((G, Scope::Guild), &period, &config, &plain).await?;
    let ranked: Vec<ChannelId> = server.top_categories.iter().map(|(c, _)| *c).collect();
    assert_eq!(ranked, [CATEGORY]);
    // The other category's page says only that nothing was counted, as for any empty category.
    let hidden =
        reporter.overview((G, Scope::Category(SECRET_CATEGORY)), &period, &config, &plain).await;
    assert!(
        matches!(&hidden, Err(AnswerError::User(text)) if text.starts_with("Nothing was counted")),
        "{hidden:?}"
    );
    // Staff see both.
    let staff = member(BOB, &[STAFF]);
    let secret =
        reporter.overview((G, Scope::Category(SECRET_CATEGORY)), &period, &config, &staff).await?;
    assert_eq!(secret.messages, 5);
    let server = reporter.overview((G, Scope::Guild), &period, &config, &staff).await?;
    assert_eq!(server.top_categories.len(), 2);
    Ok(())
}
