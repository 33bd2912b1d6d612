//! Recognising Flink's HTTP services from their responses (pure functions, so
//! they are tested on captured bytes as well as on real Flink).

use crate::model::RpcGeneration;
use crate::transport::http::Response;
use crate::untrusted;

/// What `GET /config` tells on a JobManager or HistoryServer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardConfig {
    pub version: Option<String>,
    pub revision: Option<String>,
    pub features: crate::model::Features,
    /// `features.web-history` (Flink 1.15+): true on a HistoryServer, false
    /// on a JobManager; `None` when absent or ambiguous.
    pub web_history: Option<bool>,
    /// Keys that decide what we report but came more than once; a JSON
    /// parser keeps one of them silently, so these are reported instead.
    pub ambiguities: Vec<String>,
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
    let claimed = obj.get("flink-version")?;
    let version = claimed.as_str().and_then(untrusted::version);
    let refused = match claimed.as_str() {
        Some(text) => untrusted::version_refused("flink-version", text),
        None => Some("flink-version is not a string: advisories and end of life not judged".into()),
    };
    let revision = obj
        .get("flink-revision")
        .and_then(|v| v.as_str())
        .map(|s| untrusted::clean(s, 64));
    let mut features = crate::model::Features::default();
    if let Some(f) = obj.get("features").and_then(|f| f.as_object()) {
        for (k, v) in f.iter().take(32) {
            if let Some(b) = v.as_bool() {
                features.insert(untrusted::clean(k, 32), b);
            }
        }
    }
    let mut config = DashboardConfig {
        version,
        revision,
        web_history: features.get("web-history").copied(),
        features,
        ambiguities: refused.into_iter().collect(),
    };
    // The body already parsed as JSON, so this second, streaming pass
    // cannot fail on syntax; it only counts repeated keys.
    let repeated = serde_json::from_slice::<RepeatedKeys>(&resp.body).unwrap_or_default();
    if let Some(note) = repeated_note("flink-version", &repeated.version) {
        config.ambiguities.push(note);
        if distinct(&repeated.version) > 1 {
            config.version = None;
        }
    }
    if let Some(note) = repeated_note("flink-revision", &repeated.revision) {
        config.ambiguities.push(note);
        if distinct(&repeated.revision) > 1 {
            config.revision = None;
        }
    }
    if let Some(note) = repeated_note("features.web-history", &repeated.web_history) {
        config.ambiguities.push(note);
        if distinct(&repeated.web_history) > 1 {
            config.web_history = None;
            config.features.remove("web-history");
        }
    }
    Some(config)
}

/// Most values of one repeated key we keep to quote; the count goes on.
const MAX_REPEATS_KEPT: usize = 4;

/// Every value of the keys whose duplicates would change the report, in
/// the order sent (`serde_json::Value` keeps only the last of a repeated
/// key). Other values are skipped without being stored; serde_json's
/// recursion limit bounds nesting and `MAX_BODY` the input.
#[derive(Debug, Default)]
struct RepeatedKeys {
    version: Repeats,
    revision: Repeats,
    web_history: Repeats,
}

#[derive(Debug, Default)]
struct Repeats {
    count: usize,
    /// The first [`MAX_REPEATS_KEPT`] values, as short printable text.
    values: Vec<String>,
}

impl Repeats {
    fn push(&mut self, value: &serde_json::Value) {
        self.count = self.count.saturating_add(1);
        if self.values.len() < MAX_REPEATS_KEPT {
            let shown = match value {
                serde_json::Value::String(s) => untrusted::inert(&untrusted::clean(s, 32)),
                other => untrusted::clean(&other.to_string(), 32),
            };
            self.values.push(shown);
        }
    }
}

fn distinct(r: &Repeats) -> usize {
    let mut v: Vec<&String> = r.values.iter().collect();
    v.sort();
    v.dedup();
    // Values past the ones kept are unknown: count them as different.
    v.len() + usize::from(r.count > r.values.len())
}

fn repeated_note(key: &str, r: &Repeats) -> Option<String> {
    if r.count < 2 {
        return None;
    }
    let values = r.values.join(", ");
    Some(if distinct(r) > 1 {
        format!(
            "\"{key}\" appears {} times with different values ({values}): not reported",
            r.count
        )
    } else {
        format!("\"{key}\" appears {} times (all {values})", r.count)
    })
}

impl<'de> serde::Deserialize<'de> for RepeatedKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(TopLevel)
    }
}

struct TopLevel;

impl<'de> serde::de::Visitor<'de> for TopLevel {
    type Value = RepeatedKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RepeatedKeys, A::Error> {
        let mut out = RepeatedKeys::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "flink-version" => out.version.push(&map.next_value()?),
                "flink-revision" => out.revision.push(&map.next_value()?),
                "features" => {
                    // A repeated `features` object repeats its flags too.
                    let features: Features = map.next_value()?;
                    out.web_history.count = out.web_history.count.saturating_add(features.0.count);
                    for v in features.0.values {
                        if out.web_history.values.len() < MAX_REPEATS_KEPT {
                            out.web_history.values.push(v);
                        }
                    }
                }
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// Every `web-history` value inside one `features` object (none when
/// `features` is not an object).
struct Features(Repeats);

impl<'de> serde::Deserialize<'de> for Features {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FeaturesVisitor)
    }
}

struct FeaturesVisitor;

impl<'de> serde::de::Visitor<'de> for FeaturesVisitor {
    type Value = Features;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Features, A::Error> {
        let mut repeats = Repeats::default();
        while let Some(key) = map.next_key::<String>()? {
            if key == "web-history" {
                repeats.push(&map.next_value()?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(Features(repeats))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Features, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Features(Repeats::default()))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Features, E> {
        Ok(Features(Repeats::default()))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Features, E> {
        Ok(Features(Repeats::default()))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Features, E> {
        Ok(Features(Repeats::default()))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Features, E> {
        Ok(Features(Repeats::default()))
    }
    fn visit_str<E>(self, _: &str) -> Result<Features, E> {
        Ok(Features(Repeats::default()))
    }
    fn visit_unit<E>(self) -> Result<Features, E> {
        Ok(Features(Repeats::default()))
    }
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

/// What `GET /overview` said about a dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overview {
    /// 200 with task-manager and slot counts: a JobManager.
    Jobmanager,
    /// 404: no such endpoint, as on a HistoryServer (a JobManager always has one).
    NotFound,
    /// No usable answer (timeout, close, reset, 5xx, auth, other JSON); why.
    Unreadable(String),
}

/// Judge the `/overview` exchange; a failed exchange is never read as "absent".
pub fn overview_verdict<E: std::fmt::Display>(result: &Result<Response, E>) -> Overview {
    match result {
        Err(e) => Overview::Unreadable(e.to_string()),
        Ok(r) if is_jobmanager_overview(r) => Overview::Jobmanager,
        Ok(r) if r.status == 404 => Overview::NotFound,
        Ok(r) if r.status == 200 => {
            Overview::Unreadable("200 without taskmanagers and slots-total".into())
        }
        Ok(r) => Overview::Unreadable(format!("answered {}", r.status)),
    }
}

/// A dashboard's classification, and why it is not certain, if it is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardDecision {
    pub kind: crate::model::ServiceKind,
    pub doubt: Option<String>,
}

/// JobManager or HistoryServer. Positive evidence decides: a JobManager's
/// `/overview`, or a HistoryServer's `web-history: true` or 404 on
/// `/overview`. Without either, or when they contradict, the answer is the
/// JobManager, whose exposure is the worse one (anyone can run code), with
/// the doubt stated so confidence drops and the report says why.
pub fn decide_dashboard(web_history: Option<bool>, overview: &Overview) -> DashboardDecision {
    use crate::model::ServiceKind::{HistoryServer, JobmanagerRest};
    let (kind, doubt) = match (overview, web_history) {
        (Overview::Jobmanager, Some(true)) => (
            JobmanagerRest,
            Some("GET /overview answers like a JobManager, but /config says web-history: true (a HistoryServer)".to_string()),
        ),
        (Overview::Jobmanager, _) => (JobmanagerRest, None),
        (Overview::NotFound, Some(false)) => (
            JobmanagerRest,
            Some("GET /overview answered 404 (as a HistoryServer does), but /config says web-history: false (a JobManager); kept as JobManager REST, the worse case".to_string()),
        ),
        (Overview::NotFound, _) => (HistoryServer, None),
        (Overview::Unreadable(why), Some(true)) => (
            HistoryServer,
            Some(format!("GET /overview: {why}; HistoryServer by web-history: true alone")),
        ),
        (Overview::Unreadable(why), _) => (
            JobmanagerRest,
            Some(format!("GET /overview: {why}; not confirmed, kept as JobManager REST (the worse case: a HistoryServer would need positive evidence)")),
        ),
    };
    DashboardDecision { kind, doubt }
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

/// A SQL Gateway's `/v1/info` whose `version` is no version flinkscan
/// keeps: the note to record.
pub fn gateway_version_refused(resp: &Response) -> Option<String> {
    let json = resp.json()?;
    match json.get("version")? {
        serde_json::Value::String(text) => untrusted::version_refused("version", text),
        _ => Some("version is not a string: advisories and end of life not judged".into()),
    }
}

/// A SQL Gateway's `/v1/info` with `version` more than once: the note to
/// record, and whether the values differ (then no version is reported).
pub fn gateway_version_repeats(resp: &Response) -> Option<(String, bool)> {
    let mut seed = OneKey {
        key: "version",
        repeats: Repeats::default(),
    };
    let mut de = serde_json::Deserializer::from_slice(&resp.body);
    serde::de::DeserializeSeed::deserialize(&mut seed, &mut de).ok()?;
    let note = repeated_note("version", &seed.repeats)?;
    Some((note, distinct(&seed.repeats) > 1))
}

/// Every value of one top-level key (serde_json keeps only the last).
struct OneKey {
    key: &'static str,
    repeats: Repeats,
}

impl<'de> serde::de::DeserializeSeed<'de> for &mut OneKey {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for &mut OneKey {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == self.key {
                self.repeats.push(&map.next_value()?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
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

/// Flink's REST router answers a path it has no handler for with
/// `404 {"errors":["Not found: <path>"]}` (a SQL Gateway asked for `/config`).
pub fn is_flink_rest_not_found(resp: &Response, path: &str) -> bool {
    resp.status == 404
        && resp
            .json()
            .and_then(|j| {
                let first = j.get("errors")?.as_array()?.first()?.as_str()?.to_string();
                Some(first == format!("Not found: {path}"))
            })
            .unwrap_or(false)
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
    fn repeated_version_keys_are_reported_not_picked() {
        let two = resp(
            200,
            r#"{"refresh-interval":1,"timezone-offset":0,"flink-version":"1.20.1","flink-revision":"a","flink-version":"1.14.6"}"#,
        );
        let c = parse_dashboard_config(&two).unwrap();
        assert_eq!(c.version, None);
        assert_eq!(c.revision.as_deref(), Some("a"));
        assert_eq!(c.ambiguities.len(), 1, "{:?}", c.ambiguities);
        assert!(
            c.ambiguities[0].contains("1.20.1, 1.14.6"),
            "{:?}",
            c.ambiguities
        );
        // The same value twice is kept, but still said.
        let same = resp(
            200,
            r#"{"refresh-interval":1,"timezone-offset":0,"flink-version":"1.20.1","flink-version":"1.20.1"}"#,
        );
        let c = parse_dashboard_config(&same).unwrap();
        assert_eq!(c.version.as_deref(), Some("1.20.1"));
        assert_eq!(c.ambiguities.len(), 1);
        // web-history decides JobManager vs HistoryServer: repeated inside
        // one features object or across two, it is unknown.
        for body in [
            r#"{"refresh-interval":1,"timezone-offset":0,"flink-version":"2.3.0","features":{"web-history":false,"web-history":true}}"#,
            r#"{"refresh-interval":1,"timezone-offset":0,"flink-version":"2.3.0","features":{"web-history":false},"features":{"web-history":true}}"#,
        ] {
            let c = parse_dashboard_config(&resp(200, body)).unwrap();
            assert_eq!(c.web_history, None, "{body}");
            assert!(!c.features.contains_key("web-history"), "{body}");
            assert_eq!(c.ambiguities.len(), 1, "{body}");
        }
        // Many repeats: bounded quoting, counted in full.
        let mut many = String::from(r#"{"refresh-interval":1,"timezone-offset":0"#);
        for i in 0..1000 {
            many.push_str(&format!(r#","flink-version":"1.{i}.0""#));
        }
        many.push('}');
        let c = parse_dashboard_config(&resp(200, &many)).unwrap();
        assert_eq!(c.version, None);
        assert!(
            c.ambiguities[0].contains("1000 times"),
            "{:?}",
            c.ambiguities
        );
        assert!(c.ambiguities[0].len() < 300);
        // Odd shapes of features never break the scan.
        for features in [r#""x""#, "[1,[2]]", "null", "3.5", "true"] {
            let body = format!(
                r#"{{"refresh-interval":1,"timezone-offset":0,"flink-version":"1.20.1","features":{features}}}"#
            );
            let c = parse_dashboard_config(&resp(200, &body)).unwrap();
            assert_eq!(c.version.as_deref(), Some("1.20.1"), "{body}");
            assert!(c.ambiguities.is_empty(), "{body}");
        }
    }

    #[test]
    fn dashboard_decision_never_takes_the_milder_kind_on_failure() {
        use crate::model::ServiceKind::{HistoryServer, JobmanagerRest};
        let broken = Overview::Unreadable("timed out".into());
        for (history, overview, kind, doubt) in [
            (None, Overview::Jobmanager, JobmanagerRest, false),
            (Some(false), Overview::Jobmanager, JobmanagerRest, false),
            (Some(true), Overview::Jobmanager, JobmanagerRest, true),
            (None, Overview::NotFound, HistoryServer, false),
            (Some(true), Overview::NotFound, HistoryServer, false),
            (Some(false), Overview::NotFound, JobmanagerRest, true),
            (None, broken.clone(), JobmanagerRest, true),
            (Some(false), broken.clone(), JobmanagerRest, true),
            (Some(true), broken.clone(), HistoryServer, true),
        ] {
            let d = decide_dashboard(history, &overview);
            assert_eq!(
                (d.kind, d.doubt.is_some()),
                (kind, doubt),
                "{history:?} {overview:?}"
            );
        }
        let err: Result<Response, String> = Err("closed".into());
        assert_eq!(
            overview_verdict(&err),
            Overview::Unreadable("closed".into())
        );
        let ok = |status, body| -> Result<Response, String> { Ok(resp(status, body)) };
        assert_eq!(
            overview_verdict(&ok(200, r#"{"taskmanagers":0,"slots-total":0}"#)),
            Overview::Jobmanager
        );
        assert_eq!(
            overview_verdict(&ok(404, r#"{"errors":["File not found."]}"#)),
            Overview::NotFound
        );
        assert!(matches!(
            overview_verdict(&ok(500, "")),
            Overview::Unreadable(_)
        ));
        assert!(matches!(
            overview_verdict(&ok(200, "{")),
            Overview::Unreadable(_)
        ));
        assert!(matches!(
            overview_verdict(&ok(401, "")),
            Overview::Unreadable(_)
        ));
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
        // Captured from a real 2.1.1 gateway (tests/fixtures/sql-gateway).
        assert!(is_flink_rest_not_found(
            &resp(404, r#"{"errors":["Not found: /config"]}"#),
            "/config"
        ));
        assert!(!is_flink_rest_not_found(
            &resp(
                404,
                r#"{"errors":["Unable to load requested file /config."]}"#
            ),
            "/config"
        ));
        assert!(!is_flink_rest_not_found(
            &resp(404, "Not found: /config"),
            "/config"
        ));
        let twice = resp(
            200,
            r#"{"productName":"Apache Flink","version":"1.20.1","version":"1.16.3"}"#,
        );
        let (note, differ) = gateway_version_repeats(&twice).unwrap();
        assert!(differ && note.contains("1.20.1, 1.16.3"), "{note}");
        let once = resp(200, r#"{"productName":"Apache Flink","version":"1.20.1"}"#);
        assert!(gateway_version_repeats(&once).is_none());
        assert!(gateway_version_repeats(&resp(200, "[1]")).is_none());
    }

    #[test]
    fn generations() {
        assert_eq!(rpc_generation("1.17.2"), Some(RpcGeneration::Akka));
        assert_eq!(rpc_generation("1.18.0"), Some(RpcGeneration::Pekko));
        assert_eq!(rpc_generation("2.1.1"), Some(RpcGeneration::Pekko));
        assert_eq!(rpc_generation("x"), None);
    }
}
