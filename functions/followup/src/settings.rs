//! Start-up settings, read once per cold start. Anything wrong stops the function with a message naming
//! the variable. The bot token comes from `engagement_bot_token` (the environment locally, Secrets Manager
//! in AWS).

use engagement_bot_token::{SecretSource, TokenError};
use engagement_discord::DiscordConfig;
use engagement_domain::GuildTimeZone;

/// The DynamoDB table.
pub const TABLE_NAME_VAR: &str = "TABLE_NAME";
/// Time zone of guilds that never set one.
pub const DEFAULT_TIME_ZONE_VAR: &str = "DEFAULT_TIME_ZONE";

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
    /// No usable bot token or Discord configuration.
    #[error(transparent)]
    Token(#[from] TokenError),
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
        let discord = engagement_bot_token::discord_config(&lookup, secrets).await?;
        Ok(Self { table_name, default_time_zone, discord })
    }
}

#[cfg(test)]
mod tests {

    use engagement_bot_token::{TOKEN_SECRET_VAR, TOKEN_VAR};

    use super::*;
    use engagement_testkit::environment as env;

    /// A secret store with one answer (the token rules themselves are tested in `engagement-bot-token`).
    struct Stub(Result<&'static str, &'static str>);

    impl SecretSource for Stub {
        async fn secret_string(&self, _arn: &str) -> Result<String, String> {
            self.0.map(str::to_owned).map_err(str::to_owned)
        }
    }

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bot-token";

    #[tokio::test]
    async fn settings_take_the_token_from_the_secret() -> Result<(), SettingsError> {
        let settings = Settings::from_lookup(
            env(&[
                (TABLE_NAME_VAR, "t"),
                (TOKEN_SECRET_VAR, ARN),
                (DEFAULT_TIME_ZONE_VAR, "Europe/Paris"),
            ]),
            &Stub(Ok(" real-token \n")),
        )
        .await?;
        assert_eq!(settings.discord.token.expose(), "real-token");
        assert_eq!(settings.default_time_zone.name(), "Europe/Paris");
        assert_eq!(settings.table_name, "t");
        Ok(())
    }

    #[tokio::test]
    async fn missing_or_broken_settings_name_the_variable() {
        let stub = Stub(Err("AccessDeniedException: check the ARN and the function's permissions"));
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
