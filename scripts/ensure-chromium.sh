#!/bin/sh
# Installs Debian's chromium for the HTML report test (test/integration/report-html.test.ts) when
# /usr/bin/chromium is missing. CI runs as root with apt available; elsewhere it says what to do.
set -e
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "[ensure-chromium] /usr/bin/chromium is missing: run 'sudo apt-get install chromium'" >&2
  exit 1
fi
echo "[ensure-chromium] installing Debian's chromium (once per machine)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
test -x /usr/bin/chromium
