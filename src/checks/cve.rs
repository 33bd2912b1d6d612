//! Version -> known CVEs and end-of-life, from `probes/cves.toml`.

use semver::Version;

use super::catalog::{CveEntry, EolTable};

/// Parse `LOW..=HIGH` into two versions.
pub fn parse_range(text: &str) -> Result<(Version, Version), String> {
    let (lo, hi) = text
        .split_once("..=")
        .ok_or_else(|| "expected LOW..=HIGH".to_string())?;
    let lo = parse_version(lo).ok_or_else(|| format!("`{lo}` is not a version"))?;
    let hi = parse_version(hi).ok_or_else(|| format!("`{hi}` is not a version"))?;
    if lo > hi {
        return Err("range ends before it starts".into());
    }
    Ok((lo, hi))
}

/// Flink versions are `MAJOR.MINOR[.PATCH][-SUFFIX]`; a missing patch is 0.
pub fn parse_version(text: &str) -> Option<Version> {
    let t = text.trim();
    let (core, pre) = t.split_once('-').unwrap_or((t, ""));
    let mut parts = core.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    if parts.next().is_some() {
        return None;
    }
    let mut v = Version::new(major, minor, patch);
    if !pre.is_empty() {
        v.pre = semver::Prerelease::new(
            &pre.replace(|c: char| !c.is_ascii_alphanumeric() && c != '.', ""),
        )
        .ok()?;
    }
    Some(v)
}

/// CVE entries whose affected ranges contain `version` and that apply to
/// `service` (a `ServiceKind` name).
pub fn matching<'a>(cves: &'a [CveEntry], version: &str, service: &str) -> Vec<&'a CveEntry> {
    let Some(v) = parse_version(version) else {
        return Vec::new();
    };
    // A snapshot or release candidate of X.Y.Z is treated as X.Y.Z.
    let v = Version::new(v.major, v.minor, v.patch);
    cves.iter()
        .filter(|c| c.services.iter().any(|s| s == service))
        .filter(|c| {
            c.affected
                .iter()
                .any(|r| parse_range(r).is_ok_and(|(lo, hi)| lo <= v && v <= hi))
        })
        .collect()
}

/// `true` when the version's release line is no longer supported.
pub fn is_eol(eol: &EolTable, version: &str) -> bool {
    let Some(v) = parse_version(version) else {
        return false;
    };
    let line = format!("{}.{}", v.major, v.minor);
    let supported: Vec<Version> = eol
        .supported
        .iter()
        .filter_map(|s| parse_version(s))
        .collect();
    if supported
        .iter()
        .any(|s| format!("{}.{}", s.major, s.minor) == line)
    {
        return false;
    }
    // Newer than every supported line: a release after our table, not EOL.
    let newest = supported.iter().max();
    newest.is_some_and(|n| (v.major, v.minor) < (n.major, n.minor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::catalog::Catalog;

    #[test]
    fn ranges_and_matching() {
        let c = Catalog::load(None).unwrap();
        let ids = |v: &str, s: &str| {
            matching(&c.cves, v, s)
                .iter()
                .map(|c| c.id.clone())
                .collect::<Vec<_>>()
        };
        assert!(ids("1.11.2", "jobmanager-rest").contains(&"CVE-2020-17519".to_string()));
        assert!(!ids("1.11.3", "jobmanager-rest").contains(&"CVE-2020-17519".to_string()));
        assert!(ids("1.14.0", "jobmanager-rest").contains(&"CVE-2021-44228".to_string()));
        assert!(ids("1.20.1", "jobmanager-rest").is_empty());
        assert!(ids("garbage", "jobmanager-rest").is_empty());
        assert!(is_eol(&c.eol, "1.16.3"));
        assert!(!is_eol(&c.eol, "1.20.1"));
        assert!(!is_eol(&c.eol, "9.0.0"));
        assert!(parse_range("1.2..=1.1").is_err());
    }
}
