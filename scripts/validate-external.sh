#!/usr/bin/env bash
# Feed flinkscan's SARIF to independent consumers:
#  - Microsoft's SARIF Multitool (npm @microsoft/sarif-multitool), `validate --rule-kind "Sarif;Ghas"`:
#    no error-level result on the standard output; nothing at all on --sarif-compat github.
#    (The standard form omits `region` on purpose, network endpoints have no lines:
#    SARIF2017 warnings are expected there and only there.)
#  - sarif-tools (PyPI), `sarif summary`: must read the log and list the rules.
# Scans a small fake Flink REST API this script starts on loopback. Tools are
# cached under ~/.cache/flinkscan; if they cannot be installed this fails naming
# what is missing (FLINKSCAN_ALLOW_MISSING=1 makes it SKIP instead).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/missing.sh
cache="${XDG_CACHE_HOME:-$HOME/.cache}/flinkscan"
npmdir="$cache/npm-sarif"
venv="$cache/venv-sarif"
mkdir -p "$npmdir"
command -v python3 >/dev/null || missing "python3" "install the Debian package python3"
if [ ! -x "$npmdir/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool" ]; then
  command -v npm >/dev/null || missing "npm" "install the Debian package npm"
  if ! (cd "$npmdir" && npm install --silent --no-audit --no-fund @microsoft/sarif-multitool >"$npmdir/install.log" 2>&1); then
    tail -n 5 "$npmdir/install.log" >&2
    missing "@microsoft/sarif-multitool" "install the npm package @microsoft/sarif-multitool (npm needs the npm registry)"
  fi
fi
if [ ! -x "$venv/bin/sarif" ]; then
  python3 -m venv "$venv" || missing "a Python virtualenv" "install the Debian package python3-venv"
  if ! "$venv/bin/pip" install --quiet --disable-pip-version-check sarif-tools >"$cache/sarif-tools-install.log" 2>&1; then
    tail -n 5 "$cache/sarif-tools-install.log" >&2
    missing "sarif-tools" "install the pip package sarif-tools (pip needs PyPI)"
  fi
fi
multitool="$npmdir/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"
cargo build --quiet
bin="$(bash scripts/target-dir.sh)/debug/flinkscan"
work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

ip="127.$(( (RANDOM % 200) + 20 )).$(( RANDOM % 250 )).7"
python3 - "$ip" > "$work/server.log" 2>&1 <<'PY' &
import http.server, json, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        routes = {
            "/config": {"refresh-interval": 3000, "timezone-name": "UTC", "timezone-offset": 0,
                        "flink-version": "1.16.3", "flink-revision": "fake", "features": {"web-submit": True}},
            "/overview": {"taskmanagers": 0, "slots-total": 0, "flink-version": "1.16.3"},
            "/jars": {"address": "x", "files": []},
        }
        body = json.dumps(routes.get(self.path, {"errors": ["Not found."]})).encode()
        self.send_response(200 if self.path in routes else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
server = http.server.ThreadingHTTPServer((sys.argv[1], 8081), H)
threading.Timer(120, server.shutdown).start()
print("ready", flush=True)
server.serve_forever()
PY
pid=$!
for _ in $(seq 1 50); do grep -q ready "$work/server.log" && break; sleep 0.1; done

"$bin" scan "$ip" --ports 8081 -q --sarif "$work/standard.sarif" >/dev/null
"$bin" scan "$ip" --ports 8081 -q --sarif-compat github --sarif "$work/github.sarif" >/dev/null
"$bin" scan "127.0.0.1" --ports 1 -q --sarif "$work/clean.sarif" >/dev/null

count() { # count results of the validator log at LEVEL (or all), excluding RULE
  python3 - "$@" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1])); level = sys.argv[2]; allow = set(sys.argv[3:])
n = 0
for run in doc.get("runs", []):
    for r in run.get("results", []):
        lv = r.get("level", "warning")
        if (level == "any" or lv == level) and r.get("ruleId") not in allow:
            print(f"  {lv} {r.get('ruleId')}: {r.get('message', {}).get('text', '')[:200]}", file=sys.stderr)
            n += 1
print(n)
PY
}
fail=0
for f in standard clean github; do
  "$multitool" validate "$work/$f.sarif" --rule-kind "Sarif;Ghas" --output "$work/$f.val" --log ForceOverwrite >/dev/null
  if [ "$f" = github ]; then
    n=$(count "$work/$f.val" any)
  else
    n=$(count "$work/$f.val" any SARIF2017)
  fi
  echo "sarif-multitool $f: $n problem(s)"
  [ "$n" = 0 ] || fail=1
done
summary=$("$venv/bin/sarif" summary "$work/standard.sarif")
echo "$summary" | sed 's/^/  /'
echo "$summary" | grep -q "FLINK-REST-UNAUTHENTICATED" || { echo "sarif-tools did not list the findings" >&2; fail=1; }
"$venv/bin/sarif" summary "$work/clean.sarif" >/dev/null || fail=1
[ "$fail" = 0 ] && echo "external SARIF validation passed"
exit "$fail"
