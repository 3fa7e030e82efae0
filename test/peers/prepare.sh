#!/usr/bin/env bash
# Installs (or finds in the cache) every real peer the tests talk to, one after the other, before
# vitest starts: `npm test` runs this as its `pretest` step. Each installer is idempotent and
# cached outside the repo, so on a warm machine this takes seconds; on a fresh one the slow builds
# (kube-apiserver from the Go module proxy, ~10 min on 2 cores) happen here, alone, instead of inside a
# test file racing the other tests for both cores.
set -euo pipefail
cd "$(dirname "$0")"
step() {
  local started=$SECONDS
  "$@" >/dev/null
  printf 'peers: %-28s ready (%ss)\n' "$1" "$((SECONDS - started))"
}
step ./install-postgres.sh
step ./mosquitto.sh
step ./python.sh
step ./azcli.sh
step ./helm.sh
step ./kube/build.sh
