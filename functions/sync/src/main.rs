//! The `sync` Lambda function: wiring only. The work is in the library (`sync::Syncer`).

use engagement_bot_token::{Aws, bot_token, discord_config};
use engagement_startup::Env;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use sync::{SyncRequest, SyncSettings, Syncer};

#[tokio::main]
async fn main() -> Result<(), Error> {
    engagement_startup::logging::init();
    let env = Env::process();
    let settings = SyncSettings::from_env(&env)?;
    let table = env.table_name()?;
    let sdk = engagement_store::sdk_config().await;
    let store = engagement_store::CounterStore::from_sdk(&sdk, table);
    // The bot token, once per cold start: DISCORD_BOT_TOKEN locally, the stack's parameter (or secret) in AWS.
    let secrets = Aws(sdk.clone());
    let token = bot_token(&env, &secrets).await?;
    let discord = engagement_discord::DiscordClient::new(discord_config(&env, token)?)?;
    let syncer = Syncer { store, discord, settings };
    let function = env.optional("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "sync".to_owned());
    // A malformed payload fails the invocation with the reason (`SyncRequest`'s deserializer refuses it);
    // it never runs a sync.
    lambda_runtime::run(service_fn(|event: LambdaEvent<SyncRequest>| {
        let (syncer, function) = (&syncer, &function);
        async move {
            let request = event.payload;
            let deadline = chrono::DateTime::from_timestamp_millis(
                i64::try_from(event.context.deadline).unwrap_or(0),
            );
            let budget = sync::budget(&syncer.settings, deadline);
            tracing::info!(
                deadline_ms = event.context.deadline,
                budget_ms = budget.as_millis(),
                "sync invocation"
            );
            let summary = syncer.handle(&request, budget).await?;
            let now = chrono::Utc::now().timestamp_millis();
            println!("{}", summary.log_line(function, now, syncer.settings.metrics));
            Ok::<_, sync::SyncError>(summary)
        }
    }))
    .await
}
