//! Counters over a span of days, and the questions people ask of them.
//!
//! A [`Tally`] holds per (channel, member) counters for one span (a day, a range, all time); a
//! [`DailyTallies`] keeps one tally per day for charts and per-day questions. Both are plain in-memory
//! values: the store loads them, the commands ask them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::{ChannelId, Counts, Day, DayRange, Metric, UserId};

/// Per (counting channel, member) counters over some span, with each channel's category.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Counters, never all-zero.
    pub counters: BTreeMap<(ChannelId, UserId), Counts>,
    /// Category of each counting channel (`None`: no category), as last seen.
    pub categories: BTreeMap<ChannelId, Option<ChannelId>>,
}

/// What a leaderboard ranks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// The whole guild.
    Guild,
    /// One counting channel.
    Channel(ChannelId),
    /// Every channel of a category.
    Category(ChannelId),
}

impl Tally {
    /// An empty tally.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a delta.
    pub fn add(&mut self, channel: ChannelId, user: UserId, counts: Counts) {
        if counts.is_zero() {
            return;
        }
        let entry = self.counters.entry((channel, user)).or_default();
        *entry += counts;
        if entry.is_zero() {
            self.counters.remove(&(channel, user));
        }
    }

    /// Adds every counter of another tally; its categories win.
    pub fn merge(&mut self, other: &Self) {
        for (&(channel, user), &counts) in &other.counters {
            self.add(channel, user, counts);
        }
        self.categories.extend(other.categories.iter().map(|(k, v)| (*k, *v)));
    }

    /// Subtracts every counter of another tally (a part of this one); categories stay.
    pub fn subtract(&mut self, other: &Self) {
        for (&(channel, user), &counts) in &other.counters {
            self.add(channel, user, Counts::ZERO - counts);
        }
    }

    /// Its messages only: every counter's reactions dropped (counters left without messages go), the
    /// categories kept. What the day activity holds of a day summary.
    #[must_use]
    pub fn messages_only(&self) -> Self {
        let mut only = Self { categories: self.categories.clone(), ..Self::default() };
        for (&(channel, user), counts) in &self.counters {
            only.add(channel, user, Counts::messages(counts.messages));
        }
        only
    }

    /// Removes every counter of a member.
    pub fn erase(&mut self, user: UserId) {
        self.counters.retain(|&(_, u), _| u != user);
    }

    /// One member's counters, without categories: what is said about one member is over the whole
    /// guild (the store reads a member's share of a day without the day's categories).
    #[must_use]
    pub fn only_member(&self, user: UserId) -> Self {
        let counters =
            self.counters.iter().filter(|((_, u), _)| *u == user).map(|(k, v)| (*k, *v)).collect();
        Self { counters, categories: BTreeMap::new() }
    }

    /// Whether there are no counters.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }

    /// The category of a counting channel, if known and set.
    #[must_use]
    pub fn category_of(&self, channel: ChannelId) -> Option<ChannelId> {
        self.categories.get(&channel).copied().flatten()
    }

    /// Whether a counting channel is in a scope (a category: as this tally's categories say).
    #[must_use]
    pub fn in_scope(&self, channel: ChannelId, scope: Scope) -> bool {
        match scope {
            Scope::Guild => true,
            Scope::Channel(c) => c == channel,
            Scope::Category(cat) => self.category_of(channel) == Some(cat),
        }
    }

    /// Totals of everything in a scope.
    #[must_use]
    pub fn total(&self, scope: Scope) -> Counts {
        self.counters.iter().filter(|((c, _), _)| self.in_scope(*c, scope)).map(|(_, n)| *n).sum()
    }

    /// A member's totals in a scope.
    #[must_use]
    pub fn member_total(&self, user: UserId, scope: Scope) -> Counts {
        self.counters
            .iter()
            .filter(|((c, u), _)| *u == user && self.in_scope(*c, scope))
            .map(|(_, n)| *n)
            .sum()
    }

    /// Totals per member in a scope.
    #[must_use]
    pub fn by_member(&self, scope: Scope) -> HashMap<UserId, Counts> {
        let mut out: HashMap<UserId, Counts> = HashMap::new();
        for (&(c, u), &n) in &self.counters {
            if self.in_scope(c, scope) {
                *out.entry(u).or_default() += n;
            }
        }
        out
    }

    /// Totals per counting channel in a scope (optionally one member's).
    #[must_use]
    pub fn by_channel(&self, scope: Scope, member: Option<UserId>) -> HashMap<ChannelId, Counts> {
        let mut out: HashMap<ChannelId, Counts> = HashMap::new();
        for (&(c, u), &n) in &self.counters {
            if self.in_scope(c, scope) && member.is_none_or(|m| m == u) {
                *out.entry(c).or_default() += n;
            }
        }
        out
    }

    /// Totals per category (`None`: channels outside any category).
    #[must_use]
    pub fn by_category(&self) -> HashMap<Option<ChannelId>, Counts> {
        let mut out: HashMap<Option<ChannelId>, Counts> = HashMap::new();
        for (&(c, _), &n) in &self.counters {
            *out.entry(self.category_of(c)).or_default() += n;
        }
        out
    }

    /// Members with at least one message in a scope.
    #[must_use]
    pub fn active_members(&self, scope: Scope) -> BTreeSet<UserId> {
        self.counters
            .iter()
            .filter(|((c, _), n)| n.messages > 0 && self.in_scope(*c, scope))
            .map(|((_, u), _)| *u)
            .collect()
    }

    /// The top `n` members by a metric in a scope (ties broken by id; zero values left out).
    #[must_use]
    pub fn top_members(&self, metric: Metric, scope: Scope, n: usize) -> Vec<(UserId, Counts)> {
        top(self.by_member(scope), metric, n)
    }

    /// The top `n` counting channels by a metric in a scope.
    #[must_use]
    pub fn top_channels(&self, metric: Metric, scope: Scope, n: usize) -> Vec<(ChannelId, Counts)> {
        top(self.by_channel(scope, None), metric, n)
    }

    /// The top `n` categories by a metric (channels without a category are left out).
    #[must_use]
    pub fn top_categories(&self, metric: Metric, n: usize) -> Vec<(ChannelId, Counts)> {
        top(
            self.by_category().into_iter().filter_map(|(k, v)| k.map(|k| (k, v))).collect(),
            metric,
            n,
        )
    }

    /// A member's rank (1 = first) by a metric in a scope, and how many members are ranked; `None` when the
    /// member has nothing counted.
    #[must_use]
    pub fn rank(&self, user: UserId, metric: Metric, scope: Scope) -> Option<(usize, usize)> {
        let all = self.by_member(scope);
        let mine = all.get(&user)?.get(metric);
        if mine <= 0 {
            return None;
        }
        let ranked = all.values().filter(|c| c.get(metric) > 0).count();
        let ahead = all.values().filter(|c| c.get(metric) > mine).count();
        Some((ahead + 1, ranked))
    }
}

fn top<K: Ord + Copy>(totals: HashMap<K, Counts>, metric: Metric, n: usize) -> Vec<(K, Counts)> {
    let mut rows: Vec<(K, Counts)> =
        totals.into_iter().filter(|(_, c)| c.get(metric) > 0).collect();
    rows.sort_by(|a, b| b.1.get(metric).cmp(&a.1.get(metric)).then(a.0.cmp(&b.0)));
    rows.truncate(n);
    rows
}

/// One tally per day of a range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyTallies {
    /// The days asked for.
    pub range: DayRange,
    /// Tallies of the days that have counters.
    pub days: BTreeMap<Day, Tally>,
}

impl DailyTallies {
    /// No counters over `range`.
    #[must_use]
    pub fn empty(range: DayRange) -> Self {
        Self { range, days: BTreeMap::new() }
    }

    /// Adds a delta for a day inside the range (days outside it are ignored).
    pub fn add(&mut self, day: Day, channel: ChannelId, user: UserId, counts: Counts) {
        if self.range.contains(day) {
            self.days.entry(day).or_default().add(channel, user, counts);
        }
    }

    /// Records a channel's category on every day of the range held so far and the days to come.
    pub fn set_category(&mut self, channel: ChannelId, category: Option<ChannelId>) {
        for tally in self.days.values_mut() {
            tally.categories.insert(channel, category);
        }
    }

    /// Removes a member from every day.
    pub fn erase(&mut self, user: UserId) {
        for tally in self.days.values_mut() {
            tally.erase(user);
        }
    }

    /// Everything in the range as one tally.
    #[must_use]
    pub fn total(&self) -> Tally {
        let mut out = Tally::new();
        for tally in self.days.values() {
            out.merge(tally);
        }
        out
    }

    /// The value of a metric on every day of the range (zero on days without counters), for a scope and
    /// optionally one member.
    #[must_use]
    pub fn series(&self, metric: Metric, scope: Scope, member: Option<UserId>) -> Vec<(Day, i64)> {
        self.range
            .days()
            .map(|day| {
                let value = self.days.get(&day).map_or(0, |t| match member {
                    Some(u) => t.member_total(u, scope).get(metric),
                    None => t.total(scope).get(metric),
                });
                (day, value)
            })
            .collect()
    }

    /// Distinct members with at least one message, per day of the range.
    #[must_use]
    pub fn active_members_per_day(&self, scope: Scope) -> Vec<(Day, usize)> {
        self.range
            .days()
            .map(|day| (day, self.days.get(&day).map_or(0, |t| t.active_members(scope).len())))
            .collect()
    }

    /// Every (day, channel, member) counter, sorted: what `engagement export` prints.
    pub fn records(&self) -> impl Iterator<Item = (Day, ChannelId, UserId, Counts)> + '_ {
        self.days
            .iter()
            .flat_map(|(&day, t)| t.counters.iter().map(move |(&(c, u), &n)| (day, c, u, n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(m: i64, g: i64, r: i64) -> Counts {
        Counts { messages: m, reactions_given: g, reactions_received: r }
    }

    fn sample() -> Tally {
        let mut t = Tally::new();
        t.add(ChannelId(1), UserId(10), counts(5, 1, 2));
        t.add(ChannelId(2), UserId(10), counts(1, 0, 0));
        t.add(ChannelId(2), UserId(11), counts(7, 3, 0));
        t.add(ChannelId(3), UserId(12), counts(0, 4, 0));
        t.categories.insert(ChannelId(1), Some(ChannelId(100)));
        t.categories.insert(ChannelId(2), Some(ChannelId(100)));
        t.categories.insert(ChannelId(3), None);
        t
    }

    #[test]
    fn totals_per_scope() {
        let t = sample();
        assert_eq!(t.total(Scope::Guild), counts(13, 8, 2));
        assert_eq!(t.total(Scope::Channel(ChannelId(2))), counts(8, 3, 0));
        assert_eq!(t.total(Scope::Category(ChannelId(100))), counts(13, 4, 2));
        assert_eq!(t.member_total(UserId(10), Scope::Guild), counts(6, 1, 2));
        assert_eq!(t.by_category().get(&None), Some(&counts(0, 4, 0)));
    }

    #[test]
    fn leaderboards_rank_by_the_metric_and_skip_zeros() {
        let t = sample();
        let top = t.top_members(Metric::Messages, Scope::Guild, 10);
        assert_eq!(top.iter().map(|(u, _)| u.0).collect::<Vec<_>>(), vec![11, 10]);
        let given = t.top_members(Metric::ReactionsGiven, Scope::Guild, 2);
        assert_eq!(given.iter().map(|(u, _)| u.0).collect::<Vec<_>>(), vec![12, 11]);
        assert_eq!(t.rank(UserId(10), Metric::Messages, Scope::Guild), Some((2, 2)));
        assert_eq!(t.rank(UserId(12), Metric::Messages, Scope::Guild), None);
        assert_eq!(t.top_categories(Metric::Messages, 5), vec![(ChannelId(100), counts(13, 4, 2))]);
        assert_eq!(t.active_members(Scope::Guild).len(), 2);
    }

    #[test]
    fn daily_series_fill_missing_days_with_zero() {
        let first: Day = "2026-11-01".parse().unwrap_or(Day::from_ordinal(0));
        let range = DayRange { first, last: first.plus(2) };
        let mut d = DailyTallies::empty(range);
        d.add(first, ChannelId(1), UserId(1), counts(2, 0, 0));
        d.add(first.plus(2), ChannelId(1), UserId(2), counts(3, 0, 0));
        d.add(first.plus(3), ChannelId(1), UserId(2), counts(100, 0, 0));
        let series = d.series(Metric::Messages, Scope::Guild, None);
        assert_eq!(series.iter().map(|(_, v)| *v).collect::<Vec<_>>(), vec![2, 0, 3]);
        assert_eq!(d.total().total(Scope::Guild).messages, 5);
        assert_eq!(d.records().count(), 2);
    }
}
