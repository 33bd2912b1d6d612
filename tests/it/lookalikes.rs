//! Servers that are not Flink, on Flink's ports: real nginx, Redis, Python's
//! HTTP server and an OpenSSL TLS server, plus byte-level look-alikes of the
//! RPC and BLOB answers. None may be called Flink or produce a finding.
//! Loopback only. A missing server fails the test, naming its package;
//! under FLINKSCAN_ALLOW_MISSING=1 its part says SKIP and is left out.

use crate::support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::flink;

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_port(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "{addr} never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn(cmd: &mut Command) -> Proc {
    Proc(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// A byte-level fake: answers every connection with `reply`.
fn fake(ip: Ipv4Addr, port: u16, reply: &'static [u8]) {
    let l = TcpListener::bind((ip, port)).unwrap();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let mut c = c;
            let _ = c.set_read_timeout(Some(Duration::from_millis(300)));
            let mut buf = [0u8; 512];
            let _ = c.read(&mut buf);
            let _ = c.write_all(reply);
        }
    });
}

#[test]
fn non_flink_servers_on_flink_ports_are_not_flink() {
    let ip = flink::unique_loopback();
    let dir = tempfile::tempdir().unwrap();
    let mut procs = Vec::new();
    let mut expected_ports = Vec::new();

    // Each server is required; under FLINKSCAN_ALLOW_MISSING=1 a missing one
    // says SKIP and its part of the check is left out.
    let nginx = support::require("nginx", "the Debian package nginx-light");
    let redis = support::require("redis-server", "the Debian package redis-server");
    let python = support::require("python3", "the Debian package python3");
    let openssl = support::require("openssl", "the Debian package openssl");
    if let Some(nginx) = &nginx {
        // nginx serving a /config that mentions Flink: a look-alike, not a dashboard.
        let root = dir.path().join("www");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(
            root.join("config"),
            r#"{"flink-version":"1.20.1","note":"not really"}"#,
        )
        .unwrap();
        let conf = dir.path().join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;\n\
                 events {{ worker_connections 64; }}\n\
                 http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d};\n\
                 fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n\
                 server {{ listen {ip}:8081; root {r}; default_type application/json; }} }}\n",
                d = dir.path().display(),
                r = root.display()
            ),
        )
        .unwrap();
        procs.push(spawn(Command::new(nginx).args([
            "-c",
            conf.to_str().unwrap(),
            "-g",
            "daemon off;",
        ])));
        expected_ports.push(8081);
    }
    if let Some(redis) = &redis {
        procs.push(spawn(Command::new(redis).args([
            "--bind",
            &ip.to_string(),
            "--port",
            "6123",
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
        ])));
        expected_ports.push(6123);
    }
    if let Some(python) = &python {
        procs.push(spawn(Command::new(python).args([
            "-m",
            "http.server",
            "8082",
            "--bind",
            &ip.to_string(),
            "--directory",
            dir.path().to_str().unwrap(),
        ])));
        expected_ports.push(8082);
    }
    if let Some(openssl) = &openssl {
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        let st = Command::new(openssl)
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=echo",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        procs.push(spawn(
            Command::new(openssl)
                .args(["s_server", "-quiet", "-accept", &format!("{ip}:8083")])
                .arg("-cert")
                .arg(&cert)
                .arg("-key")
                .arg(&key),
        ));
        expected_ports.push(8083);
    }
    // SSH banner on the BLOB port, four zero bytes (what nmap calls Spark) on
    // the JMX port, and a reply that starts like RETURN_ERROR on 9249.
    fake(ip, 6124, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
    fake(ip, 8789, b"\0\0\0\0");
    fake(ip, 9249, b"\x01\x05\x00\x00\x00hello");
    expected_ports.extend([6124, 8789, 9249]);
    for p in &expected_ports {
        wait_port(SocketAddr::from((ip, *p)));
    }

    let out = flink::scan(
        &[ip.to_string()],
        &["--no-progress", "--probe-timeout", "2s"],
    );
    let services = out.json["services"].as_array().unwrap();
    let mut ports: Vec<u64> = services
        .iter()
        .map(|s| s["port"].as_u64().unwrap())
        .collect();
    ports.sort();
    let mut want: Vec<u64> = expected_ports.iter().map(|p| u64::from(*p)).collect();
    want.sort();
    assert_eq!(ports, want, "{services:#?}");
    for s in services {
        assert_eq!(s["flink"], false, "called Flink: {s}");
        assert!(
            ![
                "jobmanager-rest",
                "history-server",
                "sql-gateway",
                "blob-server",
                "rpc",
                "taskmanager-data"
            ]
            .contains(&s["kind"].as_str().unwrap()),
            "{s}"
        );
    }
    assert_eq!(
        out.json["findings"],
        serde_json::json!([]),
        "look-alikes produced findings"
    );
    if nginx.is_some() {
        assert_eq!(out.service(8081)["kind"], "other-http");
        assert!(out.service(8081)["product"]
            .as_str()
            .unwrap()
            .contains("nginx"));
    }
    if redis.is_some() {
        // Redis drops HTTP-looking input ("Host:") and waits on the rest.
        assert!(["other", "unknown"].contains(&out.service(6123)["kind"].as_str().unwrap()));
    }
    if openssl.is_some() {
        assert!(out.service(8083)["tls"].is_object(), "TLS echo seen as TLS");
    }
    drop(procs);
}
