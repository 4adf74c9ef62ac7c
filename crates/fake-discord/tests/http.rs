//! The fake over real HTTP, with a plain HTTP client: Discord's behaviour where clients go wrong.

use std::time::Duration;

use fake_discord::{
    FakeConfig, FakeDiscord, InjectedResponse, Injection, Limit, RateLimits, RouteClass, Scope,
    WorldSize, world::kind,
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
