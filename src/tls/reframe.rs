//! Re-framing the server's plaintext handshake records for rustls.
//!
//! rustls keeps every record of a handshake message it is joining, headers
//! included, and gives up past 64 KiB of them ("message buffer full"). A
//! server may legally cut its flight into 1-byte records (6 bytes on the
//! wire per byte of message), so a 12 KiB certificate chain sent that way
//! fails the handshake. [`Coalesce`] sits between the socket and rustls and
//! re-sends the server's plaintext handshake bytes in full-size records.
//! TLS allows this: handshake messages may be split over records at will,
//! nothing before ChangeCipherSpec is protected per record, and the
//! transcript hashes messages, not records. From the first record of any
//! other type on (ChangeCipherSpec, encrypted data, an alert), or anything
//! that is not a sane record header, bytes pass through untouched, so what
//! rustls judges is unchanged.
//!
//! Bounded: at most one record being read, one record's worth of joined
//! payload and the records ready for rustls are held.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::record::MAX_RECORD_LEN;

const CT_HANDSHAKE: u8 = 22;
/// Largest plaintext record payload (RFC 8446 5.1).
const MAX_PLAINTEXT: usize = 16384;
const READ_CHUNK: usize = 8192;

/// A stream whose incoming plaintext handshake records are re-framed.
#[derive(Debug)]
pub struct Coalesce<S> {
    inner: S,
    /// Bytes from the peer that do not yet form a whole record.
    pending: Vec<u8>,
    /// Joined handshake payload not yet passed on.
    joined: Vec<u8>,
    /// Record version of the joined bytes (from their first record).
    version: [u8; 2],
    /// Bytes at the start of `joined` that continue a message whose start
    /// was already passed on.
    continues: usize,
    /// Bytes ready for the reader, and how many of them it has taken.
    ready: Vec<u8>,
    taken: usize,
    passthrough: bool,
    /// The peer is done: what it sent is in `ready`, then this error or EOF.
    eof: bool,
    error: Option<io::Error>,
}

impl<S> Coalesce<S> {
    pub fn new(inner: S) -> Self {
        Coalesce {
            inner,
            pending: Vec::new(),
            joined: Vec::new(),
            version: [3, 3],
            continues: 0,
            ready: Vec::new(),
            taken: 0,
            passthrough: false,
            eof: false,
            error: None,
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Pass on `joined[..n]` as records of at most [`MAX_PLAINTEXT`] bytes.
    fn emit(&mut self, n: usize) {
        let n = n.min(self.joined.len());
        for chunk in self
            .joined
            .get(..n)
            .unwrap_or_default()
            .chunks(MAX_PLAINTEXT)
        {
            self.ready
                .extend_from_slice(&[CT_HANDSHAKE, self.version[0], self.version[1]]);
            // A chunk is at most 16384 bytes, so its length fits.
            self.ready
                .extend_from_slice(&u16::try_from(chunk.len()).unwrap_or(0).to_be_bytes());
            self.ready.extend_from_slice(chunk);
        }
        self.joined.drain(..n);
    }

    /// Pass on every whole message joined so far, and full records of a
    /// message too long for one; keep the start of an unfinished one.
    fn emit_complete(&mut self) {
        let done = complete_messages(&self.joined, self.continues);
        if done > 0 {
            self.emit(done);
            self.continues = 0;
        }
        while self.joined.len() >= MAX_PLAINTEXT {
            let remaining = if self.continues > 0 {
                self.continues
            } else {
                message_len(&self.joined, 0).unwrap_or(0)
            };
            self.emit(MAX_PLAINTEXT);
            self.continues = remaining.saturating_sub(MAX_PLAINTEXT);
        }
    }

    /// Stop re-framing: pass on what was joined, then everything raw.
    fn pass_through(&mut self) {
        let all = self.joined.len();
        self.emit(all);
        self.ready.append(&mut self.pending);
        self.passthrough = true;
    }

    /// Turn whole records in `pending` into joined payload.
    fn absorb(&mut self) {
        while !self.passthrough {
            let (Some(&ct), Some(&major), Some(&minor), Some(len)) = (
                self.pending.first(),
                self.pending.get(1),
                self.pending.get(2),
                be16(&self.pending, 3),
            ) else {
                return;
            };
            if ct != CT_HANDSHAKE || major != 3 || len > MAX_RECORD_LEN {
                self.pass_through();
                return;
            }
            let Some(body) = self.pending.get(5..5 + len) else {
                return;
            };
            if self.joined.is_empty() {
                self.version = [major, minor];
            }
            self.joined.extend_from_slice(body);
            self.pending.drain(..5 + len);
            self.emit_complete();
        }
    }
}

/// Length of the handshake message starting at `at` (header included).
fn message_len(b: &[u8], at: usize) -> Option<usize> {
    let h = b.get(at + 1..at + 4)?;
    let len =
        (usize::from(*h.first()?) << 16) | (usize::from(*h.get(1)?) << 8) | usize::from(*h.get(2)?);
    Some(4 + len)
}

/// Where the whole messages in `b` end; `continues` bytes at its start
/// finish a message begun earlier.
fn complete_messages(b: &[u8], continues: usize) -> usize {
    if continues > b.len() {
        return 0;
    }
    let mut at = continues;
    while let Some(len) = message_len(b, at) {
        if at + len > b.len() {
            break;
        }
        at += len;
    }
    at
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    let x = b.get(at..at + 2)?;
    Some(usize::from(u16::from_be_bytes([*x.first()?, *x.get(1)?])))
}

impl<S: AsyncRead + Unpin> AsyncRead for Coalesce<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.taken < this.ready.len() {
                let avail = this.ready.get(this.taken..).unwrap_or_default();
                let n = avail.len().min(buf.remaining());
                buf.put_slice(avail.get(..n).unwrap_or_default());
                this.taken += n;
                if this.taken == this.ready.len() {
                    this.ready.clear();
                    this.taken = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = this.error.take() {
                return Poll::Ready(Err(e));
            }
            if this.passthrough || this.eof {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut chunk = [0u8; READ_CHUNK];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    // Hand over what arrived first; the error comes after it.
                    this.pass_through();
                    this.eof = true;
                    this.error = Some(e);
                }
                Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                    this.pass_through();
                    this.eof = true;
                }
                Poll::Ready(Ok(())) => {
                    this.pending.extend_from_slice(rb.filled());
                    this.absorb();
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalesce<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn record(ct: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![ct, 3, 3];
        r.extend_from_slice(&u16::try_from(body.len()).unwrap_or(0).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    fn message(ht: u8, len: usize) -> Vec<u8> {
        let l = u32::try_from(len).unwrap_or(0).to_be_bytes();
        let mut m = vec![ht, l[1], l[2], l[3]];
        m.extend((0..len).map(|i| (i % 251) as u8));
        m
    }

    /// Records as (type, body) pairs, checking framing.
    fn records(mut b: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let len = be16(b, 3).unwrap_or(usize::MAX);
            let body = b.get(5..5 + len).unwrap_or_else(|| panic!("torn record"));
            out.push((b[0], body.to_vec()));
            b = &b[5 + len..];
        }
        out
    }

    async fn through(wire: Vec<u8>) -> Vec<u8> {
        // A reader that hands out one byte per read, the worst case.
        let (mut tx, rx) = tokio::io::duplex(1);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let _ = tx.write_all(&wire).await;
        });
        let mut out = Vec::new();
        let mut c = Coalesce::new(rx);
        let _ = c.read_to_end(&mut out).await;
        let _ = writer.await;
        out
    }

    #[tokio::test]
    async fn one_byte_records_become_whole_ones() {
        // ServerHello, a 40 KB Certificate, ServerHelloDone: 1-byte records,
        // then ChangeCipherSpec and "encrypted" data that must pass untouched.
        let mut hs = message(2, 70);
        hs.extend(message(11, 40_000));
        hs.extend(message(14, 0));
        let mut wire = Vec::new();
        for b in &hs {
            wire.extend(record(22, std::slice::from_ref(b)));
        }
        let tail = [
            record(20, &[1]),
            record(22, &[9; 40]),
            record(23, &[7; 100]),
        ]
        .concat();
        wire.extend_from_slice(&tail);
        let out = through(wire).await;
        let recs = records(&out);
        let joined: Vec<u8> = recs
            .iter()
            .take_while(|r| r.0 == 22)
            .flat_map(|r| r.1.clone())
            .collect();
        assert_eq!(joined, hs);
        assert!(recs.iter().all(|r| r.1.len() <= MAX_PLAINTEXT));
        // ServerHello, the certificate in 3 records, ServerHelloDone, the tail's 3.
        assert_eq!(recs.len(), 8);
        assert!(out.ends_with(&tail));
    }

    #[tokio::test]
    async fn non_tls_and_odd_records_pass_untouched() {
        for wire in [
            b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(),
            vec![22, 3, 3, 0xff, 0xff, 1, 2, 3],
            record(21, &[2, 40]),
            vec![22, 3],
        ] {
            assert_eq!(through(wire.clone()).await, wire);
        }
        // A message cut short by EOF is passed on as it came.
        let wire = record(22, &message(11, 100)[..50]);
        assert_eq!(through(wire.clone()).await, wire);
    }

    #[test]
    fn message_boundaries() {
        let mut b = message(2, 3);
        b.extend(message(11, 10));
        assert_eq!(complete_messages(&b, 0), b.len());
        assert_eq!(complete_messages(&b[..10], 0), 7);
        assert_eq!(complete_messages(&b[..3], 0), 0);
        assert_eq!(complete_messages(&b, 7), b.len());
        assert_eq!(complete_messages(&b[..5], 9), 0);
    }
}
