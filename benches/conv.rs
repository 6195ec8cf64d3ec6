//! Convolution at LeNet's two layers (batch 64: 1→6 channels on 28×28 and
//! 6→16 on 12×12, 5×5 kernels) and one layer where the GEMM should win
//! (batch 32, 16→32 channels on 16×16, 3×3, padding 1): the direct
//! convolution against im2col + GEMM, forward and backward; then LeNet's
//! first 2×2 max pooling, forward and backward.
//!
//! ```text
//! cargo bench --bench conv
//! ```

use blitz::kernels::context::Split;
use blitz::kernels::cpu::conv::{backward_unfolded, forward_unfolded};
use blitz::kernels::cpu::conv_direct;
use blitz::kernels::cpu::pool;
use blitz::kernels::ConvGeom;
use blitz::kernels::PoolGeom;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

fn geom(batch: usize, c: usize, oc: usize, hw: usize, k: usize, pad: usize) -> ConvGeom {
    ConvGeom {
        batch,
        in_channels: c,
        out_channels: oc,
        groups: 1,
        input: [1, hw, hw],
        kernel: [1, k, k],
        stride: [1; 3],
        padding: [0, pad, pad],
        dilation: [1; 3],
    }
}

fn data(n: usize, salt: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 37 + salt) % 101) as f32 / 50.0 - 1.0).collect()
}

fn bench_conv(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv");
    let shapes = [
        ("lenet1", geom(64, 1, 6, 28, 5, 0)),
        ("lenet2", geom(64, 6, 16, 12, 5, 0)),
        ("c16_c32_k3", geom(32, 16, 32, 16, 3, 1)),
    ];
    for (name, g) in shapes {
        let (x, w, b, gy) =
            (data(g.input_len(), 1), data(g.weight_len(), 2), data(g.out_channels, 3), data(g.output_len(), 4));
        let mut y = vec![0f32; g.output_len()];
        let macs = g.output_len() * g.weight_len() / g.out_channels;
        // The first layer's input is data: its backward needs no input gradient.
        let need = (g.in_channels > 1, true, true);
        group.throughput(Throughput::Elements(macs as u64));
        group.bench_function(BenchmarkId::new("forward_direct", name), |bch| {
            bch.iter(|| conv_direct::forward(Split::default(), black_box(&x), &w, Some(&b), &g, &mut y))
        });
        group.bench_function(BenchmarkId::new("forward_im2col", name), |bch| {
            bch.iter(|| forward_unfolded(Split::default(), black_box(&x), &w, Some(&b), &g, &mut y))
        });
        group.bench_function(BenchmarkId::new("backward_direct", name), |bch| {
            bch.iter(|| conv_direct::backward(Split::default(), black_box(&x), &w, &gy, &g, need))
        });
        group.bench_function(BenchmarkId::new("backward_im2col", name), |bch| {
            bch.iter(|| backward_unfolded(Split::default(), black_box(&x), &w, &gy, &g, need))
        });
    }
    group.finish();
}

fn bench_pool(c: &mut Criterion) {
    let mut group = c.benchmark_group("max_pool_2x2");
    let g = PoolGeom { planes: 64 * 6, input: [1, 24, 24], kernel: [1, 2, 2], stride: [1, 2, 2], padding: [0; 3] };
    // After a ReLU: about half the inputs are zero, so windows tie often.
    let x: Vec<f32> = data(g.input_len(), 5).into_iter().map(|v| v.max(0.0)).collect();
    let gy = data(g.output_len(), 6);
    let (mut y, mut dx) = (vec![0f32; g.output_len()], vec![0f32; g.input_len()]);
    group.throughput(Throughput::Elements(g.input_len() as u64));
    group.bench_function("forward_lenet1", |bch| {
        bch.iter(|| pool::max_forward(Split::default(), black_box(&x), &g, &mut y))
    });
    group.bench_function("backward_lenet1", |bch| {
        bch.iter(|| pool::max_backward(Split::default(), black_box(&x), &gy, &g, &mut dx))
    });
    group.finish();
}

criterion_group!(benches, bench_conv, bench_pool);
criterion_main!(benches);
