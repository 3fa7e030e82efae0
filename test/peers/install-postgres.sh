#!/bin/sh
# Installs the PostgreSQL server from Debian if no initdb is present. Idempotent.
# Tests start their own private instance (test/peers/postgres.ts), so the package's default cluster
# is not created: it would start a stray server on port 5432.
set -eu
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
mkdir -p /etc/postgresql-common
if [ ! -f /etc/postgresql-common/createcluster.conf ]; then
  echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends postgresql
