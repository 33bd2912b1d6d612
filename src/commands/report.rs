//! `flinkscan report IN.json`: render a saved or merged report for people.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::{read_report, CommandError, Outcome};
use crate::checks::catalog::Catalog;
use crate::plan;
use crate::report::text;
use crate::scan::outputs::write_people_outputs;

/// Clusters are grouped again, so a report written before clusters
/// renders too.
pub fn run(
    input: &Path,
    [html, markdown, csv]: [Option<PathBuf>; 3],
    no_color: bool,
) -> Result<Outcome, CommandError> {
    let [html, markdown, csv] = plan::outputs([
        ("--html", &html),
        ("--markdown", &markdown),
        ("--csv", &csv),
    ])?;
    let mut report = read_report(input)?;
    report.normalise();
    report.build_clusters();
    let catalog = Catalog::load(None, None)?;
    let mut failures = Vec::new();
    write_people_outputs(&html, &markdown, &report, &catalog, &mut failures);
    if let Some(out) = &csv {
        crate::scan::outputs::write_csv(out, &report, &catalog, &mut failures);
    }
    if html.is_none() && markdown.is_none() && csv.is_none() {
        let color = !no_color
            && text::color_wanted(std::io::stdout().is_terminal(), |k| std::env::var_os(k));
        let mut out = std::io::stdout().lock();
        out.write_all(
            text::render(&report, &catalog, color, text::summary_width(false)).as_bytes(),
        )?;
        out.flush()?;
    }
    if !failures.is_empty() {
        return Err(CommandError::OutputsFailed(failures));
    }
    Ok(Outcome::Clean)
}
