//! SWAG (Maddox et al. 2019): from a trained network, run SGD at a
//! constant, fairly high learning rate and take a snapshot θᵢ of the
//! weights after each epoch; the iterates wander around the optimum with a
//! spread that reflects the loss's shape. SWAG fits a Gaussian to them:
//! mean θ̄ (stochastic weight averaging), a diagonal Σ_diag = mean(θ²) − θ̄²,
//! and a low-rank part from the last K deviations D = [θᵢ − θ̄ᵢ]
//! (θ̄ᵢ the running mean after snapshot i). A draw is
//! θ̃ = θ̄ + (1/√2)·Σ_diag^{1/2} z₁ + (1/√(2(K − 1)))·D z₂, z₁ ~ N(0, I),
//! z₂ ~ N(0, I_K), i.e. covariance ½Σ_diag + DDᵀ/(2(K − 1)); prediction
//! averages the network over draws.
//!
//! SWAG works on any [`Module`] (every parameter is included) and any loss;
//! [`Swag::collect_classifier`] and [`Swag::predict_classifier`] wire it to
//! a [`Classifier`].

use crate::classification::{batch_cross_entropy, ClassPrediction, Classifier};
use crate::estimator::draw_seed;
use crate::module::{params, Module};
use crate::train::{run_plain, Pass, PlainRun, StepRule};
use blitz_autograd::optim::{Optimizer, Sgd};
use blitz_autograd::{Context, Error, Param, Result, Tensor, Var};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use std::collections::VecDeque;

/// How SWAG collects its iterates.
#[derive(Debug, Clone, PartialEq)]
pub struct SwagConfig {
    /// SGD epochs; one snapshot at the end of each (at least 2).
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// The constant SGD learning rate.
    pub lr: f32,
    /// SGD momentum in [0, 1).
    pub momentum: f32,
    /// L2 weight decay ≥ 0 (the prior's role in SWAG's SGD).
    pub weight_decay: f32,
    /// K: deviation columns kept for the low-rank part (0: diagonal only, "SWAG-diag").
    pub rank: usize,
    /// Seed of the batch order and of each step's tape.
    pub seed: u64,
    /// Where every step's kernels run (the bits do not depend on it).
    pub context: Context,
}

impl Default for SwagConfig {
    /// 20 epochs of batches of 32, SGD 0.01 with momentum 0.9, rank 20
    /// (Maddox et al.'s K), seed 0.
    fn default() -> Self {
        SwagConfig {
            epochs: 20,
            batch_size: 32,
            lr: 1e-2,
            momentum: 0.9,
            weight_decay: 0.0,
            rank: 20,
            seed: 0,
            context: Context::default(),
        }
    }
}

impl SwagConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first bad setting.
    pub fn validate(&self) -> Result<()> {
        if self.epochs < 2 {
            return Err(Error::invalid("swag epochs", format!("{}: at least 2 snapshots for a spread", self.epochs)));
        }
        if self.batch_size == 0 {
            return Err(Error::invalid("batch_size", "0: at least one example per step"));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(Error::invalid("swag lr", format!("{}: must be positive and finite", self.lr)));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(Error::invalid("momentum", format!("{}: must be in [0, 1)", self.momentum)));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return Err(Error::invalid("weight_decay", format!("{}: must be ≥ 0 and finite", self.weight_decay)));
        }
        if self.rank == 1 {
            return Err(Error::invalid(
                "swag rank",
                "1: the low-rank part needs at least 2 columns (0: SWAG-diagonal)",
            ));
        }
        Ok(())
    }
}

/// The SWAG posterior over a network's parameters (flattened in
/// [`params`] order).
#[derive(Debug, Clone)]
pub struct Swag {
    names: Vec<String>,
    shapes: Vec<Vec<usize>>,
    mean: Vec<f64>,
    sq_mean: Vec<f64>,
    deviations: VecDeque<Vec<f64>>,
    rank: usize,
    snapshots: usize,
}

fn flat(named: &[(String, Param)]) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for (_, p) in named {
        out.extend(p.value().to_vec()?.iter().map(|&v| v as f64));
    }
    Ok(out)
}

/// SWAG's SGD: constant rate and momentum; step s on the tape
/// [`draw_seed`]`(seed, s)`.
struct SgdSteps {
    opt: Sgd,
    seed: u64,
}

impl StepRule for SgdSteps {
    fn step(&mut self, step: usize, pass: &mut dyn FnMut(u64) -> Result<Pass>) -> Result<(f32, f32)> {
        let p = pass(draw_seed(self.seed, step as u64))?;
        self.opt.step(&p.grads)?;
        Ok((p.nll, p.kl))
    }
}

impl Swag {
    /// An empty posterior for `net`'s parameters that keeps `rank` deviation columns.
    fn empty(named: &[(String, Param)], rank: usize) -> Swag {
        let size: usize = named.iter().map(|(_, p)| p.shape().iter().product::<usize>()).sum();
        Swag {
            names: named.iter().map(|(n, _)| n.clone()).collect(),
            shapes: named.iter().map(|(_, p)| p.shape()).collect(),
            mean: vec![0.0; size],
            sq_mean: vec![0.0; size],
            deviations: VecDeque::new(),
            rank,
            snapshots: 0,
        }
    }

    /// The posterior of these moments (as [`Swag::mean`],
    /// [`Swag::diag_variance`] and [`Swag::deviations`] give them) over
    /// parameters of these names and shapes, from `snapshots` iterates.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when a length does not match the shapes,
    /// a value is not finite, a variance is negative, or there are more
    /// deviation columns than snapshots.
    pub fn from_moments(
        shapes: &[(String, Vec<usize>)],
        mean: &[f32],
        diag_variance: &[f32],
        deviations: &[Vec<f32>],
        snapshots: usize,
    ) -> Result<Swag> {
        let mut size = 0usize;
        for (n, s) in shapes {
            let numel = s.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            size = numel
                .and_then(|k| size.checked_add(k))
                .ok_or_else(|| Error::invalid("swag shapes", format!("{n}: {s:?} overflows")))?;
        }
        if mean.len() != size || diag_variance.len() != size || deviations.iter().any(|d| d.len() != size) {
            return Err(Error::invalid("swag moments", format!("lengths do not match the {size} parameters")));
        }
        if deviations.len() > snapshots || snapshots == 0 {
            return Err(Error::invalid(
                "swag moments",
                format!("{} deviation columns from {snapshots} snapshots", deviations.len()),
            ));
        }
        let all = mean.iter().chain(diag_variance).chain(deviations.iter().flatten());
        if let Some(v) = all.clone().find(|v| !v.is_finite()) {
            return Err(Error::invalid("swag moments", format!("{v} is not finite")));
        }
        if let Some(v) = diag_variance.iter().find(|&&v| v < 0.0) {
            return Err(Error::invalid("swag moments", format!("variance {v} is negative")));
        }
        Ok(Swag {
            names: shapes.iter().map(|(n, _)| n.clone()).collect(),
            shapes: shapes.iter().map(|(_, s)| s.clone()).collect(),
            mean: mean.iter().map(|&m| m as f64).collect(),
            sq_mean: mean.iter().zip(diag_variance).map(|(&m, &v)| v as f64 + (m as f64) * (m as f64)).collect(),
            deviations: deviations.iter().map(|d| d.iter().map(|&v| v as f64).collect()).collect(),
            rank: deviations.len(),
            snapshots,
        })
    }

    /// Adds one snapshot θ to the running moments and deviations.
    fn add(&mut self, theta: &[f64]) {
        let n = self.snapshots as f64;
        for ((m, s), &t) in self.mean.iter_mut().zip(&mut self.sq_mean).zip(theta) {
            *m = (n * *m + t) / (n + 1.0);
            *s = (n * *s + t * t) / (n + 1.0);
        }
        self.snapshots += 1;
        if self.rank > 0 {
            if self.deviations.len() == self.rank {
                self.deviations.pop_front();
            }
            self.deviations.push_back(theta.iter().zip(&self.mean).map(|(t, m)| t - m).collect());
        }
    }

    /// Runs SGD on `net` from its current (trained) weights and collects
    /// the posterior. `x` holds the inputs `[n, ...]` as the network takes
    /// them; `loss(output, batch)` is a batch's mean loss given the
    /// network's output on rows `batch` of `x`. The network is left at the
    /// last iterate.
    ///
    /// # Errors
    /// Bad settings ([`SwagConfig::validate`]); [`Error::Empty`] for no
    /// examples or no parameters; [`Error::NonFinite`] for a non-finite loss;
    /// the loss's and network's errors.
    pub fn collect<M: Module>(
        net: &M,
        x: &Tensor,
        loss: impl Fn(&Var, &[usize]) -> Result<Var>,
        config: &SwagConfig,
    ) -> Result<Swag> {
        config.validate()?;
        let n = x.shape().first().copied().unwrap_or(0);
        if n == 0 {
            return Err(Error::Empty { op: "Swag::collect (no examples)" });
        }
        let named = params(net);
        if named.is_empty() {
            return Err(Error::Empty { op: "Swag::collect (a network with no parameters)" });
        }
        let mut swag = Swag::empty(&named, config.rank);
        let mut sgd =
            SgdSteps { opt: Sgd::with_momentum(config.lr, config.momentum, config.weight_decay)?, seed: config.seed };
        let settings = PlainRun {
            epochs: config.epochs,
            batch_size: config.batch_size,
            lr: config.lr,
            seed: config.seed,
            context: &config.context,
            what: "SWAG loss",
        };
        run_plain(net, named.clone(), x, &loss, settings, &mut sgd, &mut |_| {
            swag.add(&flat(&named)?);
            Ok(())
        })?;
        Ok(swag)
    }

    /// [`Swag::collect`] for a trained classifier: cross-entropy on `x`
    /// (original units, standardised as the classifier does) and `labels`.
    ///
    /// # Errors
    /// As [`Swag::collect`]; a label ≥ the class count; shape mismatches.
    pub fn collect_classifier<M: Module>(
        c: &Classifier<M>,
        x: &Tensor,
        labels: &[usize],
        config: &SwagConfig,
    ) -> Result<Swag> {
        let xs = c.scaled_training_inputs(x, labels)?;
        Swag::collect(&c.net, &xs, batch_cross_entropy(labels), config)
    }

    /// Snapshots collected.
    pub fn snapshots(&self) -> usize {
        self.snapshots
    }

    /// Deviation columns held (≤ the configured rank).
    pub fn rank(&self) -> usize {
        self.deviations.len()
    }

    /// θ̄, the SWA weights, flattened in [`params`] order.
    pub fn mean(&self) -> Vec<f32> {
        self.mean.iter().map(|&v| v as f32).collect()
    }

    /// Σ_diag = mean(θ²) − θ̄² (clamped at 0), flattened.
    pub fn diag_variance(&self) -> Vec<f32> {
        self.mean.iter().zip(&self.sq_mean).map(|(m, s)| (s - m * m).max(0.0) as f32).collect()
    }

    /// The deviation columns θᵢ − θ̄ᵢ, oldest first.
    pub fn deviations(&self) -> Vec<Vec<f32>> {
        self.deviations.iter().map(|d| d.iter().map(|&v| v as f32).collect()).collect()
    }

    /// One draw of the weights, flattened, named by `seed`: with K ≥ 2
    /// deviation columns, full SWAG's θ̄ + Σ_diag^½·z₁/√2 + D·z₂/√(2(K−1))
    /// (covariance ½(Σ_diag + DDᵀ/(K−1))); with fewer, SWAG-diagonal's
    /// θ̄ + Σ_diag^½·z (covariance Σ_diag), as Maddox et al. define them.
    pub fn sample(&self, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        let k = self.deviations.len();
        let diag_scale = if k >= 2 { std::f64::consts::FRAC_1_SQRT_2 } else { 1.0 };
        let mut theta: Vec<f64> = self
            .mean
            .iter()
            .zip(&self.sq_mean)
            .map(|(m, s)| {
                let z: f64 = StandardNormal.sample(&mut rng);
                m + diag_scale * (s - m * m).max(0.0).sqrt() * z
            })
            .collect();
        if k >= 2 {
            let c = 1.0 / (2.0 * (k as f64 - 1.0)).sqrt();
            for d in &self.deviations {
                let z: f64 = StandardNormal.sample(&mut rng);
                for (t, v) in theta.iter_mut().zip(d) {
                    *t += c * v * z;
                }
            }
        }
        theta.into_iter().map(|v| v as f32).collect()
    }

    /// Writes flattened weights into `net`'s parameters.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `net`'s parameters are not those the
    /// posterior was collected on (names or shapes).
    pub fn load<M: Module>(&self, net: &M, flat: &[f32]) -> Result<()> {
        let named = params(net);
        let same = named.len() == self.names.len()
            && named.iter().zip(&self.names).zip(&self.shapes).all(|(((n, p), m), s)| n == m && p.shape() == *s);
        if !same || flat.len() != self.mean.len() {
            return Err(Error::invalid("network", "its parameters are not those SWAG was collected on"));
        }
        let mut at = 0;
        for (_, p) in &named {
            let size: usize = p.shape().iter().product();
            let device = p.value().device();
            p.set(Tensor::from_vec(flat[at..at + size].to_vec(), &p.shape())?.to(device)?)?;
            at += size;
        }
        Ok(())
    }

    /// Calls `predict(draw seed)` with `net` holding each of `draws` weight
    /// draws (draw i named by (`seed`, i)), then leaves `net` at θ̄.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `draws == 0`; as [`Swag::load`]; `predict`'s errors.
    pub fn predict_with<M: Module, T>(
        &self,
        net: &M,
        draws: usize,
        seed: u64,
        predict: impl FnMut(u64) -> Result<T>,
    ) -> Result<Vec<T>> {
        super::over_draws(draws, seed, |s| self.load(net, &self.sample(s)), || self.load(net, &self.mean()), predict)
    }

    /// Class probabilities of a classifier averaged over `draws` SWAG draws
    /// (one pass of the classifier each), with entropy and mutual
    /// information; the classifier is left at θ̄.
    ///
    /// # Errors
    /// As [`Swag::predict_with`] and [`Classifier::predict`].
    pub fn predict_classifier<M: Module>(
        &self,
        c: &Classifier<M>,
        x: &Tensor,
        draws: usize,
        seed: u64,
    ) -> Result<ClassPrediction> {
        let k = c.classes();
        let all: Vec<Vec<f32>> = self.predict_with(&c.net, draws, seed, |s| Ok(c.predict(x, 1, s)?.probs))?;
        ClassPrediction::from_draws(k, all)
    }
}
