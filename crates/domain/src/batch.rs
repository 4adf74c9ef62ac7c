//! Batches: the unit the counter store applies exactly once.
//!
//! A sync run turns the messages it read into one or more [`Batch`]es. Each batch holds the counter deltas,
//! the channel cursors as they stand after those messages, the reaction state of the messages it counted (to
//! compute later corrections) and any erasures. The store appends batches to a per-guild log under
//! consecutive sequence numbers with a conditional write, so a batch is either applied whole or not at all,
//! and a retried or re-run batch cannot count twice: see `docs/schema.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ChannelId, Counts, Day, MessageId, UserId};

/// A counter delta for one (day, channel, member).
///
/// The channel is the counting channel: a thread's or forum post's parent, never the thread itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterDelta {
    /// Day in the guild's time zone.
    pub day: Day,
    /// Counting channel.
    pub channel: ChannelId,
    /// Member.
    pub user: UserId,
    /// The change.
    pub counts: Counts,
}

/// Messages counted in one local clock hour of a day in one counting channel. Hourly counts name no member:
/// an erasure leaves them as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourDelta {
    /// Day in the guild's time zone.
    pub day: Day,
    /// Hour of the guild's local clock, 0–23.
    pub hour: u8,
    /// Counting channel.
    pub channel: ChannelId,
    /// Messages counted.
    pub messages: i64,
}

/// How far one channel or thread has been counted: every counted message has an id in `[before, after]`.
///
/// Forward sync asks Discord for messages `after` the cursor; backfill for messages `before` it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelCursor {
    /// The polled channel or thread.
    pub channel: ChannelId,
    /// For a thread or forum post, its parent channel (the counting channel); `None` for a channel.
    pub parent: Option<ChannelId>,
    /// Lowest id that may have been counted; backfill continues below it.
    pub before: MessageId,
    /// Highest id that may have been counted; forward sync continues above it.
    pub after: MessageId,
    /// For a channel that holds threads: archived threads up to this time (Unix ms) have been looked at.
    pub threads_listed_ms: u64,
    /// When the reactions of this channel's recent messages were last reconciled (Unix ms).
    pub reconciled_ms: u64,
    /// The bot could not read it when it last tried (403/404): it is asked again only when it has new
    /// messages, and its reactions are not reconciled.
    pub unreadable: bool,
}

impl ChannelCursor {
    /// A cursor for a channel first seen now: nothing counted, forward sync starts after `start`,
    /// backfill continues at and below `start`.
    #[must_use]
    pub const fn starting_at(
        channel: ChannelId,
        parent: Option<ChannelId>,
        start: MessageId,
    ) -> Self {
        Self {
            channel,
            parent,
            before: MessageId(start.0.saturating_add(1)),
            after: start,
            threads_listed_ms: 0,
            reconciled_ms: 0,
            unreadable: false,
        }
    }

    /// The counting channel: the parent of a thread, else the channel itself.
    #[must_use]
    pub fn counting_channel(&self) -> ChannelId {
        self.parent.unwrap_or(self.channel)
    }
}

/// The category of a counting channel (`None`: not in a category), as seen when its messages were counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelCategory {
    /// Counting channel.
    pub channel: ChannelId,
    /// Its category.
    pub category: Option<ChannelId>,
}

/// An emoji as the reaction endpoints name it: the unicode character(s), or `name:id` for a custom emoji.
pub type EmojiKey = String;

/// The counted reactions of one emoji on one message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmojiReactions {
    /// The emoji.
    pub emoji: EmojiKey,
    /// Discord's count for it (normal and burst), which `reactions_received` counts.
    pub count: u32,
    /// The reacting members counted in `reactions_given`, sorted and without duplicates.
    pub reactors: Vec<UserId>,
}

/// The reaction state counted for one message, kept for the reconciliation window so that later changes
/// can be applied as differences.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageReactions {
    /// The message.
    pub message: MessageId,
    /// The channel or thread it is in (to read it again).
    pub source: ChannelId,
    /// The counting channel.
    pub channel: ChannelId,
    /// The message's day.
    pub day: Day,
    /// The author whose `reactions_received` counts this message's reactions; `None` when the author is not
    /// counted (a bot, a webhook, a system message, an opted-out member).
    pub author: Option<UserId>,
    /// Counted reactions per emoji, sorted by emoji.
    pub emojis: Vec<EmojiReactions>,
}

impl MessageReactions {
    /// Sum of the emoji counts: what the author received.
    #[must_use]
    pub fn received(&self) -> i64 {
        self.emojis.iter().map(|e| i64::from(e.count)).sum()
    }
}

/// One entry of a guild's batch log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// Position in the guild's log, from 1, without gaps.
    pub seq: u64,
    /// When the batch was built (Unix milliseconds).
    pub created_at_ms: u64,
    /// Counter deltas, at most one per (day, channel, member), sorted.
    pub counters: Vec<CounterDelta>,
    /// Categories of the counting channels in `counters`.
    pub categories: Vec<ChannelCategory>,
    /// Cursors after this batch, for every channel or thread it advanced.
    pub cursors: Vec<ChannelCursor>,
    /// Reaction state after this batch, for messages counted or corrected in it.
    pub reactions: Vec<MessageReactions>,
    /// Members whose counters are erased as of this batch.
    pub erasures: Vec<UserId>,
    /// Messages per (day, local hour, counting channel), at most one per key, sorted (batches written
    /// before hourly counts existed have none).
    pub hours: Vec<HourDelta>,
}

/// Layout version of stored batches: 2 since batches carry hourly counts.
const BATCH_VERSION: u8 = 2;

/// A batch as layout version 1 stored it: without hourly counts.
#[derive(Deserialize)]
struct BatchV1 {
    seq: u64,
    created_at_ms: u64,
    counters: Vec<CounterDelta>,
    categories: Vec<ChannelCategory>,
    cursors: Vec<ChannelCursor>,
    reactions: Vec<MessageReactions>,
    erasures: Vec<UserId>,
}

impl From<BatchV1> for Batch {
    fn from(v1: BatchV1) -> Self {
        Self {
            seq: v1.seq,
            created_at_ms: v1.created_at_ms,
            counters: v1.counters,
            categories: v1.categories,
            cursors: v1.cursors,
            reactions: v1.reactions,
            erasures: v1.erasures,
            hours: Vec::new(),
        }
    }
}

impl Batch {
    /// Whether the batch changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
            && self.categories.is_empty()
            && self.cursors.is_empty()
            && self.reactions.is_empty()
            && self.erasures.is_empty()
            && self.hours.is_empty()
    }

    /// Encodes the batch for storage.
    ///
    /// # Errors
    /// Never in practice: postcard fails only on unsupported serde shapes.
    pub fn encode(&self) -> Result<Vec<u8>, crate::CodecError> {
        crate::codec::encode(&Versioned { version: BATCH_VERSION, body: self })
    }

    /// Decodes a stored batch of either layout.
    ///
    /// # Errors
    /// When the bytes are not a batch of a known version.
    pub fn decode(bytes: &[u8]) -> Result<Self, crate::CodecError> {
        match bytes.first() {
            Some(1) => Ok(crate::codec::decode_versioned::<BatchV1>(bytes, 1)?.into()),
            _ => crate::codec::decode_versioned(bytes, BATCH_VERSION),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct Versioned<'a, T> {
    pub(crate) version: u8,
    pub(crate) body: &'a T,
}

/// Accumulates counter deltas, cursors and reaction states into batches.
#[derive(Debug, Default, Clone)]
pub struct BatchBuilder {
    counters: BTreeMap<(Day, ChannelId, UserId), Counts>,
    categories: BTreeMap<ChannelId, Option<ChannelId>>,
    cursors: BTreeMap<ChannelId, ChannelCursor>,
    reactions: BTreeMap<MessageId, MessageReactions>,
    erasures: Vec<UserId>,
    hours: BTreeMap<(Day, u8, ChannelId), i64>,
}

impl BatchBuilder {
    /// An empty builder.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a delta; deltas for the same key add up.
    pub fn add(&mut self, day: Day, channel: ChannelId, user: UserId, counts: Counts) {
        if counts.is_zero() {
            return;
        }
        let entry = self.counters.entry((day, channel, user)).or_default();
        *entry += counts;
        if entry.is_zero() {
            self.counters.remove(&(day, channel, user));
        }
    }

    /// Adds messages to a (day, local hour, counting channel).
    pub fn add_hour(&mut self, day: Day, hour: u8, channel: ChannelId, messages: i64) {
        let entry = self.hours.entry((day, hour, channel)).or_default();
        *entry += messages;
        if *entry == 0 {
            self.hours.remove(&(day, hour, channel));
        }
    }

    /// Records the category of a counting channel.
    pub fn set_category(&mut self, channel: ChannelId, category: Option<ChannelId>) {
        self.categories.insert(channel, category);
    }

    /// Records a cursor; a later cursor for the same channel replaces an earlier one.
    pub fn set_cursor(&mut self, cursor: ChannelCursor) {
        self.cursors.insert(cursor.channel, cursor);
    }

    /// Records the reaction state of a message; a later state replaces an earlier one.
    pub fn set_reactions(&mut self, state: MessageReactions) {
        self.reactions.insert(state.message, state);
    }

    /// Erases a member's counters as of this batch.
    pub fn erase(&mut self, user: UserId) {
        self.counters.retain(|(_, _, u), _| *u != user);
        if !self.erasures.contains(&user) {
            self.erasures.push(user);
        }
    }

    /// Adds everything of another builder; its cursors and reaction states replace this one's.
    pub fn merge(&mut self, other: Self) {
        for ((day, channel, user), counts) in other.counters {
            self.add(day, channel, user, counts);
        }
        self.categories.extend(other.categories);
        self.cursors.extend(other.cursors);
        self.reactions.extend(other.reactions);
        for ((day, hour, channel), messages) in other.hours {
            self.add_hour(day, hour, channel, messages);
        }
        for user in other.erasures {
            self.erase(user);
        }
    }

    /// The cursor recorded for a channel, if any.
    #[must_use]
    pub fn cursor(&self, channel: ChannelId) -> Option<&ChannelCursor> {
        self.cursors.get(&channel)
    }

    /// Number of counter deltas.
    #[must_use]
    pub fn counter_count(&self) -> usize {
        self.counters.len()
    }

    /// Whether nothing has been added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
            && self.cursors.is_empty()
            && self.reactions.is_empty()
            && self.erasures.is_empty()
            && self.categories.is_empty()
            && self.hours.is_empty()
    }

    /// A rough upper bound of the encoded size in bytes, to cut batches below the store's item size limit.
    #[must_use]
    pub fn estimated_size(&self) -> usize {
        let reactions: usize = self
            .reactions
            .values()
            .map(|r| {
                40 + r
                    .emojis
                    .iter()
                    .map(|e| 16 + e.emoji.len() + 10 * e.reactors.len())
                    .sum::<usize>()
            })
            .sum();
        64 + self.counters.len() * 40
            + self.categories.len() * 20
            + self.cursors.len() * 40
            + reactions
            + self.erasures.len() * 10
            + self.hours.len() * 24
    }

    /// The counter deltas added so far.
    pub fn counters(&self) -> impl Iterator<Item = CounterDelta> + '_ {
        self.counters.iter().map(|(&(day, channel, user), &counts)| CounterDelta {
            day,
            channel,
            user,
            counts,
        })
    }

    /// Builds the batch (its `seq` is set by the store when it is committed).
    #[must_use]
    pub fn build(self, created_at_ms: u64) -> Batch {
        Batch {
            seq: 0,
            created_at_ms,
            counters: self
                .counters
                .into_iter()
                .map(|((day, channel, user), counts)| CounterDelta { day, channel, user, counts })
                .collect(),
            categories: self
                .categories
                .into_iter()
                .map(|(channel, category)| ChannelCategory { channel, category })
                .collect(),
            cursors: self.cursors.into_values().collect(),
            reactions: self.reactions.into_values().collect(),
            erasures: self.erasures,
            hours: self
                .hours
                .into_iter()
                .map(|((day, hour, channel), messages)| HourDelta { day, hour, channel, messages })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        s.parse().unwrap_or(Day::from_ordinal(0))
    }

    #[test]
    fn builder_adds_deltas_per_key_and_drops_zeros() {
        let mut b = BatchBuilder::new();
        let (d, c, u) = (day("2026-11-28"), ChannelId(10), UserId(7));
        b.add(d, c, u, Counts::messages(2));
        b.add(d, c, u, Counts { reactions_given: 1, ..Counts::ZERO });
        b.add(d, c, UserId(8), Counts::messages(1));
        b.add(d, c, UserId(8), Counts::messages(-1));
        let batch = b.build(5);
        assert_eq!(
            batch.counters,
            vec![CounterDelta {
                day: d,
                channel: c,
                user: u,
                counts: Counts { messages: 2, reactions_given: 1, reactions_received: 0 }
            }]
        );
    }

    #[test]
    fn erasing_drops_the_members_pending_deltas() {
        let mut b = BatchBuilder::new();
        b.add(day("2026-11-28"), ChannelId(1), UserId(7), Counts::messages(2));
        b.erase(UserId(7));
        b.erase(UserId(7));
        let batch = b.build(0);
        assert!(batch.counters.is_empty());
        assert_eq!(batch.erasures, vec![UserId(7)]);
    }

    #[test]
    fn batches_round_trip_through_their_encoding() -> Result<(), crate::CodecError> {
        let mut b = BatchBuilder::new();
        b.add(
            day("2026-11-28"),
            ChannelId(1),
            UserId(7),
            Counts { messages: 3, reactions_given: -1, reactions_received: 9 },
        );
        b.set_category(ChannelId(1), Some(ChannelId(99)));
        b.set_cursor(ChannelCursor::starting_at(ChannelId(1), None, MessageId(1000)));
        b.set_reactions(MessageReactions {
            message: MessageId(1001),
            source: ChannelId(1),
            channel: ChannelId(1),
            day: day("2026-11-28"),
            author: Some(UserId(7)),
            emojis: vec![EmojiReactions {
                emoji: "party:123".into(),
                count: 2,
                reactors: vec![UserId(3), UserId(4)],
            }],
        });
        b.add_hour(day("2026-11-28"), 23, ChannelId(1), 3);
        let mut batch = b.build(1_700_000_000_000);
        batch.seq = 42;
        let bytes = batch.encode()?;
        assert_eq!(Batch::decode(&bytes)?, batch);
        assert!(Batch::decode(&bytes[..bytes.len() - 1]).is_err());

        // A batch stored before hourly counts (layout version 1) reads with none.
        #[derive(Serialize)]
        struct V1<'a> {
            seq: u64,
            created_at_ms: u64,
            counters: &'a [CounterDelta],
            categories: &'a [ChannelCategory],
            cursors: &'a [ChannelCursor],
            reactions: &'a [MessageReactions],
            erasures: &'a [UserId],
        }
        let old = crate::codec::encode(&Versioned {
            version: 1,
            body: &V1 {
                seq: batch.seq,
                created_at_ms: batch.created_at_ms,
                counters: &batch.counters,
                categories: &batch.categories,
                cursors: &batch.cursors,
                reactions: &batch.reactions,
                erasures: &batch.erasures,
            },
        })?;
        assert_eq!(Batch::decode(&old)?, Batch { hours: Vec::new(), ..batch });
        Ok(())
    }

    #[test]
    fn hours_add_up_per_key_and_survive_an_erasure() {
        let (d, c) = (day("2026-03-08"), ChannelId(4));
        let mut b = BatchBuilder::new();
        b.add_hour(d, 3, c, 1);
        let mut other = BatchBuilder::new();
        other.add_hour(d, 3, c, 2);
        other.add_hour(d, 4, c, 1);
        other.add_hour(d, 4, c, -1);
        b.merge(other);
        b.erase(UserId(7));
        assert_eq!(b.build(0).hours, vec![HourDelta { day: d, hour: 3, channel: c, messages: 3 }]);
    }
}
