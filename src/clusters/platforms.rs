//! The platforms Flink runs on, in the cluster view: a YARN
//! ResourceManager and each Flink application it runs (a cluster whose id
//! is its `yarn.application.id`), the Flink Kubernetes Operator's
//! surfaces on a host, and the clusters the operator deployed (known from
//! the keys it writes into their configuration).
//!
//! Called by [`super::build`] after the Flink clusters are made;
//! pure and deterministic like it, so `merge` gives the same view.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;

use super::{
    id_safe, Anchor, AttackPath, Cluster, ConfigId, KnownPort, Member, PathStep, PortStatus,
    PostureItem, PostureStatus, Role,
};
use crate::checks::rule_ids;
use crate::model::{ConfigValue, Finding, HostKey, Service, ServiceKind, Severity, YarnApp};
use crate::untrusted;

/// The key the Flink Kubernetes Operator sets on every cluster it deploys
/// (`FlinkConfigBuilder.FLINK_VERSION` in apache/flink-kubernetes-operator).
pub const OPERATOR_MARKER: &str = "$internal.flink.version";
pub use crate::flink_rest::{note_operator_keys, OPERATOR_KEYS};

/// Who deployed a cluster, by its configuration: the operator (its keys),
/// or native Kubernetes (`kubernetes.cluster-id` alone).
pub fn managed_by(config: &BTreeMap<String, ConfigValue>) -> Option<String> {
    let ns = config
        .get("kubernetes.namespace")
        .and_then(ConfigValue::kept)
        .map(|n| format!(", namespace {}", untrusted::clean(n, 63)))
        .unwrap_or_default();
    if config.contains_key(OPERATOR_MARKER) || config.contains_key(OPERATOR_KEYS) {
        let why = if config.contains_key(OPERATOR_MARKER) {
            OPERATOR_MARKER
        } else {
            OPERATOR_KEYS
        };
        return Some(format!(
            "Flink Kubernetes Operator{ns} ({why} in /jobmanager/config)"
        ));
    }
    config
        .contains_key("kubernetes.cluster-id")
        .then(|| format!("Kubernetes (native){ns}"))
}

/// The posture item's title and fix (written once, used by
/// `crate::clusters::posture` and for YARN applications seen through a proxy).
pub const K8S_REST_TITLE: &str = "REST service kept inside the Kubernetes cluster network";
pub const K8S_REST_FIX: &str = "kubernetes.rest-service.exposed.type: ClusterIP, and an authenticating Ingress or proxy where users need the UI";

/// How a Kubernetes cluster publishes its REST API
/// (`kubernetes.rest-service.exposed.type`): `ClusterIP` keeps it inside the
/// cluster network; `NodePort` and `LoadBalancer` put it outside. `None`
/// for a cluster not on Kubernetes.
pub fn rest_exposure(config: &BTreeMap<String, ConfigValue>) -> Option<(PostureStatus, String)> {
    let on_k8s = config.contains_key("kubernetes.cluster-id")
        || config.contains_key(OPERATOR_MARKER)
        || config.contains_key("kubernetes.rest-service.exposed.type");
    if !on_k8s {
        return None;
    }
    let key = "kubernetes.rest-service.exposed.type";
    Some(match config.get(key).map(|v| v.kept().map(str::trim)) {
        Some(Some(v))
            if v.eq_ignore_ascii_case("ClusterIP") || v.eq_ignore_ascii_case("Headless_ClusterIP") =>
        {
            (PostureStatus::Pass, format!("{key}: {v} in /jobmanager/config"))
        }
        Some(Some(v)) if v.eq_ignore_ascii_case("NodePort") || v.eq_ignore_ascii_case("LoadBalancer") => (
            PostureStatus::Fail,
            format!(
                "{key}: {} in /jobmanager/config: the REST API is published outside the cluster network",
                untrusted::clean(v, 32)
            ),
        ),
        Some(Some(v)) => (
            PostureStatus::Unknown,
            format!("{key}: {} in /jobmanager/config", untrusted::clean(v, 32)),
        ),
        Some(None) => (
            PostureStatus::Unknown,
            format!("{key} in /jobmanager/config, its value not kept"),
        ),
        // The operator sets ClusterIP unless told otherwise; native
        // Kubernetes has defaulted to ClusterIP since Flink 1.15.
        None => (
            PostureStatus::Unknown,
            format!("{key} not in /jobmanager/config (the default is ClusterIP since Flink 1.15, LoadBalancer before)"),
        ),
    })
}

/// [`rest_exposure`] as a posture item.
pub fn rest_exposure_posture(config: &BTreeMap<String, ConfigValue>) -> Option<PostureItem> {
    let (status, evidence) = rest_exposure(config)?;
    Some(PostureItem {
        id: "k8s-rest-service".into(),
        title: K8S_REST_TITLE.into(),
        status,
        evidence,
        findings: Vec::new(),
        fix: K8S_REST_FIX.into(),
    })
}

/// Who named a cluster's `not_scanned` ports: its JobManager, or for a YARN
/// application the ResourceManager's listing.
pub fn known_from(c: &Cluster) -> &'static str {
    if c.anchor == Anchor::YarnApplication {
        "ResourceManager"
    } else {
        "JobManager"
    }
}

/// Add the platforms' clusters to `clusters`, mark operator-deployed ones,
/// and give the platforms' findings their cluster.
pub fn extend(
    services: &[Service],
    findings: &mut [Finding],
    clusters: &mut Vec<Cluster>,
    swept: &dyn Fn(IpAddr, u16) -> bool,
) {
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    let mut rms: Vec<&Service> = services
        .iter()
        .filter(|s| s.flink && s.kind == ServiceKind::YarnResourcemanager)
        .collect();
    rms.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
    for rm in rms {
        let auth = rm.endpoint.authority();
        let own: Vec<&Finding> = findings
            .iter()
            .filter(|f| *f.endpoint == rm.endpoint && !f.is_fixed())
            .collect();
        let id = format!("yarn-rm:{}", id_safe(&auth));
        owner.insert(auth.clone(), id.clone());
        let facts = rm.yarn.clone().unwrap_or_default();
        let kerberos = facts.http_authentication.is_some();
        let mut c = empty_cluster(
            id,
            format!(
                "YARN ResourceManager {auth}{}{}",
                if kerberos {
                    " behind Kerberos (SPNEGO)"
                } else {
                    ""
                },
                facts
                    .hadoop_version
                    .as_deref()
                    .map(|v| format!(" (Hadoop {v})"))
                    .unwrap_or_default()
            ),
            Anchor::YarnResourcemanager,
        );
        // `version` is Flink's in every report; Hadoop's is in the name.
        c.hosts = vec![rm.endpoint.host_key().to_string()];
        let why = if kerberos {
            "the ResourceManager itself, known from its refusal (GET /ws/v1/cluster/info: \
             Hadoop's SPNEGO filter on a ResourceManager web port)"
        } else {
            "the ResourceManager itself (GET /ws/v1/cluster/info)"
        };
        c.members = vec![member(rm, Role::YarnResourcemanager, why.into())];
        c.findings = own.iter().map(|f| f.id()).collect();
        // With Hadoop security on, anonymous writes are refused: no path.
        if facts.security.as_deref() != Some("kerberos") {
            c.paths = rm_paths(&own, facts.apps_listed);
        }
        c.rating = rating(&c.paths, &own);
        clusters.push(c);
        for app in &facts.apps {
            yarn_application(rm, app, &own, clusters, swept);
        }
    }
    operators(services, findings, clusters, &mut owner);
    for f in findings.iter_mut() {
        if let Some(id) = owner.get(&f.endpoint.authority()) {
            f.cluster = Some(id.as_str().into());
        }
    }
}

fn empty_cluster(id: String, name: String, anchor: Anchor) -> Cluster {
    Cluster {
        id,
        name,
        anchor,
        cluster_id: None,
        rating: None,
        version: None,
        hosts: Vec::new(),
        members: Vec::new(),
        managed_by: None,
        not_scanned: Vec::new(),
        findings: Vec::new(),
        paths: Vec::new(),
        posture: Vec::new(),
        unchecked: Vec::new(),
        jobs: None,
    }
}

fn member(s: &Service, role: Role, evidence: String) -> Member {
    Member {
        endpoint: s.endpoint.authority(),
        kind: s.kind,
        role,
        tls: s.tls.is_some(),
        evidence,
    }
}

fn rating(paths: &[AttackPath], findings: &[&Finding]) -> Option<Severity> {
    paths
        .first()
        .map(|p| p.severity)
        .or_else(|| findings.iter().map(|f| f.severity).max())
}

fn ids_of(findings: &[&Finding], rule: &str) -> Vec<String> {
    findings
        .iter()
        .filter(|f| &*f.rule_id == rule)
        .map(|f| f.id())
        .collect()
}

fn rm_paths(own: &[&Finding], apps: Option<usize>) -> Vec<AttackPath> {
    let open = ids_of(own, rule_ids::YARN_RM_UNAUTHENTICATED);
    let Some(first) = own
        .iter()
        .find(|f| &*f.rule_id == rule_ids::YARN_RM_UNAUTHENTICATED)
    else {
        return Vec::new();
    };
    let apps = apps
        .map(|n| format!(" ({n} Flink application(s) listed)"))
        .unwrap_or_default();
    vec![AttackPath {
        rank: 1,
        severity: first.severity,
        title: "Code execution on the YARN cluster through the unauthenticated ResourceManager".into(),
        impact: format!("Commands in containers on the cluster's NodeManagers, next to every Flink application{apps}, their data and credentials"),
        steps: vec![
            PathStep {
                action: format!("Reach the ResourceManager REST API at {} without credentials", first.endpoint.authority()),
                findings: open.clone(),
            },
            PathStep {
                action: "POST /ws/v1/cluster/apps/new-application, then POST /ws/v1/cluster/apps with a container command".into(),
                findings: open.clone(),
            },
            PathStep {
                action: "A NodeManager runs the command as the application's user".into(),
                findings: open,
            },
        ],
    }]
}

/// Which clusters [`extend`] may still change: those a ResourceManager's
/// Flink application joins (by its id or its tracking address, as
/// [`yarn_application`] looks for them).
pub struct Extends {
    ids: HashSet<String>,
    tracking: HashSet<String>,
}

impl Extends {
    pub fn of(services: &[Service]) -> Extends {
        let apps = services
            .iter()
            .filter(|s| s.flink && s.kind == ServiceKind::YarnResourcemanager)
            .filter_map(|s| s.yarn.as_ref())
            .flat_map(|y| &y.apps);
        let mut out = Extends {
            ids: HashSet::new(),
            tracking: HashSet::new(),
        };
        for app in apps {
            out.ids.insert(format!("yarn:{}", id_safe(&app.id)));
            if let Some(t) = &app.tracking {
                out.tracking.insert(t.to_string());
            }
        }
        out
    }

    pub fn may_extend(&self, c: &Cluster) -> bool {
        self.ids.contains(&c.id)
            || (c.anchor == Anchor::Jobmanager
                && c.members
                    .iter()
                    .any(|m| self.tracking.contains(&m.endpoint)))
    }
}

/// One Flink application of a ResourceManager: joined to the cluster of
/// its own JobManager when the scan found it (by `yarn.application.id`
/// or by its tracking address), else a cluster of its own.
fn yarn_application(
    rm: &Service,
    app: &YarnApp,
    rm_findings: &[&Finding],
    clusters: &mut Vec<Cluster>,
    swept: &dyn Fn(IpAddr, u16) -> bool,
) {
    let rm_auth = rm.endpoint.authority();
    let id = format!("yarn:{}", id_safe(&app.id));
    let proxied = app.proxied.as_ref().filter(|p| p.flink);
    let evidence = match proxied {
        Some(p) => format!(
            "listed by GET /ws/v1/cluster/apps of {rm_auth}; GET /proxy/{}/config answered Flink's dashboard configuration{}",
            app.id,
            p.version
                .as_deref()
                .map(|v| format!(" (Flink {v})"))
                .unwrap_or_default()
        ),
        None => format!(
            "listed by GET /ws/v1/cluster/apps of {rm_auth} (application type Apache Flink){}",
            app.proxied
                .as_ref()
                .and_then(|p| p.note.as_deref())
                .map(|n| format!("; through the proxy: {n}"))
                .unwrap_or_default()
        ),
    };
    let proxy_member = Member {
        endpoint: format!("{rm_auth}/proxy/{}/", app.id),
        kind: ServiceKind::JobmanagerRest,
        role: Role::JobmanagerRestViaYarnProxy,
        tls: rm.tls.is_some(),
        evidence,
    };
    let tracking = app.tracking.as_ref().map(|t| t.to_string());
    let existing = clusters.iter().position(|c| {
        c.id == id
            || tracking.as_ref().is_some_and(|t| {
                c.anchor == Anchor::Jobmanager && c.members.iter().any(|m| &m.endpoint == t)
            })
    });
    let proxy_findings: Vec<String> = [
        rule_ids::YARN_PROXY_REST_EXPOSED,
        rule_ids::YARN_RM_UNAUTHENTICATED,
    ]
    .iter()
    .flat_map(|r| ids_of(rm_findings, r))
    .collect();
    let paths = app_paths(app, rm_findings);
    if let Some(i) = existing {
        let c = &mut clusters[i];
        c.members.push(proxy_member);
        for f in proxy_findings {
            if !c.findings.contains(&f) {
                c.findings.push(f);
            }
        }
        let host = rm.endpoint.host_key().to_string();
        if !c.hosts.contains(&host) {
            c.hosts.push(host);
            c.hosts.sort();
        }
        c.paths.extend(paths);
        rerank(&mut c.paths);
        c.rating = c.paths.first().map(|p| p.severity).max(c.rating);
        if c.managed_by.is_none() {
            c.managed_by = Some(format!("YARN (ResourceManager {rm_auth})"));
        }
        return;
    }
    let name = if app.name.is_empty() {
        format!(
            "Flink on YARN application {} (ResourceManager {rm_auth})",
            app.id
        )
    } else {
        format!(
            "Flink on YARN application {} \"{}\" (ResourceManager {rm_auth})",
            app.id, app.name
        )
    };
    let mut c = empty_cluster(id, name, Anchor::YarnApplication);
    c.cluster_id = Some(ConfigId {
        key: "yarn.application.id".into(),
        value: app.id.clone(),
        source: format!("GET /ws/v1/cluster/apps of {rm_auth}"),
    });
    c.managed_by = Some(format!("YARN (ResourceManager {rm_auth})"));
    c.version = proxied.and_then(|p| p.version.clone());
    let mut hosts = BTreeSet::from([rm.endpoint.host_key().to_string()]);
    if let Some(t) = &app.tracking {
        hosts.insert(t.host.clone());
        let ip: Option<IpAddr> = t.host.parse().ok();
        let scanned = ip.is_some_and(|ip| swept(ip, t.port));
        c.not_scanned.push(KnownPort {
            host: t.host.clone(),
            port: t.port,
            role: Role::JobmanagerRest,
            source: format!(
                "amRPCAddress of {} in GET /ws/v1/cluster/apps of {rm_auth}",
                app.id
            ),
            status: PortStatus::of(scanned),
        });
    }
    c.hosts = hosts.into_iter().collect();
    c.members = vec![proxy_member];
    c.findings = proxy_findings;
    c.paths = paths;
    c.rating = c.paths.first().map(|p| p.severity);
    if let Some(p) = proxied {
        c.posture.extend(rest_exposure_posture(&p.config));
    }
    clusters.push(c);
}

fn app_paths(app: &YarnApp, rm_findings: &[&Finding]) -> Vec<AttackPath> {
    let proxy: Vec<&Finding> = rm_findings
        .iter()
        .copied()
        .filter(|f| &*f.rule_id == rule_ids::YARN_PROXY_REST_EXPOSED)
        .collect();
    let reached = app.proxied.as_ref().is_some_and(|p| p.flink);
    let (Some(first), true) = (proxy.first(), reached) else {
        return Vec::new();
    };
    let ids: Vec<String> = proxy.iter().map(|f| f.id()).collect();
    vec![AttackPath {
        rank: 1,
        severity: first.severity,
        title: format!("JobManager of {} read through the YARN proxy", app.id),
        impact: "The application's configuration, jobs, exceptions and logs, from anywhere that reaches the ResourceManager".into(),
        steps: vec![
            PathStep {
                action: format!(
                    "GET {}/proxy/{}/jobmanager/config (and /jobs, /jobmanager/logs) without credentials",
                    first.endpoint.authority(),
                    app.id
                ),
                findings: ids,
            },
        ],
    }]
}

fn rerank(paths: &mut [AttackPath]) {
    paths.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.steps.len().cmp(&b.steps.len()))
            .then_with(|| a.title.cmp(&b.title))
    });
    for (i, p) in paths.iter_mut().enumerate() {
        p.rank = i as u32 + 1;
    }
}

/// Operator surfaces grouped by host: one operator per host.
fn operators(
    services: &[Service],
    findings: &[Finding],
    clusters: &mut Vec<Cluster>,
    owner: &mut BTreeMap<String, String>,
) {
    let mut by_host: BTreeMap<HostKey, Vec<&Service>> = BTreeMap::new();
    for s in services.iter().filter(|s| {
        s.flink
            && matches!(
                s.kind,
                ServiceKind::K8sOperatorWebhook
                    | ServiceKind::K8sOperatorHealth
                    | ServiceKind::K8sOperatorMetrics
            )
    }) {
        by_host.entry(s.endpoint.host_key()).or_default().push(s);
    }
    for (host, mut surfaces) in by_host {
        surfaces.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
        let id = format!("k8s-operator:{}", id_safe(&host.to_string()));
        let ns = surfaces
            .iter()
            .find_map(|s| s.operator.as_ref()?.namespace.clone());
        let mut c = empty_cluster(
            id.clone(),
            format!(
                "Flink Kubernetes Operator on {host}{}",
                ns.as_deref()
                    .map(|n| format!(" (namespace {n})"))
                    .unwrap_or_default()
            ),
            Anchor::K8sOperator,
        );
        c.hosts = vec![host.to_string()];
        c.version = surfaces.iter().find_map(|s| s.version.clone());
        c.members = surfaces
            .iter()
            .map(|s| {
                let role = match s.kind {
                    ServiceKind::K8sOperatorWebhook => Role::OperatorWebhook,
                    ServiceKind::K8sOperatorHealth => Role::OperatorHealth,
                    _ => Role::OperatorMetrics,
                };
                member(s, role, format!("the operator's {} itself", s.kind))
            })
            .collect();
        let own: Vec<&Finding> = findings
            .iter()
            .filter(|f| !f.is_fixed() && surfaces.iter().any(|s| s.endpoint == *f.endpoint))
            .collect();
        c.findings = own.iter().map(|f| f.id()).collect();
        c.rating = rating(&c.paths, &own);
        for s in &surfaces {
            owner.insert(s.endpoint.authority(), id.clone());
        }
        clusters.push(c);
    }
}

/// Names the Flink clusters whose JobManager's configuration shows the
/// operator (or native Kubernetes) deployed them.
pub struct Managed<'a> {
    services: &'a [Service],
    /// The JobManagers by place (of several at one place, the last).
    by_place: super::ByPlace<()>,
}

impl<'a> Managed<'a> {
    pub fn of(services: &'a [Service]) -> Managed<'a> {
        let is_jobmanager = |s: &Service| s.kind == ServiceKind::JobmanagerRest;
        let jobmanagers = services.iter().filter(|s| is_jobmanager(s)).count();
        let indexes = (0..services.len()).filter(|&k| is_jobmanager(&services[k]));
        Managed {
            services,
            by_place: super::ByPlace::new(services, jobmanagers, indexes.map(|k| (k, ()))),
        }
    }

    pub fn mark(&self, c: &mut Cluster) {
        if c.anchor != Anchor::Jobmanager {
            return;
        }
        let config = c
            .members
            .iter()
            .filter(|m| m.kind == ServiceKind::JobmanagerRest)
            .filter_map(|m| {
                let (k, ()) = self.by_place.last(self.services, &m.endpoint)?;
                self.services[k].deployment.as_ref()
            })
            .find(|d| d.config_readable)
            .map(|d| &d.config);
        if let Some(by) = config.and_then(managed_by) {
            if by.starts_with("Flink Kubernetes Operator") {
                c.name = format!("{}, managed by the Flink Kubernetes Operator", c.name);
            }
            c.managed_by = Some(by);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, ConfigValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), ConfigValue::Kept(v.to_string())))
            .collect()
    }

    #[test]
    fn operator_clusters_are_told_by_their_keys() {
        let op = config(&[
            ("kubernetes.cluster-id", "fraud-detector"),
            ("kubernetes.namespace", "payments"),
            ("$internal.flink.version", "v1_20"),
        ]);
        let by = managed_by(&op).unwrap();
        assert!(
            by.starts_with("Flink Kubernetes Operator, namespace payments"),
            "{by}"
        );
        let native = config(&[("kubernetes.cluster-id", "x")]);
        assert_eq!(managed_by(&native).as_deref(), Some("Kubernetes (native)"));
        assert_eq!(managed_by(&config(&[("rest.port", "8081")])), None);
        let mut keys = BTreeMap::new();
        note_operator_keys(
            &[
                serde_json::json!({"key": "kubernetes.operator.reconcile.interval", "value": "60 s"}),
            ],
            &mut keys,
        );
        assert_eq!(keys.get(OPERATOR_KEYS), Some(&ConfigValue::Set));
        assert!(managed_by(&keys).unwrap().contains(OPERATOR_KEYS));
    }

    /// A JobManager under a path prefix (a URL target behind a reverse
    /// proxy) is told as operator-managed like one at the root: members are
    /// named by place, and so is the configuration looked up for them.
    #[test]
    fn a_prefixed_jobmanager_is_told_as_operator_managed() {
        use crate::model::{DeploymentFacts, Endpoint};
        let at = Endpoint::new([10, 0, 0, 9].into(), 443).under(Some("/flink".into()));
        let mut jm = Service::new(at, ServiceKind::JobmanagerRest);
        jm.flink = true;
        jm.deployment = Some(Box::new(DeploymentFacts {
            config_readable: true,
            config: config(&[("kubernetes.cluster-id", "fraud-detector")]),
            ..Default::default()
        }));
        let services = [jm];
        let clusters = crate::clusters::build(&services, &mut [], &|_, _| true);
        assert_eq!(clusters.len(), 1, "{clusters:?}");
        assert_eq!(clusters[0].members[0].endpoint, "10.0.0.9:443/flink");
        assert_eq!(
            clusters[0].managed_by.as_deref(),
            Some("Kubernetes (native)")
        );
    }

    /// The operator's advisory applies to the operator's surfaces and the
    /// operator's own versions only; a Flink version on the same host is
    /// never lent to them.
    #[test]
    fn operator_advisory_needs_the_operators_own_version() {
        use crate::advisories::{Advisories, Verdict};
        let a = Advisories::load(None).unwrap();
        let hits = |v: &str, k: ServiceKind| -> Vec<String> {
            match a.matching(v, k) {
                Verdict::Ordered { hits, .. } => {
                    hits.iter().map(|h| h.advisory.rule_id.clone()).collect()
                }
                Verdict::Unordered { .. } => Vec::new(),
            }
        };
        let cve = "FLINK-CVE-2026-40564".to_string();
        for k in [
            ServiceKind::K8sOperatorWebhook,
            ServiceKind::K8sOperatorHealth,
            ServiceKind::K8sOperatorMetrics,
        ] {
            assert!(hits("1.3.0", k).contains(&cve), "{k}");
            assert!(hits("1.14.1", k).contains(&cve), "{k}");
            assert!(!hits("1.15.0", k).contains(&cve), "{k}");
            assert!(!hits("1.2.0", k).contains(&cve), "{k}");
        }
        assert!(!hits("1.14.1", ServiceKind::JobmanagerRest).contains(&cve));
        assert!(hits("3.3.6", ServiceKind::YarnResourcemanager).is_empty());

        let ep = |port| crate::model::Endpoint::new([127, 0, 0, 9].into(), port);
        let mut jm = Service::new(ep(8081), ServiceKind::JobmanagerRest);
        jm.version = Some("1.14.1".into());
        let mut services = vec![
            jm,
            Service::new(ep(9999), ServiceKind::K8sOperatorMetrics),
            Service::new(ep(6123), ServiceKind::Rpc),
        ];
        crate::hosts::share_identity(&mut services, &mut []);
        assert_eq!(
            services[1].version, None,
            "the operator got Flink's version"
        );
        assert_eq!(services[2].version.as_deref(), Some("1.14.1"));

        // An Akka/Pekko-like RPC port next to a ResourceManager alone is not
        // corroborated: YARN is no Flink process.
        let mut rpc = Service::new(ep(6123), ServiceKind::Rpc);
        rpc.confidence = crate::identify::RPC_ALONE_CONFIDENCE;
        let mut services = vec![
            Service::new(ep(8088), ServiceKind::YarnResourcemanager),
            rpc,
        ];
        crate::hosts::share_identity(&mut services, &mut []);
        assert_eq!(
            services[1].confidence,
            crate::identify::RPC_ALONE_CONFIDENCE
        );
    }

    #[test]
    fn rest_service_exposure_is_judged() {
        let item = |v: &str| {
            rest_exposure_posture(&config(&[
                ("kubernetes.cluster-id", "x"),
                ("kubernetes.rest-service.exposed.type", v),
            ]))
            .unwrap()
            .status
        };
        assert_eq!(item("ClusterIP"), PostureStatus::Pass);
        assert_eq!(item("NodePort"), PostureStatus::Fail);
        assert_eq!(item("LoadBalancer"), PostureStatus::Fail);
        assert_eq!(item("Other"), PostureStatus::Unknown);
        assert_eq!(
            rest_exposure_posture(&config(&[("kubernetes.cluster-id", "x")])).map(|i| i.status),
            Some(PostureStatus::Unknown)
        );
        assert!(rest_exposure_posture(&config(&[("rest.port", "8081")])).is_none());
    }
}
