//! Element-wise and broadcast ops (unary, scalar, binary, their backwards,
//! `add_rows`): the device match of each, and the element-wise variant of the context.

use super::{expect_broadcast, expect_len, mismatch, sum_to_shape_in};
use crate::backend::Backend;
use crate::buffer::{Cpu, Gpu};
use crate::context::{Context, ElementwiseVariant};
use crate::types::{BinaryOp, ScalarOp, UnaryOp};
use crate::{Buffer, Error, Result};

/// y = f(x) element-wise.
///
/// Runs with the element-wise variant of `ctx`.
///
/// # Errors
/// CUDA failures only.
pub fn unary_in(ctx: &Context, op: UnaryOp, x: &Buffer) -> Result<Buffer> {
    match x {
        Buffer::Cpu(x) => Cpu::unary(ctx, op, x).map(Buffer::Cpu),
        Buffer::Cuda(x) => Gpu::unary(ctx, op, x).map(Buffer::Cuda),
    }
}

/// gx = g·f'(x), given y = f(x).
///
/// Runs with the element-wise variant of `ctx`.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]);
/// operands on different devices; CUDA failures.
pub fn unary_backward_in(ctx: &Context, op: UnaryOp, x: &Buffer, y: &Buffer, g: &Buffer) -> Result<Buffer> {
    let op_name = op.name();
    expect_len(op_name, "x", y, &[x.len()])?;
    expect_len(op_name, "the gradient", g, &[x.len()])?;
    match (x, y, g) {
        (Buffer::Cpu(x), Buffer::Cpu(y), Buffer::Cpu(g)) => Cpu::unary_backward(ctx, op, x, y, g).map(Buffer::Cpu),
        (Buffer::Cuda(x), Buffer::Cuda(y), Buffer::Cuda(g)) => Gpu::unary_backward(ctx, op, x, y, g).map(Buffer::Cuda),
        _ => Err(mismatch(op.name(), x, g)),
    }
}

/// y = x ∘ s.
///
/// Runs with the element-wise variant of `ctx`.
///
/// # Errors
/// CUDA failures only.
pub fn scalar_in(ctx: &Context, op: ScalarOp, x: &Buffer) -> Result<Buffer> {
    match x {
        Buffer::Cpu(x) => Cpu::scalar(ctx, op, x).map(Buffer::Cpu),
        Buffer::Cuda(x) => Gpu::scalar(ctx, op, x).map(Buffer::Cuda),
    }
}

/// gx = g·f'(x) for y = x ∘ s.
///
/// Runs with the element-wise variant of `ctx`.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]);
/// operands on different devices; CUDA failures.
pub fn scalar_backward_in(ctx: &Context, op: ScalarOp, x: &Buffer, g: &Buffer) -> Result<Buffer> {
    expect_len("scalar", "the gradient", g, &[x.len()])?;
    match (x, g) {
        (Buffer::Cpu(x), Buffer::Cpu(g)) => Cpu::scalar_backward(ctx, op, x, g).map(Buffer::Cpu),
        (Buffer::Cuda(x), Buffer::Cuda(g)) => Gpu::scalar_backward(ctx, op, x, g).map(Buffer::Cuda),
        _ => Err(mismatch("scalar", x, g)),
    }
}

/// out = a ∘ b with broadcasting to `out_shape`.
///
/// Runs with the element-wise variant of `ctx`.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]);
/// operands on different devices; CUDA failures.
pub fn binary_in(
    ctx: &Context,
    op: BinaryOp,
    a: &Buffer,
    a_shape: &[usize],
    b: &Buffer,
    b_shape: &[usize],
    out_shape: &[usize],
) -> Result<Buffer> {
    expect_broadcast(op.name(), a, a_shape, b, b_shape, out_shape)?;
    match (a, b) {
        (Buffer::Cpu(a), Buffer::Cpu(b)) => Cpu::binary(ctx, op, a, a_shape, b, b_shape, out_shape).map(Buffer::Cpu),
        (Buffer::Cuda(a), Buffer::Cuda(b)) => Gpu::binary(ctx, op, a, a_shape, b, b_shape, out_shape).map(Buffer::Cuda),
        _ => Err(mismatch(op.name(), a, b)),
    }
}

/// `c += b` with `b` repeated along `c`'s rows (`c.len()` a multiple of
/// `b.len()`): in place on the CPU, where `c` is a product just made and a
/// second buffer would cost a pass through memory; the same bits as
/// [`binary_in`]'s `Add` with `b` broadcast.
///
/// Runs with the thread policy of `ctx`.
///
/// # Errors
/// [`Error::ShapeMismatch`] when `b` is empty or does not divide `c`;
/// operands on different devices; CUDA failures.
pub fn add_rows_in(ctx: &Context, c: &mut Buffer, b: &Buffer) -> Result<()> {
    let n = b.len();
    if n == 0 || !c.len().is_multiple_of(n) {
        return Err(Error::ShapeMismatch { op: "add_rows", lhs: vec![c.len()], rhs: vec![n] });
    }
    let device_mismatch = mismatch("add_rows", c, b);
    match (c, b) {
        (Buffer::Cpu(x), Buffer::Cpu(y)) => Cpu::add_rows(ctx, x, y),
        (Buffer::Cuda(x), Buffer::Cuda(y)) => Gpu::add_rows(ctx, x, y),
        _ => Err(device_mismatch),
    }
}

/// Gradients of out = a ∘ b with respect to a and b, each summed back to its
/// operand's shape; `need` says which to compute.
///
/// Runs with the element-wise variant of `ctx`.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]);
/// operands on different devices; CUDA failures.
#[allow(clippy::too_many_arguments)]
pub fn binary_backward_in(
    ctx: &Context,
    op: BinaryOp,
    a: &Buffer,
    a_shape: &[usize],
    b: &Buffer,
    b_shape: &[usize],
    g: &Buffer,
    out_shape: &[usize],
    need: (bool, bool),
) -> Result<(Option<Buffer>, Option<Buffer>)> {
    expect_broadcast(op.name(), a, a_shape, b, b_shape, out_shape)?;
    expect_len(op.name(), "the gradient", g, out_shape)?;
    if let (Buffer::Cpu(x), Buffer::Cpu(y), Buffer::Cpu(gg), true) =
        (a, b, g, ctx.elementwise == ElementwiseVariant::Reference)
    {
        let (ga, gb) = Cpu::binary_backward_reference(ctx, op, x, a_shape, y, b_shape, gg, out_shape);
        return Ok((need.0.then_some(Buffer::Cpu(ga)), need.1.then_some(Buffer::Cpu(gb))));
    }
    // Add and sub need no operand values: the gradient is ±g summed to shape.
    if matches!(op, BinaryOp::Add | BinaryOp::Sub) {
        let ga = if need.0 { Some(sum_to_shape_in(ctx, g, out_shape, a_shape)?) } else { None };
        let gb = if need.1 {
            let s = sum_to_shape_in(ctx, g, out_shape, b_shape)?;
            Some(if op == BinaryOp::Sub { scalar_in(ctx, ScalarOp::Mul(-1.0), &s)? } else { s })
        } else {
            None
        };
        return Ok((ga, gb));
    }
    let (full_a, full_b) = match (a, b, g) {
        (Buffer::Cpu(x), Buffer::Cpu(y), Buffer::Cpu(gg)) => {
            let (ga, gb) = Cpu::binary_backward_full(ctx, op, x, a_shape, y, b_shape, gg, out_shape, need)?;
            (ga.map(Buffer::Cpu), gb.map(Buffer::Cpu))
        }
        (Buffer::Cuda(x), Buffer::Cuda(y), Buffer::Cuda(gg)) => {
            let (ga, gb) = Gpu::binary_backward_full(ctx, op, x, a_shape, y, b_shape, gg, out_shape, need)?;
            (ga.map(Buffer::Cuda), gb.map(Buffer::Cuda))
        }
        _ => return Err(mismatch(op.name(), a, b)),
    };
    let ga = full_a.map(|f| sum_to_shape_in(ctx, &f, out_shape, a_shape)).transpose()?;
    let gb = full_b.map(|f| sum_to_shape_in(ctx, &f, out_shape, b_shape)).transpose()?;
    Ok((ga, gb))
}
