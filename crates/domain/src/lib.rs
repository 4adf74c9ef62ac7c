//! The pure domain of discord-engagement: no async, no AWS, no network.
//!
//! Days and periods in a guild's time zone, snowflakes, counters and how they fold together live here, so
//! that the functions, the command-line tool and the tests all count the same way.

pub mod snowflake;
