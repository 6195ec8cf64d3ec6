//! The sampler variants composed of other kernels: the unfused draw
//! ([`crate::context::SamplerVariant::Unfused`]: normals, softplus, product and sum, each its
//! own kernel) and the reference ([`crate::context::SamplerVariant::Reference`]: the scalar
//! loops of [`crate::reference::reparam`]).

use super::{cpu_scalar, kl_at_backward_in, kl_at_in, normal_in, reparam_backward_in};
use crate::context::Context;
use crate::ops::{binary_in, mismatch, unary_in};
use crate::types::{BinaryOp, PriorSpec, UnaryOp};
use crate::{Buffer, Error, Result};

/// The unfused draw ([`crate::context::SamplerVariant::Unfused`]): the normals, softplus, a
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
    let sigma = unary_in(ctx, UnaryOp::Softplus, rho)?;
    let scaled = binary_in(ctx, BinaryOp::Mul, &sigma, &shape, &eps, &shape, &shape)?;
    binary_in(ctx, BinaryOp::Add, mu, &shape, &scaled, &shape, &shape)
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

/// [`sample_kl_forward_in`] on [`crate::context::SamplerVariant::Reference`]: the scalar loops
/// of [`reference::reparam`](crate::reference::reparam).
pub(super) fn sample_kl_forward_reference(
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

/// [`sample_kl_backward_in`] on [`crate::context::SamplerVariant::Reference`]: the draw's
/// gradient and the KL's, each from its scalar loop, added.
pub(super) fn sample_kl_backward_reference(
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

/// [`sample_kl_forward_in`] unfused: the draw, then the KL of the drawn weights ([`kl_at_in`]).
pub(super) fn sample_kl_forward_unfused(
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

/// [`sample_kl_backward_in`] unfused: the KL's gradients at the drawn weights
/// ([`kl_at_backward_in`]), added to ∂L/∂w, through the draw's backward
/// ([`reparam_backward_in`]), plus the KL's own ∂/∂rho.
#[allow(clippy::too_many_arguments)]
pub(super) fn sample_kl_backward_unfused(
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
        Some(g) => binary_in(ctx, BinaryOp::Add, g, &shape, &gw_kl, &shape, &shape)?,
        None => gw_kl,
    };
    let (g_mu, g_rho_draw) = reparam_backward_in(ctx, rho, &g_total, seed, offset)?;
    let g_rho = binary_in(ctx, BinaryOp::Add, &g_rho_draw, &shape, &grho_kl, &shape, &shape)?;
    Ok((g_mu, g_rho))
}
