//! JSON Lines for SIEMs, with Elastic Common Schema (ECS 8.17) field names.
//!
//! One compact UTF-8 object per line, LF-terminated, flushed as soon as it
//! is known. Event types, told apart by `event.dataset`:
//!
//! `flinkscan.service` (an identified open port, `event.kind: "asset"`):
//! ```json
//! {"@timestamp":"2026-11-23T06:00:00.000Z","ecs":{"version":"8.17.0"},
//!  "event":{"kind":"asset","category":["network"],"type":["info"],"dataset":"flinkscan.service","module":"flinkscan"},
//!  "observer":{"type":"scanner","vendor":"flinkscan","product":"flinkscan","version":"0.1.0"},
//!  "destination":{"ip":"127.0.0.1","port":8081},"network":{"transport":"tcp"},
//!  "url":{"full":"http://127.0.0.1:8081/"},
//!  "flink":{"scan":{"id":"..."},"service":{"kind":"jobmanager-rest","flink":true,"version":"1.20.1","confidence":100,...}}}
//! ```
//! `flinkscan.finding` (`event.kind: "state"`, `event.category: ["vulnerability"]`):
//! ```json
//! {"@timestamp":"...","ecs":{"version":"8.17.0"},
//!  "event":{"kind":"state","category":["vulnerability"],"type":["info"],"dataset":"flinkscan.finding","module":"flinkscan","id":"<fingerprint>"},
//!  "rule":{"id":"FLINK-REST-UNAUTHENTICATED","name":"..."},
//!  "vulnerability":{"id":"FLINK-REST-UNAUTHENTICATED","severity":"critical","score":{"base":9.8},"category":["CWE-306"],
//!                   "description":"...","reference":"...","report_id":"<scan id>","scanner":{"vendor":"flinkscan"}},
//!  "destination":{"ip":"127.0.0.1","port":8081},"url":{"full":"http://127.0.0.1:8081/config"},
//!  "flink":{"scan":{"id":"..."},"finding":{"detail":"...","remediation":"...","evidence":[...]}}}
//! ```
//! `flinkscan.job` (`event.kind: "asset"`, `event.category: ["configuration"]`): one per job a
//! JobManager or HistoryServer showed, `flink.job` as `deployment.jobs.jobs[]` of the JSON report
//! (name, state, sources, sinks, parameter keys; a secret's kind, length and fingerprint, never
//! its value). The service event keeps the counts (`read_in_depth`, `secrets_found`) and the first 20
//! jar and log file names.
//! `flinkscan.cluster` (one per deployment, at the end) carries `flink.cluster`, its `jobs` summary included.
//! Each line stays under 10,000 bytes: long texts are cut, evidence is capped.
//!
//! `--jsonl-format ocsf` swaps these events for OCSF ones (see `ocsf.rs`);
//! the sink and the line cap are shared.

use std::io::Write;

use serde_json::{json, Value};

use crate::checks::catalog::Rule;
use crate::model::{Endpoint, Finding, Service};
use crate::untrusted;

pub const ECS_VERSION: &str = "8.17.0";
pub const MAX_LINE: usize = 10_000;

/// Field schema of the `--jsonl` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Elastic Common Schema 8.17: service (asset) and finding events.
    #[default]
    Ecs,
    /// OCSF 1.3.0 Vulnerability Finding (class 2002): one event per finding.
    Ocsf,
}

fn observer() -> Value {
    json!({
        "type": "scanner",
        "vendor": "flinkscan",
        "product": "flinkscan",
        "version": env!("CARGO_PKG_VERSION"),
    })
}

pub fn service_event(service: &Service, scan_id: &str, timestamp: &str) -> Value {
    let mut svc = serde_json::to_value(service).unwrap_or(Value::Null);
    if let Some(obj) = svc.as_object_mut() {
        // Already in destination.*; keep flink.service about the service.
        obj.remove("ip");
        obj.remove("port");
        obj.remove("tls_profile");
    }
    // Jobs go in their own events (`job_events`), and the logs' secrets
    // are counted here and named in the findings: one line stays small.
    if let Some(inv) = svc
        .pointer_mut("/deployment/jobs")
        .and_then(Value::as_object_mut)
    {
        if let Some(jobs) = inv.remove("jobs") {
            let n = jobs.as_array().map_or(0, Vec::len);
            inv.insert("read_in_depth".into(), json!(n));
        }
        // Up to 100 names each: the first 20 here, all in the JSON report.
        for list in ["jars", "log_files"] {
            if let Some(items) = inv.get_mut(list).and_then(Value::as_array_mut) {
                items.truncate(20);
            }
        }
        if let Some(logs) = inv.get_mut("logs").and_then(Value::as_array_mut) {
            for log in logs.iter_mut().filter_map(Value::as_object_mut) {
                let secrets = log
                    .remove("secrets")
                    .and_then(|v| v.as_array().map(Vec::len))
                    .unwrap_or(0);
                let masked = log
                    .remove("masked")
                    .and_then(|v| v.as_array().map(Vec::len))
                    .unwrap_or(0);
                log.insert("secrets_found".into(), json!(secrets));
                log.insert("masked_found".into(), json!(masked));
            }
        }
    }
    json!({
        "@timestamp": timestamp,
        "ecs": {"version": ECS_VERSION},
        "event": {
            "kind": "asset",
            "category": ["network"],
            "type": ["info"],
            "dataset": "flinkscan.service",
            "module": "flinkscan",
        },
        "observer": observer(),
        "destination": destination(&service.endpoint),
        "network": {"transport": "tcp"},
        "url": {"full": service.url("/")},
        "service": {"type": service.kind.as_str(), "version": service.version},
        "flink": {"scan": {"id": scan_id}, "service": svc},
    })
}

/// One event per job a JobManager or HistoryServer listed and the scan
/// read in depth (`crate::inventory`): name, state, sources and sinks,
/// parameter keys (secrets by kind, length and fingerprint only).
pub fn job_events(service: &Service, scan_id: &str, timestamp: &str) -> Vec<Value> {
    let Some(inv) = service.deployment.as_ref().and_then(|d| d.jobs.as_ref()) else {
        return Vec::new();
    };
    inv.jobs
        .iter()
        .map(|job| {
            json!({
                "@timestamp": timestamp,
                "ecs": {"version": ECS_VERSION},
                "event": {
                    "kind": "asset",
                    "category": ["configuration"],
                    "type": ["info"],
                    "dataset": "flinkscan.job",
                    "module": "flinkscan",
                },
                "observer": observer(),
                "message": untrusted::clean(&crate::inventory::text::job_line(job), 1000),
                "destination": destination(&service.endpoint),
                "network": {"transport": "tcp"},
                "url": {"full": service.url(&format!("/jobs/{}", job.id))},
                "service": {"type": service.kind.as_str(), "version": service.version},
                "flink": {"scan": {"id": scan_id}, "job": job},
            })
        })
        .collect()
}

/// One deployment at the end of the scan: its services, attack paths and
/// posture (`crate::clusters`), so a SIEM can group by `flink.cluster.id`.
pub fn cluster_event(cluster: &crate::clusters::Cluster, scan_id: &str, timestamp: &str) -> Value {
    json!({
        "@timestamp": timestamp,
        "ecs": {"version": ECS_VERSION},
        "event": {
            "kind": "state",
            "category": ["configuration"],
            "type": ["info"],
            "dataset": "flinkscan.cluster",
            "module": "flinkscan",
        },
        "observer": observer(),
        "message": untrusted::clean(&cluster.name, 300),
        "flink": {"scan": {"id": scan_id}, "cluster": cluster},
    })
}

pub fn finding_event(
    finding: &Finding,
    rule: Option<&Rule>,
    scan_id: &str,
    timestamp: &str,
) -> Value {
    let (score, cwe, description, remediation, reference) = match rule {
        Some(r) => (
            // One decimal, as CVSS defines scores (never 8.100000381469727).
            Some((r.security_severity * 10.0).round() / 10.0),
            Some(format!("CWE-{}", r.cwe)),
            untrusted::clean(&r.description, 1500),
            untrusted::clean(&r.remediation, 1500),
            r.sources.first().cloned(),
        ),
        None => (None, None, String::new(), String::new(), None),
    };
    let body = finding.body_or_note();
    let evidence = evidence_json(&body.evidence);
    let enumeration = if finding.cve_id().is_some() {
        "CVE"
    } else {
        "flinkscan"
    };
    json!({
        "@timestamp": timestamp,
        "ecs": {"version": ECS_VERSION},
        "event": {
            "kind": "state",
            "category": ["vulnerability"],
            "type": ["info"],
            "dataset": "flinkscan.finding",
            "module": "flinkscan",
            "id": super::sarif::fingerprint(finding),
        },
        "observer": observer(),
        "rule": {"id": finding.rule_id, "name": finding.title},
        "vulnerability": {
            "id": finding.cve_id().unwrap_or(&finding.rule_id),
            "severity": finding.severity.as_str(),
            "score": {"base": score},
            "category": cwe.into_iter().collect::<Vec<_>>(),
            "classification": "CVSS",
            "enumeration": enumeration,
            "description": description,
            "reference": reference,
            "report_id": scan_id,
            "scanner": {"vendor": "flinkscan"},
        },
        "destination": destination(&finding.endpoint),
        "network": {"transport": "tcp"},
        "url": {"full": body.url},
        "flink": {
            "scan": {"id": scan_id},
            "service": {"kind": finding.service.as_str(), "version": finding.version},
            "finding": {
                "detail": untrusted::clean(&body.detail, 1500),
                "remediation": remediation,
                "evidence": evidence,
                "baseline_state": finding.baseline_state,
                "advisory": finding.advisory,
            },
        },
    })
}

/// A finding's first evidence items with their texts capped, for one line.
pub fn evidence_json(evidence: &[crate::model::Evidence]) -> Vec<Value> {
    evidence
        .iter()
        .take(4)
        .map(|e| {
            json!({
                "request": untrusted::clean(&e.request, 300),
                "status": e.status,
                "excerpt": untrusted::clean(&e.excerpt, 400),
            })
        })
        .collect()
}

/// Serialise one event as a line, cutting the free-text fields further if
/// it would exceed [`MAX_LINE`]. Fields without a value are left out, not
/// written as null (ECS: absent means unknown; a null breaks some mappings).
pub fn line(mut event: Value) -> String {
    drop_nulls(&mut event);
    let mut text = serde_json::to_string(&event).unwrap_or_default();
    if text.len() >= MAX_LINE {
        if let Some(f) = event.pointer_mut("/flink/finding/evidence") {
            *f = Value::Array(Vec::new());
        }
        if let Some(s) = event.pointer_mut("/flink/service/evidence") {
            *s = Value::Array(Vec::new());
        }
        if let Some(o) = event.pointer_mut("/unmapped/flink/evidence") {
            *o = Value::Array(Vec::new());
        }
        text = serde_json::to_string(&event).unwrap_or_default();
    }
    // OCSF: the long descriptions go next (title, rule and place stay).
    if text.len() >= MAX_LINE && event.get("class_uid").is_some() {
        for ptr in [
            "/finding_info/desc",
            "/vulnerabilities/0/desc",
            "/vulnerabilities/0/remediation/desc",
        ] {
            if let Some(d) = event.pointer_mut(ptr) {
                *d = Value::String("(cut: line over 10,000 bytes)".into());
            }
        }
        text = serde_json::to_string(&event).unwrap_or_default();
    }
    if text.len() >= MAX_LINE && event.get("ecs").is_some() {
        text = serde_json::to_string(&json!({
            "@timestamp": event.get("@timestamp"),
            "ecs": {"version": ECS_VERSION},
            "event": event.get("event"),
            "destination": event.get("destination"),
            "rule": event.get("rule"),
        }))
        .unwrap_or_default();
    }
    text
}

/// Writes events as they come, one whole line per write: to stdout or a
/// special file directly, and to a regular file under its real name, so
/// `tail -f`, Filebeat or Vector can follow it while the scan runs (JSON
/// and SARIF stay atomic: they are written once, at the end).
///
/// The first write error is kept and ends the stream: what its reader got
/// is a true prefix of the stream, never one with a hole or a torn line (a
/// regular file is cut back to its last whole line). Stdout and special
/// files (a FIFO) are written by a thread of their own with a bounded
/// queue (`spool`), so a reader that never opens, never reads or falls
/// behind costs the scan nothing but this output. `finish` reports the
/// error.
pub struct JsonlSink {
    out: Out,
    lines: u64,
    error: Option<std::io::Error>,
    /// A resumed scan's file: the events it already holds (by
    /// [`event_key`]), so the ports identified again are not repeated.
    seen: std::collections::HashSet<[u8; 32]>,
}

/// What makes two events the same: everything but when they were written.
fn event_key(event: &Value) -> [u8; 32] {
    use sha2::Digest;
    let mut e = event.clone();
    if let Some(o) = e.as_object_mut() {
        o.remove("@timestamp");
        o.remove("time");
    }
    drop_nulls(&mut e);
    sha2::Sha256::digest(serde_json::to_vec(&e).unwrap_or_default()).into()
}

/// The keys of the events in a JSON Lines file (lines that do not parse,
/// or are far too long to be ours, are skipped).
fn keys_in(file: &std::fs::File) -> std::collections::HashSet<[u8; 32]> {
    use std::io::{BufRead, Read};
    let mut keys = std::collections::HashSet::new();
    let mut r = std::io::BufReader::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut r)
            .take(4 * MAX_LINE as u64)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if let Ok(v) = serde_json::from_slice::<Value>(&line) {
            keys.insert(event_key(&v));
        }
    }
    keys
}

enum Out {
    Stream(crate::atomic::Stream),
    /// A regular file and the length of its whole lines.
    File(std::fs::File, u64),
}

impl JsonlSink {
    /// Open `dest`; a regular file is created (mode 0600) and emptied, or
    /// with `append` kept and added to (a resumed scan): then an event it
    /// already holds (the same apart from its time) is not written again.
    pub fn open(dest: &crate::atomic::Dest, append: bool) -> std::io::Result<JsonlSink> {
        let mut seen = std::collections::HashSet::new();
        let out = match dest {
            crate::atomic::Dest::File(path) => {
                use std::os::unix::fs::OpenOptionsExt;
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .read(true)
                    .write(true)
                    .append(append)
                    .truncate(!append)
                    .mode(0o600)
                    .open(path)?;
                if append {
                    seen = keys_in(&file);
                }
                let len = file.metadata()?.len();
                Out::File(file, len)
            }
            other => Out::Stream(other.open_stream()?),
        };
        Ok(JsonlSink {
            out,
            lines: 0,
            error: None,
            seen,
        })
    }

    fn write(&mut self, event: Value) -> std::io::Result<()> {
        if !self.seen.is_empty() && !self.seen.insert(event_key(&event)) {
            return Ok(());
        }
        let mut l = line(event);
        l.push('\n');
        match &mut self.out {
            Out::Stream(s) => s.write_all(l.as_bytes())?,
            Out::File(f, whole) => {
                if let Err(e) = f.write_all(l.as_bytes()) {
                    // Best effort: a torn last line would break a reader.
                    let _ = f.set_len(*whole);
                    return Err(e);
                }
                *whole += l.len() as u64;
            }
        }
        self.lines += 1;
        Ok(())
    }

    fn stopped(&self) -> bool {
        self.error.is_some()
    }

    /// Write every event, keeping the first error for [`finish`](Self::finish).
    pub fn write_each(&mut self, events: Vec<Value>) {
        for e in events {
            if self.stopped() {
                return;
            }
            if let Err(err) = self.write(e) {
                self.error.get_or_insert(err);
            }
        }
    }

    /// Lines written whole so far (for stdout or a FIFO: that its reader
    /// took).
    pub fn lines(&self) -> u64 {
        match &self.out {
            Out::Stream(crate::atomic::Stream::Spool(s)) => s.pieces(),
            _ => self.lines,
        }
    }

    /// End the stream: the lines its reader got whole, and the first write
    /// error if there was one, else the result of the final flush (to
    /// disk, for a file; for stdout or a FIFO, the wait for its reader).
    pub fn finish(self) -> (u64, std::io::Result<()>) {
        let lines = self.lines();
        match (self.error, self.out) {
            (Some(e), _) => (lines, Err(e)),
            (None, Out::Stream(crate::atomic::Stream::Spool(s))) => s.finish_counted(),
            (None, Out::Stream(s)) => (lines, s.finish()),
            (None, Out::File(f, _)) => (lines, f.sync_all()),
        }
    }
}
/// Remove every null object member at any depth, and the objects that
/// held only nulls (`"score":{"base":null}` goes whole). Array items stay:
/// a position in a list means something.
pub fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => map.retain(|_, x| {
            if x.is_null() {
                return false;
            }
            let had_members = x.as_object().is_some_and(|m| !m.is_empty());
            drop_nulls(x);
            !(had_members && x.as_object().is_some_and(serde_json::Map::is_empty))
        }),
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// ECS `destination`: the address, or for a name only the `socks5h://`
/// proxy resolved, `destination.domain` (flinkscan never saw the address).
fn destination(e: &Endpoint) -> Value {
    match e.proxy_name() {
        Some(name) => json!({"domain": name, "port": e.port}),
        None => json!({"ip": e.ip.to_string(), "port": e.port}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::catalog::Catalog;
    use crate::model::{ServiceKind, Severity};

    fn finding() -> Finding {
        Finding::new(
            "FLINK-RPC-PLAINTEXT",
            Severity::Critical,
            "RPC in plaintext",
            Endpoint::new([127, 0, 0, 1].into(), 6123),
            ServiceKind::Rpc,
            "tcp://127.0.0.1:6123".into(),
        )
    }

    #[test]
    fn scores_have_one_decimal_and_no_field_is_null() {
        let catalog = Catalog::load(None, None).unwrap();
        // Every rule's score, as the stream writes it: 8.1, not 8.100000381469727.
        for rule in catalog.rules.values() {
            let mut f = finding();
            f.rule_id = rule.id.clone();
            let text = line(finding_event(&f, Some(rule), "s", "t"));
            let v: Value = serde_json::from_str(&text).unwrap();
            let base = v["vulnerability"]["score"]["base"].as_f64().unwrap();
            let written = text
                .split("\"base\":")
                .nth(1)
                .and_then(|t| t.split('}').next())
                .unwrap();
            assert!(written.len() <= 4, "{} base {written}", rule.id);
            assert!(((base * 10.0).round() / 10.0 - base).abs() < 1e-12);
            assert!(!text.contains("null"), "{text}");
        }
        // No version, no rule: the fields are absent, not null.
        let text = line(finding_event(&finding(), None, "s", "t"));
        assert!(!text.contains("null"), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v["vulnerability"].get("reference").is_none(), "{text}");
        assert!(v["vulnerability"].get("score").is_none(), "{text}");
        assert!(v["flink"]["service"].get("version").is_none(), "{text}");
        assert_eq!(v["flink"]["service"]["kind"], "rpc");
    }

    #[test]
    fn a_resumed_file_does_not_repeat_its_events() {
        let dir = tempfile::tempdir().unwrap();
        let dest = crate::atomic::Dest::File(dir.path().join("s.jsonl"));
        let f = finding();
        let mut other = finding();
        std::sync::Arc::make_mut(&mut other.endpoint).port = 6124;
        let mut first = JsonlSink::open(&dest, false).unwrap();
        first.write_each(vec![finding_event(
            &f,
            None,
            "s",
            "2026-01-01T00:00:00.000Z",
        )]);
        first.finish().1.unwrap();
        // The resumed run meets the same finding again (a later time) and a new one.
        let mut resumed = JsonlSink::open(&dest, true).unwrap();
        resumed.write_each(vec![
            finding_event(&f, None, "s", "2026-01-01T00:09:00.000Z"),
            finding_event(&other, None, "s", "2026-01-01T00:09:00.000Z"),
        ]);
        assert_eq!(resumed.lines(), 1);
        resumed.finish().1.unwrap();
        let text = std::fs::read_to_string(dir.path().join("s.jsonl")).unwrap();
        let ports: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["destination"]["port"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(ports, [6123, 6124], "{text}");
    }
}
