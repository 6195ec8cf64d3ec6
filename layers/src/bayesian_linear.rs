//! `BayesianLinear`: a fully connected layer whose weights are Gaussians,
//! trained by Bayes by Backprop (Blundell et al. 2015) with BLiTZ's options.

use crate::gradient_estimator::{AffineLayer, Estimator, FeatureAxis};
use crate::kl::KlMode;
use crate::linear::check_features;
use crate::module::{join_name, BayesianModule, Module};
use crate::options::posterior_options;
use crate::posterior::GaussianParam;
use crate::prior::Prior;
use blitz_autograd::{Error, Param, Result, Tape, Var};
use rand::Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Constructor options with BLiTZ's names and defaults.
#[derive(Clone)]
pub struct BayesianLinearOptions {
    /// Whether the layer has a bias (false: no bias parameters at all).
    pub bias: bool,
    /// Scale of the mixture's first component (default 0.1).
    pub prior_sigma_1: f32,
    /// Scale of the mixture's second component (default 0.4).
    pub prior_sigma_2: f32,
    /// Weight of the first component, in [0, 1] (default 1: a plain Gaussian).
    pub prior_pi: f32,
    /// Mean of the initial posterior means (default 0).
    pub posterior_mu_init: f32,
    /// Mean of the initial rho, sigma = softplus(rho) (default −7).
    pub posterior_rho_init: f32,
    /// Start frozen: predict with the means (default false).
    pub freeze: bool,
    /// A custom prior; when set, the three `prior_*` numbers are ignored.
    pub prior: Option<Arc<dyn Prior>>,
    /// How the KL is estimated (default Monte Carlo, as BLiTZ).
    pub kl: KlMode,
    /// How the output is sampled (default reparameterisation, as BLiTZ).
    pub estimator: Estimator,
}

impl Default for BayesianLinearOptions {
    fn default() -> Self {
        BayesianLinearOptions {
            bias: true,
            prior_sigma_1: 0.1,
            prior_sigma_2: 0.4,
            prior_pi: 1.0,
            posterior_mu_init: 0.0,
            posterior_rho_init: -7.0,
            freeze: false,
            prior: None,
            kl: KlMode::MonteCarlo,
            estimator: Estimator::Reparameterisation,
        }
    }
}

posterior_options!(BayesianLinearOptions, bias: bias);

/// A linear layer with Gaussian weights: each forward draws
/// w = mu + softplus(rho)·eps (fused) and adds its KL term to the tape.
pub struct BayesianLinear {
    in_features: usize,
    out_features: usize,
    weight: GaussianParam,
    bias: Option<GaussianParam>,
    prior: Arc<dyn Prior>,
    kl: KlMode,
    estimator: Estimator,
    frozen: AtomicBool,
}

impl std::fmt::Debug for BayesianLinear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BayesianLinear({} -> {}, bias: {}, prior: {}, kl: {:?})",
            self.in_features,
            self.out_features,
            self.bias.is_some(),
            self.prior.describe(),
            self.kl
        )
    }
}

impl BayesianLinear {
    /// A layer with BLiTZ's defaults.
    ///
    /// # Errors
    /// As [`BayesianLinear::with_options`].
    pub fn new(in_features: usize, out_features: usize, rng: &mut impl Rng) -> Result<BayesianLinear> {
        Self::with_options(in_features, out_features, BayesianLinearOptions::default(), rng)
    }

    /// A layer with the given options; mu ~ N(mu_init, 0.1), rho ~ N(rho_init, 0.1).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero size, a bad prior (sigma ≤ 0, pi
    /// outside [0, 1]), non-finite inits, or closed-form KL with a
    /// non-Gaussian prior; [`Error::ShapeOverflow`] or [`Error::TooLarge`]
    /// for sizes whose parameters cannot be held ([`blitz_kernels::limits`]).
    pub fn with_options(
        in_features: usize,
        out_features: usize,
        options: BayesianLinearOptions,
        rng: &mut impl Rng,
    ) -> Result<BayesianLinear> {
        if in_features == 0 || out_features == 0 {
            return Err(Error::invalid("features", format!("{in_features} -> {out_features}: sizes must be > 0")));
        }
        let sizes = || format!("{in_features} -> {out_features}");
        crate::linear::check_params("BayesianLinear", sizes, &[&[out_features, in_features], &[out_features]], 2)?;
        for (name, v) in
            [("posterior_mu_init", options.posterior_mu_init), ("posterior_rho_init", options.posterior_rho_init)]
        {
            if !v.is_finite() {
                return Err(Error::invalid(name, format!("{v}: must be finite")));
            }
        }
        let prior = options.resolve_prior()?;
        let (m, r) = (options.posterior_mu_init, options.posterior_rho_init);
        let weight = GaussianParam::init("weight", &[out_features, in_features], m, r, rng)?;
        let bias = if options.bias { Some(GaussianParam::init("bias", &[out_features], m, r, rng)?) } else { None };
        Ok(BayesianLinear {
            in_features,
            out_features,
            weight,
            bias,
            prior,
            kl: options.kl,
            estimator: options.estimator,
            frozen: AtomicBool::new(options.freeze),
        })
    }

    /// (weight_mu, weight_rho), shape (out, in).
    pub fn weight(&self) -> (&Param, &Param) {
        (&self.weight.mu, &self.weight.rho)
    }

    /// (bias_mu, bias_rho), shape (out), if the layer has a bias.
    pub fn bias(&self) -> Option<(&Param, &Param)> {
        self.bias.as_ref().map(|b| (&b.mu, &b.rho))
    }

    /// The prior.
    pub fn prior(&self) -> &dyn Prior {
        &*self.prior
    }

    /// The forward pass on the scalar reference path: the weights are drawn
    /// and the KL computed one weight at a time by
    /// `blitz_kernels::reference::reparam` (through
    /// [`Var::reference_sample`] and [`Var::reference_mc_kl`]) instead of the
    /// fused kernels. Same tape, same draw names: the same output bit for bit
    /// as [`Module::forward`] on the CPU, the same KL and gradients up to
    /// rounding. For reading and testing (it runs on the host), with the
    /// default estimator, reparameterisation; frozen, the means as usual.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for an input whose last axis is not
    /// `in_features`; [`Error::InvalidArgument`] when the layer's estimator
    /// is not [`Estimator::Reparameterisation`].
    pub fn forward_reference(&self, x: &Var) -> Result<Var> {
        check_features("BayesianLinear", x, self.in_features)?;
        if self.is_frozen() {
            return self.forward(x);
        }
        if self.estimator != Estimator::Reparameterisation {
            let why = format!("{:?}: the reference path draws weights (Estimator::Reparameterisation)", self.estimator);
            return Err(Error::invalid("estimator", why));
        }
        let (tape, prior) = (x.tape(), &*self.prior);
        let w = self.weight.sample_reference(tape, prior, self.kl)?;
        let b = self.bias.as_ref().map(|b| b.sample_reference(tape, prior, self.kl)).transpose()?;
        x.linear(&w, b.as_ref())
    }

    fn parts(&self) -> impl Iterator<Item = &GaussianParam> {
        std::iter::once(&self.weight).chain(self.bias.as_ref())
    }
}

impl Module for BayesianLinear {
    fn forward(&self, x: &Var) -> Result<Var> {
        check_features("BayesianLinear", x, self.in_features)?;
        let layer = AffineLayer {
            weight: &self.weight,
            bias: self.bias.as_ref(),
            prior: &*self.prior,
            kl: self.kl,
            estimator: self.estimator,
            frozen: self.is_frozen(),
            axis: FeatureAxis::Last,
        };
        layer.forward(x, |x, w, b| x.linear(w, b))
    }

    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        for part in self.parts() {
            f(&join_name(prefix, part.mu.name()), &part.mu);
            f(&join_name(prefix, part.rho.name()), &part.rho);
        }
    }

    fn visit_bayesian(&self, f: &mut dyn FnMut(&dyn BayesianModule)) {
        f(self);
    }
}

impl BayesianModule for BayesianLinear {
    fn set_frozen(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::Relaxed);
    }

    fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::Relaxed)
    }

    fn moped(&self, delta: f32) -> Result<()> {
        if !(delta > 0.0 && delta.is_finite()) {
            return Err(Error::invalid("delta", format!("{delta}: must be positive and finite")));
        }
        self.parts().try_for_each(|p| p.moped(delta))
    }

    fn kl(&self, tape: &Tape) -> Result<Option<Var>> {
        let Some(s) = self.prior.gaussian_sigma() else { return Ok(None) };
        let mut total: Option<Var> = None;
        for p in self.parts() {
            let term = p.closed_form_kl(tape, s)?;
            total = Some(match total {
                None => term,
                Some(t) => t.add(&term)?,
            });
        }
        Ok(total)
    }
}
