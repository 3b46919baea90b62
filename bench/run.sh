#!/usr/bin/env bash
# CPU benchmark, ResNet Lab (Burn flex) beside PyTorch in the same run, batch 1, 224x224.
# Needs PyTorch + torchvision (pip install torch torchvision). Prints both JSON reports.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p resnet-lab-cli
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# ResNet Lab (Burn flex)"
target/release/resnet-lab bench --runs "${RUNS:-20}" --gradflow --json
echo "# PyTorch"
python3 bench/pytorch_bench.py --runs "${RUNS:-20}" --gradflow
