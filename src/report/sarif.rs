//! SARIF 2.1.0 for code-scanning consumers.
//!
//! Conventions (DESIGN.md): one rule per check with `security-severity` as a
//! string and `security` + `external/cwe/cwe-N` tags; a result's location is
//! the absolute endpoint URL (no region) plus a logical location `host:port`;
//! `partialFingerprints` hash rule, host and port only; the first line of a
//! message is the same for every host of a rule; a clean scan still has
//! `"results": []`; unreachable targets and errors are tool execution
//! notifications. `Compat::Github` rewrites locations into the
//! repository-relative form GitHub code scanning insists on.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::ScanReport;
use crate::checks::catalog::{Catalog, Rule};
use crate::model::{Finding, FindingBody, Severity};
use crate::untrusted;

pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Location style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Compat {
    /// Absolute endpoint URLs, no regions (for SARIF viewers, sarif-tools, SIEMs).
    #[default]
    Standard,
    /// Scheme-less relative URIs with `region.startLine: 1` (GitHub code scanning).
    Github,
}

/// `sha256(rule|host|port)`: stable across scans, nothing time-dependent.
pub fn fingerprint(f: &Finding) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "{}|{}|{}",
        f.rule_id,
        f.endpoint.host_key(),
        f.endpoint.port
    ));
    // Two services on one port under different path prefixes differ;
    // every finding without a prefix keeps the fingerprint it always had.
    if let Some(base) = &f.endpoint.base_path {
        h.update(format!("|{base}"));
    }
    hex::encode(h.finalize())
}

pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

fn rule_json(rule: &Rule) -> Value {
    let name: String = rule
        .id
        .split('-')
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut c = lower.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    let (help_text, help_markdown) = rule_help(rule);
    let mut r = json!({
        "id": rule.id,
        "name": name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.description},
        "help": {
            "text": help_text,
            "markdown": help_markdown,
        },
        "defaultConfiguration": {"level": level(rule.severity)},
        "properties": {
            "security-severity": format!("{:.1}", rule.security_severity),
            "tags": ["security", format!("external/cwe/cwe-{}", rule.cwe)],
            "precision": "high",
            "problem.severity": match rule.severity {
                Severity::Critical | Severity::High => "error",
                Severity::Medium => "warning",
                _ => "recommendation",
            },
        },
    });
    if let Some(src) = rule.sources.first() {
        r["helpUri"] = json!(src);
    }
    if let Some(a) = &rule.advisory {
        let props = &mut r["properties"];
        props["advisory-ids"] = json!(a.ids);
        props["cvss-vector"] = json!(a.cvss_vector);
        props["fixed-versions"] = json!(a.fixed);
        props["affected-packages"] = json!(a.packages);
        props["advisory-record"] = json!(a.origin);
        props["references"] = json!(rule.sources);
        if let Some(tags) = props["tags"].as_array_mut() {
            tags.extend(
                a.ids
                    .iter()
                    .filter(|i| i.starts_with("CVE-"))
                    .map(|i| json!(i)),
            );
        }
    }
    r
}

/// Help for a rule: description and remediation, and for an advisory its
/// ids, CVSS vector, fixed releases and references.
fn rule_help(rule: &Rule) -> (String, String) {
    let mut text = format!("{}\n\nRemediation: {}", rule.description, rule.remediation);
    let mut md = format!(
        "{}\n\n**Remediation:** {}",
        rule.description, rule.remediation
    );
    if let Some(a) = &rule.advisory {
        let vector = a.cvss_vector.as_deref().unwrap_or("none in the record");
        text.push_str(&format!(
            "\n\nAdvisory: {}\nCVSS: {:.1} ({vector})\nFixed in: {}\nReferences:\n{}",
            a.ids.join(", "),
            rule.security_severity,
            a.fixed.join(", "),
            rule.sources.join("\n")
        ));
        md.push_str(&format!(
            "\n\n**Advisory:** {}  \n**CVSS:** {:.1} (`{vector}`)  \n**Fixed in:** {}\n\n{}",
            a.ids.join(", "),
            rule.security_severity,
            a.fixed.join(", "),
            rule.sources
                .iter()
                .map(|s| format!("- <{s}>"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    (text, md)
}

fn github_uri(f: &Finding, url: &str) -> String {
    // Relative, scheme-less, stable: host_port/path.
    let host = f.endpoint.host_key().to_string().replace(':', "_");
    let path = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(_, p)| p)
        .unwrap_or("");
    let path = path.replace('%', "%25").replace(['?', '#'], "_");
    if path.is_empty() {
        format!("flink/{host}_{}", f.endpoint.port)
    } else {
        format!("flink/{host}_{}/{path}", f.endpoint.port)
    }
}

/// Render the report as a SARIF log.
pub fn render(report: &ScanReport, catalog: &Catalog, compat: Compat) -> Value {
    serde_json::to_value(log(report, catalog, compat)).unwrap_or(Value::Null)
}

/// The SARIF log of a report, serialized one result at a time: a scan of
/// many thousand Flink services never holds all its results as JSON values
/// at once (that was 12 KiB a finding, the peak of a large scan's memory).
/// The same document as [`render`].
pub fn log<'a>(report: &'a ScanReport, catalog: &'a Catalog, compat: Compat) -> Log<'a> {
    // Every rule of the catalog is listed, so consumers see what was checked
    // even on a clean scan; results point at them by index.
    let rules: Vec<&Rule> = catalog.rules.values().collect();
    let index: BTreeMap<&str, usize> = rules.iter().enumerate().map(|(i, r)| (&*r.id, i)).collect();
    let cluster_names: HashMap<&str, &str> = report.clusters.names();
    let notifications: Vec<Value> = report
        .notices
        .iter()
        .map(|n| json!({"level": "warning", "message": {"text": format!("{}: {}", n.target, untrusted::clean(&n.message, 500))}}))
        .collect();
    let skeleton = json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "flinkscan",
                "version": report.tool.version,
                "semanticVersion": report.tool.version,
                "informationUri": "https://flink.apache.org/what-is-flink/security/",
                "rules": rules.iter().map(|r| rule_json(r)).collect::<Vec<_>>(),
            }},
            "automationDetails": {"id": format!("flinkscan/{}/", report.scan.shard.to_string().replace('/', "-of-"))},
            "invocations": [{
                "executionSuccessful": report.scan.status == super::ScanStatus::Complete,
                "startTimeUtc": report.scan.started,
                "endTimeUtc": report.scan.finished,
                "toolExecutionNotifications": notifications,
                "properties": {"scanId": report.scan.id, "targets": report.scan.targets, "ports": report.scan.ports},
            }],
            "results": [],
        }],
    });
    Log {
        skeleton,
        results: Results {
            report,
            index,
            cluster_names,
            compat,
        },
    }
}

/// A SARIF log whose `runs[0].results` are made as they are written.
pub struct Log<'a> {
    /// Everything but the results.
    skeleton: Value,
    results: Results<'a>,
}

struct Results<'a> {
    report: &'a ScanReport,
    index: BTreeMap<&'a str, usize>,
    /// Cluster id to name: one lookup per result, not a scan of the
    /// clusters (which made a large report quadratic).
    cluster_names: HashMap<&'a str, &'a str>,
    compat: Compat,
}

impl Serialize for Log<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeMap, SerializeSeq};
        let top = self
            .skeleton
            .as_object()
            .ok_or_else(|| S::Error::custom("SARIF skeleton is not an object"))?;
        let mut map = s.serialize_map(Some(top.len()))?;
        for (k, v) in top {
            if k != "runs" {
                map.serialize_entry(k, v)?;
                continue;
            }
            struct Runs<'b, 'a>(&'b Value, &'b Results<'a>);
            impl Serialize for Runs<'_, '_> {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    let run = self
                        .0
                        .get(0)
                        .and_then(Value::as_object)
                        .ok_or_else(|| S::Error::custom("SARIF skeleton has no run"))?;
                    let mut seq = s.serialize_seq(Some(1))?;
                    seq.serialize_element(&Run(run, self.1))?;
                    seq.end()
                }
            }
            struct Run<'b, 'a>(&'b serde_json::Map<String, Value>, &'b Results<'a>);
            impl Serialize for Run<'_, '_> {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    let mut map = s.serialize_map(Some(self.0.len()))?;
                    for (k, v) in self.0 {
                        if k == "results" {
                            map.serialize_entry(k, self.1)?;
                        } else {
                            map.serialize_entry(k, v)?;
                        }
                    }
                    map.end()
                }
            }
            map.serialize_entry(k, &Runs(v, &self.results))?;
        }
        map.end()
    }
}

impl Serialize for Results<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeSeq};
        let mut seq = s.serialize_seq(Some(self.report.findings.len()))?;
        for f in &self.report.findings {
            // A finding that cannot be read back fails the document.
            let body = f
                .body()
                .map_err(|e| S::Error::custom(format!("reading back a finding: {e}")))?;
            seq.serialize_element(&self.result(f, &body))?;
        }
        seq.end()
    }
}

impl Results<'_> {
    fn result(&self, f: &Finding, body: &FindingBody) -> Value {
        let uri = match self.compat {
            Compat::Standard => body.url.clone(),
            Compat::Github => github_uri(f, &body.url),
        };
        let mut physical = json!({"artifactLocation": {"uri": uri}});
        if self.compat == Compat::Github {
            physical["region"] = json!({"startLine": 1});
        }
        let mut result = json!({
            "ruleId": f.rule_id,
            "level": level(f.severity),
            "message": {"text": format!("{}\n{}: {}", f.title, f.endpoint.place(), untrusted::clean(&body.detail, 2000))},
            "locations": [{
                "physicalLocation": physical,
                "logicalLocations": [{"name": f.endpoint.place(), "fullyQualifiedName": body.url, "kind": "resource"}],
            }],
            "partialFingerprints": {"flinkscan/v1": fingerprint(f)},
            "properties": {
                "severity": f.severity.as_str(),
                "service": f.service.as_str(),
                "version": f.version,
                "evidence": body.evidence.iter().map(|e| json!({"request": e.request, "status": e.status, "excerpt": e.excerpt})).collect::<Vec<_>>(),
            },
        });
        if let Some(i) = self.index.get(&*f.rule_id) {
            result["ruleIndex"] = json!(i);
        }
        if let Some(a) = &f.advisory {
            result["properties"]["advisory"] = json!(a);
        }
        // Platforms group results by it: one deployment, one fix.
        if let Some(c) = &f.cluster {
            result["properties"]["cluster"] = json!(c);
            if let Some(name) = self.cluster_names.get(&**c) {
                result["properties"]["clusterName"] = json!(name);
            }
        }
        if let Some(state) = f.baseline_state {
            result["baselineState"] = json!(state.sarif());
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Endpoint, ServiceKind};
    use std::collections::BTreeSet;

    fn finding(rule: &str, ip: [u8; 4], port: u16) -> Finding {
        Finding {
            body: crate::model::Body::held(
                format!("tcp://{}.{}.{}.{}:{port}", ip[0], ip[1], ip[2], ip[3]),
                "detail".into(),
                Vec::new(),
            ),
            ..Finding::new(
                rule,
                Severity::Critical,
                "title",
                Endpoint::new(ip.into(), port),
                ServiceKind::Rpc,
                String::new(),
            )
        }
    }

    /// Pinned: a change of the fingerprint recipe re-opens every finding in
    /// every code-scanning dashboard, so it must be a deliberate one.
    /// The value is `printf 'FLINK-RPC-PLAINTEXT|127.0.0.1|6123' | sha256sum`.
    #[test]
    fn fingerprint_is_pinned_to_a_known_value() {
        let f = finding("FLINK-RPC-PLAINTEXT", [127, 0, 0, 1], 6123);
        assert_eq!(
            fingerprint(&f),
            "e3f06f7fb673444cf5af09e62b346f9758aadf4ce81472c8f927ccc3c0bdd3d2"
        );
        let mut v6 = finding("FLINK-REST-PLAINTEXT", [0; 4], 8081);
        std::sync::Arc::make_mut(&mut v6.endpoint).ip = "::1".parse().unwrap();
        // printf 'FLINK-REST-PLAINTEXT|::1|8081' | sha256sum
        assert_eq!(
            fingerprint(&v6),
            "292e49a2702e0fb6bb63161b1d03c4270810be27c7a8078a65d3c45c81ff6f7e"
        );
    }

    /// Only rule and endpoint count: the name a target was given by, the
    /// wording, severity, evidence, version and baseline state do not.
    #[test]
    fn fingerprint_ignores_everything_but_rule_and_endpoint() {
        let base = finding("FLINK-RPC-PLAINTEXT", [127, 0, 0, 1], 6123);
        let mut other = base.clone();
        std::sync::Arc::make_mut(&mut other.endpoint).hostname = Some("localhost".into());
        other.title = "another title".into();
        other.severity = Severity::Low;
        other.body = crate::model::Body::held(
            "tcp://localhost:6123".into(),
            "another detail".into(),
            vec![crate::model::Evidence {
                request: "x".into(),
                status: None,
                excerpt: "y".into(),
            }],
        );
        other.version = Some("1.20.1".into());
        other.baseline_state = Some(crate::model::BaselineState::New);
        assert_eq!(fingerprint(&base), fingerprint(&other));
    }

    /// The streamed log is byte for byte the document `render` builds,
    /// clusters named through the id lookup.
    #[test]
    fn the_streamed_log_is_the_rendered_document() {
        let catalog = Catalog::load(None, None).unwrap();
        let mut a = finding("FLINK-RPC-PLAINTEXT", [127, 0, 0, 1], 6123);
        a.cluster = Some("host:127.0.0.1".into());
        let b = finding("FLINK-BLOB-PLAINTEXT", [127, 0, 0, 2], 6124);
        let text = format!(
            r#"{{"tool":{{"name":"flinkscan","version":"0"}},
            "scan":{{"id":"s","started":"","finished":"","duration_ms":0,"status":"complete",
            "targets":[],"ports":[],"shard":"0/1","seed":0,"intrusive":false,"addresses":"0",
            "probes_total":0,"probes_shard":0}},
            "stats":{{"probed":0,"open":0,"closed":0,"filtered":0,"unreachable":0,"services_flink":0,"findings":0}},
            "services":[],"findings":[{},{}],"notices":[],
            "clusters":[{{"id":"host:127.0.0.1","name":"Flink services on host 127.0.0.1","anchor":"host",
            "hosts":["127.0.0.1"],"members":[]}}]}}"#,
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        let report: ScanReport = serde_json::from_str(&text).unwrap();
        for compat in [Compat::Standard, Compat::Github] {
            let streamed = serde_json::to_string_pretty(&log(&report, &catalog, compat)).unwrap();
            let built = serde_json::to_string_pretty(&render(&report, &catalog, compat)).unwrap();
            assert_eq!(streamed, built);
            let doc: Value = serde_json::from_str(&streamed).unwrap();
            let results = doc["runs"][0]["results"].as_array().unwrap();
            assert_eq!(results.len(), 2);
            assert_eq!(
                results[0]["properties"]["clusterName"],
                "Flink services on host 127.0.0.1"
            );
        }
    }

    #[test]
    fn fingerprints_are_distinct_per_rule_and_endpoint() {
        let mut seen = BTreeSet::new();
        for rule in ["FLINK-RPC-PLAINTEXT", "FLINK-BLOB-PLAINTEXT"] {
            for ip in [[127, 0, 0, 1], [127, 0, 0, 2], [10, 0, 0, 1]] {
                for port in [6123, 6124, 61230] {
                    let fp = fingerprint(&finding(rule, ip, port));
                    assert_eq!(fp.len(), 64);
                    assert!(fp.chars().all(|c| c.is_ascii_hexdigit()));
                    assert!(seen.insert(fp), "{rule} {ip:?} {port} collides");
                }
            }
        }
    }
}
