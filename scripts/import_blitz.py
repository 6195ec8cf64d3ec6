#!/usr/bin/env python3
"""Load a blitz checkpoint (safetensors, written by Rust `Checkpoint::save`
or `save_module`) into a BLiTZ (PyTorch) model.

Names are the same on both sides (``fc1.weight_mu`` ...). BLiTZ's samplers
share the layer's tensors, so filling ``weight_mu``/``weight_rho`` fills them
too; their noise buffers (``*_sampler.eps_w``) are left as they are.
Optimizer state in the file (``optimizer.*``) is ignored. Every parameter of
the model must be in the file with the same shape, and every parameter in
the file must exist in the model; otherwise a ValueError lists what differs.

Library use:  from import_blitz import load_into; load_into(model, "model.safetensors")
Command line: python scripts/import_blitz.py IN.safetensors OUT_STATE_DICT.pt
              (then model.load_state_dict(torch.load(OUT), strict=False))
"""
import sys

import torch
from safetensors.torch import load_file

from export_blitz import is_sampler_key


def read(path):
    """The parameter tensors of a blitz checkpoint (optimizer state dropped)."""
    return {k: v for k, v in load_file(path).items() if not k.startswith("optimizer.")}


def load_into(model, path):
    """Copies the checkpoint's values into `model`'s parameters, checking names and shapes first."""
    tensors = read(path)
    own = {k: v for k, v in model.state_dict().items() if not is_sampler_key(k) and v.is_floating_point()}
    problems = []
    for name, t in own.items():
        if name not in tensors:
            problems.append("missing tensor %s (model shape %s)" % (name, list(t.shape)))
        elif tuple(tensors[name].shape) != tuple(t.shape):
            problems.append("%s: shape %s in the file, %s in the model"
                            % (name, list(tensors[name].shape), list(t.shape)))
    for name, t in tensors.items():
        if name not in own:
            problems.append("unexpected tensor %s (shape %s) that the model does not have" % (name, list(t.shape)))
    if problems:
        raise ValueError("%s: %s" % (path, "; ".join(problems)))
    with torch.no_grad():
        params = dict(model.named_parameters())
        params.update(dict(model.named_buffers()))
        for name, t in tensors.items():
            params[name].copy_(t.to(params[name].dtype))
    return model


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    tensors = read(argv[1])
    torch.save(tensors, argv[2])
    print("wrote %d tensors to %s" % (len(tensors), argv[2]))


if __name__ == "__main__":
    main(sys.argv)
