//! Softmax and log-softmax over the last axis. With y = softmax(x) the
//! Jacobian is diag(y) − y·yᵀ, so ∂L/∂x = y ∘ (g − ⟨g, y⟩); for log-softmax
//! ∂L/∂x = g − softmax(x)·Σ g. Both use only the saved output.

use crate::Var;
use blitz_kernels::{ops, Error, Result};

impl Var {
    fn softmax_impl(&self, log: bool) -> Result<Var> {
        let ctx = self.tape().context();
        let op = if log { "log_softmax" } else { "softmax" };
        let n = match self.shape().last() {
            Some(&n) if n > 0 => n,
            _ => return Err(Error::Empty { op }),
        };
        let x = self.value();
        let y = x.with_buffer(ops::softmax_in(&ctx, x.buffer(), n, log)?);
        let y_saved = y.clone();
        self.tape().record(
            op,
            y,
            &[self],
            Box::new(move |g, _| {
                Ok(vec![Some(y_saved.with_buffer(ops::softmax_backward_in(
                    &ctx,
                    y_saved.buffer(),
                    g.buffer(),
                    n,
                    log,
                )?))])
            }),
        )
    }

    /// Softmax over the last axis.
    ///
    /// # Errors
    /// [`Error::Empty`] for a scalar or a zero-length last axis.
    pub fn softmax(&self) -> Result<Var> {
        self.softmax_impl(false)
    }

    /// Log-softmax over the last axis (stable for large logits).
    ///
    /// # Errors
    /// [`Error::Empty`] for a scalar or a zero-length last axis.
    pub fn log_softmax(&self) -> Result<Var> {
        self.softmax_impl(true)
    }
}
