#!/usr/bin/env bash
# `make audit`: known vulnerabilities in the pinned requirements (pip-audit against PyPI's
# vulnerability data). Where that data cannot be reached (an offline machine, a mirror
# without it) the audit is skipped with one clear line and CI goes on; where it can, a known
# vulnerability fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
# A release with published advisories: if its record carries none, the data is not there.
PROBE="${TACK_AUDIT_PROBE_URL:-https://pypi.org/pypi/django/4.2.0/json}"

if ! "$BIN/python" - "$PROBE" <<'PY'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=10) as answer:
        sys.exit(0 if json.load(answer).get("vulnerabilities") else 1)
except Exception:
    sys.exit(1)
PY
then
  echo "Dependency audit skipped: PyPI's vulnerability data is not reachable from here ($PROBE)."
  exit 0
fi
echo "Dependency audit: pip-audit over requirements.txt and requirements-dev.txt"
"$BIN/pip-audit" --progress-spinner off --no-deps --disable-pip \
  -r requirements.txt -r requirements-dev.txt
