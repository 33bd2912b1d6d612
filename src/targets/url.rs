//! URL targets: `https://gw.corp:8443/flink/` names one host, one port and
//! the path prefix a reverse proxy serves Flink under. Every HTTP request
//! to that endpoint goes under the prefix, and reports show the full URL.
//!
//! The scheme sets the default port (80 or 443); whether the port speaks
//! TLS is still decided by probing, as on every other port.

/// What a URL adds to a host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTarget {
    /// `https://` (the user's expectation; probing decides).
    pub https: bool,
    /// The path prefix without its trailing slash (`/flink`); `None` for
    /// the root.
    pub base_path: Option<String>,
}

/// Longest path prefix accepted: a proxy location, not a request.
const MAX_PATH: usize = 256;

/// The parts of `http[s]://HOST[:PORT][/PATH]`: the host text (brackets
/// stripped), the port and what the URL adds. The error says what is wrong
/// in words for a message that already names the token.
pub fn parse_url(text: &str) -> Result<(String, u16, UrlTarget), String> {
    let uri: http::Uri = text.parse().map_err(|e| format!("not a valid URL ({e})"))?;
    let https = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("https") => true,
        Some("http") => false,
        Some(other) => {
            return Err(format!(
                "unsupported scheme `{other}://`: give http:// or https://, or a bare host"
            ))
        }
        None => return Err("a URL needs http:// or https://".into()),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| "the URL has no host".to_string())?;
    // Anywhere after the scheme: `http://u:pa/ss@h/` parses as the host
    // `u` with a path holding the rest of the password.
    if text
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains('@'))
    {
        return Err("credentials in the URL are not supported (flinkscan never sends them)".into());
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    // The `http` crate keeps a port it cannot read (`h:80x`) and answers
    // no port: read it here, so a typo is refused, not scanned on 80.
    let auth = authority.as_str();
    let tail = auth
        .rfind(']')
        .map_or(auth, |i| auth.get(i + 1..).unwrap_or(""));
    let port = match tail.rsplit_once(':').map(|(_, p)| p) {
        Some("") => return Err("`:` without a port number".into()),
        Some(p) => match p.parse::<u16>() {
            Ok(0) => return Err("port 0 is not a valid port".into()),
            Ok(p) => p,
            Err(_) => return Err(format!("`{p}` is not a port number (1-65535)")),
        },
        None if https => 443,
        None => 80,
    };
    if uri.query().is_some() || text.contains('#') {
        return Err(
            "give the prefix Flink is served under, without a query or fragment (`?`, `#`)".into(),
        );
    }
    let base_path = base_path(uri.path())?;
    Ok((host, port, UrlTarget { https, base_path }))
}

/// `/flink/` and `/flink` both mean the prefix `/flink`; `/` is the root.
fn base_path(path: &str) -> Result<Option<String>, String> {
    if path.len() > MAX_PATH {
        return Err(format!("the path is longer than {MAX_PATH} characters"));
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(None);
    }
    if trimmed.split('/').any(|seg| seg == "." || seg == "..") {
        return Err("the path may not contain `.` or `..` segments".into());
    }
    if trimmed.contains("//") {
        return Err("the path may not contain empty segments (`//`)".into());
    }
    // Every request goes under the prefix: one the deny-list refuses
    // (`/jobs/ID/yarn-cancel`) would refuse or change every request.
    if let Err(why) = crate::transport::deny::check_path(&format!("{trimmed}/config")) {
        return Err(format!("the prefix cannot be scanned: {why}"));
    }
    Ok(Some(trimmed.to_string()))
}

/// `text` with any user information of a URL (`user:password@`) masked:
/// an error message quotes the token, and a password must not travel into
/// terminals, logs or CI output. Everything between the scheme and the
/// last `@` goes, since a password may hold `/`, `?` or `#`.
pub fn redact_userinfo(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    match rest.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}"),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> (String, u16, Option<String>, bool) {
        let (h, p, u) = parse_url(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        (h, p, u.base_path, u.https)
    }

    #[test]
    fn urls_give_host_port_and_prefix() {
        assert_eq!(
            ok("https://gw.example:8443/flink/"),
            ("gw.example".into(), 8443, Some("/flink".into()), true)
        );
        assert_eq!(
            ok("http://127.0.0.1:8080/a/b"),
            ("127.0.0.1".into(), 8080, Some("/a/b".into()), false)
        );
        assert_eq!(ok("http://[::1]/"), ("::1".into(), 80, None, false));
        assert_eq!(ok("HTTPS://host"), ("host".into(), 443, None, true));
    }

    #[test]
    fn bad_urls_say_why() {
        for (bad, why) in [
            ("ftp://h/", "scheme"),
            ("http://u:p@h/", "credentials"),
            ("http://h:0/", "port 0"),
            ("http://h:80x/", "not a port number"),
            ("http://h:70000/", "not a port number"),
            ("http://h/a@b/", "credentials"),
            ("http://h/x?y=1", "query"),
            ("http://h/x#y", "fragment"),
            ("http://h/a/../b", ".."),
            ("http://h/a//b", "empty segments"),
            ("http:///x", "URL"),
        ] {
            let e = parse_url(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
        for denied in [
            "http://h/run/",
            "http://h/jobs/j/yarn-cancel",
            "http://h/x/%2Fstop",
        ] {
            let e = parse_url(denied).expect_err(denied);
            assert!(e.contains("deny-list"), "{denied}: {e}");
        }
        let long = format!("http://h/{}", "a".repeat(300));
        assert!(parse_url(&long).unwrap_err().contains("longer"));
    }

    #[test]
    fn userinfo_is_masked() {
        assert_eq!(redact_userinfo("http://u:s3cret@h/x"), "http://***@h/x");
        assert_eq!(redact_userinfo("http://u:a/b@c@h/"), "http://***@h/");
        assert_eq!(redact_userinfo("http://h/x"), "http://h/x");
        assert_eq!(redact_userinfo("10.0.0.1"), "10.0.0.1");
    }
}
