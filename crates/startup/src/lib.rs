//! Start-up, shared by every function and the CLI: the one environment reader ([`env`]) and the one
//! logging set-up ([`logging`]).

pub mod env;
pub mod logging;

pub use env::{Env, SettingError};
