//! Small loopback servers and helpers shared by the end-to-end tests.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// The flinkscan binary with a generous overall timeout.
pub fn flinkscan() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("flinkscan").expect("binary");
    c.timeout(Duration::from_secs(300));
    c
}

/// A pseudo-random second octet (20..220), so concurrent test binaries
/// pick different 127.x.0.0/16 blocks.
pub fn random_octet() -> u8 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(7);
    (std::process::id().wrapping_mul(2_654_435_761) ^ t) as u8 % 200 + 20
}

/// A loopback listener that runs `serve` on each connection (in its own
/// thread, blocking) until dropped. Port 0 picks a free port.
pub struct Listener {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Listener {
    pub fn start<F>(ip: Ipv4Addr, port: u16, serve: F) -> Listener
    where
        F: Fn(TcpStream) + Send + Sync + 'static,
    {
        Listener::try_start(ip, port, serve).expect("bind loopback")
    }

    /// As [`Listener::start`], but a port already taken is an error the
    /// caller can answer by picking another.
    pub fn try_start<F>(ip: Ipv4Addr, port: u16, serve: F) -> std::io::Result<Listener>
    where
        F: Fn(TcpStream) + Send + Sync + 'static,
    {
        let l = TcpListener::bind((ip, port))?;
        let addr = l.local_addr()?;
        l.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let serve = Arc::new(serve);
        thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((c, _)) => {
                        let _ = c.set_nonblocking(false);
                        let serve = Arc::clone(&serve);
                        thread::spawn(move || serve(c));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(Listener { addr, stop })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// An address and what a listener there does with each connection.
pub type Peer = (Ipv4Addr, fn(TcpStream));

/// Listeners on one port that is free on every address (`serve` each):
/// a port another process holds on one of them (or on 0.0.0.0) means
/// trying another.
pub fn on_one_free_port(peers: &[Peer]) -> (u16, Vec<Listener>) {
    for _ in 0..50 {
        let port = TcpListener::bind((peers[0].0, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port on loopback")
            .port();
        let started: std::io::Result<Vec<Listener>> = peers
            .iter()
            .map(|&(ip, serve)| Listener::try_start(ip, port, serve))
            .collect();
        if let Ok(listeners) = started {
            return (port, listeners);
        }
    }
    panic!(
        "no port free on all of {:?} after 50 tries",
        peers.iter().map(|p| p.0).collect::<Vec<_>>()
    );
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Accept and close.
pub fn close_at_once(_c: TcpStream) {}

/// Answers Flink's stray RPC heartbeat the way Akka/Pekko do (DISASSOCIATE);
/// closes on anything else.
pub fn fake_rpc(mut c: TcpStream) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = [0u8; 8];
    if c.read_exact(&mut buf).is_ok() && buf == [0, 0, 0, 4, 0x12, 2, 8, 3] {
        let _ = c.write_all(&[0, 0, 0, 4, 0x12, 2, 8, 2, 0, 0, 0, 0]);
    }
}

/// Accepts and never says a word.
pub fn tarpit(c: TcpStream) {
    thread::sleep(Duration::from_secs(60));
    drop(c);
}

pub fn json_file(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("read output");
    serde_json::from_str(&text).expect("valid JSON")
}

/// The request head (bounded: 16 KiB, 3 s); empty when the peer sent
/// nothing (the sweep's connect).
pub fn read_head(c: &mut TcpStream) -> String {
    let _ = c.set_read_timeout(Some(Duration::from_secs(3)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while head.len() < 16 * 1024 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// The path a request head asks for (`GET /config HTTP/1.1` -> `/config`).
pub fn request_path(head: &str) -> &str {
    head.split_whitespace().nth(1).unwrap_or("")
}

/// Write one whole response and let the connection close.
pub fn respond(c: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) {
    let _ = write!(
        c,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = c.write_all(body);
}

/// Flink's own 404 body.
pub fn not_found(c: &mut TcpStream) {
    respond(
        c,
        "404 Not Found",
        "application/json",
        br#"{"errors":["Not found"]}"#,
    );
}

/// Read one request head (bounded) and answer a GET with `body`; close on
/// anything else.
pub fn serve_get(mut c: TcpStream, content_type: &str, body: &str) {
    if read_head(&mut c).starts_with("GET ") {
        respond(&mut c, "200 OK", content_type, body.as_bytes());
    }
}

/// The rule ids of a JSON report's findings, in report order.
pub fn rule_ids(doc: &serde_json::Value) -> Vec<String> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule_id"].as_str().expect("rule_id").to_string())
        .collect()
}

/// `(ip:port, baseline_state)` of every finding in a JSON report, in
/// report order; `-` where the state is absent.
pub fn finding_states(doc: &serde_json::Value) -> Vec<(String, String)> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                format!("{}:{}", f["ip"].as_str().expect("ip"), f["port"]),
                f["baseline_state"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect()
}

/// The service at `addr` in a JSON report, or a failure listing them.
pub fn service_at(doc: &serde_json::Value, addr: SocketAddr) -> &serde_json::Value {
    doc["services"]
        .as_array()
        .and_then(|a| {
            a.iter().find(|s| {
                s["port"] == addr.port() && s["ip"].as_str() == Some(&addr.ip().to_string())
            })
        })
        .unwrap_or_else(|| panic!("{addr} not in services: {}", doc["services"]))
}

/// A Flink Prometheus reporter look-alike: `flink_` metrics on every GET,
/// worth exactly one low finding (FLINK-METRICS-EXPOSED).
pub fn fake_prometheus(c: TcpStream) {
    serve_get(c, "text/plain; version=0.0.4", PROMETHEUS_BODY);
}

pub const PROMETHEUS_BODY: &str = "# HELP flink_jobmanager_numRunningJobs Running jobs\n\
# TYPE flink_jobmanager_numRunningJobs gauge\n\
flink_jobmanager_numRunningJobs 0.0\n";
