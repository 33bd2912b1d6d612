//! Clusters: the services of one Flink deployment grouped together, the
//! ways an attacker at the scanner's position could take each one over
//! (attack paths, ranked), and how it measures against Flink's hardening
//! guidance (posture).
//!
//! Every link between a service and a cluster names its evidence: the
//! JobManager itself, its configuration (`/jobmanager/config`), its
//! TaskManager list (`/taskmanagers`), or a shared host. Nothing is linked
//! by a port number alone. A service two clusters could claim with equal
//! evidence is left out of both and grouped by its host.
//!
//! Pure and deterministic over the report's services and findings, so a
//! scan runs it at its end and `merge` runs it again over the union of
//! shards.
//!
//! - [`grouping`]: which services form one cluster (claims and their
//!   evidence, standbys merged, the rest grouped by host);
//! - [`paths`]: the attack paths a cluster's findings make possible;
//! - [`posture`]: the hardening guidance, one table entry per item;
//! - [`platforms`]: YARN applications and the Kubernetes Operator in the
//!   cluster view (called by [`build`] after the Flink clusters are made);
//! - this module: the records a report carries and [`build`], which turns
//!   groups into those records.
//!
//! What a JobManager's REST answers say is read in `crate::flink_rest`.

mod grouping;
pub mod jobs;
mod paths;
pub mod platforms;
mod posture;

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{Finding, Service, ServiceKind, Severity};
use crate::untrusted;

pub use grouping::CLUSTER_ID_KEYS;
pub use paths::attack_paths;
pub use posture::posture;

/// One deployment as the scan saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Stable within a report: `k8s:ID`, `yarn:ID`, `ha:ID` from the
    /// configuration, else `jobmanager:HOST:PORT`, `sql-gateway:HOST:PORT`,
    /// `history-server:HOST:PORT` or `host:IP`.
    pub id: String,
    /// A name for people: what it is and where.
    pub name: String,
    /// What the group is built around.
    pub anchor: Anchor,
    /// The configuration key that names the deployment, when readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<ConfigId>,
    /// The worst attack path's severity, else the worst finding's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub hosts: Vec<String>,
    pub members: Vec<Member>,
    /// The platform that deploys it, when its configuration or the
    /// platform itself says so (`super::platforms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    /// Ports the JobManager names (its TaskManagers) that the sweep did not find.
    #[serde(default)]
    pub not_scanned: Vec<KnownPort>,
    /// Ids ([`crate::model::Finding::id`]) of the findings on its members.
    #[serde(default)]
    pub findings: Vec<String>,
    #[serde(default)]
    pub paths: Vec<AttackPath>,
    #[serde(default)]
    pub posture: Vec<PostureItem>,
    /// Checks that could not run on its members (`ENDPOINT RULE`): with
    /// no finding, the cluster is rated unknown, never clean.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<String>,
    // HOOK(jobs): what runs there, from the members' job inventories
    // (`jobs.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<crate::clusters::jobs::ClusterJobs>,
}

impl Cluster {
    /// Drop the references to findings not in `kept` (ids,
    /// [`crate::model::Finding::id`]): a report that left findings out
    /// (`--min-severity`) points at none it lacks. Ratings, paths and
    /// posture still judge every finding.
    pub fn keep_findings(&mut self, kept: &std::collections::BTreeSet<String>) {
        self.findings.retain(|id| kept.contains(id));
        for step in self.paths.iter_mut().flat_map(|p| p.steps.iter_mut()) {
            step.findings.retain(|id| kept.contains(id));
        }
        for item in &mut self.posture {
            item.findings.retain(|id| kept.contains(id));
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigId {
    pub key: String,
    pub value: String,
    /// The JobManager whose configuration said so.
    pub source: String,
}

/// A service of the cluster and why it belongs there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub endpoint: String,
    pub kind: ServiceKind,
    pub role: Role,
    pub tls: bool,
    pub evidence: String,
}

/// A port the JobManager named that the report has no service for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownPort {
    pub host: String,
    pub port: u16,
    pub role: Role,
    /// Where it is known from.
    pub source: String,
    pub status: PortStatus,
}

/// What a cluster is built around, as reports name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Anchor {
    #[serde(rename = "jobmanager")]
    Jobmanager,
    #[serde(rename = "sql-gateway")]
    SqlGateway,
    #[serde(rename = "history-server")]
    HistoryServer,
    /// Flink services of one host that no JobManager claims.
    #[serde(rename = "host")]
    Host,
    #[serde(rename = "yarn-resourcemanager")]
    YarnResourcemanager,
    #[serde(rename = "yarn-application")]
    YarnApplication,
    #[serde(rename = "k8s-operator")]
    K8sOperator,
}

impl Anchor {
    pub const ALL: [Anchor; 7] = [
        Anchor::Jobmanager,
        Anchor::SqlGateway,
        Anchor::HistoryServer,
        Anchor::Host,
        Anchor::YarnResourcemanager,
        Anchor::YarnApplication,
        Anchor::K8sOperator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Anchor::Jobmanager => "jobmanager",
            Anchor::SqlGateway => "sql-gateway",
            Anchor::HistoryServer => "history-server",
            Anchor::Host => "host",
            Anchor::YarnResourcemanager => "yarn-resourcemanager",
            Anchor::YarnApplication => "yarn-application",
            Anchor::K8sOperator => "k8s-operator",
        }
    }
}

impl fmt::Display for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a port does in its cluster, as reports name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    #[serde(rename = "jobmanager-rest")]
    JobmanagerRest,
    /// A YARN application's JobManager, reached through the
    /// ResourceManager's web proxy.
    #[serde(rename = "jobmanager-rest (through the YARN proxy)")]
    JobmanagerRestViaYarnProxy,
    /// An RPC port no JobManager lists as a TaskManager's.
    #[serde(rename = "rpc")]
    Rpc,
    #[serde(rename = "taskmanager-rpc")]
    TaskmanagerRpc,
    #[serde(rename = "taskmanager-data")]
    TaskmanagerData,
    #[serde(rename = "taskmanager-jmx")]
    TaskmanagerJmx,
    #[serde(rename = "blob-server")]
    BlobServer,
    #[serde(rename = "history-server")]
    HistoryServer,
    #[serde(rename = "sql-gateway")]
    SqlGateway,
    #[serde(rename = "metrics")]
    Metrics,
    #[serde(rename = "jmx")]
    Jmx,
    /// A port that demands a client certificate next to Flink.
    #[serde(rename = "rpc-or-blob (mutual TLS)")]
    RpcOrBlobMtls,
    #[serde(rename = "yarn-resourcemanager")]
    YarnResourcemanager,
    #[serde(rename = "operator-webhook")]
    OperatorWebhook,
    #[serde(rename = "operator-health")]
    OperatorHealth,
    #[serde(rename = "operator-metrics")]
    OperatorMetrics,
    #[serde(rename = "other")]
    Other,
}

impl Role {
    pub const ALL: [Role; 17] = [
        Role::JobmanagerRest,
        Role::JobmanagerRestViaYarnProxy,
        Role::Rpc,
        Role::TaskmanagerRpc,
        Role::TaskmanagerData,
        Role::TaskmanagerJmx,
        Role::BlobServer,
        Role::HistoryServer,
        Role::SqlGateway,
        Role::Metrics,
        Role::Jmx,
        Role::RpcOrBlobMtls,
        Role::YarnResourcemanager,
        Role::OperatorWebhook,
        Role::OperatorHealth,
        Role::OperatorMetrics,
        Role::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::JobmanagerRest => "jobmanager-rest",
            Role::JobmanagerRestViaYarnProxy => "jobmanager-rest (through the YARN proxy)",
            Role::Rpc => "rpc",
            Role::TaskmanagerRpc => "taskmanager-rpc",
            Role::TaskmanagerData => "taskmanager-data",
            Role::TaskmanagerJmx => "taskmanager-jmx",
            Role::BlobServer => "blob-server",
            Role::HistoryServer => "history-server",
            Role::SqlGateway => "sql-gateway",
            Role::Metrics => "metrics",
            Role::Jmx => "jmx",
            Role::RpcOrBlobMtls => "rpc-or-blob (mutual TLS)",
            Role::YarnResourcemanager => "yarn-resourcemanager",
            Role::OperatorWebhook => "operator-webhook",
            Role::OperatorHealth => "operator-health",
            Role::OperatorMetrics => "operator-metrics",
            Role::Other => "other",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the sweep looked where a known port is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PortStatus {
    /// The scan probed this address and port and found nothing there.
    #[serde(rename = "not-found")]
    NotFound,
    /// It did not (outside the targets or ports, another shard, an
    /// interrupted scan, or a host name).
    #[serde(rename = "not-scanned")]
    NotScanned,
}

impl PortStatus {
    /// `scanned`: the sweep certainly probed the address and port.
    pub fn of(scanned: bool) -> PortStatus {
        if scanned {
            PortStatus::NotFound
        } else {
            PortStatus::NotScanned
        }
    }
}

/// One way in, worst first within its cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttackPath {
    pub rank: u32,
    pub severity: Severity,
    pub title: String,
    /// What the attacker has at the end.
    pub impact: String,
    pub steps: Vec<PathStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStep {
    pub action: String,
    /// Ids of the findings that show this step is possible.
    pub findings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostureStatus {
    Pass,
    Fail,
    Unknown,
}

impl PostureStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PostureStatus::Pass => "pass",
            PostureStatus::Fail => "fail",
            PostureStatus::Unknown => "unknown",
        }
    }
}

/// One item of Flink's hardening guidance, judged for one cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostureItem {
    /// Id, title and fix are the guidance's own words, shared by every
    /// cluster rather than copied into each (a scan of many thousand
    /// deployments held them thousands of times).
    pub id: Cow<'static, str>,
    pub title: Cow<'static, str>,
    pub status: PostureStatus,
    /// What was seen: endpoints, configuration key names, never a secret.
    pub evidence: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
    /// The Flink keys (or deployment change) that make it pass.
    pub fix: Cow<'static, str>,
}

/// Build the clusters of a report and mark each finding with its cluster.
/// `swept(ip, port)` says whether the scan certainly probed that endpoint
/// (to tell "not found" from "not scanned").
pub fn build(
    services: &[Service],
    findings: &mut [Finding],
    swept: &dyn Fn(IpAddr, u16) -> bool,
) -> Vec<Cluster> {
    let mut clusters = Vec::new();
    build_each(services, findings, swept, &mut |c| clusters.push(c));
    clusters.sort_by_cached_key(Rank::of);
    clusters
}

/// [`build`], handing each cluster to `keep` as soon as it is judged, in no
/// particular order (a report orders them by [`Rank`]): a scan spills them
/// one at a time instead of holding them all.
pub fn build_each(
    services: &[Service],
    findings: &mut [Finding],
    swept: &dyn Fn(IpAddr, u16) -> bool,
    keep: &mut dyn FnMut(Cluster),
) {
    let groups = grouping::group(services, swept);
    let owned = mark_findings(&groups, services, findings);
    let managed = platforms::Managed::of(services);
    // The few clusters a platform may still extend wait for it; the rest
    // are final once judged. Each record is made only when its turn comes:
    // a scan of many thousand deployments never holds them all.
    let platforms = platforms::Extends::of(services);
    let mut waiting = Vec::new();
    let mut unjudged = owned.as_slice();
    for (g, grp) in groups.into_iter().enumerate() {
        let (mut c, own) = record(&grp, services);
        drop(grp);
        managed.mark(&mut c);
        // By group: this group's findings come first.
        let (mine, later) = unjudged.split_at(unjudged.partition_point(|&(o, _)| o as usize == g));
        unjudged = later;
        let present: Vec<&Finding> = mine
            .iter()
            .map(|&(_, i)| &findings[i as usize])
            .filter(|f| !f.is_fixed())
            .collect();
        let member_services: Vec<&Service> = own.iter().map(|&k| &services[k]).collect();
        judge(&mut c, &member_services, &present);
        if platforms.may_extend(&c) {
            waiting.push(c);
        } else {
            keep(c);
        }
    }
    platforms::extend(services, findings, &mut waiting, swept);
    waiting.into_iter().for_each(keep);
}

/// Where a cluster stands in a report: worst first; among equals, the one
/// with more ways in and findings; then by id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rank {
    rating: std::cmp::Reverse<Option<Severity>>,
    paths: std::cmp::Reverse<usize>,
    findings: std::cmp::Reverse<usize>,
    id: String,
}

impl Rank {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn of(c: &Cluster) -> Rank {
        Rank {
            rating: std::cmp::Reverse(c.rating),
            paths: std::cmp::Reverse(c.paths.len()),
            findings: std::cmp::Reverse(c.findings.len()),
            id: c.id.clone(),
        }
    }
}

/// A group as a report's cluster record (not judged yet), and the indexes
/// of its services in member order.
fn record(grp: &grouping::Group, services: &[Service]) -> (Cluster, Vec<usize>) {
    let anchor = &services[grp.anchor_service];
    let mut members: Vec<(usize, Member)> = grp
        .members
        .iter()
        .map(|m| {
            let k = m.service as usize;
            let s = &services[k];
            let member = Member {
                // The place: two prefixes on one port are two members.
                endpoint: s.endpoint.place(),
                kind: s.kind,
                role: m.role,
                tls: s.tls.is_some(),
                evidence: m.evidence.describe(services, grp, k),
            };
            (k, member)
        })
        .collect();
    members.sort_by(|a, b| services[a.0].endpoint.cmp(&services[b.0].endpoint));
    let member_services: Vec<&Service> = members.iter().map(|(k, _)| &services[*k]).collect();
    let hosts: Vec<String> = member_services
        .iter()
        .map(|s| s.endpoint.host_key().to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let version = anchor
        .version
        .clone()
        .or_else(|| member_services.iter().find_map(|s| s.version.clone()));
    let mut not_scanned = grp.not_scanned.clone();
    not_scanned.sort_by(|a, b| (&a.host, a.port).cmp(&(&b.host, b.port)));
    not_scanned.dedup_by(|a, b| a.host == b.host && a.port == b.port);
    let order = members.iter().map(|(k, _)| *k).collect();
    let cluster = Cluster {
        id: cluster_id(grp, anchor),
        name: cluster_name(grp, anchor),
        anchor: grp.anchor,
        cluster_id: grp.cluster_id.as_deref().cloned(),
        rating: None,
        version,
        hosts,
        members: members.into_iter().map(|(_, m)| m).collect(),
        managed_by: None,
        not_scanned,
        findings: Vec::new(),
        paths: Vec::new(),
        posture: Vec::new(),
        unchecked: member_services
            .iter()
            .flat_map(|s| {
                let at = s.endpoint.place();
                s.unchecked.iter().map(move |r| format!("{at} {r}"))
            })
            .collect(),
        jobs: None,
    };
    (cluster, order)
}

/// `k8s:ID`, `yarn:ID`, `ha:ID` from the configuration, else the anchor's
/// kind and address.
fn cluster_id(grp: &grouping::Group, anchor: &Service) -> String {
    match (&grp.cluster_id, grp.anchor) {
        (Some(cid), _) => {
            let short = CLUSTER_ID_KEYS
                .iter()
                .find(|(k, _)| *k == cid.key)
                .map_or("id", |(_, s)| *s);
            format!("{short}:{}", id_safe(&cid.value))
        }
        (None, Anchor::Host) => format!("host:{}", anchor.endpoint.host_key()),
        (None, a) => format!("{a}:{}", anchor.endpoint.place()),
    }
}

fn cluster_name(grp: &grouping::Group, anchor: &Service) -> String {
    let at = anchor.endpoint.place();
    match (grp.anchor, &grp.cluster_id) {
        (Anchor::Jobmanager, Some(cid)) => format!(
            "Flink cluster {} ({}), JobManager {at}",
            untrusted::clean(&cid.value, 64),
            cid.key,
        ),
        (Anchor::Jobmanager, None) => format!("Flink cluster of JobManager {at}"),
        (Anchor::SqlGateway, _) => format!("SQL Gateway {at}"),
        (Anchor::HistoryServer, _) => format!("HistoryServer {at}"),
        _ => format!("Flink services on host {}", anchor.endpoint.host_key()),
    }
}

/// Ids must survive URLs, SARIF properties and HTML attributes unharmed.
pub(crate) fn id_safe(value: &str) -> String {
    value
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Mark each finding with the cluster of its endpoint; the (group,
/// finding) index pairs, by group.
fn mark_findings(
    groups: &[grouping::Group],
    services: &[Service],
    findings: &mut [Finding],
) -> Vec<(u32, u32)> {
    // The place: two prefixes on one port are two members. A place in two
    // groups is the later one's.
    let members = groups.iter().map(|g| g.members.len()).sum();
    let in_groups = groups.iter().enumerate().flat_map(|(g, grp)| {
        grp.members
            .iter()
            .map(move |m| (m.service as usize, index(g)))
    });
    let by_place = ByPlace::new(services, members, in_groups);
    let mut owned: Vec<(u32, u32)> = Vec::with_capacity(findings.len());
    for (i, f) in findings.iter_mut().enumerate() {
        f.cluster = None;
        if let Some((_, g)) = by_place.last(services, &f.endpoint.place()) {
            owned.push((g, index(i)));
        }
    }
    drop(by_place);
    owned.sort_unstable();
    owned.shrink_to_fit();
    // The findings of one cluster share its id.
    for of_one in owned.chunk_by(|a, b| a.0 == b.0) {
        let grp = &groups[of_one[0].0 as usize];
        let id: Arc<str> = cluster_id(grp, &services[grp.anchor_service]).into();
        for &(_, i) in of_one {
            findings[i as usize].cluster = Some(id.clone());
        }
    }
    owned
}

/// Indexes into the report's services and findings are kept as `u32`,
/// half a `usize`: a scan of many thousand services holds several per
/// service, and no report comes near 2^32 of either.
fn index(k: usize) -> u32 {
    u32::try_from(k).expect("fewer than 2^32 services and findings")
}

/// Services by their place ([`crate::model::Endpoint::place`]), each with a
/// value, without a string per service: by a hash of the place, checked
/// against the place itself when found.
struct ByPlace<T> {
    hasher: RandomState,
    /// (hash of the place, service, value), by hash; among equal hashes in
    /// the order given.
    entries: Vec<(u64, u32, T)>,
}

impl<T: Copy> ByPlace<T> {
    /// `items`: (service index, value), `count` of them.
    fn new(
        services: &[Service],
        count: usize,
        items: impl Iterator<Item = (usize, T)>,
    ) -> ByPlace<T> {
        let hasher = RandomState::new();
        let mut entries = Vec::with_capacity(count);
        for (k, value) in items {
            let hash = hasher.hash_one(services[k].endpoint.place().as_str());
            entries.push((hash, index(k), value));
        }
        entries.sort_by_key(|e| e.0);
        ByPlace { hasher, entries }
    }

    /// The service at `place` given last, and its value.
    fn last(&self, services: &[Service], place: &str) -> Option<(usize, T)> {
        let hash = self.hasher.hash_one(place);
        let start = self.entries.partition_point(|e| e.0 < hash);
        let end = self.entries.partition_point(|e| e.0 <= hash);
        self.entries[start..end]
            .iter()
            .rev()
            .find(|e| services[e.1 as usize].endpoint.place() == place)
            .map(|e| (e.1 as usize, e.2))
    }
}

/// Findings, attack paths, posture and rating of one cluster.
fn judge(c: &mut Cluster, services: &[&Service], present: &[&Finding]) {
    c.findings = present.iter().map(|f| f.id()).collect();
    c.paths = attack_paths(services, present);
    c.posture = posture(services, present);
    // HOOK(jobs): the cluster card's job summary.
    c.jobs = crate::clusters::jobs::cluster_jobs(services, present);
    c.rating = c
        .paths
        .first()
        .map(|p| p.severity)
        .or_else(|| present.iter().map(|f| f.severity).max());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::net::IpAddr;

    use crate::flink_rest::parse_job_ids;
    use crate::model::{
        ConfigValue, DeploymentFacts, Endpoint, Evidence, Finding, Service, TaskManagerRef,
    };

    fn svc(ip: [u8; 4], port: u16, kind: ServiceKind) -> Service {
        let mut s = Service::new(Endpoint::new(ip.into(), port), kind);
        s.version = Some("1.20.1".into());
        s
    }

    fn finding(rule: &str, sev: Severity, s: &Service) -> Finding {
        Finding {
            body: crate::model::Body::held(
                s.url("/"),
                String::new(),
                vec![Evidence {
                    request: "x".into(),
                    status: None,
                    excerpt: String::new().into(),
                }],
            ),
            version: s.version.as_deref().map(Into::into),
            ..Finding::new(rule, sev, rule, s.endpoint.clone(), s.kind, String::new())
        }
    }

    /// Reports write anchors, roles and port states as the words they
    /// always had: JSON (serde) and every rendering (`as_str`) agree.
    #[test]
    fn closed_sets_are_written_as_their_words() {
        fn json<T: Serialize>(v: &T) -> String {
            serde_json::to_string(v).unwrap()
        }
        for a in Anchor::ALL {
            assert_eq!(json(&a), format!("\"{a}\""));
            assert_eq!(serde_json::from_str::<Anchor>(&json(&a)).unwrap(), a);
        }
        for r in Role::ALL {
            assert_eq!(json(&r), format!("\"{r}\""));
            assert_eq!(serde_json::from_str::<Role>(&json(&r)).unwrap(), r);
        }
        assert_eq!(json(&PortStatus::of(true)), "\"not-found\"");
        assert_eq!(json(&PortStatus::of(false)), "\"not-scanned\"");
        assert!(serde_json::from_str::<Role>("\"taskmanager\"").is_err());
    }

    #[test]
    fn taskmanagers_are_linked_by_listing_and_unreached_ones_are_named() {
        let mut jm = svc([10, 0, 0, 1], 8081, ServiceKind::JobmanagerRest);
        jm.deployment = Some(Box::new(DeploymentFacts {
            taskmanagers: vec![
                TaskManagerRef {
                    id: "tm-a".into(),
                    host: "10.0.0.5".into(),
                    rpc_port: Some(6122),
                    data_port: Some(40000),
                    jmx_port: None,
                },
                TaskManagerRef {
                    id: "tm-b".into(),
                    host: "10.0.0.6".into(),
                    rpc_port: Some(6122),
                    data_port: None,
                    jmx_port: None,
                },
            ],
            taskmanagers_listed: Some(2),
            config_readable: true,
            config: [
                (
                    "jobmanager.rpc.port".to_string(),
                    ConfigValue::Kept("6123".into()),
                ),
                (
                    "blob.server.port".to_string(),
                    ConfigValue::Kept("6124".into()),
                ),
            ]
            .into(),
            job_ids: Vec::new(),
            jobs: None,
        }));
        let jm_rpc = svc([10, 0, 0, 1], 6123, ServiceKind::Rpc);
        let jm_blob = svc([10, 0, 0, 1], 6124, ServiceKind::BlobServer);
        let tm_rpc = svc([10, 0, 0, 5], 6122, ServiceKind::Rpc);
        let tm_metrics = svc([10, 0, 0, 5], 9249, ServiceKind::PrometheusReporter);
        // Same port number on an unrelated host: must not be linked.
        let stranger = svc([10, 0, 0, 9], 6122, ServiceKind::Rpc);
        let services = vec![
            jm.clone(),
            jm_rpc.clone(),
            jm_blob,
            tm_rpc.clone(),
            tm_metrics,
            stranger,
        ];
        let mut findings = vec![
            finding("FLINK-REST-UNAUTHENTICATED", Severity::Critical, &jm),
            finding("FLINK-RPC-PLAINTEXT", Severity::Critical, &tm_rpc),
        ];
        let swept = |ip: IpAddr, p: u16| {
            ip != IpAddr::from([10, 0, 0, 5]) && [8081, 6122, 6123].contains(&p)
        };
        let clusters = build(&services, &mut findings, &swept);
        assert_eq!(clusters.len(), 2, "{clusters:#?}");
        let c = clusters
            .iter()
            .find(|c| c.anchor == Anchor::Jobmanager)
            .unwrap();
        let member = |ep: &str| c.members.iter().find(|m| m.endpoint == ep);
        assert!(member("10.0.0.1:6123")
            .unwrap()
            .evidence
            .contains("jobmanager.rpc.port"));
        assert!(member("10.0.0.1:6124")
            .unwrap()
            .evidence
            .contains("port 6124 is blob.server.port"));
        let tm = member("10.0.0.5:6122").unwrap();
        assert_eq!(tm.role, Role::TaskmanagerRpc);
        assert!(tm.evidence.contains("/taskmanagers") && tm.evidence.contains("tm-a"));
        assert!(
            tm.evidence.contains("with this rpc port"),
            "{}",
            tm.evidence
        );
        assert!(member("10.0.0.5:9249")
            .unwrap()
            .evidence
            .contains("same host as TaskManager tm-a"));
        assert!(member("10.0.0.9:6122").is_none());
        let unreached: Vec<(String, u16, PortStatus)> = c
            .not_scanned
            .iter()
            .map(|k| (k.host.clone(), k.port, k.status))
            .collect();
        assert_eq!(
            unreached,
            vec![
                ("10.0.0.5".into(), 40000, PortStatus::NotScanned),
                ("10.0.0.6".into(), 6122, PortStatus::NotFound)
            ]
        );
        // The stranger gets its own host group.
        assert!(clusters.iter().any(|c| c.id == "host:10.0.0.9"));
        assert_eq!(findings[0].cluster.as_deref(), Some(c.id.as_str()));
        assert_eq!(findings[1].cluster.as_deref(), Some(c.id.as_str()));
        // Paths: ranked, backed by finding ids, the worst decides the rating.
        assert_eq!(c.rating, Some(Severity::Critical));
        assert_eq!(c.paths[0].rank, 1);
        assert!(c
            .paths
            .iter()
            .all(|p| p.steps.iter().all(|s| !s.findings.is_empty())));
        let rest = c.paths.iter().find(|p| p.title.contains("REST")).unwrap();
        assert!(rest.steps[2].action.contains("2 listed"), "{rest:?}");
        assert!(c
            .paths
            .iter()
            .any(|p| p.steps[0].findings == ["FLINK-RPC-PLAINTEXT@10.0.0.5:6122"]));
        let internal = c.posture.iter().find(|p| p.id == "internal-tls").unwrap();
        assert_eq!(internal.status, PostureStatus::Fail);
        let kerberos = c.posture.iter().find(|p| p.id == "kerberos").unwrap();
        assert_eq!(kerberos.status, PostureStatus::Unknown, "{kerberos:?}");
    }

    #[test]
    fn standby_jobmanagers_with_one_cluster_id_are_one_cluster_and_defaults_are_not_ids() {
        let facts = |id: &str| DeploymentFacts {
            config_readable: true,
            config: [(
                "high-availability.cluster-id".to_string(),
                ConfigValue::Kept(id.into()),
            )]
            .into(),
            ..Default::default()
        };
        let mut a = svc([10, 0, 1, 1], 8081, ServiceKind::JobmanagerRest);
        a.deployment = Some(facts("orders").into());
        let mut b = svc([10, 0, 1, 2], 8081, ServiceKind::JobmanagerRest);
        b.deployment = Some(facts("orders").into());
        let mut c = svc([10, 0, 1, 3], 8081, ServiceKind::JobmanagerRest);
        c.deployment = Some(facts("/default").into());
        let mut d = svc([10, 0, 1, 4], 8081, ServiceKind::JobmanagerRest);
        d.deployment = Some(facts("/default").into());
        let clusters = build(&[a, b, c, d], &mut [], &|_, _| true);
        let ids: Vec<&str> = clusters.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "ha:orders",
                "jobmanager:10.0.1.3:8081",
                "jobmanager:10.0.1.4:8081"
            ]
        );
        assert_eq!(clusters[0].members.len(), 2);
        assert!(clusters[0].members[1]
            .evidence
            .contains("same high-availability.cluster-id"));
    }

    /// A place two services share (one address and port under two names)
    /// is the later one's, as it was when a map by place held them; a path
    /// prefix makes another place.
    #[test]
    fn a_place_is_found_by_its_text_and_the_later_service_has_it() {
        let plain = Endpoint::new([10, 0, 0, 1].into(), 8081);
        let mut named = plain.clone();
        named.hostname = Some("flink.example.test".into());
        let prefixed = plain.under(Some("/flink".into()));
        let services: Vec<Service> = [plain, named, prefixed]
            .into_iter()
            .map(|e| Service::new(e, ServiceKind::JobmanagerRest))
            .collect();
        let by_place = ByPlace::new(&services, 3, [(0, 'a'), (1, 'b'), (2, 'c')].into_iter());
        assert_eq!(by_place.last(&services, "10.0.0.1:8081"), Some((1, 'b')));
        assert_eq!(
            by_place.last(&services, "10.0.0.1:8081/flink"),
            Some((2, 'c'))
        );
        assert_eq!(by_place.last(&services, "10.0.0.1:8082"), None);
    }

    /// Two JobManagers under two path prefixes of one port (a reverse
    /// proxy in front of two clusters) are two clusters, each member
    /// named by its place and each finding marked with its own cluster.
    #[test]
    fn two_prefixes_on_one_port_are_two_clusters() {
        let at = |base: &str| {
            let mut s = svc([10, 0, 2, 1], 443, ServiceKind::JobmanagerRest);
            s.endpoint.base_path = Some(base.into());
            s
        };
        let (a, b) = (at("/a"), at("/b"));
        let mut findings = vec![
            finding("FLINK-REST-UNAUTHENTICATED", Severity::High, &a),
            finding("FLINK-REST-UNAUTHENTICATED", Severity::High, &b),
        ];
        let clusters = build(&[a, b], &mut findings, &|_, _| true);
        let mut ids: Vec<&str> = clusters.iter().map(|c| c.id.as_str()).collect();
        ids.sort();
        assert_eq!(
            ids,
            ["jobmanager:10.0.2.1:443/a", "jobmanager:10.0.2.1:443/b"]
        );
        for c in &clusters {
            assert_eq!(c.members.len(), 1, "{c:?}");
            let place = c.id.trim_start_matches("jobmanager:");
            assert_eq!(c.members[0].endpoint, place);
            assert!(c.name.ends_with(place), "{}", c.name);
            assert_eq!(c.findings.len(), 1, "{c:?}");
        }
        let marked: BTreeSet<Option<&str>> =
            findings.iter().map(|f| f.cluster.as_deref()).collect();
        assert_eq!(
            marked,
            BTreeSet::from([
                Some("jobmanager:10.0.2.1:443/a"),
                Some("jobmanager:10.0.2.1:443/b")
            ])
        );
    }

    #[test]
    fn a_history_server_archiving_a_jobmanagers_job_joins_it_from_another_host() {
        let jid = "0123456789abcdef0123456789abcdef";
        let facts = |ids: &[&str]| DeploymentFacts {
            job_ids: ids.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let mut jm = svc([10, 0, 3, 1], 8081, ServiceKind::JobmanagerRest);
        jm.deployment = Some(facts(&[jid]).into());
        let mut other = svc([10, 0, 3, 2], 8081, ServiceKind::JobmanagerRest);
        other.deployment = Some(facts(&["ffffffffffffffffffffffffffffffff"]).into());
        let mut hs = svc([10, 0, 3, 9], 8082, ServiceKind::HistoryServer);
        hs.deployment = Some(facts(&[jid]).into());
        let clusters = build(&[jm, other, hs], &mut [], &|_, _| true);
        assert_eq!(clusters.len(), 2, "{clusters:#?}");
        let c = clusters
            .iter()
            .find(|c| c.id == "jobmanager:10.0.3.1:8081")
            .unwrap();
        let m = c
            .members
            .iter()
            .find(|m| m.endpoint == "10.0.3.9:8082")
            .unwrap();
        assert!(m.evidence.contains(jid), "{m:?}");
        let json: serde_json::Value = serde_json::json!({"jobs": [
            {"jid": jid.to_uppercase()}, {"jid": "<script>"}, {"jid": 7}
        ]});
        assert_eq!(parse_job_ids(&json), vec![jid.to_string()]);
    }

    /// A big sweep: 200 JobManagers with 50 TaskManagers each and 20,000
    /// lone RPC ports: indexed lookups keep grouping linear in the ports
    /// found (under a second in a debug build).
    #[test]
    fn many_thousands_of_services_group_quickly_and_correctly() {
        let mut services = Vec::new();
        for j in 0..200u32 {
            let ip = |n: u32| -> [u8; 4] { [10, (n >> 16) as u8, (n >> 8) as u8, n as u8] };
            let base = 1_000_000 + j * 100;
            let mut jm = svc(ip(base), 8081, ServiceKind::JobmanagerRest);
            let taskmanagers = (1..=50)
                .map(|t| TaskManagerRef {
                    id: format!("tm{t}"),
                    host: IpAddr::from(ip(base + t)).to_string(),
                    rpc_port: Some(6122),
                    data_port: None,
                    jmx_port: None,
                })
                .collect();
            jm.deployment = Some(Box::new(DeploymentFacts {
                taskmanagers,
                taskmanagers_listed: Some(50),
                ..Default::default()
            }));
            services.push(jm);
            for t in 1..=50 {
                services.push(svc(ip(base + t), 6122, ServiceKind::Rpc));
            }
        }
        for n in 0..20_000u32 {
            services.push(svc(
                [172, 16, (n >> 8) as u8, n as u8],
                6123,
                ServiceKind::Rpc,
            ));
        }
        let started = std::time::Instant::now();
        let clusters = build(&services, &mut [], &|_, _| true);
        let took = started.elapsed();
        assert_eq!(clusters.len(), 200 + 20_000);
        let jm_clusters = clusters.iter().filter(|c| c.anchor == Anchor::Jobmanager);
        assert!(jm_clusters.clone().all(|c| c.members.len() == 51));
        assert_eq!(jm_clusters.count(), 200);
        eprintln!("grouped {} services in {took:?}", services.len());
    }

    #[test]
    fn gateways_and_history_servers_join_only_with_evidence() {
        let jm = svc([10, 0, 2, 1], 8081, ServiceKind::JobmanagerRest);
        let gw_same_host = svc([10, 0, 2, 1], 8083, ServiceKind::SqlGateway);
        let gw_alone = svc([10, 0, 2, 7], 8083, ServiceKind::SqlGateway);
        let hs = svc([10, 0, 2, 8], 8082, ServiceKind::HistoryServer);
        let hs_metrics = svc([10, 0, 2, 8], 9249, ServiceKind::PrometheusReporter);
        let clusters = build(
            &[jm, gw_same_host, gw_alone, hs, hs_metrics],
            &mut [],
            &|_, _| true,
        );
        let ids: BTreeSet<&str> = clusters.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            BTreeSet::from([
                "jobmanager:10.0.2.1:8081",
                "sql-gateway:10.0.2.7:8083",
                "history-server:10.0.2.8:8082"
            ])
        );
        let hs = clusters
            .iter()
            .find(|c| c.anchor == Anchor::HistoryServer)
            .unwrap();
        assert_eq!(hs.members.len(), 2);
        assert!(hs.members[1]
            .evidence
            .contains("same host as the history-server"));
    }
}
