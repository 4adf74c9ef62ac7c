//! Configuration of a [`FakeDiscord`](crate::FakeDiscord): world, rate limits, faults.

use std::{collections::BTreeMap, fmt, str::FromStr, time::Duration};

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Everything a fake needs to start.
#[derive(Clone, Debug)]
pub struct FakeConfig {
    /// Seed of the synthetic world: the same seed, size and `now` give the same world, ids included.
    pub seed: u64,
    /// How big the world is.
    pub size: WorldSize,
    /// The world's "now": generated messages lie before it; messages added later are stamped with
    /// `now + time since start`.
    pub now: DateTime<Utc>,
    /// The bot token the fake accepts (`Authorization: Bot <token>`).
    pub token: String,
    /// Address to listen on; port 0 picks a free port.
    pub bind: std::net::SocketAddr,
    /// Rate limits enforced.
    pub limits: RateLimits,
    /// Injected latency and failures.
    pub faults: Faults,
    /// The application's OAuth2 client secret (its client id is the application id); the token endpoint
    /// takes it by HTTP Basic or as the `client_secret` form field.
    pub client_secret: String,
    /// OAuth2 redirect URIs registered for the application: `redirect_uri` must be one of them exactly.
    /// Empty (the default) accepts any `http` or `https` URI.
    pub redirect_uris: Vec<String>,
}

/// The client secret a fake has unless configured otherwise (a development value, not a secret).
pub const DEFAULT_CLIENT_SECRET: &str = "fake-client-secret";

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            size: WorldSize::Small,
            now: default_now(),
            token: "fake-bot-token".to_owned(),
            bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            limits: RateLimits::fast(),
            faults: Faults::default(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            redirect_uris: Vec::new(),
        }
    }
}

/// 2026-11-15T12:00:00Z, the default "now" (fixed, so worlds are reproducible).
#[must_use]
pub fn default_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 15, 12, 0, 0).single().unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Preset or custom world sizes.
#[derive(Clone, Debug, PartialEq)]
pub enum WorldSize {
    /// One guild, a handful of channels, ~300 messages: unit and integration tests.
    Small,
    /// Two guilds, ~10k messages, reaction lists longer than one page.
    Medium,
    /// One big guild (60 text channels, 6 forums, ~600 threads, ~55k messages): benchmarks.
    Large,
    /// Explicit knobs.
    Custom(WorldKnobs),
}

impl WorldSize {
    /// The knobs of this size.
    #[must_use]
    pub fn knobs(&self) -> WorldKnobs {
        match self {
            Self::Small => WorldKnobs {
                guilds: 1,
                members_per_guild: 12,
                bots_per_guild: 2,
                categories_per_guild: 2,
                text_channels_per_guild: 4,
                forum_channels_per_guild: 1,
                voice_channels_per_guild: 1,
                unreadable_channels_per_guild: 1,
                days: 14,
                messages_per_channel: 60,
                threads_per_channel: 2,
                messages_per_thread: 8,
                posts_per_forum: 3,
                reaction_share: 0.3,
                popular_messages_per_guild: 0,
            },
            Self::Medium => WorldKnobs {
                guilds: 2,
                members_per_guild: 150,
                bots_per_guild: 4,
                categories_per_guild: 3,
                text_channels_per_guild: 8,
                forum_channels_per_guild: 2,
                voice_channels_per_guild: 1,
                unreadable_channels_per_guild: 1,
                days: 60,
                messages_per_channel: 400,
                threads_per_channel: 4,
                messages_per_thread: 25,
                posts_per_forum: 10,
                reaction_share: 0.35,
                popular_messages_per_guild: 2,
            },
            Self::Large => WorldKnobs {
                guilds: 1,
                members_per_guild: 400,
                bots_per_guild: 6,
                categories_per_guild: 6,
                text_channels_per_guild: 60,
                forum_channels_per_guild: 6,
                voice_channels_per_guild: 2,
                unreadable_channels_per_guild: 2,
                days: 120,
                messages_per_channel: 600,
                threads_per_channel: 8,
                messages_per_thread: 30,
                posts_per_forum: 25,
                reaction_share: 0.3,
                popular_messages_per_guild: 5,
            },
            Self::Custom(knobs) => knobs.clone(),
        }
    }
}

impl FromStr for WorldSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "small" => Ok(Self::Small),
            "medium" => Ok(Self::Medium),
            "large" => Ok(Self::Large),
            other => Err(format!("unknown world size {other:?} (small, medium, large)")),
        }
    }
}

/// The numbers a synthetic world is generated from. Counts are per guild; message counts are averages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorldKnobs {
    /// Guilds the bot is in.
    pub guilds: u32,
    /// Human members per guild.
    pub members_per_guild: u32,
    /// Other bots per guild (the fake's own bot is always a member).
    pub bots_per_guild: u32,
    /// Categories per guild.
    pub categories_per_guild: u32,
    /// Text channels per guild (every fifth is an announcement channel; the third stays empty).
    pub text_channels_per_guild: u32,
    /// Forum channels per guild.
    pub forum_channels_per_guild: u32,
    /// Voice channels per guild (no messages).
    pub voice_channels_per_guild: u32,
    /// Text channels with messages that the bot cannot read (403).
    pub unreadable_channels_per_guild: u32,
    /// Days of history before `now`.
    pub days: u32,
    /// Average messages per text channel.
    pub messages_per_channel: u32,
    /// Threads per text channel (about half archived).
    pub threads_per_channel: u32,
    /// Average messages per thread or forum post.
    pub messages_per_thread: u32,
    /// Posts (threads) per forum channel.
    pub posts_per_forum: u32,
    /// Share of messages with reactions (0..=1).
    pub reaction_share: f64,
    /// Messages per guild with more than 100 reactors on one emoji (needs more than 100 members).
    pub popular_messages_per_guild: u32,
}

impl WorldKnobs {
    /// `guilds` tiny guilds (5 members, one category with 2 text channels, a few messages of the last
    /// day, no threads): a bot in many small servers.
    #[must_use]
    pub const fn many_small_guilds(guilds: u32) -> Self {
        Self {
            guilds,
            members_per_guild: 5,
            bots_per_guild: 0,
            categories_per_guild: 1,
            text_channels_per_guild: 2,
            forum_channels_per_guild: 0,
            voice_channels_per_guild: 0,
            unreadable_channels_per_guild: 0,
            days: 1,
            messages_per_channel: 3,
            threads_per_channel: 0,
            messages_per_thread: 0,
            posts_per_forum: 0,
            reaction_share: 0.1,
            popular_messages_per_guild: 0,
        }
    }
}

/// One limit: `limit` requests per `period`, counted from the first request after a reset (like Discord).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// Requests per window.
    pub limit: u32,
    /// Window length.
    pub period: Duration,
}

impl Limit {
    /// `limit` per `period_ms` milliseconds.
    #[must_use]
    pub const fn per_ms(limit: u32, period_ms: u64) -> Self {
        Self { limit, period: Duration::from_millis(period_ms) }
    }
}

/// The routes the fake serves, grouped as Discord buckets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteClass {
    /// `GET /users/@me/guilds`.
    CurrentUserGuilds,
    /// `GET /guilds/{id}/channels`.
    GuildChannels,
    /// `GET /guilds/{id}/threads/active`.
    ActiveThreads,
    /// `GET /guilds/{id}/roles`.
    GuildRoles,
    /// `GET /channels/{id}/threads/archived/public`.
    ArchivedThreads,
    /// `GET /channels/{id}/messages`.
    Messages,
    /// `GET /channels/{c}/messages/{m}/reactions/{emoji}`.
    ReactionUsers,
    /// `PATCH /webhooks/{app}/{token}/messages/@original` and `POST /webhooks/{app}/{token}` (one bucket).
    Webhook,
    /// `PUT /applications/{app}/commands` and `PUT /applications/{app}/guilds/{guild}/commands`.
    Commands,
    /// `GET /users/@me`.
    CurrentUser,
    /// `GET /guilds/{guild}/members/{user}` (per guild).
    GuildMember,
    /// `PUT` and `DELETE /guilds/{guild}/members/{user}/roles/{role}` (per guild: every role change of a
    /// guild counts together).
    MemberRoles,
    /// `POST /channels/{channel}/messages` (per channel).
    CreateMessage,
    /// `GET /oauth2/authorize`, the browser's page outside `/api/v10`: logged and counted, never limited.
    #[serde(rename = "oauth2_authorize")]
    OAuth2Authorize,
    /// `POST /oauth2/token` (one bucket; not part of the bot's global limit).
    #[serde(rename = "oauth2_token")]
    OAuth2Token,
}

impl RouteClass {
    /// All classes.
    pub const ALL: [Self; 15] = [
        Self::CurrentUserGuilds,
        Self::GuildChannels,
        Self::ActiveThreads,
        Self::GuildRoles,
        Self::ArchivedThreads,
        Self::Messages,
        Self::ReactionUsers,
        Self::Webhook,
        Self::Commands,
        Self::CurrentUser,
        Self::GuildMember,
        Self::MemberRoles,
        Self::CreateMessage,
        Self::OAuth2Authorize,
        Self::OAuth2Token,
    ];

    /// The `X-RateLimit-Bucket` hash the fake sends for this class.
    #[must_use]
    pub const fn bucket_hash(self) -> &'static str {
        match self {
            Self::CurrentUserGuilds => "f1c2a7e5b0d94c31",
            Self::GuildChannels => "9b3e51d07aa24f68",
            Self::ActiveThreads => "4d8f02c6e19b7a53",
            Self::GuildRoles => "6f0d3b8e2a51c947",
            Self::ArchivedThreads => "c07a95e3d42b1f86",
            Self::Messages => "80c17d2f91a3e4b5",
            Self::ReactionUsers => "e5b9a3c1f07d2864",
            Self::Webhook => "3a61f8d29c0b4e7d",
            Self::Commands => "b24e6c90d13f85a7",
            Self::CurrentUser => "1e7b4c92a05d3f68",
            Self::GuildMember => "a93d6e0f24c1b857",
            Self::MemberRoles => "5c28f1a7e9d04b36",
            Self::CreateMessage => "d7e3a1c58b2f9064",
            Self::OAuth2Authorize => "0b6d2e94f1a7c583",
            Self::OAuth2Token => "72c9e05a3d8b14f6",
        }
    }

    /// Whether the class counts against the bot's global limit (interaction webhooks and OAuth2, which
    /// carry no bot token, do not).
    #[must_use]
    pub const fn counts_globally(self) -> bool {
        !matches!(self, Self::Webhook | Self::OAuth2Authorize | Self::OAuth2Token)
    }
}

impl fmt::Display for RouteClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CurrentUserGuilds => "current_user_guilds",
            Self::GuildChannels => "guild_channels",
            Self::ActiveThreads => "active_threads",
            Self::GuildRoles => "guild_roles",
            Self::ArchivedThreads => "archived_threads",
            Self::Messages => "messages",
            Self::ReactionUsers => "reaction_users",
            Self::Webhook => "webhook",
            Self::Commands => "commands",
            Self::CurrentUser => "current_user",
            Self::GuildMember => "guild_member",
            Self::MemberRoles => "member_roles",
            Self::CreateMessage => "create_message",
            Self::OAuth2Authorize => "oauth2_authorize",
            Self::OAuth2Token => "oauth2_token",
        })
    }
}

/// Rate limits the fake enforces: a global limit per token and one bucket per route class and major
/// parameter (channel, guild, webhook token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Global limit; `None` disables it.
    pub global: Option<Limit>,
    /// Per route class; a missing class is unlimited (and sends no bucket headers).
    pub routes: BTreeMap<RouteClass, Limit>,
}

impl RateLimits {
    /// Discord-like numbers: 50/s global, messages 5 per 5 s per channel (listing them, and posting them
    /// apart), and similar per route; role changes 10 per 10 s per guild.
    #[must_use]
    pub fn realistic() -> Self {
        use RouteClass as R;
        Self {
            global: Some(Limit::per_ms(50, 1_000)),
            routes: BTreeMap::from([
                (R::CurrentUserGuilds, Limit::per_ms(1, 1_000)),
                (R::GuildChannels, Limit::per_ms(5, 5_000)),
                (R::ActiveThreads, Limit::per_ms(5, 5_000)),
                (R::GuildRoles, Limit::per_ms(5, 5_000)),
                (R::ArchivedThreads, Limit::per_ms(5, 5_000)),
                (R::Messages, Limit::per_ms(5, 5_000)),
                (R::ReactionUsers, Limit::per_ms(5, 5_000)),
                (R::Webhook, Limit::per_ms(5, 2_000)),
                (R::Commands, Limit::per_ms(5, 20_000)),
                (R::CurrentUser, Limit::per_ms(5, 5_000)),
                (R::GuildMember, Limit::per_ms(5, 5_000)),
                (R::MemberRoles, Limit::per_ms(10, 10_000)),
                (R::CreateMessage, Limit::per_ms(5, 5_000)),
                (R::OAuth2Token, Limit::per_ms(5, 5_000)),
            ]),
        }
    }

    /// Same shape with short windows, for tests: 10 per 250 ms per route, 50/s global.
    #[must_use]
    pub fn fast() -> Self {
        Self {
            global: Some(Limit::per_ms(50, 1_000)),
            routes: RouteClass::ALL
                .into_iter()
                .filter(|class| *class != RouteClass::OAuth2Authorize)
                .map(|class| (class, Limit::per_ms(10, 250)))
                .collect(),
        }
    }

    /// No limits at all.
    #[must_use]
    pub fn unlimited() -> Self {
        Self { global: None, routes: BTreeMap::new() }
    }
}

impl FromStr for RateLimits {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "realistic" => Ok(Self::realistic()),
            "fast" => Ok(Self::fast()),
            "off" | "unlimited" | "none" => Ok(Self::unlimited()),
            other => Err(format!("unknown limits preset {other:?} (realistic, fast, off)")),
        }
    }
}

/// Random latency and failures, applied to every API request (not to `/_fake`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// Fixed added latency.
    pub latency: Duration,
    /// Up to this much more latency, uniformly at random.
    pub latency_jitter: Duration,
    /// Share of requests (0..=1) answered 500/502/503 after counting against the limits.
    pub server_error_rate: f64,
    /// Share of requests (0..=1) answered 429 with scope `shared`.
    pub shared_rate_limit_rate: f64,
    /// `retry_after` of those shared 429s.
    pub shared_retry_after: Duration,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn route_classes_serialize_as_they_display() {
        for class in RouteClass::ALL {
            assert_eq!(serde_json::to_value(class).unwrap(), class.to_string());
        }
    }
}
