//! The subcommands, one module each, reachable without the binary:
//! `scan` (plan, run, baseline, outputs, checkpoint, verdict), `merge`,
//! `report`, `rules`, `advisories`, `diff`; `progress` draws the scan's
//! progress on stderr. `main.rs` only parses the command line, calls one of
//! them and turns the result into an exit code with [`exit_code`], the one
//! place that decides it (documented in `--help` and docs/usage.md).

pub mod advisories;
pub mod diff;
mod error;
pub mod manual;
pub mod merge;
pub mod progress;
pub mod report;
pub mod rules;
pub mod scan;

pub use error::{CommandError, ErrorClass};

use crate::report::ScanReport;

/// How a command that ran to its end went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to act on (exit 0).
    Clean,
    /// Findings at or above `--fail-on`, or new ones in a diff (exit 1).
    Findings,
    /// The scan stopped on this signal (exit 128 + the signal number).
    Signal(i32),
    /// The scan ran to its end, outputs written, but failed (a proxy that
    /// went away mid-scan): exit 3, the reason already said on stderr.
    Failed,
}

const EXIT_CLEAN: u8 = 0;
const EXIT_FINDINGS: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_FAILURE: u8 = 3;

/// The exit code of a command's result: 0 clean, 1 findings, 2 bad input
/// (like clap's own errors), 3 failure, 128+N stopped by signal N. A
/// listing for a person cut short by a closed pipe (`rules | head`) is
/// clean.
pub fn exit_code(result: &Result<Outcome, CommandError>) -> u8 {
    match result {
        Ok(outcome) => outcome.exit_code(),
        Err(e) => e.class().exit_code(),
    }
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Clean => EXIT_CLEAN,
            Outcome::Findings => EXIT_FINDINGS,
            Outcome::Signal(n) => u8::try_from(128 + n).unwrap_or(EXIT_FAILURE),
            Outcome::Failed => EXIT_FAILURE,
        }
    }
}

impl ErrorClass {
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorClass::ReaderGone => EXIT_CLEAN,
            ErrorClass::Usage => EXIT_USAGE,
            ErrorClass::Runtime | ErrorClass::Outputs => EXIT_FAILURE,
        }
    }
}

/// Read a saved `--json` report (`--baseline`, `diff`, `report`).
pub fn read_report(path: &std::path::Path) -> Result<ScanReport, CommandError> {
    let bytes =
        crate::atomic::read_capped(path, 512 << 20).map_err(|source| CommandError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    serde_json::from_slice(&bytes).map_err(|source| CommandError::NotReport {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_has_its_exit_code() {
        let usage = CommandError::UnknownRules(vec!["FLINK-NOPE".into()]);
        assert_eq!(exit_code(&Err(usage)), 2);
        let outputs = CommandError::OutputsFailed(vec!["cannot write --json x: full".into()]);
        assert_eq!(exit_code(&Err(outputs)), 3);
        let runtime = CommandError::Runtime(std::io::Error::other("no threads"));
        assert_eq!(exit_code(&Err(runtime)), 3);
        // `rules | head`: the reader went away, nothing failed.
        let gone = CommandError::Io(std::io::ErrorKind::BrokenPipe.into());
        assert_eq!(gone.class(), ErrorClass::ReaderGone);
        assert_eq!(exit_code(&Err(gone)), 0);
        assert_eq!(exit_code(&Ok(Outcome::Clean)), 0);
        assert_eq!(exit_code(&Ok(Outcome::Findings)), 1);
        assert_eq!(exit_code(&Ok(Outcome::Signal(15))), 143);
        assert_eq!(exit_code(&Ok(Outcome::Signal(2))), 130);
    }

    #[test]
    fn several_failed_outputs_are_counted_and_each_named() {
        let e = CommandError::OutputsFailed(vec!["a".into(), "b".into()]);
        assert_eq!(e.to_string(), "2 outputs failed: a; b");
        let one = CommandError::OutputsFailed(vec!["cannot write --sarif x: gone".into()]);
        assert_eq!(one.to_string(), "cannot write --sarif x: gone");
    }

    #[test]
    fn a_report_that_is_not_one_is_a_usage_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.json");
        std::fs::write(&path, b"{\"not\": \"a report\"}").unwrap();
        let e = read_report(&path).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Usage);
        assert!(
            e.to_string().contains("is not a flinkscan --json report"),
            "{e}"
        );
        let missing = read_report(&dir.path().join("none.json")).unwrap_err();
        assert!(missing.to_string().starts_with("cannot read "), "{missing}");
        assert_eq!(exit_code(&Err(missing)), 2);
    }
}
