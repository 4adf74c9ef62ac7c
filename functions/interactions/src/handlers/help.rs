//! `/engagement-help`: an ephemeral list of what the bot can do.

use std::fmt::Write as _;

use super::{CommandContext, CommandHandler, HandlerFuture};
use crate::response;

/// The route of the built-in help command.
pub const ROUTE: &str = engagement_commands::definition::name::HELP;
/// Its description, as listed in the help text and registered with Discord.
pub const DESCRIPTION: &str = engagement_commands::definition::HELP_DESCRIPTION;

/// Answers with an ephemeral message listing every registered command.
#[derive(Debug, Clone)]
pub struct HelpCommand {
    text: String,
}

impl HelpCommand {
    /// Help listing `commands` as (route, description) pairs.
    #[must_use]
    pub fn new(commands: Vec<(String, String)>) -> Self {
        let mut text = String::from(
            "**discord-engagement** counts messages and reactions per day, channel and member \
             (it never stores message content).\n\n**Commands**\n",
        );
        for (route, description) in commands {
            // Writing to a String cannot fail.
            let _ = writeln!(text, "`/{route}` — {description}");
        }
        Self { text }
    }

    /// The text the user sees.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl CommandHandler for HelpCommand {
    fn handle<'a>(&'a self, _ctx: &'a CommandContext) -> HandlerFuture<'a> {
        Box::pin(async move { Ok(response::ephemeral_message(self.text.clone())) })
    }
}
