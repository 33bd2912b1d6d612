//! The commands' one error type. Each variant belongs to a class, and the
//! class alone decides the exit code ([`super::exit_code`]).

use std::path::PathBuf;

use crate::advisories::AdvisoryError;
use crate::checks::catalog::CatalogError;
use crate::net::ProxyError;
use crate::plan::PlanError;
use crate::report::merge::MergeError;
use crate::scan::ScanError;
use crate::state::StateError;
use crate::targets::TargetError;

/// What kind of failure an error is, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Bad input the user can fix: arguments, files, reports (exit 2).
    Usage,
    /// The machine or the network failed (exit 3).
    Runtime,
    /// Outputs that could not be written; the others were (exit 3).
    Outputs,
    /// stdout closed under a listing for a person (`rules | head`): not
    /// an error (exit 0, nothing said).
    ReaderGone,
}

/// Why a command failed. The message names the flag, file or token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Advisories(#[from] AdvisoryError),
    #[error(transparent)]
    Targets(#[from] TargetError),
    #[error(transparent)]
    Checkpoint(#[from] StateError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not JSON: {source}", .path.display())]
    NotJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} is not a flinkscan --json report: {source}", .path.display())]
    NotReport {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// `merge --sarif`: results whose rule the catalog lacks would lose
    /// their rule metadata.
    #[error(
        "the shards have findings of rules this catalog lacks ({}); pass the --probes DIR and --advisories PATH the scans used",
        .0.join(", ")
    )]
    UnknownRules(Vec<String>),
    /// `rules ID`: no rule answers; the closest ids are named.
    #[error(transparent)]
    NoRule(#[from] crate::checks::lookup::NoRule),
    #[error("starting the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("installing the SIGINT/SIGTERM handler: {0}")]
    Signals(#[source] std::io::Error),
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    #[error(transparent)]
    Scan(ScanError),
    /// Writing a listing or a rendering to stdout.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Each names its flag and path.
    #[error("{}", outputs_failed(.0))]
    OutputsFailed(Vec<String>),
}

fn outputs_failed(failures: &[String]) -> String {
    if let [one] = failures {
        return one.clone();
    }
    format!("{} outputs failed: {}", failures.len(), failures.join("; "))
}

impl CommandError {
    pub fn class(&self) -> ErrorClass {
        use CommandError::*;
        if self.is_broken_pipe() {
            return ErrorClass::ReaderGone;
        }
        match self {
            Plan(_)
            | Catalog(_)
            | Advisories(_)
            | Targets(_)
            | Checkpoint(_)
            | Merge(_)
            | Read { .. }
            | NotJson { .. }
            | NotReport { .. }
            | UnknownRules(_)
            | NoRule(_) => ErrorClass::Usage,
            Runtime(_) | Signals(_) | Proxy(_) | Scan(_) | Io(_) | Json(_) => ErrorClass::Runtime,
            OutputsFailed(_) => ErrorClass::Outputs,
        }
    }

    /// A listing's stdout went away. A scan's outputs never get here as an
    /// io::Error: a broken machine stream is an [`CommandError::OutputsFailed`].
    fn is_broken_pipe(&self) -> bool {
        matches!(self, CommandError::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}
