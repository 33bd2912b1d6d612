//! Port lists: `8081,6123`, ranges `50100-50200`, named sets (`kubernetes`),
//! and `+LIST` to extend the defaults.

/// Flink's well-known ports: REST 8081, HistoryServer 8082, SQL Gateway 8083,
/// RPC 6123, BLOB 6124 (Docker convention), Prometheus 9249, JMX 8789, and
/// the YARN ResourceManager's web services 8088 (where Flink on YARN runs).
pub const DEFAULT_PORTS: &[u16] = &[8081, 8082, 8083, 6123, 6124, 9249, 8789, 8088];

/// Named port sets, usable as a token of any list (`--ports +kubernetes`).
pub const NAMED: &[(&str, &str)] = &[(
    "kubernetes",
    // The Flink Kubernetes Operator's webhook 9443, health probe 8085 and
    // metrics 9999 (its Helm chart and documentation), and the NodePort
    // range that `kubernetes.rest-service.exposed.type: NodePort` publishes
    // REST on (Kubernetes' default --service-node-port-range).
    "9443,8085,9999,30000-32767",
)];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid --ports `{}`: `{}` {reason}",
    crate::untrusted::shown(.list),
    crate::untrusted::shown(.token)
)]
pub struct PortsError {
    pub list: String,
    pub token: String,
    pub reason: String,
}

/// Parse a port list. A leading `+` adds to the defaults instead of replacing them.
pub fn parse_ports(list: &str) -> Result<Vec<u16>, PortsError> {
    let (mut ports, body) = match list.trim().strip_prefix('+') {
        Some(rest) => (DEFAULT_PORTS.to_vec(), rest),
        None => (Vec::new(), list.trim()),
    };
    let err = |token: &str, reason: &str| PortsError {
        list: list.to_string(),
        token: token.to_string(),
        reason: reason.to_string(),
    };
    let expanded: Vec<&str> = body
        .split(',')
        .map(str::trim)
        .flat_map(
            |token| match NAMED.iter().find(|(n, _)| token.eq_ignore_ascii_case(n)) {
                Some((_, set)) => set.split(',').collect::<Vec<_>>(),
                None => vec![token],
            },
        )
        .collect();
    for token in expanded {
        if token.is_empty() {
            return Err(err(token, "is empty (stray comma?)"));
        }
        let (a, b) = token.split_once('-').unwrap_or((token, token));
        let lo = parse_one(a).ok_or_else(|| {
            err(
                token,
                "is not a port (1-65535), a range (50100-50200) or a named set (kubernetes)",
            )
        })?;
        let hi = parse_one(b).ok_or_else(|| err(token, "is not a port (1-65535)"))?;
        if lo > hi {
            return Err(err(token, "ends before it starts"));
        }
        ports.extend(lo..=hi);
    }
    // Keep first-seen order (well-known ports first), drop repeats.
    let mut seen = [false; 65_536];
    ports.retain(|&p| !std::mem::replace(&mut seen[usize::from(p)], true));
    Ok(ports)
}

fn parse_one(s: &str) -> Option<u16> {
    s.trim().parse::<u16>().ok().filter(|&p| p != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(parse_ports("8081").unwrap(), vec![8081]);
        assert_eq!(parse_ports("1-3,2,5").unwrap(), vec![1, 2, 3, 5]);
        let ext = parse_ports("+50100-50102").unwrap();
        assert_eq!(ext.len(), DEFAULT_PORTS.len() + 3);
        assert_eq!(&ext[..DEFAULT_PORTS.len()], DEFAULT_PORTS);
        assert_eq!(parse_ports("+8081").unwrap(), DEFAULT_PORTS.to_vec());
        let k8s = parse_ports("kubernetes").unwrap();
        assert_eq!(&k8s[..3], &[9443, 8085, 9999]);
        assert_eq!(k8s.len(), 3 + 2768);
        assert!(k8s.contains(&30000) && k8s.contains(&32767) && !k8s.contains(&32768));
        let ext = parse_ports("+Kubernetes,50100").unwrap();
        assert_eq!(&ext[..DEFAULT_PORTS.len()], DEFAULT_PORTS);
        assert!(ext.contains(&9443) && ext.contains(&31000) && ext.contains(&50100));
        assert!(DEFAULT_PORTS.contains(&8088));
        let e = parse_ports("kubernets").unwrap_err().to_string();
        assert!(e.contains("named set (kubernetes)"), "{e}");
        for bad in ["", "0", "70000", "5-1", "a", "1,,2"] {
            let e = parse_ports(bad).unwrap_err();
            assert!(e.to_string().contains("invalid --ports"));
        }
    }
}
