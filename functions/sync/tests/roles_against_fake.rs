//! Activity roles against the fake Discord (roles, members, hierarchy and permission errors as Discord
//! has them) and moto: who holds each role afterwards is checked against the fake's message ground
//! truth, with the qualifying members computed here, independently of the product's rule code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use engagement_actions::roles::APPLY_EVERY_MS;
use engagement_actions::{ActionError, RoleGateway, RoleRun, RuleStatus};
use engagement_discord::{DiscordClient, DiscordConfig};
use engagement_domain::roles::RoleFacts;
use engagement_domain::{ActivityRole, Day, GuildConfig, GuildId, RoleId, Threshold, UserId};
use engagement_store::CounterStore;
use fake_discord::truth::TruthOptions;
use fake_discord::world::{NewRole, RoleUpdate, seeded_role};
use fake_discord::{FakeConfig, FakeDiscord, RoleAction};
use futures::FutureExt as _;
use sync::{SyncSettings, Syncer};

struct Setup {
    fake: FakeDiscord,
    syncer: Syncer,
    guild: u64,
}

/// A small synthetic world, counted once by a sync.
async fn setup(name: &str) -> anyhow::Result<Setup> {
    let fake = FakeDiscord::start(FakeConfig { seed: 11, ..FakeConfig::default() }).await?;
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
    let guild = fake.with_world(|w| *w.guilds.keys().next().unwrap());
    let s = Setup { fake, syncer: Syncer { store, discord, settings }, guild };
    s.syncer.sync_all(Duration::from_secs(120)).await?;
    Ok(s)
}

impl Setup {
    fn role(&self, name: &str) -> u64 {
        self.fake.with_world(|w| w.guilds[&self.guild].role_named(name).unwrap().id)
    }

    /// Members holding `role` in the fake.
    fn holders(&self, role: u64) -> BTreeSet<u64> {
        self.fake.with_world(|w| {
            w.guilds[&self.guild]
                .member_roles
                .iter()
                .filter(|(_, roles)| roles.contains(&role))
                .map(|(member, _)| *member)
                .collect()
        })
    }

    /// Each member's messages in the last `days` days (UTC, today included) by the fake's ground truth,
    /// without `opted_out` members.
    fn messages(&self, days: i32, opted_out: &BTreeSet<u64>) -> BTreeMap<u64, u64> {
        let today = Day::of(self.fake.clock(), engagement_domain::GuildTimeZone::UTC);
        let options =
            TruthOptions { opted_out_users: opted_out.clone(), ..TruthOptions::default() };
        let mut out = BTreeMap::new();
        for r in self.fake.ground_truth(&options) {
            let day = Day::from_date(r.day);
            if r.guild_id == self.guild && day <= today && day > today.plus(-days) && r.messages > 0
            {
                *out.entry(r.user_id).or_default() += r.messages;
            }
        }
        out
    }

    async fn set_config(&self, rules: Vec<ActivityRole>, opted_out: &BTreeSet<u64>) {
        let opted_out: BTreeSet<UserId> = opted_out.iter().copied().map(UserId).collect();
        self.syncer
            .store
            .update_guild_config(GuildId(self.guild), &GuildConfig::default(), |c| {
                c.activity_roles.clone_from(&rules);
                c.opted_out.clone_from(&opted_out);
                true
            })
            .await
            .unwrap();
    }

    fn run_at_clock(&mut self) {
        self.syncer.settings.fixed_now = Some(self.fake.clock());
    }

    fn run<'a, G: RoleGateway>(&'a self, gateway: &'a G) -> RoleRun<'a, G> {
        RoleRun::new(&self.syncer.store, gateway, self.fake.clock(), None, true)
    }

    async fn config(&self) -> GuildConfig {
        self.syncer.store.guild_config(GuildId(self.guild)).await.unwrap().unwrap()
    }
}

/// Who qualifies, computed here: at least `min` messages, or the top `n` (ties by lower id).
fn qualifying(messages: &BTreeMap<u64, u64>, threshold: Threshold) -> BTreeSet<u64> {
    match threshold {
        Threshold::MinMessages(min) => {
            messages.iter().filter(|(_, n)| **n >= u64::from(min)).map(|(m, _)| *m).collect()
        }
        Threshold::Top(top) => {
            let mut ranked: Vec<(u64, u64)> = messages.iter().map(|(m, n)| (*m, *n)).collect();
            ranked.sort_by_key(|(m, n)| (std::cmp::Reverse(*n), *m));
            ranked.into_iter().take(top as usize).map(|(m, _)| m).collect()
        }
    }
}

/// Requests about members and their roles the fake has seen.
fn member_calls(fake: &FakeDiscord) -> usize {
    use fake_discord::RouteClass;
    fake.request_log()
        .iter()
        .filter(|r| matches!(r.route, Some(RouteClass::GuildMember | RouteClass::MemberRoles)))
        .count()
}

fn rule(role: u64, threshold: Threshold, days: u16) -> ActivityRole {
    ActivityRole { role: RoleId(role), threshold, days }
}

#[tokio::test]
async fn activity_roles_follow_the_counts_and_never_touch_roles_given_by_hand() -> anyhow::Result<()>
{
    let mut s = setup("roles-rules").await?;
    let (active, regulars) = (s.role(seeded_role::ACTIVE), s.role(seeded_role::REGULARS));
    let week = s.messages(7, &BTreeSet::new());
    assert!(week.len() >= 4, "the world has enough active members: {week:?}");
    let mut counts: Vec<u64> = week.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let min = u32::try_from(counts[2]).unwrap();
    let active_rule = rule(active, Threshold::MinMessages(min), 7);
    let regulars_rule = rule(regulars, Threshold::Top(2), 30);
    // One member holds Active by hand without qualifying; one who qualifies opted out.
    let qualifiers = qualifying(&week, active_rule.threshold);
    let by_hand = *week.keys().find(|m| !qualifiers.contains(m)).unwrap();
    s.fake.set_member_roles(s.guild, by_hand, &BTreeSet::from([active]))?;
    let opted_out = BTreeSet::from([*qualifiers.iter().next().unwrap()]);
    s.set_config(vec![active_rule, regulars_rule], &opted_out).await;

    let summary = s.syncer.sync_all(Duration::from_secs(120)).await?;
    let want_active = qualifying(&s.messages(7, &opted_out), active_rule.threshold);
    let want_regulars = qualifying(&s.messages(30, &opted_out), regulars_rule.threshold);
    assert!(!want_active.is_empty() && want_regulars.len() == 2);
    let mut with_hand = want_active.clone();
    with_hand.insert(by_hand);
    assert_eq!(s.holders(active), with_hand);
    assert_eq!(s.holders(regulars), want_regulars);
    let changes = s.fake.role_changes();
    assert_eq!(changes.len(), want_active.len() + want_regulars.len(), "{changes:?}");
    for change in &changes {
        assert_eq!(change.action, RoleAction::Add);
        assert!(change.changed);
        let reason = change.reason.as_deref().unwrap_or_default();
        let described = if change.role_id == active { &active_rule } else { &regulars_rule };
        assert!(reason.ends_with(&described.describe()), "{reason}");
    }
    assert_eq!(summary.roles_given, changes.len() as u64);
    let state = s.syncer.store.role_state(GuildId(s.guild), RoleId(active)).await?;
    let given: BTreeSet<u64> = state.record.given.iter().map(|m| m.get()).collect();
    assert_eq!(given, want_active, "the hand-given role is not the bot's");
    assert!(state.record.pending.is_empty());

    // At most once an hour: the next run changes nothing and asks Discord nothing about roles.
    let before = member_calls(&s.fake);
    let again = s.syncer.sync_all(Duration::from_secs(120)).await?;
    assert_eq!((again.roles_given, again.roles_taken), (0, 0));
    assert_eq!(s.fake.role_changes().len(), changes.len());
    assert_eq!(member_calls(&s.fake), before);

    // An hour later a member who opted out since loses the role the bot gave.
    let leaving = *want_active.iter().next().unwrap();
    let mut opted_out = opted_out;
    opted_out.insert(leaving);
    s.set_config(vec![active_rule, regulars_rule], &opted_out).await;
    s.fake.advance_clock(chrono::Duration::milliseconds(APPLY_EVERY_MS as i64 + 60_000));
    s.run_at_clock();
    let summary = s.syncer.sync_all(Duration::from_secs(120)).await?;
    let now_active = qualifying(&s.messages(7, &opted_out), active_rule.threshold);
    assert!(!now_active.contains(&leaving));
    assert_eq!(s.holders(active), &now_active | &BTreeSet::from([by_hand]));
    let taken = s.fake.role_changes().iter().filter(|c| c.action == RoleAction::Remove).count();
    assert_eq!(summary.roles_taken, taken as u64);
    assert!(taken >= 1);

    // Eight days on, nobody has a message in the last 7 days: the bot takes back every Active it gave,
    // and the one given by hand stays.
    s.fake.advance_clock(chrono::Duration::days(8));
    s.run_at_clock();
    s.syncer.sync_all(Duration::from_secs(120)).await?;
    assert!(s.messages(7, &opted_out).is_empty(), "the synthetic world is quiet now");
    assert_eq!(s.holders(active), BTreeSet::from([by_hand]));
    assert!(
        s.fake.role_changes().iter().all(|c| c.role_id != active || c.user_id != by_hand),
        "the hand-given role was never touched"
    );
    Ok(())
}

/// A gateway that stops the run (as a crash would: nothing after it runs) right after its `crash_at`-th
/// call reached Discord.
struct CrashingGateway<'a> {
    inner: &'a DiscordClient,
    calls: AtomicUsize,
    crash_at: usize,
}

impl CrashingGateway<'_> {
    fn after_call(&self) {
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.crash_at {
            panic!("crash after call {}", self.crash_at);
        }
    }
}

impl RoleGateway for CrashingGateway<'_> {
    async fn roles(&self, guild: GuildId) -> Result<Vec<RoleFacts>, ActionError> {
        let out = self.inner.roles(guild).await;
        self.after_call();
        out
    }
    async fn bot_user(&self) -> Result<UserId, ActionError> {
        let out = self.inner.bot_user().await;
        self.after_call();
        out
    }
    async fn member_roles(
        &self,
        guild: GuildId,
        user: UserId,
    ) -> Result<Option<BTreeSet<RoleId>>, ActionError> {
        let out = self.inner.member_roles(guild, user).await;
        self.after_call();
        out
    }
    async fn set_role(
        &self,
        guild: GuildId,
        user: UserId,
        role: RoleId,
        give: bool,
        reason: &str,
    ) -> Result<bool, ActionError> {
        let out = self.inner.set_role(guild, user, role, give, reason).await;
        self.after_call();
        out
    }
}

/// A run killed after any Discord call (a role given but not recorded, a member pending, a role taken
/// but still recorded) leaves the roles and the record right after the next run: every role the bot gave
/// is recorded, none given by hand is, each qualifying member got the role once, and the member who no
/// longer qualifies lost it once.
#[tokio::test]
async fn a_run_killed_after_any_call_is_put_right_by_the_next() -> anyhow::Result<()> {
    let s = setup("roles-crash").await?;
    let month = s.messages(30, &BTreeSet::new());
    let threshold = Threshold::Top(4);
    let want = qualifying(&month, threshold);
    let by_hand_qualifying = *want.iter().next().unwrap();
    let mut others = month.keys().filter(|m| !want.contains(m));
    let (by_hand_other, given_before) = (*others.next().unwrap(), *others.next().unwrap());
    for crash_at in 1.. {
        // A fresh role each time, below the bot's: its own record and holders. The bot gave it to
        // `given_before` earlier, who no longer qualifies.
        let role = s.fake.create_role(
            s.guild,
            &NewRole {
                name: format!("crash-{crash_at}"),
                permissions: 0,
                position: Some(1),
                managed: false,
            },
        )?;
        for member in [by_hand_qualifying, by_hand_other, given_before] {
            s.fake.set_member_roles(s.guild, member, &BTreeSet::from([role]))?;
        }
        let mut before = engagement_store::RoleState::default();
        before.record.given.insert(UserId(given_before));
        s.syncer.store.put_role_state(GuildId(s.guild), RoleId(role), &mut before).await?;
        s.set_config(vec![rule(role, threshold, 30)], &BTreeSet::new()).await;
        let config = s.config().await;
        let crashing =
            CrashingGateway { inner: &s.syncer.discord, calls: AtomicUsize::new(0), crash_at };
        let run = s.run(&crashing);
        let crashed = std::panic::AssertUnwindSafe(run.apply_guild(GuildId(s.guild), &config))
            .catch_unwind()
            .await
            .is_err();
        // The killed run's claim runs out.
        s.syncer.store.release(GuildId(s.guild), "activity-roles").await?;
        let outcomes = s.run(&s.syncer.discord).apply_guild(GuildId(s.guild), &config).await?;
        assert_eq!(outcomes[0].status, RuleStatus::Done, "crash at {crash_at}");
        let mut holders = want.clone();
        holders.insert(by_hand_other);
        assert_eq!(s.holders(role), holders, "crash at {crash_at}");
        let state = s.syncer.store.role_state(GuildId(s.guild), RoleId(role)).await?;
        let given: BTreeSet<u64> = state.record.given.iter().map(|m| m.get()).collect();
        assert_eq!(given, &want - &BTreeSet::from([by_hand_qualifying]), "crash at {crash_at}");
        assert!(state.record.pending.is_empty(), "crash at {crash_at}");
        let changes: Vec<(u64, RoleAction)> = s
            .fake
            .role_changes()
            .iter()
            .filter(|c| c.role_id == role && c.changed)
            .map(|c| (c.user_id, c.action))
            .collect();
        let added = changes.iter().filter(|(_, a)| *a == RoleAction::Add).count();
        assert_eq!(added, want.len() - 1, "each got it once, crash at {crash_at}: {changes:?}");
        assert_eq!(
            changes.iter().filter(|(_, a)| *a == RoleAction::Remove).collect::<Vec<_>>(),
            vec![&(given_before, RoleAction::Remove)],
            "crash at {crash_at}"
        );
        if !crashed {
            // The run went through without reaching call `crash_at`: every call was a crash point.
            assert_eq!(crashing.calls.load(Ordering::SeqCst), crash_at - 1);
            assert!(crash_at > want.len() * 2, "gives and a take were swept: {crash_at}");
            break;
        }
    }
    Ok(())
}

/// A member the bot gave the role to, who still qualifies but lost it (a moderator took it, or they
/// left and came back), is given it again: the record is checked against the member, not trusted.
#[tokio::test]
async fn a_role_taken_by_hand_from_a_qualifying_member_is_given_again() -> anyhow::Result<()> {
    let s = setup("roles-recheck").await?;
    let active = s.role(seeded_role::ACTIVE);
    s.set_config(vec![rule(active, Threshold::Top(3), 30)], &BTreeSet::new()).await;
    let config = s.config().await;
    s.run(&s.syncer.discord).apply_guild(GuildId(s.guild), &config).await?;
    let want = qualifying(&s.messages(30, &BTreeSet::new()), Threshold::Top(3));
    assert_eq!(s.holders(active), want);
    let member = *want.iter().next().unwrap();
    s.fake.set_member_roles(s.guild, member, &BTreeSet::new())?;
    s.run(&s.syncer.discord).apply_guild(GuildId(s.guild), &config).await?;
    assert_eq!(s.holders(active), want);
    let adds = s.fake.role_changes().iter().filter(|c| c.user_id == member && c.changed).count();
    assert_eq!(adds, 2);
    Ok(())
}

/// The bot refuses, with a reason `show` tells, a role above its own and a rule it lacks Manage Roles
/// for; a permission taken away between the check and the calls costs one 403, not one per member.
#[tokio::test]
async fn refusals_end_the_rule_with_a_reason_and_one_403_at_most() -> anyhow::Result<()> {
    let s = setup("roles-refused").await?;
    let (moderators, active, bot_role) =
        (s.role(seeded_role::MODERATORS), s.role(seeded_role::ACTIVE), s.role(seeded_role::BOT));
    let discord = &s.syncer.discord;

    s.set_config(vec![rule(moderators, Threshold::Top(3), 30)], &BTreeSet::new()).await;
    let outcomes = s.run(discord).apply_guild(GuildId(s.guild), &s.config().await).await?;
    let RuleStatus::Refused(reason) = &outcomes[0].status else { panic!("{outcomes:?}") };
    assert!(reason.contains("not below the bot's highest role"), "{reason}");
    let state = s.syncer.store.role_state(GuildId(s.guild), RoleId(moderators)).await?;
    assert_eq!(state.problem.map(|(p, _)| p).as_deref(), Some(reason.as_str()));
    // Not retried within the hour by the scheduled function.
    let scheduled = RoleRun::new(&s.syncer.store, discord, s.fake.clock(), None, false);
    let outcomes = scheduled.apply_guild(GuildId(s.guild), &s.config().await).await?;
    assert_eq!(outcomes[0].status, RuleStatus::NotDue);

    let permissions = seeded_role::BOT_PERMISSIONS & !fake_discord::world::permission::MANAGE_ROLES;
    s.fake.update_role(
        bot_role,
        &RoleUpdate { permissions: Some(permissions), ..Default::default() },
    )?;
    s.set_config(vec![rule(active, Threshold::Top(3), 30)], &BTreeSet::new()).await;
    let outcomes = s.run(discord).apply_guild(GuildId(s.guild), &s.config().await).await?;
    let RuleStatus::Refused(reason) = &outcomes[0].status else { panic!("{outcomes:?}") };
    assert!(reason.contains("lacks the Manage Roles permission"), "{reason}");
    assert!(s.fake.role_changes().is_empty());

    // Manage Roles back for the check, taken away again before the first change.
    s.fake.update_role(
        bot_role,
        &RoleUpdate { permissions: Some(seeded_role::BOT_PERMISSIONS), ..Default::default() },
    )?;
    let revoking = RevokingGateway { inner: discord, fake: &s.fake, bot_role, permissions };
    let outcomes = s.run(&revoking).apply_guild(GuildId(s.guild), &s.config().await).await?;
    let RuleStatus::Refused(reason) = &outcomes[0].status else { panic!("{outcomes:?}") };
    assert!(reason.contains("Discord refused the change"), "{reason}");
    let refused = s
        .fake
        .request_log()
        .iter()
        .filter(|r| r.route == Some(fake_discord::RouteClass::MemberRoles) && r.status == 403)
        .count();
    assert_eq!(refused, 1, "one 403, then the rule stops");
    let state = s.syncer.store.role_state(GuildId(s.guild), RoleId(active)).await?;
    assert!(state.record.pending.is_empty() && state.record.given.is_empty());
    Ok(())
}

/// Takes the bot's Manage Roles away just before the first role change.
struct RevokingGateway<'a> {
    inner: &'a DiscordClient,
    fake: &'a FakeDiscord,
    bot_role: u64,
    permissions: u64,
}

impl RoleGateway for RevokingGateway<'_> {
    async fn roles(&self, guild: GuildId) -> Result<Vec<RoleFacts>, ActionError> {
        self.inner.roles(guild).await
    }
    async fn bot_user(&self) -> Result<UserId, ActionError> {
        self.inner.bot_user().await
    }
    async fn member_roles(
        &self,
        guild: GuildId,
        user: UserId,
    ) -> Result<Option<BTreeSet<RoleId>>, ActionError> {
        self.inner.member_roles(guild, user).await
    }
    async fn set_role(
        &self,
        guild: GuildId,
        user: UserId,
        role: RoleId,
        give: bool,
        reason: &str,
    ) -> Result<bool, ActionError> {
        let update = RoleUpdate { permissions: Some(self.permissions), ..Default::default() };
        self.fake.update_role(self.bot_role, &update).unwrap();
        self.inner.set_role(guild, user, role, give, reason).await
    }
}

/// Two runs at once (a scheduled one and `engagement actions`): one applies the rule, the other stands
/// aside, and every qualifying member is given the role exactly once.
#[tokio::test]
async fn overlapping_runs_give_each_role_once() -> anyhow::Result<()> {
    let s = setup("roles-overlap").await?;
    let active = s.role(seeded_role::ACTIVE);
    let threshold = Threshold::Top(5);
    s.set_config(vec![rule(active, threshold, 30)], &BTreeSet::new()).await;
    let config = s.config().await;
    let discord = &s.syncer.discord;
    let (first, second) = (s.run(discord), s.run(discord));
    let (a, b) = tokio::join!(
        first.apply_guild(GuildId(s.guild), &config),
        second.apply_guild(GuildId(s.guild), &config)
    );
    let statuses = [a?[0].status.clone(), b?[0].status.clone()];
    assert!(
        statuses.contains(&RuleStatus::Done) && statuses.contains(&RuleStatus::Busy),
        "{statuses:?}"
    );
    let want = qualifying(&s.messages(30, &BTreeSet::new()), threshold);
    assert_eq!(s.holders(active), want);
    assert_eq!(s.fake.role_changes().len(), want.len());
    Ok(())
}
