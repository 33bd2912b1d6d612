#!/usr/bin/env bash
# Print cargo's target directory for the crate in DIR (default: here): the
# CARGO_TARGET_DIR or build.target-dir a user set, else DIR/target. Scripts
# that run what cargo built ask here instead of assuming ./target.
#   scripts/target-dir.sh [DIR]
set -euo pipefail
cd "${1:-.}"
cargo metadata --no-deps --format-version 1 --offline |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
