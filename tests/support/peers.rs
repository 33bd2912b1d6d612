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

/// A listener that runs `serve` on each connection (in its own thread)
/// until dropped.
pub struct Listener {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Listener {
    pub fn start(ip: Ipv4Addr, port: u16, serve: fn(TcpStream)) -> Listener {
        let l = TcpListener::bind((ip, port)).expect("bind loopback");
        let addr = l.local_addr().expect("addr");
        l.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((c, _)) => {
                        let _ = c.set_nonblocking(false);
                        thread::spawn(move || serve(c));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Listener { addr, stop }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
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
