//! `engagement create-table` and `infra/template.yaml` define the same table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use engagement_store::TableDefinition;
use serde_norway::Value;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml");
    let text = std::fs::read_to_string(path).expect("infra/template.yaml");
    serde_norway::from_str(&text).expect("the template is YAML")
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("`{key}` is not a string in {v:?}"))
}

#[test]
fn the_template_defines_the_table_that_create_table_creates() {
    let t = template();
    let resources = t.get("Resources").and_then(Value::as_mapping).expect("Resources");
    let tables: Vec<&Value> = resources
        .values()
        .filter(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::DynamoDB::Table"))
        .collect();
    assert_eq!(tables.len(), 1, "exactly one table");
    let table = tables[0];
    let props = table.get("Properties").expect("Properties");
    let def = TableDefinition::CURRENT;

    assert_eq!(s(props, "BillingMode"), def.billing_mode);
    let keys = props.get("KeySchema").and_then(Value::as_sequence).expect("KeySchema");
    let key_of = |kind: &str| {
        keys.iter().find(|k| s(k, "KeyType") == kind).map(|k| s(k, "AttributeName").to_owned())
    };
    assert_eq!(key_of("HASH").as_deref(), Some(def.partition_key));
    assert_eq!(key_of("RANGE").as_deref(), Some(def.sort_key));
    assert_eq!(keys.len(), 2);
    let attrs = props
        .get("AttributeDefinitions")
        .and_then(Value::as_sequence)
        .expect("AttributeDefinitions");
    let mut defined: Vec<(String, String)> = attrs
        .iter()
        .map(|a| (s(a, "AttributeName").to_owned(), s(a, "AttributeType").to_owned()))
        .collect();
    defined.sort();
    assert_eq!(
        defined,
        vec![
            (def.partition_key.to_owned(), "S".to_owned()),
            (def.sort_key.to_owned(), "S".to_owned())
        ]
    );
    assert!(
        props.get("GlobalSecondaryIndexes").is_none()
            && props.get("LocalSecondaryIndexes").is_none(),
        "no indexes"
    );

    let ttl = props.get("TimeToLiveSpecification").expect("TTL");
    assert_eq!(s(ttl, "AttributeName"), def.ttl_attribute);
    assert_eq!(ttl.get("Enabled").and_then(Value::as_bool), Some(true));
    let pitr = props
        .get("PointInTimeRecoverySpecification")
        .and_then(|p| p.get("PointInTimeRecoveryEnabled"))
        .and_then(Value::as_bool);
    assert_eq!(pitr, Some(def.point_in_time_recovery));
    assert_eq!(
        props.get("DeletionProtectionEnabled").and_then(Value::as_bool),
        Some(def.deletion_protection)
    );
    let sse = props.get("SSESpecification").expect("SSESpecification");
    assert_eq!(sse.get("SSEEnabled").and_then(Value::as_bool), Some(def.sse_kms));
    assert_eq!(s(sse, "SSEType"), "KMS");
    assert_eq!(table.get("DeletionPolicy").and_then(Value::as_str), Some("Retain"));
}
