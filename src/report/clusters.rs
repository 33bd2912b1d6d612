//! The report's clusters, kept small in memory.
//!
//! A scan of many thousand Flink services makes as many clusters, each
//! with its attack paths and posture: several KiB apiece, the largest part
//! of a scan's memory once its services are spilled ([`super::services`]).
//! A scan writes each cluster to an unlinked temporary file as soon as it
//! is judged and keeps only what orders it; the reports read them back one
//! at a time. Reports read from a file hold their clusters in memory.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::clusters::{Cluster, Rank};

/// Every cluster of a report, worst first ([`crate::clusters::Rank`]).
#[derive(Debug, Clone, Default)]
pub struct Clusters {
    held: Vec<Cluster>,
    spilled: Option<Arc<Spilled>>,
    /// `--min-severity`: the finding ids a cluster read back may name
    /// (held clusters are trimmed in place).
    kept: Option<Arc<BTreeSet<String>>>,
}

#[derive(Debug)]
struct Spilled {
    file: File,
    /// In report order.
    keys: Vec<Key>,
}

#[derive(Debug)]
struct Key {
    rank: Rank,
    /// Kept for the views that name a finding's cluster.
    name: Box<str>,
    at: u64,
    len: u32,
}

/// Clusters a report holds before it spills them.
const HELD_AT_MOST: usize = 256;

/// Collects the clusters of a report as they are judged.
#[derive(Debug, Default)]
pub struct ClusterSpiller {
    held: Vec<Cluster>,
    file: Option<File>,
    keys: Vec<Key>,
    end: u64,
    buf: Vec<u8>,
    /// Off for a report built in memory; off for good once a write failed.
    spilling: bool,
    /// Why spilling stopped: the rest is held in memory, never lost.
    pub failure: Option<String>,
}

impl ClusterSpiller {
    /// Hold the first [`HELD_AT_MOST`] clusters, then spill every one to an
    /// unlinked file in `TMPDIR`: a small report never touches the disk.
    pub fn new() -> ClusterSpiller {
        ClusterSpiller {
            spilling: true,
            ..ClusterSpiller::default()
        }
    }

    pub fn push(&mut self, cluster: Cluster) {
        self.held.push(cluster);
        let started = self.file.is_some();
        if self.spilling && (started || self.held.len() > HELD_AT_MOST) {
            let held = std::mem::take(&mut self.held);
            let mut rest = held.into_iter();
            for c in rest.by_ref() {
                if let Err(e) = self.spill(&c) {
                    self.failure = Some(format!(
                        "cannot write clusters to a temporary file in TMPDIR, keeping the rest in \
                         memory: {e}"
                    ));
                    self.spilling = false;
                    self.held.push(c);
                    break;
                }
            }
            self.held.extend(rest);
        }
    }

    fn spill(&mut self, cluster: &Cluster) -> io::Result<()> {
        let (at, len) =
            crate::spill::append(&mut self.file, &mut self.end, cluster, &mut self.buf)?;
        self.keys.push(Key {
            rank: Rank::of(cluster),
            name: cluster.name.as_str().into(),
            at,
            len,
        });
        Ok(())
    }

    /// The clusters in report order. Held ones (a failed file) are merged
    /// in by rank.
    pub fn finish(self) -> Clusters {
        let mut held = self.held;
        held.sort_by_cached_key(Rank::of);
        let spilled = match self.file {
            Some(file) if !self.keys.is_empty() => {
                let mut keys = self.keys;
                keys.sort_by(|a, b| a.rank.cmp(&b.rank));
                Some(Arc::new(Spilled { file, keys }))
            }
            _ => None,
        };
        Clusters {
            held,
            spilled,
            kept: None,
        }
    }
}

impl From<Vec<Cluster>> for Clusters {
    fn from(mut held: Vec<Cluster>) -> Self {
        held.sort_by_cached_key(Rank::of);
        Clusters {
            held,
            spilled: None,
            kept: None,
        }
    }
}

impl Clusters {
    pub fn len(&self) -> usize {
        self.held.len() + self.spilled.as_ref().map_or(0, |s| s.keys.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each cluster's name by its id, without reading any back.
    pub fn names(&self) -> std::collections::HashMap<&str, &str> {
        let spilled = self.spilled.as_deref().map_or(&[][..], |s| &s.keys);
        self.held
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str()))
            .chain(spilled.iter().map(|k| (k.rank.id(), &*k.name)))
            .collect()
    }

    /// Every cluster in report order. A spilled cluster that cannot be
    /// read back (a failing disk) is an error item, never a silent gap.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            held: self.held.iter().peekable(),
            keys: self
                .spilled
                .as_deref()
                .map_or(&[][..], |s| &s.keys)
                .iter()
                .peekable(),
            file: self.spilled.as_deref().map(|s| &s.file),
            kept: self.kept.as_deref(),
            buf: Vec::new(),
        }
    }

    /// The clusters that could be read, in report order, for views that
    /// show what they have (the error is the first read failure).
    pub fn readable(&self) -> (Vec<Cow<'_, Cluster>>, Option<io::Error>) {
        let mut out = Vec::new();
        let mut error = None;
        for c in self.iter() {
            match c {
                Ok(c) => out.push(c),
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
        }
        (out, error)
    }

    /// Every cluster, owned, in report order.
    pub fn to_vec(&self) -> io::Result<Vec<Cluster>> {
        self.iter().map(|c| c.map(Cow::into_owned)).collect()
    }

    /// Read every spilled cluster back once: a destination that cannot be
    /// replaced atomically (stdout, a FIFO) must not receive half a
    /// document when the file fails midway.
    pub fn verify(&self) -> io::Result<()> {
        self.iter().try_for_each(|c| c.map(drop))
    }

    /// Drop the references to findings not in `kept` from every cluster
    /// ([`Cluster::keep_findings`]).
    pub fn keep_findings(&mut self, kept: BTreeSet<String>) {
        for c in &mut self.held {
            c.keep_findings(&kept);
        }
        if self.spilled.is_some() {
            self.kept = Some(Arc::new(kept));
        }
    }
}

/// See [`Clusters::iter`].
pub struct Iter<'a> {
    held: std::iter::Peekable<std::slice::Iter<'a, Cluster>>,
    keys: std::iter::Peekable<std::slice::Iter<'a, Key>>,
    file: Option<&'a File>,
    kept: Option<&'a BTreeSet<String>>,
    buf: Vec<u8>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = io::Result<Cow<'a, Cluster>>;

    fn next(&mut self) -> Option<Self::Item> {
        let take_held = match (self.held.peek(), self.keys.peek()) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(h), Some(k)) => Rank::of(h) <= k.rank,
        };
        if take_held {
            return self.held.next().map(|c| Ok(Cow::Borrowed(c)));
        }
        let key = self.keys.next()?;
        Some(self.read(key.at, key.len).map(Cow::Owned))
    }
}

impl Iter<'_> {
    fn read(&mut self, at: u64, len: u32) -> io::Result<Cluster> {
        let mut c: Cluster = crate::spill::read_at(self.file, at, len, &mut self.buf)?;
        if let Some(kept) = self.kept {
            c.keep_findings(kept);
        }
        Ok(c)
    }
}

impl Serialize for Clusters {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        crate::spill::serialize_all::<S, Cluster, _>(
            serializer,
            self.len(),
            self.iter(),
            "a cluster",
        )
    }
}

impl<'de> Deserialize<'de> for Clusters {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Cluster>::deserialize(deserializer).map(Clusters::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    fn cluster(id: &str, rating: Option<Severity>, findings: &[&str]) -> Cluster {
        let mut c: Cluster = serde_json::from_value(serde_json::json!({
            "id": id, "name": id, "anchor": "host", "hosts": [], "members": []
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        c.rating = rating;
        c.findings = findings.iter().map(|s| s.to_string()).collect();
        c
    }

    fn ids(c: &Clusters) -> Vec<String> {
        c.iter()
            .map(|c| c.unwrap_or_else(|e| panic!("{e}")).id.clone())
            .collect()
    }

    /// A scan's clusters, built one at a time and spilled past a few
    /// hundred, are the same clusters in the same order as those built in
    /// memory, and the findings name the same clusters.
    #[test]
    fn spilled_build_matches_the_build_in_memory() {
        use crate::model::{Endpoint, Finding, Service, ServiceKind};
        let mut services = Vec::new();
        let mut findings = Vec::new();
        for i in 0..(HELD_AT_MOST as u32 + 200) {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            let mut s = Service::new(Endpoint::new(ip.into(), 8081), ServiceKind::JobmanagerRest);
            s.flink = true;
            s.version = Some("1.20.1".into());
            let sev = [Severity::Critical, Severity::Low, Severity::Medium][i as usize % 3];
            for rule in ["FLINK-REST-UNAUTHENTICATED", "FLINK-REST-PLAINTEXT"]
                .iter()
                .take(1 + i as usize % 2)
            {
                findings.push(Finding::new(
                    *rule,
                    sev,
                    *rule,
                    s.endpoint.clone(),
                    s.kind,
                    s.url("/config"),
                ));
            }
            services.push(s);
        }
        let swept = |_: std::net::IpAddr, _: u16| true;
        let mut in_memory_findings = findings.clone();
        let in_memory = crate::clusters::build(&services, &mut in_memory_findings, &swept);
        let mut spiller = ClusterSpiller::new();
        crate::clusters::build_each(&services, &mut findings, &swept, &mut |c| spiller.push(c));
        let spilled = spiller.finish();
        assert!(spilled.spilled.is_some(), "nothing spilled");
        assert_eq!(spilled.len(), in_memory.len());
        assert_eq!(spilled.to_vec().unwrap_or_default(), in_memory);
        assert_eq!(findings, in_memory_findings);
    }

    /// Spilled or held, the clusters come back whole and worst first, and
    /// `--min-severity` trims what is read back like what is held.
    #[test]
    fn spilled_clusters_read_back_in_report_order() {
        let made = [
            cluster("host:b", Some(Severity::Low), &["A@b"]),
            cluster("host:a", Some(Severity::Critical), &["B@a", "C@a"]),
            cluster("host:c", None, &[]),
            cluster("host:d", Some(Severity::Low), &["D@d", "E@d"]),
        ];
        let mut spiller = ClusterSpiller::new();
        for i in 0..HELD_AT_MOST {
            spiller.push(cluster(&format!("host:z{i:04}"), None, &[]));
        }
        for c in made.clone() {
            spiller.push(c);
        }
        assert!(spiller.failure.is_none(), "{:?}", spiller.failure);
        let mut spilled = spiller.finish();
        assert!(spilled.spilled.is_some(), "nothing spilled");
        assert!(
            spilled.held.is_empty(),
            "once spilling, every cluster is spilled"
        );
        let mut made = made.to_vec();
        made.extend((0..HELD_AT_MOST).map(|i| cluster(&format!("host:z{i:04}"), None, &[])));
        let held = Clusters::from(made);
        assert_eq!(ids(&spilled)[..4], ["host:a", "host:d", "host:b", "host:c"]);
        assert_eq!(ids(&spilled), ids(&held));
        assert_eq!(
            serde_json::to_value(&spilled).unwrap_or_default(),
            serde_json::to_value(&held).unwrap_or_default()
        );
        spilled.keep_findings(BTreeSet::from(["B@a".to_string()]));
        let first = spilled.iter().next().and_then(Result::ok);
        assert_eq!(first.map(|c| c.findings.clone()), Some(vec!["B@a".into()]));
        let back: Clusters =
            serde_json::from_value(serde_json::to_value(&spilled).unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(back.len(), 4 + HELD_AT_MOST);
        assert!(spilled.verify().is_ok());
    }
}
