//! DNS: names to all of their A and AAAA records, with hickory-resolver.
//!
//! Kept behind this one module because hickory's API changes between minor
//! versions. No PTR lookups: a sweep must not send one query per host.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

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
        Err(reason) => {
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
        match result {
            Ok(mut ips) if !ips.is_empty() => {
                ips.sort();
                ips.dedup();
                found.insert(name, ips);
            }
            Ok(_) => errors.push(ResolveError {
                name,
                reason: "no A or AAAA records".into(),
            }),
            Err(e) => errors.push(ResolveError {
                name,
                reason: e.to_string(),
            }),
        }
    }
    errors.sort_by(|a, b| a.name.cmp(&b.name));
    (found, errors)
}

fn build(timeout: Duration) -> Result<TokioResolver, String> {
    let mut builder = TokioResolver::builder_tokio().map_err(|e| e.to_string())?;
    builder.options_mut().timeout = timeout;
    builder.options_mut().attempts = 2;
    builder.build().map_err(|e| e.to_string())
}
