//! OCSF 1.3.0 Vulnerability Finding events (class 2002) for `--jsonl-format ocsf`.
//!
//! One event per finding, one line each, as they are found. Identified
//! services are not findings, so they have no OCSF line; the JSON report
//! keeps them. Field choices follow the OCSF 1.3.0 dictionary:
//! - `activity_id` 1 (Create), so `type_uid` 200201: lines are streamed as
//!   found, before `--baseline` can compare (the JSON report carries that).
//! - `severity_id` 1..5 for info..critical.
//! - `finding_info.uid` is the finding's stable fingerprint (the one SARIF
//!   and ECS carry), `finding_info.analytic` the rule.
//! - `vulnerabilities[0]` holds the CWE always and the CVE for CVE rules
//!   (OCSF asks for at least one of them), plus the remediation.
//! - `resources[0]` is the network endpoint, `unmapped.flink` the rest
//!   (address, port, scan id, evidence), as OCSF has no endpoint on this class.

use serde_json::{json, Value};

use crate::checks::catalog::Rule;
use crate::model::{Finding, Severity};
use crate::untrusted;

pub const OCSF_VERSION: &str = "1.3.0";
pub const CLASS_UID: u32 = 2002;
pub const CATEGORY_UID: u32 = 2;

fn severity(s: Severity) -> (u8, &'static str) {
    match s {
        Severity::Info => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// The OCSF event for one finding; `time_ms` is milliseconds since the epoch.
pub fn finding_event(finding: &Finding, rule: Option<&Rule>, scan_id: &str, time_ms: i64) -> Value {
    let (severity_id, severity_name) = severity(finding.severity);
    let (activity_id, activity_name) = (1u8, "Create");
    let fingerprint = super::sarif::fingerprint(finding);
    let title = untrusted::clean(&finding.title, 300);
    let body = finding.body_or_note();
    let detail = untrusted::clean(&body.detail, 1500);

    let mut vulnerability = json!({
        "title": title,
        "desc": detail,
        "severity": severity_name,
    });
    if let Some(r) = rule {
        vulnerability["cwe"] = json!({"uid": format!("CWE-{}", r.cwe)});
        vulnerability["remediation"] = json!({"desc": untrusted::clean(&r.remediation, 1500)});
        if !r.sources.is_empty() {
            vulnerability["references"] = json!(r.sources);
        }
    }
    if let Some(cve) = finding.cve_id() {
        vulnerability["cve"] = json!({"uid": cve});
    }
    // OCSF wants a CVE or a CWE; a rule missing from the catalog has neither.
    if vulnerability.get("cwe").is_none() && vulnerability.get("cve").is_none() {
        vulnerability["cwe"] = json!({"uid": "CWE-16"});
    }

    let evidence = super::jsonl::evidence_json(&body.evidence);

    let mut event = json!({
        "activity_id": activity_id,
        "activity_name": activity_name,
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Vulnerability Finding",
        "type_uid": CLASS_UID * 100 + u32::from(activity_id),
        "type_name": format!("Vulnerability Finding: {activity_name}"),
        "severity_id": severity_id,
        "severity": severity_name,
        "time": time_ms,
        "message": title,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {
                "name": "flinkscan",
                "vendor_name": "flinkscan",
                "version": env!("CARGO_PKG_VERSION"),
            },
            "log_name": "flinkscan",
            "correlation_uid": scan_id,
        },
        "finding_info": {
            "uid": fingerprint,
            "title": title,
            "desc": detail,
            "types": [finding.service.as_str()],
            "analytic": {
                "uid": finding.rule_id,
                "name": finding.rule_id,
                "type_id": 1,
                "type": "Rule",
            },
        },
        "vulnerabilities": [vulnerability],
        "resources": [{
            "uid": finding.endpoint.authority(),
            "name": body.url,
            "type": "Network Endpoint",
        }],
        "unmapped": {
            "flink": {
                "ip": finding.endpoint.ip.to_string(),
                "port": finding.endpoint.port,
                "scan_id": scan_id,
                "rule_id": finding.rule_id,
                "service": finding.service.as_str(),
                "version": finding.version,
                "url": body.url,
                "evidence": evidence,
            },
        },
    });
    // A name only the socks5h:// proxy resolved has no address to show.
    if let (Some(name), Some(flink)) = (
        finding.endpoint.proxy_name(),
        event
            .pointer_mut("/unmapped/flink")
            .and_then(Value::as_object_mut),
    ) {
        flink.remove("ip");
        flink.insert("hostname".into(), json!(name));
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Endpoint, Evidence, ServiceKind};

    /// Character caps are not byte caps: four-byte characters everywhere
    /// must still give a line under the 10,000-byte limit.
    #[test]
    fn wide_characters_still_fit_one_line() {
        let wide = "\u{1d11e}".repeat(3000);
        let finding = Finding {
            rule_id: "FLINK-REST-UNAUTHENTICATED".into(),
            severity: Severity::Critical,
            title: wide.clone().into(),
            endpoint: std::sync::Arc::new(Endpoint::new([127, 0, 0, 1].into(), 8081)),
            service: ServiceKind::JobmanagerRest,
            body: crate::model::Body::held(
                "http://127.0.0.1:8081/config".into(),
                wide.clone(),
                vec![
                    Evidence {
                        request: wide.clone().into(),
                        status: Some(200),
                        excerpt: wide.clone().into(),
                    };
                    4
                ],
            ),
            version: Some("1.20.1".into()),
            baseline_state: None,
            advisory: None,
            confirmed: false,
            remediation: None,
            cluster: None,
        };
        let text = super::super::jsonl::line(finding_event(&finding, None, "scan", 0));
        assert!(
            text.len() < super::super::jsonl::MAX_LINE,
            "{} bytes",
            text.len()
        );
        let v: Value = serde_json::from_str(&text).expect("still JSON");
        assert_eq!(v["class_uid"], CLASS_UID);
        assert_eq!(
            v["finding_info"]["analytic"]["uid"],
            "FLINK-REST-UNAUTHENTICATED"
        );
    }

    /// The OCSF uid is the SARIF fingerprint, and
    /// pinned: `printf 'FLINK-RPC-PLAINTEXT|127.0.0.1|6123' | sha256sum`.
    #[test]
    fn uid_is_the_pinned_fingerprint_shared_with_sarif_and_ecs() {
        let mut finding = Finding {
            body: crate::model::Body::held("tcp://127.0.0.1:6123".into(), "d".into(), Vec::new()),
            ..Finding::new(
                "FLINK-RPC-PLAINTEXT",
                Severity::Critical,
                "t",
                Endpoint::new([127, 0, 0, 1].into(), 6123),
                ServiceKind::Rpc,
                String::new(),
            )
        };
        let pinned = "e3f06f7fb673444cf5af09e62b346f9758aadf4ce81472c8f927ccc3c0bdd3d2";
        let event = finding_event(&finding, None, "scan-a", 1);
        assert_eq!(event["finding_info"]["uid"], pinned);
        assert_eq!(super::super::sarif::fingerprint(&finding), pinned);
        // Another scan, time and host name: the same uid.
        std::sync::Arc::make_mut(&mut finding.endpoint).hostname = Some("localhost".into());
        let again = finding_event(&finding, None, "scan-b", 2);
        assert_eq!(again["finding_info"]["uid"], pinned);
        // Another port or rule: another uid.
        std::sync::Arc::make_mut(&mut finding.endpoint).port = 6124;
        let port = finding_event(&finding, None, "scan-a", 1);
        finding.rule_id = "FLINK-BLOB-PLAINTEXT".into();
        let rule = finding_event(&finding, None, "scan-a", 1);
        let uids: std::collections::BTreeSet<String> = [&event, &port, &rule]
            .iter()
            .map(|e| e["finding_info"]["uid"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(uids.len(), 3);
    }
}
