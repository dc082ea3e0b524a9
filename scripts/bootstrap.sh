#!/bin/sh
# Installs the npm dependencies on first use (fresh clone) or when package-lock.json changed.
# npm puts node_modules/.bin first on PATH, so every later step of an npm script runs on the
# Node 24 that the `node` devDependency provides, even though this machine ships Node 20.
set -e
cd "$(dirname "$0")/.."
stamp=node_modules/.tps-lock-stamp
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[bootstrap] installing npm dependencies (first use or package-lock.json changed)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
# `npx tps-deploy` in the repository runs the sources (the package's bin is the built CLI).
sh scripts/link-dev-bin.sh
