//! The mean-field Gaussian posterior N(mu, softplus(rho)²) over one weight
//! tensor, shared by every Bayesian layer: initialisation, the weight draws
//! of each [`Estimator`](crate::Estimator), the KL terms and MOPED; and, for
//! users, its log-density at given weights, [`log_density`].

use crate::kl::{empirical_bayes_kl, gaussian_kl, monte_carlo_kl, KlMode};
use crate::noise::radial_noise;
use crate::prior::Prior;
use blitz_autograd::{Device, Error, Param, Result, Tape, Tensor, Var};
use blitz_kernels::{ops, Context, UnaryOp};
use rand::Rng;
use std::sync::{Arc, Mutex};

/// ln √(2π).
const LN_SQRT_2PI: f32 = 0.918_938_5;

/// The Gaussian posterior's log-density at the weights `w`:
/// Σᵢ ln N(wᵢ; muᵢ, sigmaᵢ²) with sigma = softplus(rho), that is
/// Σᵢ [−ln sigmaᵢ − zᵢ²/2 − ln √(2π)] with z = (w − mu)/sigma. Shape `[]`,
/// differentiable in all three. When `w` was drawn from (mu, rho) on the
/// same tape, the gradient flows through the draw as well (the pathwise
/// gradient of the Monte Carlo KL's ln q term).
///
/// ```
/// use blitz_autograd::{Tape, Tensor};
/// let tape = Tape::new(0);
/// let mu = tape.constant(Tensor::from_vec(vec![0.0, 1.0], &[2])?);
/// let rho = tape.constant(Tensor::from_vec(vec![0.541_324_9; 2], &[2])?); // softplus(rho) = 1
/// let w = tape.constant(Tensor::from_vec(vec![0.0, 2.0], &[2])?);
/// let lq = blitz_layers::posterior::log_density(&mu, &rho, &w)?.item()?;
/// // ln N(0; 0, 1) + ln N(2; 1, 1) = −2 ln √(2π) − ½
/// assert!((lq - (-2.0 * 0.918_938_5 - 0.5)).abs() < 1e-5);
/// # Ok::<(), blitz_autograd::Error>(())
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] when mu, rho and w differ in shape; device or
/// tape mismatches.
pub fn log_density(mu: &Var, rho: &Var, w: &Var) -> Result<Var> {
    for (other, op) in [(rho, "posterior::log_density (mu, rho)"), (w, "posterior::log_density (mu, w)")] {
        if mu.shape() != other.shape() {
            return Err(Error::ShapeMismatch { op, lhs: mu.shape().to_vec(), rhs: other.shape().to_vec() });
        }
    }
    let n = mu.value().numel() as f32;
    let sigma = rho.softplus()?;
    let z = w.sub(mu)?.div(&sigma)?;
    let quad = z.square()?.sum()?.mul_scalar(-0.5)?;
    quad.sub(&sigma.log()?.sum()?)?.add_scalar(-n * LN_SQRT_2PI)
}

/// A posterior N(mu, softplus(rho)²) over one tensor of weights.
#[derive(Debug, Clone)]
pub(crate) struct GaussianParam {
    pub(crate) mu: Param,
    pub(crate) rho: Param,
    /// sigma = softplus(rho) for predictions, with the (id, generation) of
    /// `rho` it was computed from (shared by clones, which share `rho`).
    sigma: Arc<Mutex<Option<((u64, u64), Tensor)>>>,
}

impl GaussianParam {
    /// `{name}_mu` ~ N(mu_init, 0.1²) and `{name}_rho` ~ N(rho_init, 0.1²).
    pub(crate) fn init(
        name: &str,
        shape: &[usize],
        mu_init: f32,
        rho_init: f32,
        rng: &mut impl Rng,
    ) -> Result<GaussianParam> {
        Ok(GaussianParam {
            mu: Param::new(format!("{name}_mu"), Tensor::randn(shape, mu_init, 0.1, rng)?),
            rho: Param::new(format!("{name}_rho"), Tensor::randn(shape, rho_init, 0.1, rng)?),
            sigma: Arc::default(),
        })
    }

    /// softplus(rho), computed once per change of rho: Monte Carlo
    /// predictions draw many times from an unchanged posterior, and softplus
    /// is ~40% of a draw's cost on the CPU. The cache holds one rho-sized
    /// tensor per posterior while rho is unchanged. The lock is not held
    /// while softplus runs: its threads may pick up another draw of this
    /// layer (`predict_draws`), which would wait on it forever.
    fn predictive_sigma(&self, ctx: &Context) -> Result<Tensor> {
        let key = (self.rho.id(), self.rho.generation()); // before the value: see Param::generation
        let lock = || self.sigma.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, sigma)) = lock().as_ref() {
            if *at == key {
                return Ok(sigma.clone());
            }
        }
        let rho = self.rho.value();
        let sigma = Tensor::from_buffer(ops::unary_in(ctx, UnaryOp::Softplus, rho.buffer())?, rho.shape())?;
        *lock() = Some((key, sigma.clone()));
        Ok(sigma)
    }

    /// Draws w = mu + sigma·eps and, unless frozen, adds its KL term to the
    /// tape (none on a [`Tape::predict`], which wants no complexity cost).
    /// Frozen: the means, no KL.
    pub(crate) fn sample(&self, tape: &Tape, frozen: bool, prior: &dyn Prior, kl: KlMode) -> Result<Var> {
        let mu = tape.param(&self.mu);
        if frozen {
            return Ok(mu);
        }
        let rho = tape.param(&self.rho);
        let (seed, offset) = tape.draw(mu.value().numel());
        if !tape.wants_complexity() {
            // Prediction: the same weights, no KL; on the CPU without
            // recomputing sigma (the GPU's draw is memory-bound: fused there).
            // The cached sigma is a constant: only where no gradient is taken.
            if !tape.is_recording() && mu.device() == Device::Cpu {
                let sigma = tape.constant(self.predictive_sigma(&tape.context())?);
                return mu.reparam_sample_sigma(&sigma, seed, offset);
            }
            return mu.reparam_sample(&rho, seed, offset);
        }
        // Monte Carlo KL with a kernel-known prior: draw and KL in one fused pass.
        if let (KlMode::MonteCarlo, Some(spec)) = (kl, prior.spec()) {
            let (w, term) = mu.sample_with_kl(&rho, seed, offset, spec)?;
            tape.add_complexity(&term)?;
            return Ok(w);
        }
        let w = mu.reparam_sample(&rho, seed, offset)?;
        let term = match (kl, prior.gaussian_sigma()) {
            (KlMode::ClosedForm, Some(s)) => gaussian_kl(&mu, &rho, s)?,
            (KlMode::EmpiricalBayes, _) => empirical_bayes_kl(&mu, &rho)?,
            _ => monte_carlo_kl(&w, &rho, seed, offset, prior)?,
        };
        tape.add_complexity(&term)?;
        Ok(w)
    }

    /// [`GaussianParam::sample`] on the scalar reference path
    /// (`blitz_kernels::reference::reparam`): the same draw name, so the same
    /// weights bit for bit, and the same KL term up to rounding. The Monte
    /// Carlo KL of a kernel-known prior is the reference op; of another prior,
    /// ln q(w) − ln p(w) by [`log_density`] and the prior's tape ops.
    pub(crate) fn sample_reference(&self, tape: &Tape, prior: &dyn Prior, kl: KlMode) -> Result<Var> {
        let (mu, rho) = (tape.param(&self.mu), tape.param(&self.rho));
        let (seed, offset) = tape.draw(mu.value().numel());
        let w = mu.reference_sample(&rho, seed, offset)?;
        if tape.wants_complexity() {
            let term = match (kl, prior.spec(), prior.gaussian_sigma()) {
                (KlMode::MonteCarlo, Some(spec), _) => mu.reference_mc_kl(&rho, seed, offset, spec)?,
                (KlMode::ClosedForm, _, Some(s)) => gaussian_kl(&mu, &rho, s)?,
                (KlMode::EmpiricalBayes, _, _) => empirical_bayes_kl(&mu, &rho)?,
                _ => log_density(&mu, &rho, &w)?.sub(&prior.log_prob(&w)?)?,
            };
            tape.add_complexity(&term)?;
        }
        Ok(w)
    }

    /// Flipout's perturbation ΔW = sigma·eps = w − mu of one reparameterised
    /// draw, with the draw's KL added to the tape; returns (mu, ΔW).
    pub(crate) fn perturbation(&self, tape: &Tape, prior: &dyn Prior, kl: KlMode) -> Result<(Var, Var)> {
        let w = self.sample(tape, false, prior, kl)?;
        let mu = tape.param(&self.mu);
        Ok((mu.clone(), w.sub(&mu)?))
    }

    /// Adds the KL term of a layer that draws no weights (local
    /// reparameterisation): closed form or empirical Bayes when chosen,
    /// otherwise the Monte Carlo term of one weight draw made for it alone.
    /// On a [`Tape::predict`] it adds nothing but still reserves that draw.
    pub(crate) fn add_kl_without_draw(&self, tape: &Tape, prior: &dyn Prior, kl: KlMode) -> Result<()> {
        if !tape.wants_complexity() {
            // Reserve the draw all the same, so later draws keep their names.
            tape.draw(self.mu.value().numel());
            return Ok(());
        }
        self.sample(tape, false, prior, kl).map(|_| ())
    }

    /// (mu, sigma²) as tape values, for local reparameterisation.
    pub(crate) fn mean_and_variance(&self, tape: &Tape) -> Result<(Var, Var)> {
        let sigma = tape.param(&self.rho).softplus()?;
        Ok((tape.param(&self.mu), sigma.square()?))
    }

    /// Radial draw w = mu + sigma·r·eps/‖eps‖ (Farquhar et al. 2020) and
    /// its complexity term as the paper defines it: −Σ ln sigma (the
    /// entropy up to a constant) − ln p(w) (the cross-entropy, one sample).
    pub(crate) fn sample_radial(&self, tape: &Tape, frozen: bool, prior: &dyn Prior) -> Result<Var> {
        let mu = tape.param(&self.mu);
        if frozen {
            return Ok(mu);
        }
        let n = mu.value().numel();
        let (seed, offset) = tape.draw(n + 1);
        let noise = radial_noise(&tape.context(), mu.device(), seed, offset, n)?.reshape(mu.shape())?;
        let sigma = tape.param(&self.rho).softplus()?;
        let w = mu.add(&sigma.mul(&mu.constant_like(noise))?)?;
        if tape.wants_complexity() {
            let term = sigma.log()?.sum()?.neg()?.sub(&prior.log_prob(&w)?)?;
            tape.add_complexity(&term)?;
        }
        Ok(w)
    }

    /// sigma = delta·|mu|, i.e. rho = softplus⁻¹(delta·|mu|) = ln(expm1(delta·|mu|)).
    pub(crate) fn moped(&self, delta: f32) -> Result<()> {
        let mu = self.mu.value();
        let rho: Vec<f32> = mu
            .to_vec()?
            .iter()
            .map(|m| {
                // A zero mean would give sigma 0 (rho = −∞); keep a tiny positive sigma.
                let s = (delta * m.abs()).max(1e-8) as f64;
                s.exp_m1().ln() as f32
            })
            .collect();
        self.rho.set(Tensor::from_vec(rho, mu.shape())?.to(mu.device())?)
    }

    /// The closed-form KL against N(0, s²).
    pub(crate) fn closed_form_kl(&self, tape: &Tape, prior_sigma: f32) -> Result<Var> {
        gaussian_kl(&tape.param(&self.mu), &tape.param(&self.rho), prior_sigma)
    }
}
