//! Sharding: disjoint slices whose union is the whole scan, the Kubernetes
//! Indexed Job way of choosing one, and merging shard outputs. Loopback only.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;

use serde_json::Value;
use support::peers::{
    close_at_once, fake_rpc, flinkscan, on_one_free_port, random_octet, Listener,
};

use crate::support;
use support::scan::Scan;

fn octet() -> u8 {
    random_octet()
}

/// Plain listeners plus fake RPC ports (answering the heartbeat), all on
/// one free port.
fn listen(addrs: &[(Ipv4Addr, bool)]) -> (u16, Vec<Listener>) {
    let peers: Vec<support::peers::Peer> = addrs
        .iter()
        .map(|&(ip, rpc)| {
            (
                ip,
                if rpc {
                    fake_rpc as fn(_)
                } else {
                    close_at_once
                },
            )
        })
        .collect();
    on_one_free_port(&peers)
}

fn dry_run(range: &str, ports: &str, shard: Option<&str>) -> Vec<String> {
    let mut scan = Scan::new().target(range).ports(ports).arg("--dry-run");
    if let Some(s) = shard {
        scan = scan.args(["--shard", s]);
    }
    let ran = scan.run();
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    ran.stdout.lines().map(String::from).collect()
}

#[test]
fn shards_are_disjoint_and_cover_the_space() {
    let range = "127.0.0.0/22";
    let all: BTreeSet<String> = dry_run(range, "8081,6123,6124", None).into_iter().collect();
    assert_eq!(all.len(), 1024 * 3);
    for n in 1..=5u32 {
        let mut union = BTreeSet::new();
        let mut count = 0;
        for k in 0..n {
            let part = dry_run(range, "8081,6123,6124", Some(&format!("{k}/{n}")));
            count += part.len();
            union.extend(part);
        }
        assert_eq!(count, all.len(), "shards of {n} overlap");
        assert_eq!(union, all, "shards of {n} miss probes");
    }
}

#[test]
fn indexed_job_env_selects_the_shard() {
    let direct = dry_run("127.0.0.0/24", "1", Some("2/3"));
    let out = flinkscan()
        .args([
            "scan",
            "127.0.0.0/24",
            "--ports",
            "1",
            "--dry-run",
            "--shard-count",
            "3",
        ])
        .env("JOB_COMPLETION_INDEX", "2")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let via_env: Vec<String> = String::from_utf8_lossy(&out)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(via_env, direct);
    flinkscan()
        .args([
            "scan",
            "127.0.0.0/24",
            "--ports",
            "1",
            "--dry-run",
            "--shard-count",
            "3",
        ])
        .env("JOB_COMPLETION_INDEX", "3")
        .assert()
        .code(2);
    flinkscan()
        .args([
            "scan",
            "127.0.0.0/24",
            "--ports",
            "1",
            "--dry-run",
            "--shard-count",
            "3",
            "--shard-index-env",
            "MY_INDEX",
        ])
        .env("MY_INDEX", "1")
        .assert()
        .success();
}

fn strip(mut v: Value) -> String {
    for k in ["id", "started", "finished", "duration_ms"] {
        v["scan"].as_object_mut().unwrap().remove(k);
    }
    serde_json::to_string_pretty(&v).unwrap()
}

fn scan(range: &str, port: u16, shard: Option<String>, out: &Path) {
    let mut scan = Scan::new()
        .arg("--no-progress")
        .target(range)
        .ports(port.to_string())
        .args(["--probe-timeout", "2s", "--json"])
        .arg(out);
    if let Some(s) = shard {
        scan = scan.args(["--shard", &s]);
    }
    let ran = scan.run();
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
}

#[test]
fn merged_shards_equal_the_unsharded_scan() {
    let second = octet();
    let addrs: Vec<(Ipv4Addr, bool)> = [
        (0u8, 9u8, true),
        (0, 200, false),
        (1, 17, true),
        (2, 3, false),
        (3, 250, true),
    ]
    .iter()
    .map(|&(c, d, rpc)| (Ipv4Addr::new(127, second, c, d), rpc))
    .collect();
    let (port, _l) = listen(&addrs);
    let range = format!("127.{second}.0.0/22");
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.json");
    scan(&range, port, None, &whole);
    let whole_doc: Value = serde_json::from_str(&std::fs::read_to_string(&whole).unwrap()).unwrap();
    assert_eq!(whole_doc["services"].as_array().unwrap().len(), addrs.len());
    assert_eq!(whole_doc["findings"].as_array().unwrap().len(), 3);

    for n in [2u32, 3] {
        let mut parts = Vec::new();
        let mut seen = BTreeSet::new();
        for k in 0..n {
            let p = dir.path().join(format!("part-{k}-of-{n}.json"));
            scan(&range, port, Some(format!("{k}/{n}")), &p);
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            for s in doc["services"].as_array().unwrap() {
                assert!(
                    seen.insert(format!("{}:{}", s["ip"], s["port"])),
                    "service in two shards"
                );
            }
            parts.push(p);
        }
        let merged = dir.path().join(format!("merged-{n}.json"));
        let merged_sarif = dir.path().join(format!("merged-{n}.sarif"));
        flinkscan()
            .arg("merge")
            .args(&parts)
            .arg("-o")
            .arg(&merged)
            .arg("--sarif")
            .arg(&merged_sarif)
            .assert()
            .success();
        // The same shard twice is refused: it would double-count.
        flinkscan()
            .arg("merge")
            .arg(&parts[0])
            .arg(&parts[0])
            .arg("-o")
            .arg(dir.path().join("dup.json"))
            .assert()
            .code(2);
        let merged_doc: Value =
            serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
        assert_eq!(
            strip(merged_doc),
            strip(whole_doc.clone()),
            "merge of {n} shards"
        );
        let sarif: Value =
            serde_json::from_str(&std::fs::read_to_string(&merged_sarif).unwrap()).unwrap();
        assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 3);
    }
}
