//! Is this value a credential? Judged from the key's name and the value's
//! shape, never by copying the value anywhere: callers get a [`Verdict`]
//! and, for a secret, its length and a salted fingerprint ([`Seen`]).
//!
//! Flink masks values of keys it deems sensitive as `******` (its
//! `GlobalConfiguration.HIDDEN_CONTENT`); such a value is [`Verdict::Masked`]:
//! the secret exists and sits in the job graph in clear, only this API
//! hides it. Keys Flink does not mask (`kafka.sasl.jaas`, `sink.key`,
//! `jdbc.url`, ...) are caught by their value's shape.

use std::sync::OnceLock;

use regex::Regex;
use sha2::{Digest, Sha256};

use crate::model::{SecretKind, Seen};

/// The judgement on one key and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A credential, readable as it is.
    Clear(SecretKind),
    /// Flink replaced the value with `******`: a secret is configured here.
    Masked,
    /// Nothing that looks like a credential.
    NotSecret,
}

/// A secret as reports may show it (`crate::model::Seen`): its kind, its
/// length and the fingerprint of its value.
pub fn seen(kind: SecretKind, value: &str) -> Seen {
    Seen {
        kind,
        length: value.chars().count(),
        fingerprint: fingerprint(value),
    }
}

/// Patterns are constants exercised by the unit tests below.
#[allow(clippy::expect_used)]
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("constant regex compiles")
}

fn salt() -> &'static [u8; 16] {
    static SALT: OnceLock<[u8; 16]> = OnceLock::new();
    SALT.get_or_init(rand::random)
}

pub fn fingerprint(value: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt());
    h.update(value.as_bytes());
    hex::encode(&h.finalize()[..6])
}

fn pem() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| re(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"))
}

fn aws() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        re(r"(?:^|[^A-Za-z0-9])((?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})(?:[^A-Za-z0-9]|$)")
    })
}

fn jdbc_password() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    // `?password=x`, `;password=x` (SQL Server), `//user:pw@` and Oracle's
    // `thin:user/pw@`.
    R.get_or_init(|| {
        re(r#"(?i)jdbc:[^\s"]*?(?:[?&;:]\s*password\s*=\s*[^&;\s*"]|//[^/\s:@]+:[^/\s@*][^/\s@]*@|thin:[^/@\s]+/[^@\s*][^@\s]*@)"#)
    })
}

fn jaas_password() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| re(r#"(?i)LoginModule\b.*\bpassword\s*=\s*"?[^"\s;*]"#))
}

fn embedded_password() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        re(r#"(?i)\b(?:password|passwd|pwd|secret|token|api[-_.]?key|access[-_.]?key|secret[-_.]?key)\s*[=:]\s*"?[^"\s;,&*]"#)
    })
}

fn uri_credentials() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| re(r"(?i)[a-z][a-z0-9+.\-]*://[^/\s:@]+:([^/\s@]+)@"))
}

fn not_a_value() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    // Switches, numbers and durations under a secret-sounding key
    // (`security.delegation.tokens.enabled: true`, `token.ttl: 3600 s`),
    // placeholders filled in elsewhere (`${DB_PASSWORD}`), and file paths
    // (`ssl.keystore.password-file: /etc/...`).
    R.get_or_init(|| {
        re(r"(?i)^(?:true|false|yes|no|on|off|null|none|\d{1,7}(?:\.\d+)?\s*(?:ms|s|sec|min|h|d|b|kb|mb|gb)?|\$\{[^}]*\}|/[^\s]*|file:[^\s]*)$")
    })
}

/// True if the key's name says it holds a secret. Tokens are compared
/// whole (`kafka.sasl.mechanism` is not a secret; `kafka.topic` neither).
pub fn is_secret_key(key: &str) -> bool {
    let tokens = tokens(key);
    const SINGLE: &[&str] = &[
        "password",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "secret",
        "token",
        "credential",
        "credentials",
        "apikey",
        "accesskey",
        "secretkey",
        "privatekey",
        "sas",
    ];
    const PAIRS: &[(&str, &str)] = &[
        ("access", "key"),
        ("api", "key"),
        ("secret", "key"),
        ("private", "key"),
        ("account", "key"),
        ("auth", "params"),
        ("basic", "auth"),
        ("service", "key"),
    ];
    tokens
        .iter()
        .any(|t| SINGLE.contains(&t.as_str()) || (t.ends_with("password") || t.ends_with("secret")))
        || tokens
            .windows(2)
            .any(|w| PAIRS.contains(&(w[0].as_str(), w[1].as_str())))
}

/// Lower-case words of a key: split at punctuation and camelCase humps.
fn tokens(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Flink's mask: the whole value is asterisks.
pub fn is_masked(value: &str) -> bool {
    let v = value.trim();
    !v.is_empty() && v.chars().all(|c| c == '*')
}

/// The secret a value's shape reveals, whatever its key.
pub fn shape(value: &str) -> Option<SecretKind> {
    if pem().is_match(value) {
        Some(SecretKind::PrivateKey)
    } else if aws().is_match(value) {
        Some(SecretKind::AwsAccessKey)
    } else if jdbc_password().is_match(value) {
        Some(SecretKind::JdbcPassword)
    } else if jaas_password().is_match(value) {
        Some(SecretKind::JaasPassword)
    } else if uri_credentials()
        .captures(value)
        .and_then(|c| c.get(1))
        .is_some_and(|p| !is_masked(p.as_str()))
    {
        Some(SecretKind::UriCredentials)
    } else if embedded_password().is_match(value) {
        Some(SecretKind::EmbeddedPassword)
    } else {
        None
    }
}

/// Judge one key and its value.
pub fn classify(key: &str, value: &str) -> Verdict {
    if is_masked(value) {
        return Verdict::Masked;
    }
    if let Some(kind) = shape(value) {
        return Verdict::Clear(kind);
    }
    let v = value.trim();
    if is_secret_key(key) && v.chars().count() >= 3 && !not_a_value().is_match(v) {
        return Verdict::Clear(SecretKind::SecretKeyName);
    }
    Verdict::NotSecret
}

/// A name (job, operator, key) as reports may show it: cleaned, with any
/// credential it carries replaced, so a secret pasted into a job name does
/// not travel into the inventory.
pub fn safe_name(text: &str, max: usize) -> String {
    let cleaned = crate::untrusted::clean(&crate::untrusted::redact(text), max);
    if shape(&cleaned).is_some() {
        "(withheld: looks like a credential)".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names() {
        for k in [
            "db.password",
            "password",
            "s3.access-key",
            "fs.s3a.secret.key",
            "aws.secretAccessKey",
            "apiToken",
            "kafka.sasl.client.secret",
            "fs.azure.account.key.x.blob.core.windows.net",
            "ssl.keystore.password",
            "keyPassword",
            "credentials",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "kafka.topic",
            "kafka.sasl.mechanism",
            "jdbc.url",
            "rest.port",
            "passenger.count",
            "tokenizer.model",
            "keyBy",
            "state.backend",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn verdicts() {
        use SecretKind::*;
        let clear = |k: &str, v: &str| match classify(k, v) {
            Verdict::Clear(kind) => Some(kind),
            _ => None,
        };
        assert_eq!(clear("db.password", "hunter2"), Some(SecretKeyName));
        assert_eq!(classify("db.password", "******"), Verdict::Masked);
        assert_eq!(classify("anything", "******"), Verdict::Masked);
        assert_eq!(
            clear("sink.key", "AKIAIOSFODNN7EXAMPLE"),
            Some(AwsAccessKey)
        );
        assert_eq!(
            clear("x", "prefix ASIAIOSFODNN7EXAMPLE,"),
            Some(AwsAccessKey)
        );
        assert_eq!(clear("x", "AKIAIOSFODNN7EXAMPLEXX"), None);
        assert_eq!(
            clear(
                "jdbc.url",
                "jdbc:postgresql://db:5432/orders?user=app&password=s3cret"
            ),
            Some(JdbcPassword)
        );
        assert_eq!(
            clear("url", "jdbc:sqlserver://db:1433;user=sa;password=s3cret;"),
            Some(JdbcPassword)
        );
        assert_eq!(
            clear("url", "jdbc:mysql://app:s3cret@db:3306/orders"),
            Some(JdbcPassword)
        );
        assert_eq!(
            clear("url", "jdbc:oracle:thin:scott/tiger@db:1521:orcl"),
            Some(JdbcPassword)
        );
        assert_eq!(clear("jdbc.url", "jdbc:postgresql://db:5432/orders"), None);
        assert_eq!(
            clear(
                "url",
                "jdbc:postgresql://db/orders?user=app&password=******"
            ),
            None
        );
        assert_eq!(
            clear(
                "kafka.sasl.jaas",
                r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="app" password="s3cret";"#
            ),
            Some(JaasPassword)
        );
        assert_eq!(
            clear(
                "kafka.sasl.jaas",
                r#"com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="/etc/k.keytab";"#
            ),
            None
        );
        assert_eq!(
            clear(
                "key",
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----"
            ),
            Some(PrivateKey)
        );
        assert_eq!(
            clear("cert", "-----BEGIN CERTIFICATE-----\nMIIE...\n"),
            None
        );
        assert_eq!(
            clear("checkpoint.dir", "s3://bob:hunter2@bucket/cp"),
            Some(UriCredentials)
        );
        assert_eq!(clear("checkpoint.dir", "s3://bob:******@bucket/cp"), None);
        assert_eq!(
            clear("opts", "-Xmx1g user=x password=abc"),
            Some(EmbeddedPassword)
        );
        for (k, v) in [
            ("security.delegation.tokens.enabled", "true"),
            ("token.ttl", "3600 s"),
            ("db.password", "${DB_PASSWORD}"),
            ("ssl.keystore.password", "/etc/secret/pw"),
            ("db.password", ""),
            ("kafka.topic", "orders"),
            ("parallelism", "4"),
        ] {
            assert_eq!(classify(k, v), Verdict::NotSecret, "{k}={v}");
        }
    }

    #[test]
    fn seen_keeps_no_value() {
        let s = seen(SecretKind::SecretKeyName, "hunter2");
        let json = serde_json::to_string(&s).unwrap_or_default();
        assert!(!json.contains("hunter2"), "{json}");
        assert_eq!(s.length, 7);
        assert_eq!(s.fingerprint.len(), 12);
        assert_eq!(s.fingerprint, seen(s.kind, "hunter2").fingerprint);
        assert_ne!(s.fingerprint, seen(s.kind, "hunter3").fingerprint);
        assert_eq!(
            safe_name("orders password=hunter2", 80),
            "orders password=******"
        );
        assert_eq!(
            safe_name("job AKIAIOSFODNN7EXAMPLE", 80),
            "(withheld: looks like a credential)"
        );
    }
}
