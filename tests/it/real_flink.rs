//! Identification and checks against real Apache Flink (PyPI's
//! apache-flink-libraries, downloaded once by scripts/flink-home.sh), each
//! process on its own loopback address.

use crate::support;

use support::flink::{self, Flink, FlinkOpts};

const AKKA: &str = "1.16.3";
const PEKKO: &str = "1.20.1";

fn target(f: &Flink) -> Vec<String> {
    vec![f.ip.to_string()]
}

#[test]
fn akka_generation_jobmanager_rest_rpc_blob_and_planted_secrets() {
    let jm = Flink::start_jobmanager(
        FlinkOpts::new(AKKA)
            .conf("s3.access-key", "AKIAPLANTEDSECRET116")
            .conf(
                "security.kerberos.login.jaas.config",
                "planted-jaas-secret-116",
            )
            .conf(
                "state.checkpoints.dir",
                "s3://user:planted-uri-pass@bucket/cp",
            ),
    );
    let out = flink::scan(&target(&jm), &["--no-progress"]);
    let rest = out.service(8081);
    assert_eq!(rest["kind"], "jobmanager-rest", "{}", jm.log_tail());
    assert_eq!(rest["version"], AKKA);
    assert_eq!(rest["rpc_generation"], "akka");
    assert_eq!(rest["confidence"], 100);
    assert!(rest["revision"].as_str().unwrap().starts_with("5df8156"));
    assert_eq!(rest["features"]["web-submit"], true);
    let rpc = out.service(6123);
    assert_eq!(rpc["kind"], "rpc");
    assert_eq!(rpc["version"], AKKA);
    assert_eq!(rpc["rpc_generation"], "akka");
    assert!(rpc["version_source"]
        .as_str()
        .unwrap()
        .contains("jobmanager-rest"));
    let blob = out.service(6124);
    assert_eq!(blob["kind"], "blob-server");
    assert_eq!(blob["version"], AKKA);
    assert!(serde_json::to_string(&blob["evidence"])
        .unwrap()
        .contains("Unknown type of BLOB addressing"));
    // nmap's "Apache Spark" label for this port is exactly what must not happen.
    assert!(!serde_json::to_string(&rpc).unwrap().contains("Spark"));

    let rest_rules = out.rules_at(8081);
    for want in [
        "FLINK-REST-UNAUTHENTICATED",
        "FLINK-REST-JAR-UPLOAD",
        "FLINK-REST-JOB-CONTROL",
        "FLINK-REST-PLAINTEXT",
        "FLINK-REST-CORS-WILDCARD",
        "FLINK-CONFIG-SECRET-EXPOSED",
        "FLINK-EOL-VERSION",
    ] {
        assert!(
            rest_rules.contains(&want.to_string()),
            "{want} missing: {rest_rules:?}"
        );
    }
    // A real traversal attempt is made and must come back negative on 1.16.
    assert!(!rest_rules.contains(&"FLINK-CVE-2020-17519".to_string()));
    assert_eq!(out.rules_at(6123), vec!["FLINK-RPC-PLAINTEXT"]);
    assert_eq!(out.rules_at(6124), vec!["FLINK-BLOB-PLAINTEXT"]);

    let secret = out.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "FLINK-CONFIG-SECRET-EXPOSED")
        .unwrap();
    let detail = secret["detail"].as_str().unwrap();
    assert!(detail.contains("s3.access-key"), "{detail}");
    assert!(detail.contains("jaas.config"), "{detail}");
    assert!(detail.contains("state.checkpoints.dir"), "{detail}");
    for planted in [
        "AKIAPLANTEDSECRET116",
        "planted-jaas-secret-116",
        "planted-uri-pass",
    ] {
        out.assert_absent(planted);
    }
}

#[test]
fn pekko_generation_with_submit_disabled_and_no_secrets() {
    let jm = Flink::start_jobmanager(
        FlinkOpts::new(PEKKO)
            .conf("web.submit.enable", "false")
            .conf(
                "web.access-control-allow-origin",
                "https://flink-ui.example",
            ),
    );
    let out = flink::scan(&target(&jm), &["--no-progress"]);
    let rest = out.service(8081);
    assert_eq!(rest["kind"], "jobmanager-rest", "{}", jm.log_tail());
    assert_eq!(rest["version"], PEKKO);
    assert_eq!(rest["rpc_generation"], "pekko");
    assert_eq!(rest["features"]["web-submit"], false);
    assert_eq!(out.service(6123)["kind"], "rpc");
    assert_eq!(out.service(6123)["rpc_generation"], "pekko");
    assert_eq!(out.service(6124)["kind"], "blob-server");
    let rules = out.rules_at(8081);
    // The UI flag is off, so no jar upload, but the REST API still runs jobs.
    assert!(
        !rules.contains(&"FLINK-REST-JAR-UPLOAD".to_string()),
        "{rules:?}"
    );
    assert!(rules.contains(&"FLINK-REST-UNAUTHENTICATED".to_string()));
    assert!(
        !rules.contains(&"FLINK-CONFIG-SECRET-EXPOSED".to_string()),
        "{rules:?}"
    );
    assert!(!rules.contains(&"FLINK-EOL-VERSION".to_string()));
    // CORS pinned to one origin: fixed.
    assert!(
        !rules.contains(&"FLINK-REST-CORS-WILDCARD".to_string()),
        "{rules:?}"
    );
    // Not intrusive: the BLOB path probe did not run.
    assert!(!out
        .rules_at(6124)
        .contains(&"FLINK-BLOB-PATH-LEAK".to_string()));

    // --intrusive asks for a BLOB that cannot exist; the answer names the path.
    let out = flink::scan(
        &target(&jm),
        &["--no-progress", "--intrusive", "--ports", "6124"],
    );
    let leak = out.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "FLINK-BLOB-PATH-LEAK")
        .expect("BLOB path leak with --intrusive");
    let detail = leak["detail"].as_str().unwrap();
    assert!(detail.contains("/blobStorage/no_job/blob_t-"), "{leak}");
    assert!(!detail.contains("does not exist"), "path only: {detail}");
}

#[test]
fn history_server_is_told_apart_from_a_jobmanager() {
    let ip = flink::unique_loopback();
    let hs = Flink::start_history_server(PEKKO, ip, 8082);
    let out = flink::scan(&[ip.to_string()], &["--no-progress"]);
    let svc = out.service(8082);
    assert_eq!(svc["kind"], "history-server", "{}", hs.log_tail());
    assert_eq!(svc["version"], PEKKO);
    // No RPC port, so no RPC generation.
    assert!(svc.get("rpc_generation").is_none(), "{svc}");
    let rules = out.rules_at(8082);
    assert!(rules.contains(&"FLINK-HISTORYSERVER-EXPOSED".to_string()));
    assert!(!rules.contains(&"FLINK-REST-UNAUTHENTICATED".to_string()));
}

fn protocols(svc: &serde_json::Value) -> Vec<(String, Vec<String>)> {
    svc["tls_profile"]["protocols"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["accepted"] == true)
        .map(|p| {
            (
                p["version"].as_str().unwrap().to_string(),
                p["suites"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["name"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn rest_ssl_is_audited_and_the_redirect_leak_found() {
    let m = flink::tls_material();
    let jm = Flink::start_jobmanager(FlinkOpts::new(PEKKO).confs(flink::rest_ssl(&m)));
    let out = flink::scan(&target(&jm), &["--no-progress"]);
    let rest = out.service(8081);
    assert_eq!(rest["kind"], "jobmanager-rest", "{}", jm.log_tail());
    assert_eq!(rest["version"], PEKKO);
    assert_eq!(rest["tls"]["client_cert_required"], false);
    assert_eq!(rest["tls"]["certificate"]["subject"], "CN=flink.test");
    let protos = protocols(rest);
    let versions: Vec<&str> = protos.iter().map(|(v, _)| v.as_str()).collect();
    // Server-only REST SSL on 1.18+ uses the JDK defaults: TLS 1.2 and 1.3.
    assert_eq!(versions, ["TLSv1.2", "TLSv1.3"]);
    let tls12 = &protos[0].1;
    assert!(
        tls12.contains(&"TLS_RSA_WITH_AES_128_CBC_SHA".to_string()),
        "{tls12:?}"
    );
    let rules = out.rules_at(8081);
    for want in [
        "FLINK-REST-UNAUTHENTICATED",
        "FLINK-REST-REDIRECT-LEAK",
        "FLINK-TLS-NO-FORWARD-SECRECY",
        "FLINK-TLS-CERT-SELF-SIGNED",
        "FLINK-TLS-CERT-NAME-MISMATCH",
    ] {
        assert!(rules.contains(&want.to_string()), "{want}: {rules:?}");
    }
    assert!(!rules.contains(&"FLINK-REST-PLAINTEXT".to_string()));
    assert!(!rules.contains(&"FLINK-TLS-LEGACY-PROTOCOL".to_string()));
    audit_ran_to_the_end(rest);
}

/// The JDK declines the versions and suites it does not take cleanly (an
/// alert or a close, never a reset or a stall), so the audit of a real
/// Flink port leaves no TLS rule unchecked.
fn audit_ran_to_the_end(svc: &serde_json::Value) {
    let errors: Vec<&serde_json::Value> = svc["tls_profile"]["protocols"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["error"].is_null())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let unchecked = svc["unchecked"].as_array().cloned().unwrap_or_default();
    assert!(
        unchecked
            .iter()
            .all(|r| !r.as_str().unwrap().starts_with("FLINK-TLS-")),
        "{unchecked:?}"
    );
}

#[test]
fn rest_mutual_tls_is_recognised_and_not_called_open() {
    let m = flink::tls_material();
    let jm = Flink::start_jobmanager(FlinkOpts::new(PEKKO).confs(flink::rest_mtls(&m)));
    let out = flink::scan(&target(&jm), &["--no-progress"]);
    let rest = out.service(8081);
    assert_eq!(rest["kind"], "jobmanager-rest", "{}", jm.log_tail());
    assert_eq!(rest["tls"]["client_cert_required"], true);
    assert_eq!(rest["tls"]["certificate"]["subject"], "CN=flink.test");
    assert_eq!(rest["tls_profile"]["client_cert_required"], true);
    let rules = out.rules_at(8081);
    assert!(
        !rules.contains(&"FLINK-REST-UNAUTHENTICATED".to_string()),
        "{rules:?}"
    );
    assert!(!rules.contains(&"FLINK-REST-JAR-UPLOAD".to_string()));
    assert!(
        rules.contains(&"FLINK-REST-REDIRECT-LEAK".to_string()),
        "{rules:?}"
    );
    audit_ran_to_the_end(rest);
    // mTLS and internal SSL use security.ssl.algorithms: Flink's default suite only.
    assert_eq!(
        protocols(rest),
        vec![(
            "TLSv1.2".to_string(),
            vec!["TLS_RSA_WITH_AES_128_CBC_SHA".to_string()]
        )]
    );
}

#[test]
fn internal_ssl_rpc_and_blob_are_mutual_tls() {
    let m = flink::tls_material();
    let jm = Flink::start_jobmanager(FlinkOpts::new(PEKKO).confs(flink::internal_ssl(&m)));
    let out = flink::scan(&target(&jm), &["--no-progress"]);
    assert_eq!(
        out.service(8081)["kind"],
        "jobmanager-rest",
        "{}",
        jm.log_tail()
    );
    for port in [6123, 6124] {
        let svc = out.service(port);
        assert_eq!(svc["tls"]["client_cert_required"], true, "{svc}");
        assert_eq!(svc["flink"], true);
        assert_eq!(
            protocols(svc),
            vec![(
                "TLSv1.2".to_string(),
                vec!["TLS_RSA_WITH_AES_128_CBC_SHA".to_string()]
            )]
        );
        let rules = out.rules_at(port);
        assert!(
            rules.contains(&"FLINK-TLS-NO-FORWARD-SECRECY".to_string()),
            "{rules:?}"
        );
        assert!(!rules.contains(&"FLINK-RPC-PLAINTEXT".to_string()));
        assert!(!rules.contains(&"FLINK-BLOB-PLAINTEXT".to_string()));
        audit_ran_to_the_end(svc);
        // Self-signed is what Flink's docs recommend internally: information only.
        let self_signed = out.json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["port"] == port && f["rule_id"] == "FLINK-TLS-CERT-SELF-SIGNED")
            .unwrap();
        assert_eq!(self_signed["severity"], "info");
    }
}

#[test]
fn metric_reporters_and_jvm_secrets_are_found() {
    let (prom, jmx) = (flink::free_port(), flink::free_port());
    let jm = Flink::start_jobmanager(
        FlinkOpts::new(PEKKO)
            .conf(
                "metrics.reporter.prom.factory.class",
                "org.apache.flink.metrics.prometheus.PrometheusReporterFactory",
            )
            .conf("metrics.reporter.prom.port", &prom.to_string())
            .conf(
                "metrics.reporter.jmx.factory.class",
                "org.apache.flink.metrics.jmx.JMXReporterFactory",
            )
            .conf("metrics.reporter.jmx.port", &jmx.to_string())
            .jvm("-Dflinkscan.test.password=PLANTEDJVMSECRET"),
    );
    let ports = format!("8081,{prom},{jmx}");
    let out = flink::scan(&target(&jm), &["--no-progress", "--ports", &ports]);
    let p = out.service(prom);
    assert_eq!(p["kind"], "prometheus-reporter", "{}", jm.log_tail());
    assert_eq!(p["version"], PEKKO);
    assert!(out
        .rules_at(prom)
        .contains(&"FLINK-METRICS-EXPOSED".to_string()));
    let j = out.service(jmx);
    assert_eq!(j["kind"], "jmx-rmi");
    assert_eq!(j["flink"], true, "JMX next to Flink counts as Flink's");
    assert_eq!(out.rules_at(jmx), vec!["FLINK-JMX-EXPOSED"]);
    // Found only once the whole host was seen, and still streamed.
    let jmx_line = out
        .text("jsonl")
        .lines()
        .any(|l| l.contains("\"FLINK-JMX-EXPOSED\"") && l.contains("flinkscan.finding"));
    assert!(jmx_line, "FLINK-JMX-EXPOSED missing from JSONL");
    let secret = out.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "FLINK-CONFIG-SECRET-EXPOSED")
        .expect("JVM option secret reported");
    assert!(secret["detail"]
        .as_str()
        .unwrap()
        .contains("flinkscan.test.password"));
    out.assert_absent("PLANTEDJVMSECRET");
}

#[test]
fn taskmanager_data_and_rpc_ports_are_identified() {
    let jm = Flink::start_jobmanager(FlinkOpts::new(PEKKO));
    let tm = Flink::start_taskmanager(&jm, 6122, 6121);
    let out = flink::scan(
        &target(&jm),
        &["--no-progress", "--ports", "8081,6121,6122"],
    );
    let data = out.service(6121);
    assert_eq!(
        data["kind"],
        "taskmanager-data",
        "{data}\n{}",
        tm.log_tail()
    );
    assert_eq!(data["flink"], true);
    assert_eq!(data["version"], PEKKO);
    assert!(out
        .rules_at(6121)
        .contains(&"FLINK-TASKMANAGER-DATA-PLAINTEXT".to_string()));
    let rpc = out.service(6122);
    assert_eq!(rpc["kind"], "rpc");
    assert_eq!(rpc["rpc_generation"], "pekko");
}
