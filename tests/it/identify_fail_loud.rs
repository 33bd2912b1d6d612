//! Identification fails loud, never clean: a probe that fails lowers the
//! confidence and is recorded, and never picks the milder classification.
//! Each peer is hand-written and listens on its own loopback address;
//! the `/config` bodies are captured from real Flink (tests/fixtures/identify).
//!
//! Every socket here is bound to and every scan aimed at 127.0.0.0/8.

use crate::support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::Value;
use support::flink::unique_loopback;
use support::peers::{self, request_path, respond};
use support::tls::{have_openssl, listening, self_signed, SServer};

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

/// Flink's REST answers carry this type.
const JSON: &str = "application/json; charset=UTF-8";

/// The request head the scanner sent (bounded), so replies follow a request.
fn read_head(c: &mut TcpStream) -> String {
    peers::read_head_within(c, Duration::from_millis(1500))
}

/// Serves `config` on `/config` and `overview` on `/overview`, and answers
/// everything else with Flink's 404.
fn jobmanager_peer(config: Vec<u8>, overview: Vec<u8>) -> Handler {
    Arc::new(move |mut c: TcpStream| {
        let req = read_head(&mut c);
        match request_path(&req) {
            "/config" => respond(&mut c, "200 OK", JSON, &config),
            "/overview" => respond(&mut c, "200 OK", JSON, &overview),
            _ => respond(
                &mut c,
                "404 Not Found",
                JSON,
                br#"{"errors":["Not found."]}"#,
            ),
        }
    })
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
        match request_path(&req) {
            "/config" => respond(&mut c, "200 OK", JSON, &config),
            "/overview" => match overview {
                Overview::Hang => thread::sleep(Duration::from_secs(30)),
                Overview::Close => drop(c),
                Overview::Error500 => respond(
                    &mut c,
                    "500 Internal Server Error",
                    JSON,
                    br#"{"errors":["Internal server error."]}"#,
                ),
                Overview::NotFound => respond(
                    &mut c,
                    "404 Not Found",
                    JSON,
                    &fixture("historyserver-2.3.0-overview.json"),
                ),
            },
            p => respond(
                &mut c,
                "404 Not Found",
                JSON,
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
        support::peers::service_at(&self.json, addr)
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
    let (ip, port) = (addr.ip().to_string(), addr.port().to_string());
    let run = support::scan::scan_to(
        dir.path(),
        "out",
        &[&[ip.as_str(), "--ports", port.as_str()], extra].concat(),
    );
    Scan {
        code: run.code,
        json: run.json().clone(),
        took: run.took,
        stderr: run.stderr,
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
        match request_path(&req) {
            "/config" => respond(&mut c, "404 Not Found", JSON, &config),
            "/v1/info" => thread::sleep(Duration::from_secs(30)),
            p => respond(
                &mut c,
                "404 Not Found",
                JSON,
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
    let addr = serve(jobmanager_peer(config, overview));
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

// ---- a version string with a suffix flinkscan cannot read ------------------

/// A real 1.14.6 `/config` and `/overview` whose `flink-version` says
/// `1.14.0` followed by text no release has (a vendor suffix after a
/// space, a path, an escape): the release is read, judged as a vendor build
/// of 1.14.0 (Log4Shell and end of life stay), and the string is flagged
/// (FLINK-VERSION-UNORDERED and an error on the service), never dropped.
#[test]
fn a_version_with_a_suffix_it_cannot_read_keeps_its_findings_and_is_flagged() {
    let cases = [
        "1.14.0 (vendor build)",
        "1.14.0/../../etc/passwd",
        "1.14.0\u{1b}[2J\u{202e}",
    ];
    let addrs: Vec<SocketAddr> = cases
        .iter()
        .map(|version| {
            let mut config: Value =
                serde_json::from_slice(&fixture("jobmanager-1.14.6-config.json")).unwrap();
            config["flink-version"] = Value::String((*version).to_string());
            let config = serde_json::to_vec(&config).unwrap();
            let overview = fixture("jobmanager-1.14.6-overview.json");
            serve(jobmanager_peer(config, overview))
        })
        .collect();
    let scans = scan_all(&addrs, &["--no-tls-audit"]);
    let mut failures = Vec::new();
    for ((version, addr), s) in cases.iter().zip(&addrs).zip(&scans) {
        let svc = s.service(*addr);
        let rules = s.rules(*addr);
        eprintln!("{version:?}: {svc} {rules:?}");
        for rule in [
            "FLINK-CVE-2021-44228",
            "FLINK-EOL-VERSION",
            "FLINK-VERSION-UNORDERED",
        ] {
            if !rules.iter().any(|r| r.starts_with(&format!("{rule}:"))) {
                failures.push(format!("{version:?}: no {rule}: {rules:?}"));
            }
        }
        let shown = svc["version"].as_str().unwrap_or_default();
        if !shown.starts_with("1.14.0") || shown.chars().any(flinkscan::untrusted::is_hidden) {
            failures.push(format!(
                "{version:?}: version reported as {:?}",
                svc["version"]
            ));
        }
        if !s.errors(*addr).contains("vendor build of 1.14.0") {
            failures.push(format!(
                "{version:?}: no error says how it was judged: {svc}"
            ));
        }
        let log4shell = s.json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["port"] == addr.port() && f["rule_id"] == "FLINK-CVE-2021-44228");
        if let Some(f) = log4shell {
            if f["advisory"]["confidence"] != "vendor-build" {
                failures.push(format!("{version:?}: Log4Shell rated {}", f["advisory"]));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---- 2c. HTTP/1.0, body delimited by the connection's close ------------------

/// Answers like an old proxy or a minimal server: HTTP/1.0, no
/// Content-Length, the body ends when the connection closes; with
/// `linger`, the server keeps the connection open for 30 s after the body
/// (a lingering close), so only the deadline ends it.
fn http10_reply(c: &mut TcpStream, body: &[u8], linger: bool) {
    let _ = c.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n");
    // In pieces, so the body is not in the same segment as the head.
    for part in body.chunks(64) {
        thread::sleep(Duration::from_millis(5));
        if c.write_all(part).is_err() {
            return;
        }
    }
    if linger {
        thread::sleep(Duration::from_secs(30));
    }
}

fn http10_peer(linger: bool) -> Handler {
    let config = fixture("jobmanager-2.3.0-config.json");
    let overview = fixture("jobmanager-2.3.0-overview.json");
    Arc::new(move |mut c: TcpStream| {
        let req = read_head(&mut c);
        match request_path(&req) {
            "/config" => http10_reply(&mut c, &config, linger),
            "/overview" => http10_reply(&mut c, &overview, linger),
            // An idle JobManager's lists, as every JobManager gives them.
            "/taskmanagers" => http10_reply(&mut c, br#"{"taskmanagers":[]}"#, linger),
            "/jobs/overview" => http10_reply(&mut c, br#"{"jobs":[]}"#, linger),
            _ => {
                let _ = c.write_all(b"HTTP/1.0 404 Not Found\r\n\r\n");
            }
        }
    })
}

#[test]
fn http10_close_delimited_body_is_read_until_close() {
    let closes = serve(http10_peer(false));
    let lingers = serve(http10_peer(true));
    let scans = scan_all(&[closes, lingers], &["--no-tls-audit", "--fail-on", "high"]);
    for (s, addr) in scans.iter().zip([closes, lingers]) {
        let svc = s.service(addr);
        eprintln!("{:.1?} {svc}", s.took);
        assert!(s.took < BOUND);
        assert_eq!(svc["kind"], "jobmanager-rest", "{svc}");
        assert_eq!(svc["version"], "2.3.0", "{svc}");
        assert_eq!(s.code, Some(1), "{}", s.stderr);
    }
    // Closed cleanly: nothing to say. Ended by the deadline: said, and
    // confidence pays for it.
    assert_eq!(scans[0].service(closes)["confidence"], 100);
    assert!(
        scans[0].service(closes)["errors"].is_null(),
        "{}",
        scans[0].service(closes)
    );
    let lingering = scans[1].service(lingers);
    assert!(
        scans[1]
            .errors(lingers)
            .contains("body without a length still open"),
        "{lingering}"
    );
    assert!(
        lingering["confidence"].as_u64().unwrap() < 100,
        "{lingering}"
    );
}

// ---- TLS peers: openssl s_server, and a proxy that re-fragments it ----------

/// A TLS record from `r`: header and body, or None at EOF.
fn read_record(r: &mut TcpStream) -> Option<(u8, [u8; 2], Vec<u8>)> {
    let mut h = [0u8; 5];
    r.read_exact(&mut h).ok()?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes([h[3], h[4]]))];
    r.read_exact(&mut body).ok()?;
    Some((h[0], [h[1], h[2]], body))
}

/// A loopback proxy to `upstream` that re-sends the server's plaintext
/// handshake records as 1-byte records, each with its own write (legal
/// TLS: handshake messages may be fragmented over records at will), and
/// passes everything from the server's ChangeCipherSpec on untouched.
fn one_byte_record_proxy(upstream: SocketAddr) -> SocketAddr {
    relay_proxy(upstream, relay_one_byte_records)
}

/// A loopback proxy to `upstream` that passes the server's records on but
/// drops its alerts (close_notify among them) and then just closes TCP, as
/// many minimal servers and proxies do.
fn no_close_notify_proxy(upstream: SocketAddr) -> SocketAddr {
    relay_proxy(upstream, relay_without_alerts)
}

fn relay_without_alerts(s_in: &mut TcpStream, c_out: &mut TcpStream) {
    while let Some((ct, version, body)) = read_record(s_in) {
        if ct == 21 {
            continue;
        }
        let mut raw = vec![ct, version[0], version[1]];
        raw.extend_from_slice(&(body.len() as u16).to_be_bytes());
        raw.extend_from_slice(&body);
        if c_out.write_all(&raw).is_err() {
            return;
        }
    }
}

fn relay_proxy(upstream: SocketAddr, relay: fn(&mut TcpStream, &mut TcpStream)) -> SocketAddr {
    serve(Arc::new(move |client: TcpStream| {
        let Ok(server) = TcpStream::connect(upstream) else {
            return;
        };
        let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        thread::spawn(move || {
            let _ = std::io::copy(&mut c_in, &mut s_out);
            let _ = s_out.shutdown(std::net::Shutdown::Write);
        });
        let (mut s_in, mut c_out) = (server, client);
        let _ = c_out.set_nodelay(true);
        relay(&mut s_in, &mut c_out);
        // The other direction's thread holds a clone: close for both.
        let _ = c_out.shutdown(std::net::Shutdown::Both);
    }))
}

fn relay_one_byte_records(s_in: &mut TcpStream, c_out: &mut TcpStream) {
    while let Some((ct, version, body)) = read_record(s_in) {
        if ct != 22 {
            let mut raw = vec![ct, version[0], version[1]];
            raw.extend_from_slice(&(body.len() as u16).to_be_bytes());
            raw.extend_from_slice(&body);
            if c_out.write_all(&raw).is_ok() {
                let _ = std::io::copy(s_in, c_out);
            }
            return;
        }
        for b in body {
            if c_out
                .write_all(&[22, version[0], version[1], 0, 1, b])
                .is_err()
            {
                return;
            }
        }
    }
}

fn dashboard_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("config", fixture("jobmanager-2.3.0-config.json")),
        ("overview", fixture("jobmanager-2.3.0-overview.json")),
    ]
}

#[test]
fn tls_jobmanager_behind_openssl_is_identified() {
    if !have_openssl() {
        return;
    }
    let server = SServer::start(&dashboard_files(), 0);
    let s = scan(server.addr, &["--no-tls-audit"]);
    let svc = s.service(server.addr);
    eprintln!("{svc}");
    assert_eq!(svc["kind"], "jobmanager-rest", "{svc}");
    assert_eq!(svc["tls"]["version"], "TLSv1.2", "{svc}");
}

#[test]
fn tls_flight_in_one_byte_records_is_identified() {
    if !have_openssl() {
        return;
    }
    let server = SServer::start(&dashboard_files(), 8);
    let proxy = one_byte_record_proxy(server.addr);
    let s = scan(proxy, &["--no-tls-audit"]);
    let svc = s.service(proxy);
    eprintln!("{:.1?} {svc}", s.took);
    assert!(s.took < BOUND);
    assert_eq!(svc["tls"]["version"], "TLSv1.2", "{svc}");
    assert!(
        svc["tls"]["certificate"]["subject"]
            .as_str()
            .unwrap_or("")
            .contains("flink.test"),
        "{svc}"
    );
    assert_eq!(svc["kind"], "jobmanager-rest", "{svc}");
    assert_eq!(svc["version"], "2.3.0", "{svc}");
}

// ---- 2a. a certificate message past the 128 KB cap ---------------------------

/// Closes on plain HTTP (so the scanner tries TLS); answers a ClientHello
/// with a TLS 1.2 ServerHello and a 200,000-byte Certificate message, sent
/// whole in full records.
fn huge_certificate_server(mut c: TcpStream) {
    let first = read_head(&mut c);
    if first.as_bytes().first() != Some(&0x16) {
        return;
    }
    let mut hs = vec![2, 0, 0, 38, 3, 3];
    hs.extend_from_slice(&[0x11; 32]);
    hs.extend_from_slice(&[0, 0x00, 0x2f, 0]);
    // Certificate: u24 list length, then one u24-length "certificate".
    let cert_len: usize = 200_000 - 6;
    let msg_len = cert_len + 6;
    let u24 = |n: usize| [(n >> 16) as u8, (n >> 8) as u8, n as u8];
    hs.push(11);
    hs.extend_from_slice(&u24(msg_len));
    hs.extend_from_slice(&u24(cert_len + 3));
    hs.extend_from_slice(&u24(cert_len));
    hs.extend(std::iter::repeat_n(0x30u8, cert_len));
    hs.extend_from_slice(&[14, 0, 0, 0]);
    for chunk in hs.chunks(16384) {
        let mut rec = vec![22, 3, 3];
        rec.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        rec.extend_from_slice(chunk);
        if c.write_all(&rec).is_err() {
            return;
        }
    }
    thread::sleep(Duration::from_secs(3));
}

#[test]
fn oversized_certificate_is_tls_with_an_error() {
    let addr = serve(Arc::new(huge_certificate_server));
    let s = scan(addr, &["--no-tls-audit"]);
    let svc = s.service(addr);
    eprintln!("{:.1?} {svc}", s.took);
    assert!(s.took < BOUND);
    assert_eq!(svc["tls"]["version"], "TLSv1.2", "{svc}");
    assert_eq!(
        svc["tls"]["cipher_suite"], "TLS_RSA_WITH_AES_128_CBC_SHA",
        "{svc}"
    );
    let errors = s.errors(addr);
    assert!(
        errors.contains("Certificate message of 200000 bytes") && errors.contains("cap"),
        "{svc}"
    );
    assert_eq!(svc["flink"], false, "{svc}");
}

#[test]
fn tls_http10_body_ended_by_close_without_close_notify_is_read() {
    if !have_openssl() {
        return;
    }
    let server = SServer::start(&dashboard_files(), 0);
    let proxy = no_close_notify_proxy(server.addr);
    let s = scan(proxy, &["--no-tls-audit"]);
    let svc = s.service(proxy);
    eprintln!("{:.1?} {svc}", s.took);
    assert!(s.took < BOUND);
    assert_eq!(svc["kind"], "jobmanager-rest", "{svc}");
    assert_eq!(svc["version"], "2.3.0", "{svc}");
    // What ended the bodies is said, and costs confidence.
    assert!(s.errors(proxy).contains("body without a length"), "{svc}");
    assert!(svc["confidence"].as_u64().unwrap() < 100, "{svc}");
}

// ---- audit: a TLS flight cut short ------------------------------------------

/// Closes on plain HTTP; answers a ClientHello with a TLS 1.2 ServerHello
/// and then nothing (no Certificate, no ServerHelloDone) until it closes.
fn server_hello_then_close(mut c: TcpStream) {
    let first = read_head(&mut c);
    if first.as_bytes().first() != Some(&0x16) {
        return;
    }
    let mut rec = vec![22, 3, 3, 0, 42, 2, 0, 0, 38, 3, 3];
    rec.extend_from_slice(&[0x11; 32]);
    rec.extend_from_slice(&[0, 0x00, 0x2f, 0]);
    let _ = c.write_all(&rec);
    thread::sleep(Duration::from_millis(300));
}

#[test]
fn tls_flight_cut_short_is_said_not_read_as_absent() {
    let addr = serve(Arc::new(server_hello_then_close));
    let s = scan(addr, &["--no-tls-audit"]);
    let svc = s.service(addr);
    eprintln!("{svc}");
    assert_eq!(svc["tls"]["version"], "TLSv1.2", "{svc}");
    // client_cert_required: false is not known here, and the report says so.
    assert!(s.errors(addr).contains("TLS flight cut short"), "{svc}");
}

// ---- audit: a TLS port that answers plain HTTP with 400 (nginx) --------------

/// nginx terminating TLS in front of a JobManager (here: serving captured
/// bodies as files). To plain HTTP it answers `400 The plain HTTP request
/// was sent to HTTPS port`, which is HTTP, but not the service. Killed on drop.
struct Nginx {
    child: std::process::Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have_nginx() -> bool {
    support::require("nginx", "nginx-light").is_some()
}

impl Nginx {
    fn start_tls(files: &[(&str, Vec<u8>)]) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("www")).unwrap();
        for (name, body) in files {
            std::fs::write(d.join("www").join(name), body).unwrap();
        }
        self_signed(d);
        let ip = unique_loopback();
        for _ in 0..5 {
            let port = TcpListener::bind((ip, 0))
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let addr = SocketAddr::from((ip, port));
            let conf = format!(
                "daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid;
                 error_log {d}/error.log;
                 events {{ worker_connections 64; }}
                 http {{
                   access_log off;
                   client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp;
                   fastcgi_temp_path {d}/tmp; uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;
                   server {{
                     listen {addr} ssl;
                     ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;
                     root {d}/www; default_type application/json;
                   }}
                 }}",
                d = d.display()
            );
            std::fs::write(d.join("nginx.conf"), conf).unwrap();
            let child = std::process::Command::new("nginx")
                .arg("-p")
                .arg(d)
                .arg("-c")
                .arg(d.join("nginx.conf"))
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let mut n = Nginx {
                child,
                addr,
                _dir: tempfile::tempdir().unwrap(),
            };
            if listening(&mut n.child, addr) {
                n._dir = dir;
                return n;
            }
        }
        panic!("nginx did not start");
    }
}

#[test]
fn tls_port_answering_plain_http_with_400_is_sniffed() {
    if !have_openssl() || !have_nginx() {
        return;
    }
    let nginx = Nginx::start_tls(&dashboard_files());
    let s = scan(nginx.addr, &["--no-tls-audit", "--fail-on", "high"]);
    let svc = s.service(nginx.addr);
    eprintln!("{svc}");
    assert!(svc["tls"]["version"].is_string(), "{svc}");
    assert_eq!(svc["kind"], "jobmanager-rest", "{svc}");
    assert_eq!(svc["version"], "2.3.0", "{svc}");
    assert_eq!(s.code, Some(1), "{}", s.stderr);
}

/// A real 2.1.1 SQL Gateway's answers, with a second `version` in /v1/info.
#[test]
fn repeated_gateway_version_is_reported_not_picked() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sql-gateway/2.1.1");
    let config = std::fs::read(dir.join("config.json")).unwrap();
    let mut info = std::fs::read(dir.join("v1_info.json")).unwrap();
    let end = info.iter().rposition(|&b| b == b'}').unwrap();
    info.splice(end..end, br#","version":"1.16.3""#.iter().copied());
    let versions = std::fs::read(dir.join("v1_api_versions.json")).unwrap();
    let addr = serve(Arc::new(move |mut c: TcpStream| {
        let req = read_head(&mut c);
        match request_path(&req) {
            "/config" => respond(&mut c, "404 Not Found", JSON, &config),
            "/v1/info" => respond(&mut c, "200 OK", JSON, &info),
            "/v1/api_versions" => respond(&mut c, "200 OK", JSON, &versions),
            p => respond(
                &mut c,
                "404 Not Found",
                JSON,
                format!(r#"{{"errors":["Not found: {p}"]}}"#).as_bytes(),
            ),
        }
    }));
    let s = scan(addr, &["--no-tls-audit"]);
    let svc = s.service(addr);
    eprintln!("{svc}");
    assert_eq!(svc["kind"], "sql-gateway", "{svc}");
    assert!(svc["version"].is_null(), "{svc}");
    let errors = s.errors(addr);
    assert!(
        errors.contains("2.1.1") && errors.contains("1.16.3"),
        "{svc}"
    );
    assert!(svc["confidence"].as_u64().unwrap() < 95, "{svc}");
}
