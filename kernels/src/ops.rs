//! Device dispatch: every kernel behind one function on [`Buffer`]s. The CPU
//! arm calls the CPU kernels (crate-private: `kernels/src/cpu/`); the CUDA arm calls [`crate::cuda`] (a stub that
//! returns [`Error::CudaNotCompiled`] without the `cuda` feature). Callers
//! (the autograd crate) have checked shapes; these functions check devices.

use crate::context::{Context, ElementwiseVariant, NormalsVariant, SamplerVariant};
use crate::cpu::{self};
use crate::cuda;
use crate::limits::checked_numel;
use crate::reference;
use crate::shape::{checked_output, numel};
use crate::types::{AdamStep, BinaryOp, PriorSpec, ScalarOp, Transpose, UnaryOp};
use crate::{Buffer, Device, Error, Result};

fn mismatch(op: &'static str, a: &Buffer, b: &Buffer) -> Error {
    Error::DeviceMismatch { op, lhs: a.device(), rhs: b.device() }
}

/// A host output buffer of `len` zeros, then `f` (for kernels that add into it
/// or leave elements untouched). Recycled: see [`cpu::recycle`].
fn host(len: usize, f: impl FnOnce(&mut [f32])) -> Result<Buffer> {
    let mut out = cpu::recycle::zeroed(len);
    f(&mut out);
    Ok(Buffer::Cpu(out))
}

/// A host output buffer of `len` elements for an `f` that writes every one of
/// them (no zeroing pass). Recycled: see [`cpu::recycle`].
fn host_overwrite(len: usize, f: impl FnOnce(&mut [f32])) -> Result<Buffer> {
    let mut out = cpu::recycle::for_overwrite(len);
    f(&mut out);
    Ok(Buffer::Cpu(out))
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

/// y = f(x) element-wise.
///
/// # Errors
/// CUDA failures only.
pub fn unary(op: UnaryOp, x: &Buffer) -> Result<Buffer> {
    unary_in(&Context::default(), op, x)
}

/// [`unary`] with the element-wise variant of `ctx`.
///
/// # Errors
/// As [`unary`].
pub fn unary_in(ctx: &Context, op: UnaryOp, x: &Buffer) -> Result<Buffer> {
    match x {
        Buffer::Cpu(x) if ctx.elementwise == ElementwiseVariant::Reference => {
            host_overwrite(x.len(), |o| reference::elementwise::unary(op, x, o))
        }
        Buffer::Cpu(x) => ctx.install(|| host_overwrite(x.len(), |o| cpu::unary::forward(ctx.split, op, x, o))),
        Buffer::Cuda(x) => cuda::unary(op, x).map(Buffer::Cuda),
    }
}

/// gx = g·f'(x), given y = f(x).
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]);
/// operands on different devices; CUDA failures.
pub fn unary_backward(op: UnaryOp, x: &Buffer, y: &Buffer, g: &Buffer) -> Result<Buffer> {
    unary_backward_in(&Context::default(), op, x, y, g)
}

/// [`unary_backward`] with the element-wise variant of `ctx`.
///
/// # Errors
/// As [`unary_backward`].
pub fn unary_backward_in(ctx: &Context, op: UnaryOp, x: &Buffer, y: &Buffer, g: &Buffer) -> Result<Buffer> {
    let op_name = op.name();
    expect_len(op_name, "x", y, &[x.len()])?;
    expect_len(op_name, "the gradient", g, &[x.len()])?;
    match (x, y, g) {
        (Buffer::Cpu(x), Buffer::Cpu(_), Buffer::Cpu(g)) if ctx.elementwise == ElementwiseVariant::Reference => {
            host_overwrite(x.len(), |o| reference::elementwise::unary_backward(op, x, g, o))
        }
        (Buffer::Cpu(x), Buffer::Cpu(y), Buffer::Cpu(g)) => {
            ctx.install(|| host_overwrite(x.len(), |o| cpu::unary::backward(ctx.split, op, x, y, g, o)))
        }
        (Buffer::Cuda(x), Buffer::Cuda(y), Buffer::Cuda(g)) => cuda::unary_backward(op, x, y, g).map(Buffer::Cuda),
        _ => Err(mismatch(op.name(), x, g)),
    }
}

/// y = x ∘ s.
///
/// # Errors
/// CUDA failures only.
pub fn scalar(op: ScalarOp, x: &Buffer) -> Result<Buffer> {
    scalar_in(&Context::default(), op, x)
}

/// [`scalar`] with the element-wise variant of `ctx`.
///
/// # Errors
/// As [`scalar`].
pub fn scalar_in(ctx: &Context, op: ScalarOp, x: &Buffer) -> Result<Buffer> {
    match x {
        Buffer::Cpu(x) if ctx.elementwise == ElementwiseVariant::Reference => {
            host_overwrite(x.len(), |o| reference::elementwise::scalar(op, x, o))
        }
        Buffer::Cpu(x) => ctx.install(|| host_overwrite(x.len(), |o| cpu::binary::scalar_forward(ctx.split, op, x, o))),
        Buffer::Cuda(x) => cuda::scalar(op, x).map(Buffer::Cuda),
    }
}

/// gx = g·f'(x) for y = x ∘ s.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]);
/// operands on different devices; CUDA failures.
pub fn scalar_backward(op: ScalarOp, x: &Buffer, g: &Buffer) -> Result<Buffer> {
    scalar_backward_in(&Context::default(), op, x, g)
}

/// [`scalar_backward`] with the element-wise variant of `ctx`.
///
/// # Errors
/// As [`scalar_backward`].
pub fn scalar_backward_in(ctx: &Context, op: ScalarOp, x: &Buffer, g: &Buffer) -> Result<Buffer> {
    expect_len("scalar", "the gradient", g, &[x.len()])?;
    match (x, g) {
        (Buffer::Cpu(x), Buffer::Cpu(g)) if ctx.elementwise == ElementwiseVariant::Reference => {
            host_overwrite(x.len(), |o| reference::elementwise::scalar_backward(op, x, g, o))
        }
        (Buffer::Cpu(x), Buffer::Cpu(g)) => {
            ctx.install(|| host_overwrite(x.len(), |o| cpu::binary::scalar_backward(ctx.split, op, x, g, o)))
        }
        (Buffer::Cuda(x), Buffer::Cuda(g)) => cuda::scalar_backward(op, x, g).map(Buffer::Cuda),
        _ => Err(mismatch("scalar", x, g)),
    }
}

/// out = a ∘ b with broadcasting to `out_shape`.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]);
/// operands on different devices; CUDA failures.
pub fn binary(
    op: BinaryOp,
    a: &Buffer,
    a_shape: &[usize],
    b: &Buffer,
    b_shape: &[usize],
    out_shape: &[usize],
) -> Result<Buffer> {
    binary_in(&Context::default(), op, a, a_shape, b, b_shape, out_shape)
}

/// [`binary`] with the element-wise variant of `ctx`.
///
/// # Errors
/// As [`binary`].
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
        (Buffer::Cpu(x), Buffer::Cpu(y)) if ctx.elementwise == ElementwiseVariant::Reference => {
            host_overwrite(numel(out_shape), |o| {
                reference::elementwise::binary(op, x, a_shape, y, b_shape, o, out_shape)
            })
        }
        (Buffer::Cpu(x), Buffer::Cpu(y)) => ctx.install(|| {
            host_overwrite(numel(out_shape), |o| {
                cpu::binary::forward(ctx.split, op, x, a_shape, y, b_shape, o, out_shape)
            })
        }),
        (Buffer::Cuda(x), Buffer::Cuda(y)) => cuda::binary(op, x, a_shape, y, b_shape, out_shape).map(Buffer::Cuda),
        _ => Err(mismatch(op.name(), a, b)),
    }
}

/// `c += b` with `b` repeated along `c`'s rows (`c.len()` a multiple of
/// `b.len()`): in place on the CPU, where `c` is a product just made and a
/// second buffer would cost a pass through memory; the same bits as
/// [`binary`]'s `Add` with `b` broadcast.
///
/// # Errors
/// [`Error::ShapeMismatch`] when `b` is empty or does not divide `c`;
/// operands on different devices; CUDA failures.
pub fn add_rows(c: &mut Buffer, b: &Buffer) -> Result<()> {
    add_rows_in(&Context::default(), c, b)
}

/// [`add_rows`] with the thread policy of `ctx`.
///
/// # Errors
/// As [`add_rows`].
pub fn add_rows_in(ctx: &Context, c: &mut Buffer, b: &Buffer) -> Result<()> {
    let n = b.len();
    if n == 0 || !c.len().is_multiple_of(n) {
        return Err(Error::ShapeMismatch { op: "add_rows", lhs: vec![c.len()], rhs: vec![n] });
    }
    match (&mut *c, b) {
        (Buffer::Cpu(x), Buffer::Cpu(y)) => ctx.install(|| cpu::binary::add_rows_in_place(ctx.split, x, y)),
        (Buffer::Cuda(_), Buffer::Cuda(_)) => {
            let shape = [c.len() / n, n];
            *c = binary_in(ctx, BinaryOp::Add, c, &shape, b, &[n], &shape)?;
        }
        _ => return Err(mismatch("add_rows", c, b)),
    }
    Ok(())
}

/// Gradients of out = a ∘ b with respect to a and b, each summed back to its
/// operand's shape; `need` says which to compute.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]);
/// operands on different devices; CUDA failures.
#[allow(clippy::too_many_arguments)]
pub fn binary_backward(
    op: BinaryOp,
    a: &Buffer,
    a_shape: &[usize],
    b: &Buffer,
    b_shape: &[usize],
    g: &Buffer,
    out_shape: &[usize],
    need: (bool, bool),
) -> Result<(Option<Buffer>, Option<Buffer>)> {
    binary_backward_in(&Context::default(), op, a, a_shape, b, b_shape, g, out_shape, need)
}

/// [`binary_backward`] with the element-wise variant of `ctx`.
///
/// # Errors
/// As [`binary_backward`].
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
        let (mut ga, mut gb) = (vec![0.0; x.len()], vec![0.0; y.len()]);
        reference::elementwise::binary_backward(op, x, a_shape, y, b_shape, gg, out_shape, &mut ga, &mut gb);
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
            let n = numel(out_shape);
            let mut ga = need.0.then(|| cpu::recycle::zeroed(n));
            let mut gb = need.1.then(|| cpu::recycle::zeroed(n));
            ctx.install(|| {
                cpu::binary::backward(op, x, a_shape, y, b_shape, gg, out_shape, ga.as_deref_mut(), gb.as_deref_mut())
            });
            (ga.map(Buffer::Cpu), gb.map(Buffer::Cpu))
        }
        (Buffer::Cuda(x), Buffer::Cuda(y), Buffer::Cuda(gg)) => {
            let (ga, gb) = cuda::binary_backward(op, x, a_shape, y, b_shape, gg, out_shape, need)?;
            (ga.map(Buffer::Cuda), gb.map(Buffer::Cuda))
        }
        _ => return Err(mismatch(op.name(), a, b)),
    };
    let ga = full_a.map(|f| sum_to_shape_in(ctx, &f, out_shape, a_shape)).transpose()?;
    let gb = full_b.map(|f| sum_to_shape_in(ctx, &f, out_shape, b_shape)).transpose()?;
    Ok((ga, gb))
}

/// Sums `g` of shape `from` down to the broadcast operand shape `to`.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn sum_to_shape(g: &Buffer, from: &[usize], to: &[usize]) -> Result<Buffer> {
    sum_to_shape_in(&Context::default(), g, from, to)
}

/// [`sum_to_shape`] with the thread policy of `ctx` (a sum to one element
/// splits from [`ThreadSplit::heavy`](crate::context::ThreadSplit::heavy) elements).
///
/// # Errors
/// As [`sum_to_shape`].
pub fn sum_to_shape_in(ctx: &Context, g: &Buffer, from: &[usize], to: &[usize]) -> Result<Buffer> {
    expect_len("sum_to_shape", "the gradient", g, from)?;
    if crate::shape::broadcast_dims("sum_to_shape", to, from)? != from {
        return Err(Error::ShapeMismatch { op: "sum_to_shape", lhs: from.to_vec(), rhs: to.to_vec() });
    }
    if from == to {
        return Ok(g.clone());
    }
    match g {
        Buffer::Cpu(g) => ctx.install(|| host(numel(to), |o| cpu::reduce::sum_to_shape(ctx.split, g, from, to, o))),
        Buffer::Cuda(g) => cuda::sum_to_shape(g, from, to).map(Buffer::Cuda),
    }
}

/// The sum of all elements, as a one-element buffer on the same device.
///
/// # Errors
/// CUDA failures only.
pub fn sum_all(x: &Buffer) -> Result<Buffer> {
    sum_all_in(&Context::default(), x)
}

/// [`sum_all`] on the threads and with the thread policy of `ctx` (the same
/// bits under every policy and thread count).
///
/// # Errors
/// As [`sum_all`].
pub fn sum_all_in(ctx: &Context, x: &Buffer) -> Result<Buffer> {
    match x {
        Buffer::Cpu(x) => Ok(Buffer::Cpu(vec![ctx.install(|| cpu::reduce::sum_all(ctx.split, x))])),
        Buffer::Cuda(x) => cuda::sum_all(x).map(Buffer::Cuda),
    }
}

/// Sums along the middle axis of an (outer, len, inner) view.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn sum_axis(x: &Buffer, outer: usize, len: usize, inner: usize) -> Result<Buffer> {
    expect_len("sum_axis", "x", x, &[outer, len, inner])?;
    match x {
        Buffer::Cpu(x) => host(outer * inner, |o| cpu::reduce::sum_axis(x, outer, len, inner, o)),
        Buffer::Cuda(x) => cuda::sum_axis(x, outer, len, inner).map(Buffer::Cuda),
    }
}

/// Repeats `g` (outer·inner elements) `len` times along a new middle axis:
/// the adjoint of [`sum_axis`] (and of [`sum_all`] with outer = inner = 1).
///
/// # Errors
/// [`Error::ShapeMismatch`] when `g` does not hold outer·inner elements;
/// [`Error::ShapeOverflow`] / [`Error::TooLarge`] for an output that cannot
/// be allocated; CUDA failures.
pub fn expand_axis(g: &Buffer, outer: usize, len: usize, inner: usize) -> Result<Buffer> {
    if Some(g.len()) != outer.checked_mul(inner) {
        return Err(Error::ShapeMismatch { op: "expand_axis", lhs: vec![outer, inner], rhs: vec![g.len()] });
    }
    let total = checked_output("expand_axis", &[outer, len, inner])?;
    match g {
        Buffer::Cpu(g) => host_overwrite(total, |o| {
            // Each output row of `len·inner` repeats its input row `len` times; with
            // inner = 1 (the backward of a full sum) that is a fill, not 4-byte copies.
            // chunks_exact(0) panics: nothing to write when len or inner is 0.
            if o.is_empty() {
                return;
            }
            for (row, src) in o.chunks_exact_mut(len * inner).zip(g.chunks_exact(inner)) {
                if inner == 1 {
                    row.fill(src[0]);
                } else {
                    row.chunks_exact_mut(inner).for_each(|dst| dst.copy_from_slice(src));
                }
            }
        }),
        Buffer::Cuda(g) => cuda::expand_axis(g, outer, len, inner).map(Buffer::Cuda),
    }
}

/// Maximum along the middle axis and the index where it was found.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn max_axis(x: &Buffer, outer: usize, len: usize, inner: usize) -> Result<(Buffer, Vec<usize>)> {
    expect_len("max_axis", "x", x, &[outer, len, inner])?;
    if len == 0 && outer.checked_mul(inner) != Some(0) {
        return Err(Error::Empty { op: "max_axis" });
    }
    match x {
        Buffer::Cpu(x) => {
            let (mut m, mut arg) = (vec![0f32; outer * inner], vec![0usize; outer * inner]);
            cpu::reduce::max_axis(x, outer, len, inner, &mut m, &mut arg);
            Ok((Buffer::Cpu(m), arg))
        }
        Buffer::Cuda(x) => cuda::max_axis(x, outer, len, inner).map(|(b, a)| (Buffer::Cuda(b), a)),
    }
}

/// Routes `g` to the arg-max positions: the adjoint of [`max_axis`].
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]);
/// [`Error::ShapeOverflow`] / [`Error::TooLarge`] for an output that cannot
/// be allocated; CUDA failures.
pub fn max_axis_backward(g: &Buffer, arg: &[usize], outer: usize, len: usize, inner: usize) -> Result<Buffer> {
    expect_len("max_axis_backward", "the gradient", g, &[outer, inner])?;
    if arg.len() != g.len() {
        return Err(Error::ShapeMismatch { op: "max_axis_backward", lhs: vec![g.len()], rhs: vec![arg.len()] });
    }
    expect_below("max_axis_backward", arg, len)?;
    match g {
        Buffer::Cpu(g) => host(checked_output("max_axis_backward", &[outer, len, inner])?, |o| {
            for oi in 0..outer {
                for i in 0..inner {
                    o[(oi * len + arg[oi * inner + i]) * inner + i] = g[oi * inner + i];
                }
            }
        }),
        Buffer::Cuda(g) => cuda::max_axis_backward(g, arg, outer, len, inner).map(Buffer::Cuda),
    }
}

/// `batch` products op(A_i)·op(B_i) of m×k by k×n.
///
/// # Errors
/// [`Error::InvalidShape`] when `a` and `b` do not hold `batch·m·k` and
/// `batch·k·n` elements; [`Error::ShapeOverflow`] / [`Error::TooLarge`]
/// when those counts or the output's `batch·m·n` overflow or cannot be
/// allocated; operands on different devices; CUDA failures.
#[allow(clippy::too_many_arguments)]
pub fn gemm(a: &Buffer, b: &Buffer, batch: usize, m: usize, k: usize, n: usize, t: Transpose) -> Result<Buffer> {
    gemm_in(&Context::default(), a, b, batch, m, k, n, t)
}

/// [`gemm`] with the variants and threads of `ctx`.
///
/// # Errors
/// As [`gemm`].
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

/// The output length of [`gemm`] once its operands are checked against the
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

/// Softmax (or log-softmax when `log`) over rows of length `n`.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn softmax(x: &Buffer, n: usize, log: bool) -> Result<Buffer> {
    if n == 0 || !x.len().is_multiple_of(n) {
        return Err(Error::InvalidShape { op: "softmax", shape: vec![x.len()], reason: format!("rows of {n}") });
    }
    match x {
        Buffer::Cpu(x) => host_overwrite(x.len(), |o| {
            if log {
                cpu::softmax::log_softmax(x, n, o)
            } else {
                cpu::softmax::softmax(x, n, o)
            }
        }),
        Buffer::Cuda(x) => cuda::softmax(x, n, log).map(Buffer::Cuda),
    }
}

/// Backward of [`softmax`] given its output `y`.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]);
/// operands on different devices; CUDA failures.
pub fn softmax_backward(y: &Buffer, g: &Buffer, n: usize, log: bool) -> Result<Buffer> {
    if n == 0 || !y.len().is_multiple_of(n) {
        return Err(Error::InvalidShape { op: "softmax", shape: vec![y.len()], reason: format!("rows of {n}") });
    }
    expect_len("softmax", "the gradient", g, &[y.len()])?;
    match (y, g) {
        (Buffer::Cpu(y), Buffer::Cpu(g)) => host(y.len(), |o| {
            if log {
                cpu::softmax::log_softmax_backward(y, g, n, o)
            } else {
                cpu::softmax::softmax_backward(y, g, n, o)
            }
        }),
        (Buffer::Cuda(y), Buffer::Cuda(g)) => cuda::softmax_backward(y, g, n, log).map(Buffer::Cuda),
        _ => Err(mismatch("softmax", y, g)),
    }
}

/// Materialised permutation of axes.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn permute(x: &Buffer, shape: &[usize], perm: &[usize]) -> Result<Buffer> {
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
        Buffer::Cpu(x) => host_overwrite(x.len(), |o| cpu::layout::permute(x, shape, perm, o)),
        Buffer::Cuda(x) => cuda::permute(x, shape, perm).map(Buffer::Cuda),
    }
}

/// `x[.., start..start+len, ..]` along the middle axis of an (outer, axis, inner) view.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn slice_axis(x: &Buffer, outer: usize, axis: usize, inner: usize, start: usize, len: usize) -> Result<Buffer> {
    expect_len("slice", "x", x, &[outer, axis, inner])?;
    expect_range("slice", start, len, axis)?;
    match x {
        Buffer::Cpu(x) => host(outer * len * inner, |o| cpu::layout::slice_axis(x, outer, axis, inner, start, len, o)),
        Buffer::Cuda(x) => cuda::slice_axis(x, outer, axis, inner, start, len).map(Buffer::Cuda),
    }
}

/// The gradient of [`slice_axis`]'s input: `g` in place, zeros elsewhere.
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn slice_axis_backward(
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
            host(total, |o| cpu::layout::slice_axis_backward(g, outer, axis, inner, start, len, o))
        }
        Buffer::Cuda(g) => cuda::slice_axis_backward(g, outer, axis, inner, start, len).map(Buffer::Cuda),
    }
}

/// Concatenation along the middle axis; `parts[i]` has `lens[i]` entries there.
///
/// # Errors
/// [`Error::ShapeOverflow`] / [`Error::TooLarge`] for an output that cannot
/// be allocated; parts on different devices; CUDA failures.
pub fn concat_axis(parts: &[&Buffer], lens: &[usize], outer: usize, inner: usize) -> Result<Buffer> {
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
            host(total, |o| cpu::layout::concat_axis(&slices, lens, outer, inner, o))
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
pub fn index_select(x: &Buffer, outer: usize, axis: usize, inner: usize, idx: &[usize]) -> Result<Buffer> {
    expect_len("index_select", "x", x, &[outer, axis, inner])?;
    expect_below("index_select", idx, axis)?;
    match x {
        Buffer::Cpu(x) => {
            let total = checked_output("index_select", &[outer, idx.len(), inner])?;
            host(total, |o| cpu::layout::index_select(x, outer, axis, inner, idx, o))
        }
        Buffer::Cuda(x) => cuda::index_select(x, outer, axis, inner, idx).map(Buffer::Cuda),
    }
}

/// Scatter-add adjoint of [`index_select`].
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn index_select_backward(g: &Buffer, outer: usize, axis: usize, inner: usize, idx: &[usize]) -> Result<Buffer> {
    expect_len("index_select_backward", "the gradient", g, &[outer, idx.len(), inner])?;
    expect_below("index_select_backward", idx, axis)?;
    match g {
        Buffer::Cpu(g) => {
            let total = checked_output("index_select_backward", &[outer, axis, inner])?;
            host(total, |o| cpu::layout::index_select_backward(g, outer, axis, inner, idx, o))
        }
        Buffer::Cuda(g) => cuda::index_select_backward(g, outer, axis, inner, idx).map(Buffer::Cuda),
    }
}

/// `out[r] = x[r, idx[r]]` on a rows×n matrix (indices already checked).
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn gather_rows(x: &Buffer, n: usize, idx: &[usize]) -> Result<Buffer> {
    expect_len("gather_rows", "x", x, &[idx.len(), n])?;
    expect_below("gather_rows", idx, n)?;
    match x {
        Buffer::Cpu(x) => host(idx.len(), |o| cpu::layout::gather_rows(x, n, idx, o)),
        Buffer::Cuda(x) => cuda::gather_rows(x, n, idx).map(Buffer::Cuda),
    }
}

/// Adjoint of [`gather_rows`].
///
/// # Errors
/// Operands whose lengths or indices do not match the sizes given
/// ([`Error::InvalidShape`], [`Error::ShapeMismatch`], [`Error::IndexOutOfRange`]); CUDA failures.
pub fn gather_rows_backward(g: &Buffer, n: usize, idx: &[usize]) -> Result<Buffer> {
    expect_len("gather_rows_backward", "the gradient", g, &[idx.len()])?;
    expect_below("gather_rows_backward", idx, n)?;
    let total = checked_output("gather_rows_backward", &[idx.len(), n])?;
    match g {
        Buffer::Cpu(g) => host(total, |o| cpu::layout::gather_rows_backward(g, n, idx, o)),
        Buffer::Cuda(g) => cuda::gather_rows_backward(g, n, idx).map(Buffer::Cuda),
    }
}

/// `len` standard normals named (seed, offset + i), on `device`.
///
/// # Errors
/// CUDA failures only.
pub fn normal(device: Device, seed: u64, offset: u64, len: usize) -> Result<Buffer> {
    normal_in(&Context::default(), device, seed, offset, len)
}

/// [`normal`] with the variants and threads of `ctx`.
///
/// # Errors
/// As [`normal`].
pub fn normal_in(ctx: &Context, device: Device, seed: u64, offset: u64, len: usize) -> Result<Buffer> {
    checked_output("normal", &[len])?;
    match device {
        Device::Cpu => ctx.install(|| {
            host_overwrite(len, |o| match ctx.normals {
                NormalsVariant::Best => cpu::random::fill_normal(ctx.split, seed, offset, o),
                NormalsVariant::Portable => cpu::random::fill_normal_portable(ctx.split, seed, offset, o),
                NormalsVariant::Reference => {
                    o.iter_mut().enumerate().for_each(|(i, v)| *v = cpu::random::normal_at(seed, offset + i as u64))
                }
            })
        }),
        Device::Cuda(ordinal) => cuda::normal(ctx.gpu_sampler, ordinal, seed, offset, len).map(Buffer::Cuda),
    }
}

/// Fused w = mu + softplus(rho)·eps(seed, offset).
///
/// # Errors
/// Operands on different devices; CUDA failures.
pub fn reparam_forward(mu: &Buffer, rho: &Buffer, seed: u64, offset: u64) -> Result<Buffer> {
    reparam_forward_in(&Context::default(), mu, rho, seed, offset)
}

/// [`reparam_forward`] with the variants and threads of `ctx`.
///
/// # Errors
/// As [`reparam_forward`].
pub fn reparam_forward_in(ctx: &Context, mu: &Buffer, rho: &Buffer, seed: u64, offset: u64) -> Result<Buffer> {
    match (mu, rho) {
        (Buffer::Cpu(m), Buffer::Cpu(r)) => {
            ctx.install(|| host_overwrite(m.len(), |o| cpu::reparam::forward(ctx.split, m, r, seed, offset, o)))
        }
        (Buffer::Cuda(m), Buffer::Cuda(r)) => {
            cuda::reparam_forward(ctx.gpu_sampler, m, r, seed, offset).map(Buffer::Cuda)
        }
        _ => Err(mismatch("reparam", mu, rho)),
    }
}

/// w = mu + sigma·eps(seed, offset) with sigma given: on the CPU the same
/// bits as [`reparam_forward`] when sigma = softplus(rho). On a GPU it is
/// composed of the normal draw, a product and a sum (no fused kernel there;
/// the layers use it on the CPU only, and it has not run on a GPU yet).
///
/// # Errors
/// [`Error::ShapeMismatch`] when the lengths differ; operands on different
/// devices; CUDA failures.
pub fn reparam_forward_sigma(mu: &Buffer, sigma: &Buffer, seed: u64, offset: u64) -> Result<Buffer> {
    reparam_forward_sigma_in(&Context::default(), mu, sigma, seed, offset)
}

/// [`reparam_forward_sigma`] with the variants and threads of `ctx`.
///
/// # Errors
/// As [`reparam_forward_sigma`].
pub fn reparam_forward_sigma_in(ctx: &Context, mu: &Buffer, sigma: &Buffer, seed: u64, offset: u64) -> Result<Buffer> {
    if mu.len() != sigma.len() {
        return Err(Error::ShapeMismatch { op: "reparam_sample_sigma", lhs: vec![mu.len()], rhs: vec![sigma.len()] });
    }
    match (mu, sigma) {
        (Buffer::Cpu(m), Buffer::Cpu(s)) => {
            ctx.install(|| host_overwrite(m.len(), |o| cpu::reparam::forward_sigma(ctx.split, m, s, seed, offset, o)))
        }
        (Buffer::Cuda(_), Buffer::Cuda(_)) => {
            let shape = [mu.len()];
            let eps = normal_in(ctx, mu.device(), seed, offset, mu.len())?;
            let scaled = binary(BinaryOp::Mul, sigma, &shape, &eps, &shape, &shape)?;
            binary(BinaryOp::Add, mu, &shape, &scaled, &shape, &shape)
        }
        _ => Err(mismatch("reparam_sample_sigma", mu, sigma)),
    }
}

/// Backward of [`reparam_forward`]: (grad_mu, grad_rho), eps regenerated.
///
/// # Errors
/// Operands on different devices; CUDA failures.
pub fn reparam_backward(rho: &Buffer, g: &Buffer, seed: u64, offset: u64) -> Result<(Buffer, Buffer)> {
    reparam_backward_in(&Context::default(), rho, g, seed, offset)
}

/// [`reparam_backward`] with the variants and threads of `ctx`.
///
/// # Errors
/// As [`reparam_backward`].
pub fn reparam_backward_in(
    ctx: &Context,
    rho: &Buffer,
    g: &Buffer,
    seed: u64,
    offset: u64,
) -> Result<(Buffer, Buffer)> {
    match (rho, g) {
        (Buffer::Cpu(r), Buffer::Cpu(gg)) => {
            let (mut gm, mut gr) = (cpu::recycle::for_overwrite(r.len()), cpu::recycle::for_overwrite(r.len()));
            ctx.install(|| cpu::reparam::backward(ctx.split, r, gg, seed, offset, &mut gm, &mut gr));
            Ok((Buffer::Cpu(gm), Buffer::Cpu(gr)))
        }
        (Buffer::Cuda(r), Buffer::Cuda(gg)) => cuda::reparam_backward(ctx.gpu_sampler, r, gg, seed, offset)
            .map(|(a, b)| (Buffer::Cuda(a), Buffer::Cuda(b))),
        _ => Err(mismatch("reparam", rho, g)),
    }
}

/// Σ log N(w; mu, sigma) of the weights drawn by [`reparam_forward`], one element.
///
/// # Errors
/// CUDA failures only.
pub fn reparam_log_posterior(rho: &Buffer, seed: u64, offset: u64) -> Result<Buffer> {
    reparam_log_posterior_in(&Context::default(), rho, seed, offset)
}

/// [`reparam_log_posterior`] with the variants and threads of `ctx`.
///
/// # Errors
/// As [`reparam_log_posterior`].
pub fn reparam_log_posterior_in(ctx: &Context, rho: &Buffer, seed: u64, offset: u64) -> Result<Buffer> {
    match rho {
        Buffer::Cpu(r) => {
            Ok(Buffer::Cpu(vec![ctx.install(|| cpu::reparam::log_posterior(ctx.split, r, seed, offset))]))
        }
        Buffer::Cuda(r) => cuda::reparam_log_posterior(ctx.gpu_sampler, r, seed, offset).map(Buffer::Cuda),
    }
}

/// One fused draw and its Monte Carlo KL: (w, Σ[log q(w) − log p(w)] as one element).
///
/// # Errors
/// Operands on different devices; CUDA failures.
pub fn sample_kl_forward(
    mu: &Buffer,
    rho: &Buffer,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
) -> Result<(Buffer, Buffer)> {
    sample_kl_forward_in(&Context::default(), mu, rho, seed, offset, prior)
}

/// [`sample_kl_forward`] with the variants and threads of `ctx`.
///
/// # Errors
/// As [`sample_kl_forward`].
pub fn sample_kl_forward_in(
    ctx: &Context,
    mu: &Buffer,
    rho: &Buffer,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
) -> Result<(Buffer, Buffer)> {
    match ctx.sampler {
        SamplerVariant::Unfused => return sample_kl_forward_unfused(ctx, mu, rho, seed, offset, prior),
        SamplerVariant::Reference => return sample_kl_forward_reference(mu, rho, seed, offset, prior),
        _ => {}
    }
    match (mu, rho) {
        (Buffer::Cpu(m), Buffer::Cpu(r)) => {
            let mut w = cpu::recycle::for_overwrite(m.len());
            let kl = ctx.install(|| cpu::sample_kl::forward(ctx.split, m, r, seed, offset, prior, &mut w));
            Ok((Buffer::Cpu(w), Buffer::Cpu(vec![kl])))
        }
        (Buffer::Cuda(m), Buffer::Cuda(r)) => cuda::sample_kl_forward(ctx.gpu_sampler, m, r, seed, offset, prior)
            .map(|(w, kl)| (Buffer::Cuda(w), Buffer::Cuda(kl))),
        _ => Err(mismatch("sample_kl", mu, rho)),
    }
}

/// Backward of [`sample_kl_forward`]: (grad_mu, grad_rho) from ∂L/∂w (None when
/// L does not use w) and ∂L/∂kl (a one-element buffer, so a GPU never waits
/// for it), eps regenerated once.
///
/// # Errors
/// Operands on different devices; `g_kl` not one element; CUDA failures.
pub fn sample_kl_backward(
    mu: &Buffer,
    rho: &Buffer,
    g_w: Option<&Buffer>,
    g_kl: &Buffer,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
) -> Result<(Buffer, Buffer)> {
    sample_kl_backward_in(&Context::default(), mu, rho, g_w, g_kl, seed, offset, prior)
}

/// [`sample_kl_backward`] with the variants and threads of `ctx`.
///
/// # Errors
/// As [`sample_kl_backward`].
pub fn sample_kl_backward_in(
    ctx: &Context,
    mu: &Buffer,
    rho: &Buffer,
    g_w: Option<&Buffer>,
    g_kl: &Buffer,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
) -> Result<(Buffer, Buffer)> {
    match ctx.sampler {
        SamplerVariant::Unfused => return sample_kl_backward_unfused(ctx, mu, rho, g_w, g_kl, seed, offset, prior),
        SamplerVariant::Reference => return sample_kl_backward_reference(mu, rho, g_w, g_kl, seed, offset, prior),
        _ => {}
    }
    match (mu, rho, g_kl) {
        (Buffer::Cpu(m), Buffer::Cpu(r), Buffer::Cpu(gk)) => {
            let g = match g_w {
                None => None,
                Some(Buffer::Cpu(v)) => Some(v.as_slice()),
                Some(other) => return Err(mismatch("sample_kl", mu, other)),
            };
            let gk = cpu_scalar("sample_kl_backward", gk)?;
            let (mut gm, mut gr) = (cpu::recycle::for_overwrite(m.len()), cpu::recycle::for_overwrite(m.len()));
            ctx.install(|| cpu::sample_kl::backward(ctx.split, m, r, g, gk, seed, offset, prior, &mut gm, &mut gr));
            Ok((Buffer::Cpu(gm), Buffer::Cpu(gr)))
        }
        (Buffer::Cuda(m), Buffer::Cuda(r), Buffer::Cuda(gk)) => {
            let g = match g_w {
                None => None,
                Some(Buffer::Cuda(c)) => Some(c),
                Some(other) => return Err(mismatch("sample_kl", mu, other)),
            };
            cuda::sample_kl_backward(ctx.gpu_sampler, m, r, g, gk, seed, offset, prior)
                .map(|(a, b)| (Buffer::Cuda(a), Buffer::Cuda(b)))
        }
        (Buffer::Cpu(_), Buffer::Cpu(_), other) | (Buffer::Cuda(_), Buffer::Cuda(_), other) => {
            Err(mismatch("sample_kl", mu, other))
        }
        _ => Err(mismatch("sample_kl", mu, rho)),
    }
}

/// The per-weight factors of a CPU draw's backward, kept by
/// [`sample_kl_forward_saving`] (two host buffers as long as the draw).
#[derive(Debug)]
pub struct SampleKlFactors {
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Drop for SampleKlFactors {
    /// Hands the buffers back for reuse, as a dropped host [`Buffer`] does.
    fn drop(&mut self) {
        cpu::recycle::give(std::mem::take(&mut self.a));
        cpu::recycle::give(std::mem::take(&mut self.b));
    }
}

/// The most weights whose backward factors a CPU draw keeps (two floats each:
/// at most 32 MB extra per draw); a larger layer's backward regenerates eps
/// instead.
pub const MAX_KEPT_FACTORS: usize = 1 << 22;

/// The unfused draw ([`SamplerVariant::Unfused`]): the normals, softplus, a
/// product and a sum, each its own kernel.
fn unfused_draw(ctx: &Context, mu: &Buffer, rho: &Buffer, seed: u64, offset: u64) -> Result<Buffer> {
    if mu.len() != rho.len() {
        return Err(Error::ShapeMismatch { op: "sample_kl", lhs: vec![mu.len()], rhs: vec![rho.len()] });
    }
    if mu.device() != rho.device() {
        return Err(mismatch("sample_kl", mu, rho));
    }
    let shape = [mu.len()];
    let eps = normal_in(ctx, mu.device(), seed, offset, mu.len())?;
    let sigma = unary(UnaryOp::Softplus, rho)?;
    let scaled = binary(BinaryOp::Mul, &sigma, &shape, &eps, &shape, &shape)?;
    binary(BinaryOp::Add, mu, &shape, &scaled, &shape, &shape)
}

/// The host slices of a reference-sampler call, or why there are none.
fn reference_operands<'a>(mu: &'a Buffer, rho: &'a Buffer) -> Result<(&'a [f32], &'a [f32])> {
    if mu.len() != rho.len() {
        return Err(Error::ShapeMismatch { op: "sample_kl", lhs: vec![mu.len()], rhs: vec![rho.len()] });
    }
    match (mu, rho) {
        (Buffer::Cpu(m), Buffer::Cpu(r)) => Ok((m, r)),
        (Buffer::Cpu(_), _) | (_, Buffer::Cpu(_)) => Err(mismatch("sample_kl", mu, rho)),
        _ => Err(Error::invalid("sampler variant", "the reference sampler runs on the CPU only")),
    }
}

/// [`sample_kl_forward`] on [`SamplerVariant::Reference`]: the scalar loops
/// of [`reference::reparam`](crate::reference::reparam).
fn sample_kl_forward_reference(
    mu: &Buffer,
    rho: &Buffer,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
) -> Result<(Buffer, Buffer)> {
    let (m, r) = reference_operands(mu, rho)?;
    let mut w = vec![0f32; m.len()];
    crate::reference::reparam::sample_all(m, r, seed, offset, &mut w);
    let kl = crate::reference::reparam::mc_kl(m, r, seed, offset, prior) as f32;
    Ok((Buffer::Cpu(w), Buffer::Cpu(vec![kl])))
}

/// [`sample_kl_backward`] on [`SamplerVariant::Reference`]: the draw's
/// gradient and the KL's, each from its scalar loop, added.
fn sample_kl_backward_reference(
    mu: &Buffer,
    rho: &Buffer,
    g_w: Option<&Buffer>,
    g_kl: &Buffer,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
) -> Result<(Buffer, Buffer)> {
    let (m, r) = reference_operands(mu, rho)?;
    let n = m.len();
    let (mut g_mu, mut g_rho) = (vec![0f32; n], vec![0f32; n]);
    if let Some(g) = g_w {
        let Buffer::Cpu(g) = g else { return Err(mismatch("sample_kl", mu, g)) };
        if g.len() != n {
            return Err(Error::ShapeMismatch { op: "sample_kl", lhs: vec![n], rhs: vec![g.len()] });
        }
        crate::reference::reparam::sample_all_backward(r, g, seed, offset, &mut g_mu, &mut g_rho);
    }
    let Buffer::Cpu(gk) = g_kl else { return Err(mismatch("sample_kl", mu, g_kl)) };
    let gk = cpu_scalar("sample_kl_backward", gk)?;
    let (mut k_mu, mut k_rho) = (vec![0f32; n], vec![0f32; n]);
    crate::reference::reparam::mc_kl_backward(m, r, gk, seed, offset, prior, &mut k_mu, &mut k_rho);
    for i in 0..n {
        g_mu[i] += k_mu[i];
        g_rho[i] += k_rho[i];
    }
    Ok((Buffer::Cpu(g_mu), Buffer::Cpu(g_rho)))
}

/// [`sample_kl_forward`] unfused: the draw, then the KL of the drawn weights ([`kl_at`]).
fn sample_kl_forward_unfused(
    ctx: &Context,
    mu: &Buffer,
    rho: &Buffer,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
) -> Result<(Buffer, Buffer)> {
    let w = unfused_draw(ctx, mu, rho, seed, offset)?;
    let kl = kl_at_in(ctx, &w, rho, seed, offset, prior)?;
    Ok((w, kl))
}

/// [`sample_kl_backward`] unfused: the KL's gradients at the drawn weights
/// ([`kl_at_backward`]), added to ∂L/∂w, through the draw's backward
/// ([`reparam_backward`]), plus the KL's own ∂/∂rho.
#[allow(clippy::too_many_arguments)]
fn sample_kl_backward_unfused(
    ctx: &Context,
    mu: &Buffer,
    rho: &Buffer,
    g_w: Option<&Buffer>,
    g_kl: &Buffer,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
) -> Result<(Buffer, Buffer)> {
    let shape = [mu.len()];
    let w = unfused_draw(ctx, mu, rho, seed, offset)?;
    let (gw_kl, grho_kl) = kl_at_backward_in(ctx, &w, rho, g_kl, prior)?;
    let g_total = match g_w {
        Some(g) => binary(BinaryOp::Add, g, &shape, &gw_kl, &shape, &shape)?,
        None => gw_kl,
    };
    let (g_mu, g_rho_draw) = reparam_backward_in(ctx, rho, &g_total, seed, offset)?;
    let g_rho = binary(BinaryOp::Add, &g_rho_draw, &shape, &grho_kl, &shape, &shape)?;
    Ok((g_mu, g_rho))
}

/// [`sample_kl_forward`] that also returns what the backward needs so as not
/// to make eps and softplus again: on the CPU, where the draw is
/// compute-bound, two factors per weight (up to
/// [`MAX_KEPT_FACTORS`] weights); on a GPU None (its backward regenerates eps
/// from (seed, offset): memory is its limit).
///
/// # Errors
/// As [`sample_kl_forward`].
pub fn sample_kl_forward_saving(
    mu: &Buffer,
    rho: &Buffer,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
) -> Result<(Buffer, Buffer, Option<SampleKlFactors>)> {
    sample_kl_forward_saving_in(&Context::default(), mu, rho, seed, offset, prior)
}

/// [`sample_kl_forward_saving`] with the variants and threads of `ctx`.
///
/// # Errors
/// As [`sample_kl_forward_saving`].
pub fn sample_kl_forward_saving_in(
    ctx: &Context,
    mu: &Buffer,
    rho: &Buffer,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
) -> Result<(Buffer, Buffer, Option<SampleKlFactors>)> {
    match (mu, rho) {
        (Buffer::Cpu(m), Buffer::Cpu(r))
            if m.len() <= MAX_KEPT_FACTORS && ctx.sampler == SamplerVariant::FusedSaved =>
        {
            let n = m.len();
            let (mut w, mut a, mut b) =
                (cpu::recycle::for_overwrite(n), cpu::recycle::for_overwrite(n), cpu::recycle::for_overwrite(n));
            let kl = ctx.install(|| {
                cpu::sample_kl::forward_saving(ctx.split, m, r, seed, offset, prior, &mut w, &mut a, &mut b)
            });
            Ok((Buffer::Cpu(w), Buffer::Cpu(vec![kl]), Some(SampleKlFactors { a, b })))
        }
        _ => sample_kl_forward_in(ctx, mu, rho, seed, offset, prior).map(|(w, kl)| (w, kl, None)),
    }
}

/// Backward of [`sample_kl_forward_saving`] from the draw `w` and its kept
/// factors: (grad_mu, grad_rho), as [`sample_kl_backward`] gives them.
///
/// # Errors
/// [`Error::DeviceMismatch`] when `w`, `g_w` or `g_kl` is not on the CPU;
/// [`Error::ShapeMismatch`] when `g_kl` is not one element or the lengths differ.
pub fn sample_kl_backward_saved(
    w: &Buffer,
    factors: &SampleKlFactors,
    g_w: Option<&Buffer>,
    g_kl: &Buffer,
    prior: PriorSpec,
) -> Result<(Buffer, Buffer)> {
    sample_kl_backward_saved_in(&Context::default(), w, factors, g_w, g_kl, prior)
}

/// [`sample_kl_backward_saved`] on the threads and with the thread policy of `ctx`.
///
/// # Errors
/// As [`sample_kl_backward_saved`].
pub fn sample_kl_backward_saved_in(
    ctx: &Context,
    w: &Buffer,
    factors: &SampleKlFactors,
    g_w: Option<&Buffer>,
    g_kl: &Buffer,
    prior: PriorSpec,
) -> Result<(Buffer, Buffer)> {
    const OP: &str = "sample_kl_backward_saved";
    let (wv, gk) = (w.as_cpu(OP)?, cpu_scalar(OP, g_kl.as_cpu(OP)?)?);
    let g = g_w.map(|b| b.as_cpu(OP)).transpose()?;
    let n = wv.len();
    let other = [Some(factors.a.len()), g.map(<[f32]>::len)].into_iter().flatten().find(|&l| l != n);
    if let Some(len) = other {
        return Err(Error::ShapeMismatch { op: "sample_kl_backward_saved", lhs: vec![n], rhs: vec![len] });
    }
    let (mut gm, mut gr) = (cpu::recycle::for_overwrite(n), cpu::recycle::for_overwrite(n));
    ctx.install(|| {
        cpu::sample_kl::backward_saved(ctx.split, wv, &factors.a, &factors.b, g, gk, prior, &mut gm, &mut gr)
    });
    Ok((Buffer::Cpu(gm), Buffer::Cpu(gr)))
}

/// The one value of a host ∂L/∂kl.
fn cpu_scalar(op: &'static str, g: &[f32]) -> Result<f32> {
    match g {
        [v] => Ok(*v),
        _ => Err(Error::ShapeMismatch { op, lhs: vec![1], rhs: vec![g.len()] }),
    }
}

/// Σ[log q(w) − log p(w)] (one element) for weights drawn by [`reparam_forward`]
/// with the same (seed, offset).
///
/// # Errors
/// Operands on different devices; CUDA failures.
pub fn kl_at(w: &Buffer, rho: &Buffer, seed: u64, offset: u64, prior: PriorSpec) -> Result<Buffer> {
    kl_at_in(&Context::default(), w, rho, seed, offset, prior)
}

/// [`kl_at`] with the variants and threads of `ctx`.
///
/// # Errors
/// As [`kl_at`].
pub fn kl_at_in(ctx: &Context, w: &Buffer, rho: &Buffer, seed: u64, offset: u64, prior: PriorSpec) -> Result<Buffer> {
    match (w, rho) {
        (Buffer::Cpu(x), Buffer::Cpu(r)) => {
            Ok(Buffer::Cpu(vec![ctx.install(|| cpu::sample_kl::kl_at(ctx.split, x, r, seed, offset, prior))]))
        }
        (Buffer::Cuda(x), Buffer::Cuda(r)) => cuda::kl_at(ctx.gpu_sampler, x, r, seed, offset, prior).map(Buffer::Cuda),
        _ => Err(mismatch("kl_at", w, rho)),
    }
}

/// Backward of [`kl_at`]: (grad_w, grad_rho) for ∂L/∂kl = `g_kl` (one element).
///
/// # Errors
/// Operands on different devices; `g_kl` not one element; CUDA failures.
pub fn kl_at_backward(w: &Buffer, rho: &Buffer, g_kl: &Buffer, prior: PriorSpec) -> Result<(Buffer, Buffer)> {
    kl_at_backward_in(&Context::default(), w, rho, g_kl, prior)
}

/// [`kl_at_backward`] with the variants and threads of `ctx`.
///
/// # Errors
/// As [`kl_at_backward`].
pub fn kl_at_backward_in(
    ctx: &Context,
    w: &Buffer,
    rho: &Buffer,
    g_kl: &Buffer,
    prior: PriorSpec,
) -> Result<(Buffer, Buffer)> {
    match (w, rho, g_kl) {
        (Buffer::Cpu(x), Buffer::Cpu(r), Buffer::Cpu(gk)) => {
            let gk = cpu_scalar("kl_at_backward", gk)?;
            let (mut gw, mut gr) = (cpu::recycle::for_overwrite(x.len()), cpu::recycle::for_overwrite(x.len()));
            ctx.install(|| cpu::sample_kl::kl_at_backward(ctx.split, x, r, gk, prior, &mut gw, &mut gr));
            Ok((Buffer::Cpu(gw), Buffer::Cpu(gr)))
        }
        (Buffer::Cuda(x), Buffer::Cuda(r), Buffer::Cuda(gk)) => {
            cuda::kl_at_backward(ctx.gpu_sampler, x, r, gk, prior).map(|(a, b)| (Buffer::Cuda(a), Buffer::Cuda(b)))
        }
        (Buffer::Cpu(_), Buffer::Cpu(_), other) | (Buffer::Cuda(_), Buffer::Cuda(_), other) => {
            Err(mismatch("kl_at", w, other))
        }
        _ => Err(mismatch("kl_at", w, rho)),
    }
}

/// One Adam step in place.
///
/// # Errors
/// [`Error::ShapeMismatch`] when the four buffers differ in length; buffers
/// on different devices; CUDA failures.
pub fn adam_step(p: &mut Buffer, m: &mut Buffer, v: &mut Buffer, g: &Buffer, h: AdamStep) -> Result<()> {
    adam_step_in(&Context::default(), p, m, v, g, h)
}

/// [`adam_step`] with the threads and split policy of `ctx`.
///
/// # Errors
/// As [`adam_step`].
pub fn adam_step_in(
    ctx: &Context,
    p: &mut Buffer,
    m: &mut Buffer,
    v: &mut Buffer,
    g: &Buffer,
    h: AdamStep,
) -> Result<()> {
    if [m.len(), v.len(), g.len()].iter().any(|&l| l != p.len()) {
        return Err(Error::ShapeMismatch { op: "adam", lhs: vec![p.len()], rhs: vec![m.len(), v.len(), g.len()] });
    }
    match (p, m, v, g) {
        (Buffer::Cpu(p), Buffer::Cpu(m), Buffer::Cpu(v), Buffer::Cpu(g)) => {
            ctx.install(|| cpu::optim::adam(ctx.split, p, m, v, g, h));
            Ok(())
        }
        (Buffer::Cuda(p), Buffer::Cuda(m), Buffer::Cuda(v), Buffer::Cuda(g)) => cuda::adam_step(p, m, v, g, h),
        (p, _, _, g) => Err(mismatch("adam", p, g)),
    }
}

/// One SGD (momentum, weight decay) step in place.
///
/// # Errors
/// Buffers on different devices; CUDA failures.
pub fn sgd_step(p: &mut Buffer, buf: &mut Buffer, g: &Buffer, lr: f32, momentum: f32, weight_decay: f32) -> Result<()> {
    sgd_step_in(&Context::default(), p, buf, g, lr, momentum, weight_decay)
}

/// [`sgd_step`] with the threads of `ctx`.
///
/// # Errors
/// As [`sgd_step`].
pub fn sgd_step_in(
    ctx: &Context,
    p: &mut Buffer,
    buf: &mut Buffer,
    g: &Buffer,
    lr: f32,
    momentum: f32,
    weight_decay: f32,
) -> Result<()> {
    match (p, buf, g) {
        (Buffer::Cpu(p), Buffer::Cpu(b), Buffer::Cpu(g)) => {
            ctx.install(|| cpu::optim::sgd(p, b, g, lr, momentum, weight_decay));
            Ok(())
        }
        (Buffer::Cuda(p), Buffer::Cuda(b), Buffer::Cuda(g)) => cuda::sgd_step(p, b, g, lr, momentum, weight_decay),
        (p, _, g) => Err(mismatch("sgd", p, g)),
    }
}

/// x ← s·x in place.
///
/// # Errors
/// CUDA failures only.
pub fn scale_inplace(x: &mut Buffer, s: f32) -> Result<()> {
    scale_inplace_in(&Context::default(), x, s)
}

/// [`scale_inplace`] with the threads and split policy of `ctx`.
///
/// # Errors
/// As [`scale_inplace`].
pub fn scale_inplace_in(ctx: &Context, x: &mut Buffer, s: f32) -> Result<()> {
    match x {
        Buffer::Cpu(x) => {
            ctx.install(|| cpu::optim::scale(ctx.split, x, s));
            Ok(())
        }
        Buffer::Cuda(x) => cuda::scale_inplace(x, s),
    }
}

/// Whether every element is finite (no NaN, no infinity): input checks.
/// For many buffers at once use [`first_non_finite`].
///
/// # Errors
/// CUDA failures only.
pub fn all_finite(x: &Buffer) -> Result<bool> {
    Ok(first_non_finite(&[x])?.is_none())
}

/// The lowest index of a buffer holding a NaN or an infinity, if any: the
/// optimizers' guard over all gradients of a step. GPU buffers are reduced
/// on their device and read back together, one synchronisation per device
/// (see [`sum_squares_many`]), not one each.
///
/// # Errors
/// CUDA failures only.
pub fn first_non_finite(xs: &[&Buffer]) -> Result<Option<usize>> {
    first_non_finite_in(&Context::default(), xs)
}

/// [`first_non_finite`] with the threads and split policy of `ctx`.
///
/// # Errors
/// As [`first_non_finite`].
pub fn first_non_finite_in(ctx: &Context, xs: &[&Buffer]) -> Result<Option<usize>> {
    let mut first: Option<usize> = None;
    let mut gpu: Vec<(usize, &cuda::CudaBuffer)> = Vec::new();
    for (i, x) in xs.iter().enumerate() {
        match x {
            Buffer::Cpu(v) if first.is_none() && !ctx.install(|| cpu::optim::all_finite(ctx.split, v)) => {
                first = Some(i)
            }
            Buffer::Cpu(_) => {}
            Buffer::Cuda(c) => gpu.push((i, c)),
        }
    }
    let gpu_bufs: Vec<&Buffer> = gpu.iter().map(|&(i, _)| xs[i]).collect();
    // Σx² in f64 is finite exactly when every element is (f32::MAX² ≈ 1e77).
    let sums = sum_squares_many(&gpu_bufs)?;
    if let Some(k) = sums.iter().position(|s| !s.is_finite()) {
        first = Some(first.map_or(gpu[k].0, |f| f.min(gpu[k].0)));
    }
    Ok(first)
}

/// Σ x² in f64 of each buffer. GPU buffers are reduced on their device and
/// read back together: one synchronisation per device, not one per buffer
/// (gradient clipping and the optimizers' guard read every gradient).
///
/// # Errors
/// CUDA failures only.
pub fn sum_squares_many(xs: &[&Buffer]) -> Result<Vec<f64>> {
    let mut out = vec![0f64; xs.len()];
    let mut gpu: Vec<(usize, &cuda::CudaBuffer)> = Vec::new();
    for (i, x) in xs.iter().enumerate() {
        match x {
            Buffer::Cpu(v) => out[i] = cpu::optim::sum_squares(v),
            Buffer::Cuda(c) => gpu.push((i, c)),
        }
    }
    while let Some(&(_, head)) = gpu.first() {
        let device = head.device();
        let (here, rest): (Vec<_>, Vec<_>) = gpu.into_iter().partition(|(_, c)| c.device() == device);
        let bufs: Vec<&cuda::CudaBuffer> = here.iter().map(|&(_, c)| c).collect();
        for (&(i, _), s) in here.iter().zip(cuda::sum_squares_many(&bufs)?) {
            out[i] = s;
        }
        gpu = rest;
    }
    Ok(out)
}

/// Σ x² in f64 of one buffer, read back to the host (one synchronisation;
/// for several buffers [`sum_squares_many`] takes one in all).
///
/// # Errors
/// CUDA failures only.
pub fn sum_squares(x: &Buffer) -> Result<f64> {
    match x {
        Buffer::Cpu(x) => Ok(cpu::optim::sum_squares(x)),
        Buffer::Cuda(x) => cuda::sum_squares(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ThreadSplit;

    #[test]
    fn first_non_finite_gives_the_lowest_bad_index() {
        let ok = Buffer::Cpu(vec![1.0, -2.0]);
        let (nan, inf) = (Buffer::Cpu(vec![0.0, f32::NAN]), Buffer::Cpu(vec![f32::NEG_INFINITY]));
        assert_eq!(first_non_finite(&[]).unwrap(), None);
        assert_eq!(first_non_finite(&[&ok, &ok]).unwrap(), None);
        assert_eq!(first_non_finite(&[&ok, &inf, &nan]).unwrap(), Some(1));
        assert_eq!(first_non_finite(&[&nan, &ok, &inf]).unwrap(), Some(0));
    }

    #[test]
    fn the_kept_factors_give_the_regenerating_backward_and_check_their_inputs() {
        let n = 1000;
        let mu = Buffer::Cpu((0..n).map(|i| 0.01 * (i % 17) as f32 - 0.08).collect());
        let rho = Buffer::Cpu((0..n).map(|i| -6.0 + 0.004 * i as f32).collect());
        let g_w = Buffer::Cpu(vec![0.5; n]);
        let g_kl = Buffer::Cpu(vec![0.25]);
        let prior = PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.002 };
        let (w, kl, factors) = sample_kl_forward_saving(&mu, &rho, 9, 4, prior).unwrap();
        let (w0, kl0) = sample_kl_forward(&mu, &rho, 9, 4, prior).unwrap();
        assert_eq!((w.to_vec().unwrap(), kl.to_vec().unwrap()), (w0.to_vec().unwrap(), kl0.to_vec().unwrap()));
        let factors = factors.expect("the CPU keeps its factors");
        let (gm, gr) = sample_kl_backward_saved(&w, &factors, Some(&g_w), &g_kl, prior).unwrap();
        let (gm0, gr0) = sample_kl_backward(&mu, &rho, Some(&g_w), &g_kl, 9, 4, prior).unwrap();
        assert_eq!(gm.to_vec().unwrap(), gm0.to_vec().unwrap());
        assert_eq!(gr.to_vec().unwrap(), gr0.to_vec().unwrap());
        let short = Buffer::Cpu(vec![0.5; n - 1]);
        let bad = sample_kl_backward_saved(&w, &factors, Some(&short), &g_kl, prior);
        assert!(matches!(bad, Err(Error::ShapeMismatch { rhs, .. }) if rhs == vec![n - 1]));
        let two = Buffer::Cpu(vec![1.0, 2.0]);
        assert!(matches!(sample_kl_backward_saved(&w, &factors, None, &two, prior), Err(Error::ShapeMismatch { .. })));
        // Past the cap the draw keeps nothing (its backward regenerates).
        let big = Buffer::Cpu(vec![-5.0; MAX_KEPT_FACTORS + 1]);
        assert!(sample_kl_forward_saving(&big, &big, 1, 0, prior).unwrap().2.is_none());
    }

    type Probe = Box<dyn Fn(&Context, usize) + Sync>;

    fn ramp(n: usize) -> Buffer {
        Buffer::Cpu((0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.01).collect())
    }

    fn neg(n: usize) -> Buffer {
        Buffer::Cpu(vec![-4.0; n])
    }

    /// Every CPU entry point that can split a loop, as (name, a call on `n`
    /// elements, a size between the eager and the default thresholds, a size
    /// above the default).
    fn split_probes() -> Vec<(&'static str, Probe, (usize, usize))> {
        let prior = PriorSpec::Gaussian { sigma: 0.3 };
        let one = || Buffer::Cpu(vec![0.5]);
        let (elem, kl) = ((20_000, 100_000), (6_000, 20_000));
        // 2×2 max pooling of n/64 planes of 16×16: n outputs.
        let pool = |n: usize| crate::types::PoolGeom {
            planes: n / 64,
            input: [16, 16, 1],
            kernel: [2, 2, 1],
            stride: [2, 2, 1],
            padding: [0; 3],
        };
        let adam = AdamStep { step_size: 1e-3, beta1: 0.9, beta2: 0.999, eps_hat: 1e-8, weight_decay: 0.0 };
        vec![
            ("unary", Box::new(move |c, n| drop(unary_in(c, UnaryOp::Exp, &ramp(n)))), elem),
            (
                "unary_backward",
                Box::new(move |c, n| drop(unary_backward_in(c, UnaryOp::Relu, &ramp(n), &ramp(n), &ramp(n)))),
                elem,
            ),
            ("scalar", Box::new(move |c, n| drop(scalar_in(c, ScalarOp::Mul(2.0), &ramp(n)))), elem),
            (
                "scalar_backward",
                Box::new(move |c, n| drop(scalar_backward_in(c, ScalarOp::Pow(2.0), &ramp(n), &ramp(n)))),
                elem,
            ),
            (
                "binary",
                Box::new(move |c, n| drop(binary_in(c, BinaryOp::Mul, &ramp(n), &[n], &ramp(n), &[n], &[n]))),
                elem,
            ),
            (
                "binary_backward",
                Box::new(move |c, n| {
                    drop(binary_backward_in(
                        c,
                        BinaryOp::Mul,
                        &ramp(n),
                        &[n],
                        &ramp(1),
                        &[1],
                        &ramp(n),
                        &[n],
                        (false, true),
                    ))
                }),
                elem,
            ),
            ("add_rows", Box::new(move |c, n| drop(add_rows_in(c, &mut ramp(n), &ramp(50)))), elem),
            ("sum_all", Box::new(move |c, n| drop(sum_all_in(c, &ramp(n)))), elem),
            ("sum_to_shape", Box::new(move |c, n| drop(sum_to_shape_in(c, &ramp(n), &[n], &[1]))), elem),
            ("normal", Box::new(move |c, n| drop(normal_in(c, Device::Cpu, 1, 0, n))), elem),
            ("reparam_forward", Box::new(move |c, n| drop(reparam_forward_in(c, &ramp(n), &neg(n), 1, 0))), elem),
            (
                "reparam_forward_sigma",
                Box::new(move |c, n| drop(reparam_forward_sigma_in(c, &ramp(n), &ramp(n), 1, 0))),
                elem,
            ),
            ("reparam_backward", Box::new(move |c, n| drop(reparam_backward_in(c, &neg(n), &ramp(n), 1, 0))), elem),
            ("reparam_log_posterior", Box::new(move |c, n| drop(reparam_log_posterior_in(c, &neg(n), 1, 0))), elem),
            (
                "sample_kl_forward",
                Box::new(move |c, n| drop(sample_kl_forward_in(c, &ramp(n), &neg(n), 1, 0, prior))),
                kl,
            ),
            (
                "sample_kl_backward",
                Box::new(move |c, n| {
                    drop(sample_kl_backward_in(c, &ramp(n), &neg(n), Some(&ramp(n)), &one(), 1, 0, prior))
                }),
                kl,
            ),
            (
                "sample_kl_saved",
                Box::new(move |c, n| {
                    let (w, _, f) = sample_kl_forward_saving_in(c, &ramp(n), &neg(n), 1, 0, prior).unwrap();
                    drop(sample_kl_backward_saved_in(c, &w, &f.unwrap(), None, &one(), prior));
                }),
                kl,
            ),
            ("kl_at", Box::new(move |c, n| drop(kl_at_in(c, &ramp(n), &neg(n), 1, 0, prior))), kl),
            ("kl_at_backward", Box::new(move |c, n| drop(kl_at_backward_in(c, &ramp(n), &neg(n), &one(), prior))), kl),
            // m·k·n: 20·200·130 (below 2²²) and 170·200·130.
            (
                "gemm",
                Box::new(move |c, n| drop(gemm_in(c, &ramp(n * 200), &ramp(200 * 130), 1, n, 200, 130, Transpose::NN))),
                (20, 170),
            ),
            (
                "max_pool_forward",
                Box::new(move |c, n| {
                    drop(crate::ops_conv::max_pool_forward_in(c, &ramp(pool(n).input_len()), &pool(n)))
                }),
                elem,
            ),
            (
                "avg_pool_forward",
                Box::new(move |c, n| {
                    drop(crate::ops_conv::avg_pool_forward_in(c, &ramp(pool(n).input_len()), &pool(n)))
                }),
                elem,
            ),
            (
                "adam_step",
                Box::new(move |c, n| {
                    drop(adam_step_in(c, &mut ramp(n), &mut ramp(n), &mut Buffer::Cpu(vec![0.1; n]), &ramp(n), adam))
                }),
                elem,
            ),
            ("scale_inplace", Box::new(move |c, n| drop(scale_inplace_in(c, &mut ramp(n), 0.5))), elem),
            ("first_non_finite", Box::new(move |c, n| drop(first_non_finite_in(c, &[&ramp(n)]))), elem),
        ]
    }

    /// Every CPU kernel behind an `*_in` entry point takes its split decisions
    /// from the context: on a two-thread pool, with inputs between the eager
    /// and the default thresholds only `ThreadSplit::eager()` splits, and above the
    /// default ones `ThreadSplit::sequential()` never does (split decisions counted
    /// on the calling thread: `cpu::parallel::splits`).
    #[test]
    fn the_split_policy_reaches_every_cpu_kernel() {
        use crate::context::{ConvVariant, Threads};
        use crate::cpu::parallel::splits_so_far;
        use crate::types::ConvGeom;
        let v = ramp;
        let threads = Threads::fixed(2).unwrap();
        let with = |split: ThreadSplit| Context { threads: threads.clone(), split, ..Context::default() };
        let (seq, def, eager) =
            (with(ThreadSplit::sequential()), with(ThreadSplit::default()), with(ThreadSplit::eager()));
        let ops = split_probes();
        let count = |c: &Context, op: &Probe, n: usize| {
            c.install(|| {
                let before = splits_so_far();
                op(c, n);
                splits_so_far() - before
            })
        };
        for (name, op, (mid, large)) in &ops {
            assert_eq!(count(&def, op, *mid), 0, "{name}: the default splits {mid}");
            assert!(count(&eager, op, *mid) > 0, "{name}: eager does not split {mid}");
            assert!(count(&def, op, *large) > 0, "{name}: the default does not split {large}");
            assert_eq!(count(&seq, op, *large), 0, "{name}: sequential splits {large}");
        }
        // Convolution, both CPU paths: one small image, and a batch above 2²⁰ multiply-adds.
        let small = ConvGeom::plain_2d(1, 3, 8, [20, 20], [3, 3]);
        let large = ConvGeom::plain_2d(16, 1, 6, [28, 28], [5, 5]);
        for variant in [ConvVariant::Direct, ConvVariant::Im2col] {
            let conv = |c: &Context, g: &ConvGeom| {
                let c = Context { conv: variant, ..c.clone() };
                let (x, w, gy) = (v(g.input_len()), v(g.weight_len()), v(g.output_len()));
                c.install(|| {
                    let before = splits_so_far();
                    crate::ops_conv::conv_forward_in(&c, &x, &w, None, g).unwrap();
                    crate::ops_conv::conv_backward_in(&c, &x, &w, &gy, g, (true, true, true)).unwrap();
                    splits_so_far() - before
                })
            };
            assert!(conv(&eager, &small) > 0, "{variant:?}: eager does not split the small convolution");
            assert!(conv(&def, &large) > 0, "{variant:?}: the default does not split the large convolution");
            assert_eq!(conv(&seq, &large), 0, "{variant:?}: sequential splits");
        }
    }

    /// Every CPU entry point runs its kernel on the context's threads, not on
    /// rayon's global pool: called from the test's own thread (no `install`
    /// around it) with a pool of a size no other test uses, each op's split
    /// is counted on a pool of that size.
    #[test]
    fn every_cpu_entry_point_runs_on_the_context_threads() {
        use crate::context::Threads;
        use crate::cpu::parallel::splits_on_pools_of;
        let size = rayon::current_num_threads() + 5;
        let ctx = Context { threads: Threads::fixed(size).unwrap(), split: ThreadSplit::eager(), ..Context::default() };
        for (name, op, (mid, _)) in split_probes() {
            let before = splits_on_pools_of(size);
            op(&ctx, mid);
            assert!(splits_on_pools_of(size) > before, "{name} did not run on the context's pool");
        }
        let g = crate::types::ConvGeom::plain_2d(2, 3, 8, [20, 20], [3, 3]);
        let before = splits_on_pools_of(size);
        crate::ops_conv::conv_forward_in(&ctx, &ramp(g.input_len()), &ramp(g.weight_len()), None, &g).unwrap();
        assert!(splits_on_pools_of(size) > before, "conv_forward did not run on the context's pool");
        let before = splits_on_pools_of(size);
        let pool = crate::types::PoolGeom {
            planes: 400,
            input: [16, 16, 1],
            kernel: [2, 2, 1],
            stride: [2, 2, 1],
            padding: [0; 3],
        };
        crate::ops_conv::max_pool_backward_in(&ctx, &ramp(400 * 256), &ramp(400 * 64), &pool).unwrap();
        crate::ops_conv::avg_pool_backward_in(&ctx, &ramp(400 * 64), &pool).unwrap();
        assert!(splits_on_pools_of(size) >= before + 2, "a pooling backward did not run on the context's pool");
    }

    #[test]
    fn expand_axis_repeats_rows_and_fills_scalars() {
        let g = Buffer::Cpu(vec![1.0, 2.0, 3.0, 4.0]);
        // (outer 2, len 3, inner 2): each pair repeated three times.
        let e = expand_axis(&g, 2, 3, 2).unwrap().to_vec().unwrap();
        assert_eq!(e, vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0, 3.0, 4.0]);
        // inner 1 (a sum's backward): a fill per outer element.
        assert_eq!(expand_axis(&g, 4, 2, 1).unwrap().to_vec().unwrap(), vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0]);
        assert_eq!(expand_axis(&g, 4, 0, 1).unwrap().to_vec().unwrap(), Vec::<f32>::new());
        assert!(matches!(expand_axis(&g, 3, 2, 1), Err(Error::ShapeMismatch { .. })));
    }
}
