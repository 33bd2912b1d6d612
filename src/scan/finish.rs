//! The end of a scan, after host correlation and its extra checks
//! ([`super::correlate_hosts`]): bring what they changed to the `--jsonl`
//! stream, close the stream, and assemble the report. No network I/O.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::collect::Collected;
use super::identify_pool::Unfinished;
use crate::atomic::Dest;
use crate::checks::catalog::Catalog;
use crate::model::{Notice, Service};
use crate::plan::ScanPlan;
use crate::report::{self, ScanMeta, ScanReport, Stats, ToolInfo};
use crate::sweep::SweepStats;
use crate::targets::summary::describe;
use crate::targets::TargetSpace;

pub struct Finish<'a> {
    pub plan: &'a ScanPlan,
    pub space: &'a TargetSpace,
    pub catalog: &'a Catalog,
    pub stats: &'a SweepStats,
    pub scan_id: String,
    pub started: String,
    pub started_at: Instant,
    pub status: report::ScanStatus,
    /// Endpoints probed because a service named them (`--follow`).
    pub followed: Vec<String>,
}

pub struct Finished {
    pub report: ScanReport,
    pub jsonl_failure: Option<super::ScanError>,
}

/// Run `f`, which may wait (polling) for a slow reader, without holding up
/// the runtime's other tasks (the signal handler must stay responsive).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// The scan stopped on a failed proxy: say so, naming it, and what it
/// left undecided.
fn proxy_notice(why: &str, stats: &SweepStats) -> Notice {
    let undecided = stats.undecided.lock().map(|u| u.len()).unwrap_or(0);
    Notice {
        target: crate::net::proxy().map_or_else(
            || "--proxy".to_string(),
            |p| format!("--proxy {}", p.redacted()),
        ),
        message: format!(
            "{why}; the scan stopped there (status proxy-failed, exit 3): {undecided} probes it \
             answered for are undecided (scan.undecided), open ports it was identifying are cut \
             short, and the rest of the range was not probed; with --state the next run resumes \
             them"
        ),
    }
}

/// What host correlation may change on a service, hashed: a copy of each
/// held service's version and product was the largest part of the finish
/// for a fleet of JobManagers. Two different views with one hash (odds of
/// 2^-64) would only leave out a repeated service event from the stream.
type View = u64;

fn correlated_view(s: &Service) -> View {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (s.confidence, &s.version, s.flink, &s.product).hash(&mut h);
    h.finish()
}

/// The held services and the findings as they were before host
/// correlation, to tell what it changed.
pub struct Before {
    findings: usize,
    views: Vec<View>,
}

impl Before {
    pub fn of(collected: &Collected) -> Before {
        Before {
            findings: collected.findings.len(),
            views: collected
                .services
                .held()
                .iter()
                .map(correlated_view)
                .collect(),
        }
    }
}

impl Finish<'_> {
    pub fn run(
        self,
        collected: Collected,
        before: Before,
        mut notices: Vec<Notice>,
        unfinished: Unfinished,
    ) -> Finished {
        let Collected {
            services: spiller,
            findings,
            notices: service_notices,
            mut sink,
        } = collected;
        notices.extend(service_notices);
        if let Some(why) = crate::net::proxy_failure() {
            notices.push(proxy_notice(&why, self.stats));
        }
        // Only held services can change: spilled ones are settled.
        let Before {
            findings: before,
            views: seen,
        } = before;
        let held = spiller.held();
        // What only the whole host revealed reaches the stream too: services
        // it changed (a later event with the final state) and findings it made.
        if let Some(s) = sink.as_mut() {
            let changed = held
                .iter()
                .zip(&seen)
                .filter(|(svc, old)| correlated_view(svc) != **old);
            let format = self.plan.jsonl_format;
            let mut events = Vec::new();
            for (svc, _) in changed {
                events.extend(report::events::for_results(
                    Some(svc),
                    &[],
                    self.catalog,
                    &self.scan_id,
                    format,
                ));
            }
            events.extend(report::events::for_results(
                None,
                &super::collect::at_least(&findings[before..], self.plan.min_severity),
                self.catalog,
                &self.scan_id,
                format,
            ));
            s.write_each(events);
        }
        // Not needed past here; clusters are built next, the peak of memory.
        drop(seen);
        let mut report = ScanReport {
            tool: ToolInfo::default(),
            scan: self.meta(unfinished),
            stats: self.stats(),
            services: spiller.finish(),
            findings,
            notices,
            clusters: Default::default(),
        };
        report.normalise();
        report.build_clusters();
        // Clusters exist only now: the stream ends with one event each,
        // made one at a time (all of them at once as JSON values were the
        // peak of a scan of many thousand Flink services).
        if let Some(s) = sink.as_mut() {
            if let Err(e) = self.cluster_events(s, &report) {
                report.notices.push(Notice {
                    target: "temporary file".into(),
                    message: format!("clusters could not be read back for the --jsonl stream: {e}"),
                });
                report.normalise();
            }
        }
        // A machine stream that broke is a failed output, not a reason to
        // lose the scan: the other reports still get written and say what
        // happened.
        let mut jsonl_failure = None;
        if let (Some(s), Some(out)) = (sink, &self.plan.jsonl) {
            // Waits for a FIFO's reader only while it keeps reading.
            let (lines, finished) = blocking(|| s.finish());
            if let Err(source) = finished {
                let message = match out.dest {
                    Dest::File(_) => format!(
                        "writing failed after {lines} events, which the file holds (whole lines); \
                         the rest is missing from it: {source}"
                    ),
                    _ => format!(
                        "stream broke after {lines} events, the rest of it is lost: {source}"
                    ),
                };
                report.notices.push(Notice {
                    target: out.to_string(),
                    message,
                });
                report.normalise();
                jsonl_failure = Some(super::output_err(out, source));
            }
        }
        Finished {
            report,
            jsonl_failure,
        }
    }

    /// One event per cluster, as the other outputs will show it
    /// (`--min-severity`).
    fn cluster_events(
        &self,
        s: &mut crate::report::jsonl::JsonlSink,
        report: &ScanReport,
    ) -> std::io::Result<()> {
        // As the other outputs will show them (`keep_at_least`).
        let kept: Option<std::collections::BTreeSet<String>> = self.plan.min_severity.map(|min| {
            report
                .findings
                .iter()
                .filter(|f| f.severity >= min)
                .map(crate::model::Finding::id)
                .collect()
        });
        for c in report.clusters.iter() {
            let c = c?;
            let c = c.as_ref();
            let trimmed;
            let c = match &kept {
                Some(kept) => {
                    let mut t = c.clone();
                    t.keep_findings(kept);
                    trimmed = t;
                    &trimmed
                }
                None => c,
            };
            s.write_each(report::events::for_clusters(
                std::slice::from_ref(c),
                &self.scan_id,
                self.plan.jsonl_format,
            ));
        }
        Ok(())
    }

    fn meta(&self, unfinished: Unfinished) -> ScanMeta {
        let plan = self.plan;
        ScanMeta {
            id: self.scan_id.clone(),
            started: self.started.clone(),
            finished: report::now_rfc3339(),
            duration_ms: self.started_at.elapsed().as_millis() as u64,
            status: self.status,
            targets: describe(&plan.targets),
            excluded: describe(&plan.excludes),
            ports: plan.ports.clone(),
            shard: self.space.shard().into(),
            seed: plan.seed,
            intrusive: plan.intrusive,
            addresses: self.space.addresses().to_string(),
            probes_total: self.space.total(),
            probes_shard: self.space.len(),
            cut_short: unfinished.cut_short,
            not_identified: unfinished.not_identified,
            undecided: self
                .stats
                .undecided
                .lock()
                .map(|u| u.clone())
                .unwrap_or_default(),
            min_severity: None,
            followed: self.followed.clone(),
        }
    }

    fn stats(&self) -> Stats {
        let st = self.stats;
        Stats {
            probed: st.probed.load(Ordering::Relaxed),
            open: st.open.load(Ordering::Relaxed),
            closed: st.closed.load(Ordering::Relaxed),
            filtered: st.filtered.load(Ordering::Relaxed),
            unreachable: st.unreachable.load(Ordering::Relaxed),
            decided: st.decided(),
            ..Stats::default()
        }
    }
}
