//! A real DynamoDB protocol server for tests: the moto server that `scripts/test` starts.
//!
//! Tests get a fresh, uniquely named table each, so they run in parallel without resets. The endpoint comes
//! from `AWS_ENDPOINT_URL_DYNAMODB`; without it the tests fail with instructions (they never skip).

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, bail};
use aws_sdk_dynamodb::config::{Credentials, Region};

/// The local DynamoDB endpoint tests use.
///
/// # Errors
/// When `AWS_ENDPOINT_URL_DYNAMODB` is not set.
pub fn endpoint() -> anyhow::Result<String> {
    match std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        Ok(url) if !url.trim().is_empty() => Ok(url),
        _ => bail!(
            "AWS_ENDPOINT_URL_DYNAMODB is not set. These tests need a local DynamoDB: run them through \
             `scripts/test`, or start one with `.venv/bin/python scripts/moto_server.py -p 8000 &` and \
             `export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000`"
        ),
    }
}

/// An SDK configuration for the local endpoint (plain HTTP), with dummy credentials (no environment lookups, so no slow
/// fall-through to instance metadata).
///
/// # Errors
/// When no endpoint is configured.
pub async fn sdk_config() -> anyhow::Result<aws_config::SdkConfig> {
    let endpoint = endpoint()?;
    // The local endpoint is plain HTTP: no TLS needed.
    Ok(aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "engagement-testkit"))
        .load()
        .await)
}

/// A DynamoDB client for the local endpoint and a table name no other test uses (the table is not created).
///
/// # Errors
/// When no endpoint is configured.
pub async fn client_and_table_name(
    prefix: &str,
) -> anyhow::Result<(aws_sdk_dynamodb::Client, String)> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let config = sdk_config().await?;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let unique = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("clock before 1970")?
        .subsec_nanos();
    Ok((client, format!("{prefix}-{}-{unique}-{nanos}", std::process::id())))
}
