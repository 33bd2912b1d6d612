//! Hostile and broken peers, each a small server on its own loopback
//! address: the real binary must end within its bounds, exit 0, list the
//! port, record what went wrong for it, never call it Flink (unless it is a
//! Flink look-alike that should be identified) and finish the rest.
//!
//! Every socket here is bound to and every scan aimed at 127.0.0.0/8.

use crate::support;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::flink::unique_loopback;
use support::peers::{request_path, respond};

/// A correctness bound, not a performance target: each probe is bounded by
/// `--probe-timeout 2s` and a port takes a handful of them in sequence.
const BOUND: Duration = Duration::from_secs(60);

/// The CPU-heavy /8 dry run and the many-peer test take turns, so neither
/// starves the other's 2 s probe timeouts on a small CI machine.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

type Handler = fn(TcpStream);

/// Serve every connection with `handler` on its own thread, on a fresh
/// loopback address.
fn serve(handler: Handler) -> SocketAddr {
    serve_on(unique_loopback(), handler)
}

fn serve_on(ip: Ipv4Addr, handler: Handler) -> SocketAddr {
    let l = TcpListener::bind((ip, 0)).unwrap();
    let addr = l.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    thread::spawn(move || {
        for c in l.incoming().flatten() {
            thread::spawn(move || handler(c));
        }
    });
    addr
}

/// Read whatever the scanner sent first (bounded), so replies follow a request.
fn read_some(c: &mut TcpStream) -> Vec<u8> {
    let _ = c.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = vec![0u8; 4096];
    let n = c.read(&mut buf).unwrap_or(0);
    buf.truncate(n);
    buf
}

// ---- the peers -------------------------------------------------------------

/// Accepts, then never says anything.
fn tarpit(c: TcpStream) {
    thread::sleep(Duration::from_secs(120));
    drop(c);
}

/// An HTTP head, one byte per second, for two minutes.
fn drip(mut c: TcpStream) {
    read_some(&mut c);
    for b in b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
        .iter()
        .cycle()
        .take(120)
    {
        if c.write_all(&[*b]).is_err() {
            return;
        }
        thread::sleep(Duration::from_secs(1));
    }
}

/// 200 OK and a chunked body that never ends (until the scanner hangs up).
fn endless_chunked(mut c: TcpStream) {
    read_some(&mut c);
    let _ = c.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    let chunk = format!("{:x}\r\n{}\r\n", 8192, "[".repeat(8192));
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(90) {
        if c.write_all(chunk.as_bytes()).is_err() {
            return;
        }
    }
}

/// Promises a gigabyte, then sends a byte a second.
fn gigabyte_length(mut c: TcpStream) {
    read_some(&mut c);
    let _ = c.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{\"a\":",
    );
    for _ in 0..90 {
        if c.write_all(b" ").is_err() {
            return;
        }
        thread::sleep(Duration::from_secs(1));
    }
}

/// Half a response head, then a reset. std has no stable SO_LINGER, so this
/// uses the equivalent Linux rule (RFC 2525): closing a socket with unread
/// received data sends RST, not FIN. We read one byte of the request only.
fn rst_mid_response(mut c: TcpStream) {
    let _ = c.set_read_timeout(Some(Duration::from_millis(500)));
    let mut one = [0u8; 1];
    let _ = c.read(&mut one);
    thread::sleep(Duration::from_millis(50));
    let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Len");
    drop(c);
}

/// Answers a ClientHello with a ServerHello record header promising 80
/// bytes and one byte of it, then stalls; silent to everything else (so
/// the scanner, seeing a port that waits, never sends it a ClientHello).
fn tls_stall(mut c: TcpStream) {
    let first = read_some(&mut c);
    if first.first() == Some(&0x16) {
        let _ = c.write_all(&[0x16, 0x03, 0x03, 0x00, 0x50, 0x02]);
    }
    thread::sleep(Duration::from_secs(90));
}

/// Closes on plain HTTP, so the scanner sends a ClientHello; answers that
/// with a ServerHello record header promising 80 bytes and one byte of
/// them, then stalls.
fn tls_stall_after_hello(mut c: TcpStream) {
    let first = read_some(&mut c);
    if first.first() == Some(&0x16) {
        let _ = c.write_all(&[0x16, 0x03, 0x03, 0x00, 0x50, 0x02]);
        thread::sleep(Duration::from_secs(90));
    }
}

fn tls_junk() -> Vec<u8> {
    let mut junk = vec![0x16, 0x03, 0x03, 0xff, 0xff];
    junk.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    junk
}

/// Answers anything with garbage that starts like a TLS handshake record.
fn tls_garbage(mut c: TcpStream) {
    read_some(&mut c);
    let _ = c.write_all(&tls_junk());
}

/// Closes on plain HTTP (so the scanner tries TLS), and answers a
/// ClientHello with garbage that starts like a TLS handshake record.
fn tls_garbage_to_hello(mut c: TcpStream) {
    let first = read_some(&mut c);
    if first.first() == Some(&0x16) {
        let _ = c.write_all(&tls_junk());
    }
}

const DASHBOARD: &[u8] =
    br#"{"refresh-interval":10000,"timezone-offset":0,"timezone-name":"UTC","flink-version":"1.20.1","flink-revision":"abc123 @ 2025-01-01","features":{"web-submit":false,"web-cancel":false}}"#;

/// A "Flink" whose /config is 50 MB of JSON.
fn huge_json(mut c: TcpStream) {
    read_some(&mut c);
    respond(&mut c, "200 OK", "application/json", huge_body());
}

/// Built once, before the peer starts (building it lazily in a debug build
/// could take longer than the probe timeout and change what is tested).
fn huge_body() -> &'static [u8] {
    static BODY: OnceLock<Vec<u8>> = OnceLock::new();
    BODY.get_or_init(|| {
        let head: &[u8] =
            br#"{"refresh-interval":1,"timezone-offset":0,"flink-version":"1.20.1","pad":""#;
        let mut b = vec![b'x'; head.len() + (50 << 20) + 2];
        b[..head.len()].copy_from_slice(head);
        let n = b.len();
        b[n - 2..].copy_from_slice(b"\"}");
        b
    })
}

/// A "Flink" whose /config is 100,000 `[`.
fn nested_json(mut c: TcpStream) {
    read_some(&mut c);
    respond(
        &mut c,
        "200 OK",
        "application/json",
        "[".repeat(100_000).as_bytes(),
    );
}

/// Truncated JSON on /config (and everything else).
fn malformed_config(mut c: TcpStream) {
    read_some(&mut c);
    respond(
        &mut c,
        "200 OK",
        "application/json",
        br#"{"refresh-interval":1,"timezone-offset":0,"flink-version":"1.20.1","#,
    );
}

/// A valid dashboard /config, truncated JSON on /overview and elsewhere.
fn malformed_overview(mut c: TcpStream) {
    let req = read_some(&mut c);
    if request_path(&String::from_utf8_lossy(&req)) == "/config" {
        respond(&mut c, "200 OK", "application/json", DASHBOARD);
    } else {
        respond(
            &mut c,
            "200 OK",
            "application/json",
            br#"{"taskmanagers":1,"slots-total":"#,
        );
    }
}

/// Answers everything with a dashboard config whose version is markup.
fn hostile_version(mut c: TcpStream) {
    read_some(&mut c);
    respond(&mut c,
        "200 OK", "application/json",
        br#"{"refresh-interval":1,"timezone-offset":0,"flink-version":"<script>alert(1)</script>"}"#,
    );
}

// ---- running the real binary ----------------------------------------------

struct Scan {
    json: Value,
    took: Duration,
}

impl Scan {
    fn service(&self, addr: SocketAddr) -> &Value {
        support::peers::service_at(&self.json, addr)
    }

    fn findings_at(&self, addr: SocketAddr) -> Vec<&Value> {
        self.json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["port"] == addr.port())
            .collect()
    }

    /// Errors recorded for `addr`: on the service and among the notices.
    fn errors_for(&self, addr: SocketAddr) -> Vec<String> {
        let mut out: Vec<String> = self.service(addr)["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let target = addr.to_string();
        for n in self.json["notices"].as_array().into_iter().flatten() {
            if n["target"].as_str() == Some(target.as_str()) {
                out.push(format!("notice: {}", n["message"].as_str().unwrap_or("")));
            }
        }
        out
    }
}

/// `flinkscan scan -q IP --ports PORTS EXTRA --json out.json`; asserts exit 0.
fn run_scan(ip: IpAddr, ports: &str, extra: &[&str]) -> Scan {
    assert!(ip.is_loopback(), "tests scan loopback only");
    let dir = tempfile::tempdir().unwrap();
    let target = ip.to_string();
    let run = support::scan::scan_to(
        dir.path(),
        "out",
        &[&[target.as_str(), "--ports", ports], extra].concat(),
    );
    assert_eq!(
        run.code,
        Some(0),
        "flinkscan scan {ip} --ports {ports} {extra:?}: {}",
        run.stderr
    );
    Scan {
        json: run.json().clone(),
        took: run.took,
    }
}

fn scan_peer(addr: SocketAddr) -> Scan {
    run_scan(
        addr.ip(),
        &addr.port().to_string(),
        &["--probe-timeout", "2s"],
    )
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Expect {
    /// Not Flink, no finding, an error recorded for the port.
    Broken,
    /// Says nothing (or only to a ClientHello, which a port that waits is
    /// not sent): not Flink, no finding, kind unknown, confidence 0, and
    /// the silence recorded as an error for the port.
    Silent,
    /// Not Flink, no finding; talking garbage is not an error of ours.
    NotFlink,
    /// A Flink look-alike that answers like Flink: identified as such.
    LooksLikeFlink,
}

#[test]
fn hostile_peers_end_in_bounds_with_errors_recorded() {
    use Expect::*;
    let peers: &[(&str, Handler, Expect)] = &[
        ("tarpit", tarpit, Silent),
        ("drip", drip, Broken),
        ("endless chunked body", endless_chunked, Broken),
        ("1 GB Content-Length", gigabyte_length, Broken),
        ("reset mid-response", rst_mid_response, Broken),
        ("TLS stall", tls_stall, Silent),
        ("TLS stall after ClientHello", tls_stall_after_hello, Broken),
        ("TLS garbage", tls_garbage, NotFlink),
        ("TLS garbage to ClientHello", tls_garbage_to_hello, NotFlink),
        ("50 MB JSON on /config", huge_json, Broken),
        ("100k nested JSON on /config", nested_json, NotFlink),
        ("malformed JSON on /config", malformed_config, NotFlink),
        (
            "malformed JSON on /overview",
            malformed_overview,
            LooksLikeFlink,
        ),
    ];
    let _turn = heavy();
    huge_body();
    let handles: Vec<_> = peers
        .iter()
        .map(|&(name, handler, expect)| {
            let addr = serve(handler);
            thread::spawn(move || (name, expect, addr, scan_peer(addr)))
        })
        .collect();
    let mut failures = Vec::new();
    for h in handles {
        let (name, expect, addr, scan) = h.join().unwrap();
        let svc = scan.service(addr);
        let errors = scan.errors_for(addr);
        let findings = scan.findings_at(addr);
        eprintln!(
            "{name}: {:.1?}, kind {}, flink {}, {} finding(s), errors {errors:?}",
            scan.took,
            svc["kind"],
            svc["flink"],
            findings.len()
        );
        if scan.took >= BOUND {
            failures.push(format!("{name}: took {:?}", scan.took));
        }
        match expect {
            Silent => {
                if svc["flink"] != false || svc["kind"] != "unknown" || svc["confidence"] != 0 {
                    failures.push(format!("{name}: silence was identified: {svc}"));
                }
                if !findings.is_empty() {
                    failures.push(format!("{name}: findings {findings:?}"));
                }
                if errors.is_empty() {
                    failures.push(format!("{name}: silence not recorded: {svc}"));
                }
            }
            Broken | NotFlink => {
                if svc["flink"] != false {
                    failures.push(format!("{name}: called Flink: {svc}"));
                }
                if !findings.is_empty() {
                    failures.push(format!("{name}: findings {findings:?}"));
                }
                if expect == Broken && errors.is_empty() {
                    failures.push(format!("{name}: no error recorded: {svc}"));
                }
            }
            LooksLikeFlink => {
                if svc["flink"] != true {
                    failures.push(format!("{name}: not identified: {svc}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn hostile_version_strings_are_not_copied() {
    let addr = serve(hostile_version);
    let scan = scan_peer(addr);
    assert!(scan.took < BOUND);
    let svc = scan.service(addr);
    // It answers /config like a dashboard, so it is a Flink look-alike; the
    // version it claims is not a version and must not be copied.
    assert_eq!(svc["flink"], true, "{svc}");
    assert!(svc["version"].is_null(), "{svc}");
    // ...and that is said, not left silent.
    assert!(
        svc["errors"].to_string().contains("not a Flink version"),
        "{svc}"
    );
    // Only evidence excerpts (quoted data) may carry the peer's bytes.
    let mut leaks = Vec::new();
    walk(&scan.json, String::new(), &mut |path, s| {
        if s.contains("<script>") && !path.contains("/evidence/") {
            leaks.push(format!("{path}: {s}"));
        }
    });
    assert!(leaks.is_empty(), "{leaks:#?}");
}

/// Looks like Flink REST under TLS that only answers with an alert: its
/// plain-HTTP redirect to HTTPS identifies it, and the redirect-leak check
/// then quotes the Location header, which carries markup and a placeholder.
fn injecting_redirect(mut c: TcpStream) {
    let port = c.local_addr().unwrap().port();
    let first = read_some(&mut c);
    if first.first() == Some(&0x16) {
        // Alert, fatal, handshake_failure.
        let _ = c.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
        return;
    }
    let _ = write!(
        c,
        "HTTP/1.1 301 Moved Permanently\r\nLocation: https://x<script>alert(1)</script>{{status}}\"'`$(id)|;&:{port}/config\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

#[test]
fn extracted_header_values_are_inert_in_findings() {
    let addr = serve(injecting_redirect);
    let scan = scan_peer(addr);
    assert!(scan.took < BOUND, "{:?}", scan.took);
    let svc = scan.service(addr);
    assert_eq!(svc["kind"], "jobmanager-rest", "{svc}");
    let findings = scan.findings_at(addr);
    let leak = findings
        .iter()
        .find(|f| f["rule_id"] == "FLINK-REST-REDIRECT-LEAK")
        .unwrap_or_else(|| panic!("no redirect-leak finding: {findings:?}"));
    let detail = leak["detail"].as_str().unwrap();
    eprintln!("redirect-leak detail: {detail}");
    for bad in ["<", ">", "{", "}", "\"", "'", "`", "$", "|", ";", "&"] {
        assert!(!detail.contains(bad), "{bad} in {detail}");
    }
    let mut leaks = Vec::new();
    walk(&scan.json, String::new(), &mut |path, s| {
        if s.contains("<script>") && !path.contains("/evidence/") {
            leaks.push(format!("{path}: {s}"));
        }
    });
    assert!(leaks.is_empty(), "{leaks:#?}");
}

fn walk(v: &Value, path: String, f: &mut dyn FnMut(&str, &str)) {
    match v {
        Value::String(s) => f(&path, s),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                walk(x, format!("{path}/{i}"), f);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                walk(x, format!("{path}/{k}"), f);
            }
        }
        _ => {}
    }
}

#[test]
fn redirects_are_never_followed_off_target() {
    // Two listeners that must never see a connection: one on another
    // loopback address, one on 127.0.0.1 (named with and without a port).
    static HITS: AtomicUsize = AtomicUsize::new(0);
    let counted: Handler = |c| {
        HITS.fetch_add(1, Ordering::SeqCst);
        drop(c);
    };
    let elsewhere = serve(counted);
    let local = serve_on(Ipv4Addr::LOCALHOST, counted);
    static LOCATIONS: OnceLock<Vec<String>> = OnceLock::new();
    LOCATIONS
        .set(vec![
            format!("http://{elsewhere}/config"),
            format!("http://{local}/"),
            "http://127.0.0.1:1/".to_string(),
            format!("https://{elsewhere}/config"),
        ])
        .unwrap();
    fn redirector(mut c: TcpStream) {
        static N: AtomicUsize = AtomicUsize::new(0);
        read_some(&mut c);
        let locs = LOCATIONS.get().unwrap();
        let loc = &locs[N.fetch_add(1, Ordering::SeqCst) % locs.len()];
        let _ = write!(
            c,
            "HTTP/1.1 301 Moved Permanently\r\nLocation: {loc}\r\nContent-Length: 0\r\n\r\n"
        );
    }
    let addr = serve(redirector);
    let scan = scan_peer(addr);
    assert!(scan.took < BOUND, "{:?}", scan.took);
    let svc = scan.service(addr);
    assert_eq!(svc["kind"], "other-http", "{svc}");
    assert_eq!(svc["flink"], false, "{svc}");
    assert!(scan.findings_at(addr).is_empty());
    assert_eq!(
        HITS.load(Ordering::SeqCst),
        0,
        "followed a redirect to another host"
    );
}

/// A minimal Akka/Pekko RPC port: answers the stray heartbeat with DISASSOCIATE.
fn rpc_like(mut c: TcpStream) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(3)));
    let mut b = [0u8; 8];
    if c.read_exact(&mut b).is_ok() && b == [0, 0, 0, 4, 0x12, 2, 8, 3] {
        let _ = c.write_all(&[0, 0, 0, 4, 0x12, 2, 8, 2, 0, 0, 0, 0]);
    }
}

#[test]
fn one_tarpit_does_not_hide_the_normal_listener() {
    let ip = unique_loopback();
    let pit = serve_on(ip, tarpit);
    let rest = serve_on(ip, |mut c| {
        let req = read_some(&mut c);
        match request_path(&String::from_utf8_lossy(&req)) {
            "/config" => respond(&mut c, "200 OK", "application/json", DASHBOARD),
            "/overview" => respond(&mut c,
                "200 OK", "application/json",
                br#"{"taskmanagers":1,"slots-total":4,"slots-available":4,"jobs-running":0,"flink-version":"1.20.1","flink-commit":"abc123"}"#,
            ),
            _ => respond(&mut c, "404 Not Found", "application/json", br#"{"errors":["Not found."]}"#),
        }
    });
    let rpc = serve_on(ip, rpc_like);
    let ports = format!("{},{},{}", pit.port(), rest.port(), rpc.port());
    let scan = run_scan(IpAddr::V4(ip), &ports, &["--probe-timeout", "2s"]);
    assert!(scan.took < BOUND, "{:?}", scan.took);
    assert_eq!(scan.service(rpc)["kind"], "rpc");
    assert_eq!(scan.service(rpc)["flink"], true);
    assert_eq!(scan.service(rest)["kind"], "jobmanager-rest");
    assert_eq!(scan.service(rest)["version"], "1.20.1");
    assert_eq!(scan.service(pit)["flink"], false);
    assert_eq!(scan.service(pit)["kind"], "unknown");
    assert!(scan.findings_at(pit).is_empty());
}

#[test]
fn max_duration_ends_a_tarpit_heavy_scan() {
    let ip = unique_loopback();
    let pits: Vec<SocketAddr> = (0..8).map(|_| serve_on(ip, tarpit)).collect();
    let ports = pits
        .iter()
        .map(|a| a.port().to_string())
        .collect::<Vec<_>>()
        .join(",");
    // Each tarpit alone would hold its slot for several 60 s probes.
    let scan = run_scan(
        IpAddr::V4(ip),
        &ports,
        &["--probe-timeout", "60s", "--max-duration", "3s"],
    );
    eprintln!("max-duration 3s scan took {:?}", scan.took);
    assert!(
        scan.took < Duration::from_secs(20),
        "max-duration ignored: {:?}",
        scan.took
    );
    assert_eq!(scan.json["scan"]["status"], "max-duration");
    // The open ports are still reported, with why they are unfinished.
    for &pit in &pits {
        let svc = scan.service(pit);
        assert_eq!(svc["flink"], false, "{svc}");
        assert!(!scan.errors_for(pit).is_empty(), "{svc}");
    }
}

/// Peak resident memory of a dry run, and the lines it printed (counted as
/// they stream by, never held). VmHWM is read from /proc while the process
/// runs, and once more near the end while it is blocked on a full pipe.
fn dry_run_peak(range: &str, expected_lines: u64) -> (u64, u64) {
    let bin = assert_cmd::cargo::cargo_bin("flinkscan");
    let mut child = std::process::Command::new(bin)
        .args([
            "scan",
            range,
            "--allow-large",
            "--dry-run",
            "--ports",
            "8081",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let hwm_kib = move || -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(kib) = hwm_kib() {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 0u64;
    // Stop reading this far from the end: the rest (> 300 KB) overflows the
    // pipe and the writer's buffer, so the process is alive and blocked.
    let pause_at = expected_lines.saturating_sub(20_000);
    let mut paused = false;
    loop {
        let n = stdout.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        if !paused && lines >= pause_at {
            paused = true;
            thread::sleep(Duration::from_millis(200));
            let at_end = hwm_kib().expect("process still running near the end");
            peak.fetch_max(at_end, Ordering::Relaxed);
        }
    }
    assert!(child.wait().unwrap().success());
    done.store(true, Ordering::Relaxed);
    poller.join().unwrap();
    (lines, peak.load(Ordering::Relaxed))
}

#[test]
fn dry_run_of_a_slash8_stays_flat_in_memory() {
    let _turn = heavy();
    let start = Instant::now();
    let (n16, kib16) = dry_run_peak("127.0.0.0/16", 1 << 16);
    let (n8, kib8) = dry_run_peak("127.0.0.0/8", 1 << 24);
    eprintln!(
        "dry run peak RSS: /16 {kib16} KiB, /8 {kib8} KiB ({:.1?} for both)",
        start.elapsed()
    );
    assert_eq!(n16, 65_536);
    assert_eq!(n8, 16_777_216);
    assert!(kib8 < 64 * 1024, "/8 dry run peaked at {kib8} KiB");
    assert!(
        kib8 < kib16 + 4 * 1024,
        "memory grows with the range: /16 {kib16} KiB, /8 {kib8} KiB"
    );
}
