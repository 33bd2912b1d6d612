//! Merge the outputs of the shards of one scan into one report.
//!
//! JSON reports merge into a report equal to the unsharded scan's apart from
//! ids and times (shards are disjoint, so this is a union plus sums, and the
//! per-host sharing of versions and RPC confidence runs again). Not redone:
//! a JMX or mutual-TLS port whose host's Flink interface fell in another
//! shard stays "not Flink" (its findings would need the scan's checks). SARIF
//! logs merge into one run with the union of rules, re-indexed results and
//! every invocation's notifications.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{ScanReport, ScanStatus, Shards};
use crate::targets::Shard;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    #[error("nothing to merge")]
    Empty,
    #[error("input {index} is from another scan: {what} differs ({a} vs {b})")]
    Mismatch {
        index: usize,
        what: &'static str,
        a: String,
        b: String,
    },
    #[error("shard {0} is given twice")]
    DuplicateShard(String),
    #[error("inputs come from different shard counts: {0} and {1}")]
    ShardCount(String, String),
    #[error("input {0} is not a SARIF log with one run")]
    NotSarif(usize),
    #[error("reading back the services of input {index}: {source}")]
    Services {
        index: usize,
        #[source]
        source: std::io::Error,
    },
}

/// Merge shard reports (any order) into one.
pub fn merge_reports(mut inputs: Vec<ScanReport>) -> Result<ScanReport, MergeError> {
    if inputs.is_empty() {
        return Err(MergeError::Empty);
    }
    inputs.sort_by_key(|r| r.scan.shard.iter().map(|s| s.index).min());
    let first = inputs.remove(0);
    let mut out = first.clone();
    let mut shards: Vec<Shard> = first.scan.shard.iter().copied().collect();
    for (i, r) in inputs.into_iter().enumerate() {
        let index = i + 1;
        let check = |what: &'static str, a: String, b: String| {
            if a == b {
                Ok(())
            } else {
                Err(MergeError::Mismatch { index, what, a, b })
            }
        };
        check(
            "targets",
            first.scan.targets.join(","),
            r.scan.targets.join(","),
        )?;
        check(
            "ports",
            format!("{:?}", first.scan.ports),
            format!("{:?}", r.scan.ports),
        )?;
        check("seed", first.scan.seed.to_string(), r.scan.seed.to_string())?;
        // The same shard twice would double-count every finding and probe.
        if let Some(s) = r.scan.shard.iter().find(|s| shards.contains(s)) {
            return Err(MergeError::DuplicateShard(s.to_string()));
        }
        if first.scan.shard.count() != r.scan.shard.count() {
            return Err(MergeError::ShardCount(
                first.scan.shard.to_string(),
                r.scan.shard.to_string(),
            ));
        }
        shards.extend(r.scan.shard.iter());
        out.scan.started = out.scan.started.min(r.scan.started);
        out.scan.finished = out.scan.finished.max(r.scan.finished);
        out.scan.duration_ms = out.scan.duration_ms.max(r.scan.duration_ms);
        if r.scan.status != ScanStatus::Complete {
            out.scan.status = r.scan.status;
        }
        out.scan.probes_shard += r.scan.probes_shard;
        out.scan.cut_short.extend(r.scan.cut_short);
        out.scan.not_identified.extend(r.scan.not_identified);
        out.scan.undecided.extend(r.scan.undecided);
        out.scan.followed.extend(r.scan.followed);
        out.stats.probed += r.stats.probed;
        out.stats.open += r.stats.open;
        out.stats.closed += r.stats.closed;
        out.stats.filtered += r.stats.filtered;
        out.stats.unreachable += r.stats.unreachable;
        out.stats.decided.add(&r.stats.decided);
        let services = r
            .services
            .into_held()
            .map_err(|source| MergeError::Services { index, source })?;
        out.services.held_mut().extend(services);
        out.findings.extend(r.findings);
        out.notices.extend(r.notices);
    }
    // All N shards present: the merge is the whole scan. Counts and
    // repeats were refused above, so the union exists.
    let given: Vec<String> = shards.iter().map(|s| s.to_string()).collect();
    out.scan.shard = Shards::union(shards)
        .ok_or_else(|| MergeError::ShardCount(given.join(","), first.scan.shard.to_string()))?;
    out.scan.id = uuid::Uuid::new_v4().to_string();
    // Shards split a host's ports: share versions and RPC confidence again
    // over the union, as the unsharded scan did over the whole host.
    crate::hosts::share_identity(out.services.held_mut(), &mut out.findings);
    out.normalise();
    out.services
        .held_mut()
        .dedup_by(|a, b| a.endpoint == b.endpoint);
    // A shard sees part of a cluster: group again over the union.
    out.build_clusters();
    Ok(out)
}

/// Merge SARIF logs: one run, rules de-duplicated by id, results re-indexed.
pub fn merge_sarif(inputs: &[Value]) -> Result<Value, MergeError> {
    let first = inputs.first().ok_or(MergeError::Empty)?;
    let mut rules: BTreeMap<String, Value> = BTreeMap::new();
    let mut results: Vec<Value> = Vec::new();
    let mut notifications: Vec<Value> = Vec::new();
    let mut start: Option<String> = None;
    let mut end: Option<String> = None;
    let mut ok = true;
    for (i, doc) in inputs.iter().enumerate() {
        let runs = doc
            .get("runs")
            .and_then(|r| r.as_array())
            .ok_or(MergeError::NotSarif(i))?;
        for run in runs {
            for r in run
                .pointer("/tool/driver/rules")
                .and_then(|r| r.as_array())
                .into_iter()
                .flatten()
            {
                if let Some(id) = r.get("id").and_then(|i| i.as_str()) {
                    rules.entry(id.to_string()).or_insert_with(|| r.clone());
                }
            }
            results.extend(
                run.get("results")
                    .and_then(|r| r.as_array())
                    .cloned()
                    .unwrap_or_default(),
            );
            for inv in run
                .get("invocations")
                .and_then(|i| i.as_array())
                .into_iter()
                .flatten()
            {
                notifications.extend(
                    inv.get("toolExecutionNotifications")
                        .and_then(|n| n.as_array())
                        .cloned()
                        .unwrap_or_default(),
                );
                ok &= inv
                    .get("executionSuccessful")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false);
                if let Some(s) = inv.get("startTimeUtc").and_then(|v| v.as_str()) {
                    start = Some(start.map_or(s.to_string(), |c| c.min(s.to_string())));
                }
                if let Some(e) = inv.get("endTimeUtc").and_then(|v| v.as_str()) {
                    end = Some(end.map_or(e.to_string(), |c| c.max(e.to_string())));
                }
            }
        }
    }
    let index: BTreeMap<&str, usize> = rules
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    for r in &mut results {
        let id = r.get("ruleId").and_then(|v| v.as_str()).map(String::from);
        if let Some(i) = id.as_deref().and_then(|id| index.get(id)) {
            r["ruleIndex"] = json!(i);
        }
    }
    let key = |r: &Value| {
        (
            r.get("ruleId")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string(),
            r.pointer("/locations/0/physicalLocation/artifactLocation/uri")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string(),
        )
    };
    results.sort_by_key(key);
    results.dedup_by(|a, b| key(a) == key(b));
    let mut run = first
        .pointer("/runs/0")
        .cloned()
        .ok_or(MergeError::NotSarif(0))?;
    run["tool"]["driver"]["rules"] = Value::Array(rules.into_values().collect());
    run["results"] = Value::Array(results);
    let mut invocation = json!({
        "executionSuccessful": ok,
        "toolExecutionNotifications": notifications,
    });
    if let Some(s) = start {
        invocation["startTimeUtc"] = json!(s);
    }
    if let Some(e) = end {
        invocation["endTimeUtc"] = json!(e);
    }
    run["invocations"] = json!([invocation]);
    let mut out = first.clone();
    out["runs"] = json!([run]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeploymentFacts, TaskManagerRef};
    use crate::model::{Endpoint, Service, ServiceKind};

    fn shard(shard: &str, services: Vec<Service>) -> ScanReport {
        let mut r: ScanReport = serde_json::from_value(json!({
            "tool": {"name": "flinkscan", "version": "0"},
            "scan": {"id": shard, "started": "a", "finished": "b", "duration_ms": 1,
                     "status": "complete", "targets": ["10.0.0.0/24"], "ports": [8081, 6122],
                     "shard": shard, "seed": 1, "intrusive": false, "addresses": "256",
                     "probes_total": 512, "probes_shard": 256},
            "stats": {"probed": 256, "open": 1, "closed": 255, "filtered": 0, "unreachable": 0,
                      "services_flink": 1, "findings": 0},
            "services": [], "findings": [], "notices": []
        }))
        .unwrap();
        r.services = services.into();
        r.build_clusters();
        r
    }

    /// One shard holds the JobManager, the other its TaskManager: each
    /// alone cannot link them, the merge does.
    #[test]
    fn a_cluster_split_across_shards_is_one_cluster_after_merge() {
        let mut jm = Service::new(
            Endpoint::new([10, 0, 0, 1].into(), 8081),
            ServiceKind::JobmanagerRest,
        );
        jm.deployment = Some(Box::new(DeploymentFacts {
            taskmanagers: vec![TaskManagerRef {
                id: "tm".into(),
                host: "10.0.0.7".into(),
                rpc_port: Some(6122),
                data_port: None,
                jmx_port: None,
            }],
            taskmanagers_listed: Some(1),
            ..Default::default()
        }));
        let tm = Service::new(Endpoint::new([10, 0, 0, 7].into(), 6122), ServiceKind::Rpc);
        let a = shard("0/2", vec![jm]);
        let b = shard("1/2", vec![tm]);
        let ac = a.clusters.to_vec().unwrap_or_default();
        assert_eq!(ac[0].not_scanned.len(), 1, "{ac:?}");
        assert_eq!(
            b.clusters.to_vec().unwrap_or_default()[0].id,
            "host:10.0.0.7"
        );
        let merged = merge_reports(vec![b, a]).unwrap();
        assert_eq!(merged.clusters.len(), 1, "{:#?}", merged.clusters);
        let mc = merged.clusters.to_vec().unwrap_or_default();
        let c = &mc[0];
        assert_eq!(c.id, "jobmanager:10.0.0.1:8081");
        assert!(c.not_scanned.is_empty());
        assert!(c
            .members
            .iter()
            .any(|m| m.endpoint == "10.0.0.7:6122"
                && m.role == crate::clusters::Role::TaskmanagerRpc));
    }

    /// Merges of some shards merge again into the whole; a shard given
    /// twice, even inside a merged list, is refused.
    #[test]
    fn partial_merges_merge_into_the_whole_scan() {
        let part = |a: &str, b: &str| {
            merge_reports(vec![shard(a, vec![]), shard(b, vec![])])
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let low = part("1/4", "0/4");
        let high = part("2/4", "3/4");
        assert_eq!(low.scan.shard.to_string(), "0/4,1/4");
        let json = serde_json::to_value(&low).unwrap();
        assert_eq!(json["scan"]["shard"], "0/4,1/4");
        let whole =
            merge_reports(vec![high.clone(), low.clone()]).unwrap_or_else(|e| panic!("{e}"));
        assert!(whole.scan.shard.is_whole(), "{}", whole.scan.shard);
        assert_eq!(whole.scan.probes_shard, 4 * 256);
        assert!(matches!(
            merge_reports(vec![low, shard("1/4", vec![])]),
            Err(MergeError::DuplicateShard(s)) if s == "1/4"
        ));
        assert!(matches!(
            merge_reports(vec![high, shard("0/2", vec![])]),
            Err(MergeError::ShardCount(..))
        ));
    }

    #[test]
    fn shard_lists_parse_only_as_written_by_a_scan_or_merge() {
        for ok in ["0/1", "3/4", "0/4,2/4"] {
            let s: Shards = ok.parse().unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(s.to_string(), ok);
        }
        for bad in ["", "4/4", "0/4,0/4", "0/2,1/4", "0/4,", "a/b"] {
            assert!(bad.parse::<Shards>().is_err(), "{bad:?} parsed");
            let doc = json!({"tool": {"name": "flinkscan", "version": "0"}, "scan": bad});
            assert!(serde_json::from_value::<Shards>(doc["scan"].clone()).is_err());
        }
    }

    /// `scan.status` reads and writes the names reports always had.
    #[test]
    fn scan_status_keeps_its_names() {
        for (status, text) in [
            (ScanStatus::Complete, "complete"),
            (ScanStatus::Interrupted, "interrupted"),
            (ScanStatus::MaxDuration, "max-duration"),
            (ScanStatus::ProxyFailed, "proxy-failed"),
        ] {
            assert_eq!(serde_json::to_value(status).unwrap(), json!(text));
            assert_eq!(
                serde_json::from_value::<ScanStatus>(json!(text)).unwrap(),
                status
            );
            assert_eq!(status.to_string(), text);
        }
        assert!(serde_json::from_value::<ScanStatus>(json!("done")).is_err());
    }
}
