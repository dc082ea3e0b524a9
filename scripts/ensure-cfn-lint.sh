#!/bin/sh
# Prints the path of a cfn-lint binary, installing it from PyPI into a private virtualenv on first
# use. Later calls only compare a version stamp, so they return in milliseconds.
#
#   TPS_CACHE_DIR        cache root (default $HOME/.cache/tps-deploy)
#   TPS_CFN_LINT_VERSION the cfn-lint release to install (default below). Pinned so that a new
#                        release's new rules cannot break the build without a commit that says so.
#
# Needs python3 with the venv module. Everything but the binary path goes to stderr.
set -eu
version="${TPS_CFN_LINT_VERSION:-1.58.0}"
cache="${TPS_CACHE_DIR:-$HOME/.cache/tps-deploy}"
venv="$cache/cfn-lint-venv"
bin="$venv/bin/cfn-lint"
stamp="$venv/.tps-cfn-lint-version"

ready() { [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; }

if ready; then
  echo "$bin"
  exit 0
fi

if ! command -v python3 >/dev/null 2>&1; then
  echo "[ensure-cfn-lint] python3 is required to install cfn-lint (e.g. apt-get install python3 python3-venv)" >&2
  exit 1
fi

mkdir -p "$cache"
install_cfn_lint() {
  # Another process may have finished while this one waited for the lock.
  if ready; then return 0; fi
  echo "[ensure-cfn-lint] installing cfn-lint $version into $venv (first use)" >&2
  # The stamp is written last: an interrupted install has none and is rebuilt from scratch.
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "cfn-lint==$version" >&2
  echo "$version" >"$stamp"
}

if command -v flock >/dev/null 2>&1; then
  # Parallel test workers may all ask at once: one installs, the others wait for it.
  exec 9>"$cache/cfn-lint-venv.lock"
  flock 9
  install_cfn_lint
  flock -u 9
else
  install_cfn_lint
fi
echo "$bin"
