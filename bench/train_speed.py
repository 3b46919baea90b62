"""Training speed of the CIFAR networks, ResNet Lab beside PyTorch in the same run (BENCHMARKS.md,
"Training the CIFAR networks"): SGD steps per second at batch 128, width 16 (the paper's),
BatchNorm in training mode, on the built-in grating task, both from a fresh He-initialised net.

    /work/pyenv/bin/python bench/train_speed.py [--steps 3] [--threads 2] [--bin PATH]

ResNet Lab: `resnet-lab train --json`'s step_ms (mean compute time of every step, data
generation excluded). PyTorch: the same number of steps of make_lab.py's model with
torch.optim.SGD, timed the same way (every step, the first included), on random batches.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fixtures"))
from make_lab import CifarResNet  # noqa: E402


def pytorch_step_ms(depth, batch, steps):
    torch.manual_seed(0)
    model = CifarResNet(depth, 16, 10)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    total = 0.0
    for _ in range(steps):
        x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
        started = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()
        total += time.perf_counter() - started
    return 1000 * total / steps


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--bin", default=os.path.expanduser("~/.cache/resnet-lab-ci/target/debug/resnet-lab"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"| network | ResNet Lab steps/s | PyTorch {torch.__version__} steps/s | ratio |")
    print("|---|---|---|---|")
    for depth in (20, 56, 110):
        # The plain networks have the same convolutions (the shortcut adds aside).
        cmd = [args.bin, "train", "--arch", f"cifar{depth}", "--steps", str(args.steps),
               "--batch", str(args.batch), "--json"]
        ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)["step_ms"]
        theirs = pytorch_step_ms(depth, args.batch, args.steps)
        print(f"| ResNet-{depth} | {1000 / ours:.3f} | {1000 / theirs:.3f} | {theirs / ours:.2f} |", flush=True)


if __name__ == "__main__":
    main()
