//! The endpoint as Lambda sees it: requests parsed from function URL events by `lambda_http`, answered by
//! `App::handle` with an injected clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, ensure};
use ed25519_dalek::SigningKey;
use engagement_testkit::{events, signing};
use interactions::handlers::{
    CommandContext, CommandError, CommandRegistry, TIMEOUT_MESSAGE, handler_fn,
};
use interactions::response;
use interactions::{App, EndpointSettings};
use lambda_http::http::StatusCode;
use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

const NOW: u64 = 1_764_320_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// What a test sees of a response.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    json: Value,
}

fn answer(response: &Response<Body>) -> Answer {
    Answer {
        status: response.status(),
        content_type: response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        json: serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null),
    }
}

fn request(event: &Value) -> anyhow::Result<Request> {
    lambda_http::request::from_str(&event.to_string())
        .context("lambda_http could not parse the event")
}

fn app_for(key: &SigningKey) -> App {
    App::new(EndpointSettings::new(key.verifying_key()), CommandRegistry::with_builtins())
}

fn dev_app() -> App {
    app_for(&signing::dev_signing_key())
}

/// A function URL event with `body`, signed by `key` at `timestamp`.
fn signed_event(key: &SigningKey, body: &[u8], timestamp: u64) -> anyhow::Result<Value> {
    let mut event = events::function_url_event(body, false);
    events::sign_event(&mut event, key, timestamp)?;
    Ok(event)
}

async fn send(app: &App, event: &Value, now: u64) -> anyhow::Result<Answer> {
    Ok(answer(&app.handle(request(event)?, at(now)).await))
}

/// Loads `events/<name>.json` through lambda_http and answers it at the event's own timestamp.
async fn send_event_file(app: &App, name: &str) -> anyhow::Result<Answer> {
    let event = events::load_event(name)?;
    let now = events::event_timestamp(&event)?;
    let request = lambda_http::request::from_str(&events::read_event(name)?)?;
    Ok(answer(&app.handle(request, at(now)).await))
}

fn assert_unauthorized(answer: &Answer, case: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{case}: {answer:?}");
    assert_eq!(answer.json, json!({"error": "invalid request signature"}), "{case}");
    assert_eq!(answer.content_type.as_deref(), Some("application/json"), "{case}");
}

fn ping_body() -> Vec<u8> {
    br#"{"application_id":"1300000000000000001","id":"1300000000000000100","token":"t","type":1,"version":1}"#.to_vec()
}

// ---- events/ files -------------------------------------------------------------------------------------

#[tokio::test]
async fn event_ping_gets_a_pong() -> anyhow::Result<()> {
    let answer = send_event_file(&dev_app(), "interactions-ping").await?;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    assert_eq!(answer.json, json!({"type": 1}));
    Ok(())
}

#[tokio::test]
async fn event_with_a_base64_body_verifies_over_the_decoded_bytes() -> anyhow::Result<()> {
    let text = events::read_event("interactions-ping-base64")?;
    let request = lambda_http::request::from_str(&text)?;
    // lambda_http decodes isBase64Encoded bodies into Body::Binary: those bytes are what Discord signed.
    assert!(matches!(request.body(), Body::Binary(_)), "{:?}", request.body());
    let answer = send_event_file(&dev_app(), "interactions-ping-base64").await?;
    assert_eq!((answer.status, answer.json), (StatusCode::OK, json!({"type": 1})));
    Ok(())
}

#[tokio::test]
async fn event_text_body_arrives_as_text() -> anyhow::Result<()> {
    let request = lambda_http::request::from_str(&events::read_event("interactions-ping")?)?;
    assert!(matches!(request.body(), Body::Text(_)));
    Ok(())
}

#[tokio::test]
async fn event_with_a_bad_signature_is_refused() -> anyhow::Result<()> {
    let answer = send_event_file(&dev_app(), "interactions-bad-signature").await?;
    assert_unauthorized(&answer, "bad-signature event");
    Ok(())
}

#[tokio::test]
async fn event_help_command_answers_an_ephemeral_help_text() -> anyhow::Result<()> {
    let answer = send_event_file(&dev_app(), "interactions-command-engagement-help").await?;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json["type"], json!(4), "{answer:?}");
    assert_eq!(answer.json["data"]["flags"], json!(64), "{answer:?}");
    let content = answer.json["data"]["content"].as_str().unwrap_or_default();
    assert!(content.contains("`/engagement-help`"), "{content}");
    Ok(())
}

#[tokio::test]
async fn events_replayed_after_the_window_are_refused() -> anyhow::Result<()> {
    let event = events::load_event("interactions-ping")?;
    let signed_at = events::event_timestamp(&event)?;
    let app = dev_app();
    assert_eq!(send(&app, &event, signed_at + 300).await?.status, StatusCode::OK);
    assert_unauthorized(&send(&app, &event, signed_at + 301).await?, "replayed 301 s later");
    assert_unauthorized(&send(&app, &event, signed_at - 301).await?, "clock 301 s behind");
    Ok(())
}

#[tokio::test]
async fn every_event_file_parses_and_is_signed_by_the_dev_key_or_named_bad() -> anyhow::Result<()> {
    let app = dev_app();
    let mut seen = 0;
    for entry in std::fs::read_dir(events::events_dir())? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !name.starts_with("interactions-") || !name.ends_with(".json") {
            continue;
        }
        seen += 1;
        let answer = send_event_file(&app, &name).await?;
        if name.contains("bad-signature") {
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name}");
        } else {
            assert_eq!(
                answer.status,
                StatusCode::OK,
                "{name} (re-sign it with `engagement sign-event`): {answer:?}"
            );
        }
    }
    ensure!(seen >= 4, "expected the interactions events in events/, found {seen}");
    Ok(())
}

// ---- forged requests -----------------------------------------------------------------------------------

#[tokio::test]
async fn forged_requests_are_all_refused_with_401() -> anyhow::Result<()> {
    let key = signing::generate_signing_key();
    let app = app_for(&key);
    let body = ping_body();
    let good = signed_event(&key, &body, NOW)?;
    assert_eq!(
        send(&app, &good, NOW).await?.status,
        StatusCode::OK,
        "control: the genuine request passes"
    );
    let signature =
        events::event_header(&good, events::SIGNATURE_HEADER).unwrap_or_default().to_owned();

    let mut cases: Vec<(&str, Value)> = Vec::new();
    let without = |header: &str| {
        let mut event = good.clone();
        if let Some(headers) = event["headers"].as_object_mut() {
            headers.remove(header);
        }
        event
    };
    cases.push(("missing signature header", without(events::SIGNATURE_HEADER)));
    cases.push(("missing timestamp header", without(events::TIMESTAMP_HEADER)));
    let with_header = |header: &str, value: String| {
        let mut event = good.clone();
        event["headers"][header] = Value::String(value);
        event
    };
    cases.push((
        "signature of 127 hex chars",
        with_header(events::SIGNATURE_HEADER, signature[..127].to_owned()),
    ));
    cases.push((
        "signature of 130 hex chars",
        with_header(events::SIGNATURE_HEADER, format!("{signature}00")),
    ));
    cases.push(("signature not hex", with_header(events::SIGNATURE_HEADER, "g".repeat(128))));
    cases.push(("empty signature", with_header(events::SIGNATURE_HEADER, String::new())));
    let mut flipped = signature.clone().into_bytes();
    flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
    cases.push((
        "wrong signature",
        with_header(events::SIGNATURE_HEADER, String::from_utf8(flipped)?),
    ));
    cases.push((
        "timestamp not an integer",
        with_header(events::TIMESTAMP_HEADER, format!("{NOW}.0")),
    ));
    cases.push(("timestamp with a sign", with_header(events::TIMESTAMP_HEADER, format!("+{NOW}"))));
    cases.push((
        "different timestamp, same signature",
        with_header(events::TIMESTAMP_HEADER, (NOW + 1).to_string()),
    ));
    let mut tampered = good.clone();
    events::set_event_body(&mut tampered, &[&body[..body.len() - 1], b",\"x\":1}"].concat(), false);
    cases.push(("tampered body", tampered));
    let mut reencoded = good.clone();
    let pretty = serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&body)?)?;
    events::set_event_body(&mut reencoded, &pretty, false);
    cases.push(("same JSON, re-encoded", reencoded));
    cases.push((
        "signed by another key",
        signed_event(&signing::generate_signing_key(), &body, NOW)?,
    ));
    cases.push(("signed 301 s ago", signed_event(&key, &body, NOW - 301)?));
    cases.push(("signed 301 s in the future", signed_event(&key, &body, NOW + 301)?));
    cases.push(("unsigned garbage", events::function_url_event(b"not json at all", false)));

    for (case, event) in &cases {
        assert_unauthorized(&send(&app, event, NOW).await?, case);
    }
    Ok(())
}

#[tokio::test]
async fn the_signature_is_checked_before_the_body_is_parsed() -> anyhow::Result<()> {
    let key = signing::generate_signing_key();
    let app = app_for(&key);
    // Unsigned invalid JSON: 401 (not 400), so nothing about the body leaks before verification.
    let mut event = signed_event(&signing::generate_signing_key(), b"{not json", NOW)?;
    assert_unauthorized(&send(&app, &event, NOW).await?, "forged invalid JSON");
    // The same body genuinely signed: now it is looked at, and it is not an interaction.
    events::sign_event(&mut event, &key, NOW)?;
    assert_eq!(send(&app, &event, NOW).await?.status, StatusCode::BAD_REQUEST);
    Ok(())
}

// ---- other HTTP errors ---------------------------------------------------------------------------------

#[tokio::test]
async fn methods_other_than_post_get_405() -> anyhow::Result<()> {
    let key = signing::generate_signing_key();
    let app = app_for(&key);
    for method in ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
        let mut event = signed_event(&key, &ping_body(), NOW)?;
        event["requestContext"]["http"]["method"] = json!(method);
        let response = app.handle(request(&event)?, at(NOW)).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(
            response.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some("POST"),
            "{method}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() -> anyhow::Result<()> {
    let key = signing::generate_signing_key();
    let mut settings = EndpointSettings::new(key.verifying_key());
    settings.max_body_bytes = 2048;
    let app = App::new(settings, CommandRegistry::with_builtins());
    let padded = |len: usize| {
        let mut body = br#"{"type":1,"pad":""#.to_vec();
        body.resize(len - 2, b'x');
        body.extend_from_slice(br#""}"#);
        body
    };
    let at_limit = signed_event(&key, &padded(2048), NOW)?;
    assert_eq!(send(&app, &at_limit, NOW).await?.json, json!({"type": 1}));
    let over = signed_event(&key, &padded(2049), NOW)?;
    let answer = send(&app, &over, NOW).await?;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.json, json!({"error": "request body too large"}));
    Ok(())
}

#[tokio::test]
async fn verified_bodies_that_are_not_interactions_get_400() -> anyhow::Result<()> {
    let key = signing::generate_signing_key();
    let app = app_for(&key);
    let bodies: [&[u8]; 9] = [
        b"",
        b"not json",
        b"[]",
        b"{}",
        br#"{"type":"1"}"#,
        br#"{"type":99}"#,
        br#"{"type":2}"#,
        br#"{"type":2,"id":"1","application_id":"2","token":"t","attachment_size_limit":1,"authorizing_integration_owners":{}}"#,
        &[0xff, 0xfe, 0x00, 0x01],
    ];
    for body in bodies {
        let answer = send(&app, &signed_base64_event(&key, body)?, NOW).await?;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{:?}: {answer:?}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(answer.json, json!({"error": "invalid interaction"}));
    }
    Ok(())
}

/// A validly signed command with only what its answer needs — no `attachment_size_limit`,
/// `authorizing_integration_owners`, `entitlements`, member `deaf`/`mute`/`flags`/`roles`, user
/// `discriminator`/`avatar`/`username` — is answered, not refused as an invalid interaction.
#[tokio::test]
async fn a_minimal_signed_command_gets_its_answer() -> anyhow::Result<()> {
    let key = signing::generate_signing_key();
    let app = app_for(&key);
    let in_a_server = json!({
        "type": 2, "id": "1300000000000000600", "application_id": "1300000000000000001",
        "token": "minimal-token", "guild_id": "1300000000000000200",
        "member": {"user": {"id": "1300000000000000700"}, "permissions": "0"},
        "data": {"id": "1300000000000000503", "name": "engagement-help", "type": 1}
    });
    let in_a_dm = json!({
        "type": 2, "id": "1300000000000000601", "application_id": "1300000000000000001",
        "token": "minimal-token", "user": {"id": "1300000000000000700"},
        "data": {"id": "1300000000000000503", "name": "engagement-help", "type": 1}
    });
    for body in [in_a_server, in_a_dm] {
        let event = signed_event(&key, &serde_json::to_vec(&body)?, NOW)?;
        let answer = send(&app, &event, NOW).await?;
        assert_eq!(answer.status, StatusCode::OK, "{body}: {answer:?}");
        assert_eq!(answer.json["type"], json!(4), "{answer:?}");
        let content = answer.json["data"]["content"].as_str().unwrap_or_default();
        assert!(content.contains("`/engagement-help`"), "{content}");
    }
    Ok(())
}

/// A signed body that truly cannot be read is refused, and the log names the field that failed (and not
/// the token).
#[tokio::test]
async fn an_unreadable_signed_body_is_logged_with_the_failing_field() -> anyhow::Result<()> {
    #[derive(Clone, Default)]
    struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut lines) = self.0.lock() {
                lines.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = engagement_startup::logging::subscriber(
        engagement_startup::logging::EnvFilter::new("trace"),
        false,
        move || writer.clone(),
    );
    let _guard = tracing::subscriber::set_default(subscriber);
    let key = signing::generate_signing_key();
    let body = json!({"type": 2, "id": "1", "application_id": "2", "token": "secret-token"});
    let event = signed_event(&key, &serde_json::to_vec(&body)?, NOW)?;
    let answer = send(&app_for(&key), &event, NOW).await?;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let log = lines.0.lock().map(|l| String::from_utf8_lossy(&l).into_owned()).unwrap_or_default();
    assert!(log.contains("missing field `data`"), "{log}");
    assert!(!log.contains("secret-token"), "{log}");
    Ok(())
}

/// Base64 so that non-UTF-8 bodies survive the event JSON.
fn signed_base64_event(key: &SigningKey, body: &[u8]) -> anyhow::Result<Value> {
    let mut event = events::function_url_event(body, true);
    events::sign_event(&mut event, key, NOW)?;
    Ok(event)
}

// ---- commands ------------------------------------------------------------------------------------------

/// The help command event's body with the command data replaced by `data`, signed by `key`.
fn command_event(key: &SigningKey, data: Value) -> anyhow::Result<Value> {
    let template = events::load_event("interactions-command-engagement-help")?;
    let mut body: Value = serde_json::from_slice(&events::event_body(&template)?)?;
    body["data"] = data;
    signed_event(key, &serde_json::to_vec(&body)?, NOW)
}

#[tokio::test]
async fn an_unknown_command_gets_an_ephemeral_message_not_an_error() -> anyhow::Result<()> {
    let key = signing::generate_signing_key();
    let event = command_event(&key, json!({"id": "1", "name": "no-such-command", "type": 1}))?;
    let answer = send(&app_for(&key), &event, NOW).await?;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json["data"]["flags"], json!(64));
    assert!(
        answer.json["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("Unknown command `/no-such-command`")
    );
    Ok(())
}

fn stats_options() -> Value {
    json!([{"name": "stats", "type": 1, "options": [{"name": "days", "type": 4, "value": 7}]}])
}

#[tokio::test]
async fn handlers_get_the_parsed_interaction() -> anyhow::Result<()> {
    let key = signing::generate_signing_key();
    let registry = CommandRegistry::builder()
        .command(
            "engagement stats",
            "Stats",
            handler_fn(|ctx: &CommandContext| {
                Box::pin(async move {
                    let days = match ctx.option("days") {
                        Some(twilight_model::application::interaction::application_command::CommandOptionValue::Integer(d)) => *d,
                        _ => -1,
                    };
                    Ok(response::ephemeral_message(format!(
                        "route={} guild={:?} user={:?} admin={:?} app={} token_len={} days={days} now={:?}",
                        ctx.route(),
                        ctx.guild_id().map(|id| id.get()),
                        ctx.user().map(|u| u.id.get()),
                        ctx.permissions().map(|p| p.contains(twilight_model::guild::Permissions::ADMINISTRATOR)),
                        ctx.application_id(),
                        ctx.token().len(),
                        ctx.now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default(),
                    )))
                })
            }),
        )?
        .build();
    let app = App::new(EndpointSettings::new(key.verifying_key()), registry);
    let event = command_event(
        &key,
        json!({"id": "1", "name": "engagement", "type": 1, "options": stats_options()}),
    )?;
    let answer = send(&app, &event, NOW).await?;
    assert_eq!(
        answer.json["data"]["content"],
        json!(format!(
            "route=engagement stats guild=Some(1300000000000000200) user=Some(1300000000000000700) admin=Some(true) \
             app=1300000000000000001 token_len=64 days=7 now={NOW}"
        )),
        "{answer:?}"
    );
    Ok(())
}

#[tokio::test]
async fn the_longest_registered_route_wins() -> anyhow::Result<()> {
    let key = signing::generate_signing_key();
    let reply = |text: &'static str| {
        handler_fn(move |_: &CommandContext| {
            Box::pin(async move { Ok(response::ephemeral_message(text)) })
        })
    };
    let registry = CommandRegistry::builder()
        .command("engagement", "Everything else", reply("whole command"))?
        .command("engagement stats", "Stats", reply("stats subcommand"))?
        .build();
    let app = App::new(EndpointSettings::new(key.verifying_key()), registry);
    let stats = command_event(
        &key,
        json!({"id": "1", "name": "engagement", "type": 1, "options": stats_options()}),
    )?;
    assert_eq!(send(&app, &stats, NOW).await?.json["data"]["content"], json!("stats subcommand"));
    let top = json!([{"name": "top", "type": 1, "options": []}]);
    let other =
        command_event(&key, json!({"id": "1", "name": "engagement", "type": 1, "options": top}))?;
    assert_eq!(send(&app, &other, NOW).await?.json["data"]["content"], json!("whole command"));
    Ok(())
}

async fn answer_with_handler(
    handler: impl interactions::CommandHandler,
    deadline: Duration,
) -> anyhow::Result<Answer> {
    let key = signing::generate_signing_key();
    let registry = CommandRegistry::builder().command("broken", "Fails", handler)?.build();
    let mut settings = EndpointSettings::new(key.verifying_key());
    settings.command_deadline = deadline;
    let app = App::new(settings, registry);
    let event = command_event(&key, json!({"id": "1", "name": "broken", "type": 1}))?;
    send(&app, &event, NOW).await
}

fn assert_ephemeral(answer: &Answer, expected: &str) {
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(
        answer.json,
        json!({"type": 4, "data": {"allowed_mentions": {"parse": []}, "content": expected, "flags": 64}})
    );
}

#[tokio::test]
async fn a_user_error_is_shown_to_the_user_ephemerally() -> anyhow::Result<()> {
    let handler = handler_fn(|_: &CommandContext| {
        Box::pin(async { Err(CommandError::user("Pick a number of days from 1 to 90.")) })
    });
    assert_ephemeral(
        &answer_with_handler(handler, Duration::from_secs(2)).await?,
        "Pick a number of days from 1 to 90.",
    );
    Ok(())
}

#[tokio::test]
async fn an_internal_error_is_an_ephemeral_apology_without_details() -> anyhow::Result<()> {
    let handler = handler_fn(|_: &CommandContext| {
        Box::pin(async { Err(CommandError::internal("DynamoDB said: secret table name xyz")) })
    });
    let answer = answer_with_handler(handler, Duration::from_secs(2)).await?;
    assert_ephemeral(&answer, interactions::handlers::INTERNAL_ERROR_MESSAGE);
    Ok(())
}

#[tokio::test]
async fn a_panicking_handler_is_an_ephemeral_apology() -> anyhow::Result<()> {
    let handler = handler_fn(|ctx: &CommandContext| {
        Box::pin(async move {
            if ctx.name() == "broken" {
                panic!("handler bug");
            }
            Ok(response::pong())
        })
    });
    let answer = answer_with_handler(handler, Duration::from_secs(2)).await?;
    assert_ephemeral(&answer, interactions::handlers::INTERNAL_ERROR_MESSAGE);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_slow_handler_is_cut_off_at_the_deadline() -> anyhow::Result<()> {
    let handler = handler_fn(|_: &CommandContext| {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok(response::message("too late"))
        })
    });
    let started = tokio::time::Instant::now();
    let answer = answer_with_handler(handler, Duration::from_millis(2_500)).await?;
    assert_ephemeral(&answer, TIMEOUT_MESSAGE);
    assert_eq!(started.elapsed(), Duration::from_millis(2_500));
    Ok(())
}

#[tokio::test]
async fn a_deferred_answer_passes_through() -> anyhow::Result<()> {
    let handler = handler_fn(|_: &CommandContext| Box::pin(async { Ok(response::deferred(true)) }));
    let answer = answer_with_handler(handler, Duration::from_secs(2)).await?;
    assert_eq!(answer.json, json!({"type": 5, "data": {"flags": 64}}));
    Ok(())
}

#[tokio::test]
async fn autocomplete_gets_an_empty_choice_list() -> anyhow::Result<()> {
    let key = signing::generate_signing_key();
    let mut event = command_event(&key, json!({"id": "1", "name": "engagement", "type": 1}))?;
    let mut body: Value = serde_json::from_slice(&events::event_body(&event)?)?;
    body["type"] = json!(4);
    events::set_event_body(&mut event, &serde_json::to_vec(&body)?, false);
    events::sign_event(&mut event, &key, NOW)?;
    let answer = send(&app_for(&key), &event, NOW).await?;
    assert_eq!(answer.json, json!({"type": 8, "data": {"choices": []}}));
    Ok(())
}

#[test]
fn registering_a_route_twice_or_an_impossible_route_fails() {
    let noop = || handler_fn(|_: &CommandContext| Box::pin(async { Ok(response::pong()) }));
    let twice = CommandRegistry::builder()
        .command("a", "", noop())
        .and_then(|b| b.command("a", "", noop()));
    assert!(matches!(twice, Err(interactions::handlers::RegistryError::Duplicate(_))));
    for route in ["", "a  b", "a b c d", &"x".repeat(33)] {
        let result = CommandRegistry::builder().command(route, "", noop());
        assert!(
            matches!(result, Err(interactions::handlers::RegistryError::InvalidRoute(_))),
            "{route:?}"
        );
    }
}

#[test]
fn the_built_in_help_lists_every_route() -> anyhow::Result<()> {
    let noop = handler_fn(|_: &CommandContext| Box::pin(async { Ok(response::pong()) }));
    let registry = CommandRegistry::builder()
        .command("engagement stats", "Message counts per day", noop)?
        .build();
    let routes: Vec<_> = registry.routes().collect();
    assert_eq!(
        routes,
        vec![
            ("engagement stats", "Message counts per day"),
            ("engagement-help", interactions::handlers::help::DESCRIPTION)
        ]
    );
    Ok(())
}
