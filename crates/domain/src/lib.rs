//! The pure domain of discord-engagement: no I/O, no AWS, no network (the read port, [`CounterReader`], is
//! only a trait here).
//!
//! Days and periods in a guild's time zone, snowflakes, counters and how they fold together live here, so
//! that the functions, the command-line tool and the tests all count the same way.

pub mod counts;
pub mod day;
pub mod ids;
pub mod snowflake;

pub use counts::{Counts, Metric};
pub use day::{Day, DayRange, GuildTimeZone, Month, TotalPlan};
pub use ids::{ChannelId, GuildId, MessageId, UserId};
pub mod activity;
pub mod batch;
mod codec;
pub mod hours;
pub mod summary;
pub mod tally;

pub use batch::{Batch, BatchBuilder, ChannelCursor, CounterDelta, HourDelta, MessageReactions};
pub use codec::CodecError;
pub use hours::{DayHours, HourlyCounts};
pub mod insights;
pub use activity::{DayActivity, FirstSeenShard};
pub use insights::{Cohort, DayFigures, Participation};
pub use summary::{CursorTable, ReactionLedger, Span, Summary};
pub use tally::{DailyTallies, Scope, Tally};
pub mod counting;
pub use counting::{GuildConfig, MessageFacts, ReactionCount};
pub mod period;
pub use period::{Period, PeriodError};
pub mod digest;
pub use digest::{DigestSchedule, Frequency};
pub mod reader;
pub mod roles;
pub use reader::CounterReader;
pub use roles::{ActivityRole, RolePlan, RoleRecord, Threshold};
pub mod visibility;
pub use visibility::{Audience, ChannelAccess, GuildAccess, Overwrite, OverwriteTarget, RoleId};
pub mod schedule;
pub use schedule::{BackOff, GuildSchedule, RunOrder};
