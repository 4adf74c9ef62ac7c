//! Applying activity-role rules: after a guild's sync (at most once an hour per rule) and from
//! `engagement actions`.
//!
//! One application of a rule:
//! 1. settles the members a stopped run left *pending*: the member object says whether the call
//!    happened (a role added but not recorded is recognised this way);
//! 2. checks that the bot may manage the role (`GET` roles and the bot's member); if not, the rule's run
//!    ends with the reason stored for `/engagement-config activity-role show`, and is tried again an hour
//!    later — never a storm of 403s;
//! 3. looks again at a slice of the members the bot gave the role to who still qualify (each about
//!    daily): one whose role was taken by hand, or who left and came back, is given it again;
//! 4. gives the role, a chunk at a time, to members who qualify and lack it (one `GET` member each, to
//!    leave alone those who hold it from someone else and those who left), and takes it from members the
//!    bot gave it to who no longer qualify. Each chunk is recorded *pending* before its calls and settled
//!    after them, so a run killed after any call leaves nothing the next run cannot put right.
//!
//! One run at a time applies a guild's rules (a claim in the store, taken for 15 minutes; a run stops
//! calling Discord a minute before its claim runs out, however long it was given), and every write of a
//! role's state is also conditional on the revision read ([`engagement_store::RoleState`]).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::time::Duration;

use chrono::{DateTime, Utc};
use engagement_domain::roles::{
    RoleFacts, RoleProblem, asker_problem, bot_problem, messages_by_member,
};
use engagement_domain::visibility::RoleId;
use engagement_domain::{ActivityRole, GuildConfig, GuildId, RolePlan, UserId};
use engagement_store::{Claim, CounterStore, RoleState, StoreErrorKind};
use tokio::sync::OnceCell;

use tokio::time::Instant;

use crate::{ActionError, RoleGateway};

/// A rule is applied at most this often (ms) by the scheduled function.
pub const APPLY_EVERY_MS: u64 = 3_600_000;
/// Members whose calls are recorded pending together: the most a stopped run leaves to settle.
pub const CHUNK: usize = 25;

/// How one rule's application ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleStatus {
    /// Applied less than an hour ago and unchanged since: nothing was read or called.
    NotDue,
    /// Every change was made.
    Done,
    /// The bot may not manage the role (the reason, as `show` tells it).
    Refused(String),
    /// The time budget ran out; the next run goes on.
    OutOfTime,
    /// Another run is applying this rule (its state changed under this one): nothing was called.
    Busy,
    /// A Discord call failed (after the client's retries); the next run goes on.
    Failed(String),
}

/// What one rule's application did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleOutcome {
    /// The rule.
    pub rule: ActivityRole,
    /// How it ended.
    pub status: RuleStatus,
    /// Members given the role.
    pub gained: Vec<UserId>,
    /// Members the role was taken from.
    pub lost: Vec<UserId>,
    /// Qualifying members left alone because they hold the role already, given by someone else.
    pub held_already: usize,
    /// Members dropped because they left the server.
    pub left: usize,
}

impl RuleOutcome {
    fn new(rule: ActivityRole, status: RuleStatus) -> Self {
        Self { rule, status, gained: Vec::new(), lost: Vec::new(), held_already: 0, left: 0 }
    }
}

/// What applying a rule now would change, without changing anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preview {
    /// The rule.
    pub rule: ActivityRole,
    /// Members who would gain the role (those holding it already from someone else are left alone when
    /// applied) and those who would lose it.
    pub plan: RolePlan,
    /// Members holding the role because the bot gave it.
    pub given: usize,
    /// Why the bot could not apply it now, if it could not.
    pub problem: Option<String>,
}

/// The roles of a guild as the checks need them.
#[derive(Clone, Debug)]
struct GuildRoles {
    roles: Vec<RoleFacts>,
    bot_roles: BTreeSet<RoleId>,
}

/// One run's application of activity roles: the store, the calls, the run's clock and deadline.
#[derive(Debug)]
pub struct RoleRun<'a, G> {
    store: &'a CounterStore,
    gateway: &'a G,
    now: DateTime<Utc>,
    deadline: Option<Instant>,
    /// Apply every rule, due or not (`engagement actions`).
    force: bool,
    bot: OnceCell<UserId>,
}

impl<'a, G: RoleGateway> RoleRun<'a, G> {
    /// A run at `now` that stops calling Discord at `deadline`, applying only rules that are due unless
    /// `force`.
    #[must_use]
    pub fn new(
        store: &'a CounterStore,
        gateway: &'a G,
        now: DateTime<Utc>,
        deadline: Option<Instant>,
        force: bool,
    ) -> Self {
        Self { store, gateway, now, deadline, force, bot: OnceCell::new() }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.now.timestamp_millis()).unwrap_or(0)
    }

    /// Applies the guild's rules (those due, unless forced), one after the other.
    ///
    /// # Errors
    /// Discord failures that stop every call ([`ActionError::is_fatal`]) and a failed claim; anything
    /// else ends only its rule ([`RuleStatus::Failed`]).
    pub async fn apply_guild(
        &self,
        guild: GuildId,
        config: &GuildConfig,
    ) -> Result<Vec<RuleOutcome>, ActionError> {
        let each = |status: RuleStatus| {
            config
                .activity_roles
                .iter()
                .map(|rule| RuleOutcome::new(*rule, status.clone()))
                .collect()
        };
        if config.activity_roles.is_empty() {
            return Ok(Vec::new());
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(each(RuleStatus::OutOfTime));
        }
        if !self.force {
            // Most runs find no rule due: one query of the records, no claim, no call.
            let states = self.store.role_states(guild).await?;
            let now_ms = self.now_ms();
            let due = config.activity_roles.iter().any(|rule| {
                states
                    .iter()
                    .find(|(role, _)| *role == rule.role)
                    .is_none_or(|(_, state)| is_due(state, rule, now_ms))
            });
            if !due {
                return Ok(each(RuleStatus::NotDue));
            }
        }
        // One run at a time per guild (a scheduled run and `engagement actions` may overlap): a second
        // run could otherwise settle the first one's pending members before its calls land. The run
        // stops calling Discord a minute before the claim runs out, however long it was given.
        let now_ms = wall_clock_ms();
        let until_ms = now_ms.saturating_add(CLAIM_MS);
        if let Claim::Held { .. } = self.store.claim(guild, CLAIM, now_ms, CLAIM_MS).await? {
            tracing::info!(%guild, "another run is applying this guild's activity roles");
            return Ok(each(RuleStatus::Busy));
        }
        let claim_ends = Instant::now() + Duration::from_millis(CLAIM_MS - CLAIM_MARGIN_MS);
        let mut pass = Pass {
            guild,
            config,
            deadline: self.deadline.map_or(claim_ends, |d| d.min(claim_ends)),
            roles: None,
            messages: BTreeMap::new(),
        };
        let outcomes = Box::pin(self.apply_rules(&mut pass)).await;
        if let Err(error) = self.store.release_own(guild, CLAIM, until_ms).await {
            tracing::warn!(%guild, %error, "could not release the activity-role claim (it runs out)");
        }
        outcomes
    }

    async fn apply_rules(&self, pass: &mut Pass<'_>) -> Result<Vec<RuleOutcome>, ActionError> {
        let guild = pass.guild;
        let mut outcomes = Vec::new();
        for rule in &pass.config.activity_roles {
            let outcome = match self.apply_rule(pass, rule).await {
                Ok(outcome) => outcome,
                Err(e) if e.is_fatal() => return Err(e),
                // A Discord or store failure ends this rule's run only; the next run goes on.
                Err(e) => {
                    tracing::warn!(%guild, role = %rule.role, error = %e, "an activity role's run failed");
                    RuleOutcome::new(*rule, RuleStatus::Failed(e.to_string()))
                }
            };
            match &outcome.status {
                RuleStatus::Refused(reason) => {
                    tracing::warn!(%guild, role = %rule.role, %reason, "cannot apply an activity role");
                }
                RuleStatus::NotDue => {}
                status => tracing::info!(
                    %guild,
                    role = %rule.role,
                    ?status,
                    gained = outcome.gained.len(),
                    lost = outcome.lost.len(),
                    held_already = outcome.held_already,
                    left = outcome.left,
                    "applied an activity role"
                ),
            }
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    /// What applying `rule` now would change (the role's record against who qualifies now), and why it
    /// could not be applied, if it could not. Reads the guild's roles and the bot's member; changes
    /// nothing.
    ///
    /// # Errors
    /// Store and Discord failures.
    pub async fn preview(
        &self,
        guild: GuildId,
        config: &GuildConfig,
        rule: &ActivityRole,
    ) -> Result<Preview, ActionError> {
        let roles = self.guild_roles(guild).await?;
        let problem = bot_problem(guild, &roles.roles, &roles.bot_roles, rule.role);
        let state = self.store.role_state(guild, rule.role).await?;
        let qualifying = self.qualifying(guild, config, rule, &mut BTreeMap::new()).await?;
        Ok(Preview {
            rule: *rule,
            plan: RolePlan::new(&state.record.given, &qualifying),
            given: state.record.given.len(),
            problem: problem.map(|p| p.to_string()),
        })
    }

    /// Why a new rule for `role` cannot be set: the bot may not manage the role, or the member asking
    /// (holding `asker_roles`, with guild permissions `asker_permissions`) could not give it themselves.
    /// Reads the guild's roles and the bot's member.
    ///
    /// # Errors
    /// Discord failures.
    pub async fn check_new_rule(
        &self,
        guild: GuildId,
        role: RoleId,
        asker_roles: &BTreeSet<RoleId>,
        asker_permissions: u64,
    ) -> Result<Option<RoleProblem>, ActionError> {
        let roles = self.guild_roles(guild).await?;
        Ok(bot_problem(guild, &roles.roles, &roles.bot_roles, role)
            .or_else(|| asker_problem(guild, &roles.roles, asker_roles, asker_permissions, role)))
    }

    async fn guild_roles(&self, guild: GuildId) -> Result<GuildRoles, ActionError> {
        let bot = *self.bot.get_or_try_init(|| self.gateway.bot_user()).await?;
        let roles = self.gateway.roles(guild).await?;
        // A bot that is not a member has no roles: every check then says it cannot manage the role.
        let bot_roles = self.gateway.member_roles(guild, bot).await?.unwrap_or_default();
        Ok(GuildRoles { roles, bot_roles })
    }

    async fn qualifying(
        &self,
        guild: GuildId,
        config: &GuildConfig,
        rule: &ActivityRole,
        messages: &mut BTreeMap<u16, BTreeMap<UserId, u64>>,
    ) -> Result<BTreeSet<UserId>, ActionError> {
        let counted = match messages.get(&rule.days) {
            Some(counted) => counted,
            None => {
                let window = rule.window(config.time_zone.today(self.now));
                let tally = self.store.load_total(guild, window).await?;
                messages.entry(rule.days).or_insert(messages_by_member(&tally, config))
            }
        };
        Ok(rule.qualifying(counted, &config.opted_out))
    }

    async fn apply_rule(
        &self,
        pass: &mut Pass<'_>,
        rule: &ActivityRole,
    ) -> Result<RuleOutcome, ActionError> {
        let guild = pass.guild;
        let mut state = self.store.role_state(guild, rule.role).await?;
        if !self.force && !is_due(&state, rule, self.now_ms()) {
            return Ok(RuleOutcome::new(*rule, RuleStatus::NotDue));
        }
        let mut outcome = RuleOutcome::new(*rule, RuleStatus::Done);
        // Pending members first: their member objects need no permission, and a rule that cannot be
        // applied must not keep them (and the rule) due.
        if let ControlFlow::Break(status) = self.settle_pending(pass, rule, &mut state).await? {
            outcome.status = status;
            return Ok(outcome);
        }
        let checked = match &pass.roles {
            Some(checked) => checked,
            None => pass.roles.insert(self.guild_roles(guild).await?),
        };
        if let Some(problem) = bot_problem(guild, &checked.roles, &checked.bot_roles, rule.role) {
            let reason = problem.to_string();
            self.record_problem(rule, &mut state, &reason);
            outcome.status = match self.write(guild, rule, &mut state).await? {
                ControlFlow::Continue(()) => RuleStatus::Refused(reason),
                ControlFlow::Break(()) => RuleStatus::Busy,
            };
            return Ok(outcome);
        }
        let qualifying = self.qualifying(guild, pass.config, rule, &mut pass.messages).await?;
        // Members the bot gave the role to and who still qualify: a moderator may have taken it, or they
        // left and came back without it. A slice is looked at each hour (all of them in a forced run),
        // so each is looked at about daily.
        let hour = self.now_ms() / APPLY_EVERY_MS;
        let recheck: Vec<UserId> = state
            .record
            .given
            .intersection(&qualifying)
            .filter(|m| self.force || m.get() % RECHECK_SLICES == hour % RECHECK_SLICES)
            .copied()
            .collect();
        for user in recheck {
            if Instant::now() >= pass.deadline {
                outcome.status = RuleStatus::OutOfTime;
                return Ok(outcome);
            }
            match self.gateway.member_roles(guild, user).await? {
                Some(held) if held.contains(&rule.role) => {}
                Some(_) => {
                    state.record.given.remove(&user);
                }
                None => {
                    state.record.given.remove(&user);
                    outcome.left += 1;
                }
            }
        }
        let mut plan = RolePlan::new(&state.record.given, &qualifying);
        let room = MAX_GIVEN.saturating_sub(state.record.given.len());
        let capped = plan.gain.len() > room;
        plan.gain.truncate(room);
        for chunk in plan.gain.chunks(CHUNK) {
            let mut lacking = Vec::new();
            for &user in chunk {
                if Instant::now() >= pass.deadline {
                    outcome.status = RuleStatus::OutOfTime;
                    break;
                }
                match self.gateway.member_roles(guild, user).await? {
                    None => outcome.left += 1,
                    Some(held) if held.contains(&rule.role) => outcome.held_already += 1,
                    Some(_) => lacking.push(user),
                }
            }
            if outcome.status != RuleStatus::Done {
                return Ok(outcome);
            }
            let flow = self.change(pass, rule, &mut state, &lacking, true, &mut outcome).await?;
            if let ControlFlow::Break(status) = flow {
                outcome.status = status;
                return Ok(outcome);
            }
        }
        for chunk in plan.lose.chunks(CHUNK) {
            let flow = self.change(pass, rule, &mut state, chunk, false, &mut outcome).await?;
            if let ControlFlow::Break(status) = flow {
                outcome.status = status;
                return Ok(outcome);
            }
        }
        state.applied_ms = Some(self.now_ms());
        state.applied_rule = Some(*rule);
        state.problem = capped.then(|| {
            (
                format!("the bot gave the role to {MAX_GIVEN} members, the most one rule may give"),
                self.now_ms(),
            )
        });
        if self.write(guild, rule, &mut state).await?.is_break() {
            outcome.status = RuleStatus::Busy;
        }
        Ok(outcome)
    }

    /// Records why a rule could not be applied; it waits an hour before it is tried again.
    fn record_problem(&self, rule: &ActivityRole, state: &mut RoleState, reason: &str) {
        state.applied_ms = Some(self.now_ms());
        state.applied_rule = Some(*rule);
        state.problem = Some((reason.to_owned(), self.now_ms()));
    }

    /// Asks the member object of each member a stopped run left pending whether the call happened.
    async fn settle_pending(
        &self,
        pass: &Pass<'_>,
        rule: &ActivityRole,
        state: &mut RoleState,
    ) -> Result<ControlFlow<RuleStatus>, ActionError> {
        if state.record.pending.is_empty() {
            return Ok(ControlFlow::Continue(()));
        }
        for user in state.record.pending.clone() {
            if Instant::now() >= pass.deadline {
                break;
            }
            match self.gateway.member_roles(pass.guild, user).await? {
                Some(held) if held.contains(&rule.role) => {
                    state.record.given.insert(user);
                }
                _ => {
                    state.record.given.remove(&user);
                }
            }
            state.record.pending.remove(&user);
        }
        if self.write(pass.guild, rule, state).await?.is_break() {
            return Ok(ControlFlow::Break(RuleStatus::Busy));
        }
        if state.record.pending.is_empty() {
            Ok(ControlFlow::Continue(()))
        } else {
            Ok(ControlFlow::Break(RuleStatus::OutOfTime))
        }
    }

    /// Gives (`give`) or takes the role for `users`: recorded pending first, then called one by one,
    /// then recorded as done. A refusal (403, or the role gone) ends the rule's run with its reason.
    async fn change(
        &self,
        pass: &Pass<'_>,
        rule: &ActivityRole,
        state: &mut RoleState,
        users: &[UserId],
        give: bool,
        outcome: &mut RuleOutcome,
    ) -> Result<ControlFlow<RuleStatus>, ActionError> {
        let guild = pass.guild;
        if users.is_empty() {
            return Ok(ControlFlow::Continue(()));
        }
        state.record.pending.extend(users.iter().copied());
        if self.write(guild, rule, state).await?.is_break() {
            return Ok(ControlFlow::Break(RuleStatus::Busy));
        }
        let reason = rule.audit_reason();
        let mut stop = None;
        // The member whose call failed: whether it happened is unknown, so they stay pending.
        let mut failed: Option<(UserId, ActionError)> = None;
        for &user in users {
            if Instant::now() >= pass.deadline {
                stop = Some(RuleStatus::OutOfTime);
                break;
            }
            match self.gateway.set_role(guild, user, rule.role, give, &reason).await {
                Ok(true) => {
                    if give {
                        state.record.given.insert(user);
                        outcome.gained.push(user);
                    } else {
                        state.record.given.remove(&user);
                        outcome.lost.push(user);
                    }
                }
                Ok(false) => {
                    state.record.given.remove(&user);
                    outcome.left += 1;
                }
                Err(ActionError::Discord(e)) if refused(&e) => {
                    // Discord changed nothing: the member is settled as they were.
                    stop = Some(RuleStatus::Refused(format!("Discord refused the change: {e}")));
                    break;
                }
                Err(e) => {
                    failed = Some((user, e));
                    break;
                }
            }
            state.record.pending.remove(&user);
        }
        // Members not called (or refused) are settled as they were.
        let failed_user = failed.as_ref().map(|(user, _)| *user);
        for user in users {
            if Some(*user) != failed_user {
                state.record.pending.remove(user);
            }
        }
        if let Some(RuleStatus::Refused(reason)) = &stop {
            self.record_problem(rule, state, reason);
        }
        if self.write(guild, rule, state).await?.is_break() {
            return Ok(ControlFlow::Break(RuleStatus::Busy));
        }
        if let Some((_, e)) = failed {
            return Err(e);
        }
        Ok(stop.map_or(ControlFlow::Continue(()), ControlFlow::Break))
    }

    /// Writes the role's state; `Break` when another run wrote it since this one read it.
    async fn write(
        &self,
        guild: GuildId,
        rule: &ActivityRole,
        state: &mut RoleState,
    ) -> Result<ControlFlow<()>, ActionError> {
        match self.store.put_role_state(guild, rule.role, state).await {
            Ok(()) => Ok(ControlFlow::Continue(())),
            Err(e) if e.kind() == StoreErrorKind::Conflict => {
                tracing::info!(%guild, role = %rule.role, "another run is applying this activity role");
                Ok(ControlFlow::Break(()))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The roles of a guild, the counts read and the deadline, for one run's pass over its rules.
struct Pass<'c> {
    guild: GuildId,
    config: &'c GuildConfig,
    /// When to stop calling Discord: the run's deadline, and a minute before the claim runs out.
    deadline: Instant,
    roles: Option<GuildRoles>,
    /// Each member's counted messages, per window length.
    messages: BTreeMap<u16, BTreeMap<UserId, u64>>,
}

/// Members one rule may give its role to: the record stays one item well under DynamoDB's 400 KB.
pub const MAX_GIVEN: usize = 25_000;
/// Members the bot gave a role to and who still qualify are looked at again one slice an hour.
const RECHECK_SLICES: u64 = 24;
/// A run stops calling Discord this long before its claim runs out.
const CLAIM_MARGIN_MS: u64 = 60 * 1000;

/// The claim one run holds on a guild's activity roles.
const CLAIM: &str = "activity-roles";
/// How long the claim holds at most: longer than any run (a Lambda function runs at most 15 minutes), so
/// a run killed while holding it blocks the next ones for at most this long.
const CLAIM_MS: u64 = 15 * 60 * 1000;

/// The wall clock (claims coordinate real processes; a run's `now` may be a fake Discord's clock).
fn wall_clock_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

/// Whether Discord refused a role change for good (missing permissions or hierarchy, the role gone),
/// rather than failing for now.
fn refused(error: &engagement_discord::Error) -> bool {
    matches!(
        error.kind(),
        engagement_discord::ErrorKind::Api { status: 403, .. }
            | engagement_discord::ErrorKind::Api { status: 404, code: Some(10_011), .. }
    )
}

/// Whether a rule is due: never applied, changed since, applied over an hour ago, or left with pending
/// members by a run that stopped.
#[must_use]
pub fn is_due(state: &RoleState, rule: &ActivityRole, now_ms: u64) -> bool {
    !state.record.pending.is_empty()
        || state.applied_rule.as_ref() != Some(rule)
        || state.applied_ms.is_none_or(|at| now_ms.saturating_sub(at) >= APPLY_EVERY_MS)
}
