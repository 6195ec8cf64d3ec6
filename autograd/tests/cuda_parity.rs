//! GPU against CPU through the public `Var` API: every op's forward value and
//! the gradients of all its inputs, on random inputs moved with
//! `Tensor::to(Device::Cuda(0))`, agree within 1e-5 relative; weights sampled
//! with a seed are the CPU's; cuBLAS and the tiled GEMM agree. Without a GPU
//! each test prints why it is skipped and passes. Every tape here runs the
//! exact sampler (`SamplerMath::Exact` in its context: [`tape_with`]); the
//! default fast one is checked against it in `cuda_sampler_math.rs`.
#![cfg(feature = "cuda")]

use blitz_autograd::{loss, Device, Param, Result, Tape, Tensor, Var};
use blitz_kernels::context::{Context, GemmBackend, SamplerMath};
use blitz_kernels::UnaryOp;
use rand::rngs::StdRng;
use rand::SeedableRng;

const GPU: Device = Device::Cuda(0);
const RTOL: f32 = 1e-5;

#[path = "../../kernels/tests/support/gpu.rs"]
mod support;

use support::gpu_or_skip;

/// A tape with the exact sampler math (parity means the CPU's draws) and the GPU GEMM `gemm`.
fn tape_with(seed: u64, gemm: GemmBackend) -> Tape {
    Tape::new(seed).with_context(Context { gpu_sampler: SamplerMath::Exact, gpu_gemm: gemm, ..Context::default() })
}

/// [`tape_with`] the default GPU GEMM.
fn tape(seed: u64) -> Tape {
    tape_with(seed, GemmBackend::default())
}

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Tensor::randn(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed)).unwrap()
}

fn uniform(shape: &[usize], lo: f32, hi: f32, seed: u64) -> Tensor {
    Tensor::rand_uniform(shape, lo, hi, &mut StdRng::seed_from_u64(seed)).unwrap()
}

/// Norm-wise relative error ‖gpu − cpu‖ / ‖cpu‖ ≤ rtol (the usual measure for
/// float32 results whose summation order differs), no NaN where the CPU has
/// none; prints the error so the GPU log records it.
fn assert_close(what: &str, gpu: &Tensor, cpu: &Tensor, rtol: f32) {
    assert_eq!(gpu.device(), GPU, "{what}: the result is not on the GPU");
    assert_eq!(gpu.shape(), cpu.shape(), "{what}: shapes");
    let (g, c) = (gpu.to_vec().unwrap(), cpu.to_vec().unwrap());
    let (mut num, mut den, mut worst, mut at) = (0f64, 0f64, 0f64, 0usize);
    for (i, (&a, &b)) in g.iter().zip(&c).enumerate() {
        assert!(a.is_nan() == b.is_nan(), "{what}[{i}]: gpu {a} vs cpu {b}");
        if a.is_nan() {
            continue;
        }
        let d = (a as f64 - b as f64).abs();
        num += d * d;
        den += (b as f64) * (b as f64);
        if d > worst {
            (worst, at) = (d, i);
        }
    }
    let rel = (num / den.max(1e-300)).sqrt();
    println!("{what}: relative error {rel:.3e} (largest |diff| {worst:.3e} at {at})");
    assert!(
        rel <= rtol as f64,
        "{what}: relative error {rel:.3e} > {rtol:e}; largest |diff| {worst:.3e} at {at}: gpu {} vs cpu {}",
        g[at],
        c[at]
    );
}

/// Runs `f` on leaves made from `inputs` on each device, reduces the output
/// with fixed random weights (so every output element gets its own gradient),
/// and compares the values and every input's gradient.
fn parity_tol(what: &str, inputs: &[Tensor], rtol: f32, f: impl Fn(&[Var]) -> Result<Var>) {
    parity_on(what, inputs, rtol, GemmBackend::default(), f)
}

/// [`parity_tol`] with the GPU GEMM `gemm`.
fn parity_on(what: &str, inputs: &[Tensor], rtol: f32, gemm: GemmBackend, f: impl Fn(&[Var]) -> Result<Var>) {
    let run = |device: Device| -> (Tensor, Vec<Tensor>) {
        let tape = tape_with(0, gemm);
        let leaves: Vec<Var> = inputs.iter().map(|t| tape.leaf(t.to(device).unwrap())).collect();
        let out = f(&leaves).unwrap_or_else(|e| panic!("{what} on {device}: {e}"));
        let r = uniform(out.shape(), 0.5, 1.5, 99).to(device).unwrap();
        let l = out.mul(&tape.constant(r)).unwrap().sum().unwrap();
        let grads = tape.backward(&l).unwrap_or_else(|e| panic!("{what} backward on {device}: {e}"));
        let gs = leaves
            .iter()
            .map(|v| grads.wrt(v).cloned().unwrap_or_else(|| Tensor::zeros(v.shape()).unwrap().to(device).unwrap()))
            .collect();
        (out.value().clone(), gs)
    };
    let (yc, gc) = run(Device::Cpu);
    let (yg, gg) = run(GPU);
    assert_close(&format!("{what} forward"), &yg, &yc, rtol);
    for (i, (a, b)) in gg.iter().zip(&gc).enumerate() {
        assert_close(&format!("{what} grad of input {i}"), a, b, rtol);
    }
}

fn parity(what: &str, inputs: &[Tensor], f: impl Fn(&[Var]) -> Result<Var>) {
    parity_tol(what, inputs, RTOL, f)
}

#[test]
fn unary_and_scalar_ops() {
    if !gpu_or_skip("unary_and_scalar_ops") {
        return;
    }
    let pos = uniform(&[7, 13], 0.1, 3.0, 1);
    let any = randn(&[7, 13], 2);
    for op in UnaryOp::ALL {
        let x = if matches!(op, UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Log1p) { &pos } else { &any };
        parity(op.name(), std::slice::from_ref(x), |v| v[0].unary(op));
    }
    parity("add_scalar", std::slice::from_ref(&any), |v| v[0].add_scalar(1.5));
    parity("sub_scalar", std::slice::from_ref(&any), |v| v[0].sub_scalar(0.5));
    parity("mul_scalar", std::slice::from_ref(&any), |v| v[0].mul_scalar(-2.0));
    parity("div_scalar", std::slice::from_ref(&any), |v| v[0].div_scalar(4.0));
    parity("powf", std::slice::from_ref(&pos), |v| v[0].powf(1.7));
}

#[test]
fn broadcasting_binary_ops() {
    if !gpu_or_skip("broadcasting_binary_ops") {
        return;
    }
    let shapes: [(&[usize], &[usize]); 5] =
        [(&[6, 5], &[6, 5]), (&[6, 5], &[5]), (&[6, 5], &[]), (&[4, 1, 3], &[5, 1]), (&[2, 3, 4], &[3, 1])];
    for (i, (sa, sb)) in shapes.into_iter().enumerate() {
        let a = randn(sa, 10 + i as u64);
        let b = uniform(sb, 0.5, 2.0, 20 + i as u64);
        let ins = [a, b];
        parity(&format!("add {sa:?} {sb:?}"), &ins, |v| v[0].add(&v[1]));
        parity(&format!("sub {sa:?} {sb:?}"), &ins, |v| v[0].sub(&v[1]));
        parity(&format!("mul {sa:?} {sb:?}"), &ins, |v| v[0].mul(&v[1]));
        parity(&format!("div {sa:?} {sb:?}"), &ins, |v| v[0].div(&v[1]));
    }
}

#[test]
fn matmul_forms_and_both_gemms() {
    if !gpu_or_skip("matmul_forms_and_both_gemms") {
        return;
    }
    // Both GEMMs in one test: the choice is the tape's context, not a process-wide switch.
    for backend in [GemmBackend::Cublas, GemmBackend::Tiled] {
        let (a, b, bt) = (randn(&[17, 33], 30), randn(&[33, 9], 31), randn(&[9, 33], 32));
        parity_on(&format!("{backend:?} matmul 2d"), &[a.clone(), b], RTOL, backend, |v| v[0].matmul(&v[1]));
        parity_on(&format!("{backend:?} matmul_t"), &[a, bt], RTOL, backend, |v| v[0].matmul_t(&v[1]));
        let (x, y) = (randn(&[3, 8, 21], 33), randn(&[3, 21, 5], 34));
        parity_on(&format!("{backend:?} matmul batched"), &[x, y], RTOL, backend, |v| v[0].matmul(&v[1]));
    }
}

#[test]
fn reductions_and_softmax() {
    if !gpu_or_skip("reductions_and_softmax") {
        return;
    }
    let x = randn(&[4, 6, 5], 40);
    let one = std::slice::from_ref(&x);
    parity("sum", one, |v| v[0].sum());
    parity("mean", one, |v| v[0].mean());
    for axis in 0..3 {
        parity(&format!("sum_axis {axis}"), one, |v| v[0].sum_axis(axis, false));
        parity(&format!("mean_axis {axis} keepdim"), one, |v| v[0].mean_axis(axis, true));
        parity(&format!("max_axis {axis}"), one, |v| v[0].max_axis(axis, false));
    }
    let logits = randn(&[8, 10], 41).to_vec().unwrap().iter().map(|v| v * 5.0).collect::<Vec<_>>();
    let logits = Tensor::from_vec(logits, &[8, 10]).unwrap();
    parity("softmax", std::slice::from_ref(&logits), |v| v[0].softmax());
    parity("log_softmax", std::slice::from_ref(&logits), |v| v[0].log_softmax());
}

#[test]
fn layout_ops() {
    if !gpu_or_skip("layout_ops") {
        return;
    }
    let x = randn(&[3, 4, 5], 50);
    let one = std::slice::from_ref(&x);
    parity("reshape", one, |v| v[0].reshape(&[12, 5]));
    parity("flatten", one, |v| v[0].flatten());
    parity("permute", one, |v| v[0].permute(&[2, 0, 1]));
    parity("transpose", one, |v| v[0].transpose(0, 2));
    parity("slice", one, |v| v[0].slice(1, 1, 2));
    parity("concat", &[x.clone(), randn(&[3, 2, 5], 51)], |v| Var::concat(&[&v[0], &v[1]], 1));
    parity("index_select (repeats)", one, |v| v[0].index_select(1, &[3, 0, 3, 2]));
    let m = randn(&[6, 4], 52);
    parity("gather_rows", std::slice::from_ref(&m), |v| v[0].gather_rows(&[1, 0, 3, 3, 2, 1]));
}

#[test]
fn losses() {
    if !gpu_or_skip("losses") {
        return;
    }
    let (p, t) = (randn(&[8, 3], 60), randn(&[8, 3], 61));
    parity("mse", &[p.clone(), t.clone()], |v| loss::mse(&v[0], &v[1]));
    parity("cross_entropy", std::slice::from_ref(&p), |v| loss::cross_entropy(&v[0], &[0, 2, 1, 1, 0, 2, 2, 0]));
    let lv = uniform(&[8, 3], -1.0, 1.0, 62);
    parity("gaussian_nll", &[p.clone(), lv, t], |v| loss::gaussian_nll(&v[0], &v[1], &v[2]));
    let y = uniform(&[8, 3], 0.0, 1.0, 63);
    parity("bce_with_logits", &[p, y], |v| loss::bce_with_logits(&v[0], &v[1]));
}

#[test]
fn sampled_weights_and_their_gradients_match_for_a_seed() {
    if !gpu_or_skip("sampled_weights_and_their_gradients_match_for_a_seed") {
        return;
    }
    let mu = randn(&[50, 41], 70);
    let rho = uniform(&[50, 41], -6.0, -1.0, 71);
    for (seed, offset) in [(0u64, 0u64), (12345, 7), (u64::MAX - 3, 1 << 40)] {
        let ins = [mu.clone(), rho.clone()];
        parity(&format!("reparam_sample seed {seed}"), &ins, |v| v[0].reparam_sample(&v[1], seed, offset));
        parity(&format!("log posterior seed {seed}"), &ins, |v| v[1].reparam_log_posterior(seed, offset));
    }
    // Through parameters and `Tape::draw`, as a Bayesian layer samples.
    let (pm, pr) = (Param::new("mu", mu.clone()), Param::new("rho", rho.clone()));
    let (gm, gr) = (Param::new("mu", mu.to(GPU).unwrap()), Param::new("rho", rho.to(GPU).unwrap()));
    let (tc, tg) = (tape(2024), tape(2024));
    let (sc, oc) = tc.draw(mu.numel());
    let (sg, og) = tg.draw(mu.numel());
    assert_eq!((sc, oc), (sg, og), "draw names do not depend on the device");
    let wc = tc.param(&pm).reparam_sample(&tc.param(&pr), sc, oc).unwrap();
    let wg = tg.param(&gm).reparam_sample(&tg.param(&gr), sg, og).unwrap();
    let (c, g) = (wc.value().to_vec().unwrap(), wg.value().to_vec().unwrap());
    let worst = c.iter().zip(&g).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    println!("sampled weights through Tape::draw: largest |gpu - cpu| {worst:e}");
    assert!(worst == 0.0, "the exact sampler's weights differ from the CPU's by up to {worst}");
}

#[test]
fn the_fused_draw_and_kl_match_for_a_seed() {
    if !gpu_or_skip("the_fused_draw_and_kl_match_for_a_seed") {
        return;
    }
    use blitz_kernels::PriorSpec;
    let mu = randn(&[64, 33], 72);
    let rho = uniform(&[64, 33], -7.0, -1.0, 73);
    for prior in [PriorSpec::Gaussian { sigma: 0.3 }, PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.002 }] {
        let ins = [mu.clone(), rho.clone()];
        // Both outputs through one loss, so both gradient paths are compared.
        parity(&format!("sample_with_kl {prior:?}"), &ins, |v| {
            let (w, kl) = v[0].sample_with_kl(&v[1], 99, 5, prior)?;
            w.sum()?.add(&kl.mul_scalar(1e-3)?)
        });
        parity(&format!("sample_with_kl weights {prior:?}"), &ins, |v| Ok(v[0].sample_with_kl(&v[1], 99, 5, prior)?.0));
        // The KL of weights drawn separately (w given, eps regenerated).
        parity(&format!("kl_at {prior:?}"), &ins, |v| {
            let w = v[0].reparam_sample(&v[1], 99, 5)?;
            w.sum()?.add(&w.kl_at(&v[1], 99, 5, prior)?.mul_scalar(1e-3)?)
        });
    }
}

#[test]
fn a_small_training_step_matches() {
    if !gpu_or_skip("a_small_training_step_matches") {
        return;
    }
    // x·Wᵀ + b → relu → x·Vᵀ → MSE: the shape of a Bayesian MLP's step.
    let ins = [randn(&[16, 13], 80), randn(&[32, 13], 81), randn(&[32], 82), randn(&[1, 32], 83), randn(&[16, 1], 84)];
    parity_tol("mlp step", &ins, RTOL, |v| {
        let h = v[0].matmul_t(&v[1])?.add(&v[2])?.relu()?;
        loss::mse(&h.matmul_t(&v[3])?, &v[4])
    });
}

#[test]
fn convolution_and_pooling() {
    if !gpu_or_skip("convolution_and_pooling") {
        return;
    }
    use blitz_autograd::{ConvParams, PoolParams};
    let x = randn(&[2, 4, 9, 8], 90);
    let w = randn(&[6, 2, 3, 3], 91);
    let b = randn(&[6], 92);
    let p = ConvParams::default().stride((2, 1)).padding(1).dilation((1, 2)).groups(2);
    parity("conv2d grouped", &[x.clone(), w, b], |v| v[0].conv2d(&v[1], Some(&v[2]), &p));
    let w1 = randn(&[3, 4, 5, 5], 93);
    parity("conv2d lenet-like", &[x.clone(), w1], |v| v[0].conv2d(&v[1], None, &ConvParams::default().padding(2)));
    let s = randn(&[3, 2, 20], 94);
    let k = randn(&[5, 2, 4], 95);
    parity("conv1d", &[s.clone(), k], |v| v[0].conv1d(&v[1], None, &ConvParams::default().stride(3)));
    parity("max_pool2d", std::slice::from_ref(&x), |v| v[0].max_pool2d(&PoolParams::new(2)));
    parity("max_pool2d overlapping", std::slice::from_ref(&x), |v| v[0].max_pool2d(&PoolParams::new(3).stride(1)));
    parity("avg_pool2d padded", std::slice::from_ref(&x), |v| {
        v[0].avg_pool2d(&PoolParams::new(3).stride(2).padding(1))
    });
    parity("max_pool1d", std::slice::from_ref(&s), |v| v[0].max_pool1d(&PoolParams::new(4)));
}
