"""PyTorch side of the benchmarks: batch-1 224x224 eval-mode inference, measured as
`resnet-lab bench` measures (3 warm-up runs, then the median of N), on the same machine.

    python3 bench/pytorch_bench.py [--runs 20] [--gradflow]
    python3 bench/pytorch_bench.py --device cuda [--tf32] [--batch N]     (bench/gpu.sh)

On CUDA a run is what `resnet-lab bench --backend wgpu` times: the input uploaded from the
host, the forward pass, the logits read back (which waits for the GPU). float32 means float32:
TF32 tensor-core convolutions and matmuls (PyTorch's default for cuDNN convolutions) are off
unless --tf32 is given.
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
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--batch", type=int, default=1, help="images per forward pass")
    parser.add_argument("--tf32", action="store_true", help="CUDA: allow TF32 tensor cores")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.allow_tf32 = args.tf32
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
    rows = []
    for arch in ["resnet18", "resnet50"]:
        model = getattr(torchvision.models, arch)().eval().to(device)
        x = torch.randn(args.batch, 3, 224, 224)
        with torch.inference_mode():
            # .cpu() of the logits waits for the device, as reading them back does in Burn.
            forward = median_ms(lambda: model(x.to(device)).cpu(), args.runs)
        row = {"arch": arch, "batch": args.batch, "forward_ms": forward}
        if args.gradflow:
            def grad():
                xi = x.clone().to(device).requires_grad_(True)
                model(xi)[0, 0].backward()
            row["forward_backward_ms"] = median_ms(grad, min(args.runs, 5))
        rows.append(row)
    report = {"torch": torch.__version__, "threads": torch.get_num_threads(), "results": rows}
    if device.type == "cuda":
        report["device"] = torch.cuda.get_device_name(device)
        report["tf32"] = args.tf32
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
