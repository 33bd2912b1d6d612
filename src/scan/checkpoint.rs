//! `--state` / `--resume`: read the checkpoint a scan continues from, write
//! one every few seconds, and the last one when the scan ends.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::plan::ScanPlan;
use crate::report::ScanStatus;
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
    /// `--state` found a checkpoint of another scan and moved it aside:
    /// what to tell the user (this scan started afresh).
    pub set_aside: Option<String>,
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
    let dest = crate::atomic::Dest::check(path).map_err(|source| {
        crate::state::StateError::Unwritable {
            path: path.display().to_string(),
            source,
        }
    })?;
    if !matches!(dest, crate::atomic::Dest::File(_)) {
        return Err(crate::state::StateError::NotAFile {
            path: path.display().to_string(),
        });
    }
    // The sidecar is the checkpoint's too: no output may overwrite it.
    let sidecar = crate::state::results_path(path);
    let sidecar_id = crate::atomic::Dest::File(sidecar.clone()).identity();
    // Identities see through symbolic links (also dangling ones, to a
    // sidecar not created yet) and hard links, so an alias is refused as
    // the same name is.
    for out in plan.outputs() {
        let id = out.dest.identity();
        if id == dest.identity() || id == sidecar_id {
            return Err(crate::state::StateError::Clash {
                path: path.display().to_string(),
                output: out.to_string(),
            });
        }
    }
    let digest = digest(plan, space, files);
    let mut set_aside = None;
    let from = if plan.resume || path.exists() {
        match State::load(path, &digest) {
            // `--state` is for runs that come back by themselves (cron): a
            // changed targets file must not block every later run. The old
            // checkpoint is kept, resumable with its own command line.
            // `--resume` names one scan to continue and still refuses.
            Err(
                crate::state::StateError::Mismatch { .. }
                | crate::state::StateError::OtherVersion { .. },
            ) if !plan.resume => {
                set_aside = Some(move_aside(path)?);
                None
            }
            loaded => {
                let state = loaded?;
                // The digest says which scan; every entry must be of it too.
                let scope = super::follow::Scope {
                    space: std::sync::Arc::new(space.clone()),
                };
                state
                    .check(space)
                    .and_then(|()| {
                        super::follow::check_checkpoint(&state.followed, &scope, plan.follow)
                    })
                    .map_err(|reason| crate::state::StateError::Forged {
                        path: path.display().to_string(),
                        reason,
                    })?;
                Some(state)
            }
        }
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
        set_aside,
    }))
}

/// The suffix a checkpoint of another scan is moved aside with.
pub const ASIDE_SUFFIX: &str = ".previous";

/// Rename the checkpoint `path` (and its results) to `path.previous`
/// (replacing an older one there); the message says where it went.
fn move_aside(path: &std::path::Path) -> Result<String, crate::state::StateError> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(ASIDE_SUFFIX);
    let aside = std::path::PathBuf::from(aside);
    let moved = |from: &std::path::Path, to: &std::path::Path| {
        std::fs::rename(from, to).map_err(|source| crate::state::StateError::SetAside {
            path: from.display().to_string(),
            to: to.display().to_string(),
            source,
        })
    };
    let sidecar = crate::state::results_path(path);
    let aside_sidecar = crate::state::results_path(&aside);
    // The old results first: a checkpoint never lands beside foreign ones.
    match std::fs::symlink_metadata(&sidecar) {
        Ok(_) => moved(&sidecar, &aside_sidecar)?,
        Err(_) => {
            let _ = std::fs::remove_file(&aside_sidecar);
        }
    }
    moved(path, &aside)?;
    let shown = |p: &std::path::Path| crate::untrusted::shown(&p.display().to_string());
    Ok(format!(
        "{} held a checkpoint of a different scan (other targets, ports or options); it was \
         moved to {} (continue it with --resume {} and its original command line) and this \
         scan starts afresh",
        shown(path),
        shown(&aside),
        shown(&aside)
    ))
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

/// A checkpoint file that could not be written or removed.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("cannot write the checkpoint {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot remove the finished checkpoint {}: {source}", .path.display())]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The last checkpoint: where a stopped scan resumes. A complete scan's is
/// removed once its outputs are written ([`retire`]). An error says why it
/// could not be written.
pub fn write_last(
    checkpoint: &Checkpoint,
    tracker: &Tracker,
    space: &TargetSpace,
    stats: &SweepStats,
    scan_id: &str,
    started: &str,
) -> Result<(), CheckpointError> {
    tracker
        .snapshot(
            space,
            || stats.counts(),
            (&checkpoint.digest, scan_id, started),
        )
        .and_then(|state| tracker.save_last(&state, &checkpoint.path))
        .map_err(|source| CheckpointError::Write {
            path: checkpoint.path.clone(),
            source,
        })
}

/// After the outputs are written: a complete scan's checkpoint is removed,
/// so the next run with this `--state` starts afresh (`Ok(true)`); a
/// stopped scan's is kept for `--resume` (`Ok(false)`).
pub fn retire(path: &Path, status: ScanStatus) -> Result<bool, CheckpointError> {
    if status != ScanStatus::Complete {
        return Ok(false);
    }
    // The checkpoint goes first: one left without its results would be
    // refused on resume.
    let sidecar = crate::state::results_path(path);
    for p in [path, sidecar.as_path()] {
        match std::fs::remove_file(p) {
            Err(e) if p == sidecar.as_path() && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(CheckpointError::Remove {
                    path: p.to_path_buf(),
                    source,
                })
            }
            Ok(()) => {}
        }
    }
    Ok(true)
}

/// The digest of what defines a scan's probes: the plan's target, port
/// and probe options, the resolved space, the probe and advisory files.
pub fn digest(plan: &ScanPlan, space: &TargetSpace, files: &[Option<&Path>]) -> String {
    let mut h = Sha256::new();
    let texts = |specs: &[crate::targets::Spec]| {
        specs
            .iter()
            .map(|s| s.text.clone())
            .collect::<Vec<_>>()
            .join(" ")
    };
    h.update(format!(
        "flinkscan {}\ntargets {}\nexclude {}\nports {:?}\nseed {}\nshard {}\n\
         timeout {:?}\nretries {:?}\nprobe-timeout {:?}\nintrusive {}\ntls-audit {}\n\
         rules {:?}\nskip-rules {:?}\nfollow {}\nspace {}\n",
        env!("CARGO_PKG_VERSION"),
        texts(&plan.targets),
        texts(&plan.excludes),
        plan.ports,
        plan.seed,
        plan.shard,
        plan.timeout,
        plan.retries,
        plan.probe_timeout,
        plan.intrusive,
        plan.tls_audit,
        plan.rules,
        plan.skip_rules,
        plan.follow,
        space.fingerprint(),
    ));
    for f in files {
        match f {
            Some(p) => hash_path(&mut h, p, 0),
            None => h.update(b"none\n"),
        }
    }
    hex::encode(h.finalize())
}

/// Names and contents of a file or a directory tree, in name order (a
/// symlink loop ends at a fixed depth).
fn hash_path(h: &mut Sha256, path: &Path, depth: u32) {
    h.update(format!("path {}\n", path.display()));
    if path.is_dir() && depth < 8 {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        entries.sort();
        for e in entries {
            hash_path(h, &e, depth + 1);
        }
    } else if !path.metadata().is_ok_and(|m| m.is_file()) {
        // Never opened: a FIFO blocks, a device never ends (the loaders
        // refuse the ones they would read).
        h.update(b"not a regular file\n");
    } else {
        match std::fs::read(path) {
            Ok(bytes) => h.update(&bytes),
            Err(e) => h.update(format!("unreadable {e}\n")),
        }
    }
}
