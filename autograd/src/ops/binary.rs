//! z = a ∘ b with NumPy broadcasting.
//! Chain rule: ∂L/∂a = Σ_broadcast (∂L/∂z · ∂z/∂a), summed over every axis
//! along which `a` was repeated (likewise for b).

use crate::{Tensor, Var};
use blitz_kernels::shape::broadcast_shape;
use blitz_kernels::{ops, BinaryOp, Result};

impl Var {
    /// Applies a ∘ b with broadcasting (the methods below name each op).
    ///
    /// # Errors
    /// [`blitz_kernels::Error::ShapeMismatch`] when the shapes do not
    /// broadcast; device or tape mismatches.
    pub fn binary(&self, op: BinaryOp, other: &Var) -> Result<Var> {
        let ctx = self.tape().context();
        self.check_same_device(op.name(), other)?;
        let out_shape = broadcast_shape(op.name(), self.shape(), other.shape())?;
        let (a, b) = (self.value().clone(), other.value().clone());
        let z = ops::binary_in(&ctx, op, a.buffer(), a.shape(), b.buffer(), b.shape(), &out_shape)?;
        let z = Tensor::from_parts(z, out_shape.clone());
        self.tape().record(
            op.name(),
            z,
            &[self, other],
            Box::new(move |g, needs| {
                let (ga, gb) = ops::binary_backward_in(
                    &ctx,
                    op,
                    a.buffer(),
                    a.shape(),
                    b.buffer(),
                    b.shape(),
                    g.buffer(),
                    &out_shape,
                    (needs[0], needs[1]),
                )?;
                Ok(vec![ga.map(|t| a.with_buffer(t)), gb.map(|t| b.with_buffer(t))])
            }),
        )
    }

    /// a + b
    pub fn add(&self, other: &Var) -> Result<Var> {
        self.binary(BinaryOp::Add, other)
    }
    /// a − b
    pub fn sub(&self, other: &Var) -> Result<Var> {
        self.binary(BinaryOp::Sub, other)
    }
    /// a · b (element-wise)
    pub fn mul(&self, other: &Var) -> Result<Var> {
        self.binary(BinaryOp::Mul, other)
    }
    /// a / b (element-wise)
    pub fn div(&self, other: &Var) -> Result<Var> {
        self.binary(BinaryOp::Div, other)
    }
}
