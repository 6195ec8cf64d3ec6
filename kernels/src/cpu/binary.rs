//! Element-wise functions of two arguments with NumPy broadcasting, their
//! partial derivatives, and the scalar forms.

use super::parallel::{for_each_chunk_mut_above, for_each_row_mut, splits, CHUNK};
use super::simd::multiversion;
use crate::context::ThreadSplit;
use crate::shape::{broadcast_strides, numel};
use crate::types::{BinaryOp, ScalarOp};

impl BinaryOp {
    /// a ∘ b for one pair.
    #[inline]
    pub(crate) fn eval(self, a: f32, b: f32) -> f32 {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
        }
    }

    /// (∂z/∂a, ∂z/∂b) at (a, b).
    #[inline]
    pub(crate) fn partials(self, a: f32, b: f32) -> (f32, f32) {
        match self {
            BinaryOp::Add => (1.0, 1.0),
            BinaryOp::Sub => (1.0, -1.0),
            BinaryOp::Mul => (b, a),
            BinaryOp::Div => (1.0 / b, -a / (b * b)),
        }
    }
}

/// Walks every element of the broadcast output, calling `f(i, ia, ib)` with the
/// output index and the matching indices into `a` and `b`. The last axis is the
/// inner loop, so contiguous operands are read in order.
fn broadcast_walk(a_shape: &[usize], b_shape: &[usize], out_shape: &[usize], mut f: impl FnMut(usize, usize, usize)) {
    let rank = out_shape.len();
    if rank == 0 {
        f(0, 0, 0);
        return;
    }
    let sa = broadcast_strides(a_shape, out_shape);
    let sb = broadcast_strides(b_shape, out_shape);
    let inner = out_shape[rank - 1];
    let (ia_step, ib_step) = (sa[rank - 1], sb[rank - 1]);
    let outer = numel(&out_shape[..rank - 1]);
    let mut idx = vec![0usize; rank - 1];
    let (mut base_a, mut base_b) = (0usize, 0usize);
    for o in 0..outer {
        for j in 0..inner {
            f(o * inner + j, base_a + j * ia_step, base_b + j * ib_step);
        }
        // Advance the multi-index over the outer axes (odometer order).
        for ax in (0..rank - 1).rev() {
            idx[ax] += 1;
            base_a += sa[ax];
            base_b += sb[ax];
            if idx[ax] < out_shape[ax] {
                break;
            }
            base_a -= sa[ax] * idx[ax];
            base_b -= sb[ax] * idx[ax];
            idx[ax] = 0;
        }
    }
}

/// `out = a ∘ b`, broadcasting `a_shape` and `b_shape` to `out_shape`
/// (which the caller obtained from [`crate::shape::broadcast_shape`]).
pub(crate) fn forward(
    split: ThreadSplit,
    op: BinaryOp,
    a: &[f32],
    a_shape: &[usize],
    b: &[f32],
    b_shape: &[usize],
    out: &mut [f32],
    out_shape: &[usize],
) {
    if out.is_empty() {
        return;
    }
    if a_shape == b_shape {
        for_each_chunk_mut_above(split.light, out, |off, o| {
            let end = off + o.len();
            for ((oi, &x), &y) in o.iter_mut().zip(&a[off..end]).zip(&b[off..end]) {
                *oi = op.eval(x, y);
            }
        });
    } else if b.len() == 1 && a.len() == out.len() {
        let y = b[0];
        for_each_chunk_mut_above(split.light, out, |off, o| {
            for (oi, &x) in {
                let end = off + o.len();
                o.iter_mut().zip(&a[off..end])
            } {
                *oi = op.eval(x, y);
            }
        });
    } else if a.len() == out.len() && out_shape.ends_with(b_shape) {
        // b repeats along the leading axes (a bias row): tile it.
        let n = b.len();
        for (orow, arow) in out.chunks_mut(n).zip(a.chunks(n)) {
            for ((oi, &x), &y) in orow.iter_mut().zip(arow).zip(b) {
                *oi = op.eval(x, y);
            }
        }
    } else {
        broadcast_walk(a_shape, b_shape, out_shape, |i, ia, ib| out[i] = op.eval(a[ia], b[ib]));
    }
}

/// `c[r, j] += b[j]` for every row `r` of `c` (rows of `b.len()`): a bias
/// added in place to a product just made, with the bits of [`forward`]'s
/// `Add` (one rounded sum per element).
pub(crate) fn add_rows_in_place(split: ThreadSplit, c: &mut [f32], b: &[f32]) {
    if b.is_empty() {
        return;
    }
    // Whole rows per task, threads as for the broadcast add it replaces.
    let rows = (CHUNK / b.len()).max(1);
    for_each_row_mut(c, rows * b.len(), splits(split.light, c.len()), |_, block| add_rows_simd(block, b));
}

#[inline(always)]
fn add_rows_impl(c: &mut [f32], b: &[f32]) {
    for row in c.chunks_exact_mut(b.len()) {
        for (x, &y) in row.iter_mut().zip(b) {
            *x += y;
        }
    }
}

multiversion! {
    fn add_rows_simd(c: &mut [f32], b: &[f32]) => add_rows_impl
}

/// Gradients of `z = a ∘ b` at full (broadcast) size: `ga[i] = g[i]·∂z/∂a`,
/// `gb[i] = g[i]·∂z/∂b`. The caller sums them back to each operand's shape.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    op: BinaryOp,
    a: &[f32],
    a_shape: &[usize],
    b: &[f32],
    b_shape: &[usize],
    g: &[f32],
    out_shape: &[usize],
    ga: Option<&mut [f32]>,
    gb: Option<&mut [f32]>,
) {
    let (mut ga, mut gb) = (ga, gb);
    broadcast_walk(a_shape, b_shape, out_shape, |i, ia, ib| {
        let (da, db) = op.partials(a[ia], b[ib]);
        if let Some(ga) = ga.as_deref_mut() {
            ga[i] = g[i] * da;
        }
        if let Some(gb) = gb.as_deref_mut() {
            gb[i] = g[i] * db;
        }
    });
}

impl ScalarOp {
    /// When to use threads: an add or a product is memory-bound, `powf` is not.
    fn threshold(self, split: ThreadSplit) -> usize {
        match self {
            ScalarOp::Pow(_) => split.heavy,
            _ => split.light,
        }
    }

    /// f(x).
    #[inline]
    pub(crate) fn eval(self, x: f32) -> f32 {
        match self {
            ScalarOp::Add(s) => x + s,
            ScalarOp::Mul(s) => x * s,
            ScalarOp::Pow(s) => x.powf(s),
        }
    }

    /// f'(x).
    #[inline]
    pub(crate) fn derivative(self, x: f32) -> f32 {
        match self {
            ScalarOp::Add(_) => 1.0,
            ScalarOp::Mul(s) => s,
            ScalarOp::Pow(s) => s * x.powf(s - 1.0),
        }
    }
}

/// `out[i] = x[i] ∘ s`.
pub(crate) fn scalar_forward(split: ThreadSplit, op: ScalarOp, x: &[f32], out: &mut [f32]) {
    for_each_chunk_mut_above(op.threshold(split), out, |off, o| {
        for (oi, &xi) in {
            let end = off + o.len();
            o.iter_mut().zip(&x[off..end])
        } {
            *oi = op.eval(xi);
        }
    });
}

/// `gx[i] = g[i]·f'(x[i])`.
pub(crate) fn scalar_backward(split: ThreadSplit, op: ScalarOp, x: &[f32], g: &[f32], gx: &mut [f32]) {
    for_each_chunk_mut_above(op.threshold(split), gx, |off, o| {
        let end = off + o.len();
        for ((oi, &xi), &gi) in o.iter_mut().zip(&x[off..end]).zip(&g[off..end]) {
            *oi = gi * op.derivative(xi);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::broadcast_shape;

    #[test]
    fn rows_added_in_place_equal_the_broadcast_add() {
        // Above the threads' threshold, rows that do not divide a chunk.
        for (rows, n) in [(3, 5), (1100, 70)] {
            let a: Vec<f32> = (0..rows * n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 1.3).cos()).collect();
            let mut want = vec![0.0; rows * n];
            forward(ThreadSplit::default(), BinaryOp::Add, &a, &[rows, n], &b, &[n], &mut want, &[rows, n]);
            let mut c = a.clone();
            add_rows_in_place(ThreadSplit::default(), &mut c, &b);
            assert_eq!(c, want, "{rows}×{n}");
        }
    }

    #[test]
    fn broadcasting_paths_agree() {
        let cases: &[(&[usize], &[usize])] = &[
            (&[2, 3], &[2, 3]),
            (&[2, 3], &[3]),
            (&[2, 3], &[1]),
            (&[2, 1], &[1, 3]),
            (&[3], &[2, 3]),
            (&[2, 1, 3], &[4, 1]),
        ];
        for &(sa, sb) in cases {
            let os = broadcast_shape("t", sa, sb).unwrap();
            let a: Vec<f32> = (0..numel(sa)).map(|i| i as f32 + 1.0).collect();
            let b: Vec<f32> = (0..numel(sb)).map(|i| 10.0 * (i as f32 + 1.0)).collect();
            let mut fast = vec![0.0; numel(&os)];
            forward(ThreadSplit::default(), BinaryOp::Sub, &a, sa, &b, sb, &mut fast, &os);
            let mut slow = vec![0.0; numel(&os)];
            broadcast_walk(sa, sb, &os, |i, ia, ib| slow[i] = a[ia] - b[ib]);
            assert_eq!(fast, slow, "{sa:?} {sb:?}");
        }
        // A spot value: [2,1] - [1,3] -> out[1][2] = a[1] - b[2] = 2 - 30.
        let mut out = vec![0.0; 6];
        forward(
            ThreadSplit::default(),
            BinaryOp::Sub,
            &[1.0, 2.0],
            &[2, 1],
            &[10.0, 20.0, 30.0],
            &[1, 3],
            &mut out,
            &[2, 3],
        );
        assert_eq!(out[5], -28.0);
    }
}
