//! Shared test support: real Flink, and small loopback peers.

pub mod flink;
pub mod peers;
