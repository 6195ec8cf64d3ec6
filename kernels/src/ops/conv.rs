//! The convolution family: device dispatch of the convolution and pooling
//! kernels: the CPU arm calls the crate-private CPU kernels
//! (`kernels/src/cpu/{conv,conv_direct,pool}.rs`), the CUDA arm the functions
//! of the same name in [`crate::cuda`]. Every entry point checks the geometry
//! ([`ConvGeom::output`], [`PoolGeom::output`]: checked arithmetic) and the
//! operands' lengths against it before a kernel runs (the GPU kernels index
//! raw device memory with these sizes), and the output's size against the
//! memory limit.

use super::mismatch;
use crate::context::{Context, ConvVariant};
use crate::cpu;
use crate::cpu::{conv, conv_direct, pool};
use crate::cuda;
use crate::limits;
use crate::types::{ConvGeom, PoolGeom};
use crate::{Buffer, Error, Result};

/// [`Error::InvalidShape`] unless `buf` holds `want` elements.
fn check_len(op: &'static str, what: &str, buf: &Buffer, want: usize) -> Result<()> {
    if buf.len() == want {
        return Ok(());
    }
    Err(Error::InvalidShape {
        op,
        shape: vec![buf.len()],
        reason: format!("{what} holds {} elements, the geometry needs {want}", buf.len()),
    })
}

/// The geometry is valid, the operands match it, and the outputs (and the
/// unfolded input of the im2col path) fit in memory.
fn check_conv(g: &ConvGeom, x: &Buffer, w: &Buffer, b: Option<&Buffer>, gy: Option<&Buffer>) -> Result<()> {
    let o = g.output()?;
    check_len("conv", "the input", x, g.input_len())?;
    check_len("conv", "the weight", w, g.weight_len())?;
    if let Some(b) = b {
        check_len("conv", "the bias", b, g.out_channels)?;
    }
    if let Some(gy) = gy {
        check_len("conv", "the output gradient", gy, g.output_len())?;
    }
    let unfolded = limits::product_saturating(&[g.in_channels, g.kvol(), o[0], o[1], o[2]]);
    let bytes = limits::f32_bytes(g.output_len()).saturating_add(unfolded.saturating_mul(4));
    limits::check_memory(bytes, || format!("the output of a convolution {g:?}"))
}

/// As [`check_conv`] for a pooling with input `x` and output gradient `gy`.
fn check_pool(g: &PoolGeom, x: Option<&Buffer>, gy: Option<&Buffer>) -> Result<()> {
    g.output()?;
    if let Some(x) = x {
        check_len("pool", "the input", x, g.input_len())?;
    }
    if let Some(gy) = gy {
        check_len("pool", "the output gradient", gy, g.output_len())?;
    }
    let bytes = limits::f32_bytes(g.output_len().max(g.input_len()));
    limits::check_memory(bytes, || format!("the output of a pooling {g:?}"))
}

/// Whether `ctx`'s convolution variant can run `g` on `device`.
fn check_variant(ctx: &Context, g: &ConvGeom, on_gpu: bool) -> Result<()> {
    match ctx.conv {
        ConvVariant::Direct | ConvVariant::Reference if on_gpu => Err(Error::invalid(
            "conv variant",
            format!("the {} convolution has no GPU kernel (use auto or im2col)", ctx.conv.name()),
        )),
        ConvVariant::Direct if !conv_direct::handles(g) => Err(Error::invalid(
            "conv variant",
            format!("the direct convolution needs unit stride along the width, got stride {:?}", g.stride),
        )),
        _ => Ok(()),
    }
}

/// `y = conv(x, w) + b`: x `[N, C, D, H, W]`, w `[OC, C/groups, kd, kh, kw]`,
/// b `[OC]`, y `[N, OC, od, oh, ow]`.
///
/// Runs with the variant and threads of `ctx`.
///
/// # Errors
/// The geometry's errors ([`ConvGeom::output`]); [`Error::InvalidShape`]
/// for an operand whose length does not match it; [`Error::TooLarge`] for
/// an output beyond the memory limit; operands on different devices; CUDA failures.
pub fn conv_forward_in(ctx: &Context, x: &Buffer, w: &Buffer, b: Option<&Buffer>, g: &ConvGeom) -> Result<Buffer> {
    check_conv(g, x, w, b, None)?;
    check_variant(ctx, g, x.device() != crate::Device::Cpu)?;
    match (x, w, b) {
        (Buffer::Cpu(x), Buffer::Cpu(w), None) => Ok(host_conv(ctx, x, w, None, g)),
        (Buffer::Cpu(x), Buffer::Cpu(w), Some(Buffer::Cpu(b))) => Ok(host_conv(ctx, x, w, Some(b), g)),
        (Buffer::Cuda(xc), Buffer::Cuda(wc), None) => {
            cuda::conv_forward(ctx.gpu_gemm, xc, wc, None, g).map(Buffer::Cuda)
        }
        (Buffer::Cuda(xc), Buffer::Cuda(wc), Some(Buffer::Cuda(bc))) => {
            cuda::conv_forward(ctx.gpu_gemm, xc, wc, Some(bc), g).map(Buffer::Cuda)
        }
        (_, _, Some(b)) if b.device() != x.device() => Err(mismatch("conv", x, b)),
        _ => Err(mismatch("conv", x, w)),
    }
}

fn host_conv(ctx: &Context, x: &[f32], w: &[f32], b: Option<&[f32]>, g: &ConvGeom) -> Buffer {
    let mut y = cpu::recycle::for_overwrite(g.output_len());
    ctx.install(|| match ctx.conv {
        ConvVariant::Auto => conv::forward(ctx.split, x, w, b, g, &mut y),
        ConvVariant::Direct => conv_direct::forward(ctx.split, x, w, b, g, &mut y),
        ConvVariant::Im2col => conv::forward_unfolded(ctx.split, x, w, b, g, &mut y),
        ConvVariant::Reference => crate::reference::conv::forward(x, w, b, g, &mut y),
    });
    Buffer::Cpu(y)
}

/// Gradients of [`conv_forward_in`] with respect to x, w and b, each only when
/// `need` asks for it.
///
/// Runs with the variant and threads of `ctx`.
///
/// # Errors
/// As [`conv_forward_in`].
#[allow(clippy::type_complexity)]
pub fn conv_backward_in(
    ctx: &Context,
    x: &Buffer,
    w: &Buffer,
    gy: &Buffer,
    g: &ConvGeom,
    need: (bool, bool, bool),
) -> Result<(Option<Buffer>, Option<Buffer>, Option<Buffer>)> {
    check_conv(g, x, w, None, Some(gy))?;
    check_variant(ctx, g, x.device() != crate::Device::Cpu)?;
    match (x, w, gy) {
        (Buffer::Cpu(x), Buffer::Cpu(w), Buffer::Cpu(gy)) => {
            let (dx, dw, db) = ctx.install(|| match ctx.conv {
                ConvVariant::Auto => conv::backward(ctx.split, x, w, gy, g, need),
                ConvVariant::Direct => conv_direct::backward(ctx.split, x, w, gy, g, need),
                ConvVariant::Im2col => conv::backward_unfolded(ctx.split, x, w, gy, g, need),
                ConvVariant::Reference => crate::reference::conv::backward(x, w, gy, g, need),
            });
            Ok((dx.map(Buffer::Cpu), dw.map(Buffer::Cpu), db.map(Buffer::Cpu)))
        }
        (Buffer::Cuda(xc), Buffer::Cuda(wc), Buffer::Cuda(gc)) => {
            let (dx, dw, db) = cuda::conv_backward(ctx.gpu_gemm, xc, wc, gc, g, need)?;
            Ok((dx.map(Buffer::Cuda), dw.map(Buffer::Cuda), db.map(Buffer::Cuda)))
        }
        _ => Err(mismatch("conv", x, gy)),
    }
}

/// Max pooling: the pooled values (the backward finds the arg-max again).
///
/// Runs with the threads and split policy of `ctx`.
///
/// # Errors
/// The geometry's errors ([`PoolGeom::output`]); [`Error::InvalidShape`]
/// for an operand whose length does not match it; [`Error::TooLarge`];
/// CUDA failures.
pub fn max_pool_forward_in(ctx: &Context, x: &Buffer, g: &PoolGeom) -> Result<Buffer> {
    check_pool(g, Some(x), None)?;
    match x {
        Buffer::Cpu(x) => {
            let mut y = cpu::recycle::for_overwrite(g.output_len());
            ctx.install(|| pool::max_forward(ctx.split, x, g, &mut y));
            Ok(Buffer::Cpu(y))
        }
        Buffer::Cuda(x) => cuda::max_pool_forward(x, g).map(Buffer::Cuda),
    }
}

/// The adjoint of [`max_pool_forward_in`]: `gy` routed to each window's arg-max,
/// found again in the input `x` (no index buffer, no host copy).
///
/// Runs with the threads and split policy of `ctx`.
///
/// # Errors
/// As [`max_pool_forward_in`]; operands on different devices.
pub fn max_pool_backward_in(ctx: &Context, x: &Buffer, gy: &Buffer, g: &PoolGeom) -> Result<Buffer> {
    check_pool(g, Some(x), Some(gy))?;
    match (x, gy) {
        (Buffer::Cpu(x), Buffer::Cpu(gy)) => {
            let mut dx = cpu::recycle::for_overwrite(g.input_len());
            ctx.install(|| pool::max_backward(ctx.split, x, gy, g, &mut dx));
            Ok(Buffer::Cpu(dx))
        }
        (Buffer::Cuda(x), Buffer::Cuda(gy)) => cuda::max_pool_backward(x, gy, g).map(Buffer::Cuda),
        _ => Err(Error::DeviceMismatch { op: "max_pool", lhs: x.device(), rhs: gy.device() }),
    }
}

/// Average pooling (padding counts as zeros).
///
/// Runs with the threads and split policy of `ctx`.
///
/// # Errors
/// As [`max_pool_forward_in`].
pub fn avg_pool_forward_in(ctx: &Context, x: &Buffer, g: &PoolGeom) -> Result<Buffer> {
    check_pool(g, Some(x), None)?;
    match x {
        Buffer::Cpu(x) => {
            let mut y = cpu::recycle::for_overwrite(g.output_len());
            ctx.install(|| pool::avg_forward(ctx.split, x, g, &mut y));
            Ok(Buffer::Cpu(y))
        }
        Buffer::Cuda(x) => cuda::avg_pool_forward(x, g).map(Buffer::Cuda),
    }
}

/// The adjoint of [`avg_pool_forward_in`].
///
/// Runs with the threads and split policy of `ctx`.
///
/// # Errors
/// As [`max_pool_forward_in`].
pub fn avg_pool_backward_in(ctx: &Context, gy: &Buffer, g: &PoolGeom) -> Result<Buffer> {
    check_pool(g, None, Some(gy))?;
    match gy {
        Buffer::Cpu(gy) => {
            let mut dx = cpu::recycle::for_overwrite(g.input_len());
            ctx.install(|| pool::avg_backward(ctx.split, gy, g, &mut dx));
            Ok(Buffer::Cpu(dx))
        }
        Buffer::Cuda(gy) => cuda::avg_pool_backward(gy, g).map(Buffer::Cuda),
    }
}
