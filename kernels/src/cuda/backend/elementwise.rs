//! Host side of `cu/elementwise.cu`: unary, scalar and broadcasting binary ops.

use super::buffer::{same_device, CudaBuffer};
use super::device::grid;
use super::dims::Dims;
use super::sources::ELEMENTWISE;
use crate::shape::numel;
use crate::types::{BinaryOp, ScalarOp, UnaryOp};
use crate::Result;

/// y = f(x).
///
/// # Errors
/// CUDA failures.
pub(crate) fn unary(op: UnaryOp, x: &CudaBuffer) -> Result<CudaBuffer> {
    let dev = x.dev().clone();
    let n = x.len() as u64;
    let mut y = CudaBuffer::uninit(&dev, x.len())?;
    if n > 0 {
        let out = y.slice_mut()?;
        launch!(dev, ELEMENTWISE, "unary_fwd", grid(n), [&op.code(), x.slice(), out, &n])?;
    }
    Ok(y)
}

/// gx = g·f'(x).
///
/// # Errors
/// Operands on different GPUs; CUDA failures.
pub(crate) fn unary_backward(op: UnaryOp, x: &CudaBuffer, y: &CudaBuffer, g: &CudaBuffer) -> Result<CudaBuffer> {
    let dev = same_device(op.name(), &[x, y, g])?;
    let n = x.len() as u64;
    let mut gx = CudaBuffer::uninit(&dev, x.len())?;
    if n > 0 {
        let out = gx.slice_mut()?;
        launch!(dev, ELEMENTWISE, "unary_bwd", grid(n), [&op.code(), x.slice(), y.slice(), g.slice(), out, &n])?;
    }
    Ok(gx)
}

/// y = x ∘ s.
///
/// # Errors
/// CUDA failures.
pub(crate) fn scalar(op: ScalarOp, x: &CudaBuffer) -> Result<CudaBuffer> {
    let dev = x.dev().clone();
    let (kind, s) = op.split();
    let code = kind.code();
    let n = x.len() as u64;
    let mut y = CudaBuffer::uninit(&dev, x.len())?;
    if n > 0 {
        let out = y.slice_mut()?;
        launch!(dev, ELEMENTWISE, "scalar_fwd", grid(n), [&code, &s, x.slice(), out, &n])?;
    }
    Ok(y)
}

/// gx = g·f'(x) for y = x ∘ s.
///
/// # Errors
/// Operands on different GPUs; CUDA failures.
pub(crate) fn scalar_backward(op: ScalarOp, x: &CudaBuffer, g: &CudaBuffer) -> Result<CudaBuffer> {
    let dev = same_device("scalar", &[x, g])?;
    let (kind, s) = op.split();
    let code = kind.code();
    let n = x.len() as u64;
    let mut gx = CudaBuffer::uninit(&dev, x.len())?;
    if n > 0 {
        let out = gx.slice_mut()?;
        launch!(dev, ELEMENTWISE, "scalar_bwd", grid(n), [&code, &s, x.slice(), g.slice(), out, &n])?;
    }
    Ok(gx)
}

/// out = a ∘ b broadcast to `out_shape`.
///
/// # Errors
/// Operands on different GPUs; rank above 8; CUDA failures.
pub(crate) fn binary(
    op: BinaryOp,
    a: &CudaBuffer,
    a_shape: &[usize],
    b: &CudaBuffer,
    b_shape: &[usize],
    out_shape: &[usize],
) -> Result<CudaBuffer> {
    let dev = same_device(op.name(), &[a, b])?;
    let n = numel(out_shape) as u64;
    let mut y = CudaBuffer::uninit(&dev, n as usize)?;
    if n == 0 {
        return Ok(y);
    }
    let code = op.code();
    let out = y.slice_mut()?;
    if a_shape == b_shape {
        launch!(dev, ELEMENTWISE, "binary_same", grid(n), [&code, a.slice(), b.slice(), out, &n])?;
    } else {
        let d = Dims::broadcast(op.name(), a_shape, b_shape, out_shape)?;
        launch!(dev, ELEMENTWISE, "binary_bcast", grid(n), [&code, a.slice(), b.slice(), out, &n, &d])?;
    }
    Ok(y)
}

/// Full-size (broadcast-shape) gradients g·∂z/∂a and g·∂z/∂b; the dispatcher
/// sums them back to the operands' shapes.
///
/// # Errors
/// Operands on different GPUs; rank above 8; CUDA failures.
pub(crate) fn binary_backward(
    op: BinaryOp,
    a: &CudaBuffer,
    a_shape: &[usize],
    b: &CudaBuffer,
    b_shape: &[usize],
    g: &CudaBuffer,
    out_shape: &[usize],
    need: (bool, bool),
) -> Result<(Option<CudaBuffer>, Option<CudaBuffer>)> {
    let dev = same_device(op.name(), &[a, b, g])?;
    let n = numel(out_shape) as u64;
    let d = Dims::broadcast(op.name(), a_shape, b_shape, out_shape)?;
    // A kernel argument must point somewhere: an unneeded output gets a 0-length buffer it never writes.
    let mut ga = CudaBuffer::uninit(&dev, if need.0 { n as usize } else { 0 })?;
    let mut gb = CudaBuffer::uninit(&dev, if need.1 { n as usize } else { 0 })?;
    if n > 0 && (need.0 || need.1) {
        let (na, nb) = (i32::from(need.0), i32::from(need.1));
        let code = op.code();
        let (oa, ob) = (ga.slice_mut()?, gb.slice_mut()?);
        launch!(
            dev,
            ELEMENTWISE,
            "binary_bwd",
            grid(n),
            [&code, a.slice(), b.slice(), g.slice(), oa, ob, &na, &nb, &n, &d]
        )?;
    }
    Ok((need.0.then_some(ga), need.1.then_some(gb)))
}
