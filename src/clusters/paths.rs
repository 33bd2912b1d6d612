//! The attack paths a cluster's findings make possible, ranked.

use std::collections::{BTreeMap, BTreeSet};

use super::{AttackPath, PathStep};
use crate::checks::rule_ids;
use crate::model::{Finding, Service, ServiceKind, Severity};
use crate::untrusted;

fn ids(fs: &[&Finding]) -> Vec<String> {
    fs.iter().map(|f| f.id()).collect()
}

fn endpoints(fs: &[&Finding]) -> String {
    fs.iter()
        .map(|f| f.endpoint.place())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The attack paths the findings make possible, ranked: worst first, then
/// shortest.
pub fn attack_paths(services: &[&Service], findings: &[&Finding]) -> Vec<AttackPath> {
    let mut paths: Vec<AttackPath> = PATHS
        .iter()
        .filter_map(|path| path(services, findings))
        .collect();
    // Known vulnerabilities not already a step of a path above.
    let used: BTreeSet<String> = paths
        .iter()
        .flat_map(|p| p.steps.iter().flat_map(|s| s.findings.iter().cloned()))
        .collect();
    let mut by_rule: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings.iter().copied() {
        if f.advisory.is_some() && f.severity >= Severity::High && !used.contains(&f.id()) {
            by_rule.entry(&*f.rule_id).or_default().push(f);
        }
    }
    for fs in by_rule.values() {
        let Some(first) = fs.first() else { continue };
        let names = first
            .advisory
            .as_ref()
            .map(|a| a.ids.join(" / "))
            .unwrap_or_default();
        paths.push(AttackPath {
            rank: 0,
            severity: first.severity,
            title: format!("Known vulnerability {names}"),
            impact: untrusted::clean(&first.title, 160),
            steps: vec![PathStep {
                action: format!(
                    "Exploit {names} on {} (Flink {}, a version match, not exploited by the scan)",
                    endpoints(fs),
                    first
                        .version
                        .as_deref()
                        .map(|v| untrusted::clean(v, 32))
                        .unwrap_or_else(|| "?".into())
                ),
                findings: ids(fs),
            }],
        });
    }

    // HOOK(jobs): "read job X's credentials", ranked with the others.
    paths.extend(crate::clusters::jobs::attack_paths(services, findings));

    paths.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.steps.len().cmp(&b.steps.len()))
            .then_with(|| a.title.cmp(&b.title))
    });
    for (i, p) in paths.iter_mut().enumerate() {
        p.rank = i as u32 + 1;
    }
    paths
}

/// One way in each, from the findings that make it possible.
type PathOf = fn(&[&Service], &[&Finding]) -> Option<AttackPath>;

const PATHS: &[PathOf] = &[
    rest_code_execution,
    sql_gateway_code_execution,
    rpc_deserialization,
    configuration_credentials,
    log_directory_files,
    blob_access,
    remote_jmx,
    job_control,
];

fn rule<'a>(findings: &[&'a Finding], id: &str) -> Vec<&'a Finding> {
    findings
        .iter()
        .copied()
        .filter(|f| &*f.rule_id == id)
        .collect()
}

fn rest_code_execution(services: &[&Service], findings: &[&Finding]) -> Option<AttackPath> {
    let rest = rule(findings, rule_ids::REST_UNAUTHENTICATED);
    let first = rest.first()?;
    let taskmanagers: Vec<String> = services
        .iter()
        .filter_map(|s| s.deployment.as_ref())
        .flat_map(|d| d.taskmanagers.iter().map(|t| t.host.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let tm_count = services
        .iter()
        .filter_map(|s| s.deployment.as_ref()?.taskmanagers_listed)
        .max();

    let jars = rule(findings, rule_ids::REST_JAR_UPLOAD);
    let submit = if jars.is_empty() {
        PathStep {
            action: "Submit a job graph with POST /jobs (accepted whatever web.submit.enable says)"
                .into(),
            findings: ids(&rest),
        }
    } else {
        PathStep {
            action: "Upload a jar with POST /jars/upload and run it (web.submit.enable is on); POST /jobs works too".into(),
            findings: ids(&jars),
        }
    };
    let on = match tm_count {
        Some(n) if n > 0 => format!(
            "The job's code runs on every TaskManager: {n} listed by the JobManager ({}{})",
            taskmanagers.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
            if taskmanagers.len() > 5 { ", …" } else { "" }
        ),
        _ => "The job's code runs on the cluster's TaskManagers (and a jar's main() on the JobManager)".into(),
    };
    Some(AttackPath {
        rank: 0,
        severity: first.severity,
        title: "Code execution on every TaskManager through the unauthenticated REST API".into(),
        impact: "Arbitrary code with the Flink user's rights on the cluster's machines, every job's data and credentials".into(),
        steps: vec![
            PathStep {
                action: format!("Reach the JobManager REST API at {} without credentials", endpoints(&rest)),
                findings: ids(&rest),
            },
            submit,
            PathStep { action: on, findings: ids(&rest) },
        ],
    })
}

fn sql_gateway_code_execution(_services: &[&Service], findings: &[&Finding]) -> Option<AttackPath> {
    let gateway = rule(findings, rule_ids::SQL_GATEWAY_UNAUTHENTICATED);
    let first = gateway.first()?;
    let mut steps = vec![PathStep {
        action: format!(
            "Open a session on the SQL Gateway at {} with an empty POST /v1/sessions",
            endpoints(&gateway)
        ),
        findings: ids(&gateway),
    }];
    let mut severity = first.severity;
    let cves: Vec<&Finding> = findings
        .iter()
        .copied()
        .filter(|f| {
            f.service == ServiceKind::SqlGateway
                && f.advisory.is_some()
                && f.severity >= Severity::High
        })
        .collect();
    for c in &cves {
        let names = c
            .advisory
            .as_ref()
            .map(|a| a.ids.join(" / "))
            .unwrap_or_default();
        steps.push(PathStep {
            action: format!(
                "Exploit {names}: the gateway's version {} is in the affected range",
                c.version
                    .as_deref()
                    .map(|v| untrusted::clean(v, 32))
                    .unwrap_or_else(|| "?".into())
            ),
            findings: vec![c.id()],
        });
        severity = severity.max(c.severity);
    }
    steps.push(PathStep {
        action: "Run SQL, including user-defined functions, on the cluster behind it".into(),
        findings: ids(&gateway),
    });
    Some(AttackPath {
        rank: 0,
        severity,
        title: "Code execution through the unauthenticated SQL Gateway".into(),
        impact: "Arbitrary SQL and user code on the session cluster, read and write access to its catalogs and tables".into(),
        steps,
    })
}

fn rpc_deserialization(_services: &[&Service], findings: &[&Finding]) -> Option<AttackPath> {
    let rpc = rule(findings, rule_ids::RPC_PLAINTEXT);
    let first = rpc.first()?;
    Some(AttackPath {
        rank: 0,
        severity: first.severity,
        title: "Java deserialization on the plaintext Akka/Pekko RPC port".into(),
        impact: "Code execution on the JobManager or TaskManager that owns the port".into(),
        steps: vec![
            PathStep {
                action: format!("Connect to RPC at {} in plaintext, without authentication", endpoints(&rpc)),
                findings: ids(&rpc),
            },
            PathStep {
                action: "Send a Java-serialised message: Akka/Pekko deserialise it before anything checks the sender".into(),
                findings: ids(&rpc),
            },
            PathStep {
                action: "A deserialization gadget on Flink's classpath runs the attacker's code".into(),
                findings: ids(&rpc),
            },
        ],
    })
}

fn configuration_credentials(services: &[&Service], findings: &[&Finding]) -> Option<AttackPath> {
    let secrets = rule(findings, rule_ids::CONFIG_SECRET_EXPOSED);
    let first = secrets.first()?;
    let storage = services
        .iter()
        .filter_map(|s| s.deployment.as_ref())
        .find_map(|d| {
            [
                "state.checkpoints.dir",
                "execution.checkpointing.dir",
                "state.savepoints.dir",
            ]
            .iter()
            .find(|k| d.config.contains_key(**k))
            .map(|k| format!("the checkpoint storage ({k})"))
        })
        .unwrap_or_else(|| "the checkpoint bucket and the other systems they open".into());
    Some(AttackPath {
        rank: 0,
        severity: first.severity,
        title: "Credentials read from the exposed configuration".into(),
        impact: format!("Access to {storage} with the cluster's own credentials"),
        steps: vec![
            PathStep {
                action: format!(
                    "GET /jobmanager/config (or /jobmanager/environment) at {}",
                    endpoints(&secrets)
                ),
                findings: ids(&secrets),
            },
            PathStep {
                action: "Take the unmasked secret values it returns (the finding names the keys)"
                    .into(),
                findings: ids(&secrets),
            },
            PathStep {
                action: format!("Use them against {storage}"),
                findings: ids(&secrets),
            },
        ],
    })
}

fn log_directory_files(_services: &[&Service], findings: &[&Finding]) -> Option<AttackPath> {
    let files = rule(findings, rule_ids::LOG_DIR_SENSITIVE_FILE);
    let first = files.first()?;
    Some(AttackPath {
        rank: 0,
        severity: first.severity,
        title: "Configuration and key files downloaded from the log directory".into(),
        impact:
            "The configuration as written (no masking) and any key store or keytab beside the logs"
                .into(),
        steps: vec![
            PathStep {
                action: format!(
                    "GET /jobmanager/logs at {} (the finding names the files)",
                    endpoints(&files)
                ),
                findings: ids(&files),
            },
            PathStep {
                action: "Download each with GET /jobmanager/logs/NAME, without credentials".into(),
                findings: ids(&files),
            },
        ],
    })
}

fn blob_access(_services: &[&Service], findings: &[&Finding]) -> Option<AttackPath> {
    let blob = rule(findings, rule_ids::BLOB_PLAINTEXT);
    let first = blob.first()?;
    Some(AttackPath {
        rank: 0,
        severity: first.severity,
        title: "Job jars and artifacts from the plaintext BLOB server".into(),
        impact:
            "The jobs' code and the secrets compiled into it; uploads to the cluster's BLOB store"
                .into(),
        steps: vec![
            PathStep {
                action: format!(
                    "Connect to the BLOB server at {} without authentication",
                    endpoints(&blob)
                ),
                findings: ids(&blob),
            },
            PathStep {
                action: "Fetch or put BLOBs with the BLOB protocol".into(),
                findings: ids(&blob),
            },
        ],
    })
}

fn remote_jmx(_services: &[&Service], findings: &[&Finding]) -> Option<AttackPath> {
    let jmx = rule(findings, rule_ids::JMX_EXPOSED);
    let first = jmx.first()?;
    Some(AttackPath {
        rank: 0,
        severity: first.severity,
        title: "Remote JMX on a Flink JVM".into(),
        impact: "MBean operations on the JVM; without JMX authentication, code execution".into(),
        steps: vec![
            PathStep {
                action: format!("Reach the RMI registry at {}", endpoints(&jmx)),
                findings: ids(&jmx),
            },
            PathStep {
                action: "Connect a JMX client and invoke MBean operations".into(),
                findings: ids(&jmx),
            },
        ],
    })
}

fn job_control(_services: &[&Service], findings: &[&Finding]) -> Option<AttackPath> {
    let control = rule(findings, rule_ids::REST_JOB_CONTROL);
    let first = control.first()?;
    Some(AttackPath {
        rank: 0,
        severity: first.severity,
        title: "Running jobs cancelled or rescaled by anyone".into(),
        impact: "Stopped pipelines and lost processing (denial of service)".into(),
        steps: vec![PathStep {
            action: format!(
                "PATCH /jobs/:id at {} (web.cancel.enable only hides the button)",
                endpoints(&control)
            ),
            findings: ids(&control),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Endpoint;

    #[test]
    fn files_in_the_log_directory_are_a_path() {
        let jm = Service::new(
            Endpoint::new([192, 0, 2, 7].into(), 8081),
            ServiceKind::JobmanagerRest,
        );
        let f = Finding::new(
            rule_ids::LOG_DIR_SENSITIVE_FILE,
            Severity::High,
            "files",
            jm.endpoint.clone(),
            jm.kind,
            jm.url("/jobmanager/logs"),
        );
        let paths = attack_paths(&[&jm], &[&f]);
        let p = paths
            .iter()
            .find(|p| p.title.contains("log directory"))
            .unwrap_or_else(|| panic!("{paths:?}"));
        assert_eq!(p.severity, Severity::High);
        assert!(p.steps.iter().all(|s| s.findings == [f.id()]), "{p:?}");
        assert!(p.steps[1].action.contains("GET /jobmanager/logs/NAME"));
    }
}
