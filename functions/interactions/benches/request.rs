//! Per-request cost of the endpoint: verify + parse + route + serialise, for a PING and a slash command.
//!
//! `cargo bench -p interactions --bench request` (see BENCHMARKS.md). Requests come from `events/`, parsed
//! by `lambda_http` outside the timed part (the `+event` variants time that parsing too); the clock is the
//! event's own timestamp.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark set-up: fail loudly

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use engagement_testkit::{events, signing};
use interactions::{App, CommandRegistry, EndpointSettings, SignatureVerifier};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let app = App::new(
        EndpointSettings::new(signing::dev_signing_key().verifying_key()),
        CommandRegistry::with_builtins(),
    );

    for (label, name) in
        [("ping", "interactions-ping"), ("command", "interactions-command-engagement-help")]
    {
        let text = events::read_event(name).unwrap();
        let event = events::load_event(name).unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(events::event_timestamp(&event).unwrap());
        let status =
            rt.block_on(app.handle(lambda_http::request::from_str(&text).unwrap(), now)).status();
        assert_eq!(status, 200, "{name} must be answered 200 for the benchmark to mean anything");

        c.bench_function(&format!("interactions/{label}"), |b| {
            b.iter_batched(
                || lambda_http::request::from_str(&text).unwrap(),
                |request| black_box(rt.block_on(app.handle(request, now))),
                BatchSize::SmallInput,
            );
        });
        c.bench_function(&format!("interactions/{label}+event"), |b| {
            b.iter(|| {
                let request = lambda_http::request::from_str(black_box(&text)).unwrap();
                black_box(rt.block_on(app.handle(request, now)))
            });
        });
    }

    // The signature check alone, for reference.
    let verifier = SignatureVerifier::new(
        signing::dev_signing_key().verifying_key(),
        Duration::from_secs(300),
    );
    let body = br#"{"type":1}"#;
    let signature = signing::sign(&signing::dev_signing_key(), "1764320000", body);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_320_000);
    c.bench_function("interactions/verify-only", |b| {
        b.iter(|| {
            verifier.verify(signature.as_bytes(), b"1764320000", black_box(body), now).unwrap()
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
