//! What one port of a host tells about the others: the version read on
//! REST, HistoryServer or SQL Gateway is the version of the RPC, BLOB and
//! TaskManager ports next to it (marked as inferred), and an Akka/Pekko RPC
//! port is Flink's for certain only next to another Flink interface.
//!
//! Pure and deterministic, so a scan runs it at its end and `merge` runs it
//! again over the union of shards (which split a host's ports).

use std::collections::{BTreeSet, HashMap};

use crate::identify::RPC_CORROBORATED_CONFIDENCE;
use crate::model::{Finding, HostKey, RpcGeneration, Service, ServiceKind};

pub fn share_identity(services: &mut [Service], findings: &mut [Finding]) {
    let mut host_version: HashMap<HostKey, (String, ServiceKind, Option<RpcGeneration>)> =
        HashMap::new();
    // Hosts with a Flink interface that no other product speaks (REST,
    // BLOB, data port, ...): they corroborate an Akka/Pekko RPC port.
    let mut corroborating: BTreeSet<HostKey> = BTreeSet::new();
    for s in services.iter() {
        if s.flink
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
        if s.version.is_none() && s.flink {
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
                for f in findings.iter_mut().filter(|f| f.endpoint == s.endpoint) {
                    f.version = Some(v.clone());
                }
            }
        }
    }
}
