//! Lambda entry point: logging, settings, the AWS clients (made on first use), the runtime. All logic is in the
//! library.

use std::convert::Infallible;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use engagement_startup::Env;
use engagement_store::{CounterStore, LazySdk};
use interactions::invoke::LambdaInvoker;
use interactions::{App, CommandSettings, EndpointSettings, Services, engagement_registry};
use lambda_http::{Request, service_fn};

#[tokio::main]
async fn main() -> ExitCode {
    engagement_startup::logging::init();
    let env = Env::process();
    let (endpoint, settings) = match EndpointSettings::from_env(&env)
        .and_then(|e| Ok((e, CommandSettings::from_env(&env)?)))
    {
        Ok(both) => both,
        Err(error) => {
            tracing::error!(%error, "invalid settings; not starting");
            return ExitCode::FAILURE;
        }
    };
    // Discord allows 3 s for the first answer: one quick retry, and no attempt may hang. Loaded on the
    // first command that needs AWS, not before the first poll: a PING needs none of it.
    let sdk = LazySdk::new(|| {
        engagement_store::sdk_defaults()
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_millis(500))
                    .operation_attempt_timeout(Duration::from_millis(1_200))
                    .build(),
            )
    });
    let store = CounterStore::lazy(sdk.clone(), settings.table_name);
    let invoker = LambdaInvoker::lazy(sdk, settings.followup_function);
    let services = Services::new(store, Arc::new(invoker), settings.default_time_zone);
    let registry = match engagement_registry(services) {
        Ok(registry) => registry,
        Err(error) => {
            tracing::error!(%error, "the command registry is inconsistent; not starting");
            return ExitCode::FAILURE;
        }
    };
    let app = App::new(endpoint, registry);
    let app = &app;
    let handler = service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(app.handle(request, SystemTime::now()).await)
    });
    match lambda_http::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}
