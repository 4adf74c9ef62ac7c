//! The followup binary, run as Lambda runs it (its real `main`, logging set-up and `lambda_runtime` loop,
//! polling a fake Runtime API) at `RUST_LOG=trace`, on a job whose reply cannot be delivered (Discord
//! unreachable: an injected transport error). Neither the interaction token nor the bot token may appear
//! in anything it prints — the runtime's own dump of the raw event and the error chains included.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, ensure};
use engagement_commands::{FollowupJob, Work};
use engagement_domain::{GuildId, UserId};
use engagement_testkit::process::free_port;
use engagement_testkit::runtime_api::{FakeRuntimeApi, Invocation};

const INTERACTION_TOKEN: &str = "aW50ZXJhY3Rpb246followup-INTERACTION-SECRET";
const BOT_TOKEN: &str = "MTMwMDAw.followup.BOT-SECRET-TOKEN";

#[tokio::test]
async fn a_failed_delivery_at_trace_level_logs_no_token() -> anyhow::Result<()> {
    let runtime = FakeRuntimeApi::start().await?;
    // Nothing listens on this port: every Discord call fails to connect.
    let discord = format!("http://127.0.0.1:{}", free_port()?);
    let function = runtime.spawn_function(
        "followup",
        std::path::Path::new(env!("CARGO_BIN_EXE_followup")),
        &[
            ("RUST_LOG", "trace"),
            ("DISCORD_BOT_TOKEN", BOT_TOKEN),
            ("DISCORD_API_BASE", &discord),
            ("TABLE_NAME", "followup-no-token-in-logs-missing"),
        ],
    )?;
    let now_ms = u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
    let job = FollowupJob {
        application_id: 1_300_000_000_000_000_001,
        token: INTERACTION_TOKEN.to_owned(),
        requested_at_ms: now_ms,
        ephemeral: true,
        work: Work::Erase { guild: GuildId(1_300_000_000_000_000_200), member: UserId(7) },
    };
    let outcome = runtime.invoke(&serde_json::to_value(&job)?, Duration::from_secs(120)).await;
    // Give the last lines time to reach the log file.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = std::fs::read_to_string(function.log_path())
        .with_context(|| format!("reading {}", function.log_path().display()))?;
    let outcome = outcome.with_context(|| format!("function log:\n{log}"))?;
    let Invocation::Error(error) = outcome else {
        anyhow::bail!("expected the invocation to fail, got {outcome:?}\n{log}")
    };
    let error = String::from_utf8_lossy(&error);
    ensure!(error.contains("ErasureUnfinished"), "{error}");
    // The path ran at trace level: the raw-event dump was due, and the delivery failed on the network.
    ensure!(log.contains("TRACE"), "not at trace level:\n{log}");
    ensure!(log.contains("could not report the failed erasure"), "no delivery failure:\n{log}");
    for secret in [INTERACTION_TOKEN, BOT_TOKEN] {
        ensure!(!log.contains(secret), "{secret} is in the log:\n{log}");
        ensure!(!error.contains(secret), "{secret} is in the error: {error}");
    }
    Ok(())
}
