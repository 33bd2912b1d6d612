//! Reports: the scan document and its renderings.
//!
//! JSON Lines is streamed while the scan runs; JSON, SARIF and the text
//! summary are rendered from the finished [`ScanReport`]. What lives here:
//! the document itself (this module), `sarif`, `jsonl` (ECS) with `ocsf`
//! and `events`, `html`, `markdown`, `text` (the terminal summary),
//! `services` and `clusters` (spilling settled services and judged clusters
//! to a temporary file, `crate::spill`, to keep memory flat), `baseline`
//! (`--baseline`, `diff`) and `merge` (shards). Renderers are pure: writing
//! them to the planned destinations is the scan driver's
//! (`crate::scan::outputs`), through `crate::atomic` (mode 0600, atomic).

pub mod baseline;
pub mod clusters;
pub mod csv;
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
use crate::targets::Shard;
pub use clusters::{ClusterSpiller, Clusters};
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
    /// Spilled to disk past a few hundred ([`clusters`]).
    #[serde(default)]
    pub clusters: Clusters,
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
    pub status: ScanStatus,
    pub targets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<String>,
    pub ports: Vec<u16>,
    pub shard: Shards,
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
    /// Probes (`host:port`) a failing SOCKS5 proxy answered with garbage,
    /// a close or an error of its own: their ports are neither open,
    /// closed nor filtered as far as this scan knows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undecided: Vec<String>,
    /// `--min-severity`: findings below it were left out of this report
    /// (a notice says how many).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    /// Endpoints (`host:port`) outside the sweep's port list that the scan
    /// probed because a JobManager named them (`--follow`), open or not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub followed: Vec<String>,
}

/// The slices of the target space a report covers (`scan.shard`): one
/// (`2/4`), the whole (`0/1`), or after a merge of some but not all of a
/// scan's shards, several of one count (`0/4,2/4`). Text in JSON, as it
/// always was; a list that mixes counts or repeats a slice does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shards(Vec<Shard>);

impl Shards {
    pub fn whole() -> Shards {
        Shards(vec![Shard::ALL])
    }

    pub fn is_whole(&self) -> bool {
        self.0 == [Shard::ALL]
    }

    pub fn iter(&self) -> impl Iterator<Item = &Shard> {
        self.0.iter()
    }

    /// How many slices the scan was cut into.
    pub fn count(&self) -> u64 {
        self.0.first().map_or(1, |s| s.count)
    }

    /// The slices of one count in index order, or the whole when all of
    /// them are there. None if the counts differ or a slice repeats.
    pub fn union(mut slices: Vec<Shard>) -> Option<Shards> {
        let count = slices.first()?.count;
        if slices.iter().any(|s| s.count != count) {
            return None;
        }
        slices.sort_by_key(|s| s.index);
        if slices.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
        Some(if slices.len() as u64 == count {
            Shards::whole()
        } else {
            Shards(slices)
        })
    }
}

impl From<Shard> for Shards {
    fn from(s: Shard) -> Shards {
        Shards(vec![s])
    }
}

impl std::fmt::Display for Shards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

/// A report's `scan.shard` that is not a shard list.
#[derive(Debug, thiserror::Error)]
pub enum ShardsError {
    #[error(transparent)]
    Shard(#[from] crate::targets::TargetError),
    #[error("shard list {0:?} mixes shard counts or repeats a shard")]
    Inconsistent(String),
}

impl std::str::FromStr for Shards {
    type Err = ShardsError;

    fn from_str(text: &str) -> Result<Shards, ShardsError> {
        let slices = text
            .split(',')
            .map(Shard::parse)
            .collect::<Result<Vec<_>, _>>()?;
        // Kept in the order written: a shard list is only ever written sorted.
        let parsed = Shards(slices.clone());
        match Shards::union(slices) {
            Some(_) => Ok(parsed),
            None => Err(ShardsError::Inconsistent(text.to_string())),
        }
    }
}

impl Serialize for Shards {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Shards {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Shards, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How a scan ended. Only a complete scan can say a port it covers is
/// closed (baselines, clusters) or exit clean.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScanStatus {
    #[default]
    Complete,
    /// SIGINT or SIGTERM.
    Interrupted,
    /// `--max-duration` elapsed.
    MaxDuration,
    /// The SOCKS5 proxy failed after the start check: the scan stopped,
    /// and the ports the failing proxy answered for are `scan.undecided`.
    ProxyFailed,
}

impl ScanStatus {
    /// The name in every output: `complete`, `interrupted`, `max-duration`,
    /// `proxy-failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Complete => "complete",
            ScanStatus::Interrupted => "interrupted",
            ScanStatus::MaxDuration => "max-duration",
            ScanStatus::ProxyFailed => "proxy-failed",
        }
    }
}

impl std::fmt::Display for ScanStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
    pub decided: crate::model::DecidedCounts,
}

impl ScanReport {
    /// Sort everything so two scans of the same state are byte-identical
    /// apart from ids and timestamps.
    pub fn normalise(&mut self) {
        // Unstable sorts need no buffer (a stable one takes up to half the
        // list again); keys are unique: one service per endpoint, one
        // finding per rule and endpoint.
        self.services
            .held_mut()
            .sort_unstable_by(|a, b| a.endpoint.cmp(&b.endpoint));
        self.findings
            .sort_unstable_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.notices
            .sort_by(|a, b| (&a.target, &a.message).cmp(&(&b.target, &b.message)));
        self.notices.dedup();
        self.scan.cut_short.sort();
        self.scan.not_identified.sort();
        self.scan.undecided.sort();
        self.scan.followed.sort();
        self.scan.followed.dedup();
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
        let whole = self.scan.shard.is_whole() && self.scan.status == ScanStatus::Complete;
        let ports = self.scan.ports.clone();
        let holds = |s: &Spec, ip: std::net::IpAddr| match s.hosts {
            Hosts::Range { lo, hi } => (lo..=hi).contains(&ip_to_u128(ip)),
            Hosts::Name(_) => false,
        };
        let followed: std::collections::HashSet<String> =
            self.scan.followed.iter().cloned().collect();
        let swept = move |ip: std::net::IpAddr, port: u16| {
            let followed = || followed.contains(&crate::model::Endpoint::new(ip, port).authority());
            whole
                && (targets
                    .iter()
                    .any(|s| holds(s, ip) && s.port.map_or(ports.contains(&port), |p| p == port))
                    || followed())
                && !excluded.iter().any(|s| holds(s, ip))
        };
        let mut spiller = ClusterSpiller::new();
        crate::clusters::build_each(self.services.held(), &mut self.findings, &swept, &mut |c| {
            spiller.push(c)
        });
        if let Some(why) = spiller.failure.take() {
            self.notices.push(Notice {
                target: "temporary file".into(),
                message: why,
            });
            self.notices
                .sort_by(|a, b| (&a.target, &a.message).cmp(&(&b.target, &b.message)));
            self.notices.dedup();
        }
        self.clusters = spiller.finish();
    }

    /// Read back once everything the scan kept on disk (services,
    /// clusters, finding bodies): a destination that cannot be replaced
    /// atomically (stdout, a FIFO) must not receive half a document when
    /// the file fails midway.
    pub fn verify(&self) -> std::io::Result<()> {
        self.services.verify()?;
        self.clusters.verify()?;
        self.findings.iter().try_for_each(|f| f.body().map(drop))
    }

    /// `--fail-on`: a finding at or above `threshold` that is not fixed.
    pub fn fails(&self, threshold: Option<Severity>) -> bool {
        self.failing(threshold, false) > 0
    }

    /// How many findings fail `--fail-on threshold`: present ones at or
    /// above it, with `only_new` (`--fail-on-new`) only those a baseline
    /// marked new.
    pub fn failing(&self, threshold: Option<Severity>, only_new: bool) -> usize {
        let Some(t) = threshold else { return 0 };
        self.findings
            .iter()
            .filter(|f| f.severity >= t && !f.is_fixed())
            .filter(|f| !only_new || f.baseline_state == Some(crate::model::BaselineState::New))
            .count()
    }

    /// `--min-severity`: leave the findings below `min` out of this report,
    /// and say so in its notices and `scan.min_severity`.
    pub fn keep_at_least(&mut self, min: Severity) {
        let before = self.findings.len();
        self.findings.retain(|f| f.severity >= min);
        let left_out = before - self.findings.len();
        let kept = self.findings.iter().map(Finding::id).collect();
        self.clusters.keep_findings(kept);
        self.scan.min_severity = Some(min);
        self.notices.push(Notice {
            target: format!("--min-severity {min}"),
            message: format!(
                "{left_out} finding{} below {min} left out of this report",
                if left_out == 1 { "" } else { "s" }
            ),
        });
        self.normalise();
    }

    /// Checks that could not run (`ENDPOINT RULE`) whose rule is at or
    /// above `threshold`: unknown is not clean, so `--fail-on` counts them.
    /// Flink services are always held in memory, and only they are checked.
    pub fn unchecked_failing(
        &self,
        threshold: Option<Severity>,
        catalog: &crate::checks::catalog::Catalog,
    ) -> Vec<String> {
        let Some(t) = threshold else {
            return Vec::new();
        };
        self.services
            .held()
            .iter()
            .flat_map(|s| s.unchecked.iter().map(move |r| (s, r)))
            .filter(|(_, r)| catalog.rule(r).is_some_and(|rule| rule.severity >= t))
            .map(|(s, r)| format!("{} {r}", s.endpoint.authority()))
            .collect()
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
