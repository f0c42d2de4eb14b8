#!/usr/bin/env bash
# Create (or update) .venv with gliaflow and everything its tests need,
# and Debian's chromium for the real-browser tests (Playwright drives /usr/bin/chromium;
# Playwright's own browser download is not used).
# Idempotent: a second run only checks that the pins are installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x "${GLIAFLOW_CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's chromium for the browser tests" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "setup: /usr/bin/chromium is missing; install Debian's 'chromium' package (or set GLIAFLOW_CHROMIUM) for the browser tests" >&2
  fi
fi
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
# the studio in JupyterLab without a CDN: enable gliaflow's Jupyter server extension (studio/jupyter.py)
mkdir -p .venv/etc/jupyter/jupyter_server_config.d
printf '{"ServerApp": {"jpserver_extensions": {"studio.jupyter": true}}}\n' \
  > .venv/etc/jupyter/jupyter_server_config.d/gliaflow.json
