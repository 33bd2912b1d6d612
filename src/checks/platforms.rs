//! Checks of the platforms Flink runs on: a YARN ResourceManager (its REST
//! API without authentication, its Flink applications and their JobManagers
//! behind its web proxy) and the Flink Kubernetes Operator (webhook and
//! metrics reachable). Read-only: GET requests only, bounded in number
//! ([`yarn::MAX_PROXIED`] applications, two requests each).

use super::{rule_ids, CheckContext, CheckOutput};
use crate::identify::flink_http;
use crate::identify::yarn;
use crate::model::{Evidence, Service, ServiceKind, Severity};
use crate::model::{ProxiedFlink, YarnFacts};
use crate::transport::evidence_http;
use crate::transport::http::HttpTarget;
use crate::untrusted;

/// Run the checks of a platform service.
pub async fn run(service: &Service, ctx: &CheckContext, out: &mut CheckOutput) {
    match service.kind {
        ServiceKind::YarnResourcemanager => resourcemanager(service, ctx, out).await,
        ServiceKind::K8sOperatorWebhook => webhook(service, ctx, out),
        ServiceKind::K8sOperatorMetrics => metrics(service, ctx, out),
        _ => {}
    }
}

fn target(service: &Service, ctx: &CheckContext) -> HttpTarget {
    HttpTarget::new(service.endpoint.clone(), service.tls.is_some(), ctx.timeout)
}

async fn resourcemanager(service: &Service, ctx: &CheckContext, out: &mut CheckOutput) {
    let mut facts = service.yarn.clone().unwrap_or_default();
    if facts.http_authentication.is_some() {
        behind_kerberos(service, ctx, out);
        return;
    }
    let t = target(service, ctx);
    let mut evidence: Vec<Evidence> = service
        .evidence
        .iter()
        .filter(|e| e.request.ends_with(yarn::INFO_PATH))
        .cloned()
        .collect();
    match t.get(yarn::SECURITY_PATH).await {
        Ok(r) => {
            facts.security = yarn::parse_security(&r);
            if facts.security.is_some() {
                evidence.push(evidence_http(&format!("GET {}", yarn::SECURITY_PATH), &r));
            }
        }
        Err(e) => out.errors.push(format!("GET {}: {e}", yarn::SECURITY_PATH)),
    }
    if !evidence.is_empty() {
        let ha = facts
            .ha_state
            .as_deref()
            .map(|h| format!(", HA state {h}"))
            .unwrap_or_default();
        let head = format!(
            "GET {} answered without any credential (Hadoop {}{ha}).",
            yarn::INFO_PATH,
            facts.hadoop_version.as_deref().unwrap_or("version unknown"),
        );
        let (detail, severity) = match facts.security.as_deref() {
            Some("kerberos") => (
                format!("{head} hadoop.security.authentication is kerberos (GET /conf), so anonymous writes are refused: anyone who reaches it reads the cluster, its applications and their users, but cannot submit one."),
                Some(Severity::Medium),
            ),
            Some(_) => (
                format!("{head} hadoop.security.authentication is simple (GET /conf): an anonymous request runs as the static web user, so anyone who reaches it can submit a YARN application (POST /ws/v1/cluster/apps/new-application, then POST /ws/v1/cluster/apps) and run commands in the cluster's containers, and kill or move applications. Not tried: the scan only reads."),
                None,
            ),
            None => (
                format!("{head} Anyone who reaches it can submit a YARN application and run commands in the cluster's containers unless Hadoop security (Kerberos) is on, which GET /conf did not tell. Not tried: the scan only reads."),
                None,
            ),
        };
        if let Some(mut f) = ctx.finding(
            rule_ids::YARN_RM_UNAUTHENTICATED,
            service,
            service.url(yarn::INFO_PATH),
            detail,
            evidence,
        ) {
            if let Some(s) = severity {
                f.severity = s;
            }
            out.findings.push(f);
        }
    }

    let apps = match t.get(yarn::APPS_PATH).await {
        Ok(r) => match yarn::parse_apps(&r) {
            Some(parsed) => Some(parsed),
            None => {
                out.errors.push(format!(
                    "GET {}: answered {} without the applications list",
                    yarn::APPS_PATH,
                    r.status
                ));
                None
            }
        },
        Err(e) => {
            out.errors.push(format!("GET {}: {e}", yarn::APPS_PATH));
            None
        }
    };
    if let Some((apps, listed)) = apps {
        facts.apps = apps;
        facts.apps_listed = Some(listed);
    }
    proxy_jobmanagers(service, ctx, &t, &mut facts, out).await;
    out.yarn = Some(*facts);
}

/// A ResourceManager that demanded Kerberos (SPNEGO): nothing anonymous
/// gets past it, so no request more is sent; that it answers the scanner's
/// network at all is worth knowing (low).
fn behind_kerberos(service: &Service, ctx: &CheckContext, out: &mut CheckOutput) {
    let evidence: Vec<Evidence> = service
        .evidence
        .iter()
        .filter(|e| e.request.ends_with(yarn::INFO_PATH))
        .cloned()
        .collect();
    let detail = format!(
        "GET {} was refused with HTTP 401 and WWW-Authenticate: Negotiate by Hadoop's \
         authentication filter (its hadoop.auth cookie) on a ResourceManager web port: the \
         REST API requires Kerberos, so an anonymous client reads and submits nothing. It still \
         answers from the scanner's network, where a stolen ticket or keytab would be enough.",
        yarn::INFO_PATH
    );
    if let Some(f) = ctx.finding(
        rule_ids::YARN_RM_KERBEROS_REACHABLE,
        service,
        service.url(yarn::INFO_PATH),
        detail,
        evidence,
    ) {
        out.findings.push(f);
    }
    out.yarn = service.yarn.as_deref().cloned();
}

/// Each live application's JobManager through `/proxy/APPLICATION_ID/`.
async fn proxy_jobmanagers(
    service: &Service,
    ctx: &CheckContext,
    t: &HttpTarget,
    facts: &mut YarnFacts,
    out: &mut CheckOutput,
) {
    let mut reachable: Vec<(String, Option<String>)> = Vec::new();
    let mut evidence: Vec<Evidence> = Vec::new();
    let mut secrets: Vec<(String, Vec<String>)> = Vec::new();
    for app in facts
        .apps
        .iter_mut()
        .filter(|a| a.is_live())
        .take(yarn::MAX_PROXIED)
    {
        let path = app.proxy_path("/config");
        let resp = match t.get(&path).await {
            Ok(r) => r,
            Err(e) => {
                app.proxied = Some(ProxiedFlink {
                    note: Some(untrusted::clean(&format!("GET {path}: {e}"), 200)),
                    ..Default::default()
                });
                continue;
            }
        };
        let Some(dash) = flink_http::parse_dashboard_config(&resp) else {
            app.proxied = Some(ProxiedFlink {
                note: Some(yarn::proxy_refusal(&resp)),
                ..Default::default()
            });
            continue;
        };
        let mut proxied = ProxiedFlink {
            flink: true,
            version: dash.version.clone(),
            revision: dash.revision.clone(),
            ..Default::default()
        };
        if evidence.len() < 3 {
            evidence.push(evidence_http(&format!("GET {path}"), &resp));
        }
        let config_path = app.proxy_path("/jobmanager/config");
        match t.get(&config_path).await {
            Ok(r) if r.status == 200 => {
                if let Some(map) = r.json().as_ref().and_then(crate::flink_rest::config_facts) {
                    proxied.config = map;
                }
                proxied.secret_keys = super::exposed_secret_keys(&r);
                if !proxied.secret_keys.is_empty() {
                    secrets.push((config_path.clone(), proxied.secret_keys.clone()));
                }
            }
            Ok(_) => {}
            Err(e) => out.errors.push(format!("GET {config_path}: {e}")),
        }
        reachable.push((app.id.clone(), proxied.version.clone()));
        app.proxied = Some(proxied);
    }
    if let Some(first) = reachable.first() {
        let listed: Vec<String> = reachable
            .iter()
            .map(|(id, v)| match v {
                Some(v) => format!("{id} (Flink {})", untrusted::clean(v, 32)),
                None => id.clone(),
            })
            .collect();
        let detail = format!(
            "The ResourceManager's web proxy forwards to the JobManager REST API of {} Flink application(s) without credentials: {}. Anyone who reaches it reads their configuration, jobs and logs (GET; the proxy forwards GET and PUT only).",
            reachable.len(),
            listed.join(", ")
        );
        let url = service.url(&format!("/proxy/{}/", first.0));
        if let Some(f) = ctx.finding(
            rule_ids::YARN_PROXY_REST_EXPOSED,
            service,
            url,
            detail,
            evidence,
        ) {
            out.findings.push(f);
        }
    }
    if let Some((path, keys)) = secrets.first() {
        let detail = format!(
            "GET {path} (through the YARN proxy) returns unmasked values for: {}",
            keys.join(", ")
        );
        let evidence = vec![Evidence {
            request: format!("GET {path}").into(),
            status: Some(200),
            excerpt: format!(
                "keys with secret values (values not kept): {}",
                keys.join(", ")
            )
            .into(),
        }];
        if let Some(f) = ctx.finding(
            rule_ids::CONFIG_SECRET_EXPOSED,
            service,
            service.url(path),
            detail,
            evidence,
        ) {
            out.findings.push(f);
        }
    }
}

fn webhook(service: &Service, ctx: &CheckContext, out: &mut CheckOutput) {
    let transport = if service.tls.is_some() {
        "over TLS"
    } else {
        "in plaintext (no keystore configured)"
    };
    let detail = format!(
        "The Flink Kubernetes Operator's admission webhook answers {transport} at {} from the scanner's network; only the Kubernetes API server needs to reach it.",
        service.endpoint.authority()
    );
    if let Some(f) = ctx.finding(
        rule_ids::K8S_OPERATOR_WEBHOOK_EXPOSED,
        service,
        service.url("/validate"),
        detail,
        service.evidence.clone(),
    ) {
        out.findings.push(f);
    }
}

fn metrics(service: &Service, ctx: &CheckContext, out: &mut CheckOutput) {
    let facts = service.operator.clone().unwrap_or_default();
    let mut named = Vec::new();
    if let Some(ns) = &facts.namespace {
        named.push(format!("operator namespace {ns}"));
    }
    if !facts.managed_namespaces.is_empty() {
        named.push(format!(
            "managed namespaces {}",
            facts.managed_namespaces.join(", ")
        ));
    }
    if !facts.resources.is_empty() {
        named.push(format!(
            "resources {}",
            facts
                .resources
                .iter()
                .take(8)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let detail = format!(
        "The operator's Prometheus metrics ({} flink_k8soperator_ series) are readable without credentials{}.",
        facts.series,
        if named.is_empty() {
            String::new()
        } else {
            format!(": {}", named.join("; "))
        }
    );
    if let Some(f) = ctx.finding(
        rule_ids::K8S_OPERATOR_METRICS_EXPOSED,
        service,
        service.url("/metrics"),
        detail,
        service.evidence.clone(),
    ) {
        out.findings.push(f);
    }
}
