//! What the Flink REST API tells about a deployment, read from its JSON
//! answers: the job ids of `/jobs/overview`, the kept keys of
//! `/jobmanager/config`, the TaskManagers of `/taskmanagers`. Pure
//! functions over bounded, untrusted input, below both the stages that
//! read these answers (`checks`) and those that group their results
//! (`clusters`); the records they fill live in `model`.

use std::collections::BTreeMap;

use crate::model::{ConfigValue, TaskManagerRef};
use crate::untrusted;

/// TaskManagers kept from one `/taskmanagers` answer; a bigger cluster is
/// counted in `taskmanagers_listed` but not listed.
pub const MAX_TASKMANAGERS: usize = 512;

/// Job ids kept from one `/jobs/overview` answer.
pub const MAX_JOB_IDS: usize = 200;

/// The job ids of a `/jobs/overview` answer: 32 hex digits each, others dropped.
pub fn parse_job_ids(json: &serde_json::Value) -> Vec<String> {
    let Some(jobs) = json.get("jobs").and_then(|j| j.as_array()) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = jobs
        .iter()
        .take(10_000)
        .filter_map(|j| j.get("jid")?.as_str())
        .filter(|id| id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase)
        .collect();
    ids.sort();
    ids.dedup();
    ids.truncate(MAX_JOB_IDS);
    ids
}

/// Keys kept from `/jobmanager/config`: cluster ids, the ports that link
/// services, and what the posture judges. Values are kept only for these,
/// and never when they look like a secret.
pub const CONFIG_KEYS: &[&str] = &[
    "kubernetes.cluster-id",
    "yarn.application.id",
    "high-availability.cluster-id",
    "high-availability",
    "high-availability.type",
    "jobmanager.rpc.port",
    "blob.server.port",
    "rest.port",
    "taskmanager.data.port",
    "security.ssl.enabled",
    "security.ssl.rest.enabled",
    "security.ssl.rest.authentication-enabled",
    "security.ssl.internal.enabled",
    "security.kerberos.login.use-ticket-cache",
    "security.kerberos.login.principal",
    "security.kerberos.login.keytab",
    "security.kerberos.login.contexts",
    "web.submit.enable",
    "web.cancel.enable",
    "web.rescale.enable",
    "pipeline.generic-types",
    "pipeline.force-kryo",
    "pipeline.registered-kryo-types",
    "pipeline.serialization-config",
    "state.backend",
    "state.backend.type",
    "state.checkpoints.dir",
    "execution.checkpointing.dir",
    "state.savepoints.dir",
    "execution.checkpointing.savepoint-dir",
    "jobmanager.archive.fs.dir",
    // Kubernetes: the namespace, how REST is published, and the key the
    // Flink Kubernetes Operator sets on every cluster it deploys
    // (`crate::clusters::platforms`).
    "kubernetes.namespace",
    "kubernetes.rest-service.exposed.type",
    "execution.target",
    "$internal.flink.version",
    // Ports `--follow` probes (`crate::scan::follow::METRICS_PORT_KEYS`).
    "metrics.reporter.prom.port",
    "metrics.reporter.jmx.port",
];

/// Keys whose presence matters and whose value is nobody's business
/// (principals and keytab paths): kept as `(set)`.
const PRESENCE_ONLY: &[&str] = &[
    "security.kerberos.login.principal",
    "security.kerberos.login.keytab",
    "pipeline.registered-kryo-types",
    "pipeline.serialization-config",
];

/// The kept keys of a `/jobmanager/config` answer (`[{"key","value"}]`).
pub fn config_facts(json: &serde_json::Value) -> Option<BTreeMap<String, ConfigValue>> {
    let items = json.as_array()?;
    let mut out = BTreeMap::new();
    for item in items.iter().take(10_000) {
        let Some(key) = item.get("key").and_then(|k| k.as_str()) else {
            continue;
        };
        if !CONFIG_KEYS.contains(&key) {
            continue;
        }
        let value = item.get("value").and_then(|v| v.as_str()).unwrap_or("");
        let kept = if PRESENCE_ONLY.contains(&key) {
            ConfigValue::Set
        } else if untrusted::has_uri_credentials(value) {
            // The location matters, the password in it must not travel.
            ConfigValue::UriWithCredentials {
                scheme: uri_scheme(value),
            }
        } else if untrusted::redact(value) != value {
            ConfigValue::Withheld
        } else {
            ConfigValue::Kept(untrusted::clean(value, 160))
        };
        out.insert(key.to_string(), kept);
    }
    note_operator_keys(items, &mut out);
    Some(out)
}

/// The scheme of a URI, when it is a plain one (letters, digits, `+`).
fn uri_scheme(value: &str) -> Option<String> {
    let (scheme, _) = value.split_once("://")?;
    let plain = !scheme.is_empty()
        && scheme.len() <= 16
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+');
    plain.then(|| scheme.to_string())
}

/// TaskManagers of a `/taskmanagers` answer and how many were listed.
pub fn parse_taskmanagers(json: &serde_json::Value) -> Option<(Vec<TaskManagerRef>, usize)> {
    let list = json.get("taskmanagers")?.as_array()?;
    let port = |v: Option<&serde_json::Value>| {
        v.and_then(|p| p.as_i64())
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
    };
    let mut out = Vec::new();
    for tm in list.iter().take(MAX_TASKMANAGERS) {
        let id = untrusted::clean(tm.get("id").and_then(|v| v.as_str()).unwrap_or("?"), 80);
        let Some((host, rpc_port)) = tm
            .get("path")
            .and_then(|v| v.as_str())
            .and_then(parse_rpc_address)
        else {
            continue;
        };
        out.push(TaskManagerRef {
            id,
            host,
            rpc_port,
            data_port: port(tm.get("dataPort")),
            jmx_port: port(tm.get("jmxPort")),
        });
    }
    Some((out, list.len()))
}

/// Host and port of an Akka/Pekko actor path:
/// `pekko.tcp://flink@10.0.0.5:6122/user/rpc/taskmanager_0`.
pub fn parse_rpc_address(path: &str) -> Option<(String, Option<u16>)> {
    let (_, rest) = path.split_once("://")?;
    let (_, rest) = rest.split_once('@')?;
    let authority = rest.split('/').next()?;
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, tail) = v6.split_once(']')?;
        (h, tail.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c));
    if !valid {
        return None;
    }
    Some((host.to_string(), port.and_then(|p| p.parse().ok())))
}

/// Kept as `(set)` when any `kubernetes.operator.*` key is in a JobManager's
/// configuration: the operator's own options travel with the clusters it
/// deploys.
pub const OPERATOR_KEYS: &str = "kubernetes.operator.*";

/// Record that `/jobmanager/config` holds `kubernetes.operator.*` keys
/// (names only; their values are the operator's business).
pub fn note_operator_keys(items: &[serde_json::Value], out: &mut BTreeMap<String, ConfigValue>) {
    let any = items.iter().take(10_000).any(|i| {
        i.get("key")
            .and_then(|k| k.as_str())
            .is_some_and(|k| k.starts_with("kubernetes.operator."))
    });
    if any {
        out.insert(OPERATOR_KEYS.to_string(), ConfigValue::Set);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeploymentFacts;

    #[test]
    fn configuration_keys_serialise_as_a_list_and_read_back() {
        let facts = DeploymentFacts {
            config: [(
                "state.backend".to_string(),
                ConfigValue::Kept("rocksdb".into()),
            )]
            .into(),
            ..Default::default()
        };
        let json = serde_json::to_value(&facts).unwrap();
        assert_eq!(
            json["config"],
            serde_json::json!([{"key": "state.backend", "value": "rocksdb"}])
        );
        let back: DeploymentFacts = serde_json::from_value(json).unwrap();
        assert_eq!(back, facts);
        let old: DeploymentFacts =
            serde_json::from_value(serde_json::json!({"config": {"state.backend": "rocksdb"}}))
                .unwrap();
        assert_eq!(old, facts);
    }

    #[test]
    fn actor_paths_parse_and_reject_junk() {
        assert_eq!(
            parse_rpc_address("pekko.tcp://flink@10.0.0.5:6122/user/rpc/taskmanager_0"),
            Some(("10.0.0.5".into(), Some(6122)))
        );
        assert_eq!(
            parse_rpc_address("akka.ssl.tcp://flink@[::1]:40000/user/rpc/taskmanager_0"),
            Some(("::1".into(), Some(40000)))
        );
        assert_eq!(parse_rpc_address("pekko.tcp://flink@<script>:1/x"), None);
        assert_eq!(parse_rpc_address("nonsense"), None);
    }

    #[test]
    fn config_facts_keep_ids_and_switches_never_secrets() {
        let json: serde_json::Value = serde_json::from_str(
            r#"[{"key":"kubernetes.cluster-id","value":"prod-a"},
                {"key":"s3.secret-key","value":"PLANTED"},
                {"key":"state.checkpoints.dir","value":"s3://bob:hunter2@bucket/cp"},
                {"key":"security.kerberos.login.principal","value":"flink@CORP"},
                {"key":"jobmanager.rpc.port","value":"6123"}]"#,
        )
        .unwrap();
        let c = config_facts(&json).unwrap();
        let kept = |k: &str| c.get(k).and_then(ConfigValue::kept);
        assert_eq!(kept("kubernetes.cluster-id"), Some("prod-a"));
        assert_eq!(kept("jobmanager.rpc.port"), Some("6123"));
        assert_eq!(
            c.get("security.kerberos.login.principal"),
            Some(&ConfigValue::Set)
        );
        assert_eq!(
            c.get("state.checkpoints.dir"),
            Some(&ConfigValue::UriWithCredentials {
                scheme: Some("s3".into())
            })
        );
        assert!(!c.contains_key("s3.secret-key"));
        let all = format!("{c:?}");
        assert!(
            !all.contains("hunter2") && !all.contains("PLANTED") && !all.contains("CORP"),
            "{all}"
        );
    }

    /// Reports carry each kind of value as the same text they always did,
    /// and a merge reads that text back into the same kind.
    #[test]
    fn config_values_keep_their_report_text_and_read_back() {
        let json: serde_json::Value = serde_json::from_str(
            r#"[{"key":"state.checkpoints.dir","value":"s3://bob:hunter2@bucket/cp"},
                {"key":"state.savepoints.dir","value":"we ird://bob:hunter2@host/sp"},
                {"key":"jobmanager.archive.fs.dir","value":"password=hunter2"},
                {"key":"security.kerberos.login.keytab","value":"/etc/flink.keytab"},
                {"key":"state.backend","value":"rocksdb"}]"#,
        )
        .unwrap();
        let facts = DeploymentFacts {
            config: config_facts(&json).unwrap(),
            ..Default::default()
        };
        let text = serde_json::to_value(&facts).unwrap()["config"].clone();
        assert_eq!(
            text,
            serde_json::json!([
                {"key": "jobmanager.archive.fs.dir", "value": "(secret-looking value not kept)"},
                {"key": "security.kerberos.login.keytab", "value": "(set)"},
                {"key": "state.backend", "value": "rocksdb"},
                {"key": "state.checkpoints.dir", "value": "s3://… (credentials in the URI, value not kept)"},
                {"key": "state.savepoints.dir", "value": "a URI (credentials in the URI, value not kept)"},
            ])
        );
        let back: DeploymentFacts =
            serde_json::from_value(serde_json::json!({ "config": text })).unwrap();
        assert_eq!(back, facts);
        assert_eq!(
            back.config.get("jobmanager.archive.fs.dir"),
            Some(&ConfigValue::Withheld)
        );
    }
}
