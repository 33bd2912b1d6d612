//! Micro-benchmarks of the hot pure code: the permutation, index -> endpoint
//! over a /8, and probe response matching. Run: `cargo bench --bench hot`.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flinkscan::checks::catalog::Catalog;
use flinkscan::identify::http::Response;
use flinkscan::targets::permute::Permutation;
use flinkscan::targets::spec::ip_to_u128;
use flinkscan::targets::{Shard, SpaceInput, TargetSpace};

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
    g.finish();
}

fn target_space(c: &mut Criterion) {
    let lo = ip_to_u128(
        "10.0.0.0"
            .parse()
            .unwrap_or(std::net::IpAddr::from([10, 0, 0, 0])),
    );
    let input = SpaceInput {
        ranges: vec![(lo, lo + (1 << 24) - 1)],
        // A few exclusions so the interval search has work to do.
        exclude: (0..64u128)
            .map(|k| (lo + k * 200_000, lo + k * 200_000 + 99))
            .collect(),
        ..SpaceInput::default()
    };
    let ports = [8081, 8082, 8083, 6123, 6124, 9249, 8789];
    let Ok(space) = TargetSpace::build(input, &ports, 7, Shard::ALL, true) else {
        return;
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

fn matching(c: &mut Criterion) {
    let Ok(catalog) = Catalog::load(None) else {
        return;
    };
    let body = br#"{"refresh-interval":3000,"timezone-name":"UTC","timezone-offset":0,"flink-version":"1.20.1","flink-revision":"cb1e7b5","features":{"web-submit":true,"web-cancel":true,"web-rescale":false,"web-history":false}}"#;
    let resp = Response {
        status: 200,
        headers: vec![("access-control-allow-origin".into(), "*".into())],
        body: Bytes::from_static(body),
    };
    let mut g = c.benchmark_group("probe matching");
    g.throughput(Throughput::Elements(catalog.probes.len() as u64));
    g.bench_function("every probe file on a /config answer", |b| {
        b.iter(|| {
            let mut hits = 0;
            for p in &catalog.probes {
                if p.matches(black_box(&resp)) {
                    hits += 1;
                }
            }
            black_box(hits)
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = permutation, target_space, matching
}
criterion_main!(benches);
