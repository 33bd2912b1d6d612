//! Real Apache Flink for the integration tests.
//!
//! `scripts/flink-home.sh` downloads a pinned version from PyPI once into a
//! cache; each test starts its own JobManager (or HistoryServer) on its own
//! 127.x.y.z, waits until it answers (polling with a deadline), and the
//! process group is killed when the handle is dropped, even on panic.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::scan::Output;

/// Flink's JVM needs these on Java 17 (what bin/config.sh adds).
const JAVA17_OPTS: &[&str] = &[
    "--add-exports=java.base/sun.net.util=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.net=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.text=ALL-UNNAMED",
    "--add-opens=java.base/java.time=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED",
];

const LOG4J: &str = "rootLogger.level = INFO
rootLogger.appenderRef.file.ref = MainAppender
appender.main.name = MainAppender
appender.main.type = File
appender.main.fileName = ${sys:log.file}
appender.main.layout.type = PatternLayout
appender.main.layout.pattern = %d %-5p %c - %m%n
";

/// The Flink home for `version`, downloaded once per machine.
pub fn flink_home(version: &str) -> PathBuf {
    static HOMES: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let homes = HOMES.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = homes.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = map.get(version) {
        return p.clone();
    }
    let out = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/flink-home.sh"
        ))
        .arg(version)
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/flink-home.sh");
    assert!(
        out.status.success(),
        "scripts/flink-home.sh {version} failed (its stderr is above): a real Flink home \
         needs python3 with pip (Debian packages python3, python3-pip) and access to \
         PyPI once, or a home already in ~/.cache/flinkscan ($FLINKSCAN_CACHE)"
    );
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    map.insert(version.to_string(), path.clone());
    path
}

/// A loopback address no other test in this process uses: 127.S.P.N with
/// S derived from the process id, so concurrent test binaries differ too.
pub fn unique_loopback() -> Ipv4Addr {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let second = (std::process::id() % 200) as u8 + 20;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let ip = Ipv4Addr::new(
            127,
            second,
            100 + (n / 250) as u8 % 150,
            (n % 250) as u8 + 1,
        );
        // Skip addresses where Flink's ports are taken (another test binary
        // or a leftover process): a collision would fail the JVM's bind.
        let free = [8081u16, 8082, 6123, 6124]
            .iter()
            .all(|p| std::net::TcpListener::bind((ip, *p)).is_ok());
        if free {
            return ip;
        }
    }
}

/// Flink 1.19+ reads config.yaml; older versions read flink-conf.yaml.
fn config_file_name(version: &str) -> &'static str {
    let mut it = version.split('.');
    let major: u32 = it.next().and_then(|x| x.parse().ok()).unwrap_or(1);
    let minor: u32 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
    if (major, minor) >= (1, 19) {
        "config.yaml"
    } else {
        "flink-conf.yaml"
    }
}

#[derive(Debug, Clone)]
pub struct FlinkOpts {
    pub version: &'static str,
    pub ip: Ipv4Addr,
    pub rest_port: u16,
    pub rpc_port: u16,
    pub blob_port: u16,
    pub extra_conf: Vec<(String, String)>,
    /// Extra JVM arguments (system properties show in /jobmanager/environment).
    pub jvm_opts: Vec<String>,
    /// Jars added to the JVM's classpath (an application cluster's job).
    pub classpath: Vec<PathBuf>,
    /// Program arguments after `--configDir DIR` (an application
    /// cluster's `--job-classname` and the job's own arguments).
    pub args: Vec<String>,
}

impl FlinkOpts {
    pub fn new(version: &'static str) -> FlinkOpts {
        FlinkOpts {
            version,
            ip: unique_loopback(),
            rest_port: 8081,
            rpc_port: 6123,
            blob_port: 6124,
            extra_conf: Vec::new(),
            jvm_opts: Vec::new(),
            classpath: Vec::new(),
            args: Vec::new(),
        }
    }

    pub fn jvm(mut self, opt: &str) -> FlinkOpts {
        self.jvm_opts.push(opt.to_string());
        self
    }

    pub fn conf(mut self, key: &str, value: &str) -> FlinkOpts {
        self.extra_conf.push((key.to_string(), value.to_string()));
        self
    }

    pub fn confs(mut self, pairs: Vec<(String, String)>) -> FlinkOpts {
        self.extra_conf.extend(pairs);
        self
    }
}

/// A running Flink process; killed on drop.
pub struct Flink {
    pub ip: Ipv4Addr,
    pub rest_port: u16,
    pub version: &'static str,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Flink {
    pub fn rest(&self) -> SocketAddr {
        SocketAddr::from((self.ip, self.rest_port))
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("flink.log")).unwrap_or_default();
        let out = std::fs::read_to_string(self.dir.path().join("stdout.txt")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        format!(
            "{}\n--- stdout ---\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            out
        )
    }

    /// A JobManager (standalone session cluster) bound to `opts.ip` only.
    pub fn start_jobmanager(opts: FlinkOpts) -> Flink {
        Flink::start_entrypoint(
            opts,
            "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
        )
    }

    /// An application cluster's JobManager, as `standalone-job.sh` and
    /// Kubernetes application mode run it: `job` on the classpath, its
    /// main class and program arguments on the entrypoint's command line
    /// (`--job-classname CLASS ARGS...`), bound to `opts.ip` only.
    pub fn start_application(
        mut opts: FlinkOpts,
        job: &Path,
        class: &str,
        args: &[String],
    ) -> Flink {
        opts.classpath.push(job.to_path_buf());
        opts.args = ["--job-classname".to_string(), class.to_string()]
            .into_iter()
            .chain(args.iter().cloned())
            .collect();
        Flink::start_entrypoint(
            opts,
            "org.apache.flink.container.entrypoint.StandaloneApplicationClusterEntryPoint",
        )
    }

    fn start_entrypoint(opts: FlinkOpts, entrypoint: &str) -> Flink {
        let ip = opts.ip.to_string();
        let mut conf = vec![
            ("jobmanager.rpc.address".to_string(), ip.clone()),
            ("jobmanager.bind-host".to_string(), ip.clone()),
            ("jobmanager.rpc.port".to_string(), opts.rpc_port.to_string()),
            ("rest.address".to_string(), ip.clone()),
            ("rest.bind-address".to_string(), ip.clone()),
            ("rest.port".to_string(), opts.rest_port.to_string()),
            ("blob.server.port".to_string(), opts.blob_port.to_string()),
            (
                "jobmanager.memory.process.size".to_string(),
                "1024m".to_string(),
            ),
            (
                "jobmanager.memory.jvm-metaspace.size".to_string(),
                "128m".to_string(),
            ),
        ];
        conf.extend(opts.extra_conf.clone());
        let ssl = conf
            .iter()
            .any(|(k, v)| k == "security.ssl.rest.enabled" && v == "true");
        let mut flink = spawn(
            opts.version,
            entrypoint,
            &conf,
            (&opts.jvm_opts, &opts.classpath, &opts.args),
            opts.ip,
            opts.rest_port,
        );
        let ready = if ssl {
            // Plain HTTP to the TLS port is answered with Flink's redirect.
            |resp: &str| resp.starts_with("HTTP/1.1 301")
        } else {
            |resp: &str| resp.starts_with("HTTP/1.1 200")
        };
        flink.wait_until(ready, &[opts.rpc_port, opts.blob_port]);
        flink
    }

    /// A TaskManager on the JobManager's address, with fixed RPC and data
    /// ports; returns once the JobManager lists it.
    pub fn start_taskmanager(jm: &Flink, rpc_port: u16, data_port: u16) -> Flink {
        Flink::start_taskmanager_with(jm, rpc_port, data_port, Vec::new(), 1, jm.ip, data_port)
    }

    /// A TaskManager whose configuration `extra` extends or overrides
    /// (`taskmanager.host`, bind ports); returns once the JobManager lists
    /// `registered` TaskManagers and `data_ip:data_check` accepts.
    pub fn start_taskmanager_with(
        jm: &Flink,
        rpc_port: u16,
        data_port: u16,
        extra: Vec<(String, String)>,
        registered: usize,
        data_ip: Ipv4Addr,
        data_check: u16,
    ) -> Flink {
        let ip = jm.ip.to_string();
        let mut conf = vec![
            ("jobmanager.rpc.address".to_string(), ip.clone()),
            ("jobmanager.rpc.port".to_string(), "6123".to_string()),
            ("taskmanager.host".to_string(), ip.clone()),
            ("taskmanager.bind-host".to_string(), ip.clone()),
            ("taskmanager.rpc.port".to_string(), rpc_port.to_string()),
            ("taskmanager.data.port".to_string(), data_port.to_string()),
            ("taskmanager.numberOfTaskSlots".to_string(), "1".to_string()),
            // What bin/taskmanager.sh would compute and pass as dynamic properties.
            ("taskmanager.cpu.cores".to_string(), "1".to_string()),
            (
                "taskmanager.memory.framework.heap.size".to_string(),
                "128m".to_string(),
            ),
            (
                "taskmanager.memory.task.heap.size".to_string(),
                "128m".to_string(),
            ),
            (
                "taskmanager.memory.managed.size".to_string(),
                "64m".to_string(),
            ),
            (
                "taskmanager.memory.network.min".to_string(),
                "64m".to_string(),
            ),
            (
                "taskmanager.memory.network.max".to_string(),
                "64m".to_string(),
            ),
            (
                "taskmanager.memory.framework.off-heap.size".to_string(),
                "128m".to_string(),
            ),
            (
                "taskmanager.memory.task.off-heap.size".to_string(),
                "0m".to_string(),
            ),
            (
                "taskmanager.memory.jvm-metaspace.size".to_string(),
                "256m".to_string(),
            ),
            (
                "taskmanager.memory.jvm-overhead.min".to_string(),
                "192m".to_string(),
            ),
            (
                "taskmanager.memory.jvm-overhead.max".to_string(),
                "192m".to_string(),
            ),
        ];
        for (k, v) in extra {
            conf.retain(|(key, _)| *key != k);
            conf.push((k, v));
        }
        let mut tm = spawn(
            jm.version,
            "org.apache.flink.runtime.taskexecutor.TaskManagerRunner",
            &conf,
            (&["-XX:MaxDirectMemorySize=256m".to_string()], &[], &[]),
            jm.ip,
            jm.rest_port,
        );
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let listed = format!("\"taskmanagers\":{registered}");
            let registered = http_get(jm.rest(), "/overview").is_some_and(|r| r.contains(&listed));
            let data_up = TcpStream::connect_timeout(
                &SocketAddr::from((data_ip, data_check)),
                Duration::from_millis(200),
            )
            .is_ok();
            if registered && data_up {
                return tm;
            }
            tm.fail_if_exited("TaskManager");
            assert!(
                Instant::now() < deadline,
                "TaskManager did not register within 180 s\n{}",
                tm.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A HistoryServer on `ip:port`, reading an empty archive directory.
    pub fn start_history_server(version: &'static str, ip: Ipv4Addr, port: u16) -> Flink {
        let archive = tempfile::tempdir().expect("archive dir");
        let flink = Flink::start_history_server_of(version, ip, port, archive.path());
        // Keep the archive dir alive as long as the process.
        std::mem::forget(archive);
        flink
    }

    /// A HistoryServer on `ip:port` reading `archive` (a JobManager's
    /// `jobmanager.archive.fs.dir`) every second.
    pub fn start_history_server_of(
        version: &'static str,
        ip: Ipv4Addr,
        port: u16,
        archive: &Path,
    ) -> Flink {
        let uri = format!("file://{}", archive.display());
        let conf = vec![
            ("historyserver.web.address".to_string(), ip.to_string()),
            ("historyserver.web.port".to_string(), port.to_string()),
            ("historyserver.archive.fs.dir".to_string(), uri.clone()),
            (
                "historyserver.archive.fs.refresh-interval".to_string(),
                "1000".to_string(),
            ),
            ("jobmanager.archive.fs.dir".to_string(), uri),
        ];
        let mut flink = spawn(
            version,
            "org.apache.flink.runtime.webmonitor.history.HistoryServer",
            &conf,
            (&[], &[], &[]),
            ip,
            port,
        );
        flink.wait_until(|r| r.starts_with("HTTP/1.1 200"), &[]);
        flink
    }

    /// Panic with the log if the process already died: no point waiting.
    fn fail_if_exited(&mut self, what: &str) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{what} exited early ({status})\n{}", self.log_tail());
        }
    }

    fn wait_until(&mut self, ready: fn(&str) -> bool, other_ports: &[u16]) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let resp = http_get(self.rest(), "/config");
            let ports_up = other_ports.iter().all(|p| {
                TcpStream::connect_timeout(
                    &SocketAddr::from((self.ip, *p)),
                    Duration::from_millis(200),
                )
                .is_ok()
            });
            if resp.as_deref().is_some_and(ready) && ports_up {
                return;
            }
            self.fail_if_exited("Flink");
            if Instant::now() > deadline {
                panic!(
                    "Flink {} on {} not ready within 180 s\n{}",
                    self.version,
                    self.rest(),
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// JVM options, extra classpath entries and program arguments.
type Launch<'a> = (&'a [String], &'a [PathBuf], &'a [String]);

fn spawn(
    version: &'static str,
    class: &str,
    conf: &[(String, String)],
    (jvm_opts, classpath, args): Launch<'_>,
    ip: Ipv4Addr,
    port: u16,
) -> Flink {
    let home = flink_home(version);
    let dir = tempfile::tempdir().expect("conf dir");
    let yaml = config_file_name(version) == "config.yaml";
    let mut text = String::new();
    for (k, v) in conf {
        if yaml {
            // The standard YAML parser (1.19+) would hand reporters an
            // Integer where they read a String property: quote every value.
            text.push_str(&format!(
                "{k}: \"{}\"\n",
                v.replace('\\', "\\\\").replace('"', "\\\"")
            ));
        } else {
            text.push_str(&format!("{k}: {v}\n"));
        }
    }
    std::fs::write(dir.path().join(config_file_name(version)), text).expect("write conf");
    std::fs::write(dir.path().join("log4j.properties"), LOG4J).expect("write log4j");
    let stdout = std::fs::File::create(dir.path().join("stdout.txt")).expect("stdout file");
    let stderr = stdout.try_clone().expect("stderr file");
    let mut cmd = Command::new(super::must_find(
        "java",
        "the Debian package openjdk-17-jdk-headless",
    ));
    cmd.args(JAVA17_OPTS)
        .args([
            "-Xmx512m",
            "-Xms128m",
            "-XX:MaxMetaspaceSize=256m",
            "-XX:+UseSerialGC",
            // C1 only: Flink is ready in ~60% of the time on two cores.
            "-XX:TieredStopAtLevel=1",
            "-XX:-UsePerfData",
        ])
        // Keep Flink's unpacked jars out of /tmp; the dir goes with the handle.
        .arg(format!("-Djava.io.tmpdir={}", dir.path().display()))
        .args(jvm_opts)
        // Metric reporters (Prometheus, JMX) load from plugins/.
        .env("FLINK_PLUGINS_DIR", home.join("plugins"))
        .arg(format!(
            "-Dlog.file={}",
            dir.path().join("flink.log").display()
        ))
        .arg(format!(
            "-Dlog4j.configurationFile=file:{}",
            dir.path().join("log4j.properties").display()
        ))
        .arg("-cp")
        .arg(
            std::iter::once(format!("{}/lib/*", home.display()))
                .chain(classpath.iter().map(|p| p.display().to_string()))
                .collect::<Vec<_>>()
                .join(":"),
        )
        .arg(class)
        .arg("--configDir")
        .arg(dir.path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    let child = cmd.spawn().expect("start java");
    Flink {
        ip,
        rest_port: port,
        version,
        dir,
        child,
    }
}

impl Drop for Flink {
    fn drop(&mut self) {
        // Its own process group (pgid = pid). Spelled `kill -s KILL -- -PGID`:
        // procps' kill reads `kill -KILL -PGID` as kill(-1), which kills
        // every process on the machine.
        let pgid = self.child.id();
        if pgid > 1 {
            let _ = Command::new("sh")
                .args([
                    "-c",
                    "kill -s KILL -- \"-$1\"",
                    "kill-flink",
                    &pgid.to_string(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port that was free a moment ago (for reporters that bind 0.0.0.0).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Minimal HTTP/1.0 GET for readiness polling (plain HTTP only).
pub fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .ok()?;
    let mut buf = Vec::new();
    let _ = s.take(1 << 20).read_to_end(&mut buf);
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// A PKCS12 keystore and truststore made with keytool (ships with Java).
pub struct TlsMaterial {
    pub keystore: PathBuf,
    pub truststore: PathBuf,
    pub password: &'static str,
    _dir: tempfile::TempDir,
}

pub fn tls_material() -> TlsMaterial {
    let dir = tempfile::tempdir().expect("tls dir");
    let ks = dir.path().join("keystore.p12");
    let ts = dir.path().join("truststore.p12");
    let pem = dir.path().join("cert.pem");
    let keytool = super::must_find("keytool", "the Debian package openjdk-17-jdk-headless");
    let run = |args: &[&str]| {
        let st = Command::new(&keytool)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("keytool");
        assert!(st.success(), "keytool {args:?}");
    };
    let (ks_s, ts_s, pem_s) = (
        ks.to_str().unwrap(),
        ts.to_str().unwrap(),
        pem.to_str().unwrap(),
    );
    run(&[
        "-genkeypair",
        "-alias",
        "flink",
        "-keyalg",
        "RSA",
        "-keysize",
        "2048",
        "-validity",
        "365",
        "-dname",
        "CN=flink.test",
        "-ext",
        "SAN=dns:flink.test,ip:127.0.0.1",
        "-keystore",
        ks_s,
        "-storetype",
        "PKCS12",
        "-storepass",
        "changeit",
        "-keypass",
        "changeit",
    ]);
    run(&[
        "-exportcert",
        "-alias",
        "flink",
        "-keystore",
        ks_s,
        "-storepass",
        "changeit",
        "-rfc",
        "-file",
        pem_s,
    ]);
    run(&[
        "-importcert",
        "-noprompt",
        "-alias",
        "flink",
        "-file",
        pem_s,
        "-keystore",
        ts_s,
        "-storetype",
        "PKCS12",
        "-storepass",
        "changeit",
    ]);
    TlsMaterial {
        keystore: ks,
        truststore: ts,
        password: "changeit",
        _dir: dir,
    }
}

fn ssl_keys(prefix: &str, m: &TlsMaterial) -> Vec<(String, String)> {
    vec![
        (
            format!("{prefix}.keystore"),
            m.keystore.display().to_string(),
        ),
        (format!("{prefix}.keystore-password"), m.password.into()),
        (format!("{prefix}.key-password"), m.password.into()),
        (
            format!("{prefix}.truststore"),
            m.truststore.display().to_string(),
        ),
        (format!("{prefix}.truststore-password"), m.password.into()),
    ]
}

/// REST over TLS, any client (server-only SSL).
pub fn rest_ssl(m: &TlsMaterial) -> Vec<(String, String)> {
    let mut v = vec![("security.ssl.rest.enabled".to_string(), "true".to_string())];
    v.extend(ssl_keys("security.ssl.rest", m));
    v
}

/// REST over TLS with client certificates required (mutual TLS).
pub fn rest_mtls(m: &TlsMaterial) -> Vec<(String, String)> {
    let mut v = rest_ssl(m);
    v.push((
        "security.ssl.rest.authentication-enabled".into(),
        "true".into(),
    ));
    v
}

/// Internal SSL: RPC and BLOB over mutual TLS.
pub fn internal_ssl(m: &TlsMaterial) -> Vec<(String, String)> {
    let mut v = vec![(
        "security.ssl.internal.enabled".to_string(),
        "true".to_string(),
    )];
    v.extend(ssl_keys("security.ssl.internal", m));
    v
}

/// Run the flinkscan binary and return the parsed --json report plus the
/// raw bytes of every output, for redaction checks.
pub struct ScanOutput {
    pub json: serde_json::Value,
    pub raw: Vec<(String, Vec<u8>)>,
}

pub fn scan(targets: &[String], extra: &[&str]) -> ScanOutput {
    let ran = super::scan::Scan::new()
        .targets(targets)
        .args(["--probe-timeout", "5s"])
        .args(extra)
        .json()
        .jsonl()
        .sarif()
        .arg("--no-color")
        .limit(Duration::from_secs(240))
        .run();
    assert!(
        ran.code == Some(0) || ran.code == Some(1),
        "flinkscan failed: {}",
        ran.stderr
    );
    // Every real-Flink scan's stream must be what a SIEM expects.
    if !extra.contains(&"ocsf") {
        for line in ran.text(Output::Jsonl).lines() {
            super::ecs::assert_ecs_line(line);
        }
    }
    ScanOutput {
        json: ran.json().clone(),
        raw: vec![
            ("json".into(), ran.bytes(Output::Json)),
            ("jsonl".into(), ran.bytes(Output::Jsonl)),
            ("sarif".into(), ran.bytes(Output::Sarif)),
            ("stdout".into(), ran.stdout.clone().into_bytes()),
            ("stderr".into(), ran.stderr.clone().into_bytes()),
        ],
    }
}

/// The bytes of an output file the scan was asked to write. A missing output
/// is a failure naming the file, never an empty read: "absent from every
/// output" must not pass on an output that was never written.
pub fn read_output(path: &Path, stderr: &[u8]) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "expected output {} was not written ({e}); flinkscan stderr: {}",
            path.display(),
            String::from_utf8_lossy(stderr)
        )
    })
}

impl ScanOutput {
    pub fn service(&self, port: u16) -> &serde_json::Value {
        self.json["services"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["port"] == port))
            .unwrap_or_else(|| panic!("no service on port {port}: {}", self.json["services"]))
    }

    pub fn rules_at(&self, port: u16) -> Vec<String> {
        self.json["findings"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|f| f["port"] == port)
                    .map(|f| f["rule_id"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// One output (json, jsonl, sarif, stdout, stderr) as text; an unknown
    /// name panics rather than reading as empty.
    pub fn text(&self, name: &str) -> String {
        self.raw
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_else(|| panic!("no output named {name}"))
    }

    /// Panics if `needle` appears in any output.
    pub fn assert_absent(&self, needle: &str) {
        for (name, bytes) in &self.raw {
            assert!(
                !String::from_utf8_lossy(bytes).contains(needle),
                "{needle} leaked into {name}"
            );
        }
    }
}
