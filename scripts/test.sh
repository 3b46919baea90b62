#!/usr/bin/env bash
# Runs every test: the Rust workspace (library, CLI) and the browser tests.
# Needs what `bash scripts/setup.sh --no-serve` installs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
if [[ -f tests/browser/run.sh ]]; then
  bash tests/browser/run.sh
fi
