//! How every connection of a scan leaves this machine: directly, or through
//! a SOCKS5 jump host (`--proxy`). The sweep, identification, checks and the
//! TLS audit all connect here, so a proxy applies to all of them.
//!
//! The proxy is process-wide: it is a property of where the scanner sits in
//! the network, not of a probe, and is set once before the first probe.
//!
//! TCP connects that survive packet loss without slowing silent ranges.
//!
//! A SYN can be lost; a host that never answers looks the same as one whose
//! SYNs were all dropped. Like nmap, flinkscan decides from evidence: a host
//! that answered on any port (SYN-ACK or RST) is alive, so a timeout on its
//! other ports is probably loss and earns another SYN, sent after a wait
//! sized from the round trips seen in its subnet (TCP's srtt + 4 x rttvar,
//! RFC 6298). A host that never answered earns none, so a silent range costs
//! exactly one timeout per probe.
//!
//! The kernel would retransmit a SYN by itself, but only after 1 s, exactly
//! when the default timeout gives up; TCP_SYNCNT cannot be set without
//! `unsafe` (socket2 has no setter for it). A retry here is a fresh socket,
//! sent as soon as the estimate says the answer is overdue.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use crate::model::Dest;

/// No retry wait below this: loopback and LAN round trips are far shorter,
/// but a loaded scanner delays its own reading of answers (nmap -T4 uses
/// the same minimum).
pub const RTO_FLOOR: Duration = Duration::from_millis(100);
/// Extra SYNs for a timed-out probe to a host known to answer. At 5% random
/// loss, four lost SYNs in a row happen once in 160,000 open ports.
pub const ADAPTIVE_RETRIES: u32 = 3;
/// Identification and checks connect to ports that answered: they may try
/// more often, bounded by their own deadline.
const IDENTIFY_RETRIES: u32 = 4;
/// How often a probe still waiting looks again: the estimate may have
/// shrunk meanwhile (the sweep's window drained), or the host answered.
const POLL: Duration = Duration::from_millis(250);
/// Ceiling of one identification attempt's wait (the kernel's own first SYN
/// retransmission comes at 1 s).
const IDENTIFY_CEILING: Duration = Duration::from_secs(1);

/// Smoothed round-trip time and its variation (RFC 6298).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttEstimator {
    srtt: Duration,
    rttvar: Duration,
}

impl RttEstimator {
    pub fn new(first: Duration) -> Self {
        RttEstimator {
            srtt: first,
            rttvar: first / 2,
        }
    }

    pub fn sample(&mut self, rtt: Duration) {
        let delta = self.srtt.abs_diff(rtt);
        self.rttvar = (self.rttvar * 3 + delta) / 4;
        self.srtt = (self.srtt * 7 + rtt) / 8;
    }

    pub fn srtt(&self) -> Duration {
        self.srtt
    }

    /// srtt + 4 x rttvar, within [floor, ceiling] (the ceiling wins).
    pub fn rto(&self, floor: Duration, ceiling: Duration) -> Duration {
        (self.srtt + self.rttvar * 4).max(floor).min(ceiling)
    }
}

/// What the scan learned about one /24 (IPv4) or /120 (IPv6).
#[derive(Debug, Default)]
struct Group {
    rtt: Option<RttEstimator>,
    /// The fastest answer: the path without the scanner's own queueing.
    min_rtt: Option<Duration>,
    /// Bit `n` set: the address ending in byte `n` answered.
    alive: [u64; 4],
}

/// Which hosts answered, and round trips per subnet. Shared by the sweep
/// and identification (see [`book`]); memory grows with answering subnets,
/// never with silent ones.
#[derive(Debug, Default)]
pub struct HostBook {
    groups: Mutex<HashMap<(bool, u128), Group>>,
    any_alive: AtomicBool,
    /// The sweep has sent its last first SYN: its queueing is draining, so
    /// waits come from the fastest round trips (as for `unloaded`).
    quiet: AtomicBool,
}

fn group_of(ip: IpAddr) -> ((bool, u128), usize) {
    let (v6, n) = match ip {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    };
    ((v6, n >> 8), (n & 0xff) as usize)
}

impl HostBook {
    /// `ip` answered (SYN-ACK or RST) `rtt` after the SYN.
    pub fn answered(&self, ip: IpAddr, rtt: Duration) {
        let (key, low) = group_of(ip);
        if let Ok(mut groups) = self.groups.lock() {
            let g = groups.entry(key).or_default();
            g.min_rtt = Some(g.min_rtt.map_or(rtt, |m| m.min(rtt)));
            match &mut g.rtt {
                Some(est) => est.sample(rtt),
                None => g.rtt = Some(RttEstimator::new(rtt)),
            }
            if let Some(word) = g.alive.get_mut(low / 64) {
                *word |= 1 << (low % 64);
            }
        }
        self.any_alive.store(true, Ordering::Relaxed);
    }

    pub fn is_alive(&self, ip: IpAddr) -> bool {
        let (key, low) = group_of(ip);
        self.groups
            .lock()
            .ok()
            .and_then(|g| g.get(&key).and_then(|g| g.alive.get(low / 64).copied()))
            .is_some_and(|word| word & (1 << (low % 64)) != 0)
    }

    pub fn set_quiet(&self, quiet: bool) {
        self.quiet.store(quiet, Ordering::Relaxed);
    }

    /// True once any host answered.
    pub fn any_alive(&self) -> bool {
        self.any_alive.load(Ordering::Relaxed)
    }

    /// Whether `ip` answered, and its subnet's retransmission timeout if any
    /// host there answered. `unloaded`: for connects made outside the
    /// sweep's load, at most 4 x the fastest round trip seen there (the
    /// sweep's samples include its own queueing, up to hundreds of ms).
    pub fn lookup(
        &self,
        ip: IpAddr,
        ceiling: Duration,
        unloaded: bool,
    ) -> (bool, Option<Duration>) {
        let (key, low) = group_of(ip);
        let Ok(groups) = self.groups.lock() else {
            return (false, None);
        };
        let Some(g) = groups.get(&key) else {
            return (false, None);
        };
        let alive = g
            .alive
            .get(low / 64)
            .is_some_and(|w| w & (1 << (low % 64)) != 0);
        let mut rto = g.rtt.map(|e| e.rto(RTO_FLOOR, ceiling));
        let unloaded = unloaded || self.quiet.load(Ordering::Relaxed);
        if let (true, Some(r), Some(min)) = (unloaded, rto, g.min_rtt) {
            rto = Some(r.min((min * 4).max(RTO_FLOOR)));
        }
        (alive, rto)
    }
}

/// The process's host book: the sweep fills it, identification and checks
/// read it to retry connects to hosts known to answer.
pub fn book() -> &'static HostBook {
    static BOOK: OnceLock<HostBook> = OnceLock::new();
    BOOK.get_or_init(HostBook::default)
}

/// What to do when the wait for an answer runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send a fresh SYN now; look again at `check`, give up at `deadline`.
    Retry {
        check: Instant,
        deadline: Instant,
    },
    /// Keep waiting on the current attempt until `check`.
    Wait(Instant),
    GiveUp,
}

/// When a timed-out connect earns another SYN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How long a host with no evidence gets; the ceiling of adaptive waits.
    pub timeout: Duration,
    /// Extra attempts at most.
    pub retries: u32,
    /// true: retry only hosts known to answer, after the subnet's estimate
    /// (the default). false: every timeout, after the full timeout each
    /// (explicit `--retries`).
    pub evidence: bool,
    /// Waits from the fastest round trip seen ([`HostBook::lookup`]).
    pub unloaded: bool,
}

impl RetryPolicy {
    pub fn adaptive(timeout: Duration) -> Self {
        RetryPolicy {
            timeout,
            retries: ADAPTIVE_RETRIES,
            evidence: true,
            unloaded: false,
        }
    }

    pub fn fixed(timeout: Duration, retries: u32) -> Self {
        RetryPolicy {
            timeout,
            retries,
            evidence: false,
            unloaded: false,
        }
    }

    /// When to look first after attempt 1 went out at `started`.
    pub fn first_check(&self, started: Instant, rto: Option<Duration>) -> Instant {
        if !self.evidence {
            return started + self.timeout;
        }
        started + self.poll_every(rto)
    }

    /// How often a wait on a host without evidence looks whether the host
    /// answered meanwhile on another port.
    fn poll_every(&self, rto: Option<Duration>) -> Duration {
        rto.unwrap_or(self.timeout / 4)
            .max(RTO_FLOOR)
            .min(POLL)
            .min(self.timeout.max(RTO_FLOOR))
    }

    /// How long attempt number `k` waits before the next SYN: one estimate
    /// for the first two, two after (loss is random, and the few SYNs go only
    /// to hosts that answer); never more than the timeout.
    fn wait_for(&self, k: u32, rto: Option<Duration>) -> Duration {
        let rto = rto.unwrap_or(self.timeout).max(RTO_FLOOR);
        let factor = if k <= 2 { 1 } else { 2 };
        rto.saturating_mul(factor).min(self.timeout.max(rto))
    }

    /// Decide at a check point, `attempts` SYNs sent and none answered, the
    /// current one sent `since` ago.
    pub fn step(
        &self,
        attempts: u32,
        now: Instant,
        deadline: Instant,
        alive: bool,
        rto: Option<Duration>,
        since: Duration,
    ) -> Step {
        let more = attempts <= self.retries;
        if !self.evidence {
            return if now < deadline {
                Step::Wait(deadline)
            } else if more {
                Step::Retry {
                    check: now + self.timeout,
                    deadline: now + self.timeout,
                }
            } else {
                Step::GiveUp
            };
        }
        if more && alive {
            // A host that answers is timed by its estimate, looked up afresh
            // at each check, not by the fixed timeout (as nmap does): a
            // filtered port there costs 6 estimates.
            let wait = self.wait_for(attempts, rto);
            if since < wait {
                return Step::Wait(now + (wait - since).min(POLL));
            }
            let next = self.wait_for(attempts + 1, rto);
            return Step::Retry {
                check: now + next.min(POLL),
                deadline: now + next,
            };
        }
        if now >= deadline {
            return Step::GiveUp;
        }
        if more {
            // Not known to answer (yet): it may answer on another port while
            // this SYN is out, and then this one earns a retry.
            Step::Wait((now + self.poll_every(rto)).min(deadline))
        } else {
            Step::Wait(deadline)
        }
    }
}

/// A SOCKS5 proxy to connect through.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// `host:port` as given; resolved when the scan starts.
    pub server: String,
    pub auth: Option<(String, String)>,
    /// `socks5h://`: target names are never resolved here; they travel to
    /// the proxy in each CONNECT (see `crate::targets::assemble`).
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
    #[error("proxy {proxy} at {addr}: {reason}")]
    Unusable {
        proxy: String,
        addr: SocketAddr,
        #[source]
        reason: Refusal,
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
    let unusable = |reason: Refusal| ProxyError::Unusable {
        proxy: proxy.redacted(),
        addr,
        reason,
    };
    match tokio::time::timeout(timeout.max(Duration::from_secs(1)), preflight(addr, &proxy)).await {
        Err(_) => return Err(unusable(Refusal::NoAnswer)),
        Ok(Err(r)) => return Err(unusable(r)),
        Ok(Ok(())) => {}
    }
    ROUTE
        .set(Some(Route { proxy, addr }))
        .map_err(|_| ProxyError::AlreadySet)
}

/// Why the SOCKS5 proxy cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no answer to the SOCKS5 greeting")]
    NoAnswer,
    #[error("cannot connect: {0}")]
    Connect(#[source] io::Error),
    #[error("{0}")]
    Write(#[source] io::Error),
    #[error("not a SOCKS5 server ({0})")]
    NoReply(#[source] io::Error),
    #[error("not a SOCKS5 server (wrong version in its reply)")]
    WrongVersion,
    #[error("it requires a user and password (socks5://user:pass@host:port)")]
    NeedsCredentials,
    #[error("it accepts none of the offered authentication methods")]
    NoMethod,
    #[error("closed during authentication ({0})")]
    ClosedInAuth(#[source] io::Error),
    #[error("it rejected the user and password")]
    Rejected,
}

/// Greeting and authentication only (RFC 1928 / RFC 1929), then close.
async fn preflight(addr: SocketAddr, proxy: &Proxy) -> Result<(), Refusal> {
    let mut s = TcpStream::connect(addr).await.map_err(Refusal::Connect)?;
    // Without credentials offer user/password too, only to learn whether
    // the proxy insists on it and say so.
    let greeting: &[u8] = if proxy.auth.is_some() {
        &[0x05, 0x01, 0x02]
    } else {
        &[0x05, 0x02, 0x00, 0x02]
    };
    let method: u8 = if proxy.auth.is_some() { 0x02 } else { 0x00 };
    s.write_all(greeting).await.map_err(Refusal::Write)?;
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply).await.map_err(Refusal::NoReply)?;
    if reply[0] != 0x05 {
        return Err(Refusal::WrongVersion);
    }
    if reply[1] != method {
        return Err(match (method, reply[1]) {
            (0x00, 0x02) => Refusal::NeedsCredentials,
            _ => Refusal::NoMethod,
        });
    }
    if let Some((user, pass)) = &proxy.auth {
        let mut msg = vec![0x01, user.len() as u8];
        msg.extend_from_slice(user.as_bytes());
        msg.push(pass.len() as u8);
        msg.extend_from_slice(pass.as_bytes());
        s.write_all(&msg).await.map_err(Refusal::Write)?;
        let mut status = [0u8; 2];
        s.read_exact(&mut status)
            .await
            .map_err(Refusal::ClosedInAuth)?;
        if status[1] != 0x00 {
            return Err(Refusal::Rejected);
        }
    }
    Ok(())
}

/// `Some` when connections go through a proxy.
pub fn proxy() -> Option<&'static Proxy> {
    ROUTE.get().and_then(|r| r.as_ref()).map(|r| &r.proxy)
}

/// One connection through the proxy. SOCKS5 reply codes become the errors
/// a direct connect would give: refused stays refused (the port is closed);
/// host or network unreachable and TTL expired read as a timeout (filtered).
async fn via_proxy(route: &Route, dest: &Dest) -> io::Result<TcpStream> {
    use tokio_socks::{tcp::Socks5Stream, TargetAddr};
    let target: TargetAddr<'_> = match dest {
        Dest::Addr(a) => TargetAddr::Ip(*a),
        // ATYP domain: the proxy resolves it (`socks5h://`).
        Dest::Name(name, port) => TargetAddr::Domain(name.as_str().into(), *port),
    };
    let result = match &route.proxy.auth {
        None => Socks5Stream::connect(route.addr, target).await,
        Some((user, pass)) => {
            Socks5Stream::connect_with_password(route.addr, target, user, pass).await
        }
    };
    match result {
        Ok(s) => Ok(s.into_inner()),
        // A name the proxy cannot resolve gets microsocks' general
        // failure: a fact about that target, as a local "no such host" is.
        Err(tokio_socks::Error::GeneralSocksServerFailure) if matches!(dest, Dest::Name(..)) => {
            Err(io::Error::other(
                "via proxy: general SOCKS server failure (the proxy could not resolve or reach the name)",
            ))
        }
        Err(e) => {
            let e = socks_error(e);
            if let Some(failed) = ProxyFailed::of(&e) {
                record_proxy_failure(&route.proxy, failed);
            }
            Err(e)
        }
    }
}

/// Only the proxy's reply codes that describe the target decide a port
/// (RFC 1928 section 6: refused is closed; host or network unreachable
/// and TTL expired are filtered). Anything else (the proxy refusing our
/// connection, closing it, garbling its reply, failing in general or by
/// its rules) says nothing about the target: a [`ProxyFailed`] error.
fn socks_error(e: tokio_socks::Error) -> io::Error {
    use tokio_socks::Error as E;
    let kind = match &e {
        E::ConnectionRefused => io::ErrorKind::ConnectionRefused,
        E::HostUnreachable | E::NetworkUnreachable | E::TtlExpired => io::ErrorKind::TimedOut,
        _ => return io::Error::other(ProxyFailed(e.to_string())),
    };
    io::Error::new(kind, format!("via proxy: {e}"))
}

/// The proxy itself failed on one connection: the port behind it is not
/// decided. Carried inside the `io::Error` a connect returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the SOCKS5 proxy failed: {0}")]
pub struct ProxyFailed(pub String);

impl ProxyFailed {
    /// The proxy failure inside a connect error, if that is what it is.
    pub fn of(e: &io::Error) -> Option<&ProxyFailed> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<ProxyFailed>())
    }
}

/// The first proxy failure of this process, with the proxy named
/// (credentials masked); the scan stops on it ([`proxy_failure`]).
static PROXY_FAILURE: OnceLock<tokio::sync::watch::Sender<Option<String>>> = OnceLock::new();

fn proxy_failure_channel() -> &'static tokio::sync::watch::Sender<Option<String>> {
    PROXY_FAILURE.get_or_init(|| tokio::sync::watch::Sender::new(None))
}

fn record_proxy_failure(proxy: &Proxy, failed: &ProxyFailed) {
    let text = format!(
        "proxy {} failed after the start check: {}",
        proxy.redacted(),
        crate::untrusted::clean(&failed.0, 200)
    );
    proxy_failure_channel().send_if_modified(|first| {
        if first.is_some() {
            return false;
        }
        *first = Some(text);
        true
    });
}

/// What went wrong with the proxy first, once it failed after the start
/// check (none: it never did, or there is no proxy).
pub fn proxy_failure() -> Option<String> {
    proxy_failure_channel().borrow().clone()
}

/// Resolves when the proxy fails after the start check (never without one).
pub async fn proxy_failed() {
    let mut rx = proxy_failure_channel().subscribe();
    let _ = rx.wait_for(Option::is_some).await;
}

/// The result of [`attempt_until_answered`].
#[derive(Debug)]
pub struct Attempts {
    /// A `TimedOut` error when no attempt was answered.
    pub result: io::Result<TcpStream>,
    /// SYNs sent (fresh sockets), including `prior` ones.
    pub attempts: u32,
}

async fn attempt(dest: &Dest, zero_linger: bool) -> io::Result<TcpStream> {
    if let Some(Some(route)) = ROUTE.get() {
        // Boxed: the SOCKS5 handshake's state would otherwise make every
        // idle sweep slot as large as a proxied connect (12,288 of them).
        return Box::pin(via_proxy(route, dest)).await;
    }
    let addr = match dest {
        Dest::Addr(a) => *a,
        // Only `crate::targets::assemble` makes named endpoints, and only
        // when a socks5h proxy is set.
        Dest::Name(name, _) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name} is to be resolved by a proxy, and none is set"),
            ))
        }
    };
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if zero_linger {
        // Abortive close: a sweep leaves no TIME_WAIT behind.
        let _ = socket.set_zero_linger();
    }
    socket.connect(addr).await
}

/// Connect to `dest`, sending a fresh SYN whenever `policy` says so; every
/// answer (SYN-ACK or RST) to a known address feeds `book` (a name the
/// proxy resolves has no address to learn about, so it earns no
/// evidence-based retries). `prior` attempts were already made
/// (a late second pass); the first one made here gives up at `deadline`
/// unless the policy extends it. One attempt at a time, so a probe never
/// holds more than one descriptor.
pub async fn attempt_until_answered(
    dest: impl Into<Dest>,
    zero_linger: bool,
    policy: &RetryPolicy,
    book: &HostBook,
    prior: u32,
    deadline: Instant,
) -> Attempts {
    let dest = dest.into();
    let ip = dest.ip();
    let lookup = |book: &HostBook| match ip {
        Some(ip) => book.lookup(ip, policy.timeout, policy.unloaded),
        None => (false, None),
    };
    let now = Instant::now();
    let (mut check, mut deadline) = if prior == 0 {
        let (_, rto) = lookup(book);
        (policy.first_check(now, rto), deadline)
    } else {
        // A second pass over a host that answered since: due now.
        let (alive, rto) = lookup(book);
        match policy.step(prior, now, now, alive, rto, Duration::MAX) {
            Step::Retry { check, deadline } => (check, deadline),
            Step::Wait(_) | Step::GiveUp => {
                return Attempts {
                    result: Err(timed_out()),
                    attempts: prior,
                }
            }
        }
    };
    let mut attempts = prior;
    loop {
        let started = Instant::now();
        let conn = attempt(&dest, zero_linger);
        tokio::pin!(conn);
        attempts += 1;
        loop {
            tokio::select! {
                biased;
                r = &mut conn => {
                    let answered = match &r {
                        Ok(_) => true,
                        Err(e) => matches!(
                            e.kind(),
                            io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
                        ),
                    };
                    if let (true, Some(ip)) = (answered, ip) {
                        book.answered(ip, started.elapsed());
                    }
                    return Attempts { result: r, attempts };
                }
                _ = tokio::time::sleep_until(check) => {
                    let (alive, rto) = lookup(book);
                    match policy.step(attempts, Instant::now(), deadline, alive, rto, started.elapsed()) {
                        Step::Wait(c) => check = c,
                        Step::GiveUp => {
                            return Attempts { result: Err(timed_out()), attempts };
                        }
                        Step::Retry { check: c, deadline: d } => {
                            check = c;
                            deadline = d;
                            break;
                        }
                    }
                }
            }
        }
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connect timed out")
}

/// Connect for identification and checks: to a host the sweep saw answer, a
/// SYN that goes unanswered past the subnet's estimate is sent again (a
/// fresh socket); otherwise one plain attempt. No deadline of its own:
/// callers bound it with theirs, as they did `TcpStream::connect`.
pub async fn connect(dest: impl Into<Dest>) -> io::Result<TcpStream> {
    let policy = RetryPolicy {
        timeout: IDENTIFY_CEILING,
        retries: IDENTIFY_RETRIES,
        evidence: true,
        unloaded: true,
    };
    // A day: the caller's deadline ends it long before.
    let far = Instant::now() + Duration::from_secs(86_400);
    attempt_until_answered(dest, false, &policy, book(), 0, far)
        .await
        .result
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn estimator_follows_rfc6298() {
        let mut e = RttEstimator::new(MS(100));
        // First sample: srtt = R, rttvar = R/2, so rto = 3R.
        assert_eq!(e.rto(Duration::ZERO, Duration::from_secs(10)), MS(300));
        e.sample(MS(100));
        // rttvar = 3/4 x 50 + 0 = 37.5 ms, srtt stays 100 ms.
        assert_eq!(e.srtt(), MS(100));
        assert_eq!(e.rto(Duration::ZERO, Duration::from_secs(10)), MS(250));
        e.sample(MS(200));
        // rttvar = (3 x 37.5 + 100) / 4 = 53.125 ms; srtt = (700 + 200) / 8 = 112.5 ms.
        assert_eq!(e.srtt(), Duration::from_micros(112_500));
        assert_eq!(
            e.rto(Duration::ZERO, Duration::from_secs(10)),
            Duration::from_micros(112_500 + 4 * 53_125)
        );
    }

    #[test]
    fn estimator_converges_and_is_clamped() {
        let mut e = RttEstimator::new(MS(400));
        for _ in 0..100 {
            e.sample(Duration::from_micros(50));
        }
        assert!(e.srtt() < MS(1));
        // Loopback round trips still wait the floor, never less.
        assert_eq!(e.rto(RTO_FLOOR, Duration::from_secs(1)), RTO_FLOOR);
        let slow = RttEstimator::new(Duration::from_secs(5));
        assert_eq!(
            slow.rto(RTO_FLOOR, Duration::from_secs(1)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn book_tracks_hosts_and_subnets() {
        let book = HostBook::default();
        let sec = Duration::from_secs(1);
        let a: IpAddr = "10.1.2.3".parse().unwrap();
        let neighbour: IpAddr = "10.1.2.200".parse().unwrap();
        let elsewhere: IpAddr = "10.1.3.3".parse().unwrap();
        assert!(!book.any_alive());
        assert_eq!(book.lookup(a, sec, false), (false, None));
        book.answered(a, MS(10));
        assert!(book.is_alive(a) && book.any_alive());
        // The neighbour shares the /24's estimate but is not alive itself.
        assert_eq!(book.lookup(neighbour, sec, false), (false, Some(RTO_FLOOR)));
        assert_eq!(book.lookup(elsewhere, sec, false), (false, None));
        let v6: IpAddr = "fd00::1:2".parse().unwrap();
        assert!(!book.is_alive(v6));
        book.answered(v6, MS(1));
        assert!(book.is_alive(v6));
        assert!(!book.is_alive("fd00::1:3".parse().unwrap()));
    }

    #[test]
    fn unloaded_connects_wait_from_the_fastest_round_trip() {
        let book = HostBook::default();
        let a: IpAddr = "10.9.9.9".parse().unwrap();
        // The sweep's queueing inflates samples: 400 ms, then 300 ms...
        book.answered(a, MS(400));
        book.answered(a, MS(300));
        book.answered(a, MS(5));
        let (_, loaded) = book.lookup(a, Duration::from_secs(1), false);
        assert_eq!(loaded, Some(Duration::from_secs(1)));
        // ...but the path itself answered in 5 ms: identification, outside
        // that load, retries after the floor.
        assert_eq!(
            book.lookup(a, Duration::from_secs(1), true),
            (true, Some(RTO_FLOOR))
        );
        book.answered("10.9.8.1".parse().unwrap(), MS(200));
        assert_eq!(
            book.lookup("10.9.8.1".parse().unwrap(), Duration::from_secs(1), true),
            (true, Some(MS(600)))
        );
    }

    #[test]
    fn silent_host_gets_no_retry() {
        let p = RetryPolicy::adaptive(Duration::from_secs(1));
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(1);
        // No evidence anywhere: the first look comes at a quarter timeout,
        // then it only waits, and gives up at the deadline with one SYN.
        assert_eq!(p.first_check(t0, None), t0 + MS(250));
        assert_eq!(
            p.step(1, t0 + MS(250), deadline, false, None, MS(250)),
            Step::Wait(t0 + MS(500))
        );
        let s = Duration::from_secs(1);
        assert_eq!(p.step(1, deadline, deadline, false, None, s), Step::GiveUp);
        // Neighbours answered but this host did not: still no retry.
        assert_eq!(
            p.step(1, deadline, deadline, false, Some(RTO_FLOOR), s),
            Step::GiveUp
        );
    }

    #[test]
    fn answering_host_is_retried_with_backoff() {
        let p = RetryPolicy::adaptive(Duration::from_secs(1));
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(1);
        let rto = Some(MS(100));
        assert_eq!(p.first_check(t0, rto), t0 + MS(100));
        let now = t0 + MS(100);
        assert_eq!(
            p.step(1, now, deadline, true, rto, MS(100)),
            Step::Retry {
                check: now + MS(100),
                deadline: now + MS(100)
            }
        );
        let now = t0 + MS(200);
        assert_eq!(
            p.step(2, now, now, true, rto, MS(100)),
            Step::Retry {
                check: now + MS(200),
                deadline: now + MS(200)
            }
        );
        let now = t0 + MS(400);
        assert_eq!(
            p.step(3, now, now, true, rto, MS(200)),
            Step::Retry {
                check: now + MS(200),
                deadline: now + MS(200)
            }
        );
        // Retries spent: the last SYN had its wait; the port is filtered
        // after 600 ms, not the full timeout.
        let now = t0 + MS(600);
        assert_eq!(p.step(4, now, now, true, rto, MS(200)), Step::GiveUp);
        // Waits never exceed the timeout, and a long wait is looked at again
        // every 250 ms.
        assert_eq!(
            p.step(2, now, now, true, Some(MS(800)), MS(800)),
            Step::Retry {
                check: now + MS(250),
                deadline: now + Duration::from_secs(1)
            }
        );
    }

    #[test]
    fn a_shrinking_estimate_brings_the_retry_forward() {
        let p = RetryPolicy::adaptive(Duration::from_secs(1));
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(1);
        // Sent under load (estimate 900 ms): 250 ms later, keep waiting...
        let now = t0 + MS(250);
        assert_eq!(
            p.step(1, now, deadline, true, Some(MS(900)), MS(250)),
            Step::Wait(now + MS(250))
        );
        // ...but once the estimate fell to 200 ms, the SYN is overdue.
        assert!(matches!(
            p.step(1, now, deadline, true, Some(MS(200)), MS(250)),
            Step::Retry { .. }
        ));
    }

    #[test]
    fn host_that_answers_meanwhile_is_retried() {
        let p = RetryPolicy::adaptive(Duration::from_secs(1));
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(1);
        let now = t0 + MS(750);
        // Not alive at the first looks; another port answered since.
        assert_eq!(
            p.step(1, now, deadline, true, Some(MS(300)), MS(750)),
            Step::Retry {
                check: now + MS(250),
                deadline: now + MS(300)
            }
        );
    }

    #[test]
    fn explicit_retries_are_blind_and_use_the_full_timeout() {
        let p = RetryPolicy::fixed(Duration::from_secs(1), 1);
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(1);
        let s = Duration::from_secs(1);
        assert_eq!(p.first_check(t0, Some(RTO_FLOOR)), deadline);
        assert_eq!(
            p.step(1, t0 + MS(100), deadline, false, None, MS(100)),
            Step::Wait(deadline)
        );
        assert_eq!(
            p.step(1, deadline, deadline, false, None, s),
            Step::Retry {
                check: deadline + Duration::from_secs(1),
                deadline: deadline + Duration::from_secs(1)
            }
        );
        let d2 = deadline + Duration::from_secs(1);
        assert_eq!(p.step(2, d2, d2, true, None, s), Step::GiveUp);
        assert_eq!(
            RetryPolicy::fixed(Duration::from_secs(1), 0)
                .step(1, deadline, deadline, true, None, s),
            Step::GiveUp
        );
    }

    /// A real listener on loopback: a connect to it is answered on the first
    /// SYN and the answer teaches the book that the host is alive.
    #[tokio::test]
    async fn answers_feed_the_book() {
        let listener = tokio::net::TcpListener::bind("127.3.9.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let book = HostBook::default();
        let p = RetryPolicy::adaptive(Duration::from_secs(1));
        let out = attempt_until_answered(
            addr,
            true,
            &p,
            &book,
            0,
            Instant::now() + Duration::from_secs(1),
        )
        .await;
        assert!(out.result.is_ok());
        assert_eq!(out.attempts, 1);
        assert!(book.is_alive(addr.ip()));
        // A second pass over a host that answered sends its SYN at once.
        let out = attempt_until_answered(addr, true, &p, &book, 1, Instant::now()).await;
        assert!(out.result.is_ok());
        assert_eq!(out.attempts, 2);
    }

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
            let e = socks_error(e);
            assert_eq!(e.kind(), io::ErrorKind::TimedOut);
            assert!(ProxyFailed::of(&e).is_none());
        }
    }

    /// What the proxy does wrong never reads as a port state: a proxy
    /// that is gone would otherwise make every port closed (its refusal)
    /// or unreachable (a garbled reply, a close after the greeting).
    #[test]
    fn proxy_failures_decide_no_port() {
        use tokio_socks::Error as E;
        let gone = E::Io(io::Error::from(io::ErrorKind::ConnectionRefused));
        let closed = E::Io(io::Error::from(io::ErrorKind::UnexpectedEof));
        for e in [
            gone,
            closed,
            E::InvalidResponseVersion,
            E::InvalidReservedByte,
            E::UnknownAddressType,
            E::GeneralSocksServerFailure,
            E::ConnectionNotAllowedByRuleset,
            E::UnknownError,
        ] {
            let shown = e.to_string();
            let e = socks_error(e);
            assert!(ProxyFailed::of(&e).is_some(), "{shown} decided a port");
            assert_ne!(e.kind(), io::ErrorKind::ConnectionRefused, "{shown}");
            assert_ne!(e.kind(), io::ErrorKind::TimedOut, "{shown}");
        }
    }
}
