//! Flink version strings as clusters report them, ordered the way Flink
//! releases them.
//!
//! Real strings include `1.20.1`, `2.0-preview1`, `1.19-SNAPSHOT`, `2.1.0-rc2`
//! and vendor builds such as `1.18.1-amzn-0` or `1.17.2-csa1.11.0.0`. Flink's
//! own pre-releases sort before the release they lead to (`2.0-preview1 <
//! 2.0.0`), unlike Maven's ordering of unknown qualifiers; OSV range edges are
//! always plain releases, so this only matters for the scanned side. A vendor
//! build is ordered as the release it is based on, but the vendor may have
//! backported fixes, so matches on it are reported as possible, not certain.

use std::cmp::Ordering;
use std::fmt;

/// What follows the numeric part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Qualifier {
    /// A pre-release of the numeric version; orders before it.
    Pre(PreRelease),
    /// No qualifier: the release itself.
    Release,
    /// A vendor's build of the release (`amzn-0`, `csa1.11.0.0`).
    Vendor(String),
}

/// Flink's pre-release kinds, in release order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PreKind {
    Alpha,
    Beta,
    Milestone,
    Preview,
    Rc,
    Snapshot,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PreRelease {
    pub kind: PreKind,
    pub number: u64,
}

/// A parsed Flink version. Equality and order ignore the original text.
#[derive(Debug, Clone)]
pub struct FlinkVersion {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub qualifier: Qualifier,
}

/// Why a version string cannot be ordered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a Flink version ({why})")]
pub struct VersionError {
    pub text: String,
    pub why: &'static str,
}

impl FlinkVersion {
    pub fn parse(text: &str) -> Result<FlinkVersion, VersionError> {
        let err = |why| VersionError {
            text: text.chars().take(64).collect(),
            why,
        };
        let t = text.trim();
        let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
        let split = t.find(['-', '_']).unwrap_or(t.len());
        let (core, rest) = t.split_at(split);
        let rest = rest.get(1..).unwrap_or("");
        let mut numbers = [0u64; 3];
        let mut count = 0;
        for part in core.split('.') {
            if count == 3 {
                return Err(err("more than three numeric parts"));
            }
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("the numeric part is not MAJOR.MINOR[.PATCH]"));
            }
            numbers[count] = part.parse().map_err(|_| err("a number is too large"))?;
            count += 1;
        }
        if count < 2 {
            return Err(err("no MINOR part"));
        }
        let qualifier = if rest.is_empty() {
            if split < t.len() {
                return Err(err("empty qualifier"));
            }
            Qualifier::Release
        } else {
            classify(rest)
                .ok_or_else(|| err("the qualifier has characters outside [A-Za-z0-9._-]"))?
        };
        Ok(FlinkVersion {
            major: numbers[0],
            minor: numbers[1],
            patch: numbers[2],
            qualifier,
        })
    }

    /// The release a string that [`FlinkVersion::parse`] refuses starts
    /// with, as a vendor build of it: `1.14.0 (vendor build)`,
    /// `1.14.0/../x`. `None` unless `MAJOR.MINOR[.PATCH]` comes first and
    /// something other than a letter, digit or dot follows it (`1.2.3.4`
    /// and `1.14x` stay unordered).
    pub fn parse_prefix(text: &str) -> Option<FlinkVersion> {
        let t = text.trim();
        let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
        let end = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (core, rest) = t.split_at(end);
        let next = rest.chars().next()?;
        if next.is_alphanumeric() || core.ends_with('.') {
            return None;
        }
        let base = FlinkVersion::parse(core).ok()?;
        Some(FlinkVersion {
            qualifier: Qualifier::Vendor(rest.trim().chars().take(64).collect()),
            ..base
        })
    }

    /// `MAJOR.MINOR`, the release line.
    pub fn line(&self) -> (u64, u64) {
        (self.major, self.minor)
    }

    pub fn is_vendor_build(&self) -> bool {
        matches!(self.qualifier, Qualifier::Vendor(_))
    }

    /// Rank of the qualifier at equal numbers: pre-releases, then the
    /// release; a vendor build counts as its release.
    fn rank(&self) -> (u8, Option<&PreRelease>) {
        match &self.qualifier {
            Qualifier::Pre(p) => (0, Some(p)),
            Qualifier::Release | Qualifier::Vendor(_) => (1, None),
        }
    }
}

fn classify(rest: &str) -> Option<Qualifier> {
    if !rest
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        return None;
    }
    let lower = rest.to_ascii_lowercase();
    let word_end = lower
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(lower.len());
    let (word, tail) = lower.split_at(word_end);
    let tail = tail.trim_start_matches(['.', '-', '_']);
    let kind = match word {
        "snapshot" => Some(PreKind::Snapshot),
        "rc" | "cr" => Some(PreKind::Rc),
        "preview" => Some(PreKind::Preview),
        "m" | "milestone" => Some(PreKind::Milestone),
        "beta" | "b" => Some(PreKind::Beta),
        "alpha" | "a" => Some(PreKind::Alpha),
        _ => None,
    };
    match kind {
        // `rc2`, `preview1`, `SNAPSHOT`: a pre-release only when nothing
        // but an optional number follows; `rc1-amzn` is a vendor build.
        Some(kind) if tail.is_empty() || tail.bytes().all(|b| b.is_ascii_digit()) => {
            let number = if tail.is_empty() {
                0
            } else {
                tail.parse().ok()?
            };
            Some(Qualifier::Pre(PreRelease { kind, number }))
        }
        _ => Some(Qualifier::Vendor(rest.to_string())),
    }
}

impl PartialEq for FlinkVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for FlinkVersion {}

impl PartialOrd for FlinkVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for FlinkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| self.rank().cmp(&other.rank()))
    }
}

impl fmt::Display for FlinkVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        match &self.qualifier {
            Qualifier::Release => Ok(()),
            Qualifier::Vendor(v) => write!(f, "-{v}"),
            Qualifier::Pre(p) => {
                let word = match p.kind {
                    PreKind::Alpha => "alpha",
                    PreKind::Beta => "beta",
                    PreKind::Milestone => "milestone",
                    PreKind::Preview => "preview",
                    PreKind::Rc => "rc",
                    PreKind::Snapshot => "SNAPSHOT",
                };
                if p.kind == PreKind::Snapshot {
                    write!(f, "-{word}")
                } else {
                    write!(f, "-{word}{}", p.number)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> FlinkVersion {
        FlinkVersion::parse(s).unwrap()
    }

    #[test]
    fn real_strings_parse() {
        assert_eq!(v("1.20.1").to_string(), "1.20.1");
        assert_eq!(v("1.20").to_string(), "1.20.0");
        assert_eq!(v("2.0-preview1").to_string(), "2.0.0-preview1");
        assert_eq!(v("1.19-SNAPSHOT").to_string(), "1.19.0-SNAPSHOT");
        assert_eq!(v("2.1.0-rc2").to_string(), "2.1.0-rc2");
        assert!(v("1.18.1-amzn-0").is_vendor_build());
        assert!(v("1.17.2-csa1.11.0.0").is_vendor_build());
        assert!(v("1.16.3-rc1-custom").is_vendor_build());
        assert_eq!(v("v1.2.3").to_string(), "1.2.3");
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in [
            "",
            "garbage",
            "1",
            "1.",
            "1..2",
            "1.2.3.4",
            "x.1",
            "1.2-",
            "1.2.3-<script>",
            "99999999999999999999999.1",
        ] {
            assert!(FlinkVersion::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_release_with_a_suffix_it_cannot_read_is_a_vendor_build_of_it() {
        for (text, base) in [
            ("1.14.0 (vendor build)", "1.14.0"),
            ("1.14.0/../../etc", "1.14.0"),
            ("1.14.0 [31m", "1.14.0"),
            ("v1.13.2 \\u{202e}x", "1.13.2"),
            ("1.14.0-<script>", "1.14.0"),
            ("1.15 beta build", "1.15.0"),
        ] {
            assert!(FlinkVersion::parse(text).is_err(), "{text}");
            let v = FlinkVersion::parse_prefix(text).unwrap_or_else(|| panic!("{text}"));
            assert!(v.is_vendor_build(), "{text}");
            assert_eq!(v.cmp(&FlinkVersion::parse(base).unwrap()), Ordering::Equal);
        }
        for none in ["garbage", "1.2.3.4", "1.14x", "1.", "1 .2", "", "1.14.0"] {
            assert!(FlinkVersion::parse_prefix(none).is_none(), "{none}");
        }
    }

    #[test]
    fn order_follows_flink_releases() {
        let ordered = [
            "1.18.1",
            "1.19-SNAPSHOT",
            "1.19.0",
            "1.19.1",
            "1.20.4-SNAPSHOT",
            "1.20.4",
            "2.0-preview1",
            "2.0-preview2",
            "2.0.0-rc1",
            "2.0.0-rc2",
            "2.0.0-SNAPSHOT",
            "2.0.0",
            "2.0.1",
            "2.10.0",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        // A vendor build orders as the release it is based on.
        assert_eq!(v("1.18.1-amzn-0").cmp(&v("1.18.1")), Ordering::Equal);
        assert!(v("1.17.2-csa1.11.0.0") < v("1.17.3"));
        assert!(v("1.17.2-csa1.11.0.0") > v("1.17.1"));
    }
}
