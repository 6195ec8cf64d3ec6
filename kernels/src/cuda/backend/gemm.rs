//! GPU matrix products, row-major, in the forms NN, NT, TN (and TT), batched.
//!
//! cuBLAS is column-major: a row-major m×n C is the column-major n×m Cᵀ =
//! op(B)ᵀ·op(A)ᵀ, so cuBLAS is called with the operands swapped. A row-major
//! buffer read column-major is its transpose, which makes op(B)ᵀ "no
//! transpose" exactly when B is not transposed (ld = n), "transpose" when it
//! is (ld = k); the same for A (ld = k or m).

use super::buffer::{same_device, CudaBuffer};
use super::device::{drv, THREADS};
use super::sources::GEMM;
use crate::context::GemmBackend;
use crate::types::Transpose;
use crate::{Error, Result};
use cudarc::cublas::sys::cublasOperation_t;
use cudarc::cublas::{Gemm, GemmConfig, StridedBatchedConfig};
use cudarc::driver::{LaunchConfig, PushKernelArg};

/// Fewest 128×128 output tiles for which the 128-tile kernel is used (about one per SM).
const LARGE_MIN_TILES: usize = 132;

/// As [`gemm`] with an explicit backend.
///
/// # Errors
/// As [`gemm`].
pub(crate) fn gemm_with(
    backend: GemmBackend,
    a: &CudaBuffer,
    b: &CudaBuffer,
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    t: Transpose,
) -> Result<CudaBuffer> {
    let dev = same_device("matmul", &[a, b])?;
    let len = batch * m * n;
    if len == 0 || k == 0 {
        return CudaBuffer::zeros(&dev, len);
    }
    let mut c = CudaBuffer::uninit(&dev, len)?;
    match backend {
        GemmBackend::Tiled => {
            // 128-tiles when there are enough of them to occupy every SM at least
            // once, else 64-tiles so that small products still spread out.
            let tiles = |t: usize| (m.div_ceil(t) * n.div_ceil(t)).saturating_mul(batch.min(65_535));
            let large = tiles(128) >= LARGE_MIN_TILES;
            let tile = if large { 128 } else { 64 };
            let name = match (large, t.a, t.b) {
                (true, false, false) => "gemm128_nn",
                (true, false, true) => "gemm128_nt",
                (true, true, false) => "gemm128_tn",
                (true, true, true) => "gemm128_tt",
                (false, false, false) => "gemm64_nn",
                (false, false, true) => "gemm64_nt",
                (false, true, false) => "gemm64_tn",
                (false, true, true) => "gemm64_tt",
            };
            let blocks = |v: usize, max: u32| {
                u32::try_from(v.div_ceil(tile))
                    .ok()
                    .filter(|&b| b <= max)
                    .ok_or_else(|| Error::Cuda(format!("matmul: dimension {v} exceeds the tiled kernel's grid")))
            };
            let cfg = LaunchConfig {
                grid_dim: (blocks(n, i32::MAX as u32)?, blocks(m, 65_535)?, batch.min(65_535) as u32),
                block_dim: (THREADS, 1, 1),
                shared_mem_bytes: 0,
            };
            let (bt, mm, kk, nn) = (batch as u64, m as u64, k as u64, n as u64);
            let f = dev.function(GEMM, name)?;
            let out = c.slice_mut()?;
            // SAFETY: the arguments match the kernels' signature in gemm.cu, and the
            // buffers hold batch·m·k, batch·k·n and batch·m·n elements.
            unsafe {
                dev.stream()
                    .launch_builder(&f)
                    .arg(a.slice())
                    .arg(b.slice())
                    .arg(out)
                    .arg(&bt)
                    .arg(&mm)
                    .arg(&kk)
                    .arg(&nn)
                    .launch(cfg)
            }
            .map_err(drv(name))?;
        }
        GemmBackend::Cublas => {
            let int = |v: usize| {
                i32::try_from(v)
                    .map_err(|_| Error::Cuda(format!("matmul: dimension {v} exceeds cuBLAS's 32-bit range")))
            };
            let op = |tr: bool| if tr { cublasOperation_t::CUBLAS_OP_T } else { cublasOperation_t::CUBLAS_OP_N };
            let cfg = GemmConfig {
                transa: op(t.b),
                transb: op(t.a),
                m: int(n)?,
                n: int(m)?,
                k: int(k)?,
                alpha: 1.0f32,
                lda: int(if t.b { k } else { n })?,
                ldb: int(if t.a { m } else { k })?,
                beta: 0.0f32,
                ldc: int(n)?,
            };
            let blas = dev.blas()?;
            let out = c.slice_mut()?;
            let err = |e: cudarc::cublas::result::CublasError| Error::Cuda(format!("cuBLAS sgemm: {e}"));
            // SAFETY: the dimensions and leading dimensions above describe buffers of
            // exactly batch·m·k, batch·k·n and batch·m·n elements.
            unsafe {
                if batch == 1 {
                    blas.gemm(cfg, b.slice(), a.slice(), out).map_err(err)?;
                } else {
                    let sb = StridedBatchedConfig {
                        gemm: cfg,
                        batch_size: int(batch)?,
                        stride_a: (k * n) as i64,
                        stride_b: (m * k) as i64,
                        stride_c: (m * n) as i64,
                    };
                    blas.gemm_strided_batched(sb, b.slice(), a.slice(), out).map_err(err)?;
                }
            }
        }
    }
    Ok(c)
}
