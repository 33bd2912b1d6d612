//! Baselines for cron audits: compare this scan's findings with a previous
//! report's, by the same stable key SARIF fingerprints use (rule, host, port).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::ScanReport;
use crate::model::{Endpoint, Finding};
use crate::targets::TargetSpace;

type Key = (String, Endpoint);

fn key(f: &Finding) -> Key {
    (
        f.rule_id.clone(),
        Endpoint {
            hostname: None,
            ..f.endpoint.clone()
        },
    )
}

/// Findings of two scans, split three ways.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Diff {
    pub old_scan: String,
    pub new_scan: String,
    pub new: Vec<Finding>,
    pub unchanged: Vec<Finding>,
    pub fixed: Vec<Finding>,
}

pub fn diff(old: &ScanReport, new: &ScanReport) -> Diff {
    // Findings a baseline run marked fixed are absences, not findings.
    let present = |r: &'_ ScanReport| -> BTreeMap<Key, Finding> {
        r.findings
            .iter()
            .filter(|f| f.baseline_state.as_deref() != Some("fixed"))
            .map(|f| (key(f), f.clone()))
            .collect()
    };
    let old_map = present(old);
    let new_map = present(new);
    let mut d = Diff {
        old_scan: old.scan.id.clone(),
        new_scan: new.scan.id.clone(),
        ..Diff::default()
    };
    for (k, f) in &new_map {
        if old_map.contains_key(k) {
            d.unchanged.push(f.clone());
        } else {
            d.new.push(f.clone());
        }
    }
    for (k, f) in &old_map {
        if !new_map.contains_key(k) {
            d.fixed.push(f.clone());
        }
    }
    for list in [&mut d.new, &mut d.unchanged, &mut d.fixed] {
        list.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    }
    d
}

/// Mark every finding of `report` new or unchanged, and add the baseline's
/// findings that are gone as `fixed`, but only those `checked` says this
/// scan looked for: a finding on a host another shard or a smaller scan
/// left alone is not fixed, it is simply not part of this report. Returns
/// how many baseline findings were left out that way.
pub fn apply(
    report: &mut ScanReport,
    baseline: &ScanReport,
    checked: impl Fn(&Finding) -> bool,
) -> usize {
    let d = diff(baseline, report);
    let new_keys: std::collections::BTreeSet<Key> = d.new.iter().map(key).collect();
    for f in &mut report.findings {
        f.baseline_state = Some(
            if new_keys.contains(&key(f)) {
                "new"
            } else {
                "unchanged"
            }
            .to_string(),
        );
    }
    let mut left_out = 0;
    for mut f in d.fixed {
        if !checked(&f) {
            left_out += 1;
            continue;
        }
        f.baseline_state = Some("fixed".into());
        report.findings.push(f);
    }
    report.normalise();
    left_out
}

/// Which of `wanted` this shard of `space` probes. Walks the shard once
/// (the sweep did the same walk), stopping as soon as all are found.
pub fn probed_among(
    space: &TargetSpace,
    wanted: &BTreeSet<(IpAddr, u16)>,
) -> BTreeSet<(IpAddr, u16)> {
    let mut found = BTreeSet::new();
    if wanted.is_empty() {
        return found;
    }
    for ep in space.iter() {
        let k = (ep.ip, ep.port);
        if wanted.contains(&k) {
            found.insert(k);
            if found.len() == wanted.len() {
                break;
            }
        }
    }
    found
}

pub fn render_diff(d: &Diff) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} new, {} unchanged, {} fixed (old scan {}, new scan {})",
        d.new.len(),
        d.unchanged.len(),
        d.fixed.len(),
        crate::untrusted::shown(&d.old_scan),
        crate::untrusted::shown(&d.new_scan)
    );
    for (label, list) in [("NEW", &d.new), ("FIXED", &d.fixed), ("SAME", &d.unchanged)] {
        for f in list {
            let _ = writeln!(
                out,
                "{label:<6} {:<8} {:<21} {:<34} {}",
                f.severity.as_str(),
                f.endpoint.authority(),
                crate::untrusted::shown(&f.rule_id),
                crate::untrusted::shown(&f.title)
            );
        }
    }
    out
}
