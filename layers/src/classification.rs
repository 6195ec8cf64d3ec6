//! Bayesian classification for any network: cross-entropy trained by the
//! ELBO per example, predictions averaged over weight draws.
//!
//! [`Classifier`] wraps any [`Module`] mapping inputs `[n, ...]` (tabular
//! rows, images `[n, c, h, w]`, ...) to logits `[n, classes]`.
//! [`Classifier::predict`] returns what the draws say together — the mean
//! class probabilities, the predictive entropy (total uncertainty) and the
//! mutual information between prediction and weights (the epistemic part,
//! high where the draws disagree) — and each draw's probabilities.
//!
//! ```
//! use blitz_autograd::Tensor;
//! use blitz_layers::{classification::Classifier, mlp::MlpSpec, train::TrainConfig};
//! # fn main() -> blitz_autograd::Result<()> {
//! // Two classes: the sign of x.
//! let xs: Vec<f32> = (0..64).map(|i| i as f32 / 8.0 - 4.0).collect();
//! let labels: Vec<usize> = xs.iter().map(|&x| usize::from(x > 0.0)).collect();
//! let x = Tensor::from_vec(xs, &[64, 1])?;
//! let model = Classifier::new(MlpSpec::new(1, vec![8], 2).build(0)?, vec!["neg".into(), "pos".into()])?;
//! model.fit(&x, &labels, &TrainConfig { epochs: 40, batch_size: 16, ..TrainConfig::default() }, |_| {})?;
//! let m = model.evaluate(&x, &labels, 20, 1)?;
//! assert!(m.accuracy > 0.9, "accuracy {}", m.accuracy);
//! # Ok(()) }
//! ```

use crate::checkpoint::{decode_string_list, encode_string_list, Checkpoint};
use crate::data::Standardizer;
use crate::estimator::VariationalEstimator;
use crate::metrics::{
    accuracy, argmax_rows, brier_score, class_nll, expected_calibration_error, mutual_information, predictive_entropy,
};
use crate::module::{params, to_device, Module};
use crate::sequential::Sequential;
use crate::train::{
    check_draws, checked_inputs, draws_in_chunks, example_count, fit_adam, host_scaled, Job, Progress, StepLoss,
    TrainConfig, TrainSummary,
};
use blitz_autograd::{loss, Context, Device, Error, Result, Tensor, Var};

/// Rows per forward pass when predicting (bounds memory).
const PREDICT_ROWS: usize = 1000;

/// Bins of the expected calibration error in [`ClassificationMetrics`].
pub const ECE_BINS: usize = 15;

/// A network producing logits over named classes, with the inputs'
/// standardisation statistics.
pub struct Classifier<M: Module = Sequential> {
    /// The network: inputs `[n, ...]` (standardised when `x_scale` is set) to logits `[n, classes]`.
    pub net: M,
    /// The classes' names; class `c` is `class_names[c]`.
    pub class_names: Vec<String>,
    /// Statistics that standardise the inputs (features flattened per example).
    pub x_scale: Option<Standardizer>,
    /// The kernel variants and threads its predictions run on (by default
    /// [`Context::default`]); training runs on [`TrainConfig::context`](crate::TrainConfig).
    pub context: Context,
}

impl<M: Module> std::fmt::Debug for Classifier<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Classifier({} classes, {} parameters)", self.classes(), params(&self.net).len())
    }
}

/// What a classifier predicts for each input.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassPrediction {
    /// The number of classes.
    pub classes: usize,
    /// The mean over draws of the class probabilities, `[n, classes]` row-major.
    pub probs: Vec<f32>,
    /// The most probable class of the mean.
    pub predicted: Vec<usize>,
    /// Entropy of the mean probabilities (nats): total uncertainty.
    pub entropy: Vec<f32>,
    /// Mutual information between the prediction and the weights (nats):
    /// the epistemic part of the entropy.
    pub mutual_information: Vec<f32>,
    /// Each draw's probabilities, `[n, classes]` row-major.
    pub draws: Vec<Vec<f32>>,
}

impl ClassPrediction {
    /// What `draws` (each draw's probabilities, `[n, classes]` row-major)
    /// say together: their mean, its most probable class, the predictive
    /// entropy and the mutual information. Every method that predicts by
    /// averaging draws (Bayes by Backprop, MC dropout, ensembles, SWAG,
    /// IVON, sampled Laplace) reports through this.
    ///
    /// # Errors
    /// [`Error::Empty`] for no draws or no classes; [`Error::InvalidShape`]
    /// or [`Error::ShapeMismatch`] for draws that are not all `[n, classes]`.
    pub fn from_draws(classes: usize, draws: Vec<Vec<f32>>) -> Result<ClassPrediction> {
        let entropy = predictive_entropy(&draws, classes)?;
        let mutual_information = mutual_information(&draws, classes)?;
        let s = draws.len() as f64;
        let probs: Vec<f32> =
            (0..draws[0].len()).map(|j| (draws.iter().map(|d| d[j] as f64).sum::<f64>() / s) as f32).collect();
        Ok(ClassPrediction {
            classes,
            predicted: argmax_rows(&probs, classes),
            entropy,
            mutual_information,
            probs,
            draws,
        })
    }
}

impl ClassPrediction {
    /// How well this prediction fits `labels`: accuracy, NLL, Brier score,
    /// ECE over [`ECE_BINS`] bins, mean entropy and mean mutual information
    /// (every classifier's `evaluate` reports through this).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless there is one label per row;
    /// [`Error::IndexOutOfRange`] for a label ≥ the class count.
    pub fn metrics(&self, labels: &[usize]) -> Result<ClassificationMetrics> {
        let k = self.classes;
        let mean_of = |v: &[f32]| (v.iter().map(|&a| a as f64).sum::<f64>() / v.len().max(1) as f64) as f32;
        Ok(ClassificationMetrics {
            rows: labels.len(),
            accuracy: accuracy(&self.probs, k, labels)?,
            nll: class_nll(&self.probs, k, labels)?,
            brier: brier_score(&self.probs, k, labels)?,
            ece: expected_calibration_error(&self.probs, k, labels, ECE_BINS)?,
            mean_entropy: mean_of(&self.entropy),
            mean_mi: mean_of(&self.mutual_information),
        })
    }
}

/// How well a classifier predicts held-out labels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassificationMetrics {
    /// Examples evaluated.
    pub rows: usize,
    /// Accuracy of the mean prediction.
    pub accuracy: f32,
    /// Mean negative log-likelihood of the labels (nats).
    pub nll: f32,
    /// Brier score (mean squared error of the probability vector, in [0, 2]).
    pub brier: f32,
    /// Expected calibration error over [`ECE_BINS`] confidence bins.
    pub ece: f32,
    /// Mean predictive entropy (nats).
    pub mean_entropy: f32,
    /// Mean mutual information (nats).
    pub mean_mi: f32,
}

impl<M: Module> Classifier<M> {
    /// `net` over the classes `class_names` (its output width must be their count).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for fewer than two classes.
    pub fn new(net: M, class_names: Vec<String>) -> Result<Classifier<M>> {
        if class_names.len() < 2 {
            return Err(Error::invalid("classes", format!("{}: at least two classes", class_names.len())));
        }
        Ok(Classifier { net, class_names, x_scale: None, context: Context::default() })
    }

    /// This classifier with its predictions on the kernel variants and threads of
    /// `ctx` (the same bits on any thread count).
    pub fn with_context(mut self, ctx: Context) -> Self {
        self.context = ctx;
        self
    }

    /// Fits the inputs' standardisation statistics on training inputs `[n, ...]`.
    ///
    /// # Errors
    /// [`Error::Empty`] for no rows.
    pub fn standardized_on(mut self, x: &Tensor) -> Result<Classifier<M>> {
        let n = self.check_x(x)?;
        self.x_scale = Some(Standardizer::fit_rows(&x.to_vec()?, x.numel() / n)?);
        Ok(self)
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.class_names.len()
    }

    /// Trains on inputs `x` (`[n, ...]`) and class indices `labels`,
    /// calling `progress` after each epoch.
    ///
    /// # Errors
    /// Bad settings ([`TrainConfig::validate`]); a label ≥ the class count;
    /// shapes that do not fit; [`Error::NonFinite`] for a NaN in the inputs
    /// or the loss; checkpoint I/O.
    pub fn fit(
        &self,
        x: &Tensor,
        labels: &[usize],
        config: &TrainConfig,
        mut progress: impl FnMut(&Progress),
    ) -> Result<TrainSummary> {
        self.train(x, labels, config, None, &mut progress)
    }

    /// Continues the run that wrote `ck` with the same data and settings
    /// (see [`Regressor::resume`](crate::regression::Regressor::resume)).
    ///
    /// # Errors
    /// As [`Classifier::fit`] and [`Classifier::restore`].
    pub fn resume(
        &mut self,
        ck: &Checkpoint,
        x: &Tensor,
        labels: &[usize],
        config: &TrainConfig,
        mut progress: impl FnMut(&Progress),
    ) -> Result<TrainSummary> {
        crate::train::check_resumable(ck, config, x.shape().first().copied().unwrap_or(0))?;
        self.restore(ck)?;
        self.train(x, labels, config, Some(ck), &mut progress)
    }

    fn train(
        &self,
        x: &Tensor,
        labels: &[usize],
        config: &TrainConfig,
        resume: Option<&Checkpoint>,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<TrainSummary> {
        self.check_labels(x, labels)?;
        let xs = host_scaled(x, self.x_scale.as_ref())?;
        if !xs.all_finite(&config.context)? {
            return Err(Error::NonFinite { what: "training inputs (after standardisation)".into() });
        }
        to_device(&self.net, config.device)?;
        let classes = self.classes();
        let loss = |xv: &Var, batch: &[usize], kl_weight: f32| {
            let yb: Vec<usize> = batch.iter().map(|&i| labels[i]).collect();
            self.net
                .sample_elbo_detailed(
                    xv,
                    &yb[..],
                    |p, y: &[usize]| {
                        if p.shape().last() != Some(&classes) {
                            return Err(Error::ShapeMismatch {
                                op: "Classifier (logits vs [rows, classes])",
                                lhs: p.shape().to_vec(),
                                rhs: vec![y.len(), classes],
                            });
                        }
                        loss::cross_entropy(p, y)
                    },
                    config.sample_nbr,
                    kl_weight,
                )
                .map(StepLoss::from)
        };
        let snapshot = || self.checkpoint();
        let job = Job { named: params(&self.net), x: &xs, loss: &loss, snapshot: &snapshot };
        fit_adam(job, config, resume, progress)
    }

    /// Class probabilities of inputs `x` (`[n, ...]`) from `draws` weight
    /// draws named by `seed`, with entropy and mutual information.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `draws == 0`; [`Error::TooLarge`] when
    /// the draws kept would not fit in memory; [`Error::NonFinite`] naming
    /// the row and column of an input that is not finite (or not once
    /// standardised); shape errors.
    pub fn predict(&self, x: &Tensor, draws: usize, seed: u64) -> Result<ClassPrediction> {
        let n = self.check_x(x)?;
        let k = self.classes();
        // Kept besides the draws: the mean probabilities and two per-row figures.
        check_draws("Classifier::predict", draws, n, k, PREDICT_ROWS, 2)?;
        let xs = checked_inputs("Classifier::predict", x, self.x_scale.as_ref())?;
        let device = params(&self.net).first().map_or(Device::Cpu, |(_, p)| p.value().device());
        let op = "Classifier::predict (logits vs [rows, classes])";
        let probs = draws_in_chunks(&self.context, op, &self.net, &xs, draws, seed, k, PREDICT_ROWS, device, |t| {
            t.softmax(&self.context)
        })?;
        ClassPrediction::from_draws(k, probs)
    }

    /// Accuracy, NLL, Brier score, ECE, mean entropy and mean mutual
    /// information on `x` and its `labels`, from `draws` draws named by `seed`.
    ///
    /// # Errors
    /// As [`Classifier::predict`]; a label ≥ the class count.
    pub fn evaluate(&self, x: &Tensor, labels: &[usize], draws: usize, seed: u64) -> Result<ClassificationMetrics> {
        self.check_labels(x, labels)?;
        self.predict(x, draws, seed)?.metrics(labels)
    }

    /// The parameters, class names and statistics as a checkpoint (metadata
    /// `task = classification`, `classes` as a JSON list of strings, `x_scale.*`).
    ///
    /// # Errors
    /// Device errors reading the parameters.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        let mut ck = Checkpoint::from_params(&params(&self.net))?;
        ck.set_metadata("task", "classification");
        ck.set_metadata("classes", encode_string_list(&self.class_names));
        if let Some(s) = &self.x_scale {
            s.to_metadata(&mut ck, "x_scale");
        }
        crate::train::mark_scales(&mut ck, &[("x_scale", self.x_scale.is_some())]);
        Ok(ck)
    }

    /// Restores parameters and statistics from a [`Classifier::checkpoint`].
    ///
    /// # Errors
    /// [`Error::Parse`] when names, shapes, classes or statistics do not
    /// fit, or statistics the checkpoint says it holds are missing;
    /// [`Error::NonFinite`] for a parameter holding a NaN or an infinity
    /// (nothing changes then).
    pub fn restore(&mut self, ck: &Checkpoint) -> Result<()> {
        let x_scale = Standardizer::from_metadata(ck, "x_scale")?;
        crate::train::check_scale_marks(ck, &[("x_scale", x_scale.is_some())])?;
        if let Some(c) = ck.metadata().get("classes") {
            let names = decode_string_list(c).ok_or_else(|| Error::Parse {
                path: ck.source().to_string(),
                message: format!("metadata classes = {c:?} is malformed"),
            })?;
            if names != self.class_names {
                return Err(Error::Parse {
                    path: ck.source().to_string(),
                    message: format!("classes {names:?} in the file, {:?} in the model", self.class_names),
                });
            }
        }
        let named = params(&self.net);
        ck.check_finite(named.iter().map(|(n, _)| n.as_str()))?;
        ck.restore_params(&named)?;
        self.x_scale = x_scale;
        Ok(())
    }

    fn check_x(&self, x: &Tensor) -> Result<usize> {
        example_count("Classifier (inputs vs the training inputs' features)", x, self.x_scale.as_ref())
    }

    /// The training inputs on the host, standardised as [`Classifier::fit`]
    /// standardises them, after checking `labels` against them: for the
    /// training loops of other methods on the same classifier (SWAG, IVON).
    pub(crate) fn scaled_training_inputs(&self, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        self.check_labels(x, labels)?;
        host_scaled(x, self.x_scale.as_ref())
    }

    fn check_labels(&self, x: &Tensor, labels: &[usize]) -> Result<()> {
        let n = self.check_x(x)?;
        if labels.len() != n {
            return Err(Error::ShapeMismatch {
                op: "Classifier (one label per input row)",
                lhs: x.shape().to_vec(),
                rhs: vec![labels.len()],
            });
        }
        if let Some(&l) = labels.iter().find(|&&l| l >= self.classes()) {
            return Err(Error::IndexOutOfRange {
                op: "Classifier (label vs class count)",
                index: l,
                len: self.classes(),
            });
        }
        Ok(())
    }
}

/// The mean cross-entropy of a batch's outputs against the rows `batch` of
/// `labels`: the loss of training loops that take one (SWAG, IVON).
pub(crate) fn batch_cross_entropy(labels: &[usize]) -> impl Fn(&Var, &[usize]) -> Result<Var> + '_ {
    move |out, batch| {
        let yb: Vec<usize> = batch.iter().map(|&i| labels[i]).collect();
        loss::cross_entropy(out, &yb)
    }
}
