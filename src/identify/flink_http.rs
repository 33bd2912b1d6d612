//! Recognising Flink's HTTP services from their responses (pure functions, so
//! they are tested on captured bytes as well as on real Flink).

use std::collections::BTreeMap;

use super::http::Response;
use crate::model::RpcGeneration;
use crate::untrusted;

/// What `GET /config` tells on a JobManager or HistoryServer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardConfig {
    pub version: Option<String>,
    pub revision: Option<String>,
    pub features: BTreeMap<String, bool>,
}

/// The dashboard config is a JSON object with `refresh-interval`,
/// `timezone-offset` and `flink-version`; requiring all three keeps look-alikes
/// that merely mention Flink out.
pub fn parse_dashboard_config(resp: &Response) -> Option<DashboardConfig> {
    if resp.status != 200 {
        return None;
    }
    let json = resp.json()?;
    let obj = json.as_object()?;
    if !obj.get("refresh-interval")?.is_number() || !obj.get("timezone-offset")?.is_number() {
        return None;
    }
    let version = obj
        .get("flink-version")?
        .as_str()
        .and_then(untrusted::version);
    let revision = obj
        .get("flink-revision")
        .and_then(|v| v.as_str())
        .map(|s| untrusted::clean(s, 64));
    let mut features = BTreeMap::new();
    if let Some(f) = obj.get("features").and_then(|f| f.as_object()) {
        for (k, v) in f.iter().take(32) {
            if let Some(b) = v.as_bool() {
                features.insert(untrusted::clean(k, 32), b);
            }
        }
    }
    Some(DashboardConfig {
        version,
        revision,
        features,
    })
}

/// A JobManager's `/overview` has task-manager and slot counts; a
/// HistoryServer has no such endpoint.
pub fn is_jobmanager_overview(resp: &Response) -> bool {
    resp.status == 200
        && resp
            .json()
            .and_then(|j| {
                let o = j.as_object()?;
                Some(o.contains_key("taskmanagers") && o.contains_key("slots-total"))
            })
            .unwrap_or(false)
}

pub fn overview_commit(resp: &Response) -> Option<String> {
    resp.json()?
        .get("flink-commit")?
        .as_str()
        .map(|s| untrusted::clean(s, 64))
}

/// SQL Gateway `GET /v1/info`: `{"productName":"Apache Flink","version":"1.20.1"}`.
pub fn parse_gateway_info(resp: &Response) -> Option<Option<String>> {
    if resp.status != 200 {
        return None;
    }
    let json = resp.json()?;
    if json.get("productName")?.as_str()? != "Apache Flink" {
        return None;
    }
    Some(
        json.get("version")
            .and_then(|v| v.as_str())
            .and_then(untrusted::version),
    )
}

/// `GET /v1/api_versions`: `{"versions":["V1","V2"]}`.
pub fn parse_api_versions(resp: &Response) -> Vec<String> {
    resp.json()
        .and_then(|j| {
            Some(
                j.get("versions")?
                    .as_array()?
                    .iter()
                    .take(16)
                    .filter_map(|v| v.as_str().map(|s| untrusted::clean(s, 8)))
                    .collect(),
            )
        })
        .unwrap_or_default()
}

/// The Prometheus reporter answers every path with the exposition format;
/// Flink's metric names all start with `flink_`.
pub fn is_flink_prometheus(resp: &Response) -> bool {
    if resp.status != 200 {
        return false;
    }
    let text = String::from_utf8_lossy(&resp.body);
    text.lines().take(5000).any(|l| {
        l.starts_with("flink_") || l.starts_with("# TYPE flink_") || l.starts_with("# HELP flink_")
    })
}

/// Flink moved from Akka to Pekko in 1.18.
pub fn rpc_generation(version: &str) -> Option<RpcGeneration> {
    let mut parts = version.split(['.', '-']);
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    Some(if (major, minor) >= (1, 18) {
        RpcGeneration::Pekko
    } else {
        RpcGeneration::Akka
    })
}

/// Flink's `RedirectingSslHandler` answers plain HTTP on a TLS REST port with
/// a 301 to `https://<advertised address>:<port>/...`.
pub fn https_redirect_location(resp: &Response) -> Option<String> {
    if !(300..400).contains(&resp.status) {
        return None;
    }
    let loc = resp.header("location")?;
    loc.starts_with("https://")
        .then(|| untrusted::clean(loc, 200))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![],
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn dashboard_config() {
        let r = resp(
            200,
            r#"{"refresh-interval":3000,"timezone-name":"UTC","timezone-offset":0,"flink-version":"1.20.1","flink-revision":"abc @ 2025","features":{"web-submit":true,"web-cancel":false,"web-rescale":false,"web-history":false}}"#,
        );
        let c = parse_dashboard_config(&r).unwrap();
        assert_eq!(c.version.as_deref(), Some("1.20.1"));
        assert_eq!(c.features.get("web-submit"), Some(&true));
        // Look-alike: mentions flink-version but is not the dashboard config.
        assert!(parse_dashboard_config(&resp(200, r#"{"flink-version":"1.20.1"}"#)).is_none());
        assert!(parse_dashboard_config(&resp(200, "not json")).is_none());
    }

    #[test]
    fn gateway_from_fixture() {
        let r = resp(200, r#"{"productName":"Apache Flink","version":"1.20.1"}"#);
        assert_eq!(parse_gateway_info(&r), Some(Some("1.20.1".into())));
        assert_eq!(
            parse_gateway_info(&resp(
                200,
                r#"{"productName":"Apache Spark","version":"3"}"#
            )),
            None
        );
        assert_eq!(
            parse_api_versions(&resp(200, r#"{"versions":["V1","V2","V3"]}"#)),
            vec!["V1", "V2", "V3"]
        );
    }

    #[test]
    fn generations() {
        assert_eq!(rpc_generation("1.17.2"), Some(RpcGeneration::Akka));
        assert_eq!(rpc_generation("1.18.0"), Some(RpcGeneration::Pekko));
        assert_eq!(rpc_generation("2.1.1"), Some(RpcGeneration::Pekko));
        assert_eq!(rpc_generation("x"), None);
    }
}
