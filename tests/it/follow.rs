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
