//! SWAG in a model file: a deterministic network trained by Adam (the
//! shared budget), then SGD iterates collected by [`Swag`], stored as the
//! moments it samples from, flattened in the network's parameter order:
//! `swag.mean` (θ̄), `swag.diag_variance` (Σ_diag) and `swag.deviations`
//! (K rows θᵢ − θ̄ᵢ), with [`KEY_SWAG`] giving K and the snapshots.
//!
//! A prediction builds its own network for its draws, so that threads may
//! share one loaded model.

use super::method::FitTargets;
use super::{ModelFile, Prediction};
use crate::checkpoint::Checkpoint;
use crate::classification::{ClassPrediction, Classifier};
use crate::data::Standardizer;
use crate::mlp::plain_mlp;
use crate::mlp::MlpSpec;
use crate::train::{checked_inputs, host_scaled, Progress, TrainConfig, TrainSummary};
use crate::uncertainty::ensemble::mixture_prediction;
use crate::uncertainty::{GaussianRegressor, Swag, SwagConfig};
use blitz_autograd::{Context, Error, Result, Tensor, Var};

/// Metadata key of SWAG's sizes: `rank=K;snapshots=N`.
pub const KEY_SWAG: &str = "blitz.swag";
/// The tensor of the SWA means θ̄.
pub const SWAG_MEAN: &str = "swag.mean";
/// The tensor of the diagonal variances.
pub const SWAG_VARIANCE: &str = "swag.diag_variance";
/// The tensor of the deviation columns, `[K, parameters]`.
pub const SWAG_DEVIATIONS: &str = "swag.deviations";

/// A SWAG posterior with what it predicts with: the network's sizes, the
/// statistics, and (for a classifier) the classes.
#[derive(Debug, Clone)]
pub struct SwagModel {
    /// The posterior.
    pub swag: Swag,
    spec: MlpSpec,
    outputs: usize,
    classes: Vec<String>,
    /// Statistics that standardise the inputs.
    pub x_scale: Option<Standardizer>,
    /// Statistics that standardise the targets (regression).
    pub y_scale: Option<Standardizer>,
    /// Where its predictions run.
    pub context: Context,
}

/// `rank=K;snapshots=N` read from `ck`.
pub(super) fn sizes(ck: &Checkpoint) -> Result<(usize, usize)> {
    let bad = |m: String| Error::Parse { path: ck.source().to_string(), message: format!("metadata {KEY_SWAG}: {m}") };
    let text = ck.metadata().get(KEY_SWAG).ok_or_else(|| bad("is missing (swag)".into()))?;
    let mut fields = std::collections::BTreeMap::new();
    for part in text.split(';') {
        let (k, v) = part.split_once('=').ok_or_else(|| bad(format!("{part:?} is not key=value")))?;
        fields.insert(k, v);
    }
    let count = |k: &str| -> Result<usize> {
        let v = fields.get(k).ok_or_else(|| bad(format!("{k} is missing")))?;
        v.parse().map_err(|_| bad(format!("{k} = {v:?} is not a count")))
    };
    let (rank, snapshots) = (count("rank")?, count("snapshots")?);
    if fields.len() != 2 {
        return Err(bad("unknown fields (rank, snapshots)".into()));
    }
    if rank == 0 || rank > snapshots || rank > super::method::MAX_MEMBERS {
        return Err(bad(format!(
            "rank {rank} of {snapshots} snapshots: 1 to {} columns, no more than the snapshots",
            super::method::MAX_MEMBERS
        )));
    }
    Ok((rank, snapshots))
}

/// The parameters of `shapes` in all, checked.
pub(super) fn parameters(shapes: &[(String, Vec<usize>)]) -> Result<usize> {
    let mut total = 0usize;
    for (n, s) in shapes {
        let k = blitz_kernels::limits::checked_numel("model.sizes", s)?;
        total =
            total.checked_add(k).ok_or_else(|| Error::invalid("model.sizes", format!("{n}: too many parameters")))?;
    }
    Ok(total)
}

impl SwagModel {
    /// An empty posterior for `file`'s network of `outputs` outputs.
    pub(super) fn empty(file: &ModelFile, outputs: usize, shapes: &[(String, Vec<usize>)]) -> Result<SwagModel> {
        let zeros = vec![0.0; parameters(shapes)?];
        Ok(SwagModel {
            swag: Swag::from_moments(shapes, &zeros, &zeros, &[], 1)?,
            spec: file.spec.clone(),
            outputs,
            classes: file.classes.clone(),
            x_scale: None,
            y_scale: None,
            context: Context::default(),
        })
    }

    /// Reads the moments from `ck` (whose tensors' names and shapes are checked already).
    pub(super) fn read(&mut self, ck: &Checkpoint, shapes: &[(String, Vec<usize>)]) -> Result<()> {
        let (_, snapshots) = sizes(ck)?;
        let bad = |m: String| Error::Parse { path: ck.source().to_string(), message: m };
        let get = |name: &str| ck.tensor(name).ok_or_else(|| bad(format!("tensor {name} is missing (swag)")));
        let (mean, var) = (get(SWAG_MEAN)?.1, get(SWAG_VARIANCE)?.1);
        let size = mean.len().max(1);
        let deviations: Vec<Vec<f32>> = get(SWAG_DEVIATIONS)?.1.chunks(size).map(<[f32]>::to_vec).collect();
        if let Some(i) = var.iter().position(|&v| v < 0.0) {
            return Err(bad(format!("tensor {SWAG_VARIANCE}: element {i} is {}, a negative variance", var[i])));
        }
        self.swag = Swag::from_moments(shapes, mean, var, &deviations, snapshots)
            .map_err(|e| bad(format!("tensors {SWAG_MEAN}, {SWAG_VARIANCE}, {SWAG_DEVIATIONS}: {e}")))?;
        Ok(())
    }

    /// Adds the moments and [`KEY_SWAG`] to `ck`.
    pub(super) fn write(&self, ck: &mut Checkpoint) -> Result<()> {
        let mean = self.swag.mean();
        let dev = self.swag.deviations();
        ck.set_tensor(SWAG_MEAN, &[mean.len()], mean.clone())?;
        ck.set_tensor(SWAG_VARIANCE, &[mean.len()], self.swag.diag_variance())?;
        ck.set_tensor(SWAG_DEVIATIONS, &[dev.len(), mean.len()], dev.concat())?;
        ck.set_metadata(KEY_SWAG, format!("rank={};snapshots={}", dev.len(), self.swag.snapshots()));
        for (s, key) in [(&self.x_scale, "x_scale"), (&self.y_scale, "y_scale")] {
            if let Some(s) = s {
                s.to_metadata(ck, key);
            }
        }
        Ok(())
    }

    /// Each draw's means and standard deviations (regression), `draws`
    /// SWAG draws named by `seed`.
    pub(super) fn moments(&self, x: &Tensor, draws: usize, seed: u64) -> Result<(Vec<Vec<f32>>, Vec<Vec<f32>>)> {
        checked_inputs("Swag::predict", x, self.x_scale.as_ref())?;
        let mut gr = GaussianRegressor::new(plain_mlp(&self.spec, self.outputs, 0, None)?, self.spec.outputs)?
            .with_context(self.context.clone());
        (gr.x_scale, gr.y_scale) = (self.x_scale.clone(), self.y_scale.clone());
        let outs = self.swag.predict_with(&gr.net, draws, seed, |s| gr.predict_moments(x, 1, s))?;
        Ok(outs.into_iter().map(|(mut m, mut s)| (m.remove(0), s.remove(0))).unzip())
    }

    /// The predictive distribution of `x` from `draws` SWAG draws named by `seed`.
    pub(super) fn predict(&self, x: &Tensor, draws: usize, seed: u64) -> Result<Prediction> {
        if self.classes.is_empty() {
            let (m, s) = self.moments(x, draws, seed)?;
            return Ok(Prediction::Regression(mixture_prediction(self.spec.outputs, m, &s)));
        }
        let mut c = Classifier::new(plain_mlp(&self.spec, self.outputs, 0, None)?, self.classes.clone())?
            .with_context(self.context.clone());
        c.x_scale = self.x_scale.clone();
        let p: ClassPrediction = self.swag.predict_classifier(&c, x, draws, seed)?;
        Ok(Prediction::Classification(p))
    }
}

/// Trains `m` (an empty posterior of `file`, [`SwagModel::empty`]): its
/// deterministic network by Adam with `config` (the budget every method
/// shares; no checkpoints), then SGD from there collecting `swag`, with
/// statistics fitted on `x` and the targets.
pub(super) fn train(
    file: &ModelFile,
    x: &Tensor,
    targets: FitTargets<'_>,
    config: &TrainConfig,
    swag: &SwagConfig,
    progress: &mut dyn FnMut(&Progress),
    m: &mut SwagModel,
) -> Result<TrainSummary> {
    let k = file.spec.outputs;
    let net = plain_mlp(&file.spec, m.outputs, file.seed, None)?;
    let (posterior, summary, scales) = match (m.classes.is_empty(), targets) {
        (true, FitTargets::Values(y)) => {
            let gr = GaussianRegressor::new(net, k)?.standardized_on(x, y)?;
            let summary = gr.fit(x, y, config, &mut *progress)?;
            let (xs, ys) = (host_scaled(x, gr.x_scale.as_ref())?, host_scaled(y, gr.y_scale.as_ref())?);
            let loss = |out: &Var, batch: &[usize]| -> Result<Var> {
                let yb = out.tape().constant(crate::data::take_rows(&ys, batch)?);
                gr.nll(out, &yb)
            };
            (Swag::collect(&gr.net, &xs, loss, swag)?, summary, (gr.x_scale.clone(), gr.y_scale.clone()))
        }
        (false, FitTargets::Labels(labels)) => {
            let c = Classifier::new(net, file.classes.clone())?.standardized_on(x)?;
            let summary = c.fit(x, labels, config, &mut *progress)?;
            (Swag::collect_classifier(&c, x, labels, swag)?, summary, (c.x_scale.clone(), None))
        }
        _ => return Err(Error::invalid("fit_swag", "the targets are not of the model's task")),
    };
    // As the file holds it (f32 moments), so that the run's own figures
    // and calibration are those of the saved model, bit for bit.
    let shapes = m.plain_shapes()?;
    let (mean, var, dev) = (posterior.mean(), posterior.diag_variance(), posterior.deviations());
    m.swag = Swag::from_moments(&shapes, &mean, &var, &dev, posterior.snapshots())?;
    (m.x_scale, m.y_scale) = scales;
    Ok(summary)
}

impl SwagModel {
    /// Whether the file holds target statistics (a regression).
    pub(super) fn y_scale_needed(&self) -> bool {
        self.classes.is_empty()
    }

    /// The outputs of the task (a regression network has twice as many).
    pub(super) fn task_outputs(&self) -> usize {
        self.spec.outputs
    }

    /// The name and shape of every parameter of the network.
    pub(super) fn plain_shapes(&self) -> Result<Vec<(String, Vec<usize>)>> {
        let net = plain_mlp(&self.spec, self.outputs, 0, None)?;
        Ok(crate::module::params(&net).into_iter().map(|(n, p)| (n, p.shape())).collect())
    }
}
