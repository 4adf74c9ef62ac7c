//! Who took part, and since when: what DAU/WAU/MAU, new and returning members and retention are computed
//! from.
//!
//! - A [`DayActivity`] is one day's messages per (counting channel, member), with the day's categories:
//!   the `messages` counters of the day's summary, derived from it whenever the summary is written (an
//!   erasure included), and about a third of its size, so a range of days is cheap to read.
//! - A [`FirstSeenShard`] holds, for the members whose id hashes to it, the first day each sent a counted
//!   message in each counting channel, folded from the batch log (the earliest day wins, so a backfill
//!   that finds older messages moves the day earlier; an erasure removes the member).
//!
//! Both keep the channel, so that every figure is computed from the channels its audience may see.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::batch::{Batch, Versioned};
use crate::summary::{Span, fold_into_tally, shard_of};
use crate::{ChannelId, Counts, Day, Tally, UserId};

/// Into how many items a guild's first-seen days are split (by a hash of the member id): a fold rewrites
/// only the shards of members it saw for the first time, and even a guild with a million (member,
/// channel) pairs stays far below DynamoDB's item size limit.
pub const FIRST_SEEN_SHARDS: u16 = 64;

const ACTIVITY_VERSION: u8 = 1;
const FIRST_SEEN_VERSION: u8 = 1;

/// One day's messages per (counting channel, member), folded from the batch log up to `through`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayActivity {
    /// The day.
    pub day: Day,
    /// Sequence number of the last batch folded in (0: none).
    pub through: u64,
    /// Messages only (every counter has `messages > 0` and no reactions), and the day's categories.
    pub tally: Tally,
}

impl DayActivity {
    /// The activity of a day whose summary holds `tally`, folded up to `through`.
    #[must_use]
    pub fn of_day(day: Day, through: u64, tally: &Tally) -> Self {
        Self { day, through, tally: messages_only(tally) }
    }

    /// Folds one batch in; batches at or below `through` are ignored, so folding is idempotent.
    pub fn fold(&mut self, batch: &Batch) {
        if batch.seq <= self.through {
            return;
        }
        let touched =
            !batch.erasures.is_empty() || batch.counters.iter().any(|d| d.day == self.day);
        if touched {
            let mut tally = std::mem::take(&mut self.tally);
            fold_into_tally(&mut tally, Span::Day(self.day), batch);
            self.tally = messages_only(&tally);
        } else {
            // What `fold_into_tally` does to a day the batch does not count in, without rebuilding it
            // (a reader folds every waiting batch into every day of its range).
            for c in &batch.categories {
                if let Some(category) = self.tally.categories.get_mut(&c.channel) {
                    *category = c.category;
                }
            }
        }
        self.through = batch.seq;
    }

    /// Encodes the day for storage: each member's id once, then per channel its members' positions (as
    /// differences) and messages.
    ///
    /// # Errors
    /// Never in practice: postcard fails only on unsupported serde shapes.
    pub fn encode(&self) -> Result<Vec<u8>, crate::CodecError> {
        let mut positions: BTreeMap<UserId, u32> =
            self.tally.counters.keys().map(|(_, u)| (*u, 0)).collect();
        for (i, position) in (0u32..).zip(positions.values_mut()) {
            *position = i;
        }
        let mut channels: BTreeMap<ChannelId, Vec<(u32, u64)>> = BTreeMap::new();
        for (&(channel, user), counts) in &self.tally.counters {
            let position = positions.get(&user).copied().unwrap_or(0);
            let messages = u64::try_from(counts.messages).unwrap_or(0);
            channels.entry(channel).or_default().push((position, messages));
        }
        let stored = StoredActivity {
            day: self.day,
            through: self.through,
            members: positions.into_keys().collect(),
            channels: channels
                .into_iter()
                .map(|(channel, mut rows)| {
                    rows.sort_unstable_by_key(|(i, _)| *i);
                    let mut previous = 0;
                    let rows = rows
                        .into_iter()
                        .map(|(i, n)| (i - std::mem::replace(&mut previous, i), n))
                        .collect();
                    (channel, rows)
                })
                .collect(),
            categories: self.tally.categories.iter().map(|(k, v)| (*k, *v)).collect(),
        };
        crate::codec::encode(&Versioned { version: ACTIVITY_VERSION, body: &stored })
    }

    /// Decodes a stored day.
    ///
    /// # Errors
    /// When the bytes are not a day's activity of a known version, or name a member they lack.
    pub fn decode(bytes: &[u8]) -> Result<Self, crate::CodecError> {
        let stored: StoredActivity = crate::codec::decode_versioned(bytes, ACTIVITY_VERSION)?;
        let mut tally = Tally::new();
        for (channel, rows) in stored.channels {
            let mut index = 0u32;
            for (delta, messages) in rows {
                index = index.checked_add(delta).ok_or_else(inconsistent)?;
                let user = usize::try_from(index)
                    .ok()
                    .and_then(|i| stored.members.get(i))
                    .ok_or_else(inconsistent)?;
                let messages = i64::try_from(messages).map_err(|_| inconsistent())?;
                tally.add(channel, *user, Counts::messages(messages));
            }
        }
        tally.categories = stored.categories.into_iter().collect();
        Ok(Self { day: stored.day, through: stored.through, tally })
    }
}

fn inconsistent() -> crate::CodecError {
    crate::CodecError::Corrupt(postcard::Error::DeserializeBadEncoding)
}

/// The messages of a tally: counters with none are left out, reactions dropped.
fn messages_only(tally: &Tally) -> Tally {
    let mut out = Tally::new();
    for (&(channel, user), counts) in &tally.counters {
        if counts.messages > 0 {
            out.add(channel, user, Counts::messages(counts.messages));
        }
    }
    out.categories.clone_from(&tally.categories);
    out
}

/// How a day's activity is stored.
#[derive(Serialize, Deserialize)]
struct StoredActivity {
    day: Day,
    through: u64,
    /// The members with messages, ascending.
    members: Vec<UserId>,
    /// Per channel: (position in `members` minus the previous row's, messages).
    channels: Vec<(ChannelId, Vec<(u32, u64)>)>,
    categories: Vec<(ChannelId, Option<ChannelId>)>,
}

/// The first day each member of one shard sent a counted message in each counting channel, folded from
/// the batch log up to `through`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstSeenShard {
    /// Which shard (see [`first_seen_shard`]).
    pub shard: u16,
    /// Sequence number of the last batch folded in (0: none).
    pub through: u64,
    /// First day per (member, counting channel).
    pub first: BTreeMap<(UserId, ChannelId), Day>,
}

/// The shard that holds a member's first days.
#[must_use]
pub fn first_seen_shard(user: UserId) -> u16 {
    shard_of(user, FIRST_SEEN_SHARDS)
}

impl FirstSeenShard {
    /// Nothing seen, having folded batches up to `through`.
    #[must_use]
    pub fn empty(shard: u16, through: u64) -> Self {
        Self { shard, through, first: BTreeMap::new() }
    }

    /// Folds one batch in; batches at or below `through` are ignored. Keeps the earliest day of each
    /// (member, channel) with messages, and forgets erased members.
    pub fn fold(&mut self, batch: &Batch) {
        if batch.seq <= self.through {
            return;
        }
        let shard = self.shard;
        fold_first_seen(&mut self.first, batch, |user| first_seen_shard(user) == shard);
        self.through = batch.seq;
    }

    /// Encodes the shard: each channel's id once, then per member its (channel position, first day).
    ///
    /// # Errors
    /// Never in practice: postcard fails only on unsupported serde shapes.
    pub fn encode(&self) -> Result<Vec<u8>, crate::CodecError> {
        let mut positions: BTreeMap<ChannelId, u32> =
            self.first.keys().map(|(_, c)| (*c, 0)).collect();
        for (i, position) in (0u32..).zip(positions.values_mut()) {
            *position = i;
        }
        let mut members: Vec<(UserId, Vec<(u32, Day)>)> = Vec::new();
        for (&(user, channel), &day) in &self.first {
            let row = (positions.get(&channel).copied().unwrap_or(0), day);
            match members.last_mut() {
                Some((last, rows)) if *last == user => rows.push(row),
                _ => members.push((user, vec![row])),
            }
        }
        let stored = StoredFirstSeen {
            shard: self.shard,
            through: self.through,
            channels: positions.into_keys().collect(),
            members,
        };
        crate::codec::encode(&Versioned { version: FIRST_SEEN_VERSION, body: &stored })
    }

    /// Decodes a stored shard.
    ///
    /// # Errors
    /// When the bytes are not a first-seen shard of a known version, or name a channel they lack.
    pub fn decode(bytes: &[u8]) -> Result<Self, crate::CodecError> {
        let stored: StoredFirstSeen = crate::codec::decode_versioned(bytes, FIRST_SEEN_VERSION)?;
        let mut first = BTreeMap::new();
        for (user, rows) in stored.members {
            for (position, day) in rows {
                let channel = usize::try_from(position)
                    .ok()
                    .and_then(|i| stored.channels.get(i))
                    .ok_or_else(inconsistent)?;
                first.insert((user, *channel), day);
            }
        }
        Ok(Self { shard: stored.shard, through: stored.through, first })
    }
}

/// Folds a batch into first days of the members `mine` accepts: the earliest day of each (member, channel)
/// with messages wins; an erased member is forgotten (after the batch's own counters).
pub fn fold_first_seen(
    first: &mut BTreeMap<(UserId, ChannelId), Day>,
    batch: &Batch,
    mine: impl Fn(UserId) -> bool,
) {
    for delta in batch.counters.iter().filter(|d| d.counts.messages > 0 && mine(d.user)) {
        first
            .entry((delta.user, delta.channel))
            .and_modify(|day| *day = (*day).min(delta.day))
            .or_insert(delta.day);
    }
    for &user in batch.erasures.iter().filter(|u| mine(**u)) {
        first.retain(|(u, _), _| *u != user);
    }
}

/// How a first-seen shard is stored.
#[derive(Serialize, Deserialize)]
struct StoredFirstSeen {
    shard: u16,
    through: u64,
    /// The shard's channels, ascending.
    channels: Vec<ChannelId>,
    /// Per member, ascending: (position in `channels`, first day).
    members: Vec<(UserId, Vec<(u32, Day)>)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BatchBuilder;

    fn day(s: &str) -> Day {
        s.parse().unwrap_or(Day::from_ordinal(0))
    }

    fn batch(seq: u64, f: impl FnOnce(&mut BatchBuilder)) -> Batch {
        let mut b = BatchBuilder::new();
        f(&mut b);
        let mut batch = b.build(0);
        batch.seq = seq;
        batch
    }

    #[test]
    fn a_days_activity_keeps_messages_only_and_round_trips() -> Result<(), crate::CodecError> {
        let d = day("2026-11-28");
        let b1 = batch(1, |b| {
            b.add(d, ChannelId(5), UserId(70), Counts::messages(2));
            b.add(d, ChannelId(5), UserId(8), Counts { reactions_given: 3, ..Counts::ZERO });
            b.add(d, ChannelId(6), UserId(8), Counts::messages(1));
            b.add(d.next(), ChannelId(6), UserId(9), Counts::messages(1));
            b.set_category(ChannelId(5), Some(ChannelId(1)));
        });
        let b2 = batch(2, |b| b.add(d, ChannelId(5), UserId(70), Counts::messages(1)));
        let mut activity = DayActivity::of_day(d, 0, &Tally::new());
        for b in [&b1, &b2, &b1] {
            activity.fold(b);
        }
        assert_eq!(activity.through, 2);
        let expected: BTreeMap<(ChannelId, UserId), Counts> = BTreeMap::from([
            ((ChannelId(5), UserId(70)), Counts::messages(3)),
            ((ChannelId(6), UserId(8)), Counts::messages(1)),
        ]);
        assert_eq!(activity.tally.counters, expected);
        assert_eq!(activity.tally.category_of(ChannelId(5)), Some(ChannelId(1)));
        assert_eq!(DayActivity::decode(&activity.encode()?)?, activity);

        // A batch of another day moves a known channel's category, like a summary's fold.
        let elsewhere = batch(3, |b| {
            b.add(d.next(), ChannelId(5), UserId(9), Counts::messages(1));
            b.set_category(ChannelId(5), Some(ChannelId(2)));
            b.set_category(ChannelId(77), Some(ChannelId(2)));
        });
        let mut summary = crate::Summary::empty(Span::Day(d), 2);
        summary.tally = activity.tally.clone();
        activity.fold(&elsewhere);
        summary.fold(&elsewhere);
        assert_eq!(activity.tally.categories, summary.tally.categories);
        assert_eq!(
            (activity.tally.category_of(ChannelId(5)), activity.through),
            (Some(ChannelId(2)), 3)
        );
        assert_eq!(activity.tally.counters, expected);

        let erased = batch(4, |b| b.erase(UserId(70)));
        activity.fold(&erased);
        assert_eq!(activity.tally.counters.len(), 1);
        Ok(())
    }

    #[test]
    fn a_stored_activity_naming_a_member_it_lacks_is_refused() -> Result<(), crate::CodecError> {
        let stored = StoredActivity {
            day: day("2026-11-28"),
            through: 1,
            members: vec![UserId(1)],
            channels: vec![(ChannelId(5), vec![(0, 1), (1, 1)])],
            categories: Vec::new(),
        };
        let bytes = crate::codec::encode(&Versioned { version: ACTIVITY_VERSION, body: &stored })?;
        assert!(DayActivity::decode(&bytes).is_err());
        Ok(())
    }

    #[test]
    fn first_seen_keeps_the_earliest_day_and_forgets_erased_members()
    -> Result<(), crate::CodecError> {
        let (d, c) = (day("2026-11-28"), ChannelId(5));
        let users: Vec<UserId> = (1..200).map(UserId).collect();
        let member = users.iter().copied().find(|u| first_seen_shard(*u) == 3).unwrap_or(UserId(0));
        let other = users.iter().copied().find(|u| first_seen_shard(*u) != 3).unwrap_or(UserId(0));
        let later = batch(1, |b| {
            b.add(d, c, member, Counts::messages(1));
            b.add(d, c, other, Counts::messages(1));
            b.add(d.previous(), c, member, Counts { reactions_received: 2, ..Counts::ZERO });
        });
        // A backfill found an older message.
        let older = batch(2, |b| b.add(d.plus(-10), c, member, Counts::messages(1)));
        let mut shard = FirstSeenShard::empty(3, 0);
        for b in [&later, &older, &later] {
            shard.fold(b);
        }
        assert_eq!(shard.first, BTreeMap::from([((member, c), d.plus(-10))]));
        assert_eq!(FirstSeenShard::decode(&shard.encode()?)?, shard);
        shard.fold(&batch(3, |b| b.erase(member)));
        assert!(shard.first.is_empty());
        Ok(())
    }
}
