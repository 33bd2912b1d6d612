//! What one port of a host tells about the others: the version read on
//! REST, HistoryServer or SQL Gateway is the version of the RPC, BLOB and
//! TaskManager ports next to it (marked as inferred), and an Akka/Pekko RPC
//! port is Flink's for certain only next to another Flink interface.
//!
//! Pure and deterministic (no network I/O), so a scan runs it at its end
//! and `merge` runs it again over the union of shards (which split a host's
//! ports). Where a port becomes Flink's, correlation says which checks it
//! needs ([`Extra`]); the check stage runs them.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::checks::{self, CheckContext, Extra};
use crate::identify::RPC_CORROBORATED_CONFIDENCE;
use crate::model::{Finding, HostKey, RpcGeneration, Service, ServiceKind};

pub fn share_identity(services: &mut [Service], findings: &mut [Finding]) {
    // Only hosts with a port that can take something are looked at: an RPC
    // port (corroboration) or a Flink port without a version. A fleet of
    // JobManagers alone needs no table of every host.
    let wanting: HashSet<HostKey> = services
        .iter()
        .filter(|s| {
            s.kind == ServiceKind::Rpc || (s.version.is_none() && s.flink && !s.kind.is_platform())
        })
        .map(|s| s.endpoint.host_key())
        .collect();
    if wanting.is_empty() {
        return;
    }
    let mut host_version: HashMap<HostKey, (String, ServiceKind, Option<RpcGeneration>)> =
        HashMap::new();
    // Hosts with a Flink interface that no other product speaks (REST,
    // BLOB, data port, ...): they corroborate an Akka/Pekko RPC port.
    let mut corroborating: BTreeSet<HostKey> = BTreeSet::new();
    for s in services
        .iter()
        .filter(|s| wanting.contains(&s.endpoint.host_key()))
    {
        if s.flink
            && !s.kind.is_platform()
            && !matches!(
                s.kind,
                ServiceKind::Rpc | ServiceKind::JmxRmi | ServiceKind::Unknown
            )
        {
            corroborating.insert(s.endpoint.host_key());
        }
        if let (Some(v), true) = (&s.version, s.version_source.is_none()) {
            if matches!(
                s.kind,
                ServiceKind::JobmanagerRest | ServiceKind::HistoryServer | ServiceKind::SqlGateway
            ) {
                // Prefer the JobManager's own answer.
                let better = host_version
                    .get(&s.endpoint.host_key())
                    .is_none_or(|(_, k, _)| *k != ServiceKind::JobmanagerRest);
                if better {
                    host_version
                        .insert(s.endpoint.host_key(), (v.clone(), s.kind, s.rpc_generation));
                }
            }
        }
    }
    for s in services.iter_mut() {
        if s.kind == ServiceKind::Rpc && corroborating.contains(&s.endpoint.host_key()) {
            s.confidence = s.confidence.max(RPC_CORROBORATED_CONFIDENCE);
        }
        // A platform (YARN, the operator) runs no Flink of its own.
        if s.version.is_none() && s.flink && !s.kind.is_platform() {
            if let Some((v, kind, generation)) = host_version.get(&s.endpoint.host_key()) {
                s.version = Some(v.clone());
                s.version_source = Some(format!("inferred from {kind} on the same host"));
                // The generation belongs to ports of the RPC stack; read
                // from the version, as a HistoryServer or SQL Gateway has none.
                if matches!(
                    s.kind,
                    ServiceKind::Rpc | ServiceKind::BlobServer | ServiceKind::TaskmanagerData
                ) {
                    s.rpc_generation =
                        generation.or_else(|| crate::identify::flink_http::rpc_generation(v));
                }
                let shared: std::sync::Arc<str> = v.as_str().into();
                for f in findings.iter_mut().filter(|f| *f.endpoint == s.endpoint) {
                    f.version = Some(std::sync::Arc::clone(&shared));
                }
            }
        }
    }
}

/// Nothing at the end of a scan can change this service: it is not Flink's
/// and host correlation ([`adopt`]) cannot make it Flink's (only a JMX
/// registry or a port demanding a client certificate can become Flink's).
/// Clusters and [`share_identity`] look at Flink services only, so settled
/// services may leave memory as soon as they are found.
pub fn settled(s: &Service) -> bool {
    !s.flink
        && matches!(
            s.kind,
            ServiceKind::OtherHttp | ServiceKind::Other | ServiceKind::Unknown
        )
        && !s.tls.as_ref().is_some_and(|t| t.client_cert_required)
}

/// Host correlation at the end of a scan, first half: a JMX registry, or a
/// port that demands a client certificate, counts as Flink's only on a host
/// where Flink was found. Returns the checks each such service now needs,
/// in service order; the check stage runs them ([`checks::run_extra`])
/// before [`conclude`].
pub fn adopt(services: &mut [Service]) -> Vec<(usize, Extra)> {
    // Hosts with a port correlation could adopt: only their Flink ports
    // matter (none at all in a fleet of JobManagers alone).
    let candidates: HashSet<HostKey> = services
        .iter()
        .filter(|s| !s.flink)
        .map(|s| s.endpoint.host_key())
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    let flink_hosts: BTreeSet<HostKey> = services
        .iter()
        .filter(|s| s.flink && candidates.contains(&s.endpoint.host_key()))
        .map(|s| s.endpoint.host_key())
        .collect();
    // A platform (a YARN ResourceManager, the operator) runs no Flink
    // process: a JMX registry or a mutual-TLS port next to it is not Flink's.
    let flink_process_hosts: BTreeSet<HostKey> = services
        .iter()
        .filter(|s| s.flink && !s.kind.is_platform() && candidates.contains(&s.endpoint.host_key()))
        .map(|s| s.endpoint.host_key())
        .collect();
    let mut wanted = Vec::new();
    for (i, s) in services.iter_mut().enumerate() {
        if s.flink || !flink_hosts.contains(&s.endpoint.host_key()) {
            continue;
        }
        // The operator's health probe is two bytes of text: its own only
        // next to another operator (or Flink) interface.
        if s.kind == ServiceKind::K8sOperatorHealth {
            s.flink = true;
            s.confidence = 90;
            s.product = Some(crate::identify::k8s_operator::HEALTH.into());
            continue;
        }
        if !flink_process_hosts.contains(&s.endpoint.host_key()) {
            continue;
        }
        // A port that demands a client certificate next to Flink is, in
        // practice, Flink's RPC or BLOB server under internal SSL.
        let mtls_unknown = s.kind == ServiceKind::Unknown
            && s.tls.as_ref().is_some_and(|t| t.client_cert_required);
        if mtls_unknown {
            s.flink = true;
            s.confidence = 50;
            s.product = Some(
                "mutual-TLS port next to Flink (likely RPC or BLOB under internal SSL)".into(),
            );
            wanted.push((i, Extra::TlsFindings));
        }
        if s.kind == ServiceKind::JmxRmi {
            s.flink = true;
            s.product = Some("Java RMI registry (JMX) next to Flink".into());
            wanted.push((i, Extra::All));
        }
    }
    wanted
}

/// Host correlation, second half (after the extra checks): versions and
/// RPC confidence are shared across the host's ports ([`share_identity`],
/// which `merge` runs again over all shards), and the JMX ports get the
/// advisory findings of the version they now know.
pub fn conclude(services: &mut [Service], findings: &mut Vec<Finding>, ctx: &CheckContext) {
    share_identity(services, findings);
    // Only now do the JMX ports know the version of their host.
    for s in services
        .iter()
        .filter(|s| s.kind == ServiceKind::JmxRmi && s.flink)
    {
        findings.extend(checks::inferred_version_findings(s, ctx));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Endpoint, TlsSummary};

    fn service(last: u8, port: u16, kind: ServiceKind, flink: bool) -> Service {
        let ip = std::net::IpAddr::from([127, 0, 0, last]);
        let mut s = Service::new(Endpoint::new(ip, port), kind);
        s.flink = flink;
        s
    }

    /// Correlation only decides: it names the services that need more
    /// checks, in service order, and the check stage runs them.
    #[test]
    fn adopt_names_the_checks_next_to_flink_only() {
        let mut mtls = service(1, 6123, ServiceKind::Unknown, false);
        mtls.tls = Some(Box::new(TlsSummary {
            client_cert_required: true,
            ..TlsSummary::default()
        }));
        let mut services = vec![
            service(1, 8081, ServiceKind::JobmanagerRest, true),
            mtls,
            service(1, 8789, ServiceKind::JmxRmi, false),
            // Another host without Flink: its JMX registry stays a stranger.
            service(2, 8789, ServiceKind::JmxRmi, false),
        ];
        let wanted = adopt(&mut services);
        assert_eq!(wanted, vec![(1, Extra::TlsFindings), (2, Extra::All)]);
        assert!(services[1].flink && services[2].flink);
        assert_eq!(services[1].confidence, 50);
        assert!(!services[3].flink);
        assert!(services[3].product.is_none());
    }
}
