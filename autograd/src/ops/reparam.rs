//! The reparameterisation trick as one fused tape op.
//!
//! Forward: w = mu + sigma·eps with sigma = softplus(rho) and eps named by
//! (seed, offset) — made in the kernel, never stored.
//! Backward: ∂w/∂mu = 1 and ∂w/∂rho = eps·sigmoid(rho), eps regenerated from
//! its name. The log-posterior of the drawn weights is a second fused op:
//! log q(w) = Σ(−ln sigma − eps²/2 − ln √(2π)); holding eps fixed (w − mu =
//! sigma·eps), its total derivative is 0 for mu and −sigmoid(rho)/sigma for rho.

use crate::{Tensor, Var};
use blitz_kernels::{ops, BinaryOp, Result, ScalarOp, UnaryOp};

impl Var {
    /// Draws w = mu + softplus(rho)·eps(seed, offset) (fused). `self` is mu.
    ///
    /// # Errors
    /// [`blitz_kernels::Error::ShapeMismatch`] when mu and rho differ in shape; device or
    /// tape mismatches.
    pub fn reparam_sample(&self, rho: &Var, seed: u64, offset: u64) -> Result<Var> {
        let ctx = self.tape().context();
        self.check_same_shape("reparam_sample", rho)?;
        self.check_same_device("reparam_sample", rho)?;
        let mu = self.value().clone();
        let rho_v = rho.value().clone();
        let w = mu.with_buffer(ops::reparam_forward_in(&ctx, mu.buffer(), rho_v.buffer(), seed, offset)?);
        self.tape().record(
            "reparam_sample",
            w,
            &[self, rho],
            Box::new(move |g, needs| {
                let (g_mu, g_rho) = ops::reparam_backward_in(&ctx, rho_v.buffer(), g.buffer(), seed, offset)?;
                Ok(vec![needs[0].then(|| mu.with_buffer(g_mu)), needs[1].then(|| mu.with_buffer(g_rho))])
            }),
        )
    }

    /// Draws w = mu + sigma·eps(seed, offset) with sigma given (not through
    /// softplus): on the CPU the same weights as [`Var::reparam_sample`]
    /// when sigma = softplus(rho). `self` is mu. Backward: ∂w/∂mu = 1, ∂w/∂sigma = eps
    /// (regenerated from its name).
    ///
    /// # Errors
    /// [`blitz_kernels::Error::ShapeMismatch`] when mu and sigma differ in shape; device or
    /// tape mismatches.
    pub fn reparam_sample_sigma(&self, sigma: &Var, seed: u64, offset: u64) -> Result<Var> {
        let ctx = self.tape().context();
        self.check_same_shape("reparam_sample_sigma", sigma)?;
        self.check_same_device("reparam_sample_sigma", sigma)?;
        let mu = self.value().clone();
        let w = mu.with_buffer(ops::reparam_forward_sigma_in(&ctx, mu.buffer(), sigma.value().buffer(), seed, offset)?);
        self.tape().record(
            "reparam_sample_sigma",
            w,
            &[self, sigma],
            Box::new(move |g, needs| {
                let g_sigma = if needs[1] {
                    let eps = ops::normal_in(&ctx, mu.device(), seed, offset, mu.numel())?;
                    let s = mu.shape();
                    Some(mu.with_buffer(ops::binary_in(&ctx, BinaryOp::Mul, g.buffer(), s, &eps, s, s)?))
                } else {
                    None
                };
                Ok(vec![needs[0].then(|| g.clone()), g_sigma])
            }),
        )
    }

    /// Σ log N(w; mu, sigma) of the weights that [`Var::reparam_sample`]
    /// drew with the same (seed, offset). `self` is rho. Shape `[]`.
    ///
    /// # Errors
    /// Kernel (CUDA) failures only.
    pub fn reparam_log_posterior(&self, seed: u64, offset: u64) -> Result<Var> {
        let ctx = self.tape().context();
        let rho = self.value().clone();
        let lq = Tensor::from_parts(ops::reparam_log_posterior_in(&ctx, rho.buffer(), seed, offset)?, Vec::new());
        self.tape().record(
            "reparam_log_posterior",
            lq,
            &[self],
            Box::new(move |g, _| {
                // ∂/∂rho (−ln softplus(rho)) = −sigmoid(rho) / softplus(rho), times g.
                let s = ops::unary_in(&ctx, UnaryOp::Sigmoid, rho.buffer())?;
                let sp = ops::unary_in(&ctx, UnaryOp::Softplus, rho.buffer())?;
                let ratio = ops::binary_in(&ctx, BinaryOp::Div, &s, rho.shape(), &sp, rho.shape(), rho.shape())?;
                let neg = ops::scalar_in(&ctx, ScalarOp::Mul(-1.0), &ratio)?;
                let gr = ops::binary_in(&ctx, BinaryOp::Mul, &neg, rho.shape(), g.buffer(), &[], rho.shape())?;
                Ok(vec![Some(rho.with_buffer(gr))])
            }),
        )
    }
}
