//! Shared test support.

pub mod flink;
