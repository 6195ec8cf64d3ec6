//! Host side of `cu/reduce.cu`: sums, axis reductions, max and the sum back
//! to a broadcast operand's shape.

use super::buffer::{same_device, upload_indices, CudaBuffer};
use super::device::{drv, grid, DeviceCtx, REDUCE_BLOCKS, THREADS};
use super::dims::Dims;
use super::sources::REDUCE;
use crate::shape::numel;
use crate::Result;
use cudarc::driver::{CudaSlice, LaunchConfig};
use std::sync::Arc;

/// The fixed grid of the two-pass reductions.
pub(crate) fn reduce_grid() -> LaunchConfig {
    LaunchConfig { grid_dim: (REDUCE_BLOCKS, 1, 1), block_dim: (THREADS, 1, 1), shared_mem_bytes: 0 }
}

/// Adds up every double in `partial` (one per block of the first pass):
/// (one-float buffer, one-double slice).
pub(crate) fn finish(dev: &Arc<DeviceCtx>, partial: &CudaSlice<f64>) -> Result<(CudaBuffer, CudaSlice<f64>)> {
    let mut out = CudaBuffer::uninit(dev, 1)?;
    // SAFETY: f64 has no invalid bit patterns; the kernel writes the element.
    let mut out_d = unsafe { dev.stream().alloc::<f64>(1) }.map_err(drv("cuMemAlloc"))?;
    let count = partial.len() as u64;
    let one_block = LaunchConfig { grid_dim: (1, 1, 1), block_dim: (THREADS, 1, 1), shared_mem_bytes: 0 };
    let o = out.slice_mut()?;
    launch!(dev, REDUCE, "sum_finish", one_block, [partial, &count, o, &mut out_d])?;
    Ok((out, out_d))
}

/// (Σ x or Σ x², as float buffer, as double on the device).
fn total(x: &CudaBuffer, square: bool) -> Result<(CudaBuffer, CudaSlice<f64>)> {
    let dev = x.dev().clone();
    // SAFETY: f64 has no invalid bit patterns; every block writes its partial.
    let mut partial = unsafe { dev.stream().alloc::<f64>(REDUCE_BLOCKS as usize) }.map_err(drv("cuMemAlloc"))?;
    let n = x.len() as u64;
    let sq = i32::from(square);
    launch!(dev, REDUCE, "sum_partial", reduce_grid(), [x.slice(), &n, &sq, &mut partial])?;
    finish(&dev, &partial)
}

/// Σ x as a one-element buffer (double accumulation, fixed order).
///
/// # Errors
/// CUDA failures.
pub(crate) fn sum_all(x: &CudaBuffer) -> Result<CudaBuffer> {
    total(x, false).map(|(b, _)| b)
}

/// Σ x², read back to the host.
///
/// # Errors
/// CUDA failures.
pub(crate) fn sum_squares(x: &CudaBuffer) -> Result<f64> {
    let (_, d) = total(x, true)?;
    let v = x.dev().stream().clone_dtoh(&d).map_err(drv("device-to-host copy"))?;
    Ok(v[0])
}

/// Σ x² of each buffer, all read back with one copy: the reductions are queued
/// on the device and their results gathered there (one synchronisation for
/// any number of buffers, where [`sum_squares`] costs one each).
///
/// # Errors
/// [`crate::Error::DeviceMismatch`] when the buffers are on different devices; CUDA failures.
pub(crate) fn sum_squares_many(xs: &[&CudaBuffer]) -> Result<Vec<f64>> {
    if xs.is_empty() {
        return Ok(Vec::new());
    }
    let dev = same_device("sum_squares_many", xs)?;
    // SAFETY: f64 has no invalid bit patterns; every element is written below.
    let mut gathered = unsafe { dev.stream().alloc::<f64>(xs.len()) }.map_err(drv("cuMemAlloc"))?;
    for (i, x) in xs.iter().enumerate() {
        let (_, d) = total(x, true)?;
        dev.stream().memcpy_dtod(&d, &mut gathered.slice_mut(i..i + 1)).map_err(drv("device-to-device copy"))?;
    }
    dev.stream().clone_dtoh(&gathered).map_err(drv("device-to-host copy"))
}

/// Sums along the middle axis of an (outer, len, inner) view.
///
/// # Errors
/// CUDA failures.
pub(crate) fn sum_axis(x: &CudaBuffer, outer: usize, len: usize, inner: usize) -> Result<CudaBuffer> {
    let dev = x.dev().clone();
    let n = (outer * inner) as u64;
    let mut y = CudaBuffer::uninit(&dev, n as usize)?;
    if n > 0 {
        let (o, l, i) = (outer as u64, len as u64, inner as u64);
        let out = y.slice_mut()?;
        launch!(dev, REDUCE, "sum_axis", grid(n), [x.slice(), out, &o, &l, &i])?;
    }
    Ok(y)
}

/// Repeats `g` `len` times along a new middle axis.
///
/// # Errors
/// CUDA failures.
pub(crate) fn expand_axis(g: &CudaBuffer, outer: usize, len: usize, inner: usize) -> Result<CudaBuffer> {
    let dev = g.dev().clone();
    let n = (outer * len * inner) as u64;
    let mut y = CudaBuffer::uninit(&dev, n as usize)?;
    if n > 0 {
        let (o, l, i) = (outer as u64, len as u64, inner as u64);
        let out = y.slice_mut()?;
        launch!(dev, REDUCE, "expand_axis", grid(n), [g.slice(), out, &o, &l, &i])?;
    }
    Ok(y)
}

/// Maximum along the middle axis, and the arg-max indices copied to the host
/// (the backward pass takes them as host indices).
///
/// # Errors
/// CUDA failures.
pub(crate) fn max_axis(x: &CudaBuffer, outer: usize, len: usize, inner: usize) -> Result<(CudaBuffer, Vec<usize>)> {
    let dev = x.dev().clone();
    let n = (outer * inner) as u64;
    let mut y = CudaBuffer::uninit(&dev, n as usize)?;
    if n == 0 || len == 0 {
        return Ok((y, vec![0; n as usize]));
    }
    // SAFETY: u64 has no invalid bit patterns; the kernel writes every element.
    let mut arg = unsafe { dev.stream().alloc::<u64>(n as usize) }.map_err(drv("cuMemAlloc"))?;
    let (o, l, i) = (outer as u64, len as u64, inner as u64);
    let out = y.slice_mut()?;
    launch!(dev, REDUCE, "max_axis", grid(n), [x.slice(), out, &mut arg, &o, &l, &i])?;
    let host = dev.stream().clone_dtoh(&arg).map_err(drv("device-to-host copy"))?;
    Ok((y, host.into_iter().map(|a| a as usize).collect()))
}

/// Routes `g` to the arg-max positions.
///
/// # Errors
/// CUDA failures.
pub(crate) fn max_axis_backward(
    g: &CudaBuffer,
    arg: &[usize],
    outer: usize,
    len: usize,
    inner: usize,
) -> Result<CudaBuffer> {
    let dev = g.dev().clone();
    let mut y = CudaBuffer::zeros(&dev, outer * len * inner)?;
    let n = (outer * inner) as u64;
    if n > 0 && len > 0 {
        let idx = upload_indices(&dev, arg)?;
        let (o, l, i) = (outer as u64, len as u64, inner as u64);
        let out = y.slice_mut()?;
        launch!(dev, REDUCE, "max_axis_bwd", grid(n), [g.slice(), &idx, out, &o, &l, &i])?;
    }
    Ok(y)
}

/// Sums `g` of shape `from` down to the broadcast operand shape `to`.
///
/// # Errors
/// Rank above 8; CUDA failures.
pub(crate) fn sum_to_shape(g: &CudaBuffer, from: &[usize], to: &[usize]) -> Result<CudaBuffer> {
    let dev = g.dev().clone();
    let n_out = numel(to) as u64;
    if from == to {
        return g.deep_clone();
    }
    if n_out == 1 {
        return sum_all(g);
    }
    let mut y = CudaBuffer::uninit(&dev, n_out as usize)?;
    if n_out > 0 {
        let (d, n_red) = Dims::sum_to(from, to)?;
        let out = y.slice_mut()?;
        launch!(dev, REDUCE, "sum_to_shape", grid(n_out), [g.slice(), out, &n_out, &n_red, &d])?;
    }
    Ok(y)
}
