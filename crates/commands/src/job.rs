//! The work handed from the interactions function to the followup function, and the port that hands it
//! over.
//!
//! The interactions function answers DEFERRED at once and invokes followup asynchronously with a
//! [`FollowupJob`]; followup computes the reply and edits the deferred message (`@original`) with the
//! interaction token. In AWS the port is a Lambda `Invoke` with `InvocationType::Event`; tests substitute
//! an in-process invoker that runs the followup handler directly.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use engagement_domain::{ActivityRole, Audience, GuildId, RoleId, UserId};
use serde::{Deserialize, Serialize};

use crate::request::ReportRequest;

/// What the followup function does with one interaction.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FollowupJob {
    /// The application (for the webhook URL).
    pub application_id: u64,
    /// The interaction token: valid for 15 minutes, a credential (never logged; `Debug` leaves it out).
    pub token: String,
    /// When the interaction arrived (Unix ms): a job older than the token is dropped.
    pub requested_at_ms: u64,
    /// Whether the deferred reply is ephemeral (for the record: the edit cannot change it).
    pub ephemeral: bool,
    /// The work.
    pub work: Work,
}

/// The work of a [`FollowupJob`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Work {
    /// Build a report and show it.
    Report {
        /// The validated request.
        request: ReportRequest,
        /// Who will read the reply (which channels it may draw on). Missing in a job written before
        /// audiences existed: the narrowest, [`Audience::Public`].
        #[serde(default)]
        audience: Audience,
    },
    /// `/engagement-config activity-role add` (the checks that need the guild's roles) and `preview`.
    ActivityRole {
        /// The guild.
        guild: GuildId,
        /// The roles of the member who asked (an `add` must be of a role below their highest).
        asker_roles: Vec<RoleId>,
        /// Their guild permissions (Administrators may add any role the bot can manage).
        asker_permissions: u64,
        /// What to do.
        task: RoleTask,
    },
    /// `/engagement privacy erase`: erase a member's counters in a guild, then confirm.
    Erase {
        /// The guild.
        guild: GuildId,
        /// The member (always the one who ran the command).
        member: UserId,
    },
}

impl fmt::Debug for FollowupJob {
    // Not derived: the token is a credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FollowupJob")
            .field("application_id", &self.application_id)
            .field("requested_at_ms", &self.requested_at_ms)
            .field("ephemeral", &self.ephemeral)
            .field("work", &self.work)
            .finish_non_exhaustive()
    }
}

/// What a [`Work::ActivityRole`] job does.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "task")]
pub enum RoleTask {
    /// Check the rule against the guild's roles and save it.
    Add {
        /// The rule.
        rule: ActivityRole,
    },
    /// Show who would gain and lose the role now.
    Preview {
        /// The rule's role.
        role: RoleId,
    },
}

/// The boxed future an invoker returns.
pub type InvokeFuture<'a> = Pin<Box<dyn Future<Output = Result<(), InvokeError>> + Send + 'a>>;

/// Starts the followup function for a job, without waiting for it to finish.
pub trait FollowupInvoker: Send + Sync + 'static {
    /// Hands `job` over. `Ok` means the job was accepted and will run; the caller then answers DEFERRED.
    fn invoke<'a>(&'a self, job: &'a FollowupJob) -> InvokeFuture<'a>;
}

/// The job could not be handed over: the user is told at once, instead of being left with "thinking…".
#[derive(Debug, thiserror::Error)]
#[error("could not start the followup function: {message}")]
pub struct InvokeError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl InvokeError {
    /// An error described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), source: None }
    }

    /// An error described by `message`, caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self { message: message.into(), source: Some(source.into()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_as_json_and_never_show_the_token_in_debug() -> Result<(), serde_json::Error>
    {
        let job = FollowupJob {
            application_id: 1,
            token: "secret-token".to_owned(),
            requested_at_ms: 5,
            ephemeral: true,
            work: Work::Erase { guild: GuildId(2), member: UserId(3) },
        };
        let json = serde_json::to_string(&job)?;
        assert_eq!(serde_json::from_str::<FollowupJob>(&json)?, job);
        assert!(json.contains(r#""kind":"erase""#), "{json}");
        assert!(!format!("{job:?}").contains("secret-token"));
        Ok(())
    }
}
