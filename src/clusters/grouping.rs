//! Which services form one cluster, and why: every JobManager claims the
//! services its answers name or share its host, the strongest claim that is
//! one cluster's alone wins, and what nobody claims is grouped around a SQL
//! Gateway, a HistoryServer or its host.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::ops::Range;

use super::{index, Anchor, ConfigId, KnownPort, PortStatus, Role};
use crate::model::{DeploymentFacts, Endpoint, Service, ServiceKind, TaskManagerRef};

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

/// Where a claim is known from. It holds indexes, not text: the member's
/// evidence is written only when its cluster's record is made
/// ([`Evidence::describe`]), so grouping a scan of many thousand services
/// holds no string per service. `jobmanager` is the index (in the report's
/// services) of the JobManager whose answers or host link the service;
/// `taskmanager` and `job` index its TaskManager and job lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// The JobManager REST API that anchors the cluster.
    JobManager,
    /// A standby JobManager: it reports the cluster id its group's first
    /// JobManager did.
    Standby,
    /// `GET /jobmanager/config` names this port under [`configured_key`].
    ConfiguredPort {
        jobmanager: u32,
    },
    /// `GET /taskmanagers` lists a TaskManager with this port.
    TaskManagerListing {
        jobmanager: u32,
        taskmanager: u32,
        port: TaskManagerPort,
    },
    /// A HistoryServer archives a job the JobManager ran.
    ArchivedJob {
        jobmanager: u32,
        job: u32,
    },
    SameHostAsJobManager {
        jobmanager: u32,
    },
    SameHostAsTaskManager {
        jobmanager: u32,
        taskmanager: u32,
    },
}

impl Source {
    fn link(self) -> Link {
        match self {
            Source::JobManager | Source::Standby => Link::Itself,
            Source::ConfiguredPort { .. }
            | Source::TaskManagerListing { .. }
            | Source::ArchivedJob { .. } => Link::Listed,
            Source::SameHostAsJobManager { .. } => Link::SameHostAsJobManager,
            Source::SameHostAsTaskManager { .. } => Link::SameHostAsTaskManager,
        }
    }

    /// The evidence of `member`, a service of `grp` this claim won.
    fn describe(self, services: &[Service], grp: &Group, member: usize) -> String {
        let place = |k: u32| services[k as usize].endpoint.place();
        let facts = |k: u32| services[k as usize].deployment.as_deref();
        let taskmanager = |jm: u32, tm: u32| {
            let listed = facts(jm).and_then(|d| d.taskmanagers.get(tm as usize));
            listed.map_or("", |tm| tm.id.as_str())
        };
        match self {
            Source::JobManager => {
                "the JobManager REST API itself (GET /config and GET /overview)".to_string()
            }
            Source::Standby => {
                // The standby is the member; its group bears the first's id.
                let (key, value, first) = grp.cluster_id.as_deref().map_or(("", "", ""), |id| {
                    (id.key.as_str(), id.value.as_str(), id.source.as_str())
                });
                let standby = services[member].endpoint.place();
                format!("JobManager at {standby} reports the same {key} = {value} as {first}")
            }
            Source::ConfiguredPort { jobmanager } => {
                let s = &services[member];
                format!(
                    "port {} is {} in GET /jobmanager/config of {}",
                    s.endpoint.port,
                    configured_key(s.kind).unwrap_or_default(),
                    place(jobmanager)
                )
            }
            Source::TaskManagerListing {
                jobmanager,
                taskmanager: tm,
                port,
            } => format!(
                "GET /taskmanagers of {} lists TaskManager {} with this {} port",
                place(jobmanager),
                taskmanager(jobmanager, tm),
                port.name()
            ),
            Source::ArchivedJob { jobmanager, job } => format!(
                "archives job {}, which GET /jobs/overview of the JobManager at {} also lists",
                facts(jobmanager)
                    .and_then(|d| d.job_ids.get(job as usize))
                    .map_or("", String::as_str),
                place(jobmanager)
            ),
            Source::SameHostAsJobManager { jobmanager } => {
                format!(
                    "same host as the JobManager REST API at {}",
                    place(jobmanager)
                )
            }
            Source::SameHostAsTaskManager {
                jobmanager,
                taskmanager: tm,
            } => format!(
                "same host as TaskManager {}, listed by GET /taskmanagers of {}",
                taskmanager(jobmanager, tm),
                place(jobmanager)
            ),
        }
    }
}

/// Why a member belongs to its group, written out by [`Evidence::describe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Evidence {
    /// The strongest claim on it, one cluster's alone.
    Claimed(Source),
    /// A SQL Gateway or HistoryServer no JobManager claims.
    Itself,
    /// Unclaimed, on the host of its group's anchor (the only one there).
    SameHostAsAnchor,
    /// Unclaimed, grouped by its host.
    SameHost,
    /// Claimed by more than one cluster with equal evidence: grouped by host.
    Contested,
}

impl Evidence {
    /// The text a report shows for `member`, a service of `grp`.
    pub(super) fn describe(self, services: &[Service], grp: &Group, member: usize) -> String {
        match self {
            Evidence::Claimed(source) => source.describe(services, grp, member),
            Evidence::Itself => format!("the {} itself", services[member].kind),
            Evidence::SameHostAsAnchor => {
                let anchor = &services[grp.anchor_service];
                format!(
                    "same host as the {} at {}",
                    anchor.kind,
                    anchor.endpoint.place()
                )
            }
            Evidence::SameHost => "same host".to_string(),
            Evidence::Contested => "same host; more than one cluster could claim it with equal evidence, so it is grouped by host".to_string(),
        }
    }
}

/// The configuration key that names a JobManager's port of this kind.
fn configured_key(kind: ServiceKind) -> Option<&'static str> {
    match kind {
        ServiceKind::Rpc => Some("jobmanager.rpc.port"),
        ServiceKind::BlobServer => Some("blob.server.port"),
        _ => None,
    }
}

/// The ports `GET /taskmanagers` names for each TaskManager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TaskManagerPort {
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

/// One group's claim on a service (both by index).
#[derive(Debug, Clone, Copy)]
struct Claim {
    service: u32,
    group: u32,
    source: Source,
}

/// A service of a group: its index in the report's services, its role and
/// why it belongs.
#[derive(Debug, Clone, Copy)]
pub(super) struct GroupMember {
    pub service: u32,
    pub role: Role,
    pub evidence: Evidence,
}

/// A cluster in the making, around one anchor service.
pub(super) struct Group {
    /// A JobManager, SQL Gateway, HistoryServer or host.
    pub anchor: Anchor,
    pub anchor_service: usize,
    /// Boxed: most groups have none.
    pub cluster_id: Option<Box<ConfigId>>,
    pub not_scanned: Vec<KnownPort>,
    /// Its services, by ascending index.
    pub members: Vec<GroupMember>,
}

/// A service's host, told apart as [`crate::model::HostKey`] does, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum HostRef<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

fn host_of(s: &Service) -> HostRef<'_> {
    match s.endpoint.proxy_name() {
        Some(n) => HostRef::Name(n),
        None => HostRef::Ip(s.endpoint.ip),
    }
}

/// Group the Flink services of a report, standbys merged. `swept(ip,
/// port)` says whether the scan certainly probed that endpoint.
pub(super) fn group(services: &[Service], swept: &dyn Fn(IpAddr, u16) -> bool) -> Vec<Group> {
    let mut g = Grouping::new(services);
    for p in 0..g.order.len() {
        let j = g.order[p] as usize;
        if services[j].kind == ServiceKind::JobmanagerRest {
            g.claim_for_jobmanager(j, swept);
        }
    }
    g.claim_archiving_history_servers();
    g.sort_claims();
    g.merge_standbys();
    g.assign_strongest_claims();
    g.anchor_unclaimed_gateways_and_history_servers();
    g.assign_the_rest_by_host();
    g.finish()
}

/// The state the phases of [`group`] share. Everything is indexes in flat
/// vectors, found by binary search, rather than maps or text per service:
/// a scan of many thousand services stays linear-logarithmic in time and
/// small in memory.
struct Grouping<'a> {
    services: &'a [Service],
    /// The Flink services, by endpoint.
    order: Vec<u32>,
    /// The same by host ([`host_of`]), each host's in endpoint order.
    by_host: Vec<u32>,
    groups: Vec<Group>,
    /// Every claim; once all are made, sorted by service (each service's
    /// in the order they were made).
    claims: Vec<Claim>,
    /// Per group: the group it became part of (itself unless a standby).
    merged_into: Vec<u32>,
    /// Per service (index into `services`): its group and why.
    assigned: Vec<Option<(u32, Evidence)>>,
}

impl<'a> Grouping<'a> {
    fn new(services: &'a [Service]) -> Grouping<'a> {
        // Platforms (YARN, the Kubernetes operator) are grouped by `super::platforms`.
        let mut order: Vec<u32> = (0..services.len())
            .filter(|&i| services[i].flink && !services[i].kind.is_platform())
            .map(index)
            .collect();
        order.sort_by(|&a, &b| {
            services[a as usize]
                .endpoint
                .cmp(&services[b as usize].endpoint)
        });
        // A stable sort: each host's services stay in endpoint order.
        let mut by_host = order.clone();
        by_host.sort_by_key(|&k| host_of(&services[k as usize]));
        // Each JobManager makes a group; few other groups follow.
        let jobmanagers = order
            .iter()
            .filter(|&&k| services[k as usize].kind == ServiceKind::JobmanagerRest)
            .count();
        Grouping {
            services,
            order,
            by_host,
            groups: Vec::with_capacity(jobmanagers),
            claims: Vec::new(),
            merged_into: Vec::with_capacity(jobmanagers),
            assigned: vec![None; services.len()],
        }
    }

    /// Where the services of `host` are in `by_host`.
    fn on_host(&self, host: HostRef<'_>) -> Range<usize> {
        let host_at = |k: &u32| host_of(&self.services[*k as usize]);
        let start = self.by_host.partition_point(|k| host_at(k) < host);
        let end = self.by_host.partition_point(|k| host_at(k) <= host);
        start..end
    }

    /// The first Flink service (by endpoint) at `ip` and `port`.
    fn at(&self, ip: IpAddr, port: u16) -> Option<usize> {
        // The services of one address are in endpoint order: by port.
        let on_host = &self.by_host[self.on_host(HostRef::Ip(ip))];
        let port_of = |k: u32| self.services[k as usize].endpoint.port;
        let first = on_host.partition_point(|&k| port_of(k) < port);
        let k = *on_host.get(first)?;
        (port_of(k) == port).then_some(k as usize)
    }

    /// Where the claims on service `k` are in `claims`, once sorted.
    fn claims_on(&self, k: usize) -> Range<usize> {
        let k = index(k);
        let start = self.claims.partition_point(|c| c.service < k);
        let end = self.claims.partition_point(|c| c.service <= k);
        start..end
    }

    fn claim(&mut self, service: usize, group: usize, source: Source) {
        self.claims.push(Claim {
            service: index(service),
            group: index(group),
            source,
        });
    }

    /// Each service's claims side by side, in the order they were made.
    fn sort_claims(&mut self) {
        self.claims.sort_by_key(|c| c.service);
        self.claims.shrink_to_fit();
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
        self.merged_into.push(index(g));
        g
    }

    /// A JobManager's group: itself, its host, and its TaskManagers.
    fn claim_for_jobmanager(&mut self, j: usize, swept: &dyn Fn(IpAddr, u16) -> bool) {
        let jm = &self.services[j];
        let no_facts = DeploymentFacts::default();
        let facts = jm.deployment.as_deref().unwrap_or(&no_facts);
        let g = self.new_group(Anchor::Jobmanager, j);
        self.groups[g].cluster_id = cluster_id_of(facts, &jm.endpoint).map(Box::new);
        self.claim(j, g, Source::JobManager);
        self.claim_jobmanager_host(j, g, facts);
        // Each TaskManager host once, named by its first TaskManager.
        let mut tm_hosts: BTreeMap<IpAddr, usize> = BTreeMap::new();
        for (t, tm) in facts.taskmanagers.iter().enumerate() {
            let ip: Option<IpAddr> = tm.host.parse().ok();
            self.claim_taskmanager_ports(g, j, (t, tm), ip, swept);
            if let Some(ip) = ip {
                tm_hosts.entry(ip).or_insert(t);
            }
        }
        for (ip, t) in tm_hosts {
            self.claim_taskmanager_host(g, j, ip, t);
        }
    }

    /// The services on a JobManager's host: linked by its configuration
    /// when it names their port, else by the host alone.
    fn claim_jobmanager_host(&mut self, j: usize, g: usize, facts: &DeploymentFacts) {
        let services = self.services;
        for p in self.on_host(host_of(&services[j])) {
            let k = self.by_host[p] as usize;
            let s = &services[k];
            if k == j || s.kind == ServiceKind::JobmanagerRest {
                continue;
            }
            let port = s.endpoint.port.to_string();
            let configured = configured_key(s.kind).is_some_and(|key| {
                let value = facts.config.get(key).and_then(|v| v.kept());
                value.map(str::trim) == Some(port.as_str())
            });
            let jobmanager = index(j);
            let source = if configured {
                Source::ConfiguredPort { jobmanager }
            } else {
                Source::SameHostAsJobManager { jobmanager }
            };
            self.claim(k, g, source);
        }
    }

    /// The ports TaskManager `t` of JobManager `j` has: claimed when the
    /// report holds them, else noted as not found or not scanned.
    fn claim_taskmanager_ports(
        &mut self,
        g: usize,
        j: usize,
        (t, tm): (usize, &TaskManagerRef),
        ip: Option<IpAddr>,
        swept: &dyn Fn(IpAddr, u16) -> bool,
    ) {
        for (kind, port) in TaskManagerPort::of(tm) {
            let Some(port) = port else { continue };
            match ip.and_then(|ip| self.at(ip, port)) {
                Some(k) => self.claim(
                    k,
                    g,
                    Source::TaskManagerListing {
                        jobmanager: index(j),
                        taskmanager: index(t),
                        port: kind,
                    },
                ),
                None => {
                    let scanned = ip.is_some_and(|ip| swept(ip, port));
                    let auth = self.services[j].endpoint.place();
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

    /// Other services on the host of TaskManager `t` (metrics, JMX, ...).
    fn claim_taskmanager_host(&mut self, g: usize, j: usize, ip: IpAddr, t: usize) {
        for p in self.on_host(HostRef::Ip(ip)) {
            let k = self.by_host[p] as usize;
            if matches!(
                self.services[k].kind,
                ServiceKind::JobmanagerRest | ServiceKind::SqlGateway | ServiceKind::HistoryServer
            ) {
                continue;
            }
            let source = Source::SameHostAsTaskManager {
                jobmanager: index(j),
                taskmanager: index(t),
            };
            self.claim(k, g, source);
        }
    }

    /// A HistoryServer that archives a job a JobManager ran reads that
    /// cluster's archive directory.
    fn claim_archiving_history_servers(&mut self) {
        let services = self.services;
        for p in 0..self.order.len() {
            let k = self.order[p] as usize;
            let hs = &services[k];
            let Some(archived) = hs.deployment.as_ref().map(|d| &d.job_ids) else {
                continue;
            };
            if hs.kind != ServiceKind::HistoryServer || archived.is_empty() {
                continue;
            }
            for g in 0..self.groups.len() {
                let j = self.groups[g].anchor_service;
                let ran = services[j].deployment.as_ref().map(|d| &d.job_ids);
                let Some(job) = ran.and_then(|r| r.iter().position(|id| archived.contains(id)))
                else {
                    continue;
                };
                let source = Source::ArchivedJob {
                    jobmanager: index(j),
                    job: index(job),
                };
                self.claim(k, g, source);
            }
        }
    }

    /// JobManagers that name the same deployment (high-availability
    /// standbys) are one cluster.
    fn merge_standbys(&mut self) {
        let mut first_with_id: HashMap<(&str, &str), usize> = HashMap::new();
        let mut standbys: Vec<(usize, usize)> = Vec::new();
        for (a, grp) in self.groups.iter().enumerate() {
            let Some(id) = grp.cluster_id.as_deref() else {
                continue;
            };
            let b = *first_with_id.entry((&id.key, &id.value)).or_insert(a);
            if b != a {
                standbys.push((a, b));
            }
        }
        for (a, b) in standbys {
            self.merged_into[a] = index(b);
            let on = self.claims_on(self.groups[a].anchor_service);
            for c in self.claims[on].iter_mut().filter(|c| c.group as usize == a) {
                c.source = Source::Standby;
            }
            let moved = std::mem::take(&mut self.groups[a].not_scanned);
            self.groups[b].not_scanned.extend(moved);
        }
    }

    /// The strongest claim wins when it is one cluster's alone.
    fn assign_strongest_claims(&mut self) {
        for on_one in self.claims.chunk_by(|a, b| a.service == b.service) {
            let Some(best) = on_one.iter().map(|c| c.source.link()).max() else {
                continue;
            };
            let mut top = on_one.iter().filter(|c| c.source.link() == best);
            let Some(first) = top.next() else {
                continue;
            };
            let owner = self.merged_into[first.group as usize];
            if top.all(|c| self.merged_into[c.group as usize] == owner) {
                let why = Evidence::Claimed(first.source);
                self.assigned[first.service as usize] = Some((owner, why));
            }
        }
    }

    /// What no JobManager claims: each SQL Gateway and HistoryServer is
    /// its own group.
    fn anchor_unclaimed_gateways_and_history_servers(&mut self) {
        for p in 0..self.order.len() {
            let k = self.order[p] as usize;
            if self.assigned[k].is_some() {
                continue;
            }
            let anchor = match self.services[k].kind {
                ServiceKind::SqlGateway => Anchor::SqlGateway,
                ServiceKind::HistoryServer => Anchor::HistoryServer,
                _ => continue,
            };
            let g = self.new_group(anchor, k);
            self.assigned[k] = Some((index(g), Evidence::Itself));
        }
    }

    /// Other unclaimed services join the one group anchored on their host,
    /// or a group of their host.
    fn assign_the_rest_by_host(&mut self) {
        let services = self.services;
        // The groups that stayed their own, by the host of their anchor.
        let mut anchored: Vec<u32> = (0..self.groups.len())
            .filter(|&g| self.merged_into[g] as usize == g)
            .map(index)
            .collect();
        let anchor_host =
            |groups: &[Group], g: u32| host_of(&services[groups[g as usize].anchor_service]);
        anchored.sort_by_key(|&g| anchor_host(&self.groups, g));
        let mut host_groups: HashMap<HostRef<'_>, u32> = HashMap::new();
        for p in 0..self.order.len() {
            let k = self.order[p] as usize;
            if self.assigned[k].is_some() {
                continue;
            }
            let host = host_of(&services[k]);
            let start = anchored.partition_point(|&g| anchor_host(&self.groups, g) < host);
            let end = anchored.partition_point(|&g| anchor_host(&self.groups, g) <= host);
            let contested = !self.claims_on(k).is_empty();
            if let ([g], false) = (&anchored[start..end], contested) {
                self.assigned[k] = Some((*g, Evidence::SameHostAsAnchor));
                continue;
            }
            let g = match host_groups.get(&host) {
                Some(&g) => g,
                None => {
                    let g = index(self.new_group(Anchor::Host, k));
                    host_groups.insert(host, g);
                    g
                }
            };
            let why = if contested {
                Evidence::Contested
            } else {
                Evidence::SameHost
            };
            self.assigned[k] = Some((g, why));
        }
    }

    /// The groups that stayed their own, with their members and roles.
    fn finish(mut self) -> Vec<Group> {
        // Not needed any more: freed before the member lists are made.
        self.order = Vec::new();
        self.by_host = Vec::new();
        // Each list made at its size: most groups have one member.
        let mut sizes = vec![0usize; self.groups.len()];
        for (g, _) in self.assigned.iter().flatten() {
            sizes[*g as usize] += 1;
        }
        for (grp, size) in self.groups.iter_mut().zip(sizes) {
            grp.members.reserve_exact(size);
        }
        for k in 0..self.assigned.len() {
            let Some((g, evidence)) = self.assigned[k] else {
                continue;
            };
            let role = self.role_of(k);
            self.groups[g as usize].members.push(GroupMember {
                service: index(k),
                role,
                evidence,
            });
        }
        let merged_into = self.merged_into;
        self.groups
            .into_iter()
            .enumerate()
            .filter(|(g, _)| merged_into[*g] as usize == *g)
            .map(|(_, grp)| grp)
            .collect()
    }

    /// An RPC port a JobManager lists as a TaskManager's is a TaskManager's.
    fn role_of(&self, k: usize) -> Role {
        let s = &self.services[k];
        let listed_tm = self.claims[self.claims_on(k)]
            .iter()
            .any(|c| matches!(c.source, Source::TaskManagerListing { .. }));
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

/// The id a JobManager at `at` reads from its configuration.
fn cluster_id_of(facts: &DeploymentFacts, at: &Endpoint) -> Option<ConfigId> {
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
            source: at.place(),
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
