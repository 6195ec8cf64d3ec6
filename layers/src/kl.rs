//! The complexity cost (KL) of a Gaussian posterior q = N(mu, softplus(rho)²)
//! against a prior, two ways, chosen per layer by [`KlMode`].

use crate::prior::Prior;
use blitz_autograd::{Error, Result, Var};

/// How a Bayesian layer estimates KL(q ‖ p) in a forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KlMode {
    /// One-sample Monte Carlo, log q(w) − log p(w) at the sampled w (BLiTZ's;
    /// works with any prior).
    #[default]
    MonteCarlo,
    /// The exact KL, for a zero-mean Gaussian prior (lower variance).
    ClosedForm,
    /// Empirical Bayes: a zero-mean Gaussian prior whose variance is, for
    /// each weight tensor, the one that minimises the KL (the layer's own
    /// prior choice ignored); see [`empirical_bayes_kl`].
    EmpiricalBayes,
}

/// Σ KL(N(mu, sigma²) ‖ N(0, s²)) = Σ [ln(s/sigma) + (sigma² + mu²)/(2s²) − ½],
/// with sigma = softplus(rho). Shape `[]`.
///
/// # Errors
/// [`Error::ShapeMismatch`] when mu and rho differ in shape.
pub fn gaussian_kl(mu: &Var, rho: &Var, prior_sigma: f32) -> Result<Var> {
    if mu.shape() != rho.shape() {
        return Err(Error::ShapeMismatch { op: "gaussian_kl", lhs: mu.shape().to_vec(), rhs: rho.shape().to_vec() });
    }
    let n = mu.value().numel() as f32;
    let sigma = rho.softplus()?;
    let quad = sigma.square()?.add(&mu.square()?)?.sum()?.mul_scalar(0.5 / (prior_sigma * prior_sigma))?;
    quad.sub(&sigma.log()?.sum()?)?.add_scalar(n * (prior_sigma.ln() - 0.5))
}

/// The Monte Carlo term log q(w) − log p(w) for weights `w` drawn by
/// `mu.reparam_sample(rho, seed, offset)`: one fused pass for a prior with a
/// [`Prior::spec`], the prior's tape ops otherwise. (Drawing with
/// [`Var::sample_with_kl`] instead saves one more pass.)
///
/// # Errors
/// Kernel failures.
pub fn monte_carlo_kl(w: &Var, rho: &Var, seed: u64, offset: u64, prior: &dyn Prior) -> Result<Var> {
    match prior.spec() {
        Some(spec) => w.kl_at(rho, seed, offset, spec),
        _ => rho.reparam_log_posterior(seed, offset)?.sub(&prior.log_prob(w)?),
    }
}

/// min over s of Σ KL(N(mu, sigma²) ‖ N(0, s²)): the minimiser is
/// s² = mean(sigma² + mu²), which gives (n/2)·ln(mean(sigma² + mu²)) − Σ ln sigma
/// (≥ 0 by Jensen). By the envelope theorem its gradient is the KL's
/// gradient at that s, so the prior follows the posterior as it trains
/// (type-II maximum likelihood, as in Wu et al. 2019).
///
/// # Errors
/// [`Error::ShapeMismatch`] when mu and rho differ in shape.
pub fn empirical_bayes_kl(mu: &Var, rho: &Var) -> Result<Var> {
    if mu.shape() != rho.shape() {
        return Err(Error::ShapeMismatch {
            op: "empirical_bayes_kl",
            lhs: mu.shape().to_vec(),
            rhs: rho.shape().to_vec(),
        });
    }
    let n = mu.value().numel() as f32;
    let sigma = rho.softplus()?;
    let second_moment = sigma.square()?.add(&mu.square()?)?.mean()?;
    second_moment.log()?.mul_scalar(0.5 * n)?.sub(&sigma.log()?.sum()?)
}
