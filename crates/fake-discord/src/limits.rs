//! Discord-like rate limit emulation: a global window per token and one window per (route class, major
//! parameter). A window starts with the first request after the previous one ended, as on Discord.

use std::{collections::HashMap, time::Duration};

use tokio::time::Instant;

use crate::config::{Limit, RateLimits, RouteClass};

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    count: u32,
    ends: Option<Instant>,
}

impl Window {
    fn roll(&mut self, now: Instant, period: Duration) {
        if self.ends.is_none_or(|ends| now >= ends) {
            self.count = 0;
            self.ends = Some(now + period);
        }
    }

    fn left(&self, now: Instant) -> Duration {
        self.ends.map_or(Duration::ZERO, |ends| ends.saturating_duration_since(now))
    }
}

/// The bucket headers of one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BucketHeaders {
    pub(crate) bucket: &'static str,
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    pub(crate) reset_after: Duration,
}

/// Whether a request may proceed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admission {
    Allowed(Option<BucketHeaders>),
    GlobalLimited { retry_after: Duration },
    RouteLimited { headers: BucketHeaders },
}

#[derive(Debug)]
pub(crate) struct LimitState {
    pub(crate) limits: RateLimits,
    global: Window,
    buckets: HashMap<(RouteClass, String), Window>,
}

impl LimitState {
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self { limits, global: Window::default(), buckets: HashMap::new() }
    }

    /// A request made with the bot's token (or none): its route's bucket and, for most classes, the
    /// bot's global limit.
    pub(crate) fn admit(&mut self, class: RouteClass, major: &str, now: Instant) -> Admission {
        self.admit_counting(class, major, class.counts_globally(), now)
    }

    /// A request made with a user's OAuth2 token: its route's bucket only (keyed by a `major` naming the
    /// user), never the bot's global limit.
    pub(crate) fn admit_user(&mut self, class: RouteClass, major: &str, now: Instant) -> Admission {
        self.admit_counting(class, major, false, now)
    }

    fn admit_counting(
        &mut self,
        class: RouteClass,
        major: &str,
        counts_globally: bool,
        now: Instant,
    ) -> Admission {
        let global = self.limits.global.filter(|_| counts_globally);
        if let Some(Limit { limit, period }) = global {
            self.global.roll(now, period);
            if self.global.count >= limit {
                return Admission::GlobalLimited { retry_after: self.global.left(now) };
            }
        }
        let headers = match self.limits.routes.get(&class).copied() {
            Some(Limit { limit, period }) => {
                let window = self.buckets.entry((class, major.to_owned())).or_default();
                window.roll(now, period);
                if window.count >= limit {
                    return Admission::RouteLimited {
                        headers: BucketHeaders {
                            bucket: class.bucket_hash(),
                            limit,
                            remaining: 0,
                            reset_after: window.left(now),
                        },
                    };
                }
                window.count += 1;
                Some(BucketHeaders {
                    bucket: class.bucket_hash(),
                    limit,
                    remaining: limit - window.count,
                    reset_after: window.left(now),
                })
            }
            None => None,
        };
        if global.is_some() {
            self.global.count += 1;
        }
        Admission::Allowed(headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[tokio::test(start_paused = true)]
    async fn windows_start_at_first_request_and_count_per_major() {
        let mut state = LimitState::new(RateLimits {
            global: Some(Limit::per_ms(3, 1_000)),
            routes: BTreeMap::from([(RouteClass::Messages, Limit::per_ms(2, 5_000))]),
        });
        let t0 = Instant::now();
        assert!(matches!(
            state.admit(RouteClass::Messages, "channels/1", t0),
            Admission::Allowed(Some(BucketHeaders { remaining: 1, .. }))
        ));
        assert!(matches!(
            state.admit(RouteClass::Messages, "channels/1", t0),
            Admission::Allowed(Some(BucketHeaders { remaining: 0, .. }))
        ));
        assert!(matches!(
            state.admit(RouteClass::Messages, "channels/1", t0),
            Admission::RouteLimited { .. }
        ));
        assert!(matches!(
            state.admit(RouteClass::Messages, "channels/2", t0),
            Admission::Allowed(_)
        ));
        // Three requests passed: the global window of 3 is full.
        assert_eq!(
            state.admit(RouteClass::Messages, "channels/3", t0),
            Admission::GlobalLimited { retry_after: Duration::from_secs(1) }
        );
        // Webhooks are not global.
        assert!(matches!(
            state.admit(RouteClass::Webhook, "webhooks/1/t", t0),
            Admission::Allowed(None)
        ));
        // A user's OAuth2 token has its own buckets and is not part of the bot's global limit.
        assert!(matches!(
            state.admit_user(RouteClass::Messages, "users/7", t0),
            Admission::Allowed(Some(BucketHeaders { remaining: 1, .. }))
        ));
        let later = t0 + Duration::from_secs(5);
        assert!(matches!(
            state.admit(RouteClass::Messages, "channels/1", later),
            Admission::Allowed(Some(BucketHeaders { remaining: 1, .. }))
        ));
    }
}
