//! `engagement`: the project's command-line tool. Each subcommand lives in its own module under
//! `subcommands/`, with its clap arguments and a `run` function.

mod subcommands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// discord-engagement: Discord activity counters on AWS Lambda and DynamoDB.
#[derive(Debug, Parser)]
#[command(name = "engagement", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Re-sign Lambda event files (events/*.json) with the DEVELOPMENT-ONLY key.
    #[cfg(feature = "sign-event")]
    SignEvent(subcommands::sign_event::Args),
    /// Poll Discord once and count what is new (the same code as the `sync` function).
    Sync(subcommands::sync::Args),
    /// Count a guild's older history back to a date, resumably.
    Backfill(subcommands::backfill::Args),
    /// Print counters per (day, channel, member) as CSV or JSON lines.
    Export(subcommands::export::Args),
    /// Print DAU, WAU, MAU, new and returning members and messages per day as CSV or JSON lines.
    Insights(subcommands::insights::Args),
    /// Apply a guild's activity roles and post its latest digest now, or print them with --dry-run.
    Actions(subcommands::actions::Args),
    /// Create the DynamoDB table as infra/template.yaml defines it.
    CreateTable(subcommands::create_table::Args),
    /// Register the slash commands with Discord (globally, or in one guild with --guild).
    RegisterCommands(subcommands::register_commands::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr (stdout is for the command's output).
    engagement_startup::logging::init();
    let result = match cli.command {
        #[cfg(feature = "sign-event")]
        Command::SignEvent(args) => subcommands::sign_event::run(&args),
        Command::Sync(args) => subcommands::sync::run(args).await,
        Command::Backfill(args) => subcommands::backfill::run(args).await,
        Command::Export(args) => subcommands::export::run(args).await,
        Command::Insights(args) => subcommands::insights::run(args).await,
        Command::Actions(args) => subcommands::actions::run(args).await,
        Command::CreateTable(args) => subcommands::create_table::run(args).await,
        Command::RegisterCommands(args) => subcommands::register_commands::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
