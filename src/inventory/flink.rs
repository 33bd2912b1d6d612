//! Strict parsers for the Flink REST answers the inventory reads. Each
//! returns an error naming the endpoint and the JSON path that did not fit,
//! never serde's own message: that one can quote the offending value, and
//! the values here are credentials.
//!
//! Shapes follow Flink's REST handlers (`flink-runtime`
//! `org.apache.flink.runtime.rest.messages`: `JobDetailsInfo`,
//! `JobConfigInfo`, `CheckpointConfigInfo`, `CheckpointingStatistics`,
//! `LogListInfo`; `flink-runtime-web` `JarListInfo`), measured the same on
//! 1.14.6, 1.20.1 and 2.3.0. Fields newer versions add are ignored; fields
//! every version sends are required.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Deserialize;

/// An answer that is not the JSON its endpoint sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{endpoint}: unexpected answer at `{path}` ({problem})")]
pub struct ParseError {
    pub endpoint: String,
    /// Where in the document (map keys are names, never values).
    pub path: String,
    pub problem: &'static str,
}

/// Parse `body` as `T`, with trailing garbage an error too.
pub fn parse<T: DeserializeOwned>(endpoint: &str, body: &[u8]) -> Result<T, ParseError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let fail = |path: String, e: &serde_json::Error| ParseError {
        endpoint: crate::untrusted::clean(endpoint, 120),
        path: super::secrets::safe_name(&path, 120),
        problem: match e.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "missing field or wrong type",
            serde_json::error::Category::Eof => "truncated",
        },
    };
    let value: T = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| fail(e.path().to_string(), e.inner()))?;
    de.end().map_err(|e| fail(".".into(), &e))?;
    Ok(value)
}

/// `GET /jobs/overview`.
#[derive(Debug, Clone, Deserialize)]
pub struct Overview {
    pub jobs: Vec<OverviewJob>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OverviewJob {
    pub jid: String,
    pub name: String,
    pub state: String,
    #[serde(rename = "start-time")]
    pub start_time: i64,
    #[serde(rename = "end-time", default)]
    pub end_time: Option<i64>,
    pub duration: i64,
}

/// `GET /jobs/:id`: the vertices name the sources and sinks.
#[derive(Debug, Clone, Deserialize)]
pub struct JobDetails {
    pub jid: String,
    pub vertices: Vec<Vertex>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Vertex {
    pub name: String,
    #[serde(default)]
    pub parallelism: Option<i64>,
}

/// `GET /jobs/:id/config`: `user-config` holds the global job parameters.
#[derive(Debug, Clone, Deserialize)]
pub struct JobConfig {
    pub jid: String,
    #[serde(rename = "execution-config", default)]
    pub execution_config: Option<ExecutionConfig>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ExecutionConfig {
    /// `GlobalJobParameters.toMap()`: strings only.
    #[serde(rename = "user-config", default)]
    pub user_config: Option<BTreeMap<String, String>>,
}

/// `GET /jobs/:id/checkpoints/config` (404 when checkpointing is off).
#[derive(Debug, Clone, Deserialize)]
pub struct CheckpointConfig {
    pub mode: String,
    pub interval: i64,
    /// Since 1.13: the storage class (`JobManagerCheckpointStorage`,
    /// `FileSystemCheckpointStorage`).
    #[serde(default)]
    pub checkpoint_storage: Option<String>,
    #[serde(default)]
    pub state_backend: Option<String>,
}

/// `GET /jobs/:id/checkpoints`: the latest completed checkpoint's path is
/// where the state lives.
#[derive(Debug, Clone, Deserialize)]
pub struct Checkpoints {
    pub latest: Latest,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Latest {
    #[serde(default)]
    pub completed: Option<CompletedCheckpoint>,
    #[serde(default)]
    pub savepoint: Option<CompletedCheckpoint>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CompletedCheckpoint {
    #[serde(default)]
    pub external_path: Option<String>,
}

/// `GET /jobmanager/logs` and `GET /taskmanagers/:id/logs`.
#[derive(Debug, Clone, Deserialize)]
pub struct LogList {
    pub logs: Vec<LogFile>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogFile {
    pub name: String,
    pub size: i64,
}

/// `GET /jars`.
#[derive(Debug, Clone, Deserialize)]
pub struct JarList {
    pub files: Vec<JarFile>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct JarFile {
    pub id: String,
    pub name: String,
    pub uploaded: i64,
    #[serde(default)]
    pub entry: Vec<JarEntry>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct JarEntry {
    pub name: String,
}

/// `GET /taskmanagers`: only the ids, to read their logs.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskManagers {
    pub taskmanagers: Vec<TaskManagerId>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TaskManagerId {
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_answers_parse() {
        // Measured on 2.3.0 (1.14.6 sends the same fields, fewer extras).
        let o: Overview = parse("/jobs/overview", br#"{"jobs":[{"jid":"02482cb4f80517f756fde353bd592b77","name":"orders-enrichment","jobType":"STREAMING","start-time":1796447709936,"end-time":-1,"duration":6241,"state":"RUNNING","tasks":{"running":1}}]}"#).unwrap();
        assert_eq!(o.jobs[0].state, "RUNNING");
        let c: JobConfig = parse("/jobs/x/config", br#"{"jid":"x","name":"n","execution-config":{"restart-strategy":"r","job-parallelism":1,"object-reuse-mode":false,"user-config":{"db.password":"******","kafka.topic":"orders"}}}"#).unwrap();
        let uc = c
            .execution_config
            .and_then(|e| e.user_config)
            .unwrap_or_default();
        assert_eq!(uc.len(), 2);
        let cp: Checkpoints = parse("/jobs/x/checkpoints", br#"{"counts":{},"latest":{"completed":{"id":2,"external_path":"<checkpoint-not-externally-addressable>"},"savepoint":null,"failed":null,"restored":null},"history":[]}"#).unwrap();
        assert!(cp.latest.completed.is_some());
    }

    #[test]
    fn errors_name_the_place_not_the_value() {
        let e = parse::<JobConfig>(
            "/jobs/x/config",
            br#"{"jid":"x","execution-config":{"user-config":{"db.password":42,"k":"hunter2"}}}"#,
        )
        .unwrap_err();
        assert_eq!(e.problem, "missing field or wrong type");
        assert!(e.path.contains("user-config"), "{e}");
        let e = parse::<JobConfig>(
            "/jobs/x/config",
            br#"{"jid":"x","execution-config":{"user-config":{"k":true}}} hunter2"#,
        )
        .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = parse::<Overview>("/jobs/overview", br#"{"jobs":[{"jid":"a"}]}"#).unwrap_err();
        assert!(e.to_string().contains("jobs[0]"), "{e}");
        assert!(parse::<Overview>("/jobs/overview", br#"{"jobs":[{"jid":"a","#).is_err());
    }
}
