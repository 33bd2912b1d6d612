//! A web server that serves copies of a JobManager's `/config` and
//! `/overview` (a look-alike, a honeypot, a saved page) is not confirmed as
//! Flink: every JobManager's REST API also lists its TaskManagers and its
//! jobs. It stays a JobManager (the worse case) at lower confidence, and
//! the report says why. One that lists them like Flink is not doubted.
//!
//! Hand-written servers on 127.0.0.0/8 (what a copy answers is what this
//! test is about; real Flink is checked in `flink_versions`).

use crate::support;

use std::path::Path;

use serde_json::Value;
use support::flink::unique_loopback;
use support::peers::{read_head, request_path, respond_with, Listener};
use support::scan::Scan;

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/identify")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What a look-alike answers besides `/config` and `/overview`.
#[derive(Clone, Copy, PartialEq)]
enum Rest {
    /// A web server's HTML 404 (a saved copy of two pages).
    NotFound,
    /// `/config`'s JSON, whatever the path (a catch-all honeypot).
    Config,
    /// Flink's empty TaskManager and job lists (an idle JobManager).
    Lists,
}

/// A JobManager look-alike: Flink 1.14.6's real `/config` and `/overview`,
/// and for the rest what `rest` says.
fn lookalike(rest: Rest) -> (Value, String) {
    let lists = rest == Rest::Lists;
    let (config, overview) = (
        fixture("jobmanager-1.14.6-config.json"),
        fixture("jobmanager-1.14.6-overview.json"),
    );
    let ip = unique_loopback();
    let server = Listener::start(ip, 0, move |mut c| {
        let head = read_head(&mut c);
        let json = ["Content-Type: application/json; charset=UTF-8"];
        let body = match request_path(&head) {
            "/config" => Some(config.clone()),
            "/overview" => Some(overview.clone()),
            "/taskmanagers" if lists => Some(r#"{"taskmanagers":[]}"#.to_string()),
            "/jobs/overview" if lists => Some(r#"{"jobs":[]}"#.to_string()),
            _ if rest == Rest::Config => Some(config.clone()),
            _ => None,
        };
        match body {
            Some(b) => respond_with(&mut c, "200 OK", &json, b.as_bytes()),
            None => respond_with(
                &mut c,
                "404 Not Found",
                &["Content-Type: text/html", "Server: nginx"],
                b"<html><body><h1>404 Not Found</h1></body></html>",
            ),
        }
    });
    let ran = Scan::new()
        .target(ip.to_string())
        .ports(server.port().to_string())
        .args(["--no-color"])
        .json()
        .run();
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let svc = ran.json()["services"][0].clone();
    assert_eq!(svc["kind"], "jobmanager-rest", "{svc}");
    (svc, ran.stdout.clone() + &ran.json()["notices"].to_string())
}

#[test]
fn a_copy_of_flinks_answers_is_doubted_and_says_why() {
    let (copy, shown) = lookalike(Rest::NotFound);
    let confidence = copy["confidence"].as_u64().unwrap();
    assert!(
        confidence <= 50,
        "a copy kept at confidence {confidence}: {copy}"
    );
    let errors = copy["errors"].to_string();
    assert!(errors.contains("GET /taskmanagers (404)"), "{errors}");
    assert!(errors.contains("look-alike"), "{errors}");
    assert!(
        shown.contains("look-alike"),
        "the report does not say why:\n{shown}"
    );

    let (catch_all, _) = lookalike(Rest::Config);
    assert!(
        catch_all["confidence"].as_u64().unwrap() <= 50,
        "{catch_all}"
    );
    assert!(
        catch_all["errors"].to_string().contains("look-alike"),
        "{catch_all}"
    );

    let (listing, _) = lookalike(Rest::Lists);
    assert_eq!(listing["confidence"], 100, "{listing}");
    assert!(
        !listing["errors"].to_string().contains("look-alike"),
        "{listing}"
    );
}
