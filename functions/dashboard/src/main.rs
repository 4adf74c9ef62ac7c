//! Lambda entry point: logging, settings (the secrets read once per cold start), clients, the runtime.
//! All logic is in the library.

use std::convert::Infallible;
use std::process::ExitCode;
use std::time::SystemTime;

use dashboard::{Dashboard, DashboardSettings};
use engagement_bot_token::Aws;
use engagement_discord::DiscordClient;
use engagement_startup::Env;
use engagement_store::CounterStore;
use lambda_http::{Request, service_fn};

#[tokio::main]
async fn main() -> ExitCode {
    engagement_startup::logging::init();
    let sdk = engagement_store::sdk_config().await;
    let settings = match DashboardSettings::from_env(&Env::process(), &Aws(sdk.clone())).await {
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
    let app = match Dashboard::new(settings, discord, store) {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "the login client cannot be built; not starting");
            return ExitCode::FAILURE;
        }
    };
    let app = &app;
    let handler = service_fn(move |request: Request| async move {
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Ok::<_, Infallible>(app.handle(request, now_ms).await)
    });
    match lambda_http::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}
