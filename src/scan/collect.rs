//! The collector: one task owns the `--jsonl` stream, the checkpoint's
//! record of results and everything the final reports need. Settled
//! services (nothing later can change them, [`hosts::settled`]) are spilled
//! to disk as they arrive, so memory does not grow with every answering port.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::identify_pool::PortResult;
use crate::checks::catalog::Catalog;
use crate::hosts;
use crate::model::{Finding, Notice, Service};
use crate::report::jsonl::{self, JsonlSink};
use crate::report::services::Spiller;
use crate::state::Tracker;

/// What the collector hands back when the results channel closes.
pub struct Collected {
    pub services: Spiller,
    pub findings: Vec<Finding>,
    /// Errors recorded on services, one notice each.
    pub notices: Vec<Notice>,
    pub sink: Option<JsonlSink>,
}

pub struct Collector {
    pub sink: Option<JsonlSink>,
    pub tracker: Option<Arc<Tracker>>,
    pub catalog: Arc<Catalog>,
    pub scan_id: String,
    pub format: jsonl::Format,
    /// Spill settled services to a temporary file (off: hold everything).
    pub spill: bool,
    /// `--min-severity`: findings below it stay out of the stream.
    pub min_severity: Option<crate::model::Severity>,
}

impl Collector {
    pub async fn run(mut self, mut results: mpsc::Receiver<PortResult>) -> Collected {
        let mut services = if self.spill {
            Spiller::new()
        } else {
            Spiller::in_memory()
        };
        let mut findings = Vec::new();
        let mut notices = Vec::new();
        // A resumed scan starts with the checkpoint's results, read back
        // one at a time (their JSONL events were written by the run that
        // found them).
        if let Some(t) = &self.tracker {
            let replayed = t.replay(|s, found| {
                notices.extend(error_notices(&s));
                let settled = hosts::settled(&s);
                services.push(s, settled);
                findings.extend(found);
            });
            if let Err(why) = replayed {
                notices.push(Notice {
                    target: "--state results".into(),
                    message: format!("results of the resumed run are missing: {why}"),
                });
            }
        }
        while let Some(r) = results.recv().await {
            if let (Some(t), false) = (&self.tracker, r.unfinished) {
                t.identified_at(&r.probed, &r.service, &r.findings);
            }
            if let Some(s) = self.sink.as_mut() {
                let shown = at_least(&r.findings, self.min_severity);
                s.write_each(crate::report::events::for_results(
                    Some(&r.service),
                    &shown,
                    &self.catalog,
                    &self.scan_id,
                    self.format,
                ));
            }
            notices.extend(error_notices(&r.service));
            let settled = hosts::settled(&r.service);
            services.push(r.service, settled);
            findings.extend(r.findings);
        }
        if let Some(why) = &services.failure {
            notices.push(Notice {
                target: "temporary file".into(),
                message: why.clone(),
            });
        }
        Collected {
            services,
            findings,
            notices,
            sink: self.sink,
        }
    }
}

/// A service's recorded errors, as notices on its endpoint.
fn error_notices(s: &Service) -> impl Iterator<Item = Notice> + '_ {
    s.errors.iter().map(|e| Notice {
        target: s.endpoint.authority(),
        message: crate::untrusted::clean(e, 300),
    })
}

/// The findings `--min-severity` lets into the outputs.
pub fn at_least(findings: &[Finding], min: Option<crate::model::Severity>) -> Vec<Finding> {
    findings
        .iter()
        .filter(|f| min.is_none_or(|m| f.severity >= m))
        .cloned()
        .collect()
}
