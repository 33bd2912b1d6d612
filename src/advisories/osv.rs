//! OSV records (the schema of osv.dev and GitHub's advisory database), read
//! as data: only the fields flinkscan acts on are typed, the rest is kept
//! out of the way so newer schema versions still load.

use serde::{Deserialize, Serialize};

/// One advisory as its source publishes it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OsvRecord {
    pub id: String,
    #[serde(default)]
    pub schema_version: Option<String>,
    #[serde(default)]
    pub modified: Option<String>,
    #[serde(default)]
    pub published: Option<String>,
    /// Set when the source took the advisory back.
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub severity: Vec<OsvSeverity>,
    #[serde(default)]
    pub affected: Vec<OsvAffected>,
    #[serde(default)]
    pub references: Vec<OsvReference>,
    #[serde(default)]
    pub database_specific: Option<DatabaseSpecific>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OsvSeverity {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OsvAffected {
    pub package: OsvPackage,
    #[serde(default)]
    pub ranges: Vec<OsvRange>,
    /// Explicitly listed affected versions (in addition to the ranges).
    #[serde(default)]
    pub versions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
pub struct OsvPackage {
    pub ecosystem: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OsvRange {
    #[serde(rename = "type")]
    pub kind: String,
    pub events: Vec<OsvEvent>,
}

/// Exactly one of the fields is set (checked when a record is loaded).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct OsvEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OsvReference {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub url: String,
}

/// What flinkscan reads of `database_specific`: GitHub's CWE ids and
/// severity label, and the provenance note of records flinkscan wrote.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct DatabaseSpecific {
    #[serde(default)]
    pub cwe_ids: Vec<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub flinkscan: Option<serde_json::Value>,
}

/// Parse one record, naming the field that is wrong.
pub fn parse(bytes: &[u8]) -> Result<OsvRecord, super::Malformed> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| super::Malformed::Json {
        path: e.path().to_string(),
        source: e.into_inner(),
    })
}

impl OsvEvent {
    /// The one event this object carries, as (kind, version).
    pub fn single(&self) -> Result<(EventKind, &str), &'static str> {
        let set: Vec<(EventKind, &str)> = [
            (EventKind::Introduced, self.introduced.as_deref()),
            (EventKind::Fixed, self.fixed.as_deref()),
            (EventKind::LastAffected, self.last_affected.as_deref()),
            (EventKind::Limit, self.limit.as_deref()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        match set.as_slice() {
            [one] => Ok(*one),
            [] => Err("an event needs one of introduced, fixed, last_affected, limit"),
            _ => Err("an event carries more than one of introduced, fixed, last_affected, limit"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Introduced,
    Fixed,
    LastAffected,
    Limit,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Introduced => "introduced",
            EventKind::Fixed => "fixed",
            EventKind::LastAffected => "last_affected",
            EventKind::Limit => "limit",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_field_is_named() {
        let e = parse(br#"{"id":"X","affected":[{"package":{"ecosystem":"Maven"}}]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("affected[0].package"), "{e}");
        assert!(e.contains("name"), "{e}");
        let e = parse(br#"{"id":"X","aliases":"CVE-1"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("aliases"), "{e}");
    }

    #[test]
    fn unknown_fields_are_kept_out_of_the_way() {
        let r = parse(br#"{"id":"X","schema_version":"9.9","credits":[{"name":"a"}]}"#).unwrap();
        assert_eq!(r.id, "X");
    }
}
