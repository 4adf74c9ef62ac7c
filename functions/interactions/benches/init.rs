//! Cold start: time from spawning the `interactions` binary until it asks the Lambda Runtime API for its
//! first event (`GET /2018-06-01/runtime/invocation/next`), against a tiny local listener — side by side
//! with the smallest `lambda_http` function (`examples/minimal_lambda_http.rs`), alternating runs, so that
//! both see the same machine.
//!
//! `cargo build --profile release -p interactions --example minimal_lambda_http` first, then
//! `cargo bench --profile release -p interactions --bench init` (uses the binaries built with the same
//! profile), or set `INTERACTIONS_BIN=path` / `BASELINE_BIN=path` to measure other builds. `INIT_RUNS=N`
//! (default 50). Prints the medians, spread and ratio; not a pass/fail test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark harness: fail loudly

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NEXT_INVOCATION: &str = "GET /2018-06-01/runtime/invocation/next";

fn main() {
    // `cargo bench` passes `--bench` (and filters); they do not apply here.
    let exe = std::env::var_os("INTERACTIONS_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_interactions")), PathBuf::from);
    let baseline = std::env::var_os("BASELINE_BIN")
        .map_or_else(|| exe.with_file_name("examples").join("minimal_lambda_http"), PathBuf::from);
    assert!(
        baseline.exists(),
        "{}: build it with `cargo build --profile release -p interactions --example minimal_lambda_http`",
        baseline.display()
    );
    let runs: usize = std::env::var("INIT_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    for bin in [&exe, &baseline] {
        let size = std::fs::metadata(bin).map(|m| m.len()).unwrap_or(0);
        println!("init: {} ({:.2} MiB)", bin.display(), size as f64 / 1_048_576.0);
    }
    println!("init: {runs} runs each, alternating");
    let _warm_up = (time_to_first_poll(&exe), time_to_first_poll(&baseline));
    let (mut ours, mut minimal) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..runs {
        ours.push(time_to_first_poll(&exe));
        minimal.push(time_to_first_poll(&baseline));
    }
    let ours = report("interactions", ours);
    let minimal = report("minimal lambda_http", minimal);
    println!("init: interactions / minimal lambda_http (medians) = {:.2}x", ours / minimal);
}

/// Prints the median and spread of `samples`; returns the median in ms.
fn report(what: &str, mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "init: {what}: time to first GET /runtime/invocation/next: median {:.2} ms (min {:.2}, p90 {:.2}, max {:.2})",
        ms(pick(0.5)),
        ms(samples[0]),
        ms(pick(0.9)),
        ms(samples[samples.len() - 1])
    );
    ms(pick(0.5))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn time_to_first_poll(exe: &PathBuf) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let started = Instant::now();
    let mut child = Command::new(exe)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "interactions")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("DISCORD_PUBLIC_KEY", engagement_testkit::signing::DEV_PUBLIC_KEY_HEX)
        // The commands' settings: a table name (nothing is read at start-up) and a region, so that the AWS
        // SDK never looks for one in instance metadata.
        .env("TABLE_NAME", "bench-cold-start")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (stream, _) = listener.accept().unwrap();
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).unwrap();
    let elapsed = started.elapsed();
    assert!(line.starts_with(NEXT_INVOCATION), "unexpected first request: {line:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    elapsed
}
