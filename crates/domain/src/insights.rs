//! Insights: DAU/WAU/MAU, new and returning members and weekly retention, computed from each day's
//! activity and the members' first days (see [`crate::activity`]).
//!
//! Definitions (the README states them too):
//! - **active member on a day**: at least one counted message that day (reactions do not make one);
//! - **DAU(d)**: active members on d; **WAU(d)**: distinct members active on any of d-6..d; **MAU(d)**:
//!   on any of d-29..d (local days);
//! - **new member on d**: their first counted message (in all counted history, backfills included) is on
//!   d; **returning**: active on d and first active before;
//! - **retention**: of the members new in ISO week W, the share active in each of the weeks W+1 … W+8.
//!
//! Every figure is over the (channel, member) pairs the caller keeps: the channels the audience may see,
//! in the scope asked for, without members who opted out. A member's first day is their earliest in those
//! channels, so nothing said in a channel the audience cannot see makes anyone "returning".

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::Datelike;

use crate::{ChannelId, Day, DayRange, Scope, Tally, UserId};

/// Days before a day that its MAU window reaches back (d-29..d).
pub const MAU_WINDOW: i32 = 30;
/// Days of the WAU window (d-6..d).
pub const WAU_WINDOW: i32 = 7;
/// Weeks after joining that retention follows.
pub const RETENTION_WEEKS: usize = 8;

/// One day's figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayFigures {
    /// The day.
    pub day: Day,
    /// Members active that day.
    pub dau: usize,
    /// Members active on any of the 7 days up to it.
    pub wau: usize,
    /// Members active on any of the 30 days up to it.
    pub mau: usize,
    /// Active members whose first day it is.
    pub new_members: usize,
    /// Active members first active before it.
    pub returning_members: usize,
    /// Messages that day.
    pub messages: i64,
}

/// A join week's retention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cohort {
    /// Monday of the ISO week the members were new in.
    pub week: Day,
    /// Members new that week.
    pub members: usize,
    /// For each of the weeks after it (1, 2, …): how many of them were active in it; `None` for a week
    /// that has not begun.
    pub active: Vec<Option<usize>>,
}

impl Cohort {
    /// The share (0–1) of the cohort active `weeks_after` weeks later, if that week has begun and the
    /// cohort has members.
    #[must_use]
    pub fn share(&self, weeks_after: usize) -> Option<f64> {
        let active = (*self.active.get(weeks_after.checked_sub(1)?)?)?;
        (self.members > 0).then(|| to_f64(active) / to_f64(self.members))
    }
}

#[allow(clippy::cast_precision_loss)] // member counts are far below 2^52
const fn to_f64(n: usize) -> f64 {
    n as f64
}

/// Who was active on each day and how many messages they sent, in what a reply counts, and each member's
/// first day there. Built a day at a time ([`add_day`](Self::add_day), in day order) and then from the
/// first days ([`add_first_seen`](Self::add_first_seen)), so a long range is never held whole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Participation {
    /// Active members per day (days with none left out).
    pub active: BTreeMap<Day, BTreeSet<UserId>>,
    /// Messages per day.
    pub messages: BTreeMap<Day, i64>,
    /// Each member's first day.
    pub first_day: BTreeMap<UserId, Day>,
    /// Each channel's category, as of the newest day added that names it.
    categories: BTreeMap<ChannelId, Option<ChannelId>>,
}

impl Participation {
    /// Adds a day's messages per (channel, member) in `scope` (a channel's category as of that day),
    /// of the pairs `counted` keeps.
    pub fn add_day(
        &mut self,
        day: Day,
        tally: &Tally,
        scope: Scope,
        counted: impl Fn(ChannelId, UserId) -> bool,
    ) {
        self.categories.extend(tally.categories.iter().map(|(k, v)| (*k, *v)));
        for (&(channel, user), counts) in &tally.counters {
            if counts.messages > 0 && tally.in_scope(channel, scope) && counted(channel, user) {
                self.active.entry(day).or_default().insert(user);
                *self.messages.entry(day).or_default() += counts.messages;
            }
        }
    }

    /// Takes each channel's category as last seen (what first days in a category scope go by: a
    /// channel quiet in the days added may hold someone's first message).
    pub fn learn_categories(&mut self, categories: &BTreeMap<ChannelId, Option<ChannelId>>) {
        self.categories.extend(categories.iter().map(|(k, v)| (*k, *v)));
    }

    /// Sets each member's first day: their earliest in the channels of `scope` (a category: as of the
    /// newest day added, or as [learnt](Self::learn_categories)) that `counted` keeps — and never
    /// after a day they were active on (the days and the first days are read one after the other, and
    /// a batch committed in between is in only one of them).
    pub fn add_first_seen(
        &mut self,
        first_seen: &BTreeMap<(UserId, ChannelId), Day>,
        scope: Scope,
        counted: impl Fn(ChannelId, UserId) -> bool,
    ) {
        for (&(user, channel), &day) in first_seen {
            let in_scope = match scope {
                Scope::Guild => true,
                Scope::Channel(c) => c == channel,
                Scope::Category(cat) => {
                    self.categories.get(&channel).copied().flatten() == Some(cat)
                }
            };
            if in_scope && counted(channel, user) {
                self.first_day.entry(user).and_modify(|d| *d = (*d).min(day)).or_insert(day);
            }
        }
        for (&day, users) in &self.active {
            for &user in users {
                self.first_day.entry(user).and_modify(|d| *d = (*d).min(day)).or_insert(day);
            }
        }
    }

    /// The figures of each day of `range` (the activity must reach back to `range.first` - 29 for
    /// WAU and MAU to be whole).
    #[must_use]
    pub fn daily_figures(&self, range: DayRange) -> Vec<DayFigures> {
        let mut week = Window::new(WAU_WINDOW);
        let mut month = Window::new(MAU_WINDOW);
        let empty = BTreeSet::new();
        let mut out = Vec::new();
        let mut day = range.first.plus(1 - MAU_WINDOW);
        while day <= range.last {
            week.push(day, &self.active);
            month.push(day, &self.active);
            if day >= range.first {
                let active = self.active.get(&day).unwrap_or(&empty);
                // A first day after a day the member was active on cannot be (the reads are exact);
                // if it were, they count as new rather than vanish.
                let new = active.iter().filter(|u| self.first_day.get(u).is_none_or(|f| *f >= day));
                let new_members = new.count();
                out.push(DayFigures {
                    day,
                    dau: active.len(),
                    wau: week.distinct(),
                    mau: month.distinct(),
                    new_members,
                    returning_members: active.len() - new_members,
                    messages: self.messages.get(&day).copied().unwrap_or(0),
                });
            }
            day = day.next();
        }
        out
    }

    /// Retention of the members new in each ISO week from the one holding `first` to the one holding
    /// `last`, over the `after` weeks that follow each; weeks that begin after `today` are `None`.
    #[must_use]
    pub fn retention(&self, first: Day, last: Day, after: usize, today: Day) -> Vec<Cohort> {
        let mut cohorts: BTreeMap<Day, BTreeSet<UserId>> = BTreeMap::new();
        let mut week = monday_of(first);
        while week <= last {
            cohorts.insert(week, BTreeSet::new());
            week = week.plus(7);
        }
        for (&user, &day) in &self.first_day {
            if let Some(members) = cohorts.get_mut(&monday_of(day)) {
                members.insert(user);
            }
        }
        cohorts
            .into_iter()
            .map(|(week, members)| {
                let active = (1..=after)
                    .map(|k| {
                        let start = week.plus(7 * i32::try_from(k).unwrap_or(i32::MAX / 8));
                        (start <= today).then(|| {
                            let mut seen: BTreeSet<UserId> = BTreeSet::new();
                            for users in self.active.range(start..start.plus(7)).map(|(_, u)| u) {
                                seen.extend(users.intersection(&members).copied());
                            }
                            seen.len()
                        })
                    })
                    .collect();
                Cohort { week, members: members.len(), active }
            })
            .collect()
    }
}

/// Monday of a day's ISO week.
#[must_use]
pub fn monday_of(day: Day) -> Day {
    let back = i32::try_from(day.date().weekday().num_days_from_monday()).unwrap_or(0);
    day.plus(-back)
}

/// Distinct members over a sliding window of days.
struct Window {
    width: i32,
    counts: HashMap<UserId, u32>,
}

impl Window {
    fn new(width: i32) -> Self {
        Self { width, counts: HashMap::new() }
    }

    /// Moves the window to end at `day` (days are pushed one after the other).
    fn push(&mut self, day: Day, active: &BTreeMap<Day, BTreeSet<UserId>>) {
        for &user in active.get(&day).into_iter().flatten() {
            *self.counts.entry(user).or_default() += 1;
        }
        for &user in active.get(&day.plus(-self.width)).into_iter().flatten() {
            if let Some(n) = self.counts.get_mut(&user) {
                *n -= 1;
                if *n == 0 {
                    self.counts.remove(&user);
                }
            }
        }
    }

    fn distinct(&self) -> usize {
        self.counts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Counts;

    fn day(s: &str) -> Day {
        s.parse().unwrap_or(Day::from_ordinal(0))
    }

    /// Days and first days from (day, channel, member) triples, each one message.
    struct Activity {
        days: BTreeMap<Day, Tally>,
        first_seen: BTreeMap<(UserId, ChannelId), Day>,
    }

    fn activity(rows: &[(Day, u64, u64)]) -> Activity {
        let mut out = Activity { days: BTreeMap::new(), first_seen: BTreeMap::new() };
        for &(d, c, u) in rows {
            out.days.entry(d).or_default().add(ChannelId(c), UserId(u), Counts::messages(1));
            out.first_seen
                .entry((UserId(u), ChannelId(c)))
                .and_modify(|f| *f = (*f).min(d))
                .or_insert(d);
        }
        out
    }

    impl Participation {
        fn of(a: &Activity, scope: Scope, counted: impl Fn(ChannelId, UserId) -> bool) -> Self {
            let mut p = Self::default();
            for (&day, tally) in &a.days {
                p.add_day(day, tally, scope, &counted);
            }
            p.add_first_seen(&a.first_seen, scope, &counted);
            p
        }
    }

    #[test]
    fn dau_wau_mau_new_and_returning_follow_the_definitions() {
        let d0 = day("2026-11-01");
        let a = activity(&[
            (d0, 1, 10),
            (d0, 2, 10),
            (d0, 1, 11),
            (d0.plus(6), 1, 12),
            (d0.plus(7), 1, 10),
            (d0.plus(29), 2, 13),
            (d0.plus(30), 1, 12),
        ]);
        let p = Participation::of(&a, Scope::Guild, |_, _| true);
        let range = DayRange { first: d0, last: d0.plus(30) };
        let figures = p.daily_figures(range);
        assert_eq!(figures.len(), 31);
        let none = DayFigures {
            day: d0,
            dau: 0,
            wau: 0,
            mau: 0,
            new_members: 0,
            returning_members: 0,
            messages: 0,
        };
        let at = |n: i32| figures.iter().find(|f| f.day == d0.plus(n)).copied().unwrap_or(none);
        assert_eq!(
            at(0),
            DayFigures {
                day: d0,
                dau: 2,
                wau: 2,
                mau: 2,
                new_members: 2,
                returning_members: 0,
                messages: 3
            }
        );
        // Day 6: 10 and 11 (day 0) and 12 are in the week; day 7: day 0 left it, 10 came back.
        assert_eq!((at(6).wau, at(6).mau, at(6).new_members), (3, 3, 1));
        assert_eq!(
            (at(7).dau, at(7).wau, at(7).new_members, at(7).returning_members),
            (1, 2, 0, 1)
        );
        // Day 29 still reaches day 0; day 30 does not.
        assert_eq!((at(29).mau, at(30).mau), (4, 3));
        assert_eq!((at(30).returning_members, at(30).wau), (1, 2));

        // Only channel 2: member 10 is new there on day 0, 13 on day 29; messages of channel 2 only.
        let p2 = Participation::of(&a, Scope::Channel(ChannelId(2)), |_, _| true);
        let f2 = p2.daily_figures(range);
        assert_eq!(f2.iter().map(|f| f.new_members).sum::<usize>(), 2);
        assert_eq!(f2.iter().map(|f| f.messages).sum::<i64>(), 2);

        // A channel the audience may not see makes nobody returning: without channel 2, 13 is unseen.
        let hidden = Participation::of(&a, Scope::Guild, |c, _| c != ChannelId(2));
        assert_eq!(hidden.first_day.get(&UserId(13)), None);
        assert_eq!(hidden.daily_figures(range).iter().map(|f| f.dau).sum::<usize>(), 5);
    }

    #[test]
    fn first_days_in_a_category_count_its_quiet_channels_and_never_follow_an_active_day() {
        let d0 = day("2026-11-01");
        // Member 10 spoke in channel 1 (category 9) long ago; channel 1 is quiet in the days read.
        let mut a = activity(&[(d0.plus(60), 2, 10), (d0.plus(60), 2, 11)]);
        a.first_seen.insert((UserId(10), ChannelId(1)), d0);
        for tally in a.days.values_mut() {
            tally.categories.insert(ChannelId(2), Some(ChannelId(9)));
        }
        let range = DayRange::single(d0.plus(60));
        let category = Scope::Category(ChannelId(9));
        let mut p = Participation::default();
        p.add_day(d0.plus(60), &a.days[&d0.plus(60)], category, |_, _| true);
        p.learn_categories(&BTreeMap::from([(ChannelId(1), Some(ChannelId(9)))]));
        p.add_first_seen(&a.first_seen, category, |_, _| true);
        let f = p.daily_figures(range);
        assert_eq!((f[0].dau, f[0].new_members, f[0].returning_members), (2, 1, 1));
        // First days read without a batch the days hold (member 11 absent): active means seen by then.
        let mut p = Participation::default();
        p.add_day(d0.plus(60), &a.days[&d0.plus(60)], Scope::Guild, |_, _| true);
        p.add_first_seen(&BTreeMap::new(), Scope::Guild, |_, _| true);
        assert_eq!(p.first_day.get(&UserId(11)), Some(&d0.plus(60)));
    }

    #[test]
    fn retention_follows_each_join_week() {
        let monday = day("2026-11-02");
        let a = activity(&[
            (monday, 1, 1),
            (monday.plus(2), 1, 2),
            (monday.plus(7), 1, 1),
            (monday.plus(15), 1, 2),
            (monday.plus(15), 1, 3),
        ]);
        let p = Participation::of(&a, Scope::Guild, |_, _| true);
        let cohorts = p.retention(monday, monday.plus(14), 3, monday.plus(15));
        assert_eq!(cohorts.len(), 3);
        assert_eq!(cohorts[0].members, 2);
        assert_eq!(cohorts[0].active, vec![Some(1), Some(1), None]);
        assert_eq!(cohorts[0].share(1), Some(0.5));
        assert_eq!((cohorts[1].members, cohorts[2].members), (0, 1));
        assert_eq!(cohorts[2].active, vec![None, None, None]);
        assert_eq!(monday_of(monday.plus(6)), monday);
    }
}
