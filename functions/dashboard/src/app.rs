//! The HTTP side: routes, the login flow, and the checks every page makes before it reads anything.
//!
//! | Route | |
//! |---|---|
//! | `GET /` | the guild picker, or the login page |
//! | `GET /login` | starts a login: a fresh `state` and PKCE verifier in a signed cookie, then Discord |
//! | `GET /callback` | finishes it: `state` checked, code exchanged, session cookie set |
//! | `POST /logout` | clears the session |
//! | `GET /g/{guild}` | the server overview (`?period=7d` or `?from=…&to=…`) |
//! | `GET /g/{guild}/c/{channel}` | one channel's overview (as `/channel-stats`: excluded or unseen channels refused) |
//! | `GET /g/{guild}/category/{category}` | one category's overview (the channels in it the viewer may see) |
//! | `GET /g/{guild}/growth` | growth (DAU, WAU, MAU, new members) and retention, as `/insights` |
//! | `GET /g/{guild}/m/{member}` | one member's page (themself, or Administrator, Manage Server, View Server Insights) |
//! | `GET /g/{guild}/export.csv` | `/export`'s CSV (Manage Server) |
//! | `GET /g/{guild}/settings` | the server's settings, read only, as `/engagement-config show` (Manage Server) |
//! | `GET /static/app.css` | the stylesheet |
//!
//! Every page checks the session (signature and expiry), that the guild is one of the viewer's, and
//! the viewer's current roles (the bot's view, cached for five minutes) before reading any count; what
//! they then see follows the slash commands' rules. Bad input is answered 4xx with a page that says
//! why; a Discord or DynamoDB failure 502/503. Responses carry a strict Content-Security-Policy.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use engagement_commands::Reporter;
use engagement_commands::definition::DEFAULT_RETENTION_WEEKS;
use engagement_commands::report::AnswerError;
use engagement_commands::request::{Report, ReportPeriod, ReportRequest};
use engagement_discord::DiscordClient;
use engagement_discord::model::Role;
use engagement_discord::oauth::{self, LoginSecrets, OAuthClient};
use engagement_domain::{ChannelId, GuildConfig, GuildId, Period, RoleId, Scope, UserId};
use engagement_store::CounterStore;
use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};

use crate::pages::{self, GuildPage};
use crate::session::{
    self, LOGIN_COOKIE, LOGIN_TTL_MS, LoginState, MAX_SESSION_GUILDS, SESSION_COOKIE,
    SESSION_TTL_MS, Session, SessionGuild,
};
use crate::settings::DashboardSettings;
use crate::viewer::{VIEWER_TTL_MS, Viewer};

/// The message logged (at ERROR, with the status) for every page answered 5xx. The stack's
/// `DashboardServerErrorsFilter` counts these lines; a template test holds the two equal.
pub const SERVER_ERROR_LOG: &str = "a page answered with a server error";
/// The Content-Security-Policy of every response: the dashboard's own stylesheet, nothing else.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                                           form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// The largest CSV the dashboard sends (larger ones are gzipped, as `/export` does): a function URL
/// answers at most 6 MB, and a binary body travels base64-encoded.
const EXPORT_LIMIT_BYTES: u64 = 4 * 1024 * 1024;
/// How long a member's name is reused before the bot reads it again.
const NAME_TTL_MS: u64 = 60 * 60_000;
/// How long a page waits for members' names.
const NAMES_WAIT: std::time::Duration = std::time::Duration::from_millis(1_500);
/// The longest session cookie sent (browsers keep cookies up to 4,096 bytes, name and attributes
/// included).
const MAX_COOKIE_BYTES: usize = 3_800;
/// How long a guild page may take: less than the function's timeout, so the viewer gets a page that
/// says so rather than the function URL's bare error.
const PAGE_BUDGET: std::time::Duration = std::time::Duration::from_secs(25);
/// Longest guild name kept in a session.
const MAX_NAME_CHARS: usize = 100;

/// The dashboard: its settings and clients, and the short-lived caches of the bot's view.
#[derive(Debug)]
pub struct Dashboard {
    settings: DashboardSettings,
    oauth: OAuthClient,
    discord: DiscordClient,
    store: CounterStore,
    reporter: Reporter<CounterStore>,
    viewers: Cache<(u64, u64), Option<Viewer>>,
    roles: Cache<u64, Arc<[Role]>>,
    channel_names: Cache<u64, BTreeMap<u64, String>>,
    member_names: Cache<(u64, u64), Option<String>>,
}

impl Dashboard {
    /// A dashboard with `settings`, calling Discord with `discord` and reading `store`.
    ///
    /// # Errors
    /// When the OAuth2 HTTP client cannot be built.
    pub fn new(
        settings: DashboardSettings,
        discord: DiscordClient,
        store: CounterStore,
    ) -> Result<Self, oauth::OAuthError> {
        let oauth = OAuthClient::new(settings.oauth.clone())?;
        Ok(Self {
            settings,
            oauth,
            discord,
            reporter: Reporter::new(store.clone()),
            store,
            viewers: Cache::default(),
            roles: Cache::default(),
            channel_names: Cache::default(),
            member_names: Cache::default(),
        })
    }

    /// Answers one request at `now_ms` (Unix ms).
    pub async fn handle(&self, request: Request, now_ms: u64) -> Response<Body> {
        let public = self.public_url(&request);
        let base = base_path(&public).to_owned();
        let path = request.uri().path();
        let path = path.strip_prefix(base.as_str()).unwrap_or(path);
        let path = if path.is_empty() { "/" } else { path }.to_owned();
        let cookies =
            request.headers().get(header::COOKIE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let query = parse_query(request.uri().query().unwrap_or(""));
        let ctx =
            RequestContext { base: &base, public: &public, cookies: cookies.as_deref(), now_ms };
        let get = matches!(*request.method(), Method::GET | Method::HEAD);
        let mut response = match (path.as_str(), get) {
            ("/", true) => self.home(&ctx),
            ("/login", true) => self.login(&ctx),
            ("/callback", true) => self.callback(&ctx, &query).await,
            ("/logout", false) if request.method() == Method::POST => {
                if same_origin(request.headers(), &public) {
                    logout(&ctx)
                } else {
                    tracing::warn!("a logout came from another site");
                    page(
                        StatusCode::FORBIDDEN,
                        &pages::problem(
                            &base,
                            None,
                            "Not allowed",
                            "Log out with the button on the dashboard's own pages.",
                        ),
                    )
                }
            }
            ("/static/app.css", true) => stylesheet(),
            // Browsers ask for it on their own: no icon, and nothing to log.
            ("/favicon.ico", true) => no_icon(),
            (p, true) if p.starts_with("/g/") => {
                let guild_page = self.guild_page(&ctx, &p[3..], &query);
                tokio::time::timeout(PAGE_BUDGET, guild_page).await.unwrap_or_else(|_| {
                    tracing::warn!(path = p, "a page ran out of time");
                    page(
                        StatusCode::SERVICE_UNAVAILABLE,
                        &pages::problem(
                            &base,
                            None,
                            "Try again",
                            "That page took too long. A shorter period shows sooner.",
                        ),
                    )
                })
            }
            ("/" | "/login" | "/callback" | "/logout" | "/static/app.css", _) => page(
                StatusCode::METHOD_NOT_ALLOWED,
                &pages::problem(
                    &base,
                    None,
                    "Not allowed",
                    "This address does not take that method.",
                ),
            ),
            _ => page(
                StatusCode::NOT_FOUND,
                &pages::problem(&base, None, "Not found", "There is no page here."),
            ),
        };
        secure_headers(&mut response);
        if response.status().is_server_error() {
            tracing::error!(status = response.status().as_u16(), "{SERVER_ERROR_LOG}");
        }
        response
    }

    fn home(&self, ctx: &RequestContext<'_>) -> Response<Body> {
        match self.session(ctx) {
            Some(session) => page(StatusCode::OK, &pages::picker(ctx.base, &session)),
            None => page(StatusCode::OK, &pages::landing(ctx.base, None)),
        }
    }

    fn login(&self, ctx: &RequestContext<'_>) -> Response<Body> {
        let secrets = LoginSecrets::generate();
        let url = oauth::authorize_url(&self.settings.oauth, &redirect_uri(ctx.public), &secrets);
        let state = LoginState {
            state: secrets.state,
            verifier: secrets.verifier,
            expires_ms: ctx.now_ms.saturating_add(LOGIN_TTL_MS),
        };
        let cookie = session::set_cookie(
            LOGIN_COOKIE,
            &self.settings.session_key.seal(LOGIN_COOKIE, &state),
            LOGIN_TTL_MS,
            ctx.secure(),
        );
        redirect(StatusCode::FOUND, &url, &[cookie])
    }

    async fn callback(
        &self,
        ctx: &RequestContext<'_>,
        query: &HashMap<String, String>,
    ) -> Response<Body> {
        let refused = |text: &str| {
            let mut response = page(StatusCode::BAD_REQUEST, &pages::landing(ctx.base, Some(text)));
            add_cookie(&mut response, &session::clear_cookie(LOGIN_COOKIE, ctx.secure()));
            response
        };
        let Some(login) = session::read::<LoginState>(
            &self.settings.session_key,
            ctx.cookies,
            LOGIN_COOKIE,
            ctx.now_ms,
        ) else {
            return refused("That login expired or was started elsewhere. Log in again.");
        };
        let state = query.get("state").map_or("", String::as_str);
        if !same(state.as_bytes(), login.state.as_bytes()) {
            tracing::warn!("a login came back with a state that does not match its cookie");
            return refused("That login did not come back as it was sent. Log in again.");
        }
        if query.contains_key("error") {
            return refused("Discord did not log you in (the login was cancelled). Log in again.");
        }
        let Some(code) = query.get("code").filter(|c| !c.is_empty()) else {
            return refused("Discord sent no login code. Log in again.");
        };
        let session = match self.start_session(code, &login, ctx).await {
            Ok(session) => session,
            Err(LoginError::Discord(oauth::OAuthError::Refused { status, error })) => {
                tracing::warn!(status, %error, "Discord refused a login");
                return refused("Discord refused that login. Log in again.");
            }
            Err(error) => {
                tracing::error!(%error, "a login failed");
                let status = match error {
                    LoginError::Discord(_) => StatusCode::BAD_GATEWAY,
                    LoginError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
                };
                return page(
                    status,
                    &pages::problem(
                        ctx.base,
                        None,
                        "Try again",
                        "The login could not be finished just now.",
                    ),
                );
            }
        };
        let cookies = [
            session::set_cookie(
                SESSION_COOKIE,
                &self.settings.session_key.seal(SESSION_COOKIE, &session),
                SESSION_TTL_MS,
                ctx.secure(),
            ),
            session::clear_cookie(LOGIN_COOKIE, ctx.secure()),
        ];
        tracing::info!(user = session.user, guilds = session.guilds.len(), "logged in");
        redirect(StatusCode::SEE_OTHER, &format!("{}/", ctx.base), &cookies)
    }

    /// Exchanges the code and makes the session: the user and those of their servers the bot counts.
    async fn start_session(
        &self,
        code: &str,
        login: &LoginState,
        ctx: &RequestContext<'_>,
    ) -> Result<Session, LoginError> {
        let token = self.oauth.exchange(code, &redirect_uri(ctx.public), &login.verifier).await?;
        let user = self.oauth.user(&token).await?;
        let theirs = self.oauth.guilds(&token).await?;
        let counted = self.store.guild_schedules().await.map_err(LoginError::Store)?;
        let mut session = Session {
            user: user.id,
            name: user.display_name().chars().take(MAX_NAME_CHARS).collect(),
            guilds: theirs
                .into_iter()
                .filter(|g| counted.get(&GuildId(g.id)).is_some_and(|row| row.checked_ms > 0))
                .map(|g| SessionGuild {
                    id: g.id,
                    name: g.name.chars().take(MAX_NAME_CHARS).collect(),
                    owner: g.owner,
                })
                .collect(),
            guilds_left_out: 0,
            expires_ms: ctx.now_ms.saturating_add(SESSION_TTL_MS),
        };
        // A browser drops a cookie over 4 KB without a word: servers past that are left out (the
        // picker says how many).
        while session.guilds.len() > MAX_SESSION_GUILDS
            || self.settings.session_key.seal(SESSION_COOKIE, &session).len() > MAX_COOKIE_BYTES
        {
            if session.guilds.pop().is_none() {
                break;
            }
            session.guilds_left_out += 1;
        }
        Ok(session)
    }

    /// `/g/{guild}…`: the checks every guild page makes, then the page.
    async fn guild_page(
        &self,
        ctx: &RequestContext<'_>,
        rest: &str,
        query: &HashMap<String, String>,
    ) -> Response<Body> {
        let Some(session) = self.session(ctx) else {
            return redirect(StatusCode::SEE_OTHER, &format!("{}/", ctx.base), &[]);
        };
        let base = ctx.base;
        let forbidden = |text: &str| {
            page(StatusCode::FORBIDDEN, &pages::problem(base, Some(&session), "Not yours", text))
        };
        let Some((guild, sub)) = GuildRoute::parse(rest) else {
            return page(
                StatusCode::NOT_FOUND,
                &pages::problem(base, Some(&session), "Not found", "There is no page here."),
            );
        };
        let Some(listed) = session.guilds.iter().find(|g| g.id == guild).cloned() else {
            return forbidden("That server is not one of yours that this bot counts.");
        };
        let viewer = match self.viewer(guild, session.user, listed.owner, ctx.now_ms).await {
            Ok(Some(viewer)) => viewer,
            Ok(None) => return forbidden("You are no longer a member of that server."),
            Err(error) => {
                tracing::error!(guild, %error, "the viewer's roles could not be read");
                return unavailable(base, &session);
            }
        };
        match sub {
            GuildRoute::Member(member) if !viewer.may_see_member(UserId(member)) => {
                return forbidden(
                    "A member's own page is for them, and for Administrators, Server Managers and \
                     members with View Server Insights.",
                );
            }
            GuildRoute::Export if !viewer.may_export() => {
                return forbidden("The export is for members with Manage Server.");
            }
            GuildRoute::Settings if !viewer.may_export() => {
                return forbidden("The settings are for members with Manage Server.");
            }
            GuildRoute::Overview
            | GuildRoute::Channel(_)
            | GuildRoute::Category(_)
            | GuildRoute::Growth
            | GuildRoute::Member(_)
            | GuildRoute::Export
            | GuildRoute::Settings => {}
        }
        let config = match self.store.guild_config(GuildId(guild)).await {
            Ok(config) => config.unwrap_or_else(|| GuildConfig {
                time_zone: self.settings.default_time_zone,
                ..GuildConfig::default()
            }),
            Err(error) => {
                tracing::error!(guild, %error, "the settings could not be read");
                return unavailable(base, &session);
            }
        };
        let now = chrono::DateTime::from_timestamp_millis(i64::try_from(ctx.now_ms).unwrap_or(0))
            .unwrap_or_default();
        let period = Period::from_options(
            query.get("period").map(String::as_str),
            query.get("from").map(String::as_str).filter(|s| !s.is_empty()),
            query.get("to").map(String::as_str).filter(|s| !s.is_empty()),
        )
        .and_then(|p| ReportPeriod::resolve(p, config.time_zone, now));
        let period = match period {
            Ok(period) => period,
            Err(error) => {
                return page(
                    StatusCode::BAD_REQUEST,
                    &pages::problem(base, Some(&session), "Not a period", &error.to_string()),
                );
            }
        };
        let at = CheckedGuildRequest {
            session: &session,
            guild,
            name: &listed.name,
            viewer: &viewer,
            config,
            period,
        };
        let answer = match sub {
            GuildRoute::Overview => self.overview(ctx, &at, Scope::Guild).await,
            GuildRoute::Channel(channel) => {
                self.overview(ctx, &at, Scope::Channel(ChannelId(channel))).await
            }
            GuildRoute::Category(category) => {
                self.overview(ctx, &at, Scope::Category(ChannelId(category))).await
            }
            GuildRoute::Growth => self.growth(ctx, &at).await,
            GuildRoute::Member(member) => self.member(ctx, &at, member).await,
            GuildRoute::Export => self.export(&at).await,
            GuildRoute::Settings => Ok(self.settings_page(ctx, &at).await),
        };
        match answer {
            Ok(response) => response,
            // Nothing to show: a page says why; a download that has nothing is not a file.
            Err(AnswerError::User(text)) => {
                let status =
                    if sub == GuildRoute::Export { StatusCode::NOT_FOUND } else { StatusCode::OK };
                page(status, &pages::problem(base, Some(&session), &listed.name, &text))
            }
            Err(error) => {
                tracing::error!(guild, %error, "the page could not be read");
                unavailable(base, &session)
            }
        }
    }

    /// The server's overview, or one channel's (`scope`).
    async fn overview(
        &self,
        ctx: &RequestContext<'_>,
        at: &CheckedGuildRequest<'_>,
        scope: Scope,
    ) -> Result<Response<Body>, AnswerError> {
        let data = self
            .reporter
            .overview((GuildId(at.guild), scope), &at.period, &at.config, &at.viewer.audience)
            .await?;
        let channel_names = self.channel_names(at.guild, ctx.now_ms).await;
        let members: Vec<u64> = data.top_members.iter().map(|(u, _)| u.0).collect();
        let member_names = self.member_names(at.guild, &members, ctx.now_ms).await;
        let html = pages::overview(&at.page(ctx, &channel_names, &member_names), scope, &data);
        Ok(page(StatusCode::OK, &html))
    }

    /// Growth over the period, and retention over the last join weeks (the page stands without it
    /// when there is none to show).
    async fn growth(
        &self,
        ctx: &RequestContext<'_>,
        at: &CheckedGuildRequest<'_>,
    ) -> Result<Response<Body>, AnswerError> {
        let guild = GuildId(at.guild);
        let audience = &at.viewer.audience;
        let growth = self.reporter.growth((guild, Scope::Guild), &at.period, &at.config, audience);
        let weeks = (&at.period, DEFAULT_RETENTION_WEEKS);
        let retention = self.reporter.retention(guild, weeks, &at.config, audience);
        let (growth, retention) = futures::future::join(growth, retention).await;
        let growth = growth?;
        let retention = match retention {
            Ok(retention) => Ok(retention),
            Err(AnswerError::User(text)) => Err(text),
            Err(error) => return Err(error),
        };
        // The page stands without it, as the commands' footers do.
        let counted_to_ms = self.store.last_synced(guild).await.ok().flatten();
        let channel_names = BTreeMap::new();
        let member_names = BTreeMap::new();
        let html = pages::growth(
            &at.page(ctx, &channel_names, &member_names),
            &growth,
            retention.as_ref().map_err(String::as_str),
            counted_to_ms,
        );
        Ok(page(StatusCode::OK, &html))
    }

    async fn member(
        &self,
        ctx: &RequestContext<'_>,
        at: &CheckedGuildRequest<'_>,
        member: u64,
    ) -> Result<Response<Body>, AnswerError> {
        let data = self
            .reporter
            .member_overview(
                GuildId(at.guild),
                (UserId(at.session.user), UserId(member)),
                &at.period,
                &at.config,
                &at.viewer.audience,
            )
            .await?;
        let channel_names = self.channel_names(at.guild, ctx.now_ms).await;
        let member_names = self.member_names(at.guild, &[member], ctx.now_ms).await;
        let html = pages::member(&at.page(ctx, &channel_names, &member_names), member, &data);
        Ok(page(StatusCode::OK, &html))
    }

    /// The settings, read only: what `/engagement-config show` lists, with names.
    async fn settings_page(
        &self,
        ctx: &RequestContext<'_>,
        at: &CheckedGuildRequest<'_>,
    ) -> Response<Body> {
        let channel_names = self.channel_names(at.guild, ctx.now_ms).await;
        let role_names = self.role_names(at.guild, ctx.now_ms).await;
        let member_names = BTreeMap::new();
        let html =
            pages::settings(&at.page(ctx, &channel_names, &member_names), &at.config, &role_names);
        page(StatusCode::OK, &html)
    }

    /// The guild's role names; empty when Discord cannot say (ids are shown instead).
    async fn role_names(&self, guild: u64, now_ms: u64) -> BTreeMap<u64, String> {
        let Some(id) = engagement_discord::Id::new_checked(guild) else { return BTreeMap::new() };
        match self.guild_roles(id, now_ms).await {
            Ok(roles) => roles.iter().map(|r| (r.id, r.name.clone())).collect(),
            Err(error) => {
                tracing::warn!(guild, %error, "role names not read");
                BTreeMap::new()
            }
        }
    }

    /// The guild's roles, cached for [`VIEWER_TTL_MS`]: one read serves every viewer's check in the
    /// guild, and the settings page.
    async fn guild_roles(
        &self,
        guild: engagement_discord::Id<engagement_discord::marker::GuildMarker>,
        now_ms: u64,
    ) -> Result<Arc<[Role]>, engagement_discord::Error> {
        if let Some(roles) = self.roles.get(&guild.get(), now_ms) {
            return Ok(roles);
        }
        let roles: Arc<[Role]> = self.discord.guild_roles(guild).await?.into();
        self.roles.put(guild.get(), roles.clone(), now_ms, VIEWER_TTL_MS);
        Ok(roles)
    }

    /// The CSV of `/export`, byte for byte: built by the same code, with the same rules.
    async fn export(&self, at: &CheckedGuildRequest<'_>) -> Result<Response<Body>, AnswerError> {
        let request = ReportRequest {
            guild: GuildId(at.guild),
            viewer: UserId(at.session.user),
            report: Report::Export,
            period: at.period,
            attachment_limit: EXPORT_LIMIT_BYTES,
        };
        let reply = self.reporter.answer(&request, &at.config, &at.viewer.audience).await?;
        let Some(file) = reply.files.into_iter().next() else {
            return Err(AnswerError::user("There is nothing to export for that period."));
        };
        let mut response = Response::new(Body::Binary(file.data));
        let headers = response.headers_mut();
        if let Ok(kind) = HeaderValue::from_str(&file.content_type) {
            headers.insert(header::CONTENT_TYPE, kind);
        }
        if let Ok(disposition) =
            HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file.filename))
        {
            headers.insert(header::CONTENT_DISPOSITION, disposition);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(response)
    }

    /// The viewer's roles and permissions now (cached): `None` when they are not a member.
    async fn viewer(
        &self,
        guild: u64,
        user: u64,
        owner: bool,
        now_ms: u64,
    ) -> Result<Option<Viewer>, engagement_discord::Error> {
        if let Some(viewer) = self.viewers.get(&(guild, user), now_ms) {
            return Ok(viewer);
        }
        let guild_id = engagement_discord::Id::new_checked(guild);
        let user_id = engagement_discord::Id::new_checked(user);
        let (Some(guild_id), Some(user_id)) = (guild_id, user_id) else { return Ok(None) };
        let member = self.discord.guild_member(guild_id, user_id);
        let roles = self.guild_roles(guild_id, now_ms);
        let viewer = match futures::future::join(member, roles).await {
            (Ok(None), _) => None,
            // The bot is no longer in the guild (Unknown Guild): nobody is a member there for it.
            (Err(error), _) | (_, Err(error)) if is_unknown_guild(&error) => None,
            (Err(error), _) | (_, Err(error)) => return Err(error),
            (Ok(Some(member)), Ok(roles)) => {
                // The viewer's own name comes with it: their page needs no second read.
                self.member_names.put((guild, user), member.name.clone(), now_ms, NAME_TTL_MS);
                let roles = roles.iter().map(|r| (RoleId(r.id), r.permissions)).collect();
                Some(Viewer::new(GuildId(guild), UserId(user), &member.roles, roles, owner))
            }
        };
        self.viewers.put((guild, user), viewer.clone(), now_ms, VIEWER_TTL_MS);
        Ok(viewer)
    }

    /// The guild's channel names (cached); empty when Discord cannot say (ids are shown instead).
    async fn channel_names(&self, guild: u64, now_ms: u64) -> BTreeMap<u64, String> {
        if let Some(names) = self.channel_names.get(&guild, now_ms) {
            return names;
        }
        let Some(id) = engagement_discord::Id::new_checked(guild) else { return BTreeMap::new() };
        match self.discord.guild_channels(id).await {
            Ok(channels) => {
                let names: BTreeMap<u64, String> =
                    channels.into_iter().filter_map(|c| c.name.map(|n| (c.id.get(), n))).collect();
                self.channel_names.put(guild, names.clone(), now_ms, VIEWER_TTL_MS);
                names
            }
            Err(error) => {
                tracing::warn!(guild, %error, "channel names not read");
                BTreeMap::new()
            }
        }
    }

    /// The names the server shows for `members` (cached for [`NAME_TTL_MS`]). Those Discord has not
    /// answered for within [`NAMES_WAIT`] are left out (the page shows their id), and asked again on
    /// the next page.
    async fn member_names(
        &self,
        guild: u64,
        members: &[u64],
        now_ms: u64,
    ) -> BTreeMap<u64, String> {
        let mut names = BTreeMap::new();
        let mut missing = Vec::new();
        for &member in members {
            match self.member_names.get(&(guild, member), now_ms) {
                Some(Some(name)) => {
                    names.insert(member, name);
                }
                Some(None) => {}
                None => missing.push(member),
            }
        }
        let Some(guild_id) = engagement_discord::Id::new_checked(guild) else { return names };
        let lookups = missing.into_iter().filter_map(|member| {
            let user = engagement_discord::Id::new_checked(member)?;
            Some(async move { (member, self.discord.guild_member(guild_id, user).await) })
        });
        let found = tokio::time::timeout(NAMES_WAIT, futures::future::join_all(lookups)).await;
        for (member, answer) in found.unwrap_or_default() {
            match answer {
                Ok(found) => {
                    let name = found.and_then(|m| m.name);
                    self.member_names.put((guild, member), name.clone(), now_ms, NAME_TTL_MS);
                    if let Some(name) = name {
                        names.insert(member, name);
                    }
                }
                Err(error) => tracing::warn!(guild, %error, "a member's name not read"),
            }
        }
        names
    }

    fn session(&self, ctx: &RequestContext<'_>) -> Option<Session> {
        session::read(&self.settings.session_key, ctx.cookies, SESSION_COOKIE, ctx.now_ms)
    }

    /// The public address: [`DashboardSettings::public_url`], or the function URL the request came to.
    fn public_url(&self, request: &Request) -> String {
        if let Some(url) = &self.settings.public_url {
            return url.clone();
        }
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b)))
            .unwrap_or("localhost");
        format!("https://{host}")
    }
}

/// Which page of a guild.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GuildRoute {
    Overview,
    Channel(u64),
    Category(u64),
    Growth,
    Member(u64),
    Export,
    Settings,
}

impl GuildRoute {
    /// `{guild}`, then nothing, `c/{channel}`, `category/{category}`, `growth`, `m/{member}`,
    /// `export.csv` or `settings`.
    fn parse(rest: &str) -> Option<(u64, Self)> {
        let mut parts = rest.trim_end_matches('/').split('/');
        let guild = parts.next()?.parse().ok()?;
        let route = match (parts.next(), parts.next(), parts.next()) {
            (None, _, _) => Self::Overview,
            (Some("m"), Some(member), None) => Self::Member(member.parse().ok()?),
            (Some("export.csv"), None, _) => Self::Export,
            (Some("settings"), None, _) => Self::Settings,
            (Some("c"), Some(channel), None) => Self::Channel(channel.parse().ok()?),
            (Some("category"), Some(category), None) => Self::Category(category.parse().ok()?),
            (Some("growth"), None, _) => Self::Growth,
            _ => return None,
        };
        Some((guild, route))
    }
}

/// A guild page's request, once checked.
struct CheckedGuildRequest<'a> {
    session: &'a Session,
    guild: u64,
    name: &'a str,
    viewer: &'a Viewer,
    config: GuildConfig,
    period: ReportPeriod,
}

impl CheckedGuildRequest<'_> {
    fn page<'p>(
        &'p self,
        ctx: &'p RequestContext<'_>,
        channel_names: &'p BTreeMap<u64, String>,
        member_names: &'p BTreeMap<u64, String>,
    ) -> GuildPage<'p> {
        GuildPage {
            base: ctx.base,
            session: self.session,
            guild: self.guild,
            guild_name: self.name,
            period: &self.period,
            channel_names,
            member_names,
            now_ms: ctx.now_ms,
            may_export: self.viewer.may_export(),
            may_see_members: self.viewer.may_see_others(),
            viewer: self.session.user,
        }
    }
}

/// Why a login could not finish.
#[derive(Debug, thiserror::Error)]
enum LoginError {
    #[error(transparent)]
    Discord(#[from] oauth::OAuthError),
    #[error("the servers the bot counts could not be read: {0}")]
    Store(engagement_store::StoreError),
}

/// Whether Discord answered Unknown Guild (the bot is not in it).
fn is_unknown_guild(error: &engagement_discord::Error) -> bool {
    matches!(error.kind(), engagement_discord::ErrorKind::Api { code: Some(10_004), .. })
}

/// What every route needs to know about the request.
struct RequestContext<'a> {
    base: &'a str,
    public: &'a str,
    cookies: Option<&'a str>,
    now_ms: u64,
}

impl RequestContext<'_> {
    fn secure(&self) -> bool {
        self.public.starts_with("https://")
    }
}

fn logout(ctx: &RequestContext<'_>) -> Response<Body> {
    redirect(
        StatusCode::SEE_OTHER,
        &format!("{}/", ctx.base),
        &[session::clear_cookie(SESSION_COOKIE, ctx.secure())],
    )
}

fn stylesheet() -> Response<Body> {
    let mut response = Response::new(Body::Text(pages::stylesheet()));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

fn no_icon() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    response
}

fn unavailable(base: &str, session: &Session) -> Response<Body> {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        &pages::problem(
            base,
            Some(session),
            "Try again",
            "The numbers could not be read just now.",
        ),
    )
}

/// Whether a request that changes something came from the dashboard's own pages. Browsers say where
/// a request comes from in `Sec-Fetch-Site`, which then decides: `same-origin`, or `none` (typed in).
/// Without it (an older browser), the `Origin` must be the public address's (the pages' `same-origin`
/// referrer policy lets browsers send it to us; `no-referrer` would make it `null`). A client that
/// sends neither (not a browser) is not a cross-site form, and passes.
fn same_origin(headers: &lambda_http::http::HeaderMap, public: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let ours = public.split_once("://").map_or("", |(scheme, rest)| {
        let host = rest.split('/').next().unwrap_or("");
        &public[..scheme.len() + 3 + host.len()]
    });
    headers
        .get(header::ORIGIN)
        .is_none_or(|o| o.to_str().is_ok_and(|o| o.eq_ignore_ascii_case(ours)))
}

/// The path part of the public address ("" at a domain's root).
fn base_path(public: &str) -> &str {
    let after_scheme = public.split_once("://").map_or(public, |(_, rest)| rest);
    after_scheme.find('/').map_or("", |i| after_scheme[i..].trim_end_matches('/'))
}

/// Where Discord sends the browser back to.
fn redirect_uri(public: &str) -> String {
    format!("{public}/callback")
}

fn page(status: StatusCode, html: &str) -> Response<Body> {
    let mut response = Response::new(Body::Text(html.to_owned()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn redirect(status: StatusCode, location: &str, cookies: &[String]) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in cookies {
        add_cookie(&mut response, cookie);
    }
    response
}

fn add_cookie(response: &mut Response<Body>, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn secure_headers(response: &mut Response<Body>) {
    let headers = response.headers_mut();
    headers
        .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The callback's address holds the code and state: no page sends its address to another site.
    // Same-origin requests keep theirs, so a browser's POST carries a real `Origin` (see
    // `same_origin`).
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// `a == b` in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A query string's parameters (`+` and percent escapes decoded; the last of a repeated name wins).
fn parse_query(query: &str) -> HashMap<String, String> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// A small map whose entries expire.
#[derive(Debug)]
struct Cache<K, V> {
    entries: Mutex<HashMap<K, (u64, V)>>,
}

/// Entries kept before expired ones are swept.
const CACHE_SWEEP_AT: usize = 1_000;

impl<K, V> Default for Cache<K, V> {
    fn default() -> Self {
        Self { entries: Mutex::new(HashMap::new()) }
    }
}

impl<K: std::hash::Hash + Eq, V: Clone> Cache<K, V> {
    fn get(&self, key: &K, now_ms: u64) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries.get(key).filter(|(until, _)| now_ms < *until).map(|(_, v)| v.clone())
    }

    /// Keeps `value` for `ttl_ms` from `now_ms`. Past [`CACHE_SWEEP_AT`] entries, the expired ones
    /// go; past twice that, everything (a bound on memory whatever the traffic).
    fn put(&self, key: K, value: V, now_ms: u64, ttl_ms: u64) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHE_SWEEP_AT {
                entries.retain(|_, (until, _)| *until > now_ms);
            }
            if entries.len() >= 2 * CACHE_SWEEP_AT {
                entries.clear();
            }
            entries.insert(key, (now_ms.saturating_add(ttl_ms), value));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_base_path_is_the_public_addresss_path() {
        assert_eq!(base_path("https://x.lambda-url.us-east-1.on.aws"), "");
        assert_eq!(
            base_path("http://127.0.0.1:9000/lambda-url/dashboard"),
            "/lambda-url/dashboard"
        );
        assert_eq!(
            base_path("http://127.0.0.1:9000/lambda-url/dashboard/"),
            "/lambda-url/dashboard"
        );
    }

    #[test]
    fn only_the_dashboards_own_pages_may_log_out() {
        let public = "http://127.0.0.1:9000/lambda-url/dashboard";
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = lambda_http::http::HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(*name, HeaderValue::from_static(value));
            }
            same_origin(&headers, public)
        };
        assert!(with(&[("origin", "http://127.0.0.1:9000"), ("sec-fetch-site", "same-origin")]));
        assert!(
            with(&[("origin", "null"), ("sec-fetch-site", "same-origin")]),
            "Sec-Fetch-Site decides"
        );
        assert!(with(&[("origin", "http://127.0.0.1:9000")]), "an older browser");
        assert!(with(&[]), "not a browser");
        assert!(!with(&[("origin", "http://127.0.0.1:9000"), ("sec-fetch-site", "cross-site")]));
        assert!(!with(&[("origin", "https://evil.test")]));
        assert!(!with(&[("origin", "http://127.0.0.1:9001")]), "another port");
        assert!(!with(&[("origin", "null")]), "a sandboxed or data: page");
        assert!(!with(&[("sec-fetch-site", "cross-site")]));
        assert!(!with(&[("sec-fetch-site", "same-site")]), "a sibling subdomain");
        assert!(same_origin(
            &[(header::ORIGIN, HeaderValue::from_static("https://x.on.aws"))].into_iter().collect(),
            "https://x.on.aws"
        ));
    }

    #[test]
    fn queries_are_decoded() {
        let q = parse_query("period=7d&from=2026-01-01&x=a+b%21&empty");
        assert_eq!(q["period"], "7d");
        assert_eq!(q["x"], "a b!");
        assert_eq!(q["empty"], "");
    }

    #[test]
    fn same_compares_whole_values() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }

    #[test]
    fn cached_entries_expire() {
        let cache: Cache<u8, &str> = Cache::default();
        cache.put(1, "a", 40, 60);
        assert_eq!(cache.get(&1, 99), Some("a"));
        assert_eq!(cache.get(&1, 100), None);
        // A sweep keeps what has not expired, whatever its time to live.
        for k in 2..=u8::try_from(CACHE_SWEEP_AT).unwrap_or(u8::MAX) {
            cache.put(k, "b", 0, 10);
        }
        cache.put(0, "c", 50, 1_000);
        assert_eq!(cache.get(&1, 60), Some("a"), "still live");
    }
}
