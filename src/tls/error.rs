//! The one error type of the TLS module.

use std::time::Duration;

/// Why a TLS probe, handshake or audit failed.
///
/// Peer faults (`NotTls`, `Malformed`, `TooLarge`, `Handshake`,
/// `ClientCertRequired`, `Timeout`) are kept apart from local ones
/// (`Io`, `InvalidServerName`, `Config`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// Socket trouble: refused, reset, unreachable.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer did not finish in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The peer speaks TLS but sent bytes that do not parse.
    #[error("malformed TLS data: {0}")]
    Malformed(String),
    /// The peer answered, but not with TLS.
    #[error("peer does not speak TLS")]
    NotTls,
    /// The peer sent more than we are willing to buffer.
    #[error("peer sent more than {0} bytes")]
    TooLarge(usize),
    /// The name given for SNI is not a usable DNS name.
    #[error("invalid server name {0:?}")]
    InvalidServerName(String),
    /// rustls refused the handshake.
    #[error("TLS handshake failed: {0}")]
    Handshake(#[source] rustls::Error),
    /// The server asked for a client certificate and ended the handshake
    /// when we sent none (mutual TLS).
    #[error("server requires a client certificate")]
    ClientCertRequired,
    /// A local configuration problem (should not happen).
    #[error("TLS client configuration: {0}")]
    Config(String),
}

impl TlsError {
    /// Build a `Malformed` error from anything printable.
    pub(crate) fn malformed(what: impl Into<String>) -> Self {
        TlsError::Malformed(what.into())
    }
}
