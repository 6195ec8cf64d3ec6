#!/usr/bin/env python3
"""Export a BLiTZ (PyTorch) model's parameters to a blitz checkpoint.

A blitz checkpoint is a safetensors file whose tensors are named like the
torch state_dict (``fc1.weight_mu``, ``fc1.weight_rho``, ``fc1.bias_mu``, ...).
BLiTZ's state_dict holds every Bayesian parameter twice (the layer's own
``weight_mu`` and its sampler's ``weight_sampler.mu``, which are the same
tensor) plus the sampler's last noise draw (``weight_sampler.eps_w``); only
the layer's own copy is kept. Everything is written as float32.

Library use:  from export_blitz import export; export(model, "model.safetensors")
Command line: python scripts/export_blitz.py STATE_DICT.pt OUT.safetensors
              (STATE_DICT.pt: the result of torch.save(model.state_dict(), ...))
Needs torch and safetensors (and blitz-bayesian-pytorch to build the model).
"""
import sys

import torch
from safetensors.torch import save_file

FORMAT_VERSION = "1"


def is_sampler_key(name):
    """BLiTZ's duplicate copies and noise buffers: `*_sampler.*` and prior buffers."""
    parts = name.split(".")
    return any(p.endswith("_sampler") or p.endswith("_prior_dist") for p in parts[:-1])


def describe_layers(tensors):
    """One `layer.NAME` metadata entry per layer, as the Rust side writes them."""
    layers = {}
    for name, t in tensors.items():
        layer, _, local = name.rpartition(".")
        layers.setdefault(layer or "<root>", {})[local] = list(t.shape)
    out = {}
    for layer, locals_ in layers.items():
        bayes = "weight_mu" in locals_ or "weight_ih_mu" in locals_
        sfx, kind = ("_mu", "Bayesian") if bayes else ("", "")
        bias = "true" if ("bias" + sfx) in locals_ else "false"
        w, ih, hh = (locals_.get(n + sfx) for n in ("weight", "weight_ih", "weight_hh"))
        if ih is not None and hh is not None and len(ih) == 2 and len(hh) == 2:
            cell = {4: "LSTM", 3: "GRU"}.get(ih[1] // hh[0] if hh[0] else 0, "Recurrent")
            desc = "%s%s(in_features=%d, hidden=%d, bias=%s)" % (kind, cell, ih[0], hh[0], bias)
        elif w is None:
            desc = "Params(%s)" % ", ".join(sorted(locals_))
        elif len(w) == 2 and bias == "true":
            desc = "%sLinear(in_features=%d, out_features=%d, bias=true)" % (kind, w[1], w[0])
        elif len(w) == 2:
            desc = "%sLinear(in_features=%d, out_features=%d, bias=false) or %sEmbedding(num_embeddings=%d, " \
                   "embedding_dim=%d)" % (kind, w[1], w[0], kind, w[0], w[1])
        elif 3 <= len(w) <= 5:
            desc = "%sConv%dd(in_channels_per_group=%d, out_channels=%d, kernel_size=%s, bias=%s)" % (
                kind, len(w) - 2, w[1], w[0], "[" + ", ".join(map(str, w[2:])) + "]", bias)
        else:
            desc = "%sParams(weight shape %s, bias=%s)" % (kind, w, bias)
        out["layer." + layer] = desc
    return out


def state_dict_to_tensors(state_dict):
    """The tensors to write: sampler duplicates dropped, float32, contiguous."""
    return {
        name: t.detach().to(torch.float32).contiguous().cpu()
        for name, t in state_dict.items()
        if not is_sampler_key(name) and t.is_floating_point()
    }


def export(model_or_state_dict, path, extra_metadata=None):
    """Writes a BLiTZ model (or its state_dict) to `path` as a blitz checkpoint."""
    sd = model_or_state_dict
    if hasattr(sd, "state_dict"):
        sd = sd.state_dict()
    tensors = state_dict_to_tensors(sd)
    metadata = {"format": "blitz", "format_version": FORMAT_VERSION, "source": "blitz-bayesian-pytorch"}
    metadata.update(describe_layers(tensors))
    metadata.update(extra_metadata or {})
    save_file(tensors, path, metadata=metadata)
    return tensors


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    sd = torch.load(argv[1], map_location="cpu", weights_only=True)
    tensors = export(sd, argv[2])
    print("wrote %d tensors to %s" % (len(tensors), argv[2]))


if __name__ == "__main__":
    main(sys.argv)
