//! One self-contained HTML file for people: the scan summary, a severity
//! chart, one card per cluster (members, attack paths, posture), and a
//! findings table that sorts, filters and searches, with evidence and the
//! fix per finding. Against a `--baseline`: new/unchanged/fixed counts, a
//! badge per finding and a filter. It prints on A4 and Letter portrait, and
//! identifiers wrap only after a separator ([`ident`]).
//!
//! It works offline and asks nothing of any network: CSS and JS are inline,
//! the chart is inline SVG, and a Content-Security-Policy allows only the
//! one script (by its hash) and inline styles. Every string that came from a
//! target, a targets file or a probe file goes through [`escape`], so a
//! peer's `<script>` in a version or header is shown as text.

use std::collections::HashMap;
use std::fmt::Write;

use sha2::{Digest, Sha256};

use super::ScanReport;
use crate::checks::catalog::Catalog;
use crate::clusters::{Cluster, PortStatus, PostureStatus};
use crate::model::{BaselineState, Finding, Severity};
use crate::untrusted;

const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

/// Text for HTML content and quoted attribute values: the five characters
/// that mean something there become entities, and characters that hide or
/// reorder text become visible escapes (`untrusted::shown`).
pub fn escape(text: &str) -> String {
    let shown = untrusted::shown(text);
    let mut out = String::with_capacity(shown.len() + 16);
    for c in shown.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An identifier (endpoint, rule, cluster or finding id, URL) as HTML that
/// may wrap only after a separator: `<wbr>` after `:` `/` `@` `_` `-` `,`
/// `=` `&` `?` `#` `;`, and after `.` unless digits stand on both sides, so
/// an address, a port or a version never breaks inside
/// (`jobmanager:127.60.0.10:8081` wraps as `jobmanager:` / `127.60.0.10:8081`
/// or before `8081`, never as `...:808` / `1`). `<wbr>` adds no text, so
/// copying, searching and sorting see the identifier unchanged.
pub fn ident(text: &str) -> String {
    let shown = untrusted::shown(text);
    let chars: Vec<char> = shown.chars().collect();
    let mut out = String::with_capacity(shown.len() + 32);
    for (i, &c) in chars.iter().enumerate() {
        out.push_str(&escape(c.encode_utf8(&mut [0; 4])));
        let last = i + 1 == chars.len();
        let between_digits = i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        let separator = match c {
            ':' | '/' | '@' | '_' | '-' | ',' | '=' | '&' | '?' | '#' | ';' => true,
            '.' => !between_digits,
            _ => false,
        };
        if separator && !last {
            out.push_str("<wbr>");
        }
    }
    out
}

/// The page's only script. It reads the table the page already holds and
/// never builds HTML from strings, so nothing in the data can become code.
const SCRIPT: &str = r#"(function () {
  'use strict';
  var table = document.getElementById('findings-table');
  if (!table) { return; }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var search = document.getElementById('f-search');
  var severity = document.getElementById('f-severity');
  var cluster = document.getElementById('f-cluster');
  var baseline = document.getElementById('f-baseline');
  var count = document.getElementById('f-count');
  var controls = [search, severity, cluster];
  if (baseline) { controls.push(baseline); }
  function apply() {
    var text = search.value.trim().toLowerCase();
    var s = severity.value;
    var c = cluster.value;
    var b = baseline ? baseline.value : '';
    var shown = 0;
    rows.forEach(function (r) {
      var ok = (!s || r.getAttribute('data-severity') === s) &&
        (!c || r.getAttribute('data-cluster') === c) &&
        (!b || r.getAttribute('data-baseline') === b) &&
        (!text || r.textContent.toLowerCase().indexOf(text) >= 0);
      r.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = String(shown);
  }
  Array.prototype.forEach.call(document.querySelectorAll('[data-filter-baseline]'), function (a) {
    a.addEventListener('click', function () {
      if (baseline) { baseline.value = a.getAttribute('data-filter-baseline'); apply(); }
    });
  });
  controls.forEach(function (el) {
    el.addEventListener('input', apply);
    el.addEventListener('change', apply);
  });
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, i) {
    if (!th.hasAttribute('data-sortable')) { return; }
    th.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      rows.sort(function (a, b) {
        var x = a.cells[i].getAttribute('data-v') || a.cells[i].textContent;
        var y = b.cells[i].getAttribute('data-v') || b.cells[i].textContent;
        var nx = Number(x), ny = Number(y);
        var d = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : (x < y ? -1 : (x > y ? 1 : 0));
        return asc ? d : -d;
      });
      rows.forEach(function (r) { tbody.appendChild(r); });
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll('[data-filter-cluster]'), function (b) {
    b.addEventListener('click', function () {
      cluster.value = b.getAttribute('data-filter-cluster');
      apply();
      document.getElementById('findings').scrollIntoView();
    });
  });
  window.addEventListener('beforeprint', function () {
    Array.prototype.forEach.call(document.querySelectorAll('details'), function (d) { d.open = true; });
  });
  apply();
})();"#;

const STYLE: &str = r#"
:root { --crit:#7b1fa2; --high:#c62828; --med:#ef6c00; --low:#1565c0; --info:#607d8b; --pass:#2e7d32; --fail:#c62828; --unk:#757575; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1b1b1b; background: #f6f7f9; }
header, section { max-width: 1200px; margin: 0 auto; padding: 16px 24px; }
header { background: #fff; border-bottom: 1px solid #ddd; max-width: none; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 8px 0 12px; } h3 { font-size: 16px; margin: 0; }
.meta { color: #555; font-size: 13px; }
.stats { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 10px; }
.stat { background: #f0f2f5; border-radius: 6px; padding: 6px 12px; } .stat b { font-size: 18px; display: block; }
.sev { display: inline-block; min-width: 64px; text-align: center; color: #fff; border-radius: 4px; padding: 1px 6px; font-size: 12px; font-weight: 600; text-transform: uppercase; }
.sev-critical { background: var(--crit); } .sev-high { background: var(--high); } .sev-medium { background: var(--med); } .sev-low { background: var(--low); } .sev-info, .sev-none { background: var(--info); }
.st { font-weight: 600; text-transform: uppercase; font-size: 12px; } .st-pass { color: var(--pass); } .st-fail { color: var(--fail); } .st-unknown { color: var(--unk); }
.card { background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 14px 16px; margin-bottom: 16px; page-break-inside: avoid; }
.card-head { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
.card .id { color: #666; font-family: ui-monospace, monospace; font-size: 12px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid #e5e5e5; }
th { background: #f0f2f5; font-weight: 600; }
th[data-sortable] { cursor: pointer; } th[aria-sort=ascending]::after { content: " \25B2"; } th[aria-sort=descending]::after { content: " \25BC"; }
code, .mono { font-family: ui-monospace, monospace; font-size: 12px; }
/* Prose and peer text wrap at spaces, and break inside a word only when it
   cannot fit a line at all, so no cell forces a table wider than the page.
   Identifiers (.ident) carry <wbr> after their separators and keep their
   longest piece whole: a table column is never narrower than that piece. */
body { overflow-wrap: anywhere; }
th { overflow-wrap: normal; }
.ident, .fix code, table.posture code { overflow-wrap: break-word; word-break: normal; }
ol.path { margin: 4px 0 10px 18px; padding: 0; } ol.path li { margin: 2px 0; }
.refs a { font-family: ui-monospace, monospace; font-size: 11px; margin-right: 6px; }
.controls { display: flex; gap: 8px; flex-wrap: wrap; margin-bottom: 8px; align-items: center; }
.controls input, .controls select { padding: 4px 6px; font: inherit; max-width: 360px; }
.bl { display: inline-block; margin-top: 3px; border: 1px solid; border-radius: 4px; padding: 0 5px; font-size: 11px; font-weight: 600; text-transform: uppercase; }
.bl-new { color: #b34700; background: #fff3e0; } .bl-unchanged { color: #555; background: #f0f0f0; }
.stat-new b { color: #b34700; } a.stat { color: inherit; text-decoration: none; }
.sev, .bl { white-space: nowrap; overflow-wrap: normal; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
details summary { cursor: pointer; }
.fix { background: #eef7ee; border-left: 3px solid var(--pass); padding: 4px 8px; margin: 4px 0; }
.muted { color: #666; }
@page { margin: 10mm; }
@media print {
  body { background: #fff; font-size: 11px; }
  code, .mono { font-size: 10px; }
  th, td { padding: 3px 5px; }
  .controls, button { display: none !important; }
  tr[hidden] { display: table-row !important; }
  header, section { padding: 6px 0; }
  .card { border-color: #999; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// `sha256-...` of the script, for the policy.
fn script_hash() -> String {
    let digest = Sha256::digest(SCRIPT.as_bytes());
    format!("sha256-{}", base64(&digest))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The remediation of a finding: its own, else the rule's.
pub fn remediation<'a>(f: &'a Finding, catalog: &'a Catalog) -> Option<&'a str> {
    f.remediation
        .as_deref()
        .or_else(|| catalog.rule(&f.rule_id).map(|r| &*r.remediation))
}

/// Findings a person should see: a `--baseline` fixed one is an absence.
pub fn present(report: &ScanReport) -> Vec<&Finding> {
    report.findings.iter().filter(|f| !f.is_fixed()).collect()
}

fn sev_badge(sev: Option<Severity>) -> String {
    match sev {
        Some(s) => format!("<span class=\"sev sev-{s}\">{s}</span>"),
        None => "<span class=\"sev sev-none\">none</span>".into(),
    }
}

/// A `--baseline` scan: its findings carry a state.
fn baselined(report: &ScanReport) -> bool {
    report.findings.iter().any(|f| f.baseline_state.is_some())
}

/// New, unchanged and fixed counts for the header, each a link that shows
/// those findings; nothing without a baseline.
fn baseline_stats(report: &ScanReport) -> String {
    if !baselined(report) {
        return String::new();
    }
    let count = |state: BaselineState| {
        report
            .findings
            .iter()
            .filter(|f| f.baseline_state == Some(state))
            .count()
    };
    format!(
        "<a class=\"stat stat-new\" id=\"stat-new\" href=\"#findings\" data-filter-baseline=\"new\"><b>{}</b>new</a>\
<a class=\"stat\" id=\"stat-unchanged\" href=\"#findings\" data-filter-baseline=\"unchanged\"><b>{}</b>unchanged</a>\
<a class=\"stat\" id=\"stat-fixed\" href=\"#fixed\"><b>{}</b>fixed</a>",
        count(BaselineState::New),
        count(BaselineState::Unchanged),
        count(BaselineState::Fixed),
    )
}

fn anchor(finding_id: &str) -> String {
    format!("f-{}", escape(finding_id))
}

pub fn render(report: &ScanReport, catalog: &Catalog) -> String {
    let findings = present(report);
    let mut h = String::with_capacity(64 << 10);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src '{}'; base-uri 'none'; form-action 'none'\">\n\
<meta name=\"referrer\" content=\"no-referrer\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>flinkscan report {}</title>\n<style>{STYLE}</style></head><body>\n",
        script_hash(),
        escape(&report.scan.started)
    );
    summary(&mut h, report, &findings);
    clusters(&mut h, report);
    findings_table(&mut h, report, &findings, catalog);
    services(&mut h, report);
    notices(&mut h, report);
    let _ = write!(h, "<script>{SCRIPT}</script>\n</body></html>\n");
    h
}

fn summary(h: &mut String, report: &ScanReport, findings: &[&Finding]) {
    let s = &report.stats;
    let worst = findings.iter().map(|f| f.severity).max();
    let _ = write!(
        h,
        "<header><h1>flinkscan report</h1>\
<div class=\"meta\">scan <span class=\"mono ident\">{}</span> · {} to {} · status {} · flinkscan {}</div>\
<div class=\"meta\">targets: {} · ports: {}</div>\
<div class=\"stats\">\
<div class=\"stat\" id=\"stat-clusters\"><b>{}</b>clusters</div>\
<div class=\"stat\" id=\"stat-services\"><b>{}</b>Flink services</div>\
<div class=\"stat\" id=\"stat-findings\"><b>{}</b>findings</div>\
<div class=\"stat\"><b>{}</b>open ports</div>\
<div class=\"stat\"><b>{}</b>probes</div>\
<div class=\"stat\"><b>{}</b>worst</div>{}</div></header>",
        ident(&report.scan.id),
        escape(&report.scan.started),
        escape(&report.scan.finished),
        report.scan.status,
        escape(&report.tool.version),
        escape(&report.scan.targets.join(" ")),
        escape(
            &report
                .scan
                .ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        report.clusters.len(),
        s.services_flink,
        findings.len(),
        s.open,
        s.probed,
        sev_badge(worst),
        baseline_stats(report),
    );
    let _ = write!(
        h,
        "<section id=\"summary\"><h2>Findings by severity</h2>{}</section>",
        chart(findings)
    );
}

/// A horizontal bar per severity, inline SVG.
fn chart(findings: &[&Finding]) -> String {
    let counts: Vec<(Severity, usize)> = SEVERITIES
        .iter()
        .map(|&s| (s, findings.iter().filter(|f| f.severity == s).count()))
        .collect();
    let max = counts.iter().map(|c| c.1).max().unwrap_or(0).max(1);
    let colors = ["#7b1fa2", "#c62828", "#ef6c00", "#1565c0", "#607d8b"];
    let mut svg = String::from(
        "<svg id=\"severity-chart\" role=\"img\" aria-label=\"findings by severity\" width=\"520\" height=\"140\" viewBox=\"0 0 520 140\" xmlns=\"http://www.w3.org/2000/svg\">",
    );
    for (i, ((sev, n), color)) in counts.iter().zip(colors).enumerate() {
        let y = 6 + i * 26;
        let w = n * 360 / max;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{sev}</text>\
<rect data-severity=\"{sev}\" data-count=\"{n}\" x=\"80\" y=\"{y}\" width=\"{w}\" height=\"18\" fill=\"{color}\"></rect>\
<text x=\"{}\" y=\"{}\" font-size=\"13\">{n}</text>",
            y + 14,
            84 + w,
            y + 14
        );
    }
    svg.push_str("</svg>");
    svg
}

fn clusters(h: &mut String, report: &ScanReport) {
    let _ = write!(
        h,
        "<section id=\"clusters\"><h2>Clusters ({})</h2>",
        report.clusters.len()
    );
    if report.clusters.is_empty() {
        h.push_str("<p class=\"muted\">No Flink service was found.</p>");
    }
    for c in report.clusters.iter() {
        match c {
            Ok(c) => cluster_card(h, &c),
            Err(e) => {
                let _ = write!(
                    h,
                    "<p class=\"muted\">The rest of the clusters could not be read back: {}</p>",
                    escape(&e.to_string())
                );
                break;
            }
        }
    }
    h.push_str("</section>\n");
}

fn cluster_card(h: &mut String, c: &Cluster) {
    let _ = write!(
        h,
        "<article class=\"card cluster\" data-cluster=\"{id}\" data-rating=\"{rating}\">\
<div class=\"card-head\">{badge}<h3>{name}</h3><span class=\"id ident\">{shown_id}</span>\
<button type=\"button\" data-filter-cluster=\"{id}\">show its {n} findings</button></div>",
        id = escape(&c.id),
        shown_id = ident(&c.id),
        rating = c.rating.map_or("none", Severity::as_str),
        badge = sev_badge(c.rating),
        name = escape(&c.name),
        n = c.findings.len(),
    );
    let mut facts = Vec::new();
    if let Some(v) = &c.version {
        facts.push(format!("Flink {}", escape(v)));
    }
    if let Some(cid) = &c.cluster_id {
        facts.push(format!(
            "<code>{}</code> = <code>{}</code> (from {})",
            escape(&cid.key),
            escape(&cid.value),
            escape(&cid.source)
        ));
    }
    facts.push(format!("hosts: {}", escape(&c.hosts.join(", "))));
    let _ = write!(h, "<p class=\"meta\">{}</p>", facts.join(" · "));

    // Attack paths first: they are why the card matters.
    attack_paths(h, c);
    jobs(h, c);
    members(h, c);
    posture(h, c);
    h.push_str("</article>\n");
}

fn attack_paths(h: &mut String, c: &Cluster) {
    if c.paths.is_empty() {
        h.push_str("<p class=\"muted\">No attack path found from the scanner's position.</p>");
    } else {
        h.push_str("<h4>Attack paths</h4>");
        for p in &c.paths {
            let _ = write!(
                h,
                "<div class=\"path\" data-rank=\"{}\">{} <b>{}. {}</b> <span class=\"muted\">— {}</span><ol class=\"path\">",
                p.rank,
                sev_badge(Some(p.severity)),
                p.rank,
                escape(&p.title),
                escape(&p.impact)
            );
            for s in &p.steps {
                let refs: Vec<String> = s
                    .findings
                    .iter()
                    .map(|id| {
                        format!(
                            "<a class=\"ident\" href=\"#{}\">{}</a>",
                            anchor(id),
                            ident(id)
                        )
                    })
                    .collect();
                let _ = write!(
                    h,
                    "<li>{} <span class=\"refs\">{}</span></li>",
                    escape(&s.action),
                    refs.join("")
                );
            }
            h.push_str("</ol></div>");
        }
    }
}

/// What the JobManager says runs on the cluster.
fn jobs(h: &mut String, c: &Cluster) {
    if let Some(jobs) = &c.jobs {
        let _ = write!(
            h,
            "<h4>What runs there</h4><p class=\"jobs-summary\">{}</p>",
            escape(&jobs.summary)
        );
        if !jobs.jobs.is_empty() {
            h.push_str("<ul class=\"jobs\">");
            for line in &jobs.jobs {
                let _ = write!(h, "<li>{}</li>", escape(line));
            }
            h.push_str("</ul>");
        }
    }
}

fn members(h: &mut String, c: &Cluster) {
    h.push_str("<h4>Members</h4><table class=\"members\"><thead><tr><th>Endpoint</th><th>Role</th><th>TLS</th><th>Why it belongs here</th></tr></thead><tbody>");
    for m in &c.members {
        let _ = write!(
            h,
            "<tr><td class=\"mono ident\">{}</td><td class=\"ident\">{}</td><td>{}</td><td>{}</td></tr>",
            ident(&m.endpoint),
            ident(m.role.as_str()),
            if m.tls { "yes" } else { "no" },
            escape(&m.evidence)
        );
    }
    for k in &c.not_scanned {
        let _ = write!(
            h,
            "<tr class=\"not-scanned\"><td class=\"mono ident\">{}</td><td class=\"ident\">{}</td><td>?</td><td>known from the {}, {}: {}</td></tr>",
            ident(&format!("{}:{}", k.host, k.port)),
            ident(k.role.as_str()),
            crate::clusters::platforms::known_from(c),
            if k.status == PortStatus::NotFound { "not found by the sweep" } else { "not scanned" },
            escape(&k.source)
        );
    }
    h.push_str("</tbody></table>");
}

fn posture(h: &mut String, c: &Cluster) {
    if !c.posture.is_empty() {
        h.push_str("<h4>Hardening posture</h4><table class=\"posture\"><thead><tr><th>Status</th><th>Item</th><th>Evidence</th><th>Fix</th></tr></thead><tbody>");
        for p in &c.posture {
            let status = p.status.as_str();
            let _ = write!(
                h,
                "<tr data-status=\"{status}\"><td class=\"st st-{status}\">{status}</td><td>{}</td><td>{}{}</td><td><code>{}</code></td></tr>",
                escape(&p.title),
                escape(&p.evidence),
                if p.findings.is_empty() {
                    String::new()
                } else {
                    format!(
                        " <span class=\"refs\">{}</span>",
                        p.findings
                            .iter()
                            .map(|id| format!(
                                "<a class=\"ident\" href=\"#{}\">{}</a>",
                                anchor(id),
                                ident(id)
                            ))
                            .collect::<String>()
                    )
                },
                escape(&p.fix)
            );
        }
        h.push_str("</tbody></table>");
        let failing = c
            .posture
            .iter()
            .filter(|p| p.status == PostureStatus::Fail)
            .count();
        let _ = write!(
            h,
            "<p class=\"meta\">{failing} of {} posture items fail.</p>",
            c.posture.len()
        );
    }
}

fn findings_table(h: &mut String, report: &ScanReport, findings: &[&Finding], catalog: &Catalog) {
    findings_controls(h, report, findings);
    for f in findings {
        finding_row(h, f, catalog);
    }
    h.push_str("</tbody></table>");
    fixed_list(h, report);
    h.push_str("</section>\n");
}

/// The section's heading, search, filters and the table head.
fn findings_controls(h: &mut String, report: &ScanReport, findings: &[&Finding]) {
    let _ = write!(
        h,
        "<section id=\"findings\"><h2>Findings (<span id=\"f-count\">{}</span> of {} shown)</h2>\
<div class=\"controls\"><input id=\"f-search\" type=\"search\" placeholder=\"search\" aria-label=\"search findings\">\
<select id=\"f-severity\" aria-label=\"severity\"><option value=\"\">all severities</option>",
        findings.len(),
        findings.len()
    );
    for s in SEVERITIES {
        let _ = write!(h, "<option value=\"{s}\">{s}</option>");
    }
    h.push_str("</select><select id=\"f-cluster\" aria-label=\"cluster\"><option value=\"\">all clusters</option>");
    for c in report.clusters.iter().map_while(Result::ok) {
        let _ = write!(
            h,
            "<option value=\"{}\">{}</option>",
            escape(&c.id),
            escape(&c.name)
        );
    }
    h.push_str("</select>");
    if baselined(report) {
        h.push_str(
            "<select id=\"f-baseline\" aria-label=\"against the baseline\">\
<option value=\"\">new and unchanged</option><option value=\"new\">new only</option>\
<option value=\"unchanged\">unchanged only</option></select>",
        );
    }
    h.push_str("</div>");
    h.push_str(
        "<table id=\"findings-table\"><thead><tr>\
<th data-sortable>Severity</th><th data-sortable>Rule</th><th data-sortable>Endpoint</th>\
<th data-sortable>Cluster</th><th>Finding</th></tr></thead><tbody>",
    );
}

/// One finding: a row whose last cell opens to the details and the fix.
fn finding_row(h: &mut String, f: &Finding, catalog: &Catalog) {
    let id = f.id();
    let cluster = f.cluster.as_deref().unwrap_or("");
    let rank = f.severity as u8;
    let (state, badge) = match f.baseline_state {
        Some(b) => (
            format!(" data-baseline=\"{b}\""),
            format!("<br><span class=\"bl bl-{b}\">{b}</span>"),
        ),
        None => (String::new(), String::new()),
    };
    let _ = write!(
                h,
                "<tr id=\"{}\" data-severity=\"{}\" data-cluster=\"{}\" data-rule=\"{}\"{state}>\
    <td data-v=\"{rank}\">{}{badge}</td><td class=\"mono ident\">{}</td><td class=\"mono ident\">{}</td><td class=\"mono ident\">{}</td><td>",
                anchor(&id),
                f.severity,
                escape(cluster),
                escape(&f.rule_id),
                sev_badge(Some(f.severity)),
                ident(&f.rule_id),
                ident(&f.endpoint.place()),
                ident(cluster),
            );
    let body = f.body_or_note();
    let _ = write!(
        h,
        "<details><summary>{}</summary><p>{}</p>",
        escape(&f.title),
        escape(&body.detail)
    );
    if let Some(v) = &f.version {
        let _ = write!(h, "<p>Version: <code>{}</code></p>", escape(v));
    }
    if let Some(a) = &f.advisory {
        let _ = write!(
            h,
            "<p>Advisory: {}{}</p>",
            escape(&a.ids.join(" / ")),
            if a.upgrade_to.is_empty() {
                String::new()
            } else {
                format!("; upgrade to {}", escape(&a.upgrade_to.join(" or ")))
            }
        );
    }
    let _ = write!(
        h,
        "<p>URL: <code class=\"ident\">{}</code></p>",
        ident(&body.url)
    );
    if !body.evidence.is_empty() {
        h.push_str("<p>Evidence:</p><ul class=\"evidence\">");
        for e in &body.evidence {
            let status = e.status.map(|s| format!(" → {s}")).unwrap_or_default();
            let _ = write!(
                h,
                "<li><code>{}{}</code>: <code>{}</code></li>",
                escape(&e.request),
                status,
                escape(&e.excerpt)
            );
        }
        h.push_str("</ul>");
    }
    if let Some(fix) = remediation(f, catalog) {
        let _ = write!(h, "<div class=\"fix\"><b>Fix:</b> {}</div>", escape(fix));
    }
    h.push_str("</details></td></tr>\n");
}

fn fixed_list(h: &mut String, report: &ScanReport) {
    let fixed: Vec<&Finding> = report.findings.iter().filter(|f| f.is_fixed()).collect();
    if !fixed.is_empty() {
        let _ = write!(
            h,
            "<h3 id=\"fixed\">Fixed since the baseline ({})</h3><ul class=\"fixed\">",
            fixed.len()
        );
        for f in fixed {
            let _ = write!(
                h,
                "<li><code class=\"ident\">{}</code> {} at <code class=\"ident\">{}</code></li>",
                ident(&f.rule_id),
                escape(&f.title),
                ident(&f.endpoint.place())
            );
        }
        h.push_str("</ul>");
    }
}

fn services(h: &mut String, report: &ScanReport) {
    if report.services.is_empty() {
        return;
    }
    let listing = report.services.for_people(super::services::PEOPLE_OTHERS);
    h.push_str("<section id=\"services\"><h2>Open ports</h2><table class=\"services\"><thead><tr><th>Endpoint</th><th>Service</th><th>TLS</th><th>Version</th><th>Product</th><th>Cluster</th></tr></thead><tbody>");
    // The first cluster naming an endpoint, read once (not per port).
    let mut cluster_of: HashMap<String, String> = HashMap::new();
    for c in report.clusters.iter().map_while(Result::ok) {
        for m in &c.members {
            cluster_of
                .entry(m.endpoint.clone())
                .or_insert_with(|| c.id.clone());
        }
    }
    for s in &listing.shown {
        // The place: two prefixes on one port are two services.
        let authority = s.endpoint.place();
        let cluster = cluster_of
            .get(&authority)
            .map(String::as_str)
            .unwrap_or(if s.flink { "-" } else { "not Flink" });
        let _ = write!(
            h,
            "<tr><td class=\"mono ident\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"mono ident\">{}</td></tr>",
            ident(&authority),
            s.kind,
            if s.tls.is_some() { "yes" } else { "no" },
            escape(s.version.as_deref().unwrap_or("-")),
            escape(s.product.as_deref().unwrap_or("-")),
            ident(cluster)
        );
    }
    h.push_str("</tbody></table>");
    if listing.more > 0 {
        let _ = write!(
            h,
            "<p>{} more open ports that are not Flink's are left out; the JSON report lists every one.</p>",
            listing.more
        );
    }
    if let Some(e) = &listing.error {
        let _ = write!(
            h,
            "<p>The rest could not be read back: {}</p>",
            escape(&e.to_string())
        );
    }
    h.push_str("</section>\n");
}

fn notices(h: &mut String, report: &ScanReport) {
    if report.notices.is_empty() {
        return;
    }
    h.push_str("<section id=\"notices\"><h2>Notices</h2><ul>");
    for n in &report.notices {
        let _ = write!(
            h,
            "<li><code>{}</code>: {}</li>",
            escape(&n.target),
            escape(&n.message)
        );
    }
    h.push_str("</ul></section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_makes_markup_text() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(escape("a\u{202e}b"), "a\\u{202e}b");
    }

    #[test]
    fn fixed_findings_are_listed_apart_not_in_the_table() {
        let finding = |state: &str| {
            serde_json::json!({"rule_id": "FLINK-RPC-PLAINTEXT", "severity": "critical",
                "title": "t", "ip": "127.0.0.1", "port": 6123, "service": "rpc",
                "url": "tcp://127.0.0.1:6123", "detail": "d", "evidence": [],
                "baseline_state": state})
        };
        let mut second = finding("new");
        second["port"] = serde_json::json!(6124);
        let report: ScanReport = serde_json::from_value(serde_json::json!({
            "tool": {"name": "flinkscan", "version": "0"},
            "scan": {"id": "i", "started": "s", "finished": "f", "duration_ms": 1, "status": "complete",
                     "targets": ["127.0.0.1"], "ports": [6123], "shard": "0/1", "seed": 1, "intrusive": false,
                     "addresses": "1", "probes_total": 1, "probes_shard": 1},
            "stats": {"probed": 1, "open": 0, "closed": 1, "filtered": 0, "unreachable": 0, "services_flink": 0, "findings": 2},
            "services": [], "findings": [finding("fixed"), second], "notices": []
        }))
        .unwrap();
        let html = render(&report, &Catalog::load(None, None).unwrap());
        assert!(html.contains("Fixed since the baseline (1)"), "{html}");
        assert_eq!(html.matches("<tr id=\"f-").count(), 1);
    }

    #[test]
    fn identifiers_break_only_after_separators() {
        assert_eq!(
            ident("jobmanager:127.60.0.10:8081"),
            "jobmanager:<wbr>127.60.0.10:<wbr>8081"
        );
        assert_eq!(
            ident("FLINK-RPC-PLAINTEXT@[::1]:6123"),
            "FLINK-<wbr>RPC-<wbr>PLAINTEXT@<wbr>[:<wbr>:<wbr>1]:<wbr>6123"
        );
        assert_eq!(ident("ha:jm.prod_1"), "ha:<wbr>jm.<wbr>prod_<wbr>1");
        assert_eq!(ident("a:"), "a:");
        assert_eq!(ident("<b>:x"), "&lt;b&gt;:<wbr>x");
    }

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_script() {
        let report: ScanReport = serde_json::from_value(serde_json::json!({
            "tool": {"name": "flinkscan", "version": "0"},
            "scan": {"id": "i", "started": "s", "finished": "f", "duration_ms": 1, "status": "complete",
                     "targets": ["127.0.0.1"], "ports": [8081], "shard": "0/1", "seed": 1, "intrusive": false,
                     "addresses": "1", "probes_total": 1, "probes_shard": 1},
            "stats": {"probed": 1, "open": 0, "closed": 1, "filtered": 0, "unreachable": 0, "services_flink": 0, "findings": 0},
            "services": [], "findings": [], "notices": [{"target": "<img src=x>", "message": "</script><script>alert(1)</script>"}]
        }))
        .unwrap();
        let catalog = Catalog::load(None, None).unwrap();
        let html = render(&report, &catalog);
        assert_eq!(html.matches("<script>").count(), 1, "one script only");
        assert!(html.contains(&script_hash()));
        assert!(!html.contains("<img src=x>"));
        assert!(html.contains("&lt;/script&gt;&lt;script&gt;alert(1)"));
        // Nothing that could make the browser fetch.
        for needle in [
            "http-equiv=\"refresh\"",
            "<link",
            "<img",
            "src=\"",
            "url(",
            "@import",
        ] {
            assert!(!html.contains(needle), "{needle}");
        }
    }
}
