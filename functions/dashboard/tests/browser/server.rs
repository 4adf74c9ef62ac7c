//! The dashboard over real HTTP, for a browser: each request becomes the `lambda_http::Request` a
//! function URL would hand the Lambda (method, path and query, every header including `Cookie`, the
//! body), and the response goes back as it is (status, every header including repeated `Set-Cookie`,
//! the body). The clock is fixed: every request is answered at the same `now_ms`.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use dashboard::Dashboard;
use lambda_http::Body;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The largest request body taken (the dashboard's forms are tiny).
const MAX_BODY: usize = 64 * 1024;

/// One request the server answered: method, path and query, status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    pub method: String,
    pub target: String,
    pub status: u16,
}

/// The running server; stops when dropped.
#[derive(Debug)]
pub struct Served {
    exchanges: Arc<Mutex<Vec<Exchange>>>,
    task: JoinHandle<()>,
}

impl Served {
    /// Every request answered so far, in order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    app: Dashboard,
    now_ms: u64,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
}

/// Serves `app` on `listener` (already bound, so its port could go into the app's public URL).
pub fn serve(listener: TcpListener, app: Dashboard, now_ms: u64) -> Served {
    let exchanges = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::new(Shared { app, now_ms, exchanges: exchanges.clone() });
    let router = axum::Router::new().fallback(forward).with_state(shared);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Served { exchanges, task }
}

async fn forward(State(shared): State<Arc<Shared>>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let target = parts.uri.path_and_query().map_or_else(|| "/".to_owned(), ToString::to_string);
    let method = parts.method.to_string();
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.unwrap_or_default();
    // As lambda_http hands a function URL's body over: text when it is UTF-8.
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(raw) => Body::Binary(raw.into_bytes()),
        }
    };
    let request = lambda_http::http::Request::from_parts(parts, body);
    let response = shared.app.handle(request, shared.now_ms).await;
    let (parts, body) = response.into_parts();
    if let Ok(mut exchanges) = shared.exchanges.lock() {
        exchanges.push(Exchange { method, target, status: parts.status.as_u16() });
    }
    let bytes = match body {
        Body::Text(text) => Bytes::from(text),
        Body::Binary(raw) => Bytes::from(raw),
        // Empty (the enum is non-exhaustive).
        _ => Bytes::new(),
    };
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
