//! Which services form one cluster, and why: every JobManager claims the
//! services its answers name or share its host, the strongest claim that is
//! one cluster's alone wins, and what nobody claims is grouped around a SQL
//! Gateway, a HistoryServer or its host.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;

use super::{Anchor, ConfigId, KnownPort, PortStatus, Role};
use crate::model::{DeploymentFacts, HostKey, Service, ServiceKind, TaskManagerRef};

/// Configuration keys that name the deployment, in order of preference,
/// with the short form a cluster id starts with.
pub const CLUSTER_ID_KEYS: &[(&str, &str)] = &[
    ("kubernetes.cluster-id", "k8s"),
    ("yarn.application.id", "yarn"),
    ("high-availability.cluster-id", "ha"),
];

/// How strongly a service is tied to a cluster; the strongest wins.
/// Declared weakest first, so the derived order ranks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Link {
    SameHostAsTaskManager,
    SameHostAsJobManager,
    /// A JobManager's answer names this service.
    Listed,
    /// The JobManager itself.
    Itself,
}

/// Where a claim is known from; its text is the member's evidence.
#[derive(Debug, Clone)]
enum Source {
    /// The JobManager REST API that anchors the cluster.
    JobManager,
    /// A standby JobManager: it reports the cluster id the first one did.
    Standby {
        standby: String,
        id: ConfigId,
        first: String,
    },
    /// `GET /jobmanager/config` names this port under `key`.
    ConfiguredPort {
        key: &'static str,
        port: u16,
        jobmanager: String,
    },
    /// `GET /taskmanagers` lists a TaskManager with this port.
    TaskManagerListing {
        jobmanager: String,
        taskmanager: String,
        port: TaskManagerPort,
    },
    /// A HistoryServer archives a job the JobManager ran.
    ArchivedJob {
        job: String,
        jobmanager: String,
    },
    SameHostAsJobManager {
        jobmanager: String,
    },
    SameHostAsTaskManager {
        jobmanager: String,
        taskmanager: String,
    },
}

impl Source {
    fn link(&self) -> Link {
        match self {
            Source::JobManager | Source::Standby { .. } => Link::Itself,
            Source::ConfiguredPort { .. }
            | Source::TaskManagerListing { .. }
            | Source::ArchivedJob { .. } => Link::Listed,
            Source::SameHostAsJobManager { .. } => Link::SameHostAsJobManager,
            Source::SameHostAsTaskManager { .. } => Link::SameHostAsTaskManager,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::JobManager => {
                f.write_str("the JobManager REST API itself (GET /config and GET /overview)")
            }
            Source::Standby { standby, id, first } => write!(
                f,
                "JobManager at {standby} reports the same {} = {} as {first}",
                id.key, id.value
            ),
            Source::ConfiguredPort {
                key,
                port,
                jobmanager,
            } => write!(
                f,
                "port {port} is {key} in GET /jobmanager/config of {jobmanager}"
            ),
            Source::TaskManagerListing {
                jobmanager,
                taskmanager,
                port,
            } => write!(
                f,
                "GET /taskmanagers of {jobmanager} lists TaskManager {taskmanager} with this {} port",
                port.name()
            ),
            Source::ArchivedJob { job, jobmanager } => write!(
                f,
                "archives job {job}, which GET /jobs/overview of the JobManager at {jobmanager} also lists"
            ),
            Source::SameHostAsJobManager { jobmanager } => {
                write!(f, "same host as the JobManager REST API at {jobmanager}")
            }
            Source::SameHostAsTaskManager {
                jobmanager,
                taskmanager,
            } => write!(
                f,
                "same host as TaskManager {taskmanager}, listed by GET /taskmanagers of {jobmanager}"
            ),
        }
    }
}

/// The ports `GET /taskmanagers` names for each TaskManager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskManagerPort {
    Rpc,
    Data,
    Jmx,
}

impl TaskManagerPort {
    fn of(tm: &TaskManagerRef) -> [(TaskManagerPort, Option<u16>); 3] {
        [
            (TaskManagerPort::Rpc, tm.rpc_port),
            (TaskManagerPort::Data, tm.data_port),
            (TaskManagerPort::Jmx, tm.jmx_port),
        ]
    }

    fn name(self) -> &'static str {
        match self {
            TaskManagerPort::Rpc => "rpc",
            TaskManagerPort::Data => "data",
            TaskManagerPort::Jmx => "jmx",
        }
    }

    fn role(self) -> Role {
        match self {
            TaskManagerPort::Rpc => Role::TaskmanagerRpc,
            TaskManagerPort::Data => Role::TaskmanagerData,
            TaskManagerPort::Jmx => Role::TaskmanagerJmx,
        }
    }
}

/// One group's claim on a service.
#[derive(Debug, Clone)]
struct Claim {
    group: usize,
    source: Source,
}

/// A cluster in the making, around one anchor service.
pub(super) struct Group {
    /// A JobManager, SQL Gateway, HistoryServer or host.
    pub anchor: Anchor,
    pub anchor_service: usize,
    pub cluster_id: Option<ConfigId>,
    pub not_scanned: Vec<KnownPort>,
    /// Its services (indexes into the report's services), the role of
    /// each and why it belongs, in no particular order.
    pub members: Vec<(usize, Role, String)>,
}

/// Group the Flink services of a report, standbys merged. `swept(ip,
/// port)` says whether the scan certainly probed that endpoint.
pub(super) fn group(services: &[Service], swept: &dyn Fn(IpAddr, u16) -> bool) -> Vec<Group> {
    let mut g = Grouping::new(services);
    for j in g.order.clone() {
        if services[j].kind == ServiceKind::JobmanagerRest {
            g.claim_for_jobmanager(j, swept);
        }
    }
    g.claim_archiving_history_servers();
    g.merge_standbys();
    g.assign_strongest_claims();
    g.anchor_unclaimed_gateways_and_history_servers();
    g.assign_the_rest_by_host();
    g.finish()
}

/// The state the phases of [`group`] share.
struct Grouping<'a> {
    services: &'a [Service],
    /// The Flink services, by endpoint.
    order: Vec<usize>,
    // Indexes, so a scan with many thousands of ports stays linear.
    by_host: HashMap<HostKey, Vec<usize>>,
    by_endpoint: HashMap<(HostKey, u16), usize>,
    groups: Vec<Group>,
    claims: BTreeMap<usize, Vec<Claim>>,
    /// Per group: the group it became part of (itself unless a standby).
    merged_into: Vec<usize>,
    /// Per service: its group and why.
    assigned: BTreeMap<usize, (usize, String)>,
}

impl<'a> Grouping<'a> {
    fn new(services: &'a [Service]) -> Grouping<'a> {
        // Platforms (YARN, the Kubernetes operator) are grouped by `super::platforms`.
        let mut order: Vec<usize> = (0..services.len())
            .filter(|&i| services[i].flink && !services[i].kind.is_platform())
            .collect();
        order.sort_by(|&a, &b| services[a].endpoint.cmp(&services[b].endpoint));
        let mut by_host: HashMap<HostKey, Vec<usize>> = HashMap::new();
        let mut by_endpoint: HashMap<(HostKey, u16), usize> = HashMap::new();
        for &i in &order {
            let e = &services[i].endpoint;
            by_host.entry(e.host_key()).or_default().push(i);
            by_endpoint.entry((e.host_key(), e.port)).or_insert(i);
        }
        Grouping {
            services,
            order,
            by_host,
            by_endpoint,
            groups: Vec::new(),
            claims: BTreeMap::new(),
            merged_into: Vec::new(),
            assigned: BTreeMap::new(),
        }
    }

    fn on_host(&self, host: &HostKey) -> Vec<usize> {
        self.by_host.get(host).cloned().unwrap_or_default()
    }

    fn claim(&mut self, service: usize, group: usize, source: Source) {
        // Most services have one claim: a default Vec would make room for
        // four (over 500 bytes a service on a scan of many thousand).
        self.claims
            .entry(service)
            .or_insert_with(|| Vec::with_capacity(1))
            .push(Claim { group, source });
    }

    fn new_group(&mut self, anchor: Anchor, anchor_service: usize) -> usize {
        let g = self.groups.len();
        self.groups.push(Group {
            anchor,
            anchor_service,
            cluster_id: None,
            not_scanned: Vec::new(),
            members: Vec::new(),
        });
        self.merged_into.push(g);
        g
    }

    /// A JobManager's group: itself, its host, and its TaskManagers.
    fn claim_for_jobmanager(&mut self, j: usize, swept: &dyn Fn(IpAddr, u16) -> bool) {
        let jm = &self.services[j];
        let auth = jm.endpoint.place();
        let facts = jm.deployment.clone().unwrap_or_default();
        let g = self.new_group(Anchor::Jobmanager, j);
        self.groups[g].cluster_id = cluster_id_of(&facts, &auth);
        self.claim(j, g, Source::JobManager);
        self.claim_jobmanager_host(j, g, &facts);
        let mut tm_hosts: BTreeMap<IpAddr, String> = BTreeMap::new();
        for tm in &facts.taskmanagers {
            let ip: Option<IpAddr> = tm.host.parse().ok();
            self.claim_taskmanager_ports(g, &auth, tm, ip, swept);
            if let Some(ip) = ip {
                tm_hosts.entry(ip).or_insert_with(|| tm.id.clone());
            }
        }
        for (ip, tm_id) in &tm_hosts {
            self.claim_taskmanager_host(g, &auth, *ip, tm_id);
        }
    }

    /// The services on a JobManager's host: linked by its configuration
    /// when it names their port, else by the host alone.
    fn claim_jobmanager_host(&mut self, j: usize, g: usize, facts: &DeploymentFacts) {
        let jm = &self.services[j];
        let auth = jm.endpoint.place();
        for k in self.on_host(&jm.endpoint.host_key()) {
            let s = &self.services[k];
            if k == j || s.kind == ServiceKind::JobmanagerRest {
                continue;
            }
            let key = match s.kind {
                ServiceKind::Rpc => Some("jobmanager.rpc.port"),
                ServiceKind::BlobServer => Some("blob.server.port"),
                _ => None,
            };
            let port = s.endpoint.port;
            let configured = key.filter(|key| {
                let value = facts.config.get(*key).and_then(|v| v.kept());
                value.map(str::trim) == Some(&port.to_string())
            });
            let source = match configured {
                Some(key) => Source::ConfiguredPort {
                    key,
                    port,
                    jobmanager: auth.clone(),
                },
                None => Source::SameHostAsJobManager {
                    jobmanager: auth.clone(),
                },
            };
            self.claim(k, g, source);
        }
    }

    /// The ports a listed TaskManager has: claimed when the report holds
    /// them, else noted as not found or not scanned.
    fn claim_taskmanager_ports(
        &mut self,
        g: usize,
        auth: &str,
        tm: &TaskManagerRef,
        ip: Option<IpAddr>,
        swept: &dyn Fn(IpAddr, u16) -> bool,
    ) {
        for (kind, port) in TaskManagerPort::of(tm) {
            let Some(port) = port else { continue };
            let found = ip.and_then(|ip| self.by_endpoint.get(&(HostKey::Ip(ip), port)).copied());
            match found {
                Some(k) => self.claim(
                    k,
                    g,
                    Source::TaskManagerListing {
                        jobmanager: auth.to_string(),
                        taskmanager: tm.id.clone(),
                        port: kind,
                    },
                ),
                None => {
                    let scanned = ip.is_some_and(|ip| swept(ip, port));
                    self.groups[g].not_scanned.push(KnownPort {
                        host: tm.host.clone(),
                        port,
                        role: kind.role(),
                        source: format!("GET /taskmanagers of {auth} (TaskManager {})", tm.id),
                        status: PortStatus::of(scanned),
                    });
                }
            }
        }
    }

    /// Other services on a TaskManager's host (metrics, JMX, ...).
    fn claim_taskmanager_host(&mut self, g: usize, auth: &str, ip: IpAddr, tm_id: &str) {
        for k in self.on_host(&HostKey::Ip(ip)) {
            if matches!(
                self.services[k].kind,
                ServiceKind::JobmanagerRest | ServiceKind::SqlGateway | ServiceKind::HistoryServer
            ) {
                continue;
            }
            self.claim(
                k,
                g,
                Source::SameHostAsTaskManager {
                    jobmanager: auth.to_string(),
                    taskmanager: tm_id.to_string(),
                },
            );
        }
    }

    /// A HistoryServer that archives a job a JobManager ran reads that
    /// cluster's archive directory.
    fn claim_archiving_history_servers(&mut self) {
        for k in self.order.clone() {
            let hs = &self.services[k];
            let Some(archived) = hs.deployment.as_ref().map(|d| &d.job_ids) else {
                continue;
            };
            if hs.kind != ServiceKind::HistoryServer || archived.is_empty() {
                continue;
            }
            for g in 0..self.groups.len() {
                let jm = &self.services[self.groups[g].anchor_service];
                let ran = jm.deployment.as_ref().map(|d| &d.job_ids);
                let Some(common) = ran.and_then(|r| r.iter().find(|id| archived.contains(id)))
                else {
                    continue;
                };
                let source = Source::ArchivedJob {
                    job: common.clone(),
                    jobmanager: jm.endpoint.place(),
                };
                self.claim(k, g, source);
            }
        }
    }

    /// JobManagers that name the same deployment (high-availability
    /// standbys) are one cluster.
    fn merge_standbys(&mut self) {
        let mut first_with_id: HashMap<(String, String), usize> = HashMap::new();
        for a in 0..self.groups.len() {
            let Some(id) = self.groups[a].cluster_id.clone() else {
                continue;
            };
            let b = *first_with_id
                .entry((id.key.clone(), id.value.clone()))
                .or_insert(a);
            if b == a {
                continue;
            }
            self.merged_into[a] = b;
            let first = self.groups[b]
                .cluster_id
                .as_ref()
                .map_or("", |c| c.source.as_str());
            let source = Source::Standby {
                standby: id.source.clone(),
                first: first.to_string(),
                id,
            };
            if let Some(list) = self.claims.get_mut(&self.groups[a].anchor_service) {
                for c in list.iter_mut().filter(|c| c.group == a) {
                    c.source = source.clone();
                }
            }
            let moved = std::mem::take(&mut self.groups[a].not_scanned);
            self.groups[b].not_scanned.extend(moved);
        }
    }

    /// The strongest claim wins when it is one cluster's alone.
    fn assign_strongest_claims(&mut self) {
        for (&k, list) in &self.claims {
            let Some(best) = list.iter().map(|c| c.source.link()).max() else {
                continue;
            };
            let top: Vec<&Claim> = list.iter().filter(|c| c.source.link() == best).collect();
            let owners: BTreeSet<usize> = top.iter().map(|c| self.merged_into[c.group]).collect();
            if let ([only], Some(first)) = (
                owners.iter().copied().collect::<Vec<_>>().as_slice(),
                top.first(),
            ) {
                self.assigned.insert(k, (*only, first.source.to_string()));
            }
        }
    }

    /// What no JobManager claims: each SQL Gateway and HistoryServer is
    /// its own group.
    fn anchor_unclaimed_gateways_and_history_servers(&mut self) {
        for k in self.order.clone() {
            if self.assigned.contains_key(&k) {
                continue;
            }
            let anchor = match self.services[k].kind {
                ServiceKind::SqlGateway => Anchor::SqlGateway,
                ServiceKind::HistoryServer => Anchor::HistoryServer,
                _ => continue,
            };
            let g = self.new_group(anchor, k);
            let why = format!("the {} itself", self.services[k].kind);
            self.assigned.insert(k, (g, why));
        }
    }

    /// Other unclaimed services join the one group anchored on their host,
    /// or a group of their host.
    fn assign_the_rest_by_host(&mut self) {
        let mut anchors_on_host: HashMap<HostKey, BTreeSet<usize>> = HashMap::new();
        for (g, grp) in self.groups.iter().enumerate() {
            if self.merged_into[g] == g {
                let host = self.services[grp.anchor_service].endpoint.host_key();
                anchors_on_host.entry(host).or_default().insert(g);
            }
        }
        let mut host_groups: HashMap<HostKey, usize> = HashMap::new();
        for k in self.order.clone() {
            if self.assigned.contains_key(&k) {
                continue;
            }
            let host = self.services[k].endpoint.host_key();
            let on_host = anchors_on_host.get(&host).cloned().unwrap_or_default();
            let ambiguous = self.claims.get(&k).is_some_and(|l| !l.is_empty());
            if let ([g], false) = (
                on_host.iter().copied().collect::<Vec<_>>().as_slice(),
                ambiguous,
            ) {
                let anchor = &self.services[self.groups[*g].anchor_service];
                let why = format!(
                    "same host as the {} at {}",
                    anchor.kind,
                    anchor.endpoint.place()
                );
                self.assigned.insert(k, (*g, why));
                continue;
            }
            let g = match host_groups.get(&host) {
                Some(&g) => g,
                None => {
                    let g = self.new_group(Anchor::Host, k);
                    host_groups.insert(host, g);
                    g
                }
            };
            let why = if ambiguous {
                "same host; more than one cluster could claim it with equal evidence, so it is grouped by host"
            } else {
                "same host"
            };
            self.assigned.insert(k, (g, why.to_string()));
        }
    }

    /// The groups that stayed their own, with their members and roles.
    fn finish(mut self) -> Vec<Group> {
        for (k, (g, why)) in std::mem::take(&mut self.assigned) {
            let role = self.role_of(k);
            self.groups[g].members.push((k, role, why));
        }
        self.groups
            .into_iter()
            .enumerate()
            .filter(|(g, _)| self.merged_into[*g] == *g)
            .map(|(_, grp)| grp)
            .collect()
    }

    /// An RPC port a JobManager lists as a TaskManager's is a TaskManager's.
    fn role_of(&self, k: usize) -> Role {
        let s = &self.services[k];
        let listed_tm = self.claims.get(&k).is_some_and(|l| {
            l.iter()
                .any(|c| matches!(c.source, Source::TaskManagerListing { .. }))
        });
        match s.kind {
            ServiceKind::JobmanagerRest => Role::JobmanagerRest,
            ServiceKind::Rpc if listed_tm => Role::TaskmanagerRpc,
            ServiceKind::Rpc => Role::Rpc,
            ServiceKind::BlobServer => Role::BlobServer,
            ServiceKind::TaskmanagerData => Role::TaskmanagerData,
            ServiceKind::HistoryServer => Role::HistoryServer,
            ServiceKind::SqlGateway => Role::SqlGateway,
            ServiceKind::PrometheusReporter => Role::Metrics,
            ServiceKind::JmxRmi => Role::Jmx,
            _ if is_mtls_internal(s) => Role::RpcOrBlobMtls,
            _ => Role::Other,
        }
    }
}

fn cluster_id_of(facts: &DeploymentFacts, source: &str) -> Option<ConfigId> {
    CLUSTER_ID_KEYS.iter().find_map(|(key, _)| {
        // A withheld value names nothing.
        let value = facts.config.get(*key)?.kept()?.trim();
        // Flink's defaults are shared by every cluster that did not set one.
        if value.is_empty() || matches!(value, "/default" | "default") {
            return None;
        }
        Some(ConfigId {
            key: key.to_string(),
            value: value.to_string(),
            source: source.to_string(),
        })
    })
}

/// A port that demands a client certificate next to Flink: in practice
/// RPC or BLOB under internal SSL (see `hosts::correlate`).
pub(super) fn is_mtls_internal(s: &Service) -> bool {
    s.kind == ServiceKind::Unknown
        && s.flink
        && s.tls.as_ref().is_some_and(|t| t.client_cert_required)
}
