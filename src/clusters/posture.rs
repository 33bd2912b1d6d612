//! How a cluster measures against Flink's hardening guidance: a table of
//! items ([`ITEMS`]), each with its id, title and fix written once and a
//! small function that judges it from what the scan saw.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::grouping::is_mtls_internal;
use super::{PostureItem, PostureStatus};
use crate::checks::rule_ids;
use crate::model::{ConfigValue, Finding, Service, ServiceKind};

use PostureStatus::{Fail, Pass, Unknown};

/// One item of the guidance.
struct Item {
    id: &'static str,
    title: &'static str,
    /// The Flink keys (or deployment change) that make it pass.
    fix: &'static str,
    /// `None`: the item does not apply to this cluster.
    judge: fn(&Seen) -> Option<Verdict>,
}

/// What an item found.
struct Verdict {
    status: PostureStatus,
    /// Endpoints, configuration key names, never a secret.
    evidence: String,
    findings: Vec<String>,
}

fn verdict(status: PostureStatus, evidence: impl Into<String>, findings: Vec<String>) -> Verdict {
    Verdict {
        status,
        evidence: evidence.into(),
        findings,
    }
}

/// The items, in the order a report lists them.
const ITEMS: &[Item] = &[
    Item {
        id: "rest-tls",
        title: "REST API over TLS",
        fix: "security.ssl.rest.enabled: true with security.ssl.rest.keystore, security.ssl.rest.keystore-password, security.ssl.rest.key-password",
        judge: rest_tls,
    },
    Item {
        id: "rest-mtls",
        title: "REST API requires client certificates (mutual TLS)",
        fix: "security.ssl.rest.authentication-enabled: true with security.ssl.rest.truststore (or an authenticating reverse proxy in front of rest.port)",
        judge: rest_mtls,
    },
    Item {
        id: "internal-tls",
        title: "Internal TLS for RPC, BLOB and data ports",
        fix: "security.ssl.internal.enabled: true with security.ssl.internal.keystore, security.ssl.internal.truststore and their passwords; bind RPC and BLOB to internal interfaces",
        judge: internal_tls,
    },
    Item {
        id: "sql-gateway-auth",
        title: "SQL Gateway behind an authenticating proxy",
        fix: "Bind sql-gateway.endpoint.rest.address / bind-address to an internal address and put an authenticating reverse proxy (or mutual TLS) in front of sql-gateway.endpoint.rest.port",
        judge: sql_gateway_auth,
    },
    Item {
        id: "kerberos",
        title: "Kerberos for the systems Flink connects to",
        fix: "security.kerberos.login.keytab and security.kerberos.login.principal (security.kerberos.login.contexts for ZooKeeper and Kafka)",
        judge: kerberos,
    },
    Item {
        id: "web-submit",
        title: "Web submission disabled",
        fix: "web.submit.enable: false (hides jar upload and run; POST /jobs stays open while REST is reachable)",
        judge: web_submit,
    },
    Item {
        id: "web-cancel",
        title: "Web cancellation disabled",
        fix: "web.cancel.enable: false (hides the buttons; restrict REST access for real control)",
        judge: web_cancel,
    },
    Item {
        id: "serialization",
        title: "No Kryo/Java serialization fallback for unknown types",
        // pipeline.serialization-config came with FLIP-398 (apache/flink
        // pull request 24182, Flink 1.19); 2.0 removed registered-kryo-types.
        fix: "pipeline.generic-types: false, and register the types that need Kryo (pipeline.serialization-config from Flink 1.19, pipeline.registered-kryo-types before)",
        judge: serialization,
    },
    Item {
        id: "checkpoint-storage",
        title: "Checkpoint storage without embedded credentials",
        fix: "Give the storage credentials by IAM role, workload identity or environment (not s3.access-key / s3.secret-key or user:password@ in state.checkpoints.dir); rotate exposed keys",
        judge: checkpoint_storage,
    },
    Item {
        id: "k8s-rest-service",
        title: super::platforms::K8S_REST_TITLE,
        fix: super::platforms::K8S_REST_FIX,
        judge: k8s_rest_service,
    },
    Item {
        id: "history-server",
        title: "HistoryServer not exposed",
        fix: "Bind historyserver.web.address to an internal address, firewall historyserver.web.port, historyserver.web.ssl.enabled: true",
        judge: history_server,
    },
];

/// Judge the cluster against Flink's hardening guidance.
pub fn posture(services: &[&Service], findings: &[&Finding]) -> Vec<PostureItem> {
    let seen = Seen::new(services, findings);
    ITEMS
        .iter()
        .filter_map(|item| {
            let v = (item.judge)(&seen)?;
            Some(PostureItem {
                id: Cow::Borrowed(item.id),
                title: Cow::Borrowed(item.title),
                status: v.status,
                evidence: v.evidence,
                findings: v.findings,
                fix: Cow::Borrowed(item.fix),
            })
        })
        .collect()
}

/// What the items judge: one cluster's services, findings and the
/// configuration its JobManagers showed.
struct Seen<'a> {
    services: &'a [&'a Service],
    findings: &'a [&'a Finding],
    config: BTreeMap<String, ConfigValue>,
    config_readable: bool,
}

impl<'a> Seen<'a> {
    fn new(services: &'a [&'a Service], findings: &'a [&'a Finding]) -> Seen<'a> {
        let config = services
            .iter()
            .filter_map(|s| s.deployment.as_ref())
            .filter(|d| d.config_readable)
            .flat_map(|d| d.config.clone())
            .collect();
        let config_readable = services
            .iter()
            .any(|s| s.deployment.as_ref().is_some_and(|d| d.config_readable));
        Seen {
            services,
            findings,
            config,
            config_readable,
        }
    }

    /// Ids of the findings of one rule.
    fn rule(&self, id: &str) -> Vec<String> {
        self.findings
            .iter()
            .filter(|f| &*f.rule_id == id)
            .map(|f| f.id())
            .collect()
    }

    fn of_kind(&self, kind: ServiceKind) -> Vec<&'a Service> {
        self.services
            .iter()
            .copied()
            .filter(|s| s.kind == kind)
            .collect()
    }

    fn jobmanagers(&self) -> Vec<&'a Service> {
        self.of_kind(ServiceKind::JobmanagerRest)
    }

    /// A switch in the configuration; a value not kept is not `true`.
    fn key_says(&self, key: &str) -> Option<bool> {
        self.config.get(key).map(|v| {
            v.kept()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        })
    }
}

fn authorities(services: &[&Service]) -> String {
    services
        .iter()
        .map(|s| s.endpoint.place())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Behind mutual TLS, or behind something the scan could not get past.
fn guarded(s: &Service) -> bool {
    s.inner_unreachable || s.tls.as_ref().is_some_and(|t| t.client_cert_required)
}

const CONFIG_NOT_READABLE: &str = "GET /jobmanager/config not readable";

/// `kubernetes.rest-service.exposed.type` of a cluster on Kubernetes.
fn k8s_rest_service(seen: &Seen) -> Option<Verdict> {
    let (status, evidence) = super::platforms::rest_exposure(&seen.config)?;
    Some(verdict(status, evidence, Vec::new()))
}

fn rest_tls(seen: &Seen) -> Option<Verdict> {
    let rest = seen.jobmanagers();
    if rest.is_empty() {
        return None;
    }
    let plain: Vec<&Service> = rest.iter().copied().filter(|s| s.tls.is_none()).collect();
    let findings = seen.rule(rule_ids::REST_PLAINTEXT);
    Some(if plain.is_empty() {
        verdict(Pass, format!("TLS on {}", authorities(&rest)), findings)
    } else {
        let evidence = format!("plaintext HTTP on {}", authorities(&plain));
        verdict(Fail, evidence, findings)
    })
}

fn rest_mtls(seen: &Seen) -> Option<Verdict> {
    let rest = seen.jobmanagers();
    if rest.is_empty() {
        return None;
    }
    let mtls: Vec<&Service> = rest.iter().copied().filter(|s| guarded(s)).collect();
    let open = seen.rule(rule_ids::REST_UNAUTHENTICATED);
    let key = "security.ssl.rest.authentication-enabled";
    Some(if mtls.len() == rest.len() {
        let evidence = format!("client certificate required on {}", authorities(&mtls));
        verdict(Pass, evidence, open)
    } else if !open.is_empty() {
        verdict(Fail, "GET /config answered without any credential", open)
    } else {
        match seen.key_says(key) {
            Some(true) => verdict(Pass, format!("{key}: true in /jobmanager/config"), open),
            Some(false) => verdict(Fail, format!("{key}: false in /jobmanager/config"), open),
            None => verdict(
                Unknown,
                "no client certificate was asked for, and no unauthenticated answer was seen",
                open,
            ),
        }
    })
}

fn internal_tls(seen: &Seen) -> Option<Verdict> {
    let internal: Vec<&Service> = seen
        .services
        .iter()
        .copied()
        .filter(|s| {
            matches!(
                s.kind,
                ServiceKind::Rpc | ServiceKind::BlobServer | ServiceKind::TaskmanagerData
            ) || is_mtls_internal(s)
        })
        .collect();
    let plain: Vec<&Service> = internal
        .iter()
        .copied()
        .filter(|s| s.tls.is_none())
        .collect();
    let findings: Vec<String> = [
        rule_ids::RPC_PLAINTEXT,
        rule_ids::BLOB_PLAINTEXT,
        rule_ids::TASKMANAGER_DATA_PLAINTEXT,
    ]
    .iter()
    .flat_map(|r| seen.rule(r))
    .collect();
    let (status, evidence) = if !plain.is_empty() {
        let ports = authorities(&plain);
        (Fail, format!("plaintext RPC/BLOB/data ports: {ports}"))
    } else if !internal.is_empty() {
        (Pass, format!("TLS on {}", authorities(&internal)))
    } else {
        let says = seen
            .key_says("security.ssl.internal.enabled")
            .or(seen.key_says("security.ssl.enabled"));
        let (status, evidence) = match says {
            Some(true) => (Pass, "security.ssl.internal.enabled: true in /jobmanager/config (no internal port reached)"),
            Some(false) => (Fail, "security.ssl.internal.enabled: false in /jobmanager/config"),
            None if seen.config_readable => (Fail, "security.ssl.internal.enabled not set in /jobmanager/config (default false)"),
            None => (Unknown, "no RPC, BLOB or data port reached and the configuration is not readable"),
        };
        (status, evidence.to_string())
    };
    Some(verdict(status, evidence, findings))
}

fn sql_gateway_auth(seen: &Seen) -> Option<Verdict> {
    let gateways = seen.of_kind(ServiceKind::SqlGateway);
    if gateways.is_empty() {
        return None;
    }
    let open = seen.rule(rule_ids::SQL_GATEWAY_UNAUTHENTICATED);
    Some(if !open.is_empty() {
        verdict(Fail, "the gateway answered without any credential", open)
    } else if gateways.iter().all(|s| guarded(s)) {
        let evidence = "a client certificate is required in front of the gateway";
        verdict(Pass, evidence, open)
    } else {
        let evidence = format!(
            "SQL Gateway at {}: no unauthenticated answer seen, no authentication seen either",
            authorities(&gateways)
        );
        verdict(Unknown, evidence, open)
    })
}

fn kerberos(seen: &Seen) -> Option<Verdict> {
    if !seen.config_readable {
        let applies = !seen.jobmanagers().is_empty();
        return applies.then(|| verdict(Unknown, CONFIG_NOT_READABLE, Vec::new()));
    }
    let set: Vec<&str> = [
        "security.kerberos.login.keytab",
        "security.kerberos.login.principal",
        "security.kerberos.login.use-ticket-cache",
    ]
    .into_iter()
    .filter(|k| seen.config.contains_key(*k))
    .collect();
    Some(
        if set
            .iter()
            .any(|k| *k != "security.kerberos.login.use-ticket-cache")
        {
            let evidence = format!("{} set in /jobmanager/config", set.join(", "));
            verdict(Pass, evidence, Vec::new())
        } else {
            // Not every deployment talks to a Kerberos realm: absence is
            // not a failure the scan can prove.
            verdict(Unknown, "no security.kerberos.login.keytab or principal in /jobmanager/config; needed only where Flink talks to Kerberos-secured Hadoop, Kafka or ZooKeeper", Vec::new())
        },
    )
}

fn web_submit(seen: &Seen) -> Option<Verdict> {
    let findings = seen.rule(rule_ids::REST_JAR_UPLOAD);
    web_switch(seen, "web-submit", "web.submit.enable", findings)
}

fn web_cancel(seen: &Seen) -> Option<Verdict> {
    let findings = seen.rule(rule_ids::REST_JOB_CONTROL);
    web_switch(seen, "web-cancel", "web.cancel.enable", findings)
}

/// A web UI switch, from `GET /config`'s `features` first, else the
/// configuration.
fn web_switch(seen: &Seen, feature: &str, key: &str, findings: Vec<String>) -> Option<Verdict> {
    let rest = seen.jobmanagers();
    if rest.is_empty() {
        return None;
    }
    let reported: Vec<(&Service, bool)> = rest
        .iter()
        .filter_map(|s| s.features.get(feature).map(|v| (*s, *v)))
        .collect();
    let on: Vec<&Service> = reported
        .iter()
        .filter(|(_, v)| *v)
        .map(|(s, _)| *s)
        .collect();
    let (status, evidence) = if !on.is_empty() {
        let evidence = format!(
            "GET /config features.{feature} = true on {}",
            authorities(&on)
        );
        (Fail, evidence)
    } else if !reported.is_empty() {
        (Pass, format!("GET /config features.{feature} = false"))
    } else {
        match seen.key_says(key) {
            Some(v) => (
                if v { Fail } else { Pass },
                format!("{key}: {v} in /jobmanager/config"),
            ),
            None => (Unknown, format!("GET /config did not report {feature}")),
        }
    };
    Some(verdict(status, evidence, findings))
}

fn serialization(seen: &Seen) -> Option<Verdict> {
    if !seen.config_readable {
        let applies = !seen.jobmanagers().is_empty();
        return applies.then(|| verdict(Unknown, CONFIG_NOT_READABLE, Vec::new()));
    }
    let generic = seen
        .config
        .get("pipeline.generic-types")
        .map(|v| v.to_string().trim().to_ascii_lowercase());
    let registered: Vec<&str> = [
        "pipeline.registered-kryo-types",
        "pipeline.serialization-config",
    ]
    .into_iter()
    .filter(|k| seen.config.contains_key(*k))
    .collect();
    let (status, evidence) = match generic.as_deref() {
        Some("false") => (
            Pass,
            "pipeline.generic-types: false (no Kryo fallback for unknown types)".to_string(),
        ),
        _ if !registered.is_empty() => (
            Unknown,
            format!(
                "pipeline.generic-types not false, but {} set",
                registered.join(", ")
            ),
        ),
        Some(v) => (
            Fail,
            format!("pipeline.generic-types: {v} (generic types fall back to Kryo)"),
        ),
        None => (
            Fail,
            "pipeline.generic-types not set (default true: generic types fall back to Kryo)"
                .to_string(),
        ),
    };
    Some(verdict(status, evidence, Vec::new()))
}

fn checkpoint_storage(seen: &Seen) -> Option<Verdict> {
    if !seen.config_readable {
        let applies = !seen.jobmanagers().is_empty();
        return applies.then(|| verdict(Unknown, CONFIG_NOT_READABLE, Vec::new()));
    }
    let findings = seen.rule(rule_ids::CONFIG_SECRET_EXPOSED);
    let dirs: Vec<String> = [
        "state.checkpoints.dir",
        "execution.checkpointing.dir",
        "state.savepoints.dir",
        "execution.checkpointing.savepoint-dir",
    ]
    .iter()
    .filter_map(|k| {
        seen.config
            .get(*k)
            .map(|v| format!("{k} = {}", location_of(v)))
    })
    .collect();
    let embedded = seen
        .config
        .values()
        .any(|v| matches!(v, ConfigValue::UriWithCredentials { .. }));
    Some(if embedded || !findings.is_empty() {
        let dirs = if dirs.is_empty() {
            String::new()
        } else {
            format!("; {}", dirs.join(", "))
        };
        let evidence = format!("credentials readable from the configuration{dirs}");
        verdict(Fail, evidence, findings)
    } else if dirs.is_empty() {
        let evidence = "no checkpoint or savepoint directory in /jobmanager/config";
        verdict(Unknown, evidence, findings)
    } else {
        let evidence = format!("{}; no credential in the configuration", dirs.join(", "));
        verdict(Pass, evidence, findings)
    })
}

/// Where a directory is, never what path or credential: its scheme, or
/// that it is local.
fn location_of(value: &ConfigValue) -> String {
    let ConfigValue::Kept(value) = value else {
        return value.to_string();
    };
    match value.split_once("://") {
        Some((scheme, _)) => format!("{scheme}://…"),
        None => "a local path".to_string(),
    }
}

fn history_server(seen: &Seen) -> Option<Verdict> {
    let history = seen.of_kind(ServiceKind::HistoryServer);
    if history.is_empty() {
        return None;
    }
    let exposed = seen.rule(rule_ids::HISTORYSERVER_EXPOSED);
    Some(if !exposed.is_empty() {
        let evidence = format!(
            "HistoryServer at {} serves archived jobs without credentials",
            authorities(&history)
        );
        verdict(Fail, evidence, exposed)
    } else if history.iter().all(|s| guarded(s)) {
        verdict(Pass, "a client certificate is required", exposed)
    } else {
        let evidence = "HistoryServer reachable; no unauthenticated archive listing seen";
        verdict(Unknown, evidence, exposed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each item is written once: one id, one title, one fix, whichever
    /// branch of its judge decides.
    #[test]
    fn every_item_is_written_once() {
        let mut ids: Vec<&str> = ITEMS.iter().map(|i| i.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), ITEMS.len());
        assert!(ITEMS
            .iter()
            .all(|i| !i.title.is_empty() && !i.fix.is_empty()));
    }

    /// The fix is read by operators of every Flink version the scan finds:
    /// pipeline.serialization-config does not exist before 1.19 (Flink
    /// 1.14.6 and 1.16.3 know only pipeline.registered-kryo-types).
    #[test]
    fn the_serialization_fix_names_a_key_older_versions_have() {
        let item = ITEMS.iter().find(|i| i.id == "serialization").unwrap();
        assert!(item.fix.contains("pipeline.serialization-config"));
        assert!(item.fix.contains("pipeline.registered-kryo-types"));
    }
}
