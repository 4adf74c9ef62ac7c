//! The read path: exact counters for a range of days or for all time.

use std::collections::BTreeMap;

use engagement_domain::summary::Span;
use engagement_domain::{DailyTallies, Day, DayRange, GuildId, Tally};

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
        let summaries = self.read_day_summaries(guild, range, fold.days_through, true).await?;
        let batches = self.read_batches_after(guild, fold.days_through).await?;
        let mut out = DailyTallies::empty(range);
        let mut through: BTreeMap<Day, u64> = BTreeMap::new();
        for (day, stored) in summaries {
            through.insert(day, stored.summary.through);
            out.days.insert(day, stored.summary.tally);
        }
        for batch in &batches {
            for delta in batch.counters.iter().filter(|d| range.contains(d.day)) {
                if batch.seq > through.get(&delta.day).copied().unwrap_or(fold.days_through) {
                    out.add(delta.day, delta.channel, delta.user, delta.counts);
                }
            }
            for (day, tally) in &mut out.days {
                if batch.seq > through.get(day).copied().unwrap_or(fold.days_through) {
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
