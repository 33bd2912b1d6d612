#!/usr/bin/env bash
# Sweep benchmark: flinkscan beside the kernel-limit reference (a bare tokio
# connect loop, benches/bare_loop), nmap -sT and RustScan (if on PATH), all on
# loopback, rounds interleaved, medians reported.
#
#   benches/compare.sh            # live /16 x 4 ports and silent /20 x 4 ports, 3 rounds
#   benches/compare.sh --rounds 5
#   benches/compare.sh --smoke    # tiny ranges, 1 round: proves the script works (CI)
#
# Live: 127.R.0.0/16 x 8081,8083,6123,6124 (262,144 probes) with listeners this
# script opens; recall = open ports found / listeners opened.
# Silent: inside a network namespace this script creates (unshare -n), SYNs to
# 127.0.0.0/20 are dropped by iptables except for one listener; every other probe
# waits for its 1 s timeout. Floor = ceil(probes / window) x timeout.
# Traffic stays on loopback or inside that namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
smoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1; rounds=1 ;;
    --rounds) rounds="$2"; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nmap && [ "$(id -u)" = 0 ] && need apt-get; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nmap >/dev/null 2>&1 || true
fi
TIME=/usr/bin/time
if [ ! -x "$TIME" ] && [ "$(id -u)" = 0 ] && need apt-get; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1 || true
fi
[ -x "$TIME" ] || { echo "benchmark needs /usr/bin/time (Debian package: time)" >&2; exit 1; }

cargo build --release --quiet
(cd benches/bare_loop && cargo build --release --quiet)
FLINKSCAN="$PWD/target/release/flinkscan"
BARE="$PWD/benches/bare_loop/target/release/bare-loop"

ports=8081,8083,6123,6124
second=$(( (RANDOM % 200) + 30 ))
if [ "$smoke" = 1 ]; then
  live_cidr="127.$second.0.0/24"; live_prefix=24
else
  live_cidr="127.$second.0.0/16"; live_prefix=16
fi

# Listeners for recall: accept and close, on a few addresses and ports.
cat > "$work/listen.py" <<'EOF'
import socket, sys, selectors
sel = selectors.DefaultSelector()
for spec in sys.argv[1:]:
    host, port = spec.rsplit(":", 1)
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port))); s.listen(1024); s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        try:
            c, _ = key.fileobj.accept(); c.close()
        except OSError:
            pass
EOF
listeners=("127.$second.0.7:8081" "127.$second.0.99:6123" "127.$second.0.200:6124" "127.$second.0.250:8083")
if [ "$smoke" = 0 ]; then
  listeners+=("127.$second.17.3:8081" "127.$second.128.128:6123" "127.$second.200.9:8083" "127.$second.255.254:6124")
fi
python3 "$work/listen.py" "${listeners[@]}" > "$work/listen.out" &
pids+=($!)
for _ in $(seq 1 100); do grep -q ready "$work/listen.out" 2>/dev/null && break; sleep 0.1; done
expected=${#listeners[@]}

results="$work/results.tsv"
: > "$results"

# run SCENARIO TOOL PROBES -- command...: records wall, cpu, rss, open ports found.
run() {
  local scenario="$1" tool="$2" probes="$3"; shift 4
  local out="$work/$tool.out"
  "$TIME" -f '%e %U %S %M' -o "$work/time" "$@" > "$out" 2> "$work/$tool.err" || true
  local found
  case "$tool" in
    flinkscan) found=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"]["open"])' "$work/fs.json" 2>/dev/null || echo 0) ;;
    bare) found=$(awk '/^probes/ {print $4}' "$out") ;;
    nmap) found=$(grep -o '[0-9]*/open' "$out" | wc -l) ;;
    rustscan) found=$(grep -c 'Open ' "$out" || true) ;;
  esac
  read -r wall user sys rss < "$work/time"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$tool" "$probes" "$wall" "$(echo "$user + $sys" | bc -l 2>/dev/null || python3 -c "print($user+$sys)")" "$rss" "$found" >> "$results"
}

live_probes=$(( (1 << (32 - live_prefix)) * 4 ))
for r in $(seq 1 "$rounds"); do
  echo "live round $r/$rounds: $live_cidr x $ports ($live_probes probes)" >&2
  run live flinkscan "$live_probes" -- "$FLINKSCAN" scan "$live_cidr" --ports "$ports" --timeout 1s -q --json "$work/fs.json"
  run live bare "$live_probes" -- "$BARE" "127.$second.0.0" "$live_prefix" "$ports" 1024 1000
  if need nmap; then
    run live nmap "$live_probes" -- nmap -sT -n -Pn -T5 --max-retries 0 -p "$ports" "$live_cidr" -oG -
  fi
  if need rustscan; then
    run live rustscan "$live_probes" -- rustscan -a "$live_cidr" -p "$ports" -g --accessible
  fi
done

silent_ok=0
if [ "$(id -u)" = 0 ] && need unshare && need iptables && need ip && unshare -n true 2>/dev/null; then
  silent_ok=1
else
  echo "SKIP silent scenario: needs root, unshare and iptables (network namespace with dropped SYNs)" >&2
fi

if [ "$silent_ok" = 1 ]; then
  if [ "$smoke" = 1 ]; then silent_cidr="127.0.0.0/24"; silent_prefix=24; else silent_cidr="127.0.0.0/20"; silent_prefix=20; fi
  silent_probes=$(( (1 << (32 - silent_prefix)) * 4 ))
  for r in $(seq 1 "$rounds"); do
    echo "silent round $r/$rounds: $silent_cidr x $ports in a namespace ($silent_probes probes, 1 s timeout)" >&2
    # Everything below runs inside a fresh network namespace: only its own loopback exists.
    unshare -n bash -s -- "$work" "$silent_cidr" "$silent_prefix" "$ports" "$silent_probes" "$FLINKSCAN" "$BARE" "$TIME" <<'NS'
set -euo pipefail
work="$1"; cidr="$2"; prefix="$3"; ports="$4"; probes="$5"; FLINKSCAN="$6"; BARE="$7"; TIME="$8"
ip link set lo up
iptables -A OUTPUT -p tcp -d 127.0.0.1 --dport 8081 -j ACCEPT
iptables -A OUTPUT -p tcp --syn -d "$cidr" -j DROP
python3 "$work/listen.py" 127.0.0.1:8081 > "$work/ns-listen.out" &
lp=$!
for _ in $(seq 1 100); do grep -q ready "$work/ns-listen.out" 2>/dev/null && break; sleep 0.1; done
rec() {
  local tool="$1" found="$2"
  read -r wall user sys rss < "$work/time"
  printf 'silent\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$probes" "$wall" "$(python3 -c "print($user+$sys)")" "$rss" "$found" >> "$work/results.tsv"
}
"$TIME" -f '%e %U %S %M' -o "$work/time" "$FLINKSCAN" scan "$cidr" --ports "$ports" --timeout 1s -q --json "$work/fs-ns.json" >/dev/null 2>&1 || true
rec flinkscan "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"]["open"])' "$work/fs-ns.json" 2>/dev/null || echo 0)"
"$TIME" -f '%e %U %S %M' -o "$work/time" "$BARE" 127.0.0.0 "$prefix" "$ports" 8192 1000 > "$work/bare-ns.out" 2>&1 || true
rec bare "$(awk '/^probes/ {print $4}' "$work/bare-ns.out")"
if command -v nmap >/dev/null; then
  "$TIME" -f '%e %U %S %M' -o "$work/time" nmap -sT -n -Pn -T5 --max-retries 0 --initial-rtt-timeout 1s --max-rtt-timeout 1s -p "$ports" "$cidr" -oG - > "$work/nmap-ns.out" 2>&1 || true
  rec nmap "$(grep -o '[0-9]*/open' "$work/nmap-ns.out" | wc -l)"
fi
kill "$lp" 2>/dev/null || true
NS
  done
fi

window=$(ulimit -Hn)
python3 - "$results" "$expected" "$window" <<'EOF'
import statistics, sys
from collections import defaultdict
path, expected, hard = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = defaultdict(list)
for line in open(path):
    sc, tool, probes, wall, cpu, rss, found = line.rstrip("\n").split("\t")
    rows[(sc, tool)].append((int(probes), float(wall), float(cpu), int(rss), int(found or 0)))
print(f"\nmachine: {open('/proc/cpuinfo').read().count('processor')} cores; medians of {max(len(v) for v in rows.values()) if rows else 0} interleaved rounds")
print(f"{'scenario':8} {'tool':10} {'probes':>8} {'wall s':>8} {'probes/s':>10} {'CPU s':>7} {'RSS MiB':>8} {'found':>6} {'x bare':>7} {'x nmap':>7}")
med = {}
for (sc, tool), v in sorted(rows.items()):
    probes = v[0][0]
    wall = statistics.median(x[1] for x in v)
    med[(sc, tool)] = (probes, wall, statistics.median(x[2] for x in v), max(x[3] for x in v) / 1024, min(x[4] for x in v))
for (sc, tool), (probes, wall, cpu, rss, found) in sorted(med.items()):
    rate = probes / wall if wall else 0
    def ratio(other):
        o = med.get((sc, other))
        if not o or not wall:
            return "-"
        return f"{(probes / wall) / (o[0] / o[1]):.2f}"
    print(f"{sc:8} {tool:10} {probes:>8} {wall:>8.2f} {rate:>10.0f} {cpu:>7.2f} {rss:>8.1f} {found:>6} {ratio('bare'):>7} {ratio('nmap'):>7}")
print(f"\nlive recall: listeners opened = {expected}; 'found' is open ports each tool reported.")
s = med.get(("silent", "flinkscan"))
if s:
    window = min(8192, hard - 512)
    floor = -(-s[0] // window) * 1.0
    print(f"silent floor: ceil({s[0]} / {window}) x 1 s = {floor:.0f} s; flinkscan {s[1]:.2f} s = {s[1] / floor:.2f}x the floor")
EOF
