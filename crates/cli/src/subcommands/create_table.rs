//! `engagement create-table`: creates the DynamoDB table exactly as `infra/template.yaml` defines it.

use anyhow::Context as _;
use engagement_startup::Env;
use engagement_store::TableCreation;

/// Arguments of `engagement create-table` (the table name comes from `TABLE_NAME`).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `engagement create-table`.
///
/// # Errors
/// When `TABLE_NAME` is missing or DynamoDB refuses.
pub async fn run(_args: Args) -> anyhow::Result<()> {
    let store = super::store(&Env::process()).await?;
    let outcome = store.create_table().await.context("creating the table")?;
    match outcome {
        TableCreation::Created => println!("created table `{}`", store.table()),
        TableCreation::AlreadyExists => {
            println!("table `{}` already exists; left as it is", store.table())
        }
    }
    Ok(())
}
