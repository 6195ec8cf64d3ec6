//! Batched matrix products: the operands checked, then the device match
//! (the CPU variant and the GPU backend named by the context).

use super::{host_overwrite, mismatch};
use crate::context::Context;
use crate::cpu;
use crate::cuda;
use crate::limits::checked_numel;
use crate::shape::checked_output;
use crate::types::Transpose;
use crate::{Buffer, Error, Result};

/// `batch` products op(A_i)·op(B_i) of m×k by k×n.
///
/// Runs with the variants and threads of `ctx`.
///
/// # Errors
/// [`Error::InvalidShape`] when `a` and `b` do not hold `batch·m·k` and
/// `batch·k·n` elements; [`Error::ShapeOverflow`] / [`Error::TooLarge`]
/// when those counts or the output's `batch·m·n` overflow or cannot be
/// allocated; operands on different devices; CUDA failures.
#[allow(clippy::too_many_arguments)]
pub fn gemm_in(
    ctx: &Context,
    a: &Buffer,
    b: &Buffer,
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    t: Transpose,
) -> Result<Buffer> {
    let len = gemm_output_len(a, b, batch, m, k, n)?;
    match (a, b) {
        (Buffer::Cpu(x), Buffer::Cpu(y)) => {
            let v = ctx.gemm;
            ctx.install(|| {
                host_overwrite(len, |o| cpu::gemm::batched_gemm_variant(v, ctx.split, batch, m, k, n, x, y, o, t))
            })
        }
        (Buffer::Cuda(x), Buffer::Cuda(y)) => cuda::gemm_with(ctx.gpu_gemm, x, y, batch, m, k, n, t).map(Buffer::Cuda),
        _ => Err(mismatch("matmul", a, b)),
    }
}

/// The output length of [`gemm_in`] once its operands are checked against the
/// dimensions (checked arithmetic: the CPU kernel's unsafe sgemm call and
/// the GPU's launch rely on these lengths).
fn gemm_output_len(a: &Buffer, b: &Buffer, batch: usize, m: usize, k: usize, n: usize) -> Result<usize> {
    let (la, lb) = (checked_numel("matmul", &[batch, m, k])?, checked_numel("matmul", &[batch, k, n])?);
    if a.len() != la || b.len() != lb {
        return Err(Error::InvalidShape {
            op: "matmul",
            shape: vec![batch, m, k, n],
            reason: format!(
                "operands of {} and {} elements for {batch} products of {m}×{k} by {k}×{n}",
                a.len(),
                b.len()
            ),
        });
    }
    checked_output("matmul", &[batch, m, n])
}
