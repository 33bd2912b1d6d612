//! `--state` / `--resume`: read the checkpoint a scan continues from, write
//! one every few seconds, and the last one when the scan ends.

use std::sync::Arc;

use crate::plan::ScanPlan;
use crate::state::{ResultLog, State, Tracker};
use crate::sweep::SweepStats;
use crate::targets::TargetSpace;

/// `--state`/`--resume`: where checkpoints go, what they must match, and
/// the one this run continues from.
#[derive(Debug)]
pub struct Checkpoint {
    pub path: std::path::PathBuf,
    pub digest: String,
    pub from: Option<State>,
    /// The results sidecar, until the scan's tracker takes it.
    pub log: Option<ResultLog>,
}

impl Checkpoint {
    /// The tracker of this scan's checkpoints; it takes the sidecar.
    pub fn tracker(&mut self, workers: usize, from: Option<&State>) -> Tracker {
        Tracker::new(workers, from, self.log.take())
    }
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
    // The sidecar is the checkpoint's too: no output may overwrite it.
    let sidecar = crate::state::results_path(path);
    let sidecar_id = crate::report::atomic::Dest::File(sidecar.clone()).identity();
    // Identities see through symbolic links (also dangling ones, to a
    // sidecar not created yet) and hard links, so an alias is refused as
    // the same name is.
    let outputs = [
        &plan.json,
        &plan.sarif,
        &plan.jsonl,
        &plan.html,
        &plan.markdown,
    ];
    for out in outputs.into_iter().flatten() {
        let id = out.dest.identity();
        if id == dest.identity() || id == sidecar_id {
            return Err(crate::state::StateError::Clash {
                path: path.display().to_string(),
                output: out.to_string(),
            });
        }
    }
    let digest = crate::state::digest(plan, space, files);
    let from = if plan.resume || path.exists() {
        let state = State::load(path, &digest)?;
        // The digest says which scan; every entry must be of it too.
        state
            .check(space)
            .map_err(|(field, reason)| crate::state::StateError::Forged {
                path: path.display().to_string(),
                field,
                reason,
            })?;
        Some(state)
    } else {
        None
    };
    let log = match &from {
        Some(s) => ResultLog::resume_checked(path, s, s.record_check(space))?,
        None => ResultLog::create(path)?,
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
        log: Some(log),
    }))
}

/// Write a checkpoint every [`crate::state::CHECKPOINT_EVERY`] until
/// aborted (the scan's end writes the last one itself).
pub fn spawn_writer(
    checkpoint: &Checkpoint,
    tracker: &Arc<Tracker>,
    space: &Arc<TargetSpace>,
    stats: &Arc<SweepStats>,
    scan_id: &str,
    started: &str,
) -> tokio::task::JoinHandle<()> {
    let (path, t, space, stats) = (
        checkpoint.path.clone(),
        Arc::clone(tracker),
        Arc::clone(space),
        Arc::clone(stats),
    );
    let id = (
        checkpoint.digest.clone(),
        scan_id.to_string(),
        started.to_string(),
    );
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(crate::state::CHECKPOINT_EVERY).await;
            let (path, t, space, stats, id) = (
                path.clone(),
                Arc::clone(&t),
                Arc::clone(&space),
                Arc::clone(&stats),
                id.clone(),
            );
            // Blocking: the sidecar is flushed, then fsynced.
            let saved = tokio::task::spawn_blocking(move || {
                let state = t.snapshot(&space, || stats.counts(), (&id.0, &id.1, &id.2))?;
                t.save(&state, &path)
            })
            .await;
            if let Ok(Err(e)) = saved {
                tracing::warn!(error = %e, "cannot write the --state checkpoint");
            }
        }
    })
}

/// The last checkpoint: where a stopped scan resumes. A complete scan's is
/// removed once its outputs are written. An error says why it could not be
/// written.
pub fn write_last(
    checkpoint: &Checkpoint,
    tracker: &Tracker,
    space: &TargetSpace,
    stats: &SweepStats,
    scan_id: &str,
    started: &str,
) -> Result<(), String> {
    tracker
        .snapshot(
            space,
            || stats.counts(),
            (&checkpoint.digest, scan_id, started),
        )
        .and_then(|state| tracker.save_last(&state, &checkpoint.path))
        .map_err(|e| {
            format!(
                "cannot write the checkpoint {}: {e}",
                checkpoint.path.display()
            )
        })
}
