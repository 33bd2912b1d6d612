//! The human summary: counts by severity, then the worst findings first,
//! one line each, then the identified services.

use std::fmt::Write;

use super::ScanReport;
use crate::model::{Finding, Severity};

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
        report.scan.id,
        s.probed,
        s.open,
        s.services_flink,
        present.len(),
        report.scan.duration_ms as f64 / 1000.0,
        report.scan.status
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
                f.endpoint.authority(),
                f.rule_id,
                f.title
            );
        }
    }
    if !report.services.is_empty() {
        let _ = writeln!(out, "\nservices:");
        for svc in &report.services {
            let tls = if svc.tls.is_some() { "tls" } else { "plain" };
            let version = svc.version.as_deref().unwrap_or("-");
            let product = svc.product.as_deref().unwrap_or("-");
            let flink = if svc.flink { "" } else { " (not Flink)" };
            let _ = writeln!(
                out,
                "  {:<21} {:<20} {:<5} {:<10} {}{}",
                svc.endpoint.authority(),
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
            let _ = writeln!(out, "  {}: {}", n.target, n.message);
        }
    }
    out
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
