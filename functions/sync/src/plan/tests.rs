//! The planner's rules, one test each (README, "The sync"): plain data in, a plan out, no I/O.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use engagement_domain::{ChannelCursor, ChannelId, GuildConfig, MessageId, snowflake};

use super::*;

const GENERAL: ChannelId = ChannelId(10);
const FORUM: ChannelId = ChannelId(11);
const CATEGORY: ChannelId = ChannelId(100);
const THREAD: ChannelId = ChannelId(20);
const OTHER_THREAD: ChannelId = ChannelId(21);

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default()
}

/// A message sent `minutes` before the run.
fn sent(minutes: i64) -> MessageId {
    MessageId(snowflake::from_time(now() - TimeDelta::minutes(minutes)))
}

fn ms_ago(minutes: i64) -> u64 {
    u64::try_from((now() - TimeDelta::minutes(minutes)).timestamp_millis()).unwrap_or(0)
}

fn planner(mode: Mode) -> Planner {
    Planner::new(&SyncSettings::default(), now(), mode)
}

fn forward() -> Planner {
    planner(Mode::Forward)
}

fn text(id: ChannelId, last: Option<MessageId>) -> Listing {
    Listing {
        id,
        parent: Some(CATEGORY),
        last,
        holds_messages: true,
        holds_threads: true,
        private_thread: false,
    }
}

fn forum(id: ChannelId, last: Option<MessageId>) -> Listing {
    Listing { holds_messages: false, ..text(id, last) }
}

fn thread(id: ChannelId, parent: ChannelId, last: Option<MessageId>) -> Listing {
    Listing {
        id,
        parent: Some(parent),
        last,
        holds_messages: true,
        holds_threads: false,
        private_thread: false,
    }
}

/// A stored cursor that has counted up to `after`, reconciled and swept just now.
fn cursor(channel: ChannelId, after: MessageId) -> ChannelCursor {
    ChannelCursor {
        after,
        reconciled_ms: ms_ago(0),
        threads_listed_ms: ms_ago(0),
        ..ChannelCursor::starting_at(channel, None, sent(60 * 24 * 30))
    }
}

fn cursors(list: &[ChannelCursor]) -> BTreeMap<ChannelId, ChannelCursor> {
    list.iter().map(|c| (c.channel, *c)).collect()
}

fn none() -> BTreeSet<ChannelId> {
    BTreeSet::new()
}

/// The channels' plan of a forward run, no reconciliation, nothing active or changed.
fn plan_channels(stored: &[ChannelCursor], channels: &[Listing]) -> ChannelPlan {
    forward().channels(&GuildConfig::default(), &cursors(stored), channels, &none(), &none(), false)
}

#[test]
fn a_channel_with_nothing_new_is_idle_and_costs_nothing() {
    let plan = plan_channels(&[cursor(GENERAL, sent(5))], &[text(GENERAL, Some(sent(5)))]);
    assert_eq!((plan.tasks.len(), plan.sweeps.len(), plan.checked, plan.idle), (0, 0, 1, 1));
}

#[test]
fn a_channel_with_new_messages_is_read_forward_from_its_cursor() {
    let plan = plan_channels(&[cursor(GENERAL, sent(5))], &[text(GENERAL, Some(sent(1)))]);
    let [task] = plan.tasks.as_slice() else { panic!("{plan:?}") };
    assert_eq!(task.read, Read::Forward { then_reconcile: false });
    assert_eq!(
        (task.cursor.after, task.reconcile_until, task.channel),
        (sent(5), sent(5), GENERAL)
    );
    assert_eq!(task.category, Some(CATEGORY));
    assert_eq!(plan.idle, 0);
}

#[test]
fn a_channel_seen_for_the_first_time_starts_the_lookback_ago_and_records_its_cursor() {
    let lookback = forward().first_sight_start();
    assert_eq!(lookback, sent(24 * 60), "SYNC_LOOKBACK_HOURS, default 24");
    let plan = plan_channels(&[], &[text(GENERAL, Some(sent(1))), text(ChannelId(12), None)]);
    let [busy, empty] = plan.tasks.as_slice() else { panic!("{plan:?}") };
    assert_eq!(
        (busy.read, busy.recorded, busy.cursor.after),
        (Read::Forward { then_reconcile: false }, None, lookback)
    );
    // A channel without messages has nothing to read, but its cursor is recorded: it is not new next run.
    assert_eq!((empty.read, empty.recorded), (Read::Nothing, None));
    assert!(empty.is_needed());
}

#[test]
fn excluded_channels_channels_of_an_excluded_category_and_categories_are_not_looked_at() {
    let config = GuildConfig {
        excluded_channels: BTreeSet::from([GENERAL, ChannelId(200)]),
        ..GuildConfig::default()
    };
    let in_excluded_category =
        Listing { parent: Some(ChannelId(200)), ..text(ChannelId(13), Some(sent(1))) };
    let category = Listing { holds_messages: false, holds_threads: false, ..text(CATEGORY, None) };
    let listings = [text(GENERAL, Some(sent(1))), in_excluded_category, category];
    let plan = forward().channels(&config, &BTreeMap::new(), &listings, &none(), &none(), false);
    assert_eq!(plan, ChannelPlan::default());
}

#[test]
fn reconciliation_is_due_when_the_last_pass_is_an_interval_old_and_the_window_has_messages() {
    let mut recent = cursor(GENERAL, sent(30));
    recent.reconciled_ms = ms_ago(61);
    assert!(forward().reconcile_due(&cursors(&[recent])), "an hour since the last pass");
    recent.reconciled_ms = ms_ago(59);
    assert!(!forward().reconcile_due(&cursors(&[recent])), "not yet an hour");
    let mut old = cursor(GENERAL, sent(25 * 60));
    old.reconciled_ms = ms_ago(120);
    assert!(!forward().reconcile_due(&cursors(&[old])), "nothing in the 24 h window");
    assert!(!forward().reconcile_due(&BTreeMap::new()), "nothing counted yet");
    let unreadable = ChannelCursor { unreadable: true, reconciled_ms: ms_ago(120), ..recent };
    assert!(!forward().reconcile_due(&cursors(&[unreadable])), "unreadable channels do not count");
    recent.reconciled_ms = ms_ago(120);
    let backfill = planner(Mode::Backfill { since: sent(60 * 24 * 90) });
    assert!(!backfill.reconcile_due(&cursors(&[recent])), "never in a backfill");
}

#[test]
fn a_due_reconciliation_reads_the_window_of_readable_channels_with_recent_messages() {
    let stored = [
        cursor(GENERAL, sent(30)),
        cursor(ChannelId(12), sent(30)),
        cursor(ChannelId(13), sent(25 * 60)),
        ChannelCursor { unreadable: true, ..cursor(ChannelId(14), sent(30)) },
    ];
    let listings = [
        text(GENERAL, Some(sent(1))),
        text(ChannelId(12), Some(sent(30))),
        text(ChannelId(13), Some(sent(25 * 60))),
        text(ChannelId(14), Some(sent(30))),
    ];
    let plan = forward().channels(
        &GuildConfig::default(),
        &cursors(&stored),
        &listings,
        &none(),
        &none(),
        true,
    );
    let reads: Vec<(ChannelId, Read)> = plan.tasks.iter().map(|t| (t.source, t.read)).collect();
    assert_eq!(
        reads,
        [(GENERAL, Read::Forward { then_reconcile: true }), (ChannelId(12), Read::Reconcile)],
        "older than the window, or unreadable: not reconciled"
    );
    // First sight is never reconciled: nothing was counted in the window yet.
    let plan = forward().channels(
        &GuildConfig::default(),
        &BTreeMap::new(),
        &listings[..1],
        &none(),
        &none(),
        true,
    );
    assert_eq!(plan.tasks[0].read, Read::Forward { then_reconcile: false });
}

#[test]
fn an_unreadable_channel_is_asked_again_hourly_or_when_its_permissions_change() {
    let stored = ChannelCursor { unreadable: true, ..cursor(GENERAL, sent(120)) };
    let asked = |last: i64, changed: bool| {
        let changed = if changed { BTreeSet::from([GENERAL]) } else { none() };
        let plan = forward().channels(
            &GuildConfig::default(),
            &cursors(&[stored]),
            &[text(GENERAL, Some(sent(last)))],
            &none(),
            &changed,
            false,
        );
        plan.tasks.iter().any(|t| t.read == Read::Forward { then_reconcile: false })
    };
    assert!(!asked(119, false), "a minute newer");
    assert!(!asked(61, false), "59 minutes newer");
    assert!(asked(60, false), "an hour newer");
    assert!(asked(119, true), "its permissions changed");
}

#[test]
fn archived_threads_are_listed_when_the_channel_moved_a_thread_left_or_once_a_day() {
    let sweeps = |stored: &[ChannelCursor], last: i64, active: &[ChannelId]| {
        let active: BTreeSet<ChannelId> = active.iter().copied().collect();
        let listings = [text(GENERAL, Some(sent(last)))];
        forward()
            .channels(&GuildConfig::default(), &cursors(stored), &listings, &active, &none(), false)
            .sweeps
    };
    let idle = cursor(GENERAL, sent(30));
    assert!(sweeps(&[idle], 30, &[]).is_empty(), "idle, listed just now");
    let moved = sweeps(&[idle], 1, &[]);
    assert_eq!(moved.len(), 1, "a new message (a new thread makes one)");
    assert_eq!(
        moved[0].since,
        now() - TimeDelta::minutes(5),
        "from a little before the last listing"
    );
    assert_eq!(moved[0].mark.threads_listed_ms, ms_ago(0));
    let a_day_ago = ChannelCursor { threads_listed_ms: ms_ago(24 * 60), ..idle };
    assert_eq!(sweeps(&[a_day_ago], 30, &[]).len(), 1, "SYNC_THREAD_SWEEP_HOURS, default 24");
    // A followed thread that left the active list: looked for once, and marked.
    let followed =
        ChannelCursor { parent: Some(GENERAL), threads_listed_ms: 0, ..cursor(THREAD, sent(40)) };
    assert!(sweeps(&[idle, followed], 30, &[THREAD]).is_empty(), "still active");
    let left = sweeps(&[idle, followed], 30, &[]);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].lost, [ChannelCursor { threads_listed_ms: ms_ago(0), ..followed }]);
    let looked_for = ChannelCursor { threads_listed_ms: ms_ago(30), ..followed };
    assert!(sweeps(&[idle, looked_for], 30, &[]).is_empty(), "already looked for");
    // First sight: from as far back as a new channel is counted.
    let first = sweeps(&[], 1, &[]);
    assert_eq!(first[0].since, snowflake::created_at(forward().first_sight_start().0));
}

#[test]
fn an_idle_forum_costs_nothing_and_its_newest_post_is_remembered() {
    let stored = cursor(FORUM, sent(30));
    let new_post = forward().channels(
        &GuildConfig::default(),
        &cursors(&[stored]),
        &[forum(FORUM, Some(sent(2)))],
        &none(),
        &none(),
        false,
    );
    assert!(new_post.tasks.is_empty(), "a forum holds no messages of its own: {new_post:?}");
    let [sweep] = new_post.sweeps.as_slice() else { panic!("{new_post:?}") };
    assert_eq!((sweep.mark.after, sweep.mark.threads_listed_ms), (sent(2), ms_ago(0)));
    let idle = forward().channels(
        &GuildConfig::default(),
        &cursors(&[ChannelCursor { after: sent(2), ..stored }]),
        &[forum(FORUM, Some(sent(2)))],
        &none(),
        &none(),
        false,
    );
    assert_eq!((idle.sweeps.len(), idle.tasks.len(), idle.idle), (0, 0, 1));
}

#[test]
fn threads_count_toward_their_parent_and_carry_whether_they_were_last_seen_archived() {
    let channels = [text(GENERAL, Some(sent(30)))];
    // THREAD was last seen archived (looked for 30 minutes ago) and is active again.
    let stored = [
        cursor(GENERAL, sent(30)),
        ChannelCursor {
            parent: Some(GENERAL),
            threads_listed_ms: ms_ago(30),
            ..cursor(THREAD, sent(10))
        },
    ];
    let threads =
        [thread(THREAD, GENERAL, Some(sent(2))), thread(OTHER_THREAD, GENERAL, Some(sent(3)))];
    let active = BTreeSet::from([THREAD]);
    let plan = forward().threads(
        &GuildConfig::default(),
        &cursors(&stored),
        &channels,
        &threads,
        &active,
        &none(),
        false,
        Vec::new(),
    );
    let [followed, archived] = plan.tasks.as_slice() else { panic!("{plan:?}") };
    assert_eq!(
        (followed.source, followed.channel, followed.category),
        (THREAD, GENERAL, Some(CATEGORY))
    );
    assert_eq!(
        (followed.read, followed.cursor.after),
        (Read::Forward { then_reconcile: false }, sent(10))
    );
    assert_eq!(followed.cursor.threads_listed_ms, 0, "active again");
    assert_eq!((archived.recorded, archived.cursor.parent), (None, Some(GENERAL)));
    assert_eq!(archived.cursor.threads_listed_ms, ms_ago(0), "found among archived threads");
    assert_eq!((plan.checked, plan.idle), (2, 0));

    // An idle thread that was archived since: nothing to read, the mark is recorded.
    let stored = [cursor(GENERAL, sent(30)), ChannelCursor { threads_listed_ms: 0, ..stored[1] }];
    let idle = [thread(THREAD, GENERAL, Some(sent(10)))];
    let plan = forward().threads(
        &GuildConfig::default(),
        &cursors(&stored),
        &channels,
        &idle,
        &none(),
        &none(),
        false,
        Vec::new(),
    );
    assert_eq!(plan.tasks.len(), 1);
    assert_eq!(
        (plan.tasks[0].read, plan.tasks[0].cursor.threads_listed_ms),
        (Read::Nothing, ms_ago(0))
    );
}

#[test]
fn private_threads_and_threads_of_excluded_or_unknown_channels_are_not_counted() {
    let in_excluded_category =
        Listing { parent: Some(ChannelId(200)), ..text(ChannelId(13), Some(sent(30))) };
    let channels =
        [text(GENERAL, Some(sent(30))), text(ChannelId(12), Some(sent(30))), in_excluded_category];
    let config = GuildConfig {
        excluded_channels: BTreeSet::from([ChannelId(12), ChannelId(200)]),
        ..GuildConfig::default()
    };
    let threads = [
        Listing { private_thread: true, ..thread(THREAD, GENERAL, Some(sent(1))) },
        thread(ChannelId(22), ChannelId(12), Some(sent(1))),
        thread(ChannelId(25), ChannelId(13), Some(sent(1))),
        thread(ChannelId(23), ChannelId(99), Some(sent(1))),
        Listing { parent: None, ..thread(ChannelId(24), GENERAL, Some(sent(1))) },
    ];
    let plan = forward().threads(
        &config,
        &BTreeMap::new(),
        &channels,
        &threads,
        &none(),
        &none(),
        false,
        Vec::new(),
    );
    assert_eq!(plan, ThreadPlan::default());
}

#[test]
fn an_unreadable_thread_waits_like_a_channel() {
    let channels = [text(GENERAL, Some(sent(30)))];
    let stored =
        ChannelCursor { parent: Some(GENERAL), unreadable: true, ..cursor(THREAD, sent(120)) };
    let asked = |last: i64, changed: &[ChannelId]| {
        let changed: BTreeSet<ChannelId> = changed.iter().copied().collect();
        let threads = [thread(THREAD, GENERAL, Some(sent(last)))];
        let active = BTreeSet::from([THREAD]);
        let plan = forward().threads(
            &GuildConfig::default(),
            &cursors(&[stored]),
            &channels,
            &threads,
            &active,
            &changed,
            false,
            Vec::new(),
        );
        plan.tasks.iter().any(|t| t.read == Read::Forward { then_reconcile: false })
    };
    assert!(!asked(119, &[]), "a minute newer");
    assert!(asked(60, &[]), "an hour newer");
    assert!(asked(119, &[GENERAL]), "its parent's permissions changed");
}

#[test]
fn a_thread_listed_twice_is_planned_once_and_followed_threads_not_found_keep_their_mark() {
    let channels = [text(GENERAL, Some(sent(30)))];
    let found = thread(THREAD, GENERAL, Some(sent(1)));
    let lost_found = ChannelCursor {
        parent: Some(GENERAL),
        threads_listed_ms: ms_ago(0),
        ..cursor(THREAD, sent(10))
    };
    let lost_gone = ChannelCursor { channel: OTHER_THREAD, ..lost_found };
    let plan = forward().threads(
        &GuildConfig::default(),
        &BTreeMap::new(),
        &channels,
        &[found, found],
        &none(),
        &none(),
        false,
        vec![lost_found, lost_gone],
    );
    assert_eq!(plan.tasks.len(), 1);
    assert_eq!(plan.marks, [lost_gone], "deleted, or private and archived");
}

#[test]
fn a_backfill_reads_history_below_each_cursor_down_to_its_first_message_and_nothing_else() {
    let since = sent(60 * 24 * 90);
    let backfill = planner(Mode::Backfill { since });
    let done = ChannelCursor { before: since, ..cursor(ChannelId(12), sent(30)) };
    let stored = [cursor(GENERAL, sent(30)), done];
    let listings = [
        text(GENERAL, Some(sent(1))),
        text(ChannelId(12), Some(sent(1))),
        text(ChannelId(13), None),
    ];
    let plan = backfill.channels(
        &GuildConfig::default(),
        &cursors(&stored),
        &listings,
        &none(),
        &none(),
        true,
    );
    let reads: Vec<(ChannelId, Read)> = plan.tasks.iter().map(|t| (t.source, t.read)).collect();
    assert_eq!(
        reads,
        [(GENERAL, Read::Backfill { since }), (ChannelId(13), Read::Nothing)],
        "no forward reads or reconciliation; a channel already back to `since` is done; an empty new \
         channel only records its cursor"
    );
    // Every channel's archived threads are listed, from the backfill's first day.
    assert_eq!(plan.sweeps.len(), 3);
    assert!(plan.sweeps.iter().all(|s| s.since == snowflake::created_at(since.0)));
    // A forum has no history of its own to read.
    let forums = backfill.channels(
        &GuildConfig::default(),
        &BTreeMap::new(),
        &[forum(FORUM, Some(sent(1)))],
        &none(),
        &none(),
        false,
    );
    assert_eq!(forums.tasks[0].read, Read::Nothing);
}
