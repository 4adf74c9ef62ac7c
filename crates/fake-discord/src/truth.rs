//! Ground truth: what a correct sync must count, computed straight from the fake's world.
//!
//! This is the oracle the sync is tested against, so it is written independently of any client code and
//! follows exactly these rules:
//!
//! * a message counts if its author is a member — not a bot (`author.bot`), not a webhook message
//!   (`webhook_id`) — and its type is DEFAULT 0 or REPLY 19;
//! * a message in a thread (forum posts included) counts toward the thread's parent channel; the category is
//!   the parent channel's `parent_id`;
//! * the day is the message's local date in the given time zone;
//! * `reactions_received` of a counted message's author is the sum of `count` (normal + burst, whoever
//!   reacted) over the message's reactions;
//! * `reactions_given`: one per (message, emoji, reacting user) with a reactor that is not a bot, over every
//!   message of a counted channel whatever its author or type, attributed to (message's day, message's
//!   channel-or-parent, reactor); a user in both the normal and the burst list of an emoji counts once;
//! * channels the bot cannot read and excluded channels (with their threads) count nothing; opted-out users
//!   get no counters at all;
//! * messages created before `since` count nothing, and neither do reactions on them;
//! * hourly: a counted message counts in its local date and local clock hour (0–23) in the time zone,
//!   per channel-or-parent, with no user;
//! * insights: a user is active on a day with at least one counted message that day; new on the day of
//!   their first counted message in the guild; DAU, WAU and MAU count distinct active users over 1, 7
//!   and 30 days.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Timelike as _, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::world::{Channel, Message, World, kind, message_type};

/// Options of a ground-truth computation.
#[derive(Clone, Debug, PartialEq)]
pub struct TruthOptions {
    /// Time zone of the days.
    pub time_zone: Tz,
    /// Messages created before this count nothing.
    pub since: Option<DateTime<Utc>>,
    /// Channels (not threads) that count nothing, with their threads.
    pub excluded_channels: BTreeSet<u64>,
    /// Users that get no counters.
    pub opted_out_users: BTreeSet<u64>,
}

impl Default for TruthOptions {
    fn default() -> Self {
        Self {
            time_zone: Tz::UTC,
            since: None,
            excluded_channels: BTreeSet::new(),
            opted_out_users: BTreeSet::new(),
        }
    }
}

/// Counters of one user in one channel on one day. Ids are serialized as strings (as Discord does: they
/// exceed 2^53).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TruthRecord {
    /// Guild.
    #[serde(with = "id_string")]
    pub guild_id: u64,
    /// Local date.
    pub day: NaiveDate,
    /// Channel (the parent for thread messages).
    #[serde(with = "id_string")]
    pub channel_id: u64,
    /// The channel's category, if any.
    #[serde(with = "opt_id_string")]
    pub category_id: Option<u64>,
    /// User.
    #[serde(with = "id_string")]
    pub user_id: u64,
    /// Counted messages.
    pub messages: u64,
    /// Reactions given by the user on messages of that channel and day.
    pub reactions_given: u64,
    /// Reactions received on the user's counted messages.
    pub reactions_received: u64,
}

#[derive(Default, Clone, Copy)]
struct Counts {
    messages: u64,
    given: u64,
    received: u64,
}

/// Messages counted in one channel in one local clock hour of one day (the `engagement export --by hour`
/// record).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HourTruthRecord {
    /// Guild.
    #[serde(with = "id_string")]
    pub guild_id: u64,
    /// Local date.
    pub day: NaiveDate,
    /// Local clock hour, 0–23.
    pub hour: u32,
    /// Channel (the parent for thread messages).
    #[serde(with = "id_string")]
    pub channel_id: u64,
    /// Counted messages.
    pub messages: u64,
}

/// Computes the hourly ground truth: counted messages per (guild, local day, local hour, channel),
/// sorted, without zero records. The same messages count as in [`ground_truth`].
#[must_use]
pub fn hourly_truth(world: &World, options: &TruthOptions) -> Vec<HourTruthRecord> {
    let mut counts: BTreeMap<(u64, NaiveDate, u32, u64), u64> = BTreeMap::new();
    for_each_message(world, options, |guild, channel, message| {
        if counts_for_author(world, message, options) {
            let local = message.timestamp().with_timezone(&options.time_zone);
            *counts.entry((guild, local.date_naive(), local.hour(), channel.id)).or_default() += 1;
        }
    });
    counts
        .into_iter()
        .map(|((guild_id, day, hour, channel_id), messages)| HourTruthRecord {
            guild_id,
            day,
            hour,
            channel_id,
            messages,
        })
        .collect()
}

/// One day's participation in a guild (the `engagement insights` record).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InsightsTruthRecord {
    /// Guild.
    #[serde(with = "id_string")]
    pub guild_id: u64,
    /// Local date.
    pub day: NaiveDate,
    /// Users with a counted message that day.
    pub dau: u64,
    /// Users with a counted message on any of the 7 days up to it.
    pub wau: u64,
    /// Users with a counted message on any of the 30 days up to it.
    pub mau: u64,
    /// Users active that day whose first counted message in the guild is that day.
    pub new_members: u64,
    /// Users active that day with a counted message on an earlier day.
    pub returning_members: u64,
    /// Counted messages.
    pub messages: u64,
}

/// Computes the participation ground truth: for each guild with counted messages, one record per day
/// from its first to its last day with one. The same messages count as in [`ground_truth`]; a user's first
/// day is their earliest counted message's in the guild.
#[must_use]
pub fn insights_truth(world: &World, options: &TruthOptions) -> Vec<InsightsTruthRecord> {
    let mut active: BTreeMap<u64, BTreeMap<NaiveDate, BTreeSet<u64>>> = BTreeMap::new();
    let mut messages: BTreeMap<(u64, NaiveDate), u64> = BTreeMap::new();
    for_each_message(world, options, |guild, _, message| {
        if counts_for_author(world, message, options) {
            let day = message.timestamp().with_timezone(&options.time_zone).date_naive();
            active.entry(guild).or_default().entry(day).or_default().insert(message.author_id);
            *messages.entry((guild, day)).or_default() += 1;
        }
    });
    let mut out = Vec::new();
    for (guild, days) in &active {
        let (Some(first), Some(last)) = (days.keys().next(), days.keys().next_back()) else {
            continue;
        };
        let mut first_day: BTreeMap<u64, NaiveDate> = BTreeMap::new();
        for (day, users) in days {
            for user in users {
                first_day.entry(*user).or_insert(*day);
            }
        }
        let distinct = |day: NaiveDate, width: i64| -> u64 {
            let start = day - chrono::Duration::days(width - 1);
            let users: BTreeSet<u64> =
                days.range(start..=day).flat_map(|(_, users)| users.iter().copied()).collect();
            users.len() as u64
        };
        for day in first.iter_days().take_while(|d| d <= last) {
            let users = days.get(&day).cloned().unwrap_or_default();
            let new = users.iter().filter(|u| first_day.get(u) == Some(&day)).count() as u64;
            out.push(InsightsTruthRecord {
                guild_id: *guild,
                day,
                dau: users.len() as u64,
                wau: distinct(day, 7),
                mau: distinct(day, 30),
                new_members: new,
                returning_members: users.len() as u64 - new,
                messages: messages.get(&(*guild, day)).copied().unwrap_or(0),
            });
        }
    }
    out
}

/// Whether a message counts for its author.
fn counts_for_author(world: &World, message: &Message, options: &TruthOptions) -> bool {
    let author_is_bot = world.users.get(&message.author_id).is_some_and(|u| u.bot);
    !author_is_bot
        && message.webhook_id.is_none()
        && matches!(message.kind, message_type::DEFAULT | message_type::REPLY)
        && !options.opted_out_users.contains(&message.author_id)
}

/// Calls `each` with (guild, counting channel, message) for every message in a counted channel or
/// thread, created since `options.since`.
fn for_each_message(
    world: &World,
    options: &TruthOptions,
    mut each: impl FnMut(u64, &Channel, &Message),
) {
    for channel in world.channels.values() {
        let holds_messages = matches!(channel.kind, kind::TEXT | kind::ANNOUNCEMENT | kind::VOICE)
            || kind::is_thread(channel.kind);
        // Private threads are not counted: their audience is their members, not the channel's.
        if !holds_messages || !channel.readable || channel.kind == kind::PRIVATE_THREAD {
            continue;
        }
        // Threads count toward their parent channel.
        let counted_channel = if kind::is_thread(channel.kind) {
            match channel.parent_id.and_then(|p| world.channels.get(&p)) {
                Some(parent) => parent,
                None => continue,
            }
        } else {
            channel
        };
        if !counted_channel.readable
            || options.excluded_channels.contains(&counted_channel.id)
            || options.excluded_channels.contains(&channel.id)
        {
            continue;
        }
        for message in channel.messages.values() {
            if options.since.is_none_or(|since| message.timestamp() >= since) {
                each(counted_channel.guild_id, counted_channel, message);
            }
        }
    }
}

/// Computes the ground truth, sorted by (guild, day, channel, user), without all-zero records.
#[must_use]
pub fn ground_truth(world: &World, options: &TruthOptions) -> Vec<TruthRecord> {
    let mut counts: BTreeMap<(u64, NaiveDate, u64, u64), Counts> = BTreeMap::new();
    let mut categories: BTreeMap<u64, Option<u64>> = BTreeMap::new();
    for_each_message(world, options, |guild, counted_channel, message| {
        categories.insert(counted_channel.id, counted_channel.parent_id);
        let day = message.timestamp().with_timezone(&options.time_zone).date_naive();
        if counts_for_author(world, message, options) {
            let entry =
                counts.entry((guild, day, counted_channel.id, message.author_id)).or_default();
            entry.messages += 1;
            entry.received += message
                .reactions
                .iter()
                .map(|r| r.normal.len() as u64 + r.burst.len() as u64)
                .sum::<u64>();
        }
        for reaction in &message.reactions {
            let reactors: BTreeSet<u64> = reaction.normal.union(&reaction.burst).copied().collect();
            for reactor in reactors {
                let reactor_is_bot = world.users.get(&reactor).is_some_and(|u| u.bot);
                if reactor_is_bot || options.opted_out_users.contains(&reactor) {
                    continue;
                }
                counts.entry((guild, day, counted_channel.id, reactor)).or_default().given += 1;
            }
        }
    });
    counts
        .into_iter()
        .filter(|(_, c)| c.messages + c.given + c.received > 0)
        .map(|((guild_id, day, channel_id, user_id), c)| TruthRecord {
            guild_id,
            day,
            channel_id,
            category_id: categories.get(&channel_id).copied().flatten(),
            user_id,
            messages: c.messages,
            reactions_given: c.given,
            reactions_received: c.received,
        })
        .collect()
}

/// Writes records as JSON lines.
///
/// # Errors
///
/// I/O errors of `out`.
pub fn write_json_lines<T: Serialize>(
    records: &[T],
    mut out: impl std::io::Write,
) -> std::io::Result<()> {
    for record in records {
        serde_json::to_writer(&mut out, record)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

mod id_string {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(id: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(id)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(D::Error::custom)
    }
}

mod opt_id_string {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    #[allow(clippy::ref_option)]
    pub(super) fn serialize<S: Serializer>(
        id: &Option<u64>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match id {
            Some(id) => serializer.collect_str(id),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| text.parse().map_err(D::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::world::{Channel, Emoji, Guild, IdGen, Message, Reaction, ThreadState, User};
    use chrono::TimeZone;

    const GUILD: u64 = 1;
    const CATEGORY: u64 = 2;
    const TEXT: u64 = 3;
    const THREAD: u64 = 4;
    const SECRET: u64 = 5;
    const ALICE: u64 = 10;
    const BOB: u64 = 11;
    const ROBOT: u64 = 12;
    const HOOK: u64 = 13;

    /// A message id created at the given UTC time.
    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, seq: u64) -> u64 {
        engagement_domain::snowflake::from_time(Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap())
            | seq
    }

    fn channel(id: u64, kind_: u8, parent: Option<u64>, readable: bool) -> Channel {
        Channel {
            id,
            guild_id: GUILD,
            kind: kind_,
            name: format!("c{id}"),
            parent_id: parent,
            position: 0,
            readable,
            last_message_id: None,
            thread: kind::is_thread(kind_).then(|| ThreadState {
                archived: false,
                archive_timestamp: Utc::now(),
                auto_archive_duration: 60,
                locked: false,
                owner_id: ALICE,
            }),
            messages: BTreeMap::new(),
            overwrites: Vec::new(),
        }
    }

    fn message(id: u64, channel: u64, author: u64, kind_: u8) -> Message {
        Message {
            id,
            channel_id: channel,
            author_id: author,
            webhook_id: None,
            kind: kind_,
            content: String::new(),
            reference: None,
            thread_id: None,
            reactions: Vec::new(),
            embeds: Vec::new(),
            attachments: Vec::new(),
        }
    }

    fn reaction(name: &str, normal: &[u64], burst: &[u64]) -> Reaction {
        Reaction {
            emoji: Emoji::unicode(name),
            normal: normal.iter().copied().collect(),
            burst: burst.iter().copied().collect(),
        }
    }

    fn world() -> World {
        let mut users = BTreeMap::new();
        for (id, bot) in [(ALICE, false), (BOB, false), (ROBOT, true)] {
            users.insert(id, User { id, username: format!("u{id}"), bot });
        }
        let mut channels = BTreeMap::new();
        channels.insert(CATEGORY, channel(CATEGORY, kind::CATEGORY, None, true));
        channels.insert(TEXT, channel(TEXT, kind::TEXT, Some(CATEGORY), true));
        channels.insert(THREAD, channel(THREAD, kind::PUBLIC_THREAD, Some(TEXT), true));
        channels.insert(SECRET, channel(SECRET, kind::TEXT, None, false));
        let mut w = World {
            now: Utc::now(),
            application_id: 99,
            bot_user_id: 99,
            users,
            guilds: BTreeMap::from([(
                GUILD,
                Guild {
                    id: GUILD,
                    name: "g".into(),
                    members: BTreeSet::new(),
                    emojis: vec![],
                    webhooks: vec![],
                    roles: vec![],
                    member_roles: BTreeMap::new(),
                    owner_id: None,
                },
            )]),
            channels,
            ids: IdGen::default(),
        };
        // Alice, 2026-03-01 23:30 UTC: counted, 👍 by Bob normal+burst (given once, received 2), by the bot.
        let mut m1 = message(at(2026, 3, 1, 23, 30, 1), TEXT, ALICE, message_type::DEFAULT);
        m1.reactions.push(reaction("👍", &[BOB, ROBOT], &[BOB]));
        // A bot's message with Alice's reaction: not counted, but Alice gave one.
        let mut m2 = message(at(2026, 3, 2, 10, 0, 2), TEXT, ROBOT, message_type::DEFAULT);
        m2.reactions.push(reaction("🎉", &[ALICE], &[]));
        // A webhook message (author id is the webhook): not counted, its reactions are given.
        let mut m3 = message(at(2026, 3, 2, 11, 0, 3), TEXT, HOOK, message_type::DEFAULT);
        m3.webhook_id = Some(HOOK);
        m3.reactions.push(reaction("🔥", &[BOB], &[]));
        // A join message: not counted.
        let m4 = message(at(2026, 3, 2, 12, 0, 4), TEXT, BOB, message_type::USER_JOIN);
        // Bob's reply in the thread: counts toward TEXT.
        let m5 = message(at(2026, 3, 2, 13, 0, 5), THREAD, BOB, message_type::REPLY);
        // Unreadable channel: nothing.
        let mut m6 = message(at(2026, 3, 2, 13, 0, 6), SECRET, BOB, message_type::DEFAULT);
        m6.reactions.push(reaction("👀", &[ALICE], &[]));
        for m in [m1, m2, m3, m4, m5, m6] {
            w.insert_raw(m).unwrap();
        }
        w
    }

    fn find(records: &[TruthRecord], day: &str, user: u64) -> Option<(u64, u64, u64)> {
        records
            .iter()
            .find(|r| r.day.to_string() == day && r.user_id == user)
            .map(|r| (r.messages, r.reactions_given, r.reactions_received))
    }

    #[test]
    fn counting_rules_in_utc() {
        let records = ground_truth(&world(), &TruthOptions::default());
        assert!(records.iter().all(|r| r.channel_id == TEXT && r.category_id == Some(CATEGORY)));
        assert_eq!(find(&records, "2026-03-01", ALICE), Some((1, 0, 3)));
        assert_eq!(find(&records, "2026-03-01", BOB), Some((0, 1, 0)));
        assert_eq!(find(&records, "2026-03-02", ALICE), Some((0, 1, 0)));
        assert_eq!(find(&records, "2026-03-02", BOB), Some((1, 1, 0)));
        assert!(records.iter().all(|r| r.user_id != ROBOT));
        assert_eq!(records.len(), 4);
        let mut sorted = records.clone();
        sorted.sort_by_key(|r| (r.guild_id, r.day, r.channel_id, r.user_id));
        assert_eq!(sorted, records);
    }

    #[test]
    fn days_follow_the_time_zone() {
        let options = TruthOptions { time_zone: chrono_tz::Asia::Tokyo, ..TruthOptions::default() };
        let records = ground_truth(&world(), &options);
        // 23:30 UTC on March 1st is March 2nd in Tokyo.
        assert_eq!(find(&records, "2026-03-02", ALICE), Some((1, 1, 3)));
    }

    #[test]
    fn exclusions_opt_outs_and_since() {
        let w = world();
        let excluded =
            TruthOptions { excluded_channels: BTreeSet::from([TEXT]), ..TruthOptions::default() };
        assert!(ground_truth(&w, &excluded).is_empty());
        let opted_out =
            TruthOptions { opted_out_users: BTreeSet::from([BOB]), ..TruthOptions::default() };
        let records = ground_truth(&w, &opted_out);
        assert!(records.iter().all(|r| r.user_id != BOB));
        // Bob's reactions still count as received by Alice.
        assert_eq!(find(&records, "2026-03-01", ALICE), Some((1, 0, 3)));
        let since = TruthOptions {
            since: Some(Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap()),
            ..TruthOptions::default()
        };
        let records = ground_truth(&w, &since);
        assert_eq!(find(&records, "2026-03-01", ALICE), None);
        assert_eq!(find(&records, "2026-03-02", BOB), Some((1, 1, 0)));
    }

    #[test]
    fn json_lines_use_string_ids() {
        let records = ground_truth(&world(), &TruthOptions::default());
        let mut out = Vec::new();
        write_json_lines(&records, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["guild_id"], "1");
        assert_eq!(first["day"], "2026-03-01");
        let back: TruthRecord = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(back, records[0]);
    }
}
