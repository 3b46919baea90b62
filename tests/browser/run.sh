#!/usr/bin/env bash
# Builds the web app (release) and runs the headless-Chromium tests against it.
set -euo pipefail
cd "$(dirname "$0")/../.."
trunk build --release
cd tests/browser
[[ -d node_modules/playwright-core ]] || npm ci --no-audit --no-fund
npm test
