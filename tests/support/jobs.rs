//! Real jobs on real Flink: a tiny job jar built at test time with the
//! JDK's `javac` and `jar` against a Flink home's `lib/`, uploaded and run
//! through the REST API by the test harness (never by the scanner), with
//! `curl` as the client (it speaks mutual TLS with a PKCS12 keystore too).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::flink::{flink_home, TlsMaterial};

/// The job's source, in tests/fixtures/flink-job.
const SOURCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/flink-job/flinkscan/testjob/OrdersJob.java"
);
pub const ENTRY_CLASS: &str = "flinkscan.testjob.OrdersJob";
pub const JOB_NAME: &str = "orders-enrichment";

/// `javac`, `jar` and `curl`, or `None` under the opt-out (the caller
/// returns); without the opt-out a missing one fails the test by name.
pub fn tools() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let javac = super::require("javac", "the Debian package openjdk-17-jdk-headless")?;
    let jar = super::require("jar", "the Debian package openjdk-17-jdk-headless")?;
    let curl = super::require("curl", "the Debian package curl")?;
    Some((javac, jar, curl))
}

/// Compile the job against `version`'s lib/ and package it; the jar is in `dir`.
pub fn job_jar(javac: &Path, jar: &Path, version: &str, dir: &Path) -> PathBuf {
    let classes = dir.join("classes");
    std::fs::create_dir_all(&classes).expect("classes dir");
    let lib = flink_home(version).join("lib").join("*");
    let out = Command::new(javac)
        .arg("-nowarn")
        .arg("-cp")
        .arg(&lib)
        .arg("-d")
        .arg(&classes)
        .arg(SOURCE)
        .output()
        .expect("run javac");
    assert!(
        out.status.success(),
        "javac against Flink {version} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join("orders-enrichment.jar");
    let out = Command::new(jar)
        .arg("cf")
        .arg(&path)
        .arg("-C")
        .arg(&classes)
        .arg(".")
        .output()
        .expect("run jar");
    assert!(
        out.status.success(),
        "jar failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

/// How the harness reaches a REST API.
pub struct Rest<'a> {
    pub curl: &'a Path,
    pub addr: SocketAddr,
    /// Mutual TLS: the client presents this keystore.
    pub tls: Option<&'a TlsMaterial>,
}

impl Rest<'_> {
    fn run(&self, path: &str, args: &[&str]) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let mut cmd = Command::new(self.curl);
        cmd.args(["-sS", "--max-time", "120"]);
        if let Some(m) = self.tls {
            // The harness's own client; the certificate is the test's own.
            cmd.arg("-k")
                .args(["--cert-type", "P12"])
                .arg("--cert")
                .arg(format!("{}:{}", m.keystore.display(), m.password));
        }
        cmd.args(args)
            .arg(format!("{scheme}://{}{path}", self.addr));
        let out = cmd.output().expect("run curl");
        assert!(
            out.status.success(),
            "curl {path} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn get(&self, path: &str) -> serde_json::Value {
        let body = self.run(path, &[]);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Upload the jar (`POST /jars/upload`) and run it (`POST
    /// /jars/:id/run`) with `args` as program arguments; the job id.
    pub fn submit(&self, jar: &Path, args: &[String]) -> String {
        let form = format!("jarfile=@{};type=application/x-java-archive", jar.display());
        let up = self.run("/jars/upload", &["-X", "POST", "-F", &form]);
        let up: serde_json::Value =
            serde_json::from_str(&up).unwrap_or_else(|e| panic!("upload answer {e}: {up}"));
        let filename = up["filename"]
            .as_str()
            .unwrap_or_else(|| panic!("upload failed: {up}"));
        let id = filename.rsplit('/').next().unwrap_or(filename).to_string();
        let body = serde_json::json!({"entryClass": ENTRY_CLASS, "programArgsList": args});
        let run = self.run(
            &format!("/jars/{id}/run"),
            &[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                &body.to_string(),
            ],
        );
        let run: serde_json::Value =
            serde_json::from_str(&run).unwrap_or_else(|e| panic!("run answer {e}: {run}"));
        run["jobid"]
            .as_str()
            .unwrap_or_else(|| panic!("run failed: {run}"))
            .to_string()
    }

    /// Cancel the job (`PATCH /jobs/:id?mode=cancel`): the JobManager
    /// archives it for the HistoryServer.
    pub fn cancel(&self, job: &str) {
        self.run(&format!("/jobs/{job}?mode=cancel"), &["-X", "PATCH"]);
    }

    /// Poll until the job is in `state` (deadline 180 s).
    pub fn wait_for_state(&self, job: &str, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let v = self.get(&format!("/jobs/{job}"));
            let all_running = v["vertices"]
                .as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(|x| x["status"] == state));
            if v["state"] == state && (state != "RUNNING" || all_running) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "job {job} not {state} within 180 s: {v}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// Flink 1.x's jar-run hands the job's files to the BLOB server at
/// `localhost` (the dispatcher's local gateway address), not at the
/// JobManager's bind address: forward 127.0.0.1:`port` to `ip`:`port`
/// while the handle lives. Loopback only.
pub struct Forward {
    stop: Arc<AtomicBool>,
}

impl Forward {
    pub fn start(port: u16, ip: Ipv4Addr) -> Forward {
        let listener =
            TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1 for the BLOB forward");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        if let Ok(upstream) = TcpStream::connect((ip, port)) {
                            pipe(client, upstream);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Forward { stop }
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn pipe(a: TcpStream, b: TcpStream) {
    let copy = |mut from: TcpStream, mut to: TcpStream| {
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 || to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(std::net::Shutdown::Write);
        });
    };
    if let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) {
        copy(a, b2);
        copy(b, a2);
    }
}

/// A port free on 127.0.0.1 and on `ip`: the JobManager binds its BLOB
/// server on `ip`, the forward on 127.0.0.1.
pub fn blob_port(ip: Ipv4Addr) -> u16 {
    loop {
        let port = super::flink::free_port();
        if TcpListener::bind((ip, port)).is_ok() {
            return port;
        }
    }
}
