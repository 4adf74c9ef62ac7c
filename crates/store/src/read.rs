//! The read path: exact counters for a range of days or for all time.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use engagement_domain::summary::{Span, Summary};
use engagement_domain::{
    Batch, ChannelId, CounterDelta, CounterReader, DailyTallies, Day, DayRange, GuildAccess,
    GuildId, HourlyCounts, Tally, UserId,
};

use crate::log::FoldState;
use crate::summaries::DirectoryEntry;
use crate::{CounterStore, StoreError};

impl CounterStore {
    /// Every (day, channel, member) counter of a range: the day summaries plus the batches not folded yet.
    ///
    /// Costs one read of the fold state, one Query over the day summaries (more pages past 1 MB) and one
    /// Query over the waiting batches.
    ///
    /// # Errors
    /// DynamoDB errors, with context.
    pub async fn load_days(
        &self,
        guild: GuildId,
        range: DayRange,
    ) -> Result<DailyTallies, StoreError> {
        let fold = self.fold_state(guild).await?;
        let batches = self.read_batches_after_eventually(guild, fold.days_through).await?;
        self.days_with(guild, range, fold, &batches).await
    }

    /// The day summaries of `range` plus the batches above each day's watermark (the fold state's for
    /// days without a summary). `batches` must hold every batch after it, in order.
    async fn days_with(
        &self,
        guild: GuildId,
        range: DayRange,
        fold: FoldState,
        batches: &[Batch],
    ) -> Result<DailyTallies, StoreError> {
        let mut out = DailyTallies::empty(range);
        self.scan_days_with(guild, range, fold, batches, |day, tally| {
            out.days.insert(day, tally);
            ControlFlow::Continue(())
        })
        .await?;
        Ok(out)
    }

    /// Hands the counters of every day of `range` that has any to `each`, in day order, one day at a
    /// time — what [`load_days`](Self::load_days) returns, without holding the whole range in memory (a
    /// busy server's year of days is hundreds of MB; one day is well under one). Stops early when `each`
    /// breaks. Costs what `load_days` costs.
    ///
    /// # Errors
    /// DynamoDB errors, with context.
    pub async fn scan_days(
        &self,
        guild: GuildId,
        range: DayRange,
        each: impl FnMut(Day, Tally) -> ControlFlow<()> + Send,
    ) -> Result<(), StoreError> {
        let fold = self.fold_state(guild).await?;
        let batches = self.read_batches_after_eventually(guild, fold.days_through).await?;
        self.scan_days_with(guild, range, fold, &batches, each).await
    }

    /// [`scan_days`](Self::scan_days) with the fold state and waiting batches already read. Days that
    /// only waiting batches touch are handed over in their place in day order.
    ///
    /// Days the directory covers are read eventually consistently (half the read units) and checked
    /// against it, read strongly first: a day whose newest complete generation is older than its entry
    /// names, or that has an entry but did not come back (a replica behind), ends that scan before the
    /// day is handed over, and the rest of the range is read again strongly from that day on.
    async fn scan_days_with(
        &self,
        guild: GuildId,
        range: DayRange,
        fold: FoldState,
        batches: &[Batch],
        mut each: impl FnMut(Day, Tally) -> ControlFlow<()> + Send,
    ) -> Result<(), StoreError> {
        let directory_from = directory_start(fold, range);
        if let Some(whole) = DayRange::new(range.first, directory_from.previous().min(range.last))
            && self.scan_part(guild, whole, fold.days_through, batches, None, &mut each).await?
                == Scanned::Stopped
        {
            return Ok(());
        }
        let Some(directed) = DayRange::new(directory_from.max(range.first), range.last) else {
            return Ok(());
        };
        let doing = format!("reading the day directory {directed} of guild {guild}");
        let directory = self.day_directory(guild, directed, &doing).await?;
        let mut part = directed;
        let mut check = Some(&directory);
        loop {
            match self.scan_part(guild, part, fold.days_through, batches, check, &mut each).await? {
                Scanned::Done | Scanned::Stopped => return Ok(()),
                Scanned::Stale(day) => {
                    part = DayRange::new(day, part.last).unwrap_or(part);
                    check = None;
                }
            }
        }
    }

    /// One pass of [`scan_days_with`](Self::scan_days_with): strongly consistent without a directory to
    /// check against, eventually consistent with one.
    async fn scan_part(
        &self,
        guild: GuildId,
        range: DayRange,
        default_through: u64,
        batches: &[Batch],
        directory: Option<&BTreeMap<Day, DirectoryEntry>>,
        each: &mut (impl FnMut(Day, Tally) -> ControlFlow<()> + Send),
    ) -> Result<Scanned, StoreError> {
        let waiting = Waiting::new(batches, range);
        // Days in waiting batches, not reached yet; those without a stored summary start empty.
        let mut only_in_batches: BTreeSet<Day> = waiting.by_day.keys().copied().collect();
        // Directory days not reached yet: each must come back with (at least) its generation.
        let mut listed: BTreeMap<Day, DirectoryEntry> = directory
            .map(|d| d.range(range.first..=range.last).map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default();
        let mut outcome = Scanned::Done;
        let mut emit = |day: Day, tally: Tally, through: u64| {
            let tally = waiting.apply(day, tally, through);
            if tally.is_empty() { ControlFlow::Continue(()) } else { each(day, tally) }
        };
        // A directory day before `day` that did not come back: read again from it.
        let missing_before = |listed: &BTreeMap<Day, DirectoryEntry>, day: Day| {
            listed.keys().next().copied().filter(|d| *d < day)
        };
        self.scan_day_summaries(
            guild,
            range,
            default_through,
            directory.is_none(),
            |day, stored| {
                while let Some(earlier) = only_in_batches.first().copied().filter(|d| *d < day) {
                    if let Some(stale) = missing_before(&listed, earlier.next()) {
                        outcome = Scanned::Stale(stale);
                        return ControlFlow::Break(());
                    }
                    only_in_batches.remove(&earlier);
                    if emit(earlier, Tally::new(), default_through).is_break() {
                        outcome = Scanned::Stopped;
                        return ControlFlow::Break(());
                    }
                }
                if let Some(stale) = missing_before(&listed, day) {
                    outcome = Scanned::Stale(stale);
                    return ControlFlow::Break(());
                }
                if let Some(entry) = listed.remove(&day)
                    && stored.generation.is_none_or(|g| g < entry.generation)
                {
                    outcome = Scanned::Stale(day);
                    return ControlFlow::Break(());
                }
                only_in_batches.remove(&day);
                if emit(day, stored.summary.tally, stored.summary.through).is_break() {
                    outcome = Scanned::Stopped;
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            },
        )
        .await?;
        if outcome != Scanned::Done {
            return Ok(outcome);
        }
        for day in only_in_batches {
            if let Some(stale) = missing_before(&listed, day.next()) {
                return Ok(Scanned::Stale(stale));
            }
            if emit(day, Tally::new(), default_through).is_break() {
                return Ok(Scanned::Stopped);
            }
        }
        Ok(missing_before(&listed, range.last.next()).map_or(Scanned::Done, Scanned::Stale))
    }

    /// One member's counters on each day of `range`, exact like [`load_days`](Self::load_days) restricted
    /// to them (their counters, without categories), without reading anyone else's
    /// days: from each day only the one summary shard that holds the member (found through the day
    /// directory), plus the batches not folded yet. Days before the directory (summaries a store
    /// without one wrote) are read whole.
    ///
    /// Costs one read of the fold state, one Query of the directory, one `BatchGetItem` per 100 days
    /// (half a read unit per day: shards are under 4 KiB and read eventually consistently) and one
    /// eventually consistent Query over the waiting batches.
    ///
    /// # Errors
    /// DynamoDB errors, with context.
    pub async fn member_days(
        &self,
        guild: GuildId,
        member: UserId,
        range: DayRange,
    ) -> Result<DailyTallies, StoreError> {
        let fold = self.fold_state(guild).await?;
        let batches = self.read_batches_after_eventually(guild, fold.days_through).await?;
        let directory_from = directory_start(fold, range);
        let mut days = DailyTallies::empty(range);
        let mut keep = |day: Day, tally: Tally| {
            let own = tally.only_member(member);
            if !own.is_empty() {
                days.days.insert(day, own);
            }
        };
        if let Some(whole) = DayRange::new(range.first, directory_from.previous().min(range.last)) {
            self.scan_days_with(guild, whole, fold, &batches, |day, tally| {
                keep(day, tally);
                ControlFlow::Continue(())
            })
            .await?;
        }
        if let Some(directed) = DayRange::new(directory_from.max(range.first), range.last) {
            let mut stored = self.member_day_summaries(guild, member, directed).await?;
            let waiting = Waiting::new(&batches, directed);
            let touched: BTreeSet<Day> =
                stored.keys().chain(waiting.by_day.keys()).copied().collect();
            for day in touched {
                let (tally, through) = stored
                    .remove(&day)
                    .map_or((Tally::new(), fold.days_through), |s| (s.tally, s.through));
                keep(day, waiting.apply(day, tally, through));
            }
        }
        Ok(days)
    }

    /// Every counter of a range as one tally (no day breakdown): leaderboards and totals. Follows the
    /// range's [`TotalPlan`](engagement_domain::TotalPlan): whole calendar months from month summaries,
    /// plus or minus a few days at either end from day summaries, so a year costs about 12 month items
    /// and at most ~34 day items instead of 365 day items.
    ///
    /// Equal to `load_days(guild, range).total()`, which a test checks in every fold state.
    ///
    /// # Errors
    /// DynamoDB errors, with context.
    pub async fn load_total(&self, guild: GuildId, range: DayRange) -> Result<Tally, StoreError> {
        let plan = range.total_plan();
        let fold = self.fold_state(guild).await?;
        let (Some(&first_month), Some(&last_month)) = (plan.months.first(), plan.months.last())
        else {
            let batches = self.read_batches_after_eventually(guild, fold.days_through).await?;
            return self.days_total(guild, range, fold, &batches).await;
        };
        let batches = self
            .read_batches_after_eventually(guild, fold.days_through.min(fold.all_time_through))
            .await?;
        let mut total = Tally::new();
        let mut stored = self
            .read_month_summaries(guild, first_month, last_month, fold.all_time_through)
            .await?;
        for month in plan.months {
            let mut summary = stored.remove(&month).map_or_else(
                || Summary::empty(Span::Month(month), fold.all_time_through),
                |s| s.summary,
            );
            for batch in &batches {
                summary.fold(batch);
            }
            total.merge(&summary.tally);
        }
        // Batches are in order: the days need those after their own watermark only.
        let day_batches = batches
            .get(batches.partition_point(|b| b.seq <= fold.days_through)..)
            .unwrap_or_default();
        for days in plan.add {
            total.merge(&self.days_total(guild, days, fold, day_batches).await?);
        }
        for days in plan.subtract {
            total.subtract(&self.days_total(guild, days, fold, day_batches).await?);
        }
        Ok(total)
    }

    /// Every counter of a range of days as one tally, summed as the days are read (see
    /// [`scan_days_with`](Self::scan_days_with)).
    async fn days_total(
        &self,
        guild: GuildId,
        range: DayRange,
        fold: FoldState,
        batches: &[Batch],
    ) -> Result<Tally, StoreError> {
        let mut total = Tally::new();
        self.scan_days_with(guild, range, fold, batches, |_, day| {
            total.merge(&day);
            ControlFlow::Continue(())
        })
        .await?;
        Ok(total)
    }

    /// Every counter of all time, per (channel, member): the all-time summary plus the batches not folded
    /// into it yet. Costs one read of the fold state, one Query over the summary's shards and one over the
    /// waiting batches, whatever the history's length.
    ///
    /// # Errors
    /// DynamoDB errors, with context.
    pub async fn load_all_time(&self, guild: GuildId) -> Result<Tally, StoreError> {
        let fold = self.fold_state(guild).await?;
        let stored = self.read_summary(guild, Span::AllTime, fold.all_time_through).await?;
        let mut summary = stored.summary;
        for batch in self.read_batches_after_eventually(guild, summary.through).await? {
            summary.fold(&batch);
        }
        Ok(summary.tally)
    }
}

/// How a pass over day summaries ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scanned {
    /// Every day was handed over.
    Done,
    /// The caller broke off.
    Stopped,
    /// This day did not come back as the directory names it: read again from it, strongly.
    Stale(Day),
}

/// The first day of `range` whose summaries all have a directory entry (past `range` when none has).
fn directory_start(fold: FoldState, range: DayRange) -> Day {
    match fold.directory_from {
        Some(day) => day,
        // Nothing folded yet: every summary there is will have its entry.
        None if fold.days_through == 0 => range.first,
        // Folded before the directory existed, and not since.
        None => range.last.next(),
    }
}

/// The batches not folded into day summaries yet, with their counters indexed by day.
struct Waiting<'a> {
    batches: &'a [Batch],
    /// Per day of the range: (index of the batch, counter) in batch order.
    by_day: BTreeMap<Day, Vec<(usize, &'a CounterDelta)>>,
}

impl<'a> Waiting<'a> {
    fn new(batches: &'a [Batch], range: DayRange) -> Self {
        let mut by_day: BTreeMap<Day, Vec<(usize, &CounterDelta)>> = BTreeMap::new();
        for (i, batch) in batches.iter().enumerate() {
            for delta in batch.counters.iter().filter(|d| range.contains(d.day)) {
                by_day.entry(delta.day).or_default().push((i, delta));
            }
        }
        Self { batches, by_day }
    }

    /// A day's stored counters (folded through `through`) plus the waiting batches after `through`, in
    /// order: each batch's counters, then its category changes and erasures.
    fn apply(&self, day: Day, mut tally: Tally, through: u64) -> Tally {
        let mut deltas = self.by_day.get(&day).into_iter().flatten().peekable();
        for (i, batch) in self.batches.iter().enumerate() {
            let newer = batch.seq > through;
            while let Some((_, delta)) = deltas.next_if(|(j, _)| *j == i) {
                if newer {
                    tally.add(delta.channel, delta.user, delta.counts);
                }
            }
            if newer {
                for c in &batch.categories {
                    if tally.counters.keys().any(|(ch, _)| *ch == c.channel) {
                        tally.categories.insert(c.channel, c.category);
                    }
                }
                for &user in &batch.erasures {
                    tally.erase(user);
                }
            }
        }
        tally
    }
}

/// The read port of the reports, on DynamoDB: each method is the inherent one of the same name.
impl CounterReader for CounterStore {
    type Error = StoreError;

    async fn guild_access(&self, guild: GuildId) -> Result<Option<GuildAccess>, StoreError> {
        Self::guild_access(self, guild).await
    }

    async fn last_synced(&self, guild: GuildId) -> Result<Option<u64>, StoreError> {
        Self::last_synced(self, guild).await
    }

    async fn load_total(&self, guild: GuildId, range: DayRange) -> Result<Tally, StoreError> {
        Self::load_total(self, guild, range).await
    }

    async fn load_all_time(&self, guild: GuildId) -> Result<Tally, StoreError> {
        Self::load_all_time(self, guild).await
    }

    async fn load_hours(
        &self,
        guild: GuildId,
        range: DayRange,
    ) -> Result<HourlyCounts, StoreError> {
        Self::load_hours(self, guild, range).await
    }

    async fn member_days(
        &self,
        guild: GuildId,
        member: UserId,
        range: DayRange,
    ) -> Result<DailyTallies, StoreError> {
        Self::member_days(self, guild, member, range).await
    }

    async fn scan_days<F>(&self, guild: GuildId, range: DayRange, each: F) -> Result<(), StoreError>
    where
        F: FnMut(Day, Tally) -> ControlFlow<()> + Send,
    {
        Self::scan_days(self, guild, range, each).await
    }

    async fn scan_activity<F>(
        &self,
        guild: GuildId,
        range: DayRange,
        each: F,
    ) -> Result<(), StoreError>
    where
        F: FnMut(Day, Tally) -> ControlFlow<()> + Send,
    {
        Self::scan_activity(self, guild, range, each).await
    }

    async fn load_first_seen(
        &self,
        guild: GuildId,
    ) -> Result<BTreeMap<(UserId, ChannelId), Day>, StoreError> {
        Self::load_first_seen(self, guild).await
    }
}
