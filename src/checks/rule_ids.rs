//! Every rule id the code emits or reads back (probe files and advisories
//! name their own, and are checked when loaded). One place, so a rename
//! cannot leave a finding without its rule, nor a cluster view looking for
//! findings under a name that no longer exists; a test holds each against
//! the catalog.

pub const CONFIG_SECRET_EXPOSED: &str = "FLINK-CONFIG-SECRET-EXPOSED";
pub const SQL_GATEWAY_UNAUTHENTICATED: &str = "FLINK-SQL-GATEWAY-UNAUTHENTICATED";
pub const RPC_PLAINTEXT: &str = "FLINK-RPC-PLAINTEXT";
pub const BLOB_PLAINTEXT: &str = "FLINK-BLOB-PLAINTEXT";
pub const TASKMANAGER_DATA_PLAINTEXT: &str = "FLINK-TASKMANAGER-DATA-PLAINTEXT";
pub const JMX_EXPOSED: &str = "FLINK-JMX-EXPOSED";
pub const BLOB_PATH_LEAK: &str = "FLINK-BLOB-PATH-LEAK";
pub const EOL_VERSION: &str = "FLINK-EOL-VERSION";
pub const VERSION_UNORDERED: &str = "FLINK-VERSION-UNORDERED";
// The job inventory's (`checks::jobs`).
pub const JOB_SECRET_EXPOSED: &str = "FLINK-JOB-SECRET-EXPOSED";
pub const JOB_SECRET_MASKED: &str = "FLINK-JOB-SECRET-MASKED";
pub const LOG_SECRET_EXPOSED: &str = "FLINK-LOG-SECRET-EXPOSED";
pub const LOGS_READABLE: &str = "FLINK-LOGS-READABLE";
pub const LOG_DIR_SENSITIVE_FILE: &str = "FLINK-LOG-DIR-SENSITIVE-FILE";
pub const JARS_LISTED: &str = "FLINK-JARS-LISTED";
pub const JOB_INVENTORY: &str = "FLINK-JOB-INVENTORY";

// Emitted by the built-in probe files; the cluster view (attack paths,
// posture) reads findings back by these ids.
pub const REST_UNAUTHENTICATED: &str = "FLINK-REST-UNAUTHENTICATED";
pub const REST_JAR_UPLOAD: &str = "FLINK-REST-JAR-UPLOAD";
pub const REST_JOB_CONTROL: &str = "FLINK-REST-JOB-CONTROL";
pub const REST_PLAINTEXT: &str = "FLINK-REST-PLAINTEXT";
pub const HISTORYSERVER_EXPOSED: &str = "FLINK-HISTORYSERVER-EXPOSED";

// The platforms Flink runs on (`checks::platforms`).
pub const YARN_RM_UNAUTHENTICATED: &str = "FLINK-YARN-RM-UNAUTHENTICATED";
pub const YARN_PROXY_REST_EXPOSED: &str = "FLINK-YARN-PROXY-REST-EXPOSED";
pub const YARN_RM_KERBEROS_REACHABLE: &str = "FLINK-YARN-RM-KERBEROS-REACHABLE";
pub const K8S_OPERATOR_WEBHOOK_EXPOSED: &str = "FLINK-K8S-OPERATOR-WEBHOOK-EXPOSED";
pub const K8S_OPERATOR_METRICS_EXPOSED: &str = "FLINK-K8S-OPERATOR-METRICS-EXPOSED";

use crate::tls::weakness as tls;

/// The code's rule ids, the TLS audit's included.
pub const ALL: &[&str] = &[
    REST_UNAUTHENTICATED,
    REST_JAR_UPLOAD,
    REST_JOB_CONTROL,
    REST_PLAINTEXT,
    HISTORYSERVER_EXPOSED,
    YARN_RM_UNAUTHENTICATED,
    YARN_PROXY_REST_EXPOSED,
    YARN_RM_KERBEROS_REACHABLE,
    K8S_OPERATOR_WEBHOOK_EXPOSED,
    K8S_OPERATOR_METRICS_EXPOSED,
    CONFIG_SECRET_EXPOSED,
    SQL_GATEWAY_UNAUTHENTICATED,
    RPC_PLAINTEXT,
    BLOB_PLAINTEXT,
    TASKMANAGER_DATA_PLAINTEXT,
    JMX_EXPOSED,
    BLOB_PATH_LEAK,
    EOL_VERSION,
    VERSION_UNORDERED,
    JOB_SECRET_EXPOSED,
    JOB_SECRET_MASKED,
    LOG_SECRET_EXPOSED,
    LOGS_READABLE,
    LOG_DIR_SENSITIVE_FILE,
    JARS_LISTED,
    JOB_INVENTORY,
    tls::LEGACY_PROTOCOL,
    tls::WEAK_CIPHER,
    tls::NO_FORWARD_SECRECY,
    tls::CBC_CIPHER,
    tls::CERT_EXPIRED,
    tls::CERT_NOT_YET_VALID,
    tls::CERT_SELF_SIGNED,
    tls::CERT_WEAK_KEY,
    tls::CERT_WEAK_SIGNATURE,
    tls::CERT_NAME_MISMATCH,
    tls::CERT_EXPIRES_SOON,
];

#[cfg(test)]
mod tests {
    use crate::checks::catalog::Catalog;

    #[test]
    fn every_rule_id_the_code_emits_is_in_the_catalog() {
        let c = Catalog::load(None, None).unwrap();
        for id in super::ALL {
            assert!(
                c.rule(id).is_some(),
                "{id} is emitted but not in the catalog"
            );
        }
        for p in &c.probes {
            assert!(c.rule(&p.rule).is_some(), "probe {} names {}", p.id, p.rule);
        }
        for a in &c.advisories.advisories {
            assert!(c.rule(&a.rule_id).is_some(), "{}", a.rule_id);
        }
    }
}
