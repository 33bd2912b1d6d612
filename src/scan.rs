//! The pipeline: targets -> sweep -> identify -> checks -> report.
//!
//! The sweep feeds open ports into a bounded channel; a fixed number of
//! identification slots take them, run the checks, and hand results to one
//! collector that streams JSON Lines and keeps what the final reports need.
//! Memory grows with open ports found, never with the size of the range.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Semaphore};

use crate::checks::{self, catalog::Catalog, CheckContext, RuleFilter};
use crate::hosts;
use crate::identify::{self, IdentifyConfig};
use crate::model::{Endpoint, Finding, Notice, Service, ServiceKind};
use crate::plan::ScanPlan;
use crate::report::jsonl::{self, JsonlSink};
use crate::report::{self, ScanMeta, ScanReport, Stats, ToolInfo};
use crate::state::{State, Tracker};
use crate::sweep::{self, SweepConfig, SweepStats};
use crate::targets::resolve::resolve_all;
use crate::targets::spec::ip_to_u128;
use crate::targets::{spec_ranges, Hosts, SpaceInput, Spec, TargetError, TargetSpace};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    #[error(transparent)]
    Targets(#[from] TargetError),
    /// `path` names the flag too: `--jsonl -`.
    #[error("cannot write {path}: {source}")]
    Output {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "no target could be resolved, nothing was scanned: {}",
        .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")
    )]
    NothingResolved(Vec<crate::targets::resolve::ResolveError>),
}

/// Why a scan stopped before its sweep ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `--max-duration` elapsed.
    MaxDuration,
    /// SIGINT (2) or SIGTERM (15): the signal number.
    Signal(i32),
}

impl StopReason {
    /// The report's `scan.status`.
    pub fn status(self) -> report::ScanStatus {
        match self {
            StopReason::MaxDuration => report::ScanStatus::MaxDuration,
            StopReason::Signal(_) => report::ScanStatus::Interrupted,
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

/// Turn SIGINT and SIGTERM into a stop: the first stops starting probes and
/// lets the scan write every output; the second exits at once with
/// 128 + signal (outputs are renamed into place whole or not at all, and a
/// temporary file left behind is hidden: `.NAME.*.partial`). Installing the
/// handler also makes SIGTERM work when flinkscan is PID 1 in a container,
/// where the kernel drops signals that have no handler.
pub fn listen_for_signals(stop: &Stop) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let stop = stop.clone();
    tokio::spawn(async move {
        loop {
            let (number, name) = tokio::select! {
                _ = int.recv() => (2, "SIGINT"),
                _ = term.recv() => (15, "SIGTERM"),
            };
            // Already stopping (a first signal, or --max-duration): the
            // operator wants out now.
            if stop.reason().is_some() {
                eprintln!("flinkscan: {name} while stopping: quitting now, outputs not written");
                std::process::exit(128 + number);
            }
            eprintln!(
                "flinkscan: {name}: stopping; identification in flight gets up to {} s, then \
                 every output is written (send it again to quit at once)",
                SIGNAL_GRACE.as_secs()
            );
            stop.stop(StopReason::Signal(number));
        }
    });
    Ok(())
}

/// `--state`/`--resume`: where checkpoints go, what they must match, and
/// the one this run continues from.
#[derive(Debug)]
pub struct Checkpoint {
    pub path: std::path::PathBuf,
    pub digest: String,
    pub from: Option<State>,
}

/// Read the checkpoint for this scan, if `--state` or `--resume` names
/// one, and point the space at where it stopped.
pub fn prepare_checkpoint(
    plan: &ScanPlan,
    space: &mut TargetSpace,
    files: &[Option<&std::path::Path>],
) -> Result<Option<Checkpoint>, crate::state::StateError> {
    let Some(path) = &plan.state else {
        return Ok(None);
    };
    // An hour's scan must not find out at its first checkpoint.
    let dest = crate::report::atomic::Dest::check(path).map_err(|source| {
        crate::state::StateError::Unwritable {
            path: path.display().to_string(),
            source,
        }
    })?;
    if !matches!(dest, crate::report::atomic::Dest::File(_)) {
        return Err(crate::state::StateError::NotAFile {
            path: path.display().to_string(),
        });
    }
    for out in [&plan.json, &plan.sarif, &plan.jsonl].into_iter().flatten() {
        if out.dest.identity() == dest.identity() {
            return Err(crate::state::StateError::Clash {
                path: path.display().to_string(),
                output: out.to_string(),
            });
        }
    }
    let digest = crate::state::digest(plan, space, files);
    let from = if plan.resume || path.exists() {
        Some(State::load(path, &digest)?)
    } else {
        None
    };
    if let Some(s) = &from {
        space.resume(crate::targets::Resume {
            first: s.in_flight.clone(),
            next: s.next,
        });
    }
    Ok(Some(Checkpoint {
        path: path.clone(),
        digest,
        from,
    }))
}

/// Live counters for the progress bar.
#[derive(Debug, Default)]
pub struct Progress {
    pub sweep: Arc<SweepStats>,
    pub identified: AtomicU64,
    pub findings: AtomicU64,
}

/// Resolve names and build the target space (no packet is sent to targets).
pub async fn build_space(plan: &ScanPlan) -> Result<(TargetSpace, Vec<Notice>), ScanError> {
    let names: Vec<String> = plan
        .targets
        .iter()
        .chain(plan.excludes.iter())
        .filter_map(|s| match &s.hosts {
            Hosts::Name(n) => Some(n.clone()),
            Hosts::Range { .. } => None,
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let (resolved, errors) = resolve_all(&names, plan.probe_timeout).await;
    let notices: Vec<Notice> = errors
        .iter()
        .map(|e| Notice {
            target: e.name.clone(),
            message: format!("not scanned: {}", e.reason),
        })
        .collect();
    let mut input = SpaceInput::default();
    for spec in &plan.targets {
        let ranges = spec_ranges(spec, &resolved);
        if let Hosts::Name(name) = &spec.hosts {
            for &(lo, _) in &ranges {
                input
                    .hostnames
                    .entry(crate::targets::spec::u128_to_ip(lo))
                    .or_insert_with(|| name.clone());
            }
        }
        match spec.port {
            Some(p) => input
                .with_port
                .extend(ranges.into_iter().map(|(lo, hi)| (lo, hi, p))),
            None => input.ranges.extend(ranges),
        }
    }
    for spec in &plan.excludes {
        input.exclude.extend(spec_ranges(spec, &resolved));
    }
    let any_resolvable = plan
        .targets
        .iter()
        .any(|s| matches!(s.hosts, Hosts::Range { .. }) || !spec_ranges(s, &resolved).is_empty());
    if !any_resolvable {
        return Err(ScanError::NothingResolved(errors));
    }
    let space = TargetSpace::build(input, &plan.ports, plan.seed, plan.shard, plan.allow_large)?;
    Ok((space, notices))
}

fn spec_texts(specs: &[Spec]) -> Vec<String> {
    crate::targets::summary::describe(specs)
}

/// What one identification slot hands to the collector.
struct PortResult {
    service: Service,
    findings: Vec<Finding>,
    /// Cut short or never started: reported, but still to identify for a
    /// `--state` checkpoint.
    unfinished: bool,
}

/// Open ports a stopped scan did not finish with.
#[derive(Debug, Default)]
struct Unfinished {
    cut_short: Vec<String>,
    not_identified: Vec<String>,
}

/// A finished scan. A `--jsonl` stream that failed did not stop it: the
/// failure is here (and among the report's notices) for the exit code.
#[derive(Debug)]
pub struct ScanOutcome {
    pub report: ScanReport,
    pub jsonl_failure: Option<ScanError>,
    /// The final `--state` checkpoint could not be written.
    pub state_failure: Option<String>,
}

/// Run a scan to the end (or to `--max-duration`, or Ctrl-C) and return the report.
pub async fn run(
    plan: &ScanPlan,
    space: TargetSpace,
    mut notices: Vec<Notice>,
    catalog: Arc<Catalog>,
    progress: Arc<Progress>,
    stop: Stop,
    mut checkpoint: Option<Checkpoint>,
) -> Result<ScanOutcome, ScanError> {
    let started_at = Instant::now();
    let from = checkpoint.as_mut().and_then(|c| c.from.take());
    // A resumed scan is the same scan: same id and start in every output.
    let (scan_id, started) = match &from {
        Some(s) => (s.scan_id.clone(), s.started.clone()),
        None => (uuid::Uuid::new_v4().to_string(), report::now_rfc3339()),
    };
    if let Some(s) = &from {
        s.counts.restore(&progress.sweep);
    }
    let space = Arc::new(space);

    let concurrency = sweep::raise_fd_limit_and_size_window(plan.concurrency);
    let tracker = checkpoint
        .as_ref()
        .map(|_| Arc::new(Tracker::new(concurrency, from.as_ref())));
    let sweep_cfg = SweepConfig {
        concurrency,
        rate: plan.rate.and_then(std::num::NonZeroU32::new),
        timeout: plan.timeout,
        retries: plan.retries,
        tracker: tracker.clone(),
    };
    let id_cfg = IdentifyConfig {
        timeout: plan.probe_timeout,
    };
    let ctx = CheckContext {
        catalog: Arc::clone(&catalog),
        filter: RuleFilter {
            only: plan.rules.clone(),
            skip: plan.skip_rules.clone(),
        },
        intrusive: plan.intrusive,
        timeout: plan.probe_timeout,
        tls_audit: plan.tls_audit,
        scan_date: time::OffsetDateTime::now_utc().date(),
    };
    if let Some(days) = catalog.advisories.releases.stale_days(ctx.scan_date) {
        notices.push(Notice {
            target: "advisory data".into(),
            message: format!(
                "the advisory and release data was last checked {} ({days} days before this scan): \
                 newer advisories and release lines are unknown to it; update flinkscan or pass \
                 --advisories with current OSV records",
                catalog.advisories.releases.file.checked
            ),
        });
    }

    let mut sink = match &plan.jsonl {
        Some(out) => Some(
            JsonlSink::open(&out.dest, from.is_some()).map_err(|source| output_err(out, source))?,
        ),
        None => None,
    };

    let (open_tx, mut open_rx) = mpsc::channel::<(Endpoint, crate::model::PortDecision)>(1024);
    let (result_tx, mut result_rx) = mpsc::channel::<PortResult>(256);

    // Open ports the checkpoint had not identified go first.
    if let Some(t) = &tracker {
        let pending = t.pending();
        let tx = open_tx.clone();
        tokio::spawn(async move {
            for ep in pending {
                // Found open (answered) by the run that wrote the checkpoint.
                let decided = crate::model::PortDecision {
                    by: crate::model::DecidedBy::Answered,
                    attempts: 1,
                };
                if tx.send((ep, decided)).await.is_err() {
                    break;
                }
            }
        });
    }
    let checkpointer = match (&checkpoint, &tracker) {
        (Some(c), Some(t)) => {
            let (path, t, space, stats) = (
                c.path.clone(),
                Arc::clone(t),
                Arc::clone(&space),
                Arc::clone(&progress.sweep),
            );
            let id = (c.digest.clone(), scan_id.clone(), started.clone());
            Some(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(crate::state::CHECKPOINT_EVERY).await;
                    let state = t.snapshot(&space, &stats, (&id.0, &id.1, &id.2));
                    let (path, t) = (path.clone(), Arc::clone(&t));
                    let saved = tokio::task::spawn_blocking(move || t.save(&state, &path)).await;
                    if let Ok(Err(e)) = saved {
                        tracing::warn!(error = %e, "cannot write the --state checkpoint");
                    }
                }
            }))
        }
        _ => None,
    };

    let sweeper = tokio::spawn(sweep::run(
        Arc::clone(&space),
        sweep_cfg,
        Arc::clone(&progress.sweep),
        open_tx,
        Arc::clone(&stop.flag),
    ));

    // --max-duration ends the sweep early like a signal does, and every
    // report is still written.
    let watchdog = plan.max_duration.map(|max| {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(max).await;
            stop.stop(StopReason::MaxDuration);
        })
    });

    // Identification slots: bounded, each port handled by one task that
    // talks to it strictly sequentially.
    let identifier = {
        let progress = Arc::clone(&progress);
        let slot_count = plan.identify_concurrency;
        let probe_timeout = plan.probe_timeout;
        let stop = stop.clone();
        tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(slot_count));
            let mut tasks = tokio::task::JoinSet::new();
            let in_flight: Arc<std::sync::Mutex<std::collections::BTreeSet<Endpoint>>> =
                Arc::default();
            // Open ports the scan stopped before identifying.
            let mut not_started: Vec<Endpoint> = Vec::new();
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
                let id_cfg = id_cfg.clone();
                let ctx = ctx.clone();
                let result_tx = result_tx.clone();
                let progress = Arc::clone(&progress);
                let in_flight = Arc::clone(&in_flight);
                if let Ok(mut set) = in_flight.lock() {
                    set.insert(endpoint.clone());
                }
                tasks.spawn(async move {
                    tracing::debug!(%endpoint, "identifying");
                    let mut service = identify::identify(endpoint, &id_cfg).await;
                    service.decided = Some(decided);
                    tracing::info!(
                        endpoint = %service.endpoint,
                        kind = %service.kind,
                        version = service.version.as_deref().unwrap_or("-"),
                        confidence = service.confidence,
                        "identified"
                    );
                    let out = checks::run(&service, &ctx).await;
                    for f in &out.findings {
                        tracing::info!(endpoint = %service.endpoint, rule = %f.rule_id, "finding");
                    }
                    for e in &out.errors {
                        tracing::debug!(endpoint = %service.endpoint, error = %e, "check error");
                    }
                    service.tls_profile = out.tls_profile;
                    service.deployment = out.deployment;
                    service.errors.extend(out.errors);
                    progress.identified.fetch_add(1, Ordering::Relaxed);
                    progress
                        .findings
                        .fetch_add(out.findings.len() as u64, Ordering::Relaxed);
                    if let Ok(mut set) = in_flight.lock() {
                        set.remove(&service.endpoint);
                    }
                    let _ = result_tx
                        .send(PortResult {
                            service,
                            findings: out.findings,
                            unfinished: false,
                        })
                        .await;
                    drop(permit);
                });
                // Reap finished tasks so the set stays small on big scans.
                while tasks.try_join_next().is_some() {}
            }
            // Wait for in-flight work, unless the scan is stopped meanwhile.
            let finished = {
                let drain = async { while tasks.join_next().await.is_some() {} };
                tokio::select! {
                    _ = drain => true,
                    _ = stop.stopped() => false,
                }
            };
            if !finished {
                // Stopped: in-flight work gets a bounded grace period (a
                // signal gets longer: the operator waits for the reports),
                // while the open ports the sweep still hands over are kept
                // until it has ended (within one connect timeout).
                let grace = match stop.reason() {
                    Some(StopReason::Signal(_)) => SIGNAL_GRACE,
                    _ => probe_timeout.min(Duration::from_secs(2)),
                };
                let drain = async {
                    if tokio::time::timeout(grace, async {
                        while tasks.join_next().await.is_some() {}
                    })
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
            }
            // Open ports whose identification was cut short, or whose task
            // failed, still count: never lose a port from the report.
            let left: Vec<Endpoint> = in_flight
                .lock()
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default();
            let why = if finished {
                "identification failed with an internal error (a flinkscan bug: please report it)"
            } else {
                "identification cut short by the end of the scan"
            };
            let unfinished = Unfinished {
                cut_short: left.iter().map(Endpoint::authority).collect(),
                not_identified: not_started.iter().map(Endpoint::authority).collect(),
            };
            let not_started = not_started.into_iter().map(|ep| {
                (
                    ep,
                    "open, not identified: the scan stopped before its turn came",
                )
            });
            for (endpoint, why) in left.into_iter().map(|ep| (ep, why)).chain(not_started) {
                let mut service = crate::model::Service::new(endpoint, ServiceKind::Unknown);
                service.errors.push(why.into());
                let _ = result_tx
                    .send(PortResult {
                        service,
                        findings: Vec::new(),
                        unfinished: true,
                    })
                    .await;
            }
            (ctx, unfinished)
        })
    };

    // One collector owns the JSONL sink and everything the reports need.
    let jsonl_format = plan.jsonl_format;
    let collector = {
        let scan_id = scan_id.clone();
        let catalog = Arc::clone(&catalog);
        let tracker = tracker.clone();
        tokio::spawn(async move {
            // A resumed scan starts with the checkpoint's results (their
            // JSONL events were written by the run that found them).
            let (mut services, mut findings) = match &tracker {
                Some(t) => t.results(),
                None => (Vec::new(), Vec::new()),
            };
            while let Some(r) = result_rx.recv().await {
                if let (Some(t), false) = (&tracker, r.unfinished) {
                    t.identified(&r.service, &r.findings);
                }
                if let Some(s) = sink.as_mut() {
                    let events = jsonl_events(
                        Some(&r.service),
                        &r.findings,
                        &catalog,
                        &scan_id,
                        jsonl_format,
                    );
                    s.write_each(events);
                }
                services.push(r.service);
                findings.extend(r.findings);
            }
            (services, findings, sink)
        })
    };

    let _ = sweeper.await;
    let (ctx, unfinished) = match identifier.await {
        Ok((ctx, unfinished)) => (Some(ctx), unfinished),
        Err(_) => (None, Unfinished::default()),
    };
    let (mut services, mut findings, mut sink) = collector
        .await
        .unwrap_or_else(|_| (Vec::new(), Vec::new(), None));
    if let Some(w) = watchdog {
        w.abort();
    }
    if let Some(c) = checkpointer {
        c.abort();
    }
    // The last checkpoint: where a stopped scan resumes. A complete scan's
    // is removed once its outputs are written.
    let mut state_failure = None;
    if let (Some(c), Some(t)) = (&checkpoint, &tracker) {
        let state = t.snapshot(&space, &progress.sweep, (&c.digest, &scan_id, &started));
        if let Err(e) = t.save_last(&state, &c.path) {
            state_failure = Some(format!(
                "cannot write the checkpoint {}: {e}",
                c.path.display()
            ));
        }
    }

    let before = findings.len();
    let seen: Vec<_> = services.iter().map(correlated_view).collect();
    correlate_hosts(&mut services, &mut findings, ctx.as_ref()).await;
    // What only the whole host revealed reaches the stream too: services it
    // changed (a later event with the final state) and findings it made.
    if let Some(s) = sink.as_mut() {
        let changed = services
            .iter()
            .zip(&seen)
            .filter(|(svc, old)| correlated_view(svc) != **old);
        let mut events = Vec::new();
        for (svc, _) in changed {
            events.extend(jsonl_events(
                Some(svc),
                &[],
                &catalog,
                &scan_id,
                jsonl_format,
            ));
        }
        events.extend(jsonl_events(
            None,
            &findings[before..],
            &catalog,
            &scan_id,
            jsonl_format,
        ));
        s.write_each(events);
    }
    // A machine stream that broke is a failed output, not a reason to lose
    // the scan: the other reports still get written and say what happened.
    let mut jsonl_failure = None;
    if let (Some(s), Some(out)) = (sink, &plan.jsonl) {
        let lines = s.lines();
        if let Err(source) = s.finish() {
            let message = match out.dest {
                crate::report::atomic::Dest::File(_) => format!(
                    "writing failed after {lines} events, which the file holds (whole lines); \
                     the rest is missing from it: {source}"
                ),
                _ => format!("stream broke after {lines} events, the rest of it is lost: {source}"),
            };
            notices.push(Notice {
                target: out.to_string(),
                message,
            });
            jsonl_failure = Some(output_err(out, source));
        }
    }
    for s in &services {
        for e in &s.errors {
            notices.push(Notice {
                target: s.endpoint.authority(),
                message: crate::untrusted::clean(e, 300),
            });
        }
    }

    let st = &progress.sweep;
    let status = stop
        .reason()
        .map_or(report::ScanStatus::Complete, StopReason::status);
    let mut report = ScanReport {
        tool: ToolInfo::default(),
        scan: ScanMeta {
            id: scan_id,
            started,
            finished: report::now_rfc3339(),
            duration_ms: started_at.elapsed().as_millis() as u64,
            status,
            targets: spec_texts(&plan.targets),
            excluded: spec_texts(&plan.excludes),
            ports: plan.ports.clone(),
            shard: space.shard().into(),
            seed: plan.seed,
            intrusive: plan.intrusive,
            addresses: space.addresses().to_string(),
            probes_total: space.total(),
            probes_shard: space.len(),
            cut_short: unfinished.cut_short,
            not_identified: unfinished.not_identified,
        },
        stats: Stats {
            probed: st.probed.load(Ordering::Relaxed),
            open: st.open.load(Ordering::Relaxed),
            closed: st.closed.load(Ordering::Relaxed),
            filtered: st.filtered.load(Ordering::Relaxed),
            unreachable: st.unreachable.load(Ordering::Relaxed),
            decided: st.decided(),
            ..Stats::default()
        },
        services,
        findings,
        notices,
        clusters: Vec::new(),
    };
    report.normalise();
    report.build_clusters();
    Ok(ScanOutcome {
        report,
        jsonl_failure,
        state_failure,
    })
}

/// What host correlation may change on a service.
fn correlated_view(s: &Service) -> (u8, Option<String>, bool, Option<String>) {
    (s.confidence, s.version.clone(), s.flink, s.product.clone())
}

/// The `--jsonl` events for one identified service (if any) and its findings.
fn jsonl_events(
    service: Option<&Service>,
    findings: &[Finding],
    catalog: &Catalog,
    scan_id: &str,
    format: jsonl::Format,
) -> Vec<serde_json::Value> {
    match format {
        jsonl::Format::Ecs => {
            let ts = report::now_rfc3339();
            service
                .map(|s| jsonl::service_event(s, scan_id, &ts))
                .into_iter()
                .chain(
                    findings
                        .iter()
                        .map(|f| jsonl::finding_event(f, catalog.rule(&f.rule_id), scan_id, &ts)),
                )
                .collect()
        }
        jsonl::Format::Ocsf => {
            let ms = report::now_unix_ms();
            findings
                .iter()
                .map(|f| report::ocsf::finding_event(f, catalog.rule(&f.rule_id), scan_id, ms))
                .collect()
        }
    }
}

fn output_err(out: &crate::plan::Output, source: std::io::Error) -> ScanError {
    ScanError::Output {
        path: out.to_string(),
        source,
    }
}

/// Host correlation at the end of a scan: a JMX registry, or a port that
/// demands a client certificate, counts as Flink's only on a host where
/// Flink was found (and then gets its findings); then versions and RPC
/// confidence are shared across the host's ports ([`hosts::share_identity`],
/// which `merge` runs again over all shards).
async fn correlate_hosts(
    services: &mut [Service],
    findings: &mut Vec<Finding>,
    ctx: Option<&CheckContext>,
) {
    let flink_hosts: BTreeSet<u128> = services
        .iter()
        .filter(|s| s.flink)
        .map(|s| ip_to_u128(s.endpoint.ip))
        .collect();
    for s in services.iter_mut() {
        if s.flink || !flink_hosts.contains(&ip_to_u128(s.endpoint.ip)) {
            continue;
        }
        // A port that demands a client certificate next to Flink is, in
        // practice, Flink's RPC or BLOB server under internal SSL.
        let mtls_unknown = s.kind == ServiceKind::Unknown
            && s.tls.as_ref().is_some_and(|t| t.client_cert_required);
        if mtls_unknown {
            s.flink = true;
            s.confidence = 50;
            s.product = Some(
                "mutual-TLS port next to Flink (likely RPC or BLOB under internal SSL)".into(),
            );
            if let (Some(ctx), Some(profile)) = (ctx, s.tls_profile.as_ref()) {
                findings.extend(checks::tls_findings(s, profile, ctx));
            }
        }
        if s.kind == ServiceKind::JmxRmi {
            s.flink = true;
            s.product = Some("Java RMI registry (JMX) next to Flink".into());
            if let Some(ctx) = ctx {
                findings.extend(checks::run(s, ctx).await.findings);
            }
        }
    }
    hosts::share_identity(services, findings);
    // Only now do the JMX ports know the version of their host.
    if let Some(ctx) = ctx {
        for s in services
            .iter()
            .filter(|s| s.kind == ServiceKind::JmxRmi && s.flink)
        {
            findings.extend(checks::inferred_version_findings(s, ctx));
        }
    }
}
