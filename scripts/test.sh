#!/usr/bin/env bash
# Runs every test: the Rust workspace natively (library, CLI, engine and page logic), the
# page's browser-only code in headless Chromium (wasm-bindgen-test), and the browser tests of
# the whole app. Needs what `bash scripts/setup.sh --no-serve` installs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Native tests (cargo test --workspace)"
cargo test --workspace

step "The page's browser-only code (wasm-bindgen-test, headless Chromium)"
cargo test --target wasm32-unknown-unknown -p resnet-lab-web --lib

step "The app in headless Chromium (Playwright)"
bash tests/browser/run.sh
