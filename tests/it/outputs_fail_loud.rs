//! Outputs fail loud, never clean: a broken machine stream, an unwritable
//! destination, a special file, a baseline of a bigger scan and `--fail-on`
//! thresholds. Loopback only: every listener and target is in 127.0.0.0/8.

use crate::support;

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command as StdCommand, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::flink::unique_loopback;
use support::peers::{
    fake_prometheus, fake_rpc, finding_states, flinkscan, json_file, rule_ids, Listener,
};
use support::scan::{scan_to, Scan};

/// Run flinkscan with its stdout pipe closed before it writes a byte, as
/// `flinkscan ... | head -0` would; returns exit code and stderr.
fn run_with_closed_stdout(args: &[&str]) -> (i32, String) {
    let ran = Scan::binary()
        .args(args)
        .stdout_closed()
        .limit(Duration::from_secs(120))
        .run();
    (ran.code.unwrap_or(-1), ran.stderr)
}

/// A loopback listener that counts connections and holds each, silent,
/// for `hold` before closing it.
fn counting_listener(ip: Ipv4Addr, hold: Duration) -> (SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind((ip, 0)).unwrap();
    let addr = l.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    thread::spawn(move || {
        for conn in l.incoming() {
            c.fetch_add(1, Ordering::SeqCst);
            thread::spawn(move || {
                thread::sleep(hold);
                drop(conn);
            });
        }
    });
    (addr, count)
}

fn wait_until_closed(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "{addr} still accepts");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_broken_jsonl_stream_keeps_the_scan_and_other_outputs_and_exits_3() {
    let ip = unique_loopback();
    let rpc = Listener::start(ip, 0, fake_rpc);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let sarif = dir.path().join("out.sarif");
    let (code, stderr) = run_with_closed_stdout(&[
        "scan",
        "--no-progress",
        &rpc.addr.to_string(),
        "--jsonl",
        "-",
        "--json",
        json.to_str().unwrap(),
        "--sarif",
        sarif.to_str().unwrap(),
    ]);
    assert_eq!(
        code, 3,
        "a broken machine stream is a runtime failure: {stderr}"
    );
    assert!(stderr.contains("--jsonl"), "names the stream: {stderr}");
    let doc = json_file(&json);
    assert_eq!(rule_ids(&doc), vec!["FLINK-RPC-PLAINTEXT"], "{doc}");
    let notices = doc["notices"].as_array().unwrap();
    assert!(
        notices
            .iter()
            .any(|n| n["target"].as_str().unwrap().contains("--jsonl")
                && n["message"].as_str().unwrap().contains("stream broke")),
        "the broken stream is recorded: {notices:?}"
    );
    let sarif = json_file(&sarif);
    assert_eq!(
        sarif["runs"][0]["results"][0]["ruleId"],
        "FLINK-RPC-PLAINTEXT"
    );
}

#[test]
fn a_closed_pipe_on_the_human_summary_is_benign() {
    let ip = unique_loopback();
    let rpc = Listener::start(ip, 0, fake_rpc);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let target = rpc.addr.to_string();
    // The exit code is the scan's: 1 for a critical finding with --fail-on high.
    let (code, stderr) = run_with_closed_stdout(&[
        "scan",
        "--no-progress",
        &target,
        "--fail-on",
        "high",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains("error"), "no error spew: {stderr}");
    assert_eq!(rule_ids(&json_file(&json)), vec!["FLINK-RPC-PLAINTEXT"]);
    let (code, stderr) = run_with_closed_stdout(&["scan", "--no-progress", &target]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn unusable_destinations_are_usage_errors_before_any_probe() {
    let ip = unique_loopback();
    let (addr, connections) = counting_listener(ip, Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("out.json");
    let a_dir = dir.path().join("a-dir");
    std::fs::create_dir(&a_dir).unwrap();
    let good = dir.path().join("good.json");
    // /proc refuses new files even to root: a read-only directory for everyone.
    let read_only = Path::new("/proc/flinkscan-out.sarif");
    let cases: [(&str, &Path); 4] = [
        ("--json", &missing),
        ("--sarif", &a_dir),
        ("--jsonl", &missing),
        ("--sarif", read_only),
    ];
    for (flag, path) in cases {
        let out = flinkscan()
            .args(["scan", "--no-progress", &addr.to_string(), "--json"])
            .arg(if flag == "--json" { path } else { &good })
            .args(if flag == "--json" {
                vec![]
            } else {
                vec![flag.to_string(), path.display().to_string()]
            })
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{flag} {}: {stderr}",
            path.display()
        );
        assert!(
            stderr.contains(flag) && stderr.contains(&path.display().to_string()),
            "names flag and path: {stderr}"
        );
        assert!(!good.exists(), "nothing written");
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "nothing may be sent when an output cannot be written"
    );
    assert_eq!(
        std::fs::read_dir(&a_dir).unwrap().count(),
        0,
        "the check leaves no file behind"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn an_output_failing_at_the_end_does_not_skip_the_others() {
    let ip = unique_loopback();
    let (addr, connections) = counting_listener(ip, Duration::from_secs(30));
    let dir = tempfile::tempdir().unwrap();
    let doomed = dir.path().join("doomed");
    std::fs::create_dir(&doomed).unwrap();
    let json = doomed.join("out.json");
    // The listener holds its connections silent: identification waits out
    // --probe-timeout, long enough to pull the directory away under it.
    let run = Scan::new()
        .arg("--no-progress")
        .target(addr.to_string())
        .args(["--probe-timeout", "3s"])
        .arg("--json")
        .arg(&json)
        .out_dir(dir.path(), "out")
        .sarif()
        .jsonl()
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(20);
    while connections.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the scan never connected");
        thread::sleep(Duration::from_millis(5));
    }
    std::fs::remove_dir_all(&doomed).unwrap();
    let ran = run.wait(Duration::from_secs(60));
    let stderr = &ran.stderr;
    assert_eq!(ran.code, Some(3), "{stderr}");
    assert!(
        stderr.contains("--json") && stderr.contains(&json.display().to_string()),
        "names the failed output: {stderr}"
    );
    let doc = ran.sarif();
    assert_eq!(doc["version"], "2.1.0");
    assert!(
        ran.path(support::scan::Output::Jsonl).exists(),
        "the JSONL stream is still committed"
    );
}

/// Reads a FIFO to its end in a thread; the text arrives on the channel.
fn fifo_reader(path: &Path) -> std::sync::mpsc::Receiver<String> {
    let status = StdCommand::new("mkfifo").arg(path).status();
    match status {
        Ok(s) if s.success() => {}
        other => panic!("mkfifo (coreutils) is needed for this test: {other:?}"),
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let path = path.to_path_buf();
    thread::spawn(move || {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&path) {
            let _ = f.read_to_string(&mut text);
        }
        let _ = tx.send(text);
    });
    rx
}

fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path)
        .map(|m| m.file_type().is_fifo())
        .unwrap_or(false)
}

#[test]
fn special_files_are_written_in_place_never_replaced() {
    let ip = unique_loopback();
    let rpc = Listener::start(ip, 0, fake_rpc);
    let target = rpc.addr.to_string();
    let dir = tempfile::tempdir().unwrap();

    // FIFOs for --json and --jsonl, each read while the scan writes.
    let json_fifo = dir.path().join("json.fifo");
    let jsonl_fifo = dir.path().join("jsonl.fifo");
    let json_rx = fifo_reader(&json_fifo);
    let jsonl_rx = fifo_reader(&jsonl_fifo);
    flinkscan()
        .args(["scan", "--no-progress", &target, "--json"])
        .arg(&json_fifo)
        .arg("--jsonl")
        .arg(&jsonl_fifo)
        .assert()
        .code(0);
    let json = json_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the JSON report arrives through the FIFO");
    let doc: Value = serde_json::from_str(&json).expect("a whole JSON report");
    assert_eq!(rule_ids(&doc), vec!["FLINK-RPC-PLAINTEXT"]);
    let jsonl = jsonl_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the JSONL events arrive through the FIFO");
    // The service, its finding and the cluster they form.
    assert_eq!(jsonl.lines().count(), 3, "{jsonl}");
    assert!(is_fifo(&json_fifo) && is_fifo(&jsonl_fifo), "still FIFOs");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);

    // A link to this process's stdout (what /dev/stdout is) is written
    // through, not replaced by a regular file.
    let link = dir.path().join("stdout-link");
    std::os::unix::fs::symlink("/proc/self/fd/1", &link).unwrap();
    let out = flinkscan()
        .args(["scan", "--no-progress", &target, "--sarif"])
        .arg(&link)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let sarif: Value = serde_json::from_slice(&out.stdout).expect("only SARIF on stdout");
    assert_eq!(sarif["version"], "2.1.0");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());

    // `-` and /dev/stdout both mean stdout; the summary moves to stderr.
    for (flag, dest) in [
        ("--json", "-"),
        ("--sarif", "/dev/stdout"),
        ("--json", "/dev/fd/1"),
    ] {
        let out = flinkscan()
            .args(["scan", &target, flag, dest])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{flag} {dest}");
        let doc: Value = serde_json::from_slice(&out.stdout).expect("only JSON on stdout");
        assert!(doc.is_object(), "{flag} {dest}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("FLINK-RPC-PLAINTEXT"));
    }
    assert!(std::fs::symlink_metadata("/dev/stdout")
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn two_outputs_on_stdout_or_one_path_twice_are_refused() {
    let ip = unique_loopback();
    let (addr, connections) = counting_listener(ip, Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let a_again = dir.path().join(".").join("a.json");
    let cases: Vec<Vec<String>> = vec![
        vec!["--json".into(), "-".into(), "--sarif".into(), "-".into()],
        vec![
            "--jsonl".into(),
            "-".into(),
            "--json".into(),
            "/dev/stdout".into(),
        ],
        vec![
            "--sarif".into(),
            "/dev/fd/1".into(),
            "--jsonl".into(),
            "-".into(),
        ],
        vec![
            "--json".into(),
            a.display().to_string(),
            "--sarif".into(),
            a_again.display().to_string(),
        ],
    ];
    for args in cases {
        let out: Output = flinkscan()
            .args(["scan", "--no-progress", &addr.to_string()])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&args[0]) && stderr.contains(&args[2]),
            "names both flags: {stderr}"
        );
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0);
    assert!(!a.exists());
}

/// Scan `targets` with a JSON report at `dir/name.json`; returns it and stdout.
fn scan_json(targets: &[String], extra: &[&str], dir: &Path, name: &str) -> (Value, String) {
    let args: Vec<&str> = targets
        .iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .collect();
    let run = scan_to(dir, name, &args);
    assert!(run.code == Some(0), "{}", run.stderr);
    (run.json().clone(), run.stdout)
}

#[test]
fn a_baseline_of_more_hosts_marks_only_probed_endpoints_fixed() {
    let a = Listener::start(unique_loopback(), 0, fake_rpc);
    let b = Listener::start(unique_loopback(), 0, fake_rpc);
    let (a_ep, b_ep) = (a.addr.to_string(), b.addr.to_string());
    let dir = tempfile::tempdir().unwrap();
    let both = [a_ep.clone(), b_ep.clone()];
    let (base, _) = scan_json(&both, &[], dir.path(), "base");
    assert_eq!(base["findings"].as_array().unwrap().len(), 2, "{base}");
    let base_path = dir.path().join("base.json");
    let baseline = ["--baseline", base_path.to_str().unwrap()];

    // Only host A: B's finding was not looked at, so it is not fixed.
    let (doc, summary) = scan_json(std::slice::from_ref(&a_ep), &baseline, dir.path(), "subset");
    assert_eq!(
        finding_states(&doc),
        vec![(a_ep.clone(), "unchanged".into())],
        "{doc}"
    );
    assert!(
        summary.contains("baseline: 0 new, 1 unchanged, 0 fixed"),
        "{summary}"
    );
    // The finding's own line (the cluster's "exposed:" line names the port too).
    let line = summary
        .lines()
        .find(|l| l.contains(&a_ep) && l.contains("FLINK-"))
        .unwrap();
    assert!(
        line.contains("unchanged") && line.contains("FLINK-RPC-PLAINTEXT"),
        "{line}"
    );
    assert!(!summary.contains(&b_ep), "{summary}");

    // One shard of both: only the endpoint this shard probed can be fixed.
    let listed = flinkscan()
        .args(["scan", "--dry-run", "--shard", "0/2"])
        .args(&both)
        .output()
        .unwrap();
    let in_shard = String::from_utf8_lossy(&listed.stdout).trim().to_string();
    assert!(in_shard == a_ep || in_shard == b_ep, "{in_shard}");
    let (doc, _) = scan_json(
        &both,
        &[&baseline[..], &["--shard", "0/2"]].concat(),
        dir.path(),
        "shard",
    );
    assert_eq!(
        finding_states(&doc),
        vec![(in_shard.clone(), "unchanged".into())],
        "{doc}"
    );

    // A's listener gone: now A's finding is fixed, and the summary says so.
    let a_addr = a.addr;
    drop(a);
    wait_until_closed(a_addr);
    let (doc, summary) = scan_json(&both, &baseline, dir.path(), "after");
    let mut got = finding_states(&doc);
    got.sort();
    let mut want = vec![
        (a_ep.clone(), "fixed".to_string()),
        (b_ep.clone(), "unchanged".into()),
    ];
    want.sort();
    assert_eq!(got, want, "{doc}");
    assert!(
        summary.contains("baseline: 0 new, 1 unchanged, 1 fixed"),
        "{summary}"
    );
    // The finding's own line (the cluster's "exposed:" line names the port too).
    let line = summary
        .lines()
        .find(|l| l.contains(&a_ep) && l.contains("FLINK-"))
        .unwrap();
    assert!(line.contains("fixed"), "{line}");
}

#[test]
fn fail_on_counts_equal_and_higher_severities_never_lower_or_fixed() {
    let metrics = Listener::start(unique_loopback(), 0, fake_prometheus);
    let target = metrics.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (doc, _) = scan_json(std::slice::from_ref(&target), &[], dir.path(), "metrics");
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(rule_ids(&doc), vec!["FLINK-METRICS-EXPOSED"], "{doc}");
    assert_eq!(findings[0]["severity"], "low");
    for (threshold, code) in [("info", 1), ("low", 1), ("medium", 0), ("critical", 0)] {
        flinkscan()
            .args(["scan", "--no-progress", &target, "--fail-on", threshold])
            .assert()
            .code(code);
    }

    // A critical finding that is gone is "fixed" and fails nothing.
    let rpc = Listener::start(unique_loopback(), 0, fake_rpc);
    let rpc_ep = rpc.addr.to_string();
    scan_json(std::slice::from_ref(&rpc_ep), &[], dir.path(), "rpc");
    let base = dir.path().join("rpc.json");
    let base = base.to_str().unwrap();
    flinkscan()
        .args([
            "scan",
            "--no-progress",
            &rpc_ep,
            "--fail-on",
            "critical",
            "--baseline",
            base,
        ])
        .assert()
        .code(1);
    let addr = rpc.addr;
    drop(rpc);
    wait_until_closed(addr);
    let json = dir.path().join("fixed.json");
    flinkscan()
        .args([
            "scan",
            "--no-progress",
            &rpc_ep,
            "--fail-on",
            "info",
            "--baseline",
            base,
            "--json",
        ])
        .arg(&json)
        .assert()
        .code(0);
    assert_eq!(
        finding_states(&json_file(&json)),
        vec![(rpc_ep, "fixed".into())]
    );
}

#[test]
fn a_baseline_finding_is_not_fixed_by_a_skipped_rule_or_a_cut_short_scan() {
    let rpc = Listener::start(unique_loopback(), 0, fake_rpc);
    let ep = rpc.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    scan_json(std::slice::from_ref(&ep), &[], dir.path(), "base");
    let base = dir.path().join("base.json");
    let baseline = ["--baseline", base.to_str().unwrap()];

    // The port still answers, but its rule did not run.
    let (doc, _) = scan_json(
        std::slice::from_ref(&ep),
        &[&baseline[..], &["--skip-rules", "FLINK-RPC-*"]].concat(),
        dir.path(),
        "skipped",
    );
    assert_eq!(finding_states(&doc), vec![], "{doc}");
    assert!(
        doc["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["target"] == "--baseline"),
        "{doc}"
    );

    // The port is gone, but the scan stopped at --max-duration: it cannot
    // tell what it reached, so nothing is fixed.
    let addr = rpc.addr;
    drop(rpc);
    wait_until_closed(addr);
    let pit = Listener::start(unique_loopback(), 0, support::peers::tarpit);
    let (doc, _) = scan_json(
        &[ep, pit.addr.to_string()],
        &[
            &baseline[..],
            &["--max-duration", "1s", "--probe-timeout", "20s"],
        ]
        .concat(),
        dir.path(),
        "cut",
    );
    assert_eq!(doc["scan"]["status"], "max-duration", "{doc}");
    assert_eq!(finding_states(&doc), vec![], "{doc}");
}

/// `tests/markdown/links.py` renders Markdown with cmark-gfm and with
/// markdown-it-py (linkify on, fuzzy links and e-mails): what each
/// linked and the text each shows. `None` when they are missing and the
/// opt-out is set.
fn render_markdown(md: &str) -> Option<Value> {
    let ok = StdCommand::new("python3")
        .args(["-c", "import cmarkgfm, markdown_it, linkify_it"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        support::missing(
            "Python's cmarkgfm, markdown-it-py and linkify-it-py",
            "python3 -m pip install cmarkgfm markdown-it-py linkify-it-py",
        );
        return None;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/markdown/links.py");
    let mut child = StdCommand::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), md.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// URLs, host names and addresses a peer chose, in a finding, its
/// evidence, a service's product and a notice, rendered by two real
/// Markdown renderers with autolinking: none becomes a link, and each
/// still reads as the peer sent it.
#[test]
fn peer_urls_in_markdown_are_never_links_under_autolinking_renderers() {
    let dir = tempfile::tempdir().unwrap();
    let l = Listener::start(unique_loopback(), 0, support::peers::close_at_once);
    let (mut doc, _) = scan_json(
        &[l.addr.ip().to_string()],
        &["-p", &l.port().to_string()],
        dir.path(),
        "scan",
    );
    let peer = [
        "http://evil.example/login",
        "HTTPS://EVIL.EXAMPLE/X",
        "www.evil.example",
        "admin@evil.example",
        "//evil.example/x",
        "evil.example",
        "ftp://10.0.0.1/x",
        "http://[::1]:8081/",
        "mailto:root@evil.example",
    ];
    let text = peer.join(" and ");
    doc["findings"] = serde_json::json!([{
        "rule_id": "FLINK-REST-PLAINTEXT",
        "severity": "high",
        "title": format!("Title {}", peer[0]),
        "ip": l.addr.ip().to_string(),
        "port": l.port(),
        "service": "jobmanager-rest",
        "url": format!("http://{}/", l.addr),
        "detail": text,
        "evidence": [{"request": format!("GET {}", peer[1]), "excerpt": text}],
    }]);
    if let Some(s) = doc["services"].as_array_mut().and_then(|s| s.first_mut()) {
        s["product"] = Value::String(text.clone());
    }
    doc["notices"] = serde_json::json!([{"target": peer[2], "message": text}]);
    let report = dir.path().join("hostile.json");
    std::fs::write(&report, serde_json::to_vec(&doc).unwrap()).unwrap();
    let md = dir.path().join("r.md");
    flinkscan()
        .arg("report")
        .arg(&report)
        .arg("--markdown")
        .arg(&md)
        .assert()
        .success();
    let md = std::fs::read_to_string(&md).unwrap();
    let Some(rendered) = render_markdown(&md) else {
        return;
    };
    for renderer in ["cmark-gfm", "markdown-it"] {
        let links = &rendered[renderer]["links"];
        assert_eq!(
            links,
            &serde_json::json!([]),
            "{renderer} made links:\n{md}"
        );
        let shown = rendered[renderer]["text"].as_str().unwrap();
        for p in peer {
            assert!(shown.contains(p), "{renderer} does not show {p}:\n{shown}");
        }
    }
}
