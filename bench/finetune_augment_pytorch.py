"""PyTorch side of the transfer-learning benchmark: what `resnet-lab finetune` does, timed the
same way (its JSON's `features_ms`, `augment_ms`, `train_ms`), on the same photo folder.

    python3 bench/finetune_augment_pytorch.py --data DIR --arch resnet18 [--augment K] [--save-weights F]

- Features: each photo decoded by PIL, torchvision Resize(256) + CenterCrop(224), ToTensor,
  Normalize, batches of 8 through the network up to its global average pool (eval mode,
  inference mode). The network is torchvision's `resnet18()`/`resnet50()` He-initialised
  (torch.manual_seed(0)); `--save-weights` writes it as .safetensors so `resnet-lab finetune`
  runs the very same weights (speed does not depend on the values).
- `--augment K`: K views per training photo, Compose([Resize(256), RandomCrop(224),
  RandomHorizontalFlip()]), batches of 8 (held-out photos: none).
- Training: the Rust procedure in float32: validation chosen as `Validation::choose` does (a
  stratified 20 % split, or leave-one-out when that holds out fewer than 10 photos and there
  are at most 200), every head (leave-one-out: one per photo plus the exported one) a column
  block of one weight matrix, standardised per head, mean cross-entropy + 0.01/2 |W|^2,
  100 full-batch torch.optim.Adam steps (lr 0.01) from zero, each step's logits read as the
  Rust side reads them for its curve.
"""
import argparse
import json
import math
import time
from pathlib import Path

import torch
import torchvision
from PIL import Image
from torchvision import transforms

EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"}
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
BATCH = 8


def image_folder(root):
    classes = sorted(p.name for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))
    photos = [(f, k) for k, c in enumerate(classes) for f in sorted((Path(root) / c).iterdir())
              if f.suffix.lower() in EXTENSIONS and not f.name.startswith(".")]
    return classes, photos


def held_out_count(n, fraction):
    return min(max(math.floor(n * fraction + 0.5), 1), n - 1)


def choose(fraction, counts):
    held = sum(held_out_count(n, fraction) for n in counts)
    if held < 10 and sum(counts) <= 200:
        return "leave_one_out"
    return "split"


def features_of(model, images, transform):
    rows = []
    for i in range(0, len(images), BATCH):
        batch = torch.stack([transform(img) for img in images[i:i + BATCH]])
        with torch.inference_mode():
            rows.append(model(batch))
    return torch.cat(rows) if rows else torch.zeros(0)


def train(x, y, masks, classes, epochs=100, lr=0.01, wd=0.01):
    """All heads at once: masks [rows, heads] (1 = trains on the row)."""
    n, d = x.shape
    heads = masks.shape[1]
    counts = masks.sum(0)
    mean = (masks.T @ x) / counts[:, None]                      # [heads, d]
    var = (masks.T @ (x * x)) / counts[:, None] - mean ** 2
    std = var.clamp_min(0).sqrt()
    std[std <= 1e-6] = 1.0
    w = torch.zeros(d, heads, classes, requires_grad=True)
    b = torch.zeros(heads, classes, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr)
    one_hot = torch.nn.functional.one_hot(y, classes).float()
    weights = masks / counts
    for _ in range(epochs):
        opt.zero_grad()
        w_raw = w / std.T[:, :, None]
        shift = (w * (mean / std).T[:, :, None]).sum(0)
        logits = torch.einsum("nd,dhc->nhc", x, w_raw) + b - shift
        nll = -(torch.log_softmax(logits, 2) * one_hot[:, None, :]).sum(2)
        loss = (nll * weights).sum() + wd / 2 * (w * w).sum()
        logits.detach().numpy()  # the curve's read-back
        loss.backward()
        opt.step()
    return logits.detach()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--arch", default="resnet18", choices=["resnet18", "resnet50"])
    parser.add_argument("--augment", type=int, default=0)
    parser.add_argument("--val-split", type=float, default=0.2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--save-weights", help="write the He-initialised network as .safetensors")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = getattr(torchvision.models, args.arch)().eval()
    if args.save_weights:
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, args.save_weights)
        return
    model.fc = torch.nn.Identity()
    classes, photos = image_folder(args.data)
    normalize = [transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    centre = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), *normalize])
    augment = transforms.Compose([transforms.Resize(256), transforms.RandomCrop(224),
                                  transforms.RandomHorizontalFlip(), *normalize])

    start = time.perf_counter()
    images = [Image.open(f).convert("RGB") for f, _ in photos]
    x = features_of(model, images, centre)
    features_ms = (time.perf_counter() - start) * 1e3
    y = torch.tensor([k for _, k in photos])
    counts = [int((y == k).sum()) for k in range(len(classes))]
    validation = choose(args.val_split, counts)
    n = len(photos)
    if validation == "leave_one_out":
        masks = torch.ones(n, n + 1)
        masks[torch.arange(n), torch.arange(n)] = 0
        held = set()
    else:
        g = torch.Generator().manual_seed(0)
        held = set()
        for k in range(len(classes)):
            members = [i for i in range(n) if y[i] == k]
            order = torch.randperm(len(members), generator=g).tolist()
            held.update(members[j] for j in order[:held_out_count(len(members), args.val_split)])
        masks = torch.tensor([[0.0 if i in held else 1.0] for i in range(n)])

    start = time.perf_counter()
    owners = [i for i in range(n) if i not in held for _ in range(args.augment)]
    views = features_of(model, [images[i] for i in owners], augment)
    augment_ms = (time.perf_counter() - start) * 1e3
    if owners:
        x = torch.cat([x, views])
        y = torch.cat([y, y[owners]])
        masks = torch.cat([masks, masks[owners]])

    start = time.perf_counter()
    train(x, y, masks, len(classes))
    train_ms = (time.perf_counter() - start) * 1e3
    print(json.dumps({
        "arch": args.arch, "photos": n, "validation": validation, "heads": masks.shape[1],
        "augment": args.augment, "train_rows": int(masks[:, -1].sum()),
        "features_ms": features_ms, "augment_ms": augment_ms, "train_ms": train_ms,
        "torch": torch.__version__, "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
