//! The binary edge: parse the command line, run, map the outcome to an exit
//! code (documented in `--help` and README).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

use flinkscan::checks::catalog::Catalog;
use flinkscan::checks::RuleFilter;
use flinkscan::cli::{Cli, Command, ScanArgs};
use flinkscan::report::{self, atomic, baseline, sarif, ScanReport};
use flinkscan::scan::{self, Progress};
use flinkscan::{plan, targets::TargetSpace};

const EXIT_CLEAN: u8 = 0;
const EXIT_FINDINGS: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_FAILURE: u8 = 3;

/// An error the user caused (bad input): exit 2, like clap's own errors.
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Outputs that could not be written (exit 3), each naming its flag and
/// path; every other output was still written.
#[derive(Debug)]
struct OutputsFailed(Vec<String>);

impl std::fmt::Display for OutputsFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let [one] = self.0.as_slice() {
            return f.write_str(one);
        }
        write!(f, "{} outputs failed: {}", self.0.len(), self.0.join("; "))
    }
}

impl std::error::Error for OutputsFailed {}

fn main() -> ExitCode {
    let argv = match flinkscan::profile::expand(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "flinkscan: error: {}",
                flinkscan::untrusted::for_stderr(&e.to_string())
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            // clap quotes the offending argument as typed: a --proxy
            // password too, or a token of any length.
            eprint!(
                "{}",
                flinkscan::untrusted::for_stderr(&e.render().to_string())
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let verbose = match &cli.command {
        Command::Scan(a) => a.verbose,
        _ => 0,
    };
    init_logging(verbose);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // Listings for a person (`rules | head`, `--dry-run | head`)
            // may be cut short. A scan's outputs never get here as an
            // io::Error: a broken machine stream is an OutputsFailed.
            if is_broken_pipe(&e) {
                return ExitCode::from(EXIT_CLEAN);
            }
            let code = if e.downcast_ref::<Usage>().is_some() {
                EXIT_USAGE
            } else {
                EXIT_FAILURE
            };
            // Errors quote files, arguments and reports: nothing hidden may
            // reach the terminal raw; stderr may be gone too, which must not
            // turn into a panic.
            let _ = writeln!(
                std::io::stderr(),
                "flinkscan: error: {}",
                flinkscan::untrusted::for_stderr(&format!("{e:#}"))
            );
            ExitCode::from(code)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLINKSCAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("flinkscan={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Scan(args) => scan_command(&args),
        Command::Rules {
            id,
            json,
            probes,
            advisories,
        } => {
            let catalog = Catalog::load(probes.as_deref(), advisories.as_deref())
                .map_err(|e| Usage(e.to_string()))?;
            match id {
                Some(id) => match flinkscan::checks::lookup::find(&catalog, &id)
                    .map_err(|e| Usage(e.to_string()))?
                {
                    flinkscan::checks::lookup::Found::One(rule) => explain_rule(rule, json)?,
                    flinkscan::checks::lookup::Found::Many(rules) => print_rules(rules, json)?,
                },
                None => print_rules(catalog.rules.values().collect(), json)?,
            }
            Ok(EXIT_CLEAN)
        }
        Command::Report {
            input,
            html,
            markdown,
            csv,
            no_color,
        } => report_command(&input, [html, markdown, csv], no_color),
        Command::Advisories { json, advisories } => {
            let data = flinkscan::advisories::Advisories::load(advisories.as_deref())
                .map_err(|e| Usage(e.to_string()))?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &data.listing())?;
                writeln!(out)?;
            } else {
                write!(out, "{}", data.render_text())?;
            }
            out.flush()?;
            Ok(EXIT_CLEAN)
        }
        Command::Merge {
            inputs,
            output,
            sarif,
            probes,
            advisories,
        } => {
            let catalog = Catalog::load(probes.as_deref(), advisories.as_deref())
                .map_err(|e| Usage(e.to_string()))?;
            merge_command(&inputs, &output, sarif.as_deref(), &catalog)
        }
        Command::Diff {
            old,
            new,
            json,
            fail_on,
        } => {
            let old = read_report(&old)?;
            let new = read_report(&new)?;
            let diff = baseline::diff(&old, &new);
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &diff)?;
                writeln!(out)?;
            } else {
                write!(out, "{}", baseline::render_diff(&diff))?;
            }
            Ok(if diff.fails(fail_on) {
                EXIT_FINDINGS
            } else {
                EXIT_CLEAN
            })
        }
        Command::Completions { shell } => {
            flinkscan::manual::completions(shell, &mut std::io::stdout().lock())?;
            Ok(EXIT_CLEAN)
        }
        Command::Man => {
            flinkscan::manual::man_page(&mut std::io::stdout().lock())?;
            Ok(EXIT_CLEAN)
        }
    }
}

fn merge_command(
    inputs: &[std::path::PathBuf],
    output: &std::path::Path,
    sarif_out: Option<&std::path::Path>,
    catalog: &Catalog,
) -> Result<u8> {
    let [output, sarif_out] = plan::outputs([
        ("--output", &Some(output.to_path_buf())),
        ("--sarif", &sarif_out.map(std::path::Path::to_path_buf)),
    ])
    .map_err(|e| Usage(e.to_string()))?;
    let mut failures = Vec::new();
    let mut docs = Vec::new();
    for p in inputs {
        let bytes = atomic::read_capped(p, 512 << 20)
            .map_err(|e| Usage(format!("cannot read {}: {e}", p.display())))?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Usage(format!("{} is not JSON: {e}", p.display())))?;
        docs.push(v);
    }
    let all_sarif = docs.iter().all(|d| d.get("runs").is_some());
    let findings;
    if all_sarif {
        let merged = report::merge::merge_sarif(&docs).map_err(|e| Usage(e.to_string()))?;
        findings = merged
            .pointer("/runs/0/results")
            .and_then(|r| r.as_array())
            .map_or(0, Vec::len);
        if let Some(out) = &output {
            report::outputs::write_document(out, &merged, &mut failures);
        }
    } else {
        let reports = docs
            .into_iter()
            .zip(inputs)
            .map(|(d, p)| {
                serde_json::from_value::<ScanReport>(d).map_err(|e| {
                    Usage(format!(
                        "{} is not a flinkscan --json report: {e}",
                        p.display()
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let merged = report::merge::merge_reports(reports).map_err(|e| Usage(e.to_string()))?;
        findings = merged.findings.len();
        if let Some(out) = &sarif_out {
            // A rule the catalog lacks would leave its results without
            // rule metadata: refuse rather than write a SARIF that loses it.
            let unknown: std::collections::BTreeSet<&str> = merged
                .findings
                .iter()
                .map(|f| f.rule_id.as_str())
                .filter(|id| catalog.rule(id).is_none())
                .collect();
            if !unknown.is_empty() {
                return Err(Usage(format!(
                    "the shards have findings of rules this catalog lacks ({}); pass the --probes DIR and --advisories PATH the scans used",
                    unknown.into_iter().collect::<Vec<_>>().join(", ")
                ))
                .into());
            }
            let doc = sarif::render(&merged, catalog, sarif::Compat::Standard);
            report::outputs::write_document(out, &doc, &mut failures);
        }
        if let Some(out) = &output {
            report::outputs::write_document(out, &merged, &mut failures);
        }
    }
    if !failures.is_empty() {
        return Err(OutputsFailed(failures).into());
    }
    // Success is otherwise silent; say what was done so a wrong glob shows.
    let also = match &sarif_out {
        Some(p) if !all_sarif => format!(" and {}", p.path.display()),
        _ => String::new(),
    };
    let written = output
        .as_ref()
        .map(|o| o.path.display().to_string())
        .unwrap_or_default();
    eprintln!(
        "flinkscan: merged {} {} ({} findings) into {}{}",
        inputs.len(),
        if all_sarif { "SARIF logs" } else { "reports" },
        findings,
        flinkscan::untrusted::shown(&written),
        flinkscan::untrusted::shown(&also)
    );
    Ok(EXIT_CLEAN)
}

/// `flinkscan report IN.json`: render a saved or merged report. Clusters
/// are grouped again, so a report written before clusters renders too.
fn report_command(
    input: &std::path::Path,
    [html, markdown, csv]: [Option<std::path::PathBuf>; 3],
    no_color: bool,
) -> Result<u8> {
    let [html, markdown, csv] = plan::outputs([
        ("--html", &html),
        ("--markdown", &markdown),
        ("--csv", &csv),
    ])
    .map_err(|e| Usage(e.to_string()))?;
    let mut report = read_report(input)?;
    report.normalise();
    report.build_clusters();
    let catalog = Catalog::load(None, None).map_err(|e| Usage(e.to_string()))?;
    let mut failures = Vec::new();
    report::outputs::write_people_outputs(&html, &markdown, &report, &catalog, &mut failures);
    if let Some(out) = &csv {
        report::outputs::write_csv(out, &report, &catalog, &mut failures);
    }
    if html.is_none() && markdown.is_none() && csv.is_none() {
        let color = !no_color
            && report::text::color_wanted(std::io::stdout().is_terminal(), |k| std::env::var_os(k));
        let mut out = std::io::stdout().lock();
        out.write_all(
            report::text::render(&report, &catalog, color, report::text::summary_width(false))
                .as_bytes(),
        )?;
        out.flush()?;
    }
    if !failures.is_empty() {
        return Err(OutputsFailed(failures).into());
    }
    Ok(EXIT_CLEAN)
}

fn read_report(path: &std::path::Path) -> Result<ScanReport> {
    let bytes = atomic::read_capped(path, 512 << 20)
        .map_err(|e| Usage(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Usage(format!(
            "{} is not a flinkscan --json report: {e}",
            path.display()
        ))
        .into()
    })
}

/// `flinkscan rules ID`: one rule, explained for a person.
fn explain_rule(rule: &flinkscan::checks::catalog::Rule, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, rule)?;
        writeln!(out)?;
        return Ok(());
    }
    let shown = flinkscan::untrusted::shown;
    writeln!(out, "{}  {}", rule.id, shown(&rule.title))?;
    writeln!(
        out,
        "severity {} (score {:.1}), CWE-{}\n",
        rule.severity, rule.security_severity, rule.cwe
    )?;
    // Descriptions have paragraphs: keep them, indented.
    let paragraphs = |t: &str| flinkscan::untrusted::shown_lines(t.trim()).replace('\n', "\n  ");
    writeln!(out, "What it finds:\n  {}\n", paragraphs(&rule.description))?;
    writeln!(out, "How to fix it:\n  {}", paragraphs(&rule.remediation))?;
    if let Some(a) = &rule.advisory {
        writeln!(out, "\nAdvisory: {}", shown(&a.ids.join(" / ")))?;
        if !a.fixed.is_empty() {
            writeln!(out, "Fixed in: {}", shown(&a.fixed.join(", ")))?;
        }
    }
    if !rule.sources.is_empty() {
        writeln!(out, "\nSources:")?;
        for s in &rule.sources {
            writeln!(out, "  {}", shown(s))?;
        }
    }
    out.flush()?;
    Ok(())
}

fn print_rules(mut rules: Vec<&flinkscan::checks::catalog::Rule>, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &rules)?;
        writeln!(out)?;
        return Ok(());
    }
    rules.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
    for r in rules {
        writeln!(
            out,
            "{:<9} {:>4}  {:<38} CWE-{:<4} {}",
            r.severity.as_str(),
            format!("{:.1}", r.security_severity),
            r.id,
            r.cwe,
            // Titles can come from a --probes DIR file.
            flinkscan::untrusted::shown(&r.title)
        )?;
    }
    writeln!(out, "\nSelect with --rules ID[,ID...] or skip with --skip-rules; a trailing * matches a prefix (FLINK-TLS-*).\n`flinkscan rules ID` explains one rule and its fix.")?;
    Ok(())
}

fn scan_command(args: &ScanArgs) -> Result<u8> {
    let plan = plan::build(args, |k| std::env::var(k).ok()).map_err(|e| Usage(e.to_string()))?;
    let catalog = Arc::new(
        Catalog::load(args.probes.as_deref(), args.advisories.as_deref())
            .map_err(|e| Usage(e.to_string()))?,
    );
    plan::check_rules(&plan, &catalog).map_err(|e| Usage(e.to_string()))?;
    let baseline_report = match &args.baseline {
        Some(p) => Some(read_report(p)?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let stop = scan::Stop::default();
        if !args.dry_run {
            // Before name resolution, so a SIGTERM is never ignored (PID 1).
            scan::listen_for_signals(&stop).context("installing the SIGINT/SIGTERM handler")?;
        }
        // A proxy that is down or refuses the credentials stops the scan
        // here, before any target is probed.
        if let (Some(proxy), false) = (&plan.proxy, args.dry_run) {
            flinkscan::net::use_proxy(proxy.clone(), plan.probe_timeout).await?;
        }
        let (mut space, mut notices) = scan::build_space(&plan).await.map_err(|e| match e {
            scan::ScanError::Targets(t) => anyhow::Error::new(Usage(t.to_string())),
            other => anyhow::Error::new(other),
        })?;
        if args.dry_run {
            dry_run(&space, &notices)?;
            return Ok(EXIT_CLEAN);
        }
        // The baseline needs to know which endpoints this scan probed
        // (all of them, also before a resume).
        let probe_space = baseline_report.as_ref().map(|_| space.clone());
        let checkpoint = scan::prepare_checkpoint(
            &plan,
            &mut space,
            &[args.probes.as_deref(), args.advisories.as_deref()],
        )
        .map_err(|e| Usage(e.to_string()))?;
        if let Some(why) = checkpoint.as_ref().and_then(|c| c.set_aside.clone()) {
            // A warning even under --quiet: cron mails it once.
            eprintln!("flinkscan: warning: {why}");
            notices.push(flinkscan::model::Notice {
                target: "--state".into(),
                message: why,
            });
        }
        let pace = scan::progress_text::Pace {
            at_start: checkpoint
                .as_ref()
                .and_then(|c| c.from.as_ref())
                .map_or(0, |s| s.counts.probed),
            limit: plan.rate,
        };
        let progress = Arc::new(Progress::default());
        let bar = progress_bar(&space, &progress, plan.progress, pace);
        let scan::ScanOutcome {
            mut report,
            jsonl_failure,
            state_failure,
        } = scan::run(
            &plan,
            space,
            notices,
            Arc::clone(&catalog),
            Arc::clone(&progress),
            stop.clone(),
            checkpoint,
        )
        .await?;
        if let Some((bar, ticker)) = bar {
            ticker.abort();
            bar.finish_and_clear();
        }
        if let (Some(base), Some(space)) = (&baseline_report, &probe_space) {
            let rules = RuleFilter {
                only: plan.rules.clone(),
                skip: plan.skip_rules.clone(),
            };
            baseline::apply_to_scan(&mut report, base, space, &rules);
            // Fixed findings open no path: judge the clusters again.
            report.build_clusters();
        }
        // Judged on every finding: --min-severity only trims the outputs.
        let failing = report.failing(args.fail_on, args.fail_on_new);
        let verdict = args
            .fail_on
            .filter(|_| failing > 0)
            .map(|t| report::outputs::verdict_line(&report, t, args.fail_on_new));
        if let Some(min) = plan.min_severity {
            report.keep_at_least(min);
        }
        let mut failures: Vec<String> = jsonl_failure.iter().map(|e| e.to_string()).collect();
        failures.extend(state_failure);
        failures.extend(report::outputs::write_scan_outputs(
            &plan,
            &report,
            &catalog,
            report::outputs::Rendering {
                sarif: args.sarif_compat,
                color: !args.no_color,
                quiet: args.quiet,
            },
        ));
        if !failures.is_empty() {
            return Err(OutputsFailed(failures).into());
        }
        if !args.quiet {
            if let Some(line) = report::outputs::written_line(&plan) {
                eprintln!("{line}");
            }
        }
        if let Some(path) = &plan.state {
            if report.scan.status == report::ScanStatus::Complete {
                // Done and written: the next run with this --state starts
                // afresh. The checkpoint goes first: one left without its
                // results would be refused on resume.
                let sidecar = flinkscan::state::results_path(path);
                for p in [path, &sidecar] {
                    match std::fs::remove_file(p) {
                        Err(e) if p == &sidecar && e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(OutputsFailed(vec![format!(
                                "cannot remove the finished checkpoint {}: {e}",
                                p.display()
                            )])
                            .into())
                        }
                        Ok(()) => {}
                    }
                }
            } else if !args.quiet {
                let _ = writeln!(
                    std::io::stderr(),
                    "flinkscan: checkpoint kept in {}: run the same command with --resume {} to continue",
                    flinkscan::untrusted::shown(&path.display().to_string()),
                    flinkscan::untrusted::shown(&path.display().to_string())
                );
            }
        }
        // A proxy that failed mid-scan is a failed scan, whatever it
        // found: the reports say which probes it left undecided.
        if report.scan.status == report::ScanStatus::ProxyFailed {
            let why = flinkscan::net::proxy_failure().unwrap_or_else(|| "the proxy failed".into());
            let _ = writeln!(
                std::io::stderr(),
                "flinkscan: error: {}; the scan stopped, {} probes are undecided (scan.undecided) \
                 and every output was written with status proxy-failed",
                flinkscan::untrusted::shown(&why),
                report.scan.undecided.len()
            );
            return Ok(EXIT_FAILURE);
        }
        // An interrupted scan is not a clean one, whatever it found (a
        // signal that came after the scan ended changes nothing).
        if let (Some(scan::StopReason::Signal(n)), report::ScanStatus::Interrupted) =
            (stop.reason(), report.scan.status)
        {
            return Ok(u8::try_from(128 + n).unwrap_or(EXIT_FAILURE));
        }
        if failing > 0 {
            // The one line a quiet run prints: what needs attention (the
            // summary said it otherwise).
            if let (Some(line), true) = (verdict, args.quiet) {
                eprintln!("{line}");
            }
            return Ok(EXIT_FINDINGS);
        }
        let unknown = report.unchecked_failing(args.fail_on, &catalog);
        if !unknown.is_empty() {
            // Could not be checked is not clean: the cron job hears of it.
            let _ = writeln!(
                std::io::stderr(),
                "flinkscan: --fail-on: {} checks at or above that severity could not run \
                 (their ports stopped answering), so the scan cannot call them clean: {}",
                unknown.len(),
                flinkscan::untrusted::shown(&unknown.join(", "))
            );
            return Ok(EXIT_FINDINGS);
        }
        Ok(EXIT_CLEAN)
    })
}

fn dry_run(space: &TargetSpace, notices: &[flinkscan::model::Notice]) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    for n in notices {
        eprintln!(
            "flinkscan: {}: {}",
            flinkscan::untrusted::shown(&n.target),
            flinkscan::untrusted::shown(&n.message)
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

/// How often a progress line goes to a stderr that is not a terminal.
const PROGRESS_LINE_EVERY: Duration = Duration::from_secs(5);

/// Progress on stderr: a bar on a terminal; in cron or Kubernetes logs,
/// where a bar would be a stream of control characters, one plain line
/// every [`PROGRESS_LINE_EVERY`].
fn progress_bar(
    space: &TargetSpace,
    progress: &Arc<Progress>,
    enabled: bool,
    pace: scan::progress_text::Pace,
) -> Option<(indicatif::ProgressBar, tokio::task::JoinHandle<()>)> {
    if !enabled {
        return None;
    }
    let total = space.len();
    if !std::io::stderr().is_terminal() {
        let progress = Arc::clone(progress);
        let ticker = tokio::spawn(async move {
            let started = std::time::Instant::now();
            loop {
                tokio::time::sleep(PROGRESS_LINE_EVERY).await;
                let line =
                    scan::progress_text::progress_line(&progress, total, started.elapsed(), pace);
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        });
        return Some((indicatif::ProgressBar::hidden(), ticker));
    }
    let total = space.len();
    let bar = indicatif::ProgressBar::new(total);
    // Rates and ETA are computed here as whole numbers: indicatif's
    // {per_sec} prints fractions, and its ETA reads 0s while the
    // identification phase still runs.
    let sweep_style = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] sweep {bar:30} {pos}/{len} probes {msg}",
    )
    .ok()?;
    let identify_style = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] identifying {bar:30} {pos}/{len} open ports {msg}",
    )
    .ok()?;
    bar.set_style(sweep_style);
    let ticker = {
        let bar = bar.clone();
        let progress = Arc::clone(progress);
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let mut identifying = false;
            loop {
                let s = &progress.sweep;
                let probed = s.probed.load(Ordering::Relaxed);
                let open = s.open.load(Ordering::Relaxed);
                let identified = progress.identified.load(Ordering::Relaxed);
                let findings = progress.findings.load(Ordering::Relaxed);
                if !identifying && probed >= total {
                    identifying = true;
                    bar.set_style(identify_style.clone());
                }
                if identifying {
                    bar.set_length(open.max(identified));
                    bar.set_position(identified);
                    bar.set_message(format!("| {findings} findings"));
                } else {
                    bar.set_position(probed);
                    bar.set_message(scan::progress_text::sweep_message(
                        scan::progress_text::SweepCounts {
                            probed,
                            total,
                            open,
                            identified,
                            findings,
                        },
                        started.elapsed(),
                        pace,
                    ));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    Some((bar, ticker))
}
