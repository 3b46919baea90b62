#!/usr/bin/env bash
# Runs every test: the Rust workspace natively (library, CLI, engine and page logic), the
# page's browser-only code in headless Chromium (wasm-bindgen-test), and the browser tests of
# the whole app. First installs what is missing (`scripts/setup.sh --no-serve`, idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

step() { printf '\n\033[1m==> %s (%d s so far)\033[0m\n' "$*" $((SECONDS - start)); }

bash scripts/setup.sh --no-serve

step "Native tests (cargo test --workspace)"
cargo test --workspace

step "The page's browser-only code (wasm-bindgen-test, headless Chromium)"
cargo test --target wasm32-unknown-unknown -p resnet-lab-web --lib

step "The app in headless Chromium (Playwright)"
bash tests/browser/run.sh

step "All tests passed"
