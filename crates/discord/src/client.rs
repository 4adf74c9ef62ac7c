//! The HTTP core of [`DiscordClient`]: authentication, rate limiting, retries and error mapping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::{fmt, sync::Arc, time::Duration};

use http::{
    HeaderValue, Method,
    header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE},
};
use rand::Rng;
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use crate::{
    config::DiscordConfig,
    error::{Error, ErrorKind, Result},
    model::{ApiErrorBody, AttachmentFile},
    ratelimit::{Outcome, RateLimitHeaders, RateLimiter, seconds_to_duration},
    route::Route,
};

/// The header Discord records in the guild's audit log as the reason of a change.
const AUDIT_LOG_REASON: &str = "x-audit-log-reason";

/// A Discord REST client. Cheap to clone: clones share the HTTP connection pool, the rate limiter, the
/// invalid-request budget and the "token rejected" state.
#[derive(Clone)]
pub struct DiscordClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    auth: HeaderValue,
    config: DiscordConfig,
    limiter: RateLimiter,
    requests: AtomicU64,
    rate_limited: AtomicU64,
}

/// What a client (and its clones) has sent and received so far: for run summaries and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests that got an answer (retries included).
    pub requests: u64,
    /// Of those, answered 429.
    pub rate_limited: u64,
}

impl ClientStats {
    /// The counts since an earlier snapshot.
    #[must_use]
    pub const fn since(&self, earlier: &Self) -> Self {
        Self {
            requests: self.requests.saturating_sub(earlier.requests),
            rate_limited: self.rate_limited.saturating_sub(earlier.rate_limited),
        }
    }
}

impl fmt::Debug for DiscordClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordClient")
            .field("api_base", &self.inner.config.api_base)
            .field("limiter", &self.inner.limiter)
            .finish_non_exhaustive()
    }
}

/// The body of a request.
#[derive(Debug, Clone)]
pub(crate) enum RequestBody {
    None,
    Json(Vec<u8>),
    Multipart { payload_json: String, files: Vec<AttachmentFile> },
}

/// One call to Discord, before rate limiting and retries.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    /// Relative to the API base, percent-encoded, no leading slash.
    pub(crate) path: String,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: RequestBody,
    /// The channel the call is about: 403/404 then mean "no access to this channel".
    pub(crate) channel: Option<u64>,
    /// Short description for errors, e.g. "channel messages".
    pub(crate) what: &'static str,
    /// `X-Audit-Log-Reason`, already cut and percent-encoded: why the change shows in the guild's audit log.
    pub(crate) audit_reason: Option<HeaderValue>,
    /// A POST that Discord answers the same way when it is sent again (a message with `nonce` and
    /// `enforce_nonce: true`), so it may be retried after a lost answer or a 5xx like any other method.
    pub(crate) idempotent_post: bool,
}

impl ApiRequest {
    pub(crate) fn get(path: String, what: &'static str) -> Self {
        Self {
            method: Method::GET,
            path,
            query: Vec::new(),
            body: RequestBody::None,
            channel: None,
            what,
            audit_reason: None,
            idempotent_post: false,
        }
    }

    pub(crate) fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }

    pub(crate) const fn about_channel(mut self, channel: u64) -> Self {
        self.channel = Some(channel);
        self
    }
}

impl DiscordClient {
    /// Builds a client.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] if the token cannot be sent as a header or the HTTP client cannot be built.
    pub fn new(config: DiscordConfig) -> Result<Self> {
        if config.token.expose().is_empty() {
            return Err(Error::new(ErrorKind::Invalid("the bot token is empty".into())));
        }
        let mut auth =
            HeaderValue::from_str(&format!("Bot {}", config.token.expose())).map_err(|_| {
                Error::new(ErrorKind::Invalid(
                    "the bot token contains characters not allowed in a header".into(),
                ))
            })?;
        auth.set_sensitive(true);
        // reqwest is built without a crypto provider: rustls on *ring*, the same as the AWS SDK's client
        // here, rather than a second library (aws-lc). Installing fails only when the process already
        // has a provider, which reqwest then uses.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| {
                Error::with_source(ErrorKind::Invalid("cannot build the HTTP client".into()), e)
            })?;
        let limiter = RateLimiter::new(config.rate_limits.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                auth,
                config,
                limiter,
                requests: AtomicU64::new(0),
                rate_limited: AtomicU64::new(0),
            }),
        })
    }

    /// Requests answered and 429s received by this client and its clones so far.
    #[must_use]
    pub fn stats(&self) -> ClientStats {
        ClientStats {
            requests: self.inner.requests.load(Ordering::Relaxed),
            rate_limited: self.inner.rate_limited.load(Ordering::Relaxed),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &DiscordConfig {
        &self.inner.config
    }

    /// The shared rate limiter (for diagnostics).
    #[must_use]
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    /// Sends a request and decodes a JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, request: ApiRequest) -> Result<T> {
        let what = request.what;
        let body = self.send(request).await?;
        serde_json::from_slice(&body)
            .map_err(|e| Error::with_source(ErrorKind::Decode { what: what.to_owned() }, e))
    }

    /// Sends a request with rate limiting and retries, returning the body of a 2xx answer.
    pub(crate) async fn send(&self, request: ApiRequest) -> Result<Vec<u8>> {
        let inner = &*self.inner;
        let config = &inner.config;
        let route = Route::new(request.method.clone(), &request.path);
        let url = format!("{}/{}", config.api_base, request.path);
        // POST is not idempotent: Discord may have acted on a request whose answer was lost. Unless
        // Discord itself makes a repeat harmless (`idempotent_post`).
        let idempotent = request.method != Method::POST || request.idempotent_post;
        let max_attempts = config.max_attempts.max(1);
        let mut failures = 0_u32;
        let mut rate_limited = 0_u32;
        loop {
            let permit = inner.limiter.acquire(&route).await?;
            let mut builder = inner
                .http
                .request(request.method.clone(), &url)
                .header(AUTHORIZATION, inner.auth.clone());
            if !request.query.is_empty() {
                builder = builder.query(&request.query);
            }
            if let Some(reason) = &request.audit_reason {
                builder = builder.header(AUDIT_LOG_REASON, reason.clone());
            }
            builder = match &request.body {
                // Discord answers 411 Length Required to a PUT (e.g. adding a member's role) without a
                // Content-Length, and an empty body alone does not make the client send one.
                RequestBody::None if request.method != Method::GET => {
                    builder.header(CONTENT_LENGTH, "0")
                }
                RequestBody::None => builder,
                RequestBody::Json(bytes) => {
                    builder.header(CONTENT_TYPE, "application/json").body(bytes.clone())
                }
                RequestBody::Multipart { payload_json, files } => {
                    builder.multipart(multipart_form(payload_json, files)?)
                }
            };
            let answer = match builder.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = RateLimitHeaders::from_headers(response.headers());
                    response.bytes().await.map(|body| (status, headers, body))
                }
                Err(error) => Err(error),
            };
            let (status, headers, body) = match answer {
                Ok(answer) => answer,
                Err(error) => {
                    // reqwest's Display appends the URL, and an interaction route's URL holds its token.
                    let error = error.without_url();
                    // No (complete) answer: the permit is dropped, freeing its slot but not its quota.
                    drop(permit);
                    failures += 1;
                    let kind = if error.is_timeout() {
                        ErrorKind::Timeout { attempts: failures }
                    } else {
                        ErrorKind::Transport { attempts: failures }
                    };
                    if failures >= max_attempts || !(idempotent || error.is_connect()) {
                        return Err(Error::with_source(kind, error));
                    }
                    warn!(%route, attempt = failures, error = %error, "Discord request failed; retrying");
                    self.backoff(failures).await;
                    continue;
                }
            };
            let error_body: ApiErrorBody = if (200..300).contains(&status) {
                ApiErrorBody::default()
            } else {
                serde_json::from_slice(&body).unwrap_or_default()
            };
            let outcome = Outcome {
                status,
                headers,
                body_retry_after: error_body.retry_after.and_then(seconds_to_duration),
                body_global: error_body.global.unwrap_or(false),
            };
            permit.complete(&outcome);
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            if status == 429 {
                self.inner.rate_limited.fetch_add(1, Ordering::Relaxed);
            }
            debug!(%route, status, "Discord request");
            match status {
                200..=299 => return Ok(body.to_vec()),
                429 => {
                    rate_limited += 1;
                    let retry_after = outcome.retry_after();
                    let scope = outcome.scope();
                    warn!(
                        %route,
                        %scope,
                        retry_after_ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX),
                        "rate limited by Discord"
                    );
                    if rate_limited > config.max_rate_limit_retries
                        || retry_after > config.max_rate_limit_wait
                    {
                        return Err(Error::new(ErrorKind::RateLimited { retry_after, scope }));
                    }
                    // The limiter now holds the bucket (or everything, if global) until retry_after.
                }
                401 if route.uses_bot_token() => {
                    warn!(%route, "Discord rejected the bot token; stopping all Discord calls");
                    return Err(Error::new(ErrorKind::Unauthorized));
                }
                401 => {
                    warn!(%route, "Discord rejected the interaction token (expired or unknown)");
                    return Err(Error::new(ErrorKind::TokenRejected));
                }
                403 | 404 if request.channel.is_some() => {
                    return Err(Error::new(ErrorKind::NoAccess {
                        channel_id: request.channel.unwrap_or_default(),
                        status,
                        code: error_body.code,
                        message: error_body.message,
                    }));
                }
                500..=599 => {
                    failures += 1;
                    if failures >= max_attempts || !idempotent {
                        return Err(Error::new(ErrorKind::ServerError {
                            status,
                            attempts: failures,
                        }));
                    }
                    warn!(%route, status, attempt = failures, "Discord server error; retrying");
                    self.backoff(failures).await;
                }
                _ => {
                    return Err(Error::new(ErrorKind::Api {
                        status,
                        code: error_body.code,
                        message: error_body.message,
                    }));
                }
            }
        }
    }

    /// Exponential backoff with jitter: a delay between half and all of `base * 2^(attempt-1)`, capped.
    async fn backoff(&self, attempt: u32) {
        // The thread-local generator must not live across the await (it is not `Send`).
        let jitter = rand::rng().random_range(0.0..=1.0);
        let delay = backoff_delay(
            self.inner.config.backoff_base,
            self.inner.config.backoff_max,
            attempt,
            jitter,
        );
        tokio::time::sleep(delay).await;
    }
}

/// The delay before retry number `attempt` (1-based); `jitter` in 0..=1 picks within the upper half.
pub(crate) fn backoff_delay(base: Duration, max: Duration, attempt: u32, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(20);
    let ceiling = base.saturating_mul(1_u32 << exponent).min(max);
    ceiling / 2 + ceiling.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
}

fn multipart_form(
    payload_json: &str,
    files: &[AttachmentFile],
) -> Result<reqwest::multipart::Form> {
    use reqwest::multipart::{Form, Part};
    let invalid = |e: reqwest::Error| {
        let e = e.without_url();
        Error::with_source(
            ErrorKind::Invalid("attachment content type is not a MIME type".into()),
            e,
        )
    };
    let mut form = Form::new().part(
        "payload_json",
        Part::text(payload_json.to_owned()).mime_str("application/json").map_err(invalid)?,
    );
    for (index, file) in files.iter().enumerate() {
        let part = Part::bytes(file.data.clone())
            .file_name(file.filename.clone())
            .mime_str(&file.content_type)
            .map_err(invalid)?;
        form = form.part(format!("files[{index}]"), part);
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_bounds() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        assert_eq!(backoff_delay(base, max, 1, 0.0), Duration::from_millis(50));
        assert_eq!(backoff_delay(base, max, 1, 1.0), Duration::from_millis(100));
        assert_eq!(backoff_delay(base, max, 3, 0.0), Duration::from_millis(200));
        assert_eq!(backoff_delay(base, max, 3, 1.0), Duration::from_millis(400));
        assert_eq!(backoff_delay(base, max, 30, 1.0), max);
    }
}
