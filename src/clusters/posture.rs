//! How a cluster measures against Flink's hardening guidance.

use std::collections::BTreeMap;

use super::grouping::is_mtls_internal;
use super::{PostureItem, PostureStatus};
use crate::checks::rule_ids;
use crate::model::{Finding, Service, ServiceKind};

/// Judge the cluster against Flink's hardening guidance.
pub fn posture(services: &[&Service], findings: &[&Finding]) -> Vec<PostureItem> {
    let rule = |id: &str| -> Vec<String> {
        findings
            .iter()
            .filter(|f| f.rule_id == id)
            .map(|f| f.id())
            .collect()
    };
    let config: BTreeMap<String, String> = services
        .iter()
        .filter_map(|s| s.deployment.as_ref())
        .filter(|d| d.config_readable)
        .flat_map(|d| d.config.clone())
        .collect();
    let config_readable = services
        .iter()
        .any(|s| s.deployment.as_ref().is_some_and(|d| d.config_readable));
    let key_says = |key: &str| {
        config
            .get(key)
            .map(|v| v.trim().eq_ignore_ascii_case("true"))
    };
    let mut items = Vec::new();
    let item =
        |id: &str, title: &str, status, evidence: String, findings: Vec<String>, fix: &str| {
            PostureItem {
                id: id.into(),
                title: title.into(),
                status,
                evidence,
                findings,
                fix: fix.into(),
            }
        };

    let rest: Vec<&&Service> = services
        .iter()
        .filter(|s| s.kind == ServiceKind::JobmanagerRest)
        .collect();
    if !rest.is_empty() {
        let plain: Vec<String> = rest
            .iter()
            .filter(|s| s.tls.is_none())
            .map(|s| s.endpoint.authority())
            .collect();
        let (status, evidence) = if plain.is_empty() {
            (
                PostureStatus::Pass,
                format!(
                    "TLS on {}",
                    rest.iter()
                        .map(|s| s.endpoint.authority())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        } else {
            (
                PostureStatus::Fail,
                format!("plaintext HTTP on {}", plain.join(", ")),
            )
        };
        items.push(item(
            "rest-tls",
            "REST API over TLS",
            status,
            evidence,
            rule(rule_ids::REST_PLAINTEXT),
            "security.ssl.rest.enabled: true with security.ssl.rest.keystore, security.ssl.rest.keystore-password, security.ssl.rest.key-password",
        ));
        let mtls: Vec<String> = rest
            .iter()
            .filter(|s| {
                s.tls.as_ref().is_some_and(|t| t.client_cert_required) || s.inner_unreachable
            })
            .map(|s| s.endpoint.authority())
            .collect();
        let (status, evidence) = if mtls.len() == rest.len() {
            (
                PostureStatus::Pass,
                format!("client certificate required on {}", mtls.join(", ")),
            )
        } else if !rule(rule_ids::REST_UNAUTHENTICATED).is_empty() {
            (
                PostureStatus::Fail,
                "GET /config answered without any credential".to_string(),
            )
        } else {
            match key_says("security.ssl.rest.authentication-enabled") {
                Some(true) => (
                    PostureStatus::Pass,
                    "security.ssl.rest.authentication-enabled: true in /jobmanager/config".into(),
                ),
                Some(false) => (
                    PostureStatus::Fail,
                    "security.ssl.rest.authentication-enabled: false in /jobmanager/config".into(),
                ),
                None => (
                    PostureStatus::Unknown,
                    "no client certificate was asked for, and no unauthenticated answer was seen"
                        .into(),
                ),
            }
        };
        items.push(item(
            "rest-mtls",
            "REST API requires client certificates (mutual TLS)",
            status,
            evidence,
            rule(rule_ids::REST_UNAUTHENTICATED),
            "security.ssl.rest.authentication-enabled: true with security.ssl.rest.truststore (or an authenticating reverse proxy in front of rest.port)",
        ));
    }

    let internal: Vec<&&Service> = services
        .iter()
        .filter(|s| {
            matches!(
                s.kind,
                ServiceKind::Rpc | ServiceKind::BlobServer | ServiceKind::TaskmanagerData
            ) || is_mtls_internal(s)
        })
        .collect();
    let plain_internal: Vec<String> = internal
        .iter()
        .filter(|s| s.tls.is_none())
        .map(|s| s.endpoint.authority())
        .collect();
    let internal_findings: Vec<String> = [
        rule_ids::RPC_PLAINTEXT,
        rule_ids::BLOB_PLAINTEXT,
        rule_ids::TASKMANAGER_DATA_PLAINTEXT,
    ]
    .iter()
    .flat_map(|r| rule(r))
    .collect();
    let (status, evidence) = if !plain_internal.is_empty() {
        (
            PostureStatus::Fail,
            format!(
                "plaintext RPC/BLOB/data ports: {}",
                plain_internal.join(", ")
            ),
        )
    } else if !internal.is_empty() {
        (
            PostureStatus::Pass,
            format!(
                "TLS on {}",
                internal
                    .iter()
                    .map(|s| s.endpoint.authority())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    } else {
        match key_says("security.ssl.internal.enabled").or(key_says("security.ssl.enabled")) {
            Some(true) => (PostureStatus::Pass, "security.ssl.internal.enabled: true in /jobmanager/config (no internal port reached)".into()),
            Some(false) => (PostureStatus::Fail, "security.ssl.internal.enabled: false in /jobmanager/config".into()),
            None if config_readable => (PostureStatus::Fail, "security.ssl.internal.enabled not set in /jobmanager/config (default false)".into()),
            None => (PostureStatus::Unknown, "no RPC, BLOB or data port reached and the configuration is not readable".into()),
        }
    };
    items.push(item(
        "internal-tls",
        "Internal TLS for RPC, BLOB and data ports",
        status,
        evidence,
        internal_findings,
        "security.ssl.internal.enabled: true with security.ssl.internal.keystore, security.ssl.internal.truststore and their passwords; bind RPC and BLOB to internal interfaces",
    ));

    let gateways: Vec<&&Service> = services
        .iter()
        .filter(|s| s.kind == ServiceKind::SqlGateway)
        .collect();
    if !gateways.is_empty() {
        let open = rule(rule_ids::SQL_GATEWAY_UNAUTHENTICATED);
        let guarded = gateways
            .iter()
            .all(|s| s.inner_unreachable || s.tls.as_ref().is_some_and(|t| t.client_cert_required));
        let (status, evidence) = if !open.is_empty() {
            (
                PostureStatus::Fail,
                "the gateway answered without any credential".to_string(),
            )
        } else if guarded {
            (
                PostureStatus::Pass,
                "a client certificate is required in front of the gateway".to_string(),
            )
        } else {
            (PostureStatus::Unknown, format!("SQL Gateway at {}: no unauthenticated answer seen, no authentication seen either", gateways.iter().map(|s| s.endpoint.authority()).collect::<Vec<_>>().join(", ")))
        };
        items.push(item(
            "sql-gateway-auth",
            "SQL Gateway behind an authenticating proxy",
            status,
            evidence,
            open,
            "Bind sql-gateway.endpoint.rest.address / bind-address to an internal address and put an authenticating reverse proxy (or mutual TLS) in front of sql-gateway.endpoint.rest.port",
        ));
    }

    if config_readable {
        let set: Vec<&str> = [
            "security.kerberos.login.keytab",
            "security.kerberos.login.principal",
            "security.kerberos.login.use-ticket-cache",
        ]
        .into_iter()
        .filter(|k| config.contains_key(*k))
        .collect();
        let (status, evidence) = if set
            .iter()
            .any(|k| *k != "security.kerberos.login.use-ticket-cache")
        {
            (
                PostureStatus::Pass,
                format!("{} set in /jobmanager/config", set.join(", ")),
            )
        } else {
            // Not every deployment talks to a Kerberos realm: absence is
            // not a failure the scan can prove.
            (PostureStatus::Unknown, "no security.kerberos.login.keytab or principal in /jobmanager/config; needed only where Flink talks to Kerberos-secured Hadoop, Kafka or ZooKeeper".to_string())
        };
        items.push(item(
            "kerberos",
            "Kerberos for the systems Flink connects to",
            status,
            evidence,
            Vec::new(),
            "security.kerberos.login.keytab and security.kerberos.login.principal (security.kerberos.login.contexts for ZooKeeper and Kafka)",
        ));
    } else if !rest.is_empty() {
        items.push(item(
            "kerberos",
            "Kerberos for the systems Flink connects to",
            PostureStatus::Unknown,
            "GET /jobmanager/config not readable".into(),
            Vec::new(),
            "security.kerberos.login.keytab and security.kerberos.login.principal",
        ));
    }

    for (id, title, feature, key, fix) in [
        ("web-submit", "Web submission disabled", "web-submit", "web.submit.enable", "web.submit.enable: false (hides jar upload and run; POST /jobs stays open while REST is reachable)"),
        ("web-cancel", "Web cancellation disabled", "web-cancel", "web.cancel.enable", "web.cancel.enable: false (hides the buttons; restrict REST access for real control)"),
    ] {
        let seen: Vec<(String, bool)> = rest
            .iter()
            .filter_map(|s| s.features.get(feature).map(|v| (s.endpoint.authority(), *v)))
            .collect();
        if rest.is_empty() {
            continue;
        }
        let on: Vec<&String> = seen.iter().filter(|(_, v)| *v).map(|(a, _)| a).collect();
        let (status, evidence) = if !on.is_empty() {
            (PostureStatus::Fail, format!("GET /config features.{feature} = true on {}", on.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")))
        } else if !seen.is_empty() {
            (PostureStatus::Pass, format!("GET /config features.{feature} = false"))
        } else {
            match key_says(key) {
                Some(v) => (if v { PostureStatus::Fail } else { PostureStatus::Pass }, format!("{key}: {v} in /jobmanager/config")),
                None => (PostureStatus::Unknown, format!("GET /config did not report {feature}")),
            }
        };
        let linked = if id == "web-submit" { rule(rule_ids::REST_JAR_UPLOAD) } else { rule(rule_ids::REST_JOB_CONTROL) };
        items.push(item(id, title, status, evidence, linked, fix));
    }

    if config_readable {
        let generic = config
            .get("pipeline.generic-types")
            .map(|v| v.trim().to_ascii_lowercase());
        let registered = [
            "pipeline.registered-kryo-types",
            "pipeline.serialization-config",
        ]
        .into_iter()
        .filter(|k| config.contains_key(*k))
        .collect::<Vec<_>>();
        let (status, evidence) = match generic.as_deref() {
            Some("false") => (
                PostureStatus::Pass,
                "pipeline.generic-types: false (no Kryo fallback for unknown types)".to_string(),
            ),
            _ if !registered.is_empty() => (
                PostureStatus::Unknown,
                format!(
                    "pipeline.generic-types not false, but {} set",
                    registered.join(", ")
                ),
            ),
            Some(v) => (
                PostureStatus::Fail,
                format!("pipeline.generic-types: {v} (generic types fall back to Kryo)"),
            ),
            None => (
                PostureStatus::Fail,
                "pipeline.generic-types not set (default true: generic types fall back to Kryo)"
                    .to_string(),
            ),
        };
        items.push(item(
            "serialization",
            "No Kryo/Java serialization fallback for unknown types",
            status,
            evidence,
            Vec::new(),
            "pipeline.generic-types: false, and register the types that need Kryo (pipeline.serialization-config)",
        ));

        let secret_findings = rule(rule_ids::CONFIG_SECRET_EXPOSED);
        let dirs: Vec<String> = [
            "state.checkpoints.dir",
            "execution.checkpointing.dir",
            "state.savepoints.dir",
            "execution.checkpointing.savepoint-dir",
        ]
        .iter()
        .filter_map(|k| config.get(*k).map(|v| (k, v)))
        .map(|(k, v)| format!("{k} = {}", location_of(v)))
        .collect();
        let embedded = config
            .values()
            .any(|v| v.contains("credentials in the URI"));
        let (status, evidence) = if embedded || !secret_findings.is_empty() {
            (
                PostureStatus::Fail,
                format!(
                    "credentials readable from the configuration{}",
                    if dirs.is_empty() {
                        String::new()
                    } else {
                        format!("; {}", dirs.join(", "))
                    }
                ),
            )
        } else if dirs.is_empty() {
            (
                PostureStatus::Unknown,
                "no checkpoint or savepoint directory in /jobmanager/config".to_string(),
            )
        } else {
            (
                PostureStatus::Pass,
                format!("{}; no credential in the configuration", dirs.join(", ")),
            )
        };
        items.push(item(
            "checkpoint-storage",
            "Checkpoint storage without embedded credentials",
            status,
            evidence,
            secret_findings,
            "Give the storage credentials by IAM role, workload identity or environment (not s3.access-key / s3.secret-key or user:password@ in state.checkpoints.dir); rotate exposed keys",
        ));
    } else if !rest.is_empty() {
        for (id, title) in [
            (
                "serialization",
                "No Kryo/Java serialization fallback for unknown types",
            ),
            (
                "checkpoint-storage",
                "Checkpoint storage without embedded credentials",
            ),
        ] {
            items.push(item(
                id,
                title,
                PostureStatus::Unknown,
                "GET /jobmanager/config not readable".into(),
                Vec::new(),
                if id == "serialization" {
                    "pipeline.generic-types: false"
                } else {
                    "Give the storage credentials by IAM role or environment, not in the configuration"
                },
            ));
        }
    }

    let history: Vec<&&Service> = services
        .iter()
        .filter(|s| s.kind == ServiceKind::HistoryServer)
        .collect();
    if !history.is_empty() {
        let exposed = rule(rule_ids::HISTORYSERVER_EXPOSED);
        let (status, evidence) = if !exposed.is_empty() {
            (
                PostureStatus::Fail,
                format!(
                    "HistoryServer at {} serves archived jobs without credentials",
                    history
                        .iter()
                        .map(|s| s.endpoint.authority())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        } else if history
            .iter()
            .all(|s| s.inner_unreachable || s.tls.as_ref().is_some_and(|t| t.client_cert_required))
        {
            (
                PostureStatus::Pass,
                "a client certificate is required".to_string(),
            )
        } else {
            (
                PostureStatus::Unknown,
                "HistoryServer reachable; no unauthenticated archive listing seen".to_string(),
            )
        };
        items.push(item(
            "history-server",
            "HistoryServer not exposed",
            status,
            evidence,
            exposed,
            "Bind historyserver.web.address to an internal address, firewall historyserver.web.port, historyserver.web.ssl.enabled: true",
        ));
    }
    items
}

fn location_of(value: &str) -> String {
    if value.contains("not kept") {
        return value.to_string();
    }
    match value.split_once("://") {
        Some((scheme, _)) => format!("{scheme}://… "),
        None => "a local path".to_string(),
    }
    .trim_end()
    .to_string()
}
