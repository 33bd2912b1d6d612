//! `flinkscan diff OLD NEW`: what is new, fixed and unchanged between two
//! reports; new findings make the exit code 1.

use std::io::Write;
use std::path::Path;

use super::{read_report, CommandError, Outcome};
use crate::report::baseline;

pub fn run(
    old: &Path,
    new: &Path,
    json: bool,
    fail_on: Option<crate::model::Severity>,
) -> Result<Outcome, CommandError> {
    let old = read_report(old)?;
    let new = read_report(new)?;
    let diff = baseline::diff_reports(&old, &new);
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &diff)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", baseline::render_diff(&diff))?;
    }
    Ok(if diff.fails(fail_on) {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
