//! Targets: parse specs, subtract exclusions, and iterate the (address, port)
//! space lazily in a seeded pseudo-random order, optionally one shard of it.
//!
//! A /8 with seven ports is 117M probes; nothing here grows with that number.
//! The space is a list of disjoint address intervals per port set; probe index
//! `i` maps to an interval by binary search over prefix sums. Names that only
//! a `socks5h://` proxy resolves sit beside them as a sorted set per port set:
//! they are counted, permuted and sharded like addresses.

pub mod assemble;
pub mod permute;
pub mod ports;
pub mod resolve;
pub mod spec;
pub mod summary;
pub mod url;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use crate::model::Endpoint;
use permute::Permutation;
use spec::u128_to_ip;
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
    #[error(
        "{}:{line}: a line longer than {} KiB: not a targets list (one or more specs per line)",
        crate::untrusted::shown(.path),
        LINE_CAP >> 10
    )]
    LineTooLong { path: String, line: usize },
    #[error(
        "{}: more than {} MiB of targets; give CIDRs or ranges instead of single addresses, or \
         split the list over several scans",
        crate::untrusted::shown(.path),
        INPUT_CAP >> 20
    )]
    InputTooLarge { path: String },
    #[error("no targets given: name hosts, CIDRs or ranges as arguments or with -i FILE")]
    Empty,
    #[error("the target space is {addresses} addresses, more than a /16 (65,536); pass --allow-large if you mean it")]
    TooLarge { addresses: u128 },
    #[error(
        "the target space has {0} probes, more than 2^64; split IPv6 sweeps into smaller blocks"
    )]
    Overflow(u128),
    #[error("standard input can be read only once: `-` is given to both -i and --exclude-file, or twice")]
    StdinTwice,
    #[error("shard {}: expected K/N with 0 <= K < N (for example 0/4)", crate::untrusted::shown(.0))]
    BadShard(String),
    /// With `socks5h://` names are never resolved here, so a name cannot be
    /// compared with the addresses of other targets.
    #[error(
        "{}: cannot exclude the name `{}` with a socks5h:// proxy: names are resolved by the \
         proxy, so flinkscan cannot tell which addresses it stands for; exclude addresses or \
         CIDRs, or use socks5:// to resolve names locally",
        crate::untrusted::shown(&.origin.to_string()),
        crate::untrusted::shown(.name)
    )]
    NameExcludeViaProxy { name: String, origin: Origin },
}

/// How `-i -` (standard input) is named in messages: `<stdin>:3: ...`.
pub const STDIN_NAME: &str = "<stdin>";

/// The longest line of a targets file: one or more specs, a comment.
pub const LINE_CAP: usize = 64 << 10;
/// The most a targets file or standard input may hold. A million
/// addresses one per line is about 15 MiB; larger lists are CIDRs or
/// ranges, or several scans.
pub const INPUT_CAP: u64 = 16 << 20;
/// Invalid targets listed one by one; the rest are counted.
const ERRORS_SHOWN: usize = 20;

/// Read a targets or exclusions file, or standard input for `-` (so
/// naabu, `nmap -oG` or a CMDB export can feed a scan), one line at a
/// time: the specs it holds and the invalid ones, each naming its line.
/// A line longer than [`LINE_CAP`] or more than [`INPUT_CAP`] in all
/// stops the reading with an error (endless input, `</dev/zero`, ends).
pub fn read_input(path: &std::path::Path) -> Result<(Vec<Spec>, Vec<SpecError>), TargetError> {
    if path == std::path::Path::new("-") {
        return read_specs(STDIN_NAME, std::io::stdin().lock());
    }
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| TargetError::Read {
        path: name.clone(),
        source,
    })?;
    read_specs(&name, std::io::BufReader::new(file))
}

/// [`read_input`] from any reader; `name` is what messages call it.
pub fn read_specs(
    name: &str,
    mut r: impl std::io::BufRead,
) -> Result<(Vec<Spec>, Vec<SpecError>), TargetError> {
    use std::io::{BufRead, Read};
    let (mut specs, mut errors) = (Vec::new(), Vec::new());
    let mut total: u64 = 0;
    let mut line = Vec::new();
    for n in 1.. {
        line.clear();
        let got = (&mut r)
            .take(LINE_CAP as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|source| TargetError::Read {
                path: name.to_string(),
                source,
            })?;
        if got == 0 {
            break;
        }
        total += got as u64;
        if total > INPUT_CAP {
            return Err(TargetError::InputTooLarge {
                path: name.to_string(),
            });
        }
        if line.len() > LINE_CAP && line.last() != Some(&b'\n') {
            return Err(TargetError::LineTooLong {
                path: name.to_string(),
                line: n,
            });
        }
        let text = std::str::from_utf8(&line).map_err(|_| TargetError::Read {
            path: format!("{name}:{n}"),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
        })?;
        spec::parse_line(name, n, text, &mut specs, &mut errors);
    }
    Ok((specs, errors))
}

fn join_errors(errors: &[SpecError]) -> String {
    let mut lines: Vec<String> = errors
        .iter()
        .take(ERRORS_SHOWN)
        .map(|e| e.to_string())
        .collect();
    if errors.len() > ERRORS_SHOWN {
        lines.push(format!(
            "... and {} more invalid targets",
            errors.len() - ERRORS_SHOWN
        ));
    }
    lines.join("\n")
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

/// Hosts that share one port list.
#[derive(Debug, Clone)]
struct Block {
    members: Members,
    ports: Vec<u16>,
    probes: u64,
}

#[derive(Debug, Clone)]
enum Members {
    Addresses {
        ranges: Vec<(u128, u128)>,
        /// `starts[k]` = number of addresses before `ranges[k]`.
        starts: Vec<u64>,
    },
    /// Sorted, distinct names a `socks5h://` proxy resolves.
    Names(Vec<String>),
    /// URL targets under a path prefix: each one probe (port included).
    Fixed {
        endpoints: Vec<Endpoint>,
        /// The indexes of `endpoints` by [`Endpoint::place`] (several
        /// when names given in two URLs resolve to one address): how a
        /// checkpoint's entry is found again.
        places: HashMap<String, Vec<u64>>,
    },
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
        Block::with(
            Members::Addresses {
                ranges: set.ranges,
                starts,
            },
            total,
            ports,
        )
    }

    fn names(names: BTreeSet<String>, ports: Vec<u16>) -> Result<Block, TargetError> {
        let hosts = names.len() as u128;
        Block::with(Members::Names(names.into_iter().collect()), hosts, ports)
    }

    fn fixed(endpoints: BTreeSet<Endpoint>) -> Result<Block, TargetError> {
        let probes = endpoints.len() as u128;
        let endpoints: Vec<Endpoint> = endpoints.into_iter().collect();
        let mut places: HashMap<String, Vec<u64>> = HashMap::new();
        for (i, e) in endpoints.iter().enumerate() {
            places.entry(e.place()).or_default().push(i as u64);
        }
        // One "port" per endpoint: `get` reads each endpoint's own.
        Block::with(Members::Fixed { endpoints, places }, probes, vec![0])
    }

    fn with(members: Members, hosts: u128, ports: Vec<u16>) -> Result<Block, TargetError> {
        let probes = hosts.saturating_mul(ports.len() as u128);
        let probes = u64::try_from(probes).map_err(|_| TargetError::Overflow(probes))?;
        Ok(Block {
            members,
            ports,
            probes,
        })
    }

    fn get(&self, index: u64) -> Option<Endpoint> {
        if let Members::Fixed { endpoints, .. } = &self.members {
            return endpoints.get(usize::try_from(index).ok()?).cloned();
        }
        let nports = self.ports.len() as u64;
        let host_index = index / nports;
        let port = *self.ports.get((index % nports) as usize)?;
        match &self.members {
            Members::Addresses { ranges, starts } => {
                let k = starts
                    .partition_point(|&s| s <= host_index)
                    .checked_sub(1)?;
                let (lo, _) = *ranges.get(k)?;
                let offset = u128::from(host_index - starts.get(k)?);
                Some(Endpoint::new(u128_to_ip(lo + offset), port))
            }
            Members::Names(names) => {
                let name = names.get(usize::try_from(host_index).ok()?)?;
                Some(Endpoint::via_proxy(name.clone(), port))
            }
            Members::Fixed { .. } => None,
        }
    }

    /// The index of `ep` in this block, as [`Block::get`] numbers them;
    /// `hostnames` are the names [`TargetSpace::nth`] gives addresses.
    fn index_of(&self, ep: &Endpoint, hostnames: &HashMap<IpAddr, String>) -> Option<u64> {
        match (&self.members, ep.proxy_name()) {
            // Where it connects and the prefix it asks for; of two URLs
            // whose names resolve to one address, the one named so.
            (Members::Fixed { endpoints, places }, _) => {
                let found = places.get(&ep.place())?;
                let name_of = |i: u64| {
                    let e = endpoints.get(usize::try_from(i).ok()?)?;
                    e.hostname.as_ref().or_else(|| hostnames.get(&e.ip))
                };
                let named = found.iter().find(|&&i| name_of(i) == ep.hostname.as_ref());
                named.or(found.first()).copied()
            }
            // The sweep's probes ask for no prefix.
            _ if ep.base_path.is_some() => None,
            (Members::Addresses { ranges, starts }, None) => {
                let n = spec::ip_to_u128(ep.ip);
                let k = ranges.partition_point(|&(lo, _)| lo <= n).checked_sub(1)?;
                let (lo, hi) = *ranges.get(k)?;
                if n > hi {
                    return None;
                }
                self.with_port(starts.get(k)? + u64::try_from(n - lo).ok()?, ep.port)
            }
            (Members::Names(names), Some(name)) => {
                let host = names.binary_search_by(|x| x.as_str().cmp(name)).ok()?;
                self.with_port(host as u64, ep.port)
            }
            _ => None,
        }
    }

    /// The index of host `host` of this block on `port`, if it probes it.
    fn with_port(&self, host: u64, port: u16) -> Option<u64> {
        let p = self.ports.iter().position(|&p| p == port)? as u64;
        Some(host * self.ports.len() as u64 + p)
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
    resume: Option<Resume>,
}

/// Where a resumed sweep starts: the probes in flight at the checkpoint
/// first, then every probe from `next` on (positions in this shard).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resume {
    pub first: Vec<u64>,
    pub next: u64,
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
    /// Names a `socks5h://` proxy resolves, on the default port list. No
    /// exclusion applies to them (see [`TargetError::NameExcludeViaProxy`]).
    pub names: Vec<String>,
    /// Names a `socks5h://` proxy resolves, each with one explicit port.
    pub names_with_port: Vec<(String, u16)>,
    /// URL targets under a path prefix, resolved (or named for the proxy).
    /// Exclusions apply to their addresses.
    pub urls: Vec<Endpoint>,
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

        // Names the proxy resolves: the same grouping, by name instead of
        // by address. Two names may stand for one address; only the proxy
        // could tell, so each name is probed.
        let default_names: BTreeSet<String> = input.names.into_iter().collect();
        let mut named_hosts = default_names.clone();
        if !default_names.is_empty() && !ports.is_empty() {
            blocks.push(Block::names(default_names.clone(), ports.to_vec())?);
        }
        let mut names_by_port: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
        for (name, port) in input.names_with_port {
            if ports.contains(&port) && default_names.contains(&name) {
                continue;
            }
            named_hosts.insert(name.clone());
            names_by_port.entry(port).or_default().insert(name);
        }
        for (port, names) in names_by_port {
            blocks.push(Block::names(names, vec![port])?);
        }
        addresses = addresses.saturating_add(named_hosts.len() as u128);
        let urls: BTreeSet<Endpoint> = input
            .urls
            .into_iter()
            .filter(|e| {
                e.known_ip()
                    .is_none_or(|ip| !exclude.contains(spec::ip_to_u128(ip)))
            })
            .collect();
        let url_hosts: BTreeSet<_> = urls
            .iter()
            .filter(|e| {
                e.known_ip()
                    .is_none_or(|ip| !all.contains(spec::ip_to_u128(ip)))
            })
            .map(Endpoint::host_key)
            .filter(|h| !matches!(h, crate::model::HostKey::Name(n) if named_hosts.contains(n)))
            .collect();
        addresses = addresses.saturating_add(url_hosts.len() as u128);
        if !urls.is_empty() {
            blocks.push(Block::fixed(urls)?);
        }
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
            resume: None,
        })
    }

    /// Sweep order `j` probes the shard position `position(j)`: itself, or
    /// for a resumed space the checkpoint's unfinished probes, then the rest.
    pub fn position(&self, j: u64) -> u64 {
        match &self.resume {
            None => j,
            Some(r) => match r.first.get(usize::try_from(j).unwrap_or(usize::MAX)) {
                Some(&p) => p,
                None => r.next + (j - r.first.len() as u64),
            },
        }
    }

    /// The positions not yet started when sweep order `next` is the next
    /// to claim: part of a resumed space's first list, and the point from
    /// which every position is still to come.
    pub fn unstarted(&self, next: u64) -> (Vec<u64>, u64) {
        match &self.resume {
            None => (Vec::new(), next.min(self.len())),
            Some(r) => {
                let k = r.first.len() as u64;
                if next < k {
                    (r.first[next as usize..].to_vec(), r.next)
                } else {
                    (Vec::new(), (r.next + (next - k)).min(self.len()))
                }
            }
        }
    }

    /// Continue a sweep from a checkpoint.
    pub fn resume(&mut self, resume: Resume) {
        self.resume = Some(resume);
    }

    /// A digest of exactly which probes this space holds and in what order
    /// (resolved addresses, ports, seed, shard): a checkpoint only resumes
    /// the same space.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for (b, start) in self.blocks.iter().zip(&self.block_starts) {
            h.update(format!("block {start} ports {:?}\n", b.ports));
            match &b.members {
                Members::Addresses { ranges, .. } => {
                    for (lo, hi) in ranges {
                        h.update(format!("{lo}-{hi}\n"));
                    }
                }
                Members::Names(names) => {
                    for name in names {
                        // Names are validated hostnames: no newline inside.
                        h.update(format!("name {name}\n"));
                    }
                }
                Members::Fixed { endpoints, .. } => {
                    for e in endpoints {
                        // Base paths come from parsed URLs: no newline inside.
                        h.update(format!("url {}\n", e.place()));
                    }
                }
            }
        }
        h.update(format!(
            "total {} perm {:?} shard {}\n",
            self.total, self.perm, self.shard
        ));
        hex::encode(h.finalize())
    }

    /// Probes in the whole space (all shards).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Distinct hosts in the whole space: addresses, and names a
    /// `socks5h://` proxy resolves.
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

    /// The `j`-th probe of this shard in sweep order, or `None` past the end.
    pub fn nth(&self, j: u64) -> Option<Endpoint> {
        let j = self.position(j);
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
        let mut endpoint = block.get(index - self.block_starts.get(b)?)?;
        if endpoint.resolved_by.is_none() && endpoint.hostname.is_none() {
            endpoint.hostname = self.hostnames.get(&endpoint.ip).cloned();
        }
        Some(endpoint)
    }

    /// The shard position whose probe is `ep` (its address or proxy name,
    /// port and path prefix: none for the sweep's probes), as
    /// [`TargetSpace::nth`] numbers them before a resume;
    /// `None` when this shard of the space never probes it (outside the
    /// targets, excluded, another port or another shard).
    pub fn position_of(&self, ep: &Endpoint) -> Option<u64> {
        // URL targets (the last block) first: an entry under a prefix is
        // a URL target's probe, not the sweep's of the same port.
        let index = self
            .blocks
            .iter()
            .zip(&self.block_starts)
            .rev()
            .find_map(|(b, start)| Some(start + b.index_of(ep, &self.hostnames)?))?;
        let i = self.perm.invert(index);
        let Shard { index: k, count } = self.shard;
        (i % count == k).then_some(i / count)
    }

    /// Iterate this shard's probes lazily.
    pub fn iter(&self) -> impl Iterator<Item = Endpoint> + '_ {
        (0..self.len()).map_while(|j| self.nth(j))
    }

    /// Whether the sweep of the whole space (every shard) probes `ip` on
    /// some port, or on `port` when given. Exclusions are already gone.
    pub fn covers(&self, ip: IpAddr, port: Option<u16>) -> bool {
        let n = spec::ip_to_u128(ip);
        self.blocks.iter().any(|b| match &b.members {
            Members::Addresses { ranges, .. } => {
                let i = ranges.partition_point(|&(_, hi)| hi < n);
                ranges.get(i).is_some_and(|&(lo, _)| lo <= n)
                    && port.is_none_or(|p| b.ports.contains(&p))
            }
            Members::Fixed { endpoints, .. } => endpoints
                .iter()
                .any(|e| e.known_ip() == Some(ip) && port.is_none_or(|p| e.port == p)),
            Members::Names(_) => false,
        })
    }

    /// [`covers`](Self::covers) for a name a `socks5h://` proxy resolves.
    pub fn covers_name(&self, name: &str, port: Option<u16>) -> bool {
        self.blocks.iter().any(|b| match &b.members {
            Members::Names(names) => {
                names.binary_search_by(|n| n.as_str().cmp(name)).is_ok()
                    && port.is_none_or(|p| b.ports.contains(&p))
            }
            Members::Fixed { endpoints, .. } => endpoints
                .iter()
                .any(|e| e.proxy_name() == Some(name) && port.is_none_or(|p| e.port == p)),
            Members::Addresses { .. } => false,
        })
    }

    /// The addresses a target name was resolved to (`jm.internal` given
    /// as a target).
    pub fn addresses_of(&self, name: &str) -> Vec<IpAddr> {
        let mut ips: Vec<IpAddr> = self
            .hostnames
            .iter()
            .filter(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(ip, _)| *ip)
            .collect();
        ips.sort();
        ips
    }

    pub fn hostname(&self, ip: &IpAddr) -> Option<&str> {
        self.hostnames.get(ip).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spec::ip_to_u128;
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
            ..Default::default()
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
    fn position_of_finds_every_probe_of_the_shard_and_nothing_else() {
        let input = SpaceInput {
            ranges: vec![r("10.0.0.0", "10.0.0.9"), r("10.0.1.0", "10.0.1.3")],
            with_port: vec![(
                ip_to_u128("10.0.2.1".parse().unwrap()),
                ip_to_u128("10.0.2.1".parse().unwrap()),
                99,
            )],
            exclude: vec![r("10.0.0.4", "10.0.0.4")],
            ..Default::default()
        };
        for shard in [Shard::ALL, Shard { index: 1, count: 3 }] {
            let space = TargetSpace::build(input.clone(), &[1, 2], 5, shard, false).unwrap();
            for j in 0..space.len() {
                let ep = space.nth(j).unwrap();
                assert_eq!(space.position_of(&ep), Some(j), "{ep}");
            }
            let found = (0..=255u8)
                .flat_map(|h| [0u8, 1, 2].map(|c| std::net::Ipv4Addr::new(10, 0, c, h)))
                .flat_map(|ip| [1u16, 2, 3, 99].map(|p| Endpoint::new(ip.into(), p)))
                .filter(|ep| space.position_of(ep).is_some())
                .count() as u64;
            assert_eq!(found, space.len(), "{shard}");
            let excluded = Endpoint::new("10.0.0.4".parse().unwrap(), 1);
            assert_eq!(space.position_of(&excluded), None);
        }
    }

    #[test]
    fn position_of_finds_url_targets_by_place_and_name() {
        let ip: IpAddr = "10.0.3.1".parse().unwrap();
        let url = |port: u16, base: &str, name: Option<&str>| {
            let mut e = Endpoint::new(ip, port).under(Some(base.into()));
            e.hostname = name.map(str::to_string);
            e
        };
        let input = SpaceInput {
            // The same address swept on the URL's port too.
            ranges: vec![r("10.0.3.0", "10.0.3.3")],
            urls: vec![
                url(8080, "/flink", Some("a.test")),
                url(8080, "/flink", Some("b.test")),
                url(8080, "/a/b", None),
                Endpoint::via_proxy("gw.test".into(), 443).under(Some("/flink".into())),
            ],
            ..Default::default()
        };
        for shard in [Shard::ALL, Shard { index: 1, count: 2 }] {
            let space = TargetSpace::build(input.clone(), &[8080], 5, shard, false).unwrap();
            for j in 0..space.len() {
                let ep = space.nth(j).unwrap();
                assert_eq!(space.position_of(&ep), Some(j), "{shard} {}", ep.place());
            }
        }
        let space = TargetSpace::build(input, &[8080], 5, Shard::ALL, false).unwrap();
        let found = |ep: &Endpoint| space.position_of(ep).map(|j| space.nth(j).unwrap());
        // Another prefix or port of a URL target's host is no probe of it,
        // nor is a swept port under a prefix.
        for other in [
            url(8080, "/other", None),
            Endpoint::new("10.0.3.2".parse().unwrap(), 8080).under(Some("/flink".into())),
            url(8081, "/flink", Some("a.test")),
            Endpoint::via_proxy("gw.test".into(), 443),
            Endpoint::via_proxy("other.test".into(), 443).under(Some("/flink".into())),
        ] {
            assert_eq!(space.position_of(&other), None, "{}", other.place());
        }
        // The sweep's probe of the same port, without the prefix, is its own.
        let swept = Endpoint::new(ip, 8080);
        assert_eq!(found(&swept), Some(swept));
        assert_eq!(
            found(&url(8080, "/a/b", None)),
            Some(url(8080, "/a/b", None))
        );
    }

    #[test]
    fn a_resumed_space_probes_the_unfinished_first_then_the_rest() {
        let input = SpaceInput {
            ranges: vec![r("127.0.0.0", "127.0.0.99")],
            ..Default::default()
        };
        let whole = TargetSpace::build(input, &[1], 3, Shard::ALL, false).unwrap();
        let mut resumed = whole.clone();
        resumed.resume(Resume {
            first: vec![40, 7],
            next: 90,
        });
        let got: Vec<_> = resumed.iter().take(13).collect();
        let want: Vec<_> = [40, 7, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99]
            .iter()
            .map(|&p| whole.nth(p).unwrap())
            .collect();
        assert_eq!(got, want);
        // Claimed up to order 1: position 7 and everything from 90 remain.
        assert_eq!(resumed.unstarted(1), (vec![7], 90));
        assert_eq!(resumed.unstarted(5), (vec![], 93));
        assert_eq!(whole.unstarted(5), (vec![], 5));
        assert_ne!(whole.fingerprint(), {
            let other = SpaceInput {
                ranges: vec![r("127.0.0.0", "127.0.0.98")],
                ..Default::default()
            };
            TargetSpace::build(other, &[1], 3, Shard::ALL, false)
                .unwrap()
                .fingerprint()
        });
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
