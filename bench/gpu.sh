#!/usr/bin/env bash
# ResNet Lab on a real GPU (Burn wgpu over Vulkan) beside PyTorch CUDA on the same machine:
# batch 1, 224x224, float32, ResNet-18 and ResNet-50; prints one table (issue 10, goal 7).
#
#   bash bench/gpu.sh --prepare   HERE, once: packs what the GPU machine cannot fetch into .gpu/
#                                 (git-ignored): the built CLI (stripped, xz, ~20 MB) and the
#                                 Vulkan/EGL loader .debs. RESNET_LAB_BIN picks another binary
#                                 (default: $CARGO_TARGET_DIR/debug/resnet-lab).
#   bash bench/gpu.sh             THERE: the device tool's `run` with carry [".gpu"]; the JSON
#                                 reports and the table land in $OUT (or /tmp/gpu-bench).
#
# The GPU machine has PyTorch CUDA but no Rust, no registries and maybe no Vulkan loader. The
# benchmark uses He-initialised weights (speed does not depend on the values), so no weights
# travel. RUNS (default 50) timed runs per model after 3 warm-ups, median reported.
set -euo pipefail
cd "$(dirname "$0")/.."
pack=.gpu

if [[ ${1:-} == --prepare ]]; then
  cli=${RESNET_LAB_BIN:-${CARGO_TARGET_DIR:-target}/debug/resnet-lab}
  [[ -x $cli ]] || { echo "no CLI at $cli: cargo build --workspace --bins first" >&2; exit 1; }
  exclude=$(git rev-parse --git-path info/exclude)
  grep -qx '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >>"$exclude"
  mkdir -p $pack
  strip -o $pack/resnet-lab "$cli"
  xz -T0 -6 -f $pack/resnet-lab
  # The loaders as the device README recommends (amd64 .debs, unpacked there with dpkg -x).
  lists=/tmp/gpu-bench-apt-lists
  mkdir -p $lists/partial
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists)
  apt-get "${o[@]}" update -q >/dev/null
  (cd $pack && rm -f ./*.deb && apt-get "${o[@]}" download -q \
    libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
  du -sh $pack/*
  echo "now: run tool, command 'bash bench/gpu.sh', carry [\".gpu\"], timeout_s 420"
  exit 0
fi

out=${OUT:-/tmp/gpu-bench}
mkdir -p "$out"
runs=${RUNS:-50}
[[ -f $pack/resnet-lab.xz ]] || { echo "no $pack/resnet-lab.xz: run 'bash bench/gpu.sh --prepare' here and carry .gpu" >&2; exit 1; }
for f in $pack/*.deb; do dpkg -x "$f" /; done
ldconfig
if ! compgen -G '/usr/share/vulkan/icd.d/nvidia*.json' >/dev/null \
  && [[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
cli=/tmp/resnet-lab
xz -dc $pack/resnet-lab.xz >$cli
chmod +x $cli

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt" || true
echo "# ResNet Lab, Burn wgpu"
timeout 240 $cli bench --backend wgpu --arch resnet18,resnet50 --runs "$runs" --json \
  | tee "$out/wgpu.json" || echo "wgpu bench failed (exit $?)"
echo "# PyTorch CUDA, float32 (TF32 off), then TF32 (PyTorch's default for cuDNN convolutions)"
timeout 120 python3 bench/pytorch_bench.py --device cuda --runs "$runs" | tee "$out/torch_fp32.json" || true
timeout 120 python3 bench/pytorch_bench.py --device cuda --runs "$runs" --tf32 | tee "$out/torch_tf32.json" || true

python3 - "$out" <<'PY' | tee "$out/table.md"
import json, os, sys

out = sys.argv[1]
def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
def ms(doc, arch):
    return next((r["forward_ms"] for r in (doc or {}).get("results", []) if r["arch"] == arch), None)

wgpu, fp32, tf32 = load("wgpu.json"), load("torch_fp32.json"), load("torch_tf32.json")
adapter = (wgpu or {}).get("backend", {})
print(f"wgpu adapter: {adapter.get('device', '?')} (software: {adapter.get('software', '?')}); "
      f"PyTorch {(fp32 or {}).get('torch', '?')} on {(fp32 or {}).get('device', '?')}")
print("Burn fusion and autotune: off in this binary (not compiled in; see BENCHMARKS.md)")
print()
print("| model | ResNet Lab wgpu (ms) | PyTorch CUDA fp32 (ms) | ratio | PyTorch CUDA TF32 (ms) | ratio |")
print("|---|---|---|---|---|---|")
fmt = lambda v: "n/a" if v is None else f"{v:.2f}"
ratio = lambda a, b: "n/a" if a is None or b is None else f"{a / b:.2f}x"
for arch in ["resnet18", "resnet50"]:
    ours, a, b = ms(wgpu, arch), ms(fp32, arch), ms(tf32, arch)
    print(f"| {arch} | {fmt(ours)} | {fmt(a)} | {ratio(ours, a)} | {fmt(b)} | {ratio(ours, b)} |")
PY
