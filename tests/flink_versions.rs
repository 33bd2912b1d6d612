#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Identification across Flink's generations, on real Flink: the oldest line
//! DESIGN.md measured (1.14, Akka, end of life) and the 2.x lines (Pekko,
//! config.yaml). Each JobManager runs on its own 127.x.y.z; the scan must name
//! REST, RPC and BLOB, the exact version and the RPC generation.

mod support;

use support::flink::{self, Flink, FlinkOpts};

struct Expect {
    version: &'static str,
    generation: &'static str,
    end_of_life: bool,
}

fn check(e: Expect) {
    let jm = Flink::start_jobmanager(FlinkOpts::new(e.version));
    let out = flink::scan(&[jm.ip.to_string()], &["-q"]);
    let rest = out.service(8081);
    assert_eq!(rest["kind"], "jobmanager-rest", "{}", jm.log_tail());
    assert_eq!(rest["version"], e.version, "{rest}");
    assert_eq!(rest["rpc_generation"], e.generation, "{rest}");
    // Flink writes "<short commit> @ <build date>".
    let revision = rest["revision"].as_str().unwrap_or_default();
    let commit = revision.split(" @ ").next().unwrap_or_default();
    assert!(
        commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit()),
        "revision: {rest}"
    );

    let rpc = out.service(6123);
    assert_eq!(rpc["kind"], "rpc", "{rpc}");
    assert_eq!(rpc["rpc_generation"], e.generation, "{rpc}");
    assert_eq!(rpc["product"], "Apache Flink", "{rpc}");
    // Corroborated by REST and BLOB on the same host.
    assert_eq!(rpc["confidence"], 95, "{rpc}");
    assert_eq!(out.service(6124)["kind"], "blob-server");
    // Versions reach the ports that cannot tell them from the REST API.
    assert_eq!(rpc["version"], e.version, "{rpc}");

    let rules = out.rules_at(8081);
    assert!(
        rules.contains(&"FLINK-REST-UNAUTHENTICATED".to_string()),
        "{rules:?}"
    );
    assert_eq!(
        rules.contains(&"FLINK-EOL-VERSION".to_string()),
        e.end_of_life,
        "{rules:?}"
    );
    assert!(out
        .rules_at(6123)
        .contains(&"FLINK-RPC-PLAINTEXT".to_string()));
    assert!(out
        .rules_at(6124)
        .contains(&"FLINK-BLOB-PLAINTEXT".to_string()));
    out.assert_absent("Spark");

    // Alone, the RPC port is still reported (its finding stands), with the
    // lower confidence of a protocol that other Akka/Pekko servers speak.
    let alone = flink::scan(&[jm.ip.to_string()], &["-q", "--ports", "6123"]);
    let rpc = alone.service(6123);
    assert_eq!(rpc["kind"], "rpc", "{rpc}");
    assert_eq!(rpc["confidence"], 75, "{rpc}");
    assert!(alone
        .rules_at(6123)
        .contains(&"FLINK-RPC-PLAINTEXT".to_string()));
}

#[test]
fn flink_1_14_akka() {
    check(Expect {
        version: "1.14.6",
        generation: "akka",
        end_of_life: true,
    });
}

#[test]
fn flink_2_1_pekko() {
    check(Expect {
        version: "2.1.1",
        generation: "pekko",
        end_of_life: false,
    });
}

#[test]
fn flink_2_3_pekko() {
    check(Expect {
        version: "2.3.0",
        generation: "pekko",
        end_of_life: false,
    });
}
