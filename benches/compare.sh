#!/usr/bin/env bash
# Sweep benchmark: flinkscan beside the kernel-limit reference (a bare tokio
# connect loop, benches/bare_loop), nmap -sT and RustScan (if on PATH). All
# traffic stays on loopback (127.0.0.0/8) or inside a network namespace this
# script creates. Rounds are interleaved (tool order rotates each round) and
# medians are reported.
#
#   benches/compare.sh                     # live /16 x 4 ports + silent /20 x 4 ports, 3 rounds
#   benches/compare.sh --rounds 5
#   benches/compare.sh --nmap-silent-rounds 3   # nmap's silent /20 takes ~27 min a run; default 1
#   benches/compare.sh --smoke             # tiny ranges, 1 round, < 60 s after the build (CI)
#   benches/compare.sh --no-silent | --no-live | --no-lossy | --no-memory | --no-nmap
#   benches/compare.sh --lookalike-large   # also 100,000 Flink look-alikes (slow)
#   benches/compare.sh --loss-rates "0.01 0.03 0.05"   # lossy scenario's SYN loss rates
#
# nmap runs twice on the silent range: "nmap" pinned to the 1 s timeout
# (--initial/min/max-rtt-timeout 1s), whose congestion control slows it to
# ~10 probes/s when SYNs are dropped, and "nmap-par", the same plus
# --min-parallelism 1024 --min-hostgroup 4096, the strongest nmap found here.
#
# Scenario "live": 127.R.0.0/16 x 8081,8083,6123,6124 (262,144 probes, R random
# and free of listeners) with listeners this script opens on a few 127.R.x.y:port
# (some accept-and-close, some answer HTTP). Recall = listeners each tool found.
# Scenario "silent": in a fresh network namespace (unshare -n, root only) SYNs to
# 127.0.0.0/20 are dropped by iptables except to one listener, so every other
# probe waits for the 1 s timeout. Floor = ceil(probes / window) x 1 s, window =
# flinkscan's default concurrency (min(12288, hard RLIMIT_NOFILE - 512)).
#
# Scenario "lossy": in another fresh namespace, listeners spread over
# 127.0.0.0/20 x the 4 ports (160; smoke: /24 and 16) and iptables dropping a
# share of incoming SYNs at random (-m statistic --mode random). Each loss
# rate (and 0: the lossless baseline) runs flinkscan and `nmap -sT -T4` side
# by side; the report gives recall, time and the ratio to the same tool's
# lossless time.
#
# Scenario "memory": in another fresh namespace, iptables redirects every TCP
# connection to 127.20.0.0/16 to one HTTP server, so every probe of
# 127.20.0.0/16 x 2 ports finds a service (131,072; smoke: a /22, 2,048) and
# flinkscan identifies each one, writing --json, --sarif and --jsonl. The
# report gives flinkscan's peak RSS against the target (< 64 MiB for 100,000
# services) and the services its JSON report lists. Its look-alike variant
# ("flink-N") redirects 127.21.0.0/20 x 2 ports (8,192 probes; smoke: a /24,
# 512) to a Flink JobManager look-alike instead, so every probe is a Flink
# service with findings and a cluster of its own (target: < 64 MiB); with
# --lookalike-large also 50,000 addresses of 127.21.0.0/16 x 2 (100,000
# Flink services; target: < 256 MiB).
#
# flinkscan runs with default settings (identification on; the default
# connect timeout is the 1 s the floor uses) plus -q and --json to a
# temporary file. The bare loop uses the same window.
# Wall, CPU (user+sys) and peak RSS come from /usr/bin/time -f '%e %U %S %M'.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
. scripts/missing.sh

rounds=3
nmap_silent_rounds=1
smoke=0
do_live=1
do_silent=1
do_lossy=1
do_memory=1
lookalike_large=0
loss_rates="0.01 0.05"
do_nmap=1
bare_workers=""
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --rounds) rounds="$2"; shift ;;
    --nmap-silent-rounds) nmap_silent_rounds="$2"; shift ;;
    --bare-workers) bare_workers="$2"; shift ;;
    --no-live) do_live=0 ;;
    --no-silent) do_silent=0 ;;
    --no-lossy) do_lossy=0 ;;
    --no-memory) do_memory=0 ;;
    --lookalike-large) lookalike_large=1 ;;
    --loss-rates) loss_rates="$2"; shift ;;
    --no-nmap) do_nmap=0 ;;
    -h|--help) sed -n '2,45p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$smoke" = 1 ]; then rounds=1; nmap_silent_rounds=1; fi

ports=8081,8083,6123,6124
nports=4
timeout_s=1
is_root=0; [ "$(id -u)" = 0 ] && is_root=1

work="$(mktemp -d "${TMPDIR:-/tmp}/flinkscan-bench.XXXXXX")"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    # Negative id: the process group of a `setsid` child (namespace runs).
    kill -TERM -- "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do wait "${p#-}" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { echo "compare.sh: $*" >&2; }
need() { command -v "$1" >/dev/null 2>&1; }

apt_updated=0
apt_install() { # PACKAGE: install a Debian package if we can (root + apt-get)
  [ "$is_root" = 1 ] && need apt-get || return 1
  say "installing Debian package $1"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1; then
    if [ "$apt_updated" = 0 ]; then
      apt_updated=1
      apt-get update -qq >/dev/null 2>&1 || true
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1 || return 1
  fi
}

need python3 || apt_install python3 || missing "python3 (listeners and the report)" "install the Debian package python3"
TIME=/usr/bin/time
[ -x "$TIME" ] || apt_install time || missing "/usr/bin/time" "install the Debian package time"
if [ "$do_nmap" = 1 ] && ! need nmap; then
  apt_install nmap || missing_part "nmap (its rows)" "install the Debian package nmap, or pass --no-nmap"
fi
need nmap || do_nmap=0
# RustScan is an optional extra column, never installed here (no Debian package).
have_rustscan=0; need rustscan && have_rustscan=1
[ "$have_rustscan" = 1 ] || say "rustscan not on PATH: no RustScan rows (optional)"

say "building (cargo build --release; benches/bare_loop)"
cargo build --release --quiet
(cd benches/bare_loop && cargo build --release --quiet)
# Where cargo put them: CARGO_TARGET_DIR (or build.target-dir) moves both.
FLINKSCAN="$(bash scripts/target-dir.sh)/release/flinkscan"
BARE="$(bash scripts/target-dir.sh benches/bare_loop)/release/bare-loop"

# flinkscan raises its soft fd limit to the hard one and sizes its window as
# min(12288, hard - 512) (src/sweep.rs); the bare loop and RustScan get the same.
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
window=$(( hard - 512 )); [ "$window" -gt 12288 ] && window=12288; [ "$window" -lt 32 ] && window=32
[ -n "$bare_workers" ] || bare_workers=$window
ulimit -Sn "$hard" 2>/dev/null || true

results="$work/results.tsv"
: > "$results"
bench_started=$(date +%s)

# record SCENARIO TOOL PROBES EXPECTED FOUND RC TIMEFILE
record() {
  local wall user sys rss
  if ! read -r wall user sys rss < <(grep -E '^[0-9.]+ [0-9.]+ [0-9.]+ [0-9]+$' "$7" | tail -1); then
    say "$1/$2: no timing (killed or failed to start); row skipped"
    return 0
  fi
  [ "$6" = 0 ] || say "$1/$2: exit status $6"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$wall" "$user" "$sys" "$rss" >> "$results"
}

# Listeners: "close" ones accept and close, "http" ones answer a minimal HTTP
# response, "flink" ones are a Flink JobManager look-alike (real Flink
# 1.14.6's /config and /overview bodies from tests/fixtures/identify, empty
# TaskManager and job lists as an idle JobManager gives, 404 for everything
# else). One single-threaded process serves them all.
cat > "$work/listen.py" <<'EOF'
import os, selectors, socket, sys
sel = selectors.DefaultSelector()
REPLY = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
FIXTURES = os.environ.get("FLINK_FIXTURES", "")
def ok(body):
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
def page(name):
    return ok(open(os.path.join(FIXTURES, name), "rb").read() if FIXTURES else b"{}")
FLINK = {b"/config": page("jobmanager-1.14.6-config.json"), b"/overview": page("jobmanager-1.14.6-overview.json"),
         b"/taskmanagers": ok(b'{"taskmanagers":[]}'), b"/jobs/overview": ok(b'{"jobs":[]}')} if FIXTURES else {}
for spec in sys.argv[1:]:
    mode, host, port = spec.split(":")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(1024)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, ("listen", mode))
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        kind, mode = key.data
        try:
            if kind == "listen":
                c, _ = key.fileobj.accept()
                if mode in ("http", "flink"):
                    c.setblocking(False)
                    sel.register(c, selectors.EVENT_READ, ("conn", mode))
                else:
                    c.close()
            else:
                c = key.fileobj
                sel.unregister(c)
                try:
                    req = c.recv(4096)
                    if req:
                        reply = REPLY
                        if mode == "flink":
                            parts = req.split(b" ", 2)
                            reply = FLINK.get(parts[1] if len(parts) > 1 else b"", REPLY)
                        c.setblocking(True)
                        c.settimeout(2)
                        c.sendall(reply)
                except OSError:
                    pass
                c.close()
        except OSError:
            pass
EOF
wait_ready() { # FILE
  local i
  for i in $(seq 1 100); do grep -q ready "$1" 2>/dev/null && return 0; sleep 0.1; done
  say "listeners did not start: $(cat "$1" 2>/dev/null)"; return 1
}

# found_* FILE: open endpoints a tool reported, one "ip:port" a line.
found_flinkscan() {
  python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for s in d["services"]: print("%s:%s" % (s["ip"], s["port"]))' "$1" 2>/dev/null || true
}
found_nmap() {
  python3 -c 'import re,sys
for line in open(sys.argv[1]):
    m = re.match(r"Host: (\S+) .*Ports: (.*)", line)
    if m:
        for p in m.group(2).split(", "):
            f = p.split("/")
            if len(f) > 1 and f[1] == "open": print(f"{m.group(1)}:{f[0]}")' "$1" 2>/dev/null || true
}
found_rustscan() {
  python3 -c 'import re,sys
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) -> \[(.*)\]", line.strip())
    if m:
        for p in m.group(2).split(","):
            if p.strip(): print(f"{m.group(1)}:{p.strip()}")' "$1" 2>/dev/null || true
}
# recall EXPECTED_FILE FOUND_FILE: how many expected endpoints were found
recall() { sort -u "$2" | grep -cxFf "$1" || true; }

# run_tool SCENARIO TOOL CIDR PROBES EXPECTED_FILE: one timed run.
# Works in the caller's network namespace (so also inside unshare -n).
run_tool() {
  local sc="$1" tool="$2" cidr="$3" probes="$4" expect="$5" rc=0 n
  # No % in file names: nmap expands it in -oG names (strftime-like).
  local stem="$work/${sc//%/pct}-$tool"
  local out="$stem.out" tf="$stem.time" got="$stem.found"
  local limit=600
  : > "$tf"; : > "$got"
  case "$tool" in
    flinkscan)
      rm -f "$work/fs.json"
      timeout -k 10 "$limit" "$TIME" -f '%e %U %S %M' -o "$tf" "$FLINKSCAN" scan "$cidr" --ports "$ports" \
        -q --json "$work/fs.json" > "$out" 2>&1 || rc=$?
      [ "$rc" = 1 ] && rc=0 # 1 = findings at or above --fail-on: not an error here
      found_flinkscan "$work/fs.json" > "$got" ;;
    bare)
      timeout -k 10 "$limit" "$TIME" -f '%e %U %S %M' -o "$tf" "$BARE" "$cidr" "$ports" "$bare_workers" "${timeout_s}s" > "$out" 2>&1 || rc=$?
      # The bare loop only counts; its "found" is the open count.
      n=$(awk '/^probes/ {print $4}' "$out"); n=${n:-0} ;;
    nmap)
      [ "$sc" = silent ] && limit=3600
      local pin=()
      [ "$sc" = silent ] && pin=(--initial-rtt-timeout "${timeout_s}s" --min-rtt-timeout "${timeout_s}s" --max-rtt-timeout "${timeout_s}s")
      timeout -k 10 "$limit" "$TIME" -f '%e %U %S %M' -o "$tf" nmap -sT -n -Pn -T5 --max-retries 0 "${pin[@]}" \
        -p "$ports" "$cidr" -oG "$out" > /dev/null 2>&1 || rc=$?
      found_nmap "$out" > "$got" ;;
    nmap-t4)
      # nmap's own adaptive timing and retransmission (-T4: up to 6 retries).
      timeout -k 10 "$limit" "$TIME" -f '%e %U %S %M' -o "$tf" nmap -sT -n -Pn -T4 \
        -p "$ports" "$cidr" -oG "$out" > /dev/null 2>&1 || rc=$?
      found_nmap "$out" > "$got" ;;
    nmap-par)
      # nmap at its strongest on a silent range: the same pinned timeout, but
      # its congestion control overridden by a forced parallelism.
      timeout -k 10 "$limit" "$TIME" -f '%e %U %S %M' -o "$tf" nmap -sT -n -Pn -T5 --max-retries 0 \
        --initial-rtt-timeout "${timeout_s}s" --min-rtt-timeout "${timeout_s}s" --max-rtt-timeout "${timeout_s}s" \
        --min-hostgroup 4096 --min-parallelism 1024 -p "$ports" "$cidr" -oG "$out" > /dev/null 2>&1 || rc=$?
      found_nmap "$out" > "$got" ;;
    rustscan)
      timeout -k 10 "$limit" "$TIME" -f '%e %U %S %M' -o "$tf" rustscan --no-config -a "$cidr" -p "$ports" \
        -b "$window" -t $((timeout_s * 1000)) --tries 1 -u "$hard" -g > "$out" 2>&1 || rc=$?
      found_rustscan "$out" > "$got" ;;
  esac
  if [ "$tool" != bare ]; then
    n=$(recall "$expect" "$got")
    local extra
    extra=$(sort -u "$got" | grep -cvxFf "$expect" || true)
    [ "$extra" = 0 ] || say "$sc/$tool: $extra open endpoints that this script did not open"
  fi
  record "$sc" "$tool" "$probes" "$(wc -l < "$expect")" "$n" "$rc" "$tf"
}

# order ROUND TOOL...: the tools rotated by ROUND, so no tool always goes first.
order() {
  local r="$1"; shift
  local tools=("$@") n=$# i
  for i in $(seq 0 $((n - 1))); do echo "${tools[$(( (i + r) % n ))]}"; done
}

# ---------------------------------------------------------------- live
if [ "$do_live" = 1 ]; then
  # A second octet whose /16 has no listener on our ports, and no wildcard
  # listener on them at all (it would answer every probe of every tool).
  listening=$(ss -Hltn 2>/dev/null | awk '{print $4}' || true)
  port_re="(${ports//,/|})"
  if echo "$listening" | grep -Eq "^(0\.0\.0\.0|\*|\[::\]|\[::ffff:0\.0\.0\.0\]):$port_re\$"; then
    say "SKIP live scenario: a wildcard listener on one of $ports would answer every address"
    do_live=0
  fi
fi
if [ "$do_live" = 1 ]; then
  second=""
  for _ in $(seq 1 50); do
    cand=$(( (RANDOM % 200) + 30 ))
    if ! echo "$listening" | grep -Eq "^127\.$cand\."; then second=$cand; break; fi
  done
  [ -n "$second" ] || { say "no free 127.R.0.0/16 found"; exit 1; }
  net="127.$second"
  if [ "$smoke" = 1 ]; then live_cidr="$net.0.0/24"; live_hosts=256; else live_cidr="$net.0.0/16"; live_hosts=65536; fi
  live_probes=$(( live_hosts * nports ))
  specs=("close:$net.0.7:8081" "http:$net.0.99:8083" "close:$net.0.200:6124" "http:$net.0.250:8081")
  if [ "$smoke" = 0 ]; then
    specs+=("close:$net.17.3:6123" "http:$net.128.128:8081" "close:$net.200.9:8083" "http:$net.255.254:6124")
  fi
  : > "$work/live.expected"
  for s in "${specs[@]}"; do echo "${s#*:}" >> "$work/live.expected"; done
  python3 "$work/listen.py" "${specs[@]}" > "$work/listen.out" 2>&1 &
  pids+=($!)
  wait_ready "$work/listen.out"
  tools=(flinkscan bare)
  [ "$do_nmap" = 1 ] && tools+=(nmap)
  [ "$have_rustscan" = 1 ] && tools+=(rustscan)
  for r in $(seq 1 "$rounds"); do
    say "live round $r/$rounds: $live_cidr x $ports ($live_probes probes, ${#specs[@]} listeners)"
    for t in $(order "$r" "${tools[@]}"); do
      run_tool live "$t" "$live_cidr" "$live_probes" "$work/live.expected"
    done
  done
fi

# ---------------------------------------------------------------- silent
if [ "$do_silent" = 1 ]; then
  if [ "$is_root" != 1 ]; then
    say "SKIP silent scenario: needs root (unshare -n and iptables in a private network namespace)"
    do_silent=0
  elif ! need unshare || ! need ip || ! unshare -n true 2>/dev/null; then
    say "SKIP silent scenario: cannot create a network namespace (unshare -n)"
    do_silent=0
  else
    if ! need iptables && ! apt_install iptables; then
      missing_part "iptables (the silent scenario)" "install the Debian package iptables"
      do_silent=0
    fi
  fi
fi
if [ "$do_silent" = 1 ]; then
  if [ "$smoke" = 1 ]; then silent_cidr="127.0.0.0/24"; silent_hosts=256; else silent_cidr="127.0.0.0/20"; silent_hosts=4096; fi
  silent_probes=$(( silent_hosts * nports ))
  echo "127.0.0.1:8081" > "$work/silent.expected"
  export work results ports nports timeout_s window hard bare_workers FLINKSCAN BARE TIME rounds nmap_silent_rounds \
    do_nmap have_rustscan silent_cidr silent_probes smoke
  export -f run_tool record recall found_flinkscan found_nmap found_rustscan order say wait_ready
  # Everything below runs inside a fresh network namespace that holds only its
  # own loopback; it disappears when these processes exit.
  cat > "$work/ns.sh" <<'NS'
set -euo pipefail
lp=""
trap '[ -z "$lp" ] || kill "$lp" 2>/dev/null || true' EXIT
ip link set lo up
iptables -A OUTPUT -p tcp -d 127.0.0.1 --dport 8081 -j ACCEPT
iptables -A OUTPUT -p tcp --syn -d 127.0.0.0/20 -j DROP
python3 "$work/listen.py" close:127.0.0.1:8081 > "$work/ns-listen.out" 2>&1 &
lp=$!
wait_ready "$work/ns-listen.out"
tools=(flinkscan bare)
[ "$do_nmap" = 1 ] && tools+=(nmap-par)
[ "$have_rustscan" = 1 ] && tools+=(rustscan)
for r in $(seq 1 "$rounds"); do
  say "silent round $r/$rounds: $silent_cidr x $ports in a network namespace ($silent_probes probes, ${timeout_s} s timeout)"
  this=("${tools[@]}")
  if [ "$do_nmap" = 1 ] && [ "$r" -le "$nmap_silent_rounds" ]; then
    this+=(nmap)
    [ "$smoke" = 1 ] || say "  (nmap pinned to ${timeout_s} s takes ~27 min on a /20 x 4 ports)"
  fi
  for t in $(order "$r" "${this[@]}"); do
    # nmap on a silent range is slow: a smoke run probes it on 16 hosts only.
    if [ "$t" = nmap ] && [ "$smoke" = 1 ]; then
      run_tool silent nmap 127.0.0.0/28 64 "$work/silent.expected"
      sed -i '$ s/^silent\tnmap/silent\tnmap\/28/' "$work/results.tsv"
    else
      run_tool silent "$t" "$silent_cidr" "$silent_probes" "$work/silent.expected"
    fi
  done
done
NS
  setsid unshare -n bash "$work/ns.sh" < /dev/null > "$work/ns.log" 2>&1 &
  ns_pid=$!
  pids+=("-$ns_pid")
  ns_rc=0
  wait "$ns_pid" || ns_rc=$?
  cat "$work/ns.log" >&2
  [ "$ns_rc" = 0 ] || say "silent scenario failed (exit $ns_rc)"
fi

# ---------------------------------------------------------------- lossy
if [ "$do_lossy" = 1 ]; then
  if [ "$is_root" != 1 ] || ! need unshare || ! unshare -n true 2>/dev/null || ! need iptables; then
    say "SKIP lossy scenario: needs root, unshare -n and iptables (Debian package: iptables)"
    do_lossy=0
  fi
fi
if [ "$do_lossy" = 1 ]; then
  if [ "$smoke" = 1 ]; then lossy_cidr="127.0.0.0/24"; lossy_hosts=256; nlisten=16
  else lossy_cidr="127.0.0.0/20"; lossy_hosts=4096; nlisten=160; fi
  lossy_probes=$(( lossy_hosts * nports ))
  # Listeners spread over the range, every port, half accept-and-close and
  # half HTTP; a fixed seed so every run scans the same layout.
  python3 - "$lossy_hosts" "$nlisten" "$ports" > "$work/lossy.specs" <<'PY'
import random, sys
hosts, n, ports = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
rng = random.Random(19)
picked = set()
while len(picked) < n:
    h = rng.randrange(1, hosts - 1)
    if h % 256 in (0, 255):
        continue
    picked.add((h, rng.choice(ports)))
for i, (h, p) in enumerate(sorted(picked)):
    print(f"{'http' if i % 2 else 'close'}:127.0.{h // 256}.{h % 256}:{p}")
PY
  cut -d: -f2- "$work/lossy.specs" > "$work/lossy.expected"
  export work results ports nports FLINKSCAN TIME rounds do_nmap lossy_cidr lossy_probes loss_rates
  export -f run_tool record recall found_flinkscan found_nmap found_rustscan order say wait_ready
  cat > "$work/lossy.sh" <<'NS'
set -euo pipefail
lp=""
trap '[ -z "$lp" ] || kill "$lp" 2>/dev/null || true' EXIT
ip link set lo up
# shellcheck disable=SC2046
python3 "$work/listen.py" $(cat "$work/lossy.specs") > "$work/lossy-listen.out" 2>&1 &
lp=$!
wait_ready "$work/lossy-listen.out"
tools=(flinkscan)
[ "$do_nmap" = 1 ] && tools+=(nmap-t4)
for r in $(seq 1 "$rounds"); do
  for rate in 0 $loss_rates; do
    iptables -F INPUT
    if [ "$rate" != 0 ]; then
      iptables -A INPUT -p tcp --syn -m statistic --mode random --probability "$rate" -j DROP
    fi
    pct=$(python3 -c "import sys; print(f'{float(sys.argv[1]) * 100:g}%')" "$rate")
    say "lossy round $r/$rounds: $lossy_cidr x $ports, $pct of SYNs dropped ($(wc -l < "$work/lossy.expected") listeners)"
    for t in $(order "$r" "${tools[@]}"); do
      run_tool "loss-$pct" "$t" "$lossy_cidr" "$lossy_probes" "$work/lossy.expected"
    done
  done
done
NS
  setsid unshare -n bash "$work/lossy.sh" < /dev/null > "$work/lossy.log" 2>&1 &
  ns_pid=$!
  pids+=("-$ns_pid")
  ns_rc=0
  wait "$ns_pid" || ns_rc=$?
  cat "$work/lossy.log" >&2
  [ "$ns_rc" = 0 ] || say "lossy scenario failed (exit $ns_rc)"
fi

# ---------------------------------------------------------------- memory
if [ "$do_memory" = 1 ]; then
  if [ "$is_root" != 1 ] || ! need unshare || ! unshare -n true 2>/dev/null || ! need iptables; then
    say "SKIP memory scenario: needs root, unshare -n and iptables (Debian package: iptables)"
    do_memory=0
  fi
fi
if [ "$do_memory" = 1 ]; then
  if [ "$smoke" = 1 ]; then memory_cidr="127.20.0.0/22"; memory_probes=2048
  else memory_cidr="127.20.0.0/16"; memory_probes=131072; fi
  # Look-alike runs, REDIRECTED=PROBES=TARGETS (x 2 ports, targets
  # comma-separated): a /20 always; with --lookalike-large the first 50,000
  # addresses of the /16 (100,000 Flink services, the target's size).
  if [ "$smoke" = 1 ]; then lookalike_specs="127.21.0.0/24=512=127.21.0.0/24"
  else lookalike_specs="127.21.0.0/20=8192=127.21.0.0/20"; fi
  [ "$lookalike_large" = 1 ] && lookalike_specs="$lookalike_specs 127.21.0.0/16=100000=127.21.0.0/17,127.21.128.0/18,127.21.192.0/23,127.21.194.0/24,127.21.195.0/26,127.21.195.64/28"
  export work results FLINKSCAN TIME memory_cidr memory_probes lookalike_specs ROOT
  export -f record say wait_ready
  cat > "$work/memory.sh" <<'NS'
set -euo pipefail
lp=""
trap '[ -z "$lp" ] || kill "$lp" 2>/dev/null || true' EXIT
ip link set lo up
sysctl -q -w net.core.somaxconn=65535 2>/dev/null || true
# Every connection to the range lands on one server: every probe is a service.
iptables -t nat -A OUTPUT -p tcp -d 127.20.0.0/16 -j REDIRECT --to-ports 9000
python3 "$work/listen.py" http:127.0.0.1:9000 > "$work/memory-listen.out" 2>&1 &
lp=$!
wait_ready "$work/memory-listen.out"
say "memory: $memory_cidr x 8081,8083 ($memory_probes probes), every one answering HTTP"
rc=0
timeout -k 10 1800 "$TIME" -f '%e %U %S %M' -o "$work/memory.time" "$FLINKSCAN" scan "$memory_cidr" \
  --ports 8081,8083 -q --json "$work/memory.json" --sarif "$work/memory.sarif" \
  --jsonl "$work/memory.jsonl" > "$work/memory.out" 2>&1 || rc=$?
[ "$rc" = 1 ] && rc=0
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["services"]))' "$work/memory.json" 2>/dev/null || echo 0)
record memory flinkscan "$memory_probes" "$memory_probes" "$n" "$rc" "$work/memory.time"
kill "$lp" 2>/dev/null || true; wait "$lp" 2>/dev/null || true; lp=""

# Variant: every connection lands on a Flink JobManager look-alike, so every
# probe is a Flink service that stays in memory (with its findings and its
# own cluster) and is checked: the worst case for a scan's memory.
for spec in $lookalike_specs; do
  cidr=${spec%%=*}; rest=${spec#*=}; probes=${rest%%=*}; sc="flink-$probes"
  IFS=, read -r -a targets <<< "${rest#*=}"
  iptables -t nat -F OUTPUT
  iptables -t nat -A OUTPUT -p tcp -d "$cidr" -j REDIRECT --to-ports 9001
  : > "$work/$sc-listen.out"
  FLINK_FIXTURES="$ROOT/tests/fixtures/identify" python3 "$work/listen.py" flink:127.0.0.1:9001 > "$work/$sc-listen.out" 2>&1 &
  lp=$!
  wait_ready "$work/$sc-listen.out"
  say "memory: $cidr x 8081,8083 ($probes probes), every one a Flink JobManager look-alike"
  rc=0
  timeout -k 10 3600 "$TIME" -f '%e %U %S %M' -o "$work/$sc.time" "$FLINKSCAN" scan "${targets[@]}" \
    --ports 8081,8083 -q --json "$work/$sc.json" --sarif "$work/$sc.sarif" \
    --jsonl "$work/$sc.jsonl" > "$work/$sc.out" 2>&1 || rc=$?
  [ "$rc" = 1 ] && rc=0
  # "found": the Flink services the JSON report lists.
  n=$(python3 -c 'import json,sys; print(sum(1 for s in json.load(open(sys.argv[1]))["services"] if s["flink"]))' "$work/$sc.json" 2>/dev/null || echo 0)
  record "$sc" flinkscan "$probes" "$probes" "$n" "$rc" "$work/$sc.time"
  kill "$lp" 2>/dev/null || true; wait "$lp" 2>/dev/null || true; lp=""
done
NS
  setsid unshare -n bash "$work/memory.sh" < /dev/null > "$work/memory.log" 2>&1 &
  ns_pid=$!
  pids+=("-$ns_pid")
  ns_rc=0
  wait "$ns_pid" || ns_rc=$?
  cat "$work/memory.log" >&2
  [ "$ns_rc" = 0 ] || say "memory scenario failed (exit $ns_rc)"
fi

say "measurements took $(( $(date +%s) - bench_started )) s"

# ---------------------------------------------------------------- report
python3 - "$results" "$window" "$timeout_s" "$(nproc)" "$smoke" <<'EOF'
import math, statistics, sys
from collections import defaultdict
path, window, timeout, cores = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rows = defaultdict(list)
for line in open(path):
    sc, tool, probes, expected, found, wall, user, sys_, rss = line.rstrip("\n").split("\t")
    rows[(sc, tool)].append(dict(probes=int(probes), expected=int(expected), found=int(found),
                                 wall=float(wall), cpu=float(user) + float(sys_), rss=int(rss) / 1024))
smoke = sys.argv[5] == "1"
if smoke and not any(tool == "flinkscan" for _, tool in rows):
    # A smoke run (CI) that timed no flinkscan run checked nothing: fail it.
    print("smoke run: no flinkscan results, nothing was checked"); sys.exit(1)
if not rows:
    print("no results"); sys.exit(0)
med = {}
for k, v in rows.items():
    wall = statistics.median(x["wall"] for x in v)
    med[k] = dict(n=len(v), probes=v[0]["probes"], wall=wall, rate=v[0]["probes"] / wall if wall else 0.0,
                  cpu=statistics.median(x["cpu"] for x in v), rss=max(x["rss"] for x in v),
                  found=min(x["found"] for x in v), expected=v[0]["expected"])
order = {"flinkscan": 0, "bare": 1, "nmap": 2, "nmap-par": 3, "nmap-t4": 4, "rustscan": 5}
def loss_of(sc): return float(sc[5:-1]) if sc.startswith("loss-") else -1.0
print(f"\nmachine: {cores} cores; medians of interleaved rounds (n = runs); window {window}; RSS = max over runs")
hdr = f"{'scenario':8} {'tool':10} {'n':>2} {'probes':>7} {'wall s':>8} {'probes/s':>9} {'CPU s':>7} {'RSS MiB':>7} {'recall':>7} {'vs bare':>7} {'vs nmap':>8}"
print(hdr); print("-" * len(hdr))
for (sc, tool) in sorted(med, key=lambda k: (k[0] != "live", k[0] == "silent", k[0] == "memory" or k[0].startswith("flink-"), loss_of(k[0]), order.get(k[1].split("/")[0], 9), k[1])):
    m = med[(sc, tool)]
    def ratio(other):
        o = med.get((sc, other))
        return f"{m['rate'] / o['rate']:.2f}x" if o and o["rate"] else "-"
    recall = f"{m['found']}/{m['expected']}"
    print(f"{sc:8} {tool:10} {m['n']:>2} {m['probes']:>7} {m['wall']:>8.2f} {m['rate']:>9.0f} {m['cpu']:>7.2f} "
          f"{m['rss']:>7.1f} {recall:>7} {ratio('bare'):>7} {ratio('nmap'):>8}")
print("(vs bare, vs nmap: probes/s of this tool / probes/s of that one; bare 'recall' is its open count)")

# A smoke run's ranges are too small to judge (process start-up dominates).
def verdict(ok): return "(smoke run: not judged)" if smoke else ("PASS" if ok else "MISS")
print()
fs, bare = med.get(("live", "flinkscan")), med.get(("live", "bare"))
if fs and bare:
    r = fs["rate"] / bare["rate"]
    same = fs["found"] == fs["expected"] and bare["found"] == bare["expected"]
    print(f"live:   flinkscan at {r:.2f}x the bare loop's probes/s (target >= 0.85x), recall "
          f"{fs['found']}/{fs['expected']} vs {bare['found']}/{bare['expected']}: {verdict(r >= 0.85 and same)}")
    print(f"live:   flinkscan peak RSS {fs['rss']:.1f} MiB with identification on (target <= 32 MiB): {verdict(fs['rss'] <= 32)}")
s = med.get(("silent", "flinkscan"))
if s:
    floor = math.ceil(s["probes"] / window) * timeout
    print(f"silent: floor = ceil({s['probes']} / {window}) x {timeout:g} s = {floor:g} s")
    for tool in ("flinkscan", "bare", "rustscan"):
        t = med.get(("silent", tool))
        if t:
            print(f"silent: {tool:9} {t['wall']:.2f} s = {t['wall'] / floor:.3f}x the floor"
                  + (f" (target <= 1.1x): {verdict(t['wall'] <= 1.1 * floor)}" if tool == "flinkscan" else ""))
    n = med.get(("silent", "nmap"))
    if n:
        sp = s["rate"] / n["rate"]
        print(f"silent: flinkscan {sp:.0f}x nmap's probes/s, nmap pinned to {timeout:g} s (target >= 10x): {verdict(sp >= 10)}")
    n = med.get(("silent", "nmap-par"))
    if n:
        sp = s["rate"] / n["rate"]
        print(f"silent: flinkscan {sp:.1f}x the probes/s of nmap pinned to {timeout:g} s with --min-parallelism 1024 "
              f"--min-hostgroup 4096 (its strongest setting found here)")
    if s["found"] != s["expected"]:
        print(f"silent: flinkscan found {s['found']}/{s['expected']} listeners")
for sc, tool in sorted(k for k in med if k[0].startswith("flink-")):
    m = med[(sc, tool)]
    limit = 64 if m["probes"] <= 8192 else 256
    print(f"memory: flinkscan peak RSS {m['rss']:.1f} MiB for {m['found']} Flink look-alike services "
          f"({m['expected']} probes; {1024 * m['rss'] / max(m['found'], 1):.1f} KiB a service), JSON + SARIF + JSONL written "
          f"(target < {limit} MiB): {verdict(m['rss'] < limit and m['found'] >= 0.99 * m['expected'])}")
m = med.get(("memory", "flinkscan"))
if m:
    print(f"memory: flinkscan peak RSS {m['rss']:.1f} MiB while identifying {m['found']} services "
          f"({m['expected']} probes, every one answering), JSON + SARIF + JSONL written "
          f"(target < 64 MiB for 100,000 services): {verdict(m['rss'] < 64 and m['found'] >= min(m['expected'], 100000))}")
# Lossy: recall (worst run) and median time against the same tool's lossless run.
base = {t: med.get(("loss-0%", t)) for t in ("flinkscan", "nmap-t4")}
lossy = sorted({sc for sc, _ in med if sc.startswith("loss-") and sc != "loss-0%"}, key=loss_of)
for sc in lossy:
    fs, nm = med.get((sc, "flinkscan")), med.get((sc, "nmap-t4"))
    parts = []
    for name, m in (("flinkscan", fs), ("nmap -T4", nm)):
        if m:
            b = base["flinkscan" if name == "flinkscan" else "nmap-t4"]
            ratio = f", {m['wall'] / b['wall']:.2f}x its lossless time" if b and b["wall"] else ""
            parts.append(f"{name} recall {m['found']}/{m['expected']} ({100 * m['found'] / m['expected']:.1f}%) in {m['wall']:.2f} s{ratio}")
    print(f"lossy {sc[5:]:>4}: " + "; ".join(parts))
    if fs:
        b = base["flinkscan"]
        ok_recall = fs["found"] >= 0.995 * fs["expected"] and (not nm or fs["found"] >= nm["found"])
        ok_time = bool(b) and fs["wall"] <= 1.5 * b["wall"]
        print(f"lossy {sc[5:]:>4}: flinkscan recall >= 99.5% and >= nmap -T4's, time <= 1.5x lossless: "
              f"{verdict(ok_recall and ok_time)}")
EOF
