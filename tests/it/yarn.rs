//! Flink on YARN, end to end through the binary: a replayed Hadoop YARN
//! ResourceManager (tests/fixtures/yarn/rm_replay.py, built from Hadoop's
//! REST documentation and source: no registry ships Hadoop) whose web
//! proxy forwards to a real Flink JobManager. Look-alike HTTP servers must
//! not be called YARN. Loopback only; the replay logs every request so the
//! test can hold the scan to GET.

use crate::support;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::flink::{self, Flink, FlinkOpts};
use support::peers::{rule_ids, scan_to};

const VERSION: &str = "1.20.1";
const APP: &str = "application_1733380000000_0001";

/// The replay process, killed on drop.
struct Replay {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Drop for Replay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replay {
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
}

fn replay(python: &Path, dir: &Path, mode: &str, jm: Option<SocketAddr>) -> Replay {
    replay_on(python, dir, mode, jm, 0)
}

/// [`replay`] on `port` of a loopback address of its own (0: a free one).
fn replay_on(python: &Path, dir: &Path, mode: &str, jm: Option<SocketAddr>, port: u16) -> Replay {
    let ip = flink::unique_loopback();
    let port = TcpListener::bind((ip, port))
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let log = dir.join(format!("{mode}-{port}-requests.log"));
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/yarn/rm_replay.py"
    );
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .arg(ip.to_string())
        .arg(port.to_string())
        .arg(mode)
        .arg(&log);
    if let Some(jm) = jm {
        cmd.arg(APP).arg(jm.to_string());
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the ResourceManager replay");
    let r = Replay {
        child,
        addr: SocketAddr::from((ip, port)),
        log,
    };
    wait_port(r.addr);
    r
}

fn wait_port(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "{addr} never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn cluster<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["clusters"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no cluster {id}: {:#}", doc["clusters"]))
}

#[test]
fn resourcemanager_lists_flink_applications_and_proxies_to_the_real_jobmanager() {
    let Some(python) = support::require("python3", "the Debian package python3") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The JobManager says which YARN application it is, as on YARN.
    let jm = Flink::start_jobmanager(FlinkOpts::new(VERSION).conf("yarn.application.id", APP));
    let rm = replay(&python, dir.path(), "rm", Some(jm.rest()));
    let rm_target = rm.addr.ip().to_string();
    let rm_port = rm.addr.port().to_string();

    // Only the ResourceManager's port: the JobManager is seen through the proxy.
    let run = scan_to(
        dir.path(),
        "rm-only",
        &[&rm_target, "--ports", &rm_port, "--probe-timeout", "5s"],
    );
    assert!(matches!(run.code, Some(0) | Some(1)), "{}", run.stderr);
    let doc = &run.json;
    let s = run.service(rm.addr);
    assert_eq!(s["kind"], "yarn-resourcemanager", "{s:#}");
    assert_eq!(s["version"], "3.3.6");
    assert_eq!(s["yarn"]["ha_state"], "ACTIVE");
    assert_eq!(s["yarn"]["security"], "simple");
    assert_eq!(
        s["yarn"]["apps_listed"], 1,
        "the MapReduce application is left out: {s:#}"
    );
    let app = &s["yarn"]["apps"][0];
    assert_eq!(app["id"], APP);
    assert_eq!(app["proxied"]["flink"], true, "{app:#}");
    assert_eq!(app["proxied"]["version"], VERSION);
    // The kept keys of /jobmanager/config through the proxy, as [{key, value}].
    assert!(
        app["proxied"]["config"]
            .as_array()
            .unwrap()
            .iter()
            .any(|kv| kv["key"] == "yarn.application.id" && kv["value"] == APP),
        "{app:#}"
    );
    assert_eq!(app["tracking"]["host"], jm.ip.to_string());
    assert_eq!(app["tracking"]["port"], jm.rest_port);

    let rules: Vec<String> = rule_ids(doc);
    for want in [
        "FLINK-YARN-RM-UNAUTHENTICATED",
        "FLINK-YARN-PROXY-REST-EXPOSED",
    ] {
        assert!(
            rules.contains(&want.to_string()),
            "{want} missing: {rules:?}"
        );
    }
    // Hadoop's version is not Flink's: no Flink end of life, no advisory.
    for f in doc["findings"].as_array().unwrap() {
        let rule = f["rule_id"].as_str().unwrap();
        assert!(
            rule.starts_with("FLINK-YARN-") || rule == "FLINK-CONFIG-SECRET-EXPOSED",
            "unexpected {rule} on the ResourceManager"
        );
    }

    // The application is a cluster of its own, named by its id, and the
    // JobManager's own address is known but was not scanned.
    let c = cluster(doc, &format!("yarn:{APP}"));
    assert_eq!(c["cluster_id"]["key"], "yarn.application.id");
    assert_eq!(c["version"], VERSION);
    assert_eq!(c["anchor"], "yarn-application");
    let ns = &c["not_scanned"][0];
    assert_eq!(ns["host"], jm.ip.to_string());
    assert_eq!(ns["port"], jm.rest_port);
    assert_eq!(ns["status"], "not-scanned");
    assert!(c["members"][0]["endpoint"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/proxy/{APP}/")));
    let rm_cluster = cluster(doc, &format!("yarn-rm:{}_{}", rm.addr.ip(), rm.addr.port()));
    assert_eq!(rm_cluster["rating"], "critical");
    assert!(!rm_cluster["paths"].as_array().unwrap().is_empty());

    // Read-only: every request was a GET, the listing asked for Flink's type.
    let requests = rm.requests();
    assert!(
        requests.iter().all(|r| r.starts_with("GET ")),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains("/ws/v1/cluster/apps?applicationTypes=Apache%20Flink")),
        "{requests:?}"
    );
    assert!(
        requests.contains(&format!("GET /proxy/{APP}/config")),
        "{requests:?}"
    );

    // With the JobManager's own port scanned too, its cluster (named by its
    // yarn.application.id) takes the proxied view as a member.
    let jm_target = format!("{}:{}", jm.ip, jm.rest_port);
    let both = scan_to(
        dir.path(),
        "both",
        &[
            &format!("{}:{}", rm.addr.ip(), rm.addr.port()),
            &jm_target,
            "--probe-timeout",
            "5s",
        ],
    );
    let c = cluster(&both.json, &format!("yarn:{APP}"));
    assert_eq!(c["anchor"], "jobmanager", "{c:#}");
    let members: Vec<&str> = c["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["endpoint"].as_str().unwrap())
        .collect();
    assert!(members.contains(&jm_target.as_str()), "{members:?}");
    assert!(
        members
            .iter()
            .any(|m| m.ends_with(&format!("/proxy/{APP}/"))),
        "{members:?}"
    );
    assert!(
        both.json["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["id"] == format!("yarn:{APP}"))
            .count()
            == 1
    );

    // With the JobManager's host among the targets but its port not swept,
    // --follow (on by default) probes the tracking address the
    // ResourceManager named, and the same cluster forms.
    let followed = scan_to(
        dir.path(),
        "followed",
        &[
            &rm_target,
            &jm.ip.to_string(),
            "--ports",
            &rm_port,
            "--probe-timeout",
            "5s",
        ],
    );
    let jm_service = followed.service(jm.rest());
    assert_eq!(jm_service["kind"], "jobmanager-rest", "{jm_service:#}");
    let c = cluster(&followed.json, &format!("yarn:{APP}"));
    assert_eq!(c["anchor"], "jobmanager", "{c:#}");
    assert!(
        c["not_scanned"].as_array().is_none_or(|a| a.is_empty()),
        "{c:#}"
    );
}

#[test]
fn http_servers_that_are_not_yarn_are_not_called_yarn() {
    let Some(python) = support::require("python3", "the Debian package python3") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for mode in ["lookalike-404", "lookalike-json"] {
        let r = replay(&python, dir.path(), mode, None);
        let run = scan_to(
            dir.path(),
            mode,
            &[
                &r.addr.ip().to_string(),
                "--ports",
                &r.addr.port().to_string(),
            ],
        );
        let s = run.service(r.addr);
        assert_eq!(s["kind"], "other-http", "{mode}: {s:#}");
        assert_eq!(s["flink"], false, "{mode}");
        assert!(s.get("yarn").is_none(), "{mode}: {s:#}");
        assert!(
            rule_ids(&run.json).is_empty(),
            "{mode}: {:?}",
            rule_ids(&run.json)
        );
        // It was asked, and said no.
        assert!(
            r.requests().iter().any(|l| l == "GET /ws/v1/cluster/info"),
            "{mode}: {:?}",
            r.requests()
        );
    }
}

/// With security on, the proxy shows a non-owner a warning page instead of
/// the application: no JobManager is read, the report says why, and the
/// application is still a cluster of its own.
#[test]
fn a_proxy_that_warns_non_owners_is_not_read_as_flink() {
    let Some(python) = support::require("python3", "the Debian package python3") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The address the listing names is never contacted: nothing listens there.
    let unused = SocketAddr::from((flink::unique_loopback(), 8081));
    let rm = replay(&python, dir.path(), "rm-warn", Some(unused));
    let run = scan_to(
        dir.path(),
        "rm-warn",
        &[
            &rm.addr.ip().to_string(),
            "--ports",
            &rm.addr.port().to_string(),
        ],
    );
    let s = run.service(rm.addr);
    assert_eq!(s["kind"], "yarn-resourcemanager");
    let app = &s["yarn"]["apps"][0];
    assert_eq!(app["proxied"]["flink"], false, "{app:#}");
    assert!(
        app["proxied"]["note"]
            .as_str()
            .unwrap()
            .contains("non-owner"),
        "{app:#}"
    );
    assert_eq!(s["yarn"]["security"], "kerberos");
    // Reads without credentials, but anonymous writes are refused: medium,
    // and no path to code execution.
    let open = run.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "FLINK-YARN-RM-UNAUTHENTICATED")
        .expect("the open REST API is still reported");
    assert_eq!(open["severity"], "medium", "{open:#}");
    let rm_cluster = cluster(
        &run.json,
        &format!("yarn-rm:{}_{}", rm.addr.ip(), rm.addr.port()),
    );
    assert!(rm_cluster["paths"].as_array().unwrap().is_empty());
    let rules = rule_ids(&run.json);
    assert!(
        !rules.contains(&"FLINK-YARN-PROXY-REST-EXPOSED".to_string()),
        "{rules:?}"
    );
    let c = cluster(&run.json, &format!("yarn:{APP}"));
    assert!(c.get("version").is_none(), "{c:#}");
    assert!(c["members"][0]["evidence"]
        .as_str()
        .unwrap()
        .contains("non-owner"));
}

/// A ResourceManager with Hadoop's HTTP authentication set to kerberos
/// refuses every path with Hadoop's SPNEGO refusal (401, Negotiate, the
/// hadoop.auth cookie): on its web port it is a YARN ResourceManager
/// behind Kerberos, with one low finding that it is reachable and no
/// critical one (nothing anonymous gets past it). The same refusal on
/// another port, and a Negotiate proxy without Hadoop's cookie on 8088,
/// stay "behind an authenticating proxy".
#[test]
fn a_resourcemanager_behind_kerberos_is_yarn_and_not_critical() {
    let Some(python) = support::require("python3", "the Debian package python3") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rm = replay_on(&python, dir.path(), "rm-spnego", None, 8088);
    let run = scan_to(
        dir.path(),
        "rm-spnego",
        &[&rm.addr.ip().to_string(), "--ports", "8088"],
    );
    assert!(matches!(run.code, Some(0) | Some(1)), "{}", run.stderr);
    let s = run.service(rm.addr);
    assert_eq!(s["kind"], "yarn-resourcemanager", "{s:#}");
    assert_eq!(
        s["product"],
        "Apache Hadoop YARN ResourceManager behind Kerberos (SPNEGO)"
    );
    assert!(
        (40..=70).contains(&s["confidence"].as_u64().unwrap()),
        "{s:#}"
    );
    assert_eq!(s["yarn"]["http_authentication"], "kerberos", "{s:#}");
    assert_eq!(
        rule_ids(&run.json),
        ["FLINK-YARN-RM-KERBEROS-REACHABLE"],
        "{:#}",
        run.json["findings"]
    );
    assert_eq!(run.json["findings"][0]["severity"], "low");
    let c = cluster(&run.json, &format!("yarn-rm:{}_8088", rm.addr.ip()));
    assert!(
        c["name"]
            .as_str()
            .unwrap()
            .contains("behind Kerberos (SPNEGO)"),
        "{c:#}"
    );
    assert!(c["paths"].as_array().unwrap().is_empty(), "{c:#}");
    // Read-only, and nothing asked past the refusal but the one request
    // that tells a ResourceManager.
    let asked = rm.requests();
    assert!(asked.iter().all(|l| l.starts_with("GET ")), "{asked:?}");
    assert!(
        asked.iter().any(|l| l == "GET /ws/v1/cluster/info"),
        "{asked:?}"
    );
    assert!(
        !asked
            .iter()
            .any(|l| l.starts_with("GET /ws/v1/cluster/apps")),
        "{asked:?}"
    );

    for (mode, port) in [("rm-spnego", 0), ("spnego-proxy", 8088)] {
        let r = replay_on(&python, dir.path(), mode, None, port);
        let run = scan_to(
            dir.path(),
            &format!("{mode}-{port}"),
            &[
                &r.addr.ip().to_string(),
                "--ports",
                &r.addr.port().to_string(),
            ],
        );
        let s = run.service(r.addr);
        assert_eq!(s["kind"], "other-http", "{mode} on {port}: {s:#}");
        assert!(
            s["product"]
                .as_str()
                .is_some_and(|p| p.contains("behind an authenticating proxy")),
            "{mode} on {port}: {s:#}"
        );
        assert!(rule_ids(&run.json).is_empty(), "{mode} on {port}");
    }
}
