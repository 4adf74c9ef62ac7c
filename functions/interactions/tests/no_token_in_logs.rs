//! The interactions binary, run as Lambda runs it (its real `main`, logging set-up and `lambda_runtime`
//! loop, polling a fake Runtime API) at `RUST_LOG=trace`, on a signed command that is deferred to the
//! followup function. The interaction token travels on in the job it hands over, but appears in nothing
//! the function prints: not in the runtime's dump of the raw event, not in the verified body it logs.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, ensure};
use engagement_commands::definition::{name, option};
use engagement_testkit::events;
use engagement_testkit::runtime_api::{FakeRuntimeApi, Invocation};
use engagement_testkit::signing::DEV_PUBLIC_KEY_HEX;
use serde_json::Value;
use support::*;

#[tokio::test]
async fn a_deferred_command_at_trace_level_logs_no_token() -> anyhow::Result<()> {
    let store = seeded_store("no-token-in-logs").await?;
    let runtime = FakeRuntimeApi::start().await?;
    let function = runtime.spawn_function(
        "interactions",
        std::path::Path::new(env!("CARGO_BIN_EXE_interactions")),
        &[
            ("RUST_LOG", "trace"),
            ("DISCORD_PUBLIC_KEY", DEV_PUBLIC_KEY_HEX),
            ("TABLE_NAME", store.table()),
            // The followup function is "invoked" on the fake, which records the job.
            ("AWS_ENDPOINT_URL_LAMBDA", &runtime.endpoint_url()),
        ],
    )?;
    // A chart of the seeded days: always deferred.
    let data = command(
        name::ACTIVITY,
        vec![string(option::FROM, "2025-10-30"), string(option::TO, "2025-11-28")],
    );
    let body = serde_json::to_vec(&interaction(APP, ADMIN, ALL_PERMISSIONS, data))?;
    let mut event = events::function_url_event(&body, false);
    events::sign_event_with_dev_key(
        &mut event,
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs(),
    )?;

    let outcome = runtime.invoke(&event, Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = std::fs::read_to_string(function.log_path())
        .with_context(|| format!("reading {}", function.log_path().display()))?;
    let outcome = outcome.with_context(|| format!("function log:\n{log}"))?;
    let Invocation::Response(response) = outcome else {
        anyhow::bail!("expected a response, got {outcome:?}\n{log}")
    };
    let response: Value = serde_json::from_slice(&response)?;
    let answer: Value =
        serde_json::from_str(response["body"].as_str().unwrap_or_default()).unwrap_or_default();
    ensure!(answer["type"] == 5, "expected DEFERRED: {response}\n{log}");

    // The job went to followup with the token (it needs it), so the token was really in play.
    let invoked = runtime.invoked();
    ensure!(invoked.len() == 1, "{invoked:?}");
    ensure!(String::from_utf8_lossy(&invoked[0].1).contains(TOKEN), "the job lacks the token");
    ensure!(log.contains("TRACE") && log.contains("verified request"), "not at trace:\n{log}");
    ensure!(!log.contains(TOKEN), "the interaction token is in the log:\n{log}");
    Ok(())
}
