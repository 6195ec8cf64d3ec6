//! Gradient checking against central finite differences, for every op's
//! tests (and for users' own ops and priors).
//!
//! The function under test may return any shape; it is reduced to a scalar
//! with fixed weights in [0.5, 1.5] so that a dropped or swapped element
//! changes the result (a plain sum would hide many mistakes).

use crate::{Tape, Tensor, Var};
use blitz_kernels::{Error, Result};

/// Tolerances and step of a gradient check.
#[derive(Debug, Clone, Copy)]
pub struct GradcheckOptions {
    /// Finite-difference step.
    pub step: f32,
    /// Absolute tolerance.
    pub atol: f32,
    /// Relative tolerance.
    pub rtol: f32,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions { step: 1e-2, atol: 2e-3, rtol: 1e-2 }
    }
}

/// Fixed weights for the scalar reduction (a cheap hash of the index).
fn weights(n: usize) -> Vec<f32> {
    (0..n).map(|i| 0.5 + ((i as u32).wrapping_mul(2_654_435_761) >> 8) as f32 / 16_777_216.0).collect()
}

fn weighted_sum(out: &Var) -> Result<Var> {
    let w = out.constant_like(Tensor::from_vec(weights(out.value().numel()), out.shape())?);
    out.mul(&w)?.sum()
}

/// Checks `f`'s gradients with respect to each of `inputs`.
///
/// `f` is called with one leaf per input on a fresh tape (seed 0, so any
/// random draws are the same in every call).
///
/// # Errors
/// [`Error::InvalidArgument`] describing the first element whose analytic
/// and numeric gradients disagree; errors of `f` itself.
pub fn gradcheck(inputs: &[Tensor], f: impl Fn(&[Var]) -> Result<Var>, opts: GradcheckOptions) -> Result<()> {
    let eval = |xs: &[Tensor]| -> Result<f64> {
        let tape = Tape::new(0);
        let vars: Vec<Var> = xs.iter().map(|x| tape.constant(x.clone())).collect();
        Ok(weighted_sum(&f(&vars)?)?.item()? as f64)
    };
    let tape = Tape::new(0);
    let leaves: Vec<Var> = inputs.iter().map(|x| tape.leaf(x.clone())).collect();
    let loss = weighted_sum(&f(&leaves)?)?;
    let grads = tape.backward(&loss)?;
    for (k, x) in inputs.iter().enumerate() {
        let analytic = match grads.wrt(&leaves[k]) {
            Some(g) => g.to_vec()?,
            None => vec![0.0; x.numel()],
        };
        let base = x.to_vec()?;
        for j in 0..base.len() {
            let mut probe: Vec<Tensor> = inputs.to_vec();
            let mut plus = base.clone();
            plus[j] += opts.step;
            probe[k] = Tensor::from_vec(plus, x.shape())?;
            let fp = eval(&probe)?;
            let mut minus = base.clone();
            minus[j] -= opts.step;
            probe[k] = Tensor::from_vec(minus, x.shape())?;
            let fm = eval(&probe)?;
            let numeric = ((fp - fm) / (2.0 * opts.step as f64)) as f32;
            let a = analytic[j];
            // Written so that a NaN on either side fails the check.
            let close = (a - numeric).abs() <= opts.atol + opts.rtol * a.abs().max(numeric.abs());
            if !close {
                return Err(Error::invalid(
                    "gradient",
                    format!("input {k} element {j}: analytic {a} vs numeric {numeric}"),
                ));
            }
        }
    }
    Ok(())
}
