//! Follow: probe the ports an identified service names (a JobManager's
//! TaskManagers on ephemeral RPC, data and JMX ports, its metrics
//! reporters, its own RPC and BLOB ports), so one scan of a range covers
//! the ports no sweep list holds.
//!
//! The hand-off is generic: anything identification learns can name
//! endpoints ([`named_by`]); [`Scope`] admits only hosts inside the target
//! space and not excluded (an address the user asked to scan, or a target
//! name), never any other host, and only ports the sweep does not already
//! probe. Admitted endpoints are connected to once each (bounded in
//! number, [`MAX_FOLLOWED`]); open ones are identified and checked like
//! swept ports. One round: what a followed port names is not followed.
//! `--no-follow` turns it off. See the README's "Ports the JobManager
//! names" section.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use crate::model::{DecidedBy, Endpoint, PortDecision, Service, ServiceKind};
use crate::net::{self, RetryPolicy};
use crate::targets::TargetSpace;

/// Endpoints one scan follows at most; more are left as "not scanned".
pub const MAX_FOLLOWED: usize = 4096;
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
    /// `metrics-reporter`, `jobmanager-rpc`, `blob-server`.
    pub role: &'static str,
}

/// The endpoints a service names. A JobManager names its TaskManagers'
/// ports (`GET /taskmanagers`), its own RPC and BLOB ports and the metric
/// reporters' ports (`GET /jobmanager/config`; a reporter runs in every
/// Flink process, so on the JobManager's host and every TaskManager's).
/// Other identifications (a YARN ResourceManager's application masters)
/// add theirs here.
pub fn named_by(service: &Service) -> Vec<NamedEndpoint> {
    let mut out = Vec::new();
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
            let inside = self.space.covers(ip, None) && !self.space.covers(ip, Some(port));
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
            .filter(|ip| self.space.covers(*ip, None) && !self.space.covers(*ip, Some(port)))
            .map(|ip| {
                let mut e = Endpoint::new(ip, port);
                e.hostname = Some(name.clone());
                e
            })
            .collect()
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

/// Probe what `named_rx` hands over until it closes; open ports go to
/// `open_tx` for identification.
pub async fn run(
    scope: Scope,
    cfg: FollowConfig,
    mut named_rx: mpsc::Receiver<Vec<NamedEndpoint>>,
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
    loop {
        let batch = tokio::select! {
            b = named_rx.recv() => match b { Some(b) => b, None => break },
            _ = stop.stopped() => break,
        };
        for named in &batch {
            for endpoint in scope.admit(named) {
                let new = match followed.lock() {
                    Ok(mut set) if set.len() < MAX_FOLLOWED => set.insert(endpoint.clone()),
                    _ => false,
                };
                if !new {
                    continue;
                }
                let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                    break;
                };
                if let Some(l) = &limiter {
                    l.until_ready().await;
                }
                let open_tx = open_tx.clone();
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
        s.deployment = Some(DeploymentFacts {
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
        });
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
}
