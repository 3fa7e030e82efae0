#!/usr/bin/env bash
# Installs the az CLI from PyPI into a cached virtualenv (idempotent) and prints the path of `az`.
# Usage: test/peers/azcli.sh  →  ~/.cache/iotmq/azcli-venv/bin/az
set -euo pipefail
VENV="${IOTMQ_AZCLI_VENV:-$HOME/.cache/iotmq/azcli-venv}"
VERSION="${IOTMQ_AZCLI_VERSION:-2.67.0}"
if [ -x "$VENV/bin/az" ] && "$VENV/bin/python" -c "import importlib.metadata as m; assert m.version('azure-cli') == '$VERSION'" 2>/dev/null; then
  echo "$VENV/bin/az"
  exit 0
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  apt-get install -y -qq python3-venv >/dev/null 2>&1 || { echo "python3-venv is missing" >&2; exit 1; }
fi
mkdir -p "$(dirname "$VENV")"
python3 -m venv "$VENV" >&2
"$VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade pip >&2
"$VENV/bin/pip" install --quiet --disable-pip-version-check "azure-cli==$VERSION" >&2
echo "$VENV/bin/az"
