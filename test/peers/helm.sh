#!/usr/bin/env bash
# helm v3, built from the Go module proxy (no binary downloads): `go install helm.sh/helm/v3/cmd/helm@<version>`
# with GOBIN under ${XDG_CACHE_HOME:-~/.cache}/iotmq/helm/<version>/bin. Idempotent: a stamp written
# last marks a finished build, so a second run returns at once; concurrent runs serialise on a flock.
# The last line on stdout is the helm binary's path; progress goes to stderr.
#
#   test/peers/helm.sh            # build if needed, print the path
#   HELM_VERSION=v3.21.4 test/peers/helm.sh
set -euo pipefail

version="${HELM_VERSION:-v3.22.0}"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/iotmq/helm"
out="$cache_root/$version"
bin="$out/bin"
stamp="$out/.stamp"
log() { printf 'helm.sh: %s\n' "$*" >&2; }

command -v go >/dev/null || { log "go is not on PATH (needed to build helm from the module proxy)"; exit 1; }
fingerprint="helm.sh/helm/v3@$version $(go env GOVERSION) CGO_ENABLED=0 k8s-version-ldflags"
up_to_date() { [[ -f "$stamp" && "$(cat "$stamp")" == "$fingerprint" && -x "$bin/helm" ]]; }

if up_to_date; then echo "$bin/helm"; exit 0; fi
mkdir -p "$out"
exec 9>"$cache_root/.build.lock"
flock -n 9 || { log "waiting for another helm build"; flock 9; }
if up_to_date; then echo "$bin/helm"; exit 0; fi

rm -f "$stamp"
start=$SECONDS
log "building helm $version from the Go module proxy into $bin (first time only; a few minutes on 2 cores)"
# Module and build caches beside the binary, so nothing lands in the repo or the user's GOPATH.
export GOBIN="$bin" GOFLAGS=-mod=mod CGO_ENABLED=0 GOCACHE="$cache_root/gocache" GOMODCACHE="$cache_root/gomod"
# Like helm's Makefile: stamp the Kubernetes version of its client-go (e.g. v0.37 → 1.37) as the default
# for `helm template`/`lint`; without it helm assumes v1.20 and refuses charts with a newer kubeVersion.
moddir="$(go mod download -json "helm.sh/helm/v3@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
k8s_minor="$(sed -n 's#^[[:space:]]*k8s.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$moddir/go.mod" | head -1)"
[[ -n "$k8s_minor" ]] || { log "could not read the client-go version from $moddir/go.mod"; exit 1; }
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$version"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done
go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$version"
"$bin/helm" version --short >&2
printf '%s\n' "$fingerprint" >"$stamp.tmp"
mv -f "$stamp.tmp" "$stamp"
log "built in $((SECONDS - start))s"
echo "$bin/helm"
