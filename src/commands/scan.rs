//! `flinkscan scan`: from the arguments to a validated plan, the scan
//! ([`crate::scan`]), the baseline, the outputs, the checkpoint's life
//! cycle and the verdict (`--fail-on`, a signal).

use std::sync::Arc;

use super::progress::progress_bar;
use super::{read_report, CommandError, Outcome};
use crate::checks::catalog::Catalog;
use crate::checks::RuleFilter;
use crate::cli::ScanArgs;
use crate::model::Notice;
use crate::plan::{self, collect_specs, PlanError, ScanPlan, PROXY_DEFAULT_CONCURRENCY};
use crate::report::{self, baseline, ScanReport};
use crate::scan::{self, Progress};
use crate::targets::ports::{parse_ports, DEFAULT_PORTS};
use crate::targets::{Shard, Spec, SpecError, TargetError, TargetSpace};

/// From the `scan` arguments to a validated plan ([`crate::plan`]); `env`
/// reads `--shard-index-env`.
pub fn build_plan(
    args: &ScanArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<ScanPlan, PlanError> {
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
    let [json, sarif, jsonl, html, markdown] = plan::outputs([
        ("--json", &args.json),
        ("--sarif", &args.sarif),
        ("--jsonl", &args.jsonl),
        ("--html", &args.html),
        ("--markdown", &args.markdown),
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
        jsonl_format: args.jsonl_format,
        progress: !args.quiet,
        state: args.resume.clone().or_else(|| args.state.clone()),
        resume: args.resume.is_some(),
    })
}

/// Run `flinkscan scan`: validate everything, scan, write every output.
pub fn run(args: &ScanArgs) -> Result<Outcome, CommandError> {
    let plan = build_plan(args, |k| std::env::var(k).ok())?;
    let catalog = Arc::new(Catalog::load(
        args.probes.as_deref(),
        args.advisories.as_deref(),
    )?);
    plan::check_rules(&plan, &catalog)?;
    let baseline_report = match &args.baseline {
        Some(p) => Some(read_report(p)?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CommandError::Runtime)?;
    runtime.block_on(scan(args, &plan, catalog, baseline_report))
}

async fn scan(
    args: &ScanArgs,
    plan: &ScanPlan,
    catalog: Arc<Catalog>,
    baseline_report: Option<ScanReport>,
) -> Result<Outcome, CommandError> {
    let stop = scan::Stop::default();
    if !args.dry_run {
        // Before name resolution, so a SIGTERM is never ignored (PID 1).
        scan::listen_for_signals(&stop).map_err(CommandError::Signals)?;
    }
    // A proxy that is down or refuses the credentials stops the scan
    // here, before any target is probed.
    if let (Some(proxy), false) = (&plan.proxy, args.dry_run) {
        crate::net::use_proxy(proxy.clone(), plan.probe_timeout).await?;
    }
    let (mut space, notices) = scan::build_space(plan).await.map_err(|e| match e {
        scan::ScanError::Targets(t) => CommandError::Targets(t),
        other => CommandError::Scan(other),
    })?;
    if args.dry_run {
        dry_run(&space, &notices)?;
        return Ok(Outcome::Clean);
    }
    // The baseline needs to know which endpoints this scan probed
    // (all of them, also before a resume).
    let probe_space = baseline_report.as_ref().map(|_| space.clone());
    let checkpoint = scan::prepare_checkpoint(
        plan,
        &mut space,
        &[args.probes.as_deref(), args.advisories.as_deref()],
    )?;
    let progress = Arc::new(Progress::default());
    let bar = progress_bar(&space, &progress, plan.progress);
    let scan::ScanOutcome {
        mut report,
        jsonl_failure,
        state_failure,
    } = scan::run(
        plan,
        space,
        notices,
        Arc::clone(&catalog),
        Arc::clone(&progress),
        stop.clone(),
        checkpoint,
    )
    .await
    .map_err(CommandError::Scan)?;
    if let Some((bar, ticker)) = bar {
        ticker.abort();
        bar.finish_and_clear();
    }
    if let (Some(base), Some(space)) = (&baseline_report, &probe_space) {
        let rules = RuleFilter {
            only: plan.rules.clone(),
            skip: plan.skip_rules.clone(),
        };
        baseline::mark_scan(&mut report, base, space, &rules);
    }
    let mut failures: Vec<String> = jsonl_failure.iter().map(|e| e.to_string()).collect();
    failures.extend(state_failure.map(|e| e.to_string()));
    failures.extend(scan::outputs::write_scan_outputs(
        plan,
        &report,
        &catalog,
        scan::outputs::Rendering {
            sarif: args.sarif_compat,
            color: !args.no_color,
            quiet: args.quiet,
        },
    ));
    if !failures.is_empty() {
        return Err(CommandError::OutputsFailed(failures));
    }
    if let Some(path) = &plan.state {
        // Done and written: the next run with this --state starts afresh.
        let removed = scan::checkpoint::retire(path, report.scan.status)
            .map_err(|e| CommandError::OutputsFailed(vec![e.to_string()]))?;
        if !removed && !args.quiet {
            eprintln!(
                "flinkscan: checkpoint kept in {}: run the same command with --resume {} to continue",
                crate::untrusted::shown(&path.display().to_string()),
                crate::untrusted::shown(&path.display().to_string())
            );
        }
    }
    Ok(verdict(&report, &stop, args))
}

/// An interrupted scan is not a clean one, whatever it found (a signal
/// that came after the scan ended changes nothing); else `--fail-on`.
fn verdict(report: &ScanReport, stop: &scan::Stop, args: &ScanArgs) -> Outcome {
    if let (Some(scan::StopReason::Signal(n)), report::ScanStatus::Interrupted) =
        (stop.reason(), report.scan.status)
    {
        return Outcome::Signal(n);
    }
    if report.fails(args.fail_on) {
        Outcome::Findings
    } else {
        Outcome::Clean
    }
}

/// `--dry-run`: every probe the scan would send, nothing sent.
fn dry_run(space: &TargetSpace, notices: &[Notice]) -> std::io::Result<()> {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    for n in notices {
        eprintln!(
            "flinkscan: {}: {}",
            crate::untrusted::shown(&n.target),
            crate::untrusted::shown(&n.message)
        );
    }
    for ep in space.iter() {
        writeln!(out, "{}", ep.place())?;
    }
    out.flush()?;
    eprintln!(
        "flinkscan: dry run: {} probes over {} hosts (shard {}), nothing sent",
        space.len(),
        space.addresses(),
        space.shard()
    );
    Ok(())
}
