//! One hello exchange: connect, send a ClientHello, read the first flight.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::error::TlsError;
use super::hello::{build_client_hello, ClientHelloSpec, HelloRandom};
use super::record::{is_reset, read_flight, Reply};
use crate::model::Dest;

/// `now + timeout`, saturating instead of panicking on huge timeouts.
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365)))
        .unwrap_or(now)
}

/// Connect to `addr` within the deadline.
pub(crate) async fn connect_by(
    addr: &Dest,
    deadline: Instant,
    timeout: Duration,
) -> Result<TcpStream, TlsError> {
    match tokio::time::timeout_at(deadline, crate::net::connect(addr)).await {
        Err(_) => Err(TlsError::Timeout(timeout)),
        Ok(Err(e)) => Err(TlsError::Io(e)),
        Ok(Ok(s)) => Ok(s),
    }
}

/// Send `spec` as a ClientHello on a fresh connection and read the reply.
/// Connect, write and read together take at most `timeout`.
pub(crate) async fn exchange(
    addr: &Dest,
    spec: &ClientHelloSpec<'_>,
    timeout: Duration,
    stop_after_hello: bool,
) -> Result<Reply, TlsError> {
    let hello = build_client_hello(spec, &HelloRandom::generate())?;
    let deadline = deadline_after(timeout);
    let mut stream = connect_by(addr, deadline, timeout).await?;
    // Abortive close on drop: a scan must not leave sockets in TIME_WAIT.
    let _ = stream.set_zero_linger();
    let _ = stream.set_nodelay(true);
    match tokio::time::timeout_at(deadline, stream.write_all(&hello)).await {
        Err(_) => return Err(TlsError::Timeout(timeout)),
        // The peer hung up before reading our hello.
        Ok(Err(e)) if is_reset(&e) => return Ok(Reply::Closed),
        Ok(Err(e)) => return Err(TlsError::Io(e)),
        Ok(Ok(())) => {}
    }
    let reply = read_flight(&mut stream, deadline, timeout, stop_after_hello).await;
    if let Ok(Reply::Flight { flight, complete }) = &reply {
        tracing::trace!(%addr, version = ?spec.version, offered = spec.suites.len(), hello = ?flight.server_hello, alert = ?flight.alert, certs = flight.certificates.len(), complete, "hello exchange");
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn huge_timeouts_do_not_overflow() {
        let now = Instant::now();
        assert!(deadline_after(Duration::MAX) > now);
        assert!(deadline_after(Duration::from_secs(5)) >= now + Duration::from_secs(5));
    }
}
