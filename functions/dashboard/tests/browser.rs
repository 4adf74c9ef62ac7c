//! The dashboard in a real browser: headless Chromium (Debian's `chromium`), driven over WebDriver by
//! Debian's `chromedriver` and Python's `selenium` from the venv (`tests/browser/drive.py`), against the
//! dashboard served over HTTP on the loopback address (`tests/browser/server.rs`), the fake Discord (its
//! OAuth2 login and bot API) and moto.
//!
//! A person logs in with a click, picks the guild, opens "the numbers behind the chart" and reads the
//! same numbers per day as the fake's ground truth; the charts show; the period links, the keyboard and
//! the from/to form change the period; nothing is logged in the console (no error, no Content-Security-
//! Policy violation); Tab reaches the login link and the period links, with a focus ring. Logging out,
//! the overview's address leads back to the login page; someone who is not in the guild gets the 403
//! page. Screenshots go to `target/browser/` (the overview at 1280×900, also whole and in dark mode,
//! and at a phone's 390×844; the picker at both sizes; the refusal), beside what the browser reported
//! (`report-*.json`) and chromedriver's logs.
//!
//! `scripts/setup` installs the browser and the venv; without them this test fails and says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "browser/server.rs"]
mod server;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use chrono::NaiveDate;
use dashboard::Dashboard;
use fake_discord::FakeDiscord;
use fake_discord::truth::TruthOptions;
use serde::Deserialize;
use tokio::net::TcpListener;

/// Debian's Chromium and its WebDriver (`scripts/setup` installs both).
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The longest a scenario may take in the browser before the test gives up on it.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_logs_in_reads_the_overview_and_is_refused_elsewhere() -> anyhow::Result<()> {
    let tools = Tools::find()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (fake, app, now_ms) = setup("dashboard-browser", &base).await?;
    let served = server::serve(listener, app, now_ms);

    let (guild, owner, name) = fake.with_world(|w| {
        let (id, guild) = w.guilds.iter().next().unwrap();
        (*id, guild.owner_id.unwrap(), guild.name.clone())
    });
    let truth = Truth::of(&fake, guild);
    let today = fake.clock().date_naive();
    let days = |n: i64| chrono::Duration::days(n);
    // The from/to form's range: none of the presets, inside the small world's two weeks.
    let range = (today - days(12), today - days(3));
    ensure!(truth.messages(range.0, range.1) > 0, "the fake world has messages in {range:?}");

    // The owner: the login, the overview and its periods, the logout.
    fake.set_oauth_user(Some(owner))?;
    let plan = Plan::new(&tools, "owner", &base, guild, &name, range);
    let report = tools.drive(&plan).await.context("the owner's scenario")?;
    let page = |name: &str| {
        report.pages.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no page {name}"))
    };
    let week = (today - days(6), today);
    for (name, first, last, current) in [
        ("default", Some(week.0), week.1, Some("7 days")),
        ("phone", Some(week.0), week.1, Some("7 days")),
        ("all", None, today, Some("All time")),
        ("30d", Some(today - days(29)), today, Some("30 days")),
        ("range", Some(range.0), range.1, None),
    ] {
        check_overview(page(name), &truth, first, last, current)
            .with_context(|| format!("the overview \"{name}\" as the browser showed it"))?;
    }
    // The drill-downs: a category's and a channel's pages show their own ground truth; growth and
    // retention are drawn.
    for (name, column) in [("category", Column::Category), ("channel", Column::Channel)] {
        let shown = page(name);
        let id: u64 = shown
            .url
            .split('/')
            .nth(6)
            .and_then(|s| s.split('?').next())
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("the {name}'s id in {}", shown.url))?;
        // All time starts on the server's first day with a message, the channel's or category's too.
        let since = truth.first_day();
        let scoped = Truth::of_scope(&fake, guild, column, id);
        check_overview(shown, &scoped, since, today, Some("All time"))
            .with_context(|| format!("the {name}'s page as the browser showed it"))?;
    }
    // Their own page: their messages on each day from their first, as the truth has them.
    let own = page("member");
    assert_eq!(own.h1.as_deref(), Some("Your activity"));
    let mine = Truth::of_records(&fake, guild, |r| r.user_id == owner);
    // A member's page starts on their first day with any count (a reaction given, say).
    let first = mine.first_counted().context("the owner wrote")?;
    let mut want: Vec<[String; 3]> = first
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|d| {
            let (messages, wrote) = mine.day(d);
            [d.to_string(), messages.to_string(), wrote.to_string()]
        })
        .collect();
    want.reverse();
    let shown: Vec<[String; 3]> = own
        .days
        .iter()
        .map(|cells| [0, 1, 2].map(|i| cells.get(i).cloned().flatten().unwrap_or_default()))
        .collect();
    assert_eq!(shown, want, "the owner's own day table");
    let settings = page("settings");
    assert_eq!(settings.h1.as_deref(), Some("Settings"));
    let growth = page("growth");
    assert_eq!(growth.h1.as_deref(), Some("Growth and retention"));
    let kinds: Vec<&str> = growth.charts.iter().filter_map(|c| c.kind.as_deref()).collect();
    assert_eq!(kinds, ["growth", "retention"], "{:?}", growth.charts);
    let members: BTreeSet<u64> =
        truth.in_range(today - days(400), today).flat_map(|d| d.1.iter().copied()).collect();
    let new = growth.figures.iter().find(|(l, _)| l == "New members").and_then(|(_, v)| v.clone());
    assert_eq!(
        new,
        Some(members.len().to_string()),
        "everyone is new in all time: {:?}",
        growth.figures
    );
    assert!(growth.scroll_width <= growth.viewport_width, "the growth page fits: {growth:?}");
    let logged_out = page("overview-logged-out");
    assert_eq!(logged_out.h1.as_deref(), Some("Server engagement"), "logged out: the login page");
    assert!(logged_out.url.ends_with(&format!("{base}/")), "{}", logged_out.url);
    check_keyboard(&report)?;
    check_screenshots(&report)?;
    let exchanges = served.exchanges();
    let after_logout: Vec<_> = exchanges
        .iter()
        .skip_while(|e| e.target != "/logout")
        .map(|e| (e.target.as_str(), e.status))
        .collect();
    let overview = format!("/g/{guild}");
    assert_eq!(
        after_logout.iter().take(4).copied().collect::<Vec<_>>(),
        [("/logout", 303), ("/", 200), (overview.as_str(), 303), ("/", 200)],
        "logging out, then opening the overview: {exchanges:#?}"
    );
    let errors: Vec<_> = exchanges.iter().filter(|e| e.status >= 400).collect();
    assert!(errors.is_empty(), "the owner met no error: {errors:#?}");
    assert_eq!(console_problems(&report), Vec::<String>::new(), "the owner's console");

    // Someone who is in another guild, not this one: their picker does not list it, its address is
    // refused with the 403 page.
    let outsider = fake.with_world(|w| {
        w.users.values().map(|u| u.id).find(|user| {
            !w.is_bot(*user)
                && !w.guilds[&guild].members.contains(user)
                && w.guilds.values().any(|g| g.members.contains(user))
        })
    });
    let outsider = outsider.context("the fake world has a member of another guild only")?;
    fake.set_oauth_user(Some(outsider))?;
    let served_before = served.exchanges().len();
    let report = tools
        .drive(&Plan { scenario: "outsider", ..plan })
        .await
        .context("the outsider's scenario")?;
    let picker = report.pages.iter().find(|p| p.name == "outsider-picker").unwrap();
    assert!(!picker.guild_links.is_empty(), "the outsider's picker lists their own guild");
    assert!(
        picker.guild_links.iter().all(|(_, href)| href.as_deref() != Some(overview.as_str())),
        "the outsider's picker does not list {guild}: {:?}",
        picker.guild_links
    );
    let refused = report.pages.iter().find(|p| p.name == "outsider-overview").unwrap();
    assert_eq!(refused.h1.as_deref(), Some("Not yours"));
    assert!(
        refused
            .paragraphs
            .iter()
            .flatten()
            .any(|p| p == "That server is not one of yours that this bot counts."),
        "the 403 page says why: {:?}",
        refused.paragraphs
    );
    let exchanges = served.exchanges();
    assert!(
        exchanges[served_before..].iter().any(|e| e.target == overview && e.status == 403),
        "{exchanges:#?}"
    );
    // The browser reports the 403 itself; nothing else may show.
    let problems = console_problems(&report);
    assert_eq!(problems.len(), 1, "the outsider's console: {problems:#?}");
    assert!(problems[0].contains(&format!("{overview} - Failed to load resource")), "{problems:?}");
    assert!(problems[0].contains("403"), "{problems:?}");

    println!("screenshots and reports in {}", tools.screenshots.display());
    Ok(())
}

/// The synced world of `support`, and the dashboard at `public_url` (plain HTTP: cookies without
/// `Secure`). Also the fake's clock as Unix ms: the dashboard's "now".
async fn setup(name: &str, public_url: &str) -> anyhow::Result<(FakeDiscord, Dashboard, u64)> {
    let support::Synced { fake, app, now_ms, .. } =
        support::synced_dashboard(name, public_url).await?;
    Ok((fake, app, now_ms))
}

/// The guild's ground truth per (UTC) day: messages, and who wrote.
struct Truth {
    days: BTreeMap<NaiveDate, (i64, BTreeSet<u64>)>,
}

/// Which column of the ground truth a page is limited to.
#[derive(Clone, Copy)]
enum Column {
    Category,
    Channel,
}

impl Truth {
    fn of(fake: &FakeDiscord, guild: u64) -> Self {
        Self::of_records(fake, guild, |_| true)
    }

    /// The records of one category or channel.
    fn of_scope(fake: &FakeDiscord, guild: u64, column: Column, id: u64) -> Self {
        Self::of_records(fake, guild, |r| match column {
            Column::Category => r.category_id == Some(id),
            Column::Channel => r.channel_id == id,
        })
    }

    fn of_records(
        fake: &FakeDiscord,
        guild: u64,
        keep: impl Fn(&fake_discord::truth::TruthRecord) -> bool,
    ) -> Self {
        let mut days: BTreeMap<NaiveDate, (i64, BTreeSet<u64>)> = BTreeMap::new();
        for r in fake.ground_truth(&TruthOptions::default()) {
            if r.guild_id == guild && keep(&r) {
                let day = days.entry(r.day).or_default();
                day.0 += i64::try_from(r.messages).unwrap();
                if r.messages > 0 {
                    day.1.insert(r.user_id);
                }
            }
        }
        Self { days }
    }

    fn in_range(
        &self,
        first: NaiveDate,
        last: NaiveDate,
    ) -> impl Iterator<Item = &(i64, BTreeSet<u64>)> {
        self.days.range(first..=last).map(|(_, d)| d)
    }

    fn messages(&self, first: NaiveDate, last: NaiveDate) -> i64 {
        self.in_range(first, last).map(|d| d.0).sum()
    }

    /// Messages and active members on `day`.
    fn day(&self, day: NaiveDate) -> (i64, usize) {
        self.days.get(&day).map_or((0, 0), |d| (d.0, d.1.len()))
    }

    /// The first day with any count.
    fn first_counted(&self) -> Option<NaiveDate> {
        self.days.keys().next().copied()
    }

    /// The first day with a message.
    fn first_day(&self) -> Option<NaiveDate> {
        self.days.iter().find(|(_, d)| d.0 > 0).map(|(day, _)| *day)
    }
}

/// An overview as the browser showed it, against the truth from `first` (`None`: all time) to `last`.
fn check_overview(
    page: &Page,
    truth: &Truth,
    first: Option<NaiveDate>,
    last: NaiveDate,
    current: Option<&str>,
) -> anyhow::Result<()> {
    // The day table, newest first: every day of the period, each with the truth's numbers.
    let rows: Vec<(NaiveDate, i64, usize)> = page
        .days
        .iter()
        .map(|cells| -> anyhow::Result<_> {
            let cell = |i: usize| cells.get(i).cloned().flatten().unwrap_or_default();
            Ok((
                cell(0).parse().with_context(|| format!("a day: {cells:?}"))?,
                cell(1).replace(',', "").parse().with_context(|| format!("messages: {cells:?}"))?,
                cell(2).replace(',', "").parse().with_context(|| format!("members: {cells:?}"))?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    ensure!(!rows.is_empty(), "the day table has rows");
    let shown_first = rows.last().map(|r| r.0).unwrap_or(last);
    let first = match first {
        Some(first) => first,
        None => {
            let earliest = truth.first_day().context("the truth has days")?;
            ensure!(
                shown_first == earliest,
                "all time starts on the first day with a message {earliest}"
            );
            shown_first
        }
    };
    let mut expected: Vec<(NaiveDate, i64, usize)> = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|day| {
            let (messages, members) = truth.day(day);
            (day, messages, members)
        })
        .collect();
    expected.reverse();
    if rows != expected {
        let differ: Vec<_> = rows.iter().zip(&expected).filter(|(a, b)| a != b).take(10).collect();
        bail!(
            "the day table ({} rows, {}..{}) is not the ground truth ({} days, {first}..{last}); \
             first differences (shown, truth): {differ:?}",
            rows.len(),
            shown_first,
            rows.first().map(|r| r.0).unwrap_or(last),
            expected.len()
        );
    }

    // The figures above the charts.
    let figure = |label: &str| -> anyhow::Result<i64> {
        let (_, value) = page
            .figures
            .iter()
            .find(|(l, _)| l == label)
            .with_context(|| format!("the figure {label}: {:?}", page.figures))?;
        Ok(value.as_deref().unwrap_or_default().replace(',', "").parse()?)
    };
    let members: BTreeSet<u64> =
        truth.in_range(first, last).flat_map(|d| d.1.iter().copied()).collect();
    ensure!(figure("Messages")? == truth.messages(first, last), "Messages: {:?}", page.figures);
    ensure!(
        figure("Active members")? == i64::try_from(members.len())?,
        "Active members ({} in the truth): {:?}",
        members.len(),
        page.figures
    );

    // Which period it says it is.
    ensure!(
        page.current_period.as_deref() == current,
        "the highlighted period: {:?}",
        page.current_period
    );
    let subtitle = page.subtitle.as_deref().unwrap_or_default();
    if current == Some("All time") {
        ensure!(subtitle.starts_with("All time"), "the period line: {subtitle:?}");
        ensure!(page.from.as_deref() == Some("") && page.to.as_deref() == Some(""), "{page:?}");
    } else {
        ensure!(subtitle.contains(&format!("{first} to {last}")), "the period line: {subtitle:?}");
        let (from, to) = (first.to_string(), last.to_string());
        ensure!(page.from.as_deref() == Some(from.as_str()), "From: {:?}", page.from);
        ensure!(page.to.as_deref() == Some(to.as_str()), "To: {:?}", page.to);
    }
    let labels: Vec<&str> = page.period_links.iter().filter_map(|(l, _)| l.as_deref()).collect();
    ensure!(
        labels == ["Today", "7 days", "30 days", "90 days", "365 days", "All time"],
        "{labels:?}"
    );

    // The charts (activity per day, the week's heatmap, the top lists' bars): drawn, inside the
    // page's width, named for screen readers. drive.py checked that each is displayed.
    let kinds: Vec<&str> = page.charts.iter().filter_map(|c| c.kind.as_deref()).collect();
    for kind in ["daily", "heatmap", "bars"] {
        ensure!(kinds.contains(&kind), "a {kind} chart among {kinds:?}");
    }
    for chart in &page.charts {
        ensure!(
            chart.width > 100.0 && chart.height > 50.0,
            "a chart is drawn at a size: {chart:?}"
        );
        ensure!(
            chart.left >= 0.0 && chart.right <= page.viewport_width + 0.5,
            "a chart fits the {} px width: {chart:?}",
            page.viewport_width
        );
        ensure!(chart.role.as_deref() == Some("img"), "{chart:?}");
        ensure!(chart.title.as_deref().is_some_and(|t| !t.trim().is_empty()), "{chart:?}");
    }
    ensure!(
        page.scroll_width <= page.viewport_width,
        "the page scrolls sideways: {} px wide in a {} px window",
        page.scroll_width,
        page.viewport_width
    );
    ensure!(page.duplicate_ids.is_empty(), "ids used twice: {:?}", page.duplicate_ids);
    Ok(())
}

/// Tab reaches the login link and the period links in order, each with a visible focus ring.
fn check_keyboard(report: &Report) -> anyhow::Result<()> {
    let landing = &report.keyboard["landing"];
    ensure!(landing.len() <= 2, "Tab reaches the login link second at most: {landing:?}");
    let overview = &report.keyboard["overview"];
    let texts: Vec<&str> = overview.iter().map(|f| f.text.as_str()).collect();
    let today = texts.iter().position(|t| *t == "Today").context("Tab reaches Today")?;
    ensure!(
        texts[today..] == ["Today", "7 days", "30 days"],
        "the period links in order: {texts:?}"
    );
    ensure!(today <= 3, "the period links come right after the header's: {texts:?}");
    for stop in landing.iter().chain(overview) {
        ensure!(stop.outline != "none", "a focus ring on {stop:?}");
    }
    Ok(())
}

/// Every screenshot the browser took is a PNG.
fn check_screenshots(report: &Report) -> anyhow::Result<()> {
    ensure!(report.screenshots.len() >= 4, "screenshots: {:?}", report.screenshots);
    for path in &report.screenshots {
        let bytes = std::fs::read(path).with_context(|| format!("reading {path}"))?;
        ensure!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1_000, "{path} is a PNG");
    }
    Ok(())
}

/// What the console said that a person would call a problem: errors and warnings, CSP violations.
fn console_problems(report: &Report) -> Vec<String> {
    report
        .console
        .iter()
        .filter(|e| {
            let message = e.message.as_deref().unwrap_or_default();
            matches!(e.level.as_deref(), Some("SEVERE" | "WARNING"))
                || e.source.as_deref() == Some("security")
                || message.contains("Content Security Policy")
        })
        .map(|e| {
            format!(
                "{} [{} {}] {}",
                e.page,
                e.level.as_deref().unwrap_or("?"),
                e.source.as_deref().unwrap_or("?"),
                e.message.as_deref().unwrap_or_default()
            )
        })
        .collect()
}

/// The browser, its driver and the venv's Python with selenium.
struct Tools {
    python: PathBuf,
    script: PathBuf,
    screenshots: PathBuf,
}

impl Tools {
    /// Fails, saying to run `scripts/setup`, when anything is missing.
    fn find() -> anyhow::Result<Self> {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            ensure!(
                Path::new(path).is_file(),
                "{path} not found: the browser test needs Debian's {package}. Run `scripts/setup` (as root; \
                 it installs chromium and chromium-driver with apt-get), or `scripts/test`, which runs it"
            );
        }
        let python = engagement_testkit::venv::python()?;
        let selenium = std::process::Command::new(&python)
            .args(["-c", "import selenium"])
            .output()
            .with_context(|| format!("running {}", python.display()))?;
        ensure!(
            selenium.status.success(),
            "selenium is not in the venv ({}): run `scripts/setup`. {}",
            python.display(),
            String::from_utf8_lossy(&selenium.stderr)
        );
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        Ok(Self {
            python,
            script: manifest.join("tests").join("browser").join("drive.py"),
            screenshots: engagement_testkit::workspace_root().join("target").join("browser"),
        })
    }

    /// Plays one scenario of `drive.py` and returns its report; a failure carries the script's output.
    async fn drive(&self, plan: &Plan) -> anyhow::Result<Report> {
        let started = Instant::now();
        let mut command = tokio::process::Command::new(&self.python);
        command
            .arg(&self.script)
            .arg(serde_json::to_string(plan)?)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so chromedriver and Chromium go with it on a time-out.
            .process_group(0)
            .kill_on_drop(true);
        let child =
            command.spawn().with_context(|| format!("starting {}", self.python.display()))?;
        let group = child.id().context("the driver's pid")?;
        let Ok(output) = tokio::time::timeout(SCENARIO_TIMEOUT, child.wait_with_output()).await
        else {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .status();
            bail!("the {} scenario took longer than {SCENARIO_TIMEOUT:?}", plan.scenario);
        };
        let output = output?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        ensure!(
            output.status.success(),
            "the browser's {} scenario failed ({}); screenshots and chromedriver's log in {}:\n{stderr}",
            plan.scenario,
            output.status,
            self.screenshots.display()
        );
        println!("the {} scenario took {:.1?} in the browser", plan.scenario, started.elapsed());
        // What the browser showed, kept beside the screenshots.
        let kept = self.screenshots.join(format!("report-{}.json", plan.scenario));
        std::fs::write(&kept, &output.stdout)
            .with_context(|| format!("writing {}", kept.display()))?;
        serde_json::from_slice(&output.stdout).with_context(|| {
            format!("the report of the {} scenario; stderr:\n{stderr}", plan.scenario)
        })
    }
}

/// What `drive.py` is asked to do.
#[derive(Debug, Clone, serde::Serialize)]
struct Plan {
    scenario: &'static str,
    base: String,
    guild: String,
    guild_name: String,
    chromium: &'static str,
    chromedriver: &'static str,
    screenshots: PathBuf,
    range: BTreeMap<&'static str, String>,
}

impl Plan {
    fn new(
        tools: &Tools,
        scenario: &'static str,
        base: &str,
        guild: u64,
        guild_name: &str,
        range: (NaiveDate, NaiveDate),
    ) -> Self {
        Self {
            scenario,
            base: base.to_owned(),
            guild: guild.to_string(),
            guild_name: guild_name.to_owned(),
            chromium: CHROMIUM,
            chromedriver: CHROMEDRIVER,
            screenshots: tools.screenshots.clone(),
            range: BTreeMap::from([("from", range.0.to_string()), ("to", range.1.to_string())]),
        }
    }
}

/// What `drive.py` reports.
#[derive(Debug, Deserialize)]
struct Report {
    pages: Vec<Page>,
    console: Vec<ConsoleEntry>,
    keyboard: BTreeMap<String, Vec<Focus>>,
    screenshots: Vec<String>,
}

/// One page as the browser showed it (see `OBSERVE` in drive.py).
#[derive(Debug, Deserialize)]
struct Page {
    name: String,
    url: String,
    h1: Option<String>,
    subtitle: Option<String>,
    paragraphs: Vec<Option<String>>,
    current_period: Option<String>,
    period_links: Vec<(Option<String>, Option<String>)>,
    from: Option<String>,
    to: Option<String>,
    figures: Vec<(String, Option<String>)>,
    days: Vec<Vec<Option<String>>>,
    charts: Vec<Chart>,
    guild_links: Vec<(Option<String>, Option<String>)>,
    viewport_width: f64,
    scroll_width: f64,
    duplicate_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Chart {
    kind: Option<String>,
    title: Option<String>,
    role: Option<String>,
    left: f64,
    right: f64,
    width: f64,
    height: f64,
}

/// Where Tab put the focus.
#[derive(Debug, Deserialize)]
struct Focus {
    text: String,
    outline: String,
}

#[derive(Debug, Deserialize)]
struct ConsoleEntry {
    page: String,
    level: Option<String>,
    source: Option<String>,
    message: Option<String>,
}
