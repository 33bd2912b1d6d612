//! Prefix discovery: Flink behind a reverse proxy under a path
//! (`https://gw/flink/`), on a port whose `/config` answers 404 or a
//! redirect.
//!
//! A small, fixed budget of requests ([`MAX_REQUESTS`] per port): `GET /`
//! (its same-host redirect, else the links of the page it returns), then
//! the built-in [`COMMON_PREFIXES`]; each candidate costs one
//! `GET PREFIX/config`. The first candidate that answers as Flink is
//! identified under its prefix as usual (those requests are
//! identification's, not discovery's). A candidate that asks for HTTP
//! authentication is kept in case no open one turns up: then the port
//! reports the authenticating proxy. `--no-prefix-discovery` turns it off.
//! The README's "Flink behind a reverse proxy" section documents all this.

use std::sync::OnceLock;

use regex::bytes::Regex;

use super::flink_http;
use crate::model::{Endpoint, Evidence, Service};
use crate::transport::http::{HttpTarget, Response};
use crate::untrusted;

/// Extra requests prefix discovery may send to one port.
pub const MAX_REQUESTS: usize = 8;

/// Prefixes tried when neither a redirect nor the root page names one:
/// what ingress and proxy examples for Flink's web UI commonly use.
pub const COMMON_PREFIXES: &[&str] = &[
    "/flink",
    "/flink-ui",
    "/dashboard",
    "/flink-dashboard",
    "/jobmanager",
    "/ui",
];

/// Links read from a root page, and the body bytes searched for them.
const MAX_LINKS: usize = 64;
const MAX_PAGE_BYTES: usize = 64 * 1024;
/// Candidates a root page may contribute (the common list follows).
const MAX_LINK_CANDIDATES: usize = 4;

/// Whether a `/config` answer leaves room for Flink under a prefix: a 404
/// or a redirect (a proxy's root, not Flink's router, answered).
pub fn worth_trying(config: &Response) -> bool {
    config.status == 404 || (300..400).contains(&config.status)
}

/// What discovery found on one port.
pub enum Found {
    /// Flink (or another recognised service) under a prefix: the
    /// endpoint carries the prefix, identification already ran there.
    Service(Service),
    /// Nothing open; a prefix that asks for authentication, identified.
    Authenticating(Service),
    /// Nothing: the evidence names what was tried.
    Nothing(Evidence),
}

/// Look for Flink under a prefix of `target` (a root endpoint), whose
/// `/config` answered `config`.
pub async fn discover(target: &HttpTarget, config: &Response, seen: &mut super::Seen) -> Found {
    let mut budget = MAX_REQUESTS;
    let mut candidates: Vec<String> = Vec::new();
    if let Some(p) = redirect_prefix(config, &target.endpoint) {
        push(&mut candidates, p);
    }
    budget -= 1;
    match target.get("/").await {
        Ok(root) if (300..400).contains(&root.status) => {
            if let Some(p) = redirect_prefix(&root, &target.endpoint) {
                push(&mut candidates, p);
            }
        }
        Ok(root) if root.status == 200 => {
            for p in link_prefixes(&root.body)
                .into_iter()
                .take(MAX_LINK_CANDIDATES)
            {
                push(&mut candidates, p);
            }
        }
        _ => {}
    }
    for p in COMMON_PREFIXES {
        push(&mut candidates, (*p).to_string());
    }
    let mut tried = Vec::new();
    let mut authenticating: Option<Service> = None;
    for prefix in candidates {
        if budget == 0 {
            break;
        }
        // A candidate the deny-list refuses (a root page linking `/run/`)
        // is never asked for and costs nothing.
        if crate::transport::deny::check_path(&format!("{prefix}/config")).is_err() {
            continue;
        }
        budget -= 1;
        let under = HttpTarget {
            endpoint: target.endpoint.under(Some(prefix.clone())),
            ..target.clone()
        };
        tried.push(format!("{prefix}/config"));
        let Ok((resp, note)) = under.get_noted("/config").await else {
            continue;
        };
        if looks_like_flink(&resp) {
            let s = super::identify_http(&under, resp, note, seen).await;
            if s.flink {
                return Found::Service(discovered(s, &prefix));
            }
            // Full identification sends more than one request: a peer
            // that looks like Flink under every prefix and is not gets it
            // once, not once per candidate (the budget is discovery's).
            break;
        }
        if authenticating.is_none() {
            if let Some(s) = authentication_required(&under.endpoint, &resp) {
                authenticating = Some(discovered(s, &prefix));
            }
        }
    }
    match authenticating {
        Some(s) => Found::Authenticating(s),
        None => Found::Nothing(Evidence {
            request: "prefix discovery".into(),
            status: None,
            excerpt: format!(
                "GET / and {} (at most {MAX_REQUESTS} requests): no Flink under a path prefix",
                tried.join(", ")
            )
            .into(),
        }),
    }
}

/// How the service was found, first in its evidence.
fn discovered(mut s: Service, prefix: &str) -> Service {
    s.evidence.insert(
        0,
        Evidence {
            request: "prefix discovery".into(),
            status: None,
            excerpt: format!("/config at the root is not Flink's; {prefix}/ is").into(),
        },
    );
    s
}

fn push(list: &mut Vec<String>, prefix: String) {
    if !list.contains(&prefix) {
        list.push(prefix);
    }
}

/// Answers only Flink's REST server or its Prometheus reporter gives.
fn looks_like_flink(resp: &Response) -> bool {
    flink_http::parse_dashboard_config(resp).is_some()
        || flink_http::is_flink_prometheus(resp)
        || flink_http::is_flink_rest_not_found(resp, "/config")
}

/// A `401` with `WWW-Authenticate` (a proxy asking for credentials) as a
/// service: HTTP, not known to be Flink, never open. flinkscan sends no
/// credentials.
pub fn authentication_required(endpoint: &Endpoint, resp: &Response) -> Option<Service> {
    if resp.status != 401 {
        return None;
    }
    let challenge = resp.header("www-authenticate")?;
    let scheme = challenge
        .split_whitespace()
        .next()
        .map(|s| untrusted::clean(s, 20))
        .unwrap_or_default();
    let mut s = Service::identified(
        endpoint.clone(),
        crate::model::ServiceKind::OtherHttp,
        format!("behind an authenticating proxy (HTTP {scheme} authentication)"),
        80,
    )
    .with_evidence(Evidence {
        request: format!("GET {}", endpoint.path("/config")).into(),
        status: Some(resp.status),
        excerpt: format!(
            "WWW-Authenticate: {}; flinkscan sends no credentials, so what is behind it is not \
             reachable without them",
            untrusted::clean(challenge, 120)
        )
        .into(),
    });
    s.flink = false;
    Some(s)
}

/// The prefix a same-host redirect points to: `Location: /flink/` or
/// `http://this-host:port/flink/#/overview` give `/flink`. Another host
/// is never followed.
pub fn redirect_prefix(resp: &Response, endpoint: &Endpoint) -> Option<String> {
    if !(300..400).contains(&resp.status) {
        return None;
    }
    let location = resp.header("location")?.trim();
    let path = same_host_path(location, endpoint)?;
    first_segment(&path)
}

/// The path of a link or `Location` on this host, `None` for another host.
fn same_host_path(link: &str, endpoint: &Endpoint) -> Option<String> {
    if link.starts_with("//") {
        return None;
    }
    if link.starts_with('/') {
        return Some(link.to_string());
    }
    if let Some((_, rest)) = link.split_once("://") {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ours = endpoint
            .known_ip()
            .is_some_and(|ip| host.parse::<std::net::IpAddr>().ok() == Some(ip))
            || endpoint
                .hostname
                .as_deref()
                .is_some_and(|h| h.eq_ignore_ascii_case(host));
        return ours.then(|| path.to_string());
    }
    // Relative (`flink/`): from the root page, relative to `/`.
    let scheme_like = link.split_once(':').is_some_and(|(s, _)| !s.contains('/'));
    (!scheme_like).then(|| format!("/{link}"))
}

/// `/flink/#/overview` -> `/flink`: the first path segment, if it is a
/// plain name (no query, no dots that make it a file).
fn first_segment(path: &str) -> Option<String> {
    let path = path.split(['?', '#']).next()?;
    let seg = path.trim_start_matches('/').split('/').next()?;
    let plain = !seg.is_empty()
        && seg.len() <= 64
        && !seg.contains('.')
        && seg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_~".contains(c));
    // A link to a file at the root (`/favicon.ico`) or to `/config` names
    // no prefix.
    let is_dir = path.trim_start_matches('/').len() > seg.len();
    (plain && is_dir && seg != "config").then(|| format!("/{seg}"))
}

/// Candidate prefixes from the links of a root page, those that look like
/// Flink's first, each once, from at most [`MAX_LINKS`] links.
pub fn link_prefixes(body: &[u8]) -> Vec<String> {
    static LINK: OnceLock<Option<Regex>> = OnceLock::new();
    let Some(re) = LINK
        .get_or_init(|| {
            Regex::new(r#"(?i)\b(?:href|src|action)\s*=\s*["']([^"'<>\s]{1,200})["']"#).ok()
        })
        .as_ref()
    else {
        return Vec::new();
    };
    let page = body.get(..body.len().min(MAX_PAGE_BYTES)).unwrap_or(body);
    let anywhere = Endpoint::new(std::net::IpAddr::from([0, 0, 0, 0]), 0);
    let mut found: Vec<String> = Vec::new();
    for cap in re.captures_iter(page).take(MAX_LINKS) {
        let Some(link) = cap
            .get(1)
            .and_then(|m| std::str::from_utf8(m.as_bytes()).ok())
        else {
            continue;
        };
        // Absolute links to another host never count: `anywhere` matches no host.
        let Some(prefix) = same_host_path(link, &anywhere).and_then(|p| first_segment(&p)) else {
            continue;
        };
        push(&mut found, prefix);
    }
    let flinky = |p: &String| {
        let p = p.to_ascii_lowercase();
        ["flink", "dashboard", "jobmanager"]
            .iter()
            .any(|w| p.contains(w))
    };
    let (mut first, rest): (Vec<String>, Vec<String>) = found.into_iter().partition(flinky);
    first.extend(rest);
    first
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Bytes::from(body.to_string()),
        }
    }

    fn ep() -> Endpoint {
        Endpoint::new("127.0.0.7".parse().unwrap(), 8080)
    }

    #[test]
    fn redirects_on_this_host_give_a_prefix_and_others_do_not() {
        for (loc, want) in [
            ("/flink/", Some("/flink")),
            ("/flink/#/overview", Some("/flink")),
            ("http://127.0.0.7:8080/flink-ui/", Some("/flink-ui")),
            ("http://127.0.0.8:8080/flink/", None),
            ("//evil.example/flink/", None),
            ("https://other.example/flink/", None),
            ("/index.html", None),
            ("/flink", None),
            ("/config/", None),
        ] {
            let r = resp(302, &[("location", loc)], "");
            assert_eq!(redirect_prefix(&r, &ep()).as_deref(), want, "{loc}");
        }
        let mut named = ep();
        named.hostname = Some("gw.test".into());
        let r = resp(301, &[("location", "https://GW.test/dash/")], "");
        assert_eq!(redirect_prefix(&r, &named).as_deref(), Some("/dash"));
        assert_eq!(
            redirect_prefix(&resp(200, &[("location", "/x/")], ""), &ep()),
            None
        );
    }

    #[test]
    fn links_give_prefixes_flink_first_bounded() {
        let page = r#"<html><a href="/grafana/">g</a> <a href='/flink/'>f</a>
            <img src="/static/logo.png"> <a href="https://elsewhere.test/other/">x</a>
            <a href="jobs-ui/index.html">j</a> <a href="mailto:x@y">m</a>
            <a href="/grafana/d/1">again</a></html>"#;
        assert_eq!(
            link_prefixes(page.as_bytes()),
            ["/flink", "/grafana", "/static", "/jobs-ui"]
        );
        let many: String = (0..500).map(|i| format!("<a href=\"/p{i}/\">")).collect();
        assert_eq!(link_prefixes(many.as_bytes()).len(), MAX_LINKS);
    }

    #[test]
    fn a_basic_auth_challenge_is_an_authenticating_proxy_not_flink() {
        let r = resp(
            401,
            &[("www-authenticate", "Basic realm=\"flink\"")],
            "<html>401</html>",
        );
        let s = authentication_required(&ep().under(Some("/private".into())), &r).unwrap();
        assert!(!s.flink);
        assert!(s
            .product
            .unwrap()
            .contains("behind an authenticating proxy"));
        assert_eq!(&*s.evidence[0].request, "GET /private/config");
        assert!(authentication_required(&ep(), &resp(401, &[], "")).is_none());
        assert!(
            authentication_required(&ep(), &resp(403, &[("www-authenticate", "Basic")], ""))
                .is_none()
        );
    }

    #[test]
    fn only_404_and_redirects_start_discovery() {
        for (status, want) in [
            (404, true),
            (301, true),
            (302, true),
            (200, false),
            (401, false),
            (500, false),
        ] {
            assert_eq!(worth_trying(&resp(status, &[], "")), want, "{status}");
        }
    }

    /// A hostile root: `/config` is a plain 404, every prefixed path
    /// answers like Flink's router but is not Flink, and the root page
    /// links a denied prefix. Discovery never asks for the denied one,
    /// and full identification (more than one request) runs once, not
    /// once per candidate.
    #[tokio::test]
    async fn a_look_alike_under_every_prefix_costs_one_identification() {
        use std::sync::{Arc, Mutex};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = l.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut c, _)) = l.accept().await {
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = c.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(buf.get(..n).unwrap_or(&[])).to_string();
                    let path = head.split(' ').nth(1).unwrap_or("").to_string();
                    if let Ok(mut v) = log.lock() {
                        v.push(path.clone());
                    }
                    let (status, body) = match path.as_str() {
                        "/config" => ("404 Not Found", "nope".to_string()),
                        "/" => (
                            "200 OK",
                            "<a href=\"/run/\">r</a><a href=\"/a/\">a</a>".to_string(),
                        ),
                        _ => (
                            "404 Not Found",
                            r#"{"errors":["Not found: /config"]}"#.to_string(),
                        ),
                    };
                    let reply = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = c.write_all(reply.as_bytes()).await;
                });
            }
        });
        let target = HttpTarget::new(
            Endpoint::new(addr.ip(), addr.port()),
            false,
            std::time::Duration::from_secs(5),
        );
        let config = resp(404, &[], "nope");
        let found = discover(&target, &config, &mut crate::identify::Seen::default()).await;
        assert!(!matches!(found, Found::Service(_)));
        let seen = seen.lock().map(|v| v.clone()).unwrap_or_default();
        assert!(!seen.iter().any(|p| p.starts_with("/run")), "{seen:?}");
        let probed = seen.iter().filter(|p| p.ends_with("/config")).count();
        assert!(probed < MAX_REQUESTS, "{seen:?}");
        let identified: std::collections::BTreeSet<&str> = seen
            .iter()
            .filter(|p| *p != "/" && !p.ends_with("/config"))
            .filter_map(|p| p.get(1..).and_then(|p| p.split('/').next()))
            .collect();
        assert!(
            identified.len() <= 1,
            "identified under {identified:?}: {seen:?}"
        );
    }
}
