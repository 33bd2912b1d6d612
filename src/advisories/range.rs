//! OSV range evaluation: introduced / fixed / last_affected events, several
//! ranges per package, as the OSV specification defines it.

use super::osv::{EventKind, OsvAffected};
use super::version::FlinkVersion;
use super::Malformed;

/// One event with its version parsed; `None` is OSV's `introduced: "0"`.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    pub at: Option<FlinkVersion>,
}

/// The ranges and explicit versions of one affected package, compiled.
#[derive(Debug, Clone, Default)]
pub struct Affected {
    pub ranges: Vec<Vec<Event>>,
    pub versions: Vec<FlinkVersion>,
}

impl Affected {
    /// Compile an OSV `affected` entry; errors name the field.
    pub fn compile(entry: &OsvAffected, at: &str) -> Result<Affected, Malformed> {
        let mut ranges = Vec::new();
        for (ri, range) in entry.ranges.iter().enumerate() {
            // GIT ranges are commit hashes: nothing a scan can compare.
            if range.kind.eq_ignore_ascii_case("GIT") {
                continue;
            }
            let mut events = Vec::new();
            for (ei, event) in range.events.iter().enumerate() {
                let field = format!("{at}.ranges[{ri}].events[{ei}]");
                let (kind, text) = event.single().map_err(|problem| Malformed::Event {
                    field: field.clone(),
                    problem,
                })?;
                let at = if kind == EventKind::Introduced && text == "0" {
                    None
                } else {
                    Some(
                        FlinkVersion::parse(text).map_err(|source| Malformed::Version {
                            field: format!("{field}.{}", kind.as_str()),
                            source,
                        })?,
                    )
                };
                events.push(Event { kind, at });
            }
            if !events.iter().any(|e| e.kind == EventKind::Introduced) {
                return Err(Malformed::NoIntroduced(at.to_string(), ri));
            }
            // Sorted by version, "0" first; at equal versions an introduced
            // event comes first so [X, X) stays empty.
            events.sort_by(|a, b| {
                a.at.cmp(&b.at).then_with(|| {
                    (a.kind != EventKind::Introduced).cmp(&(b.kind != EventKind::Introduced))
                })
            });
            ranges.push(events);
        }
        let versions = entry
            .versions
            .iter()
            .enumerate()
            .map(|(i, v)| {
                FlinkVersion::parse(v).map_err(|source| Malformed::Version {
                    field: format!("{at}.versions[{i}]"),
                    source,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Affected { ranges, versions })
    }

    /// OSV's evaluation: walk the sorted events of each range.
    pub fn includes(&self, v: &FlinkVersion) -> bool {
        if self.versions.iter().any(|x| x == v) {
            return true;
        }
        self.ranges.iter().any(|events| {
            let mut vulnerable = false;
            for e in events {
                match (e.kind, &e.at) {
                    (EventKind::Introduced, None) => vulnerable = true,
                    (EventKind::Introduced, Some(at)) if v >= at => vulnerable = true,
                    (EventKind::Fixed, Some(at)) if v >= at => vulnerable = false,
                    (EventKind::LastAffected, Some(at)) if v > at => vulnerable = false,
                    (EventKind::Limit, Some(at)) if v >= at => vulnerable = false,
                    _ => {}
                }
            }
            vulnerable
        })
    }

    /// Every `fixed` version of every range.
    pub fn fixed(&self) -> impl Iterator<Item = &FlinkVersion> {
        self.ranges
            .iter()
            .flatten()
            .filter(|e| e.kind == EventKind::Fixed)
            .filter_map(|e| e.at.as_ref())
    }
}

/// The releases to upgrade to from `v`: the first fix above it on its own
/// line if there is one, else the lowest fix above it on any line.
pub fn upgrade_targets<'a>(
    fixed: impl Iterator<Item = &'a FlinkVersion>,
    v: &FlinkVersion,
) -> Vec<FlinkVersion> {
    let mut above: Vec<&FlinkVersion> = fixed.filter(|f| *f > v).collect();
    above.sort();
    above.dedup();
    if let Some(same_line) = above.iter().find(|f| f.line() == v.line()) {
        return vec![(*same_line).clone()];
    }
    above
        .first()
        .map(|f| vec![(*f).clone()])
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisories::osv;

    fn affected(json: &str) -> Affected {
        let e: OsvAffected = serde_json::from_str(json).unwrap();
        Affected::compile(&e, "affected[0]").unwrap()
    }

    fn v(s: &str) -> FlinkVersion {
        FlinkVersion::parse(s).unwrap()
    }

    #[test]
    fn introduced_fixed_and_last_affected() {
        let a = affected(
            r#"{"package":{"ecosystem":"Maven","name":"p"},"ranges":[
                {"type":"ECOSYSTEM","events":[{"introduced":"1.15.0"},{"fixed":"1.20.4"}]},
                {"type":"ECOSYSTEM","events":[{"introduced":"2.0.0"},{"fixed":"2.0.2"}]},
                {"type":"ECOSYSTEM","events":[{"introduced":"2.2.0"},{"last_affected":"2.2.0"}]}]}"#,
        );
        for yes in [
            "1.15.0",
            "1.16.3",
            "1.20.3",
            "2.0.0",
            "2.0.1",
            "2.2.0",
            "1.18.1-amzn-0",
        ] {
            assert!(a.includes(&v(yes)), "{yes}");
        }
        for no in [
            "1.14.6",
            "1.20.4",
            "2.0.2",
            "2.1.0",
            "2.2.1",
            "2.0-preview1",
        ] {
            assert!(!a.includes(&v(no)), "{no}");
        }
        assert_eq!(upgrade_targets(a.fixed(), &v("1.18.1")), vec![v("1.20.4")]);
        assert_eq!(upgrade_targets(a.fixed(), &v("2.0.1")), vec![v("2.0.2")]);
        assert!(upgrade_targets(a.fixed(), &v("2.2.0")).is_empty());
    }

    #[test]
    fn zero_and_unsorted_events() {
        let a = affected(
            r#"{"package":{"ecosystem":"Maven","name":"p"},"ranges":[
                {"type":"ECOSYSTEM","events":[{"fixed":"1.10.1"},{"introduced":"0"},
                 {"introduced":"1.11.0"},{"fixed":"1.11.3"}]}],"versions":["1.12.9"]}"#,
        );
        assert!(a.includes(&v("1.0.0")));
        assert!(!a.includes(&v("1.10.1")));
        assert!(a.includes(&v("1.11.2")));
        assert!(!a.includes(&v("1.11.3")));
        assert!(a.includes(&v("1.12.9")));
    }

    #[test]
    fn bad_events_are_named() {
        let e: OsvAffected = serde_json::from_str(
            r#"{"package":{"ecosystem":"Maven","name":"p"},"ranges":[
                {"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"fixed":"one"}]}]}"#,
        )
        .unwrap();
        let err = Affected::compile(&e, "affected[0]")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("affected[0].ranges[0].events[1].fixed"),
            "{err}"
        );
        let e: OsvAffected = serde_json::from_str(
            r#"{"package":{"ecosystem":"Maven","name":"p"},"ranges":[
                {"type":"ECOSYSTEM","events":[{"introduced":"1.0","fixed":"1.1"}]}]}"#,
        )
        .unwrap();
        assert!(Affected::compile(&e, "a")
            .unwrap_err()
            .to_string()
            .contains("more than one"));
        let _ = osv::EventKind::Fixed;
    }
}
