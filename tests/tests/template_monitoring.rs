//! The stack's monitoring levels (`Monitoring`): which alarms each creates, on which metrics, and that
//! `essential` stays inside CloudWatch's always-free allowance (10 alarm metrics, 10 custom metrics) while
//! every custom metric an alarm reads is one the sync function publishes at that level. The dashboard
//! (`Dashboard=enabled`) adds its errors and throttles at the interactions function's level, and
//! `essential` stays free with it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;

use serde_norway::Value;
use support::template::{holds, parameters, template};
use sync::{MetricsLevel, RunSummary};

/// The parameters a stack is deployed with (the others keep their defaults).
type Stack<'a> = [(&'a str, &'a str)];

/// One metric an alarm reads: namespace, name, and the function its `Function` dimension names.
type Read = (String, String, Option<String>);

/// The function a metric's `Function` dimension names (`!Ref SyncFunction` → `SyncFunction`).
fn function(metric: &Value) -> Option<String> {
    let dimensions = metric["Dimensions"].as_sequence()?;
    let function = dimensions.iter().find(|d| d["Name"].as_str() == Some("Function"))?;
    match &function["Value"] {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str().map(str::to_owned),
        _ => None,
    }
}

/// The alarms a stack with `Monitoring=monitoring` creates, each with the metrics it reads.
fn alarms(monitoring: &str) -> Vec<(String, Vec<Read>)> {
    alarms_of(&[("Monitoring", monitoring)])
}

/// The alarms a stack deployed with `stack` creates, each with the metrics it reads.
fn alarms_of(stack: &Stack<'_>) -> Vec<(String, Vec<Read>)> {
    let t = template();
    let p = parameters(&t, stack);
    let resources = t["Resources"].as_mapping().expect("Resources");
    let mut out = Vec::new();
    for (name, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        let created = match resource["Condition"].as_str() {
            Some(condition) => holds(&t, &p, &t["Conditions"][condition]),
            None => true,
        };
        if !created {
            continue;
        }
        let p = &resource["Properties"];
        let mut metrics = Vec::new();
        let queries = p["Metrics"].as_sequence().into_iter().flatten();
        for m in std::iter::once(p).chain(queries.map(|q| &q["MetricStat"]["Metric"])) {
            if let Some(metric) = m["MetricName"].as_str() {
                let namespace = m["Namespace"].as_str().expect("Namespace").to_owned();
                metrics.push((namespace, metric.to_owned(), function(m)));
            }
        }
        out.push((name.as_str().expect("a name").to_owned(), metrics));
    }
    out
}

/// The custom metrics the sync publishes at `level`.
fn published(level: MetricsLevel) -> BTreeSet<String> {
    let line = RunSummary::default().log_line("stack-sync", 0, level);
    let value: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    let metrics = &value["_aws"]["CloudWatchMetrics"][0]["Metrics"];
    metrics
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["Name"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn essential_monitoring_stays_inside_cloudwatchs_free_allowance() {
    let essential = alarms("essential");
    let names: BTreeSet<&str> = essential.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "FollowupDeadLetterAlarm",
            "FollowupErrorsAlarm",
            "InteractionsErrorsAlarm",
            "InteractionsThrottlesAlarm",
            "SyncErrorsAlarm",
            "SyncOldestCheckAlarm",
            "SyncStaleAlarm",
        ])
    );
    let alarm_metrics: usize = essential.iter().map(|(_, m)| m.len()).sum();
    assert!(alarm_metrics <= 10, "{alarm_metrics} alarm metrics");
    let custom: BTreeSet<&str> = essential
        .iter()
        .flat_map(|(_, m)| m)
        .filter(|(namespace, _, _)| namespace == "DiscordEngagement")
        .map(|(_, metric, _)| metric.as_str())
        .collect();
    assert_eq!(custom, BTreeSet::from(["OldestCheckAgeMs", "SyncSucceeded"]));
    assert_eq!(
        published(MetricsLevel::Essential),
        BTreeSet::from(["OldestCheckAgeMs".to_owned(), "SyncSucceeded".to_owned()])
    );
}

#[test]
fn full_monitoring_alarms_only_on_metrics_the_functions_publish_and_none_creates_no_alarm() {
    let full = alarms("full");
    assert_eq!(full.len(), 10);
    let sync_metrics = published(MetricsLevel::Full);
    let mut alarm_metrics = 0;
    for (alarm, metrics) in &full {
        for (namespace, metric, function) in metrics {
            alarm_metrics += 1;
            if namespace.starts_with("AWS/") {
                continue;
            }
            // Only the sync publishes custom metrics.
            assert!(
                sync_metrics.contains(metric) && function.as_deref() == Some("SyncFunction"),
                "{alarm} reads {namespace}/{metric} of {function:?}, which nothing publishes"
            );
        }
    }
    assert_eq!(alarm_metrics, 11, "the full set's alarm metrics");
    assert!(alarms("none").is_empty());
    assert!(published(MetricsLevel::None).is_empty());
}

/// The alarms' names.
fn names(alarms: &[(String, Vec<Read>)]) -> BTreeSet<String> {
    alarms.iter().map(|(name, _)| name.clone()).collect()
}

#[test]
fn the_dashboards_alarms_come_with_it_at_the_interactions_functions_level() {
    let t = template();
    for level in ["essential", "full", "none"] {
        let without = alarms(level);
        let with = alarms_of(&[("Monitoring", level), ("Dashboard", "enabled")]);
        let added: BTreeSet<String> = names(&with).difference(&names(&without)).cloned().collect();
        // Where the interactions function has its errors and throttles alarmed, the dashboard has too;
        // with `full`, also its pages answered 5xx (a custom metric, kept out of `essential`).
        let mut expected = names(&without)
            .iter()
            .filter(|n| n.starts_with("Interactions"))
            .map(|n| n.replacen("Interactions", "Dashboard", 1))
            .collect::<BTreeSet<_>>();
        if level == "full" {
            expected.insert("DashboardServerErrorsAlarm".to_owned());
        }
        assert_eq!(added, expected, "{level}");
        assert_eq!(
            names(&with).len(),
            names(&without).len() + added.len(),
            "{level}: none removed"
        );
        let alarm_metrics: usize = with.iter().map(|(_, m)| m.len()).sum();
        match level {
            "essential" => assert_eq!(alarm_metrics, 9, "still inside the 10 free alarm metrics"),
            "full" => assert_eq!(alarm_metrics, 14),
            _ => assert_eq!(alarm_metrics, 0),
        }
    }
    // The 5xx alarm reads what the stack's metric filter counts, created with it.
    let alarm = &t["Resources"]["DashboardServerErrorsAlarm"];
    let filter = &t["Resources"]["DashboardServerErrorsFilter"];
    assert_eq!(filter["Type"].as_str(), Some("AWS::Logs::MetricFilter"));
    assert_eq!(filter["Condition"], alarm["Condition"]);
    let made = &filter["Properties"]["MetricTransformations"][0];
    assert_eq!(made["MetricNamespace"], alarm["Properties"]["Namespace"]);
    assert_eq!(made["MetricName"], alarm["Properties"]["MetricName"]);
    let Value::Tagged(group) = &filter["Properties"]["LogGroupName"] else { panic!("!Ref") };
    assert_eq!(group.value.as_str(), Some("DashboardLogGroup"));
    for (alarm, metric) in
        [("DashboardErrorsAlarm", "Errors"), ("DashboardThrottlesAlarm", "Throttles")]
    {
        let p = &t["Resources"][alarm]["Properties"];
        assert_eq!(p["Namespace"].as_str(), Some("AWS/Lambda"), "{alarm}");
        assert_eq!(p["MetricName"].as_str(), Some(metric), "{alarm}");
        let dimension = &p["Dimensions"][0];
        assert_eq!(dimension["Name"].as_str(), Some("FunctionName"), "{alarm}");
        let Value::Tagged(function) = &dimension["Value"] else { panic!("{alarm}: !Ref") };
        assert_eq!(function.value.as_str(), Some("DashboardFunction"), "{alarm}");
    }
}
