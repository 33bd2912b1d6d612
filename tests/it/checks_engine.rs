//! The check engine where real Flink cannot show it: a vulnerable 1.11.2
//! (no registry ships one) answering the CVE-2020-17519 traversal, extra
//! probe files from --probes, malformed ones, and the deny-list.
//! The fake JobManager listens on its own loopback address.

use crate::support;

use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use support::flink;
use support::peers::{read_head, request_path, respond};

const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/bash\nplanted:x:1000:1000:PLANTEDPASSWDLINE:/home/p:/bin/sh\n";

/// A minimal JobManager REST look-alike of the given version. With
/// `vulnerable`, the log handler follows `..%2f` like Flink 1.11.0-1.11.2.
fn fake_jobmanager(
    version: &'static str,
    vulnerable: bool,
) -> (Ipv4Addr, u16, Arc<Mutex<Vec<String>>>) {
    let ip = flink::unique_loopback();
    let l = TcpListener::bind((ip, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&log);
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let mut c = c;
                let head = read_head(&mut c);
                if !head.starts_with("GET ") {
                    return;
                }
                let path = request_path(&head).to_string();
                seen.lock().unwrap().push(path.clone());
                let (status, body) = match path.as_str() {
                    "/config" => (
                        "200 OK",
                        format!(
                            r#"{{"refresh-interval":3000,"timezone-name":"UTC","timezone-offset":0,"flink-version":"{version}","flink-revision":"fake","features":{{"web-submit":false}}}}"#
                        ),
                    ),
                    "/overview" => (
                        "200 OK",
                        format!(
                            r#"{{"taskmanagers":0,"slots-total":0,"slots-available":0,"flink-version":"{version}","flink-commit":"fake"}}"#
                        ),
                    ),
                    p if vulnerable
                        && p.starts_with("/jobmanager/logs/..%252f")
                        && p.ends_with("etc%252fpasswd") =>
                    {
                        ("200 OK", PASSWD.to_string())
                    }
                    _ => ("404 Not Found", r#"{"errors":["Not found."]}"#.to_string()),
                };
                respond(&mut c, status, "application/json", body.as_bytes());
            });
        }
    });
    (ip, port, log)
}

fn rules(out: &flink::ScanOutput) -> Vec<(String, String)> {
    out.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_string(),
                f["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn cve_2020_17519_is_confirmed_without_keeping_the_file() {
    let (ip, port, _) = fake_jobmanager("1.11.2", true);
    let out = flink::scan(
        &[ip.to_string()],
        &["--no-progress", "--ports", &port.to_string()],
    );
    let r = rules(&out);
    let cve = r
        .iter()
        .find(|(id, _)| id == "FLINK-CVE-2020-17519")
        .expect("CVE finding");
    assert!(cve.1.starts_with("Confirmed"), "{}", cve.1);
    // The confirmation keeps what the advisory says and is marked as such.
    let f = out.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "FLINK-CVE-2020-17519")
        .unwrap();
    assert_eq!(f["advisory"]["confidence"], "confirmed", "{f}");
    assert_eq!(
        f["advisory"]["upgrade_to"],
        serde_json::json!(["1.11.3"]),
        "{f}"
    );
    assert!(
        f["advisory"]["ids"]
            .to_string()
            .contains("GHSA-395w-qhqr-9fr6"),
        "{f}"
    );
    for id in [
        "FLINK-CVE-2020-17518",
        "FLINK-CVE-2021-44228",
        "FLINK-EOL-VERSION",
        "FLINK-REST-UNAUTHENTICATED",
    ] {
        assert!(r.iter().any(|(x, _)| x == id), "{id}: {r:?}");
    }
    out.assert_absent("PLANTEDPASSWDLINE");
    out.assert_absent("root:x:0:0");
}

#[test]
fn a_patched_backport_is_only_a_version_match() {
    let (ip, port, _) = fake_jobmanager("1.11.2", false);
    let out = flink::scan(
        &[ip.to_string()],
        &["--no-progress", "--ports", &port.to_string()],
    );
    let r = rules(&out);
    let cve = r
        .iter()
        .find(|(id, _)| id == "FLINK-CVE-2020-17519")
        .expect("version match");
    assert!(cve.1.contains("version match"), "{}", cve.1);
    // A fixed release: no CVE finding at all.
    let (ip, port, _) = fake_jobmanager("1.11.3", false);
    let out = flink::scan(
        &[ip.to_string()],
        &["--no-progress", "--ports", &port.to_string()],
    );
    assert!(!rules(&out)
        .iter()
        .any(|(id, _)| id == "FLINK-CVE-2020-17519"));
}

#[test]
fn extra_probe_files_are_loaded_and_malformed_ones_named() {
    let (ip, port, seen) = fake_jobmanager("1.20.1", false);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("custom-dashboard.toml"),
        r#"
id = "custom-dashboard"
rule = "FLINK-REST-PLAINTEXT"
services = ["jobmanager-rest"]
detail = "custom probe saw revision {rev}"
[request]
path = "/config"
[[matchers]]
kind = "json"
pointer = "/flink-revision"
equals = "fake"
[[extractors]]
name = "rev"
kind = "json"
pointer = "/flink-revision"
"#,
    )
    .unwrap();
    let out = flink::scan(
        &[ip.to_string()],
        &[
            "--no-progress",
            "--ports",
            &port.to_string(),
            "--probes",
            dir.path().to_str().unwrap(),
        ],
    );
    assert!(
        rules(&out)
            .iter()
            .any(|(_, d)| d == "custom probe saw revision fake"),
        "{:?}",
        rules(&out)
    );

    // Malformed: the error names the file and the field, and nothing is sent.
    let before = seen.lock().unwrap().len();
    std::fs::write(dir.path().join("broken.toml"), "id = \"b\"\nrule = \"FLINK-REST-PLAINTEXT\"\nservices = [\"jobmanager-rest\"]\ndetail = \"\"\n[request]\npath = \"/x\"\n[[matchers]]\nkind = \"status\"\nvalues = \"200\"\n").unwrap();
    let err = Command::cargo_bin("flinkscan")
        .unwrap()
        .args([
            "scan",
            &ip.to_string(),
            "--ports",
            &port.to_string(),
            "--probes",
            dir.path().to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&err);
    assert!(
        err.contains("broken.toml") && err.contains("values"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("broken.toml")).unwrap();

    // The deny-list wins over any probe file, even with --intrusive.
    std::fs::write(
        dir.path().join("evil.toml"),
        "id = \"evil\"\nrule = \"FLINK-REST-PLAINTEXT\"\nservices = [\"jobmanager-rest\"]\ndetail = \"\"\nintrusive = true\n[request]\npath = \"/jobs/00000000000000000000000000000000/yarn-cancel\"\n[[matchers]]\nkind = \"status\"\nvalues = [200]\n",
    )
    .unwrap();
    let err = Command::cargo_bin("flinkscan")
        .unwrap()
        .args([
            "scan",
            &ip.to_string(),
            "--ports",
            &port.to_string(),
            "--intrusive",
            "--probes",
            dir.path().to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&err).contains("deny-list"));
    let after = seen.lock().unwrap().clone();
    assert_eq!(
        after.len(),
        before,
        "a refused run sent requests: {after:?}"
    );
    assert!(!after.iter().any(|p| p.contains("yarn")));
}
