//! In-place parameter updates: the optimizer steps as single fused loops.

use super::parallel::{for_each_chunk_mut_above, splits, CHUNK};
use super::simd::multiversion;
use crate::context::ThreadSplit;
use crate::types::AdamStep;
use rayon::prelude::*;

#[inline(always)]
fn adam_impl(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], h: AdamStep) {
    for (((pi, mi), vi), &gi) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
        let gi = gi + h.weight_decay * *pi;
        *mi = h.beta1 * *mi + (1.0 - h.beta1) * gi;
        *vi = h.beta2 * *vi + (1.0 - h.beta2) * gi * gi;
        *pi -= h.step_size * *mi / (vi.sqrt() + h.eps_hat);
    }
}

multiversion! {
    fn adam_simd(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], h: AdamStep) => adam_impl
}

/// One Adam step in place on `p`, with moments `m`, `v` and gradient `g`
/// (vectorised with the widest instructions the CPU has; square root and
/// division are exactly rounded at every width, so the bits do not change).
/// Tensors from `split.light` elements are split over the threads: each element is updated alone,
/// so the result does not depend on them (the update reads and writes seven
/// streams: one core alone was 8% of an mlp400 step while the other waited).
///
/// # Panics
/// If the four slices differ in length.
pub(crate) fn adam(split: ThreadSplit, p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], h: AdamStep) {
    let n = p.len();
    assert!(m.len() == n && v.len() == n && g.len() == n, "adam: lengths differ");
    if !splits(split.light, n) {
        return adam_simd(p, m, v, g, h);
    }
    let moments = m.par_chunks_mut(CHUNK).zip(v.par_chunks_mut(CHUNK));
    p.par_chunks_mut(CHUNK)
        .zip(moments)
        .zip(g.par_chunks(CHUNK))
        .for_each(|((pc, (mc, vc)), gc)| adam_simd(pc, mc, vc, gc, h));
}

/// One SGD step with momentum and weight decay in place:
/// `buf = momentum·buf + (g + wd·p)`, `p -= lr·buf`.
pub(crate) fn sgd(p: &mut [f32], buf: &mut [f32], g: &[f32], lr: f32, momentum: f32, weight_decay: f32) {
    for ((pi, bi), &gi) in p.iter_mut().zip(buf.iter_mut()).zip(g) {
        let d = gi + weight_decay * *pi;
        *bi = momentum * *bi + d;
        *pi -= lr * *bi;
    }
}

/// Multiplies in place (on the threads from `split.light` elements).
pub(crate) fn scale(split: ThreadSplit, x: &mut [f32], s: f32) {
    for_each_chunk_mut_above(split.light, x, |_, c| c.iter_mut().for_each(|v| *v *= s));
}

/// Σ x², accumulated in f64.
pub(crate) fn sum_squares(x: &[f32]) -> f64 {
    // Eight independent f64 accumulators: one chained sum waits out the add
    // latency on every element.
    let mut acc = [0f64; 8];
    let mut it = x.chunks_exact(8);
    for c in &mut it {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += (v as f64) * (v as f64);
        }
    }
    let tail: f64 = it.remainder().iter().map(|&v| (v as f64) * (v as f64)).sum();
    acc.iter().sum::<f64>() + tail
}

/// Whether no element is infinite or NaN: a branch-free scan of the exponent
/// bits (all ones only for ±inf and NaN), which vectorises; tensors from
/// `split.light` elements are scanned on the threads (the optimizers' guard reads every gradient
/// of a step: one core alone was 3% of an mlp400 step).
pub(crate) fn all_finite(split: ThreadSplit, x: &[f32]) -> bool {
    let finite = |c: &[f32]| {
        c.chunks(1024)
            .all(|c| c.iter().fold(0u32, |bad, v| bad | u32::from(v.to_bits() & 0x7f80_0000 == 0x7f80_0000)) == 0)
    };
    if !splits(split.light, x.len()) {
        return finite(x);
    }
    x.par_chunks(CHUNK).all(finite)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_finite_finds_every_kind_of_non_finite_value() {
        let d = ThreadSplit::default();
        let mut x = vec![1.5f32; 3000];
        assert!(all_finite(d, &x));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            x[2999] = bad;
            assert!(!all_finite(d, &x));
            x[2999] = f32::MAX;
        }
        assert!(all_finite(d, &x) && all_finite(d, &[]));
        // Above the threads' threshold: a bad value in any chunk is found.
        let mut big = vec![0.5f32; ThreadSplit::default().light + 5 * CHUNK + 7];
        assert!(all_finite(d, &big));
        for at in [0, CHUNK - 1, 3 * CHUNK + 5, big.len() - 1] {
            big[at] = f32::NAN;
            assert!(!all_finite(d, &big), "NaN at {at}");
            big[at] = 0.5;
        }
        assert_eq!(sum_squares(&[3.0, 4.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0]), 36.0);
    }
}
