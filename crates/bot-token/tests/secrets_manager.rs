//! The Secrets Manager adapter against a real protocol server (the moto server `scripts/test` starts, which
//! serves Secrets Manager beside DynamoDB): the token deployed functions read, the placeholder the stack
//! creates, and a secret that does not exist.

use anyhow::Context as _;
use engagement_bot_token::{
    PLACEHOLDER_TOKEN, SecretsManager, TOKEN_SECRET_VAR, bot_token, discord_config,
};
use engagement_startup::{Env, SettingError};
use engagement_testkit::dynamo::{client_and_table_name, sdk_config};

/// A new secret holding `value`; returns its ARN.
async fn secret(client: &aws_sdk_secretsmanager::Client, value: &str) -> anyhow::Result<String> {
    // A name no other test run uses (the table-name helper's uniqueness; no table is made).
    let (_, name) = client_and_table_name("bot-token").await?;
    let created = client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .context("creating a secret in moto")?;
    created.arn().map(str::to_owned).context("no ARN")
}

fn only(arn: &str) -> Env {
    Env::from_pairs(&[(TOKEN_SECRET_VAR, arn)])
}

#[tokio::test]
async fn functions_read_the_token_from_the_secret_and_refuse_the_placeholder() -> anyhow::Result<()>
{
    let client = aws_sdk_secretsmanager::Client::new(&sdk_config().await?);
    let secrets = SecretsManager(client.clone());

    let arn = secret(&client, "the-real-token\n").await?;
    let config = discord_config(&only(&arn), &secrets).await?;
    assert_eq!(config.token.expose(), "the-real-token");

    let placeholder = secret(&client, PLACEHOLDER_TOKEN).await?;
    let refused = bot_token(&only(&placeholder), &secrets).await.err();
    assert!(
        matches!(refused, Some(SettingError::Invalid { name: TOKEN_SECRET_VAR, .. })),
        "{refused:?}"
    );

    let missing = format!("{arn}-gone");
    let message = bot_token(&only(&missing), &secrets).await.err().map(|e| e.to_string());
    assert!(
        message.as_deref().is_some_and(|m| m.contains("ResourceNotFoundException")),
        "{message:?}"
    );
    Ok(())
}
