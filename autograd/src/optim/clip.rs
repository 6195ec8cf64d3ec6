//! Gradient clipping by global norm.

use crate::Gradients;
use blitz_kernels::{ops, Error, Result};

/// Scales all gradients by min(1, max_norm / ‖g‖) where ‖g‖ is the L2 norm
/// over every parameter together. Returns the norm before clipping.
///
/// # Errors
/// [`Error::InvalidArgument`] for a non-positive `max_norm`;
/// [`Error::NonFinite`] when the norm is not finite (nothing is scaled).
pub fn clip_grad_norm(grads: &mut Gradients, max_norm: f32) -> Result<f32> {
    if !(max_norm > 0.0 && max_norm.is_finite()) {
        return Err(Error::invalid("max_norm", format!("{max_norm}")));
    }
    let ctx = grads.context().clone();
    // Every gradient's Σg², read back together (one GPU synchronisation).
    let buffers: Vec<&blitz_kernels::Buffer> = grads.params().iter().map(|(_, g)| g.buffer()).collect();
    let total: f64 = ops::sum_squares_many_in(&ctx, &buffers)?.iter().sum();
    let norm = total.sqrt() as f32;
    if !norm.is_finite() {
        return Err(Error::NonFinite { what: "gradient norm".into() });
    }
    if norm > max_norm {
        let s = max_norm / norm;
        for (_, g) in grads.params_mut() {
            ops::scale_inplace_in(&ctx, g.buffer_mut(), s)?;
        }
    }
    Ok(norm)
}
