//! Atomic, private output files: write to a temporary file in the same
//! directory (mode 0600), fsync, then rename over the target. A crash leaves
//! either the old file or the new one, never half of one.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::spool::{Spool, SpoolWriter, Target};

/// A file being written; nothing appears at `path` until [`commit`](Self::commit).
pub struct AtomicFile {
    path: PathBuf,
    tmp: BufWriter<NamedTempFile>,
    _partial: Partial,
}

/// Temporary files being written now, so a process that must exit at once
/// (a second Ctrl-C: `std::process::exit` runs no destructor) can remove
/// them first ([`remove_partials`]).
static PARTIALS: std::sync::Mutex<std::collections::BTreeSet<PathBuf>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// One registered temporary file; forgotten when its [`AtomicFile`] is
/// committed or dropped.
struct Partial(PathBuf);

impl Drop for Partial {
    fn drop(&mut self) {
        if let Ok(mut set) = PARTIALS.lock() {
            set.remove(&self.0);
        }
    }
}

/// Remove every temporary output file still being written, then exit
/// with `code` (exit runs no destructor). The registry stays locked until
/// the process is gone, so no new temporary file appears meanwhile. Whole
/// files under their real names stay.
pub fn remove_partials_and_exit(code: i32) -> ! {
    let guard = PARTIALS.lock();
    if let Ok(set) = &guard {
        for p in set.iter() {
            let _ = std::fs::remove_file(p);
        }
    }
    std::process::exit(code)
}

impl AtomicFile {
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        let dir = parent_dir(path);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        // Created and registered under one lock, so a quitting process
        // (which holds it until exit) never misses a file.
        let mut partials = PARTIALS
            .lock()
            .map_err(|_| io::Error::other("poisoned lock"))?;
        // tempfile creates the file with mode 0600.
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".partial")
            .tempfile_in(&dir)?;
        partials.insert(tmp.path().to_path_buf());
        drop(partials);
        Ok(AtomicFile {
            path: path.to_path_buf(),
            _partial: Partial(tmp.path().to_path_buf()),
            tmp: BufWriter::new(tmp),
        })
    }

    /// Flush buffered bytes to the temporary file (JSONL streams do this per event).
    pub fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
    }

    pub fn commit(self) -> io::Result<()> {
        let tmp = self.tmp.into_inner().map_err(|e| e.into_error())?;
        tmp.as_file().sync_all()?;
        test_write_pause();
        tmp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tmp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
    }
}

/// TEST HOOK, not a feature: `FLINKSCAN_TEST_WRITE_PAUSE_MS=N` makes every
/// commit sleep N ms after the temporary file is complete and before the
/// rename, so a test can kill the process inside the write phase
/// deterministically (tests/it/safety.rs). Read once; unset or unparsable means
/// no pause, and nothing else reads it.
pub const TEST_WRITE_PAUSE_ENV: &str = "FLINKSCAN_TEST_WRITE_PAUSE_MS";

fn test_write_pause() {
    static PAUSE: std::sync::OnceLock<Option<std::time::Duration>> = std::sync::OnceLock::new();
    let pause = PAUSE.get_or_init(|| {
        std::env::var(TEST_WRITE_PAUSE_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .map(std::time::Duration::from_millis)
    });
    if let Some(d) = pause {
        std::thread::sleep(*d);
    }
}

/// Where one output goes, decided (and checked) before the scan starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    /// `-`, `/dev/stdout`, `/dev/fd/1`: this process's standard output.
    Stdout,
    /// A device, FIFO, socket or another `/dev/fd/N`: opened and written in
    /// place. Renaming a file over it would replace the node itself (as
    /// root, `/dev/stdout` would become a regular file).
    Special(PathBuf),
    /// A regular file, existing or not: written atomically ([`AtomicFile`]).
    File(PathBuf),
}

/// Why a destination cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DestError {
    #[error("is a directory")]
    Directory,
    #[error("cannot create a file in {dir}: {source}")]
    NotWritable {
        dir: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot be opened: {0}")]
    Unavailable(#[source] io::Error),
}

/// The file descriptor a path names directly, if any: `/dev/stdout` is 1.
fn fd_path(path: &Path) -> Option<u32> {
    let text = path.to_str()?;
    match text {
        "/dev/stdout" => return Some(1),
        "/dev/stderr" => return Some(2),
        _ => {}
    }
    ["/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/"]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix))
        .and_then(|n| n.parse().ok())
}

impl Dest {
    /// Classify `path` and make sure it can be written, without writing
    /// to it: a regular file gets a temporary sibling created and removed.
    pub fn check(path: &Path) -> Result<Dest, DestError> {
        use std::os::unix::fs::FileTypeExt;
        if path == Path::new("-") {
            return Ok(Dest::Stdout);
        }
        match fd_path(path) {
            Some(1) => return Ok(Dest::Stdout),
            Some(_) => {
                // The descriptor must be open: its link resolves.
                std::fs::metadata(path).map_err(DestError::Unavailable)?;
                return Ok(Dest::Special(path.to_path_buf()));
            }
            None => {}
        }
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => return Err(DestError::Directory),
            Ok(m) => {
                let t = m.file_type();
                if t.is_char_device() || t.is_block_device() || t.is_fifo() || t.is_socket() {
                    // Another name for our own stdout (a link to
                    // /proc/self/fd/1, the terminal we print to) is stdout:
                    // the summary must then move out of its way.
                    if is_stdout(&m) {
                        return Ok(Dest::Stdout);
                    }
                    return Ok(Dest::Special(path.to_path_buf()));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(DestError::Unavailable(e)),
        }
        // Dropping the temporary file removes it again.
        AtomicFile::create(path).map_err(|source| DestError::NotWritable {
            dir: parent_dir(path).display().to_string(),
            source,
        })?;
        Ok(Dest::File(path.to_path_buf()))
    }

    /// Write a whole document.
    pub fn write_all(&self, bytes: &[u8]) -> io::Result<()> {
        self.write_with(|w| w.write_all(bytes))
    }

    /// Write a document that `produce` streams out piece by piece (a big
    /// report is never built whole in memory): buffered, and for a regular
    /// file renamed into place only once `produce` succeeded.
    pub fn write_with(
        &self,
        produce: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        match self {
            // A reader that never opens or never reads must not hold the
            // run: the bytes go through a writer thread that gives up on it
            // (see `spool`).
            Dest::Stdout | Dest::Special(_) => {
                let mut out = SpoolWriter::start(self.spool_target())?;
                produce(&mut out)?;
                out.finish()
            }
            Dest::File(path) => {
                let mut f = io::BufWriter::new(AtomicFile::create(path)?);
                produce(&mut f)?;
                f.into_inner()
                    .map_err(io::IntoInnerError::into_error)?
                    .commit()
            }
        }
    }

    /// Open for a stream of lines (`--jsonl`); see [`Stream`]. Stdout and
    /// special files are opened by their writer thread, so this never
    /// waits for a FIFO's reader.
    pub fn open_stream(&self) -> io::Result<Stream> {
        Ok(match self {
            Dest::Stdout | Dest::Special(_) => Stream::Spool(Spool::start(self.spool_target())?),
            Dest::File(path) => Stream::File(AtomicFile::create(path)?),
        })
    }

    fn spool_target(&self) -> Target {
        match self {
            Dest::Special(path) | Dest::File(path) => Target::Special(path.clone()),
            Dest::Stdout => Target::Stdout,
        }
    }

    /// What two destinations share when they are the same place: stdout,
    /// the same existing file (device and inode), or the same new name in
    /// the same directory.
    pub fn identity(&self) -> String {
        use std::os::unix::fs::MetadataExt;
        let path = match self {
            Dest::Stdout => return "stdout".into(),
            Dest::Special(p) | Dest::File(p) => p,
        };
        if let Ok(m) = std::fs::metadata(path) {
            return format!("inode {}:{}", m.dev(), m.ino());
        }
        // Not there yet: a symbolic link to a file still to be created
        // (the checkpoint's `.results`) names that file, so the name it
        // will be created under is what counts.
        let path = link_target(path);
        let dir = parent_dir(&path);
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        let name = path.file_name().unwrap_or_default();
        format!("path {}", dir.join(name).display())
    }
}

/// Where a chain of symbolic links ends, even when the last one dangles
/// (writing through it creates that file). At most 40 links are followed,
/// as the kernel does (`ELOOP`).
fn link_target(path: &Path) -> PathBuf {
    let mut at = path.to_path_buf();
    for _ in 0..40 {
        let is_link = std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink());
        if !is_link {
            return at;
        }
        let Ok(next) = std::fs::read_link(&at) else {
            return at;
        };
        at = if next.is_absolute() {
            next
        } else {
            parent_dir(&at).join(next)
        };
    }
    at
}

fn is_stdout(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/fd/1").is_ok_and(|s| (s.dev(), s.ino()) == (m.dev(), m.ino()))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// An open line stream; only a regular file is committed at the end.
pub enum Stream {
    /// Stdout or a special file, written by a thread of its own: a write
    /// queues the bytes (bounded) and never waits for the reader.
    Spool(Spool),
    File(AtomicFile),
}

impl Stream {
    /// Make everything written so far visible (stdout, a FIFO: for as long
    /// as the reader keeps reading) or durable.
    pub fn finish(self) -> io::Result<()> {
        match self {
            Stream::Spool(s) => s.finish(),
            Stream::File(f) => f.commit(),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Spool(s) => s.push(buf.to_vec()).map(|()| buf.len()),
            Stream::File(f) => f.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Spool(_) => Ok(()),
            Stream::File(f) => f.flush(),
        }
    }
}

/// Open a file for reading with a size cap (reports, baselines).
pub fn read_capped(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    File::open(path)?.take(cap).read_to_end(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn atomic_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.json");
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"{}").unwrap();
        f.flush().unwrap();
        assert!(!p.exists(), "visible before commit");
        f.commit().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"{}");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn destinations_are_classified_without_writing() {
        assert_eq!(Dest::check(Path::new("-")).unwrap(), Dest::Stdout);
        assert_eq!(Dest::check(Path::new("/dev/stdout")).unwrap(), Dest::Stdout);
        assert_eq!(Dest::check(Path::new("/dev/fd/1")).unwrap(), Dest::Stdout);
        assert_eq!(
            Dest::check(Path::new("/dev/null")).unwrap(),
            Dest::Special(PathBuf::from("/dev/null"))
        );
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(Dest::check(dir.path()), Err(DestError::Directory)));
        assert!(matches!(
            Dest::check(&dir.path().join("missing").join("out.json")),
            Err(DestError::NotWritable { .. })
        ));
        let p = dir.path().join("out.json");
        assert_eq!(Dest::check(&p).unwrap(), Dest::File(p.clone()));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // Two names of one new file are one identity.
        let again = Dest::File(dir.path().join(".").join("out.json"));
        assert_eq!(Dest::File(p.clone()).identity(), again.identity());
        // So is a symbolic link to it, relative or absolute, even while the
        // file does not exist yet (writing through the link creates it).
        let rel = dir.path().join("rel.json");
        std::os::unix::fs::symlink("out.json", &rel).unwrap();
        let abs = dir.path().join("abs.json");
        std::os::unix::fs::symlink(&rel, &abs).unwrap();
        for link in [&rel, &abs] {
            assert_eq!(
                Dest::File(link.clone()).identity(),
                Dest::File(p.clone()).identity(),
                "{}",
                link.display()
            );
        }
        // Once it exists, a hard link is the same file too.
        std::fs::write(&p, b"").unwrap();
        let hard = dir.path().join("hard.json");
        std::fs::hard_link(&p, &hard).unwrap();
        assert_eq!(Dest::File(hard).identity(), Dest::File(p).identity());
    }

    /// Flushing (as the JSONL stream does per event) puts the bytes in the
    /// temporary file, and only there, before the commit.
    #[test]
    fn flush_reaches_the_temporary_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.jsonl");
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"one\n").unwrap();
        AtomicFile::flush(&mut f).unwrap();
        let tmp = f.tmp.get_ref().path().to_path_buf();
        assert_eq!(std::fs::read(&tmp).unwrap(), b"one\n");
        f.write_all(b"two\n").unwrap();
        Write::flush(&mut f).unwrap();
        assert_eq!(std::fs::read(&tmp).unwrap(), b"one\ntwo\n");
        assert!(!p.exists());
        f.commit().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"one\ntwo\n");
        assert!(!tmp.exists());
    }

    /// A whole document replaces the old file, and a line stream is only
    /// visible once finished.
    #[test]
    fn documents_and_streams_replace_the_old_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("report.json");
        std::fs::write(&p, b"old").unwrap();
        Dest::File(p.clone()).write_all(b"new document").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new document");
        let mut s = Dest::File(p.clone()).open_stream().unwrap();
        s.write_all(b"line\n").unwrap();
        s.flush().unwrap();
        let Stream::File(f) = &s else {
            panic!("a regular file streams through an AtomicFile")
        };
        assert_eq!(std::fs::read(f.tmp.get_ref().path()).unwrap(), b"line\n");
        assert_eq!(std::fs::read(&p).unwrap(), b"new document");
        s.finish().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"line\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(read_capped(&p, 2).unwrap(), b"li");
    }
}
