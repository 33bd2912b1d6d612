//! What a scan does when the world around it fails mid-way: a JobManager
//! that answers and then goes away, a SOCKS5 proxy that dies or garbles
//! its replies, a `--jsonl` FIFO nobody reads, SIGHUP from a dropped ssh
//! session, an output that is an alias of the checkpoint. Each case keeps
//! every report it can and fails loud.
//!
//! Every peer is hand-written (a flapping JobManager and a hostile proxy
//! are what no packaged software does on demand) and listens on 127.0.0.0/8;
//! the proxy relays only to loopback.

use crate::support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::flink::unique_loopback;
use support::peers::{close_at_once, read_head, respond_with, tarpit, Listener};
use support::scan::{Output, Scan};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/identify")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A 200 with the headers real Flink's REST answers carry.
fn answer(c: &mut TcpStream, body: &str) {
    respond_with(
        c,
        "200 OK",
        &[
            "Content-Type: application/json; charset=UTF-8",
            "Access-Control-Allow-Origin: *",
        ],
        body.as_bytes(),
    );
}

/// A JobManager (Flink 1.14.6's real `/config` body) that answers two
/// requests and then stops accepting connections: a pod that crashed or
/// a port a firewall closed mid-scan. `listener` is already bound.
fn flapping_jobmanager(listener: TcpListener) {
    let config = fixture("jobmanager-1.14.6-config.json");
    let mut served = 0;
    for c in listener.incoming() {
        let Ok(mut c) = c else { continue };
        let head = read_head(&mut c);
        if !head.starts_with("GET ") {
            // The sweep's connect, or a TLS or binary probe.
            continue;
        }
        answer(&mut c, &config);
        served += 1;
        if served == 2 {
            break;
        }
    }
    // Dropping the listener: every later connect is refused.
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn rules_at(doc: &Value, authority: &str) -> Vec<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| format!("{}:{}", f["ip"].as_str().unwrap_or(""), f["port"]) == authority)
        .map(|f| f["rule_id"].as_str().unwrap().to_string())
        .collect()
}

/// Defect 1: `GET /config` answered 200 without credentials, then the port
/// closed. The report says what identification saw (REST unauthenticated,
/// the version's findings), lists what could not be checked, rates the
/// cluster, and `--fail-on high` fails.
#[test]
fn a_jobmanager_that_answers_then_goes_away_is_reported_and_fails_the_run() {
    let ip = unique_loopback();
    let listener = TcpListener::bind((ip, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || flapping_jobmanager(listener));
    let ran = Scan::new()
        .target(ip.to_string())
        .ports(addr.port().to_string())
        .args(["--probe-timeout", "2s", "--fail-on", "high", "--no-color"])
        .json()
        .run();
    let (code, stdout, stderr) = (ran.code, &ran.stdout, &ran.stderr);
    server.join().unwrap();
    let doc = ran.json();
    let authority = addr.to_string();
    let rules = rules_at(doc, &authority);
    assert!(
        rules.contains(&"FLINK-REST-UNAUTHENTICATED".to_string()),
        "{rules:?}\n{stderr}"
    );
    // 1.14.6 is past its end of life: a version-based finding.
    assert!(rules.iter().any(|r| r.contains("EOL")), "{rules:?}");
    let svc = &doc["services"][0];
    assert_eq!(svc["kind"], "jobmanager-rest", "{svc}");
    let unchecked = strings(&svc["unchecked"]);
    assert!(!unchecked.is_empty(), "nothing listed as unchecked: {svc}");
    let cluster = &doc["clusters"][0];
    assert_eq!(cluster["rating"], "critical", "{cluster}");
    assert!(!stdout.contains("OK "), "rated OK:\n{stdout}");
    assert_eq!(
        code,
        Some(1),
        "--fail-on high must fail:\n{stdout}\n{stderr}"
    );
}

/// Defect 1 at scale: many flapping JobManagers on one port over a block of
/// loopback addresses; every one is reported unauthenticated, none is OK.
#[test]
fn many_flapping_jobmanagers_in_one_scan_are_each_reported() {
    const HOSTS: u8 = 96;
    let block = loop {
        let b = support::peers::random_octet();
        // 127.B.250.0/24: clear of unique_loopback()'s 127.x.100-249.y.
        if TcpListener::bind((Ipv4Addr::new(127, b, 250, 1), 0)).is_ok() {
            break b;
        }
    };
    let ips: Vec<Ipv4Addr> = (1..=HOSTS)
        .map(|n| Ipv4Addr::new(127, block, 250, n))
        .collect();
    let (port, listeners) = 'found: {
        for _ in 0..50 {
            let port = TcpListener::bind((ips[0], 0))
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let bound: std::io::Result<Vec<TcpListener>> = ips
                .iter()
                .map(|ip| TcpListener::bind((*ip, port)))
                .collect();
            if let Ok(l) = bound {
                break 'found (port, l);
            }
        }
        panic!("no port free on all {HOSTS} addresses");
    };
    let servers: Vec<_> = listeners
        .into_iter()
        .map(|l| thread::spawn(move || flapping_jobmanager(l)))
        .collect();
    let ran = Scan::new()
        .target(format!("127.{block}.250.1-{HOSTS}"))
        .ports(port.to_string())
        .args(["--probe-timeout", "3s", "--fail-on", "high", "-q"])
        .json()
        .run();
    let (code, stderr) = (ran.code, &ran.stderr);
    for s in servers {
        s.join().unwrap();
    }
    let doc = ran.json();
    let clusters = doc["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), usize::from(HOSTS), "{stderr}");
    let clean: Vec<&str> = clusters
        .iter()
        .filter(|c| c["rating"].is_null())
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(clean.is_empty(), "rated OK: {clean:?}");
    for ip in &ips {
        let rules = rules_at(doc, &format!("{ip}:{port}"));
        assert!(
            rules.contains(&"FLINK-REST-UNAUTHENTICATED".to_string()),
            "{ip}: {rules:?}"
        );
    }
    assert_eq!(code, Some(1), "{stderr}");
}

/// How the hand-written SOCKS5 proxy misbehaves.
#[derive(Clone, Copy, Debug)]
enum Hostile {
    /// Relays this many CONNECTs, then stops listening (the proxy died).
    DiesAfter(usize),
    /// Answers every CONNECT with a reply that is not SOCKS5.
    Garbles,
    /// Answers the greeting, then closes instead of answering CONNECT.
    ClosesAfterGreeting,
}

/// A SOCKS5 server (RFC 1928, no authentication) on loopback that relays
/// to loopback only, and misbehaves as told. The start check (greeting,
/// then close) always passes.
fn hostile_proxy(how: Hostile) -> SocketAddr {
    let listener = TcpListener::bind((unique_loopback(), 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let mut relayed = 0;
        for c in listener.incoming() {
            let Ok(mut c) = c else { continue };
            let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
            // Greeting: VER NMETHODS METHODS...
            let mut head = [0u8; 2];
            if c.read_exact(&mut head).is_err() {
                continue;
            }
            let mut methods = vec![0u8; usize::from(head[1])];
            if c.read_exact(&mut methods).is_err() || c.write_all(&[5, 0]).is_err() {
                continue;
            }
            // CONNECT: VER CMD RSV ATYP(1 = IPv4) ADDR(4) PORT(2)
            let mut req = [0u8; 10];
            if c.read_exact(&mut req).is_err() {
                // The start check: greeting only.
                continue;
            }
            match how {
                Hostile::ClosesAfterGreeting => continue,
                Hostile::Garbles => {
                    let _ = c.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
                    continue;
                }
                Hostile::DiesAfter(n) => {
                    let ip = Ipv4Addr::new(req[4], req[5], req[6], req[7]);
                    let port = u16::from_be_bytes([req[8], req[9]]);
                    assert!(ip.is_loopback(), "the test proxy relays to loopback only");
                    relay(c, SocketAddr::from((ip, port)));
                    relayed += 1;
                    if relayed >= n {
                        // Died: every later connection is refused.
                        return;
                    }
                }
            }
        }
    });
    addr
}

fn relay(mut c: TcpStream, to: SocketAddr) {
    let Ok(upstream) = TcpStream::connect_timeout(&to, Duration::from_secs(2)) else {
        // Connection refused (REP 5).
        let _ = c.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
        return;
    };
    if c.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).is_err() {
        return;
    }
    let (mut a, mut b) = (c.try_clone().unwrap(), upstream.try_clone().unwrap());
    let (mut c2, mut up2) = (c, upstream);
    thread::spawn(move || {
        let _ = std::io::copy(&mut a, &mut up2);
        let _ = up2.shutdown(std::net::Shutdown::Write);
    });
    thread::spawn(move || {
        let _ = std::io::copy(&mut b, &mut c2);
        let _ = c2.shutdown(std::net::Shutdown::Write);
    });
}

/// A JobManager that answers every request (Flink 2.3.0's `/config`).
fn steady_jobmanager(ip: Ipv4Addr) -> Listener {
    Listener::start(ip, 0, |mut c| {
        let head = read_head(&mut c);
        if head.starts_with("GET /config") {
            answer(&mut c, &fixture("jobmanager-2.3.0-config.json"));
        } else if head.starts_with("GET /overview") {
            answer(&mut c, &fixture("jobmanager-2.3.0-overview.json"));
        } else if head.starts_with("GET ") {
            respond_with(&mut c, "404 Not Found", &[], b"");
        }
    })
}

/// Defect 2: a proxy that fails after the start check (dies, garbles its
/// CONNECT replies, closes after the greeting) is a failed scan: exit 3, a
/// notice naming the proxy, the probes it answered for listed as
/// undecided, status `proxy-failed`, and none of its failures counted as a
/// closed or unreachable port.
#[test]
fn a_proxy_that_fails_mid_scan_fails_the_scan_and_decides_no_port() {
    let ip = unique_loopback();
    let jm = steady_jobmanager(ip);
    let quick: Vec<Listener> = (0..3)
        .map(|_| Listener::start(ip, 0, close_at_once))
        .collect();
    // 40 ports: the JobManager, three that accept, the rest closed.
    let mut ports = vec![jm.port()];
    ports.extend(quick.iter().map(Listener::port));
    while ports.len() < 40 {
        let p = TcpListener::bind((ip, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    let ports = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    for how in [
        Hostile::DiesAfter(5),
        Hostile::Garbles,
        Hostile::ClosesAfterGreeting,
    ] {
        let proxy = hostile_proxy(how);
        let ran = Scan::new()
            .target(ip.to_string())
            .ports(&ports)
            .args(["--probe-timeout", "2s"])
            .args(["--proxy", &format!("socks5://{proxy}"), "-q"])
            .json()
            .sarif()
            .run();
        let (code, stderr) = (ran.code, &ran.stderr);
        assert_eq!(code, Some(3), "{how:?}: {stderr}");
        assert!(
            stderr.contains(&format!("proxy socks5://{proxy} failed")),
            "{how:?}: {stderr}"
        );
        let doc = ran.json();
        assert!(ran.path(Output::Sarif).exists(), "{how:?}: no SARIF");
        assert_eq!(doc["scan"]["status"], "proxy-failed", "{how:?}");
        let undecided = strings(&doc["scan"]["undecided"]);
        assert!(!undecided.is_empty(), "{how:?}: {}", doc["scan"]);
        let notice = doc["notices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["target"].as_str().unwrap_or("").starts_with("--proxy"))
            .unwrap_or_else(|| panic!("{how:?}: no proxy notice: {}", doc["notices"]));
        assert!(
            notice["message"].as_str().unwrap().contains("undecided"),
            "{notice}"
        );
        if !matches!(how, Hostile::DiesAfter(_)) {
            // Nothing the failing proxy said became a port state.
            assert_eq!(doc["stats"]["closed"], 0, "{how:?}: {}", doc["stats"]);
            assert_eq!(doc["stats"]["unreachable"], 0, "{how:?}: {}", doc["stats"]);
            assert_eq!(doc["stats"]["open"], 0, "{how:?}: {}", doc["stats"]);
        }
    }
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo (coreutils) is needed for this test")
        .success();
    assert!(ok, "mkfifo failed");
}

/// HTTP servers with a 2 KB page on one port over many loopback addresses:
/// together more JSON Lines than a pipe buffer holds.
fn many_http_peers(hosts: u8) -> (String, u16, Vec<Listener>) {
    let block = support::peers::random_octet();
    let ips: Vec<Ipv4Addr> = (1..=hosts)
        .map(|n| Ipv4Addr::new(127, block, 251, n))
        .collect();
    let peers: Vec<support::peers::Peer> = ips
        .iter()
        .map(|ip| {
            (
                *ip,
                (|c| support::peers::serve_get(c, "text/html", &"x".repeat(2048))) as fn(TcpStream),
            )
        })
        .collect();
    let (port, listeners) = support::peers::on_one_free_port(&peers);
    (format!("127.{block}.251.1-{hosts}"), port, listeners)
}

/// Defect 3: a `--jsonl` FIFO that a reader holds open and never reads,
/// and one nobody ever opens: the scan ends at `--max-duration`, the JSON
/// and SARIF reports are written with a notice naming the stream, and the
/// run exits 3. Nothing waits on the FIFO beyond a bounded grace.
#[test]
fn a_jsonl_fifo_nobody_reads_never_holds_the_scan() {
    let (targets, port, _peers) = many_http_peers(120);
    let pit_ip = unique_loopback();
    let pit = Listener::start(pit_ip, 0, tarpit);
    for reader in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("events.fifo");
        mkfifo(&fifo);
        // Read-write: a reader exists, and it never reads.
        let _held = reader.then(|| {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&fifo)
                .unwrap()
        });
        let run = Scan::new()
            .target(&targets)
            .target(format!("{pit_ip}:{}", pit.port()))
            .ports(port.to_string())
            .args(["--probe-timeout", "60s", "--max-duration", "6s", "-q"])
            .arg("--jsonl")
            .arg(&fifo)
            .json()
            .sarif()
            .spawn();
        // Liveness, not speed: a scan held by its FIFO never ends.
        let ran = run.wait(Duration::from_secs(90));
        let (code, stderr) = (ran.code, &ran.stderr);
        assert_eq!(code, Some(3), "reader {reader}: {stderr}");
        let doc = ran.json();
        assert_eq!(doc["scan"]["status"], "max-duration", "reader {reader}");
        assert!(
            ran.path(Output::Sarif).exists(),
            "reader {reader}: no SARIF"
        );
        let named = doc["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["target"].as_str().unwrap_or("").starts_with("--jsonl"));
        assert!(named, "reader {reader}: {}", doc["notices"]);
        assert!(stderr.contains("--jsonl"), "reader {reader}: {stderr}");
        // The HTTP peers were identified: the scan itself went on.
        assert!(
            doc["services"].as_array().unwrap().len() > 100,
            "reader {reader}: {}",
            doc["services"].as_array().unwrap().len()
        );
    }
}

/// Defect 3, the end: a `--json` FIFO nobody opens is given up after a
/// bounded wait; SARIF is still written and the run exits 3.
#[test]
fn a_json_fifo_nobody_opens_is_given_up_and_the_rest_is_written() {
    let ip = unique_loopback();
    let quick = Listener::start(ip, 0, close_at_once);
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("report.fifo");
    mkfifo(&fifo);
    let ran = Scan::new()
        .target(format!("{ip}:{}", quick.port()))
        .args(["--probe-timeout", "2s", "-q"])
        .arg("--json")
        .arg(&fifo)
        .sarif()
        .spawn()
        .wait(Duration::from_secs(90));
    let (code, stderr) = (ran.code, &ran.stderr);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("--json") && stderr.contains("no reader opened it"),
        "{stderr}"
    );
    let doc = ran.sarif();
    assert_eq!(doc["version"], "2.1.0");
}

/// Defect 5: SIGHUP (an ssh session that dropped) stops the scan like
/// SIGTERM: every output written, status interrupted, exit 128 + 1.
#[test]
fn sighup_writes_every_output_like_sigterm() {
    let ip = unique_loopback();
    let quick = Listener::start(ip, 0, close_at_once);
    let pit = Listener::start(ip, 0, tarpit);
    let run = Scan::new()
        .target(ip.to_string())
        .ports(format!("{},{}", quick.port(), pit.port()))
        .args(["--probe-timeout", "60s"])
        .json()
        .sarif()
        .jsonl()
        .spawn();
    // Under way: the quick port's event is in the stream.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(run.path(Output::Jsonl))
        .unwrap_or_default()
        .contains("flinkscan.service")
    {
        assert!(Instant::now() < deadline, "no service event");
        thread::sleep(Duration::from_millis(50));
    }
    run.signal("HUP");
    let ran = run.wait(Duration::from_secs(60));
    assert_eq!(ran.code, Some(129), "{}", ran.stderr);
    let doc = ran.json();
    assert_eq!(doc["scan"]["status"], "interrupted");
    assert!(strings(&doc["scan"]["cut_short"]).contains(&format!("{ip}:{}", pit.port())));
    assert_eq!(ran.sarif()["version"], "2.1.0");
}

/// Defect 15: an output that is a symbolic link to the checkpoint or its
/// `.results` file (not created yet: a fresh scan) is refused like the same
/// name, before anything is sent.
#[test]
fn an_output_aliasing_the_checkpoint_files_is_refused() {
    let ip = unique_loopback();
    let quick = Listener::start(ip, 0, close_at_once);
    for (flag, aliased) in [
        ("--jsonl", "scan.state.results"),
        ("--jsonl", "scan.state"),
        ("--json", "scan.state.results"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("scan.state");
        let link = dir.path().join("out.link");
        std::os::unix::fs::symlink(aliased, &link).unwrap();
        let ran = Scan::new()
            .target(format!("{ip}:{}", quick.port()))
            .arg("-q")
            .arg("--state")
            .arg(&state)
            .arg(flag)
            .arg(&link)
            .run();
        let (code, stderr) = (ran.code, &ran.stderr);
        assert_eq!(code, Some(2), "{flag} -> {aliased}: {stderr}");
        assert!(
            stderr.contains("name the same file") && stderr.contains(flag),
            "{flag} -> {aliased}: {stderr}"
        );
        let left: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(left, vec![link.clone()], "{flag} -> {aliased}: files made");
    }
}

/// A scan keeps findings' URL, detail and evidence in a temporary file
/// in `TMPDIR` (and settled services, and clusters past a few hundred).
/// When that file cannot be created, nothing is lost: the report is the
/// same as with a working `TMPDIR`, and a notice says what happened.
#[test]
fn findings_are_whole_when_tmpdir_cannot_be_written() {
    let ip = unique_loopback();
    let jm = steady_jobmanager(ip);
    let scan = |tmpdir: &Path| {
        Scan::new()
            .target(ip.to_string())
            .ports(jm.port().to_string())
            .args(["--no-color", "-q"])
            .env("TMPDIR", tmpdir)
            .json()
            .run()
    };
    let working = tempfile::tempdir().unwrap();
    let good = scan(working.path());
    let missing = working.path().join("no-such-directory");
    let bad = scan(&missing);
    assert_eq!((good.code, bad.code), (Some(0), Some(0)), "{}", bad.stderr);
    let findings = |doc: &Value| {
        let list = doc["findings"].as_array().unwrap().clone();
        // Every finding carries its text, wherever the scan kept it.
        for f in &list {
            assert!(
                f["url"].as_str().is_some_and(|u| u.starts_with("http://")),
                "{f}"
            );
            assert!(!f["detail"].as_str().unwrap_or("").is_empty(), "{f}");
            assert!(!f["evidence"].as_array().unwrap().is_empty(), "{f}");
        }
        list
    };
    let (kept, held) = (findings(good.json()), findings(bad.json()));
    assert!(
        !kept.is_empty(),
        "no finding on a JobManager without credentials"
    );
    assert_eq!(kept, held);
    let notices = bad.json()["notices"].to_string();
    assert!(
        notices.contains("cannot write findings to a temporary file in TMPDIR"),
        "{notices}"
    );
    assert!(!good.json()["notices"].to_string().contains("TMPDIR"));
}
