#!/bin/sh
# In the repository, `npx tps-deploy` runs the CLI from the sources (bin/tps-deploy.js, through tsx):
# the package's own bin is the built dist/cli/tps-deploy.mjs, which a clone does not have until
# `npm run build:package`. npm runs this as `prepare` after `npm ci`/`npm install` here (never in an
# app that installs the package); scripts/bootstrap.sh runs it too.
set -e
cd "$(dirname "$0")/.."
[ -d node_modules/.bin ] || exit 0
[ -e node_modules/.bin/tps-deploy ] || ln -s ../../bin/tps-deploy.js node_modules/.bin/tps-deploy
