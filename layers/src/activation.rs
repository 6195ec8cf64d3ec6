//! Parameter-free activations as modules, so they fit in a `Sequential`.

use crate::module::Module;
use blitz_autograd::{Param, Result, Var};

macro_rules! activation {
    ($(#[$doc:meta])* $name:ident, $method:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl Module for $name {
            fn forward(&self, x: &Var) -> Result<Var> {
                x.$method()
            }
            fn visit_params(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
        }
    };
}

activation!(
    /// max(x, 0).
    ReLU,
    relu
);
activation!(
    /// tanh x.
    Tanh,
    tanh
);
activation!(
    /// 1 / (1 + e⁻ˣ).
    Sigmoid,
    sigmoid
);
activation!(
    /// ln(1 + eˣ).
    Softplus,
    softplus
);
activation!(
    /// Softmax over the last axis: logits to class probabilities (its
    /// backward is y ∘ (g − ⟨g, y⟩); gradient-checked in the autograd tests).
    Softmax,
    softmax
);
activation!(
    /// Log-softmax over the last axis (stable for large logits).
    LogSoftmax,
    log_softmax
);

/// Standardises inputs with fixed statistics, x ↦ (x − mean) / std, inside
/// the model, so that every input it sees (training data, noise, shifted
/// data) gets the same transform; e.g. pixels with a data set's mean and std.
#[derive(Debug, Clone, Copy)]
pub struct Standardize {
    mean: f32,
    std: f32,
}

impl Standardize {
    /// x ↦ (x − mean) / std.
    ///
    /// # Errors
    /// [`blitz_autograd::Error::InvalidArgument`] unless `std > 0` and both are finite.
    pub fn new(mean: f32, std: f32) -> Result<Standardize> {
        if !(std > 0.0 && std.is_finite() && mean.is_finite()) {
            return Err(blitz_autograd::Error::invalid(
                "Standardize",
                format!("mean {mean}, std {std}: std must be positive"),
            ));
        }
        Ok(Standardize { mean, std })
    }
}

impl Module for Standardize {
    fn forward(&self, x: &Var) -> Result<Var> {
        x.add_scalar(-self.mean)?.mul_scalar(1.0 / self.std)
    }

    fn visit_params(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
}
