//! Bayesian regression for any network: a Gaussian likelihood with a
//! learned noise level per output, trained by the ELBO per example.
//!
//! [`Regressor`] wraps any [`Module`] mapping inputs `[n, ...]` to
//! predicted means `[n, k]`. It keeps the standardisation statistics of the
//! inputs and targets with the model, so [`Regressor::fit`],
//! [`Regressor::predict`] and [`Regressor::evaluate`] all take data in its
//! original units. The predictive distribution is the mixture over weight
//! draws of N(f_w(x), noise²); [`RegressionPrediction`] splits its spread
//! into the epistemic part (how much the draws disagree) and the aleatoric
//! part (the learned noise).
//!
//! ```
//! use blitz_autograd::Tensor;
//! use blitz_layers::{mlp::MlpSpec, regression::Regressor, train::TrainConfig};
//! # fn main() -> blitz_autograd::Result<()> {
//! // y = 2x + noise, 64 examples.
//! let xs: Vec<f32> = (0..64).map(|i| i as f32 / 16.0).collect();
//! let ys: Vec<f32> = xs.iter().enumerate().map(|(i, x)| 2.0 * x + 0.1 * ((i * 7 % 5) as f32 - 2.0)).collect();
//! let (x, y) = (Tensor::from_vec(xs, &[64, 1])?, Tensor::from_vec(ys, &[64, 1])?);
//! let net = MlpSpec::new(1, vec![16], 1).build(0)?;
//! let model = Regressor::new(net, 1)?.standardized_on(&x, &y)?;
//! let config = TrainConfig { epochs: 60, batch_size: 16, ..TrainConfig::default() };
//! model.fit(&x, &y, &config, |_| {})?;
//! let m = model.evaluate(&x, &y, 50, 1)?;
//! assert!(m.rmse < 0.5, "rmse {}", m.rmse);
//! # Ok(()) }
//! ```

use crate::checkpoint::Checkpoint;
use crate::data::Standardizer;
use crate::estimator::VariationalEstimator;
use crate::metrics::{gaussian_mixture_log_likelihood_multi, interval_coverage, rmse};
use crate::module::{params, to_device, Module};
use crate::sequential::Sequential;
use crate::train::{
    check_draws, checked_inputs, draws_in_chunks, example_count, fit_adam, Job, Progress, StepLoss, TrainConfig,
    TrainSummary,
};
use blitz_autograd::{loss, Context, Error, Param, Result, Tensor, Var};

/// The name of the learned noise parameter in checkpoints.
pub const LOG_NOISE: &str = "log_noise";

/// The largest |ln noise std| a checkpoint may hold: e^(±2·40) is still a
/// normal f32, so the noise variance and its inverse both are.
pub const MAX_LOG_NOISE: f32 = 40.0;

/// Rows per forward pass when predicting (bounds memory on large inputs).
const PREDICT_ROWS: usize = 4096;

/// A network predicting `k` means, with a learned Gaussian noise level per
/// output and the data's standardisation statistics.
pub struct Regressor<M: Module = Sequential> {
    /// The network: inputs `[n, ...]` (standardised when `x_scale` is set)
    /// to means `[n, k]` (standardised when `y_scale` is set).
    pub net: M,
    /// ln of each output's noise standard deviation, in training units, shape `[k]`.
    pub log_noise: Param,
    /// Statistics that standardise the inputs (features flattened per example).
    pub x_scale: Option<Standardizer>,
    /// Statistics that standardise the targets.
    pub y_scale: Option<Standardizer>,
    /// The kernel variants and threads its predictions run on (by default
    /// [`Context::default`]); training runs on [`TrainConfig::context`](crate::TrainConfig).
    pub context: Context,
}

impl<M: Module> std::fmt::Debug for Regressor<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Regressor({} outputs, {} parameters)", self.outputs(), params(&self.net).len() + 1)
    }
}

/// What a regressor predicts for each input, in the targets' original
/// units; every vector is `[n, k]` row-major (k = outputs).
#[derive(Debug, Clone, PartialEq)]
pub struct RegressionPrediction {
    /// Outputs per example.
    pub outputs: usize,
    /// Predictive mean.
    pub mean: Vec<f32>,
    /// Total predictive standard deviation, √(epistemic² + aleatoric²).
    pub std: Vec<f32>,
    /// Epistemic part: the spread of the draws' means.
    pub epistemic_std: Vec<f32>,
    /// Aleatoric part: the learned noise level of the output.
    pub aleatoric_std: Vec<f32>,
    /// mean − 2·std.
    pub lower_2sd: Vec<f32>,
    /// mean + 2·std.
    pub upper_2sd: Vec<f32>,
    /// The draws' means, one `[n, k]` vector per draw.
    pub draws: Vec<Vec<f32>>,
}

impl RegressionPrediction {
    /// RMSE, ±2σ coverage and predictive log-likelihood of this prediction
    /// against the true targets `y` (`[n, k]` row-major, original units):
    /// the figures of [`Regressor::evaluate`] without predicting again.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `y` is not `[n, k]`;
    /// and the metrics' errors for no rows.
    pub fn metrics(&self, y: &[f32]) -> Result<RegressionMetrics> {
        if y.len() != self.mean.len() || self.outputs == 0 {
            return Err(Error::ShapeMismatch {
                op: "RegressionPrediction::metrics (targets vs predictions)",
                lhs: vec![y.len()],
                rhs: vec![self.mean.len()],
            });
        }
        let noise = &self.aleatoric_std[..self.outputs.min(self.aleatoric_std.len())];
        let mean_of = |v: &[f32]| v.iter().map(|&a| a as f64).sum::<f64>() as f32 / v.len() as f32;
        Ok(RegressionMetrics {
            rows: y.len() / self.outputs,
            rmse: rmse(&self.mean, y)?,
            coverage_2sd: interval_coverage(&self.mean, &self.std, y, 2.0)?,
            loglik: gaussian_mixture_log_likelihood_multi(&self.draws, noise, y)?,
            mean_epistemic_std: mean_of(&self.epistemic_std),
            mean_aleatoric_std: mean_of(&self.aleatoric_std),
        })
    }

    /// What `means` (each draw's `[n, k]` means, in the targets' units) and
    /// each output's noise standard deviation `noise` (`[k]`) say together:
    /// the mixture's mean and its spread, split into the epistemic and the
    /// aleatoric part (sums in f64, draw after draw).
    pub fn from_draws(outputs: usize, means: Vec<Vec<f32>>, noise: &[f32]) -> RegressionPrediction {
        let nk = means.first().map_or(0, Vec::len);
        let s = means.len() as f64;
        let mut p = RegressionPrediction {
            outputs,
            mean: vec![0.0; nk],
            std: vec![0.0; nk],
            epistemic_std: vec![0.0; nk],
            aleatoric_std: (0..nk).map(|j| noise[j % outputs.max(1)]).collect(),
            lower_2sd: vec![0.0; nk],
            upper_2sd: vec![0.0; nk],
            draws: Vec::new(),
        };
        for j in 0..nk {
            let mu = means.iter().map(|d| d[j] as f64).sum::<f64>() / s;
            let var = means.iter().map(|d| (d[j] as f64 - mu).powi(2)).sum::<f64>() / s;
            let a = p.aleatoric_std[j] as f64;
            let total = (var + a * a).sqrt();
            p.mean[j] = mu as f32;
            p.epistemic_std[j] = var.sqrt() as f32;
            p.std[j] = total as f32;
            p.lower_2sd[j] = (mu - 2.0 * total) as f32;
            p.upper_2sd[j] = (mu + 2.0 * total) as f32;
        }
        p.draws = means;
        p
    }
}

/// How well a regressor predicts held-out data, in the targets' units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegressionMetrics {
    /// Examples evaluated.
    pub rows: usize,
    /// Root mean squared error of the predictive mean.
    pub rmse: f32,
    /// Share of targets inside mean ± 2σ (≈ 0.95 when calibrated).
    pub coverage_2sd: f32,
    /// Mean log predictive density per example (the mixture over draws).
    pub loglik: f32,
    /// Mean epistemic standard deviation.
    pub mean_epistemic_std: f32,
    /// Mean aleatoric standard deviation.
    pub mean_aleatoric_std: f32,
}

impl<M: Module> Regressor<M> {
    /// `net` predicting `outputs` values per example, noise initialised to 1
    /// (in standardised units), no standardisation yet.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `outputs == 0`.
    pub fn new(net: M, outputs: usize) -> Result<Regressor<M>> {
        if outputs == 0 {
            return Err(Error::invalid("outputs", "0: at least one output"));
        }
        Ok(Regressor {
            net,
            log_noise: Param::new(LOG_NOISE, Tensor::zeros(&[outputs])?),
            x_scale: None,
            y_scale: None,
            context: Context::default(),
        })
    }

    /// This regressor with its predictions on the kernel variants and threads of
    /// `ctx` (the same bits on any thread count).
    pub fn with_context(mut self, ctx: Context) -> Self {
        self.context = ctx;
        self
    }

    /// Sets every output's initial noise standard deviation (training units).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `std > 0` and finite.
    pub fn with_noise_init(self, std: f32) -> Result<Regressor<M>> {
        if !(std > 0.0 && std.is_finite()) {
            return Err(Error::invalid("noise_init", format!("{std}: must be positive")));
        }
        self.log_noise.set(Tensor::full(&[self.outputs()], std.ln())?)?;
        Ok(self)
    }

    /// Fits the standardisation statistics on training inputs `[n, ...]`
    /// and targets `[n, k]`; every later call standardises with them.
    ///
    /// # Errors
    /// Shape errors; [`Error::Empty`] for no rows.
    pub fn standardized_on(mut self, x: &Tensor, y: &Tensor) -> Result<Regressor<M>> {
        let (n, k) = self.check_xy(x, y)?;
        self.x_scale = Some(Standardizer::fit_rows(&x.to_vec()?, x.numel() / n)?);
        self.y_scale = Some(Standardizer::fit_rows(&y.to_vec()?, k)?);
        Ok(self)
    }

    /// The number of outputs.
    pub fn outputs(&self) -> usize {
        self.log_noise.shape()[0]
    }

    /// Each output's noise standard deviation in the targets' units.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `y_scale` does not have one column per
    /// output; device errors reading the parameter.
    pub fn noise_std(&self) -> Result<Vec<f32>> {
        self.check_y_scale()?;
        let log = self.log_noise.value().to_vec()?;
        Ok(log.iter().enumerate().map(|(o, l)| l.exp() * self.y_scale.as_ref().map_or(1.0, |s| s.std[o])).collect())
    }

    /// The per-example negative log-likelihood of targets `y` (`[n, k]`,
    /// training units) under N(pred, noise²): summed over outputs, averaged
    /// over the batch.
    ///
    /// # Errors
    /// Shape mismatches.
    pub fn nll(&self, pred: &Var, y: &Var) -> Result<Var> {
        let log_var = y.tape().param(&self.log_noise).mul_scalar(2.0)?;
        loss::gaussian_nll(pred, &log_var, y)?.mul_scalar(self.outputs() as f32)
    }

    /// Every trained parameter by its checkpoint name: the network's and [`LOG_NOISE`].
    pub fn named_params(&self) -> Vec<(String, Param)> {
        let mut named = params(&self.net);
        named.push((LOG_NOISE.to_string(), self.log_noise.clone()));
        named
    }

    /// Trains on inputs `x` (`[n, ...]`) and targets `y` (`[n, k]`), in
    /// original units, calling `progress` after each epoch.
    ///
    /// # Errors
    /// Bad settings ([`TrainConfig::validate`]); shapes that do not fit;
    /// [`Error::NonFinite`] for a NaN in the data or the loss; checkpoint I/O.
    pub fn fit(
        &self,
        x: &Tensor,
        y: &Tensor,
        config: &TrainConfig,
        mut progress: impl FnMut(&Progress),
    ) -> Result<TrainSummary> {
        self.train(x, y, config, None, &mut progress)
    }

    /// Continues the run that wrote `ck` (a checkpoint of
    /// [`TrainConfig::checkpoint`]) with the same data and settings: the
    /// parameters, statistics and optimizer are restored from it, and the
    /// result equals that of a run never interrupted.
    ///
    /// # Errors
    /// As [`Regressor::fit`] and [`Regressor::restore`]; [`Error::Parse`]
    /// when `ck` holds no optimizer state; [`Error::InvalidArgument`] when
    /// `ck` was written by a run with other settings (epochs, batch size,
    /// learning rates, draws, KL weight, seed) or another number of examples.
    pub fn resume(
        &mut self,
        ck: &Checkpoint,
        x: &Tensor,
        y: &Tensor,
        config: &TrainConfig,
        mut progress: impl FnMut(&Progress),
    ) -> Result<TrainSummary> {
        crate::train::check_resumable(ck, config, x.shape().first().copied().unwrap_or(0))?;
        self.restore(ck)?;
        self.train(x, y, config, Some(ck), &mut progress)
    }

    fn train(
        &self,
        x: &Tensor,
        y: &Tensor,
        config: &TrainConfig,
        resume: Option<&Checkpoint>,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<TrainSummary> {
        self.check_xy(x, y)?;
        let (xs, ys) =
            crate::train::training_data(x, self.x_scale.as_ref(), y, self.y_scale.as_ref(), &config.context)?;
        to_device(&self.net, config.device)?;
        self.log_noise.set(self.log_noise.value().to(config.device)?)?;
        let loss = |xv: &Var, batch: &[usize], kl_weight: f32| {
            let yb = xv.tape().constant(crate::data::take_rows(&ys, batch)?.to(config.device)?);
            self.net
                .sample_elbo_detailed(xv, &yb, |p, y| self.nll(p, y), config.sample_nbr, kl_weight)
                .map(StepLoss::from)
        };
        let snapshot = || self.checkpoint();
        let job = Job { named: self.named_params(), x: &xs, loss: &loss, snapshot: &snapshot };
        fit_adam(job, config, resume, progress)
    }

    /// The predictive distribution of inputs `x` (`[n, ...]`, original
    /// units) from `draws` weight draws named by `seed`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `draws == 0`; [`Error::TooLarge`] when
    /// the draws kept would not fit in memory; [`Error::NonFinite`] naming
    /// the row and column of an input that is not finite (or not once
    /// standardised); shape errors.
    pub fn predict(&self, x: &Tensor, draws: usize, seed: u64) -> Result<RegressionPrediction> {
        let n = self.check_x(x)?;
        let k = self.outputs();
        // Kept besides the draws: the six `[n, k]` vectors of the prediction.
        check_draws("Regressor::predict", draws, n, k, PREDICT_ROWS, 6)?;
        let xs = checked_inputs("Regressor::predict", x, self.x_scale.as_ref())?;
        let device = self.log_noise.value().device();
        let op = "Regressor::predict (network output vs [rows, outputs])";
        let mut means = draws_in_chunks(
            &self.context,
            op,
            &self.net,
            &xs,
            draws,
            seed,
            k,
            PREDICT_ROWS,
            device,
            |t| Ok(t.clone()),
        )?;
        if let Some(s) = &self.y_scale {
            for d in &mut means {
                s.unapply(d)?;
            }
        }
        Ok(RegressionPrediction::from_draws(k, means, &self.noise_std()?))
    }

    /// RMSE, ±2σ coverage and predictive log-likelihood on `x`, `y`
    /// (original units) from `draws` weight draws named by `seed`.
    ///
    /// # Errors
    /// As [`Regressor::predict`]; shape mismatches of `y`.
    pub fn evaluate(&self, x: &Tensor, y: &Tensor, draws: usize, seed: u64) -> Result<RegressionMetrics> {
        self.check_xy(x, y)?;
        self.predict(x, draws, seed)?.metrics(&y.to_vec()?)
    }

    /// The parameters and the standardisation statistics as a checkpoint
    /// (metadata `task = regression`, `outputs`, `x_scale.*`, `y_scale.*`).
    ///
    /// # Errors
    /// Device errors reading the parameters.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        let mut ck = Checkpoint::from_params(&self.named_params())?;
        ck.set_metadata("task", "regression");
        ck.set_metadata("outputs", self.outputs().to_string());
        if let Some(s) = &self.x_scale {
            s.to_metadata(&mut ck, "x_scale");
        }
        if let Some(s) = &self.y_scale {
            s.to_metadata(&mut ck, "y_scale");
        }
        crate::train::mark_scales(&mut ck, &[("x_scale", self.x_scale.is_some()), ("y_scale", self.y_scale.is_some())]);
        Ok(ck)
    }

    /// Restores parameters and statistics from a [`Regressor::checkpoint`].
    ///
    /// # Errors
    /// [`Error::Parse`] when names, shapes or statistics do not fit, when
    /// statistics the checkpoint says it holds (`standardized`) are missing,
    /// or when [`LOG_NOISE`] is beyond ±[`MAX_LOG_NOISE`];
    /// [`Error::NonFinite`] for a parameter holding a NaN or an infinity
    /// (nothing changes then).
    pub fn restore(&mut self, ck: &Checkpoint) -> Result<()> {
        let x_scale = Standardizer::from_metadata(ck, "x_scale")?;
        let y_scale = Standardizer::from_metadata(ck, "y_scale")?;
        crate::train::check_scale_marks(ck, &[("x_scale", x_scale.is_some()), ("y_scale", y_scale.is_some())])?;
        let bad = |message: String| Error::Parse { path: ck.source().to_string(), message };
        if let Some(s) = &y_scale {
            if s.cols() != self.outputs() {
                return Err(bad(format!("y_scale has {} columns, the model {} outputs", s.cols(), self.outputs())));
            }
        }
        let named = self.named_params();
        ck.check_finite(named.iter().map(|(n, _)| n.as_str()))?;
        if let Some((_, log)) = ck.tensor(LOG_NOISE) {
            if let Some((o, l)) = log.iter().enumerate().find(|(_, l)| l.abs() > MAX_LOG_NOISE) {
                return Err(bad(format!(
                    "{LOG_NOISE}[{o}] = {l}: outside ±{MAX_LOG_NOISE} (the noise variance e^(2·{LOG_NOISE}) must be a normal f32)"
                )));
            }
        }
        ck.restore_params(&named)?;
        self.x_scale = x_scale;
        self.y_scale = y_scale;
        Ok(())
    }

    fn check_x(&self, x: &Tensor) -> Result<usize> {
        example_count("Regressor (inputs vs the training inputs' features)", x, self.x_scale.as_ref())
    }

    /// `y_scale` (a public field) must have one column per output.
    fn check_y_scale(&self) -> Result<()> {
        match &self.y_scale {
            Some(s) if s.cols() != self.outputs() => Err(Error::ShapeMismatch {
                op: "Regressor (y_scale columns vs outputs)",
                lhs: vec![s.cols()],
                rhs: vec![self.outputs()],
            }),
            _ => Ok(()),
        }
    }

    fn check_xy(&self, x: &Tensor, y: &Tensor) -> Result<(usize, usize)> {
        self.check_y_scale()?;
        let n = self.check_x(x)?;
        let k = self.outputs();
        if y.shape() != [n, k] {
            return Err(Error::ShapeMismatch {
                op: "Regressor (targets must be [rows, outputs])",
                lhs: y.shape().to_vec(),
                rhs: vec![n, k],
            });
        }
        Ok((n, k))
    }
}
