//! `--state FILE`: checkpoints that let a scan killed by SIGKILL, a
//! reboot or an evicted pod continue where it was (`--resume FILE`).
//!
//! A checkpoint holds a digest of everything that decides which probes are
//! sent and what they do, the position in the permuted sweep (the shard
//! positions claimed so far and those of them not finished), the sweep
//! counters, the open ports not yet identified and the results so far. It
//! grows with results, never with the range: positions below `next` that
//! are not in flight are done. A resumed sweep probes the ones in flight
//! again first (at most the in-flight window), then continues at `next`.
//!
//! Consistency: the sweep claims a position and, after its probe, counts
//! it, records an open port and releases the position inside short
//! sections that share a lock with the checkpoint, so a checkpoint never
//! sees a probe counted and still in flight, or claimed and in neither.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{Endpoint, Finding, Service};
use crate::plan::ScanPlan;
use crate::targets::TargetSpace;

/// How often a running scan checkpoints.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(3);

const FORMAT: &str = "flinkscan-state";
const VERSION: u32 = 1;
const IDLE: u64 = u64::MAX;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    #[error("--resume {path}: cannot read it: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("--state {path}: {source}")]
    Unwritable {
        path: String,
        #[source]
        source: crate::report::atomic::DestError,
    },
    #[error(
        "--state {path}: must be a regular file (it is replaced atomically at each checkpoint)"
    )]
    NotAFile { path: String },
    #[error("--state {path} and {output} name the same file; give the checkpoint its own")]
    Clash { path: String, output: String },
    #[error("{path} is not a flinkscan --state checkpoint (or one of another version): {reason}")]
    Invalid { path: String, reason: String },
    #[error(
        "{path} holds a checkpoint of a different scan: the targets (or what their names resolve \
         to), exclusions, ports, seed, shard, probe options, probe files or advisories differ from \
         this command line. Resume with the original command line, or delete {path} to start over"
    )]
    Mismatch { path: String },
}

/// Sweep counters as saved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub probed: u64,
    pub open: u64,
    pub closed: u64,
    pub filtered: u64,
    pub unreachable: u64,
}

/// One checkpoint, as written to the state file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub format: String,
    pub version: u32,
    pub digest: String,
    pub scan_id: String,
    pub started: String,
    /// Every shard position below this was started.
    pub next: u64,
    /// Positions started (or due first on a resume) but not finished.
    pub in_flight: Vec<u64>,
    pub counts: Counts,
    /// Open ports found whose identification has not finished.
    pub pending: Vec<Endpoint>,
    pub services: Vec<Service>,
    pub findings: Vec<Finding>,
}

impl State {
    /// Read a checkpoint and check that it belongs to this scan.
    pub fn load(path: &Path, digest: &str) -> Result<State, StateError> {
        let shown = path.display().to_string();
        let bytes = crate::report::atomic::read_capped(path, 1 << 30).map_err(|source| {
            StateError::Read {
                path: shown.clone(),
                source,
            }
        })?;
        let state: State = serde_json::from_slice(&bytes).map_err(|e| StateError::Invalid {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        if state.format != FORMAT || state.version != VERSION {
            return Err(StateError::Invalid {
                path: shown,
                reason: format!("format {} version {}", state.format, state.version),
            });
        }
        if state.digest != digest {
            return Err(StateError::Mismatch { path: shown });
        }
        Ok(state)
    }

    /// Write atomically (temporary file, fsync, rename): a kill leaves the
    /// previous checkpoint or this one.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        let mut f = crate::report::atomic::AtomicFile::create(path)?;
        std::io::Write::write_all(&mut f, &bytes)?;
        f.commit()
    }
}

fn poisoned() -> std::io::Error {
    std::io::Error::other("a checkpoint write panicked")
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
         rules {:?}\nskip-rules {:?}\nspace {}\n",
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
    } else {
        match std::fs::read(path) {
            Ok(bytes) => h.update(&bytes),
            Err(e) => h.update(format!("unreadable {e}\n")),
        }
    }
}

/// What a checkpoint is taken from while the scan runs: the sweep's
/// positions and counters, and the results the collector has.
#[derive(Debug)]
pub struct Tracker {
    /// Sections of the sweep take it shared; a checkpoint exclusively.
    lock: RwLock<()>,
    /// Per sweep worker: the sweep order it is probing, or `IDLE`.
    slots: Vec<AtomicU64>,
    /// One past the highest sweep order claimed: every order below it was.
    claimed: AtomicU64,
    results: Mutex<Results>,
    /// Held while a checkpoint is written; true once the last one is, so
    /// a periodic write still under way can never land after it.
    written_last: Mutex<bool>,
}

#[derive(Debug, Default)]
struct Results {
    pending: BTreeSet<Endpoint>,
    services: Vec<Service>,
    findings: Vec<Finding>,
}

/// A shared section of the sweep; see the module documentation.
pub struct Section<'a> {
    _guard: Option<std::sync::RwLockReadGuard<'a, ()>>,
}

impl Tracker {
    pub fn new(workers: usize, from: Option<&State>) -> Tracker {
        let results = match from {
            Some(s) => Results {
                pending: s.pending.iter().cloned().collect(),
                services: s.services.clone(),
                findings: s.findings.clone(),
            },
            None => Results::default(),
        };
        Tracker {
            lock: RwLock::new(()),
            slots: (0..workers.max(1)).map(|_| AtomicU64::new(IDLE)).collect(),
            claimed: AtomicU64::new(0),
            written_last: Mutex::new(false),
            results: Mutex::new(results),
        }
    }

    pub fn section(&self) -> Section<'_> {
        Section {
            _guard: self.lock.read().ok(),
        }
    }

    /// Worker `w` claimed sweep order `j` (inside a section).
    pub fn claim(&self, w: usize, j: u64) {
        if let Some(s) = self.slots.get(w) {
            s.store(j, Ordering::Relaxed);
        }
        self.claimed.fetch_max(j + 1, Ordering::Relaxed);
    }

    /// Worker `w` finished its probe (inside the section that counted it);
    /// an open port waits for identification.
    pub fn release(&self, w: usize, open: Option<&Endpoint>) {
        if let Some(ep) = open {
            if let Ok(mut r) = self.results.lock() {
                r.pending.insert(ep.clone());
            }
        }
        if let Some(s) = self.slots.get(w) {
            s.store(IDLE, Ordering::Relaxed);
        }
    }

    /// An open port's identification finished.
    pub fn identified(&self, service: &Service, findings: &[Finding]) {
        if let Ok(mut r) = self.results.lock() {
            r.pending.remove(&service.endpoint);
            r.services.push(service.clone());
            r.findings.extend(findings.iter().cloned());
        }
    }

    /// Results restored from a checkpoint and gathered since.
    pub fn results(&self) -> (Vec<Service>, Vec<Finding>) {
        self.results
            .lock()
            .map(|r| (r.services.clone(), r.findings.clone()))
            .unwrap_or_default()
    }

    /// Open ports from the checkpoint still to identify.
    pub fn pending(&self) -> Vec<Endpoint> {
        self.results
            .lock()
            .map(|r| r.pending.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Write a periodic checkpoint, unless the last one is written.
    pub fn save(&self, state: &State, path: &Path) -> std::io::Result<()> {
        let last = self.written_last.lock().map_err(|_| poisoned())?;
        if *last {
            return Ok(());
        }
        state.save(path)
    }

    /// Write the scan's last checkpoint; later periodic ones are dropped.
    pub fn save_last(&self, state: &State, path: &Path) -> std::io::Result<()> {
        let mut last = self.written_last.lock().map_err(|_| poisoned())?;
        *last = true;
        state.save(path)
    }

    /// A consistent checkpoint (`id`: digest, scan id, start time).
    pub fn snapshot(
        &self,
        space: &TargetSpace,
        counts: impl FnOnce() -> Counts,
        id: (&str, &str, &str),
    ) -> State {
        let _all = self.lock.write();
        let (mut in_flight, next) = space.unstarted(self.claimed.load(Ordering::Relaxed));
        in_flight.extend(
            self.slots
                .iter()
                .map(|s| s.load(Ordering::Relaxed))
                .filter(|&j| j != IDLE)
                .map(|j| space.position(j)),
        );
        in_flight.sort_unstable();
        in_flight.dedup();
        // Read under the write lock: no probe is counted and in flight.
        let counts = counts();
        let (pending, services, findings) = self
            .results
            .lock()
            .map(|r| {
                (
                    r.pending.iter().cloned().collect(),
                    r.services.clone(),
                    r.findings.clone(),
                )
            })
            .unwrap_or_default();
        State {
            format: FORMAT.into(),
            version: VERSION,
            digest: id.0.into(),
            scan_id: id.1.into(),
            started: id.2.into(),
            next,
            in_flight,
            counts,
            pending,
            services,
            findings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::{Resume, Shard, SpaceInput};

    fn space() -> TargetSpace {
        let lo = crate::targets::spec::ip_to_u128("127.0.0.0".parse().unwrap());
        let input = SpaceInput {
            ranges: vec![(lo, lo + 99)],
            ..Default::default()
        };
        TargetSpace::build(input, &[1], 9, Shard::ALL, false).unwrap()
    }

    #[test]
    fn a_checkpoint_holds_what_is_in_flight_pending_and_done() {
        let space = space();
        let stats = crate::sweep::SweepStats::default();
        let t = Tracker::new(3, None);
        for (w, j) in [(0, 0), (1, 1), (2, 2)] {
            let _s = t.section();
            t.claim(w, j);
        }
        let open = space.nth(1).unwrap();
        {
            let _s = t.section();
            stats.probed.fetch_add(2, Ordering::Relaxed);
            t.release(0, None);
            t.release(1, Some(&open));
        }
        let s = t.snapshot(&space, || stats.counts(), ("d", "id", "t0"));
        assert_eq!((s.next, s.in_flight.clone()), (3, vec![2]));
        assert_eq!(s.pending, vec![open.clone()]);
        assert_eq!(s.counts.probed, 2);
        t.identified(&Service::new(open, crate::model::ServiceKind::Unknown), &[]);
        let s = t.snapshot(&space, || stats.counts(), ("d", "id", "t0"));
        assert!(s.pending.is_empty());
        assert_eq!(s.services.len(), 1);

        // A resumed space reports positions, not sweep orders.
        let mut resumed = space.clone();
        resumed.resume(Resume {
            first: vec![2],
            next: 3,
        });
        let t = Tracker::new(2, Some(&s));
        {
            let _s = t.section();
            t.claim(0, 0);
            t.claim(1, 1);
        }
        t.release(0, None);
        let s2 = t.snapshot(&resumed, || stats.counts(), ("d", "id", "t0"));
        assert_eq!((s2.next, s2.in_flight), (4, vec![3]));
        assert_eq!(s2.services.len(), 1);
    }

    #[test]
    fn a_checkpoint_of_another_scan_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let t = Tracker::new(1, None);
        let s = t.snapshot(&space(), Counts::default, ("abc", "id", "t0"));
        s.save(&path).unwrap();
        assert_eq!(State::load(&path, "abc").unwrap().scan_id, "id");
        assert!(matches!(
            State::load(&path, "other"),
            Err(StateError::Mismatch { .. })
        ));
        // A periodic write that comes after the last one changes nothing.
        let later = t.snapshot(&space(), Counts::default, ("abc", "late", "t0"));
        t.save_last(&s, &path).unwrap();
        t.save(&later, &path).unwrap();
        assert_eq!(State::load(&path, "abc").unwrap().scan_id, "id");
        std::fs::write(&path, b"{").unwrap();
        assert!(matches!(
            State::load(&path, "abc"),
            Err(StateError::Invalid { .. })
        ));
    }
}
