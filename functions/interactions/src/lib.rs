//! The Discord interactions endpoint, as a Lambda function behind a function URL.
//!
//! [`App::handle`] takes one HTTP request and the current time and returns the HTTP response: 405 for a
//! method other than POST, 413 for an oversized body, 401 for any request whose Ed25519 signature does not
//! verify over the exact bytes received (checked before any JSON parsing), 400 for a verified body that is
//! not an interaction, and otherwise 200 with an interaction response. Slash commands are routed by name
//! through a [`CommandRegistry`]; a failing or unknown command becomes an ephemeral message, never a 5xx.
//!
//! The engagement commands (`/stats`, `/channel-stats`, `/leaderboard`, `/activity`, `/export`,
//! `/engagement-config …`, `/engagement privacy …`) are registered by [`engagement_registry`]: short
//! reports are answered from DynamoDB at once, long ones, charts, exports and erasure are answered DEFERRED
//! and handed to the followup function through a [`engagement_commands::FollowupInvoker`]
//! ([`invoke::LambdaInvoker`] in AWS).
//!
//! `main.rs` only wires logging, [`EndpointSettings::from_env`], [`CommandSettings::from_env`], the AWS clients and
//! the Lambda runtime around [`App::handle`].

pub mod endpoint;
pub mod handlers;
pub mod invoke;
pub mod lenient;
pub mod response;
pub mod services;
pub mod settings;
pub mod signature;

pub use endpoint::{App, Rejection};
pub use handlers::{CommandContext, CommandError, CommandHandler, CommandRegistry, handler_fn};
pub use services::{Services, engagement_registry};
pub use settings::{CommandSettings, EndpointSettings};
pub use signature::{SignatureError, SignatureVerifier};
