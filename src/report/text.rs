//! The human summary, grouped by cluster: for each, how bad it is, what is
//! exposed, the worst way in, its findings, and the fix (the Flink keys to
//! set) once. Findings outside any cluster, other open ports and notices
//! follow. Every string in it passes through `untrusted::shown`: titles,
//! versions and notices can carry what a peer, a targets file or a probe
//! file put there.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::ScanReport;
use crate::checks::catalog::Catalog;
use crate::clusters::PostureStatus;
use crate::model::{BaselineState, Finding, Severity};
use crate::untrusted::shown;

/// Members listed per cluster before "+N more".
const MEMBERS_SHOWN: usize = 8;

pub fn render(report: &ScanReport, catalog: &Catalog, color: bool) -> String {
    let mut out = String::new();
    let s = &report.stats;
    // Fixed findings (from --baseline) are absences: they are listed and
    // counted apart, never as findings of this scan.
    let present: Vec<&Finding> = report.findings.iter().filter(|f| !f.is_fixed()).collect();
    let _ = writeln!(
        out,
        "flinkscan: {} clusters, {} Flink services, {} findings; {} probes, {} open ports in {:.1}s ({})",
        report.clusters.len(),
        s.services_flink,
        present.len(),
        s.probed,
        s.open,
        report.scan.duration_ms as f64 / 1000.0,
        report.scan.status
    );
    if let Some(line) = network_line(&s.decided) {
        let _ = writeln!(out, "{line}");
    }
    let mut counts = Vec::new();
    for sev in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        let n = present.iter().filter(|f| f.severity == sev).count();
        if n > 0 {
            counts.push(format!("{n} {sev}"));
        }
    }
    if !counts.is_empty() {
        let _ = writeln!(out, "findings: {}", counts.join(", "));
    }
    let baselined = report.findings.iter().any(|f| f.baseline_state.is_some());
    if baselined {
        let counts: Vec<String> = BaselineState::ALL
            .iter()
            .map(|state| {
                let n = report
                    .findings
                    .iter()
                    .filter(|f| f.baseline_state == Some(*state))
                    .count();
                format!("{n} {state}")
            })
            .collect();
        let _ = writeln!(out, "baseline: {}", counts.join(", "));
    }
    let finding_line = |out: &mut String, f: &Finding| {
        let sev = paint(f.severity, color);
        let mark = match f.baseline_state {
            Some(b) if baselined => format!("{:<9} ", b.as_str()),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {sev} {mark}{:<21} {:<34} {}",
            shown(&f.endpoint.authority()),
            shown(&f.rule_id),
            shown(&f.title)
        );
    };

    for c in report.clusters.iter().take(CLUSTERS_SHOWN) {
        let rating = match c.rating {
            Some(r) => paint(r, color),
            // Checks that could not run are not a clean bill.
            None if !c.unchecked.is_empty() => format!("{:<8}", "UNKNOWN"),
            None => format!("{:<8}", "OK"),
        };
        let version = c
            .version
            .as_deref()
            .map(|v| format!(", Flink {}", shown(v)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\n{rating} {}{version}, {} host{} [{}]",
            shown(&c.name),
            c.hosts.len(),
            if c.hosts.len() == 1 { "" } else { "s" },
            shown(&c.id)
        );
        let exposed: Vec<String> = c
            .members
            .iter()
            .take(MEMBERS_SHOWN)
            .map(|m| {
                format!(
                    "{} {}{}",
                    m.role,
                    shown(&m.endpoint),
                    if m.tls { "" } else { " (plaintext)" }
                )
            })
            .collect();
        let more = c.members.len().saturating_sub(MEMBERS_SHOWN);
        let _ = writeln!(
            out,
            "  exposed: {}{}",
            exposed.join(", "),
            if more > 0 {
                format!(", +{more} more")
            } else {
                String::new()
            }
        );
        if !c.unchecked.is_empty() {
            let shown_list: Vec<String> = c
                .unchecked
                .iter()
                .take(MEMBERS_SHOWN)
                .map(|u| shown(u))
                .collect();
            let _ = writeln!(
                out,
                "  could not check (unknown, not clean): {}{}",
                shown_list.join(", "),
                if c.unchecked.len() > MEMBERS_SHOWN {
                    format!(", +{} more", c.unchecked.len() - MEMBERS_SHOWN)
                } else {
                    String::new()
                }
            );
        }
        if !c.not_scanned.is_empty() {
            let known: Vec<String> = c
                .not_scanned
                .iter()
                .take(MEMBERS_SHOWN)
                .map(|k| format!("{}:{} ({})", shown(&k.host), k.port, k.role))
                .collect();
            let _ = writeln!(
                out,
                "  known from the JobManager, not scanned: {}{}",
                known.join(", "),
                if c.not_scanned.len() > MEMBERS_SHOWN {
                    format!(", +{} more", c.not_scanned.len() - MEMBERS_SHOWN)
                } else {
                    String::new()
                }
            );
        }
        if let Some(p) = c.paths.first() {
            let steps: Vec<String> = p.steps.iter().map(|s| shown(&s.action)).collect();
            let _ = writeln!(out, "  worst path: {}", shown(&p.title));
            for (i, step) in steps.iter().enumerate() {
                let _ = writeln!(out, "    {}. {step}", i + 1);
            }
            if c.paths.len() > 1 {
                let others: Vec<String> = c.paths[1..].iter().map(|p| shown(&p.title)).collect();
                let _ = writeln!(out, "  other paths: {}", others.join("; "));
            }
        }
        let mine: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.cluster.as_deref() == Some(c.id.as_str()))
            .collect();
        for f in &mine {
            finding_line(&mut out, f);
        }
        let fixes = cluster_fixes(c, &mine, catalog);
        if !fixes.is_empty() {
            let _ = writeln!(out, "  fix:");
            for fix in fixes {
                let _ = writeln!(out, "    - {fix}");
            }
        }
    }
    if report.clusters.len() > CLUSTERS_SHOWN {
        let _ = writeln!(
            out,
            "\n... and {} more clusters (every one is in the --json report)",
            report.clusters.len() - CLUSTERS_SHOWN
        );
    }

    // A set: thousands of findings against thousands of clusters.
    let cluster_ids: std::collections::HashSet<&str> =
        report.clusters.iter().map(|c| c.id.as_str()).collect();
    let loose: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| {
            f.cluster
                .as_deref()
                .is_none_or(|id| !cluster_ids.contains(id))
        })
        .collect();
    if !loose.is_empty() {
        let _ = writeln!(out, "\nfindings outside any cluster:");
        for f in loose {
            finding_line(&mut out, f);
        }
    }
    other_ports(&mut out, report);
    if !report.notices.is_empty() {
        let _ = writeln!(out, "\nnotices:");
        for n in report.notices.iter().take(NOTICES_SHOWN) {
            let _ = writeln!(out, "  {}: {}", shown(&n.target), shown(&n.message));
        }
        if report.notices.len() > NOTICES_SHOWN {
            let _ = writeln!(
                out,
                "  ... and {} more notices (every one is in the --json report)",
                report.notices.len() - NOTICES_SHOWN
            );
        }
    }
    let (cut, waiting) = (
        report.scan.cut_short.len(),
        report.scan.not_identified.len(),
    );
    if cut + waiting > 0 {
        let _ = writeln!(
            out,
            "\nstopped early: {waiting} open ports never identified, {cut} cut short while \
             identifying (scan.not_identified and scan.cut_short in the --json report; \
             --resume with a --state file continues)"
        );
    }
    if report.scan.status == super::ScanStatus::ProxyFailed {
        let _ = writeln!(
            out,
            "\nthe SOCKS5 proxy failed: the scan stopped; {} probes it answered for are \
             undecided (scan.undecided in the --json report; --resume with a --state file \
             continues)",
            report.scan.undecided.len()
        );
    }
    if !report.findings.is_empty() {
        let _ = writeln!(
            out,
            "\nscan {}; `flinkscan rules ID` explains a rule and its fix.",
            shown(&report.scan.id)
        );
    }
    out
}

/// What to change, once per cluster: the fix of each failing posture item,
/// then the remediation of each rule those items do not cover.
fn cluster_fixes(
    c: &crate::clusters::Cluster,
    findings: &[&Finding],
    catalog: &Catalog,
) -> Vec<String> {
    let mut fixes = Vec::new();
    let mut covered: BTreeSet<String> = BTreeSet::new();
    for p in c.posture.iter().filter(|p| p.status == PostureStatus::Fail) {
        fixes.push(format!("{}: {}", shown(&p.title), shown(&p.fix)));
        covered.extend(p.findings.iter().cloned());
    }
    let mut rules: BTreeSet<&str> = BTreeSet::new();
    for f in findings {
        if f.is_fixed() || covered.contains(&f.id()) {
            continue;
        }
        if !rules.insert(f.rule_id.as_str()) {
            continue;
        }
        let fix = f
            .remediation
            .as_deref()
            .or_else(|| catalog.rule(&f.rule_id).map(|r| r.remediation.as_str()));
        if let Some(fix) = fix {
            fixes.push(format!("{}: {}", shown(&f.rule_id), shown(fix)));
        }
    }
    fixes
}

/// Colour only for a terminal that can show it and a user who has not
/// opted out: `NO_COLOR` set to anything non-empty (no-color.org) or
/// `TERM=dumb` (or unset), which is what editors' shells and CI logs use.
/// What the network did to the sweep, when it did something: lost SYNs
/// recovered by a retry, ports silent on hosts that answered elsewhere
/// (filtered, or loss beyond every retry), hosts that never answered.
fn network_line(d: &crate::sweep::DecidedCounts) -> Option<String> {
    let mut parts = Vec::new();
    if d.decided_after_retry > 0 {
        parts.push(format!(
            "{} ports decided only on a retry (lost SYNs, {} extra SYNs sent)",
            d.decided_after_retry, d.extra_attempts
        ));
    }
    if d.timed_out_answering_host > 0 {
        parts.push(format!(
            "{} ports silent on hosts that answered on another port (filtered)",
            d.timed_out_answering_host
        ));
    }
    if d.timed_out_silent_host > 0 {
        parts.push(format!(
            "{} probes to hosts that never answered",
            d.timed_out_silent_host
        ));
    }
    (!parts.is_empty()).then(|| format!("network: {}", parts.join("; ")))
}

/// Clusters the summary describes, worst first; a scan of a range full of
/// Flink services (or look-alikes) has thousands, and the JSON report
/// (and the HTML and Markdown ones) list them all.
pub const CLUSTERS_SHOWN: usize = 200;

/// A stopped scan of a big range can leave a notice on thousands of ports.
pub const NOTICES_SHOWN: usize = 50;

/// A person reads the first [`OTHERS_SHOWN`] non-Flink ports; a sweep
/// where every port answers has far more, and the JSON report lists them all.
pub const OTHERS_SHOWN: usize = 50;

fn other_ports(out: &mut String, report: &ScanReport) {
    let listing = report.services.for_people(OTHERS_SHOWN);
    let others: Vec<_> = listing.shown.iter().filter(|s| !s.flink).collect();
    if others.is_empty() && listing.error.is_none() {
        return;
    }
    let _ = writeln!(out, "\nother open ports (not Flink):");
    for svc in others {
        let _ = writeln!(
            out,
            "  {:<21} {:<12} {}",
            shown(&svc.endpoint.authority()),
            svc.kind.as_str(),
            shown(svc.product.as_deref().unwrap_or("-"))
        );
    }
    super::services::listing_tail(out, &listing);
}

pub fn color_wanted(is_terminal: bool, env: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    let no_color = env("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = env("TERM").is_none_or(|t| t.is_empty() || t == "dumb");
    is_terminal && !no_color && !dumb
}

fn paint(sev: Severity, color: bool) -> String {
    let label = format!("{:<8}", sev.as_str().to_uppercase());
    if !color {
        return label;
    }
    let code = match sev {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Info => "2",
    };
    format!("\x1b[{code}m{label}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn env<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn a_stopped_big_scan_summarises_its_notices_and_unfinished_ports() {
        let notices: Vec<serde_json::Value> = (0..60)
            .map(|i| serde_json::json!({"target": format!("10.0.0.{i}:80"), "message": "open, not identified"}))
            .collect();
        let report: ScanReport = serde_json::from_value(serde_json::json!({
            "tool": {"name": "flinkscan", "version": "0"},
            "scan": {"id": "x", "started": "a", "finished": "b", "duration_ms": 1,
                     "status": "interrupted", "targets": ["10.0.0.0/24"], "ports": [80],
                     "shard": "0/1", "seed": 1, "intrusive": false, "addresses": "256",
                     "probes_total": 256, "probes_shard": 256,
                     "not_identified": ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"],
                     "cut_short": ["10.0.0.4:80"]},
            "stats": {"probed": 256, "open": 60, "closed": 196, "filtered": 0, "unreachable": 0,
                      "services_flink": 0, "findings": 0},
            "services": [], "findings": [], "notices": notices
        }))
        .unwrap();
        let text = render(&report, &Catalog::load(None, None).unwrap(), false);
        assert_eq!(text.matches("open, not identified").count(), NOTICES_SHOWN);
        assert!(text.contains("... and 10 more notices"), "{text}");
        assert!(
            text.contains("stopped early: 3 open ports never identified, 1 cut short"),
            "{text}"
        );
    }

    #[test]
    fn the_network_line_says_what_loss_and_filtering_did() {
        let mut d = crate::sweep::DecidedCounts::default();
        assert_eq!(network_line(&d), None);
        d.decided_after_retry = 3;
        d.extra_attempts = 5;
        d.timed_out_answering_host = 2;
        let line = network_line(&d).unwrap();
        assert!(line.contains("3 ports decided only on a retry"), "{line}");
        assert!(line.contains("5 extra SYNs"), "{line}");
        assert!(
            line.contains("2 ports silent on hosts that answered"),
            "{line}"
        );
        assert!(!line.contains("never answered"), "{line}");
    }

    #[test]
    fn colour_only_on_a_capable_terminal_without_opt_out() {
        assert!(color_wanted(true, env(&[("TERM", "xterm-256color")])));
        assert!(!color_wanted(true, env(&[("TERM", "dumb")])));
        assert!(!color_wanted(true, env(&[])));
        assert!(!color_wanted(false, env(&[("TERM", "xterm")])));
        assert!(!color_wanted(
            true,
            env(&[("TERM", "xterm"), ("NO_COLOR", "1")])
        ));
        // no-color.org: an empty NO_COLOR does not opt out.
        assert!(color_wanted(
            true,
            env(&[("TERM", "xterm"), ("NO_COLOR", "")])
        ));
    }
}
