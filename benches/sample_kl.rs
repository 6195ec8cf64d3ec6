//! One weight draw + its Monte Carlo KL (scale-mixture prior 0.5, 1, 0.002) on
//! 4M parameters, forward and backward, three ways: the fused op (one pass
//! forward, one backward), the draw followed by the one-pass KL of given
//! weights (`kl_at`), and the unfused tape graph (log-posterior op minus the
//! prior's log-density built from element-wise ops). Also the vectorised
//! `fastmath` functions against the standard library's on the same inputs.

use blitz::kernels::context::{Context, NormalsVariant, Threads};
use blitz::kernels::{fastmath, ops, Buffer, Device, PriorSpec, UnaryOp};
use blitz::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

const N: usize = 2048 * 2048;
const PRIOR: PriorSpec = PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.002 };

fn bench_sample_kl(c: &mut Criterion) {
    let mu = Param::new("mu", Tensor::full(&[N], 0.01).unwrap());
    let rho = Param::new("rho", Tensor::full(&[N], -7.0).unwrap());
    let prior = ScaleMixture::new(0.5, 1.0, 0.002).unwrap();
    let mut group = c.benchmark_group("sample_kl_4M_fwd_bwd");
    group.sample_size(10);
    group.bench_function("fused_sample_with_kl", |b| {
        b.iter(|| {
            let tape = Tape::new(0);
            let (seed, off) = tape.draw(N);
            let (w, kl) = tape.param(&mu).sample_with_kl(&tape.param(&rho), seed, off, PRIOR).unwrap();
            tape.backward(&kl.add(&w.sum().unwrap()).unwrap()).unwrap()
        })
    });
    group.bench_function("reparam_then_kl_at", |b| {
        b.iter(|| {
            let tape = Tape::new(0);
            let (seed, off) = tape.draw(N);
            let r = tape.param(&rho);
            let w = tape.param(&mu).reparam_sample(&r, seed, off).unwrap();
            let kl = w.kl_at(&r, seed, off, PRIOR).unwrap();
            tape.backward(&kl.add(&w.sum().unwrap()).unwrap()).unwrap()
        })
    });
    group.bench_function("unfused_tape_ops", |b| {
        b.iter(|| {
            let tape = Tape::new(0);
            let (seed, off) = tape.draw(N);
            let r = tape.param(&rho);
            let w = tape.param(&mu).reparam_sample(&r, seed, off).unwrap();
            let kl = r.reparam_log_posterior(seed, off).unwrap().sub(&prior.log_prob(&w).unwrap()).unwrap();
            tape.backward(&kl.add(&w.sum().unwrap()).unwrap()).unwrap()
        })
    });
    group.finish();

    // The fused kernel's two CPU backwards: regenerate eps and softplus from
    // (seed, offset), or read the two factors the forward kept.
    let (mu_h, rho_h, g_w) =
        (Buffer::Cpu(vec![0.01f32; N]), Buffer::Cpu(vec![-7.0f32; N]), Buffer::Cpu(vec![1.0f32; N]));
    let g_kl = Buffer::Cpu(vec![1.0]);
    let ctx = Context::default();
    let mut group = c.benchmark_group("sample_kl_4M_kernels");
    group.sample_size(10);
    group.bench_function("forward_then_regenerating_backward", |bch| {
        bch.iter(|| {
            let (_, kl) = ops::sample_kl_forward_in(&ctx, &mu_h, &rho_h, 7, 0, PRIOR).unwrap();
            ops::sample_kl_backward_in(&ctx, &mu_h, &rho_h, Some(&g_w), &g_kl, 7, 0, PRIOR).unwrap();
            kl
        })
    });
    group.bench_function("forward_saving_then_saved_backward", |bch| {
        bch.iter(|| {
            let (w, kl, factors) = ops::sample_kl_forward_saving_in(&ctx, &mu_h, &rho_h, 7, 0, PRIOR).unwrap();
            let factors = factors.expect("the CPU keeps the factors");
            ops::sample_kl_backward_saved_in(&ctx, &w, &factors, Some(&g_w), &g_kl, PRIOR).unwrap();
            kl
        })
    });
    group.finish();
}

/// SIMD vs scalar math where it is used: the vectorised (runtime-dispatched)
/// kernels against the same loops written with the standard library.
fn bench_math(c: &mut Criterion) {
    let x: Vec<f32> = (0..1 << 16).map(|i| -10.0 + 20.0 * i as f32 / 65536.0).collect();
    let n = x.len();
    let xb = Buffer::Cpu(x.clone());
    let mut out = vec![0f32; n];
    let with = |normals| Context { normals, ..Context::default() };
    let mut group = c.benchmark_group("math_64k");
    group.bench_function("softplus_fastmath_simd", |b| {
        b.iter(|| ops::unary_in(&Context::default(), UnaryOp::Softplus, black_box(&xb)).unwrap())
    });
    group.bench_function("softplus_std_scalar", |b| {
        b.iter(|| out.iter_mut().zip(black_box(&x)).for_each(|(o, &v)| *o = v.exp().ln_1p()))
    });
    // Normals: the batched Philox + Box-Muller with vectorised ln/sin/cos, against
    // the reference variant, one normal at a time with the standard library's ln/sin/cos.
    for (name, variant) in
        [("normals_fastmath_simd", NormalsVariant::Best), ("normals_std_scalar", NormalsVariant::Reference)]
    {
        let ctx = with(variant);
        group.bench_function(name, |b| b.iter(|| ops::normal_in(&ctx, Device::Cpu, 7, 0, n).unwrap()));
    }
    // The batches on one thread: the dispatched build (AVX-512 intrinsics
    // for Philox and the interleave where the CPU has them) against the
    // portable one, compiled without target features (SSE2; each `mul_add`
    // a call to the C library's `fmaf`): what a CPU without AVX2 gets.
    for (name, variant) in [
        ("normal_batches_dispatched", NormalsVariant::Best),
        ("normal_batches_baseline_build", NormalsVariant::Portable),
    ] {
        let ctx = Context { threads: Threads::fixed(1).unwrap(), ..with(variant) };
        group.bench_function(name, |b| b.iter(|| ops::normal_in(&ctx, Device::Cpu, 7, 0, n).unwrap()));
    }
    // A prediction draw: sigma = softplus(rho) made in the loop, or given (cached).
    let mu = Buffer::Cpu(vec![0.01f32; n]);
    let sigma = Buffer::Cpu(x.iter().map(|&r| fastmath::softplus(r)).collect());
    let ctx = Context::default();
    group.bench_function("draw_through_softplus", |b| {
        b.iter(|| ops::reparam_forward_in(&ctx, &mu, black_box(&xb), 3, 0).unwrap())
    });
    group.bench_function("draw_sigma_given", |b| {
        b.iter(|| ops::reparam_forward_sigma_in(&ctx, &mu, black_box(&sigma), 3, 0).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_sample_kl, bench_math);
criterion_main!(benches);
