//! What an unauthenticated reader takes away from a JobManager or a
//! HistoryServer: the jobs (names, states, the sources and sinks their
//! operators name, the keys of their global job parameters and which of
//! them hold credentials, where their checkpoints live), the uploaded jars
//! and the logs. GET requests only, each through the bounded transport
//! (deny-list, `--probe-timeout`), and bounded in number and bytes:
//! [`MAX_JOBS_IN_DEPTH`] jobs in depth (running first, the rest counted),
//! [`MAX_LOG_BYTES`] per log file and [`MAX_LOG_BYTES_PER_CLUSTER`] per
//! JobManager.
//!
//! Secret values stop here: the records keep key names, a secret's kind,
//! length and salted fingerprint (`model::Seen`), never a value. The
//! findings are made from these records (`checks::jobs`).

pub mod flink;
pub mod logs;
pub mod secrets;
pub mod text;

use std::collections::BTreeMap;

use crate::model::{Jar, Job, JobInventory, LogRead, Parameter, ParameterStatus};
use crate::transport::answers::Answers;
use crate::transport::http::{HttpError, HttpTarget, Response, MAX_BODY};
use secrets::Verdict;

/// Jobs read in depth per JobManager or HistoryServer (running first).
pub const MAX_JOBS_IN_DEPTH: usize = 50;
/// Bytes read of one log file (its start: where Flink prints its JVM
/// options, program arguments and configuration).
pub const MAX_LOG_BYTES: usize = 256 * 1024;
/// Log bytes read per JobManager, its TaskManagers' included.
pub const MAX_LOG_BYTES_PER_CLUSTER: usize = 1024 * 1024;
/// The job list may be larger than one ordinary answer ([`MAX_BODY`]):
/// 4 MiB hold about 13,000 jobs.
pub const MAX_OVERVIEW_BYTES: usize = 4 * 1024 * 1024;
/// TaskManager logs read per JobManager (within the byte budget).
pub const MAX_TASKMANAGER_LOGS: usize = 3;
/// Parameter keys kept per job; more are counted.
pub const MAX_PARAMETERS: usize = 200;
/// Operators (sources, sinks) kept per job.
pub const MAX_OPERATORS: usize = 32;
/// Jars and log file names kept.
pub const MAX_LISTED: usize = 100;
/// Secrets (and masked keys) kept per log file.
pub const MAX_SECRETS_PER_LOG: usize = 50;

/// Which interface is read: a HistoryServer has jobs but no jars or logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    JobManager,
    HistoryServer,
}

/// Read the inventory of the jobs `overview` lists (the 200 answer to
/// `GET /jobs/overview`, read once by the caller, at most
/// [`MAX_OVERVIEW_BYTES`]). `None` when that answer does not parse; trouble
/// with single requests goes to `errors` (endpoint and reason, never a
/// body).
pub async fn collect(
    target: &HttpTarget,
    answers: &Answers,
    source: Source,
    overview: &Response,
    errors: &mut Vec<String>,
) -> Option<JobInventory> {
    let overview: flink::Overview = match flink::parse("GET /jobs/overview", &overview.body) {
        Ok(o) => o,
        Err(e) => {
            errors.push(e.to_string());
            return None;
        }
    };
    let mut inv = JobInventory {
        listed: overview.jobs.len(),
        ..Default::default()
    };
    for j in &overview.jobs {
        *inv.states.entry(state_name(&j.state)).or_default() += 1;
    }
    let mut r = Reader {
        target,
        answers,
        errors,
        timeouts: 0,
    };
    for j in in_depth(overview.jobs) {
        if r.stalled() {
            break;
        }
        inv.jobs.push(read_job(&mut r, j).await);
    }
    if source == Source::JobManager {
        inv.jars = read_jars(&mut r).await;
        read_logs(&mut r, &mut inv).await;
    }
    if r.stalled() {
        r.errors.push(format!(
            "job inventory stopped after {MAX_TIMEOUTS} requests timed out: {} of {} jobs read in depth",
            inv.jobs.len(),
            inv.listed
        ));
    }
    Some(inv)
}

fn state_name(state: &str) -> String {
    let s = crate::untrusted::clean(state, 24);
    if s.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !s.is_empty() {
        s
    } else {
        "OTHER".into()
    }
}

/// The jobs read in depth: valid ids only, running first, then the most
/// recently started, at most [`MAX_JOBS_IN_DEPTH`].
fn in_depth(mut jobs: Vec<flink::OverviewJob>) -> Vec<flink::OverviewJob> {
    jobs.retain(|j| j.jid.len() == 32 && j.jid.chars().all(|c| c.is_ascii_hexdigit()));
    jobs.sort_by(|a, b| {
        (b.state == "RUNNING")
            .cmp(&(a.state == "RUNNING"))
            .then(b.start_time.cmp(&a.start_time))
            .then(a.jid.cmp(&b.jid))
    });
    jobs.dedup_by(|a, b| a.jid == b.jid);
    jobs.truncate(MAX_JOBS_IN_DEPTH);
    jobs
}

/// Requests that time out before the inventory of one interface stops: a
/// peer that stalls every answer must not hold the scan for 200 timeouts.
pub const MAX_TIMEOUTS: usize = 3;

/// The requests of one inventory, and the trouble they met.
struct Reader<'a> {
    target: &'a HttpTarget,
    /// What the checks already read of this service (`/jars`,
    /// `/taskmanagers`); job pages and logs are read here only.
    answers: &'a Answers,
    errors: &'a mut Vec<String>,
    timeouts: usize,
}

impl Reader<'_> {
    fn stalled(&self) -> bool {
        self.timeouts >= MAX_TIMEOUTS
    }

    fn failed(&mut self, path: &str, e: &HttpError) {
        if matches!(e, HttpError::Timeout(_)) {
            self.timeouts += 1;
        }
        self.errors.push(format!("GET {path}: {e}"));
    }

    async fn json<T: serde::de::DeserializeOwned>(&mut self, path: &str) -> Option<T> {
        self.json_of(path, false).await
    }

    /// [`json`](Self::json) of an answer the checks share ([`Answers`]).
    async fn shared_json<T: serde::de::DeserializeOwned>(&mut self, path: &str) -> Option<T> {
        self.json_of(path, true).await
    }

    async fn json_of<T: serde::de::DeserializeOwned>(
        &mut self,
        path: &str,
        shared: bool,
    ) -> Option<T> {
        if self.stalled() {
            return None;
        }
        let answer = if shared {
            self.answers.get(self.target, path).await
        } else {
            self.target.get(path).await
        };
        match answer {
            Ok(r) if r.status == 200 => match flink::parse(&format!("GET {path}"), &r.body) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.errors.push(e.to_string());
                    None
                }
            },
            Ok(_) => None,
            Err(e) => {
                self.failed(path, &e);
                None
            }
        }
    }
}

fn rfc3339_ms(ms: i64) -> Option<String> {
    if ms <= 0 {
        return None;
    }
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

async fn read_job(r: &mut Reader<'_>, o: flink::OverviewJob) -> Job {
    let id = o.jid.to_ascii_lowercase();
    let mut job = Job {
        name: secrets::safe_name(&o.name, 160),
        state: state_name(&o.state),
        start_time: rfc3339_ms(o.start_time),
        duration_ms: u64::try_from(o.duration).ok(),
        sources: Vec::new(),
        sinks: Vec::new(),
        parameters: Vec::new(),
        parameters_listed: 0,
        checkpoint_storage: None,
        checkpoint_location: None,
        id,
    };
    let base = format!("/jobs/{}", job.id);
    if let Some(d) = r.json::<flink::JobDetails>(&base).await {
        let (sources, sinks) = flows(d.vertices.iter().map(|v| v.name.as_str()));
        job.sources = sources;
        job.sinks = sinks;
    }
    if let Some(c) = r.json::<flink::JobConfig>(&format!("{base}/config")).await {
        let params = c
            .execution_config
            .and_then(|e| e.user_config)
            .unwrap_or_default();
        job.parameters_listed = params.len();
        job.parameters = parameters(&params);
    }
    if let Some(c) = r
        .json::<flink::CheckpointConfig>(&format!("{base}/checkpoints/config"))
        .await
    {
        job.checkpoint_storage = c.checkpoint_storage.map(|s| secrets::safe_name(&s, 120));
    }
    if let Some(c) = r
        .json::<flink::Checkpoints>(&format!("{base}/checkpoints"))
        .await
    {
        job.checkpoint_location = c
            .latest
            .completed
            .or(c.latest.savepoint)
            .and_then(|c| c.external_path)
            .and_then(|p| location(&p));
    }
    job
}

/// Judge every parameter; secrets and masked keys first, so the bound
/// never drops one of them in favour of a plain key.
fn parameters(params: &BTreeMap<String, String>) -> Vec<Parameter> {
    let mut out: Vec<Parameter> = params
        .iter()
        .map(|(k, v)| {
            let (status, secret) = match secrets::classify(k, v) {
                Verdict::Clear(kind) => (ParameterStatus::Secret, Some(secrets::seen(kind, v))),
                Verdict::Masked => (ParameterStatus::Masked, None),
                Verdict::NotSecret => (ParameterStatus::Plain, None),
            };
            Parameter {
                key: secrets::safe_name(k, 120),
                status,
                secret,
            }
        })
        .collect();
    out.sort_by_key(|p| match p.status {
        ParameterStatus::Secret => 0,
        ParameterStatus::Masked => 1,
        ParameterStatus::Plain => 2,
    });
    out.truncate(MAX_PARAMETERS);
    out
}

/// Sources and sinks from vertex names: chained operators are joined by
/// ` -> `; Flink prefixes `Source: ` and `Sink: ` (DataStream API) and
/// names table scans `TableSourceScan(...)` and table sinks `Sink(...)`.
pub fn flows<'a>(vertices: impl Iterator<Item = &'a str>) -> (Vec<String>, Vec<String>) {
    let mut sources = Vec::new();
    let mut sinks = Vec::new();
    for op in vertices.flat_map(|v| v.split(" -> ")) {
        let op = op.trim();
        let (list, name) = if let Some(n) = op.strip_prefix("Source: ") {
            (&mut sources, n)
        } else if op.starts_with("TableSourceScan(") {
            (&mut sources, op)
        } else if let Some(n) = op.strip_prefix("Sink: ") {
            (&mut sinks, n)
        } else if op.starts_with("Sink(") {
            (&mut sinks, op)
        } else {
            continue;
        };
        let name = secrets::safe_name(name, 160);
        if !list.contains(&name) && list.len() < MAX_OPERATORS {
            list.push(name);
        }
    }
    (sources, sinks)
}

/// A checkpoint path without its user and password; `None` for Flink's
/// placeholder of state kept in the JobManager's memory.
fn location(path: &str) -> Option<String> {
    if path.starts_with('<') || path.trim().is_empty() {
        return None;
    }
    let no_user = match path.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(authority_end);
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{tail}")
        }
        None => path.to_string(),
    };
    Some(secrets::safe_name(&no_user, 200))
}

async fn read_jars(r: &mut Reader<'_>) -> Option<Vec<Jar>> {
    let list: flink::JarList = r.shared_json("/jars").await?;
    Some(
        list.files
            .into_iter()
            .take(MAX_LISTED)
            .map(|f| Jar {
                name: secrets::safe_name(&f.name, 160),
                uploaded: rfc3339_ms(f.uploaded),
                entry: f
                    .entry
                    .iter()
                    .take(8)
                    .map(|e| secrets::safe_name(&e.name, 160))
                    .collect(),
            })
            .collect(),
    )
}

/// The JobManager's log, then up to [`MAX_TASKMANAGER_LOGS`] TaskManager
/// logs, while the byte budget lasts.
async fn read_logs(r: &mut Reader<'_>, inv: &mut JobInventory) {
    if let Some(list) = r.json::<flink::LogList>("/jobmanager/logs").await {
        // Files that are not logs first, so the bound never drops one
        // (`checks::jobs` reports them).
        let (sensitive, rest): (Vec<&flink::LogFile>, Vec<&flink::LogFile>) = list
            .logs
            .iter()
            .partition(|l| logs::sensitive_file(&l.name).is_some());
        inv.log_files = Some(
            sensitive
                .into_iter()
                .chain(rest)
                .take(MAX_LISTED)
                .map(|l| secrets::safe_name(&l.name, 120))
                .collect(),
        );
    }
    let mut budget = MAX_LOG_BYTES_PER_CLUSTER;
    if let Some(read) = read_log(r, "jobmanager".into(), "/jobmanager/log", &mut budget).await {
        inv.logs.push(read);
    }
    let Some(tms) = r.shared_json::<flink::TaskManagers>("/taskmanagers").await else {
        return;
    };
    let ids = tms
        .taskmanagers
        .into_iter()
        .map(|t| t.id)
        // Ids go into a path: Flink's are `host:port-suffix` or a UUID.
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 128
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".:_-".contains(c))
        })
        .take(MAX_TASKMANAGER_LOGS);
    for id in ids {
        if budget == 0 {
            break;
        }
        let path = format!("/taskmanagers/{id}/log");
        if let Some(read) = read_log(r, format!("taskmanager {id}"), &path, &mut budget).await {
            inv.logs.push(read);
        }
    }
}

async fn read_log(
    r: &mut Reader<'_>,
    source: String,
    path: &str,
    budget: &mut usize,
) -> Option<LogRead> {
    let limit = MAX_LOG_BYTES.min(*budget);
    if limit == 0 || r.stalled() {
        return None;
    }
    let (resp, cut): (Response, bool) = match r.target.get_capped(path, limit, true).await {
        Ok((resp, cut)) if resp.status == 200 => (resp, cut),
        Ok(_) => return None,
        Err(e) => {
            r.failed(path, &e);
            return None;
        }
    };
    *budget = budget.saturating_sub(resp.body.len());
    // A JSON error document is not a log.
    if resp.body.starts_with(b"{\"errors\"") {
        return None;
    }
    let text = String::from_utf8_lossy(&resp.body);
    let (found, masked) = logs::scan(&text);
    Some(LogRead {
        source: secrets::safe_name(&source, 160),
        path: format!("GET {}", crate::untrusted::clean(path, 160)),
        bytes: resp.body.len(),
        cut,
        secrets: found,
        masked,
    })
}

// The ordinary cap is what single job pages are read with; the log and job
// list caps are separate and larger on purpose.
const _: () = assert!(MAX_BODY <= MAX_OVERVIEW_BYTES && MAX_LOG_BYTES <= MAX_LOG_BYTES_PER_CLUSTER);

#[cfg(test)]
mod tests {
    use super::*;

    fn job(jid: &str, state: &str, start: i64) -> flink::OverviewJob {
        flink::OverviewJob {
            jid: jid.into(),
            name: "n".into(),
            state: state.into(),
            start_time: start,
            end_time: None,
            duration: 1,
        }
    }

    #[test]
    fn running_first_then_recent_and_bounded() {
        let mut jobs: Vec<flink::OverviewJob> = (0..120)
            .map(|i| {
                job(
                    &format!("{i:032x}"),
                    if i % 10 == 0 { "RUNNING" } else { "FINISHED" },
                    i,
                )
            })
            .collect();
        jobs.push(job("../../jars/x/run", "RUNNING", 999));
        let picked = in_depth(jobs);
        assert_eq!(picked.len(), MAX_JOBS_IN_DEPTH);
        assert!(picked[..12].iter().all(|j| j.state == "RUNNING"));
        assert_eq!(picked[0].start_time, 110);
        assert_eq!(picked[12].start_time, 119);
        assert!(picked.iter().all(|j| j.jid.len() == 32));
    }

    #[test]
    fn flows_from_vertex_names() {
        let (src, sink) = flows(
            [
                "Source: KafkaSource-orders -> enrich -> Sink: JdbcSink-orders_enriched",
                "TableSourceScan(table=[[default_catalog, default_database, payments]], fields=[id]) -> Sink(table=[default_catalog.default_database.audit], fields=[id])",
                "Source: KafkaSource-orders",
            ]
            .into_iter(),
        );
        assert_eq!(src.len(), 2);
        assert_eq!(src[0], "KafkaSource-orders");
        assert_eq!(sink[0], "JdbcSink-orders_enriched");
        assert!(sink[1].starts_with("Sink(table="));
    }

    #[test]
    fn parameters_and_locations_keep_no_value() {
        let params: BTreeMap<String, String> = [
            ("db.password", "******"),
            (
                "kafka.sasl.jaas",
                r#"x.PlainLoginModule required username="a" password="p4ss";"#,
            ),
            ("kafka.topic", "orders"),
            ("sink.key", "AKIAIOSFODNN7EXAMPLE"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let p = parameters(&params);
        let status: Vec<(&str, ParameterStatus)> =
            p.iter().map(|p| (p.key.as_str(), p.status)).collect();
        assert_eq!(
            status,
            vec![
                ("kafka.sasl.jaas", ParameterStatus::Secret),
                ("sink.key", ParameterStatus::Secret),
                ("db.password", ParameterStatus::Masked),
                ("kafka.topic", ParameterStatus::Plain),
            ]
        );
        let json = serde_json::to_string(&p).unwrap_or_default();
        assert!(
            !json.contains("p4ss") && !json.contains("AKIAIOSFODNN7EXAMPLE"),
            "{json}"
        );
        assert_eq!(
            location("s3://AKIAIOSFODNN7EXAMPLE:s3cret@bucket/cp/chk-5").as_deref(),
            Some("s3://bucket/cp/chk-5")
        );
        assert_eq!(location("<checkpoint-not-externally-addressable>"), None);
        assert_eq!(
            location("file:/tmp/cp/chk-1").as_deref(),
            Some("file:/tmp/cp/chk-1")
        );
    }
}
