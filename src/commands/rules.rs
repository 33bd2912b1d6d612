//! `flinkscan rules [ID]`: the rule catalog, or one rule explained.

use std::io::Write;
use std::path::Path;

use super::{CommandError, Outcome};
use crate::checks::catalog::Catalog;
use crate::checks::RuleFilter;

pub fn run(
    id: Option<&str>,
    json: bool,
    probes: Option<&Path>,
    advisories: Option<&Path>,
) -> Result<Outcome, CommandError> {
    let catalog = Catalog::load(probes, advisories)?;
    match id {
        Some(id) => explain_rule(&catalog, id, json)?,
        None => print_rules(&catalog, json)?,
    }
    Ok(Outcome::Clean)
}

/// `flinkscan rules ID`: one rule, explained for a person.
fn explain_rule(catalog: &Catalog, id: &str, json: bool) -> Result<(), CommandError> {
    let Some(rule) = catalog
        .rules
        .values()
        .find(|r| r.id.eq_ignore_ascii_case(id.trim()))
    else {
        let filter = RuleFilter {
            only: vec![id.to_string()],
            skip: Vec::new(),
        };
        let why = filter
            .check(catalog.rules.keys().map(String::as_str))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let why = why.replacen("--rules ", "", 1);
        return Err(CommandError::NoRule(why));
    };
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

fn print_rules(catalog: &Catalog, json: bool) -> Result<(), CommandError> {
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
            crate::untrusted::shown(&r.title)
        )?;
    }
    writeln!(out, "\nSelect with --rules ID[,ID...] or skip with --skip-rules; a trailing * matches a prefix (FLINK-TLS-*).\n`flinkscan rules ID` explains one rule and its fix.")?;
    Ok(())
}
