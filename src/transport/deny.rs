//! The hard deny-list: requests that change a Flink cluster's state, which
//! no probe file and no flag can send.
//!
//! Some of Flink's GET endpoints act (DESIGN.md): `/jobs/:id/yarn-cancel` and
//! `/jobs/:id/yarn-stop` cancel or stop jobs, `/jars/:id/plan` runs a jar's
//! `main()`. Uploads, job submission, cancel, rescale, savepoints, shutdown
//! and jar deletion are writes. `--intrusive` only unlocks the two requests
//! in [`intrusive_allowed`], which open and close a SQL Gateway session.
//!
//! The HTTP transport (`transport::http::HttpTarget`) calls [`check`] on every
//! request it is asked to send, so identification, checks and probe files
//! cannot bypass it; the callers' own checks only give earlier, nicer errors.

/// Path fragments that are never requested, whatever the method; matched
/// on the decoded, lower-cased path (query included).
const DENIED_FRAGMENTS: &[&str] = &[
    "yarn-cancel",
    "yarn-stop",
    "/plan",
    "/run",
    "/upload",
    "/savepoints",
    "/savepoint-disposal",
    "/stop",
    "/rescaling",
    "/cluster",
    "/statements",
    "/operations",
    "/configure-session",
    "/complete-statement",
    "/scripts",
];

/// A GET of the YARN ResourceManager's read-only web services
/// (`/ws/v1/cluster/info`, `/ws/v1/cluster/apps`): `/cluster` there is
/// YARN's resource name, not Flink's shutdown endpoint (`DELETE /cluster`).
/// Every write YARN serves there is a POST, PUT or DELETE, refused below.
fn is_yarn_web_service(method: &str, decoded: &str) -> bool {
    let Some(rest) = decoded.strip_prefix("/ws/v1/cluster") else {
        return false;
    };
    method == "GET"
        && (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
        && !rest.contains("/cluster")
        && !rest.contains("..")
}

/// Percent-decoding rounds before a path is refused as too deeply encoded.
const MAX_DECODE_ROUNDS: usize = 3;

/// `Ok` if the request may be sent; `Err` says why not.
pub fn check(method: &str, path: &str, intrusive: bool) -> Result<(), String> {
    let method = method.to_ascii_uppercase();
    let decoded = check_path_as(&method, path)?;
    match method.as_str() {
        "GET" | "HEAD" | "OPTIONS" => Ok(()),
        _ if intrusive_allowed(&method, &decoded) => {
            if intrusive {
                Ok(())
            } else {
                Err(format!(
                    "{method} {path} changes target state; it needs --intrusive"
                ))
            }
        }
        _ => Err(format!(
            "{method} {path} is on the deny-list: only GET, HEAD and OPTIONS are sent"
        )),
    }
}

/// The method-independent half of [`check`]: `Ok` with the normalised
/// path if no denied fragment is in it. A request under a path prefix (a
/// reverse proxy's `/flink`) is judged on the full path too, since the
/// server in front routes on that, not on the path Flink sees.
pub fn check_path(path: &str) -> Result<String, String> {
    check_path_as("GET", path)
}

/// `check_path` for a request with `method`: only a GET may read YARN's
/// `/ws/v1/cluster` web services past the `/cluster` fragment.
fn check_path_as(method: &str, path: &str) -> Result<String, String> {
    let Some(decoded) = normalise(path) else {
        return Err(format!(
            "`{path}` is refused: encoded more than {MAX_DECODE_ROUNDS} times or has control characters"
        ));
    };
    for frag in DENIED_FRAGMENTS {
        if *frag == "/cluster" && is_yarn_web_service(method, &decoded) {
            continue;
        }
        if decoded.contains(frag) {
            return Err(format!(
                "`{path}` is on the deny-list (`{frag}` changes cluster state)"
            ));
        }
    }
    Ok(decoded)
}

/// With `--intrusive`: open a SQL Gateway session (`POST /v1/sessions`) and
/// close one by its handle (`DELETE /v1/sessions/<handle>`); nothing else,
/// not even other requests under `/v1/sessions`.
fn intrusive_allowed(method: &str, decoded: &str) -> bool {
    match method {
        "POST" => decoded == "/v1/sessions",
        "DELETE" => decoded.strip_prefix("/v1/sessions/").is_some_and(|handle| {
            !handle.is_empty() && handle.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        }),
        _ => false,
    }
}

/// The path as a server would see it after decoding: percent-decoded until
/// stable, backslashes as slashes, lower case. None when it is still
/// changing after [`MAX_DECODE_ROUNDS`] or holds control characters or
/// whitespace (which no request we send needs, but for a space in the query).
fn normalise(path: &str) -> Option<String> {
    let mut current = path.to_string();
    let mut rounds = 0;
    loop {
        let next = percent_decode(&current);
        if next == current {
            break;
        }
        rounds += 1;
        if rounds > MAX_DECODE_ROUNDS {
            return None;
        }
        current = next;
    }
    // A plain space may sit in a query value (YARN's `applicationTypes=Apache
    // Flink`); the path itself never needs one.
    let (path_part, query) = current.split_once('?').unwrap_or((&current, ""));
    if path_part
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
        || query
            .chars()
            .any(|c| c.is_control() || (c.is_whitespace() && c != ' '))
    {
        return None;
    }
    Some(current.replace('\\', "/").to_ascii_lowercase())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::check;

    /// Every state-changing operation of Flink's REST API and SQL Gateway,
    /// by the method and path Flink serves it on: refused even with
    /// `--intrusive`.
    const DENIED_OPERATIONS: &[(&str, &str)] = &[
        // Jars: upload, run, plan (runs main(), also as GET), delete.
        ("POST", "/jars/upload"),
        ("POST", "/v1/jars/upload"),
        ("POST", "/jars/a1b2_job.jar/run"),
        ("POST", "/jars/a1b2_job.jar/run?entry-class=x&parallelism=1"),
        ("GET", "/jars/a1b2_job.jar/run"),
        ("POST", "/jars/a1b2_job.jar/plan"),
        ("GET", "/jars/a1b2_job.jar/plan"),
        ("GET", "/jars/a1b2_job.jar/plan?entry-class=x"),
        ("DELETE", "/jars/a1b2_job.jar"),
        // Jobs: submit, cancel, stop, rescale, savepoints, checkpoints.
        ("POST", "/jobs"),
        ("PATCH", "/jobs/0123456789abcdef0123456789abcdef"),
        (
            "PATCH",
            "/jobs/0123456789abcdef0123456789abcdef?mode=cancel",
        ),
        ("GET", "/jobs/0123456789abcdef0123456789abcdef/yarn-cancel"),
        ("GET", "/jobs/0123456789abcdef0123456789abcdef/yarn-stop"),
        ("POST", "/jobs/0123456789abcdef0123456789abcdef/stop"),
        (
            "PATCH",
            "/jobs/0123456789abcdef0123456789abcdef/rescaling?parallelism=2",
        ),
        ("POST", "/jobs/0123456789abcdef0123456789abcdef/rescaling"),
        ("GET", "/jobs/0123456789abcdef0123456789abcdef/rescaling"),
        ("POST", "/jobs/0123456789abcdef0123456789abcdef/savepoints"),
        ("GET", "/jobs/0123456789abcdef0123456789abcdef/savepoints"),
        ("POST", "/savepoint-disposal"),
        ("POST", "/jobs/0123456789abcdef0123456789abcdef/checkpoints"),
        (
            "PUT",
            "/jobs/0123456789abcdef0123456789abcdef/resource-requirements",
        ),
        (
            "POST",
            "/jobs/0123456789abcdef0123456789abcdef/clientHeartbeat",
        ),
        ("DELETE", "/datasets/0123456789abcdef0123456789abcdef"),
        // Cluster shutdown.
        ("DELETE", "/cluster"),
        ("GET", "/cluster"),
        // SQL Gateway: statements, session configuration, completion,
        // heartbeats, operations, scripts, materialized tables.
        ("POST", "/v1/sessions/5e2f-1a/statements"),
        ("POST", "/v2/sessions/5e2f-1a/statements"),
        ("GET", "/v1/sessions/5e2f-1a/statements"),
        ("POST", "/v1/sessions/5e2f-1a/configure-session"),
        ("POST", "/v1/sessions/5e2f-1a/complete-statement"),
        (
            "GET",
            "/v1/sessions/5e2f-1a/complete-statement?statement=x&position=1",
        ),
        ("POST", "/v1/sessions/5e2f-1a/heartbeat"),
        ("POST", "/v1/sessions/5e2f-1a/operations/77/cancel"),
        ("DELETE", "/v1/sessions/5e2f-1a/operations/77/close"),
        ("GET", "/v1/sessions/5e2f-1a/operations/77/result/0"),
        ("POST", "/v3/sessions/5e2f-1a/scripts"),
        ("POST", "/v3/sessions/5e2f-1a/materialized-tables/t/refresh"),
        ("POST", "/v1/sessions/"),
        ("POST", "/v1/sessions?x=1"),
        ("POST", "/v1/sessionsx"),
        ("DELETE", "/v1/sessions/5e2f-1a/x"),
        ("DELETE", "/v1/sessions/"),
        // Any other write method.
        ("PUT", "/config"),
        ("PATCH", "/overview"),
        ("CONNECT", "/"),
        ("TRACE", "/"),
    ];

    /// YARN's read-only web services pass as GET only; YARN's writes (a
    /// new application, a kill) and Flink's `/cluster` stay refused.
    #[test]
    fn yarn_web_services_pass_as_get_only() {
        for p in [
            "/ws/v1/cluster/info",
            "/ws/v1/cluster/apps?applicationTypes=Apache%20Flink&limit=64",
        ] {
            assert_eq!(check("GET", p, false), Ok(()), "{p}");
        }
        for (m, p) in [
            ("POST", "/ws/v1/cluster/apps/new-application"),
            ("POST", "/ws/v1/cluster/apps"),
            ("PUT", "/ws/v1/cluster/apps/application_1_0001/state"),
            ("GET", "/ws/v1/cluster/../../cluster"),
            ("GET", "/ws/v1/cluster/x/cluster"),
            ("GET", "/ws/v1/clusterx/cluster"),
            ("GET", "/proxy/application_1_0001/cluster"),
            ("GET", "/ws/v1/cluster/apps?x=%09"),
            ("GET", "/ws/v1/cluster /info"),
        ] {
            assert!(check(m, p, true).is_err(), "{m} {p} passed");
        }
    }

    #[test]
    fn every_denied_operation_of_flinks_rest_api_is_refused() {
        for (m, p) in DENIED_OPERATIONS {
            assert!(
                check(m, p, true).is_err(),
                "{m} {p} passed with --intrusive"
            );
            assert!(check(m, p, false).is_err(), "{m} {p} passed");
        }
    }

    /// Case, percent-encoding (single, double, triple, of letters and of
    /// slashes), backslashes, dot segments and trailing parts do not get a
    /// denied request through.
    #[test]
    fn encoded_and_case_variants_are_refused() {
        for (m, p) in [
            ("get", "/jobs/x/yarn-cancel"),
            ("GET", "/JOBS/X/YARN-CANCEL"),
            ("GET", "/jobs/x/Yarn-Stop"),
            ("GET", "/jobs/x%2fyarn-cancel"),
            ("GET", "/jobs/x%2Fyarn-cancel"),
            ("GET", "/jobs/x%252fyarn-cancel"),
            ("GET", "/jobs/x%25252fyarn-cancel"),
            ("GET", "/jars/x.jar/%72un"),
            ("GET", "/jars/x.jar/%52%55%4E"),
            ("GET", "/jars/x.jar%2Fplan"),
            ("GET", "/jars/x.jar\\run"),
            ("GET", "/jars/x.jar/./run"),
            ("GET", "/jars/x.jar//run/"),
            ("GET", "/jars/x.jar/run;x=1"),
            ("GET", "/jobs/x/yarn%2Dcancel"),
            ("delete", "/cluster"),
            ("Delete", "/CLUSTER"),
            ("post", "/v1/sessions/h/Statements"),
            ("post", "/v1/sessions/h/%73tatements"),
            ("GET", "/jobs/x%2525252fyarn-cancel"),
            ("GET", "/config\r\nX: y"),
            ("GET", "/jobs/x/yarn-cancel\u{0}"),
            ("GET", "/a b"),
        ] {
            assert!(check(m, p, true).is_err(), "{m} {p:?} passed");
        }
    }

    #[test]
    fn reads_and_the_intrusive_session_pair_pass() {
        for (m, p) in [
            ("GET", "/config"),
            ("GET", "/overview"),
            ("GET", "/jars"),
            ("GET", "/jobmanager/config"),
            ("GET", "/jobmanager/environment"),
            ("HEAD", "/"),
            ("OPTIONS", "/config"),
            ("get", "/v1/info"),
            ("GET", "/v1/api_versions"),
            ("GET", "/metrics"),
            ("GET", "/jobs/overview"),
            ("GET", "/%63onfig"),
            ("GET", "/jars/a%2Fb"),
        ] {
            assert_eq!(check(m, p, false), Ok(()), "{m} {p}");
        }
        assert!(check("POST", "/v1/sessions", false).is_err());
        assert_eq!(check("POST", "/v1/sessions", true), Ok(()));
        assert_eq!(check("post", "/V1/Sessions", true), Ok(()));
        assert!(check("DELETE", "/v1/sessions/5e2f-1a", false).is_err());
        assert_eq!(check("DELETE", "/v1/sessions/5e2f-1A", true), Ok(()));
        let needs = check("POST", "/v1/sessions", false).unwrap_err();
        assert!(needs.contains("--intrusive"), "{needs}");
        let denied = check("GET", "/jars/x/run", true).unwrap_err();
        assert!(denied.contains("`/run`"), "{denied}");
        let write = check("PUT", "/config", true).unwrap_err();
        assert!(write.contains("only GET, HEAD and OPTIONS"), "{write}");
    }

    /// Up to three rounds of percent-encoding are decoded; a fourth refuses
    /// the path even when what it hides is harmless.
    #[test]
    fn encoding_depth_is_bounded_at_three_rounds() {
        assert_eq!(check("GET", "/%63onfig", false), Ok(()));
        assert_eq!(check("GET", "/%2563onfig", false), Ok(()));
        assert_eq!(check("GET", "/%252563onfig", false), Ok(()));
        let deep = check("GET", "/%25252563onfig", false).unwrap_err();
        assert!(deep.contains("encoded more than 3 times"), "{deep}");
    }
}
