#!/usr/bin/env bash
# Builds the multi-threaded CPU engine into DIST/engine-mt/ (default: trunk's staging dir,
# as a Trunk.toml post_build hook; else dist/): crates/engine with the `threads` feature and
# no WebGPU, WebAssembly atomics and shared memory, bound by wasm-bindgen as an ES module
# (wasm-bindgen-rayon starts its threads as module workers). The page starts it instead of
# the single-threaded engine when it is cross-origin isolated and WebGPU is not used.
#
# Threads need the standard library rebuilt with atomics (`-Z build-std`, the `rust-src`
# component). Stable Rust refuses `-Z` flags unless RUSTC_BOOTSTRAP=1: it is set for this one
# cargo command only, never for the rest of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-${TRUNK_STAGING_DIR:-dist}}/engine-mt
profile=${TRUNK_PROFILE:-release}
[[ $profile == release ]] && profile_flag=--release || profile_flag=
# Its own target directory: other RUSTFLAGS in the shared one would evict each other's builds.
target_dir=${CARGO_TARGET_DIR:-$PWD/target}/wasm-threads
# `scripts/setup.sh` serves the page first and builds this engine afterwards (it takes ~9 minutes
# on 2 cores the first time). Until then trunk's builds get a stand-in worker, which tells the
# page to run on one thread; setup's own call sets RESNET_LAB_BUILD_DEFERRED to really build.
if [[ ${RESNET_LAB_THREADS_LATER:-} == 1 && -z ${RESNET_LAB_BUILD_DEFERRED:-} && -f $target_dir/deferred ]]; then
  rm -rf "$out" && mkdir -p "$out"
  cp static/engine-mt-pending.js "$out/worker.js"
  exit 0
fi
# +simd128 as in .cargo/config.toml (RUSTFLAGS replaces it). 4 GiB: the largest wasm32 memory;
# shared memory must declare a maximum, which costs nothing until it is used.
flags="-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128"
flags+=" -C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=4294967296"
flags+=" -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size"
flags+=" -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base"
RUSTC_BOOTSTRAP=1 RUSTFLAGS=$flags cargo build $profile_flag \
  --manifest-path crates/engine/Cargo.toml --bin engine --features threads \
  --target wasm32-unknown-unknown -Z build-std=panic_abort,std --target-dir "$target_dir"
rm -rf "$out"
wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name engine \
  "$target_dir/wasm32-unknown-unknown/${TRUNK_PROFILE:-release}/engine.wasm"
cp static/engine-mt.js "$out/worker.js"
