//! The Discord calls that activity roles make, as a port: [`DiscordClient`] is the adapter, and tests wrap
//! it (to stop a run after any call, as a crash would).

use std::collections::BTreeSet;
use std::future::Future;

use engagement_discord::model::GuildMember;
use engagement_discord::{DiscordClient, Id, RoleChange};
use engagement_domain::roles::RoleFacts;
use engagement_domain::visibility::RoleId;
use engagement_domain::{GuildId, UserId};

use crate::ActionError;

/// What giving and taking roles needs from Discord. Every call goes through the caller's rate limiter
/// and counts in its request figures.
pub trait RoleGateway: Send + Sync {
    /// The guild's roles (`GET /guilds/{guild}/roles`).
    fn roles(
        &self,
        guild: GuildId,
    ) -> impl Future<Output = Result<Vec<RoleFacts>, ActionError>> + Send;

    /// The bot's own user id (`GET /users/@me`).
    fn bot_user(&self) -> impl Future<Output = Result<UserId, ActionError>> + Send;

    /// A member's roles (`GET /guilds/{guild}/members/{user}`); `None` when they are not a member.
    fn member_roles(
        &self,
        guild: GuildId,
        user: UserId,
    ) -> impl Future<Output = Result<Option<BTreeSet<RoleId>>, ActionError>> + Send;

    /// Gives (`give`) or takes a role, with `reason` for the audit log (`PUT`/`DELETE
    /// /guilds/{guild}/members/{user}/roles/{role}`). `Ok(false)`: the user is not a member.
    fn set_role(
        &self,
        guild: GuildId,
        user: UserId,
        role: RoleId,
        give: bool,
        reason: &str,
    ) -> impl Future<Output = Result<bool, ActionError>> + Send;
}

fn id<M>(raw: u64) -> Result<Id<M>, ActionError> {
    Id::new_checked(raw).ok_or(ActionError::InvalidId(raw))
}

impl RoleGateway for DiscordClient {
    async fn roles(&self, guild: GuildId) -> Result<Vec<RoleFacts>, ActionError> {
        let roles = self.guild_roles(id(guild.get())?).await?;
        Ok(roles
            .into_iter()
            .map(|r| RoleFacts {
                id: RoleId(r.id),
                position: r.position,
                permissions: r.permissions,
                managed: r.managed,
            })
            .collect())
    }

    async fn bot_user(&self) -> Result<UserId, ActionError> {
        Ok(UserId(self.current_user().await?.id))
    }

    async fn member_roles(
        &self,
        guild: GuildId,
        user: UserId,
    ) -> Result<Option<BTreeSet<RoleId>>, ActionError> {
        let member: Option<GuildMember> =
            self.guild_member(id(guild.get())?, id(user.get())?).await?;
        Ok(member.map(|m| m.roles.into_iter().map(RoleId).collect()))
    }

    async fn set_role(
        &self,
        guild: GuildId,
        user: UserId,
        role: RoleId,
        give: bool,
        reason: &str,
    ) -> Result<bool, ActionError> {
        let (guild, user, role) = (id(guild.get())?, id(user.get())?, id(role.get())?);
        let change = if give {
            self.add_member_role(guild, user, role, reason).await?
        } else {
            self.remove_member_role(guild, user, role, reason).await?
        };
        Ok(change == RoleChange::Applied)
    }
}
