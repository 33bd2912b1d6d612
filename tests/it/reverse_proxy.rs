//! Flink behind a reverse proxy: Debian's real nginx serves a real Flink
//! JobManager under `/flink/` (and again under `/private/`, behind HTTP
//! Basic authentication) on a port whose `/config` answers 404. Found from
//! a URL target and by prefix discovery from the bare `host:port`; the
//! authenticated location stays "behind an authenticating proxy", never
//! open. Loopback only: nginx and Flink each on their own 127.x address.

use crate::support;

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::flink::{self, Flink, FlinkOpts, ScanOutput};

const VERSION: &str = "1.20.1";
const PROXY_PORT: u16 = 8080;
/// A proxy whose root redirects to Flink's prefix (not in the built-in list).
const REDIRECT_PORT: u16 = 8090;
/// A proxy whose root page links to Flink's prefix (not in the built-in list).
const LINK_PORT: u16 = 8091;

/// nginx, stopped on drop.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_nginx(
    nginx: &std::path::Path,
    dir: &std::path::Path,
    ip: Ipv4Addr,
    jm: SocketAddr,
) -> Nginx {
    let root = dir.join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("index.html"),
        "<html><body>intranet</body></html>",
    )
    .unwrap();
    let portal = dir.join("portal");
    std::fs::create_dir_all(&portal).unwrap();
    std::fs::write(
        portal.join("index.html"),
        "<html><body><a href=\"/wiki/\">wiki</a> <a href=\"/streaming/#/overview\">jobs</a></body></html>",
    )
    .unwrap();
    // nginx reads `{PLAIN}` passwords from an auth_basic_user_file.
    std::fs::write(dir.join("htpasswd"), "ops:{PLAIN}not-a-real-secret\n").unwrap();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d};\n\
             fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n\
             server {{ listen {ip}:{PROXY_PORT}; root {r};\n\
               location /flink/ {{ proxy_pass http://{jm}/; }}\n\
               location /private/ {{ auth_basic \"flink\"; auth_basic_user_file {d}/htpasswd;\n\
                 proxy_pass http://{jm}/; }}\n\
             }}\n\
             server {{ listen {ip}:{REDIRECT_PORT}; root {r};\n\
               location = / {{ return 302 /jobs-ui/; }}\n\
               location /jobs-ui/ {{ proxy_pass http://{jm}/; }}\n\
             }}\n\
             server {{ listen {ip}:{LINK_PORT}; root {p};\n\
               location /streaming/ {{ proxy_pass http://{jm}/; }}\n\
             }} }}\n",
            d = dir.display(),
            r = root.display(),
            p = portal.display(),
        ),
    )
    .unwrap();
    let child = Command::new(nginx)
        .args(["-c", conf.to_str().unwrap(), "-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for port in [PROXY_PORT, REDIRECT_PORT, LINK_PORT] {
        let addr = SocketAddr::from((ip, port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "nginx on {addr} never came up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Nginx(child)
}

fn services_at(out: &ScanOutput, port: u16) -> Vec<&serde_json::Value> {
    out.json["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["port"] == port)
        .collect()
}

/// The JobManager under `/flink`, as the report shows it.
fn flink_under_prefix(out: &ScanOutput, ip: Ipv4Addr) -> &serde_json::Value {
    let found = services_at(out, PROXY_PORT)
        .into_iter()
        .find(|s| s["base_path"] == "/flink")
        .unwrap_or_else(|| panic!("no service under /flink: {:#}", out.json["services"]));
    assert_eq!(found["kind"], "jobmanager-rest", "{found:#}");
    assert_eq!(found["flink"], true);
    assert_eq!(found["version"], VERSION);
    assert_eq!(found["ip"], ip.to_string());
    found
}

/// Every finding on the proxied JobManager carries the full URL, in JSON,
/// SARIF and the JSON Lines stream.
fn findings_name_the_full_url(out: &ScanOutput, ip: Ipv4Addr) {
    let base = format!("http://{ip}:{PROXY_PORT}/flink/");
    let findings: Vec<&serde_json::Value> = out.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["port"] == PROXY_PORT)
        .collect();
    assert!(
        findings
            .iter()
            .any(|f| f["rule_id"] == "FLINK-REST-UNAUTHENTICATED"),
        "{findings:#?}"
    );
    for f in &findings {
        let url = f["url"].as_str().unwrap();
        assert!(url.starts_with(base.trim_end_matches('/')), "{url}");
    }
    let sarif: serde_json::Value = serde_json::from_str(&out.text("sarif")).unwrap();
    let uris: Vec<String> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        !uris.is_empty()
            && uris
                .iter()
                .all(|u| u.starts_with(base.trim_end_matches('/'))),
        "{uris:?}"
    );
    let jsonl = out.text("jsonl");
    let full: Vec<String> = jsonl
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|e| e["url"]["full"].as_str().map(str::to_string))
        .collect();
    assert!(full.iter().any(|u| u == &base), "{full:?}");
}

#[test]
fn flink_behind_nginx_is_found_from_a_url_and_by_discovery() {
    let Some(nginx) = support::require("nginx", "the Debian package nginx-light") else {
        return;
    };
    let jm = Flink::start_jobmanager(FlinkOpts::new(VERSION));
    let proxy_ip = flink::unique_loopback();
    let dir = tempfile::tempdir().unwrap();
    let _nginx = start_nginx(&nginx, dir.path(), proxy_ip, jm.rest());
    // The proxy's root is not Flink: discovery has something to do.
    let root = flink::http_get(SocketAddr::from((proxy_ip, PROXY_PORT)), "/config").unwrap();
    assert!(root.starts_with("HTTP/1.1 404"), "{root}");

    // URL targets: the open location and the authenticated one.
    let open_url = format!("http://{proxy_ip}:{PROXY_PORT}/flink/");
    let private_url = format!("http://{proxy_ip}:{PROXY_PORT}/private/");
    let out = flink::scan(
        &[open_url.clone(), private_url],
        &["--no-progress", "--no-follow"],
    );
    flink_under_prefix(&out, proxy_ip);
    findings_name_the_full_url(&out, proxy_ip);
    let private = services_at(&out, PROXY_PORT)
        .into_iter()
        .find(|s| s["base_path"] == "/private")
        .unwrap_or_else(|| panic!("{:#}", out.json["services"]));
    assert_eq!(private["flink"], false, "{private:#}");
    assert_eq!(private["kind"], "other-http");
    assert!(
        private["product"]
            .as_str()
            .unwrap()
            .contains("behind an authenticating proxy"),
        "{private:#}"
    );
    assert!(
        !out.json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["url"].as_str().unwrap().contains("/private")),
        "the authenticated location reported open: {:#}",
        out.json["findings"]
    );
    out.assert_absent("not-a-real-secret");

    // The bare host:port: found by discovery under /flink.
    let bare = format!("{proxy_ip}:{PROXY_PORT}");
    let out = flink::scan(
        std::slice::from_ref(&bare),
        &["--no-progress", "--no-follow"],
    );
    let found = flink_under_prefix(&out, proxy_ip);
    assert!(
        found["evidence"][0]["excerpt"]
            .as_str()
            .unwrap()
            .contains("/flink/"),
        "{found:#}"
    );
    findings_name_the_full_url(&out, proxy_ip);
    let bare_out = out;

    // The URL target and the bare host:port in one scan find the same
    // JobManager under /flink: one service, each finding once.
    let out = flink::scan(
        &[bare.clone(), open_url.clone()],
        &["--no-progress", "--no-follow"],
    );
    flink_under_prefix(&out, proxy_ip);
    let under: Vec<_> = services_at(&out, PROXY_PORT)
        .into_iter()
        .filter(|s| s["base_path"] == "/flink")
        .collect();
    assert_eq!(under.len(), 1, "{under:#?}");
    let findings = |out: &ScanOutput| out.json["findings"].as_array().map_or(0, Vec::len);
    assert!(findings(&out) > 0);
    assert_eq!(
        findings(&out),
        findings(&bare_out),
        "{:#}",
        out.json["findings"]
    );

    // A same-host redirect from the root, and a link in the root page,
    // name prefixes the built-in list does not hold.
    let out = flink::scan(
        &[
            format!("{proxy_ip}:{REDIRECT_PORT}"),
            format!("{proxy_ip}:{LINK_PORT}"),
        ],
        &["--no-progress", "--no-follow"],
    );
    for (port, prefix) in [(REDIRECT_PORT, "/jobs-ui"), (LINK_PORT, "/streaming")] {
        let s = services_at(&out, port);
        assert_eq!(s.len(), 1, "{s:#?}");
        assert_eq!(s[0]["base_path"], prefix, "{:#}", s[0]);
        assert_eq!(s[0]["kind"], "jobmanager-rest");
    }

    // Without discovery the same port is only nginx, and clean.
    let out = flink::scan(
        &[bare],
        &["--no-progress", "--no-follow", "--no-prefix-discovery"],
    );
    let only = services_at(&out, PROXY_PORT);
    assert_eq!(only.len(), 1, "{only:#?}");
    assert_eq!(only[0]["kind"], "other-http");
    assert!(only[0].get("base_path").is_none());
    assert_eq!(out.json["findings"], serde_json::json!([]));
}

/// A port entirely behind Basic authentication is an authenticating
/// proxy at its root too, and discovery does not look past it.
#[test]
fn a_root_behind_basic_auth_is_an_authenticating_proxy() {
    let Some(nginx) = support::require("nginx", "the Debian package nginx-light") else {
        return;
    };
    let ip = flink::unique_loopback();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(dir.path().join("htpasswd"), "ops:{PLAIN}x\n").unwrap();
    let conf = dir.path().join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d};\n\
             fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n\
             server {{ listen {ip}:{PROXY_PORT}; root {r};\n\
               auth_basic \"jobs\"; auth_basic_user_file {d}/htpasswd; }} }}\n",
            d = dir.path().display(),
            r = root.display(),
        ),
    )
    .unwrap();
    let _nginx = Nginx(
        Command::new(&nginx)
            .args(["-c", conf.to_str().unwrap(), "-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let addr = SocketAddr::from((ip, PROXY_PORT));
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "nginx on {addr} never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = flink::scan(&[addr.to_string()], &["--no-progress"]);
    let s = out.service(PROXY_PORT);
    assert_eq!(s["flink"], false);
    assert!(s.get("base_path").is_none(), "{s:#}");
    assert!(
        s["product"]
            .as_str()
            .unwrap()
            .contains("behind an authenticating proxy (HTTP Basic"),
        "{s:#}"
    );
    assert_eq!(out.json["findings"], serde_json::json!([]));
}
