//! Follow: probe the ports an identified service names (a JobManager's
//! TaskManagers on ephemeral RPC, data and JMX ports, its metrics
//! reporters, its own RPC and BLOB ports), so one scan of a range covers
//! the ports no sweep list holds.
//!
//! The hand-off is generic: anything identification learns can name
//! endpoints ([`named_by`]); [`Scope`] admits only hosts inside the target
//! space and not excluded (an address the user asked to scan, or a target
//! name), never any other host, and only ports the sweep does not already
//! probe. The [`Book`] admits them as the naming service is identified,
//! each host and port once and within budgets: [`MAX_PER_SOURCE`] for one
//! naming service, [`MAX_PER_HOST`] on one host, [`MAX_FOLLOWED`] in all,
//! so one hostile JobManager cannot take the whole scan's share. Admitted
//! endpoints are connected to once each; open ones are identified and
//! checked like swept ports. One round: what a followed port names is not
//! followed. `--no-follow` turns it off. See docs/platforms.md and the
//! README's "Ports the JobManager names" section.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use crate::model::{DecidedBy, Endpoint, HostKey, Notice, PortDecision, Service, ServiceKind};
use crate::net::{self, RetryPolicy};
use crate::state::{FollowStatus, FollowedEntry, Forgery, Tracker};
use crate::targets::TargetSpace;

/// Endpoints one scan follows at most; more are left as "not scanned".
pub const MAX_FOLLOWED: usize = 4096;
/// Ports followed on one host at most, whoever names them: a JobManager
/// listing hundreds of TaskManagers on one address, each with other
/// ports, does not turn follow into a port scan of that host. A host
/// with several TaskManagers (3 ports each) and two reporter ranges
/// (16 each) stays well under it.
pub const MAX_PER_HOST: usize = 64;
/// Endpoints followed from what one service (a JobManager, a YARN
/// ResourceManager) names: a cluster of 64 TaskManagers with three ports
/// each and a reporter port fits; a JobManager naming thousands leaves
/// most of [`MAX_FOLLOWED`] to the other clusters of the scan.
pub const MAX_PER_SOURCE: usize = 256;
/// Ports taken from one configured port range (`9250-9260`).
const MAX_RANGE_PORTS: u16 = 16;
/// Follow-up connections in flight at once.
const CONCURRENCY: usize = 64;

/// A port some service names, and who named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedEndpoint {
    /// An address or a name, as the naming service wrote it.
    pub host: String,
    pub port: u16,
    /// `taskmanager-rpc`, `taskmanager-data`, `taskmanager-jmx`,
    /// `metrics-reporter`, `jobmanager-rpc`, `blob-server`, and a YARN
    /// application's `jobmanager-rest`.
    pub role: &'static str,
}

/// The endpoints a service names. A JobManager names its TaskManagers'
/// ports (`GET /taskmanagers`), its own RPC and BLOB ports and the metric
/// reporters' ports (`GET /jobmanager/config`; a reporter runs in every
/// Flink process, so on the JobManager's host and every TaskManager's).
/// A YARN ResourceManager names its Flink applications' JobManagers.
pub fn named_by(service: &Service) -> Vec<NamedEndpoint> {
    let mut out = Vec::new();
    // A ResourceManager names each Flink application's JobManager REST
    // (`amRPCAddress`, see `crate::identify::yarn`).
    if service.kind == ServiceKind::YarnResourcemanager {
        return service
            .yarn
            .as_ref()
            .map(|y| crate::identify::yarn::named_endpoints(y))
            .unwrap_or_default()
            .into_iter()
            .map(|(t, _)| NamedEndpoint {
                host: t.host,
                port: t.port,
                role: "jobmanager-rest",
            })
            .collect();
    }
    let Some(facts) = &service.deployment else {
        return out;
    };
    if service.kind != ServiceKind::JobmanagerRest {
        return out;
    }
    let jm_host = match service.endpoint.proxy_name() {
        Some(name) => name.to_string(),
        None => service.endpoint.ip.to_string(),
    };
    // Behind a reverse proxy the endpoint's address is the proxy's, not
    // the JobManager's: its own ports are not on that host.
    let behind_proxy = service.endpoint.base_path.is_some();
    let mut hosts = if behind_proxy {
        Vec::new()
    } else {
        vec![jm_host.clone()]
    };
    for tm in &facts.taskmanagers {
        for (port, role) in [
            (tm.rpc_port, "taskmanager-rpc"),
            (tm.data_port, "taskmanager-data"),
            (tm.jmx_port, "taskmanager-jmx"),
        ] {
            if let Some(port) = port {
                out.push(NamedEndpoint {
                    host: tm.host.clone(),
                    port,
                    role,
                });
            }
        }
        if !hosts.contains(&tm.host) {
            hosts.push(tm.host.clone());
        }
    }
    for (key, role) in [
        ("jobmanager.rpc.port", "jobmanager-rpc"),
        ("blob.server.port", "blob-server"),
    ] {
        if let Some(port) = facts
            .config
            .get(key)
            .and_then(|v| v.kept())
            .and_then(|v| v.trim().parse().ok())
        {
            if port > 0 && !behind_proxy {
                out.push(NamedEndpoint {
                    host: jm_host.clone(),
                    port,
                    role,
                });
            }
        }
    }
    // Flink's metric reporters documentation: `port` is one port or a
    // range (`9250-9260`), each process on a host taking the next free one.
    for key in METRICS_PORT_KEYS {
        let Some(ports) = facts
            .config
            .get(*key)
            .and_then(|v| v.kept())
            .and_then(port_range)
        else {
            continue;
        };
        for host in &hosts {
            for &port in &ports {
                out.push(NamedEndpoint {
                    host: host.clone(),
                    port,
                    role: "metrics-reporter",
                });
            }
        }
    }
    out
}

/// The reporter port keys the JobManager's configuration shows
/// (`crate::flink_rest::CONFIG_KEYS` keeps them).
pub const METRICS_PORT_KEYS: &[&str] = &["metrics.reporter.prom.port", "metrics.reporter.jmx.port"];

/// `9249` or `9250-9260` (at most [`MAX_RANGE_PORTS`] of it).
fn port_range(text: &str) -> Option<Vec<u16>> {
    let text = text.trim();
    let (lo, hi) = match text.split_once('-') {
        Some((a, b)) => (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?),
        None => {
            let p = text.parse::<u16>().ok()?;
            (p, p)
        }
    };
    if lo == 0 || hi < lo {
        return None;
    }
    let hi = hi.min(lo.saturating_add(MAX_RANGE_PORTS - 1));
    Some((lo..=hi).collect())
}

/// Which named endpoints this scan may probe.
pub struct Scope {
    pub space: Arc<TargetSpace>,
}

impl Scope {
    /// The endpoints to probe for `named`: on a host inside the target
    /// space (an address in it, or a target's name), on a port the sweep
    /// does not probe there already. Nothing for any other host.
    pub fn admit(&self, named: &NamedEndpoint) -> Vec<Endpoint> {
        let port = named.port;
        if let Ok(ip) = named.host.parse::<IpAddr>() {
            // `::ffff:10.0.0.5` is `10.0.0.5`: one host, one key, one cap.
            let ip = ip.to_canonical();
            let inside =
                followable(ip) && self.space.covers(ip, None) && !self.space.covers(ip, Some(port));
            return if inside {
                vec![Endpoint::new(ip, port)]
            } else {
                Vec::new()
            };
        }
        let name = named.host.trim_end_matches('.').to_ascii_lowercase();
        if self.space.covers_name(&name, None) {
            return if self.space.covers_name(&name, Some(port)) {
                Vec::new()
            } else {
                vec![Endpoint::via_proxy(name, port)]
            };
        }
        self.space
            .addresses_of(&name)
            .into_iter()
            .map(|ip| ip.to_canonical())
            .filter(|ip| {
                followable(*ip)
                    && self.space.covers(*ip, None)
                    && !self.space.covers(*ip, Some(port))
            })
            .map(|ip| {
                let mut e = Endpoint::new(ip, port);
                e.hostname = Some(name.clone());
                e
            })
            .collect()
    }
}

impl Scope {
    /// Whether `endpoint` is one [`Scope::admit`] gives for some name:
    /// a checkpoint's followed endpoint must be.
    fn would_admit(&self, endpoint: &Endpoint) -> bool {
        if endpoint.base_path.is_some() {
            return false;
        }
        let host = match (endpoint.proxy_name(), &endpoint.hostname) {
            (Some(name), _) => name.to_string(),
            (None, Some(name)) => name.clone(),
            (None, None) => endpoint.ip.to_string(),
        };
        let named = NamedEndpoint {
            host,
            port: endpoint.port,
            role: "checkpoint",
        };
        self.admit(&named).contains(endpoint)
    }

    /// Whether the sweep probes `endpoint`'s host and port (a service
    /// that names endpoints is one the sweep found).
    fn swept(&self, endpoint: &Endpoint) -> bool {
        match endpoint.proxy_name() {
            Some(name) => self.space.covers_name(name, Some(endpoint.port)),
            None => self.space.covers(endpoint.ip, Some(endpoint.port)),
        }
    }
}

/// Check a checkpoint's followed endpoints against the scan being resumed
/// (a checkpoint is a file anyone may edit, and these are probed): each
/// one an endpoint this scan may follow (inside its targets, not
/// excluded, not a port its sweep probes, a remote host), named by a port
/// its sweep probes, listed once and within the budgets. An error names
/// the field.
pub fn check_checkpoint(
    entries: &[FollowedEntry],
    scope: &Scope,
    follow: bool,
) -> Result<(), Forgery> {
    if !follow && !entries.is_empty() {
        return Err(Forgery::FollowedNotFollowing);
    }
    let mut ledger = Ledger::default();
    for f in entries {
        let shown = crate::untrusted::quote(&f.endpoint.place());
        if !scope.would_admit(&f.endpoint) {
            return Err(Forgery::FollowedOutside(shown));
        }
        if !scope.swept(&f.source) {
            return Err(Forgery::FollowedSource {
                endpoint: shown,
                named_by: crate::untrusted::quote(&f.source.to_string()),
            });
        }
        match ledger.take(&f.endpoint, &f.source.place()) {
            Ok(()) => {}
            Err(Refused::Seen) => return Err(Forgery::FollowedTwice(shown)),
            Err(_) => return Err(Forgery::FollowedOverBudget(shown)),
        }
    }
    Ok(())
}

/// Whether a named address can be a remote host at all: `0.0.0.0` and
/// `::` (a TaskManager that advertises its bind-all address) reach the
/// scanner's own machine, and multicast or broadcast reach many hosts.
fn followable(ip: IpAddr) -> bool {
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    !(ip.is_unspecified() || ip.is_multicast() || broadcast)
}

/// Why the [`Ledger`] did not take an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// Followed already (named twice, or by two services).
    Seen,
    Host,
    Source,
    Scan,
}

/// What one naming service was let follow, and what it was refused.
#[derive(Debug, Default, Clone, Copy)]
struct SourceUse {
    taken: usize,
    /// Refused for its own budget ([`MAX_PER_SOURCE`]).
    over: usize,
}

/// What this scan has followed: each host and port once (however it was
/// written), at most [`MAX_PER_HOST`] ports a host, [`MAX_PER_SOURCE`]
/// for one naming service, [`MAX_FOLLOWED`] in all.
#[derive(Debug, Default)]
struct Ledger {
    seen: HashSet<(HostKey, u16)>,
    per_host: HashMap<HostKey, usize>,
    /// By the naming service's place (`host:port/prefix`).
    per_source: BTreeMap<String, SourceUse>,
    /// Refused because the scan's budget was used up.
    over_scan: usize,
}

impl Ledger {
    /// Record `endpoint`, named by `source`, unless it was seen or a
    /// budget is used up.
    fn take(&mut self, endpoint: &Endpoint, source: &str) -> Result<(), Refused> {
        let key = (endpoint.host_key(), endpoint.port);
        if self.seen.contains(&key) {
            return Err(Refused::Seen);
        }
        let used = self.per_source.entry(source.to_string()).or_default();
        if used.taken >= MAX_PER_SOURCE {
            used.over += 1;
            return Err(Refused::Source);
        }
        if self.seen.len() >= MAX_FOLLOWED {
            self.over_scan += 1;
            return Err(Refused::Scan);
        }
        let on_host = self.per_host.entry(key.0.clone()).or_default();
        if *on_host >= MAX_PER_HOST {
            return Err(Refused::Host);
        }
        *on_host += 1;
        used.taken += 1;
        self.seen.insert(key);
        Ok(())
    }

    /// One notice per naming service that hit its budget, and one when the
    /// scan's was used up: the endpoints left out are the clusters' "not
    /// scanned" ones.
    fn notices(&self) -> Vec<Notice> {
        let mut out: Vec<Notice> = self
            .per_source
            .iter()
            .filter(|(_, u)| u.over > 0)
            .map(|(source, u)| Notice {
                target: source.clone(),
                message: format!(
                    "--follow: this service named more endpoints to follow than one service may \
                     use ({MAX_PER_SOURCE}); {} were followed and {} more were not (they stay \
                     \"not scanned\" in its cluster). A JobManager naming thousands of \
                     TaskManagers is worth a look",
                    u.taken, u.over
                ),
            })
            .collect();
        if self.over_scan > 0 {
            out.push(Notice {
                target: "--follow".into(),
                message: format!(
                    "the scan's budget of {MAX_FOLLOWED} followed endpoints was used up; {} more \
                     endpoints that services named were not followed (scan those hosts with \
                     their ports as targets)",
                    self.over_scan
                ),
            });
        }
        out
    }
}

/// Admits what identified services name: [`Scope`] and the [`Ledger`]'s
/// budgets, shared by the identification pool (which admits as each
/// service is identified, before its result is recorded) and the prober.
/// With `--state`, the checkpoint's tracker learns each admitted endpoint
/// (queued, probed, identified), so a resumed scan follows what the
/// killed one had admitted.
pub struct Book {
    scope: Scope,
    ledger: Mutex<Ledger>,
    tracker: Option<Arc<Tracker>>,
}

/// A checkpoint's followed endpoints, sorted by how far they got.
#[derive(Debug, Default)]
pub struct Restored {
    /// Still to probe.
    pub queued: Vec<Endpoint>,
    /// Found open, still to identify.
    pub open: Vec<Endpoint>,
    /// Probed by the run that wrote the checkpoint (open ones included).
    pub probed: Vec<Endpoint>,
}

impl Book {
    pub fn new(scope: Scope, tracker: Option<Arc<Tracker>>) -> Book {
        Book {
            scope,
            ledger: Mutex::default(),
            tracker,
        }
    }

    /// The endpoints to probe of those `source` names: inside the scope,
    /// not followed before, within the budgets.
    pub fn admit(&self, source: &Endpoint, named: &[NamedEndpoint]) -> Vec<Endpoint> {
        let place = source.place();
        let mut out = Vec::new();
        if let Ok(mut ledger) = self.ledger.lock() {
            for n in named {
                for endpoint in self.scope.admit(n) {
                    if ledger.take(&endpoint, &place).is_ok() {
                        out.push(endpoint);
                    }
                }
            }
        }
        if let (Some(t), false) = (&self.tracker, out.is_empty()) {
            t.follow_queued(source, &out);
        }
        out
    }

    /// A followed endpoint was probed (for the checkpoint).
    pub fn probed(&self, endpoint: &Endpoint, open: bool) {
        if let Some(t) = &self.tracker {
            t.follow_probed(endpoint, open);
        }
    }

    /// Take up what the checkpoint a scan resumes from had admitted (its
    /// entries were checked, [`check_checkpoint`]): they count against
    /// the budgets again and are handed back by how far they got.
    pub fn restore(&self, entries: &[FollowedEntry]) -> Restored {
        let mut out = Restored::default();
        let Ok(mut ledger) = self.ledger.lock() else {
            return out;
        };
        for f in entries {
            if ledger.take(&f.endpoint, &f.source.place()).is_err() {
                continue;
            }
            match f.status {
                FollowStatus::Queued => out.queued.push(f.endpoint.clone()),
                FollowStatus::Open => {
                    out.open.push(f.endpoint.clone());
                    out.probed.push(f.endpoint.clone());
                }
                FollowStatus::Done => out.probed.push(f.endpoint.clone()),
            }
        }
        out
    }

    /// What the budgets left out, for the report.
    pub fn notices(&self) -> Vec<Notice> {
        self.ledger.lock().map(|l| l.notices()).unwrap_or_default()
    }
}

/// Where the identification pool hands what an identified service names.
#[derive(Clone)]
pub struct Hand {
    pub book: Arc<Book>,
    pub tx: mpsc::Sender<Vec<Endpoint>>,
}

impl Hand {
    /// Admit what `service` names and pass it on to the prober.
    pub async fn named(&self, service: &Service) {
        let named = named_by(service);
        if named.is_empty() {
            return;
        }
        let admitted = self.book.admit(&service.endpoint, &named);
        if !admitted.is_empty() {
            let _ = self.tx.send(admitted).await;
        }
    }
}

/// How follow-up connections are made.
#[derive(Debug, Clone)]
pub struct FollowConfig {
    pub timeout: Duration,
    pub retries: Option<u32>,
    /// `--rate` holds for follow-up connections too.
    pub rate: Option<std::num::NonZeroU32>,
}

/// Endpoints followed so far (probed, whatever the answer): the report
/// lists them, so a closed one reads "not found", not "not scanned".
pub type Followed = Arc<Mutex<BTreeSet<Endpoint>>>;

/// Probe what `admitted_rx` hands over (endpoints the [`Book`] admitted)
/// until it closes; open ports go to `open_tx` for identification.
pub async fn run(
    cfg: FollowConfig,
    book: Arc<Book>,
    mut admitted_rx: mpsc::Receiver<Vec<Endpoint>>,
    open_tx: mpsc::Sender<(Endpoint, PortDecision)>,
    followed: Followed,
    stop: super::Stop,
) {
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = JoinSet::new();
    let limiter = cfg
        .rate
        .map(|r| governor::RateLimiter::direct(governor::Quota::per_second(r)));
    let policy = match cfg.retries {
        Some(n) => RetryPolicy::fixed(cfg.timeout, n),
        None => RetryPolicy::adaptive(cfg.timeout),
    };
    let stopped = stop.flag();
    'scan: loop {
        let batch = tokio::select! {
            b = admitted_rx.recv() => match b { Some(b) => b, None => break },
            _ = stop.stopped() => break,
        };
        for endpoint in batch {
            // A stop (--max-duration, a signal) ends following at once,
            // also while waiting for a slot or the rate limiter.
            if stopped.load(std::sync::atomic::Ordering::Relaxed) {
                break 'scan;
            }
            let permit = tokio::select! {
                p = Arc::clone(&slots).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break 'scan,
                },
                _ = stop.stopped() => break 'scan,
            };
            if let Some(l) = &limiter {
                tokio::select! {
                    _ = l.until_ready() => {}
                    _ = stop.stopped() => break 'scan,
                }
            }
            if let Ok(mut set) = followed.lock() {
                set.insert(endpoint.clone());
            }
            let open_tx = open_tx.clone();
            let book = Arc::clone(&book);
            tasks.spawn(async move {
                let deadline = tokio::time::Instant::now() + policy.timeout;
                let out = net::attempt_until_answered(
                    endpoint.dest(),
                    true,
                    &policy,
                    net::book(),
                    0,
                    deadline,
                )
                .await;
                drop(permit);
                book.probed(&endpoint, out.result.is_ok());
                if out.result.is_ok() {
                    tracing::info!(%endpoint, "followed port open");
                    let decided = PortDecision {
                        by: DecidedBy::Answered,
                        attempts: out.attempts,
                    };
                    let _ = open_tx.send((endpoint, decided)).await;
                }
            });
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeploymentFacts, TaskManagerRef};
    use crate::targets::{assemble, parse_spec, Origin, Shard};
    use std::collections::HashMap;

    fn space(targets: &[&str], excludes: &[&str]) -> TargetSpace {
        let specs = |t: &[&str]| -> Vec<_> {
            t.iter()
                .enumerate()
                .map(|(i, t)| parse_spec(t, Origin::Arg(i + 1)).unwrap())
                .collect()
        };
        let (input, _) = assemble::assemble(
            &specs(targets),
            &specs(excludes),
            &HashMap::new(),
            &[],
            assemble::Names::Local,
        )
        .unwrap();
        TargetSpace::build(input, &[8081, 6123], 1, Shard::ALL, false).unwrap()
    }

    fn jobmanager() -> Service {
        let mut s = Service::new(
            Endpoint::new("127.0.0.1".parse().unwrap(), 8081),
            ServiceKind::JobmanagerRest,
        );
        let tm = |host: &str, rpc, data| TaskManagerRef {
            id: format!("tm-{host}"),
            host: host.into(),
            rpc_port: Some(rpc),
            data_port: Some(data),
            jmx_port: None,
        };
        s.deployment = Some(Box::new(DeploymentFacts {
            taskmanagers: vec![tm("127.0.0.2", 40001, 40002), tm("192.0.2.9", 40003, 40004)],
            config: [
                ("jobmanager.rpc.port", "6123"),
                ("blob.server.port", "0"),
                ("metrics.reporter.prom.port", "9250-9251"),
            ]
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    crate::model::ConfigValue::Kept(v.to_string()),
                )
            })
            .collect(),
            ..Default::default()
        }));
        s
    }

    #[test]
    fn a_jobmanager_names_taskmanager_jobmanager_and_reporter_ports() {
        let named: Vec<(String, u16, &str)> = named_by(&jobmanager())
            .into_iter()
            .map(|n| (n.host, n.port, n.role))
            .collect();
        let want = [
            ("127.0.0.2", 40001, "taskmanager-rpc"),
            ("127.0.0.2", 40002, "taskmanager-data"),
            ("192.0.2.9", 40003, "taskmanager-rpc"),
            ("192.0.2.9", 40004, "taskmanager-data"),
            ("127.0.0.1", 6123, "jobmanager-rpc"),
            ("127.0.0.1", 9250, "metrics-reporter"),
            ("127.0.0.1", 9251, "metrics-reporter"),
            ("127.0.0.2", 9250, "metrics-reporter"),
            ("127.0.0.2", 9251, "metrics-reporter"),
            ("192.0.2.9", 9250, "metrics-reporter"),
            ("192.0.2.9", 9251, "metrics-reporter"),
        ];
        let want: Vec<(String, u16, &str)> = want
            .iter()
            .map(|(h, p, r)| (h.to_string(), *p, *r))
            .collect();
        assert_eq!(named, want);
        let mut other = jobmanager();
        other.kind = ServiceKind::HistoryServer;
        assert!(named_by(&other).is_empty());
        // Behind a reverse proxy only the TaskManagers' hosts are named.
        let mut proxied = jobmanager();
        proxied.endpoint.base_path = Some("/flink".into());
        assert!(named_by(&proxied).iter().all(|n| n.host != "127.0.0.1"));
        assert_eq!(named_by(&proxied).len(), 8);
    }

    #[test]
    fn only_hosts_inside_the_targets_and_not_excluded_are_admitted() {
        let scope = Scope {
            space: Arc::new(space(&["127.0.0.0/30", "127.0.1.1:8081"], &["127.0.0.3"])),
        };
        let admit = |host: &str, port| {
            scope.admit(&NamedEndpoint {
                host: host.into(),
                port,
                role: "taskmanager-rpc",
            })
        };
        assert_eq!(
            admit("127.0.0.2", 40001),
            [Endpoint::new("127.0.0.2".parse().unwrap(), 40001)]
        );
        // Swept already, excluded, outside, or a name no target gave.
        assert!(admit("127.0.0.2", 6123).is_empty());
        assert!(admit("127.0.0.3", 40001).is_empty());
        assert!(admit("192.0.2.9", 40001).is_empty());
        assert!(admit("127.0.0.4", 40001).is_empty());
        assert!(admit("tm.example", 40001).is_empty());
        // A host given with one port is a host the user asked to scan.
        assert_eq!(admit("127.0.1.1", 6123).len(), 1);
    }

    #[test]
    fn port_ranges_are_bounded() {
        assert_eq!(port_range("9249"), Some(vec![9249]));
        assert_eq!(port_range(" 9250-9252 "), Some(vec![9250, 9251, 9252]));
        assert_eq!(port_range("9000-65535").map(|v| v.len()), Some(16));
        for bad in ["0", "9260-9250", "x", "", "1-2-3"] {
            assert_eq!(port_range(bad), None, "{bad}");
        }
    }

    /// Addresses that are no remote host (bind-all, multicast, broadcast)
    /// are never followed, even inside the targets; an IPv4-mapped IPv6
    /// address is its IPv4 address (scope, exclusions and caps alike).
    #[test]
    fn bind_all_multicast_and_mapped_addresses() {
        let scope = Scope {
            space: Arc::new(space(
                &[
                    "0.0.0.0/30",
                    "::/126",
                    "224.0.0.1",
                    "255.255.255.255",
                    "127.0.0.0/30",
                ],
                &["127.0.0.3"],
            )),
        };
        let admit = |host: &str| {
            scope.admit(&NamedEndpoint {
                host: host.into(),
                port: 40001,
                role: "taskmanager-rpc",
            })
        };
        for never in [
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "255.255.255.255",
            "::ffff:0.0.0.0",
        ] {
            assert!(admit(never).is_empty(), "{never}");
        }
        assert_eq!(
            admit("::ffff:127.0.0.2"),
            [Endpoint::new("127.0.0.2".parse().unwrap(), 40001)]
        );
        assert!(admit("::ffff:127.0.0.3").is_empty(), "excluded");
        // Written other ways, a host is not an address in the targets:
        // names are never resolved, so these are simply not followed.
        for other in ["127.0.0.2.", "127.000.000.002", "[127.0.0.2]", "localhost"] {
            assert!(admit(other).is_empty(), "{other}");
        }
    }

    /// A JobManager naming 512 TaskManagers on one address with distinct
    /// ports gets at most MAX_PER_HOST of them probed; one host:port is
    /// followed once however often and however it is named.
    #[test]
    fn follow_is_capped_per_host_and_deduplicated() {
        let scope = Scope {
            space: Arc::new(space(&["127.0.0.0/30"], &[])),
        };
        let mut jm = jobmanager();
        if let Some(facts) = jm.deployment.as_mut() {
            facts.taskmanagers = (0..512u16)
                .map(|i| TaskManagerRef {
                    id: format!("tm{i}"),
                    host: if i % 2 == 0 {
                        "127.0.0.2"
                    } else {
                        "::ffff:127.0.0.2"
                    }
                    .into(),
                    rpc_port: Some(20000 + i),
                    data_port: Some(30000 + i / 2),
                    jmx_port: Some(20000 + i),
                })
                .collect();
        }
        let mut ledger = Ledger::default();
        let mut taken = Vec::new();
        for named in named_by(&jm) {
            for e in scope.admit(&named) {
                if ledger.take(&e, "127.0.0.1:8081").is_ok() {
                    taken.push((e.ip, e.port));
                }
            }
        }
        let on_tm_host = taken
            .iter()
            .filter(|(ip, _)| ip.to_string() == "127.0.0.2")
            .count();
        assert_eq!(on_tm_host, MAX_PER_HOST);
        let distinct: BTreeSet<_> = taken.iter().collect();
        assert_eq!(distinct.len(), taken.len(), "a host:port followed twice");
    }

    /// A stop (--max-duration, SIGINT) ends following at once, also while
    /// it waits for the rate limiter: no connection is made after it.
    #[tokio::test]
    async fn a_stop_ends_following_while_it_waits_for_the_rate() {
        let listeners: Vec<std::net::TcpListener> = (0..6)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let named: Vec<Endpoint> = listeners
            .iter()
            .map(|l| Endpoint::new("127.0.0.1".parse().unwrap(), l.local_addr().unwrap().port()))
            .collect();
        let stop = crate::scan::stop::Stop::default();
        let followed = Followed::default();
        let (named_tx, named_rx) = mpsc::channel(4);
        let (open_tx, mut open_rx) = mpsc::channel(16);
        let book = Arc::new(Book::new(
            Scope {
                space: Arc::new(space(&["127.0.0.1"], &[])),
            },
            None,
        ));
        let task = tokio::spawn(run(
            FollowConfig {
                timeout: Duration::from_secs(2),
                retries: Some(0),
                // One connection a second: the first goes at once.
                rate: std::num::NonZeroU32::new(1),
            },
            book,
            named_rx,
            open_tx,
            Arc::clone(&followed),
            stop.clone(),
        ));
        named_tx.send(named).await.unwrap();
        assert!(open_rx.recv().await.is_some());
        stop.stop(crate::scan::stop::StopReason::MaxDuration);
        task.await.unwrap();
        let mut connected = 0;
        for l in &listeners {
            l.set_nonblocking(true).unwrap();
            while l.accept().is_ok() {
                connected += 1;
            }
        }
        let followed = followed.lock().unwrap().len();
        assert_eq!(
            connected, followed,
            "every connection is listed as followed"
        );
        assert!(
            connected < listeners.len(),
            "{connected} connections after the stop"
        );
    }

    /// One JobManager naming thousands of endpoints gets MAX_PER_SOURCE of
    /// them; another service still gets its own, and the notice names the
    /// one that hit its budget.
    #[test]
    fn one_source_cannot_take_the_scans_budget() {
        let book = Book::new(
            Scope {
                space: Arc::new(space(&["127.0.0.0/16"], &[])),
            },
            None,
        );
        let hostile = Endpoint::new("127.0.0.1".parse().unwrap(), 8081);
        let other = Endpoint::new("127.0.0.2".parse().unwrap(), 8081);
        let named: Vec<NamedEndpoint> = (0..8000u32)
            .map(|i| NamedEndpoint {
                host: format!("127.0.{}.{}", 10 + i / 200, i % 200),
                port: 40000 + (i % 60) as u16,
                role: "taskmanager-rpc",
            })
            .collect();
        assert_eq!(book.admit(&hostile, &named).len(), MAX_PER_SOURCE);
        // Named again (a second listing): nothing more.
        assert!(book.admit(&hostile, &named).is_empty());
        let tm = NamedEndpoint {
            host: "127.0.0.3".into(),
            port: 40001,
            role: "taskmanager-rpc",
        };
        assert_eq!(
            book.admit(&other, std::slice::from_ref(&tm)),
            [Endpoint::new("127.0.0.3".parse().unwrap(), 40001)]
        );
        let notices = book.notices();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert_eq!(notices[0].target, "127.0.0.1:8081");
        assert!(
            notices[0].message.contains("256 were followed"),
            "{notices:?}"
        );

        // Many sources together still stop at the scan's budget.
        let mut total = MAX_PER_SOURCE + 1;
        for n in 0..40u16 {
            let source = Endpoint::new("127.0.0.5".parse().unwrap(), 1000 + n);
            let named: Vec<NamedEndpoint> = (0..300u32)
                .map(|i| NamedEndpoint {
                    host: format!("127.0.{}.{}", 100 + n, i % 250),
                    port: 40000 + (i / 250) as u16,
                    role: "taskmanager-rpc",
                })
                .collect();
            total += book.admit(&source, &named).len();
        }
        assert_eq!(total, MAX_FOLLOWED);
        assert!(book.notices().iter().any(|n| n.target == "--follow"));
    }
}
