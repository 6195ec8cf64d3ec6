//! The reparameterisation trick on 4M parameters (a 2048x2048 layer), forward
//! and backward, fused (one kernel, eps regenerated in backward) against the
//! unfused graph (normal draw, softplus, mul, add as separate tape ops).

use blitz::kernels::{ops, Device};
use blitz::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion};

const N: usize = 2048 * 2048;

fn bench_reparam(c: &mut Criterion) {
    let mu = Param::new("mu", Tensor::full(&[N], 0.01).unwrap());
    let rho = Param::new("rho", Tensor::full(&[N], -7.0).unwrap());
    let mut group = c.benchmark_group("reparam_4M_fwd_bwd");
    group.sample_size(10);
    group.bench_function("fused", |b| {
        b.iter(|| {
            let tape = Tape::new(0);
            let (seed, off) = tape.draw(N);
            let w = tape.param(&mu).reparam_sample(&tape.param(&rho), seed, off).unwrap();
            tape.backward(&w.sum().unwrap()).unwrap()
        })
    });
    group.bench_function("unfused", |b| {
        b.iter(|| {
            let tape = Tape::new(0);
            let (seed, off) = tape.draw(N);
            let eps = tape.constant(
                Tensor::from_buffer(
                    ops::normal_in(&blitz::kernels::Context::default(), Device::Cpu, seed, off, N).unwrap(),
                    &[N],
                )
                .unwrap(),
            );
            let sigma = tape.param(&rho).softplus().unwrap();
            let w = tape.param(&mu).add(&sigma.mul(&eps).unwrap()).unwrap();
            tape.backward(&w.sum().unwrap()).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_reparam);
criterion_main!(benches);
