//! Test helpers shared by the crates, the functions and the end-to-end tests.
//!
//! - [`signing`]: Ed25519 request signing with a generated key or the DEVELOPMENT-ONLY key of `events/`.
//! - [`events`]: the Lambda event files in `events/`, and re-signing them.
//! - [`memory`]: an in-memory [`CounterReader`](engagement_domain::CounterReader), for report tests.
//! - [`venv`]: the tools `scripts/setup` installs in `.venv` (cargo-lambda, moto, PyNaCl).
//! - [`process`]: free local ports and child processes that are killed (with their children) on drop.
//! - `dynamo` (feature `dynamodb`): a DynamoDB client for the moto server `scripts/test` starts.
//! - `runtime_api` (feature `runtime-api`): a fake Lambda Runtime API that runs a function's real binary.

#[cfg(feature = "dynamodb")]
pub mod dynamo;
pub mod events;
pub mod memory;
pub mod process;
#[cfg(feature = "runtime-api")]
pub mod runtime_api;
pub mod signing;
pub mod venv;

use std::path::PathBuf;

/// The root of the Cargo workspace (the directory holding `events/`, `scripts/` and `.venv/`).
#[must_use]
pub fn workspace_root() -> PathBuf {
    // crates/testkit → crates → root
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.ancestors().nth(2).map_or_else(|| manifest_dir.clone(), PathBuf::from)
}
