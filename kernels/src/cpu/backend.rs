//! The CPU backend behind [`Backend`]: the variant the context names, on the
//! context's threads (every kernel runs inside [`Context::install`]), into
//! output buffers from the buffer pool ([`recycle`]). The operands were
//! checked by [`crate::ops`].

use super::{
    binary, conv, conv_direct, gemm, layout, optim, pool, random, recycle, reduce, reparam, sample_kl, softmax, unary,
};
use crate::backend::{Backend, ConvGrads};
use crate::context::{Context, ConvVariant, ElementwiseVariant, NormalsVariant};
use crate::reference;
use crate::shape::numel;
use crate::types::{AdamStep, BinaryOp, ConvGeom, PoolGeom, PriorSpec, ScalarOp, Transpose, UnaryOp};
use crate::{Error, Result};

/// The CPU kernels, as one [`Backend`].
pub(crate) struct Cpu;

type V = Vec<f32>;

/// `len` zeros from the pool, then `f` on the context's threads (for kernels
/// that add into their output or leave elements untouched).
fn zeroed(ctx: &Context, len: usize, f: impl FnOnce(&mut [f32]) + Send) -> Result<V> {
    let mut out = recycle::zeroed(len);
    ctx.install(|| f(&mut out));
    Ok(out)
}

/// `len` elements from the pool for an `f` that writes every one of them
/// (no zeroing pass), run on the context's threads.
fn overwrite(ctx: &Context, len: usize, f: impl FnOnce(&mut [f32]) + Send) -> Result<V> {
    let mut out = recycle::for_overwrite(len);
    ctx.install(|| f(&mut out));
    Ok(out)
}

/// Two outputs of `len` elements each for an `f` that writes all of them.
fn overwrite2(ctx: &Context, len: usize, f: impl FnOnce(&mut [f32], &mut [f32]) + Send) -> Result<(V, V)> {
    let (mut a, mut b) = (recycle::for_overwrite(len), recycle::for_overwrite(len));
    ctx.install(|| f(&mut a, &mut b));
    Ok((a, b))
}

/// [`Error::InvalidArgument`] when the context asks for the direct
/// convolution on a geometry its loops do not handle.
fn check_direct(ctx: &Context, g: &ConvGeom) -> Result<()> {
    if ctx.conv == ConvVariant::Direct && !conv_direct::handles(g) {
        return Err(Error::invalid(
            "conv variant",
            format!("the direct convolution needs unit stride along the width, got stride {:?}", g.stride),
        ));
    }
    Ok(())
}

fn reference_elementwise(ctx: &Context) -> bool {
    ctx.elementwise == ElementwiseVariant::Reference
}

impl Backend for Cpu {
    type Buf = V;

    fn unary(ctx: &Context, op: UnaryOp, x: &V) -> Result<V> {
        overwrite(ctx, x.len(), |o| match reference_elementwise(ctx) {
            true => reference::elementwise::unary(op, x, o),
            false => unary::forward(ctx.split, op, x, o),
        })
    }

    fn unary_backward(ctx: &Context, op: UnaryOp, x: &V, y: &V, g: &V) -> Result<V> {
        overwrite(ctx, x.len(), |o| match reference_elementwise(ctx) {
            true => reference::elementwise::unary_backward(op, x, g, o),
            false => unary::backward(ctx.split, op, x, y, g, o),
        })
    }

    fn scalar(ctx: &Context, op: ScalarOp, x: &V) -> Result<V> {
        overwrite(ctx, x.len(), |o| match reference_elementwise(ctx) {
            true => reference::elementwise::scalar(op, x, o),
            false => binary::scalar_forward(ctx.split, op, x, o),
        })
    }

    fn scalar_backward(ctx: &Context, op: ScalarOp, x: &V, g: &V) -> Result<V> {
        overwrite(ctx, x.len(), |o| match reference_elementwise(ctx) {
            true => reference::elementwise::scalar_backward(op, x, g, o),
            false => binary::scalar_backward(ctx.split, op, x, g, o),
        })
    }

    fn binary(
        ctx: &Context,
        op: BinaryOp,
        a: &V,
        a_shape: &[usize],
        b: &V,
        b_shape: &[usize],
        out: &[usize],
    ) -> Result<V> {
        overwrite(ctx, numel(out), |o| match reference_elementwise(ctx) {
            true => reference::elementwise::binary(op, a, a_shape, b, b_shape, o, out),
            false => binary::forward(ctx.split, op, a, a_shape, b, b_shape, o, out),
        })
    }

    fn binary_backward_full(
        ctx: &Context,
        op: BinaryOp,
        a: &V,
        a_shape: &[usize],
        b: &V,
        b_shape: &[usize],
        g: &V,
        out_shape: &[usize],
        need: (bool, bool),
    ) -> Result<(Option<V>, Option<V>)> {
        let n = numel(out_shape);
        let mut ga = need.0.then(|| recycle::zeroed(n));
        let mut gb = need.1.then(|| recycle::zeroed(n));
        ctx.install(|| {
            binary::backward(op, a, a_shape, b, b_shape, g, out_shape, ga.as_deref_mut(), gb.as_deref_mut())
        });
        Ok((ga, gb))
    }

    fn add_rows(ctx: &Context, c: &mut V, b: &V) -> Result<()> {
        ctx.install(|| binary::add_rows_in_place(ctx.split, c, b));
        Ok(())
    }

    fn sum_to_shape(ctx: &Context, g: &V, from: &[usize], to: &[usize]) -> Result<V> {
        zeroed(ctx, numel(to), |o| reduce::sum_to_shape(ctx.split, g, from, to, o))
    }

    fn sum_all(ctx: &Context, x: &V) -> Result<V> {
        Ok(vec![ctx.install(|| reduce::sum_all(ctx.split, x))])
    }

    fn sum_axis(ctx: &Context, x: &V, outer: usize, len: usize, inner: usize) -> Result<V> {
        zeroed(ctx, outer * inner, |o| reduce::sum_axis(x, outer, len, inner, o))
    }

    fn expand_axis(ctx: &Context, g: &V, outer: usize, len: usize, inner: usize) -> Result<V> {
        overwrite(ctx, outer * len * inner, |o| {
            // Each output row of `len·inner` repeats its input row `len` times; with
            // inner = 1 (the backward of a full sum) that is a fill, not 4-byte copies.
            // chunks_exact(0) panics: nothing to write when len or inner is 0.
            if o.is_empty() {
                return;
            }
            for (row, src) in o.chunks_exact_mut(len * inner).zip(g.chunks_exact(inner)) {
                if inner == 1 {
                    row.fill(src[0]);
                } else {
                    row.chunks_exact_mut(inner).for_each(|dst| dst.copy_from_slice(src));
                }
            }
        })
    }

    fn max_axis(ctx: &Context, x: &V, outer: usize, len: usize, inner: usize) -> Result<(V, Vec<usize>)> {
        let (mut m, mut arg) = (vec![0f32; outer * inner], vec![0usize; outer * inner]);
        ctx.install(|| reduce::max_axis(x, outer, len, inner, &mut m, &mut arg));
        Ok((m, arg))
    }

    fn max_axis_backward(ctx: &Context, g: &V, arg: &[usize], outer: usize, len: usize, inner: usize) -> Result<V> {
        zeroed(ctx, outer * len * inner, |o| {
            for oi in 0..outer {
                for i in 0..inner {
                    o[(oi * len + arg[oi * inner + i]) * inner + i] = g[oi * inner + i];
                }
            }
        })
    }

    fn softmax(ctx: &Context, x: &V, n: usize, log: bool) -> Result<V> {
        overwrite(ctx, x.len(), |o| match log {
            true => softmax::log_softmax(x, n, o),
            false => softmax::softmax(x, n, o),
        })
    }

    fn softmax_backward(ctx: &Context, y: &V, g: &V, n: usize, log: bool) -> Result<V> {
        zeroed(ctx, y.len(), |o| match log {
            true => softmax::log_softmax_backward(y, g, n, o),
            false => softmax::softmax_backward(y, g, n, o),
        })
    }

    fn gemm(ctx: &Context, a: &V, b: &V, batch: usize, m: usize, k: usize, n: usize, t: Transpose) -> Result<V> {
        overwrite(ctx, batch * m * n, |o| gemm::batched_gemm_variant(ctx.gemm, ctx.split, batch, m, k, n, a, b, o, t))
    }

    fn permute(ctx: &Context, x: &V, shape: &[usize], perm: &[usize]) -> Result<V> {
        overwrite(ctx, x.len(), |o| layout::permute(x, shape, perm, o))
    }

    fn slice_axis(
        ctx: &Context,
        x: &V,
        outer: usize,
        axis: usize,
        inner: usize,
        start: usize,
        len: usize,
    ) -> Result<V> {
        zeroed(ctx, outer * len * inner, |o| layout::slice_axis(x, outer, axis, inner, start, len, o))
    }

    fn slice_axis_backward(
        ctx: &Context,
        g: &V,
        outer: usize,
        axis: usize,
        inner: usize,
        start: usize,
        len: usize,
    ) -> Result<V> {
        zeroed(ctx, outer * axis * inner, |o| layout::slice_axis_backward(g, outer, axis, inner, start, len, o))
    }

    fn concat_axis(ctx: &Context, parts: &[&V], lens: &[usize], outer: usize, inner: usize) -> Result<V> {
        let slices: Vec<&[f32]> = parts.iter().map(|p| p.as_slice()).collect();
        let total = outer * lens.iter().sum::<usize>() * inner;
        zeroed(ctx, total, |o| layout::concat_axis(&slices, lens, outer, inner, o))
    }

    fn index_select(ctx: &Context, x: &V, outer: usize, axis: usize, inner: usize, idx: &[usize]) -> Result<V> {
        zeroed(ctx, outer * idx.len() * inner, |o| layout::index_select(x, outer, axis, inner, idx, o))
    }

    fn index_select_backward(
        ctx: &Context,
        g: &V,
        outer: usize,
        axis: usize,
        inner: usize,
        idx: &[usize],
    ) -> Result<V> {
        zeroed(ctx, outer * axis * inner, |o| layout::index_select_backward(g, outer, axis, inner, idx, o))
    }

    fn gather_rows(ctx: &Context, x: &V, n: usize, idx: &[usize]) -> Result<V> {
        zeroed(ctx, idx.len(), |o| layout::gather_rows(x, n, idx, o))
    }

    fn gather_rows_backward(ctx: &Context, g: &V, n: usize, idx: &[usize]) -> Result<V> {
        zeroed(ctx, idx.len() * n, |o| layout::gather_rows_backward(g, n, idx, o))
    }

    fn normal(ctx: &Context, _ordinal: usize, seed: u64, offset: u64, len: usize) -> Result<V> {
        overwrite(ctx, len, |o| match ctx.normals {
            NormalsVariant::Best => random::fill_normal(ctx.split, seed, offset, o),
            NormalsVariant::Portable => random::fill_normal_portable(ctx.split, seed, offset, o),
            NormalsVariant::Reference => {
                o.iter_mut().enumerate().for_each(|(i, v)| *v = random::normal_at(seed, offset + i as u64))
            }
        })
    }

    fn reparam_forward(ctx: &Context, mu: &V, rho: &V, seed: u64, offset: u64) -> Result<V> {
        overwrite(ctx, mu.len(), |o| reparam::forward(ctx.split, mu, rho, seed, offset, o))
    }

    fn reparam_forward_sigma(ctx: &Context, mu: &V, sigma: &V, seed: u64, offset: u64) -> Result<V> {
        overwrite(ctx, mu.len(), |o| reparam::forward_sigma(ctx.split, mu, sigma, seed, offset, o))
    }

    fn reparam_backward(ctx: &Context, rho: &V, g: &V, seed: u64, offset: u64) -> Result<(V, V)> {
        overwrite2(ctx, rho.len(), |gm, gr| reparam::backward(ctx.split, rho, g, seed, offset, gm, gr))
    }

    fn reparam_log_posterior(ctx: &Context, rho: &V, seed: u64, offset: u64) -> Result<V> {
        Ok(vec![ctx.install(|| reparam::log_posterior(ctx.split, rho, seed, offset))])
    }

    fn sample_kl_forward(ctx: &Context, mu: &V, rho: &V, seed: u64, offset: u64, prior: PriorSpec) -> Result<(V, V)> {
        let mut w = recycle::for_overwrite(mu.len());
        let kl = ctx.install(|| sample_kl::forward(ctx.split, mu, rho, seed, offset, prior, &mut w));
        Ok((w, vec![kl]))
    }

    fn sample_kl_backward(
        ctx: &Context,
        mu: &V,
        rho: &V,
        g_w: Option<&V>,
        g_kl: &V,
        seed: u64,
        offset: u64,
        prior: PriorSpec,
    ) -> Result<(V, V)> {
        let g = g_w.map(Vec::as_slice);
        overwrite2(ctx, mu.len(), |gm, gr| {
            sample_kl::backward(ctx.split, mu, rho, g, g_kl[0], seed, offset, prior, gm, gr)
        })
    }

    fn kl_at(ctx: &Context, w: &V, rho: &V, seed: u64, offset: u64, prior: PriorSpec) -> Result<V> {
        Ok(vec![ctx.install(|| sample_kl::kl_at(ctx.split, w, rho, seed, offset, prior))])
    }

    fn kl_at_backward(ctx: &Context, w: &V, rho: &V, g_kl: &V, prior: PriorSpec) -> Result<(V, V)> {
        overwrite2(ctx, w.len(), |gw, gr| sample_kl::kl_at_backward(ctx.split, w, rho, g_kl[0], prior, gw, gr))
    }

    fn adam_step(ctx: &Context, p: &mut V, m: &mut V, v: &mut V, g: &V, h: AdamStep) -> Result<()> {
        ctx.install(|| optim::adam(ctx.split, p, m, v, g, h));
        Ok(())
    }

    fn sgd_step(ctx: &Context, p: &mut V, buf: &mut V, g: &V, lr: f32, momentum: f32, weight_decay: f32) -> Result<()> {
        ctx.install(|| optim::sgd(p, buf, g, lr, momentum, weight_decay));
        Ok(())
    }

    fn scale_inplace(ctx: &Context, x: &mut V, s: f32) -> Result<()> {
        ctx.install(|| optim::scale(ctx.split, x, s));
        Ok(())
    }

    fn all_finite(ctx: &Context, x: &V) -> Result<bool> {
        Ok(ctx.install(|| optim::all_finite(ctx.split, x)))
    }

    fn sum_squares(ctx: &Context, x: &V) -> Result<f64> {
        Ok(ctx.install(|| optim::sum_squares(x)))
    }

    fn sum_squares_many(ctx: &Context, xs: &[&V]) -> Result<Vec<f64>> {
        Ok(ctx.install(|| xs.iter().map(|x| optim::sum_squares(x)).collect()))
    }

    fn conv_forward(ctx: &Context, x: &V, w: &V, b: Option<&V>, g: &ConvGeom) -> Result<V> {
        check_direct(ctx, g)?;
        let b = b.map(Vec::as_slice);
        overwrite(ctx, g.output_len(), |y| match ctx.conv {
            ConvVariant::Auto => conv::forward(ctx.split, x, w, b, g, y),
            ConvVariant::Direct => conv_direct::forward(ctx.split, x, w, b, g, y),
            ConvVariant::Im2col => conv::forward_unfolded(ctx.split, x, w, b, g, y),
            ConvVariant::Reference => reference::conv::forward(x, w, b, g, y),
        })
    }

    fn conv_backward(
        ctx: &Context,
        x: &V,
        w: &V,
        gy: &V,
        g: &ConvGeom,
        need: (bool, bool, bool),
    ) -> Result<ConvGrads<V>> {
        check_direct(ctx, g)?;
        Ok(ctx.install(|| match ctx.conv {
            ConvVariant::Auto => conv::backward(ctx.split, x, w, gy, g, need),
            ConvVariant::Direct => conv_direct::backward(ctx.split, x, w, gy, g, need),
            ConvVariant::Im2col => conv::backward_unfolded(ctx.split, x, w, gy, g, need),
            ConvVariant::Reference => reference::conv::backward(x, w, gy, g, need),
        }))
    }

    fn max_pool_forward(ctx: &Context, x: &V, g: &PoolGeom) -> Result<V> {
        overwrite(ctx, g.output_len(), |y| pool::max_forward(ctx.split, x, g, y))
    }

    fn max_pool_backward(ctx: &Context, x: &V, gy: &V, g: &PoolGeom) -> Result<V> {
        overwrite(ctx, g.input_len(), |dx| pool::max_backward(ctx.split, x, gy, g, dx))
    }

    fn avg_pool_forward(ctx: &Context, x: &V, g: &PoolGeom) -> Result<V> {
        overwrite(ctx, g.output_len(), |y| pool::avg_forward(ctx.split, x, g, y))
    }

    fn avg_pool_backward(ctx: &Context, gy: &V, g: &PoolGeom) -> Result<V> {
        overwrite(ctx, g.input_len(), |dx| pool::avg_backward(ctx.split, gy, g, dx))
    }
}

/// The per-weight factors of a CPU draw's backward, kept by
/// [`crate::ops::sample_kl_forward_saving_in`] (two host buffers as long as the draw).
#[derive(Debug)]
pub struct SampleKlFactors {
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Drop for SampleKlFactors {
    /// Hands the buffers back for reuse, as a dropped host buffer does.
    fn drop(&mut self) {
        recycle::give(std::mem::take(&mut self.a));
        recycle::give(std::mem::take(&mut self.b));
    }
}

impl SampleKlFactors {
    /// The number of weights they were kept for.
    pub(crate) fn len(&self) -> usize {
        self.a.len()
    }
}

/// What only the CPU has: its fixed sizes, the reference backward of a
/// broadcast op, and the fused draw that keeps its backward's factors.
impl Cpu {
    /// The fixed sizes the CPU kernels decide with (a variant rule and the
    /// buffer pool's limits), as (name, value, what it decides, source file),
    /// for [`crate::registry::thresholds`].
    pub(crate) const FIXED_THRESHOLDS: [(&'static str, usize, &'static str, &'static str); 6] = [
        ("conv_direct SINGLE_IMAGE_WORK", conv_direct::SINGLE_IMAGE_WORK, "multiply-adds per output channel from which the conv auto rule sends a single image to im2col + GEMM (a variant rule)", "kernels/src/cpu/conv_direct/mod.rs"),
        ("recycle MIN_LEN", recycle::MIN_LEN, "elements from which a dropped host buffer goes to the shared pool (shorter ones stay with their thread)", "kernels/src/cpu/recycle.rs"),
        ("recycle SMALL_LENS", recycle::SMALL_LENS, "lengths under MIN_LEN a thread keeps buffers of", "kernels/src/cpu/recycle.rs"),
        ("recycle SMALL_PER_LEN", recycle::SMALL_PER_LEN, "buffers under MIN_LEN a thread keeps per length", "kernels/src/cpu/recycle.rs"),
        ("recycle PER_LEN", recycle::PER_LEN, "buffers kept per length", "kernels/src/cpu/recycle.rs"),
        ("recycle MAX_BYTES", recycle::MAX_BYTES, "bytes kept by the buffer pool in all", "kernels/src/cpu/recycle.rs"),
    ];

    /// The gradients of `a ∘ b` summed to the operands' shapes by the reference loops.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn binary_backward_reference(
        ctx: &Context,
        op: BinaryOp,
        a: &V,
        a_shape: &[usize],
        b: &V,
        b_shape: &[usize],
        g: &V,
        out_shape: &[usize],
    ) -> (V, V) {
        let (mut ga, mut gb) = (vec![0.0; a.len()], vec![0.0; b.len()]);
        ctx.install(|| {
            reference::elementwise::binary_backward(op, a, a_shape, b, b_shape, g, out_shape, &mut ga, &mut gb)
        });
        (ga, gb)
    }

    /// The fused draw and KL, keeping two factors per weight for the backward.
    pub(crate) fn sample_kl_forward_saving(
        ctx: &Context,
        mu: &V,
        rho: &V,
        seed: u64,
        offset: u64,
        prior: PriorSpec,
    ) -> (V, f32, SampleKlFactors) {
        let n = mu.len();
        let (mut w, mut a, mut b) = (recycle::for_overwrite(n), recycle::for_overwrite(n), recycle::for_overwrite(n));
        let kl =
            ctx.install(|| sample_kl::forward_saving(ctx.split, mu, rho, seed, offset, prior, &mut w, &mut a, &mut b));
        (w, kl, SampleKlFactors { a, b })
    }

    /// The backward of [`Cpu::sample_kl_forward_saving`] from the draw and its factors.
    pub(crate) fn sample_kl_backward_saved(
        ctx: &Context,
        w: &[f32],
        factors: &SampleKlFactors,
        g_w: Option<&[f32]>,
        g_kl: f32,
        prior: PriorSpec,
    ) -> (V, V) {
        let (mut gm, mut gr) = (recycle::for_overwrite(w.len()), recycle::for_overwrite(w.len()));
        ctx.install(|| {
            sample_kl::backward_saved(ctx.split, w, &factors.a, &factors.b, g_w, g_kl, prior, &mut gm, &mut gr)
        });
        (gm, gr)
    }
}
