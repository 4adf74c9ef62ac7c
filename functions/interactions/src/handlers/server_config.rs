//! `/engagement-config …` (MANAGE_GUILD): the server's time zone and excluded channels. Answers are
//! ephemeral: settings are the admins' business, and the reply confirms to the one who changed them.
//!
//! Discord shows the command to server managers only (its `default_member_permissions`), but a server can
//! override that for any role or member, so every subcommand re-checks the interaction's member permissions.

use std::fmt::Write as _;
use std::sync::Arc;

use engagement_commands::definition::option;
use engagement_commands::format;
use engagement_commands::reply::{EmbedDraft, Reply};
use engagement_domain::{GuildConfig, GuildTimeZone};
use engagement_store::ConfigVersion;
use twilight_model::channel::ChannelType;

use super::options;
use super::{CommandContext, CommandError, CommandHandler, HandlerFuture, HandlerResult};
use crate::response;
use crate::services::Services;

/// Which setting a [`ConfigCommand`] handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigAction {
    /// `time-zone zone:<IANA name>`.
    TimeZone,
    /// `exclude channel:<#channel>`.
    Exclude,
    /// `include channel:<#channel>`.
    Include,
    /// `show`.
    Show,
}

/// The handler of one `/engagement-config` subcommand.
#[derive(Debug)]
pub struct ConfigCommand {
    services: Arc<Services>,
    action: ConfigAction,
}

impl ConfigCommand {
    /// The handler of `action`.
    #[must_use]
    pub const fn new(services: Arc<Services>, action: ConfigAction) -> Self {
        Self { services, action }
    }

    async fn run(&self, ctx: &CommandContext) -> HandlerResult {
        let guild = options::guild(ctx)?;
        options::require_manage_guild(ctx)?;
        let (mut config, version) = self.services.config_for_update(guild).await?;
        let is_default = version == ConfigVersion::NONE;
        let text = match self.action {
            ConfigAction::Show => {
                return Ok(response::reply(&Reply::embed(show(&config, is_default)), true));
            }
            ConfigAction::TimeZone => {
                let name = options::string(ctx, option::ZONE).unwrap_or_default();
                let zone: GuildTimeZone =
                    name.parse().map_err(|e: engagement_domain::day::UnknownTimeZone| {
                        CommandError::user(e.to_string())
                    })?;
                if zone == config.time_zone && !is_default {
                    return Ok(response::ephemeral_message(format!(
                        "Days are already counted in {zone}."
                    )));
                }
                config.time_zone = zone;
                format!(
                    "Days are now counted in **{zone}** (today there is {}). Days counted before keep the \
                     time zone they were counted in.",
                    zone.today(options::now(ctx))
                )
            }
            ConfigAction::Exclude | ConfigAction::Include => {
                let Some((channel, kind, _)) = options::channel(ctx, option::CHANNEL) else {
                    return Err(CommandError::user("Pick a channel with `channel`."));
                };
                if kind == ChannelType::GuildCategory {
                    return Err(CommandError::user(
                        "Categories are not counted themselves: exclude their channels one by one.",
                    ));
                }
                let mention = format::channel(channel);
                if self.action == ConfigAction::Exclude {
                    if !config.excluded_channels.insert(channel) {
                        return Ok(response::ephemeral_message(format!(
                            "{mention} is already excluded."
                        )));
                    }
                    format!(
                        "{mention} is excluded: nothing in it (or its threads) is counted from the next sync \
                         on, and it is left out of every report. What was counted before is kept; \
                         `/engagement-config include` brings it back."
                    )
                } else {
                    if !config.excluded_channels.remove(&channel) {
                        return Ok(response::ephemeral_message(format!(
                            "{mention} is not excluded: it is counted already."
                        )));
                    }
                    format!(
                        "{mention} is counted again from the next sync on, and shows in reports again \
                         (with what was counted before its exclusion)."
                    )
                }
            }
        };
        self.services.save_config(guild, &config, version).await?;
        Ok(response::ephemeral_message(text))
    }
}

fn show(config: &GuildConfig, is_default: bool) -> twilight_model::channel::message::Embed {
    let mut excluded = String::new();
    for channel in &config.excluded_channels {
        // Writing to a String cannot fail.
        let _ = writeln!(excluded, "{}", format::channel(*channel));
    }
    if excluded.is_empty() {
        excluded.push_str("none");
    }
    let zone = if is_default {
        format!("{} (the default: not set for this server)", config.time_zone)
    } else {
        config.time_zone.to_string()
    };
    EmbedDraft::new("Engagement settings")
        .field("Time zone", zone, false)
        .field("Excluded channels", excluded.trim_end(), false)
        .field(
            "Members who opted out",
            format::number(i64::try_from(config.opted_out.len()).unwrap_or(i64::MAX)),
            false,
        )
        .build()
}

impl CommandHandler for ConfigCommand {
    fn handle<'a>(&'a self, ctx: &'a CommandContext) -> HandlerFuture<'a> {
        Box::pin(self.run(ctx))
    }
}
