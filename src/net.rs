//! How every connection of a scan leaves this machine: directly, or through
//! a SOCKS5 jump host (`--proxy`). The sweep, identification, checks and the
//! TLS audit all connect here, so a proxy applies to all of them.
//!
//! The proxy is process-wide: it is a property of where the scanner sits in
//! the network, not of a probe, and is set once before the first probe.

use std::io;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A SOCKS5 proxy to connect through.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// `host:port` as given; resolved when the scan starts.
    pub server: String,
    pub auth: Option<(String, String)>,
    /// `socks5h://`: the proxy should resolve host names. flinkscan resolves
    /// its targets before the sweep, so today this behaves like `socks5://`
    /// and says so (see README).
    pub remote_dns: bool,
}

impl std::fmt::Debug for Proxy {
    // Credentials never reach logs or reports.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.redacted())
    }
}

impl Proxy {
    /// The proxy URL with any password replaced, for messages and reports.
    pub fn redacted(&self) -> String {
        let scheme = if self.remote_dns { "socks5h" } else { "socks5" };
        match &self.auth {
            Some((user, _)) => format!("{scheme}://{user}:******@{}", self.server),
            None => format!("{scheme}://{}", self.server),
        }
    }
}

/// A `--proxy` value that is not a usable SOCKS5 URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--proxy: {0}")]
pub struct ProxyUrlError(pub String);

/// Parse `socks5://[user:pass@]host:port` or `socks5h://...`.
pub fn parse_proxy(url: &str) -> Result<Proxy, ProxyUrlError> {
    let bad = |m: &str| ProxyUrlError(m.to_string());
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected socks5://[user:pass@]host:port"))?;
    let remote_dns = match scheme.to_ascii_lowercase().as_str() {
        "socks5" => false,
        "socks5h" => true,
        _ => return Err(bad("only socks5:// and socks5h:// proxies are supported")),
    };
    let rest = rest.trim_end_matches('/');
    let (auth, server) = match rest.rsplit_once('@') {
        Some((userinfo, server)) => {
            let (user, pass) = userinfo
                .split_once(':')
                .ok_or_else(|| bad("credentials must be user:password"))?;
            let (user, pass) = (percent_decode(user)?, percent_decode(pass)?);
            if user.is_empty() || user.len() > 255 || pass.len() > 255 {
                return Err(bad("SOCKS5 user and password are 1-255 bytes"));
            }
            (Some((user, pass)), server)
        }
        None => (None, rest),
    };
    let port_ok = server
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
    if !port_ok {
        return Err(bad("the proxy needs host:port"));
    }
    Ok(Proxy {
        server: server.to_string(),
        auth,
        remote_dns,
    })
}

fn percent_decode(s: &str) -> Result<String, ProxyUrlError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| ProxyUrlError("bad %-escape in the credentials".into()))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ProxyUrlError("credentials are not UTF-8".into()))
}

/// The resolved proxy every connection uses; `None` means direct.
struct Route {
    proxy: Proxy,
    addr: SocketAddr,
}

static ROUTE: OnceLock<Option<Route>> = OnceLock::new();

/// Why the proxy cannot be used: the scan stops before any probe.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("proxy {proxy}: cannot resolve its address: {source}")]
    Resolve {
        proxy: String,
        #[source]
        source: io::Error,
    },
    #[error("proxy {proxy} at {addr}: {message}")]
    Unusable {
        proxy: String,
        addr: SocketAddr,
        message: String,
    },
    #[error("a different proxy is already set for this process")]
    AlreadySet,
}

/// Resolve the proxy, check that it answers and accepts the credentials
/// (without asking it to connect anywhere), and route every later
/// connection through it.
pub async fn use_proxy(proxy: Proxy, timeout: Duration) -> Result<(), ProxyError> {
    let addr = tokio::net::lookup_host(&proxy.server)
        .await
        .and_then(|mut a| {
            a.next()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
        })
        .map_err(|source| ProxyError::Resolve {
            proxy: proxy.redacted(),
            source,
        })?;
    let unusable = |message: String| ProxyError::Unusable {
        proxy: proxy.redacted(),
        addr,
        message,
    };
    match tokio::time::timeout(timeout.max(Duration::from_secs(1)), preflight(addr, &proxy)).await {
        Err(_) => return Err(unusable("no answer to the SOCKS5 greeting".into())),
        Ok(Err(m)) => return Err(unusable(m)),
        Ok(Ok(())) => {}
    }
    if proxy.remote_dns {
        tracing::warn!(
            "socks5h: target names are still resolved locally before the sweep; only addresses reach the proxy"
        );
    }
    ROUTE
        .set(Some(Route { proxy, addr }))
        .map_err(|_| ProxyError::AlreadySet)
}

/// Greeting and authentication only (RFC 1928 / RFC 1929), then close.
async fn preflight(addr: SocketAddr, proxy: &Proxy) -> Result<(), String> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    // Without credentials offer user/password too, only to learn whether
    // the proxy insists on it and say so.
    let greeting: &[u8] = if proxy.auth.is_some() {
        &[0x05, 0x01, 0x02]
    } else {
        &[0x05, 0x02, 0x00, 0x02]
    };
    let method: u8 = if proxy.auth.is_some() { 0x02 } else { 0x00 };
    s.write_all(greeting).await.map_err(|e| e.to_string())?;
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply)
        .await
        .map_err(|e| format!("not a SOCKS5 server ({e})"))?;
    if reply[0] != 0x05 {
        return Err("not a SOCKS5 server (wrong version in its reply)".into());
    }
    if reply[1] != method {
        return Err(match (method, reply[1]) {
            (0x00, 0x02) => "it requires a user and password (socks5://user:pass@host:port)".into(),
            _ => "it accepts none of the offered authentication methods".into(),
        });
    }
    if let Some((user, pass)) = &proxy.auth {
        let mut msg = vec![0x01, user.len() as u8];
        msg.extend_from_slice(user.as_bytes());
        msg.push(pass.len() as u8);
        msg.extend_from_slice(pass.as_bytes());
        s.write_all(&msg).await.map_err(|e| e.to_string())?;
        let mut status = [0u8; 2];
        s.read_exact(&mut status)
            .await
            .map_err(|e| format!("closed during authentication ({e})"))?;
        if status[1] != 0x00 {
            return Err("it rejected the user and password".into());
        }
    }
    Ok(())
}

/// `Some` when connections go through a proxy.
pub fn proxy() -> Option<&'static Proxy> {
    ROUTE.get().and_then(|r| r.as_ref()).map(|r| &r.proxy)
}

/// Connect to `addr`, directly or through the proxy. SOCKS5 reply codes
/// become the errors a direct connect would give: refused stays refused
/// (the port is closed); host or network unreachable and TTL expired read as
/// a timeout (filtered).
pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let Some(Some(route)) = ROUTE.get() else {
        return TcpStream::connect(addr).await;
    };
    let result = match &route.proxy.auth {
        None => tokio_socks::tcp::Socks5Stream::connect(route.addr, addr).await,
        Some((user, pass)) => {
            tokio_socks::tcp::Socks5Stream::connect_with_password(route.addr, addr, user, pass)
                .await
        }
    };
    match result {
        Ok(s) => Ok(s.into_inner()),
        Err(e) => Err(socks_error(e)),
    }
}

fn socks_error(e: tokio_socks::Error) -> io::Error {
    use tokio_socks::Error as E;
    let kind = match &e {
        E::ConnectionRefused => io::ErrorKind::ConnectionRefused,
        E::HostUnreachable | E::NetworkUnreachable | E::TtlExpired => io::ErrorKind::TimedOut,
        E::Io(io) => io.kind(),
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("via proxy: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls() {
        let p = parse_proxy("socks5://127.0.0.1:1080").unwrap();
        assert_eq!(p.server, "127.0.0.1:1080");
        assert!(p.auth.is_none() && !p.remote_dns);
        let p = parse_proxy("socks5h://al%40ice:s3cr%3At@jump.example:1080/").unwrap();
        assert!(p.remote_dns);
        assert_eq!(p.auth, Some(("al@ice".into(), "s3cr:t".into())));
        assert_eq!(p.redacted(), "socks5h://al@ice:******@jump.example:1080");
        assert!(!format!("{p:?}").contains("s3cr"));
        for bad in [
            "http://h:1",
            "socks5://h",
            "socks5://h:0",
            "socks5://:1080",
            "socks5://user@h:1",
            "socks5://u:%zz@h:1",
            "socks4://h:1",
        ] {
            assert!(parse_proxy(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reply_codes_map_to_port_states() {
        use tokio_socks::Error as E;
        assert_eq!(
            socks_error(E::ConnectionRefused).kind(),
            io::ErrorKind::ConnectionRefused
        );
        for e in [E::HostUnreachable, E::NetworkUnreachable, E::TtlExpired] {
            assert_eq!(socks_error(e).kind(), io::ErrorKind::TimedOut);
        }
    }
}
