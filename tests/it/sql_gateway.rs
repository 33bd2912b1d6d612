//! SQL Gateway identification and checks against replayed real responses
//! (no registry ships the gateway jar; see tests/fixtures/sql-gateway).
//! The replay server listens on its own loopback address.

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use support::peers::{rule_ids, Listener};
use support::scan::scan_to;

struct Replay {
    ip: Ipv4Addr,
    port: u16,
    /// Serves until the replay is dropped.
    _listener: Listener,
    /// Every request line the scanner sent, in order.
    requests: Arc<Mutex<Vec<String>>>,
    posts: Arc<AtomicUsize>,
}

fn fixture_name(method: &str, path: &str) -> String {
    let path = path.split('?').next().unwrap_or("");
    match (method, path) {
        ("POST", "/v1/sessions") => "POST_v1_sessions".into(),
        ("DELETE", p) if p.starts_with("/v1/sessions/") => "DELETE_v1_sessions_HANDLE".into(),
        ("GET", "/") => "root".into(),
        ("GET", p) => p.trim_start_matches('/').replace('/', "_"),
        _ => "nonexistent-path".into(),
    }
}

fn respond(dir: &std::path::Path, mut c: TcpStream, log: &Mutex<Vec<String>>, posts: &AtomicUsize) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(c.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !line.starts_with(method) || !path.starts_with('/') {
        return; // not HTTP (TLS hello, binary probes): close
    }
    log.lock().unwrap().push(format!("{method} {path}"));
    let mut content_length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            content_length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; content_length];
    let _ = reader.read_exact(&mut body);
    if method == "POST" {
        posts.fetch_add(1, Ordering::Relaxed);
    }
    let mut name = fixture_name(method, path);
    if !dir.join(format!("{name}.headers.txt")).exists() {
        name = "nonexistent-path".into();
    }
    let head = std::fs::read_to_string(dir.join(format!("{name}.headers.txt"))).unwrap();
    let body = std::fs::read(dir.join(format!("{name}.json"))).unwrap();
    let mut out = Vec::new();
    for l in head
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        out.extend_from_slice(l.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    let _ = c.write_all(&out);
}

fn replay(version: &str, third: u8) -> Replay {
    let dir = PathBuf::from(format!("tests/fixtures/sql-gateway/{version}"));
    let second = (std::process::id() % 150) as u8 + 50;
    let ip = Ipv4Addr::new(127, second, third, 83);
    let requests = Arc::new(Mutex::new(Vec::new()));
    let posts = Arc::new(AtomicUsize::new(0));
    let (r, p) = (Arc::clone(&requests), Arc::clone(&posts));
    let listener = Listener::start(ip, 0, move |c| respond(&dir, c, &r, &p));
    Replay {
        ip,
        port: listener.port(),
        _listener: listener,
        requests,
        posts,
    }
}

fn scan(g: &Replay, extra: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (ip, port) = (g.ip.to_string(), g.port.to_string());
    let run = scan_to(
        dir.path(),
        "gw",
        &[&[ip.as_str(), "--ports", port.as_str()], extra].concat(),
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    run.json().clone()
}

#[test]
fn gateways_are_identified_with_exact_versions_and_findings() {
    for (i, version) in ["1.16.3", "1.20.1", "2.1.1"].into_iter().enumerate() {
        let g = replay(version, i as u8 + 1);
        let doc = scan(&g, &[]);
        let svc = &doc["services"][0];
        assert_eq!(svc["kind"], "sql-gateway", "{version}: {svc}");
        assert_eq!(svc["version"], version);
        assert_eq!(svc["flink"], true);
        assert!(svc["confidence"].as_u64().unwrap() >= 90);
        let ev = serde_json::to_string(&svc["evidence"]).unwrap();
        assert!(ev.contains("/v1/info"), "{ev}");
        let ids = rule_ids(&doc);
        for want in [
            "FLINK-SQL-GATEWAY-UNAUTHENTICATED",
            "FLINK-REST-PLAINTEXT",
            "FLINK-REST-CORS-WILDCARD",
        ] {
            assert!(ids.contains(&want.to_string()), "{version}: {ids:?}");
        }
        // Not intrusive by default: no session was opened.
        assert_eq!(g.posts.load(Ordering::Relaxed), 0, "{version}");
        let reqs = g.requests.lock().unwrap().clone();
        assert!(reqs.iter().all(|r| r.starts_with("GET ")), "{reqs:?}");
    }
}

#[test]
fn intrusive_opens_and_closes_exactly_one_session() {
    let g = replay("1.20.1", 9);
    let doc = scan(&g, &["--intrusive"]);
    assert_eq!(g.posts.load(Ordering::Relaxed), 1);
    let reqs = g.requests.lock().unwrap().clone();
    let deletes: Vec<&String> = reqs.iter().filter(|r| r.starts_with("DELETE ")).collect();
    assert_eq!(deletes.len(), 1, "{reqs:?}");
    assert!(deletes[0].starts_with("DELETE /v1/sessions/"));
    let f = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "FLINK-SQL-GATEWAY-UNAUTHENTICATED")
        .unwrap();
    assert!(
        f["detail"].as_str().unwrap().starts_with("Confirmed"),
        "{f}"
    );
    // The session handle is never copied into the report.
    let handle = "5fbef38b-d036-42a8-a731-fb5647f2d7fc";
    assert!(!serde_json::to_string(&doc).unwrap().contains(handle));
}

#[test]
fn replay_server_is_a_faithful_http_peer() {
    // Guards the harness itself: the bytes served are the captured ones.
    let g = replay("2.1.1", 10);
    let mut c = TcpStream::connect((g.ip, g.port)).unwrap();
    c.write_all(b"GET /v1/info HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = vec![0u8; 4096];
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = c.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.ends_with(r#"{"productName":"Apache Flink","version":"2.1.1"}"#),
        "{text}"
    );
}
