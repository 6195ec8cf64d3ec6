//! GEMM at the shapes the workloads use: a Boston batch through the first
//! layer (16x13x512), an MNIST batch through 784-400 (128x784x400), and a
//! square reference (256³); each in the three forms forward/backward need.
//! Then the matrix-vector shapes (one output column or one sample), where
//! `gemm` takes its dot-product path, against `matrixmultiply`'s packed kernel.

use blitz::kernels::cpu::gemm::{gemm, gemm_packed};
use blitz::kernels::Transpose;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

fn bench_gemm(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm");
    for &(m, k, n) in &[(16usize, 13usize, 512usize), (128, 784, 400), (256, 256, 256)] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 17) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 13) as f32 * 0.1).collect();
        let mut out = vec![0f32; m * n];
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        for (name, t) in [("NN", Transpose::NN), ("NT", Transpose::NT), ("TN", Transpose::TN)] {
            // The transposed forms read the same buffers with swapped strides.
            group.bench_with_input(BenchmarkId::new(name, format!("{m}x{k}x{n}")), &t, |bch, &t| {
                bch.iter(|| gemm(m, k, n, 1.0, black_box(&a), black_box(&b), 0.0, &mut out, t))
            });
        }
    }
    group.finish();
}

fn bench_matrix_vector(c: &mut Criterion) {
    let mut group = c.benchmark_group("matrix_vector");
    // (m, k, n, form): the Boston output layer on a batch and on the 127 test
    // rows (x·Wᵀ with one output), one MNIST sample through 784-400 (x·Wᵀ).
    for &(m, k, n) in &[(16usize, 512usize, 1usize), (127, 512, 1), (1, 784, 400)] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 17) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 13) as f32 * 0.1).collect();
        let mut out = vec![0f32; m * n];
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        let shape = format!("{m}x{k}x{n} NT");
        group.bench_function(BenchmarkId::new("dot_path", &shape), |bch| {
            bch.iter(|| gemm(m, k, n, 1.0, black_box(&a), black_box(&b), 0.0, &mut out, Transpose::NT))
        });
        group.bench_function(BenchmarkId::new("packed_sgemm", &shape), |bch| {
            bch.iter(|| gemm_packed(m, k, n, 1.0, black_box(&a), black_box(&b), 0.0, &mut out, Transpose::NT))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_gemm, bench_matrix_vector);
criterion_main!(benches);
