//! Host side of `cu/random.cu`: normals named by (seed, offset), the fused
//! reparameterisation and its log-posterior reduction. One thread per Philox
//! block of four draws.

use super::buffer::{same_device, CudaBuffer};
use super::device::{device, drv, grid};
use super::reduce::{finish, reduce_grid};
use super::sources::RANDOM;
use crate::Result;

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
    let n = mu.len() as u64;
    let mut w = CudaBuffer::uninit(&dev, mu.len())?;
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
    Ok(w)
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
