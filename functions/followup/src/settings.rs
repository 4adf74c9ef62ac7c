//! Start-up settings, read once per cold start through the one environment reader. Anything wrong stops
//! the function with a message naming the variable. The bot token comes from `engagement_bot_token` (the
//! environment locally, Secrets Manager in AWS).

use engagement_bot_token::SecretSource;
use engagement_discord::DiscordConfig;
use engagement_domain::GuildTimeZone;
use engagement_startup::{Env, SettingError};

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
    /// Reads `TABLE_NAME`, `DEFAULT_TIME_ZONE` and the `DISCORD_*` variables; the token from `secrets`
    /// when `DISCORD_BOT_TOKEN` is not set.
    ///
    /// # Errors
    /// A [`SettingError`] naming the variable.
    pub async fn from_env(env: &Env, secrets: &impl SecretSource) -> Result<Self, SettingError> {
        Ok(Self {
            table_name: env.table_name()?,
            default_time_zone: env.default_time_zone()?,
            discord: engagement_bot_token::discord_config(
                env,
                engagement_bot_token::bot_token(env, secrets).await?,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {

    use engagement_bot_token::{TOKEN_SECRET_VAR, TOKEN_VAR, TokenStore};
    use engagement_startup::env::{
        DEFAULT_TIME_ZONE as DEFAULT_TIME_ZONE_VAR, TABLE_NAME as TABLE_NAME_VAR,
    };

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs)
    }

    /// A secret store with one answer (the token rules themselves are tested in `engagement-bot-token`).
    struct Stub(Result<&'static str, &'static str>);

    impl SecretSource for Stub {
        async fn read(&self, _store: TokenStore, _id: &str) -> Result<String, String> {
            self.0.map(str::to_owned).map_err(str::to_owned)
        }
    }

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bot-token";

    #[tokio::test]
    async fn settings_take_the_token_from_the_secret() -> Result<(), SettingError> {
        let settings = Settings::from_env(
            &env(&[
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
            let message = Settings::from_env(&env(pairs), &stub)
                .await
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(message.contains(expected), "{pairs:?}: {message}");
        }
    }
}
