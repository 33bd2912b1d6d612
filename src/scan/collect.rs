//! The collector: one task owns the `--jsonl` stream, the checkpoint's
//! record of results and everything the final reports need. Settled
//! services (nothing later can change them, [`hosts::settled`]) are spilled
//! to disk as they arrive, so memory does not grow with every answering port.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::identify_pool::PortResult;
use crate::checks::catalog::Catalog;
use crate::hosts;
use crate::model::body::Stowage;
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

impl Collected {
    /// What is left when the collector task failed.
    pub fn empty() -> Collected {
        Collected {
            services: Spiller::in_memory(),
            findings: Vec::new(),
            notices: Vec::new(),
            sink: None,
        }
    }
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
        let mut kept = Compactor::new(self.spill);
        let mut notices = Vec::new();
        // Services under a path prefix, by place: a URL target
        // (`http://h:8081/flink/`) and prefix discovery on the same host's
        // swept port (`h` with 8081) find one service; it is reported once.
        let mut prefixed: HashSet<String> = HashSet::new();
        // A resumed scan starts with the checkpoint's results, read back
        // one at a time (their JSONL events were written by the run that
        // found them).
        if let Some(t) = &self.tracker {
            let replayed = t.replay(|s, found| {
                if s.endpoint.base_path.is_some() {
                    prefixed.insert(s.endpoint.place());
                }
                notices.extend(error_notices(&s));
                let (mut found, mut s) = (found, s);
                let settled = hosts::settled(&s);
                kept.compact(&mut found, &mut s, !settled);
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
            // A probe cut short is no answer: it does not hide one.
            if !r.unfinished
                && r.service.endpoint.base_path.is_some()
                && !prefixed.insert(r.service.endpoint.place())
            {
                continue;
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
            let (mut found, mut service) = (r.findings, r.service);
            let settled = hosts::settled(&service);
            kept.compact(&mut found, &mut service, !settled);
            services.push(service, settled);
            findings.extend(found);
        }
        for why in [&services.failure, &kept.stowage.failure]
            .into_iter()
            .flatten()
        {
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

/// Texts kept once however many services and findings repeat them: the
/// answers and versions of a fleet's JobManagers of one release are the
/// same bytes (`GET /config` differs only where the configuration does).
#[derive(Default)]
struct Texts(HashSet<Arc<str>>);

impl Texts {
    fn share(&mut self, text: &mut Arc<str>) {
        match self.0.get(text) {
            Some(kept) => *text = Arc::clone(kept),
            None => {
                self.0.insert(Arc::clone(text));
            }
        }
    }
}

/// What the collector keeps small for the rest of the scan.
struct Compactor {
    stowage: Stowage,
    texts: Texts,
}

impl Compactor {
    fn new(spill: bool) -> Compactor {
        Compactor {
            stowage: if spill {
                Stowage::new()
            } else {
                Stowage::in_memory()
            },
            texts: Texts::default(),
        }
    }

    /// A finding's URL, detail and evidence go to the temporary file (only
    /// reports read them); if they cannot, the evidence it quotes from its
    /// service's answer is kept once. A service that stays in memory
    /// (`held`) shares its answers' texts with the others that gave the
    /// same. Lists built by pushing drop their spare room (a one-item list
    /// has room for four).
    fn compact(&mut self, findings: &mut [Finding], service: &mut Service, held: bool) {
        service.evidence.shrink_to_fit();
        service.errors.shrink_to_fit();
        service.unchecked.shrink_to_fit();
        if held {
            for e in &mut service.evidence {
                self.texts.share(&mut e.excerpt);
                self.texts.share(&mut e.request);
            }
        }
        // One endpoint record for the service's findings (each was made
        // with its own copy).
        let mut endpoint: Option<Arc<crate::model::Endpoint>> = None;
        for f in findings.iter_mut() {
            if let Some(v) = &mut f.version {
                self.texts.share(v);
            }
            if *f.endpoint == service.endpoint {
                match &endpoint {
                    Some(shared) => f.endpoint = Arc::clone(shared),
                    None => endpoint = Some(Arc::clone(&f.endpoint)),
                }
            }
            compact_body(f, service, &mut self.stowage);
        }
    }
}

fn compact_body(f: &mut Finding, service: &Service, stowage: &mut Stowage) {
    stowage.stow(&mut f.body);
    if let crate::model::Body::Held(body) = &mut f.body {
        body.evidence.shrink_to_fit();
        for e in &mut body.evidence {
            e.share(&service.evidence);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Endpoint, ServiceKind};

    /// A URL target and prefix discovery on the same port find the same
    /// service under `/flink`: reported once. Another prefix on the same
    /// port, and the same prefix on another port, stay.
    #[tokio::test]
    async fn one_service_under_a_prefix_is_reported_once() {
        let catalog = Catalog::load(None, None).unwrap_or_else(|e| panic!("{e}"));
        let collector = Collector {
            sink: None,
            tracker: None,
            catalog: Arc::new(catalog),
            scan_id: "t".into(),
            format: jsonl::Format::Ecs,
            spill: false,
            min_severity: None,
        };
        let root = |port| Endpoint::new("127.0.0.1".parse().unwrap(), port);
        let result = |probed: Endpoint, base: &str| PortResult {
            service: Service::new(
                probed.under(Some(base.to_string())),
                ServiceKind::JobmanagerRest,
            ),
            probed,
            findings: Vec::new(),
            unfinished: false,
        };
        let (tx, rx) = mpsc::channel(8);
        for r in [
            result(root(8081).under(Some("/flink".into())), "/flink"),
            result(root(8081), "/flink"),
            result(root(8081), "/other"),
            result(root(8082), "/flink"),
        ] {
            tx.send(r).await.unwrap_or_else(|_| panic!("send"));
        }
        drop(tx);
        let got = collector.run(rx).await;
        let mut places: Vec<String> = got
            .services
            .finish()
            .held()
            .iter()
            .map(|s| s.endpoint.place())
            .collect();
        places.sort();
        assert_eq!(
            places,
            [
                "127.0.0.1:8081/flink",
                "127.0.0.1:8081/other",
                "127.0.0.1:8082/flink"
            ]
        );
    }
}
