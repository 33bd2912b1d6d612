//! The report's services, kept small in memory.
//!
//! A sweep where every port answers finds far more non-Flink services than
//! Flink ones, and only Flink's (plus the few that host correlation may still
//! turn into Flink's, see [`crate::hosts::settled`]) are needed again before
//! the reports are written: clusters, correlation and the summary's
//! cluster view work on those. The settled rest is written to an unlinked
//! temporary file as it arrives and read back one service at a time while a
//! report streams it out, so memory stays flat however many ports answered.

use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::Service;

/// Every service of a report: those in memory (`held`) and those spilled
/// to disk during the scan. Reports read from a file hold everything.
#[derive(Debug, Clone, Default)]
pub struct Services {
    held: Vec<Service>,
    spilled: Option<Arc<Spilled>>,
}

/// Where one spilled service sits in the file, and its sort key (the
/// endpoint's order: address, port, then the name, which tells apart the
/// names a `socks5h://` proxy resolves).
#[derive(Debug, Clone)]
struct Key {
    ip: IpAddr,
    port: u16,
    host: Option<Box<str>>,
    at: u64,
    len: u32,
}

impl Key {
    fn order(&self) -> (IpAddr, u16, Option<&str>) {
        (self.ip, self.port, self.host.as_deref())
    }
}

fn order(e: &crate::model::Endpoint) -> (IpAddr, u16, Option<&str>) {
    (e.ip, e.port, e.hostname.as_deref())
}

/// Spilled services, sorted by endpoint, read-only.
#[derive(Debug)]
struct Spilled {
    file: File,
    keys: Vec<Key>,
}

/// Collects services during a scan: settled ones go to the file.
#[derive(Debug)]
pub struct Spiller {
    held: Vec<Service>,
    file: Option<File>,
    /// False once a write failed: what the file holds stays readable,
    /// new services are held.
    spilling: bool,
    keys: Vec<Key>,
    end: u64,
    buf: Vec<u8>,
    /// Why spilling stopped (the file could not be created or written):
    /// services are then held in memory, never lost.
    pub failure: Option<String>,
}

impl Spiller {
    /// A spiller writing to an unlinked file in the system's temporary
    /// directory (`TMPDIR`), created with the first settled service; if it
    /// cannot be created or written, services are held in memory.
    pub fn new() -> Spiller {
        Spiller {
            spilling: true,
            ..Spiller::in_memory()
        }
    }

    /// A spiller that keeps everything in memory.
    pub fn in_memory() -> Spiller {
        Spiller {
            held: Vec::new(),
            file: None,
            spilling: false,
            keys: Vec::new(),
            end: 0,
            buf: Vec::new(),
            failure: None,
        }
    }

    /// Keep a service: `settled` ones (nothing later can change them) are
    /// spilled while the file works.
    pub fn push(&mut self, service: Service, settled: bool) {
        if settled && self.spilling {
            match self.spill(&service) {
                Ok(()) => return,
                Err(e) => {
                    self.failure = Some(format!(
                        "cannot write services to a temporary file in TMPDIR, keeping the rest in \
                         memory: {e}"
                    ));
                    self.spilling = false;
                }
            }
        }
        self.held.push(service);
    }

    fn spill(&mut self, service: &Service) -> io::Result<()> {
        let (at, len) =
            crate::spill::append(&mut self.file, &mut self.end, service, &mut self.buf)?;
        self.keys.push(Key {
            ip: service.endpoint.ip,
            port: service.endpoint.port,
            host: service.endpoint.hostname.as_deref().map(Box::from),
            at,
            len,
        });
        Ok(())
    }

    pub fn held(&self) -> &[Service] {
        &self.held
    }

    pub fn held_mut(&mut self) -> &mut Vec<Service> {
        &mut self.held
    }

    pub fn finish(self) -> Services {
        let spilled = match self.file {
            Some(file) if !self.keys.is_empty() => {
                let mut keys = self.keys;
                keys.sort_by(|a, b| a.order().cmp(&b.order()));
                Some(Arc::new(Spilled { file, keys }))
            }
            _ => None,
        };
        Services {
            held: self.held,
            spilled,
        }
    }
}

impl Default for Spiller {
    fn default() -> Self {
        Spiller::in_memory()
    }
}

impl Services {
    /// The services in memory: every Flink service and everything host
    /// correlation may still change (all of them for a report read back).
    pub fn held(&self) -> &[Service] {
        &self.held
    }

    pub fn held_mut(&mut self) -> &mut Vec<Service> {
        &mut self.held
    }

    pub fn into_held(self) -> Result<Vec<Service>, io::Error> {
        if self.spilled.is_none() {
            return Ok(self.held);
        }
        self.iter()
            .map(|s| s.map(Cow::into_owned))
            .collect::<Result<_, _>>()
    }

    pub fn len(&self) -> usize {
        self.held.len() + self.spilled.as_ref().map_or(0, |s| s.keys.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many services are on disk rather than in memory.
    pub fn spilled(&self) -> usize {
        self.spilled.as_ref().map_or(0, |s| s.keys.len())
    }

    /// Read every spilled service back once: a destination that cannot be
    /// replaced atomically (stdout, a FIFO) must not receive half a
    /// document when the file fails midway.
    pub fn verify(&self) -> io::Result<()> {
        self.iter().try_for_each(|s| s.map(drop))
    }

    /// Every service, held and spilled merged by endpoint (held ones in
    /// the order they are kept: sorted once the report is normalised).
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
            buf: Vec::new(),
        }
    }
}

/// What a report for people lists: see [`Services::for_people`].
#[derive(Debug, Default)]
pub struct Listing<'a> {
    pub shown: Vec<Cow<'a, Service>>,
    /// Non-Flink services left out.
    pub more: usize,
    /// Reading back stopped the listing here.
    pub error: Option<io::Error>,
}

impl Services {
    /// Every Flink service and the first `others` non-Flink ones, in
    /// endpoint order: a sweep where every port answers has far more than
    /// a person reads, and the JSON report lists them all.
    pub fn for_people(&self, others: usize) -> Listing<'_> {
        let mut out = Listing::default();
        let mut taken = 0;
        let mut iter = self.iter();
        while let Some(s) = iter.next() {
            match s {
                Ok(s) if s.flink => out.shown.push(s),
                Ok(s) if taken < others => {
                    taken += 1;
                    out.shown.push(s);
                }
                Ok(_) => out.more += 1,
                Err(e) => {
                    // The file failed: what memory holds (every Flink
                    // service) is still listed.
                    out.error = Some(e);
                    iter.skip_spilled();
                }
            }
        }
        out
    }
}

/// Non-Flink services the HTML and Markdown reports list.
pub const PEOPLE_OTHERS: usize = 1000;

/// The line a listing ends with when services were left out or could not
/// be read back (plain text: the summary and Markdown).
pub fn listing_tail(out: &mut String, listing: &Listing<'_>) {
    use std::fmt::Write as _;
    if listing.more > 0 {
        let _ = writeln!(
            out,
            "  ... and {} more open ports that are not Flink's (the --json report lists every one)",
            listing.more
        );
    }
    if let Some(e) = &listing.error {
        let _ = writeln!(out, "  (the rest could not be read back: {e})");
    }
}

impl From<Vec<Service>> for Services {
    fn from(held: Vec<Service>) -> Self {
        Services {
            held,
            spilled: None,
        }
    }
}

/// See [`Services::iter`]. A spilled service that cannot be read back (a
/// failing disk) is an error item, never a silent gap.
pub struct Iter<'a> {
    held: std::iter::Peekable<std::slice::Iter<'a, Service>>,
    keys: std::iter::Peekable<std::slice::Iter<'a, Key>>,
    file: Option<&'a File>,
    buf: Vec<u8>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = io::Result<Cow<'a, Service>>;

    fn next(&mut self) -> Option<Self::Item> {
        let take_held = match (self.held.peek(), self.keys.peek()) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(h), Some(k)) => order(&h.endpoint) <= k.order(),
        };
        if take_held {
            return self.held.next().map(|s| Ok(Cow::Borrowed(s)));
        }
        let key = self.keys.next()?;
        Some(self.read(key.at, key.len).map(Cow::Owned))
    }
}

impl Iter<'_> {
    /// Yield only the held services from here on.
    fn skip_spilled(&mut self) {
        for _ in self.keys.by_ref() {}
    }

    fn read(&mut self, at: u64, len: u32) -> io::Result<Service> {
        crate::spill::read_at(self.file, at, len, &mut self.buf)
    }
}

impl Serialize for Services {
    /// Streams: one spilled service in memory at a time.
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        crate::spill::serialize_all::<S, Service, _>(ser, self.len(), self.iter(), "a service")
    }
}

impl<'de> Deserialize<'de> for Services {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        Vec::<Service>::deserialize(de).map(Services::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Endpoint, ServiceKind};

    fn svc(ip: &str, port: u16, flink: bool) -> Service {
        let mut s = Service::new(
            Endpoint::new(ip.parse().unwrap(), port),
            ServiceKind::OtherHttp,
        );
        s.flink = flink;
        s.product = Some(format!("product on {ip}:{port}"));
        s
    }

    #[test]
    fn spilled_and_held_come_back_whole_and_in_endpoint_order() {
        let mut sp = Spiller::new();
        assert!(sp.failure.is_none());
        let input = [
            ("10.0.0.9", 80, false),
            ("10.0.0.1", 8081, true),
            ("10.0.0.3", 80, false),
            ("::1", 80, false),
            ("10.0.0.2", 443, true),
            ("10.0.0.1", 80, false),
        ];
        for (ip, port, flink) in input {
            sp.push(svc(ip, port, flink), !flink);
        }
        // Names a socks5h:// proxy resolves share a placeholder address.
        let named = |n: &str| {
            Service::new(
                crate::model::Endpoint::via_proxy(n.to_string(), 80),
                ServiceKind::OtherHttp,
            )
        };
        sp.push(named("b.internal.test"), true);
        sp.push(named("a.internal.test"), true);
        let mut services = sp.finish();
        services
            .held_mut()
            .sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
        assert_eq!(services.held().len(), 2);
        assert_eq!(services.spilled(), 6);
        assert_eq!(services.len(), 8);
        let back: Vec<Service> = services.iter().map(|s| s.unwrap().into_owned()).collect();
        let mut want: Vec<Service> = input.iter().map(|&(i, p, f)| svc(i, p, f)).collect();
        want.extend([named("b.internal.test"), named("a.internal.test")]);
        want.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
        assert_eq!(back, want);
        // The JSON is the same as for a plain list, and reads back.
        let json = serde_json::to_string(&services).unwrap();
        assert_eq!(json, serde_json::to_string(&want).unwrap());
        let again: Services = serde_json::from_str(&json).unwrap();
        assert_eq!(again.into_held().unwrap(), want);
    }

    #[test]
    fn people_get_every_flink_service_and_the_first_others() {
        let mut sp = Spiller::new();
        for i in 0..10u8 {
            let flink = i % 3 == 0;
            sp.push(svc(&format!("10.0.0.{i}"), 80, flink), !flink);
        }
        let services = sp.finish();
        let l = services.for_people(2);
        let flink = l.shown.iter().filter(|s| s.flink).count();
        assert_eq!((flink, l.shown.len(), l.more), (4, 6, 4));
        assert!(l.error.is_none());
    }

    #[test]
    fn a_spill_file_that_stops_taking_writes_loses_nothing() {
        let named = tempfile::NamedTempFile::new().unwrap();
        let mut sp = Spiller::new();
        sp.file = Some(named.reopen().unwrap());
        sp.push(svc("10.0.0.1", 80, false), true);
        sp.push(svc("10.0.0.2", 80, false), true);
        // The same file, read-only: the next write fails (a full disk).
        sp.file = Some(File::open(named.path()).unwrap());
        sp.push(svc("10.0.0.3", 80, false), true);
        sp.push(svc("10.0.0.4", 80, false), true);
        assert!(sp.failure.is_some());
        let s = sp.finish();
        assert_eq!((s.spilled(), s.held().len()), (2, 2));
        let ips: Vec<String> = s
            .iter()
            .map(|r| r.unwrap().endpoint.ip.to_string())
            .collect();
        assert_eq!(ips, ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]);
    }

    #[test]
    fn a_spill_file_that_cannot_be_read_back_still_lists_the_held_flink_services() {
        let mut sp = Spiller::new();
        sp.push(svc("10.0.0.1", 80, false), true);
        sp.push(svc("10.0.0.2", 8081, true), false);
        sp.push(svc("10.0.0.3", 80, false), true);
        let services = sp.finish();
        // Cut the file: the first spilled service cannot be read back.
        let spilled = services.spilled.as_ref().unwrap();
        spilled.file.set_len(3).unwrap();
        assert!(services.verify().is_err());
        let l = services.for_people(10);
        assert!(l.error.is_some());
        let shown: Vec<String> = l.shown.iter().map(|s| s.endpoint.authority()).collect();
        assert_eq!(shown, ["10.0.0.2:8081"]);
    }

    #[test]
    fn no_file_until_a_service_is_spilled() {
        let mut sp = Spiller::new();
        sp.push(svc("10.0.0.2", 8081, true), false);
        assert!(sp.file.is_none() && sp.failure.is_none());
        sp.push(svc("10.0.0.1", 80, false), true);
        assert!(sp.file.is_some());
    }

    #[test]
    fn in_memory_spiller_holds_everything() {
        let mut sp = Spiller::in_memory();
        sp.push(svc("10.0.0.1", 80, false), true);
        let s = sp.finish();
        assert_eq!((s.held().len(), s.spilled()), (1, 0));
    }
}
