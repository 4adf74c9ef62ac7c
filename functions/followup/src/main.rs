//! Lambda entry point: logging, settings (the bot token read once per cold start), clients, the runtime.
//! All logic is in the library.

use std::process::ExitCode;
use std::time::SystemTime;

use engagement_bot_token::Aws;
use engagement_commands::FollowupJob;
use engagement_discord::DiscordClient;
use engagement_startup::Env;
use engagement_store::CounterStore;
use followup::{Followup, Outcome, Settings};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> ExitCode {
    engagement_startup::logging::init();
    let sdk = engagement_store::sdk_config().await;
    let secrets = Aws(sdk.clone());
    let settings = match Settings::from_env(&Env::process(), &secrets).await {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(%error, "invalid settings; not starting");
            return ExitCode::FAILURE;
        }
    };
    let discord = match DiscordClient::new(settings.discord.clone()) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "the Discord client cannot be built; not starting");
            return ExitCode::FAILURE;
        }
    };
    let store = CounterStore::from_sdk(&sdk, settings.table_name.clone());
    let followup = Followup::new(store, discord, settings.default_time_zone);
    let followup = &followup;
    let handler = service_fn(move |event: LambdaEvent<FollowupJob>| async move {
        let outcome: Outcome = followup.handle(&event.payload, SystemTime::now()).await?;
        Ok::<_, followup::FollowupError>(outcome.to_string())
    });
    match lambda_runtime::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}
