//! Header-driven rate limiting shared by every task of a process.
//!
//! [`RateLimiter::acquire`] waits until a request on a [`Route`] may be sent and returns a [`Permit`]; the
//! caller sends the request and completes the permit with what Discord answered ([`Permit::complete`]).
//! Dropping a permit without completing it (timeout, connection error, cancelled future) releases its slot
//! without giving back the quota it consumed, since the request may have reached Discord.
//!
//! What the limiter knows comes only from responses: a route is mapped to its bucket by
//! `X-RateLimit-Bucket`, and a bucket (per top-level resource) tracks `Limit`, `Remaining` and `Reset-After`.
//! Until a route's bucket is known, one request at a time is sent on it. Nothing per route is hard-coded.
//!
//! The global limit is enforced as a sliding window: at most `global_limit` requests are *sent* in any
//! `global_period + global_margin`. The margin absorbs network jitter, so that no window on Discord's side can
//! see more than the limit.
//!
//! The limiter also keeps the invalid-request budget (401, 403 and 429 except scope `shared`, over a sliding
//! window) and remembers a 401: both make every later [`RateLimiter::acquire`] fail fast.

use std::{
    collections::{HashMap, VecDeque},
    fmt,
    pin::pin,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use http::{HeaderMap, Method};
use tokio::{sync::Notify, time::Instant};

use crate::{
    error::{Error, ErrorKind, Result},
    route::Route,
};

/// Tuning of the [`RateLimiter`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimiterConfig {
    /// Requests per `global_period` for the whole bot token (Discord: 50 per second). Several processes
    /// sharing one token (concurrent functions) should each get a share of it.
    pub global_limit: u32,
    /// Length of the global window.
    pub global_period: Duration,
    /// Added to the global window so that jitter between sending and arriving cannot make Discord see more
    /// than `global_limit` requests in one of its windows.
    pub global_margin: Duration,
    /// Added to every reset time learned from a response (rounding of `Reset-After`).
    pub reset_margin: Duration,
    /// Invalid requests (401, 403, 429 except scope `shared`) allowed within `invalid_request_window`
    /// before the client refuses to call Discord. Discord's own ban threshold is 10,000 per 10 minutes
    /// per IP address.
    pub invalid_request_limit: u32,
    /// The sliding window of the invalid-request budget.
    pub invalid_request_window: Duration,
}

impl Default for RateLimiterConfig {
    fn default() -> Self {
        Self {
            global_limit: 50,
            global_period: Duration::from_secs(1),
            global_margin: Duration::from_millis(50),
            reset_margin: Duration::from_millis(10),
            invalid_request_limit: 1_000,
            invalid_request_window: Duration::from_secs(600),
        }
    }
}

/// Which limit a 429 was about (`X-RateLimit-Scope`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateLimitScope {
    /// The bot's own per-route limit.
    User,
    /// The bot's global limit.
    Global,
    /// A limit on the resource shared with others; does not count as an invalid request.
    Shared,
}

impl RateLimitScope {
    fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "user" => Some(Self::User),
            "global" => Some(Self::Global),
            "shared" => Some(Self::Shared),
            _ => None,
        }
    }
}

impl fmt::Display for RateLimitScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::User => "user",
            Self::Global => "global",
            Self::Shared => "shared",
        })
    }
}

/// The rate-limit headers of one response.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateLimitHeaders {
    /// `X-RateLimit-Bucket`.
    pub bucket: Option<String>,
    /// `X-RateLimit-Limit`.
    pub limit: Option<u32>,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u32>,
    /// `X-RateLimit-Reset-After`.
    pub reset_after: Option<Duration>,
    /// `X-RateLimit-Global: true`.
    pub global: bool,
    /// `X-RateLimit-Scope`.
    pub scope: Option<RateLimitScope>,
    /// `Retry-After` (whole seconds).
    pub retry_after: Option<Duration>,
}

impl RateLimitHeaders {
    /// Reads the headers; malformed values are ignored.
    #[must_use]
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let seconds = |name: &str| text(name).and_then(parse_seconds);
        Self {
            bucket: text("x-ratelimit-bucket").map(str::to_owned),
            limit: text("x-ratelimit-limit").and_then(|v| v.trim().parse().ok()),
            remaining: text("x-ratelimit-remaining").and_then(|v| v.trim().parse().ok()),
            reset_after: seconds("x-ratelimit-reset-after"),
            global: text("x-ratelimit-global")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
            scope: text("x-ratelimit-scope").and_then(RateLimitScope::parse),
            retry_after: seconds("retry-after"),
        }
    }
}

/// Seconds as a decimal string, e.g. `"0.250"`. Negative, infinite or absurd values are rejected.
pub(crate) fn parse_seconds(value: &str) -> Option<Duration> {
    value.trim().parse::<f64>().ok().and_then(seconds_to_duration)
}

pub(crate) fn seconds_to_duration(seconds: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(seconds).ok()
}

/// What Discord answered to one request, as far as rate limiting is concerned.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// HTTP status.
    pub status: u16,
    /// The rate-limit headers.
    pub headers: RateLimitHeaders,
    /// `retry_after` from a 429 JSON body (seconds with decimals; preferred over the header).
    pub body_retry_after: Option<Duration>,
    /// `global` from a 429 JSON body.
    pub body_global: bool,
}

impl Outcome {
    /// An outcome with only a status and headers.
    #[must_use]
    pub fn new(status: u16, headers: RateLimitHeaders) -> Self {
        Self { status, headers, ..Self::default() }
    }

    /// The scope of a 429: the header if present, else global if flagged global, else the route's own.
    #[must_use]
    pub fn scope(&self) -> RateLimitScope {
        self.headers.scope.unwrap_or(if self.headers.global || self.body_global {
            RateLimitScope::Global
        } else {
            RateLimitScope::User
        })
    }

    /// How long a 429 asks to wait: body `retry_after`, else `Retry-After`, else `Reset-After`, else 1 s.
    #[must_use]
    pub fn retry_after(&self) -> Duration {
        self.body_retry_after
            .or(self.headers.retry_after)
            .or(self.headers.reset_after)
            .unwrap_or(Duration::from_secs(1))
    }

    /// Whether Discord counts this answer toward its invalid-request ban: 401, 403, and 429 unless scope
    /// `shared`.
    #[must_use]
    pub fn is_invalid_request(&self) -> bool {
        match self.status {
            401 | 403 => true,
            429 => self.scope() != RateLimitScope::Shared,
            _ => false,
        }
    }
}

/// What the limiter knows about one bucket, for diagnostics and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BucketSnapshot {
    /// `X-RateLimit-Limit` last seen; `None` while the route's bucket is not known yet.
    pub limit: Option<u32>,
    /// Requests that may still be sent before the reset.
    pub remaining: u32,
    /// Time until the bucket resets, if it is waiting for one.
    pub reset_after: Option<Duration>,
    /// Requests sent and not answered yet.
    pub in_flight: u32,
}

/// The process-wide rate limiter. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct RateLimiter {
    shared: Arc<Shared>,
}

struct Shared {
    config: RateLimiterConfig,
    state: Mutex<State>,
    changed: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between statements, so a panic elsewhere cannot corrupt it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter").field("config", &self.shared.config).finish_non_exhaustive()
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(RateLimiterConfig::default())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum BucketKey {
    /// A bucket learned from `X-RateLimit-Bucket`, per top-level resource.
    Learned { hash: Arc<str>, major: Arc<str> },
    /// A route whose bucket is not known yet: one request at a time.
    Unlearned(Route),
}

#[derive(Debug, Default)]
struct Bucket {
    limit: Option<u32>,
    remaining: u32,
    reset_at: Option<Instant>,
    in_flight: u32,
}

impl Bucket {
    /// Starts a new window locally once the reset time has passed. Requests still in flight may land in
    /// Discord's new window, so they are not given back.
    fn refresh(&mut self, now: Instant) {
        if self.reset_at.is_some_and(|reset| reset <= now) {
            self.reset_at = None;
            if let Some(limit) = self.limit {
                self.remaining = limit.saturating_sub(self.in_flight);
            }
        }
    }

    fn may_send(&self) -> bool {
        let idle = self.in_flight == 0 && self.reset_at.is_none();
        match self.limit {
            None => idle,
            Some(_) => self.remaining > 0 || idle,
        }
    }

    fn block_until(&mut self, until: Instant, now: Instant) {
        self.remaining = 0;
        self.reset_at = Some(later_of(self.reset_at.filter(|r| *r > now), until));
    }
}

#[derive(Debug, Default)]
struct State {
    /// Route shape (method + path with every id replaced) → bucket hash.
    routes: HashMap<(Method, Arc<str>), Arc<str>>,
    buckets: HashMap<BucketKey, Bucket>,
    global_sends: VecDeque<Instant>,
    global_blocked_until: Option<Instant>,
    invalid: VecDeque<Instant>,
    unauthorized: bool,
    /// Earliest time of the next sweep of idle buckets.
    next_prune: Option<Instant>,
}

/// Buckets kept before idle ones are dropped.
const PRUNE_THRESHOLD: usize = 4_096;
/// At most one sweep per this interval.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

fn later_of(a: Option<Instant>, b: Instant) -> Instant {
    a.map_or(b, |a| a.max(b))
}

impl State {
    fn key_for(&self, route: &Route) -> BucketKey {
        match self.routes.get(&route.shape()) {
            Some(hash) => BucketKey::Learned { hash: Arc::clone(hash), major: route.major_arc() },
            None => BucketKey::Unlearned(route.clone()),
        }
    }

    /// Drops buckets with nothing in flight and no pending reset: they only hold what the next response
    /// would tell again. Keeps memory bounded in a process that visits many channels.
    fn prune(&mut self, now: Instant) {
        if self.buckets.len() <= PRUNE_THRESHOLD || self.next_prune.is_some_and(|next| now < next) {
            return;
        }
        self.buckets.retain(|_, b| b.in_flight > 0 || b.reset_at.is_some_and(|reset| reset > now));
        self.next_prune = Some(now + PRUNE_INTERVAL);
    }

    fn check_usable(&mut self, now: Instant, config: &RateLimiterConfig) -> Result<()> {
        if self.unauthorized {
            return Err(Error::new(ErrorKind::Unauthorized));
        }
        while self.invalid.front().is_some_and(|at| *at + config.invalid_request_window <= now) {
            self.invalid.pop_front();
        }
        let count = u32::try_from(self.invalid.len()).unwrap_or(u32::MAX);
        if count >= config.invalid_request_limit {
            return Err(Error::new(ErrorKind::InvalidRequestBudgetExhausted {
                count,
                limit: config.invalid_request_limit,
                window: config.invalid_request_window,
            }));
        }
        Ok(())
    }

    /// Takes a slot for `route` now, or says until when (at the latest) to wait before trying again.
    /// `Err(None)` means: wait for a response to arrive.
    fn try_acquire(
        &mut self,
        route: &Route,
        now: Instant,
        config: &RateLimiterConfig,
    ) -> Result<Result<BucketKey, Option<Instant>>> {
        self.check_usable(now, config)?;
        self.prune(now);
        let mut blocked = false;
        let mut wake: Option<Instant> = None;
        if route.counts_globally() {
            if let Some(until) = self.global_blocked_until {
                if until > now {
                    blocked = true;
                    wake = Some(later_of(wake, until));
                } else {
                    self.global_blocked_until = None;
                }
            }
            let limit = usize::try_from(config.global_limit.max(1)).unwrap_or(usize::MAX);
            if self.global_sends.len() >= limit
                && let Some(oldest) = self.global_sends.front()
            {
                let free_at = *oldest + config.global_period + config.global_margin;
                if free_at > now {
                    blocked = true;
                    wake = Some(later_of(wake, free_at));
                }
            }
        }
        let key = self.key_for(route);
        let bucket = self.buckets.entry(key.clone()).or_default();
        bucket.refresh(now);
        if !bucket.may_send() {
            blocked = true;
            if let Some(reset) = bucket.reset_at {
                wake = Some(later_of(wake, reset));
            }
        }
        if blocked {
            // Never sleep past a known wake-up time; without one, a response will notify.
            return Ok(Err(wake));
        }
        if bucket.limit.is_some() {
            bucket.remaining = bucket.remaining.saturating_sub(1);
        }
        bucket.in_flight += 1;
        if route.counts_globally() {
            self.global_sends.push_back(now);
            let limit = usize::try_from(config.global_limit.max(1)).unwrap_or(usize::MAX);
            while self.global_sends.len() > limit {
                self.global_sends.pop_front();
            }
        }
        Ok(Ok(key))
    }

    fn complete(
        &mut self,
        route: &Route,
        key: &BucketKey,
        outcome: Option<&Outcome>,
        now: Instant,
        config: &RateLimiterConfig,
    ) {
        if let Some(bucket) = self.buckets.get_mut(key) {
            bucket.in_flight = bucket.in_flight.saturating_sub(1);
        }
        let Some(outcome) = outcome else {
            return;
        };
        // Only a bot-authenticated route's 401 condemns the bot token; an interaction token's 401 (an
        // expired or unknown token) ends that one request.
        if outcome.status == 401 && route.uses_bot_token() {
            self.unauthorized = true;
        }
        if outcome.is_invalid_request() {
            self.invalid.push_back(now);
        }
        let headers = &outcome.headers;
        let target = match &headers.bucket {
            Some(hash) => {
                let shape = route.shape();
                let hash: Arc<str> = match self.routes.get(&shape) {
                    Some(known) if **known == **hash => Arc::clone(known),
                    _ => Arc::from(hash.as_str()),
                };
                self.routes.insert(shape, Arc::clone(&hash));
                BucketKey::Learned { hash, major: route.major_arc() }
            }
            None => key.clone(),
        };
        if target != *key
            && matches!(key, BucketKey::Unlearned(_))
            && self.buckets.get(key).is_some_and(|b| b.in_flight == 0)
        {
            self.buckets.remove(key);
        }
        let bucket = self.buckets.entry(target).or_default();
        bucket.refresh(now);
        if let (Some(limit), Some(remaining), Some(reset_after)) =
            (headers.limit, headers.remaining, headers.reset_after)
        {
            // Requests still in flight may not be counted in `remaining` yet.
            let estimate = remaining.saturating_sub(bucket.in_flight);
            bucket.remaining =
                if bucket.limit.is_some() { bucket.remaining.min(estimate) } else { estimate };
            bucket.limit = Some(limit);
            let reset_at = now + reset_after + config.reset_margin;
            bucket.reset_at = Some(later_of(bucket.reset_at.filter(|r| *r > now), reset_at));
        }
        if outcome.status == 429 {
            let until = now + outcome.retry_after() + config.reset_margin;
            match outcome.scope() {
                RateLimitScope::Global => {
                    self.global_blocked_until = Some(later_of(self.global_blocked_until, until));
                }
                RateLimitScope::User | RateLimitScope::Shared => bucket.block_until(until, now),
            }
        }
    }
}

impl RateLimiter {
    /// A limiter with the given tuning.
    #[must_use]
    pub fn new(config: RateLimiterConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                state: Mutex::new(State::default()),
                changed: Notify::new(),
            }),
        }
    }

    /// The tuning.
    #[must_use]
    pub fn config(&self) -> &RateLimiterConfig {
        &self.shared.config
    }

    /// Waits until a request on `route` may be sent.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Unauthorized`] once any request got a 401, and
    /// [`ErrorKind::InvalidRequestBudgetExhausted`] while the invalid-request budget is used up.
    pub async fn acquire(&self, route: &Route) -> Result<Permit> {
        loop {
            // Register for wake-ups before looking at the state so that no completion is missed.
            let mut notified = pin!(self.shared.changed.notified());
            notified.as_mut().enable();
            let wake = {
                let mut state = self.shared.lock();
                match state.try_acquire(route, Instant::now(), &self.shared.config)? {
                    Ok(key) => {
                        return Ok(Permit {
                            shared: Arc::clone(&self.shared),
                            key: Some(key),
                            route: route.clone(),
                        });
                    }
                    Err(wake) => wake,
                }
            };
            match wake {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Fails fast if no request may be sent at all (bad token, exhausted budget).
    ///
    /// # Errors
    ///
    /// As [`RateLimiter::acquire`].
    pub fn check_usable(&self) -> Result<()> {
        self.shared.lock().check_usable(Instant::now(), &self.shared.config)
    }

    /// Invalid requests (401/403/429 except shared) counted in the current window.
    #[must_use]
    pub fn invalid_requests(&self) -> u32 {
        let mut state = self.shared.lock();
        // Pruning is part of the check; its error is irrelevant here.
        let _ = state.check_usable(Instant::now(), &self.shared.config);
        u32::try_from(state.invalid.len()).unwrap_or(u32::MAX)
    }

    /// What is known about the bucket `route` maps to (`None` if it was never used).
    #[must_use]
    pub fn bucket(&self, route: &Route) -> Option<BucketSnapshot> {
        let state = self.shared.lock();
        let now = Instant::now();
        state.buckets.get(&state.key_for(route)).map(|b| {
            let reset_after = b.reset_at.filter(|r| *r > now).map(|r| r - now);
            let remaining = match (b.limit, reset_after) {
                (Some(limit), None) => limit.saturating_sub(b.in_flight),
                _ => b.remaining,
            };
            BucketSnapshot { limit: b.limit, remaining, reset_after, in_flight: b.in_flight }
        })
    }

    /// The bucket hash `route` was mapped to by `X-RateLimit-Bucket`, if learned.
    #[must_use]
    pub fn bucket_hash(&self, route: &Route) -> Option<String> {
        self.shared.lock().routes.get(&route.shape()).map(|h| h.to_string())
    }
}

/// Permission to send one request. Complete it with the response; dropping it means "no response".
#[must_use = "a permit must be completed with the response, or dropped if there was none"]
pub struct Permit {
    shared: Arc<Shared>,
    key: Option<BucketKey>,
    route: Route,
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("route", &self.route).finish_non_exhaustive()
    }
}

impl Permit {
    /// Feeds Discord's answer back into the limiter.
    pub fn complete(mut self, outcome: &Outcome) {
        self.finish(Some(outcome));
    }

    fn finish(&mut self, outcome: Option<&Outcome>) {
        if let Some(key) = self.key.take() {
            self.shared.lock().complete(
                &self.route,
                &key,
                outcome,
                Instant::now(),
                &self.shared.config,
            );
            self.shared.changed.notify_waiters();
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.finish(None);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use tokio::time::advance;

    fn cfg() -> RateLimiterConfig {
        RateLimiterConfig {
            global_limit: 50,
            global_period: Duration::from_secs(1),
            global_margin: Duration::ZERO,
            reset_margin: Duration::ZERO,
            invalid_request_limit: 1_000,
            invalid_request_window: Duration::from_secs(600),
        }
    }

    fn messages(channel: u64) -> Route {
        Route::new(Method::GET, &format!("channels/{channel}/messages"))
    }

    fn ok(bucket: &str, limit: u32, remaining: u32, reset_after_ms: u64) -> Outcome {
        Outcome::new(
            200,
            RateLimitHeaders {
                bucket: Some(bucket.into()),
                limit: Some(limit),
                remaining: Some(remaining),
                reset_after: Some(Duration::from_millis(reset_after_ms)),
                ..RateLimitHeaders::default()
            },
        )
    }

    fn too_many(scope: Option<RateLimitScope>, retry_after_ms: u64, global: bool) -> Outcome {
        Outcome {
            status: 429,
            headers: RateLimitHeaders { scope, global, ..RateLimitHeaders::default() },
            body_retry_after: Some(Duration::from_millis(retry_after_ms)),
            body_global: global,
        }
    }

    /// Yields until spawned tasks have run as far as they can at the current (paused) instant.
    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_route_sends_one_request_at_a_time() {
        let limiter = RateLimiter::new(cfg());
        let route = messages(1);
        let first = limiter.acquire(&route).await.unwrap();
        let waiter = {
            let (limiter, route) = (limiter.clone(), route.clone());
            tokio::spawn(async move { limiter.acquire(&route).await.map(|_| ()) })
        };
        settle().await;
        assert!(!waiter.is_finished(), "second request must wait for the bucket to be learned");
        first.complete(&ok("b1", 5, 4, 5_000));
        settle().await;
        assert!(waiter.is_finished());
        waiter.await.unwrap().unwrap();
        assert_eq!(limiter.bucket_hash(&route).as_deref(), Some("b1"));
    }

    #[tokio::test(start_paused = true)]
    async fn remaining_and_reset_after_are_respected_exactly() {
        let limiter = RateLimiter::new(cfg());
        let route = messages(1);
        let start = Instant::now();
        limiter.acquire(&route).await.unwrap().complete(&ok("b1", 5, 4, 5_000));
        for remaining in (0..4).rev() {
            let permit = limiter.acquire(&route).await.unwrap();
            assert_eq!(start.elapsed(), Duration::ZERO, "within the budget there is no wait");
            permit.complete(&ok("b1", 5, remaining, 5_000));
        }
        // Bucket exhausted: the sixth request waits for the reset, and not a millisecond less.
        let permit = limiter.acquire(&route).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        permit.complete(&ok("b1", 5, 4, 5_000));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_requests_never_exceed_remaining() {
        let limiter = RateLimiter::new(cfg());
        let route = messages(1);
        limiter.acquire(&route).await.unwrap().complete(&ok("b1", 5, 4, 5_000));
        // Four slots left: four concurrent permits, the fifth waits although nothing was answered yet.
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(limiter.acquire(&route).await.unwrap());
        }
        let fifth = {
            let (limiter, route) = (limiter.clone(), route.clone());
            tokio::spawn(async move { limiter.acquire(&route).await.map(drop) })
        };
        settle().await;
        assert!(!fifth.is_finished());
        // Answers arriving (out of order) do not free slots in the same window.
        for (i, permit) in held.into_iter().enumerate() {
            permit.complete(&ok("b1", 5, u32::try_from(i).unwrap(), 4_900));
        }
        settle().await;
        assert!(!fifth.is_finished());
        advance(Duration::from_millis(4_999)).await;
        settle().await;
        assert!(!fifth.is_finished());
        advance(Duration::from_millis(2)).await;
        settle().await;
        assert!(fifth.is_finished());
    }

    #[tokio::test(start_paused = true)]
    async fn routes_sharing_a_bucket_share_the_quota_per_major_parameter() {
        let limiter = RateLimiter::new(cfg());
        let a = Route::new(Method::PATCH, "webhooks/1/tok/messages/@original");
        let b = Route::new(Method::POST, "webhooks/1/tok");
        let other_token = Route::new(Method::POST, "webhooks/1/other");
        limiter.acquire(&a).await.unwrap().complete(&ok("wh", 2, 1, 2_000));
        limiter.acquire(&b).await.unwrap().complete(&ok("wh", 2, 0, 2_000));
        let start = Instant::now();
        // Same bucket, same token: exhausted for both routes.
        limiter.acquire(&a).await.unwrap().complete(&ok("wh", 2, 1, 2_000));
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        // Another token is another top-level resource: no wait.
        let start = Instant::now();
        limiter.acquire(&other_token).await.unwrap().complete(&ok("wh", 2, 1, 2_000));
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn global_limit_is_a_sliding_window_with_margin() {
        let limiter = RateLimiter::new(RateLimiterConfig {
            global_limit: 3,
            global_margin: Duration::from_millis(50),
            ..cfg()
        });
        let start = Instant::now();
        for channel in 0..3 {
            limiter.acquire(&messages(channel)).await.unwrap().complete(&ok("m", 5, 4, 5_000));
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire(&messages(3)).await.unwrap().complete(&ok("m", 5, 4, 5_000));
        assert_eq!(start.elapsed(), Duration::from_millis(1_050));
        // Webhooks (interactions) do not count against the global limit.
        let start = Instant::now();
        for token in 0..10 {
            drop(
                limiter
                    .acquire(&Route::new(Method::POST, &format!("webhooks/1/t{token}")))
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn global_429_pauses_every_route() {
        let limiter = RateLimiter::new(cfg());
        let start = Instant::now();
        limiter.acquire(&messages(1)).await.unwrap().complete(&too_many(
            Some(RateLimitScope::Global),
            1_500,
            true,
        ));
        limiter.acquire(&messages(2)).await.unwrap().complete(&ok("m", 5, 4, 5_000));
        assert_eq!(start.elapsed(), Duration::from_millis(1_500));
        assert_eq!(limiter.invalid_requests(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn shared_429_waits_but_is_not_invalid() {
        let limiter = RateLimiter::new(cfg());
        let route = messages(1);
        let start = Instant::now();
        let mut shared = too_many(Some(RateLimitScope::Shared), 700, false);
        shared.headers.bucket = Some("m".into());
        limiter.acquire(&route).await.unwrap().complete(&shared);
        assert_eq!(limiter.invalid_requests(), 0);
        // Other channels are not affected.
        limiter.acquire(&messages(2)).await.unwrap().complete(&ok("m", 5, 4, 5_000));
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire(&route).await.unwrap().complete(&ok("m", 5, 4, 5_000));
        assert_eq!(start.elapsed(), Duration::from_millis(700));
    }

    #[tokio::test(start_paused = true)]
    async fn user_429_on_an_unlearned_route_waits_retry_after() {
        let limiter = RateLimiter::new(cfg());
        let route = messages(1);
        let start = Instant::now();
        limiter.acquire(&route).await.unwrap().complete(&too_many(None, 2_250, false));
        limiter.acquire(&route).await.unwrap().complete(&ok("m", 5, 4, 5_000));
        assert_eq!(start.elapsed(), Duration::from_millis(2_250));
        assert_eq!(limiter.invalid_requests(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn invalid_request_budget_stops_and_recovers_after_the_window() {
        let limiter = RateLimiter::new(RateLimiterConfig { invalid_request_limit: 3, ..cfg() });
        for channel in 0..3 {
            limiter
                .acquire(&messages(channel))
                .await
                .unwrap()
                .complete(&Outcome::new(403, RateLimitHeaders::default()));
        }
        let err = limiter.acquire(&messages(9)).await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::InvalidRequestBudgetExhausted { count: 3, limit: 3, .. }
            ),
            "{err}"
        );
        // 404s are not invalid requests in Discord's sense.
        advance(Duration::from_secs(600)).await;
        let permit = limiter.acquire(&messages(9)).await.unwrap();
        permit.complete(&Outcome::new(404, RateLimitHeaders::default()));
        assert_eq!(limiter.invalid_requests(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn unauthorized_stops_everything() {
        let limiter = RateLimiter::new(cfg());
        limiter
            .acquire(&messages(1))
            .await
            .unwrap()
            .complete(&Outcome::new(401, RateLimitHeaders::default()));
        let err = limiter.acquire(&messages(2)).await.unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Unauthorized));
        assert!(limiter.check_usable().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn an_interaction_token_401_leaves_the_bot_token_usable() {
        let limiter = RateLimiter::new(cfg());
        let edit = Route::new(Method::PATCH, "webhooks/7/expired-token/messages/@original");
        limiter
            .acquire(&edit)
            .await
            .unwrap()
            .complete(&Outcome::new(401, RateLimitHeaders::default()));
        assert!(limiter.check_usable().is_ok());
        limiter
            .acquire(&messages(2))
            .await
            .unwrap()
            .complete(&Outcome::new(200, RateLimitHeaders::default()));
        assert!(limiter.acquire(&edit).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_permit_frees_the_slot_but_not_the_quota() {
        let limiter = RateLimiter::new(cfg());
        let route = messages(1);
        limiter.acquire(&route).await.unwrap().complete(&ok("m", 2, 1, 1_000));
        drop(limiter.acquire(&route).await.unwrap());
        let snapshot = limiter.bucket(&route).unwrap();
        assert_eq!(snapshot.in_flight, 0);
        assert_eq!(snapshot.remaining, 0);
        let start = Instant::now();
        drop(limiter.acquire(&route).await.unwrap());
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_newer_window_seen_in_a_response_is_not_overrun() {
        // Two requests in flight at the local reset; Discord has already started a new window with one of
        // them, so the local reset must move to Discord's later one.
        let limiter = RateLimiter::new(cfg());
        let route = messages(1);
        limiter.acquire(&route).await.unwrap().complete(&ok("m", 2, 1, 1_000));
        let p1 = limiter.acquire(&route).await.unwrap();
        advance(Duration::from_millis(1_000)).await;
        let p2 = limiter.acquire(&route).await.unwrap();
        p1.complete(&ok("m", 2, 1, 1_000));
        p2.complete(&ok("m", 2, 0, 1_000));
        let start = Instant::now();
        drop(limiter.acquire(&route).await.unwrap());
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_buckets_are_pruned() {
        let limiter = RateLimiter::new(RateLimiterConfig { global_limit: 100_000, ..cfg() });
        let count = u64::try_from(PRUNE_THRESHOLD).unwrap() + 10;
        for channel in 0..count {
            limiter.acquire(&messages(channel)).await.unwrap().complete(&ok("m", 5, 4, 1_000));
        }
        assert!(limiter.shared.lock().buckets.len() > PRUNE_THRESHOLD);
        advance(PRUNE_INTERVAL).await;
        let route = messages(count);
        limiter.acquire(&route).await.unwrap().complete(&ok("m", 5, 4, 1_000));
        assert!(limiter.shared.lock().buckets.len() < 10);
        // What was learned about the route shape survives.
        assert_eq!(limiter.bucket_hash(&messages(0)).as_deref(), Some("m"));
    }

    #[test]
    fn headers_are_parsed_leniently() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-bucket", "abc".parse().unwrap());
        headers.insert("x-ratelimit-limit", "5".parse().unwrap());
        headers.insert("x-ratelimit-remaining", "0".parse().unwrap());
        headers.insert("x-ratelimit-reset-after", "0.250".parse().unwrap());
        headers.insert("x-ratelimit-scope", "shared".parse().unwrap());
        headers.insert("x-ratelimit-global", "true".parse().unwrap());
        headers.insert("retry-after", "-1".parse().unwrap());
        let parsed = RateLimitHeaders::from_headers(&headers);
        assert_eq!(parsed.bucket.as_deref(), Some("abc"));
        assert_eq!(parsed.limit, Some(5));
        assert_eq!(parsed.remaining, Some(0));
        assert_eq!(parsed.reset_after, Some(Duration::from_millis(250)));
        assert_eq!(parsed.scope, Some(RateLimitScope::Shared));
        assert!(parsed.global);
        assert_eq!(parsed.retry_after, None, "negative values are rejected");
        let outcome = Outcome::new(429, parsed);
        assert!(!outcome.is_invalid_request(), "shared 429s do not count");
    }
}
