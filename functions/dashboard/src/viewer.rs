//! Who is looking, and so what they may see: the same rules as the slash commands. Decided from the
//! member's roles and the guild's roles as the bot reads them now (cached for [`VIEWER_TTL_MS`]), and the
//! channel overwrites of the sync's snapshot.

use std::collections::{BTreeMap, BTreeSet};

use engagement_domain::visibility::{
    ADMINISTRATOR, MANAGE_GUILD, VIEW_GUILD_INSIGHTS, may_see_member_series,
};
use engagement_domain::{Audience, GuildAccess, GuildId, RoleId, UserId};

/// How long a viewer's roles and permissions are reused before the bot reads them again.
pub const VIEWER_TTL_MS: u64 = 5 * 60_000;

/// A member looking at their guild.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Viewer {
    /// The member.
    pub user: UserId,
    /// Their guild-level permissions.
    pub permissions: u64,
    /// Which channels' numbers they may see.
    pub audience: Audience,
}

impl Viewer {
    /// The viewer `user` holding `member_roles`, given the guild's `roles` (id → permissions, as read
    /// now) and whether they own the guild.
    #[must_use]
    pub fn new(
        guild: GuildId,
        user: UserId,
        member_roles: &[u64],
        roles: BTreeMap<RoleId, u64>,
        owner: bool,
    ) -> Self {
        let member_roles: BTreeSet<RoleId> = member_roles.iter().copied().map(RoleId).collect();
        let current =
            GuildAccess { guild, owner: owner.then_some(user), roles, channels: BTreeMap::new() };
        let permissions = current.base_permissions(Some(user), &member_roles);
        Self { user, permissions, audience: Audience::for_member(member_roles, user, permissions) }
    }

    /// Whether they may see `member`'s own numbers over time: themself, or Administrator, Manage Server
    /// or View Server Insights.
    #[must_use]
    pub fn may_see_member(&self, member: UserId) -> bool {
        may_see_member_series(self.permissions, self.user, member)
    }

    /// Whether they may see other members' numbers over time: Administrator, Manage Server or View
    /// Server Insights.
    #[must_use]
    pub const fn may_see_others(&self) -> bool {
        self.permissions & (ADMINISTRATOR | MANAGE_GUILD | VIEW_GUILD_INSIGHTS) != 0
    }

    /// Whether they may download the export: Manage Server (or Administrator).
    #[must_use]
    pub const fn may_export(&self) -> bool {
        self.permissions & (ADMINISTRATOR | MANAGE_GUILD) != 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const GUILD: GuildId = GuildId(1);

    fn roles(pairs: &[(u64, u64)]) -> BTreeMap<RoleId, u64> {
        pairs.iter().map(|&(r, p)| (RoleId(r), p)).collect()
    }

    #[test]
    fn a_plain_member_sees_what_their_roles_let_them_see() {
        let v = Viewer::new(GUILD, UserId(5), &[9], roles(&[(1, 0), (9, 0)]), false);
        assert_eq!(v.permissions, 0);
        assert!(matches!(v.audience, Audience::Member { .. }));
        assert!(v.may_see_member(UserId(5)));
        assert!(!v.may_see_member(UserId(6)));
        assert!(!v.may_export());
    }

    #[test]
    fn insights_managers_admins_and_the_owner_get_what_the_commands_give_them() {
        let all = roles(&[(1, 0), (2, VIEW_GUILD_INSIGHTS), (3, MANAGE_GUILD), (4, ADMINISTRATOR)]);
        let insights = Viewer::new(GUILD, UserId(5), &[2], all.clone(), false);
        assert!(insights.may_see_member(UserId(6)) && !insights.may_export());
        assert!(matches!(insights.audience, Audience::Member { .. }), "channels still by role");
        let manager = Viewer::new(GUILD, UserId(5), &[3], all.clone(), false);
        assert!(manager.may_export() && manager.audience == Audience::Everything);
        let admin = Viewer::new(GUILD, UserId(5), &[4], all.clone(), false);
        assert!(admin.may_export() && admin.audience == Audience::Everything);
        // @everyone's own permissions count for everybody.
        let everyone = Viewer::new(GUILD, UserId(5), &[], roles(&[(1, MANAGE_GUILD)]), false);
        assert!(everyone.may_export());
        let owner = Viewer::new(GUILD, UserId(7), &[], all.clone(), true);
        assert!(owner.may_export() && owner.audience == Audience::Everything);
        // A role the guild no longer has grants nothing.
        let gone = Viewer::new(GUILD, UserId(5), &[3], roles(&[(1, 0)]), false);
        assert!(!gone.may_export());
    }
}
