#!/usr/bin/env bash
# Times a fresh machine on this one: a clean clone of this checkout's HEAD, an empty CARGO_HOME
# (no registry, no trunk, no wasm-bindgen) and an empty build cache, with rustup's toolchain
# (wasm32 target, rust-src), node, npm and Chromium kept. Every output line is prefixed with
# the seconds since the start (BENCHMARKS.md, "Build times"). Needs the machine to itself.
#   bash bench/fresh_machine.sh [WORKDIR]           `CI=true bash .ci/run` (over an hour on 2 cores)
#   bash bench/fresh_machine.sh --serve [WORKDIR]   `bash scripts/setup.sh` until the page answers
# (default WORKDIR /tmp/fresh; its log: WORKDIR.log)
set -u
mode=ci
[[ ${1:-} == --serve ]] && { mode=serve; shift; }
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
stamp() { while IFS= read -r line; do printf '[%5d] %s\n' $(($(date +%s) - start)) "$line"; done; }
if [[ $mode == ci ]]; then
  CI=true bash .ci/run 2>&1 | stamp | tee "$work.log"
  echo "rc=${PIPESTATUS[0]} seconds=$(($(date +%s) - start))" | tee -a "$work.log"
  exit
fi
if curl -sf -o /dev/null http://127.0.0.1:8080/; then echo "something already answers on port 8080"; exit 1; fi
bash scripts/setup.sh > >(stamp > "$work.log") 2>&1 &
setup=$!
until curl -sf -o /dev/null http://127.0.0.1:8080/; do
  kill -0 $setup 2>/dev/null || { echo "setup ended after $(($(date +%s) - start)) s without serving"; exit 1; }
  sleep 2
done
echo "served after $(($(date +%s) - start)) s" | tee -a "$work.log"
# The threaded engine follows in the background; the server is left running for a look.
