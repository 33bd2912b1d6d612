//! Sweep: TCP connect to every (address, port) of the target space.
//!
//! A fixed pool of worker tasks pulls the next probe index from one atomic
//! counter, so the in-flight window costs no per-probe allocation or
//! semaphore traffic (measured: spawning a task per probe was 20% slower).
//! Open ports go to the identification stage over a bounded channel; when
//! it is busy the sweep waits instead of buffering without limit.
//!
//! Lost SYNs: each probe goes through [`crate::net`], which sends another
//! SYN only to hosts that answered on some port. A probe that timed out
//! before its host was known to answer is noted, and once the whole space
//! is swept, those whose host has answered since get a second pass. Hosts
//! that never answer get one SYN per probe, so silent ranges cost what they
//! did.

use std::io;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::mpsc;

use crate::model::{DecidedBy, DecidedCounts, Dest, Endpoint, PortDecision};
use crate::net::{self, RetryPolicy};
use crate::targets::TargetSpace;

#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// Connections in flight at once.
    pub concurrency: usize,
    /// Connection attempts per second, if limited.
    pub rate: Option<NonZeroU32>,
    /// How long a SYN to a host that never answered waits; the ceiling of
    /// the adaptive waits.
    pub timeout: Duration,
    /// Extra attempts for every probe that timed out (`--retries`); `None`
    /// decides from evidence ([`crate::net`]).
    pub retries: Option<u32>,
    /// Positions for `--state` checkpoints, if any (see `state::Tracker`).
    pub tracker: Option<Arc<crate::state::Tracker>>,
}

impl SweepConfig {
    pub fn policy(&self) -> RetryPolicy {
        match self.retries {
            Some(n) => RetryPolicy::fixed(self.timeout, n),
            None => RetryPolicy::adaptive(self.timeout),
        }
    }
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
    /// Filtered probes on hosts that answered elsewhere / never answered.
    pub filtered_answering_host: AtomicU64,
    pub filtered_silent_host: AtomicU64,
    /// Open or closed only on a retry: a lost SYN recovered.
    pub after_retry: AtomicU64,
    /// SYNs beyond each probe's first.
    pub extra_attempts: AtomicU64,
    /// Probes a failing SOCKS5 proxy answered for (`host:port`): not
    /// decided, and left in flight for a `--state` checkpoint.
    pub undecided: Mutex<Vec<String>>,
}

impl SweepStats {
    /// The counters a `--state` checkpoint saves.
    pub fn counts(&self) -> crate::state::Counts {
        crate::state::Counts {
            probed: self.probed.load(Ordering::Relaxed),
            open: self.open.load(Ordering::Relaxed),
            closed: self.closed.load(Ordering::Relaxed),
            filtered: self.filtered.load(Ordering::Relaxed),
            unreachable: self.unreachable.load(Ordering::Relaxed),
        }
    }

    /// Start a resumed sweep's counters where the checkpoint left them.
    pub fn restore(&self, c: &crate::state::Counts) {
        self.probed.store(c.probed, Ordering::Relaxed);
        self.open.store(c.open, Ordering::Relaxed);
        self.closed.store(c.closed, Ordering::Relaxed);
        self.filtered.store(c.filtered, Ordering::Relaxed);
        self.unreachable.store(c.unreachable, Ordering::Relaxed);
    }

    pub fn decided(&self) -> DecidedCounts {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DecidedCounts {
            answered: get(&self.open),
            refused: get(&self.closed),
            timed_out_answering_host: get(&self.filtered_answering_host),
            timed_out_silent_host: get(&self.filtered_silent_host),
            unreachable: get(&self.unreachable),
            decided_after_retry: get(&self.after_retry),
            extra_attempts: get(&self.extra_attempts),
        }
    }
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
    /// The SOCKS5 proxy failed on this probe: nothing is known of the port.
    Undecided,
}

fn classify_error(e: &io::Error) -> PortState {
    const EMFILE: i32 = 24;
    const ENFILE: i32 = 23;
    const ENOBUFS: i32 = 105;
    const EADDRNOTAVAIL: i32 = 99;
    const EAGAIN: i32 = 11;
    if net::ProxyFailed::of(e).is_some() {
        return PortState::Undecided;
    }
    match e.kind() {
        io::ErrorKind::ConnectionRefused => PortState::Closed,
        // Linux reports a RST in SYN-SENT as ECONNREFUSED; ECONNRESET means
        // the handshake completed and the listener reset the connection.
        io::ErrorKind::ConnectionReset => PortState::Open,
        io::ErrorKind::TimedOut => PortState::Filtered,
        _ => match e.raw_os_error() {
            Some(EMFILE | ENFILE | ENOBUFS | EADDRNOTAVAIL | EAGAIN) => PortState::LocalBusy,
            _ => PortState::Unreachable,
        },
    }
}

/// Probes that timed out before their host was known to answer, kept for
/// the second pass (at most this many: 8 MiB; beyond, they stay filtered).
const DEFERRED_CAP: usize = 1 << 20;

struct Shared {
    space: Arc<TargetSpace>,
    policy: RetryPolicy,
    stats: Arc<SweepStats>,
    limiter: Option<DefaultDirectRateLimiter>,
    stop: Arc<AtomicBool>,
    /// Turns true with `stop`, so a probe waiting for the limiter wakes.
    stopped: tokio::sync::watch::Receiver<bool>,
    tracker: Option<Arc<crate::state::Tracker>>,
    open_tx: mpsc::Sender<(Endpoint, PortDecision)>,
    deferred: Mutex<Vec<u64>>,
}

/// Sweep this process's shard of `space`, sending open endpoints (and how
/// they were found) to `open_tx`. Returns when every probe is done, `stop`
/// is set, or the receiver is gone.
pub async fn run(
    space: Arc<TargetSpace>,
    cfg: SweepConfig,
    stats: Arc<SweepStats>,
    open_tx: mpsc::Sender<(Endpoint, PortDecision)>,
    stop: Arc<AtomicBool>,
) {
    let workers = cfg
        .concurrency
        .clamp(1, usize::try_from(space.len().max(1)).unwrap_or(usize::MAX));
    net::book().set_quiet(false);
    // A probe waiting for the rate limiter must notice the stop flag too
    // (`--rate 100 --max-duration 3s` ran 17 s), so one task turns the flag
    // into a wakeup for the waiters.
    let (stopped_tx, stopped_rx) = tokio::sync::watch::channel(false);
    let stop_watch = cfg.rate.map(|_| {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = stopped_tx.send(true);
        })
    });
    let shared = Arc::new(Shared {
        space,
        policy: cfg.policy(),
        stats,
        limiter: cfg.rate.map(|r| RateLimiter::direct(Quota::per_second(r))),
        stop,
        stopped: stopped_rx,
        tracker: cfg.tracker.clone(),
        open_tx,
        deferred: Mutex::new(Vec::new()),
    });
    sweep_pass(&shared, workers, None).await;

    // Second pass: probes that timed out before their host answered on
    // another port. Hosts that never answered are not probed again.
    let deferred = shared
        .deferred
        .lock()
        .map(|mut d| std::mem::take(&mut *d))
        .unwrap_or_default();
    let book = net::book();
    let mut redo = Vec::new();
    for j in deferred {
        let alive = book.any_alive()
            && shared
                .space
                .nth(j)
                .and_then(|e| e.known_ip())
                .is_some_and(|ip| book.is_alive(ip));
        if alive {
            redo.push(j);
        } else {
            shared
                .stats
                .filtered_silent_host
                .fetch_add(1, Ordering::Relaxed);
        }
    }
    let proxy_failed = net::proxy_failure().is_some();
    if !redo.is_empty() && !shared.stop.load(Ordering::Relaxed) && !proxy_failed {
        tracing::debug!(probes = redo.len(), "second pass over hosts that answered");
        let workers = workers.min(redo.len());
        sweep_pass(&shared, workers, Some(Arc::new(redo))).await;
    }
    if let Some(w) = stop_watch {
        w.abort();
    }
}

/// One pass: over the whole space (`redo` = None) or over the listed probes.
/// Only the first pass moves the `--state` position: a second-pass probe
/// was already counted (filtered) when the first pass released it.
async fn sweep_pass(shared: &Arc<Shared>, workers: usize, redo: Option<Arc<Vec<u64>>>) {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let sh = Arc::clone(shared);
        let next = Arc::clone(&next);
        let redo = redo.clone();
        let mut stopped = sh.stopped.clone();
        tasks.spawn(async move {
            let tracker = if redo.is_none() {
                sh.tracker.clone()
            } else {
                None
            };
            while !sh.stop.load(Ordering::Relaxed) {
                // Claim and count inside `--state` sections (see state::Tracker).
                let section = tracker.as_ref().map(|t| t.section());
                let k = next.fetch_add(1, Ordering::Relaxed);
                let (j, prior) = match &redo {
                    None => (k, 0),
                    Some(list) => match usize::try_from(k).ok().and_then(|k| list.get(k)) {
                        Some(&j) => (j, 1),
                        None => break,
                    },
                };
                let Some(endpoint) = sh.space.nth(j) else {
                    // Every first SYN is out: the window drains from here.
                    net::book().set_quiet(true);
                    break;
                };
                if let Some(t) = &tracker {
                    t.claim(w, j);
                }
                drop(section);
                if let Some(l) = &sh.limiter {
                    tokio::select! {
                        _ = l.until_ready() => {}
                        _ = stopped.wait_for(|s| *s) => break,
                    }
                }
                let Some((state, attempts)) =
                    probe_port(endpoint.dest(), &sh.policy, prior, &sh.stats, &mut stopped).await
                else {
                    break;
                };
                if state == PortState::Undecided {
                    // The proxy failed, and the scan stops on it: this
                    // probe stays in flight (a resumed scan sends it again)
                    // and is listed, never counted as a port state.
                    if let Ok(mut u) = sh.stats.undecided.lock() {
                        u.push(endpoint.authority());
                    }
                    break;
                }
                let section = tracker.as_ref().map(|t| t.section());
                let decision = record(&sh, j, &endpoint, state, attempts, prior);
                if let Some(t) = &tracker {
                    t.release(w, decision.is_some().then_some(&endpoint));
                }
                drop(section);
                if let Some(decision) = decision {
                    tracing::debug!(%endpoint, attempts, "open");
                    if sh.open_tx.send((endpoint, decision)).await.is_err() {
                        break;
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// Count one probe's outcome; `Some` when the port is open. A second-pass
/// probe (`prior` > 0) was counted filtered in the first pass.
fn record(
    sh: &Shared,
    j: u64,
    endpoint: &Endpoint,
    state: PortState,
    attempts: u32,
    prior: u32,
) -> Option<PortDecision> {
    let st = &sh.stats;
    let add = |a: &AtomicU64, n: u64| {
        a.fetch_add(n, Ordering::Relaxed);
    };
    add(
        &st.extra_attempts,
        u64::from(attempts.saturating_sub(prior.max(1))),
    );
    if prior == 0 {
        add(&st.probed, 1);
    } else if state != PortState::Filtered {
        st.filtered.fetch_sub(1, Ordering::Relaxed);
    }
    let retried = attempts > 1;
    match state {
        PortState::Open | PortState::Closed => {
            add(
                if state == PortState::Open {
                    &st.open
                } else {
                    &st.closed
                },
                1,
            );
            if retried {
                add(&st.after_retry, 1);
            }
        }
        PortState::Filtered => {
            if prior == 0 {
                add(&st.filtered, 1);
            }
            if endpoint
                .known_ip()
                .is_some_and(|ip| net::book().is_alive(ip))
            {
                add(&st.filtered_answering_host, 1);
            } else if prior == 0 && sh.policy.evidence && defer(sh, j) {
                // Decided after the sweep: the host may answer elsewhere later.
            } else {
                add(&st.filtered_silent_host, 1);
            }
        }
        PortState::Unreachable | PortState::LocalBusy => add(&st.unreachable, 1),
        // Never recorded: the worker stops first.
        PortState::Undecided => {}
    }
    (state == PortState::Open).then_some(PortDecision {
        by: DecidedBy::Answered,
        attempts,
    })
}

fn defer(sh: &Shared, j: u64) -> bool {
    match sh.deferred.lock() {
        Ok(mut d) if d.len() < DEFERRED_CAP => {
            d.push(j);
            true
        }
        _ => false,
    }
}

/// One probe through [`net::attempt_until_answered`], backing off while the
/// process is out of descriptors or ports. `None`: the scan stopped during
/// a back-off, and the probe stays undecided (a `--state` checkpoint keeps
/// it in flight, so a resumed scan sends it again).
async fn probe_port(
    dest: Dest,
    policy: &RetryPolicy,
    prior: u32,
    stats: &SweepStats,
    stopped: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<(PortState, u32)> {
    // The second pass runs a few probes once the window has drained: its
    // waits come from the fastest round trips, not the sweep's queueing.
    let policy = &RetryPolicy {
        unloaded: prior > 0,
        ..*policy
    };
    let mut busy = 0;
    let mut backoff = Duration::from_millis(5);
    loop {
        let deadline = tokio::time::Instant::now() + policy.timeout;
        let out =
            net::attempt_until_answered(&dest, true, policy, net::book(), prior, deadline).await;
        let state = match &out.result {
            Ok(_) => PortState::Open,
            Err(e) => classify_error(e),
        };
        if state != PortState::LocalBusy {
            return Some((state, out.attempts));
        }
        // Out of descriptors or ports: slow down, never give up on the
        // probe (a lost probe would be a silent false negative), unless
        // the scan is stopping.
        stats.fd_backoffs.fetch_add(1, Ordering::Relaxed);
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stopped.wait_for(|s| *s) => return None,
        }
        backoff = (backoff * 2).min(Duration::from_millis(500));
        busy += 1;
        if busy > 200 {
            return Some((PortState::Unreachable, out.attempts));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every one of the 12,288 sweep slots holds a probe's future while it
    /// waits: a large connect path (the SOCKS5 handshake was 1.1 KiB of it)
    /// costs megabytes of peak memory on every sweep, proxied or not
    /// (benches/compare.sh measured 43 MiB instead of 29 MiB on a /16).
    #[test]
    fn a_waiting_probe_stays_small() {
        let policy = RetryPolicy::adaptive(Duration::from_secs(1));
        let stats = SweepStats::default();
        let (_tx, mut stopped) = tokio::sync::watch::channel(false);
        let dest: Dest = std::net::SocketAddr::from(([127, 0, 0, 1], 1)).into();
        let probe = probe_port(dest, &policy, 0, &stats, &mut stopped);
        let size = std::mem::size_of_val(&probe);
        assert!(size <= 1024, "a probe's future is {size} bytes");
    }

    /// A listener that accepts and resets at once (SO_LINGER 0) can make the
    /// connect itself report ECONNRESET: the handshake completed, so the port
    /// is open, like its siblings that lost the race the other way.
    #[test]
    fn a_reset_after_the_handshake_is_an_open_port() {
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(classify_error(&reset), PortState::Open);
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(classify_error(&refused), PortState::Closed);
    }
}
