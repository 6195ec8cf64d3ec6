//! The GPU sampler's two maths (`SamplerMath`): `Exact` draws the CPU's bits,
//! `Fast` (the default) the same draws to within 5e-6, and both repeat
//! themselves bit for bit for a seed; both run side by side, each chosen by
//! the context it is given. Without a GPU it prints why it is skipped and passes.
#![cfg(feature = "cuda")]

use blitz_autograd::{Device, Result, Tape, Tensor, Var};
use blitz_kernels::context::{Context, SamplerMath};
use blitz_kernels::ops;
use blitz_kernels::PriorSpec;
use rand::rngs::StdRng;
use rand::SeedableRng;

const GPU: Device = Device::Cuda(0);

#[path = "../../kernels/tests/support/gpu.rs"]
mod support;
use support::gpu_or_skip;

/// Largest |a − b| / max(1, |b|) (b: the CPU's), printed for the GPU log.
fn worst_scaled_diff(what: &str, gpu: &[f32], cpu: &[f32]) -> f32 {
    assert_eq!(gpu.len(), cpu.len(), "{what}: lengths");
    let worst = gpu.iter().zip(cpu).map(|(a, b)| (a - b).abs() / b.abs().max(1.0)).fold(0f32, f32::max);
    println!("{what}: largest |gpu - cpu| / max(1, |cpu|) = {worst:.3e}");
    worst
}

/// ‖a − b‖ / ‖b‖.
fn rel_norm(a: &[f32], b: &[f32]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    let den: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    (num / den.max(1e-300)).sqrt()
}

/// Draw + KL through the tape on `device`; returns (w, kl, grad mu, grad rho)
/// of the loss Σ w·r + 1e-3·kl (r fixed, so every weight gets its own gradient).
fn draw_and_grads(
    math: SamplerMath,
    device: Device,
    mu: &Tensor,
    rho: &Tensor,
    prior: PriorSpec,
) -> Result<[Vec<f32>; 4]> {
    let tape = Tape::new(0).with_context(ctx(math));
    let (m, r) = (tape.leaf(mu.to(device)?), tape.leaf(rho.to(device)?));
    let (w, kl) = m.sample_with_kl(&r, 99, 5, prior)?;
    let weights = Tensor::rand_uniform(mu.shape(), 0.5, 1.5, &mut StdRng::seed_from_u64(3))?.to(device)?;
    let loss = w.mul(&tape.constant(weights))?.sum()?.add(&kl.mul_scalar(1e-3)?)?;
    let grads = tape.backward(&loss)?;
    let grad = |v: &Var| grads.wrt(v).expect("a gradient").to_vec();
    Ok([w.value().to_vec()?, kl.value().to_vec()?, grad(&m)?, grad(&r)?])
}

/// The default context with the GPU sampler math `math`.
fn ctx(math: SamplerMath) -> Context {
    Context { gpu_sampler: math, ..Context::default() }
}

#[test]
fn exact_math_draws_the_cpus_bits_and_fast_math_the_same_draws_within_5e_6() {
    if !gpu_or_skip("exact_math_draws_the_cpus_bits_and_fast_math_the_same_draws_within_5e_6") {
        return;
    }
    assert_eq!(Context::default().gpu_sampler, SamplerMath::Fast, "the default");

    // Plain normals: an odd length and offset, so the partial Philox blocks at both ends are hit.
    let n = (1 << 20) + 3;
    let cpu = ops::normal_in(&Context::default(), Device::Cpu, 42, 5, n).unwrap().to_vec().unwrap();
    let exact = ops::normal_in(&ctx(SamplerMath::Exact), GPU, 42, 5, n).unwrap().to_vec().unwrap();
    assert!(exact == cpu, "exact GPU normals differ from the CPU's");
    let fast = ops::normal_in(&ctx(SamplerMath::Fast), GPU, 42, 5, n).unwrap().to_vec().unwrap();
    // Normals are O(1): the bound is absolute (the hardware sin/cos is accurate to ~1e-6 absolute).
    let worst = fast.iter().zip(&cpu).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    println!("fast normals: largest |gpu - cpu| = {worst:.3e}");
    assert!(worst <= 5e-6, "fast normals differ from the exact ones by up to {worst}");
    assert!(
        fast == ops::normal_in(&Context::default(), GPU, 42, 5, n).unwrap().to_vec().unwrap(),
        "fast normals do not repeat"
    );
    let mean = fast.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
    let var = fast.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n as f64;
    println!("fast normals: mean {mean:.2e}, variance {var:.5}");
    assert!(mean.abs() < 5e-3 && (var - 1.0).abs() < 5e-3);

    // 2^26 fast normals (about four of their uniforms round to 1, where
    // sqrt(-2 ln u) = 0 must not become NaN): all finite.
    let many = ops::normal_in(&Context::default(), GPU, 7, 0, 1 << 26).unwrap().to_vec().unwrap();
    let bad = many.iter().filter(|x| !x.is_finite()).count();
    let zeros = many.iter().filter(|&&x| x == 0.0).count();
    println!("2^26 fast normals: {bad} not finite, {zeros} exactly 0");
    assert_eq!(bad, 0, "fast normals that are not finite");

    // The fused draw + KL and its gradients, both priors.
    let mu = Tensor::randn(&[64, 33], 0.0, 1.0, &mut StdRng::seed_from_u64(1)).unwrap();
    let rho = Tensor::rand_uniform(&[64, 33], -7.0, -1.0, &mut StdRng::seed_from_u64(2)).unwrap();
    for prior in [PriorSpec::Gaussian { sigma: 0.3 }, PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.002 }] {
        let cpu = draw_and_grads(SamplerMath::Exact, Device::Cpu, &mu, &rho, prior).unwrap();
        let exact = draw_and_grads(SamplerMath::Exact, GPU, &mu, &rho, prior).unwrap();
        assert!(exact[0] == cpu[0], "{prior:?}: exact GPU weights differ from the CPU's");
        let fast = draw_and_grads(SamplerMath::Fast, GPU, &mu, &rho, prior).unwrap();
        let again = draw_and_grads(SamplerMath::Fast, GPU, &mu, &rho, prior).unwrap();
        assert!(fast == again, "{prior:?}: the fast draw does not repeat");
        assert!(worst_scaled_diff(&format!("fast weights {prior:?}"), &fast[0], &cpu[0]) <= 2e-6);
        for (i, what) in [(1, "kl"), (2, "grad mu"), (3, "grad rho")] {
            let (e, f) = (rel_norm(&exact[i], &cpu[i]), rel_norm(&fast[i], &cpu[i]));
            println!("{what} {prior:?}: relative error exact {e:.3e}, fast {f:.3e}");
            assert!(e <= 1e-5 && f <= 1e-5, "{what} {prior:?}: exact {e:e}, fast {f:e}");
        }
    }
}
