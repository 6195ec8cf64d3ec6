//! Layout ops (permute, slice, concat, index select, gather) and their
//! adjoints: the device match of each, after its index checks.

use super::{expect_below, expect_len, expect_range, host, host_overwrite, mismatch};
use crate::context::Context;
use crate::cpu;
use crate::cuda;
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
        Buffer::Cpu(x) => ctx.install(|| host_overwrite(x.len(), |o| cpu::layout::permute(x, shape, perm, o))),
        Buffer::Cuda(x) => cuda::permute(x, shape, perm).map(Buffer::Cuda),
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
        Buffer::Cpu(x) => {
            ctx.install(|| host(outer * len * inner, |o| cpu::layout::slice_axis(x, outer, axis, inner, start, len, o)))
        }
        Buffer::Cuda(x) => cuda::slice_axis(x, outer, axis, inner, start, len).map(Buffer::Cuda),
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
    match g {
        Buffer::Cpu(g) => {
            let total = checked_output("slice_axis_backward", &[outer, axis, inner])?;
            ctx.install(|| host(total, |o| cpu::layout::slice_axis_backward(g, outer, axis, inner, start, len, o)))
        }
        Buffer::Cuda(g) => cuda::slice_axis_backward(g, outer, axis, inner, start, len).map(Buffer::Cuda),
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
    let total = checked_output("concat", &[outer, axis, inner])?;
    match parts.first() {
        None => Ok(Buffer::Cpu(Vec::new())),
        Some(Buffer::Cpu(_)) => {
            let slices = parts.iter().map(|p| p.as_cpu("concat")).collect::<Result<Vec<_>>>()?;
            ctx.install(|| host(total, |o| cpu::layout::concat_axis(&slices, lens, outer, inner, o)))
        }
        Some(first @ Buffer::Cuda(_)) => {
            let cs = parts
                .iter()
                .map(|p| match p {
                    Buffer::Cuda(c) => Ok(c),
                    other => Err(mismatch("concat", first, other)),
                })
                .collect::<Result<Vec<_>>>()?;
            cuda::concat_axis(&cs, lens, outer, inner).map(Buffer::Cuda)
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
    match x {
        Buffer::Cpu(x) => {
            let total = checked_output("index_select", &[outer, idx.len(), inner])?;
            ctx.install(|| host(total, |o| cpu::layout::index_select(x, outer, axis, inner, idx, o)))
        }
        Buffer::Cuda(x) => cuda::index_select(x, outer, axis, inner, idx).map(Buffer::Cuda),
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
    match g {
        Buffer::Cpu(g) => {
            let total = checked_output("index_select_backward", &[outer, axis, inner])?;
            ctx.install(|| host(total, |o| cpu::layout::index_select_backward(g, outer, axis, inner, idx, o)))
        }
        Buffer::Cuda(g) => cuda::index_select_backward(g, outer, axis, inner, idx).map(Buffer::Cuda),
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
        Buffer::Cpu(x) => ctx.install(|| host(idx.len(), |o| cpu::layout::gather_rows(x, n, idx, o))),
        Buffer::Cuda(x) => cuda::gather_rows(x, n, idx).map(Buffer::Cuda),
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
    let total = checked_output("gather_rows_backward", &[idx.len(), n])?;
    match g {
        Buffer::Cpu(g) => ctx.install(|| host(total, |o| cpu::layout::gather_rows_backward(g, n, idx, o))),
        Buffer::Cuda(g) => cuda::gather_rows_backward(g, n, idx).map(Buffer::Cuda),
    }
}
