//! One module per subcommand: its clap `Args` and its `run`.

pub mod actions;
pub mod backfill;
pub mod create_table;
pub mod export;
pub mod insights;
pub mod register_commands;
#[cfg(feature = "sign-event")]
pub mod sign_event;
pub mod sync;

use engagement_bot_token::{discord_config, environment_token};
use engagement_discord::DiscordClient;
use engagement_startup::Env;
use engagement_store::CounterStore;

/// The counter store `TABLE_NAME` names, reached through the AWS SDK's own variables.
pub(crate) async fn store(env: &Env) -> anyhow::Result<CounterStore> {
    Ok(CounterStore::connect(env.table_name()?).await)
}

/// The Discord client from the `DISCORD_*` variables; the tool reads the token from `DISCORD_BOT_TOKEN`
/// only (never from AWS).
pub(crate) fn discord(env: &Env) -> anyhow::Result<DiscordClient> {
    Ok(DiscordClient::new(discord_config(env, environment_token(env)?)?)?)
}
