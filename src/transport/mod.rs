//! What identification and the checks both talk through: the HTTP client
//! over our own connections ([`http`]), the GET answers one service's scan
//! shares ([`answers`]), the raw BLOB / RPC / JRMI / data-port
//! exchanges ([`wire`]), the deny-list every request passes before a byte
//! is written ([`deny`]), and the evidence a response leaves in a report.
//! Connections themselves come from [`crate::net`] (retries, SOCKS5).
//!
//! Every read is bounded in bytes and time: nothing a peer sends is trusted.

pub mod answers;
pub mod deny;
pub mod http;
pub mod wire;

use crate::model::Evidence;
use crate::untrusted;
use http::Response;

/// An HTTP exchange as evidence: the request line, the status and a
/// sanitized excerpt of the body.
pub fn evidence_http(request: &str, resp: &Response) -> Evidence {
    Evidence {
        request: request.to_string().into(),
        status: Some(resp.status),
        excerpt: untrusted::excerpt(&resp.body, 200).into(),
    }
}
