//! The kernel-limit reference for benches/compare.sh: W worker tasks pull
//! the next probe index from one atomic counter and connect with a timeout.
//! Nothing else: no permutation, no identification, no output but counts.
//!
//! usage: bare-loop BASE_IPV4 PREFIX PORTS WORKERS TIMEOUT_MS

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpSocket;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: bare-loop BASE_IPV4 PREFIX PORTS WORKERS TIMEOUT_MS");
        std::process::exit(2);
    }
    let base: Ipv4Addr = args[1].parse().expect("base address");
    let prefix: u32 = args[2].parse().expect("prefix");
    let ports: Arc<Vec<u16>> = Arc::new(
        args[3]
            .split(',')
            .map(|p| p.parse().expect("port"))
            .collect(),
    );
    let workers: usize = args[4].parse().expect("workers");
    let timeout = Duration::from_millis(args[5].parse().expect("timeout ms"));
    let hosts = 1u64 << (32 - prefix);
    let total = hosts * ports.len() as u64;
    let base = u32::from(base) & !((hosts - 1) as u32);
    let next = Arc::new(AtomicU64::new(0));
    let open = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (next, open, ports) = (Arc::clone(&next), Arc::clone(&open), Arc::clone(&ports));
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let host = base + (i / ports.len() as u64) as u32;
                let port = ports[(i % ports.len() as u64) as usize];
                let addr = SocketAddr::from((Ipv4Addr::from(host), port));
                let Ok(sock) = TcpSocket::new_v4() else {
                    continue;
                };
                let _ = sock.set_zero_linger();
                if let Ok(Ok(_)) = tokio::time::timeout(timeout, sock.connect(addr)).await {
                    open.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "probes {total} open {} seconds {secs:.3} rate {:.0}",
        open.load(Ordering::Relaxed),
        total as f64 / secs
    );
}
