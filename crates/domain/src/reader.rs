//! The read port: what reports read, whatever keeps the counters.
//!
//! The DynamoDB store implements it for the functions; `engagement-testkit` has an in-memory one, so the
//! reports are tested without a database. Only the definition lives here: no implementation does I/O in
//! this crate.

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::ControlFlow;

use crate::{
    ChannelId, DailyTallies, Day, DayRange, GuildAccess, GuildId, HourlyCounts, Tally, UserId,
};

/// What reports read: a guild's channel permissions, and its counters by day, over a range or for all
/// time. Every answer is exact: counters not compacted yet are included. (A guild's config is read by the
/// caller, which needs it before it knows the report.)
pub trait CounterReader: Send + Sync {
    /// Why a read failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The guild's roles and channel permission overwrites as the sync last listed them, if it has.
    fn guild_access(
        &self,
        guild: GuildId,
    ) -> impl Future<Output = Result<Option<GuildAccess>, Self::Error>> + Send;

    /// Up to when the guild's last complete sync run counted (Unix ms); `None` before the first.
    fn last_synced(
        &self,
        guild: GuildId,
    ) -> impl Future<Output = Result<Option<u64>, Self::Error>> + Send;

    /// Every counter of a range of days as one tally.
    fn load_total(
        &self,
        guild: GuildId,
        range: DayRange,
    ) -> impl Future<Output = Result<Tally, Self::Error>> + Send;

    /// Every counter ever counted in the guild as one tally.
    fn load_all_time(
        &self,
        guild: GuildId,
    ) -> impl Future<Output = Result<Tally, Self::Error>> + Send;

    /// One member's counters on each day of `range` that has any (without categories, see
    /// [`Tally::only_member`]): what `scan_days` hands over, restricted to the member, without reading
    /// anyone else's.
    fn member_days(
        &self,
        guild: GuildId,
        member: UserId,
        range: DayRange,
    ) -> impl Future<Output = Result<DailyTallies, Self::Error>> + Send;

    /// Messages per (day, local hour, counting channel) of a range (days counted before hourly
    /// counts were kept have none).
    fn load_hours(
        &self,
        guild: GuildId,
        range: DayRange,
    ) -> impl Future<Output = Result<HourlyCounts, Self::Error>> + Send;

    /// Hands the messages of each day of `range` that has any to `each`, in day order, one day at a time:
    /// per (counting channel, member), no reactions, categories as of the day (what `scan_days` hands
    /// over, messages only, read for a fraction of its cost). Stops early when `each` breaks.
    fn scan_activity<F>(
        &self,
        guild: GuildId,
        range: DayRange,
        each: F,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send
    where
        F: FnMut(Day, Tally) -> ControlFlow<()> + Send;

    /// The first day of every (member, counting channel) with a counted message, over all counted
    /// history.
    fn load_first_seen(
        &self,
        guild: GuildId,
    ) -> impl Future<Output = Result<BTreeMap<(UserId, ChannelId), Day>, Self::Error>> + Send;

    /// Hands the counters of each day of `range` that has any to `each`, in day order, one day at a time;
    /// stops early when `each` breaks.
    fn scan_days<F>(
        &self,
        guild: GuildId,
        range: DayRange,
        each: F,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send
    where
        F: FnMut(Day, Tally) -> ControlFlow<()> + Send;
}
