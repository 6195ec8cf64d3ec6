//! Last-layer Laplace in a model file: a deterministic network trained by
//! Adam (the shared budget; its tensors as MC dropout's, without dropout),
//! then a Gaussian posterior on its last layer ([`LastLayerLaplace`], the
//! prior precision by the marginal likelihood), stored as the curvature's
//! eigendecomposition: `laplace.g`, `laplace.v` (full) or `laplace.h`,
//! `laplace.uh`, `laplace.a`, `laplace.ua` (Kronecker factors), with
//! [`KEY_LAPLACE`] giving the structure and the prior precision.
//!
//! Regression predicts in closed form (one pass, whatever the draws);
//! classification averages the softmax over `draws` draws of the outputs.

use super::method::FitTargets;
use super::{ModelFile, Prediction, Task};
use crate::checkpoint::Checkpoint;
use crate::classification::Classifier;
use crate::mlp::plain_mlp;
use crate::mlp::MlpSpec;
use crate::regression::Regressor;
use crate::train::{Progress, TrainConfig, TrainSummary};
use crate::uncertainty::{Curvature, LaplaceStructure, LastLayerLaplace};
use blitz_autograd::{Context, Error, Result, Tensor};

/// Metadata key of the posterior's structure and prior precision:
/// `structure=full|kron;prior_precision=…`.
pub const KEY_LAPLACE: &str = "blitz.laplace";

/// A last-layer Laplace posterior with the network it sits on, as the file holds it.
#[derive(Debug)]
pub struct LaplaceModel {
    /// The posterior (and the network).
    pub laplace: LastLayerLaplace,
    /// The trained network's tensors and statistics, as written.
    network: Checkpoint,
    spec: MlpSpec,
    classes: Vec<String>,
}

/// `structure=…;prior_precision=…` of `ck`: whether full, and λ.
pub(super) fn settings(ck: &Checkpoint) -> Result<(bool, f64)> {
    let bad =
        |m: String| Error::Parse { path: ck.source().to_string(), message: format!("metadata {KEY_LAPLACE}: {m}") };
    let text = ck.metadata().get(KEY_LAPLACE).ok_or_else(|| bad("is missing (laplace)".into()))?;
    let mut fields = std::collections::BTreeMap::new();
    for part in text.split(';') {
        let (k, v) = part.split_once('=').ok_or_else(|| bad(format!("{part:?} is not key=value")))?;
        fields.insert(k, v);
    }
    let full = match fields.get("structure").copied() {
        Some("full") => true,
        Some("kron") => false,
        other => return Err(bad(format!("structure {other:?}: full or kron"))),
    };
    let lambda = match fields.get("prior_precision").map(|v| v.parse::<f64>()) {
        Some(Ok(l)) if l > 0.0 && l.is_finite() => l,
        _ => return Err(bad("prior_precision is not a positive finite number".into())),
    };
    if fields.len() != 2 {
        return Err(bad("unknown fields (structure, prior_precision)".into()));
    }
    Ok((full, lambda))
}

/// The curvature's tensors for a last layer of `k` outputs and `w` inputs
/// (with the bias's): names and shapes.
pub(super) fn curvature_shapes(full: bool, k: usize, w: usize) -> Result<Vec<(String, Vec<usize>)>> {
    let p = k.checked_mul(w).ok_or_else(|| Error::invalid("model.sizes", "the last layer is too large"))?;
    Ok(if full {
        vec![("laplace.g".into(), vec![p]), ("laplace.v".into(), vec![p, p])]
    } else {
        vec![
            ("laplace.h".into(), vec![k]),
            ("laplace.uh".into(), vec![k, k]),
            ("laplace.a".into(), vec![w]),
            ("laplace.ua".into(), vec![w, w]),
        ]
    })
}

/// The curvature's parts in [`curvature_shapes`]' order.
fn parts(c: &Curvature) -> Vec<&Vec<f64>> {
    match c {
        Curvature::Full { g, v } => vec![g, v],
        Curvature::Kron { h, uh, a, ua } => vec![h, uh, a, ua],
    }
}

/// `c` as the file holds it (f32), so that the run's figures are the file's.
fn rounded(c: &Curvature) -> Curvature {
    let r = |v: &Vec<f64>| v.iter().map(|&x| x as f32 as f64).collect::<Vec<f64>>();
    match c {
        Curvature::Full { g, v } => Curvature::Full { g: r(g), v: r(v) },
        Curvature::Kron { h, uh, a, ua } => Curvature::Kron { h: r(h), uh: r(uh), a: r(a), ua: r(ua) },
    }
}

/// The last layer's outputs k and inputs with the bias w.
fn last_layer(spec: &MlpSpec) -> (usize, usize) {
    (spec.outputs, spec.hidden.last().copied().unwrap_or(spec.inputs) + 1)
}

impl LaplaceModel {
    /// `network` (the trained net's checkpoint, or none) of `spec` (over
    /// `classes`, none for a regression) and the posterior on it, not fitted.
    fn new(spec: &MlpSpec, classes: &[String], network: Checkpoint) -> Result<LaplaceModel> {
        let net = plain_mlp(spec, spec.outputs, 0, None)?;
        let laplace = match classes.is_empty() {
            true => {
                let mut r = Regressor::new(net, spec.outputs)?;
                if !network.names().is_empty() {
                    r.restore(&network)?;
                }
                LastLayerLaplace::from_regressor(r)?
            }
            false => {
                let mut c = Classifier::new(net, classes.to_vec())?;
                if !network.names().is_empty() {
                    c.restore(&network)?;
                }
                LastLayerLaplace::from_classifier(c)?
            }
        };
        Ok(LaplaceModel { laplace, network, spec: spec.clone(), classes: classes.to_vec() })
    }

    /// Reads the network and the posterior from `ck` (whose tensors' names
    /// and shapes are checked already).
    pub(super) fn read(&mut self, ck: &Checkpoint) -> Result<()> {
        let (full, lambda) = settings(ck)?;
        // The network's own tensors and metadata, named by the file in its errors.
        let mut net = Checkpoint::new();
        for (k, v) in ck.metadata() {
            net.set_metadata(k.clone(), v.clone());
        }
        for n in ck.names().into_iter().filter(|n| !n.starts_with("laplace.")) {
            if let Some((shape, data)) = ck.tensor(n) {
                net.set_tensor(n, shape, data.to_vec())?;
            }
        }
        let net = Checkpoint::from_bytes(&net.to_bytes()?, ck.source())?;
        let mut m = LaplaceModel::new(&self.spec, &self.classes, net)?;
        let (k, w) = last_layer(&self.spec);
        let bad = |m: String| Error::Parse { path: ck.source().to_string(), message: m };
        let mut values = Vec::new();
        for (i, (n, _)) in curvature_shapes(full, k, w)?.iter().enumerate() {
            let (_, d) = ck.tensor(n).ok_or_else(|| bad(format!("tensor {n} is missing (laplace)")))?;
            // The eigenvalues come first in each pair (g; h, a).
            if i % 2 == 0 {
                if let Some((j, v)) = d.iter().enumerate().find(|(_, v)| **v < 0.0) {
                    return Err(bad(format!("tensor {n}: element {j} is {v}, a negative eigenvalue")));
                }
            }
            values.push(d.iter().map(|&v| v as f64).collect::<Vec<f64>>());
        }
        let mut it = values.into_iter();
        let mut next = || it.next().unwrap_or_default();
        let c = if full {
            Curvature::Full { g: next(), v: next() }
        } else {
            Curvature::Kron { h: next(), uh: next(), a: next(), ua: next() }
        };
        m.laplace.set_curvature(c, lambda).map_err(|e| Error::Parse {
            path: ck.source().to_string(),
            message: format!("tensors laplace.* ({KEY_LAPLACE}): {e}"),
        })?;
        *self = m;
        Ok(())
    }

    /// The file's tensors and metadata: the network's, the curvature's and [`KEY_LAPLACE`].
    pub(super) fn write(&self) -> Result<Checkpoint> {
        let mut ck = self.network.clone();
        let c = self.laplace.curvature_parts().ok_or_else(|| Error::invalid("laplace", "not fitted"))?;
        let full = matches!(c, Curvature::Full { .. });
        let (k, w) = last_layer(&self.spec);
        for ((name, shape), v) in curvature_shapes(full, k, w)?.into_iter().zip(parts(c)) {
            ck.set_tensor(name, &shape, v.iter().map(|&x| x as f32).collect())?;
        }
        let structure = if full { "full" } else { "kron" };
        ck.set_metadata(
            KEY_LAPLACE,
            format!("structure={structure};prior_precision={}", self.laplace.prior_precision()),
        );
        Ok(ck)
    }

    /// Its predictions on `ctx`.
    pub(super) fn set_context(&mut self, ctx: &Context) {
        self.laplace.set_context(ctx.clone());
    }

    /// The predictive distribution of `x`: closed form (regression) or
    /// `draws` draws of the outputs named by `seed` (classification).
    pub(super) fn predict(&self, x: &Tensor, draws: usize, seed: u64) -> Result<Prediction> {
        if draws == 0 {
            return Err(Error::invalid("draws", "0: at least one draw"));
        }
        crate::train::checked_inputs("LastLayerLaplace::predict", x, None)?;
        Ok(if self.classes.is_empty() {
            Prediction::Regression(self.laplace.predict_regression(x)?)
        } else {
            Prediction::Classification(self.laplace.predict_sampled(x, draws, seed)?)
        })
    }
}

/// Trains a last-layer Laplace model of `file`: its deterministic network
/// by Adam with `config` (no checkpoints), then the posterior on its last
/// layer (full below 300 weights, Kronecker-factored above; λ by the
/// marginal likelihood), with statistics fitted on `x` and the targets.
pub(super) fn train(
    file: &ModelFile,
    x: &Tensor,
    targets: FitTargets<'_>,
    config: &TrainConfig,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(LaplaceModel, TrainSummary)> {
    let k = file.spec.outputs;
    let net = plain_mlp(&file.spec, k, file.seed, None)?;
    let (mut laplace, network, summary) = match (file.task, targets) {
        (Task::Regression, FitTargets::Values(y)) => {
            let r = Regressor::new(net, k)?.standardized_on(x, y)?;
            let summary = r.fit(x, y, config, &mut *progress)?;
            let network = r.checkpoint()?;
            (LastLayerLaplace::from_regressor(r)?, network, summary)
        }
        (Task::Classification, FitTargets::Labels(labels)) => {
            let c = Classifier::new(net, file.classes.clone())?.standardized_on(x)?;
            let summary = c.fit(x, labels, config, &mut *progress)?;
            let network = c.checkpoint()?;
            (LastLayerLaplace::from_classifier(c)?, network, summary)
        }
        _ => return Err(Error::invalid("fit_laplace", "the targets are not of the model's task")),
    };
    laplace.fit(x, LaplaceStructure::Auto)?;
    let c = laplace.curvature_parts().map(rounded).ok_or_else(|| Error::invalid("laplace", "not fitted"))?;
    let lambda = laplace.prior_precision();
    laplace.set_curvature(c, lambda)?;
    Ok((LaplaceModel { laplace, network, spec: file.spec.clone(), classes: file.classes.clone() }, summary))
}

/// An untrained Laplace model of `file` (its posterior not fitted).
pub(super) fn untrained(file: &ModelFile) -> Result<LaplaceModel> {
    LaplaceModel::new(&file.spec, &file.classes, Checkpoint::new())
}

/// The curvature tensors a file of `spec` must hold, from its [`KEY_LAPLACE`].
pub(super) fn expected(ck: &Checkpoint, spec: &MlpSpec) -> Result<Vec<(String, Vec<usize>)>> {
    let (full, _) = settings(ck)?;
    let (k, w) = last_layer(spec);
    curvature_shapes(full, k, w)
}
