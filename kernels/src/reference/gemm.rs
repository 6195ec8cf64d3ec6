//! The matrix product by its definition: each output is one dot product,
//! summed in f64 in index order.

use crate::types::Transpose;

/// `c = alpha·op(a)·op(b) + beta·c` for an m×k by k×n product, row-major;
/// `op` transposes an operand when `t` says so (A is then stored k×m, B n×k).
/// With `beta == 0` the old `c` is not read (a NaN there does not propagate).
#[allow(clippy::too_many_arguments)]
pub fn gemm(m: usize, k: usize, n: usize, alpha: f32, a: &[f32], b: &[f32], beta: f32, c: &mut [f32], t: Transpose) {
    for i in 0..m {
        for j in 0..n {
            let mut sum = 0.0f64;
            for p in 0..k {
                let av = if t.a { a[p * m + i] } else { a[i * k + p] };
                let bv = if t.b { b[j * k + p] } else { b[p * n + j] };
                sum += av as f64 * bv as f64;
            }
            let old = if beta == 0.0 { 0.0 } else { beta as f64 * c[i * n + j] as f64 };
            c[i * n + j] = (alpha as f64 * sum + old) as f32;
        }
    }
}

/// `batch` independent products of [`gemm`] (alpha 1, beta 0); operand `i`
/// starts at `i·m·k`, `i·k·n`, `i·m·n`.
#[allow(clippy::too_many_arguments)]
pub fn batched_gemm(batch: usize, m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32], t: Transpose) {
    for i in 0..batch {
        let (a_i, b_i) = (&a[i * m * k..(i + 1) * m * k], &b[i * k * n..(i + 1) * k * n]);
        gemm(m, k, n, 1.0, a_i, b_i, 0.0, &mut c[i * m * n..(i + 1) * m * n], t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_product_and_its_transposes() {
        // [1 2 3; 4 5 6] · [7 8; 9 10; 11 12] = [58 64; 139 154]
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0];
        let mut c = [f32::NAN; 4];
        gemm(2, 3, 2, 1.0, &a, &b, 0.0, &mut c, Transpose::NN);
        assert_eq!(c, [58.0, 64.0, 139.0, 154.0]);
        // Aᵀ stored (3×2) and Bᵀ stored (2×3) give the same product.
        let at = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0];
        let bt = [7.0, 9.0, 11.0, 8.0, 10.0, 12.0];
        let mut d = [1.0f32; 4];
        gemm(2, 3, 2, 2.0, &at, &bt, 0.5, &mut d, Transpose { a: true, b: true });
        assert_eq!(d, [116.5, 128.5, 278.5, 308.5]);
    }
}
