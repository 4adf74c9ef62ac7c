//! What the engagement commands share: the counter store (read by the [`Reporter`]), the invoker that
//! hands deferred work to the followup function, and the default time zone; and the registry of every
//! command.

use std::fmt;
use std::sync::Arc;

use engagement_commands::definition::{name, route_description};
use engagement_commands::holds::Hold;
use engagement_commands::{FollowupInvoker, FollowupJob, Reporter};
use engagement_domain::{GuildConfig, GuildId, GuildTimeZone};
use engagement_store::{Claim, ConfigVersion, CounterStore, StoreErrorKind};

use crate::handlers::activity_roles::{ActivityRoleCommand, RoleAction};
use crate::handlers::digest::{DigestAction, DigestCommand};
use crate::handlers::privacy::{PrivacyAction, PrivacyCommand};
use crate::handlers::reports::{ReportCommand, ReportKind};
use crate::handlers::server_config::{ConfigAction, ConfigCommand};
use crate::handlers::{
    CommandContext, CommandError, CommandHandler, CommandRegistry, HandlerFuture, RegistryError,
};

/// The answer when the server's settings changed between reading and saving them.
pub const CONFIG_CHANGED_MESSAGE: &str = "The server's settings changed while this command ran (someone \
     else changed them at the same moment). Nothing was saved: run the command again.";

/// Shown when the followup function cannot be started.
pub const DEFER_FAILED_MESSAGE: &str =
    "Sorry, that answer could not be started. Please try again in a minute.";

/// Shared by every engagement command handler.
pub struct Services {
    /// Settings, claims and erasure.
    pub store: CounterStore,
    /// Builds replies from the store.
    pub reporter: Reporter<CounterStore>,
    /// Hands deferred work to the followup function.
    pub invoker: Arc<dyn FollowupInvoker>,
    /// Time zone of guilds that never set one.
    pub default_time_zone: GuildTimeZone,
}

impl fmt::Debug for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Services")
            .field("table", &self.store.table())
            .field("default_time_zone", &self.default_time_zone)
            .finish_non_exhaustive()
    }
}

impl Services {
    /// Services over `store`, handing deferred work to `invoker`.
    #[must_use]
    pub fn new(
        store: CounterStore,
        invoker: Arc<dyn FollowupInvoker>,
        default_time_zone: GuildTimeZone,
    ) -> Self {
        Self { reporter: Reporter::new(store.clone()), store, invoker, default_time_zone }
    }

    /// The configuration of a guild that never set one.
    #[must_use]
    pub fn default_config(&self) -> GuildConfig {
        GuildConfig { time_zone: self.default_time_zone, ..GuildConfig::default() }
    }

    /// The guild's configuration, or the default one.
    ///
    /// # Errors
    /// Store failures, as internal errors.
    pub async fn guild_config(&self, guild: GuildId) -> Result<GuildConfig, CommandError> {
        let stored = self.store.guild_config(guild).await.map_err(CommandError::internal)?;
        Ok(stored.unwrap_or_else(|| self.default_config()))
    }

    /// The guild's configuration to change and save (the default one when none is stored: its version
    /// is then [`ConfigVersion::NONE`]) and its version for [`save_config`](Self::save_config).
    ///
    /// # Errors
    /// Store failures, as internal errors.
    pub async fn config_for_update(
        &self,
        guild: GuildId,
    ) -> Result<(GuildConfig, ConfigVersion), CommandError> {
        let (stored, version) =
            self.store.guild_config_for_update(guild).await.map_err(CommandError::internal)?;
        Ok((stored.unwrap_or_else(|| self.default_config()), version))
    }

    /// Stores the guild's configuration, changed from the one read at `expected`.
    ///
    /// # Errors
    /// [`CONFIG_CHANGED_MESSAGE`] when somebody changed it in between (nothing is saved, nothing of
    /// theirs is lost); other store failures, as internal errors.
    pub async fn save_config(
        &self,
        guild: GuildId,
        config: &GuildConfig,
        expected: ConfigVersion,
    ) -> Result<(), CommandError> {
        self.store.put_guild_config(guild, config, expected).await.map_err(|e| {
            if e.kind() == StoreErrorKind::Conflict {
                CommandError::user(CONFIG_CHANGED_MESSAGE)
            } else {
                CommandError::internal(e)
            }
        })
    }

    /// Takes `hold` for the member's heavy work at `now_ms`, unless earlier work still holds it.
    ///
    /// # Errors
    /// Store failures, as internal errors.
    pub async fn take_hold(
        &self,
        guild: GuildId,
        hold: &Hold,
        now_ms: u64,
    ) -> Result<Claim, CommandError> {
        let hold_ms = u64::try_from(hold.duration.as_millis()).unwrap_or(u64::MAX);
        self.store.claim(guild, &hold.name, now_ms, hold_ms).await.map_err(CommandError::internal)
    }

    /// How long (ms) `hold` is still held at `now_ms`, if it is; nothing is taken.
    ///
    /// # Errors
    /// Store failures, as internal errors.
    pub async fn hold_remaining(
        &self,
        guild: GuildId,
        hold: &Hold,
        now_ms: u64,
    ) -> Result<Option<u64>, CommandError> {
        self.store.held(guild, &hold.name, now_ms).await.map_err(CommandError::internal)
    }

    /// Gives `hold` back (best effort: it runs out by itself otherwise).
    pub async fn give_back(&self, guild: GuildId, hold: &Hold) {
        if let Err(error) = self.store.release(guild, &hold.name).await {
            tracing::warn!(%error, "could not release a hold");
        }
    }

    /// Hands `job` to the followup function once `hold` is taken (when given); gives the hold back if
    /// the job could not be handed over, so that trying again is not refused.
    ///
    /// # Errors
    /// [`DEFER_FAILED_MESSAGE`] (the cause is logged).
    pub async fn defer_holding(
        &self,
        job: &FollowupJob,
        guild: GuildId,
        hold: Option<&Hold>,
    ) -> Result<(), CommandError> {
        let result = self.defer(job).await;
        if let (Err(_), Some(hold)) = (&result, hold) {
            self.give_back(guild, hold).await;
        }
        result
    }

    /// Hands `job` to the followup function.
    ///
    /// # Errors
    /// [`DEFER_FAILED_MESSAGE`] (the cause is logged).
    pub async fn defer(&self, job: &FollowupJob) -> Result<(), CommandError> {
        self.invoker.invoke(job).await.map_err(|error| {
            tracing::error!(%error, ?job, "could not start the followup function");
            CommandError::user(DEFER_FAILED_MESSAGE)
        })
    }
}

/// Every command of the bot, routed to its handler; `/engagement-help` lists them.
///
/// # Errors
/// A [`RegistryError`] (a programming error, found at start-up and by the tests).
pub fn engagement_registry(services: Services) -> Result<CommandRegistry, RegistryError> {
    let services = Arc::new(services);
    let report = |kind| Nudging::new(&services, ReportCommand::new(Arc::clone(&services), kind));
    let config =
        |action| Nudging::new(&services, ConfigCommand::new(Arc::clone(&services), action));
    let privacy =
        |action| Nudging::new(&services, PrivacyCommand::new(Arc::clone(&services), action));
    let activity_role =
        |action| Nudging::new(&services, ActivityRoleCommand::new(Arc::clone(&services), action));
    let digest =
        |action| Nudging::new(&services, DigestCommand::new(Arc::clone(&services), action));
    let route = |parts: &[&str]| parts.join(" ");
    let described = |route: &str| route_description(route).to_owned();
    let config_route = |sub: &str| route(&[name::ENGAGEMENT_CONFIG, sub]);
    let privacy_route = |sub: &str| route(&[name::ENGAGEMENT, name::PRIVACY, sub]);
    let mut builder = CommandRegistry::builder();
    for (command, kind) in [
        (name::STATS, ReportKind::Stats),
        (name::CHANNEL_STATS, ReportKind::ChannelStats),
        (name::LEADERBOARD, ReportKind::Leaderboard),
        (name::ACTIVITY, ReportKind::Activity),
        (name::EXPORT, ReportKind::Export),
    ] {
        builder = builder.command(command, described(command), report(kind))?;
    }
    for (sub, kind) in
        [(name::GROWTH, ReportKind::Growth), (name::RETENTION, ReportKind::Retention)]
    {
        let route = route(&[name::INSIGHTS, sub]);
        builder = builder.command(&route, described(&route), report(kind))?;
    }
    for (sub, action) in [
        (name::TIME_ZONE, ConfigAction::TimeZone),
        (name::EXCLUDE, ConfigAction::Exclude),
        (name::INCLUDE, ConfigAction::Include),
        (name::SHOW, ConfigAction::Show),
    ] {
        let route = config_route(sub);
        builder = builder.command(&route, described(&route), config(action))?;
    }
    for (sub, action) in [
        (name::ADD, RoleAction::Add),
        (name::REMOVE, RoleAction::Remove),
        (name::SHOW, RoleAction::Show),
        (name::PREVIEW, RoleAction::Preview),
    ] {
        let route = route(&[name::ENGAGEMENT_CONFIG, name::ACTIVITY_ROLE, sub]);
        builder = builder.command(&route, described(&route), activity_role(action))?;
    }
    for (sub, action) in [
        (name::SET, DigestAction::Set),
        (name::OFF, DigestAction::Off),
        (name::SHOW, DigestAction::Show),
        (name::PREVIEW, DigestAction::Preview),
    ] {
        let route = route(&[name::ENGAGEMENT_CONFIG, name::DIGEST, sub]);
        builder = builder.command(&route, described(&route), digest(action))?;
    }
    for (sub, action) in [
        (name::OPT_OUT, PrivacyAction::OptOut),
        (name::OPT_IN, PrivacyAction::OptIn),
        (name::ERASE, PrivacyAction::Erase),
    ] {
        let route = privacy_route(sub);
        builder = builder.command(&route, described(&route), privacy(action))?;
    }
    Ok(builder.build())
}

/// How long a command's answer may wait for its nudge: Discord wants the answer within 3 seconds.
const NUDGE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(300);

/// A command handler that also notes the command in the sync's schedule: a slash command is a sign of
/// life, so the next sync run checks the guild first, whatever its back-off, and starts its back-off
/// over. The note is written while the command is answered, for at most [`NUDGE_TIMEOUT`]; a failure to
/// write it is logged and does not change the answer.
struct Nudging<H> {
    store: CounterStore,
    inner: H,
}

impl<H> Nudging<H> {
    fn new(services: &Services, inner: H) -> Self {
        Self { store: services.store.clone(), inner }
    }
}

impl<H: CommandHandler> CommandHandler for Nudging<H> {
    fn handle<'a>(&'a self, ctx: &'a CommandContext) -> HandlerFuture<'a> {
        Box::pin(async move {
            let nudge = async {
                let Some(guild) = ctx.guild_id() else { return };
                let now_ms = ctx
                    .now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                let nudged = self.store.nudge_guild(GuildId(guild.get()), now_ms);
                match tokio::time::timeout(NUDGE_TIMEOUT, nudged).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "the guild's next sync check was not brought forward");
                    }
                    Err(_) => {
                        tracing::warn!("bringing the guild's next sync check forward timed out")
                    }
                }
            };
            let ((), answer) = futures::join!(nudge, self.inner.handle(ctx));
            answer
        })
    }
}
