#!/usr/bin/env bash
# ResNet Lab on a real GPU (Burn wgpu over Vulkan) beside PyTorch CUDA on the same machine:
# 224x224, float32, ResNet-18 and ResNet-50, batch 1 and batch 32; prints one table (issue 10,
# goal 7). Also the CPU path on that machine's cores, beside PyTorch CPU.
#
#   bash bench/gpu.sh --prepare   HERE, once: packs what the GPU machine cannot fetch into .gpu/
#                                 (git-ignored): two CLIs (stripped, xz) and the Vulkan/EGL
#                                 loader .debs. RESNET_LAB_BIN is the default build (default:
#                                 $CARGO_TARGET_DIR/debug/resnet-lab), RESNET_LAB_TUNED_BIN one
#                                 built with `--features gpu-tuned` (Burn fusion + autotune;
#                                 optional).
#   bash bench/gpu.sh             THERE: the device tool's `run` with carry [".gpu"]; the JSON
#                                 reports and the table land in $OUT (or /tmp/gpu-bench).
#
# The GPU machine has PyTorch CUDA but no Rust, no registries and maybe no Vulkan loader. The
# benchmark uses He-initialised weights (speed does not depend on the values), so no weights
# travel. RUNS (default 30) timed runs per model after 3 warm-ups, median reported.
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
  rm -f $pack/resnet-lab-tuned.xz
  if [[ -n ${RESNET_LAB_TUNED_BIN:-} ]]; then
    strip -o $pack/resnet-lab-tuned "$RESNET_LAB_TUNED_BIN"
    xz -T0 -6 -f $pack/resnet-lab-tuned
  fi
  # The loaders as the device README recommends (amd64 .debs, unpacked there with dpkg -x).
  lists=/tmp/gpu-bench-apt-lists
  mkdir -p $lists/partial
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists)
  apt-get "${o[@]}" update -q >/dev/null
  (cd $pack && rm -f ./*.deb && apt-get "${o[@]}" download -q \
    libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
  du -sh $pack/*
  echo "now: run tool, command 'bash bench/gpu.sh', carry [\".gpu\"], timeout_s 540"
  exit 0
fi

out=${OUT:-/tmp/gpu-bench}
mkdir -p "$out"
runs=${RUNS:-30}
[[ -f $pack/resnet-lab.xz ]] || { echo "no $pack/resnet-lab.xz: run 'bash bench/gpu.sh --prepare' here and carry .gpu" >&2; exit 1; }
for f in $pack/*.deb; do dpkg -x "$f" /; done
ldconfig
if ! compgen -G '/usr/share/vulkan/icd.d/nvidia*.json' >/dev/null \
  && [[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
for name in resnet-lab resnet-lab-tuned; do
  [[ -f $pack/$name.xz ]] && xz -dc $pack/$name.xz >/tmp/$name && chmod +x /tmp/$name
done

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt" || true
# Each step has its own time limit, so one that hangs (a driver, autotuning) leaves the others.
step() { # name seconds command...
  local name=$1 secs=$2
  shift 2
  echo "# $name"
  timeout "$secs" "$@" >"$out/$name.json" || echo "$name failed (exit $?)"
  cat "$out/$name.json"
}
step wgpu 120 /tmp/resnet-lab bench --backend wgpu --arch resnet18,resnet50 --runs "$runs" --f16 --json
step torch_fp32 60 python3 bench/pytorch_bench.py --device cuda --runs "$runs"
step torch_tf32 60 python3 bench/pytorch_bench.py --device cuda --runs "$runs" --tf32
if [[ -x /tmp/resnet-lab-tuned ]]; then
  step wgpu_tuned 150 /tmp/resnet-lab-tuned bench --backend wgpu --arch resnet18,resnet50 --runs "$runs" --f16 --json
  step wgpu_tuned_b32 60 /tmp/resnet-lab-tuned bench --backend wgpu --arch resnet50 --batch 32 --runs 10 --json
fi
step wgpu_b32 60 /tmp/resnet-lab bench --backend wgpu --arch resnet50 --batch 32 --runs 10 --json
step torch_fp32_b32 40 python3 bench/pytorch_bench.py --device cuda --runs 10 --batch 32
step cpu 60 /tmp/resnet-lab bench --backend cpu --arch resnet18,resnet50 --runs 10 --json
step torch_cpu 40 python3 bench/pytorch_bench.py --runs 10

python3 - "$out" <<'PY' | tee "$out/table.md"
import json, os, sys

out = sys.argv[1]
def load(name):
    try:
        with open(os.path.join(out, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
def ms(doc, arch, key="forward_ms"):
    return next((r.get(key) for r in (doc or {}).get("results", []) if r["arch"] == arch), None)
fmt = lambda v: "n/a" if v is None else f"{v:.2f}"
ratio = lambda a, b: "n/a" if a is None or b is None else f"{a / b:.2f}x"

docs = {n: load(n) for n in ["wgpu", "wgpu_tuned", "torch_fp32", "torch_tf32", "wgpu_b32",
                             "wgpu_tuned_b32", "torch_fp32_b32", "cpu", "torch_cpu"]}
adapter = (docs["wgpu"] or docs["wgpu_tuned"] or {}).get("backend", {})
print(f"wgpu adapter: {adapter.get('device', '?')} (software: {adapter.get('software', '?')}); "
      f"PyTorch {(docs['torch_fp32'] or {}).get('torch', '?')} on {(docs['torch_fp32'] or {}).get('device', '?')}")
print()
print("| model | batch | ResNet Lab wgpu (ms) | wgpu + fusion + autotune (ms) | PyTorch CUDA fp32 (ms) | PyTorch CUDA TF32 (ms) | best ours / PyTorch fp32 |")
print("|---|---|---|---|---|---|---|")
for arch, batch, a, b, c, d in [
    ("resnet18", 1, "wgpu", "wgpu_tuned", "torch_fp32", "torch_tf32"),
    ("resnet50", 1, "wgpu", "wgpu_tuned", "torch_fp32", "torch_tf32"),
    ("resnet50", 32, "wgpu_b32", "wgpu_tuned_b32", "torch_fp32_b32", None),
]:
    va, vb, vc = ms(docs[a], arch), ms(docs[b], arch), ms(docs[c], arch)
    vd = ms(docs[d], arch) if d else None
    best = min([v for v in (va, vb) if v is not None], default=None)
    print(f"| {arch} | {batch} | {fmt(va)} | {fmt(vb)} | {fmt(vc)} | {fmt(vd)} | {ratio(best, vc)} |")
print()
print("Float16 compute (`bench --f16`: weights and input cast to float16, logits read back as float32):")
print()
print("| model | wgpu f16 (ms) | wgpu + fusion + autotune f16 (ms) | max logit diff from f32 | best f16 / PyTorch fp32 |")
print("|---|---|---|---|---|")
for arch in ["resnet18", "resnet50"]:
    va, vb = ms(docs["wgpu"], arch, "forward_f16_ms"), ms(docs["wgpu_tuned"], arch, "forward_f16_ms")
    diff = ms(docs["wgpu"], arch, "f16_max_abs_logit_diff")
    best = min([v for v in (va, vb) if v is not None], default=None)
    print(f"| {arch} | {fmt(va)} | {fmt(vb)} | {fmt(diff)} | {ratio(best, ms(docs['torch_fp32'], arch))} |")
print()
threads = (docs["torch_cpu"] or {}).get("threads", "?")
print(f"CPU on the same machine (PyTorch {threads} threads, the channel-last CPU path with rayon on every core):")
print()
print("| model | ResNet Lab CPU (ms) | PyTorch CPU (ms) | ratio |")
print("|---|---|---|---|")
for arch in ["resnet18", "resnet50"]:
    va, vb = ms(docs["cpu"], arch), ms(docs["torch_cpu"], arch)
    print(f"| {arch} | {fmt(va)} | {fmt(vb)} | {ratio(va, vb)} |")
PY
