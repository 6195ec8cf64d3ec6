//! The fused reparameterisation trick: w = mu + softplus(rho)·eps in one pass,
//! eps made in registers from (seed, offset) and never stored. Backward
//! regenerates the same eps instead of keeping a buffer per layer:
//!   ∂w/∂mu = 1,  ∂w/∂rho = eps·sigmoid(rho)   (softplus' = sigmoid).

use super::parallel::{chunked_sum, for_each_chunk_mut};
use super::random::for_each_normal;
use super::unary::{sigmoid, softplus};

/// ln √(2π).
pub const LN_SQRT_2PI: f32 = 0.918_938_5;

/// `w[i] = mu[i] + softplus(rho[i])·eps(seed, offset + i)`.
pub fn forward(mu: &[f32], rho: &[f32], seed: u64, offset: u64, w: &mut [f32]) {
    for_each_chunk_mut(w, |start, out| {
        for_each_normal(seed, offset + start as u64, out.len(), |i, e| {
            let k = start + i;
            out[i] = mu[k] + softplus(rho[k]) * e;
        });
    });
}

/// Given g = ∂L/∂w: `g_mu = g` and `g_rho[i] = g[i]·eps_i·sigmoid(rho[i])`,
/// eps regenerated from (seed, offset).
pub fn backward(rho: &[f32], g: &[f32], seed: u64, offset: u64, g_mu: &mut [f32], g_rho: &mut [f32]) {
    g_mu.copy_from_slice(g);
    for_each_chunk_mut(g_rho, |start, out| {
        for_each_normal(seed, offset + start as u64, out.len(), |i, e| {
            let k = start + i;
            out[i] = g[k] * e * sigmoid(rho[k]);
        });
    });
}

/// The log-density of the sampled weights under their own posterior,
/// Σ log N(w_i; mu_i, sigma_i) = Σ (−ln sigma_i − eps_i²/2 − ln √(2π)),
/// using w − mu = sigma·eps (no stray constants: this is the true density).
pub fn log_posterior(rho: &[f32], seed: u64, offset: u64) -> f32 {
    chunked_sum(rho.len(), |s, e| {
        let mut acc = 0f64;
        for_each_normal(seed, offset + s as u64, e - s, |i, eps| {
            acc += (-softplus(rho[s + i]).ln() - 0.5 * eps * eps - LN_SQRT_2PI) as f64;
        });
        acc
    }) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::random::fill_normal;

    #[test]
    fn fused_equals_the_unfused_computation() {
        let n = 1001;
        let mu: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let rho: Vec<f32> = (0..n).map(|i| -3.0 + (i as f32 * 0.11).cos()).collect();
        let mut eps = vec![0.0; n];
        fill_normal(3, 17, &mut eps);
        let mut w = vec![0.0; n];
        forward(&mu, &rho, 3, 17, &mut w);
        let g: Vec<f32> = (0..n).map(|i| (i % 7) as f32 - 3.0).collect();
        let (mut gm, mut gr) = (vec![0.0; n], vec![0.0; n]);
        backward(&rho, &g, 3, 17, &mut gm, &mut gr);
        for i in 0..n {
            assert_eq!(w[i], mu[i] + softplus(rho[i]) * eps[i]);
            assert_eq!(gm[i], g[i]);
            assert_eq!(gr[i], g[i] * eps[i] * sigmoid(rho[i]));
        }
        let lq: f64 = (0..n)
            .map(|i| {
                let s = softplus(rho[i]) as f64;
                let z = (w[i] - mu[i]) as f64 / s;
                -s.ln() - 0.5 * z * z - 0.5 * (2.0 * std::f64::consts::PI).ln()
            })
            .sum();
        let got = log_posterior(&rho, 3, 17) as f64;
        assert!((got - lq).abs() < 1e-3 * lq.abs().max(1.0), "{got} vs {lq}");
    }
}
