//! Identification across Flink's generations, on real Flink: the oldest line
//! the design notes measured (1.14, Akka, end of life) and the 2.x lines (Pekko,
//! config.yaml). Each JobManager runs on its own 127.x.y.z; the scan must name
//! REST, RPC and BLOB, the exact version and the RPC generation.

use crate::support;

use support::flink::{self, Flink, FlinkOpts};
use support::scan::Scan;

struct Expect {
    version: &'static str,
    generation: &'static str,
    end_of_life: bool,
}

fn check(e: Expect) {
    let jm = Flink::start_jobmanager(FlinkOpts::new(e.version));
    let out = flink::scan(&[jm.ip.to_string()], &["--no-progress"]);
    let rest = out.service(8081);
    assert_eq!(rest["kind"], "jobmanager-rest", "{}", jm.log_tail());
    assert_eq!(rest["version"], e.version, "{rest}");
    assert_eq!(rest["rpc_generation"], e.generation, "{rest}");
    // Real Flink lists its TaskManagers and jobs: never doubted as a copy.
    assert_eq!(rest["confidence"], 100, "{rest}");
    // Flink writes "<short commit> @ <build date>".
    let revision = rest["revision"].as_str().unwrap_or_default();
    let commit = revision.split(" @ ").next().unwrap_or_default();
    assert!(
        commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit()),
        "revision: {rest}"
    );

    let rpc = out.service(6123);
    assert_eq!(rpc["kind"], "rpc", "{rpc}");
    assert_eq!(rpc["rpc_generation"], e.generation, "{rpc}");
    assert_eq!(rpc["product"], "Apache Flink", "{rpc}");
    // Corroborated by REST and BLOB on the same host, in the stream too: its
    // last event for the port carries the final state.
    assert_eq!(rpc["confidence"], 95, "{rpc}");
    let streamed = out
        .text("jsonl")
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"]["dataset"] == "flinkscan.service" && v["destination"]["port"] == 6123)
        .expect("an RPC service event");
    assert_eq!(streamed["flink"]["service"]["confidence"], 95, "{streamed}");
    assert_eq!(
        streamed["flink"]["service"]["version"], e.version,
        "{streamed}"
    );
    assert_eq!(out.service(6124)["kind"], "blob-server");
    // Versions reach the ports that cannot tell them from the REST API.
    assert_eq!(rpc["version"], e.version, "{rpc}");

    let rules = out.rules_at(8081);
    assert!(
        rules.contains(&"FLINK-REST-UNAUTHENTICATED".to_string()),
        "{rules:?}"
    );
    assert_eq!(
        rules.contains(&"FLINK-EOL-VERSION".to_string()),
        e.end_of_life,
        "{rules:?}"
    );
    assert!(out
        .rules_at(6123)
        .contains(&"FLINK-RPC-PLAINTEXT".to_string()));
    assert!(out
        .rules_at(6124)
        .contains(&"FLINK-BLOB-PLAINTEXT".to_string()));
    out.assert_absent("Spark");

    // Alone, the RPC port is still reported (its finding stands), with the
    // lower confidence of a protocol that other Akka/Pekko servers speak.
    let alone = flink::scan(&[jm.ip.to_string()], &["--no-progress", "--ports", "6123"]);
    let rpc = alone.service(6123);
    assert_eq!(rpc["kind"], "rpc", "{rpc}");
    assert_eq!(rpc["confidence"], 75, "{rpc}");
    assert!(alone
        .rules_at(6123)
        .contains(&"FLINK-RPC-PLAINTEXT".to_string()));
}

#[test]
fn flink_1_14_akka() {
    check(Expect {
        version: "1.14.6",
        generation: "akka",
        end_of_life: true,
    });
}

#[test]
fn flink_2_1_pekko() {
    check(Expect {
        version: "2.1.1",
        generation: "pekko",
        // The 2.1 line left support when 2.3.0 came out (2026-06-25): the
        // policy keeps the current and previous minor lines plus 1.20 LTS.
        end_of_life: true,
    });
}

#[test]
fn flink_2_3_pekko() {
    check(Expect {
        version: "2.3.0",
        generation: "pekko",
        end_of_life: false,
    });
}

/// `--jsonl-format ocsf` on a real JobManager: every line is an OCSF 1.3.0
/// Vulnerability Finding (schema derived from ocsf/ocsf-schema v1.3.0 by
/// scripts/ocsf-schema.py), one per finding of the JSON report.
#[test]
fn ocsf_vulnerability_findings_validate() {
    let jm = Flink::start_jobmanager(
        FlinkOpts::new("1.20.1").conf("s3.access-key", "AKIAPLANTEDOCSFSECRET"),
    );
    let out = flink::scan(
        &[jm.ip.to_string()],
        &["--no-progress", "--jsonl-format", "ocsf"],
    );
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("tests/schemas/ocsf-1.3.0-vulnerability-finding.json").unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let text = out.text("jsonl");
    let mut uids = Vec::new();
    for line in text.lines() {
        let event: serde_json::Value = serde_json::from_str(line).expect("one JSON object a line");
        let errors: Vec<String> = validator
            .iter_errors(&event)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}\n{line}");
        assert_eq!(event["class_uid"], 2002);
        assert_eq!(event["type_uid"], 200201);
        assert!(line.len() < 10_000);
        uids.push(
            event["finding_info"]["analytic"]["uid"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let mut expected: Vec<String> = out.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap().to_string())
        .collect();
    uids.sort();
    expected.sort();
    assert_eq!(uids, expected);
    assert!(uids.contains(&"FLINK-CONFIG-SECRET-EXPOSED".to_string()));
    let unauth = text
        .lines()
        .find(|l| l.contains("\"FLINK-REST-UNAUTHENTICATED\""))
        .expect("REST finding");
    assert!(unauth.contains("\"severity_id\":5"), "{unauth}");
    assert!(unauth.contains("\"uid\":\"CWE-306\""), "{unauth}");
    out.assert_absent("AKIAPLANTEDOCSFSECRET");
}

/// Shards split a host's ports (8 shards of the 8 default probes: one port each), so
/// the RPC port's shard never sees REST. Merged, the report must say what
/// the unsharded scan says: the RPC port's version and confidence 95.
#[test]
fn merged_shards_share_a_hosts_identity_like_one_scan() {
    let jm = Flink::start_jobmanager(FlinkOpts::new("2.3.0"));
    let dir = tempfile::tempdir().unwrap();
    let target = jm.ip.to_string();
    let mut parts = Vec::new();
    for k in 0..8 {
        let path = dir.path().join(format!("shard-{k}.json"));
        let ran = Scan::new()
            .arg("--no-progress")
            .target(&target)
            .args(["--seed", "7", "--shard", &format!("{k}/8"), "--json"])
            .arg(&path)
            .run();
        assert!(
            ran.code.is_some_and(|c| c <= 1),
            "{:?}: {}",
            ran.code,
            ran.stderr
        );
        parts.push(path);
    }
    let merged = dir.path().join("merged.json");
    let out = assert_cmd::Command::cargo_bin("flinkscan")
        .unwrap()
        .arg("merge")
        .args(&parts)
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let merged = flink::ScanOutput {
        json: serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap(),
        raw: Vec::new(),
    };
    let rpc = merged.service(6123);
    assert_eq!(rpc["confidence"], 95, "{rpc}");
    assert_eq!(rpc["version"], "2.3.0", "{rpc}");
    let rpc_finding = merged.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["port"] == 6123)
        .expect("RPC finding");
    assert_eq!(rpc_finding["version"], "2.3.0");
}
