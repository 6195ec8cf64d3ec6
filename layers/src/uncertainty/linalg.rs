//! Small dense symmetric linear algebra in f64 for the post-hoc methods
//! (Laplace's curvature, SWAG's low-rank factor): a cyclic Jacobi
//! eigendecomposition and a Cholesky factor. Matrices are row-major
//! `n × n` slices; sizes stay in the hundreds.

/// Eigenvalues and eigenvectors of the symmetric `a` (`n × n`): returns
/// (values, vectors) with eigenvector m in column m of the row-major
/// `vectors`, so that a = V diag(values) Vᵀ. Cyclic Jacobi rotations until
/// the off-diagonal mass is negligible against the diagonal's.
pub(crate) fn sym_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        let diag: f64 = (0..n).map(|i| a[i * n + i].powi(2)).sum();
        if off <= 1e-30 * diag.max(f64::MIN_POSITIVE) || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let (app, aqq) = (a[p * n + p], a[q * n + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

/// The lower Cholesky factor L of the symmetric positive semi-definite `a`
/// (`n × n`), a = L Lᵀ, with `jitter` added to the diagonal; pivots that
/// round below zero are taken as zero (a degenerate direction draws nothing).
pub(crate) fn cholesky(a: &[f64], n: usize, jitter: f64) -> Vec<f64> {
    let mut l = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j] + if i == j { jitter } else { 0.0 };
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                l[i * n + i] = s.max(0.0).sqrt();
            } else {
                l[i * n + j] = if l[j * n + j] > 0.0 { s / l[j * n + j] } else { 0.0 };
            }
        }
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen_reconstructs() {
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, -0.2, 0.5, -0.2, 1.0];
        let (w, v) = sym_eigen(&a, 3);
        for i in 0..3 {
            for j in 0..3 {
                let r: f64 = (0..3).map(|m| v[i * 3 + m] * w[m] * v[j * 3 + m]).sum();
                assert!((r - a[i * 3 + j]).abs() < 1e-12);
            }
        }
        let l = cholesky(&a, 3, 0.0);
        for i in 0..3 {
            for j in 0..3 {
                let r: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((r - a[i * 3 + j]).abs() < 1e-12);
            }
        }
    }
}
