//! rustls client for HTTP over TLS: accept any certificate (trust is judged
//! later, as data), keep checking handshake signatures, and record whether
//! the server asked for a client certificate.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::cert::summarize;
use super::error::TlsError;
use super::hello::server_name;
use super::record::MAX_CERTS;
use super::reframe::Coalesce;
use crate::model::CertSummary;

/// Accepts every certificate chain; still verifies the handshake signature
/// made with the certificate's key.
#[derive(Debug)]
struct AcceptAnyCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Called by rustls only when the server sends a CertificateRequest: note
/// it and continue without a certificate.
#[derive(Debug, Default)]
struct RecordCertRequest {
    asked: AtomicBool,
}

impl ResolvesClientCert for RecordCertRequest {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.asked.store(true, Ordering::Relaxed);
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

/// What a rustls handshake showed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConnectInfo {
    /// Negotiated version, e.g. `TLSv1.3`.
    pub version: Option<String>,
    /// Negotiated suite (IANA name).
    pub cipher_suite: Option<String>,
    /// The server sent a CertificateRequest. Under TLS 1.3 a server that
    /// requires the certificate often lets the client finish and only fails
    /// the first read, so check this even when the handshake succeeded.
    pub client_cert_requested: bool,
    /// The chain as the server sent it, leaf first.
    pub certificate_chain: Vec<CertSummary>,
}

fn client_config(resolver: Arc<RecordCertRequest>) -> Result<ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AcceptAnyCert {
        algorithms: provider.signature_verification_algorithms,
    });
    let config = ClientConfig::builder_with_provider(Arc::clone(&provider) as Arc<CryptoProvider>)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_cert_resolver(resolver);
    Ok(config)
}

fn target_name(stream: &TcpStream, sni: Option<&str>) -> Result<ServerName<'static>, TlsError> {
    if let Some(host) = server_name(sni)? {
        return ServerName::try_from(host.clone())
            .map_err(|_| TlsError::InvalidServerName(host.chars().take(80).collect()));
    }
    // No usable DNS name: use the peer address (rustls then sends no SNI).
    let ip = stream.peer_addr()?.ip();
    Ok(ServerName::IpAddress(ip.into()))
}

fn map_handshake_error(e: std::io::Error, asked: bool) -> TlsError {
    if asked {
        return TlsError::ClientCertRequired;
    }
    let is_rustls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .cloned();
    match is_rustls {
        Some(r) => TlsError::Handshake(r),
        None => TlsError::Io(e),
    }
}

/// TLS 1.2/1.3 handshake over `stream` that accepts any certificate.
///
/// `sni` is sent when it is a DNS name (IP literals and `None` send no SNI).
/// The whole handshake is bounded by `timeout`. The server's plaintext
/// handshake records are re-framed on the way in ([`Coalesce`]), so a
/// flight cut into tiny records does not overflow rustls' buffer.
pub async fn connect(
    stream: TcpStream,
    sni: Option<&str>,
    timeout: Duration,
) -> Result<TlsStream<Coalesce<TcpStream>>, TlsError> {
    connect_with_info(stream, sni, timeout)
        .await
        .map(|(s, _)| s)
}

/// Like [`connect`], and also returns what the handshake showed.
///
/// A TLS 1.2 server that requires a client certificate fails the handshake:
/// that is `Err(TlsError::ClientCertRequired)`.
pub async fn connect_with_info(
    stream: TcpStream,
    sni: Option<&str>,
    timeout: Duration,
) -> Result<(TlsStream<Coalesce<TcpStream>>, ConnectInfo), TlsError> {
    let name = target_name(&stream, sni)?;
    let resolver = Arc::new(RecordCertRequest::default());
    let config = client_config(Arc::clone(&resolver))?;
    let connector = TlsConnector::from(Arc::new(config));
    let tls =
        match tokio::time::timeout(timeout, connector.connect(name, Coalesce::new(stream))).await {
            Err(_) => return Err(TlsError::Timeout(timeout)),
            Ok(Err(e)) => {
                return Err(map_handshake_error(
                    e,
                    resolver.asked.load(Ordering::Relaxed),
                ))
            }
            Ok(Ok(tls)) => tls,
        };
    let conn = tls.get_ref().1;
    let info = ConnectInfo {
        version: conn.protocol_version().map(|v| match v {
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
            other => format!("{other:?}"),
        }),
        cipher_suite: conn
            .negotiated_cipher_suite()
            .map(|s| super::suites::suite_name(u16::from(s.suite()))),
        client_cert_requested: resolver.asked.load(Ordering::Relaxed),
        certificate_chain: conn
            .peer_certificates()
            .unwrap_or_default()
            .iter()
            .take(MAX_CERTS)
            .map(|c| summarize(c.as_ref()))
            .collect(),
    };
    Ok((tls, info))
}
