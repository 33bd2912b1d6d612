//! End of life as data: Flink's release lines with their dates, and the
//! community's support policy applied at the scan date (see
//! `advisories/releases.toml` and the README).

use serde::Deserialize;
use time::Date;

use super::version::FlinkVersion;
use super::Malformed;

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasesFile {
    /// When the shipped data was last checked against its sources.
    #[serde(with = "iso_date")]
    pub checked: Date,
    /// How many of the newest minor lines the community supports.
    pub supported_lines: usize,
    #[serde(default)]
    pub policy_sources: Vec<String>,
    #[serde(rename = "release")]
    pub lines: Vec<ReleaseLine>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseLine {
    /// `MAJOR.MINOR`.
    pub line: String,
    #[serde(with = "iso_date")]
    pub released: Date,
    /// The date of the announcement post, where it differs.
    #[serde(default, with = "iso_date::option")]
    pub announced: Option<Date>,
    /// A long-term-support line stays supported beside the newest lines.
    #[serde(default)]
    pub lts: bool,
    /// The end of support the community announced, if any.
    #[serde(default, with = "iso_date::option")]
    pub supported_until: Option<Date>,
    /// The newest patch release of the line when the data was checked.
    #[serde(default)]
    pub latest: Option<String>,
    #[serde(default, with = "iso_date::option")]
    pub latest_released: Option<Date>,
    #[serde(default)]
    pub sources: Vec<String>,
}

/// The verdict for one version at one date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    Supported,
    EndOfLife {
        /// Supported lines at the scan date, newest first.
        supported: Vec<String>,
        /// Newest known patch of the newest supported line, to upgrade to.
        upgrade_to: Option<String>,
    },
    /// A line newer than every line in the data: the data is older than the
    /// cluster, so nothing can be said.
    Unknown,
}

/// Release data, validated.
#[derive(Debug, Clone)]
pub struct Releases {
    pub file: ReleasesFile,
    lines: Vec<((u64, u64), ReleaseLine)>,
}

impl Releases {
    pub fn parse(text: &str) -> Result<Releases, Malformed> {
        let file: ReleasesFile = toml::from_str(text)?;
        if file.supported_lines == 0 {
            return Err(Malformed::NoSupportedLines);
        }
        let mut lines = Vec::new();
        for (i, l) in file.lines.iter().enumerate() {
            let v = FlinkVersion::parse(&l.line).map_err(|source| Malformed::Version {
                field: format!("release[{i}].line"),
                source,
            })?;
            if let Some(latest) = &l.latest {
                let p = FlinkVersion::parse(latest).map_err(|source| Malformed::Version {
                    field: format!("release[{i}].latest"),
                    source,
                })?;
                if p.line() != v.line() {
                    return Err(Malformed::OffLine {
                        index: i,
                        latest: latest.clone(),
                        line: l.line.clone(),
                    });
                }
            }
            lines.push((v.line(), l.clone()));
        }
        lines.sort_by_key(|l| std::cmp::Reverse(l.0));
        if lines.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(Malformed::LineTwice);
        }
        Ok(Releases { file, lines })
    }

    /// Lines the policy supports on `date`, newest first: the newest
    /// `supported_lines` lines released by then, plus LTS lines, minus
    /// lines past an announced end of support.
    pub fn supported_at(&self, date: Date) -> Vec<&ReleaseLine> {
        let released: Vec<&ReleaseLine> = self
            .lines
            .iter()
            .map(|(_, l)| l)
            .filter(|l| l.released <= date)
            .collect();
        released
            .iter()
            .enumerate()
            .filter(|(i, l)| *i < self.file.supported_lines || l.lts)
            .map(|(_, l)| *l)
            .filter(|l| l.supported_until.is_none_or(|end| date <= end))
            .collect()
    }

    pub fn support(&self, version: &FlinkVersion, date: Date) -> Support {
        let newest_known = self.lines.first().map(|(k, _)| *k);
        if newest_known.is_none_or(|n| version.line() > n) {
            return Support::Unknown;
        }
        let supported = self.supported_at(date);
        if supported
            .iter()
            .any(|l| FlinkVersion::parse(&l.line).is_ok_and(|v| v.line() == version.line()))
        {
            return Support::Supported;
        }
        Support::EndOfLife {
            supported: supported.iter().map(|l| l.line.clone()).collect(),
            upgrade_to: supported.first().and_then(|l| l.latest.clone()),
        }
    }

    /// Days the data had aged on `date` when that is over a year.
    pub fn stale_days(&self, date: Date) -> Option<i64> {
        let days = (date - self.file.checked).whole_days();
        (days > 365).then_some(days)
    }

    pub fn lines(&self) -> impl Iterator<Item = &ReleaseLine> {
        self.lines.iter().map(|(_, l)| l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const DATA: &str = r#"
checked = "2026-11-30"
supported_lines = 2
[[release]]
line = "1.19"
released = "2024-03-18"
[[release]]
line = "1.20"
released = "2024-08-02"
lts = true
latest = "1.20.3"
[[release]]
line = "2.0"
released = "2025-03-24"
[[release]]
line = "2.1"
released = "2025-07-31"
latest = "2.1.1"
[[release]]
line = "2.2"
released = "2025-12-04"
latest = "2.2.0"
"#;

    fn v(s: &str) -> FlinkVersion {
        FlinkVersion::parse(s).unwrap()
    }

    #[test]
    fn policy_at_a_date() {
        let r = Releases::parse(DATA).unwrap();
        let at = |d| {
            r.supported_at(d)
                .iter()
                .map(|l| l.line.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(at(date!(2026 - 01 - 01)), ["2.2", "2.1", "1.20"]);
        // Before 2.2 was released, 2.0 was still the previous line.
        assert_eq!(at(date!(2025 - 09 - 01)), ["2.1", "2.0", "1.20"]);
        assert_eq!(
            r.support(&v("1.20.1"), date!(2026 - 01 - 01)),
            Support::Supported
        );
        assert_eq!(
            r.support(&v("2.0.0"), date!(2026 - 01 - 01)),
            Support::EndOfLife {
                supported: vec!["2.2".into(), "2.1".into(), "1.20".into()],
                upgrade_to: Some("2.2.0".into())
            }
        );
        assert!(matches!(
            r.support(&v("1.14.6"), date!(2026 - 01 - 01)),
            Support::EndOfLife { .. }
        ));
        assert_eq!(
            r.support(&v("2.3.0"), date!(2026 - 01 - 01)),
            Support::Unknown
        );
        assert_eq!(r.stale_days(date!(2027 - 06 - 01)), None);
        assert_eq!(r.stale_days(date!(2027 - 12 - 01)), Some(366));
    }

    #[test]
    fn bad_data_is_named() {
        assert!(Releases::parse("checked = \"x\"").is_err());
        let e = Releases::parse(&DATA.replace("latest = \"1.20.3\"", "latest = \"1.19.3\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("release[1].latest"), "{e}");
    }
}
