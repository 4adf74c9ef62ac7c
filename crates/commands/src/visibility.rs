//! What a reply may show: not the channels excluded from counting (nor what was counted in them before
//! the exclusion), not members who opted out (except in their own `/stats`), and not the channels the
//! reply's audience cannot view — a public reply only what `@everyone` can view, an ephemeral one what
//! the asker can, server managers everything.

use std::collections::BTreeSet;

use engagement_domain::visibility::{GuildAccess, visible_channels};
use engagement_domain::{Audience, ChannelId, GuildConfig, Tally, UserId};

use crate::format;
use crate::report::AnswerError;

/// The rules of one reply: the guild's settings and the channels its audience may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    /// The guild's settings.
    pub config: GuildConfig,
    /// The channels the audience may see; `None`: every channel.
    channels: Option<BTreeSet<ChannelId>>,
}

impl Shown {
    /// Every channel the settings count (server managers, exports, the CLI).
    #[must_use]
    pub const fn everything(config: GuildConfig) -> Self {
        Self { config, channels: None }
    }

    /// What `audience` may see, from the guild's channel permissions (`access`, the sync's snapshot).
    /// Without a snapshot, only [`Audience::Everything`] sees any channel: fail closed.
    #[must_use]
    pub fn for_audience(
        config: GuildConfig,
        access: Option<&GuildAccess>,
        audience: &Audience,
    ) -> Self {
        let channels = match (audience, access) {
            (Audience::Everything, _) => None,
            (_, Some(access)) => Some(visible_channels(access, audience)),
            (_, None) => Some(BTreeSet::new()),
        };
        Self { config, channels }
    }

    /// Whether a channel's counters may be shown.
    #[must_use]
    pub fn shows(&self, channel: ChannelId) -> bool {
        self.config.counts_channel(channel)
            && self.channels.as_ref().is_none_or(|visible| visible.contains(&channel))
    }

    /// Refuses a report about a channel this audience cannot view, saying nothing about it.
    ///
    /// # Errors
    /// [`AnswerError::User`].
    pub fn check_visible(&self, channel: ChannelId) -> Result<(), AnswerError> {
        if self.channels.as_ref().is_none_or(|visible| visible.contains(&channel)) {
            Ok(())
        } else {
            Err(AnswerError::user(format!(
                "There is nothing to show for {} in this reply: its numbers are shown only to members \
                 who can view it, and only in replies only they see.",
                format::channel(channel)
            )))
        }
    }
}

/// Removes the counters `shown` hides: excluded and invisible channels, and opted-out members other than
/// `keep`.
pub fn hide(tally: &mut Tally, shown: &Shown, keep: Option<UserId>) {
    tally.counters.retain(|&(channel, user), _| {
        shown.shows(channel) && (keep == Some(user) || !shown.config.opted_out.contains(&user))
    });
}

#[cfg(test)]
mod tests {
    use engagement_domain::{ChannelId, Counts, Scope};

    use super::*;

    #[test]
    fn excluded_channels_and_opted_out_members_disappear() {
        let mut tally = Tally::new();
        tally.add(ChannelId(1), UserId(10), Counts::messages(3));
        tally.add(ChannelId(2), UserId(10), Counts::messages(4));
        tally.add(ChannelId(1), UserId(11), Counts::messages(5));
        let mut config = GuildConfig::default();
        config.excluded_channels.insert(ChannelId(2));
        config.opted_out.insert(UserId(11));
        let mut hidden = tally.clone();
        hide(&mut hidden, &Shown::everything(config.clone()), None);
        assert_eq!(hidden.total(Scope::Guild), Counts::messages(3));
        let mut own = tally;
        hide(&mut own, &Shown::everything(config.clone()), Some(UserId(11)));
        assert_eq!(own.member_total(UserId(11), Scope::Guild), Counts::messages(5));
    }

    #[test]
    fn without_a_snapshot_only_everything_sees_channels() {
        let config = GuildConfig::default();
        let member = Audience::Member {
            roles: BTreeSet::new(),
            user: UserId(10),
            guild_permissions: engagement_domain::visibility::VIEW_CHANNEL,
        };
        for audience in [Audience::Public, member] {
            let shown = Shown::for_audience(config.clone(), None, &audience);
            assert!(!shown.shows(ChannelId(1)), "{audience:?}");
            assert!(shown.check_visible(ChannelId(1)).is_err());
        }
        let all = Shown::for_audience(config, None, &Audience::Everything);
        assert!(all.shows(ChannelId(1)) && all.check_visible(ChannelId(1)).is_ok());
    }
}
