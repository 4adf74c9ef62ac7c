//! Reading and checking what a command was given: options, the guild, the member's permissions.

use chrono::{DateTime, Utc};
use engagement_commands::ReportPeriod;
use engagement_commands::definition::option;
use engagement_domain::{
    Audience, ChannelId, GuildId, GuildTimeZone, Period, RoleId, Scope, UserId,
};
use twilight_model::application::interaction::application_command::CommandOptionValue;
use twilight_model::channel::ChannelType;
use twilight_model::guild::Permissions;
use twilight_model::id::Id;
use twilight_model::id::marker::ChannelMarker;

use super::{CommandContext, CommandError};

/// The answer to a command run outside a server.
pub const NOT_IN_A_GUILD: &str =
    "This command works in a server, not in direct messages: the counters are kept per server.";
/// The answer to an admin command run by a member without MANAGE_GUILD.
pub const NEEDS_MANAGE_GUILD: &str =
    "You need the **Manage Server** permission to use this command.";

/// The guild the command was run in.
///
/// # Errors
/// [`NOT_IN_A_GUILD`].
pub fn guild(ctx: &CommandContext) -> Result<GuildId, CommandError> {
    ctx.guild_id().map(GuildId::from).ok_or_else(|| CommandError::user(NOT_IN_A_GUILD))
}

/// The member who ran the command.
///
/// # Errors
/// When the interaction names no user (Discord always does for commands).
pub fn invoker(ctx: &CommandContext) -> Result<UserId, CommandError> {
    ctx.user()
        .map(|u| UserId::from(u.id))
        .ok_or_else(|| CommandError::internal("application command without a user"))
}

/// Re-checks an admin command's permission from `member.permissions` (Discord hides the command from
/// members without it, but a server can change that, and a request is only as good as its check).
///
/// # Errors
/// [`NEEDS_MANAGE_GUILD`].
pub fn require_manage_guild(ctx: &CommandContext) -> Result<(), CommandError> {
    let allowed = ctx
        .permissions()
        .is_some_and(|p| p.intersects(Permissions::MANAGE_GUILD | Permissions::ADMINISTRATOR));
    if allowed { Ok(()) } else { Err(CommandError::user(NEEDS_MANAGE_GUILD)) }
}

/// The asker as the audience of an ephemeral reply: their roles and permissions (server managers and
/// administrators see every channel; others what their roles let them view).
///
/// # Errors
/// When the interaction names no user.
pub fn audience(ctx: &CommandContext) -> Result<Audience, CommandError> {
    let user = invoker(ctx)?;
    let roles =
        ctx.member().map(|m| m.roles.iter().map(|r| RoleId(r.get())).collect()).unwrap_or_default();
    let permissions = ctx.permissions().map_or(0, |p| p.bits());
    Ok(Audience::for_member(roles, user, permissions))
}

/// A string option.
#[must_use]
pub fn string<'a>(ctx: &'a CommandContext, name: &str) -> Option<&'a str> {
    match ctx.option(name)? {
        CommandOptionValue::String(value) => Some(value.as_str()),
        _ => None,
    }
}

/// An integer option.
#[must_use]
pub fn integer(ctx: &CommandContext, name: &str) -> Option<i64> {
    match ctx.option(name)? {
        CommandOptionValue::Integer(value) => Some(*value),
        _ => None,
    }
}

/// A user option.
#[must_use]
pub fn user(ctx: &CommandContext, name: &str) -> Option<UserId> {
    match ctx.option(name)? {
        CommandOptionValue::User(id) => Some(UserId::from(*id)),
        _ => None,
    }
}

/// A channel option, as Discord resolved it: its id and kind.
#[must_use]
pub fn channel(
    ctx: &CommandContext,
    name: &str,
) -> Option<(ChannelId, ChannelType, Option<ChannelId>)> {
    let CommandOptionValue::Channel(id) = ctx.option(name)? else { return None };
    let resolved = ctx.data().resolved.as_ref().and_then(|r| r.channels.get(id));
    Some(match resolved {
        Some(channel) => {
            (ChannelId::from(*id), channel.kind, channel.parent_id.map(ChannelId::from))
        }
        // Discord always resolves channel options; without it, a plain channel is the safe reading.
        None => (ChannelId::from(*id), ChannelType::GuildText, None),
    })
}

/// What a channel of `kind` counts as in reports: a category is a category, a thread counts toward its
/// parent channel, anything else is a counting channel.
#[must_use]
pub const fn scope_of(id: ChannelId, kind: ChannelType, parent: Option<ChannelId>) -> Scope {
    match kind {
        ChannelType::GuildCategory => Scope::Category(id),
        ChannelType::PublicThread
        | ChannelType::PrivateThread
        | ChannelType::AnnouncementThread => Scope::Channel(match parent {
            Some(parent) => parent,
            None => id,
        }),
        _ => Scope::Channel(id),
    }
}

/// The `channel` option as a report scope; `None` when not given.
#[must_use]
pub fn channel_scope(ctx: &CommandContext) -> Option<Scope> {
    channel(ctx, option::CHANNEL).map(|(id, kind, parent)| scope_of(id, kind, parent))
}

/// The channel the command was run in, as a report scope (a thread's parent channel).
#[must_use]
pub fn current_channel_scope(ctx: &CommandContext) -> Option<Scope> {
    let interaction = ctx.interaction();
    match &interaction.channel {
        Some(channel) => Some(scope_of(
            ChannelId::from(channel.id),
            channel.kind,
            channel.parent_id.map(ChannelId::from),
        )),
        #[allow(deprecated)] // older payloads carry only `channel_id`
        None => interaction.channel_id.map(|id: Id<ChannelMarker>| Scope::Channel(id.into())),
    }
}

/// The `period`, `from` and `to` options resolved in `zone` at the command's time.
///
/// # Errors
/// Readable explanations: an unknown period, a malformed date, `from` after `to`, only one of them, a
/// range that is too long or starts in the future.
pub fn period(ctx: &CommandContext, zone: GuildTimeZone) -> Result<ReportPeriod, CommandError> {
    let period = Period::from_options(
        string(ctx, option::PERIOD),
        string(ctx, option::FROM),
        string(ctx, option::TO),
    )
    .map_err(|e| CommandError::user(capitalise(&e.to_string())))?;
    ReportPeriod::resolve(period, zone, now(ctx)).map_err(|e| {
        CommandError::user(format!(
            "{}: nothing has been counted yet for those days.",
            capitalise(&e.to_string())
        ))
    })
}

/// The command's time as a chrono instant.
#[must_use]
pub fn now(ctx: &CommandContext) -> DateTime<Utc> {
    DateTime::<Utc>::from(ctx.now())
}

/// The command's time in Unix milliseconds.
#[must_use]
pub fn now_ms(ctx: &CommandContext) -> u64 {
    u64::try_from(now(ctx).timestamp_millis()).unwrap_or(0)
}

/// First letter upper case (the domain's messages start lower case, to be embedded in others).
fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_count_toward_their_parent_and_categories_stay_categories() {
        let (id, parent) = (ChannelId(5), Some(ChannelId(1)));
        assert_eq!(scope_of(id, ChannelType::PublicThread, parent), Scope::Channel(ChannelId(1)));
        assert_eq!(scope_of(id, ChannelType::GuildCategory, None), Scope::Category(id));
        assert_eq!(scope_of(id, ChannelType::GuildForum, parent), Scope::Channel(id));
    }

    #[test]
    fn messages_start_with_a_capital() {
        assert_eq!(capitalise("the start date"), "The start date");
        assert_eq!(capitalise("`x` is not"), "`x` is not");
        assert_eq!(capitalise(""), "");
    }
}
