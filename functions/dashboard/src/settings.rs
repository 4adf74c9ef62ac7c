//! Start-up settings, read once through the one environment reader ([`Env`]); secrets from where the bot
//! token is kept (see `engagement_bot_token`).

use engagement_bot_token::{SecretSource, SecretVars};
use engagement_discord::DiscordConfig;
use engagement_discord::oauth::OAuthConfig;
use engagement_domain::GuildTimeZone;
use engagement_startup::{Env, SettingError};

use crate::session::SessionKey;

/// The dashboard's public address (scheme, host and any path prefix), when it is not the function URL
/// the request came in on: a custom domain, or the local emulator's `/lambda-url/dashboard` prefix.
pub const PUBLIC_URL_VAR: &str = "DASHBOARD_URL";
/// Overrides Discord's authorize page (the local demo points it at the fake Discord).
pub const AUTHORIZE_URL_VAR: &str = "DISCORD_OAUTH_AUTHORIZE_URL";
/// Overrides the token endpoint (default: `{DISCORD_API_BASE}/oauth2/token`).
pub const TOKEN_URL_VAR: &str = "DISCORD_OAUTH_TOKEN_URL";
/// The application id, which is the OAuth2 client id.
pub const APPLICATION_ID_VAR: &str = "DISCORD_APPLICATION_ID";

/// The OAuth2 client secret: in the environment (locally), or an SSM `SecureString` parameter or a
/// Secrets Manager secret (deployed).
pub const CLIENT_SECRET: SecretVars = SecretVars {
    value: "DISCORD_CLIENT_SECRET",
    parameter: "DISCORD_CLIENT_SECRET_PARAMETER",
    secret: "DISCORD_CLIENT_SECRET_SECRET_ARN",
    expected: "the application's OAuth2 client secret (developer portal, OAuth2): \
               DISCORD_CLIENT_SECRET_PARAMETER names an SSM SecureString parameter holding it",
};

/// The key that signs the session cookies: at least 32 bytes, given as hex or base64.
pub const SESSION_KEY: SecretVars = SecretVars {
    value: "DASHBOARD_SESSION_KEY",
    parameter: "DASHBOARD_SESSION_KEY_PARAMETER",
    secret: "DASHBOARD_SESSION_KEY_SECRET_ARN",
    expected: "a random key of at least 32 bytes as hex or base64 (`openssl rand -hex 32`): \
               DASHBOARD_SESSION_KEY_PARAMETER names an SSM SecureString parameter holding it",
};

/// Everything the dashboard needs, read once at start-up.
#[derive(Debug, Clone)]
pub struct DashboardSettings {
    /// Discord's OAuth2 endpoints and the application's client id and secret.
    pub oauth: OAuthConfig,
    /// The bot's client configuration (members and roles are read with the bot token).
    pub discord: DiscordConfig,
    /// Signs the cookies.
    pub session_key: SessionKey,
    /// The public address, when set (see [`PUBLIC_URL_VAR`]).
    pub public_url: Option<String>,
    /// The DynamoDB table.
    pub table_name: String,
    /// The time zone of a guild that has not set one.
    pub default_time_zone: GuildTimeZone,
}

impl DashboardSettings {
    /// Reads the settings; the secrets through `secrets`.
    ///
    /// # Errors
    /// A [`SettingError`] naming the variable that is missing or wrong.
    pub async fn from_env(env: &Env, secrets: &impl SecretSource) -> Result<Self, SettingError> {
        let client_id = env
            .required(APPLICATION_ID_VAR, "the application id, which is also the OAuth2 client id")?
            .trim()
            .parse::<u64>()
            .map_err(|_| SettingError::Invalid {
                name: APPLICATION_ID_VAR,
                problem: "it is not a number".to_owned(),
                expected: "the application id (a snowflake) from the developer portal",
            })?;
        let client_secret = engagement_bot_token::secret(env, &CLIENT_SECRET, secrets).await?;
        let key = engagement_bot_token::secret(env, &SESSION_KEY, secrets).await?;
        let session_key = decode_key(&key)
            .ok_or_else(|| "it is neither hex nor base64".to_owned())
            .and_then(SessionKey::new)
            .map_err(|problem| SettingError::Invalid {
                name: SESSION_KEY.value,
                problem,
                expected: SESSION_KEY.expected,
            })?;
        let token = engagement_bot_token::bot_token(env, secrets).await?;
        let discord = for_pages(engagement_bot_token::discord_config(env, token)?);
        let mut oauth = OAuthConfig::new(client_id, client_secret, Some(discord.api_base.clone()));
        if let Some(url) = env.optional(AUTHORIZE_URL_VAR) {
            oauth.authorize_url = url;
        }
        if let Some(url) = env.optional(TOKEN_URL_VAR) {
            oauth.token_url = url;
        }
        let public_url = env.optional(PUBLIC_URL_VAR).map(|u| u.trim_end_matches('/').to_owned());
        if let Some(url) = &public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(SettingError::Invalid {
                name: PUBLIC_URL_VAR,
                problem: "it is not an http(s) URL".to_owned(),
                expected: "the dashboard's address, e.g. https://stats.example.org",
            });
        }
        Ok(Self {
            oauth,
            discord,
            session_key,
            public_url,
            table_name: env.table_name()?,
            default_time_zone: env.default_time_zone()?,
        })
    }
}

/// The bot's client as a page uses it: somebody is waiting, so a slow or rate-limited Discord fails the
/// call within seconds (the page says to try again) instead of holding the page for a minute.
#[must_use]
pub fn for_pages(mut config: DiscordConfig) -> DiscordConfig {
    config.request_timeout = std::time::Duration::from_secs(3);
    config.connect_timeout = std::time::Duration::from_secs(2);
    config.max_attempts = 2;
    config.max_rate_limit_retries = 1;
    config.max_rate_limit_wait = std::time::Duration::from_secs(2);
    config
}

/// A key given as hex or base64 (a passphrase is neither: its bytes would be far weaker than their
/// count says).
fn decode_key(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let text = text.trim();
    hex::decode(text).ok().or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn keys_are_read_as_hex_or_base64() {
        assert_eq!(decode_key(&"ab".repeat(32)), Some(vec![0xab; 32]));
        assert_eq!(decode_key("AAECAw=="), Some(vec![0, 1, 2, 3]));
        assert_eq!(decode_key("correct horse battery staple, a passphrase"), None);
    }
}
