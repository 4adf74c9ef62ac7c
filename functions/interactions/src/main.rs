//! Lambda entry point: logging, configuration, the runtime. All logic is in the library.

use std::convert::Infallible;
use std::process::ExitCode;
use std::time::SystemTime;

use interactions::{App, CommandRegistry, Config};
use lambda_http::{Request, service_fn};

#[tokio::main]
async fn main() -> ExitCode {
    interactions::telemetry::init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "invalid configuration; not starting");
            return ExitCode::FAILURE;
        }
    };
    let app = App::new(config, CommandRegistry::with_builtins());
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
