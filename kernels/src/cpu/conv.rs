//! Convolution, written once for three spatial axes: a 1d convolution is a
//! 3d one with depth and height 1, a 2d one has depth 1. Two methods:
//! [`conv_direct`] for small kernels with unit width stride (LeNet's layers:
//! no intermediate matrix), chosen by [`conv_direct::suits`], and im2col +
//! GEMM for the rest, described here.
//!
//! The whole batch is unfolded into one column matrix `col` of shape
//! `[C·kvol, N·L]` (kvol = kernel volume, L = output positions per image), so
//! each group is a single large GEMM instead of N small ones:
//!   out_g  = W_g · col_g            (forward, then [OC, N·L] → [N, OC, L])
//!   dW_g   = gout_g · col_gᵀ        (weight gradient: the batch sum is in the GEMM)
//!   dcol_g = W_gᵀ · gout_g          (then col2im scatters dcol back onto dx)
//! Every parallel loop writes disjoint outputs in a fixed order, so results
//! do not depend on the thread count.

use super::conv_direct;
use super::gemm::gemm_variant;
use super::parallel::rows_mut;
use super::recycle;
use super::reduce::sum_f64;
use crate::context::{GemmVariant, ThreadSplit};
use crate::types::Transpose;
use crate::types::{ConvGeom, ConvGrads};

/// For output index `o` and tap `t` on one axis: the input index, if inside.
#[inline]
fn src(o: usize, t: usize, a: usize, g: &ConvGeom) -> Option<usize> {
    let i = (o * g.stride[a] + t * g.dilation[a]).checked_sub(g.padding[a])?;
    (i < g.input[a]).then_some(i)
}

/// The output positions `lo..hi` along the width whose input index
/// `ow·stride + tap·dilation − padding` falls inside `0..iw`, and that
/// index's offset (tap·dilation − padding).
#[inline]
fn valid_width(tw: usize, g: &ConvGeom, ow_n: usize) -> (usize, usize, isize) {
    let (s, iw) = (g.stride[2] as isize, g.input[2] as isize);
    let off = (tw * g.dilation[2]) as isize - g.padding[2] as isize;
    let lo = if off >= 0 { 0 } else { (-off + s - 1) / s };
    let hi = if iw - off <= 0 { 0 } else { (iw - off - 1) / s + 1 };
    let hi = (hi as usize).min(ow_n);
    ((lo as usize).min(hi), hi, off)
}

/// Splits a row index of `col` into (channel, tap d, tap h, tap w).
#[inline]
fn taps(r: usize, g: &ConvGeom) -> (usize, usize, usize, usize) {
    let [kd, kh, kw] = g.kernel;
    let tap = r % (kd * kh * kw);
    (r / (kd * kh * kw), tap / (kh * kw), tap / kw % kh, tap % kw)
}

/// Unfolds `x` `[N, C, D, H, W]` into `col` `[C·kvol, N·L]`.
pub(crate) fn im2col(split: ThreadSplit, x: &[f32], g: &ConvGeom, col: &mut [f32]) {
    let o = g.out_dims();
    let l = o.iter().product::<usize>();
    let [id, ih, iw] = g.input;
    let plane = id * ih * iw;
    let sw = g.stride[2];
    rows_mut(split, col, g.batch * l, |r, row| {
        let (c, td, th, tw) = taps(r, g);
        let (lo, hi, off) = valid_width(tw, g, o[2]);
        for n in 0..g.batch {
            let img = &x[(n * g.in_channels + c) * plane..][..plane];
            for od in 0..o[0] {
                let zd = src(od, td, 0, g);
                for oh in 0..o[1] {
                    let dst = &mut row[n * l + (od * o[1] + oh) * o[2]..][..o[2]];
                    let (Some(d), Some(h)) = (zd, src(oh, th, 1, g)) else {
                        dst.fill(0.0);
                        continue;
                    };
                    let line = &img[(d * ih + h) * iw..][..iw];
                    dst[..lo].fill(0.0);
                    dst[hi..].fill(0.0);
                    if sw == 1 {
                        let start = (lo as isize + off) as usize;
                        dst[lo..hi].copy_from_slice(&line[start..start + hi - lo]);
                    } else {
                        for (ow, v) in dst[lo..hi].iter_mut().enumerate() {
                            *v = line[(((lo + ow) * sw) as isize + off) as usize];
                        }
                    }
                }
            }
        }
    });
}

/// Adds `col` `[C·kvol, N·L]` back onto `dx` `[N, C, D, H, W]`: the adjoint of [`im2col`].
pub(crate) fn col2im(split: ThreadSplit, col: &[f32], g: &ConvGeom, dx: &mut [f32]) {
    let o = g.out_dims();
    let l = o.iter().product::<usize>();
    let kvol = g.kvol();
    let [id, ih, iw] = g.input;
    let plane = id * ih * iw;
    let nl = g.batch * l;
    let sw = g.stride[2];
    // One task per (image, channel) plane: planes are disjoint in dx.
    rows_mut(split, dx, plane, |nc, img| {
        img.fill(0.0);
        let (n, c) = (nc / g.in_channels, nc % g.in_channels);
        for tap in 0..kvol {
            let (_, td, th, tw) = taps(c * kvol + tap, g);
            let (lo, hi, off) = valid_width(tw, g, o[2]);
            let srow = &col[(c * kvol + tap) * nl + n * l..][..l];
            for od in 0..o[0] {
                let Some(d) = src(od, td, 0, g) else { continue };
                for oh in 0..o[1] {
                    let Some(h) = src(oh, th, 1, g) else { continue };
                    let s = &srow[(od * o[1] + oh) * o[2]..][lo..hi];
                    let line = &mut img[(d * ih + h) * iw..][..iw];
                    for (ow, &v) in s.iter().enumerate() {
                        line[(((lo + ow) * sw) as isize + off) as usize] += v;
                    }
                }
            }
        }
    });
}

/// `y = conv(x, w) + b`: x `[N, C, D, H, W]`, w `[OC, C/groups, kd, kh, kw]`,
/// b `[OC]`, y `[N, OC, od, oh, ow]`. The geometry must have passed [`ConvGeom::output`].
/// Small kernels with unit width stride run the direct convolution
/// ([`conv_direct`]), the others im2col + GEMM ([`forward_unfolded`]).
pub(crate) fn forward(split: ThreadSplit, x: &[f32], w: &[f32], b: Option<&[f32]>, g: &ConvGeom, y: &mut [f32]) {
    if conv_direct::suits(g) {
        conv_direct::forward(split, x, w, b, g, y)
    } else {
        forward_unfolded(split, x, w, b, g, y)
    }
}

/// Gradients of [`forward`] with respect to x, w and b, each computed only
/// when asked for: `(dx, dw, db)`. The same choice of method as [`forward`].
pub(crate) fn backward(
    split: ThreadSplit,
    x: &[f32],
    w: &[f32],
    gy: &[f32],
    g: &ConvGeom,
    need: (bool, bool, bool),
) -> ConvGrads {
    if conv_direct::suits(g) {
        conv_direct::backward(split, x, w, gy, g, need)
    } else {
        backward_unfolded(split, x, w, gy, g, need)
    }
}

/// [`forward`] by im2col + GEMM, for any geometry.
pub(crate) fn forward_unfolded(
    split: ThreadSplit,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    g: &ConvGeom,
    y: &mut [f32],
) {
    let l = g.out_dims().iter().product::<usize>();
    let nl = g.batch * l;
    let (cg, ocg, kvol) = (g.in_channels / g.groups, g.out_channels / g.groups, g.kvol());
    let kg = cg * kvol;
    // Scratch from the recycled buffers (every element is written), handed back at the end.
    let mut col = recycle::for_overwrite(g.in_channels * kvol * nl);
    im2col(split, x, g, &mut col);
    // [OC, N·L], one GEMM per group.
    let mut yt = recycle::for_overwrite(g.out_channels * nl);
    for grp in 0..g.groups {
        gemm_variant(
            GemmVariant::Auto,
            split,
            ocg,
            kg,
            nl,
            1.0,
            &w[grp * ocg * kg..(grp + 1) * ocg * kg],
            &col[grp * kg * nl..(grp + 1) * kg * nl],
            0.0,
            &mut yt[grp * ocg * nl..(grp + 1) * ocg * nl],
            Transpose::NN,
        );
    }
    // [OC, N·L] → [N, OC, L], adding the bias on the way.
    rows_mut(split, y, l, |r, dst| {
        let (n, oc) = (r / g.out_channels, r % g.out_channels);
        let s = &yt[oc * nl + n * l..][..l];
        let bias = b.map_or(0.0, |b| b[oc]);
        dst.iter_mut().zip(s).for_each(|(d, &v)| *d = v + bias);
    });
    recycle::give(col);
    recycle::give(yt);
}

/// [`backward`] by im2col + GEMM, for any geometry.
pub(crate) fn backward_unfolded(
    split: ThreadSplit,
    x: &[f32],
    w: &[f32],
    gy: &[f32],
    g: &ConvGeom,
    need: (bool, bool, bool),
) -> ConvGrads {
    let l = g.out_dims().iter().product::<usize>();
    let nl = g.batch * l;
    let (cg, ocg, kvol) = (g.in_channels / g.groups, g.out_channels / g.groups, g.kvol());
    let kg = cg * kvol;
    // gy [N, OC, L] → gt [OC, N·L].
    let mut gt = recycle::for_overwrite(g.out_channels * nl);
    rows_mut(split, &mut gt, l, |r, dst| {
        let (oc, n) = (r / g.batch, r % g.batch);
        dst.copy_from_slice(&gy[(n * g.out_channels + oc) * l..][..l]);
    });
    let db = need.2.then(|| gt.chunks(nl.max(1)).map(|row| sum_f64(row) as f32).collect::<Vec<f32>>());
    let dw = need.1.then(|| {
        let mut col = recycle::for_overwrite(g.in_channels * kvol * nl);
        im2col(split, x, g, &mut col);
        let mut dw = recycle::for_overwrite(g.weight_len());
        for grp in 0..g.groups {
            gemm_variant(
                GemmVariant::Auto,
                split,
                ocg,
                nl,
                kg,
                1.0,
                &gt[grp * ocg * nl..(grp + 1) * ocg * nl],
                &col[grp * kg * nl..(grp + 1) * kg * nl],
                0.0,
                &mut dw[grp * ocg * kg..(grp + 1) * ocg * kg],
                Transpose::NT,
            );
        }
        recycle::give(col);
        dw
    });
    let dx = need.0.then(|| {
        let mut dcol = recycle::for_overwrite(g.in_channels * kvol * nl);
        for grp in 0..g.groups {
            gemm_variant(
                GemmVariant::Auto,
                split,
                kg,
                ocg,
                nl,
                1.0,
                &w[grp * ocg * kg..(grp + 1) * ocg * kg],
                &gt[grp * ocg * nl..(grp + 1) * ocg * nl],
                0.0,
                &mut dcol[grp * kg * nl..(grp + 1) * kg * nl],
                Transpose::TN,
            );
        }
        let mut dx = recycle::zeroed(g.input_len());
        col2im(split, &dcol, g, &mut dx);
        recycle::give(dcol);
        dx
    });
    recycle::give(gt);
    (dx, dw, db)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one output element at a time.
    fn direct(x: &[f32], w: &[f32], b: &[f32], g: &ConvGeom) -> Vec<f32> {
        let o = g.output().unwrap();
        let (cg, ocg) = (g.in_channels / g.groups, g.out_channels / g.groups);
        let [id, ih, iw] = g.input;
        let [kd, kh, kw] = g.kernel;
        let mut y = vec![0f32; g.output_len()];
        let mut p = 0;
        for n in 0..g.batch {
            for oc in 0..g.out_channels {
                let grp = oc / ocg;
                for od in 0..o[0] {
                    for oh in 0..o[1] {
                        for ow in 0..o[2] {
                            let mut s = b[oc];
                            for ci in 0..cg {
                                let c = grp * cg + ci;
                                for a in 0..kd {
                                    for bb in 0..kh {
                                        for cc in 0..kw {
                                            let (Some(d), Some(h), Some(ww)) =
                                                (src(od, a, 0, g), src(oh, bb, 1, g), src(ow, cc, 2, g))
                                            else {
                                                continue;
                                            };
                                            s += x[(((n * g.in_channels + c) * id + d) * ih + h) * iw + ww]
                                                * w[(((oc * cg + ci) * kd + a) * kh + bb) * kw + cc];
                                        }
                                    }
                                }
                            }
                            y[p] = s;
                            p += 1;
                        }
                    }
                }
            }
        }
        y
    }

    fn data(n: usize, salt: u32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(salt) >> 20) as f32 / 2048.0 - 1.0)
            .collect()
    }

    #[test]
    fn forward_matches_direct_convolution() {
        // Through the dispatching entry point; 3-d, grouped, strided, padded, dilated.
        let g = geometries()[3];
        let (x, w, b) = (data(g.input_len(), 1), data(g.weight_len(), 7), data(6, 3));
        let mut y = vec![0f32; g.output_len()];
        forward(ThreadSplit::default(), &x, &w, Some(&b), &g, &mut y);
        let want = direct(&x, &w, &b, &g);
        for (a, e) in y.iter().zip(&want) {
            assert!((a - e).abs() < 1e-4, "{a} vs {e}");
        }
    }

    /// Geometries that exercise every path of the direct convolution: row
    /// tails (widths not a multiple of its lanes), padding, dilation, height
    /// and depth strides, groups, blocks of output channels beyond one tile.
    fn geometries() -> Vec<ConvGeom> {
        let base = ConvGeom {
            batch: 2,
            in_channels: 1,
            out_channels: 6,
            groups: 1,
            input: [1, 12, 12],
            kernel: [1, 5, 5],
            stride: [1; 3],
            padding: [0; 3],
            dilation: [1; 3],
        };
        vec![
            base,
            ConvGeom { in_channels: 6, out_channels: 16, input: [1, 9, 13], ..base },
            ConvGeom { in_channels: 3, out_channels: 11, kernel: [1, 3, 3], padding: [0, 1, 1], ..base },
            ConvGeom {
                in_channels: 4,
                out_channels: 6,
                groups: 2,
                input: [3, 7, 6],
                kernel: [2, 3, 2],
                stride: [1, 2, 1],
                padding: [1, 1, 0],
                dilation: [1, 1, 2],
                ..base
            },
            ConvGeom {
                in_channels: 2,
                out_channels: 3,
                input: [1, 1, 19],
                kernel: [1, 1, 4],
                padding: [0, 0, 3],
                dilation: [1, 1, 3],
                ..base
            },
            // A batch over one weight-gradient chunk (its partial sums add up).
            ConvGeom { batch: 19, in_channels: 2, out_channels: 3, input: [1, 6, 7], kernel: [1, 3, 3], ..base },
            // A kernel wider than one block of taps (8 + 3).
            ConvGeom { in_channels: 2, out_channels: 3, input: [1, 1, 30], kernel: [1, 1, 11], ..base },
            // Padding wider than the kernel: output rows longer than the input's.
            ConvGeom { out_channels: 2, input: [1, 5, 8], kernel: [1, 3, 3], padding: [0, 4, 4], ..base },
            // The two-row tiles (5 wide, unit dilation) with depth padding on a
            // one-deep input: only the middle output plane reaches the input.
            ConvGeom { in_channels: 2, out_channels: 3, input: [1, 7, 9], padding: [1, 2, 2], ..base },
            // ... with a kernel two deep (the weight gradient's row pairs span
            // depth), groups, width padding and an odd number of rows.
            ConvGeom {
                in_channels: 4,
                out_channels: 6,
                groups: 2,
                input: [3, 7, 9],
                kernel: [2, 3, 5],
                padding: [1, 1, 2],
                ..base
            },
        ]
    }

    #[test]
    fn both_methods_match_the_definition() {
        for g in geometries() {
            assert!(conv_direct::handles(&g), "{g:?}");
            let (x, w, b) = (data(g.input_len(), 1), data(g.weight_len(), 7), data(g.out_channels, 3));
            let want = direct(&x, &w, &b, &g);
            let (mut y_direct, mut y_unfolded) = (vec![0f32; g.output_len()], vec![0f32; g.output_len()]);
            conv_direct::forward(ThreadSplit::default(), &x, &w, Some(&b), &g, &mut y_direct);
            forward_unfolded(ThreadSplit::default(), &x, &w, Some(&b), &g, &mut y_unfolded);
            for ((a, u), e) in y_direct.iter().zip(&y_unfolded).zip(&want) {
                assert!((a - e).abs() < 1e-4 && (u - e).abs() < 1e-4, "{g:?}: {a} / {u} vs {e}");
            }
        }
    }

    #[test]
    fn both_methods_give_the_same_gradients() {
        for g in geometries() {
            let (x, w, gy) = (data(g.input_len(), 1), data(g.weight_len(), 7), data(g.output_len(), 5));
            let (dx, dw, db) = conv_direct::backward(ThreadSplit::default(), &x, &w, &gy, &g, (true, true, true));
            let (ex, ew, eb) = backward_unfolded(ThreadSplit::default(), &x, &w, &gy, &g, (true, true, true));
            for (name, a, e) in [("dx", dx, ex), ("dw", dw, ew), ("db", db, eb)] {
                let (a, e) = (a.unwrap(), e.unwrap());
                assert_eq!(a.len(), e.len());
                for (p, q) in a.iter().zip(&e) {
                    assert!((p - q).abs() < 1e-4 * (1.0 + q.abs()), "{name} of {g:?}: {p} vs {q}");
                }
            }
        }
    }

    #[test]
    fn the_direct_convolution_gives_the_same_bits_on_one_and_two_threads() {
        // Large enough for its parallel paths (over a million multiply-adds a pass).
        let g = ConvGeom {
            batch: 32,
            in_channels: 3,
            out_channels: 10,
            input: [1, 20, 20],
            padding: [0, 1, 1],
            kernel: [1, 3, 3],
            ..geometries()[0]
        };
        let (x, w, b, gy) = (data(g.input_len(), 1), data(g.weight_len(), 7), data(10, 3), data(g.output_len(), 5));
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let mut y = vec![0f32; g.output_len()];
                conv_direct::forward(ThreadSplit::default(), &x, &w, Some(&b), &g, &mut y);
                let (dx, dw, db) = conv_direct::backward(ThreadSplit::default(), &x, &w, &gy, &g, (true, true, true));
                [y, dx.unwrap(), dw.unwrap(), db.unwrap()].map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<u32>>())
            })
        };
        assert_eq!(run(1), run(2));
    }

    #[test]
    #[should_panic(expected = "width stride 1")]
    fn the_direct_convolution_refuses_a_width_stride() {
        let g = ConvGeom { stride: [1, 1, 2], ..geometries()[0] };
        assert!(!conv_direct::handles(&g) && !conv_direct::suits(&g));
        let mut y = vec![0f32; g.output_len()];
        conv_direct::forward(
            ThreadSplit::default(),
            &data(g.input_len(), 1),
            &data(g.weight_len(), 2),
            None,
            &g,
            &mut y,
        );
    }

    #[test]
    fn a_non_finite_input_outside_a_taps_reach_leaves_its_weight_gradient_finite() {
        // Width 14, kernel 5: the last input column is reached only by the
        // last tap; no other tap's weight gradient may see it.
        let g = ConvGeom { input: [1, 12, 14], ..geometries()[0] };
        let mut x = data(g.input_len(), 1);
        x[13] = f32::INFINITY;
        let gy = data(g.output_len(), 5);
        let (_, dw, _) =
            conv_direct::backward(ThreadSplit::default(), &x, &data(g.weight_len(), 7), &gy, &g, (false, true, false));
        let dw = dw.unwrap();
        assert!(dw[0].is_finite() && !dw[4].is_finite(), "{:?}", &dw[..5]);
    }

    #[test]
    fn kernel_too_large_is_an_error() {
        let g = ConvGeom { input: [1, 1, 4], kernel: [1, 1, 3], dilation: [1, 1, 2], ..geometries()[0] };
        assert!(g.output().is_err());
    }
}
