//! Which services form one cluster, and why.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use super::{attack_paths, posture, Cluster, ConfigId, KnownPort, Member};
use crate::model::{DeploymentFacts, Finding, HostKey, Service, ServiceKind};
use crate::untrusted;

/// Configuration keys that name the deployment, in order of preference.
pub const CLUSTER_ID_KEYS: &[(&str, &str)] = &[
    ("kubernetes.cluster-id", "k8s"),
    ("yarn.application.id", "yarn"),
    ("high-availability.cluster-id", "ha"),
];

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
pub(super) fn is_mtls_internal(s: &Service) -> bool {
    s.kind == ServiceKind::Unknown
        && s.flink
        && s.tls.as_ref().is_some_and(|t| t.client_cert_required)
}
