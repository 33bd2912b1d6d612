//! Credentials in a log file's text: configuration lines, JVM options and
//! program arguments Flink prints at start-up, and anything else shaped
//! like a credential. Returns where and what, never the value.

use std::sync::OnceLock;

use regex::Regex;

use super::secrets::{self, Verdict};
use super::MAX_SECRETS_PER_LOG;
use crate::model::{LogSecret, SecretKind, Seen};

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

/// The head of the program-argument block Flink's entrypoints log at
/// start-up (`EnvironmentInformation.logEnvironmentInfo`).
const ARGS_HEAD: &str = " Program Arguments:";
/// What separates the log layout from one argument in that block: the
/// layout's ` - `, then the four spaces Flink indents each argument with.
const ARG_INDENT: &str = " -     ";
/// How Flink prints an argument that itself contains a sensitive word
/// (`GlobalConfiguration.isSensitive`): `--db-password` is hidden, the
/// value on the next line is not (measured on Flink 1.14.6 and 2.3.0).
const MASKED_ARG: &str = "****** (sensitive information)";
/// The key reported for a value whose name Flink hid.
pub const MASKED_NAME: &str = "argument after a name Flink masked";

/// Why a file in the JobManager's log directory is not a log but something
/// nobody should read: Flink lists every regular file of that directory
/// (`JobManagerLogListHandler`) and serves any of them by name to anyone
/// (`GET /jobmanager/logs/:filename`, `JobManagerCustomLogHandler`). Judged
/// on the name alone; the file is never read. `None` for logs and the rest.
pub fn sensitive_file(name: &str) -> Option<&'static str> {
    let n = name.to_ascii_lowercase();
    let ends = |exts: &[&str]| exts.iter().any(|e| n.ends_with(e));
    Some(match n.as_str() {
        // Written as it is: none of the masking of GET /jobmanager/config.
        "config.yaml" | "flink-conf.yaml" => "Flink's configuration file, unmasked",
        "core-site.xml" | "hdfs-site.xml" | "hive-site.xml" | "yarn-site.xml" => {
            "a Hadoop configuration file (may hold storage keys and passwords)"
        }
        "jaas.conf" | "krb5.conf" | ".env" | "credentials" | ".netrc" | ".pgpass"
        | ".git-credentials" => "a credentials or login configuration file",
        _ if ends(&[".keytab"]) => "a Kerberos keytab",
        _ if ends(&[".jks", ".keystore", ".p12", ".pfx", ".bcfks"]) => "a key store",
        _ if ends(&[".pem", ".key"]) => "a PEM or private key file",
        _ if ends(&[".jaas", "-jaas.conf", "_jaas.conf"]) => "a JAAS login file",
        _ => return None,
    })
}

/// The secrets (and the keys Flink masked) in `text`, at most
/// [`MAX_SECRETS_PER_LOG`] of each, one per key and value.
pub fn scan(text: &str) -> (Vec<LogSecret>, Vec<String>) {
    let mut found: Vec<LogSecret> = Vec::new();
    let mut masked: Vec<String> = Vec::new();
    let consumed = program_arguments(text, &mut found, &mut masked);
    for (i, line) in text.lines().enumerate() {
        if found.len() >= MAX_SECRETS_PER_LOG && masked.len() >= MAX_SECRETS_PER_LOG {
            break;
        }
        if consumed.contains(&i) {
            continue;
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
            hit |= judge(&mut found, &mut masked, i + 1, key, bare, value);
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

/// The program-argument blocks: Flink logs one argument per line, so a
/// name and its value are two lines (`--db.user`, `app`), and a name it
/// deems sensitive is replaced by [`MASKED_ARG`] while its value is not.
/// Pairs each name with the value after it; returns the (0-based) lines
/// judged here, which the line-by-line scan then skips.
fn program_arguments(
    text: &str,
    found: &mut Vec<LogSecret>,
    masked: &mut Vec<String>,
) -> std::collections::BTreeSet<usize> {
    let mut consumed = std::collections::BTreeSet::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((_, line)) = lines.next() {
        if !line.trim_end().ends_with(ARGS_HEAD) {
            continue;
        }
        let mut args: Vec<(usize, &str)> = Vec::new();
        while let Some((i, arg)) = lines
            .peek()
            .and_then(|(i, l)| Some((*i, l.split_once(ARG_INDENT)?.1)))
        {
            args.push((i, arg.trim()));
            lines.next();
        }
        judge_arguments(&args, found, masked, &mut consumed);
    }
    consumed
}

fn judge_arguments(
    args: &[(usize, &str)],
    found: &mut Vec<LogSecret>,
    masked: &mut Vec<String>,
    consumed: &mut std::collections::BTreeSet<usize>,
) {
    let mut k = 0;
    while k < args.len() {
        let (at, arg) = args[k];
        let Some(&(vat, value)) = args.get(k + 1) else {
            break;
        };
        let name = arg.trim_start_matches('-');
        let is_name = arg.starts_with('-') && !name.is_empty() && !arg.contains('=');
        let judged = if value.starts_with('-') {
            false
        } else if arg == "-D" {
            // `-D key=value`: a dynamic property, hidden whole when it
            // holds a sensitive word.
            if value == MASKED_ARG {
                note_masked(masked, "option -D (hidden by Flink)");
                true
            } else {
                value.split_once('=').is_some_and(|(key, val)| {
                    judge(found, masked, vat + 1, &format!("option -D{key}"), key, val);
                    true
                })
            }
        } else if arg == MASKED_ARG && value != MASKED_ARG {
            // The name was hidden, the value printed as it is.
            let seen = secrets::seen(SecretKind::SecretKeyName, value);
            push(found, vat + 1, MASKED_NAME, seen);
            true
        } else if is_name && value == MASKED_ARG {
            // The value itself held a sensitive word: Flink hid it.
            note_masked(masked, &format!("argument --{name}"));
            true
        } else if is_name {
            judge(
                found,
                masked,
                vat + 1,
                &format!("argument --{name}"),
                name,
                value,
            );
            true
        } else {
            false
        };
        if judged {
            consumed.extend([at, vat]);
            k += 2;
        } else {
            k += 1;
        }
    }
}

/// One key and value, classified; true when it is a secret, in clear or
/// masked.
fn judge(
    found: &mut Vec<LogSecret>,
    masked: &mut Vec<String>,
    line: usize,
    shown: &str,
    key: &str,
    value: &str,
) -> bool {
    match secrets::classify(key, value) {
        Verdict::Clear(kind) => push(found, line, shown, secrets::seen(kind, value)),
        Verdict::Masked => note_masked(masked, shown),
        Verdict::NotSecret => return false,
    }
    true
}

fn note_masked(masked: &mut Vec<String>, key: &str) {
    let k = secrets::safe_name(key, 120);
    if masked.len() < MAX_SECRETS_PER_LOG && !masked.contains(&k) {
        masked.push(k);
    }
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
2026-12-05 05:14:48,495 INFO  ClusterEntrypoint -     -Ds3.secret-key=******
2026-12-05 05:14:48,495 INFO  ClusterEntrypoint -     --db-password hunter2
2026-12-05 05:14:48,495 INFO  ClusterEntrypoint -  Classpath: /opt/flink/lib/flink-dist.jar
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
                (6, "argument --db-password"),
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

    /// The block as Flink 2.3.0 logged it for an application cluster
    /// started with `--job-classname ... --db.password V --api.token V
    /// --sink.key AKIA... --jdbc.url jdbc:...password=V --kafka.topic
    /// orders` (measured here; values replaced), plus `-D key=value`.
    const MEASURED: &str = "\
2026-12-05 08:45:23,859 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -  Program Arguments:
2026-12-05 08:45:23,860 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -     --configDir
2026-12-05 08:45:23,860 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -     /tmp/pa
2026-12-05 08:45:23,860 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -     --job-classname
2026-12-05 08:45:23,860 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -     flinkscan.testjob.OrdersJob
2026-12-05 08:45:23,860 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -     ****** (sensitive information)
2026-12-05 08:45:23,860 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -     valueOFdbpw
2026-12-05 08:45:23,862 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -     ****** (sensitive information)
2026-12-05 08:45:23,862 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -     valueOFtoken
2026-12-05 08:45:23,862 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -     --sink.key
2026-12-05 08:45:23,862 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -     AKIAVALUEQQQQQQQQQQQ
2026-12-05 08:45:23,862 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -     --jdbc.url
2026-12-05 08:45:23,866 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -     ****** (sensitive information)
2026-12-05 08:45:23,866 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -     -D
2026-12-05 08:45:23,866 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -     s3.access-key=AKIAVALUEDDDDDDDDDDD
2026-12-05 08:45:23,866 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -     --kafka.topic
2026-12-05 08:45:23,866 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -     orders
2026-12-05 08:45:23,866 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -  Classpath: /opt/flink/lib/flink-dist.jar
2026-12-05 08:45:23,866 INFO  org.apache.flink.runtime.entrypoint.ClusterEntrypoint -     orphan-line-not-an-argument
";

    #[test]
    fn program_arguments_one_per_line_and_names_flink_hid() {
        let (found, masked) = scan(MEASURED);
        let keys: Vec<(usize, &str, SecretKind)> = found
            .iter()
            .map(|f| (f.line, f.key.as_str(), f.secret.kind))
            .collect();
        assert_eq!(
            keys,
            vec![
                (7, MASKED_NAME, SecretKind::SecretKeyName),
                (9, MASKED_NAME, SecretKind::SecretKeyName),
                (11, "argument --sink.key", SecretKind::AwsAccessKey),
                (15, "option -Ds3.access-key", SecretKind::AwsAccessKey),
            ]
        );
        assert_eq!(found[0].secret.length, "valueOFdbpw".len());
        assert_ne!(found[0].secret.fingerprint, found[1].secret.fingerprint);
        assert_eq!(masked, vec!["argument --jdbc.url"]);
        let text = format!("{found:?}{masked:?}");
        for v in ["valueOF", "AKIAVALUE"] {
            assert!(!text.contains(v), "{v} in {text}");
        }
    }

    #[test]
    fn files_that_are_not_logs() {
        for (name, sensitive) in [
            ("config.yaml", true),
            ("flink-conf.yaml", true),
            ("Flink-Conf.YAML", true),
            ("server.keystore", true),
            ("truststore.jks", true),
            ("client.p12", true),
            ("tls.key", true),
            ("ca.pem", true),
            ("flink.keytab", true),
            ("kafka_jaas.conf", true),
            ("core-site.xml", true),
            (".env", true),
            ("flink-root-standalonesession-0-host.log", false),
            ("flink-root-standalonesession-0-host.log.3", false),
            ("flink-root-standalonesession-0-host.out", false),
            ("log4j.properties", false),
            ("logback.xml", false),
            ("gc.log.0.current", false),
            ("keytab-readme.txt", false),
        ] {
            assert_eq!(sensitive_file(name).is_some(), sensitive, "{name}");
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
