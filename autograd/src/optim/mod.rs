//! Optimizers: they read a [`Gradients`] and update the parameters in place.
//! A step whose gradients hold a NaN or infinity is refused before anything
//! is touched, so one bad batch never corrupts a model.

mod adam;
mod clip;
mod sgd;

pub use adam::{Adam, AdamMoments};
pub use clip::clip_grad_norm;
pub use sgd::Sgd;

use crate::Gradients;
use blitz_kernels::{ops, Buffer, Error, Result};

/// Something that updates parameters from their gradients.
///
/// A step updates each parameter's storage in place, unless a tape still
/// holds the forward pass (its `Var`s share that storage): then the
/// parameter is copied first (copy-on-write). Drop the pass's tape and
/// `Var`s before `step` to save that copy.
pub trait Optimizer {
    /// Applies one update.
    ///
    /// # Errors
    /// [`Error::NonFinite`] (parameters unchanged) when a gradient is not
    /// finite; device mismatches.
    fn step(&mut self, grads: &Gradients) -> Result<()>;

    /// The learning rate.
    fn learning_rate(&self) -> f32;

    /// Changes the learning rate (schedules).
    fn set_learning_rate(&mut self, lr: f32);
}

/// Refuses the step when any gradient is non-finite, naming the parameter.
/// All gradients are checked together: on a GPU that is one read back to the
/// host per step, not one per parameter.
pub(crate) fn check_finite(grads: &Gradients) -> Result<()> {
    let params = grads.params();
    let buffers: Vec<&Buffer> = params.iter().map(|(_, g)| g.buffer()).collect();
    match ops::first_non_finite_in(grads.context(), &buffers)? {
        Some(i) => Err(Error::NonFinite { what: format!("gradient of {}", params[i].0.name()) }),
        None => Ok(()),
    }
}

/// Refuses a non-positive or non-finite hyperparameter.
pub(crate) fn check_positive(name: &'static str, v: f32) -> Result<()> {
    if !(v > 0.0 && v.is_finite()) {
        return Err(Error::invalid(name, format!("{v} (must be positive and finite)")));
    }
    Ok(())
}

/// Refuses a value outside [0, 1).
pub(crate) fn check_unit(name: &'static str, v: f32) -> Result<()> {
    if !(0.0..1.0).contains(&v) {
        return Err(Error::invalid(name, format!("{v} (must be in [0, 1))")));
    }
    Ok(())
}
