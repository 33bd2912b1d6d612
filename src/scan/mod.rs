//! The pipeline: targets -> sweep -> identify -> checks -> report.
//!
//! [`run`] wires the stages: the sweep ([`crate::sweep`]) feeds open ports
//! into a bounded channel; the identification pool ([`identify_pool`]) takes
//! them, runs the checks and hands results to one collector ([`collect`])
//! that streams JSON Lines and keeps what the final reports need, spilling
//! settled services to disk; host correlation ([`crate::hosts`]) says which
//! services next to Flink need more checks, the check stage runs them, and
//! [`finish`] assembles the report without sending anything. [`stop`] and
//! [`checkpoint`] run beside them (and [`checkpoint::retire`] ends a
//! finished scan's checkpoint); [`outputs`] writes what the plan names.
//! Memory grows with the Flink services found, never with the size of the
//! range.

pub mod checkpoint;
pub mod collect;
pub mod finish;
pub mod follow;
pub mod identify_pool;
pub mod outputs;
pub mod progress_text;
pub mod stop;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::checks::{self, catalog::Catalog, CheckContext, RuleFilter};
use crate::hosts;
use crate::identify::IdentifyConfig;
use crate::model::{DecidedBy, Endpoint, Notice, PortDecision};
use crate::plan::ScanPlan;
use crate::report::jsonl::JsonlSink;
use crate::report::{self, ScanReport};
use crate::state::Tracker;
use crate::sweep::{self, SweepConfig, SweepStats};
use crate::targets::resolve::resolve_all;
use crate::targets::{assemble, TargetError, TargetSpace};

pub use checkpoint::{prepare_checkpoint, Checkpoint};
pub use stop::{listen_for_signals, Stop, StopReason, SIGNAL_GRACE};

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

/// Resolve names (unless a socks5h:// proxy does) and build the target
/// space (no packet is sent to targets).
pub async fn build_space(plan: &ScanPlan) -> Result<(TargetSpace, Vec<Notice>), ScanError> {
    let names = assemble::Names::of(plan.proxy.as_ref());
    let to_resolve = assemble::names_to_resolve(&plan.targets, &plan.excludes, names);
    let (resolved, errors) = resolve_all(&to_resolve, plan.dns_timeout).await;
    let (input, notices) =
        assemble::assemble(&plan.targets, &plan.excludes, &resolved, &errors, names).map_err(
            |e| match e {
                assemble::AssembleError::Targets(t) => ScanError::Targets(t),
                assemble::AssembleError::NothingResolved(e) => ScanError::NothingResolved(e),
            },
        )?;
    let space = TargetSpace::build(input, &plan.ports, plan.seed, plan.shard, plan.allow_large)?;
    Ok((space, notices))
}

/// A finished scan. A `--jsonl` stream that failed did not stop it: the
/// failure is here (and among the report's notices) for the exit code.
#[derive(Debug)]
pub struct ScanOutcome {
    pub report: ScanReport,
    pub jsonl_failure: Option<ScanError>,
    /// The final `--state` checkpoint could not be written.
    pub state_failure: Option<checkpoint::CheckpointError>,
}

/// Run a scan to the end (or to `--max-duration`, or Ctrl-C) and return the report.
/// How the scan ended: stopped (and why), its proxy failed, or complete.
fn final_status(stop: &Stop) -> report::ScanStatus {
    match (stop.reason(), crate::net::proxy_failure()) {
        (Some(why), _) => why.status(),
        // Failed as the scan ended, before the watch could stop it.
        (None, Some(_)) => report::ScanStatus::ProxyFailed,
        (None, None) => report::ScanStatus::Complete,
    }
}

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
    let (scan_id, started) = from.as_ref().map_or_else(
        || (uuid::Uuid::new_v4().to_string(), report::now_rfc3339()),
        |s| (s.scan_id.clone(), s.started.clone()),
    );
    if let Some(s) = &from {
        progress.sweep.restore(&s.counts);
    }
    let space = Arc::new(space);

    let concurrency = sweep::raise_fd_limit_and_size_window(plan.concurrency);
    let tracker = checkpoint
        .as_mut()
        .map(|c| Arc::new(c.tracker(concurrency, from.as_ref())));
    let ctx = check_context(plan, &catalog);
    notices.extend(stale_data_notice(&catalog, &ctx));
    let sink = open_sink(plan, from.is_some())?;

    let (open_tx, open_rx) = mpsc::channel::<(Endpoint, PortDecision)>(1024);
    let (result_tx, result_rx) = mpsc::channel(256);
    if let Some(t) = &tracker {
        requeue_pending(t, open_tx.clone());
    }
    let checkpointer = match (&checkpoint, &tracker) {
        (Some(c), Some(t)) => Some(checkpoint::spawn_writer(
            c,
            t,
            &space,
            &progress.sweep,
            &scan_id,
            &started,
        )),
        _ => None,
    };
    let sweeper = tokio::spawn(sweep::run(
        Arc::clone(&space),
        sweep_config(plan, concurrency, tracker.clone()),
        Arc::clone(&progress.sweep),
        open_tx,
        stop.flag(),
    ));
    let watchdog = stop::watchdog(plan.max_duration, &stop);
    let proxy_watch = watch_proxy(plan, &stop);
    let followed: follow::Followed = Arc::default();
    let (identifier, follower) = spawn_identification(
        plan,
        &space,
        &ctx,
        &progress,
        &stop,
        (&followed, tracker.as_ref()),
        open_rx,
        result_tx,
    );
    let collector = tokio::spawn(
        collect::Collector {
            sink,
            tracker: tracker.clone(),
            catalog: Arc::clone(&catalog),
            scan_id: scan_id.clone(),
            format: plan.jsonl_format,
            spill: true,
            min_severity: plan.min_severity,
        }
        .run(result_rx),
    );

    let _ = sweeper.await;
    let mut unfinished = identifier.await.unwrap_or_default();
    if let Some(follower) = follower {
        notices.extend(follower.join(&mut unfinished).await);
    }
    let followed: Vec<String> = followed
        .lock()
        .map(|set| set.iter().map(Endpoint::authority).collect())
        .unwrap_or_default();
    let mut collected = collector
        .await
        .unwrap_or_else(|_| collect::Collected::empty());
    for task in [watchdog, checkpointer, proxy_watch].into_iter().flatten() {
        task.abort();
    }
    let state_failure = match (&checkpoint, &tracker) {
        (Some(c), Some(t)) => {
            checkpoint::write_last(c, t, &space, &progress.sweep, &scan_id, &started).err()
        }
        _ => None,
    };
    let before = correlate_hosts(&mut collected, &ctx).await;
    let finished = finish::Finish {
        plan,
        space: &space,
        catalog: &catalog,
        stats: &progress.sweep,
        scan_id,
        started,
        started_at,
        status: final_status(&stop),
        followed,
    }
    .run(collected, before, notices, unfinished);
    Ok(ScanOutcome {
        report: finished.report,
        jsonl_failure: finished.jsonl_failure,
        state_failure,
    })
}

/// The identification pool and, with `--follow`, the prober of what
/// identified services name with its own pool.
#[allow(clippy::too_many_arguments)]
fn spawn_identification(
    plan: &ScanPlan,
    space: &Arc<TargetSpace>,
    ctx: &CheckContext,
    progress: &Arc<Progress>,
    stop: &Stop,
    (followed, tracker): (&follow::Followed, Option<&Arc<Tracker>>),
    open_rx: mpsc::Receiver<(Endpoint, PortDecision)>,
    result_tx: mpsc::Sender<identify_pool::PortResult>,
) -> (
    tokio::task::JoinHandle<identify_pool::Unfinished>,
    Option<Follower>,
) {
    let pool = |named| identify_pool::Pool {
        slots: plan.identify_concurrency,
        id_cfg: IdentifyConfig {
            timeout: plan.probe_timeout,
            discover_prefixes: plan.discover_prefixes,
        },
        ctx: ctx.clone(),
        progress: Arc::clone(progress),
        stop: stop.clone(),
        named,
    };
    let (hand, follower) = if plan.follow {
        let (hand, follower) = spawn_follow(
            plan,
            space,
            (followed, tracker),
            stop,
            pool(None),
            result_tx.clone(),
        );
        (Some(hand), Some(follower))
    } else {
        (None, None)
    };
    let identifier = tokio::spawn(pool(hand).run(open_rx, result_tx));
    (identifier, follower)
}

/// A proxy that fails after the start check stops the scan: what it
/// answers from then on says nothing about the targets.
fn watch_proxy(plan: &ScanPlan, stop: &Stop) -> Option<tokio::task::JoinHandle<()>> {
    plan.proxy.as_ref().map(|_| {
        let stop = stop.clone();
        tokio::spawn(async move {
            crate::net::proxy_failed().await;
            stop.stop(StopReason::ProxyFailed);
        })
    })
}

fn sweep_config(plan: &ScanPlan, concurrency: usize, tracker: Option<Arc<Tracker>>) -> SweepConfig {
    SweepConfig {
        concurrency,
        rate: plan.rate.and_then(std::num::NonZeroU32::new),
        timeout: plan.timeout,
        retries: plan.retries,
        tracker,
    }
}

/// `--follow`: the prober of what identified services name and the second
/// identification pool that identifies what it finds open.
struct Follower {
    book: Arc<follow::Book>,
    prober: tokio::task::JoinHandle<()>,
    identifier: tokio::task::JoinHandle<identify_pool::Unfinished>,
}

impl Follower {
    /// Wait for both; what the second pool left unfinished counts too.
    /// Returns the notices of budgets that were used up.
    async fn join(self, unfinished: &mut identify_pool::Unfinished) -> Vec<Notice> {
        let _ = self.prober.await;
        let more = self.identifier.await.unwrap_or_default();
        unfinished.cut_short.extend(more.cut_short);
        unfinished.not_identified.extend(more.not_identified);
        self.book.notices()
    }
}

/// What identified services name is probed (inside the targets only) and
/// identified by a second pool, which names nothing. Returns where the
/// first pool hands what services name.
///
/// A resumed scan takes up the checkpoint's followed endpoints first:
/// queued ones are probed, open ones identified.
fn spawn_follow(
    plan: &ScanPlan,
    space: &Arc<TargetSpace>,
    (followed, tracker): (&follow::Followed, Option<&Arc<Tracker>>),
    stop: &Stop,
    second: identify_pool::Pool,
    result_tx: mpsc::Sender<identify_pool::PortResult>,
) -> (follow::Hand, Follower) {
    let (named_tx, named_rx) = mpsc::channel(256);
    let (followed_tx, followed_rx) = mpsc::channel::<(Endpoint, PortDecision)>(256);
    let book = Arc::new(follow::Book::new(
        follow::Scope {
            space: Arc::clone(space),
        },
        tracker.cloned(),
    ));
    if let Some(t) = tracker {
        let restored = book.restore(&t.followed());
        if let Ok(mut set) = followed.lock() {
            set.extend(restored.probed);
        }
        let (named_tx, followed_tx) = (named_tx.clone(), followed_tx.clone());
        tokio::spawn(async move {
            if !restored.queued.is_empty() {
                let _ = named_tx.send(restored.queued).await;
            }
            for ep in restored.open {
                let decided = PortDecision {
                    by: DecidedBy::Answered,
                    attempts: 1,
                };
                if followed_tx.send((ep, decided)).await.is_err() {
                    break;
                }
            }
        });
    }
    let prober = tokio::spawn(follow::run(
        follow::FollowConfig {
            timeout: plan.timeout,
            retries: plan.retries,
            rate: plan.rate.and_then(std::num::NonZeroU32::new),
        },
        Arc::clone(&book),
        named_rx,
        followed_tx,
        Arc::clone(followed),
        stop.clone(),
    ));
    let identifier = tokio::spawn(second.run(followed_rx, result_tx));
    let hand = follow::Hand {
        book: Arc::clone(&book),
        tx: named_tx,
    };
    (
        hand,
        Follower {
            book,
            prober,
            identifier,
        },
    )
}

/// The `--jsonl` stream, appended to on a resume.
fn open_sink(plan: &ScanPlan, resumed: bool) -> Result<Option<JsonlSink>, ScanError> {
    match &plan.jsonl {
        Some(out) => Ok(Some(
            JsonlSink::open(&out.dest, resumed).map_err(|source| output_err(out, source))?,
        )),
        None => Ok(None),
    }
}

/// Host correlation ([`hosts::adopt`]) and the checks it asks for, run by
/// the check stage ([`checks::run_extra`]), before the finish, which sends
/// nothing. Returns what the services were before, for the stream.
async fn correlate_hosts(collected: &mut collect::Collected, ctx: &CheckContext) -> finish::Before {
    let before = finish::Before::of(collected);
    let held = collected.services.held_mut();
    let wanted = hosts::adopt(held);
    let extra = checks::run_extra(held, &wanted, ctx).await;
    collected.findings.extend(extra);
    hosts::conclude(collected.services.held_mut(), &mut collected.findings, ctx);
    before
}

/// What the checks of this scan may do.
fn check_context(plan: &ScanPlan, catalog: &Arc<Catalog>) -> CheckContext {
    CheckContext {
        catalog: Arc::clone(catalog),
        filter: RuleFilter {
            only: plan.rules.clone(),
            skip: plan.skip_rules.clone(),
        },
        intrusive: plan.intrusive,
        timeout: plan.probe_timeout,
        tls_audit: plan.tls_audit,
        scan_date: time::OffsetDateTime::now_utc().date(),
    }
}

fn stale_data_notice(catalog: &Catalog, ctx: &CheckContext) -> Option<Notice> {
    let days = catalog.advisories.releases.stale_days(ctx.scan_date)?;
    Some(Notice {
        target: "advisory data".into(),
        message: format!(
            "the advisory and release data was last checked {} ({days} days before this scan): \
             newer advisories and release lines are unknown to it; update flinkscan or pass \
             --advisories with current OSV records",
            catalog.advisories.releases.file.checked
        ),
    })
}

/// Open ports the checkpoint had not identified go first.
fn requeue_pending(tracker: &Tracker, tx: mpsc::Sender<(Endpoint, PortDecision)>) {
    let pending = tracker.pending();
    tokio::spawn(async move {
        for ep in pending {
            // Found open (answered) by the run that wrote the checkpoint.
            let decided = PortDecision {
                by: DecidedBy::Answered,
                attempts: 1,
            };
            if tx.send((ep, decided)).await.is_err() {
                break;
            }
        }
    });
}

fn output_err(out: &crate::plan::Output, source: std::io::Error) -> ScanError {
    ScanError::Output {
        path: out.to_string(),
        source,
    }
}
