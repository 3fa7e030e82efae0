#!/usr/bin/env bash
# Installs Debian's mosquitto broker and command-line clients if absent (idempotent): the clients are
# the TLS/auth peer of the broker tests, the broker is the benchmark's reference. The package index is
# refreshed only when an install is actually needed. Prints the directory holding mosquitto_pub.
set -euo pipefail
have() { command -v mosquitto_pub >/dev/null && command -v mosquitto_sub >/dev/null && { command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ]; }; }
if ! have; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends mosquitto mosquitto-clients >&2
  # Debian's package enables a system service; the tests and the bench start their own instances.
  (command -v systemctl >/dev/null && systemctl disable --now mosquitto >/dev/null 2>&1) || true
fi
dirname "$(command -v mosquitto_pub)"
