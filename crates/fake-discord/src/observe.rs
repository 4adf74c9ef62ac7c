//! What the fake saw: request counts, a request log, recorded follow-ups and commands, injected faults.

use std::{collections::BTreeMap, time::Duration};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::RouteClass;

/// Scope of a 429, as in `X-RateLimit-Scope`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Per-route limit of the bot.
    User,
    /// Global limit of the bot.
    Global,
    /// Shared resource limit (not an invalid request).
    Shared,
}

impl Scope {
    /// The header value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Global => "global",
            Self::Shared => "shared",
        }
    }
}

/// Counters over all API requests (not `/_fake`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests received.
    pub requests: u64,
    /// Answers by status.
    pub by_status: BTreeMap<u16, u64>,
    /// Requests by route class (`unknown` for unmatched paths).
    pub by_route: BTreeMap<String, u64>,
    /// 429 answers.
    pub rate_limited: u64,
    /// 429 answers by scope.
    pub rate_limited_by_scope: BTreeMap<Scope, u64>,
    /// Invalid requests in Discord's sense: 401, 403 and 429 except scope shared.
    pub invalid_requests: u64,
    /// 401 answers.
    pub unauthorized: u64,
    /// 403 answers.
    pub forbidden: u64,
    /// 5xx answers.
    pub server_errors: u64,
}

impl Stats {
    /// 429s of one scope.
    #[must_use]
    pub fn rate_limited_with(&self, scope: Scope) -> u64 {
        self.rate_limited_by_scope.get(&scope).copied().unwrap_or(0)
    }
}

/// One request as the fake saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// When it arrived, since the fake started.
    pub at: Duration,
    /// HTTP method.
    pub method: String,
    /// Path (without query).
    pub path: String,
    /// Query string.
    pub query: String,
    /// Route class, if the path matched one.
    pub route: Option<RouteClass>,
    /// The major parameter (e.g. `channels/123`).
    pub major: String,
    /// Status answered.
    pub status: u16,
    /// Scope of a 429.
    pub scope: Option<Scope>,
}

/// A file uploaded with a follow-up.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedFile {
    /// Form field, e.g. `files[0]`.
    pub field: String,
    /// File name.
    pub filename: String,
    /// The part's content type.
    pub content_type: Option<String>,
    /// The bytes.
    #[serde(with = "base64_bytes")]
    pub data: Vec<u8>,
}

impl std::fmt::Debug for RecordedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordedFile")
            .field("field", &self.field)
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.data.len())
            .finish()
    }
}

/// A follow-up call (`PATCH .../messages/@original` or `POST /webhooks/{app}/{token}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedWebhookCall {
    /// `PATCH` or `POST`.
    pub method: String,
    /// Application id in the path.
    pub application_id: u64,
    /// Interaction token in the path.
    pub token: String,
    /// Whether it was `multipart/form-data`.
    pub multipart: bool,
    /// The JSON payload (`payload_json` or the JSON body).
    pub payload: Value,
    /// Uploaded files.
    pub files: Vec<RecordedFile>,
    /// Id of the message the fake answered with.
    pub message_id: u64,
}

/// Whether a role change gave or took the role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleAction {
    /// `PUT /guilds/{g}/members/{u}/roles/{r}`.
    Add,
    /// `DELETE /guilds/{g}/members/{u}/roles/{r}`.
    Remove,
}

/// A role change Discord accepted (204), in the order received: the ground truth of which roles the bot
/// gave and took. Refused calls (403, 404, 400) are not recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRoleChange {
    /// Guild.
    #[serde(with = "id_string")]
    pub guild_id: u64,
    /// Member.
    #[serde(with = "id_string")]
    pub user_id: u64,
    /// Role.
    #[serde(with = "id_string")]
    pub role_id: u64,
    /// Given or taken.
    pub action: RoleAction,
    /// `X-Audit-Log-Reason`, percent-decoded; `None` without the header.
    pub reason: Option<String>,
    /// Whether the member's roles changed: `false` for adding a role they had or removing one they lacked
    /// (Discord answers 204 to both).
    pub changed: bool,
}

/// A call to `POST /channels/{c}/messages` that Discord answered 200, in the order received: the ground truth
/// of what the bot posted. Refused calls (4xx, injected 5xx) are not recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedPost {
    /// Channel or thread posted in.
    #[serde(with = "id_string")]
    pub channel_id: u64,
    /// The message created, or for a deduplicated call the earlier message answered instead.
    #[serde(with = "id_string")]
    pub message_id: u64,
    /// The JSON payload (`payload_json` of a multipart body, or the JSON body).
    pub payload: Value,
    /// Uploaded files.
    pub files: Vec<RecordedPostFile>,
    /// The payload's `nonce`, if any (a string or an integer, as sent).
    pub nonce: Option<Value>,
    /// Whether the call repeated a `nonce` with `enforce_nonce: true` within 5 minutes: Discord answered
    /// with the earlier message (`message_id`) and created nothing.
    pub deduplicated: bool,
}

/// A file uploaded with a [`RecordedPost`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedPostFile {
    /// File name.
    pub filename: String,
    /// The part's content type.
    pub content_type: Option<String>,
    /// Size in bytes.
    pub size: u64,
}

/// Where commands were registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandScope {
    /// Global commands.
    Global,
    /// Commands of one guild.
    Guild(u64),
}

/// An answer forced on upcoming requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum InjectedResponse {
    /// A 429 of this scope.
    RateLimited {
        /// Scope.
        scope: Scope,
        /// `retry_after`.
        retry_after: Duration,
    },
    /// A 5xx.
    ServerError {
        /// Status (500..=599).
        status: u16,
    },
}

/// Forces the next `times` requests (of one route class, or any) to get `response`. Injected answers come
/// after the rate limits counted the request, as when another process shares the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Injection {
    /// Only requests of this class (`None`: any).
    #[serde(default)]
    pub route: Option<RouteClass>,
    /// The answer.
    pub response: InjectedResponse,
    /// How many requests.
    pub times: u32,
}

/// Ids as JSON strings, like Discord's and the other `/_fake` answers; numbers are accepted too.
mod id_string {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(id: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&id.to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(n),
            Raw::Text(t) => t.parse().map_err(D::Error::custom),
        }
    }
}

mod base64_bytes {
    use base64::{Engine, engine::general_purpose::STANDARD};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(data: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(data))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        STANDARD.decode(String::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}
