//! Version and cipher suite enumeration, the way hello_tls does it: offer
//! every suite, record the one the server picks, remove it, repeat. With a
//! server that enforces its own order this yields the server's preference
//! order; whether it does is tested with one extra, reversed hello.

use std::time::Duration;

use time::OffsetDateTime;

use super::cert::summarize;
use super::client::connect_with_info;
use super::error::TlsError;
use super::hello::{server_name, version_name, ClientHelloSpec, ProtocolVersion};
use super::probe::{connect_by, deadline_after, exchange};
use super::record::Reply;
use super::suites::{describe, offer_for};
use super::weakness::weaknesses;
use crate::model::{CertSummary, Dest, ProtocolSupport, TlsProfile};

/// Most handshakes spent on one protocol version (accepted suites + 2).
pub const MAX_HANDSHAKES_PER_VERSION: u32 = 128;

/// Result of enumerating one version.
#[derive(Debug)]
struct VersionScan {
    support: ProtocolSupport,
    certificates: Vec<Vec<u8>>,
    certificate_request: bool,
    handshakes: u32,
    /// At least one reply was a TLS record (ServerHello or alert).
    tls_seen: bool,
    /// The very first exchange failed: nothing is known about this version.
    fatal: Option<TlsError>,
}

/// Outcome of one hello, reduced to what enumeration needs.
enum Pick {
    /// Server chose this suite at the requested version.
    Suite(u16),
    /// Server declined (alert, other version, close).
    Declined,
}

async fn enumerate(
    addr: &Dest,
    sni: Option<&str>,
    version: ProtocolVersion,
    timeout: Duration,
) -> VersionScan {
    let mut remaining = offer_for(version);
    let mut scan = VersionScan {
        support: ProtocolSupport {
            version: version.name().to_string(),
            accepted: false,
            suites: Vec::new(),
            server_preference: None,
            error: None,
        },
        certificates: Vec::new(),
        certificate_request: false,
        handshakes: 0,
        tls_seen: false,
        fatal: None,
    };
    let mut accepted: Vec<u16> = Vec::new();
    while !remaining.is_empty() {
        if scan.handshakes >= MAX_HANDSHAKES_PER_VERSION - 1 {
            scan.support.error = Some(format!("stopped after {} handshakes", scan.handshakes));
            break;
        }
        let spec = ClientHelloSpec {
            version,
            suites: &remaining,
            sni,
        };
        scan.handshakes += 1;
        // Read the whole flight only until we have a certificate.
        let stop_after_hello = !scan.certificates.is_empty();
        let reply = exchange(addr, &spec, timeout, stop_after_hello).await;
        let pick = match reply {
            Err(e) => {
                if accepted.is_empty() {
                    scan.fatal = Some(e);
                } else {
                    scan.support.error = Some(e.to_string());
                }
                break;
            }
            Ok(Reply::Closed) => Pick::Declined,
            Ok(Reply::Flight { flight, .. }) => {
                scan.tls_seen = true;
                scan.certificate_request |= flight.certificate_request;
                match flight.server_hello {
                    Some(sh) if sh.version == version.wire() => {
                        if scan.certificates.is_empty() {
                            scan.certificates = flight.certificates;
                        }
                        Pick::Suite(sh.cipher_suite)
                    }
                    Some(sh) => {
                        tracing::debug!(
                            %addr,
                            asked = version.name(),
                            got = %version_name(sh.version),
                            "server negotiated another version"
                        );
                        Pick::Declined
                    }
                    None => Pick::Declined,
                }
            }
        };
        match pick {
            Pick::Declined => break,
            Pick::Suite(id) => {
                if !remaining.contains(&id) {
                    scan.support.error = Some(format!(
                        "server chose suite 0x{id:04x}, which was not offered"
                    ));
                    break;
                }
                remaining.retain(|s| *s != id);
                accepted.push(id);
            }
        }
    }
    if let [first, second, ..] = accepted[..] {
        scan.handshakes += 1;
        let reversed = [second, first];
        let spec = ClientHelloSpec {
            version,
            suites: &reversed,
            sni,
        };
        if let Ok(Reply::Flight { flight, .. }) = exchange(addr, &spec, timeout, true).await {
            scan.support.server_preference = match flight.server_hello {
                Some(sh) if sh.version == version.wire() && sh.cipher_suite == first => Some(true),
                Some(sh) if sh.version == version.wire() && sh.cipher_suite == second => {
                    Some(false)
                }
                _ => None,
            };
        }
    }
    scan.support.accepted = !accepted.is_empty();
    scan.support.suites = accepted.into_iter().map(describe).collect();
    scan
}

/// TLS 1.3 chain and mTLS check through rustls, for servers whose TLS 1.3
/// Certificate is encrypted and that accept nothing older.
async fn tls13_details(
    addr: &Dest,
    sni: Option<&str>,
    timeout: Duration,
) -> Result<(Vec<CertSummary>, bool), TlsError> {
    let deadline = deadline_after(timeout);
    let stream = connect_by(addr, deadline, timeout).await?;
    let _ = stream.set_zero_linger();
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    match connect_with_info(stream, sni, left).await {
        Ok((_, info)) => Ok((info.certificate_chain, info.client_cert_requested)),
        Err(TlsError::ClientCertRequired) => Ok((Vec::new(), true)),
        Err(e) => Err(e),
    }
}

/// Full audit of `addr`: every version from SSLv3 to TLS 1.3, every
/// accepted suite, the certificate chain, mTLS, and the weaknesses.
///
/// Versions are probed concurrently (one connection per version at a
/// time), suites sequentially. Each connection is bounded by `timeout`; at
/// most [`MAX_HANDSHAKES_PER_VERSION`] per version, plus one for the TLS 1.3
/// certificate. Fails only when no connection got a TLS record back: then
/// the error is `NotTls`/`Malformed` if any peer answered that way, else the
/// first `Timeout`/`Io`, else `NotTls` (every hello met a bare close).
pub async fn audit(
    addr: impl Into<Dest>,
    sni: Option<&str>,
    timeout: Duration,
) -> Result<TlsProfile, TlsError> {
    audit_at(addr, sni, timeout, OffsetDateTime::now_utc()).await
}

/// [`audit`] with the clock given, for reproducible certificate checks.
pub async fn audit_at(
    addr: impl Into<Dest>,
    sni: Option<&str>,
    timeout: Duration,
    now: OffsetDateTime,
) -> Result<TlsProfile, TlsError> {
    let addr = &addr.into();
    let sni = server_name(sni)?;
    let sni = sni.as_deref();
    let (s3, t10, t11, t12, t13) = tokio::join!(
        enumerate(addr, sni, ProtocolVersion::Ssl3, timeout),
        enumerate(addr, sni, ProtocolVersion::Tls10, timeout),
        enumerate(addr, sni, ProtocolVersion::Tls11, timeout),
        enumerate(addr, sni, ProtocolVersion::Tls12, timeout),
        enumerate(addr, sni, ProtocolVersion::Tls13, timeout),
    );
    let mut scans = vec![s3, t10, t11, t12, t13];

    // No TLS record on any connection: report the most telling error.
    if !scans.iter().any(|s| s.tls_seen) {
        let mut errors: Vec<TlsError> = scans.iter_mut().filter_map(|s| s.fatal.take()).collect();
        let pos = errors
            .iter()
            .position(|e| matches!(e, TlsError::NotTls | TlsError::Malformed(_)));
        return Err(match pos {
            Some(i) => errors.swap_remove(i),
            None if !errors.is_empty() => errors.swap_remove(0),
            // Every hello was answered by a bare close.
            None => TlsError::NotTls,
        });
    }

    let mut handshakes: u32 = scans.iter().map(|s| s.handshakes).sum();
    let mut client_cert_required = scans.iter().any(|s| s.certificate_request);
    let mut chain: Vec<CertSummary> = scans
        .iter()
        .rev()
        .find(|s| s.support.accepted && !s.certificates.is_empty())
        .map(|s| s.certificates.iter().map(|der| summarize(der)).collect())
        .unwrap_or_default();

    let tls13_only = scans
        .iter()
        .all(|s| s.support.accepted == (s.support.version == ProtocolVersion::Tls13.name()));
    let mut protocols: Vec<ProtocolSupport> = Vec::with_capacity(scans.len());
    for mut s in scans {
        if let Some(e) = s.fatal.take() {
            s.support.error = Some(e.to_string());
        }
        protocols.push(s.support);
    }

    if tls13_only {
        handshakes += 1;
        match tls13_details(addr, sni, timeout).await {
            Ok((c, asked)) => {
                chain = c;
                client_cert_required |= asked;
            }
            Err(e) => {
                tracing::debug!(%addr, error = %e, "TLS 1.3 certificate handshake failed");
                if let Some(p) = protocols
                    .iter_mut()
                    .find(|p| p.version == ProtocolVersion::Tls13.name())
                {
                    p.error
                        .get_or_insert_with(|| format!("certificate handshake: {e}"));
                }
            }
        }
    }

    let mut profile = TlsProfile {
        protocols,
        certificate_chain: chain,
        client_cert_required,
        weaknesses: Vec::new(),
        handshakes,
    };
    // Without a name the certificate is checked against the address; a
    // proxy-resolved endpoint always has its name as SNI.
    let ip = addr.ip().map(|ip| ip.to_string()).unwrap_or_default();
    profile.weaknesses = weaknesses(&profile, sni.unwrap_or(&ip), now);
    Ok(profile)
}
