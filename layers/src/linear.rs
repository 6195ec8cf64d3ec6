//! A deterministic fully connected layer, y = x·Wᵀ + b (W is (out, in), as in torch).

use crate::module::{join_name, Module};
use blitz_autograd::{Error, Param, Result, Tensor, Var};
use rand::Rng;

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
    /// [`Error::InvalidArgument`] when a size is 0.
    pub fn new(in_features: usize, out_features: usize, bias: bool, rng: &mut impl Rng) -> Result<Linear> {
        if in_features == 0 || out_features == 0 {
            return Err(Error::invalid("features", format!("{in_features} -> {out_features}: sizes must be > 0")));
        }
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
