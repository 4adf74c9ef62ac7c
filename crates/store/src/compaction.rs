//! Compaction: folding the batch log into day summaries, cursor items and the all-time summary.

use std::collections::{BTreeMap, BTreeSet};

use engagement_domain::summary::Span;
use engagement_domain::{Batch, ChannelCursor, ChannelId, Day, GuildId, Month};

use crate::items::{self, n};
use crate::log::{FoldState, Page};
use crate::{CounterStore, StoreError, summaries};

/// How long a day's previous summary generation is kept after the day was last rewritten: while the
/// day changes (today; yesterday while reactions are reconciled), the next fold writes over it, which
/// costs less than deleting it each time.
const PREVIOUS_KEPT_MS: u64 = 3 * 3600 * 1000;

/// When to fold. Folding less often writes less (a summary is rewritten whole), folding more often leaves
/// readers fewer batches to add.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompactionPolicy {
    /// Fold day summaries once this many batches wait...
    pub days_after_batches: u64,
    /// ...or once the oldest waiting batch is this old (ms).
    pub days_after_ms: u64,
    /// Fold the all-time summary once this many batches wait...
    pub all_time_after_batches: u64,
    /// ...or once the oldest waiting batch is this old (ms).
    pub all_time_after_ms: u64,
}

impl Default for CompactionPolicy {
    fn default() -> Self {
        Self {
            days_after_batches: 12,
            days_after_ms: 3600 * 1000,
            all_time_after_batches: 288,
            all_time_after_ms: 24 * 3600 * 1000,
        }
    }
}

impl CompactionPolicy {
    /// Fold everything now.
    pub const ALWAYS: Self = Self {
        days_after_batches: 1,
        days_after_ms: 0,
        all_time_after_batches: 1,
        all_time_after_ms: 0,
    };
}

/// What a compaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Batches read from the log.
    pub batches_read: usize,
    /// Day summaries rewritten.
    pub days_written: usize,
    /// Cursor items written.
    pub cursors_written: usize,
    /// Month summaries rewritten.
    pub months_written: usize,
    /// Whether the all-time summary was rewritten.
    pub all_time_written: bool,
    /// Day summaries and cursors are folded through this batch.
    pub days_through: u64,
    /// The all-time summary is folded through this batch.
    pub all_time_through: u64,
}

fn due(waiting: &[&Batch], after_batches: u64, after_ms: u64, now_ms: u64) -> bool {
    let Some(oldest) = waiting.first() else { return false };
    u64::try_from(waiting.len()).unwrap_or(u64::MAX) >= after_batches.max(1)
        || now_ms.saturating_sub(oldest.created_at_ms) >= after_ms
}

impl CounterStore {
    /// Folds waiting batches into summaries when the policy says so. Safe to run at any time, concurrently
    /// with commits, and to crash: every summary records how far it is folded.
    ///
    /// # Errors
    /// DynamoDB errors; a conflict when another compaction of the same guild runs at the same time.
    pub async fn compact(
        &self,
        guild: GuildId,
        policy: CompactionPolicy,
        now_ms: u64,
    ) -> Result<CompactionReport, StoreError> {
        self.compact_until(guild, policy, now_ms, None).await
    }

    /// [`compact`](Self::compact), stopping at `deadline` when an erasure's fold through every stored
    /// summary would run past it (a year of a busy guild takes minutes): what was folded stays folded,
    /// and the next compaction goes on from there.
    ///
    /// # Errors
    /// As [`compact`](Self::compact); [`StoreErrorKind::OutOfTime`](crate::StoreErrorKind) at the
    /// deadline.
    pub async fn compact_until(
        &self,
        guild: GuildId,
        policy: CompactionPolicy,
        now_ms: u64,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<CompactionReport, StoreError> {
        let fold = self.fold_state(guild).await?;
        let report = self.fold_batches(guild, fold, policy, now_ms, deadline).await?;
        // After the folds, with what time is left: a long build that runs out of it (it starts over
        // at the next compaction) never holds the folds back, and folds write activity as they go.
        if !fold.activity_built {
            self.prepare_activity(guild, fold, now_ms, deadline).await?;
        }
        Ok(report)
    }

    /// Folds the batches after the watermarks of `fold` that are due under `policy`.
    async fn fold_batches(
        &self,
        guild: GuildId,
        fold: FoldState,
        policy: CompactionPolicy,
        now_ms: u64,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<CompactionReport, StoreError> {
        let batches =
            self.read_batches_after(guild, fold.days_through.min(fold.all_time_through)).await?;
        let mut report = CompactionReport {
            batches_read: batches.len(),
            days_through: fold.days_through,
            all_time_through: fold.all_time_through,
            ..CompactionReport::default()
        };
        let Some(last) = batches.last().map(|b| b.seq) else { return Ok(report) };

        let for_days: Vec<&Batch> = batches.iter().filter(|b| b.seq > fold.days_through).collect();
        if due(&for_days, policy.days_after_batches, policy.days_after_ms, now_ms) {
            if fold.directory_from.is_none() {
                // Before this fold writes any day: the newest day stored so far is what came before.
                self.start_directory(guild, fold.days_through).await?;
            }
            let (written, cursors) =
                self.fold_days(guild, fold.days_through, &for_days, now_ms, deadline).await?;
            // An erasure is complete only when the log no longer holds the member either: done here,
            // before the watermark moves, so a fold that stops (or a followup that dies) leaves it to
            // the next compaction.
            for batch in for_days.iter().filter(|b| !b.erasures.is_empty()) {
                let erased = batch.erasures.iter().copied().collect();
                self.erase_from_log(guild, &erased, batch.seq, deadline).await?;
            }
            report.days_written = written;
            report.cursors_written = cursors;
            self.advance_fold(guild, "days_through", last).await?;
            report.days_through = last;
            self.drop_previous_generations(guild, now_ms.saturating_sub(PREVIOUS_KEPT_MS)).await?;
        }

        let for_all_time: Vec<&Batch> =
            batches.iter().filter(|b| b.seq > fold.all_time_through).collect();
        if due(&for_all_time, policy.all_time_after_batches, policy.all_time_after_ms, now_ms) {
            // Month summaries share the all-time watermark: they are folded first, all time last.
            let mut months: BTreeSet<Month> = for_all_time
                .iter()
                .flat_map(|b| b.counters.iter().map(|c| c.day.month()))
                .collect();
            if for_all_time.iter().any(|b| !b.erasures.is_empty()) {
                // An erasure reaches every month: fold into each stored month, one at a time.
                let (seen, written) = self
                    .refold_partition(
                        guild,
                        items::month_pk(guild),
                        &summaries::Refold::MONTHS,
                        &for_all_time,
                        summaries::Refolding {
                            default_through: fold.all_time_through,
                            now_ms,
                            deadline,
                        },
                    )
                    .await?;
                report.months_written += written;
                months.retain(|m| !seen.contains(&Span::Month(*m)));
            }
            for month in months {
                let stored =
                    self.read_summary(guild, Span::Month(month), fold.all_time_through).await?;
                let mut summary = stored.summary.clone();
                for batch in &for_all_time {
                    summary.fold(batch);
                }
                if summary.tally != stored.summary.tally {
                    self.write_summary(
                        guild,
                        &stored,
                        &summary,
                        summaries::Previous::Delete,
                        now_ms,
                    )
                    .await?;
                    report.months_written += 1;
                }
            }
            let stored = self.read_summary(guild, Span::AllTime, fold.all_time_through).await?;
            let mut summary = stored.summary.clone();
            for batch in &for_all_time {
                summary.fold(batch);
            }
            if summary != stored.summary {
                self.write_summary(guild, &stored, &summary, summaries::Previous::Delete, now_ms)
                    .await?;
                report.all_time_written = true;
            }
            self.advance_fold(guild, "all_time_through", last).await?;
            report.all_time_through = last;
        }
        Ok(report)
    }

    async fn fold_days(
        &self,
        guild: GuildId,
        through: u64,
        batches: &[&Batch],
        now_ms: u64,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<(usize, usize), StoreError> {
        let mut days: BTreeSet<Day> =
            batches.iter().flat_map(|b| b.counters.iter().map(|c| c.day)).collect();
        let mut written = 0;
        if batches.iter().any(|b| !b.erasures.is_empty()) {
            // An erasure reaches every day that holds the member: fold into each stored day, one at a
            // time (a year of a busy guild is ~1 GB decoded: never all at once).
            let (seen, rewritten) = self
                .refold_partition(
                    guild,
                    items::day_pk(guild),
                    &summaries::Refold::DAYS,
                    batches,
                    summaries::Refolding { default_through: through, now_ms, deadline },
                )
                .await?;
            written += rewritten;
            days.retain(|d| !seen.contains(&Span::Day(*d)));
        }
        for day in days {
            let stored = self.read_summary(guild, Span::Day(day), through).await?;
            let mut summary = stored.summary.clone();
            for batch in batches {
                summary.fold(batch);
            }
            if summary.tally != stored.summary.tally
                || (stored.summary.tally.is_empty() && !summary.tally.is_empty())
            {
                self.write_activity(guild, &summary).await?;
                self.write_summary(guild, &stored, &summary, summaries::Previous::Keep, now_ms)
                    .await?;
                written += 1;
            } else {
                // Folded already (a fold that stopped part-way): its directory entry may be missing,
                // and its activity, written first, may hold what the batches then took away (a member
                // counted, then erased): written again (only over an older one).
                self.write_activity(guild, &summary).await?;
                self.ensure_directory_entry(guild, &stored).await?;
            }
        }
        self.fold_hours(guild, through, batches).await?;
        self.fold_first_seen(guild, through, batches).await?;
        let mut cursors: BTreeMap<ChannelId, ChannelCursor> = BTreeMap::new();
        for batch in batches {
            for cursor in &batch.cursors {
                cursors.insert(cursor.channel, *cursor);
            }
        }
        let last = batches.last().map_or(through, |b| b.seq);
        let count = cursors.len();
        self.write_cursor_items(guild, cursors.into_values(), last).await?;
        Ok((written, count))
    }

    /// Records the first day from which every day summary has a directory entry, once per guild. A guild
    /// with nothing folded before has them all. One whose summaries were written before the store kept a
    /// directory has them from two days after its newest stored day on: every summary written since
    /// has its entry, and a run of the earlier version still finishing (for at most its timeout) writes no
    /// day later than the day after. Earlier days are read whole by the member reads.
    async fn start_directory(&self, guild: GuildId, days_through: u64) -> Result<(), StoreError> {
        let from = if days_through == 0 {
            Day::from_ordinal(0)
        } else {
            let (newest, _) = self
                .query_page(
                    "pk = :pk",
                    &[(":pk", items::s(items::day_pk(guild)))],
                    false,
                    Page { limit: Some(1), newest_first: true, ..Page::default() },
                    &format!("finding the newest day summary of guild {guild}"),
                )
                .await?;
            match newest.first() {
                Some(item) => summaries::day_of_item(item)?.plus(2),
                None => Day::from_ordinal(0),
            }
        };
        // Another compaction may have recorded it first: theirs stands.
        self.set_fold_state(
            guild,
            (crate::log::DIRECTORY_FROM, items::s(from.to_string())),
            "attribute_not_exists(#a)",
            "recording where the day directory starts",
        )
        .await
    }

    /// Moves a fold watermark forward (never back).
    async fn advance_fold(
        &self,
        guild: GuildId,
        attribute: &str,
        through: u64,
    ) -> Result<(), StoreError> {
        // Someone folded further already: nothing to do.
        self.set_fold_state(
            guild,
            (attribute, n(through)),
            "attribute_not_exists(#a) OR #a < :v",
            "advancing the fold state",
        )
        .await
    }

    /// Sets one attribute of the guild's fold state if `condition` (on `#a`, the attribute, and `:v`,
    /// the value) holds; when it does not, another compaction got there first and nothing is done.
    pub(crate) async fn set_fold_state(
        &self,
        guild: GuildId,
        (attribute, value): (&str, aws_sdk_dynamodb::types::AttributeValue),
        condition: &str,
        doing: &str,
    ) -> Result<(), StoreError> {
        self.usage.write_request();
        self.faults.before_write(doing)?;
        self.usage.request();
        let result = self
            .client()
            .await
            .update_item()
            .table_name(self.table())
            .set_key(Some(items::key(items::guild_pk(guild), items::FOLD_SK.to_owned())))
            .update_expression("SET #a = :v")
            .condition_expression(condition)
            .expression_attribute_names("#a", attribute)
            .expression_attribute_values(":v", value)
            .send()
            .await;
        match result {
            Ok(_) => {
                self.usage.write(64);
                self.faults.after_write(doing)
            }
            Err(e) => {
                let err =
                    StoreError::dynamo(format_args!("{doing} of guild {guild}"), self.table(), e);
                if err.kind() == crate::StoreErrorKind::Conflict { Ok(()) } else { Err(err) }
            }
        }
    }
}
