//! Matrix products. For C = A·B the chain rule gives
//!   ∂L/∂A = ∂L/∂C · Bᵀ   and   ∂L/∂B = Aᵀ · ∂L/∂C,
//! and for C = A·Bᵀ (a linear layer with weights stored out×in)
//!   ∂L/∂A = ∂L/∂C · B    and   ∂L/∂B = (∂L/∂C)ᵀ · A.
//! The transposes are strides, never copies.

use crate::{Tensor, Var};
use blitz_kernels::{ops, Error, Result, Transpose};

/// (batch, m, k, n) of op(A)·op(B) for rank-2 or equal-batch rank-3 operands.
fn dims(a: &[usize], b: &[usize], b_transposed: bool) -> Result<(usize, usize, usize, usize)> {
    let err = || Error::ShapeMismatch {
        op: if b_transposed { "matmul_t" } else { "matmul" },
        lhs: a.to_vec(),
        rhs: b.to_vec(),
    };
    let (batch, a2, b2) = match (a.len(), b.len()) {
        (2, 2) => (1, a, b),
        (3, 3) if a[0] == b[0] => (a[0], &a[1..], &b[1..]),
        _ => return Err(err()),
    };
    let (m, k) = (a2[0], a2[1]);
    let (kb, n) = if b_transposed { (b2[1], b2[0]) } else { (b2[0], b2[1]) };
    if k != kb {
        return Err(err());
    }
    Ok((batch, m, k, n))
}

fn out_shape(a: &[usize], m: usize, n: usize) -> Vec<usize> {
    if a.len() == 3 {
        vec![a[0], m, n]
    } else {
        vec![m, n]
    }
}

impl Var {
    /// A·B for `[m, k]·[k, n]` or batched `[b, m, k]·[b, k, n]`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when inner dimensions or batches differ.
    pub fn matmul(&self, other: &Var) -> Result<Var> {
        self.check_same_device("matmul", other)?;
        let (batch, m, k, n) = dims(self.shape(), other.shape(), false)?;
        let (a, b) = (self.value().clone(), other.value().clone());
        let c = ops::gemm(a.buffer(), b.buffer(), batch, m, k, n, Transpose::NN)?;
        let c = Tensor::from_parts(c, out_shape(a.shape(), m, n));
        self.tape().record(
            "matmul",
            c,
            &[self, other],
            Box::new(move |g, needs| {
                // ∂A = G·Bᵀ (m×n by n×k),  ∂B = Aᵀ·G (k×m by m×n).
                let ga =
                    needs[0].then(|| ops::gemm(g.buffer(), b.buffer(), batch, m, n, k, Transpose::NT)).transpose()?;
                let gb =
                    needs[1].then(|| ops::gemm(a.buffer(), g.buffer(), batch, k, m, n, Transpose::TN)).transpose()?;
                Ok(vec![ga.map(|t| a.with_buffer(t)), gb.map(|t| b.with_buffer(t))])
            }),
        )
    }

    /// A·Bᵀ for `[m, k]·[n, k]ᵀ` (or batched): the linear layer `x·Wᵀ`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the k dimensions or batches differ.
    pub fn matmul_t(&self, other: &Var) -> Result<Var> {
        self.check_same_device("matmul_t", other)?;
        let (batch, m, k, n) = dims(self.shape(), other.shape(), true)?;
        let (a, b) = (self.value().clone(), other.value().clone());
        let c = ops::gemm(a.buffer(), b.buffer(), batch, m, k, n, Transpose::NT)?;
        let c = Tensor::from_parts(c, out_shape(a.shape(), m, n));
        self.tape().record(
            "matmul_t",
            c,
            &[self, other],
            Box::new(move |g, needs| {
                // ∂A = G·B (m×n by n×k),  ∂B = Gᵀ·A (n×m by m×k).
                let ga =
                    needs[0].then(|| ops::gemm(g.buffer(), b.buffer(), batch, m, n, k, Transpose::NN)).transpose()?;
                let gb =
                    needs[1].then(|| ops::gemm(g.buffer(), a.buffer(), batch, n, m, k, Transpose::TN)).transpose()?;
                Ok(vec![ga.map(|t| a.with_buffer(t)), gb.map(|t| b.with_buffer(t))])
            }),
        )
    }
}
