//! Summaries: batches folded into per-day and all-time tallies, stored in shards.
//!
//! A summary remembers the sequence number of the last batch folded into it (`through`); folding a batch
//! at or below it changes nothing, so a summary can be rebuilt or re-folded any number of times. Readers
//! add the batches above `through` to get exact, current counters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::batch::{Batch, ChannelCursor, MessageReactions, Versioned};
use crate::tally::Tally;
use crate::{ChannelId, Counts, Day, MessageId, UserId};

/// The span of days a summary covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Span {
    /// One day.
    Day(Day),
    /// One calendar month.
    Month(crate::Month),
    /// Every day.
    AllTime,
}

impl Span {
    /// Whether counters of `day` belong to this span.
    #[must_use]
    pub fn covers(self, day: Day) -> bool {
        match self {
            Self::Day(d) => d == day,
            Self::Month(m) => day.month() == m,
            Self::AllTime => true,
        }
    }
}

/// Counters of one span, folded from the batch log up to `through`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The days covered.
    pub span: Span,
    /// Sequence number of the last batch folded in (0: none).
    pub through: u64,
    /// The counters.
    pub tally: Tally,
}

impl Summary {
    /// An empty summary that has folded batches up to `through`.
    #[must_use]
    pub fn empty(span: Span, through: u64) -> Self {
        Self { span, through, tally: Tally::new() }
    }

    /// Folds one batch in; batches at or below `through` are ignored, so folding is idempotent.
    /// Batches must be folded in sequence order.
    pub fn fold(&mut self, batch: &Batch) {
        if batch.seq <= self.through {
            return;
        }
        fold_into_tally(&mut self.tally, self.span, batch);
        self.through = batch.seq;
    }

    /// Splits the summary into encoded shards of at most about `max_shard_bytes` each (one shard at least).
    ///
    /// Members are spread over shards by a hash of their id, so a member's counters sit in one shard.
    ///
    /// # Errors
    /// When encoding fails (it does not for these types).
    pub fn encode_shards(&self, max_shard_bytes: usize) -> Result<Vec<Vec<u8>>, crate::CodecError> {
        let max = max_shard_bytes.max(1);
        let whole = self.encode_with(1)?;
        // Start where shards would be 80 % full on average, then add ~10 % until the biggest fits: a
        // hash spreads members unevenly, and shards much emptier than the limit cost write units.
        let mut shards =
            u16::try_from((whole.iter().map(Vec::len).sum::<usize>() * 5).div_ceil(max * 4))
                .unwrap_or(u16::MAX)
                .clamp(1, 4096);
        let mut encoded = if shards == 1 { whole } else { self.encode_with(shards)? };
        while shards < 4096 && encoded.iter().map(Vec::len).max().unwrap_or(0) > max {
            shards = (shards + (shards / 10).max(1)).min(4096);
            encoded = self.encode_with(shards)?;
        }
        Ok(encoded)
    }

    fn encode_with(&self, shards: u16) -> Result<Vec<Vec<u8>>, crate::CodecError> {
        let mut parts: Vec<BTreeMap<ChannelId, Vec<(UserId, Counts)>>> =
            vec![BTreeMap::new(); usize::from(shards)];
        for (&(channel, user), &counts) in &self.tally.counters {
            parts[usize::from(shard_of(user, shards))]
                .entry(channel)
                .or_default()
                .push((user, counts));
        }
        parts
            .into_iter()
            .enumerate()
            .map(|(index, rows)| {
                // Categories once, in shard 0: a day's shards are small, and one member's answers
                // (the one shard that holds them, read alone) are over the whole guild.
                let categories = if index == 0 {
                    self.tally.categories.iter().map(|(k, v)| (*k, *v)).collect()
                } else {
                    Vec::new()
                };
                let shard = SummaryShard {
                    span: self.span,
                    through: self.through,
                    shard: u16::try_from(index).unwrap_or(u16::MAX),
                    shards,
                    categories,
                    rows: rows.into_iter().collect(),
                };
                crate::codec::encode(&Versioned {
                    version: PACKED_SHARD_VERSION,
                    body: &PackedShard::pack(shard),
                })
            })
            .collect()
    }

    /// Rebuilds a summary from all of its shards.
    ///
    /// # Errors
    /// When a shard does not decode, shards are missing, or they disagree on span, count or `through`.
    pub fn decode_shards<'a>(
        shards: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, SummaryError> {
        let mut decoded: Vec<SummaryShard> = Vec::new();
        for bytes in shards {
            decoded.push(SummaryShard::decode(bytes)?);
        }
        let first = decoded.first().ok_or(SummaryError::Incomplete { found: 0, expected: 1 })?;
        let (span, through, expected) = (first.span, first.through, first.shards);
        let mut seen = vec![false; usize::from(expected)];
        let mut tally = Tally::new();
        for shard in decoded {
            if shard.span != span || shard.through != through || shard.shards != expected {
                return Err(SummaryError::Inconsistent);
            }
            let slot = seen.get_mut(usize::from(shard.shard)).ok_or(SummaryError::Inconsistent)?;
            if std::mem::replace(slot, true) {
                return Err(SummaryError::Inconsistent);
            }
            tally.categories.extend(shard.categories);
            for (channel, rows) in shard.rows {
                for (user, counts) in rows {
                    tally.add(channel, user, counts);
                }
            }
        }
        let found = seen.iter().filter(|s| **s).count();
        if found != usize::from(expected) {
            return Err(SummaryError::Incomplete { found, expected: usize::from(expected) });
        }
        Ok(Self { span, through, tally })
    }
}

/// One member's counters in a summary, read from the one shard that holds them (see
/// [`shard_of`]): a summary with only that member's counters (no categories: see [`Tally::only_member`]).
///
/// # Errors
/// When the shard does not decode, or it is not the shard that holds `member`.
pub fn decode_member_shard(bytes: &[u8], member: UserId) -> Result<Summary, SummaryError> {
    let shard = SummaryShard::decode(bytes)?;
    if shard.shard != shard_of(member, shard.shards) {
        return Err(SummaryError::Inconsistent);
    }
    let mut tally = Tally::new();
    for (channel, rows) in shard.rows {
        for (user, counts) in rows.into_iter().filter(|(user, _)| *user == member) {
            tally.add(channel, user, counts);
        }
    }
    Ok(Summary { span: shard.span, through: shard.through, tally })
}

/// Whether one stored shard, of any summary and generation, holds counters of `member`.
///
/// # Errors
/// When the shard does not decode.
pub fn shard_holds(bytes: &[u8], member: UserId) -> Result<bool, SummaryError> {
    let shard = SummaryShard::decode(bytes)?;
    Ok(shard.rows.iter().any(|(_, rows)| rows.iter().any(|(user, _)| *user == member)))
}

/// Adds a batch's counters for `span` to a tally, records categories and applies erasures.
pub fn fold_into_tally(tally: &mut Tally, span: Span, batch: &Batch) {
    let mut touched = false;
    for delta in batch.counters.iter().filter(|d| span.covers(d.day)) {
        tally.add(delta.channel, delta.user, delta.counts);
        touched = true;
    }
    for c in &batch.categories {
        if touched || tally.categories.contains_key(&c.channel) {
            tally.categories.insert(c.channel, c.category);
        }
    }
    for &user in &batch.erasures {
        tally.erase(user);
    }
}

/// Which shard a member's counters go to.
#[must_use]
pub fn shard_of(user: UserId, shards: u16) -> u16 {
    if shards <= 1 {
        return 0;
    }
    // splitmix64 finaliser: snowflakes' low bits are sequence numbers, this spreads them evenly.
    let mut z = user.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    u16::try_from(z % u64::from(shards)).unwrap_or(0)
}

/// One shard as the code uses it, and as layout version 1 stored it: each member's id once per channel.
#[derive(Debug, Serialize, Deserialize)]
struct SummaryShard {
    span: Span,
    through: u64,
    shard: u16,
    shards: u16,
    categories: Vec<(ChannelId, Option<ChannelId>)>,
    rows: Vec<(ChannelId, Vec<(UserId, Counts)>)>,
}

/// Layout version of [`PackedShard`], the one written.
const PACKED_SHARD_VERSION: u8 = 2;

impl SummaryShard {
    /// Decodes a stored shard of either layout.
    fn decode(bytes: &[u8]) -> Result<Self, SummaryError> {
        match bytes.first() {
            Some(1) => Ok(crate::codec::decode_versioned(bytes, 1)?),
            _ => {
                crate::codec::decode_versioned::<PackedShard>(bytes, PACKED_SHARD_VERSION)?.unpack()
            }
        }
    }
}

/// How a shard is stored (layout version 2): each id once. A member active in many channels, the
/// usual case, costs one id and then an index per channel, about a third of version 1's size.
#[derive(Debug, Serialize, Deserialize)]
struct PackedShard {
    span: Span,
    through: u64,
    shard: u16,
    shards: u16,
    categories: Vec<(ChannelId, Option<ChannelId>)>,
    /// The shard's counting channels, ascending.
    channels: Vec<ChannelId>,
    /// The shard's members, ascending.
    members: Vec<UserId>,
    /// Per channel (its index in `channels`): its members' counters, members as the difference
    /// between their index in `members` and the previous row's (the first: its index).
    rows: Vec<(u32, Vec<(u32, Counts)>)>,
}

impl PackedShard {
    fn pack(shard: SummaryShard) -> Self {
        let channels: Vec<ChannelId> = shard.rows.iter().map(|(c, _)| *c).collect();
        let mut positions: BTreeMap<UserId, u32> =
            shard.rows.iter().flat_map(|(_, rows)| rows.iter().map(|(u, _)| (*u, 0))).collect();
        for (i, position) in (0u32..).zip(positions.values_mut()) {
            *position = i;
        }
        let members: Vec<UserId> = positions.keys().copied().collect();
        let rows = shard
            .rows
            .iter()
            .enumerate()
            .map(|(channel, (_, rows))| {
                let mut sorted: Vec<(u32, Counts)> =
                    rows.iter().filter_map(|(u, n)| Some((*positions.get(u)?, *n))).collect();
                sorted.sort_unstable_by_key(|(i, _)| *i);
                let mut previous = 0;
                let deltas = sorted
                    .into_iter()
                    .map(|(i, n)| (i - std::mem::replace(&mut previous, i), n))
                    .collect();
                (u32::try_from(channel).unwrap_or(u32::MAX), deltas)
            })
            .collect();
        Self {
            span: shard.span,
            through: shard.through,
            shard: shard.shard,
            shards: shard.shards,
            categories: shard.categories,
            channels,
            members,
            rows,
        }
    }

    fn unpack(self) -> Result<SummaryShard, SummaryError> {
        let at = |list_len: usize, i: u32| {
            usize::try_from(i).ok().filter(|i| *i < list_len).ok_or(SummaryError::Inconsistent)
        };
        let mut rows = Vec::with_capacity(self.rows.len());
        for (channel, deltas) in self.rows {
            let channel = self.channels[at(self.channels.len(), channel)?];
            let mut index = 0u32;
            let mut row = Vec::with_capacity(deltas.len());
            for (delta, counts) in deltas {
                index = index.checked_add(delta).ok_or(SummaryError::Inconsistent)?;
                row.push((self.members[at(self.members.len(), index)?], counts));
            }
            rows.push((channel, row));
        }
        Ok(SummaryShard {
            span: self.span,
            through: self.through,
            shard: self.shard,
            shards: self.shards,
            categories: self.categories,
            rows,
        })
    }
}

/// A stored summary that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    /// A shard does not decode.
    #[error(transparent)]
    Codec(#[from] crate::CodecError),
    /// Not every shard is there.
    #[error("summary has {found} of its {expected} shards")]
    Incomplete {
        /// Shards present.
        found: usize,
        /// Shards expected.
        expected: usize,
    },
    /// Shards from different writes were mixed.
    #[error("summary shards disagree (span, shard count or sequence)")]
    Inconsistent,
}

/// Every channel's and thread's cursor, folded from the batch log up to `through`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CursorTable {
    /// Sequence number of the last batch folded in.
    pub through: u64,
    /// Cursors by polled channel or thread.
    pub cursors: BTreeMap<ChannelId, ChannelCursor>,
}

impl CursorTable {
    /// Folds one batch in (idempotent for batches at or below `through`).
    pub fn fold(&mut self, batch: &Batch) {
        if batch.seq <= self.through {
            return;
        }
        for cursor in &batch.cursors {
            self.cursors.insert(cursor.channel, *cursor);
        }
        self.through = batch.seq;
    }
}

/// The counted reaction state of recent messages, folded from the batches of the reconciliation window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReactionLedger {
    /// Sequence number of the last batch folded in.
    pub through: u64,
    /// State per message.
    pub messages: BTreeMap<MessageId, MessageReactions>,
}

impl ReactionLedger {
    /// Folds one batch in (idempotent for batches at or below `through`).
    pub fn fold(&mut self, batch: &Batch) {
        if batch.seq <= self.through {
            return;
        }
        for state in &batch.reactions {
            self.messages.insert(state.message, state.clone());
        }
        for &user in &batch.erasures {
            for state in self.messages.values_mut() {
                if state.author == Some(user) {
                    state.author = None;
                }
                for e in &mut state.emojis {
                    e.reactors.retain(|r| *r != user);
                }
            }
        }
        self.through = batch.seq;
    }

    /// Forgets messages older than `oldest`.
    pub fn forget_before(&mut self, oldest: MessageId) {
        self.messages = self.messages.split_off(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::BatchBuilder;

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
    fn folding_is_idempotent_and_respects_the_span() {
        let d1 = day("2026-11-27");
        let d2 = day("2026-11-28");
        let b1 = batch(1, |b| {
            b.add(d1, ChannelId(1), UserId(5), Counts::messages(2));
            b.add(d2, ChannelId(1), UserId(5), Counts::messages(3));
            b.set_category(ChannelId(1), Some(ChannelId(9)));
        });
        let mut day2 = Summary::empty(Span::Day(d2), 0);
        let mut all = Summary::empty(Span::AllTime, 0);
        for _ in 0..3 {
            day2.fold(&b1);
            all.fold(&b1);
        }
        assert_eq!(day2.tally.total(crate::tally::Scope::Guild).messages, 3);
        assert_eq!(all.tally.total(crate::tally::Scope::Guild).messages, 5);
        assert_eq!(day2.tally.category_of(ChannelId(1)), Some(ChannelId(9)));
        let b2 = batch(2, |b| b.erase(UserId(5)));
        all.fold(&b2);
        assert!(all.tally.is_empty());
        assert_eq!(all.through, 2);
    }

    #[test]
    fn shards_round_trip_and_respect_the_size_limit() -> Result<(), SummaryError> {
        let mut s = Summary::empty(Span::AllTime, 7);
        for user in 0..5_000u64 {
            s.tally.add(
                ChannelId(user % 13),
                UserId(1_000_000_000_000_000 + user * 7919),
                Counts::messages(1 + (user % 5) as i64),
            );
        }
        s.tally.categories.insert(ChannelId(3), Some(ChannelId(77)));
        let shards = s.encode_shards(16 * 1024)?;
        assert!(shards.len() > 1, "5,000 members should not fit one 16 KiB shard");
        assert!(shards.iter().all(|b| b.len() <= 16 * 1024));
        let back = Summary::decode_shards(shards.iter().map(Vec::as_slice))?;
        assert_eq!(back, s);
        let missing = Summary::decode_shards(shards.iter().skip(1).map(Vec::as_slice));
        assert!(matches!(missing, Err(SummaryError::Incomplete { .. })));
        Ok(())
    }

    #[test]
    fn one_members_shard_holds_their_counters() -> Result<(), SummaryError> {
        let mut s = Summary::empty(Span::Day(day("2026-11-28")), 9);
        for user in 0..3_000u64 {
            s.tally.add(ChannelId(user % 7), UserId(500 + user * 7919), Counts::messages(1));
        }
        for channel in 0..7 {
            s.tally.categories.insert(ChannelId(channel), Some(ChannelId(100 + channel)));
        }
        // A channel whose category is known but that has no counters (yet) must survive the round trip.
        s.tally.categories.insert(ChannelId(40), None);
        let member = UserId(500 + 42 * 7919);
        s.tally.add(ChannelId(3), member, Counts::messages(5));
        let shards = s.encode_shards(4 * 1024)?;
        assert!(shards.len() > 4);
        assert_eq!(Summary::decode_shards(shards.iter().map(Vec::as_slice))?, s);

        let count = u16::try_from(shards.len()).unwrap_or(u16::MAX);
        let own = &shards[usize::from(shard_of(member, count))];
        let read = decode_member_shard(own, member)?;
        assert_eq!(read.through, 9);
        assert_eq!(read.span, s.span);
        assert_eq!(read.tally, s.tally.only_member(member));
        assert_eq!(read.tally.counters.len(), 2, "channels 0 and 3");
        // Any other shard is refused: it does not hold the member.
        let other = (usize::from(shard_of(member, count)) + 1) % shards.len();
        assert!(matches!(
            decode_member_shard(&shards[other], member),
            Err(SummaryError::Inconsistent)
        ));
        Ok(())
    }

    /// A day like the store benchmark's: 2,000 members, each with counters in about 20 of 50 channels.
    fn busy_day() -> Summary {
        let mut s = Summary::empty(Span::Day(day("2026-11-28")), 3);
        for user in 0..2_000u64 {
            for k in 0..20u64 {
                let channel = ChannelId(900_000_000_000_000_000 + (user * 7 + k * 13) % 50);
                s.tally.add(channel, UserId(1_000_000_000_000_000_000 + user), Counts::messages(1));
            }
        }
        s
    }

    /// The shards of `s` in layout version 1, as stored before version 2.
    fn version_1_shards(s: &Summary, shards: u16) -> Vec<Vec<u8>> {
        let mut parts: Vec<BTreeMap<ChannelId, Vec<(UserId, Counts)>>> =
            vec![BTreeMap::new(); usize::from(shards)];
        for (&(channel, user), &counts) in &s.tally.counters {
            parts[usize::from(shard_of(user, shards))]
                .entry(channel)
                .or_default()
                .push((user, counts));
        }
        (0..shards)
            .zip(parts)
            .map(|(shard, rows)| {
                let categories = if shard == 0 {
                    s.tally.categories.iter().map(|(k, v)| (*k, *v)).collect()
                } else {
                    Vec::new()
                };
                let body = SummaryShard {
                    span: s.span,
                    through: s.through,
                    shard,
                    shards,
                    categories,
                    rows: rows.into_iter().collect(),
                };
                crate::codec::encode(&Versioned { version: 1, body: &body }).unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn version_1_shards_still_read() -> Result<(), SummaryError> {
        let mut s = busy_day();
        s.tally.categories.insert(ChannelId(900_000_000_000_000_007), Some(ChannelId(8)));
        let old = version_1_shards(&s, 40);
        assert_eq!(old[0].first(), Some(&1));
        assert_eq!(Summary::decode_shards(old.iter().map(Vec::as_slice))?, s);
        let member = UserId(1_000_000_000_000_000_042);
        let own = &old[usize::from(shard_of(member, 40))];
        assert_eq!(decode_member_shard(own, member)?.tally, s.tally.only_member(member));
        assert!(shard_holds(own, member)?);
        let other = &old[(usize::from(shard_of(member, 40)) + 1) % 40];
        assert!(!shard_holds(other, member)?);
        Ok(())
    }

    #[test]
    fn packed_shards_store_each_id_once() -> Result<(), SummaryError> {
        let s = busy_day();
        // The store's day shard limit.
        let packed = s.encode_shards(3_840)?;
        assert_eq!(packed[0].first(), Some(&PACKED_SHARD_VERSION));
        let old = version_1_shards(&s, u16::try_from(packed.len()).unwrap_or(u16::MAX));
        let (new_bytes, old_bytes): (usize, usize) =
            (packed.iter().map(Vec::len).sum(), old.iter().map(Vec::len).sum());
        // 40,000 counters: version 1 repeats a 9-byte member id in each, version 2 an index
        // (measured: 225,208 bytes in 84 shards against 522,840).
        assert!(
            new_bytes * 2 < old_bytes,
            "packed {new_bytes} bytes should be under half of version 1's {old_bytes}"
        );
        assert_eq!(Summary::decode_shards(packed.iter().map(Vec::as_slice))?, s);
        Ok(())
    }

    #[test]
    fn a_packed_shard_naming_a_member_it_lacks_is_refused() -> Result<(), SummaryError> {
        let mut s = Summary::empty(Span::AllTime, 1);
        s.tally.add(ChannelId(1), UserId(10), Counts::messages(1));
        s.tally.add(ChannelId(2), UserId(11), Counts::messages(1));
        let shard = SummaryShard::decode(&s.encode_shards(4096)?[0])?;
        let mut packed = PackedShard::pack(shard);
        packed.rows[1].1[0].0 = 2;
        let bytes = crate::codec::encode(&Versioned { version: 2, body: &packed })?;
        assert!(matches!(
            Summary::decode_shards([bytes.as_slice()]),
            Err(SummaryError::Inconsistent)
        ));
        packed.rows[1] = (2, Vec::new());
        let bytes = crate::codec::encode(&Versioned { version: 2, body: &packed })?;
        assert!(matches!(
            Summary::decode_shards([bytes.as_slice()]),
            Err(SummaryError::Inconsistent)
        ));
        Ok(())
    }

    #[test]
    fn cursor_table_keeps_the_latest_cursor() {
        let c = ChannelCursor::starting_at(ChannelId(1), None, MessageId(100));
        let mut later = c;
        later.after = MessageId(200);
        let mut t = CursorTable::default();
        t.fold(&batch(1, |b| b.set_cursor(c)));
        t.fold(&batch(2, |b| b.set_cursor(later)));
        t.fold(&batch(1, |b| b.set_cursor(c)));
        assert_eq!(t.cursors.get(&ChannelId(1)).map(|c| c.after), Some(MessageId(200)));
    }
}
