//! Safety and verdict properties (issue 21): the test helpers fail on a
//! missing output, fingerprints are stable and distinct, `--fail-on` and
//! baselines give the right verdicts, a killed write leaves no half file,
//! and planted secrets reach no output. Loopback only: every listener and
//! target is in 127.0.0.0/8 and every port probed is one this test opened.

use crate::support;

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
use support::peers::{self, fake_prometheus, fake_rpc, finding_states, flinkscan, Listener};
use support::scan::Scan;

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
    let ran = Scan::new()
        .args(["--no-color", "--probe-timeout", "2s"])
        .targets(targets)
        .args(extra)
        .out_dir(dir, name)
        .json()
        .sarif()
        .jsonl()
        .run();
    let code = ran.code.unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "flinkscan exited {code}: {}",
        ran.stderr
    );
    Outputs {
        json: ran.json().clone(),
        sarif: ran.sarif().clone(),
        jsonl: ran.jsonl().to_vec(),
        code,
        stdout: ran.stdout.clone().into_bytes(),
        stderr: ran.stderr.clone().into_bytes(),
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

/// `(ip:port, state)` of every finding in a JSON report, sorted.
fn sorted_states(doc: &Value) -> Vec<(String, String)> {
    let mut v = finding_states(doc);
    v.sort();
    v
}

fn exit_code(target: &str, extra: &[&str]) -> i32 {
    let out = flinkscan()
        .args(["scan", "--no-progress", "--probe-timeout", "2s", target])
        .args(extra)
        .output()
        .unwrap();
    out.status.code().unwrap_or(-1)
}

const LEVELS: [&str; 5] = ["info", "low", "medium", "high", "critical"];

/// Every `--fail-on` level below, at and above a low finding (metrics) and a
/// critical one (plaintext RPC); no `--fail-on` never fails. 1 means "at
/// least one finding at or above the threshold".
#[test]
fn every_fail_on_level_below_at_and_above_a_findings_severity() {
    let metrics = Listener::start(unique_loopback(), 0, fake_prometheus);
    let rpc = Listener::start(unique_loopback(), 0, fake_rpc);
    let dir = tempfile::tempdir().unwrap();
    for (listener, rule, severity) in [
        (&metrics, "FLINK-METRICS-EXPOSED", "low"),
        (&rpc, "FLINK-RPC-PLAINTEXT", "critical"),
    ] {
        let target = listener.addr.to_string();
        let out = run(std::slice::from_ref(&target), &[], dir.path(), rule);
        let findings = out.json["findings"].as_array().unwrap();
        assert_eq!(findings.len(), 1, "{}", out.json);
        assert_eq!(findings[0]["rule_id"], rule);
        assert_eq!(findings[0]["severity"], severity);
        assert_eq!(out.code, 0, "no --fail-on must exit 0");
        let at = LEVELS.iter().position(|l| *l == severity).unwrap();
        for (i, level) in LEVELS.iter().enumerate() {
            let want = if i <= at { 1 } else { 0 };
            assert_eq!(
                exit_code(&target, &["--fail-on", level]),
                want,
                "{severity} finding with --fail-on {level}"
            );
        }
    }
}

/// `(ip:port, baselineState)` of every SARIF result, sorted.
fn sarif_states(sarif: &Value) -> Vec<(String, String)> {
    let mut v: Vec<_> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["locations"][0]["logicalLocations"][0]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                r["baselineState"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn wait_until_closed(addr: SocketAddr) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::net::TcpStream::connect(addr).is_ok() {
        assert!(std::time::Instant::now() < deadline, "{addr} still accepts");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// One scan with all three baseline states: A stays (unchanged), B appears
/// (new), C goes away (fixed). JSON, SARIF, `flinkscan diff` and its
/// `--json` must all say so, per endpoint; the fixed critical finding fails
/// no threshold, the new one does.
#[test]
fn new_unchanged_and_fixed_in_json_sarif_and_diff() {
    let a = Listener::start(unique_loopback(), 0, fake_rpc);
    let b = Listener::start(unique_loopback(), 0, fake_rpc);
    let c = Listener::start(unique_loopback(), 0, fake_rpc);
    let (a_ep, b_ep, c_ep) = (a.addr.to_string(), b.addr.to_string(), c.addr.to_string());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = run(&[a_ep.clone(), c_ep.clone()], &[], d, "base");
    assert_eq!(sorted_states(&base.json).len(), 2, "{}", base.json);
    let base_path = d.join("base.json");
    let baseline = ["--baseline", base_path.to_str().unwrap()];

    let c_addr = c.addr;
    drop(c);
    wait_until_closed(c_addr);
    let all = [a_ep.clone(), b_ep.clone(), c_ep.clone()];
    let now = run(&all, &baseline, d, "now");
    let mut want = vec![
        (a_ep.clone(), "unchanged".to_string()),
        (b_ep.clone(), "new".into()),
        (c_ep.clone(), "fixed".into()),
    ];
    want.sort();
    assert_eq!(sorted_states(&now.json), want, "{}", now.json);
    let mut want_sarif = vec![
        (a_ep.clone(), "unchanged".to_string()),
        (b_ep.clone(), "new".into()),
        (c_ep.clone(), "absent".into()),
    ];
    want_sarif.sort();
    assert_eq!(sarif_states(&now.sarif), want_sarif, "{}", now.sarif);

    // Verdicts: B is new and critical; C is fixed and must not count.
    let with = |t: &'static str| [&baseline[..], &["--fail-on", t]].concat();
    assert_eq!(exit_code(&a_ep, &with("critical")), 1, "unchanged critical");
    let only_fixed = flinkscan()
        .args(["scan", "--no-progress", "--probe-timeout", "2s", &c_ep])
        .args(with("info"))
        .output()
        .unwrap();
    assert_eq!(
        only_fixed.status.code(),
        Some(0),
        "a fixed finding failed the scan"
    );

    // flinkscan diff: text and JSON.
    let diff = flinkscan()
        .arg("diff")
        .arg(&base_path)
        .arg(d.join("now.json"))
        .output()
        .unwrap();
    // Exit 1: something is new.
    assert_eq!(
        diff.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&diff.stderr)
    );
    let text = String::from_utf8(diff.stdout).unwrap();
    assert!(text.starts_with("1 new, 1 unchanged, 1 fixed"), "{text}");
    for (label, ep) in [("NEW", &b_ep), ("SAME", &a_ep), ("FIXED", &c_ep)] {
        let line = text
            .lines()
            .find(|l| l.contains(ep.as_str()))
            .unwrap_or_else(|| panic!("{ep} missing: {text}"));
        assert!(line.starts_with(label), "{ep} should be {label}: {line}");
    }
    let diff = flinkscan()
        .args(["diff", "--json"])
        .arg(&base_path)
        .arg(d.join("now.json"))
        .output()
        .unwrap();
    assert_eq!(diff.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&diff.stdout).unwrap();
    let eps = |k: &str| -> Vec<String> {
        doc[k]
            .as_array()
            .unwrap_or_else(|| panic!("no {k} in {doc}"))
            .iter()
            .map(|f| format!("{}:{}", f["ip"].as_str().unwrap(), f["port"]))
            .collect()
    };
    assert_eq!(eps("new"), vec![b_ep]);
    assert_eq!(eps("unchanged"), vec![a_ep]);
    assert_eq!(eps("fixed"), vec![c_ep]);

    // A report against itself: its fixed finding is an absence, not a
    // finding, so nothing is new and nothing fixed; exit 0.
    let same = flinkscan()
        .arg("diff")
        .arg(d.join("now.json"))
        .arg(d.join("now.json"))
        .output()
        .unwrap();
    let text = String::from_utf8(same.stdout).unwrap();
    assert!(text.starts_with("0 new, 2 unchanged, 0 fixed"), "{text}");
    assert_eq!(same.status.code(), Some(0));
}

/// The temporary sibling of `target` with a complete JSON report in it, if
/// any: `.NAME.XXXX.partial` (the destination check's empty probe file does
/// not count).
fn complete_partial(target: &Path) -> Option<PathBuf> {
    let name = target.file_name()?.to_str()?;
    let prefix = format!(".{name}.");
    std::fs::read_dir(target.parent()?)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".partial"))
        })
        .find(|p| {
            std::fs::read(p)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .is_some_and(|v| v["findings"].is_array())
        })
}

/// Start a scan writing `--json target`, paused by the test hook between the
/// complete temporary file and the rename; SIGKILL it there. Returns the
/// temporary file seen.
fn kill_during_final_write(scan_target: &str, target: &Path) -> PathBuf {
    use std::time::{Duration, Instant};
    let mut run = Scan::new()
        .args(["--no-progress", "--probe-timeout", "2s"])
        .target(scan_target)
        .arg("--json")
        .arg(target)
        .env("FLINKSCAN_TEST_WRITE_PAUSE_MS", "60000")
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(120);
    let partial = loop {
        if let Some(p) = complete_partial(target) {
            break p;
        }
        if !run.running() {
            let ran = run.wait(Duration::ZERO);
            panic!(
                "flinkscan ended ({:?}) before its write phase was seen: {}",
                ran.code, ran.stderr
            );
        }
        if Instant::now() > deadline {
            run.kill();
            panic!("no complete temporary file next to {}", target.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // std's kill is SIGKILL on Unix: no handler, no cleanup.
    let status = run.kill();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "{status}");
    partial
}

/// Killed with SIGKILL inside the final write (the temporary file complete,
/// the rename not yet done): the report's name holds the old file byte for
/// byte, or nothing when there was none; never a part of the new one. The
/// temporary file stays under its own hidden name. Unpaused, the new file
/// replaces the old one whole.
#[test]
fn a_scan_killed_during_the_final_write_leaves_the_old_file_or_none() {
    let rpc = Listener::start(unique_loopback(), 0, fake_rpc);
    let scan_target = rpc.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let old = b"{\"old\": \"the previous complete report\"}\n";
    std::fs::write(&report, old).unwrap();

    let partial = kill_during_final_write(&scan_target, &report);
    assert_eq!(
        std::fs::read(&report).unwrap(),
        old,
        "the old report was touched"
    );
    assert_ne!(partial, report);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for n in &names {
        assert!(
            n == "report.json" || (n.starts_with(".report.json.") && n.ends_with(".partial")),
            "unexpected file {n} in {names:?}"
        );
    }

    // No old file: nothing appears under the name.
    let fresh = dir.path().join("fresh.json");
    kill_during_final_write(&scan_target, &fresh);
    assert!(
        !fresh.exists(),
        "a killed write created {}",
        fresh.display()
    );

    // Not killed: the new report, complete, in place of the old one.
    flinkscan()
        .args([
            "scan",
            "--no-progress",
            "--probe-timeout",
            "2s",
            &scan_target,
            "--json",
        ])
        .arg(&report)
        .assert()
        .code(0);
    let new = read_output(&report, b"");
    let doc = parse_json(&new, &report);
    assert_eq!(
        doc["findings"][0]["rule_id"], "FLINK-RPC-PLAINTEXT",
        "{doc}"
    );
}

// ---- Secrets -------------------------------------------------------------

/// Every planted value; none may appear in any output, byte for byte.
const PLANTED: &[&str] = &[
    "PLANTED-CONF-SECRET-1",
    "PLANTED-CONF-URI-2",
    "PLANTED-CONF-FREE-3",
    "PLANTED-ENV-4",
    "PLANTED-JVM-5",
    "PLANTED-JVM-URI-6",
    "PLANTED-BODY-7",
    "PLANTED-BODY-URI-8",
    "PLANTED-BODY-TOKEN-9",
    "PLANTED-LABEL-10",
    "PLANTED-LABEL-URI-11",
    "PLANTED-BLOB-URI-12",
    "PLANTED-BLOB-13",
    "PLANTED-BANNER-14",
    "PLANTED-ERROR-15",
];

/// The path of one whole request head (bounded), or None when the peer
/// sent none (the sweep's connect, a TLS ClientHello, a cut head).
fn request_path(c: &mut std::net::TcpStream) -> Option<String> {
    let head = peers::read_head_within(c, std::time::Duration::from_secs(5));
    head.contains("\r\n\r\n")
        .then(|| peers::request_path(&head).to_string())
}

/// A Flink 1.20 JobManager REST look-alike whose configuration, JVM options
/// and error bodies carry secrets.
fn leaky_jobmanager(mut c: std::net::TcpStream) {
    let Some(path) = request_path(&mut c) else {
        return;
    };
    let json = "application/json; charset=UTF-8";
    let body = match path.as_str() {
        "/config" => r#"{"refresh-interval":3000,"timezone-name":"Coordinated Universal Time","timezone-offset":0,"flink-version":"1.20.1","flink-revision":"d9a8f0b @ 2025-01-29T21:31:04+01:00","features":{"web-submit":false,"web-cancel":false,"web-rescale":false,"web-history":false}}"#.to_string(),
        "/overview" => r#"{"taskmanagers":0,"slots-total":0,"slots-available":0,"jobs-running":0,"jobs-finished":0,"jobs-cancelled":0,"jobs-failed":0,"flink-version":"1.20.1","flink-commit":"d9a8f0b"}"#.to_string(),
        "/jobmanager/config" => r#"[{"key":"s3.secret-key","value":"PLANTED-CONF-SECRET-1"},{"key":"state.checkpoints.dir","value":"s3://AKIAX:PLANTED-CONF-URI-2@bucket/cp"},{"key":"env.java.opts.all","value":"-Dapp.token=PLANTED-CONF-FREE-3"},{"key":"containerized.master.env.DB_PASSWORD","value":"PLANTED-ENV-4"},{"key":"rest.port","value":"8081"}]"#.to_string(),
        "/jobmanager/environment" => r#"{"jvm":{"version":"17","arch":"amd64","options":["-Djavax.net.ssl.keyStorePassword=PLANTED-JVM-5","-Dcustom.sink=jdbc://app:PLANTED-JVM-URI-6@db/x","-Xmx1g"]},"classpath":[]}"#.to_string(),
        _ => {
            let err = r#"{"errors":["Not found: handler failed with password=PLANTED-ERROR-15"]}"#;
            peers::respond(&mut c, "404 X", json, err.as_bytes());
            return;
        }
    };
    peers::respond(&mut c, "200 X", json, body.as_bytes());
}

/// Not Flink: a web application whose pages show credentials.
fn leaky_web_app(mut c: std::net::TcpStream) {
    if request_path(&mut c).is_none() {
        return;
    }
    let body = "<html><body>db password=PLANTED-BODY-7 \
                dsn postgres://app:PLANTED-BODY-URI-8@db:5432/x \
                \"api_key\": \"PLANTED-BODY-TOKEN-9\"</body></html>";
    peers::respond(&mut c, "200 X", "text/html", body.as_bytes());
}

/// A Prometheus reporter whose metric labels carry credentials.
fn leaky_prometheus(mut c: std::net::TcpStream) {
    if request_path(&mut c).is_none() {
        return;
    }
    let body = "flink_jobmanager_numRunningJobs{password=\"PLANTED-LABEL-10\",sink=\"s3://k:PLANTED-LABEL-URI-11@b/x\"} 0.0\n\
                # HELP flink_jobmanager_numRunningJobs Running jobs\n\
                # TYPE flink_jobmanager_numRunningJobs gauge\n";
    peers::respond(
        &mut c,
        "200 X",
        "text/plain; version=0.0.4",
        body.as_bytes(),
    );
}

/// A Java serialisation stream with two TC_STRINGs, as a BLOB server's
/// RETURN_ERROR carries its IOException: `01`, length (LE), `ac ed ...`.
fn blob_error(message: &str) -> Vec<u8> {
    let mut body = vec![0xac, 0xed, 0x00, 0x05];
    for s in ["java.io.IOException", message] {
        body.push(0x74);
        body.extend_from_slice(&(s.len() as u16).to_be_bytes());
        body.extend_from_slice(s.as_bytes());
    }
    let mut out = vec![0x01];
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// A BLOB server whose error messages name a storage URI with credentials.
fn leaky_blob(mut c: std::net::TcpStream) {
    use std::io::{Read, Write};
    let _ = c.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let mut first = [0u8; 2];
    if c.read_exact(&mut first).is_err() {
        return;
    }
    let reply = match first {
        [0x01, 0x7f] => blob_error(
            "Unknown type of BLOB addressing: 127. ha storage s3://ha:PLANTED-BLOB-URI-12@bucket/ha",
        ),
        [0x01, 0x00] => {
            let mut rest = [0u8; 37];
            if c.read_exact(&mut rest).is_err() {
                return;
            }
            blob_error("Cannot find required BLOB at /tmp/blobStore-1/secret=PLANTED-BLOB-13/no_job/blob_t-x")
        }
        _ => return,
    };
    let _ = c.write_all(&reply);
}

/// Talks first, not HTTP: a banner with a password in it.
fn leaky_banner(mut c: std::net::TcpStream) {
    use std::io::Write;
    let _ = c.write_all(b"220 mail ready; auth password=PLANTED-BANNER-14\r\n");
    std::thread::sleep(std::time::Duration::from_millis(200));
}

/// Every output of `out` plus its stdout and stderr, byte-wise free of
/// every planted value.
fn assert_no_planted(out: &Outputs, dir: &Path, name: &str) {
    let mut outputs: Vec<(String, Vec<u8>)> = ["json", "sarif", "jsonl"]
        .iter()
        .map(|ext| {
            let p = dir.join(format!("{name}.{ext}"));
            (format!("{name}.{ext}"), read_output(&p, &out.stderr))
        })
        .collect();
    outputs.push(("stdout".into(), out.stdout.clone()));
    outputs.push(("stderr".into(), out.stderr.clone()));
    let mut leaks = Vec::new();
    for (what, bytes) in &outputs {
        assert!(!bytes.is_empty() || what == "stderr", "{what} is empty");
        for secret in PLANTED {
            if let Some(at) = bytes
                .windows(secret.len())
                .position(|w| w == secret.as_bytes())
            {
                let from = at.saturating_sub(120);
                let context = String::from_utf8_lossy(&bytes[from..at + secret.len()]);
                leaks.push(format!("{secret} in {what}: ...{context}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "planted secrets leaked:\n{}",
        leaks.join("\n")
    );
}

/// Secrets where a scan turns them into evidence: configuration values,
/// environment entries, JVM options, URIs with credentials, the pages of a
/// non-Flink server, BLOB error messages, metric labels, banners and error
/// bodies. None reaches JSON, JSONL (ECS and OCSF), SARIF, stdout or stderr,
/// in a default scan or an --intrusive one, with -vv logging.
#[test]
fn planted_secrets_reach_no_output() {
    let jm = Listener::start(unique_loopback(), 0, leaky_jobmanager);
    let web = Listener::start(unique_loopback(), 0, leaky_web_app);
    let prom = Listener::start(unique_loopback(), 0, leaky_prometheus);
    let blob = Listener::start(unique_loopback(), 0, leaky_blob);
    let banner = Listener::start(unique_loopback(), 0, leaky_banner);
    let targets: Vec<String> = [&jm, &web, &prom, &blob, &banner]
        .iter()
        .map(|l| l.addr.to_string())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, extra) in [
        ("default", vec!["-vv"]),
        ("intrusive", vec!["-vv", "--intrusive"]),
        ("ocsf", vec!["-vv", "--intrusive", "--jsonl-format", "ocsf"]),
    ] {
        let out = run(&targets, &extra, d, name);
        assert_no_planted(&out, d, name);
        // The values did travel: each peer was identified and the secrets
        // it showed were reported by name, with the value replaced.
        let json = out.json.to_string();
        let kinds: Vec<&str> = out.json["services"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["kind"].as_str())
            .collect();
        for kind in ["jobmanager-rest", "prometheus-reporter", "blob-server"] {
            assert!(kinds.contains(&kind), "{kind} not identified: {json}");
        }
        for key in [
            "s3.secret-key",
            "state.checkpoints.dir",
            "env.java.opts.all",
            "DB_PASSWORD",
        ] {
            assert!(json.contains(key), "{key} not reported: {json}");
        }
        assert!(json.contains("******"), "nothing was redacted: {json}");
    }
}

/// Real Flink (1.20) with secrets in its configuration (secret keys, a URI
/// with credentials, container environment, a metrics label), its JVM
/// options and its BLOB storage path (which the --intrusive BLOB probe gets
/// back in an error message): none reaches any output.
#[test]
fn real_flink_planted_secrets_reach_no_output() {
    use support::flink::{free_port, Flink, FlinkOpts};
    const REAL: &[&str] = &[
        "PLANTED-RF-S3-1",
        "PLANTED-RF-URI-2",
        "PLANTED-RF-ENV-3",
        "PLANTED-RF-LABEL-4",
        "PLANTED-RF-JVM-5",
        "PLANTED-RF-JVM-URI-6",
        "PLANTED-RF-BLOB-7",
        "PLANTED-RF-JAAS-8",
    ];
    let blob_root = tempfile::tempdir().unwrap();
    let blob_dir = blob_root.path().join("token=PLANTED-RF-BLOB-7");
    let prom = free_port();
    let jm = Flink::start_jobmanager(
        FlinkOpts::new("1.20.1")
            .conf("s3.secret-key", "PLANTED-RF-S3-1")
            .conf(
                "state.checkpoints.dir",
                "s3://AKIAX:PLANTED-RF-URI-2@bucket/cp",
            )
            .conf("containerized.master.env.DB_PASSWORD", "PLANTED-RF-ENV-3")
            .conf(
                "security.kerberos.login.jaas.config",
                "planted PLANTED-RF-JAAS-8",
            )
            .conf("blob.storage.directory", blob_dir.to_str().unwrap())
            .conf(
                "metrics.reporter.prom.factory.class",
                "org.apache.flink.metrics.prometheus.PrometheusReporterFactory",
            )
            .conf("metrics.reporter.prom.port", &prom.to_string())
            .conf(
                "metrics.reporter.prom.scope.variables.additional",
                "password:PLANTED-RF-LABEL-4",
            )
            .jvm("-Dflinkscan.test.password=PLANTED-RF-JVM-5")
            .jvm("-Dflinkscan.test.sink=jdbc://app:PLANTED-RF-JVM-URI-6@db/x"),
    );
    let targets = vec![jm.ip.to_string()];
    let ports = format!("8081,6123,6124,{prom}");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, extra) in [
        ("default", vec!["-vv", "--ports", &ports]),
        ("intrusive", vec!["-vv", "--intrusive", "--ports", &ports]),
        (
            "ocsf",
            vec!["-vv", "--ports", &ports, "--jsonl-format", "ocsf"],
        ),
    ] {
        let out = run(&targets, &extra, d, name);
        let json = out.json.to_string();
        assert!(
            // Flink masks s3.secret-key and *PASSWORD itself; the URI and
            // the label are only caught by the scanner.
            json.contains("FLINK-CONFIG-SECRET-EXPOSED")
                && json.contains("state.checkpoints.dir")
                && json.contains("scope.variables.additional"),
            "the planted configuration was not seen: {json}\n{}",
            jm.log_tail()
        );
        if name == "intrusive" {
            // The storage path, planted part and all, came back.
            assert!(
                json.contains("FLINK-BLOB-PATH-LEAK"),
                "the BLOB path was not seen: {json}"
            );
        }
        for (what, bytes) in [
            ("json", read_output(&d.join(format!("{name}.json")), b"")),
            ("sarif", read_output(&d.join(format!("{name}.sarif")), b"")),
            ("jsonl", read_output(&d.join(format!("{name}.jsonl")), b"")),
            ("stdout", out.stdout.clone()),
            ("stderr", out.stderr.clone()),
        ] {
            for secret in REAL {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{secret} leaked into {name} {what}: {}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
    }
}

// ---- The deny-list on the wire ----------------------------------------------

/// A transparent TCP proxy to `upstream` on its own loopback address that
/// records the request line of every HTTP request passing through it.
fn recording_proxy(
    upstream: SocketAddr,
) -> (SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    let l = TcpListener::bind((unique_loopback(), 0)).unwrap();
    let addr = l.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = Arc::clone(&log);
    std::thread::spawn(move || {
        for client in l.incoming() {
            let Ok(mut client) = client else { continue };
            let log = Arc::clone(&log2);
            std::thread::spawn(move || {
                let Ok(mut server) = std::net::TcpStream::connect(upstream) else {
                    return;
                };
                let timeout = Some(std::time::Duration::from_secs(30));
                let _ = client.set_read_timeout(timeout);
                let _ = server.set_read_timeout(timeout);
                let (Ok(mut c2), Ok(mut s2)) = (client.try_clone(), server.try_clone()) else {
                    return;
                };
                // Server to client in its own thread.
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s2, &mut c2);
                    let _ = c2.shutdown(std::net::Shutdown::Write);
                });
                let mut head = Vec::new();
                let mut recorded = false;
                let mut buf = [0u8; 8192];
                loop {
                    let n = match client.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if !recorded {
                        head.extend_from_slice(&buf[..n]);
                        if let Some(end) = head.windows(2).position(|w| w == b"\r\n") {
                            let line = String::from_utf8_lossy(&head[..end]).into_owned();
                            log.lock().unwrap().push(line);
                            recorded = true;
                        } else if head.len() > 65_536 {
                            recorded = true;
                        }
                    }
                    if server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = server.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (addr, log)
}

/// The HTTP requests among recorded first lines: `(method, target)` for
/// lines shaped `METHOD TARGET HTTP/1.x`; raw probes (TLS, RPC, BLOB bytes)
/// are not HTTP and are left out.
fn http_requests(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|l| {
            let mut parts = l.split(' ');
            let (m, t, v) = (parts.next()?, parts.next()?, parts.next()?);
            (v.starts_with("HTTP/") && m.chars().all(|c| c.is_ascii_uppercase()))
                .then(|| (m.to_string(), t.to_string()))
        })
        .collect()
}

/// Every HTTP request a default and an --intrusive scan of real Flink send
/// (identification, checks and probe files), as seen on the wire by a
/// recording proxy, passes the deny-list; and the default scan sends reads
/// only.
#[test]
fn every_request_of_a_real_flink_scan_passes_the_deny_list() {
    use support::flink::{Flink, FlinkOpts};
    let jm = Flink::start_jobmanager(FlinkOpts::new("1.20.1"));
    let (proxy, log) = recording_proxy(jm.rest());
    let dir = tempfile::tempdir().unwrap();
    for (name, intrusive) in [("default", false), ("intrusive", true)] {
        log.lock().unwrap().clear();
        let mut extra = vec![];
        if intrusive {
            extra.push("--intrusive");
        }
        let out = run(&[proxy.to_string()], &extra, dir.path(), name);
        assert!(
            out.json.to_string().contains("FLINK-REST-UNAUTHENTICATED"),
            "the proxied REST endpoint was not scanned: {}\n{}",
            out.json,
            jm.log_tail()
        );
        let lines = log.lock().unwrap().clone();
        let requests = http_requests(&lines);
        for want in ["/config", "/overview", "/jobmanager/config", "/jars"] {
            assert!(
                requests.iter().any(|(m, p)| m == "GET" && p == want),
                "GET {want} not seen in {name}: {lines:?}"
            );
        }
        for (m, p) in &requests {
            assert_eq!(
                flinkscan::transport::deny::check(m, p, intrusive),
                Ok(()),
                "{name} scan sent {m} {p}"
            );
            if !intrusive {
                assert!(["GET", "HEAD", "OPTIONS"].contains(&m.as_str()), "{m} {p}");
            }
        }
    }
}
