//! `support::require`, the lookup every test uses for the programs it drives,
//! run in a child process (this test binary again, one ignored test) with a
//! PATH chosen here: a missing program fails the test naming its package,
//! FLINKSCAN_ALLOW_MISSING=1 (and only `1`) turns that into a visible SKIP
//! and a return, and a program on PATH is found.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// Which program the child looks for, and the install hint it gives.
const CHILD_BIN: &str = "FLINKSCAN_TEST_CHILD_BIN";
const CHILD_HINT: &str = "FLINKSCAN_TEST_CHILD_HINT";
const CHILD_TEST: &str = "missing_components::child_requires_a_program";

/// Run by the tests below in a child process, never on its own.
#[test]
#[ignore = "a child process of the other tests in tests/it/missing_components.rs"]
fn child_requires_a_program() {
    let bin = std::env::var(CHILD_BIN).expect("run by the other tests in this file");
    let hint = std::env::var(CHILD_HINT).expect("run by the other tests in this file");
    let Some(path) = support::require(&bin, &hint) else {
        println!("RETURNED");
        return;
    };
    println!("FOUND {}", path.display());
}

/// The child with `PATH=path`, `FLINKSCAN_ALLOW_MISSING=allow` (unset if None).
fn child(bin: &str, hint: &str, path: &Path, allow: Option<&str>) -> (Output, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([CHILD_TEST, "--exact", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env("PATH", path)
        .env(CHILD_BIN, bin)
        .env(CHILD_HINT, hint)
        .env_remove(support::ALLOW_MISSING);
    if let Some(v) = allow {
        cmd.env(support::ALLOW_MISSING, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

fn executable(path: &Path, mode: u32) {
    std::fs::write(path, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_missing_program_fails_the_test_naming_its_package() {
    let empty = tempfile::tempdir().unwrap();
    // Unset, and values other than exactly `1`, are no opt-out.
    for allow in [None, Some("0"), Some(""), Some("yes")] {
        let (out, text) = child("openssl", "the Debian package openssl", empty.path(), allow);
        assert!(!out.status.success(), "{allow:?} passed:\n{text}");
        assert!(
            text.contains(
                "`openssl` (not on PATH) is missing: install the Debian package openssl \
                 (`scripts/test.sh` installs it); or set FLINKSCAN_ALLOW_MISSING=1"
            ),
            "{allow:?}:\n{text}"
        );
        assert!(text.contains("1 failed"), "{allow:?}:\n{text}");
        assert!(
            !text.contains("RETURNED") && !text.contains("FOUND"),
            "{text}"
        );
    }
}

#[test]
fn the_opt_out_turns_a_missing_program_into_a_visible_skip() {
    let empty = tempfile::tempdir().unwrap();
    let (out, text) = child("sslyze", "the pip package sslyze", empty.path(), Some("1"));
    assert!(out.status.success(), "{text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "SKIP: `sslyze` (not on PATH) is missing (FLINKSCAN_ALLOW_MISSING=1); \
             to run this test: install the pip package sslyze"
        ),
        "{text}"
    );
    // The caller got None and returned: it did not go on as if found.
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("RETURNED"),
        "{text}"
    );
    assert!(!text.contains("FOUND"), "{text}");
}

#[test]
fn a_program_on_path_is_found_and_a_non_executable_file_is_not() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    executable(&first.path().join("openssl"), 0o644);
    executable(&second.path().join("openssl"), 0o755);
    let path = std::env::join_paths([first.path(), second.path()]).unwrap();
    let (out, text) = child(
        "openssl",
        "the Debian package openssl",
        Path::new(&path),
        None,
    );
    assert!(out.status.success(), "{text}");
    let want = format!("FOUND {}", second.path().join("openssl").display());
    assert!(text.contains(&want), "{text}");
    assert!(!text.contains("SKIP"), "{text}");

    // Only the non-executable one: missing.
    let (out, text) = child("openssl", "the Debian package openssl", first.path(), None);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("is missing"), "{text}");
}
