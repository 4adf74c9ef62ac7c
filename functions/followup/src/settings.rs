//! Start-up settings, read once per cold start. Anything wrong stops the function with a message naming
//! the variable.
//!
//! The bot token comes from `DISCORD_BOT_TOKEN` when it is set (local runs, tests), otherwise from the
//! Secrets Manager secret named by `DISCORD_BOT_TOKEN_SECRET_ARN` (AWS). The stack creates that secret with
//! the placeholder `REPLACE_WITH_BOT_TOKEN`; a function that finds it refuses to start instead of calling
//! Discord with it (401s count towards Discord's invalid-request ban).

use std::future::Future;

use engagement_discord::DiscordConfig;
use engagement_domain::GuildTimeZone;

/// The DynamoDB table.
pub const TABLE_NAME_VAR: &str = "TABLE_NAME";
/// Time zone of guilds that never set one.
pub const DEFAULT_TIME_ZONE_VAR: &str = "DEFAULT_TIME_ZONE";
/// The bot token itself (takes precedence over the secret).
pub const TOKEN_VAR: &str = engagement_discord::config::ENV_TOKEN;
/// The ARN of the Secrets Manager secret holding the bot token.
pub const TOKEN_SECRET_VAR: &str = "DISCORD_BOT_TOKEN_SECRET_ARN";
/// What the stack puts in the secret until the operator replaces it.
pub const PLACEHOLDER_TOKEN: &str = "REPLACE_WITH_BOT_TOKEN";

/// A start-up problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// A required variable is not set.
    #[error("{name} is not set: {expected}")]
    Missing {
        /// The variable.
        name: &'static str,
        /// What it should hold.
        expected: &'static str,
    },
    /// A variable's value cannot be used (the value itself is not repeated: it may be a secret).
    #[error("{name} is invalid: {problem}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The bot token is still the stack's placeholder.
    #[error(
        "the bot token is still the placeholder {PLACEHOLDER_TOKEN} ({source_name}): put the real token in the \
         secret with `aws secretsmanager put-secret-value --secret-id <BotTokenSecretArn output> \
         --secret-string <token>` (docs/deploy.md)"
    )]
    PlaceholderToken {
        /// Where it came from.
        source_name: &'static str,
    },
    /// Secrets Manager could not be read.
    #[error("reading the bot token from Secrets Manager ({TOKEN_SECRET_VAR}) failed: {0}")]
    Secret(String),
}

/// Reads a secret's string value (Secrets Manager in AWS; a stub in tests).
pub trait SecretSource {
    /// The `SecretString` of the secret `arn`.
    fn secret_string(&self, arn: &str) -> impl Future<Output = Result<String, String>> + Send;
}

/// Secrets Manager.
#[derive(Clone, Debug)]
pub struct SecretsManager(pub aws_sdk_secretsmanager::Client);

impl SecretSource for SecretsManager {
    async fn secret_string(&self, arn: &str) -> Result<String, String> {
        let output = self.0.get_secret_value().secret_id(arn).send().await.map_err(|e| {
            match aws_sdk_secretsmanager::error::ProvideErrorMetadata::code(&e) {
                Some(code) => format!("{code}: check the ARN and the function's permissions"),
                None => "Secrets Manager could not be reached".to_owned(),
            }
        })?;
        output
            .secret_string()
            .map(str::to_owned)
            .ok_or_else(|| "the secret has no SecretString".to_owned())
    }
}

/// Everything the followup function needs from its environment.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The DynamoDB table.
    pub table_name: String,
    /// Time zone of guilds that never set one.
    pub default_time_zone: GuildTimeZone,
    /// The Discord client configuration (token, API base).
    pub discord: DiscordConfig,
}

impl Settings {
    /// Reads the process environment; the token from `secrets` when `DISCORD_BOT_TOKEN` is not set.
    ///
    /// # Errors
    /// A [`SettingsError`] naming the variable.
    pub async fn from_env(secrets: &impl SecretSource) -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok(), secrets).await
    }

    /// As [`Settings::from_env`], reading variables through `lookup`.
    ///
    /// # Errors
    /// As [`Settings::from_env`].
    pub async fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        secrets: &impl SecretSource,
    ) -> Result<Self, SettingsError> {
        let set = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let table_name = set(TABLE_NAME_VAR).ok_or(SettingsError::Missing {
            name: TABLE_NAME_VAR,
            expected: "the DynamoDB table of the counters",
        })?;
        let default_time_zone = match set(DEFAULT_TIME_ZONE_VAR) {
            None => GuildTimeZone::UTC,
            Some(zone) => zone.parse().map_err(|e: engagement_domain::day::UnknownTimeZone| {
                SettingsError::Invalid { name: DEFAULT_TIME_ZONE_VAR, problem: e.to_string() }
            })?,
        };
        let token = match (set(TOKEN_VAR), set(TOKEN_SECRET_VAR)) {
            (Some(token), _) => refuse_placeholder(token, TOKEN_VAR)?,
            (None, Some(arn)) => {
                let secret = secrets.secret_string(&arn).await.map_err(SettingsError::Secret)?;
                refuse_placeholder(secret.trim().to_owned(), TOKEN_SECRET_VAR)?
            }
            (None, None) => {
                return Err(SettingsError::Missing {
                    name: TOKEN_SECRET_VAR,
                    expected: "the ARN of the secret holding the bot token (or set DISCORD_BOT_TOKEN)",
                });
            }
        };
        let discord = DiscordConfig::from_lookup(|name| {
            if name == TOKEN_VAR { Some(token.clone()) } else { lookup(name) }
        })
        .map_err(|e| SettingsError::Invalid { name: "DISCORD_*", problem: e.to_string() })?;
        Ok(Self { table_name, default_time_zone, discord })
    }
}

fn refuse_placeholder(token: String, source_name: &'static str) -> Result<String, SettingsError> {
    if token.is_empty() {
        Err(SettingsError::Invalid {
            name: source_name,
            problem: "the bot token is empty".to_owned(),
        })
    } else if token == PLACEHOLDER_TOKEN {
        Err(SettingsError::PlaceholderToken { source_name })
    } else {
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    /// A secret store that answers one value and remembers what was asked.
    struct Stub {
        value: Result<String, String>,
        asked: Mutex<Vec<String>>,
    }

    impl Stub {
        fn new(value: Result<&str, &str>) -> Self {
            Self { value: value.map(str::to_owned).map_err(str::to_owned), asked: Mutex::default() }
        }
        fn asked(&self) -> Vec<String> {
            self.asked.lock().map(|a| a.clone()).unwrap_or_default()
        }
    }

    impl SecretSource for Stub {
        async fn secret_string(&self, arn: &str) -> Result<String, String> {
            if let Ok(mut asked) = self.asked.lock() {
                asked.push(arn.to_owned());
            }
            self.value.clone()
        }
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| map.get(name).cloned()
    }

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bot-token";

    #[tokio::test]
    async fn the_token_comes_from_the_secret_when_not_in_the_environment()
    -> Result<(), SettingsError> {
        let stub = Stub::new(Ok(" real-token \n"));
        let settings = Settings::from_lookup(
            env(&[
                (TABLE_NAME_VAR, "t"),
                (TOKEN_SECRET_VAR, ARN),
                (DEFAULT_TIME_ZONE_VAR, "Europe/Paris"),
            ]),
            &stub,
        )
        .await?;
        assert_eq!(settings.discord.token.expose(), "real-token");
        assert_eq!(settings.default_time_zone.name(), "Europe/Paris");
        assert_eq!(stub.asked(), vec![ARN.to_owned()]);
        Ok(())
    }

    #[tokio::test]
    async fn an_environment_token_wins_and_the_secret_is_not_read() -> Result<(), SettingsError> {
        let stub = Stub::new(Ok("from-secret"));
        let settings = Settings::from_lookup(
            env(&[(TABLE_NAME_VAR, "t"), (TOKEN_VAR, "from-env"), (TOKEN_SECRET_VAR, ARN)]),
            &stub,
        )
        .await?;
        assert_eq!(settings.discord.token.expose(), "from-env");
        assert!(stub.asked().is_empty());
        assert_eq!(settings.default_time_zone, GuildTimeZone::UTC);
        Ok(())
    }

    #[tokio::test]
    async fn the_placeholder_is_refused_with_instructions() {
        let stub = Stub::new(Ok(PLACEHOLDER_TOKEN));
        let err =
            Settings::from_lookup(env(&[(TABLE_NAME_VAR, "t"), (TOKEN_SECRET_VAR, ARN)]), &stub)
                .await
                .err();
        assert!(matches!(err, Some(SettingsError::PlaceholderToken { .. })), "{err:?}");
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("put-secret-value"), "{message}");
    }

    #[tokio::test]
    async fn missing_or_broken_settings_name_the_variable() {
        let stub =
            Stub::new(Err("AccessDeniedException: check the ARN and the function's permissions"));
        let cases: [(&[(&str, &str)], &str); 4] = [
            (&[(TOKEN_VAR, "x")], TABLE_NAME_VAR),
            (&[(TABLE_NAME_VAR, "t")], TOKEN_SECRET_VAR),
            (
                &[(TABLE_NAME_VAR, "t"), (TOKEN_VAR, "x"), (DEFAULT_TIME_ZONE_VAR, "Mars/Base")],
                DEFAULT_TIME_ZONE_VAR,
            ),
            (&[(TABLE_NAME_VAR, "t"), (TOKEN_SECRET_VAR, ARN)], "AccessDeniedException"),
        ];
        for (pairs, expected) in cases {
            let message = Settings::from_lookup(env(pairs), &stub)
                .await
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(message.contains(expected), "{pairs:?}: {message}");
        }
    }
}
