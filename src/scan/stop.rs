//! Stopping a scan: signals, `--max-duration`, and the switch every stage
//! watches.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::report::ScanStatus;

/// Why a scan stopped before its sweep ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `--max-duration` elapsed.
    MaxDuration,
    /// SIGHUP (1), SIGINT (2) or SIGTERM (15): the signal number.
    Signal(i32),
    /// The SOCKS5 proxy failed after the start check (see
    /// [`crate::net::proxy_failure`]): what the scan still decided through
    /// it cannot be trusted.
    ProxyFailed,
}

impl StopReason {
    /// The report's `scan.status`.
    pub fn status(self) -> ScanStatus {
        match self {
            StopReason::MaxDuration => ScanStatus::MaxDuration,
            StopReason::Signal(_) => ScanStatus::Interrupted,
            StopReason::ProxyFailed => ScanStatus::ProxyFailed,
        }
    }
}

/// In-flight identification gets this long after SIGINT or SIGTERM, so the
/// outputs are written well inside Kubernetes' default 30 s between SIGTERM
/// and SIGKILL (`terminationGracePeriodSeconds`).
pub const SIGNAL_GRACE: Duration = Duration::from_secs(10);

/// The scan's stop switch: an atomic flag for the hot loops and a watch
/// channel for tasks that wait (rate limiter, identification slots).
#[derive(Debug, Clone)]
pub struct Stop {
    flag: Arc<AtomicBool>,
    reason: tokio::sync::watch::Sender<Option<StopReason>>,
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            flag: Arc::default(),
            reason: tokio::sync::watch::Sender::new(None),
        }
    }
}

impl Stop {
    /// Stop the scan; the first reason wins.
    pub fn stop(&self, why: StopReason) {
        self.reason.send_if_modified(|r| {
            if r.is_some() {
                return false;
            }
            *r = Some(why);
            true
        });
        self.flag.store(true, Ordering::Relaxed);
        crate::spool::hurry();
    }

    /// The flag the sweep's hot loop reads.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.flag)
    }

    pub fn reason(&self) -> Option<StopReason> {
        *self.reason.borrow()
    }

    /// Resolves once the scan is stopped (at once if it already is).
    pub async fn stopped(&self) {
        let mut rx = self.reason.subscribe();
        let _ = rx.wait_for(Option::is_some).await;
    }
}

/// Turn SIGHUP, SIGINT and SIGTERM into a stop: the first stops starting probes and
/// lets the scan write every output; the second exits at once with
/// 128 + signal (outputs are renamed into place whole or not at all, and a
/// temporary files being written are removed). Installing the
/// handler also makes SIGTERM work when flinkscan is PID 1 in a container,
/// where the kernel drops signals that have no handler. SIGHUP (an ssh
/// session or terminal that went away) is the same request to stop: its
/// default action would kill the scan with no report. Messages go to a
/// stderr that may be gone with that terminal, so a failed write is ignored
/// (`eprintln!` would panic).
pub fn listen_for_signals(stop: &Stop) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let stop = stop.clone();
    tokio::spawn(async move {
        loop {
            let (number, name) = tokio::select! {
                _ = int.recv() => (2, "SIGINT"),
                _ = term.recv() => (15, "SIGTERM"),
                _ = hup.recv() => (1, "SIGHUP"),
            };
            crate::spool::note_signal();
            // Already stopping (a first signal, --max-duration, a failed
            // proxy): the operator wants out now.
            if stop.reason().is_some() {
                say(&format!(
                    "flinkscan: {name} while stopping: quitting now, outputs not written"
                ));
                // exit() runs no destructor: temporary files would stay.
                crate::atomic::remove_partials_and_exit(128 + number);
            }
            say(&format!(
                "flinkscan: {name}: stopping; identification in flight gets up to {} s, then \
                 every output is written (send it again to quit at once)",
                SIGNAL_GRACE.as_secs()
            ));
            stop.stop(StopReason::Signal(number));
        }
    });
    Ok(())
}

/// One line to stderr, which may be a terminal that is gone (SIGHUP).
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// `--max-duration` ends the sweep early like a signal does, and every
/// report is still written.
pub fn watchdog(max: Option<Duration>, stop: &Stop) -> Option<tokio::task::JoinHandle<()>> {
    max.map(|max| {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(max).await;
            stop.stop(StopReason::MaxDuration);
        })
    })
}
