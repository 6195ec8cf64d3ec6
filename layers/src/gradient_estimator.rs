//! Gradient estimators of a Bayesian layer's expected output, chosen per
//! layer with [`Estimator`], and the samplers they need.
//!
//! All four give the same expected pre-activation; they differ in the
//! variance of the minibatch gradient. Plain reparameterisation shares one
//! weight draw across the batch, so its noise does not average out over
//! examples; Flipout and local reparameterisation decorrelate the examples.

use crate::kl::KlMode;
use crate::noise::random_signs;
use crate::posterior::GaussianParam;
use crate::prior::Prior;
use blitz_autograd::{Device, Result, Tape, Tensor, Var};
use blitz_kernels::ops;

/// How a Bayesian layer turns its weight posterior into an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Estimator {
    /// One weight draw w = mu + sigma·eps per forward, shared by the batch (BLiTZ's).
    #[default]
    Reparameterisation,
    /// Flipout (Wen et al. 2018): x·mu + ((x∘s_in)·ΔW)∘s_out with ΔW = sigma∘eps
    /// and random signs per example — only the perturbation is flipped.
    Flipout,
    /// Local reparameterisation (Kingma et al. 2015): pre-activations drawn
    /// from N(x·mu, x²·sigma²), no weight draw (affine layers only).
    LocalReparameterisation,
    /// Radial (Farquhar et al. 2020): w = mu + sigma·r·eps/‖eps‖ with r ~ |N(0, 1)|,
    /// and its KL: −Σ ln sigma − ln p(w).
    Radial,
}

/// A signs tensor for `shape` drawn on `tape`, as a constant.
fn signs(tape: &Tape, device: Device, shape: &[usize]) -> Result<Var> {
    let (seed, offset) = tape.draw(shape.iter().product());
    Ok(tape.constant(random_signs(&tape.context(), device, seed, offset, shape)?))
}

/// Where the features lie in an affine layer's input and output: the last
/// axis (linear: every row its own example) or axis 1 (convolution: one sign
/// per example and channel, broadcast over the spatial axes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FeatureAxis {
    Last,
    Channels,
}

impl FeatureAxis {
    fn sign_shape(self, shape: &[usize]) -> Vec<usize> {
        match self {
            FeatureAxis::Last => shape.to_vec(),
            FeatureAxis::Channels => shape.iter().enumerate().map(|(i, &d)| if i < 2 { d } else { 1 }).collect(),
        }
    }
}

/// What an affine Bayesian layer needs to run any estimator.
pub(crate) struct AffineLayer<'a> {
    pub weight: &'a GaussianParam,
    pub bias: Option<&'a GaussianParam>,
    pub prior: &'a dyn Prior,
    pub kl: KlMode,
    pub estimator: Estimator,
    pub frozen: bool,
    pub axis: FeatureAxis,
}

impl AffineLayer<'_> {
    /// The layer's output for input `x`, where `f(x, w, b)` is its affine
    /// map (x·wᵀ + b, or a convolution); KL terms go to `x`'s tape.
    pub(crate) fn forward(&self, x: &Var, f: impl Fn(&Var, &Var, Option<&Var>) -> Result<Var>) -> Result<Var> {
        let tape = x.tape();
        let (prior, kl) = (self.prior, self.kl);
        if self.frozen {
            let b = self.bias.map(|b| tape.param(&b.mu));
            return f(x, &tape.param(&self.weight.mu), b.as_ref());
        }
        match self.estimator {
            Estimator::Reparameterisation => {
                let w = self.weight.sample(tape, false, prior, kl)?;
                let b = self.bias.map(|b| b.sample(tape, false, prior, kl)).transpose()?;
                f(x, &w, b.as_ref())
            }
            Estimator::Radial => {
                let w = self.weight.sample_radial(tape, false, prior)?;
                let b = self.bias.map(|b| b.sample_radial(tape, false, prior)).transpose()?;
                f(x, &w, b.as_ref())
            }
            Estimator::Flipout => {
                let (mu, dw) = self.weight.perturbation(tape, prior, kl)?;
                let bias = self.bias.map(|b| b.perturbation(tape, prior, kl)).transpose()?;
                let mean = f(x, &mu, bias.as_ref().map(|(m, _)| m))?;
                let s_in = signs(tape, x.device(), &self.axis.sign_shape(x.shape()))?;
                let s_out = signs(tape, x.device(), &self.axis.sign_shape(mean.shape()))?;
                // The bias perturbation rides on the output signs too (an input of constant 1).
                let pert = f(&x.mul(&s_in)?, &dw, bias.as_ref().map(|(_, d)| d))?;
                mean.add(&pert.mul(&s_out)?)
            }
            Estimator::LocalReparameterisation => {
                let (mu, var) = self.weight.mean_and_variance(tape)?;
                let bias = self.bias.map(|b| b.mean_and_variance(tape)).transpose()?;
                let mean = f(x, &mu, bias.as_ref().map(|(m, _)| m))?;
                let variance = f(&x.square()?, &var, bias.as_ref().map(|(_, v)| v))?;
                let (seed, offset) = tape.draw(mean.value().numel());
                let eps = Tensor::from_buffer(
                    ops::normal_in(&tape.context(), x.device(), seed, offset, mean.value().numel())?,
                    mean.shape(),
                )?;
                // The floor keeps sqrt's gradient finite for an all-zero input row.
                let std = variance.add_scalar(1e-12)?.sqrt()?;
                let out = mean.add(&std.mul(&tape.constant(eps))?)?;
                self.weight.add_kl_without_draw(tape, prior, kl)?;
                if let Some(b) = self.bias {
                    b.add_kl_without_draw(tape, prior, kl)?;
                }
                Ok(out)
            }
        }
    }
}
