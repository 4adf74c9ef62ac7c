#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod client;
pub mod config;
mod endpoints;
pub mod error;
pub mod model;
pub mod oauth;
pub mod ratelimit;
pub mod route;

pub use client::{ClientStats, DiscordClient};
pub use config::{BotToken, DiscordConfig};
pub use endpoints::{
    MAX_AUDIT_REASON, MAX_GUILDS_PAGE, MAX_PAGE, MessagePages, MessagePosition, RoleChange,
};
pub use error::{Error, ErrorKind, Result};
pub use ratelimit::{RateLimitScope, RateLimiter, RateLimiterConfig};
pub use twilight_model::id::{Id, marker};
