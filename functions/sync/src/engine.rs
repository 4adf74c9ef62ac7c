//! One guild's sync: list channels and threads, read what is new, count it, commit it exactly once.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use engagement_discord::model::{Channel, Message, ReactionEmoji, ReactionKind};
use engagement_discord::{DiscordClient, ErrorKind, Id, MessagePosition};
use engagement_domain::batch::EmojiReactions;
use engagement_domain::counting::{emoji_state, emojis_to_refresh, reaction_deltas};
use engagement_domain::{
    BatchBuilder, ChannelCursor, ChannelId, Counts, GuildConfig, GuildId, MessageFacts, MessageId,
    MessageReactions, ReactionCount, UserId, snowflake,
};
use engagement_store::{CounterStore, StoreError, StoreErrorKind, SyncView};
use futures::StreamExt as _;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::SyncError;
use crate::report::RunCounters;
use crate::settings::SyncSettings;

/// Discord's largest message page.
const PAGE: u8 = 100;

/// An unreadable channel is asked again when its newest message is at least this much newer than the
/// newest one when it was last asked (so about once an hour while it is busy, never while it is idle).
const UNREADABLE_RETRY_MS: u64 = 3_600_000;

/// Whether to ask an unreadable channel (cursor at `after`, the newest message when it was last asked)
/// again now that its newest message is `last`: at once when its permissions changed, else only when
/// `last` is an hour newer.
fn retry_unreadable(after: MessageId, last: MessageId, permissions_changed: bool) -> bool {
    permissions_changed
        || snowflake::timestamp_ms(last.0).saturating_sub(snowflake::timestamp_ms(after.0))
            >= UNREADABLE_RETRY_MS
}

/// What a run is doing in a guild.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// New messages and reaction changes.
    Forward,
    /// Older history, down to this message id.
    Backfill { since: MessageId },
}

/// One channel or thread to read.
#[derive(Clone, Debug)]
struct ChannelTask {
    /// The polled channel or thread.
    source: ChannelId,
    /// The counting channel (a thread's parent).
    channel: ChannelId,
    /// The counting channel's category.
    category: Option<ChannelId>,
    cursor: ChannelCursor,
    /// Reaction reconciliation covers counted messages up to here (the cursor when the run started).
    reconcile_until: MessageId,
    /// The channel's newest message when the run listed it.
    last: Option<MessageId>,
    /// Whether the cursor is new (first sight): it must be committed even if nothing is counted.
    new_cursor: bool,
    forward: bool,
    reconcile: bool,
    backfill: Option<MessageId>,
}

enum Turn {
    Done,
    More(ChannelTask),
}

/// The state a guild run shares between its concurrent channel readers.
struct Pending {
    view: SyncView,
    builder: BatchBuilder,
}

pub(crate) struct GuildRun<'a> {
    pub(crate) store: &'a CounterStore,
    pub(crate) discord: &'a DiscordClient,
    pub(crate) settings: &'a SyncSettings,
    pub(crate) counters: &'a RunCounters,
    pub(crate) guild: GuildId,
    pub(crate) now: DateTime<Utc>,
    pub(crate) deadline: Instant,
    pub(crate) mode: Mode,
}

/// How a guild run ended.
pub(crate) struct GuildOutcome {
    pub(crate) out_of_time: bool,
}

impl GuildRun<'_> {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.now.timestamp_millis()).unwrap_or(0)
    }

    fn time_left(&self) -> bool {
        Instant::now() + self.settings.margin < self.deadline
    }

    fn call(&self) {
        RunCounters::add(&self.counters.discord_calls, 1);
    }

    /// Runs the guild to completion or until the time budget runs out.
    pub(crate) async fn run(&self) -> Result<GuildOutcome, SyncError> {
        let now_ms = self.now_ms();
        self.compact(now_ms).await;
        let window_start = self.window_start();
        // Reactions are reconciled for all recent channels at once, about hourly: only those runs pay for
        // reading the reaction state of the window from the log.
        let mut view =
            self.store.load_sync_view(self.guild, engagement_store::NO_REACTION_WINDOW).await?;
        let reconcile_ms =
            u64::try_from(self.settings.reconcile_every.as_millis()).unwrap_or(u64::MAX);
        // The guild's reconciliation pass runs when the last one is older than the interval (a pass that
        // ran out of time resumes at the next interval).
        let last_pass =
            view.cursors.cursors.values().filter(|c| !c.unreadable).map(|c| c.reconciled_ms).max();
        let reconcile_due = self.mode == Mode::Forward
            && last_pass.is_some_and(|last| now_ms.saturating_sub(last) >= reconcile_ms)
            && view.cursors.cursors.values().any(|c| !c.unreadable && c.after > window_start);
        if reconcile_due {
            view = self.store.load_sync_view(self.guild, window_start).await?;
        }
        // The settings are read after the view: an erasure in the log is always preceded by its opt-out
        // in the settings, so this run cannot count a member erased before it started (one erased
        // during the run is dropped by the view at the next commit).
        let rules = self.store.guild_config(self.guild).await?.unwrap_or_else(|| GuildConfig {
            time_zone: self.settings.default_time_zone,
            ..GuildConfig::default()
        });
        let (work, deferred) = self.plan(&rules, &view, reconcile_due).await?;
        let pending = Mutex::new(Pending { view, builder: BatchBuilder::new() });
        let errors_before = self.counters.channel_errors.load(std::sync::atomic::Ordering::Relaxed);
        let out_of_time = self.work_through(work, &rules, &pending).await?;
        let mut pending = pending.into_inner();
        let errors =
            self.counters.channel_errors.load(std::sync::atomic::Ordering::Relaxed) - errors_before;
        if !out_of_time && errors == 0 {
            // Only now that every thread the listings found has its cursor: remember the listings.
            for cursor in deferred {
                let mut current = pending
                    .builder
                    .cursor(cursor.channel)
                    .or_else(|| pending.view.cursors.cursors.get(&cursor.channel))
                    .copied()
                    .unwrap_or(cursor);
                current.threads_listed_ms = cursor.threads_listed_ms;
                current.after = current.after.max(cursor.after);
                pending.builder.set_cursor(current);
            }
        }
        self.flush(&mut pending).await?;
        Ok(GuildOutcome { out_of_time })
    }

    /// Folds waiting batches, within the run's time. A fold that fails or runs out of time is reported
    /// and the guild is synced all the same: commits stay exact while the fold is behind (for up to
    /// `MAX_UNFOLDED_AGE_MS`), and the next run folds again from where this one stopped.
    async fn compact(&self, now_ms: u64) {
        // At most half the time left: a long erasure fold must leave the guild time to sync.
        let now = Instant::now();
        let usable = self.deadline.checked_sub(self.settings.margin).unwrap_or(now);
        let deadline = now + usable.saturating_duration_since(now) / 2;
        let policy = engagement_store::CompactionPolicy::default();
        match self.store.compact_until(self.guild, policy, now_ms, Some(deadline)).await {
            Ok(_) => {}
            Err(error) if error.kind() == StoreErrorKind::OutOfTime => {
                tracing::warn!(guild = self.guild.0, %error, "compaction continues next run");
                RunCounters::add(&self.counters.compactions_unfinished, 1);
            }
            Err(error) => {
                tracing::error!(
                    guild = self.guild.0,
                    %error,
                    "compaction failed; the guild is synced without it"
                );
                RunCounters::add(&self.counters.compaction_failures, 1);
            }
        }
    }

    /// Keeps the store's snapshot of who can view which channel current (reports read it): lists the
    /// guild's roles and writes the snapshot when it changed. Returns the channels whose permissions
    /// changed since the last snapshot (all of them when the roles did). A failed roles listing keeps the
    /// last snapshot (reports fail closed without one) and does not stop the sync.
    async fn record_access(
        &self,
        guild: Id<engagement_discord::marker::GuildMarker>,
        channels: &[Channel],
    ) -> Result<BTreeSet<ChannelId>, SyncError> {
        self.call();
        let roles = match self.discord.guild_roles(guild).await {
            Ok(roles) => roles,
            Err(error) if !error.is_fatal() => {
                tracing::warn!(guild = self.guild.0, %error, "roles not listed; visibility unchanged");
                return Ok(BTreeSet::new());
            }
            Err(error) => return Err(error.into()),
        };
        let access = crate::access::guild_access(self.guild, &roles, channels);
        let stored = self.store.guild_access(self.guild).await?;
        if stored.as_ref() == Some(&access) {
            return Ok(BTreeSet::new());
        }
        self.store.put_guild_access(self.guild, &access, self.now_ms()).await?;
        Ok(crate::access::changed_channels(stored.as_ref(), &access))
    }

    fn window_start(&self) -> MessageId {
        let start = self.now
            - chrono::Duration::from_std(self.settings.reconcile_window).unwrap_or_default();
        MessageId(snowflake::from_time(start))
    }

    fn first_sight_start(&self) -> MessageId {
        let start = self.now
            - chrono::Duration::from_std(self.settings.first_sight_lookback).unwrap_or_default();
        MessageId(snowflake::from_time(start))
    }

    /// Lists channels and threads and decides what to read, without reading any messages.
    /// Returns the work, and cursor marks to record once the work is done (archived-thread listings, a
    /// forum's newest post): recording them earlier could hide a thread whose work was cut short.
    async fn plan(
        &self,
        rules: &GuildConfig,
        view: &SyncView,
        reconcile_due: bool,
    ) -> Result<(Vec<ChannelTask>, Vec<ChannelCursor>), SyncError> {
        let guild = Id::new_checked(self.guild.0).ok_or(SyncError::InvalidId(self.guild.0))?;
        self.call();
        let channels = self.discord.guild_channels(guild).await?;
        let access_changed = self.record_access(guild, &channels).await?;
        self.call();
        let active = self.discord.active_threads(guild).await?;
        let by_id: BTreeMap<ChannelId, &Channel> =
            channels.iter().map(|c| (ChannelId(c.id.get()), c)).collect();
        let active_ids: BTreeSet<ChannelId> =
            active.iter().map(|t| ChannelId(t.id.get())).collect();
        let cursors = &view.cursors.cursors;
        let now_ms = self.now_ms();
        let sweep_ms =
            u64::try_from(self.settings.thread_sweep_every.as_millis()).unwrap_or(u64::MAX);

        let mut threads: Vec<Channel> = active.clone();
        let mut work = Vec::new();
        // Thread cursors whose "looked for among archived threads" mark changes.
        let mut marks: Vec<ChannelCursor> = Vec::new();
        // Parent cursors to update when the run completes.
        let mut deferred: Vec<ChannelCursor> = Vec::new();
        for channel in &channels {
            let id = ChannelId(channel.id.get());
            let category = channel.parent_id.map(|p| ChannelId(p.get()));
            let excluded =
                !rules.counts_channel(id) || category.is_some_and(|c| !rules.counts_channel(c));
            if excluded || !(channel.has_messages() || channel.has_threads()) {
                continue;
            }
            RunCounters::add(&self.counters.channels_checked, 1);
            let cursor = cursors.get(&id).copied();
            let last = channel.last_message_id.map(|m| MessageId(m.get()));
            // Each 403 counts toward Discord's invalid-request ban: a channel the bot could not read is
            // asked again about hourly, or at once when its permissions change.
            let wait = match (cursor, last) {
                (Some(c), Some(last)) if c.unreadable => {
                    !retry_unreadable(c.after, last, access_changed.contains(&id))
                }
                _ => false,
            };
            let advanced = !wait
                && match (cursor, last) {
                    (_, None) => false,
                    (None, Some(_)) => true,
                    (Some(c), Some(last)) => last > c.after,
                };
            let mut entry = self.work_for(id, id, category, None, cursor, last, reconcile_due);
            if wait {
                entry.forward = false;
            }
            let holds_messages = channel.has_messages();
            if !holds_messages {
                entry.forward = false;
                entry.reconcile = false;
            }
            // Archived threads: when the channel moved (a new thread makes a system message or, in a forum,
            // a new last_message_id), when a thread we follow left the active list, or once a day.
            let mut mark = entry.cursor;
            let mut marked = false;
            if channel.has_threads() {
                let listed = cursor.map_or(0, |c| c.threads_listed_ms);
                // A followed thread that left the active list and was not looked for since (for a thread,
                // `threads_listed_ms` marks "looked for among archived threads").
                let lost: Vec<ChannelCursor> = cursors
                    .values()
                    .filter(|c| {
                        c.parent == Some(id)
                            && !active_ids.contains(&c.channel)
                            && c.threads_listed_ms == 0
                    })
                    .copied()
                    .collect();
                let lost_thread = !lost.is_empty();
                let due = advanced
                    || lost_thread
                    || now_ms.saturating_sub(listed) >= sweep_ms
                    || self.backfilling();
                if due {
                    let since = match self.mode {
                        Mode::Backfill { since } => snowflake::created_at(since.0),
                        Mode::Forward if listed > 0 => {
                            DateTime::from_timestamp_millis(i64::try_from(listed).unwrap_or(0))
                                .unwrap_or(self.now)
                                - chrono::Duration::minutes(5)
                        }
                        Mode::Forward => snowflake::created_at(self.first_sight_start().0),
                    };
                    match self.archived_threads(channel, since).await {
                        Ok(found) => {
                            threads.extend(
                                found
                                    .into_iter()
                                    .filter(|t| !active_ids.contains(&ChannelId(t.id.get()))),
                            );
                            mark.threads_listed_ms = now_ms;
                            marked = true;
                            marks.extend(
                                lost.iter()
                                    .map(|c| ChannelCursor { threads_listed_ms: now_ms, ..*c }),
                            );
                        }
                        Err(SyncError::Discord(e))
                            if matches!(e.kind(), ErrorKind::NoAccess { .. }) =>
                        {
                            // Do not ask again before the next daily sweep: every 403 counts toward
                            // Discord's invalid-request ban.
                            RunCounters::add(&self.counters.channels_no_access, 1);
                            mark.threads_listed_ms = now_ms;
                            marked = true;
                        }
                        Err(e) => return Err(e),
                    }
                }
                if !holds_messages && advanced {
                    // A forum's last_message_id is its newest post: remember it to skip idle forums.
                    if let Some(last) = last {
                        mark.after = last;
                        marked = true;
                    }
                }
            }
            if marked {
                deferred.push(mark);
            }
            if entry.forward || entry.reconcile || entry.new_cursor || entry.backfill.is_some() {
                work.push(entry);
            } else if !marked {
                RunCounters::add(&self.counters.channels_skipped_idle, 1);
            }
        }
        let mut seen: BTreeSet<ChannelId> = BTreeSet::new();
        for thread in threads {
            let id = ChannelId(thread.id.get());
            // A private thread's audience is its members: counting it toward its channel would show
            // its activity to everyone who can view the channel. Not counted, like archived ones.
            if thread.kind == engagement_discord::model::ChannelType::PrivateThread {
                continue;
            }
            let Some(parent) = thread.parent_id.map(|p| ChannelId(p.get())) else { continue };
            if !seen.insert(id) || !rules.counts_channel(parent) || !by_id.contains_key(&parent) {
                continue;
            }
            RunCounters::add(&self.counters.channels_checked, 1);
            let category = by_id.get(&parent).and_then(|p| p.parent_id).map(|c| ChannelId(c.get()));
            let cursor = cursors.get(&id).copied();
            let last = thread.last_message_id.map(|m| MessageId(m.get()));
            let mut entry =
                self.work_for(id, parent, category, Some(parent), cursor, last, reconcile_due);
            let is_active = active_ids.contains(&id);
            let mark = if is_active { 0 } else { now_ms };
            if (entry.cursor.threads_listed_ms == 0) != (mark == 0) {
                entry.cursor.threads_listed_ms = mark;
                entry.new_cursor = true;
            }
            marks.retain(|c| c.channel != id);
            if entry.forward || entry.reconcile || entry.new_cursor || entry.backfill.is_some() {
                work.push(entry);
            } else {
                RunCounters::add(&self.counters.channels_skipped_idle, 1);
            }
        }
        // Followed threads that were looked for and not found (deleted, or private and archived).
        deferred.extend(marks);
        Ok((work, deferred))
    }

    fn backfilling(&self) -> bool {
        matches!(self.mode, Mode::Backfill { .. })
    }

    #[allow(clippy::too_many_arguments)]
    fn work_for(
        &self,
        source: ChannelId,
        channel: ChannelId,
        category: Option<ChannelId>,
        parent: Option<ChannelId>,
        cursor: Option<ChannelCursor>,
        last: Option<MessageId>,
        reconcile_due: bool,
    ) -> ChannelTask {
        let new_cursor = cursor.is_none();
        let cursor = cursor.unwrap_or_else(|| {
            ChannelCursor::starting_at(source, parent, self.first_sight_start())
        });
        let (forward, reconcile, backfill) = match self.mode {
            Mode::Forward => (
                last.is_some_and(|l| l > cursor.after),
                reconcile_due
                    && cursor.after > self.window_start()
                    && !new_cursor
                    && !cursor.unreadable,
                None,
            ),
            Mode::Backfill { since } => {
                (false, false, (cursor.before > since && last.is_some()).then_some(since))
            }
        };
        ChannelTask {
            source,
            channel,
            category,
            reconcile_until: cursor.after,
            last,
            cursor,
            new_cursor,
            forward,
            reconcile,
            backfill,
        }
    }

    async fn archived_threads(
        &self,
        channel: &Channel,
        since: DateTime<Utc>,
    ) -> Result<Vec<Channel>, SyncError> {
        self.call();
        Ok(self.discord.public_archived_threads(channel.id, Some(since)).await?)
    }

    /// Reads channels in rounds: each channel gets a few pages per turn, so a busy channel cannot starve
    /// the others. Returns whether the time budget ran out.
    async fn work_through(
        &self,
        mut queue: Vec<ChannelTask>,
        rules: &GuildConfig,
        pending: &Mutex<Pending>,
    ) -> Result<bool, SyncError> {
        let counted: BTreeSet<ChannelId> =
            queue.iter().filter(|w| w.forward || w.backfill.is_some()).map(|w| w.source).collect();
        RunCounters::add(
            &self.counters.channels_fetched,
            u64::try_from(counted.len()).unwrap_or(0),
        );
        while !queue.is_empty() {
            if !self.time_left() {
                return Ok(true);
            }
            let results: Vec<Result<Turn, SyncError>> = futures::stream::iter(queue.drain(..))
                .map(|work| self.turn(work, rules, pending))
                .buffer_unordered(self.settings.concurrency.max(1))
                .collect()
                .await;
            let mut next = Vec::new();
            for result in results {
                match result {
                    Ok(Turn::More(work)) => next.push(work),
                    Ok(Turn::Done) => {}
                    Err(e) => return Err(e),
                }
            }
            queue = next;
        }
        Ok(!self.time_left())
    }

    /// One turn of one channel. Channel-level failures (no access, Discord errors after retries) skip the
    /// channel for this run; token and budget failures stop the run.
    async fn turn(
        &self,
        work: ChannelTask,
        rules: &GuildConfig,
        pending: &Mutex<Pending>,
    ) -> Result<Turn, SyncError> {
        let (cursor, last) = (work.cursor, work.last);
        match self.turn_inner(work, rules, pending).await {
            Ok(turn) => Ok(turn),
            Err(SyncError::Discord(e)) => match e.kind() {
                ErrorKind::NoAccess { channel_id, status, .. } => {
                    tracing::info!(guild = %self.guild, channel = channel_id, status, "skipping a channel the bot cannot read");
                    RunCounters::add(&self.counters.channels_no_access, 1);
                    self.skip_unreadable(pending, cursor, last).await?;
                    Ok(Turn::Done)
                }
                ErrorKind::Unauthorized | ErrorKind::InvalidRequestBudgetExhausted { .. } => {
                    Err(SyncError::Discord(e))
                }
                _ => {
                    tracing::warn!(guild = %self.guild, error = %e, "skipping a channel for this run after an error");
                    RunCounters::add(&self.counters.channel_errors, 1);
                    Ok(Turn::Done)
                }
            },
            Err(e) => Err(e),
        }
    }

    async fn turn_inner(
        &self,
        mut work: ChannelTask,
        rules: &GuildConfig,
        pending: &Mutex<Pending>,
    ) -> Result<Turn, SyncError> {
        let channel_id =
            Id::new_checked(work.source.0).ok_or(SyncError::InvalidId(work.source.0))?;
        if work.new_cursor && !work.forward && work.backfill.is_none() && !work.reconcile {
            self.push(pending, BatchBuilder::new(), work.cursor).await?;
            return Ok(Turn::Done);
        }
        let mut pages = 0;
        // Message pages and reactor lists are different rate-limit buckets: while a page's reactors are
        // read, the next page is fetched (when this turn will use it).
        let mut prefetched: Option<Vec<Message>> = None;
        while work.forward && pages < self.settings.pages_per_turn {
            if !self.time_left() {
                self.push(pending, BatchBuilder::new(), work.cursor).await?;
                return Ok(Turn::Done);
            }
            let mut page = match prefetched.take() {
                Some(page) => page,
                None => self.fetch_after(channel_id, work.cursor.after).await?,
            };
            pages += 1;
            work.cursor.unreadable = false;
            page.sort_by_key(Message::snowflake);
            let full = page.len() == usize::from(PAGE);
            if let Some(last) = page.last() {
                work.cursor.after = MessageId(last.snowflake());
            }
            let builder = if full && pages < self.settings.pages_per_turn {
                let (counted, next) = futures::join!(
                    self.count_page(&work, &page, rules),
                    self.fetch_after(channel_id, work.cursor.after)
                );
                prefetched = Some(next?);
                counted?
            } else {
                self.count_page(&work, &page, rules).await?
            };
            self.push(pending, builder, work.cursor).await?;
            work.new_cursor = false;
            if !full {
                work.forward = false;
            }
        }
        if work.forward {
            return Ok(Turn::More(work));
        }
        while let Some(since) = work.backfill {
            if pages >= self.settings.pages_per_turn {
                return Ok(Turn::More(work));
            }
            if !self.time_left() {
                self.push(pending, BatchBuilder::new(), work.cursor).await?;
                return Ok(Turn::Done);
            }
            self.call();
            let page = self
                .discord
                .channel_messages(channel_id, MessagePosition::Before(work.cursor.before.0), PAGE)
                .await?;
            pages += 1;
            let full = page.len() == usize::from(PAGE);
            let mut keep: Vec<Message> =
                page.into_iter().filter(|m| m.snowflake() >= since.0).collect();
            keep.sort_by_key(Message::snowflake);
            let reached_since = keep.len() < usize::from(PAGE) || !full;
            work.cursor.before = match keep.first() {
                Some(oldest) if !reached_since => MessageId(oldest.snowflake()),
                _ => since,
            };
            let builder = self.count_page(&work, &keep, rules).await?;
            self.push(pending, builder, work.cursor).await?;
            if reached_since {
                work.backfill = None;
            }
        }
        if work.reconcile {
            work.reconcile = false;
            self.reconcile(&mut work, rules, pending).await?;
        }
        if work.new_cursor {
            self.push(pending, BatchBuilder::new(), work.cursor).await?;
        }
        Ok(Turn::Done)
    }

    async fn fetch_after(
        &self,
        channel: Id<engagement_discord::marker::ChannelMarker>,
        after: MessageId,
    ) -> Result<Vec<Message>, SyncError> {
        self.call();
        Ok(self.discord.channel_messages(channel, MessagePosition::After(after.0), PAGE).await?)
    }

    /// Counts a page of messages (oldest first): authors' counters and, for messages with reactions, the
    /// reactors (one Discord call per emoji and kind).
    async fn count_page(
        &self,
        work: &ChannelTask,
        page: &[Message],
        rules: &GuildConfig,
    ) -> Result<BatchBuilder, SyncError> {
        let mut b = BatchBuilder::new();
        if !page.is_empty() {
            b.set_category(work.channel, work.category);
        }
        RunCounters::add(&self.counters.messages_read, u64::try_from(page.len()).unwrap_or(0));
        let window_start = self.window_start();
        for message in page {
            let facts = message_facts(message);
            let day = rules.day_of(&facts);
            if let Some((author, counts)) = rules.author_counts(&facts) {
                RunCounters::add(&self.counters.messages_counted, 1);
                b.add(day, work.channel, author, Counts { reactions_received: 0, ..counts });
            }
            if message.reactions.is_empty() {
                continue;
            }
            let state = self.reaction_state(work, message, rules, None).await?;
            for (user, delta) in reaction_deltas(None, &state) {
                b.add(day, work.channel, user, delta);
            }
            if state.message >= window_start {
                b.set_reactions(state);
            }
        }
        Ok(b)
    }

    /// The countable reaction state of a message now, reading reactor lists only for emojis whose count
    /// changed since `before`.
    async fn reaction_state(
        &self,
        work: &ChannelTask,
        message: &Message,
        rules: &GuildConfig,
        before: Option<&MessageReactions>,
    ) -> Result<MessageReactions, SyncError> {
        let facts = message_facts(message);
        let counts: Vec<ReactionCount> = facts.reactions.clone();
        let refresh: BTreeSet<String> = emojis_to_refresh(before, &counts).into_iter().collect();
        let mut emojis: Vec<EmojiReactions> = Vec::new();
        for reaction in &message.reactions {
            let Some(key) = reaction.emoji.request_form() else { continue };
            if !refresh.contains(&key)
                && let Some(kept) = before.and_then(|b| b.emojis.iter().find(|e| e.emoji == key))
            {
                emojis.push(kept.clone());
                continue;
            }
            let reactors = self
                .reactors(
                    work,
                    message,
                    &reaction.emoji,
                    reaction.count_details.is_some_and(|d| d.burst > 0),
                    rules,
                )
                .await?;
            emojis.push(emoji_state(key, reaction.count, reactors));
        }
        emojis.sort_by(|a, b| a.emoji.cmp(&b.emoji));
        let author = match before {
            // An author who opted out since is no longer credited for this message.
            Some(b) => b.author.filter(|a| !rules.opted_out.contains(a)),
            None => rules.counts_for_author(&facts).then_some(facts.author),
        };
        Ok(MessageReactions {
            message: facts.id,
            source: work.source,
            channel: work.channel,
            // A message keeps the day it was counted on: after a time-zone change, corrections must land
            // where the message's counters are, or that day could go negative.
            day: before.map_or_else(|| rules.day_of(&facts), |b| b.day),
            author,
            emojis,
        })
    }

    async fn reactors(
        &self,
        work: &ChannelTask,
        message: &Message,
        emoji: &ReactionEmoji,
        burst: bool,
        rules: &GuildConfig,
    ) -> Result<Vec<UserId>, SyncError> {
        let channel = Id::new_checked(work.source.0).ok_or(SyncError::InvalidId(work.source.0))?;
        let mut users = Vec::new();
        let kinds: &[ReactionKind] = if burst {
            &[ReactionKind::Normal, ReactionKind::Burst]
        } else {
            &[ReactionKind::Normal]
        };
        for &kind in kinds {
            self.call();
            for user in self.discord.reaction_users(channel, message.id, emoji, kind).await? {
                if rules.counts_reactor(UserId(user.id.get()), user.bot) {
                    users.push(UserId(user.id.get()));
                }
            }
        }
        Ok(users)
    }

    /// Reads the channel's messages of the reconciliation window again and applies reaction changes.
    async fn reconcile(
        &self,
        work: &mut ChannelTask,
        rules: &GuildConfig,
        pending: &Mutex<Pending>,
    ) -> Result<(), SyncError> {
        let channel_id =
            Id::new_checked(work.source.0).ok_or(SyncError::InvalidId(work.source.0))?;
        let ledger: BTreeMap<MessageId, MessageReactions> = {
            let p = pending.lock().await;
            p.view
                .reactions
                .messages
                .range(self.window_start()..)
                .filter(|(_, s)| s.source == work.source)
                .map(|(k, v)| (*k, v.clone()))
                .collect()
        };
        let mut after = self.window_start();
        let until = work.reconcile_until;
        loop {
            if !self.time_left() {
                return Ok(());
            }
            self.call();
            let mut page = self
                .discord
                .channel_messages(channel_id, MessagePosition::After(after.0), PAGE)
                .await?;
            page.sort_by_key(Message::snowflake);
            let full = page.len() == usize::from(PAGE);
            let mut b = BatchBuilder::new();
            let mut reached = !full;
            for message in &page {
                let id = MessageId(message.snowflake());
                after = id;
                if id > until {
                    reached = true;
                    break;
                }
                let before = ledger.get(&id);
                let now_counts = message_facts(message).reactions;
                let same = match before {
                    None => now_counts.is_empty(),
                    Some(b) => {
                        b.emojis.len() == now_counts.len()
                            && emojis_to_refresh(Some(b), &now_counts).is_empty()
                    }
                };
                if same {
                    continue;
                }
                let state = self.reaction_state(work, message, rules, before).await?;
                // An author who opted out is no longer in the state (see `reaction_state`), and re-read
                // reactor lists leave opted-out members out: nothing new is credited to them, and what
                // this message had credited them is withdrawn, so the counters match the recorded state.
                let deltas = reaction_deltas(before, &state);
                if !deltas.is_empty() {
                    RunCounters::add(&self.counters.reaction_corrections, 1);
                }
                // On the day the message was counted on (`state.day` is that day, whatever the guild's
                // time zone is now).
                for (user, delta) in deltas {
                    b.add(state.day, work.channel, user, delta);
                }
                b.set_reactions(state);
            }
            if reached {
                work.cursor.reconciled_ms = self.now_ms();
            }
            self.push(pending, b, work.cursor).await?;
            work.new_cursor = false;
            if reached {
                return Ok(());
            }
        }
    }

    /// Moves an unreadable channel's cursor to its newest message so that it is not asked again (each 403
    /// counts toward Discord's invalid-request ban) until it has new messages. Messages it gets while the
    /// bot cannot read it are not counted; a backfill after access is granted recovers them.
    async fn skip_unreadable(
        &self,
        pending: &Mutex<Pending>,
        cursor: ChannelCursor,
        last: Option<MessageId>,
    ) -> Result<(), SyncError> {
        let mut p = pending.lock().await;
        let mut current = cursor;
        let known = [
            p.builder.cursor(cursor.channel).copied(),
            p.view.cursors.cursors.get(&cursor.channel).copied(),
        ];
        for k in known.into_iter().flatten() {
            current.after = current.after.max(k.after);
            current.before = current.before.min(k.before);
        }
        current.after = current.after.max(last.unwrap_or(current.after));
        current.unreadable = true;
        p.builder.set_cursor(current);
        Ok(())
    }

    /// Adds a page's effects and the channel's cursor to the pending batch; commits when it is big.
    async fn push(
        &self,
        pending: &Mutex<Pending>,
        mut b: BatchBuilder,
        cursor: ChannelCursor,
    ) -> Result<(), SyncError> {
        b.set_cursor(cursor);
        let mut p = pending.lock().await;
        p.builder.merge(b);
        if p.builder.estimated_size() >= self.settings.flush_bytes {
            self.flush(&mut p).await?;
        }
        Ok(())
    }

    async fn flush(&self, p: &mut Pending) -> Result<(), StoreError> {
        if p.builder.is_empty() {
            return Ok(());
        }
        // The run's one clock: compaction decides what is due by the same `now` (`fixed_now` in tests).
        let batch = std::mem::take(&mut p.builder).build(self.now_ms());
        self.store.commit(&mut p.view, batch).await?;
        RunCounters::add(&self.counters.batches, 1);
        Ok(())
    }
}

/// The facts counting needs from a Discord message.
#[must_use]
pub fn message_facts(message: &Message) -> MessageFacts {
    MessageFacts {
        id: MessageId(message.snowflake()),
        author: UserId(message.author.id.get()),
        author_is_bot: message.author.bot,
        from_webhook: message.webhook_id.is_some(),
        kind: u8::from(message.kind),
        timestamp: message.timestamp,
        reactions: message
            .reactions
            .iter()
            .filter_map(|r| {
                r.emoji.request_form().map(|emoji| ReactionCount { emoji, count: r.count })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_minute(minute: u64) -> MessageId {
        let time = chrono::DateTime::from_timestamp(
            1_764_000_000 + 60 * i64::try_from(minute).unwrap_or(0),
            0,
        )
        .unwrap_or_default();
        MessageId(snowflake::from_time(time))
    }

    #[test]
    fn an_unreadable_channel_is_asked_again_hourly_or_when_its_permissions_change() {
        assert!(!retry_unreadable(at_minute(0), at_minute(5), false));
        assert!(!retry_unreadable(at_minute(0), at_minute(59), false));
        assert!(retry_unreadable(at_minute(0), at_minute(60), false));
        assert!(retry_unreadable(at_minute(0), at_minute(5), true));
    }
}
