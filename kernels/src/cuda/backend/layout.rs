//! Host side of `cu/layout.cu`: permute, slices, concatenation, index-select, row gathers.

use super::buffer::{same_device, upload_indices, CudaBuffer};
use super::device::grid;
use super::dims::Dims;
use super::sources::LAYOUT;
use crate::{Error, Result};

/// Materialised permutation of axes.
///
/// # Errors
/// Rank above 8; CUDA failures.
pub(crate) fn permute(x: &CudaBuffer, shape: &[usize], perm: &[usize]) -> Result<CudaBuffer> {
    let dev = x.dev().clone();
    let n = x.len() as u64;
    let mut y = CudaBuffer::uninit(&dev, x.len())?;
    if n > 0 {
        let d = Dims::permute(shape, perm)?;
        let out = y.slice_mut()?;
        launch!(dev, LAYOUT, "permute", grid(n), [x.slice(), out, &n, &d])?;
    }
    Ok(y)
}

/// `x[.., start..start+len, ..]` along the middle axis of (outer, axis, inner).
///
/// # Errors
/// CUDA failures.
pub(crate) fn slice_axis(
    x: &CudaBuffer,
    outer: usize,
    axis: usize,
    inner: usize,
    start: usize,
    len: usize,
) -> Result<CudaBuffer> {
    let dev = x.dev().clone();
    let n = (outer * len * inner) as u64;
    let mut y = CudaBuffer::uninit(&dev, n as usize)?;
    if n > 0 {
        let a = [outer as u64, axis as u64, inner as u64, start as u64, len as u64];
        let out = y.slice_mut()?;
        launch!(dev, LAYOUT, "slice_axis", grid(n), [x.slice(), out, &a[0], &a[1], &a[2], &a[3], &a[4]])?;
    }
    Ok(y)
}

/// The gradient of [`slice_axis`]'s input: `g` in place, zeros elsewhere.
///
/// # Errors
/// CUDA failures.
pub(crate) fn slice_axis_backward(
    g: &CudaBuffer,
    outer: usize,
    axis: usize,
    inner: usize,
    start: usize,
    len: usize,
) -> Result<CudaBuffer> {
    let dev = g.dev().clone();
    let mut y = CudaBuffer::zeros(&dev, outer * axis * inner)?;
    let n = (outer * len * inner) as u64;
    if n > 0 {
        let a = [outer as u64, axis as u64, inner as u64, start as u64, len as u64];
        let out = y.slice_mut()?;
        launch!(dev, LAYOUT, "slice_axis_bwd", grid(n), [g.slice(), out, &a[0], &a[1], &a[2], &a[3], &a[4]])?;
    }
    Ok(y)
}

/// Concatenation along the middle axis; `parts[i]` has `lens[i]` entries there.
///
/// # Errors
/// Parts on different GPUs; CUDA failures.
pub(crate) fn concat_axis(parts: &[&CudaBuffer], lens: &[usize], outer: usize, inner: usize) -> Result<CudaBuffer> {
    if parts.is_empty() {
        return Err(Error::Empty { op: "concat" });
    }
    let dev = same_device("concat", parts)?;
    let total: usize = lens.iter().sum();
    let mut y = CudaBuffer::uninit(&dev, outer * total * inner)?;
    let mut off = 0u64;
    for (p, &l) in parts.iter().zip(lens) {
        let n = (outer * l * inner) as u64;
        if n > 0 {
            let a = [outer as u64, l as u64, inner as u64, total as u64];
            let out = y.slice_mut()?;
            launch!(dev, LAYOUT, "concat_part", grid(n), [p.slice(), out, &a[0], &a[1], &a[2], &a[3], &off])?;
        }
        off += l as u64;
    }
    Ok(y)
}

/// `out[o, j, :] = x[o, idx[j], :]`.
///
/// # Errors
/// CUDA failures.
pub(crate) fn index_select(
    x: &CudaBuffer,
    outer: usize,
    axis: usize,
    inner: usize,
    idx: &[usize],
) -> Result<CudaBuffer> {
    let dev = x.dev().clone();
    let n = (outer * idx.len() * inner) as u64;
    let mut y = CudaBuffer::uninit(&dev, n as usize)?;
    if n > 0 {
        let d_idx = upload_indices(&dev, idx)?;
        let a = [outer as u64, axis as u64, inner as u64, idx.len() as u64];
        let out = y.slice_mut()?;
        launch!(dev, LAYOUT, "index_select", grid(n), [x.slice(), &d_idx, out, &a[0], &a[1], &a[2], &a[3]])?;
    }
    Ok(y)
}

/// Scatter-add adjoint of [`index_select`] (repeated indices add up).
///
/// # Errors
/// CUDA failures.
pub(crate) fn index_select_backward(
    g: &CudaBuffer,
    outer: usize,
    axis: usize,
    inner: usize,
    idx: &[usize],
) -> Result<CudaBuffer> {
    let dev = g.dev().clone();
    let mut y = CudaBuffer::zeros(&dev, outer * axis * inner)?;
    let n = (outer * inner) as u64;
    if n > 0 && !idx.is_empty() {
        let d_idx = upload_indices(&dev, idx)?;
        let a = [outer as u64, axis as u64, inner as u64, idx.len() as u64];
        let out = y.slice_mut()?;
        launch!(dev, LAYOUT, "index_select_bwd", grid(n), [g.slice(), &d_idx, out, &a[0], &a[1], &a[2], &a[3]])?;
    }
    Ok(y)
}

/// `out[r] = x[r, idx[r]]` on a rows×n matrix.
///
/// # Errors
/// CUDA failures.
pub(crate) fn gather_rows(x: &CudaBuffer, n: usize, idx: &[usize]) -> Result<CudaBuffer> {
    let dev = x.dev().clone();
    let rows = idx.len() as u64;
    let mut y = CudaBuffer::uninit(&dev, idx.len())?;
    if rows > 0 {
        let d_idx = upload_indices(&dev, idx)?;
        let nn = n as u64;
        let out = y.slice_mut()?;
        launch!(dev, LAYOUT, "gather_rows", grid(rows), [x.slice(), &d_idx, out, &rows, &nn])?;
    }
    Ok(y)
}

/// Adjoint of [`gather_rows`].
///
/// # Errors
/// CUDA failures.
pub(crate) fn gather_rows_backward(g: &CudaBuffer, n: usize, idx: &[usize]) -> Result<CudaBuffer> {
    let dev = g.dev().clone();
    let rows = idx.len() as u64;
    let mut y = CudaBuffer::zeros(&dev, idx.len() * n)?;
    if rows > 0 {
        let d_idx = upload_indices(&dev, idx)?;
        let nn = n as u64;
        let out = y.slice_mut()?;
        launch!(dev, LAYOUT, "gather_rows_bwd", grid(rows), [g.slice(), &d_idx, out, &rows, &nn])?;
    }
    Ok(y)
}
