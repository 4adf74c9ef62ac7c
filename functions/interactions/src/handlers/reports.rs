//! `/stats`, `/channel-stats`, `/leaderboard`, `/activity`, `/insights` and `/export`: validated here, answered at once
//! when short, handed to the followup function otherwise (see [`ReportRequest::deferred`]).

use std::sync::Arc;

use engagement_commands::definition::{DEFAULT_RETENTION_WEEKS, MAX_RETENTION_WEEKS, option};
use engagement_commands::report::check_counted;
use engagement_commands::report::leaderboard::check_scope;
use engagement_commands::{ActivityView, FollowupJob, Ranked, Report, ReportRequest, Work, holds};
use engagement_domain::{Audience, Metric, Scope};
use engagement_store::Claim;

use super::options;
use super::{CommandContext, CommandError, CommandHandler, HandlerFuture, HandlerResult};
use crate::response;
use crate::services::Services;

/// Which report a [`ReportCommand`] answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportKind {
    /// `/stats`.
    Stats,
    /// `/channel-stats`.
    ChannelStats,
    /// `/leaderboard`.
    Leaderboard,
    /// `/activity`.
    Activity,
    /// `/insights growth`.
    Growth,
    /// `/insights retention`.
    Retention,
    /// `/export` (MANAGE_GUILD).
    Export,
}

/// The handler of one report command.
#[derive(Debug)]
pub struct ReportCommand {
    services: Arc<Services>,
    kind: ReportKind,
}

impl ReportCommand {
    /// The handler of `kind`.
    #[must_use]
    pub const fn new(services: Arc<Services>, kind: ReportKind) -> Self {
        Self { services, kind }
    }

    async fn run(&self, ctx: &CommandContext) -> HandlerResult {
        let guild = options::guild(ctx)?;
        let viewer = options::invoker(ctx)?;
        if self.kind == ReportKind::Export {
            options::require_manage_guild(ctx)?;
        }
        let config = self.services.guild_config(guild).await?;
        let period = options::period(ctx, config.time_zone)?;
        let report = match self.kind {
            ReportKind::Stats => {
                let member = options::user(ctx, option::MEMBER).unwrap_or(viewer);
                if member != viewer && config.opted_out.contains(&member) {
                    return Err(CommandError::user(format!(
                        "{} opted out of engagement statistics in this server.",
                        engagement_commands::format::user(member)
                    )));
                }
                Report::Stats { member }
            }
            ReportKind::ChannelStats => Report::ChannelStats {
                scope: options::channel_scope(ctx)
                    .or_else(|| options::current_channel_scope(ctx))
                    .ok_or_else(|| {
                        CommandError::user("Pick a channel or a category with `channel`.")
                    })?,
            },
            ReportKind::Leaderboard => {
                let ranked = options::string(ctx, option::WHAT)
                    .map_or(Ok(Ranked::default()), str::parse)
                    .map_err(|e| CommandError::user(e.to_string()))?;
                let metric = options::string(ctx, option::METRIC)
                    .map_or(Ok(Metric::default()), str::parse)
                    .map_err(|e| CommandError::user(e.to_string()))?;
                let scope = options::channel_scope(ctx).unwrap_or(Scope::Guild);
                check_scope(ranked, scope).map_err(|e| CommandError::user(e.to_string()))?;
                Report::Leaderboard { ranked, metric, scope }
            }
            ReportKind::Activity => Report::Activity {
                scope: options::channel_scope(ctx).unwrap_or(Scope::Guild),
                view: options::string(ctx, option::VIEW)
                    .map_or(Ok(ActivityView::default()), str::parse)
                    .map_err(|e| CommandError::user(e.to_string()))?,
            },
            ReportKind::Growth => {
                Report::Growth { scope: options::channel_scope(ctx).unwrap_or(Scope::Guild) }
            }
            ReportKind::Retention => {
                let weeks = match options::integer(ctx, option::WEEKS) {
                    None if ctx.option(option::WEEKS).is_some() => {
                        return Err(CommandError::user("`weeks` must be a whole number."));
                    }
                    None => DEFAULT_RETENTION_WEEKS,
                    Some(n) => u8::try_from(n)
                        .ok()
                        .filter(|n| (1..=MAX_RETENTION_WEEKS).contains(n))
                        .ok_or_else(|| {
                            CommandError::user(format!(
                                "`weeks` must be from 1 to {MAX_RETENTION_WEEKS}, not {n}."
                            ))
                        })?,
                };
                Report::Retention { weeks }
            }
            ReportKind::Export => Report::Export,
        };
        if let Some(Scope::Channel(channel)) = report.channel_scope() {
            check_counted(&config, channel).map_err(|e| CommandError::user(e.to_string()))?;
        }
        let request = ReportRequest {
            guild,
            viewer,
            report,
            period,
            attachment_limit: ctx.interaction().attachment_size_limit,
        };
        // Who reads the reply: everyone for a public one, the asker for an ephemeral one.
        let audience = if request.ephemeral() { options::audience(ctx)? } else { Audience::Public };
        if request.deferred() {
            let now_ms = options::now_ms(ctx);
            let cooldown = holds::report_cooldown(&request);
            if let Some(hold) = &cooldown
                && let Claim::Held { remaining_ms } =
                    self.services.take_hold(guild, hold, now_ms).await?
            {
                let what = match request.report {
                    Report::Export => "an export",
                    Report::Growth { .. } | Report::Retention { .. } => "insights",
                    _ => "a long chart",
                };
                return Err(CommandError::user(holds::try_again_message(what, remaining_ms)));
            }
            let ephemeral = request.ephemeral();
            let job = FollowupJob {
                application_id: ctx.application_id().get(),
                token: ctx.token().to_owned(),
                requested_at_ms: now_ms,
                ephemeral,
                work: Work::Report { request, audience },
            };
            self.services.defer_holding(&job, guild, cooldown.as_ref()).await?;
            return Ok(response::deferred(ephemeral));
        }
        let reply = self
            .services
            .reporter
            .answer(&request, &config, &audience)
            .await
            .map_err(super::answer_error)?;
        Ok(response::reply(&reply, request.ephemeral()))
    }
}

impl CommandHandler for ReportCommand {
    fn handle<'a>(&'a self, ctx: &'a CommandContext) -> HandlerFuture<'a> {
        Box::pin(self.run(ctx))
    }
}
