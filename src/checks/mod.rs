//! Checks: turn an identified service into findings.
//!
//! [`run`] is the check stage for one service; [`run_extra`] runs what host
//! correlation (`crate::hosts`) asked for on services it made Flink's.
//! `catalog` holds the rules (embedded and `--probes DIR`), `probe` the
//! data-driven HTTP probes, `rule_ids` the ids code emits.
//!
//! HTTP checks are data (`probes/http/*.toml`, run by `probe`); protocols
//! that are not HTTP, and checks that must walk a whole document without
//! copying values (configuration secrets), are code here. Findings never
//! carry a secret's value: evidence names keys only.

pub mod catalog;
pub mod job_list;
pub mod jobs;
pub mod lookup;
pub mod platforms;
pub mod probe;
pub mod rule_ids;

use std::sync::Arc;
use std::time::Duration;

use catalog::Catalog;
use job_list::JobList;
use probe::EvidenceMode;

use crate::advisories::releases::Support;
use crate::advisories::version::FlinkVersion;
use crate::advisories::Verdict;
use crate::model::{
    AdvisoryMatch, Evidence, Finding, MatchConfidence, Service, ServiceKind, Severity,
};
use crate::transport::answers::Answers;
use crate::transport::http::{HttpTarget, Response};
use crate::transport::{deny, wire};
use crate::untrusted;

/// Which rules to run: `--rules` keeps only matches, `--skip-rules` drops
/// matches. Patterns are rule ids, or prefixes ending in `*`.
#[derive(Debug, Clone, Default)]
pub struct RuleFilter {
    pub only: Vec<String>,
    pub skip: Vec<String>,
}

impl RuleFilter {
    pub fn allows(&self, id: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|p| pattern_hits(p, id)))
            && !self.skip.iter().any(|p| pattern_hits(p, id))
    }

    /// Every pattern must name at least one rule of `ids`: a typo in
    /// `--rules` would otherwise run nothing and report a clean scan, and one
    /// in `--skip-rules` would silently skip nothing.
    pub fn check<'a>(
        &self,
        ids: impl Iterator<Item = &'a str> + Clone,
    ) -> Result<(), UnknownRules> {
        let mut unknown = Vec::new();
        for (flag, patterns) in [("--rules", &self.only), ("--skip-rules", &self.skip)] {
            for p in patterns {
                if !ids.clone().any(|id| pattern_hits(p, id)) {
                    unknown.push(UnknownRule {
                        flag,
                        pattern: p.clone(),
                        close: close_matches(p, ids.clone()),
                    });
                }
            }
        }
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(UnknownRules(unknown))
        }
    }
}

/// A rule id (case-insensitive) or a prefix ending in `*`.
pub fn pattern_hits(pattern: &str, id: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => id
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix)),
        None => id.eq_ignore_ascii_case(pattern),
    }
}

/// `--rules` / `--skip-rules` patterns that match no rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|u| u.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct UnknownRules(pub Vec<UnknownRule>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRule {
    pub flag: &'static str,
    pub pattern: String,
    /// Known ids (or `PREFIX*` patterns) within a small edit distance.
    pub close: Vec<String>,
}

impl std::fmt::Display for UnknownRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pattern = untrusted::shown(&self.pattern);
        if self.pattern.is_empty() {
            write!(f, "{}: empty rule id (a stray comma?)", self.flag)?;
        } else {
            write!(f, "{} {pattern}: matches no rule", self.flag)?;
        }
        if self.close.is_empty() {
            write!(f, "; `flinkscan rules` lists the rule ids")
        } else {
            write!(f, "; did you mean {}?", self.close.join(", "))
        }
    }
}

/// Up to three candidates closest to `pattern`. A prefix pattern is
/// compared with the rules' prefixes of the same length, so `FLINK-TSL-*`
/// suggests `FLINK-TLS-*`; an id is also compared with the same-length head
/// of each id, so a typo in a short id still finds the long one.
pub fn close_matches<'a>(pattern: &str, ids: impl Iterator<Item = &'a str>) -> Vec<String> {
    let upper = pattern.to_ascii_uppercase();
    let (stem, is_prefix) = match upper.strip_suffix('*') {
        Some(p) => (p.to_string(), true),
        None => (upper.clone(), false),
    };
    let stem_len = stem.chars().count();
    let mut scored: Vec<(usize, String)> = Vec::new();
    for id in ids {
        let head: String = id.chars().take(stem_len).collect();
        let (distance, shown) = if is_prefix {
            (edit_distance(&stem, &head), format!("{head}*"))
        } else {
            let whole = edit_distance(&stem, id);
            // A head match is weaker than a whole match: +1.
            let partial = edit_distance(&stem, &head) + 1;
            (whole.min(partial), id.to_string())
        };
        scored.push((distance, shown));
    }
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    let limit = (stem_len / 4).max(2);
    // Only the closest: a worse candidate beside a good one is noise.
    let best = scored.first().map_or(0, |s| s.0);
    scored
        .into_iter()
        // Something of the pattern must survive: one letter is two edits
        // from any id's first letter, which is no likeness at all.
        .filter(|(d, _)| *d <= limit && *d < stem_len && *d == best)
        .take(3)
        .map(|(_, s)| s)
        .collect()
}

/// Edit distance counting a swap of two neighbours as one edit (`TSL` is
/// one from `TLS`, as a typist sees it).
fn edit_distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

/// Shared, read-only state of the check stage.
#[derive(Debug, Clone)]
pub struct CheckContext {
    pub catalog: Arc<Catalog>,
    pub filter: RuleFilter,
    pub intrusive: bool,
    pub timeout: Duration,
    /// Run the full TLS audit on TLS ports.
    pub tls_audit: bool,
    /// The day end of life is judged at (the scan's start).
    pub scan_date: time::Date,
}

impl CheckContext {
    fn finding(
        &self,
        rule_id: &str,
        service: &Service,
        url: String,
        detail: String,
        evidence: Vec<Evidence>,
    ) -> Option<Finding> {
        if !self.filter.allows(rule_id) {
            return None;
        }
        let Some(rule) = self.catalog.rule(rule_id) else {
            // Every id the code emits is tested against the catalog
            // (rule_ids::ALL); a finding without its rule must not vanish
            // quietly if that ever slips.
            tracing::error!(rule = rule_id, endpoint = %service.endpoint, "finding dropped: rule not in the catalog");
            debug_assert!(false, "rule {rule_id} missing from the catalog");
            return None;
        };
        Some(Finding {
            body: crate::model::Body::held(url, detail, evidence),
            version: service.version.as_deref().map(Into::into),
            remediation: Some(rule.remediation.clone()),
            ..Finding::new(
                rule.id.clone(),
                rule.severity,
                rule.title.clone(),
                service.endpoint.clone(),
                service.kind,
                String::new(),
            )
        })
    }
}

/// Everything the checks learned about one service.
#[derive(Debug, Default)]
pub struct CheckOutput {
    pub findings: Vec<Finding>,
    pub tls_profile: Option<crate::tls::TlsProfile>,
    pub errors: Vec<String>,
    /// What a JobManager tells about its deployment (read by `crate::flink_rest`, grouped by `crate::clusters`).
    pub deployment: Option<crate::model::DeploymentFacts>,
    /// Rules whose check could not run: its request failed, and nothing
    /// identification saw answers it ([`run_seen`]).
    pub unchecked: Vec<String>,
    /// What a YARN ResourceManager lists (its Flink applications).
    pub yarn: Option<crate::model::YarnFacts>,
    /// Why the service may not be what identification said: it costs
    /// confidence and is one of the service's errors.
    pub doubt: Option<String>,
}

impl CheckOutput {
    fn could_not_check(&mut self, rule: &str, ctx: &CheckContext) {
        if ctx.filter.allows(rule) && !self.unchecked.iter().any(|r| r == rule) {
            self.unchecked.push(rule.to_string());
        }
    }
}

/// A check a service needs once host correlation made it Flink's
/// (`crate::hosts::adopt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    /// A mutual-TLS port next to Flink: the findings of the TLS profile
    /// its identification recorded (nothing is sent).
    TlsFindings,
    /// A JMX registry next to Flink: every check of its kind ([`run`]).
    All,
}

/// The checks host correlation asked for, in its order; their findings.
/// What they could not check is added to each service's `unchecked`.
pub async fn run_extra(
    services: &mut [Service],
    wanted: &[(usize, Extra)],
    ctx: &CheckContext,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for &(i, extra) in wanted {
        let Some(s) = services.get_mut(i) else {
            continue;
        };
        let mut out = CheckOutput::default();
        match extra {
            Extra::TlsFindings => {
                if let Some(profile) = s.tls_profile.as_ref() {
                    out.findings = tls_findings(s, profile, ctx);
                }
                if s.tls.is_some() && ctx.tls_audit {
                    for rule in tls_unchecked(s.tls_profile.as_deref()) {
                        out.could_not_check(rule, ctx);
                    }
                }
            }
            Extra::All => out = run(s, ctx).await,
        }
        findings.append(&mut out.findings);
        for rule in out.unchecked {
            if !s.unchecked.contains(&rule) {
                s.unchecked.push(rule);
            }
        }
    }
    findings
}

/// Run every applicable check on one service.
pub async fn run(service: &Service, ctx: &CheckContext) -> CheckOutput {
    run_seen(service, ctx, &crate::identify::Seen::default()).await
}

/// [`run`], reusing the HTTP answers identification got ([`Seen`]): a
/// probe file that sends the same `GET` is judged on that answer, not
/// sent again, so a JobManager that answered `GET /config` without
/// credentials and then went away is reported so; what nothing answers is
/// listed as unchecked.
///
/// [`Seen`]: crate::identify::Seen
pub async fn run_seen(
    service: &Service,
    ctx: &CheckContext,
    seen: &crate::identify::Seen,
) -> CheckOutput {
    // Every read-only GET the checks share goes out once per service.
    let answers = Answers::default();
    for (tls, path, resp) in seen.answers() {
        answers.keep(tls, path, resp);
    }
    let mut out = CheckOutput::default();
    // Every TLS port gets its profile recorded, Flink or not; findings come
    // only for Flink services.
    if service.tls.is_some() && ctx.tls_audit {
        let sni = service.endpoint.hostname.as_deref();
        match crate::tls::audit(service.endpoint.dest(), sni, ctx.timeout).await {
            Ok(p) => out.tls_profile = Some(p),
            Err(e) => out.errors.push(format!("TLS audit: {e}")),
        }
    }
    if !service.flink {
        // Look-alikes never produce a Flink finding.
        return out;
    }
    if service.kind.is_platform() && !service.inner_unreachable {
        platforms::run(service, ctx, &mut out).await;
    } else if service.kind.is_http() && !service.inner_unreachable {
        // Read once, used by a probe file, the job ids and the inventory.
        let job_list = match service.kind {
            ServiceKind::JobmanagerRest | ServiceKind::HistoryServer => {
                Some(JobList::read(&http_target(service, ctx, false), &mut out.errors).await)
            }
            _ => None,
        };
        http_probes(service, ctx, &mut out, false, &answers, job_list.as_ref()).await;
        match (service.kind, &job_list) {
            (ServiceKind::JobmanagerRest, Some(list)) => {
                let config = config_secrets(service, ctx, &mut out).await;
                out.deployment =
                    Some(deployment(service, ctx, config.as_ref(), list, &answers, &mut out).await);
                jobs::run(service, ctx, list, &answers, &mut out).await;
            }
            (ServiceKind::HistoryServer, Some(list)) => {
                let facts = crate::model::DeploymentFacts {
                    job_ids: job_ids(list),
                    ..Default::default()
                };
                if !facts.job_ids.is_empty() {
                    out.deployment = Some(facts);
                }
                jobs::run(service, ctx, list, &answers, &mut out).await;
            }
            (ServiceKind::SqlGateway, _) if ctx.intrusive => {
                gateway_session(service, ctx, &mut out).await
            }
            _ => {}
        }
    } else if service.inner_unreachable {
        // Probes that only need plain HTTP to the TLS port still apply
        // (the redirect check).
        http_probes(service, ctx, &mut out, true, &answers, None).await;
    }
    binary_plaintext(service, ctx, &mut out);
    if service.kind == ServiceKind::BlobServer && service.tls.is_none() {
        blob_path_leak(service, ctx, &mut out).await;
    }
    versions(service, ctx, &mut out);
    if let Some(profile) = &out.tls_profile {
        let mut f = tls_findings(service, profile, ctx);
        out.findings.append(&mut f);
    }
    if service.tls.is_some() && ctx.tls_audit {
        for rule in tls_unchecked(out.tls_profile.as_ref()) {
            out.could_not_check(rule, ctx);
        }
    }
    dedup(&mut out.findings);
    out
}

/// The TLS rules an audit left unknown: all of them when it failed, else
/// what its failed handshakes hid ([`crate::tls::unjudged`]). A TLS port
/// whose audit did not run to the end is never rated clean on it.
fn tls_unchecked(profile: Option<&crate::tls::TlsProfile>) -> Vec<&'static str> {
    match profile {
        Some(p) => crate::tls::unjudged(p),
        None => crate::tls::weakness::ALL.to_vec(),
    }
}

fn http_target(service: &Service, ctx: &CheckContext, plaintext: bool) -> HttpTarget {
    HttpTarget::new(
        service.endpoint.clone(),
        service.tls.is_some() && !plaintext,
        ctx.timeout,
    )
    .intrusive(ctx.intrusive)
}

async fn http_probes(
    service: &Service,
    ctx: &CheckContext,
    out: &mut CheckOutput,
    plaintext_only: bool,
    answers: &Answers,
    job_list: Option<&JobList>,
) {
    let tls = service.tls.is_some();
    for p in &ctx.catalog.probes {
        if plaintext_only && !p.request.plaintext {
            continue;
        }
        if !p.applies_to(service.kind, tls) || !ctx.filter.allows(&p.rule) {
            continue;
        }
        if p.intrusive && !ctx.intrusive {
            continue;
        }
        if !flaw_possible(&p.rule, service, ctx) {
            continue;
        }
        // Enforced again here: a file cannot be edited between load and use,
        // but the engine must not depend on that.
        if let Err(reason) = deny::check(&p.request.method, &p.request.path, ctx.intrusive) {
            out.errors.push(format!("probe {}: {reason}", p.id));
            continue;
        }
        let target = http_target(service, ctx, p.request.plaintext);
        let (method, path, body) = (
            &p.request.method,
            &p.request.path,
            p.request.body.as_deref(),
        );
        let read_once = job_list.and_then(|l| l.answer_to(method, path, body, target.tls));
        let answered = match read_once {
            Some(answer) => answer,
            None if method.eq_ignore_ascii_case("GET") && body.is_none() => {
                answers.get(&target, path).await.map_err(|e| e.to_string())
            }
            None => target
                .request(method, path, body)
                .await
                .map_err(|e| e.to_string()),
        };
        let resp = match answered {
            Ok(r) => r,
            Err(err) => {
                out.errors.push(format!("probe {}: {err}", p.id));
                out.could_not_check(&p.rule, ctx);
                continue;
            }
        };
        if !p.matches(&resp) {
            continue;
        }
        let extracted = p.extract(&resp);
        let detail = p.render_detail(resp.status, service.version.as_deref(), &extracted);
        let request = format!("{} {}", p.request.method, p.request.path);
        let evidence = match p.request.evidence {
            EvidenceMode::Excerpt => crate::transport::evidence_http(&request, &resp),
            EvidenceMode::StatusOnly => Evidence {
                request: request.into(),
                status: Some(resp.status),
                excerpt: format!("{} bytes, content not kept", resp.body.len()).into(),
            },
        };
        let scheme_target = http_target(service, ctx, p.request.plaintext);
        let url = format!(
            "{}://{}{}",
            if scheme_target.tls { "https" } else { "http" },
            service.endpoint.authority(),
            service.endpoint.path(&p.request.path)
        );
        if let Some(mut f) = ctx.finding(&p.rule, service, url, detail, vec![evidence]) {
            // A probe file for an advisory's rule tests the flaw itself.
            f.confirmed = ctx
                .catalog
                .rule(&p.rule)
                .is_some_and(|r| r.advisory.is_some());
            out.findings.push(f);
        }
    }
}

/// A probe file that confirms an advisory's flaw (`GET` of a traversal
/// path) is sent only where the flaw can be: the service's version is
/// unknown, cannot be ordered, or lies in the advisory's affected range
/// (a vendor build of an affected base release counts). A release that was
/// never affected is not sent a request its logs would show as an exploit
/// attempt; its version already says the answer.
fn flaw_possible(rule_id: &str, service: &Service, ctx: &CheckContext) -> bool {
    if ctx
        .catalog
        .rule(rule_id)
        .is_none_or(|r| r.advisory.is_none())
    {
        return true;
    }
    let Some(version) = service.version.as_deref() else {
        return true;
    };
    match ctx.catalog.advisories.matching(version, service.kind) {
        Verdict::Ordered { hits, .. } => hits.iter().any(|h| h.advisory.rule_id == rule_id),
        Verdict::Unordered { .. } => true,
    }
}

/// `/jobmanager/config` and `/jobmanager/environment`: report keys whose
/// values are unmasked secrets. Secret values never leave this function
/// or [`deployment`]; the configuration is returned for the latter.
async fn config_secrets(
    service: &Service,
    ctx: &CheckContext,
    out: &mut CheckOutput,
) -> Option<Response> {
    const RULE: &str = rule_ids::CONFIG_SECRET_EXPOSED;
    let target = http_target(service, ctx, false);
    let mut config = None;
    for path in ["/jobmanager/config", "/jobmanager/environment"] {
        let resp = match target.get(path).await {
            Ok(r) if r.status == 200 => r,
            Ok(_) => continue,
            Err(e) => {
                out.errors.push(format!("GET {path}: {e}"));
                out.could_not_check(RULE, ctx);
                continue;
            }
        };
        if path == "/jobmanager/config" {
            config = Some(resp.clone());
        }
        if !ctx.filter.allows(RULE) {
            continue;
        }
        let keys = exposed_secret_keys(&resp);
        if keys.is_empty() {
            continue;
        }
        let detail = format!(
            "GET {path} returns unmasked values for: {}",
            keys.join(", ")
        );
        let evidence = Evidence {
            request: format!("GET {path}").into(),
            status: Some(resp.status),
            excerpt: format!(
                "keys with secret values (values not kept): {}",
                keys.join(", ")
            )
            .into(),
        };
        if let Some(f) = ctx.finding(RULE, service, service.url(path), detail, vec![evidence]) {
            out.findings.push(f);
        }
    }
    config
}

/// Job ids a JobManager ran or a HistoryServer archived (its job list),
/// to tell which HistoryServer serves which cluster.
fn job_ids(list: &JobList) -> Vec<String> {
    list.listed()
        .and_then(Response::json)
        .as_ref()
        .map(crate::flink_rest::parse_job_ids)
        .unwrap_or_default()
}

/// The JobManager's TaskManagers (`GET /taskmanagers`, read-only) and the
/// non-secret configuration keys that name and harden the cluster:
/// addresses, ports and switches only, bounded (`crate::flink_rest`).
async fn deployment(
    service: &Service,
    ctx: &CheckContext,
    config: Option<&Response>,
    job_list: &JobList,
    answers: &Answers,
    out: &mut CheckOutput,
) -> crate::model::DeploymentFacts {
    let mut facts = crate::model::DeploymentFacts::default();
    if let Some(map) = config
        .and_then(Response::json)
        .as_ref()
        .and_then(crate::flink_rest::config_facts)
    {
        facts.config_readable = true;
        facts.config = map;
    }
    facts.job_ids = job_ids(job_list);
    let listed = match answers
        .get(&http_target(service, ctx, false), "/taskmanagers")
        .await
    {
        Ok(r) => {
            let parsed = (r.status == 200)
                .then(|| r.json())
                .flatten()
                .as_ref()
                .and_then(crate::flink_rest::parse_taskmanagers);
            if let Some((list, listed)) = parsed {
                facts.taskmanagers = list;
                facts.taskmanagers_listed = Some(listed);
            }
            Some((r.status, facts.taskmanagers_listed.is_some()))
        }
        Err(e) => {
            out.errors.push(format!("GET /taskmanagers: {e}"));
            None
        }
    };
    out.doubt = uncorroborated(listed, job_list);
    facts
}

/// Every Flink JobManager's REST API lists its TaskManagers
/// (`/taskmanagers`) and its jobs (`/jobs/overview`), empty lists
/// included. A server that answers `/config` and `/overview` like Flink
/// but both of those unlike it (a copy of Flink's answers behind a web
/// server, a look-alike, a honeypot) is doubted: kept as a JobManager (the
/// worse case), at lower confidence, and the report says why. A request
/// that failed says nothing either way.
fn uncorroborated(taskmanagers: Option<(u16, bool)>, jobs: &JobList) -> Option<String> {
    let (tm_status, tm_listed) = taskmanagers?;
    let jobs_status = jobs.status()?;
    (!tm_listed && !jobs.lists_jobs()).then(|| {
        format!(
            "answers /config like a Flink JobManager, but not GET /taskmanagers ({tm_status}) \
             nor GET {} ({jobs_status}), which every JobManager lists: a copy of Flink's answers \
             or a look-alike?",
            job_list::PATH
        )
    })
}

/// Keys (or JVM option names) whose values look like secrets and are not
/// masked with `******`. Returns names only.
pub fn exposed_secret_keys(resp: &Response) -> Vec<String> {
    let Some(json) = resp.json() else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    // /jobmanager/config: [{"key": ..., "value": ...}, ...]
    if let Some(items) = json.as_array() {
        for item in items.iter().take(10_000) {
            let key = item.get("key").and_then(|k| k.as_str()).unwrap_or("");
            let value = item.get("value").and_then(|v| v.as_str()).unwrap_or("");
            if is_exposed(key, value) {
                keys.push(untrusted::clean(key, 80));
            }
        }
    }
    // /jobmanager/environment: {"jvm": {"options": ["-Dkey=value", ...]}, ...}
    if let Some(options) = json.pointer("/jvm/options").and_then(|o| o.as_array()) {
        for opt in options.iter().take(10_000).filter_map(|o| o.as_str()) {
            let Some((name, value)) = opt.trim_start_matches("-D").split_once('=') else {
                continue;
            };
            if is_exposed(name, value) {
                keys.push(format!("jvm option {}", untrusted::clean(name, 80)));
            }
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

fn is_exposed(key: &str, value: &str) -> bool {
    let masked = value.is_empty() || value.chars().all(|c| c == '*');
    if masked {
        return false;
    }
    // Values can carry secrets under harmless keys: `env.java.opts.all:
    // -Dx.password=...` or a URI with user:password@.
    untrusted::is_sensitive_key(key)
        || untrusted::has_uri_credentials(value)
        || untrusted::redact(value) != value
}

/// `--intrusive` only: open one SQL Gateway session and close it again.
async fn gateway_session(service: &Service, ctx: &CheckContext, out: &mut CheckOutput) {
    const RULE: &str = rule_ids::SQL_GATEWAY_UNAUTHENTICATED;
    if !ctx.filter.allows(RULE) {
        return;
    }
    let target = http_target(service, ctx, false);
    let opened = match target.request("POST", "/v1/sessions", Some("{}")).await {
        Ok(r) => r,
        Err(e) => {
            out.errors.push(format!("POST /v1/sessions: {e}"));
            out.could_not_check(RULE, ctx);
            return;
        }
    };
    let handle = opened
        .json()
        .and_then(|j| j.get("sessionHandle")?.as_str().map(String::from))
        .filter(|h| h.len() <= 64 && h.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    let Some(handle) = handle else { return };
    let close_path = format!("/v1/sessions/{handle}");
    let closed = match deny::check("DELETE", &close_path, ctx.intrusive) {
        Ok(()) => target
            .request("DELETE", &close_path, None)
            .await
            .map(|r| r.status),
        Err(reason) => {
            out.errors.push(reason.to_string());
            return;
        }
    };
    let detail = format!(
        "Confirmed with --intrusive: POST /v1/sessions opened a session without credentials; it was closed again ({}).",
        match &closed {
            Ok(s) => format!("DELETE answered {s}"),
            Err(e) => format!("DELETE failed: {e}"),
        }
    );
    let evidence = Evidence {
        request: "POST /v1/sessions {}".into(),
        status: Some(opened.status),
        excerpt: "sessionHandle returned (handle not kept)".into(),
    };
    if let Some(mut f) = ctx.finding(
        RULE,
        service,
        service.url("/v1/sessions"),
        detail,
        vec![evidence],
    ) {
        f.confirmed = true;
        out.findings.push(f);
    }
}

fn binary_plaintext(service: &Service, ctx: &CheckContext, out: &mut CheckOutput) {
    if service.tls.is_some() {
        return;
    }
    let rule = match service.kind {
        ServiceKind::Rpc => rule_ids::RPC_PLAINTEXT,
        ServiceKind::BlobServer => rule_ids::BLOB_PLAINTEXT,
        ServiceKind::TaskmanagerData => rule_ids::TASKMANAGER_DATA_PLAINTEXT,
        ServiceKind::JmxRmi => rule_ids::JMX_EXPOSED,
        _ => return,
    };
    let detail = format!(
        "{} answered an unauthenticated plaintext probe.",
        service.kind
    );
    if let Some(f) = ctx.finding(
        rule,
        service,
        service.url(""),
        detail,
        service.evidence.clone(),
    ) {
        out.findings.push(f);
    }
}

/// `--intrusive` only: ask the BLOB server for a key that cannot exist; its
/// error names the local storage directory.
async fn blob_path_leak(service: &Service, ctx: &CheckContext, out: &mut CheckOutput) {
    const RULE: &str = rule_ids::BLOB_PATH_LEAK;
    if !ctx.intrusive || !ctx.filter.allows(RULE) {
        return;
    }
    let random: [u8; 36] = rand::random();
    let probe = wire::blob_missing_key_probe(&random);
    let reply = match wire::exchange(
        service.endpoint.dest(),
        &probe,
        ctx.timeout,
        8192,
        wire::blob_reply_complete,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            out.errors.push(format!("blob path probe: {e}"));
            out.could_not_check(RULE, ctx);
            return;
        }
    };
    let Some(path) = wire::blob_error_path(&reply.bytes) else {
        return;
    };
    let path = untrusted::inert(&untrusted::clean(&untrusted::redact(&path), 200));
    let detail = format!("A GET for a missing BLOB was answered with the storage path {path}");
    let evidence = vec![Evidence {
        request: "blob GET, transient job-unrelated key that cannot exist".into(),
        status: None,
        excerpt: format!("RETURN_ERROR with java.io.IOException naming {path}").into(),
    }];
    if let Some(f) = ctx.finding(RULE, service, service.url(""), detail, evidence) {
        out.findings.push(f);
    }
}

fn versions(service: &Service, ctx: &CheckContext, out: &mut CheckOutput) {
    // Only where the version was read on this port: inferred versions
    // would double-count a host's CVEs on every port. Interfaces that can
    // never tell their own version (JMX) are matched after host
    // correlation ([`inferred_version_findings`]).
    // A ResourceManager's version is Hadoop's: no Flink advisory or end
    // of life applies to it.
    if service.version_source.is_some() || service.kind == ServiceKind::YarnResourcemanager {
        return;
    }
    let (mut findings, mut errors) = version_findings(service, ctx);
    out.findings.append(&mut findings);
    out.errors.append(&mut errors);
}

/// Advisory findings for a port whose version was inferred from another
/// interface on its host, for interfaces that cannot report one themselves.
pub fn inferred_version_findings(service: &Service, ctx: &CheckContext) -> Vec<Finding> {
    if service.version_source.is_none() || service.kind != ServiceKind::JmxRmi {
        return Vec::new();
    }
    version_findings(service, ctx).0
}

/// Advisory and end-of-life findings for the service's version, and the
/// notices a version that cannot be judged deserves.
fn version_findings(service: &Service, ctx: &CheckContext) -> (Vec<Finding>, Vec<String>) {
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    let Some(version) = service.version.as_deref() else {
        return (findings, errors);
    };
    let (shown, inferred) = version_words(service, version);
    let evidence: Vec<Evidence> = service.evidence.iter().take(1).cloned().collect();
    let url = service.url("/config");
    let advisories = &ctx.catalog.advisories;
    match advisories.matching(version, service.kind) {
        Verdict::Ordered {
            version: v,
            hits,
            unparsed,
        } => {
            // Only the release the string starts with was read: judged as
            // a vendor build of it, and the string flagged as not ordered.
            if let Some(error) = &unparsed {
                let (f, e) = prefix_only(
                    service,
                    ctx,
                    &v,
                    &hits,
                    error,
                    (&shown, &inferred),
                    (url.clone(), evidence.clone()),
                );
                findings.extend(f);
                errors.push(e);
            }
            for hit in hits {
                let adv = hit.advisory;
                let ids = adv.ids();
                let upgrade: Vec<String> = hit.upgrade_to.iter().map(|v| v.to_string()).collect();
                let fix = if upgrade.is_empty() {
                    "no fixed release is listed for it".to_string()
                } else {
                    format!("upgrade to {}", upgrade.join(" or "))
                };
                let score = adv
                    .cvss
                    .as_ref()
                    .map(|c| format!(", CVSS {:.1} {}", c.score, c.vector))
                    .unwrap_or_default();
                let detail = if hit.vendor_build {
                    format!(
                        "Flink {shown}{inferred} is a vendor build of {}, which is affected by {}{score}; the vendor may have backported the fix, so confirm with the vendor or {fix}.",
                        base_release(&v), ids.join(" / ")
                    )
                } else {
                    format!(
                        "Flink {shown}{inferred} is in an affected range of {}{score} (version match, not exploited); {fix}.",
                        ids.join(" / ")
                    )
                };
                let confidence = if hit.vendor_build {
                    MatchConfidence::VendorBuild
                } else {
                    MatchConfidence::VersionMatch
                };
                if let Some(mut f) =
                    ctx.finding(&adv.rule_id, service, url.clone(), detail, evidence.clone())
                {
                    f.advisory = Some(Box::new(AdvisoryMatch {
                        ids,
                        confidence,
                        cvss_vector: adv.cvss.as_ref().map(|c| c.vector.clone()),
                        cvss_score: adv.cvss.as_ref().map(|c| c.score),
                        upgrade_to: upgrade,
                        // The rule lists them all; a finding keeps the
                        // first few so JSON Lines stay small.
                        references: adv.references().into_iter().take(5).collect(),
                    }));
                    findings.push(f);
                }
            }
            end_of_life(
                service,
                ctx,
                &v,
                (&shown, &inferred),
                (url.clone(), evidence.clone()),
                &mut findings,
                &mut errors,
            );
        }
        Verdict::Unordered { error, candidates } => {
            let ids: Vec<String> = candidates
                .iter()
                .filter_map(|a| a.cves.first().or(Some(&a.record.id)).cloned())
                .collect();
            errors.push(format!(
                "{}; advisories and end of life not judged for this port",
                untrusted::clean(&error.to_string(), 120)
            ));
            let detail = format!(
                "Flink reports version {shown}{inferred}, which cannot be ordered against the advisory ranges; {} could apply ({}). Find the real release from the deployment.",
                if ids.len() == 1 { "this advisory" } else { "these advisories" },
                if ids.is_empty() { "none known for this interface".to_string() } else { ids.join(", ") }
            );
            if let Some(mut f) =
                ctx.finding(rule_ids::VERSION_UNORDERED, service, url, detail, evidence)
            {
                f.advisory = Some(Box::new(unordered_match(ids)));
                findings.push(f);
            }
        }
    }
    (findings, errors)
}

/// The advisories a version that cannot be ordered exactly may be
/// affected by: named, never scored or given a fix.
fn unordered_match(ids: Vec<String>) -> AdvisoryMatch {
    AdvisoryMatch {
        ids,
        confidence: MatchConfidence::Unordered,
        cvss_vector: None,
        cvss_score: None,
        upgrade_to: Vec::new(),
        references: Vec::new(),
    }
}

/// The version as findings quote it, and where it came from if inferred.
fn version_words(service: &Service, version: &str) -> (String, String) {
    let inferred = service
        .version_source
        .as_deref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    (untrusted::clean(version, 64), inferred)
}

/// A version string of which only the leading release could be read: a
/// finding that it cannot be ordered exactly, and the error line.
#[allow(clippy::too_many_arguments)]
fn prefix_only(
    service: &Service,
    ctx: &CheckContext,
    v: &FlinkVersion,
    hits: &[crate::advisories::Hit<'_>],
    error: &crate::advisories::version::VersionError,
    (shown, inferred): (&str, &str),
    (url, evidence): (String, Vec<Evidence>),
) -> (Vec<Finding>, String) {
    let mut findings = Vec::new();
    let error_line = format!(
        "{}; judged as a vendor build of {}, the release it starts with",
        untrusted::clean(&error.to_string(), 120),
        base_release(v)
    );
    let ids: Vec<String> = hits
        .iter()
        .filter_map(|h| {
            h.advisory
                .cves
                .first()
                .or(Some(&h.advisory.record.id))
                .cloned()
        })
        .collect();
    let detail = format!(
        "Flink reports version {shown}{inferred}, which cannot be ordered exactly against the advisory ranges; it starts with release {}, and is judged as a vendor build of it ({}). Find the real release from the deployment.",
        base_release(v),
        if ids.is_empty() { "no advisory matches that release".to_string() } else { format!("possibly affected by {}", ids.join(", ")) }
    );
    if let Some(mut f) = ctx.finding(rule_ids::VERSION_UNORDERED, service, url, detail, evidence) {
        f.advisory = Some(Box::new(unordered_match(ids)));
        findings.push(f);
    }
    (findings, error_line)
}

/// Whether the release line of `v` still gets fixes (Flink's lines only).
#[allow(clippy::too_many_arguments)]
fn end_of_life(
    service: &Service,
    ctx: &CheckContext,
    v: &FlinkVersion,
    (shown, inferred): (&str, &str),
    (url, evidence): (String, Vec<Evidence>),
    findings: &mut Vec<Finding>,
    errors: &mut Vec<String>,
) {
    // Flink's release lines say nothing of the operator's.
    let support = if service.kind.is_platform() {
        Support::Supported
    } else {
        ctx.catalog.advisories.releases.support(v, ctx.scan_date)
    };
    match support {
        Support::Supported => {}
        Support::Unknown => errors.push(format!(
            "Flink {shown} is newer than the shipped release data (checked {}); end of life not judged",
            ctx.catalog.advisories.releases.file.checked
        )),
        Support::EndOfLife { supported, upgrade_to } => {
            let to = upgrade_to
                .map(|u| format!("; upgrade to {u} or another supported line"))
                .unwrap_or_default();
            let detail = format!(
                "Flink {shown}{inferred} is on the {}.{} line, which no longer gets fixes (supported lines on {}: {}){to}.",
                v.major,
                v.minor,
                ctx.scan_date,
                supported.join(", ")
            );
            if let Some(f) =
                ctx.finding(rule_ids::EOL_VERSION, service, url, detail, evidence)
            {
                findings.push(f);
            }
        }
    }
}

fn base_release(v: &FlinkVersion) -> String {
    format!("{}.{}.{}", v.major, v.minor, v.patch)
}

/// Findings from a TLS profile's weaknesses.
pub fn tls_findings(
    service: &Service,
    profile: &crate::tls::TlsProfile,
    ctx: &CheckContext,
) -> Vec<Finding> {
    // The operator's webhook is called by the API server only, which trusts
    // it through the webhook configuration's caBundle: the Helm chart's
    // default issuer is cert-manager's self-signed one.
    let internal = !service.kind.is_http()
        || service.kind == ServiceKind::Unknown
        || service.kind == ServiceKind::K8sOperatorWebhook;
    let mut findings = Vec::new();
    for w in &profile.weaknesses {
        let Some(mut f) = ctx.finding(
            &w.rule_id,
            service,
            service.url(""),
            w.detail.clone(),
            vec![Evidence {
                request: "TLS handshakes".into(),
                status: None,
                excerpt: untrusted::clean(&w.detail, 200).into(),
            }],
        ) else {
            continue;
        };
        // Flink's docs recommend self-signed certificates pinned in the
        // truststore for internal ports: rank that as information there.
        if internal && &*f.rule_id == crate::tls::weakness::CERT_SELF_SIGNED {
            f.severity = Severity::Info;
        }
        // The API server calls the webhook by its service name, which a
        // scan by address cannot match.
        if service.kind == ServiceKind::K8sOperatorWebhook
            && &*f.rule_id == crate::tls::weakness::CERT_NAME_MISMATCH
        {
            f.severity = Severity::Info;
        }
        findings.push(f);
    }
    findings
}

/// One finding per (rule, endpoint); an active confirmation wins over a
/// version match, and keeps the advisory data the version match carried.
fn dedup(findings: &mut Vec<Finding>) {
    let rank = |f: &Finding| u8::from(!f.confirmed);
    findings.sort_by(|a, b| {
        (&a.rule_id, &a.endpoint)
            .cmp(&(&b.rule_id, &b.endpoint))
            .then_with(|| rank(a).cmp(&rank(b)))
    });
    findings.dedup_by(|later, kept| {
        let same = later.rule_id == kept.rule_id && later.endpoint == kept.endpoint;
        if same && kept.confirmed && kept.advisory.is_none() {
            if let Some(mut a) = later.advisory.take() {
                a.confidence = MatchConfidence::Confirmed;
                kept.advisory = Some(a);
            }
        }
        same
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const IDS: &[&str] = &[
        "FLINK-REST-PLAINTEXT",
        "FLINK-REST-UNAUTHENTICATED",
        "FLINK-TLS-WEAK-CIPHER",
        "FLINK-TLS-CBC-CIPHER",
        "FLINK-JMX-EXPOSED",
    ];

    /// A mutual-TLS port next to Flink whose audit failed during the
    /// check stage (no profile): host correlation adopts it, and its TLS
    /// rules are listed as unchecked, not passed over. Nothing is sent.
    #[tokio::test]
    async fn an_adopted_port_without_a_finished_audit_is_unchecked() {
        let ctx = CheckContext {
            catalog: Arc::new(Catalog::load(None, None).expect("embedded catalog")),
            filter: RuleFilter::default(),
            intrusive: false,
            timeout: Duration::from_secs(1),
            tls_audit: true,
            scan_date: time::macros::date!(2026 - 06 - 01),
        };
        let endpoint = crate::model::Endpoint::new([192, 0, 2, 1].into(), 6123);
        let mut s = Service::new(endpoint, ServiceKind::Unknown);
        s.tls = Some(Box::new(crate::model::TlsSummary {
            version: Some("TLSv1.2".into()),
            cipher_suite: None,
            client_cert_required: true,
            certificate: None,
        }));
        s.flink = true;
        let mut services = vec![s];
        let found = run_extra(&mut services, &[(0, Extra::TlsFindings)], &ctx).await;
        assert!(found.is_empty());
        assert_eq!(services[0].unchecked.len(), crate::tls::weakness::ALL.len());
        // Without the audit asked for, nothing is missing.
        services[0].unchecked.clear();
        let off = CheckContext {
            tls_audit: false,
            ..ctx
        };
        run_extra(&mut services, &[(0, Extra::TlsFindings)], &off).await;
        assert!(services[0].unchecked.is_empty());
    }

    fn rule_filter(only: &[&str], skip: &[&str]) -> RuleFilter {
        RuleFilter {
            only: only.iter().map(|s| s.to_string()).collect(),
            skip: skip.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn rule_patterns_that_match_nothing_are_errors_with_close_matches() {
        let ok = rule_filter(
            &["FLINK-TLS-*", "flink-jmx-exposed"],
            &["FLINK-REST-PLAINTEXT"],
        );
        assert_eq!(ok.check(IDS.iter().copied()), Ok(()));
        assert!(ok.allows("FLINK-TLS-CBC-CIPHER") && ok.allows("FLINK-JMX-EXPOSED"));
        assert!(rule_filter(&["flink-tls-*"], &[]).allows("FLINK-TLS-CBC-CIPHER"));

        let e = rule_filter(
            &["FLINK-REST-UNAUTHENTICATD", "FLINK-TSL-*"],
            &["FLINK-TSL-WEAK"],
        )
        .check(IDS.iter().copied())
        .unwrap_err();
        assert_eq!(e.0.len(), 3, "{e}");
        assert_eq!(e.0[0].close, ["FLINK-REST-UNAUTHENTICATED"]);
        assert_eq!(e.0[1].close, ["FLINK-TLS-*"]);
        assert_eq!(e.0[2].flag, "--skip-rules");
        assert!(
            e.0[2].close.contains(&"FLINK-TLS-WEAK-CIPHER".to_string()),
            "{e}"
        );
        let text = e.to_string();
        assert!(
            text.contains("--rules FLINK-TSL-*: matches no rule; did you mean FLINK-TLS-*?"),
            "{text}"
        );

        let e = rule_filter(&["NOTHING-LIKE-IT\u{202e}"], &[])
            .check(IDS.iter().copied())
            .unwrap_err();
        assert!(e.0[0].close.is_empty());
        let text = e.to_string();
        assert!(
            text.contains("flinkscan rules") && text.contains("\\u{202e}"),
            "{text}"
        );
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn secrets_are_named_not_copied() {
        let body = r#"[{"key":"s3.access-key","value":"AKIAPLANTED"},{"key":"s3.secret-key","value":"******"},{"key":"state.checkpoints.dir","value":"s3://bob:hunter2@bucket/cp"},{"key":"rest.port","value":"8081"}]"#;
        let resp = Response {
            status: 200,
            headers: vec![],
            body: Bytes::from(body.to_string()),
        };
        let keys = exposed_secret_keys(&resp);
        assert_eq!(keys, vec!["s3.access-key", "state.checkpoints.dir"]);
        let env = r#"{"jvm":{"options":["-Xmx1g","-Djavax.net.ssl.keyStorePassword=PLANTED2"]}}"#;
        let resp = Response {
            body: Bytes::from(env.to_string()),
            ..resp
        };
        assert_eq!(
            exposed_secret_keys(&resp),
            vec!["jvm option javax.net.ssl.keyStorePassword"]
        );
    }

    #[test]
    fn filter() {
        let f = RuleFilter {
            only: vec!["FLINK-TLS-*".into()],
            skip: vec!["FLINK-TLS-CBC-CIPHER".into()],
        };
        assert!(f.allows("FLINK-TLS-WEAK-CIPHER"));
        assert!(!f.allows("FLINK-TLS-CBC-CIPHER"));
        assert!(!f.allows("FLINK-RPC-PLAINTEXT"));
    }
}
