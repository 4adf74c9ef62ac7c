//! One module per subcommand: its clap `Args` and its `run`.

pub mod backfill;
pub mod create_table;
pub mod export;
pub mod register_commands;
#[cfg(feature = "sign-event")]
pub mod sign_event;
pub mod sync;
