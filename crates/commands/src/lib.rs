//! The slash commands of discord-engagement, shared by the two functions that answer them.
//!
//! - [`definition`]: the commands as registered with Discord (names, options, choices, permissions).
//! - [`request`]: validated report requests and the periods they cover.
//! - [`report`]: the replies, built from the counter store: member stats, channel stats, leaderboards,
//!   the activity chart, the CSV export.
//! - [`job`]: the work the interactions function hands to the followup function, and the invoker port.
//! - [`reply`] and [`format`]: embeds and text; every reply turns pings off.
//! - [`roles`]: the replies of `/engagement-config activity-role`.
//! - [`holds`]: cooldowns and the erasure-in-progress claim on one member's heavy work.
//!
//! The interactions function answers short reports at once and defers the rest (long periods, charts,
//! exports, erasure) to the followup function, which calls the same [`report::Reporter`]: an answer reads
//! the same whichever function built it.

pub mod definition;
pub mod format;
pub mod holds;
pub mod job;
pub mod reply;
pub mod report;
pub mod request;
pub mod roles;
pub mod visibility;

#[cfg(feature = "chart")]
pub mod chart;

pub use job::{FollowupInvoker, FollowupJob, InvokeError, RoleTask, Work};
pub use reply::{Reply, ReplyFile};
pub use report::{AnswerError, Reporter};
pub use request::{ActivityView, Ranked, Report, ReportPeriod, ReportRequest};
