//! The followup function: finishes what the interactions function deferred.
//!
//! The interactions function answers DEFERRED (Discord shows "thinking…") and invokes this function
//! asynchronously with a [`FollowupJob`]. [`Followup::handle`] builds the reply with the same
//! [`Reporter`] the interactions function uses for short reports — or erases a member's counters — and
//! edits the deferred message (`PATCH /webhooks/{app}/{token}/messages/@original`), with the chart or the
//! CSV attached. Whatever goes wrong ends as a visible message in that same reply, never as silence.
//!
//! `main.rs` only wires logging, [`Settings`], the clients and the Lambda runtime.

pub mod settings;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::collections::BTreeSet;

use engagement_actions::RoleRun;
use engagement_commands::{
    AnswerError, FollowupJob, Reply, Reporter, RoleTask, Work, holds, roles,
};
use engagement_discord::model::AttachmentFile;
use engagement_discord::{DiscordClient, ErrorKind, Id};
use engagement_domain::roles::MAX_ACTIVITY_ROLES;
use engagement_domain::{Audience, GuildConfig, GuildId, GuildTimeZone, RoleId, UserId};
use engagement_store::{CounterStore, StoreError};

pub use settings::Settings;

/// Shown when a report fails for a reason the user cannot fix.
pub const FAILED_MESSAGE: &str = "Sorry, that answer could not be built (the counters could not be read). Please try again in a minute.";
/// Shown when an erasure did not finish; the Lambda retry (or the user) runs it again.
pub const ERASE_FAILED_MESSAGE: &str = "Erasing your data did not finish. It is retried automatically in \
     about a minute; if this message has not turned into a confirmation after a few minutes, run \
     `/engagement privacy erase` again.";
/// Shown when the erasure is done.
pub const ERASED_MESSAGE: &str = "Everything counted about you in this server has been erased, and you \
     are opted out so nothing new is counted. `/engagement privacy opt-in` lets you be counted again.";

/// Shown when an activity-role command fails for a reason the user cannot fix.
pub const ROLE_FAILED_MESSAGE: &str = "Sorry, that could not be done (Discord or the counters could not \
     be read). Nothing was changed; please try again in a minute.";

/// Discord keeps an interaction token for 15 minutes; a job older than this cannot edit its reply.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Edits of `@original` that get 404 are retried after these delays: the invocation can overtake the
/// deferred response on its way to Discord.
pub const EDIT_RETRY_DELAYS: [Duration; 3] =
    [Duration::from_millis(300), Duration::from_millis(800), Duration::from_secs(2)];

/// What happened to a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The reply was shown.
    Answered,
    /// The request had nothing to show; the explanation was shown.
    Explained,
    /// Building the reply failed; an apology was shown.
    Failed,
    /// The token had expired (too old to try, or Discord refused it): nothing could be shown.
    Expired,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Answered => "answered",
            Self::Explained => "explained",
            Self::Failed => "failed",
            Self::Expired => "expired",
        })
    }
}

/// Whether an edit of `@original` reached the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    Shown,
    /// Discord refused the interaction token, or the job named no application: nothing can be shown.
    Unreachable,
}

/// A job that failed in a way worth retrying (Lambda retries an asynchronous event once, then sends it
/// to the dead-letter queue).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FollowupError {
    /// The reply could not be delivered to Discord.
    #[error("the reply could not be delivered to Discord: {0}")]
    Delivery(#[source] engagement_discord::Error),
    /// An erasure did not finish (the user was told; a retry finishes it).
    #[error("the erasure did not finish: {0}")]
    Erase(#[source] StoreError),
}

impl From<FollowupError> for lambda_runtime::Diagnostic {
    fn from(error: FollowupError) -> Self {
        let error_type = match &error {
            FollowupError::Delivery(_) => "ReplyNotDelivered",
            FollowupError::Erase(_) => "ErasureUnfinished",
        };
        Self { error_type: error_type.to_owned(), error_message: error.to_string() }
    }
}

/// The followup handler: the store, Discord, and the default time zone.
#[derive(Clone, Debug)]
pub struct Followup {
    store: CounterStore,
    reporter: Reporter<CounterStore>,
    discord: DiscordClient,
    default_time_zone: GuildTimeZone,
}

impl Followup {
    /// A handler reading `store` and editing replies through `discord`.
    #[must_use]
    pub fn new(
        store: CounterStore,
        discord: DiscordClient,
        default_time_zone: GuildTimeZone,
    ) -> Self {
        Self { reporter: Reporter::new(store.clone()), store, discord, default_time_zone }
    }

    /// Runs one job at `now`: builds the reply (or erases) and edits the deferred message.
    ///
    /// # Errors
    /// [`FollowupError`] when the reply could not be delivered, or an erasure did not finish: worth a retry.
    pub async fn handle(
        &self,
        job: &FollowupJob,
        now: SystemTime,
    ) -> Result<Outcome, FollowupError> {
        let now_ms = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let age = Duration::from_millis(now_ms.saturating_sub(job.requested_at_ms));
        let expired = age >= TOKEN_LIFETIME;
        match &job.work {
            Work::Report { .. } if expired => {
                tracing::warn!(
                    ?job,
                    age_s = age.as_secs(),
                    "interaction token expired; dropping the job"
                );
                Ok(Outcome::Expired)
            }
            Work::Report { request, audience } => {
                let (reply, outcome) = match self.report(request, audience).await {
                    Ok(reply) => (reply, Outcome::Answered),
                    Err(AnswerError::User(message)) => (Reply::text(message), Outcome::Explained),
                    Err(error) => {
                        tracing::error!(%error, ?job, "report failed");
                        (Reply::text(FAILED_MESSAGE), Outcome::Failed)
                    }
                };
                if self.edit(job, &reply).await? == Delivery::Unreachable {
                    return Ok(Outcome::Expired);
                }
                tracing::info!(?job, %outcome, "report delivered");
                Ok(outcome)
            }
            Work::ActivityRole { .. } if expired => {
                tracing::warn!(
                    ?job,
                    "interaction token expired; dropping the job (nothing was changed)"
                );
                Ok(Outcome::Expired)
            }
            Work::ActivityRole { guild, asker_roles, asker_permissions, task } => {
                let asker_roles: BTreeSet<RoleId> = asker_roles.iter().copied().collect();
                let answer = self
                    .activity_role(*guild, &asker_roles, *asker_permissions, task, now_ms)
                    .await;
                let (reply, outcome) = match answer {
                    Ok(reply) => (reply, Outcome::Answered),
                    Err(AnswerError::User(message)) => (Reply::text(message), Outcome::Explained),
                    Err(error) => {
                        tracing::error!(%error, ?job, "activity role command failed");
                        (Reply::text(ROLE_FAILED_MESSAGE), Outcome::Failed)
                    }
                };
                if self.edit(job, &reply).await? == Delivery::Unreachable {
                    return Ok(Outcome::Expired);
                }
                tracing::info!(?job, %outcome, "activity role answer delivered");
                Ok(outcome)
            }
            // An erasure runs however late it is handed over: only its reply needs the token.
            Work::Erase { guild, member } => {
                let hold_until = job.requested_at_ms.saturating_add(
                    u64::try_from(holds::ERASE_HOLD.as_millis()).unwrap_or(u64::MAX),
                );
                match self.store.erase_member(*guild, *member, now_ms).await {
                    Ok(()) => {
                        tracing::info!(guild = guild.get(), "member erased");
                        self.end_erasure_hold(*guild, *member, now_ms, hold_until, true).await;
                        if expired {
                            return Ok(Outcome::Expired);
                        }
                        match self.edit(job, &Reply::text(ERASED_MESSAGE)).await? {
                            Delivery::Shown => Ok(Outcome::Answered),
                            Delivery::Unreachable => Ok(Outcome::Expired),
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, ?job, "erasure failed");
                        // The member is told to run it again: that must not be refused as "in progress".
                        self.end_erasure_hold(*guild, *member, now_ms, hold_until, false).await;
                        // Tell the user, then fail the invocation so Lambda retries it (erasure is idempotent).
                        if !expired
                            && let Err(delivery) =
                                self.edit(job, &Reply::text(ERASE_FAILED_MESSAGE)).await
                        {
                            tracing::error!(error = %delivery, "could not report the failed erasure");
                        }
                        Err(FollowupError::Erase(error))
                    }
                }
            }
        }
    }

    /// The erasure ended: its in-progress claim (the one this job's request took, held until
    /// `hold_until`: never a later request's) is given back, and when it `succeeded` the cooldown before
    /// the next one starts. Best effort: both run out by themselves.
    async fn end_erasure_hold(
        &self,
        guild: GuildId,
        member: UserId,
        now_ms: u64,
        hold_until: u64,
        succeeded: bool,
    ) {
        let store = &self.store;
        let cooldown = holds::erase_cooldown(member);
        let cooldown_ms = u64::try_from(cooldown.duration.as_millis()).unwrap_or(u64::MAX);
        let result = async {
            if succeeded {
                store.hold(guild, &cooldown.name, now_ms, cooldown_ms).await?;
            }
            store.release_own(guild, &holds::erase_in_progress(member).name, hold_until).await
        };
        if let Err(error) = result.await {
            tracing::warn!(%error, "could not end the erasure's hold");
        }
    }

    /// `/engagement-config activity-role add` (checked against the guild's roles, then saved) and
    /// `preview`.
    async fn activity_role(
        &self,
        guild: GuildId,
        asker_roles: &BTreeSet<RoleId>,
        asker_permissions: u64,
        task: &RoleTask,
        now_ms: u64,
    ) -> Result<Reply, AnswerError> {
        let now = i64::try_from(now_ms)
            .ok()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .unwrap_or_default();
        let run = RoleRun::new(&self.store, &self.discord, now, None, false);
        let default = GuildConfig { time_zone: self.default_time_zone, ..GuildConfig::default() };
        match task {
            RoleTask::Add { rule } => {
                let problem = run
                    .check_new_rule(guild, rule.role, asker_roles, asker_permissions)
                    .await
                    .map_err(AnswerError::read)?;
                if let Some(problem) = problem {
                    return Err(AnswerError::user(format!(
                        "{} cannot be an activity role: {problem}.",
                        roles::mention(rule.role)
                    )));
                }
                let mut full = false;
                let changed = self
                    .store
                    .update_guild_config(guild, &default, |config| {
                        full = false;
                        let rules = &mut config.activity_roles;
                        if let Some(existing) = rules.iter_mut().find(|r| r.role == rule.role) {
                            return std::mem::replace(existing, *rule) != *rule;
                        }
                        if rules.len() >= MAX_ACTIVITY_ROLES {
                            full = true;
                            return false;
                        }
                        rules.push(*rule);
                        true
                    })
                    .await
                    .map_err(AnswerError::read)?;
                if full {
                    return Err(AnswerError::user(format!(
                        "This server has {MAX_ACTIVITY_ROLES} activity roles, the most it may have: \
                         remove one first."
                    )));
                }
                let mention = roles::mention(rule.role);
                Ok(Reply::text(if changed {
                    format!(
                        "Saved: the bot gives {mention} to {} and takes it back from those \
                         it gave it to when they no longer qualify. It never touches the role of members \
                         who got it some other way, and never gives it to members who opted out. The \
                         next sync applies it; `/engagement-config activity-role preview` shows who \
                         would gain and lose it now.",
                        rule.describe()
                    )
                } else {
                    format!("{mention} already goes to {}.", rule.describe())
                }))
            }
            RoleTask::Preview { role } => {
                let stored = self.store.guild_config(guild).await.map_err(AnswerError::read)?;
                let config = stored.unwrap_or(default);
                let Some(rule) = config.activity_roles.iter().find(|r| r.role == *role) else {
                    return Err(AnswerError::user(format!(
                        "{} is no longer an activity role.",
                        roles::mention(*role)
                    )));
                };
                let preview = run.preview(guild, &config, rule).await.map_err(AnswerError::read)?;
                Ok(roles::preview(
                    &preview.rule,
                    &preview.plan,
                    preview.given,
                    preview.problem.as_deref(),
                ))
            }
        }
    }

    async fn report(
        &self,
        request: &engagement_commands::ReportRequest,
        audience: &Audience,
    ) -> Result<Reply, AnswerError> {
        let stored = self.store.guild_config(request.guild).await.map_err(AnswerError::read)?;
        let config = stored.unwrap_or_else(|| GuildConfig {
            time_zone: self.default_time_zone,
            ..GuildConfig::default()
        });
        self.reporter.answer(request, &config, audience).await
    }

    /// Edits `@original` with `reply`, retrying a 404 (the deferred response may not have reached Discord
    /// yet) a few times. A refused interaction token ends the job: no retry can show anything with it,
    /// and the bot token (and every later job) is unaffected.
    async fn edit(&self, job: &FollowupJob, reply: &Reply) -> Result<Delivery, FollowupError> {
        let files: Vec<AttachmentFile> = reply
            .files
            .iter()
            .map(|f| AttachmentFile {
                filename: f.filename.clone(),
                content_type: f.content_type.clone(),
                data: f.data.clone(),
            })
            .collect();
        let Some(application) = Id::new_checked(job.application_id) else {
            tracing::error!(?job, "job without an application id");
            return Ok(Delivery::Unreachable);
        };
        let payload = reply.message();
        let mut delays = EDIT_RETRY_DELAYS.iter();
        loop {
            match self
                .discord
                .edit_original_response(application, &job.token, &payload, &files)
                .await
            {
                Ok(_) => return Ok(Delivery::Shown),
                Err(error) if matches!(error.kind(), ErrorKind::TokenRejected) => {
                    tracing::warn!(?job, %error, "the reply cannot be shown: the job ends here");
                    return Ok(Delivery::Unreachable);
                }
                Err(error) => {
                    let not_yet = matches!(error.kind(), ErrorKind::Api { status: 404, .. });
                    match delays.next() {
                        Some(delay) if not_yet => tokio::time::sleep(*delay).await,
                        _ => return Err(FollowupError::Delivery(error)),
                    }
                }
            }
        }
    }
}
