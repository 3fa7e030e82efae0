#!/usr/bin/env bash
# Installs paho-mqtt from PyPI into a cached virtualenv outside the repo (idempotent) and prints the
# path of its python. Kept apart from the az CLI's venv (test/peers/azcli.sh) so neither pins the other.
# Usage: test/peers/python.sh  →  ${XDG_CACHE_HOME:-$HOME/.cache}/iotmq/pyvenv/bin/python
set -euo pipefail
VENV="${IOTMQ_PY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/iotmq/pyvenv}"
PAHO_VERSION="${IOTMQ_PAHO_VERSION:-2.1.0}"
# The stamp names every pin, so changing one rebuilds the venv instead of trusting a stale one.
STAMP="$VENV/.iotmq-stamp"
WANT="paho-mqtt==$PAHO_VERSION"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$WANT" ]; then
  echo "$VENV/bin/python"
  exit 0
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  apt-get install -y -qq python3-venv >/dev/null 2>&1 || { echo "python3-venv is missing" >&2; exit 1; }
fi
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
python3 -m venv "$VENV" >&2
"$VENV/bin/pip" install --quiet --disable-pip-version-check "$WANT" >&2
echo "$WANT" >"$STAMP"
echo "$VENV/bin/python"
