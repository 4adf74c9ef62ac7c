//! One guild's sync: list channels and threads, read what is new, count it, commit it exactly once.

use std::collections::{BTreeMap, BTreeSet};

use engagement_discord::model::{Channel, Message, ReactionEmoji, ReactionKind};
use engagement_discord::{DiscordClient, ErrorKind, Id, MessagePosition};
use engagement_domain::batch::EmojiReactions;
use engagement_domain::counting::{emoji_state, emojis_to_refresh, reaction_deltas};
use engagement_domain::{
    BatchBuilder, ChannelCursor, ChannelId, Counts, GuildConfig, GuildId, MessageFacts, MessageId,
    MessageReactions, ReactionCount, UserId,
};
use engagement_store::{CounterStore, StoreError, StoreErrorKind, SyncView};
use futures::StreamExt as _;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::SyncError;
use crate::plan::{ChannelTask, Listing, Planner, Read};
use crate::report::RunCounters;
use crate::settings::SyncSettings;

/// Discord's largest message page.
const PAGE: u8 = 100;

enum Turn {
    Done,
    More(ChannelTask),
}

/// A guild run's plan: the channels and threads to read, and the cursor marks to record once they are read.
struct GuildPlan {
    tasks: Vec<ChannelTask>,
    /// Archived-thread listings and a forum's newest post: recording them before the work is done could
    /// hide a thread whose work was cut short.
    marks: Vec<ChannelCursor>,
    /// Whether the guild's roles were listed.
    roles_listed: bool,
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
    /// The run's decisions and its one clock.
    pub(crate) planner: Planner,
    pub(crate) deadline: Instant,
    /// Channels of this guild skipped after an error in this run (guilds run side by side: the run's
    /// shared counters cannot tell whose they are).
    pub(crate) failed_channels: std::sync::atomic::AtomicU64,
    /// Set when a forward read got messages: the guild's checks do not back off.
    pub(crate) read_new: std::sync::atomic::AtomicBool,
    /// Whether the guild's roles are listed even when its channels' permissions look unchanged (see
    /// [`GuildSchedule::roles_due`](engagement_domain::GuildSchedule::roles_due)).
    pub(crate) list_roles: bool,
}

/// How a guild run ended.
pub(crate) struct GuildOutcome {
    pub(crate) out_of_time: bool,
    /// Every channel was read up to when the run started (not cut short, none failed): the counts the
    /// activity roles and the digest read are complete.
    pub(crate) complete: bool,
    /// The settings the run counted by (the activity roles to apply after it).
    pub(crate) config: GuildConfig,
    /// A forward read got new messages: the guild's checks do not back off.
    pub(crate) found_new: bool,
    /// The guild's roles were listed (the visibility snapshot is current).
    pub(crate) roles_listed: bool,
    /// Discord answered 403 or 404 to the guild's channel listing: the bot was removed from it (or the
    /// guild deleted) since the guilds were listed. Nothing was read.
    pub(crate) left: bool,
}

impl GuildRun<'_> {
    fn now_ms(&self) -> u64 {
        self.planner.now_ms()
    }

    fn time_left(&self) -> bool {
        Instant::now() + self.settings.margin < self.deadline
    }

    fn call(&self) {
        RunCounters::add(&self.counters.discord_calls, 1);
    }

    /// Runs the guild to completion or until the time budget runs out.
    pub(crate) async fn run(&self) -> Result<GuildOutcome, SyncError> {
        self.compact(self.now_ms()).await;
        // Reactions are reconciled for all recent channels at once, about hourly: only those runs pay for
        // reading the reaction state of the window from the log.
        let mut view =
            self.store.load_sync_view(self.guild, engagement_store::NO_REACTION_WINDOW).await?;
        let reconcile_due = self.planner.reconcile_due(&view.cursors.cursors);
        if reconcile_due {
            view = self.store.load_sync_view(self.guild, self.planner.window_start()).await?;
        }
        // The settings are read after the view: an erasure in the log is always preceded by its opt-out
        // in the settings, so this run cannot count a member erased before it started (one erased
        // during the run is dropped by the view at the next commit).
        let rules = self.store.guild_config(self.guild).await?.unwrap_or_else(|| GuildConfig {
            time_zone: self.settings.default_time_zone,
            ..GuildConfig::default()
        });
        let Some(GuildPlan { tasks, marks, roles_listed }) =
            self.plan(&rules, &view, reconcile_due).await?
        else {
            tracing::info!(guild = %self.guild, "the bot is no longer in the guild");
            return Ok(GuildOutcome {
                out_of_time: false,
                complete: false,
                config: rules,
                found_new: false,
                roles_listed: false,
                left: true,
            });
        };
        let pending = Mutex::new(Pending { view, builder: BatchBuilder::new() });
        let out_of_time = self.work_through(tasks, &rules, &pending).await?;
        let mut pending = pending.into_inner();
        let failed = self.failed_channels.load(std::sync::atomic::Ordering::Relaxed);
        if !out_of_time && failed == 0 {
            // Only now that every thread the listings found has its cursor: remember the listings.
            for mark in marks {
                let mut current = pending
                    .builder
                    .cursor(mark.channel)
                    .or_else(|| pending.view.cursors.cursors.get(&mark.channel))
                    .copied()
                    .unwrap_or(mark);
                current.threads_listed_ms = mark.threads_listed_ms;
                current.after = current.after.max(mark.after);
                pending.builder.set_cursor(current);
            }
        }
        self.flush(&mut pending).await?;
        if !out_of_time && failed == 0 && self.planner.mode == crate::plan::Mode::Forward {
            // Every channel was read up to when the run started: what reports call "counted up to"
            // (a backfill reads back in time, not up to now).
            self.store.record_synced(self.guild, self.now_ms()).await?;
        }
        let complete = !out_of_time && failed == 0;
        // Messages read, not reads planned: a channel whose newest message was deleted is read every
        // check and finds nothing.
        let found_new = self.read_new.load(std::sync::atomic::Ordering::Relaxed);
        Ok(GuildOutcome {
            out_of_time,
            complete,
            config: rules,
            found_new,
            roles_listed,
            left: false,
        })
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
    /// changed since the last snapshot (all of them when the roles did), and whether the roles were
    /// listed. Unless [`list_roles`](Self::list_roles), a guild whose channels and overwrites match the
    /// snapshot keeps it without a roles listing (a quiet guild's check costs two requests). A failed
    /// roles listing keeps the last snapshot (reports fail closed without one) and does not stop the sync.
    async fn record_access(
        &self,
        guild: Id<engagement_discord::marker::GuildMarker>,
        channels: &[Channel],
    ) -> Result<(BTreeSet<ChannelId>, bool), SyncError> {
        let stored = self.store.guild_access(self.guild).await?;
        if !self.list_roles
            && let Some(stored) = &stored
        {
            let mut same_roles = crate::access::guild_access(self.guild, &[], channels);
            same_roles.roles.clone_from(&stored.roles);
            if same_roles == *stored {
                return Ok((BTreeSet::new(), false));
            }
        }
        self.call();
        let roles = match self.discord.guild_roles(guild).await {
            Ok(roles) => roles,
            Err(error) if !error.is_fatal() => {
                tracing::warn!(guild = self.guild.0, %error, "roles not listed; visibility unchanged");
                return Ok((BTreeSet::new(), false));
            }
            Err(error) => return Err(error.into()),
        };
        let access = crate::access::guild_access(self.guild, &roles, channels);
        if stored.as_ref() == Some(&access) {
            return Ok((BTreeSet::new(), true));
        }
        self.store.put_guild_access(self.guild, &access, self.now_ms()).await?;
        Ok((crate::access::changed_channels(stored.as_ref(), &access), true))
    }

    /// Lists the guild's channels (recording who can view them), active threads and the archived
    /// threads the planner asks for, and returns the planner's work; reads no messages. `None` when the
    /// bot is no longer in the guild.
    async fn plan(
        &self,
        rules: &GuildConfig,
        view: &SyncView,
        reconcile_due: bool,
    ) -> Result<Option<GuildPlan>, SyncError> {
        let guild = Id::new_checked(self.guild.0).ok_or(SyncError::InvalidId(self.guild.0))?;
        self.call();
        let channels = match self.discord.guild_channels(guild).await {
            Ok(channels) => channels,
            Err(e) if matches!(e.kind(), ErrorKind::Api { status: 403 | 404, .. }) => {
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let (access_changed, roles_listed) = self.record_access(guild, &channels).await?;
        self.call();
        let active = self.discord.active_threads(guild).await?;
        let cursors = &view.cursors.cursors;
        let channels: Vec<Listing> = channels.iter().map(listing).collect();
        let active_ids: BTreeSet<ChannelId> =
            active.iter().map(|t| ChannelId(t.id.get())).collect();
        let planned = self.planner.channels(
            rules,
            cursors,
            &channels,
            &active_ids,
            &access_changed,
            reconcile_due,
        );
        RunCounters::add(&self.counters.channels_checked, planned.checked);
        RunCounters::add(&self.counters.channels_skipped_idle, planned.idle);
        let mut marks = Vec::new();
        let mut threads: Vec<Listing> = active.iter().map(listing).collect();
        let mut lost = Vec::new();
        for sweep in planned.sweeps {
            let id =
                Id::new_checked(sweep.channel.0).ok_or(SyncError::InvalidId(sweep.channel.0))?;
            self.call();
            match self.discord.public_archived_threads(id, Some(sweep.since)).await {
                Ok(found) => {
                    threads
                        .extend(found.iter().map(listing).filter(|t| !active_ids.contains(&t.id)));
                    lost.extend(sweep.lost);
                }
                Err(e) if matches!(e.kind(), ErrorKind::NoAccess { .. }) => {
                    // Not asked again before the next sweep: every 403 counts toward Discord's
                    // invalid-request ban.
                    RunCounters::add(&self.counters.channels_no_access, 1);
                }
                Err(e) => return Err(e.into()),
            }
            marks.push(sweep.mark);
        }
        let threads = self.planner.threads(
            rules,
            cursors,
            &channels,
            &threads,
            &active_ids,
            &access_changed,
            reconcile_due,
            lost,
        );
        RunCounters::add(&self.counters.channels_checked, threads.checked);
        RunCounters::add(&self.counters.channels_skipped_idle, threads.idle);
        marks.extend(threads.marks);
        let mut tasks = planned.tasks;
        tasks.extend(threads.tasks);
        Ok(Some(GuildPlan { tasks, marks, roles_listed }))
    }

    /// Reads channels in rounds: each channel gets a few pages per turn, so a busy channel cannot starve
    /// the others. Returns whether the time budget ran out.
    async fn work_through(
        &self,
        mut queue: Vec<ChannelTask>,
        rules: &GuildConfig,
        pending: &Mutex<Pending>,
    ) -> Result<bool, SyncError> {
        let counted: BTreeSet<ChannelId> = queue
            .iter()
            .filter(|t| matches!(t.read, Read::Forward { .. } | Read::Backfill { .. }))
            .map(|t| t.source)
            .collect();
        RunCounters::add(
            &self.counters.channels_fetched,
            u64::try_from(counted.len()).unwrap_or(0),
        );
        while !queue.is_empty() {
            if !self.time_left() {
                return Ok(true);
            }
            let results: Vec<Result<Turn, SyncError>> = futures::stream::iter(queue.drain(..))
                .map(|task| self.turn(task, rules, pending))
                .buffer_unordered(self.settings.concurrency.max(1))
                .collect()
                .await;
            let mut next = Vec::new();
            for result in results {
                match result {
                    Ok(Turn::More(task)) => next.push(task),
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
        task: ChannelTask,
        rules: &GuildConfig,
        pending: &Mutex<Pending>,
    ) -> Result<Turn, SyncError> {
        let (cursor, last) = (task.cursor, task.last);
        match self.turn_inner(task, rules, pending).await {
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
                    RunCounters::add(&self.failed_channels, 1);
                    Ok(Turn::Done)
                }
            },
            Err(e) => Err(e),
        }
    }

    /// Reads what is left of `task`, at most `pages_per_turn` pages of it, moving it from one
    /// [`Read`] to the next; the cursor is recorded with every page, and at the end when it changed.
    async fn turn_inner(
        &self,
        mut task: ChannelTask,
        rules: &GuildConfig,
        pending: &Mutex<Pending>,
    ) -> Result<Turn, SyncError> {
        let channel_id =
            Id::new_checked(task.source.0).ok_or(SyncError::InvalidId(task.source.0))?;
        let mut pages = 0;
        loop {
            if task.read != Read::Nothing && !self.time_left() {
                task.read = Read::Nothing;
            }
            match task.read {
                Read::Nothing => {
                    if task.recorded != Some(task.cursor) {
                        self.push(pending, BatchBuilder::new(), &mut task).await?;
                    }
                    return Ok(Turn::Done);
                }
                Read::Forward { then_reconcile } => {
                    if pages >= self.settings.pages_per_turn {
                        return Ok(Turn::More(task));
                    }
                    let done =
                        self.forward(channel_id, &mut task, &mut pages, rules, pending).await?;
                    if done {
                        task.read = if then_reconcile { Read::Reconcile } else { Read::Nothing };
                    }
                }
                Read::Backfill { since } => {
                    if pages >= self.settings.pages_per_turn {
                        return Ok(Turn::More(task));
                    }
                    pages += 1;
                    if self.backfill_page(channel_id, &mut task, since, rules, pending).await? {
                        task.read = Read::Nothing;
                    }
                }
                Read::Reconcile => {
                    self.reconcile(&mut task, rules, pending).await?;
                    task.read = Read::Nothing;
                }
            }
        }
    }

    /// Reads new messages of `task` until its pages for this turn are used, or there are none left
    /// (returns `true` then). While a page's reactors are read, the next page is fetched (different
    /// rate-limit buckets) when this turn will use it.
    async fn forward(
        &self,
        channel_id: Id<engagement_discord::marker::ChannelMarker>,
        task: &mut ChannelTask,
        pages: &mut usize,
        rules: &GuildConfig,
        pending: &Mutex<Pending>,
    ) -> Result<bool, SyncError> {
        let mut prefetched: Option<Vec<Message>> = None;
        while *pages < self.settings.pages_per_turn {
            if !self.time_left() {
                return Ok(true);
            }
            let mut page = match prefetched.take() {
                Some(page) => page,
                None => self.fetch_after(channel_id, task.cursor.after).await?,
            };
            *pages += 1;
            task.cursor.unreadable = false;
            if !page.is_empty() {
                self.read_new.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            page.sort_by_key(Message::snowflake);
            let full = page.len() == usize::from(PAGE);
            if let Some(last) = page.last() {
                task.cursor.after = MessageId(last.snowflake());
            }
            let builder = if full && *pages < self.settings.pages_per_turn {
                let (counted, next) = futures::join!(
                    self.count_page(task, &page, rules),
                    self.fetch_after(channel_id, task.cursor.after)
                );
                prefetched = Some(next?);
                counted?
            } else {
                self.count_page(task, &page, rules).await?
            };
            self.push(pending, builder, task).await?;
            if !full {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Reads one page of history below `task`'s cursor, down to `since`; returns whether it got there.
    async fn backfill_page(
        &self,
        channel_id: Id<engagement_discord::marker::ChannelMarker>,
        task: &mut ChannelTask,
        since: MessageId,
        rules: &GuildConfig,
        pending: &Mutex<Pending>,
    ) -> Result<bool, SyncError> {
        self.call();
        let page = self
            .discord
            .channel_messages(channel_id, MessagePosition::Before(task.cursor.before.0), PAGE)
            .await?;
        let full = page.len() == usize::from(PAGE);
        let mut keep: Vec<Message> =
            page.into_iter().filter(|m| m.snowflake() >= since.0).collect();
        keep.sort_by_key(Message::snowflake);
        let reached_since = keep.len() < usize::from(PAGE) || !full;
        task.cursor.before = match keep.first() {
            Some(oldest) if !reached_since => MessageId(oldest.snowflake()),
            _ => since,
        };
        let builder = self.count_page(task, &keep, rules).await?;
        self.push(pending, builder, task).await?;
        Ok(reached_since)
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
        task: &ChannelTask,
        page: &[Message],
        rules: &GuildConfig,
    ) -> Result<BatchBuilder, SyncError> {
        let mut b = BatchBuilder::new();
        if !page.is_empty() {
            b.set_category(task.channel, task.category);
        }
        RunCounters::add(&self.counters.messages_read, u64::try_from(page.len()).unwrap_or(0));
        let window_start = self.planner.window_start();
        for message in page {
            let facts = message_facts(message);
            let day = rules.day_of(&facts);
            if let Some((author, counts)) = rules.author_counts(&facts) {
                RunCounters::add(&self.counters.messages_counted, 1);
                b.add(day, task.channel, author, Counts { reactions_received: 0, ..counts });
                b.add_hour(day, rules.hour_of(&facts), task.channel, counts.messages);
            }
            if message.reactions.is_empty() {
                continue;
            }
            let state = self.reaction_state(task, message, rules, None).await?;
            for (user, delta) in reaction_deltas(None, &state) {
                b.add(day, task.channel, user, delta);
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
        task: &ChannelTask,
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
                    task,
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
            source: task.source,
            channel: task.channel,
            // A message keeps the day it was counted on: after a time-zone change, corrections must land
            // where the message's counters are, or that day could go negative.
            day: before.map_or_else(|| rules.day_of(&facts), |b| b.day),
            author,
            emojis,
        })
    }

    async fn reactors(
        &self,
        task: &ChannelTask,
        message: &Message,
        emoji: &ReactionEmoji,
        burst: bool,
        rules: &GuildConfig,
    ) -> Result<Vec<UserId>, SyncError> {
        let channel = Id::new_checked(task.source.0).ok_or(SyncError::InvalidId(task.source.0))?;
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
        task: &mut ChannelTask,
        rules: &GuildConfig,
        pending: &Mutex<Pending>,
    ) -> Result<(), SyncError> {
        let channel_id =
            Id::new_checked(task.source.0).ok_or(SyncError::InvalidId(task.source.0))?;
        let ledger: BTreeMap<MessageId, MessageReactions> = {
            let p = pending.lock().await;
            p.view
                .reactions
                .messages
                .range(self.planner.window_start()..)
                .filter(|(_, s)| s.source == task.source)
                .map(|(k, v)| (*k, v.clone()))
                .collect()
        };
        let mut after = self.planner.window_start();
        let until = task.reconcile_until;
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
                let state = self.reaction_state(task, message, rules, before).await?;
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
                    b.add(state.day, task.channel, user, delta);
                }
                b.set_reactions(state);
            }
            if reached {
                task.cursor.reconciled_ms = self.now_ms();
            }
            self.push(pending, b, task).await?;
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

    /// Adds a page's effects and the task's cursor to the pending batch; commits when it is big.
    async fn push(
        &self,
        pending: &Mutex<Pending>,
        mut b: BatchBuilder,
        task: &mut ChannelTask,
    ) -> Result<(), SyncError> {
        b.set_cursor(task.cursor);
        task.recorded = Some(task.cursor);
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

/// What the planner needs of a listed channel or thread.
fn listing(channel: &Channel) -> Listing {
    Listing {
        id: ChannelId(channel.id.get()),
        parent: channel.parent_id.map(|p| ChannelId(p.get())),
        last: channel.last_message_id.map(|m| MessageId(m.get())),
        holds_messages: channel.has_messages(),
        holds_threads: channel.has_threads(),
        private_thread: channel.kind == engagement_discord::model::ChannelType::PrivateThread,
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
