//! Discord's OAuth2 authorization code grant with PKCE, for the dashboard's "Log in with Discord"
//! (docs: topics/oauth2): the authorize URL the browser is sent to, the code exchange, and the two user
//! calls the dashboard makes once with the user's access token (`GET /users/@me`,
//! `GET /users/@me/guilds`). The access token is used for those and dropped; the client secret and the
//! token never appear in an error or a log.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::{DEFAULT_API_BASE, USER_AGENT};

/// Discord's authorize page.
pub const DEFAULT_AUTHORIZE_URL: &str = "https://discord.com/oauth2/authorize";
/// The scopes the dashboard asks for: who the user is and which servers they are in.
pub const SCOPES: &str = "identify guilds";

/// Where the OAuth2 endpoints are and who the application is.
#[derive(Clone)]
pub struct OAuthConfig {
    /// The application's client id (its application id).
    pub client_id: u64,
    /// The application's client secret.
    pub client_secret: String,
    /// The authorize page ([`DEFAULT_AUTHORIZE_URL`]).
    pub authorize_url: String,
    /// The token endpoint (`{api base}/oauth2/token`).
    pub token_url: String,
    /// The API base for the user calls ([`DEFAULT_API_BASE`]).
    pub api_base: String,
}

impl OAuthConfig {
    /// Discord's endpoints for `client_id`, or `api_base`'s (the authorize page stays Discord's unless
    /// set).
    #[must_use]
    pub fn new(client_id: u64, client_secret: String, api_base: Option<String>) -> Self {
        let api_base = api_base
            .unwrap_or_else(|| DEFAULT_API_BASE.to_owned())
            .trim_end_matches('/')
            .to_owned();
        Self {
            client_id,
            client_secret,
            authorize_url: DEFAULT_AUTHORIZE_URL.to_owned(),
            token_url: format!("{api_base}/oauth2/token"),
            api_base,
        }
    }
}

impl fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("api_base", &self.api_base)
            .finish()
    }
}

/// A PKCE verifier and its S256 challenge, and a `state`: fresh random values for one login.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginSecrets {
    /// The `state` parameter (32 random bytes, base64url).
    pub state: String,
    /// The code verifier (64 random bytes, base64url: 86 characters, within PKCE's 43–128).
    pub verifier: String,
}

impl LoginSecrets {
    /// Fresh random values from the operating system's generator.
    #[must_use]
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let mut state = [0u8; 32];
        let mut verifier = [0u8; 64];
        rng.fill_bytes(&mut state);
        rng.fill_bytes(&mut verifier);
        Self { state: URL_SAFE_NO_PAD.encode(state), verifier: URL_SAFE_NO_PAD.encode(verifier) }
    }
}

impl fmt::Debug for LoginSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoginSecrets(<redacted>)")
    }
}

/// The S256 challenge of a verifier: base64url without padding of its SHA-256.
#[must_use]
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// What a query value escapes: everything but RFC 3986's unreserved characters.
const QUERY_VALUE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The URL to send the browser to.
#[must_use]
pub fn authorize_url(config: &OAuthConfig, redirect_uri: &str, secrets: &LoginSecrets) -> String {
    let q = |s: &str| percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string();
    format!(
        "{}?response_type=code&client_id={}&scope={}&redirect_uri={}&state={}&code_challenge={}\
         &code_challenge_method=S256&prompt=none",
        config.authorize_url,
        config.client_id,
        q(SCOPES),
        q(redirect_uri),
        q(&secrets.state),
        q(&challenge(&secrets.verifier)),
    )
}

/// The logged-in user (`GET /users/@me`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct OAuthUser {
    /// The user id.
    #[serde(with = "crate::model::snowflake_string")]
    pub id: u64,
    /// Their username.
    pub username: String,
    /// Their display name, when set.
    #[serde(default)]
    pub global_name: Option<String>,
}

impl OAuthUser {
    /// The name to greet them by.
    #[must_use]
    pub fn display_name(&self) -> &str {
        self.global_name.as_deref().filter(|n| !n.is_empty()).unwrap_or(&self.username)
    }
}

/// One of the user's servers (`GET /users/@me/guilds`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct OAuthGuild {
    /// The guild.
    #[serde(with = "crate::model::snowflake_string")]
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Whether the user owns it.
    #[serde(default)]
    pub owner: bool,
}

/// Why a login step failed. Carries neither the code, the tokens nor the secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// Discord refused the code or the client (`invalid_grant`, `invalid_client`, …).
    #[error("Discord refused the login ({status}: {error})")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The OAuth2 `error` code, or the API's message.
        error: String,
    },
    /// Discord could not be reached or answered something else.
    #[error("the login could not reach Discord: {0}")]
    Transport(String),
}

/// Calls Discord's OAuth2 endpoints.
#[derive(Clone, Debug)]
pub struct OAuthClient {
    http: reqwest::Client,
    config: OAuthConfig,
}

/// A user's access token, used for this login's calls only.
pub struct AccessToken(String);

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl OAuthClient {
    /// A client for `config`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(config: OAuthConfig) -> Result<Self, OAuthError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| OAuthError::Transport(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { http, config })
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &OAuthConfig {
        &self.config
    }

    /// Exchanges the authorization code (with the PKCE verifier) for an access token.
    ///
    /// # Errors
    /// [`OAuthError::Refused`] when Discord refuses the code, verifier, redirect or client.
    pub async fn exchange(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<AccessToken, OAuthError> {
        let request = self
            .http
            .post(&self.config.token_url)
            .basic_auth(self.config.client_id, Some(&self.config.client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
            ]);
        let answer: TokenAnswer = self.send(request, "the token exchange").await?;
        Ok(AccessToken(answer.access_token))
    }

    /// The user the token belongs to.
    ///
    /// # Errors
    /// Refused or failed calls.
    pub async fn user(&self, token: &AccessToken) -> Result<OAuthUser, OAuthError> {
        let url = format!("{}/users/@me", self.config.api_base);
        self.send(self.http.get(url).bearer_auth(&token.0), "the user").await
    }

    /// The user's servers (the first 200: a session keeps at most 50 anyway).
    ///
    /// # Errors
    /// Refused or failed calls.
    pub async fn guilds(&self, token: &AccessToken) -> Result<Vec<OAuthGuild>, OAuthError> {
        let url = format!("{}/users/@me/guilds?limit=200", self.config.api_base);
        self.send(self.http.get(url).bearer_auth(&token.0), "the user's servers").await
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<T, OAuthError> {
        // reqwest's errors name the URL, which holds no secret here (the code travels in the body).
        let response = request
            .send()
            .await
            .map_err(|e| OAuthError::Transport(format!("{what}: {}", e.without_url())))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| OAuthError::Transport(format!("{what}: {}", e.without_url())))?;
        if !status.is_success() {
            let answer: Option<ErrorAnswer> = serde_json::from_slice(&body).ok();
            let error = answer
                .and_then(|a| a.error.or(a.message))
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
            return Err(OAuthError::Refused { status: status.as_u16(), error });
        }
        serde_json::from_slice(&body)
            .map_err(|e| OAuthError::Transport(format!("{what}: unexpected answer ({e})")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn login_secrets_are_random_and_long_enough() {
        let (a, b) = (LoginSecrets::generate(), LoginSecrets::generate());
        assert_ne!(a.state, b.state);
        assert_ne!(a.verifier, b.verifier);
        assert!((43..=128).contains(&a.verifier.len()));
        assert_eq!(format!("{a:?}"), "LoginSecrets(<redacted>)");
    }

    #[test]
    fn the_authorize_url_asks_for_identify_and_guilds_with_s256() {
        let config = OAuthConfig::new(42, "secret".into(), Some("http://fake/api/v10/".into()));
        assert_eq!(config.token_url, "http://fake/api/v10/oauth2/token");
        let secrets = LoginSecrets { state: "st".into(), verifier: "v".repeat(43) };
        let url = authorize_url(&config, "https://dash.example/callback", &secrets);
        assert!(
            url.starts_with(
                "https://discord.com/oauth2/authorize?response_type=code&client_id=42&"
            )
        );
        assert!(url.contains("&scope=identify%20guilds&"));
        assert!(url.contains("&redirect_uri=https%3A%2F%2Fdash.example%2Fcallback&"));
        assert!(url.contains("&state=st&"));
        assert!(url.contains(&format!("&code_challenge={}&", challenge(&"v".repeat(43)))));
        assert!(url.contains("&code_challenge_method=S256"));
        assert!(!format!("{config:?}").contains("secret\""));
    }
}
