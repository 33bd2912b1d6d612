#!/usr/bin/env bash
# The README's test command: install whatever the tests need that is missing,
# then run the whole suite. `.ci/run` calls this same script.
#   scripts/test.sh               install what is missing, then `cargo test`
#   scripts/test.sh --deps-only   install and check the components, nothing else
#   scripts/test.sh -- ARGS       extra arguments for `cargo test` (a filter, --test NAME)
# Installing needs root and apt-get (Debian); otherwise the missing packages are
# named and the script stops. Real Flink is downloaded once from PyPI into
# ${FLINKSCAN_CACHE:-~/.cache/flinkscan}.
set -euo pipefail
cd "$(dirname "$0")/.."

# nginx, iptables and ip live in sbin, which a non-root PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"

# Every component the tests, scripts/validate-*.sh and benches/compare.sh --smoke
# drive, as "check|Debian package". A check is a command name, or a shell test.
components=(
  "openssl|openssl"                       # tls_audit, lookalikes: s_server, certificates
  "java|openjdk-17-jdk-headless"          # real Flink
  "keytool|openjdk-17-jdk-headless"       # real Flink's TLS keystores
  "javac|openjdk-17-jdk-headless"         # tests/it/jobs.rs builds a job jar
  "jar|openjdk-17-jdk-headless"           # tests/it/jobs.rs builds a job jar
  "curl|curl"                             # tests/it/jobs.rs uploads and runs it (mutual TLS too)
  "nmap|nmap"                             # benches/compare.sh
  "nginx|nginx-light"                     # lookalikes
  "redis-server|redis-server"             # lookalikes
  "python3|python3"                       # lookalikes, scripts, benches
  "python3 -m pip --version|python3-pip"  # scripts/flink-home.sh downloads Flink with pip
  "python3 -c 'import ensurepip, venv'|python3-venv" # validate-*.sh: checkov, sarif-tools
  "npm|npm"                               # validate-external.sh: sarif-multitool
  "test -x /usr/bin/time|time"            # benches/compare.sh
  "iptables|iptables"                     # benches/compare.sh silent scenario, tests/it/proxy.rs
  "ip|iproute2"                           # benches/compare.sh
  "ss|iproute2"                           # benches/compare.sh
  "unshare|util-linux"                    # benches/compare.sh, tests/it/proxy.rs
  "flock|util-linux"                      # scripts/flink-home.sh
  "microsocks|microsocks"                 # tests/it/proxy.rs: a real SOCKS5 jump host
  "man|man-db"                            # tests/it/habits.rs: `man -l` renders `flinkscan man`
)

have() { # CHECK
  case "$1" in
    *" "*) bash -c "$1" >/dev/null 2>&1 ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing_packages() {
  local c pkgs=()
  for c in "${components[@]}"; do
    have "${c%%|*}" || pkgs+=("${c##*|}")
  done
  [ ${#pkgs[@]} -eq 0 ] || printf '%s\n' "${pkgs[@]}" | sort -u
}

mapfile -t need < <(missing_packages)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "scripts/test.sh: missing Debian packages ${need[*]}, and cannot install them" \
      "(needs root and apt-get): apt-get install ${need[*]}" >&2
    exit 1
  fi
  echo "scripts/test.sh: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  mapfile -t still < <(missing_packages)
  if [ ${#still[@]} -gt 0 ]; then
    echo "scripts/test.sh: still missing after apt-get install: ${still[*]}" >&2
    exit 1
  fi
fi

# IPv6 on loopback (tests/it/foundation.rs scans [::1]).
v6() { python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; }
if ! v6; then
  sysctl -q -w net.ipv6.conf.lo.disable_ipv6=0 >/dev/null 2>&1 || true
  v6 || { echo "scripts/test.sh: no IPv6 on loopback (::1) and sysctl could not enable it" >&2; exit 1; }
fi

# A real browser for the HTML report test (tests/it/html_report.rs): Debian's
# Chromium driven by Playwright for Python, which uses the system Chromium
# (never `playwright install`, which downloads its own browser).
if ! command -v chromium >/dev/null && ! command -v chromium-headless-shell >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "warning: chromium missing and not root; the HTML report test will fail" >&2
  fi
fi
python3 -c "import playwright.sync_api" 2>/dev/null || python3 -m pip install -q playwright
# Two real Markdown renderers with autolinking (tests/it/outputs_fail_loud.rs).
python3 -c "import cmarkgfm, markdown_it, linkify_it" 2>/dev/null \
  || python3 -m pip install -q cmarkgfm markdown-it-py linkify-it-py

# Real Flink for the integration tests: downloaded once into the cache.
for v in 1.14.6 1.16.3 1.20.1 2.1.1 2.3.0; do
  bash scripts/flink-home.sh "$v" >/dev/null
done

if [ "${1:-}" = --deps-only ]; then
  echo "scripts/test.sh: every component is installed"
  exit 0
fi


if [ "${1:-}" = -- ]; then shift; fi
cargo test "$@"
