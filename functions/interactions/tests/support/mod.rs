//! Shared by the command tests: a seeded store in moto, signed interaction requests built from scratch,
//! the endpoint with the engagement commands, and an in-process followup invoker.

#![allow(dead_code)] // each test binary uses a different part

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use ed25519_dalek::SigningKey;
use engagement_commands::job::InvokeFuture;
use engagement_commands::{FollowupInvoker, FollowupJob, InvokeError};
use engagement_domain::{
    BatchBuilder, ChannelAccess, ChannelId, Counts, Day, DayRange, GuildAccess, GuildId,
    GuildTimeZone, MessageId, Overwrite, OverwriteTarget, RoleId, UserId,
};
use engagement_store::{CompactionPolicy, CounterStore, TableCreation};
use engagement_testkit::{events, signing};
use followup::{Followup, FollowupError, Outcome};
use interactions::{App, EndpointSettings, Services, engagement_registry};
use lambda_http::http::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// When the requests are signed and answered: 2025-11-28T08:53:20Z.
pub const NOW: u64 = 1_764_320_000;
/// The guild of every request.
pub const GUILD: u64 = 1_300_000_000_000_000_200;
/// The member who runs the commands (an admin unless a test says otherwise).
pub const ADMIN: u64 = 1_300_000_000_000_000_700;
/// Other members.
pub const ALICE: u64 = 1_300_000_000_000_000_701;
/// Another member.
pub const BOB: u64 = 1_300_000_000_000_000_702;
/// A member with only old activity.
pub const CAROL: u64 = 1_300_000_000_000_000_703;
/// `#general`, where commands are run; in category [`TEXT`].
pub const GENERAL: u64 = 1_300_000_000_000_000_300;
/// `#random`, in category [`TEXT`].
pub const RANDOM: u64 = 1_300_000_000_000_000_301;
/// `#off-topic`, in no category.
pub const OFF_TOPIC: u64 = 1_300_000_000_000_000_302;
/// The category "Text".
pub const TEXT: u64 = 1_300_000_000_000_000_350;
/// Discord's application id in requests that do not go through the fake.
pub const APP: u64 = 1_300_000_000_000_000_001;
/// The interaction token of the requests.
pub const TOKEN: &str = "aW50ZXJhY3Rpb246dGVzdA-interaction-token";
/// Every permission (an administrator).
pub const ALL_PERMISSIONS: &str = "2251799813685247";
/// SEND_MESSAGES | VIEW_CHANNEL | READ_MESSAGE_HISTORY: an ordinary member (no MANAGE_GUILD, no ADMINISTRATOR).
pub const MEMBER_PERMISSIONS: &str = "68608";

/// A `SystemTime` `secs` after the epoch.
pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A day.
pub fn day(s: &str) -> Day {
    s.parse().unwrap_or(Day::from_ordinal(0))
}

/// One seeded counter.
#[derive(Clone, Copy, Debug)]
pub struct Seed {
    /// Day.
    pub day: &'static str,
    /// Counting channel.
    pub channel: u64,
    /// Member.
    pub user: u64,
    /// Messages, reactions given, reactions received.
    pub counts: (i64, i64, i64),
}

const fn seed(day: &'static str, channel: u64, user: u64, counts: (i64, i64, i64)) -> Seed {
    Seed { day, channel, user, counts }
}

/// The seeded activity: the last 7 days (2025-11-22..28), the 7 before (for trends), a day this year and a
/// day two years ago (all time only).
pub const SEEDS: [Seed; 16] = [
    // Two years ago: only in all time.
    seed("2023-11-01", OFF_TOPIC, CAROL, (40, 0, 3)),
    // This year, before the last 30 days.
    seed("2025-06-01", GENERAL, ALICE, (30, 2, 1)),
    seed("2025-06-01", RANDOM, CAROL, (12, 1, 0)),
    // The previous 7 days (2025-11-15..21).
    seed("2025-11-15", GENERAL, ADMIN, (4, 1, 0)),
    seed("2025-11-18", GENERAL, ALICE, (6, 0, 2)),
    seed("2025-11-20", RANDOM, BOB, (3, 0, 0)),
    // The last 7 days (2025-11-22..28).
    seed("2025-11-22", GENERAL, ADMIN, (5, 2, 1)),
    seed("2025-11-23", GENERAL, ALICE, (9, 0, 4)),
    seed("2025-11-24", RANDOM, ADMIN, (2, 1, 0)),
    seed("2025-11-24", GENERAL, BOB, (7, 3, 2)),
    seed("2025-11-25", OFF_TOPIC, ALICE, (3, 0, 0)),
    seed("2025-11-26", GENERAL, ADMIN, (1, 0, 0)),
    seed("2025-11-26", RANDOM, BOB, (4, 0, 1)),
    seed("2025-11-27", GENERAL, ALICE, (2, 5, 0)),
    seed("2025-11-28", OFF_TOPIC, BOB, (0, 2, 0)),
    seed("2025-11-28", GENERAL, ADMIN, (3, 0, 2)),
];

/// The category of a seeded channel.
pub const fn category_of(channel: u64) -> Option<u64> {
    if channel == GENERAL || channel == RANDOM { Some(TEXT) } else { None }
}

/// The local hour of a seed's messages (all in one hour).
pub const fn hour_of(s: &Seed) -> u8 {
    ((s.user + s.channel) % 24) as u8
}

/// Sums the seeds that pass `keep`: (messages, reactions given, reactions received).
pub fn sum(keep: impl Fn(&Seed) -> bool) -> (i64, i64, i64) {
    SEEDS
        .iter()
        .filter(|s| keep(s))
        .fold((0, 0, 0), |(m, g, r), s| (m + s.counts.0, g + s.counts.1, r + s.counts.2))
}

/// Whether a seed's day is in `first..=last`.
pub fn between(s: &Seed, first: &str, last: &str) -> bool {
    s.day >= first && s.day <= last
}

/// A fresh table in moto, with [`SEEDS`] committed: the older half folded into summaries, the recent half
/// still waiting in the log, so reads combine both.
pub async fn seeded_store(prefix: &str) -> anyhow::Result<CounterStore> {
    let store = empty_store(prefix).await?;
    let guild = GuildId(GUILD);
    let mut view = store.load_sync_view(guild, MessageId(0)).await?;
    for (i, part) in [&SEEDS[..6], &SEEDS[6..]].into_iter().enumerate() {
        let mut batch = BatchBuilder::new();
        for s in part {
            let (messages, reactions_given, reactions_received) = s.counts;
            batch.add(
                day(s.day),
                ChannelId(s.channel),
                UserId(s.user),
                Counts { messages, reactions_given, reactions_received },
            );
            batch.add_hour(day(s.day), hour_of(s), ChannelId(s.channel), messages);
            batch.set_category(ChannelId(s.channel), category_of(s.channel).map(ChannelId));
        }
        let created = u64::try_from(i).unwrap_or(0) * 1_000 + 1;
        store.commit(&mut view, batch.build(created)).await?;
        if i == 0 {
            store.compact(guild, CompactionPolicy::ALWAYS, 2_000).await?;
        }
    }
    store.put_guild_access(guild, &access(&[]), 0).await?;
    Ok(store)
}

/// The `@everyone` permissions of the seeded guild: view, send, read history.
pub const EVERYONE_PERMISSIONS: u64 = 68_608;
/// A staff role.
pub const STAFF: u64 = 1_300_000_000_000_000_800;

/// The seeded guild's channel permissions as the sync stores them: every channel open to `@everyone`,
/// except those in `staff_only` (`@everyone` denied VIEW_CHANNEL, [`STAFF`] allowed).
pub fn access(staff_only: &[u64]) -> GuildAccess {
    let guild = GuildId(GUILD);
    let private = |channel: u64| {
        if !staff_only.contains(&channel) {
            return Vec::new();
        }
        let view = engagement_domain::visibility::VIEW_CHANNEL;
        vec![
            Overwrite {
                target: OverwriteTarget::Role(RoleId::everyone(guild)),
                allow: 0,
                deny: view,
            },
            Overwrite { target: OverwriteTarget::Role(RoleId(STAFF)), allow: view, deny: 0 },
        ]
    };
    GuildAccess {
        guild,
        owner: None,
        roles: [(RoleId::everyone(guild), EVERYONE_PERMISSIONS), (RoleId(STAFF), 0)].into(),
        channels: [GENERAL, RANDOM, OFF_TOPIC, TEXT]
            .into_iter()
            .map(|c| (ChannelId(c), ChannelAccess { parent: None, overwrites: private(c) }))
            .collect(),
    }
}

/// A fresh, empty table in moto.
pub async fn empty_store(prefix: &str) -> anyhow::Result<CounterStore> {
    let (client, table) = engagement_testkit::dynamo::client_and_table_name(prefix).await?;
    let store = CounterStore::new(client, table);
    anyhow::ensure!(store.create_table().await? == TableCreation::Created);
    Ok(store)
}

/// A store whose table does not exist: every call fails.
pub async fn broken_store() -> anyhow::Result<CounterStore> {
    let (client, table) = engagement_testkit::dynamo::client_and_table_name("missing").await?;
    Ok(CounterStore::new(client, table))
}

/// Hands jobs to a followup handler running in this process (as a spawned task, like an asynchronous
/// invocation), or only records them; can also refuse, like a Lambda that cannot be invoked.
#[derive(Default)]
pub struct InProcessInvoker {
    followup: Option<Followup>,
    refuse: bool,
    jobs: Mutex<Vec<FollowupJob>>,
    running: Mutex<Vec<JoinHandle<Result<Outcome, FollowupError>>>>,
}

impl InProcessInvoker {
    /// Runs every job with `followup`.
    pub fn running(followup: Followup) -> Self {
        Self { followup: Some(followup), ..Self::default() }
    }

    /// Records jobs without running them.
    pub fn recording() -> Self {
        Self::default()
    }

    /// Refuses every job.
    pub fn refusing() -> Self {
        Self { refuse: true, ..Self::default() }
    }

    /// The jobs handed over so far.
    pub fn jobs(&self) -> Vec<FollowupJob> {
        self.jobs.lock().map(|j| j.clone()).unwrap_or_default()
    }

    /// Waits for every running job; their outcomes in order.
    pub async fn finish(&self) -> anyhow::Result<Vec<Result<Outcome, FollowupError>>> {
        let handles: Vec<_> =
            self.running.lock().map(|mut r| r.drain(..).collect()).unwrap_or_default();
        let mut outcomes = Vec::new();
        for handle in handles {
            outcomes.push(handle.await.context("the followup task panicked")?);
        }
        Ok(outcomes)
    }
}

impl FollowupInvoker for InProcessInvoker {
    fn invoke<'a>(&'a self, job: &'a FollowupJob) -> InvokeFuture<'a> {
        Box::pin(async move {
            if self.refuse {
                return Err(InvokeError::new("ResourceNotFoundException (test)"));
            }
            if let Ok(mut jobs) = self.jobs.lock() {
                jobs.push(job.clone());
            }
            if let Some(followup) = &self.followup {
                let (followup, job) = (followup.clone(), job.clone());
                // A second later than the request, like an asynchronous invocation.
                let task = tokio::spawn(async move { followup.handle(&job, at(NOW + 1)).await });
                if let Ok(mut running) = self.running.lock() {
                    running.push(task);
                }
            }
            Ok(())
        })
    }
}

/// The endpoint with every engagement command over `store`, verifying requests against `key`.
pub fn app(
    key: &SigningKey,
    store: CounterStore,
    invoker: Arc<InProcessInvoker>,
) -> anyhow::Result<App> {
    let services = Services::new(store, invoker, GuildTimeZone::UTC);
    Ok(App::new(EndpointSettings::new(key.verifying_key()), engagement_registry(services)?))
}

/// What a test sees of a response.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// The JSON body.
    pub json: Value,
}

impl Answer {
    /// `data.content`.
    pub fn content(&self) -> &str {
        self.json["data"]["content"].as_str().unwrap_or_default()
    }

    /// The first embed.
    pub fn embed(&self) -> &Value {
        &self.json["data"]["embeds"][0]
    }

    /// The value of the first embed's field called `name`.
    pub fn field(&self, name: &str) -> String {
        field(self.embed(), name)
    }

    /// Whether the reply is an ephemeral message (type 4, flag 64).
    pub fn is_ephemeral_message(&self) -> bool {
        self.json["type"] == json!(4) && self.json["data"]["flags"] == json!(64)
    }

    /// Whether the reply is a public message (type 4, no flags).
    pub fn is_public_message(&self) -> bool {
        self.json["type"] == json!(4) && self.json["data"].get("flags").is_none()
    }
}

/// The value of the field `name` of an embed (JSON).
pub fn field(embed: &Value, name: &str) -> String {
    embed["fields"]
        .as_array()
        .and_then(|fields| fields.iter().find(|f| f["name"] == json!(name)))
        .and_then(|f| f["value"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// An interaction body as Discord sends it for a slash command run by `user` (with `permissions`) in
/// `#general` of the guild.
pub fn interaction(application: u64, user: u64, permissions: &str, data: Value) -> Value {
    json!({
        "app_permissions": "2248473465835073",
        "application_id": application.to_string(),
        "attachment_size_limit": 10_485_760,
        "authorizing_integration_owners": {"0": GUILD.to_string()},
        "channel": {
            "flags": 0, "guild_id": GUILD.to_string(), "id": GENERAL.to_string(),
            "last_message_id": "1300000000000000400", "name": "general", "nsfw": false,
            "parent_id": TEXT.to_string(), "permissions": permissions, "position": 0,
            "rate_limit_per_user": 0, "topic": null, "type": 0
        },
        "channel_id": GENERAL.to_string(),
        "context": 0,
        "data": data,
        "entitlement_sku_ids": [],
        "entitlements": [],
        "guild": {"features": [], "id": GUILD.to_string(), "locale": "en-US"},
        "guild_id": GUILD.to_string(),
        "guild_locale": "en-US",
        "id": "1300000000000000600",
        "locale": "en-GB",
        "member": {
            "avatar": null, "banner": null, "communication_disabled_until": null, "deaf": false,
            "flags": 0, "joined_at": "2024-10-01T12:00:00.000000+00:00", "mute": false, "nick": null,
            "pending": false, "permissions": permissions, "premium_since": null, "roles": [],
            "user": user_json(user)
        },
        "token": TOKEN,
        "type": 2,
        "version": 1
    })
}

/// The same command run in a direct message with the bot.
pub fn direct_message(application: u64, user: u64, data: Value) -> Value {
    let mut body = interaction(application, user, ALL_PERMISSIONS, data);
    if let Some(object) = body.as_object_mut() {
        for key in ["guild", "guild_id", "guild_locale", "member"] {
            object.remove(key);
        }
        object.insert("user".to_owned(), user_json(user));
        object.insert("context".to_owned(), json!(1));
        object.insert(
            "channel".to_owned(),
            json!({"id": "1300000000000000999", "type": 1, "flags": 0}),
        );
        object.insert("channel_id".to_owned(), json!("1300000000000000999"));
    }
    body
}

fn user_json(id: u64) -> Value {
    json!({
        "avatar": null, "avatar_decoration_data": null, "clan": null, "discriminator": "0",
        "global_name": null, "id": id.to_string(), "primary_guild": null, "public_flags": 0,
        "username": format!("member{}", id % 1000)
    })
}

/// Command data: `name` with `options` (and the `resolved` data Discord adds for users and channels).
pub fn command(name: &str, options: Vec<Value>) -> Value {
    command_data(name, &options, json!(options))
}

/// Command data of `/name sub` (a subcommand without a group) with `options`.
pub fn subcommand(name: &str, sub: &str, options: Vec<Value>) -> Value {
    let inner = json!([{"name": sub, "type": 1, "options": options}]);
    command_data(name, &options, inner)
}

/// Command data of `/name group sub` (a subcommand in a group) with `options`.
pub fn grouped_subcommand(name: &str, group: &str, sub: &str, options: Vec<Value>) -> Value {
    let inner = json!([{"name": group, "type": 2, "options": [{"name": sub, "type": 1, "options": options}]}]);
    command_data(name, &options, inner)
}

/// The data of command `name` whose top-level options are `top`, resolving the users and channels of the
/// innermost `options`.
fn command_data(name: &str, options: &[Value], top: Value) -> Value {
    let mut resolved = json!({});
    collect_resolved(options, &mut resolved);
    let mut data = json!({"id": "1300000000000000500", "name": name, "type": 1, "options": top});
    if resolved.as_object().is_some_and(|r| !r.is_empty()) {
        data["resolved"] = resolved;
    }
    data
}

fn collect_resolved(options: &[Value], resolved: &mut Value) {
    for option in options {
        if let Some(extra) = option.get("_resolved") {
            for (kind, entries) in extra.as_object().into_iter().flatten() {
                for (id, entry) in entries.as_object().into_iter().flatten() {
                    resolved[kind.as_str()][id.as_str()] = entry.clone();
                }
            }
        }
    }
}

/// A string option.
pub fn string(name: &str, value: &str) -> Value {
    json!({"name": name, "type": 3, "value": value})
}

/// A user option (resolved as Discord does).
pub fn user(name: &str, id: u64) -> Value {
    json!({"name": name, "type": 6, "value": id.to_string(),
           "_resolved": {"users": {id.to_string(): user_json(id)}}})
}

/// A channel option of Discord channel type `kind` (0 text, 4 category), resolved.
pub fn channel(name: &str, id: u64, kind: u8) -> Value {
    let parent = if kind == 4 {
        Value::Null
    } else {
        category_of(id).map_or(Value::Null, |c| json!(c.to_string()))
    };
    json!({"name": name, "type": 7, "value": id.to_string(),
    "_resolved": {"channels": {id.to_string(): {
        "id": id.to_string(), "type": kind, "name": format!("channel{}", id % 1000),
        "permissions": ALL_PERMISSIONS, "parent_id": parent
    }}}})
}

/// An integer option.
pub fn integer(name: &str, value: i64) -> Value {
    json!({"name": name, "type": 4, "value": value})
}

/// A role option, resolved as Discord does (`managed` for integration roles).
pub fn role(name: &str, id: u64, position: i64, managed: bool) -> Value {
    json!({"name": name, "type": 8, "value": id.to_string(),
    "_resolved": {"roles": {id.to_string(): {
        "id": id.to_string(), "name": format!("role{}", id % 1000), "color": 0, "hoist": false,
        "icon": null, "unicode_emoji": null, "position": position, "permissions": "0",
        "managed": managed, "mentionable": false, "flags": 0
    }}}})
}

/// Signs `body` at [`NOW`] with `key`, sends it through `app` at [`NOW`].
pub async fn send(app: &App, key: &SigningKey, body: &Value) -> anyhow::Result<Answer> {
    let text = strip_markers(body).to_string();
    let mut event = events::function_url_event(text.as_bytes(), false);
    events::sign_event(&mut event, key, NOW)?;
    let request = lambda_http::request::from_str(&event.to_string())?;
    let response = app.handle(request, at(NOW)).await;
    Ok(Answer {
        status: response.status(),
        json: serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null),
    })
}

/// Removes the `_resolved` helpers from options (Discord puts resolved data beside the options).
fn strip_markers(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| k.as_str() != "_resolved")
                .map(|(k, v)| (k.clone(), strip_markers(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_markers).collect()),
        other => other.clone(),
    }
}

/// A fresh signing key.
pub fn key() -> SigningKey {
    signing::generate_signing_key()
}

/// The days of a range, for tests that need a [`DayRange`].
pub fn range(first: &str, last: &str) -> DayRange {
    DayRange { first: day(first), last: day(last) }
}
