//! Replays the committed fuzz corpora (fuzz/corpus/<target>/) through the
//! same harnesses cargo-fuzz runs, so stable `cargo test` keeps every input
//! that ever mattered panic-free; plus a few assertions on known seeds.

#[path = "../../fuzz/harness.rs"]
mod harness;

use std::path::Path;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus for {target}");
    files
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn corpora_replay_without_panics() {
    for (target, run) in [
        ("target_spec", harness::target_spec as fn(&[u8])),
        ("tls_records", harness::tls_records),
        ("wire_replies", harness::wire_replies),
        ("probe_matcher", harness::probe_matcher),
    ] {
        for (name, data) in corpus(target) {
            run(&data);
            // Every prefix too: truncation is what broken peers do most.
            for cut in (0..data.len()).step_by(data.len() / 64 + 1) {
                run(&data[..cut]);
            }
            eprintln!("ok {name}");
        }
    }
}

#[test]
fn known_seeds_parse_as_what_they_are() {
    let seeds = corpus("wire_replies");
    let get = |n: &str| {
        seeds
            .iter()
            .find(|(p, _)| p.ends_with(n))
            .unwrap()
            .1
            .clone()
    };
    assert!(flinkscan::transport::wire::parse_blob_reply(&get("blob")).is_some());
    assert!(flinkscan::transport::wire::is_rpc_disassociate(&get("rpc")));
    assert!(flinkscan::transport::wire::is_jrmi_ack(&get("jrmi")));
    assert!(flinkscan::transport::wire::is_taskmanager_data(&get("tm")));

    let tls = corpus("tls_records");
    let mtls = &tls
        .iter()
        .find(|(p, _)| p.ends_with("tls12_mtls_flight"))
        .unwrap()
        .1;
    let mut p = flinkscan::tls::record::FlightParser::new(false);
    let _ = p.feed(mtls).unwrap();
    assert!(p.flight().certificate_request, "CertificateRequest seen");
    assert!(!p.flight().certificates.is_empty());
}

/// Crashes the fuzzers found, kept as named corpus files; each must now be
/// handled as an error, not a panic (tests build with overflow checks).
#[test]
fn fixed_crashes_stay_fixed() {
    use flinkscan::targets::{self, Hosts, Shard, SpaceInput, TargetError, TargetSpace};
    // crash_v6_all: `::/0` overflowed `hi - lo + 1` in Block::new; release
    // builds wrapped to an empty space and "scanned" 0 probes with exit 0.
    let spec = targets::parse_spec("::/0", targets::Origin::Arg(1)).unwrap();
    let Hosts::Range { lo, hi } = spec.hosts else {
        panic!("{spec:?}")
    };
    let input = SpaceInput {
        ranges: vec![(lo, hi)],
        ..SpaceInput::default()
    };
    let r = TargetSpace::build(input, &[8081], 0, Shard::ALL, true);
    assert!(matches!(r, Err(TargetError::Overflow(_))), "{r:?}");
    let seeds = corpus("target_spec");
    assert!(seeds.iter().any(|(p, _)| p.ends_with("crash_v6_all")));
}
