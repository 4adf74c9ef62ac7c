//! Logging set-up: JSON lines on Lambda (CloudWatch), plain text locally.

use tracing_subscriber::EnvFilter;

/// Set by the Lambda runtime (and by `cargo lambda watch`).
const LAMBDA_FUNCTION_NAME_VAR: &str = "AWS_LAMBDA_FUNCTION_NAME";

/// Installs the global tracing subscriber: level from `RUST_LOG` (default `info`), JSON when running as a
/// Lambda function, human-readable otherwise. Calling it twice is harmless.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let result = if std::env::var_os(LAMBDA_FUNCTION_NAME_VAR).is_some() {
        builder.json().with_current_span(false).with_span_list(false).try_init()
    } else {
        builder.try_init()
    };
    // Already installed (tests, or a second call): keep the first one.
    drop(result);
}
