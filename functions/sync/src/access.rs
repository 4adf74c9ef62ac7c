//! The guild's channel permissions, as the sync lists them each run, in the form reports read them
//! ([`GuildAccess`]): which reply may show which channel.

use std::collections::BTreeSet;

use engagement_discord::model::{Channel, Role};
use engagement_domain::visibility::{
    ChannelAccess, GuildAccess, Overwrite, OverwriteTarget, RoleId,
};
use engagement_domain::{ChannelId, GuildId, UserId};

/// Discord's overwrite `type` for a member (0 is a role).
const MEMBER_OVERWRITE: u8 = 1;

/// The snapshot of `guild`'s roles and its channels' overwrites. Threads are left out: they count toward
/// their channel, whose visibility they share. An overwrite of an unknown `type` is left out too (it
/// grants and denies nothing that Discord documents).
#[must_use]
pub fn guild_access(guild: GuildId, roles: &[Role], channels: &[Channel]) -> GuildAccess {
    GuildAccess {
        guild,
        owner: None,
        roles: roles.iter().map(|r| (RoleId(r.id), r.permissions)).collect(),
        channels: channels
            .iter()
            .filter(|c| !c.is_thread())
            .map(|c| {
                let overwrites = c
                    .permission_overwrites
                    .iter()
                    .filter_map(|o| {
                        let target = match o.kind {
                            0 => OverwriteTarget::Role(RoleId(o.id)),
                            MEMBER_OVERWRITE => OverwriteTarget::Member(UserId(o.id)),
                            _ => return None,
                        };
                        Some(Overwrite { target, allow: o.allow, deny: o.deny })
                    })
                    .collect();
                (ChannelId(c.id.get()), ChannelAccess { parent: None, overwrites })
            })
            .collect(),
    }
}

/// The channels whose permissions differ between two snapshots: every channel of `now` when the roles
/// changed (or there was no snapshot), else those whose overwrites changed or that are new.
#[must_use]
pub fn changed_channels(before: Option<&GuildAccess>, now: &GuildAccess) -> BTreeSet<ChannelId> {
    match before {
        Some(before) if before.roles == now.roles => now
            .channels
            .iter()
            .filter(|(id, access)| before.channels.get(id) != Some(access))
            .map(|(id, _)| *id)
            .collect(),
        _ => now.channels.keys().copied().collect(),
    }
}

#[cfg(test)]
mod tests {
    use engagement_domain::Audience;
    use engagement_domain::visibility::visible_channels;

    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(json: serde_json::Value) -> T {
        serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Discord's own shapes in, who sees what out.
    #[test]
    fn a_private_channel_is_hidden_from_the_public_and_shown_to_its_role() {
        let roles: Vec<Role> = parse(serde_json::json!([
            {"id": "10", "name": "@everyone", "permissions": "1024", "position": 0},
            {"id": "20", "name": "staff", "permissions": "0", "position": 1}
        ]));
        let channels: Vec<Channel> = parse(serde_json::json!([
            {"id": "100", "type": 0, "guild_id": "10", "permission_overwrites": []},
            {"id": "101", "type": 0, "guild_id": "10", "permission_overwrites": [
                {"id": "10", "type": 0, "allow": "0", "deny": "1024"},
                {"id": "20", "type": 0, "allow": "1024", "deny": "0"},
                {"id": "30", "type": 7, "allow": "1024", "deny": "0"}
            ]},
            {"id": "102", "type": 11, "guild_id": "10", "parent_id": "101"}
        ]));
        let access = guild_access(GuildId(10), &roles, &channels);
        assert_eq!(access.channels.len(), 2, "the thread is left out");
        assert_eq!(access.channels[&ChannelId(101)].overwrites.len(), 2, "unknown type left out");
        let public = visible_channels(&access, &Audience::Public);
        assert_eq!(public.into_iter().collect::<Vec<_>>(), vec![ChannelId(100)]);
        let staff = Audience::Member {
            roles: [RoleId(20)].into(),
            user: UserId(5),
            guild_permissions: 1024,
        };
        assert!(visible_channels(&access, &staff).contains(&ChannelId(101)));

        // What changed since: one channel's overwrites, then a role.
        let mut opened = access.clone();
        if let Some(channel) = opened.channels.get_mut(&ChannelId(101)) {
            channel.overwrites.clear();
        }
        let changed: Vec<_> = changed_channels(Some(&access), &opened).into_iter().collect();
        assert_eq!(changed, vec![ChannelId(101)]);
        assert!(changed_channels(Some(&access), &access).is_empty());
        let mut role_changed = access.clone();
        role_changed.roles.insert(RoleId(20), 8);
        assert_eq!(changed_channels(Some(&access), &role_changed).len(), 2);
        assert_eq!(changed_channels(None, &access).len(), 2);
    }
}
