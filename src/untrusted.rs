//! Turning what a remote host sent into text that is safe to put in a report:
//! bounded, printable, and with secret values redacted; and turning any
//! string a person will read (peer values, target files, arguments, reports
//! read back) into text a terminal shows as written.

use std::sync::OnceLock;

use regex::Regex;

/// Characters that change what a terminal shows without being seen
/// themselves: control characters (escape sequences start with one),
/// bidirectional overrides and isolates that reorder the rest of a line
/// (the "Trojan Source" characters), zero-width and other format characters
/// that hide or join text, and line/paragraph separators.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// The one way a string reaches a person's terminal: every hidden character
/// (see [`is_hidden`]) becomes a visible escape such as `\u{202e}`, so the
/// reader sees that something was there and the terminal interprets nothing.
pub fn shown(text: &str) -> String {
    shown_keeping(text, false)
}

/// Like [`shown`] for text we assembled ourselves from several lines (an
/// error with one line per bad target): newlines stay, everything else
/// hidden is escaped.
pub fn shown_lines(text: &str) -> String {
    shown_keeping(text, true)
}

fn shown_keeping(text: &str, newlines: bool) -> String {
    if !text.chars().any(is_hidden) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_hidden(c) && !(newlines && c == '\n') {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// The most characters of one value an error quotes.
pub const QUOTE_MAX: usize = 200;

/// A value quoted in an error: as [`shown`], and at most [`QUOTE_MAX`]
/// characters of it, the cut said with the whole length (a 100 MB token
/// must not become a 100 MB line on stderr).
pub fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_MAX) {
        None => shown(text),
        Some((at, _)) => format!(
            "{}... ({} characters in all)",
            shown(&text[..at]),
            text.chars().count()
        ),
    }
}

/// Every line of `text` cut to about `max` characters, its middle
/// replaced by the count of what was cut (the start and end of a line
/// say what it is about: `invalid value '...' for '--rate <N>'`): the
/// last bound on an error message, whatever it quotes.
pub fn cap_lines(text: &str, max: usize) -> String {
    if text.lines().all(|l| l.len() <= max) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len().min(max * 8));
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let count = line.chars().count();
        if count <= max {
            out.push_str(line);
            continue;
        }
        let half = max / 2;
        let head: String = line.chars().take(half).collect();
        let tail: String = line.chars().skip(count - half).collect();
        out.push_str(&format!(
            "{head} [... {} characters cut ...] {tail}",
            count - 2 * half
        ));
    }
    out
}

/// Printable, single-line, at most `max` characters (an ellipsis marks a cut).
pub fn clean(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 3));
    for (count, c) in text.chars().enumerate() {
        if count >= max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.push(' ');
        } else if is_hidden(c) {
            // Kept visible in reports too, so a reader of the JSON sees it.
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
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
            r#"(?i)((?:password|passwd|secret|token|apikey|api[-_]key|access[-_.]?key|credential|jaas\.config|basic-auth|authorization)[a-z0-9_.\-]*"?\s*[:=]\s*"?)((?:(?:basic|bearer|digest|negotiate)\s+)?[^",}\s]+)"#,
        )
    })
}

/// Redact credentials inside URIs (`s3://user:pass@`) and values of
/// secret-looking keys in free text or JSON. An `Authorization` value loses
/// its scheme word too, else `Basic` would be redacted and the credential
/// after it kept.
pub fn redact(text: &str) -> String {
    let t = uri_credentials().replace_all(text, "${1}${2}:******@");
    key_value_secrets()
        .replace_all(&t, "${1}******")
        .into_owned()
}

/// Every `scheme://user:password@` in `text` with the password masked
/// (`scheme://user:******@`; userinfo without a `:` is masked whole). The
/// userinfo runs to the last `@` of the URL, so a password holding `@`,
/// `/` or `:` is masked whole too. For messages that may quote what the
/// user typed: argument errors quote `--proxy` values as given.
pub fn mask_uri_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '`' | '<' | '>'))
            .unwrap_or(tail.len());
        let url = &tail[..end];
        match url.rfind('@') {
            Some(at) => {
                match url[..at].split_once(':') {
                    Some((user, _)) => {
                        out.push_str(user);
                        out.push_str(":******");
                    }
                    None => out.push_str("******"),
                }
                out.push_str(&url[at..]);
            }
            None => out.push_str(url),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// An error message as it reaches stderr: credentials in URLs masked,
/// hidden characters escaped (newlines kept), every line bounded.
pub fn for_stderr(text: &str) -> String {
    cap_lines(&shown_lines(&mask_uri_credentials(text)), 1000)
}

/// True if a URI-looking value embeds a password.
pub fn has_uri_credentials(value: &str) -> bool {
    uri_credentials().is_match(value)
}

/// A Flink version string as reported by a peer: one that starts like a
/// release (`1.14.0 (vendor build)`, `v1.13.2/../x`) is kept whatever
/// follows, so the advisory matcher reads what it can and flags the rest;
/// a custom build name (`master-custom`) is kept too. Printable, inert
/// (no markup characters), at most 64 characters. `None` for anything
/// else, which [`version_refused`] names.
pub fn version(text: &str) -> Option<String> {
    let t = text.trim();
    let mut chars = t.chars();
    let release_like = match chars.next() {
        Some(c) if c.is_ascii_digit() => true,
        Some('v' | 'V') => chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    };
    let build_name = t.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    (release_like || build_name).then(|| clean(&inert(t), 64))
}

/// Why the value of `key` is no version [`version`] keeps, for the
/// service's errors: a refused version is said, never dropped silently.
pub fn version_refused(key: &str, text: &str) -> Option<String> {
    if version(text).is_some() {
        return None;
    }
    Some(if text.trim().is_empty() {
        format!("{key} is empty: advisories and end of life not judged")
    } else {
        format!(
            "{key} `{}` is not a Flink version: advisories and end of life not judged",
            clean(&inert(text.trim()), 64)
        )
    })
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
    fn shown_escapes_every_hidden_character_visibly() {
        let hostile =
            "a\u{202e}b\u{2066}c\u{200b}d\u{feff}e\x1b[31mf\u{061c}g\u{200f}h\u{2060}i\nj";
        let s = shown(hostile);
        for c in s.chars() {
            assert!(!is_hidden(c), "{c:?} survived in {s}");
        }
        for visible in [
            "\\u{202e}",
            "\\u{2066}",
            "\\u{200b}",
            "\\u{feff}",
            "\\u{1b}[31m",
            "\\u{61c}",
            "\\u{200f}",
            "\\u{2060}",
            "\\u{a}",
        ] {
            assert!(s.contains(visible), "{visible} missing from {s}");
        }
        assert_eq!(
            shown("FLINK-REST-PLAINTEXT 127.0.0.1:8081 é"),
            "FLINK-REST-PLAINTEXT 127.0.0.1:8081 é"
        );
        assert_eq!(shown_lines("a\nb\u{202e}"), "a\nb\\u{202e}");
    }

    #[test]
    fn uri_credentials_are_masked_whatever_the_password_holds() {
        for (input, want) in [
            (
                "invalid value 'socks5://alice:TopSecretPW@host' for '--proxy <URL>'",
                "invalid value 'socks5://alice:******@host' for '--proxy <URL>'",
            ),
            (
                "socks5h://bob:p@ss/w:rd@10.0.0.1:1080 and http://x/y",
                "socks5h://bob:******@10.0.0.1:1080 and http://x/y",
            ),
            ("socks5://tokenonly@h:1", "socks5://******@h:1"),
            ("no url here: a@b", "no url here: a@b"),
            ("", ""),
        ] {
            assert_eq!(mask_uri_credentials(input), want, "{input}");
        }
        let e = for_stderr("x socks5://u:Secret\u{202e}@h\nnext");
        assert!(!e.contains("Secret") && e.contains("next"), "{e}");
    }

    #[test]
    fn quotes_and_lines_are_bounded() {
        assert_eq!(quote("a\u{202e}b"), "a\\u{202e}b");
        let long = "x".repeat(10_000_000);
        let q = quote(&long);
        assert!(
            q.len() < 300 && q.ends_with("(10000000 characters in all)"),
            "{q}"
        );
        let capped = cap_lines(&format!("short\n'{long}' for --rate\nend"), 500);
        let lines: Vec<&str> = capped.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!((lines[0], lines[2]), ("short", "end"));
        assert!(lines[1].len() < 600, "{}", lines[1].len());
        assert!(lines[1].starts_with("'xxx") && lines[1].ends_with("xxx' for --rate"));
        assert!(
            lines[1].contains("[... 9999513 characters cut ...]"),
            "{}",
            lines[1]
        );
        assert_eq!(cap_lines("a\nb", 5), "a\nb");
    }

    #[test]
    fn clean_bounds() {
        assert_eq!(clean("a\nb", 10), "a b");
        assert_eq!(clean("abcdef", 3), "abc…");
        assert_eq!(clean("a\u{202e}b", 10), "a\\u{202e}b");
        assert_eq!(version("1.20.1"), Some("1.20.1".into()));
        assert_eq!(version("<script>"), None);
        assert!(version_refused("flink-version", "<script>")
            .is_some_and(|n| n.contains("`?script?`") && n.contains("not a Flink version")));
        assert_eq!(version_refused("v", "1.20.1"), None);
    }

    /// Every word of the list, in any case, inside a longer key; and keys
    /// that merely look close are not secrets.
    #[test]
    fn every_sensitive_word_is_recognised() {
        for key in [
            "a.password",
            "x.SECRET.y",
            "oauth.token",
            "x.apikey",
            "x.api-key",
            "x.api_key",
            "s3.access-key",
            "s3.access.key",
            "fs.accesskey",
            "gcs.credentials",
            "security.kerberos.login.jaas.config",
            "metrics.reporter.x.basic-auth",
            "ssl.private-key",
            "pulsar.auth-params",
            "azure.sas",
            "security.ssl.keystore.key",
        ] {
            assert!(is_sensitive_key(key), "{key}");
            assert!(is_sensitive_key(&key.to_ascii_uppercase()), "{key}");
        }
        for key in ["rest.port", "jobmanager.memory", "", "keystore", "pass"] {
            assert!(!is_sensitive_key(key), "{key}");
        }
    }

    #[test]
    fn redact_replaces_values_and_keeps_everything_else() {
        for (input, want) in [
            ("s3://bob:hunter2@bucket/x", "s3://bob:******@bucket/x"),
            ("JDBC:mysql://u:p@h/db", "JDBC:mysql://u:******@h/db"),
            ("password=abc rest", "password=****** rest"),
            ("Password: abc", "Password: ******"),
            (r#""api_key": "k1","x":1"#, r#""api_key": "******","x":1"#),
            ("token=t1,next", "token=******,next"),
            ("s3.access-key=AK}", "s3.access-key=******}"),
            ("Authorization: Basic dXNlcjpwYXNz", "Authorization: ******"),
            (
                "authorization=bearer eyJ0 next",
                "authorization=****** next",
            ),
            ("jaas.config=x", "jaas.config=******"),
            ("credentials_file=/etc/c", "credentials_file=******"),
            (
                "hdfs://nn:8020/x rest.port=8081",
                "hdfs://nn:8020/x rest.port=8081",
            ),
            ("", ""),
        ] {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn excerpts_are_redacted_cleaned_and_bounded() {
        assert_eq!(excerpt(b"a\npassword=x", 100), "a password=******");
        assert_eq!(excerpt(b"abcdef", 3), "abc…");
        assert_eq!(excerpt(b"abc", 3), "abc");
        assert_eq!(excerpt(&[0x61, 0xff, 0x62], 10), "a\u{fffd}b");
        // Up to four bytes per character are read: wide characters are
        // not cut into replacement characters.
        assert_eq!(
            excerpt("\u{1d11e}\u{1d11e}\u{1d11e}".as_bytes(), 3),
            "\u{1d11e}\u{1d11e}\u{1d11e}"
        );
        // Only the first 4*max bytes are looked at.
        let long = format!("{}password=x", "a".repeat(40));
        assert_eq!(excerpt(long.as_bytes(), 10), "aaaaaaaaaa…");
        assert_eq!(hex_excerpt(&[1, 2, 3], 2), "0102…");
        assert_eq!(hex_excerpt(&[1, 2], 2), "0102");
        assert_eq!(
            inert("<a href='x'>{$y|z&w;`}\"</a>"),
            "?a href=?x????y?z?w?????/a?"
        );
        assert_eq!(inert("plain text"), "plain text");
    }

    #[test]
    fn version_and_hidden_bounds() {
        assert_eq!(version(" 1.20.1 "), Some("1.20.1".into()));
        assert_eq!(version("master-custom_2"), Some("master-custom_2".into()));
        assert_eq!(version(&"1".repeat(64)), Some("1".repeat(64)));
        assert_eq!(
            version(&"1".repeat(65)),
            Some(format!("{}…", "1".repeat(64)))
        );
        assert_eq!(version(""), None);
        assert_eq!(version("  "), None);
        assert_eq!(version(".1"), None);
        assert_eq!(version("1.14.0-<b>"), Some("1.14.0-?b?".into()));
        assert_eq!(
            version("1.14.0 (vendor build)"),
            Some("1.14.0 (vendor build)".into())
        );
        assert_eq!(
            version("1.14.0\u{1b}[2J\u{202e}"),
            Some("1.14.0 [2J\\u{202e}".into())
        );
        for c in [
            '\u{AD}',
            '\u{61C}',
            '\u{180E}',
            '\u{200B}',
            '\u{200F}',
            '\u{2028}',
            '\u{202E}',
            '\u{2060}',
            '\u{206F}',
            '\u{FEFF}',
            '\u{FFF9}',
            '\u{FFFB}',
            '\u{E0000}',
            '\u{E007F}',
            '\x07',
        ] {
            assert!(is_hidden(c), "{c:?}");
        }
        for c in [
            'a',
            ' ',
            'é',
            '\u{2027}',
            '\u{2030}',
            '\u{FFFC}',
            '\u{E0080}',
            '\u{1F600}',
        ] {
            assert!(!is_hidden(c), "{c:?}");
        }
        assert_eq!(shown("plain"), "plain");
        assert_eq!(shown("a\nb"), "a\\u{a}b");
        assert_eq!(clean("ab", 2), "ab");
        assert_eq!(clean("a\u{200b}", 5), "a\\u{200b}");
    }
}
