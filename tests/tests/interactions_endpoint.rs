//! The `interactions` function, built and served by `cargo lambda watch` at its function URL, driven over
//! HTTP with requests signed by PyNaCl (an implementation independent of ours).
//!
//! One test on purpose: the emulator builds the function with a nested cargo build on its first
//! invocation, so it is started once per test binary (nextest runs every test in its own process).
//!
//! Needs `.venv` (cargo-lambda, PyNaCl): the test FAILS with instructions when it is missing.
//! `scripts/test` always creates it.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, ensure};
use engagement_testkit::process::{ChildGuard, free_port};
use engagement_testkit::venv::{self, PyNaClSigner};
use engagement_testkit::{events, signing, workspace_root};
use serde_json::{Value, json};

/// The first request waits for the nested debug build of the function.
const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(900);
/// Every later request: the function is running by then.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

struct Emulator {
    guard: ChildGuard,
    url: String,
    client: reqwest::Client,
}

#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: Option<String>,
    json: Value,
}

impl Emulator {
    fn start(public_key_hex: &str) -> anyhow::Result<Self> {
        let cargo_lambda = venv::cargo_lambda()?;
        let port = free_port()?;
        let mut command = Command::new(cargo_lambda);
        command
            .args([
                "lambda",
                "watch",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &port.to_string(),
            ])
            .args(["--ignore-changes", "--disable-cors"])
            .current_dir(workspace_root())
            .env("PATH", venv::path_with_venv())
            .env("DISCORD_PUBLIC_KEY", public_key_hex)
            // The slash commands' table: required at start-up, never read by PING or help.
            .env("TABLE_NAME", "e2e-interactions-unused")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUST_LOG", "info");
        let mut guard = ChildGuard::spawn("e2e-cargo-lambda-watch", command)?;
        guard.wait_for_port(port, Duration::from_secs(60))?;
        // reqwest is built without a TLS crypto provider (see the workspace manifest): install one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build()?;
        Ok(Self { guard, url: format!("http://127.0.0.1:{port}/lambda-url/interactions/"), client })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> anyhow::Result<Reply> {
        let mut request =
            self.client.request(method, &self.url).header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.body(body).send().await.context("request to the emulator failed")?;
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = response.bytes().await?;
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)));
        Ok(Reply { status, content_type, json })
    }

    /// The first request: the emulator builds the function before answering it. A GET gets 405.
    async fn warm_up(&self) -> anyhow::Result<()> {
        let response = self
            .client
            .get(&self.url)
            .timeout(FIRST_REQUEST_TIMEOUT)
            .send()
            .await
            .context("first request to the emulator (it builds the function) failed")?;
        ensure!(response.status().as_u16() == 405, "GET: expected 405, got {}", response.status());
        Ok(())
    }

    async fn post_signed(
        &self,
        signature: &str,
        timestamp: &str,
        body: &[u8],
    ) -> anyhow::Result<Reply> {
        let headers =
            [(events::SIGNATURE_HEADER, signature), (events::TIMESTAMP_HEADER, timestamp)];
        self.send(reqwest::Method::POST, &headers, body.to_vec()).await
    }
}

fn now() -> anyhow::Result<u64> {
    Ok(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())
}

fn expect_401(reply: &Reply, case: &str) -> anyhow::Result<()> {
    ensure!(reply.status == 401, "{case}: expected 401, got {reply:?}");
    ensure!(reply.json == json!({"error": "invalid request signature"}), "{case}: body {reply:?}");
    Ok(())
}

async fn scenario(emulator: &Emulator, signer: &PyNaClSigner) -> anyhow::Result<()> {
    let ping = events::event_body(&events::load_event("interactions-ping")?)?;
    let help = events::event_body(&events::load_event("interactions-command-engagement-help")?)?;

    // Anything but POST: 405 (this first request also waits for the function to be built).
    emulator.warm_up().await?;

    // A PING signed now: what Discord sends when the endpoint URL is saved.
    let ts = now()?.to_string();
    let reply = emulator.post_signed(&signer.sign(&ts, &ping)?, &ts, &ping).await?;
    ensure!(reply.status == 200, "PING: expected 200, got {reply:?}");
    ensure!(
        reply.content_type.as_deref() == Some("application/json"),
        "PING content type: {reply:?}"
    );
    ensure!(reply.json == json!({"type": 1}), "PING body: {reply:?}");

    // A slash command: an ephemeral help text.
    let ts = now()?.to_string();
    let reply = emulator.post_signed(&signer.sign(&ts, &help)?, &ts, &help).await?;
    ensure!(reply.status == 200 && reply.json["type"] == json!(4), "help command: {reply:?}");
    ensure!(reply.json["data"]["flags"] == json!(64), "help reply is not ephemeral: {reply:?}");

    // Forgeries.
    let ts = now()?.to_string();
    let good = signer.sign(&ts, &ping)?;
    let other_key = PyNaClSigner::new(&signing::WRONG_SEED)?;
    expect_401(
        &emulator.post_signed(&other_key.sign(&ts, &ping)?, &ts, &ping).await?,
        "signed by another key",
    )?;
    let mut tampered = ping.clone();
    tampered.extend_from_slice(b" ");
    expect_401(&emulator.post_signed(&good, &ts, &tampered).await?, "tampered body")?;
    expect_401(&emulator.post_signed(&good[..127], &ts, &ping).await?, "127-char signature")?;
    expect_401(
        &emulator.post_signed(&good, &format!("{ts}.0"), &ping).await?,
        "non-integer timestamp",
    )?;
    let stale = (now()? - 600).to_string();
    expect_401(
        &emulator.post_signed(&signer.sign(&stale, &ping)?, &stale, &ping).await?,
        "10-minute-old timestamp",
    )?;
    let no_headers = emulator.send(reqwest::Method::POST, &[], ping.clone()).await?;
    expect_401(&no_headers, "no signature headers")?;
    Ok(())
}

#[tokio::test]
async fn interactions_function_answers_signed_requests_and_refuses_forged_ones()
-> anyhow::Result<()> {
    let signer = PyNaClSigner::new(&signing::DEV_SEED)?;
    let public_key = signer.public_key_hex()?;
    ensure!(
        public_key == signing::DEV_PUBLIC_KEY_HEX,
        "PyNaCl and ed25519-dalek disagree on the dev public key"
    );
    let emulator = Emulator::start(&public_key)?;
    let result = scenario(&emulator, &signer).await;
    result.with_context(|| {
        format!(
            "emulator log {} (end):\n{}",
            emulator.guard.log_path().display(),
            emulator.guard.log_tail(6000)
        )
    })
}
