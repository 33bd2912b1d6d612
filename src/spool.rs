//! Writing to a reader that may never read: a FIFO, a pipe, a terminal or
//! a socket (stdout and special files, never regular files).
//!
//! `open()` of a FIFO blocks until a reader opens it, and a write blocks
//! while the reader does not read. Both happen on a thread of their own, so
//! the scan never waits on them: the JSON Lines stream queues events up to
//! [`QUEUE_CAP`] bytes and ends (a failed output, exit 3) when its reader
//! falls further behind; a document waits for its reader only while that
//! reader keeps taking bytes ([`STALL`]). A signal during any such wait ends
//! it at once, and after a signal or `--max-duration` the patience is
//! [`STALL_HURRIED`]. A thread left blocked in `open()` or `write()` ends
//! with the process.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// SIGHUP, SIGINT or SIGTERM received by this process (counted by the
/// scan's signal handler): a writer waiting on a FIFO gives up as soon as
/// this grows.
static SIGNALS: AtomicU32 = AtomicU32::new(0);
/// Set once any scan of this process stopped early (a signal,
/// `--max-duration`, a failed proxy): writers waiting on a slow reader
/// then give up sooner.
static HURRY: AtomicBool = AtomicBool::new(false);

/// Called by the signal handler for every stopping signal.
pub fn note_signal() {
    SIGNALS.fetch_add(1, Ordering::Relaxed);
}

/// Called when a scan stops early.
pub fn hurry() {
    HURRY.store(true, Ordering::Relaxed);
}

/// How many stopping signals this process has received.
pub fn signals_received() -> u32 {
    SIGNALS.load(Ordering::Relaxed)
}

/// True once a scan stopped early: outputs are written without waiting
/// long for slow readers.
pub fn hurrying() -> bool {
    HURRY.load(Ordering::Relaxed)
}

/// Bytes a stream may hold for a reader that is behind.
pub const QUEUE_CAP: usize = 8 << 20;
/// How long a writer waits for a reader that takes no byte.
pub const STALL: Duration = Duration::from_secs(10);
/// The same once the scan was stopped early (a signal, `--max-duration`).
pub const STALL_HURRIED: Duration = Duration::from_secs(2);
/// Pieces a document is handed to the writer thread in.
const CHUNK: usize = 64 * 1024;
const POLL: Duration = Duration::from_millis(10);

/// Where a spool writes: this process's stdout or a special file.
#[derive(Debug, Clone)]
pub enum Target {
    Stdout,
    Special(PathBuf),
}

#[derive(Debug, Default)]
struct Shared {
    /// Bytes handed over and not yet written.
    queued: AtomicUsize,
    /// Bytes and pieces the reader took.
    written: AtomicU64,
    pieces: AtomicU64,
    opened: AtomicBool,
    /// The writer thread is finished: everything written, or it failed.
    done: AtomicBool,
    failed: Mutex<Option<io::Error>>,
}

impl Shared {
    fn failure(&self) -> Option<io::Error> {
        self.failed
            .lock()
            .ok()?
            .as_ref()
            .map(|e| io::Error::new(e.kind(), e.to_string()))
    }

    fn fail(&self, e: io::Error) {
        if let Ok(mut f) = self.failed.lock() {
            f.get_or_insert(e);
        }
    }
}

/// A writer thread and the queue in front of it. The first failure (of
/// `open`, a write, or the reader falling behind) ends the stream: what
/// the reader got is a whole prefix, never one with a hole.
pub struct Spool {
    tx: Option<mpsc::Sender<Vec<u8>>>,
    shared: Arc<Shared>,
}

impl Spool {
    /// Start the writer thread; it opens `target` itself, so a FIFO
    /// without a reader holds only that thread.
    pub fn start(target: Target) -> io::Result<Spool> {
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("flinkscan-output".into())
            .spawn(move || write_all_of(&target, &rx, &s))?;
        Ok(Spool {
            tx: Some(tx),
            shared,
        })
    }

    /// Pieces the reader took whole.
    pub fn pieces(&self) -> u64 {
        self.shared.pieces.load(Ordering::Relaxed)
    }

    /// Queue `piece` without ever waiting: an error when the stream failed
    /// or its reader is more than [`QUEUE_CAP`] bytes behind (which ends
    /// the stream).
    pub fn push(&self, piece: Vec<u8>) -> io::Result<()> {
        if let Some(e) = self.shared.failure() {
            return Err(e);
        }
        let queued = self.shared.queued.load(Ordering::Relaxed);
        if queued.saturating_add(piece.len()) > QUEUE_CAP {
            let e = io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "the reader fell behind: {} MiB waited to be read{}",
                    QUEUE_CAP >> 20,
                    if self.shared.opened.load(Ordering::Relaxed) {
                        ""
                    } else {
                        " (no reader has opened it)"
                    }
                ),
            );
            self.shared.fail(io::Error::new(e.kind(), e.to_string()));
            return Err(e);
        }
        self.send(piece)
    }

    /// Queue `piece`, waiting while the queue is full for as long as the
    /// reader keeps taking bytes (see [`Patience`]).
    pub fn push_waiting(&self, piece: Vec<u8>) -> io::Result<()> {
        let mut patience = Patience::new(&self.shared);
        loop {
            if let Some(e) = self.shared.failure() {
                return Err(e);
            }
            let queued = self.shared.queued.load(Ordering::Relaxed);
            if queued == 0 || queued.saturating_add(piece.len()) <= QUEUE_CAP {
                return self.send(piece);
            }
            patience.wait(&self.shared)?;
        }
    }

    fn send(&self, piece: Vec<u8>) -> io::Result<()> {
        let len = piece.len();
        self.shared.queued.fetch_add(len, Ordering::Relaxed);
        let sent = self.tx.as_ref().map(|tx| tx.send(piece));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => {
                self.shared.queued.fetch_sub(len, Ordering::Relaxed);
                Err(self.shared.failure().unwrap_or_else(|| {
                    io::Error::new(io::ErrorKind::BrokenPipe, "the writer thread ended")
                }))
            }
        }
    }

    /// End the stream: wait until the reader took everything, for as long
    /// as it keeps taking bytes; the first error otherwise.
    pub fn finish(self) -> io::Result<()> {
        self.finish_counted().1
    }

    /// [`finish`](Self::finish), and how many pieces the reader took.
    pub fn finish_counted(mut self) -> (u64, io::Result<()>) {
        let result = self.drain();
        (self.pieces(), result)
    }

    fn drain(&mut self) -> io::Result<()> {
        drop(self.tx.take());
        let mut patience = Patience::new(&self.shared);
        while !self.shared.done.load(Ordering::Acquire) {
            // Failed already (the reader fell behind, or went away): what
            // is still queued is not delivered, so there is nothing to
            // wait for.
            if let Some(e) = self.shared.failure() {
                return Err(e);
            }
            patience.wait(&self.shared)?;
        }
        match self.shared.failure() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// How long a writer still waits for its reader: until it has taken no
/// byte for [`STALL`] ([`STALL_HURRIED`] once the scan stopped early), or
/// a signal arrives meanwhile.
struct Patience {
    signals: u32,
    seen: (u64, bool),
    since: Instant,
}

impl Patience {
    fn new(shared: &Shared) -> Patience {
        Patience {
            signals: signals_received(),
            seen: progress(shared),
            since: Instant::now(),
        }
    }

    /// Sleep a little; an error once waiting longer is pointless.
    fn wait(&mut self, shared: &Shared) -> io::Result<()> {
        let now = progress(shared);
        if now != self.seen {
            self.seen = now;
            self.since = Instant::now();
        }
        let limit = if hurrying() { STALL_HURRIED } else { STALL };
        let left = shared.queued.load(Ordering::Relaxed);
        let why = if signals_received() > self.signals {
            Some("a signal came while waiting for the reader".to_string())
        } else if self.since.elapsed() >= limit {
            Some(if now.1 {
                format!("the reader took no byte for {} s", limit.as_secs())
            } else {
                format!("no reader opened it within {} s", limit.as_secs())
            })
        } else {
            None
        };
        if let Some(why) = why {
            let e = io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{why}; {left} bytes were not delivered"),
            );
            shared.fail(io::Error::new(e.kind(), e.to_string()));
            return Err(e);
        }
        std::thread::sleep(POLL);
        Ok(())
    }
}

fn progress(shared: &Shared) -> (u64, bool) {
    (
        shared.written.load(Ordering::Relaxed),
        shared.opened.load(Ordering::Relaxed),
    )
}

/// The writer thread: open, then write each piece as it comes.
fn write_all_of(target: &Target, rx: &mpsc::Receiver<Vec<u8>>, shared: &Shared) {
    let opened: io::Result<Box<dyn Write>> = match target {
        Target::Stdout => Ok(Box::new(io::stdout())),
        // Never created or truncated: a device or FIFO has no content to cut.
        Target::Special(path) => std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map(|f| Box::new(f) as Box<dyn Write>),
    };
    let mut out = match opened {
        Ok(out) => out,
        Err(e) => {
            shared.fail(e);
            shared.done.store(true, Ordering::Release);
            return;
        }
    };
    shared.opened.store(true, Ordering::Relaxed);
    let mut failed = false;
    for piece in rx {
        let len = piece.len();
        if !failed {
            match out.write_all(&piece).and_then(|()| out.flush()) {
                Ok(()) => {
                    shared.written.fetch_add(len as u64, Ordering::Relaxed);
                    shared.pieces.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    shared.fail(e);
                    failed = true;
                }
            }
        }
        shared.queued.fetch_sub(len, Ordering::Relaxed);
    }
    shared.done.store(true, Ordering::Release);
}

/// A document streamed through a [`Spool`] in [`CHUNK`]-sized pieces.
pub struct SpoolWriter {
    spool: Option<Spool>,
    buf: Vec<u8>,
}

impl SpoolWriter {
    pub fn start(target: Target) -> io::Result<SpoolWriter> {
        Ok(SpoolWriter {
            spool: Some(Spool::start(target)?),
            buf: Vec::with_capacity(CHUNK),
        })
    }

    fn spool(&self) -> io::Result<&Spool> {
        self.spool
            .as_ref()
            .ok_or_else(|| io::Error::other("the document was already finished"))
    }

    /// Hand over what is buffered and wait for the reader to take it all.
    pub fn finish(mut self) -> io::Result<()> {
        self.hand_over()?;
        match self.spool.take() {
            Some(s) => s.finish(),
            None => Ok(()),
        }
    }

    fn hand_over(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.spool()?.push_waiting(piece)
    }
}

impl Write for SpoolWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.hand_over()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Pieces go over when full or at the end; the thread flushes each.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fifo(dir: &std::path::Path) -> PathBuf {
        let p = dir.join("out.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .expect("mkfifo (coreutils)");
        assert!(made.success());
        p
    }

    /// Nobody ever opens the FIFO: queuing never waits, the queue is
    /// bounded, and the end gives up instead of hanging in `open()`.
    #[test]
    fn a_fifo_without_a_reader_never_holds_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::start(Target::Special(fifo(dir.path()))).unwrap();
        let line = vec![b'x'; 4096];
        let mut refused = None;
        for i in 0..(QUEUE_CAP / 4096 + 2) {
            if let Err(e) = spool.push(line.clone()) {
                refused = Some((i, e));
                break;
            }
        }
        let (at, e) = refused.expect("the queue is bounded");
        assert_eq!(at, QUEUE_CAP / 4096, "refused early or late");
        assert!(e.to_string().contains("no reader has opened it"), "{e}");
        // The stream failed: later pieces are refused too, never queued.
        assert!(spool.push(b"late\n".to_vec()).is_err());
        let e = spool.finish().unwrap_err();
        assert!(e.to_string().contains("fell behind"), "{e}");
    }

    /// A reader that opened the FIFO and reads slowly gets everything.
    #[test]
    fn a_reader_gets_every_piece_in_order() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let path = fifo(dir.path());
        let reader = {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut s = String::new();
                std::fs::File::open(path)
                    .unwrap()
                    .read_to_string(&mut s)
                    .unwrap();
                s
            })
        };
        let mut w = SpoolWriter::start(Target::Special(path)).unwrap();
        for i in 0..20_000 {
            writeln!(w, "line {i}").unwrap();
        }
        w.finish().unwrap();
        let text = reader.join().unwrap();
        assert_eq!(text.lines().count(), 20_000);
        assert_eq!(text.lines().last(), Some("line 19999"));
    }
}
