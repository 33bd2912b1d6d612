//! The one way the tests run the flinkscan binary: a builder for the command
//! line ([`Scan`]), then [`Scan::run`] (wait for it, with a deadline) or
//! [`Scan::spawn`] (a [`Running`] scan to signal and watch) and a [`Ran`]
//! with the exit code, stdout, stderr and the outputs it was asked for.
//!
//! The builder adds nothing a test did not ask for: `Scan::new()` is
//! `flinkscan scan` and each area spells out its own options, so a test that
//! checks a default (progress lines, colour, quiet) still sees it. Outputs
//! asked for with [`Scan::json`], [`Scan::sarif`], [`Scan::jsonl`] go after
//! every other argument, as `DIR/NAME.EXT` (a private temporary directory
//! unless [`Scan::out_dir`] names one). Reading one that was not written fails
//! naming the file and the scan's stderr: "absent from every output" must not
//! pass on an output that was never written.

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long [`Scan::run`] waits unless told otherwise.
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(300);

/// An output the runner places and reads back: its flag and file extension.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Output {
    Json,
    Sarif,
    Jsonl,
}

impl Output {
    fn flag(self) -> &'static str {
        match self {
            Output::Json => "--json",
            Output::Sarif => "--sarif",
            Output::Jsonl => "--jsonl",
        }
    }

    fn ext(self) -> &'static str {
        match self {
            Output::Json => "json",
            Output::Sarif => "sarif",
            Output::Jsonl => "jsonl",
        }
    }
}

enum Input {
    Null,
    Text(String),
    Stdio(Stdio),
}

/// A flinkscan command line being built.
pub struct Scan {
    /// Arguments before the binary's own (a wrapper such as `bash -c`).
    program: Option<(PathBuf, Vec<OsString>)>,
    args: Vec<OsString>,
    outputs: Vec<Output>,
    out_dir: Option<(PathBuf, String)>,
    env: Vec<(OsString, Option<OsString>)>,
    cwd: Option<PathBuf>,
    stdin: Input,
    stdout_closed: bool,
    limit: Duration,
}

impl Default for Scan {
    fn default() -> Self {
        Scan::new()
    }
}

impl Scan {
    /// `flinkscan scan`.
    pub fn new() -> Scan {
        Scan::command("scan")
    }

    /// `flinkscan SUBCOMMAND` (`report`, `merge`, ...), same runner.
    pub fn command(subcommand: &str) -> Scan {
        Scan::binary().arg(subcommand)
    }

    /// The binary with no argument yet: for a test that writes the whole
    /// command line itself.
    pub fn binary() -> Scan {
        Scan {
            program: None,
            args: Vec::new(),
            outputs: Vec::new(),
            out_dir: None,
            env: Vec::new(),
            cwd: None,
            stdin: Input::Null,
            stdout_closed: false,
            limit: DEFAULT_LIMIT,
        }
    }

    /// The loopback preset most areas use: `flinkscan scan --no-progress
    /// --no-color --probe-timeout 2s` (a later `--probe-timeout` wins).
    pub fn loopback() -> Scan {
        Scan::new().args(["--no-progress", "--no-color", "--probe-timeout", "2s"])
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Scan {
        self.args.push(a.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, list: I) -> Scan
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(list.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// A target; only loopback addresses or names (checked when the target
    /// is an address, with or without a port or prefix length).
    pub fn target(self, t: impl AsRef<str>) -> Scan {
        let t = t.as_ref();
        assert_loopback(t);
        self.arg(t)
    }

    pub fn targets<I, S>(self, list: I) -> Scan
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        list.into_iter().fold(self, |s, t| s.target(t))
    }

    /// `--ports LIST`.
    pub fn ports(self, list: impl AsRef<str>) -> Scan {
        self.args(["--ports", list.as_ref()])
    }

    /// Ask for `--json DIR/NAME.json`, read back by [`Ran::json`].
    pub fn json(self) -> Scan {
        self.output(Output::Json)
    }

    /// Ask for `--sarif DIR/NAME.sarif`, read back by [`Ran::sarif`].
    pub fn sarif(self) -> Scan {
        self.output(Output::Sarif)
    }

    /// Ask for `--jsonl DIR/NAME.jsonl`, read back by [`Ran::jsonl`].
    pub fn jsonl(self) -> Scan {
        self.output(Output::Jsonl)
    }

    pub fn output(mut self, o: Output) -> Scan {
        if !self.outputs.contains(&o) {
            self.outputs.push(o);
        }
        self
    }

    /// Outputs go to `dir/name.EXT` (the test keeps `dir`) instead of a
    /// private temporary directory.
    pub fn out_dir(mut self, dir: &Path, name: &str) -> Scan {
        self.out_dir = Some((dir.to_path_buf(), name.to_string()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Scan {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Scan {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Scan {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    /// `text` on stdin, then end of file (stdin is empty otherwise).
    pub fn stdin(mut self, text: impl Into<String>) -> Scan {
        self.stdin = Input::Text(text.into());
        self
    }

    /// Stdin from `source` (a file, a pipe the test holds).
    pub fn stdin_from(mut self, source: Stdio) -> Scan {
        self.stdin = Input::Stdio(source);
        self
    }

    /// Stdout a pipe whose reader is gone before the scan writes a byte,
    /// as with `flinkscan ... | head -0`.
    pub fn stdout_closed(mut self) -> Scan {
        self.stdout_closed = true;
        self
    }

    /// Run the binary through `program` with `pre` before its path, e.g.
    /// `bash -c 'ulimit ...; exec "$0" "$@"'`.
    pub fn via<I, S>(mut self, program: impl AsRef<Path>, pre: I) -> Scan
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let pre = pre.into_iter().map(|a| a.as_ref().to_owned()).collect();
        self.program = Some((program.as_ref().to_path_buf(), pre));
        self
    }

    /// How long [`Scan::run`] waits before it kills the scan and fails.
    pub fn limit(mut self, limit: Duration) -> Scan {
        self.limit = limit;
        self
    }

    /// Start the scan and wait for it (at most the limit); the exit code is
    /// the caller's to judge.
    pub fn run(self) -> Ran {
        let limit = self.limit;
        self.spawn().wait(limit)
    }

    /// Start the scan: stdout and stderr are read by threads as it runs.
    pub fn spawn(self) -> Running {
        let bin = assert_cmd::cargo::cargo_bin("flinkscan");
        let (dir, name, temp) = match self.out_dir {
            Some((dir, name)) => (dir, name, None),
            None => {
                let t = tempfile::tempdir().expect("a directory for the outputs");
                (t.path().to_path_buf(), "scan".to_string(), Some(t))
            }
        };
        let outputs: Vec<(Output, PathBuf)> = self
            .outputs
            .iter()
            .map(|&o| (o, dir.join(format!("{name}.{}", o.ext()))))
            .collect();
        let mut cmd = match &self.program {
            Some((program, pre)) => {
                let mut c = Command::new(program);
                c.args(pre).arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        cmd.args(&self.args);
        for (o, path) in &outputs {
            cmd.arg(o.flag()).arg(path);
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(cwd) = &self.cwd {
            cmd.current_dir(cwd);
        }
        let text = match self.stdin {
            Input::Null => {
                cmd.stdin(Stdio::null());
                None
            }
            Input::Text(t) => {
                cmd.stdin(Stdio::piped());
                Some(t)
            }
            Input::Stdio(s) => {
                cmd.stdin(s);
                None
            }
        };
        let started = Instant::now();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        if let Some(text) = text {
            let mut w = child.stdin.take().expect("stdin pipe");
            // A scan that exits before reading all of it closes the pipe.
            let _ = w.write_all(text.as_bytes());
        }
        let stdout_pipe = child.stdout.take().expect("stdout pipe");
        let stdout = if self.stdout_closed {
            drop(stdout_pipe);
            None
        } else {
            Some(collect(stdout_pipe, Arc::new(Mutex::new(Vec::new()))))
        };
        let stderr_so_far = Arc::new(Mutex::new(Vec::new()));
        let stderr = Some(collect(
            child.stderr.take().expect("stderr pipe"),
            Arc::clone(&stderr_so_far),
        ));
        Running {
            child,
            stdout,
            stderr,
            stderr_so_far,
            started,
            outputs,
            temp,
        }
    }
}

/// Reads `r` to its end into `so_far` (shared, so a test can watch stderr
/// while the scan runs); the thread returns the whole text.
fn collect(
    mut r: impl Read + Send + 'static,
    so_far: Arc<Mutex<Vec<u8>>>,
) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => so_far
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&buf[..n]),
            }
        }
        let all = so_far.lock().unwrap_or_else(|e| e.into_inner());
        all.clone()
    })
}

/// Fails when `t` is an IP address (bare, `IP:PORT`, `[IP]:PORT`, `IP/LEN`
/// or a `A-B` range's start) outside loopback: tests scan loopback only.
fn assert_loopback(t: &str) {
    let host = t.trim_start_matches('[');
    let host = host.split([']', '/', '-']).next().unwrap_or(host);
    let ip = host.parse::<std::net::IpAddr>().ok().or_else(|| {
        host.rsplit_once(':')
            .and_then(|(h, _)| h.parse::<std::net::Ipv4Addr>().ok().map(Into::into))
    });
    if let Some(ip) = ip {
        assert!(ip.is_loopback(), "tests scan loopback only, not {t}");
    }
}

/// A scan that is running.
pub struct Running {
    child: Child,
    stdout: Option<thread::JoinHandle<Vec<u8>>>,
    stderr: Option<thread::JoinHandle<Vec<u8>>>,
    stderr_so_far: Arc<Mutex<Vec<u8>>>,
    started: Instant,
    outputs: Vec<(Output, PathBuf)>,
    temp: Option<tempfile::TempDir>,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send signal `name` (TERM, INT, HUP, KILL) with the `kill` program,
    /// as an operator would.
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("the `kill` program (procps) is needed to send signals")
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// Stderr so far.
    pub fn stderr_so_far(&self) -> String {
        let bytes = self.stderr_so_far.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }

    pub fn stderr_has(&self, text: &str) -> bool {
        self.stderr_so_far().contains(text)
    }

    /// SIGKILL (nothing runs on the way out); reaps it and returns how it
    /// ended.
    pub fn kill(&mut self) -> std::process::ExitStatus {
        self.child.kill().expect("kill the scan");
        self.child.wait().expect("reap the scan")
    }

    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("poll the scan").is_none()
    }

    /// Where output `o` goes.
    pub fn path(&self, o: Output) -> &Path {
        output_path(&self.outputs, o)
    }

    /// Wait for the exit (polling, so a hung scan fails the test after
    /// `limit`, with its stderr, instead of hanging it).
    pub fn wait(mut self, limit: Duration) -> Ran {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("poll the scan") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "flinkscan still running after {limit:?}: {}",
                    self.stderr_so_far()
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        let took = self.started.elapsed();
        let text = |h: Option<thread::JoinHandle<Vec<u8>>>| {
            h.map(|h| String::from_utf8_lossy(&h.join().expect("reader")).into_owned())
                .unwrap_or_default()
        };
        let stdout = text(self.stdout.take());
        let stderr = text(self.stderr.take());
        Ran {
            code: status.code(),
            stdout,
            stderr,
            took,
            outputs: std::mem::take(&mut self.outputs),
            _temp: self.temp.take(),
            json: OnceLock::new(),
            sarif: OnceLock::new(),
            jsonl: OnceLock::new(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn output_path(outputs: &[(Output, PathBuf)], o: Output) -> &Path {
    outputs
        .iter()
        .find(|(x, _)| *x == o)
        .map(|(_, p)| p.as_path())
        .unwrap_or_else(|| panic!("the scan was not asked for {}", o.flag()))
}

/// What a finished scan left: exit code (None: killed by a signal), stdout,
/// stderr, how long it took, and the outputs asked for.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
    outputs: Vec<(Output, PathBuf)>,
    _temp: Option<tempfile::TempDir>,
    json: OnceLock<Value>,
    sarif: OnceLock<Value>,
    jsonl: OnceLock<Vec<Value>>,
}

impl Ran {
    /// Where output `o` was written.
    pub fn path(&self, o: Output) -> &Path {
        output_path(&self.outputs, o)
    }

    /// The bytes of output `o`; a missing file fails naming it.
    pub fn bytes(&self, o: Output) -> Vec<u8> {
        let path = self.path(o);
        std::fs::read(path).unwrap_or_else(|e| {
            panic!(
                "expected output {} was not written ({e}); flinkscan stderr: {}",
                path.display(),
                self.stderr
            )
        })
    }

    /// Output `o` as text.
    pub fn text(&self, o: Output) -> String {
        String::from_utf8_lossy(&self.bytes(o)).into_owned()
    }

    /// The `--json` report.
    pub fn json(&self) -> &Value {
        self.json.get_or_init(|| self.parse(Output::Json))
    }

    /// The `--sarif` log.
    pub fn sarif(&self) -> &Value {
        self.sarif.get_or_init(|| self.parse(Output::Sarif))
    }

    /// Every `--jsonl` line, parsed; a torn last line fails.
    pub fn jsonl(&self) -> &[Value] {
        self.jsonl.get_or_init(|| {
            let text = self.text(Output::Jsonl);
            assert!(
                text.is_empty() || text.ends_with('\n'),
                "last JSON Lines line cut: {text}"
            );
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
                .collect()
        })
    }

    fn parse(&self, o: Output) -> Value {
        serde_json::from_slice(&self.bytes(o)).unwrap_or_else(|e| {
            panic!(
                "{} is not JSON ({e}); flinkscan stderr: {}",
                self.path(o).display(),
                self.stderr
            )
        })
    }

    /// The service at `addr` in the JSON report, or a failure listing them.
    pub fn service(&self, addr: std::net::SocketAddr) -> &Value {
        super::peers::service_at(self.json(), addr)
    }
}

/// `flinkscan scan --no-progress --no-color --probe-timeout 2s ARGS --json
/// DIR/NAME.json` against loopback peers. ARGS are targets and options (a
/// later `--probe-timeout` wins). The report must exist whatever the exit
/// code; the caller judges the code.
pub fn scan_to(dir: &Path, name: &str, args: &[&str]) -> Ran {
    let ran = Scan::loopback().args(args).out_dir(dir, name).json().run();
    ran.json();
    ran
}

#[cfg(test)]
mod tests {
    use super::assert_loopback;

    #[test]
    fn loopback_targets_pass() {
        for t in [
            "127.0.0.1",
            "127.3.4.5:8081",
            "[::1]:80",
            "127.9.0.0/24",
            "127.1.1.1-20",
            "::1",
            "flink.test",
        ] {
            assert_loopback(t);
        }
    }

    #[test]
    #[should_panic(expected = "loopback only")]
    fn other_targets_fail() {
        assert_loopback("192.0.2.1:8081");
    }

    /// An output the scan never wrote is a failure naming it, never an
    /// empty read (a usage error stops before anything is written).
    #[test]
    #[should_panic(expected = "was not written")]
    fn an_output_never_written_fails_naming_it() {
        let ran = super::Scan::new().arg("--no-such-flag").json().run();
        assert_eq!(ran.code, Some(2), "{}", ran.stderr);
        ran.json();
    }
}
