# Sourced by the scripts .ci/run runs (scripts/validate-*.sh, benches/compare.sh):
# what to do when a component a check needs is missing. It fails naming what to
# install, unless the person running it opted out with FLINKSCAN_ALLOW_MISSING=1
# (.ci/run never does): then it says SKIP on stderr.

# missing_part WHAT REMEDY: fail, or under the opt-out print SKIP and return 0 so
# the caller can leave that part out.
missing_part() {
  if [ "${FLINKSCAN_ALLOW_MISSING:-}" = 1 ]; then
    echo "SKIP ${0##*/}: $1 is missing (FLINKSCAN_ALLOW_MISSING=1); to run it: $2" >&2
    return 0
  fi
  echo "${0##*/}: $1 is missing: $2 (scripts/test.sh installs it); or set FLINKSCAN_ALLOW_MISSING=1 to skip this check" >&2
  exit 1
}

# missing WHAT REMEDY: fail, or under the opt-out skip the whole script (exit 0).
missing() {
  missing_part "$@"
  exit 0
}
