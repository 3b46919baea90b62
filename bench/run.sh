#!/usr/bin/env bash
# CPU benchmark, ResNet Lab (Burn flex) beside PyTorch in the same run, batch 1, 224x224.
# Needs PyTorch + torchvision (pip install torch torchvision). Prints both JSON reports;
# WGPU=1 adds Burn wgpu (native GPU) beside them.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p resnet-lab-cli
cli="${CARGO_TARGET_DIR:-target}/release/resnet-lab"
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# ResNet Lab (Burn flex)"
"$cli" bench --runs "${RUNS:-20}" --gradflow --json
if [[ "${WGPU:-0}" == 1 ]]; then
  echo "# ResNet Lab (Burn wgpu: the GPU, or lavapipe without one)"
  "$cli" bench --backend wgpu --runs "${RUNS:-20}" --profile --json
fi
echo "# PyTorch"
python3 bench/pytorch_bench.py --runs "${RUNS:-20}" --gradflow
