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
use crate::clusters::{Cluster, PortStatus, PostureStatus};
use crate::model::{BaselineState, Finding, Severity};
use crate::untrusted::shown;

/// Members listed per cluster before "+N more".
const MEMBERS_SHOWN: usize = 8;

/// The summary for a terminal `width` columns wide (see [`summary_width`]):
/// every line wraps there, at spaces only, so no word, address or rule id
/// is split; a single token wider than the line stays whole.
pub fn render(report: &ScanReport, catalog: &Catalog, color: bool, width: usize) -> String {
    wrap(&render_lines(report, catalog, color), width)
}

/// Columns when nothing says otherwise (not a terminal, no `COLUMNS`).
pub const DEFAULT_WIDTH: usize = 80;

/// Narrower than this, wrapping would leave a word or two per line.
const MIN_WIDTH: usize = 20;

/// The width to wrap the summary at: `COLUMNS` when it holds a number (an
/// explicit choice, as clap's `--help` in this binary also honours it),
/// else the width of the terminal the summary goes to (stdout, or stderr
/// when machine output owns stdout), else [`DEFAULT_WIDTH`].
pub fn summary_width(to_stderr: bool) -> usize {
    let terminal = if to_stderr {
        terminal_size::terminal_size_of(std::io::stderr())
    } else {
        terminal_size::terminal_size_of(std::io::stdout())
    };
    width_wanted(
        std::env::var("COLUMNS").ok().as_deref(),
        terminal.map(|(w, _)| w.0),
    )
}

/// [`summary_width`]'s choice from `COLUMNS` and the terminal's width.
pub fn width_wanted(columns: Option<&str>, terminal: Option<u16>) -> usize {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
        .or(terminal.map(usize::from).filter(|&w| w > 0))
        .unwrap_or(DEFAULT_WIDTH)
        .max(MIN_WIDTH)
}

/// Wrap each line of `text` at `width` columns on spaces, continuing under
/// the line's own indent plus four, so a wrapped line still reads as part
/// of its item. Colour escapes take no columns (`textwrap` skips them).
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for line in text.lines() {
        if textwrap::core::display_width(line) <= width {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let body = line.trim_start_matches(' ');
        let indent = " ".repeat(line.len() - body.len());
        let hang = format!("{indent}    ");
        let options = textwrap::Options::new(width)
            .initial_indent(&indent)
            .subsequent_indent(&hang)
            .break_words(false)
            // Not even at hyphens: `FLINK-RPC-PLAINTEXT` is one id.
            .word_splitter(textwrap::WordSplitter::NoHyphenation)
            .word_separator(textwrap::WordSeparator::AsciiSpace);
        for piece in textwrap::wrap(body, options) {
            out.push_str(&piece);
            out.push('\n');
        }
    }
    out
}

fn render_lines(report: &ScanReport, catalog: &Catalog, color: bool) -> String {
    let mut out = String::new();
    // Fixed findings (from --baseline) are absences: they are listed and
    // counted apart, never as findings of this scan.
    let present: Vec<&Finding> = report.findings.iter().filter(|f| !f.is_fixed()).collect();
    let baselined = report.findings.iter().any(|f| f.baseline_state.is_some());
    if baselined {
        new_first(&mut out, report, &present, color);
    }
    totals(&mut out, report, &present);
    for c in report.clusters.iter().take(CLUSTERS_SHOWN) {
        match c {
            Ok(c) => cluster(&mut out, report, &c, catalog, color, baselined),
            Err(e) => {
                let _ = writeln!(
                    out,
                    "\n(the rest of the clusters could not be read back: {e})"
                );
                break;
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
    let cluster_ids = report.clusters.names();
    let loose: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| {
            f.cluster
                .as_deref()
                .is_none_or(|id| !cluster_ids.contains_key(id))
        })
        .collect();
    if !loose.is_empty() {
        let _ = writeln!(out, "\nfindings outside any cluster:");
        for f in loose {
            finding_line(&mut out, f, color, baselined);
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

/// With a baseline, what changed is the news: it comes first, each new
/// finding with its cluster, before the whole picture.
fn new_first(out: &mut String, report: &ScanReport, present: &[&Finding], color: bool) {
    let names = report.clusters.names();
    let _ = writeln!(out, "flinkscan {}", baseline_counts(report));
    for f in present
        .iter()
        .filter(|f| f.baseline_state == Some(BaselineState::New))
    {
        let cluster = f
            .cluster
            .as_deref()
            .and_then(|id| names.get(id))
            .map(|name| format!(" [{}]", shown(name)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  NEW {} {} {} {}{cluster}",
            paint(f.severity, color),
            shown(&f.endpoint.place()),
            shown(&f.rule_id),
            shown(&f.title)
        );
    }
    out.push('\n');
}

/// `1 cluster`, `2 clusters`: the totals line is read by people first.
pub fn counted(n: impl Into<u128>, one: &str, many: &str) -> String {
    let n: u128 = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The totals line, the network line and the findings by severity.
fn totals(out: &mut String, report: &ScanReport, present: &[&Finding]) {
    let s = &report.stats;
    let _ = writeln!(
        out,
        "flinkscan: {}, {}, {}; {}, {} in {:.1}s ({})",
        counted(report.clusters.len() as u64, "cluster", "clusters"),
        counted(s.services_flink, "Flink service", "Flink services"),
        counted(present.len() as u64, "finding", "findings"),
        counted(s.probed, "probe", "probes"),
        counted(s.open, "open port", "open ports"),
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
}

fn finding_line(out: &mut String, f: &Finding, color: bool, baselined: bool) {
    let sev = paint(f.severity, color);
    let mark = match f.baseline_state {
        Some(b) if baselined => format!("{:<9} ", b.as_str()),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "  {sev} {mark}{:<21} {:<34} {}",
        shown(&f.endpoint.place()),
        shown(&f.rule_id),
        shown(&f.title)
    );
}

/// One cluster: rating, members, worst path, its findings and fixes.
fn cluster(
    out: &mut String,
    report: &ScanReport,
    c: &Cluster,
    catalog: &Catalog,
    color: bool,
    baselined: bool,
) {
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
    unchecked_line(out, c);
    for (status, said) in [
        (PortStatus::NotScanned, "not scanned"),
        (PortStatus::NotFound, "probed, nothing there"),
    ] {
        let ports: Vec<_> = c
            .not_scanned
            .iter()
            .filter(|k| k.status == status)
            .collect();
        if ports.is_empty() {
            continue;
        }
        let known: Vec<String> = ports
            .iter()
            .take(MEMBERS_SHOWN)
            .map(|k| format!("{}:{} ({})", shown(&k.host), k.port, k.role))
            .collect();
        let _ = writeln!(
            out,
            "  known from the {}, {said}: {}{}",
            crate::clusters::platforms::known_from(c),
            known.join(", "),
            if ports.len() > MEMBERS_SHOWN {
                format!(", +{} more", ports.len() - MEMBERS_SHOWN)
            } else {
                String::new()
            }
        );
    }
    if let Some(jobs) = &c.jobs {
        let _ = writeln!(out, "  runs: {}", shown(&jobs.summary));
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
        finding_line(out, f, color, baselined);
    }
    let fixes = cluster_fixes(c, &mine, catalog);
    if !fixes.is_empty() {
        let _ = writeln!(out, "  fix:");
        for fix in fixes {
            let _ = writeln!(out, "    - {fix}");
        }
    }
}

/// `baseline: N new, N unchanged, N fixed`.
fn baseline_counts(report: &ScanReport) -> String {
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
    format!("baseline: {}", counts.join(", "))
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
        if !rules.insert(&*f.rule_id) {
            continue;
        }
        let fix = f
            .remediation
            .as_deref()
            .or_else(|| catalog.rule(&f.rule_id).map(|r| &*r.remediation));
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
fn network_line(d: &crate::model::DecidedCounts) -> Option<String> {
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

/// Checks of the cluster that could not run: unknown, not clean.
fn unchecked_line(out: &mut String, c: &Cluster) {
    if c.unchecked.is_empty() {
        return;
    }
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
            shown(&svc.endpoint.place()),
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

    /// The README's first screen showed `1 clusters`.
    #[test]
    fn the_totals_line_counts_in_words_that_agree() {
        let report: ScanReport = serde_json::from_value(serde_json::json!({
            "tool": {"name": "flinkscan", "version": "0"},
            "scan": {"id": "x", "started": "a", "finished": "b", "duration_ms": 1,
                     "status": "complete", "targets": ["10.0.0.1"], "ports": [80],
                     "shard": "0/1", "seed": 1, "intrusive": false, "addresses": "1",
                     "probes_total": 1, "probes_shard": 1},
            "stats": {"probed": 1, "open": 1, "closed": 0, "filtered": 0, "unreachable": 0,
                      "services_flink": 1, "findings": 0},
            "services": [], "findings": [], "notices": []
        }))
        .unwrap();
        let text = render(&report, &Catalog::load(None, None).unwrap(), false, 200);
        assert!(
            text.starts_with(
                "flinkscan: 0 clusters, 1 Flink service, 0 findings; 1 probe, 1 open port in"
            ),
            "{text}"
        );
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
        let text = render(&report, &Catalog::load(None, None).unwrap(), false, 200);
        assert_eq!(text.matches("open, not identified").count(), NOTICES_SHOWN);
        assert!(text.contains("... and 10 more notices"), "{text}");
        assert!(
            text.contains("stopped early: 3 open ports never identified, 1 cut short"),
            "{text}"
        );
    }

    #[test]
    fn the_network_line_says_what_loss_and_filtering_did() {
        let mut d = crate::model::DecidedCounts::default();
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
    fn the_width_is_columns_then_the_terminal_then_80() {
        assert_eq!(width_wanted(Some("100"), Some(120)), 100);
        assert_eq!(width_wanted(None, Some(120)), 120);
        assert_eq!(width_wanted(None, None), DEFAULT_WIDTH);
        assert_eq!(width_wanted(Some("wide"), None), DEFAULT_WIDTH);
        assert_eq!(width_wanted(Some("0"), Some(90)), 90);
        assert_eq!(width_wanted(Some("5"), None), MIN_WIDTH);
    }

    #[test]
    fn wrapping_keeps_words_whole_and_hangs_under_the_item() {
        let line = "  CRITICAL 127.60.0.10:8081       FLINK-RPC-PLAINTEXT   Akka/Pekko RPC port \
                    reachable without TLS or authentication jobmanager:127.60.0.10:8081";
        let out = wrap(&format!("{line}\nshort\n"), 40);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() > 3, "{out}");
        for l in &lines {
            assert!(
                l.chars().count() <= 40 || !l.trim().contains(' '),
                "{l:?} in {out}"
            );
        }
        assert_eq!(lines[0], "  CRITICAL 127.60.0.10:8081");
        assert!(lines[1].starts_with("      FLINK-RPC"), "{out}");
        assert_eq!(lines.last(), Some(&"short"));
        let words = |t: &str| t.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(words(&out), words(&format!("{line} short")));
        // A token longer than the line stays whole.
        let long = "x".repeat(50);
        assert_eq!(
            wrap(&format!("a {long} b"), 30),
            format!("a\n    {long}\n    b\n")
        );
        // Colour escapes take no columns.
        let red = format!("{} {}", paint(Severity::High, true), "y ".repeat(8));
        assert_eq!(wrap(&red, 26).lines().count(), 1, "{red:?}");
    }

    #[test]
    fn a_baseline_summary_leads_with_what_is_new() {
        use crate::model::{Endpoint, ServiceKind};
        let finding = |port: u16, state: BaselineState| {
            let mut f = Finding::new(
                "FLINK-RPC-PLAINTEXT",
                Severity::Critical,
                "RPC without TLS",
                Endpoint::new([127, 0, 0, 1].into(), port),
                ServiceKind::Rpc,
                format!("tcp://127.0.0.1:{port}"),
            );
            f.baseline_state = Some(state);
            f
        };
        let mut report: ScanReport = serde_json::from_value(serde_json::json!({
            "tool": {"name": "flinkscan", "version": "0"},
            "scan": {"id": "x", "started": "a", "finished": "b", "duration_ms": 1,
                     "status": "complete", "targets": ["127.0.0.1"], "ports": [6123],
                     "shard": "0/1", "seed": 1, "intrusive": false, "addresses": "1",
                     "probes_total": 3, "probes_shard": 3},
            "stats": {"probed": 3, "open": 2, "closed": 1, "filtered": 0, "unreachable": 0,
                      "services_flink": 2, "findings": 0},
            "services": [], "findings": [], "notices": []
        }))
        .unwrap();
        report.findings = vec![
            finding(6123, BaselineState::Unchanged),
            finding(6124, BaselineState::New),
            finding(6125, BaselineState::Fixed),
        ];
        let text = render(&report, &Catalog::load(None, None).unwrap(), false, 80);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0], "flinkscan baseline: 1 new, 1 unchanged, 1 fixed",
            "{text}"
        );
        assert!(
            lines[1].starts_with("  NEW CRITICAL 127.0.0.1:6124 FLINK-RPC-PLAINTEXT"),
            "{text}"
        );
        assert!(
            lines[2].trim().is_empty() || !lines[2].contains("NEW "),
            "{text}"
        );
        assert!(text.contains("flinkscan: 0 clusters"), "{text}");
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
