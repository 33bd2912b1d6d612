//! Reading the server's first flight: records, handshake reassembly, and the
//! few messages we need (ServerHello, Certificate, CertificateRequest,
//! ServerHelloDone, alerts).
//!
//! [`FlightParser`] is sans-IO: feed it bytes as they arrive and it says when
//! the flight is complete. Every buffer is capped; every parse returns an
//! error instead of panicking. [`read_flight`] drives it from a socket with a
//! deadline. tls-parser decodes the message bodies; record framing and
//! reassembly across records are ours (tls-parser does not reassemble).

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use super::error::TlsError;

/// Largest record body we accept: 2^14 plus the 2048 bytes of expansion
/// RFC 5246 allows for compressed or encrypted records.
pub const MAX_RECORD_LEN: usize = 16384 + 2048;
/// Largest single handshake message (a long certificate chain fits).
pub const MAX_HANDSHAKE_MSG: usize = 128 * 1024;
/// Most handshake payload read from one server for one flight.
pub const MAX_FLIGHT_BYTES: usize = 256 * 1024;
/// Most bytes on the wire for one flight: a flight cut into 1-byte records
/// costs 6 bytes per byte of payload, and is still legal TLS.
pub const MAX_FLIGHT_WIRE_BYTES: usize = 6 * MAX_FLIGHT_BYTES;
/// Most certificates kept from one Certificate message.
pub const MAX_CERTS: usize = 10;

const CT_CHANGE_CIPHER_SPEC: u8 = 20;
const CT_ALERT: u8 = 21;
const CT_HANDSHAKE: u8 = 22;
const CT_APPLICATION_DATA: u8 = 23;
const CT_HEARTBEAT: u8 = 24;

const HT_HELLO_REQUEST: u8 = 0;
const HT_SERVER_HELLO: u8 = 2;
const HT_CERTIFICATE: u8 = 11;
const HT_CERTIFICATE_REQUEST: u8 = 13;
const HT_SERVER_HELLO_DONE: u8 = 14;

const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// A TLS alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    /// 1 warning, 2 fatal.
    pub level: u8,
    /// Alert description code (40 handshake_failure, 42 bad_certificate, 70 protocol_version, ...).
    pub description: u8,
}

/// What the ServerHello said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHelloInfo {
    /// `legacy_version` field.
    pub legacy_version: u16,
    /// Negotiated version: supported_versions if present, else `legacy_version`.
    pub version: u16,
    /// Chosen cipher suite.
    pub cipher_suite: u16,
    /// Chosen compression method (should be 0).
    pub compression: u8,
    /// This is a TLS 1.3 HelloRetryRequest.
    pub hello_retry: bool,
}

/// Everything read from one server flight.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerFlight {
    /// The ServerHello, if one arrived.
    pub server_hello: Option<ServerHelloInfo>,
    /// DER certificates from the Certificate message, leaf first.
    pub certificates: Vec<Vec<u8>>,
    /// The server sent a CertificateRequest (wants a client certificate).
    pub certificate_request: bool,
    /// ServerHelloDone arrived, so the flight is complete.
    pub server_hello_done: bool,
    /// A fatal alert (or close_notify) that ended the flight.
    pub alert: Option<Alert>,
    /// Warning alerts seen before the end.
    pub warnings: Vec<Alert>,
    /// At least one well-formed TLS record arrived.
    pub saw_record: bool,
    /// Bytes received.
    pub bytes: usize,
    /// Record payload received.
    pub payload: usize,
    /// A handshake message after the ServerHello was larger than
    /// [`MAX_HANDSHAKE_MSG`]; the flight ended there, unread.
    pub oversized: Option<OversizedMessage>,
}

/// A handshake message we would not buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OversizedMessage {
    /// Handshake type (11 is Certificate).
    pub msg_type: u8,
    /// Its length as announced.
    pub len: usize,
}

impl std::fmt::Display for OversizedMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.msg_type {
            HT_CERTIFICATE => "Certificate message".to_string(),
            t => format!("handshake message of type {t}"),
        };
        write!(
            f,
            "TLS {what} of {} bytes exceeds the {MAX_HANDSHAKE_MSG}-byte cap: not read",
            self.len
        )
    }
}

/// Whether the flight needs more bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Feed more bytes.
    NeedMore,
    /// Nothing more is needed; extra bytes are ignored.
    Done,
}

/// Incremental parser for one server flight.
#[derive(Debug)]
pub struct FlightParser {
    raw: Vec<u8>,
    hs: Vec<u8>,
    flight: ServerFlight,
    stop_after_hello: bool,
    done: bool,
}

/// Big-endian u16 at `at`, if present.
fn be16(b: &[u8], at: usize) -> Option<u16> {
    let x = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*x.first()?, *x.get(1)?]))
}

/// Big-endian u24 at `at`, if present.
fn be24(b: &[u8], at: usize) -> Option<usize> {
    let x = b.get(at..at.checked_add(3)?)?;
    Some(
        (usize::from(*x.first()?) << 16) | (usize::from(*x.get(1)?) << 8) | usize::from(*x.get(2)?),
    )
}

impl FlightParser {
    /// A parser that reads up to ServerHelloDone (or stops right after the
    /// ServerHello when `stop_after_hello`). It always stops after a TLS 1.3
    /// ServerHello or HelloRetryRequest, since what follows is encrypted.
    pub fn new(stop_after_hello: bool) -> Self {
        FlightParser {
            raw: Vec::new(),
            hs: Vec::new(),
            flight: ServerFlight::default(),
            stop_after_hello,
            done: false,
        }
    }

    /// What has been parsed so far.
    pub fn flight(&self) -> &ServerFlight {
        &self.flight
    }

    /// Give up the parsed flight.
    pub fn into_flight(self) -> ServerFlight {
        self.flight
    }

    /// Whether the flight is complete.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Bytes received but not yet part of a whole record.
    pub fn pending(&self) -> usize {
        self.raw.len()
    }

    /// Feed bytes from the peer.
    ///
    /// Errors: [`TlsError::NotTls`] when the first bytes are not a TLS
    /// record (or the "reply" is our own ClientHello echoed back),
    /// [`TlsError::Malformed`] for broken TLS after that,
    /// [`TlsError::TooLarge`] past [`MAX_FLIGHT_BYTES`] of payload or
    /// [`MAX_FLIGHT_WIRE_BYTES`] on the wire.
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, TlsError> {
        if self.done {
            return Ok(Progress::Done);
        }
        self.flight.bytes = self.flight.bytes.saturating_add(data.len());
        if self.flight.bytes > MAX_FLIGHT_WIRE_BYTES {
            return Err(TlsError::TooLarge(MAX_FLIGHT_WIRE_BYTES));
        }
        self.raw.extend_from_slice(data);
        let mut start = 0usize;
        let result = loop {
            if self.done {
                break Ok(Progress::Done);
            }
            let buf = self.raw.get(start..).unwrap_or_default();
            if !self.flight.saw_record {
                if let Err(e) = precheck_first_record(buf) {
                    break Err(e);
                }
            }
            let Some(header) = buf.get(..5) else {
                break Ok(Progress::NeedMore);
            };
            let (ct, major) = match header {
                [ct, major, _, _, _] => (*ct, *major),
                _ => break Ok(Progress::NeedMore),
            };
            let len = be16(header, 3).map(usize::from).unwrap_or(usize::MAX);
            if let Err(e) = check_header(ct, major, len, self.flight.saw_record) {
                break Err(e);
            }
            let Some(body) = buf.get(5..5 + len) else {
                break Ok(Progress::NeedMore);
            };
            let body = body.to_vec();
            start += 5 + len;
            self.flight.saw_record = true;
            self.flight.payload = self.flight.payload.saturating_add(len);
            if self.flight.payload > MAX_FLIGHT_BYTES {
                break Err(TlsError::TooLarge(MAX_FLIGHT_BYTES));
            }
            if let Err(e) = self.record(ct, &body) {
                break Err(e);
            }
        };
        // Drop consumed bytes.
        if start > 0 {
            self.raw.drain(..start.min(self.raw.len()));
        }
        result
    }

    /// The connection ended. Returns `NotTls` if bytes arrived but never a
    /// whole TLS record.
    pub fn finish_eof(&self) -> Result<(), TlsError> {
        if !self.flight.saw_record && !self.raw.is_empty() {
            return Err(TlsError::NotTls);
        }
        Ok(())
    }

    fn record(&mut self, ct: u8, body: &[u8]) -> Result<(), TlsError> {
        match ct {
            CT_HANDSHAKE => {
                self.hs.extend_from_slice(body);
                self.handshake_messages()
            }
            CT_ALERT => {
                let (Some(&level), Some(&description)) = (body.first(), body.get(1)) else {
                    return Err(TlsError::malformed("alert record shorter than 2 bytes"));
                };
                let alert = Alert { level, description };
                if level == 1 && description != 0 {
                    if self.flight.warnings.len() < 8 {
                        self.flight.warnings.push(alert);
                    }
                } else {
                    self.flight.alert = Some(alert);
                    self.done = true;
                }
                Ok(())
            }
            CT_CHANGE_CIPHER_SPEC | CT_HEARTBEAT => Ok(()),
            CT_APPLICATION_DATA => {
                if self.flight.server_hello.is_none() {
                    return Err(TlsError::malformed("application data before ServerHello"));
                }
                // Encrypted handshake: nothing more we can read.
                self.done = true;
                Ok(())
            }
            other => Err(TlsError::malformed(format!("record type {other}"))),
        }
    }

    fn handshake_messages(&mut self) -> Result<(), TlsError> {
        let mut start = 0usize;
        let mut outcome = Ok(());
        while !self.done {
            let buf = self.hs.get(start..).unwrap_or_default();
            let (Some(&ht), Some(len)) = (buf.first(), be24(buf, 1)) else {
                break;
            };
            if len > MAX_HANDSHAKE_MSG && self.flight.server_hello.is_some() {
                // The ServerHello already proved TLS: a message past our
                // cap (a huge certificate chain) is recorded and ends the
                // flight; it does not make the port something else.
                self.flight.oversized = Some(OversizedMessage { msg_type: ht, len });
                self.done = true;
                break;
            }
            if len > MAX_HANDSHAKE_MSG {
                outcome = Err(TlsError::malformed(format!(
                    "handshake message type {ht} of {len} bytes"
                )));
                break;
            }
            let Some(body) = buf.get(4..4 + len) else {
                break;
            };
            let body = body.to_vec();
            start += 4 + len;
            if let Err(e) = self.handshake(ht, &body) {
                outcome = Err(e);
                break;
            }
        }
        if start > 0 {
            self.hs.drain(..start.min(self.hs.len()));
        }
        if outcome.is_ok() && self.hs.len() > MAX_HANDSHAKE_MSG + 4 {
            outcome = Err(TlsError::TooLarge(MAX_HANDSHAKE_MSG));
        }
        outcome
    }

    fn handshake(&mut self, ht: u8, body: &[u8]) -> Result<(), TlsError> {
        if self.flight.server_hello.is_none() {
            return match ht {
                HT_HELLO_REQUEST => Ok(()),
                HT_SERVER_HELLO => {
                    let sh = parse_server_hello(body)?;
                    let stop = sh.hello_retry || sh.version >= 0x0304 || self.stop_after_hello;
                    self.flight.server_hello = Some(sh);
                    if stop {
                        self.done = true;
                    }
                    Ok(())
                }
                // A ClientHello (type 1) here is our own hello echoed back;
                // anything else before a ServerHello is not a TLS server.
                _ => Err(TlsError::NotTls),
            };
        }
        match ht {
            HT_CERTIFICATE => {
                if self.flight.certificates.is_empty() {
                    self.flight.certificates = parse_certificates(body)?;
                }
                Ok(())
            }
            HT_CERTIFICATE_REQUEST => {
                self.flight.certificate_request = true;
                Ok(())
            }
            HT_SERVER_HELLO_DONE => {
                self.flight.server_hello_done = true;
                self.done = true;
                Ok(())
            }
            HT_SERVER_HELLO => Err(TlsError::malformed("second ServerHello")),
            // ServerKeyExchange, CertificateStatus, HelloRequest, ...: skipped.
            _ => Ok(()),
        }
    }
}

/// Cheap checks on the first bytes, before a whole header has arrived, so
/// that a plaintext banner is rejected at once.
fn precheck_first_record(buf: &[u8]) -> Result<(), TlsError> {
    if let Some(&ct) = buf.first() {
        if ct != CT_HANDSHAKE && ct != CT_ALERT {
            return Err(TlsError::NotTls);
        }
    }
    if let Some(&major) = buf.get(1) {
        if major != 3 {
            return Err(TlsError::NotTls);
        }
    }
    if let Some(&minor) = buf.get(2) {
        if minor > 4 {
            return Err(TlsError::NotTls);
        }
    }
    Ok(())
}

fn check_header(ct: u8, major: u8, len: usize, saw_record: bool) -> Result<(), TlsError> {
    let fault = |what: String| {
        if saw_record {
            TlsError::Malformed(what)
        } else {
            TlsError::NotTls
        }
    };
    if !(CT_CHANGE_CIPHER_SPEC..=CT_HEARTBEAT).contains(&ct) {
        return Err(fault(format!("record type {ct}")));
    }
    if major != 3 {
        return Err(fault(format!("record major version {major}")));
    }
    if len > MAX_RECORD_LEN {
        return Err(fault(format!("record of {len} bytes")));
    }
    Ok(())
}

/// Parse a ServerHello body (after the 4-byte handshake header).
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHelloInfo, TlsError> {
    let (_, sh) = tls_parser::parse_tls_handshake_server_hello(body)
        .map_err(|e| TlsError::malformed(format!("ServerHello: {e:?}")))?;
    let mut version = sh.version.0;
    if let Some(mut ext) = sh.ext {
        // Walk the extensions ourselves: tls-parser rejects a whole list when
        // one entry is unusual (e.g. a HelloRetryRequest key_share).
        while !ext.is_empty() {
            let (Some(ty), Some(len)) = (be16(ext, 0), be16(ext, 2)) else {
                return Err(TlsError::malformed("truncated ServerHello extension"));
            };
            let len = usize::from(len);
            let Some(data) = ext.get(4..4 + len) else {
                return Err(TlsError::malformed("ServerHello extension overruns"));
            };
            if ty == EXT_SUPPORTED_VERSIONS {
                version =
                    be16(data, 0).ok_or_else(|| TlsError::malformed("empty supported_versions"))?;
            }
            ext = ext.get(4 + len..).unwrap_or_default();
        }
    }
    Ok(ServerHelloInfo {
        legacy_version: sh.version.0,
        version,
        cipher_suite: sh.cipher.0,
        compression: sh.compression.0,
        hello_retry: sh.random == HRR_RANDOM,
    })
}

/// Parse a Certificate body into DER blobs, leaf first.
pub fn parse_certificates(body: &[u8]) -> Result<Vec<Vec<u8>>, TlsError> {
    let (_, msg) = tls_parser::parse_tls_handshake_msg_certificate(body)
        .map_err(|e| TlsError::malformed(format!("Certificate: {e:?}")))?;
    match msg {
        tls_parser::TlsMessageHandshake::Certificate(c) => Ok(c
            .cert_chain
            .iter()
            .take(MAX_CERTS)
            .map(|raw| raw.data.to_vec())
            .collect()),
        _ => Err(TlsError::malformed("Certificate message")),
    }
}

/// How a hello exchange ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// At least one TLS record arrived (a ServerHello flight or an alert).
    /// `complete` is false when the deadline or EOF cut it short.
    Flight {
        /// What was read.
        flight: ServerFlight,
        /// The flight ended normally (ServerHelloDone, alert, TLS 1.3 hello).
        complete: bool,
    },
    /// The peer closed without sending anything.
    Closed,
}

/// The peer closed abortively (RST) rather than with a FIN.
pub(crate) fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe
    )
}

/// Read one flight with a deadline.
///
/// Returns `Err(Timeout)` only when nothing TLS arrived before the deadline;
/// a partial flight is returned as `Reply::Flight { complete: false }`. A
/// reset before any TLS record counts as `Reply::Closed`, like a FIN.
pub async fn read_flight<S>(
    stream: &mut S,
    deadline: Instant,
    timeout: Duration,
    stop_after_hello: bool,
) -> Result<Reply, TlsError>
where
    S: AsyncRead + Unpin,
{
    let mut parser = FlightParser::new(stop_after_hello);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                // A reset after a flight is an ending, not a failure.
                if parser.flight().saw_record {
                    return Ok(Reply::Flight {
                        flight: parser.into_flight(),
                        complete: false,
                    });
                }
                if is_reset(&e) {
                    parser.finish_eof()?;
                    return Ok(Reply::Closed);
                }
                return Err(TlsError::Io(e));
            }
            Err(_) => {
                if parser.flight().saw_record {
                    return Ok(Reply::Flight {
                        flight: parser.into_flight(),
                        complete: false,
                    });
                }
                return Err(TlsError::Timeout(timeout));
            }
        };
        if n == 0 {
            parser.finish_eof()?;
            if !parser.flight().saw_record {
                return Ok(Reply::Closed);
            }
            return Ok(Reply::Flight {
                flight: parser.into_flight(),
                complete: false,
            });
        }
        let chunk = buf.get(..n).unwrap_or_default();
        if parser.feed(chunk)? == Progress::Done {
            return Ok(Reply::Flight {
                flight: parser.into_flight(),
                complete: true,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ct: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![ct, 3, 3];
        r.extend_from_slice(&u16::try_from(body.len()).expect("small").to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    fn hs(ht: u8, body: &[u8]) -> Vec<u8> {
        let len = u32::try_from(body.len()).expect("small").to_be_bytes();
        let mut m = vec![ht, len[1], len[2], len[3]];
        m.extend_from_slice(body);
        m
    }

    fn server_hello(version: u16, suite: u16, exts: &[u8]) -> Vec<u8> {
        let mut b = version.to_be_bytes().to_vec();
        b.extend_from_slice(&[0x11; 32]);
        b.push(0); // session id
        b.extend_from_slice(&suite.to_be_bytes());
        b.push(0);
        if !exts.is_empty() {
            b.extend_from_slice(&u16::try_from(exts.len()).expect("small").to_be_bytes());
            b.extend_from_slice(exts);
        }
        b
    }

    /// A minimal DER-ish blob; the Certificate parser does not look inside.
    fn certificate_msg(certs: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for c in certs {
            let l = u32::try_from(c.len()).expect("small").to_be_bytes();
            list.extend_from_slice(&l[1..]);
            list.extend_from_slice(c);
        }
        let l = u32::try_from(list.len()).expect("small").to_be_bytes();
        let mut b = l[1..].to_vec();
        b.extend_from_slice(&list);
        b
    }

    fn tls12_flight() -> Vec<u8> {
        let mut msgs = hs(
            2,
            &server_hello(0x0303, 0x002f, &[0xff, 0x01, 0x00, 0x01, 0x00]),
        );
        msgs.extend(hs(11, &certificate_msg(&[b"leaf-der", b"ca-der"])));
        msgs.extend(hs(13, &[1, 1, 0, 2, 4, 1, 0, 0]));
        msgs.extend(hs(14, &[]));
        msgs
    }

    #[test]
    fn whole_flight_in_one_record() {
        let mut p = FlightParser::new(false);
        let bytes = record(22, &tls12_flight());
        assert_eq!(p.feed(&bytes).ok(), Some(Progress::Done));
        let f = p.into_flight();
        let sh = f.server_hello.expect("server hello");
        assert_eq!(
            (sh.version, sh.cipher_suite, sh.hello_retry),
            (0x0303, 0x002f, false)
        );
        assert_eq!(
            f.certificates,
            vec![b"leaf-der".to_vec(), b"ca-der".to_vec()]
        );
        assert!(f.certificate_request);
        assert!(f.server_hello_done);
    }

    #[test]
    fn reassembles_across_records_and_byte_by_byte() {
        let flight = tls12_flight();
        // Split the handshake stream into 7-byte records, then feed 1 byte at a time.
        let mut bytes = Vec::new();
        for chunk in flight.chunks(7) {
            bytes.extend(record(22, chunk));
        }
        let mut p = FlightParser::new(false);
        let mut last = Progress::NeedMore;
        for b in &bytes {
            last = p.feed(std::slice::from_ref(b)).expect("parses");
            if last == Progress::Done {
                break;
            }
        }
        assert_eq!(last, Progress::Done);
        let f = p.into_flight();
        assert_eq!(f.certificates.len(), 2);
        assert!(f.certificate_request && f.server_hello_done);
    }

    #[test]
    fn tls13_hello_stops_early() {
        let sv = [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04];
        let mut bytes = record(22, &hs(2, &server_hello(0x0303, 0x1302, &sv)));
        bytes.extend(record(20, &[1]));
        bytes.extend(record(23, &[0xaa; 40]));
        let mut p = FlightParser::new(false);
        assert_eq!(p.feed(&bytes).ok(), Some(Progress::Done));
        let sh = p.into_flight().server_hello.expect("hello");
        assert_eq!(
            (sh.legacy_version, sh.version, sh.cipher_suite),
            (0x0303, 0x0304, 0x1302)
        );
    }

    #[test]
    fn hello_retry_request_is_recognised() {
        let mut body = 0x0303u16.to_be_bytes().to_vec();
        body.extend_from_slice(&HRR_RANDOM);
        body.push(0);
        body.extend_from_slice(&0x1301u16.to_be_bytes());
        body.push(0);
        let exts = [
            0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, 0x00, 0x33, 0x00, 0x02, 0x00, 0x17,
        ];
        body.extend_from_slice(&u16::try_from(exts.len()).expect("small").to_be_bytes());
        body.extend_from_slice(&exts);
        let mut p = FlightParser::new(false);
        assert_eq!(
            p.feed(&record(22, &hs(2, &body))).ok(),
            Some(Progress::Done)
        );
        let sh = p.into_flight().server_hello.expect("hello");
        assert!(sh.hello_retry);
        assert_eq!(sh.version, 0x0304);
    }

    #[test]
    fn alert_ends_flight() {
        let mut p = FlightParser::new(false);
        assert_eq!(p.feed(&record(21, &[2, 40])).ok(), Some(Progress::Done));
        let f = p.into_flight();
        assert_eq!(
            f.alert,
            Some(Alert {
                level: 2,
                description: 40
            })
        );
        assert!(f.server_hello.is_none());
    }

    #[test]
    fn warning_alert_does_not_end_flight() {
        let mut p = FlightParser::new(false);
        assert_eq!(
            p.feed(&record(21, &[1, 112])).ok(),
            Some(Progress::NeedMore)
        );
        assert_eq!(
            p.feed(&record(22, &tls12_flight())).ok(),
            Some(Progress::Done)
        );
        assert_eq!(p.flight().warnings.len(), 1);
    }

    #[test]
    fn plaintext_is_not_tls() {
        for banner in [
            &b"HTTP/1.1 400 Bad Request\r\n"[..],
            b"\x01\x00",
            b"\x16\x01",
            b"\x15\x03\x07",
        ] {
            let mut p = FlightParser::new(false);
            assert!(
                matches!(p.feed(banner), Err(TlsError::NotTls)),
                "{banner:?}"
            );
        }
        // Too short to judge, then EOF.
        let mut p = FlightParser::new(false);
        assert_eq!(p.feed(b"\x16").ok(), Some(Progress::NeedMore));
        assert!(matches!(p.finish_eof(), Err(TlsError::NotTls)));
    }

    #[test]
    fn echoed_client_hello_is_not_tls() {
        let hello = super::super::hello::build_client_hello(
            &super::super::hello::ClientHelloSpec {
                version: super::super::hello::ProtocolVersion::Tls12,
                suites: &[0x002f],
                sni: None,
            },
            &super::super::hello::HelloRandom::generate(),
        )
        .expect("builds");
        let mut p = FlightParser::new(false);
        assert!(matches!(p.feed(&hello), Err(TlsError::NotTls)));
    }

    #[test]
    fn oversized_record_and_message_are_rejected() {
        let mut p = FlightParser::new(false);
        assert!(matches!(
            p.feed(&[22, 3, 3, 0xff, 0xff]),
            Err(TlsError::NotTls)
        ));
        // After a good record, a bad header is Malformed.
        let mut p2 = FlightParser::new(false);
        let first = hs(2, &server_hello(0x0303, 0x002f, &[]));
        assert_eq!(p2.feed(&record(22, &first)).ok(), Some(Progress::NeedMore));
        assert!(matches!(
            p2.feed(&[99, 3, 3, 0, 1, 0]),
            Err(TlsError::Malformed(_))
        ));
        // A handshake message claiming 16 MiB.
        let mut p3 = FlightParser::new(false);
        assert!(matches!(
            p3.feed(&record(22, &[2, 0xff, 0xff, 0xff])),
            Err(TlsError::Malformed(_))
        ));
    }

    #[test]
    fn truncated_flights_never_panic() {
        let mut full = record(22, &tls12_flight());
        full.extend(record(21, &[2, 42]));
        for cut in 0..full.len() {
            let mut p = FlightParser::new(false);
            let _ = p.feed(full.get(..cut).unwrap_or_default());
            let _ = p.finish_eof();
        }
        // Truncated bodies of every message type parse to errors, not panics.
        for body in [
            &tls12_flight()[..],
            &server_hello(0x0303, 1, &[0, 43, 0, 9]),
        ] {
            for cut in 0..body.len() {
                let part = body.get(..cut).unwrap_or_default();
                let _ = parse_server_hello(part);
                let _ = parse_certificates(part);
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
        for round in 0..20_000u32 {
            let len = rng.random_range(0..600usize);
            let mut data: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            // Half the time, make it look like a TLS record so the deeper
            // parsers get exercised.
            if round % 2 == 0 && data.len() >= 9 {
                let body_len = u16::try_from(data.len() - 5).unwrap_or(0);
                data[0] = 22;
                data[1] = 3;
                data[2] = 3;
                data[3..5].copy_from_slice(&body_len.to_be_bytes());
                data[5] = [2u8, 11, 13, 14][(round as usize / 2) % 4];
            }
            let mut p = FlightParser::new(round % 3 == 0);
            for chunk in data.chunks(rng.random_range(1..64usize)) {
                if p.feed(chunk).is_err() {
                    break;
                }
            }
            let _ = p.finish_eof();
            let _ = parse_server_hello(&data);
            let _ = parse_certificates(&data);
        }
    }

    #[test]
    fn oversized_certificate_after_server_hello_is_recorded_not_fatal() {
        let mut p = FlightParser::new(false);
        let mut bytes = record(22, &hs(2, &server_hello(0x0303, 0x002f, &[])));
        // A Certificate message announcing 200,000 bytes, and its start.
        let mut cert = vec![11, 0x03, 0x0d, 0x40];
        cert.extend_from_slice(&[0x30; 1000]);
        bytes.extend(record(22, &cert));
        assert_eq!(p.feed(&bytes).ok(), Some(Progress::Done));
        let f = p.into_flight();
        assert!(f.server_hello.is_some());
        assert!(f.certificates.is_empty());
        let o = f.oversized.expect("oversized recorded");
        assert_eq!((o.msg_type, o.len), (11, 200_000));
        assert!(o
            .to_string()
            .contains("Certificate message of 200000 bytes"));
    }

    #[test]
    fn long_flight_in_one_byte_records_parses_within_bounds() {
        // 60 KB of certificates: 360 KB on the wire as 1-byte records.
        let big = vec![0x42u8; 30_000];
        let mut flight = hs(2, &server_hello(0x0303, 0x002f, &[]));
        flight.extend(hs(11, &certificate_msg(&[&big, &big])));
        flight.extend(hs(14, &[]));
        let mut p = FlightParser::new(false);
        let mut last = Progress::NeedMore;
        for b in &flight {
            last = p
                .feed(&record(22, std::slice::from_ref(b)))
                .expect("parses");
        }
        assert_eq!(last, Progress::Done);
        let f = p.into_flight();
        assert_eq!(f.certificates.len(), 2);
        assert!(f.bytes > 300_000 && f.payload == flight.len());
        // Still bounded: endless 1-byte records end in TooLarge.
        let mut p = FlightParser::new(false);
        assert!(p
            .feed(&record(22, &hs(2, &server_hello(0x0303, 0x2f, &[]))))
            .is_ok());
        let one = record(22, &[0]);
        let mut fed = 0usize;
        let err = loop {
            match p.feed(&one) {
                Ok(_) => fed += one.len(),
                Err(e) => break e,
            }
            assert!(fed <= MAX_FLIGHT_WIRE_BYTES, "no bound");
        };
        assert!(matches!(err, TlsError::TooLarge(_)), "{err:?}");
    }

    #[test]
    fn flight_byte_cap() {
        let mut p = FlightParser::new(false);
        assert!(p
            .feed(&record(22, &hs(2, &server_hello(0x0303, 0x2f, &[]))))
            .is_ok());
        // ServerHello read; now an endless stream of CertificateStatus-like filler.
        let filler = record(22, &[0u8; 16000]);
        let mut err = None;
        for _ in 0..40 {
            if let Err(e) = p.feed(&filler) {
                err = Some(e);
                break;
            }
        }
        assert!(matches!(
            err,
            Some(TlsError::TooLarge(_)) | Some(TlsError::Malformed(_))
        ));
    }
}
