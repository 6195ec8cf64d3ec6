//! The tests that verify the kernel variants (the registry names them, and
//! [`crate::context`]'s variant tables resolve each name in a test build).
//! Kernel variants side by side in one process: each variant of a family runs
//! on the same input, chosen by the `Context` it is given (no process-wide
//! switch), and is compared with the family's reference variant
//! (`blitz_kernels::reference`): bit for bit where the design promises bits,
//! within the stated tolerance elsewhere.

use crate::context::{
    Context, ConvVariant, ElementwiseVariant, GemmBackend, GemmVariant, NormalsVariant, SamplerMath, SamplerVariant,
    Threads,
};
use crate::reference;
use crate::{ops, BinaryOp, Buffer, ConvGeom, PriorSpec, ScalarOp, Transpose, UnaryOp};

#[path = "../tests/support/values.rs"]
mod inputs;
use inputs::values;

fn ctx_with(f: impl FnOnce(&mut Context)) -> Context {
    let mut c = Context::default();
    f(&mut c);
    c
}

/// Largest |got − want| / max(1, |want|).
fn max_rel(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    got.iter().zip(want).map(|(a, b)| (a - b).abs() / b.abs().max(1.0)).fold(0.0, f32::max)
}

#[test]
pub(crate) fn every_gemm_variant_matches_the_reference_on_the_same_input() {
    let shapes = [(1, 37, 29), (23, 41, 1), (33, 47, 29), (64, 96, 80), (3, 0, 4)];
    let forms = [Transpose::NN, Transpose::NT, Transpose::TN, Transpose { a: true, b: true }];
    // Every variant the table lists, so a new one is checked here without an edit.
    let variants = GemmVariant::ALL;
    assert!(variants.contains(&GemmVariant::Blocked));
    for (m, k, n) in shapes {
        for t in forms {
            let batch = 2;
            let a = Buffer::Cpu(values(batch * m * k, 1, -1.0, 1.0));
            let b = Buffer::Cpu(values(batch * k * n, 2, -1.0, 1.0));
            let reference_ctx = ctx_with(|c| c.gemm = GemmVariant::Reference);
            let want = ops::gemm_in(&reference_ctx, &a, &b, batch, m, k, n, t).unwrap().to_vec().unwrap();
            // The reference is the definition: check it against reference::gemm directly too.
            let mut direct = vec![0f32; batch * m * n];
            reference::gemm::batched_gemm(batch, m, k, n, &a.to_vec().unwrap(), &b.to_vec().unwrap(), &mut direct, t);
            assert_eq!(want, direct);
            for v in variants {
                let got = ops::gemm_in(&ctx_with(|c| c.gemm = v), &a, &b, batch, m, k, n, t).unwrap().to_vec().unwrap();
                // f32 sums of k products of |x| < 1 in another order: within k·2⁻²⁴ of the f64 sum, scaled.
                let tol = 4.0 * (k.max(1) as f32) * f32::EPSILON;
                let err = max_rel(&got, &want);
                assert!(err <= tol, "{v:?} {m}x{k}x{n} {t:?}: {err:e} > {tol:e}");
            }
            // The default context is today's path, bit for bit.
            let auto = ops::gemm_in(&Context::default(), &a, &b, batch, m, k, n, t).unwrap().to_vec().unwrap();
            assert_eq!(auto, ops::gemm_in(&Context::default(), &a, &b, batch, m, k, n, t).unwrap().to_vec().unwrap());
        }
    }
}

#[test]
pub(crate) fn a_pool_of_one_thread_gives_the_same_bits_as_the_global_pool() {
    let one = Context { threads: Threads::fixed(1).unwrap(), ..Context::default() };
    let (m, k, n) = (300, 200, 256); // above the threshold where the product is split over threads
    let a = Buffer::Cpu(values(m * k, 3, -1.0, 1.0));
    let b = Buffer::Cpu(values(k * n, 4, -1.0, 1.0));
    let split = ops::gemm_in(&Context::default(), &a, &b, 1, m, k, n, Transpose::NN).unwrap().to_vec().unwrap();
    let alone = ops::gemm_in(&one, &a, &b, 1, m, k, n, Transpose::NN).unwrap().to_vec().unwrap();
    assert!(split == alone, "the GEMM depends on the thread count");
    let mu = Buffer::Cpu(values(100_000, 5, -1.0, 1.0));
    let rho = Buffer::Cpu(values(100_000, 6, -6.0, -1.0));
    let prior = PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.002 };
    let (w1, kl1) = ops::sample_kl_forward_in(&one, &mu, &rho, 9, 3, prior).unwrap();
    let (w2, kl2) = ops::sample_kl_forward_in(&Context::default(), &mu, &rho, 9, 3, prior).unwrap();
    assert!(w1.to_vec().unwrap() == w2.to_vec().unwrap() && kl1.to_vec().unwrap() == kl2.to_vec().unwrap());
}

#[test]
pub(crate) fn the_normals_variants_agree_portable_bit_for_bit_reference_within_1e_5() {
    let n = 10_007; // odd length, odd offset: partial Philox blocks at both ends
    let draw = |v| ops::normal_in(&ctx_with(|c| c.normals = v), crate::Device::Cpu, 77, 5, n);
    let best = draw(NormalsVariant::Best).unwrap().to_vec().unwrap();
    let portable = draw(NormalsVariant::Portable).unwrap().to_vec().unwrap();
    let reference = draw(NormalsVariant::Reference).unwrap().to_vec().unwrap();
    assert!(best == portable, "the portable normals differ from the dispatched ones");
    // Normal i of the draw (seed, offset) is normal offset + i of the stream: named, not generated.
    let from_zero =
        ops::normal_in(&ctx_with(|c| c.normals = NormalsVariant::Reference), crate::Device::Cpu, 77, 0, n + 5);
    assert_eq!(reference, from_zero.unwrap().to_vec().unwrap()[5..]);
    // fastmath's ln/sin/cos against the standard library's: normals are O(1), the bound absolute.
    let worst = best.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst <= 1e-5, "normals differ from the reference by {worst}");
}

/// The sampler's definition in f64: w = mu + softplus(rho)·eps and
/// KL = Σ[−ln sigma − eps²/2 − ln √(2π) − log p(w)], eps by its name (reference normals).
fn reference_sample_kl(mu: &[f32], rho: &[f32], seed: u64, offset: u64, prior: PriorSpec) -> (Vec<f32>, f64) {
    let ln_sqrt_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    let log_gauss = |w: f64, s: f64| -s.ln() - ln_sqrt_2pi - w * w / (2.0 * s * s);
    let exact = ctx_with(|c| c.normals = NormalsVariant::Reference);
    let eps = ops::normal_in(&exact, crate::Device::Cpu, seed, offset, mu.len()).unwrap().to_vec().unwrap();
    let mut kl = 0.0;
    let w: Vec<f32> = (0..mu.len())
        .map(|i| {
            let eps = eps[i] as f64;
            let sigma = reference::elementwise::softplus(rho[i]) as f64;
            let w = mu[i] as f64 + sigma * eps;
            let log_p = match prior {
                PriorSpec::Gaussian { sigma } => log_gauss(w, sigma as f64),
                PriorSpec::ScaleMixture { pi, sigma1, sigma2 } => {
                    let (a, b) = (log_gauss(w, sigma1 as f64), log_gauss(w, sigma2 as f64));
                    let (a, b) = (a + (pi as f64).ln(), b + (1.0 - pi as f64).ln());
                    a.max(b) + (-(a - b).abs()).exp().ln_1p()
                }
            };
            kl += -sigma.ln() - eps * eps / 2.0 - ln_sqrt_2pi - log_p;
            w as f32
        })
        .collect();
    (w, kl)
}

#[test]
pub(crate) fn every_sampler_variant_matches_the_reference_and_the_others_on_the_same_input() {
    let n = 20_001;
    let mu = Buffer::Cpu(values(n, 11, -0.5, 0.5));
    let rho = Buffer::Cpu(values(n, 12, -7.0, -1.0));
    let g_w = Buffer::Cpu(values(n, 13, 0.5, 1.5));
    let g_kl = Buffer::Cpu(vec![1e-3]);
    let (seed, offset) = (2024, 7);
    let variants = SamplerVariant::ALL;
    for prior in [PriorSpec::Gaussian { sigma: 0.3 }, PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.002 }] {
        let (w_ref, kl_ref) = reference_sample_kl(&mu.to_vec().unwrap(), &rho.to_vec().unwrap(), seed, offset, prior);
        let mut grads = Vec::new();
        for v in variants {
            let ctx = ctx_with(|c| c.sampler = v);
            let (w, kl, factors) = ops::sample_kl_forward_saving_in(&ctx, &mu, &rho, seed, offset, prior).unwrap();
            assert_eq!(factors.is_some(), v == SamplerVariant::FusedSaved, "{v:?}: factors kept");
            let (w, kl) = (w.to_vec().unwrap(), kl.to_vec().unwrap()[0] as f64);
            if v != SamplerVariant::Unfused {
                // The fused draws and the reference variant promise the reference's bits.
                let mut exact = vec![0f32; n];
                crate::reference::reparam::sample_all(
                    &mu.to_vec().unwrap(),
                    &rho.to_vec().unwrap(),
                    seed,
                    offset,
                    &mut exact,
                );
                assert!(w.iter().zip(&exact).all(|(a, b)| a.to_bits() == b.to_bits()), "{v:?}: weights bit for bit");
            }
            // Weights: fastmath's softplus and normals vs the standard library's, relative 1e-5.
            let err = max_rel(&w, &w_ref);
            assert!(err <= 1e-5, "{v:?} {prior:?}: weights {err:e} from the reference");
            let kl_err = (kl - kl_ref).abs() / kl_ref.abs();
            assert!(kl_err <= 1e-5, "{v:?} {prior:?}: KL {kl} vs reference {kl_ref} ({kl_err:e})");
            let (gm, gr) = match &factors {
                Some(f) => {
                    let wb = Buffer::Cpu(w.clone());
                    ops::sample_kl_backward_saved_in(&Context::default(), &wb, f, Some(&g_w), &g_kl, prior).unwrap()
                }
                None => ops::sample_kl_backward_in(&ctx, &mu, &rho, Some(&g_w), &g_kl, seed, offset, prior).unwrap(),
            };
            grads.push((v, gm.to_vec().unwrap(), gr.to_vec().unwrap()));
        }
        // The gradients of the four variants agree (the fused forms are the same arithmetic reordered).
        let (_, gm0, gr0) = &grads[0];
        for (v, gm, gr) in &grads[1..] {
            assert!(max_rel(gm, gm0) <= 1e-5, "{v:?} {prior:?}: grad mu");
            let scale = gr0.iter().fold(0f32, |a, b| a.max(b.abs()));
            let worst = gr.iter().zip(gr0).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(worst <= 1e-5 * scale, "{v:?} {prior:?}: grad rho off by {worst} (scale {scale})");
        }
    }
}

#[test]
pub(crate) fn every_conv_variant_matches_the_reference() {
    let lenet1 = ConvGeom::plain_2d(2, 1, 6, [12, 12], [5, 5]);
    let padded =
        ConvGeom { in_channels: 4, out_channels: 6, groups: 2, padding: [0, 1, 2], dilation: [1, 2, 1], ..lenet1 };
    for g in [lenet1, padded] {
        let x = values(g.input_len(), 21, -1.0, 1.0);
        let w = values(g.weight_len(), 22, -1.0, 1.0);
        let b = values(g.out_channels, 23, -1.0, 1.0);
        let gy = values(g.output_len(), 24, -1.0, 1.0);
        let mut y_ref = vec![0f32; g.output_len()];
        reference::conv::forward(&x, &w, Some(&b), &g, &mut y_ref);
        let (dx_ref, dw_ref, db_ref) = reference::conv::backward(&x, &w, &gy, &g, (true, true, true));
        let (xb, wb, bb, gb) = (Buffer::Cpu(x), Buffer::Cpu(w), Buffer::Cpu(b), Buffer::Cpu(gy));
        for v in ConvVariant::ALL {
            let ctx = ctx_with(|c| c.conv = v);
            let y = ops::conv_forward_in(&ctx, &xb, &wb, Some(&bb), &g).unwrap().to_vec().unwrap();
            assert!(max_rel(&y, &y_ref) <= 1e-5, "{v:?} {g:?}: forward");
            let (dx, dw, db) = ops::conv_backward_in(&ctx, &xb, &wb, &gb, &g, (true, true, true)).unwrap();
            let tol = 1e-5 * (g.output_len() as f32).sqrt();
            assert!(max_rel(&dx.unwrap().to_vec().unwrap(), dx_ref.as_ref().unwrap()) <= tol, "{v:?}: dx");
            assert!(max_rel(&dw.unwrap().to_vec().unwrap(), dw_ref.as_ref().unwrap()) <= tol, "{v:?}: dw");
            assert!(max_rel(&db.unwrap().to_vec().unwrap(), db_ref.as_ref().unwrap()) <= tol, "{v:?}: db");
        }
    }
    // The direct loops need unit stride along the width: asking for them otherwise is a typed error.
    let strided = ConvGeom { stride: [1, 1, 2], ..lenet1 };
    let x = Buffer::Cpu(values(strided.input_len(), 1, -1.0, 1.0));
    let w = Buffer::Cpu(values(strided.weight_len(), 2, -1.0, 1.0));
    let err = ops::conv_forward_in(&ctx_with(|c| c.conv = ConvVariant::Direct), &x, &w, None, &strided);
    assert!(matches!(err, Err(crate::Error::InvalidArgument { .. })), "{err:?}");
}

#[test]
pub(crate) fn both_elementwise_variants_agree_forward_and_backward() {
    let fast = Context::default();
    let reference = ctx_with(|c| c.elementwise = ElementwiseVariant::Reference);
    let x = values(5000, 31, -8.0, 8.0);
    let positive = values(5000, 32, 0.01, 8.0);
    let g = Buffer::Cpu(values(5000, 33, -1.0, 1.0));
    for op in UnaryOp::ALL {
        let input = if matches!(op, UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Log1p) { &positive } else { &x };
        let xb = Buffer::Cpu(input.clone());
        let run = |ctx: &Context| {
            let y = ops::unary_in(ctx, op, &xb).unwrap();
            let gx = ops::unary_backward_in(ctx, op, &xb, &y, &g).unwrap();
            (y.to_vec().unwrap(), gx.to_vec().unwrap())
        };
        let ((y, gx), (y_ref, gx_ref)) = (run(&fast), run(&reference));
        let mut direct = vec![0f32; input.len()];
        reference::elementwise::unary(op, input, &mut direct);
        assert_eq!(y_ref, direct, "{op:?}: the reference variant is reference::elementwise");
        // Vectorised exp/ln/softplus approximations and y-based derivatives: within 2e-6 relative.
        assert!(max_rel(&y, &y_ref) <= 2e-6, "{op:?}: forward {:e}", max_rel(&y, &y_ref));
        assert!(max_rel(&gx, &gx_ref) <= 2e-6, "{op:?}: backward {:e}", max_rel(&gx, &gx_ref));
    }
    // Broadcasting binary ops and their gradients summed back to each operand's shape.
    let (sa, sb, so) = ([4, 1, 5], [3, 1], [4, 3, 5]);
    let a = Buffer::Cpu(values(20, 34, 0.5, 2.0));
    let b = Buffer::Cpu(values(3, 35, 0.5, 2.0));
    let gz = Buffer::Cpu(values(60, 36, -1.0, 1.0));
    for op in BinaryOp::ALL {
        let run = |ctx: &Context| {
            let z = ops::binary_in(ctx, op, &a, &sa, &b, &sb, &so).unwrap().to_vec().unwrap();
            let (ga, gb) = ops::binary_backward_in(ctx, op, &a, &sa, &b, &sb, &gz, &so, (true, true)).unwrap();
            (z, ga.unwrap().to_vec().unwrap(), gb.unwrap().to_vec().unwrap())
        };
        let (got, want) = (run(&fast), run(&reference));
        assert!(max_rel(&got.0, &want.0) <= 1e-6, "{op:?}: forward");
        assert!(max_rel(&got.1, &want.1) <= 1e-5, "{op:?}: grad a");
        assert!(max_rel(&got.2, &want.2) <= 1e-5, "{op:?}: grad b");
    }
    for op in [ScalarOp::Add(0.5), ScalarOp::Mul(-3.0), ScalarOp::Pow(1.5)] {
        let xb = Buffer::Cpu(positive.clone());
        let run = |ctx: &Context| {
            let y = ops::scalar_in(ctx, op, &xb).unwrap().to_vec().unwrap();
            (y, ops::scalar_backward_in(ctx, op, &xb, &g).unwrap().to_vec().unwrap())
        };
        let (got, want) = (run(&fast), run(&reference));
        assert!(max_rel(&got.0, &want.0) <= 1e-6 && max_rel(&got.1, &want.1) <= 1e-6, "{op:?}");
    }
}

/// Whether GPU 0 can be used; says why not when it cannot (the GPU tests then pass without running).
fn gpu_or_skip(test: &str) -> bool {
    match crate::cuda::device::available(0) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("{test}: skipped, {e}");
            false
        }
    }
}

#[test]
pub(crate) fn both_gpu_gemms_match_the_cpu() {
    if !gpu_or_skip("both_gpu_gemms_match_the_cpu") {
        return;
    }
    let gpu = crate::Device::Cuda(0);
    for (batch, m, k, n) in [(1, 33, 47, 29), (3, 16, 16, 16), (1, 1, 70, 5), (2, 64, 1, 40), (1, 128, 784, 100)] {
        let (a, b) = (values(batch * m * k, 7, -1.0, 1.0), values(batch * k * n, 8, -1.0, 1.0));
        let (ag, bg) = (Buffer::from_host(a.clone(), gpu).unwrap(), Buffer::from_host(b.clone(), gpu).unwrap());
        for t in [Transpose::NN, Transpose::NT, Transpose::TN] {
            let want =
                ops::gemm_in(&Context::default(), &Buffer::Cpu(a.clone()), &Buffer::Cpu(b.clone()), batch, m, k, n, t)
                    .unwrap()
                    .to_vec()
                    .unwrap();
            for backend in GemmBackend::ALL {
                let ctx = ctx_with(|c| c.gpu_gemm = backend);
                let got = ops::gemm_in(&ctx, &ag, &bg, batch, m, k, n, t).unwrap().to_vec().unwrap();
                let err = max_rel(&got, &want);
                assert!(err <= 1e-5 * (k.max(1) as f32).sqrt(), "{backend:?} {batch}x{m}x{k}x{n} {t:?}: {err:e}");
            }
        }
    }
}

#[test]
pub(crate) fn exact_gpu_math_draws_the_cpus_bits_and_fast_math_within_5e_6() {
    if !gpu_or_skip("exact_gpu_math_draws_the_cpus_bits_and_fast_math_within_5e_6") {
        return;
    }
    let (gpu, n) = (crate::Device::Cuda(0), (1 << 16) + 3);
    let cpu = ops::normal_in(&Context::default(), crate::Device::Cpu, 42, 5, n).unwrap().to_vec().unwrap();
    let math = |m: SamplerMath| ctx_with(|c| c.gpu_sampler = m);
    let exact = ops::normal_in(&math(SamplerMath::Exact), gpu, 42, 5, n).unwrap().to_vec().unwrap();
    assert!(exact == cpu, "exact GPU normals differ from the CPU's");
    let fast = ops::normal_in(&math(SamplerMath::Fast), gpu, 42, 5, n).unwrap().to_vec().unwrap();
    let worst = fast.iter().zip(&cpu).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst <= 5e-6, "fast normals differ from the CPU's by up to {worst}");
    // The fused draw: exact weights are the CPU's bits.
    let (mu, rho) = (values(n, 1, -1.0, 1.0), values(n, 2, -7.0, -1.0));
    let prior = PriorSpec::Gaussian { sigma: 0.3 };
    let draw = |ctx: &Context, device| {
        let (m, r) = (Buffer::from_host(mu.clone(), device).unwrap(), Buffer::from_host(rho.clone(), device).unwrap());
        ops::sample_kl_forward_in(ctx, &m, &r, 3, 11, prior).unwrap().0.to_vec().unwrap()
    };
    let want = draw(&Context::default(), crate::Device::Cpu);
    assert!(draw(&math(SamplerMath::Exact), gpu) == want, "exact GPU weights differ from the CPU's");
}
