//! Targets: parse specs, subtract exclusions, and iterate the (address, port)
//! space lazily in a seeded pseudo-random order, optionally one shard of it.
//!
//! A /8 with seven ports is 117M probes; nothing here grows with that number.
//! The space is a list of disjoint address intervals per port set; probe index
//! `i` maps to an interval by binary search over prefix sums.

pub mod permute;
pub mod ports;
pub mod resolve;
pub mod spec;
pub mod summary;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use crate::model::Endpoint;
use permute::Permutation;
use spec::{ip_to_u128, u128_to_ip};
pub use spec::{parse_lines, parse_spec, Hosts, Origin, Spec, SpecError};

/// Errors building the target space.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    #[error("{}", join_errors(.0))]
    BadSpecs(Vec<SpecError>),
    #[error("cannot read {}: {source}", crate::untrusted::shown(.path))]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no targets given: name hosts, CIDRs or ranges as arguments or with -i FILE")]
    Empty,
    #[error("the target space is {addresses} addresses, more than a /16 (65,536); pass --allow-large if you mean it")]
    TooLarge { addresses: u128 },
    #[error(
        "the target space has {0} probes, more than 2^64; split IPv6 sweeps into smaller blocks"
    )]
    Overflow(u128),
    #[error("shard {}: expected K/N with 0 <= K < N (for example 0/4)", crate::untrusted::shown(.0))]
    BadShard(String),
}

fn join_errors(errors: &[SpecError]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Which part of the permuted space this process scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn parse(text: &str) -> Result<Shard, TargetError> {
        let bad = || TargetError::BadShard(text.to_string());
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Disjoint, sorted, merged intervals of addresses (as u128).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntervalSet {
    ranges: Vec<(u128, u128)>,
}

impl IntervalSet {
    pub fn from_ranges(mut ranges: Vec<(u128, u128)>) -> Self {
        ranges.sort_unstable();
        let mut merged: Vec<(u128, u128)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        IntervalSet { ranges: merged }
    }

    /// Remove every address in `other` (exclusions always win).
    pub fn subtract(&self, other: &IntervalSet) -> IntervalSet {
        let mut out = Vec::new();
        for &(lo, hi) in &self.ranges {
            let mut cur = lo;
            let mut alive = true;
            for &(elo, ehi) in &other.ranges {
                if ehi < cur || elo > hi {
                    continue;
                }
                if elo > cur {
                    out.push((cur, elo - 1));
                }
                if ehi >= hi {
                    alive = false;
                    break;
                }
                cur = ehi + 1;
            }
            if alive && cur <= hi {
                out.push((cur, hi));
            }
        }
        IntervalSet { ranges: out }
    }

    pub fn contains(&self, n: u128) -> bool {
        let i = self.ranges.partition_point(|&(_, hi)| hi < n);
        self.ranges.get(i).is_some_and(|&(lo, _)| lo <= n)
    }

    /// Number of addresses (saturating at u128::MAX for `::/0`).
    pub fn len(&self) -> u128 {
        self.ranges.iter().fold(0u128, |acc, &(lo, hi)| {
            acc.saturating_add(hi - lo).saturating_add(1)
        })
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn ranges(&self) -> &[(u128, u128)] {
        &self.ranges
    }
}

/// Addresses that share one port list.
#[derive(Debug, Clone)]
struct Block {
    ranges: Vec<(u128, u128)>,
    /// `starts[k]` = number of addresses before `ranges[k]`.
    starts: Vec<u64>,
    ports: Vec<u16>,
    probes: u64,
}

impl Block {
    fn new(set: IntervalSet, ports: Vec<u16>) -> Result<Block, TargetError> {
        let mut starts = Vec::with_capacity(set.ranges.len());
        let mut total: u128 = 0;
        for &(lo, hi) in &set.ranges {
            starts.push(u64::try_from(total).map_err(|_| TargetError::Overflow(total))?);
            // `hi - lo + 1` overflows for `::/0`; saturate into Overflow below.
            total = total.saturating_add(hi - lo).saturating_add(1);
        }
        let probes = total.saturating_mul(ports.len() as u128);
        let probes = u64::try_from(probes).map_err(|_| TargetError::Overflow(probes))?;
        Ok(Block {
            ranges: set.ranges,
            starts,
            ports,
            probes,
        })
    }

    fn get(&self, index: u64) -> Option<(IpAddr, u16)> {
        let nports = self.ports.len() as u64;
        let addr_index = index / nports;
        let port = *self.ports.get((index % nports) as usize)?;
        let k = self
            .starts
            .partition_point(|&s| s <= addr_index)
            .checked_sub(1)?;
        let (lo, _) = *self.ranges.get(k)?;
        let offset = u128::from(addr_index - self.starts.get(k)?);
        Some((u128_to_ip(lo + offset), port))
    }
}

/// The whole set of (address, port) probes of one scan, in permuted order.
#[derive(Debug, Clone)]
pub struct TargetSpace {
    blocks: Vec<Block>,
    /// `block_starts[b]` = probes before block `b`.
    block_starts: Vec<u64>,
    total: u64,
    addresses: u128,
    perm: Permutation,
    shard: Shard,
    hostnames: HashMap<IpAddr, String>,
}

/// What a space is built from once names are resolved.
#[derive(Debug, Clone, Default)]
pub struct SpaceInput {
    /// Address ranges to scan on the default port list.
    pub ranges: Vec<(u128, u128)>,
    /// Address ranges with one explicit port (`host:port`).
    pub with_port: Vec<(u128, u128, u16)>,
    pub exclude: Vec<(u128, u128)>,
    /// Name the user gave for an address, for SNI and certificate checks.
    pub hostnames: HashMap<IpAddr, String>,
}

impl TargetSpace {
    pub fn build(
        input: SpaceInput,
        ports: &[u16],
        seed: u64,
        shard: Shard,
        allow_large: bool,
    ) -> Result<TargetSpace, TargetError> {
        let exclude = IntervalSet::from_ranges(input.exclude);
        let default = IntervalSet::from_ranges(input.ranges).subtract(&exclude);

        // Explicit host:port targets, grouped by port; drop what the default
        // block already covers so nothing is probed twice.
        let mut by_port: BTreeMap<u16, Vec<(u128, u128)>> = BTreeMap::new();
        for (lo, hi, port) in input.with_port {
            by_port.entry(port).or_default().push((lo, hi));
        }
        let mut blocks = Vec::new();
        let mut addresses = default.len();
        let mut all = default.clone();
        if !default.is_empty() && !ports.is_empty() {
            blocks.push(Block::new(default.clone(), ports.to_vec())?);
        }
        for (port, ranges) in by_port {
            let mut set = IntervalSet::from_ranges(ranges).subtract(&exclude);
            if ports.contains(&port) {
                set = set.subtract(&default);
            }
            if set.is_empty() {
                continue;
            }
            all = IntervalSet::from_ranges(
                all.ranges
                    .iter()
                    .chain(set.ranges.iter())
                    .copied()
                    .collect(),
            );
            blocks.push(Block::new(set, vec![port])?);
        }
        addresses = addresses.max(all.len());
        if addresses > 65_536 && !allow_large {
            return Err(TargetError::TooLarge { addresses });
        }
        let mut block_starts = Vec::with_capacity(blocks.len());
        let mut total: u64 = 0;
        for b in &blocks {
            block_starts.push(total);
            total = total.checked_add(b.probes).ok_or(TargetError::Overflow(
                u128::from(total) + u128::from(b.probes),
            ))?;
        }
        Ok(TargetSpace {
            blocks,
            block_starts,
            total,
            addresses,
            perm: Permutation::new(total, seed),
            shard,
            hostnames: input.hostnames,
        })
    }

    /// Probes in the whole space (all shards).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Distinct addresses in the whole space.
    pub fn addresses(&self) -> u128 {
        self.addresses
    }

    /// Probes in this process's shard.
    pub fn len(&self) -> u64 {
        let Shard { index, count } = self.shard;
        if self.total <= index {
            0
        } else {
            (self.total - index).div_ceil(count)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// The `j`-th probe of this shard, or `None` past the end.
    pub fn nth(&self, j: u64) -> Option<Endpoint> {
        let i = j
            .checked_mul(self.shard.count)?
            .checked_add(self.shard.index)?;
        if i >= self.total {
            return None;
        }
        let index = self.perm.apply(i);
        let b = self
            .block_starts
            .partition_point(|&s| s <= index)
            .checked_sub(1)?;
        let block = self.blocks.get(b)?;
        let (ip, port) = block.get(index - self.block_starts.get(b)?)?;
        Some(Endpoint {
            ip,
            port,
            hostname: self.hostnames.get(&ip).cloned(),
        })
    }

    /// Iterate this shard's probes lazily.
    pub fn iter(&self) -> impl Iterator<Item = Endpoint> + '_ {
        (0..self.len()).map_while(|j| self.nth(j))
    }

    pub fn hostname(&self, ip: &IpAddr) -> Option<&str> {
        self.hostnames.get(ip).map(String::as_str)
    }
}

/// Convert parsed specs whose names are already resolved into ranges.
pub fn spec_ranges(spec: &Spec, resolved: &HashMap<String, Vec<IpAddr>>) -> Vec<(u128, u128)> {
    match &spec.hosts {
        Hosts::Range { lo, hi } => vec![(*lo, *hi)],
        Hosts::Name(name) => resolved
            .get(name)
            .map(|ips| {
                ips.iter()
                    .map(|ip| {
                        let n = ip_to_u128(*ip);
                        (n, n)
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn r(a: &str, b: &str) -> (u128, u128) {
        (
            ip_to_u128(a.parse().unwrap()),
            ip_to_u128(b.parse().unwrap()),
        )
    }

    #[test]
    fn subtract_and_merge() {
        let set = IntervalSet::from_ranges(vec![
            r("127.0.0.0", "127.0.0.255"),
            r("127.0.1.0", "127.0.1.10"),
        ]);
        assert_eq!(set.ranges().len(), 1);
        let ex = IntervalSet::from_ranges(vec![
            r("127.0.0.10", "127.0.0.20"),
            r("127.0.1.5", "127.0.2.0"),
        ]);
        let out = set.subtract(&ex);
        assert_eq!(
            out.ranges(),
            &[r("127.0.0.0", "127.0.0.9"), r("127.0.0.21", "127.0.1.4")]
        );
        assert_eq!(out.len(), 10 + 256 - 21 + 5);
        assert!(!out.contains(ip_to_u128("127.0.0.15".parse().unwrap())));
    }

    #[test]
    fn space_visits_each_probe_once_and_shards_partition() {
        let input = SpaceInput {
            ranges: vec![r("127.0.0.0", "127.0.0.255"), r("::1", "::1")],
            with_port: vec![(
                r("127.9.9.9", "127.9.9.9").0,
                r("127.9.9.9", "127.9.9.9").1,
                1234,
            )],
            exclude: vec![r("127.0.0.128", "127.0.0.255")],
            hostnames: HashMap::new(),
        };
        let space = TargetSpace::build(input.clone(), &[80, 81], 5, Shard::ALL, false).unwrap();
        assert_eq!(space.total(), (128 + 1) * 2 + 1);
        let all: Vec<_> = space.iter().collect();
        let set: HashSet<_> = all.iter().cloned().collect();
        assert_eq!(set.len(), all.len());
        assert!(all.iter().all(|e| match e.ip {
            IpAddr::V4(v4) => v4.octets()[3] < 128 || v4.octets()[1] == 9,
            IpAddr::V6(_) => true,
        }));
        for n in 1..=5u64 {
            let mut union = HashSet::new();
            let mut count = 0;
            for k in 0..n {
                let s = TargetSpace::build(
                    input.clone(),
                    &[80, 81],
                    5,
                    Shard { index: k, count: n },
                    false,
                )
                .unwrap();
                for e in s.iter() {
                    count += 1;
                    union.insert(e);
                }
            }
            assert_eq!(count, all.len(), "shards overlap for n={n}");
            assert_eq!(union, set);
        }
    }

    #[test]
    fn large_needs_flag() {
        let input = SpaceInput {
            ranges: vec![r("127.0.0.0", "127.255.255.255")],
            ..Default::default()
        };
        assert!(matches!(
            TargetSpace::build(input.clone(), &[1], 0, Shard::ALL, false),
            Err(TargetError::TooLarge { .. })
        ));
        let s = TargetSpace::build(input, &[1, 2], 0, Shard::ALL, true).unwrap();
        assert_eq!(s.total(), 1 << 25);
        assert!(s.nth((1 << 25) - 1).is_some());
        assert!(s.nth(1 << 25).is_none());
    }
}
