//! The stack's template, evaluated as CloudFormation would for a given set of parameters: what the
//! template tests share (each test binary compiles this module and uses part of it).

#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_norway::Value;

/// `infra/template.yaml`.
pub fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    let text = std::fs::read_to_string(path).expect("infra/template.yaml");
    serde_norway::from_str(&text).expect("the template is YAML")
}

/// The stack's parameters: the defaults, stand-ins for the required ones, then `overrides`.
pub fn parameters(t: &Value, overrides: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = t["Parameters"]
        .as_mapping()
        .expect("Parameters")
        .iter()
        .map(|(name, p)| {
            let value = match &p["Default"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => "required".to_owned(),
            };
            (name.as_str().expect("a name").to_owned(), value)
        })
        .collect();
    for (name, value) in overrides {
        assert!(values.contains_key(*name), "no parameter {name}");
        values.insert((*name).to_owned(), (*value).to_owned());
    }
    values
}

/// A condition (`!Equals`, `!Not`, `!And`, `!Or`, `!Condition`) for the stack with `p`.
pub fn holds(t: &Value, p: &BTreeMap<String, String>, condition: &Value) -> bool {
    let Value::Tagged(tagged) = condition else { panic!("not a condition: {condition:?}") };
    if tagged.tag == "Condition" {
        return holds(t, p, &t["Conditions"][tagged.value.as_str().expect("a name")]);
    }
    let operands = tagged.value.as_sequence().expect("a condition takes a list");
    if tagged.tag == "Equals" {
        let [a, b] = &operands[..] else { panic!("!Equals takes two values") };
        text(t, p, a) == text(t, p, b)
    } else if tagged.tag == "Not" {
        !holds(t, p, &operands[0])
    } else if tagged.tag == "And" {
        operands.iter().all(|c| holds(t, p, c))
    } else if tagged.tag == "Or" {
        operands.iter().any(|c| holds(t, p, c))
    } else {
        panic!("cannot evaluate {condition:?}")
    }
}

/// `value` with every `!If` decided for the stack with `p`; `None` for `!Ref AWS::NoValue`.
pub fn decided(t: &Value, p: &BTreeMap<String, String>, value: &Value) -> Option<Value> {
    match value {
        Value::Tagged(tagged)
            if tagged.tag == "Ref" && tagged.value.as_str() == Some("AWS::NoValue") =>
        {
            None
        }
        Value::Tagged(tagged) if tagged.tag == "If" => {
            let branches = tagged.value.as_sequence().expect("!If takes a list");
            let [condition, yes, no] = &branches[..] else { panic!("!If takes three values") };
            let name = condition.as_str().expect("!If names a condition");
            decided(t, p, if holds(t, p, &t["Conditions"][name]) { yes } else { no })
        }
        Value::Sequence(items) => {
            Some(Value::Sequence(items.iter().filter_map(|v| decided(t, p, v)).collect()))
        }
        Value::Mapping(map) => Some(Value::Mapping(
            map.iter().filter_map(|(k, v)| Some((k.clone(), decided(t, p, v)?))).collect(),
        )),
        other => Some(other.clone()),
    }
}

/// A string as deployed in account 123456789012, us-east-1: parameters by value, resources as
/// `stack-<name>`.
pub fn text(t: &Value, p: &BTreeMap<String, String>, value: &Value) -> String {
    let name = |n: &str| match n {
        "AWS::Partition" => "aws".to_owned(),
        "AWS::Region" => "us-east-1".to_owned(),
        "AWS::AccountId" => "123456789012".to_owned(),
        "AWS::StackName" => "stack".to_owned(),
        n if p.contains_key(n) => p[n].clone(),
        n => {
            let resource = n.split('.').next().unwrap_or(n);
            assert!(t["Resources"].get(resource).is_some(), "no such resource {n}");
            format!("stack-{n}")
        }
    };
    match value {
        Value::String(s) => s.clone(),
        Value::Tagged(tagged) if tagged.tag == "Ref" || tagged.tag == "GetAtt" => {
            name(tagged.value.as_str().expect("a name"))
        }
        Value::Tagged(tagged) if tagged.tag == "Sub" => {
            let mut rest = tagged.value.as_str().expect("!Sub of a string");
            let mut out = String::new();
            while let Some((before, after)) = rest.split_once("${") {
                let (variable, after) = after.split_once('}').expect("a closed ${");
                out.push_str(before);
                out.push_str(&name(variable));
                rest = after;
            }
            out + rest
        }
        Value::Tagged(_) => match decided(t, p, value) {
            Some(decided) if decided != *value => text(t, p, &decided),
            _ => panic!("cannot resolve {value:?}"),
        },
        other => panic!("cannot resolve {other:?}"),
    }
}
