//! What a guild's settings hide from reports: channels excluded from counting (what was counted in them
//! before the exclusion too) and members who opted out (except from their own `/stats`).

use engagement_domain::{GuildConfig, Tally, UserId};

/// Removes the counters of excluded channels and of opted-out members other than `keep`.
pub fn hide(tally: &mut Tally, config: &GuildConfig, keep: Option<UserId>) {
    tally.counters.retain(|&(channel, user), _| {
        config.counts_channel(channel) && (keep == Some(user) || !config.opted_out.contains(&user))
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
        hide(&mut hidden, &config, None);
        assert_eq!(hidden.total(Scope::Guild), Counts::messages(3));
        let mut own = tally;
        hide(&mut own, &config, Some(UserId(11)));
        assert_eq!(own.member_total(UserId(11), Scope::Guild), Counts::messages(5));
    }
}
