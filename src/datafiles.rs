//! User-supplied data files: a directory tree or a zip archive of TOML and
//! JSON files, read one way for `--probes` and `--advisories`. Bounded
//! (bytes per file, files in all, directory depth, so a symlink loop ends),
//! in name order whatever the file system or the archive lists first, and
//! every error names the file.

use std::io::Read;
use std::path::Path;

/// Per-file cap: a probe file or an OSV record is a few KiB.
pub const FILE_CAP: u64 = 4 << 20;
/// Files (or archive entries) in one tree: an osv.dev bulk export holds
/// tens of thousands.
pub const ENTRIES_CAP: usize = 1_000_000;
/// Directory levels below the root; deeper is taken for a symlink loop.
pub const DEPTH_CAP: usize = 16;

/// One file read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Its path inside the tree or the archive, `/`-separated.
    pub rel: String,
    /// Where it came from, for messages: `DIR/sub/x.json` or `ARCHIVE:sub/x.json`.
    pub origin: String,
    pub bytes: Vec<u8>,
}

impl DataFile {
    /// The contents as text, or an error naming the file.
    pub fn text(&self) -> Result<&str, DataError> {
        std::str::from_utf8(&self.bytes).map_err(|_| DataError::Invalid {
            file: self.origin.clone(),
            message: "not UTF-8".into(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("cannot read {file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

fn invalid(file: &str, message: impl Into<String>) -> DataError {
    DataError::Invalid {
        file: file.to_string(),
        message: message.into(),
    }
}

fn read_err(p: &Path, source: std::io::Error) -> DataError {
    DataError::Read {
        file: p.display().to_string(),
        source,
    }
}

/// Every file under `path` (a directory, or else a zip archive) whose name
/// ends with one of `suffixes` (`.toml`, `.json`), sorted by `rel`.
pub fn read(path: &Path, suffixes: &[&str]) -> Result<Vec<DataFile>, DataError> {
    read_capped(path, suffixes, FILE_CAP)
}

fn read_capped(path: &Path, suffixes: &[&str], cap: u64) -> Result<Vec<DataFile>, DataError> {
    let wanted = |name: &str| suffixes.iter().any(|s| name.ends_with(s));
    let mut out = Vec::new();
    if path.is_dir() {
        walk(path, path, 0, &wanted, cap, &mut out)?;
    } else {
        regular(path)?;
        read_zip(path, &wanted, cap, &mut out)?;
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// At most `cap` bytes of `r`, or None when it holds more.
fn read_bounded(r: impl Read, cap: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    r.take(cap + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= cap).then_some(bytes))
}

fn too_large(origin: &str, cap: u64) -> DataError {
    invalid(origin, format!("larger than {} MiB", (cap >> 20).max(1)))
}

/// Opening a FIFO blocks until a writer comes, and a device may never end:
/// only regular files are read (a symlink counts as what it points at).
fn regular(path: &Path) -> Result<(), DataError> {
    let meta = std::fs::metadata(path).map_err(|e| read_err(path, e))?;
    if meta.file_type().is_file() {
        return Ok(());
    }
    let kind = {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            "a FIFO"
        } else if t.is_socket() {
            "a socket"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        }
    };
    Err(invalid(
        &path.display().to_string(),
        format!("{kind}: only regular files (or a directory of them) are read"),
    ))
}

fn walk(
    root: &Path,
    dir: &Path,
    depth: usize,
    wanted: &dyn Fn(&str) -> bool,
    cap: u64,
    out: &mut Vec<DataFile>,
) -> Result<(), DataError> {
    if depth > DEPTH_CAP {
        return Err(invalid(
            &dir.display().to_string(),
            format!("more than {DEPTH_CAP} directory levels deep (a symlink loop?)"),
        ));
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| read_err(dir, e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| read_err(dir, e))?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(root, &path, depth + 1, wanted, cap, out)?;
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        if !wanted(&rel) {
            continue;
        }
        if out.len() >= ENTRIES_CAP {
            return Err(invalid(
                &root.display().to_string(),
                format!("more than {ENTRIES_CAP} files"),
            ));
        }
        let origin = path.display().to_string();
        regular(&path)?;
        let file = std::fs::File::open(&path).map_err(|e| read_err(&path, e))?;
        let bytes = read_bounded(file, cap)
            .map_err(|e| read_err(&path, e))?
            .ok_or_else(|| too_large(&origin, cap))?;
        out.push(DataFile { rel, origin, bytes });
    }
    Ok(())
}

fn read_zip(
    path: &Path,
    wanted: &dyn Fn(&str) -> bool,
    cap: u64,
    out: &mut Vec<DataFile>,
) -> Result<(), DataError> {
    let file = std::fs::File::open(path).map_err(|e| read_err(path, e))?;
    let name = path.display().to_string();
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| invalid(&name, format!("neither a directory nor a zip archive: {e}")))?;
    if zip.len() > ENTRIES_CAP {
        return Err(invalid(&name, format!("more than {ENTRIES_CAP} entries")));
    }
    for i in 0..zip.len() {
        let entry = zip
            .by_index(i)
            .map_err(|e| invalid(&name, format!("entry {i}: {e}")))?;
        if !entry.is_file() {
            continue;
        }
        let rel = entry.name().to_string();
        if !wanted(&rel) {
            continue;
        }
        let origin = format!("{name}:{rel}");
        // The archive's declared sizes are the sender's word: only the
        // bytes actually read count.
        let bytes = read_bounded(entry, cap)
            .map_err(|e| invalid(&origin, e.to_string()))?
            .ok_or_else(|| too_large(&origin, cap))?;
        out.push(DataFile { rel, origin, bytes });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path();
        std::fs::create_dir_all(p.join("b/c")).unwrap_or_else(|e| panic!("{e}"));
        for (name, text) in [
            ("z.toml", "z"),
            ("a.json", "a"),
            ("b/c/deep.toml", "deep"),
            ("b/notes.txt", "skipped"),
        ] {
            std::fs::write(p.join(name), text).unwrap_or_else(|e| panic!("{e}"));
        }
        dir
    }

    #[test]
    fn a_directory_is_read_recursively_in_name_order_and_filtered() {
        let dir = tree();
        let files = read(dir.path(), &[".toml", ".json"]).unwrap_or_else(|e| panic!("{e}"));
        let rels: Vec<&str> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["a.json", "b/c/deep.toml", "z.toml"]);
        assert_eq!(files[1].bytes, b"deep");
        assert_eq!(
            files[1].origin,
            dir.path().join("b/c/deep.toml").display().to_string()
        );
        let toml_only = read(dir.path(), &[".toml"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(toml_only.len(), 2);
    }

    #[test]
    fn a_zip_reads_like_a_directory_with_the_archive_in_the_origin() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("data.zip");
        let mut zip =
            zip::ZipWriter::new(std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}")));
        let opts = zip::write::SimpleFileOptions::default();
        for (name, text) in [("z.toml", "z"), ("sub/a.json", "a"), ("readme.md", "-")] {
            zip.start_file(name, opts).unwrap_or_else(|e| panic!("{e}"));
            zip.write_all(text.as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
        }
        zip.finish().unwrap_or_else(|e| panic!("{e}"));
        let files = read(&path, &[".toml", ".json"]).unwrap_or_else(|e| panic!("{e}"));
        let rels: Vec<&str> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["sub/a.json", "z.toml"]);
        assert_eq!(files[0].origin, format!("{}:sub/a.json", path.display()));
    }

    #[test]
    fn a_file_over_the_cap_is_an_error_naming_it() {
        let dir = tree();
        std::fs::write(dir.path().join("big.toml"), vec![b'#'; 2 << 20])
            .unwrap_or_else(|e| panic!("{e}"));
        let e = read_capped(dir.path(), &[".toml"], 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("big.toml") && e.contains("larger than 1 MiB"),
            "{e}"
        );
    }

    #[test]
    fn a_symlink_loop_ends_with_an_error_naming_the_directory() {
        let dir = tree();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("b/loop"))
            .unwrap_or_else(|e| panic!("{e}"));
        let e = read(dir.path(), &[".toml"]).unwrap_err().to_string();
        assert!(e.contains("loop") && e.contains("levels deep"), "{e}");
    }

    #[test]
    fn neither_directory_nor_zip_says_so() {
        let dir = tree();
        let e = read(&dir.path().join("z.toml"), &[".toml"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("z.toml") && e.contains("neither a directory nor a zip"),
            "{e}"
        );
    }
}
