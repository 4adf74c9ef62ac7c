//! The bot token, read once per cold start by every function that calls Discord (sync, followup).
//!
//! It comes from `DISCORD_BOT_TOKEN` when that is set (local runs, tests); otherwise from the SSM Parameter
//! Store `SecureString` parameter named by `DISCORD_BOT_TOKEN_PARAMETER` (the stack's default: free), or
//! the Secrets Manager secret named by `DISCORD_BOT_TOKEN_SECRET_ARN` (the stack's option). The stack sets
//! only the name, so the token is never a plain environment variable. A parameter that is not a
//! `SecureString` is refused (the token would be stored unencrypted), and so is the placeholder
//! `REPLACE_WITH_BOT_TOKEN` the stack puts in a secret it creates: a function that finds it refuses to start
//! instead of calling Discord with it (401s count towards Discord's invalid-request ban). The token itself
//! never appears in an error.
//!
//! The other secrets are read the same way by [`secret`], each with its own [`SecretVars`] (the
//! dashboard's OAuth2 client secret and session key). The other `DISCORD_*` settings of the client (API
//! base, rate-limit tuning) are read here too, through the one environment reader ([`Env`]); every
//! problem is a [`SettingError`] naming the variable.

use std::future::Future;

use engagement_discord::DiscordConfig;
use engagement_discord::config::{ENV_API_BASE, ENV_GLOBAL_LIMIT, ENV_INVALID_REQUEST_BUDGET};
use engagement_startup::{Env, SettingError};

/// The bot token itself (takes precedence over the secret).
pub const TOKEN_VAR: &str = engagement_discord::config::ENV_TOKEN;
/// The name of the SSM Parameter Store `SecureString` parameter holding the bot token.
pub const TOKEN_PARAMETER_VAR: &str = "DISCORD_BOT_TOKEN_PARAMETER";
/// The ARN of the Secrets Manager secret holding the bot token.
pub const TOKEN_SECRET_VAR: &str = "DISCORD_BOT_TOKEN_SECRET_ARN";
/// What the stack puts in the secret until the operator replaces it.
pub const PLACEHOLDER_TOKEN: &str = "REPLACE_WITH_BOT_TOKEN";

/// Where a deployed function's bot token is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenStore {
    /// An SSM Parameter Store `SecureString` parameter, by name.
    Parameter,
    /// A Secrets Manager secret, by ARN.
    Secret,
}

/// Reads the bot token from where it is kept (AWS; a stub in tests). Errors carry the service's error
/// code or the connection problem, never a value.
pub trait SecretSource {
    /// The decrypted value of the parameter or secret `id`.
    fn read(
        &self,
        store: TokenStore,
        id: &str,
    ) -> impl Future<Output = Result<String, String>> + Send;
}

/// AWS: SSM Parameter Store or Secrets Manager, whichever the environment names, with a client made for
/// the one call.
#[derive(Clone, Debug)]
pub struct Aws(pub aws_config::SdkConfig);

impl SecretSource for Aws {
    async fn read(&self, store: TokenStore, id: &str) -> Result<String, String> {
        match store {
            TokenStore::Parameter => read_parameter(&aws_sdk_ssm::Client::new(&self.0), id).await,
            TokenStore::Secret => {
                read_secret(&aws_sdk_secretsmanager::Client::new(&self.0), id).await
            }
        }
    }
}

/// A `SecureString` parameter's decrypted value; any other type is refused.
async fn read_parameter(client: &aws_sdk_ssm::Client, name: &str) -> Result<String, String> {
    use aws_sdk_ssm::types::ParameterType;
    let output =
        client.get_parameter().name(name).with_decryption(true).send().await.map_err(|e| {
            match aws_sdk_ssm::error::ProvideErrorMetadata::code(&e) {
                Some(code) => format!("{code}: check the name and the function's permissions"),
                None => format!(
                    "SSM could not be reached: {}",
                    aws_sdk_ssm::error::DisplayErrorContext(&e)
                ),
            }
        })?;
    let parameter = output.parameter().ok_or("the answer has no parameter")?;
    if parameter.r#type() != Some(&ParameterType::SecureString) {
        return Err(
            "the parameter is not a SecureString (the token would be stored unencrypted): \
                    recreate it with `aws ssm put-parameter --type SecureString --overwrite`"
                .to_owned(),
        );
    }
    parameter.value().map(str::to_owned).ok_or_else(|| "the parameter has no value".to_owned())
}

/// A secret's `SecretString`.
async fn read_secret(client: &aws_sdk_secretsmanager::Client, arn: &str) -> Result<String, String> {
    let output = client.get_secret_value().secret_id(arn).send().await.map_err(|e| {
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

/// The bot token of the command-line tool: `DISCORD_BOT_TOKEN` only (it never reads AWS for it).
///
/// # Errors
/// [`SettingError`] naming `DISCORD_BOT_TOKEN` when it is missing, empty or the placeholder.
pub fn environment_token(env: &Env) -> Result<String, SettingError> {
    let token = env.required(
        TOKEN_VAR,
        "the bot token (the command-line tool reads it from the environment only)",
    )?;
    refuse_placeholder(token, TOKEN_VAR)
}

/// The variables that say where one secret is: its value itself (local runs, tests), or the name of an
/// SSM `SecureString` parameter, or the ARN of a Secrets Manager secret, in that order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretVars {
    /// The variable holding the value itself.
    pub value: &'static str,
    /// The variable naming the parameter.
    pub parameter: &'static str,
    /// The variable holding the secret's ARN.
    pub secret: &'static str,
    /// What is expected, for the error when none is set.
    pub expected: &'static str,
}

impl SecretVars {
    /// The variable that names `store`'s parameter or secret.
    #[must_use]
    pub const fn variable(&self, store: TokenStore) -> &'static str {
        match store {
            TokenStore::Parameter => self.parameter,
            TokenStore::Secret => self.secret,
        }
    }
}

/// Where the bot token is.
pub const BOT_TOKEN: SecretVars = SecretVars {
    value: TOKEN_VAR,
    parameter: TOKEN_PARAMETER_VAR,
    secret: TOKEN_SECRET_VAR,
    expected: "the name of the SSM SecureString parameter holding the bot token (or \
               DISCORD_BOT_TOKEN_SECRET_ARN, a Secrets Manager secret; or DISCORD_BOT_TOKEN)",
};

/// A secret's value: `vars.value` when set, otherwise the parameter `vars.parameter` names, otherwise
/// the secret `vars.secret` names (read from `secrets`, trimmed).
///
/// # Errors
/// A [`SettingError`] naming the variable: none set, the parameter or secret unreadable (or not a
/// `SecureString`), a JSON (key/value) secret, an empty value. None carries the value.
pub async fn secret(
    env: &Env,
    vars: &SecretVars,
    secrets: &impl SecretSource,
) -> Result<String, SettingError> {
    if let Some(value) = env.optional(vars.value) {
        return refuse_empty(value, vars.value, vars.expected);
    }
    let (store, id) = match (env.optional(vars.parameter), env.optional(vars.secret)) {
        (Some(name), _) => (TokenStore::Parameter, name),
        (None, Some(arn)) => (TokenStore::Secret, arn),
        (None, None) => {
            return Err(SettingError::Missing { name: vars.parameter, expected: vars.expected });
        }
    };
    let name = vars.variable(store);
    let value = secrets
        .read(store, &id)
        .await
        .map_err(|problem| SettingError::Unreadable { name, problem })?;
    let value = value.trim();
    if value.starts_with('{') {
        return Err(SettingError::Invalid {
            name,
            problem: "it holds JSON (a key/value secret)".to_owned(),
            expected: "the bare value as the plaintext value",
        });
    }
    refuse_empty(value.to_owned(), name, vars.expected)
}

fn refuse_empty(
    value: String,
    name: &'static str,
    expected: &'static str,
) -> Result<String, SettingError> {
    if value.is_empty() {
        Err(SettingError::Invalid { name, problem: "it is empty".to_owned(), expected })
    } else {
        Ok(value)
    }
}

/// The bot token: [`secret`] with [`BOT_TOKEN`]'s variables, the placeholder refused.
///
/// # Errors
/// As [`secret`]; also the placeholder. None carries the token.
pub async fn bot_token(env: &Env, secrets: &impl SecretSource) -> Result<String, SettingError> {
    let token = secret(env, &BOT_TOKEN, secrets).await?;
    let name = if env.optional(TOKEN_VAR).is_some() {
        TOKEN_VAR
    } else if env.optional(TOKEN_PARAMETER_VAR).is_some() {
        TOKEN_PARAMETER_VAR
    } else {
        TOKEN_SECRET_VAR
    };
    refuse_placeholder(token, name)
}

/// The Discord client configuration: `token` (from [`bot_token`] or [`environment_token`]), and
/// `DISCORD_API_BASE`, `DISCORD_GLOBAL_RATE_LIMIT` and `DISCORD_INVALID_REQUEST_BUDGET` (optional).
///
/// # Errors
/// [`SettingError::Invalid`] for a variable that is set but not usable.
pub fn discord_config(env: &Env, token: String) -> Result<DiscordConfig, SettingError> {
    let mut config = DiscordConfig::new(token);
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
            expected: match name {
                TOKEN_PARAMETER_VAR => {
                    "the real token: `aws ssm put-parameter --name <BotTokenParameterName> --type \
                     SecureString --overwrite --value <token>` (docs/deploy.md, step 6)"
                }
                TOKEN_SECRET_VAR => {
                    "the real token: `aws secretsmanager put-secret-value --secret-id \
                     <BotTokenSecretArn output> --secret-string <token>` (docs/deploy.md, step 6)"
                }
                _ => "the bot token from the Discord developer portal",
            },
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
        asked: Mutex<Vec<(TokenStore, String)>>,
    }

    impl Stub {
        fn new(value: Result<&str, &str>) -> Self {
            Self { value: value.map(str::to_owned).map_err(str::to_owned), asked: Mutex::default() }
        }
        fn asked(&self) -> Vec<(TokenStore, String)> {
            self.asked.lock().map(|a| a.clone()).unwrap_or_default()
        }
    }

    impl SecretSource for Stub {
        async fn read(&self, store: TokenStore, id: &str) -> Result<String, String> {
            if let Ok(mut asked) = self.asked.lock() {
                asked.push((store, id.to_owned()));
            }
            self.value.clone()
        }
    }

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bot-token";
    const PARAMETER: &str = "/discord-engagement/bot-token";

    #[tokio::test]
    async fn the_token_comes_from_the_parameter_first_then_the_secret() -> Result<(), SettingError>
    {
        let stub = Stub::new(Ok("from-aws"));
        let both = env(&[(TOKEN_PARAMETER_VAR, PARAMETER), (TOKEN_SECRET_VAR, ARN)]);
        assert_eq!(bot_token(&both, &stub).await?, "from-aws");
        assert_eq!(stub.asked(), vec![(TokenStore::Parameter, PARAMETER.to_owned())]);
        let stub = Stub::new(Ok(PLACEHOLDER_TOKEN));
        let refused = bot_token(&env(&[(TOKEN_PARAMETER_VAR, PARAMETER)]), &stub).await.err();
        assert_eq!(refused.as_ref().map(SettingError::name), Some(TOKEN_PARAMETER_VAR));
        let advice = refused.map(|e| e.to_string()).unwrap_or_default();
        assert!(advice.contains("aws ssm put-parameter"), "{advice}");
        Ok(())
    }

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs)
    }

    #[tokio::test]
    async fn the_token_comes_from_the_secret_when_not_in_the_environment()
    -> Result<(), SettingError> {
        let stub = Stub::new(Ok(" real-token \n"));
        let env =
            env(&[(TOKEN_SECRET_VAR, ARN), (ENV_API_BASE, "http://x/"), (ENV_GLOBAL_LIMIT, "20")]);
        let config = discord_config(&env, bot_token(&env, &stub).await?)?;
        assert_eq!(config.token.expose(), "real-token");
        assert_eq!(config.api_base.as_str(), "http://x");
        assert_eq!(config.rate_limits.global_limit, 20);
        assert_eq!(stub.asked(), vec![(TokenStore::Secret, ARN.to_owned())]);
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
        assert!(
            missing.as_deref().is_some_and(|m| m.starts_with(TOKEN_PARAMETER_VAR)),
            "{missing:?}"
        );
        let denied =
            bot_token(&env(&[(TOKEN_SECRET_VAR, ARN)]), &stub).await.err().map(|e| e.to_string());
        assert!(
            denied.as_deref().is_some_and(|m| m.contains("AccessDeniedException")),
            "{denied:?}"
        );
        let lots = env(&[(TOKEN_VAR, "t"), (ENV_INVALID_REQUEST_BUDGET, "lots")]);
        let err = discord_config(&lots, "t".to_owned()).err();
        assert_eq!(err.map(|e| e.name()), Some(ENV_INVALID_REQUEST_BUDGET));
        // The command-line tool reads the environment only, and says so.
        let cli = environment_token(&env(&[(TOKEN_SECRET_VAR, ARN)])).err();
        let cli = cli.map(|e| e.to_string()).unwrap_or_default();
        assert!(cli.starts_with(TOKEN_VAR) && cli.contains("environment only"), "{cli}");
    }
}
