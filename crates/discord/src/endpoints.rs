//! The Discord endpoints the product uses.

use chrono::{DateTime, SecondsFormat, Utc};
use http::{HeaderValue, Method};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use twilight_model::id::{
    Id,
    marker::{
        ApplicationMarker, ChannelMarker, GuildMarker, MessageMarker, RoleMarker, UserMarker,
    },
};

use crate::{
    client::{ApiRequest, DiscordClient, RequestBody},
    error::{Error, ErrorKind, Result},
    model::{
        ActiveThreads, ArchivedThreads, AttachmentFile, Channel, Command, CurrentUser,
        CurrentUserGuild, GuildMember, Message, ReactionEmoji, ReactionKind, ReactionUser, Role,
        SentMessage,
    },
};

/// Largest page of `GET /users/@me/guilds`.
pub const MAX_GUILDS_PAGE: u16 = 200;
/// Largest page of messages, reaction users and archived threads.
pub const MAX_PAGE: u8 = 100;
/// Longest audit-log reason Discord accepts, in characters (before percent-encoding); longer reasons are cut.
pub const MAX_AUDIT_REASON: usize = 512;

/// Discord's JSON error code for a user who is not (or no longer) a member of the guild.
const UNKNOWN_MEMBER: u64 = 10_007;

/// Characters percent-encoded in a path segment: everything but unreserved characters. `:` is kept for the
/// `name:id` form of custom emoji.
const SEGMENT: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b':');

/// Characters percent-encoded in `X-Audit-Log-Reason`: everything but unreserved characters, so any UTF-8
/// reason becomes a plain ASCII header value.
const AUDIT_REASON: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// The `X-Audit-Log-Reason` value of `reason`: cut to [`MAX_AUDIT_REASON`] characters (Discord refuses
/// longer ones with a 400), then percent-encoded as UTF-8 (Discord requires it URL-encoded). `None` for an
/// empty reason.
fn audit_reason_header(reason: &str) -> Result<Option<HeaderValue>> {
    let cut: String = reason.chars().take(MAX_AUDIT_REASON).collect();
    if cut.is_empty() {
        return Ok(None);
    }
    HeaderValue::from_str(&utf8_percent_encode(&cut, AUDIT_REASON).to_string()).map(Some).map_err(
        |e| {
            Error::with_source(
                ErrorKind::Invalid("audit log reason is not a header value".into()),
                e,
            )
        },
    )
}

/// Whether an error is Discord's 404 Unknown Member.
const fn is_unknown_member(error: &Error) -> bool {
    matches!(error.kind(), ErrorKind::Api { status: 404, code: Some(UNKNOWN_MEMBER), .. })
}

fn check_limit(limit: u8) -> Result<u8> {
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::new(ErrorKind::Invalid(format!("page size {limit} is outside 1..={MAX_PAGE}"))))
    }
}

/// What a role change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RoleChange {
    /// Discord accepted it (204). Adding a role the member already has, or removing one they lack, is
    /// accepted too and changes nothing.
    Applied,
    /// The user is not a member of the guild (any more): 404 Unknown Member (10007). Nothing to do.
    UnknownMember,
}

/// Where a page of messages is taken from. `after`, `before` and `around` are mutually exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessagePosition {
    /// The newest messages.
    Latest,
    /// The oldest messages with an id greater than this snowflake (which may be built from a time).
    After(u64),
    /// The newest messages with an id smaller than this snowflake.
    Before(u64),
    /// Messages around this id.
    Around(u64),
}

impl DiscordClient {
    /// One page of the guilds the bot is in, ordered by id, starting after `after`.
    ///
    /// # Errors
    ///
    /// Any [`ErrorKind`] of a failed call.
    pub async fn current_user_guilds_page(
        &self,
        after: Option<Id<GuildMarker>>,
        limit: u16,
    ) -> Result<Vec<CurrentUserGuild>> {
        if !(1..=MAX_GUILDS_PAGE).contains(&limit) {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "guild page size {limit} is outside 1..={MAX_GUILDS_PAGE}"
            ))));
        }
        let mut request =
            ApiRequest::get("users/@me/guilds".into(), "current user guilds").query("limit", limit);
        if let Some(after) = after {
            request = request.query("after", after);
        }
        self.json(request).await
    }

    /// All guilds the bot is in, following pages of 200.
    ///
    /// # Errors
    ///
    /// Any [`ErrorKind`] of a failed call.
    pub async fn current_user_guilds(&self) -> Result<Vec<CurrentUserGuild>> {
        all_after(
            usize::from(MAX_GUILDS_PAGE),
            |g: &CurrentUserGuild| g.id,
            |after| self.current_user_guilds_page(after, MAX_GUILDS_PAGE),
        )
        .await
    }

    /// The guild's channels (threads are not included: see [`DiscordClient::active_threads`] and
    /// [`DiscordClient::public_archived_threads`]).
    ///
    /// # Errors
    ///
    /// Any [`ErrorKind`] of a failed call.
    pub async fn guild_channels(&self, guild: Id<GuildMarker>) -> Result<Vec<Channel>> {
        self.json(ApiRequest::get(format!("guilds/{guild}/channels"), "guild channels")).await
    }

    /// The guild's roles with their permissions (for who can view which channel).
    ///
    /// # Errors
    ///
    /// Any [`ErrorKind`] of a failed call.
    pub async fn guild_roles(&self, guild: Id<GuildMarker>) -> Result<Vec<Role>> {
        self.json(ApiRequest::get(format!("guilds/{guild}/roles"), "guild roles")).await
    }

    /// The bot's own user (`GET /users/@me`).
    ///
    /// # Errors
    ///
    /// Any [`ErrorKind`] of a failed call.
    pub async fn current_user(&self) -> Result<CurrentUser> {
        self.json(ApiRequest::get("users/@me".into(), "current user")).await
    }

    /// A member of a guild with their roles (`GET /guilds/{guild}/members/{user}`); `None` when the user is
    /// not a member (404 Unknown Member, 10007).
    ///
    /// # Errors
    ///
    /// Any other [`ErrorKind`] of a failed call (an unknown guild gives [`ErrorKind::Api`] with status 404
    /// and code 10004).
    pub async fn guild_member(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
    ) -> Result<Option<GuildMember>> {
        let request = ApiRequest::get(format!("guilds/{guild}/members/{user}"), "guild member");
        match self.json(request).await {
            Ok(member) => Ok(Some(member)),
            Err(error) if is_unknown_member(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Gives a member a role (`PUT /guilds/{guild}/members/{user}/roles/{role}`), with `reason` in the
    /// guild's audit log (cut to [`MAX_AUDIT_REASON`] characters; an empty reason sends none).
    ///
    /// # Errors
    ///
    /// Any [`ErrorKind`] of a failed call: [`ErrorKind::Api`] with status 403 and code 50013 when the bot
    /// lacks Manage Roles or the role is not below the bot's highest role (or is managed), status 404 and
    /// code 10011 for an unknown role.
    pub async fn add_member_role(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        role: Id<RoleMarker>,
        reason: &str,
    ) -> Result<RoleChange> {
        self.member_role(Method::PUT, guild, user, role, reason, "add member role").await
    }

    /// Takes a role from a member (`DELETE /guilds/{guild}/members/{user}/roles/{role}`), with `reason` in
    /// the guild's audit log as for [`DiscordClient::add_member_role`].
    ///
    /// # Errors
    ///
    /// As [`DiscordClient::add_member_role`].
    pub async fn remove_member_role(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        role: Id<RoleMarker>,
        reason: &str,
    ) -> Result<RoleChange> {
        self.member_role(Method::DELETE, guild, user, role, reason, "remove member role").await
    }

    async fn member_role(
        &self,
        method: Method,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        role: Id<RoleMarker>,
        reason: &str,
        what: &'static str,
    ) -> Result<RoleChange> {
        let mut request =
            ApiRequest::get(format!("guilds/{guild}/members/{user}/roles/{role}"), what);
        request.method = method;
        request.audit_reason = audit_reason_header(reason)?;
        match self.send(request).await {
            Ok(_) => Ok(RoleChange::Applied),
            Err(error) if is_unknown_member(&error) => Ok(RoleChange::UnknownMember),
            Err(error) => Err(error),
        }
    }

    /// The guild's active threads (public and private) that the bot can see, forum posts included.
    ///
    /// # Errors
    ///
    /// Any [`ErrorKind`] of a failed call.
    pub async fn active_threads(&self, guild: Id<GuildMarker>) -> Result<Vec<Channel>> {
        let list: ActiveThreads = self
            .json(ApiRequest::get(format!("guilds/{guild}/threads/active"), "active threads"))
            .await?;
        Ok(list.threads)
    }

    /// One page of a channel's archived public threads, newest archive first, archived before `before`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoAccess`] if the bot cannot read the channel; any other [`ErrorKind`] of a failed call.
    pub async fn public_archived_threads_page(
        &self,
        channel: Id<ChannelMarker>,
        before: Option<DateTime<Utc>>,
        limit: u8,
    ) -> Result<ArchivedThreads> {
        let mut request = ApiRequest::get(
            format!("channels/{channel}/threads/archived/public"),
            "archived public threads",
        )
        .about_channel(channel.get())
        .query("limit", check_limit(limit)?);
        if let Some(before) = before {
            request = request.query("before", before.to_rfc3339_opts(SecondsFormat::Micros, true));
        }
        self.json(request).await
    }

    /// A channel's archived public threads, newest archive first, stopping once threads were archived at or
    /// before `archived_after` (pass the time of the previous sync to list only newly archived threads).
    ///
    /// # Errors
    ///
    /// As [`DiscordClient::public_archived_threads_page`].
    pub async fn public_archived_threads(
        &self,
        channel: Id<ChannelMarker>,
        archived_after: Option<DateTime<Utc>>,
    ) -> Result<Vec<Channel>> {
        let mut all = Vec::new();
        let mut before = None;
        loop {
            let page = self.public_archived_threads_page(channel, before, MAX_PAGE).await?;
            let oldest = page
                .threads
                .iter()
                .filter_map(|t| t.thread_metadata.as_ref().map(|m| m.archive_timestamp))
                .min();
            let mut reached_end = false;
            for thread in page.threads {
                let archived_at = thread.thread_metadata.as_ref().map(|m| m.archive_timestamp);
                match (archived_at, archived_after) {
                    (Some(at), Some(after)) if at <= after => reached_end = true,
                    _ => all.push(thread),
                }
            }
            match oldest {
                Some(oldest)
                    if page.has_more && !reached_end && before.is_none_or(|b| oldest < b) =>
                {
                    before = Some(oldest);
                }
                _ => return Ok(all),
            }
        }
    }

    /// One page of a channel's messages exactly as Discord returns it: **newest first**, also with
    /// [`MessagePosition::After`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoAccess`] if the bot cannot read the channel; any other [`ErrorKind`] of a failed call.
    pub async fn channel_messages(
        &self,
        channel: Id<ChannelMarker>,
        position: MessagePosition,
        limit: u8,
    ) -> Result<Vec<Message>> {
        let mut request =
            ApiRequest::get(format!("channels/{channel}/messages"), "channel messages")
                .about_channel(channel.get())
                .query("limit", check_limit(limit)?);
        request = match position {
            MessagePosition::Latest => request,
            MessagePosition::After(id) => request.query("after", id),
            MessagePosition::Before(id) => request.query("before", id),
            MessagePosition::Around(id) => request.query("around", id),
        };
        self.json(request).await
    }

    /// Walks a channel's messages forward, oldest to newest, from after the snowflake `after` (0 for the
    /// very beginning, or one built from a time). Pages come back in ascending id order.
    #[must_use]
    pub fn messages_after(&self, channel: Id<ChannelMarker>, after: u64) -> MessagePages {
        MessagePages::new(self.clone(), channel, Direction::Forward, Some(after))
    }

    /// Walks a channel's messages backward, newest to oldest, from before `before` (`None`: from the newest
    /// message). Pages come back in descending id order.
    #[must_use]
    pub fn messages_before(&self, channel: Id<ChannelMarker>, before: Option<u64>) -> MessagePages {
        MessagePages::new(self.clone(), channel, Direction::Backward, before)
    }

    /// All messages with `after < id <= until`, in ascending id order. Both bounds may be snowflakes built
    /// from times.
    ///
    /// # Errors
    ///
    /// As [`DiscordClient::channel_messages`].
    pub async fn messages_between(
        &self,
        channel: Id<ChannelMarker>,
        after: u64,
        until: u64,
    ) -> Result<Vec<Message>> {
        let mut all = Vec::new();
        if until <= after {
            return Ok(all);
        }
        let mut pages = self.messages_after(channel, after);
        while let Some(page) = pages.next_page().await? {
            let passed_until = page.iter().any(|m| m.snowflake() > until);
            all.extend(page.into_iter().filter(|m| m.snowflake() <= until));
            if passed_until {
                break;
            }
        }
        Ok(all)
    }

    /// One page of the users who reacted to a message with `emoji`, ordered by user id, after `after`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoAccess`] if the bot cannot read the channel (or the message is gone); any other
    /// [`ErrorKind`] of a failed call.
    pub async fn reaction_users_page(
        &self,
        channel: Id<ChannelMarker>,
        message: Id<MessageMarker>,
        emoji: &ReactionEmoji,
        kind: ReactionKind,
        after: Option<Id<UserMarker>>,
        limit: u8,
    ) -> Result<Vec<ReactionUser>> {
        let form = emoji.request_form().ok_or_else(|| {
            Error::new(ErrorKind::Invalid("reaction emoji has neither id nor name".into()))
        })?;
        let mut request = ApiRequest::get(
            format!("channels/{channel}/messages/{message}/reactions/{}", encode_segment(&form)),
            "reaction users",
        )
        .about_channel(channel.get())
        .query("limit", check_limit(limit)?)
        .query("type", kind.query_value());
        if let Some(after) = after {
            request = request.query("after", after);
        }
        self.json(request).await
    }

    /// All users who reacted to a message with `emoji` (normal or burst), following pages of 100.
    ///
    /// # Errors
    ///
    /// As [`DiscordClient::reaction_users_page`].
    pub async fn reaction_users(
        &self,
        channel: Id<ChannelMarker>,
        message: Id<MessageMarker>,
        emoji: &ReactionEmoji,
        kind: ReactionKind,
    ) -> Result<Vec<ReactionUser>> {
        all_after(
            usize::from(MAX_PAGE),
            |u: &ReactionUser| u.id,
            |after| self.reaction_users_page(channel, message, emoji, kind, after, MAX_PAGE),
        )
        .await
    }

    /// Edits the original (deferred) response of an interaction: `PATCH
    /// /webhooks/{application}/{token}/messages/@original`. `payload` is the message JSON (content,
    /// embeds, flags, …). With `files`, the request is multipart (`payload_json` + `files[n]`) and, unless
    /// the payload has its own `attachments`, one `{id, filename}` entry per file is added to it.
    ///
    /// # Errors
    ///
    /// Any [`ErrorKind`] of a failed call (an expired token gives [`ErrorKind::Api`] with status 404).
    pub async fn edit_original_response<P: Serialize + ?Sized>(
        &self,
        application: Id<ApplicationMarker>,
        interaction_token: &str,
        payload: &P,
        files: &[AttachmentFile],
    ) -> Result<SentMessage> {
        let path = format!(
            "webhooks/{application}/{}/messages/@original",
            encode_segment(interaction_token)
        );
        self.webhook_message(Method::PATCH, path, payload, files, "edit original response").await
    }

    /// Sends a follow-up message for an interaction: `POST /webhooks/{application}/{token}`. Body as in
    /// [`DiscordClient::edit_original_response`].
    ///
    /// # Errors
    ///
    /// Any [`ErrorKind`] of a failed call.
    pub async fn create_followup<P: Serialize + ?Sized>(
        &self,
        application: Id<ApplicationMarker>,
        interaction_token: &str,
        payload: &P,
        files: &[AttachmentFile],
    ) -> Result<SentMessage> {
        let path = format!("webhooks/{application}/{}", encode_segment(interaction_token));
        self.webhook_message(Method::POST, path, payload, files, "create follow-up").await
    }

    /// Posts a message as the bot in a channel or thread: `POST /channels/{channel}/messages`. Body as in
    /// [`DiscordClient::edit_original_response`] (JSON, or multipart with `payload_json` and `files[n]`
    /// and the `attachments` entries added). Posting needs View Channel and Send Messages (Send Messages
    /// in Threads in a thread), Embed Links for embeds and Attach Files for files;
    /// `"allowed_mentions": {"parse": []}` in the payload keeps it from pinging anyone.
    ///
    /// A POST is not idempotent: after a lost answer or a 5xx the message may exist, so the call is not
    /// sent again and the error is returned. Except when the payload has a `nonce` (a string of at most
    /// 25 characters, or an integer) and `"enforce_nonce": true`: Discord then answers a repeat of the
    /// nonce by the same bot within a few minutes with the earlier message instead of creating one, so the
    /// call is retried like a GET and posts at most one message. A nonce derived from what is posted (e.g.
    /// the guild and period of a digest) makes a second run that posts it again harmless too.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoAccess`] when the bot may not post in the channel: 403 with code 50001 (Missing
    /// Access: it cannot see the channel) or 50013 (Missing Permissions: no Send Messages, or no Embed Links
    /// for an embed, or no Attach Files for a file), 404 with code 10003 (Unknown Channel: deleted).
    /// [`ErrorKind::Api`] with status 400 for a message Discord refuses: code 50035 (invalid form: too long,
    /// more than 10 embeds, a bad nonce), 50006 (nothing to show), 50008 (a category or forum channel).
    /// Any other [`ErrorKind`] of a failed call.
    pub async fn create_message<P: Serialize + ?Sized>(
        &self,
        channel: Id<ChannelMarker>,
        payload: &P,
        files: &[AttachmentFile],
    ) -> Result<SentMessage> {
        let value = payload_value(payload)?;
        let idempotent_post = enforces_nonce(&value);
        let mut request = ApiRequest::get(format!("channels/{channel}/messages"), "create message")
            .about_channel(channel.get());
        request.method = Method::POST;
        request.body = body_of(value, files)?;
        request.idempotent_post = idempotent_post;
        self.json(request).await
    }

    async fn webhook_message<P: Serialize + ?Sized>(
        &self,
        method: Method,
        path: String,
        payload: &P,
        files: &[AttachmentFile],
        what: &'static str,
    ) -> Result<SentMessage> {
        let body = message_body(payload, files)?;
        // Interaction follow-ups always return the message (`wait` is implied).
        let mut request = ApiRequest::get(path, what);
        request.method = method;
        request.body = body;
        self.json(request).await
    }

    /// Replaces all global commands of the application (bulk overwrite).
    ///
    /// # Errors
    ///
    /// Any [`ErrorKind`] of a failed call (invalid commands give [`ErrorKind::Api`] with status 400).
    pub async fn bulk_overwrite_global_commands(
        &self,
        application: Id<ApplicationMarker>,
        commands: &[Command],
    ) -> Result<Vec<Command>> {
        self.put_commands(format!("applications/{application}/commands"), commands).await
    }

    /// Replaces all commands of the application in one guild (bulk overwrite).
    ///
    /// # Errors
    ///
    /// As [`DiscordClient::bulk_overwrite_global_commands`].
    pub async fn bulk_overwrite_guild_commands(
        &self,
        application: Id<ApplicationMarker>,
        guild: Id<GuildMarker>,
        commands: &[Command],
    ) -> Result<Vec<Command>> {
        self.put_commands(format!("applications/{application}/guilds/{guild}/commands"), commands)
            .await
    }

    async fn put_commands(&self, path: String, commands: &[Command]) -> Result<Vec<Command>> {
        let body = serde_json::to_vec(commands).map_err(|e| {
            Error::with_source(ErrorKind::Invalid("commands do not serialize".into()), e)
        })?;
        let mut request = ApiRequest::get(path, "bulk overwrite commands");
        request.method = Method::PUT;
        request.body = RequestBody::Json(body);
        self.json(request).await
    }
}

fn message_body<P: Serialize + ?Sized>(
    payload: &P,
    files: &[AttachmentFile],
) -> Result<RequestBody> {
    body_of(payload_value(payload)?, files)
}

fn payload_value<P: Serialize + ?Sized>(payload: &P) -> Result<serde_json::Value> {
    serde_json::to_value(payload).map_err(|e| {
        Error::with_source(ErrorKind::Invalid("message payload does not serialize".into()), e)
    })
}

/// Whether Discord answers a repeat of this message payload with the message it already created: a
/// `nonce` (string or integer) with `"enforce_nonce": true`.
fn enforces_nonce(payload: &serde_json::Value) -> bool {
    payload.get("enforce_nonce") == Some(&serde_json::Value::Bool(true))
        && payload.get("nonce").is_some_and(|n| n.is_string() || n.is_i64() || n.is_u64())
}

/// The body of a message payload: JSON without files, else multipart with the `attachments` entries.
fn body_of(mut value: serde_json::Value, files: &[AttachmentFile]) -> Result<RequestBody> {
    if files.is_empty() {
        let bytes = serde_json::to_vec(&value).map_err(|e| {
            Error::with_source(ErrorKind::Invalid("message payload does not serialize".into()), e)
        })?;
        return Ok(RequestBody::Json(bytes));
    }
    let Some(object) = value.as_object_mut() else {
        return Err(Error::new(ErrorKind::Invalid(
            "a message payload with files must be a JSON object".into(),
        )));
    };
    if !object.contains_key("attachments") {
        let attachments = files
            .iter()
            .enumerate()
            .map(|(id, file)| serde_json::json!({ "id": id, "filename": file.filename }))
            .collect();
        object.insert("attachments".into(), serde_json::Value::Array(attachments));
    }
    Ok(RequestBody::Multipart { payload_json: value.to_string(), files: files.to_vec() })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

/// A walk over a channel's messages, one page (request) at a time, so the caller can stop at a time
/// budget and persist [`MessagePages::cursor`].
///
/// Forward walks return each page in ascending id order and end with the first short page; backward walks
/// return pages in descending order.
#[derive(Debug)]
pub struct MessagePages {
    client: DiscordClient,
    channel: Id<ChannelMarker>,
    direction: Direction,
    cursor: Option<u64>,
    page_size: u8,
    done: bool,
}

impl MessagePages {
    fn new(
        client: DiscordClient,
        channel: Id<ChannelMarker>,
        direction: Direction,
        cursor: Option<u64>,
    ) -> Self {
        Self { client, channel, direction, cursor, page_size: MAX_PAGE, done: false }
    }

    /// Uses pages of `size` (1..=100) instead of 100.
    #[must_use]
    pub fn with_page_size(mut self, size: u8) -> Self {
        self.page_size = size.clamp(1, MAX_PAGE);
        self
    }

    /// The snowflake to continue from: for a forward walk the newest id seen (the next `after`), for a
    /// backward walk the oldest (the next `before`).
    #[must_use]
    pub const fn cursor(&self) -> Option<u64> {
        self.cursor
    }

    /// Whether the walk has reached the end (no more pages).
    #[must_use]
    pub const fn is_done(&self) -> bool {
        self.done
    }

    /// Fetches the next page; `None` when the walk is over.
    ///
    /// # Errors
    ///
    /// As [`DiscordClient::channel_messages`], and [`ErrorKind::Decode`] if Discord returned a page that
    /// does not move the cursor (which would otherwise loop forever).
    pub async fn next_page(&mut self) -> Result<Option<Vec<Message>>> {
        if self.done {
            return Ok(None);
        }
        let position = match (self.direction, self.cursor) {
            (Direction::Forward, cursor) => MessagePosition::After(cursor.unwrap_or(0)),
            (Direction::Backward, Some(cursor)) => MessagePosition::Before(cursor),
            (Direction::Backward, None) => MessagePosition::Latest,
        };
        let mut page = self.client.channel_messages(self.channel, position, self.page_size).await?;
        if page.len() < usize::from(self.page_size) {
            self.done = true;
        }
        if page.is_empty() {
            return Ok(None);
        }
        let next = match self.direction {
            Direction::Forward => {
                page.sort_by_key(Message::snowflake);
                page.last().map(Message::snowflake)
            }
            Direction::Backward => {
                page.sort_by_key(|m| std::cmp::Reverse(m.snowflake()));
                page.last().map(Message::snowflake)
            }
        };
        let advanced = match (self.direction, next, self.cursor) {
            (_, None, _) => false,
            (_, Some(_), None) => true,
            (Direction::Forward, Some(next), Some(cursor)) => next > cursor,
            (Direction::Backward, Some(next), Some(cursor)) => next < cursor,
        };
        if !advanced {
            self.done = true;
            return Err(Error::new(ErrorKind::Decode {
                what: format!("message page of channel {} did not advance", self.channel),
            }));
        }
        self.cursor = next;
        Ok(Some(page))
    }
}

/// Follows pages that go forward by `after` (the highest id seen): asks for the next page while the last
/// one was full and moved forward, so a short page, an empty one or a page that does not advance ends it.
async fn all_after<T, K, Fut>(
    page_size: usize,
    id_of: impl Fn(&T) -> K,
    mut fetch: impl FnMut(Option<K>) -> Fut,
) -> Result<Vec<T>>
where
    K: Copy + Ord,
    Fut: std::future::Future<Output = Result<Vec<T>>>,
{
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = fetch(after).await?;
        let full = page.len() == page_size;
        let next = page.iter().map(&id_of).max();
        all.extend(page);
        match next {
            Some(next) if full && after.is_none_or(|a| next > a) => after = Some(next),
            _ => return Ok(all),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn emoji_segments_are_percent_encoded() {
        assert_eq!(encode_segment("👍"), "%F0%9F%91%8D");
        assert_eq!(encode_segment("party_parrot:123"), "party_parrot:123");
        assert_eq!(encode_segment("a b/c?"), "a%20b%2Fc%3F");
    }

    #[test]
    fn files_get_attachment_entries() {
        let files = [AttachmentFile {
            filename: "chart.png".into(),
            content_type: "image/png".into(),
            data: vec![1, 2, 3],
        }];
        let RequestBody::Multipart { payload_json, .. } =
            message_body(&serde_json::json!({"content": "hi"}), &files).unwrap()
        else {
            panic!("expected multipart");
        };
        let value: serde_json::Value = serde_json::from_str(&payload_json).unwrap();
        assert_eq!(value["attachments"][0]["filename"], "chart.png");
        assert_eq!(value["attachments"][0]["id"], 0);
        assert!(matches!(
            message_body(&serde_json::json!({"content": "hi"}), &[]).unwrap(),
            RequestBody::Json(_)
        ));
    }

    #[test]
    fn only_an_enforced_nonce_makes_a_post_repeatable() {
        use serde_json::json;
        assert!(enforces_nonce(
            &json!({"content": "x", "nonce": "digest-1", "enforce_nonce": true})
        ));
        assert!(enforces_nonce(&json!({"nonce": 42, "enforce_nonce": true})));
        assert!(!enforces_nonce(&json!({"nonce": "digest-1"})), "without enforce_nonce");
        assert!(!enforces_nonce(&json!({"nonce": "digest-1", "enforce_nonce": false})));
        assert!(!enforces_nonce(&json!({"enforce_nonce": true})), "without a nonce");
        assert!(!enforces_nonce(&json!({"nonce": null, "enforce_nonce": true})));
        assert!(!enforces_nonce(&json!({"nonce": "x", "enforce_nonce": "true"})));
    }

    #[test]
    fn audit_reasons_are_cut_by_characters_then_percent_encoded() {
        let header =
            audit_reason_header("Active: 12 messages in 7 days — à bientôt").unwrap().unwrap();
        assert_eq!(
            header.to_str().unwrap(),
            "Active%3A%2012%20messages%20in%207%20days%20%E2%80%94%20%C3%A0%20bient%C3%B4t"
        );
        let long = "é".repeat(600);
        let header = audit_reason_header(&long).unwrap().unwrap();
        let decoded =
            percent_encoding::percent_decode(header.as_bytes()).decode_utf8().unwrap().into_owned();
        assert_eq!(decoded, "é".repeat(MAX_AUDIT_REASON));
        assert_eq!(audit_reason_header("").unwrap(), None);
    }

    #[test]
    fn page_sizes_are_checked() {
        assert!(check_limit(0).is_err());
        assert!(check_limit(101).is_err());
        assert_eq!(check_limit(100).unwrap(), 100);
    }
}
