//! The habits of the people who run flinkscan: the documented cron recipe (docs/operations.md) run
//! as cron runs it, new-only verdicts, a checkpoint of another scan, every
//! format at once, CSV, the severity filter, completions and the man page
//! as a user loads them, `rules` lookups. Loopback only: every target is in
//! 127.0.0.0/8 and every port probed is one this test listens on.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::support;
use serde_json::Value;
use support::flink::unique_loopback;
use support::peers::{close_at_once, fake_prometheus, fake_rpc, flinkscan, json_file, Listener};
use support::scan::Scan;

/// Where the cron recipe lives (the README links it).
const RECIPE_PAGE: &str = "docs/operations.md";

/// The documented cron block: its variables and the command of its one job.
fn cron_recipe() -> (Vec<(String, String)>, String) {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(RECIPE_PAGE)).unwrap();
    let at = readme
        .find("<!-- cron-recipe")
        .expect("the page marks its cron recipe");
    let block = readme[at..]
        .split("```cron\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("a ```cron block after the marker");
    let mut vars = Vec::new();
    let mut jobs = Vec::new();
    for line in block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        match line.split_once('=') {
            Some((name, value)) if name.chars().all(|c| c.is_ascii_uppercase() || c == '_') => {
                vars.push((name.to_string(), value.to_string()));
            }
            _ => {
                // Five schedule fields, then the command as sh runs it.
                let mut rest = line;
                for _ in 0..5 {
                    rest = rest.trim_start();
                    rest = &rest[rest.find(char::is_whitespace).expect("5 fields")..];
                }
                jobs.push(rest.trim().to_string());
            }
        }
    }
    assert_eq!(jobs.len(), 1, "one job in {block}");
    (vars, jobs.remove(0))
}

/// Where the docs install flinkscan and keeps the audit's files.
const INSTALLED: &str = "/usr/local/bin";
const WORK_DIR: &str = "/var/lib/flinkscan";

/// What one run left: exit code, stdout, stderr.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Run `command` as cron does: `/bin/sh -c`, no terminal, stdin from
/// /dev/null, only `vars` in the environment (`env -i`), the docs'
/// install directory and work directory swapped for this build's and `dir`.
fn as_cron(vars: &[(String, String)], command: &str, dir: &Path) -> Ran {
    let bin_dir = assert_cmd::cargo::cargo_bin("flinkscan")
        .parent()
        .unwrap()
        .to_path_buf();
    let mut cmd = std::process::Command::new("/usr/bin/env");
    cmd.arg("-i");
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut saw_path = false;
    for (k, v) in vars {
        let v = if k == "PATH" {
            saw_path = true;
            assert!(v.contains(INSTALLED), "PATH={v} lacks {INSTALLED}");
            v.replace(INSTALLED, &bin_dir.display().to_string())
        } else {
            v.clone()
        };
        cmd.arg(format!("{k}={v}"));
    }
    if !saw_path {
        cmd.arg("PATH=/usr/bin:/bin");
    }
    cmd.arg(format!("HOME={}", home.display()))
        .arg("SHELL=/bin/sh")
        .arg("LOGNAME=audit")
        .arg("/bin/sh")
        .arg("-c")
        .arg(command.replace(WORK_DIR, &dir.display().to_string()))
        .stdin(Stdio::null());
    let out = assert_cmd::Command::from_std(cmd)
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn the_readme_cron_recipe_is_silent_unless_something_new_needs_attention() {
    let (vars, job) = cron_recipe();
    assert!(job.contains("--quiet"), "{job}");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Something listening that is not Flink: open, no finding.
    let quiet_peer = Listener::start(unique_loopback(), 0, close_at_once);
    std::fs::write(d.join("targets.txt"), format!("{}\n", quiet_peer.addr)).unwrap();

    // The one-time set-up, as the docs write it.
    let setup = "flinkscan scan -i targets.txt --quiet --json accepted.json";
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(RECIPE_PAGE)).unwrap();
    assert!(readme.contains(setup), "the documented set-up changed");
    let ran = as_cron(&vars, &format!("cd {WORK_DIR} && {setup}"), d);
    assert_eq!(
        (ran.code, ran.stdout.as_str(), ran.stderr.as_str()),
        (Some(0), "", "")
    );

    // A clean night: nothing printed (cron mails nothing), exit 0, every format written.
    let ran = as_cron(&vars, &job, d);
    assert_eq!(
        (ran.code, ran.stdout.as_str(), ran.stderr.as_str()),
        (Some(0), "", ""),
        "a clean run must print nothing"
    );
    for ext in ["json", "sarif", "jsonl", "html", "md", "csv"] {
        assert!(d.join(format!("nightly.{ext}")).is_file(), "nightly.{ext}");
    }
    assert!(
        !d.join("nightly.state").exists(),
        "a finished scan keeps its checkpoint"
    );

    // A new critical finding: exit 1 and exactly one line on stderr naming it.
    let rpc = Listener::start(unique_loopback(), 0, fake_rpc);
    std::fs::write(
        d.join("targets.txt"),
        format!("{}\n{}\n", quiet_peer.addr, rpc.addr),
    )
    .unwrap();
    let ran = as_cron(&vars, &job, d);
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert_eq!(ran.stdout, "");
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr
            .starts_with("flinkscan: 1 new finding at or above high: FLINK-RPC-PLAINTEXT on ")
            && ran.stderr.contains(&rpc.addr.to_string()),
        "{}",
        ran.stderr
    );

    // Accepted (the latest report becomes the baseline): silent again.
    std::fs::copy(d.join("nightly.json"), d.join("accepted.json")).unwrap();
    let ran = as_cron(&vars, &job, d);
    assert_eq!(
        (ran.code, ran.stdout.as_str(), ran.stderr.as_str()),
        (Some(0), "", ""),
        "an accepted finding must not mail again"
    );
    let doc = json_file(&d.join("nightly.json"));
    assert_eq!(doc["findings"][0]["baseline_state"], "unchanged");
}

/// `flinkscan scan -q --no-color ARGS` in `dir`; returns what it left.
fn scan(dir: &Path, args: &[&str]) -> Ran {
    let ran = Scan::new()
        .current_dir(dir)
        .args(["--no-color", "--probe-timeout", "2s"])
        .args(args)
        .run();
    Ran {
        code: ran.code,
        stdout: ran.stdout,
        stderr: ran.stderr,
    }
}

#[test]
fn fail_on_new_counts_only_new_findings_and_diff_takes_a_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rpc = Listener::start(unique_loopback(), 0, fake_rpc);
    let metrics = Listener::start(unique_loopback(), 0, fake_prometheus);
    let (rpc_at, metrics_at) = (rpc.addr.to_string(), metrics.addr.to_string());

    let ran = scan(d, &["-q", &rpc_at, "--json", "base.json"]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    // The same critical finding, now unchanged, plus a new low one.
    let both = [rpc_at.as_str(), metrics_at.as_str()];
    let with = |extra: &[&str]| {
        let mut a: Vec<&str> = vec!["-q", "--baseline", "base.json", "--json", "now.json"];
        a.extend(both);
        a.extend(extra);
        scan(d, &a)
    };
    // Without --fail-on-new the accepted critical still fails the run.
    let ran = with(&["--fail-on", "high"]);
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("1 finding at or above high"),
        "{}",
        ran.stderr
    );
    // With it, only new ones count: the new low one is below high...
    let ran = with(&["--fail-on", "high", "--fail-on-new"]);
    assert_eq!((ran.code, ran.stderr.as_str()), (Some(0), ""));
    // ...and at or above low.
    let ran = with(&["--fail-on", "low", "--fail-on-new"]);
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("1 new finding at or above low: FLINK-METRICS-EXPOSED"),
        "{}",
        ran.stderr
    );
    // --fail-on-new means nothing without a baseline: a usage error.
    let ran = scan(d, &["-q", &rpc_at, "--fail-on", "high", "--fail-on-new"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("--baseline"), "{}", ran.stderr);

    // diff: any new finding by default, a threshold with --fail-on.
    let diff = |extra: &[&str]| {
        flinkscan()
            .current_dir(d)
            .args(["diff", "base.json", "now.json"])
            .args(extra)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(diff(&[]), Some(1));
    assert_eq!(diff(&["--fail-on", "high"]), Some(0));
    assert_eq!(diff(&["--fail-on", "low"]), Some(1));
}

#[test]
fn one_flag_writes_every_format_filtered_by_severity_and_names_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rpc = Listener::start(unique_loopback(), 0, fake_rpc);
    let metrics = Listener::start(unique_loopback(), 0, fake_prometheus);
    let ran = scan(
        d,
        &[
            &rpc.addr.to_string(),
            &metrics.addr.to_string(),
            "-o",
            "out",
            "--min-severity",
            "medium",
            "--fail-on",
            "low",
        ],
    );
    // The exit code judges every finding: the low one was filtered out of
    // the outputs and still fails --fail-on low.
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    let files: Vec<String> = ["json", "sarif", "jsonl", "html", "md", "csv"]
        .iter()
        .map(|e| format!("out.{e}"))
        .collect();
    for f in &files {
        assert!(d.join(f).is_file(), "{f} missing");
    }
    // The summary on stdout; the files on stderr, in one line at the end.
    assert!(ran.stdout.contains("FLINK-RPC-PLAINTEXT"), "{}", ran.stdout);
    assert!(
        !ran.stdout.contains("FLINK-METRICS-EXPOSED"),
        "{}",
        ran.stdout
    );
    let last = ran.stderr.lines().last().unwrap_or("");
    assert_eq!(
        last,
        format!("flinkscan: wrote {}", files.join(", ")),
        "{}",
        ran.stderr
    );

    let doc = json_file(&d.join("out.json"));
    assert_eq!(support::peers::rule_ids(&doc), ["FLINK-RPC-PLAINTEXT"]);
    assert_eq!(doc["scan"]["min_severity"], "medium");
    assert!(
        doc["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["target"] == "--min-severity medium"
                && n["message"] == "1 finding below medium left out of this report"),
        "{}",
        doc["notices"]
    );
    let sarif = json_file(&d.join("out.sarif"));
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 1);
    let jsonl = std::fs::read_to_string(d.join("out.jsonl")).unwrap();
    assert!(jsonl.contains("FLINK-RPC-PLAINTEXT") && !jsonl.contains("FLINK-METRICS-EXPOSED"));
    for name in ["out.html", "out.md"] {
        let text = std::fs::read_to_string(d.join(name)).unwrap();
        assert!(!text.contains("FLINK-METRICS-EXPOSED"), "{name}");
        assert!(
            text.contains("below medium left out"),
            "{name} does not say it was filtered"
        );
    }
    // CSV: a header and one row per finding, read back by a CSV reader.
    let csv = std::fs::read_to_string(d.join("out.csv")).unwrap();
    let mut lines = csv.split("\r\n");
    assert_eq!(
        lines.next(),
        Some("severity,rule_id,title,host,port,url,service,version,cluster,baseline,fix")
    );
    let row = lines.next().unwrap();
    assert!(row.starts_with("critical,FLINK-RPC-PLAINTEXT,"), "{row}");
    assert!(
        row.contains(&format!(",{},{},", rpc.addr.ip(), rpc.addr.port())),
        "{row}"
    );
    assert_eq!(lines.filter(|l| !l.is_empty()).count(), 0, "{csv}");

    // A saved report renders to CSV too.
    let out = flinkscan()
        .current_dir(d)
        .args(["report", "out.json", "--csv", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), csv);

    // -o is a base name for files: stdout is refused before anything is sent.
    let ran = scan(d, &[&rpc.addr.to_string(), "-o", "-"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    // Under --quiet nothing names the files.
    let ran = scan(d, &["-q", &rpc.addr.to_string(), "-o", "again"]);
    assert_eq!(
        (ran.code, ran.stdout.as_str(), ran.stderr.as_str()),
        (Some(0), "", "")
    );
    assert!(d.join("again.csv").is_file());
}

#[test]
fn a_checkpoint_of_another_scan_is_set_aside_by_state_and_refused_by_resume() {
    let ip = unique_loopback();
    let peers: Vec<Listener> = (0..2)
        .map(|_| Listener::start(ip, 0, close_at_once))
        .collect();
    let ports = peers
        .iter()
        .map(|l| l.port().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let o = ip.octets();
    let range = format!("{}.{}.{}.0/24", o[0], o[1], o[2]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |extra: &[&str]| {
        let mut a: Vec<&str> = vec!["-q", &range, "--ports", &ports, "--json", "out.json"];
        a.extend(extra);
        scan(d, &a)
    };
    // 512 probes at 100/s, stopped after 2 s: the checkpoint stays.
    let stopped = &[
        "--rate",
        "100",
        "--max-duration",
        "2s",
        "--state",
        "s.state",
    ];
    let ran = run(stopped);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(d.join("s.state").exists() && d.join("s.state.results").exists());
    let old = std::fs::read(d.join("s.state")).unwrap();

    // --resume with another command line is still refused.
    let ran = run(&["--seed", "7", "--resume", "s.state"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("different scan"), "{}", ran.stderr);

    // --state with another command line: moved aside, a fresh complete scan.
    let ran = run(&["--seed", "7", "--state", "s.state"]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr
            .starts_with("flinkscan: warning: s.state held a checkpoint of a different scan")
            && ran.stderr.contains("moved to s.state.previous"),
        "{}",
        ran.stderr
    );
    assert_eq!(std::fs::read(d.join("s.state.previous")).unwrap(), old);
    assert!(d.join("s.state.previous.results").exists());
    let doc = json_file(&d.join("out.json"));
    assert_eq!(doc["scan"]["status"], "complete");
    assert_eq!(doc["stats"]["probed"], 512);
    assert!(
        doc["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["target"] == "--state"
                && n["message"].as_str().unwrap().contains("starts afresh")),
        "{}",
        doc["notices"]
    );
    assert!(
        !d.join("s.state").exists(),
        "the finished scan keeps its checkpoint"
    );

    // The old one is whole: its own command line continues it.
    let ran = run(&["--resume", "s.state.previous"]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let doc = json_file(&d.join("out.json"));
    assert_eq!(doc["scan"]["status"], "complete");
    assert_eq!(doc["stats"]["probed"], 512);
}

#[test]
fn a_resumed_scan_does_not_repeat_jsonl_events() {
    let ip = unique_loopback();
    let rpc: Vec<Listener> = (0..3).map(|_| Listener::start(ip, 0, fake_rpc)).collect();
    let ports = rpc
        .iter()
        .map(|l| l.port().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let o = ip.octets();
    let range = format!("{}.{}.{}.0/24", o[0], o[1], o[2]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |extra: &[&str]| {
        let mut a: Vec<&str> = vec!["-q", &range, "--ports", &ports, "--jsonl", "ev.jsonl"];
        a.extend(extra);
        scan(d, &a)
    };
    // 768 probes at 20/s. Killed outright (SIGKILL: nothing runs on the way
    // out) as soon as the first finding is streamed: that port's result is
    // newer than the last checkpoint (they come every 3 s), so the resumed
    // run identifies it again.
    let jsonl = d.join("ev.jsonl");
    let mut first = Scan::new()
        .current_dir(d)
        .args(["--no-color", "--probe-timeout", "2s"])
        .args(["-q", &range, "--ports", &ports, "--jsonl", "ev.jsonl"])
        .args(["--rate", "20", "--state", "s.state"])
        .spawn();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let findings_streamed = || {
        std::fs::read_to_string(&jsonl)
            .map(|t| t.matches("flinkscan.finding").count())
            .unwrap_or(0)
    };
    let mut wait_for = |what: &str, ready: &dyn Fn() -> bool| {
        while !ready() {
            assert!(std::time::Instant::now() < deadline, "waiting for {what}");
            assert!(first.running(), "the scan ended before it was killed");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait_for("the first checkpoint", &|| d.join("s.state").exists());
    let before = findings_streamed();
    wait_for("a finding after it", &|| findings_streamed() > before);
    first.kill();
    assert!(d.join("s.state").exists(), "no checkpoint to resume");
    let first = std::fs::read_to_string(&jsonl).unwrap();
    let ran = run(&["--state", "s.state"]);
    assert_eq!(
        (ran.code, ran.stderr.as_str()),
        (Some(0), ""),
        "not resumed"
    );
    let text = std::fs::read_to_string(d.join("ev.jsonl")).unwrap();
    assert!(text.starts_with(&first), "the resumed run rewrote the file");
    let mut seen = std::collections::BTreeSet::new();
    let mut findings = std::collections::BTreeSet::new();
    for line in text.lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        v.as_object_mut().unwrap().remove("@timestamp");
        assert!(seen.insert(v.to_string()), "repeated event: {line}");
        if v["event"]["dataset"] == "flinkscan.finding" {
            assert!(
                findings.insert(v["event"]["id"].to_string()),
                "a finding twice: {line}"
            );
        }
    }
    // Every RPC port's finding is there once.
    assert_eq!(findings.len(), rpc.len(), "{text}");
}

#[test]
fn the_bash_completion_script_loads_in_bash() {
    let Some(bash) = support::require("bash", "the Debian package bash") else {
        return;
    };
    let bin_dir: PathBuf = assert_cmd::cargo::cargo_bin("flinkscan")
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!("{}:/usr/bin:/bin", bin_dir.display());
    let out = std::process::Command::new(bash)
        .env("PATH", path)
        .args([
            "-c",
            "source <(flinkscan completions bash) && complete -p flinkscan",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && stdout.contains("-F _flinkscan")
            && stdout.trim_end().ends_with(" flinkscan"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The other shells get a script too.
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = flinkscan().args(["completions", shell]).output().unwrap();
        assert!(out.status.success() && out.stdout.len() > 1000, "{shell}");
    }
}

#[test]
fn man_renders_the_manual_page() {
    let Some(man) = support::require("man", "the Debian package man-db") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("flinkscan.1");
    let out = flinkscan().arg("man").output().unwrap();
    assert!(out.status.success());
    std::fs::write(&page, &out.stdout).unwrap();
    let shown = std::process::Command::new(man)
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    let warnings = String::from_utf8_lossy(&shown.stderr);
    assert!(shown.status.success(), "{warnings}");
    assert!(warnings.trim().is_empty(), "man warned: {warnings}");
    for needle in [
        "flinkscan - Find exposed Apache Flink interfaces",
        "flinkscan scan",
        "--fail-on-new",
        "--output-all",
        "flinkscan completions",
        "Exit codes",
    ] {
        assert!(
            text.contains(needle),
            "{needle} not in the rendered page:\n{text}"
        );
    }
}

#[test]
fn rules_takes_prefixes_and_suggests_by_likeness() {
    let out = flinkscan().args(["rules", "FLINK-TLS-*"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let listed: Vec<&str> = text
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    assert!(listed.len() > 1, "{text}");
    assert!(
        listed.iter().all(|id| id.starts_with("FLINK-TLS-")),
        "{text}"
    );

    let out = flinkscan().args(["rules", "X"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no rule matches X; `flinkscan rules` lists the rule ids"),
        "{err}"
    );
    let out = flinkscan()
        .args(["rules", "FLINK-RPC-PLAINTXT"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did you mean FLINK-RPC-PLAINTEXT?"), "{err}");
}

/// The README's clone-and-run habits include a shared or relocated cargo
/// target directory (CARGO_TARGET_DIR): the scripts that run what cargo
/// built (benchmark, external validators) must find it there, not in
/// ./target, where a fresh clone has nothing (or an old build).
#[test]
fn scripts_run_the_binary_where_cargo_put_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let elsewhere = tempfile::tempdir().unwrap();
    for (dir, want) in [
        (root.to_path_buf(), elsewhere.path().to_path_buf()),
        (
            root.join("benches/bare_loop"),
            elsewhere.path().to_path_buf(),
        ),
    ] {
        let out = std::process::Command::new("bash")
            .arg(root.join("scripts/target-dir.sh"))
            .arg(&dir)
            .env("CARGO_TARGET_DIR", elsewhere.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            want.to_str().unwrap()
        );
    }
    let out = std::process::Command::new("bash")
        .arg(root.join("scripts/target-dir.sh"))
        .arg(root)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).trim().is_empty());
    for script in [
        "benches/compare.sh",
        "scripts/validate-external.sh",
        "scripts/validate-deploy.sh",
    ] {
        let text = std::fs::read_to_string(root.join(script)).unwrap();
        for fixed in ["target/release/", "target/debug/"] {
            assert!(
                !text.contains(fixed),
                "{script} runs a binary from a fixed {fixed}: ask scripts/target-dir.sh"
            );
        }
    }
}

/// The README's install line names the oldest Rust that builds the crate as
/// locked: a user on the stated version must not meet a dependency that
/// asks for a newer one. Read from the dependencies' own manifests in
/// cargo's registry cache (where cargo put them to build this test).
#[test]
fn the_stated_rust_version_builds_the_locked_dependencies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let version = |text: &str| -> (u64, u64, u64) {
        let mut parts = text.split('.').map(|p| p.parse::<u64>().unwrap());
        let mut next = || parts.next().unwrap_or(0);
        (next(), next(), next())
    };
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    let stated = manifest["package"]["rust-version"].as_str().unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("Rust toolchain ({stated} or newer")),
        "README.md should say it needs Rust {stated} or newer, as Cargo.toml does"
    );
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
    let indexes: Vec<PathBuf> = std::fs::read_dir(cargo_home.join("registry/src"))
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    let lock: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.lock")).unwrap()).unwrap();
    let (mut read, mut registry, mut newer) = (0, 0, Vec::new());
    for package in lock["package"].as_array().unwrap() {
        if package.get("source").is_none() {
            continue;
        }
        registry += 1;
        let (name, ver) = (
            package["name"].as_str().unwrap(),
            package["version"].as_str().unwrap(),
        );
        let Some(text) = indexes
            .iter()
            .find_map(|i| std::fs::read_to_string(i.join(format!("{name}-{ver}/Cargo.toml"))).ok())
        else {
            continue;
        };
        read += 1;
        let theirs: toml::Table = toml::from_str(&text).unwrap();
        if let Some(wants) = theirs
            .get("package")
            .and_then(|p| p.get("rust-version"))
            .and_then(|v| v.as_str())
        {
            if version(wants) > version(stated) {
                newer.push(format!("{name} {ver} needs Rust {wants}"));
            }
        }
    }
    // Built here, so most locked packages are unpacked (those of other
    // platforms need not be).
    assert!(
        read * 2 > registry,
        "found {read} of {registry} locked packages under {}",
        cargo_home.display()
    );
    assert!(
        newer.is_empty(),
        "Cargo.toml says rust-version {stated}, but {newer:?}"
    );
}
