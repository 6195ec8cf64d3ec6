//! Device dispatch: every kernel behind one function on [`Buffer`]s, one
//! file per family (mirroring `autograd/src/ops/`): element-wise,
//! reductions, layout, GEMM, the sampler, the optimizers and convolution.
//! Each entry point checks its operands' lengths against its sizes, then
//! matches devices and calls that device's backend through the crate's
//! backend trait: the CPU kernels (`kernels/src/cpu/`) or the CUDA kernels
//! (a stub that returns [`Error::CudaNotCompiled`] without the `cuda` feature).
//!
//! Every function is re-exported here, so `blitz_kernels::ops::unary` is the
//! path whatever the family's file.
//!
//! # Adding an op
//! - **An element-wise op** (a [`crate::UnaryOp`], say) touches five files:
//!   its row in the op table (`types/elementwise.rs`), its scalar
//!   `eval`/`derivative` (`reference/elementwise.rs`), the CPU's fast arms
//!   (`cpu/unary.rs`), its CUDA device function (`cuda/cu/elementwise.cu`,
//!   which NVRTC checks against the table) and its `Var` method
//!   (`autograd/src/ops/elementwise.rs`), and a gradient check. Nothing here
//!   changes: dispatch is by the op value.
//! - **A new family** adds its file here (entry points that check the
//!   operands and match devices) and a `mod` line; its methods on the
//!   backend trait (`backend.rs`), which the compiler then asks of the CPU
//!   (`cpu/backend.rs` and the kernel's own file under `cpu/`), of the CUDA
//!   backend (`cuda/backend/contract.rs`, its file under `cuda/backend/` and
//!   `cuda/cu/`) and of the stub (`cuda/dummy.rs`); its reference
//!   (`reference/`); its autograd op (`autograd/src/ops/`); and a probe in
//!   `ops/tests.rs`, which a test that reads this folder's `pub fn`s
//!   demands. Its variants, if any, are one row of `variant_table!`
//!   (`context/variants.rs`), which the registry reads.

mod conv;
mod elementwise;
mod gemm;
mod layout;
mod optim;
mod reduce;
mod sampler;
#[cfg(test)]
mod tests;

pub use conv::*;
pub use elementwise::*;
pub use gemm::*;
pub use layout::*;
pub use optim::*;
pub use reduce::*;
pub use sampler::*;

use crate::limits::checked_numel;
use crate::{Buffer, Error, Result};

fn mismatch(op: &'static str, a: &Buffer, b: &Buffer) -> Error {
    Error::DeviceMismatch { op, lhs: a.device(), rhs: b.device() }
}

// Argument checks. These functions are public and the GPU kernels index raw
// device memory with the sizes they are given, so each entry point checks
// its operands' lengths and indices against its size arguments (checked
// arithmetic) before anything runs: O(1), or one pass over the indices.

/// [`Error::InvalidShape`] naming `op` unless `buf` holds the product of `dims`.
fn expect_len(op: &'static str, what: &str, buf: &Buffer, dims: &[usize]) -> Result<()> {
    let want = checked_numel(op, dims)?;
    if buf.len() == want {
        return Ok(());
    }
    Err(Error::InvalidShape {
        op,
        shape: dims.to_vec(),
        reason: format!("{what} holds {} elements, the sizes given need {want}", buf.len()),
    })
}

/// [`Error::IndexOutOfRange`] for the first index of `idx` that is not below `len`.
fn expect_below(op: &'static str, idx: &[usize], len: usize) -> Result<()> {
    match idx.iter().find(|&&i| i >= len) {
        Some(&index) => Err(Error::IndexOutOfRange { op, index, len }),
        None => Ok(()),
    }
}

/// `a_shape` and `b_shape` broadcast to `out_shape`, and the buffers hold their shapes.
fn expect_broadcast(
    op: &'static str,
    a: &Buffer,
    a_shape: &[usize],
    b: &Buffer,
    b_shape: &[usize],
    out_shape: &[usize],
) -> Result<()> {
    expect_len(op, "the first operand", a, a_shape)?;
    expect_len(op, "the second operand", b, b_shape)?;
    let out = crate::shape::broadcast_shape(op, a_shape, b_shape)?;
    if out != out_shape {
        return Err(Error::ShapeMismatch { op, lhs: out, rhs: out_shape.to_vec() });
    }
    Ok(())
}

/// `start + len <= axis`, checked.
fn expect_range(op: &'static str, start: usize, len: usize, axis: usize) -> Result<()> {
    if start.checked_add(len).is_some_and(|end| end <= axis) {
        return Ok(());
    }
    Err(Error::IndexOutOfRange { op, index: start.saturating_add(len), len: axis })
}

/// [`Error::ShapeMismatch`] naming `op` unless every buffer of `rest` holds
/// as many elements as `first` (the check at the top of the ops whose
/// operands are element for element, so every variant returns this error).
fn expect_same_len(op: &'static str, first: &Buffer, rest: &[&Buffer]) -> Result<()> {
    match rest.iter().find(|b| b.len() != first.len()) {
        Some(b) => Err(Error::ShapeMismatch { op, lhs: vec![first.len()], rhs: vec![b.len()] }),
        None => Ok(()),
    }
}

/// [`Error::ShapeMismatch`] naming `op` unless `g` holds one element (a ∂L/∂kl).
fn expect_one(op: &'static str, g: &Buffer) -> Result<()> {
    if g.len() == 1 {
        return Ok(());
    }
    Err(Error::ShapeMismatch { op, lhs: vec![1], rhs: vec![g.len()] })
}
