//! The rule catalog, the CVE table and the HTTP probe files, loaded from
//! `probes/` (embedded at build time) plus an optional `--probes DIR`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use include_dir::{include_dir, Dir};
use serde::{Deserialize, Serialize};

use super::probe::ProbeFile;
use crate::advisories::{Advisories, Advisory};
use crate::datafiles::DataError;
use crate::model::Severity;

static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/probes");

/// A malformed catalog or probe file, named so the user can fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    /// An unreadable or malformed file of a data directory or archive
    /// (`--probes`, `--advisories`).
    #[error(transparent)]
    Data(#[from] DataError),
}

/// One check's metadata: what SARIF calls a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: Arc<str>,
    /// Shared with every finding of the rule (a scan of many thousand Flink
    /// services would otherwise hold a copy per finding).
    pub title: Arc<str>,
    pub severity: Severity,
    pub security_severity: f64,
    pub cwe: u32,
    pub description: String,
    pub remediation: Arc<str>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Set on rules made from an advisory record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advisory: Option<RuleAdvisory>,
}

/// What a rule made from an advisory carries beyond the common fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleAdvisory {
    /// The record's id, then its aliases (CVE, GHSA).
    pub ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_vector: Option<String>,
    /// Every release that fixes it, ascending.
    pub fixed: Vec<String>,
    /// `ecosystem:name` of each affected package and the interfaces it maps to.
    pub packages: Vec<String>,
    /// Where the record came from.
    pub origin: String,
    /// No OSV record exists; flinkscan wrote this one from the cited sources.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub written_by_flinkscan: bool,
}

/// The rule an advisory becomes: id `FLINK-<CVE>`, severity and score from
/// the record's CVSS vector.
fn advisory_rule(adv: &Advisory) -> Rule {
    let name = adv.cves.first().unwrap_or(&adv.record.id);
    let summary = adv
        .record
        .summary
        .as_deref()
        .unwrap_or("Known vulnerability in this Flink version");
    let description = adv
        .record
        .details
        .as_deref()
        .map(first_paragraphs)
        .unwrap_or_else(|| summary.to_string());
    let fixed: Vec<String> = adv.fixed_versions().iter().map(|v| v.to_string()).collect();
    let remediation = if fixed.is_empty() {
        "No fixed release is listed: keep this interface away from untrusted networks and follow the advisory.".to_string()
    } else {
        format!(
            "Upgrade to a fixed release ({}) or any later supported Flink release, and keep the interface away from untrusted networks.",
            fixed.join(", ")
        )
    };
    Rule {
        id: adv.rule_id.as_str().into(),
        title: if summary.contains(name.as_str()) {
            summary.into()
        } else {
            format!("{name}: {summary}").into()
        },
        severity: adv.severity,
        security_severity: adv.score,
        cwe: adv.cwe,
        description,
        remediation: remediation.into(),
        sources: adv.references(),
        advisory: Some(RuleAdvisory {
            ids: adv.ids(),
            cvss_vector: adv.cvss.as_ref().map(|c| c.vector.clone()),
            fixed,
            packages: adv
                .packages
                .iter()
                .map(|p| {
                    let kinds: Vec<&str> = p.interfaces.iter().map(|k| k.as_str()).collect();
                    format!(
                        "{}:{} ({})",
                        p.package.ecosystem,
                        p.package.name,
                        kinds.join(", ")
                    )
                })
                .collect(),
            origin: adv.origin.clone(),
            written_by_flinkscan: adv.written_by_flinkscan,
        }),
    }
}

/// An advisory's details, cut to what fits a rule description.
fn first_paragraphs(details: &str) -> String {
    let mut out = String::new();
    for para in details.split("\n\n") {
        if !out.is_empty() && out.len() + para.len() > 900 {
            break;
        }
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(para.trim());
    }
    out.chars().take(1200).collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rule: Vec<Rule>,
}

/// Everything the check stage needs, validated.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub rules: BTreeMap<String, Rule>,
    pub advisories: Advisories,
    pub probes: Vec<ProbeFile>,
}

impl Catalog {
    /// The embedded catalog, with files from `extra` added or replacing
    /// embedded ones of the same name, and the shipped advisories with
    /// those of `advisories` (a directory or zip of OSV records) added.
    pub fn load(extra: Option<&Path>, advisories: Option<&Path>) -> Result<Catalog, CatalogError> {
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        collect_embedded(&EMBEDDED, &mut files);
        let mut origins = BTreeMap::new();
        if let Some(path) = extra {
            collect_extra(path, &mut files, &mut origins)?;
        }
        let advisories = Advisories::load(advisories)?;
        Catalog::from_sources(&files, &origins, advisories)
    }

    pub fn from_files(
        files: &BTreeMap<String, String>,
        advisories: Advisories,
    ) -> Result<Catalog, CatalogError> {
        Catalog::from_sources(files, &BTreeMap::new(), advisories)
    }

    /// `origins` maps a key of `files` to the path it was read from, for
    /// messages (embedded files are named by their key).
    fn from_sources(
        files: &BTreeMap<String, String>,
        origins: &BTreeMap<String, String>,
        advisories: Advisories,
    ) -> Result<Catalog, CatalogError> {
        let origin = |key: &str| origins.get(key).cloned().unwrap_or_else(|| key.to_string());
        let parse_err = |file: &str, e: toml::de::Error| CatalogError::Parse {
            file: origin(file),
            message: e.to_string().trim_end().to_string(),
        };
        let rules_text = files
            .get("rules.toml")
            .ok_or_else(|| CatalogError::Invalid {
                file: "rules.toml".into(),
                message: "missing".into(),
            })?;
        let rules: RulesFile =
            toml::from_str(rules_text).map_err(|e| parse_err("rules.toml", e))?;
        let mut map = BTreeMap::new();
        for rule in rules.rule {
            validate_rule(&rule, &origin("rules.toml"))?;
            if map.insert(rule.id.to_string(), rule.clone()).is_some() {
                return Err(CatalogError::Invalid {
                    file: origin("rules.toml"),
                    message: format!("duplicate rule id {}", rule.id),
                });
            }
        }
        for adv in &advisories.advisories {
            let rule = advisory_rule(adv);
            validate_rule(&rule, &adv.origin)?;
            if let Some(old) = map.insert(rule.id.to_string(), rule) {
                return Err(CatalogError::Invalid {
                    file: adv.origin.clone(),
                    message: format!("rule {} is also defined in rules.toml", old.id),
                });
            }
        }

        let mut probes = Vec::new();
        for (name, text) in files {
            if !name.starts_with("http/") || !name.ends_with(".toml") {
                continue;
            }
            let probe: ProbeFile = toml::from_str(text).map_err(|e| parse_err(name, e))?;
            probe.validate().map_err(|e| CatalogError::Invalid {
                file: origin(name),
                message: e.to_string(),
            })?;
            if !map.contains_key(&probe.rule) {
                return Err(CatalogError::Invalid {
                    file: origin(name),
                    message: format!("rule `{}` is not in the catalog", probe.rule),
                });
            }
            probes.push(probe);
        }
        probes.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Catalog {
            rules: map,
            advisories,
            probes,
        })
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.get(id)
    }
}

fn validate_rule(rule: &Rule, file: &str) -> Result<(), CatalogError> {
    let bad = |m: String| CatalogError::Invalid {
        file: file.to_string(),
        message: format!("rule {}: {m}", rule.id),
    };
    if !rule
        .id
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(bad("id must be upper-case letters, digits and `-`".into()));
    }
    if !(0.0..=10.0).contains(&rule.security_severity) {
        return Err(bad("security_severity must be within 0.0-10.0".into()));
    }
    Ok(())
}

fn collect_embedded(dir: &Dir<'_>, out: &mut BTreeMap<String, String>) {
    for file in dir.files() {
        if let Some(text) = file.contents_utf8() {
            out.insert(
                file.path().to_string_lossy().replace('\\', "/"),
                text.to_string(),
            );
        }
    }
    for sub in dir.dirs() {
        collect_embedded(sub, out);
    }
}

/// `--probes`: a directory (or a zip) of TOML files, keyed as in `probes/`:
/// `rules.toml`, HTTP probes under `http/` or at the top. Any other TOML
/// file is refused rather than left unread; `origins` gets the path each
/// key was read from.
fn collect_extra(
    path: &Path,
    out: &mut BTreeMap<String, String>,
    origins: &mut BTreeMap<String, String>,
) -> Result<(), CatalogError> {
    for file in crate::datafiles::read(path, &[".toml"])? {
        let rel = if file.rel == "rules.toml" || file.rel.starts_with("http/") {
            file.rel.clone()
        } else if !file.rel.contains('/') {
            // A bare probe file dropped in DIR is an HTTP probe.
            format!("http/{}", file.rel)
        } else {
            return Err(CatalogError::Invalid {
                file: file.origin.clone(),
                message: "not read: --probes takes rules.toml and HTTP probe files at its top \
                          level or under http/; move it there or out of the directory"
                    .into(),
            });
        };
        out.insert(rel.clone(), file.text()?.to_string());
        origins.insert(rel, file.origin);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_loads() {
        let c = Catalog::load(None, None).unwrap();
        assert!(c.rule("FLINK-REST-UNAUTHENTICATED").is_some());
        assert!(c.rule("FLINK-CVE-2020-17519").is_some());
        assert!(!c.probes.is_empty());
    }

    #[test]
    fn malformed_probe_names_file_and_field() {
        let mut files = BTreeMap::new();
        collect_embedded(&EMBEDDED, &mut files);
        files.insert(
            "http/bad.toml".into(),
            "id = \"x\"\nrule = \"FLINK-REST-UNAUTHENTICATED\"\n[request]\nmethod = 3\n".into(),
        );
        let e = Catalog::from_files(&files, Advisories::load(None).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("http/bad.toml"), "{e}");
        assert!(e.contains("method"), "{e}");
    }

    /// A misspelt service is a load error naming the file, the field and
    /// the names it could have been, not a probe that never runs.
    #[test]
    fn unknown_probe_service_names_file_and_field() {
        let mut files = BTreeMap::new();
        collect_embedded(&EMBEDDED, &mut files);
        let good = files["http/rest-jar-upload.toml"].clone();
        let typo = good.replace("\"jobmanager-rest\"", "\"jobmanger-rest\"");
        assert_ne!(good, typo);
        files.insert("http/rest-jar-upload.toml".into(), typo);
        let e = Catalog::from_files(&files, Advisories::load(None).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("http/rest-jar-upload.toml"), "{e}");
        assert!(
            e.contains("services") && e.contains("jobmanger-rest"),
            "{e}"
        );
        assert!(
            e.contains("jobmanager-rest") && e.contains("sql-gateway"),
            "{e}"
        );
    }

    /// `--probes` is read by the shared loader: bounded, loop-safe, and a
    /// zip works as a directory does.
    #[test]
    fn extra_probes_are_bounded_and_loop_safe_and_may_be_a_zip() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; 5 << 20]).unwrap_or_else(|e| panic!("{e}"));
        let e = Catalog::load(Some(dir.path()), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("big.toml") && e.contains("larger than"), "{e}");
        std::fs::remove_file(&big).unwrap_or_else(|e| panic!("{e}"));

        std::os::unix::fs::symlink(dir.path(), dir.path().join("loop"))
            .unwrap_or_else(|e| panic!("{e}"));
        let e = Catalog::load(Some(dir.path()), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("levels deep"), "{e}");

        let probe = EMBEDDED
            .get_file("http/rest-jar-upload.toml")
            .and_then(|f| f.contents_utf8())
            .unwrap_or_else(|| panic!("embedded probe missing"))
            .replace("id = \"rest-jar-upload\"", "id = \"zipped\"");
        let zip_path = dir.path().join("probes.zip");
        let mut zip =
            zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap_or_else(|e| panic!("{e}")));
        zip.start_file("zipped.toml", zip::write::SimpleFileOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
        std::io::Write::write_all(&mut zip, probe.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        zip.finish().unwrap_or_else(|e| panic!("{e}"));
        let c = Catalog::load(Some(&zip_path), None).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.probes.iter().any(|p| p.id == "zipped"));
    }
}
