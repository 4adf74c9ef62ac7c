//! Rate-limit keys of requests.
//!
//! Discord groups routes into buckets and counts each bucket separately per *top-level resource* (the "major
//! parameter": a channel, guild or webhook). A [`Route`] is the method plus the path with the major parameter
//! kept and every other id (message ids, user ids, emoji) replaced by a placeholder, so that all requests that
//! Discord counts together map to the same key.

use std::{fmt, sync::Arc};

use http::Method;

/// Rate-limit key of one request: method + path template (major parameter kept, minor ids replaced).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Route {
    method: Method,
    template: Arc<str>,
    shape: Arc<str>,
    major: Arc<str>,
    label: Arc<str>,
    /// `webhooks/{app}/{token}/…` or `interactions/{id}/{token}/…`: authenticated by the token in the
    /// path, outside the global limit.
    token_route: bool,
}

impl Route {
    /// Builds the key of a request to `path` (relative to the API base, no leading slash, no query string).
    #[must_use]
    pub fn new(method: Method, path: &str) -> Self {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut template: Vec<String> = Vec::with_capacity(segments.len());
        let mut shape: Vec<String> = Vec::with_capacity(segments.len());
        let mut label: Vec<String> = Vec::with_capacity(segments.len());
        let mut major = String::new();
        let first = segments.first().copied().unwrap_or_default();
        let major_len = match first {
            "channels" | "guilds" => 2,
            // Webhook id and token are both part of the top-level resource (interaction follow-ups are
            // limited per interaction token).
            "webhooks" | "interactions" => 3,
            _ => 0,
        };
        for (index, segment) in segments.iter().enumerate() {
            let previous = index.checked_sub(1).and_then(|i| segments.get(i)).copied();
            if index < major_len.min(segments.len()) {
                template.push((*segment).to_owned());
                shape.push(if index == 0 { (*segment).to_owned() } else { ":major".to_owned() });
                // Never log a webhook/interaction token.
                label.push(if index == 2 { ":token".to_owned() } else { (*segment).to_owned() });
                if index > 0 {
                    major.push('/');
                }
                major.push_str(segment);
                continue;
            }
            let replaced = if previous == Some("reactions") {
                ":emoji".to_owned()
            } else if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
                ":id".to_owned()
            } else {
                (*segment).to_owned()
            };
            template.push(replaced.clone());
            shape.push(replaced.clone());
            label.push(replaced);
        }
        let token_route = matches!(first, "webhooks" | "interactions");
        Self {
            method,
            template: template.join("/").into(),
            shape: shape.join("/").into(),
            major: major.into(),
            label: label.join("/").into(),
            token_route,
        }
    }

    /// The HTTP method.
    #[must_use]
    pub const fn method(&self) -> &Method {
        &self.method
    }

    /// The top-level resource (e.g. `channels/123`), empty for routes without one.
    #[must_use]
    pub fn major(&self) -> &str {
        &self.major
    }

    pub(crate) fn major_arc(&self) -> Arc<str> {
        Arc::clone(&self.major)
    }

    /// The route with its major parameter replaced too: what Discord maps to a bucket hash. Routes of the
    /// same shape share the bucket hash but each major parameter has its own counts.
    pub(crate) fn shape(&self) -> (Method, Arc<str>) {
        (self.method.clone(), Arc::clone(&self.shape))
    }

    /// Whether requests on this route count against the bot's global limit. Interaction webhooks do not.
    #[must_use]
    pub const fn counts_globally(&self) -> bool {
        !self.token_route
    }

    /// Whether the bot token is what authenticates this route. Webhook and interaction routes are
    /// authenticated by the token in their path instead: a 401 there says that token expired or is
    /// unknown, nothing about the bot token.
    #[must_use]
    pub const fn uses_bot_token(&self) -> bool {
        !self.token_route
    }
}

/// Prints the method and template with any webhook or interaction token hidden: safe for logs.
impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.label)
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Route({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_ids_are_replaced_and_major_kept() {
        let a = Route::new(Method::GET, "channels/10/messages/20/reactions/%F0%9F%91%8D");
        let b = Route::new(Method::GET, "channels/10/messages/21/reactions/party:99");
        let c = Route::new(Method::GET, "channels/11/messages/21/reactions/party:99");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.major(), "channels/10");
        assert_eq!(a.shape(), c.shape());
        assert_eq!(a.to_string(), "GET channels/10/messages/:id/reactions/:emoji");
        assert!(a.counts_globally());
    }

    #[test]
    fn method_is_part_of_the_key() {
        assert_ne!(
            Route::new(Method::GET, "channels/1/messages"),
            Route::new(Method::POST, "channels/1/messages")
        );
    }

    #[test]
    fn guild_routes_keep_the_guild() {
        let r = Route::new(Method::GET, "guilds/5/threads/active");
        assert_eq!(r.major(), "guilds/5");
        assert_eq!(r.to_string(), "GET guilds/5/threads/active");
        let r = Route::new(Method::PUT, "applications/7/guilds/5/commands");
        assert_eq!(r.major(), "");
        assert_eq!(r.to_string(), "PUT applications/:id/guilds/:id/commands");
        assert_eq!(Route::new(Method::GET, "users/@me/guilds").to_string(), "GET users/@me/guilds");
    }

    #[test]
    fn role_changes_of_a_guild_share_one_key() {
        let give = Route::new(Method::PUT, "guilds/5/members/100/roles/200");
        assert_eq!(give.major(), "guilds/5");
        assert_eq!(give.to_string(), "PUT guilds/5/members/:id/roles/:id");
        assert_eq!(give, Route::new(Method::PUT, "guilds/5/members/101/roles/201"));
        assert_ne!(give, Route::new(Method::PUT, "guilds/6/members/100/roles/200"));
        assert_eq!(give.shape(), Route::new(Method::PUT, "guilds/6/members/1/roles/2").shape());
        let take = Route::new(Method::DELETE, "guilds/5/members/100/roles/200");
        assert_eq!(take.major(), "guilds/5");
        assert_ne!(give, take, "Discord buckets each method apart");
        assert!(give.uses_bot_token() && give.counts_globally());
        let member = Route::new(Method::GET, "guilds/5/members/100");
        assert_eq!(member.to_string(), "GET guilds/5/members/:id");
        assert_eq!(member, Route::new(Method::GET, "guilds/5/members/101"));
        let me = Route::new(Method::GET, "users/@me");
        assert_eq!((me.major(), me.to_string().as_str()), ("", "GET users/@me"));
    }

    #[test]
    fn webhook_tokens_are_major_but_never_printed() {
        let r = Route::new(Method::PATCH, "webhooks/7/secret-token/messages/@original");
        let other = Route::new(Method::PATCH, "webhooks/7/other-token/messages/@original");
        assert_ne!(r, other);
        assert!(!r.counts_globally());
        assert!(!r.uses_bot_token());
        assert!(Route::new(Method::GET, "guilds/5/channels").uses_bot_token());
        let shown = format!("{r} {r:?}");
        assert!(!shown.contains("secret-token"), "{shown}");
        assert_eq!(r.to_string(), "PATCH webhooks/7/:token/messages/@original");
    }
}
