//! Where deployed functions read the bot token, against a real protocol server (the moto server
//! `scripts/test` starts, which serves SSM and Secrets Manager beside DynamoDB): an SSM `SecureString`
//! parameter (the stack's default) and a Secrets Manager secret; the placeholder, a plain `String`
//! parameter and a name that does not exist are refused with the variable named.

use anyhow::Context as _;
use aws_sdk_ssm::types::ParameterType;
use engagement_bot_token::{
    Aws, PLACEHOLDER_TOKEN, TOKEN_PARAMETER_VAR, TOKEN_SECRET_VAR, bot_token, discord_config,
};
use engagement_startup::{Env, SettingError};
use engagement_testkit::dynamo::{client_and_table_name, sdk_config};

/// A name no other test run uses (the table-name helper's uniqueness; no table is made).
async fn unique(prefix: &str) -> anyhow::Result<String> {
    Ok(client_and_table_name(prefix).await?.1)
}

/// A new SSM parameter of `kind` holding `value`; returns its name.
async fn parameter(
    client: &aws_sdk_ssm::Client,
    kind: ParameterType,
    value: &str,
) -> anyhow::Result<String> {
    let name = format!("/discord-engagement/{}", unique("bot-token").await?);
    client
        .put_parameter()
        .name(&name)
        .r#type(kind)
        .value(value)
        .send()
        .await
        .context("creating a parameter in moto")?;
    Ok(name)
}

/// A new secret holding `value`; returns its ARN.
async fn secret(client: &aws_sdk_secretsmanager::Client, value: &str) -> anyhow::Result<String> {
    let created = client
        .create_secret()
        .name(unique("bot-token").await?)
        .secret_string(value)
        .send()
        .await
        .context("creating a secret in moto")?;
    created.arn().map(str::to_owned).context("no ARN")
}

fn only(variable: &str, value: &str) -> Env {
    Env::from_pairs(&[(variable, value)])
}

#[tokio::test]
async fn functions_read_the_token_from_a_securestring_parameter_and_refuse_anything_else()
-> anyhow::Result<()> {
    let sdk = sdk_config().await?;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let aws = Aws(sdk);

    let name = parameter(&ssm, ParameterType::SecureString, "the-real-token\n").await?;
    let env = only(TOKEN_PARAMETER_VAR, &name);
    let config = discord_config(&env, bot_token(&env, &aws).await?)?;
    assert_eq!(config.token.expose(), "the-real-token");

    let plain = parameter(&ssm, ParameterType::String, "a-token-in-the-clear").await?;
    let refused = bot_token(&only(TOKEN_PARAMETER_VAR, &plain), &aws).await.err();
    assert!(matches!(&refused, Some(SettingError::Unreadable { name: TOKEN_PARAMETER_VAR, .. })));
    let message = refused.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("not a SecureString") && !message.contains("a-token-in-the-clear"));

    let placeholder = parameter(&ssm, ParameterType::SecureString, PLACEHOLDER_TOKEN).await?;
    let refused = bot_token(&only(TOKEN_PARAMETER_VAR, &placeholder), &aws).await.err();
    assert!(matches!(refused, Some(SettingError::Invalid { name: TOKEN_PARAMETER_VAR, .. })));

    let missing = format!("{name}-gone");
    let message = bot_token(&only(TOKEN_PARAMETER_VAR, &missing), &aws).await.err();
    let message = message.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("ParameterNotFound"), "{message}");
    Ok(())
}

#[tokio::test]
async fn functions_read_the_token_from_a_secret_and_refuse_the_placeholder() -> anyhow::Result<()> {
    let sdk = sdk_config().await?;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let aws = Aws(sdk);

    let arn = secret(&client, "the-real-token\n").await?;
    let env = only(TOKEN_SECRET_VAR, &arn);
    let config = discord_config(&env, bot_token(&env, &aws).await?)?;
    assert_eq!(config.token.expose(), "the-real-token");

    let placeholder = secret(&client, PLACEHOLDER_TOKEN).await?;
    let refused = bot_token(&only(TOKEN_SECRET_VAR, &placeholder), &aws).await.err();
    assert!(matches!(refused, Some(SettingError::Invalid { name: TOKEN_SECRET_VAR, .. })));

    let missing = format!("{arn}-gone");
    let message = bot_token(&only(TOKEN_SECRET_VAR, &missing), &aws).await.err();
    let message = message.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("ResourceNotFoundException"), "{message}");
    Ok(())
}
