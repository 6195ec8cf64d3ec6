//! The convolution family: device dispatch of the convolution and pooling
//! kernels: the CPU arm calls the crate-private CPU kernels
//! (`kernels/src/cpu/{conv,conv_direct,pool}.rs`), the CUDA arm the functions
//! of the same name in [`crate::cuda`]. Every entry point checks the geometry
//! ([`ConvGeom::output`], [`PoolGeom::output`]: checked arithmetic) and the
//! operands' lengths against it before a kernel runs (the GPU kernels index
//! raw device memory with these sizes), and the output's size against the
//! memory limit.

use super::mismatch;
use crate::backend::Backend;
use crate::buffer::{Cpu, Gpu};
use crate::context::{Context, ConvVariant};
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

/// Whether `ctx`'s convolution variant can run on `device` (the CPU
/// backend checks that the direct loops handle the geometry).
fn check_variant(ctx: &Context, on_gpu: bool) -> Result<()> {
    match ctx.conv {
        ConvVariant::Direct | ConvVariant::Reference if on_gpu => Err(Error::invalid(
            "conv variant",
            format!("the {} convolution has no GPU kernel (use auto or im2col)", ctx.conv.name()),
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
    check_variant(ctx, x.device() != crate::Device::Cpu)?;
    match (x, w, b) {
        (Buffer::Cpu(x), Buffer::Cpu(w), None) => Cpu::conv_forward(ctx, x, w, None, g).map(Buffer::Cpu),
        (Buffer::Cpu(x), Buffer::Cpu(w), Some(Buffer::Cpu(b))) => {
            Cpu::conv_forward(ctx, x, w, Some(b), g).map(Buffer::Cpu)
        }
        (Buffer::Cuda(x), Buffer::Cuda(w), None) => Gpu::conv_forward(ctx, x, w, None, g).map(Buffer::Cuda),
        (Buffer::Cuda(x), Buffer::Cuda(w), Some(Buffer::Cuda(b))) => {
            Gpu::conv_forward(ctx, x, w, Some(b), g).map(Buffer::Cuda)
        }
        (_, _, Some(b)) if b.device() != x.device() => Err(mismatch("conv", x, b)),
        _ => Err(mismatch("conv", x, w)),
    }
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
    check_variant(ctx, x.device() != crate::Device::Cpu)?;
    match (x, w, gy) {
        (Buffer::Cpu(x), Buffer::Cpu(w), Buffer::Cpu(gy)) => {
            let (dx, dw, db) = Cpu::conv_backward(ctx, x, w, gy, g, need)?;
            Ok((dx.map(Buffer::Cpu), dw.map(Buffer::Cpu), db.map(Buffer::Cpu)))
        }
        (Buffer::Cuda(x), Buffer::Cuda(w), Buffer::Cuda(gy)) => {
            let (dx, dw, db) = Gpu::conv_backward(ctx, x, w, gy, g, need)?;
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
        Buffer::Cpu(x) => Cpu::max_pool_forward(ctx, x, g).map(Buffer::Cpu),
        Buffer::Cuda(x) => Gpu::max_pool_forward(ctx, x, g).map(Buffer::Cuda),
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
        (Buffer::Cpu(x), Buffer::Cpu(gy)) => Cpu::max_pool_backward(ctx, x, gy, g).map(Buffer::Cpu),
        (Buffer::Cuda(x), Buffer::Cuda(gy)) => Gpu::max_pool_backward(ctx, x, gy, g).map(Buffer::Cuda),
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
        Buffer::Cpu(x) => Cpu::avg_pool_forward(ctx, x, g).map(Buffer::Cpu),
        Buffer::Cuda(x) => Gpu::avg_pool_forward(ctx, x, g).map(Buffer::Cuda),
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
        Buffer::Cpu(gy) => Cpu::avg_pool_backward(ctx, gy, g).map(Buffer::Cpu),
        Buffer::Cuda(gy) => Gpu::avg_pool_backward(ctx, gy, g).map(Buffer::Cuda),
    }
}
