//! The sampler family: standard normals, the reparameterised draw, its log
//! posterior and the fused draw + Monte Carlo KL, with their backwards. This
//! file matches devices for the fused variants; the unfused and reference
//! compositions are in `compose`.

mod compose;

use super::{binary_in, expect_one, expect_same_len, host_overwrite, mismatch};
use crate::context::{Context, NormalsVariant, SamplerVariant};
use crate::cpu;
use crate::cuda;
use crate::shape::checked_output;
use crate::types::{BinaryOp, PriorSpec};
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
/// Runs with the variants and threads of `ctx`.
///
/// # Errors
/// Operands on different devices; CUDA failures.
pub fn reparam_forward_in(ctx: &Context, mu: &Buffer, rho: &Buffer, seed: u64, offset: u64) -> Result<Buffer> {
    expect_same_len("reparam", mu, &[rho])?;
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
        (Buffer::Cpu(m), Buffer::Cpu(s)) => {
            ctx.install(|| host_overwrite(m.len(), |o| cpu::reparam::forward_sigma(ctx.split, m, s, seed, offset, o)))
        }
        (Buffer::Cuda(_), Buffer::Cuda(_)) => {
            let shape = [mu.len()];
            let eps = normal_in(ctx, mu.device(), seed, offset, mu.len())?;
            let scaled = binary_in(ctx, BinaryOp::Mul, sigma, &shape, &eps, &shape, &shape)?;
            binary_in(ctx, BinaryOp::Add, mu, &shape, &scaled, &shape, &shape)
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

/// Σ log N(w; mu, sigma) of the weights drawn by [`reparam_forward_in`], one element.
///
/// Runs with the variants and threads of `ctx`.
///
/// # Errors
/// CUDA failures only.
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
            let mut w = cpu::recycle::for_overwrite(m.len());
            let kl = ctx.install(|| cpu::sample_kl::forward(ctx.split, m, r, seed, offset, prior, &mut w));
            Ok((Buffer::Cpu(w), Buffer::Cpu(vec![kl])))
        }
        (Buffer::Cuda(m), Buffer::Cuda(r)) => cuda::sample_kl_forward(ctx.gpu_sampler, m, r, seed, offset, prior)
            .map(|(w, kl)| (Buffer::Cuda(w), Buffer::Cuda(kl))),
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
/// [`sample_kl_forward_saving_in`] (two host buffers as long as the draw).
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
        (Buffer::Cpu(x), Buffer::Cpu(r)) => {
            Ok(Buffer::Cpu(vec![ctx.install(|| cpu::sample_kl::kl_at(ctx.split, x, r, seed, offset, prior))]))
        }
        (Buffer::Cuda(x), Buffer::Cuda(r)) => cuda::kl_at(ctx.gpu_sampler, x, r, seed, offset, prior).map(Buffer::Cuda),
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
