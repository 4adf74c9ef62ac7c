//! `/engagement-config activity-role …` (MANAGE_GUILD): rules that give a role to active members.
//!
//! `show` and `remove` read and write the store at once. `add` checks what the interaction itself tells
//! (the options, `@everyone`, a managed role), then hands the checks that need the guild's roles (the
//! bot's permissions, the asker's Manage Roles from their roles — the interaction's permissions are the
//! asker's in the channel, where that bit means Manage Permissions — and both role hierarchies) to the
//! followup function, which saves the rule; `preview` is deferred too (it reads the window's counts
//! and the guild's roles). Every answer is ephemeral.

use std::sync::Arc;

use engagement_commands::definition::option;
use engagement_commands::roles::{self, RoleSummary, mention};
use engagement_commands::{FollowupJob, RoleTask, Work};
use engagement_domain::roles::{MAX_ACTIVITY_ROLES, RoleProblem};
use engagement_domain::{ActivityRole, RoleId};
use twilight_model::application::interaction::application_command::CommandOptionValue;

use super::options;
use super::{CommandContext, CommandError, CommandHandler, HandlerFuture, HandlerResult};
use crate::response;
use crate::services::Services;

/// Which subcommand an [`ActivityRoleCommand`] handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleAction {
    /// `add role days [min-messages | top]`.
    Add,
    /// `remove role`.
    Remove,
    /// `show`.
    Show,
    /// `preview role`.
    Preview,
}

/// The handler of one `/engagement-config activity-role` subcommand.
#[derive(Debug)]
pub struct ActivityRoleCommand {
    services: Arc<Services>,
    action: RoleAction,
}

impl ActivityRoleCommand {
    /// The handler of `action`.
    #[must_use]
    pub const fn new(services: Arc<Services>, action: RoleAction) -> Self {
        Self { services, action }
    }

    async fn run(&self, ctx: &CommandContext) -> HandlerResult {
        let guild = options::guild(ctx)?;
        options::require_manage_guild(ctx)?;
        match self.action {
            RoleAction::Show => {
                let config = self.services.guild_config(guild).await?;
                let states =
                    self.services.store.role_states(guild).await.map_err(CommandError::internal)?;
                let rules: Vec<(ActivityRole, RoleSummary)> = config
                    .activity_roles
                    .iter()
                    .map(|rule| {
                        let state = states.iter().find(|(role, _)| *role == rule.role);
                        let summary =
                            state.map_or_else(RoleSummary::default, |(_, s)| RoleSummary {
                                given: s.record.given.len(),
                                applied_ms: s.applied_ms,
                                problem: s.problem.clone(),
                            });
                        (*rule, summary)
                    })
                    .collect();
                let reply = roles::show(&rules, config.time_zone, options::now_ms(ctx));
                Ok(response::reply(&reply, true))
            }
            RoleAction::Remove => {
                let role = role_option(ctx)?;
                let (mut config, version) = self.services.config_for_update(guild).await?;
                let before = config.activity_roles.len();
                config.activity_roles.retain(|r| r.role != role);
                if config.activity_roles.len() == before {
                    return Err(CommandError::user(format!(
                        "{} is not an activity role: nothing to remove.",
                        mention(role)
                    )));
                }
                self.services.save_config(guild, &config, version).await?;
                Ok(response::ephemeral_message(format!(
                    "The bot no longer gives or takes {}. Members who have it keep it; remove it from them \
                     in Server Settings, or add the rule again to let the bot manage it once more (it \
                     remembers whom it gave it to).",
                    mention(role)
                )))
            }
            RoleAction::Add => self.add(ctx, guild).await,
            RoleAction::Preview => {
                let role = role_option(ctx)?;
                let config = self.services.guild_config(guild).await?;
                if !config.activity_roles.iter().any(|r| r.role == role) {
                    return Err(CommandError::user(format!(
                        "{} is not an activity role. `/engagement-config activity-role add` makes it one.",
                        mention(role)
                    )));
                }
                self.defer(ctx, guild, RoleTask::Preview { role }).await
            }
        }
    }

    async fn add(&self, ctx: &CommandContext, guild: engagement_domain::GuildId) -> HandlerResult {
        let role = role_option(ctx)?;
        let rule = ActivityRole::from_options(
            role,
            options::integer(ctx, option::MIN_MESSAGES),
            options::integer(ctx, option::TOP),
            options::integer(ctx, option::DAYS).unwrap_or(0),
        )
        .map_err(|e| CommandError::user(format!("That rule cannot be set: {e}.")))?;
        // What the interaction already tells: no need to ask Discord to refuse these.
        let resolved = ctx.data().resolved.as_ref().and_then(|r| {
            r.roles.iter().find(|(id, _)| id.get() == role.get()).map(|(_, role)| role)
        });
        let problem = if role == RoleId::everyone(guild) {
            Some(RoleProblem::Everyone)
        } else if resolved.is_some_and(|r| r.managed) {
            Some(RoleProblem::Managed)
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(CommandError::user(format!(
                "{} cannot be an activity role: {problem}.",
                mention(role)
            )));
        }
        let config = self.services.guild_config(guild).await?;
        let others = config.activity_roles.iter().filter(|r| r.role != role).count();
        if others >= MAX_ACTIVITY_ROLES {
            return Err(CommandError::user(format!(
                "This server has {MAX_ACTIVITY_ROLES} activity roles, the most it may have: remove one first."
            )));
        }
        self.defer(ctx, guild, RoleTask::Add { rule }).await
    }

    async fn defer(
        &self,
        ctx: &CommandContext,
        guild: engagement_domain::GuildId,
        task: RoleTask,
    ) -> HandlerResult {
        let job = FollowupJob {
            application_id: ctx.application_id().get(),
            token: ctx.token().to_owned(),
            requested_at_ms: options::now_ms(ctx),
            ephemeral: true,
            work: Work::ActivityRole {
                guild,
                asker_roles: ctx
                    .member()
                    .map(|m| m.roles.iter().map(|r| RoleId(r.get())).collect())
                    .unwrap_or_default(),
                asker_permissions: ctx.permissions().map_or(0, |p| p.bits()),
                task,
            },
        };
        self.services.defer(&job).await?;
        Ok(response::deferred(true))
    }
}

/// The required `role` option.
fn role_option(ctx: &CommandContext) -> Result<RoleId, CommandError> {
    match ctx.option(option::ROLE) {
        Some(CommandOptionValue::Role(id)) => Ok(RoleId(id.get())),
        _ => Err(CommandError::user("Pick a role with `role`.")),
    }
}

impl CommandHandler for ActivityRoleCommand {
    fn handle<'a>(&'a self, ctx: &'a CommandContext) -> HandlerFuture<'a> {
        Box::pin(self.run(ctx))
    }
}
