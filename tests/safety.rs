#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Safety and verdict properties (issue 21): the test helpers fail on a
//! missing output, fingerprints are stable and distinct, `--fail-on` and
//! baselines give the right verdicts, a killed write leaves no half file,
//! and planted secrets reach no output. Loopback only: every listener and
//! target is in 127.0.0.0/8 and every port probed is one this test opened.

mod support;

#[test]
#[should_panic(expected = "scan.sarif was not written")]
fn a_missing_expected_output_fails_the_helper_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let _ = support::flink::read_output(&dir.path().join("scan.sarif"), b"");
}

#[test]
fn an_existing_output_is_read_whole_even_when_empty() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("scan.jsonl");
    std::fs::write(&p, b"").unwrap();
    assert_eq!(support::flink::read_output(&p, b""), b"");
}

use std::collections::BTreeMap;
use std::net::{Ipv6Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::flink::{read_output, unique_loopback};
use support::peers::{fake_rpc, flinkscan, Listener};

/// What one scan wrote: the JSON report, the SARIF log, the JSON Lines.
#[allow(dead_code)]
struct Outputs {
    json: Value,
    sarif: Value,
    jsonl: Vec<Value>,
    code: i32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn parse_json(bytes: &[u8], what: &Path) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{} is not JSON: {e}", what.display()))
}

/// Scan `targets` writing JSON, SARIF and JSONL under `dir/name.*`; every
/// one of them must exist afterwards.
fn run(targets: &[String], extra: &[&str], dir: &Path, name: &str) -> Outputs {
    let path = |ext: &str| dir.join(format!("{name}.{ext}"));
    let out = flinkscan()
        .args(["scan", "--no-color", "--probe-timeout", "2s"])
        .args(targets)
        .args(extra)
        .arg("--json")
        .arg(path("json"))
        .arg("--sarif")
        .arg(path("sarif"))
        .arg("--jsonl")
        .arg(path("jsonl"))
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "flinkscan exited {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |ext: &str| read_output(&path(ext), &out.stderr);
    let jsonl = String::from_utf8(read("jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    Outputs {
        json: parse_json(&read("json"), &path("json")),
        sarif: parse_json(&read("sarif"), &path("sarif")),
        jsonl,
        code,
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

/// `(rule, ip:port) -> fingerprint` of a SARIF log; panics on a duplicate
/// fingerprint, which would make two findings one in a dashboard.
fn sarif_fingerprints(sarif: &Value) -> BTreeMap<(String, String), String> {
    let mut map = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in sarif["runs"][0]["results"].as_array().unwrap() {
        let fp = r["partialFingerprints"]["flinkscan/v1"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(seen.insert(fp.clone()), "fingerprint {fp} twice in {sarif}");
        let ep = r["locations"][0]["logicalLocations"][0]["name"]
            .as_str()
            .unwrap()
            .to_string();
        map.insert((r["ruleId"].as_str().unwrap().to_string(), ep), fp);
    }
    map
}

/// The same map from the finding lines of an ECS (`event.id`) or OCSF
/// (`finding_info.uid`) stream.
fn stream_fingerprints(lines: &[Value]) -> BTreeMap<(String, String), String> {
    let mut map = BTreeMap::new();
    for l in lines {
        let (rule, ip, port, fp) = if l["event"]["dataset"] == "flinkscan.finding" {
            (
                &l["rule"]["id"],
                &l["destination"]["ip"],
                &l["destination"]["port"],
                &l["event"]["id"],
            )
        } else if l["class_uid"] == 2002 {
            let f = &l["unmapped"]["flink"];
            (
                &f["rule_id"],
                &f["ip"],
                &f["port"],
                &l["finding_info"]["uid"],
            )
        } else {
            continue;
        };
        let prev = map.insert(
            (
                rule.as_str().unwrap().to_string(),
                format!("{}:{port}", ip.as_str().unwrap()),
            ),
            fp.as_str().unwrap().to_string(),
        );
        assert!(
            prev.is_none(),
            "two finding lines for one (rule, endpoint): {l}"
        );
    }
    map
}

/// The fingerprint recipe, computed independently of the scanner.
fn expected_fingerprint(rule: &str, addr: SocketAddr) -> String {
    hex::encode(Sha256::digest(format!(
        "{rule}|{}|{}",
        addr.ip(),
        addr.port()
    )))
}

/// Holds `[::1]:port` while `localhost:port` is scanned, so the AAAA answer
/// of `localhost` reaches a listener of this test and nobody else's; it
/// accepts and closes. None when loopback has no IPv6 (then nothing listens
/// there and the connection is refused locally).
fn hold_v6(port: u16) -> Option<TcpListener> {
    let l = TcpListener::bind((Ipv6Addr::LOCALHOST, port)).ok()?;
    let c = l.try_clone().ok()?;
    std::thread::spawn(move || {
        for s in c.incoming() {
            drop(s)
        }
    });
    Some(l)
}

#[test]
fn fingerprints_are_pinned_distinct_and_survive_seeds_shards_names_and_runs() {
    // A on 127.0.0.1 (what `localhost` resolves to), B elsewhere in 127/8.
    let a = Listener::start(std::net::Ipv4Addr::LOCALHOST, 0, fake_rpc);
    let _v6 = hold_v6(a.port());
    let b = Listener::start(unique_loopback(), 0, fake_rpc);
    let targets = [a.addr.to_string(), b.addr.to_string()];
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let first = run(&targets, &["--seed", "1"], d, "seed1");
    let fps = sarif_fingerprints(&first.sarif);
    let want: BTreeMap<_, _> = [a.addr, b.addr]
        .iter()
        .map(|addr| {
            (
                ("FLINK-RPC-PLAINTEXT".to_string(), addr.to_string()),
                expected_fingerprint("FLINK-RPC-PLAINTEXT", *addr),
            )
        })
        .collect();
    assert_eq!(fps, want, "{}", first.sarif);
    assert_eq!(stream_fingerprints(&first.jsonl), want, "ECS event.id");

    let again = run(&targets, &["--seed", "1"], d, "again");
    assert_eq!(sarif_fingerprints(&again.sarif), want, "a repeated run");
    let reseeded = run(&targets, &["--seed", "987654321"], d, "seed2");
    assert_eq!(sarif_fingerprints(&reseeded.sarif), want, "another seed");
    let ocsf = run(&targets, &["--jsonl-format", "ocsf"], d, "ocsf");
    assert_eq!(
        stream_fingerprints(&ocsf.jsonl),
        want,
        "OCSF finding_info.uid"
    );

    // Two shards, each with its own slice, merged: the same fingerprints.
    let mut shard_fps = BTreeMap::new();
    let mut shard_reports: Vec<PathBuf> = vec![];
    for k in 0..2 {
        let name = format!("shard{k}");
        let shard = format!("{k}/2");
        let out = run(&targets, &["--seed", "5", "--shard", &shard], d, &name);
        let part = sarif_fingerprints(&out.sarif);
        assert!(part.len() < 2, "shard {shard} scanned both: {part:?}");
        shard_fps.extend(part);
        shard_reports.push(d.join(format!("{name}.json")));
    }
    assert_eq!(shard_fps, want, "union of the shards");
    let merged_sarif = d.join("merged.sarif");
    flinkscan()
        .args(["merge", "-o"])
        .arg(d.join("merged.json"))
        .arg("--sarif")
        .arg(&merged_sarif)
        .args(&shard_reports)
        .assert()
        .success();
    let merged = parse_json(&read_output(&merged_sarif, b""), &merged_sarif);
    assert_eq!(sarif_fingerprints(&merged), want, "merged shards");

    // A host name instead of the address: the same fingerprint for A.
    let by_name = run(&[format!("localhost:{}", a.port())], &[], d, "name");
    let named = sarif_fingerprints(&by_name.sarif);
    let key = ("FLINK-RPC-PLAINTEXT".to_string(), a.addr.to_string());
    assert_eq!(named.get(&key), want.get(&key), "{}", by_name.sarif);
    assert!(
        by_name.json["findings"][0]["hostname"] == "localhost"
            || by_name.json.to_string().contains("localhost"),
        "the name was not kept: {}",
        by_name.json
    );
}
