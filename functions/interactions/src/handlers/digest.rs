//! `/engagement-config digest …` (MANAGE_GUILD): the digest the scheduled function posts in a channel.
//! `set`, `off` and `show` answer at once; `preview` builds the digest (a chart) in the followup function
//! and shows it to the asker only. Every answer is ephemeral.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::Weekday;
use engagement_commands::definition::option;
use engagement_commands::report::digest;
use engagement_commands::{FollowupJob, Work, format, holds};
use engagement_domain::digest::{DEFAULT_HOUR, DEFAULT_WEEKDAY, weekday_name};
use engagement_domain::{Audience, DigestSchedule, Frequency};
use engagement_store::Claim;

use super::options;
use super::{CommandContext, CommandError, CommandHandler, HandlerFuture, HandlerResult};
use crate::response;
use crate::services::Services;

/// Which subcommand a [`DigestCommand`] handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestAction {
    /// `set channel frequency [weekday] [hour]`.
    Set,
    /// `off`.
    Off,
    /// `show`.
    Show,
    /// `preview`.
    Preview,
}

/// The handler of one `/engagement-config digest` subcommand.
#[derive(Debug)]
pub struct DigestCommand {
    services: Arc<Services>,
    action: DigestAction,
}

impl DigestCommand {
    /// The handler of `action`.
    #[must_use]
    pub const fn new(services: Arc<Services>, action: DigestAction) -> Self {
        Self { services, action }
    }

    async fn run(&self, ctx: &CommandContext) -> HandlerResult {
        let guild = options::guild(ctx)?;
        options::require_manage_guild(ctx)?;
        let now = options::now(ctx);
        match self.action {
            DigestAction::Set => {
                let mut schedule = schedule(ctx)?;
                let (mut config, version) = self.services.config_for_update(guild).await?;
                // Moving the digest to another channel (a refused post's usual fix) keeps the post due
                // now: it is made in the new channel.
                if let Some(before) = config.digest
                    && (before.frequency, before.weekday, before.hour)
                        == (schedule.frequency, schedule.weekday, schedule.hour)
                {
                    schedule.since_ms = before.since_ms;
                }
                config.digest = Some(schedule);
                self.services.save_config(guild, &config, version).await?;
                let zone = config.time_zone;
                let next = next_post(&schedule, now, zone);
                Ok(response::ephemeral_message(format!(
                    "The digest is posted {} ({zone}) in {}, about the {} before; the first on {next}. \
                     The bot needs View Channel, Send Messages, Embed Links and Attach Files there. \
                     `/engagement-config digest preview` shows it now.",
                    schedule.describe(),
                    format::channel(schedule.channel),
                    match schedule.frequency {
                        Frequency::Daily => "day",
                        Frequency::Weekly => "7 days",
                    },
                )))
            }
            DigestAction::Off => {
                let (mut config, version) = self.services.config_for_update(guild).await?;
                if config.digest.take().is_none() {
                    return Ok(response::ephemeral_message("No digest is set: nothing to stop."));
                }
                self.services.save_config(guild, &config, version).await?;
                Ok(response::ephemeral_message(
                    "The digest is off: nothing more is posted. `/engagement-config digest set` starts it again.",
                ))
            }
            DigestAction::Show => {
                let config = self.services.guild_config(guild).await?;
                let Some(schedule) = config.digest else {
                    return Ok(response::ephemeral_message(
                        "No digest is set. `/engagement-config digest set` posts one every day or week.",
                    ));
                };
                let state = self
                    .services
                    .store
                    .digest_state(guild)
                    .await
                    .map_err(CommandError::internal)?;
                let zone = config.time_zone;
                let mut text = format!(
                    "The digest is posted {} ({zone}) in {}. Next: {}.",
                    schedule.describe(),
                    format::channel(schedule.channel),
                    next_post(&schedule, now, zone)
                );
                let current = schedule.post_due(now, zone);
                match (state.due, state.message_id, &state.problem) {
                    // A problem is news only while its post is the one due.
                    (Some(due), None, Some(problem)) if Some(due) == current => {
                        let _ = write!(
                            text,
                            "\n⚠️ The post due {due} could not be made: {problem}. It is tried again \
                             within the hour."
                        );
                    }
                    (Some(due), Some(_), _) => {
                        let _ = write!(text, "\nLast posted: the one due {due}.");
                    }
                    _ => {}
                }
                if let Some(due) = current.filter(|d| state.due < Some(*d)) {
                    let _ = write!(
                        text,
                        "\nThe post due {due} is not made yet: the first sync after its time that \
                         reads every channel makes it."
                    );
                }
                Ok(response::ephemeral_message(text))
            }
            DigestAction::Preview => {
                let config = self.services.guild_config(guild).await?;
                let viewer = options::invoker(ctx)?;
                let Some(schedule) = config.digest else {
                    return Err(CommandError::user(
                        "No digest is set: `/engagement-config digest set` sets one.",
                    ));
                };
                let due = schedule.latest_due(now, config.time_zone);
                let request = digest::request(guild, viewer, &schedule, due, config.time_zone, now);
                let now_ms = options::now_ms(ctx);
                let cooldown = holds::report_cooldown(&request);
                if let Some(hold) = &cooldown
                    && let Claim::Held { remaining_ms } =
                        self.services.take_hold(guild, hold, now_ms).await?
                {
                    return Err(CommandError::user(holds::try_again_message(
                        "a digest preview",
                        remaining_ms,
                    )));
                }
                let job = FollowupJob {
                    application_id: ctx.application_id().get(),
                    token: ctx.token().to_owned(),
                    requested_at_ms: now_ms,
                    ephemeral: true,
                    // Built for the channel it is posted in: what everyone may see.
                    work: Work::Report { request, audience: Audience::Public },
                };
                self.services.defer_holding(&job, guild, cooldown.as_ref()).await?;
                Ok(response::deferred(true))
            }
        }
    }
}

/// The schedule `set` was given, refusing what does not make one.
fn schedule(ctx: &CommandContext) -> Result<DigestSchedule, CommandError> {
    let Some((channel, _, _)) = options::channel(ctx, option::CHANNEL) else {
        return Err(CommandError::user("Pick a channel with `channel`."));
    };
    let frequency: Frequency = options::string(ctx, option::FREQUENCY)
        .unwrap_or_default()
        .parse()
        .map_err(CommandError::user)?;
    let weekday = match options::string(ctx, option::WEEKDAY) {
        None => DEFAULT_WEEKDAY,
        Some(_) if frequency == Frequency::Daily => {
            return Err(CommandError::user(
                "`weekday` is for weekly digests: a daily one is posted every day.",
            ));
        }
        Some(name) => name.parse::<Weekday>().map_err(|_| {
            CommandError::user(format!("`{name}` is not a day of the week: use monday to sunday."))
        })?,
    };
    let hour = match options::integer(ctx, option::HOUR) {
        None => DEFAULT_HOUR,
        Some(hour) => u8::try_from(hour).ok().filter(|h| *h < 24).ok_or_else(|| {
            CommandError::user(format!("`hour` must be from 0 to 23, not {hour}."))
        })?,
    };
    let since_ms = u64::try_from(options::now(ctx).timestamp_millis()).unwrap_or(0);
    Ok(DigestSchedule { channel, frequency, weekday, hour, since_ms })
}

/// When the next post is due, in the server's time: "Monday 2026-12-07 09:00".
fn next_post(
    schedule: &DigestSchedule,
    now: chrono::DateTime<chrono::Utc>,
    zone: engagement_domain::GuildTimeZone,
) -> String {
    let next = schedule.latest_due(now, zone).plus(schedule.frequency.days());
    let at = schedule.due_at(next, zone).with_timezone(&zone.0);
    format!("{} {}", weekday_name(chrono::Datelike::weekday(&at)), at.format("%Y-%m-%d %H:%M"))
}

impl CommandHandler for DigestCommand {
    fn handle<'a>(&'a self, ctx: &'a CommandContext) -> HandlerFuture<'a> {
        Box::pin(self.run(ctx))
    }
}
