//! A fake Discord REST API that behaves like the real one where clients go wrong.
//!
//! Tests start it in-process on a random port; the `fake-discord` binary serves it for the local demo.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use fake_discord::{FakeConfig, FakeDiscord, TruthOptions, WorldSize};
//!
//! let fake = FakeDiscord::start(FakeConfig { size: WorldSize::Small, ..FakeConfig::default() }).await?;
//! let base = fake.base_url(); // http://127.0.0.1:PORT/api/v10 — point DISCORD_API_BASE here
//! let truth = fake.ground_truth(&TruthOptions::default());
//! # let _ = (base, truth); Ok(()) }
//! ```
//!
//! # The world
//!
//! A deterministic synthetic world from a seed and a size ([`WorldSize`]): guilds, categories, text,
//! announcement, forum and voice channels, active and archived threads (forum posts are threads whose first
//! message has the thread's id), members and bots, webhook messages, system messages (USER_JOIN 7,
//! THREAD_CREATED 18, CHAT_INPUT_COMMAND 20, THREAD_STARTER_MESSAGE 21), replies (19), reactions with
//! unicode and custom emoji, burst reactions (some users both ways), reactor lists longer than one page,
//! channels the bot cannot read, an empty channel and channels that went quiet. Ids are snowflakes of their
//! creation time and increase per channel. It can be changed while running (handle methods, `/_fake/...`).
//!
//! Every generated guild also has the roles an activity-role feature manages ([`World::seed_roles`], found by
//! name with [`world::Guild::role_named`] and the names in [`world::seeded_role`]): "Server Booster"
//! (managed), "Regulars" and "Active" below the bot's role "Engagement Bot" (Manage Roles, held by the bot
//! user), and "Moderators" above it. They are added after generation, without the seed's random numbers,
//! and no channel overwrite names them: messages, channels, members and who views what are unchanged.
//! Each generated guild's owner ([`world::Guild::owner_id`]) is its first human member, chosen the same
//! way; owning gives every permission ([`world::Guild::permissions_of`]).
//!
//! # Faithfulness
//!
//! * message pages are always newest first, also with `after`; `limit` must be 1..=100 (400
//!   `{"code":50035,"message":"Invalid Form Body",...}` otherwise); `before`/`after`/`around` are mutually
//!   exclusive;
//! * 401 `{"message":"401: Unauthorized","code":0}` without `Authorization: Bot <token>` (or a user's
//!   `Bearer` token where one is accepted, see [OAuth2](#oauth2-for-a-web-login)); 403
//!   `{"message":"Missing Access","code":50001}` on channels the bot cannot read; 404 `Unknown Channel`
//!   (10003), `Unknown Message` (10008), `Unknown Guild` (10004), `Unknown Webhook` (10015);
//! * per-route buckets per major parameter and a global limit with Discord's headers (`X-RateLimit-Limit`,
//!   `-Remaining`, `-Reset`, `-Reset-After`, `-Bucket`; on 429 also `X-RateLimit-Scope`, `Retry-After`,
//!   and `X-RateLimit-Global` for global ones) and 429 bodies `{"message":"You are being rate
//!   limited.","retry_after":0.5,"global":false}`; windows start at the first request after a reset;
//! * guild channel listings without threads, `last_message_id` on channels and threads (a forum's is its
//!   newest post), active threads per guild (only those the bot can see), archived public threads newest
//!   archive first with `has_more`;
//! * `GET /users/@me` (the bot user); `GET /guilds/{g}/members/{u}` with `roles`, 404 `Unknown Member`
//!   (10007) for a non-member (one who left included);
//! * `PUT`/`DELETE /guilds/{g}/members/{u}/roles/{r}` answer 204 (also when nothing changes), after 404
//!   `Unknown Role` (10011) / `Unknown Member` (10007), and 403 `Missing Permissions` (50013) when the bot's
//!   guild permissions (`@everyone`'s OR its roles', Administrator meaning all) lack Manage Roles, or the
//!   role is managed, `@everyone`, or not below the bot's highest role; `X-Audit-Log-Reason` is
//!   percent-decoded and longer than 512 characters is 400 (50035); accepted changes are recorded
//!   ([`FakeDiscord::role_changes`]); role changes share one bucket per guild;
//! * `POST /channels/{c}/messages` (JSON, or multipart with `payload_json` and `files[n]`) creates a type 0
//!   message by the bot (`bot: true`, so the ground truth never counts it) at the fake's clock, listed
//!   with the channel's messages, and answers it with `nonce`; 404 `Unknown Channel` (10003), 403
//!   `Missing Access` (50001) on a channel the bot cannot read, 400 `Cannot send messages in a non-text
//!   channel` (50008) for a category or forum, 400 (50035) for `content` over 2,000 characters, more than
//!   10 embeds or a `nonce` that is neither an integer nor a string of at most 25 characters, 400 `Cannot
//!   send an empty message` (50006), then 403 `Missing Permissions` (50013) when the bot's guild
//!   permissions (as for role changes; channel overwrites are not applied) lack Send Messages (Send
//!   Messages in Threads in a thread), Embed Links for embeds or Attach Files for files. A `nonce` the bot
//!   used in the channel within 5 minutes of the fake's clock, sent again with `enforce_nonce: true`, is
//!   answered with the earlier message and creates nothing. Posts are recorded
//!   ([`FakeDiscord::posted_messages`]); one bucket per channel;
//! * a `PUT`, `POST` or `PATCH` without `Content-Length` (or chunked body) gets 411, as from Discord's
//!   front end;
//! * injectable latency, 5xx and shared-scope 429s ([`Faults`], [`Injection`]).
//!
//! Assumed where Discord's documentation is silent: listing messages of a category or forum channel
//! answers 400 `Cannot execute action on this channel type` (50024).
//!
//! # OAuth2 for a web login
//!
//! The fake is also the application's OAuth2 provider (authorization code grant, PKCE). The client id is
//! the application id, the client secret [`FakeConfig::client_secret`] (default
//! [`DEFAULT_CLIENT_SECRET`], [`FakeDiscord::client_secret`]); the browser goes to
//! [`FakeDiscord::authorize_url`] (at the root, like `https://discord.com/oauth2/authorize`), the server
//! posts to [`FakeDiscord::token_url`] (`{base_url}/oauth2/token`).
//!
//! * `GET /oauth2/authorize?response_type=code&client_id=…&scope=identify%20guilds&redirect_uri=…`
//!   `&state=…` (optionally `code_challenge` with `code_challenge_method=S256`): the fake plays the
//!   signed-in user ([`FakeDiscord::set_oauth_user`]; by default the owner of the first guild, else its
//!   first human member) approving, and answers 302 to `redirect_uri?code=…&state=…`. With nobody signed in the user
//!   cancels: 302 to `redirect_uri?error=access_denied&error_description=…&state=…`. Refused with a 400
//!   text page and no redirect: a `client_id` other than the application's, a missing `redirect_uri`, one
//!   not registered ([`FakeConfig::redirect_uris`], [`FakeDiscord::set_redirect_uris`]; none registered:
//!   any absolute `http`/`https` URI without a fragment), a `response_type` other than `code`, a scope
//!   other than `identify` and `guilds` or without `identify`, a challenge without `S256` (Discord's only
//!   method; none given means `plain`) or a method without a challenge. Fake-only: `login_as=<user id>`
//!   approves as that human user for this one authorization (a browser test logs in as anyone; 400 for an
//!   unknown user or a bot).
//! * `POST /api/v10/oauth2/token`, form-encoded, `grant_type=authorization_code`, `code`,
//!   `redirect_uri`, `code_verifier`; the client by HTTP Basic (`client_id:client_secret`) or the
//!   `client_id`/`client_secret` fields. 200 `{"access_token","token_type":"Bearer","expires_in":604800,
//!   "refresh_token","scope"}`. Refusals, in the order checked: 400 `{"error":"unsupported_grant_type",
//!   "error_description":"Grant type X is not supported"}` (a body that is not a form has none: `None`);
//!   401 `{"error":"invalid_client"}`; 400 `invalid_request` for a missing `code` or `redirect_uri`, or a
//!   `code_verifier` that is not 43 to 128 of RFC 7636's characters (`Invalid "code_verifier"`); 400
//!   `invalid_grant` `Invalid "code" in request.` for an unknown, used or expired code (codes live 10
//!   minutes on the fake's clock, so [`FakeDiscord::advance_clock`] expires them); 400 `invalid_grant`
//!   `Invalid "redirect_uri" in request.` when it differs from the authorization's; with a challenge, 400
//!   `invalid_request` `Missing "code_verifier"`, or `invalid_grant` when base64url(SHA-256(verifier))
//!   differs. An exchange that gets as far as a live code uses it up, even when refused after that.
//! * `Authorization: Bearer <access token>` opens `GET /users/@me` (scope `identify`: the user with
//!   `id`, `username`, `global_name`, `avatar`, `discriminator` `"0"`, `mfa_enabled`, `locale`, …) and
//!   `GET /users/@me/guilds` (scope `guilds`: the guilds the user is a member of, paged like the bot's,
//!   each with the user's `owner` and guild-level `permissions` as a string, `u64::MAX` for the owner or
//!   an Administrator). Without the scope, with an unknown or expired token (7 days on the fake's clock)
//!   or on any other route: 401 `{"message":"401: Unauthorized","code":0}`, as Discord answers. A Bot
//!   token on these routes answers for the bot as before.
//! * Logged, counted and limited like the rest: the token endpoint has its own bucket and, like
//!   `/oauth2/authorize` (logged and counted, never limited, no injected faults), is not part of the
//!   bot's global limit; a Bearer request counts against buckets of its user (its `major` in the request
//!   log is `users/{id}`), not the bot's.
//!
//! Not served: refresh tokens (one is issued, `grant_type=refresh_token` is unsupported), token
//! revocation, the implicit grant, public clients without a secret, and scopes other than `identify` and
//! `guilds`.
//!
//! # Ground truth
//!
//! [`FakeDiscord::ground_truth`] computes what a correct sync must count, independently (see [`truth`]).
//!
//! # Admin API (for the binary; tests use the handle's methods)
//!
//! Ids may be JSON strings or numbers. Mutations answer `{"id": "..."}` or 204.
//!
//! | Request | Does |
//! | --- | --- |
//! | `GET /_fake/world` | guilds with `owner_id`, channels (type, readable, message count, archived), members (with `roles`), roles, emoji, webhooks |
//! | `GET /_fake/role-changes` | accepted role changes in order: `[{guild_id, user_id, role_id, action: "add"/"remove", reason, changed}]` ([`RecordedRoleChange`]) |
//! | `GET /_fake/posts` | `POST /channels/{c}/messages` answered 200, in order: `[{channel_id, message_id, payload, files: [{filename, content_type, size}], nonce, deduplicated}]` ([`RecordedPost`]) |
//! | `GET /_fake/stats`, `POST /_fake/stats/reset`, `GET /_fake/requests` | counters ([`Stats`]) and the request log |
//! | `GET /_fake/recorded` | follow-up calls (files base64) and registered commands per scope |
//! | `GET /_fake/truth?tz=Europe/Paris&since=RFC3339&excluded=1,2&opted_out=3` | ground truth as JSON lines |
//! | `POST /_fake/messages` `{channel_id, author_id, type?, reply_to?, webhook_id?, timestamp?, content?}` | add a message |
//! | `POST`/`DELETE /_fake/reactions` `{channel_id, message_id, user_id, emoji: {id?, name}, burst}` | add/remove a reaction |
//! | `POST /_fake/threads` `{parent_id, name, author_id, from_message_id?}` | create a thread or forum post |
//! | `POST /_fake/threads/{id}/archive`, `/unarchive` | archive state |
//! | `POST /_fake/channels` `{guild_id, type, name, parent_id?}` | create a channel |
//! | `POST /_fake/channels/{id}/access` `{readable}` | give or take the bot's access (403) |
//! | `POST /_fake/members` `{guild_id, bot}` | add a member |
//! | `POST /_fake/members/remove` `{guild_id, user_id}` | the member leaves (their roles too) |
//! | `POST /_fake/roles` `{guild_id, name, permissions?, position?, managed?}` | create a role (default: on top) |
//! | `POST /_fake/roles/{id}` `{permissions?, position?, name?}` | change a role (e.g. take the bot's Manage Roles) |
//! | `POST /_fake/member-roles` `{guild_id, user_id, roles: [...]}` | replace a member's roles |
//! | `POST /_fake/faults` ([`Faults`]), `POST /_fake/inject` ([`Injection`]), `POST /_fake/limits/{realistic,fast,off}` | latency, failures, limits |
//! | `POST /_fake/clock/advance` `{seconds}`, `POST /_fake/token` `{token}` | move the clock, reset the token |
//! | `POST /_fake/oauth/user` `{user_id}` (`null`: nobody) | who is signed in for `/oauth2/authorize` |

#![warn(missing_docs)]

pub mod config;
pub mod generate;
mod limits;
mod multipart;
mod oauth;
pub mod observe;
mod server;
pub mod truth;
pub mod world;

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

pub use config::{
    DEFAULT_CLIENT_SECRET, FakeConfig, Faults, Limit, RateLimits, RouteClass, WorldKnobs,
    WorldSize, default_now,
};
pub use observe::{
    CommandScope, InjectedResponse, Injection, LoggedRequest, RecordedFile, RecordedPost,
    RecordedPostFile, RecordedRoleChange, RecordedWebhookCall, RoleAction, Scope, Stats,
};
pub use truth::{TruthOptions, TruthRecord, ground_truth, write_json_lines};
pub use world::{Emoji, FakeError, NewMessage, NewRole, RoleUpdate, World};

use crate::{limits::LimitState, oauth::OAuthState};

/// Locks a mutex, ignoring poisoning (every critical section leaves the state consistent).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Default)]
pub(crate) struct Recorded {
    pub(crate) webhook_calls: Vec<RecordedWebhookCall>,
    pub(crate) commands: BTreeMap<CommandScope, Vec<serde_json::Value>>,
    pub(crate) original_messages: HashMap<String, u64>,
    /// Interaction tokens that have expired: Discord answers 401 (code 50027) to any call with them.
    pub(crate) expired_tokens: std::collections::HashSet<String>,
    /// Accepted role changes, in order.
    pub(crate) role_changes: Vec<RecordedRoleChange>,
    /// Messages posted with `POST /channels/{c}/messages` (deduplicated repeats included), in order.
    pub(crate) posts: Vec<RecordedPost>,
}

#[derive(Debug)]
pub(crate) struct FaultState {
    pub(crate) faults: Faults,
    pub(crate) injections: VecDeque<Injection>,
}

/// State shared by the handle and the server.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) started: tokio::time::Instant,
    /// The world's `now` at start (kept apart so that the clock never needs the world's lock).
    pub(crate) base_now: DateTime<Utc>,
    pub(crate) clock_offset: Mutex<chrono::Duration>,
    pub(crate) token: Mutex<String>,
    pub(crate) world: Mutex<World>,
    pub(crate) limits: Mutex<LimitState>,
    pub(crate) faults: Mutex<FaultState>,
    pub(crate) stats: Mutex<Stats>,
    pub(crate) log: Mutex<Vec<LoggedRequest>>,
    pub(crate) recorded: Mutex<Recorded>,
    /// Locked after `world` when both are needed.
    pub(crate) oauth: Mutex<OAuthState>,
}

impl Inner {
    /// The world's clock: `now` of the config plus the time since start (plus manual advances).
    pub(crate) fn clock(&self) -> DateTime<Utc> {
        let elapsed = chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default();
        self.base_now + elapsed + *lock(&self.clock_offset)
    }
}

/// A running fake. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeDiscord {
    inner: Arc<Inner>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl FakeDiscord {
    /// Generates the world and starts serving on `config.bind`.
    ///
    /// # Errors
    ///
    /// If the address cannot be bound.
    pub async fn start(config: FakeConfig) -> std::io::Result<Self> {
        let world = generate::generate(config.seed, &config.size.knobs(), config.now);
        Self::start_with_world(config, world).await
    }

    /// Starts serving a given world (e.g. one built by hand); `config.seed` and `config.size` are ignored.
    ///
    /// # Errors
    ///
    /// If the address cannot be bound.
    pub async fn start_with_world(config: FakeConfig, world: World) -> std::io::Result<Self> {
        let oauth = OAuthState::new(
            config.client_secret.clone(),
            config.redirect_uris.clone(),
            OAuthState::default_user(&world),
        );
        let inner = Arc::new(Inner {
            started: tokio::time::Instant::now(),
            base_now: world.now,
            clock_offset: Mutex::new(chrono::Duration::zero()),
            token: Mutex::new(config.token.clone()),
            world: Mutex::new(world),
            limits: Mutex::new(LimitState::new(config.limits.clone())),
            faults: Mutex::new(FaultState {
                faults: config.faults.clone(),
                injections: VecDeque::new(),
            }),
            stats: Mutex::new(Stats::default()),
            log: Mutex::new(Vec::new()),
            recorded: Mutex::new(Recorded::default()),
            oauth: Mutex::new(oauth),
        });
        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let (shutdown, rx) = oneshot::channel::<()>();
        let app = server::router(Arc::clone(&inner));
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "fake Discord server stopped");
            }
        });
        Ok(Self { inner, addr, shutdown: Some(shutdown), server: Some(server) })
    }

    /// The API base URL, e.g. `http://127.0.0.1:40123/api/v10`.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v10", self.addr)
    }

    /// The socket address.
    #[must_use]
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where a web login sends the browser, e.g. `http://127.0.0.1:40123/oauth2/authorize` (Discord's
    /// `https://discord.com/oauth2/authorize`: at the root, outside `/api/v10`).
    #[must_use]
    pub fn authorize_url(&self) -> String {
        format!("http://{}/oauth2/authorize", self.addr)
    }

    /// Where a web login exchanges its code, e.g. `http://127.0.0.1:40123/api/v10/oauth2/token`.
    #[must_use]
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.base_url())
    }

    /// The application's OAuth2 client secret (its client id is [`Self::application_id`]).
    #[must_use]
    pub fn client_secret(&self) -> String {
        lock(&self.inner.oauth).client_secret.clone()
    }

    /// Replaces the registered OAuth2 redirect URIs (empty: any `http`/`https` URI is accepted).
    pub fn set_redirect_uris(&self, uris: Vec<String>) {
        lock(&self.inner.oauth).redirect_uris = uris;
    }

    /// The user signed in to the fake's "browser", who approves authorizations; `None`: nobody, and an
    /// authorization is cancelled (`error=access_denied`).
    #[must_use]
    pub fn oauth_user(&self) -> Option<u64> {
        lock(&self.inner.oauth).signed_in
    }

    /// Signs a user in (or, with `None`, out) for later authorizations. Tokens already issued stay valid.
    ///
    /// # Errors
    ///
    /// [`FakeError::UnknownUser`] for an id that is not a user, [`FakeError::Invalid`] for a bot (bots do
    /// not log in to websites).
    pub fn set_oauth_user(&self, user: Option<u64>) -> Result<(), FakeError> {
        if let Some(id) = user {
            let bot = self.with_world(|w| w.users.get(&id).map(|u| u.bot));
            match bot {
                None => return Err(FakeError::UnknownUser(id)),
                Some(true) => return Err(FakeError::Invalid(format!("user {id} is a bot"))),
                Some(false) => {}
            }
        }
        lock(&self.inner.oauth).signed_in = user;
        Ok(())
    }

    /// The accepted bot token.
    #[must_use]
    pub fn token(&self) -> String {
        lock(&self.inner.token).clone()
    }

    /// Changes the accepted token (the old one then gets 401, like a reset token).
    pub fn set_token(&self, token: impl Into<String>) {
        *lock(&self.inner.token) = token.into();
    }

    /// The application id (also the bot's user id and the OAuth2 client id).
    #[must_use]
    pub fn application_id(&self) -> u64 {
        lock(&self.inner.world).application_id
    }

    /// The world's clock (`now` + time since start + advances).
    #[must_use]
    pub fn clock(&self) -> DateTime<Utc> {
        self.inner.clock()
    }

    /// Moves the world's clock forward (e.g. to add messages on a later day).
    pub fn advance_clock(&self, by: chrono::Duration) {
        *lock(&self.inner.clock_offset) += by;
    }

    /// Reads the world.
    pub fn with_world<R>(&self, read: impl FnOnce(&World) -> R) -> R {
        read(&lock(&self.inner.world))
    }

    /// A copy of the world.
    #[must_use]
    pub fn world(&self) -> World {
        lock(&self.inner.world).clone()
    }

    /// Adds a message (to a channel or thread) and returns its id.
    ///
    /// # Errors
    ///
    /// See [`World::add_message`].
    pub fn add_message(&self, message: &NewMessage) -> Result<u64, FakeError> {
        let clock = self.clock();
        lock(&self.inner.world).add_message(message, clock)
    }

    /// Adds a reaction (normal or burst) by `user`.
    ///
    /// # Errors
    ///
    /// See [`World::add_reaction`].
    pub fn add_reaction(
        &self,
        channel: u64,
        message: u64,
        user: u64,
        emoji: &Emoji,
        burst: bool,
    ) -> Result<(), FakeError> {
        lock(&self.inner.world).add_reaction(channel, message, user, emoji, burst)
    }

    /// Removes a reaction.
    ///
    /// # Errors
    ///
    /// See [`World::remove_reaction`].
    pub fn remove_reaction(
        &self,
        channel: u64,
        message: u64,
        user: u64,
        emoji: &Emoji,
        burst: bool,
    ) -> Result<(), FakeError> {
        lock(&self.inner.world).remove_reaction(channel, message, user, emoji, burst)
    }

    /// Creates a thread (from a message, with a THREAD_CREATED message, or a forum post) and returns its id.
    ///
    /// # Errors
    ///
    /// See [`World::create_thread`].
    pub fn create_thread(
        &self,
        parent: u64,
        name: &str,
        author: u64,
        from_message: Option<u64>,
    ) -> Result<u64, FakeError> {
        let clock = self.clock();
        lock(&self.inner.world).create_thread(parent, name, author, from_message, clock)
    }

    /// Archives or unarchives a thread.
    ///
    /// # Errors
    ///
    /// See [`World::set_archived`].
    pub fn set_archived(&self, thread: u64, archived: bool) -> Result<(), FakeError> {
        let clock = self.clock();
        lock(&self.inner.world).set_archived(thread, archived, clock)
    }

    /// Creates a channel and returns its id.
    ///
    /// # Errors
    ///
    /// See [`World::create_channel`].
    pub fn create_channel(
        &self,
        guild: u64,
        kind: u8,
        name: &str,
        parent: Option<u64>,
    ) -> Result<u64, FakeError> {
        let clock = self.clock();
        lock(&self.inner.world).create_channel(guild, kind, name, parent, clock)
    }

    /// Gives or takes the bot's access to a channel (unreadable channels answer 403).
    ///
    /// # Errors
    ///
    /// Unknown channel.
    pub fn set_channel_readable(&self, channel: u64, readable: bool) -> Result<(), FakeError> {
        lock(&self.inner.world).set_readable(channel, readable)
    }

    /// Adds a member (human or bot) and returns its id.
    ///
    /// # Errors
    ///
    /// Unknown guild.
    pub fn add_member(&self, guild: u64, bot: bool) -> Result<u64, FakeError> {
        let clock = self.clock();
        lock(&self.inner.world).add_member(guild, bot, clock)
    }

    /// Removes a guild (deleted, or the bot removed from it): it leaves `GET /users/@me/guilds`, and its
    /// routes and its channels' answer 404.
    ///
    /// # Errors
    ///
    /// Unknown guild.
    pub fn remove_guild(&self, guild: u64) -> Result<(), FakeError> {
        lock(&self.inner.world).remove_guild(guild)
    }

    /// Replaces the random faults.
    pub fn set_faults(&self, faults: Faults) {
        lock(&self.inner.faults).faults = faults;
    }

    /// Queues a forced answer for upcoming requests.
    pub fn inject(&self, injection: Injection) {
        lock(&self.inner.faults).injections.push_back(injection);
    }

    /// Replaces the enforced rate limits (windows restart).
    pub fn set_limits(&self, limits: RateLimits) {
        *lock(&self.inner.limits) = LimitState::new(limits);
    }

    /// Request counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        lock(&self.inner.stats).clone()
    }

    /// Every API request received, in order.
    #[must_use]
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        lock(&self.inner.log).clone()
    }

    /// Clears counters and the request log.
    pub fn reset_stats(&self) {
        *lock(&self.inner.stats) = Stats::default();
        lock(&self.inner.log).clear();
    }

    /// Adds a role with `permissions` to a guild; returns its id.
    ///
    /// # Errors
    /// When the guild does not exist.
    pub fn add_role(&self, guild: u64, permissions: u64) -> Result<u64, FakeError> {
        let clock = self.inner.clock();
        let mut world = lock(&self.inner.world);
        let id = world.ids.next(clock);
        let roles = &mut world
            .guilds
            .get_mut(&guild)
            .ok_or_else(|| FakeError::Invalid(format!("no guild {guild}")))?
            .roles;
        // Above every other role, as a role created in Discord's settings starts out.
        let position = roles.iter().map(|r| r.position).max().unwrap_or(0) + 1;
        roles.push(world::Role {
            id,
            permissions,
            position,
            name: format!("role-{position}"),
            managed: false,
        });
        Ok(id)
    }

    /// Creates a role in a guild (an id from the world's generator) and returns its id.
    ///
    /// # Errors
    ///
    /// See [`World::create_role`].
    pub fn create_role(&self, guild: u64, role: &NewRole) -> Result<u64, FakeError> {
        let clock = self.clock();
        lock(&self.inner.world).create_role(guild, role, clock)
    }

    /// Changes a role's permissions, position or name.
    ///
    /// # Errors
    ///
    /// See [`World::update_role`].
    pub fn update_role(&self, role: u64, update: &RoleUpdate) -> Result<(), FakeError> {
        lock(&self.inner.world).update_role(role, update)
    }

    /// Replaces a member's roles (`@everyone` not listed).
    ///
    /// # Errors
    ///
    /// See [`World::set_member_roles`].
    pub fn set_member_roles(
        &self,
        guild: u64,
        user: u64,
        roles: &std::collections::BTreeSet<u64>,
    ) -> Result<(), FakeError> {
        lock(&self.inner.world).set_member_roles(guild, user, roles)
    }

    /// A member leaves a guild: later member and role calls about them get 404 Unknown Member.
    ///
    /// # Errors
    ///
    /// See [`World::remove_member`].
    pub fn remove_member(&self, guild: u64, user: u64) -> Result<(), FakeError> {
        lock(&self.inner.world).remove_member(guild, user)
    }

    /// Role changes the API accepted (no-ops included, flagged), in order.
    #[must_use]
    pub fn role_changes(&self) -> Vec<RecordedRoleChange> {
        lock(&self.inner.recorded).role_changes.clone()
    }

    /// Calls to `POST /channels/{c}/messages` answered 200, in order: each created message, and each repeat
    /// of a `nonce` with `enforce_nonce` answered with the earlier message (flagged `deduplicated`).
    #[must_use]
    pub fn posted_messages(&self) -> Vec<RecordedPost> {
        lock(&self.inner.recorded).posts.clone()
    }

    /// Replaces a channel's permission overwrites.
    ///
    /// # Errors
    /// When the channel does not exist.
    pub fn set_overwrites(
        &self,
        channel: u64,
        overwrites: Vec<world::PermissionOverwrite>,
    ) -> Result<(), FakeError> {
        let mut world = lock(&self.inner.world);
        let channel = world
            .channels
            .get_mut(&channel)
            .ok_or_else(|| FakeError::Invalid(format!("no channel {channel}")))?;
        channel.overwrites = overwrites;
        Ok(())
    }

    /// Makes an interaction token expire, as Discord's do 15 minutes after the interaction: every later
    /// webhook call with it gets `401 Invalid Webhook Token` (code 50027).
    pub fn expire_interaction_token(&self, token: impl Into<String>) {
        lock(&self.inner.recorded).expired_tokens.insert(token.into());
    }

    /// Follow-up calls received (edits of the original response and follow-up messages), in order.
    #[must_use]
    pub fn webhook_calls(&self) -> Vec<RecordedWebhookCall> {
        lock(&self.inner.recorded).webhook_calls.clone()
    }

    /// The commands currently registered in a scope (as returned to the client), if any PUT happened.
    #[must_use]
    pub fn commands(&self, scope: CommandScope) -> Option<Vec<serde_json::Value>> {
        lock(&self.inner.recorded).commands.get(&scope).cloned()
    }

    /// What a correct sync must count (see [`truth`]).
    #[must_use]
    pub fn ground_truth(&self, options: &TruthOptions) -> Vec<TruthRecord> {
        truth::ground_truth(&lock(&self.inner.world), options)
    }

    /// Messages a correct sync must count per (guild, day, local hour, channel) (see [`truth`]).
    #[must_use]
    pub fn hourly_truth(&self, options: &TruthOptions) -> Vec<truth::HourTruthRecord> {
        truth::hourly_truth(&lock(&self.inner.world), options)
    }

    /// Participation per (guild, day) a correct store must report (see [`truth`]).
    #[must_use]
    pub fn insights_truth(&self, options: &TruthOptions) -> Vec<truth::InsightsTruthRecord> {
        truth::insights_truth(&lock(&self.inner.world), options)
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
