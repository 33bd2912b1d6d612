//! The kernel-limit reference for benches/compare.sh: W worker tasks pull
//! the next probe index from one atomic counter, map it to (address, port)
//! and connect with zero linger and a timeout. Nothing else: no permutation,
//! no identification, no output but counts. Whatever flinkscan's sweep costs
//! on top of this loop is overhead of its own.
//!
//! usage: bare-loop CIDR PORTS [WORKERS] [TIMEOUT]
//!   CIDR     IPv4 block, e.g. 127.0.0.0/16 (host bits are ignored)
//!   PORTS    comma-separated list, e.g. 8081,8083,6123,6124
//!   WORKERS  tasks = connections in flight (default 1024)
//!   TIMEOUT  connect timeout: 1s, 500ms, or bare milliseconds (default 1s)
//!
//! Prints one line: `probes N open N closed N filtered N other N seconds S rate R`.
//!
//! Only meant for loopback (127.0.0.0/8) or a network namespace of your own.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::exit;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpSocket;

const USAGE: &str = "usage: bare-loop CIDR PORTS [WORKERS=1024] [TIMEOUT=1s]";

fn fail(msg: &str) -> ! {
    eprintln!("bare-loop: {msg}\n{USAGE}");
    exit(2)
}

fn parse_cidr(s: &str) -> (u32, u64) {
    let (addr, prefix) = s.split_once('/').unwrap_or((s, "32"));
    let addr: Ipv4Addr = addr.parse().unwrap_or_else(|_| fail("bad CIDR address"));
    let prefix: u32 = prefix.parse().unwrap_or_else(|_| fail("bad CIDR prefix"));
    if prefix > 32 {
        fail("prefix must be 0..=32");
    }
    let hosts = 1u64 << (32 - prefix);
    let base = (u64::from(u32::from(addr)) & !(hosts - 1)) as u32;
    (base, hosts)
}

fn parse_timeout(s: &str) -> Duration {
    let ms = if let Some(v) = s.strip_suffix("ms") {
        v.parse::<f64>().ok()
    } else if let Some(v) = s.strip_suffix('s') {
        v.parse::<f64>().ok().map(|s| s * 1000.0)
    } else {
        s.parse::<f64>().ok()
    };
    match ms {
        Some(ms) if ms > 0.0 => Duration::from_secs_f64(ms / 1000.0),
        _ => fail("bad timeout"),
    }
}

#[derive(Default)]
struct Counts {
    open: AtomicU64,
    closed: AtomicU64,
    filtered: AtomicU64,
    other: AtomicU64,
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || args.len() > 4 {
        fail("expected 2 to 4 arguments");
    }
    let (base, hosts) = parse_cidr(&args[0]);
    let ports: Arc<[u16]> = args[1]
        .split(',')
        .map(|p| p.trim().parse().unwrap_or_else(|_| fail("bad port")))
        .collect();
    if ports.is_empty() {
        fail("no ports");
    }
    let workers: u64 = args
        .get(2)
        .map_or(Some(1024), |w| w.parse().ok())
        .filter(|&w| w > 0)
        .unwrap_or_else(|| fail("bad worker count"));
    let timeout = args
        .get(3)
        .map_or(Duration::from_secs(1), |t| parse_timeout(t));

    let nports = ports.len() as u64;
    let total = hosts * nports;
    let next = Arc::new(AtomicU64::new(0));
    let counts = Arc::new(Counts::default());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers.min(total) {
        let (next, counts, ports) = (Arc::clone(&next), Arc::clone(&counts), Arc::clone(&ports));
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let host = base.wrapping_add((i / nports) as u32);
                let port = ports[(i % nports) as usize];
                let addr = SocketAddr::from((Ipv4Addr::from(host), port));
                let counter = match TcpSocket::new_v4() {
                    Err(_) => &counts.other,
                    Ok(sock) => {
                        let _ = sock.set_zero_linger();
                        match tokio::time::timeout(timeout, sock.connect(addr)).await {
                            Ok(Ok(_stream)) => &counts.open,
                            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                                &counts.closed
                            }
                            Ok(Err(_)) => &counts.other,
                            Err(_) => &counts.filtered,
                        }
                    }
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "probes {total} open {} closed {} filtered {} other {} seconds {secs:.3} rate {:.0}",
        counts.open.load(Ordering::Relaxed),
        counts.closed.load(Ordering::Relaxed),
        counts.filtered.load(Ordering::Relaxed),
        counts.other.load(Ordering::Relaxed),
        total as f64 / secs
    );
}
