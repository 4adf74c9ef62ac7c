//! Discord as the OAuth2 provider of a web login: the authorization code grant with PKCE, and the user
//! tokens it hands out. No I/O here: the server passes the query, form, headers and the fake's clock in,
//! and turns the answers into HTTP.
//!
//! What Discord does, as its documentation and its answers reported in discord-api-docs say (#5254,
//! #7046): `code_challenge_method` `S256` only, a `code_verifier` of 43 to 128 characters, codes used
//! once, tokens that last 604,800 seconds, `{"error", "error_description"}` bodies from the token
//! endpoint. Where Discord's documentation is silent the fake follows RFC 6749 and RFC 7636.

use std::collections::HashMap;

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use chrono::{DateTime, Duration, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use rand::{Rng, distr::Alphanumeric};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::world::World;

/// How long an authorization code can be exchanged, on the fake's clock (RFC 6749's recommended most).
pub(crate) const CODE_LIFETIME: Duration = Duration::minutes(10);
/// How long an access token lasts, in seconds (Discord's `expires_in`: 7 days).
pub(crate) const TOKEN_LIFETIME_SECONDS: i64 = 604_800;
/// The scopes the fake grants: what a web login needs.
const KNOWN_SCOPES: [&str; 2] = [scope::IDENTIFY, scope::GUILDS];
/// Lengths RFC 7636 allows a `code_verifier`; Discord enforces them.
const VERIFIER_LENGTHS: std::ops::RangeInclusive<usize> = 43..=128;
/// What Discord appends to the redirect when the user cancels.
const DENIED: &str = "The resource owner or authorization server denied the request";
/// Characters left as they are in a query value: RFC 3986's unreserved ones.
const QUERY_VALUE: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// OAuth2 scope names.
pub(crate) mod scope {
    /// `GET /users/@me`.
    pub(crate) const IDENTIFY: &str = "identify";
    /// `GET /users/@me/guilds`.
    pub(crate) const GUILDS: &str = "guilds";
}

/// A user's access token: who, with which scopes, until when.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) user: u64,
    scopes: Vec<String>,
    expires: DateTime<Utc>,
}

impl Session {
    pub(crate) fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// An authorization code waiting to be exchanged.
#[derive(Clone, Debug)]
struct Grant {
    user: u64,
    scopes: Vec<String>,
    redirect_uri: String,
    /// `code_challenge` (S256), when the authorization had one.
    challenge: Option<String>,
    expires: DateTime<Utc>,
}

/// The provider's state: the application's credentials, who is signed in, codes and tokens.
#[derive(Debug)]
pub(crate) struct OAuthState {
    pub(crate) client_secret: String,
    /// Registered redirect URIs; empty accepts any `http`/`https` URI.
    pub(crate) redirect_uris: Vec<String>,
    /// The user the browser is signed in as (who approves); `None`: the user cancels.
    pub(crate) signed_in: Option<u64>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Session>,
}

/// What `GET /oauth2/authorize` answers.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Authorization {
    /// A 400 page, no redirect: the request cannot be trusted to say where to send the browser, or
    /// Discord shows the error on its own page.
    Refused(String),
    /// A 302 to this URL: the redirect URI with `code` or `error`, and `state`.
    Redirect(String),
}

/// A refusal of the token endpoint: status and `{"error", "error_description"?}`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TokenError {
    pub(crate) status: u16,
    pub(crate) error: &'static str,
    pub(crate) description: Option<String>,
}

impl TokenError {
    fn bad(error: &'static str, description: impl Into<String>) -> Self {
        Self { status: 400, error, description: Some(description.into()) }
    }

    const fn invalid_client() -> Self {
        Self { status: 401, error: "invalid_client", description: None }
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::bad("invalid_grant", description)
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::bad("invalid_request", description)
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> Value {
        match &self.description {
            Some(description) => json!({"error": self.error, "error_description": description}),
            None => json!({"error": self.error}),
        }
    }
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// 30 random letters and digits, the shape of Discord's codes and tokens.
fn random_token() -> String {
    rand::rng().sample_iter(Alphanumeric).take(30).map(char::from).collect()
}

/// `uri` with `pairs` appended to its query.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = uri.to_owned();
    for (name, value) in pairs {
        if !(out.ends_with('?') || out.ends_with('&')) {
            out.push(if out.contains('?') { '&' } else { '?' });
        }
        out.push_str(name);
        out.push('=');
        out.extend(utf8_percent_encode(value, QUERY_VALUE));
    }
    out
}

/// An absolute `http`/`https` URI without a fragment (RFC 6749 §3.1.2).
fn plausible_redirect(uri: &str) -> bool {
    let rest = uri.strip_prefix("https://").or_else(|| uri.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/')) && !uri.contains('#')
}

/// Whether a `code_verifier` has RFC 7636's length and alphabet.
fn well_formed_verifier(verifier: &str) -> bool {
    VERIFIER_LENGTHS.contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The S256 `code_challenge` of a verifier: base64url without padding of its SHA-256.
pub(crate) fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// One form-encoded name or value, decoded (`+` is a space).
fn form_decode(raw: &str) -> String {
    percent_decode_str(&raw.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// Form pairs of an `application/x-www-form-urlencoded` body.
pub(crate) fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name), form_decode(value))
        })
        .collect()
}

/// `(client_id, client_secret)` from `Authorization: Basic …` (each form-encoded, RFC 6749 §2.3.1).
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id), form_decode(secret)))
}

impl OAuthState {
    pub(crate) fn new(
        client_secret: String,
        redirect_uris: Vec<String>,
        signed_in: Option<u64>,
    ) -> Self {
        Self {
            client_secret,
            redirect_uris,
            signed_in,
            codes: HashMap::new(),
            tokens: HashMap::new(),
        }
    }

    /// Who signs in by default: the owner of the first guild (lowest id), else its first human member.
    pub(crate) fn default_user(world: &World) -> Option<u64> {
        let guild = world.guilds.values().next()?;
        guild.owner_id.or_else(|| guild.members.iter().copied().find(|u| !world.is_bot(*u)))
    }

    /// `GET /oauth2/authorize` with the signed-in user (or `login_as`) approving, checked in this order:
    /// `client_id`, `redirect_uri` (both refused on a page, as the redirect cannot be trusted yet),
    /// `response_type`, `scope`, PKCE, `login_as`; then the redirect with a code, or with
    /// `error=access_denied` when nobody is signed in.
    pub(crate) fn authorize(
        &mut self,
        world: &World,
        query: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Authorization {
        let refuse = |error: &str, description: String| {
            Authorization::Refused(format!("{error}: {description}\n"))
        };
        let client_id = param(query, "client_id").unwrap_or_default();
        if client_id.parse::<u64>().ok() != Some(world.application_id) {
            return refuse(
                "invalid_client",
                format!(
                    "Unknown application: client_id {client_id:?} is not this fake's ({}).",
                    world.application_id
                ),
            );
        }
        let Some(redirect_uri) = param(query, "redirect_uri") else {
            return refuse("invalid_request", "Missing \"redirect_uri\".".to_owned());
        };
        let allowed = if self.redirect_uris.is_empty() {
            plausible_redirect(redirect_uri)
        } else {
            self.redirect_uris.iter().any(|r| r == redirect_uri)
        };
        if !allowed {
            return refuse(
                "invalid_request",
                format!("Invalid OAuth2 redirect_uri {redirect_uri:?}."),
            );
        }
        let response_type = param(query, "response_type").unwrap_or_default();
        if response_type != "code" {
            return refuse(
                "unsupported_response_type",
                format!("response_type {response_type:?}: the fake only grants \"code\"."),
            );
        }
        let mut scopes: Vec<String> = Vec::new();
        for name in param(query, "scope").unwrap_or_default().split(' ').filter(|s| !s.is_empty()) {
            if !KNOWN_SCOPES.contains(&name) {
                return refuse(
                    "invalid_scope",
                    format!("Invalid scope {name:?} (the fake grants identify and guilds)."),
                );
            }
            if !scopes.iter().any(|s| s == name) {
                scopes.push(name.to_owned());
            }
        }
        if !scopes.iter().any(|s| s == scope::IDENTIFY) {
            return refuse("invalid_scope", "The scope must include \"identify\".".to_owned());
        }
        let challenge =
            match (param(query, "code_challenge"), param(query, "code_challenge_method")) {
                (None, None) => None,
                (Some(challenge), Some("S256")) if !challenge.is_empty() => {
                    Some(challenge.to_owned())
                }
                (None | Some(""), Some(_)) => {
                    return refuse("invalid_request", "Missing \"code_challenge\".".to_owned());
                }
                // No method means "plain" (RFC 7636 §4.3), which Discord does not support either.
                (Some(_), _) => {
                    return refuse(
                        "invalid_request",
                        "Unsupported \"code_challenge_method\".".to_owned(),
                    );
                }
            };
        let user = match param(query, "login_as") {
            Some(raw) => match raw.parse::<u64>() {
                Ok(id) if world.users.get(&id).is_some_and(|u| !u.bot) => Some(id),
                _ => {
                    return refuse(
                        "invalid_request",
                        format!("login_as {raw:?} is not a human user of the fake."),
                    );
                }
            },
            None => self.signed_in,
        };
        let state = param(query, "state");
        let Some(user) = user else {
            let mut pairs = vec![("error", "access_denied"), ("error_description", DENIED)];
            pairs.extend(state.map(|s| ("state", s)));
            return Authorization::Redirect(with_query(redirect_uri, &pairs));
        };
        self.codes.retain(|_, grant| grant.expires > now);
        let code = random_token();
        self.codes.insert(
            code.clone(),
            Grant {
                user,
                scopes,
                redirect_uri: redirect_uri.to_owned(),
                challenge,
                expires: now + CODE_LIFETIME,
            },
        );
        let mut pairs = vec![("code", code.as_str())];
        pairs.extend(state.map(|s| ("state", s)));
        Authorization::Redirect(with_query(redirect_uri, &pairs))
    }

    /// `POST /oauth2/token`: exchanges a code for a token, checked in this order: `grant_type`, the
    /// client (HTTP Basic, else the `client_id`/`client_secret` fields), `code` and `redirect_uri`
    /// present, the verifier's form, then the code (unknown, used or expired), `redirect_uri` equal to
    /// the authorization's, and the verifier against the challenge. An exchange that gets as far as a
    /// live code uses it up, refused after that or not.
    pub(crate) fn exchange(
        &mut self,
        application_id: u64,
        authorization: Option<&str>,
        form: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<Value, TokenError> {
        match param(form, "grant_type") {
            Some("authorization_code") => {}
            other => {
                // Discord's backend names a missing grant type in Python's words.
                return Err(TokenError::bad(
                    "unsupported_grant_type",
                    format!("Grant type {} is not supported", other.unwrap_or("None")),
                ));
            }
        }
        let credentials = match authorization {
            Some(header) => basic_credentials(header),
            None => param(form, "client_id")
                .zip(param(form, "client_secret"))
                .map(|(id, secret)| (id.to_owned(), secret.to_owned())),
        };
        let authenticated = credentials.is_some_and(|(id, secret)| {
            id.parse::<u64>().ok() == Some(application_id) && secret == self.client_secret
        });
        if !authenticated {
            return Err(TokenError::invalid_client());
        }
        let code = param(form, "code")
            .ok_or_else(|| TokenError::invalid_request("Missing \"code\" in request."))?;
        let redirect_uri = param(form, "redirect_uri")
            .ok_or_else(|| TokenError::invalid_request("Missing \"redirect_uri\" in request."))?;
        let verifier = param(form, "code_verifier");
        if verifier.is_some_and(|v| !well_formed_verifier(v)) {
            return Err(TokenError::invalid_request("Invalid \"code_verifier\""));
        }
        let grant = self
            .codes
            .remove(code)
            .filter(|grant| grant.expires > now)
            .ok_or_else(|| TokenError::invalid_grant("Invalid \"code\" in request."))?;
        if grant.redirect_uri != redirect_uri {
            return Err(TokenError::invalid_grant("Invalid \"redirect_uri\" in request."));
        }
        if let Some(challenge) = &grant.challenge {
            let verifier =
                verifier.ok_or_else(|| TokenError::invalid_request("Missing \"code_verifier\""))?;
            if s256_challenge(verifier) != *challenge {
                return Err(TokenError::invalid_grant(
                    "\"code_verifier\" does not match \"code_challenge\"",
                ));
            }
        }
        self.tokens.retain(|_, session| session.expires > now);
        let access_token = random_token();
        let scope = grant.scopes.join(" ");
        self.tokens.insert(
            access_token.clone(),
            Session {
                user: grant.user,
                scopes: grant.scopes,
                expires: now + Duration::seconds(TOKEN_LIFETIME_SECONDS),
            },
        );
        Ok(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "refresh_token": random_token(),
            "scope": scope,
        }))
    }

    /// The session of a live access token.
    pub(crate) fn session(&self, access_token: &str, now: DateTime<Utc>) -> Option<Session> {
        self.tokens.get(access_token).filter(|s| s.expires > now).cloned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636s_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn redirects_keep_the_uris_query_and_encode_values() {
        assert_eq!(
            with_query("http://x/cb", &[("code", "ab"), ("state", "a b&c")]),
            "http://x/cb?code=ab&state=a%20b%26c"
        );
        assert_eq!(
            with_query("http://x/cb?next=1", &[("code", "ab")]),
            "http://x/cb?next=1&code=ab"
        );
        assert!(plausible_redirect("https://dash.example/callback"));
        assert!(!plausible_redirect("ftp://x/cb"));
        assert!(!plausible_redirect("http:///cb"));
        assert!(!plausible_redirect("http://x/cb#frag"));
    }

    #[test]
    fn forms_and_basic_credentials_decode() {
        assert_eq!(
            form_pairs(b"a=1+2&b=%2F&c"),
            vec![("a".into(), "1 2".into()), ("b".into(), "/".into()), ("c".into(), String::new())]
        );
        let header = format!("Basic {}", STANDARD.encode("123:s%3Acret"));
        assert_eq!(basic_credentials(&header), Some(("123".into(), "s:cret".into())));
        assert_eq!(basic_credentials("Bearer x"), None);
        assert!(well_formed_verifier(&"a".repeat(43)));
        assert!(!well_formed_verifier(&"a".repeat(42)));
        assert!(!well_formed_verifier(&"a".repeat(129)));
        assert!(!well_formed_verifier(&format!("{}!", "a".repeat(43))));
    }
}
