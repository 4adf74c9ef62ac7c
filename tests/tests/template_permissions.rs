//! Each function's role allows exactly the DynamoDB actions its code calls (least privilege: the store
//! uses no BatchGetItem, no transactions, no ConditionCheckItem), and followup's concurrency is capped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use serde_norway::Value;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    let text = std::fs::read_to_string(path).expect("infra/template.yaml");
    serde_norway::from_str(&text).expect("the template is YAML")
}

/// The `dynamodb:` actions a role's policies allow.
fn table_actions(t: &Value, role: &str) -> BTreeSet<String> {
    let policies = t["Resources"][role]["Properties"]["Policies"].as_sequence().expect("policies");
    policies
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_sequence().cloned().unwrap_or_default())
        .flat_map(|statement| match &statement["Action"] {
            Value::Sequence(actions) => actions.clone(),
            single => vec![single.clone()],
        })
        .filter_map(|action| action.as_str().map(str::to_owned))
        .filter(|action| action.starts_with("dynamodb:"))
        .collect()
}

fn set(actions: &[&str]) -> BTreeSet<String> {
    actions.iter().map(|a| format!("dynamodb:{a}")).collect()
}

#[test]
fn each_role_allows_the_table_actions_its_function_uses_and_no_more() {
    let t = template();
    // Reports read; settings, privacy and claims are single-item writes; claims are given back by a delete;
    // every command nudges the sync's schedule (an update of the `SCHEDULE` partition only).
    assert_eq!(
        table_actions(&t, "InteractionsRole"),
        set(&["GetItem", "Query", "PutItem", "DeleteItem", "UpdateItem"])
    );
    let statements = &t["Resources"]["InteractionsRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"];
    let nudge = statements
        .as_sequence()
        .and_then(|s| s.iter().find(|s| s["Action"].as_str() == Some("dynamodb:UpdateItem")))
        .expect("the nudge statement");
    let keys = &nudge["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"];
    assert_eq!(keys.as_sequence().map(Vec::len), Some(1), "{keys:?}");
    assert_eq!(keys[0].as_str(), Some("SCHEDULE"), "only the schedule's partition");
    // Erasure: log append, summary generations (BatchWriteItem deletes the old), fold watermark
    // (UpdateItem), claims.
    let writer =
        set(&["GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"]);
    assert_eq!(table_actions(&t, "FollowupRole"), writer);
    // The sync does all of that, and takes and releases its lease.
    assert_eq!(table_actions(&t, "SyncRole"), writer);
}

#[test]
fn followup_runs_at_most_a_few_jobs_at_once() {
    let t = template();
    let followup = &t["Resources"]["FollowupFunction"]["Properties"];
    let reserved = &followup["ReservedConcurrentExecutions"];
    let Value::Tagged(tagged) = reserved else { panic!("!Ref a parameter: {reserved:?}") };
    let parameter = tagged.value.as_str().expect("a parameter name");
    let default = t["Parameters"][parameter]["Default"].as_u64();
    assert!(default.is_some_and(|n| (1..=10).contains(&n)), "{default:?}");
    // The interactions function is never capped: PINGs and short commands must always be answered.
    assert!(
        t["Resources"]["InteractionsFunction"]["Properties"]
            .get("ReservedConcurrentExecutions")
            .is_none()
    );
}
