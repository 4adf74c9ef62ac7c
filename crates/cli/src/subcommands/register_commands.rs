//! `engagement register-commands [--guild ID] [--print]`: registers the bot's slash commands with Discord.
//!
//! Sends [`engagement_commands::definition::definitions`] — the same definitions the interactions function
//! routes and reads options by — as a bulk overwrite: globally (Discord may take a while to show changes
//! everywhere), or in one guild with `--guild` (at once; handy while testing). A bulk overwrite replaces
//! every command of that scope, so commands removed from the definitions disappear too.
//!
//! Reads `DISCORD_APPLICATION_ID`, `DISCORD_BOT_TOKEN` and `DISCORD_API_BASE` (default Discord's API).

use std::num::NonZeroU64;

use anyhow::Context as _;
use engagement_commands::definition::definitions;
use engagement_discord::Id;
use engagement_startup::Env;

/// Arguments of `engagement register-commands`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Register the commands in this guild only (they show at once) instead of globally.
    #[arg(long, value_name = "ID")]
    guild: Option<NonZeroU64>,
    /// The application id (the developer portal's "Application ID").
    #[arg(long, value_name = "ID", env = "DISCORD_APPLICATION_ID", hide_env_values = true)]
    application_id: Option<NonZeroU64>,
    /// Print the commands as JSON instead of registering them.
    #[arg(long)]
    print: bool,
}

/// Registers (or prints) the commands; one line per registered command.
///
/// # Errors
/// Missing settings, or Discord refusing the commands (the error says why).
pub async fn run(args: Args) -> anyhow::Result<()> {
    let commands = definitions();
    if args.print {
        println!("{}", serde_json::to_string_pretty(&commands)?);
        return Ok(());
    }
    let application = args.application_id.map(Id::from).context(
        "DISCORD_APPLICATION_ID is not set: give the application's id (developer portal, General Information) \
         or --application-id",
    )?;
    let client = super::discord(&Env::process())?;
    let (registered, scope) = match args.guild {
        Some(guild) => (
            client
                .bulk_overwrite_guild_commands(application, Id::from(guild), &commands)
                .await
                .with_context(|| format!("registering the commands in guild {guild}"))?,
            format!("in guild {guild}"),
        ),
        None => (
            client
                .bulk_overwrite_global_commands(application, &commands)
                .await
                .context("registering the global commands")?,
            "globally".to_owned(),
        ),
    };
    for command in &registered {
        let id = command.id.map(|id| id.to_string()).unwrap_or_default();
        println!("registered /{} {id}", command.name);
    }
    println!("{} commands registered {scope}", registered.len());
    Ok(())
}
