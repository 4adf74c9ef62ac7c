//! `/engagement privacy …`: every member decides about themselves, ephemerally. Opting out and in are a
//! configuration write; erasure rewrites summaries and is handed to the followup function.

use std::sync::Arc;

use engagement_commands::{FollowupJob, Work, holds};
use engagement_store::Claim;

use super::options;
use super::{CommandContext, CommandError, CommandHandler, HandlerFuture, HandlerResult};
use crate::response;
use crate::services::Services;

/// Which choice a [`PrivacyCommand`] handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrivacyAction {
    /// Stop being counted.
    OptOut,
    /// Be counted again.
    OptIn,
    /// Erase everything counted (deferred).
    Erase,
}

/// The handler of one `/engagement privacy` subcommand.
#[derive(Debug)]
pub struct PrivacyCommand {
    services: Arc<Services>,
    action: PrivacyAction,
}

impl PrivacyCommand {
    /// The handler of `action`.
    #[must_use]
    pub const fn new(services: Arc<Services>, action: PrivacyAction) -> Self {
        Self { services, action }
    }

    async fn run(&self, ctx: &CommandContext) -> HandlerResult {
        let guild = options::guild(ctx)?;
        let member = options::invoker(ctx)?;
        if self.action == PrivacyAction::Erase {
            let now_ms = options::now_ms(ctx);
            // One erasure per member at a time, and not again right after one.
            let running = holds::erase_in_progress(member);
            if let Claim::Held { .. } = self.services.take_hold(guild, &running, now_ms).await? {
                return Ok(response::ephemeral_message(holds::ERASE_IN_PROGRESS_MESSAGE));
            }
            let cooldown = holds::erase_cooldown(member);
            if let Some(remaining_ms) =
                self.services.hold_remaining(guild, &cooldown, now_ms).await?
            {
                self.services.give_back(guild, &running).await;
                return Err(CommandError::user(holds::try_again_message(
                    "an erasure",
                    remaining_ms,
                )));
            }
            let job = FollowupJob {
                application_id: ctx.application_id().get(),
                token: ctx.token().to_owned(),
                requested_at_ms: now_ms,
                ephemeral: true,
                work: Work::Erase { guild, member },
            };
            self.services.defer_holding(&job, guild, Some(&running)).await?;
            return Ok(response::deferred(true));
        }
        let (mut config, version) = self.services.config_for_update(guild).await?;
        let text = if self.action == PrivacyAction::OptOut {
            if !config.opted_out.insert(member) {
                return Ok(response::ephemeral_message(
                    "You are already opted out: nothing you do is counted.",
                ));
            }
            "You are opted out: from the next sync on nothing you do is counted, and you are left out of \
             leaderboards, channel stats and exports. What was counted before is kept (hidden); \
             `/engagement privacy erase` deletes it."
        } else {
            if !config.opted_out.remove(&member) {
                return Ok(response::ephemeral_message("You are counted already."));
            }
            "You are counted again from the next sync on, and show in reports again."
        };
        self.services.save_config(guild, &config, version).await?;
        Ok(response::ephemeral_message(text))
    }
}

impl CommandHandler for PrivacyCommand {
    fn handle<'a>(&'a self, ctx: &'a CommandContext) -> HandlerFuture<'a> {
        Box::pin(self.run(ctx))
    }
}
