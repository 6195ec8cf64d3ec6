//! Max and average pooling over up to three spatial axes (1d and 2d pooling
//! are the 3d loop with leading axes of size 1). Each (image, channel) plane
//! is independent, so planes are the unit of parallel work; the backward
//! passes scatter within one plane in a fixed order (deterministic). Windows
//! are visited by inlined loops (no per-element dynamic call).

use super::parallel::rows_mut;
use super::simd::multiversion;
use crate::context::ThreadSplit;
use crate::types::PoolGeom;

/// The input positions of one window: ranges along (depth, height, width),
/// already clipped to the input, and the plane's row lengths to index with.
struct Window {
    d: std::ops::Range<usize>,
    h: std::ops::Range<usize>,
    w: std::ops::Range<usize>,
    ih: usize,
    iw: usize,
}

impl Window {
    /// Calls `v(index in the plane)` for each input of the window, row-major.
    #[inline(always)]
    fn visit(&self, mut v: impl FnMut(usize)) {
        for d in self.d.clone() {
            for h in self.h.clone() {
                let base = (d * self.ih + h) * self.iw;
                for w in self.w.clone() {
                    v(base + w);
                }
            }
        }
    }
}

/// Calls `f(output_index_in_plane, window)` for each output of a plane, in order.
#[inline(always)]
fn each_window(g: &PoolGeom, mut f: impl FnMut(usize, &Window)) {
    let o = g.out_dims();
    let [_, ih, iw] = g.input;
    let mut p = 0;
    for od in 0..o[0] {
        let d = g.window(od, 0);
        for oh in 0..o[1] {
            let h = g.window(oh, 1);
            for ow in 0..o[2] {
                f(p, &Window { d: d.clone(), h: h.clone(), w: g.window(ow, 2), ih, iw });
                p += 1;
            }
        }
    }
}

/// The first maximum of a window (NaN wins, so it propagates): (value, index in the plane).
#[inline(always)]
fn window_max(img: &[f32], window: &Window) -> (f32, usize) {
    let mut best = (f32::NEG_INFINITY, usize::MAX);
    window.visit(|i| best = if best.1 == usize::MAX { (img[i], i) } else { pick(best, (img[i], i)) });
    best
}

/// Whether `g` is the common 2×2, stride-2, unpadded 2-d pooling, which gets
/// its own loop: four loads and three compares per output.
fn is_2x2(g: &PoolGeom) -> bool {
    g.input[0] == 1 && g.kernel == [1, 2, 2] && g.stride == [1, 2, 2] && g.padding == [0; 3]
}

/// Max pooling's rule for one more candidate (value, index): `b` replaces
/// `a` when larger, or when it is NaN and `a` is not, so the first maximum
/// wins and NaN propagates. Written with selects, not branches: after a
/// ReLU, ties and near-ties make branches unpredictable.
#[inline(always)]
fn pick<I: Copy>(a: (f32, I), b: (f32, I)) -> (f32, I) {
    let take = (b.0 > a.0) | (b.0.is_nan() & !a.0.is_nan());
    (if take { b.0 } else { a.0 }, if take { b.1 } else { a.1 })
}

/// The maximum of a 2×2 window given as its top and bottom pairs, NaN
/// winning ([`pick`]'s rule; the backward finds the position by masks).
#[inline(always)]
fn max4(top: [f32; 2], bottom: [f32; 2]) -> f32 {
    let best = pick((top[0], ()), (top[1], ()));
    pick(pick(best, (bottom[0], ())), (bottom[1], ())).0
}

#[inline(always)]
fn max_forward_2x2_impl(img: &[f32], g: &PoolGeom, out: &mut [f32]) {
    let [_, oh, ow] = g.out_dims();
    let iw = g.input[2];
    for r in 0..oh {
        let top = &img[2 * r * iw..][..2 * ow];
        let bottom = &img[(2 * r + 1) * iw..][..2 * ow];
        let row = &mut out[r * ow..][..ow];
        for (c, (t, b)) in row.iter_mut().zip(top.chunks_exact(2).zip(bottom.chunks_exact(2))) {
            *c = max4([t[0], t[1]], [b[0], b[1]]);
        }
    }
}

multiversion! {
    fn max_forward_2x2(img: &[f32], g: &PoolGeom, out: &mut [f32]) => max_forward_2x2_impl
}

/// Writes each window's gradient at its arg-max and zeros at the other
/// three positions (2×2 windows do not overlap); `d` must be zero outside
/// the windows (an odd last row or column).
#[inline(always)]
fn max_backward_2x2_impl(img: &[f32], gy: &[f32], g: &PoolGeom, d: &mut [f32]) {
    let [_, oh, ow] = g.out_dims();
    let iw = g.input[2];
    let whole = ow / ROUTE_WINDOWS * ROUTE_WINDOWS;
    for r in 0..oh {
        let top = &img[2 * r * iw..][..2 * ow];
        let bottom = &img[(2 * r + 1) * iw..][..2 * ow];
        let grow = &gy[r * ow..][..ow];
        let (dt, db) = d[2 * r * iw..][..2 * iw].split_at_mut(iw);
        let (dt, db) = (&mut dt[..2 * ow], &mut db[..2 * ow]);
        // Whole blocks of windows in the rows' own layout: vector loads and stores.
        for c0 in (0..whole).step_by(ROUTE_WINDOWS) {
            let at = 2 * c0..2 * (c0 + ROUTE_WINDOWS);
            let t = top[at.clone()].try_into().expect("a block");
            let b = bottom[at.clone()].try_into().expect("a block");
            let gv = grow[c0..c0 + ROUTE_WINDOWS].try_into().expect("a block");
            let (ot, ob) = route_block(t, b, gv);
            dt[at.clone()].copy_from_slice(&ot);
            db[at].copy_from_slice(&ob);
        }
        // The last windows of a row one at a time, by the same rule.
        for c in whole..ow {
            let i = 2 * c;
            let mut t = [0f32; 2 * ROUTE_WINDOWS];
            let mut b = [0f32; 2 * ROUTE_WINDOWS];
            t[..2].copy_from_slice(&top[i..i + 2]);
            b[..2].copy_from_slice(&bottom[i..i + 2]);
            let (ot, ob) = route_block(t, b, [grow[c]; ROUTE_WINDOWS]);
            dt[i..i + 2].copy_from_slice(&ot[..2]);
            db[i..i + 2].copy_from_slice(&ob[..2]);
        }
    }
}

/// Windows per block of [`route_block`]: a 256-bit vector of each row.
const ROUTE_WINDOWS: usize = 4;

/// For the windows of a block, given as the top and bottom rows they cover
/// (window `w` at lanes `2w`, `2w + 1`) and their gradients `gv`: `gv[w]` at
/// the window's first corner (row-major) equal to its maximum, or its first
/// NaN ([`pick`]'s arg-max), zero at the other corners. Lane by lane, each
/// lane seeing its window through its neighbour (`l ^ 1`).
#[inline(always)]
fn route_block(
    t: [f32; 2 * ROUTE_WINDOWS],
    b: [f32; 2 * ROUTE_WINDOWS],
    gv: [f32; ROUTE_WINDOWS],
) -> ([f32; 2 * ROUTE_WINDOWS], [f32; 2 * ROUTE_WINDOWS]) {
    let (mut ot, mut ob) = ([0f32; 2 * ROUTE_WINDOWS], [0f32; 2 * ROUTE_WINDOWS]);
    for l in 0..2 * ROUTE_WINDOWS {
        let left = l % 2 == 0;
        // The window's corners in row-major order.
        let (t0, t1) = if left { (t[l], t[l ^ 1]) } else { (t[l ^ 1], t[l]) };
        let (b0, b1) = if left { (b[l], b[l ^ 1]) } else { (b[l ^ 1], b[l]) };
        let m = max4([t0, t1], [b0, b1]);
        let hit = |v: f32| (v == m) | v.is_nan();
        let (h0, h1, h2, h3) = (hit(t0), hit(t1), hit(b0), hit(b1));
        let first = [h0, h1 & !h0, h2 & !h0 & !h1, h3 & !h0 & !h1 & !h2];
        let (top_won, bottom_won) = if left { (first[0], first[2]) } else { (first[1], first[3]) };
        let g = gv[l / 2];
        ot[l] = if top_won { g } else { 0.0 };
        ob[l] = if bottom_won { g } else { 0.0 };
    }
    (ot, ob)
}

multiversion! {
    fn max_backward_2x2(img: &[f32], gy: &[f32], g: &PoolGeom, d: &mut [f32]) => max_backward_2x2_impl
}

/// Max pooling: `y` holds each window's maximum (the first maximum wins, NaN
/// propagates). No arg-max is stored: [`max_backward`] finds it again from `x`,
/// which keeps the indices off the host on a GPU and saves a buffer.
pub(crate) fn max_forward(split: ThreadSplit, x: &[f32], g: &PoolGeom, y: &mut [f32]) {
    let (ip, op) = (g.input.iter().product::<usize>(), g.out_dims().iter().product::<usize>());
    if op == 0 {
        return;
    }
    let two = is_2x2(g);
    rows_mut(split, y, op, |pl, out| {
        let img = &x[pl * ip..(pl + 1) * ip];
        if two {
            max_forward_2x2(img, g, out);
        } else {
            each_window(g, |p, window| out[p] = window_max(img, window).0);
        }
    });
}

/// Routes `gy` to each window's arg-max, found again in `x` by the forward
/// rule: the adjoint of [`max_forward`]. Overlapping windows add up in output order.
pub(crate) fn max_backward(split: ThreadSplit, x: &[f32], gy: &[f32], g: &PoolGeom, dx: &mut [f32]) {
    let (ip, op) = (g.input.iter().product::<usize>(), g.out_dims().iter().product::<usize>());
    let two = is_2x2(g);
    let iw = g.input[2];
    let covered = two && g.input[1].is_multiple_of(2) && iw.is_multiple_of(2);
    rows_mut(split, dx, ip, |pl, d| {
        let img = &x[pl * ip..(pl + 1) * ip];
        if !covered {
            d.fill(0.0);
        }
        if two {
            max_backward_2x2(img, &gy[pl * op..(pl + 1) * op], g, d);
            return;
        }
        each_window(g, |p, window| {
            let (_, i) = window_max(img, window);
            if i != usize::MAX {
                d[i] += gy[pl * op + p];
            }
        });
    });
}

/// Average pooling; padded positions count as zeros in the divisor (torch's default).
pub(crate) fn avg_forward(split: ThreadSplit, x: &[f32], g: &PoolGeom, y: &mut [f32]) {
    let (ip, op) = (g.input.iter().product::<usize>(), g.out_dims().iter().product::<usize>());
    let inv = 1.0 / g.kernel.iter().product::<usize>() as f32;
    rows_mut(split, y, op, |pl, out| {
        let img = &x[pl * ip..(pl + 1) * ip];
        each_window(g, |p, window| {
            let mut sum = 0f32;
            window.visit(|i| sum += img[i]);
            out[p] = sum * inv;
        });
    });
}

/// The adjoint of [`avg_forward`].
pub(crate) fn avg_backward(split: ThreadSplit, gy: &[f32], g: &PoolGeom, dx: &mut [f32]) {
    let (ip, op) = (g.input.iter().product::<usize>(), g.out_dims().iter().product::<usize>());
    let inv = 1.0 / g.kernel.iter().product::<usize>() as f32;
    rows_mut(split, dx, ip, |pl, img| {
        img.fill(0.0);
        let gp = &gy[pl * op..(pl + 1) * op];
        each_window(g, |p, window| {
            let v = gp[p] * inv;
            window.visit(|i| img[i] += v);
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_2x2_loop_agrees_with_the_general_windows() {
        // Odd sizes (a last row and column no window covers), ties and a NaN.
        let g = PoolGeom { planes: 2, input: [1, 5, 7], kernel: [1, 2, 2], stride: [1, 2, 2], padding: [0; 3] };
        let mut x: Vec<f32> = (0..70).map(|i| ((i * 7 % 11) as f32) - 5.0).collect();
        x[3] = x[4];
        x[20] = f32::NAN;
        x[8] = x[1]; // a tie inside the first window (rows 0 and 1, columns 0 and 1)
        x[9] = f32::NAN; // and a NaN inside the second
        fast_and_general_agree(&g, &x);
        // After a ReLU: many windows all zero, +0 and −0 tied, NaNs, ties of
        // equal maxima anywhere in a window; wider than one routing block.
        let g = PoolGeom { planes: 3, input: [1, 6, 38], kernel: [1, 2, 2], stride: [1, 2, 2], padding: [0; 3] };
        let pattern = [0.0, -0.0, 1.0, 0.0, 2.0, 2.0, f32::NAN, 0.0, -0.0, 1.0, 0.0];
        let x: Vec<f32> = (0..g.input_len()).map(|i| pattern[(i * 7 + i / 38) % pattern.len()]).collect();
        fast_and_general_agree(&g, &x);
    }

    /// The 2×2 path of [`max_forward`]/[`max_backward`] against the general
    /// windows on the same input: the same values and the same arg-max.
    fn fast_and_general_agree(g: &PoolGeom, x: &[f32]) {
        assert!(is_2x2(g));
        let gy: Vec<f32> = (0..g.output_len()).map(|i| i as f32 + 1.0).collect();
        let (mut y_fast, mut dx_fast) = (vec![0.0; g.output_len()], vec![7.0; x.len()]);
        max_forward(ThreadSplit::default(), x, g, &mut y_fast);
        max_backward(ThreadSplit::default(), x, &gy, g, &mut dx_fast);
        // The general path: the same geometry written as a 3-d window with depth 1 of 1.
        let ip = g.input.iter().product::<usize>();
        let op = g.output_len() / g.planes;
        let mut y_gen = vec![0.0; g.output_len()];
        let mut dx_gen = vec![0.0; x.len()];
        for pl in 0..g.planes {
            let img = &x[pl * ip..(pl + 1) * ip];
            each_window(g, |p, w| {
                let (v, i) = window_max(img, w);
                y_gen[pl * op + p] = v;
                dx_gen[pl * ip + i] += gy[pl * op + p];
            });
        }
        let same = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .all(|(p, q)| p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()) || (*p == 0.0 && *q == 0.0))
        };
        assert!(same(&y_fast, &y_gen), "{y_fast:?} vs {y_gen:?}");
        assert!(same(&dx_fast, &dx_gen), "{dx_fast:?} vs {dx_gen:?}");
    }

    #[test]
    fn max_pool_2x2_picks_maxima_and_routes_gradients() {
        let g = PoolGeom { planes: 1, input: [1, 2, 4], kernel: [1, 2, 2], stride: [1, 2, 2], padding: [0; 3] };
        let x = [1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 7.0, 6.0];
        let mut y = vec![0.0; 2];
        max_forward(ThreadSplit::default(), &x, &g, &mut y);
        assert_eq!(y, [5.0, 7.0]);
        let mut dx = vec![9.0; 8];
        max_backward(ThreadSplit::default(), &x, &[1.0, 2.0], &g, &mut dx);
        assert_eq!(dx, [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0]);
    }

    #[test]
    fn avg_pool_counts_padding_as_zeros() {
        let g = PoolGeom { planes: 1, input: [1, 1, 3], kernel: [1, 1, 2], stride: [1, 1, 2], padding: [0, 0, 1] };
        let mut y = vec![0.0; 2];
        avg_forward(ThreadSplit::default(), &[2.0, 4.0, 6.0], &g, &mut y);
        assert_eq!(y, [1.0, 5.0]);
    }
}
