//! GPU micro-benchmarks for the GPU issue: the fused sampler (both
//! [`SamplerMath`] variants) against a device-to-device copy (fraction of the
//! achievable memory bandwidth), and
//! the hand-written tiled GEMM against cuBLAS (FP32). Needs `--features cuda`.
//!
//! ```text
//! cargo run --release --features cuda --example gpu_bench [-- --weights 67108864 --reps 20]
//! ```

use blitz::kernels::context::{Context, GemmBackend, SamplerMath};
use blitz::kernels::cuda::{self, CudaBuffer};
use blitz::kernels::{ops, Buffer, PriorSpec};
use blitz::kernels::{Error, Result, Transpose};
use std::time::Instant;

/// Median milliseconds of `reps` timed runs of `f` (after two warm-ups), each synchronised.
fn time_ms(reps: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    for _ in 0..2 {
        f()?;
    }
    cuda::device::synchronize(0)?;
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps {
        let s = Instant::now();
        f()?;
        cuda::device::synchronize(0)?;
        t.push(s.elapsed().as_secs_f64() * 1e3);
    }
    t.sort_by(f64::total_cmp);
    Ok(t[reps / 2])
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: usize| -> usize {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (n, reps) = (arg("--weights", 64 << 20), arg("--reps", 20));
    cuda::device::available(0)?;
    println!("device: {}", cuda::device::name(0)?);

    // The sampler: w = mu + softplus(rho)·eps (Philox in registers) and its
    // log-posterior reduction, against copying the same number of floats.
    let mu = CudaBuffer::full(n, 0.01, 0)?;
    let (mu_b, rho_b) = (Buffer::Cuda(mu.clone()), Buffer::Cuda(CudaBuffer::full(n, -7.0, 0)?));
    // The copy's output is allocated once; the ops allocate theirs per call
    // (through the public ops, as the layers call them).
    let mut dst = CudaBuffer::full(n, 0.0, 0)?;
    let with = |math| Context { gpu_sampler: math, ..Context::default() };
    // Half a second of the kernels below first: a GPU coming out of idle runs
    // at lower clocks. Each timed call synchronises, as a training step does,
    // so what the call costs around its kernels (allocations) is counted too.
    let warm = Instant::now();
    while warm.elapsed().as_secs_f64() < 0.5 {
        ops::reparam_forward_in(&Context::default(), &mu_b, &rho_b, 7, 0)?;
        cuda::device::synchronize(0)?;
    }
    let copy_ms = time_ms(reps, || dst.copy_from(&mu))?;
    let gb = |bytes: f64, ms: f64| bytes / ms / 1e6;
    // Read 4 + write 4 bytes per float.
    let copy_bw = gb(8.0 * n as f64, copy_ms);
    // The fused draw + Monte Carlo KL uses the scale-mixture prior of the peer's sampler workload.
    let prior = PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.002 };
    for math in [SamplerMath::Fast, SamplerMath::Exact] {
        let ctx = with(math);
        let sample_ms = time_ms(reps, || ops::reparam_forward_in(&ctx, &mu_b, &rho_b, 7, 0).map(drop))?;
        let lq_ms = time_ms(reps, || ops::reparam_log_posterior_in(&ctx, &rho_b, 7, 0).map(drop))?;
        // w written, KL reduced, one pass.
        let skl_ms = time_ms(reps, || ops::sample_kl_forward_in(&ctx, &mu_b, &rho_b, 7, 0, prior).map(drop))?;
        let sample_bw = gb(12.0 * n as f64, sample_ms); // read mu, rho; write w
        let skl_bw = gb(12.0 * n as f64, skl_ms);
        println!(
            "{{\"bench\": \"sampler\", \"math\": \"{math:?}\", \"weights\": {n}, \"copy_ms\": {copy_ms:.4}, \"copy_gb_s\": {copy_bw:.1}, \"sample_ms\": {sample_ms:.4}, \"sample_gb_s\": {sample_bw:.1}, \"sample_fraction_of_copy_bw\": {:.3}, \"log_posterior_ms\": {lq_ms:.4}, \"sample_kl_ms\": {skl_ms:.4}, \"sample_kl_gb_s\": {skl_bw:.1}, \"sample_kl_fraction_of_copy_bw\": {:.3}}}",
            sample_bw / copy_bw, skl_bw / copy_bw
        );
    }

    for &s in &[1024usize, 4096] {
        let a = Buffer::Cuda(CudaBuffer::full(s * s, 0.5, 0)?);
        let b = Buffer::Cuda(CudaBuffer::full(s * s, 0.25, 0)?);
        let mut out = Vec::new();
        for backend in [GemmBackend::Cublas, GemmBackend::Tiled] {
            let ctx = Context { gpu_gemm: backend, ..Context::default() };
            let ms = time_ms(reps.min(10), || ops::gemm_in(&ctx, &a, &b, 1, s, s, s, Transpose::NN).map(drop))?;
            out.push(2.0 * (s as f64).powi(3) / ms / 1e9);
        }
        let tiled = Context { gpu_gemm: GemmBackend::Tiled, ..Context::default() };
        let c = ops::gemm_in(&tiled, &a, &b, 1, s, s, s, Transpose::NN)?.to_vec()?;
        let want = 0.125 * s as f32;
        if c.iter().any(|v| (v - want).abs() > 1e-3 * want) {
            return Err(Error::Cuda(format!("tiled GEMM {s}³ gave a wrong result")));
        }
        println!(
            "{{\"bench\": \"gemm_fp32\", \"size\": {s}, \"cublas_tflops\": {:.2}, \"tiled_tflops\": {:.2}, \"tiled_fraction_of_cublas\": {:.3}}}",
            out[0], out[1], out[1] / out[0]
        );
    }
    Ok(())
}
