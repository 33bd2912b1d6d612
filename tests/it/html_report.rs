//! The HTML report in a real browser, and the cluster model end to end.
//!
//! Peers are replayed on loopback (no JVM): a JobManager whose
//! `/taskmanagers` names one TaskManager the scan reaches and ports it does
//! not, with its RPC port and a readable configuration (a cluster id and a
//! planted secret); a second JobManager that hides its configuration; a
//! lone SQL Gateway on an affected version; and hostile peers whose strings
//! carry `<script>`. The scan writes JSON, SARIF, HTML and Markdown; the
//! HTML is opened in Debian's Chromium through Playwright
//! (tests/browser/check_report.py), which fails on any network request,
//! console error or script that ran, and checks the print layout at A4 and
//! Letter width and how identifiers wrap. The same scan is then run against
//! a baseline, whose new/unchanged/fixed counts and badges are checked in
//! the terminal summary, the Markdown and the browser, and the summary's
//! wrapping at COLUMNS and at 80. Missing Chromium or Playwright fails the
//! test naming what to install (FLINKSCAN_ALLOW_MISSING=1 skips).

use crate::support;

use std::io::Read;
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};
use support::flink::unique_loopback;
use support::peers::{
    fake_rpc, flinkscan, json_file, read_head, request_path, respond_with, Listener,
};
use support::scan::{Ran, Scan};

const HOSTILE_REVISION: &str = "<script>window.pwned=1</script>";
const HOSTILE_SERVER: &str = "<img src=x onerror=window.pwned=2>";
const HOSTILE_CLUSTER: &str = "<script>window.pwned=3</script>";
const PLANTED: &str = "AKIAPLANTEDSECRET0001";

type Route = Arc<dyn Fn(&str) -> Option<(u16, String)> + Send + Sync>;

/// An HTTP peer on `ip:port` answering GETs from `route` until dropped.
fn http(ip: Ipv4Addr, port: u16, server: &'static str, route: Route) -> Listener {
    Listener::start(ip, port, move |c| serve(c, server, &route))
}

fn serve(mut c: TcpStream, server: &str, route: &Route) {
    let _ = c.set_nonblocking(false);
    let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
    let mut first = [0u8; 4];
    if c.peek(&mut first).unwrap_or(0) < 4 || &first != b"GET " {
        // Not HTTP (the identification's binary probes): drain and close.
        let mut sink = [0u8; 256];
        let _ = c.set_read_timeout(Some(Duration::from_millis(200)));
        let _ = c.read(&mut sink);
        return;
    }
    let head = read_head(&mut c);
    let (status, body) =
        route(request_path(&head)).unwrap_or((404, r#"{"errors":["Not found."]}"#.into()));
    respond_with(
        &mut c,
        &format!("{status} X"),
        &[
            &format!("server: {server}"),
            "content-type: application/json; charset=UTF-8",
        ],
        body.as_bytes(),
    );
}

fn dashboard(version: &str, revision: &str, submit: bool) -> String {
    json!({
        "refresh-interval": 3000, "timezone-name": "UTC", "timezone-offset": 0,
        "flink-version": version, "flink-revision": revision,
        "features": {"web-submit": submit, "web-cancel": submit, "web-rescale": false, "web-history": false}
    })
    .to_string()
}

fn overview(version: &str, taskmanagers: u32) -> String {
    json!({
        "taskmanagers": taskmanagers, "slots-total": taskmanagers, "slots-available": taskmanagers,
        "jobs-running": 0, "jobs-finished": 0, "jobs-cancelled": 0, "jobs-failed": 0,
        "flink-version": version, "flink-commit": "replay"
    })
    .to_string()
}

fn have(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Chromium and Playwright are there; a missing one fails the test naming
/// it, unless the person running the tests opted out (then: `false`, skip).
fn browser_available() -> bool {
    let mut missing = Vec::new();
    let chromium = std::env::var("FLINKSCAN_CHROMIUM")
        .ok()
        .is_some_and(|p| Path::new(&p).exists())
        || have("chromium", &["--version"])
        || have("chromium-headless-shell", &["--version"]);
    if !chromium {
        missing.push("Chromium (apt-get install -y chromium)");
    }
    if !have("python3", &["-c", "import playwright.sync_api"]) {
        missing.push("Playwright for Python (pip install playwright; the system chromium is used, no `playwright install`)");
    }
    if missing.is_empty() {
        return true;
    }
    support::missing(
        "the HTML report test's browser",
        &format!("install {}", missing.join(" and ")),
    );
    false
}

#[test]
fn clusters_render_in_a_real_browser_and_hostile_strings_stay_text() {
    let browser = browser_available();

    // Cluster A: JobManager + its RPC + one reachable TaskManager.
    let jm_ip = unique_loopback();
    let tm_ip = unique_loopback();
    let gone_tm_ip = unique_loopback();
    let jm_rpc = Listener::start(jm_ip, 6123, fake_rpc);
    let tm_rpc = Listener::start(tm_ip, 6124, fake_rpc);
    let tm_path = format!("pekko.tcp://flink@{tm_ip}:6124/user/rpc/taskmanager_0");
    let gone_path = format!("pekko.tcp://flink@{gone_tm_ip}:6124/user/rpc/taskmanager_0");
    let cluster_id = format!("orders{HOSTILE_CLUSTER}");
    let route_a: Route = Arc::new(move |path: &str| {
        let body = match path {
            "/config" => dashboard("1.20.1", HOSTILE_REVISION, true),
            "/overview" => overview("1.20.1", 2),
            "/jars" => r#"{"address":"x","files":[]}"#.into(),
            "/jobs/overview" => r#"{"jobs":[]}"#.into(),
            "/taskmanagers" => json!({"taskmanagers": [
                {"id": "tm-reached", "path": tm_path, "dataPort": 41001, "jmxPort": -1},
                {"id": "tm-gone", "path": gone_path, "dataPort": 41002, "jmxPort": -1},
            ]})
            .to_string(),
            "/jobmanager/config" => json!([
                {"key": "kubernetes.cluster-id", "value": cluster_id},
                {"key": "jobmanager.rpc.port", "value": "6123"},
                {"key": "s3.access-key", "value": PLANTED},
                {"key": "state.checkpoints.dir", "value": "s3://bucket/checkpoints"},
                {"key": "pipeline.generic-types", "value": "false"},
            ])
            .to_string(),
            _ => return None,
        };
        Some((200, body))
    });
    let _jm_a = http(jm_ip, 8081, "replay", route_a);

    // Cluster B: a JobManager that hides its configuration.
    let jm_b_ip = unique_loopback();
    let route_b: Route = Arc::new(|path: &str| {
        let body = match path {
            "/config" => dashboard("2.1.1", "replay", false),
            "/overview" => overview("2.1.1", 0),
            "/taskmanagers" => r#"{"taskmanagers":[]}"#.into(),
            _ => return None,
        };
        Some((200, body))
    });
    let _jm_b = http(jm_b_ip, 8081, "replay", route_b);

    // A lone SQL Gateway on an affected version.
    let gw_ip = unique_loopback();
    let route_gw: Route = Arc::new(|path: &str| {
        let body = match path {
            "/v1/info" => r#"{"productName":"Apache Flink","version":"1.20.1"}"#.to_string(),
            "/v1/api_versions" => r#"{"versions":["V1","V2"]}"#.into(),
            _ => return None,
        };
        Some((200, body))
    });
    let _gw = http(gw_ip, 8083, "replay", route_gw);

    // A hostile non-Flink HTTP server.
    let evil_ip = unique_loopback();
    let route_evil: Route = Arc::new(|_| Some((200, "<html>hello</html>".into())));
    let _evil = http(evil_ip, 8082, HOSTILE_SERVER, route_evil);

    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name);
    let targets = [
        format!("{jm_ip}"),
        format!("{tm_ip}:6124"),
        format!("{gone_tm_ip}:6124"),
        format!("{jm_b_ip}:8081"),
        format!("{gw_ip}:8083"),
        format!("{evil_ip}:8082"),
    ];
    let first = Scan::new()
        .targets(&targets)
        .args([
            "--ports",
            "8081,6123",
            // The TaskManager ports the JobManager names stay unscanned,
            // which is what the report must render.
            "--no-follow",
            "--no-tls-audit",
            "--no-progress",
            "--probe-timeout",
            "3s",
        ])
        .arg("--json")
        .arg(out("scan.json"))
        .arg("--sarif")
        .arg(out("scan.sarif"))
        .arg("--html")
        .arg(out("scan.html"))
        .arg("--markdown")
        .arg(out("scan.md"))
        .run();
    assert!(first.code == Some(0), "{}", first.stderr);
    // The same scan against a baseline, while every peer is still up.
    let again_run = rescan_against_baseline(&targets, dir.path());
    drop((jm_rpc, tm_rpc));
    // The terminal summary: grouped by cluster, the fix once per cluster.
    // It wraps at 80 columns here (no terminal, no COLUMNS), so phrases
    // are looked for with the line breaks undone.
    let summary = first.stdout.clone();
    let flat = summary.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(summary.starts_with("flinkscan: 3 clusters"), "{summary}");
    assert_eq!(summary.matches("\n  fix:\n").count(), 3, "{summary}");
    assert_eq!(
        flat.matches("security.ssl.internal.enabled: true").count(),
        1,
        "two plaintext RPC ports, one fix: {summary}"
    );
    assert!(
        flat.contains("worst path: Code execution on every TaskManager"),
        "{summary}"
    );
    assert!(
        flat.contains(&format!(
            "known from the JobManager, not scanned: {tm_ip}:41001"
        )),
        "{summary}"
    );
    let doc = json_file(&out("scan.json"));
    let clusters = doc["clusters"]
        .as_array()
        .expect("clusters in the JSON report");
    let ids: Vec<&str> = clusters.iter().map(|c| c["id"].as_str().unwrap()).collect();
    let a_id = "k8s:orders_script_window.pwned_3__script_";
    let b_id = format!("jobmanager:{jm_b_ip}:8081");
    let gw_id = format!("sql-gateway:{gw_ip}:8083");
    let mut want = vec![a_id.to_string(), b_id.clone(), gw_id.clone()];
    want.sort();
    let mut got: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    got.sort();
    assert_eq!(got, want, "{doc:#}");
    let a = clusters.iter().find(|c| c["id"] == a_id).unwrap();
    let member = |ep: String| {
        a["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["endpoint"] == ep.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{ep} not a member: {a:#}"))
    };
    assert!(member(format!("{jm_ip}:6123"))["evidence"]
        .as_str()
        .unwrap()
        .contains("jobmanager.rpc.port"));
    let tm = member(format!("{tm_ip}:6124"));
    assert_eq!(tm["role"], "taskmanager-rpc", "{tm}");
    assert!(tm["evidence"].as_str().unwrap().contains("tm-reached"));
    let unreached: Vec<(String, u64, String)> = a["not_scanned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["host"].as_str().unwrap().to_string(),
                k["port"].as_u64().unwrap(),
                k["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut want_unreached = vec![
        (tm_ip.to_string(), 41001, "not-scanned".to_string()),
        (gone_tm_ip.to_string(), 6124, "not-found".to_string()),
        (gone_tm_ip.to_string(), 41002, "not-scanned".to_string()),
    ];
    want_unreached.sort();
    let mut unreached = unreached;
    unreached.sort();
    assert_eq!(unreached, want_unreached);
    assert_eq!(a["rating"], "critical");
    let first_path = &a["paths"][0];
    assert_eq!(first_path["rank"], 1);
    for p in a["paths"].as_array().unwrap() {
        for s in p["steps"].as_array().unwrap() {
            assert!(!s["findings"].as_array().unwrap().is_empty(), "{p}");
        }
    }
    let titles: Vec<&str> = a["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert!(titles.iter().any(|t| t.contains("REST API")), "{titles:?}");
    assert!(
        titles.iter().any(|t| t.contains("Akka/Pekko")),
        "{titles:?}"
    );
    assert!(
        titles.iter().any(|t| t.contains("Credentials")),
        "{titles:?}"
    );
    let posture = |c: &Value, id: &str| {
        c["posture"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .map(|p| p["status"].as_str().unwrap().to_string())
    };
    assert_eq!(posture(a, "serialization").as_deref(), Some("pass"));
    assert_eq!(posture(a, "checkpoint-storage").as_deref(), Some("fail"));
    assert_eq!(posture(a, "internal-tls").as_deref(), Some("fail"));
    assert_eq!(posture(a, "web-submit").as_deref(), Some("fail"));
    let b = clusters.iter().find(|c| c["id"] == b_id.as_str()).unwrap();
    assert_eq!(posture(b, "serialization").as_deref(), Some("unknown"));
    assert_eq!(posture(b, "web-submit").as_deref(), Some("pass"));
    let gw = clusters.iter().find(|c| c["id"] == gw_id.as_str()).unwrap();
    let gw_path = &gw["paths"][0];
    assert!(
        gw_path.to_string().contains("CVE-2026-35194"),
        "{gw_path:#}"
    );
    // Findings carry their cluster and the fix; SARIF results the cluster.
    let findings = doc["findings"].as_array().unwrap();
    assert!(
        findings.iter().all(|f| f["remediation"].is_string()),
        "{doc:#}"
    );
    let sarif = json_file(&out("scan.sarif"));
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), findings.len());
    assert!(results
        .iter()
        .all(|r| r["properties"]["cluster"].is_string()));
    // No secret value anywhere.
    for name in ["scan.json", "scan.sarif", "scan.html", "scan.md"] {
        let text = std::fs::read_to_string(out(name)).unwrap();
        assert!(!text.contains(PLANTED), "{name} holds the planted secret");
    }
    let md = std::fs::read_to_string(out("scan.md")).unwrap();
    assert!(!md.contains("<script") && !md.contains("<img"), "{md}");
    let html = std::fs::read_to_string(out("scan.html")).unwrap();
    assert!(!html.contains(HOSTILE_REVISION) && !html.contains(HOSTILE_SERVER));

    // `report` renders a saved report the same way.
    let rendered = flinkscan()
        .arg("report")
        .arg(out("scan.json"))
        .arg("--html")
        .arg(out("again.html"))
        .output()
        .unwrap();
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let again = std::fs::read_to_string(out("again.html")).unwrap();
    assert_eq!(again, html, "report IN.json renders what the scan wrote");

    let rpc = findings
        .iter()
        .filter(|f| f["rule_id"] == "FLINK-RPC-PLAINTEXT")
        .count();
    assert_eq!(rpc, 2, "JobManager and TaskManager RPC");
    let hostile = [
        HOSTILE_REVISION.to_string(),
        HOSTILE_SERVER.to_string(),
        format!("orders{HOSTILE_CLUSTER}"),
    ];
    let expect = expectations(&doc, "FLINK-RPC-PLAINTEXT", &hostile);
    if let Ok(keep) = std::env::var("FLINKSCAN_KEEP_REPORT") {
        for name in ["scan.html", "scan.json", "scan.md"] {
            let _ = std::fs::copy(out(name), Path::new(&keep).join(name));
        }
        let _ = std::fs::write(Path::new(&keep).join("expect.json"), expect.to_string());
    }
    if browser {
        browser_check(&out("scan.html"), &expect, dir.path());
    }
    baseline_in_every_view(&again_run, dir.path(), &gw_ip.to_string(), browser);
}

/// Scan `targets` again with an edited copy of the first scan's report as
/// `--baseline`: the SQL Gateway's unauthenticated finding left out of it
/// (so it is new now) and the JobManager's RPC finding copied onto its REST
/// port, which the scan probes and where no RPC is (so it is fixed now).
fn rescan_against_baseline(targets: &[String], dir: &Path) -> Ran {
    let mut base = json_file(&dir.join("scan.json"));
    let findings = base["findings"].as_array_mut().unwrap();
    let new_one = findings
        .iter()
        .position(|f| f["rule_id"] == "FLINK-SQL-GATEWAY-UNAUTHENTICATED")
        .expect("the SQL Gateway finding");
    findings.remove(new_one);
    let mut gone = findings
        .iter()
        .find(|f| f["rule_id"] == "FLINK-RPC-PLAINTEXT" && f["port"] == 6123)
        .cloned()
        .expect("the JobManager's RPC finding");
    gone["port"] = json!(8081);
    gone["url"] = json!(format!("tcp://{}:8081", gone["ip"].as_str().unwrap()));
    findings.push(gone);
    std::fs::write(dir.join("base.json"), base.to_string()).unwrap();
    Scan::new()
        .targets(targets)
        .args([
            "--ports",
            "8081,6123",
            "--no-tls-audit",
            "--no-progress",
            "--probe-timeout",
            "3s",
        ])
        .arg("--baseline")
        .arg(dir.join("base.json"))
        .arg("--json")
        .arg(dir.join("now.json"))
        .arg("--html")
        .arg(dir.join("now.html"))
        .arg("--markdown")
        .arg(dir.join("now.md"))
        .env_remove("COLUMNS")
        .run()
}

/// The baseline in the terminal summary (new first), the Markdown (counts,
/// badges, new and unchanged groups) and the HTML (counts, badges, filter,
/// in the browser); then the summary's wrapping at COLUMNS and at 80.
fn baseline_in_every_view(run: &Ran, dir: &Path, gw_ip: &str, browser: bool) {
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let doc = json_file(&dir.join("now.json"));
    let state = |s: &str| {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["baseline_state"] == s)
            .count()
    };
    let (new, unchanged, fixed) = (state("new"), state("unchanged"), state("fixed"));
    assert_eq!((new, fixed), (1, 1), "{doc:#}");
    assert!(unchanged > 5, "{doc:#}");

    let summary = run.stdout.clone();
    let lines: Vec<&str> = summary.lines().collect();
    assert_eq!(
        lines[0],
        format!("flinkscan baseline: 1 new, {unchanged} unchanged, 1 fixed"),
        "{summary}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "  NEW CRITICAL {gw_ip}:8083 FLINK-SQL-GATEWAY-UNAUTHENTICATED"
        )),
        "the new finding comes first: {summary}"
    );

    let md = std::fs::read_to_string(dir.join("now.md")).unwrap();
    assert!(
        md.contains(&format!(
            "**Against the baseline: 1 new, {unchanged} unchanged, 1 fixed**"
        )),
        "{md}"
    );
    let new_at = md.find("## New findings (1)\n").expect("new group");
    let same_at = md
        .find(&format!("## Unchanged findings ({unchanged})\n"))
        .expect("unchanged group");
    let fixed_at = md
        .find("## Fixed since the baseline (1)\n")
        .expect("fixed list");
    assert!(new_at < same_at && same_at < fixed_at, "{md}");
    assert!(
        md[new_at..same_at].contains("### CRITICAL `NEW` Flink SQL Gateway reachable"),
        "{md}"
    );
    assert_eq!(md.matches("`NEW`").count(), 1, "{md}");
    assert_eq!(md.matches("`UNCHANGED`").count(), unchanged, "{md}");
    assert_eq!(md.matches("`FIXED`").count(), 1, "{md}");

    if browser {
        let expect = expectations(&doc, "FLINK-REST-PLAINTEXT", &[]);
        assert_eq!(expect["baseline"]["new"], 1, "{expect}");
        browser_check(&dir.join("now.html"), &expect, dir);
    }

    // The summary wraps at COLUMNS, else at 80 (not a terminal here), and
    // never inside a word: the words are those of an unwrapped summary.
    let summary_at = |columns: Option<&str>| {
        let mut c = flinkscan();
        c.arg("report").arg(dir.join("now.json"));
        match columns {
            Some(n) => c.env("COLUMNS", n),
            None => c.env_remove("COLUMNS"),
        };
        let out = c.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let words = |t: &str| t.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let wide = summary_at(Some("1000"));
    for (columns, width) in [(Some("60"), 60), (None, 80)] {
        let text = summary_at(columns);
        assert_eq!(words(&text), words(&wide), "{columns:?}: a word was split");
        for line in text.lines() {
            assert!(
                line.chars().count() <= width || !line.trim().contains(' '),
                "{columns:?}: longer than {width}: {line:?}\n{text}"
            );
        }
        assert!(
            wide.lines().any(|l| l.chars().count() > width),
            "nothing to wrap at {width}"
        );
        assert!(text.lines().count() > wide.lines().count(), "{text}");
    }
}

/// What the browser must see, from the JSON report of the same scan.
fn expectations(doc: &Value, search: &str, hostile: &[String]) -> Value {
    let findings = doc["findings"].as_array().unwrap();
    let present: Vec<&Value> = findings
        .iter()
        .filter(|f| f["baseline_state"] != "fixed")
        .collect();
    let mut by_severity = serde_json::Map::new();
    for sev in ["critical", "high", "medium", "low", "info"] {
        let n = present.iter().filter(|f| f["severity"] == sev).count();
        by_severity.insert(sev.into(), json!(n));
    }
    let ids: Vec<&str> = doc["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let mut by_cluster = serde_json::Map::new();
    for id in &ids {
        let n = present.iter().filter(|f| f["cluster"] == *id).count();
        by_cluster.insert(id.to_string(), json!(n));
    }
    let count = present.iter().filter(|f| f["rule_id"] == search).count();
    let mut expect = json!({
        "clusters": ids,
        "findings": present.len(),
        "by_severity": by_severity,
        "by_cluster": by_cluster,
        "search": {"text": search, "count": count},
        "hostile": hostile,
    });
    if findings.iter().any(|f| f["baseline_state"].is_string()) {
        let state = |s: &str| findings.iter().filter(|f| f["baseline_state"] == s).count();
        expect["baseline"] = json!({
            "new": state("new"), "unchanged": state("unchanged"), "fixed": state("fixed"),
        });
    }
    expect
}

/// Open the report in Chromium (tests/browser/check_report.py) and fail
/// with what it saw.
fn browser_check(html: &Path, expect: &Value, dir: &Path) {
    let expect_file = dir.join("expect.json");
    std::fs::write(&expect_file, expect.to_string()).unwrap();
    let browser = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/browser/check_report.py"
        ))
        .arg(html)
        .arg(&expect_file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&browser.stdout);
    assert!(
        browser.status.success(),
        "browser check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&browser.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    assert_eq!(seen["ok"], true, "{seen:#}");
}

/// Real Flink: a JobManager with a TaskManager, a locked-down one (REST
/// mutual TLS and internal SSL), a REST-SSL one and a HistoryServer, each
/// on its own loopback address; four clusters in the browser.
#[test]
fn real_flink_clusters_render_in_a_real_browser() {
    use support::flink::{self, Flink, FlinkOpts};
    const VERSION: &str = "1.20.1";
    let browser = browser_available();
    let m = flink::tls_material();
    let hs_ip = unique_loopback();
    let (open, tm, locked, ssl, hs) = thread::scope(|s| {
        let open = s.spawn(|| {
            let jm = Flink::start_jobmanager(
                FlinkOpts::new(VERSION)
                    .conf("high-availability.cluster-id", "orders")
                    .conf("s3.access-key", PLANTED),
            );
            let tm = Flink::start_taskmanager(&jm, 6122, 6121);
            (jm, tm)
        });
        let locked = s.spawn(|| {
            let mut conf = flink::rest_mtls(&m);
            conf.extend(flink::internal_ssl(&m));
            Flink::start_jobmanager(FlinkOpts::new(VERSION).confs(conf))
        });
        let ssl =
            s.spawn(|| Flink::start_jobmanager(FlinkOpts::new(VERSION).confs(flink::rest_ssl(&m))));
        let hs = s.spawn(|| Flink::start_history_server(VERSION, hs_ip, 8082));
        let (jm, tm) = open.join().unwrap();
        (
            jm,
            tm,
            locked.join().unwrap(),
            ssl.join().unwrap(),
            hs.join().unwrap(),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name);
    let targets: Vec<String> = [open.ip, locked.ip, ssl.ip, hs.ip]
        .iter()
        .map(|ip| ip.to_string())
        .collect();
    let run = flinkscan()
        .arg("scan")
        .args(&targets)
        .args(["--ports", "8081,8082,6121,6122,6123,6124", "--no-progress"])
        .arg("--json")
        .arg(out("scan.json"))
        .arg("--html")
        .arg(out("scan.html"))
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let doc = json_file(&out("scan.json"));
    let clusters = doc["clusters"].as_array().unwrap();
    let by_id = |id: &str| {
        clusters
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no cluster {id}: {:#}", doc["clusters"]))
    };
    assert_eq!(clusters.len(), 4, "{:#}", doc["clusters"]);
    let posture = |c: &Value, id: &str| {
        c["posture"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .map(|p| p["status"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no posture {id}: {c:#}"))
    };

    let orders = by_id("ha:orders");
    let role_of = |c: &Value, port: u16| {
        c["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["endpoint"] == format!("{}:{port}", open.ip))
            .map(|m| m["role"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{port} not a member: {c:#}\n{}", tm.log_tail()))
    };
    assert_eq!(role_of(orders, 6122), "taskmanager-rpc");
    assert_eq!(role_of(orders, 6121), "taskmanager-data");
    assert_eq!(role_of(orders, 6123), "rpc");
    assert_eq!(role_of(orders, 6124), "blob-server");
    assert!(orders["not_scanned"].as_array().unwrap().is_empty());
    assert_eq!(orders["rating"], "critical");
    let first = &orders["paths"][0];
    assert!(
        first["steps"][2]["action"]
            .as_str()
            .unwrap()
            .contains("1 listed"),
        "{first:#}"
    );
    assert_eq!(posture(orders, "internal-tls"), "fail");
    assert_eq!(posture(orders, "checkpoint-storage"), "fail");

    let locked_c = by_id(&format!("jobmanager:{}:8081", locked.ip));
    assert_eq!(posture(locked_c, "rest-tls"), "pass");
    assert_eq!(posture(locked_c, "rest-mtls"), "pass");
    assert_eq!(posture(locked_c, "internal-tls"), "pass");
    assert!(
        locked_c["paths"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["severity"] != "critical"),
        "{locked_c:#}"
    );
    let ssl_c = by_id(&format!("jobmanager:{}:8081", ssl.ip));
    assert_eq!(posture(ssl_c, "rest-tls"), "pass");
    assert_eq!(posture(ssl_c, "rest-mtls"), "fail");
    let hs_c = by_id(&format!("history-server:{}:8082", hs.ip));
    assert_eq!(posture(hs_c, "history-server"), "fail");

    let html = std::fs::read_to_string(out("scan.html")).unwrap();
    assert!(!html.contains(PLANTED));
    let expect = expectations(&doc, "FLINK-REST-UNAUTHENTICATED", &[]);
    if browser {
        browser_check(&out("scan.html"), &expect, dir.path());
    }
}

static TOUCHED: AtomicBool = AtomicBool::new(false);

#[test]
fn rules_id_explains_one_rule_and_report_outputs_are_checked_before_probing() {
    let out = flinkscan()
        .args(["rules", "flink-rpc-plaintext"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("FLINK-RPC-PLAINTEXT"), "{text}");
    assert!(
        text.contains("How to fix it:") && text.contains("security.ssl.internal.enabled"),
        "{text}"
    );
    let typo = flinkscan()
        .args(["rules", "FLINK-RPC-PLAINTXT"])
        .output()
        .unwrap();
    assert_eq!(typo.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&typo.stderr).contains("did you mean FLINK-RPC-PLAINTEXT"),
        "{}",
        String::from_utf8_lossy(&typo.stderr)
    );

    let ip = unique_loopback();
    let route: Route = Arc::new(|_| {
        TOUCHED.store(true, Ordering::Relaxed);
        None
    });
    let _peer = http(ip, 8081, "replay", route);
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("r.html");
    for (flags, want) in [
        (
            vec!["--html".to_string(), missing.display().to_string()],
            "--html",
        ),
        (
            vec!["--markdown".into(), "-".into(), "--html".into(), "-".into()],
            "both write to stdout",
        ),
    ] {
        let out = flinkscan()
            .args(["scan", &format!("{ip}:8081"), "--no-progress"])
            .args(&flags)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{flags:?}: {err}");
    }
    assert!(!TOUCHED.load(Ordering::Relaxed), "a probe was sent");
}

/// The progress bar on a real terminal (a pty from util-linux `script`):
/// once the sweep is done it shows the identification phase, not a bar
/// stuck at 100% with "ETA 0s", and rates are whole numbers.
#[test]
fn progress_bar_shows_the_identification_phase_with_whole_number_rates() {
    if support::require("script", "util-linux").is_none() {
        return;
    }
    // A port that accepts and stays silent keeps identification busy for
    // the whole probe timeout.
    let silent = Listener::start(unique_loopback(), 0, support::peers::tarpit);
    let bin = assert_cmd::cargo::cargo_bin("flinkscan");
    let command = format!(
        "{} scan {} --probe-timeout 3s --no-tls-audit",
        bin.display(),
        silent.addr
    );
    let out = Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(screen.contains("identifying"), "{screen}");
    assert!(screen.contains("open ports"), "{screen}");
    assert!(!screen.contains("ETA 0s"), "{screen}");
    let fractional = regex_like_fraction(&screen);
    assert!(
        fractional.is_none(),
        "fractional rate {fractional:?} in {screen}"
    );
}

/// The first `N.N/s` in `text`, if any.
fn regex_like_fraction(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|w| {
            w.strip_suffix("/s").is_some_and(|n| {
                n.contains('.') && n.chars().all(|c| c.is_ascii_digit() || c == '.')
            })
        })
        .map(str::to_string)
}
