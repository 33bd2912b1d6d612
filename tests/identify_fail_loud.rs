#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Identification fails loud, never clean: a probe that fails lowers the
//! confidence and is recorded, and never picks the milder classification.
//! Each peer is hand-written and listens on its own loopback address;
//! the `/config` bodies are captured from real Flink (tests/fixtures/identify).
//!
//! Every socket here is bound to and every scan aimed at 127.0.0.0/8.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::flink::unique_loopback;

/// Every scan here runs with `--probe-timeout 2s`; a port takes a handful
/// of probes in sequence.
const BOUND: Duration = Duration::from_secs(60);

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/identify")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

type Handler = Arc<dyn Fn(TcpStream) + Send + Sync>;

/// Serve every connection with `handler` on its own thread, on a fresh
/// loopback address.
fn serve(handler: Handler) -> SocketAddr {
    let l = TcpListener::bind((unique_loopback(), 0)).unwrap();
    let addr = l.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    thread::spawn(move || {
        for c in l.incoming().flatten() {
            let h = Arc::clone(&handler);
            thread::spawn(move || h(c));
        }
    });
    addr
}

/// The request head the scanner sent (bounded), so replies follow a request.
fn read_head(c: &mut TcpStream) -> Vec<u8> {
    let _ = c.set_read_timeout(Some(Duration::from_millis(1500)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while head.len() < 16 * 1024 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.first() == Some(&0x16) {
            break;
        }
    }
    head
}

fn request_path(req: &[u8]) -> String {
    let line = String::from_utf8_lossy(req);
    line.split_whitespace().nth(1).unwrap_or("").to_string()
}

fn respond(mut c: TcpStream, status: &str, body: &[u8]) {
    let _ = write!(
        c,
        "HTTP/1.1 {status}\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = c.write_all(body);
}

/// What a broken `/overview` does.
#[derive(Clone, Copy, Debug)]
enum Overview {
    /// Reads the request and never answers.
    Hang,
    /// Reads the request and closes without a byte.
    Close,
    /// Answers 500 with Flink's error body.
    Error500,
    /// Answers 404 the way a HistoryServer does.
    NotFound,
}

/// Serves `config` on `/config`, breaks `/overview` as told, and answers
/// everything else 404 the way a JobManager does.
fn dashboard_peer(config: Vec<u8>, overview: Overview) -> Handler {
    Arc::new(move |mut c: TcpStream| {
        let req = read_head(&mut c);
        match request_path(&req).as_str() {
            "/config" => respond(c, "200 OK", &config),
            "/overview" => match overview {
                Overview::Hang => thread::sleep(Duration::from_secs(30)),
                Overview::Close => drop(c),
                Overview::Error500 => respond(
                    c,
                    "500 Internal Server Error",
                    br#"{"errors":["Internal server error."]}"#,
                ),
                Overview::NotFound => respond(
                    c,
                    "404 Not Found",
                    &fixture("historyserver-2.3.0-overview.json"),
                ),
            },
            p => respond(
                c,
                "404 Not Found",
                format!(r#"{{"errors":["Unable to load requested file {p}."]}}"#).as_bytes(),
            ),
        }
    })
}

struct Scan {
    code: Option<i32>,
    json: Value,
    took: Duration,
    stderr: String,
}

impl Scan {
    fn service(&self, addr: SocketAddr) -> &Value {
        self.json["services"]
            .as_array()
            .and_then(|a| {
                a.iter().find(|s| {
                    s["port"] == addr.port() && s["ip"].as_str() == Some(&addr.ip().to_string())
                })
            })
            .unwrap_or_else(|| panic!("{addr} not in services: {}", self.json["services"]))
    }

    fn errors(&self, addr: SocketAddr) -> String {
        self.service(addr)["errors"].to_string()
    }

    fn rules(&self, addr: SocketAddr) -> Vec<String> {
        self.json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["port"] == addr.port())
            .map(|f| {
                format!(
                    "{}:{}",
                    f["rule_id"].as_str().unwrap(),
                    f["severity"].as_str().unwrap()
                )
            })
            .collect()
    }
}

/// `flinkscan scan -q IP --ports PORT --probe-timeout 2s EXTRA --json out`.
fn scan(addr: SocketAddr, extra: &[&str]) -> Scan {
    assert!(addr.ip().is_loopback(), "tests scan loopback only");
    let dir = tempfile::tempdir().unwrap();
    let out_json = dir.path().join("out.json");
    let start = Instant::now();
    let out = assert_cmd::Command::cargo_bin("flinkscan")
        .unwrap()
        .timeout(Duration::from_secs(240))
        .args(["scan", "-q", &addr.ip().to_string(), "--ports"])
        .arg(addr.port().to_string())
        .args(["--probe-timeout", "2s"])
        .args(extra)
        .arg("--json")
        .arg(&out_json)
        .output()
        .unwrap();
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&std::fs::read(&out_json).unwrap_or_default())
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {stderr}"));
    Scan {
        code: out.status.code(),
        json,
        took,
        stderr,
    }
}

/// Run `scan` for every address at once (each waits on its own timeouts).
fn scan_all(addrs: &[SocketAddr], extra: &'static [&'static str]) -> Vec<Scan> {
    let handles: Vec<_> = addrs
        .iter()
        .map(|&a| thread::spawn(move || scan(a, extra)))
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

// ---- 1. an unreadable /overview keeps the JobManager ------------------------

#[test]
fn jobmanager_whose_overview_fails_stays_jobmanager_and_fails_the_run() {
    let mut cases = Vec::new();
    for config in [
        "jobmanager-1.14.6-config.json",
        "jobmanager-2.3.0-config.json",
    ] {
        for overview in [Overview::Hang, Overview::Close, Overview::Error500] {
            let addr = serve(dashboard_peer(fixture(config), overview));
            cases.push((format!("{config} /overview {overview:?}"), addr));
        }
    }
    let addrs: Vec<SocketAddr> = cases.iter().map(|c| c.1).collect();
    let scans = scan_all(&addrs, &["--fail-on", "high", "--no-tls-audit"]);
    let mut failures = Vec::new();
    for ((name, addr), scan) in cases.iter().zip(&scans) {
        let svc = scan.service(*addr);
        let rules = scan.rules(*addr);
        eprintln!(
            "{name}: {:.1?}, exit {:?}, kind {}, confidence {}, errors {}, findings {rules:?}",
            scan.took,
            scan.code,
            svc["kind"],
            svc["confidence"],
            scan.errors(*addr)
        );
        if scan.took >= BOUND {
            failures.push(format!("{name}: took {:?}", scan.took));
        }
        if svc["kind"] != "jobmanager-rest" {
            failures.push(format!("{name}: kind {}", svc["kind"]));
        }
        // Confirmed JobManagers with a version get 100.
        if svc["confidence"]
            .as_u64()
            .is_none_or(|c| c >= 100 || c == 0)
        {
            failures.push(format!("{name}: confidence {}", svc["confidence"]));
        }
        if !scan.errors(*addr).contains("/overview") {
            failures.push(format!("{name}: no /overview error: {svc}"));
        }
        if !rules
            .iter()
            .any(|r| r == "FLINK-REST-UNAUTHENTICATED:critical")
        {
            failures.push(format!("{name}: no critical REST finding: {rules:?}"));
        }
        if scan.code != Some(1) {
            failures.push(format!(
                "{name}: --fail-on high exited {:?}: {}",
                scan.code, scan.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn history_server_evidence_still_decides() {
    // 2.x says web-history: true; a broken /overview does not outvote it,
    // but is still recorded.
    let hs2 = serve(dashboard_peer(
        fixture("historyserver-2.3.0-config.json"),
        Overview::Error500,
    ));
    // 1.14 has no web-history flag: the HistoryServer's 404 on /overview decides.
    let hs1 = serve(dashboard_peer(
        fixture("historyserver-1.14.6-config.json"),
        Overview::NotFound,
    ));
    let scans = scan_all(&[hs2, hs1], &["--fail-on", "high", "--no-tls-audit"]);
    let (s2, s1) = (&scans[0], &scans[1]);
    for (s, a) in [(s2, hs2), (s1, hs1)] {
        eprintln!("{a}: {} {:?}", s.service(a), s.rules(a));
        assert_eq!(s.service(a)["kind"], "history-server", "{}", s.service(a));
        assert_eq!(s.code, Some(0), "{}", s.stderr);
    }
    assert!(s2.errors(hs2).contains("/overview"), "{}", s2.service(hs2));
    assert!(s2.service(hs2)["confidence"].as_u64().unwrap() < 100);
    assert_eq!(s1.service(hs1)["confidence"], 100, "{}", s1.service(hs1));
}

// ---- audit: other probes whose failure read as "absent" ---------------------

/// A real SQL Gateway's `/config` answer (its REST router's 404), then a
/// `/v1/info` that hangs: still a SQL Gateway, unconfirmed, and said so.
#[test]
fn sql_gateway_whose_info_fails_is_not_demoted() {
    let config = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sql-gateway/2.1.1/config.json"),
    )
    .unwrap();
    let addr = serve(Arc::new(move |mut c: TcpStream| {
        let req = read_head(&mut c);
        match request_path(&req).as_str() {
            "/config" => respond(c, "404 Not Found", &config),
            "/v1/info" => thread::sleep(Duration::from_secs(30)),
            p => respond(
                c,
                "404 Not Found",
                format!(r#"{{"errors":["Not found: {p}"]}}"#).as_bytes(),
            ),
        }
    }));
    let s = scan(addr, &["--no-tls-audit"]);
    let svc = s.service(addr);
    eprintln!("{svc}");
    assert!(s.took < BOUND);
    assert_eq!(svc["kind"], "sql-gateway", "{svc}");
    assert_eq!(svc["flink"], true, "{svc}");
    assert!(svc["confidence"].as_u64().unwrap() < 95, "{svc}");
    assert!(s.errors(addr).contains("/v1/info"), "{svc}");
}

// ---- 2d. repeated version keys in /config -----------------------------------

#[test]
fn repeated_flink_version_is_reported_not_picked() {
    // A real 2.3.0 /config with a second flink-version appended.
    let mut config = fixture("jobmanager-2.3.0-config.json");
    let end = config.iter().rposition(|&b| b == b'}').unwrap();
    config.splice(end..end, br#","flink-version":"1.14.6""#.iter().copied());
    let overview = fixture("jobmanager-2.3.0-overview.json");
    let addr = serve(Arc::new(move |mut c: TcpStream| {
        let req = read_head(&mut c);
        match request_path(&req).as_str() {
            "/config" => respond(c, "200 OK", &config),
            "/overview" => respond(c, "200 OK", &overview),
            _ => respond(c, "404 Not Found", br#"{"errors":["Not found."]}"#),
        }
    }));
    let s = scan(addr, &["--fail-on", "high", "--no-tls-audit"]);
    let svc = s.service(addr);
    let rules = s.rules(addr);
    eprintln!("{svc} {rules:?}");
    assert_eq!(svc["kind"], "jobmanager-rest", "{svc}");
    // Neither value is reported as the version, and no version-based finding.
    assert!(svc["version"].is_null(), "{svc}");
    assert!(
        !rules.iter().any(|r| r.contains("CVE") || r.contains("EOL")),
        "{rules:?}"
    );
    let errors = s.errors(addr);
    assert!(
        errors.contains("flink-version") && errors.contains("2.3.0") && errors.contains("1.14.6"),
        "{svc}"
    );
    assert!(svc["confidence"].as_u64().unwrap() < 80, "{svc}");
    assert_eq!(s.code, Some(1), "{}", s.stderr);
}
