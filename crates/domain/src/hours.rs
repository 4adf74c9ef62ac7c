//! Hourly counts: messages per (day, local clock hour, counting channel), for hour-of-week heatmaps and
//! `engagement export --by hour`.
//!
//! They are folded from the batch log like the day summaries (a [`DayHours`] remembers the last batch
//! folded in, so folding again changes nothing) and name no member: an erasure leaves them as they are.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::batch::{Batch, Versioned};
use crate::{ChannelId, Day, DayRange};

/// One day's messages per (local hour, counting channel), folded from the batch log up to `through`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayHours {
    /// The day.
    pub day: Day,
    /// Sequence number of the last batch folded in (0: none).
    pub through: u64,
    /// Messages, never zero.
    pub messages: BTreeMap<(u8, ChannelId), i64>,
}

impl DayHours {
    /// No messages, having folded batches up to `through`.
    #[must_use]
    pub fn empty(day: Day, through: u64) -> Self {
        Self { day, through, messages: BTreeMap::new() }
    }

    /// Folds one batch in; batches at or below `through` are ignored, so folding is idempotent.
    pub fn fold(&mut self, batch: &Batch) {
        if batch.seq <= self.through {
            return;
        }
        for h in batch.hours.iter().filter(|h| h.day == self.day) {
            add(&mut self.messages, (h.hour, h.channel), h.messages);
        }
        self.through = batch.seq;
    }

    /// Encodes the day for storage.
    ///
    /// # Errors
    /// Never in practice: postcard fails only on unsupported serde shapes.
    pub fn encode(&self) -> Result<Vec<u8>, crate::CodecError> {
        let mut channels: BTreeMap<ChannelId, Vec<(u8, i64)>> = BTreeMap::new();
        for (&(hour, channel), &n) in &self.messages {
            channels.entry(channel).or_default().push((hour, n));
        }
        let stored = StoredHours {
            day: self.day,
            through: self.through,
            channels: channels.into_iter().collect(),
        };
        crate::codec::encode(&Versioned { version: 1, body: &stored })
    }

    /// Decodes a stored day.
    ///
    /// # Errors
    /// When the bytes are not hourly counts of a known version.
    pub fn decode(bytes: &[u8]) -> Result<Self, crate::CodecError> {
        let stored: StoredHours = crate::codec::decode_versioned(bytes, 1)?;
        let messages = stored
            .channels
            .into_iter()
            .flat_map(|(channel, hours)| hours.into_iter().map(move |(h, n)| ((h, channel), n)))
            .collect();
        Ok(Self { day: stored.day, through: stored.through, messages })
    }
}

/// How a day's hourly counts are stored: each channel's id once, then its (hour, messages).
#[derive(Serialize, Deserialize)]
struct StoredHours {
    day: Day,
    through: u64,
    channels: Vec<(ChannelId, Vec<(u8, i64)>)>,
}

/// Messages per (day, local hour, counting channel) over a range of days.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HourlyCounts {
    /// Messages, never zero.
    pub messages: BTreeMap<(Day, u8, ChannelId), i64>,
}

impl HourlyCounts {
    /// Adds a stored day.
    pub fn add_day(&mut self, hours: &DayHours) {
        for (&(hour, channel), &n) in &hours.messages {
            add(&mut self.messages, (hours.day, hour, channel), n);
        }
    }

    /// Messages per (day, counting channel): what the hours of each add up to.
    #[must_use]
    pub fn per_day_and_channel(&self) -> BTreeMap<(Day, ChannelId), i64> {
        let mut out = BTreeMap::new();
        for (&(day, _, channel), &n) in &self.messages {
            add(&mut out, (day, channel), n);
        }
        out
    }

    /// Messages per (weekday, local hour), Monday first, of the (day, channel)s `counted` says: the
    /// hour-of-week heatmap.
    #[must_use]
    pub fn by_hour_of_week(&self, counted: impl Fn(Day, ChannelId) -> bool) -> [[i64; 24]; 7] {
        let mut grid = [[0; 24]; 7];
        for (&(day, hour, channel), &n) in &self.messages {
            if counted(day, channel) {
                let weekday = chrono::Datelike::weekday(&day.date()).num_days_from_monday();
                let row = grid.get_mut(usize::try_from(weekday).unwrap_or(usize::MAX));
                if let Some(cell) = row.and_then(|row| row.get_mut(usize::from(hour))) {
                    *cell += n;
                }
            }
        }
        grid
    }

    /// Adds a batch's hourly counts of the days in `range` for which `wanted(day)` says so (a reader
    /// adds each waiting batch to the days whose stored counts it is newer than).
    pub fn add_batch(&mut self, batch: &Batch, range: DayRange, wanted: impl Fn(Day) -> bool) {
        for h in batch.hours.iter().filter(|h| range.contains(h.day) && wanted(h.day)) {
            add(&mut self.messages, (h.day, h.hour, h.channel), h.messages);
        }
    }
}

fn add<K: Ord + Copy>(map: &mut BTreeMap<K, i64>, key: K, n: i64) {
    let entry = map.entry(key).or_default();
    *entry += n;
    if *entry == 0 {
        map.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BatchBuilder;

    fn batch(seq: u64, f: impl FnOnce(&mut BatchBuilder)) -> Batch {
        let mut b = BatchBuilder::new();
        f(&mut b);
        let mut batch = b.build(0);
        batch.seq = seq;
        batch
    }

    #[test]
    fn folding_is_idempotent_and_keeps_to_its_day() -> Result<(), crate::CodecError> {
        let d: Day = "2026-11-28".parse().unwrap_or(Day::from_ordinal(0));
        let b1 = batch(1, |b| {
            b.add_hour(d, 9, ChannelId(1), 2);
            b.add_hour(d.next(), 0, ChannelId(1), 5);
        });
        let b2 = batch(2, |b| b.add_hour(d, 9, ChannelId(1), 1));
        let mut hours = DayHours::empty(d, 0);
        for b in [&b1, &b2, &b1, &b2] {
            hours.fold(b);
        }
        assert_eq!(hours.through, 2);
        assert_eq!(hours.messages, BTreeMap::from([((9, ChannelId(1)), 3)]));
        assert_eq!(DayHours::decode(&hours.encode()?)?, hours);

        let mut range = HourlyCounts::default();
        range.add_day(&hours);
        range.add_batch(&b1, DayRange::single(d.next()), |_| true);
        assert_eq!(
            range.messages,
            BTreeMap::from([((d, 9, ChannelId(1)), 3), ((d.next(), 0, ChannelId(1)), 5)])
        );
        Ok(())
    }

    #[test]
    fn the_heatmap_sums_each_weekday_and_hour_of_the_channels_asked() {
        let monday: Day = "2026-11-30".parse().unwrap_or(Day::from_ordinal(0));
        let b = batch(1, |b| {
            b.add_hour(monday, 9, ChannelId(1), 2);
            b.add_hour(monday.plus(7), 9, ChannelId(1), 1);
            b.add_hour(monday.plus(6), 23, ChannelId(2), 4);
        });
        let mut range = HourlyCounts::default();
        range.add_batch(&b, DayRange { first: monday, last: monday.plus(7) }, |_| true);
        let all = range.by_hour_of_week(|_, _| true);
        assert_eq!((all[0][9], all[6][23], all.iter().flatten().sum::<i64>()), (3, 4, 7));
        let one = range.by_hour_of_week(|_, c| c == ChannelId(1));
        assert_eq!((one[0][9], one[6][23]), (3, 0));
        let first_week = range.by_hour_of_week(|d, _| d < monday.plus(7));
        assert_eq!(first_week[0][9], 2);
        assert_eq!(range.per_day_and_channel().get(&(monday.plus(6), ChannelId(2))), Some(&4));
    }
}
