//! ECS conformance of JSON Lines events, checked against the field catalog
//! of ECS 8.17.0 (`tests/schemas/ecs-8.17.0-fields.json`, extracted from
//! Elastic's ecs_flat.yml by scripts/ecs-fields.py).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

fn catalog() -> &'static BTreeMap<String, Value> {
    static CATALOG: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/schemas/ecs-8.17.0-fields.json"
        );
        let text = std::fs::read_to_string(path).expect("ECS catalog");
        serde_json::from_str(&text).expect("ECS catalog is JSON")
    })
}

/// Dotted names of the leaves of `v` (arrays are leaves, as in ECS).
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, child, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

fn type_fits(ty: &str, v: &Value) -> bool {
    match ty {
        "long" | "float" | "scaled_float" | "double" | "integer" => v.is_number(),
        "boolean" => v.is_boolean(),
        "object" | "flattened" | "nested" => v.is_object() || v.is_array(),
        // keyword, ip, date, text, wildcard, match_only_text, constant_keyword
        _ => v.is_string(),
    }
}

/// Panics unless every field outside `flink.*` is an ECS 8.17 field of the
/// right type, categorization values are allowed ones, and each
/// `event.category` gets an `event.type` it expects.
pub fn assert_ecs_line(line: &str) {
    let event: Value = serde_json::from_str(line).expect("a JSON object a line");
    let mut fields = Vec::new();
    flatten("", &event, &mut fields);
    for (name, value) in &fields {
        if name.starts_with("flink.") || value.is_null() {
            continue;
        }
        let spec = catalog()
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not an ECS 8.17 field: {line}"));
        let ty = spec["type"].as_str().unwrap_or("keyword");
        if spec["array"] == true {
            assert!(value.is_array(), "{name} must be an array in ECS: {line}");
        }
        let values: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        for v in &values {
            assert!(type_fits(ty, v), "{name} = {v} is not of ECS type {ty}");
            if let Some(allowed) = spec["allowed"].as_array() {
                assert!(allowed.contains(v), "{name} = {v} is not an allowed value");
            }
        }
    }
    let types: Vec<&Value> = event["event"]["type"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let expected = &catalog()["event.category"]["expected_event_types"];
    if event["event"]["category"].is_array() {
        assert!(
            !types.is_empty(),
            "event.category without event.type: {line}"
        );
    }
    for category in event["event"]["category"].as_array().into_iter().flatten() {
        if let Some(want) = category.as_str().and_then(|c| expected[c].as_array()) {
            assert!(
                types.iter().all(|t| want.contains(t)),
                "event.type {types:?} is not expected for category {category}"
            );
        }
    }
}
