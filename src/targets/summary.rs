//! What a report says about the targets it was given: the specs themselves
//! when they are few, a count and digest per file when they are many, so a
//! million-line targets file does not copy itself into every report.

use sha2::{Digest, Sha256};

use super::spec::{Origin, Spec};

/// Specs listed one by one up to this many; beyond, summarised per source.
pub const LISTED_MAX: usize = 64;

/// The report's `targets` (or `excluded`) entries for `specs`.
pub fn describe(specs: &[Spec]) -> Vec<String> {
    if specs.len() <= LISTED_MAX {
        return specs.iter().map(|s| s.text.clone()).collect();
    }
    // One line per source, in first-seen order; command-line specs are one source.
    let mut sources: Vec<(String, usize, Sha256)> = Vec::new();
    for s in specs {
        let name = match &s.origin {
            Origin::Arg(_) => "the command line".to_string(),
            Origin::File(path, _) => path.clone(),
        };
        let i = match sources.iter().position(|(n, _, _)| *n == name) {
            Some(i) => i,
            None => {
                sources.push((name, 0, Sha256::new()));
                sources.len() - 1
            }
        };
        let entry = &mut sources[i];
        entry.1 += 1;
        entry.2.update(s.text.as_bytes());
        entry.2.update(b"\n");
    }
    sources
        .into_iter()
        .map(|(name, count, h)| {
            format!(
                "{count} specs from {name} (sha256 {})",
                hex::encode(h.finalize())
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::parse_lines;

    #[test]
    fn few_are_listed_many_are_summarised() {
        let few = parse_lines("t.txt", "10.0.0.1\n10.0.0.2/31\n").unwrap();
        assert_eq!(describe(&few), ["10.0.0.1", "10.0.0.2/31"]);
        let text: String = (0..1000)
            .map(|i| format!("10.1.{}.{}\n", i / 250, i % 250))
            .collect();
        let many = parse_lines("big.txt", &text).unwrap();
        let d = describe(&many);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].starts_with("1000 specs from big.txt (sha256 "),
            "{d:?}"
        );
        // The digest follows the content.
        let other = parse_lines("big.txt", &text.replace("10.1.0.1\n", "10.1.0.9\n")).unwrap();
        assert_ne!(describe(&other), d);
    }
}
