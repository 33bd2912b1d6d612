//! A bounded HTTP/1.1 client for probing: one request per connection, our own
//! socket (so TLS is decided by the sniff, not by a URL), no redirects, no
//! proxies, caps on header and body size, and one deadline for the whole
//! exchange.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::model::Endpoint;

/// Largest body we read from any peer; bigger answers are truncated.
pub const MAX_BODY: usize = 256 * 1024;
const MAX_HEAD: usize = 16 * 1024;
/// The `User-Agent` and `Accept` every request carries (identification's
/// raw first request too, whose answer is then read here:
/// [`HttpTarget::answer_to_sent`]).
pub const USER_AGENT: &str = concat!("flinkscan/", env!("CARGO_PKG_VERSION"));
pub const ACCEPT: &str = "application/json, */*;q=0.5";

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Why an HTTP exchange failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("not HTTP or malformed response: {0}")]
    Protocol(String),
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    /// Never sent: the deny-list refuses it (`transport::deny`).
    #[error("not sent: {0}")]
    Denied(crate::transport::deny::Denied),
}

/// A response, with its body already bounded.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names lower-cased; values lossily decoded.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How to reach one HTTP service.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    pub endpoint: Endpoint,
    pub tls: bool,
    pub timeout: Duration,
    /// `--intrusive`: lets the deny-list pass the SQL Gateway session pair.
    pub intrusive: bool,
}

impl HttpTarget {
    /// A read-only target: the deny-list refuses every intrusive request.
    pub fn new(endpoint: Endpoint, tls: bool, timeout: Duration) -> HttpTarget {
        HttpTarget {
            endpoint,
            tls,
            timeout,
            intrusive: false,
        }
    }

    /// `--intrusive` lets the deny-list pass the SQL Gateway session pair.
    pub fn intrusive(self, intrusive: bool) -> HttpTarget {
        HttpTarget { intrusive, ..self }
    }

    pub async fn get(&self, path: &str) -> Result<Response, HttpError> {
        self.request("GET", path, None).await
    }

    /// [`get`](Self::get), and a note when the body had no length and the
    /// connection did not end it cleanly (see [`request_noted`](Self::request_noted)).
    pub async fn get_noted(&self, path: &str) -> Result<(Response, Option<String>), HttpError> {
        self.request_noted("GET", path, None).await
    }

    /// GET with its own byte cap: `limit` bytes at most are read. With
    /// `keep_prefix` a longer body is cut there (the connection is dropped
    /// and the flag in the answer says so); without it a longer body is
    /// [`HttpError::TooLarge`]. For answers that are legitimately larger
    /// than [`MAX_BODY`] (a job list) or only wanted in part (a log file).
    pub async fn get_capped(
        &self,
        path: &str,
        limit: usize,
        keep_prefix: bool,
    ) -> Result<(Response, bool), HttpError> {
        let deadline = self.deadline();
        let (head, incoming, _driver) =
            tokio::time::timeout_at(deadline, self.send("GET", path, None))
                .await
                .map_err(|_| HttpError::Timeout(self.timeout))??;
        let cap = Cap { limit, keep_prefix };
        let (resp, _, cut) = read_body(head, incoming, deadline, self.timeout, cap).await?;
        Ok((resp, cut))
    }

    /// Now plus the timeout, saturating: a huge --probe-timeout must not
    /// overflow the clock.
    fn deadline(&self) -> tokio::time::Instant {
        let now = tokio::time::Instant::now();
        now.checked_add(self.timeout)
            .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365)))
            .unwrap_or(now)
    }

    /// Send one request. Every request of identification, checks and probe
    /// files comes through [`send`](Self::send), which refuses what the
    /// deny-list (`transport::deny`) names before a byte is written.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Response, HttpError> {
        self.request_noted(method, path, body).await.map(|(r, _)| r)
    }

    /// Send one request; the whole exchange takes at most `timeout`.
    ///
    /// A body with neither Content-Length nor chunked encoding (HTTP/1.0
    /// style) ends when the connection closes. It is read until then, up
    /// to [`MAX_BODY`] bytes and the deadline; when the deadline, a reset or
    /// a TLS close without close_notify ends it instead, the bytes read so
    /// far are the body, and the note says what ended it. Bodies with a
    /// length that end early are errors, as before.
    pub async fn request_noted(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<(Response, Option<String>), HttpError> {
        let deadline = self.deadline();
        let (head, incoming, _driver) =
            tokio::time::timeout_at(deadline, self.send(method, path, body))
                .await
                .map_err(|_| HttpError::Timeout(self.timeout))??;
        read_body(head, incoming, deadline, self.timeout, Cap::WHOLE)
            .await
            .map(|(r, note, _)| (r, note))
    }

    /// The answer to `GET path`, already sent on `stream` by a raw probe
    /// that read its first bytes (`read`): the rest is read and the whole
    /// parsed as [`get_noted`](Self::get_noted) would, so identification's
    /// first request is not sent a second time. The request must be the
    /// one `get_noted` sends (the same headers: [`USER_AGENT`], [`ACCEPT`]).
    pub async fn answer_to_sent(
        &self,
        stream: tokio::net::TcpStream,
        read: Vec<u8>,
        path: &str,
    ) -> Result<(Response, Option<String>), HttpError> {
        self.allowed("GET", path)?;
        let deadline = self.deadline();
        let replayed = Replayed {
            answer: tokio::io::AsyncReadExt::chain(std::io::Cursor::new(read), stream),
            written: false,
            reader: None,
        };
        let (head, incoming, _driver) = tokio::time::timeout_at(
            deadline,
            self.exchange_on(Box::new(replayed), "GET", path, None),
        )
        .await
        .map_err(|_| HttpError::Timeout(self.timeout))??;
        read_body(head, incoming, deadline, self.timeout, Cap::WHOLE)
            .await
            .map(|(r, note, _)| (r, note))
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<(Head, hyper::body::Incoming, AbortOnDrop), HttpError> {
        // The one place every HTTP request passes: no caller can forget it.
        self.allowed(method, path)?;
        let tcp = crate::net::connect(self.endpoint.dest())
            .await
            .map_err(HttpError::Connect)?;
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Stream> = if self.tls {
            let sni = self.endpoint.hostname.as_deref();
            Box::new(
                crate::tls::connect(tcp, sni, self.timeout)
                    .await
                    .map_err(|e| HttpError::Tls(e.to_string()))?,
            )
        } else {
            Box::new(tcp)
        };
        self.exchange_on(stream, method, path, body).await
    }

    /// What the deny-list (`transport::deny`) says of a request.
    fn allowed(&self, method: &str, path: &str) -> Result<(), HttpError> {
        crate::transport::deny::check(method, path, self.intrusive).map_err(HttpError::Denied)?;
        if self.endpoint.base_path.is_some() {
            // The proxy in front routes on the full path: a prefix found on
            // a hostile root page (`/run`, `/cluster`) must not smuggle a
            // denied fragment in front of an allowed path.
            crate::transport::deny::check_path(&self.endpoint.path(path))
                .map_err(HttpError::Denied)?;
        }
        Ok(())
    }

    /// Send one request on `stream` and read the head of its answer.
    async fn exchange_on(
        &self,
        stream: Box<dyn Stream>,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<(Head, hyper::body::Incoming, AbortOnDrop), HttpError> {
        let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(MAX_HEAD.max(8192))
            .max_headers(64)
            .handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        // Aborted when dropped: on every early return and when the caller's
        // deadline drops this future, the connection goes with it.
        let driver = AbortOnDrop(tokio::spawn(async move {
            let _ = conn.await;
        }));
        let host = self.endpoint.host_header();
        // The deny-list judged the path as Flink sees it; a reverse proxy
        // serving Flink under a prefix gets the prefix in front.
        let mut req = Request::builder()
            .method(method)
            .uri(self.endpoint.path(path))
            .header(hyper::header::HOST, host)
            .header(hyper::header::USER_AGENT, USER_AGENT)
            .header(hyper::header::ACCEPT, ACCEPT)
            .header(hyper::header::CONNECTION, "close");
        if body.is_some() {
            req = req.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or("").to_owned())))
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let close_delimited = !resp.headers().contains_key(hyper::header::CONTENT_LENGTH)
            && !resp
                .headers()
                .contains_key(hyper::header::TRANSFER_ENCODING);
        let head = Head {
            status,
            headers,
            close_delimited,
        };
        Ok((head, resp.into_body(), driver))
    }
}

/// A connection whose request went out already: hyper's copy of it is
/// dropped, and the answer (the bytes read so far, then the rest) is only
/// given once hyper wrote its request, as hyper reads nothing before.
struct Replayed {
    answer: tokio::io::Chain<std::io::Cursor<Vec<u8>>, tokio::net::TcpStream>,
    written: bool,
    reader: Option<std::task::Waker>,
}

impl AsyncRead for Replayed {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if !self.written {
            self.reader = Some(cx.waker().clone());
            return std::task::Poll::Pending;
        }
        std::pin::Pin::new(&mut self.answer).poll_read(cx, buf)
    }
}

impl AsyncWrite for Replayed {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.written = true;
        if let Some(w) = self.reader.take() {
            w.wake();
        }
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// The task driving one connection, ended with its owner.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Status line and headers of a response whose body is still to be read.
struct Head {
    status: u16,
    headers: Vec<(String, String)>,
    /// No length and no chunking: the body ends when the connection does.
    close_delimited: bool,
}

/// How much of a body to read, and what to do past it.
#[derive(Debug, Clone, Copy)]
struct Cap {
    limit: usize,
    keep_prefix: bool,
}

impl Cap {
    /// A whole answer, up to [`MAX_BODY`].
    const WHOLE: Cap = Cap {
        limit: MAX_BODY,
        keep_prefix: false,
    };
}

/// The body, a note on how a length-less body ended, and whether it was
/// cut at the cap.
async fn read_body(
    head: Head,
    mut incoming: hyper::body::Incoming,
    deadline: tokio::time::Instant,
    timeout: Duration,
    cap: Cap,
) -> Result<(Response, Option<String>, bool), HttpError> {
    let mut body: Vec<u8> = Vec::new();
    let mut note = None;
    let mut cut = false;
    loop {
        let frame = match tokio::time::timeout_at(deadline, incoming.frame()).await {
            Err(_) if head.close_delimited => {
                note = Some(format!(
                    "body without a length still open after {timeout:?}: read {} bytes until then",
                    body.len()
                ));
                break;
            }
            Err(_) => return Err(HttpError::Timeout(timeout)),
            Ok(f) => f,
        };
        match frame {
            None => break,
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    if body.len().saturating_add(data.len()) > cap.limit {
                        if !cap.keep_prefix {
                            return Err(HttpError::TooLarge(cap.limit));
                        }
                        let room = cap.limit.saturating_sub(body.len()).min(data.len());
                        body.extend_from_slice(&data[..room]);
                        cut = true;
                        break;
                    }
                    body.extend_from_slice(data);
                }
            }
            Some(Err(e)) if head.close_delimited => {
                note = Some(format!(
                    "body without a length ended by an unclean close ({e}) after {} bytes",
                    body.len()
                ));
                break;
            }
            Some(Err(e)) => return Err(HttpError::Protocol(e.to_string())),
        }
    }
    Ok((
        Response {
            status: head.status,
            headers: head.headers,
            body: Bytes::from(body),
        },
        note,
        cut,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// One loopback peer answering every connection with `reply`, then
    /// holding it open for `hold`.
    async fn peer(reply: &'static [u8], hold: Duration) -> Endpoint {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = l.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
        tokio::spawn(async move {
            while let Ok((mut c, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let _ = c.read(&mut buf).await;
                    let _ = c.write_all(reply).await;
                    tokio::time::sleep(hold).await;
                });
            }
        });
        Endpoint::new(addr.ip(), addr.port())
    }

    #[tokio::test]
    async fn close_delimited_body_ends_at_the_deadline_with_a_note() {
        let endpoint = peer(b"HTTP/1.0 200 OK\r\n\r\n{\"a\":1}", Duration::from_secs(30)).await;
        let target = HttpTarget::new(endpoint, false, Duration::from_millis(300));
        let (resp, note) = target
            .get_noted("/config")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&resp.body[..], b"{\"a\":1}");
        assert!(note.is_some_and(|n| n.contains("still open")));
        // With a length, an unfinished body is still an error.
        let endpoint = peer(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"a\":1}",
            Duration::from_secs(30),
        )
        .await;
        let target = HttpTarget::new(endpoint, false, Duration::from_millis(300));
        assert!(matches!(
            target.get("/config").await,
            Err(HttpError::Timeout(_))
        ));
    }

    #[tokio::test]
    async fn capped_reads_cut_or_refuse_at_their_own_limit() {
        let endpoint = peer(
            b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456789abcdefghij",
            Duration::ZERO,
        )
        .await;
        let target = HttpTarget::new(endpoint, false, Duration::from_secs(5));
        let (resp, cut) = target
            .get_capped("/jobmanager/log", 8, true)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((&resp.body[..], cut), (&b"01234567"[..], true));
        let (resp, cut) = target
            .get_capped("/jobmanager/log", 20, true)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((resp.body.len(), cut), (20, false));
        assert!(matches!(
            target.get_capped("/jobs/overview", 8, false).await,
            Err(HttpError::TooLarge(8))
        ));
        assert!(matches!(
            target.get_capped("/jars/x/run", 8, true).await,
            Err(HttpError::Denied(_))
        ));
    }

    #[tokio::test]
    async fn huge_timeouts_do_not_overflow() {
        let endpoint = peer(b"HTTP/1.1 204 No Content\r\n\r\n", Duration::ZERO).await;
        let target = HttpTarget::new(endpoint, false, Duration::MAX);
        let resp = target.get("/").await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(resp.status, 204);
    }

    /// The transport itself refuses what the deny-list names, for every
    /// entry point, before it connects: the listener sees no connection.
    #[tokio::test]
    async fn denied_requests_are_refused_before_connecting() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = l.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
        let target = HttpTarget::new(
            Endpoint::new(addr.ip(), addr.port()),
            false,
            Duration::from_millis(500),
        );
        let denied = |r: Result<Response, HttpError>| matches!(r, Err(HttpError::Denied(_)));
        assert!(denied(target.get("/jars/x.jar/run").await));
        assert!(denied(target.get("/jobs/j/YARN%2dCANCEL").await));
        assert!(denied(target.request("DELETE", "/cluster", None).await));
        assert!(denied(
            target.request("POST", "/v1/sessions", Some("{}")).await
        ));
        assert!(matches!(
            target.get_noted("/jars/x.jar/plan").await,
            Err(HttpError::Denied(_))
        ));
        let intrusive = target.clone().intrusive(true);
        assert!(denied(
            intrusive
                .request("POST", "/v1/sessions/h/statements", None)
                .await
        ));
        // Under a path prefix the full path is judged: a reverse proxy
        // routes `/run/config` on `/run`, whatever Flink would see.
        for prefix in ["/run", "/cl%75ster", "/jobs/j/yarn-stop"] {
            let under = HttpTarget {
                endpoint: target.endpoint.under(Some(prefix.into())),
                ..target.clone()
            };
            assert!(denied(under.get("/config").await), "{prefix}");
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(200), l.accept())
                .await
                .is_err(),
            "a denied request connected"
        );
    }
}
