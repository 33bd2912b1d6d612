//! Turning a [`TlsProfile`] into weaknesses with stable rule ids.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::cert::{is_weak_signature, name_matches, parse_key_description, UNPARSEABLE};
use crate::model::{CertSummary, SuiteInfo, TlsProfile, TlsWeakness};

/// SSLv3, TLS 1.0 or TLS 1.1 accepted.
pub const LEGACY_PROTOCOL: &str = "FLINK-TLS-LEGACY-PROTOCOL";
/// NULL, EXPORT, RC4, RC2, DES, 3DES or anonymous suites accepted.
pub const WEAK_CIPHER: &str = "FLINK-TLS-WEAK-CIPHER";
/// A suite without ephemeral key exchange accepted.
pub const NO_FORWARD_SECRECY: &str = "FLINK-TLS-NO-FORWARD-SECRECY";
/// A CBC suite accepted.
pub const CBC_CIPHER: &str = "FLINK-TLS-CBC-CIPHER";
/// A certificate in the chain has expired.
pub const CERT_EXPIRED: &str = "FLINK-TLS-CERT-EXPIRED";
/// A certificate in the chain is not valid yet.
pub const CERT_NOT_YET_VALID: &str = "FLINK-TLS-CERT-NOT-YET-VALID";
/// The leaf certificate is self-signed.
pub const CERT_SELF_SIGNED: &str = "FLINK-TLS-CERT-SELF-SIGNED";
/// RSA/DSA key under 2048 bits, EC key under 224 bits.
pub const CERT_WEAK_KEY: &str = "FLINK-TLS-CERT-WEAK-KEY";
/// MD2/MD5/SHA-1 signature on a certificate (self-signed roots excepted).
pub const CERT_WEAK_SIGNATURE: &str = "FLINK-TLS-CERT-WEAK-SIGNATURE";
/// The scanned name or address is not in the leaf's SAN or CN.
pub const CERT_NAME_MISMATCH: &str = "FLINK-TLS-CERT-NAME-MISMATCH";
/// A certificate in the chain expires within 30 days.
pub const CERT_EXPIRES_SOON: &str = "FLINK-TLS-CERT-EXPIRES-SOON";

/// Days before expiry that count as "soon".
pub const EXPIRES_SOON_DAYS: i64 = 30;

/// Every rule [`weaknesses`] can report: what a failed audit leaves unknown.
pub const ALL: [&str; 11] = [
    LEGACY_PROTOCOL,
    WEAK_CIPHER,
    NO_FORWARD_SECRECY,
    CBC_CIPHER,
    CERT_EXPIRED,
    CERT_NOT_YET_VALID,
    CERT_SELF_SIGNED,
    CERT_WEAK_KEY,
    CERT_WEAK_SIGNATURE,
    CERT_NAME_MISMATCH,
    CERT_EXPIRES_SOON,
];

const CERT_RULES: [&str; 7] = [
    CERT_EXPIRED,
    CERT_NOT_YET_VALID,
    CERT_SELF_SIGNED,
    CERT_WEAK_KEY,
    CERT_WEAK_SIGNATURE,
    CERT_NAME_MISMATCH,
    CERT_EXPIRES_SOON,
];

fn push(out: &mut Vec<TlsWeakness>, rule: &str, detail: String) {
    out.push(TlsWeakness {
        rule_id: rule.to_string(),
        detail,
    });
}

/// Accepted suites matching `pred`, as `name (version, version)` lines,
/// deduplicated, in first-seen order.
fn suites_where(profile: &TlsProfile, pred: impl Fn(&SuiteInfo) -> bool) -> Vec<String> {
    let mut names: Vec<(String, Vec<&str>)> = Vec::new();
    for p in profile.accepted_versions() {
        for s in p.suites.iter().filter(|s| pred(s)) {
            match names.iter_mut().find(|(n, _)| *n == s.name) {
                Some((_, versions)) => versions.push(&p.version),
                None => names.push((s.name.clone(), vec![&p.version])),
            }
        }
    }
    names
        .into_iter()
        .map(|(n, v)| format!("{n} ({})", v.join(", ")))
        .collect()
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

fn label(i: usize, c: &CertSummary) -> String {
    let role = if i == 0 { "leaf" } else { "chain" };
    format!("{role} certificate {} (sha256 {})", c.subject, c.sha256)
}

fn certificate_weaknesses(
    chain: &[CertSummary],
    scanned_name: &str,
    now: OffsetDateTime,
    out: &mut Vec<TlsWeakness>,
) {
    let parsed: Vec<(usize, &CertSummary)> = chain
        .iter()
        .enumerate()
        .filter(|(_, c)| c.subject != UNPARSEABLE)
        .collect();
    let mut expired = Vec::new();
    let mut not_yet = Vec::new();
    let mut soon = Vec::new();
    let mut weak_key = Vec::new();
    let mut weak_sig = Vec::new();
    for &(i, c) in &parsed {
        let nb = parse_time(&c.not_before);
        let na = parse_time(&c.not_after);
        if let Some(na) = na {
            if na < now {
                expired.push(format!("{} expired {}", label(i, c), c.not_after));
            } else if na - now < Duration::days(EXPIRES_SOON_DAYS) {
                soon.push(format!("{} expires {}", label(i, c), c.not_after));
            }
        }
        if let Some(nb) = nb {
            if nb > now {
                not_yet.push(format!("{} valid from {}", label(i, c), c.not_before));
            }
        }
        if let Some((alg, bits)) = c.key.as_deref().and_then(parse_key_description) {
            let weak = match alg {
                "RSA" | "DSA" => bits < 2048,
                "EC" => bits < 224,
                _ => false,
            };
            if weak {
                weak_key.push(format!("{}: {alg} {bits} bits", label(i, c)));
            }
        }
        // A self-signed root's own signature is never checked by clients.
        let trust_anchor = i > 0 && c.self_signed;
        if let Some(sig) = c.signature_algorithm.as_deref() {
            if is_weak_signature(sig) && !trust_anchor {
                weak_sig.push(format!("{}: {sig}", label(i, c)));
            }
        }
    }
    if !expired.is_empty() {
        push(out, CERT_EXPIRED, expired.join("; "));
    }
    if !not_yet.is_empty() {
        push(out, CERT_NOT_YET_VALID, not_yet.join("; "));
    }
    if let Some(leaf) = chain.first().filter(|c| c.subject != UNPARSEABLE) {
        if leaf.self_signed {
            push(
                out,
                CERT_SELF_SIGNED,
                format!("{} is self-signed", label(0, leaf)),
            );
        }
    }
    if !weak_key.is_empty() {
        push(out, CERT_WEAK_KEY, weak_key.join("; "));
    }
    if !weak_sig.is_empty() {
        push(out, CERT_WEAK_SIGNATURE, weak_sig.join("; "));
    }
    if let Some(leaf) = chain.first().filter(|c| c.subject != UNPARSEABLE) {
        if !scanned_name.is_empty() && !name_matches(leaf, scanned_name) {
            let names = if leaf.san.is_empty() {
                "no SAN".to_string()
            } else {
                format!("SAN {}", leaf.san.join(", "))
            };
            push(
                out,
                CERT_NAME_MISMATCH,
                format!("{scanned_name} is not in {} ({names})", leaf.subject),
            );
        }
    }
    if !soon.is_empty() {
        push(out, CERT_EXPIRES_SOON, soon.join("; "));
    }
}

/// All weaknesses of `profile`, judged for a client that connects to
/// `scanned_name` (the SNI name, or the IP address) at time `now`.
/// Order: protocol, suites, then certificate rules; each rule at most once.
pub fn weaknesses(
    profile: &TlsProfile,
    scanned_name: &str,
    now: OffsetDateTime,
) -> Vec<TlsWeakness> {
    let mut out = Vec::new();
    let legacy: Vec<&str> = profile
        .accepted_versions()
        .filter(|p| matches!(p.version.as_str(), "SSLv3" | "TLSv1.0" | "TLSv1.1"))
        .map(|p| p.version.as_str())
        .collect();
    if !legacy.is_empty() {
        push(
            &mut out,
            LEGACY_PROTOCOL,
            format!("accepted: {}", legacy.join(", ")),
        );
    }
    let weak = suites_where(profile, SuiteInfo::is_weak);
    if !weak.is_empty() {
        push(
            &mut out,
            WEAK_CIPHER,
            format!("accepted: {}", weak.join("; ")),
        );
    }
    let no_fs = suites_where(profile, |s| !s.forward_secrecy);
    if !no_fs.is_empty() {
        push(
            &mut out,
            NO_FORWARD_SECRECY,
            format!("accepted: {}", no_fs.join("; ")),
        );
    }
    let cbc = suites_where(profile, |s| s.has("cbc"));
    if !cbc.is_empty() {
        push(
            &mut out,
            CBC_CIPHER,
            format!("accepted: {}", cbc.join("; ")),
        );
    }
    certificate_weaknesses(&profile.certificate_chain, scanned_name, now, &mut out);
    out
}

/// Rules `profile` cannot judge because its audit did not run to the end:
/// a version whose handshakes failed (a reset mid-answer, a timeout, a
/// garbled reply, the handshake cap) may accept what was never seen, and
/// without a certificate (none read, though a version was accepted or one
/// failed) none of the certificate rules is known. Rules found anyway
/// are judged. Unknown is not absent: the checks list these as unchecked.
pub fn unjudged(profile: &TlsProfile) -> Vec<&'static str> {
    let failed: Vec<&str> = profile
        .protocols
        .iter()
        .filter(|p| p.error.is_some())
        .map(|p| p.version.as_str())
        .collect();
    // A version accepted and still no certificate: the flights were cut
    // after the ServerHello.
    let no_certificate =
        profile.certificate_chain.is_empty() && profile.accepted_versions().next().is_some();
    if failed.is_empty() && !no_certificate {
        return Vec::new();
    }
    let found = |rule: &str| profile.weaknesses.iter().any(|w| w.rule_id == rule);
    let mut out = Vec::new();
    if failed
        .iter()
        .any(|v| matches!(*v, "SSLv3" | "TLSv1.0" | "TLSv1.1"))
    {
        out.push(LEGACY_PROTOCOL);
    }
    // TLS 1.3 suites are all AEAD with ephemeral keys.
    if failed.iter().any(|v| *v != "TLSv1.3") {
        out.extend([WEAK_CIPHER, NO_FORWARD_SECRECY, CBC_CIPHER]);
    }
    if profile.certificate_chain.is_empty() {
        out.extend(CERT_RULES);
    }
    out.retain(|r| !found(r));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProtocolSupport;
    use crate::tls::suites::describe;
    use time::macros::datetime;

    fn proto(version: &str, suites: &[u16]) -> ProtocolSupport {
        ProtocolSupport {
            version: version.to_string(),
            accepted: !suites.is_empty(),
            suites: suites.iter().map(|id| describe(*id)).collect(),
            server_preference: None,
            error: None,
        }
    }

    fn cert() -> CertSummary {
        CertSummary {
            subject: "CN=flink.test".to_string(),
            issuer: "CN=Test CA".to_string(),
            not_before: "2025-01-01T00:00:00Z".to_string(),
            not_after: "2027-01-01T00:00:00Z".to_string(),
            self_signed: false,
            san: vec!["DNS:flink.test".to_string(), "IP:127.0.0.1".to_string()],
            key: Some("RSA 2048".to_string()),
            signature_algorithm: Some("sha256WithRSAEncryption".to_string()),
            sha256: "00".repeat(32),
        }
    }

    fn profile(protocols: Vec<ProtocolSupport>, chain: Vec<CertSummary>) -> TlsProfile {
        TlsProfile {
            protocols,
            certificate_chain: chain,
            client_cert_required: false,
            weaknesses: Vec::new(),
            handshakes: 0,
        }
    }

    fn ids(w: &[TlsWeakness]) -> Vec<&str> {
        w.iter().map(|w| w.rule_id.as_str()).collect()
    }

    const NOW: OffsetDateTime = datetime!(2026-06-01 00:00 UTC);

    fn failed(version: &str, suites: &[u16], why: &str) -> ProtocolSupport {
        ProtocolSupport {
            error: Some(why.to_string()),
            ..proto(version, suites)
        }
    }

    #[test]
    fn a_complete_audit_leaves_nothing_unjudged() {
        let p = profile(
            vec![proto("SSLv3", &[]), proto("TLSv1.2", &[0xc02f])],
            vec![cert()],
        );
        assert!(unjudged(&p).is_empty());
    }

    #[test]
    fn a_failed_version_leaves_its_rules_unjudged() {
        // TLS 1.0 timed out, TLS 1.2 was reset after one suite: neither the
        // legacy protocol nor the suites are known; the certificate is.
        let mut p = profile(
            vec![
                failed("TLSv1.0", &[], "timed out after 5s"),
                failed("TLSv1.2", &[0x002f], "i/o error: connection reset"),
            ],
            vec![cert()],
        );
        p.weaknesses = weaknesses(&p, "flink.test", NOW);
        assert_eq!(ids(&p.weaknesses), [NO_FORWARD_SECRECY, CBC_CIPHER]);
        // Found anyway: judged.
        assert_eq!(unjudged(&p), [LEGACY_PROTOCOL, WEAK_CIPHER]);
        // No certificate read: every certificate rule is unknown too.
        p.certificate_chain.clear();
        p.weaknesses = weaknesses(&p, "flink.test", NOW);
        let u = unjudged(&p);
        assert!(
            u.contains(&CERT_EXPIRED) && u.contains(&CERT_NAME_MISMATCH),
            "{u:?}"
        );
        assert_eq!(u.len(), 2 + CERT_RULES.len(), "{u:?}");
    }

    #[test]
    fn an_accepted_version_without_a_certificate_leaves_the_certificate_unknown() {
        let p = profile(vec![proto("TLSv1.2", &[0xc02f])], Vec::new());
        assert_eq!(unjudged(&p), CERT_RULES);
        // Nothing accepted, nothing failed: no TLS to judge, nothing unknown.
        let declined = profile(vec![proto("TLSv1.2", &[])], Vec::new());
        assert!(unjudged(&declined).is_empty());
    }

    #[test]
    fn a_failed_tls13_leaves_only_the_certificate_unknown() {
        let p = profile(
            vec![
                proto("TLSv1.2", &[]),
                failed("TLSv1.3", &[], "certificate handshake: timed out"),
            ],
            Vec::new(),
        );
        assert_eq!(unjudged(&p), CERT_RULES);
        let with_cert = profile(p.protocols.clone(), vec![cert()]);
        assert!(unjudged(&with_cert).is_empty());
    }

    #[test]
    fn clean_profile_has_no_weaknesses() {
        let p = profile(
            vec![proto("TLSv1.2", &[0xc02f]), proto("TLSv1.3", &[0x1301])],
            vec![cert()],
        );
        assert!(weaknesses(&p, "flink.test", NOW).is_empty());
        assert!(weaknesses(&p, "127.0.0.1", NOW).is_empty());
    }

    #[test]
    fn flink_default_internal_ssl() {
        let mut c = cert();
        c.self_signed = true;
        c.issuer = c.subject.clone();
        let p = profile(vec![proto("TLSv1.2", &[0x002f])], vec![c]);
        let w = weaknesses(&p, "flink.test", NOW);
        assert_eq!(
            ids(&w),
            vec![NO_FORWARD_SECRECY, CBC_CIPHER, CERT_SELF_SIGNED]
        );
        assert!(w[0]
            .detail
            .contains("TLS_RSA_WITH_AES_128_CBC_SHA (TLSv1.2)"));
    }

    #[test]
    fn legacy_and_weak_suites() {
        let p = profile(
            vec![
                proto("SSLv3", &[]),
                proto("TLSv1.0", &[0x0035, 0x000a]),
                proto("TLSv1.1", &[0x0035, 0x000a]),
                proto("TLSv1.2", &[0xc02f, 0x0005, 0x0034]),
            ],
            vec![cert()],
        );
        let w = weaknesses(&p, "flink.test", NOW);
        assert_eq!(
            ids(&w),
            vec![LEGACY_PROTOCOL, WEAK_CIPHER, NO_FORWARD_SECRECY, CBC_CIPHER]
        );
        assert_eq!(w[0].detail, "accepted: TLSv1.0, TLSv1.1");
        assert_eq!(
            w[1].detail,
            "accepted: TLS_RSA_WITH_3DES_EDE_CBC_SHA (TLSv1.0, TLSv1.1); \
             TLS_RSA_WITH_RC4_128_SHA (TLSv1.2); TLS_DH_anon_WITH_AES_128_CBC_SHA (TLSv1.2)"
        );
    }

    #[test]
    fn certificate_rules() {
        let mut expired = cert();
        expired.not_after = "2026-01-01T00:00:00Z".to_string();
        let mut future = cert();
        future.not_before = "2027-01-01T00:00:00Z".to_string();
        future.not_after = "2028-01-01T00:00:00Z".to_string();
        let mut soon = cert();
        soon.not_after = "2026-06-20T00:00:00Z".to_string();
        let mut weak = cert();
        weak.key = Some("RSA 1024".to_string());
        weak.signature_algorithm = Some("sha1WithRSAEncryption".to_string());
        let mut small_ec = cert();
        small_ec.key = Some("EC 192 (P-192)".to_string());

        let check = |c: CertSummary, name: &str| {
            let p = profile(vec![proto("TLSv1.2", &[0xc02f])], vec![c]);
            weaknesses(&p, name, NOW)
                .into_iter()
                .map(|w| w.rule_id)
                .collect::<Vec<_>>()
        };
        assert_eq!(check(expired, "flink.test"), vec![CERT_EXPIRED]);
        assert_eq!(check(future, "flink.test"), vec![CERT_NOT_YET_VALID]);
        assert_eq!(check(soon, "flink.test"), vec![CERT_EXPIRES_SOON]);
        assert_eq!(
            check(weak, "flink.test"),
            vec![CERT_WEAK_KEY, CERT_WEAK_SIGNATURE]
        );
        assert_eq!(check(small_ec, "flink.test"), vec![CERT_WEAK_KEY]);
        assert_eq!(check(cert(), "other.test"), vec![CERT_NAME_MISMATCH]);
        assert_eq!(check(cert(), "10.0.0.1"), vec![CERT_NAME_MISMATCH]);
    }

    #[test]
    fn self_signed_root_sha1_is_not_flagged() {
        let leaf = cert();
        let mut root = cert();
        root.subject = "CN=Test CA".to_string();
        root.self_signed = true;
        root.signature_algorithm = Some("sha1WithRSAEncryption".to_string());
        let p = profile(vec![proto("TLSv1.2", &[0xc02f])], vec![leaf, root]);
        assert!(weaknesses(&p, "flink.test", NOW).is_empty());
    }

    #[test]
    fn unparseable_leaf_is_skipped() {
        let c = CertSummary {
            subject: UNPARSEABLE.to_string(),
            sha256: "ab".repeat(32),
            ..CertSummary::default()
        };
        let p = profile(vec![proto("TLSv1.2", &[0xc02f])], vec![c]);
        assert!(weaknesses(&p, "flink.test", NOW).is_empty());
    }
}
