//! Shared test support: real Flink, small loopback peers, certificates and
//! openssl servers (`tls`), the one runner of the flinkscan binary (`scan`),
//! and the lookup of the external programs the tests drive.
#![allow(dead_code)]

pub mod ecs;
pub mod flink;
pub mod jobs;
pub mod peers;
pub mod scan;
pub mod tls;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Set to `1` by someone who runs the tests without every component: a test
/// whose component is missing then says SKIP and passes. CI never sets it.
pub const ALLOW_MISSING: &str = "FLINKSCAN_ALLOW_MISSING";

/// `bin` as found on PATH. When it is missing the test fails, naming what to
/// install (`install`, e.g. "the Debian package openssl"), unless the runner
/// opted out with FLINKSCAN_ALLOW_MISSING=1: then a SKIP line goes to stderr
/// and this returns None, and the caller returns. The opt-out needs a return
/// in the caller, hence an Option rather than a bare path.
#[must_use = "a missing component under the opt-out must end the test"]
pub fn require(bin: &str, install: &str) -> Option<PathBuf> {
    let found = find_on_path(bin, std::env::var_os("PATH").as_deref());
    if found.is_none() {
        missing(
            &format!("`{bin}` (not on PATH)"),
            &format!("install {install} (`scripts/test.sh` installs it)"),
        );
    }
    found
}

/// `bin` as found on PATH, or a failure naming what to install, whatever
/// the opt-out says: for helpers that cannot end their caller's test.
pub fn must_find(bin: &str, install: &str) -> PathBuf {
    find_on_path(bin, std::env::var_os("PATH").as_deref()).unwrap_or_else(|| {
        panic!("`{bin}` (not on PATH) is needed: install {install} (`scripts/test.sh` installs it)")
    })
}

/// The common end of a missing component of any kind (a program, IPv6 on
/// loopback): fails the test saying `remedy`, or under the opt-out prints a
/// SKIP line and returns, after which the caller returns.
pub fn missing(what: &str, remedy: &str) {
    if std::env::var_os(ALLOW_MISSING).as_deref() == Some(OsStr::new("1")) {
        eprintln!("SKIP: {what} is missing ({ALLOW_MISSING}=1); to run this test: {remedy}");
        return;
    }
    panic!("{what} is missing: {remedy}; or set {ALLOW_MISSING}=1 to skip the tests that need it");
}

/// The first executable `bin` in the PATH-style list `path`; a `bin` with a
/// slash is taken as a path.
pub fn find_on_path(bin: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    if bin.contains('/') {
        return is_executable(Path::new(bin)).then(|| PathBuf::from(bin));
    }
    std::env::split_paths(path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(bin))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
