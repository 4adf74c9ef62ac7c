//! The read path: exact counters for a range of days or for all time.

use std::collections::BTreeMap;

use engagement_domain::summary::{Span, Summary};
use engagement_domain::{Batch, DailyTallies, Day, DayRange, GuildId, Tally};

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
        let batches = self.read_batches_after(guild, fold.days_through).await?;
        self.days_with(guild, range, fold.days_through, &batches).await
    }

    /// The day summaries of `range` plus the batches above each day's watermark (`default_through` for
    /// days without a summary). `batches` must hold every batch after `default_through`, in order.
    async fn days_with(
        &self,
        guild: GuildId,
        range: DayRange,
        default_through: u64,
        batches: &[Batch],
    ) -> Result<DailyTallies, StoreError> {
        let summaries = self.read_day_summaries(guild, range, default_through, true).await?;
        let mut out = DailyTallies::empty(range);
        let mut through: BTreeMap<Day, u64> = BTreeMap::new();
        for (day, stored) in summaries {
            through.insert(day, stored.summary.through);
            out.days.insert(day, stored.summary.tally);
        }
        for batch in batches {
            for delta in batch.counters.iter().filter(|d| range.contains(d.day)) {
                if batch.seq > through.get(&delta.day).copied().unwrap_or(default_through) {
                    out.add(delta.day, delta.channel, delta.user, delta.counts);
                }
            }
            for (day, tally) in &mut out.days {
                if batch.seq > through.get(day).copied().unwrap_or(default_through) {
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
        }
        out.days.retain(|_, t| !t.is_empty());
        Ok(out)
    }

    /// Every counter of a range as one tally (no day breakdown): leaderboards and totals. Whole calendar
    /// months inside the range come from month summaries, the days at either end from day summaries, so
    /// a year costs about 12 month items and at most ~60 day items instead of 365 day items.
    ///
    /// Equal to `load_days(guild, range).total()`, which a test checks.
    ///
    /// # Errors
    /// DynamoDB errors, with context.
    pub async fn load_total(&self, guild: GuildId, range: DayRange) -> Result<Tally, StoreError> {
        let mut months = Vec::new();
        let mut month = range.first.month();
        if month.first_day() < range.first {
            month = month.next();
        }
        while month.last_day() <= range.last {
            months.push(month);
            month = month.next();
        }
        let (Some(&first_month), Some(&last_month)) = (months.first(), months.last()) else {
            return Ok(self.load_days(guild, range).await?.total());
        };
        let fold = self.fold_state(guild).await?;
        let batches =
            self.read_batches_after(guild, fold.days_through.min(fold.all_time_through)).await?;
        let mut total = Tally::new();
        let stored = self
            .read_month_summaries(guild, first_month, last_month, fold.all_time_through)
            .await?;
        for month in months {
            let mut summary = stored.get(&month).map_or_else(
                || Summary::empty(Span::Month(month), fold.all_time_through),
                |s| s.summary.clone(),
            );
            for batch in &batches {
                summary.fold(batch);
            }
            total.merge(&summary.tally);
        }
        let day_batches: Vec<Batch> =
            batches.iter().filter(|b| b.seq > fold.days_through).cloned().collect();
        let edges = [
            DayRange::new(range.first, first_month.first_day().previous()),
            DayRange::new(last_month.last_day().next(), range.last),
        ];
        for edge in edges.into_iter().flatten() {
            total.merge(
                &self.days_with(guild, edge, fold.days_through, &day_batches).await?.total(),
            );
        }
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
        for batch in self.read_batches_after(guild, summary.through).await? {
            summary.fold(&batch);
        }
        Ok(summary.tally)
    }
}
