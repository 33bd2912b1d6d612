//! Writing a finished scan's outputs: every one the plan names, each to the
//! destination checked before the first probe ([`crate::plan::outputs`]).
//! A failing output never stops the others; the caller gets each failure
//! (flag, path and error) for its exit code. JSON documents are streamed,
//! never built whole as text.

use std::io::{IsTerminal, Write};

use crate::atomic::Dest;
use crate::checks::catalog::Catalog;
use crate::plan::{Output, ScanPlan};
use crate::report::{csv, html, markdown, sarif, text, ScanReport};

/// How the person-facing parts are rendered.
#[derive(Debug, Clone, Copy)]
pub struct Rendering {
    pub sarif: sarif::Compat,
    /// `--no-color` was not given (the terminal and `TERM` still decide).
    pub color: bool,
    /// `--quiet`: no summary at all (cron mails whatever a job prints).
    pub quiet: bool,
}

/// Write one JSON document to an output; a failure is noted, not returned,
/// so the other outputs are still written.
pub fn write_document(out: &Output, doc: &impl serde::Serialize, failures: &mut Vec<String>) {
    // Streamed: a report of many services is never held whole as text.
    let written = out.dest.write_with(|w| {
        serde_json::to_writer_pretty(&mut *w, doc).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    });
    if let Err(e) = written {
        failures.push(format!("cannot write {out}: {e}"));
    }
}

/// The HTML and Markdown renderings, each to its checked destination.
pub fn write_people_outputs(
    html_out: &Option<Output>,
    markdown_out: &Option<Output>,
    report: &ScanReport,
    catalog: &Catalog,
    failures: &mut Vec<String>,
) {
    if let Some(out) = html_out {
        let page = html::render(report, catalog);
        if let Err(e) = out.dest.write_all(page.as_bytes()) {
            failures.push(format!("cannot write {out}: {e}"));
        }
    }
    if let Some(out) = markdown_out {
        let text = markdown::render(report, catalog);
        if let Err(e) = out.dest.write_all(text.as_bytes()) {
            failures.push(format!("cannot write {out}: {e}"));
        }
    }
}

/// The CSV rows, to a checked destination.
pub fn write_csv(out: &Output, report: &ScanReport, catalog: &Catalog, failures: &mut Vec<String>) {
    if let Err(e) = out.dest.write_with(|w| csv::write(w, report, catalog)) {
        failures.push(format!("cannot write {out}: {e}"));
    }
}

fn unreadable(out: &Output, e: &std::io::Error) -> String {
    format!("cannot write {out}: reading back what the scan kept on disk failed, nothing was written: {e}")
}

/// Write every report of a scan and the summary for people; return what
/// failed, never stopping at the first failure. A closed pipe on the human
/// summary is not a failure: `flinkscan scan ... | head -3` is a person
/// reading.
pub fn write_scan_outputs(
    plan: &ScanPlan,
    report: &ScanReport,
    catalog: &Catalog,
    how: Rendering,
) -> Vec<String> {
    let mut failures = Vec::new();
    // A regular file is replaced only once whole; a stream cannot take
    // back what it printed, so what the scan kept on disk is read first.
    let checked = |out: &Output| match out.dest {
        Dest::File(_) => Ok(()),
        _ => report.verify(),
    };
    if let Some(out) = &plan.json {
        match checked(out) {
            Ok(()) => write_document(out, report, &mut failures),
            Err(e) => failures.push(unreadable(out, &e)),
        }
    }
    if let Some(out) = &plan.sarif {
        // Streamed: results are made one at a time as they are written.
        match checked(out) {
            Ok(()) => write_document(out, &sarif::log(report, catalog, how.sarif), &mut failures),
            Err(e) => failures.push(unreadable(out, &e)),
        }
    }
    write_people_outputs(&plan.html, &plan.markdown, report, catalog, &mut failures);
    if let Some(out) = &plan.csv {
        write_csv(out, report, catalog, &mut failures);
    }
    if how.quiet {
        return failures;
    }
    let stdout_taken = plan.outputs().any(|o| o.dest == Dest::Stdout);
    let color =
        how.color && text::color_wanted(std::io::stdout().is_terminal(), |k| std::env::var_os(k));
    let summary = text::render(report, catalog, color, text::summary_width(stdout_taken));
    if stdout_taken {
        // Machine output owns stdout; the person still gets the summary.
        let _ = std::io::stderr().write_all(summary.as_bytes());
    } else {
        let mut out = std::io::stdout().lock();
        let written = out.write_all(summary.as_bytes()).and_then(|()| out.flush());
        match written {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => failures.push(format!("cannot write the summary to stdout: {e}")),
            Ok(()) => {}
        }
    }
    failures
}

/// The line that ends a scan for a person: where each file went
/// (`flinkscan: wrote scan.json, scan.sarif`), or None when every output
/// went to stdout or a stream of its own, or there were none.
pub fn written_line(plan: &ScanPlan) -> Option<String> {
    let files: Vec<String> = plan
        .outputs()
        .filter(|o| matches!(o.dest, Dest::File(_) | Dest::Special(_)))
        .map(|o| crate::untrusted::shown(&o.path.display().to_string()))
        .collect();
    if files.is_empty() {
        return None;
    }
    Some(format!("flinkscan: wrote {}", files.join(", ")))
}

/// Under `--quiet`, the one line a run that fails `--fail-on` prints to
/// stderr, so a cron mail says what needs attention:
/// `flinkscan: 2 new findings at or above high: FLINK-RPC-PLAINTEXT on 10.0.0.5:6123, ...`.
pub fn verdict_line(
    report: &ScanReport,
    threshold: crate::model::Severity,
    only_new: bool,
) -> String {
    let failing: Vec<&crate::model::Finding> = report
        .findings
        .iter()
        .filter(|f| f.severity >= threshold && !f.is_fixed())
        .filter(|f| !only_new || f.baseline_state == Some(crate::model::BaselineState::New))
        .collect();
    const NAMED: usize = 3;
    let mut named: Vec<String> = failing
        .iter()
        .take(NAMED)
        .map(|f| crate::untrusted::shown(&format!("{} on {}", f.rule_id, f.endpoint.authority())))
        .collect();
    if failing.len() > NAMED {
        named.push(format!("and {} more", failing.len() - NAMED));
    }
    format!(
        "flinkscan: {} {}finding{} at or above {threshold}: {}",
        failing.len(),
        if only_new { "new " } else { "" },
        if failing.len() == 1 { "" } else { "s" },
        named.join(", ")
    )
}
