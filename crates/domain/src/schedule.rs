//! Which guilds a sync run checks, and in what order: a guild that found nothing new is checked less and
//! less often, up to a ceiling; a guild with new messages, or a slash command from it, is checked every
//! run; and the guilds that waited longest go first, so a run that runs out of time is continued fairly by
//! the next. Pure decisions over the stored [`GuildSchedule`] rows and the run's clock.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use crate::GuildId;

/// What the sync remembers about one guild's checks (all times Unix ms on the run's clock; 0 is never).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuildSchedule {
    /// When the last *complete* check started: every channel was read up to then.
    pub checked_ms: u64,
    /// Complete checks in a row that found no new messages.
    pub quiet_checks: u32,
    /// The last slash command from the guild.
    pub nudged_ms: u64,
    /// When the last check listed the guild's roles (the visibility snapshot).
    pub roles_listed_ms: u64,
}

/// How quickly a quiet guild backs off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackOff {
    /// The wait after the first quiet check (the schedule's interval: such a guild is still checked
    /// every run).
    pub first_wait_ms: u64,
    /// The longest wait (`SYNC_IDLE_CEILING_MINUTES`); 0 checks every guild every run.
    pub ceiling_ms: u64,
    /// A guild due this much after the run starts is checked now: runs do not start on the minute.
    pub slack_ms: u64,
    /// A backing-off guild's roles are listed at least this often, even when its channels' permissions
    /// look unchanged (a role's permissions can change without any channel changing).
    pub roles_refresh_ms: u64,
}

impl Default for BackOff {
    fn default() -> Self {
        Self {
            first_wait_ms: 5 * MINUTE_MS,
            ceiling_ms: 60 * MINUTE_MS,
            slack_ms: MINUTE_MS,
            roles_refresh_ms: 24 * 60 * MINUTE_MS,
        }
    }
}

const MINUTE_MS: u64 = 60_000;

impl BackOff {
    /// Whether a run starting at `now_ms` lists the bot's guilds from Discord again rather than use the
    /// listing stored at `listed_ms`: when it is as old as the ceiling (a server that added the bot
    /// waits at most that long for its first check, unless a slash command from it comes first). Every
    /// run when there is no ceiling; a run without a stored listing always lists.
    #[must_use]
    pub const fn listing_due(&self, listed_ms: u64, now_ms: u64) -> bool {
        now_ms.saturating_add(self.slack_ms) >= listed_ms.saturating_add(self.ceiling_ms)
    }
}

impl GuildSchedule {
    /// Whether the guild has had no complete check yet, or a slash command since its last one: either
    /// way it goes first and its roles are listed.
    #[must_use]
    pub const fn urgent(&self) -> bool {
        self.checked_ms == 0 || self.nudged_ms > self.checked_ms
    }

    /// The wait after the last complete check: none after a check that found something, then doubling
    /// from `first_wait_ms` up to the ceiling.
    #[must_use]
    pub fn wait_ms(&self, back_off: &BackOff) -> u64 {
        if self.quiet_checks == 0 {
            return 0;
        }
        let doublings = (self.quiet_checks - 1).min(32);
        back_off.first_wait_ms.saturating_mul(1 << doublings).min(back_off.ceiling_ms)
    }

    /// When the guild is next due (its last complete check plus its wait).
    #[must_use]
    pub fn due_ms(&self, back_off: &BackOff) -> u64 {
        self.checked_ms.saturating_add(self.wait_ms(back_off))
    }

    /// Whether a run starting at `now_ms` checks the guild.
    #[must_use]
    pub fn due(&self, back_off: &BackOff, now_ms: u64) -> bool {
        self.urgent() || now_ms.saturating_add(back_off.slack_ms) >= self.due_ms(back_off)
    }

    /// Whether a check starting at `now_ms` lists the guild's roles whatever its channels look like: a
    /// guild checked every run (no wait) or urgent always does, one backing off when its last listing is
    /// `roles_refresh_ms` old. Otherwise the sync lists roles only when the channels' permissions
    /// differ from the stored snapshot.
    #[must_use]
    pub fn roles_due(&self, back_off: &BackOff, now_ms: u64) -> bool {
        self.urgent()
            || self.wait_ms(back_off) == 0
            || now_ms.saturating_sub(self.roles_listed_ms) >= back_off.roles_refresh_ms
    }

    /// The row after a complete check that started at `now_ms`. A check that found new messages, or
    /// that a slash command asked for, starts the back-off over: the guild is checked every run again
    /// until its checks find nothing.
    #[must_use]
    pub const fn after_check(self, now_ms: u64, found_new: bool, roles_listed: bool) -> Self {
        let fresh = found_new || self.nudged_ms > self.checked_ms;
        Self {
            checked_ms: now_ms,
            quiet_checks: if fresh { 0 } else { self.quiet_checks.saturating_add(1) },
            nudged_ms: self.nudged_ms,
            roles_listed_ms: if roles_listed { now_ms } else { self.roles_listed_ms },
        }
    }
}

/// A run's guilds: those it checks, most overdue first, and those not due yet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOrder {
    /// The guilds to check, in order.
    pub due: Vec<GuildId>,
    /// The guilds left for a later run.
    pub not_due: Vec<GuildId>,
}

/// Orders the listed `guilds` for a run starting at `now_ms`. Guilds without a row, then those with a slash
/// command since their last check, go first. Then by how long past due they are, counted double for a
/// guild whose last check found new messages (its members are waiting for counts); ties go to the older
/// check, then to the lower id. A guild left over by a run that ran out of time keeps its old check, so
/// it is further past due at the next run: ahead of the guilds of its kind that run checked (an active
/// guild's overdue time counts double, so a busy guild can still go before a quiet left-over one).
#[must_use]
pub fn run_order(
    guilds: &[GuildId],
    rows: &BTreeMap<GuildId, GuildSchedule>,
    back_off: &BackOff,
    now_ms: u64,
) -> RunOrder {
    let mut order = RunOrder::default();
    let mut due = Vec::new();
    for &guild in guilds {
        let row = rows.get(&guild).copied().unwrap_or_default();
        if row.due(back_off, now_ms) {
            let overdue = now_ms.saturating_sub(row.due_ms(back_off));
            let weighted = if row.quiet_checks == 0 { overdue.saturating_mul(2) } else { overdue };
            due.push((Reverse(row.urgent()), Reverse(weighted), row.checked_ms, guild));
        } else {
            order.not_due.push(guild);
        }
    }
    due.sort_unstable();
    due.dedup_by_key(|entry| entry.3);
    order.due = due.into_iter().map(|entry| entry.3).collect();
    order
}

/// How long the longest-waiting guild has gone without a complete check, at `now_ms`: what the
/// oldest-check alarm watches. Guilds never checked are left out (they are counted as overdue until
/// their first check).
#[must_use]
pub fn oldest_check_age_ms(
    guilds: &[GuildId],
    rows: &BTreeMap<GuildId, GuildSchedule>,
    now_ms: u64,
) -> u64 {
    guilds
        .iter()
        .filter_map(|g| rows.get(g))
        .filter(|row| row.checked_ms > 0)
        .map(|row| now_ms.saturating_sub(row.checked_ms))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 60 * MINUTE_MS;
    const START: u64 = 1_800_000_000_000;

    fn quiet(checked_ms: u64, quiet_checks: u32) -> GuildSchedule {
        GuildSchedule { checked_ms, quiet_checks, ..GuildSchedule::default() }
    }

    #[test]
    fn the_wait_doubles_from_the_first_wait_up_to_the_ceiling() {
        let back_off = BackOff::default();
        let waits: Vec<u64> =
            (0..8).map(|q| quiet(START, q).wait_ms(&back_off) / MINUTE_MS).collect();
        assert_eq!(waits, [0, 5, 10, 20, 40, 60, 60, 60]);
        assert_eq!(quiet(START, u32::MAX).wait_ms(&back_off), HOUR, "no overflow");
        let every_run = BackOff { ceiling_ms: 0, ..back_off };
        assert_eq!(quiet(START, 9).wait_ms(&every_run), 0);
    }

    #[test]
    fn a_guild_is_due_when_its_wait_has_passed_give_or_take_the_slack() {
        let back_off = BackOff::default();
        let row = quiet(START, 2); // waits 10 minutes
        assert!(!row.due(&back_off, START + 8 * MINUTE_MS));
        assert!(row.due(&back_off, START + 9 * MINUTE_MS), "within the minute of slack");
        assert!(row.due(&back_off, START + 10 * MINUTE_MS));
        assert!(quiet(START, 0).due(&back_off, START), "a guild with news is due every run");
        assert!(GuildSchedule::default().due(&back_off, START), "never checked");
        let nudged = GuildSchedule { nudged_ms: START + 1, ..quiet(START, 6) };
        assert!(nudged.urgent() && nudged.due(&back_off, START + 2));
        let stale_nudge = GuildSchedule { nudged_ms: START - 1, ..quiet(START, 6) };
        assert!(!stale_nudge.due(&back_off, START + 2));
    }

    #[test]
    fn a_check_resets_or_extends_the_back_off() {
        // Its last command came before its last check.
        let row = GuildSchedule {
            nudged_ms: START - 2 * HOUR,
            roles_listed_ms: 7,
            ..quiet(START - HOUR, 3)
        };
        let quiet_again = row.after_check(START, false, false);
        assert_eq!(quiet_again, GuildSchedule { checked_ms: START, quiet_checks: 4, ..row });
        let busy = row.after_check(START, true, true);
        assert_eq!(
            (busy.quiet_checks, busy.roles_listed_ms, busy.nudged_ms),
            (0, START, START - 2 * HOUR)
        );
        let nudged = GuildSchedule { nudged_ms: START - 5, ..quiet(START - 10, 6) };
        let after_nudge = nudged.after_check(START, false, true);
        assert_eq!(after_nudge.quiet_checks, 0, "a command brings the guild back to every run");
        assert!(!after_nudge.urgent(), "the nudge was seen by this check");
    }

    #[test]
    fn the_guild_listing_is_kept_for_as_long_as_the_ceiling() {
        let back_off = BackOff::default();
        assert!(!back_off.listing_due(START, START + 55 * MINUTE_MS));
        assert!(back_off.listing_due(START, START + 59 * MINUTE_MS), "within the slack");
        let every_run = BackOff { ceiling_ms: 0, ..back_off };
        assert!(every_run.listing_due(START, START));
    }

    #[test]
    fn a_backing_off_guild_lists_its_roles_daily_others_every_check() {
        let back_off = BackOff::default();
        let day = back_off.roles_refresh_ms;
        let backing_off = GuildSchedule { roles_listed_ms: START, ..quiet(START, 3) };
        assert!(!backing_off.roles_due(&back_off, START + HOUR));
        assert!(backing_off.roles_due(&back_off, START + day));
        assert!(quiet(START, 0).roles_due(&back_off, START + 1), "a busy guild");
        assert!(GuildSchedule::default().roles_due(&back_off, START), "never checked");
        let nudged = GuildSchedule { nudged_ms: START + 5, ..backing_off };
        assert!(nudged.roles_due(&back_off, START + 10));
        let every_run = BackOff { ceiling_ms: 0, ..back_off };
        assert!(backing_off.roles_due(&every_run, START + 1), "no back-off: as before");
    }

    #[test]
    fn never_checked_and_nudged_guilds_go_first_then_the_most_overdue() {
        let back_off = BackOff::default();
        let g = |id| GuildId(id);
        let now = START + 2 * HOUR;
        let rows = BTreeMap::from([
            // Idle, due an hour ago (quiet 6 → 60 min wait, checked 2 h ago).
            (g(1), quiet(START, 6)),
            // Active, checked 35 minutes ago: 35 min overdue, counted double = 70.
            (g(2), quiet(now - 35 * MINUTE_MS, 0)),
            // Idle, checked 30 minutes ago with a 60-minute wait: not due.
            (g(3), quiet(now - 30 * MINUTE_MS, 9)),
            // Nudged since its last check.
            (g(4), GuildSchedule { nudged_ms: now - MINUTE_MS, ..quiet(now - 30 * MINUTE_MS, 9) }),
            // Idle, due exactly as long ago as guild 1 (40 min wait) but checked later: goes after it.
            (g(6), quiet(START + 20 * MINUTE_MS, 4)),
        ]);
        // Guild 5 has no row: never checked.
        let order = run_order(&[g(1), g(2), g(3), g(4), g(5), g(6), g(1)], &rows, &back_off, now);
        assert_eq!(order.due, [g(5), g(4), g(2), g(1), g(6)]);
        assert_eq!(order.not_due, [g(3)]);
    }

    /// A run that stops early leaves its unchecked guilds further past due than the ones it checked, so
    /// the next run starts with them.
    #[test]
    fn guilds_left_over_by_a_run_go_first_at_the_next() {
        let back_off = BackOff::default();
        let guilds: Vec<GuildId> = (1..=6).map(GuildId).collect();
        let mut rows: BTreeMap<GuildId, GuildSchedule> =
            guilds.iter().map(|&g| (g, quiet(START, 0))).collect();
        let mut now = START + 5 * MINUTE_MS;
        let first = run_order(&guilds, &rows, &back_off, now);
        // This run checks only the first three.
        for g in &first.due[..3] {
            let row = rows.get(g).copied().unwrap_or_default();
            rows.insert(*g, row.after_check(now, true, false));
        }
        now += 5 * MINUTE_MS;
        let second = run_order(&guilds, &rows, &back_off, now);
        assert_eq!(second.due[..3], first.due[3..], "the left-over guilds go first");
    }

    #[test]
    fn the_oldest_check_age_leaves_out_guilds_never_checked() {
        let rows =
            BTreeMap::from([(GuildId(1), quiet(START, 1)), (GuildId(2), quiet(START - HOUR, 1))]);
        let guilds = [GuildId(1), GuildId(2), GuildId(3)];
        assert_eq!(oldest_check_age_ms(&guilds, &rows, START + HOUR), 2 * HOUR);
        assert_eq!(oldest_check_age_ms(&[GuildId(3)], &rows, START), 0);
    }
}
