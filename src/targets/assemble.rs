//! From parsed specs and resolved names to what a [`TargetSpace`] is built
//! from, plus the notices every report shows. Pure: the scan resolves names
//! first ([`names_to_resolve`], then `resolve::resolve_all`), and the fuzz
//! harness calls the same code with made-up answers.
//!
//! With a `socks5h://` proxy no name is resolved here: target names become
//! named endpoints that travel to the proxy in each CONNECT, and a name
//! among the exclusions is refused (it cannot be compared with addresses).
//!
//! [`TargetSpace`]: super::TargetSpace

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use super::resolve::ResolveError;
use super::spec::{ip_to_u128, u128_to_ip, Hosts, Spec};
use super::{SpaceInput, TargetError};
use crate::model::{Endpoint, Notice};

/// Who resolves target names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// flinkscan, before the sweep (no proxy, or `socks5://`).
    Local,
    /// The `socks5h://` proxy, in each CONNECT.
    Proxy,
}

impl Names {
    /// Who resolves names for a scan through `proxy` (or none).
    pub fn of(proxy: Option<&crate::net::Proxy>) -> Names {
        match proxy {
            Some(p) if p.remote_dns => Names::Proxy,
            _ => Names::Local,
        }
    }
}

/// With [`Names::Proxy`] an exclusion must be an address, CIDR or range:
/// a name cannot be compared with addresses flinkscan never learns. Checked
/// when the command line is read, before the proxy is contacted.
pub fn check_excludes(excludes: &[Spec], names: Names) -> Result<(), TargetError> {
    if names == Names::Local {
        return Ok(());
    }
    match excludes.iter().find_map(|s| match &s.hosts {
        Hosts::Name(name) => Some((name, s)),
        Hosts::Range { .. } => None,
    }) {
        Some((name, spec)) => Err(TargetError::NameExcludeViaProxy {
            name: name.clone(),
            origin: spec.origin.clone(),
        }),
        None => Ok(()),
    }
}

/// Why no space can be assembled.
#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    #[error(transparent)]
    Targets(#[from] TargetError),
    /// Every target was a name and none resolved: scanning nothing would
    /// look like a clean result.
    #[error(
        "no target could be resolved, nothing was scanned: {}",
        .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")
    )]
    NothingResolved(Vec<ResolveError>),
}

/// The distinct names to resolve locally before [`assemble`]: those of the
/// targets and exclusions, or none when the proxy resolves names.
pub fn names_to_resolve(targets: &[Spec], excludes: &[Spec], names: Names) -> Vec<String> {
    if names == Names::Proxy {
        return Vec::new();
    }
    targets
        .iter()
        .chain(excludes)
        .filter_map(|s| match &s.hosts {
            Hosts::Name(n) => Some(n.clone()),
            Hosts::Range { .. } => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The address ranges of one spec, its names looked up in `resolved`.
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

/// Build the space's input from the specs and the local resolver's answers
/// (`resolved`, `errors`; both empty with [`Names::Proxy`]). Names that did
/// not resolve become notices and are skipped, unless nothing at all is
/// left to scan.
pub fn assemble(
    targets: &[Spec],
    excludes: &[Spec],
    resolved: &HashMap<String, Vec<IpAddr>>,
    errors: &[ResolveError],
    names: Names,
) -> Result<(SpaceInput, Vec<Notice>), AssembleError> {
    check_excludes(excludes, names)?;
    let mut input = SpaceInput::default();
    for spec in excludes {
        input.exclude.extend(spec_ranges(spec, resolved));
    }
    let mut any = false;
    for spec in targets {
        if let (Some(base), Some(port)) = (spec.base_path(), spec.port) {
            let endpoints = url_endpoints(spec, base, port, resolved, names);
            any |= !endpoints.is_empty();
            input.urls.extend(endpoints);
            continue;
        }
        if let (Hosts::Name(name), Names::Proxy) = (&spec.hosts, names) {
            any = true;
            match spec.port {
                Some(p) => input.names_with_port.push((name.clone(), p)),
                None => input.names.push(name.clone()),
            }
            continue;
        }
        let ranges = spec_ranges(spec, resolved);
        any |= !ranges.is_empty();
        if let Hosts::Name(name) = &spec.hosts {
            for &(lo, _) in &ranges {
                input
                    .hostnames
                    .entry(u128_to_ip(lo))
                    .or_insert_with(|| name.clone());
            }
        }
        match spec.port {
            Some(p) => input
                .with_port
                .extend(ranges.into_iter().map(|(lo, hi)| (lo, hi, p))),
            None => input.ranges.extend(ranges),
        }
    }
    if !any && !targets.is_empty() {
        return Err(AssembleError::NothingResolved(errors.to_vec()));
    }
    let notices = errors
        .iter()
        .map(|e| Notice {
            target: e.name.clone(),
            message: format!("not scanned: {}", e.reason),
        })
        .collect();
    Ok((input, notices))
}

/// The endpoints of a URL target under a path prefix: its address, each
/// address its name resolved to (keeping the name for SNI and `Host`), or
/// the name itself for the proxy.
fn url_endpoints(
    spec: &Spec,
    base: &str,
    port: u16,
    resolved: &HashMap<String, Vec<IpAddr>>,
    names: Names,
) -> Vec<Endpoint> {
    let base = Some(base.to_string());
    match (&spec.hosts, names) {
        (Hosts::Name(name), Names::Proxy) => {
            vec![Endpoint::via_proxy(name.clone(), port).under(base)]
        }
        (hosts, _) => spec_ranges(spec, resolved)
            .into_iter()
            .map(|(lo, _)| {
                let mut e = Endpoint::new(u128_to_ip(lo), port).under(base.clone());
                if let Hosts::Name(name) = hosts {
                    e.hostname = Some(name.clone());
                }
                e
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ResolvedBy;
    use crate::targets::spec::{parse_spec, Origin};
    use crate::targets::{Shard, TargetSpace};
    use std::collections::HashSet;

    fn specs(tokens: &[&str]) -> Vec<Spec> {
        tokens
            .iter()
            .enumerate()
            .map(|(i, t)| parse_spec(t, Origin::Arg(i + 1)).unwrap())
            .collect()
    }

    fn build(input: SpaceInput, shard: Shard) -> TargetSpace {
        TargetSpace::build(input, &[8081, 6123], 9, shard, false).unwrap()
    }

    #[test]
    fn with_a_proxy_resolver_names_are_neither_resolved_nor_turned_into_addresses() {
        let t = specs(&["flink-jm.internal.test", "127.0.0.0/30", "b.test:9999"]);
        assert!(names_to_resolve(&t, &[], Names::Proxy).is_empty());
        assert_eq!(
            names_to_resolve(&t, &[], Names::Local),
            ["b.test", "flink-jm.internal.test"]
        );
        let (input, notices) = assemble(&t, &[], &HashMap::new(), &[], Names::Proxy).unwrap();
        assert!(notices.is_empty());
        assert_eq!(input.names, ["flink-jm.internal.test"]);
        assert_eq!(input.names_with_port, [("b.test".to_string(), 9999)]);
        let space = build(input, Shard::ALL);
        // 4 addresses x 2 ports, 1 name x 2 ports, 1 name x 1 port.
        assert_eq!(space.total(), 8 + 2 + 1);
        assert_eq!(space.addresses(), 4 + 2);
        let named: Vec<Endpoint> = space
            .iter()
            .filter(|e| e.resolved_by == Some(ResolvedBy::Proxy))
            .collect();
        let mut shown: Vec<String> = named.iter().map(|e| e.authority()).collect();
        shown.sort();
        assert_eq!(
            shown,
            [
                "b.test:9999",
                "flink-jm.internal.test:6123",
                "flink-jm.internal.test:8081"
            ]
        );
        // The placeholder address never reaches a report.
        let json = serde_json::to_value(&named[0]).unwrap();
        assert!(json.get("ip").is_none(), "{json}");
        assert_eq!(json["resolved_by"], "proxy");
        let back: Endpoint = serde_json::from_value(json).unwrap();
        assert_eq!(back, named[0]);
    }

    #[test]
    fn locally_resolved_names_become_addresses_and_failures_notices() {
        let t = specs(&["jm.test", "gone.test", "127.0.0.9:1234"]);
        let x = specs(&["ex.test"]);
        let resolved = HashMap::from([
            ("jm.test".to_string(), vec!["127.0.0.5".parse().unwrap()]),
            ("ex.test".to_string(), vec!["127.0.0.5".parse().unwrap()]),
        ]);
        let errors = [ResolveError {
            name: "gone.test".into(),
            reason: "no such host".into(),
        }];
        let (input, notices) = assemble(&t, &x, &resolved, &errors, Names::Local).unwrap();
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].target, "gone.test");
        assert!(input.names.is_empty());
        assert_eq!(
            input
                .hostnames
                .get(&"127.0.0.5".parse().unwrap())
                .map(String::as_str),
            Some("jm.test")
        );
        // The exclusion (resolved to the same address) removes jm.test.
        let space = build(input, Shard::ALL);
        assert_eq!(space.total(), 1);
        assert_eq!(space.nth(0).unwrap().authority(), "127.0.0.9:1234");
    }

    #[test]
    fn nothing_resolved_is_an_error_naming_the_names() {
        let t = specs(&["gone.test"]);
        let errors = [ResolveError {
            name: "gone.test".into(),
            reason: "no such host".into(),
        }];
        let e = assemble(&t, &[], &HashMap::new(), &errors, Names::Local).unwrap_err();
        assert!(matches!(e, AssembleError::NothingResolved(_)));
        assert!(e.to_string().contains("cannot resolve gone.test"), "{e}");
    }

    #[test]
    fn a_name_exclude_is_refused_when_the_proxy_resolves_names() {
        let t = specs(&["127.0.0.0/30"]);
        let x = specs(&["127.0.0.1", "jm.test"]);
        let e = assemble(&t, &x, &HashMap::new(), &[], Names::Proxy).unwrap_err();
        assert!(matches!(
            e,
            AssembleError::Targets(TargetError::NameExcludeViaProxy { .. })
        ));
        let m = e.to_string();
        assert!(
            m.starts_with("argument 2:") && m.contains("`jm.test`"),
            "{m}"
        );
        // Address excludes still apply through the proxy.
        let (input, _) = assemble(&t, &x[..1], &HashMap::new(), &[], Names::Proxy).unwrap();
        assert_eq!(build(input, Shard::ALL).total(), 3 * 2);
    }

    /// Named endpoints are permuted and sharded with the addresses: every
    /// probe exactly once over the shards, for every shard count.
    #[test]
    fn named_endpoints_are_covered_once_across_shards() {
        let t = specs(&[
            "127.0.0.0/29",
            "a.test",
            "b.test",
            "a.test:8081",
            "c.test:7000",
            "127.0.0.1:7000",
        ]);
        let (input, _) = assemble(&t, &[], &HashMap::new(), &[], Names::Proxy).unwrap();
        let whole = build(input.clone(), Shard::ALL);
        // 8x2 addresses, 2 names x 2 ports (a.test:8081 is among them),
        // c.test:7000, 127.0.0.1:7000.
        assert_eq!(whole.total(), 16 + 4 + 1 + 1);
        let all: HashSet<Endpoint> = whole.iter().collect();
        assert_eq!(all.len() as u64, whole.total());
        for n in 1..=7u64 {
            let mut seen = HashSet::new();
            let mut count = 0;
            for k in 0..n {
                for e in build(input.clone(), Shard { index: k, count: n }).iter() {
                    count += 1;
                    seen.insert(e);
                }
            }
            assert_eq!(count, all.len(), "shards overlap for n={n}");
            assert_eq!(seen, all, "n={n}");
        }
    }

    /// A URL target under a prefix is one probe of its own, beside the
    /// same host's swept ports; exclusions remove it; the proxy gets the name.
    #[test]
    fn url_targets_are_probes_under_their_prefix() {
        let t = specs(&[
            "127.0.0.1",
            "http://127.0.0.1:8080/flink/",
            "https://jm.test/ui/",
        ]);
        let resolved = HashMap::from([("jm.test".to_string(), vec!["127.0.0.5".parse().unwrap()])]);
        let (input, _) = assemble(&t, &[], &resolved, &[], Names::Local).unwrap();
        let space = build(input, Shard::ALL);
        let mut places: Vec<String> = space.iter().map(|e| e.place()).collect();
        places.sort();
        assert_eq!(
            places,
            [
                "127.0.0.1:6123",
                "127.0.0.1:8080/flink",
                "127.0.0.1:8081",
                "127.0.0.5:443/ui"
            ]
        );
        let named = space.iter().find(|e| e.port == 443).unwrap();
        assert_eq!(named.hostname.as_deref(), Some("jm.test"));
        assert_eq!(space.addresses(), 2);
        let x = specs(&["127.0.0.5"]);
        let (input, _) = assemble(&t, &x, &resolved, &[], Names::Local).unwrap();
        assert_eq!(build(input, Shard::ALL).total(), 3);
        let (input, _) = assemble(&t, &[], &HashMap::new(), &[], Names::Proxy).unwrap();
        let space = build(input, Shard::ALL);
        let proxied = space.iter().find(|e| e.port == 443).unwrap();
        assert_eq!(proxied.proxy_name(), Some("jm.test"));
        assert_eq!(proxied.base_path.as_deref(), Some("/ui"));
        assert_ne!(
            space.fingerprint(),
            build(
                assemble(
                    &specs(&["127.0.0.1"]),
                    &[],
                    &HashMap::new(),
                    &[],
                    Names::Proxy
                )
                .unwrap()
                .0,
                Shard::ALL
            )
            .fingerprint()
        );
    }

    /// The checkpoint digest changes with the named set, so `--resume`
    /// refuses a command line that names other hosts.
    #[test]
    fn the_space_digest_covers_names() {
        let digest = |tokens: &[&str]| {
            let (input, _) =
                assemble(&specs(tokens), &[], &HashMap::new(), &[], Names::Proxy).unwrap();
            build(input, Shard::ALL).fingerprint()
        };
        let base = digest(&["127.0.0.1", "a.test"]);
        assert_eq!(base, digest(&["a.test", "127.0.0.1"]));
        assert_ne!(base, digest(&["127.0.0.1", "b.test"]));
        assert_ne!(base, digest(&["127.0.0.1", "a.test", "b.test"]));
        assert_ne!(base, digest(&["127.0.0.1", "a.test:8081"]));
        assert_ne!(base, digest(&["127.0.0.1"]));
    }
}
