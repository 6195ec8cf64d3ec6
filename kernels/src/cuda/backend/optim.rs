//! Host side of `cu/optim.cu`: optimizer steps in place.

use super::buffer::{same_device, CudaBuffer};
use super::device::grid;
use super::sources::OPTIM;
use crate::types::AdamStep;
use crate::Result;

/// One Adam step in place.
///
/// # Errors
/// Buffers on different GPUs; CUDA failures.
pub(crate) fn adam_step(
    p: &mut CudaBuffer,
    m: &mut CudaBuffer,
    v: &mut CudaBuffer,
    g: &CudaBuffer,
    h: AdamStep,
) -> Result<()> {
    let dev = same_device("adam", &[p, m, v, g])?;
    let n = p.len() as u64;
    if n == 0 {
        return Ok(());
    }
    let (ps, ms, vs) = (p.slice_mut()?, m.slice_mut()?, v.slice_mut()?);
    launch!(
        dev,
        OPTIM,
        "adam_step",
        grid(n),
        [ps, ms, vs, g.slice(), &n, &h.step_size, &h.beta1, &h.beta2, &h.eps_hat, &h.weight_decay]
    )
}

/// One SGD step (momentum, weight decay) in place.
///
/// # Errors
/// Buffers on different GPUs; CUDA failures.
pub(crate) fn sgd_step(
    p: &mut CudaBuffer,
    buf: &mut CudaBuffer,
    g: &CudaBuffer,
    lr: f32,
    momentum: f32,
    weight_decay: f32,
) -> Result<()> {
    let dev = same_device("sgd", &[p, buf, g])?;
    let n = p.len() as u64;
    if n == 0 {
        return Ok(());
    }
    let (ps, bs) = (p.slice_mut()?, buf.slice_mut()?);
    launch!(dev, OPTIM, "sgd_step", grid(n), [ps, bs, g.slice(), &n, &lr, &momentum, &weight_decay])
}

/// x ← s·x in place.
///
/// # Errors
/// CUDA failures.
pub(crate) fn scale_inplace(x: &mut CudaBuffer, s: f32) -> Result<()> {
    let dev = x.dev().clone();
    let n = x.len() as u64;
    if n == 0 {
        return Ok(());
    }
    let xs = x.slice_mut()?;
    launch!(dev, OPTIM, "scale_inplace", grid(n), [xs, &n, &s])
}
