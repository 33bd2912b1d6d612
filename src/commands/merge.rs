//! `flinkscan merge`: shard reports into one report (and SARIF), or SARIF
//! logs into one log; which one is decided by the inputs.

use std::path::{Path, PathBuf};

use super::{CommandError, Outcome};
use crate::checks::catalog::Catalog;
use crate::plan;
use crate::report::{self, sarif, ScanReport};
use crate::scan::outputs::write_document;

pub fn run(
    inputs: &[PathBuf],
    output: &Path,
    sarif_out: Option<&Path>,
    probes: Option<&Path>,
    advisories: Option<&Path>,
) -> Result<Outcome, CommandError> {
    let catalog = Catalog::load(probes, advisories)?;
    merge_command(inputs, output, sarif_out, &catalog)
}

fn merge_command(
    inputs: &[PathBuf],
    output: &Path,
    sarif_out: Option<&Path>,
    catalog: &Catalog,
) -> Result<Outcome, CommandError> {
    let [output, sarif_out] = plan::outputs([
        ("--output", &Some(output.to_path_buf())),
        ("--sarif", &sarif_out.map(Path::to_path_buf)),
    ])?;
    let mut failures = Vec::new();
    let docs = read_json(inputs)?;
    let all_sarif = docs.iter().all(|d| d.get("runs").is_some());
    let findings;
    if all_sarif {
        let merged = report::merge::merge_sarif(&docs)?;
        findings = merged
            .pointer("/runs/0/results")
            .and_then(|r| r.as_array())
            .map_or(0, Vec::len);
        if let Some(out) = &output {
            write_document(out, &merged, &mut failures);
        }
    } else {
        let reports = docs
            .into_iter()
            .zip(inputs)
            .map(|(d, p)| {
                serde_json::from_value::<ScanReport>(d).map_err(|source| CommandError::NotReport {
                    path: p.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let merged = report::merge::merge_reports(reports)?;
        findings = merged.findings.len();
        if let Some(out) = &sarif_out {
            // A rule the catalog lacks would leave its results without
            // rule metadata: refuse rather than write a SARIF that loses it.
            let unknown: std::collections::BTreeSet<&str> = merged
                .findings
                .iter()
                .map(|f| &*f.rule_id)
                .filter(|id| catalog.rule(id).is_none())
                .collect();
            if !unknown.is_empty() {
                return Err(CommandError::UnknownRules(
                    unknown.into_iter().map(str::to_string).collect(),
                ));
            }
            let doc = sarif::render(&merged, catalog, sarif::Compat::Standard);
            write_document(out, &doc, &mut failures);
        }
        if let Some(out) = &output {
            write_document(out, &merged, &mut failures);
        }
    }
    if !failures.is_empty() {
        return Err(CommandError::OutputsFailed(failures));
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
        crate::untrusted::shown(&written),
        crate::untrusted::shown(&also)
    );
    Ok(Outcome::Clean)
}

/// Every input as JSON, before deciding what kind of merge it is.
fn read_json(inputs: &[PathBuf]) -> Result<Vec<serde_json::Value>, CommandError> {
    let mut docs = Vec::new();
    for p in inputs {
        let bytes =
            crate::atomic::read_capped(p, 512 << 20).map_err(|source| CommandError::Read {
                path: p.clone(),
                source,
            })?;
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|source| CommandError::NotJson {
                path: p.clone(),
                source,
            })?;
        docs.push(v);
    }
    Ok(docs)
}
