//! Every range edge of every shipped advisory, checked end to end: one scan
//! of many replayed JobManagers (`/config`, `/overview`) and SQL Gateways
//! (`/v1/info`), each reporting a version the test chose, plus JMX registries
//! next to a JobManager. The expected findings come from an oracle that reads
//! the OSV records' events as intervals in the order they are listed, not
//! from the scanner's matcher. Loopback only.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::flink;
use support::peers::{flinkscan, read_head, request_path, respond, Listener};
use support::scan::Scan;

type V = (u64, u64, u64);

fn parse(v: &str) -> V {
    let mut p = v.split('.').map(|x| x.parse::<u64>().unwrap());
    (p.next().unwrap(), p.next().unwrap(), p.next().unwrap_or(0))
}

fn show(v: V) -> String {
    format!("{}.{}.{}", v.0, v.1, v.2)
}

/// One range as listed: [from, to) or [from, to], `None` = unbounded.
#[derive(Debug, Clone)]
struct Interval {
    from: Option<V>,
    to: Option<(V, bool)>,
}

impl Interval {
    fn contains(&self, v: V) -> bool {
        self.from.is_none_or(|f| v >= f)
            && self
                .to
                .is_none_or(|(t, inclusive)| if inclusive { v <= t } else { v < t })
    }
}

struct Record {
    rule: String,
    /// interface -> intervals
    intervals: BTreeMap<String, Vec<Interval>>,
    /// (version, edge kind) pairs worth testing
    edges: Vec<V>,
}

fn records() -> Vec<Record> {
    let map: toml::Value =
        toml::from_str(&std::fs::read_to_string("advisories/interfaces.toml").unwrap()).unwrap();
    let mut by_package: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in map["package"].as_array().unwrap() {
        let kinds = p["interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        by_package.insert(p["name"].as_str().unwrap().to_string(), kinds);
    }
    let overrides: BTreeMap<String, Vec<String>> = map
        .get("advisory")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
        .map(|o| {
            (
                o["id"].as_str().unwrap().to_string(),
                o["interfaces"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir("advisories/osv")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let rec: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let id = rec["id"].as_str().unwrap().to_string();
        let mut ids = vec![id.clone()];
        for a in rec["aliases"].as_array().into_iter().flatten() {
            ids.push(a.as_str().unwrap().to_string());
        }
        let name = ids.iter().find(|i| i.starts_with("CVE-")).unwrap_or(&id);
        let mut r = Record {
            rule: format!("FLINK-{}", name.to_ascii_uppercase()),
            intervals: BTreeMap::new(),
            edges: Vec::new(),
        };
        for aff in rec["affected"].as_array().unwrap() {
            let pkg = aff["package"]["name"].as_str().unwrap();
            let kinds = overrides
                .get(&id)
                .cloned()
                .or_else(|| by_package.get(pkg).cloned())
                .unwrap_or_else(|| {
                    panic!(
                        "{}: package {pkg} is not in interfaces.toml",
                        path.display()
                    )
                });
            for range in aff["ranges"].as_array().unwrap() {
                let mut open: Option<Option<V>> = None;
                for ev in range["events"].as_array().unwrap() {
                    let (kind, ver) = ev.as_object().unwrap().iter().next().unwrap();
                    let ver = ver.as_str().unwrap();
                    match kind.as_str() {
                        "introduced" => {
                            let v = (ver != "0").then(|| parse(ver));
                            if let Some(v) = v {
                                r.edges.push(v);
                                if v.2 > 0 {
                                    r.edges.push((v.0, v.1, v.2 - 1));
                                }
                            }
                            open = Some(v);
                        }
                        "fixed" | "last_affected" => {
                            let v = parse(ver);
                            let inclusive = kind == "last_affected";
                            r.edges.push(v);
                            if inclusive {
                                r.edges.push((v.0, v.1, v.2 + 1));
                            } else if v.2 > 0 {
                                r.edges.push((v.0, v.1, v.2 - 1));
                            }
                            let from = open.take().expect("fixed without introduced");
                            for k in &kinds {
                                r.intervals.entry(k.clone()).or_default().push(Interval {
                                    from,
                                    to: Some((v, inclusive)),
                                });
                            }
                        }
                        other => panic!("unexpected event {other}"),
                    }
                }
                if let Some(from) = open {
                    for k in &kinds {
                        r.intervals
                            .entry(k.clone())
                            .or_default()
                            .push(Interval { from, to: None });
                    }
                }
            }
        }
        out.push(r);
    }
    out
}

fn expected(records: &[Record], kind: &str, v: V) -> BTreeSet<String> {
    records
        .iter()
        .filter(|r| {
            r.intervals
                .get(kind)
                .is_some_and(|iv| iv.iter().any(|i| i.contains(v)))
        })
        .map(|r| r.rule.clone())
        .collect()
}

/// A loopback listener answering with `reply` until dropped; a
/// connection that sends nothing is closed unanswered.
fn peer(ip: Ipv4Addr, reply: fn(&str, &mut TcpStream, &[u8]), version: String) -> Listener {
    Listener::start(ip, 0, move |mut c| {
        let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
        let mut first = [0u8; 4];
        if c.peek(&mut first).unwrap_or(0) == 0 {
            return;
        }
        reply(&version, &mut c, &first);
    })
}

fn send(c: &mut TcpStream, status: &str, body: &str) {
    respond(
        c,
        status,
        "application/json; charset=UTF-8",
        body.as_bytes(),
    );
}

fn jobmanager(version: &str, c: &mut TcpStream, first: &[u8]) {
    if !first.starts_with(b"GET ") {
        return;
    }
    let head = read_head(c);
    match request_path(&head) {
        "/config" => send(
            c,
            "200 OK",
            &format!(
                r#"{{"refresh-interval":3000,"timezone-name":"UTC","timezone-offset":0,"flink-version":"{version}","flink-revision":"replay","features":{{"web-submit":false,"web-cancel":false}}}}"#
            ),
        ),
        "/overview" => send(
            c,
            "200 OK",
            &format!(
                r#"{{"taskmanagers":0,"slots-total":0,"slots-available":0,"jobs-running":0,"jobs-finished":0,"jobs-cancelled":0,"jobs-failed":0,"flink-version":"{version}","flink-commit":"replay"}}"#
            ),
        ),
        _ => send(c, "404 Not Found", r#"{"errors":["Not found."]}"#),
    }
}

fn gateway(version: &str, c: &mut TcpStream, first: &[u8]) {
    if !first.starts_with(b"GET ") {
        return;
    }
    let head = read_head(c);
    match request_path(&head) {
        "/v1/info" => send(
            c,
            "200 OK",
            &format!(r#"{{"productName":"Apache Flink","version":"{version}"}}"#),
        ),
        "/v1/api_versions" => send(c, "200 OK", r#"{"versions":["V1","V2"]}"#),
        "" => {}
        p => send(
            c,
            "404 Not Found",
            &format!(r#"{{"errors":["Not found: {p}"]}}"#),
        ),
    }
}

/// An RMI registry as the JMX reporter opens it: answers the JRMI header
/// with a ProtocolAck and stays silent to anything else.
fn jmx(_version: &str, c: &mut TcpStream, first: &[u8]) {
    if first == b"JRMI" {
        let mut hello = [0u8; 7];
        if c.read_exact(&mut hello).is_ok() {
            let _ = c.write_all(b"\x4e\x00\x09127.0.0.1\x00\x00\xc3\x50");
        }
    }
    let mut sink = [0u8; 256];
    while matches!(c.read(&mut sink), Ok(n) if n > 0) {}
}

struct Case {
    kind: &'static str,
    version: String,
    ip: Ipv4Addr,
    port: u16,
}

#[test]
fn every_range_edge_of_every_advisory_end_to_end() {
    let records = records();
    let mut rest_versions: BTreeSet<V> = BTreeSet::new();
    let mut gateway_versions: BTreeSet<V> = BTreeSet::new();
    let mut jmx_versions: BTreeSet<V> = BTreeSet::new();
    for r in &records {
        for v in &r.edges {
            if r.intervals.contains_key("jobmanager-rest") {
                rest_versions.insert(*v);
            }
            if r.intervals.contains_key("sql-gateway") {
                gateway_versions.insert(*v);
            }
            if r.intervals.contains_key("jmx-rmi") {
                jmx_versions.insert(*v);
            }
        }
    }
    assert!(rest_versions.len() >= 10 && !gateway_versions.is_empty() && !jmx_versions.is_empty());

    let ip = flink::unique_loopback();
    let mut peers = Vec::new();
    let mut cases = Vec::new();
    let mut targets = Vec::new();
    for (kind, versions) in [
        ("jobmanager-rest", &rest_versions),
        ("sql-gateway", &gateway_versions),
    ] {
        for v in versions {
            let f = if kind == "sql-gateway" {
                gateway
            } else {
                jobmanager
            };
            let p = peer(ip, f, show(*v));
            targets.push(format!("{ip}:{}", p.port()));
            cases.push(Case {
                kind,
                version: show(*v),
                ip,
                port: p.port(),
            });
            peers.push(p);
        }
    }
    // The JMX port learns its version from the JobManager on its host.
    for v in &jmx_versions {
        let host = flink::unique_loopback();
        let rest = peer(host, jobmanager, show(*v));
        let reg = peer(host, jmx, String::new());
        targets.push(format!("{host}:{}", rest.port()));
        targets.push(format!("{host}:{}", reg.port()));
        cases.push(Case {
            kind: "jmx-rmi",
            version: show(*v),
            ip: host,
            port: reg.port(),
        });
        peers.push(rest);
        peers.push(reg);
    }
    // Strings the matcher must not skip: a vendor build and an unorderable one.
    let vendor = peer(ip, jobmanager, "1.11.2-amzn-0".into());
    let odd = peer(ip, jobmanager, "master-custom".into());
    targets.push(format!("{ip}:{}", vendor.port()));
    targets.push(format!("{ip}:{}", odd.port()));

    let out = flink::scan(&targets, &["--no-progress", "--probe-timeout", "2s"]);
    let findings = out.json["findings"].as_array().unwrap();
    let at = |ip: Ipv4Addr, port: u16| -> Vec<&Value> {
        findings
            .iter()
            .filter(|f| f["port"] == port && f["ip"] == ip.to_string())
            .collect()
    };
    let mut failures = Vec::new();
    for c in &cases {
        let got: BTreeSet<String> = at(c.ip, c.port)
            .iter()
            .map(|f| f["rule_id"].as_str().unwrap().to_string())
            .filter(|r| r.starts_with("FLINK-CVE-"))
            .collect();
        let want = expected(&records, c.kind, parse(&c.version));
        if got != want {
            failures.push(format!(
                "{} {}: got {got:?}, want {want:?}",
                c.kind, c.version
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} edges wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Every advisory finding says what it is and what to do.
    for f in findings
        .iter()
        .filter(|f| f["rule_id"].as_str().unwrap().starts_with("FLINK-CVE-"))
    {
        let a = &f["advisory"];
        assert!(
            a["ids"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i.as_str().unwrap().starts_with("CVE-")),
            "{f}"
        );
        assert!(
            a["cvss_vector"].as_str().unwrap().starts_with("CVSS:"),
            "{f}"
        );
        assert!(a["cvss_score"].as_f64().unwrap() > 0.0, "{f}");
        assert!(!a["references"].as_array().unwrap().is_empty(), "{f}");
    }
    // 1.11.1 of the 1.11 line: the fix to take is on that line.
    let c = cases
        .iter()
        .find(|c| c.kind == "jobmanager-rest" && c.version == "1.11.2");
    if let Some(c) = c {
        let f = at(c.ip, c.port)
            .into_iter()
            .find(|f| f["rule_id"] == "FLINK-CVE-2020-17519")
            .unwrap();
        assert_eq!(
            f["advisory"]["upgrade_to"],
            serde_json::json!(["1.11.3"]),
            "{f}"
        );
        assert_eq!(f["advisory"]["confidence"], "version-match");
    }

    let vendor_rules: Vec<&Value> = at(ip, vendor.port());
    let v17519 = vendor_rules
        .iter()
        .find(|f| f["rule_id"] == "FLINK-CVE-2020-17519")
        .expect("vendor build still matched");
    assert_eq!(v17519["advisory"]["confidence"], "vendor-build");
    assert!(
        v17519["detail"].as_str().unwrap().contains("backported"),
        "{v17519}"
    );

    let odd_rules: Vec<String> = at(ip, odd.port())
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        odd_rules.contains(&"FLINK-VERSION-UNORDERED".to_string()),
        "{odd_rules:?}"
    );
    assert!(
        !odd_rules.iter().any(|r| r.starts_with("FLINK-CVE-")),
        "{odd_rules:?}"
    );
    let notices = out.json["notices"].to_string();
    assert!(
        notices.contains("master-custom") && notices.contains("not judged"),
        "{notices}"
    );
}

/// The repository's records and the map of packages to interfaces agree:
/// every package a record names is mapped, every override names a record,
/// every record carries a CVSS vector the score is computed from, and every
/// record flinkscan wrote says why and cites its sources.
#[test]
fn records_and_interface_map_agree() {
    let data = flinkscan::advisories::Advisories::load(None).expect("shipped data loads");
    let mapped: BTreeSet<(String, String)> = data
        .interfaces
        .iter()
        .map(|m| (m.ecosystem.clone(), m.name.clone()))
        .collect();
    let mut ids = BTreeSet::new();
    let mut count = 0;
    for entry in std::fs::read_dir(Path::new("advisories/osv")).unwrap() {
        let path = entry.unwrap().path();
        let rec: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        count += 1;
        ids.insert(rec["id"].as_str().unwrap().to_string());
        assert_eq!(
            path.file_stem().unwrap().to_str().unwrap(),
            rec["id"].as_str().unwrap(),
            "file name and id differ"
        );
        for aff in rec["affected"].as_array().unwrap() {
            let key = (
                aff["package"]["ecosystem"].as_str().unwrap().to_string(),
                aff["package"]["name"].as_str().unwrap().to_string(),
            );
            assert!(
                mapped.contains(&key),
                "{}: {key:?} is not in interfaces.toml",
                path.display()
            );
        }
        let vectors: Vec<&str> = rec["severity"]
            .as_array()
            .map(|s| s.iter().filter_map(|x| x["score"].as_str()).collect())
            .unwrap_or_default();
        // Where the only source publishes no vector (the ASF record of
        // CVE-2026-40564 gives "moderate"), a record flinkscan wrote carries
        // that label and says where the vector went.
        let labelled = rec["database_specific"]["severity"].is_string()
            && rec["database_specific"]["flinkscan"]["cvss_source"].is_string();
        assert!(
            labelled
                || vectors
                    .iter()
                    .any(|v| v.starts_with("CVSS:3") || v.starts_with("CVSS:4")),
            "{}: no CVSS vector",
            path.display()
        );
        if let Some(note) = rec["database_specific"].get("flinkscan") {
            assert!(
                rec["id"].as_str().unwrap().starts_with("FLINKSCAN-"),
                "{}",
                path.display()
            );
            assert!(
                note["why"].as_str().is_some_and(|w| !w.is_empty()),
                "{}",
                path.display()
            );
            assert!(
                !note["sources"].as_array().unwrap().is_empty(),
                "{}",
                path.display()
            );
        }
    }
    for o in &data.overrides {
        assert!(ids.contains(&o.id), "override for {} names no record", o.id);
    }
    // Nothing shipped is ignored, and each record became one rule.
    assert_eq!(data.ignored, 0);
    assert_eq!(data.advisories.len(), count);
    for a in &data.advisories {
        // A label-only record (see above) is scored at its label's floor.
        let Some(c) = a.cvss.as_ref() else {
            assert!(a.written_by_flinkscan, "{}: no vector", a.origin);
            continue;
        };
        let parsed: cvss::Cvss = c.vector.parse().unwrap();
        assert!((parsed.score() - c.score).abs() < 1e-9);
    }
}

const EXTRA_RECORD: &str = r#"{
  "schema_version": "1.6.0",
  "id": "GHSA-test-0000-0001",
  "aliases": ["CVE-2099-0001"],
  "summary": "Test advisory for the REST API",
  "details": "Made up by the test.",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
  "affected": [{"package": {"ecosystem": "Maven", "name": "org.apache.flink:flink-runtime"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.20.0"}, {"fixed": "1.20.9"}]}]}],
  "references": [{"type": "ADVISORY", "url": "https://example.invalid/advisory"}],
  "database_specific": {"cwe_ids": ["CWE-94"]}
}"#;

const UNRELATED_RECORD: &str = r#"{"id": "GHSA-test-0000-0002", "aliases": ["CVE-2099-0002"],
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
  "affected": [{"package": {"ecosystem": "Maven", "name": "com.example:not-flink"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.9.9.Final"}]}]}]}"#;

fn listing(extra: &Path) -> Value {
    let out = flinkscan()
        .args(["advisories", "--json", "--advisories"])
        .arg(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn rules_of(doc: &Value) -> Vec<String> {
    doc["advisories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn listing_shows_every_shipped_record_with_ranges_and_sources() {
    let out = flinkscan().args(["advisories", "--json"]).output().unwrap();
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = std::fs::read_dir("advisories/osv").unwrap().count();
    assert_eq!(doc["advisories"].as_array().unwrap().len(), n);
    for a in doc["advisories"].as_array().unwrap() {
        assert!(
            !a["affected"][0]["ranges"][0].as_array().unwrap().is_empty(),
            "{a}"
        );
        assert!(!a["references"].as_array().unwrap().is_empty(), "{a}");
        assert!(
            a["cvss"]["vector"]
                .as_str()
                .map_or(a["written_by_flinkscan"] == true, |v| v
                    .starts_with("CVSS:")),
            "{a}"
        );
    }
    assert!(doc["releases"]["supported_today"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l == "1.20"));
    let text = flinkscan().arg("advisories").output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    for rule in rules_of(&doc) {
        assert!(text.contains(&rule), "{rule} missing from the text listing");
    }
    assert!(text.contains("GHSA-395w-qhqr-9fr6"));
}

#[test]
fn advisories_from_a_directory_and_a_zip_are_added() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("GHSA-test-0000-0001.json"), EXTRA_RECORD).unwrap();
    std::fs::write(
        dir.path().join("GHSA-test-0000-0002.json"),
        UNRELATED_RECORD,
    )
    .unwrap();
    let doc = listing(dir.path());
    assert!(rules_of(&doc).contains(&"FLINK-CVE-2099-0001".to_string()));
    assert!(!rules_of(&doc).contains(&"FLINK-CVE-2099-0002".to_string()));
    assert_eq!(doc["ignored_records"], 1);

    // The same as osv.dev ships it: a zip of records.
    let zip_path = dir.path().join("all.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        z.start_file("GHSA-test-0000-0001.json", opts).unwrap();
        z.write_all(EXTRA_RECORD.as_bytes()).unwrap();
        z.start_file("GHSA-test-0000-0002.json", opts).unwrap();
        z.write_all(UNRELATED_RECORD.as_bytes()).unwrap();
        z.finish().unwrap();
    }
    let doc = listing(&zip_path);
    assert!(rules_of(&doc).contains(&"FLINK-CVE-2099-0001".to_string()));
    assert_eq!(doc["ignored_records"], 1);

    // A scan with them finds the added advisory, and SARIF carries its data.
    let ip = flink::unique_loopback();
    let jm = peer(ip, jobmanager, "1.20.1".into());
    let out = flink::scan(
        &[format!("{ip}:{}", jm.port())],
        &[
            "--no-progress",
            "--probe-timeout",
            "2s",
            "--advisories",
            zip_path.to_str().unwrap(),
        ],
    );
    let f = out.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "FLINK-CVE-2099-0001")
        .expect("added advisory matched");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["advisory"]["upgrade_to"], serde_json::json!(["1.20.9"]));
    let sarif: Value = serde_json::from_str(&out.text("sarif")).unwrap();
    let rule = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "FLINK-CVE-2099-0001")
        .expect("rule in SARIF");
    assert_eq!(rule["properties"]["security-severity"], "9.8");
    assert_eq!(
        rule["properties"]["advisory-ids"],
        serde_json::json!(["GHSA-test-0000-0001", "CVE-2099-0001"])
    );
    assert!(rule["help"]["text"].as_str().unwrap().contains("1.20.9"));
}

#[test]
fn a_malformed_record_names_its_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = EXTRA_RECORD.replace(r#"{"fixed": "1.20.9"}"#, r#"{"fixed": "one"}"#);
    std::fs::write(dir.path().join("bad.json"), bad).unwrap();
    let out = flinkscan()
        .args(["advisories", "--advisories"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.json") && err.contains("affected[0].ranges[0].events[1].fixed"),
        "{err}"
    );
    // The same for a scan: nothing is sent.
    let out = flinkscan()
        .args(["scan", "127.0.0.1:9", "--dry-run", "--advisories"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn stale_release_data_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string("advisories/releases.toml").unwrap();
    let old = shipped.replace("checked = \"2026-12-01\"", "checked = \"2020-01-01\"");
    assert_ne!(old, shipped, "releases.toml has no checked date to age");
    std::fs::write(dir.path().join("releases.toml"), old).unwrap();
    let ip = flink::unique_loopback();
    let jm = peer(ip, jobmanager, "1.20.1".into());
    let out = flink::scan(
        &[format!("{ip}:{}", jm.port())],
        &[
            "--no-progress",
            "--probe-timeout",
            "2s",
            "--advisories",
            dir.path().to_str().unwrap(),
        ],
    );
    let notices = out.json["notices"].to_string();
    assert!(
        notices.contains("advisory data") && notices.contains("2020-01-01"),
        "{notices}"
    );
    let sarif = out.text("sarif");
    assert!(
        sarif.contains("2020-01-01"),
        "stale notice missing from SARIF notifications"
    );
    // With the shipped data, no such notice.
    let fresh = flink::scan(
        &[format!("{ip}:{}", jm.port())],
        &["--no-progress", "--probe-timeout", "2s"],
    );
    assert!(!fresh.json["notices"].to_string().contains("advisory data"));
}

/// `merge --sarif` renders rules from the catalog the shards were scanned
/// with: a rule it lacks is refused by name, never silently dropped.
#[test]
fn merge_keeps_rules_loaded_at_scan_time() {
    let dir = tempfile::tempdir().unwrap();
    let adv = dir.path().join("adv");
    std::fs::create_dir(&adv).unwrap();
    std::fs::write(adv.join("GHSA-test-0000-0001.json"), EXTRA_RECORD).unwrap();
    let ip = flink::unique_loopback();
    let jm = peer(ip, jobmanager, "1.20.1".into());
    let shard = dir.path().join("shard.json");
    let ran = Scan::new()
        .target(format!("{ip}:{}", jm.port()))
        .args(["--no-progress", "--probe-timeout", "2s", "--advisories"])
        .arg(&adv)
        .arg("--json")
        .arg(&shard)
        .run();
    assert!(ran.code.is_some_and(|c| c <= 1), "{}", ran.stderr);
    let merged = dir.path().join("merged.json");
    let sarif = dir.path().join("merged.sarif");
    let without = flinkscan()
        .arg("merge")
        .arg(&shard)
        .arg("-o")
        .arg(&merged)
        .arg("--sarif")
        .arg(&sarif)
        .output()
        .unwrap();
    assert_eq!(without.status.code(), Some(2));
    let err = String::from_utf8_lossy(&without.stderr);
    assert!(
        err.contains("FLINK-CVE-2099-0001") && err.contains("--advisories"),
        "{err}"
    );
    let with = flinkscan()
        .arg("merge")
        .arg(&shard)
        .arg("-o")
        .arg(&merged)
        .arg("--sarif")
        .arg(&sarif)
        .arg("--advisories")
        .arg(&adv)
        .output()
        .unwrap();
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    let doc: Value = serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
    let rules = doc["runs"][0]["tool"]["driver"]["rules"].to_string();
    assert!(rules.contains("FLINK-CVE-2099-0001"));
    let result = &doc["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "FLINK-CVE-2099-0001")
        .expect("result");
    assert!(result["ruleIndex"].is_number(), "{result}");
}
