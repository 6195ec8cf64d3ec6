//! Every CUDA kernel against its CPU twin on random inputs, through the
//! device-dispatching `ops` layer. Needs a GPU: without one each test prints
//! why it is skipped and passes.
#![cfg(feature = "cuda")]

use blitz_kernels::context::GemmBackend;
use blitz_kernels::cuda;
use blitz_kernels::shape::{broadcast_shape, numel};
use blitz_kernels::AdamStep;
use blitz_kernels::{ops, BinaryOp, Buffer, Device, ScalarOp, Transpose, UnaryOp};

const GPU: Device = Device::Cuda(0);

#[path = "support/gpu.rs"]
mod support;
use support::gpu_or_skip;

#[path = "support/values.rs"]
mod inputs;
use inputs::values;

fn pair(v: &[f32]) -> (Buffer, Buffer) {
    (Buffer::Cpu(v.to_vec()), Buffer::from_host(v.to_vec(), GPU).unwrap())
}

/// Norm-wise relative error ‖gpu − cpu‖ / ‖cpu‖ ≤ rtol (the usual measure for
/// float32 results whose summation order differs), no NaN where the CPU has
/// none; prints the error so the GPU log records it.
fn assert_close(what: &str, got: &Buffer, want: &Buffer, rtol: f32) {
    assert_eq!(got.device(), GPU, "{what}: result left the GPU");
    let (g, w) = (got.to_vec().unwrap(), want.to_vec().unwrap());
    assert_eq!(g.len(), w.len(), "{what}: lengths");
    check_close(what, &g, &w, rtol);
}

fn check_close(what: &str, g: &[f32], w: &[f32], rtol: f32) {
    let (mut num, mut den, mut worst, mut at) = (0f64, 0f64, 0f64, 0usize);
    for (i, (&a, &b)) in g.iter().zip(w).enumerate() {
        assert!(a.is_nan() == b.is_nan(), "{what}[{i}]: gpu {a} vs cpu {b}");
        if a.is_nan() || a == b {
            continue;
        }
        let d = (a as f64 - b as f64).abs();
        num += d * d;
        if d > worst {
            (worst, at) = (d, i);
        }
    }
    for &b in w.iter().filter(|b| !b.is_nan()) {
        den += (b as f64) * (b as f64);
    }
    let rel = (num / den.max(1e-300)).sqrt();
    println!("{what}: relative error {rel:.3e} (largest |diff| {worst:.3e} at {at})");
    assert!(
        rel <= rtol as f64,
        "{what}: relative error {rel:.3e} > {rtol:e}; largest |diff| {worst:.3e} at {at}: gpu {} vs cpu {}",
        g[at],
        w[at]
    );
}

#[test]
fn unary_and_scalar_ops_forward_and_backward() {
    if !gpu_or_skip("unary_and_scalar_ops_forward_and_backward") {
        return;
    }
    let x = values(10_007, 1, 0.05, 3.0); // positive: log, sqrt defined
    let g = values(10_007, 2, -1.0, 1.0);
    let ((xc, xg), (gc, gg)) = (pair(&x), pair(&g));
    for op in UnaryOp::ALL {
        let (yc, yg) = (
            ops::unary_in(&blitz_kernels::Context::default(), op, &xc).unwrap(),
            ops::unary_in(&blitz_kernels::Context::default(), op, &xg).unwrap(),
        );
        assert_close(op.name(), &yg, &yc, 1e-5);
        let bc = ops::unary_backward_in(&blitz_kernels::Context::default(), op, &xc, &yc, &gc).unwrap();
        let bg = ops::unary_backward_in(&blitz_kernels::Context::default(), op, &xg, &yg, &gg).unwrap();
        assert_close(&format!("{} backward", op.name()), &bg, &bc, 1e-5);
    }
    for op in [ScalarOp::Add(1.5), ScalarOp::Mul(-0.75), ScalarOp::Pow(2.5)] {
        assert_close(
            &format!("{op:?}"),
            &ops::scalar_in(&blitz_kernels::Context::default(), op, &xg).unwrap(),
            &ops::scalar_in(&blitz_kernels::Context::default(), op, &xc).unwrap(),
            1e-5,
        );
        let bc = ops::scalar_backward_in(&blitz_kernels::Context::default(), op, &xc, &gc).unwrap();
        assert_close(
            &format!("{op:?} backward"),
            &ops::scalar_backward_in(&blitz_kernels::Context::default(), op, &xg, &gg).unwrap(),
            &bc,
            1e-5,
        );
    }
}

#[test]
fn broadcasting_binary_ops_and_their_gradients() {
    if !gpu_or_skip("broadcasting_binary_ops_and_their_gradients") {
        return;
    }
    let cases: &[(&[usize], &[usize])] = &[
        (&[37, 19], &[37, 19]),
        (&[37, 19], &[19]),
        (&[37, 19], &[]),
        (&[5, 1, 7], &[1, 3, 7]),
        (&[4, 1], &[1, 6]),
        (&[2, 3, 4, 5], &[3, 1, 5]),
    ];
    for (ci, &(sa, sb)) in cases.iter().enumerate() {
        let os = broadcast_shape("t", sa, sb).unwrap();
        let a = values(numel(sa), 10 + ci as u64, -2.0, 2.0);
        let b = values(numel(sb), 20 + ci as u64, 0.5, 2.0); // away from 0 for div
        let g = values(numel(&os), 30 + ci as u64, -1.0, 1.0);
        let ((ac, ag), (bc, bg), (gc, gg)) = (pair(&a), pair(&b), pair(&g));
        for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div] {
            let what = format!("{} {sa:?} {sb:?}", op.name());
            let want = ops::binary_in(&blitz_kernels::Context::default(), op, &ac, sa, &bc, sb, &os).unwrap();
            assert_close(
                &what,
                &ops::binary_in(&blitz_kernels::Context::default(), op, &ag, sa, &bg, sb, &os).unwrap(),
                &want,
                1e-5,
            );
            let (wa, wb) = ops::binary_backward_in(
                &blitz_kernels::Context::default(),
                op,
                &ac,
                sa,
                &bc,
                sb,
                &gc,
                &os,
                (true, true),
            )
            .unwrap();
            let (ga, gb) = ops::binary_backward_in(
                &blitz_kernels::Context::default(),
                op,
                &ag,
                sa,
                &bg,
                sb,
                &gg,
                &os,
                (true, true),
            )
            .unwrap();
            assert_close(&format!("{what} grad a"), &ga.unwrap(), &wa.unwrap(), 1e-5);
            assert_close(&format!("{what} grad b"), &gb.unwrap(), &wb.unwrap(), 1e-5);
            let (only_a, none_b) = ops::binary_backward_in(
                &blitz_kernels::Context::default(),
                op,
                &ag,
                sa,
                &bg,
                sb,
                &gg,
                &os,
                (true, false),
            )
            .unwrap();
            assert!(only_a.is_some() && none_b.is_none());
        }
    }
}

#[test]
fn reductions() {
    if !gpu_or_skip("reductions") {
        return;
    }
    let x = values(3 * 50 * 7, 3, -1.0, 1.0);
    let (xc, xg) = pair(&x);
    assert_close(
        "sum_all",
        &ops::sum_all_in(&blitz_kernels::Context::default(), &xg).unwrap(),
        &ops::sum_all_in(&blitz_kernels::Context::default(), &xc).unwrap(),
        1e-5,
    );
    let big = values(300_001, 4, -1.0, 1.0);
    let (bc, bg) = pair(&big);
    assert_close(
        "sum_all big",
        &ops::sum_all_in(&blitz_kernels::Context::default(), &bg).unwrap(),
        &ops::sum_all_in(&blitz_kernels::Context::default(), &bc).unwrap(),
        1e-5,
    );
    let (sc, sg) = (
        ops::sum_squares_in(&blitz_kernels::Context::default(), &bc).unwrap(),
        ops::sum_squares_in(&blitz_kernels::Context::default(), &bg).unwrap(),
    );
    assert!((sc - sg).abs() <= 1e-9 * sc, "sum_squares {sg} vs {sc}");
    for (o, l, i) in [(3, 50, 7), (1, 1050, 1), (1050, 1, 1), (21, 50, 1)] {
        assert_close(
            "sum_axis",
            &ops::sum_axis_in(&blitz_kernels::Context::default(), &xg, o, l, i).unwrap(),
            &ops::sum_axis_in(&blitz_kernels::Context::default(), &xc, o, l, i).unwrap(),
            1e-5,
        );
        let (mc, ac) = ops::max_axis_in(&blitz_kernels::Context::default(), &xc, o, l, i).unwrap();
        let (mg, agpu) = ops::max_axis_in(&blitz_kernels::Context::default(), &xg, o, l, i).unwrap();
        assert_close("max_axis", &mg, &mc, 0.0);
        assert_eq!(agpu, ac, "arg-max indices");
        let g = values(o * i, 5, -1.0, 1.0);
        let (gc, gg) = pair(&g);
        let want = ops::max_axis_backward_in(&blitz_kernels::Context::default(), &gc, &ac, o, l, i).unwrap();
        assert_close(
            "max_axis backward",
            &ops::max_axis_backward_in(&blitz_kernels::Context::default(), &gg, &agpu, o, l, i).unwrap(),
            &want,
            0.0,
        );
        let want = ops::expand_axis_in(&blitz_kernels::Context::default(), &gc, o, l, i).unwrap();
        assert_close(
            "expand_axis",
            &ops::expand_axis_in(&blitz_kernels::Context::default(), &gg, o, l, i).unwrap(),
            &want,
            0.0,
        );
    }
    let shapes: &[(&[usize], &[usize])] = &[
        (&[3, 50, 7], &[7]),
        (&[3, 50, 7], &[50, 1]),
        (&[3, 50, 7], &[3, 1, 7]),
        (&[3, 50, 7], &[]),
        (&[3, 50, 7], &[1, 1, 1]),
    ];
    for &(from, to) in shapes {
        let want = ops::sum_to_shape_in(&blitz_kernels::Context::default(), &xc, from, to).unwrap();
        assert_close(
            &format!("sum_to_shape {from:?}->{to:?}"),
            &ops::sum_to_shape_in(&blitz_kernels::Context::default(), &xg, from, to).unwrap(),
            &want,
            1e-5,
        );
    }
}

#[test]
fn both_gemms_match_the_cpu_in_every_form() {
    if !gpu_or_skip("both_gemms_match_the_cpu_in_every_form") {
        return;
    }
    for &(batch, m, k, n) in &[(1, 33, 47, 29), (3, 16, 16, 16), (1, 1, 70, 5), (2, 64, 1, 40), (1, 128, 784, 100)] {
        let a = values(batch * m * k, 7, -1.0, 1.0);
        let b = values(batch * k * n, 8, -1.0, 1.0);
        let ((ac, ag), (bc, bg)) = (pair(&a), pair(&b));
        for t in [Transpose::NN, Transpose::NT, Transpose::TN, Transpose { a: true, b: true }] {
            let want = ops::gemm_in(&blitz_kernels::Context::default(), &ac, &bc, batch, m, k, n, t).unwrap();
            for backend in [GemmBackend::Cublas, GemmBackend::Tiled] {
                let ctx = blitz_kernels::Context { gpu_gemm: backend, ..Default::default() };
                let got = ops::gemm_in(&ctx, &ag, &bg, batch, m, k, n, t).unwrap();
                assert_close(&format!("{backend:?} {batch}x{m}x{k}x{n} {t:?}"), &got, &want, 1e-5);
            }
        }
    }
    // The context's choice reaches ops::gemm_in.
    let a = values(6, 9, -1.0, 1.0);
    let ((ac, ag), (bc, bg)) = (pair(&a), pair(&a));
    let want = ops::gemm_in(&blitz_kernels::Context::default(), &ac, &bc, 1, 2, 3, 2, Transpose::NT).unwrap();
    let tiled_ctx = blitz_kernels::Context { gpu_gemm: GemmBackend::Tiled, ..Default::default() };
    let tiled = ops::gemm_in(&tiled_ctx, &ag, &bg, 1, 2, 3, 2, Transpose::NT);
    assert_close("context asks for tiled", &tiled.unwrap(), &want, 1e-5);
}

#[test]
fn softmax_and_log_softmax() {
    if !gpu_or_skip("softmax_and_log_softmax") {
        return;
    }
    for n in [10, 333, 1000] {
        let x = values(17 * n, 11, -30.0, 30.0);
        let g = values(17 * n, 12, -1.0, 1.0);
        let ((xc, xg), (gc, gg)) = (pair(&x), pair(&g));
        for log in [false, true] {
            let (yc, yg) = (
                ops::softmax_in(&blitz_kernels::Context::default(), &xc, n, log).unwrap(),
                ops::softmax_in(&blitz_kernels::Context::default(), &xg, n, log).unwrap(),
            );
            assert_close(&format!("softmax n={n} log={log}"), &yg, &yc, 1e-5);
            let want = ops::softmax_backward_in(&blitz_kernels::Context::default(), &yc, &gc, n, log).unwrap();
            assert_close(
                &format!("softmax backward n={n} log={log}"),
                &ops::softmax_backward_in(&blitz_kernels::Context::default(), &yg, &gg, n, log).unwrap(),
                &want,
                1e-4,
            );
        }
    }
}

#[test]
fn layout_ops() {
    if !gpu_or_skip("layout_ops") {
        return;
    }
    let x = values(2 * 3 * 4 * 5, 13, -1.0, 1.0);
    let (xc, xg) = pair(&x);
    for perm in [[0, 1, 2, 3], [3, 2, 1, 0], [1, 0, 3, 2], [2, 0, 3, 1]] {
        let want = ops::permute_in(&blitz_kernels::Context::default(), &xc, &[2, 3, 4, 5], &perm).unwrap();
        assert_close(
            &format!("permute {perm:?}"),
            &ops::permute_in(&blitz_kernels::Context::default(), &xg, &[2, 3, 4, 5], &perm).unwrap(),
            &want,
            0.0,
        );
    }
    let (o, a, i) = (6, 4, 5);
    let want = ops::slice_axis_in(&blitz_kernels::Context::default(), &xc, o, a, i, 1, 2).unwrap();
    assert_close(
        "slice",
        &ops::slice_axis_in(&blitz_kernels::Context::default(), &xg, o, a, i, 1, 2).unwrap(),
        &want,
        0.0,
    );
    let g = values(o * 2 * i, 14, -1.0, 1.0);
    let (gc, gg) = pair(&g);
    let want = ops::slice_axis_backward_in(&blitz_kernels::Context::default(), &gc, o, a, i, 1, 2).unwrap();
    assert_close(
        "slice backward",
        &ops::slice_axis_backward_in(&blitz_kernels::Context::default(), &gg, o, a, i, 1, 2).unwrap(),
        &want,
        0.0,
    );
    let p2 = values(o * 3 * i, 15, -1.0, 1.0);
    let (pc, pg) = pair(&p2);
    let want = ops::concat_axis_in(&blitz_kernels::Context::default(), &[&xc, &pc], &[4, 3], o, i).unwrap();
    assert_close(
        "concat",
        &ops::concat_axis_in(&blitz_kernels::Context::default(), &[&xg, &pg], &[4, 3], o, i).unwrap(),
        &want,
        0.0,
    );
    let idx = [3, 0, 3, 1, 3];
    let want = ops::index_select_in(&blitz_kernels::Context::default(), &xc, o, a, i, &idx).unwrap();
    assert_close(
        "index_select",
        &ops::index_select_in(&blitz_kernels::Context::default(), &xg, o, a, i, &idx).unwrap(),
        &want,
        0.0,
    );
    let g = values(o * idx.len() * i, 16, -1.0, 1.0);
    let (gc, gg) = pair(&g);
    let want = ops::index_select_backward_in(&blitz_kernels::Context::default(), &gc, o, a, i, &idx).unwrap();
    assert_close(
        "index_select backward",
        &ops::index_select_backward_in(&blitz_kernels::Context::default(), &gg, o, a, i, &idx).unwrap(),
        &want,
        1e-6,
    );
    let rows_idx = [4, 0, 19, 7, 7, 2];
    let want = ops::gather_rows_in(&blitz_kernels::Context::default(), &xc, 20, &rows_idx).unwrap();
    assert_close(
        "gather_rows",
        &ops::gather_rows_in(&blitz_kernels::Context::default(), &xg, 20, &rows_idx).unwrap(),
        &want,
        0.0,
    );
    let g = values(rows_idx.len(), 17, -1.0, 1.0);
    let (gc, gg) = pair(&g);
    let want = ops::gather_rows_backward_in(&blitz_kernels::Context::default(), &gc, 20, &rows_idx).unwrap();
    assert_close(
        "gather_rows backward",
        &ops::gather_rows_backward_in(&blitz_kernels::Context::default(), &gg, 20, &rows_idx).unwrap(),
        &want,
        0.0,
    );
}

#[test]
fn philox_normals_and_the_fused_reparameterisation_match_the_cpu() {
    if !gpu_or_skip("philox_normals_and_the_fused_reparameterisation_match_the_cpu") {
        return;
    }
    for &(seed, offset, len) in &[(0u64, 0u64, 1usize), (7, 3, 10), (0xdead_beef_cafe, 1 << 33, 4097), (42, 5, 100_003)]
    {
        let want = ops::normal_in(&blitz_kernels::Context::default(), Device::Cpu, seed, offset, len).unwrap();
        let got = ops::normal_in(&blitz_kernels::Context::default(), GPU, seed, offset, len).unwrap();
        let (g, w) = (got.to_vec().unwrap(), want.to_vec().unwrap());
        let worst = g.iter().zip(&w).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst <= 2e-6, "normals seed {seed} offset {offset}: max |gpu - cpu| = {worst}");
        let mu = values(len, 18, -1.0, 1.0);
        let rho = values(len, 19, -6.0, 1.0);
        let gr = values(len, 20, -1.0, 1.0);
        let ((mc, mg), (rc, rg), (gc, gg)) = (pair(&mu), pair(&rho), pair(&gr));
        let want = ops::reparam_forward_in(&blitz_kernels::Context::default(), &mc, &rc, seed, offset).unwrap();
        assert_close(
            "reparam forward",
            &ops::reparam_forward_in(&blitz_kernels::Context::default(), &mg, &rg, seed, offset).unwrap(),
            &want,
            1e-5,
        );
        let (wm, wr) = ops::reparam_backward_in(&blitz_kernels::Context::default(), &rc, &gc, seed, offset).unwrap();
        let (gm, grr) = ops::reparam_backward_in(&blitz_kernels::Context::default(), &rg, &gg, seed, offset).unwrap();
        assert_close("reparam grad mu", &gm, &wm, 0.0);
        assert_close("reparam grad rho", &grr, &wr, 1e-5);
        let want = ops::reparam_log_posterior_in(&blitz_kernels::Context::default(), &rc, seed, offset).unwrap();
        assert_close(
            "log posterior",
            &ops::reparam_log_posterior_in(&blitz_kernels::Context::default(), &rg, seed, offset).unwrap(),
            &want,
            1e-5,
        );
    }
}

#[test]
fn optimizer_steps_and_buffers() {
    if !gpu_or_skip("optimizer_steps_and_buffers") {
        return;
    }
    let n = 5000;
    let p = values(n, 21, -1.0, 1.0);
    let g = values(n, 22, -1.0, 1.0);
    let h = AdamStep { step_size: 1e-2, beta1: 0.9, beta2: 0.999, eps_hat: 1e-8, weight_decay: 1e-3 };
    let ((mut pc, mut pg), (gc, gg)) = (pair(&p), pair(&g));
    let (mut mc, mut mg) = pair(&vec![0.0; n]);
    let (mut vc, mut vg) = pair(&vec![0.0; n]);
    let alias = pg.clone(); // a clone must not see the in-place update
    for _ in 0..3 {
        ops::adam_step_in(&blitz_kernels::Context::default(), &mut pc, &mut mc, &mut vc, &gc, h).unwrap();
        ops::adam_step_in(&blitz_kernels::Context::default(), &mut pg, &mut mg, &mut vg, &gg, h).unwrap();
    }
    assert_close("adam p", &pg, &pc, 1e-5);
    assert_close("adam v", &vg, &vc, 1e-5);
    assert_eq!(alias.to_vec().unwrap(), p, "in-place update leaked into a clone");
    let (mut bc, mut bg) = pair(&vec![0.0; n]);
    for _ in 0..3 {
        ops::sgd_step_in(&blitz_kernels::Context::default(), &mut pc, &mut bc, &gc, 0.1, 0.9, 1e-3).unwrap();
        ops::sgd_step_in(&blitz_kernels::Context::default(), &mut pg, &mut bg, &gg, 0.1, 0.9, 1e-3).unwrap();
    }
    assert_close("sgd p", &pg, &pc, 1e-5);
    ops::scale_inplace_in(&blitz_kernels::Context::default(), &mut pc, 0.5).unwrap();
    ops::scale_inplace_in(&blitz_kernels::Context::default(), &mut pg, 0.5).unwrap();
    assert_close("scale", &pg, &pc, 1e-5);
    // The optimizers' batched guard: one read for all gradients, lowest bad index.
    let host: Vec<Vec<f32>> = (0..4).map(|i| values(300 + i, 30 + i as u64, -2.0, 2.0)).collect();
    let mut bufs: Vec<Buffer> = host.iter().map(|v| Buffer::from_host(v.clone(), GPU).unwrap()).collect();
    let gpu: Vec<&Buffer> = bufs.iter().collect();
    let gpu_sums = ops::sum_squares_many_in(&blitz_kernels::Context::default(), &gpu).unwrap();
    for (v, &s) in host.iter().zip(&gpu_sums) {
        let want: f64 = v.iter().map(|&x| x as f64 * x as f64).sum();
        assert!((s - want).abs() <= 1e-9 * want, "sum_squares_many {s} vs {want}");
    }
    assert_eq!(
        ops::first_non_finite_in(&blitz_kernels::Context::default(), &bufs.iter().collect::<Vec<_>>()).unwrap(),
        None
    );
    bufs[3] = Buffer::from_host(vec![1.0, f32::INFINITY], GPU).unwrap();
    bufs[2] = Buffer::from_host(vec![f32::NAN, 1.0], GPU).unwrap();
    let cpu_bad = Buffer::Cpu(vec![f32::NAN]);
    let mixed: Vec<&Buffer> = vec![&bufs[0], &bufs[1], &bufs[2], &bufs[3], &cpu_bad];
    assert_eq!(ops::first_non_finite_in(&blitz_kernels::Context::default(), &mixed).unwrap(), Some(2));
    let cpu_first: Vec<&Buffer> = vec![&cpu_bad, &bufs[0], &bufs[2]];
    assert_eq!(ops::first_non_finite_in(&blitz_kernels::Context::default(), &cpu_first).unwrap(), Some(0));
    let sums = ops::sum_squares_many_in(
        &blitz_kernels::Context::default(),
        &[&bufs[0], &Buffer::Cpu(vec![3.0, 4.0]), &bufs[1]],
    )
    .unwrap();
    assert_eq!(sums[1], 25.0);
    assert!(
        (sums[0] - gpu_sums[0]).abs() <= 1e-12 * gpu_sums[0] && (sums[2] - gpu_sums[1]).abs() <= 1e-12 * gpu_sums[1]
    );
    assert_eq!(Buffer::full(7, 2.5, GPU).unwrap().to_vec().unwrap(), vec![2.5; 7]);
    assert_eq!(Buffer::zeros(0, GPU).unwrap().to_vec().unwrap(), Vec::<f32>::new());
    eprintln!("device: {}", cuda::device::name(0).unwrap());
}

#[test]
fn convolution_and_pooling_kernels() {
    use blitz_kernels::ops;
    use blitz_kernels::{ConvGeom, PoolGeom};
    if !gpu_or_skip("convolution_and_pooling_kernels") {
        return;
    }
    let g = ConvGeom {
        batch: 2,
        in_channels: 4,
        out_channels: 6,
        groups: 2,
        input: [3, 7, 6],
        kernel: [2, 3, 2],
        stride: [1, 2, 1],
        padding: [1, 1, 0],
        dilation: [1, 1, 2],
    };
    let ((xc, xg), (wc, wg), (bc, bg)) = (
        pair(&values(g.input_len(), 23, -1.0, 1.0)),
        pair(&values(g.weight_len(), 24, -1.0, 1.0)),
        pair(&values(6, 25, -1.0, 1.0)),
    );
    let want = ops::conv_forward_in(&blitz_kernels::Context::default(), &xc, &wc, Some(&bc), &g).unwrap();
    assert_close(
        "conv forward",
        &ops::conv_forward_in(&blitz_kernels::Context::default(), &xg, &wg, Some(&bg), &g).unwrap(),
        &want,
        1e-5,
    );
    let (gc, gg) = pair(&values(g.output_len(), 26, -1.0, 1.0));
    let (dxc, dwc, dbc) =
        ops::conv_backward_in(&blitz_kernels::Context::default(), &xc, &wc, &gc, &g, (true, true, true)).unwrap();
    let (dxg, dwg, dbg) =
        ops::conv_backward_in(&blitz_kernels::Context::default(), &xg, &wg, &gg, &g, (true, true, true)).unwrap();
    assert_close("conv dx", &dxg.unwrap(), &dxc.unwrap(), 1e-5);
    assert_close("conv dw", &dwg.unwrap(), &dwc.unwrap(), 1e-5);
    assert_close("conv db", &dbg.unwrap(), &dbc.unwrap(), 1e-5);
    let pg = PoolGeom { planes: 5, input: [2, 7, 9], kernel: [1, 3, 3], stride: [1, 2, 2], padding: [0, 1, 1] };
    let ((pc, pgpu), (gyc, gyg)) =
        (pair(&values(pg.input_len(), 27, -1.0, 1.0)), pair(&values(pg.output_len(), 28, -1.0, 1.0)));
    let yc = ops::max_pool_forward_in(&blitz_kernels::Context::default(), &pc, &pg).unwrap();
    let yg = ops::max_pool_forward_in(&blitz_kernels::Context::default(), &pgpu, &pg).unwrap();
    assert_close("max pool", &yg, &yc, 0.0);
    let want = ops::max_pool_backward_in(&blitz_kernels::Context::default(), &pc, &gyc, &pg).unwrap();
    assert_close(
        "max pool backward",
        &ops::max_pool_backward_in(&blitz_kernels::Context::default(), &pgpu, &gyg, &pg).unwrap(),
        &want,
        1e-6,
    );
    let want = ops::avg_pool_forward_in(&blitz_kernels::Context::default(), &pc, &pg).unwrap();
    assert_close(
        "avg pool",
        &ops::avg_pool_forward_in(&blitz_kernels::Context::default(), &pgpu, &pg).unwrap(),
        &want,
        1e-5,
    );
    let want = ops::avg_pool_backward_in(&blitz_kernels::Context::default(), &gyc, &pg).unwrap();
    assert_close(
        "avg pool backward",
        &ops::avg_pool_backward_in(&blitz_kernels::Context::default(), &gyg, &pg).unwrap(),
        &want,
        1e-5,
    );
}
