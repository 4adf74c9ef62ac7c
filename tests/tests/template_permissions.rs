//! Each function's role allows exactly the DynamoDB actions its code calls (least privilege: the store
//! uses BatchGetItem only for per-member reads (`/stats`, the dashboard's member page), no transactions, no ConditionCheckItem), and
//! followup's concurrency is capped.
//! The dashboard's role only reads the table and exactly the parameters (or the secret) it is given, and
//! its concurrency is capped too; and nothing of the dashboard is created without `Dashboard=enabled`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use serde_norway::Value;
use support::template::{decided, holds, parameters, template, text};

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
        set(&["GetItem", "Query", "BatchGetItem", "PutItem", "DeleteItem", "UpdateItem"])
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
    // The sync does all of that, and takes and releases its lease.
    assert_eq!(table_actions(&t, "SyncRole"), writer);
    // Followup too, and a long `/stats` reads a member's share of each day with BatchGetItem.
    let mut followup = writer;
    followup.insert("dynamodb:BatchGetItem".to_owned());
    assert_eq!(table_actions(&t, "FollowupRole"), followup);
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

/// Every (action, resource) a role's policies allow in the stack with `overrides`.
fn grants(role: &str, overrides: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    let t = template();
    let p = parameters(&t, overrides);
    let role = &t["Resources"][role];
    if let Some(condition) = role["Condition"].as_str() {
        assert!(holds(&t, &p, &t["Conditions"][condition]), "the role is not created");
    }
    let policies = decided(&t, &p, &role["Properties"]["Policies"]).expect("policies");
    let mut out = BTreeSet::new();
    for policy in policies.as_sequence().expect("a list") {
        for statement in policy["PolicyDocument"]["Statement"].as_sequence().expect("statements") {
            assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{statement:?}");
            assert!(statement.get("NotAction").is_none() && statement.get("NotResource").is_none());
            let list = |v: &Value| match v {
                Value::Sequence(items) => items.clone(),
                single => vec![single.clone()],
            };
            for action in list(&statement["Action"]) {
                for resource in list(&statement["Resource"]) {
                    let action = action.as_str().expect("an action").to_owned();
                    out.insert((action, text(&t, &p, &resource)));
                }
            }
        }
    }
    out
}

fn grant(action: &str, resource: &str) -> (String, String) {
    (action.to_owned(), resource.to_owned())
}

const PARAMETER_ARN: &str = "arn:aws:ssm:us-east-1:123456789012:parameter";

#[test]
fn the_dashboard_only_reads_the_table_and_exactly_its_three_parameters() {
    let enabled = [("Dashboard", "enabled")];
    // BatchGetItem: the member page reads a member's share of each day, as `/stats` does.
    assert_eq!(
        table_actions(&template(), "DashboardRole"),
        set(&["GetItem", "Query", "BatchGetItem"])
    );
    let common = [
        grant("logs:CreateLogStream", "stack-DashboardLogGroup.Arn"),
        grant("logs:PutLogEvents", "stack-DashboardLogGroup.Arn"),
        grant("dynamodb:GetItem", "stack-Table.Arn"),
        grant("dynamodb:Query", "stack-Table.Arn"),
        grant("dynamodb:BatchGetItem", "stack-Table.Arn"),
        grant("ssm:GetParameter", &format!("{PARAMETER_ARN}/discord-engagement/client-secret")),
        grant(
            "ssm:GetParameter",
            &format!("{PARAMETER_ARN}/discord-engagement/dashboard-session-key"),
        ),
    ];
    // The token in Parameter Store (the default): the third parameter, no Secrets Manager, no KMS
    // (aws/ssm), nothing else.
    let mut expected = BTreeSet::from(common.clone());
    expected.insert(grant(
        "ssm:GetParameter",
        &format!("{PARAMETER_ARN}/discord-engagement/bot-token"),
    ));
    assert_eq!(grants("DashboardRole", &enabled), expected);
    // The parameters the operator names.
    let named = grants(
        "DashboardRole",
        &[
            ("Dashboard", "enabled"),
            ("DashboardClientSecretParameterName", "/mine/secret"),
            ("DashboardSessionKeyParameterName", "/mine/key"),
        ],
    );
    let ssm: BTreeSet<String> =
        named.into_iter().filter(|(a, _)| a == "ssm:GetParameter").map(|(_, r)| r).collect();
    let wanted = ["/discord-engagement/bot-token", "/mine/secret", "/mine/key"];
    assert_eq!(ssm, wanted.iter().map(|name| format!("{PARAMETER_ARN}{name}")).collect());
    // The token in Secrets Manager: that secret only, and the two parameters.
    let mut expected = BTreeSet::from(common.clone());
    expected.insert(grant("secretsmanager:GetSecretValue", "stack-BotTokenSecret"));
    assert_eq!(
        grants("DashboardRole", &[("Dashboard", "enabled"), ("BotTokenStore", "secret")]),
        expected
    );
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mine";
    let mut expected = BTreeSet::from(common);
    expected.insert(grant("secretsmanager:GetSecretValue", arn));
    let given = [("Dashboard", "enabled"), ("BotTokenStore", "secret"), ("BotTokenSecretArn", arn)];
    assert_eq!(grants("DashboardRole", &given), expected);
    // Its bot-token grant is the followup's, whatever the store.
    for store in ["parameter", "secret"] {
        let token = |role| {
            grants(role, &[("Dashboard", "enabled"), ("BotTokenStore", store)])
                .into_iter()
                .filter(|(a, r)| {
                    a.starts_with("secretsmanager:") || r.ends_with("/discord-engagement/bot-token")
                })
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(token("DashboardRole"), token("FollowupRole"), "{store}");
    }
}

#[test]
fn the_dashboard_serves_a_few_pages_at_once_on_a_public_url_without_cors() {
    let t = template();
    let dashboard = &t["Resources"]["DashboardFunction"]["Properties"];
    let reserved = dashboard["ReservedConcurrentExecutions"].as_u64();
    assert!(reserved.is_some_and(|n| (1..=10).contains(&n)), "{reserved:?}");
    let url = &dashboard["FunctionUrlConfig"];
    assert_eq!(url["AuthType"].as_str(), Some("NONE"), "browsers log in with Discord, not AWS");
    assert!(url.get("Cors").is_none(), "no other site calls it");
    let Value::Tagged(role) = &dashboard["Role"] else { panic!("!GetAtt a role") };
    assert_eq!(role.value.as_str(), Some("DashboardRole.Arn"));
}

#[test]
fn nothing_of_the_dashboard_is_created_unless_it_is_enabled() {
    let t = template();
    // Everything that is the dashboard's or names something of it.
    let mut related = Vec::new();
    let mut others = Vec::new();
    for section in ["Resources", "Outputs"] {
        for (name, body) in t[section].as_mapping().expect(section) {
            let name = name.as_str().expect("a name").to_owned();
            let yaml = serde_norway::to_string(body).expect("YAML");
            if name.contains("Dashboard") || yaml.contains("Dashboard") {
                related.push((name, body["Condition"].as_str().map(str::to_owned)));
            } else {
                others.push((name, body["Condition"].as_str().map(str::to_owned)));
            }
        }
    }
    let related_names: BTreeSet<&str> = related.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "DashboardFunction",
        "DashboardRole",
        "DashboardLogGroup",
        "DashboardErrorsAlarm",
        "DashboardThrottlesAlarm",
        "DashboardServerErrorsAlarm",
        "DashboardServerErrorsFilter",
        "DashboardUrl",
        "DashboardRedirectUrl",
    ] {
        assert!(related_names.contains(expected), "{expected} in {related_names:?}");
    }
    let created = |condition: &Option<String>, p: &BTreeMap<String, String>| {
        condition.as_ref().is_none_or(|c| holds(&t, p, &t["Conditions"][c.as_str()]))
    };
    for monitoring in ["essential", "full", "none"] {
        for store in ["parameter", "secret"] {
            for egress in ["true", "false"] {
                for email in ["", "ops@example.org"] {
                    let stack = |dashboard| {
                        parameters(
                            &t,
                            &[
                                ("Dashboard", dashboard),
                                ("Monitoring", monitoring),
                                ("BotTokenStore", store),
                                ("FixedEgressIp", egress),
                                ("AlarmEmail", email),
                            ],
                        )
                    };
                    let (disabled, enabled) = (stack("disabled"), stack("enabled"));
                    for (name, condition) in &related {
                        assert!(!created(condition, &disabled), "{name} exists while disabled");
                    }
                    for (name, condition) in &others {
                        assert_eq!(
                            created(condition, &disabled),
                            created(condition, &enabled),
                            "{name}: the dashboard changes nothing else"
                        );
                    }
                    for (name, condition) in &related {
                        // Alarms and the metric filter an alarm reads follow `Monitoring` too.
                        if !name.ends_with("Alarm") && !name.ends_with("Filter") {
                            assert!(created(condition, &enabled), "{name} missing while enabled");
                        }
                    }
                }
            }
        }
    }
    assert_eq!(parameters(&t, &[])["Dashboard"], "disabled", "off unless asked for");
}
