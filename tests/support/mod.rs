//! Shared test support: real Flink, and small loopback peers.

pub mod ecs;
pub mod flink;
pub mod peers;
