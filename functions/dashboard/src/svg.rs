//! Charts as inline SVG: the same four charts as the PNGs of `engagement_commands::chart` (daily activity,
//! hour-of-week heatmap, growth, retention), and horizontal bars for top-N lists.
//!
//! Each function is pure (data in, one complete `<svg>` element out) and follows the same rules:
//! - It scales to its container: `width="100%"` and a viewBox 600 units wide, so text of 20 units is
//!   12 px on a 360 px phone.
//! - It fits a strict Content-Security-Policy: no `style` attribute, no `<style>`, no script, no font or
//!   image to load. Colours are presentation attributes (`fill`, `stroke`: the light theme, so an SVG
//!   alone is readable) and class names that [`STYLE`], in the page's stylesheet, themes (a CSS rule
//!   beats a presentation attribute).
//! - It is accessible: `role="img"`, named by its `<title>` (the caption, which the page shows as the
//!   figure's caption: it is not drawn again) and described by a `<desc>` that says the data in words;
//!   every bar and cell has its own `<title>`, a native tooltip.
//! - Text from data (channel and member names, captions) goes through [`escape`].
//! - Empty input gives a chart that says "No data".

use std::fmt::Write as _;
use std::ops::Range;

use engagement_commands::format::{self, WEEKDAYS};
use engagement_commands::report::activity::DayActivity;
use engagement_domain::insights::monday_of;
use engagement_domain::{Cohort, Day, DayFigures, Metric};

/// Appends formatted markup to a `String` (growing a `String` cannot fail: the `Result` is always `Ok`).
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// The CSS rules of the charts' classes, for the page's stylesheet: the light theme (the same colours as
/// the SVGs' own attributes) and, under `prefers-color-scheme: dark`, the dark one (the page's own dark
/// background, `#0d1117`).
///
/// Contrast (WCAG 2 ratios against the chart's background, light / dark): text 15.8 / 16.0, axis labels
/// 6.4 / 7.8 (AA asks 4.5); bars and lines at least 4.5 / 5.9, non-empty cells at least 3.28 / 3.76 (AA
/// asks 3 for graphics); the text in a retention cell at least 4.8 / 5.0 against its cell. The tests
/// compute these from the rules below.
pub const STYLE: &str = "\
.chart{display:block;max-width:100%;height:auto}
.chart .bg { fill: #ffffff; }
.chart .name, .chart .value, .chart .empty { fill: #1f2328; }
.chart .label, .chart .note { fill: #57606a; }
.chart .gridline { stroke: #d0d7de; }
.chart .axis { stroke: #57606a; }
.chart .bar { fill: #5865f2; }
.chart .bar.new { fill: #6e7781; }
.chart .line { stroke: #b35900; }
.chart .dot { fill: #b35900; }
.chart .line.dau { stroke: #5865f2; }
.chart .line.wau { stroke: #b35900; }
.chart .line.mau { stroke: #1a7f37; }
.chart .dot.dau { fill: #5865f2; }
.chart .dot.wau { fill: #b35900; }
.chart .dot.mau { fill: #1a7f37; }
.chart .halo { stroke: #ffffff; }
.chart .cell.q0, .chart .swatch.q0 { fill: #eef0f3; }
.chart .cell.q1, .chart .swatch.q1 { fill: #7a84f2; }
.chart .cell.q2, .chart .swatch.q2 { fill: #4a55d6; }
.chart .cell.q3, .chart .swatch.q3 { fill: #2d37a8; }
.chart .cell.q4, .chart .swatch.q4 { fill: #1c2370; }
.chart .ink.q0, .chart .ink.q1 { fill: #1f2328; }
.chart .ink.q2, .chart .ink.q3, .chart .ink.q4 { fill: #ffffff; }
.chart .day:hover .hit, .chart .row:hover .hit { fill: #57606a; fill-opacity: 0.12; }
.chart .cell:hover { stroke: #1f2328; stroke-width: 2; }
@media (prefers-color-scheme: dark) {
.chart .bg { fill: #0d1117; }
.chart .name, .chart .value, .chart .empty { fill: #e6edf3; }
.chart .label, .chart .note { fill: #9da7b3; }
.chart .gridline { stroke: #30363d; }
.chart .axis { stroke: #9da7b3; }
.chart .bar { fill: #7c86f7; }
.chart .bar.new { fill: #8b949e; }
.chart .line { stroke: #f0913a; }
.chart .dot { fill: #f0913a; }
.chart .line.dau { stroke: #7c86f7; }
.chart .line.wau { stroke: #f0913a; }
.chart .line.mau { stroke: #3fb96a; }
.chart .dot.dau { fill: #7c86f7; }
.chart .dot.wau { fill: #f0913a; }
.chart .dot.mau { fill: #3fb96a; }
.chart .halo { stroke: #0d1117; }
.chart .cell.q0, .chart .swatch.q0 { fill: #21262d; }
.chart .cell.q1, .chart .swatch.q1 { fill: #5562dc; }
.chart .cell.q2, .chart .swatch.q2 { fill: #8a93ff; }
.chart .cell.q3, .chart .swatch.q3 { fill: #b0b6ff; }
.chart .cell.q4, .chart .swatch.q4 { fill: #dde0ff; }
.chart .ink.q0, .chart .ink.q1 { fill: #ffffff; }
.chart .ink.q2, .chart .ink.q3, .chart .ink.q4 { fill: #0d1117; }
.chart .day:hover .hit, .chart .row:hover .hit { fill: #9da7b3; fill-opacity: 0.16; }
.chart .cell:hover { stroke: #e6edf3; stroke-width: 2; }
}
";

// The light theme, as presentation attributes (the same values as the first half of `STYLE`).
const BG: &str = "#ffffff";
const TEXT: &str = "#1f2328";
const MUTED: &str = "#57606a";
const GRID: &str = "#d0d7de";
const BAR: &str = "#5865f2";
const LINE: &str = "#b35900";
const MAU: &str = "#1a7f37";
const NEW: &str = "#6e7781";
/// Heatmap and retention cells, from none (`q0`) to the most (`q4`).
const CELLS: [&str; 5] = ["#eef0f3", "#7a84f2", "#4a55d6", "#2d37a8", "#1c2370"];
/// Text on a cell of each class.
const INK: [&str; 5] = [TEXT, TEXT, "#ffffff", "#ffffff", "#ffffff"];

/// The viewBox width of every chart.
const W: f64 = 600.0;
/// Space around the content.
const PAD: f64 = 16.0;
/// Font size of labels and legends (12 px when the chart is 360 px wide).
const FONT: f64 = 20.0;
/// Height of the plot area of the time charts.
const PLOT_HEIGHT: f64 = 220.0;
/// The narrowest day slot whose line points get a marker (about a month of days).
const DOTS_FROM: f64 = 14.0;
/// The widest bar of a time chart.
const WIDEST_BAR: f64 = 48.0;
/// Room above a time chart's highest value, so a line's peak does not touch the top gridline.
const HEADROOM: f64 = 1.08;

/// The most bars a time chart draws: a longer series is binned by week, and if that is still too many
/// (more than about 3 1/2 years), by month. 184 days is half a year; at 360 px a daily bar is then
/// about 1.5 px wide.
pub const MAX_BARS: usize = 184;

/// What one bar of a time chart ([`daily`], [`growth`]) stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    /// A bar per day.
    Day,
    /// A bar per Monday-to-Sunday week (the first and last may be partial), of daily averages.
    Week,
    /// A bar per calendar month (the first and last may be partial), of daily averages.
    Month,
}

impl Granularity {
    /// The granularity of a chart of `days` consecutive days: a bar a day up to [`MAX_BARS`] days, then
    /// a bar a week while that is at most [`MAX_BARS`] bars, then a bar a month.
    #[must_use]
    pub const fn for_days(days: usize) -> Self {
        if days <= MAX_BARS {
            Self::Day
        } else if days.div_ceil(7) < MAX_BARS {
            // A series of n days touches at most ceil(n / 7) + 1 weeks.
            Self::Week
        } else {
            Self::Month
        }
    }

    /// Its word in "one bar a …".
    const fn noun(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }
}

/// `text` made safe for XML and HTML text and attribute values: `& < > " '` become entities, and
/// characters that XML 1.0 forbids (most control characters) become U+FFFD.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t'
            | '\n'
            | '\r'
            | '\u{20}'..='\u{D7FF}'
            | '\u{E000}'..='\u{FFFD}'
            | '\u{10000}'.. => {
                out.push(ch);
            }
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// Messages per day as bars (left scale), active members per day as a line (right scale), under
/// `caption`; each bar's tooltip says e.g. "2026-11-03: 123 messages, 17 active members".
///
/// Up to [`MAX_BARS`] days there is a bar per day; longer series have a bar per week or month (see
/// [`Granularity::for_days`]) whose height is the bin's messages per day, and whose line point is its
/// active members per day, both averaged over the bin's days (so partial weeks are not short bars); the
/// tooltip gives the bin's total too. The days are expected consecutive and in order, as
/// `DayActivity` series are.
#[must_use]
pub fn daily(days: &[DayActivity], caption: &str) -> String {
    const KIND: &str = "daily";
    let canvas = Canvas::new(caption, "Messages and active members per day");
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return canvas.no_data(KIND);
    };
    let dates: Vec<Day> = days.iter().map(|d| d.day).collect();
    let granularity = Granularity::for_days(days.len());
    let bins = bins(&dates, granularity);
    let totals: Vec<DailyBin> =
        bins.iter().map(|r| DailyBin::of(days.get(r.clone()).unwrap_or_default())).collect();

    let max_messages = totals.iter().map(DailyBin::messages_per_day).fold(0.0, f64::max);
    let max_active = totals.iter().map(DailyBin::active_per_day).fold(0.0, f64::max);
    let left = Scale::round(max_messages * HEADROOM);
    let right = Scale::matching(max_active * HEADROOM, &left);
    let frame = Frame::new(canvas.top + 40.0, &left, &right, days.len());

    let mut body = String::new();
    frame.axes(&mut body, &left, &right);
    let mut points = Vec::with_capacity(bins.len());
    for (range, bin) in bins.iter().zip(&totals) {
        let title = escape(&bin.title(granularity));
        let (x0, x1) = (frame.x(range.start), frame.x(range.end));
        let (bar_x, bar_width) = bar_span(x0, x1);
        let top = frame.y(bin.messages_per_day(), &left, bin.messages > 0);
        put!(
            body,
            r#"<g class="day"><title>{title}</title>{}<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{BAR}"/></g>"#,
            frame.hit(x0, x1),
            N(bar_x),
            N(top),
            N(bar_width),
            N(frame.bottom - top)
        );
        points.push(((x0 + x1) / 2.0, frame.y(bin.active_per_day(), &right, false), title));
    }
    polyline(&mut body, "line", LINE, 3.0, None, &points);
    if frame.x(1) - frame.x(0) >= DOTS_FROM || points.len() == 1 {
        dots(&mut body, "dot", LINE, &points);
    }
    let noun = if granularity == Granularity::Day { "" } else { " a day" };
    let mut legend = Legend::new(canvas.top);
    legend.bar_left("bar", BAR, &format!("Messages{noun}"));
    legend.line_right("line", LINE, None, &format!("Active members{noun}"));
    body.push_str(&legend.markup);
    let height = frame.x_labels(&mut body, &dates, &bins, granularity);

    let total = days.iter().fold(0_i64, |sum, d| sum.saturating_add(d.messages));
    let busiest = days.iter().max_by(|a, b| a.messages.cmp(&b.messages).then(b.day.cmp(&a.day)));
    let most_active =
        days.iter().max_by(|a, b| a.active_members.cmp(&b.active_members).then(b.day.cmp(&a.day)));
    let mut summary = if days.len() == 1 {
        format!(
            "{}: {}, {}.",
            first.day,
            format::count(first.messages, Metric::Messages),
            active_members(first.active_members)
        )
    } else {
        let n = i64::try_from(days.len()).unwrap_or(i64::MAX);
        format!(
            "{} days, {} to {}: {} in all, about {} a day.",
            format::number(n),
            first.day,
            last.day,
            format::count(total, Metric::Messages),
            format::number(rounded_div(total, n))
        )
    };
    if let (Some(busiest), Some(most_active), true) = (busiest, most_active, days.len() > 1) {
        put!(
            summary,
            " The busiest day was {} with {}; the most active members on a day: {} ({}).",
            busiest.day,
            format::count(busiest.messages, Metric::Messages),
            format::number(i64::try_from(most_active.active_members).unwrap_or(i64::MAX)),
            most_active.day
        );
    }
    summary.push_str(" Bars: messages (left scale); line: active members (right scale).");
    if granularity != Granularity::Day {
        put!(summary, " One bar a {}, with daily averages.", granularity.noun());
    }
    canvas.finish(KIND, &summary, height, &body)
}

/// A bin of the daily chart.
struct DailyBin {
    first: Day,
    last: Day,
    days: usize,
    messages: i64,
    active: usize,
}

impl DailyBin {
    fn of(days: &[DayActivity]) -> Self {
        let (first, last) = match (days.first(), days.last()) {
            (Some(a), Some(b)) => (a.day, b.day),
            _ => (Day::from_ordinal(0), Day::from_ordinal(0)),
        };
        Self {
            first,
            last,
            days: days.len(),
            messages: days.iter().fold(0, |sum, d| sum.saturating_add(d.messages)),
            active: days.iter().fold(0, |sum, d| sum.saturating_add(d.active_members)),
        }
    }

    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    fn messages_per_day(&self) -> f64 {
        self.messages.max(0) as f64 / self.days.max(1) as f64
    }

    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    fn active_per_day(&self) -> f64 {
        self.active as f64 / self.days.max(1) as f64
    }

    /// Its tooltip: "2026-11-03: 123 messages, 17 active members", or for a week or month
    /// "2026-11-02 to 2026-11-08: 1,234 messages (176 a day), 17 active members a day on average".
    fn title(&self, granularity: Granularity) -> String {
        if granularity == Granularity::Day {
            return format!(
                "{}: {}, {}",
                self.first,
                format::count(self.messages, Metric::Messages),
                active_members(self.active)
            );
        }
        let n = i64::try_from(self.days).unwrap_or(i64::MAX).max(1);
        let active = i64::try_from(self.active).unwrap_or(i64::MAX);
        format!(
            "{} to {}: {} ({} a day), {} active members a day on average",
            self.first,
            self.last,
            format::count(self.messages, Metric::Messages),
            format::number(rounded_div(self.messages, n)),
            format::number(rounded_div(active, n))
        )
    }
}

/// The hour-of-week heatmap of `grid` (messages per weekday, Monday first, and local hour) under
/// `caption`: 7 rows × 24 cells, each with a tooltip such as "Tue 18:00–19:00: 45 messages".
///
/// A cell's class (`q0`…`q4`) is its share of the busiest cell: `q0` for no messages, else `qk` for
/// (k−1)/4 < share ≤ k/4, so the busiest cell is always `q4` (the darkest in the light theme). The
/// legend gives each class's range of messages. A grid without messages says "No data".
#[must_use]
pub fn heatmap(grid: &[[i64; 24]; 7], caption: &str) -> String {
    const KIND: &str = "heatmap";
    let canvas = Canvas::new(caption, "Messages by weekday and hour");
    let busiest = grid.iter().flatten().copied().max().unwrap_or(0);
    if busiest <= 0 {
        return canvas.no_data(KIND);
    }
    let left = PAD + WEEKDAYS.iter().map(|d| text_width(d, FONT)).fold(0.0, f64::max) + 10.0;
    let cell = (W - PAD - left) / 24.0;
    let top = canvas.top + 4.0;
    let mut body = String::new();
    for (row, (hours, day)) in grid.iter().zip(WEEKDAYS).enumerate() {
        let y = top + cell * f(row);
        text(&mut body, "label", MUTED, PAD, y + cell / 2.0 + 7.0, Anchor::Start, day);
        for (hour, &n) in hours.iter().enumerate() {
            let q = share_of_max(n, busiest);
            put!(
                body,
                r#"<rect class="cell q{q}" x="{}" y="{}" width="{}" height="{}" rx="2" fill="{}"><title>{day} {hour:02}:00–{:02}:00: {}</title></rect>"#,
                N(left + cell * f(hour) + 1.0),
                N(y + 1.0),
                N(cell - 2.0),
                N(cell - 2.0),
                CELLS[q],
                hour + 1,
                format::count(n, Metric::Messages)
            );
        }
    }
    let bottom = top + cell * 7.0;
    for hour in (0..24).step_by(3) {
        let x = left + cell * (f(hour) + 0.5);
        text(&mut body, "label", MUTED, x, bottom + 24.0, Anchor::Middle, &hour.to_string());
    }
    let middle = f64::midpoint(left, W - PAD);
    text(&mut body, "label", MUTED, middle, bottom + 52.0, Anchor::Middle, "Hour (local time)");
    let mut items = vec![(0, "0".to_owned())];
    for q in 1..=4 {
        let (low, high) = class_bounds(q, busiest);
        let label = match low.cmp(&high) {
            std::cmp::Ordering::Less => format!("{}–{}", compact(low), compact(high)),
            std::cmp::Ordering::Equal => compact(low),
            // No count falls in this class (a busiest hour of fewer than 4 messages).
            std::cmp::Ordering::Greater => continue,
        };
        items.push((q, label));
    }
    let height = swatches(&mut body, "Messages:", &items, bottom + 68.0) + PAD;

    let total = grid.iter().flatten().fold(0_i64, |sum, n| sum.saturating_add(*n));
    let (row, hour) = busiest_cell(grid);
    let day_totals: Vec<i64> =
        grid.iter().map(|hours| hours.iter().fold(0_i64, |s, n| s.saturating_add(*n))).collect();
    let busiest_day = day_totals
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
        .map_or(0, |(i, _)| i);
    let name = |row: usize| format::WEEKDAY_NAMES.get(row).copied().unwrap_or("");
    let summary = format!(
        "{} by weekday and local hour. The busiest hour was {} {hour:02}:00–{:02}:00 with {}; the busiest \
         day was {} with {}. A cell's shade is its share of the busiest hour's messages.",
        format::count(total, Metric::Messages),
        name(row),
        hour + 1,
        format::count(busiest, Metric::Messages),
        name(busiest_day),
        format::count(day_totals.get(busiest_day).copied().unwrap_or(0), Metric::Messages),
    );
    canvas.finish(KIND, &summary, height, &body)
}

/// The class (0–4) of `n` against the busiest value `max`: 0 for none, else ceil(4·n/max).
fn share_of_max(n: i64, max: i64) -> usize {
    if n <= 0 || max <= 0 {
        return 0;
    }
    let (n, max) = (i128::from(n), i128::from(max));
    usize::try_from(((4 * n + max - 1) / max).clamp(1, 4)).unwrap_or(4)
}

/// The counts of heatmap class `q` (1–4) when the busiest cell has `max`: (q−1)/4 < n/max ≤ q/4, that
/// is from floor((q−1)·max/4) + 1 to floor(q·max/4) (empty when the first is larger).
fn class_bounds(q: usize, max: i64) -> (i64, i64) {
    let (q, max) = (i128::try_from(q.min(4)).unwrap_or(4), i128::from(max.max(0)));
    let low = i64::try_from((q - 1) * max / 4 + 1).unwrap_or(i64::MAX);
    let high = i64::try_from(q * max / 4).unwrap_or(i64::MAX);
    (low, high)
}

/// The (weekday, hour) of the busiest cell, the earliest in the week on ties.
fn busiest_cell(grid: &[[i64; 24]; 7]) -> (usize, usize) {
    let mut best = (0, 0, i64::MIN);
    for (row, hours) in grid.iter().enumerate() {
        for (hour, &n) in hours.iter().enumerate() {
            if n > best.2 {
                best = (row, hour, n);
            }
        }
    }
    (best.0, best.1)
}

/// Horizontal bars of `rows` (a label and a value each, in the order given: top channels, top members)
/// under `caption`: the label above its bar, the value at its end; a row's tooltip has the whole label.
/// Labels too long for the width are cut with "…"; negative values draw no bar.
#[must_use]
pub fn bars(rows: &[(String, i64)], caption: &str) -> String {
    const KIND: &str = "bars";
    const ROW: f64 = 56.0;
    let canvas = Canvas::new(caption, "Top list");
    if rows.is_empty() {
        return canvas.no_data(KIND);
    }
    let max = rows.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let values: Vec<String> = rows.iter().map(|(_, v)| format::number(*v)).collect();
    let reserve = values.iter().map(|v| text_width(v, FONT)).fold(0.0, f64::max) + 12.0;
    let span = (W - 2.0 * PAD - reserve).max(1.0);
    let mut body = String::new();
    let mut y = canvas.top;
    for ((label, value), shown) in rows.iter().zip(&values) {
        #[allow(clippy::cast_precision_loss)] // a ratio: precision does not matter
        let share = (*value).max(0) as f64 / max as f64;
        let length = if *value > 0 { (share * span).max(1.0) } else { 0.0 };
        put!(
            body,
            r#"<g class="row"><title>{}: {shown}</title><rect class="hit" x="{PAD}" y="{}" width="{}" height="{}" fill="none" pointer-events="all"/>"#,
            escape(label),
            N(y),
            N(W - 2.0 * PAD),
            N(ROW - 4.0)
        );
        let name = clip(label, W - 2.0 * PAD, FONT);
        text(&mut body, "name", TEXT, PAD, y + 20.0, Anchor::Start, &name);
        put!(
            body,
            r#"<rect class="bar" x="{PAD}" y="{}" width="{}" height="20" rx="2" fill="{BAR}"/>"#,
            N(y + 28.0),
            N(length)
        );
        text(&mut body, "value", TEXT, PAD + length + 8.0, y + 45.0, Anchor::Start, shown);
        body.push_str("</g>");
        y += ROW;
    }
    let listed: Vec<String> = rows
        .iter()
        .zip(&values)
        .take(10)
        .map(|((label, _), value)| format!("{label}: {value}"))
        .collect();
    let mut summary = format!("{} entries. {}", rows.len(), listed.join("; "));
    if rows.len() > listed.len() {
        put!(summary, "; and {} more", rows.len() - listed.len());
    }
    summary.push('.');
    canvas.finish(KIND, &summary, y + 8.0, &body)
}

/// The growth chart of `days` under `caption`, as `engagement_commands::chart::growth_png` draws it:
/// DAU, WAU and MAU as lines (left scale; WAU dashed), new members as bars (right scale). The lines have
/// a point per day; the bars are binned like [`daily`]'s beyond [`MAX_BARS`] days (new members per day,
/// averaged over the bin). Each bar's tooltip has the day's (or the bin's) figures.
#[must_use]
pub fn growth(days: &[DayFigures], caption: &str) -> String {
    const KIND: &str = "growth";
    let canvas = Canvas::new(caption, "Active and new members per day");
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return canvas.no_data(KIND);
    };
    let dates: Vec<Day> = days.iter().map(|d| d.day).collect();
    let granularity = Granularity::for_days(days.len());
    let bins = bins(&dates, granularity);
    let peak = days.iter().map(|d| d.dau.max(d.wau).max(d.mau)).max().unwrap_or(0);
    let left = Scale::round(f(peak) * HEADROOM);
    let new_per_day = |r: &Range<usize>| {
        let slice = days.get(r.clone()).unwrap_or_default();
        f(slice.iter().map(|d| d.new_members).sum::<usize>()) / f(slice.len().max(1))
    };
    let right = Scale::matching(bins.iter().map(new_per_day).fold(0.0, f64::max) * HEADROOM, &left);
    let frame = Frame::new(canvas.top + 40.0, &left, &right, days.len());

    let mut body = String::new();
    frame.axes(&mut body, &left, &right);
    let mut titles = Vec::with_capacity(days.len());
    for range in &bins {
        let slice = days.get(range.clone()).unwrap_or_default();
        let title = escape(&growth_title(slice, granularity));
        let (x0, x1) = (frame.x(range.start), frame.x(range.end));
        let (bar_x, bar_width) = bar_span(x0, x1);
        let value = new_per_day(range);
        let top = frame.y(value, &right, value > 0.0);
        put!(
            body,
            r#"<g class="day"><title>{title}</title>{}<rect class="bar new" x="{}" y="{}" width="{}" height="{}" fill="{NEW}"/></g>"#,
            frame.hit(x0, x1),
            N(bar_x),
            N(top),
            N(bar_width),
            N(frame.bottom - top)
        );
        titles.extend(std::iter::repeat_n(title, slice.len()));
    }
    for GrowthLine { class, colour, width, dashes, value } in GROWTH_LINES {
        let points: Vec<(f64, f64, String)> = days
            .iter()
            .zip(&titles)
            .enumerate()
            .map(|(i, (d, title))| {
                let x = f64::midpoint(frame.x(i), frame.x(i + 1));
                (x, frame.y(f(value(d)), &left, false), title.clone())
            })
            .collect();
        polyline(&mut body, &format!("line {class}"), colour, width, dashes, &points);
        if frame.x(1) - frame.x(0) >= DOTS_FROM || points.len() == 1 {
            dots(&mut body, &format!("dot {class}"), colour, &points);
        }
    }
    let mut legend = Legend::new(canvas.top);
    legend.line_left("line dau", BAR, None, "DAU");
    legend.line_left("line wau", LINE, Some("9 5"), "WAU");
    legend.line_left("line mau", MAU, None, "MAU");
    let noun = if granularity == Granularity::Day { "" } else { " a day" };
    legend.bar_right("bar new", NEW, &format!("New members{noun}"));
    body.push_str(&legend.markup);
    let height = frame.x_labels(&mut body, &dates, &bins, granularity);

    let joined: usize = days.iter().map(|d| d.new_members).sum();
    let figures = |d: &DayFigures| {
        format!(
            "{} active that day (DAU), {} in the last 7 days (WAU), {} in the last 30 (MAU)",
            number(d.dau),
            number(d.wau),
            number(d.mau)
        )
    };
    let mut summary = if days.len() == 1 {
        format!("{}: {}.", first.day, figures(first))
    } else {
        format!(
            "{} days, {} to {}. On {}: {}; on {}: {}.",
            number(days.len()),
            first.day,
            last.day,
            last.day,
            figures(last),
            first.day,
            figures(first)
        )
    };
    put!(summary, " {} in all", new_members(joined));
    match days
        .iter()
        .filter(|d| d.new_members > 0)
        .max_by(|a, b| a.new_members.cmp(&b.new_members).then(b.day.cmp(&a.day)))
    {
        Some(most) if days.len() > 1 => {
            put!(summary, ", the most on {} ({}).", most.day, number(most.new_members));
        }
        _ => summary.push('.'),
    }
    summary.push_str(" Lines: DAU, WAU and MAU (left scale); bars: new members (right scale).");
    if granularity != Granularity::Day {
        put!(summary, " One bar a {}, with daily averages.", granularity.noun());
    }
    canvas.finish(KIND, &summary, height, &body)
}

/// A line of the growth chart.
struct GrowthLine {
    class: &'static str,
    colour: &'static str,
    width: f64,
    dashes: Option<&'static str>,
    value: fn(&DayFigures) -> usize,
}

/// The growth chart's lines, back to front (as the PNG draws them); WAU dashed, so the three differ by
/// more than colour.
const GROWTH_LINES: [GrowthLine; 3] = [
    GrowthLine { class: "mau", colour: MAU, width: 3.5, dashes: None, value: |d| d.mau },
    GrowthLine { class: "wau", colour: LINE, width: 3.0, dashes: Some("9 5"), value: |d| d.wau },
    GrowthLine { class: "dau", colour: BAR, width: 2.5, dashes: None, value: |d| d.dau },
];

/// A growth bar's tooltip: the day's figures, or a bin's new members and its last day's figures.
fn growth_title(days: &[DayFigures], granularity: Granularity) -> String {
    let (Some(first), Some(last)) = (days.first(), days.last()) else { return String::new() };
    let figures =
        format!("DAU {}, WAU {}, MAU {}", number(last.dau), number(last.wau), number(last.mau));
    if granularity == Granularity::Day {
        return format!("{}: {}, {figures}", first.day, new_members(first.new_members));
    }
    let joined: usize = days.iter().map(|d| d.new_members).sum();
    let n = i64::try_from(days.len()).unwrap_or(i64::MAX);
    format!(
        "{} to {}: {} ({} a day); on {}: {figures}",
        first.day,
        last.day,
        new_members(joined),
        format::number(rounded_div(i64::try_from(joined).unwrap_or(i64::MAX), n)),
        last.day
    )
}

/// The retention table of `cohorts` under `caption`, as `engagement_commands::chart::retention_png`
/// draws it: a row per join week (its Monday and its size), a column per week after it, each cell the
/// share of the cohort active that week, as text and shade: `q0` for 0 %, else `qk` for
/// (k−1)/4 < share ≤ k/4. A week that has not begun (or a cohort shown by size only) has no cell; a
/// cohort without members shows "–". With more than about 9 columns (the commands follow 8 weeks) the
/// cells are too narrow for text and only their tooltips say the share.
#[must_use]
pub fn retention(cohorts: &[Cohort], caption: &str) -> String {
    const KIND: &str = "retention";
    const ROW: f64 = 36.0;
    let canvas = Canvas::new(caption, "Retention by join week");
    let (Some(first), Some(last)) = (cohorts.first(), cohorts.last()) else {
        return canvas.no_data(KIND);
    };
    let columns = cohorts.iter().map(|c| c.active.len()).max().unwrap_or(0).max(1);
    let spans_years = first.week.month().year != last.week.month().year;
    let labels: Vec<String> = cohorts
        .iter()
        .map(|c| {
            let date = c.week.date().format(if spans_years { "%Y-%m-%d" } else { "%b %d" });
            format!("{date} ({})", number(c.members))
        })
        .collect();
    let label_width = labels
        .iter()
        .map(String::as_str)
        .chain(["Joined"])
        .map(|l| text_width(l, FONT))
        .fold(0.0, f64::max)
        .min(W * 0.4)
        + 12.0;
    let left = PAD + label_width;
    let cell = (W - PAD - left) / f(columns);
    let size = ((cell - 6.0) / text_width("100%", 1.0)).min(FONT);
    // Below 16 units (under 10 px on a 360 px screen) the shares are left to the tooltips.
    let show_text = size >= 16.0;

    let mut body = String::new();
    let middle = f64::midpoint(left, W - PAD);
    text(
        &mut body,
        "label",
        MUTED,
        middle,
        canvas.top + 18.0,
        Anchor::Middle,
        "Weeks after joining",
    );
    text(&mut body, "label", MUTED, PAD, canvas.top + 46.0, Anchor::Start, "Joined");
    let every = (text_width("26", FONT) + 8.0).div_euclid(cell).max(0.0) + 1.0;
    let every = usize::try_from(every as u64).unwrap_or(1).max(1);
    for k in (0..columns).step_by(every) {
        let x = left + cell * (f(k) + 0.5);
        text(&mut body, "label", MUTED, x, canvas.top + 46.0, Anchor::Middle, &(k + 1).to_string());
    }
    let top = canvas.top + 58.0;
    for (i, (cohort, label)) in cohorts.iter().zip(&labels).enumerate() {
        let y = top + ROW * f(i);
        let clipped = clip(label, label_width - 8.0, FONT);
        text(&mut body, "name", TEXT, PAD, y + 25.0, Anchor::Start, &clipped);
        let who = format!("Joined the week of {} ({})", cohort.week, new_members(cohort.members));
        for k in 0..columns {
            let Some(Some(active)) = cohort.active.get(k).copied() else { continue };
            let (q, shown, title) = match cohort.share(k + 1) {
                Some(share) => {
                    let percent = format!("{:.0}%", (share * 100.0).clamp(0.0, 100.0));
                    let title = format!(
                        "{who}: {} active in week {} after joining ({percent})",
                        number(active),
                        k + 1
                    );
                    (share_class(share), percent, title)
                }
                None => (0, "–".to_owned(), format!("{who}: no members to follow")),
            };
            let x = left + cell * f(k);
            put!(
                body,
                r#"<rect class="cell q{q}" x="{}" y="{}" width="{}" height="{}" rx="2" fill="{}"><title>{}</title></rect>"#,
                N(x + 1.5),
                N(y + 2.0),
                N(cell - 3.0),
                N(ROW - 4.0),
                CELLS[q],
                escape(&title)
            );
            if show_text {
                put!(
                    body,
                    r#"<text class="ink q{q}" x="{}" y="{}" text-anchor="middle" font-size="{}" fill="{}" pointer-events="none">{shown}</text>"#,
                    N(x + cell / 2.0),
                    N(y + ROW / 2.0 + size * 0.35),
                    N(size),
                    INK[q]
                );
            }
        }
    }
    let items: Vec<(usize, String)> = ["0%", "≤ 25%", "≤ 50%", "≤ 75%", "≤ 100%"]
        .iter()
        .enumerate()
        .map(|(q, label)| (q, (*label).to_owned()))
        .collect();
    let bottom = top + ROW * f(cohorts.len());
    let height = swatches(&mut body, "Still active:", &items, bottom + 16.0) + PAD;

    let joined: usize = cohorts.iter().map(|c| c.members).sum();
    let mut summary = format!(
        "{} weekly {}, {} to {}, {} in all: the share of each week's new members active in each week \
         after.",
        cohorts.len(),
        if cohorts.len() == 1 { "cohort" } else { "cohorts" },
        first.week,
        last.week,
        new_members(joined)
    );
    for k in [1, 4] {
        let (active, followed) = cohorts
            .iter()
            .filter(|c| c.members > 0)
            .filter_map(|c| Some((c.active.get(k - 1).copied()??, c.members)))
            .fold((0_usize, 0_usize), |(a, m), (n, size)| (a + n, m + size));
        if let Some(percent) = (active * 100).checked_div(followed) {
            put!(summary, " Week {k}: {percent}% active on average (weighted by cohort size).");
        }
    }
    canvas.finish(KIND, &summary, height, &body)
}

/// The class (0–4) of a retention share: 0 for none, else ceil(4·share).
fn share_class(share: f64) -> usize {
    if share.is_nan() || share <= 0.0 {
        return 0;
    }
    match (share * 4.0).ceil() {
        s if s <= 1.0 => 1,
        s if s <= 2.0 => 2,
        s if s <= 3.0 => 3,
        _ => 4,
    }
}

/// The chart's name and where its content starts.
///
/// The caption is the accessible name (`<title>`, also the tooltip over the background), not drawn as
/// text: the page already shows it, as the figure's caption or the section's heading, and on a phone a
/// second copy would take two lines of every chart.
struct Canvas {
    title: String,
    top: f64,
}

impl Canvas {
    /// `fallback` names the chart when the caption is blank.
    fn new(caption: &str, fallback: &str) -> Self {
        let title = if caption.trim().is_empty() { fallback } else { caption };
        Self { title: title.to_owned(), top: PAD }
    }

    /// The whole `<svg>` element of `kind` around `body`, `height` units tall, described by `summary`.
    fn finish(&self, kind: &str, summary: &str, height: f64, body: &str) -> String {
        let (title, summary) = (escape(&self.title), escape(summary));
        // The ids must be unique on a page that shows several charts: derived from what is drawn.
        let id = format!("chart-{kind}-{:08x}", fingerprint(&[kind, &title, &summary, body]));
        let mut out = String::with_capacity(body.len() + 1_024);
        put!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" viewBox="0 0 {W} {}" width="100%" role="img" aria-labelledby="{id}-title" aria-describedby="{id}-desc" font-family="sans-serif" font-size="{FONT}"><title id="{id}-title">{title}</title><desc id="{id}-desc">{summary}</desc><rect class="bg" width="{W}" height="{}" fill="{BG}"/>"#,
            N(height),
            N(height)
        );
        out.push_str(body);
        out.push_str("</svg>");
        out
    }

    /// The chart of `kind` with nothing to draw.
    fn no_data(&self, kind: &str) -> String {
        let mut body = String::new();
        let y = self.top + 40.0;
        text(&mut body, "empty", TEXT, W / 2.0, y, Anchor::Middle, "No data");
        self.finish(kind, "No data.", y + 40.0, &body)
    }
}

/// A value axis: `count` steps of `step` from 0.
#[derive(Debug)]
struct Scale {
    step: f64,
    count: usize,
}

impl Scale {
    /// Ticks at round numbers (1, 2 or 5 × 10ⁿ, whole) from 0 to at least `max`, about 4 of them.
    fn round(max: f64) -> Self {
        let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
        let step = nice(max / 4.0, false);
        let steps = (max / step - 1e-9).ceil().max(1.0);
        Self { step, count: usize::try_from(steps as u64).unwrap_or(1).max(1) }
    }

    /// As many ticks as `other` (so they share its gridlines), at round numbers reaching `max`.
    fn matching(max: f64, other: &Self) -> Self {
        let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
        Self { step: nice(max / f(other.count), true), count: other.count }
    }

    fn top(&self) -> f64 {
        self.step * f(self.count)
    }

    /// The tick labels, all in the unit of the top one: `0, 2,500, 5,000`, `0, 5k, 10k`, `0, 0.5M, 1M`.
    fn labels(&self) -> Vec<String> {
        let (unit, suffix) = match self.top() {
            t if t >= 1e6 => (1e6, "M"),
            t if t >= 1e4 => (1e3, "k"),
            _ => (1.0, ""),
        };
        (0..=self.count)
            .map(|k| {
                let v = self.step * f(k) / unit;
                if suffix.is_empty() || k == 0 {
                    format::number(v.round() as i64)
                } else {
                    let s = format!("{v:.2}");
                    format!("{}{suffix}", s.trim_end_matches('0').trim_end_matches('.'))
                }
            })
            .collect()
    }
}

/// A round number (1, 2, 2.5 or 5 × 10ⁿ, at least 1; 2.5 only from 25 up) near `x` (`at_least`: the
/// smallest one ≥ `x`).
fn nice(x: f64, at_least: bool) -> f64 {
    if !x.is_finite() || x <= 1.0 {
        return 1.0;
    }
    let magnitude = 10_f64.powf(x.log10().floor());
    let candidates = [1.0, 2.0, 2.5, 5.0, 10.0].map(|m| m * magnitude);
    let usable = candidates.into_iter().filter(|c| c.fract().abs() < 1e-9);
    if at_least {
        usable.into_iter().find(|c| *c >= x * (1.0 - 1e-9)).unwrap_or(10.0 * magnitude)
    } else {
        // The candidate nearest to x on a log scale.
        usable.min_by(|a, b| (a / x).ln().abs().total_cmp(&(b / x).ln().abs())).unwrap_or(magnitude)
    }
}

/// The plot area of a time chart: `days` slots across, value scales up.
struct Frame {
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    days: usize,
}

impl Frame {
    /// Margins wide enough for the scales' labels.
    fn new(top: f64, left: &Scale, right: &Scale, days: usize) -> Self {
        let widest = |s: &Scale| s.labels().iter().map(|l| text_width(l, FONT)).fold(0.0, f64::max);
        Self {
            left: PAD + widest(left) + 10.0,
            right: W - PAD - widest(right) - 10.0,
            top,
            bottom: top + PLOT_HEIGHT,
            days: days.max(1),
        }
    }

    /// The left edge of day `index` (`days` is the right edge of the plot).
    fn x(&self, index: usize) -> f64 {
        self.left + (self.right - self.left) * f(index) / f(self.days)
    }

    /// The height of `value` on `scale`; `visible`: at least 1 unit above the axis.
    fn y(&self, value: f64, scale: &Scale, visible: bool) -> f64 {
        let share = if scale.top() > 0.0 { (value / scale.top()).clamp(0.0, 1.0) } else { 0.0 };
        let height = (self.bottom - self.top) * share;
        self.bottom - if visible { height.max(1.0) } else { height }
    }

    /// The gridlines, with the left scale's labels on the left and the right one's on the right.
    fn axes(&self, out: &mut String, left: &Scale, right: &Scale) {
        for (k, (l, r)) in left.labels().iter().zip(right.labels()).enumerate() {
            let y = self.y(left.step * f(k), left, false);
            let class = if k == 0 { ("axis", MUTED) } else { ("gridline", GRID) };
            put!(
                out,
                r#"<line class="{}" x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-width="1"/>"#,
                class.0,
                N(self.left),
                N(self.right),
                N(y),
                N(y),
                class.1
            );
            text(out, "label", MUTED, self.left - 8.0, y + 7.0, Anchor::End, l);
            text(out, "label", MUTED, self.right + 8.0, y + 7.0, Anchor::Start, &r);
        }
    }

    /// A transparent column from `x0` to `x1` that takes the pointer, so a thin or empty bar's tooltip
    /// is easy to reach.
    fn hit(&self, x0: f64, x1: f64) -> String {
        format!(
            r#"<rect class="hit" x="{}" y="{}" width="{}" height="{}" fill="none" pointer-events="all"/>"#,
            N(x0),
            N(self.top),
            N(x1 - x0),
            N(self.bottom - self.top)
        )
    }

    /// Date labels under the bins, thinned so they do not overlap; returns the chart's height.
    fn x_labels(
        &self,
        out: &mut String,
        dates: &[Day],
        bins: &[Range<usize>],
        granularity: Granularity,
    ) -> f64 {
        let spans_years =
            dates.first().zip(dates.last()).is_some_and(|(a, b)| a.month().year != b.month().year);
        let format = match granularity {
            Granularity::Month => "%b %Y",
            _ if spans_years => "%Y-%m-%d",
            _ => "%b %d",
        };
        let labels: Vec<String> = bins
            .iter()
            .map(|r| {
                dates.get(r.start).map(|d| d.date().format(format).to_string()).unwrap_or_default()
            })
            .collect();
        let widest = labels.iter().map(|l| text_width(l, FONT)).fold(0.0, f64::max);
        let fit = ((self.right - self.left) / (widest + 16.0)).floor().max(1.0);
        let every = bins.len().div_ceil(usize::try_from(fit as u64).unwrap_or(1).max(1)).max(1);
        for (range, label) in bins.iter().zip(&labels).step_by(every) {
            let centre = f64::midpoint(self.x(range.start), self.x(range.end));
            put!(
                out,
                r#"<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}" stroke="{MUTED}" stroke-width="1"/>"#,
                N(centre),
                N(centre),
                N(self.bottom),
                N(self.bottom + 6.0)
            );
            let x = centre.clamp(widest / 2.0 + 4.0, W - widest / 2.0 - 4.0);
            text(out, "label", MUTED, x, self.bottom + 28.0, Anchor::Middle, label);
        }
        if granularity == Granularity::Day {
            return self.bottom + 44.0;
        }
        let note = format!("One bar a {}: daily averages", granularity.noun());
        text(out, "note", MUTED, PAD, self.bottom + 58.0, Anchor::Start, &note);
        self.bottom + 74.0
    }
}

/// The x and width of a bar in the slot from `x0` to `x1`: a gap between bars, and no wider than
/// [`WIDEST_BAR`] (a few days' bars would otherwise be slabs).
fn bar_span(x0: f64, x1: f64) -> (f64, f64) {
    let slot = x1 - x0;
    let gap = slot * if slot >= 4.0 { 0.2 } else { 0.1 };
    let width = (slot - gap).min(WIDEST_BAR);
    (f64::midpoint(x0, x1) - width / 2.0, width)
}

/// Consecutive index ranges of `days` in the same day, week (Monday first) or month.
fn bins(days: &[Day], granularity: Granularity) -> Vec<Range<usize>> {
    let key = |day: Day| -> i64 {
        match granularity {
            Granularity::Day => i64::from(day.ordinal()),
            Granularity::Week => i64::from(monday_of(day).ordinal()),
            Granularity::Month => {
                let month = day.month();
                i64::from(month.year) * 12 + i64::from(month.month)
            }
        }
    };
    let mut out = Vec::new();
    let mut start = 0;
    for (i, pair) in days.windows(2).enumerate() {
        if let [a, b] = pair
            && key(*a) != key(*b)
        {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    if !days.is_empty() {
        out.push(start..days.len());
    }
    out
}

/// A line through `points` (x, y, tooltip), over a halo of the background colour so it stays visible
/// where it crosses bars.
fn polyline(
    out: &mut String,
    class: &str,
    colour: &str,
    width: f64,
    dashes: Option<&str>,
    points: &[(f64, f64, String)],
) {
    if points.len() < 2 {
        return;
    }
    let mut path = String::with_capacity(points.len() * 12);
    for (x, y, _) in points {
        put!(path, "{},{} ", N(*x), N(*y));
    }
    let path = path.trim_end();
    let dash = dashes.map_or_else(String::new, |d| format!(r#" stroke-dasharray="{d}""#));
    put!(
        out,
        r#"<polyline class="halo" points="{path}" fill="none" stroke="{BG}" stroke-width="{}" stroke-linejoin="round" stroke-linecap="round"/>"#,
        N(width + 3.0)
    );
    put!(
        out,
        r#"<polyline class="{class}" points="{path}" fill="none" stroke="{colour}" stroke-width="{}" stroke-linejoin="round" stroke-linecap="round"{dash}/>"#,
        N(width)
    );
}

/// A marker on each point, with its tooltip (for short series, and the one point of a single day).
fn dots(out: &mut String, class: &str, colour: &str, points: &[(f64, f64, String)]) {
    for (x, y, title) in points {
        put!(
            out,
            r#"<circle class="{class}" cx="{}" cy="{}" r="4.5" fill="{colour}" stroke="{BG}" stroke-width="1.5"><title>{title}</title></circle>"#,
            N(*x),
            N(*y)
        );
    }
}

/// The legend row of a time chart: the left scale's series from the left, the right one's from the
/// right.
struct Legend {
    markup: String,
    y: f64,
    left: f64,
    right: f64,
}

impl Legend {
    fn new(top: f64) -> Self {
        Self { markup: String::new(), y: top, left: PAD, right: W - PAD }
    }

    fn bar_left(&mut self, class: &str, colour: &str, label: &str) {
        self.bar(class, colour, self.left);
        text(&mut self.markup, "name", TEXT, self.left + 26.0, self.y + 17.0, Anchor::Start, label);
        self.left += 26.0 + text_width(label, FONT) + 18.0;
    }

    fn bar_right(&mut self, class: &str, colour: &str, label: &str) {
        let width = text_width(label, FONT);
        self.bar(class, colour, self.right - width - 26.0);
        text(&mut self.markup, "name", TEXT, self.right, self.y + 17.0, Anchor::End, label);
        self.right -= 26.0 + width + 18.0;
    }

    fn line_left(&mut self, class: &str, colour: &str, dashes: Option<&str>, label: &str) {
        self.line(class, colour, dashes, self.left);
        text(&mut self.markup, "name", TEXT, self.left + 34.0, self.y + 17.0, Anchor::Start, label);
        self.left += 34.0 + text_width(label, FONT) + 18.0;
    }

    fn line_right(&mut self, class: &str, colour: &str, dashes: Option<&str>, label: &str) {
        let width = text_width(label, FONT);
        self.line(class, colour, dashes, self.right - width - 34.0);
        text(&mut self.markup, "name", TEXT, self.right, self.y + 17.0, Anchor::End, label);
        self.right -= 34.0 + width + 18.0;
    }

    fn bar(&mut self, class: &str, colour: &str, x: f64) {
        put!(
            self.markup,
            r#"<rect class="{class} swatch" x="{}" y="{}" width="18" height="18" rx="2" fill="{colour}"/>"#,
            N(x),
            N(self.y + 2.0)
        );
    }

    fn line(&mut self, class: &str, colour: &str, dashes: Option<&str>, x: f64) {
        let dash = dashes.map_or_else(String::new, |d| format!(r#" stroke-dasharray="{d}""#));
        put!(
            self.markup,
            r#"<line class="{class} swatch" x1="{}" x2="{}" y1="{}" y2="{}" stroke="{colour}" stroke-width="3.5"{dash}/>"#,
            N(x),
            N(x + 28.0),
            N(self.y + 11.0),
            N(self.y + 11.0)
        );
    }
}

/// A legend of cell classes: `heading`, then a swatch and label per (class, label), wrapping onto more
/// rows when the width is used up; returns the bottom of the last row.
fn swatches(out: &mut String, heading: &str, items: &[(usize, String)], top: f64) -> f64 {
    let mut y = top;
    text(out, "label", MUTED, PAD, y + 17.0, Anchor::Start, heading);
    let mut x = PAD + text_width(heading, FONT) + 12.0;
    for (q, label) in items {
        let advance = 26.0 + text_width(label, FONT) + 16.0;
        if x + advance - 16.0 > W - PAD {
            x = PAD;
            y += 30.0;
        }
        let q = (*q).min(4);
        put!(
            out,
            r#"<rect class="swatch q{q}" x="{}" y="{}" width="20" height="20" rx="2" fill="{}"/>"#,
            N(x),
            N(y),
            CELLS[q]
        );
        text(out, "name", TEXT, x + 26.0, y + 17.0, Anchor::Start, label);
        x += advance;
    }
    y + 20.0
}

/// Horizontal alignment of a text.
#[derive(Clone, Copy)]
enum Anchor {
    Start,
    Middle,
    End,
}

/// A `<text>` of `content` (escaped here).
fn text(out: &mut String, class: &str, fill: &str, x: f64, y: f64, anchor: Anchor, content: &str) {
    let anchor = match anchor {
        Anchor::Start => "",
        Anchor::Middle => r#" text-anchor="middle""#,
        Anchor::End => r#" text-anchor="end""#,
    };
    put!(
        out,
        r#"<text class="{class}" x="{}" y="{}"{anchor} fill="{fill}">{}</text>"#,
        N(x),
        N(y),
        escape(content)
    );
}

/// The estimated width of `text` at font size `size`: the SVG cannot measure it, so this errs wide
/// (narrow and wide Latin letters, and 1 em for anything else, such as CJK or emoji).
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().map(char_width).sum::<f64>() * size
}

fn char_width(ch: char) -> f64 {
    match ch {
        'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | ' ' | 'I' | 'f' | 't'
        | 'r' => 0.34,
        'm' | 'w' | 'M' | 'W' | '%' | '@' => 0.9,
        '–' | '…' | '≤' => 0.65,
        c if c.is_ascii_uppercase() => 0.72,
        c if c.is_ascii() => 0.63,
        _ => 1.0,
    }
}

/// `text` cut with "…" to fit `width` at font size `size`.
fn clip(text: &str, width: f64, size: f64) -> String {
    if text_width(text, size) <= width {
        return text.to_owned();
    }
    let room = width - text_width("…", size);
    let mut out = String::new();
    let mut used = 0.0;
    for ch in text.chars() {
        used += char_width(ch) * size;
        if used > room {
            break;
        }
        out.push(ch);
    }
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// A coordinate, to a tenth of a unit.
struct N(f64);

impl std::fmt::Display for N {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = if self.0.is_finite() { (self.0 * 10.0).round() / 10.0 } else { 0.0 };
        if (v - v.trunc()).abs() < 1e-9 { write!(f, "{}", v as i64) } else { write!(f, "{v:.1}") }
    }
}

/// A count as `f64` (counts are far below 2^52).
#[allow(clippy::cast_precision_loss)]
const fn f(n: usize) -> f64 {
    n as f64
}

/// A count with thousands separators.
fn number(n: usize) -> String {
    format::number(i64::try_from(n).unwrap_or(i64::MAX))
}

/// `a / b` rounded to the nearest whole number (`b` > 0).
fn rounded_div(a: i64, b: i64) -> i64 {
    let b = b.max(1);
    (a.saturating_add(b / 2)).div_euclid(b)
}

/// A scale label: `2,500`, `25k`, `1.5M`.
fn compact(n: i64) -> String {
    #[allow(clippy::cast_precision_loss)] // a label to 2 digits
    let short = |unit: f64, suffix: &str| {
        let s = format!("{:.1}", n as f64 / unit);
        format!("{}{suffix}", s.strip_suffix(".0").unwrap_or(&s))
    };
    match n.unsigned_abs() {
        1_000_000.. => short(1e6, "M"),
        10_000.. => short(1e3, "k"),
        _ => format::number(n),
    }
}

fn active_members(n: usize) -> String {
    format!("{} active member{}", number(n), if n == 1 { "" } else { "s" })
}

fn new_members(n: usize) -> String {
    format!("{} new member{}", number(n), if n == 1 { "" } else { "s" })
}

/// A short stable digest (FNV-1a) of `parts`, for element ids.
fn fingerprint(parts: &[&str]) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    (hash ^ (hash >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::error::Error;

    use super::*;

    type TestResult = Result<(), Box<dyn Error>>;

    // A strict parser for the XML the charts write, so the tests read the charts as a browser's XML
    // parser would (no XML parser is among the workspace's dependencies). It accepts elements, attributes
    // in double quotes, text, the predefined entities and character references; it rejects everything
    // else: unbalanced or mismatched tags, a raw `<` or an unknown `&…;`, duplicate attributes, comments,
    // CDATA, processing instructions, characters XML forbids, content after the root.

    #[derive(Debug)]
    struct Element {
        name: String,
        attributes: Vec<(String, String)>,
        children: Vec<Node>,
    }

    #[derive(Debug)]
    enum Node {
        Element(Element),
        Text(String),
    }

    impl Element {
        fn attr(&self, name: &str) -> Option<&str> {
            self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
        }

        fn number(&self, name: &str) -> f64 {
            self.attr(name).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
        }

        fn has_class(&self, class: &str) -> bool {
            self.attr("class").is_some_and(|c| c.split_whitespace().any(|c| c == class))
        }

        fn elements(&self) -> impl Iterator<Item = &Element> {
            self.children.iter().filter_map(|n| match n {
                Node::Element(e) => Some(e),
                Node::Text(_) => None,
            })
        }

        /// Every element under this one, in document order.
        fn descendants(&self) -> Vec<&Element> {
            let mut out = Vec::new();
            for child in self.elements() {
                out.push(child);
                out.extend(child.descendants());
            }
            out
        }

        fn with_class(&self, class: &str) -> Vec<&Element> {
            self.descendants().into_iter().filter(|e| e.has_class(class)).collect()
        }

        fn named(&self, name: &str) -> Vec<&Element> {
            self.descendants().into_iter().filter(|e| e.name == name).collect()
        }

        /// All the text under this element.
        fn text(&self) -> String {
            self.children
                .iter()
                .map(|n| match n {
                    Node::Element(e) => e.text(),
                    Node::Text(t) => t.clone(),
                })
                .collect()
        }

        /// The text of its `<title>` child: its tooltip.
        fn title(&self) -> String {
            self.elements().find(|e| e.name == "title").map(Element::text).unwrap_or_default()
        }

        /// The visible texts under it (`<text>` elements).
        fn texts(&self) -> Vec<String> {
            self.named("text").iter().map(|t| t.text()).collect()
        }
    }

    fn parse(xml: &str) -> Result<Element, String> {
        let mut parser = Parser { s: xml, pos: 0 };
        parser.skip_space();
        let root = parser.element()?;
        parser.skip_space();
        if parser.pos != xml.len() {
            return Err(format!("content after the root element at {}", parser.pos));
        }
        Ok(root)
    }

    struct Parser<'a> {
        s: &'a str,
        pos: usize,
    }

    impl<'a> Parser<'a> {
        fn rest(&self) -> &'a str {
            self.s.get(self.pos..).unwrap_or("")
        }

        fn eat(&mut self, token: &str) -> bool {
            let found = self.rest().starts_with(token);
            if found {
                self.pos += token.len();
            }
            found
        }

        fn expect(&mut self, token: &str) -> Result<(), String> {
            if self.eat(token) {
                Ok(())
            } else {
                Err(format!("expected {token:?} at {}", self.pos))
            }
        }

        /// Skips XML white space; says whether there was any.
        fn skip_space(&mut self) -> bool {
            let before = self.pos;
            let rest = self.rest();
            self.pos += rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len();
            self.pos > before
        }

        fn name(&mut self) -> Result<String, String> {
            let rest = self.rest();
            let length = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.')))
                .unwrap_or(rest.len());
            let name = rest.get(..length).unwrap_or("");
            if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                return Err(format!("expected a name at {}", self.pos));
            }
            self.pos += length;
            Ok(name.to_owned())
        }

        fn element(&mut self) -> Result<Element, String> {
            self.expect("<")?;
            let name = self.name()?;
            let mut attributes: Vec<(String, String)> = Vec::new();
            loop {
                let spaced = self.skip_space();
                if self.eat("/>") {
                    return Ok(Element { name, attributes, children: Vec::new() });
                }
                if self.eat(">") {
                    break;
                }
                if !spaced {
                    return Err(format!("attributes of <{name}> not separated at {}", self.pos));
                }
                let key = self.name()?;
                self.expect("=\"")?;
                let end = self.rest().find('"').ok_or("unterminated attribute value")?;
                let raw = self.rest().get(..end).unwrap_or("");
                if raw.contains('<') {
                    return Err(format!("raw < in attribute {key} of <{name}>"));
                }
                let value = decode(raw)?;
                self.pos += end + 1;
                if attributes.iter().any(|(k, _)| *k == key) {
                    return Err(format!("duplicate attribute {key} on <{name}>"));
                }
                attributes.push((key, value));
            }
            let mut children = Vec::new();
            loop {
                if self.eat("</") {
                    let close = self.name()?;
                    self.skip_space();
                    self.expect(">")?;
                    if close != name {
                        return Err(format!("<{name}> closed by </{close}> at {}", self.pos));
                    }
                    return Ok(Element { name, attributes, children });
                }
                if self.rest().starts_with("<!") || self.rest().starts_with("<?") {
                    return Err(format!("unexpected markup declaration at {}", self.pos));
                }
                if self.rest().starts_with('<') {
                    children.push(Node::Element(self.element()?));
                    continue;
                }
                if self.rest().is_empty() {
                    return Err(format!("<{name}> is never closed"));
                }
                let end = self.rest().find('<').unwrap_or(self.rest().len());
                let raw = self.rest().get(..end).unwrap_or("");
                children.push(Node::Text(decode(raw)?));
                self.pos += end;
            }
        }
    }

    fn decode(raw: &str) -> Result<String, String> {
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(at) = rest.find('&') {
            out.push_str(rest.get(..at).unwrap_or(""));
            let after = rest.get(at + 1..).unwrap_or("");
            let end = after.find(';').ok_or_else(|| format!("unterminated entity in {raw:?}"))?;
            let entity = after.get(..end).unwrap_or("");
            let reference = |digits: Option<&str>, radix| {
                digits
                    .and_then(|d| u32::from_str_radix(d, radix).ok())
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("bad character reference &{entity};"))
            };
            out.push(match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                e if e.starts_with("#x") => reference(e.get(2..), 16)?,
                e if e.starts_with('#') => reference(e.get(1..), 10)?,
                _ => return Err(format!("unknown entity &{entity};")),
            });
            rest = after.get(end + 1..).unwrap_or("");
        }
        out.push_str(rest);
        if let Some(bad) = out.chars().find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(format!("character {bad:?} is not allowed in XML"));
        }
        Ok(out)
    }

    /// Parses a chart and checks what every chart must be: an accessible, scalable `<svg>` that a strict
    /// Content-Security-Policy lets through, with fallback colours on everything drawn.
    fn chart(svg: &str) -> Result<Element, Box<dyn Error>> {
        let root = parse(svg)?;
        assert_eq!(root.name, "svg");
        assert_eq!(root.attr("xmlns"), Some("http://www.w3.org/2000/svg"));
        assert_eq!(root.attr("role"), Some("img"));
        assert_eq!(root.attr("width"), Some("100%"));
        assert!(root.attr("height").is_none(), "the height follows from the width and viewBox");
        assert!(root.has_class("chart"));
        let view: Vec<f64> = root
            .attr("viewBox")
            .ok_or("no viewBox")?
            .split(' ')
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        assert!(matches!(view.as_slice(), [0.0, 0.0, 600.0, h] if *h >= 60.0), "{view:?}");

        let descendants = root.descendants();
        let by_id = |id: &str| descendants.iter().find(|e| e.attr("id") == Some(id)).copied();
        let title = by_id(root.attr("aria-labelledby").ok_or("no aria-labelledby")?)
            .ok_or("aria-labelledby names no element")?;
        assert_eq!(title.name, "title");
        assert!(root.elements().next().is_some_and(|first| first.name == "title"));
        assert!(!title.text().trim().is_empty());
        let desc = by_id(root.attr("aria-describedby").ok_or("no aria-describedby")?)
            .ok_or("aria-describedby names no element")?;
        assert_eq!(desc.name, "desc");
        assert!(desc.text().ends_with('.'), "{}", desc.text());

        let mut ids = BTreeSet::new();
        for e in &descendants {
            assert!(
                !matches!(
                    e.name.as_str(),
                    "script" | "style" | "foreignObject" | "image" | "use" | "a" | "iframe"
                ),
                "<{}> in a chart",
                e.name
            );
            for (name, value) in &e.attributes {
                assert!(name != "style" && !name.starts_with("on"), "{name} on <{}>", e.name);
                assert!(!name.contains("href"), "{name}={value}");
                assert!(!value.contains("url("), "{name}={value}");
            }
            if let Some(id) = e.attr("id") {
                assert!(ids.insert(id.to_owned()), "duplicate id {id}");
            }
            if matches!(e.name.as_str(), "rect" | "polyline" | "line" | "circle" | "text") {
                assert!(e.attr("fill").is_some() || e.attr("stroke").is_some(), "{e:?}");
                assert!(e.attr("class").is_some(), "{e:?}");
            }
            if let Some(size) = e.attr("font-size") {
                // 16 units is 9.6 px on a 360 px screen; labels are 20 (12 px).
                assert!(size.parse::<f64>()? >= 16.0, "font-size {size}");
            }
        }
        Ok(root)
    }

    fn day(s: &str) -> Result<Day, Box<dyn Error>> {
        Ok(s.parse()?)
    }

    fn activity(first: Day, n: i32, at: impl Fn(i32) -> (i64, usize)) -> Vec<DayActivity> {
        (0..n)
            .map(|i| {
                let (messages, active_members) = at(i);
                DayActivity { day: first.plus(i), messages, active_members }
            })
            .collect()
    }

    /// A bar's height.
    fn height(group: &Element) -> f64 {
        group.with_class("bar").first().map_or(f64::NAN, |bar| bar.number("height"))
    }

    fn no_data(svg: &str) -> TestResult {
        let root = chart(svg)?;
        assert!(root.texts().contains(&"No data".to_owned()), "{svg}");
        assert!(root.with_class("bar").is_empty() && root.with_class("cell").is_empty());
        assert_eq!(root.named("desc").first().map(|d| d.text()), Some("No data.".to_owned()));
        Ok(())
    }

    #[test]
    fn escape_makes_text_safe_for_xml_and_html() {
        assert_eq!(escape(r#"<script>&"x"'"#), "&lt;script&gt;&amp;&quot;x&quot;&#39;");
        assert_eq!(escape("#général 🐸\tok"), "#général 🐸\tok");
        assert_eq!(escape("a\u{0}b\u{1b}c\u{FFFF}"), "a\u{FFFD}b\u{FFFD}c\u{FFFD}");
        assert_eq!(decode(&escape("<&>\"'")), Ok("<&>\"'".to_owned()));
    }

    #[test]
    fn the_daily_chart_has_a_bar_per_day_with_its_numbers() -> TestResult {
        let first = day("2026-11-01")?;
        let mut days = activity(first, 30, |i| {
            (i64::from(i * 37 % 50), usize::try_from(i % 9 + 1).unwrap_or(0))
        });
        days[2].messages = 123;
        days[2].active_members = 17;
        days[5] = DayActivity { day: days[5].day, messages: 1, active_members: 1 };
        let root = chart(&daily(&days, "Messages and active members per day, November"))?;

        let groups = root.with_class("day");
        assert_eq!(groups.len(), 30);
        assert!(groups.iter().all(|g| g.with_class("bar").len() == 1));
        assert_eq!(groups[2].title(), "2026-11-03: 123 messages, 17 active members");
        assert_eq!(groups[5].title(), "2026-11-06: 1 message, 1 active member");
        // The tallest bar is the busiest day's, and bars run left to right in date order.
        let tallest = groups.iter().max_by(|a, b| height(a).total_cmp(&height(b)));
        assert_eq!(tallest.map(|g| g.title()), Some(groups[2].title()));
        let xs: Vec<f64> = groups.iter().map(|g| g.with_class("bar")[0].number("x")).collect();
        assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
        // Heights are proportional to messages (bars of 0 messages are flat).
        let ratio = height(groups[2]) / 123.0;
        for (group, d) in groups.iter().zip(&days) {
            #[allow(clippy::cast_precision_loss)]
            let expected = (d.messages as f64 * ratio).max(if d.messages > 0 { 1.0 } else { 0.0 });
            assert!((height(group) - expected).abs() < 0.2, "{}", group.title());
        }
        // The active members: one line, a point per day.
        let line =
            root.named("polyline").into_iter().find(|p| p.has_class("line")).ok_or("no line")?;
        assert_eq!(line.attr("points").map(|p| p.split(' ').count()), Some(30));

        let desc = root.named("desc")[0].text();
        let total: i64 = days.iter().map(|d| d.messages).sum();
        assert!(desc.contains(&format!("{} messages in all", format::number(total))), "{desc}");
        assert!(desc.contains("The busiest day was 2026-11-03 with 123 messages"), "{desc}");
        assert!(desc.contains("the most active members on a day: 17 (2026-11-03)"), "{desc}");
        // Date labels are thinned: a few, in order, none overlapping.
        let labels: Vec<&Element> =
            root.named("text").into_iter().filter(|t| t.text().starts_with("Nov ")).collect();
        assert!((2..=8).contains(&labels.len()), "{}", labels.len());
        assert_eq!(labels[0].text(), "Nov 01");
        let centres: Vec<f64> = labels.iter().map(|t| t.number("x")).collect();
        assert!(
            centres.windows(2).all(|w| w[1] - w[0] > text_width("Nov 01", FONT)),
            "{centres:?}"
        );
        Ok(())
    }

    #[test]
    fn scale_ticks_are_round_numbers_reaching_the_maximum() {
        for max in [0.0, 0.4, 1.0, 3.0, 7.0, 17.0, 99.0, 123.0, 1_000.0, 4_321.0, 98_765.0, 1.5e7] {
            let scale = Scale::round(max);
            assert!(scale.top() >= max && scale.top() <= max.max(1.0) * 2.5, "{max}: {scale:?}");
            assert!((1..=6).contains(&scale.count), "{max}: {scale:?}");
            let mantissa = scale.step / 10_f64.powf(scale.step.log10().floor());
            assert!(
                [1.0, 2.0, 2.5, 5.0].iter().any(|m| (m - mantissa).abs() < 1e-9),
                "{max}: {scale:?}"
            );
            assert!(scale.step.fract() == 0.0, "{max}: {scale:?}");
            let right = Scale::matching(max / 3.0, &scale);
            assert_eq!(right.count, scale.count);
            assert!(right.top() >= max / 3.0 && right.step.fract() == 0.0, "{max}: {right:?}");
        }
        assert_eq!(Scale::round(123.0).labels(), ["0", "25", "50", "75", "100", "125"]);
        assert_eq!(Scale::round(98_765.0).labels(), ["0", "25k", "50k", "75k", "100k"]);
        // One unit for a whole scale.
        assert_eq!(Scale::round(17_000.0).labels(), ["0", "5k", "10k", "15k", "20k"]);
        assert_eq!(Scale::round(1.5e7).labels(), ["0", "5M", "10M", "15M"]);
        assert_eq!(Scale::round(7_000.0).labels(), ["0", "2,000", "4,000", "6,000", "8,000"]);
        assert_eq!(compact(2_500), "2,500");
        assert_eq!(compact(1_500_000), "1.5M");
    }

    #[test]
    fn a_single_day_and_long_series_draw_too() -> TestResult {
        let first = day("2026-11-03")?;
        let root = chart(&daily(&activity(first, 1, |_| (5, 2)), "Today"))?;
        let groups = root.with_class("day");
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].title(), "2026-11-03: 5 messages, 2 active members");
        assert!(height(groups[0]) > 100.0);
        // One point has no line: a dot shows it.
        assert_eq!(root.with_class("dot").len(), 1);
        assert!(root.texts().contains(&"Nov 03".to_owned()));
        assert!(
            root.named("desc")[0].text().starts_with("2026-11-03: 5 messages, 2 active members.")
        );

        // 800 days (2024-01-03, a Wednesday, on): a bar per Monday-to-Sunday week, as daily averages.
        assert_eq!(Granularity::for_days(MAX_BARS), Granularity::Day);
        assert_eq!(Granularity::for_days(MAX_BARS + 1), Granularity::Week);
        let first = day("2024-01-03")?;
        let days = activity(first, 800, |i| (i64::from(i), 3));
        let root = chart(&daily(&days, "Two years and more"))?;
        let groups = root.with_class("day");
        let weeks: BTreeSet<Day> = days.iter().map(|d| monday_of(d.day)).collect();
        assert_eq!(groups.len(), weeks.len());
        assert!(groups.len() <= MAX_BARS);
        assert_eq!(
            groups[0].title(),
            "2024-01-03 to 2024-01-07: 10 messages (2 a day), 3 active members a day on average"
        );
        // The second week holds days 5 to 11: 56 messages.
        assert_eq!(
            groups[1].title(),
            "2024-01-08 to 2024-01-14: 56 messages (8 a day), 3 active members a day on average"
        );
        let heights: Vec<f64> = groups.iter().map(|g| height(g)).collect();
        assert!(heights.windows(2).all(|w| w[0] <= w[1]), "a growing series grows");
        assert!(root.texts().contains(&"One bar a week: daily averages".to_owned()));
        assert!(root.named("desc")[0].text().contains("One bar a week, with daily averages."));

        // The longest range the commands take (3,660 days): a bar per month.
        let days = activity(day("2016-05-20")?, 3_660, |i| (i64::from(i % 40), 1));
        let root = chart(&daily(&days, "Ten years"))?;
        let months: BTreeSet<_> = days.iter().map(|d| d.day.month()).collect();
        assert_eq!(root.with_class("day").len(), months.len());
        assert!(root.texts().contains(&"One bar a month: daily averages".to_owned()));
        assert!(root.texts().iter().any(|t| t == "May 2016"));

        no_data(&daily(&[], "Nothing"))
    }

    #[test]
    fn the_heatmap_has_a_cell_per_hour_and_the_busiest_is_darkest() -> TestResult {
        let mut grid = [[0_i64; 24]; 7];
        grid[1][18] = 45;
        grid[6][23] = 30;
        grid[5][9] = 10;
        grid[0][0] = 1;
        let root = chart(&heatmap(&grid, "Messages by weekday and hour (Europe/Paris)"))?;
        let cells = root.with_class("cell");
        assert_eq!(cells.len(), 168);
        let class = |cell: &Element| cell.attr("class").unwrap_or("").to_owned();
        let darkest: Vec<&&Element> = cells.iter().filter(|c| c.has_class("q4")).collect();
        assert_eq!(darkest.len(), 1);
        assert_eq!(darkest[0].title(), "Tue 18:00–19:00: 45 messages");
        assert_eq!(darkest[0].attr("fill"), Some(CELLS[4]));
        // Row by row, Monday first, 00:00 on the left.
        assert_eq!(cells[0].title(), "Mon 00:00–01:00: 1 message");
        assert_eq!(class(cells[0]), "cell q1");
        assert_eq!(cells[6 * 24 + 23].title(), "Sun 23:00–24:00: 30 messages");
        assert_eq!(class(cells[6 * 24 + 23]), "cell q3");
        assert_eq!(class(cells[5 * 24 + 9]), "cell q1");
        assert_eq!(class(cells[2 * 24 + 2]), "cell q0");
        assert_eq!(cells[2 * 24 + 2].title(), "Wed 02:00–03:00: 0 messages");
        assert!(cells[0].number("y") < cells[6 * 24].number("y"));
        assert!(cells[0].number("x") < cells[23].number("x"));
        // The darkest class is the darkest colour: the ramp darkens step by step.
        let lightness: Vec<f64> = CELLS.iter().map(|c| luminance(c)).collect();
        assert!(lightness.windows(2).all(|w| w[0] > w[1]), "{lightness:?}");

        let texts = root.texts();
        for hour in ["0", "3", "6", "9", "12", "15", "18", "21"] {
            assert!(texts.iter().any(|t| t == hour), "no {hour} label");
        }
        assert!(!texts.iter().any(|t| t == "1" || t == "2"), "hour labels every 3 hours");
        for day in WEEKDAYS {
            assert!(texts.iter().any(|t| t == day));
        }
        assert_eq!(root.with_class("swatch").len(), 5);
        for range in ["0", "1–11", "12–22", "23–33", "34–45"] {
            assert!(texts.iter().any(|t| t == range), "legend has no {range}: {texts:?}");
        }
        let desc = root.named("desc")[0].text();
        assert!(desc.starts_with("86 messages by weekday and local hour."), "{desc}");
        assert!(desc.contains("busiest hour was Tuesday 18:00–19:00 with 45 messages"), "{desc}");

        // A small maximum leaves some classes empty: the legend shows only those with counts.
        let mut grid = [[0_i64; 24]; 7];
        grid[3][12] = 2;
        grid[3][13] = 1;
        let root = chart(&heatmap(&grid, "Quiet"))?;
        assert_eq!(root.with_class("swatch").len(), 3, "0, 1 and 2");
        no_data(&heatmap(&[[0; 24]; 7], "Nothing"))
    }

    #[test]
    fn heatmap_legend_ranges_hold_exactly_their_classes_counts() {
        for max in 1..=60_i64 {
            for n in 1..=max {
                let q = share_of_max(n, max);
                let (low, high) = class_bounds(q, max);
                assert!(
                    (1..=4).contains(&q) && low <= n && n <= high,
                    "{n} of {max}: q{q} {low}–{high}"
                );
            }
            assert_eq!(share_of_max(max, max), 4);
        }
        assert_eq!(share_of_max(0, 10), 0);
        assert_eq!(share_of_max(-3, 10), 0);
        assert_eq!(share_of_max(i64::MAX, i64::MAX), 4);
    }

    #[test]
    fn bars_escape_their_labels_and_scale_to_the_largest() -> TestResult {
        let hostile = r#"<script>alert(1)</script>&"x""#.to_owned();
        let long = "a-channel-name-that-goes-on-and-on-and-on-well-past-the-width".to_owned();
        let rows = vec![
            ("#general".to_owned(), 1_200),
            (hostile.clone(), 300),
            ("#memes 🐸".to_owned(), 950),
            (long.clone(), 7),
            ("#quiet".to_owned(), 0),
        ];
        let svg = bars(&rows, "Top channels & <friends>");
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;x&quot;"));
        let root = chart(&svg)?;
        assert_eq!(root.named("title")[0].text(), "Top channels & <friends>");
        let groups = root.with_class("row");
        assert_eq!(groups.len(), 5);
        assert_eq!(groups[1].title(), format!("{hostile}: 300"));
        assert_eq!(groups[1].texts(), [hostile.as_str(), "300"]);
        assert_eq!(groups[0].texts(), ["#general", "1,200"]);
        // A label too long for the width is cut; its tooltip has it whole.
        let shown = &groups[3].texts()[0];
        assert!(shown.ends_with('…') && long.starts_with(shown.trim_end_matches('…')), "{shown}");
        assert_eq!(groups[3].title(), format!("{long}: 7"));
        let widths: Vec<f64> =
            groups.iter().map(|g| g.with_class("bar")[0].number("width")).collect();
        assert!((widths[2] / widths[0] - 950.0 / 1_200.0).abs() < 0.01, "{widths:?}");
        assert!(widths[0] > widths[2] && widths[2] > widths[1] && widths[1] > widths[3]);
        assert!(widths[3] >= 1.0 && widths[4] == 0.0, "{widths:?}");
        let desc = root.named("desc")[0].text();
        assert!(desc.starts_with("5 entries. #general: 1,200; "), "{desc}");
        assert!(desc.contains(&format!("{hostile}: 300")), "{desc}");

        // A hostile caption and control characters stay well-formed too.
        chart(&bars(&[("\u{7}bell".to_owned(), -4)], "</title><script>x</script>"))?;
        no_data(&bars(&[], "Top members"))
    }

    #[test]
    fn the_growth_chart_draws_dau_wau_mau_and_the_new_members() -> TestResult {
        let first = day("2026-09-01")?;
        let days: Vec<DayFigures> = (0..90_usize)
            .map(|i| DayFigures {
                day: first.plus(i32::try_from(i).unwrap_or(0)),
                dau: 5 + i % 7,
                wau: 20 + i / 10,
                mau: 40 + i / 3,
                new_members: usize::from(i == 45) * 9,
                returning_members: 5,
                messages: 100,
            })
            .collect();
        let root = chart(&growth(&days, "Server growth, last 90 days"))?;
        let groups = root.with_class("day");
        assert_eq!(groups.len(), 90);
        assert_eq!(groups[45].title(), "2026-10-16: 9 new members, DAU 8, WAU 24, MAU 55");
        let tall: Vec<usize> = (0..90).filter(|&i| height(groups[i]) > 0.0).collect();
        assert_eq!(tall, [45]);
        let line = |class: &str| {
            root.named("polyline").into_iter().find(|p| p.has_class("line") && p.has_class(class))
        };
        let mut starts = Vec::new();
        for class in ["dau", "wau", "mau"] {
            let points = line(class).and_then(|p| p.attr("points")).ok_or(class)?;
            assert_eq!(points.split(' ').count(), 90, "{class}");
            let y: f64 = points.split([' ', ',']).nth(1).ok_or("no point")?.parse()?;
            starts.push(y);
        }
        // MAU (40) is above WAU (20), above DAU (5): a smaller y.
        assert!(starts[2] < starts[1] && starts[1] < starts[0], "{starts:?}");
        assert!(line("wau").is_some_and(|l| l.attr("stroke-dasharray").is_some()));
        let texts = root.texts();
        for name in ["DAU", "WAU", "MAU", "New members"] {
            assert!(texts.iter().any(|t| t == name), "{name}");
        }
        let desc = root.named("desc")[0].text();
        assert!(
            desc.contains("On 2026-11-29: 10 active that day (DAU), 28 in the last 7"),
            "{desc}"
        );
        assert!(desc.contains("9 new members in all, the most on 2026-10-16 (9)."), "{desc}");

        // One day: dots instead of lines; 800 days: lines of 800 points over weekly bars.
        let root = chart(&growth(&days[..1], "Today"))?;
        assert_eq!(root.with_class("dot").len(), 3);
        assert!(root.named("polyline").is_empty());
        let long: Vec<DayFigures> =
            (0..800).map(|i| DayFigures { day: first.plus(i), ..days[0] }).collect();
        let root = chart(&growth(&long, "Long"))?;
        assert!(root.with_class("day").len() <= MAX_BARS);
        let dau = root.named("polyline").into_iter().find(|p| p.has_class("dau"));
        assert_eq!(dau.and_then(|p| p.attr("points")).map(|p| p.split(' ').count()), Some(800));
        no_data(&growth(&[], "Nothing"))
    }

    #[test]
    fn the_retention_grid_shows_each_cohorts_share_by_week() -> TestResult {
        let week = day("2026-10-05")?;
        let cohorts = vec![
            Cohort { week, members: 4, active: vec![Some(4), Some(2), Some(0), None] },
            Cohort { week: week.plus(7), members: 0, active: vec![Some(0), Some(0), None, None] },
            Cohort { week: week.plus(14), members: 3, active: vec![Some(1), None, None, None] },
        ];
        let root = chart(&retention(&cohorts, "Retention"))?;
        let cells = root.with_class("cell");
        assert_eq!(cells.len(), 6, "one per week begun");
        let first = cells[0];
        assert!(first.has_class("q4"));
        assert_eq!(
            first.title(),
            "Joined the week of 2026-10-05 (4 new members): 4 active in week 1 after joining (100%)"
        );
        assert!(cells.iter().all(|c| c.number("x") >= first.number("x")));
        assert!(cells.iter().all(|c| c.number("y") >= first.number("y")));
        let classes: Vec<&str> = cells.iter().map(|c| c.attr("class").unwrap_or("")).collect();
        assert_eq!(classes, ["cell q4", "cell q2", "cell q0", "cell q0", "cell q0", "cell q2"]);
        let inks = root.with_class("ink");
        let shown: Vec<String> = inks.iter().map(|t| t.text()).collect();
        assert_eq!(shown, ["100%", "50%", "0%", "–", "–", "33%"]);
        assert_eq!(inks[0].attr("fill"), Some(INK[4]));
        assert_eq!(
            cells[3].title(),
            "Joined the week of 2026-10-12 (0 new members): no members to follow"
        );
        let texts = root.texts();
        for label in
            ["Oct 05 (4)", "Oct 12 (0)", "Oct 19 (3)", "1", "2", "3", "4", "Weeks after joining"]
        {
            assert!(texts.iter().any(|t| t == label), "{label}: {texts:?}");
        }
        let desc = root.named("desc")[0].text();
        assert!(
            desc.starts_with("3 weekly cohorts, 2026-10-05 to 2026-10-19, 7 new members in all")
        );
        assert!(desc.contains("Week 1: 71% active on average"), "{desc}");
        assert!(!desc.contains("Week 4"), "{desc}");

        // Many weeks: cells too narrow for text keep their tooltips.
        let wide = vec![Cohort { week, members: 10, active: vec![Some(5); 26] }];
        let root = chart(&retention(&wide, "Half a year"))?;
        assert_eq!(root.with_class("cell").len(), 26);
        assert!(root.with_class("ink").is_empty());
        no_data(&retention(&[], "Nothing"))
    }

    #[test]
    fn charts_on_one_page_have_distinct_ids_and_are_named_by_their_caption() -> TestResult {
        let days = activity(day("2026-11-01")?, 7, |i| (i64::from(i), 1));
        let caption = "Messages and active members per day, the last 7 days & <more>";
        let (a, b) = (chart(&daily(&days, "A"))?, chart(&daily(&days, caption))?);
        assert_ne!(a.attr("aria-labelledby"), b.attr("aria-labelledby"));
        assert_eq!(b.named("title")[0].text(), caption);
        // The page shows the caption; the chart does not draw it again.
        assert!(!b.texts().iter().any(|t| t.contains("Messages and active")));
        // A blank caption still names the chart.
        let blank = chart(&heatmap(&[[1; 24]; 7], " "))?;
        assert_eq!(blank.named("title")[0].text(), "Messages by weekday and hour");
        Ok(())
    }

    /// The WCAG 2 relative luminance of `#rrggbb`.
    fn luminance(hex: &str) -> f64 {
        let channel = |i: usize| {
            let c =
                f64::from(u8::from_str_radix(hex.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0));
            let c = c / 255.0;
            if c <= 0.040_45 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
    }

    fn contrast(a: &str, b: &str) -> f64 {
        let (a, b) = (luminance(a), luminance(b));
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    #[test]
    fn both_themes_have_enough_contrast() -> TestResult {
        // [light, dark]: selector → colour, read from STYLE.
        let mut themes: [BTreeMap<String, String>; 2] = [BTreeMap::new(), BTreeMap::new()];
        let mut dark = 0;
        for line in STYLE.lines() {
            if line.starts_with("@media") {
                dark = 1;
            }
            let (Some((selectors, rule)), false) = (line.split_once('{'), line.starts_with('@'))
            else {
                continue;
            };
            let Some(at) = rule.find('#') else { continue };
            let colour = rule.get(at..at + 7).ok_or("short colour")?.to_owned();
            for selector in selectors.split(',') {
                themes[dark].insert(
                    selector.trim().trim_start_matches(".chart ").to_owned(),
                    colour.clone(),
                );
            }
        }
        let light = &themes[0];
        // The fallback attributes are the light theme.
        for (selector, colour) in [
            (".bg", BG),
            (".name", TEXT),
            (".label", MUTED),
            (".gridline", GRID),
            (".bar", BAR),
            (".line", LINE),
            (".line.mau", MAU),
            (".bar.new", NEW),
        ] {
            assert_eq!(light.get(selector).map(String::as_str), Some(colour), "{selector}");
        }
        for q in 0..5 {
            assert_eq!(light.get(&format!(".cell.q{q}")).map(String::as_str), Some(CELLS[q]));
            assert_eq!(light.get(&format!(".ink.q{q}")).map(String::as_str), Some(INK[q]));
        }
        for theme in &themes {
            let colour = |s: &str| theme.get(s).map(String::as_str).ok_or(format!("no {s}"));
            let bg = colour(".bg")?;
            for text in [".name", ".value", ".empty", ".label", ".note"] {
                assert!(contrast(colour(text)?, bg) >= 4.5, "{text} on {bg}");
            }
            for graphic in [
                ".bar",
                ".bar.new",
                ".line",
                ".line.dau",
                ".line.wau",
                ".line.mau",
                ".dot",
                ".axis",
            ] {
                assert!(contrast(colour(graphic)?, bg) >= 3.0, "{graphic} on {bg}");
            }
            let cells: Vec<f64> = (0..5)
                .map(|q| colour(&format!(".cell.q{q}")).map(luminance))
                .collect::<Result<_, _>>()?;
            for q in 0..5 {
                let cell = colour(&format!(".cell.q{q}"))?;
                if q > 0 {
                    assert!(contrast(cell, bg) >= 3.0, "q{q} {cell} on {bg}");
                }
                assert!(contrast(colour(&format!(".ink.q{q}"))?, cell) >= 4.5, "ink on q{q}");
            }
            // Each step is further from the background than the one before.
            let distance: Vec<f64> = cells.iter().map(|l| (l - luminance(bg)).abs()).collect();
            assert!(distance.windows(2).all(|w| w[0] < w[1]), "{distance:?}");
        }
        Ok(())
    }
}
