//! The GET answers one service's scan shares: a read-only request that
//! identification, a probe file, the deployment facts and the job
//! inventory all need (`/config`, `/jars`, `/taskmanagers`) is sent once
//! and its answer reused, so a scan is as quiet on a target as it can be.
//!
//! Only plain GETs without a body are kept, keyed by scheme and the path
//! as sent (a prefix included), and only answers: a request that failed
//! is sent again by the next reader, which reports its own error, as it
//! did before answers were shared. Bounded: answers are already capped by
//! the HTTP client ([`super::http::MAX_BODY`]), and one service keeps at
//! most [`MAX_KEPT_BYTES`] of them; past that an answer is not kept and a
//! later reader asks again.

use std::sync::Mutex;

use super::http::{HttpError, HttpTarget, Response};

/// Bytes of answers (bodies and headers) one service keeps.
pub const MAX_KEPT_BYTES: usize = 1024 * 1024;

/// The answers kept for one service.
#[derive(Debug, Default)]
pub struct Answers {
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    answers: Vec<(bool, String, Response)>,
    bytes: usize,
}

fn size(resp: &Response) -> usize {
    resp.body.len()
        + resp
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len())
            .sum::<usize>()
}

impl Answers {
    /// Keep the answer to `GET path_as_sent` (the full path, a prefix
    /// included) over TLS or not, unless it is known or over the bound.
    pub fn keep(&self, tls: bool, path_as_sent: &str, resp: &Response) {
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        let bytes = size(resp);
        let known = kept
            .answers
            .iter()
            .any(|(t, p, _)| *t == tls && p == path_as_sent);
        if known || kept.bytes.saturating_add(bytes) > MAX_KEPT_BYTES {
            return;
        }
        kept.bytes += bytes;
        kept.answers
            .push((tls, path_as_sent.to_string(), resp.clone()));
    }

    /// The kept answer to `GET path_as_sent`, if any.
    pub fn kept(&self, tls: bool, path_as_sent: &str) -> Option<Response> {
        let kept = self.kept.lock().ok()?;
        kept.answers
            .iter()
            .find(|(t, p, _)| *t == tls && p == path_as_sent)
            .map(|(_, _, r)| r.clone())
    }

    /// `GET path` to `target`: the kept answer, or the request, whose
    /// answer is then kept.
    pub async fn get(&self, target: &HttpTarget, path: &str) -> Result<Response, HttpError> {
        let as_sent = target.endpoint.path(path);
        if let Some(r) = self.kept(target.tls, &as_sent) {
            return Ok(r);
        }
        let r = target.get(path).await?;
        self.keep(target.tls, &as_sent, &r);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &'static [u8]) -> Response {
        Response {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: bytes::Bytes::from_static(body),
        }
    }

    #[test]
    fn kept_by_scheme_and_path_as_sent() {
        let a = Answers::default();
        a.keep(false, "/flink/config", &answer(b"{}"));
        assert!(a.kept(false, "/flink/config").is_some());
        assert!(a.kept(true, "/flink/config").is_none());
        assert!(a.kept(false, "/config").is_none());
    }

    #[test]
    fn the_first_answer_stays() {
        let a = Answers::default();
        a.keep(false, "/jars", &answer(b"first"));
        a.keep(false, "/jars", &answer(b"second"));
        assert_eq!(&a.kept(false, "/jars").unwrap().body[..], b"first");
    }

    #[test]
    fn answers_past_the_bound_are_not_kept() {
        static BIG: [u8; MAX_KEPT_BYTES / 2] = [b'x'; MAX_KEPT_BYTES / 2];
        let a = Answers::default();
        a.keep(false, "/a", &answer(&BIG));
        // Its headers take it past half: a second one does not fit.
        a.keep(false, "/b", &answer(&BIG));
        a.keep(false, "/c", &answer(b"small"));
        assert!(a.kept(false, "/a").is_some());
        assert!(a.kept(false, "/b").is_none());
        assert!(a.kept(false, "/c").is_some());
        assert!(a.kept.lock().unwrap().bytes <= MAX_KEPT_BYTES);
    }
}
