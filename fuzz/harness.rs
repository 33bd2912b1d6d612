//! The fuzz harnesses, shared by the cargo-fuzz targets (nightly) and by
//! `tests/fuzz_corpus.rs`, which replays the committed corpus on stable.
#![allow(dead_code)]

use bytes::Bytes;
use flinkscan::checks::probe::ProbeFile;
use flinkscan::identify::http::Response;
use flinkscan::identify::wire;

/// Target specs, target files and port lists.
pub fn target_spec(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = flinkscan::targets::parse_spec(&text, flinkscan::targets::Origin::Arg(1));
    let _ = flinkscan::targets::parse_lines("fuzz.txt", &text);
    let _ = flinkscan::targets::ports::parse_ports(&text);
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
    let Ok(probe) = toml::from_str::<ProbeFile>(PROBE) else {
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
    let _ = probe.render_detail(resp.status, Some("1.0"), &x);
}
