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
//! A run killed between 1 and 3 leaves the post claimed but unrecorded: for [`POSTING_HOLD_MS`] (wall
//! clock) no other run touches it, then the next run looks for the bot's post in the channel of the
//! claim since the claim, records it if it is there, and posts only if it is not. A post is made only
//! once a sync that read every channel started after it was due (its days are counted), and never
//! after a later one was started. A run that misses the hour posts late, up to the next due time. A
//! post Discord refuses (no access to the channel, a missing permission, a message it will not take)
//! is recorded with its reason, shown by `show`, and looked at again an hour later.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

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
    /// Due, but no sync has read every channel since it was due: the days it covers may not all be
    /// counted yet.
    Waiting,
    /// Discord refused the post (the reason); tried again in an hour.
    Refused(String),
    /// The post failed for now (after the client's retries); the next run sees to it.
    Failed(String),
}

/// One run's digest posting.
pub struct DigestRun<'a, G> {
    store: &'a CounterStore,
    gateway: &'a G,
    reporter: Reporter<CounterStore>,
    now: DateTime<Utc>,
    /// Post the latest digest even if the schedule was set after it was due (`engagement actions`).
    force: bool,
    clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
}

impl<G> fmt::Debug for DigestRun<'_, G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestRun")
            .field("now", &self.now)
            .field("force", &self.force)
            .finish_non_exhaustive()
    }
}

impl<'a, G: PostGateway> DigestRun<'a, G> {
    /// A run at `now`; with `force`, the latest digest due is posted (once) even if the schedule was set
    /// after it was due.
    #[must_use]
    pub fn new(store: &'a CounterStore, gateway: &'a G, now: DateTime<Utc>, force: bool) -> Self {
        Self {
            store,
            gateway,
            reporter: Reporter::new(store.clone()),
            now,
            force,
            clock: Arc::new(Utc::now),
        }
    }

    /// Uses `clock` instead of the wall clock for the claim's hold (tests, against a fake Discord's
    /// clock).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>) -> Self {
        self.clock = clock;
        self
    }

    /// The wall clock: how long a claim has been held is real time, whenever the run started.
    fn wall_ms(&self) -> u64 {
        u64::try_from((self.clock)().timestamp_millis()).unwrap_or(0)
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
        // Only once the days it covers are counted: a sync that read every channel started after the
        // post was due (the days end at the due day's start, before its hour).
        let counted_to = self.store.last_synced(guild).await?.unwrap_or(0);
        let due_ms =
            u64::try_from(schedule.due_at(due, config.time_zone).timestamp_millis()).unwrap_or(0);
        if counted_to < due_ms {
            return Ok(DigestOutcome::Waiting);
        }
        let mut state = self.store.digest_state(guild).await?;
        // A later post was started (by a run with a later clock, or in another time zone): this one is
        // superseded, never posted after it.
        if state.due.is_some_and(|started| started > due)
            || (state.due == Some(due) && state.message_id.is_some())
        {
            return Ok(DigestOutcome::NotDue);
        }
        let wall_ms = self.wall_ms();
        if state.due == Some(due) {
            let hold = if state.problem.is_some() { REFUSED_RETRY_MS } else { POSTING_HOLD_MS };
            if wall_ms.saturating_sub(state.attempt_ms) < hold {
                return Ok(if state.problem.is_some() {
                    DigestOutcome::NotDue
                } else {
                    DigestOutcome::Busy
                });
            }
            // Claimed and not recorded (a run stopped, or the post failed or was refused): did a post
            // land in the channel the claim was made for?
            let channel = state.channel.unwrap_or(schedule.channel);
            let since = engagement_domain::snowflake::from_time(
                DateTime::from_timestamp_millis(i64::try_from(state.attempt_ms).unwrap_or(0))
                    .unwrap_or_default(),
            )
            .saturating_sub(1);
            let found = match self.gateway.bot_user().await {
                Ok(bot) => self.gateway.posts_after(channel, bot, since).await,
                Err(e) => Err(e),
            };
            match found {
                Ok(found) => {
                    if let Some(&message) = found.first() {
                        state.message_id = Some(message);
                        state.problem = None;
                        if !self.write(guild, &mut state).await? {
                            return Ok(DigestOutcome::Busy);
                        }
                        return Ok(DigestOutcome::Recovered(message));
                    }
                }
                Err(ActionError::Discord(e)) if refused(&e) => {
                    // The channel cannot be read: the post may be there. Looked at again in an hour.
                    let reason =
                        format!("the bot cannot read <#{channel}> to check for its post: {e}");
                    return self.refuse(guild, &mut state, reason, wall_ms).await;
                }
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => return Ok(DigestOutcome::Failed(e.to_string())),
            }
        }
        state.due = Some(due);
        state.channel = Some(schedule.channel);
        state.attempt_ms = wall_ms;
        state.message_id = None;
        state.problem = None;
        if !self.write(guild, &mut state).await? {
            return Ok(DigestOutcome::Busy);
        }
        let request = digest::request(guild, UserId(0), &schedule, due, config.time_zone, self.now);
        // A digest that cannot be built leaves the claim: a later run tries again.
        // Boxed: building a report (reads and the chart) is a large future.
        let reply = Box::pin(self.reporter.answer(&request, config, &Audience::Public))
            .await
            .map_err(|e: AnswerError| ActionError::Report(e.to_string()))?;
        match self.gateway.post(schedule.channel, &reply, &nonce(guild, due)).await {
            Ok(message) => {
                state.message_id = Some(message);
                if !self.write(guild, &mut state).await? {
                    // Posted all the same; a run that looks for it later finds it.
                    tracing::warn!(%guild, %due, "the digest was posted but its record changed meanwhile");
                }
                tracing::info!(%guild, %due, message, "digest posted");
                Ok(DigestOutcome::Posted(message))
            }
            Err(ActionError::Discord(e)) if refused(&e) => {
                let reason = format!("Discord refused the post in <#{}>: {e}", schedule.channel);
                self.refuse(guild, &mut state, reason, wall_ms).await
            }
            Err(e) if e.is_fatal() => Err(e),
            Err(e) => {
                // Whether it landed is unknown: the claim stays, and a later run looks for the post.
                tracing::warn!(%guild, %due, error = %e, "digest post failed");
                Ok(DigestOutcome::Failed(e.to_string()))
            }
        }
    }

    /// Records why the post could not be made; it is looked at again an hour later.
    async fn refuse(
        &self,
        guild: GuildId,
        state: &mut DigestState,
        reason: String,
        wall_ms: u64,
    ) -> Result<DigestOutcome, ActionError> {
        tracing::warn!(%guild, due = ?state.due, %reason, "digest not posted");
        state.problem = Some(reason.clone());
        state.attempt_ms = wall_ms;
        self.write(guild, state).await?;
        Ok(DigestOutcome::Refused(reason))
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

/// Whether Discord refused for good (nothing was created): no access to the channel, a missing
/// permission, a message it will not take. Rate limits and timeouts are not refusals.
fn refused(error: &engagement_discord::Error) -> bool {
    match error.kind() {
        ErrorKind::NoAccess { .. } => true,
        ErrorKind::Api { status, .. } => {
            (400..500).contains(status) && ![408, 429].contains(status)
        }
        _ => false,
    }
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
