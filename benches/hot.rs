//! Micro-benchmarks of the hot pure code: the permutation, index -> endpoint
//! over a /8, probe response matching, and loading `--advisories` (whose
//! time must grow linearly with the records: compare its two sizes). Run:
//! `cargo bench --bench hot`.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flinkscan::checks::catalog::Catalog;
use flinkscan::targets::permute::Permutation;
use flinkscan::targets::spec::ip_to_u128;
use flinkscan::targets::{Shard, SpaceInput, TargetSpace};
use flinkscan::transport::http::Response;

fn permutation(c: &mut Criterion) {
    let mut g = c.benchmark_group("permutation");
    g.throughput(Throughput::Elements(1));
    let p = Permutation::new(1 << 24, 7);
    let mut i = 0u64;
    g.bench_function("apply over 2^24", |b| {
        b.iter(|| {
            i = (i + 1) & ((1 << 24) - 1);
            black_box(p.apply(black_box(i)))
        })
    });
    // A /8 x 7 ports: not a power of four, so apply() cycle-walks.
    let n = 7u64 << 24;
    let p = Permutation::new(n, 7);
    let mut i = 0u64;
    g.bench_function("apply over 7 x 2^24 (cycle-walking)", |b| {
        b.iter(|| {
            i += 1;
            if i == n {
                i = 0;
            }
            black_box(p.apply(black_box(i)))
        })
    });
    g.finish();
}

fn target_space(c: &mut Criterion) {
    // Pure arithmetic, nothing is sent; loopback keeps it obviously so.
    let lo = ip_to_u128(std::net::IpAddr::from([127, 0, 0, 0]));
    let input = SpaceInput {
        ranges: vec![(lo, lo + (1 << 24) - 1)],
        // A few exclusions so the interval search has work to do.
        exclude: (0..64u128)
            .map(|k| (lo + k * 200_000, lo + k * 200_000 + 99))
            .collect(),
        ..SpaceInput::default()
    };
    let ports = [8081, 8082, 8083, 6123, 6124, 9249, 8789];
    let space = match TargetSpace::build(input, &ports, 7, Shard::ALL, true) {
        Ok(space) => space,
        Err(e) => {
            eprintln!("hot: cannot build the /8 target space ({e}); skipping");
            return;
        }
    };
    let mut g = c.benchmark_group("target space");
    g.throughput(Throughput::Elements(1));
    let mut j = 0u64;
    let n = space.len();
    g.bench_function("nth over a /8 x 7 ports", |b| {
        b.iter(|| {
            j = (j + 1) % n;
            black_box(space.nth(black_box(j)))
        })
    });
    g.finish();
}

/// A `/jobmanager/config`-style answer: the size a real JobManager returns.
fn jobmanager_config_body() -> Bytes {
    let mut entries: Vec<String> = (0..120)
        .map(|k| format!(r#"{{"key":"some.option.number-{k}","value":"value-{k}"}}"#))
        .collect();
    entries.push(r#"{"key":"rest.bind-address","value":"0.0.0.0"}"#.into());
    entries.push(r#"{"key":"security.ssl.rest.enabled","value":"false"}"#.into());
    Bytes::from(format!("[{}]", entries.join(",")))
}

fn matching(c: &mut Criterion) {
    let Ok(catalog) = Catalog::load(None, None) else {
        eprintln!("hot: the built-in catalog did not load; skipping probe matching");
        return;
    };
    let config = br#"{"refresh-interval":3000,"timezone-name":"UTC","timezone-offset":0,"flink-version":"1.20.1","flink-revision":"cb1e7b5","features":{"web-submit":true,"web-cancel":true,"web-rescale":false,"web-history":false}}"#;
    let answers = [
        (
            "/config answer (217 B)",
            Response {
                status: 200,
                headers: vec![
                    (
                        "content-type".into(),
                        "application/json; charset=UTF-8".into(),
                    ),
                    ("access-control-allow-origin".into(), "*".into()),
                ],
                body: Bytes::from_static(config),
            },
        ),
        (
            "/jobmanager/config answer (~6 KiB)",
            Response {
                status: 200,
                headers: vec![(
                    "content-type".into(),
                    "application/json; charset=UTF-8".into(),
                )],
                body: jobmanager_config_body(),
            },
        ),
    ];
    let mut g = c.benchmark_group("probe matching");
    // Throughput counts probe files matched, so the rate is ProbeFile::matches calls/s.
    g.throughput(Throughput::Elements(catalog.probes.len() as u64));
    for (name, resp) in &answers {
        g.bench_function(format!("every probe file on a {name}"), |b| {
            b.iter(|| {
                let mut hits = 0u32;
                for p in &catalog.probes {
                    if p.matches(black_box(resp)) {
                        hits += 1;
                    }
                }
                black_box(hits)
            })
        });
    }
    g.finish();
}

/// A directory of `n` OSV records of a package no Flink interface runs
/// (as most of an osv.dev Maven export is): read, parsed and left out.
fn osv_export(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..n {
        let record = format!(
            r#"{{"id":"GHSA-bench-{i:06}","modified":"2026-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"Maven","name":"org.example:lib-{i}"}}}}]}}"#
        );
        std::fs::write(dir.path().join(format!("GHSA-bench-{i:06}.json")), record)
            .expect("write a record");
    }
    dir
}

/// Loading 5,000 and 20,000 records: four times the records must take
/// about four times as long (it took 20 times as long while each record
/// was compared with every one before it).
fn advisories_load(c: &mut Criterion) {
    let mut g = c.benchmark_group("advisories load");
    g.sample_size(10);
    for n in [5_000, 20_000] {
        let dir = osv_export(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("{n} OSV records"), |b| {
            b.iter(|| {
                black_box(flinkscan::advisories::Advisories::load(Some(dir.path())).expect("load"))
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(50);
    targets = permutation, target_space, matching, advisories_load
}
criterion_main!(benches);
