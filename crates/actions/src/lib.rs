//! What the bot does with the counts: activity roles given and taken, and digests posted, by the
//! scheduled function after each guild's sync and by `engagement actions`.
//!
//! - [`gateway`]: the Discord calls roles need, behind a small trait (the client implements it; tests
//!   wrap it to stop a run after any call).
//! - [`roles`]: checking, previewing and applying the rules of `/engagement-config activity-role`.
//! - [`digest`]: posting the digest of `/engagement-config digest`, exactly once per period.
//!
//! The decisions (who qualifies, what changes, whether the bot may manage a role) are pure functions in
//! `engagement_domain::roles`; this crate does the reads, calls and writes around them.

pub mod digest;
pub mod gateway;
pub mod roles;

pub use digest::{DigestOutcome, DigestRun, PostGateway};
pub use gateway::RoleGateway;
pub use roles::{Preview, RoleRun, RuleOutcome, RuleStatus};

/// Why an action could not go on.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The counter store failed.
    #[error(transparent)]
    Store(#[from] engagement_store::StoreError),
    /// Discord failed.
    #[error(transparent)]
    Discord(#[from] engagement_discord::Error),
    /// An id that cannot be a Discord id (zero).
    #[error("{0} is not a valid Discord id")]
    InvalidId(u64),
    /// The digest could not be built.
    #[error("the digest could not be built: {0}")]
    Report(String),
}

impl ActionError {
    /// Whether no further Discord call can succeed in this process (a bad token, the invalid-request
    /// budget spent): the caller should stop everything, not just this rule.
    #[must_use]
    pub const fn is_fatal(&self) -> bool {
        matches!(self, Self::Discord(e) if e.is_fatal())
    }
}
