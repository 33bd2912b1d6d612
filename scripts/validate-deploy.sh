#!/usr/bin/env bash
# Offline checks of the container image recipe and the Kubernetes deployment:
#
#  1. kubernetes-validate --strict: every manifest in deploy/kubernetes/ and every
#     ```yaml example in deploy/README.md against the Kubernetes API schemas of the
#     oldest version the manifests need (1.29: backoffLimitPerIndex on by default)
#     and of the newest one the pinned validator knows (KUBE_VERSIONS overrides).
#  2. checkov: security lint of the manifests and of the Dockerfile. Checks that do
#     not apply are skipped in the manifests themselves (checkov.io/skip
#     annotations, each with its reason) and listed at the end.
#  3. The Jobs' own arguments, which no schema checks: N agrees between
#     completions, --shard-count and the merge Job's inputs; then the scan Job's
#     args, expanded as Kubernetes expands them, run with the flinkscan built from
#     this tree: --dry-run on the ConfigMap's targets (must parse; nothing is sent),
#     and for real on a loopback /30 for every index K, followed by the merge
#     Job's args, whose result must cover all N shards.
#
# Tools come from PyPI (pinned) into a cached virtualenv. If they cannot be
# installed (no network, no venv module) this fails naming what is missing
# (FLINKSCAN_ALLOW_MISSING=1 makes it print SKIP and exit 0 instead); any
# failed check exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/missing.sh

checkov_version=3.3.30
kubernetes_validate_version=1.37.0
kube_versions=${KUBE_VERSIONS:-"1.29.0 1.37.0"}
venv="${XDG_CACHE_HOME:-$HOME/.cache}/flinkscan/venv-deploy"
want="checkov==$checkov_version kubernetes-validate==$kubernetes_validate_version"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$(cat "$venv/.flinkscan-requirements" 2>/dev/null)" != "$want" ] \
  || [ ! -x "$venv/bin/checkov" ] || [ ! -x "$venv/bin/kubernetes-validate" ]; then
  command -v python3 >/dev/null || missing "python3" "install the Debian package python3"
  mkdir -p "$(dirname "$venv")"
  if ! python3 -m venv "$venv" >"$work/venv.log" 2>&1; then
    tail -n 5 "$work/venv.log" >&2
    missing "a Python virtualenv at $venv" "install the Debian package python3-venv"
  fi
  echo "installing $want into $venv" >&2
  # shellcheck disable=SC2086 # $want is a list of requirement specifiers
  if ! "$venv/bin/pip" install --quiet --disable-pip-version-check --timeout 30 --retries 2 \
    $want >"$work/pip.log" 2>&1; then
    tail -n 5 "$work/pip.log" >&2
    missing "$want" "install the pip packages $want (pip needs PyPI)"
  fi
  echo "$want" >"$venv/.flinkscan-requirements"
fi

manifests=(deploy/kubernetes/*.yaml)

# deploy/README.md's ```yaml examples, one file each.
"$venv/bin/python" - "$work/readme" <<'EOF'
import pathlib, re, sys
out = pathlib.Path(sys.argv[1])
out.mkdir()
text = pathlib.Path("deploy/README.md").read_text()
for i, block in enumerate(re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M)):
    (out / f"README-example-{i}.yaml").write_text(block)
EOF
examples=("$work"/readme/*.yaml)
[ -e "${examples[0]}" ] || examples=()

echo "== kubernetes-validate --strict (Kubernetes $kube_versions)"
for v in $kube_versions; do
  "$venv/bin/kubernetes-validate" --strict --quiet -k "$v" "${manifests[@]}" "${examples[@]}"
  echo "Kubernetes $v: ${#manifests[@]} manifests and ${#examples[@]} README examples valid"
done

# checkov must not phone home: no guideline download, no update check, no platform key.
export BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true
unset BC_API_KEY PRISMA_API_URL
echo "== checkov (kubernetes)"
"$venv/bin/checkov" -d deploy/kubernetes --framework kubernetes --compact --quiet --skip-download
echo "== checkov (dockerfile)"
"$venv/bin/checkov" -f Dockerfile --framework dockerfile --compact --quiet --skip-download
echo "skipped in the manifests (checkov.io/skip annotations):"
grep -ho 'checkov.io/skip[0-9]*: [A-Z0-9_]*' deploy/kubernetes/*.yaml | awk '{print $2}' | sort | uniq -c \
  | awk '{printf "  %s x%s\n", $2, $1}'

echo "== the Jobs' arguments"
if ! command -v cargo >/dev/null; then
  missing_part "cargo (to run the Jobs' arguments)" "install Rust's cargo"
else
  cargo build -q --bin flinkscan
  "$venv/bin/python" - "$work/run" "$(bash scripts/target-dir.sh)/debug/flinkscan" <<'EOF'
import json, os, pathlib, re, subprocess, sys
import yaml

work, exe = pathlib.Path(sys.argv[1]), os.path.abspath(sys.argv[2])
k8s = pathlib.Path("deploy/kubernetes")

def fail(msg):
    sys.exit(f"FAIL: {msg}")

def container(job):
    return job["spec"]["template"]["spec"]["containers"][0]

scan = yaml.safe_load((k8s / "job-scan.yaml").read_text())
merge = yaml.safe_load((k8s / "job-merge.yaml").read_text())
cm = yaml.safe_load((k8s / "configmap-targets.yaml").read_text())
spec, c = scan["spec"], container(scan)
args = c["args"]

# N must agree everywhere.
n = spec["completions"]
if spec.get("completionMode") != "Indexed":
    fail("job-scan.yaml: completionMode is not Indexed")
if "--shard-count" not in args or int(args[args.index("--shard-count") + 1]) != n:
    fail(f"job-scan.yaml: --shard-count differs from completions ({n})")
if not 1 <= spec.get("parallelism", 1) <= n:
    fail("job-scan.yaml: parallelism must be between 1 and completions")
env = {e["name"]: e for e in c.get("env", [])}
ref = env.get("JOB_COMPLETION_INDEX", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
if ref != "metadata.annotations['batch.kubernetes.io/job-completion-index']":
    fail("job-scan.yaml: JOB_COMPLETION_INDEX is not declared from the completion-index annotation")
margs = container(merge)["args"]
inputs = [a for a in margs if re.fullmatch(r"/results/shard-\d+\.json", a)]
if inputs != [f"/results/shard-{k}.json" for k in range(n)]:
    fail(f"job-merge.yaml: inputs {inputs} are not shard-0..shard-{n - 1}.json")
print(f"N = {n}: completions, --shard-count and the merge inputs agree")

# Paths inside the pod -> directories here.
results, targets = work / "results", work / "targets"
results.mkdir(parents=True)
targets.mkdir()

def local(a):
    return a.replace("/results/", f"{results}/").replace("/targets/", f"{targets}/")

def expand(a, k):
    # Kubernetes' $(VAR) expansion, for the variables the container declares.
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: str(k) if m.group(1) == "JOB_COMPLETION_INDEX" else m.group(0), a)

def run(argv, k=None, stdout=subprocess.PIPE):
    e = dict(os.environ)
    e.pop("JOB_COMPLETION_INDEX", None)
    if k is not None:
        e["JOB_COMPLETION_INDEX"] = str(k)
    p = subprocess.run([exe, *argv], env=e, stdout=stdout, stderr=subprocess.PIPE, text=True,
                       timeout=600)
    if p.returncode != 0:
        fail(f"flinkscan {' '.join(argv)} exited {p.returncode}:\n{p.stderr[-2000:]}")
    return p

# 1. The ConfigMap's targets parse, in every shard (dry run: nothing is sent).
(targets / "targets.txt").write_text(cm["data"]["targets.txt"])
for k in range(n):
    run([local(expand(a, k)) for a in args] + ["--dry-run"], k, stdout=subprocess.DEVNULL)
print(f"scan args with the ConfigMap's targets: all {n} shards parse (--dry-run)")

# 2. A real run of every shard on a tiny loopback range, then the merge Job's args.
(targets / "targets.txt").write_text("127.0.0.1/30\n")
for k in range(n):
    run([local(expand(a, k)) for a in args], k)
    for ext in ("json", "sarif"):
        if not (results / f"shard-{k}.{ext}").is_file():
            fail(f"shard {k} wrote no shard-{k}.{ext}")
run([local(a) for a in margs])
merged = json.loads((results / "merged.json").read_text())
if merged["scan"]["shard"] != "0/1":
    fail(f"merged report covers shards {merged['scan']['shard']}, not all {n}")
sarif = json.loads((results / "merged.sarif").read_text())
if sarif.get("version") != "2.1.0" or len(sarif.get("runs", [])) != 1:
    fail("merged.sarif is not one SARIF 2.1.0 run")
print(f"scan args run for all {n} shards and the merge args join them into the whole scan")
EOF
fi
echo "deploy validation passed"
