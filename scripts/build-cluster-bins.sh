#!/usr/bin/env bash
# Builds the local control plane's programs from the Go module proxy, pinned, into a cache
# outside the work tree. Idempotent: a program already built at the pinned version is skipped.
# Usage: build-cluster-bins.sh <cache-dir> <k8s-version> <etcd-version> <kwok-version>
#          [<metrics-server-version> [<module>@<version>:<path-in-module>...]]
# The optional part builds metrics-server and copies the named upstream files (manifests the
# metrics wiring applies; local/cluster/versions.ts lists them) into <cache-dir>/assets.
set -euo pipefail
CACHE="$1"; K8S="$2"; ETCD="$3"; KWOK="$4"; METRICS_SERVER="${5:-}"
shift 4; [ $# -gt 0 ] && shift
ASSETS="$*"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
BIN="$CACHE/bin"; WORK="$CACHE/build"
mkdir -p "$BIN" "$WORK"
log() { printf '[cluster-build] %s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

stamp_ok() { [ -x "$BIN/$1" ] && [ "$(cat "$BIN/$1.version" 2>/dev/null)" = "$2" ]; }

# ---- etcd -------------------------------------------------------------------------------
if ! stamp_ok etcd "$ETCD"; then
  log "building etcd $ETCD"
  d="$WORK/etcd-$ETCD"; rm -rf "$d"; mkdir -p "$d"; cd "$d"
  cat > go.mod <<EOM
module tpsdeploy/etcdbuild

go 1.26.0

require go.etcd.io/etcd/server/v3 $ETCD
EOM
  printf '//go:build tools\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
  go mod tidy >&2
  go build -trimpath -ldflags='-s -w' -o "$BIN/etcd" go.etcd.io/etcd/server/v3 >&2
  echo "$ETCD" > "$BIN/etcd.version"
  log "etcd done"
fi

# ---- kwok -------------------------------------------------------------------------------
if ! stamp_ok kwok "$KWOK"; then
  log "building kwok $KWOK"
  d="$WORK/kwok-$KWOK"; rm -rf "$d"; mkdir -p "$d"; cd "$d"
  cat > go.mod <<EOM
module tpsdeploy/kwokbuild

go 1.26.0

require sigs.k8s.io/kwok $KWOK
EOM
  printf '//go:build tools\npackage tools\n\nimport _ "sigs.k8s.io/kwok/cmd/kwok"\n' > tools.go
  go mod tidy >&2
  go build -trimpath -ldflags='-s -w' -o "$BIN/kwok" sigs.k8s.io/kwok/cmd/kwok >&2
  echo "$KWOK" > "$BIN/kwok.version"
  # The stage definitions ship inside the module; keep a copy for reference.
  moddir=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  rm -rf "$CACHE/kwok-stages"; cp -r "$moddir/kustomize/stage" "$CACHE/kwok-stages"; chmod -R u+w "$CACHE/kwok-stages"
  log "kwok done"
fi

# ---- upstream files the cluster applies, copied from the pinned modules ----------------------
# <module>@<version>:<path> goes to $CACHE/assets/<module>@<version>/<path>: a pin change gives a
# new directory. Each file is copied to a temporary name and renamed, so a present file is whole.
for a in $ASSETS; do
  modver="${a%%:*}"; path="${a#*:}"; dest="$CACHE/assets/$modver/$path"
  [ -f "$dest" ] && continue
  log "copying $path from $modver"
  dir=$(go mod download -json "$modver" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  mkdir -p "$(dirname "$dest")"
  cp "$dir/$path" "$dest.tmp"; chmod u+w "$dest.tmp"; mv "$dest.tmp" "$dest"
done

# ---- metrics-server -----------------------------------------------------------------------
if [ -n "$METRICS_SERVER" ] && ! stamp_ok metrics-server "$METRICS_SERVER"; then
  log "building metrics-server $METRICS_SERVER"
  # metrics-server's go.mod has no replace directives: `go install module/cmd@version` builds it
  # with exactly upstream's dependency versions and downloads only the modules the build needs.
  # Upstream's Makefile stamps the version into client-go's version package the same way.
  GOBIN="$BIN" go install -trimpath \
    -ldflags="-s -w -X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER" \
    "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER" >&2
  echo "$METRICS_SERVER" > "$BIN/metrics-server.version"
  log "metrics-server done ($(du -h "$BIN/metrics-server" | cut -f1))"
fi

# ---- kubernetes -------------------------------------------------------------------------
K8S_PROGS="kube-apiserver kube-controller-manager kube-scheduler kubectl"
need=0
for p in $K8S_PROGS; do stamp_ok "$p" "$K8S" || need=1; done
if [ "$need" = 1 ]; then
  log "building kubernetes $K8S ($K8S_PROGS); the first build takes a while on 2 cores"
  d="$WORK/k8s-$K8S"; rm -rf "$d"; mkdir -p "$d"; cd "$d"
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  staging_ver="v0${K8S#v1}"
  {
    echo "module tpsdeploy/k8sbuild"; echo; echo "go 1.26.0"; echo
    echo "require k8s.io/kubernetes $K8S"; echo
    grep -E '=> \./staging/src/' "$gomod" | awk -v v="$staging_ver" '{print "replace " $1 " => " $1 " " v}'
  } > go.mod
  {
    echo '//go:build tools'; echo 'package tools'; echo; echo 'import ('
    for p in $K8S_PROGS; do echo "  _ \"k8s.io/kubernetes/cmd/$p\""; done
    echo ')'
  } > tools.go
  log "resolving modules"
  go mod tidy >&2
  minor=$(echo "$K8S" | cut -d. -f2)
  LD="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LD="$LD -X $pkg.gitVersion=$K8S -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  for p in $K8S_PROGS; do
    if stamp_ok "$p" "$K8S"; then continue; fi
    log "compiling $p"
    go build -trimpath -tags 'selinux,notest,grpcnotrace' -ldflags "$LD" -o "$BIN/$p" "k8s.io/kubernetes/cmd/$p" >&2
    echo "$K8S" > "$BIN/$p.version"
    log "$p done ($(du -h "$BIN/$p" | cut -f1))"
  done
fi
log "all programs present in $BIN"
