#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Hostile and broken peers, each a small server on its own loopback
//! address: the scan must end within its bounds, record what went wrong
//! for that port, never call the peer Flink, and finish the rest.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use support::flink;

type Handler = fn(TcpStream);

fn serve(handler: Handler) -> SocketAddr {
    let ip = flink::unique_loopback();
    let l = TcpListener::bind((ip, 0)).unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for c in l.incoming().flatten() {
            thread::spawn(move || handler(c));
        }
    });
    addr
}

/// Read whatever the scanner sent first (bounded), so replies follow a request.
fn read_some(c: &mut TcpStream) -> Vec<u8> {
    let _ = c.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = vec![0u8; 4096];
    let n = c.read(&mut buf).unwrap_or(0);
    buf.truncate(n);
    buf
}

fn tarpit(c: TcpStream) {
    thread::sleep(Duration::from_secs(120));
    drop(c);
}

fn drip(mut c: TcpStream) {
    read_some(&mut c);
    for b in b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
        .iter()
        .cycle()
        .take(120)
    {
        if c.write_all(&[*b]).is_err() {
            return;
        }
        thread::sleep(Duration::from_secs(1));
    }
}

fn endless_chunked(mut c: TcpStream) {
    read_some(&mut c);
    let _ = c.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    let chunk = format!("{:x}\r\n{}\r\n", 8192, "[".repeat(8192));
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if c.write_all(chunk.as_bytes()).is_err() {
            return;
        }
    }
}

fn gigabyte_length(mut c: TcpStream) {
    read_some(&mut c);
    let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{\"a\":");
    for _ in 0..60 {
        if c.write_all(b" ").is_err() {
            return;
        }
        thread::sleep(Duration::from_secs(1));
    }
}

/// Leaves most of the request unread and closes: Linux answers with RST.
fn rst_mid_response(mut c: TcpStream) {
    let _ = c.set_read_timeout(Some(Duration::from_millis(500)));
    let mut one = [0u8; 1];
    let _ = c.read(&mut one);
    thread::sleep(Duration::from_millis(50));
    let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Len");
    drop(c);
}

fn tls_stall(mut c: TcpStream) {
    let first = read_some(&mut c);
    if first.first() == Some(&0x16) {
        // A ServerHello record header promising 80 bytes, then nothing.
        let _ = c.write_all(&[0x16, 0x03, 0x03, 0x00, 0x50, 0x02]);
    }
    thread::sleep(Duration::from_secs(60));
}

fn tls_garbage(mut c: TcpStream) {
    read_some(&mut c);
    let mut junk = vec![0x16, 0x03, 0x03, 0xff, 0xff];
    junk.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let _ = c.write_all(&junk);
}

fn respond_json(mut c: TcpStream, body: &[u8]) {
    read_some(&mut c);
    let _ = write!(
        c,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = c.write_all(body);
}

fn huge_json(c: TcpStream) {
    let mut body =
        b"{\"refresh-interval\":1,\"timezone-offset\":0,\"flink-version\":\"1.20.1\",\"pad\":\""
            .to_vec();
    body.extend(std::iter::repeat_n(b'x', 50 << 20));
    body.extend(b"\"}");
    respond_json(c, &body);
}

fn nested_json(c: TcpStream) {
    respond_json(c, "[".repeat(100_000).as_bytes());
}

fn malformed_json(c: TcpStream) {
    respond_json(
        c,
        b"{\"refresh-interval\":1,\"timezone-offset\":0,\"flink-version\":\"1.20.1\",",
    );
}

fn hostile_version(c: TcpStream) {
    respond_json(
        c,
        br#"{"refresh-interval":1,"timezone-offset":0,"flink-version":"<script>alert(1)</script>","features":{}}"#,
    );
}

fn scan_one(addr: SocketAddr, extra: &[&str]) -> (flink::ScanOutput, Duration) {
    let start = Instant::now();
    let out = flink::scan(
        &[addr.ip().to_string()],
        &[
            &[
                "-q",
                "--ports",
                &addr.port().to_string(),
                "--probe-timeout",
                "2s",
            ],
            extra,
        ]
        .concat(),
    );
    (out, start.elapsed())
}

#[test]
fn hostile_peers_end_in_bounds_with_errors_recorded() {
    let peers: &[(&str, Handler)] = &[
        ("tarpit", tarpit),
        ("drip", drip),
        ("endless chunked body", endless_chunked),
        ("1 GB Content-Length", gigabyte_length),
        ("reset mid-response", rst_mid_response),
        ("TLS stall", tls_stall),
        ("TLS garbage", tls_garbage),
        ("50 MB JSON", huge_json),
        ("deeply nested JSON", nested_json),
        ("malformed JSON", malformed_json),
    ];
    let mut handles = Vec::new();
    for &(name, handler) in peers {
        let addr = serve(handler);
        handles.push(thread::spawn(move || {
            let (out, took) = scan_one(addr, &[]);
            // Every probe is bounded by --probe-timeout 2s; a port takes a
            // handful of them in sequence.
            assert!(took < Duration::from_secs(60), "{name}: took {took:?}");
            let svc = out.service(addr.port());
            assert_eq!(svc["flink"], false, "{name}: {svc}");
            assert_eq!(out.json["findings"], serde_json::json!([]), "{name}");
            eprintln!(
                "{name}: {:?}, kind {}, errors {}",
                took, svc["kind"], svc["errors"]
            );
            (name, svc["kind"].clone(), svc["errors"].clone())
        }));
    }
    for h in handles {
        let (name, kind, errors) = h.join().unwrap();
        let recorded = errors.as_array().is_some_and(|e| !e.is_empty());
        // Peers that never finish an answer must leave a trace in the report.
        if [
            "tarpit",
            "endless chunked body",
            "1 GB Content-Length",
            "TLS stall",
            "50 MB JSON",
        ]
        .contains(&name)
        {
            assert!(recorded, "{name}: no error recorded (kind {kind})");
        }
    }
}

#[test]
fn hostile_version_strings_are_not_copied() {
    let addr = serve(hostile_version);
    let (out, _) = scan_one(addr, &[]);
    let svc = out.service(addr.port());
    assert!(svc["version"].is_null(), "{svc}");
    // Our own sentences never carry it; the evidence excerpt is data.
    for f in out.json["findings"].as_array().unwrap() {
        assert!(!f["detail"].as_str().unwrap().contains("<script>"), "{f}");
    }
}

#[test]
fn redirects_are_never_followed_off_target() {
    static HITS: AtomicUsize = AtomicUsize::new(0);
    let elsewhere = serve(|c| {
        HITS.fetch_add(1, Ordering::SeqCst);
        drop(c);
    });
    let location: &'static str = Box::leak(format!("http://{elsewhere}/config").into_boxed_str());
    let hits_before = HITS.load(Ordering::SeqCst);
    let ip = flink::unique_loopback();
    let l = TcpListener::bind((ip, 0)).unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            read_some(&mut c);
            let _ = write!(c, "HTTP/1.1 301 Moved Permanently\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let (out, _) = scan_one(addr, &[]);
    assert_eq!(out.service(addr.port())["kind"], "other-http");
    assert_eq!(
        HITS.load(Ordering::SeqCst),
        hits_before,
        "followed a redirect to another host"
    );
}

#[test]
fn one_tarpit_does_not_hide_the_rest_and_max_duration_stops_the_scan() {
    let ip = flink::unique_loopback();
    let pit = TcpListener::bind((ip, 0)).unwrap();
    let pit_port = pit.local_addr().unwrap().port();
    thread::spawn(move || {
        for c in pit.incoming().flatten() {
            thread::spawn(move || tarpit(c));
        }
    });
    let rpc = TcpListener::bind((ip, 0)).unwrap();
    let rpc_port = rpc.local_addr().unwrap().port();
    thread::spawn(move || {
        for mut c in rpc.incoming().flatten() {
            let _ = c.set_read_timeout(Some(Duration::from_secs(3)));
            let mut b = [0u8; 8];
            if c.read_exact(&mut b).is_ok() && b == [0, 0, 0, 4, 0x12, 2, 8, 3] {
                let _ = c.write_all(&[0, 0, 0, 4, 0x12, 2, 8, 2, 0, 0, 0, 0]);
            }
        }
    });
    let ports = format!("{pit_port},{rpc_port}");
    let out = flink::scan(
        &[ip.to_string()],
        &["-q", "--ports", &ports, "--probe-timeout", "2s"],
    );
    assert_eq!(out.service(rpc_port)["kind"], "rpc");
    assert_eq!(out.service(pit_port)["flink"], false);

    // --max-duration ends the scan long before the tarpit's probe timeouts.
    let start = Instant::now();
    let out = flink::scan(
        &[ip.to_string()],
        &[
            "-q",
            "--ports",
            &ports,
            "--probe-timeout",
            "60s",
            "--max-duration",
            "3s",
        ],
    );
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(30),
        "max-duration ignored: {took:?}"
    );
    assert_eq!(out.json["scan"]["status"], "max-duration");
}

#[test]
fn dry_run_of_a_slash8_stays_flat_in_memory() {
    let time = std::path::Path::new("/usr/bin/time");
    if !time.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "/usr/bin/time missing in CI"
        );
        eprintln!("SKIP: /usr/bin/time not installed");
        return;
    }
    let bin = assert_cmd::cargo::cargo_bin("flinkscan");
    let peak = |range: &str| -> (u64, u64) {
        let out = std::process::Command::new(time)
            .args(["-f", "%M"])
            .arg(&bin)
            .args([
                "scan",
                range,
                "--allow-large",
                "--dry-run",
                "--ports",
                "8081",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut child = out;
        let mut lines = 0u64;
        let mut stdout = child.stdout.take().unwrap();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = stdout.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        }
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let kb: u64 = stderr.lines().last().unwrap().trim().parse().unwrap();
        (lines, kb)
    };
    let (n16, kb16) = peak("127.0.0.0/16");
    let (n8, kb8) = peak("127.0.0.0/8");
    assert_eq!(n16, 65_536);
    assert_eq!(n8, 16_777_216);
    eprintln!("peak RSS: /16 {kb16} KiB, /8 {kb8} KiB");
    assert!(kb8 < 64 * 1024, "/8 dry run peaked at {kb8} KiB");
    assert!(
        kb8 < kb16 + 4 * 1024,
        "memory grows with the range: /16 {kb16} KiB, /8 {kb8} KiB"
    );
}
