//! The replies of `/engagement-config activity-role …`: the rules with what the bot last did, and the
//! preview of a rule. Plain data in, embeds out; both are ephemeral (settings are the admins' business).

use std::fmt::Write as _;

use engagement_domain::roles::MAX_ACTIVITY_ROLES;
use engagement_domain::visibility::RoleId;
use engagement_domain::{ActivityRole, GuildTimeZone, RolePlan, UserId};

use crate::format;
use crate::reply::{EmbedDraft, Reply};

/// The most members a preview names in each list (the rest are counted).
pub const PREVIEW_NAMES: usize = 20;

/// What the bot last did with one role, for `show`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleSummary {
    /// Members holding the role because the bot gave it.
    pub given: usize,
    /// When a run last went through the rule (Unix ms).
    pub applied_ms: Option<u64>,
    /// Why the last run could not apply it, and when (Unix ms).
    pub problem: Option<(String, u64)>,
}

/// A role mention, `<@&id>` (pings are off in every reply).
#[must_use]
pub fn mention(role: RoleId) -> String {
    format!("<@&{role}>")
}

/// `show`: each rule with whom the bot gave the role to, when it last applied it and any problem.
#[must_use]
pub fn show(rules: &[(ActivityRole, RoleSummary)], zone: GuildTimeZone, now_ms: u64) -> Reply {
    let mut draft = EmbedDraft::new("Activity roles");
    if rules.is_empty() {
        draft = draft.description(
            "No activity roles yet. `/engagement-config activity-role add` gives a role to members with \
             at least N messages, or to the top N members, in the last D days.",
        );
    }
    for (number, (rule, summary)) in (1..).zip(rules) {
        let mut text = format!(
            "{}: {}\nGiven by the bot to {}.",
            mention(rule.role),
            rule.describe(),
            format::members(summary.given)
        );
        match summary.applied_ms {
            Some(at) => {
                let when = format::freshness(Some(at), now_ms, zone);
                let when = when.strip_prefix("counted up to ").unwrap_or(&when);
                let verb = if summary.problem.is_some() { "tried" } else { "applied" };
                let _ = write!(text, " Last {verb} {when}.");
            }
            None => text.push_str(" Not applied yet: the next sync applies it."),
        }
        if let Some((problem, _)) = &summary.problem {
            let _ =
                write!(text, "\n⚠️ Could not apply it: {problem}. Tried again within the hour.");
        }
        draft = draft.field(format!("Rule {number}"), text, false);
    }
    draft = draft.footer(format!(
        "Up to {MAX_ACTIVITY_ROLES} rules. Each is applied after a sync, at most once an hour. The bot only \
         takes a role back from members it gave it to; opted-out members never get one."
    ));
    Reply::embed(draft.build())
}

/// `preview`: who would gain and lose the role if it were applied now.
#[must_use]
pub fn preview(rule: &ActivityRole, plan: &RolePlan, given: usize, problem: Option<&str>) -> Reply {
    let mut draft = EmbedDraft::new("Activity role preview").description(format!(
        "{}: {}. Nothing was changed.",
        mention(rule.role),
        rule.describe()
    ));
    draft = draft
        .field(format!("Would gain it ({})", plan.gain.len()), names(&plan.gain), false)
        .field(format!("Would lose it ({})", plan.lose.len()), names(&plan.lose), false)
        .field("Given by the bot now", format::members(given), true);
    if let Some(problem) = problem {
        draft = draft.field("⚠️ Cannot apply it now", problem, false);
    }
    draft = draft.footer(
        "Members who already hold the role (given by someone else) are left alone, and so are those who \
         left the server.",
    );
    Reply::embed(draft.build())
}

fn names(members: &[UserId]) -> String {
    if members.is_empty() {
        return "nobody".to_owned();
    }
    let mut text: Vec<String> =
        members.iter().take(PREVIEW_NAMES).map(|m| format::user(*m)).collect();
    if members.len() > PREVIEW_NAMES {
        text.push(format!("and {} more", members.len() - PREVIEW_NAMES));
    }
    text.join(", ")
}

#[cfg(test)]
mod tests {
    use engagement_domain::Threshold;

    use super::*;

    fn rule() -> ActivityRole {
        ActivityRole { role: RoleId(77), threshold: Threshold::MinMessages(20), days: 7 }
    }

    #[test]
    fn a_preview_names_the_first_members_and_counts_the_rest() -> Result<(), serde_json::Error> {
        let plan = RolePlan { gain: (1..=25).map(UserId).collect(), lose: vec![UserId(99)] };
        let json = serde_json::to_string(
            &preview(&rule(), &plan, 3, Some("the role was deleted")).message(),
        )?;
        assert!(json.contains("Would gain it (25)"), "{json}");
        assert!(json.contains("<@20>") && !json.contains("<@21>"), "{json}");
        assert!(json.contains("and 5 more"), "{json}");
        assert!(json.contains("Would lose it (1)") && json.contains("<@99>"), "{json}");
        assert!(json.contains("the role was deleted"), "{json}");
        assert!(json.contains(r#""allowed_mentions":{"parse":[]}"#), "{json}");
        Ok(())
    }

    #[test]
    fn show_tells_what_the_bot_did_and_why_it_could_not() -> Result<(), serde_json::Error> {
        let summary = RoleSummary {
            given: 12,
            applied_ms: Some(1_000_000),
            problem: Some(("the bot lacks the Manage Roles permission".to_owned(), 1_000_000)),
        };
        let reply = show(&[(rule(), summary)], GuildTimeZone::UTC, 1_000_000 + 600_000);
        let json = serde_json::to_string(&reply.message())?;
        assert!(
            json.contains("<@&77>: members with at least 20 messages in the last 7 days"),
            "{json}"
        );
        assert!(json.contains("12 members"), "{json}");
        assert!(json.contains("Last tried 00:16, 10 min ago"), "{json}");
        assert!(json.contains("lacks the Manage Roles permission"), "{json}");
        let empty = serde_json::to_string(&show(&[], GuildTimeZone::UTC, 0).message())?;
        assert!(empty.contains("No activity roles yet"), "{empty}");
        Ok(())
    }
}
