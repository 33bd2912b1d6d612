//! TLS sniff, connect and audit against real `openssl s_server` instances on
//! 127.0.0.1, with certificates made by the `openssl` CLI in a tempdir.
//!
//! Loopback only. Without `openssl` the tests that need it fail, naming the
//! package (FLINKSCAN_ALLOW_MISSING=1 turns that into a SKIP).

use crate::support;

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flinkscan::tls::{
    self, audit, audit_at, connect, connect_with_info, rules, sniff, ProtocolVersion, TlsError,
    TlsProfile,
};
use support::scan::{Output, Scan};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const OPENSSL: &str = "openssl";
const TIMEOUT: Duration = Duration::from_secs(5);

/// The openssl CLI: a test without it fails naming the package, or under
/// FLINKSCAN_ALLOW_MISSING=1 says SKIP and returns.
fn openssl() -> Option<PathBuf> {
    support::require(OPENSSL, "the Debian package openssl")
}

fn run(args: &[&str], dir: &Path) {
    let out = Command::new(OPENSSL)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Certificates made with the openssl CLI, in a tempdir.
struct Pki {
    dir: TempDir,
}

/// A certificate and key pair on disk.
#[derive(Clone)]
struct CertFiles {
    cert: PathBuf,
    key: PathBuf,
}

/// What kind of certificate to make.
struct CertSpec<'a> {
    name: &'a str,
    key: &'a str,
    digest: &'a str,
    cn: &'a str,
    san: &'a str,
    /// `Some((start, end))` as `YYYYMMDDHHMMSSZ`, via `openssl ca -selfsign`.
    dates: Option<(&'a str, &'a str)>,
    days: u32,
}

impl Default for CertSpec<'_> {
    fn default() -> Self {
        CertSpec {
            name: "rsa2048",
            key: "rsa:2048",
            digest: "sha256",
            cn: "flink.test",
            san: "DNS:flink.test,IP:127.0.0.1",
            dates: None,
            days: 365,
        }
    }
}

impl Pki {
    fn new() -> Self {
        Pki {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn make(&self, spec: &CertSpec<'_>) -> CertFiles {
        let d = self.dir.path();
        let key = format!("{}.key", spec.name);
        let cert = format!("{}.pem", spec.name);
        let subj = format!("/CN={}", spec.cn);
        let san = format!("subjectAltName={}", spec.san);
        let digest = format!("-{}", spec.digest);
        match spec.dates {
            None => {
                let days = spec.days.to_string();
                run(
                    &[
                        "req", "-x509", "-newkey", spec.key, "-nodes", "-keyout", &key, "-out",
                        &cert, &digest, "-days", &days, "-utf8", "-subj", &subj, "-addext", &san,
                    ],
                    d,
                );
            }
            Some((start, end)) => {
                let csr = format!("{}.csr", spec.name);
                run(
                    &[
                        "req", "-new", "-newkey", spec.key, "-nodes", "-keyout", &key, "-out",
                        &csr, "-subj", &subj,
                    ],
                    d,
                );
                let db = format!("{}.index", spec.name);
                let serial = format!("{}.serial", spec.name);
                let cnf = format!("{}.cnf", spec.name);
                std::fs::write(d.join(&db), "").expect("index");
                std::fs::write(d.join(&serial), "01\n").expect("serial");
                std::fs::write(
                    d.join(&cnf),
                    format!(
                        "[ca]\ndefault_ca = c\n[c]\ndatabase = {db}\nnew_certs_dir = .\n\
                         serial = {serial}\ndefault_md = {}\npolicy = p\nunique_subject = no\n\
                         [p]\ncommonName = supplied\n[ext]\n{san}\n",
                        spec.digest
                    ),
                )
                .expect("cnf");
                run(
                    &[
                        "ca",
                        "-batch",
                        "-config",
                        &cnf,
                        "-selfsign",
                        "-keyfile",
                        &key,
                        "-in",
                        &csr,
                        "-out",
                        &cert,
                        "-startdate",
                        start,
                        "-enddate",
                        end,
                        "-extensions",
                        "ext",
                        "-notext",
                    ],
                    d,
                );
            }
        }
        CertFiles {
            cert: d.join(cert),
            key: d.join(key),
        }
    }
}

/// An `openssl s_server` on 127.0.0.1, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = StdListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

impl Server {
    /// Start `openssl s_server -www` with `cert` and `extra` arguments and
    /// wait until it accepts connections.
    fn start(pki: &Pki, cert: &CertFiles, extra: &[&str]) -> Server {
        for attempt in 0..5 {
            let port = free_port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
            let log = pki.path(&format!("s_server-{port}.log"));
            let log_file = std::fs::File::create(&log).expect("log file");
            let accept = addr.to_string();
            let child = Command::new(OPENSSL)
                .arg("s_server")
                .args(["-accept", &accept, "-www", "-quiet"])
                .arg("-cert")
                .arg(&cert.cert)
                .arg("-key")
                .arg(&cert.key)
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .expect("spawn s_server");
            let mut server = Server { child, addr, log };
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut pause = Duration::from_millis(5);
            loop {
                if let Ok(Some(_)) = server.child.try_wait() {
                    // Port taken in the meantime, or bad arguments.
                    let log = std::fs::read_to_string(&server.log).unwrap_or_default();
                    eprintln!("s_server exited (attempt {attempt}): {log}");
                    break;
                }
                if StdStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return server;
                }
                assert!(
                    Instant::now() < deadline,
                    "s_server never accepted on {addr}"
                );
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
        }
        panic!("could not start s_server with {extra:?}");
    }
}

fn suite_ids(profile: &TlsProfile, v: ProtocolVersion) -> Vec<u16> {
    profile
        .protocol(v)
        .map(|p| p.suites.iter().map(|s| s.id).collect())
        .unwrap_or_default()
}

fn accepted(profile: &TlsProfile) -> Vec<&str> {
    profile
        .accepted_versions()
        .map(|p| p.version.as_str())
        .collect()
}

fn rule_ids(profile: &TlsProfile) -> Vec<&str> {
    profile
        .weaknesses
        .iter()
        .map(|w| w.rule_id.as_str())
        .collect()
}

async fn timed_audit(addr: SocketAddr, sni: Option<&str>, what: &str) -> TlsProfile {
    let t = Instant::now();
    let profile = audit(addr, sni, TIMEOUT).await.expect("audit");
    eprintln!(
        "audit {what}: {:?}, {} handshakes, accepted {:?}",
        t.elapsed(),
        profile.handshakes,
        accepted(&profile)
    );
    profile
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls12_two_suites_in_server_preference_order() {
    if openssl().is_none() {
        return;
    }
    let pki = Pki::new();
    let cert = pki.make(&CertSpec::default());
    for (ciphers, expected) in [
        (
            "AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256",
            vec![0x002f_u16, 0xc02f],
        ),
        (
            "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA",
            vec![0xc02f, 0x002f],
        ),
    ] {
        let server = Server::start(
            &pki,
            &cert,
            &["-cipher", ciphers, "-no_tls1_3", "-serverpref"],
        );
        let profile = timed_audit(server.addr, None, ciphers).await;
        assert_eq!(accepted(&profile), vec!["TLSv1.2"], "{profile:#?}");
        assert_eq!(suite_ids(&profile, ProtocolVersion::Tls12), expected);
        let t12 = profile.protocol(ProtocolVersion::Tls12).expect("tls12");
        assert_eq!(t12.server_preference, Some(true));
        let names: Vec<&str> = t12.suites.iter().map(|s| s.name.as_str()).collect();
        assert!(names.contains(&"TLS_RSA_WITH_AES_128_CBC_SHA"));
        assert!(names.contains(&"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"));
        for v in [
            ProtocolVersion::Ssl3,
            ProtocolVersion::Tls10,
            ProtocolVersion::Tls11,
            ProtocolVersion::Tls13,
        ] {
            let p = profile.protocol(v).expect("every version reported");
            assert!(!p.accepted && p.suites.is_empty(), "{p:?}");
        }
        assert!(!profile.client_cert_required);
        assert_eq!(profile.certificate_chain.len(), 1);
        let leaf = &profile.certificate_chain[0];
        assert_eq!(leaf.subject, "CN=flink.test");
        assert_eq!(leaf.key.as_deref(), Some("RSA 2048"));
        assert!(leaf.self_signed);
        assert_eq!(
            rule_ids(&profile),
            vec![
                rules::NO_FORWARD_SECRECY,
                rules::CBC_CIPHER,
                rules::CERT_SELF_SIGNED
            ]
        );
        let no_fs = &profile.weaknesses[0].detail;
        assert!(no_fs.contains("TLS_RSA_WITH_AES_128_CBC_SHA"), "{no_fs}");
        assert!(!no_fs.contains("ECDHE"), "{no_fs}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_preference_is_detected() {
    if openssl().is_none() {
        return;
    }
    let pki = Pki::new();
    let cert = pki.make(&CertSpec::default());
    let server = Server::start(
        &pki,
        &cert,
        &[
            "-cipher",
            "AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256",
            "-no_tls1_3",
        ],
    );
    let profile = timed_audit(server.addr, None, "client preference").await;
    let t12 = profile.protocol(ProtocolVersion::Tls12).expect("tls12");
    assert_eq!(t12.server_preference, Some(false));
    // Following our (strong-first) order.
    assert_eq!(
        suite_ids(&profile, ProtocolVersion::Tls12),
        vec![0xc02f, 0x002f]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls10_and_tls11_are_legacy() {
    if openssl().is_none() {
        return;
    }
    let pki = Pki::new();
    let cert = pki.make(&CertSpec::default());
    let server = Server::start(
        &pki,
        &cert,
        &[
            "-cipher",
            "ECDHE-RSA-AES256-SHA:AES128-SHA:NULL-SHA:ADH-AES128-SHA:@SECLEVEL=0",
            "-min_protocol",
            "TLSv1",
            "-max_protocol",
            "TLSv1.1",
            "-serverpref",
        ],
    );
    let profile = timed_audit(server.addr, None, "TLS 1.0/1.1").await;
    assert_eq!(
        accepted(&profile),
        vec!["TLSv1.0", "TLSv1.1"],
        "{profile:#?}"
    );
    let expected = vec![0xc014_u16, 0x002f, 0x0002, 0x0034];
    assert_eq!(suite_ids(&profile, ProtocolVersion::Tls10), expected);
    assert_eq!(suite_ids(&profile, ProtocolVersion::Tls11), expected);
    assert_eq!(
        rule_ids(&profile),
        vec![
            rules::LEGACY_PROTOCOL,
            rules::WEAK_CIPHER,
            rules::NO_FORWARD_SECRECY,
            rules::CBC_CIPHER,
            rules::CERT_SELF_SIGNED
        ]
    );
    assert_eq!(profile.weaknesses[0].detail, "accepted: TLSv1.0, TLSv1.1");
    let weak = &profile.weaknesses[1].detail;
    assert!(
        weak.contains("TLS_RSA_WITH_NULL_SHA (TLSv1.0, TLSv1.1)")
            && weak.contains("TLS_DH_anon_WITH_AES_128_CBC_SHA (TLSv1.0, TLSv1.1)")
            && !weak.contains("ECDHE"),
        "{weak}"
    );
    // The certificate still comes from the newest accepted version.
    assert_eq!(profile.certificate_chain.len(), 1);
}

/// `openssl ciphers -V -s -<version> SPEC`, restricted to suites an RSA
/// certificate without PSK/SRP can negotiate.
fn openssl_suites(version_flag: &str, spec: &str) -> BTreeSet<u16> {
    let out = Command::new(OPENSSL)
        .args(["ciphers", "-V", "-s", version_flag, spec])
        .output()
        .expect("openssl ciphers");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.contains("TLSv1.3"))
        .filter(|l| {
            ![
                "Au=DSS",
                "Au=ECDSA",
                "Kx=RSAPSK",
                "Kx=DHEPSK",
                "Kx=ECDHEPSK",
                "Kx=PSK",
                "Kx=SRP",
            ]
            .iter()
            .any(|x| l.contains(x))
        })
        .filter_map(|l| {
            let code = l.split_whitespace().next()?;
            let (hi, lo) = code.split_once(',')?;
            let hi = u8::from_str_radix(hi.trim_start_matches("0x"), 16).ok()?;
            let lo = u8::from_str_radix(lo.trim_start_matches("0x"), 16).ok()?;
            Some(u16::from_be_bytes([hi, lo]))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_suite_openssl_offers_is_found() {
    if openssl().is_none() {
        return;
    }
    let spec = "ALL:COMPLEMENTOFALL:@SECLEVEL=0";
    let pki = Pki::new();
    let cert = pki.make(&CertSpec::default());
    let server = Server::start(
        &pki,
        &cert,
        &["-cipher", spec, "-min_protocol", "TLSv1", "-serverpref"],
    );
    let profile = timed_audit(server.addr, None, "ALL:COMPLEMENTOFALL").await;
    assert_eq!(
        accepted(&profile),
        vec!["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    );
    for (v, flag) in [
        (ProtocolVersion::Tls10, "-tls1"),
        (ProtocolVersion::Tls11, "-tls1_1"),
        (ProtocolVersion::Tls12, "-tls1_2"),
    ] {
        let ours: BTreeSet<u16> = suite_ids(&profile, v).into_iter().collect();
        let theirs = openssl_suites(flag, spec);
        assert!(!theirs.is_empty());
        let missing: Vec<String> = theirs
            .difference(&ours)
            .map(|id| format!("{id:#06x}"))
            .collect();
        let extra: Vec<String> = ours
            .difference(&theirs)
            .map(|id| format!("{id:#06x}"))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{}: missing {missing:?}, extra {extra:?}",
            v.name()
        );
        assert!(profile.protocol(v).and_then(|p| p.error.clone()).is_none());
    }
    // OpenSSL's default TLS 1.3 suites, in its default order.
    assert_eq!(
        suite_ids(&profile, ProtocolVersion::Tls13),
        vec![0x1302, 0x1303, 0x1301]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls13_only_suites_chain_and_hello_retry() {
    if openssl().is_none() {
        return;
    }
    let pki = Pki::new();
    let cert = pki.make(&CertSpec::default());
    let server = Server::start(
        &pki,
        &cert,
        &[
            "-tls1_3",
            "-ciphersuites",
            "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384",
            "-serverpref",
            // Not x25519, so every TLS 1.3 answer is a HelloRetryRequest.
            "-groups",
            "P-256",
        ],
    );
    let profile = timed_audit(server.addr, None, "TLS 1.3 only").await;
    assert_eq!(accepted(&profile), vec!["TLSv1.3"], "{profile:#?}");
    assert_eq!(
        suite_ids(&profile, ProtocolVersion::Tls13),
        vec![0x1303, 0x1302]
    );
    let t13 = profile.protocol(ProtocolVersion::Tls13).expect("tls13");
    assert_eq!(t13.server_preference, Some(true));
    assert!(t13
        .suites
        .iter()
        .all(|s| s.forward_secrecy && s.flags.is_empty()));
    // The chain comes from a rustls TLS 1.3 handshake.
    assert_eq!(profile.certificate_chain.len(), 1, "{profile:#?}");
    assert_eq!(profile.certificate_chain[0].subject, "CN=flink.test");
    assert!(!profile.client_cert_required);
    assert_eq!(rule_ids(&profile), vec![rules::CERT_SELF_SIGNED]);

    // sniff offers TLS 1.2 only: the server answers with an alert.
    let s = sniff(server.addr, None, TIMEOUT)
        .await
        .expect("sniff")
        .expect("TLS");
    assert_eq!(s.version, None);
    assert!(s.certificate.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_is_detected() {
    if openssl().is_none() {
        return;
    }
    let pki = Pki::new();
    let cert = pki.make(&CertSpec::default());

    // Like Flink internal SSL: TLS 1.2, TLS_RSA_WITH_AES_128_CBC_SHA, client auth.
    let flink_like = Server::start(
        &pki,
        &cert,
        &["-Verify", "1", "-no_tls1_3", "-cipher", "AES128-SHA"],
    );
    let profile = timed_audit(flink_like.addr, None, "Flink-like mTLS").await;
    assert!(profile.client_cert_required);
    assert_eq!(suite_ids(&profile, ProtocolVersion::Tls12), vec![0x002f]);
    assert_eq!(profile.certificate_chain.len(), 1);
    assert_eq!(
        rule_ids(&profile),
        vec![
            rules::NO_FORWARD_SECRECY,
            rules::CBC_CIPHER,
            rules::CERT_SELF_SIGNED
        ]
    );
    let s = sniff(flink_like.addr, None, TIMEOUT)
        .await
        .expect("sniff")
        .expect("TLS");
    assert_eq!(s.version.as_deref(), Some("TLSv1.2"));
    assert_eq!(
        s.cipher_suite.as_deref(),
        Some("TLS_RSA_WITH_AES_128_CBC_SHA")
    );
    assert!(s.client_cert_required);
    assert_eq!(
        s.certificate.as_ref().map(|c| c.subject.as_str()),
        Some("CN=flink.test")
    );
    // rustls cannot even talk to it (no RSA key exchange, no CBC).
    let tcp = TcpStream::connect(flink_like.addr).await.expect("tcp");
    let err = connect(tcp, None, TIMEOUT)
        .await
        .expect_err("no shared suite");
    assert!(matches!(err, TlsError::Handshake(_)), "{err:?}");
    drop(flink_like);

    // TLS 1.2 mTLS with modern suites: rustls sees the request and fails.
    let t12 = Server::start(&pki, &cert, &["-Verify", "1", "-no_tls1_3"]);
    let tcp = TcpStream::connect(t12.addr).await.expect("tcp");
    let err = connect(tcp, None, TIMEOUT)
        .await
        .expect_err("client cert required");
    assert!(matches!(err, TlsError::ClientCertRequired), "{err:?}");
    drop(t12);

    // TLS 1.3 only: the CertificateRequest is encrypted; rustls reports it.
    let t13 = Server::start(&pki, &cert, &["-Verify", "1", "-tls1_3"]);
    let profile = timed_audit(t13.addr, None, "TLS 1.3 mTLS").await;
    assert_eq!(accepted(&profile), vec!["TLSv1.3"]);
    assert!(profile.client_cert_required, "{profile:#?}");
    let tcp = TcpStream::connect(t13.addr).await.expect("tcp");
    match connect_with_info(tcp, None, TIMEOUT).await {
        Ok((_, info)) => assert!(info.client_cert_requested, "{info:?}"),
        Err(e) => assert!(matches!(e, TlsError::ClientCertRequired), "{e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_weaknesses() {
    if openssl().is_none() {
        return;
    }
    let pki = Pki::new();
    let lax = ["-cipher", "DEFAULT:@SECLEVEL=0", "-no_tls1_3"];
    let cases: Vec<(CertSpec<'_>, Option<&str>, Vec<&str>)> = vec![
        (
            CertSpec {
                name: "expired",
                dates: Some(("20200101000000Z", "20200201000000Z")),
                ..CertSpec::default()
            },
            None,
            vec![rules::CERT_EXPIRED, rules::CERT_SELF_SIGNED],
        ),
        (
            CertSpec {
                name: "future",
                dates: Some(("20990101000000Z", "20991231000000Z")),
                ..CertSpec::default()
            },
            None,
            vec![rules::CERT_NOT_YET_VALID, rules::CERT_SELF_SIGNED],
        ),
        (
            CertSpec {
                name: "sha1",
                digest: "sha1",
                ..CertSpec::default()
            },
            None,
            vec![rules::CERT_SELF_SIGNED, rules::CERT_WEAK_SIGNATURE],
        ),
        (
            CertSpec {
                name: "rsa1024",
                key: "rsa:1024",
                ..CertSpec::default()
            },
            None,
            vec![rules::CERT_SELF_SIGNED, rules::CERT_WEAK_KEY],
        ),
        (
            CertSpec {
                name: "soon",
                days: 10,
                ..CertSpec::default()
            },
            None,
            vec![rules::CERT_SELF_SIGNED, rules::CERT_EXPIRES_SOON],
        ),
        (
            CertSpec {
                name: "othername",
                cn: "other.test",
                san: "DNS:other.test",
                ..CertSpec::default()
            },
            None,
            vec![rules::CERT_SELF_SIGNED, rules::CERT_NAME_MISMATCH],
        ),
        (
            CertSpec {
                name: "othername-sni",
                cn: "other.test",
                san: "DNS:other.test",
                ..CertSpec::default()
            },
            Some("other.test"),
            vec![rules::CERT_SELF_SIGNED],
        ),
        (
            CertSpec {
                name: "ec256",
                key: "ec",
                ..CertSpec::default()
            },
            Some("flink.test"),
            vec![rules::CERT_SELF_SIGNED],
        ),
    ];
    for (spec, sni, expected) in cases {
        let files = if spec.key == "ec" {
            // `-newkey ec` needs the curve as a separate option.
            let d = pki.dir.path();
            run(
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    "ec.key",
                    "-out",
                    "ec.pem",
                    "-days",
                    "365",
                    "-subj",
                    "/CN=flink.test",
                    "-addext",
                    "subjectAltName=DNS:flink.test",
                ],
                d,
            );
            CertFiles {
                cert: d.join("ec.pem"),
                key: d.join("ec.key"),
            }
        } else {
            pki.make(&spec)
        };
        let server = Server::start(&pki, &files, &lax);
        let profile = timed_audit(server.addr, sni, spec.name).await;
        // Suite rules depend on OpenSSL's DEFAULT list; keep certificate rules.
        let cert_rules: Vec<&str> = rule_ids(&profile)
            .into_iter()
            .filter(|r| r.starts_with("FLINK-TLS-CERT-"))
            .collect();
        assert_eq!(
            cert_rules, expected,
            "{}: {:#?}",
            spec.name, profile.weaknesses
        );
        if spec.name == "ec256" {
            assert_eq!(
                profile.certificate_chain[0].key.as_deref(),
                Some("EC 256 (P-256)")
            );
        }
        if spec.name == "rsa1024" {
            assert_eq!(
                profile.certificate_chain[0].key.as_deref(),
                Some("RSA 1024")
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_clock_is_injectable() {
    if openssl().is_none() {
        return;
    }
    let pki = Pki::new();
    let cert = pki.make(&CertSpec::default());
    let server = Server::start(&pki, &cert, &[]);
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(400);
    let profile = audit_at(server.addr, Some("flink.test"), TIMEOUT, later)
        .await
        .expect("audit");
    assert!(
        rule_ids(&profile).contains(&rules::CERT_EXPIRED),
        "{profile:#?}"
    );
    // And recomputing with another clock and name works offline.
    let now = time::OffsetDateTime::now_utc();
    let w = tls::weaknesses(&profile, "elsewhere.test", now);
    assert!(w.iter().any(|w| w.rule_id == rules::CERT_NAME_MISMATCH));
    assert!(!w.iter().any(|w| w.rule_id == rules::CERT_EXPIRED));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sniff_and_connect_on_a_default_server() {
    if openssl().is_none() {
        return;
    }
    let pki = Pki::new();
    let cert = pki.make(&CertSpec::default());
    let server = Server::start(&pki, &cert, &[]);
    let t = Instant::now();
    let s = sniff(server.addr, Some("flink.test"), TIMEOUT)
        .await
        .expect("sniff")
        .expect("TLS");
    eprintln!("sniff: {:?}", t.elapsed());
    assert_eq!(s.version.as_deref(), Some("TLSv1.2"));
    assert!(s
        .cipher_suite
        .as_deref()
        .is_some_and(|c| c.starts_with("TLS_ECDHE_RSA_WITH_")));
    assert!(!s.client_cert_required);
    let leaf = s.certificate.expect("certificate");
    assert_eq!(leaf.san, vec!["DNS:flink.test", "IP:127.0.0.1"]);
    assert_eq!(
        leaf.signature_algorithm.as_deref(),
        Some("sha256WithRSAEncryption")
    );

    // HTTP over TLS through rustls (s_server -www answers GET /).
    let tcp = TcpStream::connect(server.addr).await.expect("tcp");
    let (mut tls, info) = connect_with_info(tcp, Some("flink.test"), TIMEOUT)
        .await
        .expect("handshake");
    assert_eq!(info.version.as_deref(), Some("TLSv1.3"));
    assert!(!info.client_cert_requested);
    assert_eq!(info.certificate_chain.len(), 1);
    assert_eq!(info.certificate_chain[0].sha256, leaf.sha256);
    tls.write_all(b"GET / HTTP/1.0\r\n\r\n")
        .await
        .expect("write");
    let mut head = vec![0u8; 64];
    let n = tls.read(&mut head).await.expect("read");
    let head = String::from_utf8_lossy(head.get(..n).unwrap_or_default()).to_string();
    assert!(head.starts_with("HTTP/1.0 200"), "{head:?}");
}

/// A loopback TCP server running `behave` on every connection.
async fn plain_server<F, Fut>(behave: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(behave(s));
        }
    });
    addr
}

#[tokio::test]
async fn non_tls_peers() {
    // Echo: our ClientHello comes back, which is not a ServerHello.
    let echo = plain_server(|mut s| async move {
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 || s.write_all(buf.get(..n).unwrap_or_default()).await.is_err() {
                break;
            }
        }
    })
    .await;
    assert_eq!(sniff(echo, None, TIMEOUT).await.expect("sniff"), None);
    assert!(matches!(
        audit(echo, None, TIMEOUT).await,
        Err(TlsError::NotTls)
    ));

    let http = plain_server(|mut s| async move {
        let mut buf = vec![0u8; 4096];
        let _ = s.read(&mut buf).await;
        let _ = s
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
    })
    .await;
    assert_eq!(sniff(http, None, TIMEOUT).await.expect("sniff"), None);

    let closer = plain_server(|s| async move { drop(s) }).await;
    assert_eq!(sniff(closer, None, TIMEOUT).await.expect("sniff"), None);
    assert!(matches!(
        audit(closer, None, TIMEOUT).await,
        Err(TlsError::NotTls)
    ));

    // Flink BLOB-style reply to an unknown request: 0x01 and a length.
    let blob = plain_server(|mut s| async move {
        let mut buf = vec![0u8; 4096];
        let _ = s.read(&mut buf).await;
        let _ = s.write_all(&[1, 0x20, 0, 0, 0]).await;
    })
    .await;
    assert_eq!(sniff(blob, None, TIMEOUT).await.expect("sniff"), None);
}

#[tokio::test]
async fn silent_and_closed_ports() {
    let silent = plain_server(|mut s| async move {
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    let short = Duration::from_millis(300);
    let t = Instant::now();
    assert!(matches!(
        sniff(silent, None, short).await,
        Err(TlsError::Timeout(_))
    ));
    assert!(matches!(
        audit(silent, None, short).await,
        Err(TlsError::Timeout(_))
    ));
    // Versions run concurrently: about one timeout each, not five.
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());

    let port = free_port();
    let closed: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    assert!(matches!(
        sniff(closed, None, short).await,
        Err(TlsError::Io(_))
    ));
    assert!(matches!(
        audit(closed, None, short).await,
        Err(TlsError::Io(_))
    ));

    assert!(matches!(
        sniff(closed, Some("bad name!"), short).await,
        Err(TlsError::InvalidServerName(_))
    ));
}

#[tokio::test]
async fn hostile_server_flights_are_bounded() {
    // A "TLS server" that answers with a valid record header and then an
    // endless handshake stream.
    let flood = plain_server(|mut s| async move {
        let mut buf = vec![0u8; 4096];
        let _ = s.read(&mut buf).await;
        let mut sh = vec![22u8, 3, 3, 0, 42, 2, 0, 0, 38, 3, 3];
        sh.extend_from_slice(&[0u8; 32]);
        sh.extend_from_slice(&[0, 0x00, 0x2f, 0]);
        if s.write_all(&sh).await.is_err() {
            return;
        }
        let mut filler = vec![22u8, 3, 3, 0x40, 0x00];
        filler.extend(std::iter::repeat_n(0u8, 0x4000));
        for _ in 0..1000 {
            if s.write_all(&filler).await.is_err() {
                return;
            }
        }
    })
    .await;
    let t = Instant::now();
    let r = sniff(flood, None, TIMEOUT).await;
    assert!(matches!(r, Err(TlsError::TooLarge(_))), "{r:?}");
    assert!(t.elapsed() < TIMEOUT);

    // A server that answers with a ServerHello for a suite we never offered
    // in TLS 1.3, and garbage after a valid header.
    let garbage = plain_server(|mut s| async move {
        let mut buf = vec![0u8; 4096];
        let _ = s.read(&mut buf).await;
        let _ = s.write_all(&[22, 3, 3, 0, 6, 2, 0, 0, 2, 0xff, 0xff]).await;
    })
    .await;
    let r = sniff(garbage, None, TIMEOUT).await;
    assert!(matches!(r, Err(TlsError::Malformed(_))), "{r:?}");
}

/// Debian's openssl cannot speak SSLv3 any more, so this peer is hand-made:
/// it answers only a ClientHello whose client_version is SSL 3.0, with a
/// ServerHello picking the first offered suite it "supports" (RC4-SHA,
/// then 3DES-SHA) and a ServerHelloDone; anything else gets a
/// protocol_version or handshake_failure alert.
#[tokio::test]
async fn sslv3_with_rc4_and_3des_is_reported_suite_by_suite() {
    const SUPPORTED: [u16; 2] = [0x0005, 0x000a];
    let peer = plain_server(|mut s| async move {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // One whole record: 5-byte header plus its length.
        while buf.len() < 5 || buf.len() < 5 + usize::from(u16::from_be_bytes([buf[3], buf[4]])) {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if buf.len() > 64 * 1024 {
                return;
            }
        }
        let body = &buf[5..];
        // Handshake header (4) then client_version (2), random (32), session id.
        let client_version = u16::from_be_bytes([body[4], body[5]]);
        let sid_len = usize::from(body[38]);
        let at = 39 + sid_len;
        let suites_len = usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
        let offered: Vec<u16> = body[at + 2..at + 2 + suites_len]
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        let alert = |desc: u8| vec![0x15, 0x03, 0x00, 0x00, 0x02, 0x02, desc];
        let reply = if client_version != 0x0300 {
            alert(70)
        } else if let Some(pick) = offered.iter().find(|s| SUPPORTED.contains(s)) {
            let mut hello = vec![0x03, 0x00];
            hello.extend_from_slice(&[0x5a; 32]);
            hello.push(0); // no session id
            hello.extend_from_slice(&pick.to_be_bytes());
            hello.push(0); // null compression
            let mut hs = vec![0x02, 0x00, 0x00, hello.len() as u8];
            hs.extend_from_slice(&hello);
            hs.extend_from_slice(&[0x0e, 0x00, 0x00, 0x00]); // ServerHelloDone
            let mut record = vec![0x16, 0x03, 0x00];
            record.extend_from_slice(&(hs.len() as u16).to_be_bytes());
            record.extend_from_slice(&hs);
            record
        } else {
            alert(40)
        };
        let _ = s.write_all(&reply).await;
        let mut rest = [0u8; 512];
        let _ = tokio::time::timeout(Duration::from_secs(1), s.read(&mut rest)).await;
    })
    .await;

    let profile = timed_audit(peer, None, "fake SSLv3 peer").await;
    assert_eq!(accepted(&profile), vec!["SSLv3"]);
    let suites: BTreeSet<u16> = suite_ids(&profile, ProtocolVersion::Ssl3)
        .into_iter()
        .collect();
    assert_eq!(suites, BTreeSet::from(SUPPORTED));
    let rules = rule_ids(&profile);
    for want in [
        "FLINK-TLS-LEGACY-PROTOCOL",
        "FLINK-TLS-WEAK-CIPHER",
        "FLINK-TLS-NO-FORWARD-SECRECY",
    ] {
        assert!(rules.contains(&want), "{want} missing from {rules:?}");
    }
}

/// Bidirectional and invisible characters in a certificate's subject and
/// issuer follow the rule of every peer string: visible escapes in the JSON
/// report and in JSON Lines, never the raw characters (they reorder or hide
/// text in whatever shows the report). The certificate is made by openssl.
#[test]
fn hidden_characters_of_a_certificate_subject_never_reach_json_raw() {
    if openssl().is_none() {
        return;
    }
    let pki = Pki::new();
    let cn = "jm\u{202e}exe.txt\u{2066}x\u{200b}y\u{feff}z";
    let cert = pki.make(&CertSpec {
        name: "bidi",
        cn,
        ..CertSpec::default()
    });
    let server = Server::start(&pki, &cert, &[]);
    let ran = Scan::new()
        .args(["-q", "--no-color", "--probe-timeout", "3s"])
        .target(server.addr.ip().to_string())
        .args(["-p", &server.addr.port().to_string()])
        .json()
        .jsonl()
        .run();
    let stderr = &ran.stderr;
    for path in [ran.path(Output::Json), ran.path(Output::Jsonl)] {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{}: {e}: {stderr}", path.display()));
        // The escapes JSON writes for them, too: a reader decodes those.
        let raw: Vec<char> = text
            .chars()
            .filter(|&c| c != '\n' && flinkscan::untrusted::is_hidden(c))
            .collect();
        assert!(raw.is_empty(), "{}: raw {raw:?}", path.display());
        for escaped in ["\\u202e", "\\u2066", "\\u200b", "\\ufeff"] {
            assert!(
                !text.to_ascii_lowercase().contains(escaped),
                "{}: JSON escape {escaped} decodes to the raw character",
                path.display()
            );
        }
        assert!(
            text.contains("jm\\\\u{202e}exe.txt"),
            "{}: the subject is not shown with visible escapes: {stderr}",
            path.display()
        );
    }
}
