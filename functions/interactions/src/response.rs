//! Interaction responses (what the endpoint answers Discord) and their HTTP form.

use engagement_commands::Reply;
use engagement_commands::reply::no_mentions;
use lambda_http::http::header::{ALLOW, CONTENT_TYPE};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use twilight_model::channel::message::MessageFlags;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};

/// `{"type":1}`: the answer to a PING.
#[must_use]
pub const fn pong() -> InteractionResponse {
    InteractionResponse { kind: InteractionResponseType::Pong, data: None }
}

/// A message in the channel, visible to everyone. Like every message reply it carries
/// `allowed_mentions: {"parse": []}`: mentions in it ping nobody.
#[must_use]
pub fn message(content: impl Into<String>) -> InteractionResponse {
    reply(&Reply::text(content), false)
}

/// A message only the invoking user sees (flag EPHEMERAL, 64), pinging nobody.
#[must_use]
pub fn ephemeral_message(content: impl Into<String>) -> InteractionResponse {
    reply(&Reply::text(content), true)
}

/// A command's [`Reply`] (content and embeds, pings off), ephemeral or not. Attachments cannot be part of
/// this JSON response: replies with files are always deferred and delivered by the followup function.
#[must_use]
pub fn reply(reply: &Reply, ephemeral: bool) -> InteractionResponse {
    let mut data = reply.message();
    data.allowed_mentions = Some(no_mentions());
    if ephemeral {
        data.flags = Some(MessageFlags::EPHEMERAL);
    }
    InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(data),
    }
}

/// DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE (type 5): "thinking…", edited later through the webhook.
/// Only the EPHEMERAL flag may be set on it.
#[must_use]
pub fn deferred(ephemeral: bool) -> InteractionResponse {
    InteractionResponse {
        kind: InteractionResponseType::DeferredChannelMessageWithSource,
        data: ephemeral.then(|| InteractionResponseData {
            flags: Some(MessageFlags::EPHEMERAL),
            ..Default::default()
        }),
    }
}

/// An autocomplete answer with no suggestions (type 8).
#[must_use]
pub fn no_choices() -> InteractionResponse {
    InteractionResponse {
        kind: InteractionResponseType::ApplicationCommandAutocompleteResult,
        data: Some(InteractionResponseData { choices: Some(Vec::new()), ..Default::default() }),
    }
}

/// Used if serialising a response ever failed: still a valid ephemeral reply, never a 5xx.
const FALLBACK_JSON: &str = r#"{"type":4,"data":{"allowed_mentions":{"parse":[]},"content":"Sorry, something went wrong while answering that.","flags":64}}"#;

/// 200 with the JSON of `reply`.
#[must_use]
pub fn ok(reply: &InteractionResponse) -> Response<Body> {
    let json = serde_json::to_string(reply).unwrap_or_else(|error| {
        tracing::error!(%error, "could not serialise an interaction response");
        FALLBACK_JSON.to_owned()
    });
    json_response(StatusCode::OK, json)
}

/// A rejected request: a status and a short JSON error that tells an attacker nothing.
#[must_use]
pub fn rejection(status: StatusCode) -> Response<Body> {
    let message = match status {
        StatusCode::UNAUTHORIZED => "invalid request signature",
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large",
        StatusCode::BAD_REQUEST => "invalid interaction",
        _ => "request failed",
    };
    let mut response = json_response(status, format!(r#"{{"error":"{message}"}}"#));
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response.headers_mut().insert(ALLOW, HeaderValue::from_static("POST"));
    }
    response
}

fn json_response(status: StatusCode, json: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(json));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap_or_default()
    }

    #[test]
    fn pong_is_type_1_as_json() {
        let response = ok(&pong());
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers().get(CONTENT_TYPE).map(HeaderValue::as_bytes),
            Some(&b"application/json"[..])
        );
        assert_eq!(response.body().as_ref(), br#"{"type":1}"#);
    }

    #[test]
    fn ephemeral_messages_carry_flag_64_and_ping_nobody() {
        let body = json(&ok(&ephemeral_message("hi <@1>")));
        assert_eq!(
            body,
            serde_json::json!({"type": 4, "data": {
                "allowed_mentions": {"parse": []}, "content": "hi <@1>", "flags": 64
            }})
        );
        let public = json(&ok(&message("hi")));
        assert_eq!(public["data"]["allowed_mentions"], serde_json::json!({"parse": []}));
        assert_eq!(public["data"].get("flags"), None);
    }

    #[test]
    fn deferred_carries_only_the_ephemeral_flag() {
        assert_eq!(
            json(&ok(&deferred(true))),
            serde_json::json!({"type": 5, "data": {"flags": 64}})
        );
        assert_eq!(json(&ok(&deferred(false))), serde_json::json!({"type": 5}));
    }

    #[test]
    fn the_fallback_is_a_valid_ephemeral_reply() -> Result<(), serde_json::Error> {
        let reply: InteractionResponse = serde_json::from_str(FALLBACK_JSON)?;
        assert_eq!(reply.kind, InteractionResponseType::ChannelMessageWithSource);
        assert_eq!(reply.data.and_then(|d| d.flags), Some(MessageFlags::EPHEMERAL));
        Ok(())
    }

    #[test]
    fn rejections_are_short_json() {
        let response = rejection(StatusCode::UNAUTHORIZED);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(json(&response), serde_json::json!({"error": "invalid request signature"}));
        let response = rejection(StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers().get(ALLOW).map(HeaderValue::as_bytes), Some(&b"POST"[..]));
    }
}
