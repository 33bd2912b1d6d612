//! From raw arguments to a validated scan plan. Every user error is found
//! here, before any packet is sent, and names the token and where it was.

use std::path::PathBuf;
use std::time::Duration;

use crate::checks::catalog::Catalog;
use crate::checks::RuleFilter;
use crate::cli::ScanArgs;
use crate::targets::ports::{parse_ports, PortsError, DEFAULT_PORTS};
use crate::targets::{parse_lines, parse_spec, Origin, Shard, Spec, SpecError, TargetError};

/// The default permutation seed: fixed, so shards computed on different
/// machines agree and repeated scans probe in the same order.
pub const DEFAULT_SEED: u64 = 0x666c_696e_6b73_6361;

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
}

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
    pub rate: Option<u32>,
    pub timeout: Duration,
    pub retries: u32,
    pub probe_timeout: Duration,
    pub identify_concurrency: usize,
    pub max_duration: Option<Duration>,
    pub intrusive: bool,
    pub tls_audit: bool,
    pub rules: Vec<String>,
    pub skip_rules: Vec<String>,
    pub jsonl: Option<PathBuf>,
    pub jsonl_format: crate::report::jsonl::Format,
    pub progress: bool,
}

fn read_file(path: &PathBuf) -> Result<String, TargetError> {
    std::fs::read_to_string(path).map_err(|source| TargetError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Parse command-line tokens and files into specs, collecting every error.
fn collect_specs(tokens: &[String], files: &[PathBuf]) -> Result<Vec<Spec>, TargetError> {
    let mut specs = Vec::new();
    let mut errors: Vec<SpecError> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        match parse_spec(t, Origin::Arg(i + 1)) {
            Ok(s) => specs.push(s),
            Err(e) => errors.push(e),
        }
    }
    for f in files {
        let text = read_file(f)?;
        match parse_lines(&f.display().to_string(), &text) {
            Ok(mut s) => specs.append(&mut s),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(specs)
    } else {
        Err(TargetError::BadSpecs(errors))
    }
}

pub fn build(args: &ScanArgs, env: impl Fn(&str) -> Option<String>) -> Result<ScanPlan, PlanError> {
    let targets = collect_specs(&args.targets, &args.input)?;
    if targets.is_empty() {
        return Err(TargetError::Empty.into());
    }
    // Link-local only as a target: excluding fe80::/10 is harmless.
    let link_local: Vec<SpecError> = targets.iter().filter_map(Spec::link_local_error).collect();
    if !link_local.is_empty() {
        return Err(TargetError::BadSpecs(link_local).into());
    }
    let excludes = collect_specs(&args.exclude, &args.exclude_file)?;
    let ports = match &args.ports {
        Some(list) => parse_ports(list)?,
        None => DEFAULT_PORTS.to_vec(),
    };
    let shard = match (&args.shard, args.shard_count) {
        (Some(_), Some(_)) => return Err(PlanError::ShardBoth),
        (Some(s), None) => Shard::parse(s)?,
        (None, Some(count)) => {
            let var = &args.shard_index_env;
            let problem = |p: &str| PlanError::ShardEnv {
                count,
                var: var.clone(),
                problem: p.to_string(),
            };
            let value = env(var).ok_or_else(|| problem("is not set"))?;
            let index: u64 = value
                .trim()
                .parse()
                .map_err(|_| problem(&format!("is `{value}`, not a number")))?;
            if count == 0 || index >= count {
                return Err(problem(&format!("is {index}, outside 0..{count}")));
            }
            Shard { index, count }
        }
        (None, None) => Shard::ALL,
    };
    Ok(ScanPlan {
        targets,
        excludes,
        ports,
        seed: args.seed,
        shard,
        allow_large: args.allow_large,
        concurrency: args.concurrency,
        rate: args.rate,
        timeout: args.timeout,
        retries: args.retries,
        probe_timeout: args.probe_timeout,
        identify_concurrency: args.identify_concurrency.max(1),
        max_duration: args.max_duration,
        intrusive: args.intrusive,
        tls_audit: !args.no_tls_audit,
        rules: args.rules.clone(),
        skip_rules: args.skip_rules.clone(),
        jsonl: args.jsonl.clone(),
        jsonl_format: args.jsonl_format,
        progress: !args.quiet,
    })
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
