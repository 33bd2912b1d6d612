//! Cipher suites: what we offer, and how weak each one is.
//!
//! The IANA registry comes from tls-parser's table (about 350 suites with key
//! exchange, authentication, cipher, mode and MAC). We offer every TLS 1.0-1.2
//! suite in it (sorted strong-first, as a modern client would), so a server
//! that honours client order answers with its strongest suite first.

use crate::model::SuiteInfo;
use tls_parser::{
    TlsCipherAu, TlsCipherEnc, TlsCipherEncMode, TlsCipherKx, TlsCipherMac, TlsCipherSuite, TlsPRF,
};

use super::hello::ProtocolVersion;

/// The five TLS 1.3 suites (RFC 8446 B.4), in the order we offer them.
pub const TLS13_SUITES: [u16; 5] = [0x1301, 0x1302, 0x1303, 0x1304, 0x1305];

fn is_anon(cs: &TlsCipherSuite) -> bool {
    cs.au == TlsCipherAu::Null
        && matches!(
            cs.kx,
            TlsCipherKx::Dh | TlsCipherKx::Ecdh | TlsCipherKx::Aecdh | TlsCipherKx::Null
        )
}

fn kx_name(cs: &TlsCipherSuite) -> &'static str {
    let anon = cs.au == TlsCipherAu::Null;
    match cs.kx {
        TlsCipherKx::Null => "NULL",
        TlsCipherKx::Psk => "PSK",
        TlsCipherKx::Krb5 => "KRB5",
        TlsCipherKx::Srp => "SRP",
        TlsCipherKx::Rsa => "RSA",
        TlsCipherKx::Dh if anon => "DH_anon",
        TlsCipherKx::Dh => "DH",
        TlsCipherKx::Dhe => "DHE",
        TlsCipherKx::Ecdh if anon => "ECDH_anon",
        TlsCipherKx::Aecdh => "ECDH_anon",
        TlsCipherKx::Ecdh => "ECDH",
        TlsCipherKx::Ecdhe => "ECDHE",
        TlsCipherKx::Eccpwd => "ECCPWD",
        TlsCipherKx::Tls13 => "TLS1.3",
    }
}

fn forward_secret(cs: &TlsCipherSuite) -> bool {
    match cs.kx {
        TlsCipherKx::Dhe | TlsCipherKx::Ecdhe | TlsCipherKx::Tls13 | TlsCipherKx::Aecdh => true,
        // Anonymous (EC)DH is ephemeral.
        TlsCipherKx::Dh | TlsCipherKx::Ecdh => cs.au == TlsCipherAu::Null,
        _ => false,
    }
}

/// Describe a suite id.
pub fn describe(id: u16) -> SuiteInfo {
    let Some(cs) = TlsCipherSuite::from_id(id) else {
        return SuiteInfo {
            id,
            name: format!("0x{id:04x}"),
            kx: "unknown".to_string(),
            forward_secrecy: false,
            flags: Vec::new(),
        };
    };
    let fs = forward_secret(cs);
    let mut flags = Vec::new();
    if cs.enc == TlsCipherEnc::Null {
        flags.push("null");
    }
    if cs.name.contains("EXPORT") {
        flags.push("export");
    }
    match cs.enc {
        TlsCipherEnc::Rc4 => flags.push("rc4"),
        TlsCipherEnc::Rc2 => flags.push("rc2"),
        TlsCipherEnc::Des => flags.push("des"),
        TlsCipherEnc::TripleDes => flags.push("3des"),
        _ => {}
    }
    if is_anon(cs) {
        flags.push("anon");
    }
    if cs.enc_mode == TlsCipherEncMode::Cbc {
        flags.push("cbc");
    }
    if !fs {
        flags.push("no-fs");
    }
    SuiteInfo {
        id,
        name: cs.name.to_string(),
        kx: kx_name(cs).to_string(),
        forward_secrecy: fs,
        flags: flags.into_iter().map(str::to_string).collect(),
    }
}

/// IANA name of a suite, or `0x....`.
pub fn suite_name(id: u16) -> String {
    TlsCipherSuite::from_id(id)
        .map(|cs| cs.name.to_string())
        .unwrap_or_else(|| format!("0x{id:04x}"))
}

/// TLS_NULL_WITH_NULL_NULL and the signalling values, which are not suites:
/// TLS_FALLBACK_SCSV (0x5600) in a lower-version hello makes a modern server
/// answer `inappropriate_fallback`, hiding TLS 1.0/1.1 support.
fn is_signalling(id: u16) -> bool {
    matches!(id, 0x0000 | 0x00ff | 0x5600)
}

/// TLS 1.2-only suites: AEAD modes or SHA-2 MAC/PRF.
fn tls12_only(cs: &TlsCipherSuite) -> bool {
    cs.mac == TlsCipherMac::Aead
        || matches!(cs.mac, TlsCipherMac::HmacSha256 | TlsCipherMac::HmacSha384)
        || matches!(cs.prf, TlsPRF::Sha256 | TlsPRF::Sha384)
        || matches!(cs.enc_mode, TlsCipherEncMode::Gcm | TlsCipherEncMode::Ccm)
}

/// Sort key: strong first. Lower is better.
fn rank(cs: &TlsCipherSuite) -> (u8, u8, u8, u8, std::cmp::Reverse<u16>, u16) {
    let info = describe(cs.id.0);
    let weak = u8::from(info.is_weak());
    let fs = match cs.kx {
        TlsCipherKx::Ecdhe => 0,
        TlsCipherKx::Dhe => 1,
        TlsCipherKx::Rsa => 2,
        _ if info.forward_secrecy => 3,
        _ => 4,
    };
    let mode = match cs.enc_mode {
        TlsCipherEncMode::Gcm => 0,
        TlsCipherEncMode::Null if cs.enc == TlsCipherEnc::Chacha20_Poly1305 => 0,
        TlsCipherEncMode::Ccm => 1,
        TlsCipherEncMode::Cbc => 2,
        TlsCipherEncMode::Null => 3,
    };
    let cipher = match cs.enc {
        TlsCipherEnc::Aes | TlsCipherEnc::Chacha20_Poly1305 => 0,
        TlsCipherEnc::Camellia | TlsCipherEnc::Aria => 1,
        _ => 2,
    };
    (
        weak,
        fs,
        mode,
        cipher,
        std::cmp::Reverse(cs.enc_size),
        cs.id.0,
    )
}

/// Suites to offer in a ClientHello for `version` (never TLS 1.3 suites
/// below 1.3, never TLS 1.2-only suites below 1.2), strongest first.
pub fn offer_for(version: ProtocolVersion) -> Vec<u16> {
    if version == ProtocolVersion::Tls13 {
        return TLS13_SUITES.to_vec();
    }
    let mut all: Vec<&'static TlsCipherSuite> = tls_parser::CIPHERS
        .values()
        .filter(|cs| cs.kx != TlsCipherKx::Tls13 && !is_signalling(cs.id.0))
        .filter(|cs| version == ProtocolVersion::Tls12 || !tls12_only(cs))
        .collect();
    all.sort_by_key(|cs| rank(cs));
    all.into_iter().map(|cs| cs.id.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flink_default_suite() {
        let s = describe(0x002f);
        assert_eq!(s.name, "TLS_RSA_WITH_AES_128_CBC_SHA");
        assert_eq!(s.kx, "RSA");
        assert!(!s.forward_secrecy);
        assert_eq!(s.flags, vec!["cbc", "no-fs"]);
        assert!(!s.is_weak());
    }

    #[test]
    fn classifications() {
        let g = describe(0xc02f); // ECDHE_RSA_AES_128_GCM
        assert!(g.forward_secrecy && g.flags.is_empty(), "{g:?}");
        assert_eq!(g.kx, "ECDHE");
        assert!(describe(0x000a).has("3des"));
        assert!(describe(0x0005).has("rc4"));
        assert!(describe(0x0009).has("des"));
        let exp = describe(0x0003);
        assert!(exp.has("export") && exp.has("rc4") && exp.is_weak());
        let null = describe(0x0002);
        assert!(null.has("null") && null.is_weak());
        let adh = describe(0x0034); // DH_anon_WITH_AES_128_CBC_SHA
        assert!(
            adh.has("anon") && adh.forward_secrecy && adh.is_weak(),
            "{adh:?}"
        );
        assert_eq!(adh.kx, "DH_anon");
        let t13 = describe(0x1301);
        assert!(t13.forward_secrecy && t13.flags.is_empty(), "{t13:?}");
        let unk = describe(0xfefe);
        assert_eq!(unk.name, "0xfefe");
    }

    #[test]
    fn offers() {
        let t12 = offer_for(ProtocolVersion::Tls12);
        let t10 = offer_for(ProtocolVersion::Tls10);
        assert!(t12.len() > 300, "{}", t12.len());
        assert!(t10.len() > 100 && t10.len() < t12.len());
        assert!(t12.contains(&0x002f) && t10.contains(&0x002f));
        assert!(t12.contains(&0xc02f) && !t10.contains(&0xc02f));
        assert!(!t12.iter().any(|id| TLS13_SUITES.contains(id)));
        for scsv in [0x0000, 0x00ff, 0x5600] {
            assert!(!t12.contains(&scsv) && !t10.contains(&scsv), "{scsv:#06x}");
        }
        // Strong first, weak last.
        let first = describe(*t12.first().expect("non-empty"));
        assert!(first.forward_secrecy && first.flags.is_empty(), "{first:?}");
        assert!(describe(*t12.last().expect("non-empty")).is_weak());
        let mut dedup = t12.clone();
        dedup.sort_unstable();
        dedup.dedup();
        assert_eq!(dedup.len(), t12.len());
    }
}
