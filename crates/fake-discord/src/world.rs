//! The fake's state: users, guilds, channels, threads, messages and reactions.
//!
//! Read it through [`FakeDiscord::with_world`](crate::FakeDiscord::with_world); change it through the
//! handle's methods, which keep Discord's invariants (ids consistent with time and increasing per channel,
//! `last_message_id`, thread archive state).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use engagement_domain::snowflake;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Channel types used by the fake (Discord's numbers).
pub mod kind {
    /// GUILD_TEXT.
    pub const TEXT: u8 = 0;
    /// GUILD_VOICE.
    pub const VOICE: u8 = 2;
    /// GUILD_CATEGORY.
    pub const CATEGORY: u8 = 4;
    /// GUILD_ANNOUNCEMENT.
    pub const ANNOUNCEMENT: u8 = 5;
    /// ANNOUNCEMENT_THREAD.
    pub const ANNOUNCEMENT_THREAD: u8 = 10;
    /// PUBLIC_THREAD.
    pub const PUBLIC_THREAD: u8 = 11;
    /// PRIVATE_THREAD.
    pub const PRIVATE_THREAD: u8 = 12;
    /// GUILD_FORUM.
    pub const FORUM: u8 = 15;

    /// Whether the type is a thread.
    #[must_use]
    pub const fn is_thread(kind: u8) -> bool {
        matches!(kind, ANNOUNCEMENT_THREAD | PUBLIC_THREAD | PRIVATE_THREAD)
    }
}

/// Message types used by the fake (Discord's numbers).
pub mod message_type {
    /// DEFAULT.
    pub const DEFAULT: u8 = 0;
    /// USER_JOIN.
    pub const USER_JOIN: u8 = 7;
    /// THREAD_CREATED.
    pub const THREAD_CREATED: u8 = 18;
    /// REPLY.
    pub const REPLY: u8 = 19;
    /// CHAT_INPUT_COMMAND.
    pub const CHAT_INPUT_COMMAND: u8 = 20;
    /// THREAD_STARTER_MESSAGE.
    pub const THREAD_STARTER_MESSAGE: u8 = 21;
}

/// Errors of world mutations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FakeError {
    /// No such guild.
    #[error("unknown guild {0}")]
    UnknownGuild(u64),
    /// No such channel or thread.
    #[error("unknown channel {0}")]
    UnknownChannel(u64),
    /// No such message in that channel.
    #[error("unknown message {message} in channel {channel}")]
    UnknownMessage {
        /// Channel.
        channel: u64,
        /// Message.
        message: u64,
    },
    /// No such user.
    #[error("unknown user {0}")]
    UnknownUser(u64),
    /// No such role (in that guild).
    #[error("unknown role {0}")]
    UnknownRole(u64),
    /// The user is not a member of the guild.
    #[error("user {user} is not a member of guild {guild}")]
    UnknownMember {
        /// Guild.
        guild: u64,
        /// User.
        user: u64,
    },
    /// The operation does not apply to that channel type.
    #[error("channel {channel} of type {kind} cannot {what}")]
    WrongChannelType {
        /// Channel.
        channel: u64,
        /// Its type.
        kind: u8,
        /// What was attempted.
        what: &'static str,
    },
    /// Discord cannot create a message older than the newest one of a channel.
    #[error("message time {time} is before the newest message of channel {channel}")]
    Backdated {
        /// Channel.
        channel: u64,
        /// Requested time.
        time: DateTime<Utc>,
    },
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
}

/// A user (member or bot).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Id.
    pub id: u64,
    /// Username.
    pub username: String,
    /// Bot account.
    pub bot: bool,
}

/// A webhook that posts messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// Id (also the `author.id` of its messages).
    pub id: u64,
    /// Display name.
    pub name: String,
}

/// A custom or unicode emoji.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Emoji {
    /// Custom emoji id; `None` for unicode.
    pub id: Option<u64>,
    /// Name (custom) or the emoji itself (unicode).
    pub name: String,
}

impl Emoji {
    /// A unicode emoji.
    #[must_use]
    pub fn unicode(name: &str) -> Self {
        Self { id: None, name: name.to_owned() }
    }

    fn to_json(&self) -> Value {
        match self.id {
            Some(id) => json!({"id": id.to_string(), "name": self.name, "animated": false}),
            None => json!({"id": null, "name": self.name}),
        }
    }
}

/// A guild.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Guild {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Member user ids (humans and bots, the fake's bot included).
    pub members: BTreeSet<u64>,
    /// Custom emoji.
    pub emojis: Vec<Emoji>,
    /// Webhooks.
    pub webhooks: Vec<Webhook>,
    /// Roles, `@everyone` (id = the guild's) first.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Each member's roles, `@everyone` not listed; a member without an entry has no roles.
    #[serde(default)]
    pub member_roles: BTreeMap<u64, BTreeSet<u64>>,
    /// The owner, a human member (generated guilds: the first of their human members); `None` for
    /// worlds built or saved without one. Owning gives every permission.
    #[serde(default)]
    pub owner_id: Option<u64>,
}

impl Guild {
    /// The first role called `name` (see [`seeded_role`] for the roles every generated guild has).
    #[must_use]
    pub fn role_named(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// A role of this guild.
    #[must_use]
    pub fn role(&self, id: u64) -> Option<&Role> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// A member's roles (empty for a member without any, and for a non-member).
    #[must_use]
    pub fn roles_of(&self, user: u64) -> BTreeSet<u64> {
        self.member_roles.get(&user).cloned().unwrap_or_default()
    }

    /// A member's guild-level permissions as Discord computes them: all for the owner; otherwise the
    /// `@everyone` role's OR each of the member's roles', `ADMINISTRATOR` meaning all. All is `u64::MAX`.
    #[must_use]
    pub fn permissions_of(&self, user: u64) -> u64 {
        if self.owner_id == Some(user) {
            return u64::MAX;
        }
        let everyone = self.role(self.id).map_or(0, |r| r.permissions);
        let permissions = self
            .member_roles
            .get(&user)
            .into_iter()
            .flatten()
            .filter_map(|id| self.role(*id))
            .fold(everyone, |bits, role| bits | role.permissions);
        if permissions & permission::ADMINISTRATOR == 0 { permissions } else { u64::MAX }
    }

    /// The position of a member's highest role (0, the `@everyone` role's, without roles).
    #[must_use]
    pub fn highest_position_of(&self, user: u64) -> i64 {
        self.highest_role_rank(user).0
    }

    /// Where a member's highest role stands in Discord's role order — by position, and between equal
    /// positions the older role (lower id) is higher — as (position, `u64::MAX - id`); `@everyone`'s
    /// without roles. A role of a lower rank is within the member's reach.
    #[must_use]
    pub fn highest_role_rank(&self, user: u64) -> (i64, u64) {
        self.member_roles
            .get(&user)
            .into_iter()
            .flatten()
            .filter_map(|id| self.role(*id))
            .map(role_rank)
            .max()
            .unwrap_or((0, u64::MAX - self.id))
    }
}

/// A role's place in Discord's role order (see [`Guild::highest_role_rank`]).
#[must_use]
pub const fn role_rank(role: &Role) -> (i64, u64) {
    (role.position, u64::MAX - role.id)
}

/// Thread state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadState {
    /// Archived.
    pub archived: bool,
    /// Last archive status change (creation for never-archived threads).
    pub archive_timestamp: DateTime<Utc>,
    /// Minutes.
    pub auto_archive_duration: u32,
    /// Locked.
    pub locked: bool,
    /// Creator.
    pub owner_id: u64,
}

/// A channel, category or thread.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    /// Id.
    pub id: u64,
    /// Guild.
    pub guild_id: u64,
    /// Discord channel type (see [`kind`]).
    pub kind: u8,
    /// Name.
    pub name: String,
    /// Category for channels, parent channel for threads.
    pub parent_id: Option<u64>,
    /// Sorting position.
    pub position: i32,
    /// Whether the bot may view it and read its history. Threads follow their parent too.
    pub readable: bool,
    /// Id of the newest message (forum: newest post); `None` if there never was one.
    pub last_message_id: Option<u64>,
    /// Thread state, for threads.
    pub thread: Option<ThreadState>,
    /// Messages by id.
    pub messages: BTreeMap<u64, Message>,
    /// Permission overwrites (channels only; threads follow their parent).
    #[serde(default)]
    pub overwrites: Vec<PermissionOverwrite>,
}

/// A channel's permission overwrite, as Discord lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionOverwrite {
    /// A role's id (the guild's id for `@everyone`) or a member's.
    pub id: u64,
    /// 0: role, 1: member.
    pub kind: u8,
    /// Allowed permission bits.
    pub allow: u64,
    /// Denied permission bits.
    pub deny: u64,
}

/// A guild role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Id (the guild's id for `@everyone`).
    pub id: u64,
    /// Permission bits.
    pub permissions: u64,
    /// Position (0 for `@everyone`).
    pub position: i64,
    /// Name (`@everyone` for the guild's base role).
    #[serde(default)]
    pub name: String,
    /// Owned by an integration (a bot's own role, the booster role): nobody can give or take it.
    #[serde(default)]
    pub managed: bool,
}

/// A role to create ([`World::create_role`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRole {
    /// Name.
    pub name: String,
    /// Permission bits.
    #[serde(default)]
    pub permissions: u64,
    /// Position, at least 1 (default: above every other role). Other roles are not moved: two roles may
    /// share a position, and then neither is below the other.
    #[serde(default)]
    pub position: Option<i64>,
    /// Owned by an integration.
    #[serde(default)]
    pub managed: bool,
}

/// Changes to a role ([`World::update_role`]); `None` keeps the field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleUpdate {
    /// New permission bits.
    #[serde(default)]
    pub permissions: Option<u64>,
    /// New position (at least 1; `@everyone` stays at 0).
    #[serde(default)]
    pub position: Option<i64>,
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
}

/// Guild-level permission bits the fake checks (Discord's numbers).
pub mod permission {
    /// ADMINISTRATOR: every permission.
    pub const ADMINISTRATOR: u64 = 1 << 3;
    /// VIEW_CHANNEL.
    pub const VIEW_CHANNEL: u64 = 1 << 10;
    /// SEND_MESSAGES.
    pub const SEND_MESSAGES: u64 = 1 << 11;
    /// EMBED_LINKS.
    pub const EMBED_LINKS: u64 = 1 << 14;
    /// ATTACH_FILES.
    pub const ATTACH_FILES: u64 = 1 << 15;
    /// READ_MESSAGE_HISTORY.
    pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
    /// MANAGE_ROLES: give and take roles below one's highest role.
    pub const MANAGE_ROLES: u64 = 1 << 28;
    /// SEND_MESSAGES_IN_THREADS: what posting in a thread needs instead of SEND_MESSAGES.
    pub const SEND_MESSAGES_IN_THREADS: u64 = 1 << 38;
}

/// The roles [`World::seed_roles`] gives every generated guild, by name, lowest first: find one with
/// [`Guild::role_named`].
pub mod seeded_role {
    /// Managed (an integration's), below the bot: cannot be given or taken.
    pub const SERVER_BOOSTER: &str = "Server Booster";
    /// Grantable: below the bot's role.
    pub const REGULARS: &str = "Regulars";
    /// Grantable: below the bot's role.
    pub const ACTIVE: &str = "Active";
    /// The bot's own role (held by the bot user): Manage Roles and what posting needs.
    pub const BOT: &str = "Engagement Bot";
    /// Above the bot's role: the bot cannot give or take it.
    pub const MODERATORS: &str = "Moderators";

    /// The permissions of the bot's role.
    pub const BOT_PERMISSIONS: u64 = super::permission::MANAGE_ROLES
        | super::permission::VIEW_CHANNEL
        | super::permission::SEND_MESSAGES
        | super::permission::EMBED_LINKS
        | super::permission::ATTACH_FILES
        | super::permission::READ_MESSAGE_HISTORY;
}

/// What `@everyone` may do in the synthetic servers: create invites (0), add reactions (6), view channels
/// (10), send messages (11), embed links (14), attach files (15), read history (16), external emoji (18),
/// connect (20), speak (21), change nickname (26), use application commands (31), create public threads
/// (35), send messages in threads (38). No moderation, no administration.
pub const EVERYONE_PERMISSIONS: u64 = (1 << 0)
    | (1 << 6)
    | (1 << 10)
    | (1 << 11)
    | (1 << 14)
    | (1 << 15)
    | (1 << 16)
    | (1 << 18)
    | (1 << 20)
    | (1 << 21)
    | (1 << 26)
    | (1 << 31)
    | (1 << 35)
    | (1 << 38);

impl Channel {
    /// A new, open, empty thread of `parent` (kind: public, private or announcement thread; a forum's
    /// posts are public threads), created at `created` by `owner`.
    #[must_use]
    pub fn new_thread(
        id: u64,
        guild_id: u64,
        thread_kind: u8,
        name: String,
        parent: u64,
        owner: u64,
        created: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            guild_id,
            kind: thread_kind,
            name,
            parent_id: Some(parent),
            position: 0,
            readable: true,
            last_message_id: None,
            thread: Some(ThreadState {
                archived: false,
                archive_timestamp: created,
                auto_archive_duration: 4_320,
                locked: false,
                owner_id: owner,
            }),
            messages: BTreeMap::new(),
            overwrites: Vec::new(),
        }
    }

    /// Whether `GET /channels/{id}/messages` applies.
    #[must_use]
    pub const fn holds_messages(&self) -> bool {
        matches!(self.kind, kind::TEXT | kind::ANNOUNCEMENT | kind::VOICE)
            || kind::is_thread(self.kind)
    }
}

/// A reaction: one emoji with its normal and burst reactors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// The emoji.
    pub emoji: Emoji,
    /// Users with a normal reaction.
    pub normal: BTreeSet<u64>,
    /// Users with a burst (super) reaction.
    pub burst: BTreeSet<u64>,
}

impl Reaction {
    /// Discord's `count`: normal plus burst.
    #[must_use]
    pub fn count(&self) -> u64 {
        (self.normal.len() + self.burst.len()) as u64
    }
}

/// A message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Id; its time is the message's timestamp.
    pub id: u64,
    /// Channel or thread.
    pub channel_id: u64,
    /// Author user id, or the webhook id for webhook messages.
    pub author_id: u64,
    /// Set for webhook messages.
    pub webhook_id: Option<u64>,
    /// Discord message type (see [`message_type`]).
    pub kind: u8,
    /// Content.
    pub content: String,
    /// `message_reference`: (channel, message).
    pub reference: Option<(u64, u64)>,
    /// Thread started from this message.
    pub thread_id: Option<u64>,
    /// Reactions in order of first reaction.
    pub reactions: Vec<Reaction>,
    /// Embeds, as posted (only the bot's messages posted through the API have any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub embeds: Vec<Value>,
    /// Uploaded files (only the bot's messages posted through the API have any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A file attached to a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Id (a snowflake of the message's time).
    pub id: u64,
    /// File name.
    pub filename: String,
    /// Size in bytes.
    pub size: u64,
    /// MIME type, as uploaded.
    pub content_type: Option<String>,
}

impl Message {
    /// The creation time (from the id).
    #[must_use]
    pub fn timestamp(&self) -> DateTime<Utc> {
        snowflake::created_at(self.id)
    }
}

/// Snowflake generator: time bits from the creation time, a global sequence in the low 22 bits. Ids are
/// unique, consistent with their time, and increase in creation order within a channel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdGen {
    seq: u64,
}

impl IdGen {
    /// A new id created at `at`.
    pub fn next(&mut self, at: DateTime<Utc>) -> u64 {
        let id = snowflake::from_time(at) | (self.seq & 0x3F_FFFF);
        self.seq += 1;
        id
    }
}

/// The whole fake world.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct World {
    /// The world's "now" at generation.
    pub now: DateTime<Utc>,
    /// The application id (equal to the bot's user id).
    pub application_id: u64,
    /// The bot's user id.
    pub bot_user_id: u64,
    /// All users.
    pub users: BTreeMap<u64, User>,
    /// Guilds.
    pub guilds: BTreeMap<u64, Guild>,
    /// Channels, categories and threads.
    pub channels: BTreeMap<u64, Channel>,
    /// Id generator.
    pub ids: IdGen,
}

/// A message to add.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessage {
    /// Channel or thread.
    pub channel_id: u64,
    /// Author (a user id); ignored for webhook messages.
    #[serde(default)]
    pub author_id: u64,
    /// Post as this webhook instead of a user.
    #[serde(default)]
    pub webhook_id: Option<u64>,
    /// Message type (default 0, or 19 when `reply_to` is set).
    #[serde(default, rename = "type")]
    pub kind: Option<u8>,
    /// Reply to this message of the same channel.
    #[serde(default)]
    pub reply_to: Option<u64>,
    /// Creation time (default: the fake's clock). Must not be before the channel's newest message.
    #[serde(default)]
    pub timestamp: Option<DateTime<Utc>>,
    /// Content.
    #[serde(default)]
    pub content: Option<String>,
}

impl NewMessage {
    /// A default message by `author_id` in `channel_id`.
    #[must_use]
    pub const fn new(channel_id: u64, author_id: u64) -> Self {
        Self {
            channel_id,
            author_id,
            webhook_id: None,
            kind: None,
            reply_to: None,
            timestamp: None,
            content: None,
        }
    }
}

/// An attachment as Discord renders it in a message.
fn attachment_json(channel: u64, attachment: &Attachment) -> Value {
    let Attachment { id, filename, size, content_type } = attachment;
    json!({
        "id": id.to_string(), "filename": filename, "size": size, "content_type": content_type,
        "url": format!("https://cdn.discordapp.com/attachments/{channel}/{id}/{filename}"),
        "proxy_url": format!("https://media.discordapp.net/attachments/{channel}/{id}/{filename}"),
    })
}

pub(crate) fn format_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

impl World {
    /// A channel.
    ///
    /// # Errors
    ///
    /// [`FakeError::UnknownChannel`].
    pub fn channel(&self, id: u64) -> Result<&Channel, FakeError> {
        self.channels.get(&id).ok_or(FakeError::UnknownChannel(id))
    }

    fn channel_mut(&mut self, id: u64) -> Result<&mut Channel, FakeError> {
        self.channels.get_mut(&id).ok_or(FakeError::UnknownChannel(id))
    }

    /// Whether a user id is a bot.
    #[must_use]
    pub fn is_bot(&self, user: u64) -> bool {
        self.users.get(&user).is_some_and(|u| u.bot)
    }

    /// The readable text channel with the most messages (0 when there is none): what tests hammer.
    #[must_use]
    pub fn busiest_text_channel(&self) -> u64 {
        self.channels
            .values()
            .filter(|c| c.kind == kind::TEXT && c.readable)
            .max_by_key(|c| c.messages.len())
            .map_or(0, |c| c.id)
    }

    /// Whether the bot can read a channel's messages: the channel, and for a thread its parent, readable.
    #[must_use]
    pub fn can_read(&self, channel: &Channel) -> bool {
        channel.readable
            && (!kind::is_thread(channel.kind)
                || channel
                    .parent_id
                    .and_then(|p| self.channels.get(&p))
                    .is_some_and(|p| p.readable))
    }

    /// Ids of every message the bot can read (readable channels and threads of readable parents).
    #[must_use]
    pub fn readable_message_ids(&self) -> BTreeSet<u64> {
        self.channels
            .values()
            .filter(|c| c.holds_messages() && self.can_read(c))
            .flat_map(|c| c.messages.keys().copied())
            .collect()
    }

    /// Total number of messages (readable or not).
    #[must_use]
    pub fn message_count(&self) -> usize {
        self.channels.values().map(|c| c.messages.len()).sum()
    }

    /// Adds a message at `clock` (or its own timestamp) and returns its id.
    ///
    /// # Errors
    ///
    /// Unknown channel/author/reply target, wrong channel type, or a backdated timestamp.
    pub fn add_message(
        &mut self,
        new: &NewMessage,
        clock: DateTime<Utc>,
    ) -> Result<u64, FakeError> {
        let channel = self.channel(new.channel_id)?;
        if !channel.holds_messages() {
            return Err(FakeError::WrongChannelType {
                channel: channel.id,
                kind: channel.kind,
                what: "hold messages",
            });
        }
        let guild_id = channel.guild_id;
        let author_id = match new.webhook_id {
            Some(webhook) => {
                let known = self
                    .guilds
                    .get(&guild_id)
                    .is_some_and(|g| g.webhooks.iter().any(|w| w.id == webhook));
                if !known {
                    return Err(FakeError::Invalid(format!("unknown webhook {webhook}")));
                }
                webhook
            }
            None => {
                if !self.users.contains_key(&new.author_id) {
                    return Err(FakeError::UnknownUser(new.author_id));
                }
                new.author_id
            }
        };
        if let Some(reply_to) = new.reply_to
            && !channel.messages.contains_key(&reply_to)
        {
            return Err(FakeError::UnknownMessage { channel: channel.id, message: reply_to });
        }
        let newest = channel.messages.keys().next_back().copied();
        let time = match new.timestamp {
            Some(time) => {
                if newest.is_some_and(|n| {
                    snowflake::from_time(time) < snowflake::from_time(snowflake::created_at(n))
                }) {
                    return Err(FakeError::Backdated { channel: channel.id, time });
                }
                time
            }
            None => newest.map_or(clock, |n| clock.max(snowflake::created_at(n))),
        };
        let kind = new.kind.unwrap_or(if new.reply_to.is_some() {
            message_type::REPLY
        } else {
            message_type::DEFAULT
        });
        let id = self.ids.next(time);
        let message = Message {
            id,
            channel_id: new.channel_id,
            author_id,
            webhook_id: new.webhook_id,
            kind,
            content: new.content.clone().unwrap_or_else(|| format!("message {id}")),
            reference: new.reply_to.map(|r| (new.channel_id, r)),
            thread_id: None,
            reactions: Vec::new(),
            embeds: Vec::new(),
            attachments: Vec::new(),
        };
        let channel = self.channel_mut(new.channel_id)?;
        channel.messages.insert(id, message);
        channel.last_message_id = Some(channel.last_message_id.map_or(id, |l| l.max(id)));
        // Posting in an archived (unlocked) thread unarchives it, as on Discord.
        if let Some(thread) = channel.thread.as_mut()
            && thread.archived
            && !thread.locked
        {
            thread.archived = false;
            thread.archive_timestamp = time;
        }
        Ok(id)
    }

    /// Adds a reaction by `user` (normal or burst). Adding an existing reaction does nothing.
    ///
    /// # Errors
    ///
    /// Unknown channel, message or user.
    pub fn add_reaction(
        &mut self,
        channel: u64,
        message: u64,
        user: u64,
        emoji: &Emoji,
        burst: bool,
    ) -> Result<(), FakeError> {
        if !self.users.contains_key(&user) {
            return Err(FakeError::UnknownUser(user));
        }
        let msg = self
            .channel_mut(channel)?
            .messages
            .get_mut(&message)
            .ok_or(FakeError::UnknownMessage { channel, message })?;
        let position = msg.reactions.iter().position(|r| r.emoji == *emoji);
        let reaction = match position {
            Some(index) => &mut msg.reactions[index],
            None => {
                msg.reactions.push(Reaction {
                    emoji: emoji.clone(),
                    normal: BTreeSet::new(),
                    burst: BTreeSet::new(),
                });
                let last = msg.reactions.len() - 1;
                &mut msg.reactions[last]
            }
        };
        if burst {
            reaction.burst.insert(user);
        } else {
            reaction.normal.insert(user);
        }
        Ok(())
    }

    /// Removes a reaction; the emoji disappears from the message when nobody is left.
    ///
    /// # Errors
    ///
    /// Unknown channel or message.
    pub fn remove_reaction(
        &mut self,
        channel: u64,
        message: u64,
        user: u64,
        emoji: &Emoji,
        burst: bool,
    ) -> Result<(), FakeError> {
        let msg = self
            .channel_mut(channel)?
            .messages
            .get_mut(&message)
            .ok_or(FakeError::UnknownMessage { channel, message })?;
        if let Some(reaction) = msg.reactions.iter_mut().find(|r| r.emoji == *emoji) {
            if burst {
                reaction.burst.remove(&user);
            } else {
                reaction.normal.remove(&user);
            }
        }
        msg.reactions.retain(|r| r.count() > 0);
        Ok(())
    }

    /// Creates a channel (text, announcement, voice, forum or category) and returns its id.
    ///
    /// # Errors
    ///
    /// Unknown guild or parent, or a thread type.
    pub fn create_channel(
        &mut self,
        guild: u64,
        channel_kind: u8,
        name: &str,
        parent_id: Option<u64>,
        clock: DateTime<Utc>,
    ) -> Result<u64, FakeError> {
        if !self.guilds.contains_key(&guild) {
            return Err(FakeError::UnknownGuild(guild));
        }
        if !matches!(
            channel_kind,
            kind::TEXT | kind::ANNOUNCEMENT | kind::VOICE | kind::FORUM | kind::CATEGORY
        ) {
            return Err(FakeError::Invalid(format!(
                "cannot create a channel of type {channel_kind}"
            )));
        }
        if let Some(parent) = parent_id
            && self.channel(parent)?.kind != kind::CATEGORY
        {
            return Err(FakeError::Invalid(format!("{parent} is not a category")));
        }
        let position = i32::try_from(
            self.channels
                .values()
                .filter(|c| c.guild_id == guild && !kind::is_thread(c.kind))
                .count(),
        )
        .unwrap_or(i32::MAX);
        let id = self.ids.next(clock);
        self.channels.insert(
            id,
            Channel {
                id,
                guild_id: guild,
                kind: channel_kind,
                name: name.to_owned(),
                parent_id,
                position,
                readable: true,
                last_message_id: None,
                thread: None,
                messages: BTreeMap::new(),
                overwrites: Vec::new(),
            },
        );
        Ok(id)
    }

    /// Creates a public thread in a text/announcement channel (from a message, or with a THREAD_CREATED
    /// system message in the parent), or a post in a forum channel (its first message has the thread's id).
    /// Returns the thread id.
    ///
    /// # Errors
    ///
    /// Unknown parent, author or message; wrong parent type.
    pub fn create_thread(
        &mut self,
        parent: u64,
        name: &str,
        author: u64,
        from_message: Option<u64>,
        clock: DateTime<Utc>,
    ) -> Result<u64, FakeError> {
        let parent_channel = self.channel(parent)?;
        let (guild_id, parent_kind) = (parent_channel.guild_id, parent_channel.kind);
        let thread_kind = match parent_kind {
            kind::TEXT | kind::FORUM => kind::PUBLIC_THREAD,
            kind::ANNOUNCEMENT => kind::ANNOUNCEMENT_THREAD,
            other => {
                return Err(FakeError::WrongChannelType {
                    channel: parent,
                    kind: other,
                    what: "have threads",
                });
            }
        };
        if !self.users.contains_key(&author) {
            return Err(FakeError::UnknownUser(author));
        }
        let newest = parent_channel.messages.keys().next_back().copied();
        let time = newest.map_or(clock, |n| clock.max(snowflake::created_at(n)));
        let thread_id = match from_message {
            Some(message) => {
                let msg = parent_channel
                    .messages
                    .get(&message)
                    .ok_or(FakeError::UnknownMessage { channel: parent, message })?;
                if msg.thread_id.is_some() {
                    return Err(FakeError::Invalid(format!(
                        "message {message} already has a thread"
                    )));
                }
                message
            }
            None if parent_kind == kind::FORUM => {
                // The post's first message gets the thread's id.
                self.ids.next(time)
            }
            None => self.ids.next(time),
        };
        self.channels.insert(
            thread_id,
            Channel::new_thread(
                thread_id,
                guild_id,
                thread_kind,
                name.to_owned(),
                parent,
                author,
                time,
            ),
        );
        match (from_message, parent_kind) {
            (Some(message), _) => {
                if let Some(msg) = self.channel_mut(parent)?.messages.get_mut(&message) {
                    msg.thread_id = Some(thread_id);
                }
                let starter = self.ids.next(time);
                self.insert_raw(Message {
                    id: starter,
                    channel_id: thread_id,
                    author_id: author,
                    webhook_id: None,
                    kind: message_type::THREAD_STARTER_MESSAGE,
                    content: String::new(),
                    reference: Some((parent, message)),
                    thread_id: None,
                    reactions: Vec::new(),
                    embeds: Vec::new(),
                    attachments: Vec::new(),
                })?;
            }
            (None, kind::FORUM) => {
                self.insert_raw(Message {
                    id: thread_id,
                    channel_id: thread_id,
                    author_id: author,
                    webhook_id: None,
                    kind: message_type::DEFAULT,
                    content: format!("{name} (post)"),
                    reference: None,
                    thread_id: None,
                    reactions: Vec::new(),
                    embeds: Vec::new(),
                    attachments: Vec::new(),
                })?;
                let forum = self.channel_mut(parent)?;
                forum.last_message_id =
                    Some(forum.last_message_id.map_or(thread_id, |l| l.max(thread_id)));
            }
            (None, _) => {
                let system = self.ids.next(time);
                self.insert_raw(Message {
                    id: system,
                    channel_id: parent,
                    author_id: author,
                    webhook_id: None,
                    kind: message_type::THREAD_CREATED,
                    content: name.to_owned(),
                    reference: Some((thread_id, thread_id)),
                    thread_id: None,
                    reactions: Vec::new(),
                    embeds: Vec::new(),
                    attachments: Vec::new(),
                })?;
            }
        }
        Ok(thread_id)
    }

    /// Adds a message the bot posts through the API (`POST /channels/{c}/messages`) at `clock` and returns
    /// its id: type 0 by `bot_user_id`, with `content` (possibly empty), `embeds` and one attachment per
    /// `(filename, content_type, size)`, ids from the generator. A hand-built world without the bot user
    /// gets it as a bot account, so that the message is the bot's for the ground truth too (which never
    /// counts bots).
    ///
    /// # Errors
    ///
    /// As [`World::add_message`].
    pub(crate) fn add_bot_message(
        &mut self,
        channel: u64,
        content: &str,
        embeds: Vec<Value>,
        files: &[(String, Option<String>, u64)],
        clock: DateTime<Utc>,
    ) -> Result<u64, FakeError> {
        let bot = self.bot_user_id;
        self.users.entry(bot).or_insert_with(|| User {
            id: bot,
            username: "engagement-bot".into(),
            bot: true,
        });
        let mut new = NewMessage::new(channel, bot);
        new.kind = Some(message_type::DEFAULT);
        new.content = Some(content.to_owned());
        let id = self.add_message(&new, clock)?;
        let time = snowflake::created_at(id);
        let attachments: Vec<Attachment> = files
            .iter()
            .map(|(filename, content_type, size)| Attachment {
                id: self.ids.next(time),
                filename: filename.clone(),
                size: *size,
                content_type: content_type.clone(),
            })
            .collect();
        if let Some(message) = self.channel_mut(channel)?.messages.get_mut(&id) {
            message.embeds = embeds;
            message.attachments = attachments;
        }
        Ok(id)
    }

    /// Inserts a fully built message, keeping `last_message_id`.
    pub(crate) fn insert_raw(&mut self, message: Message) -> Result<(), FakeError> {
        let channel = self.channel_mut(message.channel_id)?;
        channel.last_message_id =
            Some(channel.last_message_id.map_or(message.id, |l| l.max(message.id)));
        channel.messages.insert(message.id, message);
        Ok(())
    }

    /// Archives (or unarchives) a thread at `clock`.
    ///
    /// # Errors
    ///
    /// Unknown channel or not a thread.
    pub fn set_archived(
        &mut self,
        thread: u64,
        archived: bool,
        clock: DateTime<Utc>,
    ) -> Result<(), FakeError> {
        let channel = self.channel_mut(thread)?;
        let channel_kind = channel.kind;
        let state = channel.thread.as_mut().ok_or(FakeError::WrongChannelType {
            channel: thread,
            kind: channel_kind,
            what: "be archived",
        })?;
        if state.archived != archived {
            state.archived = archived;
            state.archive_timestamp = clock.max(state.archive_timestamp);
        }
        Ok(())
    }

    /// Makes a channel readable or unreadable for the bot.
    ///
    /// # Errors
    ///
    /// Unknown channel.
    pub fn set_readable(&mut self, channel: u64, readable: bool) -> Result<(), FakeError> {
        self.channel_mut(channel)?.readable = readable;
        Ok(())
    }

    /// Removes `guild` (deleted, or the bot removed from it): it leaves the bot's guild listing, and its
    /// routes and its channels' answer 404.
    ///
    /// # Errors
    ///
    /// Unknown guild.
    pub fn remove_guild(&mut self, guild: u64) -> Result<(), FakeError> {
        if self.guilds.remove(&guild).is_none() {
            return Err(FakeError::UnknownGuild(guild));
        }
        self.channels.retain(|_, c| c.guild_id != guild);
        Ok(())
    }

    /// Adds a new member (human or bot) to a guild and returns its id.
    ///
    /// # Errors
    ///
    /// Unknown guild.
    pub fn add_member(
        &mut self,
        guild: u64,
        bot: bool,
        clock: DateTime<Utc>,
    ) -> Result<u64, FakeError> {
        if !self.guilds.contains_key(&guild) {
            return Err(FakeError::UnknownGuild(guild));
        }
        let id = self.ids.next(clock - chrono::Duration::days(30));
        let username = if bot { format!("bot-{id}") } else { format!("user-{id}") };
        self.users.insert(id, User { id, username, bot });
        if let Some(g) = self.guilds.get_mut(&guild) {
            g.members.insert(id);
        }
        Ok(id)
    }

    /// Gives every guild the roles tests and the demo manage, when it lacks them (by name), above its
    /// existing roles, lowest first: "Server Booster" (managed), "Regulars", "Active", "Engagement Bot"
    /// ([`seeded_role::BOT_PERMISSIONS`], held by the bot user) and "Moderators" (above the bot). Ids come
    /// from the world's id generator, dated a day after the guild. None has a channel overwrite and none
    /// but the bot's is held, so who can view which channel does not change; calling it again changes
    /// nothing.
    pub fn seed_roles(&mut self) {
        let guild_ids: Vec<u64> = self.guilds.keys().copied().collect();
        for guild_id in guild_ids {
            let created = snowflake::created_at(guild_id) + chrono::Duration::days(1);
            for (name, permissions, managed) in [
                (seeded_role::SERVER_BOOSTER, 0, true),
                (seeded_role::REGULARS, 0, false),
                (seeded_role::ACTIVE, 0, false),
                (seeded_role::BOT, seeded_role::BOT_PERMISSIONS, false),
                (seeded_role::MODERATORS, 0, false),
            ] {
                let Some(guild) = self.guilds.get(&guild_id) else { continue };
                if guild.role_named(name).is_some() {
                    continue;
                }
                let id = self.ids.next(created);
                let Some(guild) = self.guilds.get_mut(&guild_id) else { continue };
                if guild.roles.is_empty() {
                    // `@everyone` comes first, whatever the world was built with.
                    guild.roles.push(Role {
                        id: guild_id,
                        permissions: EVERYONE_PERMISSIONS,
                        position: 0,
                        name: "@everyone".into(),
                        managed: false,
                    });
                }
                let position = guild.roles.iter().map(|r| r.position).max().unwrap_or(0) + 1;
                guild.roles.push(Role { id, permissions, position, name: name.into(), managed });
                if name == seeded_role::BOT {
                    guild.member_roles.entry(self.bot_user_id).or_default().insert(id);
                }
            }
        }
    }

    fn guild_mut(&mut self, id: u64) -> Result<&mut Guild, FakeError> {
        self.guilds.get_mut(&id).ok_or(FakeError::UnknownGuild(id))
    }

    /// Creates a role in a guild and returns its id.
    ///
    /// # Errors
    ///
    /// Unknown guild; a position below 1.
    pub fn create_role(
        &mut self,
        guild: u64,
        role: &NewRole,
        clock: DateTime<Utc>,
    ) -> Result<u64, FakeError> {
        if role.position.is_some_and(|p| p < 1) {
            return Err(FakeError::Invalid("a role's position is at least 1".into()));
        }
        self.guild_mut(guild)?;
        let id = self.ids.next(clock);
        let g = self.guild_mut(guild)?;
        let position = role
            .position
            .unwrap_or_else(|| g.roles.iter().map(|r| r.position).max().unwrap_or(0) + 1);
        g.roles.push(Role {
            id,
            permissions: role.permissions,
            position,
            name: role.name.clone(),
            managed: role.managed,
        });
        Ok(id)
    }

    /// Changes a role's permissions, position or name (e.g. to take Manage Roles from the bot's role).
    ///
    /// # Errors
    ///
    /// Unknown role; moving a role below 1, or `@everyone` anywhere.
    pub fn update_role(&mut self, role: u64, update: &RoleUpdate) -> Result<(), FakeError> {
        let found = self
            .guilds
            .values_mut()
            .find_map(|g| {
                let everyone = g.id;
                g.roles.iter_mut().find(|r| r.id == role).map(|r| (r, everyone))
            })
            .ok_or(FakeError::UnknownRole(role))?;
        let (found, everyone) = found;
        if let Some(position) = update.position
            && (position < 1 || role == everyone)
        {
            return Err(FakeError::Invalid(format!(
                "role {role} cannot move to position {position}"
            )));
        }
        if let Some(permissions) = update.permissions {
            found.permissions = permissions;
        }
        if let Some(position) = update.position {
            found.position = position;
        }
        if let Some(name) = &update.name {
            found.name.clone_from(name);
        }
        Ok(())
    }

    /// Replaces a member's roles.
    ///
    /// # Errors
    ///
    /// Unknown guild or role, a user who is not a member, or `@everyone` (every member has it implicitly).
    pub fn set_member_roles(
        &mut self,
        guild: u64,
        user: u64,
        roles: &BTreeSet<u64>,
    ) -> Result<(), FakeError> {
        let g = self.guild_mut(guild)?;
        if !g.members.contains(&user) {
            return Err(FakeError::UnknownMember { guild, user });
        }
        if roles.contains(&guild) {
            return Err(FakeError::Invalid("@everyone is not given; every member has it".into()));
        }
        if let Some(unknown) = roles.iter().find(|r| g.role(**r).is_none()) {
            return Err(FakeError::UnknownRole(*unknown));
        }
        if roles.is_empty() {
            g.member_roles.remove(&user);
        } else {
            g.member_roles.insert(user, roles.clone());
        }
        Ok(())
    }

    /// A member leaves a guild (their roles go with them; their messages stay).
    ///
    /// # Errors
    ///
    /// Unknown guild or a user who is not a member.
    pub fn remove_member(&mut self, guild: u64, user: u64) -> Result<(), FakeError> {
        let g = self.guild_mut(guild)?;
        if !g.members.remove(&user) {
            return Err(FakeError::UnknownMember { guild, user });
        }
        g.member_roles.remove(&user);
        Ok(())
    }

    // ---- JSON as Discord renders it ----

    pub(crate) fn user_json(&self, id: u64) -> Value {
        let (username, bot) = self
            .users
            .get(&id)
            .map_or_else(|| (format!("user-{id}"), false), |u| (u.username.clone(), u.bot));
        let mut user = json!({
            "id": id.to_string(),
            "username": username,
            "global_name": if bot { Value::Null } else { Value::String(username.clone()) },
            "avatar": null,
            "discriminator": "0",
            "public_flags": 0,
            "flags": 0,
            "banner": null,
            "accent_color": null,
            "avatar_decoration_data": null,
            "clan": null,
        });
        if bot {
            user["bot"] = Value::Bool(true);
        }
        user
    }

    fn author_json(&self, message: &Message) -> Value {
        match message.webhook_id {
            Some(webhook) => {
                let name = self
                    .channels
                    .get(&message.channel_id)
                    .and_then(|c| self.guilds.get(&c.guild_id))
                    .and_then(|g| g.webhooks.iter().find(|w| w.id == webhook))
                    .map_or_else(|| "Webhook".to_owned(), |w| w.name.clone());
                // Webhook authors carry the webhook's id and name, and no `bot` flag.
                json!({"id": webhook.to_string(), "username": name, "avatar": null, "discriminator": "0000",
                       "public_flags": 0, "flags": 0, "global_name": null})
            }
            None => self.user_json(message.author_id),
        }
    }

    pub(crate) fn message_json(&self, message: &Message, with_referenced: bool) -> Value {
        let guild_id = self.channels.get(&message.channel_id).map(|c| c.guild_id);
        let mut value = json!({
            "type": message.kind,
            "content": message.content,
            "mentions": [],
            "mention_roles": [],
            "attachments": message
                .attachments
                .iter()
                .map(|a| attachment_json(message.channel_id, a))
                .collect::<Vec<_>>(),
            "embeds": message.embeds,
            "timestamp": format_time(message.timestamp()),
            "edited_timestamp": null,
            "flags": if message.thread_id.is_some() { 32 } else { 0 },
            "components": [],
            "id": message.id.to_string(),
            "channel_id": message.channel_id.to_string(),
            "author": self.author_json(message),
            "pinned": false,
            "mention_everyone": false,
            "tts": false,
        });
        if let Some(webhook) = message.webhook_id {
            value["webhook_id"] = json!(webhook.to_string());
        }
        if message.kind == message_type::CHAT_INPUT_COMMAND {
            value["application_id"] = json!(self.application_id.to_string());
        }
        if let Some((channel, referenced)) = message.reference {
            value["message_reference"] = json!({
                "type": 0,
                "channel_id": channel.to_string(),
                "message_id": referenced.to_string(),
                "guild_id": guild_id.map(|g| g.to_string()),
            });
            if message.kind == message_type::REPLY && with_referenced {
                value["referenced_message"] = self
                    .channels
                    .get(&channel)
                    .and_then(|c| c.messages.get(&referenced))
                    .map_or(Value::Null, |m| self.message_json(m, false));
            }
        }
        if let Some(thread) = message.thread_id.and_then(|t| self.channels.get(&t)) {
            value["thread"] = self.channel_json(thread);
        }
        if !message.reactions.is_empty() {
            value["reactions"] = message
                .reactions
                .iter()
                .map(|r| {
                    json!({
                        "emoji": r.emoji.to_json(),
                        "count": r.count(),
                        "count_details": {"burst": r.burst.len(), "normal": r.normal.len()},
                        "burst_colors": [],
                        "me_burst": r.burst.contains(&self.bot_user_id),
                        "burst_me": r.burst.contains(&self.bot_user_id),
                        "me": r.normal.contains(&self.bot_user_id),
                        "burst_count": r.burst.len(),
                    })
                })
                .collect();
        }
        value
    }

    pub(crate) fn channel_json(&self, channel: &Channel) -> Value {
        let mut value = json!({
            "id": channel.id.to_string(),
            "type": channel.kind,
            "guild_id": channel.guild_id.to_string(),
            "name": channel.name,
            "parent_id": channel.parent_id.map(|p| p.to_string()),
            "flags": 0,
        });
        if let Some(thread) = &channel.thread {
            value["owner_id"] = json!(thread.owner_id.to_string());
            value["last_message_id"] = json!(channel.last_message_id.map(|m| m.to_string()));
            value["rate_limit_per_user"] = json!(0);
            let count = channel.messages.len();
            value["message_count"] = json!(count);
            value["member_count"] = json!(count.min(50));
            value["total_message_sent"] = json!(count);
            value["thread_metadata"] = json!({
                "archived": thread.archived,
                "archive_timestamp": format_time(thread.archive_timestamp),
                "auto_archive_duration": thread.auto_archive_duration,
                "locked": thread.locked,
                "create_timestamp": format_time(snowflake::created_at(channel.id)),
            });
            return value;
        }
        value["position"] = json!(channel.position);
        value["permission_overwrites"] = channel
            .overwrites
            .iter()
            .map(|o| {
                json!({"id": o.id.to_string(), "type": o.kind, "allow": o.allow.to_string(),
                       "deny": o.deny.to_string()})
            })
            .collect();
        match channel.kind {
            kind::CATEGORY => {}
            kind::VOICE => {
                value["last_message_id"] = json!(channel.last_message_id.map(|m| m.to_string()));
                value["bitrate"] = json!(64_000);
                value["user_limit"] = json!(0);
                value["rtc_region"] = Value::Null;
                value["nsfw"] = json!(false);
                value["rate_limit_per_user"] = json!(0);
            }
            kind::FORUM => {
                value["last_message_id"] = json!(channel.last_message_id.map(|m| m.to_string()));
                value["topic"] = Value::Null;
                value["nsfw"] = json!(false);
                value["rate_limit_per_user"] = json!(0);
                value["available_tags"] = json!([]);
                value["default_reaction_emoji"] = Value::Null;
                value["default_sort_order"] = Value::Null;
                value["default_forum_layout"] = json!(0);
                value["default_thread_rate_limit_per_user"] = json!(0);
            }
            _ => {
                value["last_message_id"] = json!(channel.last_message_id.map(|m| m.to_string()));
                value["topic"] = Value::Null;
                value["nsfw"] = json!(false);
                value["rate_limit_per_user"] = json!(0);
            }
        }
        value
    }

    pub(crate) fn guild_json(&self, guild: &Guild) -> Value {
        json!({
            "id": guild.id.to_string(),
            "name": guild.name,
            "icon": null,
            "banner": null,
            "owner": false,
            "permissions": "1071698660929",
            "features": ["COMMUNITY", "NEWS"],
            "approximate_member_count": guild.members.len(),
            "approximate_presence_count": guild.members.len() / 3,
        })
    }

    /// A guild as `GET /users/@me/guilds` lists it to a user's OAuth2 token: `owner` and `permissions`
    /// (guild-level, see [`Guild::permissions_of`]) are that user's.
    pub(crate) fn user_guild_json(&self, guild: &Guild, user: u64) -> Value {
        let mut value = self.guild_json(guild);
        value["owner"] = Value::Bool(guild.owner_id == Some(user));
        value["permissions"] = Value::String(guild.permissions_of(user).to_string());
        value
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::{config::WorldSize, config::default_now, generate::generate};

    fn world() -> World {
        generate(7, &WorldSize::Small.knobs(), default_now())
    }

    fn first_text(world: &World) -> u64 {
        world
            .channels
            .values()
            .find(|c| c.kind == kind::TEXT && c.readable && !c.messages.is_empty())
            .map(|c| c.id)
            .unwrap()
    }

    fn a_member(world: &World) -> u64 {
        world.users.values().find(|u| !u.bot).map(|u| u.id).unwrap()
    }

    #[test]
    fn added_messages_get_increasing_ids_and_update_last_message_id() {
        let mut world = world();
        let channel = first_text(&world);
        let author = a_member(&world);
        let clock = world.now;
        let a = world.add_message(&NewMessage::new(channel, author), clock).unwrap();
        let b = world.add_message(&NewMessage::new(channel, author), clock).unwrap();
        assert!(b > a);
        assert_eq!(world.channel(channel).unwrap().last_message_id, Some(b));
        assert_eq!(snowflake::created_at(a), clock);
        let mut old = NewMessage::new(channel, author);
        old.timestamp = Some(clock - chrono::Duration::days(400));
        assert!(matches!(world.add_message(&old, clock), Err(FakeError::Backdated { .. })));
    }

    #[test]
    fn forum_posts_share_their_id_with_the_first_message() {
        let mut world = world();
        let forum = world.channels.values().find(|c| c.kind == kind::FORUM).map(|c| c.id).unwrap();
        let author = a_member(&world);
        let clock = world.now;
        let post = world.create_thread(forum, "question", author, None, clock).unwrap();
        let thread = world.channel(post).unwrap();
        assert_eq!(thread.messages.keys().next(), Some(&post));
        assert_eq!(world.channel(forum).unwrap().last_message_id, Some(post));
    }

    #[test]
    fn roles_are_created_changed_given_and_lost_with_the_membership() {
        let mut world = world();
        let guild = *world.guilds.keys().next().unwrap();
        let member = a_member(&world);
        let clock = world.now;
        let new = |position| NewRole {
            name: "Veterans".into(),
            permissions: 0,
            position,
            managed: false,
        };
        assert!(matches!(
            world.create_role(guild, &new(Some(0)), clock),
            Err(FakeError::Invalid(_))
        ));
        assert_eq!(world.create_role(1, &new(None), clock), Err(FakeError::UnknownGuild(1)));
        let role = world.create_role(guild, &new(None), clock).unwrap();
        let top = world.guilds[&guild].roles.iter().map(|r| r.position).max();
        assert_eq!(world.guilds[&guild].role(role).map(|r| r.position), top);
        world
            .update_role(role, &RoleUpdate { permissions: Some(8), ..RoleUpdate::default() })
            .unwrap();
        assert_eq!(world.guilds[&guild].role(role).map(|r| r.permissions), Some(8));
        let update = RoleUpdate { position: Some(3), ..RoleUpdate::default() };
        assert!(world.update_role(guild, &update).is_err(), "@everyone stays at 0");
        assert_eq!(world.update_role(7, &update), Err(FakeError::UnknownRole(7)));

        world.set_member_roles(guild, member, &BTreeSet::from([role])).unwrap();
        assert_eq!(world.guilds[&guild].permissions_of(member), u64::MAX, "administrator");
        assert_eq!(
            world.set_member_roles(guild, member, &BTreeSet::from([7])),
            Err(FakeError::UnknownRole(7))
        );
        assert!(world.set_member_roles(guild, member, &BTreeSet::from([guild])).is_err());
        world.remove_member(guild, member).unwrap();
        assert!(world.guilds[&guild].roles_of(member).is_empty());
        assert_eq!(
            world.remove_member(guild, member),
            Err(FakeError::UnknownMember { guild, user: member })
        );
        assert!(matches!(
            world.set_member_roles(guild, member, &BTreeSet::new()),
            Err(FakeError::UnknownMember { .. })
        ));
    }

    #[test]
    fn reactions_add_and_remove() {
        let mut world = world();
        let channel = first_text(&world);
        let message = *world.channel(channel).unwrap().messages.keys().next().unwrap();
        let user = a_member(&world);
        let emoji = Emoji::unicode("🦀");
        world.add_reaction(channel, message, user, &emoji, false).unwrap();
        world.add_reaction(channel, message, user, &emoji, true).unwrap();
        let msg = &world.channel(channel).unwrap().messages[&message];
        let reaction = msg.reactions.iter().find(|r| r.emoji == emoji).unwrap();
        assert_eq!(reaction.count(), 2);
        world.remove_reaction(channel, message, user, &emoji, false).unwrap();
        world.remove_reaction(channel, message, user, &emoji, true).unwrap();
        let msg = &world.channel(channel).unwrap().messages[&message];
        assert!(msg.reactions.iter().all(|r| r.emoji != emoji));
    }
}
