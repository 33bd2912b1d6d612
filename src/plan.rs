//! From raw arguments to a validated scan plan. Every user error is found
//! here, before any packet is sent, and names the token and where it was.

use std::path::PathBuf;
use std::time::Duration;

use crate::atomic::{Dest, DestError};
use crate::checks::catalog::Catalog;
use crate::checks::RuleFilter;
use crate::targets::ports::PortsError;
use crate::targets::{parse_spec, Origin, Shard, Spec, SpecError, TargetError};

pub use crate::targets::permute::DEFAULT_SEED;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    #[error(transparent)]
    Targets(#[from] TargetError),
    #[error(transparent)]
    Ports(#[from] PortsError),
    #[error(
        "--shard-count {count}: environment variable {} {}",
        crate::untrusted::shown(.var),
        crate::untrusted::shown(.problem)
    )]
    ShardEnv {
        count: u64,
        var: String,
        problem: String,
    },
    #[error("give either --shard or --shard-count, not both")]
    ShardBoth,
    #[error(transparent)]
    Rules(#[from] crate::checks::UnknownRules),
    #[error("{flag} {path}: {source}")]
    Output {
        flag: &'static str,
        path: String,
        #[source]
        source: DestError,
    },
    #[error("-o {}: a base name for files, not stdout; give each format its own flag to stream one (--jsonl -)", crate::untrusted::shown(.0))]
    OutputAllStdout(String),
    #[error("{first} and {second} {clash}; give one of them another destination")]
    OutputClash {
        first: String,
        second: String,
        clash: &'static str,
    },
}

/// One output flag and where it writes.
#[derive(Debug, Clone)]
pub struct Output {
    pub flag: &'static str,
    pub path: PathBuf,
    pub dest: Dest,
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.flag, self.path.display())
    }
}

/// In-flight connections through a SOCKS5 proxy unless `--concurrency` says otherwise.
pub const PROXY_DEFAULT_CONCURRENCY: usize = 256;

/// Everything a scan needs, validated.
#[derive(Debug, Clone)]
pub struct ScanPlan {
    pub targets: Vec<Spec>,
    pub excludes: Vec<Spec>,
    pub ports: Vec<u16>,
    pub seed: u64,
    pub shard: Shard,
    pub allow_large: bool,
    pub concurrency: Option<usize>,
    /// SOCKS5 jump host every connection goes through.
    pub proxy: Option<crate::net::Proxy>,
    pub rate: Option<u32>,
    pub timeout: Duration,
    pub retries: Option<u32>,
    pub probe_timeout: Duration,
    /// Resolving target and exclusion names.
    pub dns_timeout: Duration,
    pub identify_concurrency: usize,
    pub max_duration: Option<Duration>,
    pub intrusive: bool,
    pub tls_audit: bool,
    /// Look for Flink under a path prefix on HTTP ports (`--no-prefix-discovery`).
    pub discover_prefixes: bool,
    /// Probe the ports a JobManager names on hosts inside the targets (`--no-follow`).
    pub follow: bool,
    pub rules: Vec<String>,
    pub skip_rules: Vec<String>,
    pub json: Option<Output>,
    pub sarif: Option<Output>,
    pub jsonl: Option<Output>,
    pub html: Option<Output>,
    pub markdown: Option<Output>,
    pub csv: Option<Output>,
    /// `--min-severity`: findings below it are left out of every output.
    pub min_severity: Option<crate::model::Severity>,
    /// `--quiet`: nothing on stdout or stderr unless something needs attention.
    pub quiet: bool,
    pub jsonl_format: crate::report::jsonl::Format,
    pub progress: bool,
    /// `--state` or `--resume`: where checkpoints go.
    pub state: Option<PathBuf>,
    /// `--resume`: the checkpoint must exist.
    pub resume: bool,
}

/// Parse command-line tokens and files into specs, collecting every error.
pub fn collect_specs(tokens: &[String], files: &[PathBuf]) -> Result<Vec<Spec>, TargetError> {
    let mut specs = Vec::new();
    let mut errors: Vec<SpecError> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        match parse_spec(t, Origin::Arg(i + 1)) {
            Ok(s) => specs.push(s),
            Err(e) => errors.push(e),
        }
    }
    for f in files {
        let (mut s, mut e) = crate::targets::read_input(f)?;
        specs.append(&mut s);
        errors.append(&mut e);
    }
    if errors.is_empty() {
        Ok(specs)
    } else {
        Err(TargetError::BadSpecs(errors))
    }
}

impl ScanPlan {
    /// Every output the plan writes, in the order they are listed to the user.
    pub fn outputs(&self) -> impl Iterator<Item = &Output> {
        [
            &self.json,
            &self.sarif,
            &self.jsonl,
            &self.html,
            &self.markdown,
            &self.csv,
        ]
        .into_iter()
        .flatten()
    }
}

/// `--rules` and `--skip-rules` against the catalog the scan will use
/// (embedded rules plus `--probes DIR`), before anything is sent.
pub fn check_rules(plan: &ScanPlan, catalog: &Catalog) -> Result<(), PlanError> {
    let filter = RuleFilter {
        only: plan.rules.clone(),
        skip: plan.skip_rules.clone(),
    };
    filter.check(catalog.rules.keys().map(String::as_str))?;
    Ok(())
}

/// Check every output destination before anything is sent, so an hour's
/// scan never ends in "cannot write": each must be usable, at most one may
/// be stdout, and no two may be the same file.
pub fn outputs<const N: usize>(
    flags: [(&'static str, &Option<PathBuf>); N],
) -> Result<[Option<Output>; N], PlanError> {
    let mut checked: [Option<Output>; N] = std::array::from_fn(|_| None);
    for (slot, (flag, path)) in checked.iter_mut().zip(flags) {
        let Some(path) = path else { continue };
        let dest = Dest::check(path).map_err(|source| PlanError::Output {
            flag,
            path: path.display().to_string(),
            source,
        })?;
        *slot = Some(Output {
            flag,
            path: path.clone(),
            dest,
        });
    }
    let given: Vec<&Output> = checked.iter().flatten().collect();
    for (i, a) in given.iter().enumerate() {
        for b in &given[i + 1..] {
            let clash = if a.dest == Dest::Stdout && b.dest == Dest::Stdout {
                "both write to stdout"
            } else if a.dest.identity() == b.dest.identity() {
                "name the same file"
            } else {
                continue;
            };
            return Err(PlanError::OutputClash {
                first: a.to_string(),
                second: b.to_string(),
                clash,
            });
        }
    }
    Ok(checked)
}
