//! What an unauthenticated reader takes away, against real Flink running a
//! real job: the harness builds a job jar with javac, uploads and runs it
//! through the REST API with credentials planted in its program arguments
//! (which the job makes its global job parameters) and in a JVM option of
//! the JobManager (printed in its log); the scan must report the job, its
//! flows and every planted credential, and no output may hold a value.

use crate::support;

use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::flink::{self, Flink, FlinkOpts};
use support::jobs::{self, Forward, Rest, JOB_NAME};
use support::scan::Scan;

/// Two JVMs per test on two shared cores: one version at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Every planted value contains this; no output may.
const MARK: &str = "PLANTED";

struct Planted {
    /// Program arguments `--key value`, as the job receives them.
    params: Vec<(&'static str, String)>,
    /// Keys whose values Flink does not mask and the scan must call secret
    /// by their shape.
    by_shape: Vec<&'static str>,
    /// A JVM option of the JobManager (its log prints it).
    jvm: String,
}

fn planted(version: &str) -> Planted {
    let tag: String = version.chars().filter(char::is_ascii_digit).collect();
    // An AWS access key id: AKIA and 16 upper-case letters or digits.
    let aws = format!("AKIA{:Q<16}", format!("{MARK}{tag}"));
    Planted {
        params: vec![
            ("db.password", format!("{MARK}dbpw{tag}")),
            (
                "kafka.sasl.jaas",
                format!(
                    r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="orders" password="{MARK}jaas{tag}";"#
                ),
            ),
            (
                "jdbc.url",
                format!("jdbc:postgresql://db.test:5432/orders?user=app&password={MARK}jdbc{tag}"),
            ),
            ("sink.key", aws),
            (
                "tls.key",
                format!(
                    "-----BEGIN PRIVATE KEY-----\nMIIE{MARK}pem{tag}\n-----END PRIVATE KEY-----"
                ),
            ),
            ("api.token", format!("{MARK}token{tag}")),
            ("kafka.topic", "orders".to_string()),
        ],
        by_shape: vec!["kafka.sasl.jaas", "jdbc.url", "sink.key", "tls.key"],
        jvm: format!("-Dflinkscan.job.token={MARK}log{tag}"),
    }
}

/// A JobManager with a TaskManager running the job with the planted
/// parameters; returns them with the job id.
struct Running {
    tm: Flink,
    jm: Flink,
    _forward: Forward,
    job: String,
    planted: Planted,
    _dir: tempfile::TempDir,
}

fn start(version: &'static str) -> Option<Running> {
    let (javac, jar, curl) = jobs::tools()?;
    let dir = tempfile::tempdir().unwrap();
    let jar_path = jobs::job_jar(&javac, &jar, version, dir.path());
    let planted = planted(version);
    let mut opts = FlinkOpts::new(version).jvm(&planted.jvm);
    opts.blob_port = jobs::blob_port(opts.ip);
    let forward = Forward::start(opts.blob_port, opts.ip);
    let jm = Flink::start_jobmanager(opts);
    let tm = Flink::start_taskmanager(&jm, flink::free_port(), flink::free_port());
    let rest = Rest {
        curl: &curl,
        addr: jm.rest(),
        tls: None,
    };
    let args: Vec<String> = planted
        .params
        .iter()
        .flat_map(|(k, v)| [format!("--{k}"), v.clone()])
        .collect();
    let job = rest.submit(&jar_path, &args);
    rest.wait_for_state(&job, "RUNNING");
    Some(Running {
        tm,
        jm,
        _forward: forward,
        job,
        planted,
        _dir: dir,
    })
}

fn finding<'a>(out: &'a flink::ScanOutput, rule: &str) -> &'a Value {
    out.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == rule && f["port"] == 8081)
        .unwrap_or_else(|| panic!("no {rule} on 8081: {}", out.json["findings"]))
}

fn jobs_at_8081(out: &flink::ScanOutput) -> &Value {
    &out.service(8081)["deployment"]["jobs"]
}

fn the_scan_reports_the_job_and_every_planted_secret(version: &'static str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(run) = start(version) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (html, md) = (dir.path().join("r.html"), dir.path().join("r.md"));
    let mut out = flink::scan(
        &[run.jm.ip.to_string()],
        &[
            "--html",
            html.to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
        ],
    );
    for (name, path) in [("html", &html), ("markdown", &md)] {
        out.raw.push((name.into(), flink::read_output(path, b"")));
    }
    let ctx = || {
        format!(
            "{}\n--- TaskManager ---\n{}",
            run.jm.log_tail(),
            run.tm.log_tail()
        )
    };

    // The inventory: the job, its state, its flows, its parameter keys.
    let inv = jobs_at_8081(&out);
    assert_eq!(inv["listed"], 1, "{inv}\n{}", ctx());
    assert_eq!(inv["states"]["RUNNING"], 1, "{inv}");
    let job = &inv["jobs"][0];
    assert_eq!(job["id"], run.job.as_str());
    assert_eq!(job["name"], JOB_NAME);
    assert_eq!(job["state"], "RUNNING");
    assert_eq!(
        job["sources"],
        serde_json::json!(["KafkaSource-orders"]),
        "{job}"
    );
    assert_eq!(
        job["sinks"],
        serde_json::json!(["JdbcSink-orders_enriched"]),
        "{job}"
    );
    assert_eq!(job["parameters_listed"], run.planted.params.len(), "{job}");
    let status = |key: &str| -> String {
        job["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["key"] == key)
            .unwrap_or_else(|| panic!("parameter {key} missing: {job}"))["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for key in &run.planted.by_shape {
        assert_eq!(status(key), "secret", "{key} on {version}: {job}");
    }
    assert_eq!(status("kafka.topic"), "plain");

    // Every planted credential is a finding: in clear, or masked by Flink.
    let exposed = finding(&out, "FLINK-JOB-SECRET-EXPOSED");
    assert_eq!(exposed["severity"], "high");
    let masked = out.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "FLINK-JOB-SECRET-MASKED")
        .map(|f| f["detail"].as_str().unwrap().to_string())
        .unwrap_or_default();
    let clear = exposed["detail"].as_str().unwrap();
    for (key, _) in run
        .planted
        .params
        .iter()
        .filter(|(k, _)| *k != "kafka.topic")
    {
        match status(key).as_str() {
            "secret" => assert!(clear.contains(key), "{key} not in {clear}"),
            "masked" => assert!(masked.contains(key), "{key} not in {masked}"),
            other => panic!("{key} is {other} on {version}: {job}"),
        }
    }
    assert!(clear.contains(JOB_NAME), "{clear}");
    let evidence = serde_json::to_string(&exposed["evidence"]).unwrap();
    assert!(
        evidence.contains(&format!("/jobs/{}/config", run.job)),
        "{evidence}"
    );

    // The JobManager's log prints the JVM option.
    let log = finding(&out, "FLINK-LOG-SECRET-EXPOSED");
    let detail = log["detail"].as_str().unwrap();
    assert!(detail.contains("flinkscan.job.token"), "{detail}");
    finding(&out, "FLINK-LOGS-READABLE");
    let logs = inv["logs"].as_array().unwrap();
    assert!(logs
        .iter()
        .all(|l| l["bytes"].as_u64().unwrap() <= 256 * 1024));
    assert!(logs.iter().any(|l| l["source"] == "jobmanager"), "{inv}");
    let jars = finding(&out, "FLINK-JARS-LISTED");
    assert!(jars["detail"]
        .as_str()
        .unwrap()
        .contains("orders-enrichment.jar"));
    let inventory = finding(&out, "FLINK-JOB-INVENTORY");
    assert!(inventory["detail"]
        .as_str()
        .unwrap()
        .contains("KafkaSource-orders"));

    // The cluster card and its attack paths use it.
    let cluster = out.json["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["jobs"].is_object())
        .unwrap_or_else(|| panic!("no cluster with jobs: {}", out.json["clusters"]));
    let summary = cluster["jobs"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("1 running job: orders-enrichment reads KafkaSource-orders, writes JdbcSink-orders_enriched")
            && summary.contains("exposes credentials"),
        "{summary}"
    );
    let paths = serde_json::to_string(&cluster["paths"]).unwrap();
    assert!(
        paths.contains("Read job orders-enrichment's credentials"),
        "{paths}"
    );
    assert!(
        out.text("stdout").contains("runs: 1 running job"),
        "{}",
        out.text("stdout")
    );
    assert!(out.text("html").contains("What runs there"));
    assert!(out.text("markdown").contains("**Runs:**"));
    let job_event = out
        .text("jsonl")
        .lines()
        .any(|l| l.contains("\"flinkscan.job\"") && l.contains(&run.job));
    assert!(job_event, "no flinkscan.job event");
    let sarif = out.text("sarif");
    assert!(sarif.contains("FLINK-JOB-SECRET-EXPOSED") && sarif.contains(JOB_NAME));

    // No output holds a value.
    out.assert_absent(MARK);

    // Nor the checkpoint and its results file, written while a scan runs.
    interrupted_scan_keeps_no_secret(run.jm.ip);
}

/// A scan with `--state`, stopped by SIGTERM once the JobManager's
/// findings have streamed: the checkpoint and `.results` it leaves hold
/// the inventory, and no planted value.
fn interrupted_scan_keeps_no_secret(jm: Ipv4Addr) {
    // A listener that accepts and never answers keeps the scan running.
    let hang_ip = flink::unique_loopback();
    let hang = TcpListener::bind((hang_ip, 0)).unwrap();
    let hang_port = hang.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in hang.incoming().flatten() {
            held.push(c);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.state");
    let results = dir.path().join("s.state.results");
    let jsonl = dir.path().join("s.jsonl");
    let json = dir.path().join("s.json");
    let mut run = Scan::new()
        .target(format!("{jm}:8081"))
        .target(format!("{hang_ip}:{hang_port}"))
        .args(["--probe-timeout", "30s", "--no-progress"])
        .arg("--state")
        .arg(&state)
        .out_dir(dir.path(), "s")
        .jsonl()
        .json()
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(120);
    let streamed =
        |p: &Path| std::fs::read_to_string(p).is_ok_and(|t| t.contains("FLINK-JOB-SECRET-EXPOSED"));
    let kept = |p: &Path| std::fs::read_to_string(p).is_ok_and(|t| t.contains(JOB_NAME));
    while !(streamed(&jsonl) && state.exists() && kept(&results)) {
        assert!(
            run.running(),
            "the scan ended before its checkpoint held the job"
        );
        assert!(
            Instant::now() < deadline,
            "no checkpoint with the job within 120 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    run.signal("TERM");
    let ran = run.wait(Duration::from_secs(120));
    assert_eq!(ran.code, Some(143), "{}", ran.stderr);
    for path in [&state, &results, &jsonl, &json] {
        let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
        assert!(
            !text.contains(MARK),
            "a planted value leaked into {}",
            path.display()
        );
    }
    assert!(!ran.stderr.contains(MARK));
}

#[test]
fn flink_1_14_jobs_and_their_secrets() {
    the_scan_reports_the_job_and_every_planted_secret("1.14.6");
}

#[test]
fn flink_1_20_jobs_and_their_secrets() {
    the_scan_reports_the_job_and_every_planted_secret("1.20.1");
}

#[test]
fn flink_2_3_jobs_and_their_secrets() {
    the_scan_reports_the_job_and_every_planted_secret("2.3.0");
}

/// The HistoryServer serves an archived job's pages too: a cancelled job's
/// parameters are as readable there as on the JobManager.
#[test]
fn a_history_server_shows_an_archived_jobs_credentials() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let version = "2.3.0";
    let Some((javac, jar, curl)) = jobs::tools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let archive = tempfile::tempdir().unwrap();
    let jar_path = jobs::job_jar(&javac, &jar, version, dir.path());
    let planted = planted(version);
    let mut opts = FlinkOpts::new(version).conf(
        "jobmanager.archive.fs.dir",
        &format!("file://{}", archive.path().display()),
    );
    opts.blob_port = jobs::blob_port(opts.ip);
    let _forward = Forward::start(opts.blob_port, opts.ip);
    let jm = Flink::start_jobmanager(opts);
    let _tm = Flink::start_taskmanager(&jm, flink::free_port(), flink::free_port());
    let rest = Rest {
        curl: &curl,
        addr: jm.rest(),
        tls: None,
    };
    let args: Vec<String> = planted
        .params
        .iter()
        .flat_map(|(k, v)| [format!("--{k}"), v.clone()])
        .collect();
    let job = rest.submit(&jar_path, &args);
    rest.wait_for_state(&job, "RUNNING");
    rest.cancel(&job);
    // unique_loopback() checked that 8082 is free on this address.
    let hs = Flink::start_history_server_of(version, jm.ip, 8082, archive.path());
    let hs_addr = std::net::SocketAddr::from((jm.ip, 8082));
    let deadline = Instant::now() + Duration::from_secs(120);
    while !flink::http_get(hs_addr, "/jobs/overview").is_some_and(|r| r.contains(&job)) {
        assert!(
            Instant::now() < deadline,
            "the HistoryServer did not list job {job} within 120 s\n{}",
            hs.log_tail()
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    let out = flink::scan(&[format!("{}:8082", jm.ip)], &[]);
    let svc = out.service(8082);
    assert_eq!(svc["kind"], "history-server", "{svc}");
    let inv = &svc["deployment"]["jobs"];
    let archived = &inv["jobs"][0];
    assert_eq!(archived["id"], job.as_str(), "{inv}");
    assert_eq!(archived["name"], JOB_NAME);
    assert_eq!(archived["state"], "CANCELED");
    assert_eq!(
        archived["sources"],
        serde_json::json!(["KafkaSource-orders"])
    );
    let secret_keys: Vec<&str> = archived["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "secret")
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    for key in &planted.by_shape {
        assert!(secret_keys.contains(key), "{key}: {archived}");
    }
    // No jars or logs on a HistoryServer.
    assert!(inv["jars"].is_null() && inv["logs"].is_null(), "{inv}");
    let rules = out.rules_at(8082);
    assert!(
        rules.contains(&"FLINK-JOB-SECRET-EXPOSED".to_string()),
        "{rules:?}"
    );
    assert!(!rules.contains(&"FLINK-LOGS-READABLE".to_string()));
    out.assert_absent(MARK);
}

/// REST behind mutual TLS: the same job runs (the harness holds a client
/// certificate), and the scan, which has none, reports none of it.
#[test]
fn a_locked_down_cluster_reports_no_jobs() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let version = "1.20.1";
    let Some((javac, jar, curl)) = jobs::tools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let jar_path = jobs::job_jar(&javac, &jar, version, dir.path());
    let m = flink::tls_material();
    let planted = planted(version);
    let mut opts = FlinkOpts::new(version).confs(flink::rest_mtls(&m));
    opts.blob_port = jobs::blob_port(opts.ip);
    let _forward = Forward::start(opts.blob_port, opts.ip);
    let jm = Flink::start_jobmanager(opts);
    let rest = Rest {
        curl: &curl,
        addr: jm.rest(),
        tls: Some(&m),
    };
    let args: Vec<String> = planted
        .params
        .iter()
        .flat_map(|(k, v)| [format!("--{k}"), v.clone()])
        .collect();
    let job = rest.submit(&jar_path, &args);
    // No TaskManager: the job waits for slots, its configuration is there.
    let config = rest.get(&format!("/jobs/{job}/config"));
    assert!(
        config.to_string().contains("jdbc.url"),
        "the harness could not read its own job: {config}"
    );

    let out = flink::scan(&[jm.ip.to_string()], &[]);
    let svc = out.service(8081);
    assert!(svc["deployment"]["jobs"].is_null(), "{svc}");
    let rules = out.rules_at(8081);
    for r in &rules {
        assert!(
            !r.starts_with("FLINK-JOB") && !r.starts_with("FLINK-LOG") && r != "FLINK-JARS-LISTED",
            "{r} on a mutual-TLS REST API: {rules:?}"
        );
    }
    assert!(!out.text("jsonl").contains("flinkscan.job"));
    out.assert_absent(MARK);
}

// ---- an application cluster: the job's arguments on the command line -------

/// An application cluster (what `standalone-job.sh` and Kubernetes
/// application mode run) takes the job's program arguments on the
/// JobManager's own command line, and Flink logs them at start-up, one per
/// line. It hides an argument that holds a sensitive word (`--db.password`
/// reads `****** (sensitive information)`), not the value on the next line
/// (measured on 1.14.6 and 2.3.0). The scan must report each such value
/// as LOG-SECRET-EXPOSED, and no output may hold one.
fn program_arguments_in_the_log(version: &'static str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some((javac, jar, _)) = jobs::tools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let jar_path = jobs::job_jar(&javac, &jar, version, dir.path());
    let tag: String = version.chars().filter(char::is_ascii_digit).collect();
    let password = format!("{MARK}argpw{tag}");
    let token = format!("{MARK}argtok{tag}");
    let aws = format!("AKIA{:Q<16}", format!("{MARK}{tag}"));
    let args: Vec<String> = [
        ("db.password", password.as_str()),
        ("api.token", token.as_str()),
        ("sink.key", aws.as_str()),
        ("kafka.topic", "orders"),
    ]
    .iter()
    .flat_map(|(k, v)| [format!("--{k}"), v.to_string()])
    .collect();
    let jm = Flink::start_application(FlinkOpts::new(version), &jar_path, jobs::ENTRY_CLASS, &args);
    // What Flink printed: the names it deems sensitive hidden, the values
    // not (the premise of this test, checked on the real log).
    let log = std::fs::read_to_string(jm.dir.path().join("flink.log")).unwrap();
    let block: Vec<&str> = log
        .lines()
        .skip_while(|l| !l.ends_with(" Program Arguments:"))
        .take(12)
        .collect();
    let printed = block.join("\n");
    assert!(
        printed.contains("****** (sensitive information)") && printed.contains(&password),
        "Flink {version} logged its program arguments otherwise:\n{printed}"
    );
    let out = flink::scan(&[jm.ip.to_string()], &[]);
    let ctx = || format!("{printed}\n{}", jm.log_tail());
    let finding = out.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "FLINK-LOG-SECRET-EXPOSED")
        .unwrap_or_else(|| {
            panic!(
                "no FLINK-LOG-SECRET-EXPOSED: {}\n{}",
                out.json["findings"],
                ctx()
            )
        });
    assert_eq!(finding["severity"], "high");
    let logs = jobs_at_8081(&out)["logs"].as_array().unwrap();
    let jm_log = logs
        .iter()
        .find(|l| l["source"] == "jobmanager")
        .unwrap_or_else(|| panic!("JobManager log not read: {logs:?}"));
    let secrets: Vec<(String, u64)> = jm_log["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap().to_string(),
                s["secret"]["length"].as_u64().unwrap(),
            )
        })
        .collect();
    // Each value, named as well as the log allows: 1.14.6 does not count
    // "token" as sensitive and prints `--api.token` itself (measured).
    let masked = "argument after a name Flink masked";
    let token_key = if version.starts_with("1.14") {
        "argument --api.token"
    } else {
        masked
    };
    for (key, len) in [
        (masked, password.len()),
        (token_key, token.len()),
        ("argument --sink.key", aws.len()),
    ] {
        let want = (key.to_string(), len as u64);
        assert!(
            secrets.contains(&want),
            "{want:?} not in {secrets:?}\n{}",
            ctx()
        );
    }
    let detail = finding["detail"].as_str().unwrap();
    assert!(
        detail.contains("argument after a name Flink masked"),
        "{detail}"
    );
    // The values are in the log, and in no output: JSON, JSONL, SARIF,
    // terminal (stdout and stderr).
    for value in [&password, &token, &aws] {
        out.assert_absent(value);
    }
    out.assert_absent(MARK);
}

#[test]
fn flink_1_14_application_program_arguments_in_the_log() {
    program_arguments_in_the_log("1.14.6");
}

#[test]
fn flink_2_3_application_program_arguments_in_the_log() {
    program_arguments_in_the_log("2.3.0");
}

/// The harness keeps each JobManager's configuration file next to its log
/// (one directory for both, as a deployment with `env.log.dir` left in the
/// configuration directory does): Flink lists it and serves it to anyone.
/// The scan names it from the list, high, without requesting it.
fn configuration_in_the_log_directory(version: &'static str, file: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let jm = Flink::start_jobmanager(FlinkOpts::new(version));
    // The premise, checked on the real server: the file is served.
    let served =
        flink::http_get(jm.rest(), &format!("/jobmanager/logs/{file}")).unwrap_or_default();
    assert!(
        served.starts_with("HTTP/1.1 200") && served.contains("rest.bind-address"),
        "Flink {version} does not serve {file}: {served}"
    );
    let out = flink::scan(&[jm.ip.to_string()], &[]);
    let f = out.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "FLINK-LOG-DIR-SENSITIVE-FILE" && f["port"] == 8081)
        .unwrap_or_else(|| panic!("no FLINK-LOG-DIR-SENSITIVE-FILE: {}", out.json["findings"]));
    assert_eq!(f["severity"], "high");
    let detail = f["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("{file} (Flink's configuration file, unmasked)")),
        "{detail}"
    );
    // Logs and the rest of the directory are not called sensitive.
    assert!(
        !detail.contains("flink.log") && !detail.contains("log4j"),
        "{detail}"
    );
    assert!(out.text("sarif").contains("FLINK-LOG-DIR-SENSITIVE-FILE"));
    // The cluster card ranks it as a way in.
    let paths = out.json["clusters"].to_string();
    assert!(
        paths.contains("Configuration and key files downloaded from the log directory"),
        "{paths}"
    );
}

#[test]
fn flink_1_14_serves_flink_conf_yaml_from_the_log_directory() {
    configuration_in_the_log_directory("1.14.6", "flink-conf.yaml");
}

#[test]
fn flink_1_20_serves_config_yaml_from_the_log_directory() {
    configuration_in_the_log_directory("1.20.1", "config.yaml");
}

// ---- a large and hostile JobManager ---------------------------------------
//
// A replay, not Flink: no real cluster holds 10,000 jobs on this machine.
// Its answers have the shapes measured on real Flink 2.3.0 (the parsers in
// src/inventory/flink.rs cite the handlers); what it adds is size and
// malice.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use support::peers::{not_found, read_head_within, request_path, respond, respond_with, Listener};

const JOBS: usize = 10_000;
const RUNNING: usize = 60;
/// A JobManager log four times the per-file cap, its secrets past the cap.
const BIG_LOG: usize = 1024 * 1024;

fn job_id(i: usize) -> String {
    format!("{i:032x}")
}

fn overview() -> String {
    let jobs: Vec<String> = (0..JOBS)
        .map(|i| {
            let state = if i < RUNNING { "RUNNING" } else { "FINISHED" };
            format!(
                r#"{{"jid":"{}","name":"job-{i}","state":"{state}","start-time":{},"end-time":-1,"duration":5,"last-modification":0,"tasks":{{"total":1}}}}"#,
                job_id(i),
                1_700_000_000_000u64 + i as u64
            )
        })
        .collect();
    format!(r#"{{"jobs":[{}]}}"#, jobs.join(","))
}

fn big_log() -> Vec<u8> {
    let mut log = b"INFO  ClusterEntrypoint -     -Dfirst.password=PLANTEDearly\n".to_vec();
    while log.len() < BIG_LOG {
        log.extend_from_slice(b"INFO  Checkpoint - completed checkpoint for job\n");
    }
    log.extend_from_slice(b"INFO  ClusterEntrypoint -     -Dlate.password=PLANTEDlate\n");
    log
}

fn replay(mut c: TcpStream, overview: &str, log: &[u8], seen: &Mutex<BTreeMap<String, usize>>) {
    let req = read_head_within(&mut c, Duration::from_secs(2));
    let path = request_path(&req).to_string();
    let kind = if path.starts_with("/jobs/") && path != "/jobs/overview" {
        let rest: Vec<&str> = path.split('/').skip(3).collect();
        format!("/jobs/:id/{}", rest.join("/"))
    } else {
        path.clone()
    };
    *seen.lock().unwrap().entry(kind.clone()).or_default() += 1;
    if path.starts_with('/') && !req.starts_with("GET ") {
        *seen.lock().unwrap().entry("not a GET".into()).or_default() += 1;
    }
    let body: Vec<u8> = match kind.as_str() {
        "/config" => br#"{"refresh-interval":10000,"timezone-offset":0,"timezone-name":"UTC","flink-version":"2.3.0","flink-revision":"c0f8d1a @ 2026-06-15","features":{"web-submit":true,"web-cancel":false}}"#.to_vec(),
        "/overview" => br#"{"taskmanagers":10,"slots-total":10,"slots-available":0,"jobs-running":60,"flink-version":"2.3.0","flink-commit":"c0f8d1a"}"#.to_vec(),
        "/jobs/overview" => overview.as_bytes().to_vec(),
        "/jobs/:id/" => {
            let id = path.trim_start_matches("/jobs/");
            format!(r#"{{"jid":"{id}","name":"job","state":"RUNNING","vertices":[{{"id":"v","name":"Source: KafkaSource-orders -> Sink: JdbcSink","parallelism":1}}]}}"#).into_bytes()
        }
        // A hostile configuration: a secret where a string map is expected
        // to hold strings, so the strict parser fails on it.
        "/jobs/:id/config" if path.contains(&job_id(RUNNING - 1)) => {
            br#"{"jid":"x","execution-config":{"user-config":{"db.password":["PLANTEDarray"]}}}"#.to_vec()
        }
        "/jobs/:id/config" => {
            br#"{"jid":"x","execution-config":{"user-config":{"jdbc.url":"jdbc:mysql://app:PLANTEDjdbc@db/orders","kafka.topic":"orders"}}}"#.to_vec()
        }
        "/jobmanager/log" => log.to_vec(),
        // 150 rolled logs, then two files that are not logs, past the
        // 100 names the inventory keeps.
        "/jobmanager/logs" => {
            let mut files: Vec<String> = (0..150)
                .map(|i| format!(r#"{{"name":"flink-standalonesession-0.log.{i}","size":1024}}"#))
                .collect();
            files.push(r#"{"name":"config.yaml","size":412}"#.into());
            files.push(r#"{"name":"rest.keystore","size":2700}"#.into());
            format!(r#"{{"logs":[{}]}}"#, files.join(",")).into_bytes()
        }
        "/taskmanagers" => {
            let tms: Vec<String> = (0..10)
                .map(|i| format!(r#"{{"id":"127.0.0.1:{}-tm{i}","path":"pekko.tcp://flink@127.0.0.1:{}/user/rpc/taskmanager_0","dataPort":1,"jmxPort":-1}}"#, 40000 + i, 40000 + i))
                .collect();
            format!(r#"{{"taskmanagers":[{}]}}"#, tms.join(",")).into_bytes()
        }
        k if k.starts_with("/taskmanagers/") && k.ends_with("/log") => log.to_vec(),
        _ => {
            not_found(&mut c);
            return;
        }
    };
    respond(&mut c, "200 OK", "application/json", &body);
}

/// 10,000 jobs: 50 read in depth, the running ones; logs read to 256 KiB
/// each and 1 MiB in all; a job page that breaks the parser is an error
/// that names the place, not the value.
#[test]
fn a_ten_thousand_job_cluster_is_read_within_the_bounds() {
    let seen: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let (overview, log) = (Arc::new(overview()), Arc::new(big_log()));
    let served = Arc::new(AtomicUsize::new(0));
    let ip = flink::unique_loopback();
    let peer = {
        let (seen, overview, log, served) =
            (seen.clone(), overview.clone(), log.clone(), served.clone());
        Listener::start(ip, 0, move |c| {
            served.fetch_add(1, Ordering::Relaxed);
            replay(c, &overview, &log, &seen)
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let target = format!("{ip}:{}", peer.port());
    let run = support::scan::scan_to(dir.path(), "big", &[&target, "--probe-timeout", "10s"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let svc = support::peers::service_at(run.json(), peer.addr);
    assert_eq!(svc["kind"], "jobmanager-rest", "{svc}");
    let inv = &svc["deployment"]["jobs"];
    assert_eq!(inv["listed"], JOBS, "{}", svc["errors"]);
    assert_eq!(inv["states"]["RUNNING"], RUNNING);
    let jobs = inv["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 50);
    assert!(
        jobs.iter().all(|j| j["state"] == "RUNNING"),
        "running first"
    );
    let seen = seen.lock().unwrap().clone();
    // The job list is read once and shared: by the probe file that asks
    // for it, the job ids that link a HistoryServer, and the inventory.
    assert_eq!(seen.get("/jobs/overview"), Some(&1), "{seen:?}");
    // All three judged the whole list (2 MiB, past an ordinary answer's
    // cap): the probe matched and the job ids were kept (200 at most).
    let rules = support::peers::rule_ids(run.json());
    assert!(
        rules.iter().any(|r| r == "FLINK-REST-JOB-CONTROL"),
        "{rules:?}"
    );
    assert_eq!(
        svc["deployment"]["job_ids"].as_array().map(Vec::len),
        Some(200),
        "{}",
        svc["errors"]
    );
    for page in [
        "/jobs/:id/",
        "/jobs/:id/config",
        "/jobs/:id/checkpoints/config",
        "/jobs/:id/checkpoints",
    ] {
        assert_eq!(seen.get(page), Some(&50), "{page}: {seen:?}");
    }
    // Logs: the JobManager's and three TaskManagers', 256 KiB each.
    let logs = inv["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 4, "{logs:?}");
    assert_eq!(seen.get("/jobmanager/log"), Some(&1));
    let total: u64 = logs.iter().map(|l| l["bytes"].as_u64().unwrap()).sum();
    assert!(
        logs.iter()
            .all(|l| l["bytes"] == 256 * 1024 && l["cut"] == true),
        "{logs:?}"
    );
    assert!(total <= 1024 * 1024);
    let keys: Vec<&str> = logs[0]["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["option -Dfirst.password"],
        "past the cap is not read"
    );
    // The hostile page: an error naming the place, the other 49 jobs read.
    let errors = svc["errors"].to_string();
    assert!(
        errors.contains(&format!("/jobs/{}/config", job_id(RUNNING - 1))),
        "{errors}"
    );
    assert!(errors.contains("user-config"), "{errors}");
    let exposing = jobs
        .iter()
        .filter(|j| j["parameters"].to_string().contains("\"secret\""))
        .count();
    assert_eq!(exposing, 49);
    // The files that are not logs are named from the list alone; neither
    // is requested.
    let detail = run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "FLINK-LOG-DIR-SENSITIVE-FILE")
        .map(|f| f["detail"].to_string())
        .unwrap_or_default();
    assert!(
        detail.contains("config.yaml") && detail.contains("rest.keystore"),
        "{detail}"
    );
    for file in [
        "/jobmanager/logs/config.yaml",
        "/jobmanager/logs/rest.keystore",
    ] {
        assert_eq!(seen.get(file), None, "{file} requested: {seen:?}");
    }
    // Every request was a GET, and nothing planted came back.
    assert_eq!(seen.get("not a GET"), None, "{seen:?}");
    let text = std::fs::read_to_string(dir.path().join("big.json")).unwrap();
    assert!(!text.contains(MARK) && !run.stdout.contains(MARK) && !run.stderr.contains(MARK));
    assert!(served.load(Ordering::Relaxed) < 300, "{seen:?}");
}

/// A HistoryServer (the shape of Flink 2.3.0's, fixtures in
/// tests/fixtures/identify) archiving one job: its job list is read once,
/// for both the job ids that link it to its cluster and the inventory.
#[test]
fn a_history_servers_job_list_is_read_once() {
    let lists = Arc::new(AtomicUsize::new(0));
    let fixture = |name: &str| {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/identify")
                .join(name),
        )
        .unwrap()
    };
    let config = fixture("historyserver-2.3.0-config.json");
    let id = job_id(7);
    let ip = flink::unique_loopback();
    let peer = {
        let lists = lists.clone();
        let list = format!(
            r#"{{"jobs":[{{"jid":"{id}","name":"archived","state":"FINISHED","start-time":1796447709936,"end-time":1796447719936,"duration":10000,"last-modification":0,"tasks":{{"total":1}}}}]}}"#
        );
        Listener::start(ip, 0, move |mut c| {
            let req = read_head_within(&mut c, Duration::from_secs(2));
            let body = match request_path(&req) {
                "/config" => config.clone(),
                "/jobs/overview" => {
                    lists.fetch_add(1, Ordering::Relaxed);
                    list.as_bytes().to_vec()
                }
                _ => {
                    respond_with(&mut c, "404 Not Found", &[], b"");
                    return;
                }
            };
            respond(&mut c, "200 OK", "application/json", &body);
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let target = format!("{ip}:{}", peer.port());
    let run = support::scan::scan_to(dir.path(), "hs", &[&target]);
    let svc = support::peers::service_at(run.json(), peer.addr);
    assert_eq!(svc["kind"], "history-server", "{svc}\n{}", run.stderr);
    assert_eq!(svc["deployment"]["job_ids"][0], id.as_str(), "{svc}");
    assert_eq!(svc["deployment"]["jobs"]["listed"], 1, "{svc}");
    assert_eq!(lists.load(Ordering::Relaxed), 1, "{svc}");
}

/// A JobManager whose job pages never answer: the inventory gives up after
/// three timed-out requests instead of waiting out 200 of them.
#[test]
fn a_stalling_job_page_stops_the_inventory_early() {
    let pages = Arc::new(AtomicUsize::new(0));
    let ip = flink::unique_loopback();
    let peer = {
        let pages = pages.clone();
        let overview = Arc::new(overview());
        Listener::start(ip, 0, move |mut c| {
            let req = read_head_within(&mut c, Duration::from_secs(2));
            let body = match request_path(&req) {
                "/config" => br#"{"refresh-interval":10000,"timezone-offset":0,"timezone-name":"UTC","flink-version":"2.3.0","flink-revision":"c0f8d1a @ 2026-06-15","features":{"web-submit":true,"web-cancel":false}}"#.to_vec(),
                "/overview" => br#"{"taskmanagers":1,"slots-total":1,"slots-available":0,"jobs-running":60,"flink-version":"2.3.0","flink-commit":"c0f8d1a"}"#.to_vec(),
                "/jobs/overview" => overview.as_bytes().to_vec(),
                p if p.starts_with("/jobs/") => {
                    pages.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_secs(30));
                    return;
                }
                _ => {
                    respond_with(&mut c, "404 Not Found", &[], b"");
                    return;
                }
            };
            respond(&mut c, "200 OK", "application/json", &body);
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let target = format!("{ip}:{}", peer.port());
    let run = support::scan::scan_to(dir.path(), "stall", &[&target, "--probe-timeout", "1s"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let svc = support::peers::service_at(run.json(), peer.addr);
    assert_eq!(svc["kind"], "jobmanager-rest", "{svc}");
    let errors = svc["errors"].to_string();
    assert!(
        errors.contains("job inventory stopped after 3 requests timed out"),
        "{errors}"
    );
    assert_eq!(svc["deployment"]["jobs"]["listed"], JOBS);
    assert_eq!(pages.load(Ordering::Relaxed), 3, "{errors}");
}

/// Without `javac` the real-job tests fail, naming the package, before
/// anything starts (run as a child of this binary with an empty PATH).
#[test]
fn the_real_job_tests_fail_without_javac() {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["jobs::flink_2_3_jobs_and_their_secrets", "--exact"])
        .args(["--test-threads", "1", "--nocapture"])
        .env("PATH", empty.path())
        .env_remove(support::ALLOW_MISSING)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("`javac` (not on PATH) is missing")
            && text.contains("openjdk-17-jdk-headless"),
        "{text}"
    );
}

/// One scan of one JobManager asks each read-only question once: what
/// identification read (`/config`, `/overview`), what the checks probe
/// (`/jars`, `/taskmanagers`, ...) and what the inventory reads are one
/// set of answers. The replay above, with a small cluster: every path is
/// asked once, and each job page once per job read.
#[test]
fn one_scan_asks_a_jobmanager_each_question_once() {
    const FEW: usize = 3;
    let seen: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let list: Vec<String> = (0..FEW)
        .map(|i| {
            format!(
                r#"{{"jid":"{}","name":"job-{i}","state":"RUNNING","start-time":1700000000000,"end-time":-1,"duration":5,"last-modification":0,"tasks":{{"total":1}}}}"#,
                job_id(i)
            )
        })
        .collect();
    let overview = Arc::new(format!(r#"{{"jobs":[{}]}}"#, list.join(",")));
    let log = Arc::new(b"INFO  Checkpoint - completed checkpoint for job\n".to_vec());
    let ip = flink::unique_loopback();
    let peer = {
        let (seen, overview, log) = (seen.clone(), overview.clone(), log.clone());
        Listener::start(ip, 0, move |c| replay(c, &overview, &log, &seen))
    };
    let dir = tempfile::tempdir().unwrap();
    let target = format!("{ip}:{}", peer.port());
    let run = support::scan::scan_to(dir.path(), "few", &[&target, "--probe-timeout", "10s"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let svc = support::peers::service_at(run.json(), peer.addr);
    assert_eq!(svc["kind"], "jobmanager-rest", "{svc}");
    assert_eq!(
        svc["deployment"]["jobs"]["listed"], FEW,
        "{}",
        svc["errors"]
    );
    let seen = seen.lock().unwrap().clone();
    for path in [
        "/config",
        "/overview",
        "/jars",
        "/taskmanagers",
        "/jobs/overview",
    ] {
        assert_eq!(seen.get(path), Some(&1), "{path}: {seen:?}");
    }
    // Everything else once too: the pages of each job once per job, and
    // "" (connections that sent no request line: the port sweep's) once.
    for (path, n) in &seen {
        let want = if path.starts_with("/jobs/:id/") {
            FEW
        } else {
            1
        };
        assert_eq!(*n, want, "{path}: {seen:?}");
    }
    assert_eq!(seen.get("not a GET"), None, "{seen:?}");
}
