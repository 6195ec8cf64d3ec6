//! Host side of `cu/random.cu`: normals named by (seed, offset), the fused
//! reparameterisation and its log-posterior reduction. One thread per Philox
//! block of four draws.

use super::buffer::{same_device, CudaBuffer};
use super::device::{device, drv, grid};
use super::reduce::{finish, reduce_grid};
use super::sources::RANDOM;
use crate::cpu::reparam::LN_SQRT_2PI;
use crate::cpu::sample_kl::{Consts, PriorSpec};
use crate::{Error, Result, ScalarOp};

/// Philox blocks touched by elements [offset, offset + n).
fn blocks(offset: u64, n: u64) -> u64 {
    (offset + n).div_ceil(4) - offset / 4
}

/// `len` standard normals named (seed, offset + i), on device `ordinal`.
///
/// # Errors
/// The device cannot be used; CUDA failures.
pub fn normal(ordinal: usize, seed: u64, offset: u64, len: usize) -> Result<CudaBuffer> {
    let dev = device(ordinal)?;
    let mut y = CudaBuffer::uninit(&dev, len)?;
    let n = len as u64;
    if n > 0 {
        let out = y.slice_mut()?;
        launch!(dev, RANDOM, "normal_fill", grid(blocks(offset, n)), [&seed, &offset, out, &n])?;
    }
    Ok(y)
}

/// Fused w = mu + softplus(rho)·eps(seed, offset).
///
/// # Errors
/// Operands on different GPUs; CUDA failures.
pub fn reparam_forward(mu: &CudaBuffer, rho: &CudaBuffer, seed: u64, offset: u64) -> Result<CudaBuffer> {
    let dev = same_device("reparam", &[mu, rho])?;
    let mut w = CudaBuffer::uninit(&dev, mu.len())?;
    reparam_forward_into(mu, rho, seed, offset, &mut w)?;
    Ok(w)
}

/// [`reparam_forward`] into an existing buffer of the same length (no allocation).
///
/// # Errors
/// Operands on different GPUs or of different lengths; CUDA failures.
pub fn reparam_forward_into(
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
            RANDOM,
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
pub fn reparam_backward(rho: &CudaBuffer, g: &CudaBuffer, seed: u64, offset: u64) -> Result<(CudaBuffer, CudaBuffer)> {
    let dev = same_device("reparam", &[rho, g])?;
    let n = rho.len() as u64;
    let mut g_rho = CudaBuffer::uninit(&dev, rho.len())?;
    if n > 0 {
        let out = g_rho.slice_mut()?;
        launch!(
            dev,
            RANDOM,
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
pub fn reparam_log_posterior(rho: &CudaBuffer, seed: u64, offset: u64) -> Result<CudaBuffer> {
    let dev = rho.dev().clone();
    let n = rho.len() as u64;
    // SAFETY: f64 has no invalid bit patterns; every block writes its partial.
    let mut partial =
        unsafe { dev.stream().alloc::<f64>(super::device::REDUCE_BLOCKS as usize) }.map_err(drv("cuMemAlloc"))?;
    launch!(
        dev,
        RANDOM,
        "reparam_log_posterior_partial",
        reduce_grid(),
        [rho.slice(), &n, &seed, &offset, &mut partial]
    )?;
    finish(&dev, &partial).map(|(b, _)| b)
}

/// Fused draw + Monte Carlo KL: (w, Σ[log q(w) − log p(w)] as one element),
/// one pass with eps in registers (the CPU's `cpu::sample_kl::forward`).
///
/// # Errors
/// Operands on different GPUs; CUDA failures.
pub fn sample_kl_forward(
    mu: &CudaBuffer,
    rho: &CudaBuffer,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
) -> Result<(CudaBuffer, CudaBuffer)> {
    let dev = same_device("sample_kl", &[mu, rho])?;
    let mut w = CudaBuffer::uninit(&dev, mu.len())?;
    let kl = sample_kl_forward_into(mu, rho, seed, offset, prior, &mut w)?;
    Ok((w, kl))
}

/// [`sample_kl_forward`] writing w into an existing buffer (no allocation of w);
/// returns the KL.
///
/// # Errors
/// Operands on different GPUs or of different lengths; CUDA failures.
pub fn sample_kl_forward_into(
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
    // SAFETY: f64 has no invalid bit patterns; every block writes its partial.
    let mut partial =
        unsafe { dev.stream().alloc::<f64>(super::device::REDUCE_BLOCKS as usize) }.map_err(drv("cuMemAlloc"))?;
    {
        let out = w.slice_mut()?;
        launch!(
            dev,
            RANDOM,
            "sample_kl_fwd",
            reduce_grid(),
            [mu.slice(), rho.slice(), out, &n, &seed, &offset, &k.ca, &k.ha, &k.cb, &k.hb, &mut partial]
        )?;
    }
    let (sum, _) = finish(&dev, &partial)?;
    // The −ln √(2π) per element, added once here as on the CPU.
    super::elementwise::scalar(ScalarOp::Add(-LN_SQRT_2PI * n as f32), &sum)
}

/// Backward of [`sample_kl_forward`]: (grad_mu, grad_rho) from ∂L/∂w (None when
/// the loss uses only the KL) and ∂L/∂kl, eps regenerated once.
///
/// # Errors
/// Operands on different GPUs; CUDA failures.
pub fn sample_kl_backward(
    mu: &CudaBuffer,
    rho: &CudaBuffer,
    g_w: Option<&CudaBuffer>,
    g_kl: f32,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
) -> Result<(CudaBuffer, CudaBuffer)> {
    let dev = same_device("sample_kl", &[mu, rho])?;
    let n = mu.len() as u64;
    let k = Consts::new(prior);
    let (mut g_mu, mut g_rho) = (CudaBuffer::uninit(&dev, mu.len())?, CudaBuffer::uninit(&dev, mu.len())?);
    if n > 0 {
        let has_gw: i32 = g_w.is_some().into();
        let gw = g_w.unwrap_or(mu);
        let (om, or) = (g_mu.slice_mut()?, g_rho.slice_mut()?);
        launch!(
            dev,
            RANDOM,
            "sample_kl_bwd",
            grid(blocks(offset, n)),
            [
                mu.slice(),
                rho.slice(),
                gw.slice(),
                &has_gw,
                &g_kl,
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
