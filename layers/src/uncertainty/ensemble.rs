//! Deep ensembles (Lakshminarayanan et al. 2017): M copies of a network,
//! each from its own random initialisation and batch order, trained
//! independently — here side by side on rayon's threads — and averaged at
//! prediction. For regression each member predicts a mean and a variance
//! and is trained by the Gaussian negative log-likelihood
//! ([`GaussianRegressor`]); the ensemble's prediction is the equal-weight
//! mixture of the members' Gaussians (for classification, of their class
//! probabilities), whose spread between members is the epistemic part.
//!
//! # Seeds
//! Member i is built by `build(member_seed(seed, i))` and trained with
//! [`TrainConfig::seed`] replaced by `member_seed(config.seed, i)`; at
//! prediction its draws (if it has any randomness) are named by
//! `member_seed(seed, i)`. Each member's run depends on nothing but its own
//! seeds and CPU kernels that are bitwise repeatable whatever the thread
//! count, so the ensemble ends with the same bits on one thread or many.

use crate::checkpoint::Checkpoint;
use crate::classification::{ClassPrediction, ClassificationMetrics, Classifier};
use crate::data::{take_rows, Standardizer};
use crate::estimator::{draw_seed, VariationalEstimator};
use crate::metrics::{gaussian_mixture_log_likelihood_hetero, interval_coverage, rmse};
use crate::module::{params, to_device, Module};
use crate::regression::{RegressionMetrics, RegressionPrediction};
use crate::sequential::Sequential;
use crate::train::{
    draws_in_chunks, example_count, fit_adam, host_scaled, Job, Progress, StepLoss, TrainConfig, TrainSummary,
};
use blitz_autograd::{loss, Context, Device, Error, Result, Tensor, Var};
use rayon::prelude::*;

/// The smallest predicted variance (training units), so that a member
/// cannot buy likelihood by collapsing its variance onto a training point.
const MIN_VARIANCE: f32 = 1e-6;

/// Rows per forward pass when predicting.
const PREDICT_ROWS: usize = 4096;

/// The seed of member `member` derived from an ensemble-wide `seed`.
pub fn member_seed(seed: u64, member: usize) -> u64 {
    draw_seed(seed ^ 0x00E5_E3B1_E000_0000, member as u64)
}

/// A regression network that predicts a mean and a variance per output:
/// its outputs `[n, 2k]` are k means then k raw variances, mapped to
/// softplus(raw) + 10⁻⁶; trained by the Gaussian negative log-likelihood.
pub struct GaussianRegressor<M: Module = Sequential> {
    /// The network: inputs `[n, ...]` to `[n, 2k]` (means, raw variances),
    /// in standardised units when the statistics are set.
    pub net: M,
    outputs: usize,
    /// Statistics that standardise the inputs (features flattened per example).
    pub x_scale: Option<Standardizer>,
    /// Statistics that standardise the targets.
    pub y_scale: Option<Standardizer>,
    /// The kernel variants and threads its predictions run on (by default
    /// [`Context::default`]); training runs on [`TrainConfig::context`](crate::TrainConfig).
    pub context: Context,
}

impl<M: Module> std::fmt::Debug for GaussianRegressor<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GaussianRegressor({} outputs, {} parameters)", self.outputs, params(&self.net).len())
    }
}

impl<M: Module> GaussianRegressor<M> {
    /// `net` (outputs `[n, 2·outputs]`) predicting `outputs` values per example.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `outputs == 0`.
    pub fn new(net: M, outputs: usize) -> Result<GaussianRegressor<M>> {
        if outputs == 0 {
            return Err(Error::invalid("outputs", "0: at least one output"));
        }
        Ok(GaussianRegressor { net, outputs, x_scale: None, y_scale: None, context: Context::default() })
    }

    /// This regressor with its predictions on the kernel variants and threads of
    /// `ctx` (the same bits on any thread count).
    pub fn with_context(mut self, ctx: Context) -> Self {
        self.context = ctx;
        self
    }

    /// Fits the standardisation statistics on training inputs and targets
    /// (`[n, k]`); every later call standardises with them.
    ///
    /// # Errors
    /// Shape errors; [`Error::Empty`] for no rows.
    pub fn standardized_on(mut self, x: &Tensor, y: &Tensor) -> Result<GaussianRegressor<M>> {
        let n = self.check_xy(x, y)?;
        self.x_scale = Some(Standardizer::fit_rows(&x.to_vec()?, x.numel() / n)?);
        self.y_scale = Some(Standardizer::fit_rows(&y.to_vec()?, self.outputs)?);
        Ok(self)
    }

    /// The number of outputs k (the network has 2k).
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// The per-example Gaussian negative log-likelihood of `y` (`[rows, k]`,
    /// training units) under the network's output `out` (`[rows, 2k]`):
    /// summed over outputs, averaged over rows.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless `out` is `[rows, 2k]` for `y`'s rows.
    pub fn nll(&self, out: &Var, y: &Var) -> Result<Var> {
        let k = self.outputs;
        let rows = y.shape().first().copied().unwrap_or(0);
        if out.shape() != [rows, 2 * k] {
            return Err(Error::ShapeMismatch {
                op: "GaussianRegressor (network output vs [rows, 2·outputs])",
                lhs: out.shape().to_vec(),
                rhs: vec![rows, 2 * k],
            });
        }
        let mean = out.slice(1, 0, k)?;
        let log_var = out.slice(1, k, k)?.softplus()?.add_scalar(MIN_VARIANCE)?.log()?;
        loss::gaussian_nll(&mean, &log_var, y)?.mul_scalar(k as f32)
    }

    /// Trains on inputs `x` (`[n, ...]`) and targets `y` (`[n, k]`), in
    /// original units, by the shared loop ([`TrainConfig`]; a Bayesian
    /// network also gets its KL term).
    ///
    /// # Errors
    /// Bad settings; shapes that do not fit; [`Error::NonFinite`] for a NaN
    /// in the data or the loss; checkpoint I/O.
    pub fn fit(
        &self,
        x: &Tensor,
        y: &Tensor,
        config: &TrainConfig,
        mut progress: impl FnMut(&Progress),
    ) -> Result<TrainSummary> {
        self.check_xy(x, y)?;
        let (xs, ys) =
            crate::train::training_data(x, self.x_scale.as_ref(), y, self.y_scale.as_ref(), &config.context)?;
        to_device(&self.net, config.device)?;
        let loss = |xv: &Var, batch: &[usize], kl_weight: f32| {
            let yb = xv.tape().constant(take_rows(&ys, batch)?.to(config.device)?);
            self.net
                .sample_elbo_detailed(xv, &yb, |p, y| self.nll(p, y), config.sample_nbr, kl_weight)
                .map(StepLoss::from)
        };
        let snapshot = || self.checkpoint();
        let job = Job { named: params(&self.net), x: &xs, loss: &loss, snapshot: &snapshot };
        fit_adam(job, config, None, &mut progress)
    }

    /// Each draw's predicted means and standard deviations in the targets'
    /// units, `[n, k]` row-major per draw (one draw suffices for a
    /// deterministic network).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `draws == 0`; shape errors.
    pub fn predict_moments(&self, x: &Tensor, draws: usize, seed: u64) -> Result<(Vec<Vec<f32>>, Vec<Vec<f32>>)> {
        let n = example_count("GaussianRegressor (inputs vs the training inputs' features)", x, self.x_scale.as_ref())?;
        let k = self.outputs;
        let xs = host_scaled(x, self.x_scale.as_ref())?;
        let device = params(&self.net).first().map_or(Device::Cpu, |(_, p)| p.value().device());
        let op = "GaussianRegressor::predict (network output vs [rows, 2·outputs])";
        let outs = draws_in_chunks(&self.context, op, &self.net, &xs, draws, seed, 2 * k, PREDICT_ROWS, device, |t| {
            Ok(t.clone())
        })?;
        let scale = |o: usize| self.y_scale.as_ref().map_or(1.0, |s| s.std[o]);
        let (mut means, mut stds) = (Vec::with_capacity(draws), Vec::with_capacity(draws));
        for out in outs {
            let mut m = Vec::with_capacity(n * k);
            let mut s = Vec::with_capacity(n * k);
            for row in out.chunks(2 * k) {
                m.extend_from_slice(&row[..k]);
                s.extend(row[k..].iter().enumerate().map(|(o, &r)| {
                    let var = softplus(r) + MIN_VARIANCE as f64;
                    (var.sqrt() * scale(o) as f64) as f32
                }));
            }
            if let Some(sc) = &self.y_scale {
                sc.unapply(&mut m)?;
            }
            means.push(m);
            stds.push(s);
        }
        Ok((means, stds))
    }

    /// The predictive distribution (the mixture over draws) of inputs `x`.
    ///
    /// # Errors
    /// As [`GaussianRegressor::predict_moments`].
    pub fn predict(&self, x: &Tensor, draws: usize, seed: u64) -> Result<RegressionPrediction> {
        let (m, s) = self.predict_moments(x, draws, seed)?;
        Ok(mixture_prediction(self.outputs, m, &s))
    }

    /// The parameters and statistics as a checkpoint (metadata `task = gaussian_regression`).
    ///
    /// # Errors
    /// Device errors reading the parameters.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        let mut ck = Checkpoint::from_params(&params(&self.net))?;
        ck.set_metadata("task", "gaussian_regression");
        ck.set_metadata("outputs", self.outputs.to_string());
        for (s, key) in [(&self.x_scale, "x_scale"), (&self.y_scale, "y_scale")] {
            if let Some(s) = s {
                s.to_metadata(&mut ck, key);
            }
        }
        Ok(ck)
    }

    fn check_xy(&self, x: &Tensor, y: &Tensor) -> Result<usize> {
        let n = example_count("GaussianRegressor (inputs vs the training inputs' features)", x, self.x_scale.as_ref())?;
        if y.shape() != [n, self.outputs] {
            return Err(Error::ShapeMismatch {
                op: "GaussianRegressor (targets must be [rows, outputs])",
                lhs: y.shape().to_vec(),
                rhs: vec![n, self.outputs],
            });
        }
        Ok(n)
    }
}

fn softplus(r: f32) -> f64 {
    let r = r as f64;
    if r > 30.0 {
        r
    } else {
        r.exp().ln_1p()
    }
}

/// The equal-weight mixture of Gaussians N(meansₛ, stdsₛ²): its mean,
/// total spread, and the split into the spread of the means (epistemic)
/// and the mean variance (aleatoric).
pub(crate) fn mixture_prediction(k: usize, means: Vec<Vec<f32>>, stds: &[Vec<f32>]) -> RegressionPrediction {
    let len = means[0].len();
    let s = means.len() as f64;
    let mut p = RegressionPrediction {
        outputs: k,
        mean: vec![0.0; len],
        std: vec![0.0; len],
        epistemic_std: vec![0.0; len],
        aleatoric_std: vec![0.0; len],
        lower_2sd: vec![0.0; len],
        upper_2sd: vec![0.0; len],
        draws: Vec::new(),
    };
    for j in 0..len {
        let mu = means.iter().map(|d| d[j] as f64).sum::<f64>() / s;
        let epi = means.iter().map(|d| (d[j] as f64 - mu).powi(2)).sum::<f64>() / s;
        let ale = stds.iter().map(|d| (d[j] as f64).powi(2)).sum::<f64>() / s;
        let total = (epi + ale).sqrt();
        p.mean[j] = mu as f32;
        p.std[j] = total as f32;
        p.epistemic_std[j] = epi.sqrt() as f32;
        p.aleatoric_std[j] = ale.sqrt() as f32;
        p.lower_2sd[j] = (mu - 2.0 * total) as f32;
        p.upper_2sd[j] = (mu + 2.0 * total) as f32;
    }
    p.draws = means;
    p
}

/// M trained networks whose prediction is the mixture of theirs.
#[derive(Debug)]
pub struct DeepEnsemble<T> {
    members: Vec<T>,
}

impl<T> DeepEnsemble<T> {
    /// An ensemble of already built (or trained) members.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for no members (M = 0).
    pub fn new(members: Vec<T>) -> Result<DeepEnsemble<T>> {
        if members.is_empty() {
            return Err(Error::invalid("ensemble members", "0: at least one member (M ≥ 1)"));
        }
        Ok(DeepEnsemble { members })
    }

    /// The members, in seed order.
    pub fn members(&self) -> &[T] {
        &self.members
    }

    /// The members, to change in place (their statistics, say).
    pub fn members_mut(&mut self) -> &mut [T] {
        &mut self.members
    }

    /// The members, taken out.
    pub fn into_members(self) -> Vec<T> {
        self.members
    }

    /// The number of members M.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no members (never, for an ensemble built by [`DeepEnsemble::new`]).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// Builds `members` networks from their seeds.
fn build_all<N>(members: usize, seed: u64, build: impl Fn(u64) -> Result<N>) -> Result<Vec<N>> {
    if members == 0 {
        return Err(Error::invalid("ensemble members", "0: at least one member (M ≥ 1)"));
    }
    (0..members).map(|i| build(member_seed(seed, i))).collect()
}

/// Trains every member on rayon's threads, member i with its own seed.
fn fit_all<T: Sync>(
    members: &[T],
    config: &TrainConfig,
    fit: impl Fn(&T, &TrainConfig) -> Result<TrainSummary> + Sync,
) -> Result<Vec<TrainSummary>> {
    config.validate()?;
    if config.checkpoint.is_some() {
        return Err(Error::invalid(
            "checkpoint",
            "an ensemble's members would share one file: train and save the members one by one instead",
        ));
    }
    members
        .par_iter()
        .enumerate()
        .map(|(i, m)| fit(m, &TrainConfig { seed: member_seed(config.seed, i), ..config.clone() }))
        .collect()
}

/// Every member's output width must be the first's (members built apart may differ).
fn same_width(widths: impl Iterator<Item = usize>) -> Result<usize> {
    let widths: Vec<usize> = widths.collect();
    match widths.first() {
        None => Err(Error::invalid("ensemble members", "0: at least one member (M ≥ 1)")),
        Some(&k) if widths.iter().all(|&w| w == k) => Ok(k),
        Some(_) => Err(Error::invalid("ensemble members", format!("output widths {widths:?} differ"))),
    }
}

impl<M: Module> DeepEnsemble<GaussianRegressor<M>> {
    /// `members` regression members with `outputs` outputs each, member i
    /// built by `build(member_seed(seed, i))` (a network with 2·outputs outputs).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `members == 0` or `outputs == 0`; `build`'s errors.
    pub fn regression(
        members: usize,
        outputs: usize,
        seed: u64,
        build: impl Fn(u64) -> Result<M>,
    ) -> Result<DeepEnsemble<GaussianRegressor<M>>> {
        let nets = build_all(members, seed, build)?;
        DeepEnsemble::new(nets.into_iter().map(|n| GaussianRegressor::new(n, outputs)).collect::<Result<_>>()?)
    }

    /// Every member standardises with statistics fitted on `x`, `y`.
    ///
    /// # Errors
    /// As [`GaussianRegressor::standardized_on`].
    pub fn standardized_on(self, x: &Tensor, y: &Tensor) -> Result<DeepEnsemble<GaussianRegressor<M>>> {
        let members = self.members.into_iter().map(|m| m.standardized_on(x, y)).collect::<Result<_>>()?;
        Ok(DeepEnsemble { members })
    }

    /// Trains the members side by side (see the module docs for seeds).
    ///
    /// # Errors
    /// As [`GaussianRegressor::fit`]; [`Error::InvalidArgument`] for
    /// periodic checkpoints (members would share the file).
    pub fn fit(&self, x: &Tensor, y: &Tensor, config: &TrainConfig) -> Result<Vec<TrainSummary>> {
        fit_all(&self.members, config, |m, c| m.fit(x, y, c, |_| {}))
    }

    /// The mixture of every member's (and draw's) Gaussian at inputs `x`;
    /// `draws` per member (1 for deterministic members).
    ///
    /// # Errors
    /// As [`GaussianRegressor::predict_moments`].
    pub fn predict(&self, x: &Tensor, draws: usize, seed: u64) -> Result<RegressionPrediction> {
        let (m, s) = self.moments(x, draws, seed)?;
        let k = same_width(self.members.iter().map(|m| m.outputs))?;
        Ok(mixture_prediction(k, m, &s))
    }

    /// Every member's (and draw's) means and standard deviations (see
    /// [`GaussianRegressor::predict_moments`]), member after member.
    pub(crate) fn moments(&self, x: &Tensor, draws: usize, seed: u64) -> Result<(Vec<Vec<f32>>, Vec<Vec<f32>>)> {
        let (mut means, mut stds) = (Vec::new(), Vec::new());
        for (i, m) in self.members.iter().enumerate() {
            let (a, b) = m.predict_moments(x, draws, member_seed(seed, i))?;
            means.extend(a);
            stds.extend(b);
        }
        Ok((means, stds))
    }

    /// RMSE, ±2σ coverage and the mixture's log predictive density on `x`, `y`.
    ///
    /// # Errors
    /// As [`DeepEnsemble::predict`]; shape mismatches of `y`.
    pub fn evaluate(&self, x: &Tensor, y: &Tensor, draws: usize, seed: u64) -> Result<RegressionMetrics> {
        let k = same_width(self.members.iter().map(|m| m.outputs))?;
        let n = self.members[0].check_xy(x, y)?;
        let (m, s) = self.moments(x, draws, seed)?;
        let y = y.to_vec()?;
        let loglik = gaussian_mixture_log_likelihood_hetero(&m, &s, &y, k)?;
        let p = mixture_prediction(k, m, &s);
        let mean_of = |v: &[f32]| (v.iter().map(|&a| a as f64).sum::<f64>() / v.len() as f64) as f32;
        Ok(RegressionMetrics {
            rows: n,
            rmse: rmse(&p.mean, &y)?,
            coverage_2sd: interval_coverage(&p.mean, &p.std, &y, 2.0)?,
            loglik,
            mean_epistemic_std: mean_of(&p.epistemic_std),
            mean_aleatoric_std: mean_of(&p.aleatoric_std),
        })
    }
}

impl<M: Module> DeepEnsemble<Classifier<M>> {
    /// `members` classifiers over `class_names`, member i built by
    /// `build(member_seed(seed, i))` (a network producing logits).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `members == 0` or fewer than two classes; `build`'s errors.
    pub fn classification(
        members: usize,
        class_names: Vec<String>,
        seed: u64,
        build: impl Fn(u64) -> Result<M>,
    ) -> Result<DeepEnsemble<Classifier<M>>> {
        let nets = build_all(members, seed, build)?;
        DeepEnsemble::new(nets.into_iter().map(|n| Classifier::new(n, class_names.clone())).collect::<Result<_>>()?)
    }

    /// Every member standardises its inputs with statistics fitted on `x`.
    ///
    /// # Errors
    /// As [`Classifier::standardized_on`].
    pub fn standardized_on(self, x: &Tensor) -> Result<DeepEnsemble<Classifier<M>>> {
        let members = self.members.into_iter().map(|m| m.standardized_on(x)).collect::<Result<_>>()?;
        Ok(DeepEnsemble { members })
    }

    /// Trains the members side by side (see the module docs for seeds).
    ///
    /// # Errors
    /// As [`Classifier::fit`]; [`Error::InvalidArgument`] for periodic checkpoints.
    pub fn fit(&self, x: &Tensor, labels: &[usize], config: &TrainConfig) -> Result<Vec<TrainSummary>> {
        fit_all(&self.members, config, |m, c| m.fit(x, labels, c, |_| {}))
    }

    /// The mean of the members' class probabilities (`draws` per member),
    /// with the entropy and the mutual information between the prediction
    /// and the member (high where the members disagree); `draws` holds each
    /// member's (and draw's) probabilities.
    ///
    /// # Errors
    /// As [`Classifier::predict`].
    pub fn predict(&self, x: &Tensor, draws: usize, seed: u64) -> Result<ClassPrediction> {
        let k = same_width(self.members.iter().map(|m| m.classes()))?;
        let mut all = Vec::with_capacity(self.members.len() * draws);
        for (i, m) in self.members.iter().enumerate() {
            all.extend(m.predict(x, draws, member_seed(seed, i))?.draws);
        }
        ClassPrediction::from_draws(k, all)
    }

    /// Accuracy, NLL, Brier score, ECE, mean entropy and mean mutual
    /// information of the ensemble's prediction on `x` and its `labels`.
    ///
    /// # Errors
    /// As [`DeepEnsemble::predict`]; labels that do not fit.
    pub fn evaluate(&self, x: &Tensor, labels: &[usize], draws: usize, seed: u64) -> Result<ClassificationMetrics> {
        self.predict(x, draws, seed)?.metrics(labels)
    }
}
