//! What a guild's run reads, decided purely: from the cursors in the guild's log, its config, what
//! Discord listed, the settings and the run's one clock. No I/O here: the engine (`engine.rs`) lists
//! channels and threads, asks the [`Planner`], reads what the plan says and commits.
//!
//! The rules, in the order a run applies them (README, "The sync"):
//! - **Reconciliation** of recent reactions is due for the whole guild when its last pass is older than
//!   `SYNC_RECONCILE_EVERY_MINUTES` and some readable channel has messages in the window
//!   ([`Planner::reconcile_due`]); never in a backfill.
//! - **Channels** ([`Planner::channels`]): excluded channels (or channels of an excluded category) and
//!   channels that hold neither messages nor threads are not looked at. A channel whose newest message is
//!   not past its cursor is idle and costs no request. A channel seen for the first time starts
//!   `SYNC_LOOKBACK_HOURS` back. A channel the bot could not read is asked again only when it is an hour
//!   newer or its permissions changed. A forum's newest post is remembered to skip it while idle.
//! - **Archived threads** of a channel are listed ([`Sweep`]) when the channel moved, when a followed
//!   thread left the active list, once every `SYNC_THREAD_SWEEP_HOURS`, and in a backfill.
//! - **Threads** ([`Planner::threads`]) count toward their parent channel, follow the same rules, and
//!   carry whether they were last seen archived; private threads, threads of excluded or unknown channels
//!   are not counted.
//! - **Backfill** reads history below each cursor down to the backfill's first message, and nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use engagement_domain::{ChannelCursor, ChannelId, GuildConfig, MessageId, snowflake};

use crate::settings::SyncSettings;

/// An unreadable channel is asked again when its newest message is at least this much newer than the
/// newest one when it was last asked (so about once an hour while it is busy, never while it is idle).
const UNREADABLE_RETRY_MS: u64 = 3_600_000;

/// How far before the last archived-threads listing the next one looks, for threads archived while it ran.
const SWEEP_OVERLAP: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// What a run is doing in a guild.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// New messages and reaction changes.
    Forward,
    /// Older history, down to this message id.
    Backfill {
        /// The oldest message to count.
        since: MessageId,
    },
}

/// A channel or thread as Discord listed it: only what the decisions need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listing {
    /// The channel or thread.
    pub id: ChannelId,
    /// A channel's category; a thread's parent channel.
    pub parent: Option<ChannelId>,
    /// Its newest message (for a forum, its newest post), if any.
    pub last: Option<MessageId>,
    /// Whether messages can be read from it (text, announcement, voice, stage, threads).
    pub holds_messages: bool,
    /// Whether it has public threads to list (text, announcement, forum, media).
    pub holds_threads: bool,
    /// A private thread (its audience is its members).
    pub private_thread: bool,
}

/// What is left to read of one channel or thread. The engine moves a task from one state to the next
/// (`Forward { then_reconcile: true }` → `Reconcile` → `Nothing`) as it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// Nothing: the task only records its cursor (first sight of a channel with nothing new, a thread's
    /// archived mark changing).
    Nothing,
    /// New messages after the cursor; then, when `then_reconcile`, the reconciliation window.
    Forward {
        /// Whether the reconciliation window is read again afterwards.
        then_reconcile: bool,
    },
    /// The reconciliation window only: reaction changes on recent messages.
    Reconcile,
    /// History below the cursor, down to `since`.
    Backfill {
        /// The oldest message to count.
        since: MessageId,
    },
}

/// One channel or thread to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelTask {
    /// The polled channel or thread.
    pub source: ChannelId,
    /// The counting channel (a thread's parent).
    pub channel: ChannelId,
    /// The counting channel's category.
    pub category: Option<ChannelId>,
    /// Where reading starts, with this run's marks.
    pub cursor: ChannelCursor,
    /// The cursor as last recorded (in the log, or this run's pending batch); `None` on first sight. A
    /// task that ends with a different cursor records it.
    pub recorded: Option<ChannelCursor>,
    /// Reconciliation covers counted messages up to here (the cursor when the run started).
    pub reconcile_until: MessageId,
    /// The newest message when the run listed it.
    pub last: Option<MessageId>,
    /// What is left to read.
    pub read: Read,
}

impl ChannelTask {
    /// Whether the task has anything to do: read, or record a changed cursor.
    #[must_use]
    pub fn is_needed(&self) -> bool {
        self.read != Read::Nothing || self.recorded != Some(self.cursor)
    }
}

/// A listing of a channel's archived public threads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sweep {
    /// The channel whose threads are listed.
    pub channel: ChannelId,
    /// Threads archived since then are listed.
    pub since: DateTime<Utc>,
    /// The channel's cursor with this listing marked (and, for a forum, its newest post), to record once
    /// the run's work is done, whether the listing answered or was refused.
    pub mark: ChannelCursor,
    /// Followed threads that left the active list, marked as looked for: recorded, once the listing
    /// answered, for those it did not find.
    pub lost: Vec<ChannelCursor>,
}

/// The channels' part of a plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelPlan {
    /// Channels to read.
    pub tasks: Vec<ChannelTask>,
    /// Archived-thread listings due, with the marks to record once the run's work is done.
    pub sweeps: Vec<Sweep>,
    /// Channels looked at.
    pub checked: u64,
    /// Channels looked at with nothing to do.
    pub idle: u64,
}

/// The threads' part of a plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadPlan {
    /// Threads to read.
    pub tasks: Vec<ChannelTask>,
    /// Followed threads looked for and not found (deleted, or private and archived): their mark is
    /// recorded once the run's work is done.
    pub marks: Vec<ChannelCursor>,
    /// Threads looked at.
    pub checked: u64,
    /// Threads looked at with nothing to do.
    pub idle: u64,
}

/// The decisions of one guild's run: the run's clock, its mode and the sync settings.
#[derive(Clone, Copy, Debug)]
pub struct Planner {
    /// The run's one clock.
    pub now: DateTime<Utc>,
    /// Forward or backfill.
    pub mode: Mode,
    /// How far back a channel seen for the first time is counted.
    pub first_sight_lookback: Duration,
    /// Reactions are reconciled on messages younger than this.
    pub reconcile_window: Duration,
    /// How often the reconciliation window is read again.
    pub reconcile_every: Duration,
    /// How often archived threads are listed without other activity.
    pub thread_sweep_every: Duration,
}

impl Planner {
    /// The planner of a run at `now` in `mode` under `settings`.
    #[must_use]
    pub const fn new(settings: &SyncSettings, now: DateTime<Utc>, mode: Mode) -> Self {
        Self {
            now,
            mode,
            first_sight_lookback: settings.first_sight_lookback,
            reconcile_window: settings.reconcile_window,
            reconcile_every: settings.reconcile_every,
            thread_sweep_every: settings.thread_sweep_every,
        }
    }

    /// The run's clock in ms since the epoch.
    #[must_use]
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.now.timestamp_millis()).unwrap_or(0)
    }

    /// The first message of the reconciliation window.
    #[must_use]
    pub fn window_start(&self) -> MessageId {
        self.message_at(self.reconcile_window)
    }

    /// Where a channel seen for the first time starts.
    #[must_use]
    pub fn first_sight_start(&self) -> MessageId {
        self.message_at(self.first_sight_lookback)
    }

    fn message_at(&self, ago: Duration) -> MessageId {
        let at = self.now - chrono::Duration::from_std(ago).unwrap_or_default();
        MessageId(snowflake::from_time(at))
    }

    /// Whether the guild's reconciliation pass is due: forward runs only, when the last pass (the most
    /// recent `reconciled_ms` of a readable channel) is at least the interval old, and some readable
    /// channel has messages in the window. A guild never reconciled has nothing counted in the window to
    /// correct yet.
    #[must_use]
    pub fn reconcile_due(&self, cursors: &BTreeMap<ChannelId, ChannelCursor>) -> bool {
        let every = u64::try_from(self.reconcile_every.as_millis()).unwrap_or(u64::MAX);
        let readable = || cursors.values().filter(|c| !c.unreadable);
        let last_pass = readable().map(|c| c.reconciled_ms).max();
        let window_start = self.window_start();
        self.mode == Mode::Forward
            && last_pass.is_some_and(|last| self.now_ms().saturating_sub(last) >= every)
            && readable().any(|c| c.after > window_start)
    }

    /// The channels' part of the plan, from the guild's channel listing.
    ///
    /// `active` are the ids of the active threads; `access_changed` the channels whose permissions
    /// changed since the last snapshot.
    #[must_use]
    pub fn channels(
        &self,
        config: &GuildConfig,
        cursors: &BTreeMap<ChannelId, ChannelCursor>,
        channels: &[Listing],
        active: &BTreeSet<ChannelId>,
        access_changed: &BTreeSet<ChannelId>,
        reconcile_due: bool,
    ) -> ChannelPlan {
        let now_ms = self.now_ms();
        let sweep_every = u64::try_from(self.thread_sweep_every.as_millis()).unwrap_or(u64::MAX);
        let mut plan = ChannelPlan::default();
        for channel in channels {
            if !counts(config, channel.id, channel.parent)
                || !(channel.holds_messages || channel.holds_threads)
            {
                continue;
            }
            plan.checked += 1;
            let stored = cursors.get(&channel.id).copied();
            let wait = waits(stored, channel.last, access_changed.contains(&channel.id));
            let advanced = !wait
                && match (stored, channel.last) {
                    (_, None) => false,
                    (None, Some(_)) => true,
                    (Some(c), Some(last)) => last > c.after,
                };
            let task =
                self.task(channel, channel.id, channel.parent, None, stored, wait, reconcile_due);
            let mut swept = false;
            if channel.holds_threads {
                let listed = stored.map_or(0, |c| c.threads_listed_ms);
                // Followed threads that left the active list and were not looked for since (for a
                // thread, `threads_listed_ms` marks "looked for among archived threads").
                let lost: Vec<ChannelCursor> = cursors
                    .values()
                    .filter(|c| {
                        c.parent == Some(channel.id)
                            && !active.contains(&c.channel)
                            && c.threads_listed_ms == 0
                    })
                    .map(|c| ChannelCursor { threads_listed_ms: now_ms, ..*c })
                    .collect();
                let due = advanced
                    || !lost.is_empty()
                    || now_ms.saturating_sub(listed) >= sweep_every
                    || matches!(self.mode, Mode::Backfill { .. });
                if due {
                    let mut mark = ChannelCursor { threads_listed_ms: now_ms, ..task.cursor };
                    if let (false, true, Some(last)) =
                        (channel.holds_messages, advanced, channel.last)
                    {
                        // A forum's newest post (a new post moves the forum, which makes a sweep
                        // due): remembered so that an idle forum costs nothing.
                        mark.after = last;
                    }
                    plan.sweeps.push(Sweep {
                        channel: channel.id,
                        since: self.sweep_since(listed),
                        mark,
                        lost,
                    });
                    swept = true;
                }
            }
            if task.is_needed() {
                plan.tasks.push(task);
            } else if !swept {
                plan.idle += 1;
            }
        }
        plan
    }

    /// The threads' part of the plan: `threads` are the active threads, then those the sweeps found
    /// (a thread listed twice is planned once); `channels` the guild's channel listing; `lost` the
    /// followed threads the sweeps looked for.
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn threads(
        &self,
        config: &GuildConfig,
        cursors: &BTreeMap<ChannelId, ChannelCursor>,
        channels: &[Listing],
        threads: &[Listing],
        active: &BTreeSet<ChannelId>,
        access_changed: &BTreeSet<ChannelId>,
        reconcile_due: bool,
        mut lost: Vec<ChannelCursor>,
    ) -> ThreadPlan {
        let now_ms = self.now_ms();
        let by_id: BTreeMap<ChannelId, &Listing> = channels.iter().map(|c| (c.id, c)).collect();
        let mut plan = ThreadPlan::default();
        let mut seen: BTreeSet<ChannelId> = BTreeSet::new();
        for thread in threads {
            // A private thread's audience is its members: counting it toward its channel would show
            // its activity to everyone who can view the channel.
            if thread.private_thread || !seen.insert(thread.id) {
                continue;
            }
            let Some(parent) = thread.parent.and_then(|p| by_id.get(&p)) else { continue };
            if !counts(config, parent.id, parent.parent) {
                continue;
            }
            plan.checked += 1;
            let stored = cursors.get(&thread.id).copied();
            let changed = access_changed.contains(&parent.id);
            let wait = waits(stored, thread.last, changed);
            let mut task = self.task(
                thread,
                parent.id,
                parent.parent,
                Some(parent.id),
                stored,
                wait,
                reconcile_due,
            );
            // Whether the thread was last seen archived: one that leaves the active list is looked for
            // among archived threads once (see `channels`).
            task.cursor.threads_listed_ms = if active.contains(&thread.id) {
                0
            } else if task.cursor.threads_listed_ms == 0 {
                now_ms
            } else {
                task.cursor.threads_listed_ms
            };
            lost.retain(|c| c.channel != thread.id);
            if task.is_needed() {
                plan.tasks.push(task);
            } else {
                plan.idle += 1;
            }
        }
        plan.marks = lost;
        plan
    }

    /// The task of a channel or thread (`source`, counted toward `channel`).
    #[allow(clippy::too_many_arguments)]
    fn task(
        &self,
        source: &Listing,
        channel: ChannelId,
        category: Option<ChannelId>,
        parent: Option<ChannelId>,
        stored: Option<ChannelCursor>,
        wait: bool,
        reconcile_due: bool,
    ) -> ChannelTask {
        let cursor = stored.unwrap_or_else(|| {
            ChannelCursor::starting_at(source.id, parent, self.first_sight_start())
        });
        let read = if !source.holds_messages {
            Read::Nothing
        } else {
            match self.mode {
                Mode::Forward => {
                    let forward = !wait && source.last.is_some_and(|l| l > cursor.after);
                    let reconcile = reconcile_due
                        && stored.is_some()
                        && !cursor.unreadable
                        && cursor.after > self.window_start();
                    match (forward, reconcile) {
                        (true, then_reconcile) => Read::Forward { then_reconcile },
                        (false, true) => Read::Reconcile,
                        (false, false) => Read::Nothing,
                    }
                }
                Mode::Backfill { since } if cursor.before > since && source.last.is_some() => {
                    Read::Backfill { since }
                }
                Mode::Backfill { .. } => Read::Nothing,
            }
        };
        ChannelTask {
            source: source.id,
            channel,
            category,
            cursor,
            recorded: stored,
            reconcile_until: cursor.after,
            last: source.last,
            read,
        }
    }

    /// Where an archived-threads listing starts: a backfill's first day; a few minutes before the last
    /// listing; on first sight, as far back as new channels are counted.
    fn sweep_since(&self, listed_ms: u64) -> DateTime<Utc> {
        match self.mode {
            Mode::Backfill { since } => snowflake::created_at(since.0),
            Mode::Forward if listed_ms > 0 => {
                DateTime::from_timestamp_millis(i64::try_from(listed_ms).unwrap_or(0))
                    .unwrap_or(self.now)
                    - SWEEP_OVERLAP
            }
            Mode::Forward => snowflake::created_at(self.first_sight_start().0),
        }
    }
}

/// Whether messages in `channel` (under `category`) count: neither is excluded.
fn counts(config: &GuildConfig, channel: ChannelId, category: Option<ChannelId>) -> bool {
    config.counts_channel(channel) && category.is_none_or(|c| config.counts_channel(c))
}

/// Whether a channel the bot could not read waits: it is asked again (each 403 counts toward Discord's
/// invalid-request ban) when its newest message is an hour newer than when it was last asked, or at
/// once when its permissions changed.
fn waits(
    stored: Option<ChannelCursor>,
    last: Option<MessageId>,
    permissions_changed: bool,
) -> bool {
    match (stored, last) {
        (Some(c), Some(last)) if c.unreadable => {
            let newer =
                snowflake::timestamp_ms(last.0).saturating_sub(snowflake::timestamp_ms(c.after.0));
            !permissions_changed && newer < UNREADABLE_RETRY_MS
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
