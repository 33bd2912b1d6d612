//! The job inventory in the cluster view: the card's "what runs there"
//! and the attack paths that end in a job's credentials. Pure over the
//! report's services and findings, like the rest of `crate::clusters`.

use serde::{Deserialize, Serialize};

use super::{AttackPath, PathStep};
use crate::checks::rule_ids;
use crate::inventory::text::{flow_text, job_line, list, summary};
use crate::model::{Finding, Job, JobInventory, Service, ServiceKind};

/// Jobs named on a cluster card; the rest are counted.
pub const MAX_CARD_JOBS: usize = 10;

/// What runs on one cluster, for its card and the terminal summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterJobs {
    /// One sentence: "3 running jobs (5 listed): orders-enrichment reads
    /// KafkaSource-orders, writes JdbcSink; 2 of them expose credentials".
    pub summary: String,
    /// Jobs the JobManagers (and HistoryServers) listed.
    pub listed: usize,
    pub running: usize,
    /// Jobs read in depth whose parameters hold a credential in clear.
    pub exposing_credentials: usize,
    /// Up to [`MAX_CARD_JOBS`] jobs, one line each, running first.
    pub jobs: Vec<String>,
}

/// The cluster card's job summary (`None` when no member has an inventory).
pub fn cluster_jobs(services: &[&Service], _findings: &[&Finding]) -> Option<ClusterJobs> {
    // A HistoryServer repeats the jobs its JobManager ran: count the
    // JobManagers when there is one.
    let jm: Vec<&JobInventory> = inventories(services, Some(ServiceKind::JobmanagerRest));
    let invs = if jm.is_empty() {
        inventories(services, None)
    } else {
        jm
    };
    if invs.is_empty() {
        return None;
    }
    let mut jobs: Vec<&Job> = invs.iter().flat_map(|i| i.jobs.iter()).collect();
    jobs.sort_by_key(|j| j.state != "RUNNING");
    Some(ClusterJobs {
        summary: summary(&invs),
        listed: invs.iter().map(|i| i.listed).sum(),
        running: invs
            .iter()
            .map(|i| i.states.get("RUNNING").copied().unwrap_or(0))
            .sum(),
        exposing_credentials: jobs.iter().filter(|j| j.secrets().next().is_some()).count(),
        jobs: jobs
            .iter()
            .take(MAX_CARD_JOBS)
            .map(|j| job_line(j))
            .collect(),
    })
}

fn inventories<'a>(services: &[&'a Service], kind: Option<ServiceKind>) -> Vec<&'a JobInventory> {
    services
        .iter()
        .filter(|s| kind.is_none_or(|k| s.kind == k))
        .filter_map(|s| s.deployment.as_ref()?.jobs.as_deref())
        .collect()
}

/// One path per job whose parameters expose credentials ("read job X's
/// credentials"), and one per log that holds some.
pub fn attack_paths(services: &[&Service], findings: &[&Finding]) -> Vec<AttackPath> {
    let mut paths = Vec::new();
    for f in findings
        .iter()
        .filter(|f| &*f.rule_id == rule_ids::JOB_SECRET_EXPOSED)
    {
        let Some(inv) = services
            .iter()
            .find(|s| s.endpoint == *f.endpoint)
            .and_then(|s| s.deployment.as_ref()?.jobs.as_ref())
        else {
            continue;
        };
        let place = if f.service == ServiceKind::HistoryServer {
            "HistoryServer"
        } else {
            "REST API"
        };
        for job in inv
            .jobs
            .iter()
            .filter(|j| j.secrets().next().is_some())
            .take(5)
        {
            let keys: Vec<String> = job
                .secrets()
                .map(|p| match &p.secret {
                    Some(s) => format!("{} ({})", p.key, s.kind.as_str()),
                    None => p.key.clone(),
                })
                .collect();
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            let systems = {
                let f = flow_text(job);
                if f.is_empty() {
                    "the systems the job connects to".to_string()
                } else {
                    format!("the systems the job connects to (it {f})")
                }
            };
            paths.push(AttackPath {
                rank: 0,
                severity: f.severity,
                title: format!(
                    "Read job {}'s credentials through the unauthenticated {place}",
                    job.name
                ),
                impact: format!("Whatever these credentials open: {systems}"),
                steps: vec![
                    PathStep {
                        action: format!(
                            "List the jobs with GET /jobs/overview at {} (no credentials needed)",
                            f.endpoint.place()
                        ),
                        findings: vec![f.id()],
                    },
                    PathStep {
                        action: format!(
                            "GET /jobs/{}/config: its global job parameters hold {}",
                            job.id,
                            list(&keys, 5)
                        ),
                        findings: vec![f.id()],
                    },
                    PathStep {
                        action: format!("Use them against {systems}"),
                        findings: vec![f.id()],
                    },
                ],
            });
        }
    }
    for f in findings
        .iter()
        .filter(|f| &*f.rule_id == rule_ids::LOG_SECRET_EXPOSED)
    {
        paths.push(AttackPath {
            rank: 0,
            severity: f.severity,
            title: "Read credentials from the cluster's logs through the unauthenticated REST API".into(),
            impact: "Whatever the logged credentials open (the finding names the keys)".into(),
            steps: vec![
                PathStep {
                    action: format!(
                        "GET /jobmanager/log (or /taskmanagers/:id/log) at {}",
                        f.endpoint.place()
                    ),
                    findings: vec![f.id()],
                },
                PathStep {
                    action: "Take the JVM options, program arguments or configuration values Flink printed unmasked".into(),
                    findings: vec![f.id()],
                },
            ],
        });
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::secrets::seen;
    use crate::model::{Parameter, ParameterStatus, SecretKind};

    fn job(name: &str, state: &str, secret: bool) -> Job {
        Job {
            id: "0".repeat(32),
            name: name.into(),
            state: state.into(),
            start_time: None,
            duration_ms: None,
            sources: vec!["KafkaSource-orders".into()],
            sinks: vec!["JdbcSink".into()],
            parameters: if secret {
                vec![Parameter {
                    key: "db.url".into(),
                    status: ParameterStatus::Secret,
                    secret: Some(seen(SecretKind::JdbcPassword, "x")),
                }]
            } else {
                Vec::new()
            },
            parameters_listed: 1,
            checkpoint_storage: None,
            checkpoint_location: None,
        }
    }

    #[test]
    fn summary_sentence() {
        let inv = JobInventory {
            listed: 5,
            states: [("RUNNING".to_string(), 3), ("FINISHED".to_string(), 2)]
                .into_iter()
                .collect(),
            jobs: vec![
                job("orders-enrichment", "RUNNING", true),
                job("audit", "RUNNING", true),
                job("old", "FINISHED", false),
            ],
            ..Default::default()
        };
        assert_eq!(
            summary(&[&inv]),
            "3 running jobs (5 listed): orders-enrichment reads KafkaSource-orders, writes JdbcSink; audit reads KafkaSource-orders, writes JdbcSink; 2 of them expose credentials"
        );
        assert_eq!(
            job_line(&inv.jobs[0]),
            "orders-enrichment (running) reads KafkaSource-orders, writes JdbcSink; credentials in clear: db.url"
        );
    }
}
