//! Reductions: over all elements or along one axis, and the sum back to a
//! broadcast operand's shape that every broadcasting op's backward needs.
//! Sums accumulate in f64 over fixed chunks so the result is independent of
//! the thread count.

use super::parallel::chunked_sum;
use super::simd::multiversion;
use crate::context::ThreadSplit;
use crate::shape::{broadcast_strides, numel};

/// Sum of all elements (on the threads from `split.heavy` elements; the
/// same bits under every policy).
pub(crate) fn sum_all(split: ThreadSplit, x: &[f32]) -> f32 {
    chunked_sum(split, x.len(), |s, e| sum_f64(&x[s..e])) as f32
}

/// Independent f64 partial sums of [`sum_f64`]: a single running sum is one
/// long chain of dependent additions (4 cycles each); eight run side by side
/// and vectorise.
const SUM_LANES: usize = 8;

#[inline(always)]
fn sum_f64_impl(x: &[f32]) -> f64 {
    let mut lanes = [0f64; SUM_LANES];
    let mut blocks = x.chunks_exact(SUM_LANES);
    for b in &mut blocks {
        for (l, &v) in lanes.iter_mut().zip(b) {
            *l += v as f64;
        }
    }
    let tail: f64 = blocks.remainder().iter().map(|&v| v as f64).sum();
    lanes.iter().sum::<f64>() + tail
}

multiversion! {
    /// The sum of `x` in f64: lane `j` adds elements `j, j + 8, ...` in order,
    /// then the lanes and the tail are added in order (a fixed order: the
    /// same bits on every CPU and thread count).
    pub(crate) fn sum_f64(x: &[f32]) -> f64 => sum_f64_impl
}

/// Sums along the middle axis of an (outer, len, inner) view: `out` has outer·inner elements.
pub(crate) fn sum_axis(x: &[f32], outer: usize, len: usize, inner: usize, out: &mut [f32]) {
    out.fill(0.0);
    for o in 0..outer {
        let dst = &mut out[o * inner..(o + 1) * inner];
        for a in 0..len {
            let src = &x[(o * len + a) * inner..(o * len + a + 1) * inner];
            dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s);
        }
    }
}

/// Maximum and its first index along the middle axis of an (outer, len, inner) view.
/// `len` must be at least 1. NaN wins (it propagates rather than hides).
pub(crate) fn max_axis(x: &[f32], outer: usize, len: usize, inner: usize, out: &mut [f32], arg: &mut [usize]) {
    for o in 0..outer {
        for i in 0..inner {
            let mut best = x[o * len * inner + i];
            let mut best_a = 0;
            for a in 1..len {
                let v = x[(o * len + a) * inner + i];
                if v > best || (v.is_nan() && !best.is_nan()) {
                    best = v;
                    best_a = a;
                }
            }
            out[o * inner + i] = best;
            arg[o * inner + i] = best_a;
        }
    }
}

/// Sums `g` (of shape `from`) down to `to`, the shape of an operand that was
/// broadcast up to `from`: the adjoint of broadcasting.
pub(crate) fn sum_to_shape(split: ThreadSplit, g: &[f32], from: &[usize], to: &[usize], out: &mut [f32]) {
    if from == to {
        out.copy_from_slice(g);
        return;
    }
    out.fill(0.0);
    // A zero-sized operand has an empty gradient (and `chunks(0)` would panic).
    if out.is_empty() {
        return;
    }
    if numel(to) == 1 {
        out[0] = sum_all(split, g);
        return;
    }
    if from.ends_with(to) {
        // Leading axes were added: add up the rows.
        let n = out.len();
        for row in g.chunks(n) {
            out.iter_mut().zip(row).for_each(|(d, &s)| *d += s);
        }
        return;
    }
    let st = broadcast_strides(to, from);
    let rank = from.len();
    let mut idx = vec![0usize; rank];
    let mut dst = 0usize;
    for &v in g {
        out[dst] += v;
        for ax in (0..rank).rev() {
            idx[ax] += 1;
            dst += st[ax];
            if idx[ax] < from[ax] {
                break;
            }
            dst -= st[ax] * idx[ax];
            idx[ax] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lane_sum_adds_every_element_once() {
        // Integers: every order gives the exact sum, so a lost or doubled element shows.
        for n in [0, 1, 7, 8, 9, 100, 1027] {
            let x: Vec<f32> = (0..n).map(|i| (i % 13) as f32 - 6.0).collect();
            let want: f64 = x.iter().map(|&v| v as f64).sum();
            assert_eq!(sum_f64(&x), want, "n = {n}");
        }
        let x: Vec<f32> = (0..10_001).map(|i| ((i as f32) * 0.37).sin() * 1e3).collect();
        let want: f64 = x.iter().map(|&v| v as f64).sum();
        assert!((sum_f64(&x) - want).abs() < 1e-9 * want.abs().max(1.0));
    }

    #[test]
    fn sum_to_shape_is_the_adjoint_of_broadcast() {
        let g: Vec<f32> = (0..24).map(|i| i as f32).collect();
        let mut o = vec![0.0; 3];
        sum_to_shape(ThreadSplit::default(), &g, &[2, 4, 3], &[3], &mut o);
        assert_eq!(o, vec![84.0, 92.0, 100.0]);
        let mut o = vec![0.0; 4];
        sum_to_shape(ThreadSplit::default(), &g, &[2, 4, 3], &[4, 1], &mut o);
        assert_eq!(o, vec![42.0, 60.0, 78.0, 96.0]);
        let mut o = vec![0.0; 1];
        sum_to_shape(ThreadSplit::default(), &g, &[2, 4, 3], &[], &mut o);
        assert_eq!(o[0], 276.0);
    }

    #[test]
    fn axis_reductions() {
        let x = [1.0, 5.0, 3.0, 4.0, 2.0, 6.0]; // 2x3
        let mut s = vec![0.0; 3];
        sum_axis(&x, 1, 2, 3, &mut s);
        assert_eq!(s, vec![5.0, 7.0, 9.0]);
        let (mut m, mut a) = (vec![0.0; 2], vec![0; 2]);
        max_axis(&x, 2, 3, 1, &mut m, &mut a);
        assert_eq!((m, a), (vec![5.0, 6.0], vec![1, 2]));
    }
}
