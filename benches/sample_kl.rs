//! One weight draw + its Monte Carlo KL (scale-mixture prior 0.5, 1, 0.002) on
//! 4M parameters, forward and backward, three ways: the fused op (one pass
//! forward, one backward), the draw followed by the one-pass KL of given
//! weights (`kl_at`), and the unfused tape graph (log-posterior op minus the
//! prior's log-density built from element-wise ops). Also the vectorised
//! `fastmath` functions against the standard library's on the same inputs.

use blitz::kernels::context::Split;
use blitz::kernels::cpu::{fastmath, random, reparam, sample_kl, unary};
use blitz::kernels::PriorSpec;
use blitz::kernels::UnaryOp;
use blitz::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

const N: usize = 2048 * 2048;
const PRIOR: PriorSpec = PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.002 };

fn bench_sample_kl(c: &mut Criterion) {
    let mu = Param::new("mu", Tensor::full(&[N], 0.01));
    let rho = Param::new("rho", Tensor::full(&[N], -7.0));
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

    // The fused kernel's two CPU backwards, on raw slices: regenerate eps and
    // softplus from (seed, offset), or read the two factors the forward kept.
    let (mu_h, rho_h, g_w) = (vec![0.01f32; N], vec![-7.0f32; N], vec![1.0f32; N]);
    let (mut w, mut a, mut b2, mut gm, mut gr) =
        (vec![0f32; N], vec![0f32; N], vec![0f32; N], vec![0f32; N], vec![0f32; N]);
    let mut group = c.benchmark_group("sample_kl_4M_kernels");
    group.sample_size(10);
    group.bench_function("forward_then_regenerating_backward", |bch| {
        bch.iter(|| {
            let kl = sample_kl::forward(Split::default(), &mu_h, &rho_h, 7, 0, PRIOR, &mut w);
            sample_kl::backward(Split::default(), &mu_h, &rho_h, Some(&g_w), 1.0, 7, 0, PRIOR, &mut gm, &mut gr);
            kl
        })
    });
    group.bench_function("forward_saving_then_saved_backward", |bch| {
        bch.iter(|| {
            let kl = sample_kl::forward_saving(Split::default(), &mu_h, &rho_h, 7, 0, PRIOR, &mut w, &mut a, &mut b2);
            sample_kl::backward_saved(Split::default(), &w, &a, &b2, Some(&g_w), 1.0, PRIOR, &mut gm, &mut gr);
            kl
        })
    });
    group.finish();
}

/// SIMD vs scalar math where it is used: the vectorised (runtime-dispatched)
/// kernels against the same loops written with the standard library.
fn bench_math(c: &mut Criterion) {
    let x: Vec<f32> = (0..1 << 16).map(|i| -10.0 + 20.0 * i as f32 / 65536.0).collect();
    let mut out = vec![0f32; x.len()];
    let mut group = c.benchmark_group("math_64k");
    group.bench_function("softplus_fastmath_simd", |b| {
        b.iter(|| unary::forward(Split::default(), UnaryOp::Softplus, black_box(&x), &mut out))
    });
    group.bench_function("softplus_std_scalar", |b| {
        b.iter(|| out.iter_mut().zip(black_box(&x)).for_each(|(o, &v)| *o = v.exp().ln_1p()))
    });
    // Normals: the batched Philox + Box-Muller with vectorised ln/sin/cos, against
    // the one-block-at-a-time reference with the standard library's ln/sin/cos.
    group.bench_function("normals_fastmath_simd", |b| b.iter(|| random::fill_normal(Split::default(), 7, 0, &mut out)));
    group.bench_function("normals_std_scalar", |b| {
        b.iter(|| {
            for (blk, o) in out.chunks_mut(4).enumerate() {
                o.copy_from_slice(&random::normal_block(7, blk as u64));
            }
        })
    });
    // The batch itself, one thread: the dispatched build (AVX-512 intrinsics
    // for Philox and the interleave where the CPU has them) against the
    // portable one, compiled without target features (SSE2; each `mul_add`
    // a call to the C library's `fmaf`): what a CPU without AVX2 gets.
    let batches = |f: fn(u64, u64, &mut [f32; 4 * random::BATCH]), out: &mut [f32]| {
        for (i, o) in out.chunks_exact_mut(4 * random::BATCH).enumerate() {
            f(7, (i * random::BATCH) as u64, o.try_into().expect("one batch"));
        }
    };
    group.bench_function("normal_batches_dispatched", |b| b.iter(|| batches(random::normal_batch, &mut out)));
    group.bench_function("normal_batches_baseline_build", |b| {
        b.iter(|| batches(random::normal_batch_portable, &mut out))
    });
    // A prediction draw: sigma = softplus(rho) made in the loop, or given (cached).
    let mu = vec![0.01f32; x.len()];
    let sigma: Vec<f32> = x.iter().map(|&r| fastmath::softplus(r)).collect();
    group.bench_function("draw_through_softplus", |b| {
        b.iter(|| reparam::forward(Split::default(), &mu, black_box(&x), 3, 0, &mut out))
    });
    group.bench_function("draw_sigma_given", |b| {
        b.iter(|| reparam::forward_sigma(Split::default(), &mu, black_box(&sigma), 3, 0, &mut out))
    });
    group.finish();
}

criterion_group!(benches, bench_sample_kl, bench_math);
criterion_main!(benches);
