//! Baselines for cron audits: compare this scan's findings with a previous
//! report's, by the same stable key SARIF fingerprints use (rule, host, port).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::ScanReport;
use crate::checks::RuleFilter;
use crate::model::{BaselineState, Endpoint, Finding, HostKey};
use crate::targets::TargetSpace;

type Key = (String, Endpoint);

fn key(f: &Finding) -> Key {
    (
        f.rule_id.to_string(),
        Endpoint {
            // The name identifies a proxy-resolved endpoint; elsewhere it
            // is only how the user spelled the address.
            hostname: f.endpoint.proxy_name().map(str::to_string),
            ..crate::model::Endpoint::clone(&f.endpoint)
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
    /// Findings of OLD that are not in NEW, but on endpoints NEW's scan
    /// did not look at (see [`diff_reports`]): neither fixed nor listed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub left_out: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Diff {
    /// `diff --fail-on`: a new finding at or above `threshold`; without
    /// one, any new finding.
    pub fn fails(&self, threshold: Option<crate::model::Severity>) -> bool {
        self.new
            .iter()
            .any(|f| threshold.is_none_or(|t| f.severity >= t))
    }
}

pub fn diff(old: &ScanReport, new: &ScanReport) -> Diff {
    // Findings a baseline run marked fixed are absences, not findings.
    let present = |r: &'_ ScanReport| -> BTreeMap<Key, Finding> {
        r.findings
            .iter()
            .filter(|f| !f.is_fixed())
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

/// `flinkscan diff OLD NEW`: [`diff`], where only what NEW's scan looked
/// at can be fixed, as with `scan --baseline`. Read from NEW's report alone
/// (no DNS, no rule list): a finished, unsharded (or fully merged) scan
/// whose targets hold the endpoint (a name target holds the findings that
/// carry that name) on its port list, or that followed it, and whose
/// exclusions do not. The rest is counted in `left_out`.
pub fn diff_reports(old: &ScanReport, new: &ScanReport) -> Diff {
    use crate::targets::spec::{ip_to_u128, parse_spec, Hosts, Origin, Spec};
    let parse = |texts: &[String]| -> Vec<Spec> {
        texts
            .iter()
            .filter_map(|t| parse_spec(t, Origin::Arg(0)).ok())
            .collect()
    };
    let targets = parse(&new.scan.targets);
    let excluded = parse(&new.scan.excluded);
    let whole = new.scan.shard.is_whole() && new.scan.status == super::ScanStatus::Complete;
    let looked_at = |f: &Finding| {
        let ep = &f.endpoint;
        let holds = |s: &Spec| match &s.hosts {
            Hosts::Range { lo, hi } => (*lo..=*hi).contains(&ip_to_u128(ep.ip)),
            Hosts::Name(n) => ep
                .hostname
                .as_deref()
                .is_some_and(|h| h.eq_ignore_ascii_case(n)),
        };
        let swept = targets.iter().any(|s| {
            holds(s)
                && s.port
                    .map_or(new.scan.ports.contains(&ep.port), |p| p == ep.port)
        });
        whole
            && (swept || new.scan.followed.contains(&ep.authority()))
            && !excluded.iter().any(holds)
    };
    let mut d = diff(old, new);
    let before = d.fixed.len();
    d.fixed.retain(looked_at);
    d.left_out = before - d.fixed.len();
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
        f.baseline_state = Some(if new_keys.contains(&key(f)) {
            BaselineState::New
        } else {
            BaselineState::Unchanged
        });
    }
    let mut left_out = 0;
    for mut f in d.fixed {
        if !checked(&f) {
            left_out += 1;
            continue;
        }
        f.baseline_state = Some(BaselineState::Fixed);
        report.findings.push(f);
    }
    report.normalise();
    left_out
}

/// Which of `wanted` this shard of `space` probes. Walks the shard once
/// (the sweep did the same walk), stopping as soon as all are found.
pub fn probed_among(
    space: &TargetSpace,
    wanted: &BTreeSet<(HostKey, u16)>,
) -> BTreeSet<(HostKey, u16)> {
    let mut found = BTreeSet::new();
    if wanted.is_empty() {
        return found;
    }
    for ep in space.iter() {
        let k = (ep.host_key(), ep.port);
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
    if d.left_out > 0 {
        let _ = writeln!(
            out,
            "{} findings of the old scan left out: the new scan did not probe their endpoint, so it cannot tell whether they are fixed",
            d.left_out
        );
    }
    for (label, list) in [("NEW", &d.new), ("FIXED", &d.fixed), ("SAME", &d.unchanged)] {
        for f in list {
            let _ = writeln!(
                out,
                "{label:<6} {:<8} {:<21} {:<34} {}",
                f.severity.as_str(),
                // The place: two prefixes on one port are two lines.
                crate::untrusted::shown(&f.endpoint.place()),
                crate::untrusted::shown(&f.rule_id),
                crate::untrusted::shown(&f.title)
            );
        }
    }
    out
}

/// `scan --baseline`: mark the findings ([`apply_to_scan`]), then judge
/// the clusters again, since fixed findings open no path.
pub fn mark_scan(
    report: &mut ScanReport,
    base: &ScanReport,
    space: &TargetSpace,
    rules: &RuleFilter,
) {
    apply_to_scan(report, base, space, rules);
    report.build_clusters();
}

/// Mark findings against the baseline. Only what this scan looked for can
/// be fixed: an endpoint it probed (a complete sweep of its shard; an
/// interrupted one cannot tell which closed ports it reached) and a rule it
/// ran. Other baseline findings are left out, and a notice says how many.
pub fn apply_to_scan(
    report: &mut ScanReport,
    base: &ScanReport,
    space: &TargetSpace,
    rules: &RuleFilter,
) {
    let probed = if report.scan.status == super::ScanStatus::Complete {
        let wanted = base
            .findings
            .iter()
            .map(|f| (f.endpoint.host_key(), f.endpoint.port))
            .collect();
        probed_among(space, &wanted)
    } else {
        Default::default()
    };
    let left_out = apply(report, base, |f| {
        rules.allows(&f.rule_id) && probed.contains(&(f.endpoint.host_key(), f.endpoint.port))
    });
    if left_out > 0 {
        report.notices.push(crate::model::Notice {
            target: "--baseline".into(),
            message: format!(
                "{left_out} baseline findings left out: this scan did not probe their endpoint or run their rule, so it cannot tell whether they are fixed"
            ),
        });
        report.normalise();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ServiceKind, Severity};
    use crate::report::{ScanMeta, ScanStatus, Stats, ToolInfo};
    use crate::targets::{Shard, SpaceInput};
    use std::net::IpAddr;

    fn finding(rule: &str, last: u8, port: u16) -> Finding {
        Finding::new(
            rule,
            Severity::Critical,
            format!("{rule} title"),
            Endpoint::new([127, 0, 0, last].into(), port),
            ServiceKind::Rpc,
            format!("tcp://127.0.0.{last}:{port}"),
        )
    }

    fn report(id: &str, findings: Vec<Finding>) -> ScanReport {
        ScanReport {
            tool: ToolInfo::default(),
            scan: ScanMeta {
                id: id.into(),
                started: String::new(),
                finished: String::new(),
                duration_ms: 0,
                status: crate::report::ScanStatus::Complete,
                targets: vec![],
                excluded: vec![],
                ports: vec![],
                shard: crate::report::Shards::whole(),
                seed: 0,
                intrusive: false,
                addresses: String::new(),
                probes_total: 0,
                probes_shard: 0,
                cut_short: vec![],
                not_identified: vec![],
                undecided: vec![],
                min_severity: None,
                followed: vec![],
            },
            stats: Stats::default(),
            services: Vec::new().into(),
            findings,
            notices: vec![],
            clusters: Default::default(),
        }
    }

    fn states(r: &ScanReport) -> Vec<(String, u8, String)> {
        r.findings
            .iter()
            .map(|f| {
                let IpAddr::V4(v4) = f.endpoint.ip else {
                    panic!("v4 only")
                };
                (
                    f.rule_id.to_string(),
                    v4.octets()[3],
                    f.baseline_state.map(|s| s.to_string()).unwrap_or_default(),
                )
            })
            .collect()
    }

    const RPC: &str = "FLINK-RPC-PLAINTEXT";
    const BLOB: &str = "FLINK-BLOB-PLAINTEXT";

    #[test]
    fn diff_splits_by_rule_and_endpoint_ignoring_names_and_old_absences() {
        let mut gone_before = finding(RPC, 9, 1);
        gone_before.baseline_state = Some(BaselineState::Fixed);
        let old = report(
            "old",
            vec![finding(RPC, 1, 1), finding(RPC, 2, 1), gone_before],
        );
        let mut named = finding(RPC, 1, 1);
        std::sync::Arc::make_mut(&mut named.endpoint).hostname = Some("jm.example".into());
        let new = report(
            "new",
            vec![
                named,
                finding(BLOB, 2, 1),
                finding(RPC, 3, 1),
                finding(RPC, 2, 2),
            ],
        );
        let d = diff(&old, &new);
        assert_eq!((d.old_scan.as_str(), d.new_scan.as_str()), ("old", "new"));
        let eps = |l: &[Finding]| -> Vec<(String, String)> {
            l.iter()
                .map(|f| (f.rule_id.to_string(), f.endpoint.authority()))
                .collect()
        };
        assert_eq!(eps(&d.unchanged), vec![(RPC.into(), "127.0.0.1:1".into())]);
        assert_eq!(
            eps(&d.new),
            vec![
                (BLOB.into(), "127.0.0.2:1".into()),
                (RPC.into(), "127.0.0.2:2".into()),
                (RPC.into(), "127.0.0.3:1".into()),
            ]
        );
        // 127.0.0.9 was already fixed in the old report: not fixed again.
        assert_eq!(eps(&d.fixed), vec![(RPC.into(), "127.0.0.2:1".into())]);
        let text = render_diff(&d);
        assert!(
            text.starts_with("3 new, 1 unchanged, 1 fixed (old scan old, new scan new)\n"),
            "{text}"
        );
        let labels: Vec<&str> = text.lines().skip(1).map(|l| &l[..6]).collect();
        assert_eq!(labels, ["NEW   ", "NEW   ", "NEW   ", "FIXED ", "SAME  "]);
    }

    #[test]
    fn apply_marks_new_unchanged_and_only_checked_fixed() {
        let base = report(
            "b",
            vec![finding(RPC, 1, 1), finding(RPC, 2, 1), finding(RPC, 3, 1)],
        );
        let mut now = report("n", vec![finding(RPC, 1, 1), finding(RPC, 4, 1)]);
        // 127.0.0.3 was not looked at by this scan.
        let left_out = apply(&mut now, &base, |f| {
            f.endpoint.ip != IpAddr::from([127, 0, 0, 3])
        });
        assert_eq!(left_out, 1);
        assert_eq!(
            states(&now),
            vec![
                (RPC.into(), 1, "unchanged".into()),
                (RPC.into(), 2, "fixed".into()),
                (RPC.into(), 4, "new".into()),
            ]
        );
        assert_eq!(now.stats.findings, 3, "normalised after adding fixed");

        let mut none = report("n", vec![]);
        assert_eq!(apply(&mut none, &base, |_| false), 3);
        assert!(none.findings.is_empty());
    }

    #[test]
    fn probed_among_finds_only_endpoints_of_this_shard() {
        let ip = |last: u8| crate::targets::spec::ip_to_u128(IpAddr::from([127, 0, 0, last]));
        let input = SpaceInput {
            ranges: vec![(ip(1), ip(4))],
            ..Default::default()
        };
        let at = |last: u8| HostKey::Ip(IpAddr::from([127, 0, 0, last]));
        let wanted: BTreeSet<(HostKey, u16)> = [(at(1), 80), (at(4), 81), (at(5), 80), (at(2), 99)]
            .into_iter()
            .collect();
        let all = TargetSpace::build(input.clone(), &[80, 81], 3, Shard::ALL, false).unwrap();
        let found = probed_among(&all, &wanted);
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            vec![(at(1), 80), (at(4), 81)]
        );
        let mut union = BTreeSet::new();
        for k in 0..2 {
            let shard = Shard { index: k, count: 2 };
            let s = TargetSpace::build(input.clone(), &[80, 81], 3, shard, false).unwrap();
            let part = probed_among(&s, &wanted);
            let listed: BTreeSet<_> = s.iter().map(|e| (e.host_key(), e.port)).collect();
            assert!(part.is_subset(&listed));
            union.extend(part);
        }
        assert_eq!(union.len(), 2);
        assert!(probed_among(&all, &BTreeSet::new()).is_empty());
    }

    /// `flinkscan diff` of a full scan against a scan of one host: the
    /// other hosts' findings are not fixed, only not looked at.
    #[test]
    fn diff_fixes_only_what_the_new_scan_looked_at() {
        let old = report(
            "old",
            vec![finding(RPC, 1, 1), finding(RPC, 2, 1), finding(RPC, 3, 7)],
        );
        let scoped = |targets: &[&str], status| {
            let mut r = report("new", vec![]);
            r.scan.targets = targets.iter().map(|t| t.to_string()).collect();
            r.scan.ports = vec![1];
            r.scan.status = status;
            r
        };
        let fixed =
            |d: &Diff| -> Vec<String> { d.fixed.iter().map(|f| f.endpoint.authority()).collect() };
        let one = diff_reports(&old, &scoped(&["127.0.0.1"], ScanStatus::Complete));
        assert_eq!(fixed(&one), ["127.0.0.1:1"]);
        assert_eq!(one.left_out, 2);
        assert!(render_diff(&one).contains("2 findings of the old scan left out"));
        let all = diff_reports(
            &old,
            &scoped(&["127.0.0.0/30", "127.0.0.3:7"], ScanStatus::Complete),
        );
        assert_eq!(fixed(&all), ["127.0.0.1:1", "127.0.0.2:1", "127.0.0.3:7"]);
        assert_eq!(all.left_out, 0);
        let cut = diff_reports(&old, &scoped(&["127.0.0.0/30"], ScanStatus::Interrupted));
        assert!(cut.fixed.is_empty());
        assert_eq!(cut.left_out, 3);
    }

    /// The diff's text names each finding's place: two prefixes on one
    /// port are two lines a reader can tell apart.
    #[test]
    fn the_text_view_names_the_prefix() {
        let under = |base: &str| {
            let mut f = finding(RPC, 1, 8081);
            std::sync::Arc::make_mut(&mut f.endpoint).base_path = Some(base.into());
            f
        };
        let old = report("old", vec![]);
        let new = report("new", vec![under("/a"), under("/b")]);
        let text = render_diff(&diff(&old, &new));
        assert!(text.contains("127.0.0.1:8081/a "), "{text}");
        assert!(text.contains("127.0.0.1:8081/b "), "{text}");
    }
}
