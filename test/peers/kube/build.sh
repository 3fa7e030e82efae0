#!/usr/bin/env bash
# Builds the real Kubernetes control-plane peers that iotmq's Kubernetes tests run against:
# kube-apiserver (k8s.io/kubernetes/cmd/kube-apiserver) and etcd (go.etcd.io/etcd/server/v3), both
# compiled from the Go module proxy through the small module in ./apiserver (its go.mod pins the
# versions; no prebuilt binary is downloaded).
#
# Binaries go OUTSIDE the repo:  ${XDG_CACHE_HOME:-$HOME/.cache}/iotmq/kube/<k8s version>/bin/
# with a stamp file written last, so the build runs once per version; the Go module and build
# caches live beside it (…/iotmq/kube/gomod, …/iotmq/kube/gocache). Idempotent and safe to run
# concurrently (flock). A changed go.mod/go.sum/main.go changes the stamp's fingerprint and rebuilds.
#
# Usage: test/peers/kube/build.sh [--force] [--print-dir]
#   progress goes to stderr; the last line on stdout is the bin directory.
#   --print-dir  print the bin directory and exit (no build)
#   --force      rebuild even if the stamp matches
# First build on a 2-core machine: see test/peers/kube/README.md (about 10 minutes).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod="$here/apiserver"

modver() { awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$mod/go.mod"; }
k8s_version="$(modver k8s.io/kubernetes)"
etcd_version="$(modver go.etcd.io/etcd/server/v3)"
[[ -n "$k8s_version" && -n "$etcd_version" ]] || { echo "kube: cannot read versions from $mod/go.mod" >&2; exit 1; }

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/iotmq/kube"
out="$cache_root/$k8s_version"
bin="$out/bin"
stamp="$out/.stamp"

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --print-dir) echo "$bin"; exit 0 ;;
    *) echo "usage: $0 [--force] [--print-dir]" >&2; exit 2 ;;
  esac
done

log() { echo "kube: $*" >&2; }

command -v go >/dev/null || { log "the Go toolchain (go) is not on PATH; install Go >= 1.26"; exit 1; }

# Build flags: static, stripped, reproducible paths. /version reports the real release.
major="${k8s_version#v}"; major="${major%%.*}"
minor="${k8s_version#v*.}"; minor="${minor%%.*}"
ldflags_kube="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags_kube+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
ldflags_etcd="-s -w"

fingerprint="$(
  {
    go env GOVERSION GOOS GOARCH
    echo "$ldflags_kube|$ldflags_etcd|trimpath|cgo0"
    cat "$mod/go.mod" "$mod/go.sum" "$mod/main.go" "$mod/etcd/main.go"
  } | sha256sum | cut -d' ' -f1
)"

up_to_date() { [[ $force == 0 && -f "$stamp" && "$(cat "$stamp")" == "$fingerprint" && -x "$bin/kube-apiserver" && -x "$bin/etcd" ]]; }

if up_to_date; then
  log "cached: kube-apiserver $k8s_version + etcd $etcd_version in $bin"
  echo "$bin"
  exit 0
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/.build.lock"
flock -n 9 || { log "waiting for another build (lock $cache_root/.build.lock)"; flock 9; }
if up_to_date; then # another process built it while we waited
  log "cached (built concurrently): kube-apiserver $k8s_version + etcd $etcd_version in $bin"
  echo "$bin"
  exit 0
fi
force=0

export GOFLAGS=-mod=mod CGO_ENABLED=0
export GOCACHE="$cache_root/gocache" GOMODCACHE="$cache_root/gomod"
rm -f "$stamp"
mkdir -p "$bin"

start=$SECONDS
log "building kube-apiserver $k8s_version and etcd $etcd_version with $(go env GOVERSION) on $(nproc) cores"
log "  module $mod; GOCACHE=$GOCACHE GOMODCACHE=$GOMODCACHE"
log "  (first build on 2 cores takes about 10 minutes; later runs use the stamp)"
cd "$mod"

log "go mod download"
go mod download

log "go build kube-apiserver -> $bin/kube-apiserver"
go build -trimpath -ldflags "$ldflags_kube" -o "$bin/kube-apiserver.tmp" .
mv -f "$bin/kube-apiserver.tmp" "$bin/kube-apiserver"
log "  kube-apiserver built after $((SECONDS - start))s"

log "go build etcd -> $bin/etcd"
go build -trimpath -ldflags "$ldflags_etcd" -o "$bin/etcd.tmp" ./etcd
mv -f "$bin/etcd.tmp" "$bin/etcd"

"$bin/kube-apiserver" --version >&2
"$bin/etcd" --version >&2

printf '%s\n' "$fingerprint" >"$stamp.tmp"
mv -f "$stamp.tmp" "$stamp"
log "built in $((SECONDS - start))s: $bin (stamp $stamp)"
echo "$bin"
