//! Element-wise functions of one argument, and their derivatives.

use super::parallel::for_each_chunk_mut_above;
use super::simd::multiversion;
use crate::context::ThreadSplit;
use crate::types::UnaryOp;

impl UnaryOp {
    /// f(x) for one element.
    #[inline]
    pub(crate) fn eval(self, x: f32) -> f32 {
        match self {
            UnaryOp::Neg => -x,
            UnaryOp::Exp => x.exp(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Log1p => x.ln_1p(),
            UnaryOp::Softplus => softplus(x),
            UnaryOp::Sigmoid => sigmoid(x),
            UnaryOp::Tanh => x.tanh(),
            UnaryOp::Relu => x.max(0.0),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Square => x * x,
            UnaryOp::Abs => x.abs(),
        }
    }

    /// f'(x), given x and y = f(x) (whichever is cheaper to use).
    #[inline]
    pub(crate) fn derivative(self, x: f32, y: f32) -> f32 {
        match self {
            UnaryOp::Neg => -1.0,
            UnaryOp::Exp => y,
            UnaryOp::Log => 1.0 / x,
            UnaryOp::Log1p => 1.0 / (1.0 + x),
            UnaryOp::Softplus => sigmoid(x),
            UnaryOp::Sigmoid => y * (1.0 - y),
            UnaryOp::Tanh => 1.0 - y * y,
            UnaryOp::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            UnaryOp::Sqrt => 0.5 / y,
            UnaryOp::Square => 2.0 * x,
            UnaryOp::Abs => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
        }
    }
}

/// ln(1 + eˣ) without overflow for large x (the vectorisable form in `fastmath`).
pub(crate) use crate::fastmath::softplus;

/// The logistic function (the vectorisable form in `fastmath`).
pub(crate) use crate::fastmath::sigmoid;

/// `o[i] = f(x[i])` with a loop per op, so that each loop vectorises.
#[inline(always)]
fn map_impl(op: UnaryOp, x: &[f32], o: &mut [f32]) {
    #[inline(always)]
    fn map(x: &[f32], o: &mut [f32], f: impl Fn(f32) -> f32) {
        for (oi, &xi) in o.iter_mut().zip(x) {
            *oi = f(xi);
        }
    }
    match op {
        UnaryOp::Neg => map(x, o, |v| -v),
        UnaryOp::Softplus => map(x, o, softplus),
        UnaryOp::Sigmoid => map(x, o, sigmoid),
        UnaryOp::Relu => map(x, o, |v| v.max(0.0)),
        UnaryOp::Sqrt => map(x, o, f32::sqrt),
        UnaryOp::Square => map(x, o, |v| v * v),
        UnaryOp::Abs => map(x, o, f32::abs),
        // exp, ln, log1p and tanh keep the standard library's full-range semantics.
        other => map(x, o, |v| other.eval(v)),
    }
}

multiversion! {
    fn map_simd(op: UnaryOp, x: &[f32], o: &mut [f32]) => map_impl
}

/// When to use threads for `op`: a sign, a compare or a product per element
/// is memory-bound; transcendental functions pay for a thread sooner.
fn threshold(split: ThreadSplit, op: UnaryOp) -> usize {
    match op {
        UnaryOp::Neg | UnaryOp::Relu | UnaryOp::Square | UnaryOp::Abs => split.light,
        _ => split.heavy,
    }
}

/// `out[i] = f(x[i])`, on the threads as `split` says.
pub(crate) fn forward(split: ThreadSplit, op: UnaryOp, x: &[f32], out: &mut [f32]) {
    for_each_chunk_mut_above(threshold(split, op), out, |off, o| {
        let end = off + o.len();
        map_simd(op, &x[off..end], o)
    });
}

/// `gx[i] = g[i]·f'(x[i])`, where `y = f(x)` from the forward pass.
pub(crate) fn backward(split: ThreadSplit, op: UnaryOp, x: &[f32], y: &[f32], g: &[f32], gx: &mut [f32]) {
    for_each_chunk_mut_above(threshold(split, op), gx, |off, o| {
        let end = off + o.len();
        backward_simd(op, &x[off..end], &y[off..end], &g[off..end], o)
    });
}

/// `gx[i] = g[i]·f'(x[i])` with the op a constant in each loop (one arm per
/// op), so that the match leaves the loop and the loop vectorises.
#[inline(always)]
fn backward_impl(op: UnaryOp, x: &[f32], y: &[f32], g: &[f32], gx: &mut [f32]) {
    #[inline(always)]
    fn each(op: UnaryOp, x: &[f32], y: &[f32], g: &[f32], gx: &mut [f32]) {
        for (((o, &xi), &yi), &gi) in gx.iter_mut().zip(x).zip(y).zip(g) {
            *o = gi * op.derivative(xi, yi);
        }
    }
    match op {
        UnaryOp::Neg => each(UnaryOp::Neg, x, y, g, gx),
        UnaryOp::Exp => each(UnaryOp::Exp, x, y, g, gx),
        UnaryOp::Log => each(UnaryOp::Log, x, y, g, gx),
        UnaryOp::Log1p => each(UnaryOp::Log1p, x, y, g, gx),
        UnaryOp::Softplus => each(UnaryOp::Softplus, x, y, g, gx),
        UnaryOp::Sigmoid => each(UnaryOp::Sigmoid, x, y, g, gx),
        UnaryOp::Tanh => each(UnaryOp::Tanh, x, y, g, gx),
        UnaryOp::Relu => each(UnaryOp::Relu, x, y, g, gx),
        UnaryOp::Sqrt => each(UnaryOp::Sqrt, x, y, g, gx),
        UnaryOp::Square => each(UnaryOp::Square, x, y, g, gx),
        UnaryOp::Abs => each(UnaryOp::Abs, x, y, g, gx),
    }
}

multiversion! {
    fn backward_simd(op: UnaryOp, x: &[f32], y: &[f32], g: &[f32], gx: &mut [f32]) => backward_impl
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softplus_and_sigmoid_are_stable_on_the_tails() {
        assert_eq!(softplus(100.0), 100.0);
        assert!(softplus(-100.0) > 0.0 && softplus(-100.0) < 1e-37);
        assert!((softplus(0.0) - 2f32.ln()).abs() < 1e-7);
        assert!(sigmoid(-200.0) < 1e-37);
        assert_eq!(sigmoid(200.0), 1.0);
    }

    #[test]
    fn derivatives_match_finite_differences() {
        for op in UnaryOp::ALL {
            for &x in &[0.3f32, 1.7, 2.5] {
                let h = 1e-3f64;
                let f = |v: f64| op.eval(v as f32) as f64;
                let fd = (f(x as f64 + h) - f(x as f64 - h)) / (2.0 * h);
                let d = op.derivative(x, op.eval(x)) as f64;
                assert!((fd - d).abs() < 2e-2 * (1.0 + d.abs()), "{op:?} at {x}: {fd} vs {d}");
            }
        }
    }
}
