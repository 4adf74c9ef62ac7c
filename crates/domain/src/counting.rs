//! What counts: the rules that turn Discord messages into counter deltas.
//!
//! - A message counts for its author when the author is a member — not a bot, not a webhook — and the
//!   message is an ordinary one: DEFAULT (0) or REPLY (19). Joins, pins, thread-created notices, slash
//!   command results and the like do not count.
//! - Messages in threads and forum posts count toward the parent channel, and through it its category.
//! - The day is the message's day in the guild's time zone.
//! - `reactions_received`: Discord's reaction counts (normal and burst, whoever reacted) on a counted message,
//!   credited to its author.
//! - `reactions_given`: one per (message, emoji, reacting member), bots excluded, on any message of a counted
//!   channel, credited to the reacting member on the message's day and channel.
//! - Excluded channels count nothing; opted-out members get no counters at all.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::batch::{EmojiKey, EmojiReactions, MessageReactions};
use crate::{ChannelId, Counts, Day, GuildTimeZone, MessageId, UserId};

/// Message type DEFAULT.
pub const MESSAGE_TYPE_DEFAULT: u8 = 0;
/// Message type REPLY.
pub const MESSAGE_TYPE_REPLY: u8 = 19;

/// The facts about a message that counting needs (no content).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageFacts {
    /// Message id.
    pub id: MessageId,
    /// Author.
    pub author: UserId,
    /// Whether the author is a bot account.
    pub author_is_bot: bool,
    /// Whether a webhook sent it.
    pub from_webhook: bool,
    /// Discord message type.
    pub kind: u8,
    /// When it was sent.
    pub timestamp: DateTime<Utc>,
    /// Reactions as Discord reports them on the message.
    pub reactions: Vec<ReactionCount>,
}

/// One emoji's reaction count on a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReactionCount {
    /// The emoji (`name:id` for custom emoji).
    pub emoji: EmojiKey,
    /// Normal plus burst reactions.
    pub count: u32,
}

/// A guild's settings, set with `/engagement-config` and `/engagement privacy`; they decide what counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GuildConfig {
    /// Time zone for days.
    pub time_zone: GuildTimeZone,
    /// Channels (and, through them, their threads) that count nothing.
    pub excluded_channels: BTreeSet<ChannelId>,
    /// Members who opted out.
    pub opted_out: BTreeSet<UserId>,
    /// Activity-role rules (`/engagement-config activity-role`), at most
    /// [`MAX_ACTIVITY_ROLES`](crate::roles::MAX_ACTIVITY_ROLES), at most one per role.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub activity_roles: Vec<crate::roles::ActivityRole>,
    /// The digest posted to a channel (`/engagement-config digest`), if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<crate::digest::DigestSchedule>,
}

impl GuildConfig {
    /// Whether messages in this counting channel count.
    #[must_use]
    pub fn counts_channel(&self, channel: ChannelId) -> bool {
        !self.excluded_channels.contains(&channel)
    }

    /// Whether a message counts for its author.
    #[must_use]
    pub fn counts_for_author(&self, message: &MessageFacts) -> bool {
        !message.author_is_bot
            && !message.from_webhook
            && matches!(message.kind, MESSAGE_TYPE_DEFAULT | MESSAGE_TYPE_REPLY)
            && !self.opted_out.contains(&message.author)
    }

    /// Whether a reacting user's reaction counts as given.
    #[must_use]
    pub fn counts_reactor(&self, user: UserId, is_bot: bool) -> bool {
        !is_bot && !self.opted_out.contains(&user)
    }

    /// The day of a message.
    #[must_use]
    pub fn day_of(&self, message: &MessageFacts) -> Day {
        Day::of(message.timestamp, self.time_zone)
    }

    /// The local clock hour of a message (see [`GuildTimeZone::hour_of`](crate::GuildTimeZone::hour_of)).
    #[must_use]
    pub fn hour_of(&self, message: &MessageFacts) -> u8 {
        self.time_zone.hour_of(message.timestamp)
    }

    /// The message's own counters (messages and reactions received) for its author, if it counts.
    #[must_use]
    pub fn author_counts(&self, message: &MessageFacts) -> Option<(UserId, Counts)> {
        self.counts_for_author(message).then(|| {
            let received: i64 = message.reactions.iter().map(|r| i64::from(r.count)).sum();
            (
                message.author,
                Counts { messages: 1, reactions_given: 0, reactions_received: received },
            )
        })
    }
}

/// A counter change for one member.
pub type MemberDelta = (UserId, Counts);

/// The differences between what was counted for a message's reactions and what is there now.
///
/// `before` is the counted state (`None`: nothing was counted for this message's reactions); `after` the
/// state just read. Returns the deltas to apply — received for the author, given per reactor — so that
/// applying them once moves the counters from `before` to `after`.
#[must_use]
pub fn reaction_deltas(
    before: Option<&MessageReactions>,
    after: &MessageReactions,
) -> Vec<MemberDelta> {
    let mut out: Vec<MemberDelta> = Vec::new();
    let received = |state: &MessageReactions| state.author.map(|a| (a, state.received()));
    let (old_author, new_author) = (before.and_then(received), received(after));
    if old_author != new_author {
        if let Some((a, n)) = old_author {
            out.push((a, Counts { reactions_received: -n, ..Counts::ZERO }));
        }
        if let Some((a, n)) = new_author {
            out.push((a, Counts { reactions_received: n, ..Counts::ZERO }));
        }
    }
    let pairs = |state: Option<&MessageReactions>| -> BTreeSet<(EmojiKey, UserId)> {
        state
            .into_iter()
            .flat_map(|s| {
                s.emojis.iter().flat_map(|e| e.reactors.iter().map(|u| (e.emoji.clone(), *u)))
            })
            .collect()
    };
    let (old_pairs, new_pairs) = (pairs(before), pairs(Some(after)));
    for (_, user) in new_pairs.difference(&old_pairs) {
        out.push((*user, Counts { reactions_given: 1, ..Counts::ZERO }));
    }
    for (_, user) in old_pairs.difference(&new_pairs) {
        out.push((*user, Counts { reactions_given: -1, ..Counts::ZERO }));
    }
    out
}

/// Which emojis' reactor lists must be read again: those whose count changed since `before`, or all of
/// them when nothing was counted yet.
#[must_use]
pub fn emojis_to_refresh(
    before: Option<&MessageReactions>,
    now: &[ReactionCount],
) -> Vec<EmojiKey> {
    now.iter()
        .filter(|r| {
            before.is_none_or(|b| {
                b.emojis.iter().find(|e| e.emoji == r.emoji).is_none_or(|e| e.count != r.count)
            })
        })
        .map(|r| r.emoji.clone())
        .collect()
}

/// Builds the new counted state of an emoji: Discord's count and the counted reactors.
#[must_use]
pub fn emoji_state(
    emoji: EmojiKey,
    count: u32,
    reactors: impl IntoIterator<Item = UserId>,
) -> EmojiReactions {
    let reactors: BTreeSet<UserId> = reactors.into_iter().collect();
    EmojiReactions { emoji, count, reactors: reactors.into_iter().collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u8, bot: bool, webhook: bool) -> MessageFacts {
        MessageFacts {
            id: MessageId(1),
            author: UserId(5),
            author_is_bot: bot,
            from_webhook: webhook,
            kind,
            timestamp: DateTime::<Utc>::from_timestamp(1_764_300_000, 0).unwrap_or_default(),
            reactions: vec![ReactionCount { emoji: "👍".into(), count: 3 }],
        }
    }

    #[test]
    fn only_ordinary_member_messages_count_for_their_author() {
        let rules = GuildConfig::default();
        assert!(rules.counts_for_author(&message(0, false, false)));
        assert!(rules.counts_for_author(&message(19, false, false)));
        for (kind, bot, webhook) in [
            (0, true, false),
            (0, false, true),
            (7, false, false),
            (18, false, false),
            (20, false, false),
            (21, false, false),
        ] {
            assert!(
                !rules.counts_for_author(&message(kind, bot, webhook)),
                "type {kind} bot {bot} webhook {webhook}"
            );
        }
        let mut opted = GuildConfig::default();
        opted.opted_out.insert(UserId(5));
        assert!(!opted.counts_for_author(&message(0, false, false)));
        assert_eq!(
            rules.author_counts(&message(0, false, false)),
            Some((UserId(5), Counts { messages: 1, reactions_given: 0, reactions_received: 3 }))
        );
    }

    fn state(author: Option<u64>, emojis: &[(&str, u32, &[u64])]) -> MessageReactions {
        MessageReactions {
            message: MessageId(1),
            source: ChannelId(2),
            channel: ChannelId(2),
            day: Day::from_ordinal(20_000),
            author: author.map(UserId),
            emojis: emojis
                .iter()
                .map(|(e, c, r)| emoji_state((*e).into(), *c, r.iter().map(|u| UserId(*u))))
                .collect(),
        }
    }

    fn total(deltas: &[MemberDelta], user: u64) -> Counts {
        deltas.iter().filter(|(u, _)| u.0 == user).map(|(_, c)| *c).sum()
    }

    #[test]
    fn reaction_deltas_move_counters_from_before_to_after() {
        let before = state(Some(5), &[("👍", 2, &[7, 8]), ("x:1", 1, &[9])]);
        let after = state(Some(5), &[("👍", 3, &[7, 8, 10]), ("🎉", 1, &[7])]);
        let d = reaction_deltas(Some(&before), &after);
        assert_eq!(total(&d, 5).reactions_received, 4 - 3);
        assert_eq!(total(&d, 10).reactions_given, 1);
        assert_eq!(total(&d, 7).reactions_given, 1);
        assert_eq!(total(&d, 9).reactions_given, -1);
        assert_eq!(total(&d, 8), Counts::ZERO);
        assert!(reaction_deltas(Some(&after), &after).is_empty());
        let first = reaction_deltas(None, &after);
        assert_eq!(total(&first, 5).reactions_received, 4);
        assert_eq!(total(&first, 7).reactions_given, 2);
    }

    #[test]
    fn only_changed_emojis_are_read_again() {
        let before = state(Some(5), &[("👍", 2, &[7, 8])]);
        let now = [
            ReactionCount { emoji: "👍".into(), count: 2 },
            ReactionCount { emoji: "🎉".into(), count: 1 },
        ];
        assert_eq!(emojis_to_refresh(Some(&before), &now), vec!["🎉".to_owned()]);
        assert_eq!(emojis_to_refresh(None, &now).len(), 2);
    }
}
