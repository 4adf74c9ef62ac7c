//! Client configuration. The client reads no environment itself: `engagement-bot-token` builds this at
//! start-up from the `DISCORD_*` variables named here.

use std::{fmt, sync::Arc, time::Duration};

use crate::ratelimit::RateLimiterConfig;

/// Discord's API base for API version 10.
pub const DEFAULT_API_BASE: &str = "https://discord.com/api/v10";

/// The User-Agent Discord asks bots to send.
pub const USER_AGENT: &str = concat!(
    "DiscordBot (https://github.com/discord-engagement/discord-engagement, ",
    env!("CARGO_PKG_VERSION"),
    ")"
);

/// Environment variable holding the bot token.
pub const ENV_TOKEN: &str = "DISCORD_BOT_TOKEN";
/// Environment variable holding the API base URL (tests and the local demo point it at the fake).
pub const ENV_API_BASE: &str = "DISCORD_API_BASE";
/// Environment variable overriding the global requests-per-second share of this process.
pub const ENV_GLOBAL_LIMIT: &str = "DISCORD_GLOBAL_RATE_LIMIT";
/// Environment variable overriding the invalid-request budget.
pub const ENV_INVALID_REQUEST_BUDGET: &str = "DISCORD_INVALID_REQUEST_BUDGET";

/// A bot token. Its `Debug` output is redacted and it has no `Display`, so it cannot end up in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct BotToken(Arc<str>);

impl BotToken {
    /// Wraps a token; a leading `Bot ` is accepted and removed.
    #[must_use]
    pub fn new(token: impl AsRef<str>) -> Self {
        let token = token.as_ref().trim();
        let token = token.strip_prefix("Bot ").unwrap_or(token).trim();
        Self(Arc::from(token))
    }

    /// The raw token, for building the `Authorization` header.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BotToken(<redacted>)")
    }
}

/// Configuration of a [`DiscordClient`](crate::DiscordClient).
#[derive(Clone, Debug)]
pub struct DiscordConfig {
    /// The bot token.
    pub token: BotToken,
    /// API base URL without trailing slash, e.g. [`DEFAULT_API_BASE`].
    pub api_base: String,
    /// User-Agent header.
    pub user_agent: String,
    /// Timeout of one attempt, from sending to the end of the body.
    pub request_timeout: Duration,
    /// Timeout for establishing a connection.
    pub connect_timeout: Duration,
    /// Attempts per call when Discord answers 5xx or times out (1 = no retry). `POST` requests are only
    /// retried when the connection could not be made, since Discord may have acted on them.
    pub max_attempts: u32,
    /// First backoff delay; doubled per attempt, with jitter.
    pub backoff_base: Duration,
    /// Largest backoff delay.
    pub backoff_max: Duration,
    /// 429 answers tolerated per call before giving up with [`ErrorKind::RateLimited`].
    pub max_rate_limit_retries: u32,
    /// Longest `retry_after` the client waits for; a longer one fails the call with
    /// [`ErrorKind::RateLimited`] so a time-boxed caller can stop.
    pub max_rate_limit_wait: Duration,
    /// Rate limiter tuning.
    pub rate_limits: RateLimiterConfig,
}

impl DiscordConfig {
    /// Defaults for everything but the token.
    #[must_use]
    pub fn new(token: impl AsRef<str>) -> Self {
        Self {
            token: BotToken::new(token),
            api_base: DEFAULT_API_BASE.to_owned(),
            user_agent: USER_AGENT.to_owned(),
            request_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            max_attempts: 4,
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(8),
            max_rate_limit_retries: 5,
            max_rate_limit_wait: Duration::from_secs(60),
            rate_limits: RateLimiterConfig::default(),
        }
    }

    /// Sets the API base URL (a trailing slash is removed).
    #[must_use]
    pub fn with_api_base(mut self, base: impl Into<String>) -> Self {
        self.api_base = base.into().trim().trim_end_matches('/').to_owned();
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn token_never_shows_in_debug() {
        let config = DiscordConfig::new("Bot very-secret-token");
        assert_eq!(config.token.expose(), "very-secret-token");
        let shown = format!("{config:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
    }

    #[test]
    fn user_agent_follows_discords_format() {
        assert_eq!(
            USER_AGENT,
            "DiscordBot (https://github.com/discord-engagement/discord-engagement, 0.1.0)"
        );
    }
}
