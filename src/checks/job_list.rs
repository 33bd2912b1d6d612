//! `GET /jobs/overview`, read once per JobManager or HistoryServer and
//! shared by everything that needs it: the probe files that send the same
//! request, the job ids that link a HistoryServer to its cluster, and the
//! job inventory (`crate::inventory`). One request, bounded like the
//! inventory's read was ([`MAX_OVERVIEW_BYTES`], `--probe-timeout`).

use crate::inventory::MAX_OVERVIEW_BYTES;
use crate::transport::http::{HttpTarget, Response};

pub const PATH: &str = "/jobs/overview";

/// The one answer to `GET /jobs/overview`, or why there is none.
#[derive(Debug, Clone)]
pub struct JobList {
    tls: bool,
    answer: Result<Response, String>,
}

impl JobList {
    /// Send the request; a failure goes to `errors` once, here.
    pub async fn read(target: &HttpTarget, errors: &mut Vec<String>) -> JobList {
        let answer = target
            .get_capped(PATH, MAX_OVERVIEW_BYTES, false)
            .await
            .map(|(r, _)| r)
            .map_err(|e| e.to_string());
        if let Err(e) = &answer {
            errors.push(format!("GET {PATH}: {e}"));
        }
        JobList {
            tls: target.tls,
            answer,
        }
    }

    /// The answer to a request that is exactly this one (`GET`, no body,
    /// the same path and scheme), so it is not sent again.
    pub fn answer_to(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        tls: bool,
    ) -> Option<Result<Response, String>> {
        let same =
            method.eq_ignore_ascii_case("GET") && body.is_none() && path == PATH && tls == self.tls;
        same.then(|| self.answer.clone())
    }

    /// The list, when the interface answered 200.
    pub fn listed(&self) -> Option<&Response> {
        self.answer.as_ref().ok().filter(|r| r.status == 200)
    }

    /// The answer's status, if there was an answer.
    pub fn status(&self) -> Option<u16> {
        self.answer.as_ref().ok().map(|r| r.status)
    }

    /// Answered with Flink's job list: `{"jobs": [...]}`.
    pub fn lists_jobs(&self) -> bool {
        self.listed()
            .and_then(Response::json)
            .is_some_and(|j| j.get("jobs").is_some_and(serde_json::Value::is_array))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(answer: Result<Response, String>) -> JobList {
        JobList { tls: false, answer }
    }

    fn ok(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: bytes::Bytes::from_static(br#"{"jobs":[]}"#),
        }
    }

    #[test]
    fn only_the_same_request_is_answered_from_it() {
        let l = list(Ok(ok(200)));
        assert!(l.answer_to("GET", PATH, None, false).is_some());
        assert!(l.answer_to("get", PATH, None, false).is_some());
        assert!(l.answer_to("GET", PATH, None, true).is_none());
        assert!(l.answer_to("GET", PATH, Some(""), false).is_none());
        assert!(l.answer_to("POST", PATH, None, false).is_none());
        assert!(l
            .answer_to("GET", "/jobs/overview?x", None, false)
            .is_none());
        assert!(l.listed().is_some());
    }

    #[test]
    fn a_failed_or_refused_read_lists_nothing() {
        assert!(list(Ok(ok(401))).listed().is_none());
        let failed = list(Err("timed out".into()));
        assert!(failed.listed().is_none());
        assert!(matches!(
            failed.answer_to("GET", PATH, None, false),
            Some(Err(e)) if e == "timed out"
        ));
    }
}
