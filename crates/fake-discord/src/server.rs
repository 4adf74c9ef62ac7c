//! HTTP: the Discord API under `/api/v10`, the OAuth2 authorization page at `/oauth2/authorize` and the
//! admin API under `/_fake`.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, Query, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use percent_encoding::{percent_decode, percent_decode_str};
use rand::Rng;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    InjectedResponse, Inner, LoggedRequest, RecordedFile, RecordedPost, RecordedPostFile,
    RecordedRoleChange, RecordedWebhookCall, RoleAction, Scope,
    config::{Faults, RateLimits, RouteClass},
    limits::{Admission, BucketHeaders},
    lock, multipart,
    oauth::{self, Authorization, Session},
    observe::{CommandScope, Injection},
    truth::{TruthOptions, ground_truth, write_json_lines},
    world::{Emoji, FakeError, NewMessage, NewRole, RoleUpdate, World, kind, permission},
};

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/_fake/stats", get(admin_stats))
        .route("/_fake/stats/reset", post(admin_reset_stats))
        .route("/_fake/requests", get(admin_requests))
        .route("/_fake/recorded", get(admin_recorded))
        .route("/_fake/truth", get(admin_truth))
        .route("/_fake/world", get(admin_world))
        .route("/_fake/messages", post(admin_add_message))
        .route("/_fake/reactions", post(admin_add_reaction).delete(admin_remove_reaction))
        .route("/_fake/threads", post(admin_create_thread))
        .route("/_fake/threads/{id}/archive", post(admin_archive))
        .route("/_fake/threads/{id}/unarchive", post(admin_unarchive))
        .route("/_fake/channels", post(admin_create_channel))
        .route("/_fake/channels/{id}/access", post(admin_access))
        .route("/_fake/members", post(admin_add_member))
        .route("/_fake/members/remove", post(admin_remove_member))
        .route("/_fake/member-roles", post(admin_set_member_roles))
        .route("/_fake/roles", post(admin_create_role))
        .route("/_fake/roles/{id}", post(admin_update_role))
        .route("/_fake/role-changes", get(admin_role_changes))
        .route("/_fake/posts", get(admin_posts))
        .route("/_fake/faults", post(admin_faults))
        .route("/_fake/inject", post(admin_inject))
        .route("/_fake/limits/{preset}", post(admin_limits))
        .route("/_fake/clock/advance", post(admin_advance_clock))
        .route("/_fake/token", post(admin_token))
        .route("/_fake/oauth/user", post(admin_oauth_user))
        .route("/oauth2/authorize", get(authorize_page))
        .fallback(api)
        .layer(DefaultBodyLimit::max(26 * 1024 * 1024))
        .with_state(inner)
}

// ---------------------------------------------------------------------------------------------------------
// Discord API

/// A Discord-shaped error answer.
struct ApiError {
    status: StatusCode,
    body: Value,
}

impl ApiError {
    fn new(status: StatusCode, code: u64, message: &str) -> Self {
        Self { status, body: json!({"message": message, "code": code}) }
    }

    fn invalid_form(field: &str, code: &str, message: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            body: json!({
                "message": "Invalid Form Body",
                "code": 50035,
                "errors": {field: {"_errors": [{"code": code, "message": message}]}},
            }),
        }
    }

    fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized")
    }

    fn missing_access() -> Self {
        Self::new(StatusCode::FORBIDDEN, 50_001, "Missing Access")
    }

    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, 0, "404: Not Found")
    }

    fn unknown_channel() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10_003, "Unknown Channel")
    }

    fn wrong_channel_type() -> Self {
        Self::new(StatusCode::BAD_REQUEST, 50_024, "Cannot execute action on this channel type")
    }

    fn unknown_member() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10_007, "Unknown Member")
    }

    fn missing_permissions() -> Self {
        Self::new(StatusCode::FORBIDDEN, 50_013, "Missing Permissions")
    }
}

/// A successful answer: JSON (200) or none (204).
enum Answer {
    Json(Value),
    NoContent,
}

/// Longest `X-Audit-Log-Reason` Discord accepts, in characters after percent-decoding.
const MAX_AUDIT_REASON: usize = 512;

/// What the dispatcher matched.
#[derive(Debug, Clone)]
enum Endpoint {
    CurrentUserGuilds,
    GuildChannels(String),
    GuildRoles(String),
    ActiveThreads(String),
    ArchivedThreads(String),
    Messages(String),
    CreateMessage(String),
    ReactionUsers { channel: String, message: String, emoji: String },
    EditOriginal { application: String, token: String },
    Followup { application: String, token: String },
    Commands { application: String, guild: Option<String> },
    CurrentUser,
    GuildMember { guild: String, user: String },
    MemberRole { guild: String, user: String, role: String, action: RoleAction },
    OAuth2Token,
}

impl Endpoint {
    const fn class(&self) -> RouteClass {
        match self {
            Self::CurrentUserGuilds => RouteClass::CurrentUserGuilds,
            Self::GuildChannels(_) => RouteClass::GuildChannels,
            Self::GuildRoles(_) => RouteClass::GuildRoles,
            Self::ActiveThreads(_) => RouteClass::ActiveThreads,
            Self::ArchivedThreads(_) => RouteClass::ArchivedThreads,
            Self::Messages(_) => RouteClass::Messages,
            Self::CreateMessage(_) => RouteClass::CreateMessage,
            Self::ReactionUsers { .. } => RouteClass::ReactionUsers,
            Self::EditOriginal { .. } | Self::Followup { .. } => RouteClass::Webhook,
            Self::Commands { .. } => RouteClass::Commands,
            Self::CurrentUser => RouteClass::CurrentUser,
            Self::GuildMember { .. } => RouteClass::GuildMember,
            Self::MemberRole { .. } => RouteClass::MemberRoles,
            Self::OAuth2Token => RouteClass::OAuth2Token,
        }
    }

    fn major(&self) -> String {
        match self {
            Self::GuildChannels(g)
            | Self::GuildRoles(g)
            | Self::ActiveThreads(g)
            | Self::GuildMember { guild: g, .. }
            | Self::MemberRole { guild: g, .. } => {
                format!("guilds/{g}")
            }
            Self::ArchivedThreads(c)
            | Self::Messages(c)
            | Self::CreateMessage(c)
            | Self::ReactionUsers { channel: c, .. } => {
                format!("channels/{c}")
            }
            Self::EditOriginal { application, token } | Self::Followup { application, token } => {
                format!("webhooks/{application}/{token}")
            }
            Self::CurrentUserGuilds
            | Self::Commands { .. }
            | Self::CurrentUser
            | Self::OAuth2Token => String::new(),
        }
    }
}

fn match_endpoint(method: &Method, segments: &[String]) -> Result<Endpoint, ApiError> {
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let endpoint = match s.as_slice() {
        ["users", "@me", "guilds"] => (Method::GET, Endpoint::CurrentUserGuilds),
        ["users", "@me"] => (Method::GET, Endpoint::CurrentUser),
        ["oauth2", "token"] => (Method::POST, Endpoint::OAuth2Token),
        ["guilds", g, "members", u] => {
            (Method::GET, Endpoint::GuildMember { guild: (*g).to_owned(), user: (*u).to_owned() })
        }
        ["guilds", g, "members", u, "roles", r] => {
            // One path, two methods: PUT gives the role, DELETE takes it; anything else is a 405.
            let (allowed, action) = if *method == Method::DELETE {
                (Method::DELETE, RoleAction::Remove)
            } else {
                (Method::PUT, RoleAction::Add)
            };
            let endpoint = Endpoint::MemberRole {
                guild: (*g).to_owned(),
                user: (*u).to_owned(),
                role: (*r).to_owned(),
                action,
            };
            (allowed, endpoint)
        }
        ["guilds", g, "channels"] => (Method::GET, Endpoint::GuildChannels((*g).to_owned())),
        ["guilds", g, "roles"] => (Method::GET, Endpoint::GuildRoles((*g).to_owned())),
        ["guilds", g, "threads", "active"] => {
            (Method::GET, Endpoint::ActiveThreads((*g).to_owned()))
        }
        ["channels", c, "threads", "archived", "public"] => {
            (Method::GET, Endpoint::ArchivedThreads((*c).to_owned()))
        }
        ["channels", c, "messages"] => {
            // One path, two methods: GET lists the messages, POST creates one; anything else is a 405.
            if *method == Method::POST {
                (Method::POST, Endpoint::CreateMessage((*c).to_owned()))
            } else {
                (Method::GET, Endpoint::Messages((*c).to_owned()))
            }
        }
        ["channels", c, "messages", m, "reactions", e] => (
            Method::GET,
            Endpoint::ReactionUsers {
                channel: (*c).to_owned(),
                message: (*m).to_owned(),
                emoji: (*e).to_owned(),
            },
        ),
        ["webhooks", a, t, "messages", "@original"] => (
            Method::PATCH,
            Endpoint::EditOriginal { application: (*a).to_owned(), token: (*t).to_owned() },
        ),
        ["webhooks", a, t] => (
            Method::POST,
            Endpoint::Followup { application: (*a).to_owned(), token: (*t).to_owned() },
        ),
        ["applications", a, "commands"] => {
            (Method::PUT, Endpoint::Commands { application: (*a).to_owned(), guild: None })
        }
        ["applications", a, "guilds", g, "commands"] => (
            Method::PUT,
            Endpoint::Commands { application: (*a).to_owned(), guild: Some((*g).to_owned()) },
        ),
        _ => return Err(ApiError::not_found()),
    };
    if endpoint.0 == *method {
        Ok(endpoint.1)
    } else {
        Err(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, 0, "405: Method Not Allowed"))
    }
}

fn seconds(duration: Duration) -> String {
    // Rounded up to the millisecond so that a client waiting exactly this long is never early.
    let millis = duration.as_nanos().div_ceil(1_000_000);
    format!("{}.{:03}", millis / 1_000, millis % 1_000)
}

fn seconds_f64(duration: Duration) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let millis = duration.as_nanos().div_ceil(1_000_000) as f64;
    millis / 1_000.0
}

fn insert_header(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

fn bucket_headers(headers: &mut HeaderMap, bucket: &BucketHeaders) {
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(bucket.reset_after);
    insert_header(headers, "x-ratelimit-limit", &bucket.limit.to_string());
    insert_header(headers, "x-ratelimit-remaining", &bucket.remaining.to_string());
    insert_header(headers, "x-ratelimit-reset", &seconds(reset));
    insert_header(headers, "x-ratelimit-reset-after", &seconds(bucket.reset_after));
    insert_header(headers, "x-ratelimit-bucket", bucket.bucket);
}

fn rate_limited(scope: Scope, retry_after: Duration, bucket: Option<&BucketHeaders>) -> Response {
    let mut headers = HeaderMap::new();
    if let Some(bucket) = bucket {
        bucket_headers(&mut headers, bucket);
    }
    insert_header(&mut headers, "x-ratelimit-scope", scope.as_str());
    if scope == Scope::Global {
        insert_header(&mut headers, "x-ratelimit-global", "true");
    }
    insert_header(&mut headers, "retry-after", &retry_after.as_secs_f64().ceil().to_string());
    let body = json!({
        "message": "You are being rate limited.",
        "retry_after": seconds_f64(retry_after),
        "global": scope == Scope::Global,
    });
    (StatusCode::TOO_MANY_REQUESTS, headers, Json(body)).into_response()
}

fn record(inner: &Inner, entry: LoggedRequest) {
    {
        let mut stats = lock(&inner.stats);
        stats.requests += 1;
        *stats.by_status.entry(entry.status).or_default() += 1;
        let route = entry.route.map_or_else(|| "unknown".to_owned(), |r| r.to_string());
        *stats.by_route.entry(route).or_default() += 1;
        match entry.status {
            401 => {
                stats.unauthorized += 1;
                stats.invalid_requests += 1;
            }
            403 => {
                stats.forbidden += 1;
                stats.invalid_requests += 1;
            }
            429 => {
                stats.rate_limited += 1;
                let scope = entry.scope.unwrap_or(Scope::User);
                *stats.rate_limited_by_scope.entry(scope).or_default() += 1;
                if scope != Scope::Shared {
                    stats.invalid_requests += 1;
                }
            }
            500..=599 => stats.server_errors += 1,
            _ => {}
        }
    }
    lock(&inner.log).push(entry);
}

/// Every `/api/v10/...` request goes through here: latency, routing, auth, limits, faults, handler.
async fn api(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path().starts_with("/_fake/") {
        // An unknown admin path: not a Discord request, so not counted.
        return (StatusCode::NOT_FOUND, Json(json!({"error": "unknown admin path"})))
            .into_response();
    }
    let arrived = inner.started.elapsed();
    let faults = lock(&inner.faults).faults.clone();
    let delay = faults.latency
        + if faults.latency_jitter.is_zero() {
            Duration::ZERO
        } else {
            faults.latency_jitter.mul_f64(rand::rng().random_range(0.0..1.0))
        };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let path = uri.path().to_owned();
    let mut entry = LoggedRequest {
        at: arrived,
        method: method.to_string(),
        path: path.clone(),
        query: uri.query().unwrap_or_default().to_owned(),
        route: None,
        major: String::new(),
        status: 0,
        scope: None,
    };
    let response = handle_api(&inner, &method, &uri, &headers, &body, &faults, &mut entry);
    entry.status = response.status().as_u16();
    record(&inner, entry);
    response
}

fn handle_api(
    inner: &Inner,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    faults: &Faults,
    entry: &mut LoggedRequest,
) -> Response {
    let Some(rest) = uri.path().strip_prefix("/api/v10/") else {
        return error_response(ApiError::not_found(), None);
    };
    let segments: Vec<String> =
        rest.split('/').map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
    let endpoint = match match_endpoint(method, &segments) {
        Ok(endpoint) => endpoint,
        Err(error) => return error_response(error, None),
    };
    let class = endpoint.class();
    let major = endpoint.major();
    entry.route = Some(class);
    entry.major.clone_from(&major);
    // Discord's front end refuses a PUT, POST or PATCH that does not say how long its body is, before
    // the API sees it (clients that send a bodiless PUT without `Content-Length: 0` hit this).
    if matches!(*method, Method::PUT | Method::POST | Method::PATCH)
        && !headers.contains_key(header::CONTENT_LENGTH)
        && !headers.contains_key(header::TRANSFER_ENCODING)
    {
        return error_response(
            ApiError::new(StatusCode::LENGTH_REQUIRED, 0, "411: Length Required"),
            None,
        );
    }
    // Interaction webhooks and the token endpoint need no token; the current user's routes take a
    // user's OAuth2 token too; everything else needs the bot's.
    let user = if matches!(class, RouteClass::Webhook | RouteClass::OAuth2Token) {
        None
    } else {
        match caller(inner, headers, &endpoint) {
            Ok(user) => user,
            Err(error) => return error_response(error, None),
        }
    };
    let now = tokio::time::Instant::now();
    let admission = match &user {
        // A user's token has its own buckets (Discord limits per token) and not the bot's global limit.
        Some(session) => {
            entry.major = format!("users/{}", session.user);
            lock(&inner.limits).admit_user(class, &entry.major, now)
        }
        None => lock(&inner.limits).admit(class, &major, now),
    };
    let bucket = match admission {
        Admission::Allowed(bucket) => bucket,
        Admission::GlobalLimited { retry_after } => {
            entry.scope = Some(Scope::Global);
            return rate_limited(Scope::Global, retry_after, None);
        }
        Admission::RouteLimited { headers } => {
            entry.scope = Some(Scope::User);
            return rate_limited(Scope::User, headers.reset_after, Some(&headers));
        }
    };
    if let Some(forced) = take_injection(inner, class) {
        return match forced {
            InjectedResponse::RateLimited { scope, retry_after } => {
                entry.scope = Some(scope);
                let forced_bucket = bucket.as_ref().map(|b| BucketHeaders {
                    remaining: 0,
                    reset_after: retry_after,
                    ..b.clone()
                });
                rate_limited(scope, retry_after, forced_bucket.as_ref())
            }
            InjectedResponse::ServerError { status } => server_error(status),
        };
    }
    {
        let mut rng = rand::rng();
        if faults.server_error_rate > 0.0
            && rng.random_bool(faults.server_error_rate.clamp(0.0, 1.0))
        {
            let status = [500, 502, 503][rng.random_range(0..3)];
            return server_error(status);
        }
        if faults.shared_rate_limit_rate > 0.0
            && rng.random_bool(faults.shared_rate_limit_rate.clamp(0.0, 1.0))
        {
            entry.scope = Some(Scope::Shared);
            return rate_limited(Scope::Shared, faults.shared_retry_after, bucket.as_ref());
        }
    }
    let query: Vec<(String, String)> =
        Query::<Vec<(String, String)>>::try_from_uri(uri).map(|q| q.0).unwrap_or_default();
    let result = match endpoint {
        Endpoint::MemberRole { guild, user, role, action } => {
            member_role(inner, &guild, &user, &role, action, headers).map(|()| Answer::NoContent)
        }
        other => {
            json_endpoint(inner, other, user.as_ref(), headers, body, &query).map(Answer::Json)
        }
    };
    let mut response_headers = HeaderMap::new();
    match result {
        Ok(answer) => {
            if let Some(bucket) = &bucket {
                bucket_headers(&mut response_headers, bucket);
            }
            match answer {
                Answer::Json(value) => {
                    (StatusCode::OK, response_headers, Json(value)).into_response()
                }
                Answer::NoContent => (StatusCode::NO_CONTENT, response_headers).into_response(),
            }
        }
        Err(error) => error_response(error, bucket.as_ref()),
    }
}

/// Who calls: `None` for the bot (its token checked), a user's session for a live OAuth2 access token
/// (`Authorization: Bearer …`) on a route its scopes open — `GET /users/@me` with `identify`,
/// `GET /users/@me/guilds` with `guilds` — and 401 for anything else, as Discord answers a token that
/// does not open the route.
fn caller(
    inner: &Inner,
    headers: &HeaderMap,
    endpoint: &Endpoint,
) -> Result<Option<Session>, ApiError> {
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let Some(token) = given.and_then(|g| g.strip_prefix("Bearer ")) {
        let needed = match endpoint {
            Endpoint::CurrentUser => oauth::scope::IDENTIFY,
            Endpoint::CurrentUserGuilds => oauth::scope::GUILDS,
            _ => return Err(ApiError::unauthorized()),
        };
        let now = inner.clock();
        return match lock(&inner.oauth).session(token, now) {
            Some(session) if session.has_scope(needed) => Ok(Some(session)),
            _ => Err(ApiError::unauthorized()),
        };
    }
    let expected = format!("Bot {}", lock(&inner.token));
    if given == Some(expected.as_str()) { Ok(None) } else { Err(ApiError::unauthorized()) }
}

/// The endpoints that answer JSON; `user` is the caller when a user's OAuth2 token was given.
fn json_endpoint(
    inner: &Inner,
    endpoint: Endpoint,
    user: Option<&Session>,
    headers: &HeaderMap,
    body: &Bytes,
    query: &[(String, String)],
) -> Result<Value, ApiError> {
    match endpoint {
        Endpoint::CurrentUser => Ok(match user {
            Some(session) => oauth_user(&lock(&inner.world), session.user),
            None => current_user(&lock(&inner.world)),
        }),
        Endpoint::CurrentUserGuilds => {
            current_user_guilds(&lock(&inner.world), user.map(|s| s.user), query)
        }
        Endpoint::OAuth2Token => token(inner, headers, body),
        Endpoint::GuildMember { guild, user } => guild_member(&lock(&inner.world), &guild, &user),
        // Answered without a body by `member_role`; never dispatched here.
        Endpoint::MemberRole { .. } => Err(ApiError::not_found()),
        Endpoint::GuildChannels(g) => guild_channels(&lock(&inner.world), &g),
        Endpoint::GuildRoles(g) => guild_roles(&lock(&inner.world), &g),
        Endpoint::ActiveThreads(g) => active_threads(&lock(&inner.world), &g),
        Endpoint::ArchivedThreads(c) => archived_threads(&lock(&inner.world), &c, query),
        Endpoint::Messages(c) => messages(&lock(&inner.world), &c, query),
        Endpoint::CreateMessage(c) => create_message(inner, &c, headers, body),
        Endpoint::ReactionUsers { channel, message, emoji } => {
            reaction_users(&lock(&inner.world), &channel, &message, &emoji, query)
        }
        Endpoint::EditOriginal { application, token } => {
            webhook_message(inner, "PATCH", &application, &token, headers, body)
        }
        Endpoint::Followup { application, token } => {
            webhook_message(inner, "POST", &application, &token, headers, body)
        }
        Endpoint::Commands { application, guild } => {
            commands(inner, &application, guild.as_deref(), body)
        }
    }
}

fn take_injection(inner: &Inner, class: RouteClass) -> Option<InjectedResponse> {
    let mut faults = lock(&inner.faults);
    let index =
        faults.injections.iter().position(|i| i.times > 0 && i.route.is_none_or(|r| r == class))?;
    let injection = faults.injections.get_mut(index)?;
    injection.times -= 1;
    let response = injection.response.clone();
    if injection.times == 0 {
        faults.injections.remove(index);
    }
    Some(response)
}

fn server_error(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(json!({"message": "Internal Server Error", "code": 0}))).into_response()
}

fn error_response(error: ApiError, bucket: Option<&BucketHeaders>) -> Response {
    let mut headers = HeaderMap::new();
    if let Some(bucket) = bucket {
        bucket_headers(&mut headers, bucket);
    }
    (error.status, headers, Json(error.body)).into_response()
}

fn snowflake(field: &str, value: &str) -> Result<u64, ApiError> {
    value.parse::<u64>().map_err(|_| {
        ApiError::invalid_form(
            field,
            "NUMBER_TYPE_COERCE",
            &format!("Value \"{value}\" is not snowflake."),
        )
    })
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn limit_param(query: &[(String, String)], default: u32, max: u32) -> Result<usize, ApiError> {
    let Some(raw) = param(query, "limit") else {
        return Ok(usize::try_from(default).unwrap_or(50));
    };
    let value: i64 = raw.parse().map_err(|_| {
        ApiError::invalid_form(
            "limit",
            "NUMBER_TYPE_COERCE",
            &format!("Value \"{raw}\" is not int."),
        )
    })?;
    if value < 1 {
        return Err(ApiError::invalid_form(
            "limit",
            "NUMBER_TYPE_MIN",
            "int value should be greater than or equal to 1.",
        ));
    }
    if value > i64::from(max) {
        return Err(ApiError::invalid_form(
            "limit",
            "NUMBER_TYPE_MAX",
            &format!("int value should be less than or equal to {max}."),
        ));
    }
    Ok(usize::try_from(value).unwrap_or(1))
}

fn guild_id(world: &World, raw: &str) -> Result<u64, ApiError> {
    let id = snowflake("guild_id", raw)?;
    if world.guilds.contains_key(&id) {
        Ok(id)
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, 10_004, "Unknown Guild"))
    }
}

/// A channel the bot may read messages of, or the right error.
fn readable_channel<'w>(
    world: &'w World,
    raw: &str,
) -> Result<&'w crate::world::Channel, ApiError> {
    let id = snowflake("channel_id", raw)?;
    let channel = world.channels.get(&id).ok_or_else(ApiError::unknown_channel)?;
    if !world.can_read(channel) {
        return Err(ApiError::missing_access());
    }
    Ok(channel)
}

/// `GET /users/@me/guilds`: the bot's guilds, or with a user's token (`user`) that user's, with their
/// `owner` and `permissions`.
fn current_user_guilds(
    world: &World,
    user: Option<u64>,
    query: &[(String, String)],
) -> Result<Value, ApiError> {
    let limit = limit_param(query, 200, 200)?;
    let after = param(query, "after").map(|v| snowflake("after", v)).transpose()?;
    let before = param(query, "before").map(|v| snowflake("before", v)).transpose()?;
    let member = user.unwrap_or(world.bot_user_id);
    let guilds: Vec<Value> = world
        .guilds
        .values()
        .filter(|g| g.members.contains(&member))
        .filter(|g| after.is_none_or(|a| g.id > a) && before.is_none_or(|b| g.id < b))
        .take(limit)
        .map(|g| match user {
            Some(user) => world.user_guild_json(g, user),
            None => world.guild_json(g),
        })
        .collect();
    Ok(Value::Array(guilds))
}

fn guild_channels(world: &World, raw: &str) -> Result<Value, ApiError> {
    let guild = guild_id(world, raw)?;
    let channels: Vec<Value> = world
        .channels
        .values()
        .filter(|c| c.guild_id == guild && !kind::is_thread(c.kind))
        .map(|c| world.channel_json(c))
        .collect();
    Ok(Value::Array(channels))
}

fn guild_roles(world: &World, raw: &str) -> Result<Value, ApiError> {
    let guild = guild_id(world, raw)?;
    let roles: Vec<Value> = world.guilds[&guild]
        .roles
        .iter()
        .map(|r| {
            let name = if r.id == guild {
                "@everyone".to_owned()
            } else if r.name.is_empty() {
                // Roles of worlds saved before roles had names.
                format!("role-{}", r.position)
            } else {
                r.name.clone()
            };
            let mut role = json!({
                "id": r.id.to_string(), "name": name,
                "permissions": r.permissions.to_string(), "position": r.position, "color": 0,
                "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
                "hoist": false, "managed": r.managed, "mentionable": false, "flags": 0,
                "icon": null, "unicode_emoji": null, "description": null,
            });
            if r.managed {
                // Discord tags a managed role with what manages it; the fake tags every one as a
                // booster role, the kind a guild always has.
                role["tags"] = json!({"premium_subscriber": null});
            }
            role
        })
        .collect();
    Ok(Value::Array(roles))
}

fn current_user(world: &World) -> Value {
    let mut user = world.user_json(world.bot_user_id);
    // A bot token always authenticates a bot account, whatever a hand-built world says.
    user["bot"] = Value::Bool(true);
    user["verified"] = Value::Bool(true);
    user["mfa_enabled"] = Value::Bool(false);
    user["locale"] = json!("en-US");
    user
}

/// `GET /users/@me` with a user's token (scope `identify`, so no `email` or `verified`).
fn oauth_user(world: &World, user: u64) -> Value {
    let mut value = world.user_json(user);
    value["mfa_enabled"] = Value::Bool(false);
    value["locale"] = json!("en-US");
    value["premium_type"] = json!(0);
    value
}

/// `POST /oauth2/token` (form-encoded; another body reads as an empty form, so Discord's "Grant type
/// None is not supported"). Refusals carry OAuth2's `{"error", "error_description"}`, not Discord's
/// `{"message", "code"}`.
fn token(inner: &Inner, headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let form = if content_type.starts_with("application/x-www-form-urlencoded") {
        oauth::form_pairs(body)
    } else {
        Vec::new()
    };
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let application_id = lock(&inner.world).application_id;
    let now = inner.clock();
    lock(&inner.oauth).exchange(application_id, authorization, &form, now).map_err(|error| {
        ApiError {
            status: StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST),
            body: error.body(),
        }
    })
}

/// `GET /oauth2/authorize`: the browser's page at the root. The fake plays the signed-in user approving
/// (see [`oauth::OAuthState::authorize`]): a 302 to the redirect URI, or a 400 text page. Logged and
/// counted like API requests, without latency, faults or limits.
async fn authorize_page(State(inner): State<Arc<Inner>>, uri: Uri) -> Response {
    let arrived = inner.started.elapsed();
    let query: Vec<(String, String)> =
        Query::<Vec<(String, String)>>::try_from_uri(&uri).map(|q| q.0).unwrap_or_default();
    let now = inner.clock();
    let authorization = {
        let world = lock(&inner.world);
        lock(&inner.oauth).authorize(&world, &query, now)
    };
    let response = match authorization {
        Authorization::Redirect(location) => {
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
        Authorization::Refused(page) => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned())],
            page,
        )
            .into_response(),
    };
    record(
        &inner,
        LoggedRequest {
            at: arrived,
            method: Method::GET.to_string(),
            path: uri.path().to_owned(),
            query: uri.query().unwrap_or_default().to_owned(),
            route: Some(RouteClass::OAuth2Authorize),
            major: String::new(),
            status: response.status().as_u16(),
            scope: None,
        },
    );
    response
}

/// A member of a guild, or the error Discord gives.
fn member_of<'w>(
    world: &'w World,
    raw_guild: &str,
    raw_user: &str,
) -> Result<(&'w crate::world::Guild, u64), ApiError> {
    let guild = &world.guilds[&guild_id(world, raw_guild)?];
    let user = snowflake("user_id", raw_user)?;
    if guild.members.contains(&user) { Ok((guild, user)) } else { Err(ApiError::unknown_member()) }
}

fn guild_member(world: &World, raw_guild: &str, raw_user: &str) -> Result<Value, ApiError> {
    let (guild, user) = member_of(world, raw_guild, raw_user)?;
    // The fake keeps no join time: a member joined when both they and the guild existed.
    let joined = engagement_domain::snowflake::created_at(guild.id)
        .max(engagement_domain::snowflake::created_at(user));
    Ok(json!({
        "user": world.user_json(user),
        "roles": guild.roles_of(user).iter().map(u64::to_string).collect::<Vec<_>>(),
        "joined_at": crate::world::format_time(joined),
        "nick": null,
        "avatar": null,
        "banner": null,
        "premium_since": null,
        "communication_disabled_until": null,
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
    }))
}

/// `X-Audit-Log-Reason`, percent-decoded; a 400 when it does not decode or is too long.
fn audit_reason(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = headers.get("x-audit-log-reason") else {
        return Ok(None);
    };
    let too_long = || {
        ApiError::invalid_form(
            "audit_log_reason",
            "BASE_TYPE_MAX_LENGTH",
            &format!("Must be {MAX_AUDIT_REASON} or fewer in length."),
        )
    };
    let decoded = percent_decode(raw.as_bytes()).decode_utf8().map_err(|_| {
        ApiError::invalid_form("audit_log_reason", "BASE_TYPE_BAD_UNICODE", "Invalid unicode.")
    })?;
    if decoded.chars().count() > MAX_AUDIT_REASON {
        return Err(too_long());
    }
    Ok(Some(decoded.into_owned()))
}

/// `PUT`/`DELETE /guilds/{g}/members/{u}/roles/{r}` with Discord's checks, in its order: the form (the
/// reason), the guild, the role, the member, then the bot's permission and the role hierarchy.
fn member_role(
    inner: &Inner,
    raw_guild: &str,
    raw_user: &str,
    raw_role: &str,
    action: RoleAction,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let reason = audit_reason(headers)?;
    // The record is locked before the world, as `commands` does, so changes are recorded in the order
    // they were made.
    let mut recorded = lock(&inner.recorded);
    let mut world = lock(&inner.world);
    let guild_id = guild_id(&world, raw_guild)?;
    let role_id = snowflake("role_id", raw_role)?;
    let guild = &world.guilds[&guild_id];
    let role = guild
        .role(role_id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, 10_011, "Unknown Role"))?;
    let (_, user) = member_of(&world, raw_guild, raw_user)?;
    let bot = world.bot_user_id;
    if guild.permissions_of(bot) & permission::MANAGE_ROLES == 0
        || crate::world::role_rank(role) >= guild.highest_role_rank(bot)
        || role.managed
        || role.id == guild_id
    {
        return Err(ApiError::missing_permissions());
    }
    let Some(guild) = world.guilds.get_mut(&guild_id) else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, 10_004, "Unknown Guild"));
    };
    let roles = guild.member_roles.entry(user).or_default();
    let changed = match action {
        RoleAction::Add => roles.insert(role_id),
        RoleAction::Remove => roles.remove(&role_id),
    };
    if roles.is_empty() {
        guild.member_roles.remove(&user);
    }
    recorded.role_changes.push(RecordedRoleChange {
        guild_id,
        user_id: user,
        role_id,
        action,
        reason,
        changed,
    });
    Ok(())
}

fn active_threads(world: &World, raw: &str) -> Result<Value, ApiError> {
    let guild = guild_id(world, raw)?;
    let threads: Vec<Value> = world
        .channels
        .values()
        .filter(|c| {
            c.guild_id == guild
                && c.thread.as_ref().is_some_and(|t| !t.archived)
                && world.can_read(c)
        })
        .map(|c| world.channel_json(c))
        .collect();
    Ok(json!({"threads": threads, "members": []}))
}

fn archived_threads(
    world: &World,
    raw: &str,
    query: &[(String, String)],
) -> Result<Value, ApiError> {
    let channel = readable_channel(world, raw)?;
    if !matches!(channel.kind, kind::TEXT | kind::ANNOUNCEMENT | kind::FORUM) {
        return Err(ApiError::wrong_channel_type());
    }
    let limit = limit_param(query, 50, 100)?;
    let before = match param(query, "before") {
        Some(raw) => Some(
            DateTime::parse_from_rfc3339(raw).map(|t| t.with_timezone(&Utc)).map_err(|_| {
                ApiError::invalid_form(
                    "before",
                    "DATE_TIME_TYPE_PARSE",
                    &format!("Could not parse {raw}. Should be ISO8601."),
                )
            })?,
        ),
        None => None,
    };
    let mut threads: Vec<&crate::world::Channel> = world
        .channels
        .values()
        .filter(|c| {
            c.parent_id == Some(channel.id)
                && matches!(c.kind, kind::PUBLIC_THREAD | kind::ANNOUNCEMENT_THREAD)
                && c.thread
                    .as_ref()
                    .is_some_and(|t| t.archived && before.is_none_or(|b| t.archive_timestamp < b))
        })
        .collect();
    threads
        .sort_by_key(|c| std::cmp::Reverse((c.thread.as_ref().map(|t| t.archive_timestamp), c.id)));
    let has_more = threads.len() > limit;
    let page: Vec<Value> = threads.into_iter().take(limit).map(|c| world.channel_json(c)).collect();
    Ok(json!({"threads": page, "members": [], "has_more": has_more}))
}

fn messages(world: &World, raw: &str, query: &[(String, String)]) -> Result<Value, ApiError> {
    let channel = readable_channel(world, raw)?;
    if !channel.holds_messages() {
        return Err(ApiError::wrong_channel_type());
    }
    let limit = limit_param(query, 50, 100)?;
    let anchors: Vec<(&str, &str)> = ["before", "after", "around"]
        .into_iter()
        .filter_map(|name| param(query, name).map(|v| (name, v)))
        .collect();
    if anchors.len() > 1 {
        return Err(ApiError::invalid_form(
            anchors[1].0,
            "MUTUALLY_EXCLUSIVE",
            "before, after and around are mutually exclusive.",
        ));
    }
    let selected: Vec<&crate::world::Message> = match anchors.first() {
        None => channel.messages.values().rev().take(limit).collect(),
        Some(&("before", v)) => channel
            .messages
            .range(..snowflake("before", v)?)
            .rev()
            .map(|(_, m)| m)
            .take(limit)
            .collect(),
        Some(&("after", v)) => {
            // The oldest `limit` messages after the id — returned newest first, like Discord.
            let start = snowflake("after", v)?.saturating_add(1);
            let mut oldest: Vec<_> =
                channel.messages.range(start..).map(|(_, m)| m).take(limit).collect();
            oldest.reverse();
            oldest
        }
        Some(&(_, v)) => {
            let around = snowflake("around", v)?;
            let newer = limit / 2;
            let mut page: Vec<_> =
                channel.messages.range(around..).map(|(_, m)| m).take(newer.max(1)).collect();
            page.reverse();
            page.extend(
                channel
                    .messages
                    .range(..around)
                    .rev()
                    .map(|(_, m)| m)
                    .take(limit - page.len().min(limit)),
            );
            page
        }
    };
    Ok(Value::Array(selected.into_iter().map(|m| world.message_json(m, true)).collect()))
}

fn reaction_users(
    world: &World,
    raw_channel: &str,
    raw_message: &str,
    raw_emoji: &str,
    query: &[(String, String)],
) -> Result<Value, ApiError> {
    let channel = readable_channel(world, raw_channel)?;
    let message_id = snowflake("message_id", raw_message)?;
    let message = channel
        .messages
        .get(&message_id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, 10_008, "Unknown Message"))?;
    let emoji = match raw_emoji.rsplit_once(':') {
        Some((name, id)) => {
            let id = id
                .parse::<u64>()
                .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, 10_014, "Unknown Emoji"))?;
            let known = world
                .guilds
                .get(&channel.guild_id)
                .is_some_and(|g| g.emojis.iter().any(|e| e.id == Some(id)));
            if !known {
                return Err(ApiError::new(StatusCode::NOT_FOUND, 10_014, "Unknown Emoji"));
            }
            Emoji { id: Some(id), name: name.to_owned() }
        }
        None if raw_emoji.is_empty() => {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, 10_014, "Unknown Emoji"));
        }
        None => Emoji::unicode(raw_emoji),
    };
    let limit = limit_param(query, 25, 100)?;
    let after = param(query, "after").map(|v| snowflake("after", v)).transpose()?.unwrap_or(0);
    let burst = match param(query, "type") {
        None | Some("0") => false,
        Some("1") => true,
        Some(other) => {
            return Err(ApiError::invalid_form(
                "type",
                "BASE_TYPE_CHOICES",
                &format!("Value must be one of {{0, 1}}, got {other}."),
            ));
        }
    };
    // Custom emoji match by id (the name in the URL is not checked, as on Discord).
    let reaction = message
        .reactions
        .iter()
        .find(|r| if emoji.id.is_some() { r.emoji.id == emoji.id } else { r.emoji == emoji });
    let users: Vec<Value> = reaction
        .map(|r| if burst { &r.burst } else { &r.normal })
        .into_iter()
        .flat_map(|set| set.range(after.saturating_add(1)..))
        .take(limit)
        .map(|&u| world.user_json(u))
        .collect();
    Ok(Value::Array(users))
}

/// A message body as Discord takes it: JSON, or `multipart/form-data` with `payload_json` and `files[n]`.
struct MessageBody {
    /// The JSON payload, an object.
    payload: Value,
    files: Vec<RecordedFile>,
    multipart: bool,
}

/// Parses a message body (webhook edits and follow-ups, channel messages) with the checks they share:
/// a JSON object, `content` at most 2,000 characters, and a `files[n]` part for each new attachment the
/// payload lists.
fn message_body(headers: &HeaderMap, body: &Bytes) -> Result<MessageBody, ApiError> {
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let (payload, files, multipart) = if let Some(boundary) = multipart::boundary(content_type) {
        let parts = multipart::parse(body, &boundary).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, 50_035, &format!("Invalid Form Body: {e}"))
        })?;
        let mut payload = json!({});
        let mut files = Vec::new();
        for part in parts {
            if part.name == "payload_json" {
                payload = serde_json::from_slice(&part.data).map_err(|_| {
                    ApiError::invalid_form("payload_json", "JSON_TYPE_PARSE", "Invalid JSON.")
                })?;
            } else if part.name.starts_with("files[") || part.name.starts_with("file") {
                let Some(filename) = part.filename else {
                    return Err(ApiError::invalid_form(
                        &part.name,
                        "FILE_NAME_MISSING",
                        "A file upload needs a filename.",
                    ));
                };
                files.push(RecordedFile {
                    field: part.name,
                    filename,
                    content_type: part.content_type,
                    data: part.data,
                });
            } else if part.name == "content" {
                payload["content"] =
                    Value::String(String::from_utf8_lossy(&part.data).into_owned());
            }
        }
        (payload, files, true)
    } else if content_type.starts_with("application/json") {
        let payload: Value = serde_json::from_slice(body).map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                50_109,
                "The request body contains invalid JSON.",
            )
        })?;
        (payload, Vec::new(), false)
    } else {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, 50_035, "Invalid Form Body"));
    };
    if !payload.is_object() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, 50_035, "Invalid Form Body"));
    }
    if payload.get("content").and_then(Value::as_str).is_some_and(|c| c.chars().count() > 2_000) {
        return Err(ApiError::invalid_form(
            "content",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.",
        ));
    }
    // New attachments referenced in the payload must have a matching files[n] part.
    if let Some(attachments) = payload.get("attachments").and_then(Value::as_array) {
        for attachment in attachments {
            let index = attachment
                .get("id")
                .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
            if let Some(index) = index
                && index < 1_000
                && !files.iter().any(|f| f.field == format!("files[{index}]"))
            {
                return Err(ApiError::invalid_form(
                    "attachments",
                    "ATTACHMENT_NOT_FOUND",
                    &format!("No file for attachment {index}."),
                ));
            }
        }
    }
    Ok(MessageBody { payload, files, multipart })
}

/// Whether a message would show something: one of `fields` set (not null, `""` or `[]`), or a file.
fn has_message(payload: &Value, fields: &[&str], files: &[RecordedFile]) -> bool {
    fields.iter().any(|k| {
        payload.get(*k).is_some_and(|v| !v.is_null() && v != &json!("") && v != &json!([]))
    }) || !files.is_empty()
}

/// Most embeds one message may carry.
const MAX_EMBEDS: usize = 10;
/// Longest string `nonce`, in characters.
const MAX_NONCE: usize = 25;
/// How long Discord remembers a `nonce` for `enforce_nonce` ("the past few minutes"; the fake: 5, on its
/// clock).
const NONCE_WINDOW: chrono::Duration = chrono::Duration::minutes(5);

/// The form checks of `POST /channels/{c}/messages`: `content` a string, at most [`MAX_EMBEDS`] embeds in
/// an array, `nonce` a string of at most [`MAX_NONCE`] characters or an integer (returned), and something
/// to show.
fn checked_post(payload: &Value, files: &[RecordedFile]) -> Result<Option<Value>, ApiError> {
    if payload.get("content").is_some_and(|c| !c.is_null() && !c.is_string()) {
        return Err(ApiError::invalid_form(
            "content",
            "STRING_TYPE_CONVERT",
            "Could not interpret the value as string.",
        ));
    }
    match payload.get("embeds") {
        None | Some(Value::Null) => {}
        Some(Value::Array(embeds)) if embeds.len() <= MAX_EMBEDS => {}
        Some(Value::Array(_)) => {
            return Err(ApiError::invalid_form(
                "embeds",
                "BASE_TYPE_MAX_LENGTH",
                &format!("Must be {MAX_EMBEDS} or fewer in length."),
            ));
        }
        Some(_) => {
            return Err(ApiError::invalid_form(
                "embeds",
                "LIST_TYPE_CONVERT",
                "Only iterables may be used in a ListType",
            ));
        }
    }
    let nonce = match payload.get("nonce") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.chars().count() <= MAX_NONCE => {
            Some(Value::String(text.clone()))
        }
        Some(Value::String(_)) => {
            return Err(ApiError::invalid_form(
                "nonce",
                "BASE_TYPE_MAX_LENGTH",
                &format!("Must be {MAX_NONCE} or fewer in length."),
            ));
        }
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Some(Value::Number(n.clone())),
        Some(_) => {
            return Err(ApiError::invalid_form(
                "nonce",
                "NONCE_TYPE_INVALID",
                "Nonce must be an integer or a string.",
            ));
        }
    };
    // Discord's list: content, embeds, sticker_ids, components, files or a poll.
    if !has_message(payload, &["content", "embeds", "sticker_ids", "components", "poll"], files) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, 50_006, "Cannot send an empty message"));
    }
    Ok(nonce)
}

/// What the bot's guild permissions (`@everyone`'s OR its roles', Administrator meaning all; channel
/// overwrites are not applied) lack to post `payload` with `files` in `channel`: 403 Missing Permissions
/// (50013) without Send Messages (Send Messages in Threads in a thread), Embed Links for embeds, or Attach
/// Files for files.
fn check_post_permissions(
    world: &World,
    channel: &crate::world::Channel,
    payload: &Value,
    files: &[RecordedFile],
) -> Result<(), ApiError> {
    let permissions =
        world.guilds.get(&channel.guild_id).map_or(0, |g| g.permissions_of(world.bot_user_id));
    let send = if kind::is_thread(channel.kind) {
        permission::SEND_MESSAGES_IN_THREADS
    } else {
        permission::SEND_MESSAGES
    };
    let has_embeds = payload.get("embeds").and_then(Value::as_array).is_some_and(|e| !e.is_empty());
    let lacks = |bit: u64| permissions & bit == 0;
    if lacks(send)
        || (has_embeds && lacks(permission::EMBED_LINKS))
        || (!files.is_empty() && lacks(permission::ATTACH_FILES))
    {
        return Err(ApiError::missing_permissions());
    }
    Ok(())
}

/// `POST /channels/{c}/messages`, the bot posting, with Discord's checks in this order: the channel
/// (unknown 404 10003, unreadable 403 50001, a category or forum 400 50008), the form (400 50035, empty
/// 400 50006), then the bot's permissions (403 50013). A `nonce` the bot used in this channel within
/// [`NONCE_WINDOW`] of the fake's clock, sent again with `enforce_nonce: true`, gets the earlier message
/// and creates nothing; without `enforce_nonce` every call creates a message.
fn create_message(
    inner: &Inner,
    raw_channel: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, ApiError> {
    let parsed = message_body(headers, body);
    let clock = inner.clock();
    // The record is locked before the world, as `member_role` does: posts are recorded in the order they
    // were made, and two calls with one nonce cannot both create a message.
    let mut recorded = lock(&inner.recorded);
    let mut world = lock(&inner.world);
    let channel = readable_channel(&world, raw_channel)?;
    if !channel.holds_messages() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            50_008,
            "Cannot send messages in a non-text channel",
        ));
    }
    let MessageBody { payload, files, .. } = parsed?;
    let nonce = checked_post(&payload, &files)?;
    check_post_permissions(&world, channel, &payload, &files)?;
    let channel_id = channel.id;
    let recorded_files: Vec<RecordedPostFile> = files
        .iter()
        .map(|f| RecordedPostFile {
            filename: f.filename.clone(),
            content_type: f.content_type.clone(),
            size: f.data.len() as u64,
        })
        .collect();
    let enforce_nonce = payload.get("enforce_nonce") == Some(&Value::Bool(true));
    if enforce_nonce && let Some(nonce) = &nonce {
        let earlier = recorded
            .posts
            .iter()
            .rev()
            .filter(|p| !p.deduplicated && p.channel_id == channel_id)
            .filter(|p| p.nonce.as_ref() == Some(nonce))
            .find(|p| clock - engagement_domain::snowflake::created_at(p.message_id) < NONCE_WINDOW)
            .and_then(|p| channel.messages.get(&p.message_id));
        if let Some(earlier) = earlier {
            let mut answer = world.message_json(earlier, true);
            answer["nonce"] = nonce.clone();
            recorded.posts.push(RecordedPost {
                channel_id,
                message_id: earlier.id,
                payload,
                files: recorded_files,
                nonce: Some(nonce.clone()),
                deduplicated: true,
            });
            return Ok(answer);
        }
    }
    let content = payload.get("content").and_then(Value::as_str).unwrap_or_default();
    let embeds = payload.get("embeds").and_then(Value::as_array).cloned().unwrap_or_default();
    let attachments: Vec<(String, Option<String>, u64)> = recorded_files
        .iter()
        .map(|f| (f.filename.clone(), f.content_type.clone(), f.size))
        .collect();
    // The channel exists and holds messages (checked above): adding cannot fail but for it vanishing.
    let message_id = world
        .add_bot_message(channel_id, content, embeds, &attachments, clock)
        .map_err(|_| ApiError::unknown_channel())?;
    let message = world
        .channels
        .get(&channel_id)
        .and_then(|c| c.messages.get(&message_id))
        .ok_or_else(ApiError::unknown_channel)?;
    let mut answer = world.message_json(message, true);
    if let Some(nonce) = &nonce {
        answer["nonce"] = nonce.clone();
    }
    recorded.posts.push(RecordedPost {
        channel_id,
        message_id,
        payload,
        files: recorded_files,
        nonce,
        deduplicated: false,
    });
    Ok(answer)
}

fn webhook_message(
    inner: &Inner,
    method: &str,
    application: &str,
    token: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, ApiError> {
    let unknown_webhook = || ApiError::new(StatusCode::NOT_FOUND, 10_015, "Unknown Webhook");
    let application_id = application.parse::<u64>().map_err(|_| unknown_webhook())?;
    if lock(&inner.recorded).expired_tokens.contains(token) {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, 50_027, "Invalid Webhook Token"));
    }
    let (bot, first_channel) = {
        let world = lock(&inner.world);
        if application_id != world.application_id || token.is_empty() {
            return Err(unknown_webhook());
        }
        let channel = world.channels.values().find(|c| c.kind == kind::TEXT).map_or(0, |c| c.id);
        (world.user_json(world.bot_user_id), channel)
    };
    let MessageBody { payload, files, multipart: is_multipart } = message_body(headers, body)?;
    if method == "POST"
        && !has_message(&payload, &["content", "embeds", "components", "attachments"], &files)
    {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, 50_006, "Cannot send an empty message"));
    }
    let clock = inner.clock();
    let message_id = {
        let mut recorded = lock(&inner.recorded);
        let existing =
            (method == "PATCH").then(|| recorded.original_messages.get(token).copied()).flatten();
        let id = existing.unwrap_or_else(|| lock(&inner.world).ids.next(clock));
        if method == "PATCH" {
            recorded.original_messages.insert(token.to_owned(), id);
        }
        recorded.webhook_calls.push(RecordedWebhookCall {
            method: method.to_owned(),
            application_id,
            token: token.to_owned(),
            multipart: is_multipart,
            payload: payload.clone(),
            files: files.clone(),
            message_id: id,
        });
        id
    };
    let attachments: Vec<Value> = {
        let mut world = lock(&inner.world);
        files
            .iter()
            .map(|f| {
                let id = world.ids.next(clock);
                json!({
                    "id": id.to_string(), "filename": f.filename, "size": f.data.len(),
                    "url": format!("https://cdn.discordapp.com/attachments/{first_channel}/{id}/{}", f.filename),
                    "proxy_url": format!("https://media.discordapp.net/attachments/{first_channel}/{id}/{}", f.filename),
                    "content_type": f.content_type,
                })
            })
            .collect()
    };
    Ok(json!({
        "id": message_id.to_string(),
        "type": if method == "PATCH" { 20 } else { 0 },
        "content": payload.get("content").cloned().unwrap_or(json!("")),
        "channel_id": first_channel.to_string(),
        "author": bot,
        "attachments": attachments,
        "embeds": payload.get("embeds").cloned().unwrap_or(json!([])),
        "mentions": [], "mention_roles": [], "pinned": false, "mention_everyone": false, "tts": false,
        "timestamp": clock.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
        "edited_timestamp": null,
        "flags": payload.get("flags").cloned().unwrap_or(json!(0)),
        "components": [],
        "webhook_id": application_id.to_string(),
        "application_id": application_id.to_string(),
    }))
}

fn commands(
    inner: &Inner,
    application: &str,
    guild: Option<&str>,
    body: &Bytes,
) -> Result<Value, ApiError> {
    let application_id = application.parse::<u64>().map_err(|_| ApiError::missing_access())?;
    let scope = {
        let world = lock(&inner.world);
        if application_id != world.application_id {
            return Err(ApiError::missing_access());
        }
        match guild {
            Some(raw) => CommandScope::Guild(guild_id(&world, raw)?),
            None => CommandScope::Global,
        }
    };
    let commands: Vec<Value> = serde_json::from_slice(body).map_err(|_| {
        ApiError::new(StatusCode::BAD_REQUEST, 50_109, "The request body contains invalid JSON.")
    })?;
    if commands.len() > 100 {
        return Err(ApiError::invalid_form(
            "_errors",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 100 or fewer in length.",
        ));
    }
    let mut names = BTreeSet::new();
    for (index, command) in commands.iter().enumerate() {
        let kind_ = command.get("type").and_then(Value::as_u64).unwrap_or(1);
        let name = command.get("name").and_then(Value::as_str).unwrap_or_default();
        let description = command.get("description").and_then(Value::as_str).unwrap_or_default();
        let field = format!("{index}.name");
        let name_ok = (1..=32).contains(&name.chars().count())
            && (kind_ != 1
                || name
                    .chars()
                    .all(|c| c.is_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'));
        if !name_ok {
            return Err(ApiError::invalid_form(
                &field,
                "APPLICATION_COMMAND_INVALID_NAME",
                "Command name is invalid",
            ));
        }
        if kind_ == 1 && !(1..=100).contains(&description.chars().count()) {
            return Err(ApiError::invalid_form(
                &format!("{index}.description"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            ));
        }
        if command.get("options").and_then(Value::as_array).is_some_and(|o| o.len() > 25) {
            return Err(ApiError::invalid_form(
                &format!("{index}.options"),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.",
            ));
        }
        if !names.insert((kind_, name.to_owned())) {
            return Err(ApiError::invalid_form(
                &field,
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            ));
        }
    }
    let clock = inner.clock();
    let mut recorded = lock(&inner.recorded);
    let previous: BTreeMap<String, Value> = recorded
        .commands
        .get(&scope)
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c.get("name")?.as_str()?.to_owned(), c.get("id")?.clone())))
        .collect();
    let mut world = lock(&inner.world);
    let registered: Vec<Value> = commands
        .into_iter()
        .map(|mut command| {
            let name = command.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
            let id = previous
                .get(&name)
                .cloned()
                .unwrap_or_else(|| json!(world.ids.next(clock).to_string()));
            command["id"] = id;
            command["application_id"] = json!(application_id.to_string());
            command["version"] = json!(world.ids.next(clock).to_string());
            if command.get("type").is_none_or(Value::is_null) {
                command["type"] = json!(1);
            }
            if command.get("options").is_none_or(Value::is_null) {
                command["options"] = json!([]);
            }
            if command.get("default_member_permissions").is_none() {
                command["default_member_permissions"] = Value::Null;
            }
            if command.get("nsfw").is_none() {
                command["nsfw"] = json!(false);
            }
            if let CommandScope::Guild(g) = scope {
                command["guild_id"] = json!(g.to_string());
            }
            command
        })
        .collect();
    recorded.commands.insert(scope, registered.clone());
    Ok(Value::Array(registered))
}

// ---------------------------------------------------------------------------------------------------------
// Admin API

fn fake_error(error: &FakeError) -> Response {
    let status = match error {
        FakeError::UnknownGuild(_)
        | FakeError::UnknownChannel(_)
        | FakeError::UnknownMessage { .. }
        | FakeError::UnknownUser(_)
        | FakeError::UnknownRole(_)
        | FakeError::UnknownMember { .. } => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, Json(json!({"error": error.to_string()}))).into_response()
}

fn id_answer(result: Result<u64, FakeError>) -> Response {
    match result {
        Ok(id) => Json(json!({"id": id.to_string()})).into_response(),
        Err(error) => fake_error(&error),
    }
}

fn unit_answer(result: Result<(), FakeError>) -> Response {
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => fake_error(&error),
    }
}

/// Ids in admin bodies may be JSON numbers or strings.
mod flex {
    use serde::{Deserialize, Deserializer, de::Error};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }

    pub(super) fn id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(n),
            Raw::Text(t) => t.parse().map_err(D::Error::custom),
        }
    }

    pub(super) fn ids<'de, D: Deserializer<'de>, C: FromIterator<u64>>(
        deserializer: D,
    ) -> Result<C, D::Error> {
        Vec::<Raw>::deserialize(deserializer)?
            .into_iter()
            .map(|raw| match raw {
                Raw::Number(n) => Ok(n),
                Raw::Text(t) => t.parse().map_err(D::Error::custom),
            })
            .collect()
    }

    pub(super) fn opt_id<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        match Option::<Raw>::deserialize(deserializer)? {
            None => Ok(None),
            Some(Raw::Number(n)) => Ok(Some(n)),
            Some(Raw::Text(t)) => t.parse().map(Some).map_err(D::Error::custom),
        }
    }
}

#[derive(Deserialize)]
struct AddMessage {
    #[serde(deserialize_with = "flex::id")]
    channel_id: u64,
    #[serde(default, deserialize_with = "flex::opt_id")]
    author_id: Option<u64>,
    #[serde(default, deserialize_with = "flex::opt_id")]
    webhook_id: Option<u64>,
    #[serde(default, rename = "type")]
    kind: Option<u8>,
    #[serde(default, deserialize_with = "flex::opt_id")]
    reply_to: Option<u64>,
    #[serde(default)]
    timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    content: Option<String>,
}

async fn admin_add_message(
    State(inner): State<Arc<Inner>>,
    Json(body): Json<AddMessage>,
) -> Response {
    let message = NewMessage {
        channel_id: body.channel_id,
        author_id: body.author_id.unwrap_or_default(),
        webhook_id: body.webhook_id,
        kind: body.kind,
        reply_to: body.reply_to,
        timestamp: body.timestamp,
        content: body.content,
    };
    let clock = inner.clock();
    id_answer(lock(&inner.world).add_message(&message, clock))
}

#[derive(Deserialize)]
struct EmojiBody {
    #[serde(default, deserialize_with = "flex::opt_id")]
    id: Option<u64>,
    name: String,
}

#[derive(Deserialize)]
struct ReactionBody {
    #[serde(deserialize_with = "flex::id")]
    channel_id: u64,
    #[serde(deserialize_with = "flex::id")]
    message_id: u64,
    #[serde(deserialize_with = "flex::id")]
    user_id: u64,
    emoji: EmojiBody,
    #[serde(default)]
    burst: bool,
}

async fn admin_add_reaction(
    State(inner): State<Arc<Inner>>,
    Json(body): Json<ReactionBody>,
) -> Response {
    let emoji = Emoji { id: body.emoji.id, name: body.emoji.name };
    unit_answer(lock(&inner.world).add_reaction(
        body.channel_id,
        body.message_id,
        body.user_id,
        &emoji,
        body.burst,
    ))
}

async fn admin_remove_reaction(
    State(inner): State<Arc<Inner>>,
    Json(body): Json<ReactionBody>,
) -> Response {
    let emoji = Emoji { id: body.emoji.id, name: body.emoji.name };
    unit_answer(lock(&inner.world).remove_reaction(
        body.channel_id,
        body.message_id,
        body.user_id,
        &emoji,
        body.burst,
    ))
}

#[derive(Deserialize)]
struct ThreadBody {
    #[serde(deserialize_with = "flex::id")]
    parent_id: u64,
    name: String,
    #[serde(deserialize_with = "flex::id")]
    author_id: u64,
    #[serde(default, deserialize_with = "flex::opt_id")]
    from_message_id: Option<u64>,
}

async fn admin_create_thread(
    State(inner): State<Arc<Inner>>,
    Json(body): Json<ThreadBody>,
) -> Response {
    let clock = inner.clock();
    id_answer(lock(&inner.world).create_thread(
        body.parent_id,
        &body.name,
        body.author_id,
        body.from_message_id,
        clock,
    ))
}

async fn admin_archive(State(inner): State<Arc<Inner>>, Path(id): Path<u64>) -> Response {
    let clock = inner.clock();
    unit_answer(lock(&inner.world).set_archived(id, true, clock))
}

async fn admin_unarchive(State(inner): State<Arc<Inner>>, Path(id): Path<u64>) -> Response {
    let clock = inner.clock();
    unit_answer(lock(&inner.world).set_archived(id, false, clock))
}

#[derive(Deserialize)]
struct ChannelBody {
    #[serde(deserialize_with = "flex::id")]
    guild_id: u64,
    #[serde(rename = "type", default)]
    kind: u8,
    name: String,
    #[serde(default, deserialize_with = "flex::opt_id")]
    parent_id: Option<u64>,
}

async fn admin_create_channel(
    State(inner): State<Arc<Inner>>,
    Json(body): Json<ChannelBody>,
) -> Response {
    let clock = inner.clock();
    id_answer(lock(&inner.world).create_channel(
        body.guild_id,
        body.kind,
        &body.name,
        body.parent_id,
        clock,
    ))
}

#[derive(Deserialize)]
struct AccessBody {
    readable: bool,
}

async fn admin_access(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<u64>,
    Json(body): Json<AccessBody>,
) -> Response {
    unit_answer(lock(&inner.world).set_readable(id, body.readable))
}

#[derive(Deserialize)]
struct MemberBody {
    #[serde(deserialize_with = "flex::id")]
    guild_id: u64,
    #[serde(default)]
    bot: bool,
}

async fn admin_add_member(
    State(inner): State<Arc<Inner>>,
    Json(body): Json<MemberBody>,
) -> Response {
    let clock = inner.clock();
    id_answer(lock(&inner.world).add_member(body.guild_id, body.bot, clock))
}

#[derive(Deserialize)]
struct GuildMemberBody {
    #[serde(deserialize_with = "flex::id")]
    guild_id: u64,
    #[serde(deserialize_with = "flex::id")]
    user_id: u64,
}

async fn admin_remove_member(
    State(inner): State<Arc<Inner>>,
    Json(body): Json<GuildMemberBody>,
) -> Response {
    unit_answer(lock(&inner.world).remove_member(body.guild_id, body.user_id))
}

#[derive(Deserialize)]
struct MemberRolesBody {
    #[serde(deserialize_with = "flex::id")]
    guild_id: u64,
    #[serde(deserialize_with = "flex::id")]
    user_id: u64,
    #[serde(deserialize_with = "flex::ids")]
    roles: BTreeSet<u64>,
}

async fn admin_set_member_roles(
    State(inner): State<Arc<Inner>>,
    Json(body): Json<MemberRolesBody>,
) -> Response {
    unit_answer(lock(&inner.world).set_member_roles(body.guild_id, body.user_id, &body.roles))
}

#[derive(Deserialize)]
struct RoleBody {
    #[serde(deserialize_with = "flex::id")]
    guild_id: u64,
    name: String,
    #[serde(default, deserialize_with = "flex::opt_id")]
    permissions: Option<u64>,
    #[serde(default)]
    position: Option<i64>,
    #[serde(default)]
    managed: bool,
}

async fn admin_create_role(
    State(inner): State<Arc<Inner>>,
    Json(body): Json<RoleBody>,
) -> Response {
    let role = NewRole {
        name: body.name,
        permissions: body.permissions.unwrap_or_default(),
        position: body.position,
        managed: body.managed,
    };
    let clock = inner.clock();
    id_answer(lock(&inner.world).create_role(body.guild_id, &role, clock))
}

#[derive(Deserialize)]
struct RoleUpdateBody {
    // Permission bits are strings in Discord's JSON; numbers are accepted too.
    #[serde(default, deserialize_with = "flex::opt_id")]
    permissions: Option<u64>,
    #[serde(default)]
    position: Option<i64>,
    #[serde(default)]
    name: Option<String>,
}

async fn admin_update_role(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<u64>,
    Json(body): Json<RoleUpdateBody>,
) -> Response {
    let update =
        RoleUpdate { permissions: body.permissions, position: body.position, name: body.name };
    unit_answer(lock(&inner.world).update_role(id, &update))
}

async fn admin_role_changes(State(inner): State<Arc<Inner>>) -> Response {
    Json(lock(&inner.recorded).role_changes.clone()).into_response()
}

async fn admin_posts(State(inner): State<Arc<Inner>>) -> Response {
    Json(lock(&inner.recorded).posts.clone()).into_response()
}

async fn admin_faults(State(inner): State<Arc<Inner>>, Json(faults): Json<Faults>) -> Response {
    lock(&inner.faults).faults = faults;
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_inject(
    State(inner): State<Arc<Inner>>,
    Json(injection): Json<Injection>,
) -> Response {
    lock(&inner.faults).injections.push_back(injection);
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_limits(State(inner): State<Arc<Inner>>, Path(preset): Path<String>) -> Response {
    match preset.parse::<RateLimits>() {
        Ok(limits) => {
            *lock(&inner.limits) = crate::limits::LimitState::new(limits);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response(),
    }
}

#[derive(Deserialize)]
struct AdvanceBody {
    seconds: i64,
}

async fn admin_advance_clock(
    State(inner): State<Arc<Inner>>,
    Json(body): Json<AdvanceBody>,
) -> Response {
    *lock(&inner.clock_offset) += chrono::Duration::seconds(body.seconds);
    Json(json!({"clock": inner.clock()})).into_response()
}

#[derive(Deserialize)]
struct TokenBody {
    token: String,
}

async fn admin_token(State(inner): State<Arc<Inner>>, Json(body): Json<TokenBody>) -> Response {
    *lock(&inner.token) = body.token;
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct OAuthUserBody {
    #[serde(default, deserialize_with = "flex::opt_id")]
    user_id: Option<u64>,
}

async fn admin_oauth_user(
    State(inner): State<Arc<Inner>>,
    Json(body): Json<OAuthUserBody>,
) -> Response {
    if let Some(id) = body.user_id {
        match lock(&inner.world).users.get(&id) {
            None => return fake_error(&FakeError::UnknownUser(id)),
            Some(user) if user.bot => {
                return fake_error(&FakeError::Invalid(format!("user {id} is a bot")));
            }
            Some(_) => {}
        }
    }
    lock(&inner.oauth).signed_in = body.user_id;
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_stats(State(inner): State<Arc<Inner>>) -> Response {
    Json(lock(&inner.stats).clone()).into_response()
}

async fn admin_reset_stats(State(inner): State<Arc<Inner>>) -> Response {
    *lock(&inner.stats) = crate::Stats::default();
    lock(&inner.log).clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_requests(State(inner): State<Arc<Inner>>) -> Response {
    Json(lock(&inner.log).clone()).into_response()
}

async fn admin_recorded(State(inner): State<Arc<Inner>>) -> Response {
    let recorded = lock(&inner.recorded);
    let commands: BTreeMap<String, &Vec<Value>> = recorded
        .commands
        .iter()
        .map(|(scope, list)| {
            let key = match scope {
                CommandScope::Global => "global".to_owned(),
                CommandScope::Guild(g) => format!("guild:{g}"),
            };
            (key, list)
        })
        .collect();
    Json(json!({"webhook_calls": recorded.webhook_calls, "commands": commands})).into_response()
}

#[derive(Deserialize, Default)]
struct TruthQuery {
    tz: Option<String>,
    since: Option<DateTime<Utc>>,
    excluded: Option<String>,
    opted_out: Option<String>,
}

fn id_list(raw: Option<&str>) -> Result<BTreeSet<u64>, String> {
    raw.unwrap_or_default()
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<u64>().map_err(|_| format!("not an id: {s}")))
        .collect()
}

/// Parses the options of a truth query (`tz`, `since`, `excluded`, `opted_out` as comma-separated ids).
fn truth_options(query: &TruthQuery) -> Result<TruthOptions, String> {
    let time_zone = match &query.tz {
        Some(tz) => tz.parse::<chrono_tz::Tz>().map_err(|_| format!("unknown time zone {tz}"))?,
        None => chrono_tz::Tz::UTC,
    };
    Ok(TruthOptions {
        time_zone,
        since: query.since,
        excluded_channels: id_list(query.excluded.as_deref())?,
        opted_out_users: id_list(query.opted_out.as_deref())?,
    })
}

async fn admin_truth(State(inner): State<Arc<Inner>>, Query(query): Query<TruthQuery>) -> Response {
    let options = match truth_options(&query) {
        Ok(options) => options,
        Err(error) => {
            return (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response();
        }
    };
    let records = ground_truth(&lock(&inner.world), &options);
    let mut out = Vec::new();
    if write_json_lines(&records, &mut out).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    ([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response()
}

async fn admin_world(State(inner): State<Arc<Inner>>) -> Response {
    let world = lock(&inner.world);
    let guilds: Vec<Value> = world
        .guilds
        .values()
        .map(|g| {
            let channels: Vec<Value> = world
                .channels
                .values()
                .filter(|c| c.guild_id == g.id)
                .map(|c| {
                    json!({
                        "id": c.id.to_string(), "type": c.kind, "name": c.name,
                        "parent_id": c.parent_id.map(|p| p.to_string()), "readable": c.readable,
                        "messages": c.messages.len(),
                        "archived": c.thread.as_ref().map(|t| t.archived),
                    })
                })
                .collect();
            let members: Vec<Value> = g
                .members
                .iter()
                .filter_map(|m| world.users.get(m))
                .map(|u| {
                    let roles: Vec<String> = g.roles_of(u.id).iter().map(u64::to_string).collect();
                    json!({"id": u.id.to_string(), "username": u.username, "bot": u.bot,
                           "roles": roles})
                })
                .collect();
            let roles: Vec<Value> = g
                .roles
                .iter()
                .map(|r| {
                    json!({"id": r.id.to_string(), "name": r.name,
                           "permissions": r.permissions.to_string(), "position": r.position,
                           "managed": r.managed})
                })
                .collect();
            json!({"id": g.id.to_string(), "name": g.name, "owner_id": g.owner_id.map(|o| o.to_string()),
                   "channels": channels, "members": members,
                   "roles": roles,
                   "emojis": g.emojis.iter().map(|e| json!({"id": e.id.map(|i| i.to_string()), "name": e.name})).collect::<Vec<_>>(),
                   "webhooks": g.webhooks.iter().map(|w| json!({"id": w.id.to_string(), "name": w.name})).collect::<Vec<_>>()})
        })
        .collect();
    Json(json!({
        "application_id": world.application_id.to_string(),
        "bot_user_id": world.bot_user_id.to_string(),
        "now": world.now,
        "clock": inner.clock(),
        "message_count": world.message_count(),
        "guilds": guilds,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reset_after_is_rounded_up() {
        assert_eq!(seconds(Duration::from_micros(1_500)), "0.002");
        assert_eq!(seconds(Duration::from_millis(5_000)), "5.000");
        assert!((seconds_f64(Duration::from_micros(200_001)) - 0.201).abs() < 1e-9);
    }

    #[test]
    fn truth_query_parses() {
        let options = truth_options(&TruthQuery {
            tz: Some("Europe/Paris".into()),
            since: None,
            excluded: Some("1, 2".into()),
            opted_out: None,
        })
        .unwrap();
        assert_eq!(options.time_zone, chrono_tz::Europe::Paris);
        assert_eq!(options.excluded_channels, BTreeSet::from([1, 2]));
        assert!(
            truth_options(&TruthQuery { tz: Some("Mars/Olympus".into()), ..TruthQuery::default() })
                .is_err()
        );
    }
}
