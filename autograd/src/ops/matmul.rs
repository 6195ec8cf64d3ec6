//! Matrix products. For C = A·B the chain rule gives
//!   ∂L/∂A = ∂L/∂C · Bᵀ   and   ∂L/∂B = Aᵀ · ∂L/∂C,
//! and for C = A·Bᵀ (a linear layer with weights stored out×in)
//!   ∂L/∂A = ∂L/∂C · B    and   ∂L/∂B = (∂L/∂C)ᵀ · A.
//! The transposes are strides, never copies. A linear layer's x·Wᵀ + b is
//! one op ([`Var::linear`]): the bias goes into the product's own buffer,
//! and its gradient is ∂L/∂C summed over the rows.

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
        let ctx = self.tape().context();
        let c = ops::gemm_in(&ctx, a.buffer(), b.buffer(), batch, m, k, n, Transpose::NN)?;
        let c = Tensor::from_parts(c, out_shape(a.shape(), m, n));
        self.tape().record(
            "matmul",
            c,
            &[self, other],
            Box::new(move |g, needs| {
                // ∂A = G·Bᵀ (m×n by n×k),  ∂B = Aᵀ·G (k×m by m×n).
                let ga = needs[0]
                    .then(|| ops::gemm_in(&ctx, g.buffer(), b.buffer(), batch, m, n, k, Transpose::NT))
                    .transpose()?;
                let gb = needs[1]
                    .then(|| ops::gemm_in(&ctx, a.buffer(), g.buffer(), batch, k, m, n, Transpose::TN))
                    .transpose()?;
                Ok(vec![ga.map(|t| a.with_buffer(t)), gb.map(|t| b.with_buffer(t))])
            }),
        )
    }

    /// x·Wᵀ + b for x `[m, k]` and W `[n, k]` (or batched as
    /// [`Var::matmul_t`]: `[batch, m, k]` and `[batch, n, k]`), b `[n]`: a
    /// linear layer in one op, the same values as `x.matmul_t(w)?.add(b)`
    /// without a second output buffer on the CPU. Backward: ∂x = G·W,
    /// ∂W = Gᵀ·x, ∂b = G summed over its rows. Without b, `matmul_t`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes do not multiply or b is not
    /// `[n]`; device or tape mismatches.
    pub fn linear(&self, w: &Var, b: Option<&Var>) -> Result<Var> {
        let Some(b) = b else { return self.matmul_t(w) };
        self.check_same_device("linear", w)?;
        self.check_same_device("linear", b)?;
        let mismatch = || Error::ShapeMismatch { op: "linear", lhs: self.shape().to_vec(), rhs: w.shape().to_vec() };
        let (batch, m, k, n) = dims(self.shape(), w.shape(), true).map_err(|_| mismatch())?;
        if b.shape() != [n] {
            return Err(Error::ShapeMismatch { op: "linear", lhs: w.shape().to_vec(), rhs: b.shape().to_vec() });
        }
        let (x, wv) = (self.value().clone(), w.value().clone());
        let ctx = self.tape().context();
        let mut c = ops::gemm_in(&ctx, x.buffer(), wv.buffer(), batch, m, k, n, Transpose::NT)?;
        ops::add_rows_in(&ctx, &mut c, b.value().buffer())?;
        let shape = out_shape(x.shape(), m, n);
        let y = Tensor::from_parts(c, shape.clone());
        self.tape().record(
            "linear",
            y,
            &[self, w, b],
            Box::new(move |g, needs| {
                let gx = needs[0]
                    .then(|| ops::gemm_in(&ctx, g.buffer(), wv.buffer(), batch, m, n, k, Transpose::NN))
                    .transpose()?;
                let gw = needs[1]
                    .then(|| ops::gemm_in(&ctx, g.buffer(), x.buffer(), batch, n, m, k, Transpose::TN))
                    .transpose()?;
                let gb = needs[2].then(|| ops::sum_to_shape_in(&ctx, g.buffer(), &shape, &[n])).transpose()?;
                Ok(vec![
                    gx.map(|t| x.with_buffer(t)),
                    gw.map(|t| wv.with_buffer(t)),
                    gb.map(|t| Tensor::from_parts(t, vec![n])),
                ])
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
        let ctx = self.tape().context();
        let c = ops::gemm_in(&ctx, a.buffer(), b.buffer(), batch, m, k, n, Transpose::NT)?;
        let c = Tensor::from_parts(c, out_shape(a.shape(), m, n));
        self.tape().record(
            "matmul_t",
            c,
            &[self, other],
            Box::new(move |g, needs| {
                // ∂A = G·B (m×n by n×k),  ∂B = Gᵀ·A (n×m by m×k).
                let ga = needs[0]
                    .then(|| ops::gemm_in(&ctx, g.buffer(), b.buffer(), batch, m, n, k, Transpose::NN))
                    .transpose()?;
                let gb = needs[1]
                    .then(|| ops::gemm_in(&ctx, g.buffer(), a.buffer(), batch, n, m, k, Transpose::TN))
                    .transpose()?;
                Ok(vec![ga.map(|t| a.with_buffer(t)), gb.map(|t| b.with_buffer(t))])
            }),
        )
    }
}
