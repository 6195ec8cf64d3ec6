//! Losses, each the mean over examples, built from differentiable ops (so
//! their gradients come from the ops' own backward rules) with their own
//! shape checks: a prediction of shape `[n, 1]` against labels of shape `[n]`
//! is refused, not silently broadcast to `[n, n]`.

use crate::Var;
use blitz_kernels::{Error, Result};

/// ln √(2π).
const LN_SQRT_2PI: f32 = 0.918_938_5;

/// Mean squared error, mean((pred − target)²).
///
/// # Errors
/// [`Error::ShapeMismatch`] unless `pred` and `target` have the same shape;
/// [`Error::Empty`] for empty inputs.
pub fn mse(pred: &Var, target: &Var) -> Result<Var> {
    pred.check_same_shape("mse", target)?;
    pred.sub(target)?.square()?.mean()
}

/// Cross-entropy of `[n, classes]` logits against class indices, averaged over n:
/// −mean(log_softmax(logits)[i, label_i]).
///
/// # Errors
/// [`Error::InvalidShape`] unless logits are rank 2; [`Error::ShapeMismatch`]
/// when there is not one label per row; [`Error::IndexOutOfRange`] for a label
/// ≥ classes; [`Error::Empty`] for no rows.
pub fn cross_entropy(logits: &Var, labels: &[usize]) -> Result<Var> {
    if logits.shape().len() != 2 {
        return Err(Error::InvalidShape {
            op: "cross_entropy",
            shape: logits.shape().to_vec(),
            reason: "logits must be [batch, classes]".into(),
        });
    }
    logits.log_softmax()?.gather_rows(labels)?.mean()?.neg()
}

/// Gaussian negative log-likelihood with a predicted mean and log-variance,
/// averaged: mean(½·log_var + ½·(target − mean)²·e^(−log_var) + ln √(2π)).
/// `log_var` may broadcast against `mean` (one learned noise level, say).
///
/// # Errors
/// [`Error::ShapeMismatch`] unless `mean` and `target` have the same shape
/// and `log_var` broadcasts to it.
pub fn gaussian_nll(mean: &Var, log_var: &Var, target: &Var) -> Result<Var> {
    mean.check_same_shape("gaussian_nll", target)?;
    let sq = target.sub(mean)?.square()?;
    let precision = log_var.neg()?.exp()?;
    let per = sq.mul(&precision)?.add(log_var)?.mul_scalar(0.5)?.add_scalar(LN_SQRT_2PI)?;
    if per.shape() != mean.shape() {
        return Err(Error::ShapeMismatch {
            op: "gaussian_nll",
            lhs: mean.shape().to_vec(),
            rhs: log_var.shape().to_vec(),
        });
    }
    per.mean()
}

/// Binary cross-entropy on logits, averaged: mean(softplus(x) − x·t), which
/// equals −[t·ln σ(x) + (1−t)·ln(1−σ(x))] without overflow.
///
/// # Errors
/// [`Error::ShapeMismatch`] unless `logits` and `target` have the same shape.
pub fn bce_with_logits(logits: &Var, target: &Var) -> Result<Var> {
    logits.check_same_shape("bce_with_logits", target)?;
    logits.softplus()?.sub(&logits.mul(target)?)?.mean()
}
