//! The hard deny-list: requests that change a Flink cluster's state, which
//! no probe file and no flag can send.
//!
//! Some of Flink's GET endpoints act (DESIGN.md): `/jobs/:id/yarn-cancel` and
//! `/jobs/:id/yarn-stop` cancel or stop jobs, `/jars/:id/plan` runs a jar's
//! `main()`. Uploads, job submission, cancel, rescale, savepoints, shutdown
//! and jar deletion are writes. `--intrusive` only unlocks the few requests
//! listed in `INTRUSIVE_ALLOWED`, which open and close a SQL Gateway session.

/// Requests allowed only with `--intrusive`: (method, path prefix).
const INTRUSIVE_ALLOWED: &[(&str, &str)] = &[("POST", "/v1/sessions"), ("DELETE", "/v1/sessions/")];

/// Path fragments that are never requested, whatever the method.
const DENIED_FRAGMENTS: &[&str] = &[
    "yarn-cancel",
    "yarn-stop",
    "/plan",
    "/run",
    "/upload",
    "/savepoints",
    "/stop",
    "/rescaling",
    "/cluster",
    "/statements",
    "/operations",
    "/configure-session",
    "/complete-statement",
];

/// `Ok` if the request may be sent; `Err` says why not.
pub fn check(method: &str, path: &str, intrusive: bool) -> Result<(), String> {
    let method = method.to_ascii_uppercase();
    let lower = path.to_ascii_lowercase();
    // Normalise the obvious encodings so `%2f` tricks do not slip through.
    let decoded = lower.replace("%2f", "/").replace("%252f", "/");
    for frag in DENIED_FRAGMENTS {
        if decoded.contains(frag) {
            return Err(format!(
                "`{path}` is on the deny-list (`{frag}` changes cluster state)"
            ));
        }
    }
    match method.as_str() {
        "GET" | "HEAD" | "OPTIONS" => Ok(()),
        _ => {
            let allowed = INTRUSIVE_ALLOWED
                .iter()
                .any(|(m, p)| *m == method && decoded.starts_with(p));
            if allowed && intrusive {
                Ok(())
            } else if allowed {
                Err(format!(
                    "{method} {path} changes target state; it needs --intrusive"
                ))
            } else {
                Err(format!(
                    "{method} {path} is on the deny-list: only GET, HEAD and OPTIONS are sent"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn state_changing_requests_are_refused() {
        for (m, p) in [
            ("GET", "/jobs/abc/yarn-cancel"),
            ("GET", "/jobs/abc/yarn-stop"),
            ("GET", "/jars/x.jar/plan"),
            ("POST", "/jars/upload"),
            ("POST", "/jobs"),
            ("PATCH", "/jobs/abc"),
            ("DELETE", "/jars/x.jar"),
            ("DELETE", "/cluster"),
            ("POST", "/v1/sessions/h/statements"),
            ("GET", "/jobs/abc%2fyarn-cancel"),
        ] {
            assert!(check(m, p, true).is_err(), "{m} {p}");
        }
        assert!(check("POST", "/v1/sessions", false).is_err());
        assert!(check("POST", "/v1/sessions", true).is_ok());
        assert!(check("GET", "/jars", false).is_ok());
        assert!(check("GET", "/jobmanager/config", false).is_ok());
    }
}
