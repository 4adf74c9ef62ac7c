//! The bot token, read once per cold start by every function that calls Discord (sync, followup).
//!
//! It comes from `DISCORD_BOT_TOKEN` when that is set (local runs, tests), otherwise from the Secrets
//! Manager secret named by `DISCORD_BOT_TOKEN_SECRET_ARN` (AWS: the stack sets only the ARN, so the token
//! is never a plain environment variable). The stack creates that secret with the placeholder
//! `REPLACE_WITH_BOT_TOKEN`; a function that finds it refuses to start instead of calling Discord with it
//! (401s count towards Discord's invalid-request ban). The token itself never appears in an error.
//!
//! The other `DISCORD_*` settings of the client (API base, rate-limit tuning) are read here too, through
//! the one environment reader ([`Env`]); every problem is a [`SettingError`] naming the variable.

use std::future::Future;

use engagement_discord::DiscordConfig;
use engagement_discord::config::{ENV_API_BASE, ENV_GLOBAL_LIMIT, ENV_INVALID_REQUEST_BUDGET};
use engagement_startup::{Env, SettingError};

/// The bot token itself (takes precedence over the secret).
pub const TOKEN_VAR: &str = engagement_discord::config::ENV_TOKEN;
/// The ARN of the Secrets Manager secret holding the bot token.
pub const TOKEN_SECRET_VAR: &str = "DISCORD_BOT_TOKEN_SECRET_ARN";
/// What the stack puts in the secret until the operator replaces it.
pub const PLACEHOLDER_TOKEN: &str = "REPLACE_WITH_BOT_TOKEN";

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
                // Timeouts, credentials, TLS: the request's error chain, which carries no secret.
                None => format!(
                    "Secrets Manager could not be reached: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                ),
            }
        })?;
        output
            .secret_string()
            .map(str::to_owned)
            .ok_or_else(|| "the secret has no SecretString".to_owned())
    }
}

/// The command-line tool's secret source: it reads the token from `DISCORD_BOT_TOKEN` only.
#[derive(Clone, Copy, Debug)]
pub struct EnvironmentOnly;

impl SecretSource for EnvironmentOnly {
    async fn secret_string(&self, _arn: &str) -> Result<String, String> {
        Err(format!("the command-line tool does not read Secrets Manager: set {TOKEN_VAR}"))
    }
}

const TOKEN_EXPECTED: &str =
    "the ARN of the secret holding the bot token (or set DISCORD_BOT_TOKEN)";

/// The bot token: `DISCORD_BOT_TOKEN` when set, otherwise the secret `DISCORD_BOT_TOKEN_SECRET_ARN` names
/// (read from `secrets`, trimmed).
///
/// # Errors
/// A [`SettingError`] naming the variable: neither set, the secret unreadable, the placeholder, a JSON
/// (key/value) secret, an empty token. None carries the token.
pub async fn bot_token(env: &Env, secrets: &impl SecretSource) -> Result<String, SettingError> {
    match (env.optional(TOKEN_VAR), env.optional(TOKEN_SECRET_VAR)) {
        (Some(token), _) => refuse_placeholder(token, TOKEN_VAR),
        (None, Some(arn)) => {
            let secret = secrets
                .secret_string(&arn)
                .await
                .map_err(|problem| SettingError::Unreadable { name: TOKEN_SECRET_VAR, problem })?;
            let secret = secret.trim();
            if secret.starts_with('{') {
                return Err(SettingError::Invalid {
                    name: TOKEN_SECRET_VAR,
                    problem: "the secret holds JSON (a key/value secret)".to_owned(),
                    expected: "a secret whose plaintext value is the bare bot token",
                });
            }
            refuse_placeholder(secret.to_owned(), TOKEN_SECRET_VAR)
        }
        (None, None) => {
            Err(SettingError::Missing { name: TOKEN_SECRET_VAR, expected: TOKEN_EXPECTED })
        }
    }
}

/// The Discord client configuration: the token from [`bot_token`], `DISCORD_API_BASE`,
/// `DISCORD_GLOBAL_RATE_LIMIT` and `DISCORD_INVALID_REQUEST_BUDGET` (optional).
///
/// # Errors
/// As [`bot_token`], and [`SettingError::Invalid`] for the other variables.
pub async fn discord_config(
    env: &Env,
    secrets: &impl SecretSource,
) -> Result<DiscordConfig, SettingError> {
    let mut config = DiscordConfig::new(bot_token(env, secrets).await?);
    if let Some(base) = env.optional(ENV_API_BASE) {
        config = config.with_api_base(base);
    }
    let per_second = "a whole number of requests per second, at least 1 (default 50)";
    if let Some(limit) = env.number_in(ENV_GLOBAL_LIMIT, 1, u64::from(u32::MAX), per_second)? {
        config.rate_limits.global_limit = u32::try_from(limit).unwrap_or(u32::MAX);
    }
    let budget = "a whole number of invalid requests per 10 minutes (default 1000)";
    if let Some(n) = env.number_in(ENV_INVALID_REQUEST_BUDGET, 0, u64::from(u32::MAX), budget)? {
        config.rate_limits.invalid_request_limit = u32::try_from(n).unwrap_or(u32::MAX);
    }
    Ok(config)
}

fn refuse_placeholder(token: String, name: &'static str) -> Result<String, SettingError> {
    if token.is_empty() {
        Err(SettingError::Invalid {
            name,
            problem: "the bot token is empty".to_owned(),
            expected: "the bot token from the Discord developer portal",
        })
    } else if token == PLACEHOLDER_TOKEN {
        Err(SettingError::Invalid {
            name,
            problem: format!("the bot token is still the placeholder {PLACEHOLDER_TOKEN}"),
            expected: "the real token: put it in the secret with `aws secretsmanager put-secret-value \
                       --secret-id <BotTokenSecretArn output> --secret-string <token>` (docs/deploy.md)",
        })
    } else {
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
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

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bot-token";

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs)
    }

    #[tokio::test]
    async fn the_token_comes_from_the_secret_when_not_in_the_environment()
    -> Result<(), SettingError> {
        let stub = Stub::new(Ok(" real-token \n"));
        let config = discord_config(
            &env(&[(TOKEN_SECRET_VAR, ARN), (ENV_API_BASE, "http://x/"), (ENV_GLOBAL_LIMIT, "20")]),
            &stub,
        )
        .await?;
        assert_eq!(config.token.expose(), "real-token");
        assert_eq!(config.api_base.as_str(), "http://x");
        assert_eq!(config.rate_limits.global_limit, 20);
        assert_eq!(stub.asked(), vec![ARN.to_owned()]);
        Ok(())
    }

    #[tokio::test]
    async fn an_environment_token_wins_and_the_secret_is_not_read() -> Result<(), SettingError> {
        let stub = Stub::new(Ok("from-secret"));
        let token =
            bot_token(&env(&[(TOKEN_VAR, "from-env"), (TOKEN_SECRET_VAR, ARN)]), &stub).await?;
        assert_eq!(token, "from-env");
        assert!(stub.asked().is_empty());
        Ok(())
    }

    #[tokio::test]
    async fn placeholder_json_and_empty_secrets_are_refused_without_the_token_in_the_message() {
        let only_secret = env(&[(TOKEN_SECRET_VAR, ARN)]);
        let stub = Stub::new(Ok(PLACEHOLDER_TOKEN));
        let message = bot_token(&only_secret, &stub).await.err().map(|e| e.to_string());
        let message = message.unwrap_or_default();
        assert!(
            message.contains("placeholder") && message.contains("put-secret-value"),
            "{message}"
        );

        let stub = Stub::new(Ok(r#"{"token": "a-real-token"}"#));
        let err = bot_token(&only_secret, &stub).await.err();
        assert!(
            matches!(&err, Some(SettingError::Invalid { name: TOKEN_SECRET_VAR, .. })),
            "{err:?}"
        );
        let shown = err.map(|e| format!("{e:?} {e}")).unwrap_or_default();
        assert!(shown.contains("JSON") && !shown.contains("a-real-token"), "{shown}");

        let stub = Stub::new(Ok("  \n"));
        let err = bot_token(&only_secret, &stub).await.err();
        assert!(
            matches!(err, Some(SettingError::Invalid { name: TOKEN_SECRET_VAR, .. })),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn missing_or_unreadable_secrets_and_bad_numbers_name_the_variable() {
        let stub =
            Stub::new(Err("AccessDeniedException: check the ARN and the function's permissions"));
        let missing = bot_token(&env(&[]), &stub).await.err().map(|e| e.to_string());
        assert!(missing.as_deref().is_some_and(|m| m.starts_with(TOKEN_SECRET_VAR)), "{missing:?}");
        let denied =
            bot_token(&env(&[(TOKEN_SECRET_VAR, ARN)]), &stub).await.err().map(|e| e.to_string());
        assert!(
            denied.as_deref().is_some_and(|m| m.contains("AccessDeniedException")),
            "{denied:?}"
        );
        let lots = env(&[(TOKEN_VAR, "t"), (ENV_INVALID_REQUEST_BUDGET, "lots")]);
        let err = discord_config(&lots, &stub).await.err();
        assert_eq!(err.map(|e| e.name()), Some(ENV_INVALID_REQUEST_BUDGET));
        let cli = bot_token(&env(&[(TOKEN_SECRET_VAR, ARN)]), &EnvironmentOnly).await.err();
        let cli = cli.map(|e| e.to_string()).unwrap_or_default();
        assert!(cli.contains(TOKEN_VAR), "{cli}");
    }
}
