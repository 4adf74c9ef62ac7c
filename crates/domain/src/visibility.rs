//! Which channels an audience can see, computed the way Discord computes permissions.
//!
//! Replies must not leak activity from channels their readers cannot open, so the channel list behind any
//! statistic is filtered here first. The order follows Discord's "computing permissions" algorithm
//! (docs: topics/permissions): base permissions from `@everyone` and the member's roles, `ADMINISTRATOR` or
//! ownership short-circuits to everything, then the channel's overwrites: `@everyone`, the member's roles
//! together, the member's own — each deny first, then allow.
//!
//! Categories: a channel does **not** inherit its category's overwrites at compute time. Discord copies
//! them into the channel when the channel is synced, so only the channel's own `overwrites` count; never
//! put a category id in [`ChannelAccess::parent`].
//!
//! Anything unknown fails closed: a channel missing from [`GuildAccess::channels`] is visible only to
//! [`Audience::Everything`], a thread whose parent is missing only to administrators, and a role missing
//! from [`GuildAccess::roles`] grants nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::{ChannelId, GuildId, UserId};

/// Every permission bit: what the owner and administrators hold.
pub const ALL_PERMISSIONS: u64 = u64::MAX;
/// `ADMINISTRATOR`: all permissions, and channel overwrites do not apply.
pub const ADMINISTRATOR: u64 = 1 << 3;
/// `MANAGE_GUILD` ("Manage Server").
pub const MANAGE_GUILD: u64 = 1 << 5;
/// `VIEW_CHANNEL`: the channel shows up and its messages can be read.
pub const VIEW_CHANNEL: u64 = 1 << 10;
/// `VIEW_GUILD_INSIGHTS` ("View Server Insights").
pub const VIEW_GUILD_INSIGHTS: u64 = 1 << 19;

/// A role. The `@everyone` role's id is the guild's id (see [`RoleId::everyone`]).
///
/// Kept here rather than in `ids` because only visibility needs roles so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoleId(pub u64);

impl RoleId {
    /// The `@everyone` role of `guild`, which Discord gives the guild's own id.
    #[must_use]
    pub const fn everyone(guild: GuildId) -> Self {
        Self(guild.0)
    }

    /// The raw snowflake.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RoleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for RoleId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse().map(Self)
    }
}

impl From<twilight_model::id::Id<twilight_model::id::marker::RoleMarker>> for RoleId {
    fn from(id: twilight_model::id::Id<twilight_model::id::marker::RoleMarker>) -> Self {
        Self(id.get())
    }
}

/// Who a permission overwrite applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverwriteTarget {
    /// A role; the `@everyone` overwrite targets [`RoleId::everyone`].
    Role(RoleId),
    /// One member.
    Member(UserId),
}

/// One of a channel's `permission_overwrites`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overwrite {
    /// The role or member it applies to.
    pub target: OverwriteTarget,
    /// Bits granted in this channel.
    pub allow: u64,
    /// Bits taken away in this channel.
    pub deny: u64,
}

/// What decides who can see one channel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelAccess {
    /// For threads and forum posts only: the channel they live in, whose overwrites decide (threads have
    /// none of their own). Not the category of an ordinary channel (see the module docs). Private threads
    /// are treated like their parent, which is wider than Discord (it also requires thread membership).
    pub parent: Option<ChannelId>,
    /// The channel's own overwrites, in any order (they are grouped, not applied in list order).
    pub overwrites: Vec<Overwrite>,
}

/// A guild's roles and channels: everything visibility needs, and nothing else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildAccess {
    /// The guild; also the id of its `@everyone` role.
    pub guild: GuildId,
    /// The owner, who holds every permission whatever the roles say.
    pub owner: Option<UserId>,
    /// Each role's guild-level permissions, the `@everyone` role included.
    pub roles: BTreeMap<RoleId, u64>,
    /// Every known channel, thread and forum post.
    pub channels: BTreeMap<ChannelId, ChannelAccess>,
}

impl GuildAccess {
    /// Guild-level permissions of a viewer: `user` is `None` for "`@everyone` alone".
    #[must_use]
    pub fn base_permissions(&self, user: Option<UserId>, roles: &BTreeSet<RoleId>) -> u64 {
        if user.is_some() && user == self.owner {
            return ALL_PERMISSIONS;
        }
        let everyone = RoleId::everyone(self.guild);
        let base = std::iter::once(&everyone)
            .chain(roles)
            .filter_map(|role| self.roles.get(role))
            .fold(0, |acc, perms| acc | perms);
        if base & ADMINISTRATOR != 0 { ALL_PERMISSIONS } else { base }
    }

    /// A viewer's permissions in `channel`, or `None` when the channel (or a thread's parent) is unknown.
    #[must_use]
    pub fn channel_permissions(
        &self,
        channel: ChannelId,
        user: Option<UserId>,
        roles: &BTreeSet<RoleId>,
    ) -> Option<u64> {
        let mut access = self.channels.get(&channel)?;
        let base = self.base_permissions(user, roles);
        if base & ADMINISTRATOR != 0 {
            // Administrators (and the owner) are not subject to overwrites: even an orphan thread is theirs.
            return Some(ALL_PERMISSIONS);
        }
        // One step only: threads cannot contain threads, and a single step cannot loop on bad data.
        if let Some(parent) = access.parent {
            access = self.channels.get(&parent)?;
        }
        let everyone = RoleId::everyone(self.guild);
        let mut perms = base;
        let (mut role_deny, mut role_allow) = (0, 0);
        let mut member = None;
        for ow in &access.overwrites {
            match ow.target {
                OverwriteTarget::Role(r) if r == everyone => perms = (perms & !ow.deny) | ow.allow,
                OverwriteTarget::Role(r) if roles.contains(&r) => {
                    role_deny |= ow.deny;
                    role_allow |= ow.allow;
                }
                OverwriteTarget::Member(u) if Some(u) == user => member = Some(ow),
                OverwriteTarget::Role(_) | OverwriteTarget::Member(_) => {}
            }
        }
        // The @everyone overwrite went first (above); then all roles together, so no role outranks another.
        perms = (perms & !role_deny) | role_allow;
        if let Some(ow) = member {
            perms = (perms & !ow.deny) | ow.allow;
        }
        Some(perms)
    }

    /// Whether a viewer can see `channel`; unknown channels are not visible.
    #[must_use]
    pub fn can_view(
        &self,
        channel: ChannelId,
        user: Option<UserId>,
        roles: &BTreeSet<RoleId>,
    ) -> bool {
        self.channel_permissions(channel, user, roles).is_some_and(|p| p & VIEW_CHANNEL != 0)
    }
}

impl GuildAccess {
    /// Encodes the snapshot for storage (versioned postcard, like batches).
    ///
    /// # Errors
    /// Never in practice: postcard fails only on unsupported serde shapes.
    pub fn encode(&self) -> Result<Vec<u8>, crate::CodecError> {
        crate::codec::encode(&crate::batch::Versioned { version: 1, body: self })
    }

    /// Decodes a stored snapshot.
    ///
    /// # Errors
    /// When the bytes are not a snapshot of a known version.
    pub fn decode(bytes: &[u8]) -> Result<Self, crate::CodecError> {
        crate::codec::decode_versioned(bytes, 1)
    }
}

/// Who will read a reply, and so which channels its numbers may draw on. The default is the narrowest
/// that any member may read: [`Audience::Public`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Audience {
    /// Anyone in the guild: only what `@everyone` alone, with no other role, can view. (Should the
    /// `@everyone` role itself hold `ADMINISTRATOR`, every member sees every known channel, and so does this.)
    #[default]
    Public,
    /// One member, seeing what their roles and overwrites let them see.
    Member {
        /// The member's roles (`@everyone` is implied; listing it changes nothing).
        roles: BTreeSet<RoleId>,
        /// The member.
        user: UserId,
        /// Guild-level permissions as Discord reported them. Only `ADMINISTRATOR` is read: an interaction's
        /// `member.permissions` already includes the invoking channel's overwrites, so its other bits say
        /// nothing about other channels.
        guild_permissions: u64,
    },
    /// Every channel, known or not: for administrators and server managers.
    Everything,
}

impl Audience {
    /// The audience for one member: [`Audience::Everything`] for `ADMINISTRATOR` or `MANAGE_GUILD` (a
    /// product choice: server managers get server-wide statistics), otherwise [`Audience::Member`].
    #[must_use]
    pub fn for_member(roles: BTreeSet<RoleId>, user: UserId, guild_permissions: u64) -> Self {
        if guild_permissions & (ADMINISTRATOR | MANAGE_GUILD) != 0 {
            Self::Everything
        } else {
            Self::Member { roles, user, guild_permissions }
        }
    }

    /// Whether this audience may see `channel`. Unknown channels: only [`Audience::Everything`].
    #[must_use]
    pub fn can_view(&self, access: &GuildAccess, channel: ChannelId) -> bool {
        match self {
            Self::Everything => true,
            Self::Public => access.can_view(channel, None, &BTreeSet::new()),
            Self::Member { roles, user, guild_permissions } => {
                if guild_permissions & ADMINISTRATOR != 0 {
                    access.channels.contains_key(&channel)
                } else {
                    access.can_view(channel, Some(*user), roles)
                }
            }
        }
    }
}

/// The known channels (threads included) `audience` may see.
#[must_use]
pub fn visible_channels(access: &GuildAccess, audience: &Audience) -> BTreeSet<ChannelId> {
    access.channels.keys().copied().filter(|&c| audience.can_view(access, c)).collect()
}

/// Whether `asker` may see `subject`'s own time series: their own always; anyone else's only with
/// Administrator, Manage Server or View Server Insights (Discord's policy for member time-series data).
#[must_use]
pub fn may_see_member_series(guild_permissions: u64, asker: UserId, subject: UserId) -> bool {
    asker == subject
        || guild_permissions & (ADMINISTRATOR | MANAGE_GUILD | VIEW_GUILD_INSIGHTS) != 0
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const G: GuildId = GuildId(1);
    const STAFF: RoleId = RoleId(2);
    const ADMIN: RoleId = RoleId(3);
    const ALICE: UserId = UserId(10);
    const OWNER: UserId = UserId(99);
    const GENERAL: ChannelId = ChannelId(100);
    const PRIVATE: ChannelId = ChannelId(101);
    const THREAD: ChannelId = ChannelId(102);

    fn ow(target: OverwriteTarget, allow: u64, deny: u64) -> Overwrite {
        Overwrite { target, allow, deny }
    }

    fn guild(everyone: u64, private: Vec<Overwrite>) -> GuildAccess {
        let roles =
            BTreeMap::from([(RoleId::everyone(G), everyone), (STAFF, 0), (ADMIN, ADMINISTRATOR)]);
        let channels = BTreeMap::from([
            (GENERAL, ChannelAccess::default()),
            (PRIVATE, ChannelAccess { parent: None, overwrites: private }),
            (THREAD, ChannelAccess { parent: Some(PRIVATE), overwrites: vec![] }),
        ]);
        GuildAccess { guild: G, owner: Some(OWNER), roles, channels }
    }

    /// `@everyone` may view; PRIVATE denies it to `@everyone` and allows it to STAFF.
    fn staff_only() -> GuildAccess {
        let everyone = OverwriteTarget::Role(RoleId::everyone(G));
        guild(
            VIEW_CHANNEL,
            vec![ow(everyone, 0, VIEW_CHANNEL), ow(OverwriteTarget::Role(STAFF), VIEW_CHANNEL, 0)],
        )
    }

    fn member(roles: &[RoleId]) -> Audience {
        Audience::Member {
            roles: roles.iter().copied().collect(),
            user: ALICE,
            guild_permissions: 0,
        }
    }

    fn set(ids: &[ChannelId]) -> BTreeSet<ChannelId> {
        ids.iter().copied().collect()
    }

    #[test]
    fn a_private_channel_and_its_thread_need_the_role() {
        let g = staff_only();
        assert_eq!(visible_channels(&g, &Audience::Public), set(&[GENERAL]));
        assert_eq!(visible_channels(&g, &member(&[])), set(&[GENERAL]));
        assert_eq!(visible_channels(&g, &member(&[STAFF])), set(&[GENERAL, PRIVATE, THREAD]));
        assert_eq!(visible_channels(&g, &member(&[ADMIN])), set(&[GENERAL, PRIVATE, THREAD]));
        assert_eq!(visible_channels(&g, &Audience::Everything), set(&[GENERAL, PRIVATE, THREAD]));
    }

    #[test]
    fn member_overwrites_beat_role_overwrites_which_beat_everyone() {
        let (staff, alice, everyone) = (
            OverwriteTarget::Role(STAFF),
            OverwriteTarget::Member(ALICE),
            OverwriteTarget::Role(RoleId::everyone(G)),
        );
        // Role allow beats the @everyone deny (staff_only), a member deny beats a role allow ...
        let mut g = staff_only();
        assert!(member(&[STAFF]).can_view(&g, PRIVATE));
        g.channels.insert(
            PRIVATE,
            ChannelAccess {
                parent: None,
                overwrites: vec![
                    ow(everyone, 0, VIEW_CHANNEL),
                    ow(staff, VIEW_CHANNEL, 0),
                    ow(alice, 0, VIEW_CHANNEL),
                ],
            },
        );
        assert!(!member(&[STAFF]).can_view(&g, PRIVATE));
        // ... and a member allow beats a role deny.
        let g = guild(VIEW_CHANNEL, vec![ow(staff, 0, VIEW_CHANNEL), ow(alice, VIEW_CHANNEL, 0)]);
        assert!(member(&[STAFF]).can_view(&g, PRIVATE));
        assert!(
            !Audience::Member {
                roles: BTreeSet::from([STAFF]),
                user: UserId(11),
                guild_permissions: 0
            }
            .can_view(&g, PRIVATE)
        );
    }

    #[test]
    fn everyone_without_view_channel_hides_what_has_no_overwrites() {
        let g = guild(0, vec![ow(OverwriteTarget::Role(STAFF), VIEW_CHANNEL, 0)]);
        assert!(visible_channels(&g, &Audience::Public).is_empty());
        assert_eq!(visible_channels(&g, &member(&[STAFF])), set(&[PRIVATE, THREAD]));
        assert_eq!(visible_channels(&g, &member(&[STAFF, ADMIN])).len(), 3);
    }

    #[test]
    fn unknown_channels_and_orphan_threads_fail_closed() {
        let mut g = staff_only();
        g.channels
            .insert(ChannelId(7), ChannelAccess { parent: Some(ChannelId(8)), overwrites: vec![] });
        for audience in [Audience::Public, member(&[STAFF])] {
            assert!(!audience.can_view(&g, ChannelId(5)));
            assert!(!audience.can_view(&g, ChannelId(7)));
        }
        assert!(Audience::Everything.can_view(&g, ChannelId(5)));
    }

    #[test]
    fn the_owner_and_admins_see_everything() {
        let g = guild(0, vec![ow(OverwriteTarget::Member(OWNER), 0, VIEW_CHANNEL)]);
        assert_eq!(
            g.channel_permissions(PRIVATE, Some(OWNER), &BTreeSet::new()),
            Some(ALL_PERMISSIONS)
        );
        let owner = Audience::Member { roles: BTreeSet::new(), user: OWNER, guild_permissions: 0 };
        assert_eq!(visible_channels(&g, &owner).len(), 3);
        let reported_admin = Audience::Member {
            roles: BTreeSet::new(),
            user: ALICE,
            guild_permissions: ADMINISTRATOR,
        };
        assert_eq!(visible_channels(&g, &reported_admin).len(), 3);
        assert_eq!(
            Audience::for_member(BTreeSet::new(), ALICE, MANAGE_GUILD),
            Audience::Everything
        );
        assert!(matches!(
            Audience::for_member(BTreeSet::new(), ALICE, VIEW_CHANNEL),
            Audience::Member { .. }
        ));
    }

    #[test]
    fn member_series_need_insight_permissions_or_self() {
        let bob = UserId(11);
        assert!(may_see_member_series(0, ALICE, ALICE));
        assert!(!may_see_member_series(VIEW_CHANNEL, ALICE, bob));
        for perm in [ADMINISTRATOR, MANAGE_GUILD, VIEW_GUILD_INSIGHTS] {
            assert!(may_see_member_series(perm, ALICE, bob));
        }
    }

    #[test]
    fn guild_access_round_trips_through_json() {
        let g = staff_only();
        let json = serde_json::to_string(&g).unwrap_or_default();
        assert_eq!(serde_json::from_str::<GuildAccess>(&json).ok(), Some(g));
    }

    fn arb_guild() -> impl Strategy<Value = GuildAccess> {
        let bits =
            prop::sample::select(vec![0, VIEW_CHANNEL, ADMINISTRATOR, VIEW_CHANNEL | MANAGE_GUILD]);
        let target = prop_oneof![
            (1u64..5).prop_map(|r| OverwriteTarget::Role(RoleId(r))),
            Just(OverwriteTarget::Member(ALICE))
        ];
        let overwrite = (target, bits.clone(), bits.clone())
            .prop_map(|(target, allow, deny)| ow(target, allow, deny));
        let channel =
            (prop::option::of(100u64..106), prop::collection::vec(overwrite, 0..4)).prop_map(
                |(parent, overwrites)| ChannelAccess { parent: parent.map(ChannelId), overwrites },
            );
        let roles = prop::collection::btree_map((1u64..5).prop_map(RoleId), bits, 0..4);
        let channels =
            prop::collection::btree_map((100u64..106).prop_map(ChannelId), channel, 0..6);
        (roles, channels).prop_map(|(roles, channels)| GuildAccess {
            guild: G,
            owner: Some(OWNER),
            roles,
            channels,
        })
    }

    proptest! {
        #[test]
        fn admins_see_everything_and_roleless_members_see_the_public_view(g in arb_guild()) {
            // Administrator through a role (computed) and as reported by Discord (taken as given).
            let mut with_admin = g.clone();
            with_admin.roles.insert(ADMIN, ADMINISTRATOR);
            let everything = visible_channels(&g, &Audience::Everything);
            prop_assert_eq!(visible_channels(&with_admin, &member(&[ADMIN])), everything.clone());
            let reported =
                Audience::Member { roles: BTreeSet::new(), user: ALICE, guild_permissions: ADMINISTRATOR };
            prop_assert_eq!(visible_channels(&g, &reported), everything);
            let mut plain = g.clone();
            for c in plain.channels.values_mut() {
                c.overwrites.retain(|o| o.target != OverwriteTarget::Member(ALICE));
            }
            let public = visible_channels(&plain, &Audience::Public);
            prop_assert_eq!(visible_channels(&plain, &member(&[])), public);
        }
    }
}
