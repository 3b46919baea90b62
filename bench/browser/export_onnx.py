#!/usr/bin/env python3
"""Writes models/resnet50.onnx for the ONNX Runtime Web rows of the browser bench.

torchvision's ResNet-50 architecture (the v1.5 layout: stride 2 on the 3x3 convolution of each
downsampling bottleneck, ~4.1 GFLOPs, against ~3.9 for the Keras v1 model in the other rows)
with *random* weights (`weights=None`, seed 0): this machine cannot download the trained ones,
and the time of a forward pass does not depend on the weight values, so the top-1 class it
reports means nothing; the bench only checks that it runs. Batch 1, input `input`
float32 [1, 3, 224, 224] (NCHW, torchvision preprocessing), output `logits` [1, 1000],
opset 17, weights inside the one .onnx file (float32, ~102 MB).

    python3 export_onnx.py [OUT]      # default: models/resnet50.onnx next to this script

Needs torch and torchvision, and `pip install onnx onnxscript` for torch.onnx.export.
"""
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "models", "resnet50.onnx")
OPSET = 17


def main() -> int:
    try:
        import torch
        import torchvision
    except ImportError as e:
        print(f"export_onnx.py: needs torch and torchvision ({e}); pip install torch torchvision", file=sys.stderr)
        return 2
    try:
        import onnx  # noqa: F401
    except ImportError as e:
        print(f"export_onnx.py: needs onnx and onnxscript for torch.onnx.export ({e}); pip install onnx onnxscript", file=sys.stderr)
        return 2

    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    os.makedirs(os.path.dirname(os.path.abspath(OUT)), exist_ok=True)
    tmp = OUT + ".tmp"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The TorchScript exporter (dynamo=False) writes opset 17 directly. The dynamo exporter
        # (torch >= 2.9's default) emits opset 18 and fails to convert ResNet's global-average
        # ReduceMean down to 17 (onnx version converter: "No initializer or constant input").
        kwargs = dict(input_names=["input"], output_names=["logits"], opset_version=OPSET)
        try:
            torch.onnx.export(model, (x,), tmp, dynamo=False, **kwargs)
        except TypeError:  # torch < 2.5: no `dynamo` argument, TorchScript is the only exporter
            torch.onnx.export(model, (x,), tmp, **kwargs)

    import onnx
    m = onnx.load(tmp)
    onnx.checker.check_model(m)
    opset = max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    if opset != OPSET:
        print(f"export_onnx.py: got opset {opset}, wanted {OPSET}", file=sys.stderr)
        return 1
    os.replace(tmp, OUT)
    params = sum(p.numel() for p in model.parameters())
    print(f"wrote {OUT}: torchvision {torchvision.__version__} resnet50 (random weights, seed 0), "
          f"{params / 1e6:.1f} M parameters, opset {opset}, {os.path.getsize(OUT) / 1e6:.1f} MB "
          f"(torch {torch.__version__}, onnx {onnx.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
