//! `--csv`: one row per finding for triage in a spreadsheet.
//!
//! RFC 4180 (the `csv` crate quotes what needs quoting). Titles, hosts,
//! versions and details can come from a peer, and a spreadsheet runs a
//! cell that starts with `=`, `+`, `-` or `@` as a formula (CSV
//! injection, OWASP): such cells get a leading `'` so they stay text.

use std::io::Write;

use super::ScanReport;
use crate::checks::catalog::Catalog;
use crate::model::Finding;

/// The header row: the columns a triage sheet needs, in this order.
pub const COLUMNS: [&str; 11] = [
    "severity", "rule_id", "title", "host", "port", "url", "service", "version", "cluster",
    "baseline", "fix",
];

/// Longest cell written: a spreadsheet cell holds at most 32,767 characters.
const MAX_CELL: usize = 4000;

/// Write the report's findings as CSV to `out`.
pub fn write(out: &mut dyn Write, report: &ScanReport, catalog: &Catalog) -> std::io::Result<()> {
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(out);
    w.write_record(COLUMNS).map_err(into_io)?;
    for f in &report.findings {
        w.write_record(row(f, catalog)).map_err(into_io)?;
    }
    w.flush()
}

/// The report's findings as CSV text (tests, callers that want a string).
pub fn render(report: &ScanReport, catalog: &Catalog) -> String {
    let mut buf = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write(&mut buf, report, catalog);
    String::from_utf8_lossy(&buf).into_owned()
}

fn row(f: &Finding, catalog: &Catalog) -> [String; 11] {
    let host = f
        .endpoint
        .hostname
        .clone()
        .unwrap_or_else(|| f.endpoint.ip.to_string());
    let fix = f
        .remediation
        .clone()
        .or_else(|| catalog.rule(&f.rule_id).map(|r| r.remediation.clone()))
        .unwrap_or_default();
    [
        f.severity.as_str().to_string(),
        cell(&f.rule_id),
        cell(&f.title),
        cell(&host),
        f.endpoint.port.to_string(),
        cell(&f.body_or_note().url),
        f.service.as_str().to_string(),
        cell(f.version.as_deref().unwrap_or("")),
        cell(f.cluster.as_deref().unwrap_or("")),
        f.baseline_state
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        cell(fix.trim()),
    ]
}

/// A text cell: hidden characters made visible, capped, and never a formula.
fn cell(text: &str) -> String {
    // Newlines stay (quoted cells hold them); other controls do not.
    let shown = crate::untrusted::shown_lines(text);
    let mut s: String = shown.chars().take(MAX_CELL).collect();
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        s.insert(0, '\'');
    }
    s
}

fn into_io(e: ::csv::Error) -> std::io::Error {
    match e.into_kind() {
        ::csv::ErrorKind::Io(io) => io,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BaselineState, Endpoint, Finding, Severity};

    fn report_with(findings: Vec<Finding>) -> ScanReport {
        let mut r: ScanReport = serde_json::from_value(serde_json::json!({
            "tool": {"name": "flinkscan", "version": "0"},
            "scan": {"id": "s", "started": "", "finished": "", "duration_ms": 0,
                     "status": "complete", "targets": [], "ports": [], "shard": "0/1",
                     "seed": 0, "intrusive": false, "addresses": "0",
                     "probes_total": 0, "probes_shard": 0},
            "stats": {"probed": 0, "open": 0, "closed": 0, "filtered": 0,
                      "unreachable": 0, "services_flink": 0, "findings": 0},
            "services": [], "findings": [], "notices": []
        }))
        .unwrap();
        r.findings = findings;
        r
    }

    fn finding(title: &str, version: Option<&str>) -> Finding {
        let mut f = Finding::new(
            "FLINK-REST-UNAUTHENTICATED",
            Severity::Critical,
            title,
            Endpoint::new([127, 0, 0, 1].into(), 8081),
            crate::model::ServiceKind::JobmanagerRest,
            "http://127.0.0.1:8081/config".into(),
        );
        f.version = version.map(Into::into);
        f.baseline_state = Some(BaselineState::New);
        f
    }

    fn parse(text: &str) -> Vec<Vec<String>> {
        ::csv::Reader::from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn one_row_per_finding_with_the_triage_columns() {
        let catalog = Catalog::load(None, None).unwrap();
        let text = render(
            &report_with(vec![finding(
                "Unauthenticated, \"open\" REST",
                Some("1.20.1"),
            )]),
            &catalog,
        );
        assert!(
            text.starts_with(
                "severity,rule_id,title,host,port,url,service,version,cluster,baseline,fix\r\n"
            ),
            "{text}"
        );
        let rows = parse(&text);
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r[0], "critical");
        assert_eq!(r[1], "FLINK-REST-UNAUTHENTICATED");
        assert_eq!(r[2], "Unauthenticated, \"open\" REST");
        assert_eq!((r[3].as_str(), r[4].as_str()), ("127.0.0.1", "8081"));
        assert_eq!(r[7], "1.20.1");
        assert_eq!(r[9], "new");
        // The rule's remediation when the finding carries none.
        assert!(!r[10].is_empty(), "{r:?}");
        // RFC 4180: the comma and the quotes are quoted.
        assert!(
            text.contains("\"Unauthenticated, \"\"open\"\" REST\""),
            "{text}"
        );
    }

    #[test]
    fn peer_strings_never_become_formulas() {
        let catalog = Catalog::load(None, None).unwrap();
        for evil in ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)"] {
            let text = render(&report_with(vec![finding("t", Some(evil))]), &catalog);
            let rows = parse(&text);
            assert_eq!(rows[0][7], format!("'{evil}"), "{text}");
        }
        // A plain cell is left alone.
        let text = render(&report_with(vec![finding("t", Some("1.18.0"))]), &catalog);
        assert_eq!(parse(&text)[0][7], "1.18.0");
    }
}
