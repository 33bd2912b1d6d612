//! What the Flink Kubernetes Operator's metrics page tells about the
//! resources it manages (`crate::identify::k8s_operator` reads it): names
//! only, bounded.

use serde::{Deserialize, Serialize};

/// What the operator's metrics tell about what it manages (names only,
/// bounded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct OperatorFacts {
    /// The operator pod's own namespace (`namespace` label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Namespaces of the resources it manages (`resourcens`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_namespaces: Vec<String>,
    /// `namespace/name (type)` of managed resources (`resourcename`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// How many `flink_k8soperator_` series the page held.
    pub series: usize,
}
