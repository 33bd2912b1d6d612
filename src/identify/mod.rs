//! Identify: decide what listens on an open port by probing, never by port number.
//!
//! Order on every port, each step on a fresh connection and bounded in time:
//! 1. A plaintext HTTP request for `/config`. HTTP services are told apart by
//!    their answers (JobManager, HistoryServer, SQL Gateway, Prometheus,
//!    other); a TaskManager data port answers with Flink's netty magic.
//! 2. Only if that was closed, alerted, redirected to https or answered
//!    400 (how nginx answers plain HTTP on a TLS port): a TLS sniff (a
//!    ClientHello); on TLS, step 1 runs again inside TLS.
//!
//! A probe that fails is never read as "absent": it is recorded in
//! `Service::errors`, lowers the confidence, and where two classifications
//! remain, the one worse for the defender is kept (a dashboard whose
//! `/overview` cannot be read stays a JobManager unless HistoryServer
//! evidence exists).
//! 3. Silent ports: the BLOB probe `01 7f`, then, only if that got no
//!    answer, the RPC heartbeat (its leading `00` would be a PUT to a BLOB
//!    server), then the JRMI header. These three wait a multiple of the
//!    connect round trip, not the whole probe timeout.
//!
//! Steps are strictly sequential, so we never hold more than one connection
//! to a port (a BLOB server stalls the cluster at 50).

pub mod flink_http;
pub mod k8s_operator;
pub mod prefix;
pub mod yarn;

use std::time::Duration;

use crate::model::{Endpoint, Evidence, Service, ServiceKind, TlsSummary};
use crate::transport::evidence_http;
use crate::transport::http::{self, HttpTarget, Response};
use crate::transport::wire;
use crate::untrusted;

/// Limits for identification.
#[derive(Debug, Clone)]
pub struct IdentifyConfig {
    /// Deadline for each probe exchange.
    pub timeout: Duration,
    /// Look for Flink under a path prefix when `/config` at the root
    /// answers 404 or a redirect ([`prefix`]); `--no-prefix-discovery`
    /// turns it off.
    pub discover_prefixes: bool,
}

const BANNER_REQUEST_PATH: &str = "/config";
/// Confidence in an RPC port seen alone; host correlation raises it to
/// [`RPC_CORROBORATED_CONFIDENCE`] next to another Flink interface.
pub const RPC_ALONE_CONFIDENCE: u8 = 75;
pub const RPC_CORROBORATED_CONFIDENCE: u8 = 95;
const RAW_CAP: usize = 16 * 1024;

/// HTTP answers identification got, handed on to the checks
/// (`crate::checks::run_seen`), which reuse them instead of asking again:
/// the probe files that send `GET /config` get identification's answer,
/// and a port that answered it without credentials and then stopped
/// accepting connections (a flapping pod, a crash, a firewall closing it)
/// still has its unauthenticated REST API reported. Bounded: a few
/// answers, bodies already capped by the HTTP client.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    answers: Vec<(bool, String, Response)>,
}

impl Seen {
    /// Keep the answer to `GET path` from `target`, keyed by the path as
    /// sent: a prefix discovery's `/config` is not the root's.
    fn keep(&mut self, target: &HttpTarget, path: &str, resp: &Response) {
        if self.answers.len() < 4 {
            let as_sent = target.endpoint.path(path);
            self.answers.push((target.tls, as_sent, resp.clone()));
        }
    }

    /// The kept answer to `GET path` from `target`.
    fn kept(&self, target: &HttpTarget, path: &str) -> Option<&Response> {
        let as_sent = target.endpoint.path(path);
        self.answers()
            .find(|(t, p, _)| *t == target.tls && *p == as_sent)
            .map(|(_, _, r)| r)
    }

    /// The answers kept: over TLS or not, the path as sent, the answer.
    pub fn answers(&self) -> impl Iterator<Item = (bool, &str, &Response)> {
        self.answers.iter().map(|(t, p, r)| (*t, p.as_str(), r))
    }
}

/// Identify the service on one open endpoint.
pub async fn identify(endpoint: Endpoint, cfg: &IdentifyConfig) -> Service {
    identify_seen(endpoint, cfg).await.0
}

/// [`identify`], and the HTTP answers it got ([`Seen`]).
pub async fn identify_seen(endpoint: Endpoint, cfg: &IdentifyConfig) -> (Service, Seen) {
    let mut seen = Seen::default();
    let service = identify_into(endpoint, cfg, &mut seen).await;
    (service, seen)
}

async fn identify_into(endpoint: Endpoint, cfg: &IdentifyConfig, seen: &mut Seen) -> Service {
    let addr = endpoint.dest();
    // Plain HTTP first: Flink's REST endpoint waits for more bytes after a
    // ClientHello (a whole probe timeout lost), while TLS servers answer an
    // HTTP request at once with an alert, a close, or Flink's redirect.
    // The headers the HTTP client sends: an HTTP answer to this request is
    // read to its end and classified (`open` below), not asked for again.
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\nAccept: {}\r\nConnection: close\r\n\r\n",
        endpoint.path(BANNER_REQUEST_PATH),
        endpoint.host_header(),
        http::USER_AGENT,
        http::ACCEPT
    );
    let (banner, stream) = match wire::exchange_kept(
        &addr,
        request.as_bytes(),
        cfg.timeout,
        RAW_CAP,
        banner_complete,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            let mut s = Service::new(endpoint.clone(), ServiceKind::Unknown);
            s.errors.push(format!("connect: {e}"));
            return s;
        }
    };
    // TLS servers reject an HTTP request at once (alert or close); a port
    // that just waits for more bytes (RPC, TaskManager data, tarpits) is
    // not sniffed, which would cost a whole probe timeout.
    // A TLS terminator (nginx: "The plain HTTP request was sent to HTTPS
    // port") answers plain HTTP with a 400: HTTP, but not the service
    // behind it, which only TLS reaches.
    let maybe_tls = (banner.bytes.is_empty() && !banner.timed_out)
        || banner.bytes.starts_with(&[0x15, 0x03])
        || banner_redirects_to_https(&banner.bytes)
        || banner_status(&banner.bytes) == Some(400);
    // Close with RST so a scan leaves no TIME_WAIT behind.
    let _ = stream.set_zero_linger();
    // An HTTP head read whole: the rest of that answer is read on the same
    // connection, and serves classification and the checks. A head cut by
    // the deadline is dropped, and HTTP asked again with a fresh one.
    let whole_head = banner.bytes.starts_with(b"HTTP/") && banner_complete(&banner.bytes);
    let plain_target = HttpTarget::new(endpoint.clone(), false, cfg.timeout);
    let mut first = None;
    if whole_head {
        let read = banner.bytes.clone();
        first = Some(
            plain_target
                .answer_to_sent(stream, read, BANNER_REQUEST_PATH)
                .await,
        );
    }
    if maybe_tls {
        // Read before the sniff (one connection to a port at a time), and
        // kept: a TLS port's redirect check asks the same plain request.
        if let Some(Ok((resp, _))) = &first {
            seen.keep(&plain_target, BANNER_REQUEST_PATH, resp);
        }
        let sni = endpoint.hostname.clone();
        match crate::tls::sniff_with_notes(&addr, sni.as_deref(), cfg.timeout).await {
            Ok(Some(sniffed)) => {
                let mut s = identify_tls(&endpoint, sniffed.summary, cfg, seen).await;
                for note in sniffed.notes.into_iter().rev() {
                    s.errors.insert(0, note);
                }
                return s;
            }
            Ok(None) => {}
            Err(e) => {
                let mut s = identify_plain(&endpoint, banner, first, cfg, seen).await;
                s.errors.insert(0, format!("TLS sniff: {e}"));
                return s;
            }
        }
    }
    identify_plain(&endpoint, banner, first, cfg, seen).await
}

/// HTTP: the whole head; anything else: the first line or a known frame.
fn banner_complete(b: &[u8]) -> bool {
    if b.starts_with(b"HTTP/") {
        b.windows(4).any(|w| w == b"\r\n\r\n")
    } else {
        b.contains(&b'\n') || wire::is_taskmanager_data(b) || b.starts_with(&[0x15, 0x03])
    }
}

/// The status code of an HTTP/1.x status line.
fn banner_status(bytes: &[u8]) -> Option<u16> {
    let line = bytes.get(..bytes.len().min(64))?;
    if !line.starts_with(b"HTTP/1.") {
        return None;
    }
    std::str::from_utf8(line.get(9..12)?).ok()?.parse().ok()
}

fn banner_redirects_to_https(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(bytes.get(..bytes.len().min(4096)).unwrap_or(bytes))
        .to_ascii_lowercase();
    head.starts_with("http/1.") && head.contains("\nlocation: https://")
}

async fn identify_tls(
    endpoint: &Endpoint,
    summary: TlsSummary,
    cfg: &IdentifyConfig,
    seen: &mut Seen,
) -> Service {
    let target = HttpTarget::new(endpoint.clone(), true, cfg.timeout);
    let mut tls_excerpt = tls_excerpt(&summary);
    let mut service = match target.get_noted(BANNER_REQUEST_PATH).await {
        Ok((resp, note)) => identify_root(&target, resp, note, cfg, seen).await,
        Err(e) => {
            // The handshake needs a client certificate or suites rustls
            // refuses (Flink's default internal SSL suite). Flink's REST
            // endpoint still answers plain HTTP with a redirect to HTTPS.
            let mut s = identify_behind_tls(endpoint, cfg, seen).await;
            s.inner_unreachable = true;
            s.errors.push(format!("HTTP over TLS: {e}"));
            s
        }
    };
    if service.kind == ServiceKind::K8sOperatorWebhook {
        let san = summary.certificate.as_ref().map(|c| c.san.as_slice());
        if let Some(name) = san.and_then(k8s_operator::webhook_certificate) {
            tls_excerpt.push_str(&format!(
                "; certificate for {name} (the name cert-manager gives the operator's webhook)"
            ));
            service.confidence = service.confidence.max(95);
        }
    }
    if summary.client_cert_required {
        tls_excerpt.push_str("; server requires a client certificate (mutual TLS)");
    }
    let tls_evidence = Evidence {
        request: "tls ClientHello".into(),
        status: None,
        excerpt: tls_excerpt.into(),
    };
    service.evidence.insert(0, tls_evidence);
    service.tls = Some(Box::new(summary));
    service
}

fn tls_excerpt(t: &TlsSummary) -> String {
    let mut parts = Vec::new();
    if let Some(v) = &t.version {
        parts.push(v.clone());
    }
    if let Some(c) = &t.cipher_suite {
        parts.push(c.clone());
    }
    if let Some(cert) = &t.certificate {
        parts.push(format!("subject {}", untrusted::clean(&cert.subject, 120)));
    }
    parts.join(", ")
}

/// A TLS port whose inner protocol we cannot reach. Only Flink's REST
/// redirect identifies it; otherwise it stays unknown (never guessed from
/// the port number).
async fn identify_behind_tls(endpoint: &Endpoint, cfg: &IdentifyConfig, seen: &Seen) -> Service {
    let plain = HttpTarget::new(endpoint.clone(), false, cfg.timeout);
    let mut errors = Vec::new();
    // The first request's answer, when it was HTTP and read whole.
    let kept = seen.kept(&plain, BANNER_REQUEST_PATH).cloned();
    let answer = match kept {
        Some(resp) => Ok(resp),
        None => plain.get(BANNER_REQUEST_PATH).await,
    };
    match answer {
        Ok(resp) => {
            if let Some(loc) = flink_http::https_redirect_location(&resp) {
                let expected_suffix =
                    format!(":{}{}", endpoint.port, endpoint.path(BANNER_REQUEST_PATH));
                if loc.ends_with(&expected_suffix) {
                    return Service::identified(
                        endpoint.clone(),
                        ServiceKind::JobmanagerRest,
                        "Apache Flink",
                        70,
                    )
                    .with_evidence(evidence_http("GET /config (plain HTTP)", &resp));
                }
            }
        }
        // Closed or answered with TLS: that is the answer (no redirect).
        Err(http::HttpError::Protocol(_)) => {}
        Err(e) => errors.push(format!("GET /config (plain HTTP, for a redirect): {e}")),
    }
    let mut s = Service::new(endpoint.clone(), ServiceKind::Unknown);
    s.product = Some("TLS service (inner protocol not reachable)".into());
    s.confidence = 0;
    s.errors = errors;
    s
}

/// `first`: the banner's HTTP answer, read whole on its connection.
async fn identify_plain(
    endpoint: &Endpoint,
    banner: wire::Reply,
    first: Option<Result<(Response, Option<String>), http::HttpError>>,
    cfg: &IdentifyConfig,
    seen: &mut Seen,
) -> Service {
    if banner.bytes.starts_with(b"HTTP/") {
        let target = HttpTarget::new(endpoint.clone(), false, cfg.timeout);
        let answer = match first {
            Some(answer) => answer,
            None => target.get_noted(BANNER_REQUEST_PATH).await,
        };
        return match answer {
            Ok((resp, note)) => identify_root(&target, resp, note, cfg, seen).await,
            Err(e) => {
                let mut s = Service::new(endpoint.clone(), ServiceKind::OtherHttp);
                s.evidence.push(raw_evidence("GET /config", &banner.bytes));
                s.errors.push(format!("HTTP: {e}"));
                s.confidence = 50;
                s
            }
        };
    }
    if wire::is_taskmanager_data(&banner.bytes) {
        return taskmanager_data(endpoint, "GET /config (as garbage)", &banner.bytes);
    }
    if !banner.bytes.is_empty() {
        // It talks, but not HTTP and not Flink: SSH, Redis, SMTP and friends.
        let mut s = not_flink(endpoint, "GET /config", &banner.bytes, 60);
        if banner.timed_out {
            s.errors.push(format!(
                "reply still incomplete after {:?} ({} bytes)",
                cfg.timeout,
                banner.bytes.len()
            ));
        }
        return s;
    }
    // A BLOB server answers its probe at once, while an RPC port waits for
    // the rest of a frame: wait a generous multiple of the round trip, not
    // the whole probe timeout. The same wait serves the RPC and JRMI probes.
    // A probe timeout below the floor wins (clamp needs min <= max).
    let floor = Duration::from_millis(750).min(cfg.timeout);
    let blob_wait = (banner.connect_time * 20).clamp(floor, cfg.timeout);
    identify_silent(endpoint, cfg, blob_wait).await
}

/// A port that answered a probe with something that is not Flink.
fn not_flink(endpoint: &Endpoint, request: &str, bytes: &[u8], confidence: u8) -> Service {
    Service::identified(
        endpoint.clone(),
        ServiceKind::Other,
        guess_banner_product(bytes),
        confidence,
    )
    .with_evidence(raw_evidence(request, bytes))
}

/// Flink's netty shuffle port answers a complete frame it cannot decode
/// with an error frame that carries its magic number.
fn taskmanager_data(endpoint: &Endpoint, request: &str, bytes: &[u8]) -> Service {
    Service::identified(
        endpoint.clone(),
        ServiceKind::TaskmanagerData,
        "Apache Flink",
        85,
    )
    .with_evidence(Evidence {
        request: request.to_string().into(),
        status: None,
        excerpt: format!(
            "netty frame with Flink magic badc0ffe: {}",
            untrusted::hex_excerpt(bytes, 16)
        )
        .into(),
    })
}

/// The port said nothing to HTTP: try Flink's binary protocols, safest first.
async fn identify_silent(
    endpoint: &Endpoint,
    cfg: &IdentifyConfig,
    blob_wait: Duration,
) -> Service {
    let addr = endpoint.dest();
    let mut errors = Vec::new();

    match wire::exchange(
        &addr,
        wire::BLOB_PROBE,
        blob_wait,
        4096,
        wire::blob_reply_complete,
    )
    .await
    {
        Ok(reply) => {
            if let Some(blob) = wire::parse_blob_reply(&reply.bytes) {
                return Service::identified(
                    endpoint.clone(),
                    ServiceKind::BlobServer,
                    "Apache Flink",
                    95,
                )
                .with_evidence(Evidence {
                    request: "blob 01 7f (GET, unknown addressing)".into(),
                    status: None,
                    excerpt: format!(
                        "RETURN_ERROR with java.io.IOException: {}",
                        untrusted::clean(&untrusted::redact(&blob.message), 120)
                    )
                    .into(),
                });
            }
            if wire::is_taskmanager_data(&reply.bytes) {
                return taskmanager_data(endpoint, "blob 01 7f", &reply.bytes);
            }
            if !reply.bytes.is_empty() {
                return not_flink(endpoint, "blob 01 7f", &reply.bytes, 40);
            }
        }
        Err(e) => errors.push(format!("blob probe: {e}")),
    }

    // RPC and RMI servers answer these at once too: a silent port costs a
    // few round-trip multiples per probe, not whole probe timeouts.
    match wire::exchange(&addr, wire::RPC_HEARTBEAT, blob_wait, 64, |b| b.len() >= 12).await {
        Ok(reply) if wire::is_rpc_disassociate(&reply.bytes) => {
            // Any Akka/Pekko classic-remoting server answers the same way
            // (Spark 1.x used Akka remoting too): certain only next to
            // another Flink interface, which host correlation checks.
            return Service::identified(
                endpoint.clone(),
                ServiceKind::Rpc,
                "Apache Flink",
                RPC_ALONE_CONFIDENCE,
            )
            .with_evidence(Evidence {
                request: "rpc 00000004 12020803 (stray HEARTBEAT PDU)".into(),
                status: None,
                excerpt: format!(
                    "DISASSOCIATE {} (Akka/Pekko classic remoting, plaintext)",
                    untrusted::hex_excerpt(&reply.bytes, 12)
                )
                .into(),
            });
        }
        Ok(reply) if wire::is_taskmanager_data(&reply.bytes) => {
            return taskmanager_data(
                endpoint,
                "rpc heartbeat (a complete 4-byte frame)",
                &reply.bytes,
            );
        }
        Ok(reply) if !reply.bytes.is_empty() => {
            return not_flink(endpoint, "rpc heartbeat", &reply.bytes, 40);
        }
        Ok(_) => {}
        Err(e) => errors.push(format!("rpc probe: {e}")),
    }

    match wire::exchange(&addr, wire::JRMI_PROBE, blob_wait, 512, wire::is_jrmi_ack).await {
        Ok(reply) if wire::is_jrmi_ack(&reply.bytes) => {
            let mut s = Service::identified(
                endpoint.clone(),
                ServiceKind::JmxRmi,
                "Java RMI registry (JMX)",
                60,
            )
            .with_evidence(Evidence {
                request: "JRMI 0002 4b (RMI stream protocol header)".into(),
                status: None,
                excerpt: "ProtocolAck".into(),
            });
            // Any JVM can open one; it counts as Flink's only next to Flink.
            s.flink = false;
            return s;
        }
        Ok(_) => {}
        Err(e) => errors.push(format!("jrmi probe: {e}")),
    }

    let mut s = Service::new(endpoint.clone(), ServiceKind::Unknown);
    if errors.is_empty() {
        // The BLOB/RPC/JRMI wait is measured from the connect time, so it
        // is left out: the same port must give the same report every scan.
        errors.push(format!(
            "no answer to the HTTP (waited up to {:?}), BLOB, RPC or JRMI probes (each waited a multiple of the connect round trip, at most {:?}): the port accepts connections, then stays silent or closes",
            cfg.timeout, cfg.timeout
        ));
    }
    s.errors = errors;
    s
}

/// Classify the HTTP service at the endpoint's own path; when that is a
/// root that answered `/config` with a 404 or a redirect and is not Flink,
/// look for Flink under a path prefix ([`prefix`]).
async fn identify_root(
    target: &HttpTarget,
    config: Response,
    config_note: Option<String>,
    cfg: &IdentifyConfig,
    seen: &mut Seen,
) -> Service {
    let discover = cfg.discover_prefixes
        && target.endpoint.base_path.is_none()
        && prefix::worth_trying(&config);
    let root_config = discover.then(|| config.clone());
    let mut s = identify_http(target, config, config_note, seen).await;
    let Some(root_config) = root_config.filter(|_| s.kind == ServiceKind::OtherHttp) else {
        return s;
    };
    match prefix::discover(target, &root_config, seen).await {
        prefix::Found::Service(found) | prefix::Found::Authenticating(found) => found,
        prefix::Found::Nothing(tried) => {
            s.evidence.push(tried);
            s
        }
    }
}

/// Classify an HTTP service; what cut a body short (`config_note` for
/// `/config`) is recorded and costs confidence.
pub(crate) async fn identify_http(
    target: &HttpTarget,
    config: Response,
    config_note: Option<String>,
    seen: &mut Seen,
) -> Service {
    let mut notes: Vec<String> = config_note
        .map(|n| format!("GET {BANNER_REQUEST_PATH}: {n}"))
        .into_iter()
        .collect();
    seen.keep(target, BANNER_REQUEST_PATH, &config);
    let mut s = classify_http(target, config, &mut notes).await;
    if !notes.is_empty() {
        s.confidence = s.confidence.saturating_sub(10);
        s.errors.append(&mut notes);
    }
    s
}

/// GET that keeps a body its connection ended uncleanly, noting how.
async fn get_noted(
    target: &HttpTarget,
    path: &str,
    notes: &mut Vec<String>,
) -> Result<Response, http::HttpError> {
    let (resp, note) = target.get_noted(path).await?;
    if let Some(n) = note {
        notes.push(format!("GET {path}: {n}"));
    }
    Ok(resp)
}

/// A Flink dashboard (`GET /config` answered like Flink's): a JobManager
/// or a HistoryServer, told apart by `GET /overview`.
async fn dashboard_service(
    target: &HttpTarget,
    dash: flink_http::DashboardConfig,
    mut evidence: Vec<Evidence>,
    notes: &mut Vec<String>,
) -> Service {
    let overview = get_noted(target, "/overview", notes).await;
    let verdict = flink_http::overview_verdict(&overview);
    let decision = flink_http::decide_dashboard(dash.web_history, &verdict);
    let mut s = Service::new(target.endpoint.clone(), decision.kind);
    s.product = Some("Apache Flink".into());
    s.version = dash.version.clone();
    s.revision = dash.revision.clone();
    s.features = dash.features;
    s.features.shrink();
    // Only a JobManager has an RPC port whose stack the version names;
    // a HistoryServer has none.
    if decision.kind == ServiceKind::JobmanagerRest {
        s.rpc_generation = dash.version.as_deref().and_then(flink_http::rpc_generation);
    }
    let mut confidence: u8 = if s.version.is_some() { 100 } else { 80 };
    for note in &dash.ambiguities {
        s.errors.push(format!("GET /config: {note}"));
    }
    if !dash.ambiguities.is_empty() {
        confidence = confidence.saturating_sub(30);
    }
    if let Some(doubt) = decision.doubt {
        s.errors.push(doubt);
        confidence = confidence.saturating_sub(40);
    }
    s.confidence = confidence.max(10);
    if let Ok(o) = &overview {
        evidence.push(evidence_http("GET /overview", o));
        if s.revision.is_none() && verdict == flink_http::Overview::Jobmanager {
            s.revision = flink_http::overview_commit(o);
        }
    }
    s.evidence = evidence;
    s
}

/// Classify an HTTP service from its `/config` answer, asking more only
/// where needed.
async fn classify_http(target: &HttpTarget, config: Response, notes: &mut Vec<String>) -> Service {
    let endpoint = target.endpoint.clone();
    let mut evidence = vec![evidence_http("GET /config", &config)];

    if let Some(s) = platform_by_banner(target, &config, &evidence, notes).await {
        return s;
    }

    if let Some(dash) = flink_http::parse_dashboard_config(&config) {
        return dashboard_service(target, dash, evidence, notes).await;
    }

    if flink_http::is_flink_prometheus(&config) {
        let mut s = Service::identified(
            endpoint,
            ServiceKind::PrometheusReporter,
            "Apache Flink",
            90,
        );
        s.evidence = evidence;
        return s;
    }

    if let Some(s) = spnego_resourcemanager(target, &config, &evidence, notes).await {
        return s;
    }
    if let Some(s) = prefix::authentication_required(&endpoint, &config) {
        // Nothing more is asked: every path behind it answers the same.
        return s;
    }

    let mut errors = Vec::new();
    match get_noted(target, "/v1/info", notes).await {
        Ok(info) => {
            if let Some(version) = flink_http::parse_gateway_info(&info) {
                return sql_gateway(target, endpoint, evidence, &info, version, notes).await;
            }
            if info.status >= 500 {
                errors.push(format!("GET /v1/info: answered {}", info.status));
            }
        }
        Err(e) => errors.push(format!("GET /v1/info: {e}")),
    }
    if !errors.is_empty() && flink_http::is_flink_rest_not_found(&config, BANNER_REQUEST_PATH) {
        // Flink's REST router answered /config, so this is a Flink REST
        // endpoint without a dashboard: the SQL Gateway is the one that
        // exists. Unconfirmed, so said so, but never demoted to "not Flink".
        let mut s = Service::identified(
            endpoint,
            ServiceKind::SqlGateway,
            "Apache Flink SQL Gateway",
            50,
        );
        errors.push("not confirmed; kept as SQL Gateway because /config was answered by Flink's REST router".into());
        s.errors = errors;
        s.evidence = evidence;
        return s;
    }

    match get_noted(target, yarn::INFO_PATH, notes).await {
        Ok(info) => {
            if let Some(facts) = yarn::parse_cluster_info(&info) {
                evidence.push(evidence_http(&format!("GET {}", yarn::INFO_PATH), &info));
                let mut s = Service::identified(
                    endpoint,
                    ServiceKind::YarnResourcemanager,
                    "Apache Hadoop YARN ResourceManager",
                    95,
                );
                s.version = facts.hadoop_version.clone();
                s.yarn = Some(Box::new(facts));
                s.evidence = evidence;
                s.errors = errors;
                return s;
            }
        }
        Err(e) => errors.push(format!("GET {}: {e}", yarn::INFO_PATH)),
    }

    let mut s = Service::new(endpoint, ServiceKind::OtherHttp);
    s.product = config
        .header("server")
        .map(|v| untrusted::clean(v, 80))
        .or_else(|| Some("HTTP server".into()));
    // A probe that could have shown Flink failed: less sure it is not.
    s.confidence = if errors.is_empty() { 90 } else { 50 };
    s.errors = errors;
    s.evidence = evidence;
    s
}

/// A YARN ResourceManager behind Kerberos: `/config` refused the way
/// Hadoop's SPNEGO filter refuses every path, on a ResourceManager web
/// port, and `/ws/v1/cluster/info` the same ([`yarn::spnego_resourcemanager`]).
/// One request more, only for such a refusal on such a port.
async fn spnego_resourcemanager(
    target: &HttpTarget,
    config: &Response,
    evidence: &[Evidence],
    notes: &mut Vec<String>,
) -> Option<Service> {
    let port = target.endpoint.port;
    if !(yarn::RM_WEB_PORTS.contains(&port) && yarn::is_spnego_refusal(config)) {
        return None;
    }
    let info = get_noted(target, yarn::INFO_PATH, notes).await.ok()?;
    let facts = yarn::spnego_resourcemanager(port, &info)?;
    let mut s = Service::identified(
        target.endpoint.clone(),
        ServiceKind::YarnResourcemanager,
        "Apache Hadoop YARN ResourceManager behind Kerberos (SPNEGO)",
        55,
    );
    s.evidence = evidence.to_vec();
    s.evidence.push(Evidence {
        request: format!("GET {}", target.endpoint.path(yarn::INFO_PATH)).into(),
        status: Some(info.status),
        excerpt: "WWW-Authenticate: Negotiate and Set-Cookie: hadoop.auth=, as Hadoop's SPNEGO \
                  filter refuses a request without Kerberos credentials, on a ResourceManager \
                  web port; nothing behind it was read"
            .into(),
    });
    s.yarn = Some(Box::new(facts));
    Some(s)
}

/// The Flink Kubernetes Operator's surfaces, told by their answer to
/// `/config` and, where that answer could be another server's, by a
/// second path answered the same way (`k8s_operator` names the shapes).
async fn platform_by_banner(
    target: &HttpTarget,
    config: &Response,
    evidence: &[Evidence],
    notes: &mut Vec<String>,
) -> Option<Service> {
    let endpoint = target.endpoint.clone();
    let confirm = k8s_operator::WEBHOOK_CONFIRM_PATH;
    if k8s_operator::is_webhook_refusal(config, BANNER_REQUEST_PATH) {
        // The webhook names the path it refused: a second path must be
        // named back, which a server answering 500 to everything does not.
        let second = get_noted(target, confirm, notes).await.ok()?;
        if !k8s_operator::is_webhook_refusal(&second, confirm) {
            return None;
        }
        let mut s = Service::identified(
            endpoint,
            ServiceKind::K8sOperatorWebhook,
            "Flink Kubernetes Operator admission webhook",
            85,
        );
        s.evidence = evidence.to_vec();
        s.evidence
            .push(evidence_http(&format!("GET {confirm}"), &second));
        return Some(s);
    }
    if let Some(healthy) = k8s_operator::health_answer(config) {
        // Any path gets the same two bytes: ask another one.
        let second = get_noted(target, confirm, notes).await.ok()?;
        if k8s_operator::health_answer(&second) != Some(healthy) {
            return None;
        }
        // Two bytes of plain text are weak evidence alone: it counts as the
        // operator's next to another operator or Flink interface
        // (`crate::hosts::correlate`).
        let mut s = Service::identified(
            endpoint,
            ServiceKind::K8sOperatorHealth,
            k8s_operator::HEALTH_UNCONFIRMED,
            60,
        );
        s.flink = false;
        s.evidence = evidence.to_vec();
        s.evidence
            .push(evidence_http(&format!("GET {confirm}"), &second));
        return Some(s);
    }
    if let Some(facts) = k8s_operator::parse_metrics(config) {
        let mut s = Service::identified(
            endpoint,
            ServiceKind::K8sOperatorMetrics,
            "Flink Kubernetes Operator metrics (Prometheus)",
            90,
        );
        s.evidence = evidence.to_vec();
        s.operator = Some(Box::new(facts));
        return Some(s);
    }
    None
}

async fn sql_gateway(
    target: &HttpTarget,
    endpoint: Endpoint,
    mut evidence: Vec<Evidence>,
    info: &Response,
    version: Option<String>,
    notes: &mut Vec<String>,
) -> Service {
    // The gateway talks to its cluster over REST: no RPC port of its own.
    let mut s = Service::identified(
        endpoint,
        ServiceKind::SqlGateway,
        "Apache Flink SQL Gateway",
        95,
    );
    s.version = version;
    if let Some(note) = flink_http::gateway_version_refused(info) {
        s.errors.push(format!("GET /v1/info: {note}"));
    }
    if let Some((note, differ)) = flink_http::gateway_version_repeats(info) {
        s.errors.push(format!("GET /v1/info: {note}"));
        s.confidence = 65;
        if differ {
            s.version = None;
        }
    }
    evidence.push(evidence_http("GET /v1/info", info));
    match get_noted(target, "/v1/api_versions", notes).await {
        Ok(v) => {
            let versions = flink_http::parse_api_versions(&v);
            if !versions.is_empty() {
                evidence.push(Evidence {
                    request: "GET /v1/api_versions".into(),
                    status: Some(v.status),
                    excerpt: versions.join(",").into(),
                });
            }
        }
        Err(e) => {
            s.errors.push(format!("GET /v1/api_versions: {e}"));
            s.confidence = s.confidence.saturating_sub(10);
        }
    }
    s.evidence = evidence;
    s
}

fn raw_evidence(request: &str, bytes: &[u8]) -> Evidence {
    let printable = bytes
        .iter()
        .take(64)
        .all(|&b| b == b'\r' || b == b'\n' || b == b'\t' || (0x20..0x7f).contains(&b));
    Evidence {
        request: request.to_string().into(),
        status: None,
        excerpt: if printable {
            untrusted::excerpt(bytes, 120).into()
        } else {
            format!("hex {}", untrusted::hex_excerpt(bytes, 32)).into()
        },
    }
}

fn guess_banner_product(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes.get(..bytes.len().min(64)).unwrap_or(bytes));
    let product = if text.starts_with("SSH-") {
        "SSH"
    } else if text.starts_with("-ERR") || text.starts_with("+OK") || text.starts_with("-NOAUTH") {
        "Redis or similar"
    } else if text.starts_with("220") {
        "SMTP/FTP banner"
    } else {
        "unrecognised service"
    };
    product.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_status_lines() {
        assert_eq!(
            banner_status(b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n"),
            Some(400)
        );
        assert_eq!(banner_status(b"HTTP/1.0 200 OK\r\n\r\n"), Some(200));
        for not in [
            &b"HTTP/1.1 4"[..],
            b"HTTP/2 400",
            b"SSH-2.0-x",
            b"",
            b"HTTP/1.1 abc",
        ] {
            assert_eq!(banner_status(not), None, "{not:?}");
        }
    }
}
