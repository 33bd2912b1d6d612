//! TLS: sniffing, handshakes that record instead of reject, and the strength audit.
//!
//! Three entry points:
//! - [`sniff`]: one hand-built TLS 1.2-compatible ClientHello; says whether a
//!   port speaks TLS and returns a [`TlsSummary`] (version, suite, leaf
//!   certificate, mTLS) from the server's first flight.
//! - [`connect`] / [`connect_with_info`]: a rustls client (TLS 1.2 + 1.3)
//!   that accepts any certificate, for HTTP over TLS.
//! - [`audit`]: sslyze-style enumeration of versions (SSLv3 .. TLS 1.3) and
//!   suites with hand-built ClientHellos, the certificate chain, and the
//!   weaknesses as stable rule ids ([`weaknesses`]).
//!
//! Hand-built hellos are needed because rustls cannot offer TLS 1.0/1.1, CBC
//! or RSA key exchange, which is exactly what a default Flink internal-SSL
//! port speaks (TLS 1.2, `TLS_RSA_WITH_AES_128_CBC_SHA`). We never complete
//! those handshakes: the server's first flight carries everything we judge.
//!
//! Safety: every read is bounded in bytes ([`record::MAX_FLIGHT_BYTES`]) and
//! time (the `timeout` of each call, per connection), and every parser returns
//! an error instead of panicking on peer data.

mod audit;
mod cert;
mod client;
mod error;
mod hello;
mod probe;
pub mod record;
mod reframe;
mod suites;
pub mod weakness;

use std::time::Duration;

pub use audit::{audit, audit_at, MAX_HANDSHAKES_PER_VERSION};
// The audit's records live in the model; re-exported for callers of `tls`.
pub use crate::model::{ProtocolSupport, SuiteInfo, TlsProfile, TlsWeakness, WEAK_FLAGS};
pub use cert::{name_matches, summarize as summarize_certificate};
pub use client::{connect, connect_with_info, ConnectInfo};
pub use error::TlsError;
pub use hello::ProtocolVersion;
pub use reframe::Coalesce;
pub use suites::{describe as describe_suite, TLS13_SUITES};
pub use weakness::{unjudged, weaknesses};

/// Rule ids produced by [`weaknesses`].
pub mod rules {
    pub use super::weakness::{
        CBC_CIPHER, CERT_EXPIRED, CERT_EXPIRES_SOON, CERT_NAME_MISMATCH, CERT_NOT_YET_VALID,
        CERT_SELF_SIGNED, CERT_WEAK_KEY, CERT_WEAK_SIGNATURE, LEGACY_PROTOCOL, NO_FORWARD_SECRECY,
        WEAK_CIPHER,
    };
}

use crate::model::{Dest, TlsSummary};
use record::Reply;

/// What [`sniff_with_notes`] saw: the summary, and what it could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniff {
    pub summary: TlsSummary,
    /// Trouble worth reporting on a port that does speak TLS: a handshake
    /// message past our cap, a flight cut short before ServerHelloDone.
    pub notes: Vec<String>,
}

/// Sniff a port: send one TLS 1.2-compatible ClientHello (record version
/// TLS 1.0, every TLS 1.0-1.2 suite including legacy ones, SNI when `sni` is
/// a DNS name) on a fresh connection and read the server's first flight.
///
/// - `Ok(None)`: not TLS (non-TLS bytes, our hello echoed back, or a close
///   without any TLS record).
/// - `Ok(Some(summary))`: a ServerHello flight or a TLS alert. A TLS 1.3-only
///   server answers with an alert, so `version` is `None` then.
/// - `Err(Timeout)` when nothing came back in `timeout`; `Err(Io)` for
///   refused or reset connections.
pub async fn sniff(
    addr: impl Into<Dest>,
    sni: Option<&str>,
    timeout: Duration,
) -> Result<Option<TlsSummary>, TlsError> {
    Ok(sniff_with_notes(addr, sni, timeout)
        .await?
        .map(|s| s.summary))
}

/// [`sniff`], keeping what could not be read: a ServerHello followed by a
/// handshake message past [`record::MAX_HANDSHAKE_MSG`] (a huge certificate)
/// is TLS with a note, not "not TLS".
pub async fn sniff_with_notes(
    addr: impl Into<Dest>,
    sni: Option<&str>,
    timeout: Duration,
) -> Result<Option<Sniff>, TlsError> {
    let sni = hello::server_name(sni)?;
    let suites = suites::offer_for(ProtocolVersion::Tls12);
    let spec = hello::ClientHelloSpec {
        version: ProtocolVersion::Tls12,
        suites: &suites,
        sni: sni.as_deref(),
    };
    let (flight, complete) = match probe::exchange(&addr.into(), &spec, timeout, false).await {
        Err(TlsError::NotTls) | Ok(Reply::Closed) => return Ok(None),
        Err(e) => return Err(e),
        Ok(Reply::Flight { flight, complete }) => (flight, complete),
    };
    let hello = flight.server_hello.as_ref();
    let summary = TlsSummary {
        version: hello.map(|sh| hello::version_name(sh.version)),
        cipher_suite: hello.map(|sh| suites::suite_name(sh.cipher_suite)),
        client_cert_required: flight.certificate_request,
        certificate: flight.certificates.first().map(|der| cert::summarize(der)),
    };
    let mut notes: Vec<String> = flight.oversized.iter().map(|o| o.to_string()).collect();
    if !complete {
        // What did not arrive is unknown, not absent: the certificate or a
        // CertificateRequest (mutual TLS) may be among it.
        notes.push(format!(
            "TLS flight cut short (deadline {timeout:?}, reset or close) before ServerHelloDone: {}",
            if flight.certificates.is_empty() {
                "no certificate read, client-certificate request unknown"
            } else {
                "client-certificate request unknown"
            }
        ));
    }
    Ok(Some(Sniff { summary, notes }))
}
