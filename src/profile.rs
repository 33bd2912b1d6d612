//! `--config FILE`: a scan profile in TOML whose keys are the long flag
//! names. It is turned into arguments placed before the command line's own,
//! so anything given on the command line wins.

use std::ffi::OsString;
use std::path::Path;

use clap::CommandFactory;

use crate::untrusted::{shown, shown_lines};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    #[error("cannot read profile {}: {source}", shown(.path))]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// `message` may quote the file (TOML errors show the offending line).
    #[error("profile {}: {}", shown(.path), shown_lines(.message))]
    Invalid { path: String, message: String },
}

/// Keys that are positional or lists rather than `--key value`.
const TARGETS_KEY: &str = "targets";

/// Expand `--config FILE` inside `argv` (only after the `scan` subcommand).
pub fn expand(argv: Vec<OsString>) -> Result<Vec<OsString>, ProfileError> {
    let Some(scan_at) = argv.iter().position(|a| a == "scan") else {
        return Ok(argv);
    };
    let mut config: Option<(usize, usize, OsString)> = None;
    for (i, a) in argv.iter().enumerate().skip(scan_at + 1) {
        if a == "--config" {
            if let Some(v) = argv.get(i + 1) {
                config = Some((i, 2, v.clone()));
            }
            break;
        }
        if let Some(v) = a.to_str().and_then(|s| s.strip_prefix("--config=")) {
            config = Some((i, 1, OsString::from(v)));
            break;
        }
    }
    let Some((at, width, path)) = config else {
        return Ok(argv);
    };
    let profile_args = load(Path::new(&path))?;
    let mut out: Vec<OsString> = argv[..=scan_at].to_vec();
    out.extend(profile_args);
    out.extend(argv[scan_at + 1..at].iter().cloned());
    out.extend(argv[at + width..].iter().cloned());
    Ok(out)
}

fn load(path: &Path) -> Result<Vec<OsString>, ProfileError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
        path: file.clone(),
        source,
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| ProfileError::Invalid {
        path: file.clone(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let invalid = |key: &str, what: &str| ProfileError::Invalid {
        path: match key_line(&text, key) {
            Some(line) => format!("{file}:{line}"),
            None => file.clone(),
        },
        message: format!("key `{key}`: {what}"),
    };
    let flags = scan_flags();
    let mut args = Vec::new();
    let mut positional = Vec::new();
    for (key, value) in &table {
        if key == "config" {
            return Err(invalid(key, "a profile cannot name another profile"));
        }
        // Checked here, not left to clap: clap's error would name a flag
        // the user never typed and not this file.
        if key != TARGETS_KEY && !flags.iter().any(|f| f == key) {
            let dashed = key.replace('_', "-");
            let what = if flags.contains(&dashed) {
                format!("keys are long flag names, written with dashes: use `{dashed}`")
            } else {
                "not a `flinkscan scan` flag (keys are long flag names without `--`; \
                 see `flinkscan scan --help`)"
                    .to_string()
            };
            return Err(invalid(key, &what));
        }
        let values: Vec<String> = match value {
            toml::Value::String(s) => vec![s.clone()],
            toml::Value::Integer(i) => vec![i.to_string()],
            toml::Value::Boolean(b) => {
                if *b {
                    args.push(OsString::from(format!("--{key}")));
                }
                continue;
            }
            toml::Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(s.clone()),
                    toml::Value::Integer(i) => Ok(i.to_string()),
                    _ => Err(invalid(key, "list items must be strings or numbers")),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(invalid(key, "must be a string, number, boolean or list")),
        };
        if key == TARGETS_KEY {
            positional.extend(values);
            continue;
        }
        for v in values {
            args.push(OsString::from(format!("--{key}")));
            args.push(OsString::from(v));
        }
    }
    // Positional targets must come last so they are not taken as flag values.
    if !positional.is_empty() {
        args.extend(positional.into_iter().map(OsString::from));
    }
    Ok(args)
}

/// Long names and aliases of `flinkscan scan`'s flags.
fn scan_flags() -> Vec<String> {
    let cli = crate::cli::Cli::command();
    let Some(scan) = cli.find_subcommand("scan") else {
        return Vec::new();
    };
    scan.get_arguments()
        .flat_map(|a| {
            a.get_long()
                .into_iter()
                .chain(a.get_all_aliases().into_iter().flatten())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The 1-based line that sets top-level `key`, if it is written plainly.
fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .or_else(|| l.strip_prefix(&format!("\"{key}\"")))
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_before_command_line_flags() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(
            &p,
            "ports = \"8081\"\nquiet = true\ntargets = [\"127.0.0.1\"]\nfail-on = \"high\"\n",
        )
        .unwrap();
        let argv: Vec<OsString> = [
            "flinkscan",
            "scan",
            "--config",
            p.to_str().unwrap(),
            "--ports",
            "9",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let out: Vec<String> = expand(argv)
            .unwrap()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        let ports_at = out.iter().position(|a| a == "8081").unwrap();
        let cli_at = out.iter().position(|a| a == "9").unwrap();
        assert!(ports_at < cli_at, "{out:?}");
        assert!(out.contains(&"--quiet".to_string()));
        assert!(out.contains(&"127.0.0.1".to_string()));
    }

    #[test]
    fn underscore_key_names_file_line_and_dashed_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nightly.toml");
        std::fs::write(&p, "ports = \"8081\"\nfail_on = \"high\"\n").unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("nightly.toml:2"), "{e}");
        assert!(
            e.contains("`fail_on`") && e.contains("use `fail-on`"),
            "{e}"
        );

        std::fs::write(&p, "portz = \"8081\"\n").unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(
            e.contains("nightly.toml:1") && e.contains("not a `flinkscan scan` flag"),
            "{e}"
        );

        // Aliases and every real flag pass.
        std::fs::write(
            &p,
            "format = \"ocsf\"\nidentify-concurrency = 4\nno-color = true\n",
        )
        .unwrap();
        assert!(load(&p).is_ok());
    }

    #[test]
    fn errors_show_hidden_characters_visibly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p\u{202e}lmth.toml");
        std::fs::write(&p, "ports = \"\u{1b}[2J\n").unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(
            !e.chars()
                .any(|c| crate::untrusted::is_hidden(c) && c != '\n'),
            "{e:?}"
        );
        assert!(e.contains("\\u{202e}"), "{e}");
    }

    #[test]
    fn the_example_profile_loads_and_parses() {
        use clap::Parser;
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/nightly.toml");
        let argv: Vec<OsString> = ["flinkscan", "scan", "--config"]
            .into_iter()
            .map(OsString::from)
            .chain([path.clone().into_os_string()])
            .collect();
        let argv = expand(argv).expect("the example profile loads");
        let cli = crate::cli::Cli::try_parse_from(argv).expect("its keys are flags");
        let crate::cli::Command::Scan(args) = cli.command else {
            panic!("not a scan")
        };
        assert!(args.quiet);
        assert_eq!(args.rate, Some(500));
        assert_eq!(args.min_severity, Some(crate::model::Severity::Medium));
        assert_eq!(args.output_all.as_deref(), Some(Path::new("nightly")));
        assert_eq!(args.input, [Path::new("targets.example")]);
        // Its rule patterns name real rules.
        let catalog = crate::checks::catalog::Catalog::load(None, None).unwrap();
        let filter = crate::checks::RuleFilter {
            only: args.rules.clone(),
            skip: args.skip_rules.clone(),
        };
        filter
            .check(catalog.rules.keys().map(String::as_str))
            .unwrap();
        // The keys it shows commented out are flags too.
        let text = std::fs::read_to_string(&path).unwrap();
        let flags = scan_flags();
        let commented: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix('#'))
            .filter_map(|l| l.trim_start().split_once(" = ").map(|(k, _)| k))
            .filter(|k| !k.contains(' '))
            .collect();
        assert!(commented.contains(&"fail-on-new"), "{commented:?}");
        for key in commented {
            assert!(
                key == TARGETS_KEY || flags.iter().any(|f| f == key),
                "commented key `{key}` is not a flag"
            );
        }
    }
}
