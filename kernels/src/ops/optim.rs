//! Optimizer steps in place (Adam, SGD, scaling) and the finiteness and
//! squared-norm reads the optimizers guard with: the device match of each.

use super::{expect_same_len, mismatch};
use crate::backend::Backend;
use crate::buffer::{Cpu, Gpu};
use crate::context::Context;
use crate::cuda::CudaBuffer;
use crate::types::AdamStep;
use crate::{Buffer, Error, Result};

/// One Adam step in place.
///
/// Runs with the threads and split policy of `ctx`.
///
/// # Errors
/// [`Error::ShapeMismatch`] when the four buffers differ in length; buffers
/// on different devices; CUDA failures.
pub fn adam_step_in(
    ctx: &Context,
    p: &mut Buffer,
    m: &mut Buffer,
    v: &mut Buffer,
    g: &Buffer,
    h: AdamStep,
) -> Result<()> {
    if [m.len(), v.len(), g.len()].iter().any(|&l| l != p.len()) {
        return Err(Error::ShapeMismatch { op: "adam", lhs: vec![p.len()], rhs: vec![m.len(), v.len(), g.len()] });
    }
    match (p, m, v, g) {
        (Buffer::Cpu(p), Buffer::Cpu(m), Buffer::Cpu(v), Buffer::Cpu(g)) => Cpu::adam_step(ctx, p, m, v, g, h),
        (Buffer::Cuda(p), Buffer::Cuda(m), Buffer::Cuda(v), Buffer::Cuda(g)) => Gpu::adam_step(ctx, p, m, v, g, h),
        (p, _, _, g) => Err(mismatch("adam", p, g)),
    }
}

/// One SGD (momentum, weight decay) step in place.
///
/// Runs with the threads of `ctx`.
///
/// # Errors
/// Buffers on different devices; CUDA failures.
pub fn sgd_step_in(
    ctx: &Context,
    p: &mut Buffer,
    buf: &mut Buffer,
    g: &Buffer,
    lr: f32,
    momentum: f32,
    weight_decay: f32,
) -> Result<()> {
    expect_same_len("sgd", p, &[buf, g])?;
    match (p, buf, g) {
        (Buffer::Cpu(p), Buffer::Cpu(buf), Buffer::Cpu(g)) => Cpu::sgd_step(ctx, p, buf, g, lr, momentum, weight_decay),
        (Buffer::Cuda(p), Buffer::Cuda(buf), Buffer::Cuda(g)) => {
            Gpu::sgd_step(ctx, p, buf, g, lr, momentum, weight_decay)
        }
        (p, _, g) => Err(mismatch("sgd", p, g)),
    }
}

/// x ← s·x in place.
///
/// Runs with the threads and split policy of `ctx`.
///
/// # Errors
/// CUDA failures only.
pub fn scale_inplace_in(ctx: &Context, x: &mut Buffer, s: f32) -> Result<()> {
    match x {
        Buffer::Cpu(x) => Cpu::scale_inplace(ctx, x, s),
        Buffer::Cuda(x) => Gpu::scale_inplace(ctx, x, s),
    }
}

/// Whether every element is finite (no NaN, no infinity): input checks.
/// For many buffers at once use [`first_non_finite_in`].
///
/// # Errors
/// CUDA failures only.
pub fn all_finite_in(ctx: &Context, x: &Buffer) -> Result<bool> {
    Ok(first_non_finite_in(ctx, &[x])?.is_none())
}

/// The lowest index of a buffer holding a NaN or an infinity, if any: the
/// optimizers' guard over all gradients of a step. GPU buffers are reduced
/// on their device and read back together, one synchronisation per device
/// (see [`sum_squares_many_in`]), not one each.
///
/// Runs with the threads and split policy of `ctx`.
///
/// # Errors
/// CUDA failures only.
pub fn first_non_finite_in(ctx: &Context, xs: &[&Buffer]) -> Result<Option<usize>> {
    let mut first: Option<usize> = None;
    let mut gpu: Vec<(usize, &CudaBuffer)> = Vec::new();
    for (i, x) in xs.iter().enumerate() {
        match x {
            Buffer::Cpu(v) => {
                if first.is_none() && !Cpu::all_finite(ctx, v)? {
                    first = Some(i)
                }
            }
            Buffer::Cuda(c) => gpu.push((i, c)),
        }
    }
    let gpu_bufs: Vec<&Buffer> = gpu.iter().map(|&(i, _)| xs[i]).collect();
    // Σx² in f64 is finite exactly when every element is (f32::MAX² ≈ 1e77).
    let sums = sum_squares_many_in(ctx, &gpu_bufs)?;
    if let Some(k) = sums.iter().position(|s| !s.is_finite()) {
        first = Some(first.map_or(gpu[k].0, |f| f.min(gpu[k].0)));
    }
    Ok(first)
}

/// Σ x² in f64 of each buffer. GPU buffers are reduced on their device and
/// read back together: one synchronisation per device, not one per buffer
/// (gradient clipping and the optimizers' guard read every gradient).
///
/// # Errors
/// CUDA failures only.
pub fn sum_squares_many_in(ctx: &Context, xs: &[&Buffer]) -> Result<Vec<f64>> {
    let mut out = vec![0f64; xs.len()];
    let mut gpu: Vec<(usize, &CudaBuffer)> = Vec::new();
    for (i, x) in xs.iter().enumerate() {
        match x {
            Buffer::Cpu(v) => out[i] = Cpu::sum_squares(ctx, v)?,
            Buffer::Cuda(c) => gpu.push((i, c)),
        }
    }
    while let Some(&(_, head)) = gpu.first() {
        let device = head.device();
        let (here, rest): (Vec<_>, Vec<_>) = gpu.into_iter().partition(|(_, c)| c.device() == device);
        let bufs: Vec<&CudaBuffer> = here.iter().map(|&(_, c)| c).collect();
        for (&(i, _), s) in here.iter().zip(Gpu::sum_squares_many(ctx, &bufs)?) {
            out[i] = s;
        }
        gpu = rest;
    }
    Ok(out)
}

/// Σ x² in f64 of one buffer, read back to the host (one synchronisation;
/// for several buffers [`sum_squares_many_in`] takes one in all).
///
/// # Errors
/// CUDA failures only.
pub fn sum_squares_in(ctx: &Context, x: &Buffer) -> Result<f64> {
    match x {
        Buffer::Cpu(x) => Cpu::sum_squares(ctx, x),
        Buffer::Cuda(x) => Gpu::sum_squares(ctx, x),
    }
}
