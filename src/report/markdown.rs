//! The HTML report's content as Markdown, for tickets and pull-request
//! comments: summary, clusters (attack paths, members, posture) and the
//! findings with evidence and the fix. Target-derived strings go through
//! [`escape`]: renderers such as GitHub's accept raw HTML and links, so a
//! peer's value must not become either.

use std::fmt::Write;

use super::html::{present, remediation};
use super::ScanReport;
use crate::checks::catalog::Catalog;
use crate::clusters::{Cluster, PortStatus};
use crate::model::{BaselineState, Finding, Severity};
use crate::untrusted;

/// One line of inert Markdown text: markup characters backslash-escaped,
/// `<`/`>`/`&` as entities (raw HTML is rendered by many hosts), newlines
/// and hidden characters made visible, and nothing a renderer would turn
/// into a link (see [`unlinked`]).
pub fn escape(text: &str) -> String {
    let shown = untrusted::shown(text);
    let mut out = String::with_capacity(shown.len() + 8);
    let mut chars = shown.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // Every line starts with text of ours (a heading, list item or
            // table cell) and newlines arrive escaped, so only inline markup
            // (emphasis, code, links, images, strikethrough, table cells)
            // needs escaping.
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => unlinked(c, next, &mut out),
        }
    }
    out
}

/// Autolink extensions (GFM's, markdown-it's linkify) find links in plain
/// text: `scheme:`, `www.`, `//host`, `name.tld` and `user@host`. They read
/// text runs, not the source: a character written as an entity or in a
/// code span splits the run, so the peer's URL stays text that reads the
/// same. Digits after a dot are left alone: versions and addresses are not
/// linked.
fn unlinked(c: char, next: Option<char>, out: &mut String) {
    match (c, next) {
        (':', _) => out.push_str("&#58;"),
        ('.', Some(n)) if n.is_alphabetic() => out.push_str("&#46;"),
        ('/', Some('/')) => out.push_str("&#47;"),
        // GFM joins entities back before it looks for e-mail addresses.
        ('@', _) => out.push_str("`@`"),
        _ => out.push(c),
    }
}

fn sev(s: Option<Severity>) -> String {
    s.map_or("NONE".into(), |s| s.as_str().to_uppercase())
}

pub fn render(report: &ScanReport, catalog: &Catalog) -> String {
    let findings = present(report);
    let mut m = String::new();
    let baselined = header(&mut m, report, &findings);
    for c in report.clusters.iter() {
        match c {
            Ok(c) => cluster(&mut m, &c),
            Err(e) => {
                let _ = writeln!(
                    m,
                    "\n(The rest of the clusters could not be read back: {e}.)"
                );
                break;
            }
        }
    }
    finding_groups(&mut m, &findings, baselined, catalog);
    fixed_findings(&mut m, report);
    open_ports(&mut m, report);
    notices(&mut m, report);
    m
}

/// Title, scan line, counts and, against a baseline, what is new; returns
/// whether the findings are baselined.
fn header(m: &mut String, report: &ScanReport, findings: &[&Finding]) -> bool {
    let _ = writeln!(m, "# flinkscan report\n");
    let _ = writeln!(
        m,
        "Scan {} · {} · status {} · targets {}\n",
        escape(&report.scan.id),
        escape(&report.scan.started),
        report.scan.status,
        escape(&report.scan.targets.join(" "))
    );
    let counts: Vec<String> = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ]
    .iter()
    .map(|&s| {
        format!(
            "{} {s}",
            findings.iter().filter(|f| f.severity == s).count()
        )
    })
    .collect();
    let _ = writeln!(
        m,
        "**{}, {}, {}** ({})\n",
        super::text::counted(report.clusters.len() as u64, "cluster", "clusters"),
        super::text::counted(
            report.stats.services_flink,
            "Flink service",
            "Flink services"
        ),
        super::text::counted(findings.len() as u64, "finding", "findings"),
        counts.join(", ")
    );
    let baselined = report.findings.iter().any(|f| f.baseline_state.is_some());
    if baselined {
        let n = |state: BaselineState| {
            report
                .findings
                .iter()
                .filter(|f| f.baseline_state == Some(state))
                .count()
        };
        let _ = writeln!(
            m,
            "**Against the baseline: {} new, {} unchanged, {} fixed** (findings are grouped below as new, unchanged and fixed)\n",
            n(BaselineState::New),
            n(BaselineState::Unchanged),
            n(BaselineState::Fixed)
        );
    }

    baselined
}

/// One cluster: facts, attack paths, members, hardening posture.
fn cluster(m: &mut String, c: &Cluster) {
    let _ = writeln!(m, "## {} — {}\n", sev(c.rating), escape(&c.name));
    let mut facts = vec![format!("id `{}`", c.id.replace('`', "'"))];
    if let Some(v) = &c.version {
        facts.push(format!("Flink {}", escape(v)));
    }
    if let Some(cid) = &c.cluster_id {
        facts.push(format!("{} = {}", escape(&cid.key), escape(&cid.value)));
    }
    facts.push(format!("hosts {}", escape(&c.hosts.join(", "))));
    let _ = writeln!(m, "{}\n", facts.join(" · "));
    if let Some(jobs) = &c.jobs {
        let _ = writeln!(m, "**Runs:** {}\n", escape(&jobs.summary));
        for line in &jobs.jobs {
            let _ = writeln!(m, "- {}", escape(line));
        }
        if !jobs.jobs.is_empty() {
            m.push('\n');
        }
    }
    if c.paths.is_empty() {
        let _ = writeln!(m, "No attack path found from the scanner's position.\n");
    } else {
        let _ = writeln!(m, "### Attack paths\n");
        for p in &c.paths {
            let _ = writeln!(
                m,
                "{}. **{}** {} — {}",
                p.rank,
                sev(Some(p.severity)),
                escape(&p.title),
                escape(&p.impact)
            );
            for s in &p.steps {
                let _ = writeln!(
                    m,
                    "    - {} ({})",
                    escape(&s.action),
                    s.findings
                        .iter()
                        .map(|f| escape(f))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        m.push('\n');
    }
    let _ = writeln!(
        m,
        "### Members\n\n| Endpoint | Role | TLS | Evidence |\n|---|---|---|---|"
    );
    for mb in &c.members {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} |",
            escape(&mb.endpoint),
            escape(mb.role.as_str()),
            if mb.tls { "yes" } else { "no" },
            escape(&mb.evidence)
        );
    }
    for k in &c.not_scanned {
        let _ = writeln!(
            m,
            "| {}:{} | {} | ? | known from the {}, {}: {} |",
            escape(&k.host),
            k.port,
            escape(k.role.as_str()),
            crate::clusters::platforms::known_from(c),
            if k.status == PortStatus::NotFound {
                "not found by the sweep"
            } else {
                "not scanned"
            },
            escape(&k.source)
        );
    }
    m.push('\n');
    if !c.posture.is_empty() {
        let _ = writeln!(
            m,
            "### Hardening posture\n\n| Status | Item | Evidence | Fix |\n|---|---|---|---|"
        );
        for p in &c.posture {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} |",
                p.status.as_str().to_uppercase(),
                escape(&p.title),
                escape(&p.evidence),
                escape(&p.fix)
            );
        }
        m.push('\n');
    }
}

fn finding_groups(m: &mut String, findings: &[&Finding], baselined: bool, catalog: &Catalog) {
    // With a baseline the findings come in two groups, new first: the
    // Markdown stand-in for the HTML report's filter.
    let groups: Vec<(String, Vec<&Finding>)> = if baselined {
        [
            (BaselineState::New, "New findings"),
            (BaselineState::Unchanged, "Unchanged findings"),
        ]
        .into_iter()
        .map(|(state, title)| {
            let list: Vec<&Finding> = findings
                .iter()
                .copied()
                .filter(|f| f.baseline_state == Some(state))
                .collect();
            (format!("{title} ({})", list.len()), list)
        })
        .collect()
    } else {
        vec![("Findings".to_string(), findings.to_vec())]
    };
    for (heading, list) in groups {
        let _ = writeln!(m, "## {heading}\n");
        if list.is_empty() {
            let _ = writeln!(m, "None.\n");
        }
        for f in list {
            finding(m, f, catalog);
        }
    }
}

fn fixed_findings(m: &mut String, report: &ScanReport) {
    let fixed: Vec<_> = report.findings.iter().filter(|f| f.is_fixed()).collect();
    if !fixed.is_empty() {
        let _ = writeln!(m, "## Fixed since the baseline ({})\n", fixed.len());
        for f in fixed {
            let _ = writeln!(
                m,
                "- `FIXED` {} {} at {}",
                escape(&f.rule_id),
                escape(&f.title),
                escape(&f.endpoint.place())
            );
        }
        m.push('\n');
    }
}

fn open_ports(m: &mut String, report: &ScanReport) {
    if !report.services.is_empty() {
        let _ = writeln!(
            m,
            "## Open ports\n\n| Endpoint | Service | TLS | Version | Product |\n|---|---|---|---|---|"
        );
        let listing = report.services.for_people(super::services::PEOPLE_OTHERS);
        for s in &listing.shown {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} |",
                escape(&s.endpoint.place()),
                s.kind,
                if s.tls.is_some() { "yes" } else { "no" },
                escape(s.version.as_deref().unwrap_or("-")),
                escape(s.product.as_deref().unwrap_or("-"))
            );
        }
        m.push('\n');
        if listing.more > 0 {
            let _ = writeln!(
                m,
                "{} more open ports that are not Flink's are left out; the JSON report lists every one.\n",
                listing.more
            );
        }
        if let Some(e) = &listing.error {
            let _ = writeln!(
                m,
                "The rest could not be read back: {}\n",
                escape(&e.to_string())
            );
        }
    }
}

fn notices(m: &mut String, report: &ScanReport) {
    if !report.notices.is_empty() {
        let _ = writeln!(m, "## Notices\n");
        for n in &report.notices {
            let _ = writeln!(m, "- {}: {}", escape(&n.target), escape(&n.message));
        }
    }
}

/// One finding: heading with its severity and, against a baseline, a
/// `NEW` / `UNCHANGED` badge; then rule, detail, evidence and the fix.
fn finding(m: &mut String, f: &Finding, catalog: &Catalog) {
    let badge = f
        .baseline_state
        .map(|b| format!(" `{}`", b.as_str().to_uppercase()))
        .unwrap_or_default();
    let _ = writeln!(
        m,
        "### {}{badge} {} at {}\n",
        f.severity.as_str().to_uppercase(),
        escape(&f.title),
        escape(&f.endpoint.place())
    );
    let _ = writeln!(
        m,
        "- Rule: {} · cluster: {}",
        escape(&f.rule_id),
        escape(f.cluster.as_deref().unwrap_or("-"))
    );
    let body = f.body_or_note();
    let _ = writeln!(m, "- Detail: {}", escape(&body.detail));
    for e in &body.evidence {
        let status = e.status.map(|s| format!(" → {s}")).unwrap_or_default();
        let _ = writeln!(
            m,
            "- Evidence: {}{}: {}",
            escape(&e.request),
            status,
            escape(&e.excerpt)
        );
    }
    if let Some(fix) = remediation(f, catalog) {
        let _ = writeln!(m, "- **Fix:** {}", escape(fix));
    }
    m.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_from_a_peer_stays_text() {
        let e = escape("<script>x</script> [a](http://evil) | `b`\n# h");
        assert!(!e.contains('<') && e.contains("\\[a\\](http"), "{e}");
        assert!(e.contains("\\|") && e.contains("\\`"), "{e}");
        assert_eq!(
            escape("http://evil.example/a@b.io 1.20.1"),
            "http&#58;&#47;/evil&#46;example/a`@`b&#46;io 1.20.1"
        );
        assert!(!e.contains('\n'), "{e}");
    }
}
