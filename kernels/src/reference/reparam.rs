//! The reparameterisation trick, written the way you would derive it: one
//! weight at a time, plain scalar Rust, no macros, intrinsics or `unsafe`.
//! Read it after the tour (`blitz::tour`); the fast kernels
//! (`cpu::reparam`, `cpu::sample_kl`, the CUDA sampler) compute the same
//! things and are tested against these functions (`kernels/src/cpu/reference_tests.rs`).
//!
//! A weight's posterior is q(w) = N(mu, sigma²) with sigma = softplus(rho)
//! (rho is unconstrained, sigma stays positive). The trick draws
//!
//! ```text
//! w = mu + sigma·eps,   eps ~ N(0, 1) independent of (mu, rho)
//! ```
//!
//! so w is a differentiable function of (mu, rho) for a fixed eps:
//! ∂w/∂mu = 1 and ∂w/∂rho = eps·softplus'(rho) = eps·sigmoid(rho).
//!
//! eps is *named*, not drawn from a generator's state: normal number j of the
//! draw seeded `seed` is [`normal`]`(seed, j)`, a pure function (Philox, a
//! counter-based generator, then Box-Muller). That is why the backward pass
//! can recompute eps instead of storing it, and why threads and devices agree.
//!
//! Bits: [`normal`] and [`sample`] give bit for bit the fast CPU path's eps
//! and w (the `ln`, `sin`/`cos`, `exp` they use are the kernels' own exactly
//! rounded f32 formulas, within 2 ulp of the standard library's). The
//! log-densities and KL are computed in f64 here and summed in order, so the
//! fast paths' sums (f32 lanes, chunked) agree with them to rounding, not bits.

use crate::fastmath;
use crate::types::PriorSpec;

// ---------------------------------------------------------------- the draw

/// Philox4x32-10's multipliers and key increments (Salmon et al. 2011).
const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Philox4x32-10: ten rounds that scramble a 128-bit counter under a 64-bit
/// key. Each round multiplies two words (keeping both halves of the 64-bit
/// products), swaps and XORs with the key, then bumps the key.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let [mut c0, mut c1, mut c2, mut c3] = counter;
    let [mut k0, mut k1] = key;
    for round in 0..10 {
        if round > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        let p0 = M0 as u64 * c0 as u64;
        let p1 = M1 as u64 * c2 as u64;
        let (hi0, lo0, hi1, lo1) = ((p0 >> 32) as u32, p0 as u32, (p1 >> 32) as u32, p1 as u32);
        (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0);
    }
    [c0, c1, c2, c3]
}

/// A u32 to a uniform in (0, 1): its top 24 bits, centred in their cell, so
/// neither 0 (ln would be −∞) nor 1 comes out.
pub fn uniform(x: u32) -> f32 {
    ((x >> 8) as f32 + 0.5) / 16_777_216.0
}

/// The standard normal named (seed, j). Normals come four to a Philox
/// block: block j/4 under key `seed` gives four words; words (0, 1) and
/// (2, 3) are two Box-Muller pairs, r = √(−2 ln u1), θ = 2π·u2, and the
/// even element takes r·cos θ, the odd one r·sin θ.
pub fn normal(seed: u64, j: u64) -> f32 {
    let block = j / 4;
    let words = philox4x32_10([block as u32, (block >> 32) as u32, 0, 0], [seed as u32, (seed >> 32) as u32]);
    let pair = (j % 4 / 2) as usize;
    let (u1, u2) = (uniform(words[2 * pair]), uniform(words[2 * pair + 1]));
    let r = (-2.0 * fastmath::ln(u1)).sqrt();
    let (sin, cos) = fastmath::sincos_2pi(u2); // (sin 2πu2, cos 2πu2)
    match j % 2 {
        0 => r * cos,
        _ => r * sin,
    }
}

/// sigma = softplus(rho) = ln(1 + e^rho).
pub fn softplus(rho: f32) -> f32 {
    fastmath::softplus(rho)
}

/// softplus'(rho) = sigmoid(rho) = 1 / (1 + e^−rho).
pub fn sigmoid(rho: f32) -> f32 {
    fastmath::sigmoid(rho)
}

/// **The trick**: w = mu + softplus(rho)·eps.
pub fn sample(mu: f32, rho: f32, eps: f32) -> f32 {
    mu + softplus(rho) * eps
}

/// (∂w/∂mu, ∂w/∂rho) = (1, eps·sigmoid(rho)) of [`sample`], eps held fixed.
pub fn sample_grad(rho: f32, eps: f32) -> (f32, f32) {
    (1.0, eps * sigmoid(rho))
}

// ---------------------------------------------------------- log-densities

/// ln √(2π).
pub const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// ln N(x; mean, sigma²) = −ln sigma − ln √(2π) − z²/2 with z = (x − mean)/sigma.
pub fn log_normal(x: f64, mean: f64, sigma: f64) -> f64 {
    let z = (x - mean) / sigma;
    -sigma.ln() - LN_SQRT_2PI - 0.5 * z * z
}

/// The posterior's log-density ln q(w) = ln N(w; mu, softplus(rho)²).
pub fn log_posterior(w: f64, mu: f64, rho: f32) -> f64 {
    log_normal(w, mu, softplus(rho) as f64)
}

/// (∂/∂w, ∂/∂mu, ∂/∂rho) of [`log_posterior`] as a function of three free
/// variables: −z/sigma, z/sigma and sigmoid(rho)·(z² − 1)/sigma.
pub fn log_posterior_grad(w: f64, mu: f64, rho: f32) -> (f64, f64, f64) {
    let sigma = softplus(rho) as f64;
    let z = (w - mu) / sigma;
    (-z / sigma, z / sigma, sigmoid(rho) as f64 * (z * z - 1.0) / sigma)
}

/// ln(e^a + e^b) without overflow or underflow: max + ln(1 + e^−|a − b|).
pub fn log_sum_exp(a: f64, b: f64) -> f64 {
    a.max(b) + (-(a - b).abs()).exp().ln_1p()
}

/// The prior's log-density ln p(w): N(0, sigma²), or the scale mixture
/// pi·N(0, sigma1²) + (1 − pi)·N(0, sigma2²) by log-sum-exp of the two
/// weighted components (a component of weight 0 is left out: ln 0 = −∞).
pub fn log_prior(w: f64, prior: PriorSpec) -> f64 {
    match prior {
        PriorSpec::Gaussian { sigma } => log_normal(w, 0.0, sigma as f64),
        PriorSpec::ScaleMixture { pi, sigma1, sigma2 } => {
            let (pi, s1, s2) = (pi as f64, sigma1 as f64, sigma2 as f64);
            if pi == 1.0 {
                return log_normal(w, 0.0, s1);
            }
            if pi == 0.0 {
                return log_normal(w, 0.0, s2);
            }
            log_sum_exp(pi.ln() + log_normal(w, 0.0, s1), (1.0 - pi).ln() + log_normal(w, 0.0, s2))
        }
    }
}

/// d ln p / dw of [`log_prior`]: −w/sigma², or for the mixture the
/// components' −w/sigma_k² weighted by their responsibilities (their shares
/// of p(w)).
pub fn log_prior_grad(w: f64, prior: PriorSpec) -> f64 {
    match prior {
        PriorSpec::Gaussian { sigma } => -w / (sigma as f64).powi(2),
        PriorSpec::ScaleMixture { pi, sigma1, sigma2 } => {
            let (pi, s1, s2) = (pi as f64, sigma1 as f64, sigma2 as f64);
            let a = if pi > 0.0 { pi.ln() + log_normal(w, 0.0, s1) } else { f64::NEG_INFINITY };
            let b = if pi < 1.0 { (1.0 - pi).ln() + log_normal(w, 0.0, s2) } else { f64::NEG_INFINITY };
            let total = log_sum_exp(a, b);
            let (ra, rb) = ((a - total).exp(), (b - total).exp());
            -w * (ra / (s1 * s1) + rb / (s2 * s2))
        }
    }
}

// -------------------------------------------------------------------- KL

/// One weight's Monte Carlo KL term, ln q(w) − ln p(w) at w = [`sample`]`(mu, rho, eps)`.
/// Its mean over eps is KL(q ‖ p). (The fast kernels use w − mu = sigma·eps
/// to write ln q(w) = −ln sigma − eps²/2 − ln √(2π) without the division.)
pub fn mc_kl_term(mu: f32, rho: f32, eps: f32, prior: PriorSpec) -> f64 {
    let w = sample(mu, rho, eps) as f64;
    log_posterior(w, mu as f64, rho) - log_prior(w, prior)
}

/// (∂/∂mu, ∂/∂rho) of [`mc_kl_term`] with eps fixed — the pathwise
/// gradient. The chain rule through w = w(mu, rho):
/// d/dθ f(w(θ), θ) = ∂f/∂w·∂w/∂θ + ∂f/∂θ, with f = ln q − ln p.
/// (The ln q part comes to 0 for mu and −sigmoid(rho)/sigma for rho.)
pub fn mc_kl_term_grad(mu: f32, rho: f32, eps: f32, prior: PriorSpec) -> (f64, f64) {
    let w = sample(mu, rho, eps) as f64;
    let (dw_dmu, dw_drho) = sample_grad(rho, eps);
    let (q_w, q_mu, q_rho) = log_posterior_grad(w, mu as f64, rho);
    let f_w = q_w - log_prior_grad(w, prior);
    (f_w * dw_dmu as f64 + q_mu, f_w * dw_drho as f64 + q_rho)
}

/// KL(N(mu, sigma²) ‖ N(0, s²)) in closed form, sigma = softplus(rho):
/// ln(s/sigma) + (sigma² + mu²)/(2s²) − ½.
pub fn gaussian_kl(mu: f32, rho: f32, prior_sigma: f32) -> f64 {
    let (mu, sigma, s) = (mu as f64, softplus(rho) as f64, prior_sigma as f64);
    (s / sigma).ln() + (sigma * sigma + mu * mu) / (2.0 * s * s) - 0.5
}

/// (∂/∂mu, ∂/∂rho) of [`gaussian_kl`]: mu/s² and sigmoid(rho)·(sigma/s² − 1/sigma).
pub fn gaussian_kl_grad(mu: f32, rho: f32, prior_sigma: f32) -> (f64, f64) {
    let (sigma, s2) = (softplus(rho) as f64, (prior_sigma as f64).powi(2));
    (mu as f64 / s2, sigmoid(rho) as f64 * (sigma / s2 - 1.0 / sigma))
}

// ------------------------------------------- whole tensors, one loop each

/// `out[i]` = the normal named (seed, offset + i).
pub fn normals(seed: u64, offset: u64, out: &mut [f32]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = normal(seed, offset + i as u64);
    }
}

/// `w[i] = mu[i] + softplus(rho[i])·eps(seed, offset + i)`.
///
/// # Panics
/// If the slices differ in length.
pub fn sample_all(mu: &[f32], rho: &[f32], seed: u64, offset: u64, w: &mut [f32]) {
    assert!(mu.len() == w.len() && rho.len() == w.len(), "sample_all: lengths differ");
    for i in 0..w.len() {
        w[i] = sample(mu[i], rho[i], normal(seed, offset + i as u64));
    }
}

/// Given g = ∂L/∂w of [`sample_all`]'s draw: `g_mu[i] = g[i]`,
/// `g_rho[i] = g[i]·eps_i·sigmoid(rho[i])`, eps recomputed from its name.
///
/// # Panics
/// If the slices differ in length.
pub fn sample_all_backward(rho: &[f32], g: &[f32], seed: u64, offset: u64, g_mu: &mut [f32], g_rho: &mut [f32]) {
    let n = rho.len();
    assert!(g.len() == n && g_mu.len() == n && g_rho.len() == n, "sample_all_backward: lengths differ");
    for i in 0..n {
        let (dw_dmu, dw_drho) = sample_grad(rho[i], normal(seed, offset + i as u64));
        g_mu[i] = g[i] * dw_dmu;
        g_rho[i] = g[i] * dw_drho;
    }
}

/// The Monte Carlo KL of the draw [`sample_all`] makes with (seed, offset):
/// Σ ln q(w_i) − ln p(w_i), summed in f64 in index order.
///
/// # Panics
/// If mu and rho differ in length.
pub fn mc_kl(mu: &[f32], rho: &[f32], seed: u64, offset: u64, prior: PriorSpec) -> f64 {
    assert_eq!(mu.len(), rho.len(), "mc_kl: lengths differ");
    (0..mu.len()).map(|i| mc_kl_term(mu[i], rho[i], normal(seed, offset + i as u64), prior)).sum()
}

/// Given g_kl = ∂L/∂KL of [`mc_kl`]: `g_mu[i]`, `g_rho[i]` = g_kl times
/// [`mc_kl_term_grad`] of weight i.
///
/// # Panics
/// If the slices differ in length.
pub fn mc_kl_backward(
    mu: &[f32],
    rho: &[f32],
    g_kl: f32,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
    g_mu: &mut [f32],
    g_rho: &mut [f32],
) {
    let n = mu.len();
    assert!(rho.len() == n && g_mu.len() == n && g_rho.len() == n, "mc_kl_backward: lengths differ");
    for i in 0..n {
        let (d_mu, d_rho) = mc_kl_term_grad(mu[i], rho[i], normal(seed, offset + i as u64), prior);
        g_mu[i] = (g_kl as f64 * d_mu) as f32;
        g_rho[i] = (g_kl as f64 * d_rho) as f32;
    }
}
