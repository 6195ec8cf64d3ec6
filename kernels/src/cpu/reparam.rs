//! The fused reparameterisation trick: w = mu + softplus(rho)·eps in one pass,
//! eps made in registers from (seed, offset) and never stored. Backward
//! regenerates the same eps instead of keeping a buffer per layer:
//!   ∂w/∂mu = 1,  ∂w/∂rho = eps·sigmoid(rho)   (softplus' = sigmoid).

// `ln_normal`: its argument here is a softplus (see sample_kl.rs).
use super::parallel::{chunked_sum, for_each_chunk_mut};
use super::random::for_each_normal_chunk;
use super::simd::multiversion;
use crate::context::ThreadSplit;
use crate::fastmath::{ln_normal as ln, sigmoid, softplus};

pub(crate) use crate::types::prior::LN_SQRT_2PI;

/// `w = mu + sigma(x)·eps`, with `sigma` softplus (x is rho) or the identity
/// (x is sigma itself): one loop, so both draw the same bits.
#[inline(always)]
fn draw_impl(mu: &[f32], x: &[f32], seed: u64, offset: u64, w: &mut [f32], sigma: impl Fn(f32) -> f32) {
    for_each_normal_chunk(
        seed,
        offset,
        w.len(),
        #[inline(always)]
        |s, eps| {
            let (m, r, o) = (&mu[s..s + eps.len()], &x[s..s + eps.len()], &mut w[s..s + eps.len()]);
            for k in 0..eps.len() {
                o[k] = m[k] + sigma(r[k]) * eps[k];
            }
        },
    );
}

#[inline(always)]
fn forward_impl(mu: &[f32], rho: &[f32], seed: u64, offset: u64, w: &mut [f32]) {
    draw_impl(mu, rho, seed, offset, w, softplus)
}

#[inline(always)]
fn forward_sigma_impl(mu: &[f32], sigma: &[f32], seed: u64, offset: u64, w: &mut [f32]) {
    draw_impl(mu, sigma, seed, offset, w, |s| s)
}

#[inline(always)]
fn backward_rho_impl(rho: &[f32], g: &[f32], seed: u64, offset: u64, g_rho: &mut [f32]) {
    for_each_normal_chunk(
        seed,
        offset,
        g_rho.len(),
        #[inline(always)]
        |s, eps| {
            let (r, gg, o) = (&rho[s..s + eps.len()], &g[s..s + eps.len()], &mut g_rho[s..s + eps.len()]);
            for k in 0..eps.len() {
                o[k] = gg[k] * eps[k] * sigmoid(r[k]);
            }
        },
    );
}

#[inline(always)]
fn log_posterior_impl(rho: &[f32], seed: u64, offset: u64) -> f64 {
    let mut acc = 0f64;
    for_each_normal_chunk(
        seed,
        offset,
        rho.len(),
        #[inline(always)]
        |s, eps| {
            let r = &rho[s..s + eps.len()];
            let mut part = 0f32;
            for k in 0..eps.len() {
                part += -ln(softplus(r[k])) - 0.5 * eps[k] * eps[k];
            }
            acc += part as f64 - LN_SQRT_2PI as f64 * eps.len() as f64;
        },
    );
    acc
}

multiversion! {
    fn forward_simd(mu: &[f32], rho: &[f32], seed: u64, offset: u64, w: &mut [f32]) => forward_impl
}
multiversion! {
    fn forward_sigma_simd(mu: &[f32], sigma: &[f32], seed: u64, offset: u64, w: &mut [f32]) => forward_sigma_impl
}
multiversion! {
    fn backward_rho_simd(rho: &[f32], g: &[f32], seed: u64, offset: u64, g_rho: &mut [f32]) => backward_rho_impl
}
multiversion! {
    fn log_posterior_simd(rho: &[f32], seed: u64, offset: u64) -> f64 => log_posterior_impl
}

/// `w[i] = mu[i] + softplus(rho[i])·eps(seed, offset + i)`.
pub(crate) fn forward(split: ThreadSplit, mu: &[f32], rho: &[f32], seed: u64, offset: u64, w: &mut [f32]) {
    for_each_chunk_mut(split, w, |start, out| {
        let end = start + out.len();
        forward_simd(&mu[start..end], &rho[start..end], seed, offset + start as u64, out)
    });
}

/// `w[i] = mu[i] + sigma[i]·eps(seed, offset + i)` with sigma given: the
/// same bits as [`forward`] when `sigma = softplus(rho)`. For predictions,
/// which draw many times from one posterior and need not recompute sigma
/// (softplus is ~40% of a draw).
pub(crate) fn forward_sigma(split: ThreadSplit, mu: &[f32], sigma: &[f32], seed: u64, offset: u64, w: &mut [f32]) {
    for_each_chunk_mut(split, w, |start, out| {
        let end = start + out.len();
        forward_sigma_simd(&mu[start..end], &sigma[start..end], seed, offset + start as u64, out)
    });
}

/// Given g = ∂L/∂w: `g_mu = g` and `g_rho[i] = g[i]·eps_i·sigmoid(rho[i])`,
/// eps regenerated from (seed, offset).
pub(crate) fn backward(
    split: ThreadSplit,
    rho: &[f32],
    g: &[f32],
    seed: u64,
    offset: u64,
    g_mu: &mut [f32],
    g_rho: &mut [f32],
) {
    g_mu.copy_from_slice(g);
    for_each_chunk_mut(split, g_rho, |start, out| {
        let end = start + out.len();
        backward_rho_simd(&rho[start..end], &g[start..end], seed, offset + start as u64, out)
    });
}

/// The log-density of the sampled weights under their own posterior,
/// Σ log N(w_i; mu_i, sigma_i) = Σ (−ln sigma_i − eps_i²/2 − ln √(2π)),
/// using w − mu = sigma·eps (no stray constants: this is the true density).
pub(crate) fn log_posterior(split: ThreadSplit, rho: &[f32], seed: u64, offset: u64) -> f32 {
    chunked_sum(split, rho.len(), |s, e| log_posterior_simd(&rho[s..e], seed, offset + s as u64)) as f32
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
        fill_normal(ThreadSplit::default(), 3, 17, &mut eps);
        let mut w = vec![0.0; n];
        forward(ThreadSplit::default(), &mu, &rho, 3, 17, &mut w);
        let g: Vec<f32> = (0..n).map(|i| (i % 7) as f32 - 3.0).collect();
        let (mut gm, mut gr) = (vec![0.0; n], vec![0.0; n]);
        backward(ThreadSplit::default(), &rho, &g, 3, 17, &mut gm, &mut gr);
        let sigma: Vec<f32> = rho.iter().map(|&r| softplus(r)).collect();
        let mut ws = vec![0.0; n];
        forward_sigma(ThreadSplit::default(), &mu, &sigma, 3, 17, &mut ws);
        assert_eq!(ws, w, "sigma given: the same draw");
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
        let got = log_posterior(ThreadSplit::default(), &rho, 3, 17) as f64;
        assert!((got - lq).abs() < 1e-3 * lq.abs().max(1.0), "{got} vs {lq}");
    }
}
