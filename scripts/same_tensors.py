#!/usr/bin/env python3
"""Exit 0 when two safetensors files hold the same tensors, bit for bit, and
the same metadata apart from timings; else print the first difference and
exit 1. Standard library only (the header is JSON after an 8-byte length).

usage: same_tensors.py A.safetensors B.safetensors
"""
import json
import struct
import sys

# Metadata that records how long a run took, not what it computed.
TIMING_KEYS = {"train.ms_per_step", "train.seconds"}


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    meta = header.pop("__metadata__", {}) or {}
    data = blob[8 + n :]
    tensors = {k: (v["dtype"], v["shape"], data[v["data_offsets"][0] : v["data_offsets"][1]]) for k, v in header.items()}
    return tensors, {k: v for k, v in meta.items() if k not in TIMING_KEYS}


def main():
    a, b = read(sys.argv[1]), read(sys.argv[2])
    if a[0].keys() != b[0].keys():
        print(f"tensor names differ: {sorted(a[0].keys() ^ b[0].keys())}")
        return 1
    for k in sorted(a[0]):
        if a[0][k] != b[0][k]:
            print(f"tensor {k} differs")
            return 1
    for k in sorted(a[1].keys() | b[1].keys()):
        if a[1].get(k) != b[1].get(k):
            print(f"metadata {k}: {a[1].get(k)!r} vs {b[1].get(k)!r}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
