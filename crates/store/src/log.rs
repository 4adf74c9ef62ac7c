//! The batch log: appending batches exactly once, reading them back.

use std::collections::{BTreeSet, HashMap};
use std::ops::ControlFlow;

use aws_sdk_dynamodb::types::AttributeValue;
use engagement_domain::summary::{CursorTable, ReactionLedger};
use engagement_domain::{Batch, Day, GuildId, MessageId, UserId, snowflake};

use crate::items::{self, EXPIRES_AT, Item, PK, SK, b, log_pk, log_sk, n, s};
use crate::{CounterStore, StoreError, StoreErrorKind};

/// How long batches stay in the log after they are written. Compaction folds them within minutes to a day;
/// the log keeps them longer for the reaction window and as a safety margin. Expiry is DynamoDB TTL (free).
pub const BATCH_RETENTION_SECONDS: u64 = 30 * 24 * 3600;

/// Batches must be folded well inside their retention: commits stop when the oldest unfolded batch is this old.
pub const MAX_UNFOLDED_AGE_MS: u64 = 7 * 24 * 3600 * 1000;

/// Batches per page when reading the log backwards.
const LOG_PAGE_ITEMS: i32 = 16;

/// The largest encoded batch accepted (DynamoDB items are at most 400 KB).
pub const MAX_BATCH_BYTES: usize = 350 * 1024;

/// How many times erasures rewrote a batch: the condition that keeps two erasures from undoing each other.
const REWRITES: &str = "rewrites";

/// Fold state attribute: the first day whose summaries all have a directory entry.
pub(crate) const DIRECTORY_FROM: &str = "directory_from";
/// Fold state attribute: 1 once the activity is built (see `crate::activity`).
pub(crate) const ACTIVITY_BUILT: &str = "activity_built";

/// Attempts to rewrite a batch when other erasures rewrite it at the same time.
const REWRITE_ATTEMPTS: usize = 5;

/// Attempts to append an erasure-only batch when others append at the same time.
const COMMIT_ATTEMPTS: usize = 5;

/// Pass as `window_start` to [`CounterStore::load_sync_view`] to load no reaction state (the cheap load for
/// runs that do not reconcile reactions).
pub const NO_REACTION_WINDOW: MessageId = MessageId(u64::MAX);

/// What a sync run needs to know about a guild before it reads Discord: the log position, every cursor,
/// and the reactions counted on recent messages. Committing through it keeps it current.
#[derive(Clone, Debug)]
pub struct SyncView {
    /// The guild.
    pub guild: GuildId,
    /// Sequence number of the last batch in the log.
    pub seq: u64,
    /// Every channel's and thread's cursor.
    pub cursors: CursorTable,
    /// Reaction state of messages in the reconciliation window.
    pub reactions: ReactionLedger,
    /// Creation time of the oldest batch not yet folded into day summaries (Unix ms), if any.
    pub oldest_unfolded_ms: Option<u64>,
    /// Members erased by batches appended after this view was loaded (a conflict shows them): every later
    /// commit through it leaves them out, so a run that started before an erasure cannot bring the member
    /// back in its later batches. (Erasures already in the log when the view was loaded are not here: the
    /// settings read after the view opt the member out, unless they opted in again since.)
    pub erased: BTreeSet<UserId>,
}

impl SyncView {
    fn apply(&mut self, batch: &Batch) {
        self.erased.extend(batch.erasures.iter().copied());
        self.cursors.fold(batch);
        self.reactions.fold(batch);
        self.seq = self.seq.max(batch.seq);
        self.oldest_unfolded_ms.get_or_insert(batch.created_at_ms);
    }
}

/// The fold watermarks of a guild: every batch up to them is in the summaries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FoldState {
    /// Day summaries and cursor items are folded through this batch.
    pub(crate) days_through: u64,
    /// The all-time summary is folded through this batch.
    pub(crate) all_time_through: u64,
    /// The first day from which every stored day summary has a directory entry (`None`: none is
    /// promised yet, the store wrote day summaries before it kept a directory).
    pub(crate) directory_from: Option<Day>,
    /// Whether the day activity and first-seen days hold every day folded (built from the day summaries
    /// for a guild folded before the store kept them).
    pub(crate) activity_built: bool,
    /// When the first compaction of this version saw a guild folded before (see
    /// `CounterStore::prepare_activity`).
    pub(crate) activity_seen_ms: Option<u64>,
}

impl CounterStore {
    /// Loads what a sync run of `guild` needs, with the reaction state of messages from `window_start` on.
    ///
    /// # Errors
    /// DynamoDB errors, with context.
    pub async fn load_sync_view(
        &self,
        guild: GuildId,
        window_start: MessageId,
    ) -> Result<SyncView, StoreError> {
        let fold = self.fold_state(guild).await?;
        let mut cursors = self.read_cursor_items(guild).await?;
        cursors.through = fold.days_through;
        // Batches newer than the fold (for cursors), and back to the start of the reaction window.
        let batches = if window_start == NO_REACTION_WINDOW {
            self.read_batches_after(guild, fold.days_through).await?
        } else {
            self.read_log_back_to(guild, fold.days_through, snowflake::timestamp_ms(window_start.0))
                .await?
        };
        let mut view = SyncView {
            guild,
            seq: fold.days_through.max(fold.all_time_through),
            cursors,
            reactions: ReactionLedger::default(),
            oldest_unfolded_ms: None,
            erased: BTreeSet::new(),
        };
        for batch in &batches {
            view.reactions.fold(batch);
            view.seq = view.seq.max(batch.seq);
            if batch.seq > fold.days_through {
                view.cursors.fold(batch);
                view.oldest_unfolded_ms.get_or_insert(batch.created_at_ms);
            }
        }
        view.reactions.forget_before(window_start);
        Ok(view)
    }

    /// The log's batches, newest first while reading, back past `folded` and past `window_ms`; returned in
    /// order. Pages are kept small so that the read stops close to where it is no longer needed (a Query
    /// is billed for every item it returns).
    async fn read_log_back_to(
        &self,
        guild: GuildId,
        folded: u64,
        window_ms: u64,
    ) -> Result<Vec<Batch>, StoreError> {
        let mut batches = Vec::new();
        let mut start_key: Option<Item> = None;
        'pages: loop {
            let (items, next) = self
                .query_page(
                    "pk = :pk",
                    &[(":pk", s(log_pk(guild)))],
                    true,
                    Page {
                        limit: Some(LOG_PAGE_ITEMS),
                        start_key: start_key.take(),
                        newest_first: true,
                    },
                    &format!("reading the batch log of guild {guild}"),
                )
                .await?;
            for item in &items {
                let batch = decode_batch(item)?;
                if batch.seq <= folded && batch.created_at_ms < window_ms {
                    break 'pages;
                }
                batches.push(batch);
            }
            match next {
                Some(k) => start_key = Some(k),
                None => break,
            }
        }
        batches.reverse();
        Ok(batches)
    }

    /// Appends a batch to the guild's log as the next batch after `view.seq`, exactly once, and keeps the
    /// view current. Returns the batch's sequence number.
    ///
    /// If another writer appended first, the batches it wrote are examined: erasures alone are merged (this
    /// batch is retried without the erased members); anything else means this view is stale and the commit
    /// fails with [`StoreErrorKind::Conflict`] — nothing was written, so the caller can reload and redo.
    ///
    /// # Errors
    /// [`StoreErrorKind::Conflict`] as above; [`StoreErrorKind::CompactionBehind`] when batches have waited
    /// too long to be folded; DynamoDB errors.
    pub async fn commit(&self, view: &mut SyncView, mut batch: Batch) -> Result<u64, StoreError> {
        if batch.is_empty() {
            return Ok(view.seq);
        }
        if let Some(oldest) = view.oldest_unfolded_ms
            && batch.created_at_ms.saturating_sub(oldest) > MAX_UNFOLDED_AGE_MS
        {
            return Err(StoreError::new(
                StoreErrorKind::CompactionBehind,
                format!(
                    "guild {}: batches have not been folded for over 7 days; run compaction first",
                    view.guild
                ),
            ));
        }
        drop_erased(&mut batch, &view.erased);
        for _ in 0..COMMIT_ATTEMPTS {
            batch.seq = view.seq + 1;
            match self.put_batch(view.guild, &batch).await {
                Ok(()) => {
                    view.apply(&batch);
                    return Ok(batch.seq);
                }
                Err(e) if e.kind() == StoreErrorKind::Conflict => {
                    let newer = self.read_batches_after(view.guild, view.seq).await?;
                    if newer.first() == Some(&batch) {
                        // Our own write went through and its acknowledgement was lost.
                        view.apply(&batch);
                        return Ok(batch.seq);
                    }
                    if newer.iter().any(|b| {
                        !b.cursors.is_empty() || !b.counters.is_empty() || !b.reactions.is_empty()
                    }) {
                        return Err(StoreError::new(
                            StoreErrorKind::Conflict,
                            format!(
                                "guild {}: another sync appended batch {} first; this run's view is stale",
                                view.guild,
                                view.seq + 1
                            ),
                        ));
                    }
                    for other in &newer {
                        view.apply(other);
                    }
                    drop_erased(&mut batch, &view.erased);
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::new(
            StoreErrorKind::Conflict,
            format!("guild {}: the log kept moving; try again", view.guild),
        ))
    }

    async fn put_batch(&self, guild: GuildId, batch: &Batch) -> Result<(), StoreError> {
        let data = batch.encode()?;
        if data.len() > MAX_BATCH_BYTES {
            return Err(StoreError::new(
                StoreErrorKind::Configuration,
                format!(
                    "batch of {} bytes is over the {MAX_BATCH_BYTES}-byte limit: commit smaller batches",
                    data.len()
                ),
            ));
        }
        self.put_item(
            batch_item(guild, batch, data),
            Some("attribute_not_exists(pk)"),
            &format!("appending batch {} to the log of guild {guild}", batch.seq),
        )
        .await
    }

    /// Every batch after `seq`, in order, read eventually consistently (half the read units) when that
    /// returns an unbroken run from `seq + 1`: batches are numbered without gaps and written once, so such
    /// a run is the log as it was a moment ago (at worst without the newest batches). A gap means a
    /// replica is behind in one part of the partition: the log is read again strongly.
    pub(crate) async fn read_batches_after_eventually(
        &self,
        guild: GuildId,
        seq: u64,
    ) -> Result<Vec<Batch>, StoreError> {
        let batches = self.read_batches(guild, seq, false).await?;
        if unbroken_after(seq, &batches) {
            Ok(batches)
        } else {
            self.read_batches_after(guild, seq).await
        }
    }

    /// Every batch after `seq`, in order (strongly consistent).
    pub(crate) async fn read_batches_after(
        &self,
        guild: GuildId,
        seq: u64,
    ) -> Result<Vec<Batch>, StoreError> {
        self.read_batches(guild, seq, true).await
    }

    async fn read_batches(
        &self,
        guild: GuildId,
        seq: u64,
        consistent: bool,
    ) -> Result<Vec<Batch>, StoreError> {
        let items = self
            .query_all(
                "pk = :pk AND sk > :after",
                vec![(":pk", s(log_pk(guild))), (":after", s(log_sk(seq)))],
                consistent,
                &format!("reading the batch log of guild {guild}"),
            )
            .await?;
        items.iter().map(decode_batch).collect()
    }

    /// Removes `erased` from one stored batch (`item`, as read), in place: the sequence number and
    /// everything else stay. The rewrite is conditioned on the batch not having been rewritten since it
    /// was read (its `rewrites` count), so two erasures at once cannot put back each other's member: the
    /// loser reads the batch again and removes its member from that. A batch that expired meanwhile is
    /// done.
    async fn erase_from_batch(
        &self,
        guild: GuildId,
        mut item: Item,
        erased: &BTreeSet<UserId>,
    ) -> Result<(), StoreError> {
        for _ in 0..REWRITE_ATTEMPTS {
            let mut batch = decode_batch(&item)?;
            if !drop_erased(&mut batch, erased) {
                return Ok(());
            }
            let doing = format!("rewriting batch {} of guild {guild}", batch.seq);
            let rewrites = items::get_u64_or(&item, REWRITES, 0)?;
            let mut rewritten = batch_item(guild, &batch, batch.encode()?);
            rewritten.insert(REWRITES.to_owned(), n(rewrites + 1));
            let result = if rewrites == 0 {
                let condition = "attribute_exists(pk) AND attribute_not_exists(rewrites)";
                self.put_item(rewritten, Some(condition), &doing).await
            } else {
                let condition = "rewrites = :seen";
                self.put_item_where(
                    rewritten,
                    Some(condition),
                    &[],
                    vec![(":seen", n(rewrites))],
                    &doing,
                )
                .await
            };
            match result {
                Err(e) if e.kind() == StoreErrorKind::Conflict => {
                    match self.get_item(log_pk(guild), log_sk(batch.seq), true, &doing).await? {
                        Some(fresh) => item = fresh,
                        None => return Ok(()),
                    }
                }
                other => return other,
            }
        }
        Err(StoreError::new(
            StoreErrorKind::Conflict,
            format!("guild {guild}: a batch kept being rewritten by other erasures; try again"),
        ))
    }

    /// Writes one item, optionally under a condition, through the usage meter and the crash hooks. A
    /// failed condition is a [`StoreErrorKind::Conflict`].
    pub(crate) async fn put_item(
        &self,
        item: Item,
        condition: Option<&str>,
        doing: &str,
    ) -> Result<(), StoreError> {
        self.put_item_where(item, condition, &[], Vec::new(), doing).await
    }

    /// Deletes one item (absent or not), through the usage meter and the crash hooks.
    pub(crate) async fn delete_item(&self, key: Item, doing: &str) -> Result<(), StoreError> {
        self.delete_item_where(key, None, &[], Vec::new(), 64, doing).await
    }

    /// [`delete_item`](Self::delete_item) under a condition with names (`#name`) and values (`:name`)
    /// of an item billed as `bytes`; a failed condition is a [`StoreErrorKind::Conflict`].
    pub(crate) async fn delete_item_where(
        &self,
        key: Item,
        condition: Option<&str>,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
        bytes: usize,
        doing: &str,
    ) -> Result<(), StoreError> {
        self.usage.write_request();
        self.faults.before_write(doing)?;
        self.usage.request();
        let mut delete = self
            .client()
            .await
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key))
            .set_condition_expression(condition.map(str::to_owned));
        for (alias, name) in names {
            delete = delete.expression_attribute_names(*alias, *name);
        }
        for (name, value) in values {
            delete = delete.expression_attribute_values(name, value);
        }
        delete.send().await.map_err(|e| StoreError::dynamo(doing, self.table(), e))?;
        self.usage.write(bytes);
        self.faults.after_write(doing)
    }

    /// [`put_item`](Self::put_item) unless the stored item is as new or newer by `attribute` (a
    /// cursor's `through`, the last batch folded into it; a directory entry's or note's `gen`): the
    /// condition `attribute_not_exists(pk) OR #a < :a`. Returns whether it was written; an older
    /// writer arriving late (a slow compaction racing another) is skipped instead of moving the item
    /// back.
    pub(crate) async fn put_item_if_newer(
        &self,
        item: Item,
        (attribute, value): (&str, u64),
        doing: &str,
    ) -> Result<bool, StoreError> {
        let condition = "attribute_not_exists(pk) OR #a < :a";
        match self
            .put_item_where(
                item,
                Some(condition),
                &[("#a", attribute)],
                vec![(":a", n(value))],
                doing,
            )
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == StoreErrorKind::Conflict => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// [`put_item`](Self::put_item) with names (`#name`) and values (`:name`) for the condition. Every
    /// write of an item goes through here.
    pub(crate) async fn put_item_where(
        &self,
        item: Item,
        condition: Option<&str>,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
        doing: &str,
    ) -> Result<(), StoreError> {
        let size = crate::usage::item_size(&item);
        self.usage.write_request();
        self.faults.before_write(doing)?;
        self.usage.request();
        let mut put = self
            .client()
            .await
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned));
        for (alias, name) in names {
            put = put.expression_attribute_names(*alias, *name);
        }
        for (name, value) in values {
            put = put.expression_attribute_values(name, value);
        }
        put.send().await.map_err(|e| StoreError::dynamo(doing, self.table(), e))?;
        self.usage.write(size);
        self.faults.after_write(doing)
    }

    /// Removes `erased` from every batch before `before` still in the log, a page (1 MB) at a time:
    /// the log of a busy guild holds weeks of batches, never all in memory at once.
    pub(crate) async fn erase_from_log(
        &self,
        guild: GuildId,
        erased: &BTreeSet<UserId>,
        before: u64,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<(), StoreError> {
        let doing = format!("erasing members from the batch log of guild {guild}");
        let values = [(":pk", s(log_pk(guild))), (":before", s(log_sk(before)))];
        let mut start_key = None;
        loop {
            // A few batches (≤ 350 kB each) per page: memory stays flat however long the log.
            let (items, next) = self
                .query_page(
                    "pk = :pk AND sk < :before",
                    &values,
                    true,
                    Page { limit: Some(LOG_PAGE_ITEMS), ..Page::after(start_key.take()) },
                    &doing,
                )
                .await?;
            for item in items {
                StoreError::check_deadline(deadline, &doing)?;
                self.erase_from_batch(guild, item, erased).await?;
            }
            match next {
                Some(key) => start_key = Some(key),
                None => return Ok(()),
            }
        }
    }

    /// Runs a Query to the end and returns every item.
    pub(crate) async fn query_all(
        &self,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
        consistent: bool,
        doing: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        self.query_pages(condition, values, consistent, doing, |page| {
            out.extend(page);
            Ok(ControlFlow::Continue(()))
        })
        .await?;
        Ok(out)
    }

    /// Runs a Query page by page (1 MB each at most), handing each page's items to `each_page` until the
    /// last page or until it breaks. Only one page is held at a time.
    pub(crate) async fn query_pages(
        &self,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
        consistent: bool,
        doing: &str,
        mut each_page: impl FnMut(Vec<Item>) -> Result<ControlFlow<()>, StoreError> + Send,
    ) -> Result<(), StoreError> {
        let mut start_key: Option<Item> = None;
        loop {
            let (items, next) = self
                .query_page(condition, &values, consistent, Page::after(start_key.take()), doing)
                .await?;
            if each_page(items)?.is_break() {
                return Ok(());
            }
            match next {
                Some(k) => start_key = Some(k),
                None => return Ok(()),
            }
        }
    }

    /// One page of a Query (1 MB at most; see [`Page`]), and the key to continue from, if any.
    pub(crate) async fn query_page(
        &self,
        condition: &str,
        values: &[(&str, AttributeValue)],
        consistent: bool,
        page: Page,
        doing: &str,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let mut query = self
            .client()
            .await
            .query()
            .table_name(self.table())
            .key_condition_expression(condition)
            .consistent_read(consistent)
            .set_limit(page.limit)
            .scan_index_forward(!page.newest_first)
            .set_exclusive_start_key(page.start_key);
        for (name, value) in values {
            query = query.expression_attribute_values(*name, value.clone());
        }
        self.usage.request();
        let page = query.send().await.map_err(|e| StoreError::dynamo(doing, self.table(), e))?;
        self.usage.read(page.items().iter().map(crate::usage::item_size).sum(), consistent);
        let next = page.last_evaluated_key().cloned();
        Ok((page.items.unwrap_or_default(), next))
    }

    /// The guild's fold watermarks (zero when nothing was folded yet).
    pub(crate) async fn fold_state(&self, guild: GuildId) -> Result<FoldState, StoreError> {
        let item = self
            .get_item(
                items::guild_pk(guild),
                items::FOLD_SK.to_owned(),
                true,
                &format!("reading the fold state of guild {guild}"),
            )
            .await?;
        match item {
            None => Ok(FoldState::default()),
            Some(item) => Ok(FoldState {
                days_through: items::get_u64_or(&item, "days_through", 0)?,
                all_time_through: items::get_u64_or(&item, "all_time_through", 0)?,
                activity_built: items::get_u64_or(&item, ACTIVITY_BUILT, 0)? > 0,
                activity_seen_ms: match item.get(crate::activity::ACTIVITY_SEEN_MS) {
                    None => None,
                    Some(_) => Some(items::get_u64(&item, crate::activity::ACTIVITY_SEEN_MS)?),
                },
                directory_from: match item.get(DIRECTORY_FROM) {
                    None => None,
                    Some(_) => {
                        Some(items::get_s(&item, DIRECTORY_FROM)?.parse().map_err(|_| {
                            StoreError::new(
                                StoreErrorKind::Corrupt,
                                format!(
                                    "fold state of guild {guild}: `{DIRECTORY_FROM}` is not a day"
                                ),
                            )
                        })?)
                    }
                },
            }),
        }
    }

    /// Reads one item.
    pub(crate) async fn get_item(
        &self,
        pk: String,
        sk: String,
        consistent: bool,
        doing: &str,
    ) -> Result<Option<Item>, StoreError> {
        self.usage.request();
        let out = self
            .client()
            .await
            .get_item()
            .table_name(self.table())
            .set_key(Some(items::key(pk, sk)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| StoreError::dynamo(doing, self.table(), e))?;
        self.usage.read(out.item().map_or(0, crate::usage::item_size), consistent);
        Ok(out.item)
    }

    /// Reads items by key, 100 per request (`BatchGetItem`), in no particular order; keys without an
    /// item are left out. Billed per item, each rounded up to 4 KiB.
    pub(crate) async fn batch_get_items(
        &self,
        keys: Vec<Item>,
        consistent: bool,
        doing: &str,
    ) -> Result<Vec<Item>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(consistent)
                .build()
                .map_err(|e| {
                    StoreError::with_source(StoreErrorKind::Dynamo, "building a read request", e)
                })?;
            let mut pending = HashMap::from([(self.table().to_owned(), request)]);
            for attempt in 0u32.. {
                self.usage.request();
                let answer = self
                    .client()
                    .await
                    .batch_get_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .map_err(|e| StoreError::dynamo(doing, self.table(), e))?;
                for item in answer.responses.unwrap_or_default().into_values().flatten() {
                    self.usage.read(crate::usage::item_size(&item), consistent);
                    out.push(item);
                }
                pending = answer.unprocessed_keys.unwrap_or_default();
                if pending.values().all(|k| k.keys().is_empty()) {
                    break;
                }
                if attempt >= 10 {
                    return Err(StoreError::new(
                        StoreErrorKind::Unavailable,
                        format!("{doing}: DynamoDB kept keys unprocessed"),
                    ));
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt.min(6))).await;
            }
        }
        Ok(out)
    }
}

/// Which page of a Query to read: at most `limit` items (`None`: up to 1 MB), from `start_key`, in
/// sort key order or newest first.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub(crate) limit: Option<i32>,
    pub(crate) start_key: Option<Item>,
    pub(crate) newest_first: bool,
}

impl Page {
    /// The page after `start_key` (the first page for `None`), in sort key order.
    pub(crate) fn after(start_key: Option<Item>) -> Self {
        Self { start_key, ..Self::default() }
    }
}

/// Whether `batches` are `after + 1`, `after + 2`, … without a gap.
fn unbroken_after(after: u64, batches: &[Batch]) -> bool {
    batches.iter().zip(after.saturating_add(1)..).all(|(batch, seq)| batch.seq == seq)
}

/// Removes erased members' counters and reactions from a batch that was built before the erasure.
/// Returns whether anything was removed.
pub(crate) fn drop_erased(batch: &mut Batch, erased: &BTreeSet<UserId>) -> bool {
    if erased.is_empty() {
        return false;
    }
    let before = (batch.counters.len(), reaction_marks(batch));
    batch.counters.retain(|d| !erased.contains(&d.user));
    for state in &mut batch.reactions {
        if state.author.is_some_and(|a| erased.contains(&a)) {
            state.author = None;
        }
        for e in &mut state.emojis {
            e.reactors.retain(|r| !erased.contains(r));
        }
    }
    before != (batch.counters.len(), reaction_marks(batch))
}

/// How many authors and reactors a batch's reaction state names.
fn reaction_marks(batch: &Batch) -> usize {
    batch
        .reactions
        .iter()
        .map(|state| {
            usize::from(state.author.is_some())
                + state.emojis.iter().map(|e| e.reactors.len()).sum::<usize>()
        })
        .sum()
}

/// The log item of a batch.
fn batch_item(guild: GuildId, batch: &Batch, data: Vec<u8>) -> Item {
    HashMap::from([
        (PK.to_owned(), s(log_pk(guild))),
        (SK.to_owned(), s(log_sk(batch.seq))),
        ("data".to_owned(), b(data)),
        ("created_at".to_owned(), n(batch.created_at_ms)),
        (EXPIRES_AT.to_owned(), n(batch.created_at_ms / 1000 + BATCH_RETENTION_SECONDS)),
    ])
}

pub(crate) fn decode_batch(item: &Item) -> Result<Batch, StoreError> {
    let mut batch = Batch::decode(items::get_b(item, "data")?)?;
    let seq = items::get_s(item, SK)?.parse::<u64>().map_err(|_| {
        StoreError::new(
            StoreErrorKind::Corrupt,
            "batch log item has a sort key that is not a sequence number",
        )
    })?;
    if batch.seq != seq {
        return Err(StoreError::new(
            StoreErrorKind::Corrupt,
            format!("batch {seq} says it is batch {}", batch.seq),
        ));
    }
    batch.seq = seq;
    Ok(batch)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use engagement_domain::{BatchBuilder, ChannelId, Counts, Day};

    use super::*;

    /// Two erasures at once read the same batch; the slower one writes last, from what it read. It must
    /// not put back the member the faster one removed (nor its own, of course).
    #[tokio::test]
    async fn a_stale_rewrite_never_puts_an_erased_member_back() {
        let (client, table) =
            engagement_testkit::dynamo::client_and_table_name("erase-race").await.unwrap();
        let store = CounterStore::new(client, table);
        store.create_table().await.unwrap();
        let guild = GuildId(1);
        let mut view = store.load_sync_view(guild, MessageId(0)).await.unwrap();
        let mut b = BatchBuilder::new();
        let day = Day::from_ordinal(20_000);
        b.add(day, ChannelId(10), UserId(7), Counts::messages(1));
        b.add(day, ChannelId(10), UserId(8), Counts::messages(1));
        b.add(day, ChannelId(10), UserId(9), Counts::messages(1));
        let seq = store.commit(&mut view, b.build(1)).await.unwrap();
        let read = |store: CounterStore| async move {
            store.get_item(log_pk(guild), log_sk(seq), true, "test").await.unwrap().unwrap()
        };
        let stale = read(store.clone()).await;
        store.erase_from_batch(guild, stale.clone(), &BTreeSet::from([UserId(7)])).await.unwrap();
        store.erase_from_batch(guild, stale, &BTreeSet::from([UserId(8)])).await.unwrap();
        let users: Vec<UserId> =
            decode_batch(&read(store).await).unwrap().counters.iter().map(|c| c.user).collect();
        assert_eq!(users, vec![UserId(9)]);
    }

    #[test]
    fn only_a_run_from_the_next_sequence_number_is_unbroken() {
        let numbered = |seqs: &[u64]| -> Vec<Batch> {
            seqs.iter()
                .map(|&seq| {
                    let mut batch = BatchBuilder::new().build(0);
                    batch.seq = seq;
                    batch
                })
                .collect()
        };
        assert!(unbroken_after(4, &numbered(&[])));
        assert!(unbroken_after(4, &numbered(&[5, 6, 7])));
        // A replica that has not seen batch 5 yet, or 6 in the middle, is read again strongly.
        assert!(!unbroken_after(4, &numbered(&[6, 7])));
        assert!(!unbroken_after(4, &numbered(&[5, 7])));
        assert!(!unbroken_after(4, &numbered(&[4, 5])));
    }
}
