//! Reports: the scan document and its renderings.
//!
//! JSON Lines is streamed while the scan runs; JSON, SARIF and the text
//! summary are rendered from the finished [`ScanReport`]. Every file is
//! written atomically with mode 0600 (`atomic`).

pub mod atomic;
pub mod baseline;
pub mod events;
pub mod html;
pub mod jsonl;
pub mod markdown;
pub mod merge;
pub mod ocsf;
pub mod sarif;
pub mod services;
pub mod text;

use serde::{Deserialize, Serialize};

use crate::model::{Finding, Notice, Severity};
pub use services::Services;

/// The whole result of one scan (or one shard of it): what `--json` writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanReport {
    pub tool: ToolInfo,
    pub scan: ScanMeta,
    pub stats: Stats,
    /// Streamed from disk when the scan spilled them ([`services`]).
    pub services: Services,
    pub findings: Vec<Finding>,
    pub notices: Vec<Notice>,
    /// The services grouped by deployment, with attack paths and posture
    /// (`crate::clusters`); absent from reports written before clusters.
    #[serde(default)]
    pub clusters: Vec<crate::clusters::Cluster>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

impl Default for ToolInfo {
    fn default() -> Self {
        ToolInfo {
            name: "flinkscan".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanMeta {
    pub id: String,
    /// RFC 3339, UTC.
    pub started: String,
    pub finished: String,
    pub duration_ms: u64,
    /// `complete`, `interrupted` or `max-duration`.
    pub status: String,
    pub targets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<String>,
    pub ports: Vec<u16>,
    pub shard: String,
    pub seed: u64,
    pub intrusive: bool,
    /// Distinct addresses in the whole target space (all shards).
    pub addresses: String,
    /// Probes in the whole space and in this shard.
    pub probes_total: u64,
    pub probes_shard: u64,
    /// Open ports (`host:port`) whose identification had started when the
    /// scan stopped early and did not finish within the grace period.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cut_short: Vec<String>,
    /// Open ports found whose identification never started: the scan
    /// stopped first. Both lists are also services of kind `unknown`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_identified: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    pub probed: u64,
    pub open: u64,
    pub closed: u64,
    pub filtered: u64,
    pub unreachable: u64,
    pub services_flink: u64,
    pub findings: u64,
    /// How the probes were decided, by reason (see `crate::model::DecidedBy`).
    #[serde(default)]
    pub decided: crate::sweep::DecidedCounts,
}

impl ScanReport {
    /// Sort everything so two scans of the same state are byte-identical
    /// apart from ids and timestamps.
    pub fn normalise(&mut self) {
        self.services
            .held_mut()
            .sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
        self.findings
            .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.notices
            .sort_by(|a, b| (&a.target, &a.message).cmp(&(&b.target, &b.message)));
        self.notices.dedup();
        self.scan.cut_short.sort();
        self.scan.not_identified.sort();
        self.stats.findings = self.findings.len() as u64;
        // Spilled services are never Flink's (`crate::hosts::settled`).
        self.stats.services_flink = self.services.held().iter().filter(|s| s.flink).count() as u64;
    }

    /// Group the services into clusters (again: pure over services and
    /// findings, so a merged or baselined report gets the same answer).
    pub fn build_clusters(&mut self) {
        use crate::targets::spec::{ip_to_u128, parse_spec, Hosts, Origin, Spec};
        let parse = |texts: &[String]| -> Vec<Spec> {
            texts
                .iter()
                .filter_map(|t| parse_spec(t, Origin::Arg(0)).ok())
                .collect()
        };
        let targets = parse(&self.scan.targets);
        let excluded = parse(&self.scan.excluded);
        // Only a whole, finished scan can say a port it covers is not there.
        let whole = self.scan.shard == "0/1" && self.scan.status == "complete";
        let ports = self.scan.ports.clone();
        let holds = |s: &Spec, ip: std::net::IpAddr| match s.hosts {
            Hosts::Range { lo, hi } => (lo..=hi).contains(&ip_to_u128(ip)),
            Hosts::Name(_) => false,
        };
        let swept = move |ip: std::net::IpAddr, port: u16| {
            whole
                && targets
                    .iter()
                    .any(|s| holds(s, ip) && s.port.map_or(ports.contains(&port), |p| p == port))
                && !excluded.iter().any(|s| holds(s, ip))
        };
        self.clusters = crate::clusters::build(self.services.held(), &mut self.findings, &swept);
    }

    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Milliseconds since the Unix epoch (OCSF timestamps).
pub fn now_unix_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Current time as RFC 3339 UTC with millisecond precision.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    now.format(&format)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".into())
}
