//! The trained model of a model file, whichever [`Method`] wrote it: built
//! from the file's description, its tensors checked before anything is
//! built, restored, and predicting with the same columns for every method.
//!
//! Bayes by Backprop predicts through [`super::draws`]; the other methods
//! predict through their own predictors ([`Regressor`] and [`Classifier`]
//! over an [`McDropout`] network, [`DeepEnsemble`]).

use super::ivon::{IvonPosterior, HESSIAN_PREFIX};
use super::laplace::LaplaceModel;
use super::method::{FitTargets, Method};
use super::swag::{SwagModel, SWAG_DEVIATIONS, SWAG_MEAN, SWAG_VARIANCE};
use super::{Fitted, ModelFile, Prediction, Task};
use crate::checkpoint::Checkpoint;
use crate::classification::Classifier;
use crate::data::Standardizer;
use crate::metrics::{gaussian_mixture_log_likelihood_hetero, interval_coverage, rmse};
use crate::mlp::plain_mlp;
use crate::mlp::MlpSpec;
use crate::module::params;
use crate::regression::{RegressionMetrics, RegressionPrediction, Regressor, LOG_NOISE};
use crate::train::{Progress, TrainConfig, TrainSummary};
use crate::uncertainty::ensemble::mixture_prediction;
use crate::uncertainty::{DeepEnsemble, GaussianRegressor, McDropout};
use crate::uncertainty::{IvonConfig, SwagConfig};
use crate::Sequential;
use blitz_autograd::{Context, Error, Param, Result, Tensor};

/// The `model` metadata of a file whose network is deterministic (every
/// method but Bayes by Backprop, whose file says `bayesian_mlp`).
pub const PLAIN_MLP: &str = "mlp";

/// A trained or loaded model of any method and task.
#[derive(Debug)]
pub enum Trained {
    /// Bayes by Backprop.
    Bbb(Fitted),
    /// MC dropout, regression (a learned noise level per output).
    McDropoutRegression(Regressor<McDropout<Sequential>>),
    /// MC dropout, classification.
    McDropoutClassification(Classifier<McDropout<Sequential>>),
    /// A deep ensemble of Gaussian regressors (a mean and a variance each).
    EnsembleRegression(DeepEnsemble<GaussianRegressor>),
    /// A deep ensemble of classifiers.
    EnsembleClassification(DeepEnsemble<Classifier>),
    /// IVON, regression: its posterior, and a network of Bayesian layers
    /// holding it (mu = m, sigma = σ) that predicts a mean and a variance.
    IvonRegression(GaussianRegressor<Sequential>, IvonPosterior),
    /// IVON, classification.
    IvonClassification(Classifier<Sequential>, IvonPosterior),
    /// SWAG, regression (a mean and a variance per output and draw).
    SwagRegression(SwagModel),
    /// SWAG, classification.
    SwagClassification(SwagModel),
    /// Last-layer Laplace, regression (closed form).
    LaplaceRegression(LaplaceModel),
    /// Last-layer Laplace, classification (sampled outputs).
    LaplaceClassification(LaplaceModel),
}

/// The outputs of one network of `method` for `spec`: a regression
/// ensemble's member predicts a mean and a variance per output.
fn net_outputs(spec: &MlpSpec, task: Task, method: Method) -> Result<usize> {
    match (task, method) {
        (Task::Regression, Method::Ensemble { .. } | Method::Ivon | Method::Swag) => spec
            .outputs
            .checked_mul(2)
            .ok_or_else(|| Error::invalid("model.sizes", format!("{} outputs: too many", spec.outputs))),
        _ => Ok(spec.outputs),
    }
}

/// The name and shape of every tensor a file of `method` holds (besides
/// the optimizer's): see [`Method`].
/// `rank`: SWAG's deviation columns (the others ignore it).
fn expected_tensors(spec: &MlpSpec, task: Task, method: Method, rank: usize) -> Result<Vec<(String, Vec<usize>)>> {
    let mut one = plain_shapes(spec, task, method)?;
    Ok(match method {
        Method::Bbb => spec.param_shapes(),
        Method::McDropout { .. } | Method::Laplace => {
            if task == Task::Regression {
                one.push((LOG_NOISE.to_string(), vec![spec.outputs]));
            }
            one
        }
        Method::Ensemble { members } => {
            (0..members).flat_map(|m| one.iter().map(move |(n, s)| (format!("member{m}.{n}"), s.clone()))).collect()
        }
        Method::Swag => {
            let p = super::swag::parameters(&one)?;
            vec![
                (SWAG_MEAN.to_string(), vec![p]),
                (SWAG_VARIANCE.to_string(), vec![p]),
                (SWAG_DEVIATIONS.to_string(), vec![rank, p]),
            ]
        }
        Method::Ivon => {
            let hess: Vec<_> = one.iter().map(|(n, s)| (format!("{HESSIAN_PREFIX}{n}"), s.clone())).collect();
            one.extend(hess);
            one
        }
    })
}

/// The name and shape of every parameter of one deterministic network of
/// `method` ([`plain_mlp`]); an ensemble's member's tensors are these under
/// `member{i}.`.
fn plain_shapes(spec: &MlpSpec, task: Task, method: Method) -> Result<Vec<(String, Vec<usize>)>> {
    let mut widths = vec![spec.inputs];
    widths.extend(&spec.hidden);
    widths.push(net_outputs(spec, task, method)?);
    let mut one = Vec::new();
    for (i, w) in widths.windows(2).enumerate() {
        one.push((format!("fc{}.weight", i + 1), vec![w[1], w[0]]));
        one.push((format!("fc{}.bias", i + 1), vec![w[1]]));
    }
    Ok(one)
}

/// Checks the tensors of a file of `method` (not Bayes by Backprop, which
/// [`MlpSpec::from_metadata`] checks): every expected tensor is there with
/// its shape and finite values, no other model tensor is, and the network
/// fits in memory.
///
/// # Errors
/// [`Error::Parse`] naming the file and the tensors at fault (the first
/// missing member's, for an ensemble); [`Error::NonFinite`] naming the
/// tensor; [`Error::TooLarge`].
pub(super) fn check_tensors(ck: &Checkpoint, spec: &MlpSpec, task: Task, method: Method) -> Result<()> {
    use blitz_kernels::limits::{check_memory, checked_numel, f32_bytes};
    let bad = |m: String| Error::Parse { path: ck.source().to_string(), message: m };
    let rank = if method == Method::Swag { super::swag::sizes(ck)?.0 } else { 0 };
    let mut expected = expected_tensors(spec, task, method, rank)?;
    if method == Method::Laplace {
        expected.extend(super::laplace::expected(ck, spec)?);
    }
    let mut problems = Vec::new();
    for (name, shape) in &expected {
        match ck.tensor(name) {
            None => {
                problems
                    .push(format!("tensor {name} (shape {shape:?} for model.sizes and {}) is missing", method.name()));
                // One missing member says enough (and a forged count ends here).
                break;
            }
            Some((s, _)) if s != &shape[..] => {
                problems.push(format!("tensor {name}: shape {s:?} in the file, model.sizes implies {shape:?}"))
            }
            Some(_) => {}
        }
    }
    for name in ck.names() {
        if !name.starts_with(crate::checkpoint::OPTIM_PREFIX) && !expected.iter().any(|(n, _)| n == name) {
            problems.push(format!(
                "tensor {name} is not part of a {} model of sizes {}",
                method.name(),
                spec.describe()
            ));
        }
    }
    if !problems.is_empty() {
        return Err(bad(problems.join("; ")));
    }
    let mut total = 0usize;
    for (name, shape) in &expected {
        let n = checked_numel("model.sizes", shape)?;
        total = total.checked_add(n).ok_or(Error::ShapeOverflow { op: "model.sizes", shape: shape.clone() })?;
        ck.check_finite([name.as_str()])?;
    }
    check_memory(f32_bytes(total).saturating_mul(3), || format!("model.sizes {} of {}", spec.describe(), ck.source()))
}

impl ModelFile {
    /// An untrained model of this description and its method (initial
    /// weights from [`ModelFile::seed`]; an ensemble's member i from
    /// [`member_seed`](crate::uncertainty::member_seed)(seed, i)).
    ///
    /// # Errors
    /// As [`MlpSpec::build`] and [`plain_mlp`].
    pub fn build_trained(&self) -> Result<Trained> {
        let outputs = net_outputs(&self.spec, self.task, self.method)?;
        Ok(match (self.method, self.task) {
            (Method::Bbb, _) => Trained::Bbb(self.build()?),
            (Method::McDropout { rate }, Task::Regression) => {
                let net = plain_mlp(&self.spec, outputs, self.seed, Some(rate))?;
                Trained::McDropoutRegression(Regressor::new(McDropout::new(net), self.spec.outputs)?)
            }
            (Method::McDropout { rate }, Task::Classification) => {
                let net = plain_mlp(&self.spec, outputs, self.seed, Some(rate))?;
                Trained::McDropoutClassification(Classifier::new(McDropout::new(net), self.classes.clone())?)
            }
            (Method::Ensemble { members }, Task::Regression) => {
                Trained::EnsembleRegression(DeepEnsemble::regression(members, self.spec.outputs, self.seed, |s| {
                    plain_mlp(&self.spec, outputs, s, None)
                })?)
            }
            (Method::Laplace, Task::Regression) => Trained::LaplaceRegression(super::laplace::untrained(self)?),
            (Method::Laplace, Task::Classification) => Trained::LaplaceClassification(super::laplace::untrained(self)?),
            (Method::Swag, task) => {
                let m = SwagModel::empty(self, outputs, &plain_shapes(&self.spec, task, self.method)?)?;
                match task {
                    Task::Regression => Trained::SwagRegression(m),
                    Task::Classification => Trained::SwagClassification(m),
                }
            }
            (Method::Ivon, task) => {
                let posterior = IvonPosterior::empty(&plain_shapes(&self.spec, task, self.method)?);
                let net = super::ivon::predictor(self, outputs)?;
                match task {
                    Task::Regression => {
                        Trained::IvonRegression(GaussianRegressor::new(net, self.spec.outputs)?, posterior)
                    }
                    Task::Classification => {
                        Trained::IvonClassification(Classifier::new(net, self.classes.clone())?, posterior)
                    }
                }
            }
            (Method::Ensemble { members }, Task::Classification) => Trained::EnsembleClassification(
                DeepEnsemble::classification(members, self.classes.clone(), self.seed, |s| {
                    plain_mlp(&self.spec, outputs, s, None)
                })?,
            ),
        })
    }
}

/// Every member's parameters, named `member{i}.…` as in the file.
fn member_params<'a>(nets: impl Iterator<Item = &'a Sequential>) -> Vec<(String, Param)> {
    nets.enumerate().flat_map(|(i, n)| params(n).into_iter().map(move |(k, p)| (format!("member{i}.{k}"), p))).collect()
}

/// The standardisation statistics `key` the file must hold.
fn scale(ck: &Checkpoint, key: &str) -> Result<Standardizer> {
    Standardizer::from_metadata(ck, key)?.ok_or_else(|| Error::Parse {
        path: ck.source().to_string(),
        message: format!("metadata {key}.mean/{key}.std are missing: `blitz fit` always writes them"),
    })
}

impl Trained {
    /// Restores parameters and statistics from a model file (or a
    /// checkpoint of the run) of this model's method.
    ///
    /// # Errors
    /// [`Error::Parse`] when names, shapes or statistics do not fit;
    /// [`Error::NonFinite`] for a parameter that is not finite.
    pub fn restore(&mut self, ck: &Checkpoint) -> Result<()> {
        match self {
            Trained::Bbb(m) => m.restore(ck),
            Trained::McDropoutRegression(m) => m.restore(ck),
            Trained::McDropoutClassification(m) => m.restore(ck),
            Trained::EnsembleRegression(e) => {
                let named = member_params(e.members().iter().map(|m| &m.net));
                ck.check_finite(named.iter().map(|(n, _)| n.as_str()))?;
                let (x, y) = (scale(ck, "x_scale")?, scale(ck, "y_scale")?);
                ck.restore_params(&named)?;
                for m in e.members_mut() {
                    m.x_scale = Some(x.clone());
                    m.y_scale = Some(y.clone());
                }
                Ok(())
            }
            Trained::EnsembleClassification(e) => {
                let named = member_params(e.members().iter().map(|m| &m.net));
                ck.check_finite(named.iter().map(|(n, _)| n.as_str()))?;
                let x = scale(ck, "x_scale")?;
                ck.restore_params(&named)?;
                for m in e.members_mut() {
                    m.x_scale = Some(x.clone());
                }
                Ok(())
            }
            Trained::IvonRegression(m, p) => {
                let (x, y) = (scale(ck, "x_scale")?, scale(ck, "y_scale")?);
                p.read(ck)?;
                p.load_into(&m.net)?;
                (m.x_scale, m.y_scale) = (Some(x), Some(y));
                Ok(())
            }
            Trained::IvonClassification(m, p) => {
                let x = scale(ck, "x_scale")?;
                p.read(ck)?;
                p.load_into(&m.net)?;
                m.x_scale = Some(x);
                Ok(())
            }
            Trained::LaplaceRegression(m) | Trained::LaplaceClassification(m) => m.read(ck),
            Trained::SwagRegression(m) | Trained::SwagClassification(m) => {
                let regression = m.y_scale_needed();
                let x = scale(ck, "x_scale")?;
                let y = if regression { Some(scale(ck, "y_scale")?) } else { None };
                m.read(ck, &m.plain_shapes()?)?;
                (m.x_scale, m.y_scale) = (Some(x), y);
                Ok(())
            }
        }
    }

    /// The Bayes by Backprop model, if this is one.
    pub fn bbb(&self) -> Option<&Fitted> {
        match self {
            Trained::Bbb(f) => Some(f),
            _ => None,
        }
    }

    /// Its predictions on the kernel variants and threads of `ctx` (the
    /// same bits on any thread count).
    pub fn set_context(&mut self, ctx: &Context) {
        match self {
            Trained::Bbb(Fitted::Regression(m)) => m.context = ctx.clone(),
            Trained::Bbb(Fitted::Classification(m)) => m.context = ctx.clone(),
            Trained::McDropoutRegression(m) => m.context = ctx.clone(),
            Trained::McDropoutClassification(m) => m.context = ctx.clone(),
            Trained::EnsembleRegression(e) => e.members_mut().iter_mut().for_each(|m| m.context = ctx.clone()),
            Trained::EnsembleClassification(e) => e.members_mut().iter_mut().for_each(|m| m.context = ctx.clone()),
            Trained::IvonRegression(m, _) => m.context = ctx.clone(),
            Trained::IvonClassification(m, _) => m.context = ctx.clone(),
            Trained::SwagRegression(m) | Trained::SwagClassification(m) => m.context = ctx.clone(),
            Trained::LaplaceRegression(m) | Trained::LaplaceClassification(m) => m.set_context(ctx),
        }
    }

    /// The predictive distribution of inputs `x` (`[n, features]`,
    /// transformed, in the data's units): `draws` weight draws (Bayes by
    /// Backprop) or dropout passes (MC dropout) named by `seed`; an
    /// ensemble's members are deterministic, one pass each whatever
    /// `draws`, so its prediction does not depend on `draws` or `seed`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `draws == 0`; [`Error::NonFinite`]
    /// naming the row and column of an input that is not finite; the
    /// predictors' shape and memory errors.
    pub fn predict(&self, x: &Tensor, draws: usize, seed: u64) -> Result<Prediction> {
        Ok(match self {
            Trained::Bbb(Fitted::Regression(m)) => Prediction::Regression(m.predict(x, draws, seed)?),
            Trained::Bbb(Fitted::Classification(m)) => Prediction::Classification(m.predict(x, draws, seed)?),
            Trained::McDropoutRegression(m) => Prediction::Regression(m.predict(x, draws, seed)?),
            Trained::McDropoutClassification(m) => Prediction::Classification(m.predict(x, draws, seed)?),
            Trained::EnsembleRegression(e) => {
                self.check_ensemble_inputs(x, draws)?;
                Prediction::Regression(e.predict(x, 1, seed)?)
            }
            Trained::EnsembleClassification(e) => {
                self.check_ensemble_inputs(x, draws)?;
                Prediction::Classification(e.predict(x, 1, seed)?)
            }
            Trained::IvonRegression(m, _) => {
                self.check_ensemble_inputs(x, draws)?;
                Prediction::Regression(m.predict(x, draws, seed)?)
            }
            Trained::IvonClassification(m, _) => Prediction::Classification(m.predict(x, draws, seed)?),
            Trained::SwagRegression(m) | Trained::SwagClassification(m) => m.predict(x, draws, seed)?,
            Trained::LaplaceRegression(m) | Trained::LaplaceClassification(m) => m.predict(x, draws, seed)?,
        })
    }

    /// The refusals of the other predictors, for an ensemble's inputs.
    fn check_ensemble_inputs(&self, x: &Tensor, draws: usize) -> Result<()> {
        if draws == 0 {
            return Err(Error::invalid("draws", "0: at least one draw"));
        }
        let scale = match self {
            Trained::EnsembleRegression(e) => e.members().first().and_then(|m| m.x_scale.as_ref()),
            Trained::EnsembleClassification(e) => e.members().first().and_then(|m| m.x_scale.as_ref()),
            Trained::IvonRegression(m, _) => m.x_scale.as_ref(),
            _ => None,
        };
        crate::train::checked_inputs("DeepEnsemble::predict", x, scale).map(|_| ())
    }

    /// The prediction of regression inputs `x` (as [`Trained::predict`])
    /// and its figures against the targets `y` (`[n, outputs]` row-major):
    /// RMSE, ±2σ coverage and the log predictive density of the method's
    /// own mixture (for an ensemble, of its members' Gaussians).
    ///
    /// # Errors
    /// As [`Trained::predict`]; [`Error::InvalidArgument`] for a classifier;
    /// [`Error::ShapeMismatch`] for targets that do not fit.
    pub fn evaluate_regression(
        &self,
        x: &Tensor,
        y: &[f32],
        draws: usize,
        seed: u64,
    ) -> Result<(RegressionPrediction, RegressionMetrics)> {
        let moments = match self {
            Trained::EnsembleRegression(e) => {
                self.check_ensemble_inputs(x, draws)?;
                let k = e.members().first().map_or(1, GaussianRegressor::outputs);
                Some((e.moments(x, 1, seed)?, k))
            }
            Trained::IvonRegression(m, _) => {
                self.check_ensemble_inputs(x, draws)?;
                Some((m.predict_moments(x, draws, seed)?, m.outputs()))
            }
            Trained::SwagRegression(m) => Some((m.moments(x, draws, seed)?, m.task_outputs())),
            _ => None,
        };
        let gaussians = match (moments, self) {
            (Some(((m, s), k)), _) => Some((m, s, k, None)),
            // One Gaussian per row, of the closed form's mean and total std.
            (None, Trained::LaplaceRegression(l)) => match l.predict(x, draws, seed)? {
                Prediction::Regression(p) => Some((vec![p.mean.clone()], vec![p.std.clone()], p.outputs, Some(p))),
                Prediction::Classification(_) => None,
            },
            _ => None,
        };
        if let Some((m, s, k, given)) = gaussians {
            if m.first().map_or(0, Vec::len) != y.len() {
                return Err(Error::ShapeMismatch {
                    op: "Trained::evaluate_regression (targets vs predictions)",
                    lhs: vec![y.len()],
                    rhs: vec![m.first().map_or(0, Vec::len)],
                });
            }
            let loglik = gaussian_mixture_log_likelihood_hetero(&m, &s, y, k)?;
            let p = match given {
                Some(p) => p,
                None => mixture_prediction(k, m, &s),
            };
            let mean_of = |v: &[f32]| (v.iter().map(|&a| a as f64).sum::<f64>() / v.len().max(1) as f64) as f32;
            let r = RegressionMetrics {
                rows: y.len() / k.max(1),
                rmse: rmse(&p.mean, y)?,
                coverage_2sd: interval_coverage(&p.mean, &p.std, y, 2.0)?,
                loglik,
                mean_epistemic_std: mean_of(&p.epistemic_std),
                mean_aleatoric_std: mean_of(&p.aleatoric_std),
            };
            return Ok((p, r));
        }
        match self.predict(x, draws, seed)? {
            Prediction::Regression(p) => {
                let r = p.metrics(y)?;
                Ok((p, r))
            }
            Prediction::Classification(_) => Err(Error::invalid("evaluate", "a classifier has no regression figures")),
        }
    }

    /// The model file of this model: its parameters and statistics, the
    /// metadata of `file`, sealed (what `blitz fit` writes; a run's own
    /// checkpoints add the optimizer's state).
    ///
    /// # Errors
    /// Device errors reading the parameters.
    pub fn model_checkpoint(&self, file: &ModelFile) -> Result<Checkpoint> {
        let mut ck = match self {
            Trained::Bbb(Fitted::Regression(m)) => m.checkpoint()?,
            Trained::Bbb(Fitted::Classification(m)) => m.checkpoint()?,
            Trained::McDropoutRegression(m) => m.checkpoint()?,
            Trained::McDropoutClassification(m) => m.checkpoint()?,
            Trained::EnsembleRegression(e) => {
                let mut ck = Checkpoint::from_params(&member_params(e.members().iter().map(|m| &m.net)))?;
                if let Some(m) = e.members().first() {
                    for (s, key) in [(&m.x_scale, "x_scale"), (&m.y_scale, "y_scale")] {
                        if let Some(s) = s {
                            s.to_metadata(&mut ck, key);
                        }
                    }
                }
                ck
            }
            Trained::EnsembleClassification(e) => {
                let mut ck = Checkpoint::from_params(&member_params(e.members().iter().map(|m| &m.net)))?;
                if let Some(s) = e.members().first().and_then(|m| m.x_scale.as_ref()) {
                    s.to_metadata(&mut ck, "x_scale");
                }
                ck
            }
            Trained::IvonRegression(m, p) => {
                let mut ck = Checkpoint::new();
                p.write(&mut ck)?;
                for (s, key) in [(&m.x_scale, "x_scale"), (&m.y_scale, "y_scale")] {
                    if let Some(s) = s {
                        s.to_metadata(&mut ck, key);
                    }
                }
                ck
            }
            Trained::IvonClassification(m, p) => {
                let mut ck = Checkpoint::new();
                p.write(&mut ck)?;
                if let Some(s) = &m.x_scale {
                    s.to_metadata(&mut ck, "x_scale");
                }
                ck
            }
            Trained::SwagRegression(m) | Trained::SwagClassification(m) => {
                let mut ck = Checkpoint::new();
                m.write(&mut ck)?;
                ck
            }
            Trained::LaplaceRegression(m) | Trained::LaplaceClassification(m) => m.write()?,
        };
        for (k, v) in file.metadata() {
            ck.set_metadata(k, v);
        }
        ck.seal();
        Ok(ck)
    }
}

/// Trains a model of `file` (whose method is IVON) by IVON on inputs `x`
/// (`[n, features]`, transformed, original units) and `targets`, with
/// statistics standardising both fitted on them, and returns it ready to
/// predict and save, with the steps taken.
///
/// The deterministic network is [`plain_mlp`] of the file's sizes from its
/// seed (a regression's with a mean and a variance per output, trained by
/// the Gaussian negative log-likelihood; a classifier's by cross-entropy).
///
/// # Errors
/// [`Error::InvalidArgument`] for a file of another method or task than the
/// targets, or bad settings; [`Ivon::fit`](crate::uncertainty::Ivon::fit)'s errors.
pub fn fit_ivon(
    file: &ModelFile,
    x: &Tensor,
    targets: FitTargets<'_>,
    config: &IvonConfig,
) -> Result<(Trained, usize)> {
    let mut trained = file.build_trained()?;
    let steps = match (&mut trained, targets) {
        (Trained::IvonRegression(m, p), FitTargets::Values(y)) => {
            let (posterior, steps) = super::ivon::train_regression(file, x, y, config, m)?;
            *p = posterior;
            steps
        }
        (Trained::IvonClassification(m, p), FitTargets::Labels(labels)) => {
            let (posterior, steps) = super::ivon::train_classification(file, x, labels, config, m)?;
            *p = posterior;
            steps
        }
        _ => return Err(not_for(file, "fit_ivon")),
    };
    Ok((trained, steps))
}

/// Trains a SWAG model of `file`: its deterministic network by Adam with
/// `config` (the budget every method shares; no checkpoints), then SGD from
/// there collecting `swag` (its defaults: 20 epochs at 0.01 with momentum
/// 0.9, rank 20), with statistics fitted on `x` and the targets.
///
/// # Errors
/// [`Error::InvalidArgument`] for a file of another method or task than
/// the targets, or bad settings; the training's errors.
pub fn fit_swag(
    file: &ModelFile,
    x: &Tensor,
    targets: FitTargets<'_>,
    config: &TrainConfig,
    swag: &SwagConfig,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Trained, TrainSummary)> {
    let mut trained = file.build_trained()?;
    let summary = match &mut trained {
        Trained::SwagRegression(m) | Trained::SwagClassification(m) => {
            super::swag::train(file, x, targets, config, swag, progress, m)?
        }
        _ => return Err(not_for(file, "fit_swag")),
    };
    Ok((trained, summary))
}

/// Trains a last-layer Laplace model of `file`: its deterministic network
/// by Adam with `config` (no checkpoints), then the posterior on its last
/// layer (full below 300 weights, Kronecker-factored above; λ by the
/// marginal likelihood), with statistics fitted on `x` and the targets.
///
/// # Errors
/// [`Error::InvalidArgument`] for a file of another method or task than
/// the targets; the training's and
/// [`LastLayerLaplace::fit`](crate::uncertainty::LastLayerLaplace::fit)'s errors.
pub fn fit_laplace(
    file: &ModelFile,
    x: &Tensor,
    targets: FitTargets<'_>,
    config: &TrainConfig,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Trained, TrainSummary)> {
    if file.method != Method::Laplace {
        return Err(not_for(file, "fit_laplace"));
    }
    let (m, summary) = super::laplace::train(file, x, targets, config, progress)?;
    Ok((
        match file.task {
            Task::Regression => Trained::LaplaceRegression(m),
            Task::Classification => Trained::LaplaceClassification(m),
        },
        summary,
    ))
}

/// The refusal of a `fit_*` for a file of another method.
fn not_for(file: &ModelFile, op: &'static str) -> Error {
    Error::invalid(
        op,
        format!("a {} model of task {} and these targets: not this method's", file.method.name(), file.task.name()),
    )
}
