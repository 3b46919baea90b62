"""A torchvision-named ResNet-18 or ResNet-50 with He-initialised random weights, written as
.safetensors without PyTorch (plain Python): for speed measurements on machines without it
(speed does not depend on the values; `bench/finetune_pytorch.py --save-weights` makes the
same kind of file with PyTorch). BatchNorm: γ 1, β 0, statistics 0 and 1.

    python3 bench/random_resnet.py --arch resnet18 --out /tmp/r18.safetensors [--seed 0]
"""
import argparse
import array
import json
import math
import random
import struct

LAYOUT = {"resnet18": ("basic", [2, 2, 2, 2]), "resnet50": ("bottleneck", [3, 4, 6, 3])}


def tensors(arch):
    """(name, shape, kind) in torchvision's state-dict order; kind: conv, bn, fc."""
    block, counts = LAYOUT[arch]
    out = [("conv1.weight", [64, 3, 7, 7], "conv")]
    out += bn("bn1", 64)
    width_in = 64
    for stage, count in enumerate(counts):
        width = 64 * 2**stage
        for b in range(count):
            p = f"layer{stage + 1}.{b}"
            stride = 2 if stage > 0 and b == 0 else 1
            if block == "basic":
                convs = [(width, width_in, 3), (width, width, 3)]
                width_out = width
            else:
                convs = [(width, width_in, 1), (width, width, 3), (4 * width, width, 1)]
                width_out = 4 * width
            for i, (o, c, k) in enumerate(convs, 1):
                out.append((f"{p}.conv{i}.weight", [o, c, k, k], "conv"))
                out += bn(f"{p}.bn{i}", o)
            if b == 0 and (stride != 1 or width_in != width_out):
                out.append((f"{p}.downsample.0.weight", [width_out, width_in, 1, 1], "conv"))
                out += bn(f"{p}.downsample.1", width_out)
            width_in = width_out
    out.append(("fc.weight", [1000, width_in], "fc"))
    out.append(("fc.bias", [1000], "zero"))
    return out


def bn(prefix, n):
    return [(f"{prefix}.weight", [n], "one"), (f"{prefix}.bias", [n], "zero"),
            (f"{prefix}.running_mean", [n], "zero"), (f"{prefix}.running_var", [n], "one")]


def values(shape, kind, rng):
    n = math.prod(shape)
    if kind in ("one", "zero"):
        return array.array("f", [1.0 if kind == "one" else 0.0]) * n
    fan = shape[0] * math.prod(shape[2:]) if kind == "conv" else shape[1]
    std = math.sqrt(2.0 / fan)  # He (fan-out for convolutions, as torchvision)
    return array.array("f", (rng.gauss(0.0, std) for _ in range(n)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=sorted(LAYOUT), default="resnet18")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    header, blobs, offset = {}, [], 0
    for name, shape, kind in tensors(args.arch):
        data = values(shape, kind, rng).tobytes()
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(args.out, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for blob in blobs:
            f.write(blob)
    print(f"{args.out}: {args.arch}, {offset // 4:,} values")


if __name__ == "__main__":
    main()
