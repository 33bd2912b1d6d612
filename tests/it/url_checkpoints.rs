//! `--state`/`--resume` with URL targets (`http://HOST:PORT/flink/`): a
//! checkpoint that holds such an endpoint (open, its identification not
//! finished; or identified, its record in the results file) and an
//! endpoint `--follow` admitted from it resumes to the report an
//! uninterrupted scan writes, and a forged URL entry is still refused.
//!
//! The peers are small stubs, not real Flink: the test must hold a
//! JobManager's answer until the checkpoint shows the endpoint pending,
//! which a real JobManager cannot be made to do. They answer only under
//! `/flink/` (404 elsewhere), as a reverse proxy location does, with the
//! bodies of the follow tests' Flink 1.20.1 look-alike (`tests/it/follow.rs`,
//! shapes from Flink's REST API docs). Loopback only, on ports these tests
//! listen on.

use crate::support;

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::flink::unique_loopback;
use support::peers::{self, Listener};
use support::scan::{Ran, Scan};

/// The longest a held peer waits for its gate: past every test deadline.
const HOLD_LIMIT: Duration = Duration::from_secs(180);

/// Shut: peers behind it hold each connection until it opens.
#[derive(Clone)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn open() -> Gate {
        Gate(Arc::new((Mutex::new(true), Condvar::new())))
    }

    fn set(&self, open: bool) {
        let (lock, cv) = &*self.0;
        *lock.lock().unwrap() = open;
        cv.notify_all();
    }

    fn pass(&self) {
        let (lock, cv) = &*self.0;
        let guard = lock.lock().unwrap();
        let _ = cv
            .wait_timeout_while(guard, HOLD_LIMIT, |open| !*open)
            .unwrap();
    }
}

/// A Flink 1.20.1 JobManager look-alike under `/flink/` whose one
/// TaskManager, if any, is `tm` (RPC port only); each connection waits
/// for `gate` before it is answered.
fn jobmanager(ip: Ipv4Addr, gate: Gate, tm: Option<SocketAddr>) -> Listener {
    Listener::start(ip, 0, move |mut c| {
        let head = peers::read_head(&mut c);
        gate.pass();
        if !head.starts_with("GET ") {
            return;
        }
        let body = peers::request_path(&head)
            .strip_prefix("/flink")
            .and_then(|path| route(path, tm));
        match body {
            Some(body) => peers::respond(
                &mut c,
                "200 OK",
                "application/json; charset=UTF-8",
                body.as_bytes(),
            ),
            None => peers::not_found(&mut c),
        }
    })
}

fn route(path: &str, tm: Option<SocketAddr>) -> Option<String> {
    let tms = usize::from(tm.is_some());
    Some(match path {
        "/config" => r#"{"refresh-interval":3000,"timezone-name":"UTC","timezone-offset":0,"flink-version":"1.20.1","flink-revision":"stub","features":{"web-submit":false,"web-cancel":false,"web-rescale":false,"web-history":false}}"#.to_string(),
        "/overview" => format!(
            r#"{{"taskmanagers":{tms},"slots-total":{tms},"slots-available":{tms},"jobs-running":0,"jobs-finished":0,"jobs-cancelled":0,"jobs-failed":0,"flink-version":"1.20.1","flink-commit":"stub"}}"#
        ),
        "/taskmanagers" => {
            let list: Vec<String> = tm
                .iter()
                .map(|tm| format!(
                    r#"{{"id":"tm0","path":"pekko.tcp://flink@{}:{}/user/rpc/taskmanager_0","dataPort":-1,"jmxPort":-1}}"#,
                    tm.ip(),
                    tm.port()
                ))
                .collect();
            format!(r#"{{"taskmanagers":[{}]}}"#, list.join(","))
        }
        "/jobmanager/config" => "[]".to_string(),
        "/jobs/overview" => r#"{"jobs":[]}"#.to_string(),
        _ => return None,
    })
}

/// The peers of one scan: JobManager `quick` answers at once and names
/// the TaskManager `tm` on its own address; JobManager `held` and the
/// TaskManager answer once `gate` opens.
struct Peers {
    gate: Gate,
    quick: Listener,
    held: Listener,
    tm: Listener,
    targets: [String; 2],
}

fn start_peers() -> Peers {
    let gate = Gate::open();
    let (quick_ip, held_ip) = (unique_loopback(), unique_loopback());
    let g = gate.clone();
    let tm = Listener::start(quick_ip, 0, move |c: TcpStream| {
        g.pass();
        peers::fake_rpc(c);
    });
    let quick = jobmanager(quick_ip, Gate::open(), Some(tm.addr));
    let held = jobmanager(held_ip, gate.clone(), None);
    let targets = [
        format!("http://{}/flink/", quick.addr),
        format!("http://{}/flink/", held.addr),
    ];
    Peers {
        gate,
        quick,
        held,
        tm,
        targets,
    }
}

/// `flinkscan scan` of the peers' URL targets, writing `json`, then `extra`.
fn scan(peers: &Peers, json: &Path, extra: &[&str]) -> Scan {
    Scan::binary()
        .args(["scan", "--no-progress", "--no-tls-audit"])
        .targets(&peers.targets)
        // Identification waits for the held peers (longer than a checkpoint).
        .args(["--probe-timeout", "60s", "--json"])
        .arg(json)
        .args(extra)
}

fn load(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Poll `ready` until it holds; fail naming `what` after `limit`.
fn wait_until(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// Whether checkpoint `doc` holds the held JobManager pending, the quick
/// one identified and the TaskManager followed but not done.
fn holds_all(doc: &Value, peers: &Peers) -> bool {
    let held = doc["pending"]
        .as_array()
        .is_some_and(|p| p.iter().any(|e| e["port"] == peers.held.port()));
    let tm = doc["followed"].as_array().is_some_and(|f| {
        f.iter()
            .any(|e| e["endpoint"]["port"] == peers.tm.port() && e["status"] != "done")
    });
    held && tm && doc["records"].as_u64().unwrap_or(0) > 0
}

/// A scan of the peers with `--state`, stopped by SIGINT once its
/// checkpoint holds the held JobManager pending, the quick one
/// identified (in the results file) and the TaskManager it named
/// followed but not identified. Returns the checkpoint's path; the gate
/// is open again.
fn interrupted(peers: &Peers, dir: &Path) -> PathBuf {
    let state = dir.join("s.state");
    let json = dir.join("interrupted.json");
    peers.gate.set(false);
    let st = state.display().to_string();
    let mut run = scan(peers, &json, &["--state", &st]).spawn();
    let read = || {
        std::fs::read(&state)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    };
    wait_until(
        Duration::from_secs(60),
        "a checkpoint holding the held URL target pending",
        || read().is_some_and(|d| holds_all(&d, peers)) || !run.running(),
    );
    assert!(run.running(), "the scan ended: {}", run.stderr_so_far());
    run.signal("INT");
    let Ran { code, stderr, .. } = run.wait(Duration::from_secs(60));
    peers.gate.set(true);
    assert_eq!(code, Some(130), "{stderr}");
    assert_eq!(load(&json)["scan"]["status"], "interrupted", "{stderr}");
    // The last checkpoint, written on the way out, still holds them all.
    let last = read().expect("the last checkpoint");
    assert!(holds_all(&last, peers), "{last}");
    state
}

/// What must be equal between an uninterrupted and a resumed scan.
fn essence(doc: &Value) -> (Value, Value, Vec<String>, Vec<String>) {
    let mut services: Vec<String> = doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}:{}{} {} flink={} {}",
                s["ip"],
                s["port"],
                s["base_path"].as_str().unwrap_or(""),
                s["kind"],
                s["flink"],
                s["version"]
            )
        })
        .collect();
    services.sort();
    let mut findings: Vec<String> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {}:{}", f["rule_id"], f["ip"], f["port"]))
        .collect();
    findings.sort();
    (
        doc["stats"].clone(),
        doc["scan"]["followed"].clone(),
        services,
        findings,
    )
}

/// A scan interrupted (SIGINT) while a URL target's identification is
/// held, after another URL target was identified and the TaskManager it
/// names was followed, resumes from its checkpoint to the report of an
/// uninterrupted scan of the same targets.
#[test]
fn a_url_target_pending_at_an_interrupt_resumes_to_the_uninterrupted_report() {
    let peers = start_peers();
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference.json");
    let Ran { code, stderr, .. } = scan(&peers, &reference, &[]).run();
    let want = essence(&load(&reference));
    assert!(matches!(code, Some(0 | 1)), "{stderr}");
    assert_eq!(
        want.2.len(),
        3,
        "two JobManagers and a TaskManager: {want:?}"
    );
    for (port, what) in [
        (peers.quick.port(), "/flink \"jobmanager-rest\""),
        (peers.held.port(), "/flink \"jobmanager-rest\""),
        (peers.tm.port(), " \"rpc\""),
    ] {
        let found = want.2.iter().any(|s| s.contains(&format!("{port}{what}")));
        assert!(found, "no {port}{what} in {want:?}");
    }

    let state = interrupted(&peers, dir.path());
    let json = dir.path().join("resumed.json");
    let st = state.display().to_string();
    let ran = scan(&peers, &json, &["--resume", &st]).run();
    assert_eq!(ran.code, code, "{}", ran.stderr);
    let got = load(&json);
    assert_eq!(got["scan"]["status"], "complete", "{}", ran.stderr);
    assert_eq!(essence(&got), want, "the resumed scan differs");
    assert!(!state.exists(), "a finished scan keeps its checkpoint");
}

/// Connections to the canary of the forged URL entries.
static CANARY: AtomicUsize = AtomicUsize::new(0);

/// A checkpoint's URL entries are checked like swept ones: a pending
/// endpoint under another prefix of a target's host and port, or under
/// the target's prefix on a host outside the targets (a canary that
/// counts connections), is refused with exit 2 naming the field, before
/// any probe; the genuine checkpoint then resumes.
#[test]
fn a_forged_url_entry_in_a_checkpoint_is_refused_naming_the_field() {
    let peers = start_peers();
    let canary = Listener::start(unique_loopback(), 0, |_c| {
        CANARY.fetch_add(1, Ordering::SeqCst);
    });
    let dir = tempfile::tempdir().unwrap();
    let state = interrupted(&peers, dir.path());
    let genuine = std::fs::read(&state).unwrap();
    let doc: Value = serde_json::from_slice(&genuine).unwrap();
    let json = dir.path().join("resumed.json");
    let st = state.display().to_string();
    let held = peers.held.addr;
    // (the place the error must name, the entry)
    let forged = [
        (
            format!("{held}/other"),
            serde_json::json!({"ip": held.ip().to_string(), "port": held.port(), "base_path": "/other"}),
        ),
        (
            format!("{held} "),
            serde_json::json!({"ip": held.ip().to_string(), "port": held.port()}),
        ),
        (
            format!("{}/flink", canary.addr),
            serde_json::json!({"ip": canary.addr.ip().to_string(), "port": canary.port(), "base_path": "/flink"}),
        ),
    ];
    for (place, entry) in forged {
        let mut d = doc.clone();
        d["pending"].as_array_mut().unwrap().push(entry.clone());
        std::fs::write(&state, serde_json::to_vec(&d).unwrap()).unwrap();
        let Ran { code, stderr, .. } = scan(&peers, &json, &["--resume", &st]).run();
        assert_eq!(code, Some(2), "{entry}: {stderr}");
        assert!(
            stderr.contains("field `pending`")
                && stderr.contains(&place)
                && stderr.contains("not a probe of this scan"),
            "{entry}: {stderr}"
        );
        assert_eq!(CANARY.load(Ordering::SeqCst), 0, "{entry} was probed");
    }
    std::fs::write(&state, &genuine).unwrap();
    let Ran { code, stderr, .. } = scan(&peers, &json, &["--resume", &st]).run();
    assert!(matches!(code, Some(0 | 1)), "{stderr}");
    assert_eq!(load(&json)["scan"]["status"], "complete", "{stderr}");
    assert_eq!(CANARY.load(Ordering::SeqCst), 0);
}
