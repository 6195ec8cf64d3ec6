//! Convolution at LeNet's two layers (batch 64: 1→6 channels on 28×28 and
//! 6→16 on 12×12, 5×5 kernels) and one layer where the GEMM should win
//! (batch 32, 16→32 channels on 16×16, 3×3, padding 1): the direct
//! convolution against im2col + GEMM, forward and backward; then LeNet's
//! first 2×2 max pooling, forward and backward. Through `ops` with the
//! variant in the context.
//!
//! ```text
//! cargo bench --bench conv
//! ```

use blitz::kernels::context::{Context, ConvVariant};
use blitz::kernels::{ops, Buffer, ConvGeom, PoolGeom};
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

fn data(n: usize, salt: usize) -> Buffer {
    Buffer::Cpu((0..n).map(|i| ((i * 37 + salt) % 101) as f32 / 50.0 - 1.0).collect())
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
        let macs = g.output_len() * g.weight_len() / g.out_channels;
        // The first layer's input is data: its backward needs no input gradient.
        let need = (g.in_channels > 1, true, true);
        group.throughput(Throughput::Elements(macs as u64));
        for (variant, label) in [(ConvVariant::Direct, "direct"), (ConvVariant::Im2col, "im2col")] {
            let ctx = Context { conv: variant, ..Context::default() };
            group.bench_function(BenchmarkId::new(format!("forward_{label}"), name), |bch| {
                bch.iter(|| ops::conv_forward_in(&ctx, black_box(&x), &w, Some(&b), &g).expect("checked shapes"))
            });
            group.bench_function(BenchmarkId::new(format!("backward_{label}"), name), |bch| {
                bch.iter(|| ops::conv_backward_in(&ctx, black_box(&x), &w, &gy, &g, need).expect("checked shapes"))
            });
        }
    }
    group.finish();
}

fn bench_pool(c: &mut Criterion) {
    let mut group = c.benchmark_group("max_pool_2x2");
    let g = PoolGeom { planes: 64 * 6, input: [1, 24, 24], kernel: [1, 2, 2], stride: [1, 2, 2], padding: [0; 3] };
    // After a ReLU: about half the inputs are zero, so windows tie often.
    let x = Buffer::Cpu(data(g.input_len(), 5).to_vec().expect("a host buffer").iter().map(|v| v.max(0.0)).collect());
    let gy = data(g.output_len(), 6);
    group.throughput(Throughput::Elements(g.input_len() as u64));
    group.bench_function("forward_lenet1", |bch| {
        bch.iter(|| ops::max_pool_forward_in(&Context::default(), black_box(&x), &g).expect("checked shapes"))
    });
    group.bench_function("backward_lenet1", |bch| {
        bch.iter(|| ops::max_pool_backward_in(&Context::default(), black_box(&x), &gy, &g).expect("checked shapes"))
    });
    group.finish();
}

criterion_group!(benches, bench_conv, bench_pool);
criterion_main!(benches);
