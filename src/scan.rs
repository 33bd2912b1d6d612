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
}

/// A finished scan. A `--jsonl` stream that failed did not stop it: the
/// failure is here (and among the report's notices) for the exit code.
#[derive(Debug)]
pub struct ScanOutcome {
    pub report: ScanReport,
    pub jsonl_failure: Option<ScanError>,
}

/// Run a scan to the end (or to `--max-duration`, or Ctrl-C) and return the report.
pub async fn run(
    plan: &ScanPlan,
    space: TargetSpace,
    mut notices: Vec<Notice>,
    catalog: Arc<Catalog>,
    progress: Arc<Progress>,
) -> Result<ScanOutcome, ScanError> {
    let started_at = Instant::now();
    let started = report::now_rfc3339();
    let scan_id = uuid::Uuid::new_v4().to_string();
    let space = Arc::new(space);
    let stop = Arc::new(AtomicBool::new(false));

    let concurrency = sweep::raise_fd_limit_and_size_window(plan.concurrency);
    let sweep_cfg = SweepConfig {
        concurrency,
        rate: plan.rate.and_then(std::num::NonZeroU32::new),
        timeout: plan.timeout,
        retries: plan.retries,
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
        Some(out) => Some(JsonlSink::open(&out.dest).map_err(|source| output_err(out, source))?),
        None => None,
    };

    let (open_tx, mut open_rx) = mpsc::channel::<Endpoint>(1024);
    let (result_tx, mut result_rx) = mpsc::channel::<PortResult>(256);

    let sweeper = tokio::spawn(sweep::run(
        Arc::clone(&space),
        sweep_cfg,
        Arc::clone(&progress.sweep),
        open_tx,
        Arc::clone(&stop),
    ));

    // Stop conditions: --max-duration and Ctrl-C both end the sweep early
    // and still write every report.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let status = Arc::new(std::sync::Mutex::new("complete"));
    let watchdog = {
        let stop = Arc::clone(&stop);
        let status = Arc::clone(&status);
        let max = plan.max_duration;
        tokio::spawn(async move {
            let deadline = async {
                match max {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            let why = tokio::select! {
                _ = deadline => "max-duration",
                _ = tokio::signal::ctrl_c() => "interrupted",
            };
            if let Ok(mut s) = status.lock() {
                *s = why;
            }
            stop.store(true, Ordering::Relaxed);
            let _ = stop_tx.send(true);
        })
    };

    // Identification slots: bounded, each port handled by one task that
    // talks to it strictly sequentially.
    // After --max-duration or Ctrl-C, in-flight identification gets this
    // long to finish; what is still running then is reported as cut short.
    let grace = plan.probe_timeout.min(Duration::from_secs(2));
    let identifier = {
        let progress = Arc::clone(&progress);
        let slot_count = plan.identify_concurrency;
        let mut stop_rx = stop_rx.clone();
        tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(slot_count));
            let mut tasks = tokio::task::JoinSet::new();
            let in_flight: Arc<std::sync::Mutex<std::collections::BTreeSet<Endpoint>>> =
                Arc::default();
            loop {
                let endpoint = tokio::select! {
                    ep = open_rx.recv() => match ep { Some(ep) => ep, None => break },
                    _ = stop_rx.wait_for(|s| *s) => break,
                };
                let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                    break;
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
                    _ = stop_rx.wait_for(|s| *s) => false,
                }
            };
            if !finished {
                // Stopped: in-flight work gets a bounded grace period.
                let drain = async { while tasks.join_next().await.is_some() {} };
                if tokio::time::timeout(grace, drain).await.is_err() {
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                }
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
            for endpoint in left {
                let mut service = crate::model::Service::new(endpoint, ServiceKind::Unknown);
                service.errors.push(why.into());
                let _ = result_tx
                    .send(PortResult {
                        service,
                        findings: Vec::new(),
                    })
                    .await;
            }
            ctx
        })
    };

    // One collector owns the JSONL sink and everything the reports need.
    let jsonl_format = plan.jsonl_format;
    let collector = {
        let scan_id = scan_id.clone();
        let catalog = Arc::clone(&catalog);
        tokio::spawn(async move {
            let mut services: Vec<Service> = Vec::new();
            let mut findings: Vec<Finding> = Vec::new();
            while let Some(r) = result_rx.recv().await {
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
    let ctx = identifier.await.ok();
    let (mut services, mut findings, mut sink) = collector
        .await
        .unwrap_or_else(|_| (Vec::new(), Vec::new(), None));
    watchdog.abort();

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
                crate::report::atomic::Dest::File(_) => {
                    format!("output failed, the file was not written: {source}")
                }
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
    let status = status.lock().map(|s| *s).unwrap_or("complete");
    let mut report = ScanReport {
        tool: ToolInfo::default(),
        scan: ScanMeta {
            id: scan_id,
            started,
            finished: report::now_rfc3339(),
            duration_ms: started_at.elapsed().as_millis() as u64,
            status: status.to_string(),
            targets: spec_texts(&plan.targets),
            excluded: spec_texts(&plan.excludes),
            ports: plan.ports.clone(),
            shard: space.shard().to_string(),
            seed: plan.seed,
            intrusive: plan.intrusive,
            addresses: space.addresses().to_string(),
            probes_total: space.total(),
            probes_shard: space.len(),
        },
        stats: Stats {
            probed: st.probed.load(Ordering::Relaxed),
            open: st.open.load(Ordering::Relaxed),
            closed: st.closed.load(Ordering::Relaxed),
            filtered: st.filtered.load(Ordering::Relaxed),
            unreachable: st.unreachable.load(Ordering::Relaxed),
            ..Stats::default()
        },
        services,
        findings,
        notices,
    };
    report.normalise();
    Ok(ScanOutcome {
        report,
        jsonl_failure,
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
