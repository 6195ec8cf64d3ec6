//! Layout ops (permute, slice, concat, index select, gather) and their
//! adjoints: the device match of each, after its index checks.

use super::{expect_below, expect_len, expect_range, mismatch};
use crate::backend::Backend;
use crate::buffer::{Cpu, Gpu};
use crate::context::Context;
use crate::shape::checked_output;
use crate::{Buffer, Error, Result};

/// Materialised permutation of axes.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn permute_in(ctx: &Context, x: &Buffer, shape: &[usize], perm: &[usize]) -> Result<Buffer> {
    expect_len("permute", "x", x, shape)?;
    let mut seen = vec![false; shape.len()];
    for &p in perm {
        if p >= shape.len() || std::mem::replace(&mut seen[p], true) {
            return Err(Error::invalid("perm", format!("{perm:?} is not a permutation of the axes of {shape:?}")));
        }
    }
    if perm.len() != shape.len() {
        return Err(Error::invalid("perm", format!("{perm:?} is not a permutation of the axes of {shape:?}")));
    }
    match x {
        Buffer::Cpu(x) => Cpu::permute(ctx, x, shape, perm).map(Buffer::Cpu),
        Buffer::Cuda(x) => Gpu::permute(ctx, x, shape, perm).map(Buffer::Cuda),
    }
}

/// `x[.., start..start+len, ..]` along the middle axis of an (outer, axis, inner) view.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn slice_axis_in(
    ctx: &Context,
    x: &Buffer,
    outer: usize,
    axis: usize,
    inner: usize,
    start: usize,
    len: usize,
) -> Result<Buffer> {
    expect_len("slice", "x", x, &[outer, axis, inner])?;
    expect_range("slice", start, len, axis)?;
    match x {
        Buffer::Cpu(x) => Cpu::slice_axis(ctx, x, outer, axis, inner, start, len).map(Buffer::Cpu),
        Buffer::Cuda(x) => Gpu::slice_axis(ctx, x, outer, axis, inner, start, len).map(Buffer::Cuda),
    }
}

/// The gradient of [`slice_axis_in`]'s input: `g` in place, zeros elsewhere.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn slice_axis_backward_in(
    ctx: &Context,
    g: &Buffer,
    outer: usize,
    axis: usize,
    inner: usize,
    start: usize,
    len: usize,
) -> Result<Buffer> {
    expect_len("slice_backward", "the gradient", g, &[outer, len, inner])?;
    expect_range("slice_backward", start, len, axis)?;
    checked_output("slice_axis_backward", &[outer, axis, inner])?;
    match g {
        Buffer::Cpu(g) => Cpu::slice_axis_backward(ctx, g, outer, axis, inner, start, len).map(Buffer::Cpu),
        Buffer::Cuda(g) => Gpu::slice_axis_backward(ctx, g, outer, axis, inner, start, len).map(Buffer::Cuda),
    }
}

/// Concatenation along the middle axis; `parts[i]` has `lens[i]` entries there.
///
/// # Errors
/// [`Error::ShapeOverflow`] / [`Error::TooLarge`] for an output that cannot
/// be allocated; parts on different devices; CUDA failures.
pub fn concat_axis_in(ctx: &Context, parts: &[&Buffer], lens: &[usize], outer: usize, inner: usize) -> Result<Buffer> {
    if parts.len() != lens.len() {
        return Err(Error::ShapeMismatch { op: "concat", lhs: vec![parts.len()], rhs: vec![lens.len()] });
    }
    for (p, &l) in parts.iter().zip(lens) {
        expect_len("concat", "a part", p, &[outer, l, inner])?;
    }
    let axis = lens.iter().try_fold(0usize, |acc, &l| acc.checked_add(l));
    let axis = axis.ok_or_else(|| Error::ShapeOverflow { op: "concat", shape: lens.to_vec() })?;
    checked_output("concat", &[outer, axis, inner])?;
    match parts.first() {
        None => Ok(Buffer::Cpu(Vec::new())),
        Some(first @ Buffer::Cpu(_)) => {
            let vs = parts
                .iter()
                .map(|p| match p {
                    Buffer::Cpu(v) => Ok(v),
                    other => Err(mismatch("concat", first, other)),
                })
                .collect::<Result<Vec<_>>>()?;
            Cpu::concat_axis(ctx, &vs, lens, outer, inner).map(Buffer::Cpu)
        }
        Some(first @ Buffer::Cuda(_)) => {
            let cs = parts
                .iter()
                .map(|p| match p {
                    Buffer::Cuda(c) => Ok(c),
                    other => Err(mismatch("concat", first, other)),
                })
                .collect::<Result<Vec<_>>>()?;
            Gpu::concat_axis(ctx, &cs, lens, outer, inner).map(Buffer::Cuda)
        }
    }
}

/// `out[o, j, :] = x[o, idx[j], :]` (indices already checked).
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]);
/// [`Error::ShapeOverflow`] / [`Error::TooLarge`] for an output that cannot
/// be allocated; CUDA failures.
pub fn index_select_in(
    ctx: &Context,
    x: &Buffer,
    outer: usize,
    axis: usize,
    inner: usize,
    idx: &[usize],
) -> Result<Buffer> {
    expect_len("index_select", "x", x, &[outer, axis, inner])?;
    expect_below("index_select", idx, axis)?;
    checked_output("index_select", &[outer, idx.len(), inner])?;
    match x {
        Buffer::Cpu(x) => Cpu::index_select(ctx, x, outer, axis, inner, idx).map(Buffer::Cpu),
        Buffer::Cuda(x) => Gpu::index_select(ctx, x, outer, axis, inner, idx).map(Buffer::Cuda),
    }
}

/// Scatter-add adjoint of [`index_select_in`].
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn index_select_backward_in(
    ctx: &Context,
    g: &Buffer,
    outer: usize,
    axis: usize,
    inner: usize,
    idx: &[usize],
) -> Result<Buffer> {
    expect_len("index_select_backward", "the gradient", g, &[outer, idx.len(), inner])?;
    expect_below("index_select_backward", idx, axis)?;
    checked_output("index_select_backward", &[outer, axis, inner])?;
    match g {
        Buffer::Cpu(g) => Cpu::index_select_backward(ctx, g, outer, axis, inner, idx).map(Buffer::Cpu),
        Buffer::Cuda(g) => Gpu::index_select_backward(ctx, g, outer, axis, inner, idx).map(Buffer::Cuda),
    }
}

/// `out[r] = x[r, idx[r]]` on a rows×n matrix (indices already checked).
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn gather_rows_in(ctx: &Context, x: &Buffer, n: usize, idx: &[usize]) -> Result<Buffer> {
    expect_len("gather_rows", "x", x, &[idx.len(), n])?;
    expect_below("gather_rows", idx, n)?;
    match x {
        Buffer::Cpu(x) => Cpu::gather_rows(ctx, x, n, idx).map(Buffer::Cpu),
        Buffer::Cuda(x) => Gpu::gather_rows(ctx, x, n, idx).map(Buffer::Cuda),
    }
}

/// Adjoint of [`gather_rows_in`].
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn gather_rows_backward_in(ctx: &Context, g: &Buffer, n: usize, idx: &[usize]) -> Result<Buffer> {
    expect_len("gather_rows_backward", "the gradient", g, &[idx.len()])?;
    expect_below("gather_rows_backward", idx, n)?;
    checked_output("gather_rows_backward", &[idx.len(), n])?;
    match g {
        Buffer::Cpu(g) => Cpu::gather_rows_backward(ctx, g, n, idx).map(Buffer::Cpu),
        Buffer::Cuda(g) => Gpu::gather_rows_backward(ctx, g, n, idx).map(Buffer::Cuda),
    }
}
