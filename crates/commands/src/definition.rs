//! The slash commands as Discord sees them: names, options, choices and default permissions.
//!
//! One definition serves both sides: `engagement register-commands` sends [`definitions`] to Discord, and
//! the interactions function reads options by the same [`option`] names and routes by the same [`name`]s.

use twilight_model::application::command::{
    Command, CommandOption, CommandOptionChoice, CommandOptionChoiceValue, CommandOptionType,
    CommandOptionValue, CommandType,
};
use twilight_model::application::interaction::InteractionContextType;
use twilight_model::channel::ChannelType;
use twilight_model::guild::Permissions;
use twilight_model::id::Id;

/// Command, subcommand group and subcommand names.
pub mod name {
    /// `/stats`: one member's numbers.
    pub const STATS: &str = "stats";
    /// `/channel-stats`: one channel's or category's numbers.
    pub const CHANNEL_STATS: &str = "channel-stats";
    /// `/leaderboard`: top members, channels or categories.
    pub const LEADERBOARD: &str = "leaderboard";
    /// `/activity`: a daily chart.
    pub const ACTIVITY: &str = "activity";
    /// `/insights …`: growth and retention.
    pub const INSIGHTS: &str = "insights";
    /// `/insights growth`.
    pub const GROWTH: &str = "growth";
    /// `/insights retention`.
    pub const RETENTION: &str = "retention";
    /// `/export`: a CSV of the counters (admins).
    pub const EXPORT: &str = "export";
    /// `/engagement`: every member's privacy choices.
    pub const ENGAGEMENT: &str = "engagement";
    /// `/engagement-config …`: the server's settings (admins).
    pub const ENGAGEMENT_CONFIG: &str = "engagement-config";
    /// `/engagement-help`: the built-in help.
    pub const HELP: &str = "engagement-help";
    /// `/engagement privacy …` (everyone, about themselves).
    pub const PRIVACY: &str = "privacy";
    /// `/engagement-config time-zone`.
    pub const TIME_ZONE: &str = "time-zone";
    /// `/engagement-config exclude`.
    pub const EXCLUDE: &str = "exclude";
    /// `/engagement-config include`.
    pub const INCLUDE: &str = "include";
    /// `/engagement-config show`.
    pub const SHOW: &str = "show";
    /// `/engagement-config activity-role …`: roles given for activity.
    pub const ACTIVITY_ROLE: &str = "activity-role";
    /// `/engagement-config activity-role add`.
    pub const ADD: &str = "add";
    /// `/engagement-config activity-role remove`.
    pub const REMOVE: &str = "remove";
    /// `/engagement-config activity-role preview`.
    pub const PREVIEW: &str = "preview";
    /// `/engagement-config digest …`: the digest post.
    pub const DIGEST: &str = "digest";
    /// `/engagement-config digest set`.
    pub const SET: &str = "set";
    /// `/engagement-config digest off`.
    pub const OFF: &str = "off";
    /// `/engagement privacy opt-out`.
    pub const OPT_OUT: &str = "opt-out";
    /// `/engagement privacy opt-in`.
    pub const OPT_IN: &str = "opt-in";
    /// `/engagement privacy erase`.
    pub const ERASE: &str = "erase";
}

/// Option names, shared by the definitions and the handlers that read them.
pub mod option {
    /// A member (USER).
    pub const MEMBER: &str = "member";
    /// A named period (STRING with choices).
    pub const PERIOD: &str = "period";
    /// First day, YYYY-MM-DD (STRING).
    pub const FROM: &str = "from";
    /// Last day, YYYY-MM-DD (STRING).
    pub const TO: &str = "to";
    /// A channel or category (CHANNEL).
    pub const CHANNEL: &str = "channel";
    /// What a leaderboard ranks (STRING with choices).
    pub const WHAT: &str = "what";
    /// Which counter (STRING with choices).
    pub const METRIC: &str = "metric";
    /// What `/activity` draws (STRING with choices).
    pub const VIEW: &str = "view";
    /// How many join weeks `/insights retention` shows (INTEGER).
    pub const WEEKS: &str = "weeks";
    /// An IANA time zone name (STRING).
    pub const ZONE: &str = "zone";
    /// A role (ROLE).
    pub const ROLE: &str = "role";
    /// An activity role's message threshold (INTEGER).
    pub const MIN_MESSAGES: &str = "min-messages";
    /// An activity role's number of top members (INTEGER).
    pub const TOP: &str = "top";
    /// An activity role's window in days (INTEGER).
    pub const DAYS: &str = "days";
    /// A digest's frequency (STRING with choices).
    pub const FREQUENCY: &str = "frequency";
    /// A weekly digest's day (STRING with choices).
    pub const WEEKDAY: &str = "weekday";
    /// A digest's local hour (INTEGER).
    pub const HOUR: &str = "hour";
}

/// The values of a digest's `frequency` choices, with their labels.
pub const FREQUENCY_CHOICES: [(&str, &str); 2] =
    [("weekly", "Weekly: the 7 days before"), ("daily", "Daily: the day before")];

/// The values of a digest's `weekday` choices, Monday first, with their labels.
pub const WEEKDAY_CHOICES: [(&str, &str); 7] = [
    ("monday", "Monday"),
    ("tuesday", "Tuesday"),
    ("wednesday", "Wednesday"),
    ("thursday", "Thursday"),
    ("friday", "Friday"),
    ("saturday", "Saturday"),
    ("sunday", "Sunday"),
];

/// The values of the `period` choices, in the order Discord shows them, with their labels.
pub const PERIOD_CHOICES: [(&str, &str); 7] = [
    ("today", "Today"),
    ("yesterday", "Yesterday"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("365d", "Last 365 days"),
    ("all", "All time"),
];

/// The values of the `metric` choices, with their labels.
pub const METRIC_CHOICES: [(&str, &str); 3] = [
    ("messages", "Messages"),
    ("reactions_given", "Reactions given"),
    ("reactions_received", "Reactions received"),
];

/// The values of `/activity`'s `view` choices, with their labels.
pub const VIEW_CHOICES: [(&str, &str); 2] = [
    ("daily", "Daily: messages and active members per day"),
    ("heatmap", "Heatmap: weekday × hour"),
];

/// The values of the leaderboard's `what` choices, with their labels.
pub const WHAT_CHOICES: [(&str, &str); 3] =
    [("members", "Members"), ("channels", "Channels"), ("categories", "Categories")];

/// The most join weeks `/insights retention` shows.
pub const MAX_RETENTION_WEEKS: u8 = 26;
/// How many join weeks `/insights retention` shows when not asked.
pub const DEFAULT_RETENTION_WEEKS: u8 = 8;

/// MANAGE_GUILD (1 << 5): what admin commands require, by default and when re-checked.
pub const MANAGE_GUILD: Permissions = Permissions::MANAGE_GUILD;

/// Description of `/engagement-help`.
pub const HELP_DESCRIPTION: &str = "Show what discord-engagement counts and which commands it has.";

/// A route (command, then its subcommand group and subcommand if any) and what it does: the help text and
/// the registry use these.
pub const ROUTES: [(&str, &str); 23] = [
    (
        "stats",
        "A member's messages, reactions, active days and top channels (default: you, last 7 days).",
    ),
    ("channel-stats", "A channel's or category's messages, active members, top members and trend."),
    ("leaderboard", "Top members, channels or categories by messages or reactions."),
    (
        "activity",
        "A daily chart or an hour-of-week heatmap of the server, a channel or a category.",
    ),
    (
        "insights growth",
        "Active members per day, week and month (DAU/WAU/MAU) and new members, with a chart.",
    ),
    (
        "insights retention",
        "How many of each week's new members are still active in the weeks after.",
    ),
    ("export", "A CSV file of the per-day counters (Manage Server)."),
    ("engagement-config time-zone", "Set the server's time zone for days (Manage Server)."),
    (
        "engagement-config exclude",
        "Stop counting a channel and hide it from reports (Manage Server).",
    ),
    ("engagement-config include", "Count a channel again (Manage Server)."),
    ("engagement-config show", "Show the server's settings (Manage Server)."),
    (
        "engagement-config activity-role add",
        "Give a role to members with N+ messages, or the top N, in the last D days (Manage Server).",
    ),
    (
        "engagement-config activity-role remove",
        "Stop giving a role for activity; members keep it (Manage Server).",
    ),
    (
        "engagement-config activity-role show",
        "The activity roles, whom the bot gave them to, and any problem (Manage Server).",
    ),
    (
        "engagement-config activity-role preview",
        "Who would gain and lose an activity role now, changing nothing (Manage Server).",
    ),
    (
        "engagement-config digest set",
        "Post a daily or weekly digest with a chart in a channel (Manage Server).",
    ),
    ("engagement-config digest off", "Stop posting the digest (Manage Server)."),
    (
        "engagement-config digest show",
        "The digest's channel and time, and the last post (Manage Server).",
    ),
    (
        "engagement-config digest preview",
        "The digest as it would be posted now, shown only to you (Manage Server).",
    ),
    ("engagement privacy opt-out", "Stop being counted and leave the leaderboards."),
    ("engagement privacy opt-in", "Be counted again."),
    ("engagement privacy erase", "Erase everything counted about you in this server."),
    ("engagement-help", HELP_DESCRIPTION),
];

/// The description of a route in [`ROUTES`] (empty when unknown).
#[must_use]
pub fn route_description(route: &str) -> &'static str {
    ROUTES.iter().find(|(r, _)| *r == route).map_or("", |(_, d)| d)
}

/// Channel kinds a report can be about: channels that hold messages, and categories.
const REPORT_CHANNEL_TYPES: [ChannelType; 7] = [
    ChannelType::GuildText,
    ChannelType::GuildVoice,
    ChannelType::GuildCategory,
    ChannelType::GuildAnnouncement,
    ChannelType::GuildStageVoice,
    ChannelType::GuildForum,
    ChannelType::GuildMedia,
];

/// Channel kinds that can be excluded from counting (categories are not counting channels).
const COUNTING_CHANNEL_TYPES: [ChannelType; 6] = [
    ChannelType::GuildText,
    ChannelType::GuildVoice,
    ChannelType::GuildAnnouncement,
    ChannelType::GuildStageVoice,
    ChannelType::GuildForum,
    ChannelType::GuildMedia,
];

fn choices(values: &[(&str, &str)]) -> Vec<CommandOptionChoice> {
    values
        .iter()
        .map(|(value, label)| CommandOptionChoice {
            name: (*label).to_owned(),
            name_localizations: None,
            value: CommandOptionChoiceValue::String((*value).to_owned()),
        })
        .collect()
}

fn option(kind: CommandOptionType, name: &str, description: &str) -> CommandOption {
    CommandOption {
        autocomplete: None,
        channel_types: None,
        choices: None,
        description: description.to_owned(),
        description_localizations: None,
        kind,
        max_length: None,
        max_value: None,
        min_length: None,
        min_value: None,
        name: name.to_owned(),
        name_localizations: None,
        options: None,
        file_types: None,
        required: None,
    }
}

fn string_choice(name: &str, description: &str, values: &[(&str, &str)]) -> CommandOption {
    CommandOption {
        choices: Some(choices(values)),
        ..option(CommandOptionType::String, name, description)
    }
}

fn date(name: &str, description: &str) -> CommandOption {
    CommandOption { max_length: Some(10), ..option(CommandOptionType::String, name, description) }
}

fn channel(name: &str, description: &str, kinds: &[ChannelType]) -> CommandOption {
    CommandOption {
        channel_types: Some(kinds.to_vec()),
        ..option(CommandOptionType::Channel, name, description)
    }
}

fn required(mut option: CommandOption) -> CommandOption {
    option.required = Some(true);
    option
}

fn subcommand(name: &str, description: &str, options: Vec<CommandOption>) -> CommandOption {
    CommandOption {
        options: Some(options),
        ..option(CommandOptionType::SubCommand, name, description)
    }
}

fn group(name: &str, description: &str, subcommands: Vec<CommandOption>) -> CommandOption {
    CommandOption {
        options: Some(subcommands),
        ..option(CommandOptionType::SubCommandGroup, name, description)
    }
}

/// `period`, `from` and `to`: every report takes them.
fn integer_in(name: &str, description: &str, min: i64, max: i64) -> CommandOption {
    CommandOption {
        min_value: Some(CommandOptionValue::Integer(min)),
        max_value: Some(CommandOptionValue::Integer(max)),
        ..option(CommandOptionType::Integer, name, description)
    }
}

/// `/engagement-config activity-role add|remove|show|preview`.
fn activity_role_group() -> CommandOption {
    use engagement_domain::roles::{MAX_MIN_MESSAGES, MAX_RULE_DAYS, MAX_TOP};
    let role = |description| required(option(CommandOptionType::Role, option::ROLE, description));
    let route = |sub: &str| route_description(&format!("engagement-config activity-role {sub}"));
    group(
        name::ACTIVITY_ROLE,
        "Roles the bot gives to active members and takes back (Manage Server)",
        vec![
            subcommand(
                name::ADD,
                route(name::ADD),
                vec![
                    role("The role to give (below the bot's highest role)"),
                    required(integer_in(
                        option::DAYS,
                        "Counted over the last this many days, today included (1–90)",
                        1,
                        MAX_RULE_DAYS.into(),
                    )),
                    integer_in(
                        option::MIN_MESSAGES,
                        "Give it to members with at least this many messages (or use top)",
                        1,
                        MAX_MIN_MESSAGES.into(),
                    ),
                    integer_in(
                        option::TOP,
                        "Give it to this many members with the most messages (or use min-messages)",
                        1,
                        MAX_TOP.into(),
                    ),
                ],
            ),
            subcommand(name::REMOVE, route(name::REMOVE), vec![role("The role to stop giving")]),
            subcommand(name::SHOW, route(name::SHOW), Vec::new()),
            subcommand(name::PREVIEW, route(name::PREVIEW), vec![role("The activity role")]),
        ],
    )
}

/// `/engagement-config digest set|off|show|preview`.
fn digest_group() -> CommandOption {
    let route = |sub: &str| route_description(&format!("engagement-config digest {sub}"));
    group(
        name::DIGEST,
        "A digest posted in a channel every day or week (Manage Server)",
        vec![
            subcommand(
                name::SET,
                route(name::SET),
                vec![
                    required(channel(
                        option::CHANNEL,
                        "Where to post it (the bot needs Send Messages, Embed Links, Attach Files)",
                        &[ChannelType::GuildText, ChannelType::GuildAnnouncement],
                    )),
                    required(string_choice(
                        option::FREQUENCY,
                        "Every day or every week",
                        &FREQUENCY_CHOICES,
                    )),
                    string_choice(
                        option::WEEKDAY,
                        "The day of a weekly digest (default: Monday)",
                        &WEEKDAY_CHOICES,
                    ),
                    integer_in(
                        option::HOUR,
                        "The hour in the server's time zone, 0–23 (default: 9)",
                        0,
                        23,
                    ),
                ],
            ),
            subcommand(name::OFF, route(name::OFF), Vec::new()),
            subcommand(name::SHOW, route(name::SHOW), Vec::new()),
            subcommand(name::PREVIEW, route(name::PREVIEW), Vec::new()),
        ],
    )
}

fn period_options() -> [CommandOption; 3] {
    [
        string_choice(option::PERIOD, "Which days (default: last 7 days)", &PERIOD_CHOICES),
        date(option::FROM, "First day, YYYY-MM-DD (with `to`; overrides `period`)"),
        date(option::TO, "Last day, YYYY-MM-DD (with `from`)"),
    ]
}

#[allow(deprecated)] // `dm_permission` is deprecated in favour of `contexts`; it is left unset.
fn command(name: &str, description: &str, admin: bool, options: Vec<CommandOption>) -> Command {
    Command {
        application_id: None,
        // Guild commands only: the counters are per server.
        contexts: Some(vec![InteractionContextType::Guild]),
        default_member_permissions: admin.then_some(MANAGE_GUILD),
        description: description.to_owned(),
        description_localizations: None,
        dm_permission: None,
        guild_id: None,
        id: None,
        integration_types: None,
        kind: CommandType::ChatInput,
        name: name.to_owned(),
        name_localizations: None,
        nsfw: None,
        options,
        // Read-only on Discord's side (ignored when registering); the model requires a value.
        version: Id::new(1),
    }
}

/// Every command of the bot, as sent to Discord by a bulk overwrite.
///
/// The admin commands, `/export` and `/engagement-config`, carry `default_member_permissions` MANAGE_GUILD,
/// so Discord shows them to server managers only; they are top-level commands of their own because Discord
/// sets permissions per top-level command, and `/engagement privacy` must stay open to every member. Every
/// admin command is re-checked at run time from the interaction's member permissions anyway.
#[must_use]
pub fn definitions() -> Vec<Command> {
    let [period, from, to] = period_options();
    let report_channel =
        |description: &str| channel(option::CHANNEL, description, &REPORT_CHANNEL_TYPES);
    vec![
        command(
            name::STATS,
            route_description("stats"),
            false,
            vec![
                option(CommandOptionType::User, option::MEMBER, "Whose numbers (default: yours)"),
                period.clone(),
                from.clone(),
                to.clone(),
            ],
        ),
        command(
            name::CHANNEL_STATS,
            route_description("channel-stats"),
            false,
            vec![
                report_channel("A channel or a category (default: this channel)"),
                period.clone(),
                from.clone(),
                to.clone(),
            ],
        ),
        command(
            name::LEADERBOARD,
            route_description("leaderboard"),
            false,
            vec![
                string_choice(option::WHAT, "What to rank (default: members)", &WHAT_CHOICES),
                string_choice(option::METRIC, "Ranked by (default: messages)", &METRIC_CHOICES),
                period.clone(),
                from.clone(),
                to.clone(),
                report_channel("Only in this channel or category"),
            ],
        ),
        command(
            name::ACTIVITY,
            route_description("activity"),
            false,
            vec![
                string_choice(option::VIEW, "What to draw (default: daily)", &VIEW_CHOICES),
                period.clone(),
                from.clone(),
                to.clone(),
                report_channel("Only this channel or category (default: the whole server)"),
            ],
        ),
        command(
            name::INSIGHTS,
            "Who is active, who is new, who stays.",
            false,
            vec![
                subcommand(
                    name::GROWTH,
                    route_description("insights growth"),
                    vec![
                        period.clone(),
                        from.clone(),
                        to.clone(),
                        report_channel("Only this channel or category (default: the whole server)"),
                    ],
                ),
                subcommand(
                    name::RETENTION,
                    route_description("insights retention"),
                    vec![CommandOption {
                        min_value: Some(CommandOptionValue::Integer(1)),
                        max_value: Some(CommandOptionValue::Integer(MAX_RETENTION_WEEKS.into())),
                        ..option(
                            CommandOptionType::Integer,
                            option::WEEKS,
                            "How many join weeks to show (default: 8)",
                        )
                    }],
                ),
            ],
        ),
        command(name::EXPORT, route_description("export"), true, vec![period, from, to]),
        command(
            name::ENGAGEMENT_CONFIG,
            "Server settings: time zone, excluded channels, activity roles, digest (Manage Server).",
            true,
            vec![
                subcommand(
                    name::TIME_ZONE,
                    route_description("engagement-config time-zone"),
                    vec![required(CommandOption {
                        max_length: Some(64),
                        ..option(
                            CommandOptionType::String,
                            option::ZONE,
                            "An IANA time zone, e.g. Europe/Paris, America/New_York or UTC",
                        )
                    })],
                ),
                subcommand(
                    name::EXCLUDE,
                    route_description("engagement-config exclude"),
                    vec![required(channel(
                        option::CHANNEL,
                        "The channel to stop counting",
                        &COUNTING_CHANNEL_TYPES,
                    ))],
                ),
                subcommand(
                    name::INCLUDE,
                    route_description("engagement-config include"),
                    vec![required(channel(
                        option::CHANNEL,
                        "The channel to count again",
                        &COUNTING_CHANNEL_TYPES,
                    ))],
                ),
                subcommand(name::SHOW, route_description("engagement-config show"), Vec::new()),
                activity_role_group(),
                digest_group(),
            ],
        ),
        command(
            name::ENGAGEMENT,
            "Your privacy choices in this server.",
            false,
            vec![group(
                name::PRIVACY,
                "Your privacy choices in this server",
                vec![
                    subcommand(
                        name::OPT_OUT,
                        route_description("engagement privacy opt-out"),
                        Vec::new(),
                    ),
                    subcommand(
                        name::OPT_IN,
                        route_description("engagement privacy opt-in"),
                        Vec::new(),
                    ),
                    subcommand(
                        name::ERASE,
                        route_description("engagement privacy erase"),
                        Vec::new(),
                    ),
                ],
            )],
        ),
        command(name::HELP, HELP_DESCRIPTION, false, Vec::new()),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn all_options(options: &[CommandOption], out: &mut Vec<CommandOption>) {
        for o in options {
            out.push(o.clone());
            all_options(o.options.as_deref().unwrap_or_default(), out);
        }
    }

    #[test]
    fn definitions_respect_discords_limits() {
        let commands = definitions();
        let names: BTreeSet<&str> = commands.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names.len(), commands.len(), "duplicate command names");
        for c in &commands {
            assert!((1..=32).contains(&c.name.len()), "{}", c.name);
            assert!(c.name.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-'), "{}", c.name);
            assert!((1..=100).contains(&c.description.chars().count()), "{}", c.name);
            assert!(c.options.len() <= 25, "{}", c.name);
            let mut options = Vec::new();
            all_options(&c.options, &mut options);
            for o in &options {
                assert!((1..=32).contains(&o.name.len()), "{}", o.name);
                assert!((1..=100).contains(&o.description.chars().count()), "{}", o.name);
                assert!(o.choices.as_ref().is_none_or(|c| c.len() <= 25));
            }
        }
    }

    /// Every route Discord can send for `c`: the command itself, `command sub` or `command group sub`.
    fn routes_of(c: &Command) -> Vec<String> {
        let mut routes = Vec::new();
        for o in &c.options {
            match o.kind {
                CommandOptionType::SubCommand => routes.push(format!("{} {}", c.name, o.name)),
                CommandOptionType::SubCommandGroup => {
                    for s in o.options.as_deref().unwrap_or_default() {
                        assert_eq!(s.kind, CommandOptionType::SubCommand, "{} {}", c.name, o.name);
                        routes.push(format!("{} {} {}", c.name, o.name, s.name));
                    }
                }
                _ => {}
            }
        }
        if routes.is_empty() {
            routes.push(c.name.clone());
        }
        routes
    }

    #[test]
    fn every_route_belongs_to_a_defined_command_and_vice_versa() {
        let defined: BTreeSet<String> = definitions().iter().flat_map(routes_of).collect();
        let routes: BTreeSet<String> = ROUTES.iter().map(|(r, _)| (*r).to_owned()).collect();
        assert_eq!(defined, routes);
    }

    #[test]
    fn admin_commands_carry_manage_guild_and_everything_is_guild_only()
    -> Result<(), serde_json::Error> {
        let admin = [name::EXPORT, name::ENGAGEMENT_CONFIG];
        for c in definitions() {
            let json = serde_json::to_value(&c)?;
            let expected = if admin.contains(&c.name.as_str()) {
                serde_json::json!("32")
            } else {
                serde_json::Value::Null
            };
            assert_eq!(json["default_member_permissions"], expected, "{}", c.name);
            assert_eq!(json["contexts"], serde_json::json!([0]), "{}", c.name);
            assert_eq!(json["type"], serde_json::json!(1));
            // The help text marks admin routes "(Manage Server)": exactly the routes of admin commands.
            for route in routes_of(&c) {
                assert_eq!(
                    route_description(&route).ends_with("(Manage Server)."),
                    admin.contains(&c.name.as_str()),
                    "{route}"
                );
            }
        }
        Ok(())
    }
}
