//! `--state FILE`: checkpoints that let a scan killed by SIGKILL, a
//! reboot or an evicted pod continue where it was (`--resume FILE`).
//!
//! A checkpoint holds a digest of everything that decides which probes are
//! sent and what they do, the position in the permuted sweep (the shard
//! positions claimed so far and those of them not finished), the sweep
//! counters, the open ports not yet identified and the endpoints `--follow`
//! admitted (at most `crate::scan::follow::MAX_FOLLOWED`, each with the
//! service that named it and how far it got). It grows with neither
//! the range nor the results: positions below `next` that are not in
//! flight are done, and the results go to an append-only sidecar,
//! `FILE.results` ([`ResultLog`]), one JSON line per identified port,
//! written as they arrive. The checkpoint records how many bytes of it it
//! covers and their SHA-256; a resume reads that much back, one record at
//! a time, and cuts off the rest (ports identified after the checkpoint,
//! still pending in it, so identified again). A resumed sweep probes the
//! positions in flight again first (at most the in-flight window), then
//! continues at `next`.
//!
//! Consistency: the sweep claims a position and, after its probe, counts
//! it, records an open port and releases the position inside short
//! sections that share a lock with the checkpoint, so a checkpoint never
//! sees a probe counted and still in flight, or claimed and in neither.
//! An identified port leaves `pending` and enters the sidecar under one
//! lock, the one under which a checkpoint reads both, so a port is in the
//! checkpoint's `pending` or in the bytes it covers, never in neither.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{Endpoint, Finding, Service};
use crate::targets::TargetSpace;

/// How often a running scan checkpoints.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(3);

const FORMAT: &str = "flinkscan-state";
/// 2: results moved to the sidecar (version 1 held them in the state file).
const VERSION: u32 = 2;
const IDLE: u64 = u64::MAX;
/// The longest sidecar line read back. A service record is a few KB (its
/// evidence is capped when identified); anything near this is corruption.
const RECORD_CAP: usize = 16 << 20;

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
        source: crate::atomic::DestError,
    },
    #[error(
        "--state {path}: must be a regular file (it is replaced atomically at each checkpoint)"
    )]
    NotAFile { path: String },
    #[error("--state {path}: its results file {sidecar} must be a regular file")]
    SidecarNotAFile { path: String, sidecar: String },
    #[error(
        "--state {path}: {sidecar} exists and is not a flinkscan results file; move it away or \
         name the checkpoint differently"
    )]
    SidecarForeign { path: String, sidecar: String },
    #[error("--state {path}: cannot open its results file {sidecar}: {source}")]
    Sidecar {
        path: String,
        sidecar: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "--state: cannot move {path}, a checkpoint of a different scan, aside to {to}: {source}"
    )]
    SetAside {
        path: String,
        to: String,
        #[source]
        source: std::io::Error,
    },
    #[error("--state {path} and {output} name the same file; give the checkpoint its own")]
    Clash { path: String, output: String },
    #[error("{path} is not a flinkscan --state checkpoint (or one of another version): {reason}")]
    Invalid { path: String, reason: String },
    #[error(
        "{path} is a checkpoint of flinkscan state version {found}; this flinkscan reads only \
         version {VERSION}. Finish the scan with the flinkscan that wrote it, or delete {path} \
         (and {path}.results) to start over"
    )]
    OtherVersion { path: String, found: u32 },
    #[error(
        "{sidecar}, the results of checkpoint {path}, is damaged: {reason}. Delete both to \
         start over"
    )]
    Damaged {
        path: String,
        sidecar: String,
        reason: String,
    },
    #[error(
        "{path}: field `{}`: {reason}. A checkpoint of this scan holds only probes of its \
         targets, less its exclusions, on its ports; this one was edited or damaged. Delete it \
         (and {path}.results) to start over",
        .reason.field()
    )]
    Forged { path: String, reason: Forgery },
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
    /// The sidecar's first `results` bytes hold the identified ports...
    pub results: u64,
    /// ...in `records` lines, whose SHA-256 (hex) is this.
    pub records: u64,
    pub results_sha256: String,
    /// Endpoints `--follow` admitted (named by an identified service),
    /// and how far each got: a resumed scan probes the queued ones and
    /// identifies the open ones, and counts all of them against the
    /// follow budgets.
    #[serde(default)]
    pub followed: Vec<FollowedEntry>,
}

/// One endpoint `--follow` admitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowedEntry {
    pub endpoint: Endpoint,
    /// The service that named it.
    pub source: Endpoint,
    pub status: FollowStatus,
}

/// How far a followed endpoint got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FollowStatus {
    /// Admitted, not probed yet.
    Queued,
    /// Found open, its identification not finished.
    Open,
    /// Closed, or identified (its record in the results file).
    Done,
}

/// Only what tells the format apart, read first: an older checkpoint
/// lacks fields of this one and must be named as older, not as broken.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
}

impl State {
    /// Read a checkpoint and check that it belongs to this scan.
    pub fn load(path: &Path, digest: &str) -> Result<State, StateError> {
        let shown = path.display().to_string();
        // Small whatever the scan found: pending ports and the window.
        let bytes =
            crate::atomic::read_capped(path, 1 << 30).map_err(|source| StateError::Read {
                path: shown.clone(),
                source,
            })?;
        let invalid = |e: serde_json::Error| StateError::Invalid {
            path: shown.clone(),
            reason: e.to_string(),
        };
        let header: Header = serde_json::from_slice(&bytes).map_err(invalid)?;
        if header.format != FORMAT {
            return Err(StateError::Invalid {
                path: shown,
                reason: format!("format {:?}", header.format),
            });
        }
        if header.version != VERSION {
            return Err(StateError::OtherVersion {
                path: shown,
                found: header.version,
            });
        }
        let state: State = serde_json::from_slice(&bytes).map_err(invalid)?;
        if state.digest != digest {
            return Err(StateError::Mismatch { path: shown });
        }
        Ok(state)
    }

    /// Check every entry against the space of the scan being resumed: a
    /// checkpoint is a file anyone may edit, and what it lists is probed
    /// (`pending`, `in_flight`) or counted. The error names the field.
    pub fn check(&self, space: &TargetSpace) -> Result<(), Forgery> {
        let len = space.len();
        if self.next > len {
            return Err(Forgery::NextPastEnd {
                next: self.next,
                len,
            });
        }
        let mut in_flight = self.in_flight.clone();
        in_flight.sort_unstable();
        if let Some(&position) = in_flight.iter().find(|&&p| p >= self.next) {
            return Err(Forgery::NeverStarted {
                position,
                next: self.next,
            });
        }
        if let Some(w) = in_flight.windows(2).find(|w| w[0] == w[1]) {
            return Err(Forgery::InFlightTwice { position: w[0] });
        }
        let c = self.counts;
        let done = self.next - in_flight.len() as u64;
        if c.probed != done {
            return Err(Forgery::ProbedNotDone {
                probed: c.probed,
                done,
                next: self.next,
                in_flight: in_flight.len(),
            });
        }
        let decided = [c.open, c.closed, c.filtered, c.unreachable]
            .iter()
            .try_fold(0u64, |a, &n| a.checked_add(n));
        if decided.is_none_or(|d| d > c.probed) {
            return Err(Forgery::DecidedOverProbed(c));
        }
        let mut seen = BTreeSet::new();
        for ep in &self.pending {
            let shown = crate::untrusted::quote(&ep.place());
            match space.position_of(ep) {
                None => return Err(Forgery::PendingOutside(shown)),
                Some(p) if p >= self.next || in_flight.binary_search(&p).is_ok() => {
                    return Err(Forgery::PendingNotProbed(shown))
                }
                Some(_) => {}
            }
            if !seen.insert(ep) {
                return Err(Forgery::PendingTwice(shown));
            }
        }
        // Identified followed ports are records too, not sweep results.
        let followed = self
            .followed
            .iter()
            .filter(|f| f.status == FollowStatus::Done)
            .count() as u64;
        if self.pending.len() as u64 + self.records > c.open.saturating_add(followed) {
            return Err(Forgery::OpenTooFew {
                open: c.open,
                pending: self.pending.len(),
                records: self.records,
                followed,
            });
        }
        Ok(())
    }

    /// A check for [`ResultLog::resume_checked`]: every record is a probe
    /// of `space` that was done (started and not in flight), not pending,
    /// and recorded once.
    pub fn record_check<'a>(
        &'a self,
        space: &'a TargetSpace,
    ) -> impl FnMut(&Service) -> Result<(), Rejection> + 'a {
        let mut in_flight = self.in_flight.clone();
        in_flight.sort_unstable();
        let pending: BTreeSet<&Endpoint> = self.pending.iter().collect();
        // A followed port is recorded once it is done (identified).
        let followed: BTreeSet<&Endpoint> = self
            .followed
            .iter()
            .filter(|f| f.status == FollowStatus::Done)
            .map(|f| &f.endpoint)
            .collect();
        let mut seen: BTreeSet<Endpoint> = BTreeSet::new();
        move |service| {
            let ep = &service.endpoint;
            let shown = crate::untrusted::quote(&ep.place());
            // A service prefix discovery found on a swept port is that
            // port's probe.
            let position = space
                .position_of(ep)
                .or_else(|| space.position_of(&ep.under(None)));
            let done = followed.contains(&ep.under(None))
                || position.is_some_and(|p| p < self.next && in_flight.binary_search(&p).is_err());
            if !done || pending.contains(ep) {
                return Err(Rejection::NotDone(shown));
            }
            if !seen.insert(ep.clone()) {
                return Err(Rejection::Twice(shown));
            }
            Ok(())
        }
    }

    /// Write atomically (temporary file, fsync, rename): a kill leaves the
    /// previous checkpoint or this one.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        let mut f = crate::atomic::AtomicFile::create(path)?;
        std::io::Write::write_all(&mut f, &bytes)?;
        f.commit()
    }
}

fn poisoned() -> std::io::Error {
    std::io::Error::other("a checkpoint write panicked")
}

/// Where the results of the checkpoint `state` go: `STATE.results`.
pub fn results_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".results");
    PathBuf::from(name)
}

/// How every sidecar line starts (serde writes the fields in order).
const RECORD_START: &[u8] = br#"{"service":"#;

/// One sidecar line: an identified port and its findings.
#[derive(Serialize)]
struct RecordRef<'a> {
    service: &'a Service,
    findings: &'a [Finding],
}

#[derive(Deserialize)]
struct Record {
    service: Service,
    findings: Vec<Finding>,
}

/// The results sidecar: appended (buffered) as ports are identified,
/// flushed by each checkpoint and fsynced before the checkpoint that
/// covers it is written.
#[derive(Debug)]
pub struct ResultLog {
    path: PathBuf,
    out: BufWriter<File>,
    /// Bytes appended so far, buffered ones included.
    len: u64,
    records: u64,
    sha: Sha256,
    /// Why appending stopped: no later checkpoint may claim what the
    /// file holds (the last good one stays).
    failure: Option<String>,
    /// The records a resumed scan continues with: bytes `0..end`.
    replay: Option<(File, u64)>,
}

impl ResultLog {
    /// A new, empty sidecar for `state` (a stale one is emptied).
    pub fn create(state: &Path) -> Result<ResultLog, StateError> {
        let path = results_path(state);
        let err = |source| StateError::Sidecar {
            path: state.display().to_string(),
            sidecar: path.display().to_string(),
            source,
        };
        check_regular(state, &path)?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(err)?;
        // A stale sidecar (its scan died before a checkpoint, or its
        // checkpoint was deleted) is emptied; someone's file that happens
        // to have the name is not.
        if !is_results_file(&path) {
            return Err(StateError::SidecarForeign {
                path: state.display().to_string(),
                sidecar: path.display().to_string(),
            });
        }
        file.set_len(0).map_err(err)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(err)?;
        Ok(ResultLog {
            path,
            out: BufWriter::with_capacity(64 << 10, file),
            len: 0,
            records: 0,
            sha: Sha256::new(),
            failure: None,
            replay: None,
        })
    }

    /// The sidecar of checkpoint `state` (at `state_path`): its covered
    /// bytes are read through once (bounded lines, each a record, their
    /// SHA-256 as recorded), the bytes beyond are cut off, and appending
    /// continues there. The records are read again, one at a time, by
    /// [`Tracker::replay`].
    pub fn resume(state_path: &Path, state: &State) -> Result<ResultLog, StateError> {
        ResultLog::resume_checked(state_path, state, |_| Ok(()))
    }

    /// [`ResultLog::resume`], each record's service first handed to
    /// `check` (an error names the record's line).
    pub fn resume_checked(
        state_path: &Path,
        state: &State,
        mut check: impl FnMut(&Service) -> Result<(), Rejection>,
    ) -> Result<ResultLog, StateError> {
        let path = results_path(state_path);
        let shown = |p: &Path| p.display().to_string();
        let err = |source| StateError::Sidecar {
            path: shown(state_path),
            sidecar: shown(&path),
            source,
        };
        let damaged = |reason: String| StateError::Damaged {
            path: shown(state_path),
            sidecar: shown(&path),
            reason,
        };
        check_regular(state_path, &path)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(err)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(err)?;
        let size = file.metadata().map_err(err)?.len();
        if size < state.results {
            return Err(damaged(format!(
                "it holds {size} bytes, the checkpoint covers {}",
                state.results
            )));
        }
        let mut sha = Sha256::new();
        let mut records = 0;
        read_records(&file, state.results, |line, bytes| {
            sha.update(bytes);
            records += 1;
            let record = serde_json::from_slice::<Record>(bytes)
                .map_err(|source| RecordError::BadLine { line, source })?;
            check(&record.service).map_err(|reason| RecordError::Rejected { line, reason })
        })
        .map_err(|e| damaged(e.to_string()))?;
        let digest = hex::encode(sha.clone().finalize());
        if records != state.records || digest != state.results_sha256 {
            return Err(damaged(format!(
                "its first {} bytes ({records} records) are not those the checkpoint recorded \
                 ({} records)",
                state.results, state.records
            )));
        }
        // Past the checkpoint: those ports are still pending in it.
        file.set_len(state.results).map_err(err)?;
        file.sync_all().map_err(err)?;
        let mut out = file.try_clone().map_err(err)?;
        io::Seek::seek(&mut out, io::SeekFrom::End(0)).map_err(err)?;
        Ok(ResultLog {
            path,
            out: BufWriter::with_capacity(64 << 10, out),
            len: state.results,
            records,
            sha,
            failure: None,
            replay: Some((file, state.results)),
        })
    }

    fn append(&mut self, line: &[u8]) {
        if self.failure.is_some() {
            return;
        }
        match self.out.write_all(line) {
            Ok(()) => {
                self.len += line.len() as u64;
                self.records += 1;
                self.sha.update(line);
            }
            Err(e) => self.failure = Some(format!("cannot append to {}: {e}", self.path.display())),
        }
    }

    /// Everything appended reaches the file (not yet the disk): the
    /// length, count and hash a checkpoint may record.
    fn flushed(&mut self) -> io::Result<(u64, u64, String)> {
        if let Some(why) = &self.failure {
            return Err(io::Error::other(why.clone()));
        }
        if let Err(e) = self.out.flush() {
            let why = format!("cannot append to {}: {e}", self.path.display());
            self.failure = Some(why.clone());
            return Err(io::Error::other(why));
        }
        Ok((
            self.len,
            self.records,
            hex::encode(self.sha.clone().finalize()),
        ))
    }
}

/// Empty, or starting the way every record does.
fn is_results_file(path: &Path) -> bool {
    let mut head = Vec::new();
    let read =
        File::open(path).and_then(|f| f.take(RECORD_START.len() as u64).read_to_end(&mut head));
    read.is_ok() && (head.is_empty() || head == RECORD_START)
}

/// The sidecar is written in place: never through a symlink or into a
/// device, FIFO or directory.
fn check_regular(state: &Path, sidecar: &Path) -> Result<(), StateError> {
    match std::fs::symlink_metadata(sidecar) {
        Ok(m) if !m.file_type().is_file() => Err(StateError::SidecarNotAFile {
            path: state.display().to_string(),
            sidecar: sidecar.display().to_string(),
        }),
        _ => Ok(()),
    }
}

/// Reads `0..end` of a file at its own offset (the appending handle
/// shares none with it).
struct Span<'a> {
    file: &'a File,
    at: u64,
    end: u64,
}

impl Read for Span<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end - self.at).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// Why a record of the results file cannot be one the checkpoint's scan wrote.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error(
        "{0} is not a probe this scan has done (outside its targets, excluded, on another port or \
         shard, not yet probed, or still pending)"
    )]
    NotDone(String),
    #[error("{0} is recorded twice")]
    Twice(String),
}

/// What makes a checkpoint's entries impossible for the scan being resumed
/// ([`State::check`]): each names the field it is about ([`Forgery::field`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Forgery {
    #[error("position {next} is past the {len} probes of this scan")]
    NextPastEnd { next: u64, len: u64 },
    #[error("position {position} was never started (next is {next})")]
    NeverStarted { position: u64, next: u64 },
    #[error("position {position} is listed twice")]
    InFlightTwice { position: u64 },
    #[error(
        "probed is {probed}, but {done} probes are done (next {next} less {in_flight} in flight)"
    )]
    ProbedNotDone {
        probed: u64,
        done: u64,
        next: u64,
        in_flight: usize,
    },
    #[error(
        "open {}, closed {}, filtered {} and unreachable {} add up to more than the {} probed",
        .0.open, .0.closed, .0.filtered, .0.unreachable, .0.probed
    )]
    DecidedOverProbed(Counts),
    #[error(
        "{0} is not a probe of this scan (outside its targets, excluded, or on another port or \
         shard)"
    )]
    PendingOutside(String),
    #[error("{0} is listed as found open but was not probed yet")]
    PendingNotProbed(String),
    #[error("{0} is listed twice")]
    PendingTwice(String),
    #[error(
        "open is {open}, fewer than the {pending} ports pending and {records} identified{}",
        less_followed(*followed)
    )]
    OpenTooFew {
        open: u64,
        pending: usize,
        records: u64,
        followed: u64,
    },
    #[error("this scan does not follow named ports (--no-follow)")]
    FollowedNotFollowing,
    #[error(
        "{0} is not an endpoint this scan may follow (outside its targets, excluded, on a port \
         its sweep probes, or no remote host)"
    )]
    FollowedOutside(String),
    #[error("{endpoint} is said to be named by {named_by}, which is not a port this scan probes")]
    FollowedSource { endpoint: String, named_by: String },
    #[error("{0} is listed twice")]
    FollowedTwice(String),
    #[error("{0} is past the follow budgets (for one service, on one host, or in all)")]
    FollowedOverBudget(String),
}

/// Identified followed ports are records but no sweep result: said only
/// when there are some (the words stay those scripts know).
fn less_followed(followed: u64) -> String {
    if followed == 0 {
        String::new()
    } else {
        format!(" (less {followed} followed)")
    }
}

impl Forgery {
    /// The checkpoint field the entry is in.
    pub fn field(&self) -> &'static str {
        match self {
            Forgery::NextPastEnd { .. } => "next",
            Forgery::NeverStarted { .. } | Forgery::InFlightTwice { .. } => "in_flight",
            Forgery::ProbedNotDone { .. }
            | Forgery::DecidedOverProbed(_)
            | Forgery::OpenTooFew { .. } => "counts",
            Forgery::PendingOutside(_)
            | Forgery::PendingNotProbed(_)
            | Forgery::PendingTwice(_) => "pending",
            Forgery::FollowedNotFollowing
            | Forgery::FollowedOutside(_)
            | Forgery::FollowedSource { .. }
            | Forgery::FollowedTwice(_)
            | Forgery::FollowedOverBudget(_) => "followed",
        }
    }
}

/// A record of the results sidecar that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("line {line}: {source}")]
    Read {
        line: u64,
        #[source]
        source: io::Error,
    },
    #[error("line {line}: longer than {RECORD_CAP} bytes")]
    TooLong { line: u64 },
    #[error("line {line}: cut short")]
    CutShort { line: u64 },
    #[error("line {line}: {source}")]
    BadLine {
        line: u64,
        #[source]
        source: serde_json::Error,
    },
    /// The record is not one this scan could have written.
    #[error("line {line}: {reason}")]
    Rejected { line: u64, reason: Rejection },
    #[error("{0}")]
    BadRecord(#[source] serde_json::Error),
    #[error("cannot read back {}: {source}", .path.display())]
    ReadBack {
        path: PathBuf,
        #[source]
        source: Box<RecordError>,
    },
}

/// Hand every line of `file`'s bytes `0..end` to `each` (1-based line
/// number, the line with its newline) until it fails. A line longer than
/// [`RECORD_CAP`] or one the covered bytes cut short is an error.
fn read_records(
    file: &File,
    end: u64,
    mut each: impl FnMut(u64, &[u8]) -> Result<(), RecordError>,
) -> Result<(), RecordError> {
    let mut r = BufReader::with_capacity(64 << 10, Span { file, at: 0, end });
    let mut line = Vec::new();
    for n in 1.. {
        line.clear();
        let got = (&mut r)
            .take(RECORD_CAP as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|source| RecordError::Read { line: n, source })?;
        if got == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            return Err(if line.len() > RECORD_CAP {
                RecordError::TooLong { line: n }
            } else {
                RecordError::CutShort { line: n }
            });
        }
        each(n, &line)?;
    }
    Ok(())
}

/// What a checkpoint is taken from while the scan runs: the sweep's
/// positions and counters, the open ports pending and the results sidecar.
#[derive(Debug)]
pub struct Tracker {
    /// Sections of the sweep take it shared; a checkpoint exclusively.
    lock: RwLock<()>,
    /// Per sweep worker: the sweep order it is probing, or `IDLE`.
    slots: Vec<AtomicU64>,
    /// One past the highest sweep order claimed: every order below it was.
    claimed: AtomicU64,
    results: Mutex<Results>,
    /// The sidecar's file, for the fsync before a checkpoint is written
    /// (outside the lock: appending goes on meanwhile).
    sync: Option<File>,
    /// Held while a checkpoint is written; true once the last one is, so
    /// a periodic write still under way can never land after it.
    written_last: Mutex<bool>,
}

#[derive(Debug)]
struct Results {
    pending: BTreeSet<Endpoint>,
    /// `--follow`'s admitted endpoints: what named them, how far they got.
    followed: BTreeMap<Endpoint, (Endpoint, FollowStatus)>,
    log: Option<ResultLog>,
}

/// A shared section of the sweep; see the module documentation.
pub struct Section<'a> {
    _guard: Option<std::sync::RwLockReadGuard<'a, ()>>,
}

impl Tracker {
    /// `log` is where results go; without one (tests of the positions)
    /// a checkpoint covers none.
    pub fn new(workers: usize, from: Option<&State>, log: Option<ResultLog>) -> Tracker {
        let pending = from
            .map(|s| s.pending.iter().cloned().collect())
            .unwrap_or_default();
        let followed = from
            .map(|s| {
                s.followed
                    .iter()
                    .map(|f| (f.endpoint.clone(), (f.source.clone(), f.status)))
                    .collect()
            })
            .unwrap_or_default();
        Tracker {
            lock: RwLock::new(()),
            slots: (0..workers.max(1)).map(|_| AtomicU64::new(IDLE)).collect(),
            claimed: AtomicU64::new(0),
            written_last: Mutex::new(false),
            sync: log.as_ref().and_then(|l| l.out.get_ref().try_clone().ok()),
            results: Mutex::new(Results {
                pending,
                followed,
                log,
            }),
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

    /// An open port's identification finished: it leaves `pending` and
    /// its record is appended to the sidecar, together.
    pub fn identified(&self, service: &Service, findings: &[Finding]) {
        self.identified_at(&service.endpoint, service, findings);
    }

    /// [`identified`](Self::identified) for the open port `probed`, which
    /// the service may name under a path prefix prefix discovery found.
    pub fn identified_at(&self, probed: &Endpoint, service: &Service, findings: &[Finding]) {
        // Serialized outside the lock the sweep's sections wait for.
        let line = serde_json::to_vec(&RecordRef { service, findings }).map(|mut l| {
            l.push(b'\n');
            l
        });
        if let Ok(mut r) = self.results.lock() {
            r.pending.remove(probed);
            if let Some((_, status)) = r.followed.get_mut(probed) {
                *status = FollowStatus::Done;
            }
            if let Some(log) = r.log.as_mut() {
                match &line {
                    Ok(line) => log.append(line),
                    Err(e) => log.failure = Some(format!("cannot record a result: {e}")),
                }
            }
        }
    }

    /// Hand the records a resumed scan continues with to `each`, one at a
    /// time (once: later calls find none). An error names the sidecar
    /// and the line.
    pub fn replay(&self, mut each: impl FnMut(Service, Vec<Finding>)) -> Result<(), RecordError> {
        let replay = self.results.lock().ok().and_then(|mut r| {
            r.log
                .as_mut()
                .and_then(|l| l.replay.take().map(|x| (x, l.path.clone())))
        });
        let Some(((file, end), path)) = replay else {
            return Ok(());
        };
        read_records(&file, end, |_, bytes| {
            let r: Record = serde_json::from_slice(bytes).map_err(RecordError::BadRecord)?;
            each(r.service, r.findings);
            Ok(())
        })
        .map_err(|e| RecordError::ReadBack {
            path,
            source: Box::new(e),
        })
    }

    /// `--follow` admitted `endpoints`, named by `source`: queued until
    /// probed (before the source's own result is recorded).
    pub fn follow_queued(&self, source: &Endpoint, endpoints: &[Endpoint]) {
        if let Ok(mut r) = self.results.lock() {
            for e in endpoints {
                r.followed
                    .entry(e.clone())
                    .or_insert_with(|| (source.clone(), FollowStatus::Queued));
            }
        }
    }

    /// A followed endpoint was probed: open ones wait for identification.
    pub fn follow_probed(&self, endpoint: &Endpoint, open: bool) {
        if let Ok(mut r) = self.results.lock() {
            if let Some((_, status)) = r.followed.get_mut(endpoint) {
                if *status == FollowStatus::Queued {
                    *status = if open {
                        FollowStatus::Open
                    } else {
                        FollowStatus::Done
                    };
                }
            }
        }
    }

    /// The followed endpoints as a checkpoint holds them.
    pub fn followed(&self) -> Vec<FollowedEntry> {
        self.results
            .lock()
            .map(|r| followed_entries(&r.followed))
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
        self.write(state, path)
    }

    /// Write the scan's last checkpoint; later periodic ones are dropped.
    pub fn save_last(&self, state: &State, path: &Path) -> std::io::Result<()> {
        let mut last = self.written_last.lock().map_err(|_| poisoned())?;
        *last = true;
        self.write(state, path)
    }

    /// The sidecar bytes `state` covers were flushed when it was taken;
    /// on disk they must be before the checkpoint that points at them.
    fn write(&self, state: &State, path: &Path) -> std::io::Result<()> {
        if let Some(f) = &self.sync {
            f.sync_data()?;
        }
        state.save(path)
    }

    /// A consistent checkpoint (`id`: digest, scan id, start time). An
    /// error means the sidecar cannot take results: no checkpoint may
    /// claim them.
    pub fn snapshot(
        &self,
        space: &TargetSpace,
        counts: impl FnOnce() -> Counts,
        id: (&str, &str, &str),
    ) -> std::io::Result<State> {
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
        let mut r = self.results.lock().map_err(|_| poisoned())?;
        let pending = r.pending.iter().cloned().collect();
        let followed = followed_entries(&r.followed);
        let (results, records, results_sha256) = match r.log.as_mut() {
            Some(log) => log.flushed()?,
            None => (0, 0, hex::encode(Sha256::new().finalize())),
        };
        Ok(State {
            format: FORMAT.into(),
            version: VERSION,
            digest: id.0.into(),
            scan_id: id.1.into(),
            started: id.2.into(),
            next,
            in_flight,
            counts,
            pending,
            results,
            records,
            results_sha256,
            followed,
        })
    }
}

fn followed_entries(map: &BTreeMap<Endpoint, (Endpoint, FollowStatus)>) -> Vec<FollowedEntry> {
    map.iter()
        .map(|(endpoint, (source, status))| FollowedEntry {
            endpoint: endpoint.clone(),
            source: source.clone(),
            status: *status,
        })
        .collect()
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

    fn service(space: &TargetSpace, n: u64) -> Service {
        Service::new(space.nth(n).unwrap(), crate::model::ServiceKind::Unknown)
    }

    /// Every service a resumed tracker hands back, by endpoint.
    fn replayed(t: &Tracker) -> Vec<Endpoint> {
        let mut got = Vec::new();
        t.replay(|s, _| got.push(s.endpoint)).unwrap();
        got
    }

    /// A checkpoint of [`space`] that has started `next` probes.
    fn checkpoint(next: u64, in_flight: Vec<u64>, counts: Counts, pending: Vec<Endpoint>) -> State {
        State {
            format: FORMAT.into(),
            version: VERSION,
            digest: "d".into(),
            scan_id: "id".into(),
            started: "t0".into(),
            next,
            in_flight,
            counts,
            pending,
            results: 0,
            records: 0,
            results_sha256: String::new(),
            followed: Vec::new(),
        }
    }

    /// Each impossible entry is named by its field, in the words the
    /// error has always used (stderr is part of what a user scripts on).
    #[test]
    fn a_forged_entry_names_its_field_in_the_same_words() {
        let space = space();
        let done = |probed, open| Counts {
            probed,
            open,
            ..Counts::default()
        };
        let ep = |n| space.nth(n).unwrap();
        let outside = Endpoint::new("127.0.1.0".parse().unwrap(), 1);
        let over = Counts {
            probed: 4,
            open: 2,
            closed: 1,
            filtered: 1,
            unreachable: 1,
        };
        let cases = [
            (
                checkpoint(101, vec![], done(101, 0), vec![]),
                "next",
                "position 101 is past the 100 probes of this scan".to_string(),
            ),
            (
                checkpoint(5, vec![7], done(4, 0), vec![]),
                "in_flight",
                "position 7 was never started (next is 5)".into(),
            ),
            (
                checkpoint(5, vec![2, 2], done(3, 0), vec![]),
                "in_flight",
                "position 2 is listed twice".into(),
            ),
            (
                checkpoint(5, vec![1], done(5, 0), vec![]),
                "counts",
                "probed is 5, but 4 probes are done (next 5 less 1 in flight)".into(),
            ),
            (
                checkpoint(4, vec![], over, vec![]),
                "counts",
                "open 2, closed 1, filtered 1 and unreachable 1 add up to more than the 4 probed"
                    .into(),
            ),
            (
                checkpoint(5, vec![], done(5, 1), vec![outside.clone()]),
                "pending",
                format!(
                    "{} is not a probe of this scan (outside its targets, excluded, or on \
                     another port or shard)",
                    crate::untrusted::quote(&outside.to_string())
                ),
            ),
            (
                checkpoint(5, vec![], done(5, 1), vec![ep(7)]),
                "pending",
                format!(
                    "{} is listed as found open but was not probed yet",
                    crate::untrusted::quote(&ep(7).to_string())
                ),
            ),
            (
                checkpoint(5, vec![], done(5, 2), vec![ep(1), ep(1)]),
                "pending",
                format!(
                    "{} is listed twice",
                    crate::untrusted::quote(&ep(1).to_string())
                ),
            ),
            (
                checkpoint(5, vec![], done(5, 1), vec![ep(1), ep(2)]),
                "counts",
                "open is 1, fewer than the 2 ports pending and 0 identified".into(),
            ),
        ];
        for (state, field, text) in cases {
            let e = state.check(&space).unwrap_err();
            assert_eq!((e.field(), e.to_string()), (field, text));
        }
        assert_eq!(
            checkpoint(5, vec![3], done(4, 1), vec![ep(1)]).check(&space),
            Ok(())
        );
        let e = StateError::Forged {
            path: "s.state".into(),
            reason: Forgery::InFlightTwice { position: 2 },
        };
        assert_eq!(
            e.to_string(),
            "s.state: field `in_flight`: position 2 is listed twice. A checkpoint of this scan \
             holds only probes of its targets, less its exclusions, on its ports; this one was \
             edited or damaged. Delete it (and s.state.results) to start over"
        );
    }

    #[test]
    fn a_checkpoint_holds_what_is_in_flight_pending_and_done() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let space = space();
        // The sweep's counters as `sweep::SweepStats::counts` hands them over.
        let mut counts = Counts::default();
        let t = Tracker::new(3, None, Some(ResultLog::create(&path).unwrap()));
        for (w, j) in [(0, 0), (1, 1), (2, 2)] {
            let _s = t.section();
            t.claim(w, j);
        }
        let open = space.nth(1).unwrap();
        {
            let _s = t.section();
            counts.probed += 2;
            t.release(0, None);
            t.release(1, Some(&open));
        }
        let s = t.snapshot(&space, || counts, ("d", "id", "t0")).unwrap();
        assert_eq!((s.next, s.in_flight.clone()), (3, vec![2]));
        assert_eq!(s.pending, vec![open.clone()]);
        assert_eq!((s.counts.probed, s.results, s.records), (2, 0, 0));
        t.identified(
            &Service::new(open.clone(), crate::model::ServiceKind::Unknown),
            &[],
        );
        let s = t.snapshot(&space, || counts, ("d", "id", "t0")).unwrap();
        assert!(s.pending.is_empty());
        assert_eq!(s.records, 1);
        // What the checkpoint covers is in the file once it is taken.
        let sidecar = results_path(&path);
        assert_eq!(std::fs::metadata(&sidecar).unwrap().len(), s.results);
        assert_eq!(
            std::fs::metadata(&sidecar).unwrap().permissions().mode() & 0o777,
            0o600
        );

        // A resumed space reports positions, not sweep orders.
        let mut resumed = space.clone();
        resumed.resume(Resume {
            first: vec![2],
            next: 3,
        });
        let t = Tracker::new(2, Some(&s), Some(ResultLog::resume(&path, &s).unwrap()));
        {
            let _s = t.section();
            t.claim(0, 0);
            t.claim(1, 1);
        }
        t.release(0, None);
        let s2 = t.snapshot(&resumed, || counts, ("d", "id", "t0")).unwrap();
        assert_eq!((s2.next, s2.in_flight), (4, vec![3]));
        assert_eq!((s2.results, s2.records), (s.results, 1));
        assert_eq!(replayed(&t), vec![open]);
    }

    #[test]
    fn a_resume_reads_the_covered_results_and_cuts_off_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let space = space();
        let t = Tracker::new(1, None, Some(ResultLog::create(&path).unwrap()));
        let (a, b, c) = (service(&space, 1), service(&space, 2), service(&space, 3));
        for s in [&a, &b, &c] {
            let _s = t.section();
            t.claim(0, 0);
            t.release(0, Some(&s.endpoint));
        }
        t.identified(&a, &[]);
        let s = t
            .snapshot(&space, Counts::default, ("d", "id", "t0"))
            .unwrap();
        t.save(&s, &path).unwrap();
        // Identified after the checkpoint: in its pending, and (flushed
        // by a later snapshot that was never saved) past its length.
        t.identified(&b, &[]);
        t.snapshot(&space, Counts::default, ("d", "id", "t0"))
            .unwrap();
        drop(t);
        let sidecar = results_path(&path);
        assert!(std::fs::metadata(&sidecar).unwrap().len() > s.results);

        let from = State::load(&path, "d").unwrap();
        assert_eq!(from.pending, vec![b.endpoint.clone(), c.endpoint.clone()]);
        let t = Tracker::new(
            1,
            Some(&from),
            Some(ResultLog::resume(&path, &from).unwrap()),
        );
        assert_eq!(std::fs::metadata(&sidecar).unwrap().len(), from.results);
        assert_eq!(replayed(&t), vec![a.endpoint.clone()]);
        assert!(replayed(&t).is_empty(), "replayed twice");
        // Appending continues after the covered bytes.
        t.identified(&b, &[]);
        let s = t
            .snapshot(&space, Counts::default, ("d", "id", "t0"))
            .unwrap();
        assert_eq!(
            (s.records, s.pending.clone()),
            (2, vec![c.endpoint.clone()])
        );
        t.save_last(&s, &path).unwrap();
        drop(t);
        let t = Tracker::new(1, Some(&s), Some(ResultLog::resume(&path, &s).unwrap()));
        assert_eq!(replayed(&t), vec![a.endpoint, b.endpoint]);
    }

    #[test]
    fn a_damaged_results_file_is_refused_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let space = space();
        let t = Tracker::new(1, None, Some(ResultLog::create(&path).unwrap()));
        for n in 1..=3 {
            t.identified(&service(&space, n), &[]);
        }
        let s = t
            .snapshot(&space, Counts::default, ("d", "id", "t0"))
            .unwrap();
        drop(t);
        let sidecar = results_path(&path);
        let good = std::fs::read(&sidecar).unwrap();
        let resume_err = |bytes: &[u8]| {
            std::fs::write(&sidecar, bytes).unwrap();
            let e = ResultLog::resume(&path, &s).unwrap_err();
            assert!(matches!(e, StateError::Damaged { .. }), "{e}");
            let e = e.to_string();
            assert!(e.contains(&sidecar.display().to_string()), "{e}");
            e
        };
        // A byte of the second line changed: not JSON any more.
        let second = good.iter().position(|&b| b == b'\n').unwrap() + 1;
        let mut bad = good.clone();
        bad[second] = b'x';
        assert!(resume_err(&bad).contains("line 2"));
        // Still valid records, but not those recorded.
        let mut swapped = good[second..].to_vec();
        swapped.extend_from_slice(&good[..second]);
        assert!(resume_err(&swapped).contains("not those the checkpoint recorded"));
        // Shorter than the checkpoint covers.
        assert!(resume_err(&good[..good.len() - 1]).contains("bytes"));
        // One line over the cap is cut off at the cap, not read whole.
        let mut long = vec![b' '; RECORD_CAP + 10];
        long.push(b'\n');
        let e = read_records(&tempfile_with(&long), long.len() as u64, |_, _| Ok(()));
        assert!(e.unwrap_err().to_string().contains("line 1: longer than"));
        // A sidecar that is no regular file is refused before it is opened.
        std::fs::remove_file(&sidecar).unwrap();
        std::fs::create_dir(&sidecar).unwrap();
        assert!(matches!(
            ResultLog::resume(&path, &s),
            Err(StateError::SidecarNotAFile { .. })
        ));
        assert!(matches!(
            ResultLog::create(&path),
            Err(StateError::SidecarNotAFile { .. })
        ));
    }

    #[test]
    fn a_new_scan_empties_a_stale_results_file_but_no_other_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let sidecar = results_path(&path);
        let t = Tracker::new(1, None, Some(ResultLog::create(&path).unwrap()));
        t.identified(&service(&space(), 1), &[]);
        drop(t);
        assert!(std::fs::metadata(&sidecar).unwrap().len() > 0);
        ResultLog::create(&path).unwrap();
        assert_eq!(std::fs::metadata(&sidecar).unwrap().len(), 0);
        std::fs::write(&sidecar, b"someone's notes\n").unwrap();
        assert!(matches!(
            ResultLog::create(&path),
            Err(StateError::SidecarForeign { .. })
        ));
        assert_eq!(std::fs::read(&sidecar).unwrap(), b"someone's notes\n");
    }

    fn tempfile_with(bytes: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn a_results_write_that_fails_stops_the_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let space = space();
        let mut log = ResultLog::create(&path).unwrap();
        log.failure = Some("disk full".into());
        let t = Tracker::new(1, None, Some(log));
        t.identified(&service(&space, 1), &[]);
        let e = t
            .snapshot(&space, Counts::default, ("d", "id", "t0"))
            .unwrap_err();
        assert!(e.to_string().contains("disk full"), "{e}");
    }

    #[test]
    fn a_checkpoint_of_another_scan_or_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let t = Tracker::new(1, None, None);
        let s = t
            .snapshot(&space(), Counts::default, ("abc", "id", "t0"))
            .unwrap();
        s.save(&path).unwrap();
        assert_eq!(State::load(&path, "abc").unwrap().scan_id, "id");
        assert!(matches!(
            State::load(&path, "other"),
            Err(StateError::Mismatch { .. })
        ));
        // A periodic write that comes after the last one changes nothing.
        let later = t
            .snapshot(&space(), Counts::default, ("abc", "late", "t0"))
            .unwrap();
        t.save_last(&s, &path).unwrap();
        t.save(&later, &path).unwrap();
        assert_eq!(State::load(&path, "abc").unwrap().scan_id, "id");
        std::fs::write(&path, b"{").unwrap();
        assert!(matches!(
            State::load(&path, "abc"),
            Err(StateError::Invalid { .. })
        ));
        // Version 1 held the results itself and lacks the sidecar fields.
        std::fs::write(
            &path,
            br#"{"format":"flinkscan-state","version":1,"digest":"abc","scan_id":"id",
                "started":"t0","next":0,"in_flight":[],"counts":{"probed":0,"open":0,
                "closed":0,"filtered":0,"unreachable":0},"pending":[],"services":[],
                "findings":[]}"#,
        )
        .unwrap();
        let e = State::load(&path, "abc").unwrap_err();
        assert!(
            matches!(e, StateError::OtherVersion { found: 1, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("version 1"), "{e}");
    }

    /// The sweep probes no prefix: a swept port under one is no pending
    /// entry (the error shows the prefix), but a service prefix discovery
    /// found there is that port's record.
    #[test]
    fn a_prefix_on_a_swept_port_is_a_record_never_a_pending_probe() {
        let space = space();
        let ep = space.nth(1).unwrap();
        let under = ep.under(Some("/flink".into()));
        let done = Counts {
            probed: 5,
            open: 1,
            ..Counts::default()
        };
        let e = checkpoint(5, vec![], done, vec![under.clone()])
            .check(&space)
            .unwrap_err();
        assert_eq!(e.field(), "pending");
        assert!(e.to_string().contains(&under.place()), "{e}");
        let found = Service::new(under, crate::model::ServiceKind::JobmanagerRest);
        let state = checkpoint(5, vec![], done, vec![]);
        assert!((state.record_check(&space))(&found).is_ok());
    }

    /// A followed endpoint is queued, probed open and identified; the
    /// checkpoint says so at each step, and a resume accepts its record
    /// (not a probe of the sweep) only once it is done.
    #[test]
    fn followed_endpoints_are_checkpointed_as_they_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let space = space();
        let t = Tracker::new(1, None, Some(ResultLog::create(&path).unwrap()));
        let source = space.nth(0).unwrap();
        let tm = Endpoint::new("127.0.0.5".parse().unwrap(), 40001);
        let status = |t: &Tracker| t.followed().first().map(|f| f.status);
        t.follow_queued(&source, std::slice::from_ref(&tm));
        assert_eq!(status(&t), Some(FollowStatus::Queued));
        t.follow_probed(&tm, true);
        assert_eq!(status(&t), Some(FollowStatus::Open));
        let open = t
            .snapshot(&space, Counts::default, ("d", "id", "t0"))
            .unwrap();
        let service = Service::new(tm.clone(), crate::model::ServiceKind::Rpc);
        t.identified(&service, &[]);
        assert_eq!(status(&t), Some(FollowStatus::Done));
        let done = t
            .snapshot(&space, Counts::default, ("d", "id", "t0"))
            .unwrap();
        assert_eq!(done.followed[0].source, source);
        assert!(done.check(&space).is_ok(), "{:?}", done.check(&space));
        assert!((done.record_check(&space))(&service).is_ok());
        // Still open in a checkpoint: its record cannot be there yet.
        assert!((open.record_check(&space))(&service).is_err());
    }
}
