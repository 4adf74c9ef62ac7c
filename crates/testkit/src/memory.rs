//! An in-memory [`CounterReader`]: the reports' read port without a database, for tests of what the
//! reports show. It keeps one tally per (guild, day) and answers every question from them, the simplest
//! model of what the DynamoDB store answers (`engagement-store`'s tests check the two agree).

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;

use engagement_domain::{
    ChannelId, CounterReader, Counts, DailyTallies, Day, DayRange, GuildAccess, GuildId,
    HourlyCounts, Tally, UserId,
};

/// Counters and channel permissions held in memory.
#[derive(Clone, Debug, Default)]
pub struct MemoryCounters {
    days: BTreeMap<(GuildId, Day), Tally>,
    hours: BTreeMap<(GuildId, Day, u8, ChannelId), i64>,
    access: HashMap<GuildId, GuildAccess>,
    synced: HashMap<GuildId, u64>,
    unavailable: bool,
}

/// Why an in-memory read failed: the store was built [unavailable](MemoryCounters::unavailable).
#[derive(Debug, thiserror::Error)]
#[error("the in-memory store is unavailable")]
pub struct Unavailable;

impl MemoryCounters {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose every read fails, to test how a failed read is answered.
    #[must_use]
    pub fn unavailable() -> Self {
        Self { unavailable: true, ..Self::default() }
    }

    /// Counts `counts` for `member` in `channel` (under `category`, as last seen) on `day`.
    pub fn add(
        &mut self,
        guild: GuildId,
        day: Day,
        channel: ChannelId,
        category: Option<ChannelId>,
        member: UserId,
        counts: Counts,
    ) -> &mut Self {
        let tally = self.days.entry((guild, day)).or_default();
        tally.add(channel, member, counts);
        tally.categories.insert(channel, category);
        self
    }

    /// Counts `messages` in `channel` in the local `hour` of `day`.
    pub fn add_hour(
        &mut self,
        guild: GuildId,
        (day, hour): (Day, u8),
        channel: ChannelId,
        messages: i64,
    ) -> &mut Self {
        *self.hours.entry((guild, day, hour, channel)).or_default() += messages;
        self
    }

    /// Removes every counter of `member` in the guild, as an erasure does.
    pub fn erase(&mut self, guild: GuildId, member: UserId) -> &mut Self {
        for (_, tally) in self.days.iter_mut().filter(|((g, _), _)| *g == guild) {
            tally.erase(member);
        }
        self
    }

    /// Sets the guild's channel permissions, as the sync would store them.
    pub fn set_access(&mut self, guild: GuildId, access: GuildAccess) -> &mut Self {
        self.access.insert(guild, access);
        self
    }

    /// Records that the guild was synced up to `counted_to_ms`.
    pub fn set_synced(&mut self, guild: GuildId, counted_to_ms: u64) -> &mut Self {
        self.synced.insert(guild, counted_to_ms);
        self
    }

    fn check(&self) -> Result<(), Unavailable> {
        if self.unavailable { Err(Unavailable) } else { Ok(()) }
    }

    fn days_of(&self, guild: GuildId, range: DayRange) -> impl Iterator<Item = (Day, &Tally)> {
        self.days
            .range((guild, range.first)..=(guild, range.last))
            .filter(|(_, tally)| !tally.is_empty())
            .map(|(&(_, day), tally)| (day, tally))
    }
}

impl CounterReader for MemoryCounters {
    type Error = Unavailable;

    async fn guild_access(&self, guild: GuildId) -> Result<Option<GuildAccess>, Unavailable> {
        self.check()?;
        Ok(self.access.get(&guild).cloned())
    }

    async fn last_synced(&self, guild: GuildId) -> Result<Option<u64>, Unavailable> {
        self.check()?;
        Ok(self.synced.get(&guild).copied())
    }

    async fn load_total(&self, guild: GuildId, range: DayRange) -> Result<Tally, Unavailable> {
        self.check()?;
        let mut total = Tally::new();
        for (_, tally) in self.days_of(guild, range) {
            total.merge(tally);
        }
        Ok(total)
    }

    async fn load_all_time(&self, guild: GuildId) -> Result<Tally, Unavailable> {
        self.check()?;
        let mut total = Tally::new();
        for (_, tally) in self.days.iter().filter(|((g, _), _)| *g == guild) {
            total.merge(tally);
        }
        Ok(total)
    }

    async fn load_hours(
        &self,
        guild: GuildId,
        range: DayRange,
    ) -> Result<HourlyCounts, Unavailable> {
        self.check()?;
        let mut out = HourlyCounts::default();
        let first = (guild, range.first, 0, ChannelId(0));
        let last = (guild, range.last, u8::MAX, ChannelId(u64::MAX));
        for (&(_, day, hour, channel), &n) in self.hours.range(first..=last) {
            if n != 0 {
                out.messages.insert((day, hour, channel), n);
            }
        }
        Ok(out)
    }

    async fn member_days(
        &self,
        guild: GuildId,
        member: UserId,
        range: DayRange,
    ) -> Result<DailyTallies, Unavailable> {
        self.check()?;
        let mut out = DailyTallies::empty(range);
        for (day, tally) in self.days_of(guild, range) {
            let own = tally.only_member(member);
            if !own.is_empty() {
                out.days.insert(day, own);
            }
        }
        Ok(out)
    }

    async fn scan_days<F>(
        &self,
        guild: GuildId,
        range: DayRange,
        mut each: F,
    ) -> Result<(), Unavailable>
    where
        F: FnMut(Day, Tally) -> ControlFlow<()> + Send,
    {
        self.check()?;
        for (day, tally) in self.days_of(guild, range) {
            if each(day, tally.clone()).is_break() {
                break;
            }
        }
        Ok(())
    }

    async fn scan_activity<F>(
        &self,
        guild: GuildId,
        range: DayRange,
        mut each: F,
    ) -> Result<(), Unavailable>
    where
        F: FnMut(Day, Tally) -> ControlFlow<()> + Send,
    {
        self.check()?;
        for (day, tally) in self.days_of(guild, range) {
            let mut messages = Tally::new();
            for (&(channel, member), counts) in &tally.counters {
                messages.add(channel, member, Counts::messages(counts.messages.max(0)));
            }
            messages.categories.clone_from(&tally.categories);
            if !messages.is_empty() && each(day, messages).is_break() {
                break;
            }
        }
        Ok(())
    }

    async fn load_first_seen(
        &self,
        guild: GuildId,
    ) -> Result<BTreeMap<(UserId, ChannelId), Day>, Unavailable> {
        self.check()?;
        let mut first = BTreeMap::new();
        for (&(g, day), tally) in &self.days {
            for (&(channel, member), counts) in &tally.counters {
                if g == guild && counts.messages > 0 {
                    first.entry((member, channel)).or_insert(day);
                }
            }
        }
        Ok(first)
    }
}
