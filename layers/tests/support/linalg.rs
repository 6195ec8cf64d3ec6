#![allow(dead_code)] // each test file uses some of these
//! Small dense linear algebra and random inputs for the uncertainty tests'
//! known answers (each test file includes this file with `#[path]`).

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// The inverse of a small dense matrix (Gauss–Jordan with partial pivoting).
pub fn inverse(a: &[f64], n: usize) -> Vec<f64> {
    let mut m = a.to_vec();
    let mut inv = vec![0f64; n * n];
    for i in 0..n {
        inv[i * n + i] = 1.0;
    }
    for c in 0..n {
        let piv = (c..n).max_by(|&i, &j| m[i * n + c].abs().total_cmp(&m[j * n + c].abs())).unwrap();
        for j in 0..n {
            m.swap(c * n + j, piv * n + j);
            inv.swap(c * n + j, piv * n + j);
        }
        let d = m[c * n + c];
        for j in 0..n {
            m[c * n + j] /= d;
            inv[c * n + j] /= d;
        }
        for r in 0..n {
            if r != c {
                let f = m[r * n + c];
                for j in 0..n {
                    m[r * n + j] -= f * m[c * n + j];
                    inv[r * n + j] -= f * inv[c * n + j];
                }
            }
        }
    }
    inv
}

/// vᵀ M v for a dense `n × n` M.
pub fn quad(v: &[f64], m: &[f64]) -> f64 {
    let n = v.len();
    (0..n).map(|i| (0..n).map(|j| v[i] * m[i * n + j] * v[j]).sum::<f64>()).sum()
}

/// `n × d` standard normal inputs named by `seed`.
pub fn random_inputs(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n * d).map(|_| Distribution::<f32>::sample(&StandardNormal, &mut rng)).collect()
}
