//! The human summary: counts by severity, then the worst findings first,
//! one line each, then the identified services. Every string in it passes
//! through `untrusted::shown`: titles, versions and notices can carry what a
//! peer, a targets file or a probe file put there.

use std::fmt::Write;

use super::ScanReport;
use crate::model::{Finding, Severity};
use crate::untrusted::shown;

pub fn render(report: &ScanReport, color: bool) -> String {
    let mut out = String::new();
    let s = &report.stats;
    // Fixed findings (from --baseline) are absences: they are listed and
    // counted apart, never as findings of this scan.
    let present: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.baseline_state.as_deref() != Some("fixed"))
        .collect();
    let _ = writeln!(
        out,
        "flinkscan {}: {} probes, {} open ports, {} Flink services, {} findings in {:.1}s ({})",
        shown(&report.scan.id),
        s.probed,
        s.open,
        s.services_flink,
        present.len(),
        report.scan.duration_ms as f64 / 1000.0,
        shown(&report.scan.status)
    );
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
        let count = |label: &str| {
            report
                .findings
                .iter()
                .filter(|f| f.baseline_state.as_deref() == Some(label))
                .count()
        };
        let _ = writeln!(
            out,
            "baseline: {} new, {} unchanged, {} fixed",
            count("new"),
            count("unchanged"),
            count("fixed")
        );
    }
    if !report.findings.is_empty() {
        let _ = writeln!(out);
        for f in &report.findings {
            let sev = paint(f.severity, color);
            let mark = match f.baseline_state.as_deref() {
                Some(b) if baselined => format!("{b:<9} "),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "{sev} {mark}{:<21} {:<34} {}",
                shown(&f.endpoint.authority()),
                shown(&f.rule_id),
                shown(&f.title)
            );
        }
    }
    if !report.services.is_empty() {
        let _ = writeln!(out, "\nservices:");
        for svc in &report.services {
            let tls = if svc.tls.is_some() { "tls" } else { "plain" };
            let version = shown(svc.version.as_deref().unwrap_or("-"));
            let product = shown(svc.product.as_deref().unwrap_or("-"));
            let flink = if svc.flink { "" } else { " (not Flink)" };
            let _ = writeln!(
                out,
                "  {:<21} {:<20} {:<5} {:<10} {}{}",
                shown(&svc.endpoint.authority()),
                svc.kind.as_str(),
                tls,
                version,
                product,
                flink
            );
        }
    }
    if !report.notices.is_empty() {
        let _ = writeln!(out, "\nnotices:");
        for n in &report.notices {
            let _ = writeln!(out, "  {}: {}", shown(&n.target), shown(&n.message));
        }
    }
    out
}

/// Colour only for a terminal that can show it and a user who has not
/// opted out: `NO_COLOR` set to anything non-empty (no-color.org) or
/// `TERM=dumb` (or unset), which is what editors' shells and CI logs use.
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
