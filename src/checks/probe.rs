//! Data-driven HTTP checks: one TOML file per check under `probes/http/`.
//!
//! ```toml
//! id = "rest-jar-upload"                 # unique, stable
//! rule = "FLINK-REST-JAR-UPLOAD"         # must exist in rules.toml
//! services = ["jobmanager-rest"]         # service kinds it applies to
//! detail = "GET /jars answered {status}" # {status}, {version} and {extractor-name} are filled in
//! intrusive = false                      # true: only with --intrusive
//! [request]
//! method = "GET"
//! path = "/jars"
//! plaintext = false   # true: plain HTTP even on a TLS port (redirect checks)
//! evidence = "excerpt" # or "status-only" when the body must never be kept
//! [[matchers]]        # all must match (matchers_condition = "or" for any)
//! kind = "status"
//! values = [200]
//! [[matchers]]
//! kind = "json"       # JSON pointer; `equals` compares, otherwise it must exist
//! pointer = "/files"
//! [[matchers]]
//! kind = "header"     # header value against a regex
//! name = "access-control-allow-origin"
//! regex = '^\*$'
//! [[matchers]]
//! kind = "regex"      # body against a regex; negative = true inverts
//! regex = "root:[^:]*:0:0:"
//! [[extractors]]
//! name = "location"
//! kind = "header"     # or "json" (pointer) or "regex" (first group)
//! header = "location"
//! ```
//! No templating language, no redirects, no loops: a probe is one request.
//! The deny-list in `transport::deny` is applied when a file is loaded and again
//! before every request.

use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;

use crate::model::ServiceKind;
use crate::transport::deny;
use crate::transport::http::Response;
use crate::untrusted;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeFile {
    pub id: String,
    pub rule: String,
    pub services: Vec<ProbeService>,
    pub detail: String,
    #[serde(default)]
    pub intrusive: bool,
    /// Only run on services that speak TLS (`true`) or plaintext (`false`).
    #[serde(default)]
    pub when_tls: Option<bool>,
    pub request: ProbeRequest,
    #[serde(default)]
    pub matchers_condition: Condition,
    pub matchers: Vec<Matcher>,
    #[serde(default)]
    pub extractors: Vec<Extractor>,
}

/// The services a probe file may name: the HTTP services the probe stage
/// runs on. A name outside this list fails the load, naming the file and
/// the value, rather than loading a probe that never runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeService {
    JobmanagerRest,
    HistoryServer,
    SqlGateway,
    PrometheusReporter,
}

impl ProbeService {
    pub fn kind(self) -> ServiceKind {
        match self {
            ProbeService::JobmanagerRest => ServiceKind::JobmanagerRest,
            ProbeService::HistoryServer => ServiceKind::HistoryServer,
            ProbeService::SqlGateway => ServiceKind::SqlGateway,
            ProbeService::PrometheusReporter => ServiceKind::PrometheusReporter,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeRequest {
    #[serde(default = "default_method")]
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub plaintext: bool,
    #[serde(default)]
    pub evidence: EvidenceMode,
}

fn default_method() -> String {
    "GET".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceMode {
    #[default]
    Excerpt,
    StatusOnly,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    #[default]
    And,
    Or,
}

/// One test on a response. A flat struct rather than a tagged enum, so a
/// type error names its field (`values`, `pointer`, ...) in the message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    pub kind: MatcherKind,
    /// `status`: the accepted status codes.
    #[serde(default)]
    pub values: Vec<u16>,
    /// `json`: a JSON pointer (`/features/web-submit`).
    #[serde(default)]
    pub pointer: Option<String>,
    /// `json`: the value to compare with; without it the pointer must exist.
    #[serde(default)]
    pub equals: Option<toml::Value>,
    /// `header`: the header name.
    #[serde(default)]
    pub name: Option<String>,
    /// `header` and `regex`: the pattern.
    #[serde(default)]
    pub regex: Option<String>,
    /// Invert the result.
    #[serde(default)]
    pub negative: bool,
    /// `regex`, compiled once (matching runs on every response).
    #[serde(skip)]
    compiled: OnceLock<Option<Regex>>,
}

impl Matcher {
    fn compiled(&self) -> Option<&Regex> {
        compile_once(&self.compiled, self.regex.as_deref())
    }
}

fn compile_once<'a>(cell: &'a OnceLock<Option<Regex>>, pattern: Option<&str>) -> Option<&'a Regex> {
    cell.get_or_init(|| pattern.and_then(|p| Regex::new(p).ok()))
        .as_ref()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatcherKind {
    Status,
    Json,
    Header,
    Regex,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extractor {
    pub name: String,
    pub kind: ExtractorKind,
    #[serde(default)]
    pub pointer: Option<String>,
    #[serde(default)]
    pub header: Option<String>,
    #[serde(default)]
    pub regex: Option<String>,
    #[serde(skip)]
    compiled: OnceLock<Option<Regex>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExtractorKind {
    Json,
    Header,
    Regex,
}

/// What is wrong with a probe file, naming the field.
#[derive(Debug, thiserror::Error)]
pub enum Invalid {
    #[error("field `{0}` is empty")]
    Empty(&'static str),
    #[error("field `request.path` must start with `/`")]
    RelativePath,
    #[error("field `request`: {0}")]
    Denied(deny::Denied),
    #[error("field `matchers` is empty: a probe must test something")]
    NoMatchers,
    #[error("field `matchers[{index}].{field}` is required for kind {kind:?}")]
    MatcherField {
        index: usize,
        field: String,
        kind: MatcherKind,
    },
    #[error("field `matchers[{0}].pointer` must start with `/`")]
    Pointer(usize),
    #[error("field `{0}.regex`: {1}")]
    Regex(String, regex::Error),
    #[error("field `extractors[{0}]`: kind {1:?} needs its `pointer`, `header` or `regex`")]
    Extractor(usize, ExtractorKind),
}

impl ProbeFile {
    /// Checks that serde cannot express. Returns a message naming the field.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.id.is_empty() {
            return Err(Invalid::Empty("id"));
        }
        if self.services.is_empty() {
            return Err(Invalid::Empty("services"));
        }
        if !self.request.path.starts_with('/') {
            return Err(Invalid::RelativePath);
        }
        if let Err(reason) = deny::check(&self.request.method, &self.request.path, self.intrusive) {
            return Err(Invalid::Denied(reason));
        }
        if self.matchers.is_empty() {
            return Err(Invalid::NoMatchers);
        }
        for (i, m) in self.matchers.iter().enumerate() {
            let need = |field: &str, ok: bool| {
                if ok {
                    Ok(())
                } else {
                    Err(Invalid::MatcherField {
                        index: i,
                        field: field.to_string(),
                        kind: m.kind,
                    })
                }
            };
            match m.kind {
                MatcherKind::Status => need("values", !m.values.is_empty())?,
                MatcherKind::Json => {
                    need("pointer", m.pointer.is_some())?;
                    if !m.pointer.as_deref().unwrap_or("").starts_with('/') {
                        return Err(Invalid::Pointer(i));
                    }
                }
                MatcherKind::Header => {
                    need("name", m.name.is_some())?;
                    need("regex", m.regex.is_some())?;
                }
                MatcherKind::Regex => need("regex", m.regex.is_some())?,
            }
            if let Some(re) = &m.regex {
                Regex::new(re).map_err(|e| Invalid::Regex(format!("matchers[{i}]"), e))?;
            }
        }
        for (i, x) in self.extractors.iter().enumerate() {
            let ok = match x.kind {
                ExtractorKind::Json => x.pointer.is_some(),
                ExtractorKind::Header => x.header.is_some(),
                ExtractorKind::Regex => match &x.regex {
                    Some(r) => {
                        Regex::new(r).map_err(|e| Invalid::Regex(format!("extractors[{i}]"), e))?;
                        true
                    }
                    None => false,
                },
            };
            if !ok {
                return Err(Invalid::Extractor(i, x.kind));
            }
        }
        Ok(())
    }

    pub fn applies_to(&self, kind: ServiceKind, tls: bool) -> bool {
        self.services.iter().any(|s| s.kind() == kind) && self.when_tls.is_none_or(|w| w == tls)
    }

    /// Whether the response matches this probe.
    pub fn matches(&self, resp: &Response) -> bool {
        let json = resp.json();
        let mut results = self
            .matchers
            .iter()
            .map(|m| matcher_hit(m, resp, json.as_ref()));
        match self.matchers_condition {
            Condition::And => results.all(|x| x),
            Condition::Or => results.any(|x| x),
        }
    }

    /// Extracted values, cleaned, redacted and made inert, by name.
    pub fn extract(&self, resp: &Response) -> Vec<(String, String)> {
        let json = resp.json();
        self.extractors
            .iter()
            .filter_map(|x| {
                let raw = match x.kind {
                    ExtractorKind::Json => json
                        .as_ref()
                        .and_then(|j| j.pointer(x.pointer.as_deref().unwrap_or("")))
                        .map(|v| match v {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        }),
                    ExtractorKind::Header => x
                        .header
                        .as_deref()
                        .and_then(|h| resp.header(h))
                        .map(String::from),
                    ExtractorKind::Regex => {
                        let re = compile_once(&x.compiled, x.regex.as_deref())?;
                        let text = resp.text();
                        re.captures(&text).and_then(|c| {
                            c.get(1)
                                .or_else(|| c.get(0))
                                .map(|m| m.as_str().to_string())
                        })
                    }
                }?;
                // Inert: the value goes inside our own sentence, and must
                // not inject markup or another `{placeholder}` into it.
                Some((
                    x.name.clone(),
                    untrusted::inert(&untrusted::clean(&untrusted::redact(&raw), 160)),
                ))
            })
            .collect()
    }

    /// The host-specific detail line with `{status}`, `{version}` (the
    /// service's validated version) and extractors filled in.
    pub fn render_detail(
        &self,
        status: u16,
        version: Option<&str>,
        extracted: &[(String, String)],
    ) -> String {
        let mut out = self
            .detail
            .replace("{status}", &status.to_string())
            .replace("{version}", version.unwrap_or("unknown version"));
        for (name, value) in extracted {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }
}

fn matcher_hit(m: &Matcher, resp: &Response, json: Option<&serde_json::Value>) -> bool {
    let regex_hit = |text: &str| m.compiled().is_some_and(|re| re.is_match(text));
    let hit = match m.kind {
        MatcherKind::Status => m.values.contains(&resp.status),
        MatcherKind::Json => {
            let found = json.and_then(|j| j.pointer(m.pointer.as_deref().unwrap_or("")));
            match (found, &m.equals) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(v), Some(want)) => json_equals_toml(v, want),
            }
        }
        MatcherKind::Header => m
            .name
            .as_deref()
            .and_then(|n| resp.header(n))
            .is_some_and(regex_hit),
        MatcherKind::Regex => regex_hit(&resp.text()),
    };
    hit != m.negative
}

fn json_equals_toml(v: &serde_json::Value, want: &toml::Value) -> bool {
    match (v, want) {
        (serde_json::Value::Bool(a), toml::Value::Boolean(b)) => a == b,
        (serde_json::Value::String(a), toml::Value::String(b)) => a == b,
        (serde_json::Value::Number(a), toml::Value::Integer(b)) => a.as_i64() == Some(*b),
        (serde_json::Value::Number(a), toml::Value::Float(b)) => a.as_f64() == Some(*b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn probe(text: &str) -> ProbeFile {
        let p: ProbeFile = toml::from_str(text).unwrap();
        p.validate().unwrap();
        p
    }

    #[test]
    fn matching_and_extracting() {
        let p = probe(
            r#"
id = "t"
rule = "R"
services = ["jobmanager-rest"]
detail = "status {status}, submit={submit}"
[request]
path = "/config"
[[matchers]]
kind = "status"
values = [200]
[[matchers]]
kind = "json"
pointer = "/features/web-submit"
equals = true
[[extractors]]
name = "submit"
kind = "json"
pointer = "/features/web-submit"
"#,
        );
        let yes = Response {
            status: 200,
            headers: vec![],
            body: Bytes::from_static(br#"{"features":{"web-submit":true}}"#),
        };
        let no = Response {
            body: Bytes::from_static(br#"{"features":{"web-submit":false}}"#),
            ..yes.clone()
        };
        assert!(p.matches(&yes));
        assert!(!p.matches(&no));
        let x = p.extract(&yes);
        assert_eq!(p.render_detail(200, None, &x), "status 200, submit=true");
    }

    #[test]
    fn services_map_to_the_kinds_they_name() {
        let p = probe(
            r#"
id = "t"
rule = "R"
services = ["history-server", "prometheus-reporter"]
detail = ""
when_tls = false
[request]
path = "/"
[[matchers]]
kind = "status"
values = [200]
"#,
        );
        assert!(p.applies_to(ServiceKind::HistoryServer, false));
        assert!(p.applies_to(ServiceKind::PrometheusReporter, false));
        assert!(!p.applies_to(ServiceKind::HistoryServer, true));
        assert!(!p.applies_to(ServiceKind::JobmanagerRest, false));
        assert!(!p.applies_to(ServiceKind::SqlGateway, false));
    }

    #[test]
    fn deny_list_applies_to_files() {
        let text = r#"
id = "evil"
rule = "R"
services = ["jobmanager-rest"]
detail = ""
intrusive = true
[request]
path = "/jobs/00000000000000000000000000000000/yarn-cancel"
[[matchers]]
kind = "status"
values = [200]
"#;
        let p: ProbeFile = toml::from_str(text).unwrap();
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("request"), "{e}");
    }
}
