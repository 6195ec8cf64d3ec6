//! The variant bench: measures this machine's limits first (FMA peak from a
//! register-only loop, copy bandwidth), then every variant of every kernel
//! family (`blitz_kernels::registry`) on the shapes of the peer workloads,
//! each verified against its family's reference on the same input, and
//! reported as a share of those limits. Writes a roofline SVG (arithmetic
//! intensity against attained GFLOP/s, with the two roofs).
//!
//! ```text
//! cargo run --release --example kernels -- --json [--only FAMILY[,FAMILY]] [--svg PATH]
//! ```
//! One JSON line for the machine, then one per (family, variant, shape):
//! `family`, `variant`, `shape`, `verified`, `max_rel_err`, `ms` (median),
//! `gflops` or `gbps`, `pct_of_peak`. GPU families print one line per variant
//! with `available: false` and the reason where no GPU can be used.
//! Threads: `RAYON_NUM_THREADS`. Criterion benches (`cargo bench`) give the statistical view.

#[path = "../kernels/tests/support/values.rs"]
mod values;

use blitz::kernels::context::{Context, ConvVariant, ElementwiseVariant, GemmVariant, NormalsVariant, SamplerVariant};
use blitz::kernels::registry::{self, Backend};
use blitz::kernels::{ops, reference, BinaryOp, Buffer, ConvGeom, Device, PriorSpec, Transpose, UnaryOp};
use rayon::prelude::*;
use std::time::Instant;
use values::values;

/// Median milliseconds of `f` over repetitions filling about `budget_s` (at
/// least 3 after a warm-up, at most 200); a budget of 0 times one run, no warm-up
/// (the scalar loops on the largest shapes, which take seconds).
fn time_ms(budget_s: f64, mut f: impl FnMut()) -> f64 {
    let min_reps = if budget_s > 0.0 {
        f(); // warm-up (and the pool's buffers)
        3
    } else {
        1
    };
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < min_reps || (start.elapsed().as_secs_f64() < budget_s && times.len() < 200) {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Largest |got − want| / max(1e-30, max |want|): the error relative to the output's scale.
fn max_rel_err(got: &[f32], want: &[f32]) -> f64 {
    let scale = want.iter().fold(1e-30f64, |m, v| m.max(v.abs() as f64));
    got.iter().zip(want).map(|(a, b)| (*a as f64 - *b as f64).abs()).fold(0.0, f64::max) / scale
}

/// Runs `iters` rounds of 12 independent vector FMA chains (a loop that
/// touches no memory) on the calling thread; returns the f32 lanes per vector
/// (0 when the CPU has no FMA vectors this measures).
#[cfg(target_arch = "x86_64")]
fn fma_loop(iters: u64) -> f64 {
    use std::arch::x86_64::*;
    #[target_feature(enable = "avx512f,fma")]
    unsafe fn run512(iters: u64) -> f32 {
        let (x, y) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        let mut a = [_mm512_set1_ps(1.0); 12];
        for _ in 0..iters {
            for acc in a.iter_mut() {
                *acc = _mm512_fmadd_ps(*acc, x, y);
            }
        }
        a.iter().map(|v| _mm512_reduce_add_ps(*v)).sum()
    }
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run256(iters: u64) -> f32 {
        let (x, y) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut a = [_mm256_set1_ps(1.0); 12];
        for _ in 0..iters {
            for acc in a.iter_mut() {
                *acc = _mm256_fmadd_ps(*acc, x, y);
            }
        }
        let mut out = [0f32; 8];
        let mut s = 0.0;
        for v in a {
            _mm256_storeu_ps(out.as_mut_ptr(), v);
            s += out.iter().sum::<f32>();
        }
        s
    }
    if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX-512F and FMA (checked just above).
        std::hint::black_box(unsafe { run512(iters) });
        16.0
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        std::hint::black_box(unsafe { run256(iters) });
        8.0
    } else {
        0.0
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn fma_loop(_iters: u64) -> f64 {
    0.0
}

/// Machine limits: (FMA peak GFLOP/s on all threads, copy GB/s (read + write), threads).
/// The peak is the FLOPs of every thread's loop over the wall time of all of
/// them together (best of three rounds), so threads that do not overlap in
/// time (a shared machine) lower it instead of inflating it.
fn measure_machine() -> (f64, f64, usize) {
    let threads = rayon::current_num_threads();
    let iters = 20_000_000u64;
    fma_loop(iters / 10); // warm the clocks
    let peak = (0..3)
        .map(|_| {
            let t = Instant::now();
            let lanes: f64 = (0..threads).into_par_iter().map(|_| fma_loop(iters)).sum();
            2.0 * lanes * 12.0 * iters as f64 / t.elapsed().as_secs_f64() / 1e9
        })
        .fold(0.0, f64::max);
    let n = 1 << 26; // 256 MiB per buffer: far beyond any cache
    let src = vec![1.0f32; n];
    let mut dst = vec![0.0f32; n];
    let ms = time_ms(1.0, || {
        dst.par_chunks_mut(1 << 16).zip(src.par_chunks(1 << 16)).for_each(|(d, s)| d.copy_from_slice(s))
    });
    let copy_gbps = 8.0 * n as f64 / ms / 1e6;
    (peak, copy_gbps, threads)
}

/// One measured point.
struct Point {
    family: &'static str,
    variant: &'static str,
    shape: String,
    verified: bool,
    max_rel_err: f64,
    ms: f64,
    flops: Option<f64>,
    bytes: f64,
}

impl Point {
    fn print(&self, peak: f64, copy: f64) {
        let rate = match self.flops {
            Some(f) => {
                let g = f / self.ms / 1e6;
                format!("\"gflops\": {g:.2}, \"pct_of_peak\": {:.1}", 100.0 * g / peak)
            }
            None => {
                let g = self.bytes / self.ms / 1e6;
                format!("\"gbps\": {g:.2}, \"pct_of_peak\": {:.1}", 100.0 * g / copy)
            }
        };
        println!(
            "{{\"family\": \"{}\", \"variant\": \"{}\", \"shape\": \"{}\", \"verified\": {}, \"max_rel_err\": {:.2e}, \"ms\": {:.4}, {rate}}}",
            self.family, self.variant, self.shape, self.verified, self.max_rel_err, self.ms
        );
    }
}

fn gemm_points(budget: f64) -> Vec<Point> {
    // (name, m, k, n, form): the products of the peer workloads' forward passes, and two squares.
    // The backward's products of a linear layer y = x·Wᵀ: dW = gᵀ·x (TN) and dx = g·W (NN).
    let shapes: [(&str, usize, usize, usize, Transpose); 11] = [
        ("mlp13_512_b16 x.W1t", 16, 13, 512, Transpose::NT),
        ("mlp13_512_b16 h.W2t", 16, 512, 1, Transpose::NT),
        ("mlp784_400_b128 x.W1t", 128, 784, 400, Transpose::NT),
        ("mlp784_400_b128 h.W2t", 128, 400, 400, Transpose::NT),
        ("mlp784_400_b128 h.W3t", 128, 400, 10, Transpose::NT),
        ("mlp784_400_b128 dW1=gt.x", 400, 128, 784, Transpose::TN),
        ("mlp784_400_b128 dW2=gt.h", 400, 128, 400, Transpose::TN),
        ("mlp784_400_b128 dh1=g.W2", 128, 400, 400, Transpose::NN),
        ("lstm_cell_b16_h64 [x,h].Wt", 16, 96, 256, Transpose::NT),
        ("256^3", 256, 256, 256, Transpose::NN),
        ("1024^3", 1024, 1024, 1024, Transpose::NN),
    ];
    let mut out = Vec::new();
    for (name, m, k, n, t) in shapes {
        let a = Buffer::Cpu(values(m * k, 1, -1.0, 1.0));
        let b = Buffer::Cpu(values(k * n, 2, -1.0, 1.0));
        let reference_ctx = Context { gemm: GemmVariant::Reference, ..Context::default() };
        let want = ops::gemm_in(&reference_ctx, &a, &b, 1, m, k, n, t).unwrap().to_vec().unwrap();
        let tol = 4.0 * k as f64 * f32::EPSILON as f64;
        for v in GemmVariant::ALL {
            let ctx = Context { gemm: v, ..Context::default() };
            let got = ops::gemm_in(&ctx, &a, &b, 1, m, k, n, t).unwrap().to_vec().unwrap();
            let err = max_rel_err(&got, &want);
            // The scalar loops on the 1024³ square take seconds: one repetition.
            let slow = matches!(v, GemmVariant::Reference | GemmVariant::MatrixVector) && m * k * n > 1 << 24;
            let ms = time_ms(if slow { 0.0 } else { budget }, || {
                std::hint::black_box(ops::gemm_in(&ctx, &a, &b, 1, m, k, n, t).unwrap());
            });
            out.push(Point {
                family: "gemm",
                variant: v.name(),
                shape: format!("{name} ({m}x{k}x{n})"),
                verified: err <= tol,
                max_rel_err: err,
                ms,
                flops: Some(2.0 * (m * k * n) as f64),
                bytes: 4.0 * (m * k + k * n + m * n) as f64,
            });
        }
    }
    out
}

/// The sampler's definition in f64 (the reference normals; see `kernels/src/variant_tests.rs`).
fn reference_sample_kl(mu: &[f32], rho: &[f32], seed: u64, prior: PriorSpec) -> (Vec<f32>, f64) {
    let c = 0.5 * (2.0 * std::f64::consts::PI).ln();
    let log_gauss = |w: f64, s: f64| -s.ln() - c - w * w / (2.0 * s * s);
    let exact = Context { normals: NormalsVariant::Reference, ..Context::default() };
    let eps = ops::normal_in(&exact, Device::Cpu, seed, 0, mu.len()).and_then(|b| b.to_vec()).expect("host normals");
    let mut kl = 0.0;
    let w = (0..mu.len())
        .map(|i| {
            let eps = eps[i] as f64;
            let sigma = reference::elementwise::softplus(rho[i]) as f64;
            let w = mu[i] as f64 + sigma * eps;
            let lp = match prior {
                PriorSpec::Gaussian { sigma } => log_gauss(w, sigma as f64),
                PriorSpec::ScaleMixture { pi, sigma1, sigma2 } => {
                    let a = log_gauss(w, sigma1 as f64) + (pi as f64).ln();
                    let b = log_gauss(w, sigma2 as f64) + (1.0 - pi as f64).ln();
                    a.max(b) + (-(a - b).abs()).exp().ln_1p()
                }
            };
            kl += -sigma.ln() - eps * eps / 2.0 - c - lp;
            w as f32
        })
        .collect();
    (w, kl)
}

fn sampler_points(budget: f64) -> Vec<Point> {
    let n = 4 << 20;
    let prior = PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.002 };
    let (mu_v, rho_v) = (values(n, 3, -0.5, 0.5), values(n, 4, -7.0, -1.0));
    let (w_ref, kl_ref) = reference_sample_kl(&mu_v, &rho_v, 7, prior);
    let (mu, rho) = (Buffer::Cpu(mu_v), Buffer::Cpu(rho_v));
    let mut out = Vec::new();
    for v in SamplerVariant::ALL {
        let ctx = Context { sampler: v, ..Context::default() };
        // The forward of a recording tape (the saving variant keeps its factors).
        let run = || ops::sample_kl_forward_saving_in(&ctx, &mu, &rho, 7, 0, prior).unwrap();
        let (w, kl, _) = run();
        let (w, kl) = (w.to_vec().unwrap(), kl.to_vec().unwrap()[0] as f64);
        let err = max_rel_err(&w, &w_ref).max((kl - kl_ref).abs() / kl_ref.abs());
        let ms = time_ms(budget, || {
            std::hint::black_box(run());
        });
        // Bytes the kernel must move at least: read mu and rho, write w.
        out.push(Point {
            family: "sampler",
            variant: v.name(),
            shape: format!("sample_kl_4M ({n} weights, scale mixture)"),
            verified: err <= 1e-5,
            max_rel_err: err,
            ms,
            flops: None,
            bytes: 12.0 * n as f64,
        });
    }
    out
}

fn normals_points(budget: f64) -> Vec<Point> {
    let n = 4 << 20;
    let draw = |v| {
        let ctx = Context { normals: v, ..Context::default() };
        move || ops::normal_in(&ctx, Device::Cpu, 11, 0, n).unwrap()
    };
    let want = draw(NormalsVariant::Reference)().to_vec().unwrap();
    NormalsVariant::ALL
        .into_iter()
        .map(|v| {
            let f = draw(v);
            let err = max_rel_err(&f().to_vec().unwrap(), &want);
            let ms = time_ms(budget, || {
                std::hint::black_box(f());
            });
            Point {
                family: "normals",
                variant: v.name(),
                shape: format!("{n} draws"),
                verified: err <= 1e-5,
                max_rel_err: err,
                ms,
                flops: None,
                bytes: 4.0 * n as f64,
            }
        })
        .collect()
}

fn elementwise_points(budget: f64) -> Vec<Point> {
    let n = 4 << 20;
    let x = Buffer::Cpu(values(n, 7, -6.0, 6.0));
    let y = Buffer::Cpu(values(n, 8, -1.0, 1.0));
    let s = [n];
    // (name, op, bytes per element: reads and the write)
    type Run<'a> = Box<dyn Fn(&Context) -> Buffer + 'a>;
    let cases: [(&str, Run, f64); 2] = [
        ("softplus 4M", Box::new(|c: &Context| ops::unary_in(c, UnaryOp::Softplus, &x).unwrap()), 8.0),
        ("mul 4M", Box::new(|c: &Context| ops::binary_in(c, BinaryOp::Mul, &x, &s, &y, &s, &s).unwrap()), 12.0),
    ];
    let mut out = Vec::new();
    for (name, run, bytes) in &cases {
        let reference_ctx = Context { elementwise: ElementwiseVariant::Reference, ..Context::default() };
        let want = run(&reference_ctx).to_vec().unwrap();
        for v in ElementwiseVariant::ALL {
            let ctx = Context { elementwise: v, ..Context::default() };
            let err = max_rel_err(&run(&ctx).to_vec().unwrap(), &want);
            let ms = time_ms(budget, || {
                std::hint::black_box(run(&ctx));
            });
            out.push(Point {
                family: "elementwise",
                variant: v.name(),
                shape: name.to_string(),
                verified: err <= 1e-5,
                max_rel_err: err,
                ms,
                flops: None,
                bytes: bytes * n as f64,
            });
        }
    }
    out
}

fn conv_points(budget: f64) -> Vec<Point> {
    let base = ConvGeom::plain_2d(64, 1, 6, [28, 28], [5, 5]);
    let layers = [
        ("lenet_b64 conv1 1->6 5x5 28x28", base),
        ("lenet_b64 conv2 6->16 5x5 12x12", ConvGeom { in_channels: 6, out_channels: 16, input: [1, 12, 12], ..base }),
    ];
    let mut out = Vec::new();
    for (name, g) in layers {
        let x = Buffer::Cpu(values(g.input_len(), 5, -1.0, 1.0));
        let w = Buffer::Cpu(values(g.weight_len(), 6, -0.5, 0.5));
        let reference_ctx = Context { conv: ConvVariant::Reference, ..Context::default() };
        let want = ops::conv_forward_in(&reference_ctx, &x, &w, None, &g).unwrap().to_vec().unwrap();
        let macs = g.output_len() * g.in_channels / g.groups * g.kernel.iter().product::<usize>();
        for v in ConvVariant::ALL {
            let ctx = Context { conv: v, ..Context::default() };
            let run = || ops::conv_forward_in(&ctx, &x, &w, None, &g).unwrap();
            let err = max_rel_err(&run().to_vec().unwrap(), &want);
            let ms = time_ms(budget, || {
                std::hint::black_box(run());
            });
            out.push(Point {
                family: "conv",
                variant: v.name(),
                shape: format!("{name} forward"),
                verified: err <= 1e-5,
                max_rel_err: err,
                ms,
                flops: Some(2.0 * macs as f64),
                bytes: 4.0 * (g.input_len() + g.weight_len() + g.output_len()) as f64,
            });
        }
    }
    out
}

/// The roofline: log-log, arithmetic intensity (FLOP/byte) against GFLOP/s,
/// the bandwidth roof (copy GB/s × intensity) and the FMA roof.
fn roofline_svg(points: &[Point], peak: f64, copy: f64) -> String {
    let (w, h, pad) = (900.0, 560.0, 70.0);
    let (x0, x1) = (0.01f64.log10(), 1000f64.log10());
    let (y0, y1) = (0.01f64.log10(), (peak * 2.0).max(1.0).log10());
    let px = |ai: f64| pad + (ai.log10() - x0) / (x1 - x0) * (w - 2.0 * pad);
    let py = |g: f64| h - pad - (g.max(1e-3).log10() - y0) / (y1 - y0) * (h - 2.0 * pad);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    s += &format!(
        "<text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">blitz kernel variants: roofline (FMA peak {peak:.0} GFLOP/s, copy {copy:.1} GB/s)</text>\n",
        w / 2.0
    );
    // Axes with decade ticks.
    s += &format!("<line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n", h - pad, w - pad, h - pad);
    s += &format!("<line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{}\" stroke=\"black\"/>\n", h - pad);
    for e in -2..=3 {
        let ai = 10f64.powi(e);
        s += &format!("<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{ai}</text>\n", px(ai), h - pad + 18.0);
    }
    let mut e = -2;
    while 10f64.powi(e) <= peak * 2.0 {
        let g = 10f64.powi(e);
        s += &format!("<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{g}</text>\n", pad - 6.0, py(g) + 4.0);
        e += 1;
    }
    s += &format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">arithmetic intensity (FLOP / byte)</text>\n",
        w / 2.0,
        h - 20.0
    );
    s += &format!(
        "<text x=\"18\" y=\"{}\" transform=\"rotate(-90 18 {})\" text-anchor=\"middle\">GFLOP/s</text>\n",
        h / 2.0,
        h / 2.0
    );
    // The roofs: min(peak, copy × AI).
    let ridge = peak / copy;
    let (a_lo, a_hi) = (10f64.powf(x0), 10f64.powf(x1));
    s += &format!(
        "<polyline fill=\"none\" stroke=\"#c00\" stroke-width=\"2\" points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\"/>\n",
        px(a_lo),
        py(copy * a_lo),
        px(ridge),
        py(peak),
        px(a_hi),
        py(peak)
    );
    s += &format!("<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#c00\">FMA peak</text>\n", px(a_hi) - 60.0, py(peak) - 6.0);
    s += &format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#c00\">copy bandwidth</text>\n",
        px(a_lo) + 4.0,
        py(copy * a_lo) - 8.0
    );
    let colours = [("gemm", "#1f77b4"), ("conv", "#2ca02c")];
    for p in points {
        let Some(f) = p.flops else { continue };
        let (ai, g) = (f / p.bytes, f / p.ms / 1e6);
        let colour = colours.iter().find(|(n, _)| *n == p.family).map_or("#555", |c| c.1);
        s += &format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{colour}\"><title>{} {} {}: {g:.1} GFLOP/s</title></circle>\n",
            px(ai),
            py(g),
            p.family,
            p.variant,
            p.shape
        );
    }
    for (i, (name, colour)) in colours.iter().enumerate() {
        s += &format!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{name}</text>\n",
            pad + 20.0,
            pad + 10.0 + 18.0 * i as f64,
            pad + 30.0,
            pad + 14.0 + 18.0 * i as f64
        );
    }
    s + "</svg>\n"
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let only: Option<Vec<String>> = value("--only").map(|s| s.split(',').map(str::to_string).collect());
    let svg = value("--svg").unwrap_or_else(|| "target/kernels_roofline.svg".into());
    let wanted = |family: &str| only.as_ref().is_none_or(|o| o.iter().any(|f| f == family));
    let budget = 0.5;

    let (peak, copy, threads) = measure_machine();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    println!(
        "{{\"machine\": \"{cpu}\", \"fma_peak_gflops\": {peak:.1}, \"copy_gbps\": {copy:.2}, \"threads\": {threads}}}"
    );
    // The size thresholds that decide how (never what) the CPU kernels compute.
    let t: Vec<String> = registry::thresholds().iter().map(|t| format!("\"{}\": {}", t.name, t.value)).collect();
    println!("{{\"thresholds\": {{{}}}}}", t.join(", "));
    let mut points = Vec::new();
    let runners: [(&str, fn(f64) -> Vec<Point>); 5] = [
        ("gemm", gemm_points),
        ("elementwise", elementwise_points),
        ("normals", normals_points),
        ("sampler", sampler_points),
        ("conv", conv_points),
    ];
    for (family, run) in runners {
        if wanted(family) {
            for p in run(budget) {
                p.print(peak, copy);
                points.push(p);
            }
        }
    }
    // The GPU families: measured by `examples/gpu_bench.rs` where a GPU is usable; listed here either way.
    for f in registry::families().into_iter().filter(|f| f.backend == Backend::Gpu && wanted(f.name)) {
        for v in f.variants {
            println!(
                "{{\"family\": \"{}\", \"variant\": \"{}\", \"available\": {}, \"default\": {}, \"note\": \"{}\"}}",
                f.name,
                v.name,
                v.available,
                v.default,
                v.note.replace('"', "'")
            );
        }
    }
    if let Err(e) = std::fs::write(&svg, roofline_svg(&points, peak, copy)) {
        eprintln!("could not write {svg}: {e}");
    } else {
        eprintln!("roofline written to {svg}");
    }
}
