//! DNS: names to all of their A and AAAA records, with hickory-resolver.
//!
//! Kept behind this one module because hickory's API changes between minor
//! versions. No PTR lookups: a sweep must not send one query per host.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::TokioResolver;

/// A name that could not be resolved; the scan goes on without it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot resolve {name}: {reason}")]
pub struct ResolveError {
    pub name: String,
    pub reason: String,
}

/// Resolve every name concurrently. Names that fail are returned as errors,
/// not fatal: the user sees them as notices in every report.
pub async fn resolve_all(
    names: &[String],
    timeout: Duration,
) -> (HashMap<String, Vec<IpAddr>>, Vec<ResolveError>) {
    let mut found = HashMap::new();
    let mut errors = Vec::new();
    if names.is_empty() {
        return (found, errors);
    }
    let resolver = match build(timeout) {
        Ok(r) => r,
        Err(e) => {
            let reason = e.to_string();
            errors.extend(names.iter().map(|n| ResolveError {
                name: n.clone(),
                reason: reason.clone(),
            }));
            return (found, errors);
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    for name in names {
        let resolver = resolver.clone();
        let name = name.clone();
        tasks.spawn(async move {
            // A trailing dot stops search-domain expansion surprises.
            let fqdn = format!("{name}.");
            let result = resolver.lookup_ip(fqdn.as_str()).await;
            (name, result.map(|l| l.iter().collect::<Vec<_>>()))
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let Ok((name, result)) = joined else { continue };
        match result.map(scannable) {
            Ok(Ok(mut ips)) if !ips.is_empty() => {
                ips.sort();
                ips.dedup();
                found.insert(name, ips);
            }
            Ok(Err(e)) => errors.push(ResolveError {
                name,
                reason: e.to_string(),
            }),
            Ok(_) => errors.push(ResolveError {
                name,
                reason: NO_ADDRESSES.into(),
            }),
            Err(e) => errors.push(ResolveError {
                name,
                reason: plain_reason(&e, timeout),
            }),
        }
    }
    errors.sort_by(|a, b| a.name.cmp(&b.name));
    (found, errors)
}

/// A name whose every address is IPv6 link-local.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "resolves only to IPv6 link-local addresses (fe80::/10), which need an \
     interface flinkscan does not support"
)]
struct OnlyLinkLocal;

/// Drop IPv6 link-local addresses: without an interface they cannot be
/// reached, and a name that has only those must say so rather than be
/// probed into silence.
fn scannable(mut ips: Vec<IpAddr>) -> Result<Vec<IpAddr>, OnlyLinkLocal> {
    let had = ips.len();
    ips.retain(|ip| match ip {
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
        IpAddr::V4(_) => true,
    });
    if had > 0 && ips.is_empty() {
        return Err(OnlyLinkLocal);
    }
    Ok(ips)
}

const NO_ADDRESSES: &str = "the name exists but has no IPv4 or IPv6 address (no A or AAAA record)";

/// Why a lookup failed, in words a user can act on. hickory's own messages
/// print its query structs with `{:?}`.
fn plain_reason(e: &NetError, timeout: Duration) -> String {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr))
            if nr.response_code == ResponseCode::NXDomain =>
        {
            "no such host (DNS says the name does not exist)".into()
        }
        NetError::Dns(DnsError::NoRecordsFound(_)) => NO_ADDRESSES.into(),
        NetError::Dns(DnsError::ResponseCode(code)) => {
            format!("the DNS server could not answer ({code})")
        }
        NetError::Timeout => format!(
            "no answer from the DNS server within {}",
            humantime::format_duration(timeout)
        ),
        NetError::NoConnections => "no DNS server could be reached (check /etc/resolv.conf)".into(),
        NetError::Io(io) => format!("network error talking to the DNS server: {io}"),
        other => format!(
            "DNS lookup failed: {}",
            crate::untrusted::clean(&other.to_string(), 200)
        ),
    }
}

fn build(timeout: Duration) -> Result<TokioResolver, NetError> {
    let mut builder = TokioResolver::builder_tokio()?;
    builder.options_mut().timeout = timeout;
    builder.options_mut().attempts = 2;
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::net::NoRecords;
    use hickory_resolver::proto::op::Query;
    use hickory_resolver::proto::rr::{Name, RecordType};

    fn no_records(code: ResponseCode) -> NetError {
        let name = Name::from_ascii("no-such-host.invalid.").unwrap();
        NoRecords::new(Query::query(name, RecordType::AAAA), code).into()
    }

    #[test]
    fn reasons_are_plain_language_not_debug_text() {
        let t = Duration::from_secs(5);
        let nx = plain_reason(&no_records(ResponseCode::NXDomain), t);
        assert_eq!(nx, "no such host (DNS says the name does not exist)");
        let empty = plain_reason(&no_records(ResponseCode::NoError), t);
        assert!(empty.contains("no A or AAAA"), "{empty}");
        assert!(plain_reason(&NetError::Timeout, t).contains("5s"));
        for r in [nx, empty] {
            assert!(!r.contains("Query {") && !r.contains("Name("), "{r}");
        }
    }

    #[test]
    fn link_local_answers_are_dropped_and_named_when_alone() {
        let ll: IpAddr = "fe80::1".parse().unwrap();
        let global: IpAddr = "2001:db8::1".parse().unwrap();
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(scannable(vec![ll, global, v4]), Ok(vec![global, v4]));
        assert!(scannable(vec![ll])
            .unwrap_err()
            .to_string()
            .contains("link-local"));
        assert_eq!(scannable(vec![]), Ok(vec![]));
    }

    #[tokio::test]
    async fn a_name_that_cannot_exist_is_reported_by_name() {
        // `.invalid` is answered NXDOMAIN inside hickory (RFC 6761): no packet.
        let (found, errors) = resolve_all(
            &["no-such-host.invalid".to_string()],
            Duration::from_secs(2),
        )
        .await;
        assert!(found.is_empty());
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            "cannot resolve no-such-host.invalid: no such host (DNS says the name does not exist)"
        );
    }
}
