//! From a trained deterministic network to its Bayesian counterpart:
//! every [`Linear`] becomes a [`BayesianLinear`] and every [`Conv`] a
//! [`BayesianConv`] whose means are the trained weights and whose sigma is
//! MOPED's delta·|w| (Krishnan et al. 2020); the other layers (activations,
//! pooling, ...) move over unchanged.

use crate::conv::{BayesianConv, BayesianConvOptions, Conv};
use crate::estimator::VariationalEstimator;
use crate::linear::Linear;
use crate::module::Module;
use crate::sequential::Sequential;
use crate::{BayesianLinear, BayesianLinearOptions};
use blitz_autograd::{Error, Param, Result};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// The options of the Bayesian layers a conversion makes.
#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    /// For each [`Linear`] (bias presence follows the source layer).
    pub linear: BayesianLinearOptions,
    /// For each [`Conv`]; `None`: BLiTZ's defaults for the layer's rank.
    pub conv: Option<BayesianConvOptions>,
}

/// Copies a trained tensor into a posterior mean.
fn set_mean(mu: &Param, w: &Param) -> Result<()> {
    mu.set(w.value())
}

/// The Bayesian counterpart of `l`: mu = its weights, sigma = `delta`·|mu|.
///
/// # Errors
/// [`Error::InvalidArgument`] for a bad `delta` or options.
pub fn bayesian_linear(l: &Linear, delta: f32, options: &BayesianLinearOptions) -> Result<BayesianLinear> {
    let shape = l.weight().value().shape().to_vec();
    let o = BayesianLinearOptions { bias: l.bias().is_some(), ..options.clone() };
    // The draws made here are all overwritten: mu by the weights, rho by MOPED.
    let b = BayesianLinear::with_options(shape[1], shape[0], o, &mut StdRng::seed_from_u64(0))?;
    set_mean(b.weight().0, l.weight())?;
    if let (Some((mu, _)), Some(w)) = (b.bias(), l.bias()) {
        set_mean(mu, w)?;
    }
    VariationalEstimator::moped(&b, delta)?;
    Ok(b)
}

/// The Bayesian counterpart of `c`: mu = its weights, sigma = `delta`·|mu|.
///
/// # Errors
/// [`Error::InvalidArgument`] for a bad `delta` or options.
pub fn bayesian_conv<const R: usize>(
    c: &Conv<R>,
    delta: f32,
    options: Option<&BayesianConvOptions>,
) -> Result<BayesianConv<R>> {
    let shape = c.weight().value().shape().to_vec();
    let p = c.conv_params().clone();
    let o = options.cloned().unwrap_or_else(|| BayesianConvOptions::for_rank(R));
    let o = BayesianConvOptions { bias: c.bias().is_some(), ..o };
    let kernel = shape[2..].to_vec();
    let b =
        BayesianConv::<R>::with_options(shape[1] * p.groups, shape[0], kernel, p, o, &mut StdRng::seed_from_u64(0))?;
    set_mean(b.weight().0, c.weight())?;
    if let (Some((mu, _)), Some(w)) = (b.bias(), c.bias()) {
        set_mean(mu, w)?;
    }
    VariationalEstimator::moped(&b, delta)?;
    Ok(b)
}

/// Converts a trained `Sequential` (consumed): each [`Linear`], [`Conv1d`](crate::Conv1d),
/// [`Conv2d`](crate::Conv2d), [`Conv3d`](crate::Conv3d) child becomes its
/// Bayesian counterpart by MOPED; the other children (nested `Sequential`s
/// included) keep their place and names.
///
/// # Errors
/// [`Error::InvalidArgument`] unless `delta > 0` and finite, or when the
/// network has no layer to convert.
pub fn to_bayesian(model: Sequential, delta: f32, options: &ConvertOptions) -> Result<Sequential> {
    if !(delta > 0.0 && delta.is_finite()) {
        return Err(Error::invalid("delta", format!("{delta}: must be positive and finite")));
    }
    let mut converted = 0usize;
    let out = convert_children(model, delta, options, &mut converted)?;
    if converted == 0 {
        return Err(Error::invalid("model", "no Linear or Conv layer to convert"));
    }
    Ok(out)
}

fn convert_children(
    model: Sequential,
    delta: f32,
    options: &ConvertOptions,
    converted: &mut usize,
) -> Result<Sequential> {
    let mut out = Sequential::new();
    for (name, child) in model.into_children() {
        let any = child.as_any();
        let replacement: Option<Box<dyn Module>> = if let Some(l) = any.and_then(|a| a.downcast_ref::<Linear>()) {
            Some(Box::new(bayesian_linear(l, delta, &options.linear)?))
        } else if let Some(c) = any.and_then(|a| a.downcast_ref::<Conv<1>>()) {
            Some(Box::new(bayesian_conv(c, delta, options.conv.as_ref())?))
        } else if let Some(c) = any.and_then(|a| a.downcast_ref::<Conv<2>>()) {
            Some(Box::new(bayesian_conv(c, delta, options.conv.as_ref())?))
        } else if let Some(c) = any.and_then(|a| a.downcast_ref::<Conv<3>>()) {
            Some(Box::new(bayesian_conv(c, delta, options.conv.as_ref())?))
        } else {
            None
        };
        out = match replacement {
            Some(m) => {
                *converted += 1;
                out.push_named_boxed(name, m)
            }
            None => out.push_named_boxed(name, child),
        };
    }
    Ok(out)
}
