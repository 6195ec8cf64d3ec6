//! Host side of `cu/random.cu`: normals named by (seed, offset), the fused
//! reparameterisation and its log-posterior reduction. One thread per Philox
//! block of four draws.

use super::buffer::{same_device, CudaBuffer};
use super::device::{device, drv, grid, DeviceCtx};
use super::reduce::finish;
use super::sources::{Source, RANDOM, RANDOM_FAST};
use crate::context::SamplerMath;
use crate::types::prior::{Consts, LN_SQRT_2PI};
use crate::types::PriorSpec;
use crate::{Error, Result, ScalarOp};
use cudarc::driver::{CudaSlice, LaunchConfig};
use std::sync::Arc;

/// The compiled variant of `cu/random.cu` for `math`.
fn random_src(math: SamplerMath) -> Source {
    match math {
        SamplerMath::Fast => RANDOM_FAST,
        SamplerMath::Exact => RANDOM,
    }
}

/// Most blocks (so partial sums) of a sampling reduction: a few waves on any
/// current GPU for big draws; small draws get one block per 256 Philox blocks.
const SAMPLER_PARTIALS: u32 = 4096;

/// The grid of a sampling reduction over `nblocks` Philox blocks, and its
/// buffer of one partial sum per block (written by every block).
fn partials(dev: &Arc<DeviceCtx>, nblocks: u64) -> Result<(LaunchConfig, CudaSlice<f64>)> {
    let mut cfg = grid(nblocks);
    cfg.grid_dim.0 = cfg.grid_dim.0.min(SAMPLER_PARTIALS);
    // SAFETY: f64 has no invalid bit patterns; every block writes its partial.
    let partial = unsafe { dev.stream().alloc::<f64>(cfg.grid_dim.0 as usize) }.map_err(drv("cuMemAlloc"))?;
    Ok((cfg, partial))
}

/// The KL of `n` weights from its kernel's partials: their sum, minus the
/// ln √(2π) per element that the kernels leave out (added once, as on the CPU).
fn finish_kl(dev: &Arc<DeviceCtx>, partial: &CudaSlice<f64>, n: u64) -> Result<CudaBuffer> {
    let (sum, _) = finish(dev, partial)?;
    super::elementwise::scalar(ScalarOp::Add(-LN_SQRT_2PI * n as f32), &sum)
}

/// Philox blocks touched by elements [offset, offset + n).
fn blocks(offset: u64, n: u64) -> u64 {
    (offset + n).div_ceil(4) - offset / 4
}

/// `len` standard normals named (seed, offset + i), on device `ordinal`.
///
/// # Errors
/// The device cannot be used; CUDA failures.
pub(crate) fn normal(math: SamplerMath, ordinal: usize, seed: u64, offset: u64, len: usize) -> Result<CudaBuffer> {
    let dev = device(ordinal)?;
    let mut y = CudaBuffer::uninit(&dev, len)?;
    let n = len as u64;
    if n > 0 {
        let out = y.slice_mut()?;
        launch!(dev, random_src(math), "normal_fill", grid(blocks(offset, n)), [&seed, &offset, out, &n])?;
    }
    Ok(y)
}

/// Fused w = mu + softplus(rho)·eps(seed, offset).
///
/// # Errors
/// Operands on different GPUs; CUDA failures.
pub(crate) fn reparam_forward(
    math: SamplerMath,
    mu: &CudaBuffer,
    rho: &CudaBuffer,
    seed: u64,
    offset: u64,
) -> Result<CudaBuffer> {
    let dev = same_device("reparam", &[mu, rho])?;
    let mut w = CudaBuffer::uninit(&dev, mu.len())?;
    reparam_forward_into(math, mu, rho, seed, offset, &mut w)?;
    Ok(w)
}

/// [`reparam_forward`] into an existing buffer of the same length (no allocation).
///
/// # Errors
/// Operands on different GPUs or of different lengths; CUDA failures.
pub(crate) fn reparam_forward_into(
    math: SamplerMath,
    mu: &CudaBuffer,
    rho: &CudaBuffer,
    seed: u64,
    offset: u64,
    w: &mut CudaBuffer,
) -> Result<()> {
    let dev = same_device("reparam", &[mu, rho, w])?;
    let n = mu.len() as u64;
    if rho.len() != mu.len() || w.len() != mu.len() {
        return Err(Error::ShapeMismatch { op: "reparam_forward_into", lhs: vec![mu.len()], rhs: vec![w.len()] });
    }
    if n > 0 {
        let out = w.slice_mut()?;
        launch!(
            dev,
            random_src(math),
            "reparam_fwd",
            grid(blocks(offset, n)),
            [mu.slice(), rho.slice(), out, &n, &seed, &offset]
        )?;
    }
    Ok(())
}

/// (grad_mu, grad_rho) = (g, g·eps·sigmoid(rho)), eps regenerated.
///
/// # Errors
/// Operands on different GPUs; CUDA failures.
pub(crate) fn reparam_backward(
    math: SamplerMath,
    rho: &CudaBuffer,
    g: &CudaBuffer,
    seed: u64,
    offset: u64,
) -> Result<(CudaBuffer, CudaBuffer)> {
    let dev = same_device("reparam", &[rho, g])?;
    let n = rho.len() as u64;
    let mut g_rho = CudaBuffer::uninit(&dev, rho.len())?;
    if n > 0 {
        let out = g_rho.slice_mut()?;
        launch!(
            dev,
            random_src(math),
            "reparam_bwd",
            grid(blocks(offset, n)),
            [rho.slice(), g.slice(), out, &n, &seed, &offset]
        )?;
    }
    Ok((g.deep_clone()?, g_rho))
}

/// Σ log N(w; mu, sigma) of the weights [`reparam_forward`] draws, one element,
/// reduced inside the sampling kernel.
///
/// # Errors
/// CUDA failures.
pub(crate) fn reparam_log_posterior(math: SamplerMath, rho: &CudaBuffer, seed: u64, offset: u64) -> Result<CudaBuffer> {
    let dev = rho.dev().clone();
    let n = rho.len() as u64;
    let (cfg, mut partial) = partials(&dev, blocks(offset, n))?;
    launch!(
        dev,
        random_src(math),
        "reparam_log_posterior_partial",
        cfg,
        [rho.slice(), &n, &seed, &offset, &mut partial]
    )?;
    finish(&dev, &partial).map(|(b, _)| b)
}

/// Fused draw + Monte Carlo KL: (w, Σ[log q(w) − log p(w)] as one element),
/// one pass with eps in registers (the CPU's `cpu::sample_kl::forward`).
///
/// # Errors
/// Operands on different GPUs; CUDA failures.
pub(crate) fn sample_kl_forward(
    math: SamplerMath,
    mu: &CudaBuffer,
    rho: &CudaBuffer,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
) -> Result<(CudaBuffer, CudaBuffer)> {
    let dev = same_device("sample_kl", &[mu, rho])?;
    let mut w = CudaBuffer::uninit(&dev, mu.len())?;
    let kl = sample_kl_forward_into(math, mu, rho, seed, offset, prior, &mut w)?;
    Ok((w, kl))
}

/// [`sample_kl_forward`] writing w into an existing buffer (no allocation of w);
/// returns the KL.
///
/// # Errors
/// Operands on different GPUs or of different lengths; CUDA failures.
pub(crate) fn sample_kl_forward_into(
    math: SamplerMath,
    mu: &CudaBuffer,
    rho: &CudaBuffer,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
    w: &mut CudaBuffer,
) -> Result<CudaBuffer> {
    let dev = same_device("sample_kl", &[mu, rho, w])?;
    if rho.len() != mu.len() || w.len() != mu.len() {
        return Err(Error::ShapeMismatch { op: "sample_kl_forward_into", lhs: vec![mu.len()], rhs: vec![w.len()] });
    }
    let n = mu.len() as u64;
    let k = Consts::new(prior);
    let (cfg, mut partial) = partials(&dev, blocks(offset, n))?;
    {
        let out = w.slice_mut()?;
        launch!(
            dev,
            random_src(math),
            "sample_kl_fwd",
            cfg,
            [mu.slice(), rho.slice(), out, &n, &seed, &offset, &k.ca, &k.ha, &k.cb, &k.hb, &mut partial]
        )?;
    }
    finish_kl(&dev, &partial, n)
}

/// Backward of [`sample_kl_forward`]: (grad_mu, grad_rho) from ∂L/∂w (None when
/// the loss uses only the KL) and ∂L/∂kl (one element, read on the device),
/// eps regenerated once.
///
/// # Errors
/// Operands on different GPUs; CUDA failures.
pub(crate) fn sample_kl_backward(
    math: SamplerMath,
    mu: &CudaBuffer,
    rho: &CudaBuffer,
    g_w: Option<&CudaBuffer>,
    g_kl: &CudaBuffer,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
) -> Result<(CudaBuffer, CudaBuffer)> {
    let dev = same_device("sample_kl", &[mu, rho, g_kl])?;
    check_scalar("sample_kl_backward", g_kl)?;
    let n = mu.len() as u64;
    let k = Consts::new(prior);
    let (mut g_mu, mut g_rho) = (CudaBuffer::uninit(&dev, mu.len())?, CudaBuffer::uninit(&dev, mu.len())?);
    if n > 0 {
        let has_gw: i32 = g_w.is_some().into();
        let gw = g_w.unwrap_or(mu);
        let (om, or) = (g_mu.slice_mut()?, g_rho.slice_mut()?);
        launch!(
            dev,
            random_src(math),
            "sample_kl_bwd",
            grid(blocks(offset, n)),
            [
                mu.slice(),
                rho.slice(),
                gw.slice(),
                &has_gw,
                g_kl.slice(),
                &n,
                &seed,
                &offset,
                &k.ca,
                &k.ha,
                &k.cb,
                &k.hb,
                om,
                or
            ]
        )?;
    }
    Ok((g_mu, g_rho))
}

/// Σ[log q(w) − log p(w)] (one element) for weights `w` drawn by
/// [`reparam_forward`] with (seed, offset): eps regenerated, one pass.
///
/// # Errors
/// Operands on different GPUs or of different lengths; CUDA failures.
pub(crate) fn kl_at(
    math: SamplerMath,
    w: &CudaBuffer,
    rho: &CudaBuffer,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
) -> Result<CudaBuffer> {
    let dev = same_device("kl_at", &[w, rho])?;
    if rho.len() != w.len() {
        return Err(Error::ShapeMismatch { op: "kl_at", lhs: vec![w.len()], rhs: vec![rho.len()] });
    }
    let n = w.len() as u64;
    let k = Consts::new(prior);
    let (cfg, mut partial) = partials(&dev, blocks(offset, n))?;
    launch!(
        dev,
        random_src(math),
        "kl_at_partial",
        cfg,
        [w.slice(), rho.slice(), &n, &seed, &offset, &k.ca, &k.ha, &k.cb, &k.hb, &mut partial]
    )?;
    finish_kl(&dev, &partial, n)
}

/// Backward of [`kl_at`]: (grad_w, grad_rho) for ∂L/∂kl = `g_kl` (one element,
/// read on the device).
///
/// # Errors
/// Operands on different GPUs or of different lengths; CUDA failures.
pub(crate) fn kl_at_backward(
    math: SamplerMath,
    w: &CudaBuffer,
    rho: &CudaBuffer,
    g_kl: &CudaBuffer,
    prior: PriorSpec,
) -> Result<(CudaBuffer, CudaBuffer)> {
    let dev = same_device("kl_at", &[w, rho, g_kl])?;
    check_scalar("kl_at_backward", g_kl)?;
    if rho.len() != w.len() {
        return Err(Error::ShapeMismatch { op: "kl_at_backward", lhs: vec![w.len()], rhs: vec![rho.len()] });
    }
    let n = w.len() as u64;
    let k = Consts::new(prior);
    let (mut g_w, mut g_rho) = (CudaBuffer::uninit(&dev, w.len())?, CudaBuffer::uninit(&dev, w.len())?);
    if n > 0 {
        let (ow, or) = (g_w.slice_mut()?, g_rho.slice_mut()?);
        launch!(
            dev,
            random_src(math),
            "kl_at_bwd",
            grid(n),
            [w.slice(), rho.slice(), g_kl.slice(), &n, &k.ca, &k.ha, &k.cb, &k.hb, ow, or]
        )?;
    }
    Ok((g_w, g_rho))
}

/// ∂L/∂kl must be one element.
fn check_scalar(op: &'static str, g: &CudaBuffer) -> Result<()> {
    if g.len() == 1 {
        Ok(())
    } else {
        Err(Error::ShapeMismatch { op, lhs: vec![1], rhs: vec![g.len()] })
    }
}
