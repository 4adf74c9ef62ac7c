//! The bot token, read once per cold start by every function that calls Discord (sync, followup).
//!
//! It comes from `DISCORD_BOT_TOKEN` when that is set (local runs, tests), otherwise from the Secrets
//! Manager secret named by `DISCORD_BOT_TOKEN_SECRET_ARN` (AWS: the stack sets only the ARN, so the token
//! is never a plain environment variable). The stack creates that secret with the placeholder
//! `REPLACE_WITH_BOT_TOKEN`; a function that finds it refuses to start instead of calling Discord with it
//! (401s count towards Discord's invalid-request ban). The token itself never appears in an error.

use std::future::Future;

use engagement_discord::DiscordConfig;

/// The bot token itself (takes precedence over the secret).
pub const TOKEN_VAR: &str = engagement_discord::config::ENV_TOKEN;
/// The ARN of the Secrets Manager secret holding the bot token.
pub const TOKEN_SECRET_VAR: &str = "DISCORD_BOT_TOKEN_SECRET_ARN";
/// What the stack puts in the secret until the operator replaces it.
pub const PLACEHOLDER_TOKEN: &str = "REPLACE_WITH_BOT_TOKEN";

/// Why there is no usable bot token (or Discord configuration).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Neither variable is set.
    #[error(
        "{TOKEN_SECRET_VAR} is not set: the ARN of the secret holding the bot token (or set {TOKEN_VAR})"
    )]
    Missing,
    /// The token is empty.
    #[error("{source_name} is invalid: the bot token is empty")]
    Empty {
        /// Where it came from.
        source_name: &'static str,
    },
    /// The bot token is still the stack's placeholder.
    #[error(
        "the bot token is still the placeholder {PLACEHOLDER_TOKEN} ({source_name}): put the real token in the \
         secret with `aws secretsmanager put-secret-value --secret-id <BotTokenSecretArn output> \
         --secret-string <token>` (docs/deploy.md)"
    )]
    Placeholder {
        /// Where it came from.
        source_name: &'static str,
    },
    /// The secret holds JSON (a key/value secret) instead of the bare token.
    #[error(
        "the secret that {TOKEN_SECRET_VAR} names holds JSON (a key/value secret): store the bare bot token \
         as its plaintext value"
    )]
    NotPlainText,
    /// Secrets Manager could not be read.
    #[error("reading the bot token from Secrets Manager ({TOKEN_SECRET_VAR}) failed: {0}")]
    Secret(String),
    /// The other `DISCORD_*` variables cannot be used.
    #[error("DISCORD_* is invalid: {0}")]
    Discord(String),
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

/// The bot token: `DISCORD_BOT_TOKEN` when set, otherwise the secret `DISCORD_BOT_TOKEN_SECRET_ARN` names
/// (read from `secrets`, trimmed). Variables are read through `lookup`.
///
/// # Errors
/// A [`TokenError`] naming the variable; the placeholder and an empty token are refused.
pub async fn bot_token(
    lookup: impl Fn(&str) -> Option<String>,
    secrets: &impl SecretSource,
) -> Result<String, TokenError> {
    let set = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    match (set(TOKEN_VAR), set(TOKEN_SECRET_VAR)) {
        (Some(token), _) => refuse_placeholder(token, TOKEN_VAR),
        (None, Some(arn)) => {
            let secret = secrets.secret_string(&arn).await.map_err(TokenError::Secret)?;
            let secret = secret.trim();
            if secret.starts_with('{') {
                return Err(TokenError::NotPlainText);
            }
            refuse_placeholder(secret.to_owned(), TOKEN_SECRET_VAR)
        }
        (None, None) => Err(TokenError::Missing),
    }
}

/// The Discord client configuration from the `DISCORD_*` variables, with the token from [`bot_token`].
///
/// # Errors
/// As [`bot_token`], and [`TokenError::Discord`] for the other variables.
pub async fn discord_config(
    lookup: impl Fn(&str) -> Option<String>,
    secrets: &impl SecretSource,
) -> Result<DiscordConfig, TokenError> {
    let token = bot_token(&lookup, secrets).await?;
    DiscordConfig::from_lookup(
        |name| if name == TOKEN_VAR { Some(token.clone()) } else { lookup(name) },
    )
    .map_err(|e| TokenError::Discord(e.to_string()))
}

fn refuse_placeholder(token: String, source_name: &'static str) -> Result<String, TokenError> {
    if token.is_empty() {
        Err(TokenError::Empty { source_name })
    } else if token == PLACEHOLDER_TOKEN {
        Err(TokenError::Placeholder { source_name })
    } else {
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use engagement_testkit::environment as env;

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

    #[tokio::test]
    async fn the_token_comes_from_the_secret_when_not_in_the_environment() -> Result<(), TokenError>
    {
        let stub = Stub::new(Ok(" real-token \n"));
        let config = discord_config(
            env(&[(TOKEN_SECRET_VAR, ARN), ("DISCORD_API_BASE", "http://x")]),
            &stub,
        )
        .await?;
        assert_eq!(config.token.expose(), "real-token");
        assert_eq!(config.api_base.as_str(), "http://x");
        assert_eq!(stub.asked(), vec![ARN.to_owned()]);
        Ok(())
    }

    #[tokio::test]
    async fn an_environment_token_wins_and_the_secret_is_not_read() -> Result<(), TokenError> {
        let stub = Stub::new(Ok("from-secret"));
        let token =
            bot_token(env(&[(TOKEN_VAR, "from-env"), (TOKEN_SECRET_VAR, ARN)]), &stub).await?;
        assert_eq!(token, "from-env");
        assert!(stub.asked().is_empty());
        Ok(())
    }

    #[tokio::test]
    async fn placeholder_json_and_empty_secrets_are_refused_without_the_token_in_the_message() {
        let stub = Stub::new(Ok(PLACEHOLDER_TOKEN));
        let err = bot_token(env(&[(TOKEN_SECRET_VAR, ARN)]), &stub).await.err();
        assert!(matches!(err, Some(TokenError::Placeholder { .. })), "{err:?}");
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("put-secret-value"), "{message}");

        let stub = Stub::new(Ok(r#"{"token": "a-real-token"}"#));
        let err = bot_token(env(&[(TOKEN_SECRET_VAR, ARN)]), &stub).await.err();
        assert!(matches!(err, Some(TokenError::NotPlainText)), "{err:?}");
        assert!(
            !format!("{err:?} {}", err.as_ref().map(ToString::to_string).unwrap_or_default())
                .contains("a-real-token")
        );

        let stub = Stub::new(Ok("  \n"));
        let err = bot_token(env(&[(TOKEN_SECRET_VAR, ARN)]), &stub).await.err();
        assert!(
            matches!(err, Some(TokenError::Empty { source_name: TOKEN_SECRET_VAR })),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn missing_or_unreadable_secrets_name_the_variable() {
        let stub =
            Stub::new(Err("AccessDeniedException: check the ARN and the function's permissions"));
        let missing = bot_token(env(&[]), &stub).await.err().map(|e| e.to_string());
        assert!(missing.as_deref().is_some_and(|m| m.starts_with(TOKEN_SECRET_VAR)), "{missing:?}");
        let denied =
            bot_token(env(&[(TOKEN_SECRET_VAR, ARN)]), &stub).await.err().map(|e| e.to_string());
        assert!(
            denied.as_deref().is_some_and(|m| m.contains("AccessDeniedException")),
            "{denied:?}"
        );
    }
}
