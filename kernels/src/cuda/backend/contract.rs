//! The real CUDA backend behind [`Backend`]: each method calls this
//! module's kernel of the same name with the GPU variant the context names
//! (the GEMM backend, the sampler math); `add_rows`, `reparam_forward_sigma`
//! and `all_finite` are composed of other kernels here.

use super::*;
use crate::backend::{Backend, ConvGrads};
use crate::context::Context;
use crate::types::{AdamStep, BinaryOp, ConvGeom, PoolGeom, PriorSpec, ScalarOp, Transpose, UnaryOp};
use crate::{Device, Result};

/// The CUDA kernels, as one [`Backend`].
pub(crate) struct Gpu;

impl Backend for Gpu {
    type Buf = CudaBuffer;

    fn unary(_: &Context, op: UnaryOp, x: &CudaBuffer) -> Result<CudaBuffer> {
        unary(op, x)
    }

    fn unary_backward(_: &Context, op: UnaryOp, x: &CudaBuffer, y: &CudaBuffer, g: &CudaBuffer) -> Result<CudaBuffer> {
        unary_backward(op, x, y, g)
    }

    fn scalar(_: &Context, op: ScalarOp, x: &CudaBuffer) -> Result<CudaBuffer> {
        scalar(op, x)
    }

    fn scalar_backward(_: &Context, op: ScalarOp, x: &CudaBuffer, g: &CudaBuffer) -> Result<CudaBuffer> {
        scalar_backward(op, x, g)
    }

    fn binary(
        _: &Context,
        op: BinaryOp,
        a: &CudaBuffer,
        a_shape: &[usize],
        b: &CudaBuffer,
        b_shape: &[usize],
        out_shape: &[usize],
    ) -> Result<CudaBuffer> {
        binary(op, a, a_shape, b, b_shape, out_shape)
    }

    fn binary_backward_full(
        _: &Context,
        op: BinaryOp,
        a: &CudaBuffer,
        a_shape: &[usize],
        b: &CudaBuffer,
        b_shape: &[usize],
        g: &CudaBuffer,
        out_shape: &[usize],
        need: (bool, bool),
    ) -> Result<(Option<CudaBuffer>, Option<CudaBuffer>)> {
        binary_backward(op, a, a_shape, b, b_shape, g, out_shape, need)
    }

    fn add_rows(ctx: &Context, c: &mut CudaBuffer, b: &CudaBuffer) -> Result<()> {
        let n = b.len();
        let shape = [c.len() / n, n];
        *c = Self::binary(ctx, BinaryOp::Add, c, &shape, b, &[n], &shape)?;
        Ok(())
    }

    fn sum_to_shape(_: &Context, g: &CudaBuffer, from: &[usize], to: &[usize]) -> Result<CudaBuffer> {
        sum_to_shape(g, from, to)
    }

    fn sum_all(_: &Context, x: &CudaBuffer) -> Result<CudaBuffer> {
        sum_all(x)
    }

    fn sum_axis(_: &Context, x: &CudaBuffer, outer: usize, len: usize, inner: usize) -> Result<CudaBuffer> {
        sum_axis(x, outer, len, inner)
    }

    fn expand_axis(_: &Context, g: &CudaBuffer, outer: usize, len: usize, inner: usize) -> Result<CudaBuffer> {
        expand_axis(g, outer, len, inner)
    }

    fn max_axis(
        _: &Context,
        x: &CudaBuffer,
        outer: usize,
        len: usize,
        inner: usize,
    ) -> Result<(CudaBuffer, Vec<usize>)> {
        max_axis(x, outer, len, inner)
    }

    fn max_axis_backward(
        _: &Context,
        g: &CudaBuffer,
        arg: &[usize],
        outer: usize,
        len: usize,
        inner: usize,
    ) -> Result<CudaBuffer> {
        max_axis_backward(g, arg, outer, len, inner)
    }

    fn softmax(_: &Context, x: &CudaBuffer, n: usize, log: bool) -> Result<CudaBuffer> {
        softmax(x, n, log)
    }

    fn softmax_backward(_: &Context, y: &CudaBuffer, g: &CudaBuffer, n: usize, log: bool) -> Result<CudaBuffer> {
        softmax_backward(y, g, n, log)
    }

    fn gemm(
        ctx: &Context,
        a: &CudaBuffer,
        b: &CudaBuffer,
        batch: usize,
        m: usize,
        k: usize,
        n: usize,
        t: Transpose,
    ) -> Result<CudaBuffer> {
        gemm_with(ctx.gpu_gemm, a, b, batch, m, k, n, t)
    }

    fn permute(_: &Context, x: &CudaBuffer, shape: &[usize], perm: &[usize]) -> Result<CudaBuffer> {
        permute(x, shape, perm)
    }

    fn slice_axis(
        _: &Context,
        x: &CudaBuffer,
        outer: usize,
        axis: usize,
        inner: usize,
        start: usize,
        len: usize,
    ) -> Result<CudaBuffer> {
        slice_axis(x, outer, axis, inner, start, len)
    }

    fn slice_axis_backward(
        _: &Context,
        g: &CudaBuffer,
        outer: usize,
        axis: usize,
        inner: usize,
        start: usize,
        len: usize,
    ) -> Result<CudaBuffer> {
        slice_axis_backward(g, outer, axis, inner, start, len)
    }

    fn concat_axis(
        _: &Context,
        parts: &[&CudaBuffer],
        lens: &[usize],
        outer: usize,
        inner: usize,
    ) -> Result<CudaBuffer> {
        concat_axis(parts, lens, outer, inner)
    }

    fn index_select(
        _: &Context,
        x: &CudaBuffer,
        outer: usize,
        axis: usize,
        inner: usize,
        idx: &[usize],
    ) -> Result<CudaBuffer> {
        index_select(x, outer, axis, inner, idx)
    }

    fn index_select_backward(
        _: &Context,
        g: &CudaBuffer,
        outer: usize,
        axis: usize,
        inner: usize,
        idx: &[usize],
    ) -> Result<CudaBuffer> {
        index_select_backward(g, outer, axis, inner, idx)
    }

    fn gather_rows(_: &Context, x: &CudaBuffer, n: usize, idx: &[usize]) -> Result<CudaBuffer> {
        gather_rows(x, n, idx)
    }

    fn gather_rows_backward(_: &Context, g: &CudaBuffer, n: usize, idx: &[usize]) -> Result<CudaBuffer> {
        gather_rows_backward(g, n, idx)
    }

    fn normal(ctx: &Context, ordinal: usize, seed: u64, offset: u64, len: usize) -> Result<CudaBuffer> {
        normal(ctx.gpu_sampler, ordinal, seed, offset, len)
    }

    fn reparam_forward(ctx: &Context, mu: &CudaBuffer, rho: &CudaBuffer, seed: u64, offset: u64) -> Result<CudaBuffer> {
        reparam_forward(ctx.gpu_sampler, mu, rho, seed, offset)
    }

    fn reparam_forward_sigma(
        ctx: &Context,
        mu: &CudaBuffer,
        sigma: &CudaBuffer,
        seed: u64,
        offset: u64,
    ) -> Result<CudaBuffer> {
        let shape = [mu.len()];
        let eps = Self::normal(
            ctx,
            match mu.device() {
                Device::Cuda(i) => i,
                Device::Cpu => 0,
            },
            seed,
            offset,
            mu.len(),
        )?;
        let scaled = Self::binary(ctx, BinaryOp::Mul, sigma, &shape, &eps, &shape, &shape)?;
        Self::binary(ctx, BinaryOp::Add, mu, &shape, &scaled, &shape, &shape)
    }

    fn reparam_backward(
        ctx: &Context,
        rho: &CudaBuffer,
        g: &CudaBuffer,
        seed: u64,
        offset: u64,
    ) -> Result<(CudaBuffer, CudaBuffer)> {
        reparam_backward(ctx.gpu_sampler, rho, g, seed, offset)
    }

    fn reparam_log_posterior(ctx: &Context, rho: &CudaBuffer, seed: u64, offset: u64) -> Result<CudaBuffer> {
        reparam_log_posterior(ctx.gpu_sampler, rho, seed, offset)
    }

    fn sample_kl_forward(
        ctx: &Context,
        mu: &CudaBuffer,
        rho: &CudaBuffer,
        seed: u64,
        offset: u64,
        prior: PriorSpec,
    ) -> Result<(CudaBuffer, CudaBuffer)> {
        sample_kl_forward(ctx.gpu_sampler, mu, rho, seed, offset, prior)
    }

    fn sample_kl_backward(
        ctx: &Context,
        mu: &CudaBuffer,
        rho: &CudaBuffer,
        g_w: Option<&CudaBuffer>,
        g_kl: &CudaBuffer,
        seed: u64,
        offset: u64,
        prior: PriorSpec,
    ) -> Result<(CudaBuffer, CudaBuffer)> {
        sample_kl_backward(ctx.gpu_sampler, mu, rho, g_w, g_kl, seed, offset, prior)
    }

    fn kl_at(
        ctx: &Context,
        w: &CudaBuffer,
        rho: &CudaBuffer,
        seed: u64,
        offset: u64,
        prior: PriorSpec,
    ) -> Result<CudaBuffer> {
        kl_at(ctx.gpu_sampler, w, rho, seed, offset, prior)
    }

    fn kl_at_backward(
        ctx: &Context,
        w: &CudaBuffer,
        rho: &CudaBuffer,
        g_kl: &CudaBuffer,
        prior: PriorSpec,
    ) -> Result<(CudaBuffer, CudaBuffer)> {
        kl_at_backward(ctx.gpu_sampler, w, rho, g_kl, prior)
    }

    fn adam_step(
        _: &Context,
        p: &mut CudaBuffer,
        m: &mut CudaBuffer,
        v: &mut CudaBuffer,
        g: &CudaBuffer,
        h: AdamStep,
    ) -> Result<()> {
        adam_step(p, m, v, g, h)
    }

    fn sgd_step(
        _: &Context,
        p: &mut CudaBuffer,
        buf: &mut CudaBuffer,
        g: &CudaBuffer,
        lr: f32,
        momentum: f32,
        weight_decay: f32,
    ) -> Result<()> {
        sgd_step(p, buf, g, lr, momentum, weight_decay)
    }

    fn scale_inplace(_: &Context, x: &mut CudaBuffer, s: f32) -> Result<()> {
        scale_inplace(x, s)
    }

    fn all_finite(_: &Context, x: &CudaBuffer) -> Result<bool> {
        // Σx² in f64 is finite exactly when every element is (f32::MAX² ≈ 1e77).
        Ok(sum_squares(x)?.is_finite())
    }

    fn sum_squares(_: &Context, x: &CudaBuffer) -> Result<f64> {
        sum_squares(x)
    }

    fn sum_squares_many(_: &Context, xs: &[&CudaBuffer]) -> Result<Vec<f64>> {
        sum_squares_many(xs)
    }

    fn conv_forward(
        ctx: &Context,
        x: &CudaBuffer,
        w: &CudaBuffer,
        b: Option<&CudaBuffer>,
        g: &ConvGeom,
    ) -> Result<CudaBuffer> {
        conv_forward(ctx.gpu_gemm, x, w, b, g)
    }

    fn conv_backward(
        ctx: &Context,
        x: &CudaBuffer,
        w: &CudaBuffer,
        gy: &CudaBuffer,
        g: &ConvGeom,
        need: (bool, bool, bool),
    ) -> Result<ConvGrads<CudaBuffer>> {
        conv_backward(ctx.gpu_gemm, x, w, gy, g, need)
    }

    fn max_pool_forward(_: &Context, x: &CudaBuffer, g: &PoolGeom) -> Result<CudaBuffer> {
        max_pool_forward(x, g)
    }

    fn max_pool_backward(_: &Context, x: &CudaBuffer, gy: &CudaBuffer, g: &PoolGeom) -> Result<CudaBuffer> {
        max_pool_backward(x, gy, g)
    }

    fn avg_pool_forward(_: &Context, x: &CudaBuffer, g: &PoolGeom) -> Result<CudaBuffer> {
        avg_pool_forward(x, g)
    }

    fn avg_pool_backward(_: &Context, gy: &CudaBuffer, g: &PoolGeom) -> Result<CudaBuffer> {
        avg_pool_backward(gy, g)
    }
}
