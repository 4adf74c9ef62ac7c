//! Hourly counts in the store: one item per day (`G#{guild}#HOURS`, sort key the day) with that day's
//! messages per (local hour, counting channel), folded with the day summaries.

use std::collections::{BTreeMap, BTreeSet};

use engagement_domain::{Batch, Day, DayHours, DayRange, GuildId, HourlyCounts};

use crate::CounterStore;
use crate::error::StoreError;
use crate::items::{self, Item, b, n, s};

impl CounterStore {
    /// Folds the batches' hourly counts into each day they touch; `through` is the days watermark the
    /// batches follow. Runs before the watermark moves, so every day's item holds the hours of every
    /// batch up to the watermark; an item may be ahead of it (a fold that stopped before moving it),
    /// and says how far (`through`).
    pub(crate) async fn fold_hours(
        &self,
        guild: GuildId,
        through: u64,
        batches: &[&Batch],
    ) -> Result<(), StoreError> {
        let days: BTreeSet<Day> =
            batches.iter().flat_map(|b| b.hours.iter().map(|h| h.day)).collect();
        for day in days {
            let doing = format!("folding the hourly counts of guild {guild}, {day}");
            let stored =
                match self.get_item(items::hours_pk(guild), day.to_string(), true, &doing).await? {
                    Some(item) => DayHours::decode(items::get_b(&item, "data")?)?,
                    None => DayHours::empty(day, through),
                };
            let mut hours = stored.clone();
            for batch in batches {
                hours.fold(batch);
            }
            // Written whenever it folded a batch, even one that changed nothing in sum: an item left
            // behind its day's batches would have them added again by nobody.
            if hours != stored {
                // A fold that got further first stands (the put is skipped).
                self.put_item_if_newer(
                    hours_item(guild, &hours)?,
                    ("through", hours.through),
                    &doing,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Messages per (day, local hour, counting channel) over a range: each day's item, read strongly,
    /// plus the batches after it that are not folded yet (read eventually consistently, checked for
    /// gaps). Exact like the day reads. Days counted before the store kept hourly counts have none.
    ///
    /// Costs one read of the fold state, one Query over the range's items (a busy day's is about 4 KiB)
    /// and one Query over the waiting batches.
    ///
    /// # Errors
    /// DynamoDB errors, with context.
    pub async fn load_hours(
        &self,
        guild: GuildId,
        range: DayRange,
    ) -> Result<HourlyCounts, StoreError> {
        let doing = format!("reading the hourly counts of guild {guild}");
        let fold = self.fold_state(guild).await?;
        let batches = self.read_batches_after_eventually(guild, fold.days_through).await?;
        let stored = self
            .query_all(
                "pk = :pk AND sk BETWEEN :first AND :last",
                vec![
                    (":pk", s(items::hours_pk(guild))),
                    (":first", s(range.first.to_string())),
                    (":last", s(range.last.to_string())),
                ],
                true,
                &doing,
            )
            .await?;
        let mut out = HourlyCounts::default();
        let mut folded: BTreeMap<Day, u64> = BTreeMap::new();
        for item in &stored {
            let hours = DayHours::decode(items::get_b(item, "data")?)?;
            folded.insert(hours.day, hours.through);
            out.add_day(&hours);
        }
        for batch in &batches {
            out.add_batch(batch, range, |day| {
                batch.seq > folded.get(&day).copied().unwrap_or(fold.days_through)
            });
        }
        Ok(out)
    }
}

fn hours_item(guild: GuildId, hours: &DayHours) -> Result<Item, StoreError> {
    Ok(Item::from([
        (items::PK.to_owned(), s(items::hours_pk(guild))),
        (items::SK.to_owned(), s(hours.day.to_string())),
        ("data".to_owned(), b(hours.encode()?)),
        ("through".to_owned(), n(hours.through)),
    ]))
}
