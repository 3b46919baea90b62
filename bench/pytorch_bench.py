"""PyTorch side of the CPU benchmark: batch-1 224x224 eval-mode inference, measured as
`resnet-lab bench` measures (3 warm-up runs, then the median of N), on the same machine.

    python3 bench/pytorch_bench.py [--runs 20] [--gradflow]
"""
import argparse
import json
import time

import torch
import torchvision


def median_ms(fn, runs):
    for _ in range(3):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    samples.sort()
    return samples[len(samples) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--gradflow", action="store_true", help="also time forward+backward to the input")
    args = parser.parse_args()
    rows = []
    for arch in ["resnet18", "resnet50"]:
        model = getattr(torchvision.models, arch)().eval()
        x = torch.randn(1, 3, 224, 224)
        with torch.inference_mode():
            forward = median_ms(lambda: model(x), args.runs)
        row = {"arch": arch, "forward_ms": forward}
        if args.gradflow:
            def grad():
                xi = x.clone().requires_grad_(True)
                model(xi)[0, 0].backward()
            row["forward_backward_ms"] = median_ms(grad, min(args.runs, 5))
        rows.append(row)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": rows}, indent=2))


if __name__ == "__main__":
    main()
