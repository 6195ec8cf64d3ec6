//! A deterministic fully connected layer, y = x·Wᵀ + b (W is (out, in), as in torch).

use crate::module::{join_name, Module};
use blitz_autograd::{Error, Param, Result, Tensor, Var};
use blitz_kernels::limits;
use rand::Rng;

/// Copies of each parameter tensor that training holds at once: the value,
/// its gradient, Adam's two moments, and one more (a recycled buffer or an
/// update in flight). The estimate [`check_params`] compares with the limit.
pub(crate) const TRAINING_COPIES: u64 = 5;

/// The parameter tensors of a layer about to be built, `shapes` (each
/// `tensors_per_shape` times: 2 for a posterior's mu and rho): their element
/// counts in checked arithmetic, and their memory in training
/// ([`TRAINING_COPIES`] copies) against [`limits::check_memory`]. `sizes`
/// names the layer's arguments in the error.
///
/// # Errors
/// [`Error::ShapeOverflow`] naming `layer` and the shape whose count
/// overflows; [`Error::TooLarge`] naming the layer and its sizes.
pub(crate) fn check_params(
    layer: &'static str,
    sizes: impl FnOnce() -> String,
    shapes: &[&[usize]],
    tensors_per_shape: u64,
) -> Result<()> {
    let mut total = 0usize;
    for s in shapes {
        let n = limits::checked_numel(layer, s)?;
        total = total.checked_add(n).ok_or_else(|| Error::ShapeOverflow { op: layer, shape: s.to_vec() })?;
    }
    let bytes = limits::f32_bytes(total).saturating_mul(tensors_per_shape).saturating_mul(TRAINING_COPIES);
    limits::check_memory(bytes, || {
        format!(
            "{layer}({}): {total} parameters{}, with their gradients and optimiser state",
            sizes(),
            if tensors_per_shape > 1 { format!(" × {tensors_per_shape}") } else { String::new() }
        )
    })
}

/// `gates · hidden` for the gate weights of a recurrent layer, or an
/// [`Error::ShapeOverflow`] naming `op`.
pub(crate) fn gate_width(op: &'static str, gates: usize, hidden: usize) -> Result<usize> {
    gates.checked_mul(hidden).ok_or(Error::ShapeOverflow { op, shape: vec![gates, hidden] })
}

/// Checks that the last axis of `x` holds `in_features` values.
pub(crate) fn check_features(op: &'static str, x: &Var, in_features: usize) -> Result<()> {
    if x.shape().last() != Some(&in_features) {
        return Err(Error::ShapeMismatch { op, lhs: x.shape().to_vec(), rhs: vec![in_features] });
    }
    Ok(())
}

/// `y = x·Wᵀ + b` with `weight` of shape (out, in) and `bias` of shape (out).
#[derive(Debug)]
pub struct Linear {
    in_features: usize,
    weight: Param,
    bias: Option<Param>,
}

impl Linear {
    /// A layer initialised like torch: U(−1/√in, 1/√in) for weight and bias.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when a size is 0; [`Error::ShapeOverflow`]
    /// or [`Error::TooLarge`] for sizes whose parameters cannot be held
    /// ([`blitz_kernels::limits`]).
    pub fn new(in_features: usize, out_features: usize, bias: bool, rng: &mut impl Rng) -> Result<Linear> {
        if in_features == 0 || out_features == 0 {
            return Err(Error::invalid("features", format!("{in_features} -> {out_features}: sizes must be > 0")));
        }
        let sizes = || format!("{in_features} -> {out_features}");
        check_params("Linear", sizes, &[&[out_features, in_features], &[out_features]], 1)?;
        let bound = 1.0 / (in_features as f32).sqrt();
        let weight = Param::new("weight", Tensor::rand_uniform(&[out_features, in_features], -bound, bound, rng)?);
        let bias = if bias {
            Some(Param::new("bias", Tensor::rand_uniform(&[out_features], -bound, bound, rng)?))
        } else {
            None
        };
        Ok(Linear { in_features, weight, bias })
    }

    /// The weight, shape (out, in).
    pub fn weight(&self) -> &Param {
        &self.weight
    }

    /// The bias, shape (out), if any.
    pub fn bias(&self) -> Option<&Param> {
        self.bias.as_ref()
    }
}

impl Module for Linear {
    fn forward(&self, x: &Var) -> Result<Var> {
        check_features("Linear", x, self.in_features)?;
        let tape = x.tape();
        let bias = self.bias.as_ref().map(|b| tape.param(b));
        x.linear(&tape.param(&self.weight), bias.as_ref())
    }

    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&join_name(prefix, "weight"), &self.weight);
        if let Some(b) = &self.bias {
            f(&join_name(prefix, "bias"), b);
        }
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}
