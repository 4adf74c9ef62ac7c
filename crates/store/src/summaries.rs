//! Stored summaries (sharded, in generations) and folded cursor items.
//!
//! A summary is written as a new *generation* of shards next to the old one, and the old generation is
//! deleted afterwards. Readers take the newest complete generation, so a crash at any point leaves either
//! the old or the new summary readable, never a mix.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::ControlFlow;

use engagement_domain::summary::{CursorTable, Span, Summary};
use engagement_domain::{
    Batch, ChannelCursor, ChannelId, Day, DayRange, GuildId, MessageId, Month, UserId,
};

use crate::items::{self, Item, PK, SK, all_time_pk, b, cursor_pk, day_pk, n, s};
use crate::{CounterStore, StoreError, StoreErrorKind};

/// Month and all-time summaries' shards are cut below this size, leaving room under DynamoDB's 400 KB
/// item limit: they are only ever read whole.
pub(crate) const MAX_SHARD_BYTES: usize = 300 * 1024;

/// Day summaries' shards are cut below this size, so that a shard item (with its keys and attributes,
/// ~100 bytes) is one 4 KiB read unit: one member's counters of a day are read as the one shard that
/// holds them (see [`member_day_summaries`](CounterStore::member_day_summaries)). A day read whole costs the
/// same either way (a Query is billed by the summed size of its items).
pub(crate) const DAY_SHARD_BYTES: usize = 3840;

/// Items per page when an erasure folds into every summary: two shards (≤ 600 kB) at most, so that
/// memory holds about one summary, not a megabyte page of them.
const REFOLD_PAGE_ITEMS: i32 = 2;

/// One generation of a summary as stored.
#[derive(Debug, Default, Clone)]
struct Generation {
    shards: u64,
    through: u64,
    items: Vec<Item>,
}

/// Where a day's newest summary generation is.
#[derive(Clone, Copy, Debug)]
struct DirectoryEntry {
    generation: u64,
    shards: u16,
}

impl DirectoryEntry {
    fn shard_of(self, member: UserId) -> u16 {
        engagement_domain::summary::shard_of(member, self.shards)
    }
}

/// Where a scan of summaries reads: a partition, the sort keys it starts and ends at, and what it is
/// doing (for errors).
struct SummaryKeys {
    partition: String,
    first: String,
    last: String,
    doing: String,
}

/// What is stored for one summary: the readable summary and the keys of every item (to delete later).
#[derive(Debug, Clone)]
pub(crate) struct StoredSummary {
    pub(crate) summary: Summary,
    /// Highest generation number present (complete or not).
    newest_generation: u64,
    /// Keys and sizes of every stored item of this summary.
    stored: Vec<(Item, usize)>,
}

impl StoredSummary {
    fn absent(span: Span, through: u64) -> Self {
        Self { summary: Summary::empty(span, through), newest_generation: 0, stored: Vec::new() }
    }
}

fn sort_key(span: Span, generation: u64, shard: usize) -> String {
    match span {
        Span::Day(day) => format!("{day}#{generation:010}#{shard:05}"),
        Span::Month(month) => format!("{month}#{generation:010}#{shard:05}"),
        Span::AllTime => format!("{generation:010}#{shard:05}"),
    }
}

fn partition(guild: GuildId, span: Span) -> String {
    match span {
        Span::Day(_) => day_pk(guild),
        Span::Month(_) => items::month_pk(guild),
        Span::AllTime => all_time_pk(guild),
    }
}

/// A day summary's span from its sort key prefix.
pub(crate) fn day_span(prefix: &str) -> Option<Span> {
    prefix.parse().ok().map(Span::Day)
}

/// The day of a day summary item.
pub(crate) fn day_of_item(item: &Item) -> Result<Day, StoreError> {
    match span_of_item(item, day_span)? {
        Span::Day(day) => Ok(day),
        other => {
            Err(StoreError::new(StoreErrorKind::Corrupt, format!("day summary item for {other:?}")))
        }
    }
}

/// A month summary's span from its sort key prefix.
pub(crate) fn month_span(prefix: &str) -> Option<Span> {
    prefix.parse().ok().map(Span::Month)
}

/// The span of a summary item, from the first `#`-separated part of its sort key.
fn span_of_item(item: &Item, span_of: fn(&str) -> Option<Span>) -> Result<Span, StoreError> {
    let sk = items::get_s(item, SK)?;
    span_of(sk.split('#').next().unwrap_or_default()).ok_or_else(|| {
        StoreError::new(StoreErrorKind::Corrupt, format!("summary with sort key `{sk}`"))
    })
}

/// Picks the newest complete generation among a summary's items.
fn assemble(
    span: Span,
    items: Vec<Item>,
    default_through: u64,
) -> Result<StoredSummary, StoreError> {
    let mut generations: BTreeMap<u64, Generation> = BTreeMap::new();
    let mut stored = Vec::new();
    for item in items {
        let generation = items::get_u64(&item, "gen")?;
        let g = generations.entry(generation).or_default();
        g.shards = items::get_u64(&item, "shards")?;
        g.through = items::get_u64(&item, "through")?;
        let key =
            items::key(items::get_s(&item, PK)?.to_owned(), items::get_s(&item, SK)?.to_owned());
        stored.push((key, crate::usage::item_size(&item)));
        g.items.push(item);
    }
    let newest_generation = generations.keys().next_back().copied().unwrap_or(0);
    let complete = generations
        .into_iter()
        .rev()
        .filter(|(_, g)| u64::try_from(g.items.len()).is_ok_and(|n| n == g.shards))
        .max_by_key(|(generation, g)| (g.through, *generation));
    let summary = match complete {
        None => Summary::empty(span, default_through),
        Some((_, g)) => {
            let mut blobs = Vec::with_capacity(g.items.len());
            for item in &g.items {
                blobs.push(items::get_b(item, "data")?);
            }
            let summary = Summary::decode_shards(blobs)?;
            if summary.span != span {
                return Err(StoreError::new(
                    StoreErrorKind::Corrupt,
                    format!("summary stored for {span:?} says it is for {:?}", summary.span),
                ));
            }
            summary
        }
    };
    Ok(StoredSummary { summary, newest_generation, stored })
}

impl CounterStore {
    /// Hands the stored day summaries of a range to `each`, in day order, one day at a time: only one
    /// Query page and one day are held in memory, however long the range. Stops when `each` breaks.
    pub(crate) async fn scan_day_summaries(
        &self,
        guild: GuildId,
        range: DayRange,
        default_through: u64,
        consistent: bool,
        mut each: impl FnMut(Day, StoredSummary) -> ControlFlow<()> + Send,
    ) -> Result<(), StoreError> {
        let keys = SummaryKeys {
            partition: day_pk(guild),
            first: items::day_prefix(range.first),
            last: format!("{}~", items::day_prefix(range.last)),
            doing: format!("reading day summaries {range} of guild {guild}"),
        };
        self.scan_summaries(
            keys,
            day_span,
            default_through,
            consistent,
            |span, stored| match span {
                Span::Day(day) => each(day, stored),
                Span::Month(_) | Span::AllTime => ControlFlow::Continue(()),
            },
        )
        .await
    }

    /// Reads the month summaries from `first` to `last`. Months without a stored summary are left out:
    /// the caller treats them as empty, folded through its own watermark.
    pub(crate) async fn read_month_summaries(
        &self,
        guild: GuildId,
        first: Month,
        last: Month,
        default_through: u64,
    ) -> Result<BTreeMap<Month, StoredSummary>, StoreError> {
        let keys = SummaryKeys {
            partition: items::month_pk(guild),
            first: format!("{first}#"),
            last: format!("{last}#~"),
            doing: format!("reading month summaries {first} to {last} of guild {guild}"),
        };
        let mut out = BTreeMap::new();
        self.scan_summaries(keys, month_span, default_through, true, |span, stored| {
            if let Span::Month(month) = span {
                out.insert(month, stored);
            }
            ControlFlow::Continue(())
        })
        .await?;
        Ok(out)
    }

    /// Hands the summaries stored between two sort keys of a partition to `each`, in key order, one at a
    /// time. A summary's shards are consecutive in sort-key order but may straddle two pages; `span_of`
    /// reads its span from the sort key's first `#`-separated part.
    async fn scan_summaries(
        &self,
        keys: SummaryKeys,
        span_of: fn(&str) -> Option<Span>,
        default_through: u64,
        consistent: bool,
        mut each: impl FnMut(Span, StoredSummary) -> ControlFlow<()> + Send,
    ) -> Result<(), StoreError> {
        let mut pending: Option<(Span, Vec<Item>)> = None;
        let mut stopped = false;
        self.query_pages(
            "pk = :pk AND sk BETWEEN :first AND :last",
            vec![(":pk", s(keys.partition)), (":first", s(keys.first)), (":last", s(keys.last))],
            consistent,
            &keys.doing,
            |page| {
                for item in page {
                    let span = span_of_item(&item, span_of)?;
                    match &mut pending {
                        Some((current, items)) if *current == span => items.push(item),
                        _ => {
                            if let Some((done, items)) = pending.replace((span, vec![item]))
                                && each(done, assemble(done, items, default_through)?).is_break()
                            {
                                stopped = true;
                                return Ok(ControlFlow::Break(()));
                            }
                        }
                    }
                }
                Ok(ControlFlow::Continue(()))
            },
        )
        .await?;
        if let Some((span, items)) = pending.filter(|_| !stopped) {
            let _ = each(span, assemble(span, items, default_through)?);
        }
        Ok(())
    }

    /// Folds `batches` into every summary stored in `partition` (an erasure reaches all of them), one
    /// summary at a time as a Query pages through the partition: however long the history, only one page
    /// and one summary are held in memory. A summary the batches do not change is not written (nor is one
    /// already folded through them, so a re-run after a crash writes only what is left). Returns the spans
    /// found and how many summaries were rewritten.
    pub(crate) async fn refold_partition(
        &self,
        guild: GuildId,
        partition: String,
        span_of: fn(&str) -> Option<Span>,
        batches: &[&Batch],
        default_through: u64,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<(BTreeSet<Span>, usize), StoreError> {
        let doing = format!("folding an erasure into the summaries of guild {guild}");
        let values = [(":pk", s(partition))];
        let mut seen = BTreeSet::new();
        let mut written = 0;
        let mut pending: Option<(Span, Vec<Item>)> = None;
        let mut start_key = None;
        loop {
            let (items, next) = self
                .query_page(
                    "pk = :pk",
                    &values,
                    true,
                    Some(REFOLD_PAGE_ITEMS),
                    start_key.take(),
                    &doing,
                )
                .await?;
            for item in items {
                let span = span_of_item(&item, span_of)?;
                match &mut pending {
                    Some((current, group)) if *current == span => group.push(item),
                    _ => {
                        // Sort keys group a summary's shards: a new span means the last one is complete.
                        if let Some((done, group)) = pending.replace((span, vec![item])) {
                            StoreError::check_deadline(deadline, &doing)?;
                            written +=
                                self.refold(guild, done, group, batches, default_through).await?;
                            seen.insert(done);
                        }
                    }
                }
            }
            match next {
                Some(key) => start_key = Some(key),
                None => break,
            }
        }
        if let Some((done, group)) = pending {
            written += self.refold(guild, done, group, batches, default_through).await?;
            seen.insert(done);
        }
        Ok((seen, written))
    }

    /// Folds `batches` into one stored summary and writes it if that changed it; returns 1 if written.
    async fn refold(
        &self,
        guild: GuildId,
        span: Span,
        items: Vec<Item>,
        batches: &[&Batch],
        default_through: u64,
    ) -> Result<usize, StoreError> {
        let stored = assemble(span, items, default_through)?;
        let mut summary = stored.summary.clone();
        for batch in batches {
            summary.fold(batch);
        }
        if summary.tally == stored.summary.tally {
            return Ok(0);
        }
        self.write_summary(guild, &stored, &summary).await?;
        Ok(1)
    }

    /// Reads one summary (a day or all time).
    pub(crate) async fn read_summary(
        &self,
        guild: GuildId,
        span: Span,
        default_through: u64,
    ) -> Result<StoredSummary, StoreError> {
        let (condition, values) = match span {
            Span::Day(day) => (
                "pk = :pk AND begins_with(sk, :prefix)",
                vec![(":pk", s(day_pk(guild))), (":prefix", s(items::day_prefix(day)))],
            ),
            Span::Month(month) => (
                "pk = :pk AND begins_with(sk, :prefix)",
                vec![(":pk", s(items::month_pk(guild))), (":prefix", s(format!("{month}#")))],
            ),
            Span::AllTime => ("pk = :pk", vec![(":pk", s(all_time_pk(guild)))]),
        };
        let items = self
            .query_all(
                condition,
                values,
                true,
                &format!("reading the {span:?} summary of guild {guild}"),
            )
            .await?;
        if items.is_empty() {
            return Ok(StoredSummary::absent(span, default_through));
        }
        assemble(span, items, default_through)
    }

    /// Writes `summary` as a new generation replacing `old`, then deletes `old`'s items.
    pub(crate) async fn write_summary(
        &self,
        guild: GuildId,
        old: &StoredSummary,
        summary: &Summary,
    ) -> Result<(), StoreError> {
        let max_bytes = match summary.span {
            Span::Day(_) => DAY_SHARD_BYTES,
            Span::Month(_) | Span::AllTime => MAX_SHARD_BYTES,
        };
        let shards = summary.encode_shards(max_bytes)?;
        let generation = old.newest_generation + 1;
        let pk = partition(guild, summary.span);
        let count = shards.len();
        for (index, data) in shards.into_iter().enumerate() {
            let item: Item = HashMap::from([
                (PK.to_owned(), s(pk.clone())),
                (SK.to_owned(), s(sort_key(summary.span, generation, index))),
                ("gen".to_owned(), n(generation)),
                ("shards".to_owned(), n(count)),
                ("through".to_owned(), n(summary.through)),
                ("data".to_owned(), b(data)),
            ]);
            self.put_item(
                item,
                Some("attribute_not_exists(pk)"),
                &format!("writing the {:?} summary of guild {guild}", summary.span),
            )
            .await?;
        }
        if let Span::Day(day) = summary.span {
            // Once the generation is complete, and before the old one goes: a reader that follows the
            // directory always finds the items it names, or learns that a newer generation replaced them.
            self.write_directory_entry(guild, day, generation, count, summary.through).await?;
        }
        self.delete_items(
            old.stored.iter().cloned(),
            &format!("deleting the previous {:?} summary of guild {guild}", summary.span),
        )
        .await
    }

    /// Points a day's directory entry at a newly written generation, unless a newer one is there already.
    async fn write_directory_entry(
        &self,
        guild: GuildId,
        day: Day,
        generation: u64,
        shards: usize,
        through: u64,
    ) -> Result<(), StoreError> {
        let item: Item = HashMap::from([
            (PK.to_owned(), s(items::day_directory_pk(guild))),
            (SK.to_owned(), s(day.to_string())),
            ("gen".to_owned(), n(generation)),
            ("shards".to_owned(), n(shards)),
            ("through".to_owned(), n(through)),
        ]);
        let result = self
            .put_item_where(
                item,
                Some("attribute_not_exists(pk) OR #gen < :gen"),
                &[("#gen", "gen")],
                vec![(":gen", n(generation))],
                &format!("writing the directory entry of {day} in guild {guild}"),
            )
            .await;
        match result {
            Err(e) if e.kind() == StoreErrorKind::Conflict => Ok(()),
            other => other,
        }
    }

    /// One member's counters on each day of `range` that has a day summary: for each day, the one shard
    /// of its newest generation that holds the member, found through the day directory. The shards are
    /// read eventually consistently: a generation's items never change once written and the directory
    /// names only complete generations, so a read returns the item or nothing. A shard not returned (a
    /// replica behind, or a newer generation replaced it meanwhile) is looked up again strongly.
    ///
    /// Costs one Query of the directory (a few bytes per day) and one `BatchGetItem` per 100 days, each
    /// shard half a read unit. Also says whether the directory lists any day of the range (whether
    /// anyone was counted then).
    pub(crate) async fn member_day_summaries(
        &self,
        guild: GuildId,
        member: UserId,
        range: DayRange,
    ) -> Result<(BTreeMap<Day, Summary>, bool), StoreError> {
        let doing = format!("reading one member's day summaries {range} of guild {guild}");
        let mut wanted = self.day_directory(guild, range, &doing).await?;
        let listed = !wanted.is_empty();
        let mut out = BTreeMap::new();
        for attempt in 0..3 {
            let keys = wanted
                .iter()
                .map(|(&day, entry)| {
                    items::key(
                        day_pk(guild),
                        sort_key(
                            Span::Day(day),
                            entry.generation,
                            usize::from(entry.shard_of(member)),
                        ),
                    )
                })
                .collect();
            for item in self.batch_get_items(keys, attempt > 0, &doing).await? {
                let summary = engagement_domain::summary::decode_member_shard(
                    items::get_b(&item, "data")?,
                    member,
                )?;
                if let Span::Day(day) = summary.span {
                    wanted.remove(&day);
                    out.insert(day, summary);
                }
            }
            let (Some(&first), Some(&last)) = (wanted.keys().next(), wanted.keys().next_back())
            else {
                return Ok((out, listed));
            };
            let again = self
                .day_directory(guild, DayRange::new(first, last).unwrap_or(range), &doing)
                .await?;
            wanted.retain(|day, _| again.contains_key(day));
            for (day, entry) in &mut wanted {
                if let Some(newer) = again.get(day) {
                    *entry = *newer;
                }
            }
        }
        Err(StoreError::new(
            StoreErrorKind::Unavailable,
            format!("{doing}: day summaries kept being replaced while they were read"),
        ))
    }

    /// The directory entries of a range of days (strongly consistent).
    async fn day_directory(
        &self,
        guild: GuildId,
        range: DayRange,
        doing: &str,
    ) -> Result<BTreeMap<Day, DirectoryEntry>, StoreError> {
        let items = self
            .query_all(
                "pk = :pk AND sk BETWEEN :first AND :last",
                vec![
                    (":pk", s(items::day_directory_pk(guild))),
                    (":first", s(range.first.to_string())),
                    (":last", s(range.last.to_string())),
                ],
                true,
                doing,
            )
            .await?;
        let mut out = BTreeMap::new();
        for item in &items {
            let day: Day = items::get_s(item, SK)?.parse().map_err(|_| {
                StoreError::new(
                    StoreErrorKind::Corrupt,
                    "day directory entry whose key is not a day",
                )
            })?;
            let shards = u16::try_from(items::get_u64(item, "shards")?).map_err(|_| {
                StoreError::new(StoreErrorKind::Corrupt, "day directory entry with too many shards")
            })?;
            out.insert(day, DirectoryEntry { generation: items::get_u64(item, "gen")?, shards });
        }
        Ok(out)
    }

    /// Deletes items (with their sizes, for the usage meter), 25 per request.
    pub(crate) async fn delete_items(
        &self,
        keys: impl IntoIterator<Item = (Item, usize)>,
        doing: &str,
    ) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
        let keys: Vec<(Item, usize)> = keys.into_iter().collect();
        for chunk in keys.chunks(25) {
            let mut requests = Vec::with_capacity(chunk.len());
            for (key, _) in chunk {
                let delete =
                    DeleteRequest::builder().set_key(Some(key.clone())).build().map_err(|e| {
                        StoreError::with_source(
                            StoreErrorKind::Dynamo,
                            "building a delete request",
                            e,
                        )
                    })?;
                requests.push(WriteRequest::builder().delete_request(delete).build());
            }
            let mut pending = HashMap::from([(self.table().to_owned(), requests)]);
            let mut attempt = 0u32;
            while pending.values().any(|v| !v.is_empty()) {
                self.usage.write_request();
                self.faults.before_write("deleting items")?;
                self.usage.request();
                let out = self
                    .client()
                    .await
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .map_err(|e| StoreError::dynamo(doing, self.table(), e))?;
                pending = out.unprocessed_items.unwrap_or_default();
                attempt += 1;
                if attempt > 10 {
                    return Err(StoreError::new(
                        StoreErrorKind::Unavailable,
                        format!("{doing}: DynamoDB kept items unprocessed"),
                    ));
                }
                if pending.values().any(|v| !v.is_empty()) {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt.min(6)))
                        .await;
                }
            }
            for (_, size) in chunk {
                self.usage.write(*size);
            }
            self.faults.after_write("deleting items")?;
        }
        Ok(())
    }

    /// Reads every folded cursor item of a guild.
    pub(crate) async fn read_cursor_items(
        &self,
        guild: GuildId,
    ) -> Result<CursorTable, StoreError> {
        let items = self
            .query_all(
                "pk = :pk",
                vec![(":pk", s(cursor_pk(guild)))],
                true,
                &format!("reading the cursors of guild {guild}"),
            )
            .await?;
        let mut table = CursorTable::default();
        for item in &items {
            let channel = ChannelId(items::get_s(item, SK)?.parse().map_err(|_| {
                StoreError::new(
                    StoreErrorKind::Corrupt,
                    "cursor item whose sort key is not a channel id",
                )
            })?);
            let parent = if item.contains_key("parent") {
                Some(ChannelId(items::get_u64(item, "parent")?))
            } else {
                None
            };
            let cursor = ChannelCursor {
                channel,
                parent,
                before: MessageId(items::get_u64(item, "before")?),
                after: MessageId(items::get_u64(item, "after")?),
                threads_listed_ms: items::get_u64_or(item, "threads_listed_ms", 0)?,
                reconciled_ms: items::get_u64_or(item, "reconciled_ms", 0)?,
                unreadable: item
                    .get("unreadable")
                    .and_then(|v| v.as_bool().ok())
                    .copied()
                    .unwrap_or(false),
            };
            table.cursors.insert(channel, cursor);
        }
        Ok(table)
    }

    /// Writes folded cursor items.
    pub(crate) async fn write_cursor_items(
        &self,
        guild: GuildId,
        cursors: impl IntoIterator<Item = ChannelCursor>,
        through: u64,
    ) -> Result<(), StoreError> {
        for cursor in cursors {
            let mut item: Item = HashMap::from([
                (PK.to_owned(), s(cursor_pk(guild))),
                (SK.to_owned(), s(cursor.channel.to_string())),
                ("before".to_owned(), n(cursor.before.0)),
                ("after".to_owned(), n(cursor.after.0)),
                ("threads_listed_ms".to_owned(), n(cursor.threads_listed_ms)),
                ("reconciled_ms".to_owned(), n(cursor.reconciled_ms)),
                (
                    "unreadable".to_owned(),
                    aws_sdk_dynamodb::types::AttributeValue::Bool(cursor.unreadable),
                ),
                ("through".to_owned(), n(through)),
            ]);
            if let Some(parent) = cursor.parent {
                item.insert("parent".to_owned(), n(parent.0));
            }
            // Two compactions can fold at once (the sync's and an erasure's): a cursor item only ever
            // moves forward, so a slow writer can never move a cursor back and count messages twice.
            self.put_item_if_newer(
                item,
                through,
                &format!("writing the cursor of channel {} in guild {guild}", cursor.channel),
            )
            .await?;
        }
        Ok(())
    }
}
