//! Applying activity-role rules: after a guild's sync (at most once an hour per rule) and from
//! `engagement actions`.
//!
//! One application of a rule:
//! 1. checks that the bot may manage the role (`GET` roles and the bot's member); if not, the rule's run
//!    ends with the reason stored for `/engagement-config activity-role show`, and is tried again an hour
//!    later — never a storm of 403s;
//! 2. settles the members a stopped run left *pending*: the member object says whether the call
//!    happened (a role added but not recorded is recognised this way);
//! 3. gives the role, a chunk at a time, to members who qualify and lack it (one `GET` member each, to
//!    leave alone those who hold it from someone else and those who left), and takes it from members the
//!    bot gave it to who no longer qualify. Each chunk is recorded *pending* before its calls and settled
//!    after them, so a run killed after any call leaves nothing the next run cannot put right.
//!
//! One run at a time applies a guild's rules (a claim in the store, taken for at most 15 minutes), and
//! every write of a role's state is also conditional on the revision read
//! ([`engagement_store::RoleState`]).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

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

    fn out_of_time(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Applies the guild's rules (those due, unless forced), one after the other.
    ///
    /// # Errors
    /// Store failures, and Discord failures that stop every call ([`ActionError::is_fatal`]); any other
    /// Discord failure ends only its rule ([`RuleStatus::Failed`]).
    pub async fn apply_guild(
        &self,
        guild: GuildId,
        config: &GuildConfig,
    ) -> Result<Vec<RuleOutcome>, ActionError> {
        if config.activity_roles.is_empty() {
            return Ok(Vec::new());
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
                return Ok(config
                    .activity_roles
                    .iter()
                    .map(|rule| RuleOutcome::new(*rule, RuleStatus::NotDue))
                    .collect());
            }
        }
        // One run at a time per guild (a scheduled run and `engagement actions` may overlap): a second
        // run could otherwise settle the first one's pending members before its calls land.
        let now_ms = wall_clock_ms();
        let until_ms = now_ms.saturating_add(CLAIM_MS);
        if let Claim::Held { .. } = self.store.claim(guild, CLAIM, now_ms, CLAIM_MS).await? {
            tracing::info!(%guild, "another run is applying this guild's activity roles");
            return Ok(config
                .activity_roles
                .iter()
                .map(|rule| RuleOutcome::new(*rule, RuleStatus::Busy))
                .collect());
        }
        let outcomes = self.apply_rules(guild, config).await;
        if let Err(error) = self.store.release_own(guild, CLAIM, until_ms).await {
            tracing::warn!(%guild, %error, "could not release the activity-role claim (it runs out)");
        }
        outcomes
    }

    async fn apply_rules(
        &self,
        guild: GuildId,
        config: &GuildConfig,
    ) -> Result<Vec<RuleOutcome>, ActionError> {
        let mut outcomes = Vec::new();
        let mut roles = None;
        let mut messages = BTreeMap::new();
        for rule in &config.activity_roles {
            let outcome = match self
                .apply_rule(guild, config, rule, &mut roles, &mut messages)
                .await
            {
                Ok(outcome) => outcome,
                Err(e) if !e.is_fatal() && matches!(e, ActionError::Discord(_)) => {
                    tracing::warn!(%guild, role = %rule.role, error = %e, "an activity role's run failed");
                    RuleOutcome::new(*rule, RuleStatus::Failed(e.to_string()))
                }
                Err(e) => return Err(e),
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
            .or_else(|| asker_problem(&roles.roles, asker_roles, asker_permissions, role)))
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
        guild: GuildId,
        config: &GuildConfig,
        rule: &ActivityRole,
        roles: &mut Option<GuildRoles>,
        messages: &mut BTreeMap<u16, BTreeMap<UserId, u64>>,
    ) -> Result<RuleOutcome, ActionError> {
        let mut state = self.store.role_state(guild, rule.role).await?;
        if !self.force && !is_due(&state, rule, self.now_ms()) {
            return Ok(RuleOutcome::new(*rule, RuleStatus::NotDue));
        }
        let checked = match roles {
            Some(checked) => checked,
            None => roles.insert(self.guild_roles(guild).await?),
        };
        if let Some(problem) = bot_problem(guild, &checked.roles, &checked.bot_roles, rule.role) {
            return self.refuse(guild, rule, &mut state, problem.to_string()).await;
        }
        let mut outcome = RuleOutcome::new(*rule, RuleStatus::Done);
        if let ControlFlow::Break(status) = self.settle_pending(guild, rule, &mut state).await? {
            outcome.status = status;
            return Ok(outcome);
        }
        let qualifying = self.qualifying(guild, config, rule, messages).await?;
        let plan = RolePlan::new(&state.record.given, &qualifying);
        for chunk in plan.gain.chunks(CHUNK) {
            let mut lacking = Vec::new();
            for &user in chunk {
                if self.out_of_time() {
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
            let flow = self.change(guild, rule, &mut state, &lacking, true, &mut outcome).await?;
            if let ControlFlow::Break(status) = flow {
                outcome.status = status;
                return Ok(outcome);
            }
        }
        for chunk in plan.lose.chunks(CHUNK) {
            let flow = self.change(guild, rule, &mut state, chunk, false, &mut outcome).await?;
            if let ControlFlow::Break(status) = flow {
                outcome.status = status;
                return Ok(outcome);
            }
        }
        state.applied_ms = Some(self.now_ms());
        state.applied_rule = Some(*rule);
        state.problem = None;
        if self.write(guild, rule, &mut state).await?.is_break() {
            outcome.status = RuleStatus::Busy;
        }
        Ok(outcome)
    }

    /// Ends a rule's run because the bot may not manage its role: the reason is kept for `show`, and the
    /// rule waits an hour before it is tried again.
    async fn refuse(
        &self,
        guild: GuildId,
        rule: &ActivityRole,
        state: &mut RoleState,
        reason: String,
    ) -> Result<RuleOutcome, ActionError> {
        state.applied_ms = Some(self.now_ms());
        state.applied_rule = Some(*rule);
        state.problem = Some((reason.clone(), self.now_ms()));
        let status = match self.write(guild, rule, state).await? {
            ControlFlow::Continue(()) => RuleStatus::Refused(reason),
            ControlFlow::Break(()) => RuleStatus::Busy,
        };
        Ok(RuleOutcome::new(*rule, status))
    }

    /// Asks the member object of each member a stopped run left pending whether the call happened.
    async fn settle_pending(
        &self,
        guild: GuildId,
        rule: &ActivityRole,
        state: &mut RoleState,
    ) -> Result<ControlFlow<RuleStatus>, ActionError> {
        if state.record.pending.is_empty() {
            return Ok(ControlFlow::Continue(()));
        }
        for user in state.record.pending.clone() {
            if self.out_of_time() {
                break;
            }
            match self.gateway.member_roles(guild, user).await? {
                Some(held) if held.contains(&rule.role) => {
                    state.record.given.insert(user);
                }
                _ => {
                    state.record.given.remove(&user);
                }
            }
            state.record.pending.remove(&user);
        }
        if self.write(guild, rule, state).await?.is_break() {
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
        guild: GuildId,
        rule: &ActivityRole,
        state: &mut RoleState,
        users: &[UserId],
        give: bool,
        outcome: &mut RuleOutcome,
    ) -> Result<ControlFlow<RuleStatus>, ActionError> {
        if users.is_empty() {
            return Ok(ControlFlow::Continue(()));
        }
        state.record.pending.extend(users.iter().copied());
        if self.write(guild, rule, state).await?.is_break() {
            return Ok(ControlFlow::Break(RuleStatus::Busy));
        }
        let reason = rule.audit_reason();
        let mut stop = None;
        let mut failure = None;
        for &user in users {
            if self.out_of_time() {
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
                    state.record.pending.remove(&user);
                    stop = Some(RuleStatus::Refused(format!("Discord refused the change: {e}")));
                    break;
                }
                Err(e) => {
                    // Whether the call happened is unknown: the member stays pending.
                    failure = Some(e);
                    break;
                }
            }
            state.record.pending.remove(&user);
        }
        // Members not called yet are settled as they were; the failed one stays pending.
        let failed_user = failure
            .as_ref()
            .and_then(|_| users.iter().find(|u| state.record.pending.contains(u)).copied());
        for user in users {
            if Some(*user) != failed_user {
                state.record.pending.remove(user);
            }
        }
        if let Some(RuleStatus::Refused(reason)) = &stop {
            state.applied_ms = Some(self.now_ms());
            state.applied_rule = Some(*rule);
            state.problem = Some((reason.clone(), self.now_ms()));
        }
        if self.write(guild, rule, state).await?.is_break() {
            return Ok(ControlFlow::Break(RuleStatus::Busy));
        }
        if let Some(e) = failure {
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
