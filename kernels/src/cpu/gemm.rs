//! Matrix products. `matrixmultiply::sgemm` takes arbitrary strides, so the
//! transposed forms backward needs (A·Bᵀ, Aᵀ·B) cost no copy. Matrix-vector
//! shapes get their own loop: sgemm's packing dominates when one side is 1 wide.

use super::gemm_blocked::{gemm_blocked, View};
use super::parallel::{splits, CPtr};
use super::simd::multiversion;
use crate::context::{GemmVariant, ThreadSplit};
use crate::types::Transpose;
use rayon::prelude::*;

/// `c = alpha·op(a)·op(b) + beta·c` for an m×k by k×n product, row-major,
/// under the default [`ThreadSplit`] ([`gemm_variant`] takes one).
///
/// # Panics
/// If a slice is shorter than its matrix (callers check shapes first).
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
    t: Transpose,
) {
    gemm_variant(GemmVariant::Auto, ThreadSplit::default(), m, k, n, alpha, a, b, beta, c, t)
}

/// [`gemm`] without the matrix-vector shortcut: always `matrixmultiply`'s
/// packed kernel. For benchmarks that compare the two.
///
/// # Panics
/// If a slice is shorter than its matrix.
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_packed(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
    t: Transpose,
) {
    gemm_variant(GemmVariant::Packed, ThreadSplit::default(), m, k, n, alpha, a, b, beta, c, t)
}

/// (row stride, column stride) of op(A) (m×k) and of op(B) (k×n), both stored row-major.
fn strides(m: usize, k: usize, n: usize, t: Transpose) -> ((isize, isize), (isize, isize)) {
    let a = if t.a { (1, m as isize) } else { (k as isize, 1) };
    let b = if t.b { (1, k as isize) } else { (n as isize, 1) };
    (a, b)
}

/// Rows or columns per block are a multiple of this (the micro-kernel's tile),
/// so a split product does the same arithmetic per element as a whole one.
const BLOCK_ALIGN: usize = 16;

/// `matrixmultiply::sgemm` on the strided views (bounds asserted by the
/// callers). Products from `split.gemm` multiply-adds are cut into one block
/// of C's rows (or columns, whichever is longer) per rayon thread, so the product shares rayon's pool
/// with everything else instead of starting threads of its own.
#[allow(clippy::too_many_arguments)]
fn packed(
    split: ThreadSplit,
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    (rsa, csa): (isize, isize),
    b: &[f32],
    (rsb, csb): (isize, isize),
    beta: f32,
    c: &mut [f32],
) {
    let c_ptr = CPtr(c.as_mut_ptr());
    // Rows r0..r1 and columns j0..j1 of C.
    let block = |r0: usize, r1: usize, j0: usize, j1: usize| {
        // SAFETY: `gemm_variant` (this function's only caller) asserts, with
        // checked products, a.len() >= m*k, b.len() >= k*n, c.len() >= m*n, and
        // returns before this for m, n or k = 0; the strides address op(A)
        // (m×k), op(B) (k×n), C (m×n) within them (the largest offset is
        // m·k − 1, k·n − 1, m·n − 1, all below isize::MAX as each is below a
        // slice's length); the block's offsets stay inside those, and blocks
        // are disjoint in C, so the threads' writes through `c_ptr` never alias.
        unsafe {
            matrixmultiply::sgemm(
                r1 - r0,
                k,
                j1 - j0,
                alpha,
                a.as_ptr().offset(r0 as isize * rsa),
                rsa,
                csa,
                b.as_ptr().offset(j0 as isize * csb),
                rsb,
                csb,
                beta,
                c_ptr.get().add(r0 * n + j0),
                n as isize,
                1,
            );
        }
    };
    let threads = rayon::current_num_threads();
    let long = m.max(n);
    if threads < 2 || long < 2 * BLOCK_ALIGN || !splits(split.gemm, m * k * n) {
        block(0, m, 0, n);
        return;
    }
    let step = long.div_ceil(threads).next_multiple_of(BLOCK_ALIGN);
    let starts: Vec<usize> = (0..long).step_by(step).collect();
    starts.par_iter().for_each(|&s| {
        let e = (s + step).min(long);
        if m >= n {
            block(s, e, 0, n)
        } else {
            block(0, m, s, e)
        }
    });
}

fn scale(c: &mut [f32], beta: f32) {
    if beta == 0.0 {
        c.fill(0.0);
    } else {
        c.iter_mut().for_each(|x| *x *= beta);
    }
}

/// Products where C is a single row or column: dot products along k with
/// unit stride where the layout allows, no packing.
#[allow(clippy::too_many_arguments)]
fn gemv_like(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    (rsa, csa): (isize, isize),
    b: &[f32],
    (rsb, csb): (isize, isize),
    beta: f32,
    c: &mut [f32],
) {
    let at = |i: usize, p: usize| a[i * rsa as usize + p * csa as usize];
    let bt = |p: usize, j: usize| b[p * rsb as usize + j * csb as usize];
    if csa == 1 && rsb == 1 {
        // Rows of op(A) and columns of op(B) are contiguous (y = A x, or
        // y = x Wᵀ for a linear layer on one sample): each output is one dot.
        dots(m, k, n, alpha, a, rsa as usize, b, csb as usize, beta, c);
        return;
    }
    if m == 1 && rsb as usize == n && csb == 1 {
        // y = x B with contiguous rows of B: accumulate scaled rows (axpy), unit stride.
        let mut acc = vec![0f32; n];
        for p in 0..k {
            let xp = at(0, p);
            if xp != 0.0 {
                let row = &b[p * n..p * n + n];
                acc.iter_mut().zip(row).for_each(|(s, &r)| *s += xp * r);
            }
        }
        for (cj, s) in c.iter_mut().zip(acc) {
            *cj = alpha * s + if beta == 0.0 { 0.0 } else { beta * *cj };
        }
        return;
    }
    for i in 0..m {
        for j in 0..n {
            let mut s = 0f32;
            for p in 0..k {
                s += at(i, p) * bt(p, j);
            }
            let cij = &mut c[i * n + j];
            *cij = alpha * s + if beta == 0.0 { 0.0 } else { beta * *cij };
        }
    }
}

/// Dot product with eight independent accumulators (lets the compiler vectorise).
#[inline(always)]
pub(crate) fn dot_impl(x: &[f32], y: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let xc = x.chunks_exact(8);
    let yc = y.chunks_exact(8);
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for l in 0..8 {
            acc[l] += a[l] * b[l];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (a, b) in xr.iter().zip(yr) {
        s += a * b;
    }
    s
}

/// `c[i][j] = alpha·⟨row i of A, column j of B⟩ + beta·c[i][j]` with rows of
/// A `rsa` apart and columns of B `csb` apart, both contiguous. Each dot is
/// [`dot_impl`]'s; eight at a time on AVX2 ([`super::gemm_dots::dots8`]).
#[inline(always)]
fn dots_impl(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    rsa: usize,
    b: &[f32],
    csb: usize,
    beta: f32,
    c: &mut [f32],
) {
    // Where f32's sum starts (dot_impl adds its partial sums with it).
    let init: f32 = std::iter::empty::<f32>().sum();
    for i in 0..m {
        let x = &a[i * rsa..][..k];
        let row = &mut c[i * n..(i + 1) * n];
        let mut dots = [0f32; 64];
        let mut j = 0;
        while j < n {
            let len = (n - j).min(dots.len());
            let done = super::gemm_dots::dots8(x, &b[j * csb..], csb, len, init, &mut dots[..len]);
            for (t, d) in dots.iter_mut().enumerate().take(len).skip(done) {
                *d = dot_impl(x, &b[(j + t) * csb..][..k]);
            }
            for (cij, &dot) in row[j..j + len].iter_mut().zip(&dots) {
                *cij = alpha * dot + if beta == 0.0 { 0.0 } else { beta * *cij };
            }
            j += len;
        }
    }
}

multiversion! {
    /// The matrix-vector products' dots, compiled for the widest vector unit
    /// (plain multiplies and adds: the same bits on every path).
    fn dots(m: usize, k: usize, n: usize, alpha: f32, a: &[f32], rsa: usize, b: &[f32], csb: usize, beta: f32,
        c: &mut [f32]) => dots_impl
}

/// [`gemm`] by the variant `v` ([`GemmVariant::Auto`] is [`gemm`] itself),
/// a packed product split over the threads as `split` says (the same bits
/// under every policy).
///
/// # Panics
/// If a slice is shorter than its matrix.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_variant(
    v: GemmVariant,
    split: ThreadSplit,
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
    t: Transpose,
) {
    if v == GemmVariant::Reference {
        crate::reference::gemm::gemm(m, k, n, alpha, a, b, beta, c, t);
        return;
    }
    // Checked products: a wrapped m·k would pass a short slice to the unsafe
    // sgemm call in `packed` (reads and writes out of bounds).
    let holds = |len: usize, r: usize, c: usize| r.checked_mul(c).is_some_and(|rc| len >= rc);
    assert!(
        holds(a.len(), m, k) && holds(b.len(), k, n) && holds(c.len(), m, n),
        "gemm: a slice is shorter than its matrix"
    );
    // Strides and offsets in `packed` are isize: every product fits, as each
    // of the three counts is at most a slice's length (≤ isize::MAX elements).
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        scale(&mut c[..m * n], beta);
        return;
    }
    let ((rsa, csa), (rsb, csb)) = strides(m, k, n, t);
    if v == GemmVariant::Blocked {
        // The strides are non-negative (`strides`), so the casts are exact.
        let view = |data, (rs, cs): (isize, isize)| View { data, rs: rs as usize, cs: cs as usize };
        gemm_blocked(split, m, k, n, alpha, view(a, (rsa, csa)), view(b, (rsb, csb)), beta, c);
        return;
    }
    let vector = match v {
        // Sgemm's packing dominates when one side is a single row or column.
        GemmVariant::Auto => n == 1 || m == 1,
        GemmVariant::MatrixVector => true,
        GemmVariant::Packed | GemmVariant::Blocked | GemmVariant::Reference => false,
    };
    if vector {
        gemv_like(m, k, n, alpha, a, (rsa, csa), b, (rsb, csb), beta, c);
    } else {
        packed(split, m, k, n, alpha, a, (rsa, csa), b, (rsb, csb), beta, c);
    }
}

/// `batch` independent products by the variant `v`, split as `split` says;
/// operand `i` starts at `i·m·k`, `i·k·n`, `i·m·n`.
///
/// # Panics
/// If a slice is shorter than its `batch` matrices (checked arithmetic:
/// [`crate::ops::gemm`] checks the lengths first and returns an error).
#[allow(clippy::too_many_arguments)]
pub(crate) fn batched_gemm_variant(
    v: GemmVariant,
    split: ThreadSplit,
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    t: Transpose,
) {
    let whole = |len: usize, r: usize, c: usize| {
        r.checked_mul(c).and_then(|rc| rc.checked_mul(batch)).is_some_and(|need| len >= need)
    };
    assert!(
        whole(a.len(), m, k) && whole(b.len(), k, n) && whole(c.len(), m, n),
        "batched gemm: a slice is shorter than its matrices"
    );
    for i in 0..batch {
        gemm_variant(
            v,
            split,
            m,
            k,
            n,
            1.0,
            &a[i * m * k..(i + 1) * m * k],
            &b[i * k * n..(i + 1) * k * n],
            0.0,
            &mut c[i * m * n..(i + 1) * m * n],
            t,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], t: Transpose) -> Vec<f32> {
        let mut c = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0f32;
                for p in 0..k {
                    let av = if t.a { a[p * m + i] } else { a[i * k + p] };
                    let bv = if t.b { b[j * k + p] } else { b[p * n + j] };
                    s += av * bv;
                }
                c[i * n + j] = s;
            }
        }
        c
    }

    #[test]
    fn gemm_matches_naive_in_every_form() {
        let shapes = [(3, 4, 5), (1, 7, 6), (6, 7, 1), (1, 9, 1), (16, 13, 8)];
        for &(m, k, n) in &shapes {
            for t in [Transpose::NN, Transpose::NT, Transpose::TN, Transpose { a: true, b: true }] {
                let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 11) as f32) - 5.0).collect();
                let b: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 13) as f32) * 0.5 - 3.0).collect();
                let mut c = vec![1f32; m * n];
                gemm(m, k, n, 1.0, &a, &b, 0.0, &mut c, t);
                let want = naive(m, k, n, &a, &b, t);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - y).abs() < 1e-3, "{m}x{k}x{n} {t:?}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn a_product_split_over_threads_gives_the_one_thread_bits() {
        // Above the default threshold: split by rows (m longest), then by columns (n longest).
        for &(m, k, n) in &[(170, 200, 130), (40, 110, 1000)] {
            for t in [Transpose::NN, Transpose::NT, Transpose::TN] {
                assert!(m * k * n >= ThreadSplit::default().gemm);
                let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 11) as f32) * 0.1 - 0.5).collect();
                let b: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 13) as f32) * 0.05 - 0.3).collect();
                let run = |threads: usize| {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    let mut c = vec![0.5f32; m * n];
                    pool.install(|| gemm(m, k, n, 1.0, &a, &b, 0.25, &mut c, t));
                    c
                };
                let (one, three) = (run(1), run(3));
                assert_eq!(one, three, "{m}x{k}x{n} {t:?}");
                let want = naive(m, k, n, &a, &b, t);
                for (x, y) in one.iter().zip(&want) {
                    assert!((x - (y + 0.125)).abs() < 1e-3 * (1.0 + y.abs()), "{m}x{k}x{n} {t:?}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn the_packed_path_agrees_with_the_matrix_vector_one() {
        for &(m, k, n) in &[(1, 37, 20), (20, 37, 1), (1, 5, 1)] {
            for t in [Transpose::NN, Transpose::NT, Transpose::TN] {
                let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 11) as f32) - 5.0).collect();
                let b: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 13) as f32) * 0.5 - 3.0).collect();
                let (mut short, mut full) = (vec![0f32; m * n], vec![0f32; m * n]);
                gemm(m, k, n, 1.0, &a, &b, 0.0, &mut short, t);
                gemm_packed(m, k, n, 1.0, &a, &b, 0.0, &mut full, t);
                for (x, y) in short.iter().zip(&full) {
                    assert!((x - y).abs() < 1e-3, "{m}x{k}x{n} {t:?}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn gemm_beta_accumulates() {
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [1.0, 0.0, 0.0, 1.0];
        let mut c = [1.0; 4];
        gemm(2, 2, 2, 1.0, &a, &b, 1.0, &mut c, Transpose::NN);
        assert_eq!(c, [2.0, 3.0, 4.0, 5.0]);
    }
}
