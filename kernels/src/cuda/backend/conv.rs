//! Host side of `cu/conv.cu` and `cu/pool.cu`: convolution as im2col + one
//! batched GEMM over the channel groups (group blocks are contiguous in the
//! weights, the column matrix and the output, so a group is a batch entry),
//! and pooling.

use super::buffer::{same_device, CudaBuffer};
use super::device::grid;
use super::gemm::gemm_with;
use super::reduce::sum_axis;
use super::sources::{CONV, POOL};
use crate::context::GemmBackend;
use crate::types::{ConvGeom, PoolGeom, Transpose};
use crate::Result;
use cudarc::driver::DeviceRepr;

/// `struct ConvG` of `cu/conv.cu`.
#[repr(C)]
#[derive(Clone, Copy)]
struct ConvG {
    batch: u64,
    in_c: u64,
    out_c: u64,
    groups: u64,
    input: [u64; 3],
    kernel: [u64; 3],
    stride: [u64; 3],
    padding: [u64; 3],
    dilation: [u64; 3],
    out: [u64; 3],
}

// SAFETY: plain-old-data with the C layout the kernels declare.
unsafe impl DeviceRepr for ConvG {}

/// `struct PoolG` of `cu/pool.cu`.
#[repr(C)]
#[derive(Clone, Copy)]
struct PoolG {
    planes: u64,
    input: [u64; 3],
    kernel: [u64; 3],
    stride: [u64; 3],
    padding: [u64; 3],
    out: [u64; 3],
}

// SAFETY: as for ConvG.
unsafe impl DeviceRepr for PoolG {}

fn u3(a: [usize; 3]) -> [u64; 3] {
    a.map(|v| v as u64)
}

/// The kernel-side geometry and (L = output positions per image, kvol, C/groups · kvol).
fn conv_geom(g: &ConvGeom) -> Result<(ConvG, usize, usize, usize)> {
    let out = g.output()?;
    let kvol = g.kernel.iter().product::<usize>();
    let cg = ConvG {
        batch: g.batch as u64,
        in_c: g.in_channels as u64,
        out_c: g.out_channels as u64,
        groups: g.groups as u64,
        input: u3(g.input),
        kernel: u3(g.kernel),
        stride: u3(g.stride),
        padding: u3(g.padding),
        dilation: u3(g.dilation),
        out: u3(out),
    };
    Ok((cg, out.iter().product(), kvol, g.in_channels / g.groups * kvol))
}

fn im2col(x: &CudaBuffer, cg: &ConvG, len: usize) -> Result<CudaBuffer> {
    let dev = x.dev().clone();
    let mut col = CudaBuffer::uninit(&dev, len)?;
    if len > 0 {
        let out = col.slice_mut()?;
        launch!(dev, CONV, "im2col", grid(len as u64), [x.slice(), out, cg])?;
    }
    Ok(col)
}

/// `y = conv(x, w) + b`: x `[N, C, D, H, W]`, w `[OC, C/groups, kd, kh, kw]`,
/// y `[N, OC, od, oh, ow]`, by im2col and the GEMM `backend`.
///
/// # Errors
/// Invalid geometry; operands on different GPUs; CUDA failures.
pub(crate) fn conv_forward(
    backend: GemmBackend,
    x: &CudaBuffer,
    w: &CudaBuffer,
    b: Option<&CudaBuffer>,
    g: &ConvGeom,
) -> Result<CudaBuffer> {
    let dev = match b {
        Some(b) => same_device("conv", &[x, w, b])?,
        None => same_device("conv", &[x, w])?,
    };
    let (cg, l, kvol, kg) = conv_geom(g)?;
    let nl = g.batch * l;
    let ocg = g.out_channels / g.groups;
    let col = im2col(x, &cg, g.in_channels * kvol * nl)?;
    // [OC, N·L] = per group W_g [ocg, kg] · col_g [kg, nl].
    let yt = gemm_with(backend, w, &col, g.groups, ocg, kg, nl, Transpose::NN)?;
    let n = (g.batch * g.out_channels * l) as u64;
    let mut y = CudaBuffer::uninit(&dev, n as usize)?;
    if n > 0 {
        let has_bias = i32::from(b.is_some());
        let bias = b.unwrap_or(&yt); // never read without a bias
        let (bt, oc, ll) = (g.batch as u64, g.out_channels as u64, l as u64);
        let out = y.slice_mut()?;
        launch!(dev, CONV, "conv_out", grid(n), [yt.slice(), bias.slice(), &has_bias, out, &bt, &oc, &ll])?;
    }
    Ok(y)
}

/// Gradients of [`conv_forward`] with respect to x, w and b, each only when asked for.
///
/// # Errors
/// Invalid geometry; operands on different GPUs; CUDA failures.
pub(crate) fn conv_backward(
    backend: GemmBackend,
    x: &CudaBuffer,
    w: &CudaBuffer,
    gy: &CudaBuffer,
    g: &ConvGeom,
    need: (bool, bool, bool),
) -> Result<(Option<CudaBuffer>, Option<CudaBuffer>, Option<CudaBuffer>)> {
    let dev = same_device("conv", &[x, w, gy])?;
    let (cg, l, kvol, kg) = conv_geom(g)?;
    let nl = g.batch * l;
    let ocg = g.out_channels / g.groups;
    // gy [N, OC, L] → gt [OC, N·L].
    let n = (g.out_channels * nl) as u64;
    let mut gt = CudaBuffer::uninit(&dev, n as usize)?;
    if n > 0 {
        let (bt, oc, ll) = (g.batch as u64, g.out_channels as u64, l as u64);
        let out = gt.slice_mut()?;
        launch!(dev, CONV, "conv_gt", grid(n), [gy.slice(), out, &bt, &oc, &ll])?;
    }
    let db = if need.2 { Some(sum_axis(&gt, g.out_channels, nl, 1)?) } else { None };
    let dw = if need.1 {
        let col = im2col(x, &cg, g.in_channels * kvol * nl)?;
        // dW_g [ocg, kg] = gt_g [ocg, nl] · col_gᵀ.
        Some(gemm_with(backend, &gt, &col, g.groups, ocg, nl, kg, Transpose::NT)?)
    } else {
        None
    };
    let dx = if need.0 {
        // dcol_g [kg, nl] = W_gᵀ · gt_g.
        let dcol = gemm_with(backend, w, &gt, g.groups, kg, ocg, nl, Transpose::TN)?;
        let len = g.input_len();
        let mut dx = CudaBuffer::uninit(&dev, len)?;
        if len > 0 {
            let out = dx.slice_mut()?;
            launch!(dev, CONV, "col2im", grid(len as u64), [dcol.slice(), out, &cg])?;
        }
        Some(dx)
    } else {
        None
    };
    Ok((dx, dw, db))
}

fn pool_geom(g: &PoolGeom) -> Result<(PoolG, usize)> {
    let out = g.output()?;
    let pg = PoolG {
        planes: g.planes as u64,
        input: u3(g.input),
        kernel: u3(g.kernel),
        stride: u3(g.stride),
        padding: u3(g.padding),
        out: u3(out),
    };
    Ok((pg, out.iter().product()))
}

/// Max pooling: the maxima (the backward finds the arg-max again).
///
/// # Errors
/// Invalid geometry; CUDA failures.
pub(crate) fn max_pool_forward(x: &CudaBuffer, g: &PoolGeom) -> Result<CudaBuffer> {
    let dev = x.dev().clone();
    let (pg, op) = pool_geom(g)?;
    let n = g.planes * op;
    let mut y = CudaBuffer::uninit(&dev, n)?;
    if n > 0 {
        let out = y.slice_mut()?;
        launch!(dev, POOL, "max_pool_fwd", grid(n as u64), [x.slice(), out, &pg])?;
    }
    Ok(y)
}

/// Routes `gy` to each window's arg-max, found again in `x` (no indices stored).
///
/// # Errors
/// Invalid geometry; operands on different GPUs; CUDA failures.
pub(crate) fn max_pool_backward(x: &CudaBuffer, gy: &CudaBuffer, g: &PoolGeom) -> Result<CudaBuffer> {
    let dev = same_device("max_pool", &[x, gy])?;
    let (pg, op) = pool_geom(g)?;
    let mut dx = CudaBuffer::zeros(&dev, g.input_len())?;
    if g.planes * op > 0 {
        let out = dx.slice_mut()?;
        launch!(dev, POOL, "max_pool_bwd", grid(g.planes as u64), [x.slice(), gy.slice(), out, &pg])?;
    }
    Ok(dx)
}

/// Average pooling (padding counts as zeros).
///
/// # Errors
/// Invalid geometry; CUDA failures.
pub(crate) fn avg_pool_forward(x: &CudaBuffer, g: &PoolGeom) -> Result<CudaBuffer> {
    let dev = x.dev().clone();
    let (pg, op) = pool_geom(g)?;
    let n = g.planes * op;
    let mut y = CudaBuffer::uninit(&dev, n)?;
    if n > 0 {
        let out = y.slice_mut()?;
        launch!(dev, POOL, "avg_pool_fwd", grid(n as u64), [x.slice(), out, &pg])?;
    }
    Ok(y)
}

/// The adjoint of [`avg_pool_forward`].
///
/// # Errors
/// Invalid geometry; CUDA failures.
pub(crate) fn avg_pool_backward(gy: &CudaBuffer, g: &PoolGeom) -> Result<CudaBuffer> {
    let dev = gy.dev().clone();
    let (pg, _) = pool_geom(g)?;
    let n = g.input_len();
    let mut dx = CudaBuffer::uninit(&dev, n)?;
    if n > 0 {
        let out = dx.slice_mut()?;
        launch!(dev, POOL, "avg_pool_bwd", grid(n as u64), [gy.slice(), out, &pg])?;
    }
    Ok(dx)
}
