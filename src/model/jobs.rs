//! What runs on a JobManager or HistoryServer, as an unauthenticated reader
//! takes it away (`crate::inventory` reads it, `crate::checks::jobs` makes
//! the findings): jobs, their flows and parameter keys, jars, logs. Secret
//! values never reach these records: a secret is its kind, length and
//! salted fingerprint ([`Seen`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The jobs, jars and logs of one JobManager or HistoryServer, as
/// `deployment.jobs` in the JSON report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct JobInventory {
    /// Jobs `GET /jobs/overview` listed.
    pub listed: usize,
    /// How many of them are in each state (`RUNNING`, `FINISHED`, ...).
    #[serde(default)]
    pub states: BTreeMap<String, usize>,
    /// The jobs read in depth: at most `crate::inventory::MAX_JOBS_IN_DEPTH`, running first,
    /// then the most recent.
    #[serde(default)]
    pub jobs: Vec<Job>,
    /// Uploaded jars (`GET /jars`); `None` when not readable (web
    /// submission off, or a HistoryServer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jars: Option<Vec<Jar>>,
    /// File names `GET /jobmanager/logs` lists; `None` when not readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_files: Option<Vec<String>>,
    /// The log files read, and what they hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<LogRead>,
}

/// One job read in depth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub name: String,
    pub state: String,
    /// RFC 3339, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Operator names that say `Source: ...` (and table scans).
    #[serde(default)]
    pub sources: Vec<String>,
    /// Operator names that say `Sink: ...`.
    #[serde(default)]
    pub sinks: Vec<String>,
    /// The global job parameters' keys (`GET /jobs/:id/config`,
    /// `execution-config.user-config`), at most `crate::inventory::MAX_PARAMETERS`.
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    /// How many keys the job has.
    #[serde(default)]
    pub parameters_listed: usize,
    /// `checkpoint_storage` of `GET /jobs/:id/checkpoints/config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_storage: Option<String>,
    /// Where the latest checkpoint or savepoint lives, user and password
    /// removed (`GET /jobs/:id/checkpoints`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_location: Option<String>,
}

impl Job {
    pub fn secrets(&self) -> impl Iterator<Item = &Parameter> {
        self.parameters
            .iter()
            .filter(|p| p.status == ParameterStatus::Secret)
    }

    pub fn masked(&self) -> impl Iterator<Item = &Parameter> {
        self.parameters
            .iter()
            .filter(|p| p.status == ParameterStatus::Masked)
    }
}

/// One global job parameter: its key, and what its value is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameter {
    pub key: String,
    pub status: ParameterStatus,
    /// For a secret: its kind, length and fingerprint (never the value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Seen>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParameterStatus {
    /// A credential in clear.
    Secret,
    /// Flink answered `******`: a credential is set, this API hides it.
    Masked,
    /// Nothing that looks like a credential.
    Plain,
}

/// One uploaded jar (`GET /jars`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jar {
    pub name: String,
    /// RFC 3339, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded: Option<String>,
    /// Entry classes Flink found in it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry: Vec<String>,
}

/// One log file read (its first `crate::inventory::MAX_LOG_BYTES` at most).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRead {
    /// `jobmanager` or `taskmanager <id>`.
    pub source: String,
    /// The request that read it.
    pub path: String,
    pub bytes: usize,
    /// The file is longer than what was read.
    pub cut: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<LogSecret>,
    /// Keys whose values Flink printed as `******`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub masked: Vec<String>,
}

/// A credential in a log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSecret {
    /// 1-based line number in what was read.
    pub line: usize,
    /// The key, option or argument that holds it.
    pub key: String,
    pub secret: Seen,
}

/// A secret as reports may show it (made by `crate::inventory::secrets::seen`): never the value, only its length and
/// a fingerprint that tells equal values apart within one scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub kind: SecretKind,
    /// Characters in the value.
    pub length: usize,
    /// First 12 hex digits of SHA-256(salt ‖ value), the salt random per
    /// process and never written anywhere: the same password reused by two
    /// jobs shows the same fingerprint, and nobody can test guesses
    /// against it.
    pub fingerprint: String,
}

/// What makes a value a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretKind {
    /// A PEM private key block.
    PrivateKey,
    /// An AWS access key id (`AKIA...`, `ASIA...`).
    AwsAccessKey,
    /// A JDBC URL that carries a password.
    JdbcPassword,
    /// A JAAS login line with `password=`.
    JaasPassword,
    /// A URI with `user:password@`.
    UriCredentials,
    /// `password=...`, `token: ...` inside a longer value.
    EmbeddedPassword,
    /// The key's name says it holds a secret (`*.password`, `*token*`,
    /// `*secret*`, `*access-key*`, ...).
    SecretKeyName,
}

impl SecretKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::PrivateKey => "PEM private key",
            SecretKind::AwsAccessKey => "AWS access key id",
            SecretKind::JdbcPassword => "JDBC URL with a password",
            SecretKind::JaasPassword => "JAAS line with a password",
            SecretKind::UriCredentials => "URI with user:password@",
            SecretKind::EmbeddedPassword => "embedded password/token",
            SecretKind::SecretKeyName => "secret by key name",
        }
    }
}
