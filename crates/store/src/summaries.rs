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
use crate::log::Page;
use crate::{CounterStore, StoreError, StoreErrorKind};

/// Month and all-time summaries' shards are cut below this size, leaving room under DynamoDB's 400 KB
/// item limit: they are only ever read whole.
pub(crate) const MAX_SHARD_BYTES: usize = 300 * 1024;

/// Day summaries' shards are cut below this size, so that a shard item (with its keys and attributes,
/// ~100 bytes) is one 4 KiB read unit: one member's counters of a day are read as the one shard that
/// holds them (see [`member_day_summaries`](CounterStore::member_day_summaries)). A day read whole costs the
/// same either way (a Query is billed by the summed size of its items).
pub(crate) const DAY_SHARD_BYTES: usize = 3840;

/// A partition of summaries an erasure folds into, one page at a time.
pub(crate) struct Refold {
    /// The summaries' span, from the first `#`-separated part of a sort key.
    pub(crate) span_of: fn(&str) -> Option<Span>,
    /// Items per Query page: at most ~600 kB, so that memory holds about one summary, not a megabyte
    /// page of them.
    pub(crate) page_items: i32,
}

impl Refold {
    /// Day summaries: shards under 3,840 bytes, 150 a page (a busy day is ~150 shards).
    pub(crate) const DAYS: Self = Self { span_of: day_span, page_items: 150 };
    /// Month summaries: shards under 300 KiB, two a page.
    pub(crate) const MONTHS: Self = Self { span_of: month_span, page_items: 2 };
}

/// What an erasure's fold into a partition of summaries goes by.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Refolding {
    /// The watermark of summaries not stored yet.
    pub(crate) default_through: u64,
    /// When the fold runs (Unix ms).
    pub(crate) now_ms: u64,
    /// When it stops, leaving the rest to the next one.
    pub(crate) deadline: Option<tokio::time::Instant>,
}

/// One generation of a summary as stored.
#[derive(Debug, Default, Clone)]
struct Generation {
    shards: u64,
    through: u64,
    slot: Option<Slot>,
    items: Vec<Item>,
}

/// Where a day's newest summary generation is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DirectoryEntry {
    pub(crate) generation: u64,
    slot: Slot,
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

/// What is stored for one summary: the readable summary and every item (to replace or delete later).
#[derive(Debug, Clone)]
pub(crate) struct StoredSummary {
    pub(crate) summary: Summary,
    /// The generation `summary` was read from (`None`: no complete one is stored).
    pub(crate) generation: Option<u64>,
    /// The slot of that generation, for a day summary written in slots (see [`Slot`]).
    slot: Option<Slot>,
    /// How many shards that generation has.
    shards: usize,
    /// Highest generation number present (complete or not).
    newest_generation: u64,
    /// Every stored item of this summary.
    stored: Vec<StoredItem>,
}

/// One stored summary item: its key, size and place.
#[derive(Debug, Clone)]
struct StoredItem {
    key: Item,
    size: usize,
    generation: u64,
    /// `None` for a generation-keyed item (month, all time, and days written before slots).
    slot: Option<Slot>,
    shard: usize,
}

impl StoredSummary {
    fn absent(span: Span, through: u64) -> Self {
        Self {
            summary: Summary::empty(span, through),
            generation: None,
            slot: None,
            shards: 0,
            newest_generation: 0,
            stored: Vec::new(),
        }
    }
}

/// A day summary is written in one of two slots, taking turns: a new generation overwrites the
/// generation before the current one, item by item (a `PutItem` over an item costs what the larger of
/// the two weighs), and the current one stays readable until the new one is complete. A day is
/// rewritten every hour while it fills, so this saves deleting each generation it replaces, half of
/// what a fold writes. Month and all-time summaries, written once a day, are keyed by generation and
/// their old generation deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Slot {
    A,
    B,
}

impl Slot {
    const fn other(self) -> Self {
        match self {
            Self::A => Self::B,
            Self::B => Self::A,
        }
    }

    const fn key(self) -> &'static str {
        match self {
            Self::A => "a",
            Self::B => "b",
        }
    }

    fn parse(key: &str) -> Option<Self> {
        match key {
            "a" => Some(Self::A),
            "b" => Some(Self::B),
            _ => None,
        }
    }
}

/// What becomes of a day's readable generation once a new one is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Previous {
    /// It stays, to be overwritten by the next generation (a fold), and is deleted once the day stops
    /// changing (see [`drop_previous_generations`](CounterStore::drop_previous_generations)).
    Keep,
    /// It is deleted (an erasure: nothing of the member may stay behind).
    Delete,
}

/// How long a generation that is not complete may be a fold still writing it: older than this, it was
/// left by a fold that stopped (a Lambda function runs 15 minutes at most), and may be written over.
const ABANDONED_AFTER_MS: u64 = 15 * 60 * 1000;

/// Where an item of a summary generation goes: days by slot, the others by generation number.
fn sort_key(span: Span, generation: u64, slot: Slot, shard: usize) -> String {
    match span {
        Span::Day(day) => format!("{day}#{}#{shard:05}", slot.key()),
        Span::Month(month) => format!("{month}#{generation:010}#{shard:05}"),
        Span::AllTime => format!("{generation:010}#{shard:05}"),
    }
}

/// The slot (if any) and shard of a summary item, from its sort key's last two `#`-separated parts.
fn place_of(sk: &str) -> Result<(Option<Slot>, usize), StoreError> {
    let mut parts = sk.rsplit('#');
    let shard = parts.next().and_then(|p| p.parse().ok());
    let slot = parts.next().map(Slot::parse);
    match (slot, shard) {
        (Some(slot), Some(shard)) => Ok((slot, shard)),
        _ => Err(StoreError::new(StoreErrorKind::Corrupt, format!("summary with sort key `{sk}`"))),
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
    // By generation and slot: the items of one write, never two writers' (see `write_summary`).
    let mut generations: BTreeMap<(u64, Option<Slot>), Generation> = BTreeMap::new();
    let mut stored = Vec::new();
    for item in items {
        let generation = items::get_u64(&item, "gen")?;
        let sk = items::get_s(&item, SK)?;
        let (slot, shard) = place_of(sk)?;
        let g = generations.entry((generation, slot)).or_default();
        g.shards = items::get_u64(&item, "shards")?;
        g.through = items::get_u64(&item, "through")?;
        g.slot = slot;
        stored.push(StoredItem {
            key: items::key(items::get_s(&item, PK)?.to_owned(), sk.to_owned()),
            size: crate::usage::item_size(&item),
            generation,
            slot,
            shard,
        });
        g.items.push(item);
    }
    let newest_generation =
        generations.keys().map(|(generation, _)| *generation).max().unwrap_or(0);
    let complete = generations
        .into_iter()
        .rev()
        .filter(|(_, g)| u64::try_from(g.items.len()).is_ok_and(|n| n == g.shards))
        .max_by_key(|((generation, _), g)| (g.through, *generation));
    let generation = complete.as_ref().map(|((generation, _), _)| *generation);
    let slot = complete.as_ref().and_then(|(_, g)| g.slot);
    let shards = complete.as_ref().map_or(0, |(_, g)| g.items.len());
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
    Ok(StoredSummary { summary, generation, slot, shards, newest_generation, stored })
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
        kind: &Refold,
        batches: &[&Batch],
        fold: Refolding,
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
                    Page { limit: Some(kind.page_items), ..Page::after(start_key.take()) },
                    &doing,
                )
                .await?;
            for item in items {
                let span = span_of_item(&item, kind.span_of)?;
                match &mut pending {
                    Some((current, group)) if *current == span => group.push(item),
                    _ => {
                        // Sort keys group a summary's shards: a new span means the last one is complete.
                        if let Some((done, group)) = pending.replace((span, vec![item])) {
                            StoreError::check_deadline(fold.deadline, &doing)?;
                            written += self.refold(guild, done, group, batches, fold).await?;
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
            written += self.refold(guild, done, group, batches, fold).await?;
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
        fold: Refolding,
    ) -> Result<usize, StoreError> {
        let stored = assemble(span, items, fold.default_through)?;
        let mut summary = stored.summary.clone();
        for batch in batches {
            summary.fold(batch);
        }
        // A generation newer than the readable one, not complete, may hold the member too (a fold
        // that stopped, or one still writing): the day is written anew over it, or the erasure waits.
        let unfinished =
            stored.stored.iter().any(|i| stored.generation.is_none_or(|g| i.generation > g));
        // A summary the batches count in is written even when they leave it as it was (a member
        // counted, then erased): a fold of the same batches that stopped, or is still running, may have
        // written the member into its activity, or may yet write them into a generation, and a newer
        // generation and activity are what make those writes fail.
        let touched = batches.iter().any(|b| b.counters.iter().any(|c| span.covers(c.day)));
        if summary.tally == stored.summary.tally && !unfinished && !touched {
            // The directory entry first: a fold that stopped before writing it leaves the readable
            // generation unnamed, and the one named may be among the older ones deleted below.
            self.ensure_directory_entry(guild, &stored).await?;
            // Unchanged, but the day's previous generation may still hold the member (a count that
            // went back to zero): it goes.
            let older = stored
                .stored
                .iter()
                .filter(|i| stored.generation.is_some_and(|g| i.generation < g))
                .cloned()
                .collect();
            self.delete_generation_items(
                older,
                &format!("deleting a previous {span:?} summary of guild {guild}"),
            )
            .await?;
            return Ok(0);
        }
        self.write_activity(guild, &summary).await?;
        self.write_summary(guild, &stored, &summary, Previous::Delete, fold.now_ms).await?;
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

    /// Writes `summary` as a new generation replacing `old`. A month or all-time summary's old items
    /// are deleted afterwards. A day's new generation goes into the slot `old` is not in, over whatever
    /// older generation is there; `previous` says whether `old`'s own items then stay (to be
    /// overwritten by the next fold) or go (an erasure leaves nothing of the member behind).
    pub(crate) async fn write_summary(
        &self,
        guild: GuildId,
        old: &StoredSummary,
        summary: &Summary,
        previous: Previous,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let max_bytes = match summary.span {
            Span::Day(_) => DAY_SHARD_BYTES,
            Span::Month(_) | Span::AllTime => MAX_SHARD_BYTES,
        };
        let shards = summary.encode_shards(max_bytes)?;
        let generation = old.newest_generation + 1;
        // Days: the slot the readable generation is not in (a day written before slots, or none: A).
        let slot = old.slot.map_or(Slot::A, Slot::other);
        let pk = partition(guild, summary.span);
        let count = shards.len();
        let doing = format!("writing the {:?} summary of guild {guild}", summary.span);
        if let (Span::Day(day), Previous::Keep, Some(kept), Some(kept_slot)) =
            (summary.span, previous, old.generation, old.slot)
        {
            // Noted first: whatever happens next, the generation kept is found again and deleted
            // once a newer one is readable and the day has stopped changing. A note only moves
            // forward: a fold that read the day earlier cannot point it back.
            let note: Item = HashMap::from([
                (PK.to_owned(), s(items::previous_generation_pk(guild))),
                (SK.to_owned(), s(day.to_string())),
                ("slot".to_owned(), s(kept_slot.key())),
                ("gen".to_owned(), n(kept)),
                ("at_ms".to_owned(), n(now_ms)),
            ]);
            let doing = format!("noting the previous summary of {day}");
            self.put_item_if_newer(note, ("gen", kept), &doing).await?;
        }
        for (index, data) in shards.into_iter().enumerate() {
            let mut item: Item = HashMap::from([
                (PK.to_owned(), s(pk.clone())),
                (SK.to_owned(), s(sort_key(summary.span, generation, slot, index))),
                ("gen".to_owned(), n(generation)),
                ("shards".to_owned(), n(count)),
                ("through".to_owned(), n(summary.through)),
                ("data".to_owned(), b(data)),
            ]);
            let Span::Day(_) = summary.span else {
                // Keyed by generation: a key is written once, so of two folds at once one fails.
                self.put_item(item, Some("attribute_not_exists(pk)"), &doing).await?;
                continue;
            };
            item.insert("written_ms".to_owned(), n(now_ms));
            // Over a generation no newer than the one this fold read as readable, or one a stopped
            // fold abandoned: never over a newer one another fold is still writing. Two folds that
            // read the same day write the same generation into the same slot, shard 0 first: the
            // second fails there, before it has written anything.
            let replaced = old
                .stored
                .iter()
                .find(|i| i.slot == Some(slot) && i.shard == index)
                .map_or(0, |i| i.size);
            self.usage.replacing(replaced);
            self.put_item_where(
                item,
                Some("attribute_not_exists(pk) OR #gen <= :read OR #written < :abandoned"),
                &[("#gen", "gen"), ("#written", "written_ms")],
                vec![
                    (":read", n(old.generation.unwrap_or(0))),
                    (":abandoned", n(now_ms.saturating_sub(ABANDONED_AFTER_MS))),
                ],
                &doing,
            )
            .await?;
        }
        let doing = format!("deleting the previous {:?} summary of guild {guild}", summary.span);
        let Span::Day(day) = summary.span else {
            // Keyed by generation: nobody else ever writes these keys again.
            return self
                .delete_items(old.stored.iter().map(|i| (i.key.clone(), i.size)), &doing)
                .await;
        };
        // Once the generation is complete, and before anything of the old one goes: a reader that
        // follows the directory always finds the items it names, or learns that a newer generation
        // replaced them.
        self.write_directory_entry(guild, day, generation, slot, count, summary.through).await?;
        // Written before slots: keyed by generation, replaced now.
        self.delete_items(
            old.stored.iter().filter(|i| i.slot.is_none()).map(|i| (i.key.clone(), i.size)),
            &doing,
        )
        .await?;
        // In slots, a later fold may already be writing over these keys: only the generations seen go.
        let seen = old
            .stored
            .iter()
            .filter(|i| match i.slot {
                None => false,
                // The slot just written: what it held beyond the new generation's shards.
                Some(s) if s == slot => i.shard >= count,
                Some(_) => previous == Previous::Delete,
            })
            .cloned()
            .collect();
        self.delete_generation_items(seen, &doing).await?;
        Ok(())
    }

    /// Deletes the previous generation of every day not rewritten since `before_ms`: a day keeps it
    /// while it changes (the next fold writes over it instead of paying for a delete each time), and
    /// readers of whole days should not read it for ever after.
    pub(crate) async fn drop_previous_generations(
        &self,
        guild: GuildId,
        before_ms: u64,
    ) -> Result<usize, StoreError> {
        let doing = format!("deleting previous day summaries of guild {guild}");
        let notes = self
            .query_all(
                "pk = :pk",
                vec![(":pk", s(items::previous_generation_pk(guild)))],
                true,
                &doing,
            )
            .await?;
        let mut dropped = 0;
        for note in notes {
            let at_ms = items::get_u64(&note, "at_ms")?;
            if at_ms > before_ms {
                continue;
            }
            let day: Day = items::get_s(&note, SK)?.parse().map_err(|_| {
                StoreError::new(
                    StoreErrorKind::Corrupt,
                    "previous-generation note whose key is not a day",
                )
            })?;
            let slot = items::get_s(&note, "slot")?;
            let generation = items::get_u64(&note, "gen")?;
            let current = self.day_directory(guild, DayRange::single(day), &doing).await?;
            if current.get(&day).is_none_or(|entry| entry.generation <= generation) {
                // The generation noted is still the readable one (the fold that noted it stopped
                // before its own was complete): it stays, and so does the note.
                continue;
            }
            let held = self
                .query_all(
                    "pk = :pk AND begins_with(sk, :prefix)",
                    vec![(":pk", s(day_pk(guild))), (":prefix", s(format!("{day}#{slot}#")))],
                    true,
                    &doing,
                )
                .await?;
            let mut gone = Vec::new();
            for item in &held {
                let sk = items::get_s(item, SK)?;
                let (slot, shard) = place_of(sk)?;
                let item_generation = items::get_u64(item, "gen")?;
                // Only what the note names: a fold since may have written its newest generation here.
                if item_generation == generation {
                    gone.push(StoredItem {
                        key: items::key(day_pk(guild), sk.to_owned()),
                        size: crate::usage::item_size(item),
                        generation,
                        slot,
                        shard,
                    });
                }
            }
            self.delete_generation_items(gone, &doing).await?;
            self.delete_note(guild, &note, at_ms, &doing).await?;
            dropped += 1;
        }
        Ok(dropped)
    }

    /// Deletes a previous-generation note unless a fold renewed it meanwhile.
    async fn delete_note(
        &self,
        guild: GuildId,
        note: &Item,
        at_ms: u64,
        doing: &str,
    ) -> Result<(), StoreError> {
        let key =
            items::key(items::previous_generation_pk(guild), items::get_s(note, SK)?.to_owned());
        let (condition, values) = (Some("at_ms = :at"), vec![(":at", n(at_ms))]);
        let size = crate::usage::item_size(note);
        match self.delete_item_where(key, condition, &[], values, size, doing).await {
            Err(e) if e.kind() == StoreErrorKind::Conflict => Ok(()),
            other => other,
        }
    }

    /// Deletes stored summary items that still hold the generation they were read with, one
    /// conditional `DeleteItem` each (an item a newer generation overwrote meanwhile stays).
    async fn delete_generation_items(
        &self,
        stored: Vec<StoredItem>,
        doing: &str,
    ) -> Result<(), StoreError> {
        for item in stored {
            let (condition, names) = (Some("#gen = :gen"), [("#gen", "gen")]);
            let values = vec![(":gen", n(item.generation))];
            match self
                .delete_item_where(item.key, condition, &names, values, item.size, doing)
                .await
            {
                Err(e) if e.kind() != StoreErrorKind::Conflict => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// Makes sure a day's directory entry names its readable generation: a fold that stopped between
    /// a generation's last shard and its entry left it out, and the day may not change again for the
    /// next fold to write it.
    pub(crate) async fn ensure_directory_entry(
        &self,
        guild: GuildId,
        stored: &StoredSummary,
    ) -> Result<(), StoreError> {
        match (stored.summary.span, stored.generation, stored.slot) {
            (Span::Day(day), Some(generation), Some(slot)) => {
                let through = stored.summary.through;
                self.write_directory_entry(guild, day, generation, slot, stored.shards, through)
                    .await
            }
            // Nothing readable, or written before slots (and before the directory).
            _ => Ok(()),
        }
    }

    /// Points a day's directory entry at a newly written generation, unless a newer one is there already.
    async fn write_directory_entry(
        &self,
        guild: GuildId,
        day: Day,
        generation: u64,
        slot: Slot,
        shards: usize,
        through: u64,
    ) -> Result<(), StoreError> {
        let item: Item = HashMap::from([
            (PK.to_owned(), s(items::day_directory_pk(guild))),
            (SK.to_owned(), s(day.to_string())),
            ("gen".to_owned(), n(generation)),
            ("slot".to_owned(), s(slot.key())),
            ("shards".to_owned(), n(shards)),
            ("through".to_owned(), n(through)),
        ]);
        let doing = format!("writing the directory entry of {day} in guild {guild}");
        self.put_item_if_newer(item, ("gen", generation), &doing).await.map(drop)
    }

    /// One member's counters on each day of `range` that has a day summary: for each day, the one shard
    /// of its newest generation that holds the member, found through the day directory. The shards are
    /// read eventually consistently: the directory names only complete generations and each item says
    /// which generation it holds, so a read returns the shard named or shows it is not that. A shard
    /// not returned as named (a replica behind, or a newer generation replaced it meanwhile) is looked
    /// up again strongly after its entry is.
    ///
    /// Costs one Query of the directory (a few bytes per day) and one `BatchGetItem` per 100 days, each
    /// shard half a read unit.
    pub(crate) async fn member_day_summaries(
        &self,
        guild: GuildId,
        member: UserId,
        range: DayRange,
    ) -> Result<BTreeMap<Day, Summary>, StoreError> {
        let doing = format!("reading one member's day summaries {range} of guild {guild}");
        let mut wanted = self.day_directory(guild, range, &doing).await?;
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
                            entry.slot,
                            usize::from(entry.shard_of(member)),
                        ),
                    )
                })
                .collect();
            for item in self.batch_get_items(keys, attempt > 0, &doing).await? {
                let day = day_of_item(&item)?;
                let generation = items::get_u64(&item, "gen")?;
                if wanted.get(&day).is_none_or(|e| e.generation != generation) {
                    // The slot holds another generation (a replica behind, or the next fold's).
                    continue;
                }
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
                return Ok(out);
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
    pub(crate) async fn day_directory(
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
            let slot = Slot::parse(items::get_s(item, "slot")?).ok_or_else(|| {
                StoreError::new(StoreErrorKind::Corrupt, "day directory entry with an unknown slot")
            })?;
            out.insert(
                day,
                DirectoryEntry { generation: items::get_u64(item, "gen")?, slot, shards },
            );
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
                ("through", through),
                &format!("writing the cursor of channel {} in guild {guild}", cursor.channel),
            )
            .await?;
        }
        Ok(())
    }
}
