//! Findings from a JobManager's or HistoryServer's job inventory
//! (`crate::inventory`): credentials in job parameters and logs, readable
//! logs, listed jars, and the inventory itself. One finding per rule and
//! endpoint, with one evidence entry per job or file; evidence names the
//! job, the key and where it was seen, with the secret's kind, length and
//! fingerprint, never its value.

use super::job_list::JobList;
use super::{http_target, rule_ids, CheckContext, CheckOutput};
use crate::inventory::{self, text, Source};
use crate::model::{Evidence, Service, ServiceKind};
use crate::model::{Job, JobInventory, LogRead};
use crate::transport::answers::Answers;

/// Evidence entries kept per finding (jobs or files); the detail counts all.
const MAX_EVIDENCE: usize = 10;

/// Read the inventory of the jobs `job_list` names, keep it in the
/// deployment facts and add its findings.
pub async fn run(
    service: &Service,
    ctx: &CheckContext,
    job_list: &JobList,
    answers: &Answers,
    out: &mut CheckOutput,
) {
    let source = match service.kind {
        ServiceKind::JobmanagerRest => Source::JobManager,
        ServiceKind::HistoryServer => Source::HistoryServer,
        _ => return,
    };
    // Not readable: the interface is closed to this client.
    let Some(listed) = job_list.listed() else {
        return;
    };
    let target = http_target(service, ctx, false);
    let Some(inv) = inventory::collect(&target, answers, source, listed, &mut out.errors).await
    else {
        return;
    };
    findings(service, ctx, &inv, out);
    out.deployment.get_or_insert_with(Default::default).jobs = Some(Box::new(inv));
}

fn findings(service: &Service, ctx: &CheckContext, inv: &JobInventory, out: &mut CheckOutput) {
    job_secrets(service, ctx, inv, out);
    masked(service, ctx, inv, out);
    log_findings(service, ctx, inv, out);
    log_dir_files(service, ctx, inv, out);
    jars(service, ctx, inv, out);
    if inv.listed > 0 {
        let mut evidence = vec![Evidence {
            request: "GET /jobs/overview".into(),
            status: Some(200),
            excerpt: format!(
                "{} jobs listed: {}",
                inv.listed,
                inv.states
                    .iter()
                    .map(|(s, n)| format!("{n} {}", s.to_ascii_lowercase()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .into(),
        }];
        evidence.extend(inv.jobs.iter().take(MAX_EVIDENCE).map(|j| Evidence {
            request: format!("GET /jobs/{}", j.id).into(),
            status: Some(200),
            excerpt: text::job_line(j).into(),
        }));
        let detail = format!(
            "{}{}.",
            text::summary(&[inv]),
            if inv.jobs.len() < inv.listed {
                format!("; {} read in depth, running first", inv.jobs.len())
            } else {
                String::new()
            }
        );
        push(
            service,
            ctx,
            out,
            rule_ids::JOB_INVENTORY,
            "/jobs/overview",
            detail,
            evidence,
        );
    }
}

fn job_secrets(service: &Service, ctx: &CheckContext, inv: &JobInventory, out: &mut CheckOutput) {
    let exposing: Vec<&Job> = inv
        .jobs
        .iter()
        .filter(|j| j.secrets().next().is_some())
        .collect();
    let Some(first) = exposing.first() else {
        return;
    };
    let evidence = exposing
        .iter()
        .take(MAX_EVIDENCE)
        .map(|j| Evidence {
            request: format!("GET /jobs/{}/config", j.id).into(),
            status: Some(200),
            excerpt: format!(
                "job {}: {} (values not kept)",
                j.name,
                j.secrets()
                    .map(|p| match &p.secret {
                        Some(s) => format!(
                            "{} ({}, {} chars, fingerprint {})",
                            p.key,
                            s.kind.as_str(),
                            s.length,
                            s.fingerprint
                        ),
                        None => p.key.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .into(),
        })
        .collect();
    let named: Vec<String> = exposing
        .iter()
        .take(5)
        .map(|j| {
            format!(
                "{} ({})",
                j.name,
                j.secrets()
                    .map(|p| p.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    let detail = format!(
        "{} of {} jobs read hold credentials in clear in their global job parameters: {}{}.",
        exposing.len(),
        inv.jobs.len(),
        named.join("; "),
        if exposing.len() > 5 { "; …" } else { "" }
    );
    let path = format!("/jobs/{}/config", first.id);
    push(
        service,
        ctx,
        out,
        rule_ids::JOB_SECRET_EXPOSED,
        &path,
        detail,
        evidence,
    );
}

fn masked(service: &Service, ctx: &CheckContext, inv: &JobInventory, out: &mut CheckOutput) {
    let jobs: Vec<&Job> = inv
        .jobs
        .iter()
        .filter(|j| j.masked().next().is_some())
        .collect();
    let Some(first) = jobs.first() else { return };
    let line = |j: &Job| {
        format!(
            "{} ({})",
            j.name,
            j.masked()
                .map(|p| p.key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let evidence = jobs
        .iter()
        .take(MAX_EVIDENCE)
        .map(|j| Evidence {
            request: format!("GET /jobs/{}/config", j.id).into(),
            status: Some(200),
            excerpt: format!("job {}: value ******", line(j)).into(),
        })
        .collect();
    let detail = format!(
        "{} jobs hold credentials Flink shows as ******: {}. Masked in this API, not absent: the values are in the job graph.",
        jobs.len(),
        jobs.iter().take(5).map(|j| line(j)).collect::<Vec<_>>().join("; ")
    );
    let path = format!("/jobs/{}/config", first.id);
    push(
        service,
        ctx,
        out,
        rule_ids::JOB_SECRET_MASKED,
        &path,
        detail,
        evidence,
    );
}

fn log_findings(service: &Service, ctx: &CheckContext, inv: &JobInventory, out: &mut CheckOutput) {
    if inv.logs.is_empty() && inv.log_files.as_ref().is_none_or(|f| f.is_empty()) {
        return;
    }
    let read: Vec<String> = inv
        .logs
        .iter()
        .map(|l| {
            format!(
                "{} ({} bytes{})",
                l.path.trim_start_matches("GET "),
                l.bytes,
                if l.cut { ", cut" } else { "" }
            )
        })
        .collect();
    let mut evidence: Vec<Evidence> = Vec::new();
    if let Some(files) = &inv.log_files {
        evidence.push(Evidence {
            request: "GET /jobmanager/logs".into(),
            status: Some(200),
            excerpt: format!("{} files: {}", files.len(), files.join(", ")).into(),
        });
    }
    evidence.extend(inv.logs.iter().map(|l| {
        Evidence {
            request: l.path.clone().into(),
            status: Some(200),
            excerpt: format!(
                "{} bytes read{}{}",
                l.bytes,
                if l.cut { " (the file is longer)" } else { "" },
                if l.masked.is_empty() {
                    String::new()
                } else {
                    format!("; masked by Flink: {}", l.masked.join(", "))
                }
            )
            .into(),
        }
    }));
    let detail = format!(
        "The logs are served to anyone: read {}.",
        if read.is_empty() {
            "none (listed only)".to_string()
        } else {
            read.join(", ")
        }
    );
    push(
        service,
        ctx,
        out,
        rule_ids::LOGS_READABLE,
        "/jobmanager/logs",
        detail,
        evidence,
    );

    let with_secrets: Vec<&LogRead> = inv.logs.iter().filter(|l| !l.secrets.is_empty()).collect();
    if with_secrets.is_empty() {
        return;
    }
    let mut evidence = Vec::new();
    for l in &with_secrets {
        for s in l.secrets.iter().take(MAX_EVIDENCE) {
            evidence.push(Evidence {
                request: l.path.clone().into(),
                status: Some(200),
                excerpt: format!(
                    "line {}: {} ({}, {} chars, fingerprint {}; value not kept)",
                    s.line,
                    s.key,
                    s.secret.kind.as_str(),
                    s.secret.length,
                    s.secret.fingerprint
                )
                .into(),
            });
        }
    }
    let detail = format!(
        "Logs served without authentication hold credentials: {}.",
        with_secrets
            .iter()
            .map(|l| format!(
                "{} ({}: {})",
                l.path.trim_start_matches("GET "),
                l.source,
                l.secrets
                    .iter()
                    .take(5)
                    .map(|s| s.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let path = with_secrets
        .first()
        .map(|l| l.path.trim_start_matches("GET ").to_string())
        .unwrap_or_else(|| "/jobmanager/log".into());
    push(
        service,
        ctx,
        out,
        rule_ids::LOG_SECRET_EXPOSED,
        &path,
        detail,
        evidence,
    );
}

/// Files in the log directory that are not logs (configuration, keys),
/// which Flink serves to anyone by name. Judged on the listed names: the
/// files themselves are never requested.
fn log_dir_files(service: &Service, ctx: &CheckContext, inv: &JobInventory, out: &mut CheckOutput) {
    let files: Vec<(&str, &str)> = inv
        .log_files
        .iter()
        .flatten()
        .filter_map(|n| Some((n.as_str(), inventory::logs::sensitive_file(n)?)))
        .collect();
    if files.is_empty() {
        return;
    }
    let evidence = files
        .iter()
        .take(MAX_EVIDENCE)
        .map(|(name, why)| Evidence {
            request: "GET /jobmanager/logs".into(),
            status: Some(200),
            excerpt: format!(
                "{name}: {why}; served to anyone by GET /jobmanager/logs/{name} (not requested)"
            )
            .into(),
        })
        .collect();
    let detail = format!(
        "The JobManager's log directory holds {} that {} not a log, and Flink serves any file there by \
         name without authentication: {}.",
        if files.len() == 1 {
            "a file".to_string()
        } else {
            format!("{} files", files.len())
        },
        if files.len() == 1 { "is" } else { "are" },
        files
            .iter()
            .take(10)
            .map(|(name, why)| format!("{name} ({why})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    push(
        service,
        ctx,
        out,
        rule_ids::LOG_DIR_SENSITIVE_FILE,
        "/jobmanager/logs",
        detail,
        evidence,
    );
}

fn jars(service: &Service, ctx: &CheckContext, inv: &JobInventory, out: &mut CheckOutput) {
    let Some(jars) = inv.jars.as_ref().filter(|j| !j.is_empty()) else {
        return;
    };
    let evidence = jars
        .iter()
        .take(MAX_EVIDENCE)
        .map(|j| Evidence {
            request: "GET /jars".into(),
            status: Some(200),
            excerpt: format!(
                "{}{}{}",
                j.name,
                j.uploaded
                    .as_deref()
                    .map(|u| format!(", uploaded {u}"))
                    .unwrap_or_default(),
                if j.entry.is_empty() {
                    String::new()
                } else {
                    format!(", entry {}", j.entry.join(", "))
                }
            )
            .into(),
        })
        .collect();
    let detail = format!(
        "{} jar{} in the upload directory: {}. Check that each was expected.",
        jars.len(),
        if jars.len() == 1 { "" } else { "s" },
        jars.iter()
            .take(10)
            .map(|j| j.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    push(
        service,
        ctx,
        out,
        rule_ids::JARS_LISTED,
        "/jars",
        detail,
        evidence,
    );
}

fn push(
    service: &Service,
    ctx: &CheckContext,
    out: &mut CheckOutput,
    rule: &str,
    path: &str,
    detail: String,
    evidence: Vec<Evidence>,
) {
    if let Some(f) = ctx.finding(rule, service, service.url(path), detail, evidence) {
        out.findings.push(f);
    }
}
