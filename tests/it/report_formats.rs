//! Every report format, validated: SARIF against the OASIS 2.1.0 schema (and
//! the copy GitHub's upload action uses), JSONL against ECS conventions,
//! determinism, baselines and diff. Loopback only.

use std::net::Ipv4Addr;
use std::path::Path;
use std::thread;
use std::time::Duration;

use serde_json::Value;
use support::peers::{fake_rpc, flinkscan, random_octet, Listener};
use support::scan::{Output, Scan};

use crate::support;

fn octet() -> u8 {
    random_octet()
}

/// A loopback listener answering the RPC heartbeat like Akka/Pekko.
struct FakeRpc {
    port: u16,
    _l: Listener,
}

impl FakeRpc {
    fn start(ip: Ipv4Addr) -> FakeRpc {
        let l = Listener::start(ip, 0, fake_rpc);
        FakeRpc {
            port: l.port(),
            _l: l,
        }
    }
}

fn load(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn validate(schema_file: &str, doc: &Value) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("tests/schemas/{schema_file}")).unwrap(),
    )
    .unwrap();
    // GitHub's copy declares draft 2020-12 but has an `anyOf` inside
    // `properties` of `region`, which is invalid there and which the action
    // therefore never enforces: drop it, as the action effectively does.
    let mut schema = schema;
    if let Some(props) = schema
        .pointer_mut("/definitions/region/properties")
        .and_then(|p| p.as_object_mut())
    {
        props.remove("anyOf");
    }
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{schema_file}: {errors:#?}");
}

fn scan(ip: Ipv4Addr, port: u16, extra: &[&str], dir: &Path, name: &str) -> (Value, Value, String) {
    let ran = Scan::new()
        .arg("--no-progress")
        .target(ip.to_string())
        .ports(port.to_string())
        .args(["--probe-timeout", "2s"])
        .args(extra)
        .out_dir(dir, name)
        .json()
        .sarif()
        .jsonl()
        .run();
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    (
        ran.json().clone(),
        ran.sarif().clone(),
        ran.text(Output::Jsonl),
    )
}

#[test]
fn sarif_validates_and_follows_conventions() {
    let ip = Ipv4Addr::new(127, octet(), 11, 1);
    let rpc = FakeRpc::start(ip);
    let dir = tempfile::tempdir().unwrap();
    let (_, sarif, _) = scan(ip, rpc.port, &[], dir.path(), "a");
    validate("sarif-schema-2.1.0.json", &sarif);
    validate("sarif-schema-2.1.0.codeql-action.json", &sarif);
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for r in rules {
        let sev = r["properties"]["security-severity"]
            .as_str()
            .expect("string");
        sev.parse::<f32>().expect("numeric string");
        let tags: Vec<&str> = r["properties"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert!(tags.contains(&"security"));
        assert!(tags.iter().any(|t| t.starts_with("external/cwe/cwe-")));
    }
    let ids: std::collections::BTreeSet<&str> =
        rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), rules.len(), "one rule per id");
    assert!(ids.contains("FLINK-CVE-2020-17519"));

    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    let r = &results[0];
    assert_eq!(r["ruleId"], "FLINK-RPC-PLAINTEXT");
    let loc = &r["locations"][0];
    assert_eq!(
        loc["physicalLocation"]["artifactLocation"]["uri"],
        format!("tcp://{ip}:{}", rpc.port)
    );
    assert!(loc["physicalLocation"].get("region").is_none());
    assert_eq!(
        loc["logicalLocations"][0]["name"],
        format!("{ip}:{}", rpc.port)
    );
    let rule_index = r["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[rule_index]["id"], "FLINK-RPC-PLAINTEXT");
    let first_line = r["message"]["text"]
        .as_str()
        .unwrap()
        .lines()
        .next()
        .unwrap();
    assert_eq!(
        first_line,
        rules[rule_index]["shortDescription"]["text"]
            .as_str()
            .unwrap()
    );
    let fp = r["partialFingerprints"]["flinkscan/v1"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(fp.len(), 64);

    // Same state, second scan: same fingerprint, and the JSON report is
    // byte-identical once ids and times are taken out.
    let (json_a, _, _) = scan(ip, rpc.port, &[], dir.path(), "b");
    let (json_b, sarif_b, _) = scan(ip, rpc.port, &[], dir.path(), "c");
    assert_eq!(
        sarif_b["runs"][0]["results"][0]["partialFingerprints"]["flinkscan/v1"],
        fp
    );
    let strip = |mut v: Value| {
        for k in ["id", "started", "finished", "duration_ms"] {
            v["scan"].as_object_mut().unwrap().remove(k);
        }
        serde_json::to_string_pretty(&v).unwrap()
    };
    assert_eq!(strip(json_a), strip(json_b));

    // GitHub flavour: relative, scheme-less URI with a region.
    let gh = dir.path().join("gh.sarif");
    flinkscan()
        .args([
            "scan",
            "--no-progress",
            &ip.to_string(),
            "--ports",
            &rpc.port.to_string(),
            "--sarif-compat",
            "github",
            "--sarif",
        ])
        .arg(&gh)
        .assert()
        .success();
    let gh = load(&gh);
    validate("sarif-schema-2.1.0.json", &gh);
    let ploc = &gh["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    let uri = ploc["artifactLocation"]["uri"].as_str().unwrap();
    assert!(!uri.contains("://") && !uri.starts_with('/'), "{uri}");
    assert_eq!(ploc["region"]["startLine"], 1);
}

#[test]
fn clean_scan_has_empty_results_and_notifications_for_unresolvable_targets() {
    let dir = tempfile::tempdir().unwrap();
    let sarif = dir.path().join("clean.sarif");
    // Port 1 on loopback: nothing listens. The .invalid TLD never resolves.
    flinkscan()
        .args([
            "scan",
            "--no-progress",
            "127.0.0.1",
            "no-such-host.invalid",
            "--ports",
            "1",
            "--sarif",
        ])
        .arg(&sarif)
        .assert()
        .success();
    let doc = load(&sarif);
    validate("sarif-schema-2.1.0.json", &doc);
    assert_eq!(doc["runs"][0]["results"], serde_json::json!([]));
    let notes = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert!(notes.iter().any(|n| n["message"]["text"]
        .as_str()
        .unwrap()
        .contains("no-such-host.invalid")));
}

#[test]
fn jsonl_lines_are_compact_ecs_and_small() {
    let ip = Ipv4Addr::new(127, octet(), 12, 1);
    let rpc = FakeRpc::start(ip);
    let dir = tempfile::tempdir().unwrap();
    let (_, _, jsonl) = scan(ip, rpc.port, &[], dir.path(), "j");
    assert!(
        jsonl.lines().count() >= 2,
        "a service and a finding: {jsonl}"
    );
    // The stream ends with one event per cluster, once clusters exist.
    let last: Value = serde_json::from_str(jsonl.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"]["dataset"], "flinkscan.cluster", "{jsonl}");
    assert!(last["flink"]["cluster"]["id"].is_string(), "{last}");
    assert!(last["flink"]["cluster"]["members"].is_array(), "{last}");
    assert_eq!(
        jsonl
            .lines()
            .filter(|l| l.contains("\"flinkscan.cluster\""))
            .count(),
        1
    );
    for line in jsonl.lines() {
        support::ecs::assert_ecs_line(line);
        assert!(line.len() < 10_000);
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(line).unwrap();
        if v["event"]["dataset"] == "flinkscan.cluster" {
            assert!(v["message"].is_string());
            continue;
        }
        assert!(v["destination"]["port"].is_u64(), "port is a number");
        assert!(v["destination"]["ip"].is_string());
        assert!(["asset", "state"].contains(&v["event"]["kind"].as_str().unwrap()));
        assert!(v["event"]["category"].is_array());
        assert!(v["url"]["full"].is_string());
        // Custom fields stay under flink.*; ECS roots only otherwise.
        for key in v.as_object().unwrap().keys() {
            assert!(
                [
                    "@timestamp",
                    "ecs",
                    "event",
                    "observer",
                    "destination",
                    "network",
                    "url",
                    "service",
                    "rule",
                    "vulnerability",
                    "flink"
                ]
                .contains(&key.as_str()),
                "unexpected top-level field {key}"
            );
        }
    }
}

#[test]
fn baseline_marks_fixed_and_diff_reports_it() {
    let ip = Ipv4Addr::new(127, octet(), 13, 1);
    let dir = tempfile::tempdir().unwrap();
    let rpc = FakeRpc::start(ip);
    let port = rpc.port;
    let (_, _, _) = scan(ip, port, &[], dir.path(), "before");
    drop(rpc);
    // Wait until the listener is really gone (its thread polls the flag).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect((ip, port)).is_ok() && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    let before = dir.path().join("before.json");
    let (after, sarif, _) = scan(
        ip,
        port,
        &["--baseline", before.to_str().unwrap()],
        dir.path(),
        "after",
    );
    let f = &after["findings"][0];
    assert_eq!(f["rule_id"], "FLINK-RPC-PLAINTEXT");
    assert_eq!(f["baseline_state"], "fixed");
    validate("sarif-schema-2.1.0.json", &sarif);
    assert_eq!(sarif["runs"][0]["results"][0]["baselineState"], "absent");

    let out = flinkscan()
        .args(["diff"])
        .arg(&before)
        .arg(dir.path().join("after.json"))
        .args(["--json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let d: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(d["fixed"].as_array().unwrap().len(), 1);
    assert_eq!(d["new"].as_array().unwrap().len(), 0);
    // Reversed, the finding is new: diff exits 1 for cron jobs.
    flinkscan()
        .args(["diff"])
        .arg(dir.path().join("after.json"))
        .arg(&before)
        .assert()
        .code(1);
}

#[test]
fn config_profile_is_applied_and_command_line_wins() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.toml");
    std::fs::write(
        &profile,
        "targets = [\"127.0.0.1\"]\nports = \"8081\"\ndry-run = true\n",
    )
    .unwrap();
    let out = flinkscan()
        .args(["scan", "--config", profile.to_str().unwrap()])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8_lossy(&out).trim(), "127.0.0.1:8081");
    let out = flinkscan()
        .args([
            "scan",
            "--config",
            profile.to_str().unwrap(),
            "--ports",
            "9",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8_lossy(&out).trim(), "127.0.0.1:9");
    std::fs::write(&profile, "ports = [\n").unwrap();
    flinkscan()
        .args(["scan", "--config", profile.to_str().unwrap()])
        .assert()
        .code(2);
}
