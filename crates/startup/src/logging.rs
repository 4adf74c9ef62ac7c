//! The one logging set-up of the Lambda functions and the CLI.
//!
//! - The level comes from `RUST_LOG`, [`DEFAULT_LEVEL`] when it is not set, for every binary. Lines are
//!   JSON when running as a Lambda function (`AWS_LAMBDA_FUNCTION_NAME` is set), plain text otherwise.
//! - **No credential in any line, at any level.** Interaction tokens reach the functions inside event
//!   bodies, and the Lambda runtime logs every raw event at TRACE (`lambda_runtime::layers::api_response`,
//!   "raw JSON event received from Lambda"). That one event is always dropped, whatever `RUST_LOG` says;
//!   our own code logs bodies only through [`redacted_json`]. The bot token is never formatted by our code
//!   (`BotToken`'s `Debug` hides it) and HTTP errors are logged without their URL (`without_url`).

use std::io;

use tracing::{Level, Metadata};
pub use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::filter::FilterFn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

/// Set by the Lambda runtime (and by `cargo lambda watch`).
const LAMBDA_FUNCTION_NAME_VAR: &str = "AWS_LAMBDA_FUNCTION_NAME";

/// The Lambda runtime's module that logs each raw event body at TRACE.
const RAW_EVENT_TARGET: &str = "lambda_runtime::layers::api_response";

/// What replaces a credential in a logged body.
pub const REDACTED: &str = "[redacted]";

/// Keys whose values are credentials wherever they appear in a JSON body.
const SECRET_KEYS: [&str; 3] = ["token", "bot_token", "authorization"];

/// The level when `RUST_LOG` is not set (or not valid): the same for every function and the CLI.
pub const DEFAULT_LEVEL: &str = "info";

/// Installs the global subscriber for a function or tool, writing to stderr: level from `RUST_LOG`, else
/// [`DEFAULT_LEVEL`]; JSON on Lambda. Calling it twice is harmless (the first one stays).
pub fn init() {
    let json = std::env::var_os(LAMBDA_FUNCTION_NAME_VAR).is_some();
    let subscriber = subscriber(env_filter(), json, io::stderr);
    let _already_installed = tracing::subscriber::set_global_default(subscriber);
}

/// The subscriber [`init`] installs, with an explicit filter, format and writer (tests capture lines
/// this way).
#[must_use]
pub fn subscriber<W>(
    filter: EnvFilter,
    json: bool,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let never_credentials = FilterFn::new(|meta: &Metadata<'_>| !carries_raw_event(meta));
    let registry = tracing_subscriber::registry().with(never_credentials).with(filter);
    if json {
        let format = tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .with_span_list(false)
            .with_target(false)
            .with_writer(writer);
        Box::new(registry.with(format))
    } else {
        let format = tracing_subscriber::fmt::layer().with_target(false).with_writer(writer);
        Box::new(registry.with(format))
    }
}

/// The level filter: `RUST_LOG` when set and valid, else [`DEFAULT_LEVEL`].
#[must_use]
pub fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LEVEL))
}

/// Whether an event is the Lambda runtime's dump of a raw event body (which carries interaction tokens).
fn carries_raw_event(meta: &Metadata<'_>) -> bool {
    *meta.level() == Level::TRACE && meta.target().starts_with(RAW_EVENT_TARGET)
}

/// A JSON body as it may be logged: every value under a credential key (`token`, at any depth) replaced
/// by [`REDACTED`]. A body that is not JSON is not logged at all, only its length.
#[must_use]
pub fn redacted_json(body: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut value) => {
            redact(&mut value);
            value.to_string()
        }
        Err(_) => format!("({} bytes, not JSON)", body.len()),
    }
}

fn redact(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if SECRET_KEYS.iter().any(|secret| key.eq_ignore_ascii_case(secret)) {
                    *inner = serde_json::Value::String(REDACTED.to_owned());
                } else {
                    redact(inner);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_redacted_at_any_depth_and_nothing_else_changes() {
        let body = br#"{"type":2,"token":"aW50-secret","data":{"name":"stats"},
            "message":{"interaction":{"Token":"nested-secret"}},"list":[{"token":"in-a-list"}]}"#;
        let shown = redacted_json(body);
        for secret in ["aW50-secret", "nested-secret", "in-a-list"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains(r#""name":"stats""#), "{shown}");
        assert_eq!(shown.matches(REDACTED).count(), 3, "{shown}");
        assert_eq!(redacted_json(b"token=abc"), "(9 bytes, not JSON)");
    }

    /// Captured lines, for tests.
    #[derive(Clone, Default)]
    struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().map_err(|_| io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn text(&self) -> String {
            self.0.lock().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
        }
    }

    /// At `RUST_LOG=trace` everything is logged but the runtime's raw event dump, in both formats.
    #[test]
    fn the_runtime_raw_event_dump_is_dropped_even_at_trace() {
        for json in [false, true] {
            let lines = Lines::default();
            let writer = lines.clone();
            let subscriber = subscriber(EnvFilter::new("trace"), json, move || writer.clone());
            tracing::subscriber::with_default(subscriber, || {
                tracing::trace!(
                    target: "lambda_runtime::layers::api_response",
                    body = r#"{"token":"raw-secret"}"#,
                    "raw JSON event received from Lambda"
                );
                tracing::error!(target: "lambda_runtime::layers::api_response", "runtime error kept");
                tracing::trace!(target: "lambda_runtime::runtime", "runtime trace kept");
                tracing::trace!("our own trace kept");
            });
            let text = lines.text();
            assert!(!text.contains("raw-secret"), "{text}");
            for kept in ["runtime error kept", "runtime trace kept", "our own trace kept"] {
                assert!(text.contains(kept), "{kept} missing: {text}");
            }
        }
    }
}
