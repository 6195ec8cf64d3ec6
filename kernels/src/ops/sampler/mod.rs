//! The sampler family: standard normals, the reparameterised draw, its log
//! posterior and the fused draw + Monte Carlo KL, with their backwards. This
//! file matches devices for the fused variants; the unfused and reference
//! compositions are in `compose`.

mod compose;

pub use crate::buffer::SampleKlFactors;

use super::{expect_one, expect_same_len, mismatch};
use crate::backend::Backend;
use crate::buffer::{Cpu, Gpu};
use crate::context::{Context, SamplerVariant};
use crate::shape::checked_output;
use crate::types::PriorSpec;
use crate::{Buffer, Device, Error, Result};
use compose::{
    sample_kl_backward_reference, sample_kl_backward_unfused, sample_kl_forward_reference, sample_kl_forward_unfused,
};

/// `len` standard normals named (seed, offset + i), on `device`.
///
/// Runs with the variants and threads of `ctx`.
///
/// # Errors
/// CUDA failures only.
pub fn normal_in(ctx: &Context, device: Device, seed: u64, offset: u64, len: usize) -> Result<Buffer> {
    checked_output("normal", &[len])?;
    match device {
        Device::Cpu => Cpu::normal(ctx, 0, seed, offset, len).map(Buffer::Cpu),
        Device::Cuda(ordinal) => Gpu::normal(ctx, ordinal, seed, offset, len).map(Buffer::Cuda),
    }
}

/// Fused w = mu + softplus(rho)·eps(seed, offset).
///
/// Runs with the variants and threads of `ctx`.
///
/// # Errors
/// Operands on different devices; CUDA failures.
pub fn reparam_forward_in(ctx: &Context, mu: &Buffer, rho: &Buffer, seed: u64, offset: u64) -> Result<Buffer> {
    expect_same_len("reparam", mu, &[rho])?;
    match (mu, rho) {
        (Buffer::Cpu(mu), Buffer::Cpu(rho)) => Cpu::reparam_forward(ctx, mu, rho, seed, offset).map(Buffer::Cpu),
        (Buffer::Cuda(mu), Buffer::Cuda(rho)) => Gpu::reparam_forward(ctx, mu, rho, seed, offset).map(Buffer::Cuda),
        _ => Err(mismatch("reparam", mu, rho)),
    }
}

/// w = mu + sigma·eps(seed, offset) with sigma given: on the CPU the same
/// bits as [`reparam_forward_in`] when sigma = softplus(rho). On a GPU it is
/// composed of the normal draw, a product and a sum (no fused kernel there;
/// the layers use it on the CPU only, and it has not run on a GPU yet).
///
/// Runs with the variants and threads of `ctx`.
///
/// # Errors
/// [`Error::ShapeMismatch`] when the lengths differ; operands on different
/// devices; CUDA failures.
pub fn reparam_forward_sigma_in(ctx: &Context, mu: &Buffer, sigma: &Buffer, seed: u64, offset: u64) -> Result<Buffer> {
    if mu.len() != sigma.len() {
        return Err(Error::ShapeMismatch { op: "reparam_sample_sigma", lhs: vec![mu.len()], rhs: vec![sigma.len()] });
    }
    match (mu, sigma) {
        (Buffer::Cpu(mu), Buffer::Cpu(sigma)) => {
            Cpu::reparam_forward_sigma(ctx, mu, sigma, seed, offset).map(Buffer::Cpu)
        }
        (Buffer::Cuda(mu), Buffer::Cuda(sigma)) => {
            Gpu::reparam_forward_sigma(ctx, mu, sigma, seed, offset).map(Buffer::Cuda)
        }
        _ => Err(mismatch("reparam_sample_sigma", mu, sigma)),
    }
}

/// Backward of [`reparam_forward_in`]: (grad_mu, grad_rho), eps regenerated.
///
/// Runs with the variants and threads of `ctx`.
///
/// # Errors
/// Operands on different devices; CUDA failures.
pub fn reparam_backward_in(
    ctx: &Context,
    rho: &Buffer,
    g: &Buffer,
    seed: u64,
    offset: u64,
) -> Result<(Buffer, Buffer)> {
    expect_same_len("reparam", rho, &[g])?;
    match (rho, g) {
        (Buffer::Cpu(rho), Buffer::Cpu(g)) => {
            Cpu::reparam_backward(ctx, rho, g, seed, offset).map(|(a, b)| (Buffer::Cpu(a), Buffer::Cpu(b)))
        }
        (Buffer::Cuda(rho), Buffer::Cuda(g)) => {
            Gpu::reparam_backward(ctx, rho, g, seed, offset).map(|(a, b)| (Buffer::Cuda(a), Buffer::Cuda(b)))
        }
        _ => Err(mismatch("reparam", rho, g)),
    }
}

/// Σ log N(w; mu, sigma) of the weights drawn by [`reparam_forward_in`], one element.
///
/// Runs with the variants and threads of `ctx`.
///
/// # Errors
/// CUDA failures only.
pub fn reparam_log_posterior_in(ctx: &Context, rho: &Buffer, seed: u64, offset: u64) -> Result<Buffer> {
    match rho {
        Buffer::Cpu(rho) => Cpu::reparam_log_posterior(ctx, rho, seed, offset).map(Buffer::Cpu),
        Buffer::Cuda(rho) => Gpu::reparam_log_posterior(ctx, rho, seed, offset).map(Buffer::Cuda),
    }
}

/// One fused draw and its Monte Carlo KL: (w, Σ[log q(w) − log p(w)] as one element).
///
/// Runs with the variants and threads of `ctx`.
///
/// # Errors
/// Operands on different devices; CUDA failures.
pub fn sample_kl_forward_in(
    ctx: &Context,
    mu: &Buffer,
    rho: &Buffer,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
) -> Result<(Buffer, Buffer)> {
    expect_same_len("sample_kl", mu, &[rho])?;
    match ctx.sampler {
        SamplerVariant::Unfused => return sample_kl_forward_unfused(ctx, mu, rho, seed, offset, prior),
        SamplerVariant::Reference => return ctx.install(|| sample_kl_forward_reference(mu, rho, seed, offset, prior)),
        _ => {}
    }
    match (mu, rho) {
        (Buffer::Cpu(m), Buffer::Cpu(r)) => {
            Cpu::sample_kl_forward(ctx, m, r, seed, offset, prior).map(|(w, kl)| (Buffer::Cpu(w), Buffer::Cpu(kl)))
        }
        (Buffer::Cuda(m), Buffer::Cuda(r)) => {
            Gpu::sample_kl_forward(ctx, m, r, seed, offset, prior).map(|(w, kl)| (Buffer::Cuda(w), Buffer::Cuda(kl)))
        }
        _ => Err(mismatch("sample_kl", mu, rho)),
    }
}

/// Backward of [`sample_kl_forward_in`]: (grad_mu, grad_rho) from ∂L/∂w (None when
/// L does not use w) and ∂L/∂kl (a one-element buffer, so a GPU never waits
/// for it), eps regenerated once.
///
/// Runs with the variants and threads of `ctx`.
///
/// # Errors
/// Operands on different devices; `g_kl` not one element; CUDA failures.
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
    expect_same_len("sample_kl", mu, &[rho])?;
    if let Some(g) = g_w {
        expect_same_len("sample_kl", mu, &[g])?;
    }
    expect_one("sample_kl_backward", g_kl)?;
    match ctx.sampler {
        SamplerVariant::Unfused => return sample_kl_backward_unfused(ctx, mu, rho, g_w, g_kl, seed, offset, prior),
        SamplerVariant::Reference => {
            return ctx.install(|| sample_kl_backward_reference(mu, rho, g_w, g_kl, seed, offset, prior))
        }
        _ => {}
    }
    match (mu, rho, g_kl) {
        (Buffer::Cpu(m), Buffer::Cpu(r), Buffer::Cpu(gk)) => {
            let g = match g_w {
                None => None,
                Some(Buffer::Cpu(v)) => Some(v),
                Some(other) => return Err(mismatch("sample_kl", mu, other)),
            };
            Cpu::sample_kl_backward(ctx, m, r, g, gk, seed, offset, prior)
                .map(|(a, b)| (Buffer::Cpu(a), Buffer::Cpu(b)))
        }
        (Buffer::Cuda(m), Buffer::Cuda(r), Buffer::Cuda(gk)) => {
            let g = match g_w {
                None => None,
                Some(Buffer::Cuda(c)) => Some(c),
                Some(other) => return Err(mismatch("sample_kl", mu, other)),
            };
            Gpu::sample_kl_backward(ctx, m, r, g, gk, seed, offset, prior)
                .map(|(a, b)| (Buffer::Cuda(a), Buffer::Cuda(b)))
        }
        (Buffer::Cpu(_), Buffer::Cpu(_), other) | (Buffer::Cuda(_), Buffer::Cuda(_), other) => {
            Err(mismatch("sample_kl", mu, other))
        }
        _ => Err(mismatch("sample_kl", mu, rho)),
    }
}

/// The most weights whose backward factors a CPU draw keeps (two floats each:
/// at most 32 MB extra per draw); a larger layer's backward regenerates eps
/// instead.
pub const MAX_KEPT_FACTORS: usize = 1 << 22;

/// [`sample_kl_forward_in`] that also returns what the backward needs so as not
/// to make eps and softplus again: on the CPU, where the draw is
/// compute-bound, two factors per weight (up to
/// [`MAX_KEPT_FACTORS`] weights); on a GPU None (its backward regenerates eps
/// from (seed, offset): memory is its limit).
///
/// Runs with the variants and threads of `ctx`.
///
/// # Errors
/// As [`sample_kl_forward_in`].
pub fn sample_kl_forward_saving_in(
    ctx: &Context,
    mu: &Buffer,
    rho: &Buffer,
    seed: u64,
    offset: u64,
    prior: PriorSpec,
) -> Result<(Buffer, Buffer, Option<SampleKlFactors>)> {
    expect_same_len("sample_kl", mu, &[rho])?;
    match (mu, rho) {
        (Buffer::Cpu(m), Buffer::Cpu(r))
            if m.len() <= MAX_KEPT_FACTORS && ctx.sampler == SamplerVariant::FusedSaved =>
        {
            let (w, kl, factors) = Cpu::sample_kl_forward_saving(ctx, m, r, seed, offset, prior);
            Ok((Buffer::Cpu(w), Buffer::Cpu(vec![kl]), Some(factors)))
        }
        _ => sample_kl_forward_in(ctx, mu, rho, seed, offset, prior).map(|(w, kl)| (w, kl, None)),
    }
}

/// Backward of [`sample_kl_forward_saving_in`] from the draw `w` and its kept
/// factors: (grad_mu, grad_rho), as [`sample_kl_backward_in`] gives them.
///
/// Runs on the threads and with the thread policy of `ctx`.
///
/// # Errors
/// [`Error::DeviceMismatch`] when `w`, `g_w` or `g_kl` is not on the CPU;
/// [`Error::ShapeMismatch`] when `g_kl` is not one element or the lengths differ.
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
    let other = [Some(factors.len()), g.map(<[f32]>::len)].into_iter().flatten().find(|&l| l != n);
    if let Some(len) = other {
        return Err(Error::ShapeMismatch { op: "sample_kl_backward_saved", lhs: vec![n], rhs: vec![len] });
    }
    let (gm, gr) = Cpu::sample_kl_backward_saved(ctx, wv, factors, g, gk, prior);
    Ok((Buffer::Cpu(gm), Buffer::Cpu(gr)))
}

/// The one value of a host ∂L/∂kl.
fn cpu_scalar(op: &'static str, g: &[f32]) -> Result<f32> {
    match g {
        [v] => Ok(*v),
        _ => Err(Error::ShapeMismatch { op, lhs: vec![1], rhs: vec![g.len()] }),
    }
}

/// Σ[log q(w) − log p(w)] (one element) for weights drawn by [`reparam_forward_in`]
/// with the same (seed, offset).
///
/// Runs with the variants and threads of `ctx`.
///
/// # Errors
/// Operands on different devices; CUDA failures.
pub fn kl_at_in(ctx: &Context, w: &Buffer, rho: &Buffer, seed: u64, offset: u64, prior: PriorSpec) -> Result<Buffer> {
    expect_same_len("kl_at", w, &[rho])?;
    match (w, rho) {
        (Buffer::Cpu(w), Buffer::Cpu(rho)) => Cpu::kl_at(ctx, w, rho, seed, offset, prior).map(Buffer::Cpu),
        (Buffer::Cuda(w), Buffer::Cuda(rho)) => Gpu::kl_at(ctx, w, rho, seed, offset, prior).map(Buffer::Cuda),
        _ => Err(mismatch("kl_at", w, rho)),
    }
}

/// Backward of [`kl_at_in`]: (grad_w, grad_rho) for ∂L/∂kl = `g_kl` (one element).
///
/// Runs with the variants and threads of `ctx`.
///
/// # Errors
/// Operands on different devices; `g_kl` not one element; CUDA failures.
pub fn kl_at_backward_in(
    ctx: &Context,
    w: &Buffer,
    rho: &Buffer,
    g_kl: &Buffer,
    prior: PriorSpec,
) -> Result<(Buffer, Buffer)> {
    expect_same_len("kl_at", w, &[rho])?;
    expect_one("kl_at_backward", g_kl)?;
    match (w, rho, g_kl) {
        (Buffer::Cpu(w), Buffer::Cpu(rho), Buffer::Cpu(g_kl)) => {
            Cpu::kl_at_backward(ctx, w, rho, g_kl, prior).map(|(a, b)| (Buffer::Cpu(a), Buffer::Cpu(b)))
        }
        (Buffer::Cuda(w), Buffer::Cuda(rho), Buffer::Cuda(g_kl)) => {
            Gpu::kl_at_backward(ctx, w, rho, g_kl, prior).map(|(a, b)| (Buffer::Cuda(a), Buffer::Cuda(b)))
        }
        (Buffer::Cpu(_), Buffer::Cpu(_), other) | (Buffer::Cuda(_), Buffer::Cuda(_), other) => {
            Err(mismatch("kl_at", w, other))
        }
        _ => Err(mismatch("kl_at", w, rho)),
    }
}
