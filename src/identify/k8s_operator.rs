//! The Flink Kubernetes Operator's network surfaces, recognised from their
//! answers (pure functions). Shapes from the operator's source
//! (apache/flink-kubernetes-operator, snapshot 6e9caeb, 2026-07-20):
//!
//! - Admission webhook (`flink-kubernetes-webhook`, `AdmissionHandler`):
//!   TLS on 9443 (`helm/.../templates/webhook/service.yaml`, targetPort),
//!   a cert-manager certificate for
//!   `flink-operator-webhook-service.<namespace>.svc`
//!   (`templates/cert-manager/certificate.yaml`). Any path other than
//!   `/validate` and `/mutate` is answered `500`, `content-type: text/plain`,
//!   body `Illegal path requested: <path>. Only /validate or /mutate is
//!   accepted.`: the path it names is the one asked for.
//! - Health probe (`health/HttpBootstrap`, `OperatorHealthHandler`): port
//!   8085 (`operatorHealth.port` in the chart's values.yaml); every request,
//!   whatever its path, gets `200 OK` or `500 ERROR`, `content-type:
//!   text/plain;charset=UTF-8`, nothing else.
//! - Metrics: Flink's Prometheus reporter in the operator's JVM, on the port
//!   `kubernetes.operator.metrics.reporter.prom.port` names (9999 in the
//!   operator's metrics documentation); metric names start with
//!   `flink_k8soperator_`, labels `resourcens`, `resourcename` and
//!   `resourcetype` name the managed resources
//!   (`docs/content/docs/operations/metrics-logging.md`).
//!
//! None of these says the operator's version, so the operator's advisories
//! are matched only where a version is known (never guessed).

use std::collections::BTreeSet;

use crate::model::OperatorFacts;
use crate::transport::http::Response;
use crate::untrusted;

/// The DNS name cert-manager's certificate for the webhook carries.
pub const WEBHOOK_SERVICE: &str = "flink-operator-webhook-service.";
/// The path asked of a suspected webhook to confirm it echoes paths.
pub const WEBHOOK_CONFIRM_PATH: &str = "/healthz";
/// The product of a health probe seen alone on its host.
pub const HEALTH_UNCONFIRMED: &str =
    "HTTP health probe answering like the Flink Kubernetes Operator's (unconfirmed: no other operator or Flink interface on its host)";
/// The product of one next to another operator or Flink interface.
pub const HEALTH: &str = "Flink Kubernetes Operator health probe";
/// Managed namespaces and resource names kept from one metrics page.
pub const MAX_NAMES: usize = 32;

/// The webhook's answer to a path it does not serve, naming `path`.
pub fn is_webhook_refusal(resp: &Response, path: &str) -> bool {
    if resp.status != 500 {
        return false;
    }
    let plain = resp
        .header("content-type")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("text/plain"));
    let expected =
        format!("Illegal path requested: {path}. Only /validate or /mutate is accepted.");
    plain && resp.body.as_ref() == expected.as_bytes()
}

/// The health probe's answer: exactly `OK` (200) or `ERROR` (500) as
/// `text/plain;charset=UTF-8`, with no server name. `Some(healthy)`.
pub fn health_answer(resp: &Response) -> Option<bool> {
    let content_type_ok = resp.header("content-type").is_some_and(|v| {
        v.replace(' ', "")
            .eq_ignore_ascii_case("text/plain;charset=UTF-8")
    });
    if !content_type_ok || resp.header("server").is_some() {
        return None;
    }
    match (resp.status, resp.body.as_ref()) {
        (200, b"OK") => Some(true),
        (500, b"ERROR") => Some(false),
        _ => None,
    }
}

/// The operator's Prometheus page: `flink_k8soperator_` series, and the
/// names they carry. `None` when there is no such series.
pub fn parse_metrics(resp: &Response) -> Option<OperatorFacts> {
    if resp.status != 200 {
        return None;
    }
    let text = String::from_utf8_lossy(&resp.body);
    let mut facts = OperatorFacts::default();
    let mut namespaces = BTreeSet::new();
    let mut resources = BTreeSet::new();
    for line in text.lines().take(50_000) {
        if !line.starts_with("flink_k8soperator_") {
            continue;
        }
        facts.series += 1;
        let labels = labels(line);
        let get = |k: &str| {
            labels
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.as_str())
        };
        if facts.namespace.is_none() {
            facts.namespace = get("namespace").and_then(name);
        }
        if let Some(ns) = get("resourcens").and_then(name) {
            if namespaces.len() < MAX_NAMES {
                namespaces.insert(ns.clone());
            }
            if let Some(res) = get("resourcename").and_then(name) {
                if resources.len() < MAX_NAMES {
                    let kind = get("resourcetype").and_then(name).unwrap_or_default();
                    resources.insert(if kind.is_empty() {
                        format!("{ns}/{res}")
                    } else {
                        format!("{ns}/{res} ({kind})")
                    });
                }
            }
        }
    }
    if facts.series == 0 {
        return None;
    }
    facts.managed_namespaces = namespaces.into_iter().collect();
    facts.resources = resources.into_iter().collect();
    Some(facts)
}

/// A Kubernetes name as a label value carries it (DNS-1123 characters),
/// else dropped: label values are the remote host's text.
fn name(v: &str) -> Option<String> {
    let ok = !v.is_empty()
        && v.len() <= 253
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c));
    ok.then(|| untrusted::clean(v, 253))
}

/// `name="value"` pairs of one exposition line, bounded; escapes kept as
/// written (names never need them).
fn labels(line: &str) -> Vec<(&str, String)> {
    let Some(open) = line.find('{') else {
        return Vec::new();
    };
    let Some(close) = line.rfind('}') else {
        return Vec::new();
    };
    let Some(inner) = line.get(open + 1..close) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut rest = inner;
    while out.len() < 16 {
        let Some((key, tail)) = rest.split_once("=\"") else {
            break;
        };
        let Some(end) = tail.find('"') else { break };
        out.push((key.trim().trim_start_matches(','), tail[..end].to_string()));
        rest = &tail[end + 1..];
    }
    out
}

/// Whether a TLS certificate's names are those cert-manager gives the webhook.
pub fn webhook_certificate(san: &[String]) -> Option<String> {
    san.iter()
        .find(|n| n.trim_start_matches("DNS:").starts_with(WEBHOOK_SERVICE))
        .map(|n| untrusted::clean(n.trim_start_matches("DNS:"), 120))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn resp(status: u16, ct: Option<&str>, body: &str) -> Response {
        Response {
            status,
            headers: ct
                .map(|c| vec![("content-type".to_string(), c.to_string())])
                .unwrap_or_default(),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn webhook_refusal_names_the_path_asked() {
        let r = resp(
            500,
            Some("text/plain"),
            "Illegal path requested: /config. Only /validate or /mutate is accepted.",
        );
        assert!(is_webhook_refusal(&r, "/config"));
        assert!(!is_webhook_refusal(&r, "/healthz"));
        // A server answering 500 to everything is not the webhook.
        assert!(!is_webhook_refusal(
            &resp(500, Some("text/plain"), "Internal Server Error"),
            "/config"
        ));
        assert!(!is_webhook_refusal(
            &resp(
                200,
                Some("text/plain"),
                "Illegal path requested: /config. Only /validate or /mutate is accepted."
            ),
            "/config"
        ));
    }

    #[test]
    fn health_probe_shape_is_exact() {
        let ct = Some("text/plain;charset=UTF-8");
        assert_eq!(health_answer(&resp(200, ct, "OK")), Some(true));
        assert_eq!(health_answer(&resp(500, ct, "ERROR")), Some(false));
        assert_eq!(health_answer(&resp(200, ct, "OK\n")), None);
        assert_eq!(health_answer(&resp(200, Some("text/html"), "OK")), None);
        let mut with_server = resp(200, ct, "OK");
        with_server.headers.push(("server".into(), "nginx".into()));
        assert_eq!(health_answer(&with_server), None);
    }

    #[test]
    fn metrics_names_bounded() {
        let body = "# TYPE flink_k8soperator_namespace_Lifecycle_State_STABLE_Count gauge\n\
flink_k8soperator_namespace_Lifecycle_State_STABLE_Count{host=\"op-1\",name=\"flink-kubernetes-operator-abc\",namespace=\"flink-operator\",resourcens=\"payments\",resourcetype=\"FlinkDeployment\",} 2.0\n\
flink_k8soperator_namespace_resource_Lifecycle_State_Count{host=\"op-1\",namespace=\"flink-operator\",resourcens=\"payments\",resourcename=\"fraud-detector\",resourcetype=\"FlinkDeployment\",} 1.0\n\
flink_k8soperator_namespace_resource_X{resourcens=\"bad name\",resourcename=\"x\"} 1.0\n\
flink_jobmanager_numRunningJobs 0.0\n";
        let f = parse_metrics(&resp(200, None, body)).unwrap();
        assert_eq!(f.series, 3);
        assert_eq!(f.namespace.as_deref(), Some("flink-operator"));
        assert_eq!(f.managed_namespaces, vec!["payments"]);
        assert_eq!(
            f.resources,
            vec!["payments/fraud-detector (FlinkDeployment)"]
        );
        assert!(parse_metrics(&resp(200, None, "flink_jobmanager_numRunningJobs 0.0\n")).is_none());
        let many: String = (0..100)
            .map(|i| {
                format!("flink_k8soperator_x{{resourcens=\"ns{i}\",resourcename=\"r{i}\"}} 1\n")
            })
            .collect();
        let f = parse_metrics(&resp(200, None, &many)).unwrap();
        assert_eq!(
            (f.managed_namespaces.len(), f.resources.len()),
            (MAX_NAMES, MAX_NAMES)
        );
    }

    #[test]
    fn webhook_certificate_names() {
        let san = vec![
            "DNS:flink-operator-webhook-service.flink.svc".to_string(),
            "DNS:flink-operator-webhook-service.flink.svc.cluster.local".to_string(),
        ];
        assert_eq!(
            webhook_certificate(&san).as_deref(),
            Some("flink-operator-webhook-service.flink.svc")
        );
        assert_eq!(webhook_certificate(&["DNS:flink.test".to_string()]), None);
    }
}
