//! `flinkscan rules [ID]`: the rule catalog, or one rule (or a `PREFIX*`
//! selection) explained.

use std::io::Write;
use std::path::Path;

use super::{CommandError, Outcome};
use crate::checks::catalog::{Catalog, Rule};
use crate::checks::lookup::{self, Found};

pub fn run(
    id: Option<&str>,
    json: bool,
    probes: Option<&Path>,
    advisories: Option<&Path>,
) -> Result<Outcome, CommandError> {
    let catalog = Catalog::load(probes, advisories)?;
    match id {
        Some(id) => match lookup::find(&catalog, id)? {
            Found::One(rule) => explain_rule(rule, json)?,
            Found::Many(rules) => print_rules(rules, json)?,
        },
        None => print_rules(catalog.rules.values().collect(), json)?,
    }
    Ok(Outcome::Clean)
}

/// `flinkscan rules ID`: one rule, explained for a person.
fn explain_rule(rule: &Rule, json: bool) -> Result<(), CommandError> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, rule)?;
        writeln!(out)?;
        return Ok(());
    }
    let shown = crate::untrusted::shown;
    writeln!(out, "{}  {}", rule.id, shown(&rule.title))?;
    writeln!(
        out,
        "severity {} (score {:.1}), CWE-{}\n",
        rule.severity, rule.security_severity, rule.cwe
    )?;
    // Descriptions have paragraphs: keep them, indented.
    let paragraphs = |t: &str| crate::untrusted::shown_lines(t.trim()).replace('\n', "\n  ");
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

fn print_rules(mut rules: Vec<&Rule>, json: bool) -> Result<(), CommandError> {
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
            crate::untrusted::shown(&r.title)
        )?;
    }
    writeln!(out, "\nSelect with --rules ID[,ID...] or skip with --skip-rules; a trailing * matches a prefix (FLINK-TLS-*).\n`flinkscan rules ID` explains one rule and its fix.")?;
    Ok(())
}
