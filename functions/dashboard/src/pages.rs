//! The pages as HTML: pure functions of what they show. Every value from Discord or the counters is
//! escaped ([`crate::svg::escape`]); pages load nothing but the dashboard's own stylesheet, and hold no
//! script (the Content-Security-Policy forbids both).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use engagement_commands::format;
use engagement_commands::report::insights::{Growth, Retention};
use engagement_commands::report::overview::{MemberOverview, Overview};
use engagement_commands::request::ReportPeriod;
use engagement_domain::{GuildConfig, Period, Scope};

use crate::session::Session;
use crate::svg::{self, escape};

/// The periods the picker offers, as the commands name them.
pub const PERIODS: [(&str, &str); 6] = [
    ("today", "Today"),
    ("7d", "7 days"),
    ("30d", "30 days"),
    ("90d", "90 days"),
    ("365d", "365 days"),
    ("all", "All time"),
];

/// The stylesheet: the page's rules and the charts'.
#[must_use]
pub fn stylesheet() -> String {
    format!("{PAGE_STYLE}\n{}", svg::STYLE)
}

const PAGE_STYLE: &str = "\
:root{color-scheme:light dark;--bg:#ffffff;--fg:#1f2328;--muted:#57606a;--accent:#3b49c9;--card:#f6f8fa;--line:#d0d7de}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b3;--accent:#8b9bff;--card:#161b22;--line:#30363d}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header,main,footer{max-width:72rem;margin:0 auto;padding:0.75rem 1rem}
header{display:flex;flex-wrap:wrap;gap:0.5rem 1rem;align-items:center;justify-content:space-between;border-bottom:1px solid var(--line)}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
h1{font-size:1.5rem;margin:0.5rem 0}
h2{font-size:1.15rem;margin:1.5rem 0 0.5rem}
.muted{color:var(--muted)}
.brand{font-weight:700;text-decoration:none;color:var(--fg)}
.periods{display:flex;flex-wrap:wrap;gap:0.25rem 0.5rem;padding:0;margin:0.5rem 0;list-style:none}
.periods a{display:inline-block;padding:0.25rem 0.6rem;border:1px solid var(--line);border-radius:1rem;text-decoration:none}
.periods a[aria-current]{background:var(--accent);color:var(--bg);border-color:var(--accent)}
form.range{display:flex;flex-wrap:wrap;gap:0.5rem;align-items:end;margin:0.5rem 0}
form.range label{display:flex;flex-direction:column;font-size:0.875rem}
input,button{font:inherit;padding:0.3rem 0.5rem;border:1px solid var(--line);border-radius:0.4rem;background:var(--card);color:var(--fg)}
button{cursor:pointer}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:0.75rem;margin:0.75rem 0;padding:0;list-style:none}
.figures li{background:var(--card);border:1px solid var(--line);border-radius:0.5rem;padding:0.6rem 0.8rem}
.figures strong{display:block;font-size:1.5rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(20rem,1fr));gap:1rem}
figure{margin:0;max-width:48rem}
figcaption{font-size:0.875rem;color:var(--muted)}
table{border-collapse:collapse;width:100%;max-width:36rem;font-size:0.9rem}
th,td{text-align:left;padding:0.2rem 0.5rem;border-bottom:1px solid var(--line)}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.guilds{list-style:none;padding:0}
.guilds li{margin:0.4rem 0}
.login{display:inline-block;padding:0.6rem 1.2rem;background:var(--accent);color:var(--bg);border-radius:0.5rem;text-decoration:none;font-weight:600}
.wide{overflow-x:auto}
.narrow{max-width:24rem}
.notice{background:var(--card);border-left:4px solid var(--accent);padding:0.5rem 0.8rem}
";

/// A whole page: `title`, the viewer (for the logout button) and `body`. `base`: the dashboard's path
/// prefix ("" at a domain's root).
#[must_use]
pub fn layout(base: &str, title: &str, session: Option<&Session>, body: &str) -> String {
    let who = session.map_or_else(String::new, |s| {
        format!(
            "<form method=\"post\" action=\"{base}/logout\"><span class=\"muted\">{}</span> \
             <button type=\"submit\">Log out</button></form>",
            escape(&s.name)
        )
    });
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Engagement</title><link rel=\"stylesheet\" href=\"{base}/static/app.css\"></head>\
         <body><header><a class=\"brand\" href=\"{base}/\">Engagement</a>{who}</header>\
         <main>{body}</main><footer class=\"muted\">Counted in this server's own AWS account.</footer>\
         </body></html>\n",
        escape(title)
    )
}

/// The page for a visitor who is not logged in.
#[must_use]
pub fn landing(base: &str, notice: Option<&str>) -> String {
    let notice =
        notice.map_or_else(String::new, |n| format!("<p class=\"notice\">{}</p>", escape(n)));
    layout(
        base,
        "Log in",
        None,
        &format!(
            "<h1>Server engagement</h1>{notice}<p>Messages and reactions per member, channel and day, for \
             the servers you share with the bot.</p><p><a class=\"login\" href=\"{base}/login\">Log in with \
             Discord</a></p><p class=\"muted\">Asks Discord who you are and which servers you are in; \
             nothing else.</p>"
        ),
    )
}

/// The guild picker.
#[must_use]
pub fn picker(base: &str, session: &Session) -> String {
    let body = if session.guilds.is_empty() {
        "<h1>Your servers</h1><p>None of your servers is counted by this bot yet. Once the bot is in a \
         server and has synced it, the server shows up here (log out and in again).</p>"
            .to_owned()
    } else {
        let mut guilds: Vec<&crate::session::SessionGuild> = session.guilds.iter().collect();
        guilds.sort_by_cached_key(|g| (g.name.to_lowercase(), g.id));
        let items: String = guilds
            .into_iter()
            .map(|g| format!("<li><a href=\"{base}/g/{}\">{}</a></li>", g.id, escape(&g.name)))
            .collect();
        let more = match session.guilds_left_out {
            0 => String::new(),
            n => format!(
                "<p class=\"muted\">{n} more of your servers are counted too, past what one login \
                 can list.</p>"
            ),
        };
        format!("<h1>Your servers</h1><ul class=\"guilds\">{items}</ul>{more}")
    };
    layout(base, "Your servers", Some(session), &body)
}

/// An error page's body.
#[must_use]
pub fn problem(base: &str, session: Option<&Session>, title: &str, text: &str) -> String {
    layout(
        base,
        title,
        session,
        &format!(
            "<h1>{}</h1><p>{}</p><p><a href=\"{base}/\">Back to your servers</a></p>",
            escape(title),
            escape(text)
        ),
    )
}

/// What a guild's pages need besides the numbers.
#[derive(Debug)]
pub struct GuildPage<'a> {
    /// The path prefix.
    pub base: &'a str,
    /// The viewer's session.
    pub session: &'a Session,
    /// The guild.
    pub guild: u64,
    /// Its name.
    pub guild_name: &'a str,
    /// The period shown.
    pub period: &'a ReportPeriod,
    /// Channel names by id (a channel missing here is named by its id).
    pub channel_names: &'a BTreeMap<u64, String>,
    /// Member names by id (a member missing here is named by their id).
    pub member_names: &'a BTreeMap<u64, String>,
    /// When the page was made (Unix ms).
    pub now_ms: u64,
    /// Whether the viewer may download the export (Manage Server).
    pub may_export: bool,
    /// Whether the viewer may open other members' pages.
    pub may_see_members: bool,
    /// The viewer.
    pub viewer: u64,
}

impl GuildPage<'_> {
    fn path(&self) -> String {
        format!("{}/g/{}", self.base, self.guild)
    }

    fn member_name(&self, member: u64) -> String {
        self.member_names.get(&member).cloned().unwrap_or_else(|| format!("Member {member}"))
    }

    fn channel_name(&self, channel: u64) -> String {
        self.channel_names.get(&channel).map_or_else(|| channel.to_string(), |n| format!("#{n}"))
    }

    fn category_name(&self, category: u64) -> String {
        self.channel_names.get(&category).cloned().unwrap_or_else(|| format!("Category {category}"))
    }

    /// A paragraph linking back to the server's overview, for the same period.
    fn back_link(&self) -> String {
        format!(
            "<p><a href=\"{}{}\">{}</a></p>",
            self.path(),
            self.period_query(),
            escape(self.guild_name)
        )
    }

    /// A list of links to pages under the guild's (`kind`: `c` or `category`), for the same period.
    fn links(&self, kind: &str, rows: &[(u64, String)], summary: &str) -> String {
        if rows.is_empty() {
            return String::new();
        }
        let items: String = rows
            .iter()
            .map(|(id, name)| {
                format!(
                    "<li><a href=\"{}/{kind}/{id}{}\">{}</a></li>",
                    self.path(),
                    self.period_query(),
                    escape(name)
                )
            })
            .collect();
        format!("<details><summary>{}</summary><ul>{items}</ul></details>", escape(summary))
    }

    /// The query that keeps the period on a link.
    fn period_query(&self) -> String {
        match (period_param(self.period.period), self.period.range) {
            (Some(p), _) => format!("?period={p}"),
            (None, Some(r)) => format!("?from={}&to={}", r.first, r.last),
            (None, None) => "?period=all".to_owned(),
        }
    }

    fn heading(&self, title: &str, counted_to_ms: Option<u64>) -> String {
        let fresh =
            capitalised(&format::freshness(counted_to_ms, self.now_ms, self.period.time_zone));
        format!(
            "<h1>{}</h1><p class=\"muted\">{} · {}</p>",
            escape(title),
            escape(&capitalised(&self.period.label())),
            escape(&fresh)
        )
    }
}

/// The server overview, or a channel's or category's (`scope`).
#[must_use]
pub fn overview(page: &GuildPage<'_>, scope: Scope, data: &Overview) -> String {
    let (title, here, mut body) = match scope {
        Scope::Channel(channel) => (
            page.channel_name(channel.0),
            format!("{}/c/{}", page.path(), channel.0),
            page.back_link(),
        ),
        Scope::Category(category) => (
            page.category_name(category.0),
            format!("{}/category/{}", page.path(), category.0),
            page.back_link(),
        ),
        Scope::Guild => (page.guild_name.to_owned(), page.path(), String::new()),
    };
    body.push_str(&page.heading(&title, data.counted_to_ms));
    body.push_str(&period_picker(&here, page.period));
    let _ = write!(
        body,
        "<ul class=\"figures\"><li>Messages<strong>{}</strong></li><li>Active members<strong>{}</strong>\
         </li></ul>",
        format::number(data.messages),
        format::number(i64::try_from(data.active_members).unwrap_or(i64::MAX)),
    );
    // The server's own pages, from the server's overview (a channel's page would suggest they are the
    // channel's).
    if scope == Scope::Guild {
        let mut links = format!(
            "<a href=\"{}/m/{}{}\">Your own activity</a> · <a href=\"{}/growth{}\">Growth and retention</a>",
            page.path(),
            page.viewer,
            page.period_query(),
            page.path(),
            page.period_query()
        );
        if page.may_export {
            let _ = write!(
                links,
                " · <a href=\"{}/export.csv{}\" download>Download CSV</a> · <a href=\"{}/settings\">Settings</a>",
                page.path(),
                page.period_query(),
                page.path()
            );
        }
        let _ = write!(body, "<p>{links}</p>");
    }
    let caption = format!("Messages and active members per day, {}", page.period.label());
    let _ = write!(
        body,
        "<h2>Activity</h2><figure>{}<figcaption>{}</figcaption></figure>",
        svg::daily(&data.days, &caption),
        escape(&caption)
    );
    let caption = format!("Messages by weekday and hour ({})", page.period.time_zone);
    let left_out = if data.heatmap_left_out > 0 {
        format!(
            " {} not in it: counted before hourly counts began, or held back to keep members who opted \
             out private.",
            format::number(data.heatmap_left_out)
        )
    } else {
        String::new()
    };
    let _ = write!(
        body,
        "<h2>When</h2><figure>{}<figcaption>{}.{}</figcaption></figure>",
        svg::heatmap(&data.heatmap, &caption),
        escape(&caption),
        escape(&left_out)
    );
    let channels: Vec<(String, i64)> =
        data.top_channels.iter().map(|(c, n)| (page.channel_name(c.0), n.messages)).collect();
    let channel_links = match scope {
        Scope::Guild | Scope::Category(_) => {
            let rows: Vec<(u64, String)> =
                data.top_channels.iter().map(|(c, _)| (c.0, page.channel_name(c.0))).collect();
            page.links("c", &rows, "Channels' pages")
        }
        Scope::Channel(_) => String::new(),
    };
    let members: Vec<(String, i64)> =
        data.top_members.iter().map(|(u, n)| (page.member_name(u.0), n.messages)).collect();
    let member_links = if page.may_see_members && !data.top_members.is_empty() {
        let items: String = data
            .top_members
            .iter()
            .map(|(u, _)| {
                format!(
                    "<li><a href=\"{}/m/{}{}\">{}</a></li>",
                    page.path(),
                    u.0,
                    page.period_query(),
                    escape(&page.member_name(u.0))
                )
            })
            .collect();
        format!("<details><summary>Members' pages</summary><ul>{items}</ul></details>")
    } else {
        String::new()
    };
    let categories = if data.top_categories.is_empty() {
        String::new()
    } else {
        let bars: Vec<(String, i64)> = data
            .top_categories
            .iter()
            .map(|(c, n)| (page.category_name(c.0), n.messages))
            .collect();
        let rows: Vec<(u64, String)> =
            data.top_categories.iter().map(|(c, _)| (c.0, page.category_name(c.0))).collect();
        format!(
            "<section><h2>Top categories</h2>{}{}</section>",
            svg::bars(&bars, "Messages per category"),
            page.links("category", &rows, "Categories' pages")
        )
    };
    let _ = write!(
        body,
        "<div class=\"grid\"><section><h2>Top channels</h2>{}{}</section>{categories}<section><h2>Top \
         members</h2>{}{}</section></div>",
        svg::bars(&channels, "Messages per channel"),
        channel_links,
        svg::bars(&members, "Messages per member"),
        member_links,
    );
    body.push_str(&day_table(&data.days, "Active members"));
    layout(page.base, &title, Some(page.session), &body)
}

/// One member's page.
#[must_use]
pub fn member(page: &GuildPage<'_>, member: u64, data: &MemberOverview) -> String {
    let title =
        if member == page.viewer { "Your activity".to_owned() } else { page.member_name(member) };
    let mut body = page.back_link();
    body.push_str(&page.heading(&title, data.counted_to_ms));
    if data.opted_out {
        body.push_str(
            "<p class=\"notice\">You opted out: nothing new is counted for you and you are left out of \
             the server's lists. <code>/engagement privacy erase</code> deletes what was counted before.</p>",
        );
    }
    body.push_str(&period_picker(&format!("{}/m/{member}", page.path()), page.period));
    let _ = write!(
        body,
        "<ul class=\"figures\"><li>Messages<strong>{}</strong></li><li>Reactions given<strong>{}</strong>\
         </li><li>Reactions received<strong>{}</strong></li></ul>",
        format::number(data.totals.messages),
        format::number(data.totals.reactions_given),
        format::number(data.totals.reactions_received),
    );
    let caption = format!("Messages per day, {}", page.period.label());
    let _ = write!(
        body,
        "<h2>Activity</h2><figure>{}<figcaption>{}</figcaption></figure>",
        svg::daily(&data.days, &caption),
        escape(&caption)
    );
    let channels: Vec<(String, i64)> =
        data.top_channels.iter().map(|(c, n)| (page.channel_name(c.0), n.messages)).collect();
    // As wide as one of the overview's top lists, not the page.
    let _ = write!(
        body,
        "<section class=\"narrow\"><h2>Where</h2>{}</section>",
        svg::bars(&channels, "Messages per channel")
    );
    body.push_str(&day_table(&data.days, "Wrote"));
    layout(page.base, &title, Some(page.session), &body)
}

/// Growth (DAU, WAU, MAU and new members per day over the period) and retention (the last join
/// weeks: `retention` is the member-facing reason when there is none to show).
#[must_use]
pub fn growth(
    page: &GuildPage<'_>,
    growth: &Growth,
    retention: Result<&Retention, &str>,
    counted_to_ms: Option<u64>,
) -> String {
    let mut body = page.back_link();
    body.push_str(&page.heading("Growth and retention", counted_to_ms));
    body.push_str(&period_picker(&format!("{}/growth", page.path()), page.period));
    let last = growth.figures.last();
    let figure = |f: fn(&engagement_domain::DayFigures) -> usize| {
        format::number(i64::try_from(last.map_or(0, f)).unwrap_or(i64::MAX))
    };
    let when = last.map_or_else(String::new, |d| {
        if d.day == page.period.today { " today".to_owned() } else { format!(" on {}", d.day) }
    });
    let _ = write!(
        body,
        "<ul class=\"figures\"><li>Active{when} (DAU)<strong>{}</strong></li><li>In 7 days (WAU)<strong>{}\
         </strong></li><li>In 30 days (MAU)<strong>{}</strong></li><li>New members<strong>{}</strong></li>\
         <li>Average DAU<strong>{}</strong></li></ul>",
        figure(|d| d.dau),
        figure(|d| d.wau),
        figure(|d| d.mau),
        format::number(i64::try_from(growth.new_members).unwrap_or(i64::MAX)),
        format::number(growth.average_dau),
    );
    if let Some(before) = growth.before {
        let mut compared = format!(
            "New members vs the {} days before: {}.",
            before.days,
            format::trend(
                i64::try_from(before.new_members).unwrap_or(i64::MAX),
                i64::try_from(growth.new_members).unwrap_or(i64::MAX)
            )
        );
        if let (Some(then), Some(now)) = (before.last, last) {
            let _ = write!(
                compared,
                " MAU since {}: {}.",
                then.day,
                format::trend(
                    i64::try_from(then.mau).unwrap_or(i64::MAX),
                    i64::try_from(now.mau).unwrap_or(i64::MAX)
                )
            );
        }
        let _ = write!(body, "<p>{}</p>", escape(&compared));
    }
    let caption = format!("Active and new members per day, {}", page.period.label());
    let _ = write!(
        body,
        "<h2>Growth</h2><figure>{}<figcaption>{}</figcaption></figure>",
        svg::growth(&growth.figures, &caption),
        escape(&caption)
    );
    let rows: String = growth
        .figures
        .iter()
        .rev()
        .map(|d| {
            format!(
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                d.day,
                d.dau,
                d.wau,
                d.mau,
                d.new_members,
                format::number(d.messages)
            )
        })
        .collect();
    let _ = write!(
        body,
        "<details><summary>The numbers behind the chart</summary><table id=\"growth\"><thead><tr>\
         <th>Day</th><th class=\"n\">DAU</th><th class=\"n\">WAU</th><th class=\"n\">MAU</th>\
         <th class=\"n\">New</th><th class=\"n\">Messages</th></tr></thead><tbody>{rows}</tbody></table>\
         </details>"
    );
    body.push_str("<h2>Retention</h2>");
    match retention {
        Ok(retention) => {
            let _ = write!(
                body,
                "<p>{} new members in the weeks of {} to {}, and the share of each week's active in \
                 each week after (the current week so far). A week with fewer than {} new members \
                 shows its size only.</p>",
                format::number(i64::try_from(retention.joined).unwrap_or(i64::MAX)),
                retention.first_week,
                retention.last_week,
                engagement_commands::report::insights::MIN_COHORT,
            );
            let averages: Vec<String> = retention
                .averages
                .iter()
                .map(|(k, average)| match average {
                    Some((percent, followed)) => format!(
                        "<li>Week {k}: <strong>{percent}%</strong> still active on average ({} \
                         followed)</li>",
                        format::number(i64::try_from(*followed).unwrap_or(i64::MAX))
                    ),
                    None => format!("<li>Week {k}: nothing to show yet</li>"),
                })
                .collect();
            let caption = "The share of each week's new members active in the weeks after";
            let _ = write!(
                body,
                "<ul>{}</ul><figure>{}<figcaption>{caption}</figcaption></figure>{}",
                averages.concat(),
                svg::retention(&retention.cohorts, caption),
                retention_table(&retention.cohorts)
            );
        }
        Err(reason) => {
            let _ = write!(body, "<p>{}</p>", escape(reason));
        }
    }
    layout(page.base, "Growth and retention", Some(page.session), &body)
}

/// The numbers behind the retention chart: a row per join week, its size and each week after's
/// share ("–" for a week not begun or a week shown by size only).
fn retention_table(cohorts: &[engagement_domain::Cohort]) -> String {
    let weeks = cohorts.iter().map(|c| c.active.len()).max().unwrap_or(0);
    let head: String = (1..=weeks).map(|k| format!("<th class=\"n\">Week {k}</th>")).collect();
    let rows: String = cohorts
        .iter()
        .map(|c| {
            let cells: String = (0..weeks)
                .map(|k| {
                    c.share(k + 1).map_or_else(
                        || "<td class=\"n\">–</td>".to_owned(),
                        |share| format!("<td class=\"n\">{:.0}%</td>", share * 100.0),
                    )
                })
                .collect();
            format!("<tr><td>{}</td><td class=\"n\">{}</td>{cells}</tr>", c.week, c.members)
        })
        .collect();
    format!(
        "<details><summary>The numbers behind the table</summary><div class=\"wide\"><table \
         id=\"retention\"><thead><tr><th>Joined the week of</th><th class=\"n\">New</th>{head}</tr>\
         </thead><tbody>{rows}</tbody></table></div></details>"
    )
}

/// The settings, read only (Manage Server): what `/engagement-config show` lists.
#[must_use]
pub fn settings(
    page: &GuildPage<'_>,
    config: &GuildConfig,
    role_names: &BTreeMap<u64, String>,
) -> String {
    let mut body = format!(
        "<p><a href=\"{}\">{}</a></p><h1>Settings</h1><p class=\"muted\">Read only: change them with \
         <code>/engagement-config</code> in the server.</p>",
        page.path(),
        escape(page.guild_name)
    );
    let excluded: Vec<String> =
        config.excluded_channels.iter().map(|c| escape(&page.channel_name(c.0))).collect();
    let _ = write!(
        body,
        "<dl><dt>Time zone</dt><dd>{}</dd><dt>Channels not counted</dt><dd>{}</dd>\
         <dt>Members who opted out</dt><dd>{}</dd></dl>",
        escape(&config.time_zone.to_string()),
        if excluded.is_empty() { "None".to_owned() } else { excluded.join(", ") },
        config.opted_out.len()
    );
    let rules: String = config
        .activity_roles
        .iter()
        .map(|rule| {
            let role = role_names
                .get(&rule.role.get())
                .map_or_else(|| format!("role {}", rule.role), |n| format!("@{n}"));
            format!("<li><strong>{}</strong>: {}</li>", escape(&role), escape(&rule.describe()))
        })
        .collect();
    let _ = write!(
        body,
        "<h2>Activity roles</h2>{}",
        if rules.is_empty() { "<p>None.</p>".to_owned() } else { format!("<ul>{rules}</ul>") }
    );
    let digest = config.digest.map_or_else(
        || "<p>Off.</p>".to_owned(),
        |d| {
            let when = match d.frequency {
                engagement_domain::digest::Frequency::Daily => format!("Daily at {:02}:00", d.hour),
                engagement_domain::digest::Frequency::Weekly => {
                    format!("Weekly on {} at {:02}:00", d.weekday, d.hour)
                }
            };
            format!(
                "<p>{} ({}), in {}.</p>",
                escape(&when),
                escape(&config.time_zone.to_string()),
                escape(&page.channel_name(d.channel.0))
            )
        },
    );
    let _ = write!(body, "<h2>Digest</h2>{digest}");
    layout(page.base, "Settings", Some(page.session), &body)
}

/// The period links and the from/to form.
fn period_picker(path: &str, period: &ReportPeriod) -> String {
    let current = period_param(period.period);
    let links: String = PERIODS
        .iter()
        .map(|(param, label)| {
            let here =
                if current.as_deref() == Some(*param) { " aria-current=\"page\"" } else { "" };
            format!("<li><a href=\"{path}?period={param}\"{here}>{label}</a></li>")
        })
        .collect();
    let (from, to) = period
        .range
        .map_or((String::new(), String::new()), |r| (r.first.to_string(), r.last.to_string()));
    format!(
        "<nav aria-label=\"Period\"><ul class=\"periods\">{links}</ul></nav>\
         <form class=\"range\" method=\"get\" action=\"{path}\"><label>From<input type=\"date\" name=\"from\" \
         value=\"{from}\" required></label><label>To<input type=\"date\" name=\"to\" value=\"{to}\" required>\
         </label><button type=\"submit\">Show</button></form>"
    )
}

/// The picker's name of a period, if it is one of [`PERIODS`].
fn period_param(period: Period) -> Option<String> {
    let name = match period {
        Period::Today => "today".to_owned(),
        Period::AllTime => "all".to_owned(),
        Period::LastDays(n) => format!("{n}d"),
        Period::Yesterday | Period::Dates(_) => return None,
    };
    PERIODS.iter().any(|(p, _)| *p == name).then_some(name)
}

/// The numbers behind the daily chart, as a table (for screen readers and for copying); `second`: the
/// second column's heading.
fn day_table(days: &[engagement_commands::report::activity::DayActivity], second: &str) -> String {
    let rows: String = days
        .iter()
        .rev()
        .map(|d| {
            format!(
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                d.day,
                format::number(d.messages),
                d.active_members
            )
        })
        .collect();
    format!(
        "<h2>Day by day</h2><details><summary>The numbers behind the chart</summary><table id=\"days\">\
         <thead><tr><th>Day</th><th class=\"n\">Messages</th><th class=\"n\">{}</th></tr></thead>\
         <tbody>{rows}</tbody></table></details>",
        escape(second)
    )
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}
