//! In the field: real signals to a running scan, stop means stop under
//! `--rate`, pipelines (`-i -`, a JSONL file followed while it grows,
//! progress lines for logs). Loopback only: every target is in 127.0.0.0/8
//! and every port probed is one this test listens on.

use crate::support;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::flink::unique_loopback;
use support::peers::{close_at_once, tarpit, Listener};
use support::scan::{Ran, Scan};

/// Poll `ready` until it holds; fail naming `what` after `limit`.
fn wait_until(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// Every line of a JSON Lines file, each parsed (a torn line fails).
fn jsonl_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "last line cut: {text}"
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
        .collect()
}

fn jsonl_has_service(path: &Path) -> bool {
    jsonl_lines(path)
        .iter()
        .any(|e| e["event"]["dataset"] == "flinkscan.service")
}

fn load(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn validate_sarif(doc: &Value) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/schemas/sarif-schema-2.1.0.json").unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "SARIF: {errors:#?}");
}

/// Files in `dir` other than the expected ones: a leftover temporary file
/// must at least be hidden.
fn visible_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect()
}

struct Outputs {
    json: PathBuf,
    sarif: PathBuf,
    jsonl: PathBuf,
}

fn outputs(dir: &Path) -> Outputs {
    Outputs {
        json: dir.join("out.json"),
        sarif: dir.join("out.sarif"),
        jsonl: dir.join("out.jsonl"),
    }
}

fn args(list: &[&str], out: &Outputs) -> Vec<String> {
    let mut a: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    for (flag, p) in [
        ("--json", &out.json),
        ("--sarif", &out.sarif),
        ("--jsonl", &out.jsonl),
    ] {
        a.push(flag.into());
        a.push(p.display().to_string());
    }
    a
}

/// A quick peer (identified at once, so the JSONL shows the scan is under
/// way) and three tarpits that hold identification far past the grace.
fn mid_identification_peers(ip: Ipv4Addr) -> (Listener, Vec<Listener>) {
    let quick = Listener::start(ip, 0, close_at_once);
    let pits = (0..3).map(|_| Listener::start(ip, 0, tarpit)).collect();
    (quick, pits)
}

fn ports_of(quick: &Listener, pits: &[Listener]) -> String {
    std::iter::once(quick.port())
        .chain(pits.iter().map(Listener::port))
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn authority(ip: Ipv4Addr, l: &Listener) -> String {
    SocketAddr::from((ip, l.port())).to_string()
}

#[test]
fn sigterm_mid_identification_writes_every_output_and_exits_143() {
    let ip = unique_loopback();
    let (quick, pits) = mid_identification_peers(ip);
    let dir = tempfile::tempdir().unwrap();
    let out = outputs(dir.path());
    let ports = ports_of(&quick, &pits);
    let mut run = Scan::binary()
        .args(args(
            &[
                "scan",
                &ip.to_string(),
                "--ports",
                &ports,
                "--probe-timeout",
                "60s",
                "--identify-concurrency",
                "8",
            ],
            &out,
        ))
        .spawn();
    wait_until(
        Duration::from_secs(60),
        "an identified port in the JSONL",
        || jsonl_has_service(&out.jsonl),
    );
    // The stream is followed under its real name while the scan runs.
    assert!(run.running(), "the scan ended before the signal");
    let signalled = Instant::now();
    run.signal("TERM");
    let Ran { code, stderr, .. } = run.wait(Duration::from_secs(60));
    let took = signalled.elapsed();
    eprintln!("SIGTERM to exit: {took:?}");
    assert_eq!(code, Some(143), "{stderr}");
    assert!(
        took < Duration::from_secs(15),
        "grace not bounded: {took:?}"
    );
    assert!(stderr.contains("SIGTERM"), "{stderr}");

    let doc = load(&out.json);
    assert_eq!(doc["scan"]["status"], "interrupted", "{doc}");
    let cut: Vec<&str> = doc["scan"]["cut_short"]
        .as_array()
        .unwrap_or_else(|| panic!("no cut_short: {}", doc["scan"]))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for p in &pits {
        assert!(cut.contains(&authority(ip, p).as_str()), "{cut:?}");
    }
    assert!(!cut.contains(&authority(ip, &quick).as_str()));
    // Every open port is in the report, the tarpits as unfinished services.
    assert_eq!(doc["services"].as_array().unwrap().len(), 4, "{doc}");
    let sarif = load(&out.sarif);
    validate_sarif(&sarif);
    // The stream has every service, each line whole.
    let services = jsonl_lines(&out.jsonl)
        .into_iter()
        .filter(|e| e["event"]["dataset"] == "flinkscan.service")
        .count();
    assert_eq!(services, 4);
    let mut files = visible_files(dir.path());
    files.sort();
    assert_eq!(files, ["out.json", "out.jsonl", "out.sarif"]);
}

#[test]
fn a_second_sigint_quits_at_once_leaving_no_torn_file() {
    let ip = unique_loopback();
    let (quick, pits) = mid_identification_peers(ip);
    let dir = tempfile::tempdir().unwrap();
    let out = outputs(dir.path());
    let ports = ports_of(&quick, &pits);
    let run = Scan::binary()
        .args(args(
            &[
                "scan",
                &ip.to_string(),
                "--ports",
                &ports,
                "--probe-timeout",
                "60s",
            ],
            &out,
        ))
        .spawn();
    wait_until(
        Duration::from_secs(60),
        "an identified port in the JSONL",
        || jsonl_has_service(&out.jsonl),
    );
    run.signal("INT");
    // The first SIGINT is acknowledged (the grace has begun), then Ctrl-C
    // again: two signals sent at once may arrive as one.
    wait_until(Duration::from_secs(10), "the first SIGINT taken", || {
        run.stderr_has("SIGINT: stopping")
    });
    let again = Instant::now();
    run.signal("INT");
    let Ran { code, stderr, .. } = run.wait(Duration::from_secs(30));
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        again.elapsed() < Duration::from_secs(3),
        "second SIGINT did not quit at once: {:?}",
        again.elapsed()
    );
    assert!(stderr.contains("quitting now"), "{stderr}");
    // Whatever is there is whole: the stream up to its last line, and no
    // report half-written under its name.
    assert!(jsonl_has_service(&out.jsonl));
    for p in [&out.json, &out.sarif] {
        if p.exists() {
            load(p);
        }
    }
    // Nothing else either: no hidden temporary file left behind.
    let all: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        all.iter()
            .all(|f| ["out.json", "out.jsonl", "out.sarif"].contains(&f.as_str())),
        "{all:?}"
    );
}

#[test]
fn a_signal_during_the_final_write_removes_the_temporary_files() {
    let ip = unique_loopback();
    let (quick, pits) = mid_identification_peers(ip);
    let dir = tempfile::tempdir().unwrap();
    let out = outputs(dir.path());
    let ports = ports_of(&quick, &pits);
    // --max-duration stops the scan (so a signal now means "quit at once"),
    // and the test hook holds every finished temporary file before its
    // rename, so the signal lands while `.out.json.*.partial` exists.
    let run = Scan::binary()
        .args(args(
            &[
                "scan",
                &ip.to_string(),
                "--ports",
                &ports,
                "--probe-timeout",
                "1s",
                "--max-duration",
                "2s",
            ],
            &out,
        ))
        .env("FLINKSCAN_TEST_WRITE_PAUSE_MS", "20000")
        .spawn();
    let hidden = || -> Vec<String> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect()
    };
    wait_until(
        Duration::from_secs(60),
        "a temporary output file being written",
        || hidden().iter().any(|n| n.ends_with(".partial")),
    );
    run.signal("INT");
    let Ran { code, stderr, .. } = run.wait(Duration::from_secs(15));
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("quitting now"), "{stderr}");
    assert_eq!(
        hidden(),
        Vec::<String>::new(),
        "temporary files left behind"
    );
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn max_duration_holds_while_probes_wait_for_the_rate_limiter() {
    let ip = unique_loopback();
    let l = Listener::start(ip, 0, close_at_once);
    let o = ip.octets();
    // 1,024 addresses on our own port at 100/s: about 10 s of probes, so
    // the 3 s deadline comes while thousands wait for the limiter.
    let range = format!("{}.{}.{}.0/22", o[0], o[1], o[2] & 0xfc);
    let start = Instant::now();
    let run = Scan::new()
        .arg("--no-progress")
        .target(range)
        .ports(l.port().to_string())
        .args(["--rate", "100", "--max-duration", "3s"])
        .json()
        .spawn();
    let ran = run.wait(Duration::from_secs(60));
    let (code, stderr) = (ran.code, &ran.stderr);
    let took = start.elapsed();
    eprintln!("--rate 100 --max-duration 3s took {took:?}");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        took < Duration::from_millis(4500),
        "deadline ignored: {took:?}"
    );
    let doc = ran.json();
    assert_eq!(doc["scan"]["status"], "max-duration");
    let probed = doc["stats"]["probed"].as_u64().unwrap();
    assert!(probed > 100 && probed < 1024, "probed {probed}");
}

#[test]
fn open_ports_not_yet_identified_are_listed_as_such() {
    let ip = unique_loopback();
    let pits: Vec<Listener> = (0..4).map(|_| Listener::start(ip, 0, tarpit)).collect();
    let ports = pits
        .iter()
        .map(|l| l.port().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let start = Instant::now();
    // One identification slot, held by a tarpit: the other open ports wait.
    let run = Scan::new()
        .arg("--no-progress")
        .target(ip.to_string())
        .ports(ports)
        .args(["--identify-concurrency", "1", "--probe-timeout", "60s"])
        .args(["--max-duration", "2s"])
        .json()
        .spawn();
    let ran = run.wait(Duration::from_secs(60));
    let (code, stderr) = (ran.code, &ran.stderr);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
    let doc = ran.json();
    assert_eq!(doc["scan"]["status"], "max-duration");
    let cut = strings(&doc["scan"]["cut_short"]);
    let waiting = strings(&doc["scan"]["not_identified"]);
    assert_eq!(cut.len(), 1, "{}", doc["scan"]);
    assert_eq!(waiting.len(), 3, "{}", doc["scan"]);
    for p in &pits {
        let a = authority(ip, p);
        assert!(cut.contains(&a) || waiting.contains(&a), "{a} missing");
        let svc = doc["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["port"] == p.port())
            .unwrap_or_else(|| panic!("{a} not among services"));
        assert_eq!(svc["kind"], "unknown");
        assert!(!strings(&svc["errors"]).is_empty(), "{svc}");
    }
}

fn quick_peers(ip: Ipv4Addr, n: usize) -> (Vec<Listener>, String) {
    let ls: Vec<Listener> = (0..n)
        .map(|_| Listener::start(ip, 0, close_at_once))
        .collect();
    let ports = ls
        .iter()
        .map(|l| l.port().to_string())
        .collect::<Vec<_>>()
        .join(",");
    (ls, ports)
}

#[test]
fn targets_come_from_stdin_and_errors_name_stdin_lines() {
    let ip = unique_loopback();
    let (ls, _) = quick_peers(ip, 2);
    let input = format!(
        "# from naabu\n{ip}:{}  {ip}:{}\n\n",
        ls[0].port(),
        ls[1].port()
    );
    let run = Scan::new()
        .args(["--no-progress", "-i", "-"])
        .json()
        .stdin(input)
        .spawn();
    let ran = run.wait(Duration::from_secs(60));
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let doc = ran.json();
    assert_eq!(doc["services"].as_array().unwrap().len(), 2, "{doc}");
    assert_eq!(
        strings(&doc["scan"]["targets"]),
        [
            format!("{ip}:{}", ls[0].port()),
            format!("{ip}:{}", ls[1].port())
        ]
    );

    let run = Scan::new()
        .args(["-i", "-", "--dry-run"])
        .stdin("127.0.0.1:1\n# fine\nnot..a..host\n")
        .spawn();
    let Ran { code, stderr, .. } = run.wait(Duration::from_secs(30));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("<stdin>:3"), "{stderr}");

    let run = Scan::new()
        .args(["-i", "-", "--exclude-file", "-", "--dry-run"])
        .stdin("127.0.0.1:1\n")
        .spawn();
    let Ran { code, stderr, .. } = run.wait(Duration::from_secs(30));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("only once"), "{stderr}");
}

#[test]
fn a_jsonl_file_that_cannot_grow_keeps_its_whole_lines_and_exits_3() {
    let ip = unique_loopback();
    let (_ls, ports) = quick_peers(ip, 6);
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("out.jsonl");
    // A 2 KiB file size limit (SIGXFSZ ignored, so writes fail with EFBIG)
    // stands in for a full disk; the JSON report goes to a pipe, which the
    // limit does not touch.
    let script = "trap '' XFSZ; ulimit -f 2; exec \"$0\" \"$@\"";
    let run = Scan::new()
        .via("bash", ["-c", script])
        .arg("--no-progress")
        .target(ip.to_string())
        .ports(&ports)
        .arg("--jsonl")
        .arg(&jsonl)
        .args(["--json", "-"])
        .spawn();
    let Ran {
        code,
        stdout,
        stderr,
        ..
    } = run.wait(Duration::from_secs(60));
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("--jsonl"), "{stderr}");
    let lines = jsonl_lines(&jsonl);
    assert!(
        !lines.is_empty() && lines.len() < 6,
        "{} lines kept",
        lines.len()
    );
    let doc: Value = serde_json::from_str(&stdout).expect("the JSON report on stdout");
    assert_eq!(doc["services"].as_array().unwrap().len(), 6);
    assert!(
        doc["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["target"].as_str().unwrap().contains("--jsonl")
                && n["message"]
                    .as_str()
                    .unwrap()
                    .contains("which the file holds")),
        "{}",
        doc["notices"]
    );
}

/// A scan of about 6 s (128 probes at 20/s) with stderr a pipe, as in cron.
fn slow_scan_stderr(extra: &[&str]) -> String {
    let ip = unique_loopback();
    let l = Listener::start(ip, 0, close_at_once);
    let o = ip.octets();
    let range = format!("{}.{}.{}.0/25", o[0], o[1], o[2]);
    let mut a: Vec<String> = vec![
        "scan".into(),
        range,
        "--ports".into(),
        l.port().to_string(),
        "--rate".into(),
        "20".into(),
        "--json".into(),
        "/dev/null".into(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    let Ran { code, stderr, .. } = Scan::binary()
        .args(&a)
        .spawn()
        .wait(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{stderr}");
    stderr
}

#[test]
fn progress_lines_go_to_a_stderr_that_is_not_a_terminal() {
    let stderr = slow_scan_stderr(&[]);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("flinkscan: progress: "))
        .unwrap_or_else(|| panic!("no progress line: {stderr}"));
    let re = regex::Regex::new(
        r"^flinkscan: progress: \d+/128 probes \(\d+%\), \d+/s, \d+ open, \d+ identified, \d+ findings, ETA \S+",
    )
    .unwrap();
    assert!(re.is_match(line), "{line}");
    assert!(
        !stderr.contains('\r') && !stderr.contains('\u{1b}'),
        "a bar: {stderr:?}"
    );
}

#[test]
fn quiet_means_no_progress_lines() {
    let stderr = slow_scan_stderr(&["--quiet"]);
    assert!(!stderr.contains("progress"), "{stderr}");
}

/// What must be equal between an uninterrupted and a resumed scan.
fn essence(doc: &Value) -> (Value, Vec<String>, Vec<String>) {
    let stats = doc["stats"].clone();
    let mut services: Vec<String> = doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}:{} {} flink={} {}",
                s["ip"], s["port"], s["kind"], s["flink"], s["version"]
            )
        })
        .collect();
    services.sort();
    let mut findings: Vec<String> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {}:{}", f["rule_id"], f["ip"], f["port"]))
        .collect();
    findings.sort();
    (stats, services, findings)
}

/// A pseudo-random duration in [lo, hi) ms, different each call.
fn random_ms(lo: u64, hi: u64) -> Duration {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    Duration::from_millis(lo + (t.wrapping_mul(2_654_435_761) >> 7) % (hi - lo))
}

#[test]
fn a_sweep_killed_again_and_again_resumes_to_the_uninterrupted_report() {
    // Listeners on several addresses of one 127.x.0.0/16, all on one port
    // this test holds: the sweep probes only that port.
    let first = unique_loopback();
    let quick = Listener::start(first, 0, close_at_once);
    let port = quick.port();
    let mut peers = vec![quick];
    for _ in 0..3 {
        peers.push(Listener::start(unique_loopback(), port, close_at_once));
    }
    peers.push(Listener::start(
        unique_loopback(),
        port,
        support::peers::fake_rpc,
    ));
    let o = first.octets();
    let range = format!("{}.{}.0.0/16", o[0], o[1]);
    let dir = tempfile::tempdir().unwrap();
    let base = |json: &Path| -> Vec<String> {
        vec![
            "scan".into(),
            "--no-progress".into(),
            range.clone(),
            "--ports".into(),
            port.to_string(),
            "--json".into(),
            json.display().to_string(),
        ]
    };

    let reference = dir.path().join("reference.json");
    let Ran { code, stderr, .. } = Scan::binary()
        .args(base(&reference))
        .spawn()
        .wait(Duration::from_secs(120));
    assert_eq!(code, Some(0), "{stderr}");
    let want = essence(&load(&reference));
    assert_eq!(want.0["probed"], 65536);
    assert_eq!(want.1.len(), peers.len(), "{:?}", want.1);

    // At 3,000 probes/s the sweep takes about 22 s. Each run is killed
    // (SIGKILL: nothing runs on the way out) at a random moment after it
    // wrote its first checkpoint, so every run moves the scan on.
    let state = dir.path().join("scan.state");
    let out = dir.path().join("resumed.json");
    let mut kills = 0;
    for round in 0..8 {
        let mut a = base(&out);
        a.extend(["--rate".into(), "3000".into()]);
        if round == 0 {
            a.extend(["--state".into(), state.display().to_string()]);
        } else {
            a.extend(["--resume".into(), state.display().to_string()]);
        }
        let before = std::fs::read(&state).ok();
        let mut run = Scan::binary().args(&a).spawn();
        if kills < 3 {
            wait_until(Duration::from_secs(60), "a new checkpoint", || {
                let now = std::fs::read(&state).ok();
                now.is_some() && now != before || !run.running()
            });
            thread::sleep(random_ms(0, 2500));
            if run.running() {
                run.kill();
                kills += 1;
                assert!(!out.exists(), "a killed run wrote its report");
                continue;
            }
        }
        let Ran { code, stderr, .. } = run.wait(Duration::from_secs(120));
        assert_eq!(code, Some(0), "{stderr}");
        break;
    }
    assert_eq!(kills, 3, "the scan ended before it was killed three times");
    let got = load(&out);
    assert_eq!(got["scan"]["status"], "complete");
    assert_eq!(essence(&got), want, "resumed scan differs");
    assert!(!state.exists(), "a finished scan keeps its checkpoint");
}

#[test]
fn resume_refuses_a_different_scan_and_continues_a_stopped_one() {
    let ip = unique_loopback();
    let (_ls, ports) = quick_peers(ip, 2);
    let o = ip.octets();
    let range = format!("{}.{}.{}.0/24", o[0], o[1], o[2]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.state");
    let json = dir.path().join("out.json");
    let run = |extra: &[&str]| {
        let mut a: Vec<String> = vec![
            "scan".into(),
            "--no-progress".into(),
            range.clone(),
            "--ports".into(),
            ports.clone(),
            "--json".into(),
            json.display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        Scan::binary()
            .args(&a)
            .spawn()
            .wait(Duration::from_secs(60))
    };
    let st = state.display().to_string();
    // 512 probes at 100/s: stopped after 2 s, the checkpoint is kept.
    let Ran { code, stderr, .. } = run(&["--rate", "100", "--max-duration", "2s", "--state", &st]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(load(&json)["scan"]["status"], "max-duration");
    assert!(state.exists());
    let Ran { code, stderr, .. } = run(&["--seed", "7", "--resume", &st]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("different scan"), "{stderr}");
    let Ran { code, stderr, .. } =
        run(&["--resume", &dir.path().join("nope").display().to_string()]);
    assert_eq!(code, Some(2), "{stderr}");
    let Ran { code, stderr, .. } = run(&["--state", &json.display().to_string()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("same file"), "{stderr}");
    let Ran { code, stderr, .. } = run(&["--resume", &st]);
    assert_eq!(code, Some(0), "{stderr}");
    let doc = load(&json);
    assert_eq!(doc["scan"]["status"], "complete");
    assert_eq!(doc["stats"]["probed"], 512);
    assert_eq!(doc["services"].as_array().unwrap().len(), 2);
}

#[test]
fn a_sigterm_checkpoint_resumes_to_a_complete_scan() {
    let ip = unique_loopback();
    let (_ls, ports) = quick_peers(ip, 2);
    let o = ip.octets();
    let range = format!("{}.{}.{}.0/24", o[0], o[1], o[2]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.state");
    let json = dir.path().join("out.json");
    let a = |flag: &str, rate: &str| -> Vec<String> {
        [
            "scan",
            "--no-progress",
            &range,
            "--ports",
            &ports,
            "--rate",
            rate,
            "--json",
            &json.display().to_string(),
            flag,
            &state.display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    // 512 probes at 50/s: about 10 s; SIGTERM after the first checkpoint.
    let mut run = Scan::binary().args(a("--state", "50")).spawn();
    wait_until(Duration::from_secs(30), "the first checkpoint", || {
        state.exists()
    });
    assert!(run.running());
    run.signal("TERM");
    let Ran { code, stderr, .. } = run.wait(Duration::from_secs(30));
    assert_eq!(code, Some(143), "{stderr}");
    let doc = load(&json);
    assert_eq!(doc["scan"]["status"], "interrupted");
    let first_id = doc["scan"]["id"].clone();
    assert!(doc["stats"]["probed"].as_u64().unwrap() < 512);

    let Ran { code, stderr, .. } = Scan::binary()
        .args(a("--resume", "5000"))
        .spawn()
        .wait(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{stderr}");
    let doc = load(&json);
    assert_eq!(doc["scan"]["status"], "complete");
    assert_eq!(doc["scan"]["id"], first_id, "a resumed scan keeps its id");
    assert_eq!(doc["stats"]["probed"], 512);
    assert_eq!(doc["stats"]["open"], 2);
    assert_eq!(doc["services"].as_array().unwrap().len(), 2);
    assert!(!state.exists());
}

#[test]
fn results_go_to_a_private_sidecar_that_a_resume_checks_and_a_complete_scan_removes() {
    use std::os::unix::fs::PermissionsExt;
    let ip = unique_loopback();
    let (_ls, ports) = quick_peers(ip, 8);
    let o = ip.octets();
    let range = format!("{}.{}.{}.0/24", o[0], o[1], o[2]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.state");
    let sidecar = dir.path().join("s.state.results");
    let json = dir.path().join("out.json");
    let a = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "scan",
            "--no-progress",
            &range,
            "--ports",
            &ports,
            "--json",
            &json.display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let st = state.display().to_string();
    // 2,048 probes at 200/s: about 10 s. SIGTERM once a checkpoint covers
    // an identified port (8 open ports spread over the permuted sweep).
    let mut run = Scan::binary()
        .args(a(&["--rate", "200", "--state", &st]))
        .spawn();
    let records = |p: &Path| -> u64 {
        std::fs::read(p)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v["records"].as_u64())
            .unwrap_or(0)
    };
    wait_until(Duration::from_secs(30), "a checkpoint with results", || {
        records(&state) > 0 || !run.running()
    });
    run.signal("TERM");
    let Ran { code, stderr, .. } = run.wait(Duration::from_secs(30));
    assert_eq!(code, Some(143), "{stderr}");

    // The checkpoint holds no results; the sidecar holds one line each.
    let doc: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert!(doc.get("services").is_none(), "{doc}");
    let lines = std::fs::read(&sidecar).unwrap();
    let n = doc["records"].as_u64().unwrap();
    assert!(n > 0);
    assert_eq!(lines.len() as u64, doc["results"].as_u64().unwrap());
    assert_eq!(lines.iter().filter(|&&b| b == b'\n').count() as u64, n);
    let mode = std::fs::metadata(&sidecar).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // No output may overwrite it.
    let clash = a(&["--resume", &st, "--jsonl", &sidecar.display().to_string()]);
    let Ran { code, stderr, .. } = Scan::binary()
        .args(&clash)
        .spawn()
        .wait(Duration::from_secs(30));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("same file"), "{stderr}");
    // A damaged line is refused before any probe, naming file and line.
    let mut bad = lines.clone();
    bad[0] = b'x';
    std::fs::write(&sidecar, &bad).unwrap();
    let Ran { code, stderr, .. } = Scan::binary()
        .args(a(&["--resume", &st]))
        .spawn()
        .wait(Duration::from_secs(30));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("s.state.results") && stderr.contains("line 1"),
        "{stderr}"
    );
    std::fs::write(&sidecar, &lines).unwrap();

    let Ran { code, stderr, .. } = Scan::binary()
        .args(a(&["--resume", &st]))
        .spawn()
        .wait(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{stderr}");
    let doc = load(&json);
    assert_eq!(doc["scan"]["status"], "complete");
    assert_eq!(doc["stats"]["probed"], 2048);
    assert_eq!(doc["services"].as_array().unwrap().len(), 8);
    assert!(
        !state.exists() && !sidecar.exists(),
        "{:?}",
        visible_files(dir.path())
    );
}

/// Connections to the canaries of the forged-checkpoint test: addresses a
/// scan must never probe.
static CANARY_HITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn canary(_c: std::net::TcpStream) {
    CANARY_HITS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// A checkpoint is a file anyone may edit: every entry is checked against
/// the targets, exclusions and ports of the scan being resumed, and one
/// that does not fit is refused (exit 2, naming the field) before any
/// probe. The forged entries are loopback canaries only: one outside the
/// targets, one under --exclude, both listening and counting connections.
#[test]
fn a_forged_checkpoint_is_refused_naming_the_field_and_nothing_outside_is_probed() {
    let o = unique_loopback().octets();
    let net = Ipv4Addr::new(127, o[1], 252, 0);
    let target = Ipv4Addr::new(127, o[1], 252, 1);
    let excluded = Ipv4Addr::new(127, o[1], 252, 5);
    let outside = Ipv4Addr::new(127, o[1], 253, 1);
    let (port, _ls) = support::peers::on_one_free_port(&[
        (target, close_at_once),
        (excluded, canary),
        (outside, canary),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.state");
    let json = dir.path().join("out.json");
    let st = state.display().to_string();
    let run = |extra: &[&str]| {
        let mut a: Vec<String> = vec![
            "scan".into(),
            "-q".into(),
            format!("{net}/28"),
            "--exclude".into(),
            excluded.to_string(),
            "--ports".into(),
            port.to_string(),
            "--json".into(),
            json.display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        Scan::binary()
            .args(&a)
            .spawn()
            .wait(Duration::from_secs(60))
    };
    // 15 probes at 2/s, stopped after 2 s: a genuine checkpoint is kept.
    let Ran { code, stderr, .. } = run(&["--rate", "2", "--max-duration", "2s", "--state", &st]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(load(&json)["scan"]["status"], "max-duration");
    let genuine = std::fs::read(&state).unwrap();
    let doc: Value = serde_json::from_slice(&genuine).unwrap();
    let next = doc["next"].as_u64().unwrap();
    // Probes were done and some were still to do (waiting for --rate).
    let left = doc["in_flight"].as_array().unwrap().len() as u64 + 15 - next;
    assert!(next > 0 && left > 0, "{doc}");
    let ep = |ip: Ipv4Addr| serde_json::json!({"ip": ip.to_string(), "port": port});

    // (the field the error must name, the JSON pointer forged, its value)
    let forged = [
        ("pending", "/pending", serde_json::json!([ep(outside)])),
        ("pending", "/pending", serde_json::json!([ep(excluded)])),
        ("in_flight", "/in_flight", serde_json::json!(vec![0; 1000])),
        (
            "in_flight",
            "/in_flight",
            serde_json::json!([next + 1_000_000]),
        ),
        ("next", "/next", serde_json::json!(1_000_000)),
        ("counts", "/counts/probed", serde_json::json!(1_000_000)),
        ("counts", "/counts/open", serde_json::json!(1_000_000)),
    ];
    for (field, pointer, value) in &forged {
        let mut d = doc.clone();
        *d.pointer_mut(pointer).unwrap() = value.clone();
        std::fs::write(&state, serde_json::to_vec(&d).unwrap()).unwrap();
        let Ran { code, stderr, .. } = run(&["--resume", &st]);
        assert_eq!(code, Some(2), "{field}: {stderr}");
        assert!(
            stderr.contains(&format!("field `{field}`")) && stderr.contains("s.state"),
            "{field}: {stderr}"
        );
        assert_eq!(
            CANARY_HITS.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "a forged {field} was probed"
        );
    }

    // The genuine checkpoint still resumes, to a complete scan that never
    // touched the canaries.
    std::fs::write(&state, &genuine).unwrap();
    let Ran { code, stderr, .. } = run(&["--resume", &st]);
    assert_eq!(code, Some(0), "{stderr}");
    let out = load(&json);
    assert_eq!(out["scan"]["status"], "complete", "{stderr}");
    assert_eq!(out["stats"]["probed"], 15);
    assert_eq!(CANARY_HITS.load(std::sync::atomic::Ordering::SeqCst), 0);
}
