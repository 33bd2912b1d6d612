//! Turning what a remote host sent into text that is safe to put in a report:
//! bounded, printable, and with secret values redacted.

use std::sync::OnceLock;

use regex::Regex;

/// Printable, single-line, at most `max` characters (an ellipsis marks a cut).
pub fn clean(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 3));
    for (count, c) in text.chars().enumerate() {
        if count >= max {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// Replace characters that mean something to HTML, shells or templates
/// (`<>"'\`{}$|&;`) with `?`: for peer values placed inside our own
/// sentences, such as extracted header values.
pub fn inert(text: &str) -> String {
    text.chars()
        .map(|c| if "<>\"'`{}$|&;".contains(c) { '?' } else { c })
        .collect()
}

/// A short excerpt of bytes: lossy UTF-8, cleaned, secrets redacted.
pub fn excerpt(bytes: &[u8], max: usize) -> String {
    let head = bytes.get(..bytes.len().min(max * 4)).unwrap_or(bytes);
    clean(&redact(&String::from_utf8_lossy(head)), max)
}

/// Hex of the first bytes, for non-text protocols.
pub fn hex_excerpt(bytes: &[u8], max_bytes: usize) -> String {
    let head = bytes.get(..bytes.len().min(max_bytes)).unwrap_or(bytes);
    let mut s = hex::encode(head);
    if bytes.len() > max_bytes {
        s.push('…');
    }
    s
}

/// Config keys whose values are secrets. Flink's own masking
/// (`GlobalConfiguration.SENSITIVE_KEYS`) misses several of these on old
/// versions; we redact them all, always.
pub fn is_sensitive_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "password",
        "secret",
        "token",
        "apikey",
        "api-key",
        "api_key",
        "access-key",
        "access.key",
        "accesskey",
        "credential",
        "jaas.config",
        "basic-auth",
        "private",
        "auth-params",
        "sas",
        "keystore.key",
    ];
    WORDS.iter().any(|w| k.contains(w))
}

/// Patterns here are constants exercised by unit tests, so failing to compile
/// one is a programming error.
#[allow(clippy::expect_used)]
fn constant_regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("constant regex compiles")
}

fn uri_credentials() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| constant_regex(r"(?i)([a-z][a-z0-9+.\-]*://)([^/\s:@]+):([^/\s@]+)@"))
}

fn key_value_secrets() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        constant_regex(
            r#"(?i)((?:password|passwd|secret|token|apikey|api[-_]key|access[-_.]?key|credential|jaas\.config|basic-auth|authorization)[a-z0-9_.\-]*"?\s*[:=]\s*"?)([^",}\s]+)"#,
        )
    })
}

/// Redact credentials inside URIs (`s3://user:pass@`) and values of
/// secret-looking keys in free text or JSON.
pub fn redact(text: &str) -> String {
    let t = uri_credentials().replace_all(text, "${1}${2}:******@");
    key_value_secrets()
        .replace_all(&t, "${1}******")
        .into_owned()
}

/// True if a URI-looking value embeds a password.
pub fn has_uri_credentials(value: &str) -> bool {
    uri_credentials().is_match(value)
}

/// A Flink version string as reported by a peer: digits, dots and a short
/// suffix only, or `None` if it does not look like one.
pub fn version(text: &str) -> Option<String> {
    let t = text.trim();
    let ok = !t.is_empty()
        && t.len() <= 32
        // Custom builds report names such as `master-custom`: keep them so
        // the advisory matcher can say it cannot order them.
        && t.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_');
    ok.then(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction() {
        let s = redact(
            r#"{"key":"s3.access-key","value":"AKIAXYZ"} s3://bob:hunter2@bucket/x password=abc"#,
        );
        assert!(!s.contains("hunter2"), "{s}");
        assert!(!s.contains("abc"), "{s}");
        assert!(s.contains("s3://bob:******@bucket"), "{s}");
        assert!(is_sensitive_key("s3.access-key"));
        assert!(is_sensitive_key("security.kerberos.login.jaas.config"));
        assert!(!is_sensitive_key("rest.port"));
        assert!(has_uri_credentials("hdfs://u:p@nn:8020/x"));
        assert!(!has_uri_credentials("hdfs://nn:8020/x"));
    }

    #[test]
    fn clean_bounds() {
        assert_eq!(clean("a\nb", 10), "a b");
        assert_eq!(clean("abcdef", 3), "abc…");
        assert_eq!(version("1.20.1"), Some("1.20.1".into()));
        assert_eq!(version("<script>"), None);
    }
}
