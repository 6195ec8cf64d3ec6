#!/usr/bin/env python3
"""Makes (once) the BLiTZ interop fixture under tests/fixtures/, and checks a
Rust-written checkpoint against BLiTZ.

  make:  python scripts/make_blitz_fixture.py make [tests/fixtures]
         Trains a 4-8-2 BayesianLinear network (ReLU between) with BLiTZ
         0.2.8 for 300 Adam steps on synthetic regression data, exports it
         with export_blitz.export to blitz_4_8_2.safetensors, and writes
         fixed inputs and the frozen-forward (posterior mean) outputs to
         blitz_4_8_2_io.safetensors. It also re-imports the export into a
         fresh BLiTZ model (import_blitz.load_into) and checks the outputs.
  check: python scripts/make_blitz_fixture.py check CKPT.safetensors IO.safetensors
         Loads a checkpoint written by Rust into a BLiTZ 4-8-2 model and
         compares its frozen outputs on IO's `inputs` with IO's
         `frozen_outputs` (written by Rust); exits 1 beyond 1e-5.

Needs the peer env: torch (CPU), blitz-bayesian-pytorch 0.2.8, safetensors.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from blitz.modules import BayesianLinear
from blitz.utils import variational_estimator
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_blitz import export  # noqa: E402
from import_blitz import load_into  # noqa: E402


@variational_estimator
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = BayesianLinear(4, 8)
        self.fc2 = BayesianLinear(8, 2)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def frozen_outputs(model, x):
    model.freeze_()
    with torch.no_grad():
        y = model(x)
    model.unfreeze_()
    return y


def make(out_dir):
    torch.manual_seed(0)
    n = 256
    x = torch.randn(n, 4)
    y = torch.stack([torch.sin(x[:, 0]) + x[:, 1] * x[:, 2], x[:, 3] ** 2 - x[:, 0]], dim=1)
    y = y + 0.05 * torch.randn_like(y)
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for step in range(300):
        opt.zero_grad()
        loss = model.sample_elbo(inputs=x, labels=y, criterion=nn.MSELoss(), sample_nbr=3,
                                 complexity_cost_weight=1.0 / n)
        loss.backward()
        opt.step()
    print("final ELBO loss %.4f" % loss.item())

    inputs = torch.linspace(-2.0, 2.0, 16 * 4).reshape(16, 4)
    outputs = frozen_outputs(model, inputs)
    ckpt = os.path.join(out_dir, "blitz_4_8_2.safetensors")
    export(model, ckpt, {"trained_with": "blitz-bayesian-pytorch 0.2.8, torch %s" % torch.__version__,
                         "made_by": "scripts/make_blitz_fixture.py"})
    save_file({"inputs": inputs.contiguous(), "frozen_outputs": outputs.contiguous()},
              os.path.join(out_dir, "blitz_4_8_2_io.safetensors"))

    fresh = load_into(Net(), ckpt)
    diff = (frozen_outputs(fresh, inputs) - outputs).abs().max().item()
    assert diff == 0.0, diff
    print("wrote %s; re-import max diff %g" % (ckpt, diff))


def check(ckpt, io_path):
    model = load_into(Net(), ckpt)
    io = load_file(io_path)
    diff = (frozen_outputs(model, io["inputs"]) - io["frozen_outputs"]).abs().max().item()
    print("BLiTZ frozen outputs vs Rust: max |diff| = %g" % diff)
    sys.exit(0 if diff <= 1e-5 else 1)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "make":
        make(sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures")
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
