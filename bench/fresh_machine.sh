#!/usr/bin/env bash
# Times `CI=true bash .ci/run` as a fresh machine would run it, on this one: a clean clone of
# this checkout's HEAD, an empty CARGO_HOME (no registry, no trunk, no wasm-bindgen) and an
# empty build cache, with rustup's toolchain (wasm32 target, rust-src), node, npm and Chromium
# kept. Every output line is prefixed with the seconds since the start (BENCHMARKS.md, "Build
# times"). Takes over an hour on 2 cores and needs the machine to itself to mean anything.
#   bash bench/fresh_machine.sh [WORKDIR]     (default /tmp/fresh; its log: WORKDIR.log)
set -u
work=${1:-/tmp/fresh}
repo=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$work" && mkdir -p "$work/bin" "$work/cargo-home/bin"
for tool in cargo cargo-clippy cargo-fmt clippy-driver rustc rustdoc rustfmt rustup; do
  ln -s "$HOME/.cargo/bin/$tool" "$work/bin/$tool"
done
git clone -q "$repo" "$work/clone" && cd "$work/clone" || exit 1
export CARGO_HOME=$work/cargo-home RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
PATH=$work/cargo-home/bin:$work/bin:$(tr ':' '\n' <<<"$PATH" | grep -v '\.cargo/bin' | paste -sd:)
export PATH RESNET_LAB_CI_CACHE=$work/cache
unset CARGO_TARGET_DIR RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
start=$(date +%s)
CI=true bash .ci/run 2>&1 | while IFS= read -r line; do
  printf '[%5d] %s\n' $(($(date +%s) - start)) "$line"
done | tee "$work.log"
echo "rc=${PIPESTATUS[0]} seconds=$(($(date +%s) - start))" | tee -a "$work.log"
