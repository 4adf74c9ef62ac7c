//! The one error type of this crate: [`Error`] with a [`ErrorKind`] saying what went wrong.

use std::{error::Error as StdError, fmt, time::Duration};

use crate::ratelimit::RateLimitScope;

/// A failed Discord call.
///
/// Match on [`Error::kind`] to decide what to do; the `Display` text is meant for logs and operators.
/// The bot token never appears in it.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Self { kind, source: None }
    }

    pub(crate) fn with_source(
        kind: ErrorKind,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self { kind, source: Some(Box::new(source)) }
    }

    /// What went wrong.
    #[must_use]
    pub const fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Consumes the error, returning its kind and underlying source (if any).
    #[must_use]
    pub fn into_parts(self) -> (ErrorKind, Option<Box<dyn StdError + Send + Sync>>) {
        (self.kind, self.source)
    }

    /// Whether the bot cannot read the channel the call was about (403 or 404 on a channel-scoped call).
    /// The caller should skip that channel and report it.
    #[must_use]
    pub const fn is_no_access(&self) -> bool {
        matches!(self.kind, ErrorKind::NoAccess { .. })
    }

    /// Whether the error means the whole client is unusable (bad token or exhausted invalid-request budget):
    /// no further call can succeed in this process until an operator acts or the budget window slides.
    #[must_use]
    pub const fn is_fatal(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Unauthorized | ErrorKind::InvalidRequestBudgetExhausted { .. }
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_ref().map(|source| &**source as &(dyn StdError + 'static))
    }
}

/// The kinds of [`Error`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Discord answered 401: the bot token is wrong or was reset. Every later call of this client (and of
    /// its clones) fails fast with this error without contacting Discord.
    #[error(
        "Discord rejected the bot token (401 Unauthorized); all further Discord calls are stopped — check the \
         configured bot token"
    )]
    Unauthorized,

    /// Discord answered 401 to a route authenticated by an interaction (webhook) token: that token expired
    /// (after 15 minutes) or is unknown. Only this request failed; the bot token and every other call are
    /// unaffected.
    #[error("Discord rejected the interaction token (401 Unauthorized): it expired or is unknown")]
    TokenRejected,

    /// Discord answered 403 or 404 to a call about one channel (or thread): the bot cannot see it, may not
    /// read its history, or it was deleted. Skip the channel.
    #[error("no access to channel {channel_id}: HTTP {status}{}", api_detail(*code, message))]
    NoAccess {
        /// The channel or thread the call was about.
        channel_id: u64,
        /// 403 or 404.
        status: u16,
        /// Discord's JSON error code (e.g. 50001 Missing Access, 10003 Unknown Channel).
        code: Option<u64>,
        /// Discord's error message.
        message: Option<String>,
    },

    /// The client's own invalid-request budget is used up: too many 401/403/429 answers in the sliding
    /// window. Discord bans an IP address for a while after 10,000 of them in 10 minutes, and serverless
    /// functions share addresses, so the client stops well before.
    #[error(
        "refusing to call Discord: {count} invalid requests (401/403/429) in the last {}s reached the \
         budget of {limit}; wait for the window to slide or investigate the failing calls",
        window.as_secs()
    )]
    InvalidRequestBudgetExhausted {
        /// Invalid requests counted in the window.
        count: u32,
        /// The configured budget.
        limit: u32,
        /// The sliding window.
        window: Duration,
    },

    /// Discord asked to wait longer than the client is configured to wait (`max_rate_limit_wait`), or the
    /// request kept being rate limited past `max_rate_limit_retries`.
    #[error("rate limited by Discord ({scope} scope): retry after {:.3}s", retry_after.as_secs_f64())]
    RateLimited {
        /// How long Discord asked to wait.
        retry_after: Duration,
        /// Which limit was hit.
        scope: RateLimitScope,
    },

    /// Discord kept failing with 5xx after all attempts.
    #[error("Discord kept failing with HTTP {status} after {attempts} attempts")]
    ServerError {
        /// Last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },

    /// The request timed out on every attempt.
    #[error("Discord request timed out after {attempts} attempts")]
    Timeout {
        /// Attempts made.
        attempts: u32,
    },

    /// The connection failed on every attempt.
    #[error("could not reach Discord after {attempts} attempts")]
    Transport {
        /// Attempts made.
        attempts: u32,
    },

    /// Discord refused the request (a 4xx other than 401/429, or 403/404 on a call not about a channel).
    #[error("Discord answered HTTP {status}{}", api_detail(*code, message))]
    Api {
        /// HTTP status.
        status: u16,
        /// Discord's JSON error code.
        code: Option<u64>,
        /// Discord's error message.
        message: Option<String>,
    },

    /// A 2xx response body did not have the expected shape.
    #[error("unexpected response body from Discord for {what}")]
    Decode {
        /// Which call.
        what: String,
    },

    /// A request could not be built (bad argument or configuration).
    #[error("invalid request or configuration: {0}")]
    Invalid(String),
}

fn api_detail(code: Option<u64>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(code), Some(message)) => format!(" (code {code}: {message})"),
        (Some(code), None) => format!(" (code {code})"),
        (None, Some(message)) => format!(" ({message})"),
        (None, None) => String::new(),
    }
}

/// This crate's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_clear() {
        let err = Error::new(ErrorKind::NoAccess {
            channel_id: 42,
            status: 403,
            code: Some(50001),
            message: Some("Missing Access".into()),
        });
        assert_eq!(
            err.to_string(),
            "no access to channel 42: HTTP 403 (code 50001: Missing Access)"
        );
        assert!(err.is_no_access());
        assert!(!err.is_fatal());
        let err = Error::new(ErrorKind::InvalidRequestBudgetExhausted {
            count: 1000,
            limit: 1000,
            window: Duration::from_secs(600),
        });
        assert!(err.to_string().contains("1000 invalid requests"));
        assert!(err.is_fatal());
    }
}
