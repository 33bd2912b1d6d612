//! Scanning through a SOCKS5 jump host, against real Flink that accepts
//! connections only from the proxy's source address.
//!
//! Everything runs in a private network namespace the test creates: the outer
//! test re-runs this binary under `unshare --net`; inside, loopback is brought
//! up, iptables rejects Flink's ports for every source but the proxy's, and a
//! real SOCKS5 server (Debian's microsocks) binds its outgoing connections to
//! that source. A direct scan therefore misses Flink; a scan through the
//! proxy finds it.
//!
//! For `socks5h://`, one more microsocks runs in a private mount namespace
//! whose /etc/hosts alone knows `flink-jm.internal.test`: only the proxy can
//! resolve that name, so finding Flink under it proves the name travelled
//! to the proxy unresolved.

use crate::support;

use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::flink::{self, Flink, FlinkOpts};
use support::scan::Scan;

const INNER: &str = "FLINKSCAN_IN_PRIVATE_NETNS";
const VERSION: &str = "2.3.0";

#[test]
fn socks5_jump_host_reaches_what_a_direct_scan_cannot() {
    for (bin, pkg) in [
        ("unshare", "util-linux"),
        ("ip", "iproute2"),
        ("iptables", "iptables"),
        ("microsocks", "microsocks"),
    ] {
        if support::require(bin, pkg).is_none() {
            return;
        }
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .arg("--net")
        .arg("--")
        .arg(&exe)
        .args([
            "--exact",
            "proxy::inside_private_netns",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER, "1")
        .output()
        .expect("run unshare");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "inner test failed:\n{text}");
    assert!(text.contains("1 passed"), "inner test did not run:\n{text}");
}

struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn microsocks(listen: Ipv4Addr, port: u16, bind: Ipv4Addr, auth: Option<(&str, &str)>) -> Proxy {
    spawn_microsocks(Command::new("microsocks"), listen, port, bind, auth)
}

/// microsocks whose resolver reads `hosts` as /etc/hosts: bind-mounted in a
/// mount namespace of its own (private propagation, so nothing outside it,
/// flinkscan included, sees that file).
fn microsocks_resolving(
    hosts: &std::path::Path,
    listen: Ipv4Addr,
    port: u16,
    bind: Ipv4Addr,
) -> Proxy {
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(r#"mount --bind "$0" /etc/hosts && exec microsocks "$@""#)
        .arg(hosts);
    spawn_microsocks(cmd, listen, port, bind, None)
}

fn spawn_microsocks(
    mut cmd: Command,
    listen: Ipv4Addr,
    port: u16,
    bind: Ipv4Addr,
    auth: Option<(&str, &str)>,
) -> Proxy {
    cmd.args([
        "-i",
        &listen.to_string(),
        "-p",
        &port.to_string(),
        "-b",
        &bind.to_string(),
    ]);
    if let Some((u, p)) = auth {
        cmd.args(["-u", u, "-P", p]);
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("microsocks");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect((listen, port)).is_err() {
        assert!(Instant::now() < deadline, "microsocks did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    Proxy(child)
}

fn sh(cmd: &str) {
    let st = Command::new("sh").arg("-c").arg(cmd).status().unwrap();
    assert!(st.success(), "{cmd}");
}

fn kinds(doc: &Value) -> Vec<(u64, String)> {
    doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["port"].as_u64().unwrap(),
                s["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
#[ignore = "runs inside the private namespace made by socks5_jump_host_reaches_what_a_direct_scan_cannot"]
fn inside_private_netns() {
    assert_eq!(
        std::env::var(INNER).as_deref(),
        Ok("1"),
        "run through the outer test"
    );
    sh("ip link set lo up");
    let flink_ip = Ipv4Addr::new(127, 10, 0, 5);
    let proxy_src = Ipv4Addr::new(127, 10, 0, 9);
    let proxy_ip = Ipv4Addr::new(127, 10, 0, 7);
    let mut opts = FlinkOpts::new(VERSION);
    opts.ip = flink_ip;
    let jm = Flink::start_jobmanager(opts);
    // Only the proxy's source (and Flink itself) may reach Flink's ports.
    sh(&format!(
        "iptables -A INPUT -p tcp -d {flink_ip} -m multiport --dports 8081,6123,6124 -s {proxy_src} -j ACCEPT && \
         iptables -A INPUT -p tcp -d {flink_ip} -m multiport --dports 8081,6123,6124 -s {flink_ip} -j ACCEPT && \
         iptables -A INPUT -p tcp -d {flink_ip} -m multiport --dports 8081,6123,6124 -j REJECT --reject-with tcp-reset"
    ));
    // 8099: nothing listens there (in this empty namespace), so it is closed.
    let ports = ["--ports", "8081,6123,6124,8099"];
    let target = flink_ip.to_string();

    let direct = flink::scan(
        std::slice::from_ref(&target),
        &[&ports[..], &["--no-progress"]].concat(),
    );
    assert!(
        kinds(&direct.json).is_empty(),
        "direct scan should miss: {}",
        direct.json["services"]
    );

    let _open = microsocks(proxy_ip, 1080, proxy_src, None);
    let via = flink::scan(
        std::slice::from_ref(&target),
        &[
            &ports[..],
            &["--no-progress", "--proxy", "socks5://127.10.0.7:1080"],
        ]
        .concat(),
    );
    let k = kinds(&via.json);
    assert!(
        k.contains(&(8081, "jobmanager-rest".into())),
        "{k:?}\n{}",
        jm.log_tail()
    );
    assert!(k.contains(&(6123, "rpc".into())), "{k:?}");
    assert!(k.contains(&(6124, "blob-server".into())), "{k:?}");
    assert_eq!(via.service(8081)["version"], VERSION);
    assert!(via
        .rules_at(8081)
        .contains(&"FLINK-REST-UNAUTHENTICATED".to_string()));
    // The proxy's "connection refused" reply is a closed port, not a filtered one.
    assert!(
        via.json["stats"]["closed"].as_u64().unwrap() >= 1,
        "{}",
        via.json["stats"]
    );
    assert_eq!(via.json["stats"]["filtered"], 0, "{}", via.json["stats"]);

    socks5h_names_reach_the_proxy_unresolved(flink_ip, proxy_ip, proxy_src, &ports);

    let _auth = microsocks(
        proxy_ip,
        1081,
        proxy_src,
        Some(("scanner", "Pl4nted-Proxy-Secret")),
    );
    let authed = flink::scan(
        std::slice::from_ref(&target),
        &[
            &ports[..],
            &[
                "--no-progress",
                "-v",
                "--proxy",
                "socks5://scanner:Pl4nted-Proxy-Secret@127.10.0.7:1081",
            ],
        ]
        .concat(),
    );
    assert!(kinds(&authed.json).contains(&(8081, "jobmanager-rest".into())));
    authed.assert_absent("Pl4nted-Proxy-Secret");

    // Wrong credentials, a proxy that needs them, and a proxy that is down:
    // each stops before any probe with a clear error (exit 3).
    for (url, says) in [
        (
            "socks5://scanner:wrong@127.10.0.7:1081",
            "rejected the user and password",
        ),
        ("socks5://127.10.0.7:1081", "requires a user and password"),
        ("socks5://127.10.0.7:1099", "cannot connect"),
    ] {
        let ran = Scan::new()
            .target(&target)
            .ports("8081")
            .args(["--proxy", url])
            .run();
        let err = &ran.stderr;
        assert_eq!(ran.code, Some(3), "{url}: {err}");
        assert!(err.contains(says), "{url}: {err}");
        assert!(!err.contains("wrong"), "a password reached stderr: {err}");
    }
}

/// `socks5h://`: a name only the proxy can resolve is scanned under that
/// name; the same scan with `socks5://` (local resolution) cannot even start.
fn socks5h_names_reach_the_proxy_unresolved(
    flink_ip: Ipv4Addr,
    proxy_ip: Ipv4Addr,
    proxy_src: Ipv4Addr,
    ports: &[&str],
) {
    const NAME: &str = "flink-jm.internal.test";
    let dir = tempfile::tempdir().unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, format!("127.0.0.1 localhost\n{flink_ip} {NAME}\n")).unwrap();
    let _resolving = microsocks_resolving(&hosts, proxy_ip, 1082, proxy_src);
    let proxy = |scheme: &str| format!("{scheme}://{proxy_ip}:1082");

    // Local resolution (socks5://) cannot know the name: a usage-free
    // failure naming it, before any probe.
    let ran = Scan::new()
        .target(NAME)
        .args(["--dns-timeout", "1s", "--proxy", &proxy("socks5")])
        .args(ports)
        .run();
    let err = &ran.stderr;
    assert_eq!(ran.code, Some(3), "{err}");
    assert!(
        err.contains("no target could be resolved")
            && err.contains(&format!("cannot resolve {NAME}")),
        "{err}"
    );

    // The proxy resolves it: REST, RPC and BLOB found under the name.
    let via = flink::scan(
        &[NAME.to_string()],
        &[
            ports,
            &[
                "--no-progress",
                "--dns-timeout",
                "1s",
                "--proxy",
                &proxy("socks5h"),
            ],
        ]
        .concat(),
    );
    let k = kinds(&via.json);
    assert!(k.contains(&(8081, "jobmanager-rest".into())), "{k:?}");
    assert!(k.contains(&(6123, "rpc".into())), "{k:?}");
    assert!(k.contains(&(6124, "blob-server".into())), "{k:?}");
    assert_eq!(via.service(8081)["version"], VERSION);
    for s in via.json["services"].as_array().unwrap() {
        assert_eq!(s["hostname"], NAME, "{s}");
        assert_eq!(s["resolved_by"], "proxy", "{s}");
        // flinkscan never learned the address: none is shown.
        assert!(s.get("ip").is_none(), "{s}");
    }
    assert!(via
        .rules_at(8081)
        .contains(&"FLINK-REST-UNAUTHENTICATED".to_string()));
    let rest_url = format!("http://{NAME}:8081/");
    assert!(via.text("json").contains(&rest_url), "{}", via.text("json"));
    assert!(via.text("sarif").contains(&format!("{NAME}:8081")));
    let jsonl = via.text("jsonl");
    assert!(jsonl.contains(&format!(r#""domain":"{NAME}""#)), "{jsonl}");
    assert_eq!(via.json["stats"]["filtered"], 0, "{}", via.json["stats"]);
    // The placeholder address never appears as if it had been probed.
    for absent in ["\"::\"", "[::]"] {
        via.assert_absent(absent);
    }

    // An exclusion by name cannot be honoured without resolving it.
    let ran = Scan::new()
        .target(NAME)
        .args(["--exclude", NAME, "--proxy", &proxy("socks5h")])
        .run();
    let err = &ran.stderr;
    assert_eq!(ran.code, Some(2), "{err}");
    assert!(
        err.contains("cannot exclude the name") && err.contains(NAME),
        "{err}"
    );
}
