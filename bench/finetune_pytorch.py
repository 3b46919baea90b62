"""PyTorch side of `resnet-lab finetune` timings (BENCHMARKS.md, "Fine-tuning layer4"): the
same work on the same photos, timed the way `finetune --json` reports `features_ms` and
`train_ms`.

    python3 bench/finetune_pytorch.py --arch resnet18 --data DIR --epochs 20 [--layer4]
        [--save-weights /tmp/r18.pth]

* weights: torchvision's `resnetNN()` He-initialised with `torch.manual_seed(0)` (speed does
  not depend on the values); `--save-weights` writes them for `resnet-lab finetune --weights`.
* features: decode (PIL), Resize(256) + CenterCrop(224), normalise, and the backbone in
  batches of 8, eval mode: up to layer3 with `--layer4`, the pooled layer4 output without.
* training: full batch, no validation split (run the CLI with `--val-split 0`), the head
  from zero on standardised features, mean cross-entropy + 0.01/2 |W|^2, Adam (eps 1e-5):
  the head at lr 0.01 and, with `--layer4`, layer4 (BatchNorm in eval mode) at 1e-4.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F
import torchvision
from torchvision import datasets, transforms


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--layer4", action="store_true")
    parser.add_argument("--save-weights")
    args = parser.parse_args()

    torch.manual_seed(0)
    net = getattr(torchvision.models, args.arch)().eval()
    if args.save_weights:
        torch.save(net.state_dict(), args.save_weights)
    tf = transforms.Compose([
        transforms.Resize(256),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    folder = datasets.ImageFolder(args.data)
    labels = torch.tensor([label for _, label in folder.samples])
    classes = len(folder.classes)

    def up_to_layer3(x):
        x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        return net.layer3(net.layer2(net.layer1(x)))

    start = time.perf_counter()
    outputs = []
    with torch.no_grad():
        for i in range(0, len(folder.samples), 8):
            batch = torch.stack([tf(folder.loader(p)) for p, _ in folder.samples[i:i + 8]])
            x3 = up_to_layer3(batch)
            outputs.append(x3 if args.layer4 else net.avgpool(net.layer4(x3)).flatten(1))
    cached = torch.cat(outputs)
    features_ms = (time.perf_counter() - start) * 1e3

    start = time.perf_counter()
    layer4 = net.layer4
    pooled = (lambda x: net.avgpool(layer4(x)).flatten(1)) if args.layer4 else (lambda f: f)
    with torch.no_grad():
        f0 = pooled(cached)
    mu, sd = f0.mean(0), f0.std(0, unbiased=False)
    sd = torch.where(sd > 1e-6, sd, torch.ones_like(sd))
    w = torch.zeros(f0.shape[1], classes, requires_grad=True)
    b = torch.zeros(classes, requires_grad=True)
    groups = [{"params": [w, b], "lr": 0.01}]
    if args.layer4:
        groups.append({"params": list(layer4.parameters()), "lr": 1e-4})
    opt = torch.optim.Adam(groups, eps=1e-5)
    losses = []
    for _ in range(args.epochs):
        z = ((pooled(cached) - mu) / sd) @ w + b
        ce = F.cross_entropy(z, labels)
        losses.append(float(ce))
        opt.zero_grad()
        (ce + 0.005 * (w**2).sum()).backward()
        opt.step()
    train_ms = (time.perf_counter() - start) * 1e3
    print(json.dumps({
        "arch": args.arch, "layer4": args.layer4, "photos": len(folder.samples),
        "epochs": args.epochs, "features_ms": features_ms, "train_ms": train_ms,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "first_loss": losses[0], "last_loss": losses[-1],
    }))


if __name__ == "__main__":
    main()
