//! The records that flow between pipeline stages and into every report.
//!
//! Anything a remote host sent reaches these types only after it has been
//! bounded and sanitised (see `crate::untrusted`), so reports can serialise them
//! as they are.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub mod body;
mod features;
mod jobs;
mod operator;
mod yarn;

pub use body::{Body, FindingBody};
pub use features::Features;
pub use jobs::{
    Jar, Job, JobInventory, LogRead, LogSecret, Parameter, ParameterStatus, SecretKind, Seen,
};
pub use operator::OperatorFacts;
pub use yarn::{ProxiedFlink, TrackingAddress, YarnApp, YarnFacts};

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One address and port to probe; `hostname` is the name the user gave, if
/// any, so that TLS SNI and certificate name checks use it.
///
/// With `socks5h://` a name travels to the proxy unresolved: such an endpoint
/// has `resolved_by: Some(ResolvedBy::Proxy)`, and its `ip` is the
/// unspecified address `::`, a placeholder never serialized or shown (reports
/// show the name). Compare hosts with [`Endpoint::host_key`], not `ip`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
pub struct Endpoint {
    #[serde(default = "unknown_ip")]
    pub ip: IpAddr,
    pub port: u16,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub resolved_by: Option<ResolvedBy>,
    /// The path prefix Flink is served under behind a reverse proxy
    /// (`/flink`, no trailing slash): from a URL target or found by prefix
    /// discovery. Every HTTP request to the endpoint goes under it.
    #[serde(default)]
    pub base_path: Option<String>,
}

/// Who turned a target name into an address, when flinkscan did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResolvedBy {
    /// The SOCKS5 proxy (`socks5h://`): flinkscan never learns the address.
    Proxy,
}

fn unknown_ip() -> IpAddr {
    IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
}

impl Serialize for Endpoint {
    // Hand-written so that a proxy-resolved endpoint has no `ip` at all:
    // the placeholder must never read as an address that was probed.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Endpoint", 5)?;
        match self.resolved_by {
            None => st.serialize_field("ip", &self.ip)?,
            Some(_) => st.skip_field("ip")?,
        }
        st.serialize_field("port", &self.port)?;
        match &self.hostname {
            Some(h) => st.serialize_field("hostname", h)?,
            None => st.skip_field("hostname")?,
        }
        match &self.resolved_by {
            Some(r) => st.serialize_field("resolved_by", r)?,
            None => st.skip_field("resolved_by")?,
        }
        match &self.base_path {
            Some(b) => st.serialize_field("base_path", b)?,
            None => st.skip_field("base_path")?,
        }
        st.end()
    }
}

/// Where a connection goes: an address, or a name only the proxy resolves.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dest {
    Addr(SocketAddr),
    /// `socks5h://`: sent to the proxy as a name (SOCKS5 ATYP domain).
    Name(String, u16),
}

impl Dest {
    /// The address, when flinkscan knows it.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Dest::Addr(a) => Some(a.ip()),
            Dest::Name(..) => None,
        }
    }
}

impl From<SocketAddr> for Dest {
    fn from(a: SocketAddr) -> Self {
        Dest::Addr(a)
    }
}

impl From<&Dest> for Dest {
    fn from(d: &Dest) -> Self {
        d.clone()
    }
}

impl fmt::Display for Dest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dest::Addr(a) => write!(f, "{a}"),
            Dest::Name(n, p) => write!(f, "{n}:{p}"),
        }
    }
}

/// What identifies a host for grouping a host's ports together.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostKey {
    Ip(IpAddr),
    /// A name only the proxy resolved: its address is unknown here.
    Name(String),
}

impl fmt::Display for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostKey::Ip(ip) => write!(f, "{ip}"),
            HostKey::Name(n) => f.write_str(n),
        }
    }
}

impl Endpoint {
    pub fn new(ip: IpAddr, port: u16) -> Self {
        Endpoint {
            ip,
            port,
            hostname: None,
            resolved_by: None,
            base_path: None,
        }
    }

    /// A name the proxy resolves (`socks5h://`); see the type's docs.
    pub fn via_proxy(name: String, port: u16) -> Self {
        Endpoint {
            ip: unknown_ip(),
            port,
            hostname: Some(name),
            resolved_by: Some(ResolvedBy::Proxy),
            base_path: None,
        }
    }

    /// The same endpoint under the path prefix `base` (`/flink`).
    pub fn under(&self, base: Option<String>) -> Self {
        Endpoint {
            base_path: base,
            ..self.clone()
        }
    }

    /// The HTTP `Host` header: the name the user gave, else the address.
    pub fn host_header(&self) -> String {
        match &self.hostname {
            Some(h) => format!("{h}:{}", self.port),
            None => self.authority(),
        }
    }

    /// The request path for `path` (`/config`) under the base path.
    pub fn path(&self, path: &str) -> String {
        match &self.base_path {
            Some(b) => format!("{b}{path}"),
            None => path.to_string(),
        }
    }

    /// `host:port`, then the base path when there is one: what tells two
    /// services on one port apart (`127.0.0.1:8080/flink`).
    pub fn place(&self) -> String {
        format!(
            "{}{}",
            self.authority(),
            self.base_path.as_deref().unwrap_or("")
        )
    }

    /// The name when only the proxy knows the address.
    pub fn proxy_name(&self) -> Option<&str> {
        match self.resolved_by {
            Some(ResolvedBy::Proxy) => self.hostname.as_deref(),
            None => None,
        }
    }

    /// The address flinkscan itself knows, `None` for a proxy-resolved name.
    pub fn known_ip(&self) -> Option<IpAddr> {
        self.proxy_name().is_none().then_some(self.ip)
    }

    pub fn host_key(&self) -> HostKey {
        match self.proxy_name() {
            Some(n) => HostKey::Name(n.to_string()),
            None => HostKey::Ip(self.ip),
        }
    }

    /// Where connections to this endpoint go.
    pub fn dest(&self) -> Dest {
        match self.proxy_name() {
            Some(n) => Dest::Name(n.to_string(), self.port),
            None => Dest::Addr(SocketAddr::new(self.ip, self.port)),
        }
    }

    /// `host:port` with IPv6 in brackets, as used in URLs and logical
    /// locations; the name for a proxy-resolved endpoint.
    pub fn authority(&self) -> String {
        if let Some(n) = self.proxy_name() {
            return format!("{n}:{}", self.port);
        }
        match self.ip {
            IpAddr::V4(v4) => format!("{v4}:{}", self.port),
            IpAddr::V6(v6) => format!("[{v6}]:{}", self.port),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.authority())
    }
}

/// What listens on a port, decided by probing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceKind {
    /// JobManager REST API and web UI.
    JobmanagerRest,
    HistoryServer,
    SqlGateway,
    BlobServer,
    /// Akka or Pekko remoting (JobManager or TaskManager RPC, metrics query service).
    Rpc,
    /// TaskManager netty shuffle/data port.
    TaskmanagerData,
    PrometheusReporter,
    /// Java RMI registry, as the JMX reporter opens it.
    JmxRmi,
    /// Hadoop YARN ResourceManager web services (where Flink on YARN runs).
    YarnResourcemanager,
    /// The Flink Kubernetes Operator's admission webhook.
    K8sOperatorWebhook,
    /// The Flink Kubernetes Operator's health probe endpoint.
    K8sOperatorHealth,
    /// The Flink Kubernetes Operator's Prometheus metrics.
    K8sOperatorMetrics,
    /// Something that speaks HTTP but is not Flink.
    OtherHttp,
    /// Something else that answered but is not Flink.
    Other,
    /// Open port that gave no answer we could classify.
    Unknown,
}

impl ServiceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::JobmanagerRest => "jobmanager-rest",
            ServiceKind::HistoryServer => "history-server",
            ServiceKind::SqlGateway => "sql-gateway",
            ServiceKind::BlobServer => "blob-server",
            ServiceKind::Rpc => "rpc",
            ServiceKind::TaskmanagerData => "taskmanager-data",
            ServiceKind::PrometheusReporter => "prometheus-reporter",
            ServiceKind::JmxRmi => "jmx-rmi",
            ServiceKind::YarnResourcemanager => "yarn-resourcemanager",
            ServiceKind::K8sOperatorWebhook => "k8s-operator-webhook",
            ServiceKind::K8sOperatorHealth => "k8s-operator-health",
            ServiceKind::K8sOperatorMetrics => "k8s-operator-metrics",
            ServiceKind::OtherHttp => "other-http",
            ServiceKind::Other => "other",
            ServiceKind::Unknown => "unknown",
        }
    }

    /// True for interfaces that Flink itself opens.
    pub fn is_flink(self) -> bool {
        !matches!(
            self,
            ServiceKind::OtherHttp | ServiceKind::Other | ServiceKind::Unknown
        )
    }

    /// HTTP-based Flink services (probe files apply to these).
    pub fn is_http(self) -> bool {
        matches!(
            self,
            ServiceKind::JobmanagerRest
                | ServiceKind::HistoryServer
                | ServiceKind::SqlGateway
                | ServiceKind::PrometheusReporter
                | ServiceKind::OtherHttp
        ) || self.is_platform()
    }

    /// The platforms Flink runs on (YARN, the Kubernetes operator): part of
    /// a Flink deployment, but not a Flink process. Flink's version, its
    /// advisories and end of life never apply to them, and they are grouped
    /// by `crate::clusters::platforms`, not as members of a Flink cluster.
    pub fn is_platform(self) -> bool {
        matches!(
            self,
            ServiceKind::YarnResourcemanager
                | ServiceKind::K8sOperatorWebhook
                | ServiceKind::K8sOperatorHealth
                | ServiceKind::K8sOperatorMetrics
        )
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which remoting stack the cluster runs: Akka up to 1.17, Pekko from 1.18.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RpcGeneration {
    Akka,
    Pekko,
}

/// One observation that led to a decision: what we sent and a short,
/// redacted excerpt of what came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The probe that produced it, e.g. `http GET /config` or `blob 01 7f`.
    pub request: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// At most a few hundred characters, printable, secrets already redacted.
    /// Shared: a finding usually carries the very answer its service was
    /// identified by ([`Evidence::share`]).
    pub excerpt: Arc<str>,
}

impl Evidence {
    /// Point `self`'s excerpt at an equal one already held (a service's),
    /// so the text is kept once.
    pub fn share(&mut self, held: &[Evidence]) {
        if let Some(e) = held
            .iter()
            .find(|e| e.excerpt == self.excerpt && !Arc::ptr_eq(&e.excerpt, &self.excerpt))
        {
            self.excerpt = Arc::clone(&e.excerpt);
        }
        if let Some(e) = held.iter().find(|e| e.request == self.request) {
            self.request = Arc::clone(&e.request);
        }
    }
}

/// What the TLS sniff saw on a port, kept small; the full audit lives in
/// `crate::tls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TlsSummary {
    /// Version the server chose for our first ClientHello, e.g. `TLSv1.2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<String>,
    /// The server asked for a client certificate (mutual TLS).
    pub client_cert_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertSummary>,
}

/// The leaf certificate, parsed; never the raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    pub self_signed: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub san: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<String>,
    pub sha256: String,
}

/// An identified service on one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
// The rarely present parts are boxed: a scan holds every Flink service
// until its clusters are built, and most have no TLS audit, no readable
// configuration and are neither YARN nor the operator.
pub struct Service {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    pub transport: String,
    /// `Some` when the port speaks TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Box<TlsSummary>>,
    pub kind: ServiceKind,
    /// True only when the evidence shows Flink; look-alikes stay false.
    pub flink: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Where the version came from when it was not read on this port itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpc_generation: Option<RpcGeneration>,
    /// Dashboard feature flags (`web-submit`, `web-cancel`, ...).
    #[serde(default, skip_serializing_if = "Features::is_empty")]
    pub features: Features,
    /// 0-100: how sure the identification is.
    pub confidence: u8,
    pub evidence: Vec<Evidence>,
    /// Identification trouble worth reporting (timeouts, malformed replies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// TLS could be sniffed but not completed (a client certificate is
    /// required, or no suite in common), so HTTP checks cannot run inside it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inner_unreachable: bool,
    /// The full TLS audit, when one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_profile: Option<Box<TlsProfile>>,
    /// What a JobManager tells about its deployment (its TaskManagers and
    /// the non-secret configuration keys that identify and harden it):
    /// addresses, ports and key names, bounded; input to `crate::clusters`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Box<DeploymentFacts>>,
    /// How the sweep found the port open (after how many SYNs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided: Option<PortDecision>,
    /// Rules whose checks could not run on this port (their request
    /// failed: the port closed, timed out or reset): unknown, never clean.
    /// `--fail-on` counts each at its rule's severity.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<String>,
    /// What a YARN ResourceManager tells: its cluster and the Flink
    /// applications it runs (`crate::identify::yarn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yarn: Option<Box<YarnFacts>>,
    /// What the Flink Kubernetes Operator's metrics tell: the namespaces
    /// and resources it manages (`crate::identify::k8s_operator`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Box<OperatorFacts>>,
}

/// How the sweep decided one port, so a user can tell a port that a
/// firewall filters from one whose SYNs were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortDecision {
    pub by: DecidedBy,
    /// SYNs sent (each a fresh connection attempt).
    pub attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecidedBy {
    /// SYN-ACK: open.
    Answered,
    /// RST: closed.
    Refused,
    /// No answer to any attempt on a host that answered on another port:
    /// most likely filtered by a firewall.
    TimedOutAnsweringHost,
    /// No answer, and the host never answered anything: down, or all dropped.
    TimedOutSilentHost,
    /// The network said no (ICMP unreachable and the like).
    Unreachable,
}

impl Service {
    pub fn new(endpoint: Endpoint, kind: ServiceKind) -> Self {
        Service {
            endpoint,
            transport: "tcp".to_string(),
            tls: None,
            kind,
            flink: kind.is_flink(),
            product: None,
            version: None,
            version_source: None,
            revision: None,
            rpc_generation: None,
            features: Features::default(),
            confidence: 0,
            evidence: Vec::new(),
            errors: Vec::new(),
            inner_unreachable: false,
            tls_profile: None,
            deployment: None,
            decided: None,
            unchecked: Vec::new(),
            yarn: None,
            operator: None,
        }
    }

    /// A service as identification decided it: what it is, what product
    /// and how sure; evidence and errors follow with the `with_` methods.
    pub fn identified(
        endpoint: Endpoint,
        kind: ServiceKind,
        product: impl Into<String>,
        confidence: u8,
    ) -> Self {
        let mut s = Service::new(endpoint, kind);
        s.product = Some(product.into());
        s.confidence = confidence;
        s
    }

    pub fn with_evidence(mut self, e: Evidence) -> Self {
        self.evidence.push(e);
        self
    }

    pub fn with_error(mut self, e: impl Into<String>) -> Self {
        self.errors.push(e.into());
        self
    }

    /// URL scheme for this service's locations.
    pub fn scheme(&self) -> &'static str {
        match (self.kind.is_http(), self.tls.is_some()) {
            (true, true) => "https",
            (true, false) => "http",
            (false, true) => "tls",
            (false, false) => "tcp",
        }
    }

    /// Absolute URL of `path` on this service (`tcp://host:port` for non-HTTP).
    pub fn url(&self, path: &str) -> String {
        if self.kind.is_http() {
            format!(
                "{}://{}{}",
                self.scheme(),
                self.endpoint.authority(),
                self.endpoint.path(path)
            )
        } else {
            format!("{}://{}", self.scheme(), self.endpoint.authority())
        }
    }
}

/// A finding: one rule that fired on one endpoint. Its URL, detail and
/// evidence are its [`Body`], which a scan keeps in a temporary file
/// ([`body`]); the rest stays in memory for clusters, paths and verdicts.
/// JSON: one flat object, fields in the order below.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The rule's id, shared with the catalog like its title.
    pub rule_id: Arc<str>,
    pub severity: Severity,
    /// The rule's title, shared with the catalog and every finding of it.
    pub title: Arc<str>,
    /// Shared by the findings of one service (the collector makes it so):
    /// most of a finding in memory was its copy of the endpoint.
    pub endpoint: Arc<Endpoint>,
    pub service: ServiceKind,
    /// `url`, `detail` and `evidence`: see [`Finding::body`].
    pub body: Body,
    /// Its service's version, shared by the service's findings.
    pub version: Option<Arc<str>>,
    /// Set by `--baseline`.
    pub baseline_state: Option<BaselineState>,
    /// For findings that come from an advisory: which one, how sure, and
    /// what to upgrade to.
    pub advisory: Option<Box<AdvisoryMatch>>,
    /// An active, read-only probe showed the problem (rather than a
    /// version or a configuration flag suggesting it).
    pub confirmed: bool,
    /// What to do about it: the rule's remediation (Flink keys to set).
    pub remediation: Option<Arc<str>>,
    /// The id of the cluster (`crate::clusters`) its endpoint belongs to.
    /// Shared by every finding of the cluster.
    pub cluster: Option<Arc<str>>,
}

/// A finding as JSON writes it.
#[derive(Serialize)]
struct FindingOut<'a> {
    rule_id: &'a str,
    severity: Severity,
    title: &'a str,
    #[serde(flatten)]
    endpoint: &'a Endpoint,
    service: ServiceKind,
    url: &'a str,
    detail: &'a str,
    evidence: &'a [Evidence],
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_state: Option<BaselineState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    advisory: Option<&'a AdvisoryMatch>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    confirmed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    remediation: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<&'a str>,
}

/// A finding as JSON reads it.
#[derive(Deserialize)]
struct FindingIn {
    rule_id: Arc<str>,
    severity: Severity,
    title: Arc<str>,
    #[serde(flatten)]
    endpoint: Endpoint,
    service: ServiceKind,
    url: String,
    detail: String,
    evidence: Vec<Evidence>,
    version: Option<Arc<str>>,
    baseline_state: Option<BaselineState>,
    #[serde(default)]
    advisory: Option<Box<AdvisoryMatch>>,
    #[serde(default)]
    confirmed: bool,
    #[serde(default)]
    remediation: Option<Arc<str>>,
    #[serde(default)]
    cluster: Option<Arc<str>>,
}

impl Serialize for Finding {
    /// A stowed body that cannot be read back fails the document, never a
    /// finding without its detail.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let body = self
            .body
            .get()
            .map_err(|e| S::Error::custom(format!("reading back a finding: {e}")))?;
        FindingOut {
            rule_id: &self.rule_id,
            severity: self.severity,
            title: &self.title,
            endpoint: &self.endpoint,
            service: self.service,
            url: &body.url,
            detail: &body.detail,
            evidence: &body.evidence,
            version: self.version.as_deref(),
            baseline_state: self.baseline_state,
            advisory: self.advisory.as_deref(),
            confirmed: self.confirmed,
            remediation: self.remediation.as_deref(),
            cluster: self.cluster.as_deref(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Finding {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Finding, D::Error> {
        let f = FindingIn::deserialize(d)?;
        Ok(Finding {
            rule_id: f.rule_id,
            severity: f.severity,
            title: f.title,
            endpoint: Arc::new(f.endpoint),
            service: f.service,
            body: Body::held(f.url, f.detail, f.evidence),
            version: f.version,
            baseline_state: f.baseline_state,
            advisory: f.advisory,
            confirmed: f.confirmed,
            remediation: f.remediation,
            cluster: f.cluster,
        })
    }
}

/// A finding against `--baseline`'s report. `Fixed` marks an absence: the
/// baseline had it and this scan looked and did not find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaselineState {
    New,
    Unchanged,
    Fixed,
}

impl BaselineState {
    pub const ALL: [BaselineState; 3] = [
        BaselineState::New,
        BaselineState::Unchanged,
        BaselineState::Fixed,
    ];

    /// The name in JSON, JSON Lines and the text report.
    pub fn as_str(self) -> &'static str {
        match self {
            BaselineState::New => "new",
            BaselineState::Unchanged => "unchanged",
            BaselineState::Fixed => "fixed",
        }
    }

    /// SARIF 2.1.0 `result.baselineState` (§3.27.24): a fixed finding is
    /// `absent` there.
    pub fn sarif(self) -> &'static str {
        match self {
            BaselineState::New => "new",
            BaselineState::Unchanged => "unchanged",
            BaselineState::Fixed => "absent",
        }
    }
}

impl fmt::Display for BaselineState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Finding {
    /// Its URL, detail and evidence, read back from the scan's temporary
    /// file when stowed there: a failing disk is an error, never a blank.
    pub fn body(&self) -> std::io::Result<std::borrow::Cow<'_, FindingBody>> {
        self.body.get()
    }

    /// [`Finding::body`] for a report people read: a body that cannot be
    /// read back says so in its detail.
    pub fn body_or_note(&self) -> std::borrow::Cow<'_, FindingBody> {
        self.body.get().unwrap_or_else(|e| {
            std::borrow::Cow::Owned(FindingBody {
                detail: format!("(this finding's detail could not be read back: {e})"),
                ..FindingBody::default()
            })
        })
    }

    /// The body to change (read back and held if it was stowed).
    pub fn body_mut(&mut self) -> std::io::Result<&mut FindingBody> {
        self.body.get_mut()
    }

    /// A finding of `rule_id` on `endpoint` with nothing more said yet: no
    /// detail, evidence, version, baseline state, advisory or remediation.
    pub fn new(
        rule_id: impl Into<Arc<str>>,
        severity: Severity,
        title: impl Into<Arc<str>>,
        endpoint: Endpoint,
        service: ServiceKind,
        url: String,
    ) -> Finding {
        Finding {
            rule_id: rule_id.into(),
            severity,
            title: title.into(),
            endpoint: Arc::new(endpoint),
            service,
            body: Body::held(url, String::new(), Vec::new()),
            version: None,
            baseline_state: None,
            advisory: None,
            confirmed: false,
            remediation: None,
            cluster: None,
        }
    }

    /// A baseline's finding this scan no longer sees: an absence, never
    /// counted or reported as a finding of this scan.
    pub fn is_fixed(&self) -> bool {
        self.baseline_state == Some(BaselineState::Fixed)
    }
}

/// How a version finding was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchConfidence {
    /// An active, read-only probe showed the flaw (e.g. the CVE-2020-17519
    /// traversal answered with the file).
    Confirmed,
    /// The reported version is inside an affected range.
    VersionMatch,
    /// A vendor build whose base release is affected; the vendor may have
    /// backported the fix.
    VendorBuild,
    /// The version string cannot be ordered; the advisory could apply.
    Unordered,
}

/// The advisory behind a finding, as the user needs it to act.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdvisoryMatch {
    /// Every id: the OSV record's own, then its aliases (CVE, GHSA).
    pub ids: Vec<String>,
    pub confidence: MatchConfidence,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_vector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_score: Option<f64>,
    /// Releases that fix it, on this version's line where one exists.
    #[serde(default)]
    pub upgrade_to: Vec<String>,
    #[serde(default)]
    pub references: Vec<String>,
}

impl Finding {
    /// The CVE id of a CVE rule (`FLINK-CVE-2020-17519` -> `CVE-2020-17519`).
    pub fn cve_id(&self) -> Option<&str> {
        self.rule_id
            .strip_prefix("FLINK-")
            .filter(|s| s.starts_with("CVE-"))
    }

    /// A stable reference to this finding within a report: rule and
    /// endpoint (a report holds one finding per rule and endpoint).
    pub fn id(&self) -> String {
        format!("{}@{}", self.rule_id, self.endpoint.place())
    }

    /// Sort key that makes report order deterministic: worst first, then by place.
    pub fn sort_key(&self) -> (std::cmp::Reverse<Severity>, &str, &Endpoint) {
        (
            std::cmp::Reverse(self.severity),
            &self.rule_id,
            &self.endpoint,
        )
    }
}

/// A problem with one target or port that did not stop the scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub target: String,
    pub message: String,
}

// The TLS audit's records: made by `tls`, read by checks and reports.

/// One accepted cipher suite and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteInfo {
    /// IANA id.
    pub id: u16,
    /// IANA name, e.g. `TLS_RSA_WITH_AES_128_CBC_SHA`; `0x....` if unknown.
    pub name: String,
    /// Key exchange: `RSA`, `DHE`, `ECDHE`, `DH`, `ECDH`, `DH_anon`,
    /// `ECDH_anon`, `PSK`, `SRP`, `KRB5`, `ECCPWD`, `TLS1.3`, `NULL`, `unknown`.
    pub kx: String,
    /// Ephemeral key exchange: a stolen server key does not decrypt old traffic.
    pub forward_secrecy: bool,
    /// Weakness tags: `null`, `export`, `rc4`, `rc2`, `des`, `3des`, `anon`,
    /// `cbc`, `no-fs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

/// Flags that make a suite a `FLINK-TLS-WEAK-CIPHER`.
pub const WEAK_FLAGS: [&str; 7] = ["null", "export", "rc4", "rc2", "des", "3des", "anon"];

impl SuiteInfo {
    /// Whether the suite carries `flag`.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// Whether the suite is broken or export-grade (see [`WEAK_FLAGS`]).
    pub fn is_weak(&self) -> bool {
        WEAK_FLAGS.iter().any(|f| self.has(f))
    }
}

/// What one protocol version allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolSupport {
    /// `SSLv3`, `TLSv1.0`, `TLSv1.1`, `TLSv1.2` or `TLSv1.3`.
    pub version: String,
    /// The server completed a ServerHello at this version.
    pub accepted: bool,
    /// Accepted suites, in the order the server chose them.
    #[serde(default)]
    pub suites: Vec<SuiteInfo>,
    /// `Some(true)`: the server picks by its own order (so `suites` is its
    /// preference order); `Some(false)`: it follows the client's order;
    /// `None`: fewer than two suites, or not tested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_preference: Option<bool>,
    /// Trouble that made the result partial (timeout, odd reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Full TLS profile of one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsProfile {
    /// One entry per version, SSLv3 first.
    pub protocols: Vec<ProtocolSupport>,
    /// Certificates as the server sent them, leaf first (from the newest
    /// TLS <= 1.2 handshake, else from a rustls TLS 1.3 handshake).
    #[serde(default)]
    pub certificate_chain: Vec<CertSummary>,
    /// The server sent a CertificateRequest (mutual TLS).
    pub client_cert_required: bool,
    /// Findings, see `tls::weaknesses`.
    #[serde(default)]
    pub weaknesses: Vec<TlsWeakness>,
    /// Connections opened for this audit.
    #[serde(default)]
    pub handshakes: u32,
}

impl TlsProfile {
    /// The entry for `version` (`TLSv1.2`, or a `tls::ProtocolVersion`), if audited.
    pub fn protocol(&self, version: impl AsRef<str>) -> Option<&ProtocolSupport> {
        self.protocols
            .iter()
            .find(|p| p.version == version.as_ref())
    }

    /// Versions the server accepted.
    pub fn accepted_versions(&self) -> impl Iterator<Item = &ProtocolSupport> {
        self.protocols.iter().filter(|p| p.accepted)
    }
}

/// One weakness of a TLS endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsWeakness {
    /// Stable rule id, one of the constants in this module.
    pub rule_id: String,
    /// Host-specific detail (which versions, suites or certificate).
    pub detail: String,
}

/// What a JobManager tells about its deployment. Addresses, ports and
/// non-secret configuration values only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DeploymentFacts {
    /// From `GET /taskmanagers`, at most `crate::flink_rest::MAX_TASKMANAGERS`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taskmanagers: Vec<TaskManagerRef>,
    /// How many TaskManagers the JobManager listed (`None`: not readable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taskmanagers_listed: Option<usize>,
    /// `GET /jobmanager/config` answered with a configuration.
    #[serde(default)]
    pub config_readable: bool,
    /// The keys of `crate::flink_rest::CONFIG_KEYS` it holds: cluster ids, ports and the
    /// hardening switches. Never a secret: see `crate::flink_rest::config_facts`.
    /// Serialised as `[{"key", "value"}]`, as Flink itself does: dotted
    /// keys as object fields would nest (and clash) in Elasticsearch.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        with = "key_value_list"
    )]
    pub config: BTreeMap<String, ConfigValue>,
    /// Job ids from `GET /jobs/overview` (at most `crate::flink_rest::MAX_JOB_IDS`): a
    /// HistoryServer archiving a job a JobManager ran belongs to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub job_ids: Vec<String>,
    /// What runs there (`crate::inventory`): jobs, their flows and the
    /// keys of their parameters, jars, logs. Key names and secret kinds,
    /// lengths and fingerprints only, never a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<Box<JobInventory>>,
}

/// One configuration value as a report keeps it. Written into reports as
/// the text [`ConfigValue`]'s `Display` gives, and read back from it, so the
/// JSON of a report is the same text reports have always carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigValue {
    /// The value as the JobManager reported it, cleaned and bounded.
    Kept(String),
    /// A key whose presence matters and whose value is nobody's business
    /// (principals, keytab paths): written `(set)`.
    Set,
    /// A value that looks like a secret: withheld.
    Withheld,
    /// A URI with `user:password@` in it: only its scheme is kept, when it
    /// is a plain one.
    UriWithCredentials { scheme: Option<String> },
}

const SET: &str = "(set)";
const WITHHELD: &str = "(secret-looking value not kept)";
const URI_WITH_CREDENTIALS: &str = " (credentials in the URI, value not kept)";
const NO_SCHEME: &str = "a URI";

impl ConfigValue {
    /// The value itself, when the report keeps it.
    pub fn kept(&self) -> Option<&str> {
        match self {
            ConfigValue::Kept(v) => Some(v),
            _ => None,
        }
    }

    /// Read back what [`Display`](std::fmt::Display) wrote.
    pub fn from_report(text: &str) -> ConfigValue {
        if text == SET {
            return ConfigValue::Set;
        }
        if text == WITHHELD {
            return ConfigValue::Withheld;
        }
        if let Some(location) = text.strip_suffix(URI_WITH_CREDENTIALS) {
            if location == NO_SCHEME {
                return ConfigValue::UriWithCredentials { scheme: None };
            }
            if let Some(scheme) = location.strip_suffix("://…") {
                return ConfigValue::UriWithCredentials {
                    scheme: Some(scheme.to_string()),
                };
            }
        }
        ConfigValue::Kept(text.to_string())
    }
}

impl std::fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigValue::Kept(v) => f.write_str(v),
            ConfigValue::Set => f.write_str(SET),
            ConfigValue::Withheld => f.write_str(WITHHELD),
            ConfigValue::UriWithCredentials { scheme: Some(s) } => {
                write!(f, "{s}://…{URI_WITH_CREDENTIALS}")
            }
            ConfigValue::UriWithCredentials { scheme: None } => {
                write!(f, "{NO_SCHEME}{URI_WITH_CREDENTIALS}")
            }
        }
    }
}

pub(crate) mod key_value_list {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::ConfigValue;

    #[derive(Serialize, Deserialize)]
    struct Entry {
        key: String,
        value: String,
    }

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<String, ConfigValue>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let list: Vec<Entry> = map
            .iter()
            .map(|(k, v)| Entry {
                key: k.clone(),
                value: v.to_string(),
            })
            .collect();
        list.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, ConfigValue>, D::Error> {
        // A map is read too, as reports written before the list form have it.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            List(Vec<Entry>),
            Map(BTreeMap<String, String>),
        }
        let pairs: Vec<(String, String)> = match Form::deserialize(d)? {
            Form::List(list) => list.into_iter().map(|e| (e.key, e.value)).collect(),
            Form::Map(map) => map.into_iter().collect(),
        };
        Ok(pairs
            .into_iter()
            .map(|(k, v)| {
                let value = ConfigValue::from_report(&v);
                (k, value)
            })
            .collect())
    }
}

/// One TaskManager as its JobManager lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskManagerRef {
    pub id: String,
    /// The host of its RPC address (an IP address or a name).
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpc_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jmx_port: Option<u16>,
}

/// Probes by how they were decided, for the report (`stats.decided`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecidedCounts {
    /// SYN-ACK (open).
    pub answered: u64,
    /// RST (closed).
    pub refused: u64,
    /// No answer on a host that answered on another port: filtered, after
    /// every retry.
    pub timed_out_answering_host: u64,
    /// No answer from a host that never answered: one SYN each.
    pub timed_out_silent_host: u64,
    pub unreachable: u64,
    /// Answered or refused only on a retry: lost SYNs recovered.
    pub decided_after_retry: u64,
    /// SYNs sent beyond each probe's first.
    pub extra_attempts: u64,
}

impl DecidedCounts {
    pub fn add(&mut self, o: &DecidedCounts) {
        self.answered += o.answered;
        self.refused += o.refused;
        self.timed_out_answering_host += o.timed_out_answering_host;
        self.timed_out_silent_host += o.timed_out_silent_host;
        self.unreachable += o.unreachable;
        self.decided_after_retry += o.decided_after_retry;
        self.extra_attempts += o.extra_attempts;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal text is kept once; other text stays its own.
    #[test]
    fn evidence_shares_an_equal_excerpt_only() {
        let held = [Evidence {
            request: "GET /config".into(),
            status: Some(200),
            excerpt: "{\"flink-version\":\"1.20.1\"}".into(),
        }];
        let mut same = Evidence {
            excerpt: String::from("{\"flink-version\":\"1.20.1\"}").into(),
            ..held[0].clone()
        };
        let mut other = Evidence {
            excerpt: "{}".into(),
            ..held[0].clone()
        };
        assert!(!Arc::ptr_eq(&same.excerpt, &held[0].excerpt));
        same.share(&held);
        other.share(&held);
        assert!(Arc::ptr_eq(&same.excerpt, &held[0].excerpt));
        assert_eq!(&*other.excerpt, "{}");
    }

    /// Reports written before the enum hold these exact strings; SARIF has
    /// its own names for them.
    #[test]
    fn baseline_states_keep_their_json_and_sarif_names() {
        for (state, json, sarif) in [
            (BaselineState::New, "\"new\"", "new"),
            (BaselineState::Unchanged, "\"unchanged\"", "unchanged"),
            (BaselineState::Fixed, "\"fixed\"", "absent"),
        ] {
            assert_eq!(serde_json::to_string(&state).unwrap(), json);
            assert_eq!(serde_json::from_str::<BaselineState>(json).unwrap(), state);
            assert_eq!(format!("\"{state}\""), json);
            assert_eq!(state.sarif(), sarif);
        }
        assert!(serde_json::from_str::<BaselineState>("\"absent\"").is_err());
    }
}
