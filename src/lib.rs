//! flinkscan: an active network exposure scanner for Apache Flink.
//!
//! The pipeline stages are the top-level modules, in the order data flows:
//! `targets` -> `sweep` -> `identify` -> `checks` -> `report`, driven by
//! `scan`. `plan` validates user input before anything is sent; `tls` holds
//! the handshakes and the TLS audit; `untrusted` is the only way text from a
//! remote host reaches a report; `datafiles` is the only way a user's data
//! directory or archive is read.

pub mod advisories;
pub mod checks;
pub mod cli;
pub mod clusters;
pub mod datafiles;
pub mod flink_rest;
pub mod hosts;
pub mod identify;
pub mod inventory;
pub mod manual;
pub mod model;
pub mod net;
pub mod plan;
pub mod platforms;
pub mod profile;
pub mod report;
pub mod scan;
pub mod state;
pub mod sweep;
pub mod targets;
pub mod tls;
pub mod transport;
pub mod untrusted;
