//! The fake as Discord's OAuth2 provider, over real HTTP with a plain client that does not follow
//! redirects: what a web dashboard's login sees, and each way Discord refuses it.

use std::collections::BTreeSet;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use fake_discord::{
    DEFAULT_CLIENT_SECRET, FakeConfig, FakeDiscord, Limit, NewRole, RateLimits, RouteClass, Scope,
    WorldKnobs, WorldSize,
    world::{EVERYONE_PERMISSIONS, permission},
};
use reqwest::{Client, StatusCode, Url, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Where the dashboard under test would take the browser back to.
const REDIRECT: &str = "http://dashboard.test/auth/callback";
/// MANAGE_GUILD, which a dashboard checks before showing a server's settings.
const MANAGE_GUILD: u64 = 1 << 5;

/// A plain HTTP client that shows redirects instead of following them. reqwest is built without a TLS
/// crypto provider (see the workspace manifest), so one is installed first; installing twice is harmless.
fn client() -> Result<Client, reqwest::Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder().redirect(reqwest::redirect::Policy::none()).build()
}

/// Three small guilds whose members overlap (the generator's window over a shared pool of people).
async fn start() -> std::io::Result<FakeDiscord> {
    start_limited(RateLimits::unlimited()).await
}

async fn start_limited(limits: RateLimits) -> std::io::Result<FakeDiscord> {
    FakeDiscord::start(FakeConfig {
        seed: 42,
        size: WorldSize::Custom(WorldKnobs::many_small_guilds(3)),
        limits,
        redirect_uris: vec![REDIRECT.to_owned()],
        ..FakeConfig::default()
    })
    .await
}

/// A PKCE pair: a verifier and its S256 challenge, computed here independently of the fake.
struct Pkce {
    verifier: String,
    challenge: String,
}

fn pkce_pair(seed: &str) -> Pkce {
    let verifier = format!("{seed}-{}", "0123456789abcdefghij".repeat(3));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce { verifier, challenge }
}

/// The query a dashboard sends the browser to, then `changes`: `Some` sets a parameter, `None` drops it.
fn authorize_query(
    fake: &FakeDiscord,
    pkce: &Pkce,
    changes: &[(&str, Option<&str>)],
) -> Vec<(String, String)> {
    let mut query: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", &fake.application_id().to_string()),
        ("scope", "identify guilds"),
        ("redirect_uri", REDIRECT),
        ("state", "st4te/with?odd&chars"),
        ("code_challenge", &pkce.challenge),
        ("code_challenge_method", "S256"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (name, value) in changes {
        query.retain(|(k, _)| k != name);
        if let Some(value) = value {
            query.push(((*name).to_owned(), (*value).to_owned()));
        }
    }
    query
}

/// What `GET /oauth2/authorize` answered.
struct Answer {
    status: StatusCode,
    location: Option<Url>,
    body: String,
}

impl Answer {
    /// A query parameter of the redirect.
    fn param(&self, name: &str) -> Option<String> {
        self.location.as_ref()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

async fn authorize(
    http: &Client,
    fake: &FakeDiscord,
    query: &[(String, String)],
) -> Result<Answer, Box<dyn std::error::Error>> {
    let url = Url::parse_with_params(&fake.authorize_url(), query)?;
    let response = http.get(url).send().await?;
    let status = response.status();
    let location = match response.headers().get(header::LOCATION) {
        Some(location) => Some(Url::parse(location.to_str()?)?),
        None => None,
    };
    Ok(Answer { status, location, body: response.text().await? })
}

/// The browser's trip: authorize, expect a redirect with a code to [`REDIRECT`], return the code.
async fn code_for(
    http: &Client,
    fake: &FakeDiscord,
    query: &[(String, String)],
) -> Result<String, Box<dyn std::error::Error>> {
    let answer = authorize(http, fake, query).await?;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.body);
    Ok(answer.param("code").ok_or("no code in the redirect")?)
}

/// A form-encoded body: a URL's query serializer writes `application/x-www-form-urlencoded`.
fn form(pairs: &[(&str, &str)]) -> Result<String, Box<dyn std::error::Error>> {
    let mut url = Url::parse("http://form.invalid/")?;
    url.query_pairs_mut().extend_pairs(pairs);
    Ok(url.query().unwrap_or_default().to_owned())
}

/// The client's id and secret, sent by HTTP Basic or as form fields.
enum Credentials {
    Basic(String, String),
    Fields(String, String),
}

async fn exchange(
    http: &Client,
    fake: &FakeDiscord,
    credentials: &Credentials,
    fields: &[(&str, &str)],
) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
    let mut pairs: Vec<(&str, &str)> = fields.to_vec();
    let mut request = http.post(fake.token_url());
    match credentials {
        Credentials::Basic(id, secret) => request = request.basic_auth(id, Some(secret)),
        Credentials::Fields(id, secret) => {
            pairs.push(("client_id", id));
            pairs.push(("client_secret", secret));
        }
    }
    let response = request
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&pairs)?)
        .send()
        .await?;
    Ok((response.status(), response.json().await?))
}

fn basic(fake: &FakeDiscord) -> Credentials {
    Credentials::Basic(fake.application_id().to_string(), fake.client_secret())
}

/// The token request a dashboard sends for `code`.
fn grant<'a>(code: &'a str, verifier: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ]
}

/// A whole login with `changes` to the authorize query: the access token.
async fn login(
    http: &Client,
    fake: &FakeDiscord,
    changes: &[(&str, Option<&str>)],
) -> Result<String, Box<dyn std::error::Error>> {
    let pkce = pkce_pair("login");
    let code = code_for(http, fake, &authorize_query(fake, &pkce, changes)).await?;
    let (status, body) = exchange(http, fake, &basic(fake), &grant(&code, &pkce.verifier)).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    Ok(body["access_token"].as_str().ok_or("no access token")?.to_owned())
}

async fn get(
    http: &Client,
    fake: &FakeDiscord,
    path: &str,
    authorization: &str,
) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
    let response = http
        .get(format!("{}/{path}", fake.base_url()))
        .header(header::AUTHORIZATION, authorization)
        .send()
        .await?;
    Ok((response.status(), response.json().await?))
}

fn ids(page: &Value) -> Vec<u64> {
    page.as_array().into_iter().flatten().filter_map(|g| g["id"].as_str()?.parse().ok()).collect()
}

fn unauthorized() -> Value {
    json!({"message": "401: Unauthorized", "code": 0})
}

#[tokio::test]
async fn a_dashboard_logs_in_with_pkce_and_lists_the_users_guilds() -> TestResult {
    let fake = start().await?;
    let http = client()?;
    let user = fake.oauth_user().ok_or("nobody signed in")?;
    let (first_guild, guilds): (u64, Vec<u64>) = fake.with_world(|w| {
        let first = w.guilds.keys().next().copied().unwrap_or_default();
        (first, w.guilds.values().filter(|g| g.members.contains(&user)).map(|g| g.id).collect())
    });
    assert_eq!(
        fake.with_world(|w| w.guilds[&first_guild].owner_id),
        Some(user),
        "by default the owner of the first guild is signed in"
    );
    // The signed-in user is a plain member elsewhere: give them Manage Server there.
    let elsewhere = guilds.iter().copied().find(|g| *g != first_guild).ok_or("one guild only")?;
    assert!(guilds.len() < fake.with_world(|w| w.guilds.len()), "a guild without the user");
    let role = fake.create_role(
        elsewhere,
        &NewRole {
            name: "Dashboard".into(),
            permissions: MANAGE_GUILD,
            position: None,
            managed: false,
        },
    )?;
    fake.set_member_roles(elsewhere, user, &BTreeSet::from([role]))?;

    let pkce = pkce_pair("full-flow");
    let answer = authorize(&http, &fake, &authorize_query(&fake, &pkce, &[])).await?;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.body);
    let location = answer.location.as_ref().ok_or("no Location")?;
    assert!(location.as_str().starts_with(&format!("{REDIRECT}?code=")), "{location}");
    assert_eq!(answer.param("state").as_deref(), Some("st4te/with?odd&chars"));
    let code = answer.param("code").ok_or("no code")?;

    let (status, body) =
        exchange(&http, &fake, &basic(&fake), &grant(&code, &pkce.verifier)).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 604_800);
    assert_eq!(body["scope"], "identify guilds");
    assert!(body["refresh_token"].as_str().is_some_and(|t| !t.is_empty()));
    let bearer = format!("Bearer {}", body["access_token"].as_str().ok_or("no token")?);

    let (status, me) = get(&http, &fake, "users/@me", &bearer).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], user.to_string());
    assert_eq!(me["discriminator"], "0");
    let username = fake.with_world(|w| w.users[&user].username.clone());
    assert_eq!((&me["username"], &me["global_name"]), (&json!(username), &json!(username)));
    assert!(me["avatar"].is_null() && me.get("bot").is_none());

    let (status, listed) = get(&http, &fake, "users/@me/guilds", &bearer).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&listed), guilds, "exactly the user's guilds, by id");
    for guild in listed.as_array().ok_or("not a list")? {
        let id: u64 = guild["id"].as_str().ok_or("no id")?.parse()?;
        let (owner, permissions) = if id == first_guild {
            (true, u64::MAX)
        } else if id == elsewhere {
            (false, EVERYONE_PERMISSIONS | MANAGE_GUILD)
        } else {
            (false, EVERYONE_PERMISSIONS)
        };
        assert_eq!(guild["owner"], owner, "{guild}");
        assert_eq!(guild["permissions"], permissions.to_string(), "{guild}");
        assert!(guild["features"].is_array() && guild.get("name").is_some(), "{guild}");
    }
    // Paged like the bot's listing.
    let (_, first) = get(&http, &fake, "users/@me/guilds?limit=1", &bearer).await?;
    assert_eq!(ids(&first), guilds[..1]);
    let (_, rest) =
        get(&http, &fake, &format!("users/@me/guilds?after={}", guilds[0]), &bearer).await?;
    assert_eq!(ids(&rest), guilds[1..]);
    let (status, _) = get(&http, &fake, "users/@me/guilds?limit=201", &bearer).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The bot's token still answers for the bot.
    let bot = format!("Bot {}", fake.token());
    let (_, me) = get(&http, &fake, "users/@me", &bot).await?;
    assert_eq!((&me["id"], &me["bot"]), (&json!(fake.application_id().to_string()), &json!(true)));
    let (_, listed) = get(&http, &fake, "users/@me/guilds", &bot).await?;
    assert_eq!(ids(&listed), fake.with_world(|w| w.guilds.keys().copied().collect::<Vec<_>>()));

    // Logged and counted like the API's other requests; the user's requests under their own major.
    let log = fake.request_log();
    let routes: Vec<(Option<RouteClass>, u16)> =
        log.iter().take(2).map(|r| (r.route, r.status)).collect();
    assert_eq!(
        routes,
        [(Some(RouteClass::OAuth2Authorize), 302), (Some(RouteClass::OAuth2Token), 200)]
    );
    let user_major = format!("users/{user}");
    assert_eq!(log.iter().filter(|r| r.major == user_major).count(), 5);
    assert_eq!(fake.stats().by_route.get("oauth2_token"), Some(&1));
    Ok(())
}

#[tokio::test]
async fn the_authorize_page_refuses_without_redirecting() -> TestResult {
    let fake = start().await?;
    let http = client()?;
    let pkce = pkce_pair("refusals");
    for (changes, says) in [
        (vec![("client_id", Some("12345"))], "invalid_client"),
        (vec![("client_id", None)], "invalid_client"),
        (vec![("redirect_uri", Some("http://evil.test/callback"))], "redirect_uri"),
        (vec![("redirect_uri", None)], "redirect_uri"),
        (vec![("code_challenge_method", Some("plain"))], "code_challenge_method"),
        (vec![("code_challenge_method", None)], "code_challenge_method"),
        (vec![("code_challenge", None)], "code_challenge"),
        (vec![("response_type", Some("token"))], "unsupported_response_type"),
        (vec![("scope", Some("guilds"))], "identify"),
        (vec![("scope", Some("identify email"))], "invalid_scope"),
        (vec![("login_as", Some("12345"))], "login_as"),
        (vec![("login_as", Some(&fake.application_id().to_string()))], "login_as"),
    ] {
        let answer = authorize(&http, &fake, &authorize_query(&fake, &pkce, &changes)).await?;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{changes:?}");
        assert!(answer.location.is_none(), "{changes:?}");
        assert!(answer.body.contains(says), "{changes:?}: {}", answer.body);
    }
    // Without a challenge, PKCE is off; without registered URIs, any http(s) redirect goes.
    let answer = authorize(
        &http,
        &fake,
        &authorize_query(
            &fake,
            &pkce,
            &[("code_challenge", None), ("code_challenge_method", None)],
        ),
    )
    .await?;
    assert_eq!(answer.status, StatusCode::FOUND);
    fake.set_redirect_uris(Vec::new());
    let anywhere = [("redirect_uri", Some("https://elsewhere.test/cb?from=fake"))];
    let answer = authorize(&http, &fake, &authorize_query(&fake, &pkce, &anywhere)).await?;
    let location = answer.location.ok_or("no redirect")?;
    assert!(location.as_str().starts_with("https://elsewhere.test/cb?from=fake&code="));
    let ftp = [("redirect_uri", Some("ftp://elsewhere.test/cb"))];
    let answer = authorize(&http, &fake, &authorize_query(&fake, &pkce, &ftp)).await?;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    Ok(())
}

#[tokio::test]
async fn nobody_signed_in_is_a_cancelled_authorization() -> TestResult {
    let fake = start().await?;
    let http = client()?;
    let signed_in = fake.oauth_user().ok_or("nobody signed in")?;
    // Signing out through the admin API, as the binary's users do.
    let admin = format!("http://{}/_fake/oauth/user", fake.addr());
    let response = http.post(&admin).json(&json!({"user_id": null})).send().await?;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(fake.oauth_user(), None);
    let answer =
        authorize(&http, &fake, &authorize_query(&fake, &pkce_pair("cancel"), &[])).await?;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert_eq!(answer.param("error").as_deref(), Some("access_denied"));
    assert_eq!(answer.param("state").as_deref(), Some("st4te/with?odd&chars"));
    assert!(answer.param("code").is_none());
    // A bot or a stranger cannot be signed in.
    assert!(fake.set_oauth_user(Some(fake.application_id())).is_err());
    assert!(fake.set_oauth_user(Some(12_345)).is_err());
    let bot = json!({"user_id": fake.application_id().to_string()});
    let response = http.post(&admin).json(&bot).send().await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response =
        http.post(&admin).json(&json!({"user_id": signed_in.to_string()})).send().await?;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let answer = authorize(&http, &fake, &authorize_query(&fake, &pkce_pair("again"), &[])).await?;
    assert!(answer.param("code").is_some(), "signed in again");
    Ok(())
}

#[tokio::test]
async fn the_token_endpoint_refuses_like_discord() -> TestResult {
    let fake = start().await?;
    let http = client()?;
    let pkce = pkce_pair("token");
    let query = authorize_query(&fake, &pkce, &[]);
    let invalid_code =
        json!({"error": "invalid_grant", "error_description": "Invalid \"code\" in request."});

    // The client: a wrong secret, by HTTP Basic or in the form, or none at all.
    let code = code_for(&http, &fake, &query).await?;
    let app = fake.application_id().to_string();
    for credentials in [
        Credentials::Basic(app.clone(), "wrong".into()),
        Credentials::Fields(app.clone(), "wrong".into()),
        Credentials::Basic("12345".into(), DEFAULT_CLIENT_SECRET.into()),
    ] {
        let (status, body) =
            exchange(&http, &fake, &credentials, &grant(&code, &pkce.verifier)).await?;
        assert_eq!((status, body), (StatusCode::UNAUTHORIZED, json!({"error": "invalid_client"})));
    }
    // The code was never named past the client check: it still works, with the secret as form fields.
    let fields = Credentials::Fields(app.clone(), fake.client_secret());
    let (status, _) = exchange(&http, &fake, &fields, &grant(&code, &pkce.verifier)).await?;
    assert_eq!(status, StatusCode::OK);
    // Used once: refused the second time.
    let (status, body) =
        exchange(&http, &fake, &basic(&fake), &grant(&code, &pkce.verifier)).await?;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid_code.clone()));

    // A verifier that does not hash to the challenge.
    let code = code_for(&http, &fake, &query).await?;
    let other = pkce_pair("someone-else");
    let (status, body) =
        exchange(&http, &fake, &basic(&fake), &grant(&code, &other.verifier)).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant", "{body}");
    // ... which used the code up.
    let (_, body) = exchange(&http, &fake, &basic(&fake), &grant(&code, &pkce.verifier)).await?;
    assert_eq!(body, invalid_code);

    // No verifier for a code with a challenge.
    let code = code_for(&http, &fake, &query).await?;
    let without: Vec<(&str, &str)> =
        grant(&code, "").into_iter().filter(|(k, _)| *k != "code_verifier").collect();
    let (status, body) = exchange(&http, &fake, &basic(&fake), &without).await?;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": "Missing \"code_verifier\""})
        )
    );

    // A verifier shorter than 43 characters, Discord's strict reading of RFC 7636.
    let code = code_for(&http, &fake, &query).await?;
    let (status, body) = exchange(&http, &fake, &basic(&fake), &grant(&code, "short")).await?;
    assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_request")));

    // A redirect_uri other than the authorization's (the short verifier was refused before the code was
    // looked at, so the code is still live).
    let mut elsewhere = grant(&code, &pkce.verifier);
    elsewhere[2] = ("redirect_uri", "http://dashboard.test/other");
    let (status, body) = exchange(&http, &fake, &basic(&fake), &elsewhere).await?;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_grant", "error_description": "Invalid \"redirect_uri\" in request."})
        )
    );

    // Another grant type, or a body that is not a form.
    let (status, body) =
        exchange(&http, &fake, &basic(&fake), &[("grant_type", "client_credentials")]).await?;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("unsupported_grant_type"))
    );
    let response = http
        .post(fake.token_url())
        .basic_auth(&app, Some(fake.client_secret()))
        .json(&json!({"grant_type": "authorization_code"}))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await?;
    assert_eq!(body["error_description"], "Grant type None is not supported");
    Ok(())
}

#[tokio::test]
async fn codes_expire_after_ten_minutes_on_the_fakes_clock() -> TestResult {
    let fake = start().await?;
    let http = client()?;
    let pkce = pkce_pair("clock");
    let query = authorize_query(&fake, &pkce, &[]);
    let fresh = code_for(&http, &fake, &query).await?;
    let stale = code_for(&http, &fake, &query).await?;
    fake.advance_clock(chrono::Duration::minutes(9));
    let (status, _) = exchange(&http, &fake, &basic(&fake), &grant(&fresh, &pkce.verifier)).await?;
    assert_eq!(status, StatusCode::OK, "still good after 9 minutes");
    fake.advance_clock(chrono::Duration::minutes(1));
    let (status, body) =
        exchange(&http, &fake, &basic(&fake), &grant(&stale, &pkce.verifier)).await?;
    assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_grant")));
    Ok(())
}

#[tokio::test]
async fn bearer_tokens_open_only_their_scopes_routes() -> TestResult {
    let fake = start().await?;
    let http = client()?;
    let identify_only =
        format!("Bearer {}", login(&http, &fake, &[("scope", Some("identify"))]).await?);
    let (status, me) = get(&http, &fake, "users/@me", &identify_only).await?;
    assert_eq!(status, StatusCode::OK, "{me}");
    let (status, body) = get(&http, &fake, "users/@me/guilds", &identify_only).await?;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()), "no guilds scope");

    let full = format!("Bearer {}", login(&http, &fake, &[]).await?);
    let guild = fake.with_world(|w| w.guilds.keys().next().copied()).ok_or("no guild")?;
    for path in [format!("guilds/{guild}/channels"), format!("guilds/{guild}/roles")] {
        let (status, body) = get(&http, &fake, &path, &full).await?;
        assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()), "{path}");
    }
    for unknown in ["Bearer nosuchtoken", &format!("Bearer {}", fake.token())] {
        let (status, body) = get(&http, &fake, "users/@me", unknown).await?;
        assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()), "{unknown}");
    }
    // Tokens last 604,800 seconds on the fake's clock.
    fake.advance_clock(chrono::Duration::days(7));
    let (status, body) = get(&http, &fake, "users/@me", &full).await?;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()), "expired");
    assert_eq!(fake.stats().unauthorized, 6);
    Ok(())
}

#[tokio::test]
async fn login_as_logs_in_anyone_for_one_authorization() -> TestResult {
    let fake = start().await?;
    let http = client()?;
    let signed_in = fake.oauth_user().ok_or("nobody signed in")?;
    // A person who is not in the first guild (where the signed-in user is the owner) and owns none.
    let (stranger, their_guilds, first_guild) = fake.with_world(|w| {
        let first = w.guilds.values().next();
        let owns = |user: u64| w.guilds.values().any(|g| g.owner_id == Some(user));
        let stranger = w
            .users
            .values()
            .find(|u| !u.bot && !owns(u.id) && first.is_some_and(|g| !g.members.contains(&u.id)))
            .map_or(0, |u| u.id);
        let guilds: Vec<u64> =
            w.guilds.values().filter(|g| g.members.contains(&stranger)).map(|g| g.id).collect();
        (stranger, guilds, first.map_or(0, |g| g.id))
    });
    assert!(!their_guilds.is_empty() && !their_guilds.contains(&first_guild));
    // They are an Administrator in one of their guilds.
    let admin_in = their_guilds[0];
    let role = fake.create_role(
        admin_in,
        &NewRole {
            name: "Admins".into(),
            permissions: permission::ADMINISTRATOR,
            position: None,
            managed: false,
        },
    )?;
    fake.set_member_roles(admin_in, stranger, &BTreeSet::from([role]))?;

    let stranger_id = stranger.to_string();
    let bearer =
        format!("Bearer {}", login(&http, &fake, &[("login_as", Some(&stranger_id))]).await?);
    let (_, me) = get(&http, &fake, "users/@me", &bearer).await?;
    assert_eq!(me["id"], stranger_id);
    let (_, listed) = get(&http, &fake, "users/@me/guilds", &bearer).await?;
    assert_eq!(ids(&listed), their_guilds, "only their guilds");
    let admin_entry = listed
        .as_array()
        .and_then(|l| {
            l.iter().find(|g| g["id"].as_str().and_then(|i| i.parse().ok()) == Some(admin_in))
        })
        .ok_or("admin guild not listed")?;
    assert_eq!(admin_entry["permissions"], u64::MAX.to_string(), "Administrator means all");
    assert_eq!(admin_entry["owner"], false);

    // The next authorization is the signed-in user's again.
    let bearer = format!("Bearer {}", login(&http, &fake, &[]).await?);
    let (_, me) = get(&http, &fake, "users/@me", &bearer).await?;
    assert_eq!(me["id"], signed_in.to_string());

    // Someone in no guild at all still logs in; their listing is empty.
    for guild in &their_guilds {
        fake.remove_member(*guild, stranger)?;
    }
    let bearer =
        format!("Bearer {}", login(&http, &fake, &[("login_as", Some(&stranger_id))]).await?);
    let (status, me) = get(&http, &fake, "users/@me", &bearer).await?;
    assert_eq!((status, &me["id"]), (StatusCode::OK, &json!(stranger_id)));
    let (status, listed) = get(&http, &fake, "users/@me/guilds", &bearer).await?;
    assert_eq!((status, listed), (StatusCode::OK, json!([])));
    Ok(())
}

#[tokio::test]
async fn a_users_token_has_its_own_buckets_outside_the_bots_global_limit() -> TestResult {
    let fake = start_limited(RateLimits {
        global: Some(Limit::per_ms(1, 60_000)),
        routes: [(RouteClass::CurrentUser, Limit::per_ms(1, 60_000))].into_iter().collect(),
    })
    .await?;
    let http = client()?;
    let bot = format!("Bot {}", fake.token());
    let (status, _) = get(&http, &fake, "users/@me", &bot).await?;
    assert_eq!(status, StatusCode::OK);
    let bearer = format!("Bearer {}", login(&http, &fake, &[]).await?);
    // The bot's global window and its users/@me bucket are full; the user's are not.
    let response = http
        .get(format!("{}/users/@me", fake.base_url()))
        .header(header::AUTHORIZATION, &bearer)
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
    let (status, body) = get(&http, &fake, "users/@me", &bearer).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["global"], false);
    let (status, body) = get(&http, &fake, "users/@me", &bot).await?;
    assert_eq!((status, &body["global"]), (StatusCode::TOO_MANY_REQUESTS, &json!(true)));
    assert_eq!(fake.stats().rate_limited_with(Scope::User), 1);
    Ok(())
}
