//! flinkscan: an active network exposure scanner for Apache Flink.
//!
//! The pipeline stages are the top-level modules, in the order data flows:
//! `targets` -> `sweep` -> `identify` -> `checks` -> `hosts`/`clusters` ->
//! `report`, driven by `scan`; `commands` holds the subcommands the binary
//! dispatches to. `plan` validates user input before anything is sent; `tls`
//! holds the handshakes and the TLS audit; `untrusted` is the only way text
//! from a remote host reaches a report; `datafiles` is the only way a user's
//! data directory or archive is read; `atomic` writes every output file.
//!
//! Imports point down these layers, from the bottom: `untrusted`, `model`,
//! `datafiles`, `atomic`, `spool`, `flink_rest`; `net`, `tls`, `transport`;
//! `targets`, `advisories`; `state`; `sweep`, `identify`, `inventory`,
//! `checks`; `hosts`, `clusters`; `report`; `plan`; `scan`; `cli`,
//! `profile`, `manual`; `commands`. See docs/development.md.

pub mod advisories;
pub mod atomic;
pub mod checks;
pub mod cli;
pub mod clusters;
pub mod commands;
pub mod datafiles;
pub mod flink_rest;
pub mod hosts;
pub mod identify;
pub mod inventory;
pub mod manual;
pub mod model;
pub mod net;
pub mod plan;
pub mod profile;
pub mod report;
pub mod scan;
pub mod spill;
pub mod spool;
pub mod state;
pub mod sweep;
pub mod targets;
pub mod tls;
pub mod transport;
pub mod untrusted;
