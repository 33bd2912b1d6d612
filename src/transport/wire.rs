//! Byte-level probes for Flink's non-HTTP ports, and their reply parsers.
//!
//! Every probe here is read-only for the target (facts in DESIGN.md):
//! - BLOB: `01 7f` is a GET with an unknown addressing mode; the server answers
//!   RETURN_ERROR with a Java-serialised IOException and closes. We never send
//!   a leading `00` (PUT) or `02` (DELETE on old versions) to an unknown port
//!   before the BLOB probe has ruled out a BLOB server.
//! - RPC: a stray Akka/Pekko HEARTBEAT PDU; the server answers DISASSOCIATE and
//!   closes without creating an association.
//! - JRMI: the Java RMI stream-protocol header; an RMI registry (what the JMX
//!   reporter opens) answers ProtocolAck.
//!
//! The parsers take untrusted bytes and never panic: they only look at
//! prefixes and search for fixed strings. Nothing is ever Java-deserialised.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::model::Dest;

pub const BLOB_PROBE: &[u8] = &[0x01, 0x7f];
pub const RPC_HEARTBEAT: &[u8] = &[0x00, 0x00, 0x00, 0x04, 0x12, 0x02, 0x08, 0x03];
pub const RPC_DISASSOCIATE: &[u8] = &[0x00, 0x00, 0x00, 0x04, 0x12, 0x02, 0x08, 0x02];
/// "JRMI", version 2, StreamProtocol.
pub const JRMI_PROBE: &[u8] = &[0x4a, 0x52, 0x4d, 0x49, 0x00, 0x02, 0x4b];
pub const TM_DATA_MAGIC: [u8; 4] = [0xba, 0xdc, 0x0f, 0xfe];

/// What came back from one exchange.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    pub bytes: Vec<u8>,
    /// The peer closed the connection (as opposed to going quiet).
    pub closed: bool,
    pub timed_out: bool,
    /// How long the TCP connect took: a round-trip estimate.
    pub connect_time: Duration,
}

/// Connect, send `payload`, and read until the peer closes, `cap` bytes
/// arrive, `done` says the reply is complete, or `timeout` passes.
pub async fn exchange(
    addr: impl Into<Dest>,
    payload: &[u8],
    timeout: Duration,
    cap: usize,
    done: impl Fn(&[u8]) -> bool,
) -> std::io::Result<Reply> {
    let (reply, stream) = exchange_kept(addr, payload, timeout, cap, done).await?;
    // Close with RST so a scan leaves no TIME_WAIT behind.
    let _ = stream.set_zero_linger();
    Ok(reply)
}

/// [`exchange`], and the connection, still open, for a caller that reads
/// the rest of the reply (identification's first HTTP answer).
pub async fn exchange_kept(
    addr: impl Into<Dest>,
    payload: &[u8],
    timeout: Duration,
    cap: usize,
    done: impl Fn(&[u8]) -> bool,
) -> std::io::Result<(Reply, tokio::net::TcpStream)> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut stream = tokio::time::timeout_at(deadline, crate::net::connect(addr.into()))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    if !payload.is_empty() {
        tokio::time::timeout_at(deadline, stream.write_all(payload))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "write timed out"))??;
    }
    let connect_time = started.elapsed();
    let mut reply = read_bounded(&mut stream, deadline, cap, done).await;
    reply.connect_time = connect_time;
    Ok((reply, stream))
}

pub async fn read_bounded<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    deadline: Instant,
    cap: usize,
    done: impl Fn(&[u8]) -> bool,
) -> Reply {
    let mut reply = Reply::default();
    let mut buf = [0u8; 4096];
    while reply.bytes.len() < cap {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => {
                reply.timed_out = true;
                break;
            }
            Ok(Ok(0)) | Ok(Err(_)) => {
                reply.closed = true;
                break;
            }
            Ok(Ok(n)) => {
                let room = cap - reply.bytes.len();
                reply.bytes.extend_from_slice(&buf[..n.min(room)]);
                if done(&reply.bytes) {
                    break;
                }
            }
        }
    }
    reply
}

/// A BLOB server's answer to `01 7f`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobReply {
    /// The exception message, as printable text (e.g. `Unknown type of BLOB addressing: 127.`).
    pub message: String,
}

/// `01` (RETURN_ERROR), a 4-byte little-endian length, then a serialised
/// `java.io.IOException` whose message names BLOB addressing.
pub fn parse_blob_reply(bytes: &[u8]) -> Option<BlobReply> {
    let (&status, rest) = bytes.split_first()?;
    if status != 0x01 {
        return None;
    }
    let len_bytes: [u8; 4] = rest.get(..4)?.try_into().ok()?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    let body = rest.get(4..)?;
    // The whole object may not have arrived within our cap; a sane length and
    // the Java serialisation magic are enough together with the message.
    if len == 0 || len > 1 << 20 || !body.starts_with(&[0xac, 0xed]) {
        return None;
    }
    let text = printable_runs(body);
    if !text.contains("java.io.IOException") {
        return None;
    }
    let message = java_strings(body)
        .into_iter()
        .find(|s| s.contains("BLOB"))?;
    Some(BlobReply { message })
}

/// A GET for a transient, job-unrelated BLOB that cannot exist: `01` GET,
/// `00` no job, a 20-byte key, type `01` (transient), 16 random bytes. The
/// server answers RETURN_ERROR "Cannot find required BLOB at <path>". It may
/// create the empty storage sub-directory on the way, so this runs only with
/// `--intrusive`.
pub fn blob_missing_key_probe(random: &[u8; 36]) -> Vec<u8> {
    let mut out = Vec::with_capacity(39);
    out.extend_from_slice(&[0x01, 0x00]);
    out.extend_from_slice(&random[..20]);
    out.push(0x01);
    out.extend_from_slice(&random[20..]);
    out
}

/// The local path named in a BLOB server's error reply, if any.
pub fn blob_error_path(bytes: &[u8]) -> Option<String> {
    if bytes.first() != Some(&0x01) {
        return None;
    }
    let body = bytes.get(5..)?;
    // "Cannot find required BLOB at /p/blobStore-x/..." (older) or
    // "/p/blobStorage/no_job/blob_t-... does not exist and ..." (1.15+).
    java_strings(body).into_iter().find_map(|s| {
        s.split_whitespace()
            .find(|w| w.starts_with('/') && w.to_ascii_lowercase().contains("blob"))
            .map(|w| w.trim_end_matches(['.', ',', ':']).to_string())
    })
}

/// Strings of a Java serialisation stream (TC_STRING `0x74`, a 2-byte
/// length, modified UTF-8), read without deserialising anything.
fn java_strings(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == 0x74 {
            if let Some(&[hi, lo]) = bytes.get(i + 1..i + 3) {
                let len = usize::from(u16::from_be_bytes([hi, lo]));
                if let Some(s) = bytes.get(i + 3..i + 3 + len) {
                    if len > 0 && s.iter().all(|c| (0x20..0x7f).contains(c)) {
                        out.push(String::from_utf8_lossy(s).into_owned());
                        i += 3 + len;
                        continue;
                    }
                }
            }
        }
        i += 1;
    }
    out
}

/// Whether a BLOB reply is complete enough to stop reading.
pub fn blob_reply_complete(bytes: &[u8]) -> bool {
    match bytes.get(1..5).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
        Some(len) => bytes.len() >= 5 + u32::from_le_bytes(len) as usize,
        None => false,
    }
}

/// The stray heartbeat is answered with DISASSOCIATE by Akka and Pekko alike.
pub fn is_rpc_disassociate(bytes: &[u8]) -> bool {
    bytes.starts_with(RPC_DISASSOCIATE)
}

/// RMI ProtocolAck (`0x4e`), then the endpoint the server saw us as.
pub fn is_jrmi_ack(bytes: &[u8]) -> bool {
    // 0x4e, then a Java modified-UTF8 host (2-byte length) and a 4-byte port.
    let Some((&ack, rest)) = bytes.split_first() else {
        return false;
    };
    if ack != 0x4e {
        return false;
    }
    match rest.get(..2) {
        Some(&[hi, lo]) => {
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            (1..=255).contains(&len) && rest.len() >= 2 + len
        }
        _ => false,
    }
}

/// A TaskManager data port answers garbage with an error frame carrying
/// Flink's netty magic number after the 4-byte frame length.
pub fn is_taskmanager_data(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(&TM_DATA_MAGIC[..])
}

/// Printable ASCII runs of 4+ characters, one per line: how we read Java
/// serialisation without deserialising it.
pub fn printable_runs(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for &b in bytes {
        if (0x20..0x7f).contains(&b) {
            run.push(char::from(b));
        } else {
            if run.len() >= 4 {
                out.push_str(&run);
                out.push('\n');
            }
            run.clear();
        }
    }
    if run.len() >= 4 {
        out.push_str(&run);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reply captured from Flink 1.20.1's BLOB server (java serialisation, trimmed).
    fn blob_sample() -> Vec<u8> {
        let mut body = vec![0xac, 0xed, 0x00, 0x05, 0x73, 0x72, 0x00, 0x13];
        body.extend_from_slice(b"java.io.IOException");
        body.extend_from_slice(&[0x6c, 0x80, 0x73, 0x64, 0x65, 0x25, 0xf0, 0xab, 0x02, 0x00]);
        body.extend_from_slice(&[0x74, 0x00, 0x25]);
        body.extend_from_slice(b"Unknown type of BLOB addressing: 127.");
        let mut out = vec![0x01];
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn blob() {
        let s = blob_sample();
        assert!(blob_reply_complete(&s));
        assert!(!blob_reply_complete(&s[..s.len() - 1]));
        let r = parse_blob_reply(&s).unwrap();
        assert_eq!(r.message, "Unknown type of BLOB addressing: 127.");
        // A look-alike that merely starts with 01 is not a BLOB server.
        assert!(parse_blob_reply(b"\x01\x05\x00\x00\x00hello").is_none());
        for n in 0..s.len() {
            let _ = parse_blob_reply(&s[..n]);
        }
    }

    #[test]
    fn blob_paths() {
        let reply = |msg: &str| {
            let mut body = vec![0xac, 0xed, 0x00, 0x05, 0x74];
            body.extend_from_slice(&(msg.len() as u16).to_be_bytes());
            body.extend_from_slice(msg.as_bytes());
            let mut out = vec![0x01];
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&body);
            out
        };
        assert_eq!(
            blob_error_path(&reply(
                "Cannot find required BLOB at /tmp/blobStore-1/job_x/blob_p-ab."
            ))
            .as_deref(),
            Some("/tmp/blobStore-1/job_x/blob_p-ab")
        );
        assert_eq!(
            blob_error_path(&reply("/tmp/jm_1/blobStorage/no_job/blob_t-1-2 does not exist and failed to copy from blob store")).as_deref(),
            Some("/tmp/jm_1/blobStorage/no_job/blob_t-1-2")
        );
        assert_eq!(
            blob_error_path(&reply("Unknown type of BLOB addressing: 127.")),
            None
        );
        let probe = blob_missing_key_probe(&[7u8; 36]);
        assert_eq!(probe.len(), 39);
        assert_eq!(&probe[..2], &[0x01, 0x00]);
        assert_eq!(probe[22], 0x01);
    }

    #[test]
    fn rpc_jrmi_tm() {
        assert!(is_rpc_disassociate(&[
            0, 0, 0, 4, 0x12, 2, 8, 2, 0, 0, 0, 0
        ]));
        assert!(!is_rpc_disassociate(&[0, 0, 0, 0]));
        assert!(is_jrmi_ack(b"\x4e\x00\x09127.0.0.1\x00\x00\xc3\x50"));
        assert!(!is_jrmi_ack(b"\x4e\x00"));
        assert!(!is_jrmi_ack(b"HTTP/1.1 400"));
        assert!(is_taskmanager_data(&[
            0, 0, 0, 40, 0xba, 0xdc, 0x0f, 0xfe, 5
        ]));
        assert!(!is_taskmanager_data(&[0xba, 0xdc, 0x0f, 0xfe]));
    }
}
