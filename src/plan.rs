//! From raw arguments to a validated scan plan. Every user error is found
//! here, before any packet is sent, and names the token and where it was.

use std::path::PathBuf;
use std::time::Duration;

use crate::checks::catalog::Catalog;
use crate::checks::RuleFilter;
use crate::cli::ScanArgs;
use crate::report::atomic::{Dest, DestError};
use crate::targets::ports::{parse_ports, PortsError, DEFAULT_PORTS};
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

pub fn build(args: &ScanArgs, env: impl Fn(&str) -> Option<String>) -> Result<ScanPlan, PlanError> {
    let stdin_uses = args
        .input
        .iter()
        .chain(&args.exclude_file)
        .filter(|p| p.as_os_str() == "-")
        .count();
    if stdin_uses > 1 {
        return Err(TargetError::StdinTwice.into());
    }
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
    let names = crate::targets::assemble::Names::of(args.proxy.as_ref());
    crate::targets::assemble::check_excludes(&excludes, names)?;
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
    let all =
        |own: &Option<PathBuf>, ext: &str| own.clone().or_else(|| with_ext(&args.output_all, ext));
    if let Some(base) = &args.output_all {
        if base.as_os_str() == "-" {
            return Err(PlanError::OutputAllStdout(base.display().to_string()));
        }
    }
    let [json, sarif, jsonl, html, markdown, csv] = outputs([
        ("--json", &all(&args.json, "json")),
        ("--sarif", &all(&args.sarif, "sarif")),
        ("--jsonl", &all(&args.jsonl, "jsonl")),
        ("--html", &all(&args.html, "html")),
        ("--markdown", &all(&args.markdown, "md")),
        ("--csv", &all(&args.csv, "csv")),
    ])?;
    Ok(ScanPlan {
        targets,
        excludes,
        ports,
        seed: args.seed,
        shard,
        allow_large: args.allow_large,
        // A jump host is one machine's sockets and often a small VM: keep
        // the window modest unless asked otherwise.
        concurrency: args
            .concurrency
            .or(args.proxy.as_ref().map(|_| PROXY_DEFAULT_CONCURRENCY)),
        proxy: args.proxy.clone(),
        rate: args.rate,
        timeout: args.timeout,
        retries: args.retries,
        probe_timeout: args.probe_timeout,
        dns_timeout: args.dns_timeout,
        identify_concurrency: args.identify_concurrency.max(1),
        max_duration: args.max_duration,
        intrusive: args.intrusive,
        tls_audit: !args.no_tls_audit,
        discover_prefixes: !args.no_prefix_discovery,
        follow: !args.no_follow,
        rules: args.rules.clone(),
        skip_rules: args.skip_rules.clone(),
        json,
        sarif,
        jsonl,
        html,
        markdown,
        csv,
        min_severity: args.min_severity,
        quiet: args.quiet,
        jsonl_format: args.jsonl_format,
        progress: !args.quiet && !args.no_progress,
        state: args.resume.clone().or_else(|| args.state.clone()),
        resume: args.resume.is_some(),
    })
}

/// `-o BASE`: BASE.json, BASE.sarif, ... (the extension is added, never
/// swapped: `-o scan.2026-12-05` keeps its date).
fn with_ext(base: &Option<PathBuf>, ext: &str) -> Option<PathBuf> {
    let mut name = base.as_ref()?.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    Some(PathBuf::from(name))
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
