//! Day activity and first-seen days in the store (see `engagement_domain::activity`):
//! - one item per day (`G#{guild}#ACTIVE`, sort key the day): the day's messages per (channel, member),
//!   written from each day summary just before the summary (erasures included), so it is never behind
//!   what the summary holds;
//! - one item per shard of members (`G#{guild}#FIRST`, sort key the shard): their first days, folded
//!   from the batches with the day summaries, before the days watermark moves.
//!
//! Guilds counted before these existed get them built once from their day summaries, by a compaction of
//! this version 16 minutes after the first one (`activity_built` in the fold state says it is done). The
//! build is not resumable: it reads every day summary in one compaction (after that compaction's folds,
//! which it never holds back), and one that runs out of time starts over at the next.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use engagement_domain::activity::{FIRST_SEEN_SHARDS, first_seen_shard};
use engagement_domain::{
    Batch, ChannelId, Day, DayActivity, DayRange, FirstSeenShard, GuildId, Span, Summary, Tally,
    UserId,
};

use crate::error::{StoreError, StoreErrorKind};
use crate::items::{self, Item, b, n, s};
use crate::log::{ACTIVITY_BUILT, FoldState, Page};
use crate::{CounterStore, summaries};

/// The largest day activity kept in one item (DynamoDB's limit is 400 KB); a bigger day is marked
/// `whole`, and readers read its summary.
const ACTIVITY_ITEM_BYTES: usize = 350_000;
/// Attribute of an activity item that holds no data: read the day's summary.
const WHOLE: &str = "whole";

/// How long after this version first sees a guild folded by an earlier one its activity is built: longer
/// than a run of the earlier version can last (a Lambda function runs 15 minutes at most).
const BUILD_AFTER_MS: u64 = 16 * 60 * 1000;
/// Fold state attribute: when the first compaction of this version saw the guild (Unix ms).
pub(crate) const ACTIVITY_SEEN_MS: &str = "activity_seen_ms";

/// Days of summaries the build reads and writes at a time (a busy week decoded is some tens of MB).
const BUILD_DAYS: i32 = 7;

impl CounterStore {
    /// Writes the activity of a day summary about to be written (first: a fold that stops between the
    /// two leaves the activity ahead, never behind, and it says how far it is folded). Only over an older
    /// activity: a fold that got further first stands.
    pub(crate) async fn write_activity(
        &self,
        guild: GuildId,
        summary: &Summary,
    ) -> Result<(), StoreError> {
        let Span::Day(day) = summary.span else { return Ok(()) };
        let activity = DayActivity::of_day(day, summary.through, &summary.tally);
        let mut item = Item::from([
            (items::PK.to_owned(), s(items::activity_pk(guild))),
            (items::SK.to_owned(), s(day.to_string())),
            ("through".to_owned(), n(activity.through)),
        ]);
        let data = activity.encode()?;
        if data.len() <= ACTIVITY_ITEM_BYTES {
            item.insert("data".to_owned(), b(data));
        } else {
            // Too big for one item (over ~60,000 active members that day): readers read the day's
            // summary instead.
            item.insert(WHOLE.to_owned(), n(1));
        }
        let doing = format!("writing the activity of guild {guild}, {day}");
        self.put_item_if_newer(item, ("through", activity.through), &doing).await?;
        Ok(())
    }

    /// Folds the batches into the first-seen shards of the members they count messages for or erase;
    /// `through` is the days watermark the batches follow. A shard they do not change is not written:
    /// its first days stay right (folding is a minimum, and an erased member is forgotten), and readers
    /// add every batch after the watermark again, which changes nothing already in.
    pub(crate) async fn fold_first_seen(
        &self,
        guild: GuildId,
        through: u64,
        batches: &[&Batch],
    ) -> Result<(), StoreError> {
        let shards: BTreeSet<u16> = batches
            .iter()
            .flat_map(|b| {
                let counted = b.counters.iter().filter(|c| c.counts.messages > 0).map(|c| c.user);
                counted.chain(b.erasures.iter().copied())
            })
            .map(first_seen_shard)
            .collect();
        for shard in shards {
            let doing = format!("folding the first-seen days of guild {guild}, shard {shard}");
            let stored = match self
                .get_item(items::first_seen_pk(guild), shard_key(shard), true, &doing)
                .await?
            {
                Some(item) => FirstSeenShard::decode(items::get_b(&item, "data")?)?,
                None => FirstSeenShard::empty(shard, through),
            };
            let mut folded = stored.clone();
            for batch in batches {
                folded.fold(batch);
            }
            // A shard an erasure reaches is written even when the member was not in it yet: a fold
            // of earlier batches still running may be about to write them in, and a newer shard is
            // what makes that write fail.
            let erased = batches
                .iter()
                .flat_map(|b| b.erasures.iter())
                .any(|u| first_seen_shard(*u) == shard);
            if folded.first != stored.first || erased {
                self.put_first_seen(guild, &folded, &doing).await?;
            }
        }
        Ok(())
    }

    async fn put_first_seen(
        &self,
        guild: GuildId,
        shard: &FirstSeenShard,
        doing: &str,
    ) -> Result<(), StoreError> {
        let item = Item::from([
            (items::PK.to_owned(), s(items::first_seen_pk(guild))),
            (items::SK.to_owned(), s(shard_key(shard.shard))),
            ("data".to_owned(), b(shard.encode()?)),
            ("through".to_owned(), n(shard.through)),
        ]);
        self.put_item_if_newer(item, ("through", shard.through), doing).await?;
        Ok(())
    }

    /// Makes the activity and first-seen days of a guild whole, once: at once for a guild with nothing
    /// folded; for one folded by an earlier version, by building them from its day summaries — not at
    /// the first compaction of this version, which records when it saw the guild, but at the first one
    /// [`BUILD_AFTER_MS`] later, when no run of the earlier version (which folds days without them) can
    /// still be running. Until then readers say the history is being prepared.
    pub(crate) async fn prepare_activity(
        &self,
        guild: GuildId,
        fold: FoldState,
        now_ms: u64,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<(), StoreError> {
        if fold.days_through > 0 {
            match fold.activity_seen_ms {
                None => {
                    // Another compaction may have recorded it first: theirs stands.
                    return self
                        .set_fold_state(
                            guild,
                            (ACTIVITY_SEEN_MS, n(now_ms)),
                            "attribute_not_exists(#a)",
                            "recording when this version first saw the guild",
                        )
                        .await;
                }
                Some(seen) if now_ms < seen.saturating_add(BUILD_AFTER_MS) => return Ok(()),
                Some(_) => self.build_activity(guild, fold, deadline).await?,
            }
        }
        self.set_fold_state(
            guild,
            (ACTIVITY_BUILT, n(1)),
            "attribute_not_exists(#a)",
            "recording that the activity is built",
        )
        .await
    }

    /// Builds the activity of every stored day and the first-seen days from the day summaries (once;
    /// idempotent, so a build that stops at its deadline or meets a concurrent fold is simply run
    /// again). Reads every day summary once, a week at a time.
    async fn build_activity(
        &self,
        guild: GuildId,
        fold: FoldState,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<(), StoreError> {
        let doing = format!("building the activity of guild {guild} from its day summaries");
        let Some((oldest, newest)) = self.stored_day_range(guild).await? else { return Ok(()) };
        let mut first: BTreeMap<(UserId, ChannelId), Day> = BTreeMap::new();
        let mut from = oldest;
        while from <= newest {
            let range = DayRange { first: from, last: from.plus(BUILD_DAYS - 1).min(newest) };
            let mut days = Vec::new();
            self.scan_day_summaries(guild, range, fold.days_through, true, |_, stored| {
                days.push(stored.summary);
                ControlFlow::Continue(())
            })
            .await?;
            for summary in days {
                StoreError::check_deadline(deadline, &doing)?;
                if let Span::Day(day) = summary.span {
                    for (&(channel, user), counts) in &summary.tally.counters {
                        if counts.messages > 0 {
                            first.entry((user, channel)).or_insert(day);
                        }
                    }
                }
                self.write_activity(guild, &summary).await?;
            }
            from = range.last.next();
        }
        // Merged into what folds of this version wrote meanwhile: every shard read first, then the
        // erasures appended since the summaries were folded (an erasure is appended before its fold
        // writes its member's shard, so a member erased after a summary was scanned is either among
        // them or erased after the shard was read: then the conditional put fails, or the erasure's
        // fold comes after it and removes them).
        let mut shards: BTreeMap<u16, (FirstSeenShard, Option<u64>)> = (0..FIRST_SEEN_SHARDS)
            .map(|shard| (shard, (FirstSeenShard::empty(shard, fold.days_through), None)))
            .collect();
        let stored = self
            .query_all("pk = :pk", vec![(":pk", s(items::first_seen_pk(guild)))], true, &doing)
            .await?;
        for item in &stored {
            let stored = FirstSeenShard::decode(items::get_b(item, "data")?)?;
            if let Some((built, read)) = shards.get_mut(&stored.shard) {
                built.through = built.through.max(stored.through);
                *read = Some(stored.through);
                built.first = stored.first;
            }
        }
        let erased: BTreeSet<UserId> = self
            .read_batches_after(guild, fold.days_through)
            .await?
            .iter()
            .flat_map(|b| b.erasures.iter().copied())
            .collect();
        for ((user, channel), day) in first {
            if erased.contains(&user) {
                continue;
            }
            if let Some((built, _)) = shards.get_mut(&first_seen_shard(user)) {
                let first = built.first.entry((user, channel)).or_insert(day);
                *first = (*first).min(day);
            }
        }
        for (built, read) in shards.into_values() {
            if !built.first.is_empty() {
                self.put_merged_first_seen(guild, &built, read, &doing).await?;
            }
        }
        Ok(())
    }

    /// Writes a built shard over the one read (`read`: its `through`; `None`: there was none),
    /// conditioned on it not having changed meanwhile (else `Conflict`: the build runs again).
    async fn put_merged_first_seen(
        &self,
        guild: GuildId,
        built: &FirstSeenShard,
        read: Option<u64>,
        doing: &str,
    ) -> Result<(), StoreError> {
        let item = Item::from([
            (items::PK.to_owned(), s(items::first_seen_pk(guild))),
            (items::SK.to_owned(), s(shard_key(built.shard))),
            ("data".to_owned(), b(built.encode()?)),
            ("through".to_owned(), n(built.through)),
        ]);
        match read {
            Some(through) => {
                let values = vec![(":a", n(through))];
                self.put_item_where(item, Some("#a = :a"), &[("#a", "through")], values, doing)
                    .await
            }
            None => {
                self.put_item_where(item, Some("attribute_not_exists(pk)"), &[], Vec::new(), doing)
                    .await
            }
        }
    }

    /// The oldest and newest day with a stored summary.
    async fn stored_day_range(&self, guild: GuildId) -> Result<Option<(Day, Day)>, StoreError> {
        let mut ends = Vec::new();
        for newest_first in [false, true] {
            let (found, _) = self
                .query_page(
                    "pk = :pk",
                    &[(":pk", s(items::day_pk(guild)))],
                    true,
                    Page { limit: Some(1), newest_first, ..Page::default() },
                    &format!("finding the stored days of guild {guild}"),
                )
                .await?;
            match found.first() {
                Some(item) => ends.push(summaries::day_of_item(item)?),
                None => return Ok(None),
            }
        }
        Ok(ends.first().copied().zip(ends.last().copied()))
    }

    /// Hands each day of `range` with messages to `each`, in day order: messages per (counting channel,
    /// member), categories as of the day. Each day's item is read strongly (a Query over the range, a
    /// page at a time), plus the batches after it that are not folded yet (read eventually
    /// consistently, checked for gaps). Exact like the day reads.
    ///
    /// For a guild counted before the activity existed, until a compaction builds it, the same
    /// messages come from the day summaries (several times the read units, the same figures).
    ///
    /// # Errors
    /// DynamoDB errors, with context.
    pub async fn scan_activity(
        &self,
        guild: GuildId,
        range: DayRange,
        mut each: impl FnMut(Day, Tally) -> ControlFlow<()> + Send,
    ) -> Result<(), StoreError> {
        let doing = format!("reading the activity {range} of guild {guild}");
        let fold = self.fold_state(guild).await?;
        if !fold.activity_built && fold.days_through > 0 {
            return self
                .scan_days(guild, range, |day, tally| each(day, tally.messages_only()))
                .await;
        }
        let batches = self.read_batches_after_eventually(guild, fold.days_through).await?;
        // Days only the waiting batches hold, handed over in order between the stored ones.
        let mut unstored: BTreeSet<Day> = batches
            .iter()
            .flat_map(|b| b.counters.iter().map(|c| c.day))
            .filter(|d| range.contains(*d))
            .collect();
        let hand = |activity: &mut DayActivity,
                    each: &mut dyn FnMut(Day, Tally) -> ControlFlow<()>| {
            for batch in &batches {
                activity.fold(batch);
            }
            if activity.tally.is_empty() {
                ControlFlow::Continue(())
            } else {
                each(activity.day, std::mem::take(&mut activity.tally))
            }
        };
        let values = [
            (":pk", s(items::activity_pk(guild))),
            (":first", s(range.first.to_string())),
            (":last", s(range.last.to_string())),
        ];
        let mut start_key = None;
        loop {
            let (page, next) = self
                .query_page(
                    "pk = :pk AND sk BETWEEN :first AND :last",
                    &values,
                    true,
                    Page::after(start_key.take()),
                    &doing,
                )
                .await?;
            for item in page {
                let day: Day = items::get_s(&item, items::SK)?.parse().map_err(|_| {
                    StoreError::new(StoreErrorKind::Corrupt, format!("{doing}: a key is not a day"))
                })?;
                let before: Vec<Day> = unstored.range(..=day).copied().collect();
                for earlier in before {
                    unstored.remove(&earlier);
                    if earlier < day {
                        let mut empty =
                            DayActivity::of_day(earlier, fold.days_through, &Tally::new());
                        if hand(&mut empty, &mut each).is_break() {
                            return Ok(());
                        }
                    }
                }
                let flow = if item.contains_key(WHOLE) {
                    // Too big for one item: the day's summary, messages only (with its own batches).
                    let mut flow = ControlFlow::Continue(());
                    self.scan_days(guild, DayRange::single(day), |day, tally| {
                        flow = each(day, DayActivity::of_day(day, 0, &tally).tally);
                        flow
                    })
                    .await?;
                    flow
                } else {
                    hand(&mut DayActivity::decode(items::get_b(&item, "data")?)?, &mut each)
                };
                if flow.is_break() {
                    return Ok(());
                }
            }
            match next {
                Some(key) => start_key = Some(key),
                None => break,
            }
        }
        for day in unstored {
            if hand(&mut DayActivity::of_day(day, fold.days_through, &Tally::new()), &mut each)
                .is_break()
            {
                break;
            }
        }
        Ok(())
    }

    /// The first day of every (member, counting channel) ever counted: every shard, read strongly, plus
    /// the batches not folded yet.
    ///
    /// # Errors
    /// As [`scan_activity`](Self::scan_activity).
    pub async fn load_first_seen(
        &self,
        guild: GuildId,
    ) -> Result<BTreeMap<(UserId, ChannelId), Day>, StoreError> {
        let doing = format!("reading the first-seen days of guild {guild}");
        let fold = self.built_fold_state(guild, &doing).await?;
        let batches = self.read_batches_after_eventually(guild, fold.days_through).await?;
        let stored = self
            .query_all("pk = :pk", vec![(":pk", s(items::first_seen_pk(guild)))], true, &doing)
            .await?;
        let mut shards: BTreeMap<u16, FirstSeenShard> = (0..FIRST_SEEN_SHARDS)
            .map(|shard| (shard, FirstSeenShard::empty(shard, fold.days_through)))
            .collect();
        for item in &stored {
            let shard = FirstSeenShard::decode(items::get_b(item, "data")?)?;
            shards.insert(shard.shard, shard);
        }
        let mut out = BTreeMap::new();
        for mut shard in shards.into_values() {
            for batch in &batches {
                shard.fold(batch);
            }
            out.append(&mut shard.first);
        }
        Ok(out)
    }

    async fn built_fold_state(&self, guild: GuildId, doing: &str) -> Result<FoldState, StoreError> {
        let fold = self.fold_state(guild).await?;
        if !fold.activity_built && fold.days_through > 0 {
            return Err(StoreError::new(
                StoreErrorKind::CompactionBehind,
                format!(
                    "{doing}: this server's history is still being prepared for insights; the next \
                     sync run finishes it"
                ),
            ));
        }
        Ok(fold)
    }
}

fn shard_key(shard: u16) -> String {
    format!("{shard:03}")
}
