//! What the fused sampler + KL spends per weight, part by part: the standard
//! normals alone, softplus alone, the fused draw + KL with a Gaussian prior,
//! with BLiTZ's scale-mixture prior, and with the backward's factors kept.
//! Each at a size that stays in cache (64k weights) and at 4M, on one
//! thread and on two. A loop bound by memory would run faster in cache and
//! gain little from a second thread; one bound by arithmetic does neither:
//! this is the measured cause behind the `sample_kl_4M` rows of
//! BENCHMARKS.md ("Where the time goes").
//!
//! ```text
//! cargo run --release --example sampler_costs
//! ```
//! One JSON line per (threads, weights): nanoseconds per weight, medians.

#[path = "common/timing.rs"]
mod timing;

use blitz::kernels::context::{Context, SamplerVariant, Threads};
use blitz::kernels::{ops, Buffer, Device, PriorSpec, UnaryOp};

/// The median wall time of `reps` calls of `f`, after one unmeasured call.
fn median_s(reps: usize, f: impl FnMut() -> blitz::kernels::Result<()>) -> blitz::kernels::Result<f64> {
    timing::median_s(reps, 1, f, || Ok(()))
}

fn run() -> blitz::kernels::Result<()> {
    let gaussian = PriorSpec::Gaussian { sigma: 1.0 };
    let mixture = PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.002 };
    for threads in [1usize, 2] {
        for n in [1usize << 16, 1 << 22] {
            let ctx = Context {
                threads: Threads::fixed(threads)?,
                sampler: SamplerVariant::FusedRegenerate,
                ..Context::default()
            };
            let saving = Context { sampler: SamplerVariant::FusedSaved, ..ctx.clone() };
            let mu = Buffer::from_host(vec![0.01; n], Device::Cpu)?;
            let rho = Buffer::from_host(vec![-3.0; n], Device::Cpu)?;
            let reps = if n > 1 << 20 { 15 } else { 301 };
            let ns = |s: f64| s / n as f64 * 1e9;
            let normals = median_s(reps, || ops::normal_in(&ctx, Device::Cpu, 1, 0, n).map(drop))?;
            let softplus = median_s(reps, || ops::unary_in(&ctx, UnaryOp::Softplus, &rho).map(drop))?;
            let fused_gaussian =
                median_s(reps, || ops::sample_kl_forward_in(&ctx, &mu, &rho, 1, 0, gaussian).map(drop))?;
            let fused_mixture = median_s(reps, || ops::sample_kl_forward_in(&ctx, &mu, &rho, 1, 0, mixture).map(drop))?;
            let fused_saving =
                median_s(reps, || ops::sample_kl_forward_saving_in(&saving, &mu, &rho, 1, 0, mixture).map(drop))?;
            println!(
                "{{\"threads\": {threads}, \"weights\": {n}, \"ns_per_weight\": {{\"normals\": {:.3}, \"softplus\": {:.3}, \"fused_gaussian_prior\": {:.3}, \"fused_scale_mixture\": {:.3}, \"fused_scale_mixture_keeping_factors\": {:.3}}}}}",
                ns(normals),
                ns(softplus),
                ns(fused_gaussian),
                ns(fused_mixture),
                ns(fused_saving)
            );
        }
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
