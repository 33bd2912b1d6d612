//! The integration tests: one crate (one link, one binary) with a module per area.
//! `cargo test --test it real_flink::` runs one area; shared helpers live in tests/support.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod advisory_edges;
mod checks_engine;
mod copies;
mod field;
mod flink_versions;
mod follow;
mod foundation;
mod fuzz_corpus;
mod habits;
mod hostile_peers;
mod html_report;
mod identify_fail_loud;
mod inputs_fail_loud;
mod jobs;
mod k8s_operator;
mod lookalikes;
mod lossy;
mod missing_components;
mod outputs_fail_loud;
mod probe_gating;
mod proxy;
mod real_flink;
mod reliability;
mod report_formats;
mod reverse_proxy;
mod safety;
mod shards;
mod sql_gateway;
mod tls_audit;
mod tls_fail_loud;
mod url_checkpoints;
mod yarn;
