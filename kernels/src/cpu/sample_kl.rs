//! One weight draw and its Monte Carlo complexity cost in one pass:
//! w = mu + sigma·eps with sigma = softplus(rho), and
//! KL ≈ Σ [log q(w) − log p(w)] = Σ [−ln sigma − eps²/2 − ln √(2π) − log p(w)]
//! for a zero-mean Gaussian or a two-component scale-mixture prior (by
//! log-sum-exp; no `+1e-6`, no stray constants). eps is made in registers
//! from (seed, offset) and regenerated once in the backward pass, which
//! writes (g_mu, g_rho) for both outputs together:
//!   g_mu  = g_w − g_kl·p'(w)
//!   g_rho = sigmoid(rho)·[g_w·eps + g_kl·(−1/sigma − eps·p'(w))]
//! with p'(w) = d log p / dw (eps held fixed: w − mu = sigma·eps).
//!
//! [`forward_saving`] also keeps a = sigmoid(rho)·eps and b = −sigmoid(rho)/sigma,
//! and [`backward_saved`] computes g_rho = g_w·a + g_kl·(b − a·p'(w)) from them:
//! on a CPU making eps and softplus is most of the cost, and two more streams
//! of floats cost less than making them again (the autograd op uses this pair
//! on the CPU; the GPU, bound by memory, regenerates).
//!
//! Sums are made per fixed chunk of `KL_CHUNK` (4096) elements (16 f32 lanes, then
//! f64) and the partials added in chunk order, so the result is bitwise the
//! same on any number of threads.

// `ln_normal`/`log1p_normal`: their arguments here are a softplus (at least
// e⁻⁸⁷, a normal number, or NaN/inf when rho is, and then the weight and
// the KL are non-finite as well) and 1 + e with e in [e⁻⁶⁰, 1].
use super::parallel::splits;
use super::random::for_each_normal_chunk;
use super::simd::multiversion;
use crate::context::ThreadSplit;
use crate::fastmath::{
    exp, ln_normal as ln, log1p_normal as log1p, softplus, softplus_from_exp, softplus_sigmoid,
    softplus_sigmoid_from_exp,
};
use crate::types::prior::{Consts, LN_SQRT_2PI};
use crate::types::PriorSpec;
use rayon::prelude::*;

pub(crate) use crate::context::KL_CHUNK;

impl Consts {
    /// The mixture's log-sum-exp in two steps, [`Consts::log_prior`]'s
    /// operations: (max(a, b), e^{−|a−b|} floored at e⁻⁶⁰) of `w`, then
    /// [`Consts::mixture_log`] of them.
    #[inline(always)]
    fn mixture_parts(&self, w: f32) -> (f32, f32) {
        let (a, b) = self.mixture_ab(w);
        (a.max(b), Self::mixture_exp(a, b))
    }

    /// The two components' log densities (a, b) at `w`, constants included.
    #[inline(always)]
    fn mixture_ab(&self, w: f32) -> (f32, f32) {
        let w2 = w * w;
        (self.ca - self.ha * w2, self.cb - self.hb * w2)
    }

    /// e^{−|a−b|}, floored at e⁻⁶⁰ (~1e-26, invisible next to max(a, b) and
    /// to 1) so that e·h never goes subnormal, which costs ~100 cycles per
    /// operation.
    #[inline(always)]
    fn mixture_exp(a: f32, b: f32) -> f32 {
        exp((-(a - b).abs()).max(-60.0))
    }

    /// log p(w) of a mixture from [`Consts::mixture_parts`]: max + ln(1 + e).
    #[inline(always)]
    fn mixture_log(&self, max: f32, e: f32) -> f32 {
        max + log1p(e)
    }

    /// (log p(w), d log p / dw); `MIX` false: the single Gaussian (`self.single`).
    #[inline(always)]
    fn log_prior<const MIX: bool>(&self, w: f32) -> (f32, f32) {
        if !MIX {
            return (self.c1 - self.ha * (w * w), -2.0 * w * self.ha);
        }
        // log-sum-exp: max + ln(1 + e^{−|a−b|}); the responsibilities follow from the same e.
        let (a, b) = self.mixture_ab(w);
        let e = Self::mixture_exp(a, b);
        let lp = self.mixture_log(a.max(b), e);
        let inv = 1.0 / (1.0 + e);
        let (ra, rb) = if a >= b { (inv, e * inv) } else { (e * inv, inv) };
        (lp, -2.0 * w * (ra * self.ha + rb * self.hb))
    }
}

/// Σ v in 16 independent f32 lanes (so it vectorises), then in f64.
#[inline(always)]
fn lane_sum(v: &[f32]) -> f64 {
    let mut lanes = [0f32; 16];
    let mut it = v.chunks_exact(16);
    for c in &mut it {
        for l in 0..16 {
            lanes[l] += c[l];
        }
    }
    let tail: f32 = it.remainder().iter().sum();
    lanes.iter().map(|&x| x as f64).sum::<f64>() + tail as f64
}

/// Runs `$body` with the const `$mix` set to whether the prior is a true
/// mixture, so each loop is compiled once per prior shape (branch outside it).
macro_rules! by_prior {
    ($k:expr, $mix:ident => $body:expr) => {
        if $k.single {
            const $mix: bool = false;
            $body
        } else {
            const $mix: bool = true;
            $body
        }
    };
}

/// Runs `$body` with the const `$flag` set to whether `$slice` is non-empty
/// (a gradient ∂L/∂w the loss uses, factors to keep) and `$mix` as
/// [`by_prior`] sets it: each loop is compiled once per combination.
macro_rules! by_nonempty_and_prior {
    ($slice:expr, $k:expr, $flag:ident, $mix:ident => $body:expr) => {
        if $slice.is_empty() {
            const $flag: bool = false;
            by_prior!($k, $mix => $body)
        } else {
            const $flag: bool = true;
            by_prior!($k, $mix => $body)
        }
    };
}

/// The forward; with `a` and `b` non-empty (`SAVE`) it also writes the
/// backward's factors a = sigmoid(rho)·eps and b = −sigmoid(rho)/sigma (see
/// [`forward_saving`]).
#[inline(always)]
fn forward_impl(
    mu: &[f32],
    rho: &[f32],
    seed: u64,
    offset: u64,
    k: &Consts,
    w: &mut [f32],
    a: &mut [f32],
    b: &mut [f32],
) -> f64 {
    let mut acc = 0f64;
    let (mut v, mut sig, mut lns, mut pexp, mut pmax) = ([0f32; 64], [0f32; 64], [0f32; 64], [0f32; 64], [0f32; 64]);
    by_nonempty_and_prior!(a, k, SAVE, MIX => for_each_normal_chunk(
        seed,
        offset,
        w.len(),
        #[inline(always)]
        |s, eps| {
            let n = eps.len();
            // Slices of length n (v included): no bounds checks, so the loop vectorises.
            let (m, r, o, v) = (&mu[s..s + n], &rho[s..s + n], &mut w[s..s + n], &mut v[..n]);
            let (sa, sb) = if SAVE { (&mut a[s..s + n], &mut b[s..s + n]) } else { (&mut [][..], &mut [][..]) };
            // Passes over the run, each with a short chain of dependent
            // operations, so that many elements are in flight at once: sigma
            // and ln sigma, then the draw and (for a mixture) the exp of its
            // prior, then the prior's log1p and the terms. The same
            // operations on each element as in one pass, so the same bits.
            let (sg, ls, pe, pm) = (&mut sig[..n], &mut lns[..n], &mut pexp[..n], &mut pmax[..n]);
            for i in 0..n {
                pe[i] = exp(r[i]);
            }
            for i in 0..n {
                // The same sigma bits either way (softplus_sigmoid's softplus is
                // softplus, which is softplus_from_exp of exp).
                let (sigma, fa, fb) =
                    if SAVE { factors_from_exp(r[i], pe[i], eps[i]) } else { (softplus_from_exp(r[i], pe[i]), 0.0, 0.0) };
                sg[i] = sigma;
                if SAVE {
                    sa[i] = fa;
                    sb[i] = fb;
                }
            }
            for i in 0..n {
                ls[i] = ln(sg[i]);
            }
            for i in 0..n {
                let wi = m[i] + sg[i] * eps[i];
                o[i] = wi;
                if MIX {
                    (pm[i], pe[i]) = k.mixture_parts(wi);
                }
            }
            for i in 0..n {
                let lp = if MIX { k.mixture_log(pm[i], pe[i]) } else { k.log_prior::<false>(o[i]).0 };
                v[i] = -ls[i] - 0.5 * eps[i] * eps[i] - lp;
            }
            acc += lane_sum(v) - LN_SQRT_2PI as f64 * n as f64;
        },
    ));
    acc
}

/// (sigma, a, b) of one weight given e^rho: sigma = softplus(rho) and the
/// backward's factors a = sigmoid(rho)·eps, b = −sigmoid(rho)/sigma
/// (softplus' derivative is the logistic function: both from the one exp).
#[inline(always)]
fn factors_from_exp(rho: f32, e_rho: f32, eps: f32) -> (f32, f32, f32) {
    let (sigma, dsigma) = softplus_sigmoid_from_exp(rho, e_rho);
    (sigma, dsigma * eps, -dsigma / sigma)
}

/// (∂L/∂mu, ∂L/∂rho) of one weight from its draw w and its factors (the one
/// formula of every backward here), g_w = ∂L/∂w, g_kl = ∂L/∂kl:
///   g_mu  = g_w − g_kl·p'(w)
///   g_rho = sigmoid(rho)·[g_w·eps + g_kl·(−1/sigma − eps·p'(w))] = g_w·a + g_kl·(b − a·p'(w))
#[inline(always)]
fn grads<const MIX: bool>(w: f32, a: f32, b: f32, g_w: f32, g_kl: f32, k: &Consts) -> (f32, f32) {
    let dlp = k.log_prior::<MIX>(w).1;
    (g_w - g_kl * dlp, g_w * a + g_kl * (b - a * dlp))
}

/// Backward from the factors [`forward_saving`] kept: no eps, no softplus.
#[inline(always)]
fn backward_saved_impl(
    w: &[f32],
    a: &[f32],
    b: &[f32],
    g_w: &[f32],
    g_kl: f32,
    k: &Consts,
    g_mu: &mut [f32],
    g_rho: &mut [f32],
) {
    by_nonempty_and_prior!(g_w, k, GW, MIX => {
        for i in 0..g_mu.len() {
            let gw = if GW { g_w[i] } else { 0.0 };
            (g_mu[i], g_rho[i]) = grads::<MIX>(w[i], a[i], b[i], gw, g_kl, k);
        }
    })
}

/// Backward that regenerates eps (and so w and the factors) from (seed, offset).
#[inline(always)]
fn backward_impl(
    mu: &[f32],
    rho: &[f32],
    g_w: &[f32],
    g_kl: f32,
    seed: u64,
    offset: u64,
    k: &Consts,
    g_mu: &mut [f32],
    g_rho: &mut [f32],
) {
    let (mut sig, mut fac_a, mut fac_b) = ([0f32; 64], [0f32; 64], [0f32; 64]);
    by_nonempty_and_prior!(g_w, k, GW, MIX => for_each_normal_chunk(
        seed,
        offset,
        g_mu.len(),
        #[inline(always)]
        |s, eps| {
            let n = eps.len();
            let (m, r) = (&mu[s..s + n], &rho[s..s + n]);
            let (om, or) = (&mut g_mu[s..s + n], &mut g_rho[s..s + n]);
            let gg = if GW { &g_w[s..s + n] } else { &[][..] };
            // Two passes (more elements in flight, as in the forward): the
            // factors, then the gradients; the same operations on each element.
            let (fs, fa, fb) = (&mut sig[..n], &mut fac_a[..n], &mut fac_b[..n]);
            for i in 0..n {
                fs[i] = exp(r[i]);
            }
            for i in 0..n {
                (fs[i], fa[i], fb[i]) = factors_from_exp(r[i], fs[i], eps[i]);
            }
            for i in 0..n {
                let gw = if GW { gg[i] } else { 0.0 };
                (om[i], or[i]) = grads::<MIX>(m[i] + fs[i] * eps[i], fa[i], fb[i], gw, g_kl, k);
            }
        },
    ))
}

/// KL of weights `w` already drawn by `reparam::forward` with (seed, offset):
/// eps is regenerated (the log q term needs it), mu is not needed.
#[inline(always)]
fn kl_at_impl(w: &[f32], rho: &[f32], seed: u64, offset: u64, k: &Consts) -> f64 {
    let mut acc = 0f64;
    let mut v = [0f32; 64];
    by_prior!(k, MIX => for_each_normal_chunk(
        seed,
        offset,
        w.len(),
        #[inline(always)]
        |s, eps| {
            let n = eps.len();
            let (ww, r, v) = (&w[s..s + n], &rho[s..s + n], &mut v[..n]);
            for i in 0..n {
                v[i] = -ln(softplus(r[i])) - 0.5 * eps[i] * eps[i] - k.log_prior::<MIX>(ww[i]).0;
            }
            acc += lane_sum(v) - LN_SQRT_2PI as f64 * n as f64;
        },
    ));
    acc
}

/// Backward of [`kl_at`]: no eps needed (w is given).
#[inline(always)]
fn kl_at_backward_impl(w: &[f32], rho: &[f32], g_kl: f32, k: &Consts, g_w: &mut [f32], g_rho: &mut [f32]) {
    by_prior!(k, MIX => for i in 0..w.len() {
        g_w[i] = -g_kl * k.log_prior::<MIX>(w[i]).1;
        let (sigma, dsigma) = softplus_sigmoid(rho[i]);
        g_rho[i] = -g_kl * dsigma / sigma;
    })
}

multiversion! {
    fn forward_simd(mu: &[f32], rho: &[f32], seed: u64, offset: u64, k: &Consts, w: &mut [f32],
        a: &mut [f32], b: &mut [f32]) -> f64 => forward_impl
}
multiversion! {
    fn backward_saved_simd(w: &[f32], a: &[f32], b: &[f32], g_w: &[f32], g_kl: f32, k: &Consts,
        g_mu: &mut [f32], g_rho: &mut [f32]) => backward_saved_impl
}
multiversion! {
    fn backward_simd(mu: &[f32], rho: &[f32], g_w: &[f32], g_kl: f32, seed: u64, offset: u64, k: &Consts,
        g_mu: &mut [f32], g_rho: &mut [f32]) => backward_impl
}
multiversion! {
    fn kl_at_simd(w: &[f32], rho: &[f32], seed: u64, offset: u64, k: &Consts) -> f64 => kl_at_impl
}
multiversion! {
    fn kl_at_backward_simd(w: &[f32], rho: &[f32], g_kl: f32, k: &Consts, g_w: &mut [f32], g_rho: &mut [f32])
        => kl_at_backward_impl
}

/// Sums `f(start, chunk)` over the fixed [`KL_CHUNK`]s of `out`, in chunk order
/// (threads only from `split.sampler` weights; the bits do not depend on them).
fn chunked_sum_mut(split: ThreadSplit, out: &mut [f32], f: impl Fn(usize, &mut [f32]) -> f64 + Sync) -> f64 {
    if !splits(split.sampler, out.len()) {
        return out.chunks_mut(KL_CHUNK).enumerate().map(|(i, c)| f(i * KL_CHUNK, c)).sum();
    }
    let parts: Vec<f64> = out.par_chunks_mut(KL_CHUNK).enumerate().map(|(i, c)| f(i * KL_CHUNK, c)).collect();
    parts.iter().sum()
}

/// Applies `f(start, a_chunk, b_chunk)` over the fixed [`KL_CHUNK`]s of two outputs.
fn for_each_chunk_pair(
    split: ThreadSplit,
    a: &mut [f32],
    b: &mut [f32],
    f: impl Fn(usize, &mut [f32], &mut [f32]) + Sync,
) {
    if !splits(split.sampler, a.len()) {
        f(0, a, b);
    } else {
        a.par_chunks_mut(KL_CHUNK)
            .zip(b.par_chunks_mut(KL_CHUNK))
            .enumerate()
            .for_each(|(i, (x, y))| f(i * KL_CHUNK, x, y));
    }
}

/// Writes `w[i] = mu[i] + softplus(rho[i])·eps(seed, offset + i)` and returns
/// Σ [log q(w) − log p(w)], on the threads from `split.sampler` weights (the
/// same bits under every policy). Slices must have equal lengths.
pub(crate) fn forward(
    split: ThreadSplit,
    mu: &[f32],
    rho: &[f32],
    seed: u64,
    offset: u64,
    prior: PriorSpec,
    w: &mut [f32],
) -> f32 {
    let k = Consts::new(prior);
    chunked_sum_mut(split, w, |s, out| {
        let e = s + out.len();
        forward_simd(&mu[s..e], &rho[s..e], seed, offset + s as u64, &k, out, &mut [], &mut [])
    }) as f32
}

/// [`forward`], also writing the backward's per-weight factors
/// `a = sigmoid(rho)·eps` and `b = −sigmoid(rho)/sigma` for [`backward_saved`].
/// Same `w` and KL bits as [`forward`]. On a CPU the draw is compute-bound
/// (Philox, Box-Muller and softplus per weight: BENCHMARKS.md, "Where the
/// time goes") and two more streams cost
/// far less than making eps and sigma again; the GPU regenerates instead.
///
/// # Panics
/// If the five slices differ in length (the ops layer checks shapes first).
pub(crate) fn forward_saving(
    split: ThreadSplit,
    mu: &[f32],
    rho: &[f32],
    seed: u64,
    offset: u64,
    prior: PriorSpec,
    w: &mut [f32],
    a: &mut [f32],
    b: &mut [f32],
) -> f32 {
    let n = w.len();
    assert!(mu.len() == n && rho.len() == n && a.len() == n && b.len() == n, "forward_saving: lengths differ");
    let k = Consts::new(prior);
    let f = |i: usize, (out, (ca, cb)): (&mut [f32], (&mut [f32], &mut [f32]))| {
        let (s, e) = (i * KL_CHUNK, i * KL_CHUNK + out.len());
        forward_simd(&mu[s..e], &rho[s..e], seed, offset + s as u64, &k, out, ca, cb)
    };
    // As chunked_sum_mut, over three outputs.
    let sum: f64 = if !splits(split.sampler, w.len()) {
        let chunks = w.chunks_mut(KL_CHUNK).zip(a.chunks_mut(KL_CHUNK).zip(b.chunks_mut(KL_CHUNK)));
        chunks.enumerate().map(|(i, c)| f(i, c)).sum()
    } else {
        let par = w.par_chunks_mut(KL_CHUNK).zip(a.par_chunks_mut(KL_CHUNK).zip(b.par_chunks_mut(KL_CHUNK)));
        let parts: Vec<f64> = par.enumerate().map(|(i, c)| f(i, c)).collect();
        parts.iter().sum()
    };
    sum as f32
}

/// Gradients of L(w, kl) with respect to (mu, rho) from the draw `w` and the
/// factors [`forward_saving`] kept (g_w and g_kl as in [`backward`]).
///
/// # Panics
/// If the slices (and `g_w` when given) differ in length (the ops layer checks first).
pub(crate) fn backward_saved(
    split: ThreadSplit,
    w: &[f32],
    a: &[f32],
    b: &[f32],
    g_w: Option<&[f32]>,
    g_kl: f32,
    prior: PriorSpec,
    g_mu: &mut [f32],
    g_rho: &mut [f32],
) {
    let n = g_mu.len();
    let same = [w.len(), a.len(), b.len(), g_rho.len()].iter().chain(g_w.map(<[f32]>::len).as_ref()).all(|&l| l == n);
    assert!(same, "backward_saved: lengths differ");
    let k = Consts::new(prior);
    for_each_chunk_pair(split, g_mu, g_rho, |s, gm, gr| {
        let e = s + gm.len();
        let (wc, ac, bc) = (&w[s..e], &a[s..e], &b[s..e]);
        let g = g_w.map_or(&[][..], |g| &g[s..e]);
        backward_saved_simd(wc, ac, bc, g, g_kl, &k, gm, gr)
    });
}

/// Gradients of L(w, kl) with respect to (mu, rho), given g_w = ∂L/∂w (None:
/// L does not use w) and g_kl = ∂L/∂kl; eps regenerated once.
pub(crate) fn backward(
    split: ThreadSplit,
    mu: &[f32],
    rho: &[f32],
    g_w: Option<&[f32]>,
    g_kl: f32,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
    g_mu: &mut [f32],
    g_rho: &mut [f32],
) {
    let k = Consts::new(prior);
    for_each_chunk_pair(split, g_mu, g_rho, |s, gm, gr| {
        let e = s + gm.len();
        let g = g_w.map_or(&[][..], |g| &g[s..e]);
        backward_simd(&mu[s..e], &rho[s..e], g, g_kl, seed, offset + s as u64, &k, gm, gr)
    });
}

/// Σ [log q(w) − log p(w)] for weights `w` that `reparam::forward` drew with
/// (seed, offset) from a posterior with this rho.
pub(crate) fn kl_at(split: ThreadSplit, w: &[f32], rho: &[f32], seed: u64, offset: u64, prior: PriorSpec) -> f32 {
    let k = Consts::new(prior);
    let n = w.len();
    let f = |s: usize| {
        let e = (s + KL_CHUNK).min(n);
        kl_at_simd(&w[s..e], &rho[s..e], seed, offset + s as u64, &k)
    };
    let sum: f64 = if !splits(split.sampler, n) {
        (0..n.div_ceil(KL_CHUNK)).map(|c| f(c * KL_CHUNK)).sum()
    } else {
        let parts: Vec<f64> = (0..n.div_ceil(KL_CHUNK)).into_par_iter().map(|c| f(c * KL_CHUNK)).collect();
        parts.iter().sum()
    };
    sum as f32
}

/// Backward of [`kl_at`]: `g_w = −g_kl·p'(w)`, `g_rho = −g_kl·sigmoid(rho)/sigma`
/// (eps held fixed, as in the fused op).
pub(crate) fn kl_at_backward(
    split: ThreadSplit,
    w: &[f32],
    rho: &[f32],
    g_kl: f32,
    prior: PriorSpec,
    g_w: &mut [f32],
    g_rho: &mut [f32],
) {
    let k = Consts::new(prior);
    for_each_chunk_pair(split, g_w, g_rho, |s, gw, gr| {
        let e = s + gw.len();
        kl_at_backward_simd(&w[s..e], &rho[s..e], g_kl, &k, gw, gr)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::random::fill_normal;

    fn reference_log_prior(w: f64, prior: PriorSpec) -> f64 {
        let ln_n = |s: f64| -s.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln() - w * w / (2.0 * s * s);
        match prior {
            PriorSpec::Gaussian { sigma } => ln_n(sigma as f64),
            PriorSpec::ScaleMixture { pi, sigma1, sigma2 } => {
                let (a, b) = ((pi as f64).ln() + ln_n(sigma1 as f64), (1.0 - pi as f64).ln() + ln_n(sigma2 as f64));
                let m = a.max(b);
                m + ((a - m).exp() + (b - m).exp()).ln()
            }
        }
    }

    fn inputs(n: usize) -> (Vec<f32>, Vec<f32>) {
        let mu = (0..n).map(|i| 0.05 * (i as f32 * 0.37).sin()).collect();
        let rho = (0..n).map(|i| -5.0 + 2.0 * (i as f32 * 0.11).cos()).collect();
        (mu, rho)
    }

    const PRIORS: [PriorSpec; 3] = [
        PriorSpec::Gaussian { sigma: 0.3 },
        PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.002 },
        PriorSpec::ScaleMixture { pi: 1.0, sigma1: 0.1, sigma2: 0.4 },
    ];

    #[test]
    fn forward_matches_an_f64_reference() {
        let n = 3001;
        let (mu, rho) = inputs(n);
        let mut eps = vec![0.0; n];
        fill_normal(ThreadSplit::default(), 5, 8, &mut eps);
        for prior in PRIORS {
            let mut w = vec![0.0; n];
            let kl = forward(ThreadSplit::default(), &mu, &rho, 5, 8, prior, &mut w) as f64;
            let mut want = 0f64;
            for i in 0..n {
                let s = softplus(rho[i]);
                assert_eq!(w[i], mu[i] + s * eps[i]);
                let lq = -(s as f64).ln() - 0.5 * (eps[i] as f64).powi(2) - 0.5 * (2.0 * std::f64::consts::PI).ln();
                want += lq - reference_log_prior(w[i] as f64, prior);
            }
            assert!((kl - want).abs() < 1e-4 * want.abs().max(1.0), "{prior:?}: {kl} vs {want}");
            let at = kl_at(ThreadSplit::default(), &w, &rho, 5, 8, prior) as f64;
            assert!((at - want).abs() < 1e-4 * want.abs().max(1.0), "{prior:?}: {at} vs {want}");
        }
    }

    #[test]
    fn backward_matches_finite_differences_of_the_prior_terms() {
        let n = 257;
        let (mu, rho) = inputs(n);
        let g_w: Vec<f32> = (0..n).map(|i| (i % 5) as f32 - 2.0).collect();
        let mut eps = vec![0.0; n];
        fill_normal(ThreadSplit::default(), 1, 0, &mut eps);
        for prior in PRIORS {
            let (mut gm, mut gr) = (vec![0.0; n], vec![0.0; n]);
            backward(ThreadSplit::default(), &mu, &rho, Some(&g_w), 0.7, 1, 0, prior, &mut gm, &mut gr);
            for i in (0..n).step_by(17) {
                // Per element: L = g_w·w + 0.7·(log q − log p), differentiated in f64.
                let l = |m: f64, r: f64| {
                    let s = (r.exp()).ln_1p();
                    let w = m + s * eps[i] as f64;
                    g_w[i] as f64 * w + 0.7 * (-s.ln() - reference_log_prior(w, prior))
                };
                let (m, r, h) = (mu[i] as f64, rho[i] as f64, 1e-6);
                let dm = (l(m + h, r) - l(m - h, r)) / (2.0 * h);
                let dr = (l(m, r + h) - l(m, r - h)) / (2.0 * h);
                assert!((gm[i] as f64 - dm).abs() < 2e-3 * dm.abs().max(1.0), "{prior:?} mu {i}: {} vs {dm}", gm[i]);
                assert!((gr[i] as f64 - dr).abs() < 2e-3 * dr.abs().max(1.0), "{prior:?} rho {i}: {} vs {dr}", gr[i]);
            }
        }
    }

    #[test]
    fn the_saved_factors_give_the_regenerating_backward() {
        // Above the default threshold, so the chunked and threaded paths run too.
        let n = ThreadSplit::default().sampler + 4099;
        let (mu, mut rho) = inputs(n);
        // Also softplus's linear branch (rho > 20) and exp's clamp (rho < −87).
        for (i, r) in [25.0, 90.0, -88.0, -100.0, 0.0, 19.9, 20.1].into_iter().enumerate() {
            rho[i * 1000] = r;
        }
        let g_w: Vec<f32> = (0..n).map(|i| (i % 5) as f32 - 2.0).collect();
        for prior in PRIORS {
            let (mut w, mut w2) = (vec![0.0; n], vec![0.0; n]);
            let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
            let kl = forward(ThreadSplit::default(), &mu, &rho, 3, 12, prior, &mut w);
            let kl2 = forward_saving(ThreadSplit::default(), &mu, &rho, 3, 12, prior, &mut w2, &mut a, &mut b);
            assert_eq!((kl.to_bits(), &w), (kl2.to_bits(), &w2), "{prior:?}: same draw, same KL");
            for g in [Some(&g_w[..]), None] {
                let (mut gm, mut gr, mut sm, mut sr) = (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
                backward(ThreadSplit::default(), &mu, &rho, g, 0.7, 3, 12, prior, &mut gm, &mut gr);
                backward_saved(ThreadSplit::default(), &w, &a, &b, g, 0.7, prior, &mut sm, &mut sr);
                // Both backwards evaluate `grads` on the same (w, a, b): the same bits.
                assert_eq!(gm, sm, "{prior:?}: g_mu");
                assert_eq!(gr, sr, "{prior:?}: g_rho");
            }
        }
    }

    #[test]
    fn same_bits_on_one_and_two_threads() {
        let n = 3 * KL_CHUNK + 123;
        let (mu, rho) = inputs(n);
        let g: Vec<f32> = (0..n).map(|i| ((i % 9) as f32 - 4.0) * 0.1).collect();
        let prior = PRIORS[1];
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let mut w = vec![0.0; n];
                let kl = forward(ThreadSplit::default(), &mu, &rho, 3, 4, prior, &mut w);
                let (mut gm, mut gr) = (vec![0.0; n], vec![0.0; n]);
                backward(ThreadSplit::default(), &mu, &rho, Some(&g), 1.5, 3, 4, prior, &mut gm, &mut gr);
                let (mut a, mut b, mut w2) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
                forward_saving(ThreadSplit::default(), &mu, &rho, 3, 4, prior, &mut w2, &mut a, &mut b);
                let (mut sm, mut sr) = (vec![0.0; n], vec![0.0; n]);
                backward_saved(ThreadSplit::default(), &w2, &a, &b, Some(&g), 1.5, prior, &mut sm, &mut sr);
                (
                    kl.to_bits(),
                    w,
                    gm,
                    gr,
                    kl_at(ThreadSplit::default(), &mu, &rho, 3, 4, prior).to_bits(),
                    (a, b, sm, sr),
                )
            })
        };
        assert_eq!(run(1), run(2));
    }
}
