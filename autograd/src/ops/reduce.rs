//! Reductions. For s = Σ x the chain rule gives ∂L/∂x_i = ∂L/∂s for every i:
//! backward repeats the gradient along the reduced axes. For m = max x it
//! routes the gradient to the position of the maximum only.

use crate::{Tensor, Var};
use blitz_kernels::shape::split_at_axis;
use blitz_kernels::{ops, Error, Result};

fn reduced_shape(shape: &[usize], axis: usize, keepdim: bool) -> Vec<usize> {
    let mut s = shape.to_vec();
    if keepdim {
        s[axis] = 1;
    } else {
        s.remove(axis);
    }
    s
}

impl Var {
    /// Σ of all elements, shape `[]`.
    ///
    /// # Errors
    /// Kernel (CUDA) failures only.
    pub fn sum(&self) -> Result<Var> {
        let ctx = self.tape().context();
        let x = self.value().clone();
        let s = Tensor::from_parts(ops::sum_all_in(&ctx, x.buffer())?, Vec::new());
        self.tape().record(
            "sum",
            s,
            &[self],
            Box::new(move |g, _| {
                Ok(vec![Some(x.with_buffer(ops::expand_axis_in(&ctx, g.buffer(), 1, x.numel(), 1)?))])
            }),
        )
    }

    /// Mean of all elements, shape `[]`.
    ///
    /// # Errors
    /// [`Error::Empty`] for a tensor with no elements.
    pub fn mean(&self) -> Result<Var> {
        let n = self.value().numel();
        if n == 0 {
            return Err(Error::Empty { op: "mean" });
        }
        self.sum()?.mul_scalar(1.0 / n as f32)
    }

    /// Σ along `axis`, which is dropped (or kept with length 1).
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`].
    pub fn sum_axis(&self, axis: usize, keepdim: bool) -> Result<Var> {
        let ctx = self.tape().context();
        let x = self.value().clone();
        let (outer, len, inner) = split_at_axis("sum_axis", x.shape(), axis)?;
        let s = Tensor::from_parts(
            ops::sum_axis_in(&ctx, x.buffer(), outer, len, inner)?,
            reduced_shape(x.shape(), axis, keepdim),
        );
        self.tape().record(
            "sum_axis",
            s,
            &[self],
            Box::new(move |g, _| {
                Ok(vec![Some(x.with_buffer(ops::expand_axis_in(&ctx, g.buffer(), outer, len, inner)?))])
            }),
        )
    }

    /// Mean along `axis`.
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`]; [`Error::Empty`] for a zero-length axis.
    pub fn mean_axis(&self, axis: usize, keepdim: bool) -> Result<Var> {
        let (_, len, _) = split_at_axis("mean_axis", self.shape(), axis)?;
        if len == 0 {
            return Err(Error::Empty { op: "mean_axis" });
        }
        self.sum_axis(axis, keepdim)?.mul_scalar(1.0 / len as f32)
    }

    /// Maximum along `axis`; the gradient goes to the (first) arg-max.
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`]; [`Error::Empty`] for a zero-length axis.
    pub fn max_axis(&self, axis: usize, keepdim: bool) -> Result<Var> {
        let ctx = self.tape().context();
        let x = self.value().clone();
        let (outer, len, inner) = split_at_axis("max_axis", x.shape(), axis)?;
        if len == 0 {
            return Err(Error::Empty { op: "max_axis" });
        }
        let (m, arg) = ops::max_axis_in(&ctx, x.buffer(), outer, len, inner)?;
        let m = Tensor::from_parts(m, reduced_shape(x.shape(), axis, keepdim));
        self.tape().record(
            "max_axis",
            m,
            &[self],
            Box::new(move |g, _| {
                Ok(vec![Some(x.with_buffer(ops::max_axis_backward_in(&ctx, g.buffer(), &arg, outer, len, inner)?))])
            }),
        )
    }
}
