//! Activity roles: rules that give a role to the members who took part lately, and what applying them
//! changes. Pure decisions over plain data; the scheduled function does the calls (see
//! `crates/actions/src/roles.rs`).
//!
//! A rule gives its role to members with at least N counted messages in the last D local days (today
//! included), or to the top N members by messages in those days. The bot only ever takes a role back from
//! members it gave it to: a [`RoleRecord`] remembers them, so a role an admin hands out by hand is never
//! touched.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::visibility::{ADMINISTRATOR, RoleId};
use crate::{Day, DayRange, GuildConfig, GuildId, Tally, UserId};

/// Rules a server may have.
pub const MAX_ACTIVITY_ROLES: usize = 5;
/// The longest window a rule may look back, in days.
pub const MAX_RULE_DAYS: u16 = 90;
/// The most members a top-N rule may name.
pub const MAX_TOP: u32 = 1_000;
/// The highest message threshold.
pub const MAX_MIN_MESSAGES: u32 = 1_000_000;
/// `MANAGE_ROLES`: needed to give and take roles.
pub const MANAGE_ROLES: u64 = 1 << 28;

/// Who a rule gives its role to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Threshold {
    /// Members with at least this many counted messages in the window.
    MinMessages(u32),
    /// The top this many members by messages in the window (ties at the cut broken by the lower id, so
    /// the answer does not depend on the order anything was read in).
    Top(u32),
}

/// One activity-role rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ActivityRole {
    /// The role given and taken.
    pub role: RoleId,
    /// Who qualifies.
    pub threshold: Threshold,
    /// The window: the last `days` local days, today included.
    pub days: u16,
}

/// A rule that cannot be set.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Neither or both of `min-messages` and `top`.
    #[error("give exactly one of `min-messages` (a message count) and `top` (a number of members)")]
    OneThreshold,
    /// `days` out of range.
    #[error("`days` must be from 1 to {MAX_RULE_DAYS}, not {0}")]
    Days(i64),
    /// `min-messages` out of range.
    #[error("`min-messages` must be from 1 to {MAX_MIN_MESSAGES}, not {0}")]
    MinMessages(i64),
    /// `top` out of range.
    #[error("`top` must be from 1 to {MAX_TOP}, not {0}")]
    Top(i64),
}

impl ActivityRole {
    /// A rule from a command's options: exactly one of `min_messages` and `top`, and `days`, each in
    /// range.
    ///
    /// # Errors
    /// A [`RuleError`] saying which option is wrong.
    pub fn from_options(
        role: RoleId,
        min_messages: Option<i64>,
        top: Option<i64>,
        days: i64,
    ) -> Result<Self, RuleError> {
        let days = u16::try_from(days)
            .ok()
            .filter(|d| (1..=MAX_RULE_DAYS).contains(d))
            .ok_or(RuleError::Days(days))?;
        let threshold = match (min_messages, top) {
            (Some(n), None) => Threshold::MinMessages(
                u32::try_from(n)
                    .ok()
                    .filter(|n| (1..=MAX_MIN_MESSAGES).contains(n))
                    .ok_or(RuleError::MinMessages(n))?,
            ),
            (None, Some(n)) => Threshold::Top(
                u32::try_from(n)
                    .ok()
                    .filter(|n| (1..=MAX_TOP).contains(n))
                    .ok_or(RuleError::Top(n))?,
            ),
            _ => return Err(RuleError::OneThreshold),
        };
        Ok(Self { role, threshold, days })
    }

    /// The days the rule looks at when today is `today`.
    #[must_use]
    pub fn window(&self, today: Day) -> DayRange {
        let first = today.plus(-i32::from(self.days.max(1)) + 1);
        DayRange::new(first, today).unwrap_or(DayRange::single(today))
    }

    /// Who qualifies, in words: "members with at least 20 messages in the last 7 days", "the top 10
    /// members by messages in the last 30 days".
    #[must_use]
    pub fn describe(&self) -> String {
        let days = if self.days == 1 {
            "today".to_owned()
        } else {
            format!("in the last {} days", self.days)
        };
        match self.threshold {
            Threshold::MinMessages(1) => format!("members with at least 1 message {days}"),
            Threshold::MinMessages(n) => format!("members with at least {n} messages {days}"),
            Threshold::Top(1) => format!("the member with the most messages {days}"),
            Threshold::Top(n) => format!("the top {n} members by messages {days}"),
        }
    }

    /// What Discord's audit log shows for each change: which rule and threshold.
    #[must_use]
    pub fn audit_reason(&self) -> String {
        format!("discord-engagement activity role: {}", self.describe())
    }

    /// The members who qualify, given each member's counted messages in the window. Opted-out members
    /// never do.
    #[must_use]
    pub fn qualifying(
        &self,
        messages: &BTreeMap<UserId, u64>,
        opted_out: &BTreeSet<UserId>,
    ) -> BTreeSet<UserId> {
        let eligible = messages.iter().filter(|(m, n)| **n > 0 && !opted_out.contains(m));
        match self.threshold {
            Threshold::MinMessages(min) => {
                eligible.filter(|(_, n)| **n >= u64::from(min)).map(|(m, _)| *m).collect()
            }
            Threshold::Top(top) => {
                let mut ranked: Vec<(UserId, u64)> = eligible.map(|(m, n)| (*m, *n)).collect();
                ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                ranked.into_iter().take(top as usize).map(|(m, _)| m).collect()
            }
        }
    }
}

/// Each member's counted messages in `tally`, leaving out channels the guild excludes now (what was
/// counted in them before stays stored, but counts for nothing, as in every report).
#[must_use]
pub fn messages_by_member(tally: &Tally, config: &GuildConfig) -> BTreeMap<UserId, u64> {
    let mut out: BTreeMap<UserId, u64> = BTreeMap::new();
    for (&(channel, member), counts) in &tally.counters {
        if config.counts_channel(channel) && counts.messages > 0 {
            *out.entry(member).or_default() += counts.messages.unsigned_abs();
        }
    }
    out
}

/// Whom the bot gave a rule's role to, and whom it was about to change when it last stopped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleRecord {
    /// Members holding the role because the bot gave it.
    pub given: BTreeSet<UserId>,
    /// Members the bot was about to give the role to or take it from. Whether the call happened is
    /// unknown (the run may have stopped after it): the member object says, at the start of the next run.
    pub pending: BTreeSet<UserId>,
}

const RECORD_VERSION: u8 = 1;

#[derive(Serialize, Deserialize)]
struct StoredRecord {
    given: Vec<UserId>,
    pending: Vec<UserId>,
}

impl RoleRecord {
    /// The record as stored: a version byte, then both id lists (postcard varints).
    ///
    /// # Errors
    /// Never in practice (plain lists encode).
    pub fn encode(&self) -> Result<Vec<u8>, crate::CodecError> {
        let stored = StoredRecord {
            given: self.given.iter().copied().collect(),
            pending: self.pending.iter().copied().collect(),
        };
        crate::codec::encode(&crate::batch::Versioned { version: RECORD_VERSION, body: &stored })
    }

    /// Reads what [`encode`](Self::encode) wrote.
    ///
    /// # Errors
    /// [`CodecError`](crate::CodecError) for bytes of another layout or version.
    pub fn decode(bytes: &[u8]) -> Result<Self, crate::CodecError> {
        let stored: StoredRecord = crate::codec::decode_versioned(bytes, RECORD_VERSION)?;
        Ok(Self {
            given: stored.given.into_iter().collect(),
            pending: stored.pending.into_iter().collect(),
        })
    }
}

/// What one application of a rule changes, from the record after pending members were settled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RolePlan {
    /// Members who qualify and were not given the role by the bot. Those who hold it already (given by
    /// someone else) or left the server are skipped when applied.
    pub gain: Vec<UserId>,
    /// Members the bot gave the role to who no longer qualify (opted-out members among them).
    pub lose: Vec<UserId>,
}

impl RolePlan {
    /// The changes that make `given` equal the `qualifying` members.
    #[must_use]
    pub fn new(given: &BTreeSet<UserId>, qualifying: &BTreeSet<UserId>) -> Self {
        Self {
            gain: qualifying.difference(given).copied().collect(),
            lose: given.difference(qualifying).copied().collect(),
        }
    }
}

/// A role as the hierarchy checks need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleFacts {
    /// The role.
    pub id: RoleId,
    /// Its position in the role list (higher is more powerful).
    pub position: i64,
    /// Its guild-level permissions.
    pub permissions: u64,
    /// Whether an integration (a bot, boosts, a subscription) manages it: nobody can give it.
    pub managed: bool,
}

impl RoleFacts {
    /// Discord's role order: by position, and between equal positions the older (lower id) role is
    /// higher.
    fn rank(&self) -> (i64, std::cmp::Reverse<RoleId>) {
        (self.position, std::cmp::Reverse(self.id))
    }
}

/// Why the bot cannot manage a rule's role (at configuration time, or when applying it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoleProblem {
    /// The role no longer exists.
    #[error("the role was deleted")]
    Deleted,
    /// `@everyone`.
    #[error("`@everyone` is every member's role: it cannot be given or taken")]
    Everyone,
    /// Managed by an integration.
    #[error(
        "the role is managed by an integration (a bot, boosts or a subscription): nobody can give it"
    )]
    Managed,
    /// The bot lacks Manage Roles.
    #[error("the bot lacks the Manage Roles permission: give its role Manage Roles")]
    BotLacksManageRoles,
    /// The role is not below the bot's highest role.
    #[error(
        "the role is not below the bot's highest role: in Server Settings → Roles, drag the bot's role above it"
    )]
    AboveBot,
    /// The asker's roles do not give Manage Roles.
    #[error("you need the Manage Roles permission: the bot gives the role on your behalf")]
    AskerLacksManageRoles,
    /// The role is not below the asker's highest role.
    #[error("the role is not below your highest role, so you could not give it yourself")]
    AboveAsker,
}

/// Why the bot cannot give and take `role` in `guild`, whose roles are `roles`, while the bot holds
/// `bot_roles`; `None` when it can.
#[must_use]
pub fn bot_problem(
    guild: GuildId,
    roles: &[RoleFacts],
    bot_roles: &BTreeSet<RoleId>,
    role: RoleId,
) -> Option<RoleProblem> {
    let target = match role_check(guild, roles, role) {
        Ok(target) => target,
        Err(problem) => return Some(problem),
    };
    let permissions = permissions_of(guild, roles, bot_roles);
    if permissions & (ADMINISTRATOR | MANAGE_ROLES) == 0 {
        return Some(RoleProblem::BotLacksManageRoles);
    }
    // Administrator does not lift the hierarchy: nobody but the owner can manage a role at or above
    // their own highest role.
    if highest(roles, bot_roles).is_none_or(|top| top.rank() <= target.rank()) {
        return Some(RoleProblem::AboveBot);
    }
    None
}

/// Why the member asking (holding `asker_roles`; `asker_permissions` as the interaction computed them)
/// may not set a rule for `role`: Administrators (and the owner) may; anyone else needs Manage Roles from
/// their roles and a highest role above it. The interaction's permissions are the asker's in the channel,
/// where bit 28 is Manage Permissions: only its Administrator bit (which no overwrite grants) is used.
#[must_use]
pub fn asker_problem(
    guild: GuildId,
    roles: &[RoleFacts],
    asker_roles: &BTreeSet<RoleId>,
    asker_permissions: u64,
    role: RoleId,
) -> Option<RoleProblem> {
    if asker_permissions & ADMINISTRATOR != 0 {
        return None;
    }
    if permissions_of(guild, roles, asker_roles) & (ADMINISTRATOR | MANAGE_ROLES) == 0 {
        return Some(RoleProblem::AskerLacksManageRoles);
    }
    let target = roles.iter().find(|r| r.id == role)?;
    if highest(roles, asker_roles).is_none_or(|top| top.rank() <= target.rank()) {
        Some(RoleProblem::AboveAsker)
    } else {
        None
    }
}

/// The role, or why nobody can give it.
fn role_check(guild: GuildId, roles: &[RoleFacts], role: RoleId) -> Result<RoleFacts, RoleProblem> {
    if role == RoleId::everyone(guild) {
        return Err(RoleProblem::Everyone);
    }
    let target = roles.iter().find(|r| r.id == role).ok_or(RoleProblem::Deleted)?;
    if target.managed {
        return Err(RoleProblem::Managed);
    }
    Ok(*target)
}

fn permissions_of(guild: GuildId, roles: &[RoleFacts], held: &BTreeSet<RoleId>) -> u64 {
    roles
        .iter()
        .filter(|r| r.id == RoleId::everyone(guild) || held.contains(&r.id))
        .fold(0, |bits, r| bits | r.permissions)
}

fn highest<'a>(roles: &'a [RoleFacts], held: &BTreeSet<RoleId>) -> Option<&'a RoleFacts> {
    roles.iter().filter(|r| held.contains(&r.id)).max_by_key(|r| r.rank())
}

impl fmt::Display for ActivityRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<@&{}>: {}", self.role, self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChannelId, Counts};

    const GUILD: GuildId = GuildId(1);

    fn rule(threshold: Threshold, days: u16) -> ActivityRole {
        ActivityRole { role: RoleId(50), threshold, days }
    }

    fn counts(pairs: &[(u64, u64)]) -> BTreeMap<UserId, u64> {
        pairs.iter().map(|&(m, n)| (UserId(m), n)).collect()
    }

    fn ids(list: &[u64]) -> BTreeSet<UserId> {
        list.iter().copied().map(UserId).collect()
    }

    #[test]
    fn a_threshold_rule_takes_everyone_at_or_over_it_but_not_opted_out_members() {
        let messages = counts(&[(1, 20), (2, 19), (3, 50), (4, 20)]);
        let got = rule(Threshold::MinMessages(20), 7).qualifying(&messages, &ids(&[4]));
        assert_eq!(got, ids(&[1, 3]));
    }

    #[test]
    fn a_top_rule_breaks_ties_at_the_cut_by_the_lower_id() {
        let messages = counts(&[(9, 5), (3, 7), (5, 5), (7, 5), (8, 0)]);
        let r = rule(Threshold::Top(3), 7);
        assert_eq!(r.qualifying(&messages, &BTreeSet::new()), ids(&[3, 5, 7]));
        assert_eq!(r.qualifying(&messages, &ids(&[3])), ids(&[5, 7, 9]));
        // Nobody with no messages qualifies, however short the list.
        assert_eq!(rule(Threshold::Top(10), 7).qualifying(&messages, &BTreeSet::new()).len(), 4);
    }

    #[test]
    fn the_window_ends_today_and_spans_the_days() {
        let today: Day = "2026-11-30".parse().unwrap_or(Day::from_ordinal(0));
        let window = rule(Threshold::Top(1), 7).window(today);
        assert_eq!(window.len(), 7);
        assert!(window.contains(today));
        assert!(window.contains(today.plus(-6)));
        assert!(!window.contains(today.plus(-7)));
        assert_eq!(rule(Threshold::Top(1), 1).window(today), DayRange::single(today));
    }

    #[test]
    fn options_need_exactly_one_threshold_in_range() {
        let role = RoleId(5);
        assert_eq!(
            ActivityRole::from_options(role, Some(20), None, 7),
            Ok(ActivityRole { role, threshold: Threshold::MinMessages(20), days: 7 })
        );
        assert_eq!(
            ActivityRole::from_options(role, None, Some(10), 30).map(|r| r.threshold),
            Ok(Threshold::Top(10))
        );
        assert_eq!(
            ActivityRole::from_options(role, Some(1), Some(1), 7),
            Err(RuleError::OneThreshold)
        );
        assert_eq!(ActivityRole::from_options(role, None, None, 7), Err(RuleError::OneThreshold));
        assert_eq!(ActivityRole::from_options(role, Some(1), None, 0), Err(RuleError::Days(0)));
        assert_eq!(ActivityRole::from_options(role, Some(1), None, 91), Err(RuleError::Days(91)));
        assert_eq!(
            ActivityRole::from_options(role, Some(0), None, 7),
            Err(RuleError::MinMessages(0))
        );
        assert_eq!(ActivityRole::from_options(role, None, Some(-3), 7), Err(RuleError::Top(-3)));
    }

    #[test]
    fn excluded_channels_count_for_nothing() {
        let mut tally = Tally::new();
        tally.add(ChannelId(10), UserId(1), Counts::messages(3));
        tally.add(ChannelId(11), UserId(1), Counts::messages(4));
        tally.add(ChannelId(11), UserId(2), Counts::messages(1));
        let mut config = GuildConfig::default();
        assert_eq!(messages_by_member(&tally, &config), counts(&[(1, 7), (2, 1)]));
        config.excluded_channels.insert(ChannelId(11));
        assert_eq!(messages_by_member(&tally, &config), counts(&[(1, 3)]));
    }

    #[test]
    fn the_plan_gives_to_new_qualifiers_and_takes_back_only_what_the_bot_gave() {
        let plan = RolePlan::new(&ids(&[1, 2, 3]), &ids(&[2, 3, 4, 5]));
        assert_eq!(plan.gain, vec![UserId(4), UserId(5)]);
        assert_eq!(plan.lose, vec![UserId(1)]);
        assert_eq!(RolePlan::new(&ids(&[1]), &ids(&[1])), RolePlan::default());
    }

    fn roles() -> Vec<RoleFacts> {
        let role = |id, position, permissions, managed| RoleFacts {
            id: RoleId(id),
            position,
            permissions,
            managed,
        };
        vec![
            role(1, 0, 0, false),             // @everyone
            role(10, 5, 0, false),            // Moderators, above the bot
            role(11, 4, MANAGE_ROLES, false), // the bot's role
            role(12, 2, 0, false),            // Active
            role(13, 1, 0, true),             // Server Booster
            role(14, 4, 0, false),            // same position as the bot's, newer: below it
            role(9, 4, 0, false),             // same position, older: above it
        ]
    }

    #[test]
    fn the_bot_manages_only_roles_below_its_highest_with_manage_roles() {
        let bot = [RoleId(11)].into_iter().collect();
        let problem = |role| bot_problem(GUILD, &roles(), &bot, RoleId(role));
        assert_eq!(problem(12), None);
        assert_eq!(problem(14), None);
        assert_eq!(problem(9), Some(RoleProblem::AboveBot));
        assert_eq!(problem(10), Some(RoleProblem::AboveBot));
        assert_eq!(problem(11), Some(RoleProblem::AboveBot));
        assert_eq!(problem(13), Some(RoleProblem::Managed));
        assert_eq!(problem(1), Some(RoleProblem::Everyone));
        assert_eq!(problem(99), Some(RoleProblem::Deleted));
        let mut without = roles();
        for role in &mut without {
            role.permissions = 0;
        }
        assert_eq!(
            bot_problem(GUILD, &without, &bot, RoleId(12)),
            Some(RoleProblem::BotLacksManageRoles)
        );
        // Manage Roles through @everyone counts; no role at all means nothing can be managed.
        without[0].permissions = MANAGE_ROLES;
        assert_eq!(bot_problem(GUILD, &without, &bot, RoleId(12)), None);
        assert_eq!(
            bot_problem(GUILD, &without, &BTreeSet::new(), RoleId(12)),
            Some(RoleProblem::AboveBot)
        );
    }

    #[test]
    fn the_asker_needs_manage_roles_and_a_higher_role_unless_administrator() {
        let mut roles = roles();
        roles[1].permissions = MANAGE_ROLES; // Moderators
        let held = |list: &[u64]| list.iter().copied().map(RoleId).collect::<BTreeSet<_>>();
        let problem = |held: &BTreeSet<RoleId>, permissions| {
            asker_problem(GUILD, &roles, held, permissions, RoleId(12))
        };
        // Moderators, or a role like the bot's (Manage Roles, position 4): above Active (2).
        assert_eq!(problem(&held(&[10]), 0), None);
        assert_eq!(problem(&held(&[11]), 0), None);
        // Manage Roles from Active itself, whose highest role is then the role: not above it.
        let mut low = roles.clone();
        low[3].permissions = MANAGE_ROLES; // Active itself gives Manage Roles
        assert_eq!(
            asker_problem(GUILD, &low, &held(&[12]), 0, RoleId(12)),
            Some(RoleProblem::AboveAsker)
        );
        // No role with Manage Roles: refused, whatever the channel's bit 28 (Manage Permissions) says.
        assert_eq!(
            problem(&held(&[12, 13]), MANAGE_ROLES),
            Some(RoleProblem::AskerLacksManageRoles)
        );
        assert_eq!(problem(&held(&[]), 0), Some(RoleProblem::AskerLacksManageRoles));
        assert_eq!(problem(&held(&[]), ADMINISTRATOR), None);
    }

    #[test]
    fn records_round_trip_and_refuse_other_layouts() -> Result<(), crate::CodecError> {
        let record = RoleRecord { given: ids(&[1, 2, 1 << 60]), pending: ids(&[7]) };
        let bytes = record.encode()?;
        assert_eq!(RoleRecord::decode(&bytes)?, record);
        assert!(RoleRecord::decode(&[2, 0, 0]).is_err());
        assert!(RoleRecord::decode(&bytes[..bytes.len() - 1]).is_err());
        Ok(())
    }

    #[test]
    fn rules_read_as_admins_would_write_them() {
        assert_eq!(
            rule(Threshold::MinMessages(20), 7).describe(),
            "members with at least 20 messages in the last 7 days"
        );
        assert_eq!(
            rule(Threshold::Top(10), 30).describe(),
            "the top 10 members by messages in the last 30 days"
        );
        assert_eq!(
            rule(Threshold::MinMessages(1), 1).describe(),
            "members with at least 1 message today"
        );
        assert!(rule(Threshold::Top(3), 7).audit_reason().len() <= 512);
    }
}
