//! What a Hadoop YARN ResourceManager told (`crate::identify::yarn` reads
//! it, `crate::checks::platforms` adds the security switch and what each
//! application's proxy shows): records only, bounded and sanitised.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ConfigValue;

/// What a ResourceManager told, bounded and sanitised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct YarnFacts {
    /// `hadoopVersion` of `/ws/v1/cluster/info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hadoop_version: Option<String>,
    /// `resourceManagerVersion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resourcemanager_version: Option<String>,
    /// `haState`: `ACTIVE`, `STANDBY`, `INITIALIZING` or `STOPPING`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ha_state: Option<String>,
    /// `state` of the ResourceManager service (`STARTED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// `clusterId` (the ResourceManager's start time), which every
    /// application id of this cluster carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<u64>,
    /// `hadoop.security.authentication` as `GET /conf` tells it (`simple`,
    /// `kerberos`), when readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<String>,
    /// `kerberos` when the ResourceManager's web endpoints demanded
    /// Kerberos (SPNEGO) of the scan: nothing past the refusal was read, so
    /// the fields above and below stay empty (`crate::identify::yarn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_authentication: Option<String>,
    /// How many Flink applications the listing held (`None`: not readable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apps_listed: Option<usize>,
    /// The first `crate::identify::yarn::MAX_APPS` of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<YarnApp>,
}

/// One Flink application as the ResourceManager lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YarnApp {
    /// `application_<clusterTimestamp>_<sequence>`.
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub queue: String,
    /// YARN's application state (`RUNNING`, `ACCEPTED`, ...).
    pub state: String,
    /// The application master's own address (`amRPCAddress`): for Flink,
    /// the JobManager's REST API, which the ResourceManager's proxy hides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<TrackingAddress>,
    /// The JobManager as seen through the ResourceManager's proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxied: Option<ProxiedFlink>,
}

/// A `host:port` the ResourceManager names, checked to be one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingAddress {
    /// An IP address or a host name.
    pub host: String,
    pub port: u16,
}

/// What `GET /proxy/APPLICATION_ID/config` (and `/jobmanager/config`) told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProxiedFlink {
    /// The proxy answered with Flink's dashboard configuration.
    pub flink: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The kept keys of `/jobmanager/config` (`crate::flink_rest::CONFIG_KEYS`).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        with = "super::key_value_list"
    )]
    pub config: BTreeMap<String, ConfigValue>,
    /// Keys of `/jobmanager/config` with unmasked secret values (names only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_keys: Vec<String>,
    /// Why the proxy did not show Flink, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl YarnApp {
    /// The proxy path of `rest` (which starts with `/`) for this application.
    pub fn proxy_path(&self, rest: &str) -> String {
        format!("/proxy/{}{rest}", self.id)
    }

    /// Still alive: its JobManager can answer through the proxy.
    pub fn is_live(&self) -> bool {
        matches!(
            self.state.as_str(),
            "RUNNING" | "ACCEPTED" | "SUBMITTED" | "NEW" | "NEW_SAVING"
        )
    }
}

/// The JobManager's REST address for reports: `host:port`, IPv6 in brackets.
impl std::fmt::Display for TrackingAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}
