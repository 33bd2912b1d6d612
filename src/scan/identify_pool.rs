//! Identification: a fixed number of slots take the open ports the sweep
//! finds; each port is handled by one task that talks to it strictly
//! sequentially (identify, then the checks), and its result goes to the
//! collector. A stopped scan gives in-flight work a grace period and still
//! reports every open port it found.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::stop::{Stop, StopReason, SIGNAL_GRACE};
use super::Progress;
use crate::checks::{self, CheckContext};
use crate::identify::{self, IdentifyConfig};
use crate::model::{Endpoint, Finding, PortDecision, Service, ServiceKind};

/// What one identification slot hands to the collector.
#[derive(Debug)]
pub struct PortResult {
    pub service: Service,
    /// The open port as the sweep handed it over (the service may name it
    /// under a path prefix that prefix discovery found).
    pub probed: Endpoint,
    pub findings: Vec<Finding>,
    /// Cut short or never started: reported, but still to identify for a
    /// `--state` checkpoint.
    pub unfinished: bool,
}

/// Open ports a stopped scan did not finish with (`host:port`).
#[derive(Debug, Default)]
pub struct Unfinished {
    pub cut_short: Vec<String>,
    pub not_identified: Vec<String>,
}

/// How the identification stage runs.
pub struct Pool {
    pub slots: usize,
    pub id_cfg: IdentifyConfig,
    pub ctx: CheckContext,
    pub progress: Arc<Progress>,
    pub stop: Stop,
    /// Where the endpoints identified services name go (`--follow`).
    pub named: Option<super::follow::Hand>,
}

type InFlight = Arc<Mutex<BTreeSet<Endpoint>>>;

impl Pool {
    /// Identify every open port from `open_rx` until the sweep ends (or the
    /// scan stops); returns what was left unfinished.
    pub async fn run(
        self,
        mut open_rx: mpsc::Receiver<(Endpoint, PortDecision)>,
        result_tx: mpsc::Sender<PortResult>,
    ) -> Unfinished {
        let slots = Arc::new(Semaphore::new(self.slots));
        let mut tasks = JoinSet::new();
        let in_flight: InFlight = Arc::default();
        // Open ports the scan stopped before identifying.
        let mut not_started: Vec<Endpoint> = Vec::new();
        let stop = &self.stop;
        loop {
            let (endpoint, decided) = tokio::select! {
                ep = open_rx.recv() => match ep { Some(ep) => ep, None => break },
                _ = stop.stopped() => break,
            };
            let permit = tokio::select! {
                p = Arc::clone(&slots).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
                _ = stop.stopped() => {
                    not_started.push(endpoint);
                    break;
                }
            };
            if let Ok(mut set) = in_flight.lock() {
                set.insert(endpoint.clone());
            }
            let job = self.one(endpoint, decided, Arc::clone(&in_flight), result_tx.clone());
            tasks.spawn(async move {
                job.await;
                drop(permit);
            });
            // Reap finished tasks so the set stays small on big scans.
            while tasks.try_join_next().is_some() {}
        }
        let finished = self.drain(&mut tasks, &mut open_rx, &mut not_started).await;
        // Open ports whose identification was cut short, or whose task
        // failed, still count: never lose a port from the report.
        let left: Vec<Endpoint> = in_flight
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let why = if crate::net::proxy_failure().is_some() {
            "identification cut short: the SOCKS5 proxy failed (see the notice naming it)"
        } else if finished {
            "identification failed with an internal error (a flinkscan bug: please report it)"
        } else {
            "identification cut short by the end of the scan"
        };
        let unfinished = Unfinished {
            cut_short: left.iter().map(Endpoint::place).collect(),
            not_identified: not_started.iter().map(Endpoint::place).collect(),
        };
        let not_started = not_started.into_iter().map(|ep| {
            (
                ep,
                "open, not identified: the scan stopped before its turn came",
            )
        });
        for (endpoint, why) in left.into_iter().map(|ep| (ep, why)).chain(not_started) {
            let mut service = Service::new(endpoint.clone(), ServiceKind::Unknown);
            service.errors.push(why.into());
            let _ = result_tx
                .send(PortResult {
                    service,
                    probed: endpoint,
                    findings: Vec::new(),
                    unfinished: true,
                })
                .await;
        }
        unfinished
    }

    /// One port: identify, run the checks, hand the result over.
    fn one(
        &self,
        endpoint: Endpoint,
        decided: PortDecision,
        in_flight: InFlight,
        result_tx: mpsc::Sender<PortResult>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let id_cfg = self.id_cfg.clone();
        let ctx = self.ctx.clone();
        let named_tx = self.named.clone();
        let progress = Arc::clone(&self.progress);
        async move {
            tracing::debug!(%endpoint, "identifying");
            let (mut service, seen) = identify::identify_seen(endpoint.clone(), &id_cfg).await;
            service.decided = Some(decided);
            tracing::info!(
                endpoint = %service.endpoint,
                kind = %service.kind,
                version = service.version.as_deref().unwrap_or("-"),
                confidence = service.confidence,
                "identified"
            );
            let out = checks::run_seen(&service, &ctx, &seen).await;
            drop(seen);
            for f in &out.findings {
                tracing::info!(endpoint = %service.endpoint, rule = %f.rule_id, "finding");
            }
            for e in &out.errors {
                tracing::debug!(endpoint = %service.endpoint, error = %e, "check error");
            }
            service.tls_profile = out.tls_profile.map(Box::new);
            service.deployment = out.deployment.map(Box::new);
            service.unchecked = out.unchecked;
            if out.yarn.is_some() {
                service.yarn = out.yarn.map(Box::new);
            }
            service.errors.extend(out.errors);
            if let Some(doubt) = out.doubt {
                service.errors.push(doubt);
                service.confidence = service.confidence.saturating_sub(50).max(10);
            }
            if crate::net::proxy_failure().is_some() {
                // What the proxy answered may be its failure, not the
                // port's: left in flight, the port is reported cut short
                // (and identified again by a resumed scan).
                return;
            }
            // Admitted before the result is recorded: a checkpoint that
            // holds this service holds what it named too.
            if let Some(hand) = &named_tx {
                hand.named(&service).await;
            }
            progress.identified.fetch_add(1, Ordering::Relaxed);
            progress
                .findings
                .fetch_add(out.findings.len() as u64, Ordering::Relaxed);
            if let Ok(mut set) = in_flight.lock() {
                set.remove(&endpoint);
            }
            let _ = result_tx
                .send(PortResult {
                    service,
                    probed: endpoint,
                    findings: out.findings,
                    unfinished: false,
                })
                .await;
        }
    }

    /// Wait for in-flight work, unless the scan is stopped meanwhile; then
    /// in-flight work gets a bounded grace period (a signal gets longer:
    /// the operator waits for the reports), while the open ports the sweep
    /// still hands over are kept until it has ended (within one connect
    /// timeout). True when everything finished.
    async fn drain(
        &self,
        tasks: &mut JoinSet<()>,
        open_rx: &mut mpsc::Receiver<(Endpoint, PortDecision)>,
        not_started: &mut Vec<Endpoint>,
    ) -> bool {
        let finished = {
            let drain = async { while tasks.join_next().await.is_some() {} };
            tokio::select! {
                _ = drain => true,
                _ = self.stop.stopped() => false,
            }
        };
        if finished {
            return true;
        }
        let grace = match self.stop.reason() {
            Some(StopReason::Signal(_)) => SIGNAL_GRACE,
            _ => self.id_cfg.timeout.min(Duration::from_secs(2)),
        };
        let drain = async {
            if tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} })
                .await
                .is_err()
            {
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
            }
        };
        let rest = async {
            while let Some((ep, _)) = open_rx.recv().await {
                not_started.push(ep);
            }
        };
        tokio::join!(drain, rest);
        false
    }
}
