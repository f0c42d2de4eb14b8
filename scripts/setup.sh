#!/usr/bin/env bash
# Create (or update) .venv with gliaflow and everything its tests need.
# Idempotent: a second run only checks that the pins are installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPIP=".venv/bin/python -m pip"
$VPIP install -q --upgrade pip >/dev/null
# The CPU build of torch first: a bare "torch" requirement would pull a multi-GB CUDA build.
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  $VPIP install -q torch==2.13.0
fi
$VPIP install -q -e ".[all]"
