//! The fuzz harnesses, shared by the cargo-fuzz targets (nightly) and by
//! `tests/fuzz_corpus.rs`, which replays the committed corpus on stable.
#![allow(dead_code)]

use bytes::Bytes;
use flinkscan::checks::probe::ProbeFile;
use flinkscan::transport::http::Response;
use flinkscan::transport::wire;

/// Target specs, target files, port lists and shards; then the target
/// space built from what parsed (through `targets::assemble`, as a scan
/// does: names answered by a made-up resolver, or left to a proxy), checked
/// to be a bijection when small.
pub fn target_spec(data: &[u8]) {
    use flinkscan::targets::assemble::{self, Names};
    use flinkscan::targets::resolve::ResolveError;
    use flinkscan::targets::{self, Shard, TargetSpace};
    let text = String::from_utf8_lossy(data);
    let _ = targets::parse_spec(&text, targets::Origin::Arg(1));
    let _ = targets::ports::parse_ports(&text);
    let _ = Shard::parse(&text);
    // First line: ports (or the defaults); the rest: a target file.
    let (first, rest) = text.split_once('\n').unwrap_or(("", &text));
    let ports = targets::ports::parse_ports(first)
        .unwrap_or_else(|_| targets::ports::DEFAULT_PORTS.to_vec());
    let Ok(specs) = targets::parse_lines("fuzz.txt", rest) else {
        return;
    };
    // Every third spec is an exclusion.
    let (mut targets, mut excludes) = (Vec::new(), Vec::new());
    for (i, spec) in specs.into_iter().enumerate() {
        if i % 3 == 2 {
            excludes.push(spec);
        } else {
            targets.push(spec);
        }
    }
    let names = if data.len().is_multiple_of(2) {
        Names::Local
    } else {
        Names::Proxy
    };
    // A name's length decides its answer: none, or 1-3 loopback addresses.
    let mut resolved = std::collections::HashMap::new();
    let mut errors = Vec::new();
    for name in assemble::names_to_resolve(&targets, &excludes, names) {
        let n = name.len() % 4;
        if n == 0 {
            errors.push(ResolveError {
                name,
                reason: "fuzz".into(),
            });
        } else {
            let ips = (0..n)
                .map(|k| std::net::IpAddr::from([127, 0, name.len() as u8, k as u8]))
                .collect();
            resolved.insert(name, ips);
        }
    }
    let Ok((input, _notices)) = assemble::assemble(&targets, &excludes, &resolved, &errors, names)
    else {
        return;
    };
    let seed = data.len() as u64;
    let shard = Shard::parse(first).unwrap_or(Shard::ALL);
    let Ok(space) = TargetSpace::build(input, &ports, seed, shard, true) else {
        return;
    };
    let len = space.len();
    if len <= 4096 {
        let all: std::collections::BTreeSet<_> = space.iter().collect();
        assert_eq!(all.len() as u64, len, "probes repeated or lost");
    } else {
        for j in [0, 1, len / 2, len - 1] {
            assert!(space.nth(j).is_some(), "probe {j} of {len} missing");
        }
        assert!(space.nth(len).is_none());
    }
}

/// The server-flight parser fed in chunks as a peer would send them, plus
/// the ServerHello and Certificate parsers on raw bytes.
pub fn tls_records(data: &[u8]) {
    let split = data.first().map_or(1, |b| usize::from(*b % 17) + 1);
    for stop_after_hello in [false, true] {
        let mut p = flinkscan::tls::record::FlightParser::new(stop_after_hello);
        for chunk in data.chunks(split) {
            if p.feed(chunk).is_err() || p.is_done() {
                break;
            }
        }
        let _ = p.finish_eof();
    }
    let _ = flinkscan::tls::record::parse_server_hello(data);
    let _ = flinkscan::tls::record::parse_certificates(data);
}

/// BLOB, RPC, JRMI and TaskManager reply parsers.
pub fn wire_replies(data: &[u8]) {
    let _ = wire::parse_blob_reply(data);
    let _ = wire::blob_error_path(data);
    let _ = wire::blob_reply_complete(data);
    let _ = wire::is_rpc_disassociate(data);
    let _ = wire::is_jrmi_ack(data);
    let _ = wire::is_taskmanager_data(data);
    let _ = wire::printable_runs(data);
}

const PROBE: &str = r#"
id = "fuzz"
rule = "FLINK-REST-UNAUTHENTICATED"
services = ["jobmanager-rest"]
detail = "{status} {v} {h} {r}"
matchers_condition = "or"
[request]
path = "/config"
[[matchers]]
kind = "json"
pointer = "/features/web-submit"
equals = true
[[matchers]]
kind = "header"
name = "x"
regex = '^\*$'
[[matchers]]
kind = "regex"
regex = '(?m)^flink_[a-z]+'
[[extractors]]
name = "v"
kind = "json"
pointer = "/flink-version"
[[extractors]]
name = "h"
kind = "header"
header = "x"
[[extractors]]
name = "r"
kind = "regex"
regex = '(flink_[a-z_]{1,40})'
"#;

/// Probe files from arbitrary TOML; a fixed probe on arbitrary responses.
pub fn probe_matcher(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = toml::from_str::<ProbeFile>(text) {
            let _ = p.validate();
        }
    }
    static FIXED: std::sync::OnceLock<Option<ProbeFile>> = std::sync::OnceLock::new();
    let Some(probe) = FIXED
        .get_or_init(|| toml::from_str::<ProbeFile>(PROBE).ok())
        .as_ref()
    else {
        return;
    };
    let cut = data.len() / 3;
    let (head, body) = data.split_at(cut);
    let resp = Response {
        status: u16::from(data.first().copied().unwrap_or(0)) + 100,
        headers: vec![("x".into(), String::from_utf8_lossy(head).into_owned())],
        body: Bytes::copy_from_slice(body),
    };
    let _ = probe.matches(&resp);
    let x = probe.extract(&resp);
    let detail = probe.render_detail(resp.status, Some("1.0"), &x);
    // Peer values are inert inside our sentence: no markup, no placeholders
    // (those left are of extractors that found nothing).
    let ours = detail
        .replace("{v}", "")
        .replace("{h}", "")
        .replace("{r}", "");
    for c in ['<', '>', '{', '}', '"', '`'] {
        assert!(!ours.contains(c), "{c:?} from the peer in {detail:?}");
    }
    for (_, v) in &x {
        assert!(!v.contains(['<', '>', '{', '}']), "not inert: {v:?}");
        assert!(v.chars().count() <= 161, "extracted value not bounded");
        assert!(!v.chars().any(char::is_control), "control character kept");
    }
}
