//! The direct convolution's weight gradient: eight output channels in the
//! lanes, its sums over positions (see the parent module's description).

use super::{pad_input, Layout, LANES, MAX_BLOCK};
use crate::context::ThreadSplit;
use crate::cpu::lanes::{with_lanes, F32x8};
use crate::cpu::parallel::rows_mut;
use crate::cpu::recycle;
use crate::types::ConvGeom;
use rayon::prelude::*;

/// Images per weight-gradient task: the batch is cut into fixed chunks whose
/// partial sums are added in chunk order (the same on any thread count).
const WEIGHT_BATCH_CHUNK: usize = 16;

/// `gy` `[N, OC, rows, ow]` → `[N, rows, ow, groups, ocgp]`: each position's
/// output channels side by side, each group's padded with zeros to a
/// multiple of [`LANES`], for the weight gradient's channel-wide vectors.
fn channels_last(split: ThreadSplit, gy: &[f32], g: &ConvGeom, lay: &Layout) -> (Vec<f32>, usize) {
    let ocgp = lay.ocg.next_multiple_of(LANES);
    let pos = lay.out_rows() * lay.out[2];
    let stride = g.groups * ocgp;
    let mut t = recycle::for_overwrite(g.batch * pos * stride);
    rows_mut(split, &mut t, pos * stride, |n, dst| {
        for grp in 0..g.groups {
            for lane0 in (0..ocgp).step_by(LANES) {
                let c0 = n * g.out_channels + grp * lay.ocg + lane0;
                let real = LANES.min(lay.ocg.saturating_sub(lane0));
                let src = &gy[c0 * pos..][..real * pos];
                transpose_block(src, real, pos, &mut dst[grp * ocgp + lane0..], stride);
            }
        }
    });
    (t, ocgp)
}

/// `dst[p·stride + o] = planes[o·pos + p]` for `o < real` and zero for the
/// other lanes up to [`LANES`]: eight positions at a time as an 8×8
/// transpose in registers, so reads and writes are whole vectors.
#[inline(always)]
fn transpose_block_impl<V: F32x8>(planes: &[f32], real: usize, pos: usize, dst: &mut [f32], stride: usize) {
    let full = pos / LANES * LANES;
    for p0 in (0..full).step_by(LANES) {
        let rows: [V; LANES] =
            std::array::from_fn(|o| if o < real { V::load(&planes[o * pos + p0..]) } else { V::splat(0.0) });
        for (p, v) in V::transpose(rows).into_iter().enumerate() {
            v.store(&mut dst[(p0 + p) * stride..]);
        }
    }
    for p in full..pos {
        let v: [f32; LANES] = std::array::from_fn(|o| if o < real { planes[o * pos + p] } else { 0.0 });
        dst[p * stride..][..LANES].copy_from_slice(&v);
    }
}

with_lanes! {
    fn transpose_block(planes: &[f32], real: usize, pos: usize, dst: &mut [f32], stride: usize) => transpose_block_impl
}

/// The sums of one task: `[tap row][tap][lane]`.
type TaskSums = [[[f32; LANES]; MAX_BLOCK]; 2];

/// One weight-gradient task: [`LANES`] output channels, one input channel,
/// up to [`MAX_BLOCK`] taps of one or two tap rows, a chunk of the batch.
#[derive(Clone, Copy)]
struct WeightTask {
    /// Offset of the task's channels within a position of the channels-last gradient.
    lane0: usize,
    /// Input channel (absolute).
    c: usize,
    /// First tap row: index into [`Layout::tap_rows`].
    tr: usize,
    /// Tap rows `tr..tr + rows` (1 or 2; 2 only at unit width dilation).
    rows: usize,
    /// First tap along the width.
    tw0: usize,
    /// Taps along the width (1..=MAX_BLOCK).
    taps: usize,
    /// Images `n0..n1`.
    n0: usize,
    n1: usize,
}

/// `B` channel-wide sums for the task, written to `out[..B]`:
/// `out[t] = Σ gy[·, pos] · x[c, pos + tap t]`.
#[inline(always)]
fn weight_block<V: F32x8, const B: usize>(
    xp: &[f32],
    gt: &[f32],
    stride: usize,
    task: WeightTask,
    g: &ConvGeom,
    lay: &Layout,
    out: &mut [[f32; LANES]],
) {
    let (ow, rowlen, xpp, dw) = (lay.out[2], lay.xp[2], lay.xp_plane(), g.dilation[2]);
    let pos = lay.out_rows() * ow;
    let shift = lay.tap_rows[task.tr] * rowlen + task.tw0 * dw;
    let (mut acc, mut acc2) = ([V::splat(0.0); B], [V::splat(0.0); B]);
    for n in task.n0..task.n1 {
        let xc = &xp[(n * g.in_channels + task.c) * xpp..][..xpp];
        let gn = &gt[n * pos * stride..][..pos * stride];
        for r in 0..lay.out_rows() {
            let xrow = &xc[lay.x_row(r, g) * rowlen + shift..][..(ow - 1) + (B - 1) * dw + 1];
            let grow = &gn[r * ow * stride..][..ow * stride];
            if dw == 1 {
                // Unit dilation: the inputs of neighbouring positions overlap.
                // Two positions a step, into two sets of sums: one set alone
                // waits on each multiply-add's latency.
                let mut pairs = grow.chunks_exact(2 * stride);
                for (q, pair) in (&mut pairs).enumerate() {
                    let g0 = V::load(&pair[task.lane0..]);
                    let g1 = V::load(&pair[stride + task.lane0..]);
                    let xs = &xrow[2 * q..][..B + 1];
                    for t in 0..B {
                        acc[t] = acc[t].mul_add_to(g0, V::splat(xs[t]));
                        acc2[t] = acc2[t].mul_add_to(g1, V::splat(xs[t + 1]));
                    }
                }
                if !pairs.remainder().is_empty() {
                    let g0 = V::load(&pairs.remainder()[task.lane0..]);
                    for t in 0..B {
                        acc[t] = acc[t].mul_add_to(g0, V::splat(xrow[ow - 1 + t]));
                    }
                }
            } else {
                let positions = grow.chunks_exact(stride).map(|p| V::load(&p[task.lane0..]));
                for (o, gv) in positions.enumerate() {
                    for (t, a) in acc.iter_mut().enumerate() {
                        *a = a.mul_add_to(gv, V::splat(xrow[o + t * dw]));
                    }
                }
            }
        }
    }
    for t in 0..B {
        let (a, b) = (acc[t].to_array(), acc2[t].to_array());
        out[t] = std::array::from_fn(|j| a[j] + b[j]);
    }
}

/// [`weight_block`] for two tap rows at unit dilation: each output-gradient
/// vector feeds the sums of both rows (2·`B` independent chains, one load).
#[inline(always)]
fn weight_block2<V: F32x8, const B: usize>(
    xp: &[f32],
    gt: &[f32],
    stride: usize,
    task: WeightTask,
    g: &ConvGeom,
    lay: &Layout,
    out: &mut TaskSums,
) {
    let (ow, rowlen, xpp) = (lay.out[2], lay.xp[2], lay.xp_plane());
    let pos = lay.out_rows() * ow;
    let shift0 = lay.tap_rows[task.tr] * rowlen + task.tw0;
    let shift1 = lay.tap_rows[task.tr + 1] * rowlen + task.tw0;
    let (mut a0, mut a1) = ([V::splat(0.0); B], [V::splat(0.0); B]);
    for n in task.n0..task.n1 {
        let xc = &xp[(n * g.in_channels + task.c) * xpp..][..xpp];
        let gn = &gt[n * pos * stride..][..pos * stride];
        for r in 0..lay.out_rows() {
            let base = lay.x_row(r, g) * rowlen;
            let (x0, x1) = (&xc[base + shift0..][..ow - 1 + B], &xc[base + shift1..][..ow - 1 + B]);
            let grow = &gn[r * ow * stride + task.lane0..][..(ow - 1) * stride + LANES];
            for o in 0..ow {
                let gv = V::load(&grow[o * stride..]);
                let (s0, s1) = (&x0[o..o + B], &x1[o..o + B]);
                for t in 0..B {
                    a0[t] = a0[t].mul_add_to(gv, V::splat(s0[t]));
                    a1[t] = a1[t].mul_add_to(gv, V::splat(s1[t]));
                }
            }
        }
    }
    for t in 0..B {
        (out[0][t], out[1][t]) = (a0[t].to_array(), a1[t].to_array());
    }
}

#[inline(always)]
fn weight_task_impl<V: F32x8>(
    xp: &[f32],
    gt: &[f32],
    stride: usize,
    task: WeightTask,
    g: &ConvGeom,
    lay: &Layout,
) -> TaskSums {
    let mut out: TaskSums = [[[0f32; LANES]; MAX_BLOCK]; 2];
    if task.rows == 2 {
        with_block!(V, task.taps, weight_block2, xp, gt, stride, task, g, lay, &mut out);
    } else {
        with_block!(V, task.taps, weight_block, xp, gt, stride, task, g, lay, &mut out[0]);
    }
    out
}

with_lanes! {
    fn weight_task(xp: &[f32], gt: &[f32], stride: usize, task: WeightTask, g: &ConvGeom, lay: &Layout) -> TaskSums
        => weight_task_impl
}

/// The weight gradient `[OC, C/groups, kvol]`.
pub(super) fn weight_grad(
    split: ThreadSplit,
    x: &[f32],
    gy: &[f32],
    g: &ConvGeom,
    lay: &Layout,
    parallel: bool,
) -> Vec<f32> {
    let xp = pad_input(split, x, g, lay);
    let (gt, ocgp) = channels_last(split, gy, g, lay);
    let stride = g.groups * ocgp;
    let (kw, ntr) = (g.kernel[2], lay.tap_rows.len());
    // Two tap rows a task at unit width dilation (see `weight_block2`).
    let row_step = if g.dilation[2] == 1 { 2 } else { 1 };
    let mut tasks = Vec::new();
    for grp in 0..g.groups {
        for lane0 in (grp * ocgp..(grp + 1) * ocgp).step_by(LANES) {
            for ci in 0..lay.cg {
                for tr in (0..ntr).step_by(row_step) {
                    let rows = row_step.min(ntr - tr);
                    for tw0 in (0..kw).step_by(MAX_BLOCK) {
                        for n0 in (0..g.batch).step_by(WEIGHT_BATCH_CHUNK) {
                            let (taps, n1) = (MAX_BLOCK.min(kw - tw0), (n0 + WEIGHT_BATCH_CHUNK).min(g.batch));
                            tasks.push(WeightTask { lane0, c: grp * lay.cg + ci, tr, rows, tw0, taps, n0, n1 });
                        }
                    }
                }
            }
        }
    }
    let run = |t: &WeightTask| weight_task(&xp, &gt, stride, *t, g, lay);
    let sums: Vec<TaskSums> =
        if parallel { tasks.par_iter().map(run).collect() } else { tasks.iter().map(run).collect() };
    let mut dw = recycle::zeroed(g.weight_len());
    // Tasks of one (lanes, channel, taps) are consecutive, in batch order.
    for (t, s) in tasks.iter().zip(&sums) {
        let grp = t.lane0 / ocgp;
        for o in 0..LANES {
            let ocl = t.lane0 % ocgp + o;
            if ocl >= lay.ocg {
                break;
            }
            for (i, rs) in s[..t.rows].iter().enumerate() {
                let row = ((grp * lay.ocg + ocl) * lay.cg + t.c % lay.cg) * lay.kvol + (t.tr + i) * kw + t.tw0;
                for (k, v) in rs[..t.taps].iter().enumerate() {
                    dw[row + k] += v[o];
                }
            }
        }
    }
    recycle::give(xp);
    recycle::give(gt);
    dw
}
