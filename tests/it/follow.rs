//! `--follow` (on by default): the ports a real JobManager names are
//! probed on hosts inside the targets, never elsewhere. One real
//! TaskManager runs on the JobManager's address with ephemeral RPC and
//! data ports (no sweep list holds them); another runs on an address
//! outside the targets, its advertised RPC port behind a forwarder that
//! records what each connection sends first and its advertised data port
//! held by a listener that records every connect. Loopback only.

use crate::support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use support::flink::{self, Flink, FlinkOpts, ScanOutput};

const VERSION: &str = "1.20.1";

/// What each accepted connection sent first (empty: closed before sending).
type Firsts = Arc<Mutex<Vec<Vec<u8>>>>;

/// A listener on `listen` that records each connection's first bytes and,
/// with `upstream`, forwards it there both ways.
fn recorder(listen: SocketAddr, upstream: Option<SocketAddr>) -> Firsts {
    let l = TcpListener::bind(listen).unwrap();
    let firsts: Firsts = Arc::default();
    let seen = Arc::clone(&firsts);
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || relay(conn, upstream, &seen));
        }
    });
    firsts
}

fn relay(mut client: TcpStream, upstream: Option<SocketAddr>, seen: &Firsts) {
    let mut first = [0u8; 16];
    let n = client.read(&mut first).unwrap_or(0);
    seen.lock().unwrap().push(first[..n].to_vec());
    let (Some(up), true) = (upstream, n > 0) else {
        return;
    };
    let Ok(mut server) = TcpStream::connect(up) else {
        return;
    };
    if server.write_all(&first[..n]).is_err() {
        return;
    }
    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut s2, &mut c2);
        let _ = c2.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut client, &mut server);
    let _ = server.shutdown(Shutdown::Write);
}

/// A port free on `ip` a moment ago.
fn free_on(ip: Ipv4Addr) -> u16 {
    TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn kind_at(out: &ScanOutput, ip: Ipv4Addr, port: u16) -> Option<String> {
    out.json["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["ip"] == ip.to_string() && s["port"] == port)
        .map(|s| s["kind"].as_str().unwrap().to_string())
}

/// (host, port, status) the cluster lists as known but not a member.
fn known(out: &ScanOutput) -> Vec<(String, u64, String)> {
    out.json["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["not_scanned"].as_array().unwrap().iter())
        .map(|k| {
            (
                k["host"].as_str().unwrap().to_string(),
                k["port"].as_u64().unwrap(),
                k["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The summary's "known from the JobManager, not scanned" entry, its
/// wrapped lines joined ("" when there is none).
fn not_scanned_line(summary: &str) -> String {
    let flat = summary.split_whitespace().collect::<Vec<_>>().join(" ");
    let Some(start) = flat.find("known from the JobManager, not scanned:") else {
        return String::new();
    };
    let rest = &flat[start..];
    let end = ["worst path:", "known from the JobManager, probed"]
        .iter()
        .filter_map(|m| rest[1..].find(m))
        .min()
        .unwrap_or(rest.len() - 1);
    rest[..=end].to_string()
}

#[test]
fn the_ports_a_jobmanager_names_are_probed_inside_the_targets_only() {
    let jm = Flink::start_jobmanager(FlinkOpts::new(VERSION));
    let (tm_rpc, tm_data) = (free_on(jm.ip), free_on(jm.ip));
    let _tm = Flink::start_taskmanager(&jm, tm_rpc, tm_data);

    // The outside TaskManager advertises ports a recorder holds; it binds others.
    let outside = flink::unique_loopback();
    let (adv_rpc, bind_rpc, adv_data, bind_data) = (
        free_on(outside),
        free_on(outside),
        free_on(outside),
        free_on(outside),
    );
    let rpc_firsts = recorder(
        SocketAddr::from((outside, adv_rpc)),
        Some(SocketAddr::from((outside, bind_rpc))),
    );
    let data_firsts = recorder(SocketAddr::from((outside, adv_data)), None);
    let extra = vec![
        ("taskmanager.host".to_string(), outside.to_string()),
        ("taskmanager.bind-host".to_string(), outside.to_string()),
        (
            "taskmanager.rpc.bind-port".to_string(),
            bind_rpc.to_string(),
        ),
        (
            "taskmanager.data.bind-port".to_string(),
            bind_data.to_string(),
        ),
    ];
    let _outside_tm =
        Flink::start_taskmanager_with(&jm, adv_rpc, adv_data, extra, 2, outside, bind_data);
    let before_scan = rpc_firsts.lock().unwrap().len();

    let target = [jm.ip.to_string()];
    let out = flink::scan(&target, &["--no-progress"]);
    assert_eq!(
        kind_at(&out, jm.ip, tm_rpc).as_deref(),
        Some("rpc"),
        "{:#}",
        out.json["services"]
    );
    assert_eq!(
        kind_at(&out, jm.ip, tm_data).as_deref(),
        Some("taskmanager-data")
    );
    let followed: Vec<&str> = out.json["scan"]["followed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        followed.contains(&format!("{}:{tm_rpc}", jm.ip).as_str()),
        "{followed:?}"
    );
    assert!(
        followed
            .iter()
            .all(|f| f.starts_with(&format!("{}:", jm.ip))),
        "followed outside the targets: {followed:?}"
    );
    // The TaskManager's ports are cluster members now; only the outside
    // TaskManager's stay "not scanned".
    let members: Vec<(String, String)> = out.json["clusters"][0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["endpoint"].as_str().unwrap().to_string(),
                m["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        members.contains(&(format!("{}:{tm_rpc}", jm.ip), "taskmanager-rpc".into())),
        "{members:?}"
    );
    let k = known(&out);
    assert!(k.iter().all(|(h, _, _)| *h == outside.to_string()), "{k:?}");
    assert!(
        k.contains(&(
            outside.to_string(),
            u64::from(adv_rpc),
            "not-scanned".into()
        )),
        "{k:?}"
    );
    let tm_known = format!("{}:{tm_rpc} (taskmanager-rpc)", jm.ip);
    assert!(
        !not_scanned_line(&out.text("stdout")).contains(&tm_known),
        "{}",
        out.text("stdout")
    );

    // Nothing from the scan reached the outside TaskManager: its data port
    // saw no connection at all, its RPC port only the JobManager's Pekko
    // frames (a probe would connect silently or send an HTTP request).
    assert!(
        data_firsts.lock().unwrap().is_empty(),
        "the outside data port was contacted"
    );
    let rpc = rpc_firsts.lock().unwrap().clone();
    for first in &rpc[before_scan..] {
        assert!(
            !first.is_empty() && !first.starts_with(b"GET ") && !first.starts_with(b"\x16\x03"),
            "a probe reached the outside TaskManager: {first:?}"
        );
    }

    // Without --follow, the same ports are only known from the JobManager.
    let out = flink::scan(&target, &["--no-progress", "--no-follow"]);
    assert_eq!(kind_at(&out, jm.ip, tm_rpc), None);
    assert!(
        known(&out).contains(&(jm.ip.to_string(), u64::from(tm_rpc), "not-scanned".into())),
        "{:?}",
        known(&out)
    );
    assert!(out.json["scan"].get("followed").is_none());
    assert!(
        not_scanned_line(&out.text("stdout")).contains(&tm_known),
        "{}",
        out.text("stdout")
    );
    assert!(data_firsts.lock().unwrap().is_empty());
}

/// A stub JobManager's answer to `path` (`None`: 404).
type Route = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A JobManager REST stub on `ip` (a free port): GETs answered from
/// `route`, anything else (identification's binary probes) closed.
fn stub_jobmanager(ip: Ipv4Addr, route: Route) -> support::peers::Listener {
    support::peers::Listener::start(ip, 0, move |mut c| {
        let head = support::peers::read_head(&mut c);
        if !head.starts_with("GET ") {
            return;
        }
        let (status, body) = match route(support::peers::request_path(&head)) {
            Some(body) => ("200 OK", body),
            None => ("404 Not Found", r#"{"errors":["Not found."]}"#.to_string()),
        };
        support::peers::respond(
            &mut c,
            status,
            "application/json; charset=UTF-8",
            body.as_bytes(),
        );
    })
}

/// `/config` and `/overview` of a Flink 1.20.1 JobManager with `tms`
/// TaskManagers; `/taskmanagers` and `/jobmanager/config` from the caller.
fn jobmanager_route(
    tms: usize,
    taskmanagers: impl Fn() -> String + Send + Sync + 'static,
    config: String,
) -> Route {
    Arc::new(move |path: &str| {
        match path {
        "/config" => Some(
            r#"{"refresh-interval":3000,"timezone-name":"UTC","timezone-offset":0,"flink-version":"1.20.1","flink-revision":"stub","features":{"web-submit":false,"web-cancel":false,"web-rescale":false,"web-history":false}}"#
                .to_string(),
        ),
        "/overview" => Some(format!(
            r#"{{"taskmanagers":{tms},"slots-total":{tms},"slots-available":{tms},"jobs-running":0,"jobs-finished":0,"jobs-cancelled":0,"jobs-failed":0,"flink-version":"1.20.1","flink-commit":"stub"}}"#
        )),
        "/taskmanagers" => Some(taskmanagers()),
        "/jobmanager/config" => Some(config.clone()),
        "/jobs/overview" => Some(r#"{"jobs":[]}"#.to_string()),
        _ => None,
    }
    })
}

/// Ports no process can listen on while the returned sockets live: bound
/// on every address without listening (and without SO_REUSEADDR, so no
/// other socket can take them), a connection to any loopback address on
/// them is refused. `run` consecutive ports.
fn closed_ports(run: u16) -> (u16, Vec<tokio::net::TcpSocket>) {
    for _ in 0..200 {
        let first = tokio::net::TcpSocket::new_v4().unwrap();
        first.bind(SocketAddr::from(([0, 0, 0, 0], 0))).unwrap();
        let base = first.local_addr().unwrap().port();
        if base.checked_add(run).is_none() {
            continue;
        }
        let mut held = vec![first];
        for p in base + 1..base + run {
            let s = tokio::net::TcpSocket::new_v4().unwrap();
            if s.bind(SocketAddr::from(([0, 0, 0, 0], p))).is_err() {
                break;
            }
            held.push(s);
        }
        if held.len() == usize::from(run) {
            return (base, held);
        }
    }
    panic!("no {run} consecutive free ports after 200 tries");
}

/// One hostile JobManager naming thousands of endpoints inside the
/// targets cannot use the scan's whole follow budget: a second
/// JobManager's TaskManager, named after the hostile list was taken up,
/// is still followed, and a notice names the hostile JobManager.
/// Everything named is on loopback inside the targets: the hostile
/// endpoints on ports held closed by this test (one, the first named, a
/// listener that tells when following began), the good TaskManager a
/// listener of this test.
#[test]
fn one_hostile_jobmanager_cannot_use_the_whole_follow_budget() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (closed, _held) = closed_ports(20);
    let (sweep, tm_rpc, tm_data, tm_jmx, prom) =
        (closed, closed + 1, closed + 2, closed + 3, closed + 4);
    let o = flink::unique_loopback().octets();
    // 256 TaskManager hosts, 3 ports each and a reporter range of 16 on
    // every host: 4,864 endpoints, more than the scan's 4,096.
    let block = Ipv4Addr::new(127, o[1], 250, 0);
    let host = |i: usize| Ipv4Addr::new(127, o[1], 250, i as u8);
    let following = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&following);
    let marker = support::peers::Listener::start(host(0), 0, move |_c| {
        seen.store(true, Ordering::SeqCst);
    });
    let marker_port = marker.port();
    let tms: Vec<String> = (0..256)
        .map(|i| {
            let rpc = if i == 0 { marker_port } else { tm_rpc };
            format!(
                r#"{{"id":"tm{i}","path":"pekko.tcp://flink@{}:{rpc}/user/rpc/taskmanager_0","dataPort":{tm_data},"jmxPort":{tm_jmx}}}"#,
                host(i)
            )
        })
        .collect();
    let hostile_list = format!(r#"{{"taskmanagers":[{}]}}"#, tms.join(","));
    let prom_range = format!(
        r#"[{{"key":"metrics.reporter.prom.port","value":"{prom}-{}"}}]"#,
        prom + 15
    );
    let hostile_ip = flink::unique_loopback();
    let hostile = stub_jobmanager(
        hostile_ip,
        jobmanager_route(256, move || hostile_list.clone(), prom_range),
    );

    // The good JobManager lists its TaskManager only once following of
    // the hostile list has begun (bounded wait), so its endpoints come
    // second whatever the scheduling.
    let good_ip = flink::unique_loopback();
    let tm_ip = flink::unique_loopback();
    let tm = support::peers::Listener::start(tm_ip, 0, support::peers::fake_rpc);
    let good_list = format!(
        r#"{{"taskmanagers":[{{"id":"good","path":"pekko.tcp://flink@{tm_ip}:{}/user/rpc/taskmanager_0","dataPort":-1,"jmxPort":-1}}]}}"#,
        tm.port()
    );
    let good = stub_jobmanager(
        good_ip,
        jobmanager_route(
            1,
            move || {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                while !following.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                good_list.clone()
            },
            "[]".to_string(),
        ),
    );

    let dir = tempfile::tempdir().unwrap();
    let targets = [
        format!("{block}/24"),
        format!("{hostile_ip}:{}", hostile.port()),
        format!("{good_ip}:{}", good.port()),
        format!("{tm_ip}:{sweep}"),
    ];
    let mut args: Vec<&str> = targets.iter().map(String::as_str).collect();
    let sweep_port = sweep.to_string();
    args.extend([
        "--ports",
        &sweep_port,
        "--no-tls-audit",
        "--probe-timeout",
        "30s",
    ]);
    let run = support::scan::scan_to(dir.path(), "budget", &args);
    assert!(run.code.is_some_and(|c| c <= 1), "{}", run.stderr);
    let followed: Vec<String> = run.json()["scan"]["followed"]
        .as_array()
        .unwrap_or_else(|| panic!("nothing followed: {}", run.stderr))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let good_tm = format!("{tm_ip}:{}", tm.port());
    assert!(
        followed.contains(&good_tm),
        "the second JobManager's TaskManager was not followed ({} followed)",
        followed.len()
    );
    assert_eq!(
        support::peers::service_at(run.json(), SocketAddr::from((tm_ip, tm.port())))["kind"],
        "rpc"
    );
    let from_hostile = followed
        .iter()
        .filter(|f| {
            f.starts_with(&format!("127.{}.250.", o[1])) || f.starts_with(&format!("{hostile_ip}:"))
        })
        .count();
    assert_eq!(from_hostile, 256, "{followed:?}");
    let notices = run.json()["notices"].to_string();
    assert!(
        notices.contains(&format!("{hostile_ip}:{}", hostile.port()))
            && notices.contains("256 were followed"),
        "{notices}"
    );
    drop((hostile, good, marker));
}

/// Poll `ready` until it holds; fail naming `what` after `limit`.
fn wait_until(limit: std::time::Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Connections to the canary of the followed-checkpoint test.
static CANARY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A scan killed (SIGKILL) after a JobManager named its TaskManagers but
/// before they were probed keeps them in its checkpoint: the resumed scan
/// probes and identifies them. Forged followed entries (outside the
/// targets, on a swept port, listed twice, named by no probe of the scan)
/// are refused with exit 2 naming the field, before any probe. Loopback
/// only: the TaskManager host's ports are held closed by this test, but
/// one, its listener; the canary outside the targets counts connections.
#[test]
fn a_killed_scan_resumes_the_endpoints_a_jobmanager_named() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (closed, _held) = closed_ports(40);
    let sweep = closed + 39;
    let tm_ip = flink::unique_loopback();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let tm = support::peers::Listener::start(tm_ip, 0, move |c| {
        counted.fetch_add(1, Ordering::SeqCst);
        support::peers::fake_rpc(c);
    });
    // 19 TaskManagers on ports held closed, then the listening one: at
    // one connection a second the listener's turn comes after 38 s.
    let mut tms: Vec<String> = (0..19u16)
        .map(|i| {
            format!(
                r#"{{"id":"tm{i}","path":"pekko.tcp://flink@{tm_ip}:{}/user/rpc/taskmanager_0","dataPort":{},"jmxPort":-1}}"#,
                closed + 2 * i,
                closed + 2 * i + 1
            )
        })
        .collect();
    tms.push(format!(
        r#"{{"id":"tm-live","path":"pekko.tcp://flink@{tm_ip}:{}/user/rpc/taskmanager_0","dataPort":-1,"jmxPort":-1}}"#,
        tm.port()
    ));
    let list = format!(r#"{{"taskmanagers":[{}]}}"#, tms.join(","));
    let jm_ip = flink::unique_loopback();
    let jm = stub_jobmanager(
        jm_ip,
        jobmanager_route(20, move || list.clone(), "[]".into()),
    );
    let outside = flink::unique_loopback();
    let canary = support::peers::Listener::start(outside, 0, |_c| {
        CANARY.fetch_add(1, Ordering::SeqCst);
    });

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.state");
    let json = dir.path().join("out.json");
    let jm_at = format!("{jm_ip}:{}", jm.port());
    let base: Vec<String> = [
        "scan",
        "--no-progress",
        &jm_at,
        &format!("{tm_ip}:{sweep}"),
        "--no-tls-audit",
        "--probe-timeout",
        "10s",
        "--json",
        &json.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let records = || -> u64 {
        std::fs::read(&state)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["records"].as_u64())
            .unwrap_or(0)
    };
    let mut first = std::process::Command::new(assert_cmd::cargo::cargo_bin("flinkscan"))
        .args(&base)
        .args(["--rate", "1", "--state", &state.display().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until(
        std::time::Duration::from_secs(60),
        "a checkpoint holding the JobManager",
        || records() > 0 || first.try_wait().unwrap().is_some(),
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the TaskManager was probed before the kill"
    );
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(!json.exists(), "a killed run wrote its report");

    // A copy for the forged variants, checked after the genuine resume.
    let copy = dir.path().join("copy.state");
    std::fs::copy(&state, &copy).unwrap();
    std::fs::copy(
        dir.path().join("s.state.results"),
        dir.path().join("copy.state.results"),
    )
    .unwrap();
    let resume = |from: &std::path::Path| {
        let out = support::peers::flinkscan()
            .args(&base)
            .args(["--resume", &from.display().to_string()])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, stderr) = resume(&state);
    assert!(matches!(code, Some(0 | 1)), "{stderr}");
    let doc = support::peers::json_file(&json);
    assert_eq!(doc["scan"]["status"], "complete", "{stderr}");
    let live = SocketAddr::from((tm_ip, tm.port()));
    assert!(
        doc["scan"]["followed"]
            .as_array()
            .is_some_and(|f| f.iter().any(|e| e == &live.to_string())),
        "the TaskManager the JobManager named before the kill was not followed: {}",
        doc["scan"]
    );
    assert_eq!(support::peers::service_at(&doc, live)["kind"], "rpc");
    assert!(hits.load(Ordering::SeqCst) > 0);
    assert!(!state.exists(), "a finished scan keeps its checkpoint");
    let genuine = std::fs::read(&copy).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&genuine).unwrap();
    let entry = |ip: Ipv4Addr, port: u16, source: serde_json::Value| {
        serde_json::json!({"endpoint": {"ip": ip.to_string(), "port": port},
            "source": source, "status": "queued"})
    };
    let jm_source = serde_json::json!({"ip": jm_ip.to_string(), "port": jm.port()});
    let forged = [
        (
            "may follow",
            entry(outside, canary.port(), jm_source.clone()),
        ),
        (
            "on a port its sweep probes",
            entry(tm_ip, sweep, jm_source.clone()),
        ),
        (
            "not a port this scan probes",
            entry(
                tm_ip,
                closed + 38,
                serde_json::json!({"ip": outside.to_string(), "port": canary.port()}),
            ),
        ),
        ("is listed twice", doc["followed"][0].clone()),
    ];
    for (what, extra) in forged {
        let mut d = doc.clone();
        d["followed"]
            .as_array_mut()
            .unwrap_or_else(|| panic!("no followed endpoints in the checkpoint: {doc}"))
            .push(extra);
        std::fs::write(&copy, serde_json::to_vec(&d).unwrap()).unwrap();
        let (code, stderr) = resume(&copy);
        assert_eq!(code, Some(2), "{what}: {stderr}");
        assert!(
            stderr.contains("field `followed`") && stderr.contains(what),
            "{what}: {stderr}"
        );
        assert_eq!(
            CANARY.load(Ordering::SeqCst),
            0,
            "{what}: the canary was probed"
        );
    }

    assert_eq!(CANARY.load(Ordering::SeqCst), 0);
}
