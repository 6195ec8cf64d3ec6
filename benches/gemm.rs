//! GEMM at the shapes the workloads use: a Boston batch through the first
//! layer (16x13x512), an MNIST batch through 784-400 (128x784x400), and a
//! square reference (256³); each in the three forms forward/backward need.
//! Then the matrix-vector shapes (one output column or one sample), where
//! the default variant takes its dot-product path, against `matrixmultiply`'s
//! packed kernel. Through `ops::gemm_in` with the variant in the context (the
//! output buffer comes from the kernels' pool of dropped buffers).

use blitz::kernels::context::{Context, GemmVariant};
use blitz::kernels::{ops, Buffer, Transpose};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

fn product(ctx: &Context, a: &Buffer, b: &Buffer, (m, k, n): (usize, usize, usize), t: Transpose) -> Buffer {
    ops::gemm_in(ctx, black_box(a), black_box(b), 1, m, k, n, t).expect("a product of checked shapes")
}

fn bench_gemm(c: &mut Criterion) {
    let auto = Context::default();
    let mut group = c.benchmark_group("gemm");
    for &(m, k, n) in &[(16usize, 13usize, 512usize), (128, 784, 400), (256, 256, 256)] {
        let a = Buffer::Cpu((0..m * k).map(|i| (i % 17) as f32 * 0.1).collect());
        let b = Buffer::Cpu((0..k * n).map(|i| (i % 13) as f32 * 0.1).collect());
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        for (name, t) in [("NN", Transpose::NN), ("NT", Transpose::NT), ("TN", Transpose::TN)] {
            // The transposed forms read the same buffers with swapped strides.
            group.bench_with_input(BenchmarkId::new(name, format!("{m}x{k}x{n}")), &t, |bch, &t| {
                bch.iter(|| product(&auto, &a, &b, (m, k, n), t))
            });
        }
    }
    group.finish();
}

fn bench_matrix_vector(c: &mut Criterion) {
    let auto = Context::default();
    let packed = Context { gemm: GemmVariant::Packed, ..Context::default() };
    let mut group = c.benchmark_group("matrix_vector");
    // (m, k, n, form): the Boston output layer on a batch and on the 127 test
    // rows (x·Wᵀ with one output), one MNIST sample through 784-400 (x·Wᵀ).
    for &(m, k, n) in &[(16usize, 512usize, 1usize), (127, 512, 1), (1, 784, 400)] {
        let a = Buffer::Cpu((0..m * k).map(|i| (i % 17) as f32 * 0.1).collect());
        let b = Buffer::Cpu((0..k * n).map(|i| (i % 13) as f32 * 0.1).collect());
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        let shape = format!("{m}x{k}x{n} NT");
        group.bench_function(BenchmarkId::new("dot_path", &shape), |bch| {
            bch.iter(|| product(&auto, &a, &b, (m, k, n), Transpose::NT))
        });
        group.bench_function(BenchmarkId::new("packed_sgemm", &shape), |bch| {
            bch.iter(|| product(&packed, &a, &b, (m, k, n), Transpose::NT))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_gemm, bench_matrix_vector);
criterion_main!(benches);
