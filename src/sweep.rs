//! Sweep: TCP connect to every (address, port) of the target space.
//!
//! A fixed pool of worker tasks pulls the next probe index from one atomic
//! counter, so the in-flight window costs no per-probe allocation or
//! semaphore traffic (measured: spawning a task per probe was 20% slower).
//! Open ports go to the identification stage over a bounded channel; when
//! it is busy the sweep waits instead of buffering without limit.

use std::io;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::net::TcpSocket;
use tokio::sync::mpsc;

use crate::model::Endpoint;
use crate::targets::TargetSpace;

#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// Connections in flight at once.
    pub concurrency: usize,
    /// Connection attempts per second, if limited.
    pub rate: Option<NonZeroU32>,
    pub timeout: Duration,
    /// Extra attempts for probes that timed out.
    pub retries: u32,
    /// Positions for `--state` checkpoints, if any (see `state::Tracker`).
    pub tracker: Option<Arc<crate::state::Tracker>>,
}

/// Live counters, read by the progress bar and the final report.
#[derive(Debug, Default)]
pub struct SweepStats {
    pub probed: AtomicU64,
    pub open: AtomicU64,
    pub closed: AtomicU64,
    pub filtered: AtomicU64,
    pub unreachable: AtomicU64,
    /// Times the process ran out of file descriptors and backed off.
    pub fd_backoffs: AtomicU64,
}

/// What one connect attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortState {
    Open,
    /// RST: nothing listens.
    Closed,
    /// No answer within the timeout (SYN dropped).
    Filtered,
    /// The network said no (host/network unreachable, ...).
    Unreachable,
    /// Local resource exhaustion; try the same probe again shortly.
    LocalBusy,
}

/// One connect attempt. The socket closes with RST (zero linger) so sweeps
/// leave no TIME_WAIT behind.
pub async fn probe(addr: SocketAddr, timeout: Duration) -> PortState {
    if crate::net::proxy().is_some() {
        // Through a jump host the proxy connects; its reply code says
        // refused or unreachable (see `net::connect`).
        return match tokio::time::timeout(timeout, crate::net::connect(addr)).await {
            Err(_) => PortState::Filtered,
            Ok(Ok(_stream)) => PortState::Open,
            Ok(Err(e)) => classify_error(&e),
        };
    }
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    };
    let socket = match socket {
        Ok(s) => s,
        Err(e) => return classify_error(&e),
    };
    let _ = socket.set_zero_linger();
    match tokio::time::timeout(timeout, socket.connect(addr)).await {
        Err(_) => PortState::Filtered,
        Ok(Ok(_stream)) => PortState::Open,
        Ok(Err(e)) => classify_error(&e),
    }
}

fn classify_error(e: &io::Error) -> PortState {
    const EMFILE: i32 = 24;
    const ENFILE: i32 = 23;
    const ENOBUFS: i32 = 105;
    const EADDRNOTAVAIL: i32 = 99;
    const EAGAIN: i32 = 11;
    match e.kind() {
        io::ErrorKind::ConnectionRefused => PortState::Closed,
        io::ErrorKind::TimedOut => PortState::Filtered,
        _ => match e.raw_os_error() {
            Some(EMFILE | ENFILE | ENOBUFS | EADDRNOTAVAIL | EAGAIN) => PortState::LocalBusy,
            _ => PortState::Unreachable,
        },
    }
}

/// Sweep this process's shard of `space`, sending open endpoints to `open_tx`.
/// Returns when every probe is done, `stop` is set, or the receiver is gone.
pub async fn run(
    space: Arc<TargetSpace>,
    cfg: SweepConfig,
    stats: Arc<SweepStats>,
    open_tx: mpsc::Sender<Endpoint>,
    stop: Arc<AtomicBool>,
) {
    let next = Arc::new(AtomicU64::new(0));
    let limiter: Option<Arc<DefaultDirectRateLimiter>> = cfg
        .rate
        .map(|r| Arc::new(RateLimiter::direct(Quota::per_second(r))));
    let workers = cfg
        .concurrency
        .clamp(1, usize::try_from(space.len().max(1)).unwrap_or(usize::MAX));
    // A probe waiting for the rate limiter must notice the stop flag too
    // (`--rate 100 --max-duration 3s` ran 17 s), so one task turns the flag
    // into a wakeup for the waiters.
    let (stopped_tx, stopped_rx) = tokio::sync::watch::channel(false);
    let stop_watch = limiter.as_ref().map(|_| {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = stopped_tx.send(true);
        })
    });
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let space = Arc::clone(&space);
        let stats = Arc::clone(&stats);
        let next = Arc::clone(&next);
        let open_tx = open_tx.clone();
        let limiter = limiter.clone();
        let stop = Arc::clone(&stop);
        let cfg = cfg.clone();
        let mut stopped = stopped_rx.clone();
        tasks.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                // Claim and count inside `--state` sections (see state::Tracker).
                let section = cfg.tracker.as_ref().map(|t| t.section());
                let j = next.fetch_add(1, Ordering::Relaxed);
                let Some(endpoint) = space.nth(j) else { break };
                if let Some(t) = &cfg.tracker {
                    t.claim(w, j);
                }
                drop(section);
                if let Some(l) = &limiter {
                    tokio::select! {
                        _ = l.until_ready() => {}
                        _ = stopped.wait_for(|s| *s) => break,
                    }
                }
                let state = probe_with_retries(endpoint.socket_addr(), &cfg, &stats).await;
                let section = cfg.tracker.as_ref().map(|t| t.section());
                stats.probed.fetch_add(1, Ordering::Relaxed);
                let counter = match state {
                    PortState::Open => &stats.open,
                    PortState::Closed => &stats.closed,
                    PortState::Filtered => &stats.filtered,
                    PortState::Unreachable | PortState::LocalBusy => &stats.unreachable,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                if let Some(t) = &cfg.tracker {
                    t.release(w, (state == PortState::Open).then_some(&endpoint));
                }
                drop(section);
                if state == PortState::Open {
                    tracing::debug!(%endpoint, "open");
                }
                if state == PortState::Open && open_tx.send(endpoint).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(open_tx);
    while tasks.join_next().await.is_some() {}
    if let Some(w) = stop_watch {
        w.abort();
    }
}

async fn probe_with_retries(addr: SocketAddr, cfg: &SweepConfig, stats: &SweepStats) -> PortState {
    let mut attempts = 0;
    let mut backoff = Duration::from_millis(5);
    loop {
        match probe(addr, cfg.timeout).await {
            PortState::LocalBusy => {
                // Out of descriptors or ports: slow down, never give up on
                // the probe (a lost probe would be a silent false negative).
                stats.fd_backoffs.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(500));
                attempts += 1;
                if attempts > 200 {
                    return PortState::Unreachable;
                }
            }
            PortState::Filtered if attempts < cfg.retries => attempts += 1,
            state => return state,
        }
    }
}

/// Raise RLIMIT_NOFILE's soft limit to the hard limit and return the window
/// that fits in it, leaving room for identification and output files.
pub fn raise_fd_limit_and_size_window(wanted: Option<usize>) -> usize {
    const RESERVE: u64 = 512;
    // A silent range costs ceil(probes / window) x timeout, so the window is
    // what makes dropped SYNs cheap; each slot is an idle worker task of
    // about 1.2 KiB, so 12,288 keeps a live /16 sweep near 25 MiB (measured
    // by benches/compare.sh; 16,384 reached 30 MiB for no gain on live ranges).
    const DEFAULT_MAX: u64 = 12_288;
    let available = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(1024),
    };
    let fit = available.saturating_sub(RESERVE).max(32);
    let window = match wanted {
        Some(w) => (w as u64).min(fit),
        None => DEFAULT_MAX.min(fit),
    };
    usize::try_from(window).unwrap_or(1024).max(1)
}
