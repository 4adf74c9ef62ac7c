//! The Lambda event files in `events/` (function URL payload format 2.0), and re-signing them.
//!
//! Tests load these files with `lambda_http::request::from_str` and run the handler with a clock equal to
//! the event's `X-Signature-Timestamp`, so the files never go stale; `engagement sign-event` re-signs them
//! after a body is edited.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::DateTime;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

use crate::signing;

/// Header name (lowercase, as in function URL events) of the signature.
pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
/// Header name (lowercase, as in function URL events) of the signing timestamp.
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";

/// The `events/` directory of the workspace.
#[must_use]
pub fn events_dir() -> PathBuf {
    crate::workspace_root().join("events")
}

/// The path of event `name` in `events/` (`.json` is added when missing).
#[must_use]
pub fn event_path(name: &str) -> PathBuf {
    let file = if name.ends_with(".json") { name.to_owned() } else { format!("{name}.json") };
    events_dir().join(file)
}

/// The text of event `name`, for `lambda_http::request::from_str`.
///
/// # Errors
/// When the file cannot be read.
pub fn read_event(name: &str) -> anyhow::Result<String> {
    let path = event_path(name);
    std::fs::read_to_string(&path).with_context(|| format!("reading event {}", path.display()))
}

/// Event `name` as JSON.
///
/// # Errors
/// When the file cannot be read or is not JSON.
pub fn load_event(name: &str) -> anyhow::Result<Value> {
    let text = read_event(name)?;
    serde_json::from_str(&text).with_context(|| format!("parsing event {name}"))
}

/// The raw body bytes of an event (base64-decoded when `isBase64Encoded` is true).
///
/// # Errors
/// When `body` is missing or not valid base64.
pub fn event_body(event: &Value) -> anyhow::Result<Vec<u8>> {
    let body = event
        .get("body")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("event has no string body"))?;
    if event.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false) {
        BASE64.decode(body).context("event body is not valid base64")
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

/// The value of header `name` (lowercase) in an event.
#[must_use]
pub fn event_header<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event.get("headers")?.get(name)?.as_str()
}

/// The event's `X-Signature-Timestamp` as Unix seconds: the clock a test should use for it.
///
/// # Errors
/// When the header is missing or not an integer.
pub fn event_timestamp(event: &Value) -> anyhow::Result<u64> {
    let text = event_header(event, TIMESTAMP_HEADER)
        .ok_or_else(|| anyhow!("event has no {TIMESTAMP_HEADER} header"))?;
    text.parse().with_context(|| format!("{TIMESTAMP_HEADER} {text:?} is not an integer"))
}

/// Signs the event's body as Discord would at `timestamp`: sets both signature headers and the request
/// context's time to match.
///
/// # Errors
/// When the event has no body or no object to hold the headers.
pub fn sign_event(event: &mut Value, key: &SigningKey, timestamp: u64) -> anyhow::Result<()> {
    let body = event_body(event)?;
    let ts = timestamp.to_string();
    let signature = signing::sign(key, &ts, &body);
    let Some(root) = event.as_object_mut() else { bail!("event is not a JSON object") };
    let headers = root.entry("headers").or_insert_with(|| json!({}));
    let Some(headers) = headers.as_object_mut() else {
        bail!("event headers are not a JSON object")
    };
    headers.insert(SIGNATURE_HEADER.to_owned(), Value::String(signature));
    headers.insert(TIMESTAMP_HEADER.to_owned(), Value::String(ts));
    if let Some(context) = root.get_mut("requestContext").and_then(Value::as_object_mut) {
        let millis = i64::try_from(timestamp).unwrap_or(i64::MAX).saturating_mul(1000);
        context.insert("timeEpoch".to_owned(), json!(millis));
        if let Some(time) = DateTime::from_timestamp_millis(millis) {
            context.insert(
                "time".to_owned(),
                json!(time.format("%d/%b/%Y:%H:%M:%S +0000").to_string()),
            );
        }
    }
    Ok(())
}

/// Signs with the DEVELOPMENT-ONLY key (see [`crate::signing`]).
///
/// # Errors
/// As [`sign_event`].
pub fn sign_event_with_dev_key(event: &mut Value, timestamp: u64) -> anyhow::Result<()> {
    sign_event(event, &signing::dev_signing_key(), timestamp)
}

/// Replaces the event's body (base64-encoded when `base64` is true). The signature is not updated.
pub fn set_event_body(event: &mut Value, body: &[u8], base64: bool) {
    let (text, encoded) = if base64 {
        (BASE64.encode(body), true)
    } else {
        (String::from_utf8_lossy(body).into_owned(), false)
    };
    if let Some(root) = event.as_object_mut() {
        root.insert("body".to_owned(), Value::String(text));
        root.insert("isBase64Encoded".to_owned(), Value::Bool(encoded));
    }
}

/// An unsigned Lambda function URL event (payload format 2.0) for a Discord interaction `POST /` with
/// `body`, as AWS delivers it.
#[must_use]
pub fn function_url_event(body: &[u8], base64: bool) -> Value {
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "host": "example0000000000000000000000000.lambda-url.us-east-1.on.aws",
            "user-agent": "Discord-Interactions/1.0 (+https://discord.com)",
            "x-amzn-trace-id": "Root=1-00000000-000000000000000000000000",
            "x-forwarded-for": "203.0.113.10",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https"
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "example0000000000000000000000000",
            "domainName": "example0000000000000000000000000.lambda-url.us-east-1.on.aws",
            "domainPrefix": "example0000000000000000000000000",
            "http": {
                "method": "POST",
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "Discord-Interactions/1.0 (+https://discord.com)"
            },
            "requestId": "00000000-0000-4000-8000-000000000000",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/1970:00:00:00 +0000",
            "timeEpoch": 0
        },
        "isBase64Encoded": false
    });
    set_event_body(&mut event, body, base64);
    event
}

/// The event as it is stored in `events/`: pretty JSON with a final newline.
///
/// # Errors
/// Never in practice (a `Value` always serialises).
pub fn to_file_text(event: &Value) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(event)?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_sets_headers_and_time() -> anyhow::Result<()> {
        let mut event = function_url_event(br#"{"type":1}"#, false);
        sign_event_with_dev_key(&mut event, 1_750_000_000)?;
        assert_eq!(event_timestamp(&event)?, 1_750_000_000);
        let expected = signing::sign(&signing::dev_signing_key(), "1750000000", br#"{"type":1}"#);
        assert_eq!(event_header(&event, SIGNATURE_HEADER), Some(expected.as_str()));
        assert_eq!(event["requestContext"]["timeEpoch"], json!(1_750_000_000_000_i64));
        assert_eq!(event["requestContext"]["time"], json!("15/Jun/2025:15:06:40 +0000"));
        Ok(())
    }

    #[test]
    fn base64_bodies_are_signed_decoded() -> anyhow::Result<()> {
        let body = "{\"type\":1,\"note\":\"caf\u{e9}\"}".as_bytes();
        let mut event = function_url_event(body, true);
        assert_ne!(event["body"].as_str().map(str::as_bytes), Some(body));
        assert_eq!(event_body(&event)?, body);
        sign_event_with_dev_key(&mut event, 1)?;
        let expected = signing::sign(&signing::dev_signing_key(), "1", body);
        assert_eq!(event_header(&event, SIGNATURE_HEADER), Some(expected.as_str()));
        Ok(())
    }
}
