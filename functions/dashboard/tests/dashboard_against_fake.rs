//! The dashboard against the fake Discord (its OAuth2 provider and the bot API, over real HTTP) and moto:
//! a member logs in through the whole authorization-code-with-PKCE flow, and the overview shows the
//! fake's ground truth; forged, expired and mismatched requests are refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use dashboard::Dashboard;
use dashboard::session::{SESSION_COOKIE, SESSION_TTL_MS, SessionKey};
use engagement_domain::{Day, GuildId, UserId};
use engagement_store::CounterStore;
use fake_discord::FakeDiscord;
use fake_discord::truth::TruthOptions;
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request};

const PUBLIC: &str = "https://dash.test";

struct Setup {
    fake: FakeDiscord,
    store: CounterStore,
    app: Dashboard,
    /// The fake's clock at the sync, as Unix ms: the dashboard's "now".
    now_ms: u64,
}

/// The synced world of `support`, the dashboard at [`PUBLIC`].
async fn setup(name: &str) -> anyhow::Result<Setup> {
    let support::Synced { fake, store, app, now_ms } =
        support::synced_dashboard(name, PUBLIC).await?;
    Ok(Setup { fake, store, app, now_ms })
}

/// A browser: a cookie jar in front of the dashboard.
#[derive(Default)]
struct Browser {
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: StatusCode,
    location: String,
    body: String,
    headers: lambda_http::http::HeaderMap,
}

impl Browser {
    async fn send(&mut self, s: &Setup, method: &str, path: &str, now_ms: u64) -> Page {
        let cookie: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut request = lambda_http::http::Request::builder()
            .method(method)
            .uri(format!("{PUBLIC}{path}"))
            .header(header::HOST, "dash.test");
        if !cookie.is_empty() {
            request = request.header(header::COOKIE, cookie.join("; "));
        }
        let request: Request = request.body(Body::Empty).unwrap();
        let response = s.app.handle(request, now_ms).await;
        for set in response.headers().get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = match response.body() {
            Body::Text(t) => t.clone(),
            Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        };
        Page { status: response.status(), location, body, headers: response.headers().clone() }
    }

    async fn get(&mut self, s: &Setup, path: &str) -> Page {
        self.send(s, "GET", path, s.now_ms).await
    }

    /// Starts a login and lets the fake Discord approve it as `user`: the callback's path and query.
    async fn authorize(&mut self, s: &Setup, user: u64) -> String {
        let start = self.get(s, "/login").await;
        assert_eq!(start.status, StatusCode::FOUND);
        assert!(start.location.starts_with(&s.fake.authorize_url()), "{}", start.location);
        let http =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let approved =
            http.get(format!("{}&login_as={user}", start.location)).send().await.unwrap();
        assert_eq!(approved.status().as_u16(), 302, "{:?}", approved.text().await);
        let back = approved.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned();
        back.strip_prefix(PUBLIC).unwrap().to_owned()
    }

    async fn login(&mut self, s: &Setup, user: u64) {
        let callback = self.authorize(s, user).await;
        let done = self.get(s, &callback).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert!(self.cookies.contains_key(SESSION_COOKIE));
    }
}

/// The guild and its owner, and a human member of it who is neither owner nor has any role.
fn people(fake: &FakeDiscord) -> (u64, u64, String) {
    fake.with_world(|w| {
        let (id, guild) = w.guilds.iter().next().unwrap();
        (*id, guild.owner_id.unwrap(), guild.name.clone())
    })
}

/// Messages per day in `guild`, from the ground truth.
fn truth_per_day(fake: &FakeDiscord, guild: u64) -> BTreeMap<Day, i64> {
    let mut days = BTreeMap::new();
    for r in fake.ground_truth(&TruthOptions::default()) {
        if r.guild_id == guild {
            *days.entry(Day::from_date(r.day)).or_default() += i64::try_from(r.messages).unwrap();
        }
    }
    days.retain(|_, n| *n > 0);
    days
}

/// The "day by day" table of an overview page.
fn day_table(html: &str) -> BTreeMap<Day, i64> {
    let table = &html[html.find("<table id=\"days\">").expect("the day table")..];
    table
        .split("<tr><td>")
        .skip(1)
        .filter_map(|row| {
            let (day, rest) = row.split_once("</td><td class=\"n\">")?;
            let (n, _) = rest.split_once("</td>")?;
            Some((day.parse().ok()?, n.replace(',', "").parse().ok()?))
        })
        .filter(|(_, n): &(Day, i64)| *n > 0)
        .collect()
}

#[tokio::test]
async fn the_owner_logs_in_and_the_overview_shows_the_ground_truth() -> anyhow::Result<()> {
    let s = setup("dashboard-owner").await?;
    let (guild, owner, name) = people(&s.fake);
    let mut browser = Browser::default();
    let landing = browser.get(&s, "/").await;
    assert!(landing.body.contains("Log in with Discord"));
    let csp = landing.headers[header::CONTENT_SECURITY_POLICY].to_str()?;
    assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"));

    browser.login(&s, owner).await;
    let session = browser.cookies[SESSION_COOKIE].clone();
    let picker = browser.get(&s, "/").await;
    assert!(picker.body.contains(&format!("href=\"/g/{guild}\"")), "{}", picker.body);
    assert!(picker.body.contains(&dashboard::svg::escape(&name)));

    let page = browser.get(&s, &format!("/g/{guild}?period=all")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(day_table(&page.body), truth_per_day(&s.fake, guild));
    assert!(page.body.contains("<svg"), "the charts are drawn");
    let total: i64 = truth_per_day(&s.fake, guild).values().sum();

    // A channel's page: that channel's days, as /channel-stats counts them (threads in their parent).
    let mut per_channel: BTreeMap<u64, BTreeMap<Day, i64>> = BTreeMap::new();
    for r in s.fake.ground_truth(&TruthOptions::default()) {
        if r.guild_id == guild && r.messages > 0 {
            *per_channel
                .entry(r.channel_id)
                .or_default()
                .entry(Day::from_date(r.day))
                .or_default() += i64::try_from(r.messages)?;
        }
    }
    let (channel, want) =
        per_channel.into_iter().max_by_key(|(_, d)| d.values().sum::<i64>()).unwrap();
    assert!(page.body.contains(&format!("/g/{guild}/c/{channel}?period=all")), "linked");
    let channel_page = browser.get(&s, &format!("/g/{guild}/c/{channel}?period=all")).await;
    assert_eq!(channel_page.status, StatusCode::OK, "{}", channel_page.body);
    assert_eq!(day_table(&channel_page.body), want);
    assert!(page.body.contains(&engagement_commands::format::number(total)));

    // Logging out clears the cookie; the old cookie itself still opens until it expires (it is not
    // stored anywhere), which is why sessions are short.
    let out = browser.send(&s, "POST", "/logout", s.now_ms).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(!browser.cookies.contains_key(SESSION_COOKIE));
    assert!(browser.get(&s, "/").await.body.contains("Log in with Discord"));
    let _ = session;
    Ok(())
}

#[tokio::test]
async fn forged_expired_and_mismatched_requests_are_refused() -> anyhow::Result<()> {
    let s = setup("dashboard-refusals").await?;
    let (guild, owner, _) = people(&s.fake);
    let overview = format!("/g/{guild}");

    // No session: sent to log in, nothing read.
    let mut stranger = Browser::default();
    let page = stranger.get(&s, &overview).await;
    assert_eq!((page.status, page.location.as_str()), (StatusCode::SEE_OTHER, "/"));

    // A session cookie signed with another key, and one whose payload was changed.
    let mut forger = Browser::default();
    forger.login(&s, owner).await;
    let genuine = forger.cookies[SESSION_COOKIE].clone();
    let other_key = SessionKey::new(vec![8; 32]).unwrap();
    let (_, tag) = genuine.split_once('.').unwrap();
    let forged_body = base64_of(&format!(
        "{{\"user\":{owner},\"name\":\"x\",\"guilds\":[{{\"id\":{guild},\"name\":\"x\"}}],\"expires_ms\":{}}}",
        u64::MAX
    ));
    for cookie in [
        other_key
            .seal(SESSION_COOKIE, &serde_json_session(owner, guild, s.now_ms + SESSION_TTL_MS)),
        format!("{forged_body}.{tag}"),
        "garbage".to_owned(),
    ] {
        forger.cookies.insert(SESSION_COOKIE.to_owned(), cookie);
        let page = forger.get(&s, &overview).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "a forged session is not a session");
    }

    // An expired session.
    forger.cookies.insert(SESSION_COOKIE.to_owned(), genuine);
    assert_eq!(forger.get(&s, &overview).await.status, StatusCode::OK);
    let later = forger.send(&s, "GET", &overview, s.now_ms + SESSION_TTL_MS).await;
    assert_eq!(later.status, StatusCode::SEE_OTHER, "expired");

    // A callback whose state is not the one sent, or without the login cookie.
    let mut victim = Browser::default();
    let callback = victim.authorize(&s, owner).await;
    let tampered = callback.replace("state=", "state=x");
    let page = victim.get(&s, &tampered).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(!victim.cookies.contains_key(SESSION_COOKIE));
    let mut elsewhere = Browser::default();
    assert_eq!(elsewhere.get(&s, &callback).await.status, StatusCode::BAD_REQUEST);

    // A member of the other guild only: this guild is not theirs, even though the bot counts it.
    let outsider = s.fake.with_world(|w| {
        w.users
            .values()
            .find(|u| !u.bot && !w.guilds[&guild].members.contains(&u.id))
            .map(|u| u.id)
            .expect("a member of the other guild only")
    });
    let mut b = Browser::default();
    b.login(&s, outsider).await;
    assert!(!b.get(&s, "/").await.body.contains(&format!("/g/{guild}\"")), "not in their picker");
    let page = b.get(&s, &overview).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(!page.body.contains("<table"), "nothing of the guild shown");
    Ok(())
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn serde_json_session(user: u64, guild: u64, expires_ms: u64) -> dashboard::session::Session {
    dashboard::session::Session {
        user,
        name: "x".into(),
        guilds: vec![dashboard::session::SessionGuild { id: guild, name: "x".into(), owner: true }],
        guilds_left_out: 0,
        expires_ms,
    }
}

/// Messages per day of `member` in `guild`, from the ground truth.
fn member_truth_per_day(fake: &FakeDiscord, guild: u64, member: u64) -> BTreeMap<Day, i64> {
    let mut days = BTreeMap::new();
    for r in fake.ground_truth(&TruthOptions::default()) {
        if r.guild_id == guild && r.user_id == member {
            *days.entry(Day::from_date(r.day)).or_default() += i64::try_from(r.messages).unwrap();
        }
    }
    days.retain(|_, n| *n > 0);
    days
}

#[tokio::test]
async fn member_pages_and_the_export_follow_the_commands_rules() -> anyhow::Result<()> {
    let s = setup("dashboard-members").await?;
    let (guild, owner, _) = people(&s.fake);
    // A human member without Administrator, Manage Server or View Server Insights, who wrote something.
    let gated = engagement_domain::visibility::ADMINISTRATOR
        | engagement_domain::visibility::MANAGE_GUILD
        | engagement_domain::visibility::VIEW_GUILD_INSIGHTS;
    let candidates: Vec<u64> = s.fake.with_world(|w| {
        let g = &w.guilds[&guild];
        g.members
            .iter()
            .copied()
            .filter(|u| !w.users[u].bot && g.permissions_of(*u) & gated == 0)
            .collect()
    });
    let mut wrote =
        candidates.into_iter().filter(|u| !member_truth_per_day(&s.fake, guild, *u).is_empty());
    let (plain, other) =
        (wrote.next().expect("a plain member who wrote"), wrote.next().expect("another"));
    s.fake.reset_stats();

    // The owner: another member's page equals that member's ground truth; the CSV has one row per
    // (day, channel, member) of the ground truth.
    let mut manager = Browser::default();
    manager.login(&s, owner).await;
    let page = manager.get(&s, &format!("/g/{guild}/m/{plain}?period=all")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(day_table(&page.body), member_truth_per_day(&s.fake, guild, plain));
    // Named as the server shows them (the bot reads the member), not by id.
    let name = s.fake.with_world(|w| w.users[&plain].username.clone());
    assert!(page.body.contains(&format!("<h1>{}</h1>", dashboard::svg::escape(&name))), "{name}");
    let overview = manager.get(&s, &format!("/g/{guild}?period=all")).await;
    assert!(overview.body.contains("Download CSV"));
    let csv = manager.get(&s, &format!("/g/{guild}/export.csv?period=all")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers[header::CONTENT_TYPE], "text/csv");
    assert!(
        csv.headers[header::CONTENT_DISPOSITION].to_str()?.starts_with("attachment; filename=")
    );
    let rows = csv.body.lines().skip(1).count();
    let truth = s
        .fake
        .ground_truth(&TruthOptions::default())
        .iter()
        .filter(|r| r.guild_id == guild)
        .count();
    assert_eq!(rows, truth, "one row per (day, channel, member)");

    // A plain member: their own page (no more than the ground truth: channels they cannot view are
    // left out), nobody else's, and no export.
    let mut member = Browser::default();
    member.login(&s, plain).await;
    let own = member.get(&s, &format!("/g/{guild}/m/{plain}?period=all")).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    let shown: i64 = day_table(&own.body).values().sum();
    let truth: i64 = member_truth_per_day(&s.fake, guild, plain).values().sum();
    assert!(0 < shown && shown <= truth, "{shown} of {truth}");
    let page = member.get(&s, &format!("/g/{guild}/m/{other}?period=all")).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "another member's page");
    assert!(!page.body.contains("<table"));
    let overview = member.get(&s, &format!("/g/{guild}?period=all")).await;
    assert!(!overview.body.contains("Download CSV") && !overview.body.contains("Members' pages"));
    let csv = member.get(&s, &format!("/g/{guild}/export.csv?period=all")).await;
    assert_eq!(csv.status, StatusCode::FORBIDDEN, "the export");
    assert!(!csv.body.contains("member_id"), "no CSV");

    // Once they opt out, as with /stats: their own page still shows what was counted before, with a
    // notice; nobody else's view of them shows anything.
    let (config, version) = s.store.guild_config_for_update(GuildId(guild)).await?;
    let mut config = config.unwrap_or_default();
    config.opted_out.insert(UserId(plain));
    s.store.put_guild_config(GuildId(guild), &config, version).await?;
    let own = member.get(&s, &format!("/g/{guild}/m/{plain}?period=all")).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert!(own.body.contains("You opted out"));
    assert_eq!(day_table(&own.body).values().sum::<i64>(), shown, "what was counted before");
    let seen = manager.get(&s, &format!("/g/{guild}/m/{plain}?period=all")).await;
    assert!(seen.body.contains("opted out") && !seen.body.contains("<table"), "{}", seen.body);

    // The settings, read only: for Manage Server, with the opt-out counted (not named).
    let settings = manager.get(&s, &format!("/g/{guild}/settings")).await;
    assert_eq!(settings.status, StatusCode::OK, "{}", settings.body);
    assert!(
        settings.body.contains("<dt>Members who opted out</dt><dd>1</dd>"),
        "{}",
        settings.body
    );
    assert!(!settings.body.contains(&plain.to_string()), "who opted out is not shown");
    let refused = member.get(&s, &format!("/g/{guild}/settings")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Two viewers' checks and the settings page's names: the guild's roles were read once. The
    // owner, once: their check brings their name, which the top members list then shows.
    let log: Vec<String> = s.fake.request_log().into_iter().map(|r| r.path).collect();
    let roles = format!("/api/v10/guilds/{guild}/roles");
    assert_eq!(log.iter().filter(|p| **p == roles).count(), 1, "{log:?}");
    let owner_read = format!("/api/v10/guilds/{guild}/members/{owner}");
    assert_eq!(log.iter().filter(|p| **p == owner_read).count(), 1, "{log:?}");
    Ok(())
}

/// The rows of the table `id` on a page: each row's cells, as text.
fn table_rows(html: &str, id: &str) -> Vec<Vec<String>> {
    let start = html.find(&format!("<table id=\"{id}\">")).unwrap_or_else(|| panic!("table {id}"));
    let table = &html[start..start + html[start..].find("</table>").unwrap()];
    table
        .split("<tr>")
        .skip(2)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let text = &cell[cell.find('>').unwrap() + 1..];
                    text[..text.find("</td>").unwrap()].replace(',', "")
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn growth_retention_and_category_pages_show_the_ground_truth() -> anyhow::Result<()> {
    let s = setup("dashboard-growth").await?;
    let (guild, owner, _) = people(&s.fake);
    let mut browser = Browser::default();
    browser.login(&s, owner).await;
    let overview = browser.get(&s, &format!("/g/{guild}?period=all")).await;
    assert!(overview.body.contains(&format!("/g/{guild}/growth?period=all")), "linked");

    // Growth: each day's DAU, WAU, MAU, new members and messages, as the participation truth has
    // them; after the last active day, nobody is active or new.
    let page = browser.get(&s, &format!("/g/{guild}/growth?period=all")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<svg"), "the charts are drawn");
    let truth: BTreeMap<String, Vec<String>> = s
        .fake
        .insights_truth(&TruthOptions::default())
        .into_iter()
        .filter(|r| r.guild_id == guild)
        .map(|r| {
            let row = [r.dau, r.wau, r.mau, r.new_members, r.messages].map(|n| n.to_string());
            (r.day.to_string(), row.to_vec())
        })
        .collect();
    assert!(truth.len() > 7, "a few weeks of activity");
    let shown: BTreeMap<String, Vec<String>> = table_rows(&page.body, "growth")
        .into_iter()
        .map(|r| (r[0].clone(), r[1..].to_vec()))
        .collect();
    for (day, row) in &shown {
        match truth.get(day) {
            Some(want) => assert_eq!(row, want, "{day}"),
            None => {
                assert!(day > truth.keys().next_back().unwrap(), "{day} before the last truth day");
                assert_eq!((&row[0], &row[3]), (&"0".to_owned(), &"0".to_owned()), "{day}");
            }
        }
    }
    assert!(truth.keys().all(|d| shown.contains_key(d)), "every day of the truth is shown");

    // Retention: each join week's new members, and the share of them active in each week after, from
    // the (day, member) ground truth.
    let mut active: BTreeMap<u64, BTreeSet<Day>> = BTreeMap::new();
    for r in s.fake.ground_truth(&TruthOptions::default()) {
        if r.guild_id == guild && r.messages > 0 {
            active.entry(r.user_id).or_default().insert(Day::from_date(r.day));
        }
    }
    let today = Day::from_date(
        chrono::DateTime::from_timestamp_millis(i64::try_from(s.now_ms)?).unwrap().date_naive(),
    );
    let monday = |d: Day| engagement_domain::insights::monday_of(d);
    let rows = table_rows(&page.body, "retention");
    assert_eq!(rows.len(), usize::from(engagement_commands::definition::DEFAULT_RETENTION_WEEKS));
    let mut followed = 0;
    for row in &rows {
        let week: Day = row[0].parse()?;
        let cohort: Vec<&BTreeSet<Day>> =
            active.values().filter(|days| monday(*days.first().unwrap()) == week).collect();
        assert_eq!(row[1], cohort.len().to_string(), "the week of {week}");
        for (k, cell) in row[2..].iter().enumerate() {
            let after = week.plus(7 * i32::try_from(k + 1)?);
            let want = if cohort.len() < engagement_commands::report::insights::MIN_COHORT
                || after > today
            {
                "–".to_owned()
            } else {
                followed += 1;
                let n = cohort.iter().filter(|d| d.range(after..=after.plus(6)).next().is_some());
                #[allow(clippy::cast_precision_loss)]
                let share = n.count() as f64 / cohort.len() as f64 * 100.0;
                format!("{share:.0}%")
            };
            assert_eq!(cell, &want, "the week of {week}, {} weeks after", k + 1);
        }
    }
    assert!(followed > 0, "some cohort is followed");

    // A category's page: the days of the channels in it (threads in their parent's), linked from the
    // overview.
    let mut per_category: BTreeMap<u64, BTreeMap<Day, i64>> = BTreeMap::new();
    for r in s.fake.ground_truth(&TruthOptions::default()) {
        if let (true, true, Some(category)) = (r.guild_id == guild, r.messages > 0, r.category_id) {
            *per_category.entry(category).or_default().entry(Day::from_date(r.day)).or_default() +=
                i64::try_from(r.messages)?;
        }
    }
    let (category, want) =
        per_category.into_iter().max_by_key(|(_, d)| d.values().sum::<i64>()).expect("a category");
    let link = format!("/g/{guild}/category/{category}?period=all");
    assert!(overview.body.contains(&link), "linked");
    let page = browser.get(&s, &link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(day_table(&page.body), want);
    let name = s.fake.with_world(|w| w.channels[&category].name.clone());
    assert!(page.body.contains(&format!("<h1>{}</h1>", dashboard::svg::escape(&name))));

    // Something that is not a category with counts says so, and shows nothing.
    let page = browser.get(&s, &format!("/g/{guild}/category/{owner}?period=all")).await;
    assert!(page.body.contains("Nothing was counted"), "{}", page.body);
    assert!(!page.body.contains("<table"));
    Ok(())
}

/// Log lines, as the function writes them in AWS (JSON).
#[derive(Clone, Default)]
struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_page_answered_5xx_logs_the_line_the_stacks_alarm_counts() -> anyhow::Result<()> {
    let s = setup("dashboard-5xx").await?;
    let (guild, owner, _) = people(&s.fake);
    let mut browser = Browser::default();
    browser.login(&s, owner).await;
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = engagement_startup::logging::subscriber(
        engagement_startup::logging::EnvFilter::new("info"),
        true,
        move || writer.clone(),
    );
    let _guard = tracing::subscriber::set_default(subscriber);

    // Discord failing while the viewer's roles are read: a page that says to try again, and one line.
    s.fake.inject(fake_discord::observe::Injection {
        route: None,
        response: fake_discord::observe::InjectedResponse::ServerError { status: 500 },
        times: 10,
    });
    let page = browser.get(&s, &format!("/g/{guild}")).await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "{}", page.body);
    assert!(page.body.contains("Try again"));
    let log = String::from_utf8(lines.0.lock().unwrap().clone())?;
    let counted: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["fields"]["message"] == dashboard::app::SERVER_ERROR_LOG)
        .collect();
    assert_eq!(counted.len(), 1, "{log}");
    assert_eq!(counted[0]["fields"]["status"], 503);
    assert_eq!(counted[0]["level"], "ERROR");

    // The stack's filter matches that line's message (CloudWatch's JSON pattern on `$.fields.message`).
    let template = include_str!("../../../infra/template.yaml");
    let pattern = format!(
        "FilterPattern: '{{ $.fields.message = \"{}\" }}'",
        dashboard::app::SERVER_ERROR_LOG
    );
    assert!(template.contains(&pattern), "{pattern}");

    // A refusal is not a server error.
    lines.0.lock().unwrap().clear();
    let refused = browser.get(&s, "/g/1").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let log = String::from_utf8(lines.0.lock().unwrap().clone())?;
    assert!(!log.contains(dashboard::app::SERVER_ERROR_LOG), "{log}");
    Ok(())
}
