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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::checks::rule_ids;
use crate::model::{Finding, HostKey, Service, ServiceKind, Severity};
use crate::untrusted;

/// TaskManagers kept from one `/taskmanagers` answer; a bigger cluster is
/// counted in `taskmanagers_listed` but not listed.
pub const MAX_TASKMANAGERS: usize = 512;

// The deployment facts a JobManager reports are records of the model
// (a Service holds them); this module reads and groups them.
pub use crate::model::{DeploymentFacts, TaskManagerRef};

/// Job ids kept from one `/jobs/overview` answer.
pub const MAX_JOB_IDS: usize = 200;

/// The job ids of a `/jobs/overview` answer: 32 hex digits each, others dropped.
pub fn parse_job_ids(json: &serde_json::Value) -> Vec<String> {
    let Some(jobs) = json.get("jobs").and_then(|j| j.as_array()) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = jobs
        .iter()
        .take(10_000)
        .filter_map(|j| j.get("jid")?.as_str())
        .filter(|id| id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase)
        .collect();
    ids.sort();
    ids.dedup();
    ids.truncate(MAX_JOB_IDS);
    ids
}

/// Configuration keys that name the deployment, in order of preference.
pub const CLUSTER_ID_KEYS: &[(&str, &str)] = &[
    ("kubernetes.cluster-id", "k8s"),
    ("yarn.application.id", "yarn"),
    ("high-availability.cluster-id", "ha"),
];

/// Keys kept from `/jobmanager/config`: cluster ids, the ports that link
/// services, and what the posture judges. Values are kept only for these,
/// and never when they look like a secret.
pub const CONFIG_KEYS: &[&str] = &[
    "kubernetes.cluster-id",
    "yarn.application.id",
    "high-availability.cluster-id",
    "high-availability",
    "high-availability.type",
    "jobmanager.rpc.port",
    "blob.server.port",
    "rest.port",
    "taskmanager.data.port",
    "security.ssl.enabled",
    "security.ssl.rest.enabled",
    "security.ssl.rest.authentication-enabled",
    "security.ssl.internal.enabled",
    "security.kerberos.login.use-ticket-cache",
    "security.kerberos.login.principal",
    "security.kerberos.login.keytab",
    "security.kerberos.login.contexts",
    "web.submit.enable",
    "web.cancel.enable",
    "web.rescale.enable",
    "pipeline.generic-types",
    "pipeline.force-kryo",
    "pipeline.registered-kryo-types",
    "pipeline.serialization-config",
    "state.backend",
    "state.backend.type",
    "state.checkpoints.dir",
    "execution.checkpointing.dir",
    "state.savepoints.dir",
    "execution.checkpointing.savepoint-dir",
    "jobmanager.archive.fs.dir",
];

/// Keys whose presence matters and whose value is nobody's business
/// (principals and keytab paths): kept as `(set)`.
const PRESENCE_ONLY: &[&str] = &[
    "security.kerberos.login.principal",
    "security.kerberos.login.keytab",
    "pipeline.registered-kryo-types",
    "pipeline.serialization-config",
];

/// The kept keys of a `/jobmanager/config` answer (`[{"key","value"}]`).
pub fn config_facts(json: &serde_json::Value) -> Option<BTreeMap<String, String>> {
    let items = json.as_array()?;
    let mut out = BTreeMap::new();
    for item in items.iter().take(10_000) {
        let Some(key) = item.get("key").and_then(|k| k.as_str()) else {
            continue;
        };
        if !CONFIG_KEYS.contains(&key) {
            continue;
        }
        let value = item.get("value").and_then(|v| v.as_str()).unwrap_or("");
        let kept = if PRESENCE_ONLY.contains(&key) {
            "(set)".to_string()
        } else if untrusted::has_uri_credentials(value) {
            // The location matters, the password in it must not travel.
            format!(
                "{} (credentials in the URI, value not kept)",
                uri_scheme(value)
            )
        } else if untrusted::redact(value) != value {
            "(secret-looking value not kept)".to_string()
        } else {
            untrusted::clean(value, 160)
        };
        out.insert(key.to_string(), kept);
    }
    Some(out)
}

fn uri_scheme(value: &str) -> String {
    match value.split_once("://") {
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme.len() <= 16
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+') =>
        {
            format!("{scheme}://…")
        }
        _ => "a URI".to_string(),
    }
}

/// TaskManagers of a `/taskmanagers` answer and how many were listed.
pub fn parse_taskmanagers(json: &serde_json::Value) -> Option<(Vec<TaskManagerRef>, usize)> {
    let list = json.get("taskmanagers")?.as_array()?;
    let port = |v: Option<&serde_json::Value>| {
        v.and_then(|p| p.as_i64())
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
    };
    let mut out = Vec::new();
    for tm in list.iter().take(MAX_TASKMANAGERS) {
        let id = untrusted::clean(tm.get("id").and_then(|v| v.as_str()).unwrap_or("?"), 80);
        let Some((host, rpc_port)) = tm
            .get("path")
            .and_then(|v| v.as_str())
            .and_then(parse_rpc_address)
        else {
            continue;
        };
        out.push(TaskManagerRef {
            id,
            host,
            rpc_port,
            data_port: port(tm.get("dataPort")),
            jmx_port: port(tm.get("jmxPort")),
        });
    }
    Some((out, list.len()))
}

/// Host and port of an Akka/Pekko actor path:
/// `pekko.tcp://flink@10.0.0.5:6122/user/rpc/taskmanager_0`.
pub fn parse_rpc_address(path: &str) -> Option<(String, Option<u16>)> {
    let (_, rest) = path.split_once("://")?;
    let (_, rest) = rest.split_once('@')?;
    let authority = rest.split('/').next()?;
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, tail) = v6.split_once(']')?;
        (h, tail.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c));
    if !valid {
        return None;
    }
    Some((host.to_string(), port.and_then(|p| p.parse().ok())))
}

/// One deployment as the scan saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Stable within a report: `k8s:ID`, `yarn:ID`, `ha:ID` from the
    /// configuration, else `jobmanager:HOST:PORT`, `sql-gateway:HOST:PORT`,
    /// `history-server:HOST:PORT` or `host:IP`.
    pub id: String,
    /// A name for people: what it is and where.
    pub name: String,
    /// What the group is built around: `jobmanager`, `sql-gateway`,
    /// `history-server` or `host`.
    pub anchor: String,
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
    /// Ports the JobManager names (its TaskManagers) that the sweep did not find.
    #[serde(default)]
    pub not_scanned: Vec<KnownPort>,
    /// Ids ([`Finding::id`]) of the findings on its members.
    #[serde(default)]
    pub findings: Vec<String>,
    #[serde(default)]
    pub paths: Vec<AttackPath>,
    #[serde(default)]
    pub posture: Vec<PostureItem>,
}

impl Cluster {
    /// Drop the references to findings not in `kept` (ids, [`Finding::id`]):
    /// a report that left findings out (`--min-severity`) points at none
    /// it lacks. Ratings, paths and posture still judge every finding.
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
    /// `jobmanager-rest`, `jobmanager-rpc`, `taskmanager-rpc`, ...
    pub role: String,
    pub tls: bool,
    pub evidence: String,
}

/// A port the JobManager named that the report has no service for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownPort {
    pub host: String,
    pub port: u16,
    pub role: String,
    /// Where it is known from.
    pub source: String,
    /// `not-found`: the scan probed this address and port and found
    /// nothing there; `not-scanned`: it did not (outside the targets or
    /// ports, another shard, an interrupted scan, or a host name).
    pub status: String,
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
    pub id: String,
    pub title: String,
    pub status: PostureStatus,
    /// What was seen: endpoints, configuration key names, never a secret.
    pub evidence: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
    /// The Flink keys (or deployment change) that make it pass.
    pub fix: String,
}

/// How strongly a service is tied to a cluster; the strongest wins.
const LINK_SELF: u8 = 4;
const LINK_LISTED: u8 = 3;
const LINK_SAME_HOST_AS_JM: u8 = 2;
const LINK_SAME_HOST_AS_TM: u8 = 1;

struct Group {
    anchor: &'static str,
    anchor_service: usize,
    cluster_id: Option<ConfigId>,
    not_scanned: Vec<KnownPort>,
}

/// Build the clusters of a report and mark each finding with its cluster.
/// `swept(ip, port)` says whether the scan certainly probed that endpoint
/// (to tell "not found" from "not scanned").
pub fn build(
    services: &[Service],
    findings: &mut [Finding],
    swept: &dyn Fn(IpAddr, u16) -> bool,
) -> Vec<Cluster> {
    let mut order: Vec<usize> = (0..services.len()).filter(|&i| services[i].flink).collect();
    order.sort_by(|&a, &b| services[a].endpoint.cmp(&services[b].endpoint));
    let mut groups: Vec<Group> = Vec::new();
    // Per service: (group, strength, evidence) claims.
    let mut claims: BTreeMap<usize, Vec<(usize, u8, String)>> = BTreeMap::new();
    // Indexes, so a scan with many thousands of ports stays linear.
    let mut by_host: HashMap<HostKey, Vec<usize>> = HashMap::new();
    let mut by_endpoint: HashMap<(HostKey, u16), usize> = HashMap::new();
    for &i in &order {
        let e = &services[i].endpoint;
        by_host.entry(e.host_key()).or_default().push(i);
        by_endpoint.entry((e.host_key(), e.port)).or_insert(i);
    }
    let no_services: Vec<usize> = Vec::new();
    let on_host = |h: &HostKey| by_host.get(h).unwrap_or(&no_services);
    let find = |ip: IpAddr, port: u16| by_endpoint.get(&(HostKey::Ip(ip), port)).copied();

    for &j in &order {
        let jm = &services[j];
        if jm.kind != ServiceKind::JobmanagerRest {
            continue;
        }
        let g = groups.len();
        let auth = jm.endpoint.authority();
        let facts = jm.deployment.clone().unwrap_or_default();
        groups.push(Group {
            anchor: "jobmanager",
            anchor_service: j,
            cluster_id: cluster_id_of(&facts, &auth),
            not_scanned: Vec::new(),
        });
        claims.entry(j).or_default().push((
            g,
            LINK_SELF,
            "the JobManager REST API itself (GET /config and GET /overview)".into(),
        ));
        for &k in on_host(&jm.endpoint.host_key()) {
            let s = &services[k];
            if k == j || s.kind == ServiceKind::JobmanagerRest {
                continue;
            }
            let key = match s.kind {
                ServiceKind::Rpc => Some("jobmanager.rpc.port"),
                ServiceKind::BlobServer => Some("blob.server.port"),
                _ => None,
            };
            let configured = key.filter(|key| {
                facts.config.get(*key).map(|v| v.trim()) == Some(&s.endpoint.port.to_string())
            });
            let (strength, evidence) = match configured {
                Some(key) => (
                    LINK_LISTED,
                    format!(
                        "port {} is {key} in GET /jobmanager/config of {auth}",
                        s.endpoint.port
                    ),
                ),
                None => (
                    LINK_SAME_HOST_AS_JM,
                    format!("same host as the JobManager REST API at {auth}"),
                ),
            };
            claims.entry(k).or_default().push((g, strength, evidence));
        }
        let mut tm_hosts: BTreeMap<IpAddr, String> = BTreeMap::new();
        for tm in &facts.taskmanagers {
            let ip: Option<IpAddr> = tm.host.parse().ok();
            for (port, role) in [
                (tm.rpc_port, "taskmanager-rpc"),
                (tm.data_port, "taskmanager-data"),
                (tm.jmx_port, "taskmanager-jmx"),
            ] {
                let Some(port) = port else { continue };
                match ip.and_then(|ip| find(ip, port)) {
                    Some(k) => claims.entry(k).or_default().push((
                        g,
                        LINK_LISTED,
                        format!(
                            "GET /taskmanagers of {auth} lists TaskManager {} with this {} port",
                            tm.id,
                            role.trim_start_matches("taskmanager-")
                        ),
                    )),
                    None => {
                        let scanned = ip.is_some_and(|ip| swept(ip, port));
                        groups[g].not_scanned.push(KnownPort {
                            host: tm.host.clone(),
                            port,
                            role: role.into(),
                            source: format!("GET /taskmanagers of {auth} (TaskManager {})", tm.id),
                            status: if scanned { "not-found" } else { "not-scanned" }.into(),
                        });
                    }
                }
            }
            if let Some(ip) = ip {
                tm_hosts.entry(ip).or_insert_with(|| tm.id.clone());
            }
        }
        for (ip, tm_id) in &tm_hosts {
            for &k in on_host(&HostKey::Ip(*ip)) {
                let s = &services[k];
                if matches!(
                    s.kind,
                    ServiceKind::JobmanagerRest
                        | ServiceKind::SqlGateway
                        | ServiceKind::HistoryServer
                ) {
                    continue;
                }
                claims.entry(k).or_default().push((
                    g,
                    LINK_SAME_HOST_AS_TM,
                    format!(
                        "same host as TaskManager {tm_id}, listed by GET /taskmanagers of {auth}"
                    ),
                ));
            }
        }
    }

    // A HistoryServer that archives a job a JobManager ran reads that
    // cluster's archive directory.
    for &k in &order {
        let hs = &services[k];
        let Some(archived) = hs.deployment.as_ref().map(|d| &d.job_ids) else {
            continue;
        };
        if hs.kind != ServiceKind::HistoryServer || archived.is_empty() {
            continue;
        }
        for (g, grp) in groups.iter().enumerate() {
            let jm = &services[grp.anchor_service];
            let ran = jm.deployment.as_ref().map(|d| &d.job_ids);
            let Some(common) = ran.and_then(|r| r.iter().find(|id| archived.contains(id))) else {
                continue;
            };
            claims.entry(k).or_default().push((
                g,
                LINK_LISTED,
                format!(
                    "archives job {common}, which GET /jobs/overview of the JobManager at {} also lists",
                    jm.endpoint.authority()
                ),
            ));
        }
    }

    // JobManagers that name the same deployment (high-availability
    // standbys) are one cluster.
    let mut merged_into: Vec<usize> = (0..groups.len()).collect();
    let mut first_with_id: HashMap<(String, String), usize> = HashMap::new();
    for a in 0..groups.len() {
        let Some(id) = groups[a].cluster_id.clone() else {
            continue;
        };
        let b = *first_with_id
            .entry((id.key.clone(), id.value.clone()))
            .or_insert(a);
        if b == a {
            continue;
        }
        merged_into[a] = b;
        let first = groups[b]
            .cluster_id
            .as_ref()
            .map_or("", |c| c.source.as_str());
        let note = format!(
            "JobManager at {} reports the same {} = {} as {first}",
            id.source, id.key, id.value
        );
        if let Some(list) = claims.get_mut(&groups[a].anchor_service) {
            for c in list.iter_mut().filter(|c| c.0 == a) {
                c.2 = note.clone();
            }
        }
        let moved = std::mem::take(&mut groups[a].not_scanned);
        groups[b].not_scanned.extend(moved);
    }

    // The strongest claim wins when it is one cluster's alone.
    let mut assigned: BTreeMap<usize, (usize, String)> = BTreeMap::new();
    for (&k, list) in &claims {
        let Some(best) = list.iter().map(|c| c.1).max() else {
            continue;
        };
        let top: Vec<&(usize, u8, String)> = list.iter().filter(|c| c.1 == best).collect();
        let owners: BTreeSet<usize> = top.iter().map(|c| merged_into[c.0]).collect();
        if let ([only], Some(first)) = (
            owners.iter().copied().collect::<Vec<_>>().as_slice(),
            top.first(),
        ) {
            assigned.insert(k, (*only, first.2.clone()));
        }
    }

    // What no JobManager claims: each SQL Gateway and HistoryServer is its
    // own group; other services join the one such group on their host, or
    // a group of their host.
    for &k in &order {
        if assigned.contains_key(&k) {
            continue;
        }
        let anchor = match services[k].kind {
            ServiceKind::SqlGateway => "sql-gateway",
            ServiceKind::HistoryServer => "history-server",
            _ => continue,
        };
        let g = groups.len();
        merged_into.push(g);
        groups.push(Group {
            anchor,
            anchor_service: k,
            cluster_id: None,
            not_scanned: Vec::new(),
        });
        assigned.insert(k, (g, format!("the {} itself", services[k].kind)));
    }
    let mut anchors_on_host: HashMap<HostKey, BTreeSet<usize>> = HashMap::new();
    for (g, grp) in groups.iter().enumerate() {
        if merged_into[g] == g {
            let host = services[grp.anchor_service].endpoint.host_key();
            anchors_on_host.entry(host).or_default().insert(g);
        }
    }
    let mut host_groups: HashMap<HostKey, usize> = HashMap::new();
    for &k in &order {
        if assigned.contains_key(&k) {
            continue;
        }
        let host = services[k].endpoint.host_key();
        let on_host = anchors_on_host.get(&host).cloned().unwrap_or_default();
        let ambiguous = claims.get(&k).is_some_and(|l| !l.is_empty());
        if let ([g], false) = (
            on_host.iter().copied().collect::<Vec<_>>().as_slice(),
            ambiguous,
        ) {
            let anchor = &services[groups[*g].anchor_service];
            assigned.insert(
                k,
                (
                    *g,
                    format!(
                        "same host as the {} at {}",
                        anchor.kind,
                        anchor.endpoint.authority()
                    ),
                ),
            );
            continue;
        }
        // A host group, found or made.
        let g = *host_groups.entry(host).or_insert_with(|| {
            let g = groups.len();
            merged_into.push(g);
            groups.push(Group {
                anchor: "host",
                anchor_service: k,
                cluster_id: None,
                not_scanned: Vec::new(),
            });
            g
        });
        let why = if ambiguous {
            "same host; more than one cluster could claim it with equal evidence, so it is grouped by host"
        } else {
            "same host"
        };
        assigned.insert(k, (g, why.to_string()));
    }

    // Assemble.
    let mut clusters = Vec::new();
    let mut cluster_services: Vec<Vec<usize>> = Vec::new();
    let mut endpoint_cluster: HashMap<String, usize> = HashMap::new();
    let mut members_of: HashMap<usize, Vec<(usize, &String)>> = HashMap::new();
    for (&k, (owner, evidence)) in &assigned {
        members_of.entry(*owner).or_default().push((k, evidence));
    }
    for (g, grp) in groups.iter().enumerate() {
        if merged_into[g] != g {
            continue;
        }
        let anchor = &services[grp.anchor_service];
        let id = match (&grp.cluster_id, grp.anchor) {
            (Some(cid), _) => {
                let short = CLUSTER_ID_KEYS
                    .iter()
                    .find(|(k, _)| *k == cid.key)
                    .map_or("id", |(_, s)| *s);
                format!("{short}:{}", id_safe(&cid.value))
            }
            (None, "host") => format!("host:{}", anchor.endpoint.host_key()),
            (None, a) => format!("{a}:{}", anchor.endpoint.authority()),
        };
        let mut members: Vec<(usize, Member)> = members_of
            .remove(&g)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, evidence)| {
                let s = &services[k];
                (
                    k,
                    Member {
                        endpoint: s.endpoint.authority(),
                        kind: s.kind,
                        role: role_of(s, &claims, k),
                        tls: s.tls.is_some(),
                        evidence: evidence.clone(),
                    },
                )
            })
            .collect();
        members.sort_by(|a, b| services[a.0].endpoint.cmp(&services[b.0].endpoint));
        for (_, m) in &members {
            endpoint_cluster.insert(m.endpoint.clone(), clusters.len());
        }
        cluster_services.push(members.iter().map(|(k, _)| *k).collect());
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
        let name = match (grp.anchor, &grp.cluster_id) {
            ("jobmanager", Some(cid)) => format!(
                "Flink cluster {} ({}), JobManager {}",
                untrusted::clean(&cid.value, 64),
                cid.key,
                anchor.endpoint.authority()
            ),
            ("jobmanager", None) => format!(
                "Flink cluster of JobManager {}",
                anchor.endpoint.authority()
            ),
            ("sql-gateway", _) => format!("SQL Gateway {}", anchor.endpoint.authority()),
            ("history-server", _) => format!("HistoryServer {}", anchor.endpoint.authority()),
            _ => format!("Flink services on host {}", anchor.endpoint.host_key()),
        };
        let mut not_scanned = grp.not_scanned.clone();
        not_scanned.sort_by(|a, b| (&a.host, a.port).cmp(&(&b.host, b.port)));
        not_scanned.dedup_by(|a, b| a.host == b.host && a.port == b.port);
        clusters.push(Cluster {
            id,
            name,
            anchor: grp.anchor.to_string(),
            cluster_id: grp.cluster_id.clone(),
            rating: None,
            version,
            hosts,
            members: members.into_iter().map(|(_, m)| m).collect(),
            not_scanned,
            findings: Vec::new(),
            paths: Vec::new(),
            posture: Vec::new(),
        });
    }

    let mut findings_of: Vec<Vec<usize>> = vec![Vec::new(); clusters.len()];
    for (i, f) in findings.iter_mut().enumerate() {
        let owner = endpoint_cluster.get(&f.endpoint.authority()).copied();
        f.cluster = owner
            .and_then(|c| clusters.get(c))
            .map(|c: &Cluster| c.id.clone());
        if let Some(list) = owner.and_then(|c| findings_of.get_mut(c)) {
            list.push(i);
        }
    }
    for ((c, own), mine) in clusters.iter_mut().zip(&cluster_services).zip(&findings_of) {
        let present: Vec<&Finding> = mine
            .iter()
            .map(|&i| &findings[i])
            .filter(|f| !f.is_fixed())
            .collect();
        c.findings = present.iter().map(|f| f.id()).collect();
        let member_services: Vec<&Service> = own.iter().map(|&k| &services[k]).collect();
        c.paths = attack_paths(&member_services, &present);
        c.posture = posture(&member_services, &present);
        c.rating = c
            .paths
            .first()
            .map(|p| p.severity)
            .or_else(|| present.iter().map(|f| f.severity).max());
    }
    // Worst first; among equals, the one with more ways in and findings.
    clusters.sort_by(|a, b| {
        b.rating
            .cmp(&a.rating)
            .then(b.paths.len().cmp(&a.paths.len()))
            .then(b.findings.len().cmp(&a.findings.len()))
            .then_with(|| a.id.cmp(&b.id))
    });
    clusters
}

fn cluster_id_of(facts: &DeploymentFacts, source: &str) -> Option<ConfigId> {
    CLUSTER_ID_KEYS.iter().find_map(|(key, _)| {
        let value = facts.config.get(*key)?.trim();
        // Flink's defaults are shared by every cluster that did not set one.
        if value.is_empty() || matches!(value, "/default" | "default") || value.contains("not kept")
        {
            return None;
        }
        Some(ConfigId {
            key: key.to_string(),
            value: value.to_string(),
            source: source.to_string(),
        })
    })
}

/// Ids must survive URLs, SARIF properties and HTML attributes unharmed.
fn id_safe(value: &str) -> String {
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

fn role_of(s: &Service, claims: &BTreeMap<usize, Vec<(usize, u8, String)>>, k: usize) -> String {
    let listed_tm = claims.get(&k).is_some_and(|l| {
        l.iter()
            .any(|c| c.1 == LINK_LISTED && c.2.contains("TaskManager"))
    });
    match s.kind {
        ServiceKind::JobmanagerRest => "jobmanager-rest",
        ServiceKind::Rpc if listed_tm => "taskmanager-rpc",
        ServiceKind::Rpc => "rpc",
        ServiceKind::BlobServer => "blob-server",
        ServiceKind::TaskmanagerData => "taskmanager-data",
        ServiceKind::HistoryServer => "history-server",
        ServiceKind::SqlGateway => "sql-gateway",
        ServiceKind::PrometheusReporter => "metrics",
        ServiceKind::JmxRmi => "jmx",
        _ if is_mtls_internal(s) => "rpc-or-blob (mutual TLS)",
        _ => "other",
    }
    .to_string()
}

/// A port that demands a client certificate next to Flink: in practice
/// RPC or BLOB under internal SSL (see `hosts::correlate`).
fn is_mtls_internal(s: &Service) -> bool {
    s.kind == ServiceKind::Unknown
        && s.flink
        && s.tls.as_ref().is_some_and(|t| t.client_cert_required)
}

fn ids(fs: &[&Finding]) -> Vec<String> {
    fs.iter().map(|f| f.id()).collect()
}

fn endpoints(fs: &[&Finding]) -> String {
    fs.iter()
        .map(|f| f.endpoint.authority())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The attack paths the findings make possible, ranked: worst first, then
/// shortest.
pub fn attack_paths(services: &[&Service], findings: &[&Finding]) -> Vec<AttackPath> {
    let rule = |id: &str| -> Vec<&Finding> {
        findings
            .iter()
            .copied()
            .filter(|f| f.rule_id == id)
            .collect()
    };
    let mut paths = Vec::new();
    let taskmanagers: Vec<String> = services
        .iter()
        .filter_map(|s| s.deployment.as_ref())
        .flat_map(|d| d.taskmanagers.iter().map(|t| t.host.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let tm_count = services
        .iter()
        .filter_map(|s| s.deployment.as_ref()?.taskmanagers_listed)
        .max();

    let rest = rule(rule_ids::REST_UNAUTHENTICATED);
    if let Some(first) = rest.first() {
        let jars = rule(rule_ids::REST_JAR_UPLOAD);
        let submit = if jars.is_empty() {
            PathStep {
                action:
                    "Submit a job graph with POST /jobs (accepted whatever web.submit.enable says)"
                        .into(),
                findings: ids(&rest),
            }
        } else {
            PathStep {
                action: "Upload a jar with POST /jars/upload and run it (web.submit.enable is on); POST /jobs works too".into(),
                findings: ids(&jars),
            }
        };
        let on = match tm_count {
            Some(n) if n > 0 => format!(
                "The job's code runs on every TaskManager: {n} listed by the JobManager ({}{})",
                taskmanagers.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
                if taskmanagers.len() > 5 { ", …" } else { "" }
            ),
            _ => "The job's code runs on the cluster's TaskManagers (and a jar's main() on the JobManager)".into(),
        };
        paths.push(AttackPath {
            rank: 0,
            severity: first.severity,
            title: "Code execution on every TaskManager through the unauthenticated REST API".into(),
            impact: "Arbitrary code with the Flink user's rights on the cluster's machines, every job's data and credentials".into(),
            steps: vec![
                PathStep {
                    action: format!("Reach the JobManager REST API at {} without credentials", endpoints(&rest)),
                    findings: ids(&rest),
                },
                submit,
                PathStep { action: on, findings: ids(&rest) },
            ],
        });
    }

    let gateway = rule(rule_ids::SQL_GATEWAY_UNAUTHENTICATED);
    if let Some(first) = gateway.first() {
        let mut steps = vec![PathStep {
            action: format!(
                "Open a session on the SQL Gateway at {} with an empty POST /v1/sessions",
                endpoints(&gateway)
            ),
            findings: ids(&gateway),
        }];
        let mut severity = first.severity;
        let cves: Vec<&Finding> = findings
            .iter()
            .copied()
            .filter(|f| {
                f.service == ServiceKind::SqlGateway
                    && f.advisory.is_some()
                    && f.severity >= Severity::High
            })
            .collect();
        for c in &cves {
            let names = c
                .advisory
                .as_ref()
                .map(|a| a.ids.join(" / "))
                .unwrap_or_default();
            steps.push(PathStep {
                action: format!(
                    "Exploit {names}: the gateway's version {} is in the affected range",
                    c.version
                        .as_deref()
                        .map(|v| untrusted::clean(v, 32))
                        .unwrap_or_else(|| "?".into())
                ),
                findings: vec![c.id()],
            });
            severity = severity.max(c.severity);
        }
        steps.push(PathStep {
            action: "Run SQL, including user-defined functions, on the cluster behind it".into(),
            findings: ids(&gateway),
        });
        paths.push(AttackPath {
            rank: 0,
            severity,
            title: "Code execution through the unauthenticated SQL Gateway".into(),
            impact: "Arbitrary SQL and user code on the session cluster, read and write access to its catalogs and tables".into(),
            steps,
        });
    }

    let rpc = rule(rule_ids::RPC_PLAINTEXT);
    if let Some(first) = rpc.first() {
        paths.push(AttackPath {
            rank: 0,
            severity: first.severity,
            title: "Java deserialization on the plaintext Akka/Pekko RPC port".into(),
            impact: "Code execution on the JobManager or TaskManager that owns the port".into(),
            steps: vec![
                PathStep {
                    action: format!("Connect to RPC at {} in plaintext, without authentication", endpoints(&rpc)),
                    findings: ids(&rpc),
                },
                PathStep {
                    action: "Send a Java-serialised message: Akka/Pekko deserialise it before anything checks the sender".into(),
                    findings: ids(&rpc),
                },
                PathStep {
                    action: "A deserialization gadget on Flink's classpath runs the attacker's code".into(),
                    findings: ids(&rpc),
                },
            ],
        });
    }

    let secrets = rule(rule_ids::CONFIG_SECRET_EXPOSED);
    if let Some(first) = secrets.first() {
        let storage = services
            .iter()
            .filter_map(|s| s.deployment.as_ref())
            .find_map(|d| {
                [
                    "state.checkpoints.dir",
                    "execution.checkpointing.dir",
                    "state.savepoints.dir",
                ]
                .iter()
                .find(|k| d.config.contains_key(**k))
                .map(|k| format!("the checkpoint storage ({k})"))
            })
            .unwrap_or_else(|| "the checkpoint bucket and the other systems they open".into());
        paths.push(AttackPath {
            rank: 0,
            severity: first.severity,
            title: "Credentials read from the exposed configuration".into(),
            impact: format!("Access to {storage} with the cluster's own credentials"),
            steps: vec![
                PathStep {
                    action: format!(
                        "GET /jobmanager/config (or /jobmanager/environment) at {}",
                        endpoints(&secrets)
                    ),
                    findings: ids(&secrets),
                },
                PathStep {
                    action:
                        "Take the unmasked secret values it returns (the finding names the keys)"
                            .into(),
                    findings: ids(&secrets),
                },
                PathStep {
                    action: format!("Use them against {storage}"),
                    findings: ids(&secrets),
                },
            ],
        });
    }

    let blob = rule(rule_ids::BLOB_PLAINTEXT);
    if let Some(first) = blob.first() {
        paths.push(AttackPath {
            rank: 0,
            severity: first.severity,
            title: "Job jars and artifacts from the plaintext BLOB server".into(),
            impact: "The jobs' code and the secrets compiled into it; uploads to the cluster's BLOB store".into(),
            steps: vec![
                PathStep {
                    action: format!("Connect to the BLOB server at {} without authentication", endpoints(&blob)),
                    findings: ids(&blob),
                },
                PathStep {
                    action: "Fetch or put BLOBs with the BLOB protocol".into(),
                    findings: ids(&blob),
                },
            ],
        });
    }

    let jmx = rule(rule_ids::JMX_EXPOSED);
    if let Some(first) = jmx.first() {
        paths.push(AttackPath {
            rank: 0,
            severity: first.severity,
            title: "Remote JMX on a Flink JVM".into(),
            impact: "MBean operations on the JVM; without JMX authentication, code execution"
                .into(),
            steps: vec![
                PathStep {
                    action: format!("Reach the RMI registry at {}", endpoints(&jmx)),
                    findings: ids(&jmx),
                },
                PathStep {
                    action: "Connect a JMX client and invoke MBean operations".into(),
                    findings: ids(&jmx),
                },
            ],
        });
    }

    let control = rule(rule_ids::REST_JOB_CONTROL);
    if let Some(first) = control.first() {
        paths.push(AttackPath {
            rank: 0,
            severity: first.severity,
            title: "Running jobs cancelled or rescaled by anyone".into(),
            impact: "Stopped pipelines and lost processing (denial of service)".into(),
            steps: vec![PathStep {
                action: format!(
                    "PATCH /jobs/:id at {} (web.cancel.enable only hides the button)",
                    endpoints(&control)
                ),
                findings: ids(&control),
            }],
        });
    }

    // Known vulnerabilities not already a step of a path above.
    let used: BTreeSet<String> = paths
        .iter()
        .flat_map(|p| p.steps.iter().flat_map(|s| s.findings.iter().cloned()))
        .collect();
    let mut by_rule: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings.iter().copied() {
        if f.advisory.is_some() && f.severity >= Severity::High && !used.contains(&f.id()) {
            by_rule.entry(f.rule_id.as_str()).or_default().push(f);
        }
    }
    for fs in by_rule.values() {
        let Some(first) = fs.first() else { continue };
        let names = first
            .advisory
            .as_ref()
            .map(|a| a.ids.join(" / "))
            .unwrap_or_default();
        paths.push(AttackPath {
            rank: 0,
            severity: first.severity,
            title: format!("Known vulnerability {names}"),
            impact: untrusted::clean(&first.title, 160),
            steps: vec![PathStep {
                action: format!(
                    "Exploit {names} on {} (Flink {}, a version match, not exploited by the scan)",
                    endpoints(fs),
                    first
                        .version
                        .as_deref()
                        .map(|v| untrusted::clean(v, 32))
                        .unwrap_or_else(|| "?".into())
                ),
                findings: ids(fs),
            }],
        });
    }

    paths.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.steps.len().cmp(&b.steps.len()))
            .then_with(|| a.title.cmp(&b.title))
    });
    for (i, p) in paths.iter_mut().enumerate() {
        p.rank = i as u32 + 1;
    }
    paths
}

/// Judge the cluster against Flink's hardening guidance.
pub fn posture(services: &[&Service], findings: &[&Finding]) -> Vec<PostureItem> {
    let rule = |id: &str| -> Vec<String> {
        findings
            .iter()
            .filter(|f| f.rule_id == id)
            .map(|f| f.id())
            .collect()
    };
    let config: BTreeMap<String, String> = services
        .iter()
        .filter_map(|s| s.deployment.as_ref())
        .filter(|d| d.config_readable)
        .flat_map(|d| d.config.clone())
        .collect();
    let config_readable = services
        .iter()
        .any(|s| s.deployment.as_ref().is_some_and(|d| d.config_readable));
    let key_says = |key: &str| {
        config
            .get(key)
            .map(|v| v.trim().eq_ignore_ascii_case("true"))
    };
    let mut items = Vec::new();
    let item =
        |id: &str, title: &str, status, evidence: String, findings: Vec<String>, fix: &str| {
            PostureItem {
                id: id.into(),
                title: title.into(),
                status,
                evidence,
                findings,
                fix: fix.into(),
            }
        };

    let rest: Vec<&&Service> = services
        .iter()
        .filter(|s| s.kind == ServiceKind::JobmanagerRest)
        .collect();
    if !rest.is_empty() {
        let plain: Vec<String> = rest
            .iter()
            .filter(|s| s.tls.is_none())
            .map(|s| s.endpoint.authority())
            .collect();
        let (status, evidence) = if plain.is_empty() {
            (
                PostureStatus::Pass,
                format!(
                    "TLS on {}",
                    rest.iter()
                        .map(|s| s.endpoint.authority())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        } else {
            (
                PostureStatus::Fail,
                format!("plaintext HTTP on {}", plain.join(", ")),
            )
        };
        items.push(item(
            "rest-tls",
            "REST API over TLS",
            status,
            evidence,
            rule(rule_ids::REST_PLAINTEXT),
            "security.ssl.rest.enabled: true with security.ssl.rest.keystore, security.ssl.rest.keystore-password, security.ssl.rest.key-password",
        ));
        let mtls: Vec<String> = rest
            .iter()
            .filter(|s| {
                s.tls.as_ref().is_some_and(|t| t.client_cert_required) || s.inner_unreachable
            })
            .map(|s| s.endpoint.authority())
            .collect();
        let (status, evidence) = if mtls.len() == rest.len() {
            (
                PostureStatus::Pass,
                format!("client certificate required on {}", mtls.join(", ")),
            )
        } else if !rule(rule_ids::REST_UNAUTHENTICATED).is_empty() {
            (
                PostureStatus::Fail,
                "GET /config answered without any credential".to_string(),
            )
        } else {
            match key_says("security.ssl.rest.authentication-enabled") {
                Some(true) => (
                    PostureStatus::Pass,
                    "security.ssl.rest.authentication-enabled: true in /jobmanager/config".into(),
                ),
                Some(false) => (
                    PostureStatus::Fail,
                    "security.ssl.rest.authentication-enabled: false in /jobmanager/config".into(),
                ),
                None => (
                    PostureStatus::Unknown,
                    "no client certificate was asked for, and no unauthenticated answer was seen"
                        .into(),
                ),
            }
        };
        items.push(item(
            "rest-mtls",
            "REST API requires client certificates (mutual TLS)",
            status,
            evidence,
            rule(rule_ids::REST_UNAUTHENTICATED),
            "security.ssl.rest.authentication-enabled: true with security.ssl.rest.truststore (or an authenticating reverse proxy in front of rest.port)",
        ));
    }

    let internal: Vec<&&Service> = services
        .iter()
        .filter(|s| {
            matches!(
                s.kind,
                ServiceKind::Rpc | ServiceKind::BlobServer | ServiceKind::TaskmanagerData
            ) || is_mtls_internal(s)
        })
        .collect();
    let plain_internal: Vec<String> = internal
        .iter()
        .filter(|s| s.tls.is_none())
        .map(|s| s.endpoint.authority())
        .collect();
    let internal_findings: Vec<String> = [
        rule_ids::RPC_PLAINTEXT,
        rule_ids::BLOB_PLAINTEXT,
        rule_ids::TASKMANAGER_DATA_PLAINTEXT,
    ]
    .iter()
    .flat_map(|r| rule(r))
    .collect();
    let (status, evidence) = if !plain_internal.is_empty() {
        (
            PostureStatus::Fail,
            format!(
                "plaintext RPC/BLOB/data ports: {}",
                plain_internal.join(", ")
            ),
        )
    } else if !internal.is_empty() {
        (
            PostureStatus::Pass,
            format!(
                "TLS on {}",
                internal
                    .iter()
                    .map(|s| s.endpoint.authority())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    } else {
        match key_says("security.ssl.internal.enabled").or(key_says("security.ssl.enabled")) {
            Some(true) => (PostureStatus::Pass, "security.ssl.internal.enabled: true in /jobmanager/config (no internal port reached)".into()),
            Some(false) => (PostureStatus::Fail, "security.ssl.internal.enabled: false in /jobmanager/config".into()),
            None if config_readable => (PostureStatus::Fail, "security.ssl.internal.enabled not set in /jobmanager/config (default false)".into()),
            None => (PostureStatus::Unknown, "no RPC, BLOB or data port reached and the configuration is not readable".into()),
        }
    };
    items.push(item(
        "internal-tls",
        "Internal TLS for RPC, BLOB and data ports",
        status,
        evidence,
        internal_findings,
        "security.ssl.internal.enabled: true with security.ssl.internal.keystore, security.ssl.internal.truststore and their passwords; bind RPC and BLOB to internal interfaces",
    ));

    let gateways: Vec<&&Service> = services
        .iter()
        .filter(|s| s.kind == ServiceKind::SqlGateway)
        .collect();
    if !gateways.is_empty() {
        let open = rule(rule_ids::SQL_GATEWAY_UNAUTHENTICATED);
        let guarded = gateways
            .iter()
            .all(|s| s.inner_unreachable || s.tls.as_ref().is_some_and(|t| t.client_cert_required));
        let (status, evidence) = if !open.is_empty() {
            (
                PostureStatus::Fail,
                "the gateway answered without any credential".to_string(),
            )
        } else if guarded {
            (
                PostureStatus::Pass,
                "a client certificate is required in front of the gateway".to_string(),
            )
        } else {
            (PostureStatus::Unknown, format!("SQL Gateway at {}: no unauthenticated answer seen, no authentication seen either", gateways.iter().map(|s| s.endpoint.authority()).collect::<Vec<_>>().join(", ")))
        };
        items.push(item(
            "sql-gateway-auth",
            "SQL Gateway behind an authenticating proxy",
            status,
            evidence,
            open,
            "Bind sql-gateway.endpoint.rest.address / bind-address to an internal address and put an authenticating reverse proxy (or mutual TLS) in front of sql-gateway.endpoint.rest.port",
        ));
    }

    if config_readable {
        let set: Vec<&str> = [
            "security.kerberos.login.keytab",
            "security.kerberos.login.principal",
            "security.kerberos.login.use-ticket-cache",
        ]
        .into_iter()
        .filter(|k| config.contains_key(*k))
        .collect();
        let (status, evidence) = if set
            .iter()
            .any(|k| *k != "security.kerberos.login.use-ticket-cache")
        {
            (
                PostureStatus::Pass,
                format!("{} set in /jobmanager/config", set.join(", ")),
            )
        } else {
            // Not every deployment talks to a Kerberos realm: absence is
            // not a failure the scan can prove.
            (PostureStatus::Unknown, "no security.kerberos.login.keytab or principal in /jobmanager/config; needed only where Flink talks to Kerberos-secured Hadoop, Kafka or ZooKeeper".to_string())
        };
        items.push(item(
            "kerberos",
            "Kerberos for the systems Flink connects to",
            status,
            evidence,
            Vec::new(),
            "security.kerberos.login.keytab and security.kerberos.login.principal (security.kerberos.login.contexts for ZooKeeper and Kafka)",
        ));
    } else if !rest.is_empty() {
        items.push(item(
            "kerberos",
            "Kerberos for the systems Flink connects to",
            PostureStatus::Unknown,
            "GET /jobmanager/config not readable".into(),
            Vec::new(),
            "security.kerberos.login.keytab and security.kerberos.login.principal",
        ));
    }

    for (id, title, feature, key, fix) in [
        ("web-submit", "Web submission disabled", "web-submit", "web.submit.enable", "web.submit.enable: false (hides jar upload and run; POST /jobs stays open while REST is reachable)"),
        ("web-cancel", "Web cancellation disabled", "web-cancel", "web.cancel.enable", "web.cancel.enable: false (hides the buttons; restrict REST access for real control)"),
    ] {
        let seen: Vec<(String, bool)> = rest
            .iter()
            .filter_map(|s| s.features.get(feature).map(|v| (s.endpoint.authority(), *v)))
            .collect();
        if rest.is_empty() {
            continue;
        }
        let on: Vec<&String> = seen.iter().filter(|(_, v)| *v).map(|(a, _)| a).collect();
        let (status, evidence) = if !on.is_empty() {
            (PostureStatus::Fail, format!("GET /config features.{feature} = true on {}", on.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")))
        } else if !seen.is_empty() {
            (PostureStatus::Pass, format!("GET /config features.{feature} = false"))
        } else {
            match key_says(key) {
                Some(v) => (if v { PostureStatus::Fail } else { PostureStatus::Pass }, format!("{key}: {v} in /jobmanager/config")),
                None => (PostureStatus::Unknown, format!("GET /config did not report {feature}")),
            }
        };
        let linked = if id == "web-submit" { rule(rule_ids::REST_JAR_UPLOAD) } else { rule(rule_ids::REST_JOB_CONTROL) };
        items.push(item(id, title, status, evidence, linked, fix));
    }

    if config_readable {
        let generic = config
            .get("pipeline.generic-types")
            .map(|v| v.trim().to_ascii_lowercase());
        let registered = [
            "pipeline.registered-kryo-types",
            "pipeline.serialization-config",
        ]
        .into_iter()
        .filter(|k| config.contains_key(*k))
        .collect::<Vec<_>>();
        let (status, evidence) = match generic.as_deref() {
            Some("false") => (
                PostureStatus::Pass,
                "pipeline.generic-types: false (no Kryo fallback for unknown types)".to_string(),
            ),
            _ if !registered.is_empty() => (
                PostureStatus::Unknown,
                format!(
                    "pipeline.generic-types not false, but {} set",
                    registered.join(", ")
                ),
            ),
            Some(v) => (
                PostureStatus::Fail,
                format!("pipeline.generic-types: {v} (generic types fall back to Kryo)"),
            ),
            None => (
                PostureStatus::Fail,
                "pipeline.generic-types not set (default true: generic types fall back to Kryo)"
                    .to_string(),
            ),
        };
        items.push(item(
            "serialization",
            "No Kryo/Java serialization fallback for unknown types",
            status,
            evidence,
            Vec::new(),
            "pipeline.generic-types: false, and register the types that need Kryo (pipeline.serialization-config)",
        ));

        let secret_findings = rule(rule_ids::CONFIG_SECRET_EXPOSED);
        let dirs: Vec<String> = [
            "state.checkpoints.dir",
            "execution.checkpointing.dir",
            "state.savepoints.dir",
            "execution.checkpointing.savepoint-dir",
        ]
        .iter()
        .filter_map(|k| config.get(*k).map(|v| (k, v)))
        .map(|(k, v)| format!("{k} = {}", location_of(v)))
        .collect();
        let embedded = config
            .values()
            .any(|v| v.contains("credentials in the URI"));
        let (status, evidence) = if embedded || !secret_findings.is_empty() {
            (
                PostureStatus::Fail,
                format!(
                    "credentials readable from the configuration{}",
                    if dirs.is_empty() {
                        String::new()
                    } else {
                        format!("; {}", dirs.join(", "))
                    }
                ),
            )
        } else if dirs.is_empty() {
            (
                PostureStatus::Unknown,
                "no checkpoint or savepoint directory in /jobmanager/config".to_string(),
            )
        } else {
            (
                PostureStatus::Pass,
                format!("{}; no credential in the configuration", dirs.join(", ")),
            )
        };
        items.push(item(
            "checkpoint-storage",
            "Checkpoint storage without embedded credentials",
            status,
            evidence,
            secret_findings,
            "Give the storage credentials by IAM role, workload identity or environment (not s3.access-key / s3.secret-key or user:password@ in state.checkpoints.dir); rotate exposed keys",
        ));
    } else if !rest.is_empty() {
        for (id, title) in [
            (
                "serialization",
                "No Kryo/Java serialization fallback for unknown types",
            ),
            (
                "checkpoint-storage",
                "Checkpoint storage without embedded credentials",
            ),
        ] {
            items.push(item(
                id,
                title,
                PostureStatus::Unknown,
                "GET /jobmanager/config not readable".into(),
                Vec::new(),
                if id == "serialization" {
                    "pipeline.generic-types: false"
                } else {
                    "Give the storage credentials by IAM role or environment, not in the configuration"
                },
            ));
        }
    }

    let history: Vec<&&Service> = services
        .iter()
        .filter(|s| s.kind == ServiceKind::HistoryServer)
        .collect();
    if !history.is_empty() {
        let exposed = rule(rule_ids::HISTORYSERVER_EXPOSED);
        let (status, evidence) = if !exposed.is_empty() {
            (
                PostureStatus::Fail,
                format!(
                    "HistoryServer at {} serves archived jobs without credentials",
                    history
                        .iter()
                        .map(|s| s.endpoint.authority())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        } else if history
            .iter()
            .all(|s| s.inner_unreachable || s.tls.as_ref().is_some_and(|t| t.client_cert_required))
        {
            (
                PostureStatus::Pass,
                "a client certificate is required".to_string(),
            )
        } else {
            (
                PostureStatus::Unknown,
                "HistoryServer reachable; no unauthenticated archive listing seen".to_string(),
            )
        };
        items.push(item(
            "history-server",
            "HistoryServer not exposed",
            status,
            evidence,
            exposed,
            "Bind historyserver.web.address to an internal address, firewall historyserver.web.port, historyserver.web.ssl.enabled: true",
        ));
    }
    items
}

fn location_of(value: &str) -> String {
    if value.contains("not kept") {
        return value.to_string();
    }
    match value.split_once("://") {
        Some((scheme, _)) => format!("{scheme}://… "),
        None => "a local path".to_string(),
    }
    .trim_end()
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Endpoint, Evidence};

    fn svc(ip: [u8; 4], port: u16, kind: ServiceKind) -> Service {
        let mut s = Service::new(Endpoint::new(ip.into(), port), kind);
        s.version = Some("1.20.1".into());
        s
    }

    fn finding(rule: &str, sev: Severity, s: &Service) -> Finding {
        Finding {
            evidence: vec![Evidence {
                request: "x".into(),
                status: None,
                excerpt: String::new(),
            }],
            version: s.version.clone(),
            ..Finding::new(rule, sev, rule, s.endpoint.clone(), s.kind, s.url("/"))
        }
    }

    #[test]
    fn configuration_keys_serialise_as_a_list_and_read_back() {
        let facts = DeploymentFacts {
            config: [("state.backend".to_string(), "rocksdb".to_string())].into(),
            ..Default::default()
        };
        let json = serde_json::to_value(&facts).unwrap();
        assert_eq!(
            json["config"],
            serde_json::json!([{"key": "state.backend", "value": "rocksdb"}])
        );
        let back: DeploymentFacts = serde_json::from_value(json).unwrap();
        assert_eq!(back, facts);
        let old: DeploymentFacts =
            serde_json::from_value(serde_json::json!({"config": {"state.backend": "rocksdb"}}))
                .unwrap();
        assert_eq!(old, facts);
    }

    #[test]
    fn actor_paths_parse_and_reject_junk() {
        assert_eq!(
            parse_rpc_address("pekko.tcp://flink@10.0.0.5:6122/user/rpc/taskmanager_0"),
            Some(("10.0.0.5".into(), Some(6122)))
        );
        assert_eq!(
            parse_rpc_address("akka.ssl.tcp://flink@[::1]:40000/user/rpc/taskmanager_0"),
            Some(("::1".into(), Some(40000)))
        );
        assert_eq!(parse_rpc_address("pekko.tcp://flink@<script>:1/x"), None);
        assert_eq!(parse_rpc_address("nonsense"), None);
    }

    #[test]
    fn config_facts_keep_ids_and_switches_never_secrets() {
        let json: serde_json::Value = serde_json::from_str(
            r#"[{"key":"kubernetes.cluster-id","value":"prod-a"},
                {"key":"s3.secret-key","value":"PLANTED"},
                {"key":"state.checkpoints.dir","value":"s3://bob:hunter2@bucket/cp"},
                {"key":"security.kerberos.login.principal","value":"flink@CORP"},
                {"key":"jobmanager.rpc.port","value":"6123"}]"#,
        )
        .unwrap();
        let c = config_facts(&json).unwrap();
        assert_eq!(
            c.get("kubernetes.cluster-id").map(String::as_str),
            Some("prod-a")
        );
        assert_eq!(
            c.get("jobmanager.rpc.port").map(String::as_str),
            Some("6123")
        );
        assert_eq!(
            c.get("security.kerberos.login.principal")
                .map(String::as_str),
            Some("(set)")
        );
        assert!(!c.contains_key("s3.secret-key"));
        let all = format!("{c:?}");
        assert!(
            !all.contains("hunter2") && !all.contains("PLANTED") && !all.contains("CORP"),
            "{all}"
        );
    }

    #[test]
    fn taskmanagers_are_linked_by_listing_and_unreached_ones_are_named() {
        let mut jm = svc([10, 0, 0, 1], 8081, ServiceKind::JobmanagerRest);
        jm.deployment = Some(DeploymentFacts {
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
            config: [("jobmanager.rpc.port".to_string(), "6123".to_string())].into(),
            job_ids: Vec::new(),
        });
        let jm_rpc = svc([10, 0, 0, 1], 6123, ServiceKind::Rpc);
        let tm_rpc = svc([10, 0, 0, 5], 6122, ServiceKind::Rpc);
        let tm_metrics = svc([10, 0, 0, 5], 9249, ServiceKind::PrometheusReporter);
        // Same port number on an unrelated host: must not be linked.
        let stranger = svc([10, 0, 0, 9], 6122, ServiceKind::Rpc);
        let services = vec![
            jm.clone(),
            jm_rpc.clone(),
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
        let c = clusters.iter().find(|c| c.anchor == "jobmanager").unwrap();
        let member = |ep: &str| c.members.iter().find(|m| m.endpoint == ep);
        assert!(member("10.0.0.1:6123")
            .unwrap()
            .evidence
            .contains("jobmanager.rpc.port"));
        let tm = member("10.0.0.5:6122").unwrap();
        assert_eq!(tm.role, "taskmanager-rpc");
        assert!(tm.evidence.contains("/taskmanagers") && tm.evidence.contains("tm-a"));
        assert!(member("10.0.0.5:9249")
            .unwrap()
            .evidence
            .contains("same host as TaskManager tm-a"));
        assert!(member("10.0.0.9:6122").is_none());
        let unreached: Vec<(String, u16, String)> = c
            .not_scanned
            .iter()
            .map(|k| (k.host.clone(), k.port, k.status.clone()))
            .collect();
        assert_eq!(
            unreached,
            vec![
                ("10.0.0.5".into(), 40000, "not-scanned".into()),
                ("10.0.0.6".into(), 6122, "not-found".into())
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
            config: [("high-availability.cluster-id".to_string(), id.to_string())].into(),
            ..Default::default()
        };
        let mut a = svc([10, 0, 1, 1], 8081, ServiceKind::JobmanagerRest);
        a.deployment = Some(facts("orders"));
        let mut b = svc([10, 0, 1, 2], 8081, ServiceKind::JobmanagerRest);
        b.deployment = Some(facts("orders"));
        let mut c = svc([10, 0, 1, 3], 8081, ServiceKind::JobmanagerRest);
        c.deployment = Some(facts("/default"));
        let mut d = svc([10, 0, 1, 4], 8081, ServiceKind::JobmanagerRest);
        d.deployment = Some(facts("/default"));
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

    #[test]
    fn a_history_server_archiving_a_jobmanagers_job_joins_it_from_another_host() {
        let jid = "0123456789abcdef0123456789abcdef";
        let facts = |ids: &[&str]| DeploymentFacts {
            job_ids: ids.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let mut jm = svc([10, 0, 3, 1], 8081, ServiceKind::JobmanagerRest);
        jm.deployment = Some(facts(&[jid]));
        let mut other = svc([10, 0, 3, 2], 8081, ServiceKind::JobmanagerRest);
        other.deployment = Some(facts(&["ffffffffffffffffffffffffffffffff"]));
        let mut hs = svc([10, 0, 3, 9], 8082, ServiceKind::HistoryServer);
        hs.deployment = Some(facts(&[jid]));
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
            jm.deployment = Some(DeploymentFacts {
                taskmanagers,
                taskmanagers_listed: Some(50),
                ..Default::default()
            });
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
        let jm_clusters = clusters.iter().filter(|c| c.anchor == "jobmanager");
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
            .find(|c| c.anchor == "history-server")
            .unwrap();
        assert_eq!(hs.members.len(), 2);
        assert!(hs.members[1]
            .evidence
            .contains("same host as the history-server"));
    }
}
