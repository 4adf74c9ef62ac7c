//! The client against the fake Discord, over real HTTP on localhost.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use engagement_discord::{
    DiscordClient, DiscordConfig, ErrorKind, Id, MAX_AUDIT_REASON, MessagePosition,
    RateLimiterConfig, RoleChange,
    model::{AttachmentFile, Command, ReactionEmoji, ReactionKind},
};
use fake_discord::{
    CommandScope, FakeConfig, FakeDiscord, InjectedResponse, Injection, Limit, RateLimits,
    RoleAction, RouteClass, Scope, WorldSize,
    world::{Emoji, kind, seeded_role},
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn fake(size: WorldSize, limits: RateLimits) -> std::io::Result<FakeDiscord> {
    FakeDiscord::start(FakeConfig { seed: 2026, size, limits, ..FakeConfig::default() }).await
}

fn config(fake: &FakeDiscord) -> DiscordConfig {
    let mut config = DiscordConfig::new(fake.token()).with_api_base(fake.base_url());
    config.backoff_base = Duration::from_millis(100);
    config.backoff_max = Duration::from_secs(1);
    config.request_timeout = Duration::from_secs(5);
    config
}

fn client(fake: &FakeDiscord) -> Result<DiscordClient, engagement_discord::Error> {
    DiscordClient::new(config(fake))
}

/// Readable channels and threads that hold messages, with their message ids (ascending).
fn readable_histories(fake: &FakeDiscord) -> BTreeMap<u64, Vec<u64>> {
    fake.with_world(|w| {
        w.channels
            .values()
            .filter(|c| c.holds_messages() && w.can_read(c))
            .map(|c| (c.id, c.messages.keys().copied().collect()))
            .collect()
    })
}

fn busiest_channel(fake: &FakeDiscord) -> u64 {
    fake.with_world(fake_discord::World::busiest_text_channel)
}

#[tokio::test]
async fn pagination_in_both_directions_returns_exactly_the_world() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::unlimited()).await?;
    let client = client(&fake)?;
    let histories = readable_histories(&fake);
    assert!(histories.values().any(|h| h.len() > 20), "need channels longer than a few pages");
    for (&channel, expected) in &histories {
        let channel = Id::new(channel);
        let mut forward = Vec::new();
        let mut pages = client.messages_after(channel, 0).with_page_size(7);
        while let Some(page) = pages.next_page().await? {
            assert!(page.len() <= 7);
            assert!(page.windows(2).all(|w| w[0].id < w[1].id), "forward pages ascend");
            forward.extend(page.iter().map(|m| m.id.get()));
        }
        assert_eq!(&forward, expected, "forward walk of {channel}");
        assert_eq!(pages.cursor(), Some(expected.last().copied().unwrap_or(0)));

        let mut backward = Vec::new();
        let mut pages = client.messages_before(channel, None).with_page_size(7);
        while let Some(page) = pages.next_page().await? {
            assert!(page.windows(2).all(|w| w[0].id > w[1].id), "backward pages descend");
            backward.extend(page.iter().map(|m| m.id.get()));
        }
        backward.reverse();
        assert_eq!(&backward, expected, "backward walk of {channel}");
    }
    // A window (after, until] of one channel, bounds built from ids in the middle.
    let channel = busiest_channel(&fake);
    let ids = &histories[&channel];
    let (after, until) = (ids[5], ids[ids.len() - 5]);
    let between = client.messages_between(Id::new(channel), after, until).await?;
    let got: Vec<u64> = between.iter().map(|m| m.id.get()).collect();
    let want: Vec<u64> = ids.iter().copied().filter(|&id| id > after && id <= until).collect();
    assert_eq!(got, want);
    Ok(())
}

#[tokio::test]
async fn message_fields_that_counting_needs_are_parsed() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::unlimited()).await?;
    let client = client(&fake)?;
    let mut seen_kinds = BTreeSet::new();
    let (mut webhooks, mut bots, mut burst) = (0, 0, 0);
    for &channel in readable_histories(&fake).keys() {
        let mut pages = client.messages_after(Id::new(channel), 0);
        while let Some(page) = pages.next_page().await? {
            for message in page {
                let truth =
                    fake.with_world(|w| w.channels[&channel].messages[&message.id.get()].clone());
                seen_kinds.insert(u8::from(message.kind));
                assert_eq!(u8::from(message.kind), truth.kind);
                assert_eq!(message.webhook_id.map(|w| w.get()), truth.webhook_id);
                assert_eq!(message.author.id.get(), truth.author_id);
                assert_eq!(message.timestamp, truth.timestamp());
                webhooks += usize::from(message.webhook_id.is_some());
                bots += usize::from(message.author.bot);
                for (reaction, expected) in message.reactions.iter().zip(&truth.reactions) {
                    let details = reaction.count_details.unwrap_or_default();
                    assert_eq!(u64::from(reaction.count), expected.count());
                    assert_eq!(details.burst as usize, expected.burst.len());
                    assert_eq!(reaction.emoji.id.map(|i| i.get()), expected.emoji.id);
                    burst += usize::from(details.burst > 0);
                }
            }
        }
    }
    assert!(seen_kinds.is_superset(&BTreeSet::from([0, 7, 18, 19, 20, 21])), "{seen_kinds:?}");
    assert!(webhooks > 0 && bots > 0 && burst > 0);
    Ok(())
}

#[tokio::test]
async fn guilds_channels_and_threads_are_listed_completely() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::unlimited()).await?;
    let client = client(&fake)?;
    let guilds = client.current_user_guilds().await?;
    let world = fake.world();
    assert_eq!(
        guilds.iter().map(|g| g.id.get()).collect::<BTreeSet<_>>(),
        world.guilds.keys().copied().collect()
    );
    let mut listed_threads = BTreeSet::new();
    for guild in &guilds {
        let channels = client.guild_channels(guild.id).await?;
        assert!(channels.iter().all(|c| !c.is_thread()));
        let expected: BTreeSet<u64> = world
            .channels
            .values()
            .filter(|c| c.guild_id == guild.id.get() && !kind::is_thread(c.kind))
            .map(|c| c.id)
            .collect();
        assert_eq!(channels.iter().map(|c| c.id.get()).collect::<BTreeSet<_>>(), expected);
        for channel in &channels {
            let truth = &world.channels[&channel.id.get()];
            assert_eq!(channel.last_message_id.map(|m| m.get()), truth.last_message_id);
            assert_eq!(channel.parent_id.map(|p| p.get()), truth.parent_id);
        }
        for thread in client.active_threads(guild.id).await? {
            assert!(!thread.thread_metadata.as_ref().is_some_and(|m| m.archived));
            listed_threads.insert(thread.id.get());
        }
        for channel in channels.iter().filter(|c| c.has_threads()) {
            match client.public_archived_threads(channel.id, None).await {
                Ok(threads) => listed_threads.extend(threads.iter().map(|t| t.id.get())),
                Err(error) if error.is_no_access() => {}
                Err(error) => return Err(error.into()),
            }
        }
    }
    let expected: BTreeSet<u64> = world
        .channels
        .values()
        .filter(|c| kind::is_thread(c.kind) && world.can_read(c))
        .map(|c| c.id)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(listed_threads, expected);
    Ok(())
}

#[tokio::test]
async fn archived_thread_pages_and_the_since_cut_off() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::unlimited()).await?;
    let client = client(&fake)?;
    let channel = busiest_channel(&fake);
    let author = fake.with_world(|w| w.users.values().find(|u| !u.bot).map_or(0, |u| u.id));
    let before_new = fake.clock();
    let mut created = Vec::new();
    for n in 0..5 {
        fake.advance_clock(chrono::Duration::seconds(30));
        let thread = fake.create_thread(channel, &format!("late-{n}"), author, None)?;
        fake.set_archived(thread, true)?;
        created.push(thread);
    }
    let page = client.public_archived_threads_page(Id::new(channel), None, 2).await?;
    assert!(page.has_more);
    assert_eq!(
        page.threads.iter().map(|t| t.id.get()).collect::<Vec<_>>(),
        vec![created[4], created[3]]
    );
    let recent = client.public_archived_threads(Id::new(channel), Some(before_new)).await?;
    let mut recent: Vec<u64> = recent.iter().map(|t| t.id.get()).collect();
    recent.sort_unstable();
    assert_eq!(recent, created);
    Ok(())
}

#[tokio::test]
async fn reaction_users_match_the_world_including_burst_custom_and_long_lists() -> TestResult {
    let fake = fake(WorldSize::Medium, RateLimits::unlimited()).await?;
    let client = client(&fake)?;
    let world = fake.world();
    let mut checked_long = false;
    let mut checked_custom = false;
    // A sample: every message with a reactor list longer than one page, and ten each with custom emoji,
    // with burst reactions and plain ones (walking all of them would take minutes at 50 requests/s).
    let (mut custom, mut bursts, mut plain) = (0, 0, 0);
    let candidates: Vec<(u64, u64)> = world
        .channels
        .values()
        .filter(|c| c.holds_messages() && world.can_read(c))
        .flat_map(|c| {
            c.messages.values().filter(|m| !m.reactions.is_empty()).map(|m| (m.channel_id, m.id))
        })
        .filter(|&(channel, message)| {
            let reactions = &world.channels[&channel].messages[&message].reactions;
            let (long, has_custom, has_burst) = (
                reactions.iter().any(|r| r.normal.len() > 100),
                reactions.iter().any(|r| r.emoji.id.is_some()),
                reactions.iter().any(|r| !r.burst.is_empty()),
            );
            let counter = if has_custom {
                &mut custom
            } else if has_burst {
                &mut bursts
            } else {
                &mut plain
            };
            *counter += 1;
            long || *counter <= 10
        })
        .collect();
    assert!(candidates.len() < 60, "sample of {}", candidates.len());
    for (channel, message) in candidates {
        let truth = &world.channels[&channel].messages[&message];
        for reaction in &truth.reactions {
            let emoji = match reaction.emoji.id {
                Some(id) => ReactionEmoji::custom(reaction.emoji.name.clone(), Id::new(id)),
                None => ReactionEmoji::unicode(reaction.emoji.name.clone()),
            };
            for (kind_, expected) in
                [(ReactionKind::Normal, &reaction.normal), (ReactionKind::Burst, &reaction.burst)]
            {
                let users = client
                    .reaction_users(Id::new(channel), Id::new(message), &emoji, kind_)
                    .await?;
                let got: BTreeSet<u64> = users.iter().map(|u| u.id.get()).collect();
                assert_eq!(&got, expected, "{emoji:?} {kind_:?} on {message}");
                assert_eq!(users.len(), got.len(), "no user twice");
                checked_long |= expected.len() > 100;
                checked_custom |= reaction.emoji.id.is_some();
            }
        }
    }
    assert!(checked_long, "a reactor list longer than one page was walked");
    assert!(checked_custom);
    let log = fake.request_log();
    assert!(log.iter().any(|r| r.path.contains("%F0%9F")), "unicode emoji are percent-encoded");
    assert!(log.iter().any(|r| r.query.contains("type=1")));
    Ok(())
}

#[tokio::test]
async fn concurrent_crawl_under_tight_limits_never_gets_a_429() -> TestResult {
    let fake = fake(
        WorldSize::Small,
        RateLimits {
            global: Some(Limit::per_ms(20, 1_000)),
            routes: RouteClass::ALL.into_iter().map(|c| (c, Limit::per_ms(2, 300))).collect(),
        },
    )
    .await?;
    let mut config = config(&fake);
    config.rate_limits = RateLimiterConfig { global_limit: 20, ..RateLimiterConfig::default() };
    let client = DiscordClient::new(config)?;
    let histories = readable_histories(&fake);
    let tasks: Vec<_> = histories
        .keys()
        .map(|&channel| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                let mut pages = client.messages_after(Id::new(channel), 0).with_page_size(10);
                while let Some(page) = pages.next_page().await? {
                    ids.extend(page.iter().map(|m| m.id.get()));
                }
                Ok::<_, engagement_discord::Error>((channel, ids))
            })
        })
        .collect();
    for task in tasks {
        let (channel, ids) = task.await??;
        assert_eq!(ids, histories[&channel]);
    }
    let stats = fake.stats();
    assert!(stats.requests > 30, "enough requests to fill several global windows: {stats:?}");
    assert_eq!(stats.rate_limited, 0, "{stats:?}");
    assert_eq!(stats.invalid_requests, 0);
    Ok(())
}

#[tokio::test]
async fn a_429_is_waited_out_and_retried() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::fast()).await?;
    let client = client(&fake)?;
    let channel = Id::new(busiest_channel(&fake));
    fake.inject(Injection {
        route: Some(RouteClass::Messages),
        response: InjectedResponse::RateLimited {
            scope: Scope::User,
            retry_after: Duration::from_millis(400),
        },
        times: 1,
    });
    let started = Instant::now();
    let page = client.channel_messages(channel, MessagePosition::Latest, 10).await?;
    assert_eq!(page.len(), 10);
    assert!(started.elapsed() >= Duration::from_millis(400));
    let log = fake.request_log();
    assert_eq!(log.iter().map(|r| r.status).collect::<Vec<_>>(), vec![429, 200]);
    assert!(log[1].at - log[0].at >= Duration::from_millis(400), "retried too early: {log:?}");

    // A global 429 holds every route.
    fake.reset_stats();
    fake.inject(Injection {
        route: Some(RouteClass::GuildChannels),
        response: InjectedResponse::RateLimited {
            scope: Scope::Global,
            retry_after: Duration::from_millis(300),
        },
        times: 1,
    });
    let guild = fake.with_world(|w| w.guilds.keys().next().copied().unwrap_or(1));
    client.guild_channels(Id::new(guild)).await?;
    let log = fake.request_log();
    assert_eq!(log.iter().map(|r| r.status).collect::<Vec<_>>(), vec![429, 200]);
    assert!(log[1].at - log[0].at >= Duration::from_millis(300));
    assert_eq!(client.rate_limiter().invalid_requests(), 2);
    Ok(())
}

#[tokio::test]
async fn a_too_long_retry_after_fails_instead_of_waiting() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::fast()).await?;
    let mut config = config(&fake);
    config.max_rate_limit_wait = Duration::from_secs(1);
    let client = DiscordClient::new(config)?;
    fake.inject(Injection {
        route: None,
        response: InjectedResponse::RateLimited {
            scope: Scope::User,
            retry_after: Duration::from_secs(30),
        },
        times: 1,
    });
    let started = Instant::now();
    let error = client.current_user_guilds().await.err().ok_or("expected an error")?;
    assert!(
        matches!(
            error.kind(),
            ErrorKind::RateLimited { scope: engagement_discord::RateLimitScope::User, .. }
        ),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    Ok(())
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_given_up() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::fast()).await?;
    let mut config = config(&fake);
    config.max_attempts = 3;
    let client = DiscordClient::new(config)?;
    let channel = Id::new(busiest_channel(&fake));
    fake.inject(Injection {
        route: None,
        response: InjectedResponse::ServerError { status: 503 },
        times: 2,
    });
    client.channel_messages(channel, MessagePosition::Latest, 5).await?;
    let log = fake.request_log();
    assert_eq!(log.iter().map(|r| r.status).collect::<Vec<_>>(), vec![503, 503, 200]);
    // Backoff: at least half of 100 ms, then half of 200 ms.
    assert!(log[1].at - log[0].at >= Duration::from_millis(50), "{log:?}");
    assert!(log[2].at - log[1].at >= Duration::from_millis(100), "{log:?}");

    fake.reset_stats();
    fake.inject(Injection {
        route: None,
        response: InjectedResponse::ServerError { status: 500 },
        times: 10,
    });
    let error = client
        .channel_messages(channel, MessagePosition::Latest, 5)
        .await
        .err()
        .ok_or("expected an error")?;
    assert!(matches!(error.kind(), ErrorKind::ServerError { status: 500, attempts: 3 }), "{error}");
    assert_eq!(fake.stats().requests, 3);
    Ok(())
}

#[tokio::test]
async fn timeouts_are_retried_then_reported() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::unlimited()).await?;
    fake.set_faults(fake_discord::Faults {
        latency: Duration::from_secs(3),
        ..fake_discord::Faults::default()
    });
    let mut config = config(&fake);
    config.request_timeout = Duration::from_millis(200);
    config.max_attempts = 2;
    let client = DiscordClient::new(config)?;
    let error = client.current_user_guilds().await.err().ok_or("expected an error")?;
    assert!(matches!(error.kind(), ErrorKind::Timeout { attempts: 2 }), "{error}");
    Ok(())
}

#[tokio::test]
async fn a_401_stops_every_later_call_without_reaching_discord() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::fast()).await?;
    let mut config = config(&fake);
    config.token = engagement_discord::BotToken::new("not-the-token");
    let client = DiscordClient::new(config)?;
    let clone = client.clone();
    let error = client.current_user_guilds().await.err().ok_or("expected an error")?;
    assert!(matches!(error.kind(), ErrorKind::Unauthorized), "{error}");
    assert!(error.is_fatal());
    assert!(!error.to_string().contains("not-the-token"));
    let channel = Id::new(busiest_channel(&fake));
    let later = clone
        .channel_messages(channel, MessagePosition::Latest, 5)
        .await
        .err()
        .ok_or("expected an error")?;
    assert!(matches!(later.kind(), ErrorKind::Unauthorized));
    assert_eq!(fake.stats().requests, 1, "later calls fail fast");
    assert!(!format!("{client:?}").contains("not-the-token"));
    Ok(())
}

#[tokio::test]
async fn no_access_is_typed_so_the_channel_can_be_skipped() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::fast()).await?;
    let client = client(&fake)?;
    let channel = busiest_channel(&fake);
    let message =
        fake.with_world(|w| w.channels[&channel].messages.keys().next().copied().unwrap_or(1));
    fake.set_channel_readable(channel, false)?;
    let error = client
        .channel_messages(Id::new(channel), MessagePosition::Latest, 5)
        .await
        .err()
        .ok_or("expected an error")?;
    match error.kind() {
        ErrorKind::NoAccess { channel_id, status, code, .. } => {
            assert_eq!((*channel_id, *status, *code), (channel, 403, Some(50_001)));
        }
        other => return Err(format!("unexpected {other:?}").into()),
    }
    let error = client
        .reaction_users(
            Id::new(channel),
            Id::new(message),
            &ReactionEmoji::unicode("👍"),
            ReactionKind::Normal,
        )
        .await
        .err()
        .ok_or("expected an error")?;
    assert!(error.is_no_access());
    let error = client
        .channel_messages(Id::new(999), MessagePosition::Latest, 5)
        .await
        .err()
        .ok_or("expected an error")?;
    assert!(
        matches!(error.kind(), ErrorKind::NoAccess { status: 404, code: Some(10_003), .. }),
        "{error}"
    );
    // Other channels still work.
    let other = readable_histories(&fake).into_keys().next().ok_or("no readable channel")?;
    client.channel_messages(Id::new(other), MessagePosition::Latest, 5).await?;
    Ok(())
}

#[tokio::test]
async fn the_invalid_request_budget_stops_calls() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::fast()).await?;
    let mut config = config(&fake);
    config.rate_limits.invalid_request_limit = 3;
    let client = DiscordClient::new(config)?;
    let unreadable =
        fake.with_world(|w| w.channels.values().find(|c| !c.readable).map_or(0, |c| c.id));
    for _ in 0..3 {
        let error = client
            .channel_messages(Id::new(unreadable), MessagePosition::Latest, 5)
            .await
            .err()
            .ok_or("expected an error")?;
        assert!(error.is_no_access());
    }
    let error = client.current_user_guilds().await.err().ok_or("expected an error")?;
    assert!(
        matches!(error.kind(), ErrorKind::InvalidRequestBudgetExhausted { count: 3, limit: 3, .. }),
        "{error}"
    );
    assert_eq!(fake.stats().requests, 3, "the refused call never reached Discord");
    assert_eq!(fake.stats().invalid_requests, 3);
    Ok(())
}

/// A 1×1 PNG: signature, IHDR, IDAT, IEND — binary bytes including CR, LF and NUL.
const PNG: [u8; 67] = [
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

#[tokio::test]
async fn follow_ups_with_a_png_are_recorded_byte_exact() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::fast()).await?;
    let client = client(&fake)?;
    let app = Id::new(fake.application_id());
    let chart = AttachmentFile {
        filename: "chart.png".into(),
        content_type: "image/png".into(),
        data: PNG.to_vec(),
    };
    let sent = client
        .edit_original_response(
            app,
            "interaction-token-1",
            &serde_json::json!({"content": "Top members this week"}),
            &[chart],
        )
        .await?;
    assert_eq!(sent.attachments.len(), 1);
    assert_eq!(sent.attachments[0].filename, "chart.png");
    assert_eq!(sent.attachments[0].size, PNG.len() as u64);
    let followup = client
        .create_followup(
            app,
            "interaction-token-1",
            &serde_json::json!({"content": "more", "flags": 64}),
            &[],
        )
        .await?;
    assert_ne!(followup.id, sent.id);
    let calls = fake.webhook_calls();
    assert_eq!(calls.len(), 2);
    let edit = &calls[0];
    assert_eq!((edit.method.as_str(), edit.multipart), ("PATCH", true));
    assert_eq!(edit.token, "interaction-token-1");
    assert_eq!(edit.payload["content"], "Top members this week");
    assert_eq!(edit.payload["attachments"][0]["filename"], "chart.png");
    assert_eq!(edit.files.len(), 1);
    assert_eq!(edit.files[0].field, "files[0]");
    assert_eq!(edit.files[0].filename, "chart.png");
    assert_eq!(edit.files[0].content_type.as_deref(), Some("image/png"));
    assert_eq!(edit.files[0].data, PNG);
    let post = &calls[1];
    assert_eq!((post.method.as_str(), post.multipart), ("POST", false));
    assert_eq!(post.payload["flags"], 64);
    // Interaction webhooks need no bot token and are outside the global limit.
    assert_eq!(fake.stats().unauthorized, 0);
    Ok(())
}

/// An expired interaction token fails that one edit; the bot token and later jobs are unaffected.
#[tokio::test]
async fn an_expired_interaction_token_does_not_stop_the_client() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::fast()).await?;
    let client = client(&fake)?;
    let app = Id::new(fake.application_id());
    fake.expire_interaction_token("late-token");
    let content = serde_json::json!({"content": "too late"});
    let err = client
        .edit_original_response(app, "late-token", &content, &[])
        .await
        .err()
        .ok_or("an expired token is refused")?;
    assert!(matches!(err.kind(), ErrorKind::TokenRejected), "{err}");
    assert!(!err.is_fatal());
    client.edit_original_response(app, "fresh-token", &content, &[]).await?;
    let guilds = client.current_user_guilds().await?;
    assert!(!guilds.is_empty());
    Ok(())
}

fn command(name: &str, description: &str) -> Result<Command, serde_json::Error> {
    serde_json::from_value(serde_json::json!({
        "name": name, "description": description, "type": 1, "version": "1",
        "default_member_permissions": "32",
        "options": [{"type": 3, "name": "period", "description": "Which period", "required": false}],
    }))
}

#[tokio::test]
async fn bulk_overwrite_is_recorded_per_scope() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::fast()).await?;
    let client = client(&fake)?;
    let app = Id::new(fake.application_id());
    let guild = fake.with_world(|w| w.guilds.keys().next().copied().unwrap_or(1));
    let first = client
        .bulk_overwrite_global_commands(
            app,
            &[command("stats", "Engagement stats")?, command("top", "Top members")?],
        )
        .await?;
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|c| c.id.is_some() && c.application_id == Some(app)));
    let second = client
        .bulk_overwrite_global_commands(app, &[command("stats", "Engagement statistics")?])
        .await?;
    assert_eq!(second[0].id, first[0].id, "an overwritten command keeps its id");
    let global = fake.commands(CommandScope::Global).ok_or("no global commands")?;
    assert_eq!(global.len(), 1);
    assert_eq!(global[0]["description"], "Engagement statistics");
    assert_eq!(global[0]["options"][0]["name"], "period");
    let in_guild = client
        .bulk_overwrite_guild_commands(app, Id::new(guild), &[command("top", "Top")?])
        .await?;
    assert_eq!(in_guild[0].guild_id.map(|g| g.get()), Some(guild));
    assert_eq!(fake.commands(CommandScope::Guild(guild)).map(|c| c.len()), Some(1));
    let error = client
        .bulk_overwrite_global_commands(app, &[command("Bad Name", "x")?])
        .await
        .err()
        .ok_or("expected an error")?;
    assert!(
        matches!(error.kind(), ErrorKind::Api { status: 400, code: Some(50_035), .. }),
        "{error}"
    );
    Ok(())
}

#[tokio::test]
async fn shared_429s_are_retried_and_not_counted_as_invalid() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::fast()).await?;
    let client = client(&fake)?;
    fake.inject(Injection {
        route: None,
        response: InjectedResponse::RateLimited {
            scope: Scope::Shared,
            retry_after: Duration::from_millis(200),
        },
        times: 1,
    });
    let channel = Id::new(busiest_channel(&fake));
    client.channel_messages(channel, MessagePosition::Latest, 3).await?;
    assert_eq!(client.rate_limiter().invalid_requests(), 0);
    assert_eq!(fake.stats().rate_limited_with(Scope::Shared), 1);
    Ok(())
}

#[tokio::test]
async fn added_messages_and_reactions_are_seen_after_the_cursor() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::fast()).await?;
    let client = client(&fake)?;
    let channel = busiest_channel(&fake);
    let mut pages = client.messages_after(Id::new(channel), 0);
    while pages.next_page().await?.is_some() {}
    let cursor = pages.cursor().ok_or("no cursor")?;
    let author = fake.with_world(|w| w.users.values().find(|u| !u.bot).map_or(0, |u| u.id));
    let new = fake.add_message(&fake_discord::NewMessage::new(channel, author))?;
    fake.add_reaction(channel, new, author, &Emoji::unicode("🦀"), true)?;
    let fresh = client.messages_between(Id::new(channel), cursor, u64::MAX).await?;
    assert_eq!(fresh.len(), 1);
    assert_eq!(fresh[0].id.get(), new);
    assert_eq!(fresh[0].reactions[0].count_details.map(|d| d.burst), Some(1));
    Ok(())
}

/// The first guild, a human member of it, and the ids of two of its seeded roles by name.
fn guild_member_and_roles(
    fake: &FakeDiscord,
    names: [&str; 2],
) -> Result<(u64, u64, [u64; 2]), Box<dyn std::error::Error>> {
    fake.with_world(|w| {
        let guild = w.guilds.values().next().ok_or("no guild")?;
        let member = guild.members.iter().copied().find(|m| !w.is_bot(*m)).ok_or("no member")?;
        let role = |name: &str| guild.role_named(name).map(|r| r.id).ok_or(format!("no {name}"));
        Ok((guild.id, member, [role(names[0])?, role(names[1])?]))
    })
}

#[tokio::test]
async fn the_current_user_and_members_with_their_roles() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::fast()).await?;
    let client = client(&fake)?;
    let me = client.current_user().await?;
    assert_eq!(me.id, fake.with_world(|w| w.bot_user_id));
    assert!(me.bot);
    assert_eq!(me.username, "engagement-bot");
    let (guild, member, [bot_role, _]) =
        guild_member_and_roles(&fake, [seeded_role::BOT, seeded_role::ACTIVE])?;
    let bot = client.guild_member(Id::new(guild), Id::new(me.id)).await?.ok_or("the bot")?;
    assert_eq!((bot.user_id, bot.roles.as_slice()), (me.id, [bot_role].as_slice()));
    assert!(bot.has_role(bot_role));
    let human = client.guild_member(Id::new(guild), Id::new(member)).await?.ok_or("member")?;
    assert_eq!(human.user_id, member);
    assert!(human.roles.is_empty());
    assert_eq!(client.guild_member(Id::new(guild), Id::new(12_345)).await?, None);
    fake.remove_member(guild, member)?;
    assert_eq!(client.guild_member(Id::new(guild), Id::new(member)).await?, None, "left");
    let error = client
        .guild_member(Id::new(12_345), Id::new(member))
        .await
        .err()
        .ok_or("an unknown guild is an error")?;
    assert!(
        matches!(error.kind(), ErrorKind::Api { status: 404, code: Some(10_004), .. }),
        "{error}"
    );
    assert_eq!(client.stats().requests, 6, "every call went through the client's limiter");
    Ok(())
}

#[tokio::test]
async fn roles_are_given_and_taken_with_the_reason_in_the_audit_log() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::fast()).await?;
    let client = client(&fake)?;
    let (guild, member, [active, _]) =
        guild_member_and_roles(&fake, [seeded_role::ACTIVE, seeded_role::REGULARS])?;
    let (g, u, r) = (Id::new(guild), Id::new(member), Id::new(active));
    let reason = "Active: 12 messages in 7 days — bravo / 100% 🎉";
    assert_eq!(client.add_member_role(g, u, r, reason).await?, RoleChange::Applied);
    let held = client.guild_member(g, u).await?.ok_or("member")?;
    assert!(held.has_role(active));
    assert_eq!(client.add_member_role(g, u, r, reason).await?, RoleChange::Applied, "no-op");
    assert_eq!(client.remove_member_role(g, u, r, "quiet for 30 days").await?, RoleChange::Applied);
    assert_eq!(client.remove_member_role(g, u, r, "").await?, RoleChange::Applied, "no-op");
    assert!(fake.with_world(|w| w.guilds[&guild].roles_of(member).is_empty()));
    let changes = fake.role_changes();
    let summary: Vec<_> = changes
        .iter()
        .map(|c| (c.guild_id, c.user_id, c.role_id, c.action, c.changed, c.reason.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (guild, member, active, RoleAction::Add, true, Some(reason)),
            (guild, member, active, RoleAction::Add, false, Some(reason)),
            (guild, member, active, RoleAction::Remove, true, Some("quiet for 30 days")),
            (guild, member, active, RoleAction::Remove, false, None),
        ]
    );
    // A reason longer than Discord takes is cut to 512 characters, never split inside one.
    let long = format!("{}{}", "é".repeat(MAX_AUDIT_REASON - 1), "🎉".repeat(10));
    assert_eq!(client.add_member_role(g, u, r, &long).await?, RoleChange::Applied);
    let recorded = fake.role_changes().pop().and_then(|c| c.reason).ok_or("a reason")?;
    assert_eq!(recorded, format!("{}🎉", "é".repeat(MAX_AUDIT_REASON - 1)));
    assert_eq!(client.stats().requests, 6);
    Ok(())
}

#[tokio::test]
async fn refused_role_changes_are_typed() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::fast()).await?;
    let client = client(&fake)?;
    let (guild, member, [moderators, active]) =
        guild_member_and_roles(&fake, [seeded_role::MODERATORS, seeded_role::ACTIVE])?;
    let g = Id::new(guild);
    // Above the bot's highest role: 403 Missing Permissions.
    let error = client
        .add_member_role(g, Id::new(member), Id::new(moderators), "promote")
        .await
        .err()
        .ok_or("a role above the bot's is refused")?;
    assert!(
        matches!(error.kind(), ErrorKind::Api { status: 403, code: Some(50_013), .. }),
        "{error}"
    );
    assert!(!error.is_no_access() && !error.is_fatal());
    // Not a member (never was, or left): nothing to do, not an error.
    let change = client.add_member_role(g, Id::new(12_345), Id::new(active), "active").await?;
    assert_eq!(change, RoleChange::UnknownMember);
    fake.remove_member(guild, member)?;
    let change = client.remove_member_role(g, Id::new(member), Id::new(active), "gone").await?;
    assert_eq!(change, RoleChange::UnknownMember);
    // Unknown role: 404 Unknown Role.
    let other = fake.with_world(|w| {
        let g = &w.guilds[&guild];
        g.members.iter().copied().find(|m| !w.is_bot(*m)).unwrap_or_default()
    });
    let error = client
        .add_member_role(g, Id::new(other), Id::new(12_345), "x")
        .await
        .err()
        .ok_or("an unknown role is an error")?;
    assert!(
        matches!(error.kind(), ErrorKind::Api { status: 404, code: Some(10_011), .. }),
        "{error}"
    );
    assert!(fake.role_changes().is_empty(), "nothing was changed");
    assert_eq!(client.rate_limiter().invalid_requests(), 1, "the 403 counts as invalid");
    Ok(())
}

#[tokio::test]
async fn create_message_posts_json_and_files_as_the_bot() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::fast()).await?;
    let client = client(&fake)?;
    let channel = busiest_channel(&fake);
    let bot = fake.with_world(|w| w.bot_user_id);
    let payload = serde_json::json!({
        "content": "Digest of the week",
        "embeds": [{"title": "Top channels"}],
        "allowed_mentions": {"parse": []},
    });
    let sent = client.create_message(Id::new(channel), &payload, &[]).await?;
    assert_eq!(sent.channel_id.get(), channel);
    assert!(sent.attachments.is_empty());
    let chart = AttachmentFile {
        filename: "chart.png".into(),
        content_type: "image/png".into(),
        data: PNG.to_vec(),
    };
    let with_chart = serde_json::json!({"embeds": [{"image": {"url": "attachment://chart.png"}}]});
    let charted = client.create_message(Id::new(channel), &with_chart, &[chart]).await?;
    assert!(charted.id > sent.id);
    assert_eq!(charted.attachments.len(), 1);
    assert_eq!(charted.attachments[0].filename, "chart.png");
    assert_eq!(charted.attachments[0].size, PNG.len() as u64);
    assert_eq!(charted.attachments[0].content_type.as_deref(), Some("image/png"));

    let posts = fake.posted_messages();
    assert_eq!(posts.len(), 2);
    assert_eq!((posts[0].message_id, &posts[0].payload), (sent.id.get(), &payload));
    assert_eq!(posts[1].message_id, charted.id.get());
    assert_eq!(posts[1].payload["attachments"][0]["filename"], "chart.png", "added by the client");
    assert_eq!(posts[1].files[0].size, PNG.len() as u64);
    // Both are the channel's newest messages, by the bot: what a sync reads and does not count.
    let latest = client.channel_messages(Id::new(channel), MessagePosition::Latest, 2).await?;
    assert_eq!(latest.iter().map(|m| m.id).collect::<Vec<_>>(), vec![charted.id, sent.id]);
    assert!(latest.iter().all(|m| m.author.bot && m.author.id.get() == bot));
    Ok(())
}

#[tokio::test]
async fn posting_where_the_bot_may_not_is_no_access() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::fast()).await?;
    let client = client(&fake)?;
    let hello = serde_json::json!({"content": "hello"});
    let (unreadable, category, guild, bot_role) = fake.with_world(|w| {
        let guild = w.guilds.values().next().ok_or("no guild")?;
        Ok::<_, &str>((
            w.channels.values().find(|c| !c.readable).ok_or("unreadable")?.id,
            w.channels.values().find(|c| c.kind == kind::CATEGORY).ok_or("category")?.id,
            guild.id,
            guild.role_named(seeded_role::BOT).ok_or("bot role")?.id,
        ))
    })?;
    let no_access = |error: engagement_discord::Error| match error.into_parts().0 {
        ErrorKind::NoAccess { channel_id, status, code, .. } => Some((channel_id, status, code)),
        _ => None,
    };
    let error = client.create_message(Id::new(unreadable), &hello, &[]).await.err().ok_or("403")?;
    assert!(error.is_no_access() && !error.is_fatal(), "{error}");
    assert_eq!(no_access(error), Some((unreadable, 403, Some(50_001))));
    let error = client.create_message(Id::new(12_345), &hello, &[]).await.err().ok_or("404")?;
    assert_eq!(no_access(error), Some((12_345, 404, Some(10_003))));
    let error = client.create_message(Id::new(category), &hello, &[]).await.err().ok_or("400")?;
    assert!(
        matches!(error.kind(), ErrorKind::Api { status: 400, code: Some(50_008), .. }),
        "{error}"
    );
    // Send Messages taken from `@everyone` and the bot's role: Missing Permissions, no access too.
    let channel = busiest_channel(&fake);
    let send_messages = 1 << 11;
    for (role, permissions) in [
        (guild, fake_discord::world::EVERYONE_PERMISSIONS),
        (bot_role, seeded_role::BOT_PERMISSIONS),
    ] {
        let update = fake_discord::RoleUpdate {
            permissions: Some(permissions & !send_messages),
            ..fake_discord::RoleUpdate::default()
        };
        fake.update_role(role, &update)?;
    }
    let error = client.create_message(Id::new(channel), &hello, &[]).await.err().ok_or("403")?;
    assert_eq!(no_access(error), Some((channel, 403, Some(50_013))));
    assert!(fake.posted_messages().is_empty());
    assert_eq!(client.stats().requests, 4, "refusals are not retried");
    Ok(())
}

#[tokio::test]
async fn only_a_post_with_an_enforced_nonce_is_retried_after_a_5xx() -> TestResult {
    let fake = fake(WorldSize::Small, RateLimits::fast()).await?;
    let client = client(&fake)?;
    let channel = busiest_channel(&fake);
    let count = || fake.with_world(|w| w.channels[&channel].messages.len());
    let before = count();
    let server_error_once = || Injection {
        route: Some(RouteClass::CreateMessage),
        response: InjectedResponse::ServerError { status: 502 },
        times: 1,
    };
    let digest =
        serde_json::json!({"content": "digest", "nonce": "digest:2026-W46", "enforce_nonce": true});
    fake.inject(server_error_once());
    let sent = client.create_message(Id::new(channel), &digest, &[]).await?;
    let statuses: Vec<u16> = fake.request_log().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![502, 200], "retried");
    assert_eq!(count(), before + 1, "exactly one message");
    // Had the lost answer come after Discord created it, the retry gets that same message.
    let repeated = client.create_message(Id::new(channel), &digest, &[]).await?;
    assert_eq!(repeated.id, sent.id);
    assert_eq!(count(), before + 1);
    let flags: Vec<bool> = fake.posted_messages().iter().map(|p| p.deduplicated).collect();
    assert_eq!(flags, vec![false, true]);

    // Without enforce_nonce (a nonce alone included) a 5xx is the caller's to handle: no retry.
    fake.reset_stats();
    for payload in [
        serde_json::json!({"content": "digest"}),
        serde_json::json!({"content": "digest", "nonce": "digest:2026-W47"}),
    ] {
        fake.inject(server_error_once());
        let error = client
            .create_message(Id::new(channel), &payload, &[])
            .await
            .err()
            .ok_or("a 5xx is an error")?;
        assert!(
            matches!(error.kind(), ErrorKind::ServerError { status: 502, attempts: 1 }),
            "{error}"
        );
    }
    assert_eq!(fake.stats().requests, 2, "one attempt each");
    assert_eq!(count(), before + 1, "nothing created");
    Ok(())
}
