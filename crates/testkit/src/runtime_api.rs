//! A fake Lambda Runtime API (and Lambda `Invoke` API) on a local port, so a test can run a function's
//! real binary — its `main`, its logging set-up and the `lambda_runtime` crate's loop — on events the
//! test hands it, exactly as Lambda would: `GET …/invocation/next` gets the event, the function posts
//! `…/response` or `…/error`. Asynchronous `Invoke` calls (`POST /2015-03-31/functions/{name}/invocations`,
//! what the interactions function sends the followup) are recorded, so one function's output can become
//! another's event.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{Mutex, mpsc};

/// What the function answered to one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// `POST …/invocation/{id}/response` with this body.
    Response(Vec<u8>),
    /// `POST …/invocation/{id}/error` (or `…/init/error`) with this body.
    Error(Vec<u8>),
}

#[derive(Debug)]
struct Shared {
    events: Mutex<mpsc::Receiver<Vec<u8>>>,
    outcomes: mpsc::Sender<Invocation>,
    invoked: std::sync::Mutex<Vec<(String, Vec<u8>)>>,
    next_id: std::sync::atomic::AtomicU64,
}

/// The fake; dropping it stops the server.
#[derive(Debug)]
pub struct FakeRuntimeApi {
    address: String,
    events: mpsc::Sender<Vec<u8>>,
    outcomes: Mutex<mpsc::Receiver<Invocation>>,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeRuntimeApi {
    /// Starts the server on a free local port.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start() -> anyhow::Result<Self> {
        let (events_tx, events_rx) = mpsc::channel(16);
        let (outcomes_tx, outcomes_rx) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            events: Mutex::new(events_rx),
            outcomes: outcomes_tx,
            invoked: std::sync::Mutex::new(Vec::new()),
            next_id: std::sync::atomic::AtomicU64::new(1),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { address, events: events_tx, outcomes: Mutex::new(outcomes_rx), shared, server })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    #[must_use]
    pub fn address(&self) -> &str {
        &self.address
    }

    /// `http://host:port`, the value of `AWS_ENDPOINT_URL_LAMBDA` for a function that invokes another.
    #[must_use]
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Starts a function's binary as Lambda would, polling this fake: `AWS_LAMBDA_RUNTIME_API`, the
    /// function's name, memory and version, plus `env` (the test's own environment is inherited, so the
    /// moto endpoint and credentials `scripts/test` exports reach it). Its output goes to a log file.
    ///
    /// # Errors
    /// When the binary cannot be started.
    pub fn spawn_function(
        &self,
        name: &str,
        binary: &std::path::Path,
        env: &[(&str, &str)],
    ) -> anyhow::Result<crate::process::ChildGuard> {
        let mut command = std::process::Command::new(binary);
        command
            .env("AWS_LAMBDA_RUNTIME_API", &self.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
        for (key, value) in env {
            command.env(key, value);
        }
        crate::process::ChildGuard::spawn(name, command)
    }

    /// Hands `event` to the function and waits (at most `timeout`) for its answer.
    ///
    /// # Errors
    /// When the function does not answer in time.
    pub async fn invoke(&self, event: &Value, timeout: Duration) -> anyhow::Result<Invocation> {
        self.events.send(serde_json::to_vec(event)?).await.context("the fake stopped")?;
        let mut outcomes = self.outcomes.lock().await;
        match tokio::time::timeout(timeout, outcomes.recv()).await {
            Ok(Some(outcome)) => Ok(outcome),
            Ok(None) => bail!("the fake stopped"),
            Err(_) => bail!("the function did not answer within {timeout:?}"),
        }
    }

    /// The `Invoke` calls received so far: function name and payload.
    #[must_use]
    pub fn invoked(&self) -> Vec<(String, Vec<u8>)> {
        self.shared.invoked.lock().map(|calls| calls.clone()).unwrap_or_default()
    }
}

impl Drop for FakeRuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let Some(event) = shared.events.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let id = shared.next_id.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() + 60_000)
        .to_string();
    let mut headers = HeaderMap::new();
    let pairs = [
        ("lambda-runtime-aws-request-id", format!("request-{id}")),
        ("lambda-runtime-deadline-ms", deadline),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:under-test".to_owned(),
        ),
        ("content-type", "application/json".to_owned()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    (StatusCode::OK, headers, event).into_response()
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let _ = shared.outcomes.send(Invocation::Response(body.to_vec())).await;
    StatusCode::ACCEPTED
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let _ = shared.outcomes.send(Invocation::Error(body.to_vec())).await;
    StatusCode::ACCEPTED
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let _ = shared.outcomes.send(Invocation::Error(body.to_vec())).await;
    StatusCode::ACCEPTED
}

async fn invoke(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    body: Bytes,
) -> StatusCode {
    if let Ok(mut calls) = shared.invoked.lock() {
        calls.push((name, body.to_vec()));
    }
    StatusCode::ACCEPTED
}
