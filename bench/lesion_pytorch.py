#!/usr/bin/env python3
"""The lesion study's work in PyTorch, timed: ResNet-50 (torchvision, He-initialised, eval
mode, float32) on a batch of 224x224 inputs; every single block deleted from the residual and
from the plain network, each recomputed from the cached input of the deleted block, as
`resnet-lab lesion` does (crates/core/src/lab/lesion.rs).

    python3 bench/lesion_pytorch.py --images 8 --runs 3 [--save-weights /tmp/r50.pth]

--save-weights writes the network's state dict, so that `resnet-lab lesion --weights` can run
the very same network. Prints JSON: median and all run times in ms.
"""

import argparse
import json
import statistics
import time

import torch
import torchvision


def blocks_of(model):
    return [blk for layer in (model.layer1, model.layer2, model.layer3, model.layer4) for blk in layer]


def branch(blk, x):
    out = blk.relu(blk.bn1(blk.conv1(x)))
    out = blk.relu(blk.bn2(blk.conv2(out)))
    return blk.bn3(blk.conv3(out))


def deleted(blk, x):
    return torch.relu(blk.downsample(x) if blk.downsample is not None else x)


def study(model, x):
    blocks = blocks_of(model)
    head = lambda h: model.fc(torch.flatten(model.avgpool(h), 1))  # noqa: E731
    stem = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    for plain in (False, True):
        step = (lambda b, h: torch.relu(branch(b, h))) if plain else (lambda b, h: b(h))
        cache, h = [], stem
        for blk in blocks:
            cache.append(h)
            h = step(blk, h)
        head(h)
        for i, blk in enumerate(blocks):
            h = deleted(blk, cache[i])
            for later in blocks[i + 1:]:
                h = step(later, h)
            head(h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--save-weights")
    args = ap.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.resnet50().eval()
    if args.save_weights:
        torch.save(model.state_dict(), args.save_weights)
    x = torch.randn(args.images, 3, 224, 224)
    times = []
    with torch.inference_mode():
        study(model, x[:1])  # warm-up
        for _ in range(args.runs):
            start = time.perf_counter()
            study(model, x)
            times.append((time.perf_counter() - start) * 1e3)
    print(json.dumps({
        "framework": f"pytorch {torch.__version__}",
        "threads": torch.get_num_threads(),
        "images": args.images,
        "median_ms": round(statistics.median(times)),
        "runs_ms": [round(t) for t in times],
    }))


if __name__ == "__main__":
    main()
