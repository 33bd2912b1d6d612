//! What `flinkscan advisories` prints: every loaded advisory with its ids,
//! ranges, fixed versions, interfaces and sources, and the release lines.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::range::Event;
use super::Advisories;

fn event_json(e: &Event) -> Value {
    let v =
        e.at.as_ref()
            .map_or_else(|| "0".to_string(), |v| v.to_string());
    json!({ e.kind.as_str(): v })
}

fn range_text(events: &[Event]) -> String {
    events
        .iter()
        .map(|e| {
            let v =
                e.at.as_ref()
                    .map_or_else(|| "0".to_string(), |v| v.to_string());
            format!("{} {v}", e.kind.as_str())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Advisories {
    /// The `--json` listing.
    pub fn listing(&self) -> Value {
        let today = time::OffsetDateTime::now_utc().date();
        let advisories: Vec<Value> = self
            .advisories
            .iter()
            .map(|a| {
                json!({
                    "rule": a.rule_id,
                    "ids": a.ids(),
                    "summary": a.record.summary,
                    "severity": a.severity,
                    "score": a.score,
                    "cvss": a.cvss,
                    "cwe": a.cwe,
                    "origin": a.origin,
                    "written_by_flinkscan": a.written_by_flinkscan,
                    "modified": a.record.modified,
                    "affected": a.packages.iter().map(|p| json!({
                        "package": {"ecosystem": p.package.ecosystem, "name": p.package.name},
                        "interfaces": p.interfaces,
                        "ranges": p.affected.ranges.iter()
                            .map(|r| r.iter().map(event_json).collect::<Vec<_>>())
                            .collect::<Vec<_>>(),
                        "versions": p.affected.versions.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                    "fixed": a.fixed_versions().iter().map(|v| v.to_string()).collect::<Vec<_>>(),
                    "references": a.references(),
                })
            })
            .collect();
        let r = &self.releases;
        json!({
            "data_checked": r.file.checked.to_string(),
            "ignored_records": self.ignored,
            "advisories": advisories,
            "releases": {
                "supported_lines": r.file.supported_lines,
                "policy_sources": r.file.policy_sources,
                "supported_today": r.supported_at(today).iter().map(|l| &l.line).collect::<Vec<_>>(),
                "lines": r.lines().map(|l| json!({
                    "line": l.line,
                    "released": l.released.to_string(),
                    "lts": l.lts,
                    "supported_until": l.supported_until.map(|d| d.to_string()),
                    "latest": l.latest,
                    "sources": l.sources,
                })).collect::<Vec<_>>(),
            },
        })
    }

    /// The listing for people.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for a in &self.advisories {
            let _ = writeln!(
                out,
                "{}  {}  [{}]",
                a.rule_id,
                a.ids().join(" / "),
                a.severity
            );
            if let Some(s) = &a.record.summary {
                let _ = writeln!(out, "  {s}");
            }
            match &a.cvss {
                Some(c) => {
                    let _ = writeln!(out, "  CVSS {:.1} {}", c.score, c.vector);
                }
                None => {
                    let _ = writeln!(out, "  no CVSS vector; severity from the record's label");
                }
            }
            for p in &a.packages {
                let kinds: Vec<&str> = p.interfaces.iter().map(|k| k.as_str()).collect();
                let _ = writeln!(
                    out,
                    "  {}:{} -> {}",
                    p.package.ecosystem,
                    p.package.name,
                    kinds.join(", ")
                );
                for r in &p.affected.ranges {
                    let _ = writeln!(out, "    {}", range_text(r));
                }
            }
            let fixed: Vec<String> = a.fixed_versions().iter().map(|v| v.to_string()).collect();
            if !fixed.is_empty() {
                let _ = writeln!(out, "  fixed in {}", fixed.join(", "));
            }
            let origin = if a.written_by_flinkscan {
                format!("{} (written by flinkscan: no OSV record exists)", a.origin)
            } else {
                a.origin.clone()
            };
            let _ = writeln!(out, "  record {origin}");
            for r in a.references() {
                let _ = writeln!(out, "  {r}");
            }
            out.push('\n');
        }
        let today = time::OffsetDateTime::now_utc().date();
        let supported: Vec<&str> = self
            .releases
            .supported_at(today)
            .iter()
            .map(|l| l.line.as_str())
            .collect();
        let _ = writeln!(
            out,
            "{} advisories ({} records ignored: no Flink interface or withdrawn). Release data checked {}; supported lines today: {}.",
            self.advisories.len(),
            self.ignored,
            self.releases.file.checked,
            supported.join(", ")
        );
        out
    }
}
