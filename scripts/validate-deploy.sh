#!/usr/bin/env bash
# Offline checks of deploy/: the Kubernetes manifests against the Kubernetes
# schemas (kubernetes-validate) and security lint (checkov) for the manifests
# and the Dockerfile. Tools come from PyPI into a cached virtualenv; without
# network access the check is skipped with a message (exit 0).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${XDG_CACHE_HOME:-$HOME/.cache}/flinkscan/venv-deploy"
if [ ! -x "$venv/bin/checkov" ] || [ ! -x "$venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$venv"
  if ! "$venv/bin/pip" install --quiet --disable-pip-version-check kubernetes-validate checkov >/dev/null 2>&1; then
    echo "SKIP deploy validation: cannot install kubernetes-validate and checkov from PyPI" >&2
    exit 0
  fi
fi
# checkov must not phone home (its guideline download and version check).
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN=false BC_API_KEY= CKV_SKIP_VERSION_CHECK=true
echo "kubernetes-validate:"
"$venv/bin/kubernetes-validate" --strict -k 1.30.0 deploy/kubernetes/*.yaml
echo "checkov (kubernetes):"
"$venv/bin/checkov" -d deploy/kubernetes --framework kubernetes --compact --quiet --skip-download
echo "checkov (dockerfile):"
"$venv/bin/checkov" -f Dockerfile --framework dockerfile --compact --quiet --skip-download
echo "deploy validation passed"
