//! Vulnerability knowledge: OSV advisory records, the map from OSV packages
//! to the Flink interfaces that expose them, and Flink's release lines.
//!
//! The data lives in `advisories/` (embedded at build time); `--advisories
//! PATH` adds or replaces records from a directory or a zip of OSV JSON files
//! (as osv.dev's bulk export ships them), and may carry its own
//! `interfaces.toml` or `releases.toml`. README: "Advisory data".

pub mod listing;
pub mod osv;
pub mod range;
pub mod releases;
pub mod version;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use include_dir::{include_dir, Dir};
use serde::{Deserialize, Serialize};

use crate::model::{ServiceKind, Severity};
use osv::{OsvPackage, OsvRecord};
use range::Affected;
use releases::Releases;
use version::{FlinkVersion, VersionError};

static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/advisories");

/// Malformed or unreadable advisory data, named so the user can fix it:
/// the data directory's own error ([`crate::datafiles`]).
pub use crate::datafiles::DataError as AdvisoryError;

/// What is wrong in an OSV record or the release data, naming the field.
/// Becomes the message of a [`DataError::Invalid`](AdvisoryError) for the
/// file.
#[derive(Debug, thiserror::Error)]
pub enum Malformed {
    /// Not a record: `path` is where serde stopped ("." for the root).
    #[error("{}", if path == "." { source.to_string() } else { format!("{path}: {source}") })]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    #[error("{field}: {problem}")]
    Event {
        field: String,
        problem: &'static str,
    },
    #[error("{field}: {source}")]
    Version {
        field: String,
        #[source]
        source: VersionError,
    },
    #[error("{0}.ranges[{1}].events: a range needs an introduced event")]
    NoIntroduced(String, usize),
    #[error("supported_lines must be at least 1")]
    NoSupportedLines,
    #[error("release[{index}].latest: {latest} is not on line {line}")]
    OffLine {
        index: usize,
        latest: String,
        line: String,
    },
    #[error("a release line is listed twice")]
    LineTwice,
    #[error("severity[{index}].score: `{score}`: {source}")]
    Score {
        index: usize,
        score: String,
        #[source]
        source: cvss::Error,
    },
    #[error("severity: no CVSS v3 or v4 vector and no database_specific.severity label")]
    NoSeverity,
}

fn invalid(file: &str, message: impl Into<String>) -> AdvisoryError {
    AdvisoryError::Invalid {
        file: file.to_string(),
        message: message.into(),
    }
}

/// One row of `interfaces.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InterfaceMapping {
    pub ecosystem: String,
    pub name: String,
    /// The interfaces whose version tells whether this package is affected.
    pub interfaces: Vec<ServiceKind>,
    pub why: String,
}

/// An advisory whose package is broader than the interface it concerns.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisoryOverride {
    pub id: String,
    pub interfaces: Vec<ServiceKind>,
    pub why: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct InterfacesFile {
    package: Vec<InterfaceMapping>,
    #[serde(default)]
    advisory: Vec<AdvisoryOverride>,
}

/// A CVSS vector from the record and the score computed from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cvss {
    pub vector: String,
    pub score: f64,
}

/// One affected package of an advisory, compiled.
#[derive(Debug, Clone)]
pub struct AffectedPackage {
    pub package: OsvPackage,
    pub affected: Affected,
    pub interfaces: Vec<ServiceKind>,
}

/// An advisory ready for matching.
#[derive(Debug, Clone)]
pub struct Advisory {
    pub record: OsvRecord,
    /// Where it was loaded from (`advisories/osv/X.json`, or a user path).
    pub origin: String,
    /// Written by flinkscan because no OSV record exists.
    pub written_by_flinkscan: bool,
    pub rule_id: String,
    pub cves: Vec<String>,
    pub ghsas: Vec<String>,
    pub cvss: Option<Cvss>,
    pub severity: Severity,
    pub score: f64,
    pub cwe: u32,
    pub packages: Vec<AffectedPackage>,
}

impl Advisory {
    /// Every id this advisory is known by: its own, then its aliases.
    pub fn ids(&self) -> Vec<String> {
        let mut ids = vec![self.record.id.clone()];
        for a in &self.record.aliases {
            if !ids.contains(a) {
                ids.push(a.clone());
            }
        }
        ids
    }

    pub fn references(&self) -> Vec<String> {
        self.record
            .references
            .iter()
            .map(|r| r.url.clone())
            .collect()
    }

    /// Every fixed version across its packages, ascending.
    pub fn fixed_versions(&self) -> Vec<FlinkVersion> {
        let mut v: Vec<FlinkVersion> = self
            .packages
            .iter()
            .flat_map(|p| p.affected.fixed().cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    pub fn applies_to(&self, kind: ServiceKind) -> bool {
        self.packages.iter().any(|p| p.interfaces.contains(&kind))
    }
}

/// How a scanned version relates to one advisory.
#[derive(Debug, Clone)]
pub struct Hit<'a> {
    pub advisory: &'a Advisory,
    /// The releases to upgrade to from this version.
    pub upgrade_to: Vec<FlinkVersion>,
    /// The version is a vendor build: ordered as its base release, but the
    /// vendor may have backported the fix.
    pub vendor_build: bool,
}

/// The result of matching one version string.
#[derive(Debug)]
pub enum Verdict<'a> {
    Ordered {
        version: FlinkVersion,
        hits: Vec<Hit<'a>>,
        /// Set when only the release the string starts with could be read
        /// (`1.14.0 (vendor build)`): why the whole string could not.
        unparsed: Option<VersionError>,
    },
    /// The string cannot be ordered: these advisories could apply.
    Unordered {
        error: VersionError,
        candidates: Vec<&'a Advisory>,
    },
}

/// Everything loaded: advisories, interface map, release lines.
#[derive(Debug, Clone)]
pub struct Advisories {
    pub advisories: Vec<Advisory>,
    pub interfaces: Vec<InterfaceMapping>,
    pub overrides: Vec<AdvisoryOverride>,
    pub releases: Releases,
    /// Records read but left out: no package of theirs is mapped to a
    /// Flink interface, or they were withdrawn.
    pub ignored: usize,
}

impl Advisories {
    /// The shipped data, with `extra` (a directory or a zip) added.
    pub fn load(extra: Option<&Path>) -> Result<Advisories, AdvisoryError> {
        let mut files = Files::default();
        collect_embedded(&EMBEDDED, &mut files, "advisories/");
        if let Some(path) = extra {
            for f in crate::datafiles::read(path, &[".json", ".toml"])? {
                files.add(&f.rel, f.origin, f.bytes, true)?;
            }
        }
        Advisories::from_files(files)
    }

    fn from_files(files: Files) -> Result<Advisories, AdvisoryError> {
        let interfaces: InterfacesFile = toml::from_str(&files.interfaces.1)
            .map_err(|e| invalid(&files.interfaces.0, e.to_string().trim_end()))?;
        let releases = Releases::parse(&files.releases.1)
            .map_err(|m| invalid(&files.releases.0, m.to_string().trim_end()))?;
        let map: BTreeMap<(String, String), &InterfaceMapping> = interfaces
            .package
            .iter()
            .map(|m| ((m.ecosystem.clone(), m.name.clone()), m))
            .collect();

        // The first override of an id wins, as a search from the top would.
        let overrides: HashMap<&str, &AdvisoryOverride> = interfaces
            .advisory
            .iter()
            .rev()
            .map(|o| (o.id.as_str(), o))
            .collect();
        let mut by_rule: BTreeMap<String, Advisory> = BTreeMap::new();
        let mut ignored = 0;
        for (origin, bytes, user) in files.records() {
            let record = osv::parse(bytes).map_err(|m| invalid(origin, m.to_string()))?;
            if record.withdrawn.is_some() {
                ignored += 1;
                continue;
            }
            let over = overrides.get(record.id.as_str()).copied();
            let Some(adv) = compile(record, origin, &map, over)? else {
                ignored += 1;
                continue;
            };
            // Same rule twice: a user's record replaces a shipped one; in
            // one source, a reviewed OSV record wins over one flinkscan wrote.
            match by_rule.get(&adv.rule_id) {
                Some(old) if !user && !old.written_by_flinkscan && !adv.written_by_flinkscan => {
                    return Err(invalid(
                        origin,
                        format!("{} describes the same CVE as {}", adv.record.id, old.origin),
                    ));
                }
                Some(old) if !user && adv.written_by_flinkscan && !old.written_by_flinkscan => {}
                _ => {
                    by_rule.insert(adv.rule_id.clone(), adv);
                }
            }
        }
        Ok(Advisories {
            advisories: by_rule.into_values().collect(),
            interfaces: interfaces.package,
            overrides: interfaces.advisory,
            releases,
            ignored,
        })
    }

    /// Advisories whose affected ranges hold `version` on an interface of
    /// `kind`, or why the version cannot be compared.
    pub fn matching(&self, version: &str, kind: ServiceKind) -> Verdict<'_> {
        let relevant = self.advisories.iter().filter(|a| a.applies_to(kind));
        let (version, unparsed) = match FlinkVersion::parse(version) {
            Ok(v) => (v, None),
            Err(error) => match FlinkVersion::parse_prefix(version) {
                Some(v) => (v, Some(error)),
                None => {
                    return Verdict::Unordered {
                        error,
                        candidates: relevant.collect(),
                    }
                }
            },
        };
        let hits = relevant
            .filter(|a| {
                a.packages
                    .iter()
                    .any(|p| p.interfaces.contains(&kind) && p.affected.includes(&version))
            })
            .map(|a| Hit {
                advisory: a,
                upgrade_to: range::upgrade_targets(
                    a.packages.iter().flat_map(|p| p.affected.fixed()),
                    &version,
                ),
                vendor_build: version.is_vendor_build(),
            })
            .collect();
        Verdict::Ordered {
            version,
            hits,
            unparsed,
        }
    }
}

/// Build an advisory from a record; `None` when no package is mapped.
fn compile(
    record: OsvRecord,
    origin: &str,
    map: &BTreeMap<(String, String), &InterfaceMapping>,
    over: Option<&AdvisoryOverride>,
) -> Result<Option<Advisory>, AdvisoryError> {
    let mut packages = Vec::new();
    for (i, entry) in record.affected.iter().enumerate() {
        let key = (entry.package.ecosystem.clone(), entry.package.name.clone());
        let Some(mapping) = map.get(&key) else {
            continue;
        };
        let affected = Affected::compile(entry, &format!("affected[{i}]"))
            .map_err(|m| invalid(origin, m.to_string()))?;
        packages.push(AffectedPackage {
            package: entry.package.clone(),
            affected,
            interfaces: over.map_or_else(|| mapping.interfaces.clone(), |o| o.interfaces.clone()),
        });
    }
    if packages.is_empty() {
        return Ok(None);
    }
    let mut ids = vec![record.id.clone()];
    ids.extend(record.aliases.iter().cloned());
    let cves: Vec<String> = ids
        .iter()
        .filter(|i| i.starts_with("CVE-"))
        .cloned()
        .collect();
    let ghsas: Vec<String> = ids
        .iter()
        .filter(|i| i.starts_with("GHSA-"))
        .cloned()
        .collect();
    let rule_id = format!(
        "FLINK-{}",
        cves.first().unwrap_or(&record.id).to_ascii_uppercase()
    );
    if !rule_id
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(invalid(
            origin,
            format!(
                "id: `{}` cannot name a rule (letters, digits and `-` only)",
                record.id
            ),
        ));
    }
    let (cvss, severity, score) =
        severity_of(&record).map_err(|m| invalid(origin, m.to_string()))?;
    let db = record.database_specific.clone().unwrap_or_default();
    let cwe = db
        .cwe_ids
        .iter()
        .find_map(|c| c.strip_prefix("CWE-").and_then(|n| n.parse().ok()))
        // CWE-1395: dependency on a vulnerable third-party component.
        .unwrap_or(1395);
    Ok(Some(Advisory {
        written_by_flinkscan: db.flinkscan.is_some(),
        origin: origin.to_string(),
        rule_id,
        cves,
        ghsas,
        cvss,
        severity,
        score,
        cwe,
        packages,
        record,
    }))
}

/// Severity from the record's CVSS vector (v3.x preferred, then v4.0); a
/// record without one falls back to its source's label, scored at the
/// label's lower bound, and says so.
fn severity_of(record: &OsvRecord) -> Result<(Option<Cvss>, Severity, f64), Malformed> {
    let pick = |prefix: &str| {
        record
            .severity
            .iter()
            .enumerate()
            .find(|(_, s)| s.score.starts_with(prefix))
    };
    if let Some((i, s)) = pick("CVSS:3").or_else(|| pick("CVSS:4")) {
        let parsed: cvss::Cvss = s.score.parse().map_err(|source| Malformed::Score {
            index: i,
            score: s.score.clone(),
            source,
        })?;
        let score = parsed.score();
        let severity = match parsed.severity() {
            cvss::Severity::Critical => Severity::Critical,
            cvss::Severity::High => Severity::High,
            cvss::Severity::Medium => Severity::Medium,
            cvss::Severity::Low => Severity::Low,
            _ => Severity::Info,
        };
        return Ok((
            Some(Cvss {
                vector: s.score.clone(),
                score,
            }),
            severity,
            score,
        ));
    }
    let label = record
        .database_specific
        .as_ref()
        .and_then(|d| d.severity.as_deref())
        .map(str::to_ascii_uppercase);
    let (severity, score) = match label.as_deref() {
        Some("CRITICAL") => (Severity::Critical, 9.0),
        Some("HIGH") => (Severity::High, 7.0),
        Some("MODERATE") | Some("MEDIUM") => (Severity::Medium, 4.0),
        Some("LOW") => (Severity::Low, 0.1),
        _ => return Err(Malformed::NoSeverity),
    };
    Ok((None, severity, score))
}

/// Text of the data files, each with the name errors should use.
struct Files {
    interfaces: (String, String),
    releases: (String, String),
    /// (origin, bytes, supplied by the user), in the order added; a
    /// replaced record leaves `None`.
    records: Vec<Option<(String, Vec<u8>, bool)>>,
    /// Where the record of each file name is in `records`: an osv.dev
    /// export has tens of thousands, so replacing one must not scan them.
    by_name: HashMap<String, usize>,
}

impl Default for Files {
    fn default() -> Self {
        Files {
            interfaces: ("advisories/interfaces.toml".into(), String::new()),
            releases: ("advisories/releases.toml".into(), String::new()),
            records: Vec::new(),
            by_name: HashMap::new(),
        }
    }
}

impl Files {
    fn add(
        &mut self,
        name: &str,
        origin: String,
        bytes: Vec<u8>,
        user: bool,
    ) -> Result<(), AdvisoryError> {
        let base = name.rsplit('/').next().unwrap_or(name);
        let text = || String::from_utf8(bytes.clone()).map_err(|_| invalid(&origin, "not UTF-8"));
        match base {
            "interfaces.toml" => self.interfaces = (origin.clone(), text()?),
            "releases.toml" => self.releases = (origin.clone(), text()?),
            _ if base.ends_with(".json") => {
                // A user's record replaces a shipped one with the same file name.
                let at = self.records.len();
                if let Some(old) = self.by_name.insert(base.to_string(), at) {
                    if let Some(slot) = self.records.get_mut(old) {
                        *slot = None;
                    }
                }
                self.records.push(Some((origin, bytes, user)));
            }
            _ => {}
        }
        Ok(())
    }

    /// The records kept, in the order added.
    fn records(&self) -> impl Iterator<Item = &(String, Vec<u8>, bool)> {
        self.records.iter().flatten()
    }
}

fn collect_embedded(dir: &Dir<'_>, out: &mut Files, prefix: &str) {
    for file in dir.files() {
        let name = file.path().to_string_lossy().replace('\\', "/");
        // Embedded files are checked by the tests; they cannot be malformed UTF-8.
        let _ = out.add(
            &name,
            format!("{prefix}{name}"),
            file.contents().to_vec(),
            false,
        );
    }
    for sub in dir.dirs() {
        collect_embedded(sub, out, prefix);
    }
}
