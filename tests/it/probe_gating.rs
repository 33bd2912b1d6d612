//! A probe that confirms an advisory's flaw (CVE-2020-17519's traversal
//! `GET`) goes only where the flaw can be: a JobManager whose version the
//! advisory's affected range holds (or whose version is unknown). A current
//! release is not sent a request its logs would show as an exploit attempt.
//!
//! The JobManager is a hand-written stub (it answers real Flink 2.3.0's
//! `/config`, with the version changed where the test needs an affected
//! release) that records every request path; it listens on 127.0.0.0/8.

use crate::support;

use std::path::Path;
use std::sync::{Arc, Mutex};

use support::flink::unique_loopback;
use support::peers::{read_head, request_path, respond_with, Listener};
use support::scan::Scan;

const TRAVERSAL: &str = "etc%252fpasswd";

/// The paths a JobManager reporting `version` was asked for in one scan.
fn paths_asked_of(version: &str) -> Vec<String> {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/identify/jobmanager-2.3.0-config.json");
    let config = std::fs::read_to_string(&fixture)
        .unwrap_or_else(|e| panic!("{}: {e}", fixture.display()))
        .replace("\"2.3.0\"", &format!("\"{version}\""));
    assert!(config.contains(version), "fixture lost its version field");
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&asked);
    let ip = unique_loopback();
    let jm = Listener::start(ip, 0, move |mut c| {
        let head = read_head(&mut c);
        if !head.starts_with("GET ") {
            return;
        }
        let path = request_path(&head).to_string();
        log.lock().unwrap().push(path.clone());
        let json = ["Content-Type: application/json; charset=UTF-8"];
        if path == "/config" {
            respond_with(&mut c, "200 OK", &json, config.as_bytes());
        } else {
            respond_with(
                &mut c,
                "404 Not Found",
                &json,
                br#"{"errors":["Not found."]}"#,
            );
        }
    });
    let ran = Scan::new()
        .target(ip.to_string())
        .ports(jm.port().to_string())
        .args(["-q", "--no-color"])
        .json()
        .run();
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let kinds: Vec<String> = ran.json()["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].to_string())
        .collect();
    assert_eq!(kinds, ["\"jobmanager-rest\""], "{}", ran.stderr);
    let paths = asked.lock().unwrap().clone();
    paths
}

#[test]
fn the_traversal_probe_goes_only_to_a_release_it_can_affect() {
    // CVE-2020-17519: Flink 1.11.0 to 1.11.2 (the advisory's range).
    let affected = paths_asked_of("1.11.2");
    assert!(
        affected.iter().any(|p| p.contains(TRAVERSAL)),
        "an affected release was not probed: {affected:?}"
    );
    let current = paths_asked_of("2.3.0");
    assert!(
        !current.iter().any(|p| p.contains(TRAVERSAL)),
        "a release never affected was sent the traversal: {current:?}"
    );
    // The rest of the scan is the same: only the traversal is left out.
    assert!(current.iter().any(|p| p == "/config"), "{current:?}");
}
