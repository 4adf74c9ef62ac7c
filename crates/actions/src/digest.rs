//! Posting the digest (`/engagement-config digest set`) after a guild's sync, exactly once per period.
//!
//! The post due at the latest due time by now (see `engagement_domain::digest`) is made once:
//! 1. the run claims it: the guild's digest state (`DIGEST`) moves to that due day with the run's start
//!    time, conditionally on the revision read, so of two overlapping runs one posts;
//! 2. it builds the digest (the same [`Reporter`] as `/engagement-config digest preview`, for the public
//!    audience) and posts it with `nonce` and `enforce_nonce` (a retried request returns the first
//!    message) and `allowed_mentions` empty;
//! 3. it records the message.
//!
//! A run killed between 1 and 3 leaves the post claimed but unrecorded: for [`POSTING_HOLD_MS`] no other
//! run touches it, then the next run looks for the bot's post in the channel since the claim, records it
//! if it is there, and posts only if it is not. A run that misses the hour posts late, up to the next
//! due time. A post Discord refuses (no access to the channel, a missing permission) is recorded with its
//! reason, shown by `show`, and tried again an hour later.

use std::future::Future;

use chrono::{DateTime, Utc};
use engagement_commands::report::digest;
use engagement_commands::{AnswerError, Reply, Reporter};
use engagement_discord::model::{AttachmentFile, MessageType};
use engagement_discord::{DiscordClient, ErrorKind, Id, MessagePosition};
use engagement_domain::{Audience, ChannelId, GuildConfig, GuildId, UserId, digest::nonce};
use engagement_store::{CounterStore, DigestState, StoreErrorKind};

use crate::ActionError;

/// How long a claimed, unrecorded post is left to the run that claimed it.
pub const POSTING_HOLD_MS: u64 = 10 * 60 * 1000;
/// How long after a refused post it is tried again.
pub const REFUSED_RETRY_MS: u64 = 60 * 60 * 1000;

/// What posting needs from Discord.
pub trait PostGateway: Send + Sync {
    /// The bot's own user id.
    fn bot_user(&self) -> impl Future<Output = Result<UserId, ActionError>> + Send;

    /// Posts `reply` in `channel` with `nonce` (and `enforce_nonce`); returns the message's id.
    fn post(
        &self,
        channel: ChannelId,
        reply: &Reply,
        nonce: &str,
    ) -> impl Future<Output = Result<u64, ActionError>> + Send;

    /// Ids of the plain messages (not replies to commands) `author` posted in `channel` after the
    /// snowflake `after`, up to 100.
    fn posts_after(
        &self,
        channel: ChannelId,
        author: UserId,
        after: u64,
    ) -> impl Future<Output = Result<Vec<u64>, ActionError>> + Send;
}

/// How a digest run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DigestOutcome {
    /// No digest is set.
    NotSet,
    /// Nothing is due that was not posted (or tried, when refused, within the hour).
    NotDue,
    /// Posted as this message.
    Posted(u64),
    /// A stopped run's post was found in the channel and recorded: nothing was posted again.
    Recovered(u64),
    /// Another run is posting it.
    Busy,
    /// Discord refused the post (the reason); tried again in an hour.
    Refused(String),
    /// The post failed for now (after the client's retries); the next run sees to it.
    Failed(String),
}

/// One run's digest posting.
#[derive(Debug)]
pub struct DigestRun<'a, G> {
    store: &'a CounterStore,
    gateway: &'a G,
    reporter: Reporter<CounterStore>,
    now: DateTime<Utc>,
    /// Post the latest digest even if the schedule was set after it was due (`engagement actions`).
    force: bool,
}

impl<'a, G: PostGateway> DigestRun<'a, G> {
    /// A run at `now`; with `force`, the latest digest due is posted (once) even if the schedule was set
    /// after it was due.
    #[must_use]
    pub fn new(store: &'a CounterStore, gateway: &'a G, now: DateTime<Utc>, force: bool) -> Self {
        Self { store, gateway, reporter: Reporter::new(store.clone()), now, force }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.now.timestamp_millis()).unwrap_or(0)
    }

    /// Posts the guild's digest if one is due and not posted.
    ///
    /// # Errors
    /// Store failures, and Discord failures that stop every call; other Discord failures are
    /// [`DigestOutcome::Failed`].
    pub async fn post_due(
        &self,
        guild: GuildId,
        config: &GuildConfig,
    ) -> Result<DigestOutcome, ActionError> {
        let Some(schedule) = config.digest else { return Ok(DigestOutcome::NotSet) };
        let due = if self.force {
            Some(schedule.latest_due(self.now, config.time_zone))
        } else {
            schedule.post_due(self.now, config.time_zone)
        };
        let Some(due) = due else { return Ok(DigestOutcome::NotDue) };
        let mut state = self.store.digest_state(guild).await?;
        let now_ms = self.now_ms();
        if state.due == Some(due) {
            if state.message_id.is_some() {
                return Ok(DigestOutcome::NotDue);
            }
            let waited = now_ms.saturating_sub(state.attempt_ms);
            if state.problem.is_some() {
                if waited < REFUSED_RETRY_MS {
                    return Ok(DigestOutcome::NotDue);
                }
            } else {
                if waited < POSTING_HOLD_MS {
                    return Ok(DigestOutcome::Busy);
                }
                // A run claimed this post and stopped: did the post land?
                let bot = self.gateway.bot_user().await?;
                let since = engagement_domain::snowflake::from_time(
                    DateTime::from_timestamp_millis(i64::try_from(state.attempt_ms).unwrap_or(0))
                        .unwrap_or_default(),
                )
                .saturating_sub(1);
                let found = self.gateway.posts_after(schedule.channel, bot, since).await;
                if let Some(&message) = found?.first() {
                    state.message_id = Some(message);
                    return Ok(match self.write(guild, &mut state).await? {
                        true => DigestOutcome::Recovered(message),
                        false => DigestOutcome::Busy,
                    });
                }
            }
        }
        state.due = Some(due);
        state.attempt_ms = now_ms;
        state.message_id = None;
        state.problem = None;
        if !self.write(guild, &mut state).await? {
            return Ok(DigestOutcome::Busy);
        }
        let request = digest::request(guild, UserId(0), &schedule, due, config.time_zone, self.now);
        // A digest that cannot be built leaves the claim: a later run tries again.
        let reply = self
            .reporter
            .answer(&request, config, &Audience::Public)
            .await
            .map_err(|e: AnswerError| ActionError::Report(e.to_string()))?;
        match self.gateway.post(schedule.channel, &reply, &nonce(guild, due)).await {
            Ok(message) => {
                state.message_id = Some(message);
                self.write(guild, &mut state).await?;
                tracing::info!(%guild, %due, message, "digest posted");
                Ok(DigestOutcome::Posted(message))
            }
            Err(ActionError::Discord(e)) if refused(&e) => {
                let reason = format!("Discord refused the post in <#{}>: {e}", schedule.channel);
                tracing::warn!(%guild, %due, %reason, "digest not posted");
                state.problem = Some(reason.clone());
                self.write(guild, &mut state).await?;
                Ok(DigestOutcome::Refused(reason))
            }
            Err(e) if e.is_fatal() => Err(e),
            Err(e) => {
                // Whether it landed is unknown: the claim stays, and a later run looks for the post.
                tracing::warn!(%guild, %due, error = %e, "digest post failed");
                Ok(DigestOutcome::Failed(e.to_string()))
            }
        }
    }

    /// Writes the state; `false` when another run wrote it since this one read it.
    async fn write(&self, guild: GuildId, state: &mut DigestState) -> Result<bool, ActionError> {
        match self.store.put_digest_state(guild, state).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == StoreErrorKind::Conflict => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether Discord refused the post for good: no access to the channel, a missing permission.
fn refused(error: &engagement_discord::Error) -> bool {
    matches!(error.kind(), ErrorKind::NoAccess { .. } | ErrorKind::Api { status: 403 | 404, .. })
}

fn id<M>(raw: u64) -> Result<Id<M>, ActionError> {
    Id::new_checked(raw).ok_or(ActionError::InvalidId(raw))
}

impl PostGateway for DiscordClient {
    async fn bot_user(&self) -> Result<UserId, ActionError> {
        Ok(UserId(self.current_user().await?.id))
    }

    async fn post(
        &self,
        channel: ChannelId,
        reply: &Reply,
        nonce: &str,
    ) -> Result<u64, ActionError> {
        let mut payload = serde_json::to_value(reply.message())
            .map_err(|e| ActionError::Report(e.to_string()))?;
        if let Some(object) = payload.as_object_mut() {
            object.insert("nonce".to_owned(), nonce.into());
            object.insert("enforce_nonce".to_owned(), true.into());
        }
        let files: Vec<AttachmentFile> = reply
            .files
            .iter()
            .map(|f| AttachmentFile {
                filename: f.filename.clone(),
                content_type: f.content_type.clone(),
                data: f.data.clone(),
            })
            .collect();
        let sent = self.create_message(id(channel.get())?, &payload, &files).await?;
        Ok(sent.id.get())
    }

    async fn posts_after(
        &self,
        channel: ChannelId,
        author: UserId,
        after: u64,
    ) -> Result<Vec<u64>, ActionError> {
        let page =
            self.channel_messages(id(channel.get())?, MessagePosition::After(after), 100).await?;
        Ok(page
            .iter()
            .filter(|m| m.author.id.get() == author.get() && m.kind == MessageType::Regular)
            .map(|m| m.id.get())
            .collect())
    }
}
