//! Records a scan keeps on disk rather than in memory (the report's
//! services and clusters, `crate::report::services` and
//! `crate::report::clusters`, and finding bodies, `crate::model::body`):
//! JSON, one after another in an unlinked temporary file, each read back by
//! where it starts and how long it is.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use serde::de::DeserializeOwned;
use serde::ser::{Error as _, SerializeSeq};
use serde::{Serialize, Serializer};

/// Append `record` at `*end` of `file` (an unlinked file in `TMPDIR`,
/// created on first use) and move `*end` past it; where it starts and its
/// length in bytes.
pub fn append<T: Serialize>(
    file: &mut Option<File>,
    end: &mut u64,
    record: &T,
    buf: &mut Vec<u8>,
) -> io::Result<(u64, u32)> {
    let file = match file {
        Some(f) => f,
        none => none.insert(tempfile::tempfile()?),
    };
    append_to(file, end, record, buf)
}

/// [`append`] to a file that exists.
pub fn append_to<T: Serialize>(
    file: &File,
    end: &mut u64,
    record: &T,
    buf: &mut Vec<u8>,
) -> io::Result<(u64, u32)> {
    buf.clear();
    serde_json::to_writer(&mut *buf, record).map_err(io::Error::other)?;
    let len = u32::try_from(buf.len()).map_err(io::Error::other)?;
    file.write_all_at(buf, *end)?;
    let at = *end;
    *end += u64::from(len);
    Ok((at, len))
}

/// Read back the record of `len` bytes at `at`.
pub fn read_at<T: DeserializeOwned>(
    file: Option<&File>,
    at: u64,
    len: u32,
    buf: &mut Vec<u8>,
) -> io::Result<T> {
    let file = file.ok_or_else(|| io::Error::other("spilled records without their file"))?;
    buf.resize(len as usize, 0);
    file.read_exact_at(buf, at)?;
    serde_json::from_slice(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Stream `records` as a JSON array, one read back at a time; a record that
/// cannot be read back fails the document (never a silent gap).
pub fn serialize_all<S, T, R>(
    ser: S,
    len: usize,
    records: impl Iterator<Item = io::Result<R>>,
    what: &str,
) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    T: Serialize + ?Sized,
    R: AsRef<T>,
{
    let mut seq = ser.serialize_seq(Some(len))?;
    for r in records {
        let r = r.map_err(|e| S::Error::custom(format!("reading back {what}: {e}")))?;
        seq.serialize_element(r.as_ref())?;
    }
    seq.end()
}
