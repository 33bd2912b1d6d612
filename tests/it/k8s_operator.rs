//! The Flink Kubernetes Operator's surfaces, end to end through the binary:
//! replays built from the operator's source (tests/fixtures/k8s-operator/
//! operator_replay.py; no operator runs without Kubernetes) of its admission
//! webhook over TLS (an openssl-made certificate for the name cert-manager
//! gives it), its health probe and its Prometheus metrics, each on its
//! default port of one loopback address; and look-alikes that must not be
//! called the operator. Loopback only, only the ports the replays hold.

use crate::support;

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::flink::{self, Flink, FlinkOpts};
use support::peers::rule_ids;
use support::scan::scan_to;

const SERVICE_NAME: &str = "flink-operator-webhook-service.flink-operator.svc";

struct Replay(Child);

impl Drop for Replay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(
    python: &Path,
    ip: Ipv4Addr,
    port: u16,
    mode: &str,
    tls: Option<(&Path, &Path)>,
) -> Replay {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/k8s-operator/operator_replay.py"
    );
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .arg(ip.to_string())
        .arg(port.to_string())
        .arg(mode);
    if let Some((cert, key)) = tls {
        cmd.arg(cert).arg(key);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the operator replay");
    let r = Replay(child);
    let addr = SocketAddr::from((ip, port));
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{mode} replay never came up on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    r
}

/// A self-signed certificate for the webhook's service name, made with openssl.
fn webhook_certificate(openssl: &Path, dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert = dir.join("webhook.pem");
    let key = dir.join("webhook.key");
    let st = Command::new(openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args(["-subj", "/CN=FlinkDeployment Validator", "-addext"])
        .arg(format!(
            "subjectAltName=DNS:{SERVICE_NAME},DNS:{SERVICE_NAME}.cluster.local"
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(st.success(), "openssl req failed");
    (cert, key)
}

/// A port free on `ip` a moment ago.
fn free_port(ip: Ipv4Addr) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

fn findings_at(doc: &Value, port: u16) -> Vec<&Value> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["port"] == port)
        .collect()
}

#[test]
fn operator_webhook_health_and_metrics_are_identified_and_reported() {
    let Some(python) = support::require("python3", "the Debian package python3") else {
        return;
    };
    let Some(openssl) = support::require("openssl", "the Debian package openssl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = webhook_certificate(&openssl, dir.path());
    // The operator's defaults: webhook 9443, health 8085, metrics 9999, on a
    // loopback address of this test's own.
    let ip = flink::unique_loopback();
    let _webhook = start(&python, ip, 9443, "webhook", Some((&cert, &key)));
    let _health = start(&python, ip, 8085, "health", None);
    let _metrics = start(&python, ip, 9999, "metrics", None);

    let run = scan_to(
        dir.path(),
        "operator",
        &[
            &ip.to_string(),
            "--ports",
            "9443,8085,9999",
            "--probe-timeout",
            "5s",
        ],
    );
    assert!(matches!(run.code, Some(0) | Some(1)), "{}", run.stderr);
    let doc = run.json();

    let webhook = run.service(SocketAddr::from((ip, 9443)));
    assert_eq!(webhook["kind"], "k8s-operator-webhook", "{webhook:#}");
    assert_eq!(webhook["flink"], true);
    assert!(webhook["tls"].is_object(), "{webhook:#}");
    assert_eq!(
        webhook["confidence"], 95,
        "the certificate names the webhook service"
    );
    assert!(
        webhook.get("version").is_none(),
        "never guessed: {webhook:#}"
    );

    let health = run.service(SocketAddr::from((ip, 8085)));
    assert_eq!(health["kind"], "k8s-operator-health", "{health:#}");
    assert_eq!(health["flink"], true, "next to the webhook: {health:#}");
    assert_eq!(health["product"], "Flink Kubernetes Operator health probe");

    let metrics = run.service(SocketAddr::from((ip, 9999)));
    assert_eq!(metrics["kind"], "k8s-operator-metrics", "{metrics:#}");
    assert_eq!(metrics["operator"]["namespace"], "flink-operator");
    assert_eq!(metrics["operator"]["managed_namespaces"][0], "payments");

    let at = |port| -> Vec<String> {
        findings_at(doc, port)
            .iter()
            .map(|f| f["rule_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        at(9443).contains(&"FLINK-K8S-OPERATOR-WEBHOOK-EXPOSED".to_string()),
        "{:?}",
        at(9443)
    );
    // cert-manager's self-signed issuer is the chart's default, and the API
    // server calls the webhook by service name: information, not a flaw.
    for f in findings_at(doc, 9443) {
        let rule = f["rule_id"].as_str().unwrap();
        if rule == "FLINK-TLS-CERT-SELF-SIGNED" || rule == "FLINK-TLS-CERT-NAME-MISMATCH" {
            assert_eq!(f["severity"], "info", "{f:#}");
        }
    }
    let m = findings_at(doc, 9999);
    let exposed = m
        .iter()
        .find(|f| f["rule_id"] == "FLINK-K8S-OPERATOR-METRICS-EXPOSED")
        .unwrap_or_else(|| panic!("{:?}", at(9999)));
    assert!(
        exposed["detail"]
            .as_str()
            .unwrap()
            .contains("payments/fraud-detector (FlinkDeployment)"),
        "{exposed:#}"
    );
    // No version is ever read from the operator: its advisory is not guessed.
    assert!(!rule_ids(doc).iter().any(|r| r == "FLINK-CVE-2026-40564"));
    assert!(!rule_ids(doc).iter().any(|r| r == "FLINK-EOL-VERSION"));

    // One operator, its three surfaces.
    let c = doc["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["anchor"] == "k8s-operator")
        .unwrap_or_else(|| panic!("{:#}", doc["clusters"]));
    assert_eq!(c["members"].as_array().unwrap().len(), 3, "{c:#}");
    assert!(
        c["name"]
            .as_str()
            .unwrap()
            .contains("namespace flink-operator"),
        "{c:#}"
    );
}

#[test]
fn look_alikes_are_not_the_operator() {
    let Some(python) = support::require("python3", "the Debian package python3") else {
        return;
    };
    let Some(openssl) = support::require("openssl", "the Debian package openssl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = webhook_certificate(&openssl, dir.path());
    let ip = flink::unique_loopback();
    let p500 = free_port(ip);
    let _tls500 = start(&python, ip, p500, "tls500", Some((&cert, &key)));
    let pecho = free_port(ip);
    let _tlsecho = start(&python, ip, pecho, "tlsecho", Some((&cert, &key)));
    let pok = free_port(ip);
    let _ok = start(&python, ip, pok, "ok", None);
    let ports = format!("{p500},{pecho},{pok}");
    let run = scan_to(
        dir.path(),
        "lookalikes",
        &[&ip.to_string(), "--ports", &ports],
    );
    for port in [p500, pecho, pok] {
        let s = run.service(SocketAddr::from((ip, port)));
        assert_eq!(s["flink"], false, "{port}: {s:#}");
        assert!(
            !s["kind"].as_str().unwrap().starts_with("k8s-operator"),
            "{port}: {s:#}"
        );
    }
    assert!(
        rule_ids(run.json()).is_empty(),
        "{:?}",
        rule_ids(run.json())
    );

    // The health probe's exact reply alone, with no other operator or Flink
    // interface on its host, is not enough to call it the operator's.
    let lone = flink::unique_loopback();
    let _health = start(&python, lone, 8085, "health", None);
    let run = scan_to(
        dir.path(),
        "lone-health",
        &[&lone.to_string(), "--ports", "8085"],
    );
    let s = run.service(SocketAddr::from((lone, 8085)));
    assert_eq!(s["kind"], "k8s-operator-health", "{s:#}");
    assert_eq!(s["flink"], false, "{s:#}");
    assert!(
        s["product"].as_str().unwrap().contains("unconfirmed"),
        "{s:#}"
    );
    assert!(rule_ids(run.json()).is_empty());
}

/// A real JobManager carrying the keys the operator writes into every
/// cluster it deploys (`FlinkConfigBuilder`: kubernetes.cluster-id,
/// kubernetes.namespace, $internal.flink.version) and a REST service
/// published as a NodePort.
#[test]
fn clusters_the_operator_deployed_are_recognised_from_their_configuration() {
    let jm = Flink::start_jobmanager(
        FlinkOpts::new("1.20.1")
            .conf("kubernetes.cluster-id", "fraud-detector")
            .conf("kubernetes.namespace", "payments")
            .conf("$internal.flink.version", "v1_20")
            .conf("kubernetes.rest-service.exposed.type", "NodePort"),
    );
    let dir = tempfile::tempdir().unwrap();
    let run = scan_to(
        dir.path(),
        "managed",
        &[
            &jm.ip.to_string(),
            "--ports",
            &jm.rest_port.to_string(),
            "--probe-timeout",
            "5s",
        ],
    );
    let c = run.json()["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "k8s:fraud-detector")
        .unwrap_or_else(|| panic!("{:#}", run.json()["clusters"]));
    let by = c["managed_by"].as_str().unwrap_or_default();
    assert!(
        by.starts_with("Flink Kubernetes Operator, namespace payments"),
        "{c:#}"
    );
    assert!(c["name"]
        .as_str()
        .unwrap()
        .contains("managed by the Flink Kubernetes Operator"));
    let item = c["posture"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "k8s-rest-service")
        .unwrap_or_else(|| panic!("{c:#}"));
    assert_eq!(item["status"], "fail", "{item:#}");
    assert!(item["evidence"].as_str().unwrap().contains("NodePort"));
}

#[test]
fn the_kubernetes_port_set_adds_the_operator_ports_and_the_node_port_range() {
    // --dry-run sends nothing: it only lists what would be probed.
    let out = support::peers::flinkscan()
        .args(["scan", "192.0.2.1", "--ports", "+kubernetes", "--dry-run"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    // 8 defaults (8088 among them) + 3 operator ports + 2768 NodePorts.
    assert_eq!(listed.len(), 2779);
    for port in [8081, 8088, 9443, 8085, 9999, 30000, 32767] {
        assert!(listed.contains(&format!("192.0.2.1:{port}")), "{port}");
    }
    assert!(!listed.contains(&"192.0.2.1:32768".to_string()));
}
