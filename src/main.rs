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

fn main() -> ExitCode {
    let argv = match flinkscan::profile::expand(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("flinkscan: error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            // clap quotes the offending argument as typed.
            eprint!(
                "{}",
                flinkscan::untrusted::shown_lines(&e.render().to_string())
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
            if is_broken_pipe(&e) {
                return ExitCode::from(EXIT_CLEAN);
            }
            let code = if e.downcast_ref::<Usage>().is_some() {
                EXIT_USAGE
            } else {
                EXIT_FAILURE
            };
            // Errors quote files, arguments and reports: nothing hidden may
            // reach the terminal raw.
            eprintln!(
                "flinkscan: error: {}",
                flinkscan::untrusted::shown_lines(&format!("{e:#}"))
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
            json,
            probes,
            advisories,
        } => {
            let catalog = Catalog::load(probes.as_deref(), advisories.as_deref())
                .map_err(|e| Usage(e.to_string()))?;
            print_rules(&catalog, json)?;
            Ok(EXIT_CLEAN)
        }
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
        } => merge_command(&inputs, &output, sarif.as_deref()),
        Command::Diff { old, new, json } => {
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
            Ok(if diff.new.is_empty() {
                EXIT_CLEAN
            } else {
                EXIT_FINDINGS
            })
        }
    }
}

fn merge_command(
    inputs: &[std::path::PathBuf],
    output: &std::path::Path,
    sarif_out: Option<&std::path::Path>,
) -> Result<u8> {
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
    let bytes = if all_sarif {
        let merged = report::merge::merge_sarif(&docs).map_err(|e| Usage(e.to_string()))?;
        findings = merged
            .pointer("/runs/0/results")
            .and_then(|r| r.as_array())
            .map_or(0, Vec::len);
        serde_json::to_vec_pretty(&merged)?
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
        if let Some(path) = sarif_out {
            let catalog = Catalog::load(None, None).map_err(|e| Usage(e.to_string()))?;
            let doc = sarif::render(&merged, &catalog, sarif::Compat::Standard);
            let mut b = serde_json::to_vec_pretty(&doc)?;
            b.push(b'\n');
            atomic::write(path, &b).with_context(|| format!("writing {}", path.display()))?;
        }
        serde_json::to_vec_pretty(&merged)?
    };
    let mut bytes = bytes;
    bytes.push(b'\n');
    atomic::write(output, &bytes).with_context(|| format!("writing {}", output.display()))?;
    // Success is otherwise silent; say what was done so a wrong glob shows.
    let also = match sarif_out {
        Some(p) if !all_sarif => format!(" and {}", p.display()),
        _ => String::new(),
    };
    eprintln!(
        "flinkscan: merged {} {} ({} findings) into {}{}",
        inputs.len(),
        if all_sarif { "SARIF logs" } else { "reports" },
        findings,
        flinkscan::untrusted::shown(&output.display().to_string()),
        flinkscan::untrusted::shown(&also)
    );
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

fn print_rules(catalog: &Catalog, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let rules: Vec<_> = catalog.rules.values().collect();
        serde_json::to_writer_pretty(&mut out, &rules)?;
        writeln!(out)?;
        return Ok(());
    }
    let mut rules: Vec<_> = catalog.rules.values().collect();
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
    writeln!(out, "\nSelect with --rules ID[,ID...] or skip with --skip-rules; a trailing * matches a prefix (FLINK-TLS-*).")?;
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
        let (space, notices) = scan::build_space(&plan).await.map_err(|e| match e {
            scan::ScanError::Targets(t) => anyhow::Error::new(Usage(t.to_string())),
            other => anyhow::Error::new(other),
        })?;
        if args.dry_run {
            dry_run(&space, &notices)?;
            return Ok(EXIT_CLEAN);
        }
        let progress = Arc::new(Progress::default());
        let bar = progress_bar(&space, &progress, plan.progress);
        let mut report = scan::run(
            &plan,
            space,
            notices,
            Arc::clone(&catalog),
            Arc::clone(&progress),
        )
        .await?;
        if let Some((bar, ticker)) = bar {
            ticker.abort();
            bar.finish_and_clear();
        }
        if let Some(base) = &baseline_report {
            baseline::apply(&mut report, base);
        }
        write_outputs(args, &report, &catalog)?;
        let failed = match args.fail_on {
            Some(threshold) => report
                .findings
                .iter()
                .any(|f| f.severity >= threshold && f.baseline_state.as_deref() != Some("fixed")),
            None => false,
        };
        Ok(if failed { EXIT_FINDINGS } else { EXIT_CLEAN })
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
        writeln!(out, "{}", ep.authority())?;
    }
    out.flush()?;
    eprintln!(
        "flinkscan: dry run: {} probes over {} addresses (shard {}), nothing sent",
        space.len(),
        space.addresses(),
        space.shard()
    );
    Ok(())
}

fn progress_bar(
    space: &TargetSpace,
    progress: &Arc<Progress>,
    enabled: bool,
) -> Option<(indicatif::ProgressBar, tokio::task::JoinHandle<()>)> {
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(space.len());
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} probes {per_sec} ETA {eta} | {msg}",
    )
    .ok()?;
    bar.set_style(style);
    let ticker = {
        let bar = bar.clone();
        let progress = Arc::clone(progress);
        tokio::spawn(async move {
            loop {
                let s = &progress.sweep;
                bar.set_position(s.probed.load(Ordering::Relaxed));
                bar.set_message(format!(
                    "{} open, {} identified, {} findings",
                    s.open.load(Ordering::Relaxed),
                    progress.identified.load(Ordering::Relaxed),
                    progress.findings.load(Ordering::Relaxed)
                ));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    Some((bar, ticker))
}

fn write_outputs(args: &ScanArgs, report: &ScanReport, catalog: &Catalog) -> Result<()> {
    let mut stdout_taken = args.jsonl.as_deref() == Some(std::path::Path::new("-"));
    if let Some(path) = &args.json {
        let mut bytes = serde_json::to_vec_pretty(report)?;
        bytes.push(b'\n');
        atomic::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        stdout_taken |= path.as_os_str() == "-";
    }
    if let Some(path) = &args.sarif {
        let doc = sarif::render(report, catalog, args.sarif_compat);
        let mut bytes = serde_json::to_vec_pretty(&doc)?;
        bytes.push(b'\n');
        atomic::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        stdout_taken |= path.as_os_str() == "-";
    }
    let color = !args.no_color
        && report::text::color_wanted(std::io::stdout().is_terminal(), |k| std::env::var_os(k));
    let summary = report::text::render(report, color);
    if stdout_taken {
        // Machine output owns stdout; the person still gets the summary.
        if !args.quiet {
            eprint!("{summary}");
        }
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(summary.as_bytes())?;
        out.flush()?;
    }
    Ok(())
}
