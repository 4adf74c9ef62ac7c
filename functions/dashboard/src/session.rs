//! The login cookies, signed with HMAC-SHA256 under the session key: what the browser holds cannot be
//! changed without the key, and every value carries its own expiry, checked on every request.
//!
//! Two cookies: [`LOGIN_COOKIE`] holds the OAuth2 `state` and the PKCE verifier between the redirect to
//! Discord and the callback (10 minutes); [`SESSION_COOKIE`] holds who logged in and which of their
//! servers the bot counts (at most [`SESSION_TTL_MS`]). Both are `HttpOnly`, `SameSite=Lax`, `Path=/`,
//! and `Secure` whenever the dashboard is served over HTTPS (always in AWS; the local demo is plain HTTP
//! on the loopback address).
//!
//! The cookie format is `base64url(JSON) "." base64url(HMAC-SHA256(key, name "\n" base64url(JSON)))`,
//! compared in constant time: the cookie's name is signed too, so a value made for one cookie never
//! opens as the other. Nothing secret is in it: the user's Discord access token is used once at login and
//! dropped, never stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "engagement_session";
/// The cookie holding the OAuth2 state and PKCE verifier during a login.
pub const LOGIN_COOKIE: &str = "engagement_login";
/// How long a session lasts: 12 hours (the issue asks for less than a day).
pub const SESSION_TTL_MS: u64 = 12 * 3_600_000;
/// How long a login may take between the redirect to Discord and the callback.
pub const LOGIN_TTL_MS: u64 = 10 * 60_000;
/// At most this many servers are kept in a session (a cookie holds about 4 KB).
pub const MAX_SESSION_GUILDS: usize = 50;
/// The shortest session key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The key that signs the cookies (at least [`MIN_KEY_BYTES`] bytes).
#[derive(Clone)]
pub struct SessionKey(Vec<u8>);

impl SessionKey {
    /// A key from its bytes.
    ///
    /// # Errors
    /// When it is shorter than [`MIN_KEY_BYTES`].
    pub fn new(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the session key is {} bytes; at least {MIN_KEY_BYTES} are needed",
                bytes.len()
            ));
        }
        Ok(Self(bytes))
    }

    fn mac(&self, name: &str, body: &str) -> HmacSha256 {
        // HMAC takes a key of any length.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
        mac.update(name.as_bytes());
        mac.update(b"\n");
        mac.update(body.as_bytes());
        mac
    }

    /// `value` signed as the value of the cookie `name`.
    #[must_use]
    pub fn seal<T: Serialize>(&self, name: &str, value: &T) -> String {
        let json = serde_json::to_vec(value).unwrap_or_default();
        let body = URL_SAFE_NO_PAD.encode(json);
        let tag = URL_SAFE_NO_PAD.encode(self.mac(name, &body).finalize().into_bytes());
        format!("{body}.{tag}")
    }

    /// The value of the cookie `name` if this key sealed it for that name; `None` for anything else
    /// (another key or name, changed, malformed).
    #[must_use]
    pub fn open<T: DeserializeOwned>(&self, name: &str, cookie: &str) -> Option<T> {
        let (body, tag) = cookie.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(name, body).verify_slice(&tag).ok()?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()
    }
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(…)")
    }
}

/// One of the viewer's servers, as listed at login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionGuild {
    /// The guild.
    pub id: u64,
    /// Its name at login.
    pub name: String,
    /// Whether the viewer owned it at login (Discord's `owner`; ownership changes hands rarely, and the
    /// session is short).
    #[serde(default)]
    pub owner: bool,
}

/// Who is logged in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The Discord user.
    pub user: u64,
    /// Their display name at login.
    pub name: String,
    /// Their servers that the bot counts (at most [`MAX_SESSION_GUILDS`], and what fits a cookie).
    pub guilds: Vec<SessionGuild>,
    /// How many more there were.
    #[serde(default)]
    pub guilds_left_out: usize,
    /// When the session ends (Unix ms).
    pub expires_ms: u64,
}

/// A login under way: what the callback must see again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginState {
    /// The OAuth2 `state` sent to Discord.
    pub state: String,
    /// The PKCE code verifier whose challenge was sent.
    pub verifier: String,
    /// When the login must have come back (Unix ms).
    pub expires_ms: u64,
}

/// An unexpired value of cookie `name` in a `Cookie` header, opened with `key`.
#[must_use]
pub fn read<T: DeserializeOwned + Expiring>(
    key: &SessionKey,
    cookie_header: Option<&str>,
    name: &str,
    now_ms: u64,
) -> Option<T> {
    let value = cookie_header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)?;
    key.open::<T>(name, value).filter(|v| now_ms < v.expires_ms())
}

/// A value with an expiry.
pub trait Expiring {
    /// When it expires (Unix ms).
    fn expires_ms(&self) -> u64;
}

impl Expiring for Session {
    fn expires_ms(&self) -> u64 {
        self.expires_ms
    }
}

impl Expiring for LoginState {
    fn expires_ms(&self) -> u64 {
        self.expires_ms
    }
}

/// A `Set-Cookie` value setting `name` to `value` for `max_age_ms`.
#[must_use]
pub fn set_cookie(name: &str, value: &str, max_age_ms: u64, secure: bool) -> String {
    format!(
        "{name}={value}; Max-Age={}; Path=/; HttpOnly; SameSite=Lax{}",
        max_age_ms / 1000,
        if secure { "; Secure" } else { "" }
    )
}

/// A `Set-Cookie` value clearing `name`.
#[must_use]
pub fn clear_cookie(name: &str, secure: bool) -> String {
    set_cookie(name, "", 0, secure)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key(byte: u8) -> SessionKey {
        SessionKey::new(vec![byte; 32]).unwrap()
    }

    fn session(expires_ms: u64) -> Session {
        Session {
            user: 7,
            name: "Ada".into(),
            guilds: vec![SessionGuild { id: 1, name: "One".into(), owner: false }],
            guilds_left_out: 0,
            expires_ms,
        }
    }

    #[test]
    fn a_sealed_session_opens_with_its_key_only_and_until_it_expires() {
        let cookie = key(1).seal(SESSION_COOKIE, &session(1_000));
        let header = format!("other=x; {SESSION_COOKIE}={cookie}; more=y");
        let open = |k: &SessionKey, now| read::<Session>(k, Some(&header), SESSION_COOKIE, now);
        assert_eq!(open(&key(1), 999), Some(session(1_000)));
        assert_eq!(open(&key(1), 1_000), None, "expired");
        assert_eq!(open(&key(2), 0), None, "another key");
        assert_eq!(read::<Session>(&key(1), None, SESSION_COOKIE, 0), None);
    }

    #[test]
    fn a_changed_cookie_does_not_open() {
        let cookie = key(1).seal(SESSION_COOKIE, &session(1_000));
        let (body, tag) = cookie.split_once('.').unwrap();
        // Another user id under the old signature.
        let forged = URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&Session { user: 8, ..session(1_000) }).unwrap());
        assert!(key(1).open::<Session>(SESSION_COOKIE, &format!("{forged}.{tag}")).is_none());
        assert!(key(1).open::<Session>(SESSION_COOKIE, body).is_none(), "no signature");
        assert!(
            key(1).open::<Session>(SESSION_COOKIE, &format!("{body}.")).is_none(),
            "empty signature"
        );
        assert!(key(1).open::<Session>(SESSION_COOKIE, &format!("{body}.{tag}x")).is_none());
        assert!(key(1).open::<Session>(SESSION_COOKIE, "").is_none());
        // A value sealed for one cookie does not open as the other, even with the same key and shape.
        let login = key(1).seal(
            LOGIN_COOKIE,
            &LoginState { state: "s".into(), verifier: "v".into(), expires_ms: 9 },
        );
        assert!(key(1).open::<Session>(SESSION_COOKIE, &login).is_none());
        assert!(key(1).open::<LoginState>(LOGIN_COOKIE, &login).is_some());
        let session_as_login = key(1).seal(LOGIN_COOKIE, &session(1_000));
        assert!(key(1).open::<Session>(SESSION_COOKIE, &session_as_login).is_none());
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(SessionKey::new(vec![0; 31]).is_err());
        assert!(SessionKey::new(vec![0; 32]).is_ok());
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_over_https() {
        let c = set_cookie(SESSION_COOKIE, "v", SESSION_TTL_MS, true);
        assert_eq!(
            c,
            "engagement_session=v; Max-Age=43200; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(!clear_cookie(LOGIN_COOKIE, false).contains("Secure"));
        assert!(clear_cookie(LOGIN_COOKIE, false).contains("Max-Age=0"));
    }
}
