//! Lossy networks: every open port is found with default settings when a
//! share of SYNs is dropped at random, and hosts that never answer get no
//! retry. Runs in a private network namespace this test creates (`ip netns
//! add`), with iptables inside it; nothing leaves the namespace. Needs root,
//! iproute2, iptables and python3 (the listeners); without them it fails
//! naming what to install, unless FLINKSCAN_ALLOW_MISSING=1.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support;
use support::scan::Scan;

const PORTS: [u16; 4] = [8081, 8083, 6123, 6124];
/// Listeners on the answering half of 127.0.0.0/24.
const LISTENERS: usize = 40;

/// True when the test can run; panics naming what is missing otherwise,
/// unless FLINKSCAN_ALLOW_MISSING=1 turns it into a skip.
fn prerequisites() -> bool {
    let mut missing = Vec::new();
    for (tool, package) in [
        ("ip", "iproute2"),
        ("iptables", "iptables"),
        ("python3", "python3"),
    ] {
        if support::find_on_path(tool, std::env::var_os("PATH").as_deref()).is_none() {
            missing.push(format!("{tool} (Debian package {package})"));
        }
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        missing.push("root (to create a network namespace)".into());
    }
    if missing.is_empty() {
        return true;
    }
    // Fails naming what is missing, unless the runner opted out.
    support::missing(
        &format!("what the lossy-network test needs ({})", missing.join(", ")),
        "install it and run as root (.ci/run does both)",
    );
    false
}

/// A network namespace that is deleted, with what runs in it, on drop
/// (also when the test panics).
struct Netns {
    name: String,
    children: Vec<Child>,
}

impl Netns {
    fn create() -> Netns {
        let name = format!(
            "flinkscan-lossy-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        );
        run(&["ip", "netns", "add", &name]);
        let ns = Netns {
            name,
            children: Vec::new(),
        };
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }

    fn exec(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("ip netns exec");
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
    }
}

fn run(args: &[&str]) {
    let status = Command::new(args[0])
        .args(&args[1..])
        .status()
        .expect("spawn");
    assert!(status.success(), "{args:?} failed");
}

/// One process listening on every `host:port`; half accept and close, half
/// answer HTTP. Prints "ready" once all are bound.
const LISTEN_PY: &str = r#"
import selectors, socket, sys
sel = selectors.DefaultSelector()
REPLY = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
for i, spec in enumerate(sys.argv[1:]):
    host, port = spec.split(":")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(128)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, ("listen", "http" if i % 2 else "close"))
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        kind, mode = key.data
        try:
            if kind == "listen":
                c, _ = key.fileobj.accept()
                if mode == "http":
                    c.setblocking(False)
                    sel.register(c, selectors.EVENT_READ, ("conn", mode))
                else:
                    c.close()
            else:
                c = key.fileobj
                sel.unregister(c)
                try:
                    if c.recv(4096):
                        c.send(REPLY)
                except OSError:
                    pass
                c.close()
        except OSError:
            pass
"#;

/// Packets the INPUT rule mentioning `needle` matched.
fn rule_packets(ns: &Netns, needle: &str) -> u64 {
    let out = ns.exec(&["iptables", "-t", "filter", "-nvxL", "INPUT"]);
    out.lines()
        .find(|l| l.contains(needle))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no INPUT rule with {needle} in:\n{out}"))
}

#[test]
fn full_recall_at_five_percent_syn_loss_and_no_retry_on_silent_hosts() {
    if !prerequisites() {
        return;
    }
    let mut ns = Netns::create();
    // 127.0.0.128/25 never answers: every SYN to it is dropped (and counted).
    // Everything else loses 5% of its SYNs at random.
    ns.exec(&[
        "iptables",
        "-A",
        "INPUT",
        "-p",
        "tcp",
        "--syn",
        "-d",
        "127.0.0.128/25",
        "-j",
        "DROP",
    ]);
    ns.exec(&[
        "iptables",
        "-A",
        "INPUT",
        "-p",
        "tcp",
        "--syn",
        "-m",
        "statistic",
        "--mode",
        "random",
        "--probability",
        "0.05",
        "-j",
        "DROP",
    ]);

    // Listeners spread over the answering half, on every port.
    let mut expected = BTreeSet::new();
    let mut n: u32 = 7;
    while expected.len() < LISTENERS {
        n = n.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let host = 1 + (n >> 8) % 126;
        let port = PORTS[(n >> 20) as usize % PORTS.len()];
        expected.insert(format!("127.0.0.{host}:{port}"));
    }
    let specs: Vec<&str> = expected.iter().map(String::as_str).collect();
    let mut args = vec!["python3", "-c", LISTEN_PY];
    args.extend(&specs);
    let mut child = ns
        .command(&args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start listeners");
    let stdout = child.stdout.take().expect("listener stdout");
    ns.children.push(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("listener output");
    assert_eq!(line.trim(), "ready", "listeners did not start");

    let ports = PORTS.map(|p| p.to_string()).join(",");
    // Default settings, except a timeout a little under the kernel's own
    // first SYN retransmission (1 s), so the dropped-SYN count below is
    // exactly what flinkscan sent.
    let started = Instant::now();
    let ran = Scan::new()
        .via("ip", ["netns", "exec", &ns.name])
        .target("127.0.0.0/24")
        .ports(&ports)
        .args(["--timeout", "900ms", "--no-progress"])
        .json()
        .run();
    let elapsed = started.elapsed();
    assert!(
        matches!(ran.code, Some(0 | 1)),
        "flinkscan failed: {}",
        ran.stderr
    );
    let report = ran.json();

    // Every listener found, each decided by an answer.
    let found: BTreeSet<String> = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{}:{}", s["ip"].as_str().unwrap(), s["port"]))
        .collect();
    assert_eq!(found, expected, "recall at 5% SYN loss");
    for s in report["services"].as_array().unwrap() {
        assert_eq!(s["decided"]["by"], "answered", "{s}");
        assert!(s["decided"]["attempts"].as_u64().unwrap() >= 1, "{s}");
    }
    // A SYN lost while identifying is sent again: no service says its
    // connect timed out.
    for s in report["services"].as_array().unwrap() {
        let errors = s["errors"].to_string();
        assert!(!errors.contains("connect timed out"), "{s}");
    }

    // The silent half: one SYN per probe, no retry, decided as silent.
    let decided = &report["stats"]["decided"];
    assert_eq!(decided["timed_out_silent_host"], 128 * 4, "{decided}");
    assert_eq!(
        rule_packets(&ns, "127.0.0.128/25"),
        128 * 4,
        "SYNs sent to hosts that never answered"
    );
    // The answering half lost SYNs (5% of ~512 probes plus identification)
    // and got them back by retrying.
    assert!(decided["extra_attempts"].as_u64().unwrap() > 0, "{decided}");
    assert_eq!(
        decided["answered"].as_u64().unwrap() as usize,
        LISTENERS,
        "{decided}"
    );
    // Loose bound only (timing is the benchmark's job): the silent half costs
    // one timeout, retries a few estimates, identification the rest.
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
}
