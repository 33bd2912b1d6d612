//! The `--jsonl` stream's events in the schema `--jsonl-format` chose: ECS
//! ([`super::jsonl`]) or OCSF ([`super::ocsf`]).

use serde_json::Value;

use super::jsonl;
use crate::checks::catalog::Catalog;
use crate::clusters::Cluster;
use crate::model::{Finding, Service};

/// The `--jsonl` events for one identified service (if any) and its findings.
pub fn for_results(
    service: Option<&Service>,
    findings: &[Finding],
    catalog: &Catalog,
    scan_id: &str,
    format: jsonl::Format,
) -> Vec<Value> {
    match format {
        jsonl::Format::Ecs => {
            let ts = super::now_rfc3339();
            service
                .map(|s| jsonl::service_event(s, scan_id, &ts))
                .into_iter()
                .chain(
                    service
                        .map(|s| jsonl::job_events(s, scan_id, &ts))
                        .unwrap_or_default(),
                )
                .chain(
                    findings
                        .iter()
                        .map(|f| jsonl::finding_event(f, catalog.rule(&f.rule_id), scan_id, &ts)),
                )
                .collect()
        }
        jsonl::Format::Ocsf => {
            let ms = super::now_unix_ms();
            findings
                .iter()
                .map(|f| super::ocsf::finding_event(f, catalog.rule(&f.rule_id), scan_id, ms))
                .collect()
        }
    }
}

/// The events that end a `--jsonl` stream: one per cluster (ECS only; the
/// OCSF stream carries findings alone).
pub fn for_clusters(clusters: &[Cluster], scan_id: &str, format: jsonl::Format) -> Vec<Value> {
    match format {
        jsonl::Format::Ecs => {
            let ts = super::now_rfc3339();
            clusters
                .iter()
                .map(|c| jsonl::cluster_event(c, scan_id, &ts))
                .collect()
        }
        jsonl::Format::Ocsf => Vec::new(),
    }
}
