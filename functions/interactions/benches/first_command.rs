//! The first command after a cold start: the interactions binary, started as Lambda starts it (polling a
//! fake Runtime API), answers `/stats` (events/interactions-command-stats.json, signed now) against the
//! moto server `scripts/bench commands` starts. Timed from spawning the process to the answer, then a
//! second `/stats` on the now warm process: the difference is the process start, the AWS SDK client made
//! on first use (a PING needs none of it) and the first connection. The table is empty: `/stats` reads
//! and explains that nothing was counted yet.
//!
//! `AWS_ENDPOINT_URL_DYNAMODB=… cargo bench --profile release -p interactions --bench first_command`
//! (`FIRST_COMMAND_RUNS=N`, default 10). Not a pass/fail test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark harness: fail loudly

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use engagement_store::{CounterStore, TableCreation};
use engagement_testkit::runtime_api::{FakeRuntimeApi, Invocation};
use engagement_testkit::signing::DEV_PUBLIC_KEY_HEX;
use engagement_testkit::{dynamo, events};

fn signed_stats() -> serde_json::Value {
    let mut event = events::load_event("interactions-command-stats.json").unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    events::sign_event_with_dev_key(&mut event, now).unwrap();
    event
}

/// Invokes `/stats` and checks that the function answered it (an embed or an explanation, not an error).
async fn stats(runtime: &FakeRuntimeApi) -> Duration {
    let started = Instant::now();
    let outcome = runtime.invoke(&signed_stats(), Duration::from_secs(30)).await.unwrap();
    let elapsed = started.elapsed();
    let Invocation::Response(body) = outcome else { panic!("the function failed: {outcome:?}") };
    let response: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    let answer: serde_json::Value =
        serde_json::from_str(response["body"].as_str().unwrap_or_default()).unwrap_or_default();
    assert_eq!(answer["type"], 4, "an immediate answer: {answer}");
    elapsed
}

fn median_ms(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let runs: usize =
        std::env::var("FIRST_COMMAND_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let (client, table) = dynamo::client_and_table_name("first-command").await.unwrap();
    let store = CounterStore::new(client, table);
    assert_eq!(store.create_table().await.unwrap(), TableCreation::Created);
    let binary = Path::new(env!("CARGO_BIN_EXE_interactions"));
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for _ in 0..=runs {
        let runtime = FakeRuntimeApi::start().await.unwrap();
        let spawned = Instant::now();
        let _function = runtime
            .spawn_function(
                "interactions",
                binary,
                &[("DISCORD_PUBLIC_KEY", DEV_PUBLIC_KEY_HEX), ("TABLE_NAME", store.table())],
            )
            .unwrap();
        stats(&runtime).await;
        first.push(spawned.elapsed());
        second.push(stats(&runtime).await);
    }
    // The first round warmed the machine's caches: left out.
    let (first, second) = (first.split_off(1), second.split_off(1));
    println!(
        "first_command: spawn → first /stats answered: median {:.1} ms; the next /stats on the warm \
         process: median {:.1} ms ({runs} cold starts, moto on localhost)",
        median_ms(first),
        median_ms(second)
    );
}
