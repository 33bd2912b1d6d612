//! A TLS audit that does not run to the end is not a clean TLS audit: its
//! rules are listed as unchecked, the cluster is not rated OK and
//! `--fail-on` fails the run.
//!
//! The server is real (`openssl s_server -WWW` serving a JobManager's
//! recorded `/config`); in front of it sits a hand-written hostile relay
//! (what no packaged software does on demand): it passes identification
//! (its one hand-built hello, and every rustls connection) through, and
//! then stalls or cuts the audit's hand-built handshakes. Loopback only.
//!
//! A reset before the server's first byte is not among the faults: real
//! servers decline a hello that way, and the audit reads it as a decline
//! (`tls::record::read_flight`).

use crate::support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::Value;
use support::flink::unique_loopback;
use support::scan::Scan;
use support::tls::{have_openssl, SServer};

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/identify")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What the relay does to the audit's hand-built handshakes.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Say nothing until the client gives up.
    Stall,
    /// Pass the start of the server's real ServerHello on, then reset.
    CutMidFlight,
}

/// A ClientHello at the start of `c`, peeked (left unread, so that closing
/// the socket resets it): its legacy version, and whether rustls sent it.
/// rustls offers TLS 1.3 and TLS 1.2 suites in one hello; the audit's
/// hand-built hellos offer one version's suites each.
fn peek_hello(c: &TcpStream) -> Option<(u16, bool)> {
    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = vec![0u8; 5 + (1 << 14)];
    let mut tries = 0;
    let record = loop {
        let n = c.peek(&mut buf).ok()?;
        if n == 0 || buf[0] != 22 {
            return None;
        }
        if n >= 5 {
            let len = usize::from(u16::from_be_bytes([buf[3], buf[4]]));
            if n >= 5 + len {
                break &buf[5..5 + len];
            }
        }
        tries += 1;
        if tries > 10_000 {
            return None;
        }
        thread::yield_now();
    };
    // type(1) length(3) version(2) random(32) session id(1+n) suites(2+n)
    if record.first() != Some(&1) || record.len() < 39 {
        return None;
    }
    let version = u16::from_be_bytes([record[4], record[5]]);
    let at = 39 + usize::from(record[38]);
    let len = usize::from(u16::from_be_bytes([*record.get(at)?, *record.get(at + 1)?]));
    let suites = record.get(at + 2..at + 2 + len)?;
    let (mut tls13, mut ecdhe) = (false, false);
    for s in suites.chunks_exact(2) {
        tls13 |= s[0] == 0x13;
        ecdhe |= s[0] == 0xc0 || s[0] == 0xcc;
    }
    Some((version, tls13 && ecdhe))
}

fn relay(client: TcpStream, upstream: SocketAddr) {
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let _ = client.set_read_timeout(None);
    let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    thread::spawn(move || {
        let _ = std::io::copy(&mut c_in, &mut s_out);
        let _ = s_out.shutdown(Shutdown::Write);
    });
    let (mut s_in, mut c_out) = (server, client);
    let _ = std::io::copy(&mut s_in, &mut c_out);
    let _ = c_out.shutdown(Shutdown::Both);
}

/// The relay in front of `upstream`. The first hand-built hello is
/// identification's (its TLS sniff); every later one is the audit's, and
/// `audit_seen` turns true when an SSLv3, TLS 1.0 or TLS 1.1 one (only the
/// audit sends those) meets the fault.
fn hostile_front(upstream: SocketAddr, fault: Fault) -> (SocketAddr, Arc<AtomicBool>) {
    let listener = TcpListener::bind((unique_loopback(), 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let audit_seen = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&audit_seen);
    let hand_built_hellos = Arc::new(AtomicUsize::new(0));
    thread::spawn(move || {
        for c in listener.incoming() {
            let Ok(c) = c else { continue };
            let (seen, count) = (Arc::clone(&seen), Arc::clone(&hand_built_hellos));
            thread::spawn(move || {
                let hello = peek_hello(&c);
                let audit = match hello {
                    Some((_, false)) => count.fetch_add(1, Ordering::SeqCst) > 0,
                    _ => false,
                };
                if !audit {
                    return relay(c, upstream);
                }
                if matches!(hello, Some((version, _)) if version < 0x0303) {
                    seen.store(true, Ordering::SeqCst);
                }
                match fault {
                    Fault::Stall => {
                        let _ = c.set_read_timeout(Some(Duration::from_secs(60)));
                        let mut sink = [0u8; 4096];
                        while matches!((&c).read(&mut sink), Ok(n) if n > 0) {}
                    }
                    Fault::CutMidFlight => {
                        let Ok(mut server) = TcpStream::connect(upstream) else {
                            return;
                        };
                        let mut hello = vec![0u8; 5 + (1 << 14)];
                        let n = c.peek(&mut hello).unwrap_or(0);
                        let _ = server.write_all(&hello[..n]);
                        let _ = server.set_read_timeout(Some(Duration::from_secs(5)));
                        let mut flight = [0u8; 40];
                        if let Ok(got) = server.read(&mut flight) {
                            let _ = (&c).write_all(&flight[..got.min(20)]);
                        }
                        drop(c);
                    }
                }
            });
        }
    });
    (addr, audit_seen)
}

fn scan(addr: SocketAddr, dir: &Path) -> (Option<i32>, String, String, Value) {
    let ran = Scan::new()
        .target(addr.ip().to_string())
        .ports(addr.port().to_string())
        .args(["--probe-timeout", "2s", "--rules", "FLINK-TLS-*"])
        .args(["--fail-on", "high", "--no-color", "--no-progress"])
        .out_dir(dir, "out")
        .json()
        .run();
    let json = ran.json().clone();
    (ran.code, ran.stdout, ran.stderr, json)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn dashboard() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("config", fixture("jobmanager-2.3.0-config.json")),
        ("overview", fixture("jobmanager-2.3.0-overview.json")),
    ]
}

/// Issue: a peer that completes identification and then stalls or cuts
/// the audit's handshakes was rated OK on a TLS audit that never ran to
/// the end. Now its TLS rules are unchecked, the cluster is UNKNOWN and
/// `--fail-on high` fails (FLINK-TLS-WEAK-CIPHER is high).
#[test]
fn a_tls_audit_cut_short_after_identification_is_unchecked_never_clean() {
    if !have_openssl() {
        return;
    }
    let server = SServer::start(&dashboard(), 0);
    for fault in [Fault::Stall, Fault::CutMidFlight] {
        let (front, audit_seen) = hostile_front(server.addr, fault);
        let dir = tempfile::tempdir().unwrap();
        let (code, stdout, stderr, doc) = scan(front, dir.path());
        let ctx = format!("{fault:?}:\n{stdout}\n{stderr}");
        assert!(
            audit_seen.load(Ordering::SeqCst),
            "no audit reached the peer: {ctx}"
        );
        let svc = &doc["services"][0];
        assert_eq!(
            svc["kind"], "jobmanager-rest",
            "identification failed: {svc}\n{ctx}"
        );
        assert_eq!(svc["flink"], true, "{svc}");
        let unchecked = strings(&svc["unchecked"]);
        // No TLS 1.2 handshake of the audit finished: the suites and the
        // certificate are unknown. (Cut short, the legacy hellos still
        // carry the server's own protocol_version alert: declined, known.)
        let mut expected = vec![
            "FLINK-TLS-WEAK-CIPHER",
            "FLINK-TLS-NO-FORWARD-SECRECY",
            "FLINK-TLS-CBC-CIPHER",
            "FLINK-TLS-CERT-SELF-SIGNED",
            "FLINK-TLS-CERT-EXPIRED",
        ];
        if matches!(fault, Fault::Stall) {
            expected.push("FLINK-TLS-LEGACY-PROTOCOL");
        }
        for rule in expected {
            assert!(
                unchecked.iter().any(|r| r == rule),
                "{rule} not listed as unchecked: {unchecked:?}\n{ctx}"
            );
        }
        assert!(
            unchecked.iter().all(|r| r.starts_with("FLINK-TLS-")),
            "{unchecked:?}"
        );
        let cluster = &doc["clusters"][0];
        assert!(
            !strings(&cluster["unchecked"]).is_empty(),
            "cluster: {cluster}\n{ctx}"
        );
        assert!(cluster["rating"].is_null(), "{cluster}");
        assert!(stdout.contains("UNKNOWN"), "not rated UNKNOWN: {ctx}");
        assert_eq!(code, Some(1), "--fail-on high must fail: {ctx}");
        assert!(stderr.contains("could not run"), "{ctx}");
    }
}

/// The same server without the hostile relay: its audit runs to the end
/// and leaves nothing unchecked (no false UNKNOWN).
#[test]
fn a_tls_audit_that_runs_to_the_end_leaves_nothing_unchecked() {
    if !have_openssl() {
        return;
    }
    let server = SServer::start(&dashboard(), 0);
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr, doc) = scan(server.addr, dir.path());
    let svc = &doc["services"][0];
    assert_eq!(svc["kind"], "jobmanager-rest", "{svc}\n{stderr}");
    let protocols = svc["tls_profile"]["protocols"].as_array().unwrap();
    assert!(
        protocols.iter().all(|p| p["error"].is_null()),
        "{protocols:?}"
    );
    assert!(strings(&svc["unchecked"]).is_empty(), "{svc}");
    assert!(!stdout.contains("UNKNOWN"), "{stdout}");
    // Self-signed and name mismatch are low: under --fail-on high, clean.
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
}
