//! Credentials in a log file's text: configuration lines, JVM options and
//! program arguments Flink prints at start-up, and anything else shaped
//! like a credential. Returns where and what, never the value.

use std::sync::OnceLock;

use regex::Regex;

use super::secrets::{self, Verdict};
use super::MAX_SECRETS_PER_LOG;
use crate::model::{LogSecret, Seen};

#[allow(clippy::expect_used)]
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("constant regex compiles")
}

/// `-Dkey=value` (JVM options, dynamic properties) and `--key value` /
/// `--key=value` (program arguments).
fn option() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| re(r#"(?:^|\s)(-D|--)([A-Za-z0-9_.\-]+)(?:=|\s+)"?([^\s"]+)"#))
}

/// `GlobalConfiguration`'s start-up line (it masks what it deems sensitive).
const CONFIG_LINE: &str = "Loading configuration property: ";

/// The secrets (and the keys Flink masked) in `text`, at most
/// [`MAX_SECRETS_PER_LOG`] of each, one per key and value.
pub fn scan(text: &str) -> (Vec<LogSecret>, Vec<String>) {
    let mut found: Vec<LogSecret> = Vec::new();
    let mut masked: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if found.len() >= MAX_SECRETS_PER_LOG && masked.len() >= MAX_SECRETS_PER_LOG {
            break;
        }
        let mut pairs: Vec<(String, &str)> = Vec::new();
        if let Some(rest) = line.split_once(CONFIG_LINE).map(|(_, r)| r) {
            if let Some((k, v)) = rest.split_once(", ") {
                pairs.push((k.trim().to_string(), v.trim()));
            }
        } else {
            for c in option().captures_iter(line) {
                let (Some(dash), Some(k), Some(v)) = (c.get(1), c.get(2), c.get(3)) else {
                    continue;
                };
                let what = if dash.as_str() == "-D" {
                    "option -D"
                } else {
                    "argument --"
                };
                pairs.push((format!("{what}{}", k.as_str()), v.as_str()));
            }
        }
        let mut hit = false;
        for (key, value) in &pairs {
            let bare = key
                .trim_start_matches("option -D")
                .trim_start_matches("argument --");
            match secrets::classify(bare, value) {
                Verdict::Clear(kind) => {
                    hit = true;
                    push(&mut found, i + 1, key, secrets::seen(kind, value));
                }
                Verdict::Masked => {
                    hit = true;
                    let k = secrets::safe_name(key, 120);
                    if masked.len() < MAX_SECRETS_PER_LOG && !masked.contains(&k) {
                        masked.push(k);
                    }
                }
                Verdict::NotSecret => {}
            }
        }
        if !hit {
            if let Some(kind) = secrets::shape(line) {
                push(
                    &mut found,
                    i + 1,
                    "(a value in the line)",
                    secrets::seen(kind, line.trim()),
                );
            }
        }
    }
    (found, masked)
}

fn push(found: &mut Vec<LogSecret>, line: usize, key: &str, secret: Seen) {
    let key = secrets::safe_name(key, 120);
    let dup = found
        .iter()
        .any(|f| f.key == key && f.secret.fingerprint == secret.fingerprint);
    if !dup && found.len() < MAX_SECRETS_PER_LOG {
        found.push(LogSecret { line, key, secret });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_up_lines() {
        let log = "\
2026-12-05 05:14:48,493 INFO  ClusterEntrypoint -  JVM Options:
2026-12-05 05:14:48,495 INFO  ClusterEntrypoint -     -Xmx512m
2026-12-05 05:14:48,495 INFO  ClusterEntrypoint -     -Dplanted.api.token=JVMTOKENPLANTED
2026-12-05 05:14:48,495 INFO  ClusterEntrypoint -  Program Arguments:
2026-12-05 05:14:48,495 INFO  ClusterEntrypoint -     --configDir
2026-12-05 05:14:48,495 INFO  ClusterEntrypoint -     -Ds3.secret-key=******
2026-12-05 05:14:48,495 INFO  ClusterEntrypoint -     --db-password hunter2
2026-12-05 05:14:48,619 INFO  GlobalConfiguration - Loading configuration property: rest.port, 8081
2026-12-05 05:14:48,619 INFO  GlobalConfiguration - Loading configuration property: s3.access-key, AKIAIOSFODNN7EXAMPLE
2026-12-05 05:14:48,619 INFO  GlobalConfiguration - Loading configuration property: s3.secret-key, ******
2026-12-05 05:14:49,000 INFO  Connector - connecting to jdbc:postgresql://db/orders?user=a&password=pw1
2026-12-05 05:14:49,000 INFO  Connector - connecting to jdbc:postgresql://db/orders?user=a&password=pw1
";
        let (found, masked) = scan(log);
        let keys: Vec<(usize, &str)> = found.iter().map(|f| (f.line, f.key.as_str())).collect();
        assert_eq!(
            keys,
            vec![
                (3, "option -Dplanted.api.token"),
                (7, "argument --db-password"),
                (9, "s3.access-key"),
                (11, "(a value in the line)"),
            ]
        );
        assert_eq!(masked, vec!["option -Ds3.secret-key", "s3.secret-key"]);
        let text = format!("{found:?}");
        for v in ["JVMTOKENPLANTED", "hunter2", "AKIAIOSFODNN7EXAMPLE", "pw1"] {
            assert!(!text.contains(v), "{v} in {text}");
        }
    }

    #[test]
    fn bounded() {
        let log: String = (0..500)
            .map(|i| format!("x -Ddb{i}.password=value{i}\n"))
            .collect();
        let (found, _) = scan(&log);
        assert_eq!(found.len(), MAX_SECRETS_PER_LOG);
    }
}
