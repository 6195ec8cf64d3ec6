#!/usr/bin/env python3
"""Where a workload's CPU time goes, from a `perf record --call-graph dwarf` file.

    perf script -i FILE -F tid,time,ip,sym | scripts/profile_breakdown.py [--title T]

Every sample is put in one kernel family (the first frame, from the leaf up,
that names one: GEMM, sampler + KL, optimizer, convolution, pooling,
element-wise, memory, threads; else framework or other) and in one phase of
the step (the prediction draws, the forward pass, the backward pass, the
optimizer step, the rest). A sample on a rayon worker takes the phase of the
main thread's sample nearest in time when its own stack (a loop split by a
kernel, not a job of the caller's) does not show the phase. Prints a Markdown table: per family, its share of all
phase's CPU samples (the training step's column sums its three phases).
"""
import re
import sys
from bisect import bisect_left

FAMILIES = [
    ("sampler + KL", r"sample_kl|cpu::random|reference::reparam|cpu::reparam|normal_batch"),
    ("GEMM", r"matrixmultiply|cpu::gemm|reference::gemm"),
    ("convolution", r"conv_direct|cpu::conv|im2col|col2im"),
    ("pooling", r"cpu::pool"),
    ("optimizer", r"cpu::optim"),
    ("element-wise", r"cpu::(unary|binary|reduce|softmax|layout|simd)"),
    ("memory (alloc, free, copy, page faults)", r"malloc|calloc|realloc|free|memmove|memcpy|memset|recycle|page_fault|clear_page|do_anonymous|mmap|munmap|brk"),
    ("threads (rayon, wake-ups, waits)", r"rayon|futex|sched|Latch|syscall|switch|wake|idle|yield|crossbeam"),
    ("framework (tape, Var, Arc, shapes)", r"blitz_autograd|blitz_layers|alloc::sync|core::ptr::drop|Arc<"),
]
PHASES = [
    ("mc100 prediction", r"predict_draws"),
    ("optimizer step", r"Optimizer>::step|as .*Optimizer"),
    ("backward", r"Tape::backward"),
    ("forward", r"sample_elbo|sample_with_kl|Module>::forward|::fit"),
]


def parse(stream):
    """Yields (tid, time, [frames leaf first])."""
    head, frames = None, []
    for line in stream:
        line = line.rstrip("\n")
        if not line.strip():
            if head:
                yield head[0], head[1], frames
            head, frames = None, []
        elif not line.startswith((" ", "\t")) or head is None:
            parts = line.split()
            try:
                head = (int(parts[0]), float(parts[1].rstrip(":")))
            except (IndexError, ValueError):
                head = (0, 0.0)
            frames = []
        else:
            parts = line.strip().split(None, 1)
            frames.append(parts[1] if len(parts) > 1 else "")
    if head:
        yield head[0], head[1], frames


def classify(frames, table, default):
    """The first entry of `table` that the nearest frame to the leaf names."""
    for f in frames:
        for name, pat in table:
            if re.search(pat, f):
                return name
    return default


def phase_of(frames):
    """The phase of the step: the first of PHASES that any frame names."""
    for name, pat in PHASES:
        if any(re.search(pat, f) for f in frames):
            return name
    return "other"


def main():
    title = sys.argv[sys.argv.index("--title") + 1] if "--title" in sys.argv else "workload"
    samples = list(parse(sys.stdin))
    if not samples:
        print(f"{title}: no samples")
        return
    tids = {}
    for tid, _, _ in samples:
        tids[tid] = tids.get(tid, 0) + 1
    # The main thread is the process's first (lowest) thread id.
    main_tid = min(tids)
    main_times, main_phases = [], []
    for tid, t, frames in samples:
        if tid == main_tid:
            main_times.append(t)
            main_phases.append(phase_of(frames))
    counts = {}
    for tid, t, frames in samples:
        fam = classify(frames, FAMILIES, "other")
        phase = phase_of(frames)
        if phase != "other" or tid == main_tid:
            pass
        elif main_times:
            i = min(bisect_left(main_times, t), len(main_times) - 1)
            if i > 0 and abs(main_times[i - 1] - t) < abs(main_times[i] - t):
                i -= 1
            phase = main_phases[i]
        counts[(fam, phase)] = counts.get((fam, phase), 0) + 1
    total = len(samples)
    step = ["forward", "backward", "optimizer step"]
    for f, _ in FAMILIES + [("other", "")]:
        counts[(f, "training step")] = sum(counts.get((f, p), 0) for p in step)
    phases = [p for p, _ in PHASES] + ["training step", "other"]
    fams = [f for f, _ in FAMILIES] + ["other"]
    col = {p: sum(counts.get((f, p), 0) for f in fams) for p in phases}
    phases = [p for p in phases if col[p] > 0]
    print(f"**{title}** ({total} CPU samples on {len(tids)} threads; % of each phase's samples)\n")
    print("| family | " + " | ".join(phases) + " |")
    print("| --- |" + " --- |" * len(phases))
    for f in fams:
        row = [100 * counts.get((f, p), 0) / col[p] for p in phases]
        if max(row) < 0.05:
            continue
        print(f"| {f} | " + " | ".join(f"{r:.1f}" for r in row) + " |")
    print("| phase's share of all samples | " + " | ".join(f"{100 * col[p] / total:.1f}" for p in phases) + " |")
    print()

if __name__ == "__main__":
    main()
