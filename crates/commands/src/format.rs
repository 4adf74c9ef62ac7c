//! Text for replies: numbers, mentions, sparklines, trends.

use engagement_domain::{ChannelId, GuildTimeZone, Metric, UserId};

/// A count with thousands separators: `1234567` → `1,234,567`.
#[must_use]
pub fn number(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A count followed by its noun, singular or plural: `1 message`, `2 messages`.
#[must_use]
pub fn count(n: i64, metric: Metric) -> String {
    let noun = match (metric, n == 1) {
        (Metric::Messages, true) => "message",
        (Metric::Messages, false) => "messages",
        (Metric::ReactionsGiven, true) => "reaction given",
        (Metric::ReactionsGiven, false) => "reactions given",
        (Metric::ReactionsReceived, true) => "reaction received",
        (Metric::ReactionsReceived, false) => "reactions received",
    };
    format!("{} {noun}", number(n))
}

/// A number of members: `1 member`, `2 members`.
#[must_use]
pub fn members(n: usize) -> String {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    format!("{} member{}", number(n), if n == 1 { "" } else { "s" })
}

/// How fresh the counts are: `counted up to 14:05, 3 min ago` (the time in `zone`; with the date when
/// it is not today's), or `not synced yet`. `now_ms` 0: without the "ago".
#[must_use]
pub fn freshness(counted_to_ms: Option<u64>, now_ms: u64, zone: GuildTimeZone) -> String {
    let Some(at) = counted_to_ms
        .and_then(|ms| i64::try_from(ms).ok())
        .and_then(chrono::DateTime::<chrono::Utc>::from_timestamp_millis)
    else {
        return "not synced yet".to_owned();
    };
    let local = at.with_timezone(&zone.0);
    let now = i64::try_from(now_ms).ok().and_then(chrono::DateTime::from_timestamp_millis);
    let same_day =
        now.is_some_and(|now| now.with_timezone(&zone.0).date_naive() == local.date_naive());
    let time = if same_day {
        local.format("%H:%M").to_string()
    } else {
        local.format("%b %d %H:%M").to_string()
    };
    let Some(now) = now.filter(|_| now_ms > 0) else { return format!("counted up to {time}") };
    let minutes = (now - at).num_minutes().max(0);
    let ago = match minutes {
        0 => "just now".to_owned(),
        1..=89 => format!("{minutes} min ago"),
        90..=2_159 => format!("{} h ago", (minutes + 30) / 60),
        _ => format!("{} days ago", (minutes + 720) / 1_440),
    };
    format!("counted up to {time}, {ago}")
}

/// A user mention, `<@id>`: Discord shows the name, and no lookup is needed (pings are off, see
/// [`crate::reply::no_mentions`]).
#[must_use]
pub fn user(id: UserId) -> String {
    format!("<@{id}>")
}

/// A channel (or category) mention, `<#id>`.
#[must_use]
pub fn channel(id: ChannelId) -> String {
    format!("<#{id}>")
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A text sparkline of `values`, at most `width` characters: longer series are summed into `width` buckets
/// of consecutive values. Zero is the lowest bar; an all-zero series is all lowest bars.
#[must_use]
pub fn sparkline(values: &[i64], width: usize) -> String {
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let buckets: Vec<i64> = if values.len() <= width {
        values.to_vec()
    } else {
        let per = values.len().div_ceil(width);
        values.chunks(per).map(|c| c.iter().sum()).collect()
    };
    let max = buckets.iter().copied().max().unwrap_or(0).max(1);
    buckets
        .iter()
        .map(|&v| {
            let v = v.clamp(0, max);
            // 0 → lowest bar; max → highest. Integer arithmetic, rounded to the nearest bar.
            let index = (v * 7 + max / 2) / max;
            BARS[usize::try_from(index).unwrap_or(0).min(7)]
        })
        .collect()
}

/// How `now` compares with `before`: `▲ 25% (120 → 150)`, `▼ 10% (…)`, `no change (…)`, or a note when
/// there was nothing before.
#[must_use]
pub fn trend(before: i64, now: i64) -> String {
    if before == 0 {
        return if now == 0 {
            "no activity in either period".to_owned()
        } else {
            format!("new: nothing in the previous period (0 → {})", number(now))
        };
    }
    let change = (now - before) as f64 * 100.0 / before as f64;
    let arrows = format!("({} → {})", number(before), number(now));
    if change.abs() < 0.5 {
        format!("no change {arrows}")
    } else if change > 0.0 {
        format!("▲ {change:.0}% {arrows}")
    } else {
        format!("▼ {:.0}% {arrows}", change.abs())
    }
}

/// Short weekday names, Monday first (heatmap rows, busiest hours).
pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
/// Weekday names, Monday first.
pub const WEEKDAY_NAMES: [&str; 7] =
    ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_is_told_in_the_servers_time_zone() {
        let ms = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| u64::try_from(t.timestamp_millis()).unwrap_or(0))
                .unwrap_or(0)
        };
        let paris: GuildTimeZone = "Europe/Paris".parse().unwrap_or(GuildTimeZone::UTC);
        let at = Some(ms("2026-11-28T17:00:00Z"));
        assert_eq!(
            freshness(at, ms("2026-11-28T20:00:00Z"), paris),
            "counted up to 18:00, 3 h ago"
        );
        assert_eq!(
            freshness(at, ms("2026-11-28T17:00:30Z"), paris),
            "counted up to 18:00, just now"
        );
        // After midnight in Paris (still the 28th in UTC): the date is said.
        assert_eq!(
            freshness(at, ms("2026-11-28T23:00:00Z"), paris),
            "counted up to Nov 28 18:00, 6 h ago"
        );
        assert_eq!(freshness(at, 0, paris), "counted up to Nov 28 18:00");
        assert_eq!(freshness(None, 0, paris), "not synced yet");
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(number(0), "0");
        assert_eq!(number(999), "999");
        assert_eq!(number(1_000), "1,000");
        assert_eq!(number(1_234_567), "1,234,567");
        assert_eq!(number(-12_345), "-12,345");
    }

    #[test]
    fn counts_agree_in_number() {
        assert_eq!(count(1, Metric::Messages), "1 message");
        assert_eq!(count(2_000, Metric::ReactionsGiven), "2,000 reactions given");
    }

    #[test]
    fn sparklines_scale_to_the_maximum_and_bucket_long_series() {
        assert_eq!(sparkline(&[0, 1, 2, 3, 4, 5, 6, 7], 20), "▁▂▃▄▅▆▇█");
        assert_eq!(sparkline(&[0, 0, 0], 20), "▁▁▁");
        assert_eq!(sparkline(&[5], 20), "█");
        let long: Vec<i64> = (0..100).collect();
        assert_eq!(sparkline(&long, 10).chars().count(), 10);
        assert_eq!(sparkline(&[], 10), "");
    }

    #[test]
    fn trends_say_which_way() {
        assert_eq!(trend(100, 125), "▲ 25% (100 → 125)");
        assert_eq!(trend(100, 90), "▼ 10% (100 → 90)");
        assert_eq!(trend(100, 100), "no change (100 → 100)");
        assert_eq!(trend(0, 5), "new: nothing in the previous period (0 → 5)");
    }
}
