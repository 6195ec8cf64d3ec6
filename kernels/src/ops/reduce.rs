//! Reductions (sums, maxima, their adjoints) and softmax over rows: the device match of each.

use super::{expect_below, expect_len, mismatch};
use crate::backend::Backend;
use crate::buffer::{Cpu, Gpu};
use crate::context::Context;
use crate::shape::checked_output;
use crate::{Buffer, Error, Result};

/// Sums `g` of shape `from` down to the broadcast operand shape `to`.
///
/// Runs with the thread policy of `ctx` (a sum to one element splits from [`ThreadSplit::heavy`](crate::context::ThreadSplit::heavy) elements).
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn sum_to_shape_in(ctx: &Context, g: &Buffer, from: &[usize], to: &[usize]) -> Result<Buffer> {
    expect_len("sum_to_shape", "the gradient", g, from)?;
    if crate::shape::broadcast_dims("sum_to_shape", to, from)? != from {
        return Err(Error::ShapeMismatch { op: "sum_to_shape", lhs: from.to_vec(), rhs: to.to_vec() });
    }
    if from == to {
        return Ok(g.clone());
    }
    match g {
        Buffer::Cpu(g) => Cpu::sum_to_shape(ctx, g, from, to).map(Buffer::Cpu),
        Buffer::Cuda(g) => Gpu::sum_to_shape(ctx, g, from, to).map(Buffer::Cuda),
    }
}

/// The sum of all elements, as a one-element buffer on the same device.
///
/// Runs on the threads and with the thread policy of `ctx` (the same bits under every policy and thread count).
///
/// # Errors
/// CUDA failures only.
pub fn sum_all_in(ctx: &Context, x: &Buffer) -> Result<Buffer> {
    match x {
        Buffer::Cpu(x) => Cpu::sum_all(ctx, x).map(Buffer::Cpu),
        Buffer::Cuda(x) => Gpu::sum_all(ctx, x).map(Buffer::Cuda),
    }
}

/// Sums along the middle axis of an (outer, len, inner) view.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn sum_axis_in(ctx: &Context, x: &Buffer, outer: usize, len: usize, inner: usize) -> Result<Buffer> {
    expect_len("sum_axis", "x", x, &[outer, len, inner])?;
    match x {
        Buffer::Cpu(x) => Cpu::sum_axis(ctx, x, outer, len, inner).map(Buffer::Cpu),
        Buffer::Cuda(x) => Gpu::sum_axis(ctx, x, outer, len, inner).map(Buffer::Cuda),
    }
}

/// Repeats `g` (outer·inner elements) `len` times along a new middle axis:
/// the adjoint of [`sum_axis_in`] (and of [`sum_all_in`] with outer = inner = 1).
///
/// # Errors
/// [`Error::ShapeMismatch`] when `g` does not hold outer·inner elements;
/// [`Error::ShapeOverflow`] / [`Error::TooLarge`] for an output that cannot
/// be allocated; CUDA failures.
pub fn expand_axis_in(ctx: &Context, g: &Buffer, outer: usize, len: usize, inner: usize) -> Result<Buffer> {
    if Some(g.len()) != outer.checked_mul(inner) {
        return Err(Error::ShapeMismatch { op: "expand_axis", lhs: vec![outer, inner], rhs: vec![g.len()] });
    }
    checked_output("expand_axis", &[outer, len, inner])?;
    match g {
        Buffer::Cpu(g) => Cpu::expand_axis(ctx, g, outer, len, inner).map(Buffer::Cpu),
        Buffer::Cuda(g) => Gpu::expand_axis(ctx, g, outer, len, inner).map(Buffer::Cuda),
    }
}

/// Maximum along the middle axis and the index where it was found.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn max_axis_in(ctx: &Context, x: &Buffer, outer: usize, len: usize, inner: usize) -> Result<(Buffer, Vec<usize>)> {
    expect_len("max_axis", "x", x, &[outer, len, inner])?;
    if len == 0 && outer.checked_mul(inner) != Some(0) {
        return Err(Error::Empty { op: "max_axis" });
    }
    match x {
        Buffer::Cpu(x) => Cpu::max_axis(ctx, x, outer, len, inner).map(|(b, a)| (Buffer::Cpu(b), a)),
        Buffer::Cuda(x) => Gpu::max_axis(ctx, x, outer, len, inner).map(|(b, a)| (Buffer::Cuda(b), a)),
    }
}

/// Routes `g` to the arg-max positions: the adjoint of [`max_axis_in`].
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]);
/// [`Error::ShapeOverflow`] / [`Error::TooLarge`] for an output that cannot
/// be allocated; CUDA failures.
pub fn max_axis_backward_in(
    ctx: &Context,
    g: &Buffer,
    arg: &[usize],
    outer: usize,
    len: usize,
    inner: usize,
) -> Result<Buffer> {
    expect_len("max_axis_backward", "the gradient", g, &[outer, inner])?;
    if arg.len() != g.len() {
        return Err(Error::ShapeMismatch { op: "max_axis_backward", lhs: vec![g.len()], rhs: vec![arg.len()] });
    }
    expect_below("max_axis_backward", arg, len)?;
    checked_output("max_axis_backward", &[outer, len, inner])?;
    match g {
        Buffer::Cpu(g) => Cpu::max_axis_backward(ctx, g, arg, outer, len, inner).map(Buffer::Cpu),
        Buffer::Cuda(g) => Gpu::max_axis_backward(ctx, g, arg, outer, len, inner).map(Buffer::Cuda),
    }
}

/// Softmax (or log-softmax when `log`) over rows of length `n`.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn softmax_in(ctx: &Context, x: &Buffer, n: usize, log: bool) -> Result<Buffer> {
    if n == 0 || !x.len().is_multiple_of(n) {
        return Err(Error::InvalidShape { op: "softmax", shape: vec![x.len()], reason: format!("rows of {n}") });
    }
    match x {
        Buffer::Cpu(x) => Cpu::softmax(ctx, x, n, log).map(Buffer::Cpu),
        Buffer::Cuda(x) => Gpu::softmax(ctx, x, n, log).map(Buffer::Cuda),
    }
}

/// Backward of [`softmax_in`] given its output `y`.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]);
/// operands on different devices; CUDA failures.
pub fn softmax_backward_in(ctx: &Context, y: &Buffer, g: &Buffer, n: usize, log: bool) -> Result<Buffer> {
    if n == 0 || !y.len().is_multiple_of(n) {
        return Err(Error::InvalidShape { op: "softmax", shape: vec![y.len()], reason: format!("rows of {n}") });
    }
    expect_len("softmax", "the gradient", g, &[y.len()])?;
    match (y, g) {
        (Buffer::Cpu(y), Buffer::Cpu(g)) => Cpu::softmax_backward(ctx, y, g, n, log).map(Buffer::Cpu),
        (Buffer::Cuda(y), Buffer::Cuda(g)) => Gpu::softmax_backward(ctx, y, g, n, log).map(Buffer::Cuda),
        _ => Err(mismatch("softmax", y, g)),
    }
}
