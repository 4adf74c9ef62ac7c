//! Property-based fuzzing of the request path (headers + body → response).
//!
//! Properties:
//! - the handler never panics, whatever the method, headers and body;
//! - a request is let past the signature check only when its timestamp bytes, body bytes and signature
//!   bytes are exactly what was signed, within the replay window: every mutation of a signed request is 401;
//! - anything unsigned is refused (401, or 405/413 before the signature is looked at);
//! - any genuinely signed body is let through, whatever its bytes (base64 events included).
//!
//! Bounded by default (2,000 cases per property); `PROPTEST_CASES=N` raises it. cargo-fuzz would need a
//! nightly toolchain, which this project does not use.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test-only harness setup; failures must be loud

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use engagement_testkit::{events, signing};
use interactions::{App, CommandRegistry, EndpointSettings};
use lambda_http::Body;
use lambda_http::http::{HeaderValue, Method, Request, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

const NOW: u64 = 1_764_320_000;
const MAX_AGE: u64 = 300;
const BODY_LIMIT: usize = 4096;
const DEFAULT_CASES: u32 = 2_000;

static KEY: LazyLock<SigningKey> = LazyLock::new(signing::generate_signing_key);
static APP: LazyLock<App> = LazyLock::new(|| {
    let mut settings = EndpointSettings::new(KEY.verifying_key());
    settings.max_body_bytes = BODY_LIMIT;
    App::new(settings, CommandRegistry::with_builtins())
});

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("tokio runtime")
}

fn cases() -> ProptestConfig {
    // PROPTEST_CASES, when set, is already in ProptestConfig::default(); otherwise use our larger default.
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() {
        ProptestConfig::default().cases
    } else {
        DEFAULT_CASES
    };
    ProptestConfig { cases, ..ProptestConfig::default() }
}

/// Sends a request with the given method, optional raw header values and body at `NOW`.
fn send(
    rt: &tokio::runtime::Runtime,
    method: &Method,
    signature: Option<&[u8]>,
    timestamp: Option<&[u8]>,
    body: Vec<u8>,
) -> StatusCode {
    let mut request = Request::new(Body::Binary(body));
    *request.method_mut() = method.clone();
    // Header values the http crate refuses (control characters) are simply not sent.
    for (name, value) in
        [(events::SIGNATURE_HEADER, signature), (events::TIMESTAMP_HEADER, timestamp)]
    {
        if let Some(value) = value.and_then(|v| HeaderValue::from_bytes(v).ok()) {
            request.headers_mut().insert(name, value);
        }
    }
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    rt.block_on(APP.handle(request, now)).status()
}

/// Bodies: mostly interaction-shaped JSON, sometimes arbitrary bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => (0_u8..8, "[a-z0-9 ]{0,40}").prop_map(|(kind, text)| {
            format!(r#"{{"type":{kind},"id":"1","application_id":"2","token":"{text}","version":1}}"#).into_bytes()
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..600),
    ]
}

/// One change to a signed request.
#[derive(Debug, Clone)]
enum Mutation {
    None,
    FlipBodyBit { index: usize, bit: u8 },
    AppendToBody(Vec<u8>),
    TruncateBody(usize),
    ReplaceTimestamp(Vec<u8>),
    ShiftTimestamp(i64),
    FlipSignatureBit { index: usize, bit: u8 },
    ReplaceSignature(Vec<u8>),
    UppercaseSignature,
    DropSignature,
    DropTimestamp,
    WrongMethod,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => Just(Mutation::None),
        2 => (any::<usize>(), 0_u8..8).prop_map(|(index, bit)| Mutation::FlipBodyBit { index, bit }),
        1 => proptest::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::AppendToBody),
        1 => any::<usize>().prop_map(Mutation::TruncateBody),
        1 => proptest::collection::vec(any::<u8>(), 0..24).prop_map(Mutation::ReplaceTimestamp),
        1 => (-1000_i64..1000).prop_filter("a change", |d| *d != 0).prop_map(Mutation::ShiftTimestamp),
        2 => (0_usize..64, 0_u8..8).prop_map(|(index, bit)| Mutation::FlipSignatureBit { index, bit }),
        1 => proptest::collection::vec(any::<u8>(), 0..140).prop_map(Mutation::ReplaceSignature),
        1 => Just(Mutation::UppercaseSignature),
        1 => Just(Mutation::DropSignature),
        1 => Just(Mutation::DropTimestamp),
        1 => Just(Mutation::WrongMethod),
    ]
}

/// What was sent after mutating, and whether it is still exactly the signed message.
struct Sent {
    method: Method,
    signature: Option<Vec<u8>>,
    timestamp: Option<Vec<u8>>,
    body: Vec<u8>,
}

fn apply(mutation: &Mutation, timestamp: &str, body: &[u8]) -> Sent {
    let signature = signing::sign(&KEY, timestamp, body).into_bytes();
    let mut sent = Sent {
        method: Method::POST,
        signature: Some(signature),
        timestamp: Some(timestamp.as_bytes().to_vec()),
        body: body.to_vec(),
    };
    match mutation {
        Mutation::None => {}
        Mutation::FlipBodyBit { index, bit } => {
            if !sent.body.is_empty() {
                let i = index % sent.body.len();
                sent.body[i] ^= 1 << bit;
            }
        }
        Mutation::AppendToBody(extra) => sent.body.extend_from_slice(extra),
        Mutation::TruncateBody(n) => {
            if !sent.body.is_empty() {
                sent.body.truncate(n % sent.body.len());
            }
        }
        Mutation::ReplaceTimestamp(ts) => sent.timestamp = Some(ts.clone()),
        Mutation::ShiftTimestamp(delta) => {
            let ts: u64 = timestamp.parse().unwrap_or(0);
            sent.timestamp = Some(ts.saturating_add_signed(*delta).to_string().into_bytes());
        }
        Mutation::FlipSignatureBit { index, bit } => {
            if let Some(signature) = &mut sent.signature {
                let mut bytes = hex::decode(&signature[..]).unwrap_or_default();
                if let Some(b) = bytes.get_mut(*index) {
                    *b ^= 1 << bit;
                }
                *signature = hex::encode(bytes).into_bytes();
            }
        }
        Mutation::ReplaceSignature(s) => sent.signature = Some(s.clone()),
        Mutation::UppercaseSignature => {
            sent.signature = sent.signature.map(|s| s.to_ascii_uppercase())
        }
        Mutation::DropSignature => sent.signature = None,
        Mutation::DropTimestamp => sent.timestamp = None,
        Mutation::WrongMethod => sent.method = Method::PUT,
    }
    sent
}

/// True when `sent` carries exactly the signed bytes (hex case aside: it decodes to the same signature).
fn is_genuine(sent: &Sent, timestamp: &str, body: &[u8]) -> bool {
    let decode = |s: &[u8]| if s.len() == 128 { hex::decode(s).ok() } else { None };
    let original = signing::sign(&KEY, timestamp, body).into_bytes();
    sent.timestamp.as_deref() == Some(timestamp.as_bytes())
        && sent.body == body
        && sent.signature.as_deref().and_then(decode).is_some_and(|s| Some(s) == decode(&original))
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn only_the_exact_signed_bytes_pass(
        body in body(),
        offset in -(MAX_AGE as i64) - 5..=(MAX_AGE as i64) + 5,
        mutation in mutation(),
    ) {
        let rt = runtime();
        let timestamp = NOW.saturating_add_signed(offset).to_string();
        let sent = apply(&mutation, &timestamp, &body);
        let status = send(&rt, &sent.method, sent.signature.as_deref(), sent.timestamp.as_deref(), sent.body.clone());
        let fresh = offset.unsigned_abs() <= MAX_AGE;
        if sent.method != Method::POST {
            prop_assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        } else if is_genuine(&sent, &timestamp, &body) && fresh {
            // Past the signature check: a PONG, a command reply or "not an interaction", never 401.
            prop_assert!(matches!(status, StatusCode::OK | StatusCode::BAD_REQUEST), "{:?} → {}", mutation, status);
        } else {
            prop_assert_eq!(status, StatusCode::UNAUTHORIZED, "{:?} at offset {} let through", mutation, offset);
        }
    }

    #[test]
    fn unsigned_requests_never_pass(
        method in prop_oneof![4 => Just(Method::POST), 1 => Just(Method::GET), 1 => Just(Method::DELETE)],
        signature in prop_oneof![
            Just(None),
            "[0-9a-f]{128}".prop_map(|s| Some(s.into_bytes())),
            "[0-9a-fA-F]{0,130}".prop_map(|s| Some(s.into_bytes())),
            proptest::collection::vec(any::<u8>(), 0..200).prop_map(Some),
        ],
        timestamp in prop_oneof![
            Just(None),
            Just(Some(NOW.to_string().into_bytes())),
            "[0-9]{1,25}".prop_map(|s| Some(s.into_bytes())),
            proptest::collection::vec(any::<u8>(), 0..30).prop_map(Some),
        ],
        body in prop_oneof![body(), proptest::collection::vec(any::<u8>(), BODY_LIMIT - 2..BODY_LIMIT + 3)],
    ) {
        let rt = runtime();
        let status = send(&rt, &method, signature.as_deref(), timestamp.as_deref(), body);
        prop_assert!(
            matches!(status, StatusCode::UNAUTHORIZED | StatusCode::METHOD_NOT_ALLOWED | StatusCode::PAYLOAD_TOO_LARGE),
            "unsigned request answered {}", status
        );
    }

    #[test]
    fn any_genuinely_signed_body_passes_through_a_base64_event(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let rt = runtime();
        let mut event = events::function_url_event(&body, true);
        events::sign_event(&mut event, &KEY, NOW).expect("signing");
        let request = lambda_http::request::from_str(&event.to_string()).expect("lambda_http parses the event");
        let status = rt.block_on(APP.handle(request, SystemTime::UNIX_EPOCH + Duration::from_secs(NOW))).status();
        prop_assert!(matches!(status, StatusCode::OK | StatusCode::BAD_REQUEST), "signed body answered {}", status);
    }
}
