//! Direct convolution for geometries with unit stride along the width (the
//! common small-kernel case: LeNet's 5×5 layers, 3×3 "same" layers). No
//! column matrix is built: each output row is accumulated in registers from
//! the input rows its taps touch.
//!
//! The unit of work is a tile of `B` output channels × [`LANES`] consecutive
//! output positions of one row: `B` vector accumulators, one vector load of
//! input per tap, `B` broadcast weights and `B` fused multiply-adds. For
//! 5-wide kernels at unit dilation (LeNet's) a tile covers two rows: each
//! broadcast weight feeds two multiply-adds and 2·`B` sums run side by side
//! (one row's `B` wait on the multiply-add latency). The same tile shape
//! serves the forward and the input gradient:
//! ```text
//!   y  = Σ_{c,tap} w[oc,c,tap] · x_pad[c, row(tap), ow + tap_w]       (forward)
//!   dx = Σ_{oc,tap} w[oc,c,tap] · gy_pad[oc, row⁻¹(tap), iw + pw − tap_w]  (input gradient)
//!   dw = Σ_{n,rows,ow} gy[n,oc,·,ow] · x_pad[n,c,row(tap), ow + tap_w] (weight gradient)
//! ```
//! The weight gradient puts eight output channels in the lanes instead (its
//! sums run over positions): one vector of output gradient per position,
//! times the broadcast inputs of a row of taps (two rows at unit dilation).
//! The input is copied once with its zero padding (plus [`LANES`] of slack on
//! the right), and the output gradient with zeros on both sides of each
//! row, so no tap needs a bounds test. Every output element is computed by
//! one task in a fixed order: results do not depend on the thread count.

use super::lanes::{with_lanes, F32x8};
use super::parallel::{for_each_row_mut, rows_mut, splits};
use super::recycle;
use super::reduce::sum_f64;
use crate::context::ThreadSplit;
use crate::types::{ConvGeom, ConvGrads};
use rayon::prelude::*;

/// Output positions per tile: one 256-bit vector (`F32x8`).
pub(crate) const LANES: usize = 8;
/// Most output channels per tile (accumulators held in registers).
const MAX_BLOCK: usize = 8;
/// The auto rule's limit for a single image: from this many multiply-adds per
/// output channel a one-image pass goes to im2col + GEMM, which splits inside
/// (the direct loops split by image). A variant rule, fixed: it does not
/// follow a context's [`ThreadSplit`], so the policy never changes which variant runs.
pub(crate) const SINGLE_IMAGE_WORK: usize = 1 << 20;

/// Whether [`forward`] and [`backward`] can compute `g`: a valid geometry
/// with unit stride along the width (the only condition for correct results).
pub(crate) fn handles(g: &ConvGeom) -> bool {
    g.output().is_ok() && g.stride[2] == 1
}

/// Whether the direct convolution is expected to beat im2col + GEMM on `g`
/// (a speed rule on top of [`handles`]). Measured (two threads, `cargo bench
/// --bench conv`, BENCHMARKS.md): it wins on LeNet's layers (1→6 and 6→16
/// channels, 5×5) and loses once a group has 32 output channels (16→32,
/// 3×3: the GEMM's register blocking pays), so at most 16 output channels
/// and 256 input values (channels × kernel volume) per group. It splits work
/// by image, so a single large image goes to the GEMM, which splits inside;
/// on an x86 CPU without FMA its multiply-adds would be library calls.
pub(crate) fn suits(g: &ConvGeom) -> bool {
    if !handles(g) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    if !super::simd::has_avx2_fma() {
        return false;
    }
    let cg = g.in_channels / g.groups;
    let small = cg * g.kernel.iter().product::<usize>() <= 256 && g.out_channels / g.groups <= 16;
    let batch_or_small = g.batch >= 2 || g.output_len() * g.weight_len() / g.out_channels.max(1) < SINGLE_IMAGE_WORK;
    small && batch_or_small
}

/// The padded-input and row-offset bookkeeping shared by the three passes.
struct Layout {
    /// Output size (depth, height, width).
    out: [usize; 3],
    /// Padded input size: depth, height, and row length (width, padding both sides, slack).
    xp: [usize; 3],
    /// Row length of the padded output gradient.
    gyw: usize,
    /// Zeros on the left of each padded output-gradient row: the widest tap offset.
    gyl: usize,
    /// For each (tap depth, tap height): the row offset in the padded input plane.
    tap_rows: Vec<usize>,
    /// Input channels per group, output channels per group, kernel volume.
    cg: usize,
    ocg: usize,
    kvol: usize,
}

impl Layout {
    fn new(g: &ConvGeom) -> Layout {
        let out = g.output().expect("geometry checked by the caller");
        let xp = [g.input[0] + 2 * g.padding[0], g.input[1] + 2 * g.padding[1], g.input[2] + 2 * g.padding[2] + LANES];
        let mut tap_rows = Vec::with_capacity(g.kernel[0] * g.kernel[1]);
        for td in 0..g.kernel[0] {
            for th in 0..g.kernel[1] {
                tap_rows.push(td * g.dilation[0] * xp[1] + th * g.dilation[1]);
            }
        }
        let gyl = (g.kernel[2] - 1) * g.dilation[2];
        let gyw = gyl + out[2].max(g.padding[2] + g.input[2].next_multiple_of(LANES)) + LANES;
        Layout {
            out,
            xp,
            gyw,
            gyl,
            tap_rows,
            cg: g.in_channels / g.groups,
            ocg: g.out_channels / g.groups,
            kvol: g.kernel.iter().product(),
        }
    }

    fn xp_plane(&self) -> usize {
        self.xp.iter().product()
    }

    fn out_rows(&self) -> usize {
        self.out[0] * self.out[1]
    }

    /// The padded-input row (within a plane) where output row `r` starts its taps.
    fn x_row(&self, r: usize, g: &ConvGeom) -> usize {
        let (od, oh) = (r / self.out[1], r % self.out[1]);
        od * g.stride[0] * self.xp[1] + oh * g.stride[1]
    }
}

/// `x` `[N, C, D, H, W]` with zeros around each plane: `[N, C, D', H', W' + LANES]`.
fn pad_input(split: ThreadSplit, x: &[f32], g: &ConvGeom, lay: &Layout) -> Vec<f32> {
    let [id, ih, iw] = g.input;
    let [pd, ph, pw] = g.padding;
    let (plane, xpp) = (id * ih * iw, lay.xp_plane());
    // Zeroed image by image on the threads that fill them.
    let mut xp = recycle::for_overwrite(g.batch * g.in_channels * xpp);
    rows_mut(split, &mut xp, g.in_channels * xpp, |n, dst| {
        dst.fill(0.0);
        let src_img = &x[n * g.in_channels * plane..][..g.in_channels * plane];
        for (src, dst) in src_img.chunks_exact(plane.max(1)).zip(dst.chunks_exact_mut(xpp)) {
            for d in 0..id {
                for h in 0..ih {
                    let at = ((d + pd) * lay.xp[1] + h + ph) * lay.xp[2] + pw;
                    dst[at..at + iw].copy_from_slice(&src[(d * ih + h) * iw..][..iw]);
                }
            }
        }
    });
    xp
}

/// `gy` `[N, OC, od, oh, ow]` with `gyl` zeros before and at least
/// [`LANES`] zeros after each row: `[N, OC, od·oh, gyw]`.
fn pad_grad(split: ThreadSplit, gy: &[f32], g: &ConvGeom, lay: &Layout) -> Vec<f32> {
    let ow = lay.out[2];
    let rows = g.out_channels * lay.out_rows();
    let mut gp = recycle::for_overwrite(g.batch * rows * lay.gyw);
    rows_mut(split, &mut gp, rows * lay.gyw, |n, dst| {
        dst.fill(0.0);
        let src = &gy[n * rows * ow..][..rows * ow];
        for (s, d) in src.chunks_exact(ow.max(1)).zip(dst.chunks_exact_mut(lay.gyw)) {
            d[lay.gyl..lay.gyl + ow].copy_from_slice(s);
        }
    });
    gp
}

/// Output-channel blocks of at most [`MAX_BLOCK`] within each group: (first channel, size).
fn blocks(groups: usize, per_group: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for grp in 0..groups {
        let mut c = 0;
        while c < per_group {
            let b = MAX_BLOCK.min(per_group - c);
            out.push((grp * per_group + c, b));
            c += b;
        }
    }
    out
}

/// `acc[o] += w[o] · v` for each of the `B` accumulators.
#[inline(always)]
fn fma_tile<V: F32x8, const B: usize>(acc: &mut [V; B], w: &[f32], v: V) {
    let w: &[f32; B] = w[..B].try_into().expect("B weights");
    for o in 0..B {
        acc[o] = acc[o].mul_add_to(V::splat(w[o]), v);
    }
}

/// Stores the first `n` lanes of each accumulator `o` at `out[o·stride + at..]`.
#[inline(always)]
fn store_tile<V: F32x8, const B: usize>(acc: &[V; B], out: &mut [f32], stride: usize, at: usize, n: usize) {
    for (o, a) in acc.iter().enumerate() {
        if n == LANES {
            a.store(&mut out[o * stride + at..]);
        } else {
            out[o * stride + at..][..n].copy_from_slice(&a.to_array()[..n]);
        }
    }
}

/// The `kw` taps of one input row: `acc[o] += wt[tw·B + o] · row[tw·dw ..]`
/// (with `reversed`, tap `tw` reads `row[(kw − 1 − tw)·dw ..]`). Kernels 3
/// and 5 wide at unit dilation get unrolled loops with one bounds check each.
#[inline(always)]
fn row_taps<V: F32x8, const B: usize>(acc: &mut [V; B], wt: &[f32], row: &[f32], kw: usize, dw: usize, reversed: bool) {
    match (kw, dw) {
        (3, 1) => row_taps_fixed::<V, B, 3>(acc, wt, row, reversed),
        (5, 1) => row_taps_fixed::<V, B, 5>(acc, wt, row, reversed),
        _ => {
            for tw in 0..kw {
                let at = if reversed { kw - 1 - tw } else { tw } * dw;
                fma_tile(acc, &wt[tw * B..], V::load(&row[at..]));
            }
        }
    }
}

#[inline(always)]
fn row_taps_fixed<V: F32x8, const B: usize, const KW: usize>(
    acc: &mut [V; B],
    wt: &[f32],
    row: &[f32],
    reversed: bool,
) {
    let row = &row[..KW - 1 + LANES];
    let wt = &wt[..KW * B];
    for tw in 0..KW {
        let at = if reversed { KW - 1 - tw } else { tw };
        fma_tile(acc, &wt[tw * B..], V::load(&row[at..]));
    }
}

/// [`fma_tile`] for two rows of positions sharing their weights: each
/// broadcast weight feeds two multiply-adds, and the 2·`B` sums are
/// independent chains (one row's `B` wait on the multiply-add latency).
#[inline(always)]
fn fma_tile2<V: F32x8, const B: usize>(acc0: &mut [V; B], acc1: &mut [V; B], w: &[f32], v0: V, v1: V) {
    let w: &[f32; B] = w[..B].try_into().expect("B weights");
    for o in 0..B {
        let wo = V::splat(w[o]);
        acc0[o] = acc0[o].mul_add_to(wo, v0);
        acc1[o] = acc1[o].mul_add_to(wo, v1);
    }
}

/// [`row_taps`] for two rows at once (unit dilation; `KW` taps).
#[inline(always)]
fn row_taps2<V: F32x8, const B: usize, const KW: usize>(
    acc0: &mut [V; B],
    acc1: &mut [V; B],
    wt: &[f32],
    row0: &[f32],
    row1: &[f32],
    reversed: bool,
) {
    let (row0, row1) = (&row0[..KW - 1 + LANES], &row1[..KW - 1 + LANES]);
    let wt = &wt[..KW * B];
    for tw in 0..KW {
        let at = if reversed { KW - 1 - tw } else { tw };
        fma_tile2(acc0, acc1, &wt[tw * B..], V::load(&row0[at..]), V::load(&row1[at..]));
    }
}

/// Calls `f::<V, B>()` with the block size as a constant (1..=MAX_BLOCK).
macro_rules! with_block {
    ($v:ty, $b:expr, $f:ident, $($arg:expr),*) => {
        match $b {
            1 => $f::<$v, 1>($($arg),*),
            2 => $f::<$v, 2>($($arg),*),
            3 => $f::<$v, 3>($($arg),*),
            4 => $f::<$v, 4>($($arg),*),
            5 => $f::<$v, 5>($($arg),*),
            6 => $f::<$v, 6>($($arg),*),
            7 => $f::<$v, 7>($($arg),*),
            _ => $f::<$v, 8>($($arg),*),
        }
    };
}

/// The weights of output channels `oc0..oc0+b` reordered for the forward
/// tile: `[c in group][tap][b]`.
fn forward_panel(w: &[f32], lay: &Layout, oc0: usize, b: usize) -> Vec<f32> {
    let per = lay.cg * lay.kvol;
    let mut p = vec![0f32; per * b];
    for o in 0..b {
        for (i, &v) in w[(oc0 + o) * per..][..per].iter().enumerate() {
            p[i * b + o] = v;
        }
    }
    p
}

/// The forward pass of one image for one block of output channels.
#[inline(always)]
fn forward_block<V: F32x8, const B: usize>(
    xn: &[f32],
    panel: &[f32],
    bias: &[f32],
    c0: usize,
    g: &ConvGeom,
    lay: &Layout,
    y: &mut [f32],
) {
    let (kw, dw) = (g.kernel[2], g.dilation[2]);
    let (ow, plane, rowlen) = (lay.out[2], lay.xp_plane(), lay.xp[2]);
    let out_plane = lay.out_rows() * ow;
    let ntr = lay.tap_rows.len();
    // Rows in pairs where the kernel is 5 wide at unit dilation (LeNet's).
    let paired = if kw == 5 && dw == 1 { lay.out_rows() / 2 * 2 } else { 0 };
    for r in (0..paired).step_by(2) {
        let (xr0, xr1) = (lay.x_row(r, g), lay.x_row(r + 1, g));
        for ow0 in (0..ow).step_by(LANES) {
            let mut acc0: [V; B] = std::array::from_fn(|o| V::splat(bias[o]));
            let mut acc1 = acc0;
            for c in 0..lay.cg {
                let xc = &xn[(c0 + c) * plane..][..plane];
                for (tr, &toff) in lay.tap_rows.iter().enumerate() {
                    let row0 = &xc[(xr0 + toff) * rowlen + ow0..];
                    let row1 = &xc[(xr1 + toff) * rowlen + ow0..];
                    let wt = &panel[(c * ntr + tr) * kw * B..][..kw * B];
                    row_taps2::<V, B, 5>(&mut acc0, &mut acc1, wt, row0, row1, false);
                }
            }
            let n = LANES.min(ow - ow0);
            store_tile(&acc0, y, out_plane, r * ow + ow0, n);
            store_tile(&acc1, y, out_plane, (r + 1) * ow + ow0, n);
        }
    }
    for r in paired..lay.out_rows() {
        let xr = lay.x_row(r, g);
        for ow0 in (0..ow).step_by(LANES) {
            let mut acc: [V; B] = std::array::from_fn(|o| V::splat(bias[o]));
            for c in 0..lay.cg {
                let xc = &xn[(c0 + c) * plane..][..plane];
                for (tr, &toff) in lay.tap_rows.iter().enumerate() {
                    let row = &xc[(xr + toff) * rowlen + ow0..];
                    let wt = &panel[(c * ntr + tr) * kw * B..][..kw * B];
                    row_taps(&mut acc, wt, row, kw, dw, false);
                }
            }
            store_tile(&acc, y, out_plane, r * ow + ow0, LANES.min(ow - ow0));
        }
    }
}

#[inline(always)]
fn forward_image_impl<V: F32x8>(
    xn: &[f32],
    panels: &[(usize, usize, Vec<f32>)],
    b: &[f32],
    g: &ConvGeom,
    lay: &Layout,
    yn: &mut [f32],
) {
    let out_plane = lay.out_rows() * lay.out[2];
    for (oc0, nb, panel) in panels {
        let c0 = oc0 / lay.ocg * lay.cg;
        let y = &mut yn[oc0 * out_plane..][..nb * out_plane];
        let bias = &b[*oc0..oc0 + nb];
        with_block!(V, *nb, forward_block, xn, panel, bias, c0, g, lay, y);
    }
}

with_lanes! {
    fn forward_image(xn: &[f32], panels: &[(usize, usize, Vec<f32>)], b: &[f32], g: &ConvGeom, lay: &Layout, yn: &mut [f32])
        => forward_image_impl
}

/// `y = conv(x, w) + b` (layouts as [`super::conv::forward`]).
///
/// # Panics
/// Unless [`handles`]`(g)` (a width stride other than 1 would give wrong values).
pub(crate) fn forward(split: ThreadSplit, x: &[f32], w: &[f32], b: Option<&[f32]>, g: &ConvGeom, y: &mut [f32]) {
    assert!(handles(g), "the direct convolution needs a valid geometry with width stride 1: {g:?}");
    let lay = Layout::new(g);
    let xp = pad_input(split, x, g, &lay);
    let zeros = vec![0f32; g.out_channels];
    let b = b.unwrap_or(&zeros);
    let panels: Vec<(usize, usize, Vec<f32>)> =
        blocks(g.groups, lay.ocg).into_iter().map(|(oc0, nb)| (oc0, nb, forward_panel(w, &lay, oc0, nb))).collect();
    let (xpi, yi) = (g.in_channels * lay.xp_plane(), g.out_channels * lay.out_rows() * lay.out[2]);
    if yi == 0 {
        recycle::give(xp);
        return;
    }
    for_each_row_mut(y, yi, splits(split.conv, macs(g, &lay)), |n, yn| {
        forward_image(&xp[n * xpi..][..xpi], &panels, b, g, &lay, yn)
    });
    recycle::give(xp);
}

/// Multiply-adds of one pass.
fn macs(g: &ConvGeom, lay: &Layout) -> usize {
    g.batch * g.out_channels * lay.out_rows() * lay.out[2] * lay.cg * lay.kvol
}

/// The weights of input channels `c0..c0+b` (within their group) reordered
/// for the input-gradient tile: `[oc in group][tap][b]`.
fn input_panel(w: &[f32], lay: &Layout, grp: usize, ci0: usize, b: usize) -> Vec<f32> {
    let mut p = vec![0f32; lay.ocg * lay.kvol * b];
    for ocl in 0..lay.ocg {
        let oc = grp * lay.ocg + ocl;
        for o in 0..b {
            let src = &w[(oc * lay.cg + ci0 + o) * lay.kvol..][..lay.kvol];
            for (t, &v) in src.iter().enumerate() {
                p[(ocl * lay.kvol + t) * b + o] = v;
            }
        }
    }
    p
}

/// The input gradient of one image for one block of input channels.
#[inline(always)]
fn input_block<V: F32x8, const B: usize>(
    gn: &[f32],
    panel: &[f32],
    oc0: usize,
    g: &ConvGeom,
    lay: &Layout,
    taps: &mut Vec<(usize, usize)>,
    dx: &mut [f32],
) {
    let [id, ih, iw] = g.input;
    let (kh, kw, dw) = (g.kernel[1], g.kernel[2], g.dilation[2]);
    let gplane = lay.out_rows() * lay.gyw;
    let ntr = lay.tap_rows.len();
    // Input rows in pairs for 2-d 5-wide kernels at unit stride and
    // dilation (LeNet's): row h + 1 meets output row oh + 1 where row h meets oh.
    let simple = id == 1
        && g.kernel[0] == 1
        && g.padding[0] == 0
        && g.stride[1] == 1
        && g.dilation[1] == 1
        && dw == 1
        && kw == 5;
    let paired = if simple { ih / 2 * 2 } else { 0 };
    for h in (0..paired).step_by(2) {
        for iw0 in (0..iw).step_by(LANES) {
            let (mut acc0, mut acc1) = ([V::splat(0.0); B], [V::splat(0.0); B]);
            let base = lay.gyl + g.padding[2] + iw0;
            for ocl in 0..lay.ocg {
                let gc = &gn[(oc0 + ocl) * gplane..][..gplane];
                for th in 0..kh {
                    // Output rows oh and oh + 1 (when inside the output).
                    let oh = (h + g.padding[1]) as isize - th as isize;
                    let inside = |o: isize| o >= 0 && (o as usize) < lay.out[1];
                    let seg = |o: isize| &gc[o as usize * lay.gyw + base - (kw - 1)..][..kw - 1 + LANES];
                    let wt = &panel[(ocl * ntr + th) * kw * B..][..kw * B];
                    match (inside(oh), inside(oh + 1)) {
                        (true, true) => row_taps2::<V, B, 5>(&mut acc0, &mut acc1, wt, seg(oh), seg(oh + 1), true),
                        (true, false) => row_taps(&mut acc0, wt, seg(oh), kw, 1, true),
                        (false, true) => row_taps(&mut acc1, wt, seg(oh + 1), kw, 1, true),
                        (false, false) => {}
                    }
                }
            }
            let n = LANES.min(iw - iw0);
            store_tile(&acc0, dx, id * ih * iw, h * iw + iw0, n);
            store_tile(&acc1, dx, id * ih * iw, (h + 1) * iw + iw0, n);
        }
    }
    for d in 0..id {
        for h in (if simple { paired } else { 0 })..ih {
            // The (output row, tap row) pairs that reach this input row.
            taps.clear();
            for tr in 0..ntr {
                let (td, th) = (tr / kh, tr % kh);
                let od = (d + g.padding[0]).checked_sub(td * g.dilation[0]);
                let oh = (h + g.padding[1]).checked_sub(th * g.dilation[1]);
                let (Some(od), Some(oh)) = (od, oh) else { continue };
                if od % g.stride[0] != 0 || oh % g.stride[1] != 0 {
                    continue;
                }
                let (od, oh) = (od / g.stride[0], oh / g.stride[1]);
                if od < lay.out[0] && oh < lay.out[1] {
                    taps.push(((od * lay.out[1] + oh) * lay.gyw, tr));
                }
            }
            for iw0 in (0..iw).step_by(LANES) {
                let mut acc = [V::splat(0.0); B];
                // Output position ow = iw + pw − tap·dw sits at gyl + ow in a padded row.
                let base = lay.gyl + g.padding[2] + iw0;
                for ocl in 0..lay.ocg {
                    let gc = &gn[(oc0 + ocl) * gplane..][..gplane];
                    for &(grow, tr) in taps.iter() {
                        let row = &gc[grow..][..lay.gyw];
                        let wt = &panel[(ocl * ntr + tr) * kw * B..][..kw * B];
                        // Taps walk the row backwards from `base`: reverse the
                        // segment they read, so they share the forward's loop.
                        let seg = &row[base - (kw - 1) * dw..];
                        row_taps(&mut acc, wt, seg, kw, dw, true);
                    }
                }
                store_tile(&acc, dx, id * ih * iw, (d * ih + h) * iw + iw0, LANES.min(iw - iw0));
            }
        }
    }
}

#[inline(always)]
fn input_image_impl<V: F32x8>(
    gn: &[f32],
    panels: &[(usize, usize, Vec<f32>)],
    g: &ConvGeom,
    lay: &Layout,
    dxn: &mut [f32],
) {
    let plane = g.input.iter().product::<usize>();
    let mut taps = Vec::with_capacity(lay.tap_rows.len());
    for (c0, nb, panel) in panels {
        let oc0 = c0 / lay.cg * lay.ocg;
        let dx = &mut dxn[c0 * plane..][..nb * plane];
        with_block!(V, *nb, input_block, gn, panel, oc0, g, lay, &mut taps, dx);
    }
}

with_lanes! {
    fn input_image(gn: &[f32], panels: &[(usize, usize, Vec<f32>)], g: &ConvGeom, lay: &Layout, dxn: &mut [f32])
        => input_image_impl
}

mod weight;

use weight::weight_grad;

/// Gradients of [`forward`] with respect to x, w and b, each computed only
/// when asked for: `(dx, dw, db)` (as [`super::conv::backward`]).
///
/// # Panics
/// Unless [`handles`]`(g)`.
pub(crate) fn backward(
    split: ThreadSplit,
    x: &[f32],
    w: &[f32],
    gy: &[f32],
    g: &ConvGeom,
    need: (bool, bool, bool),
) -> ConvGrads {
    assert!(handles(g), "the direct convolution needs a valid geometry with width stride 1: {g:?}");
    let lay = Layout::new(g);
    let ol = lay.out_rows() * lay.out[2];
    let db = need.2.then(|| {
        // One sum per channel, the channels side by side on the threads.
        let channel = |oc: usize| {
            let mut s = 0f64;
            for n in 0..g.batch {
                s += sum_f64(&gy[(n * g.out_channels + oc) * ol..][..ol]);
            }
            s as f32
        };
        if splits(split.heavy, gy.len()) {
            (0..g.out_channels).into_par_iter().map(channel).collect()
        } else {
            (0..g.out_channels).map(channel).collect()
        }
    });
    if !(need.0 || need.1) || ol == 0 {
        let dx = need.0.then(|| recycle::zeroed(g.input_len()));
        let dw = need.1.then(|| recycle::zeroed(g.weight_len()));
        return (dx, dw, db);
    }
    let parallel = splits(split.conv, macs(g, &lay));
    let dw = need.1.then(|| weight_grad(split, x, gy, g, &lay, parallel));
    let dx = need.0.then(|| {
        let gp = pad_grad(split, gy, g, &lay);
        let mut panels = Vec::new();
        for (c0, nb) in blocks(g.groups, lay.cg) {
            let grp = c0 / lay.cg;
            panels.push((c0, nb, input_panel(w, &lay, grp, c0 % lay.cg, nb)));
        }
        let (gpi, dxi) = (g.out_channels * lay.out_rows() * lay.gyw, g.in_channels * g.input.iter().product::<usize>());
        let mut dx = recycle::for_overwrite(g.input_len());
        for_each_row_mut(&mut dx, dxi, parallel, |n, dxn| input_image(&gp[n * gpi..][..gpi], &panels, g, &lay, dxn));
        recycle::give(gp);
        dx
    });
    (dx, dw, db)
}
