//! Parsing of one target token: address, CIDR, range, hostname, with optional port.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnetwork::IpNetwork;

use crate::untrusted::shown;

/// Where a token came from, for error messages a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The n-th (1-based) command-line argument of its kind.
    Arg(usize),
    /// A file and a 1-based line number.
    File(String, usize),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Arg(n) => write!(f, "argument {n}"),
            Origin::File(path, line) => write!(f, "{path}:{line}"),
        }
    }
}

/// The address part of a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hosts {
    /// A single address, a CIDR block or an inclusive range, as integers
    /// (IPv4 mapped into `::ffff:0:0/96`).
    Range { lo: u128, hi: u128 },
    /// A DNS name to resolve to all of its A and AAAA records.
    Name(String),
}

/// One parsed target: which hosts and, optionally, a single port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub hosts: Hosts,
    pub port: Option<u16>,
    pub origin: Origin,
    pub text: String,
    /// A URL target (`https://host:port/prefix/`): one host, `port` set,
    /// and the path prefix its HTTP checks go under.
    pub url: Option<super::url::UrlTarget>,
}

/// Why a token is not a target. The message quotes the file name and token
/// through `untrusted::shown`: both come from the user's files or shell and
/// may hold escape sequences or invisible characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{}: invalid target `{}`: {}",
    shown(&.origin.to_string()),
    shown(.token),
    shown(.reason)
)]
pub struct SpecError {
    pub token: String,
    pub origin: Origin,
    pub reason: String,
}

const V4_MAPPED: u128 = 0xffff_u128 << 32;

pub fn ip_to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => V4_MAPPED | u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

pub fn u128_to_ip(n: u128) -> IpAddr {
    if n >> 32 == 0xffff {
        // Truncation is exact: the high bits were just checked.
        IpAddr::V4(Ipv4Addr::from((n & 0xffff_ffff) as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(n))
    }
}

fn is_v4(n: u128) -> bool {
    n >> 32 == 0xffff
}

/// Parse one token such as `10.0.0.0/8`, `10.0.0.1-10.0.0.9`, `[::1]:8081`,
/// `flink.internal:8081`, `2001:db8::/64` or `https://gw.internal/flink/`.
pub fn parse_spec(token: &str, origin: Origin) -> Result<Spec, SpecError> {
    let err = |reason: &str| SpecError {
        token: token.to_string(),
        origin: origin.clone(),
        reason: reason.to_string(),
    };
    let text = token.trim();
    if text.is_empty() {
        return Err(err("empty target"));
    }
    if text.contains("://") {
        // The message quotes the token: never with a password in it.
        let err = |reason: &str| SpecError {
            token: super::url::redact_userinfo(token),
            origin: origin.clone(),
            reason: reason.to_string(),
        };
        let (host, port, url) = super::url::parse_url(text).map_err(|r| err(&r))?;
        let hosts = parse_hosts(&host).map_err(|r| err(&r))?;
        if matches!(hosts, Hosts::Range { lo, hi } if lo != hi) {
            return Err(err(
                "a URL names one host: give ranges and CIDRs without a scheme",
            ));
        }
        return Ok(Spec {
            hosts,
            port: Some(port),
            origin,
            text: text.to_string(),
            url: Some(url),
        });
    }
    let (host_part, port) = split_port(text).map_err(|r| err(&r))?;
    let hosts = parse_hosts(host_part).map_err(|r| err(&r))?;
    Ok(Spec {
        hosts,
        port,
        origin,
        text: text.to_string(),
        url: None,
    })
}

impl Spec {
    /// The path prefix of a URL target, if it has one.
    pub fn base_path(&self) -> Option<&str> {
        self.url.as_ref().and_then(|u| u.base_path.as_deref())
    }
}

/// Split `host:port`, `[v6]:port`; a bare IPv6 address keeps its colons.
fn split_port(text: &str) -> Result<(&str, Option<u16>), String> {
    if let Some(rest) = text.strip_prefix('[') {
        let Some(close) = rest.find(']') else {
            return Err("unclosed `[`".into());
        };
        let host = &rest[..close];
        let after = &rest[close + 1..];
        if after.is_empty() {
            return Ok((host, None));
        }
        let Some(port) = after.strip_prefix(':') else {
            return Err("expected `:PORT` after `]`".into());
        };
        return Ok((host, Some(parse_port(port)?)));
    }
    match text.matches(':').count() {
        0 => Ok((text, None)),
        1 => {
            let (host, port) = text.split_once(':').unwrap_or((text, ""));
            Ok((host, Some(parse_port(port)?)))
        }
        // Several colons: an IPv6 address or CIDR without a port.
        _ => Ok((text, None)),
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(0) => Err("port 0 is not a valid port".into()),
        Ok(p) => Ok(p),
        Err(_) => Err(format!("`{text}` is not a port number (1-65535)")),
    }
}

fn parse_hosts(text: &str) -> Result<Hosts, String> {
    if let Some((_, zone)) = text.split_once('%') {
        return Err(format!(
            "IPv6 zone ids (`%{zone}`) are not supported: flinkscan cannot scan link-local \
             addresses; scan the host's global or unique-local address instead"
        ));
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        let n = ip_to_u128(ip);
        return Ok(Hosts::Range { lo: n, hi: n });
    }
    if text.contains('/') {
        let net: IpNetwork = text
            .parse()
            .map_err(|e| format!("bad CIDR ({e}); expected ADDRESS/PREFIX"))?;
        let base = ip_to_u128(net.network());
        let host_bits = match net {
            IpNetwork::V4(n) => 32 - u32::from(n.prefix()),
            IpNetwork::V6(n) => 128 - u32::from(n.prefix()),
        };
        let span = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        return Ok(Hosts::Range {
            lo: base,
            hi: base.saturating_add(span),
        });
    }
    if let Some((a, b)) = text.split_once('-') {
        if let (Ok(a), Ok(b)) = (a.trim().parse::<IpAddr>(), b.trim().parse::<IpAddr>()) {
            let (lo, hi) = (ip_to_u128(a), ip_to_u128(b));
            if is_v4(lo) != is_v4(hi) {
                return Err("range mixes IPv4 and IPv6".into());
            }
            if lo > hi {
                return Err("range end is before its start".into());
            }
            return Ok(Hosts::Range { lo, hi });
        }
        // `a.b.c.d-e` (last octet range), as nmap accepts.
        if let (Ok(IpAddr::V4(a4)), Ok(last)) = (a.parse::<IpAddr>(), b.parse::<u8>()) {
            let octets = a4.octets();
            let lo = ip_to_u128(IpAddr::V4(a4));
            let hi = ip_to_u128(IpAddr::V4(Ipv4Addr::new(
                octets[0], octets[1], octets[2], last,
            )));
            if lo > hi {
                return Err("range end is before its start".into());
            }
            return Ok(Hosts::Range { lo, hi });
        }
    }
    if looks_like_ip_attempt(text) {
        return Err("not a valid IP address, CIDR or range".into());
    }
    validate_hostname(text)?;
    Ok(Hosts::Name(text.trim_end_matches('.').to_ascii_lowercase()))
}

/// Digits and dots only (or hex and colons) means the user meant an address:
/// say so instead of trying DNS on `10.0.0.300`.
fn looks_like_ip_attempt(text: &str) -> bool {
    let all_v4ish = text
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == '-');
    let v6ish = text.contains(':');
    all_v4ish || v6ish
}

fn validate_hostname(text: &str) -> Result<(), String> {
    let name = text.trim_end_matches('.');
    if name.is_empty() || name.len() > 253 {
        return Err("hostname must be 1-253 characters".into());
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("hostname labels must be 1-63 characters".into());
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err("hostname may contain only letters, digits, `-`, `_` and `.`".into());
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("hostname labels cannot start or end with `-`".into());
        }
    }
    Ok(())
}

/// IPv6 link-local, `fe80::/10`.
const LINK_LOCAL: (u128, u128) = (0xfe80_u128 << 112, (0xfec0_u128 << 112) - 1);

impl Spec {
    /// A target that reaches into `fe80::/10` cannot be scanned: a link-local
    /// address means something only on one interface, and endpoints carry no
    /// interface. Without this check such probes fail as unreachable and the
    /// scan looks clean.
    pub fn link_local_error(&self) -> Option<SpecError> {
        let Hosts::Range { lo, hi } = self.hosts else {
            return None;
        };
        let (ll_lo, ll_hi) = LINK_LOCAL;
        (lo <= ll_hi && hi >= ll_lo).then(|| SpecError {
            token: self.text.clone(),
            origin: self.origin.clone(),
            reason: "IPv6 link-local addresses (fe80::/10) need an interface, which flinkscan \
                     does not support; scan the host's global or unique-local address instead"
                .into(),
        })
    }
}

/// Parse the lines of a target or exclusion file: one spec a line, `#`
/// comments, blank lines ignored. Every bad line is reported.
pub fn parse_lines(path: &str, content: &str) -> Result<Vec<Spec>, Vec<SpecError>> {
    let mut specs = Vec::new();
    let mut errors = Vec::new();
    // Editors on Windows start UTF-8 files with a byte-order mark.
    let content = content.strip_prefix('\u{FEFF}').unwrap_or(content);
    for (i, raw) in content.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        // Allow several whitespace- or comma-separated specs on one line.
        for token in line.split(|c: char| c.is_whitespace() || c == ',') {
            if token.is_empty() {
                continue;
            }
            match parse_spec(token, Origin::File(path.to_string(), i + 1)) {
                Ok(s) => specs.push(s),
                Err(e) => errors.push(e),
            }
        }
    }
    if errors.is_empty() {
        Ok(specs)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str) -> Result<Spec, SpecError> {
        parse_spec(t, Origin::Arg(1))
    }

    fn range(t: &str) -> (IpAddr, IpAddr) {
        match p(t).map(|s| s.hosts) {
            Ok(Hosts::Range { lo, hi }) => (u128_to_ip(lo), u128_to_ip(hi)),
            other => panic!("{t}: {other:?}"),
        }
    }

    #[test]
    fn forms() {
        assert_eq!(
            range("127.0.0.0/30"),
            ("127.0.0.0".parse().unwrap(), "127.0.0.3".parse().unwrap())
        );
        assert_eq!(
            range("127.0.0.5-127.0.1.2"),
            ("127.0.0.5".parse().unwrap(), "127.0.1.2".parse().unwrap())
        );
        assert_eq!(
            range("127.0.0.5-9"),
            ("127.0.0.5".parse().unwrap(), "127.0.0.9".parse().unwrap())
        );
        assert_eq!(
            range("::1"),
            ("::1".parse().unwrap(), "::1".parse().unwrap())
        );
        assert_eq!(
            range("::/127"),
            ("::".parse().unwrap(), "::1".parse().unwrap())
        );
        let s = p("[::1]:8081").unwrap();
        assert_eq!(s.port, Some(8081));
        let s = p("localhost:8081").unwrap();
        assert_eq!(s.hosts, Hosts::Name("localhost".into()));
        assert_eq!(s.port, Some(8081));
        // A CIDR with host bits set is normalised to its network.
        assert_eq!(
            range("127.1.2.3/24"),
            ("127.1.2.0".parse().unwrap(), "127.1.2.255".parse().unwrap())
        );
    }

    #[test]
    fn url_targets_name_one_host_a_port_and_a_prefix() {
        let s = p("http://127.0.0.1:8080/flink/").unwrap();
        assert_eq!(s.port, Some(8080));
        assert_eq!(s.base_path(), Some("/flink"));
        assert_eq!(
            range("https://[::1]/"),
            ("::1".parse().unwrap(), "::1".parse().unwrap())
        );
        let s = p("https://flink.internal.test/ui").unwrap();
        assert_eq!(s.hosts, Hosts::Name("flink.internal.test".into()));
        assert_eq!(s.port, Some(443));
        let specs = parse_lines("t.txt", "http://127.0.0.1:8080/flink/ # proxied\n").unwrap();
        assert_eq!(specs[0].base_path(), Some("/flink"));
    }

    /// A refused URL is quoted in the error without its password, for
    /// every reason it is refused (credentials, then anything else).
    #[test]
    fn url_errors_never_echo_a_password() {
        for bad in [
            "http://admin:hunter2@127.0.0.1:8081/flink/",
            "https://admin:hunter2@jm.test/x?y",
            "ftp://admin:hunter2@127.0.0.1/",
            "http://admin:hun/ter2@127.0.0.1/",
        ] {
            let e = p(bad).expect_err(bad).to_string();
            assert!(!e.contains("hunter2") && !e.contains("ter2"), "{e}");
            assert!(e.contains("argument 1") && e.contains("***@"), "{e}");
        }
        let e = parse_lines("t.txt", "http://u:hunter2@127.0.0.1/f/\n").unwrap_err();
        assert!(!e[0].to_string().contains("hunter2"), "{}", e[0]);
    }

    #[test]
    fn byte_order_mark_is_accepted() {
        let specs = parse_lines("t.txt", "\u{FEFF}127.0.0.1\n127.0.0.2\n").unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].text, "127.0.0.1");
    }

    #[test]
    fn zones_and_link_local_are_refused_with_a_reason() {
        for zoned in ["fe80::1%eth0", "[fe80::1%2]:8081", "fe80::1%25eth0"] {
            let e = p(zoned).unwrap_err().to_string();
            assert!(e.contains("zone") && e.contains("link-local"), "{e}");
        }
        for ll in ["fe80::1", "[fe80::1]:8081", "fe80::/64", "fe00::/7"] {
            let e = p(ll).unwrap().link_local_error().expect(ll).to_string();
            assert!(e.contains("link-local") && e.contains(ll), "{e}");
        }
        for ok in [
            "fec0::1",
            "fd00::1",
            "::1",
            "127.0.0.1",
            "2001:db8::/64",
            "localhost",
        ] {
            assert!(p(ok).unwrap().link_local_error().is_none(), "{ok}");
        }
    }

    #[test]
    fn errors_name_token_and_origin() {
        for bad in [
            "127.0.0.300",
            "127.0.0.1/33",
            "127.0.0.9-127.0.0.1",
            "127.0.0.1:0",
            "127.0.0.1:99999",
            "ftp://127.0.0.1",
            "http://127.0.0.0-127.0.0.9/flink/",
            "bad_host!",
            "[::1",
            "::1-127.0.0.1",
            "",
        ] {
            let e = p(bad).expect_err(bad);
            assert_eq!(e.token, bad);
            assert!(e.to_string().contains("argument 1"), "{e}");
        }
        let e = p("\u{1b}[2Jevil\u{202e}").unwrap_err().to_string();
        assert!(
            !e.chars().any(crate::untrusted::is_hidden) && e.contains("\\u{1b}[2J"),
            "{e}"
        );
        let e = parse_lines("t.txt", "127.0.0.1\n\n# c\n127.0.0.1/40\n").unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(
            e[0].to_string().split(':').take(2).collect::<Vec<_>>(),
            ["t.txt", "4"]
        );
    }
}
