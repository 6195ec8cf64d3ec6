//! Batched matrix products: the operands checked, then the device match
//! (the CPU variant and the GPU backend named by the context).

use super::mismatch;
use crate::backend::Backend;
use crate::buffer::{Cpu, Gpu};
use crate::context::Context;
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
    gemm_output_len(a, b, batch, m, k, n)?;
    match (a, b) {
        (Buffer::Cpu(a), Buffer::Cpu(b)) => Cpu::gemm(ctx, a, b, batch, m, k, n, t).map(Buffer::Cpu),
        (Buffer::Cuda(a), Buffer::Cuda(b)) => Gpu::gemm(ctx, a, b, batch, m, k, n, t).map(Buffer::Cuda),
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
