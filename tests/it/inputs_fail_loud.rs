//! Input the user got wrong fails loudly (exit 2, naming what and where)
//! instead of producing a quiet, clean-looking scan; and nothing a file,
//! argument or report carries reaches the terminal as hidden characters.
//! Loopback only: every target is inside 127.0.0.0/8 on a port this test
//! listens on, or the run is a --dry-run, or it fails before sending.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use support::peers::{close_at_once, flinkscan, json_file, random_octet, Listener};
use support::scan::Scan;

use crate::support;

/// Anything a terminal would act on or hide, other than the newline.
fn hidden_chars(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| c != '\n' && flinkscan::untrusted::is_hidden(c))
        .collect()
}

fn stderr_of(cmd: &mut assert_cmd::Command, code: i32) -> String {
    let out = cmd.assert().code(code).get_output().clone();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A loopback listener of our own on a 127.x.y.1 of this test binary.
fn listener(third: u8) -> Listener {
    Listener::start(
        Ipv4Addr::new(127, random_octet(), third, 1),
        0,
        close_at_once,
    )
}

/// A real `--json` report of a scan of `l`.
fn report_of(l: &Listener, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    flinkscan()
        .args(["scan", "--no-progress", "--no-color"])
        .arg(l.addr.ip().to_string())
        .args(["-p", &l.port().to_string(), "--json"])
        .arg(&path)
        .assert()
        .success();
    path
}

fn hostile_finding(l: &Listener, rule: &str) -> Value {
    json!({
        "rule_id": rule,
        "severity": "high",
        "title": "Evil \u{202e}txt.exe\u{202c} \u{1b}[2J\u{1b}]0;owned\u{7} zero\u{200b}width \u{2066}iso\u{2069}",
        "ip": l.addr.ip().to_string(),
        "port": l.port(),
        "service": "jobmanager-rest",
        "url": format!("http://{}/", l.addr),
        "detail": "d",
        "evidence": [],
    })
}

fn with_findings(path: &Path, findings: Vec<Value>) {
    let mut doc = json_file(path);
    doc["findings"] = Value::Array(findings);
    std::fs::write(path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
}

#[test]
fn a_rule_id_that_matches_nothing_is_a_usage_error_naming_close_matches() {
    for (flag, value, close) in [
        (
            "--rules",
            "FLINK-REST-UNAUTHENTICATD",
            "FLINK-REST-UNAUTHENTICATED",
        ),
        ("--rules", "FLINK-TSL-*", "FLINK-TLS-*"),
        ("--skip-rules", "FLINK-JMX-EXPOSD", "FLINK-JMX-EXPOSED"),
    ] {
        let err = stderr_of(
            flinkscan().args(["scan", "127.0.0.1", "-p", "1", "--dry-run", flag, value]),
            2,
        );
        assert!(
            err.contains(&format!("{flag} {value}: matches no rule")) && err.contains(close),
            "{flag} {value}: {err}"
        );
    }
    // Real ids and prefixes, in any case, still pass.
    flinkscan()
        .args(["scan", "127.0.0.1", "-p", "1", "--dry-run"])
        .args(["--rules", "flink-tls-*,FLINK-REST-PLAINTEXT"])
        .assert()
        .success();

    // A rule added with --probes DIR is a rule.
    let dir = tempfile::tempdir().unwrap();
    let rules =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/probes/rules.toml")).unwrap();
    let custom =
        "\n[[rule]]\nid = \"FLINK-SITE-CUSTOM\"\ntitle = \"Site\u{202e} rule\"\nseverity = \"low\"\n\
                  security_severity = 2.0\ncwe = 200\ndescription = \"d\"\nremediation = \"r\"\n";
    std::fs::write(dir.path().join("rules.toml"), format!("{rules}{custom}")).unwrap();
    let base = [
        "scan",
        "127.0.0.1",
        "-p",
        "1",
        "--dry-run",
        "--rules",
        "FLINK-SITE-CUSTOM",
    ];
    flinkscan()
        .args(base)
        .arg("--probes")
        .arg(dir.path())
        .assert()
        .success();
    let err = stderr_of(flinkscan().args(base), 2);
    assert!(err.contains("FLINK-SITE-CUSTOM: matches no rule"), "{err}");
    // Its title, from the user's file, is listed visibly escaped.
    let out = flinkscan()
        .args(["rules", "--probes"])
        .arg(dir.path())
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        hidden_chars(&text).is_empty() && text.contains("Site\\u{202e} rule"),
        "{text}"
    );
}

#[test]
fn hidden_characters_in_arguments_and_files_are_shown_escaped_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = stderr_of(
        flinkscan().args(["scan", "--dry-run", "\u{1b}[2Jevil\u{202e}host"]),
        2,
    );
    assert!(hidden_chars(&err).is_empty(), "{err:?}");
    assert!(err.contains("\\u{1b}[2Jevil\\u{202e}host"), "{err}");

    // clap's own errors quote the argument too.
    for args in [["--rate", "1\u{202e}0"], ["--\u{202e}rate", "10"]] {
        let err = stderr_of(flinkscan().args(["scan", "127.0.0.1"]).args(args), 2);
        assert!(hidden_chars(&err).is_empty(), "{err:?}");
        assert!(err.contains("\\u{202e}"), "{err}");
    }

    let file = dir.path().join("t\u{2067}.txt");
    std::fs::write(&file, "127.0.0.1\nbad\u{200b}host\u{1b}]0;x\u{7}\n").unwrap();
    let err = stderr_of(flinkscan().args(["scan", "--dry-run", "-i"]).arg(&file), 2);
    assert!(hidden_chars(&err).is_empty(), "{err:?}");
    assert!(
        err.contains("t\\u{2067}.txt:2") && err.contains("bad\\u{200b}host\\u{1b}]0;x\\u{7}"),
        "{err}"
    );
}

#[test]
fn hidden_characters_from_reports_are_shown_escaped_in_diff_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let l = listener(7);
    let old = report_of(&l, dir.path(), "old.json");
    let new = report_of(&l, dir.path(), "new.json");
    with_findings(&old, vec![hostile_finding(&l, "FLINK-REST-PLAINTEXT")]);
    with_findings(
        &new,
        vec![hostile_finding(&l, "FLINK-REST-UNAUTHENTICATED")],
    );

    let out = flinkscan()
        .arg("diff")
        .args([&old, &new])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(hidden_chars(&text).is_empty(), "{text:?}");
    assert!(
        text.contains("Evil \\u{202e}txt.exe\\u{202c} \\u{1b}[2J")
            && text.contains("zero\\u{200b}width"),
        "{text}"
    );

    // The terminal summary: the baseline's finding is gone, so the summary
    // lists it as fixed, title and all.
    let out = flinkscan()
        .args(["scan", "--no-progress", "--no-color"])
        .arg(l.addr.ip().to_string())
        .args(["-p", &l.port().to_string(), "--baseline"])
        .arg(&old)
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FLINK-REST-PLAINTEXT"), "{text}");
    assert!(hidden_chars(&text).is_empty(), "{text:?}");
    assert!(text.contains("\\u{2066}iso\\u{2069}"), "{text}");
}

#[test]
fn a_byte_order_mark_starting_a_targets_or_exclusions_file_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let targets = dir.path().join("targets.txt");
    let excludes = dir.path().join("excludes.txt");
    std::fs::write(&targets, "\u{feff}127.0.0.1\n127.0.0.2\n").unwrap();
    std::fs::write(&excludes, "\u{feff}127.0.0.2\n").unwrap();
    let out = flinkscan()
        .args(["scan", "--dry-run", "-p", "1", "-i"])
        .arg(&targets)
        .arg("--exclude-file")
        .arg(&excludes)
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "127.0.0.1:1\n");
}

#[test]
fn ipv6_zones_and_link_local_targets_are_refused_saying_why() {
    for target in ["fe80::1%eth0", "[fe80::1%2]:8081"] {
        let err = stderr_of(flinkscan().args(["scan", "--dry-run", target]), 2);
        assert!(err.contains("zone") && err.contains(target), "{err}");
    }
    let err = stderr_of(flinkscan().args(["scan", "--dry-run", "fe80::1"]), 2);
    assert!(
        err.contains("`fe80::1`") && err.contains("link-local") && err.contains("interface"),
        "{err}"
    );
    // Excluding link-local is harmless and stays allowed.
    flinkscan()
        .args([
            "scan",
            "--dry-run",
            "-p",
            "1",
            "::1",
            "--exclude",
            "fe80::/10",
        ])
        .assert()
        .success();
}

#[test]
fn zero_rate_and_concurrency_are_usage_errors() {
    for (flag, says) in [
        ("--rate", "leave --rate out for no limit"),
        ("--concurrency", "at least 1"),
        ("--identify-concurrency", "at least 1"),
    ] {
        let err = stderr_of(
            flinkscan().args(["scan", "--dry-run", "127.0.0.1", flag, "0"]),
            2,
        );
        assert!(err.contains(flag) && err.contains(says), "{flag}: {err}");
    }
}

#[test]
fn a_profile_key_with_underscores_names_the_file_line_and_dashed_key() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("nightly.toml");
    std::fs::write(&profile, "ports = \"1\"\nfail_on = \"high\"\n").unwrap();
    let err = stderr_of(
        flinkscan()
            .args(["scan", "--dry-run", "127.0.0.1", "--config"])
            .arg(&profile),
        2,
    );
    assert!(
        err.contains("nightly.toml:2") && err.contains("fail_on") && err.contains("`fail-on`"),
        "{err}"
    );
}

#[test]
fn unresolvable_names_are_named_with_a_plain_reason() {
    // `.invalid` never resolves and is answered inside the resolver (RFC 6761).
    let err = stderr_of(
        flinkscan().args(["scan", "--no-progress", "no-such-host.invalid"]),
        3,
    );
    assert!(
        err.contains("no-such-host.invalid") && err.contains("no such host"),
        "{err}"
    );
    let err = stderr_of(
        flinkscan().args([
            "scan",
            "--dry-run",
            "-p",
            "1",
            "no-such-host.invalid",
            "127.0.0.1",
        ]),
        0,
    );
    assert!(
        err.contains("no-such-host.invalid: not scanned: no such host"),
        "{err}"
    );
    assert!(!err.contains("Query {") && !err.contains("Name("), "{err}");
}

#[test]
fn merge_says_what_it_merged() {
    let dir = tempfile::tempdir().unwrap();
    let l = listener(9);
    let mut shards = Vec::new();
    for k in 0..2 {
        let path = dir.path().join(format!("shard{k}.json"));
        flinkscan()
            .args([
                "scan",
                "--no-progress",
                "--no-color",
                "--shard",
                &format!("{k}/2"),
            ])
            .arg(l.addr.ip().to_string())
            .args(["-p", &l.port().to_string(), "--json"])
            .arg(&path)
            .assert()
            .success();
        shards.push(path);
    }
    with_findings(
        &shards[0],
        vec![hostile_finding(&l, "FLINK-REST-PLAINTEXT")],
    );
    let merged = dir.path().join("merged.json");
    let err = stderr_of(
        flinkscan()
            .arg("merge")
            .args(&shards)
            .arg("-o")
            .arg(&merged),
        0,
    );
    assert!(
        err.contains("merged 2 reports (1 findings) into") && err.contains("merged.json"),
        "{err}"
    );
    assert_eq!(json_file(&merged)["findings"].as_array().unwrap().len(), 1);
}

// ---- round two: credentials, endless input, huge values, special files ------

/// `--proxy` without a port (or otherwise refused) is quoted by clap as
/// typed: the password must be masked there, from the command line, the
/// `--flag=value` form and a `--config` profile (also a profile whose TOML
/// error quotes the line). Nothing is sent: every run fails at parsing.
#[test]
fn a_proxy_password_is_masked_in_argument_and_profile_errors() {
    let dir = tempfile::tempdir().unwrap();
    let secret_free = |err: &str, what: &str| {
        assert!(
            !err.contains("TopSecret") && !err.contains("PW@"),
            "{what}: the password reached stderr: {err}"
        );
        assert!(err.contains("alice:******@"), "{what}: not masked: {err}");
    };
    for url in [
        "socks5://alice:TopSecretPW@host",
        "socks5h://alice:Top@Secret/PW@127.0.0.1",
        "socks5://alice:TopSecretPW@127.0.0.1:99999",
    ] {
        let err = stderr_of(
            flinkscan().args(["scan", "--dry-run", "127.0.0.1", "--proxy", url]),
            2,
        );
        secret_free(&err, url);
        let err = stderr_of(
            flinkscan().args(["scan", "--dry-run", "127.0.0.1", &format!("--proxy={url}")]),
            2,
        );
        secret_free(&err, &format!("--proxy={url}"));
        let profile = dir.path().join("p.toml");
        std::fs::write(&profile, format!("proxy = \"{url}\"\n")).unwrap();
        let err = stderr_of(
            flinkscan()
                .args(["scan", "--dry-run", "127.0.0.1", "--config"])
                .arg(&profile),
            2,
        );
        secret_free(&err, &format!("profile with {url}"));
    }
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "proxy = \"socks5://alice:TopSecretPW@host\n").unwrap();
    let err = stderr_of(
        flinkscan()
            .args(["scan", "--dry-run", "127.0.0.1", "--config"])
            .arg(&broken),
        2,
    );
    secret_free(&err, "a profile that is not TOML");
}

/// `flinkscan scan -i - ...` with standard input from `source`, killed
/// (and the test failed) if it runs past a minute: exit code and stderr.
fn scan_stdin(source: std::process::Stdio, extra: &[&str]) -> (Option<i32>, String) {
    let ran = Scan::new()
        .args(["--dry-run", "-p", "1", "-i", "-"])
        .args(extra)
        .stdin_from(source)
        .limit(std::time::Duration::from_secs(60))
        .run();
    (ran.code, ran.stderr)
}

/// Endless standard input (`</dev/zero`: one line that never ends) and an
/// endless list of valid lines both end with a usage error naming the
/// input and the bound, instead of growing until the machine runs out.
#[test]
fn endless_or_huge_target_input_ends_with_an_error_naming_the_bound() {
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let (code, err) = scan_stdin(zero.into(), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("<stdin>:1") && err.contains("longer than 64 KiB"),
        "{err}"
    );
    assert!(err.len() < 2000, "{} bytes of error", err.len());

    // A list of valid addresses that never ends, written until the pipe
    // closes (the reader stopped): the input bound, not memory, ends it.
    let mut child = std::process::Command::new("sh")
        .args(["-c", "while :; do echo 127.0.0.1; done"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = child.stdout.take().unwrap();
    let (code, err) = scan_stdin(lines.into(), &[]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("<stdin>") && err.contains("more than 16 MiB"),
        "{err}"
    );

    // The same bounds hold for a file.
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("long.txt");
    std::fs::write(&long, format!("127.0.0.1\n{}\n", "9".repeat(1 << 20))).unwrap();
    let err = stderr_of(flinkscan().args(["scan", "--dry-run", "-i"]).arg(&long), 2);
    assert!(
        err.contains("long.txt:2") && err.contains("longer than"),
        "{err}"
    );
    assert!(err.len() < 2000, "{} bytes of error", err.len());
}

/// An error quotes at most a few hundred characters of a value: a huge
/// target token, a huge argument clap refuses, a huge string in a report.
#[test]
fn errors_quote_at_most_a_few_hundred_characters_of_a_value() {
    let dir = tempfile::tempdir().unwrap();
    let token = "x".repeat(60_000);
    let file = dir.path().join("t.txt");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let err = stderr_of(flinkscan().args(["scan", "--dry-run", "-i"]).arg(&file), 2);
    assert!(err.contains("t.txt:1") && err.contains("xxxx"), "{err}");
    assert!(err.len() < 1500, "{} bytes for one bad target", err.len());

    let err = stderr_of(
        flinkscan().args([
            "scan",
            "--dry-run",
            "127.0.0.1",
            "--rate",
            &"7".repeat(100_000),
        ]),
        2,
    );
    assert!(err.contains("--rate"), "{err}");
    assert!(err.len() < 4000, "{} bytes for one bad argument", err.len());

    // Many bad targets: the first ones are listed, the rest counted.
    let many = dir.path().join("many.txt");
    std::fs::write(&many, "bad/99\n".repeat(5000)).unwrap();
    let err = stderr_of(flinkscan().args(["scan", "--dry-run", "-i"]).arg(&many), 2);
    assert!(err.contains("more invalid targets"), "{err}");
    assert!(
        err.len() < 10_000,
        "{} bytes for 5000 bad targets",
        err.len()
    );

    // `report` on a report with a huge string where a word belongs.
    let l = listener(11);
    let path = report_of(&l, dir.path(), "r.json");
    let mut doc = json_file(&path);
    doc["scan"]["status"] = Value::String("y".repeat(1 << 20));
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = flinkscan().arg("report").arg(&path).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("yyyy"), "{err}");
    assert!(err.len() < 4000, "{} bytes for one bad report", err.len());
}

/// `mkfifo PATH`: a FIFO no writer will ever open.
fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo (coreutils)")
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

/// A FIFO (or the path itself being one) in an `--advisories` or
/// `--probes` directory used to block the load forever: it is refused,
/// naming the path, before anything is opened.
#[test]
fn a_fifo_among_data_files_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let probes = dir.path().join("probes");
    let advisories = dir.path().join("advisories");
    std::fs::create_dir_all(probes.join("http")).unwrap();
    std::fs::create_dir_all(&advisories).unwrap();
    mkfifo(&probes.join("http/stuck.toml"));
    mkfifo(&advisories.join("GHSA-stuck.json"));
    let lone = dir.path().join("lone.zip");
    mkfifo(&lone);
    let run = |args: &[&std::ffi::OsStr]| {
        let out = flinkscan()
            .args(args)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for (args, name) in [
        (
            vec!["rules".as_ref(), "--probes".as_ref(), probes.as_os_str()],
            "http/stuck.toml",
        ),
        (
            vec![
                "advisories".as_ref(),
                "--advisories".as_ref(),
                advisories.as_os_str(),
            ],
            "GHSA-stuck.json",
        ),
        (
            vec![
                "advisories".as_ref(),
                "--advisories".as_ref(),
                lone.as_os_str(),
            ],
            "lone.zip",
        ),
    ] {
        let (code, err) = run(&args);
        assert_eq!(code, Some(2), "{name}: {err}");
        assert!(err.contains(name) && err.contains("FIFO"), "{name}: {err}");
    }
}

/// Every TOML file under `--probes DIR` is loaded or refused, and errors
/// name the file where it is: a subdirectory other than `http/` used to be
/// skipped without a word, and a top-level file was named `http/NAME`.
#[test]
fn every_probe_file_is_loaded_or_refused_naming_its_real_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("custom")).unwrap();
    std::fs::write(dir.path().join("custom/broken.toml"), "id = \n").unwrap();
    let err = stderr_of(flinkscan().args(["rules", "--probes"]).arg(dir.path()), 2);
    let real = dir.path().join("custom/broken.toml");
    assert!(err.contains(&real.display().to_string()), "{err}");

    let top = tempfile::tempdir().unwrap();
    std::fs::write(top.path().join("mine.toml"), "id = \"x\"\nrule = 3\n").unwrap();
    let err = stderr_of(flinkscan().args(["rules", "--probes"]).arg(top.path()), 2);
    let real = top.path().join("mine.toml");
    assert!(err.contains(&real.display().to_string()), "{err}");
    assert!(!err.contains("http/mine.toml"), "{err}");
}
