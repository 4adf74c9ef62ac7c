//! The shapes of Discord's answers that the product reads.
//!
//! Guilds ([`CurrentUserGuild`]) and commands ([`Command`]) are twilight-model types: they are small and
//! stable. Messages and channels are this crate's own small structs with only the fields counting needs:
//! twilight's `Message` requires some 15 fields and deserializes nested embeds, components, polls and
//! snapshots, so one new or changed nested field would fail a whole page of 100 messages and stop a sync.
//! The enums that do change over time ([`MessageType`], [`ChannelType`]) are twilight's, which map unknown
//! values to `Unknown(n)` instead of failing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use twilight_model::id::{
    Id,
    marker::{
        AttachmentMarker, ChannelMarker, EmojiMarker, GuildMarker, MessageMarker, UserMarker,
        WebhookMarker,
    },
};

pub use twilight_model::{
    application::command::Command, channel::ChannelType, channel::message::MessageType,
    user::CurrentUserGuild,
};

/// A message, with the fields counting needs.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Message {
    /// Snowflake; encodes the creation time.
    pub id: Id<MessageMarker>,
    /// The channel or thread.
    pub channel_id: Id<ChannelMarker>,
    /// The author. For a webhook message this is the webhook, not a user.
    pub author: MessageAuthor,
    /// Set on messages sent by a webhook.
    #[serde(default)]
    pub webhook_id: Option<Id<WebhookMarker>>,
    /// `DEFAULT` 0, `USER_JOIN` 7, `THREAD_CREATED` 18, `REPLY` 19, `THREAD_STARTER_MESSAGE` 21, …
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// When the message was sent.
    pub timestamp: DateTime<Utc>,
    /// Reactions, one per emoji.
    #[serde(default)]
    pub reactions: Vec<Reaction>,
}

impl Message {
    /// The message id as a plain snowflake.
    #[must_use]
    pub const fn snowflake(&self) -> u64 {
        self.id.get()
    }
}

/// The author of a message.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct MessageAuthor {
    /// User id (or webhook id for webhook messages).
    pub id: Id<UserMarker>,
    /// Whether the author is a bot account. Absent means `false`; webhook authors usually lack it.
    #[serde(default)]
    pub bot: bool,
    /// Username, for display only.
    #[serde(default)]
    pub username: Option<String>,
}

/// One emoji's reactions on a message.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Reaction {
    /// Total reactions with this emoji, normal and burst.
    pub count: u32,
    /// The split into normal and burst ("super") reactions.
    #[serde(default)]
    pub count_details: Option<ReactionCountDetails>,
    /// The emoji.
    pub emoji: ReactionEmoji,
}

/// Normal and burst reaction counts.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct ReactionCountDetails {
    /// Normal reactions.
    #[serde(default)]
    pub normal: u32,
    /// Burst (super) reactions.
    #[serde(default)]
    pub burst: u32,
}

/// The emoji of a reaction: unicode (`name` only) or custom (`id` and `name`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReactionEmoji {
    /// Custom emoji id; `None` for unicode emoji.
    #[serde(default)]
    pub id: Option<Id<EmojiMarker>>,
    /// The unicode emoji itself, or the custom emoji's name (may be missing for deleted custom emoji).
    #[serde(default)]
    pub name: Option<String>,
}

impl ReactionEmoji {
    /// A unicode emoji.
    #[must_use]
    pub fn unicode(emoji: impl Into<String>) -> Self {
        Self { id: None, name: Some(emoji.into()) }
    }

    /// A custom emoji.
    #[must_use]
    pub fn custom(name: impl Into<String>, id: Id<EmojiMarker>) -> Self {
        Self { id: Some(id), name: Some(name.into()) }
    }

    /// How the emoji is written in a reactions URL before percent-encoding: `name:id` for custom emoji, the
    /// emoji itself for unicode. `None` for an emoji with neither id nor name.
    #[must_use]
    pub fn request_form(&self) -> Option<String> {
        match (self.id, &self.name) {
            (Some(id), name) => Some(format!("{}:{id}", name.as_deref().unwrap_or("_"))),
            (None, Some(name)) if !name.is_empty() => Some(name.clone()),
            (None, _) => None,
        }
    }
}

/// Which reactions to list: normal or burst (super) reactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReactionKind {
    /// `type=0`.
    Normal,
    /// `type=1`.
    Burst,
}

impl ReactionKind {
    /// The `type` query value.
    #[must_use]
    pub const fn query_value(self) -> u8 {
        match self {
            Self::Normal => 0,
            Self::Burst => 1,
        }
    }
}

/// A user who reacted.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ReactionUser {
    /// User id.
    pub id: Id<UserMarker>,
    /// Whether the user is a bot.
    #[serde(default)]
    pub bot: bool,
    /// Username, for display only.
    #[serde(default)]
    pub username: Option<String>,
}

/// A guild channel or a thread, with the fields syncing needs.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Channel {
    /// Channel id.
    pub id: Id<ChannelMarker>,
    /// Text 0, voice 2, category 4, announcement 5, announcement thread 10, public thread 11, private
    /// thread 12, forum 15, …
    #[serde(rename = "type")]
    pub kind: ChannelType,
    /// The guild (may be missing on some thread payloads).
    #[serde(default)]
    pub guild_id: Option<Id<GuildMarker>>,
    /// For a channel its category; for a thread the channel it belongs to (text, announcement or forum).
    #[serde(default)]
    pub parent_id: Option<Id<ChannelMarker>>,
    /// Id of the last message (for a forum channel: of the last post). Compare it with a stored cursor to
    /// skip idle channels; it may point at a deleted message.
    #[serde(default)]
    pub last_message_id: Option<Id<MessageMarker>>,
    /// Channel name.
    #[serde(default)]
    pub name: Option<String>,
    /// Sorting position.
    #[serde(default)]
    pub position: Option<i32>,
    /// Thread state; present on threads only.
    #[serde(default)]
    pub thread_metadata: Option<ThreadMetadata>,
    /// Who may or may not view it, on top of the guild's roles (absent on threads: they follow their
    /// channel).
    #[serde(default)]
    pub permission_overwrites: Vec<PermissionOverwrite>,
}

/// A channel's permission overwrite for one role or member.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct PermissionOverwrite {
    /// The role or member.
    #[serde(with = "snowflake_string")]
    pub id: u64,
    /// 0: a role (the `@everyone` role's id is the guild's), 1: a member.
    #[serde(rename = "type")]
    pub kind: u8,
    /// Permission bits allowed.
    #[serde(with = "snowflake_string")]
    pub allow: u64,
    /// Permission bits denied.
    #[serde(with = "snowflake_string")]
    pub deny: u64,
}

/// A guild role, with what visibility and role changes need.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Role {
    /// Role id (the `@everyone` role's is the guild's).
    #[serde(with = "snowflake_string")]
    pub id: u64,
    /// The role's permission bits.
    #[serde(with = "snowflake_string")]
    pub permissions: u64,
    /// Position in the role list (`@everyone` is 0). The bot can give and take only roles below its highest.
    #[serde(default)]
    pub position: i64,
    /// The role's name, for display (`@everyone` for the guild's base role).
    #[serde(default)]
    pub name: String,
    /// Whether an integration owns the role (a bot's own role, the booster role, a linked service's role):
    /// nobody can give or take it, so it is never a candidate for activity roles.
    #[serde(default)]
    pub managed: bool,
}

/// A guild member: who they are and which roles they hold (`GET /guilds/{guild}/members/{user}`).
///
/// The ids and the name to show are kept; Discord's avatar, join time and flags are not read, so a
/// change in them never fails the call.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(from = "RawGuildMember", into = "RawGuildMember")]
pub struct GuildMember {
    /// The member's user id (Discord's `user.id`).
    pub user_id: u64,
    /// The member's roles, `@everyone` not included (Discord's `roles`).
    pub roles: Vec<u64>,
    /// The name the server shows: their nickname here, else their display name, else their username
    /// (`None` when Discord sent none of them).
    pub name: Option<String>,
}

impl GuildMember {
    /// Whether the member holds `role`.
    #[must_use]
    pub fn has_role(&self, role: u64) -> bool {
        self.roles.contains(&role)
    }
}

/// The member as Discord shapes it: the user nested, role ids as strings.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct RawGuildMember {
    user: RawMemberUser,
    #[serde(default, with = "snowflake_strings")]
    roles: Vec<u64>,
    #[serde(default)]
    nick: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct RawMemberUser {
    #[serde(with = "snowflake_string")]
    id: u64,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    global_name: Option<String>,
}

impl From<RawGuildMember> for GuildMember {
    fn from(raw: RawGuildMember) -> Self {
        let name = [raw.nick, raw.user.global_name, raw.user.username]
            .into_iter()
            .flatten()
            .find(|n| !n.trim().is_empty());
        Self { user_id: raw.user.id, roles: raw.roles, name }
    }
}

impl From<GuildMember> for RawGuildMember {
    fn from(member: GuildMember) -> Self {
        Self {
            user: RawMemberUser { id: member.user_id, username: None, global_name: None },
            roles: member.roles,
            nick: member.name,
        }
    }
}

/// The bot's own user (`GET /users/@me`): its id is what member and role calls about the bot need.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct CurrentUser {
    /// The bot's user id.
    #[serde(with = "snowflake_string")]
    pub id: u64,
    /// Username, for display only.
    #[serde(default)]
    pub username: String,
    /// Whether the account is a bot (it is, for a bot token).
    #[serde(default)]
    pub bot: bool,
}

/// Discord sends ids and permission bit sets as decimal strings (they exceed JavaScript's integers);
/// a number is accepted too.
pub(crate) mod snowflake_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u64),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(n),
            Raw::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A list of snowflakes, each a decimal string (or a number), as in a member's `roles`.
mod snowflake_strings {
    use serde::{Deserialize, Deserializer, Serializer, ser::SerializeSeq};

    #[derive(Deserialize)]
    struct Snowflake(#[serde(with = "super::snowflake_string")] u64);

    pub(super) fn serialize<S: Serializer>(
        values: &[u64],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(values.len()))?;
        for value in values {
            seq.serialize_element(&value.to_string())?;
        }
        seq.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u64>, D::Error> {
        let raw = Vec::<Snowflake>::deserialize(deserializer)?;
        Ok(raw.into_iter().map(|s| s.0).collect())
    }
}

impl Channel {
    /// Whether this is a thread (including a forum post).
    #[must_use]
    pub const fn is_thread(&self) -> bool {
        self.kind.is_thread()
    }

    /// Whether messages can be listed in it: text, announcement, voice (text-in-voice) and threads.
    #[must_use]
    pub const fn has_messages(&self) -> bool {
        matches!(
            self.kind,
            ChannelType::GuildText
                | ChannelType::GuildAnnouncement
                | ChannelType::GuildVoice
                | ChannelType::GuildStageVoice
        ) || self.kind.is_thread()
    }

    /// Whether it can hold public threads listed by the archived-threads endpoint.
    #[must_use]
    pub const fn has_threads(&self) -> bool {
        matches!(
            self.kind,
            ChannelType::GuildText
                | ChannelType::GuildAnnouncement
                | ChannelType::GuildForum
                | ChannelType::GuildMedia
        )
    }
}

/// Thread state.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ThreadMetadata {
    /// Whether the thread is archived.
    pub archived: bool,
    /// When the archive status last changed (creation time for a never-archived thread).
    pub archive_timestamp: DateTime<Utc>,
    /// Minutes of inactivity before auto-archive.
    #[serde(default)]
    pub auto_archive_duration: Option<u32>,
    /// Whether the thread is locked.
    #[serde(default)]
    pub locked: Option<bool>,
}

/// `GET /guilds/{id}/threads/active`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub(crate) struct ActiveThreads {
    pub(crate) threads: Vec<Channel>,
}

/// One page of `GET /channels/{id}/threads/archived/public`, newest archive first.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ArchivedThreads {
    /// The threads.
    pub threads: Vec<Channel>,
    /// Whether older archived threads remain.
    #[serde(default)]
    pub has_more: bool,
}

/// A file to attach to an interaction response or follow-up.
#[derive(Clone, PartialEq, Eq)]
pub struct AttachmentFile {
    /// File name shown in Discord (e.g. `chart.png`).
    pub filename: String,
    /// MIME type (e.g. `image/png`, `text/csv`).
    pub content_type: String,
    /// The bytes.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for AttachmentFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentFile")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.data.len())
            .finish()
    }
}

/// A message created or edited through an interaction webhook, or posted by the bot in a channel
/// ([`DiscordClient::create_message`](crate::DiscordClient::create_message)).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct SentMessage {
    /// Message id.
    pub id: Id<MessageMarker>,
    /// Channel id.
    pub channel_id: Id<ChannelMarker>,
    /// Attachments as Discord stored them.
    #[serde(default)]
    pub attachments: Vec<SentAttachment>,
}

/// An attachment of a [`SentMessage`].
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct SentAttachment {
    /// Attachment id.
    pub id: Id<AttachmentMarker>,
    /// File name.
    pub filename: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// MIME type.
    #[serde(default)]
    pub content_type: Option<String>,
}

/// Discord's JSON error body.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct ApiErrorBody {
    #[serde(default)]
    pub(crate) code: Option<u64>,
    #[serde(default)]
    pub(crate) message: Option<String>,
    /// On 429s.
    #[serde(default)]
    pub(crate) retry_after: Option<f64>,
    /// On 429s.
    #[serde(default)]
    pub(crate) global: Option<bool>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_message_with_unknown_fields_and_types_still_parses() {
        let json = r#"{
            "id": "1100000000000000001", "channel_id": "42", "type": 99,
            "author": {"id": "7", "username": "someone", "discriminator": "0", "avatar": null},
            "timestamp": "2026-11-01T10:00:00.123000+00:00",
            "some_future_field": {"nested": [1, 2]},
            "components": [{"type": 1234}],
            "reactions": [{"count": 3, "count_details": {"normal": 2, "burst": 1}, "me": false,
                           "emoji": {"id": null, "name": "👍"}, "burst_colors": []}]
        }"#;
        let message: Message = serde_json::from_str(json).unwrap();
        assert_eq!(message.kind, MessageType::Unknown(99));
        assert!(!message.author.bot);
        assert_eq!(message.reactions[0].count_details.unwrap().burst, 1);
        assert_eq!(message.reactions[0].emoji.request_form().as_deref(), Some("👍"));
    }

    #[test]
    fn members_and_roles_parse_leniently() {
        let member: GuildMember = serde_json::from_str(
            r#"{"user": {"id": "7", "username": "someone", "global_name": null},
                "roles": ["41", 42], "joined_at": "2025-01-01T00:00:00+00:00", "nick": null,
                "some_future_field": true}"#,
        )
        .unwrap();
        assert_eq!(
            member,
            GuildMember { user_id: 7, roles: vec![41, 42], name: Some("someone".into()) }
        );
        let nicked: GuildMember = serde_json::from_str(
            r#"{"user": {"id": "7", "username": "someone", "global_name": "Some One"}, "nick": "Nick"}"#,
        )
        .unwrap();
        assert_eq!(nicked.name.as_deref(), Some("Nick"));
        assert!(member.has_role(42) && !member.has_role(7));
        let bare: GuildMember = serde_json::from_str(r#"{"user": {"id": "8"}}"#).unwrap();
        assert!(bare.roles.is_empty());
        let back: GuildMember =
            serde_json::from_value(serde_json::to_value(&member).unwrap()).unwrap();
        assert_eq!(back, member);
        let role: Role =
            serde_json::from_str(r#"{"id": "5", "permissions": "8", "position": 2}"#).unwrap();
        assert_eq!((role.name.as_str(), role.managed), ("", false));
        let role: Role = serde_json::from_str(
            r#"{"id": "5", "permissions": "0", "position": 1, "name": "Server Booster",
                "managed": true, "tags": {"premium_subscriber": null}}"#,
        )
        .unwrap();
        assert!(role.managed);
        let me: CurrentUser = serde_json::from_str(r#"{"id": "99", "bot": true}"#).unwrap();
        assert_eq!(me, CurrentUser { id: 99, username: String::new(), bot: true });
    }

    #[test]
    fn custom_emoji_request_form_is_name_colon_id() {
        let emoji = ReactionEmoji::custom("party", Id::new(123));
        assert_eq!(emoji.request_form().as_deref(), Some("party:123"));
        assert_eq!(ReactionEmoji { id: None, name: None }.request_form(), None);
    }
}
