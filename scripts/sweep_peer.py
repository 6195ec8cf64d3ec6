#!/usr/bin/env python3
"""The width / batch / prediction sweep of issue 26 for the faster peer, bayesian-torch 0.5:
a 784-W-W-10 Bayesian MLP (LinearReparameterization, ReLU) on random inputs, one JSON line per case.
  train: ms per training step (one weight draw, cross-entropy + KL / 60000, backward, Adam), the
         median over the steps after two warm-up steps, batch B;
  predict: ms for 100 forward passes (one draw each, as the library's users predict) on 1024 rows,
         softmax averaged, the median of three calls after one warm-up.
Usage: VENV/bin/python scripts/sweep_peer.py   (THREADS=2 by default). scripts/sweep.sh runs it
beside examples/sweep.rs, alternating."""
import json, os, time
import torch, torch.nn as nn, torch.nn.functional as F
from bayesian_torch.layers import LinearReparameterization as L

torch.set_num_threads(int(os.environ.get("THREADS", "2")))


class MLP(nn.Module):
    def __init__(s, w):
        super().__init__(); s.l1 = L(784, w); s.l2 = L(w, w); s.l3 = L(w, 10)

    def forward(s, x):
        h, a = s.l1(x); h, b = s.l2(F.relu(h)); o, c = s.l3(F.relu(h)); return o, a + b + c


def train_ms(w, bs, steps=10):
    torch.manual_seed(0)
    m = MLP(w); opt = torch.optim.Adam(m.parameters(), lr=1e-3); crit = nn.CrossEntropyLoss()
    X = torch.rand(bs * steps, 784); y = torch.randint(0, 10, (bs * steps,))
    times = []
    for i in range(steps):
        xb, yb = X[i * bs:(i + 1) * bs], y[i * bs:(i + 1) * bs]
        t0 = time.perf_counter()
        opt.zero_grad(); o, kl = m(xb); loss = crit(o, yb) + kl / 60000; loss.backward(); opt.step()
        times.append(time.perf_counter() - t0)
    t = sorted(times[2:])
    return 1e3 * t[len(t) // 2]


def predict_ms(w, n=1024, draws=100):
    torch.manual_seed(0)
    m = MLP(w).eval(); X = torch.rand(n, 784)

    def once():
        with torch.no_grad():
            return torch.stack([F.softmax(m(X)[0], -1) for _ in range(draws)]).mean(0)

    once(); times = []
    for _ in range(3):
        t0 = time.perf_counter(); once(); times.append(time.perf_counter() - t0)
    return 1e3 * sorted(times)[1]


for w, bs in [(400, 128), (1600, 128), (400, 1024)]:
    print(json.dumps(dict(peer="bayesian-torch", case=f"train_w{w}_b{bs}", ms=train_ms(w, bs))), flush=True)
for w in [400, 1600]:
    print(json.dumps(dict(peer="bayesian-torch", case=f"predict100_w{w}_n1024", ms=predict_ms(w))), flush=True)
