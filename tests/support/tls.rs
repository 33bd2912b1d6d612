//! A real TLS server for tests: `openssl s_server -WWW`, serving files
//! (Flink REST answers recorded from real Flink) over TLS 1.2 on loopback.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use super::flink::unique_loopback;

/// The openssl CLI, or a failure naming it (`FLINKSCAN_ALLOW_MISSING=1`
/// turns that into a skip).
pub fn have_openssl() -> bool {
    super::require("openssl", "openssl").is_some()
}

pub fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Poll (deadline 10 s) until `child` accepts connections on `addr`; false
/// when it exited first or never did.
pub fn listening(child: &mut std::process::Child, addr: SocketAddr) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A fresh key and self-signed certificate for `flink.test` in `dir`
/// (`key.pem`, `cert.pem`).
pub fn self_signed(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "30",
            "-subj",
            "/CN=flink.test",
        ],
    );
}

/// `openssl s_server -WWW` (files from its directory, HTTP/1.0, body until
/// close) speaking TLS 1.2 only, so its whole first flight is plaintext
/// records; `chain` extra certificates make the flight longer. Killed on drop.
pub struct SServer {
    child: std::process::Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SServer {
    pub fn start(files: &[(&str, Vec<u8>)], chain: usize) -> SServer {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (name, body) in files {
            std::fs::write(d.join(name), body).unwrap();
        }
        self_signed(d);
        let mut pem = Vec::new();
        for i in 0..chain {
            let (k, c) = (format!("ca{i}.key"), format!("ca{i}.pem"));
            openssl(
                d,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:4096",
                    "-nodes",
                    "-keyout",
                    &k,
                    "-out",
                    &c,
                    "-days",
                    "30",
                    "-subj",
                    &format!("/CN=intermediate {i}"),
                ],
            );
            pem.extend(std::fs::read(d.join(&c)).unwrap());
        }
        std::fs::write(d.join("chain.pem"), pem).unwrap();
        let ip = unique_loopback();
        for _ in 0..5 {
            let port = TcpListener::bind((ip, 0))
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let addr = SocketAddr::from((ip, port));
            let mut cmd = std::process::Command::new("openssl");
            cmd.args(["s_server", "-quiet", "-WWW", "-tls1_2", "-accept"])
                .arg(addr.to_string())
                .args(["-cert", "cert.pem", "-key", "key.pem"]);
            if chain > 0 {
                cmd.args(["-cert_chain", "chain.pem"]);
            }
            let child = cmd
                .current_dir(d)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let mut server = SServer {
                child,
                addr,
                _dir: tempfile::tempdir().unwrap(),
            };
            // Exited: the port was taken meanwhile, try the next one.
            if listening(&mut server.child, addr) {
                server._dir = dir;
                return server;
            }
        }
        panic!("openssl s_server did not start");
    }
}
