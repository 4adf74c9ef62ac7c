//! The fake over real HTTP, with a plain HTTP client: Discord's behaviour where clients go wrong.

use std::time::Duration;

use fake_discord::{
    FakeConfig, FakeDiscord, InjectedResponse, Injection, Limit, RateLimits, RecordedRoleChange,
    RoleAction, RoleUpdate, RouteClass, Scope, WorldSize,
    world::{kind, seeded_role},
};
use reqwest::{Client, StatusCode};
use serde_json::Value;

/// A plain HTTP client. reqwest is built without a TLS crypto provider (see the workspace manifest), so
/// one is installed first; installing twice is harmless.
fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new()
}

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn start(limits: RateLimits) -> std::io::Result<FakeDiscord> {
    FakeDiscord::start(FakeConfig {
        seed: 42,
        size: WorldSize::Small,
        limits,
        ..FakeConfig::default()
    })
    .await
}

fn busiest_text_channel(fake: &FakeDiscord) -> u64 {
    fake.with_world(fake_discord::World::busiest_text_channel)
}

async fn get(
    fake: &FakeDiscord,
    path: &str,
) -> Result<(StatusCode, reqwest::header::HeaderMap, Value), reqwest::Error> {
    let response = client()
        .get(format!("{}/{path}", fake.base_url()))
        .header("Authorization", format!("Bot {}", fake.token()))
        .send()
        .await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json::<Value>().await?;
    Ok((status, headers, body))
}

fn ids(page: &Value) -> Vec<u64> {
    page.as_array().into_iter().flatten().filter_map(|m| m["id"].as_str()?.parse().ok()).collect()
}

#[tokio::test]
async fn message_pages_are_newest_first_even_with_after() -> TestResult {
    let fake = start(RateLimits::unlimited()).await?;
    let channel = busiest_text_channel(&fake);
    let all: Vec<u64> =
        fake.with_world(|w| w.channels[&channel].messages.keys().copied().collect());
    assert!(all.len() > 10);
    let (status, _, page) =
        get(&fake, &format!("channels/{channel}/messages?after={}&limit=5", all[2])).await?;
    assert_eq!(status, StatusCode::OK);
    // The 5 oldest messages after all[2], sorted newest first.
    let expected: Vec<u64> = all[3..8].iter().rev().copied().collect();
    assert_eq!(ids(&page), expected);
    let (_, _, page) =
        get(&fake, &format!("channels/{channel}/messages?before={}&limit=3", all[5])).await?;
    assert_eq!(ids(&page), vec![all[4], all[3], all[2]]);
    let (_, _, page) = get(&fake, &format!("channels/{channel}/messages")).await?;
    assert_eq!(ids(&page).len(), all.len().min(50), "default limit is 50");
    assert_eq!(ids(&page).first(), all.last());
    Ok(())
}

#[tokio::test]
async fn bad_queries_get_discord_style_400s() -> TestResult {
    let fake = start(RateLimits::unlimited()).await?;
    let channel = busiest_text_channel(&fake);
    for query in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "after=1&before=2",
        "around=1&after=3",
        "after=notasnowflake",
    ] {
        let (status, _, body) = get(&fake, &format!("channels/{channel}/messages?{query}")).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["code"], 50035, "{query}");
        assert_eq!(body["message"], "Invalid Form Body", "{query}");
    }
    Ok(())
}

#[tokio::test]
async fn auth_access_and_unknown_channels() -> TestResult {
    let fake = start(RateLimits::unlimited()).await?;
    let channel = busiest_text_channel(&fake);
    let response = client()
        .get(format!("{}/channels/{channel}/messages", fake.base_url()))
        .header("Authorization", "Bot wrong")
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await?;
    assert_eq!(body, serde_json::json!({"message": "401: Unauthorized", "code": 0}));
    let unreadable =
        fake.with_world(|w| w.channels.values().find(|c| !c.readable).map_or(0, |c| c.id));
    let (status, _, body) = get(&fake, &format!("channels/{unreadable}/messages")).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, serde_json::json!({"message": "Missing Access", "code": 50001}));
    let (status, _, body) = get(&fake, "channels/12345/messages").await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], 10003);
    let stats = fake.stats();
    assert_eq!(stats.invalid_requests, 2, "401 and 403 are invalid, 404 is not");
    assert_eq!((stats.unauthorized, stats.forbidden), (1, 1));
    Ok(())
}

#[tokio::test]
async fn route_buckets_and_the_global_limit_send_discords_headers() -> TestResult {
    let fake = start(RateLimits {
        global: Some(Limit::per_ms(4, 60_000)),
        routes: [(RouteClass::Messages, Limit::per_ms(2, 60_000))].into_iter().collect(),
    })
    .await?;
    let channel = busiest_text_channel(&fake);
    let (status, headers, _) = get(&fake, &format!("channels/{channel}/messages?limit=1")).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-ratelimit-limit"], "2");
    assert_eq!(headers["x-ratelimit-remaining"], "1");
    assert_eq!(headers["x-ratelimit-bucket"], RouteClass::Messages.bucket_hash());
    let reset_after: f64 = headers["x-ratelimit-reset-after"].to_str()?.parse()?;
    assert!(reset_after > 59.0 && reset_after <= 60.0, "{reset_after}");
    assert!(headers.contains_key("x-ratelimit-reset"));
    get(&fake, &format!("channels/{channel}/messages?limit=1")).await?;
    let (status, headers, body) =
        get(&fake, &format!("channels/{channel}/messages?limit=1")).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["x-ratelimit-scope"], "user");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    assert!(!headers.contains_key("x-ratelimit-global"));
    assert_eq!(body["message"], "You are being rate limited.");
    assert_eq!(body["global"], false);
    assert!(body["retry_after"].as_f64().is_some_and(|r| r > 59.0));
    // Another channel has its own bucket, but the global window (4) fills up.
    let other = fake.with_world(|w| {
        w.channels
            .values()
            .find(|c| c.kind == kind::TEXT && c.readable && c.id != channel)
            .map_or(0, |c| c.id)
    });
    let (status, _, _) = get(&fake, &format!("channels/{other}/messages?limit=1")).await?;
    assert_eq!(status, StatusCode::OK);
    let guild = fake.with_world(|w| w.guilds.keys().next().copied().unwrap_or(0));
    let (status, _, _) = get(&fake, &format!("guilds/{guild}/channels")).await?;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, body) = get(&fake, &format!("guilds/{guild}/channels")).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["x-ratelimit-scope"], "global");
    assert_eq!(headers["x-ratelimit-global"], "true");
    assert!(headers.contains_key("retry-after"));
    assert_eq!(body["global"], true);
    let stats = fake.stats();
    assert_eq!(stats.rate_limited_with(Scope::User), 1);
    assert_eq!(stats.rate_limited_with(Scope::Global), 1);
    assert_eq!(stats.invalid_requests, 2);
    Ok(())
}

#[tokio::test]
async fn injected_shared_429s_are_not_invalid() -> TestResult {
    let fake = start(RateLimits::fast()).await?;
    fake.inject(Injection {
        route: Some(RouteClass::GuildChannels),
        response: InjectedResponse::RateLimited {
            scope: Scope::Shared,
            retry_after: Duration::from_millis(300),
        },
        times: 1,
    });
    let guild = fake.with_world(|w| w.guilds.keys().next().copied().unwrap_or(0));
    let (status, headers, body) = get(&fake, &format!("guilds/{guild}/channels")).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["x-ratelimit-scope"], "shared");
    assert!((body["retry_after"].as_f64().unwrap_or_default() - 0.3).abs() < 1e-9);
    let (status, _, _) = get(&fake, &format!("guilds/{guild}/channels")).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fake.stats().invalid_requests, 0);
    assert_eq!(fake.stats().rate_limited_with(Scope::Shared), 1);
    Ok(())
}

#[tokio::test]
async fn json_is_what_strict_twilight_types_accept() -> TestResult {
    let fake = start(RateLimits::unlimited()).await?;
    let guild = fake.with_world(|w| w.guilds.keys().next().copied().unwrap_or(0));
    let (_, _, guilds) = get(&fake, "users/@me/guilds").await?;
    let guilds: Vec<twilight_model::user::CurrentUserGuild> = serde_json::from_value(guilds)?;
    assert_eq!(guilds.len(), 1);
    let (_, _, channels) = get(&fake, &format!("guilds/{guild}/channels")).await?;
    let channels: Vec<twilight_model::channel::Channel> = serde_json::from_value(channels)?;
    assert!(channels.iter().all(|c| !c.kind.is_thread()), "guild channel listing has no threads");
    let (_, _, active) = get(&fake, &format!("guilds/{guild}/threads/active")).await?;
    let threads: Vec<twilight_model::channel::Channel> =
        serde_json::from_value(active["threads"].clone())?;
    assert!(
        threads
            .iter()
            .all(|t| t.kind.is_thread() && t.thread_metadata.as_ref().is_some_and(|m| !m.archived))
    );
    for channel in
        channels.iter().filter(|c| c.kind == twilight_model::channel::ChannelType::GuildText)
    {
        let (status, _, page) =
            get(&fake, &format!("channels/{}/messages?limit=100", channel.id)).await?;
        if status == StatusCode::OK {
            let messages: Vec<twilight_model::channel::Message> = serde_json::from_value(page)?;
            assert!(messages.windows(2).all(|w| w[0].id > w[1].id));
        }
    }
    Ok(())
}

#[tokio::test]
async fn archived_threads_come_newest_archive_first_with_has_more() -> TestResult {
    let fake = start(RateLimits::unlimited()).await?;
    let channel = busiest_text_channel(&fake);
    let author = fake.with_world(|w| w.users.values().find(|u| !u.bot).map_or(0, |u| u.id));
    let mut created = Vec::new();
    for n in 0..3 {
        let thread = fake.create_thread(channel, &format!("t{n}"), author, None)?;
        fake.advance_clock(chrono::Duration::seconds(10));
        fake.set_archived(thread, true)?;
        created.push(thread);
    }
    let (_, _, first) =
        get(&fake, &format!("channels/{channel}/threads/archived/public?limit=2")).await?;
    assert_eq!(first["has_more"], true);
    let page: Vec<u64> = ids(&first["threads"]);
    assert_eq!(page, vec![created[2], created[1]]);
    let before = first["threads"][1]["thread_metadata"]["archive_timestamp"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (_, _, second) = get(
        &fake,
        &format!(
            "channels/{channel}/threads/archived/public?limit=2&before={}",
            before.replace('+', "%2B")
        ),
    )
    .await?;
    assert_eq!(ids(&second["threads"]).first(), Some(&created[0]));
    Ok(())
}

async fn admin(
    fake: &FakeDiscord,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<(StatusCode, String), reqwest::Error> {
    let mut request = client().request(method, format!("http://{}/_fake/{path}", fake.addr()));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    Ok((response.status(), response.text().await?))
}

#[tokio::test]
async fn the_admin_api_mutates_the_world_and_reports() -> TestResult {
    let fake = start(RateLimits::fast()).await?;
    // Every call gets a deadline, so a lock-ordering bug fails the test instead of hanging it.
    let deadline = Duration::from_secs(10);
    let (status, world) =
        tokio::time::timeout(deadline, admin(&fake, reqwest::Method::GET, "world", None)).await??;
    assert_eq!(status, StatusCode::OK);
    let world: Value = serde_json::from_str(&world)?;
    let guild = world["guilds"][0]["id"].as_str().ok_or("no guild")?.to_owned();
    let user = world["guilds"][0]["members"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["bot"] == false))
        .and_then(|m| m["id"].as_str())
        .ok_or("no member")?
        .to_owned();
    let post = |path: &'static str, body: Value| {
        let fake = &fake;
        async move {
            tokio::time::timeout(deadline, admin(fake, reqwest::Method::POST, path, Some(body)))
                .await
        }
    };
    let (status, channel) =
        post("channels", serde_json::json!({"guild_id": guild, "type": 0, "name": "new-one"}))
            .await??;
    assert_eq!(status, StatusCode::OK, "{channel}");
    let channel: u64 =
        serde_json::from_str::<Value>(&channel)?["id"].as_str().ok_or("no id")?.parse()?;
    let (status, message) = post(
        "messages",
        serde_json::json!({"channel_id": channel.to_string(), "author_id": user, "content": "hi"}),
    )
    .await??;
    assert_eq!(status, StatusCode::OK, "{message}");
    let message: u64 =
        serde_json::from_str::<Value>(&message)?["id"].as_str().ok_or("no id")?.parse()?;
    let (status, body) = post(
        "reactions",
        serde_json::json!({"channel_id": channel, "message_id": message.to_string(), "user_id": user, "emoji": {"name": "🦀"}, "burst": true}),
    )
    .await??;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, thread) = post("threads", serde_json::json!({"parent_id": channel, "name": "t", "author_id": user, "from_message_id": message})).await??;
    assert_eq!(status, StatusCode::OK, "{thread}");
    let thread: u64 =
        serde_json::from_str::<Value>(&thread)?["id"].as_str().ok_or("no id")?.parse()?;
    assert_eq!(thread, message, "a thread started from a message has the message's id");
    let (status, _) = tokio::time::timeout(
        deadline,
        admin(&fake, reqwest::Method::POST, &format!("threads/{thread}/archive"), None),
    )
    .await??;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(fake.with_world(|w| w.channels[&thread].thread.as_ref().is_some_and(|t| t.archived)));
    let (status, _) =
        post("members", serde_json::json!({"guild_id": guild, "bot": true})).await??;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post("clock/advance", serde_json::json!({"seconds": 86_400})).await??;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = post("messages", serde_json::json!({"channel_id": channel, "author_id": user, "timestamp": "2020-01-01T00:00:00Z"})).await??;
    assert_eq!(status, StatusCode::BAD_REQUEST, "backdated messages are refused: {body}");
    let (status, truth) = tokio::time::timeout(
        deadline,
        admin(
            &fake,
            reqwest::Method::GET,
            &format!("truth?tz=Europe/Paris&excluded={channel}"),
            None,
        ),
    )
    .await??;
    assert_eq!(status, StatusCode::OK);
    assert!(!truth.is_empty() && !truth.contains(&format!("\"channel_id\":\"{channel}\"")));
    let (_, truth) =
        tokio::time::timeout(deadline, admin(&fake, reqwest::Method::GET, "truth", None)).await??;
    assert!(truth.contains(&format!("\"channel_id\":\"{channel}\"")), "the new channel counts");
    let (status, _) = post("channels/access", serde_json::json!({})).await??;
    assert_eq!(status, StatusCode::NOT_FOUND, "unknown admin path");
    let (status, _) = tokio::time::timeout(
        deadline,
        admin(
            &fake,
            reqwest::Method::POST,
            &format!("channels/{channel}/access"),
            Some(serde_json::json!({"readable": false})),
        ),
    )
    .await??;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = get(&fake, &format!("channels/{channel}/messages")).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, stats) =
        tokio::time::timeout(deadline, admin(&fake, reqwest::Method::GET, "stats", None)).await??;
    assert_eq!(status, StatusCode::OK);
    let stats: fake_discord::Stats = serde_json::from_str(&stats)?;
    assert_eq!((stats.requests, stats.forbidden), (1, 1));
    let (status, recorded) =
        tokio::time::timeout(deadline, admin(&fake, reqwest::Method::GET, "recorded", None))
            .await??;
    assert_eq!(status, StatusCode::OK);
    assert!(recorded.contains("webhook_calls"));
    Ok(())
}

/// The ids tests need in the first guild: (guild, bot user, a human member, the roles by name).
struct RoleSetup {
    guild: u64,
    bot: u64,
    member: u64,
    active: u64,
    regulars: u64,
    bot_role: u64,
    moderators: u64,
    booster: u64,
}

fn role_setup(fake: &FakeDiscord) -> Result<RoleSetup, Box<dyn std::error::Error>> {
    fake.with_world(|w| {
        let guild = w.guilds.values().next().ok_or("no guild")?;
        let role = |name: &str| guild.role_named(name).map(|r| r.id).ok_or(format!("no {name}"));
        Ok(RoleSetup {
            guild: guild.id,
            bot: w.bot_user_id,
            member: guild.members.iter().copied().find(|m| !w.is_bot(*m)).ok_or("no member")?,
            active: role(seeded_role::ACTIVE)?,
            regulars: role(seeded_role::REGULARS)?,
            bot_role: role(seeded_role::BOT)?,
            moderators: role(seeded_role::MODERATORS)?,
            booster: role(seeded_role::SERVER_BOOSTER)?,
        })
    })
}

/// `PUT` or `DELETE /guilds/{g}/members/{u}/roles/{r}` as Discord wants it (`Content-Length: 0`), with an
/// optional raw (already encoded) `X-Audit-Log-Reason`. The body is JSON, or `Null` for a 204.
async fn role_call(
    fake: &FakeDiscord,
    method: reqwest::Method,
    (guild, user, role): (u64, u64, u64),
    reason: Option<&str>,
) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
    let mut request = client()
        .request(method, format!("{}/guilds/{guild}/members/{user}/roles/{role}", fake.base_url()))
        .header("Authorization", format!("Bot {}", fake.token()))
        .header("Content-Length", "0");
    if let Some(reason) = reason {
        request = request.header("X-Audit-Log-Reason", reason);
    }
    let response = request.send().await?;
    let status = response.status();
    let text = response.text().await?;
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text)? };
    Ok((status, body))
}

#[tokio::test]
async fn generated_guilds_have_the_roles_the_bot_manages() -> TestResult {
    let fake = start(RateLimits::fast()).await?;
    let s = role_setup(&fake)?;
    let (status, _, roles) = get(&fake, &format!("guilds/{}/roles", s.guild)).await?;
    assert_eq!(status, StatusCode::OK);
    let roles: Vec<twilight_model::guild::Role> = serde_json::from_value(roles)?;
    assert_eq!(roles[0].id.get(), s.guild, "@everyone first");
    assert_eq!(roles[0].name, "@everyone");
    let by_name = |name: &str| roles.iter().find(|r| r.name == name).ok_or(format!("no {name}"));
    let bot_role = by_name(seeded_role::BOT)?;
    assert_eq!(bot_role.id.get(), s.bot_role);
    assert!(bot_role.permissions.contains(twilight_model::guild::Permissions::MANAGE_ROLES));
    assert!(by_name(seeded_role::MODERATORS)?.position > bot_role.position);
    for below in [seeded_role::ACTIVE, seeded_role::REGULARS, seeded_role::SERVER_BOOSTER] {
        assert!(by_name(below)?.position < bot_role.position, "{below}");
        assert!(by_name(below)?.position > 0, "{below}");
    }
    assert!(by_name(seeded_role::SERVER_BOOSTER)?.managed);
    assert!(!by_name(seeded_role::ACTIVE)?.managed);

    let (status, _, me) = get(&fake, "users/@me").await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (me["id"].as_str(), me["bot"].as_bool()),
        (Some(s.bot.to_string().as_str()), Some(true))
    );
    let (status, _, member) = get(&fake, &format!("guilds/{}/members/{}", s.guild, s.bot)).await?;
    assert_eq!(status, StatusCode::OK);
    let member: twilight_model::guild::Member = serde_json::from_value(member)?;
    assert_eq!(member.user.id.get(), s.bot);
    assert_eq!(member.roles.iter().map(|r| r.get()).collect::<Vec<_>>(), vec![s.bot_role]);
    let (_, _, member) = get(&fake, &format!("guilds/{}/members/{}", s.guild, s.member)).await?;
    assert_eq!(member["roles"], serde_json::json!([]), "humans start without roles");

    // The admin view shows the roles and who holds them.
    let (status, world) = admin(&fake, reqwest::Method::GET, "world", None).await?;
    assert_eq!(status, StatusCode::OK);
    let world: Value = serde_json::from_str(&world)?;
    let guild = &world["guilds"][0];
    assert_eq!(guild["roles"].as_array().map(Vec::len), Some(6));
    let bot = guild["members"]
        .as_array()
        .and_then(|m| {
            m.iter().find(|m| m["id"].as_str().and_then(|id| id.parse().ok()) == Some(s.bot))
        })
        .ok_or("the bot is listed")?;
    assert_eq!(bot["roles"], serde_json::json!([s.bot_role.to_string()]));
    Ok(())
}

#[tokio::test]
async fn role_changes_are_applied_recorded_and_refused_like_discord() -> TestResult {
    use reqwest::Method;
    // Unlimited: this test makes more role changes in a row than a guild's bucket allows.
    let fake = start(RateLimits::unlimited()).await?;
    let s = role_setup(&fake)?;
    let member = |role| (s.guild, s.member, role);
    // "Active: 12 messages — bravo" percent-encoded as UTF-8.
    let reason = "Active%3A%2012%20messages%20%E2%80%94%20bravo";
    let (status, body) = role_call(&fake, Method::PUT, member(s.active), Some(reason)).await?;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (_, _, got) = get(&fake, &format!("guilds/{}/members/{}", s.guild, s.member)).await?;
    assert_eq!(got["roles"], serde_json::json!([s.active.to_string()]));
    // Giving a held role and taking a missing one are 204 no-ops, recorded unchanged.
    let (status, _) = role_call(&fake, Method::PUT, member(s.active), None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) =
        role_call(&fake, Method::DELETE, member(s.active), Some("gone%20quiet")).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = role_call(&fake, Method::DELETE, member(s.regulars), None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(fake.with_world(|w| w.guilds[&s.guild].roles_of(s.member).is_empty()));

    // Refusals, none of them recorded.
    let expect = async |method: Method, target, reason, status: StatusCode, code: u64| {
        let (got, body) = role_call(&fake, method.clone(), target, reason).await?;
        assert_eq!((got, &body["code"]), (status, &serde_json::json!(code)), "{method} {target:?}");
        Ok::<_, Box<dyn std::error::Error>>(body)
    };
    let forbidden = StatusCode::FORBIDDEN;
    let body = expect(Method::PUT, member(s.moderators), None, forbidden, 50_013).await?;
    assert_eq!(body["message"], "Missing Permissions");
    expect(Method::PUT, member(s.bot_role), None, forbidden, 50_013).await?;
    expect(Method::PUT, member(s.booster), None, forbidden, 50_013).await?;
    expect(Method::DELETE, member(s.booster), None, forbidden, 50_013).await?;
    expect(Method::PUT, member(s.guild), None, forbidden, 50_013).await?;
    expect(Method::PUT, member(12_345), None, StatusCode::NOT_FOUND, 10_011).await?;
    expect(Method::PUT, (s.guild, 12_345, s.active), None, StatusCode::NOT_FOUND, 10_007).await?;
    expect(Method::PUT, (12_345, s.member, s.active), None, StatusCode::NOT_FOUND, 10_004).await?;
    let long = "%C3%A9".repeat(513);
    let body =
        expect(Method::PUT, member(s.active), Some(&long), StatusCode::BAD_REQUEST, 50_035).await?;
    assert_eq!(body["message"], "Invalid Form Body");
    let exactly = "%C3%A9".repeat(512);
    let (status, _) = role_call(&fake, Method::PUT, member(s.regulars), Some(&exactly)).await?;
    assert_eq!(status, StatusCode::NO_CONTENT, "512 characters (1,024 bytes) are accepted");
    assert_eq!(fake.stats().forbidden, 5);

    // Taking Manage Roles from the bot's role stops every change; Administrator alone allows them again.
    let (status, _) = admin(
        &fake,
        Method::POST,
        &format!("roles/{}", s.bot_role),
        Some(serde_json::json!({"permissions": "1024"})),
    )
    .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    expect(Method::PUT, member(s.active), None, forbidden, 50_013).await?;
    fake.update_role(
        s.bot_role,
        &RoleUpdate { permissions: Some(1 << 3), ..RoleUpdate::default() },
    )?;
    let (status, _) = role_call(&fake, Method::DELETE, member(s.regulars), None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // A member who left is unknown.
    let (status, _) = admin(
        &fake,
        Method::POST,
        "members/remove",
        Some(serde_json::json!({"guild_id": s.guild.to_string(), "user_id": s.member})),
    )
    .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, body) = get(&fake, &format!("guilds/{}/members/{}", s.guild, s.member)).await?;
    assert_eq!(
        (status, &body),
        (StatusCode::NOT_FOUND, &serde_json::json!({"message": "Unknown Member", "code": 10_007}))
    );
    expect(Method::PUT, member(s.active), None, StatusCode::NOT_FOUND, 10_007).await?;

    let (status, recorded) = admin(&fake, Method::GET, "role-changes", None).await?;
    assert_eq!(status, StatusCode::OK);
    let recorded: Vec<RecordedRoleChange> = serde_json::from_str(&recorded)?;
    assert_eq!(recorded, fake.role_changes());
    let summary: Vec<(u64, RoleAction, bool)> =
        recorded.iter().map(|c| (c.role_id, c.action, c.changed)).collect();
    assert_eq!(
        summary,
        vec![
            (s.active, RoleAction::Add, true),
            (s.active, RoleAction::Add, false),
            (s.active, RoleAction::Remove, true),
            (s.regulars, RoleAction::Remove, false),
            (s.regulars, RoleAction::Add, true),
            (s.regulars, RoleAction::Remove, true),
        ]
    );
    assert!(recorded.iter().all(|c| (c.guild_id, c.user_id) == (s.guild, s.member)));
    assert_eq!(recorded[0].reason.as_deref(), Some("Active: 12 messages — bravo"));
    assert_eq!(recorded[1].reason, None);
    assert_eq!(recorded[2].reason.as_deref(), Some("gone quiet"));
    assert_eq!(recorded[4].reason.as_ref().map(|r| r.chars().count()), Some(512));
    let (_, raw) = admin(&fake, Method::GET, "role-changes", None).await?;
    let raw: Value = serde_json::from_str(&raw)?;
    assert_eq!(raw[0]["action"], "add");
    assert_eq!(raw[0]["role_id"], s.active.to_string(), "ids are strings, as in the other answers");
    Ok(())
}

#[tokio::test]
async fn the_admin_api_creates_and_assigns_roles() -> TestResult {
    use reqwest::Method;
    let fake = start(RateLimits::unlimited()).await?;
    let s = role_setup(&fake)?;
    let (status, created) = admin(
        &fake,
        Method::POST,
        "roles",
        Some(
            serde_json::json!({"guild_id": s.guild.to_string(), "name": "Veterans", "position": 2}),
        ),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{created}");
    let veterans: u64 =
        serde_json::from_str::<Value>(&created)?["id"].as_str().ok_or("no id")?.parse()?;
    let (status, body) = admin(
        &fake,
        Method::POST,
        "member-roles",
        Some(serde_json::json!({"guild_id": s.guild, "user_id": s.member.to_string(),
                                "roles": [veterans.to_string(), s.booster]})),
    )
    .await?;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, _, member) = get(&fake, &format!("guilds/{}/members/{}", s.guild, s.member)).await?;
    let held: std::collections::BTreeSet<u64> =
        serde_json::from_value::<Vec<String>>(member["roles"].clone())?
            .iter()
            .map(|id| id.parse())
            .collect::<Result<_, _>>()?;
    assert_eq!(held, [veterans, s.booster].into());
    // A role given by an admin is taken by the API like any other.
    let (status, _) = role_call(&fake, Method::DELETE, (s.guild, s.member, veterans), None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(fake.with_world(|w| w.guilds[&s.guild].roles_of(s.member)), [s.booster].into());
    let (status, _) = admin(
        &fake,
        Method::POST,
        "member-roles",
        Some(serde_json::json!({"guild_id": s.guild, "user_id": s.member, "roles": [999]})),
    )
    .await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "unknown role");
    let (status, _) = admin(
        &fake,
        Method::POST,
        "member-roles",
        Some(serde_json::json!({"guild_id": s.guild, "user_id": 999, "roles": []})),
    )
    .await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "not a member");
    let (status, _) =
        admin(&fake, Method::POST, "roles/999", Some(serde_json::json!({"name": "nobody"})))
            .await?;
    assert_eq!(status, StatusCode::NOT_FOUND, "unknown role");
    Ok(())
}

#[tokio::test]
async fn a_bodiless_put_needs_a_content_length() -> TestResult {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fake = start(RateLimits::unlimited()).await?;
    let s = role_setup(&fake)?;
    let send = async |extra: &str| {
        let mut stream = tokio::net::TcpStream::connect(fake.addr()).await?;
        let request = format!(
            "PUT /api/v10/guilds/{}/members/{}/roles/{} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bot {}\r\n\
             {extra}Connection: close\r\n\r\n",
            s.guild,
            s.member,
            s.active,
            fake.addr(),
            fake.token()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = send("").await?;
    assert!(answer.starts_with("HTTP/1.1 411"), "{answer}");
    let answer = send("Content-Length: 0\r\n").await?;
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    Ok(())
}

#[tokio::test]
async fn role_changes_of_a_guild_share_one_bucket() -> TestResult {
    use reqwest::Method;
    let fake = start(RateLimits {
        global: None,
        routes: [(RouteClass::MemberRoles, Limit::per_ms(2, 60_000))].into_iter().collect(),
    })
    .await?;
    let s = role_setup(&fake)?;
    let (status, _) = role_call(&fake, Method::PUT, (s.guild, s.member, s.active), None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Another member, another role, the other method: the same guild's bucket.
    let (status, _) = role_call(&fake, Method::DELETE, (s.guild, s.bot, s.regulars), None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) =
        role_call(&fake, Method::PUT, (s.guild, s.member, s.regulars), None).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let log = fake.request_log();
    assert!(log.iter().all(|r| r.route == Some(RouteClass::MemberRoles)));
    assert!(log.iter().all(|r| r.major == format!("guilds/{}", s.guild)));
    assert_eq!(fake.role_changes().len(), 2, "the refused call changed nothing");
    Ok(())
}

/// A 1×1 PNG: binary bytes including CR, LF and NUL.
const PNG: [u8; 67] = [
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// `POST /channels/{channel}/messages` with the bot token: a JSON body, or with `png` a multipart one
/// (`payload_json` + `files[0]`). Returns the status and the JSON answer.
async fn post_message(
    fake: &FakeDiscord,
    channel: u64,
    payload: &Value,
    png: Option<&str>,
) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
    let request = client()
        .post(format!("{}/channels/{channel}/messages", fake.base_url()))
        .header("Authorization", format!("Bot {}", fake.token()));
    let request = match png {
        None => request.json(payload),
        Some(filename) => {
            let form = reqwest::multipart::Form::new()
                .part(
                    "payload_json",
                    reqwest::multipart::Part::text(payload.to_string())
                        .mime_str("application/json")?,
                )
                .part(
                    "files[0]",
                    reqwest::multipart::Part::bytes(PNG.to_vec())
                        .file_name(filename.to_owned())
                        .mime_str("image/png")?,
                );
            request.multipart(form)
        }
    };
    let response = request.send().await?;
    Ok((response.status(), response.json().await?))
}

fn id_of(value: &Value) -> Result<u64, Box<dyn std::error::Error>> {
    Ok(value["id"].as_str().ok_or("no id")?.parse()?)
}

#[tokio::test]
async fn a_posted_message_is_the_bots_message_of_the_channel() -> TestResult {
    let fake = start(RateLimits::fast()).await?;
    let channel = busiest_text_channel(&fake);
    let bot = fake.with_world(|w| w.bot_user_id);
    let truth = fake.ground_truth(&fake_discord::TruthOptions::default());
    let payload = serde_json::json!({
        "content": "Weekly digest",
        "embeds": [{"title": "This week", "image": {"url": "attachment://chart.png"}}],
        "allowed_mentions": {"parse": []},
    });
    let (status, posted) = post_message(&fake, channel, &payload, None).await?;
    assert_eq!(status, StatusCode::OK, "{posted}");
    let id = id_of(&posted)?;
    assert_eq!(posted["channel_id"], channel.to_string());
    assert_eq!(posted["author"]["id"], bot.to_string());
    assert_eq!(posted["author"]["bot"], true);
    assert_eq!((&posted["type"], &posted["content"]), (&serde_json::json!(0), &payload["content"]));
    assert_eq!(posted["embeds"], payload["embeds"]);
    assert_eq!(posted["attachments"], serde_json::json!([]));
    assert!(posted.get("nonce").is_none(), "no nonce was sent");
    let timestamp =
        chrono::DateTime::parse_from_rfc3339(posted["timestamp"].as_str().ok_or("time")?)?;
    assert!((fake.clock() - timestamp.to_utc()).num_seconds().abs() < 5, "stamped with the clock");

    // It is the channel's newest message, listed like any other, and the channel's last message.
    let (_, _, page) = get(&fake, &format!("channels/{channel}/messages?limit=1")).await?;
    assert_eq!(ids(&page), vec![id]);
    assert_eq!(page[0]["author"]["bot"], true);
    assert_eq!(page[0]["embeds"], payload["embeds"]);
    assert_eq!(fake.with_world(|w| w.channels[&channel].last_message_id), Some(id));
    // A bot's message: the ground truth does not change.
    assert_eq!(fake.ground_truth(&fake_discord::TruthOptions::default()), truth);

    let posts = fake.posted_messages();
    assert_eq!(posts.len(), 1);
    assert_eq!((posts[0].channel_id, posts[0].message_id), (channel, id));
    assert_eq!(
        (&posts[0].payload, posts[0].nonce.as_ref(), posts[0].deduplicated),
        (&payload, None, false)
    );
    assert!(posts[0].files.is_empty());
    let (status, raw) = admin(&fake, reqwest::Method::GET, "posts", None).await?;
    assert_eq!(status, StatusCode::OK);
    let raw: Value = serde_json::from_str(&raw)?;
    assert_eq!(
        raw,
        serde_json::json!([{"channel_id": channel.to_string(), "message_id": id.to_string(),
                            "payload": payload, "files": [], "nonce": null, "deduplicated": false}])
    );
    // Its own bucket, per channel.
    let log = fake.request_log();
    let post = log.iter().find(|r| r.method == "POST").ok_or("logged")?;
    assert_eq!(post.route, Some(RouteClass::CreateMessage));
    assert_eq!(post.major, format!("channels/{channel}"));
    Ok(())
}

#[tokio::test]
async fn an_enforced_nonce_answers_the_earlier_message_for_five_minutes() -> TestResult {
    let fake = start(RateLimits::unlimited()).await?;
    let channel = busiest_text_channel(&fake);
    let count = || fake.with_world(|w| w.channels[&channel].messages.len());
    let before = count();
    let digest =
        serde_json::json!({"content": "digest", "nonce": "digest:2026-11", "enforce_nonce": true});
    let (status, first) = post_message(&fake, channel, &digest, None).await?;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["nonce"], "digest:2026-11");
    let (status, again) = post_message(&fake, channel, &digest, None).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(id_of(&again)?, id_of(&first)?, "the earlier message");
    assert_eq!(again["nonce"], "digest:2026-11");
    assert_eq!(count(), before + 1, "nothing created");
    // Another channel does not know the nonce.
    let other = fake.with_world(|w| {
        w.channels
            .values()
            .find(|c| c.kind == kind::TEXT && c.readable && c.id != channel)
            .map(|c| c.id)
            .ok_or("a second text channel")
    })?;
    let (_, elsewhere) = post_message(&fake, other, &digest, None).await?;
    assert_ne!(id_of(&elsewhere)?, id_of(&first)?);
    // Past the window, the same nonce creates a message.
    fake.advance_clock(chrono::Duration::minutes(6));
    let (_, later) = post_message(&fake, channel, &digest, None).await?;
    assert_ne!(id_of(&later)?, id_of(&first)?);
    assert_eq!(count(), before + 2);
    // Without enforce_nonce a nonce changes nothing: two messages (an integer nonce too).
    let plain = serde_json::json!({"content": "plain", "nonce": 1_234_567});
    let (_, a) = post_message(&fake, channel, &plain, None).await?;
    let (_, b) = post_message(&fake, channel, &plain, None).await?;
    assert_ne!(id_of(&a)?, id_of(&b)?);
    assert_eq!(a["nonce"], 1_234_567);
    assert_eq!(count(), before + 4);

    let posts: Vec<(u64, u64, bool)> = fake
        .posted_messages()
        .iter()
        .map(|p| (p.channel_id, p.message_id, p.deduplicated))
        .collect();
    assert_eq!(
        posts,
        vec![
            (channel, id_of(&first)?, false),
            (channel, id_of(&first)?, true),
            (other, id_of(&elsewhere)?, false),
            (channel, id_of(&later)?, false),
            (channel, id_of(&a)?, false),
            (channel, id_of(&b)?, false),
        ]
    );
    let (_, raw) = admin(&fake, reqwest::Method::GET, "posts", None).await?;
    let raw: Value = serde_json::from_str(&raw)?;
    assert_eq!((&raw[1]["deduplicated"], &raw[1]["nonce"]), (&Value::Bool(true), &digest["nonce"]));
    assert_eq!(raw[1]["message_id"], first["id"]);
    Ok(())
}

#[tokio::test]
async fn posting_is_refused_like_discord() -> TestResult {
    use fake_discord::world::{EVERYONE_PERMISSIONS, permission};
    let fake = start(RateLimits::unlimited()).await?;
    let s = role_setup(&fake)?;
    let channel = busiest_text_channel(&fake);
    let of_kind = |k: u8| {
        fake.with_world(|w| w.channels.values().find(|c| c.kind == k && c.readable).map(|c| c.id))
            .ok_or(format!("no channel of type {k}"))
    };
    let unreadable = fake
        .with_world(|w| w.channels.values().find(|c| !c.readable).map(|c| c.id))
        .ok_or("unreadable")?;
    let hello = serde_json::json!({"content": "hello"});
    let expect =
        async |channel: u64, payload: &Value, png: Option<&str>, status: StatusCode, code: u64| {
            let (got, body) = post_message(&fake, channel, payload, png).await?;
            assert_eq!(
                (got, &body["code"]),
                (status, &serde_json::json!(code)),
                "{payload} in {channel}: {body}"
            );
            Ok::<_, Box<dyn std::error::Error>>(body)
        };
    let body = expect(12_345, &hello, None, StatusCode::NOT_FOUND, 10_003).await?;
    assert_eq!(body["message"], "Unknown Channel");
    let body = expect(unreadable, &hello, None, StatusCode::FORBIDDEN, 50_001).await?;
    assert_eq!(body["message"], "Missing Access");
    for non_text in [of_kind(kind::CATEGORY)?, of_kind(kind::FORUM)?] {
        let body = expect(non_text, &hello, None, StatusCode::BAD_REQUEST, 50_008).await?;
        assert_eq!(body["message"], "Cannot send messages in a non-text channel");
    }
    for empty in [serde_json::json!({}), serde_json::json!({"content": "", "embeds": []})] {
        let body = expect(channel, &empty, None, StatusCode::BAD_REQUEST, 50_006).await?;
        assert_eq!(body["message"], "Cannot send an empty message");
    }
    let bad = StatusCode::BAD_REQUEST;
    let nonce = |n: Value| serde_json::json!({"content": "x", "nonce": n, "enforce_nonce": true});
    let body = expect(channel, &nonce("n".repeat(26).into()), None, bad, 50_035).await?;
    assert_eq!(body["errors"]["nonce"]["_errors"][0]["code"], "BASE_TYPE_MAX_LENGTH");
    expect(channel, &nonce(serde_json::json!(1.5)), None, bad, 50_035).await?;
    expect(channel, &serde_json::json!({"content": "x".repeat(2_001)}), None, bad, 50_035).await?;
    let embeds: Vec<Value> = (0..11).map(|i| serde_json::json!({"title": i})).collect();
    expect(channel, &serde_json::json!({"embeds": embeds}), None, bad, 50_035).await?;
    let (status, _) = post_message(&fake, channel, &nonce("n".repeat(25).into()), None).await?;
    assert_eq!(status, StatusCode::OK, "25 characters are accepted");

    // Permissions: `@everyone` grants posting in the generated guilds, so both it and the bot's role
    // lose the bit.
    let without = |bit: u64| {
        fake.update_role(
            s.guild,
            &RoleUpdate { permissions: Some(EVERYONE_PERMISSIONS & !bit), ..RoleUpdate::default() },
        )?;
        fake.update_role(
            s.bot_role,
            &RoleUpdate {
                permissions: Some(seeded_role::BOT_PERMISSIONS & !bit),
                ..RoleUpdate::default()
            },
        )
    };
    let forbidden = StatusCode::FORBIDDEN;
    let embed = serde_json::json!({"embeds": [{"title": "digest"}]});
    without(permission::SEND_MESSAGES)?;
    let body = expect(channel, &hello, None, forbidden, 50_013).await?;
    assert_eq!(body["message"], "Missing Permissions");
    without(permission::EMBED_LINKS)?;
    expect(channel, &embed, None, forbidden, 50_013).await?;
    assert_eq!(post_message(&fake, channel, &hello, None).await?.0, StatusCode::OK, "text alone");
    without(permission::ATTACH_FILES)?;
    expect(channel, &hello, Some("chart.png"), forbidden, 50_013).await?;
    assert_eq!(post_message(&fake, channel, &embed, None).await?.0, StatusCode::OK, "no file");
    // Administrator alone allows everything.
    fake.update_role(s.guild, &RoleUpdate { permissions: Some(0), ..RoleUpdate::default() })?;
    fake.update_role(
        s.bot_role,
        &RoleUpdate { permissions: Some(1 << 3), ..RoleUpdate::default() },
    )?;
    assert_eq!(post_message(&fake, channel, &embed, Some("chart.png")).await?.0, StatusCode::OK);

    // Without the bot token: 401.
    let response = client()
        .post(format!("{}/channels/{channel}/messages", fake.base_url()))
        .json(&hello)
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(fake.posted_messages().len(), 4, "only the accepted posts are recorded");
    assert_eq!(fake.stats().forbidden, 4);
    Ok(())
}

#[tokio::test]
async fn a_multipart_post_records_its_png() -> TestResult {
    let fake = start(RateLimits::fast()).await?;
    let channel = busiest_text_channel(&fake);
    let payload = serde_json::json!({
        "embeds": [{"title": "Digest", "image": {"url": "attachment://chart.png"}}],
        "attachments": [{"id": 0, "filename": "chart.png"}],
        "nonce": "digest:g1:2026-W46",
        "enforce_nonce": true,
    });
    let (status, posted) = post_message(&fake, channel, &payload, Some("chart.png")).await?;
    assert_eq!(status, StatusCode::OK, "{posted}");
    let attachment = &posted["attachments"][0];
    assert_eq!(
        (&attachment["filename"], &attachment["size"]),
        (&serde_json::json!("chart.png"), &serde_json::json!(PNG.len()))
    );
    assert_eq!(attachment["content_type"], "image/png");
    assert!(attachment["id"].as_str().is_some_and(|id| id.parse::<u64>().is_ok()));
    let (_, _, page) = get(&fake, &format!("channels/{channel}/messages?limit=1")).await?;
    assert_eq!(page[0]["attachments"], posted["attachments"], "listed with its attachment");
    let posts = fake.posted_messages();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].payload, payload);
    assert_eq!(
        posts[0].files,
        vec![fake_discord::RecordedPostFile {
            filename: "chart.png".into(),
            content_type: Some("image/png".into()),
            size: PNG.len() as u64,
        }]
    );
    assert_eq!(posts[0].nonce, Some(serde_json::json!("digest:g1:2026-W46")));
    // A file the payload lists without its part is refused.
    let missing =
        serde_json::json!({"content": "x", "attachments": [{"id": 1, "filename": "b.png"}]});
    let (status, body) = post_message(&fake, channel, &missing, Some("chart.png")).await?;
    assert_eq!((status, &body["code"]), (StatusCode::BAD_REQUEST, &serde_json::json!(50_035)));
    Ok(())
}
