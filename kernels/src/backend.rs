//! The backend contract: every kernel a device runs, on its own buffer type.
//! The CPU backend (`cpu::Cpu`), the CUDA backend and the stub a build
//! without the `cuda` feature compiles in its place (both `cuda::Gpu`)
//! implement [`Backend`], so a kernel that one of them lacks, or whose
//! signature drifts, is a compile error in that build. [`crate::ops`] checks
//! the operands, then calls one implementation per device.
//!
//! Every method takes the [`Context`]: the CPU reads its variants, threads
//! and split policy, the GPU its GEMM backend and sampler math. Operands are
//! checked by the caller (lengths against sizes, indices in range).

use crate::context::Context;
use crate::types::{AdamStep, BinaryOp, ConvGeom, PoolGeom, PriorSpec, ScalarOp, Transpose, UnaryOp};
use crate::Result;

/// Gradients of a convolution: (dx, dw, db), each when asked for.
pub(crate) type ConvGrads<B> = (Option<B>, Option<B>, Option<B>);

/// The kernels of one device on its buffer type [`Backend::Buf`].
#[allow(clippy::too_many_arguments)]
pub(crate) trait Backend {
    /// A flat `f32` array on this device.
    type Buf;

    // Element-wise.
    fn unary(ctx: &Context, op: UnaryOp, x: &Self::Buf) -> Result<Self::Buf>;
    fn unary_backward(ctx: &Context, op: UnaryOp, x: &Self::Buf, y: &Self::Buf, g: &Self::Buf) -> Result<Self::Buf>;
    fn scalar(ctx: &Context, op: ScalarOp, x: &Self::Buf) -> Result<Self::Buf>;
    fn scalar_backward(ctx: &Context, op: ScalarOp, x: &Self::Buf, g: &Self::Buf) -> Result<Self::Buf>;
    fn binary(
        ctx: &Context,
        op: BinaryOp,
        a: &Self::Buf,
        a_shape: &[usize],
        b: &Self::Buf,
        b_shape: &[usize],
        out_shape: &[usize],
    ) -> Result<Self::Buf>;
    /// The gradients of `a ∘ b` at the output's shape (not yet summed to the operands').
    fn binary_backward_full(
        ctx: &Context,
        op: BinaryOp,
        a: &Self::Buf,
        a_shape: &[usize],
        b: &Self::Buf,
        b_shape: &[usize],
        g: &Self::Buf,
        out_shape: &[usize],
        need: (bool, bool),
    ) -> Result<(Option<Self::Buf>, Option<Self::Buf>)>;
    fn add_rows(ctx: &Context, c: &mut Self::Buf, b: &Self::Buf) -> Result<()>;

    // Reductions and softmax.
    fn sum_to_shape(ctx: &Context, g: &Self::Buf, from: &[usize], to: &[usize]) -> Result<Self::Buf>;
    fn sum_all(ctx: &Context, x: &Self::Buf) -> Result<Self::Buf>;
    fn sum_axis(ctx: &Context, x: &Self::Buf, outer: usize, len: usize, inner: usize) -> Result<Self::Buf>;
    fn expand_axis(ctx: &Context, g: &Self::Buf, outer: usize, len: usize, inner: usize) -> Result<Self::Buf>;
    fn max_axis(
        ctx: &Context,
        x: &Self::Buf,
        outer: usize,
        len: usize,
        inner: usize,
    ) -> Result<(Self::Buf, Vec<usize>)>;
    fn max_axis_backward(
        ctx: &Context,
        g: &Self::Buf,
        arg: &[usize],
        outer: usize,
        len: usize,
        inner: usize,
    ) -> Result<Self::Buf>;
    fn softmax(ctx: &Context, x: &Self::Buf, n: usize, log: bool) -> Result<Self::Buf>;
    fn softmax_backward(ctx: &Context, y: &Self::Buf, g: &Self::Buf, n: usize, log: bool) -> Result<Self::Buf>;

    // Matrix products.
    fn gemm(
        ctx: &Context,
        a: &Self::Buf,
        b: &Self::Buf,
        batch: usize,
        m: usize,
        k: usize,
        n: usize,
        t: Transpose,
    ) -> Result<Self::Buf>;

    // Layout.
    fn permute(ctx: &Context, x: &Self::Buf, shape: &[usize], perm: &[usize]) -> Result<Self::Buf>;
    fn slice_axis(
        ctx: &Context,
        x: &Self::Buf,
        outer: usize,
        axis: usize,
        inner: usize,
        start: usize,
        len: usize,
    ) -> Result<Self::Buf>;
    fn slice_axis_backward(
        ctx: &Context,
        g: &Self::Buf,
        outer: usize,
        axis: usize,
        inner: usize,
        start: usize,
        len: usize,
    ) -> Result<Self::Buf>;
    fn concat_axis(
        ctx: &Context,
        parts: &[&Self::Buf],
        lens: &[usize],
        outer: usize,
        inner: usize,
    ) -> Result<Self::Buf>;
    fn index_select(
        ctx: &Context,
        x: &Self::Buf,
        outer: usize,
        axis: usize,
        inner: usize,
        idx: &[usize],
    ) -> Result<Self::Buf>;
    fn index_select_backward(
        ctx: &Context,
        g: &Self::Buf,
        outer: usize,
        axis: usize,
        inner: usize,
        idx: &[usize],
    ) -> Result<Self::Buf>;
    fn gather_rows(ctx: &Context, x: &Self::Buf, n: usize, idx: &[usize]) -> Result<Self::Buf>;
    fn gather_rows_backward(ctx: &Context, g: &Self::Buf, n: usize, idx: &[usize]) -> Result<Self::Buf>;

    // The sampler.
    /// `len` standard normals on device `ordinal` (the CPU has one device: 0).
    fn normal(ctx: &Context, ordinal: usize, seed: u64, offset: u64, len: usize) -> Result<Self::Buf>;
    fn reparam_forward(ctx: &Context, mu: &Self::Buf, rho: &Self::Buf, seed: u64, offset: u64) -> Result<Self::Buf>;
    fn reparam_forward_sigma(
        ctx: &Context,
        mu: &Self::Buf,
        sigma: &Self::Buf,
        seed: u64,
        offset: u64,
    ) -> Result<Self::Buf>;
    fn reparam_backward(
        ctx: &Context,
        rho: &Self::Buf,
        g: &Self::Buf,
        seed: u64,
        offset: u64,
    ) -> Result<(Self::Buf, Self::Buf)>;
    fn reparam_log_posterior(ctx: &Context, rho: &Self::Buf, seed: u64, offset: u64) -> Result<Self::Buf>;
    fn sample_kl_forward(
        ctx: &Context,
        mu: &Self::Buf,
        rho: &Self::Buf,
        seed: u64,
        offset: u64,
        prior: PriorSpec,
    ) -> Result<(Self::Buf, Self::Buf)>;
    fn sample_kl_backward(
        ctx: &Context,
        mu: &Self::Buf,
        rho: &Self::Buf,
        g_w: Option<&Self::Buf>,
        g_kl: &Self::Buf,
        seed: u64,
        offset: u64,
        prior: PriorSpec,
    ) -> Result<(Self::Buf, Self::Buf)>;
    fn kl_at(
        ctx: &Context,
        w: &Self::Buf,
        rho: &Self::Buf,
        seed: u64,
        offset: u64,
        prior: PriorSpec,
    ) -> Result<Self::Buf>;
    fn kl_at_backward(
        ctx: &Context,
        w: &Self::Buf,
        rho: &Self::Buf,
        g_kl: &Self::Buf,
        prior: PriorSpec,
    ) -> Result<(Self::Buf, Self::Buf)>;

    // Optimizers and the reads that guard them.
    fn adam_step(
        ctx: &Context,
        p: &mut Self::Buf,
        m: &mut Self::Buf,
        v: &mut Self::Buf,
        g: &Self::Buf,
        h: AdamStep,
    ) -> Result<()>;
    fn sgd_step(
        ctx: &Context,
        p: &mut Self::Buf,
        buf: &mut Self::Buf,
        g: &Self::Buf,
        lr: f32,
        momentum: f32,
        weight_decay: f32,
    ) -> Result<()>;
    fn scale_inplace(ctx: &Context, x: &mut Self::Buf, s: f32) -> Result<()>;
    fn all_finite(ctx: &Context, x: &Self::Buf) -> Result<bool>;
    fn sum_squares(ctx: &Context, x: &Self::Buf) -> Result<f64>;
    /// Σx² of each buffer (all on one device), read back together.
    fn sum_squares_many(ctx: &Context, xs: &[&Self::Buf]) -> Result<Vec<f64>>;

    // Convolution and pooling.
    fn conv_forward(
        ctx: &Context,
        x: &Self::Buf,
        w: &Self::Buf,
        b: Option<&Self::Buf>,
        g: &ConvGeom,
    ) -> Result<Self::Buf>;
    fn conv_backward(
        ctx: &Context,
        x: &Self::Buf,
        w: &Self::Buf,
        gy: &Self::Buf,
        g: &ConvGeom,
        need: (bool, bool, bool),
    ) -> Result<ConvGrads<Self::Buf>>;
    fn max_pool_forward(ctx: &Context, x: &Self::Buf, g: &PoolGeom) -> Result<Self::Buf>;
    fn max_pool_backward(ctx: &Context, x: &Self::Buf, gy: &Self::Buf, g: &PoolGeom) -> Result<Self::Buf>;
    fn avg_pool_forward(ctx: &Context, x: &Self::Buf, g: &PoolGeom) -> Result<Self::Buf>;
    fn avg_pool_backward(ctx: &Context, gy: &Self::Buf, g: &PoolGeom) -> Result<Self::Buf>;
}
