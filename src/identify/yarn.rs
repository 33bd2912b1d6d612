//! Hadoop YARN's ResourceManager, where Flink on YARN runs: its web
//! services say which Hadoop it is and list the Flink applications, and
//! its web proxy (`/proxy/APPLICATION_ID/`) forwards to each application's
//! JobManager REST API. Pure parsers, strict and bounded like every wire
//! parser: they read only the fields named below and refuse any other shape.
//!
//! Response shapes, from Hadoop's source (apache/hadoop, module
//! hadoop-yarn-server-resourcemanager, `webapp/dao/ClusterInfo.java`,
//! `AppInfo.java`, `AppsInfo.java`) and the examples of the ResourceManager
//! REST API documentation (`hadoop-yarn-site/.../ResourceManagerRest.md`):
//! - `GET /ws/v1/cluster/info`: `{"clusterInfo": {"id": 1324053971963,
//!   "state": "STARTED", "haState": "ACTIVE", "resourceManagerVersion":
//!   "3.3.6", "hadoopVersion": "3.3.6", ...}}`.
//! - `GET /ws/v1/cluster/apps`: `{"apps": {"app": [{"id":
//!   "application_1476912658570_0002", "name", "user", "queue", "state",
//!   "applicationType", "trackingUrl", "amRPCAddress", ...}]}}`; an empty
//!   list is `{"apps": null}`.
//!
//! Flink names its applications' type "Apache Flink" unless
//! `yarn.application.type` says otherwise (flink-yarn's
//! `YarnClusterDescriptor`), and registers its application master with the
//! JobManager's RPC host and REST port (`YarnResourceManagerDriver`), so an
//! application's `amRPCAddress` is the `host:port` of its REST API: the
//! tracking address a later scan of that host can probe.

use crate::model::{TrackingAddress, YarnApp, YarnFacts};
use crate::transport::http::Response;
use crate::untrusted;

/// The request that identifies a ResourceManager.
pub const INFO_PATH: &str = "/ws/v1/cluster/info";
/// Flink applications still alive (their JobManager answers), at most
/// [`MAX_APPS`]. A finished application's proxy only redirects.
pub const APPS_PATH: &str =
    "/ws/v1/cluster/apps?applicationTypes=Apache%20Flink&states=NEW,NEW_SAVING,SUBMITTED,ACCEPTED,RUNNING&limit=64";
/// Hadoop's `ConfServlet` with one property, as JSON
/// (`Configuration.dumpConfiguration`: `{"property": {"key", "value",
/// "isFinal", "resource"}}`): whether Hadoop security is on. With
/// `kerberos` the ResourceManager refuses anonymous writes (403) even where
/// it serves reads (Hadoop's `TestRMWebappAuthentication`); with `simple`
/// an anonymous request runs as the static web user and may submit.
pub const SECURITY_PATH: &str = "/conf?name=hadoop.security.authentication";
/// The ResourceManager's web ports by default (yarn-default.xml:
/// `yarn.resourcemanager.webapp.address` `${yarn.resourcemanager.hostname}:8088`,
/// `yarn.resourcemanager.webapp.https.address` `...:8090`).
pub const RM_WEB_PORTS: [u16; 2] = [8088, 8090];
/// The cookie of Hadoop's HTTP authentication (hadoop-auth,
/// `AuthenticatedURL.AUTH_COOKIE`).
const AUTH_COOKIE: &str = "hadoop.auth";
/// Applications kept from one listing; more are counted, not kept.
pub const MAX_APPS: usize = 64;
/// Applications whose JobManager is asked through the proxy, per ResourceManager.
pub const MAX_PROXIED: usize = 16;

/// `/ws/v1/cluster/info` of a ResourceManager: `None` for anything else.
/// All of `id`, `state`, `resourceManagerVersion` and `hadoopVersion` must
/// be there with their types: a page that merely says "clusterInfo" is not
/// a ResourceManager.
pub fn parse_cluster_info(resp: &Response) -> Option<YarnFacts> {
    if resp.status != 200 {
        return None;
    }
    let json = resp.json()?;
    let info = json.as_object()?.get("clusterInfo")?.as_object()?;
    let cluster_id = info.get("id")?.as_u64()?;
    let state = info.get("state")?.as_str()?;
    let rm_version = info.get("resourceManagerVersion")?.as_str()?;
    let hadoop_version = info.get("hadoopVersion")?.as_str()?;
    let word = |s: &str| {
        Some(untrusted::clean(s, 32)).filter(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
    };
    Some(YarnFacts {
        hadoop_version: hadoop_release(hadoop_version),
        resourcemanager_version: hadoop_release(rm_version),
        ha_state: info.get("haState").and_then(|v| v.as_str()).and_then(word),
        state: word(state),
        cluster_id: Some(cluster_id),
        security: None,
        http_authentication: None,
        apps_listed: None,
        apps: Vec::new(),
    })
}

/// Whether `resp` is the refusal of a Hadoop web endpoint that requires
/// Kerberos (SPNEGO): `hadoop.http.authentication.type: kerberos` (Hadoop's
/// "Authentication for Hadoop HTTP web-consoles", hadoop-common
/// `HttpAuthentication.md`) puts hadoop-auth's `AuthenticationFilter` in
/// front of every path; without credentials its Kerberos handler
/// (`KerberosAuthenticationHandler`) answers `WWW-Authenticate: Negotiate`
/// and the filter (`AuthenticationFilter.doFilter`) clears its cookie
/// (`Set-Cookie: hadoop.auth=; Path=/; HttpOnly`) and sends 401
/// "Authentication required". A proxy that asks for Negotiate sends no
/// `hadoop.auth` cookie, so both are required.
pub fn is_spnego_refusal(resp: &Response) -> bool {
    let negotiate = resp
        .headers
        .iter()
        .filter(|(n, _)| n == "www-authenticate")
        .any(|(_, v)| {
            v.split_whitespace()
                .next()
                .is_some_and(|s| s.eq_ignore_ascii_case("negotiate"))
        });
    let cookie = resp
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .any(|(_, v)| v.trim_start().starts_with(&format!("{AUTH_COOKIE}=")));
    resp.status == 401 && negotiate && cookie
}

/// A ResourceManager behind Kerberos, known from its refusal alone: on
/// one of its web ports ([`RM_WEB_PORTS`]), `GET /ws/v1/cluster/info`
/// (the ResourceManager REST API's "Cluster Information API",
/// hadoop-yarn-site `ResourceManagerRest.md`) refused the way Hadoop's
/// SPNEGO filter does ([`is_spnego_refusal`]). Medium confidence: the
/// refusal shows Hadoop's web stack on the ResourceManager's port, not
/// the answer only a ResourceManager gives. `None` for anything else.
pub fn spnego_resourcemanager(port: u16, info: &Response) -> Option<YarnFacts> {
    (RM_WEB_PORTS.contains(&port) && is_spnego_refusal(info)).then(|| YarnFacts {
        http_authentication: Some("kerberos".into()),
        ..YarnFacts::default()
    })
}

/// `hadoop.security.authentication` from a `ConfServlet` answer.
pub fn parse_security(resp: &Response) -> Option<String> {
    if resp.status != 200 {
        return None;
    }
    let json = resp.json()?;
    let p = json.as_object()?.get("property")?.as_object()?;
    if p.get("key")?.as_str()? != "hadoop.security.authentication" {
        return None;
    }
    let v = p.get("value")?.as_str()?.trim().to_ascii_lowercase();
    matches!(v.as_str(), "simple" | "kerberos").then_some(v)
}

/// A Hadoop version string (`3.3.6`, `3.0.0-cdh6.3.3`, `3.3.1-amzn-1`):
/// printable, short, starting with a digit.
fn hadoop_release(text: &str) -> Option<String> {
    let v = untrusted::clean(text, 48);
    let ok = v.starts_with(|c: char| c.is_ascii_digit())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_+".contains(c));
    ok.then_some(v)
}

/// The applications of a `/ws/v1/cluster/apps` answer whose type is
/// "Apache Flink" (whatever the server's filter did), at most
/// [`MAX_APPS`], and how many Flink applications it listed. `None` when
/// the answer is not the ResourceManager's listing.
pub fn parse_apps(resp: &Response) -> Option<(Vec<YarnApp>, usize)> {
    if resp.status != 200 {
        return None;
    }
    let json = resp.json()?;
    let apps = json.as_object()?.get("apps")?;
    if apps.is_null() {
        return Some((Vec::new(), 0));
    }
    let list = match apps.as_object()?.get("app") {
        None | Some(serde_json::Value::Null) => return Some((Vec::new(), 0)),
        Some(v) => v.as_array()?,
    };
    let mut out = Vec::new();
    let mut listed = 0usize;
    for app in list.iter().take(10_000) {
        let Some(o) = app.as_object() else { continue };
        let is_flink = o
            .get("applicationType")
            .and_then(|t| t.as_str())
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("Apache Flink"));
        let Some(id) = o
            .get("id")
            .and_then(|v| v.as_str())
            .filter(|id| is_app_id(id))
        else {
            continue;
        };
        if !is_flink {
            continue;
        }
        listed += 1;
        if out.len() >= MAX_APPS {
            continue;
        }
        let text = |key: &str, max: usize| {
            o.get(key)
                .and_then(|v| v.as_str())
                .map(|s| untrusted::inert(&untrusted::clean(s, max)))
                .unwrap_or_default()
        };
        let state = text("state", 16);
        out.push(YarnApp {
            id: id.to_string(),
            name: text("name", 80),
            user: text("user", 64),
            queue: text("queue", 64),
            state: if state.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                state
            } else {
                String::new()
            },
            tracking: o
                .get("amRPCAddress")
                .and_then(|v| v.as_str())
                .and_then(parse_host_port),
            proxied: None,
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Some((out, listed))
}

/// `application_<digits>_<digits>`: the only form the proxy accepts, and
/// safe in a URL path as it is.
pub fn is_app_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("application_") else {
        return false;
    };
    let Some((ts, seq)) = rest.split_once('_') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    digits(ts) && digits(seq)
}

/// `host:port` or `[v6]:port`, the host made of name characters only.
pub fn parse_host_port(text: &str) -> Option<TrackingAddress> {
    let text = text.trim();
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (h, tail) = v6.split_once(']')?;
        (h, tail.strip_prefix(':')?)
    } else {
        text.rsplit_once(':')?
    };
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c));
    valid.then(|| TrackingAddress {
        host: host.to_string(),
        port,
    })
}

/// What the proxy answered instead of Flink: YARN's own pages are told
/// apart so the report says why the JobManager could not be read.
pub fn proxy_refusal(resp: &Response) -> String {
    let text = String::from_utf8_lossy(resp.body.get(..resp.body.len().min(4096)).unwrap_or(&[]))
        .to_string();
    if text.contains("WARNING: The following page may not be safe!") {
        // WebAppProxyServlet.warnUserPage: security is on and we are not
        // the application's owner.
        "the proxy asks a non-owner to confirm first (ResourceManager security is on)".into()
    } else if (300..400).contains(&resp.status) {
        // Finished applications, and ones without a tracking URL, redirect.
        "the proxy redirected (the application finished or has no tracking URL yet)".into()
    } else if resp.status == 401 || resp.status == 403 {
        format!(
            "the proxy answered {} (authentication required)",
            resp.status
        )
    } else {
        format!(
            "the proxy answered {} without Flink's dashboard configuration",
            resp.status
        )
    }
}

/// `host:port` endpoints a ResourceManager names that belong to Flink:
/// each application's JobManager REST API. For a later probe of hosts
/// inside the target space (the caller decides that), never outside it.
pub fn named_endpoints(facts: &YarnFacts) -> Vec<(TrackingAddress, String)> {
    facts
        .apps
        .iter()
        .filter_map(|a| {
            a.tracking
                .clone()
                .map(|t| (t, format!("jobmanager-rest of YARN application {}", a.id)))
        })
        .collect()
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

    /// The JSON example of ResourceManagerRest.md ("Cluster Information API").
    const DOC_INFO: &str = r#"{"clusterInfo":{"id":1324053971963,"startedOn":1324053971963,"state":"STARTED","haState":"ACTIVE","rmStateStoreName":"org.apache.hadoop.yarn.server.resourcemanager.recovery.NullRMStateStore","resourceManagerVersion":"3.0.0-SNAPSHOT","resourceManagerBuildVersion":"3.0.0-SNAPSHOT from unknown by user1 source checksum 11111111111111111111111111111111","resourceManagerVersionBuiltOn":"2016-01-01T01:00Z","hadoopVersion":"3.0.0-SNAPSHOT","hadoopBuildVersion":"3.0.0-SNAPSHOT from unknown by user1 source checksum 11111111111111111111111111111111","hadoopVersionBuiltOn":"2016-01-01T01:00Z","haZooKeeperConnectionState":"ResourceManager HA is not enabled."}}"#;

    /// Hadoop's SPNEGO refusal needs the Negotiate challenge, Hadoop's
    /// cookie and a 401; a ResourceManager is said only on its web ports.
    #[test]
    fn spnego_refusal_of_hadoops_filter() {
        let refusal = |status, headers: &[(&str, &str)]| Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Bytes::from_static(b"Authentication required"),
        };
        let hadoop = [
            ("www-authenticate", "Negotiate"),
            ("set-cookie", "hadoop.auth=; Path=/; HttpOnly"),
        ];
        assert!(is_spnego_refusal(&refusal(401, &hadoop)));
        assert!(spnego_resourcemanager(8088, &refusal(401, &hadoop)).is_some());
        assert!(spnego_resourcemanager(8090, &refusal(401, &hadoop)).is_some());
        assert!(spnego_resourcemanager(9870, &refusal(401, &hadoop)).is_none());
        assert!(!is_spnego_refusal(&refusal(403, &hadoop)));
        assert!(!is_spnego_refusal(&refusal(401, &hadoop[..1])));
        assert!(!is_spnego_refusal(&refusal(401, &hadoop[1..])));
        let basic = [
            ("www-authenticate", "Basic realm=\"x\""),
            ("set-cookie", "hadoop.auth=; Path=/; HttpOnly"),
        ];
        assert!(!is_spnego_refusal(&refusal(401, &basic)));
        let other_cookie = [
            ("www-authenticate", "Negotiate"),
            ("set-cookie", "session=hadoop.auth="),
        ];
        assert!(!is_spnego_refusal(&refusal(401, &other_cookie)));
    }

    #[test]
    fn cluster_info_from_the_documentation() {
        let f = parse_cluster_info(&resp(200, DOC_INFO)).unwrap();
        assert_eq!(f.hadoop_version.as_deref(), Some("3.0.0-SNAPSHOT"));
        assert_eq!(f.ha_state.as_deref(), Some("ACTIVE"));
        assert_eq!(f.state.as_deref(), Some("STARTED"));
        assert_eq!(f.cluster_id, Some(1324053971963));
        // Look-alikes: another status, another shape, missing fields.
        assert!(parse_cluster_info(&resp(404, DOC_INFO)).is_none());
        for body in [
            r#"{"clusterInfo":{}}"#,
            r#"{"clusterInfo":{"id":"1","state":"STARTED","resourceManagerVersion":"3","hadoopVersion":"3"}}"#,
            r#"{"clusterInfo":"yarn"}"#,
            r#"[{"clusterInfo":{}}]"#,
            "<html>clusterInfo hadoopVersion</html>",
        ] {
            assert!(parse_cluster_info(&resp(200, body)).is_none(), "{body}");
        }
        // A hostile version string is dropped, not reported.
        let hostile = DOC_INFO.replace(
            "\"hadoopVersion\":\"3.0.0-SNAPSHOT\"",
            "\"hadoopVersion\":\"3.3\\u001b[2J<script>\"",
        );
        let f = parse_cluster_info(&resp(200, &hostile)).unwrap();
        assert_eq!(f.hadoop_version, None);
    }

    #[test]
    fn apps_keep_flink_only_bounded() {
        let body = r#"{"apps":{"app":[
            {"id":"application_1476912658570_0002","user":"user2","name":"word count","queue":"default","state":"RUNNING","applicationType":"Apache Flink","trackingUrl":"http://rm:8088/proxy/application_1476912658570_0002/","amRPCAddress":"10.0.0.7:40123"},
            {"id":"application_1476912658570_0001","user":"user1","name":"Sleep job","state":"FINISHED","applicationType":"MAPREDUCE"},
            {"id":"../../etc","state":"RUNNING","applicationType":"Apache Flink"},
            {"id":"application_1476912658570_0003","state":"RUNNING","applicationType":"apache flink","amRPCAddress":"[::1]:8081"},
            {"id":"application_1476912658570_0004","state":"RUNNING","applicationType":"Apache Flink","amRPCAddress":"x y:1"}
        ]}}"#;
        let (apps, listed) = parse_apps(&resp(200, body)).unwrap();
        assert_eq!(listed, 3);
        assert_eq!(apps.len(), 3);
        assert_eq!(apps[0].id, "application_1476912658570_0002");
        assert_eq!(
            apps[0].tracking,
            Some(TrackingAddress {
                host: "10.0.0.7".into(),
                port: 40123
            })
        );
        assert_eq!(apps[1].tracking.as_ref().unwrap().to_string(), "[::1]:8081");
        assert_eq!(apps[2].tracking, None);
        assert_eq!(
            apps[0].proxy_path("/config"),
            "/proxy/application_1476912658570_0002/config"
        );
        assert_eq!(
            named_endpoints(&YarnFacts {
                apps: apps.clone(),
                ..Default::default()
            })
            .len(),
            2
        );
        assert_eq!(
            parse_apps(&resp(200, r#"{"apps":null}"#)),
            Some((vec![], 0))
        );
        assert_eq!(parse_apps(&resp(200, r#"{"apps":{}}"#)), Some((vec![], 0)));
        assert!(parse_apps(&resp(200, r#"{"app":[]}"#)).is_none());
        assert!(parse_apps(&resp(500, r#"{"apps":null}"#)).is_none());
        // Many: counted, MAX_APPS kept.
        let many: Vec<String> = (0..200)
            .map(|i| format!(r#"{{"id":"application_1_{i:04}","state":"RUNNING","applicationType":"Apache Flink"}}"#))
            .collect();
        let (apps, listed) = parse_apps(&resp(
            200,
            &format!(r#"{{"apps":{{"app":[{}]}}}}"#, many.join(",")),
        ))
        .unwrap();
        assert_eq!((apps.len(), listed), (MAX_APPS, 200));
    }

    #[test]
    fn security_from_the_conf_servlet() {
        let body = r#"{"property":{"key":"hadoop.security.authentication","value":"kerberos","isFinal":false,"resource":"core-site.xml"}}"#;
        assert_eq!(
            parse_security(&resp(200, body)).as_deref(),
            Some("kerberos")
        );
        let simple = body.replace("kerberos", "Simple");
        assert_eq!(
            parse_security(&resp(200, &simple)).as_deref(),
            Some("simple")
        );
        for bad in [
            r#"{"property":{"key":"other","value":"simple"}}"#,
            r#"{"property":{"key":"hadoop.security.authentication","value":"token"}}"#,
            r#"{"properties":[]}"#,
            "<configuration/>",
        ] {
            assert_eq!(parse_security(&resp(200, bad)), None, "{bad}");
        }
        assert_eq!(parse_security(&resp(403, body)), None);
    }

    #[test]
    fn app_ids_and_addresses() {
        assert!(is_app_id("application_1476912658570_0002"));
        for bad in [
            "application_1",
            "application__1",
            "application_1_x",
            "app_1_1",
            "application_1_1/../x",
        ] {
            assert!(!is_app_id(bad), "{bad}");
        }
        assert_eq!(parse_host_port("jm.example:0"), None);
        assert_eq!(parse_host_port("jm.example"), None);
        assert_eq!(
            parse_host_port("jm.example:8081").unwrap().host,
            "jm.example"
        );
    }

    #[test]
    fn proxy_refusals_say_why() {
        let warn = resp(
            200,
            "<html><h1>WARNING: The following page may not be safe!</h1></html>",
        );
        assert!(proxy_refusal(&warn).contains("non-owner"));
        assert!(proxy_refusal(&resp(302, "")).contains("redirected"));
        assert!(proxy_refusal(&resp(401, "")).contains("authentication"));
    }
}
