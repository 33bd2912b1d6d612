//! `flinkscan scan`: from the arguments to a validated plan, the scan
//! ([`crate::scan`]), the baseline, the outputs, the checkpoint's life
//! cycle and the verdict (`--fail-on`, a signal).

use std::io::Write;
use std::path::PathBuf;
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
    let all =
        |own: &Option<PathBuf>, ext: &str| own.clone().or_else(|| with_ext(&args.output_all, ext));
    if let Some(base) = &args.output_all {
        if base.as_os_str() == "-" {
            return Err(PlanError::OutputAllStdout(base.display().to_string()));
        }
    }
    let [json, sarif, jsonl, html, markdown, csv] = plan::outputs([
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
    let (mut space, mut notices) = scan::build_space(plan).await.map_err(|e| match e {
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
    let pace = resumed(plan, checkpoint.as_ref(), &mut notices);
    let progress = Arc::new(Progress::default());
    let bar = progress_bar(&space, &progress, plan.progress, pace);
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
    // Judged on every finding: --min-severity only trims the outputs.
    let failing = report.failing(args.fail_on, args.fail_on_new);
    let verdict_line = args
        .fail_on
        .filter(|_| failing > 0)
        .map(|t| scan::outputs::verdict_line(&report, t, args.fail_on_new));
    if let Some(min) = plan.min_severity {
        report.keep_at_least(min);
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
    if !args.quiet {
        if let Some(line) = scan::outputs::written_line(plan) {
            eprintln!("{line}");
        }
    }
    if let Some(path) = &plan.state {
        // Done and written: the next run with this --state starts afresh.
        let removed = scan::checkpoint::retire(path, report.scan.status)
            .map_err(|e| CommandError::OutputsFailed(vec![e.to_string()]))?;
        if !removed && !args.quiet {
            let _ = writeln!(
                std::io::stderr(),
                "flinkscan: checkpoint kept in {}: run the same command with --resume {} to continue",
                crate::untrusted::shown(&path.display().to_string()),
                crate::untrusted::shown(&path.display().to_string())
            );
        }
    }
    Ok(verdict(
        &report,
        &stop,
        args,
        &catalog,
        (failing, verdict_line),
    ))
}

/// What the checkpoint changes before the scan starts: a foreign one set
/// aside is said (a warning even under --quiet: cron mails it once) and
/// noted; a resumed scan's pace counts from where it stopped.
fn resumed(
    plan: &ScanPlan,
    checkpoint: Option<&scan::Checkpoint>,
    notices: &mut Vec<Notice>,
) -> scan::progress_text::Pace {
    if let Some(why) = checkpoint.and_then(|c| c.set_aside.clone()) {
        eprintln!("flinkscan: warning: {why}");
        notices.push(Notice {
            target: "--state".into(),
            message: why,
        });
    }
    scan::progress_text::Pace {
        at_start: checkpoint
            .and_then(|c| c.from.as_ref())
            .map_or(0, |s| s.counts.probed),
        limit: plan.rate,
    }
}

/// A proxy that failed mid-scan fails the scan; an interrupted scan is not
/// a clean one, whatever it found (a signal that came after the scan ended
/// changes nothing); else `--fail-on` (and `--fail-on-new`), where checks
/// that could not run are not clean either.
fn verdict(
    report: &ScanReport,
    stop: &scan::Stop,
    args: &ScanArgs,
    catalog: &Catalog,
    (failing, verdict_line): (usize, Option<String>),
) -> Outcome {
    // The reports say which probes it left undecided.
    if report.scan.status == report::ScanStatus::ProxyFailed {
        let why = crate::net::proxy_failure().unwrap_or_else(|| "the proxy failed".into());
        let _ = writeln!(
            std::io::stderr(),
            "flinkscan: error: {}; the scan stopped, {} probes are undecided (scan.undecided) \
             and every output was written with status proxy-failed",
            crate::untrusted::shown(&why),
            report.scan.undecided.len()
        );
        return Outcome::Failed;
    }
    if let (Some(scan::StopReason::Signal(n)), report::ScanStatus::Interrupted) =
        (stop.reason(), report.scan.status)
    {
        return Outcome::Signal(n);
    }
    if failing > 0 {
        // The one line a quiet run prints: what needs attention (the
        // summary said it otherwise).
        if let (Some(line), true) = (verdict_line, args.quiet) {
            eprintln!("{line}");
        }
        return Outcome::Findings;
    }
    let unknown = report.unchecked_failing(args.fail_on, catalog);
    if !unknown.is_empty() {
        // Could not be checked is not clean: the cron job hears of it.
        let _ = writeln!(
            std::io::stderr(),
            "flinkscan: --fail-on: {} checks at or above that severity could not run \
             (their ports stopped answering or a TLS audit did not finish), so the scan \
             cannot call them clean: {}",
            unknown.len(),
            crate::untrusted::shown(&unknown.join(", "))
        );
        return Outcome::Findings;
    }
    Outcome::Clean
}

/// `--dry-run`: every probe the scan would send, nothing sent.
fn dry_run(space: &TargetSpace, notices: &[Notice]) -> std::io::Result<()> {
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
        "flinkscan: dry run: {} over {} (shard {}), nothing sent",
        crate::report::text::counted(space.len(), "probe", "probes"),
        crate::report::text::counted(space.addresses(), "host", "hosts"),
        space.shard()
    );
    Ok(())
}
