//! Host side of `cu/softmax.cu`.

use super::buffer::{same_device, CudaBuffer};
use super::device::rows_grid;
use super::sources::SOFTMAX;
use crate::Result;

/// Softmax (or log-softmax) over rows of length `n`.
///
/// # Errors
/// CUDA failures.
pub(crate) fn softmax(x: &CudaBuffer, n: usize, log: bool) -> Result<CudaBuffer> {
    let dev = x.dev().clone();
    let mut y = CudaBuffer::uninit(&dev, x.len())?;
    if n > 0 && !x.is_empty() {
        let rows = (x.len() / n) as u64;
        let (nn, lg) = (n as u64, i32::from(log));
        let out = y.slice_mut()?;
        launch!(dev, SOFTMAX, "softmax_fwd", rows_grid(rows), [x.slice(), out, &rows, &nn, &lg])?;
    }
    Ok(y)
}

/// Backward of [`softmax`] given its output `y`.
///
/// # Errors
/// Operands on different GPUs; CUDA failures.
pub(crate) fn softmax_backward(y: &CudaBuffer, g: &CudaBuffer, n: usize, log: bool) -> Result<CudaBuffer> {
    let dev = same_device("softmax", &[y, g])?;
    let mut gx = CudaBuffer::uninit(&dev, y.len())?;
    if n > 0 && !y.is_empty() {
        let rows = (y.len() / n) as u64;
        let (nn, lg) = (n as u64, i32::from(log));
        let out = gx.slice_mut()?;
        launch!(dev, SOFTMAX, "softmax_bwd", rows_grid(rows), [y.slice(), g.slice(), out, &rows, &nn, &lg])?;
    }
    Ok(gx)
}
