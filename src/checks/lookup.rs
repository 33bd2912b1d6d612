//! `flinkscan rules QUERY`: one rule by id, the rules a `PREFIX*` pattern
//! selects (as `--rules` would), or a "did you mean" by likeness.

use super::catalog::{Catalog, Rule};
use super::{close_matches, pattern_hits};
use crate::untrusted::shown;

/// What a query names.
#[derive(Debug)]
pub enum Found<'a> {
    One(&'a Rule),
    /// A `PREFIX*` pattern: every rule it selects, in id order.
    Many(Vec<&'a Rule>),
}

/// No rule answers the query; `close` holds the likeliest ids or prefixes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct NoRule {
    pub query: String,
    pub close: Vec<String>,
}

impl NoRule {
    fn message(&self) -> String {
        let what = if self.query.trim().is_empty() {
            "empty rule id".to_string()
        } else {
            format!("no rule matches {}", shown(&self.query))
        };
        if self.close.is_empty() {
            format!("{what}; `flinkscan rules` lists the rule ids")
        } else {
            format!("{what}; did you mean {}?", self.close.join(", "))
        }
    }
}

/// Look `query` up: an id (any case), or a pattern ending in `*`.
pub fn find<'a>(catalog: &'a Catalog, query: &str) -> Result<Found<'a>, NoRule> {
    let q = query.trim();
    let ids = || catalog.rules.keys().map(String::as_str);
    if !q.is_empty() {
        if q.ends_with('*') {
            let mut hits: Vec<&Rule> = catalog
                .rules
                .values()
                .filter(|r| pattern_hits(q, &r.id))
                .collect();
            if !hits.is_empty() {
                hits.sort_by(|a, b| a.id.cmp(&b.id));
                return Ok(Found::Many(hits));
            }
        } else if let Some(r) = catalog
            .rules
            .values()
            .find(|r| r.id.eq_ignore_ascii_case(q))
        {
            return Ok(Found::One(r));
        }
    }
    let mut close = close_matches(q, ids());
    if close.is_empty() && q.trim_end_matches('*').len() >= 3 {
        // A word of an id (`plaintext`, `tls`): the ids that contain it.
        let word = q.trim_end_matches('*').to_ascii_uppercase();
        close = ids()
            .filter(|id| id.to_ascii_uppercase().contains(&word))
            .take(5)
            .map(str::to_string)
            .collect();
    }
    Err(NoRule {
        query: query.to_string(),
        close,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::load(None, None).unwrap()
    }

    #[test]
    fn a_prefix_pattern_lists_what_rules_would_select() {
        let c = catalog();
        let Ok(Found::Many(rules)) = find(&c, "FLINK-TLS-*") else {
            panic!("no list")
        };
        assert!(rules.len() > 1);
        assert!(rules.iter().all(|r| r.id.starts_with("FLINK-TLS-")));
        // The same set --rules selects.
        let want = c
            .rules
            .keys()
            .filter(|id| id.starts_with("FLINK-TLS-"))
            .count();
        assert_eq!(rules.len(), want);
        // Any case, like --rules.
        assert!(matches!(find(&c, "flink-tls-*"), Ok(Found::Many(_))));
    }

    #[test]
    fn an_id_in_any_case_is_one_rule() {
        let c = catalog();
        let Ok(Found::One(r)) = find(&c, "flink-rpc-plaintext") else {
            panic!("not found")
        };
        assert_eq!(&*r.id, "FLINK-RPC-PLAINTEXT");
    }

    #[test]
    fn suggestions_are_by_likeness_not_alphabetical() {
        let c = catalog();
        let first_ids: Vec<String> = c.rules.keys().take(3).cloned().collect();
        // Nothing like any id: no suggestion at all.
        let e = find(&c, "X").unwrap_err();
        assert!(e.close.is_empty(), "{e}");
        assert!(e.to_string().contains("`flinkscan rules` lists"), "{e}");
        // A typo: the id it was meant to be.
        let e = find(&c, "FLINK-RPC-PLAINTXT").unwrap_err();
        assert_eq!(
            e.close.first().map(String::as_str),
            Some("FLINK-RPC-PLAINTEXT"),
            "{e}"
        );
        assert_ne!(e.close, first_ids);
        // A word of an id.
        let e = find(&c, "plaintext").unwrap_err();
        assert!(
            !e.close.is_empty() && e.close.iter().all(|id| id.contains("PLAINTEXT")),
            "{e}"
        );
        // A mistyped prefix: the prefix.
        let e = find(&c, "FLINK-TSL-*").unwrap_err();
        assert_eq!(e.close, ["FLINK-TLS-*"], "{e}");
        assert!(
            e.to_string().starts_with("no rule matches FLINK-TSL-*"),
            "{e}"
        );
    }
}
