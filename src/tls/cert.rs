//! X.509 analysis: DER certificate -> [`CertSummary`], and name matching.
//!
//! Everything taken from a certificate is peer data: strings are sanitised
//! (control characters escaped) and capped before they reach a summary.

use std::net::IpAddr;

use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::model::CertSummary;

/// Longest string field kept from a certificate.
const MAX_FIELD: usize = 512;
/// Most SAN entries kept.
const MAX_SAN: usize = 100;

/// Subject used for a certificate x509-parser could not read.
pub const UNPARSEABLE: &str = "(unparseable certificate)";

/// A certificate field as a report may hold it: the rule every peer
/// string follows ([`crate::untrusted::clean`]: control characters become
/// spaces, bidirectional and invisible ones visible escapes), capped.
pub(crate) fn sanitize(s: &str) -> String {
    crate::untrusted::clean(s, MAX_FIELD)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Name of a signature algorithm OID (OpenSSL spelling), or the dotted OID.
pub fn signature_algorithm_name(oid: &str) -> String {
    let name = match oid {
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.3.14.3.2.29" => "sha1WithRSA",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.10040.4.3" => "dsa-with-SHA1",
        "2.16.840.1.101.3.4.3.1" => "dsa-with-SHA224",
        "2.16.840.1.101.3.4.3.2" => "dsa-with-SHA256",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        other => return other.to_string(),
    };
    name.to_string()
}

/// True for MD2/MD5/SHA-1 based signature algorithm names.
pub fn is_weak_signature(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("md2") || n.starts_with("md5") || n.contains("sha1")
}

fn curve_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.2.840.10045.3.1.1" => "P-192",
        "1.3.132.0.33" => "P-224",
        "1.2.840.10045.3.1.7" => "P-256",
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1",
        "1.3.36.3.3.2.8.1.1.11" => "brainpoolP384r1",
        "1.3.36.3.3.2.8.1.1.13" => "brainpoolP512r1",
        _ => return None,
    })
}

/// Bits in a big-endian unsigned integer (leading zeros ignored).
fn bit_length(be: &[u8]) -> usize {
    let mut iter = be.iter().skip_while(|b| **b == 0);
    match iter.next() {
        None => 0,
        Some(first) => {
            let rest = iter.count();
            rest * 8 + (8 - first.leading_zeros() as usize)
        }
    }
}

/// Key description: `RSA 2048`, `EC 256 (P-256)`, `Ed25519 256`, `DSA 1024`.
fn key_description(cert: &X509Certificate<'_>) -> Option<String> {
    let spki = cert.public_key();
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        "1.3.101.112" => return Some("Ed25519 256".to_string()),
        "1.3.101.113" => return Some("Ed448 456".to_string()),
        _ => {}
    }
    match spki.parsed().ok()? {
        PublicKey::RSA(rsa) => Some(format!("RSA {}", bit_length(rsa.modulus))),
        PublicKey::EC(ec) => {
            let curve = spki
                .algorithm
                .parameters
                .clone()
                .and_then(|p| x509_parser::asn1_rs::Oid::try_from(p).ok())
                .and_then(|oid| curve_name(&oid.to_id_string()));
            let bits = match curve {
                Some("P-192") => 192,
                Some("P-224") => 224,
                Some("P-256" | "brainpoolP256r1") => 256,
                Some("P-384" | "brainpoolP384r1") => 384,
                Some("P-521") => 521,
                Some("brainpoolP512r1") => 512,
                _ => ec.key_size(),
            };
            Some(match curve {
                Some(c) => format!("EC {bits} ({c})"),
                None => format!("EC {bits}"),
            })
        }
        PublicKey::DSA(y) => Some(format!("DSA {}", bit_length(y))),
        PublicKey::GostR3410(_) | PublicKey::GostR3410_2012(_) => Some("GOST".to_string()),
        PublicKey::Unknown(_) => Some(format!("unknown ({})", sanitize(&alg))),
    }
}

/// Algorithm and size from a key description made by this module.
pub fn parse_key_description(key: &str) -> Option<(&str, usize)> {
    let mut it = key.split_whitespace();
    let alg = it.next()?;
    let bits = it.next()?.parse().ok()?;
    Some((alg, bits))
}

fn san_entries(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|gn| match gn {
            GeneralName::DNSName(d) => Some(format!("DNS:{}", sanitize(d))),
            GeneralName::IPAddress(bytes) => ip_from_bytes(bytes).map(|ip| format!("IP:{ip}")),
            GeneralName::RFC822Name(e) => Some(format!("email:{}", sanitize(e))),
            GeneralName::URI(u) => Some(format!("URI:{}", sanitize(u))),
            _ => None,
        })
        .take(MAX_SAN)
        .collect()
}

fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
        _ => None,
    }
}

/// Issuer equals subject, and the key identifiers (when both present) agree.
/// The signature itself is not verified (no x509 `verify` feature).
fn self_signed(cert: &X509Certificate<'_>) -> bool {
    if cert.subject().as_raw() != cert.issuer().as_raw() {
        return false;
    }
    let mut ski = None;
    let mut aki = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| k.0);
            }
            _ => {}
        }
    }
    match (ski, aki) {
        (Some(s), Some(a)) => s == a,
        _ => true,
    }
}

/// Summarise one DER certificate. Never fails: a certificate x509-parser
/// cannot read gets subject [`UNPARSEABLE`] and only its hash.
pub fn summarize(der: &[u8]) -> CertSummary {
    let sha256 = hex::encode(Sha256::digest(der));
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return CertSummary {
            subject: UNPARSEABLE.to_string(),
            sha256,
            ..CertSummary::default()
        };
    };
    let validity = cert.validity();
    CertSummary {
        subject: sanitize(&cert.subject().to_string()),
        issuer: sanitize(&cert.issuer().to_string()),
        not_before: rfc3339(validity.not_before.to_datetime()),
        not_after: rfc3339(validity.not_after.to_datetime()),
        self_signed: self_signed(&cert),
        san: san_entries(&cert),
        key: key_description(&cert),
        signature_algorithm: Some(signature_algorithm_name(
            &cert.signature_algorithm.algorithm.to_id_string(),
        )),
        sha256,
    }
}

/// The CN values from a subject string as x509-parser formats it
/// (`CN=a, O=b`); values containing `, ` are not recovered exactly.
pub fn common_names(subject: &str) -> Vec<&str> {
    subject
        .split(", ")
        .flat_map(|rdn| rdn.split(" + "))
        .filter_map(|attr| attr.strip_prefix("CN="))
        .collect()
}

fn dns_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    if pattern == host {
        return true;
    }
    // RFC 6125 6.4.3: one wildcard, whole left-most label only.
    if let Some(suffix) = pattern.strip_prefix("*.") {
        if suffix.contains('*') || !suffix.contains('.') {
            return false;
        }
        if let Some((first, rest)) = host.split_once('.') {
            return !first.is_empty() && rest == suffix;
        }
    }
    false
}

/// Whether `name` (a DNS name or IP literal) is covered by the certificate's
/// SAN entries or its subject CN.
pub fn name_matches(cert: &CertSummary, name: &str) -> bool {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        let in_san = cert
            .san
            .iter()
            .filter_map(|s| s.strip_prefix("IP:"))
            .any(|s| s.parse::<IpAddr>().ok() == Some(ip));
        let in_cn = common_names(&cert.subject)
            .iter()
            .any(|cn| cn.parse::<IpAddr>().ok() == Some(ip));
        return in_san || in_cn;
    }
    let host = bare.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return false;
    }
    cert.san
        .iter()
        .filter_map(|s| s.strip_prefix("DNS:"))
        .chain(common_names(&cert.subject))
        .any(|p| dns_matches(p, &host))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA2048: &[u8] = include_bytes!("../../tests/tls/rsa2048-selfsigned.der");
    const EC256_CA_SIGNED: &[u8] = include_bytes!("../../tests/tls/ec256-leaf.der");

    #[test]
    fn rsa_self_signed_fixture() {
        let s = summarize(RSA2048);
        assert_eq!(s.subject, "CN=flink.test, O=flinkscan");
        assert_eq!(s.issuer, s.subject);
        assert!(s.self_signed);
        assert_eq!(s.key.as_deref(), Some("RSA 2048"));
        assert_eq!(
            s.signature_algorithm.as_deref(),
            Some("sha256WithRSAEncryption")
        );
        assert_eq!(
            s.san,
            vec!["DNS:flink.test", "DNS:*.flink.test", "IP:127.0.0.1"]
        );
        assert_eq!(s.sha256.len(), 64);
        assert!(s.not_before.ends_with('Z'), "{}", s.not_before);
        assert!(OffsetDateTime::parse(&s.not_after, &Rfc3339).is_ok());
    }

    #[test]
    fn ec_leaf_fixture() {
        let s = summarize(EC256_CA_SIGNED);
        assert!(!s.self_signed, "{s:?}");
        assert_eq!(s.key.as_deref(), Some("EC 256 (P-256)"));
        assert_eq!(s.signature_algorithm.as_deref(), Some("ecdsa-with-SHA256"));
        assert_eq!(s.issuer, "CN=flinkscan test CA");
    }

    #[test]
    fn garbage_and_truncated_der_do_not_panic() {
        let s = summarize(b"not a certificate");
        assert_eq!(s.subject, UNPARSEABLE);
        for cut in 0..RSA2048.len() {
            let _ = summarize(RSA2048.get(..cut).unwrap_or_default());
        }
        let mut flipped = RSA2048.to_vec();
        for i in (0..flipped.len()).step_by(7) {
            if let Some(b) = flipped.get_mut(i) {
                *b ^= 0x5a;
            }
            let _ = summarize(&flipped);
        }
    }

    #[test]
    fn names() {
        let s = summarize(RSA2048);
        assert!(name_matches(&s, "flink.test"));
        assert!(name_matches(&s, "FLINK.test."));
        assert!(name_matches(&s, "jm.flink.test"));
        assert!(!name_matches(&s, "a.b.flink.test"));
        assert!(!name_matches(&s, "flink.testx"));
        assert!(name_matches(&s, "127.0.0.1"));
        assert!(!name_matches(&s, "127.0.0.2"));
        assert!(!name_matches(&s, "::1"));
        let cn_only = CertSummary {
            subject: "CN=jobmanager, O=x".to_string(),
            ..CertSummary::default()
        };
        assert!(name_matches(&cn_only, "jobmanager"));
        assert!(!name_matches(&cn_only, "taskmanager"));
        assert_eq!(common_names("O=a + CN=b, CN=c"), vec!["b", "c"]);
        assert!(!dns_matches("*.com", "example.com"));
        assert!(!dns_matches("*", "example"));
    }

    #[test]
    fn helpers() {
        assert_eq!(bit_length(&[0, 0, 0x01, 0xff]), 9);
        assert_eq!(bit_length(&[0x80; 128]), 1024);
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(parse_key_description("EC 256 (P-256)"), Some(("EC", 256)));
        assert_eq!(parse_key_description("GOST"), None);
        assert!(is_weak_signature("sha1WithRSAEncryption"));
        assert!(is_weak_signature("ecdsa-with-SHA1"));
        assert!(is_weak_signature("md5WithRSAEncryption"));
        assert!(!is_weak_signature("sha256WithRSAEncryption"));
        assert_eq!(sanitize("a\u{1b}[31mb\n"), "a [31mb ");
        // Bidirectional and invisible characters follow the one rule of
        // every peer string: visible escapes, never raw.
        assert_eq!(
            sanitize("CN=a\u{202e}gpj.exe\u{2066}b\u{200b}c"),
            "CN=a\\u{202e}gpj.exe\\u{2066}b\\u{200b}c"
        );
        assert!(sanitize(&"x".repeat(5000)).len() < 600);
    }
}
