//! IVON in a model file: the posterior N(m, σ²), σ² = 1/(λ(h + δ)), that
//! [`Ivon`] learns over a deterministic network, stored as its means m
//! (`fc1.weight`, …), its Hessian estimates h (`hessian.fc1.weight`, …)
//! and the sample size λ and weight decay δ ([`KEY_IVON`]).
//!
//! Loaded, the posterior becomes a network of Bayesian layers with
//! mu = m and sigma = σ, so that it predicts like Bayes by Backprop: each
//! draw a sample of every weight, named by (seed, draw), on any number of
//! threads at once, with the same bits.

use super::ModelFile;
use crate::checkpoint::Checkpoint;
use crate::classification::Classifier;
use crate::mlp::plain_mlp;
use crate::mlp::MIN_RHO;
use crate::module::params;
use crate::train::host_scaled;
use crate::uncertainty::{GaussianRegressor, Ivon, IvonConfig};
use crate::Sequential;
use blitz_autograd::{Error, Result, Tensor, Var};

/// Metadata key of IVON's sample size and weight decay:
/// `ess=…;weight_decay=…`.
pub const KEY_IVON: &str = "blitz.ivon";

/// The prefix of the Hessian estimates' tensors.
pub(super) const HESSIAN_PREFIX: &str = "hessian.";

/// IVON's posterior over a deterministic network's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct IvonPosterior {
    /// The parameters' names in the deterministic network (`fc1.weight`, …).
    pub names: Vec<String>,
    /// Their shapes.
    pub shapes: Vec<Vec<usize>>,
    /// The posterior means m.
    pub mean: Vec<Vec<f32>>,
    /// The Hessian estimates h.
    pub hessian: Vec<Vec<f32>>,
    /// The effective sample size λ.
    pub ess: f32,
    /// The weight decay δ (the prior precision over λ).
    pub weight_decay: f32,
}

impl IvonPosterior {
    /// What `ivon` learned over `net` (the network it trained).
    fn of(ivon: &Ivon, net: &Sequential) -> IvonPosterior {
        let named = params(net);
        IvonPosterior {
            names: named.iter().map(|(n, _)| n.clone()).collect(),
            shapes: named.iter().map(|(_, p)| p.shape()).collect(),
            mean: ivon.posterior_mean().to_vec(),
            hessian: ivon.hessian().to_vec(),
            ess: ivon.ess(),
            weight_decay: ivon.config().weight_decay,
        }
    }

    /// A posterior of `shapes` not yet read (the model's restore fills it).
    pub(super) fn empty(shapes: &[(String, Vec<usize>)]) -> IvonPosterior {
        IvonPosterior {
            names: shapes.iter().map(|(n, _)| n.clone()).collect(),
            shapes: shapes.iter().map(|(_, s)| s.clone()).collect(),
            mean: Vec::new(),
            hessian: Vec::new(),
            ess: 1.0,
            weight_decay: 1.0,
        }
    }

    /// The posterior standard deviations σ = 1/√(λ(h + δ)), in f64 then rounded.
    pub fn std(&self) -> Vec<Vec<f32>> {
        let (l, d) = (self.ess as f64, self.weight_decay as f64);
        self.hessian.iter().map(|h| h.iter().map(|&h| (1.0 / (l * (h as f64 + d)).sqrt()) as f32).collect()).collect()
    }

    /// Adds the means, the Hessian estimates and [`KEY_IVON`] to `ck`.
    pub(super) fn write(&self, ck: &mut Checkpoint) -> Result<()> {
        for (((n, s), m), h) in self.names.iter().zip(&self.shapes).zip(&self.mean).zip(&self.hessian) {
            ck.set_tensor(n.clone(), s, m.clone())?;
            ck.set_tensor(format!("{HESSIAN_PREFIX}{n}"), s, h.clone())?;
        }
        ck.set_metadata(KEY_IVON, format!("ess={};weight_decay={}", self.ess, self.weight_decay));
        Ok(())
    }

    /// Reads the posterior of this shape from `ck` (whose tensors' names and
    /// shapes are checked already), refusing values that give no normal σ.
    pub(super) fn read(&mut self, ck: &Checkpoint) -> Result<()> {
        let bad = |m: String| Error::Parse { path: ck.source().to_string(), message: m };
        let text = ck.metadata().get(KEY_IVON).ok_or_else(|| bad(format!("metadata {KEY_IVON} is missing (ivon)")))?;
        let mut fields = std::collections::BTreeMap::new();
        for part in text.split(';') {
            let (k, v) =
                part.split_once('=').ok_or_else(|| bad(format!("metadata {KEY_IVON}: {part:?} is not key=value")))?;
            fields.insert(k, v);
        }
        let num = |k: &str| -> Result<f32> {
            let v = fields.get(k).ok_or_else(|| bad(format!("metadata {KEY_IVON}: {k} is missing")))?;
            match v.parse::<f32>() {
                Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
                _ => Err(bad(format!("metadata {KEY_IVON}: {k} = {v:?} is not a positive finite number"))),
            }
        };
        let (ess, weight_decay) = (num("ess")?, num("weight_decay")?);
        if fields.len() != 2 {
            return Err(bad(format!("metadata {KEY_IVON}: unknown fields (ess, weight_decay)")));
        }
        let tensor = |name: &str| -> Result<Vec<f32>> {
            ck.tensor(name).map(|(_, d)| d.to_vec()).ok_or_else(|| bad(format!("tensor {name} is missing (ivon)")))
        };
        let mean = self.names.iter().map(|n| tensor(n)).collect::<Result<Vec<_>>>()?;
        let hessian = self.names.iter().map(|n| tensor(&format!("{HESSIAN_PREFIX}{n}"))).collect::<Result<Vec<_>>>()?;
        let read = IvonPosterior { mean, hessian, ess, weight_decay, ..self.clone() };
        for ((n, h), s) in read.names.iter().zip(&read.hessian).zip(read.std()) {
            if let Some((i, _)) = h.iter().zip(&s).enumerate().find(|(_, (&h, &s))| {
                !(h.is_finite() && h + weight_decay > 0.0 && s.is_normal() && rho_of(s) >= MIN_RHO)
            }) {
                return Err(bad(format!(
                    "tensor {HESSIAN_PREFIX}{n}: element {i} is {}, which gives no normal posterior std with {KEY_IVON} {text}",
                    h[i]
                )));
            }
        }
        *self = read;
        Ok(())
    }

    /// Sets the Bayesian network `net` (of [`crate::mlp::MlpSpec::build`]'s
    /// names) to this posterior: mu = m, rho = softplus⁻¹(σ).
    pub(super) fn load_into(&self, net: &Sequential) -> Result<()> {
        let named = params(net);
        let find = |name: String| {
            named
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, p)| p)
                .ok_or_else(|| Error::invalid("ivon", format!("the Bayesian network has no parameter {name}")))
        };
        for (((n, shape), m), s) in self.names.iter().zip(&self.shapes).zip(&self.mean).zip(self.std()) {
            find(format!("{n}_mu"))?.set(Tensor::from_vec(m.clone(), shape)?)?;
            find(format!("{n}_rho"))?.set(Tensor::from_vec(s.iter().map(|&s| rho_of(s)).collect(), shape)?)?;
        }
        Ok(())
    }
}

/// softplus⁻¹(σ) = ln(e^σ − 1), in f64.
fn rho_of(sigma: f32) -> f32 {
    let s = sigma as f64;
    if s > 30.0 {
        sigma
    } else {
        s.exp_m1().ln() as f32
    }
}

/// Trains `model` (the Bayesian predictor of [`predictor`]) by IVON on
/// inputs `x` (`[n, features]`, transformed, original units) and targets
/// `y` (`[n, outputs]`): the deterministic network `plain_mlp` of the
/// file's sizes from its seed, a mean and a variance per output, by the
/// Gaussian negative log-likelihood, with statistics fitted on `x` and
/// `y`; then `model` holds the posterior. Returns it and the steps taken.
pub(super) fn train_regression(
    file: &ModelFile,
    x: &Tensor,
    y: &Tensor,
    config: &IvonConfig,
    model: &mut GaussianRegressor<Sequential>,
) -> Result<(IvonPosterior, usize)> {
    let outputs = file.spec.outputs;
    let net = plain_mlp(&file.spec, 2 * outputs, file.seed, None)?;
    let gr = GaussianRegressor::new(net, outputs)?.standardized_on(x, y)?;
    let (xs, ys) = (host_scaled(x, gr.x_scale.as_ref())?, host_scaled(y, gr.y_scale.as_ref())?);
    let loss = |out: &Var, batch: &[usize]| -> Result<Var> {
        let yb = out.tape().constant(crate::data::take_rows(&ys, batch)?);
        gr.nll(out, &yb)
    };
    let ivon = Ivon::fit(&gr.net, &xs, loss, config)?;
    (model.x_scale, model.y_scale) = (gr.x_scale.clone(), gr.y_scale.clone());
    let posterior = IvonPosterior::of(&ivon, &gr.net);
    posterior.load_into(&model.net)?;
    Ok((posterior, ivon.steps()))
}

/// [`train_regression`] for a classifier: cross-entropy on `labels`.
pub(super) fn train_classification(
    file: &ModelFile,
    x: &Tensor,
    labels: &[usize],
    config: &IvonConfig,
    model: &mut Classifier<Sequential>,
) -> Result<(IvonPosterior, usize)> {
    let net = plain_mlp(&file.spec, file.spec.outputs, file.seed, None)?;
    let c = Classifier::new(net, file.classes.clone())?.standardized_on(x)?;
    let ivon = Ivon::fit_classifier(&c, x, labels, config)?;
    model.x_scale = c.x_scale.clone();
    let posterior = IvonPosterior::of(&ivon, &c.net);
    posterior.load_into(&model.net)?;
    Ok((posterior, ivon.steps()))
}

/// The Bayesian network of `outputs` outputs that holds a posterior of
/// `file`'s sizes (mu = m, sigma = σ once loaded).
pub(super) fn predictor(file: &ModelFile, outputs: usize) -> Result<Sequential> {
    crate::mlp::MlpSpec { outputs, ..file.spec.clone() }.build(file.seed)
}
