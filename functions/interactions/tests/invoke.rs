//! `LambdaInvoker` against a minimal local HTTP server standing in for the Lambda Invoke API: the job goes
//! out as an asynchronous (`Event`) invocation; refusals are errors; a slow acknowledgement (the local
//! emulator runs the function before answering) is not.

use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_lambda::config::{Credentials, Region};
use engagement_commands::{FollowupInvoker, FollowupJob, Work};
use engagement_domain::{GuildId, UserId};
use interactions::invoke::LambdaInvoker;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// One request as the server saw it.
#[derive(Debug)]
struct Seen {
    head: String,
    body: Vec<u8>,
}

/// Serves one request: records it, waits `delay`, answers `response` (raw HTTP).
async fn serve_once(
    response: String,
    delay: Duration,
) -> anyhow::Result<(String, oneshot::Receiver<Seen>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else { return };
        let mut buffer = Vec::new();
        let mut chunk = [0_u8; 4096];
        let (head, body_start) = loop {
            let Ok(n) = socket.read(&mut chunk).await else { return };
            if n == 0 {
                return;
            }
            buffer.extend_from_slice(&chunk[..n]);
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break (String::from_utf8_lossy(&buffer[..end]).into_owned(), end + 4);
            }
        };
        let length = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
            })
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        while buffer.len() < body_start + length {
            let Ok(n) = socket.read(&mut chunk).await else { return };
            if n == 0 {
                break;
            }
            buffer.extend_from_slice(&chunk[..n]);
        }
        let body = buffer[body_start..].to_vec();
        let _ = tx.send(Seen { head, body });
        tokio::time::sleep(delay).await;
        let _ = socket.write_all(response.as_bytes()).await;
    });
    Ok((url, rx))
}

fn invoker(url: &str) -> LambdaInvoker {
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version_latest()
        .http_client(engagement_store::https_client())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    LambdaInvoker::new(aws_sdk_lambda::Client::from_conf(config), "stack-followup")
}

fn job() -> FollowupJob {
    FollowupJob {
        application_id: 1,
        token: "interaction-token".to_owned(),
        requested_at_ms: 2,
        ephemeral: true,
        work: Work::Erase { guild: GuildId(3), member: UserId(4) },
    }
}

#[tokio::test]
async fn the_job_goes_out_as_an_event_invocation_of_the_followup_function() -> anyhow::Result<()> {
    let accepted = "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n".to_owned();
    let (url, seen) = serve_once(accepted, Duration::ZERO).await?;
    invoker(&url).invoke(&job()).await?;
    let seen = seen.await.context("no request")?;
    assert!(
        seen.head.starts_with("POST /2015-03-31/functions/stack-followup/invocations"),
        "{}",
        seen.head
    );
    assert!(
        seen.head.to_ascii_lowercase().contains("x-amz-invocation-type: event"),
        "{}",
        seen.head
    );
    assert_eq!(serde_json::from_slice::<FollowupJob>(&seen.body)?, job());
    Ok(())
}

#[tokio::test]
async fn a_refused_invocation_is_an_error() -> anyhow::Result<()> {
    let body = r#"{"Type":"User","message":"Function not found"}"#;
    let response = format!(
        "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n\
         x-amzn-errortype: ResourceNotFoundException\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let (url, _seen) = serve_once(response, Duration::ZERO).await?;
    let error = invoker(&url).invoke(&job()).await.err().context("expected an error")?;
    assert!(error.to_string().contains("ResourceNotFoundException"), "{error}");
    Ok(())
}

#[tokio::test]
async fn an_acknowledgement_that_takes_long_is_assumed_to_be_running() -> anyhow::Result<()> {
    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_owned();
    let (url, seen) = serve_once(ok, Duration::from_secs(5)).await?;
    let invoker = invoker(&url).with_ack_wait(Duration::from_millis(300));
    let started = std::time::Instant::now();
    invoker.invoke(&job()).await?;
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(seen.await.is_ok(), "the request was sent");
    Ok(())
}
