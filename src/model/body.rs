//! What a finding says beyond its rule and place: its URL, detail and
//! evidence. Those are most of a finding's memory and only the reports
//! read them, so a scan moves them to an unlinked temporary file as each
//! finding is collected ([`Stowage`]) and reads them back, one finding at a
//! time, while a report is written. Everything that judges findings
//! (clusters, attack paths, `--fail-on`, baselines) reads only what stays
//! in memory.

use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Evidence;

/// A finding's URL, detail and evidence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FindingBody {
    /// Absolute URL of the endpoint that shows the problem.
    pub url: String,
    /// Host-specific detail (the first line of messages comes from the rule).
    pub detail: String,
    pub evidence: Vec<Evidence>,
}

/// A finding body in memory or in the scan's temporary file.
#[derive(Debug, Clone)]
pub enum Body {
    Held(Box<FindingBody>),
    Stowed(Slot),
}

/// Where a stowed body sits: its file (shared by every finding of the
/// scan), where it starts and its length in bytes.
#[derive(Debug, Clone)]
pub struct Slot {
    file: Arc<File>,
    at: u64,
    len: u32,
}

impl Body {
    pub fn held(url: String, detail: String, evidence: Vec<Evidence>) -> Body {
        Body::Held(Box::new(FindingBody {
            url,
            detail,
            evidence,
        }))
    }

    /// The body, read back from the file when stowed: a failing disk is an
    /// error, never an empty body.
    pub fn get(&self) -> io::Result<Cow<'_, FindingBody>> {
        match self {
            Body::Held(b) => Ok(Cow::Borrowed(b)),
            Body::Stowed(slot) => slot.read().map(Cow::Owned),
        }
    }

    /// The body to change: a stowed one is read back and held from then on.
    pub fn get_mut(&mut self) -> io::Result<&mut FindingBody> {
        if let Body::Stowed(slot) = self {
            *self = Body::Held(Box::new(slot.read()?));
        }
        match self {
            Body::Held(b) => Ok(b),
            // Made held just above.
            Body::Stowed(_) => Err(io::Error::other("finding body not held")),
        }
    }

    pub fn is_stowed(&self) -> bool {
        matches!(self, Body::Stowed(_))
    }
}

impl PartialEq for Body {
    /// Equal text, wherever it is kept (a body that cannot be read back
    /// equals nothing).
    fn eq(&self, other: &Body) -> bool {
        match (self.get(), other.get()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

impl Slot {
    fn read(&self) -> io::Result<FindingBody> {
        crate::spill::read_at(Some(&self.file), self.at, self.len, &mut Vec::new())
    }
}

/// Moves finding bodies to an unlinked file in the system's temporary
/// directory (`TMPDIR`), created with the first one. When the file cannot
/// be created or written, bodies stay in memory: never lost.
#[derive(Debug)]
pub struct Stowage {
    /// False: every body stays in memory.
    on: bool,
    file: Option<Arc<File>>,
    end: u64,
    buf: Vec<u8>,
    /// Why stowing stopped; bodies are held from then on.
    pub failure: Option<String>,
}

impl Stowage {
    pub fn new() -> Stowage {
        Stowage {
            on: true,
            ..Stowage::in_memory()
        }
    }

    /// A stowage that keeps every body in memory.
    pub fn in_memory() -> Stowage {
        Stowage {
            on: false,
            file: None,
            end: 0,
            buf: Vec::new(),
            failure: None,
        }
    }

    /// Stow `body` unless it is stowed already or stowing is off or
    /// failed before.
    pub fn stow(&mut self, body: &mut Body) {
        let Body::Held(held) = body else { return };
        if !self.on || self.failure.is_some() {
            return;
        }
        match self.write(held) {
            Ok(slot) => *body = Body::Stowed(slot),
            Err(e) => {
                self.failure = Some(format!(
                    "cannot write findings to a temporary file in TMPDIR, keeping the rest in \
                     memory: {e}"
                ))
            }
        }
    }

    fn write(&mut self, body: &FindingBody) -> io::Result<Slot> {
        let file = match &self.file {
            Some(f) => Arc::clone(f),
            None => Arc::clone(self.file.insert(Arc::new(tempfile::tempfile()?))),
        };
        let (at, len) = crate::spill::append_to(&file, &mut self.end, body, &mut self.buf)?;
        Ok(Slot { file, at, len })
    }
}

impl Default for Stowage {
    fn default() -> Self {
        Stowage::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(detail: &str) -> Body {
        Body::held(
            "http://127.0.0.1:8081/config".into(),
            detail.into(),
            vec![Evidence {
                request: "GET /config".into(),
                status: Some(200),
                excerpt: "{\"flink-version\":\"1.14.6\"}".into(),
            }],
        )
    }

    #[test]
    fn a_stowed_body_reads_back_whole_and_can_be_changed() {
        let mut stowage = Stowage::new();
        let (mut a, mut b) = (body("first"), body("second"));
        let (want_a, want_b) = (a.clone(), b.clone());
        stowage.stow(&mut a);
        stowage.stow(&mut b);
        assert!(a.is_stowed() && b.is_stowed() && stowage.failure.is_none());
        assert_eq!(a, want_a);
        assert_eq!(b.get().unwrap().detail, "second");
        b.get_mut().unwrap().detail = "changed".into();
        assert!(!b.is_stowed());
        assert_eq!(b.get().unwrap().detail, "changed");
        assert_ne!(b, want_b);
    }

    #[test]
    fn an_in_memory_stowage_keeps_every_body() {
        let mut stowage = Stowage::in_memory();
        let mut a = body("held");
        stowage.stow(&mut a);
        assert!(!a.is_stowed() && stowage.file.is_none() && stowage.failure.is_none());
    }

    #[test]
    fn a_file_that_stops_taking_writes_keeps_bodies_in_memory() {
        let named = tempfile::NamedTempFile::new().unwrap();
        let mut stowage = Stowage {
            // Read-only: every write fails (a full disk).
            file: Some(Arc::new(File::open(named.path()).unwrap())),
            ..Stowage::new()
        };
        let mut a = body("kept");
        stowage.stow(&mut a);
        assert!(stowage.failure.is_some());
        assert!(!a.is_stowed());
        assert_eq!(a.get().unwrap().detail, "kept");
    }

    #[test]
    fn a_cut_file_is_an_error_not_an_empty_body() {
        let mut stowage = Stowage::new();
        let mut a = body("lost");
        stowage.stow(&mut a);
        if let Some(f) = &stowage.file {
            f.set_len(3).unwrap();
        }
        assert!(a.get().is_err());
        assert!(a.get_mut().is_err());
    }

    /// JSON and SARIF never write a finding without its detail: a body
    /// that cannot be read back fails the document (the scan's outputs then
    /// report a failed output, exit 3).
    #[test]
    fn a_finding_whose_body_is_lost_fails_its_json() {
        let mut stowage = Stowage::new();
        let mut f = crate::model::Finding::new(
            "FLINK-REST-UNAUTHENTICATED",
            crate::model::Severity::Critical,
            "t",
            crate::model::Endpoint::new([127, 0, 0, 1].into(), 8081),
            crate::model::ServiceKind::JobmanagerRest,
            "http://127.0.0.1:8081/config".into(),
        );
        let whole = serde_json::to_string(&f).unwrap();
        stowage.stow(&mut f.body);
        assert!(f.body.is_stowed());
        // Stowed, the same JSON; read back, the same finding.
        assert_eq!(serde_json::to_string(&f).unwrap(), whole);
        let back: crate::model::Finding = serde_json::from_str(&whole).unwrap();
        assert_eq!(back, f);
        if let Some(file) = &stowage.file {
            file.set_len(0).unwrap();
        }
        let err = serde_json::to_string(&f).unwrap_err().to_string();
        assert!(err.contains("reading back a finding"), "{err}");
        assert!(f.body_or_note().detail.contains("could not be read back"));
    }
}
