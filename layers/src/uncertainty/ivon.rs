//! IVON, the Improved Variational Online Newton optimizer (Shen et al.
//! 2024, "Variational Learning is Effective for Large Deep Networks"):
//! mean-field Gaussian variational learning of a deterministic network at
//! about Adam's cost. The posterior q = N(m, diag(σ²)) has
//! σ² = 1/(λ(h + δ)), λ the effective sample size (`ess`, the training-set
//! size for the standard ELBO), δ the weight decay (prior precision / λ) and
//! h a running estimate of the diagonal Hessian of the mean loss.
//!
//! # One step (the paper's Algorithm 1)
//! 1. Draw ε ~ N(0, σ²) and set the weights to m + ε; the batch's mean loss
//!    gives the gradient g there (averaged over `mc_samples` draws, as is ĥ).
//! 2. Hessian estimate from the same draw (Price's theorem, by the
//!    reparameterisation): ĥ = g·ε/σ² = λ(h + δ)·g·ε; no second pass.
//! 3. Momentum: gₘ ← β₁gₘ + (1 − β₁)g.
//! 4. Hessian: h ← β₂h + (1 − β₂)ĥ + ½(1 − β₂)²(h − ĥ)²/(h + δ) — the last
//!    term keeps h positive whatever the sign of ĥ.
//! 5. Mean: m ← m − α(h₀ + δ)·clip((gₘ/(1 − β₁ᵗ) + δm)/(h + δ)); the factor
//!    h₀ + δ (as in the authors' current code) makes the first step a
//!    plain SGD step of size α, so learning rates carry over.
//!
//! For a quadratic loss the fixed point is the exact mean-field posterior:
//! E_q(g) = ∇ℓ(m) and E(ĥ) = diag ∇²ℓ, so m is the posterior mean and
//! λ(h + δ) the diagonal of the posterior precision.

use crate::classification::{batch_cross_entropy, ClassPrediction, Classifier};
use crate::estimator::draw_seed;
use crate::module::{params, Module};
use crate::train::{run_plain, Pass, PlainRun, StepRule};
use blitz_autograd::{Context, Error, Param, Result, Tensor, Var};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// IVON's settings; [`IvonConfig::default`] holds the authors' defaults
/// where they fit small networks.
#[derive(Debug, Clone, PartialEq)]
pub struct IvonConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// The learning rate α (IVON's are SGD-like: 0.1 is typical).
    pub lr: f32,
    /// λ, the effective sample size; `None`: the number of training examples.
    pub ess: Option<f32>,
    /// h₀, the initial Hessian estimate (sets the initial σ = 1/√(λ(h₀ + δ))).
    pub hess_init: f32,
    /// β₁, the gradient momentum, in [0, 1).
    pub beta1: f32,
    /// β₂, the Hessian's running-average weight, in [0, 1).
    pub beta2: f32,
    /// δ, the weight decay: the prior precision divided by λ (> 0).
    pub weight_decay: f32,
    /// Weight draws per step (the gradients and Hessian estimates are averaged).
    pub mc_samples: usize,
    /// Elementwise clip of the preconditioned step (∞: none).
    pub clip_radius: f32,
    /// Seed of the batch order and of every weight draw.
    pub seed: u64,
    /// Where every step's kernels run (the bits do not depend on it).
    pub context: Context,
}

impl Default for IvonConfig {
    /// 100 epochs of batches of 32, α = 0.1, λ = N, h₀ = 0.1, β₁ = 0.9,
    /// β₂ = 0.99999, δ = 10⁻⁴, one draw, no clipping, seed 0.
    fn default() -> Self {
        IvonConfig {
            epochs: 100,
            batch_size: 32,
            lr: 0.1,
            ess: None,
            hess_init: 0.1,
            beta1: 0.9,
            beta2: 0.99999,
            weight_decay: 1e-4,
            mc_samples: 1,
            clip_radius: f32::INFINITY,
            seed: 0,
            context: Context::default(),
        }
    }
}

impl IvonConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first bad setting.
    pub fn validate(&self) -> Result<()> {
        let positive = |name: &'static str, v: f32| {
            if v > 0.0 && !v.is_nan() {
                Ok(())
            } else {
                Err(Error::invalid(name, format!("{v}: must be positive")))
            }
        };
        if self.epochs == 0 {
            return Err(Error::invalid("epochs", "0: at least one epoch"));
        }
        if self.batch_size == 0 {
            return Err(Error::invalid("batch_size", "0: at least one example per step"));
        }
        if self.mc_samples == 0 {
            return Err(Error::invalid("mc_samples", "0: at least one draw per step"));
        }
        positive("lr", self.lr)?;
        if let Some(e) = self.ess {
            // An infinite sample size makes sigma 0, and the Hessian estimate 0·∞.
            if !e.is_finite() {
                return Err(Error::invalid("ess", format!("{e}: must be finite")));
            }
            positive("ess", e)?;
        }
        positive("hess_init", self.hess_init)?;
        positive("weight_decay", self.weight_decay)?;
        positive("clip_radius", self.clip_radius)?;
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(Error::invalid(name, format!("{b}: must be in [0, 1)")));
            }
        }
        for (name, v) in [("lr", self.lr), ("hess_init", self.hess_init), ("weight_decay", self.weight_decay)] {
            if !v.is_finite() {
                return Err(Error::invalid(name, format!("{v}: must be finite")));
            }
        }
        Ok(())
    }
}

/// A network's IVON posterior and optimizer state, per parameter in
/// [`params`] order.
#[derive(Debug, Clone)]
pub struct Ivon {
    named: Vec<(String, Param)>,
    mean: Vec<Vec<f32>>,
    momentum: Vec<Vec<f32>>,
    hess: Vec<Vec<f32>>,
    ess: f32,
    config: IvonConfig,
    steps: usize,
}

/// IVON's update through the shared loop: step s draws its weights from
/// [`draw_seed`]`(seed, s)`, and names draw d's tape `draw_seed` of that and d.
impl StepRule for Ivon {
    fn step(&mut self, step: usize, pass: &mut dyn FnMut(u64) -> Result<Pass>) -> Result<(f32, f32)> {
        let seed = draw_seed(self.config.seed, step as u64);
        Ok((self.variational_step(seed, pass)?, 0.0))
    }
}

impl Ivon {
    /// The state for `net`'s parameters at their current values, with
    /// λ = `config.ess` or `examples`.
    ///
    /// # Errors
    /// Bad settings; [`Error::Empty`] for a network with no parameters or no examples.
    pub fn new<M: Module>(net: &M, examples: usize, config: &IvonConfig) -> Result<Ivon> {
        config.validate()?;
        if examples == 0 {
            return Err(Error::Empty { op: "Ivon (no examples)" });
        }
        let named = params(net);
        if named.is_empty() {
            return Err(Error::Empty { op: "Ivon (a network with no parameters)" });
        }
        let mean = named.iter().map(|(_, p)| p.value().to_vec()).collect::<Result<Vec<_>>>()?;
        Ok(Ivon {
            momentum: mean.iter().map(|m| vec![0.0; m.len()]).collect(),
            hess: mean.iter().map(|m| vec![config.hess_init; m.len()]).collect(),
            mean,
            named,
            ess: config.ess.unwrap_or(examples as f32),
            config: config.clone(),
            steps: 0,
        })
    }

    /// The posterior standard deviations σ = 1/√(λ(h + δ)), per parameter.
    pub fn posterior_std(&self) -> Vec<Vec<f32>> {
        let d = self.config.weight_decay;
        self.hess.iter().map(|h| h.iter().map(|&h| 1.0 / (self.ess * (h + d)).sqrt()).collect()).collect()
    }

    /// The posterior means m, per parameter.
    pub fn posterior_mean(&self) -> &[Vec<f32>] {
        &self.mean
    }

    /// The running estimates h of the diagonal Hessian, per parameter
    /// (σ² = 1/(λ(h + δ)): with λ = [`Ivon::ess`] and δ the weight decay,
    /// what a saved posterior needs besides the means).
    pub fn hessian(&self) -> &[Vec<f32>] {
        &self.hess
    }

    /// The effective sample size λ.
    pub fn ess(&self) -> f32 {
        self.ess
    }

    /// The settings it runs with.
    pub fn config(&self) -> &IvonConfig {
        &self.config
    }

    /// Steps taken.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Sets the network's weights to m + ε, ε ~ N(0, σ²) named by `seed`; returns ε.
    fn perturb(&self, seed: u64) -> Result<Vec<Vec<f32>>> {
        let mut rng = StdRng::seed_from_u64(seed);
        let std = self.posterior_std();
        let mut noise = Vec::with_capacity(self.mean.len());
        for (((_, p), m), s) in self.named.iter().zip(&self.mean).zip(&std) {
            let e: Vec<f32> = s.iter().map(|&s| s * Distribution::<f32>::sample(&StandardNormal, &mut rng)).collect();
            let w: Vec<f32> = m.iter().zip(&e).map(|(a, b)| a + b).collect();
            p.set(Tensor::from_vec(w, &p.shape())?.to(p.value().device())?)?;
            noise.push(e);
        }
        Ok(noise)
    }

    /// Sets the network's weights to the posterior mean.
    ///
    /// # Errors
    /// Device errors.
    pub fn load_mean(&self) -> Result<()> {
        for ((_, p), m) in self.named.iter().zip(&self.mean) {
            p.set(Tensor::from_vec(m.clone(), &p.shape())?.to(p.value().device())?)?;
        }
        Ok(())
    }

    /// One IVON step on a batch: for each of the `mc_samples` draws, the
    /// network is set to m + ε and `pass(draw seed)` runs the batch on it
    /// forward and backward; returns the batch's mean loss over the draws.
    fn variational_step(&mut self, seed: u64, pass: &mut dyn FnMut(u64) -> Result<Pass>) -> Result<f32> {
        let c = &self.config;
        let s = c.mc_samples as f32;
        let mut g_avg: Vec<Vec<f32>> = self.mean.iter().map(|m| vec![0.0; m.len()]).collect();
        let mut nxg_avg = g_avg.clone();
        let mut total = 0f32;
        for draw in 0..c.mc_samples {
            let draw_s = draw_seed(seed, draw as u64);
            let noise = self.perturb(draw_s)?;
            let Pass { grads, nll, .. } = pass(draw_s)?;
            total += nll / s;
            for (i, (_, p)) in self.named.iter().enumerate() {
                if let Some(g) = grads.get(p) {
                    let g = g.to_vec()?;
                    for (j, &gj) in g.iter().enumerate() {
                        g_avg[i][j] += gj / s;
                        nxg_avg[i][j] += noise[i][j] * gj / s;
                    }
                }
            }
        }
        self.steps += 1;
        let (b1, b2, d) = (c.beta1, c.beta2, c.weight_decay);
        let debias = 1.0 - b1.powi(self.steps as i32);
        let scale = c.lr * (c.hess_init + d);
        for i in 0..self.mean.len() {
            for j in 0..self.mean[i].len() {
                let h = self.hess[i][j];
                let h_hat = self.ess * (h + d) * nxg_avg[i][j];
                let m = b1 * self.momentum[i][j] + (1.0 - b1) * g_avg[i][j];
                self.momentum[i][j] = m;
                let h_new = b2 * h + (1.0 - b2) * h_hat + 0.5 * (1.0 - b2).powi(2) * (h - h_hat).powi(2) / (h + d);
                self.hess[i][j] = h_new;
                let step = ((m / debias + d * self.mean[i][j]) / (h_new + d)).clamp(-c.clip_radius, c.clip_radius);
                self.mean[i][j] -= scale * step;
            }
        }
        self.load_mean()?;
        Ok(total)
    }

    /// Trains `net` by IVON on inputs `x` (`[n, ...]`, as the network takes
    /// them) with `loss(output, batch)`, a batch's mean loss (negative
    /// log-likelihood per example) given the network's output on rows
    /// `batch` of `x`. The network is left at the posterior mean.
    ///
    /// # Errors
    /// Bad settings; [`Error::Empty`] for no examples or parameters;
    /// [`Error::NonFinite`] for a non-finite loss; the loss's and network's errors.
    pub fn fit<M: Module>(
        net: &M,
        x: &Tensor,
        loss: impl Fn(&Var, &[usize]) -> Result<Var>,
        config: &IvonConfig,
    ) -> Result<Ivon> {
        let n = x.shape().first().copied().unwrap_or(0);
        let mut ivon = Ivon::new(net, n, config)?;
        let settings = PlainRun {
            epochs: config.epochs,
            batch_size: config.batch_size,
            lr: config.lr,
            seed: config.seed,
            context: &config.context,
            what: "IVON loss",
        };
        run_plain(net, ivon.named.clone(), x, &loss, settings, &mut ivon, &mut |_| Ok(()))?;
        Ok(ivon)
    }

    /// [`Ivon::fit`] for a classifier: cross-entropy on `x` (original
    /// units, standardised as the classifier does) and `labels`.
    ///
    /// # Errors
    /// As [`Ivon::fit`]; a label ≥ the class count; shape mismatches.
    pub fn fit_classifier<M: Module>(
        c: &Classifier<M>,
        x: &Tensor,
        labels: &[usize],
        config: &IvonConfig,
    ) -> Result<Ivon> {
        let xs = c.scaled_training_inputs(x, labels)?;
        Ivon::fit(&c.net, &xs, batch_cross_entropy(labels), config)
    }

    /// Calls `predict(draw seed)` with the network holding each of `draws`
    /// posterior draws (draw i named by (`seed`, i)), then leaves it at the mean.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `draws == 0`; `predict`'s errors.
    pub fn predict_with<T>(&self, draws: usize, seed: u64, predict: impl FnMut(u64) -> Result<T>) -> Result<Vec<T>> {
        super::over_draws(draws, seed, |s| self.perturb(s).map(drop), || self.load_mean(), predict)
    }

    /// Class probabilities of a classifier (the one [`Ivon::fit_classifier`]
    /// trained) averaged over `draws` posterior draws, with entropy and
    /// mutual information.
    ///
    /// # Errors
    /// As [`Ivon::predict_with`] and [`Classifier::predict`].
    pub fn predict_classifier<M: Module>(
        &self,
        c: &Classifier<M>,
        x: &Tensor,
        draws: usize,
        seed: u64,
    ) -> Result<ClassPrediction> {
        let k = c.classes();
        let all: Vec<Vec<f32>> = self.predict_with(draws, seed, |s| Ok(c.predict(x, 1, s)?.probs))?;
        ClassPrediction::from_draws(k, all)
    }
}
