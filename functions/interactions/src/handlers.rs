//! Slash-command handlers: a registry that routes an application command by name to an async handler.
//!
//! A route is the command name, optionally followed by its subcommand group and subcommand, separated by
//! spaces: `"engagement-help"`, `"engagement stats"`, `"engagement admin reset"`. The longest registered
//! route matching the invocation wins, so one handler may take a whole command or each subcommand may have
//! its own.
//!
//! Handlers never produce an HTTP error: an unknown command, a handler error, a panic or a handler that
//! runs past the deadline all become an ephemeral message to the user who ran the command.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::FutureExt as _;
use twilight_model::application::interaction::application_command::{
    CommandData, CommandDataOption, CommandOptionValue,
};
use twilight_model::application::interaction::{Interaction, InteractionData};
use twilight_model::guild::{PartialMember, Permissions};
use twilight_model::http::interaction::InteractionResponse;
use twilight_model::id::Id;
use twilight_model::id::marker::{ApplicationMarker, GuildMarker, InteractionMarker};
use twilight_model::user::User;

use crate::response;

pub mod activity_roles;
pub mod digest;
pub mod help;
pub mod options;
pub mod privacy;
pub mod reports;
pub mod server_config;

/// What a handler's future resolves to.
pub type HandlerResult = Result<InteractionResponse, CommandError>;
/// The boxed future a [`CommandHandler`] returns.
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = HandlerResult> + Send + 'a>>;

/// Something that answers one command route.
///
/// Implement it on a struct holding what the handler needs (a store client, say), or wrap a function with
/// [`handler_fn`]. A handler that needs more than about two seconds should answer
/// [`response::deferred`] and finish the work in another invocation.
pub trait CommandHandler: Send + Sync + 'static {
    /// Answers the command described by `ctx`.
    fn handle<'a>(&'a self, ctx: &'a CommandContext) -> HandlerFuture<'a>;
}

/// A [`CommandHandler`] made from a function; see [`handler_fn`].
#[derive(Clone, Copy)]
pub struct FnHandler<F>(F);

impl<F> fmt::Debug for FnHandler<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnHandler")
    }
}

/// Wraps `f` as a [`CommandHandler`]: `handler_fn(|ctx| Box::pin(async move { ... }))`.
pub const fn handler_fn<F>(f: F) -> FnHandler<F>
where
    F: for<'a> Fn(&'a CommandContext) -> HandlerFuture<'a> + Send + Sync + 'static,
{
    FnHandler(f)
}

impl<F> CommandHandler for FnHandler<F>
where
    F: for<'a> Fn(&'a CommandContext) -> HandlerFuture<'a> + Send + Sync + 'static,
{
    fn handle<'a>(&'a self, ctx: &'a CommandContext) -> HandlerFuture<'a> {
        (self.0)(ctx)
    }
}

/// A handler's failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// Something the user can fix; the message is shown to them as is.
    #[error("{0}")]
    User(String),
    /// Anything else; the user sees a generic apology and the error is logged.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl CommandError {
    /// A failure the user can fix, explained by `message`.
    pub fn user(message: impl Into<String>) -> Self {
        Self::User(message.into())
    }

    /// An internal failure caused by `source`.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(source.into())
    }

    /// What the user is told.
    #[must_use]
    pub fn user_message(&self) -> &str {
        match self {
            Self::User(message) => message,
            Self::Internal(_) => INTERNAL_ERROR_MESSAGE,
        }
    }
}

/// A report failure as a [`CommandError`]: the user's to fix, or internal.
#[must_use]
pub fn answer_error(error: engagement_commands::AnswerError) -> CommandError {
    match error {
        engagement_commands::AnswerError::User(message) => CommandError::User(message),
        other => CommandError::internal(other),
    }
}

/// Shown when a handler fails for a reason the user cannot fix.
pub const INTERNAL_ERROR_MESSAGE: &str =
    "Sorry, something went wrong while answering that. Please try again later.";
/// Shown when a handler runs past the deadline.
pub const TIMEOUT_MESSAGE: &str =
    "Sorry, that took too long to answer. Please try again in a moment.";

/// Why a [`CommandContext`] could not be built from an interaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// The interaction carries no application command data.
    #[error("interaction has no application command data")]
    NoCommandData,
}

/// Everything a handler gets: the parsed interaction and the time it arrived.
pub struct CommandContext {
    interaction: Interaction,
    data: Box<CommandData>,
    route: Vec<String>,
    now: SystemTime,
}

impl CommandContext {
    /// Builds the context of an application command (or autocomplete) interaction received at `now`.
    ///
    /// # Errors
    /// [`ContextError::NoCommandData`] when the interaction has no command data.
    pub fn new(mut interaction: Interaction, now: SystemTime) -> Result<Self, ContextError> {
        let data = match interaction.data.take() {
            Some(InteractionData::ApplicationCommand(data)) => data,
            other => {
                interaction.data = other;
                return Err(ContextError::NoCommandData);
            }
        };
        let route = route_of(&data);
        Ok(Self { interaction, data, route, now })
    }

    /// The whole interaction, without its `data` (see [`CommandContext::data`]).
    #[must_use]
    pub const fn interaction(&self) -> &Interaction {
        &self.interaction
    }

    /// The command data: name, options, resolved users/channels/roles.
    #[must_use]
    pub fn data(&self) -> &CommandData {
        &self.data
    }

    /// When the request arrived (the endpoint's clock, injectable in tests).
    #[must_use]
    pub const fn now(&self) -> SystemTime {
        self.now
    }

    /// The command's name, e.g. `engagement`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.data.name
    }

    /// The invoked route: name, then subcommand group and subcommand if any.
    #[must_use]
    pub fn route(&self) -> String {
        self.route.join(" ")
    }

    /// The options given to the innermost subcommand (or to the command, when it has no subcommands).
    #[must_use]
    pub fn options(&self) -> &[CommandDataOption] {
        leaf_options(&self.data.options)
    }

    /// The value of the option called `name` among [`CommandContext::options`].
    #[must_use]
    pub fn option(&self, name: &str) -> Option<&CommandOptionValue> {
        self.options().iter().find(|o| o.name == name).map(|o| &o.value)
    }

    /// The guild the command was run in; `None` in direct messages.
    #[must_use]
    pub const fn guild_id(&self) -> Option<Id<GuildMarker>> {
        self.interaction.guild_id
    }

    /// The invoking member, when run in a guild.
    #[must_use]
    pub const fn member(&self) -> Option<&PartialMember> {
        self.interaction.member.as_ref()
    }

    /// The member's computed permissions in the channel, when run in a guild.
    #[must_use]
    pub fn permissions(&self) -> Option<Permissions> {
        self.member().and_then(|m| m.permissions)
    }

    /// The invoking user: the member's user in a guild, the user in a direct message.
    #[must_use]
    pub fn user(&self) -> Option<&User> {
        self.member().and_then(|m| m.user.as_ref()).or(self.interaction.user.as_ref())
    }

    /// The application the command belongs to (needed for follow-up webhooks).
    #[must_use]
    pub const fn application_id(&self) -> Id<ApplicationMarker> {
        self.interaction.application_id
    }

    /// The interaction's id.
    #[must_use]
    pub const fn interaction_id(&self) -> Id<InteractionMarker> {
        self.interaction.id
    }

    /// The interaction token: valid for follow-ups for 15 minutes. A credential: never log it.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.interaction.token
    }
}

impl fmt::Debug for CommandContext {
    // Not derived: the interaction token is a credential and must not end up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandContext")
            .field("interaction_id", &self.interaction.id)
            .field("route", &self.route())
            .field("guild_id", &self.guild_id())
            .field("user_id", &self.user().map(|u| u.id))
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// Name, then subcommand group and subcommand when present.
fn route_of(data: &CommandData) -> Vec<String> {
    let mut route = vec![data.name.clone()];
    let mut options = data.options.as_slice();
    while let [only] = options {
        match &only.value {
            CommandOptionValue::SubCommand(inner) | CommandOptionValue::SubCommandGroup(inner) => {
                route.push(only.name.clone());
                options = inner;
            }
            _ => break,
        }
    }
    route
}

fn leaf_options(options: &[CommandDataOption]) -> &[CommandDataOption] {
    match options {
        [only] => match &only.value {
            CommandOptionValue::SubCommand(inner) | CommandOptionValue::SubCommandGroup(inner) => {
                leaf_options(inner)
            }
            _ => options,
        },
        _ => options,
    }
}

/// A registration problem (found at start-up).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two handlers for the same route.
    #[error("command route {0:?} is registered twice")]
    Duplicate(String),
    /// A route that Discord could never send: empty, too many words, or a word over 32 characters.
    #[error(
        "command route {0:?} is not a command name followed by at most a group and a subcommand"
    )]
    InvalidRoute(String),
}

/// One registered route.
struct Entry {
    description: String,
    handler: Arc<dyn CommandHandler>,
}

/// Routes application commands to their handlers.
pub struct CommandRegistry {
    entries: BTreeMap<String, Entry>,
    deadline: Duration,
}

impl fmt::Debug for CommandRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandRegistry")
            .field("routes", &self.entries.keys().collect::<Vec<_>>())
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// Builds a [`CommandRegistry`]; [`CommandRegistryBuilder::build`] adds the built-in help command.
pub struct CommandRegistryBuilder {
    entries: BTreeMap<String, Entry>,
}

impl fmt::Debug for CommandRegistryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandRegistryBuilder")
            .field("routes", &self.entries.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl CommandRegistryBuilder {
    /// Registers `handler` for `route` (e.g. `"engagement stats"`), described for the help text.
    ///
    /// # Errors
    /// [`RegistryError`] for a duplicate or impossible route.
    pub fn command(
        mut self,
        route: &str,
        description: impl Into<String>,
        handler: impl CommandHandler,
    ) -> Result<Self, RegistryError> {
        let words: Vec<&str> = route.split(' ').collect();
        if words.len() > 3 || words.iter().any(|w| w.is_empty() || w.chars().count() > 32) {
            return Err(RegistryError::InvalidRoute(route.to_owned()));
        }
        if self.entries.contains_key(route) {
            return Err(RegistryError::Duplicate(route.to_owned()));
        }
        let entry = Entry { description: description.into(), handler: Arc::new(handler) };
        self.entries.insert(route.to_owned(), entry);
        Ok(self)
    }

    /// The registry, with [`help::ROUTE`] answering a list of every registered route (unless one was
    /// registered under that route already).
    #[must_use]
    pub fn build(mut self) -> CommandRegistry {
        if !self.entries.contains_key(help::ROUTE) {
            let mut listing: Vec<(String, String)> = self
                .entries
                .iter()
                .map(|(route, e)| (route.clone(), e.description.clone()))
                .collect();
            listing.push((help::ROUTE.to_owned(), help::DESCRIPTION.to_owned()));
            listing.sort();
            let entry = Entry {
                description: help::DESCRIPTION.to_owned(),
                handler: Arc::new(help::HelpCommand::new(listing)),
            };
            self.entries.insert(help::ROUTE.to_owned(), entry);
        }
        CommandRegistry {
            entries: self.entries,
            deadline: crate::settings::DEFAULT_COMMAND_DEADLINE,
        }
    }
}

impl CommandRegistry {
    /// Starts a registry.
    #[must_use]
    pub const fn builder() -> CommandRegistryBuilder {
        CommandRegistryBuilder { entries: BTreeMap::new() }
    }

    /// The registry with only the built-in commands.
    #[must_use]
    pub fn with_builtins() -> Self {
        Self::builder().build()
    }

    /// Sets how long a handler may run before the user gets [`TIMEOUT_MESSAGE`].
    #[must_use]
    pub const fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Registered routes with their descriptions, sorted by route.
    pub fn routes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(route, e)| (route.as_str(), e.description.as_str()))
    }

    /// The handler for the longest registered prefix of the invoked route.
    fn lookup(&self, ctx: &CommandContext) -> Option<(&str, &Arc<dyn CommandHandler>)> {
        (1..=ctx.route.len()).rev().find_map(|len| {
            let key = ctx.route[..len].join(" ");
            self.entries.get_key_value(&key).map(|(k, e)| (k.as_str(), &e.handler))
        })
    }

    /// Answers the command in `ctx`. Never fails: every failure becomes an ephemeral message.
    pub async fn dispatch(&self, ctx: &CommandContext) -> InteractionResponse {
        let Some((route, handler)) = self.lookup(ctx) else {
            tracing::warn!(command = %ctx.route(), "unknown command");
            return response::ephemeral_message(format!(
                "Unknown command `/{}`. The bot may be updating; try again in a minute.",
                ctx.route()
            ));
        };
        let run = AssertUnwindSafe(handler.handle(ctx)).catch_unwind();
        match tokio::time::timeout(self.deadline, run).await {
            Ok(Ok(Ok(reply))) => reply,
            Ok(Ok(Err(error))) => {
                match &error {
                    CommandError::User(_) => {
                        tracing::info!(route, error = %error, "command refused")
                    }
                    CommandError::Internal(_) => {
                        tracing::error!(route, error = %error, "command failed")
                    }
                }
                response::ephemeral_message(error.user_message())
            }
            Ok(Err(_panic)) => {
                tracing::error!(route, "command handler panicked");
                response::ephemeral_message(INTERNAL_ERROR_MESSAGE)
            }
            Err(_elapsed) => {
                tracing::error!(
                    route,
                    deadline_ms = self.deadline.as_millis(),
                    "command handler timed out"
                );
                response::ephemeral_message(TIMEOUT_MESSAGE)
            }
        }
    }
}
