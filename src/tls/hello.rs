//! Hand-built ClientHello messages, one TLS record each.
//!
//! rustls cannot offer SSLv3, TLS 1.0/1.1, CBC or RSA-key-exchange suites, so
//! version and suite enumeration writes its own ClientHello bytes and reads
//! only the server's first flight (see `record.rs`). Nothing here handles peer
//! data: this module only encodes.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::error::TlsError;

/// A protocol version we can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ProtocolVersion {
    /// SSL 3.0 (0x0300).
    Ssl3,
    /// TLS 1.0 (0x0301).
    Tls10,
    /// TLS 1.1 (0x0302).
    Tls11,
    /// TLS 1.2 (0x0303).
    Tls12,
    /// TLS 1.3 (0x0304, negotiated through the supported_versions extension).
    Tls13,
}

impl AsRef<str> for ProtocolVersion {
    fn as_ref(&self) -> &str {
        self.name()
    }
}

impl ProtocolVersion {
    /// Every version, oldest first.
    pub const ALL: [ProtocolVersion; 5] = [
        ProtocolVersion::Ssl3,
        ProtocolVersion::Tls10,
        ProtocolVersion::Tls11,
        ProtocolVersion::Tls12,
        ProtocolVersion::Tls13,
    ];

    /// The version number on the wire.
    pub fn wire(self) -> u16 {
        match self {
            ProtocolVersion::Ssl3 => 0x0300,
            ProtocolVersion::Tls10 => 0x0301,
            ProtocolVersion::Tls11 => 0x0302,
            ProtocolVersion::Tls12 => 0x0303,
            ProtocolVersion::Tls13 => 0x0304,
        }
    }

    /// The version for a wire number, if it is one we know.
    pub fn from_wire(v: u16) -> Option<Self> {
        ProtocolVersion::ALL.into_iter().find(|p| p.wire() == v)
    }

    /// Display name as used in reports: `SSLv3`, `TLSv1.0` .. `TLSv1.3`.
    pub fn name(self) -> &'static str {
        match self {
            ProtocolVersion::Ssl3 => "SSLv3",
            ProtocolVersion::Tls10 => "TLSv1.0",
            ProtocolVersion::Tls11 => "TLSv1.1",
            ProtocolVersion::Tls12 => "TLSv1.2",
            ProtocolVersion::Tls13 => "TLSv1.3",
        }
    }

    /// Deprecated versions (RFC 8996 and RFC 7568).
    pub fn is_legacy(self) -> bool {
        matches!(
            self,
            ProtocolVersion::Ssl3 | ProtocolVersion::Tls10 | ProtocolVersion::Tls11
        )
    }
}

/// Name of any wire version, known or not.
pub(crate) fn version_name(v: u16) -> String {
    match ProtocolVersion::from_wire(v) {
        Some(p) => p.name().to_string(),
        None => format!("0x{v:04x}"),
    }
}

/// Signalling suite TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746).
const SCSV_RENEGOTIATION: u16 = 0x00ff;

/// Named groups for supported_groups: x25519, P-256, P-384, P-521, x448,
/// P-224, P-192 and the RFC 7919 FFDHE groups (as OpenSSL 3 clients send them).
const GROUPS: [u16; 12] = [
    0x001d, 0x0017, 0x0018, 0x0019, 0x001e, 0x0015, 0x0013, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104,
];

/// Groups offered in a TLS 1.3 hello (TLS 1.3 forbids the legacy curves).
const GROUPS_TLS13: [u16; 10] = [
    0x001d, 0x0017, 0x0018, 0x0019, 0x001e, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104,
];

/// signature_algorithms: modern first, then the legacy ones old servers need.
const SIGNATURE_SCHEMES: [u16; 21] = [
    0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0809, 0x080a, 0x080b, 0x0401,
    0x0501, 0x0601, 0x0303, 0x0301, 0x0302, 0x0203, 0x0201, 0x0202, 0x0402,
];

const EXT_SERVER_NAME: u16 = 0;
const EXT_SUPPORTED_GROUPS: u16 = 10;
const EXT_EC_POINT_FORMATS: u16 = 11;
const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
const EXT_PADDING: u16 = 21;
const EXT_EXTENDED_MASTER_SECRET: u16 = 23;
const EXT_SESSION_TICKET: u16 = 35;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const EXT_PSK_KEY_EXCHANGE_MODES: u16 = 45;
const EXT_KEY_SHARE: u16 = 51;
const GROUP_X25519: u16 = 0x001d;

/// What to put in one ClientHello.
#[derive(Debug, Clone)]
pub struct ClientHelloSpec<'a> {
    /// Highest version offered. For TLS 1.3 the legacy version is 1.2 and
    /// supported_versions carries only 1.3.
    pub version: ProtocolVersion,
    /// Cipher suites in preference order (the renegotiation SCSV is added).
    pub suites: &'a [u16],
    /// DNS name for SNI, already checked by [`server_name`].
    pub sni: Option<&'a str>,
}

/// The random parts of a hello, separate so tests can fix them.
#[derive(Debug, Clone)]
pub struct HelloRandom {
    /// client_random.
    pub random: [u8; 32],
    /// legacy_session_id for TLS 1.3 middlebox compatibility.
    pub session_id: [u8; 32],
    /// x25519 key share; never used, since we stop after the ServerHello.
    pub key_share: [u8; 32],
}

impl HelloRandom {
    /// Fresh random values.
    pub fn generate() -> Self {
        HelloRandom {
            random: rand::random(),
            session_id: rand::random(),
            key_share: rand::random(),
        }
    }
}

/// Check a name for SNI. IP literals give `Ok(None)` (RFC 6066 forbids them
/// in SNI); names that are not DNS names are an error. A trailing dot is
/// dropped.
pub fn server_name(name: Option<&str>) -> Result<Option<String>, TlsError> {
    let Some(raw) = name else {
        return Ok(None);
    };
    let trimmed = raw.trim_start_matches('[').trim_end_matches(']');
    if trimmed.parse::<IpAddr>().is_ok() {
        return Ok(None);
    }
    let host = raw.strip_suffix('.').unwrap_or(raw);
    let bad = || TlsError::InvalidServerName(raw.chars().take(80).collect());
    if host.is_empty() || host.len() > 253 {
        return Err(bad());
    }
    for label in host.split('.') {
        let ok_len = !label.is_empty() && label.len() <= 63;
        let ok_chars = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok_len || !ok_chars || label.starts_with('-') || label.ends_with('-') {
            return Err(bad());
        }
    }
    Ok(Some(host.to_ascii_lowercase()))
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn len_u16(len: usize) -> Result<u16, TlsError> {
    u16::try_from(len).map_err(|_| TlsError::Config(format!("field of {len} bytes too long")))
}

fn len_u24(len: usize) -> Result<[u8; 3], TlsError> {
    if len > 0x00ff_ffff {
        return Err(TlsError::Config(format!("message of {len} bytes too long")));
    }
    let [_, hi, mid, lo] = u32::try_from(len)
        .map_err(|_| TlsError::Config(format!("message of {len} bytes too long")))?
        .to_be_bytes();
    Ok([hi, mid, lo])
}

/// Append `data` with a u16 length prefix.
fn put_vec16(out: &mut Vec<u8>, data: &[u8]) -> Result<(), TlsError> {
    put_u16(out, len_u16(data.len())?);
    out.extend_from_slice(data);
    Ok(())
}

/// Append `data` with a u8 length prefix.
fn put_vec8(out: &mut Vec<u8>, data: &[u8]) -> Result<(), TlsError> {
    let len = u8::try_from(data.len())
        .map_err(|_| TlsError::Config(format!("field of {} bytes too long", data.len())))?;
    out.push(len);
    out.extend_from_slice(data);
    Ok(())
}

fn u16_list(values: &[u16]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

fn put_ext(out: &mut Vec<u8>, ext_type: u16, body: &[u8]) -> Result<(), TlsError> {
    put_u16(out, ext_type);
    put_vec16(out, body)
}

fn extensions(spec: &ClientHelloSpec<'_>, rnd: &HelloRandom) -> Result<Vec<u8>, TlsError> {
    let mut ext = Vec::with_capacity(256);
    if let Some(host) = spec.sni {
        // server_name_list { host_name(0), name }
        let mut entry = vec![0u8];
        put_vec16(&mut entry, host.as_bytes())?;
        let mut list = Vec::new();
        put_vec16(&mut list, &entry)?;
        put_ext(&mut ext, EXT_SERVER_NAME, &list)?;
    }
    let tls13 = spec.version == ProtocolVersion::Tls13;
    let groups: &[u16] = if tls13 { &GROUPS_TLS13 } else { &GROUPS };
    let mut body = Vec::new();
    put_vec16(&mut body, &u16_list(groups))?;
    put_ext(&mut ext, EXT_SUPPORTED_GROUPS, &body)?;
    if !tls13 {
        put_ext(&mut ext, EXT_EC_POINT_FORMATS, &[1, 0])?;
    }
    if spec.version >= ProtocolVersion::Tls12 {
        let mut body = Vec::new();
        put_vec16(&mut body, &u16_list(&SIGNATURE_SCHEMES))?;
        put_ext(&mut ext, EXT_SIGNATURE_ALGORITHMS, &body)?;
    }
    put_ext(&mut ext, EXT_SESSION_TICKET, &[])?;
    put_ext(&mut ext, EXT_EXTENDED_MASTER_SECRET, &[])?;
    if tls13 {
        let mut body = Vec::new();
        put_vec8(&mut body, &u16_list(&[ProtocolVersion::Tls13.wire()]))?;
        put_ext(&mut ext, EXT_SUPPORTED_VERSIONS, &body)?;
        // psk_dhe_ke only; no PSK is offered.
        put_ext(&mut ext, EXT_PSK_KEY_EXCHANGE_MODES, &[1, 1])?;
        let mut share = Vec::new();
        put_u16(&mut share, GROUP_X25519);
        put_vec16(&mut share, &rnd.key_share)?;
        let mut body = Vec::new();
        put_vec16(&mut body, &share)?;
        put_ext(&mut ext, EXT_KEY_SHARE, &body)?;
    }
    Ok(ext)
}

/// Encode one ClientHello as a complete handshake record.
///
/// SSLv3 hellos carry no extensions. TLS 1.0-1.2 hellos use record version
/// 0x0301 (what browsers send, and what old servers accept). Hellos whose
/// handshake body would be 256-511 bytes get a padding extension (RFC 7685)
/// to avoid a known F5 bug.
pub fn build_client_hello(
    spec: &ClientHelloSpec<'_>,
    rnd: &HelloRandom,
) -> Result<Vec<u8>, TlsError> {
    let tls13 = spec.version == ProtocolVersion::Tls13;
    let legacy_version = if tls13 {
        ProtocolVersion::Tls12.wire()
    } else {
        spec.version.wire()
    };
    let mut suites: Vec<u16> = spec.suites.to_vec();
    if !tls13 && !suites.contains(&SCSV_RENEGOTIATION) {
        suites.push(SCSV_RENEGOTIATION);
    }

    let mut body = Vec::with_capacity(1024);
    put_u16(&mut body, legacy_version);
    body.extend_from_slice(&rnd.random);
    if tls13 {
        put_vec8(&mut body, &rnd.session_id)?;
    } else {
        body.push(0);
    }
    put_vec16(&mut body, &u16_list(&suites))?;
    put_vec8(&mut body, &[0])?; // compression: null only

    if spec.version != ProtocolVersion::Ssl3 {
        let mut ext = extensions(spec, rnd)?;
        // 4 (handshake header) + body + 2 (extensions length) + extensions
        let hs_len = 4 + body.len() + 2 + ext.len();
        if (256..512).contains(&hs_len) {
            let pad = (512 - hs_len).saturating_sub(4).max(1);
            put_ext(&mut ext, EXT_PADDING, &vec![0u8; pad])?;
        }
        put_vec16(&mut body, &ext)?;
    }

    let mut hs = Vec::with_capacity(body.len() + 4);
    hs.push(1); // client_hello
    hs.extend_from_slice(&len_u24(body.len())?);
    hs.extend_from_slice(&body);

    let record_version = match spec.version {
        ProtocolVersion::Ssl3 => 0x0300,
        _ => 0x0301,
    };
    let mut record = Vec::with_capacity(hs.len() + 5);
    record.push(22); // handshake
    put_u16(&mut record, record_version);
    put_vec16(&mut record, &hs)?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tls_parser::{
        parse_tls_client_hello_extension, parse_tls_plaintext, TlsExtension, TlsMessage,
        TlsMessageHandshake,
    };

    fn fixed() -> HelloRandom {
        HelloRandom {
            random: [7; 32],
            session_id: [8; 32],
            key_share: [9; 32],
        }
    }

    fn parse_exts(mut ext: &[u8]) -> Vec<TlsExtension<'_>> {
        let mut out = Vec::new();
        while !ext.is_empty() {
            let (rest, e) = parse_tls_client_hello_extension(ext).expect("extension parses");
            out.push(e);
            ext = rest;
        }
        out
    }

    #[test]
    fn tls12_hello_parses_back() {
        let suites = [0x002f, 0xc02f];
        let spec = ClientHelloSpec {
            version: ProtocolVersion::Tls12,
            suites: &suites,
            sni: Some("flink.example"),
        };
        let rec = build_client_hello(&spec, &fixed()).expect("builds");
        let (rest, plain) = parse_tls_plaintext(&rec).expect("record parses");
        assert!(rest.is_empty());
        assert_eq!(plain.hdr.version.0, 0x0301);
        let Some(TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch))) = plain.msg.first()
        else {
            panic!("not a ClientHello: {plain:?}");
        };
        assert_eq!(ch.version.0, 0x0303);
        let ids: Vec<u16> = ch.ciphers.iter().map(|c| c.0).collect();
        assert_eq!(ids, vec![0x002f, 0xc02f, 0x00ff]);
        let exts = parse_exts(ch.ext.expect("has extensions"));
        assert!(exts.iter().any(|e| matches!(e, TlsExtension::SNI(v)
            if v.first().map(|x| x.1) == Some(&b"flink.example"[..]))));
        assert!(exts
            .iter()
            .any(|e| matches!(e, TlsExtension::SignatureAlgorithms(_))));
        assert!(!exts
            .iter()
            .any(|e| matches!(e, TlsExtension::SupportedVersions(_))));
    }

    #[test]
    fn tls13_hello_has_versions_and_key_share() {
        let suites = [0x1301, 0x1302];
        let spec = ClientHelloSpec {
            version: ProtocolVersion::Tls13,
            suites: &suites,
            sni: None,
        };
        let rec = build_client_hello(&spec, &fixed()).expect("builds");
        let (_, plain) = parse_tls_plaintext(&rec).expect("record parses");
        let Some(TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch))) = plain.msg.first()
        else {
            panic!("not a ClientHello");
        };
        assert_eq!(ch.version.0, 0x0303);
        assert_eq!(ch.session_id.map(<[u8]>::len), Some(32));
        let ids: Vec<u16> = ch.ciphers.iter().map(|c| c.0).collect();
        assert_eq!(ids, vec![0x1301, 0x1302]);
        let exts = parse_exts(ch.ext.expect("has extensions"));
        assert!(exts.iter().any(
            |e| matches!(e, TlsExtension::SupportedVersions(v) if v.iter().map(|x| x.0).collect::<Vec<_>>() == vec![0x0304])
        ));
        assert!(exts.iter().any(|e| matches!(e, TlsExtension::KeyShare(_))));
    }

    #[test]
    fn ssl3_hello_has_no_extensions() {
        let suites = [0x000a];
        let spec = ClientHelloSpec {
            version: ProtocolVersion::Ssl3,
            suites: &suites,
            sni: Some("ignored.example"),
        };
        let rec = build_client_hello(&spec, &fixed()).expect("builds");
        assert_eq!(rec.get(..3), Some(&[22u8, 3, 0][..]));
        // header 5 + hs header 4 + version 2 + random 32 + sid 1 + suites 2+4 + comp 2
        assert_eq!(rec.len(), 5 + 4 + 2 + 32 + 1 + 6 + 2);
    }

    #[test]
    fn padding_avoids_256_to_511() {
        for n in 0..200u16 {
            let suites: Vec<u16> = (0..n).map(|i| 0x0100 + i).collect();
            let spec = ClientHelloSpec {
                version: ProtocolVersion::Tls12,
                suites: &suites,
                sni: None,
            };
            let rec = build_client_hello(&spec, &fixed()).expect("builds");
            let hs_len = rec.len() - 5;
            assert!(!(256..512).contains(&hs_len), "{n} suites -> {hs_len}");
        }
    }

    #[test]
    fn server_names() {
        assert_eq!(server_name(None).ok(), Some(None));
        assert_eq!(server_name(Some("127.0.0.1")).ok(), Some(None));
        assert_eq!(server_name(Some("[::1]")).ok(), Some(None));
        assert_eq!(
            server_name(Some("Flink.Example.")).ok(),
            Some(Some("flink.example".to_string()))
        );
        assert!(server_name(Some("")).is_err());
        assert!(server_name(Some("a..b")).is_err());
        assert!(server_name(Some("bad name")).is_err());
        assert!(server_name(Some("-x.example")).is_err());
        assert!(server_name(Some(&"a".repeat(64))).is_err());
    }

    #[test]
    fn versions_round_trip() {
        for v in ProtocolVersion::ALL {
            assert_eq!(ProtocolVersion::from_wire(v.wire()), Some(v));
        }
        assert_eq!(version_name(0x7f12), "0x7f12");
        assert!(ProtocolVersion::Tls11.is_legacy());
        assert!(!ProtocolVersion::Tls12.is_legacy());
    }
}
