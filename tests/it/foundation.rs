//! End-to-end tests of the scanner's foundation: target parsing and errors,
//! exclusions, the sweep, output shapes, exit codes and atomic writes.
//! Loopback only: every listener and every target is inside 127.0.0.0/8.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::thread;
use std::time::{Duration, Instant};

use predicates::prelude::*;
use serde_json::Value;
use support::peers::{
    close_at_once, fake_rpc, flinkscan, json_file, on_one_free_port, random_octet, tarpit, Listener,
};

use crate::support;
use support::scan::Scan;

#[test]
fn bad_specs_are_rejected_before_any_packet_naming_token_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("targets.txt");
    std::fs::write(&f, "127.0.0.1\n# fine\n\n127.0.0.0/33\n127.0.0.1:99999\n").unwrap();
    let out = flinkscan()
        .args(["scan", "--no-progress", "-i"])
        .arg(&f)
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&out);
    assert!(
        err.contains("targets.txt:4") && err.contains("127.0.0.0/33"),
        "{err}"
    );
    assert!(
        err.contains("targets.txt:5") && err.contains("127.0.0.1:99999"),
        "{err}"
    );

    flinkscan()
        .args(["scan", "127.0.0.300"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("argument 1").and(predicate::str::contains("127.0.0.300")),
        );
    flinkscan()
        .args(["scan", "127.0.0.1", "--ports", "80,,81"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--ports"));
    flinkscan().args(["scan"]).assert().code(2);
    flinkscan()
        .args(["scan", "127.0.0.1", "--timeout", "soon"])
        .assert()
        .code(2);
    flinkscan()
        .args(["scan", "127.0.0.0/8"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--allow-large"));
}

#[test]
fn targets_example_parses_and_dry_run_sends_nothing() {
    let out = flinkscan()
        .args([
            "scan",
            "-i",
            "targets.example",
            "--dry-run",
            "--ports",
            "8081",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let lines: Vec<String> = String::from_utf8_lossy(&out)
        .lines()
        .map(String::from)
        .collect();
    let set: BTreeSet<&String> = lines.iter().collect();
    assert_eq!(set.len(), lines.len(), "duplicates in dry run");
    assert!(lines.contains(&"127.0.3.1:50100".to_string()));
    assert!(lines.contains(&"[::1]:8081".to_string()));
    assert!(lines
        .iter()
        .all(|l| l.starts_with("127.") || l.starts_with("[::1]")));
    // 1 + 16 + 8 + 4 addresses on 8081, localhost folds into 127.0.0.1/::1,
    // plus the explicit 50100.
    assert_eq!(lines.len(), 1 + 16 + 8 + 4 + 1 + 1 - 1);
}

#[test]
fn exclusions_win() {
    let out = flinkscan()
        .args([
            "scan",
            "127.0.0.0/29",
            "127.0.0.5:9999",
            "--exclude",
            "127.0.0.4-127.0.0.7",
            "--ports",
            "1",
            "--dry-run",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let got: BTreeSet<String> = String::from_utf8_lossy(&out)
        .lines()
        .map(String::from)
        .collect();
    let want: BTreeSet<String> = (0..4).map(|i| format!("127.0.0.{i}:1")).collect();
    assert_eq!(got, want);
}

#[test]
fn sweep_of_a_slash16_finds_exactly_the_listeners() {
    let second = random_octet();
    // One port for every listener, free on each address.
    let hosts = [(1u8, 1u8), (7, 200), (128, 3), (255, 254), (42, 42)];
    let (port, listeners) = on_one_free_port(
        &hosts
            .iter()
            .map(|&(a, b)| (Ipv4Addr::new(127, second, a, b), close_at_once as fn(_)))
            .collect::<Vec<_>>(),
    );
    // A listener on another port of a scanned host must not be reported.
    let _other = Listener::start(Ipv4Addr::new(127, second, 1, 1), 0, close_at_once);

    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    flinkscan()
        .args([
            "scan",
            "--no-progress",
            &format!("127.{second}.0.0/16"),
            "--ports",
            &port.to_string(),
        ])
        .arg("--json")
        .arg(&json)
        .args(["--probe-timeout", "2s"])
        .assert()
        .success();
    let doc = json_file(&json);
    let found = endpoints(&doc);
    let want: BTreeSet<String> = listeners.iter().map(|l| l.addr.to_string()).collect();
    assert_eq!(found, want);
    assert_eq!(doc["stats"]["probed"], 65_536);
    assert_eq!(doc["stats"]["open"], 5);
    // Plain accept-and-close listeners are not Flink and yield no finding.
    assert!(doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["flink"] == false));
    assert_eq!(doc["findings"].as_array().unwrap().len(), 0);
}

#[test]
fn outputs_have_their_shapes_and_exit_codes_follow_fail_on() {
    let ip = Ipv4Addr::new(127, random_octet(), 9, 9);
    let rpc = Listener::start(ip, 0, fake_rpc);
    let port = rpc.addr.port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let jsonl = dir.path().join("r.jsonl");
    let sarif = dir.path().join("r.sarif");

    // No --fail-on: findings do not fail the run.
    flinkscan()
        .args(["scan", "--no-progress", &ip.to_string(), "--ports", &port])
        .arg("--json")
        .arg(&json)
        .arg("--jsonl")
        .arg(&jsonl)
        .arg("--sarif")
        .arg(&sarif)
        .assert()
        .code(0);
    let doc = json_file(&json);
    for key in ["tool", "scan", "stats", "services", "findings", "notices"] {
        assert!(doc.get(key).is_some(), "missing {key}");
    }
    assert!(doc["scan"]["id"].as_str().is_some_and(|s| s.len() == 36));
    assert!(doc["scan"]["started"]
        .as_str()
        .is_some_and(|s| s.ends_with('Z')));
    let svc = &doc["services"][0];
    assert_eq!(svc["kind"], "rpc");
    assert_eq!(svc["flink"], true);
    // Alone on its host: any Akka/Pekko classic-remoting server answers alike.
    assert_eq!(svc["confidence"], 75);
    assert_eq!(doc["findings"][0]["rule_id"], "FLINK-RPC-PLAINTEXT");

    let text = std::fs::read_to_string(&jsonl).unwrap();
    assert!(text.ends_with('\n'));
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    // A service, its finding, and the cluster (host) they form, last.
    assert_eq!(events.len(), 3, "{text}");
    assert_eq!(events[2]["event"]["dataset"], "flinkscan.cluster");
    for e in &events[..2] {
        assert_eq!(e["ecs"]["version"], "8.17.0");
        assert_eq!(e["observer"]["type"], "scanner");
        assert_eq!(
            e["destination"]["port"].as_u64(),
            Some(u64::from(rpc.addr.port()))
        );
        assert!(e["@timestamp"].is_string());
    }
    let finding = events
        .iter()
        .find(|e| e["event"]["dataset"] == "flinkscan.finding")
        .unwrap();
    assert_eq!(finding["event"]["category"][0], "vulnerability");
    assert_eq!(finding["vulnerability"]["severity"], "critical");
    assert_eq!(finding["url"]["full"], format!("tcp://{}", rpc.addr));

    for p in [&json, &jsonl, &sarif] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }

    flinkscan()
        .args([
            "scan",
            "--no-progress",
            &ip.to_string(),
            "--ports",
            &port,
            "--fail-on",
            "high",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("FLINK-RPC-PLAINTEXT"));
    flinkscan()
        .args([
            "scan",
            "--no-progress",
            &ip.to_string(),
            "--ports",
            &port,
            "--fail-on",
            "critical",
            "--skip-rules",
            "FLINK-RPC-*",
        ])
        .assert()
        .code(0);
    // JSONL on stdout: only JSON lines there, the summary goes to stderr.
    let out = flinkscan()
        .args([
            "scan",
            "--no-progress",
            &ip.to_string(),
            "--ports",
            &port,
            "--jsonl",
            "-",
        ])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    for line in String::from_utf8_lossy(&out).lines() {
        serde_json::from_str::<Value>(line).expect("only JSON on stdout");
    }
}

#[test]
fn a_killed_scan_leaves_no_partial_report() {
    let ip = Ipv4Addr::new(127, random_octet(), 3, 3);
    let pit = Listener::start(ip, 0, tarpit);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("killed.json");
    let jsonl = dir.path().join("killed.jsonl");
    let mut run = Scan::new()
        .arg("--no-progress")
        .target(ip.to_string())
        .ports(pit.addr.port().to_string())
        .args(["--probe-timeout", "30s"])
        .out_dir(dir.path(), "killed")
        .json()
        .jsonl()
        .spawn();
    // Wait until the scan is inside identification (the tarpit has a client).
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let partial = std::fs::read_dir(dir.path()).unwrap().count();
        if partial > 0 {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(300));
    run.kill();
    assert!(!json.exists(), "a killed scan must not leave a JSON report");
    // JSON Lines are written live under the real name (issue 18: log
    // shippers follow the file); what is there is whole lines only.
    let text = std::fs::read_to_string(&jsonl).unwrap_or_default();
    assert!(text.is_empty() || text.ends_with('\n'), "torn line: {text}");
    for line in text.lines() {
        serde_json::from_str::<Value>(line).expect("whole JSON lines");
    }
}

#[test]
fn rules_lists_the_catalog() {
    flinkscan().args(["rules"]).assert().success().stdout(
        predicate::str::contains("FLINK-REST-UNAUTHENTICATED")
            .and(predicate::str::contains("FLINK-CVE-2020-17519")),
    );
    flinkscan()
        .args(["scan", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes").and(predicate::str::contains("--fail-on")));
}

#[test]
fn a_low_open_file_limit_slows_the_sweep_but_loses_nothing() {
    let second = random_octet();
    let hosts = [(2u8, 1u8), (3, 77), (0, 5)];
    let (port, listeners) = on_one_free_port(
        &hosts
            .iter()
            .map(|&(a, b)| (Ipv4Addr::new(127, second, a, b), close_at_once as fn(_)))
            .collect::<Vec<_>>(),
    );
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("lowfd.json");
    // A hard limit of 128 descriptors cannot be raised: the window must fit it.
    let ran = Scan::new()
        .via("sh", ["-c", "ulimit -n 128 && exec \"$0\" \"$@\""])
        .arg("-q")
        .target(format!("127.{second}.0.0/22"))
        .ports(port.to_string())
        .args(["--concurrency", "5000", "--probe-timeout", "2s", "--json"])
        .arg(&json)
        .run();
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let doc = json_file(&json);
    assert_eq!(doc["stats"]["probed"], 1024);
    let found = endpoints(&doc);
    let want: BTreeSet<String> = listeners.iter().map(|l| l.addr.to_string()).collect();
    assert_eq!(found, want);
}

#[test]
fn ipv6_loopback_is_scanned() {
    // A machine without ::1 is missing a component like any other: it
    // cannot show that IPv6 targets work.
    let l = match TcpListener::bind("[::1]:0") {
        Ok(l) => l,
        Err(e) => {
            support::missing(
                &format!("IPv6 on loopback (bind [::1]:0: {e})"),
                "enable it with `sysctl -w net.ipv6.conf.lo.disable_ipv6=0` \
                 (a container: --sysctl net.ipv6.conf.lo.disable_ipv6=0)",
            );
            return;
        }
    };
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || for _c in l.incoming() {});
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("v6.json");
    flinkscan()
        .args([
            "scan",
            "--no-progress",
            &format!("[::1]:{port}"),
            "--probe-timeout",
            "1s",
            "--json",
        ])
        .arg(&json)
        .assert()
        .success();
    let doc = json_file(&json);
    assert_eq!(doc["services"][0]["ip"], "::1");
    assert_eq!(doc["services"][0]["port"], port);
}

/// The `ip:port` of every service in a JSON report.
fn endpoints(doc: &Value) -> BTreeSet<String> {
    doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{}:{}", s["ip"].as_str().unwrap(), s["port"]))
        .collect()
}

#[test]
fn a_probe_timeout_below_the_silent_port_floor_is_honoured() {
    let ip = Ipv4Addr::new(127, random_octet(), 9, 9);
    let pit = Listener::start(ip, 0, tarpit);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    flinkscan()
        .args(["scan", "--no-progress", &ip.to_string(), "--ports"])
        .arg(pit.addr.port().to_string())
        .args(["--probe-timeout", "300ms", "--json"])
        .arg(&json)
        .assert()
        .code(0);
    let doc = json_file(&json);
    let svc = &doc["services"][0];
    assert_eq!(svc["kind"], "unknown", "{doc}");
    assert!(
        svc["errors"][0].as_str().unwrap().contains("300ms"),
        "{svc}"
    );

    // Zero and negative durations are usage errors, not silent defaults.
    for bad in ["0", "-1", "0s"] {
        flinkscan()
            .args(["scan", "127.0.0.1", "--dry-run", "--probe-timeout", bad])
            .assert()
            .code(2);
    }
}
