//! A bounded HTTP/1.1 client for probing: one request per connection, our own
//! socket (so TLS is decided by the sniff, not by a URL), no redirects, no
//! proxies, caps on header and body size, and one deadline for the whole
//! exchange.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::model::Endpoint;

/// Largest body we read from any peer; bigger answers are truncated.
pub const MAX_BODY: usize = 256 * 1024;
const MAX_HEAD: usize = 16 * 1024;
const USER_AGENT: &str = concat!("flinkscan/", env!("CARGO_PKG_VERSION"));

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
    #[error("body larger than {MAX_BODY} bytes")]
    TooLarge,
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
}

impl HttpTarget {
    pub async fn get(&self, path: &str) -> Result<Response, HttpError> {
        self.request("GET", path, None).await
    }

    /// Send one request. Callers outside `checks::deny` must not reach here
    /// with a state-changing request; the check engine enforces that.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Response, HttpError> {
        tokio::time::timeout(self.timeout, self.request_inner(method, path, body))
            .await
            .map_err(|_| HttpError::Timeout(self.timeout))?
    }

    async fn request_inner(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Response, HttpError> {
        let addr: SocketAddr = self.endpoint.socket_addr();
        let tcp = crate::net::connect(addr)
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
        let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(MAX_HEAD.max(8192))
            .max_headers(64)
            .handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let host = self
            .endpoint
            .hostname
            .as_ref()
            .map(|h| format!("{h}:{}", self.endpoint.port))
            .unwrap_or_else(|| self.endpoint.authority());
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, host)
            .header(hyper::header::USER_AGENT, USER_AGENT)
            .header(hyper::header::ACCEPT, "application/json, */*;q=0.5")
            .header(hyper::header::CONNECTION, "close");
        if body.is_some() {
            req = req.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or("").to_owned())))
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        let result = async {
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| HttpError::Protocol(e.to_string()))?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_ascii_lowercase(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = Limited::new(resp.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        HttpError::TooLarge
                    } else {
                        HttpError::Protocol(e.to_string())
                    }
                })?
                .to_bytes();
            Ok(Response {
                status,
                headers,
                body,
            })
        }
        .await;
        driver.abort();
        result
    }
}
