//! The binary edge: parse the command line, dispatch to the library's
//! command ([`flinkscan::commands`]), map the outcome to an exit code
//! ([`flinkscan::commands::exit_code`], documented in `--help` and
//! docs/usage.md).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use flinkscan::cli::{Cli, Command};
use flinkscan::commands::{self, CommandError, ErrorClass, Outcome};

fn main() -> ExitCode {
    let usage = || ExitCode::from(ErrorClass::Usage.exit_code());
    let argv = match flinkscan::profile::expand(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "flinkscan: error: {}",
                flinkscan::untrusted::for_stderr(&e.to_string())
            );
            return usage();
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
            return usage();
        }
    };
    let verbose = match &cli.command {
        Command::Scan(a) => a.verbose,
        _ => 0,
    };
    init_logging(verbose);
    let result = run(cli);
    if let Err(e) = &result {
        if e.class() != ErrorClass::ReaderGone {
            // Errors quote files, arguments and reports: nothing hidden may
            // reach the terminal raw; stderr may be gone too, which must not
            // turn into a panic.
            let _ = writeln!(
                std::io::stderr(),
                "flinkscan: error: {}",
                flinkscan::untrusted::for_stderr(&e.to_string())
            );
        }
    }
    ExitCode::from(commands::exit_code(&result))
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

fn run(cli: Cli) -> Result<Outcome, CommandError> {
    match cli.command {
        Command::Scan(args) => commands::scan::run(&args),
        Command::Rules {
            id,
            json,
            probes,
            advisories,
        } => commands::rules::run(
            id.as_deref(),
            json,
            probes.as_deref(),
            advisories.as_deref(),
        ),
        Command::Report {
            input,
            html,
            markdown,
            csv,
            no_color,
        } => commands::report::run(&input, [html, markdown, csv], no_color),
        Command::Advisories { json, advisories } => {
            commands::advisories::run(json, advisories.as_deref())
        }
        Command::Merge {
            inputs,
            output,
            sarif,
            probes,
            advisories,
        } => commands::merge::run(
            &inputs,
            &output,
            sarif.as_deref(),
            probes.as_deref(),
            advisories.as_deref(),
        ),
        Command::Diff {
            old,
            new,
            json,
            fail_on,
        } => commands::diff::run(&old, &new, json, fail_on),
        Command::Completions { shell } => commands::manual::completions(shell),
        Command::Man => commands::manual::man_page(),
    }
}
