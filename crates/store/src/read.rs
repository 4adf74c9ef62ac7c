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
        let (Some(&first_month), Some(&last_month)) = (plan.months.first(), plan.months.last())
        else {
            return Ok(self.load_days(guild, range).await?.total());
        };
        let fold = self.fold_state(guild).await?;
        let batches =
            self.read_batches_after(guild, fold.days_through.min(fold.all_time_through)).await?;
        let mut total = Tally::new();
        let stored = self
            .read_month_summaries(guild, first_month, last_month, fold.all_time_through)
            .await?;
        for month in plan.months {
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
        for days in plan.add {
            total.merge(
                &self.days_with(guild, days, fold.days_through, &day_batches).await?.total(),
            );
        }
        for days in plan.subtract {
            total.subtract(
                &self.days_with(guild, days, fold.days_through, &day_batches).await?.total(),
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
