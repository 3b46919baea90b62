#!/usr/bin/env bash
# Transfer learning, native CPU: `resnet-lab finetune` beside bench/finetune_augment_pytorch.py on
# the same folders of 20, 100 and 500 photos (copies of tests/fixtures/teach) and the same
# He-initialised torchvision weights, with and without augmented views. One JSON line each.
#
#   bash bench/finetune.sh                 # every size, resnet18 and resnet50, augment 0 and 4
#   SIZES="20 100" ARCHS=resnet18 AUGMENTS=0 bash bench/finetune.sh
#
# Uses the debug-profile CLI the tests build (`cargo build --workspace --bins`; our crates at
# opt-level 1, dependencies at 3) unless CLI= names another; PYTHON= the interpreter with
# torch, torchvision, safetensors.
set -euo pipefail
cd "$(dirname "$0")/.."
cli="${CLI:-${CARGO_TARGET_DIR:-target}/debug/resnet-lab}"
python="${PYTHON:-python3}"
work="${WORK:-/tmp/resnet-lab-finetune-bench}"
mkdir -p "$work"
teach=tests/fixtures/teach

# A folder of N photos: 20 = 15 birds + 5 mammals (leave-one-out); otherwise three classes
# in turn, copies of the 42 photos under new names.
make_folder() {
  local n=$1 dir="$work/photos$1"
  [[ -d "$dir" ]] && return
  mkdir -p "$dir"/{bird,mammal,vehicle}
  if [[ $n == 20 ]]; then
    ls "$teach/bird" | head -15 | while read -r f; do cp "$teach/bird/$f" "$dir/bird/"; done
    ls "$teach/mammal" | head -5 | while read -r f; do cp "$teach/mammal/$f" "$dir/mammal/"; done
    rmdir "$dir/vehicle"
    return
  fi
  local classes=(bird mammal vehicle) i=0
  while ((i < n)); do
    local c=${classes[$((i % 3))]}
    local files=("$teach/$c"/*)
    local f=${files[$(((i / 3) % ${#files[@]}))]}
    cp "$f" "$dir/$c/copy$i-$(basename "$f")"
    i=$((i + 1))
  done
}

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
for arch in ${ARCHS:-resnet18 resnet50}; do
  weights="$work/$arch-he.safetensors"
  [[ -f "$weights" ]] || "$python" bench/finetune_augment_pytorch.py --arch "$arch" --data . --save-weights "$weights"
  for n in ${SIZES:-20 100 500}; do
    make_folder "$n"
    for k in ${AUGMENTS:-0 4}; do
      rust=$("$cli" finetune --weights "$weights" --data "$work/photos$n" --out "$work/head.safetensors" \
        --augment "$k" --json | "$python" -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({k: d[k] for k in ["validation","held_out","augmented_views","train_rows","features_ms","augment_ms","train_ms"]}))')
      echo "{\"side\": \"resnet-lab\", \"arch\": \"$arch\", \"photos\": $n, \"augment\": $k, \"report\": $rust, \"load\": \"$(cut -d' ' -f1 /proc/loadavg)\"}"
      torch=$("$python" bench/finetune_augment_pytorch.py --arch "$arch" --data "$work/photos$n" --augment "$k")
      echo "{\"side\": \"pytorch\", \"arch\": \"$arch\", \"photos\": $n, \"augment\": $k, \"report\": $torch, \"load\": \"$(cut -d' ' -f1 /proc/loadavg)\"}"
    done
  done
done
