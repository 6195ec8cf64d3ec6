//! The thread policy (`Context::split`) decides only whether a CPU loop runs
//! on several threads, never what it computes: the same inputs under
//! `ThreadSplit::sequential()`, `ThreadSplit::default()` and `ThreadSplit::eager()`, all on one
//! pool of two threads, give the same bits for every family. The sizes are
//! chosen on both sides of the default thresholds, so that the three
//! policies take different decisions on them. (That the policy reaches the
//! kernels at all is checked inside the crate, where the split decisions can
//! be counted: `ops::tests::the_split_policy_reaches_every_cpu_kernel`.)

use blitz_kernels::context::{ConvVariant, ThreadSplit, Threads};
use blitz_kernels::{ops, BinaryOp, Buffer, Context, ConvGeom, PriorSpec, ScalarOp, Transpose, UnaryOp};

#[path = "support/values.rs"]
mod inputs;
use inputs::values;

/// Values over forty binary orders of magnitude: their f64 sum rounds, so a
/// sum taken in another order (another chunking) gives other bits.
fn wide(n: usize, seed: u64) -> Vec<f32> {
    values(n, seed, -1.0, 1.0).iter().enumerate().map(|(i, v)| v * 2f32.powi((i * 13 % 41) as i32 - 20)).collect()
}

/// The three policies on one two-thread pool.
fn contexts() -> [Context; 3] {
    let threads = Threads::fixed(2).unwrap();
    [ThreadSplit::sequential(), ThreadSplit::default(), ThreadSplit::eager()].map(|split| Context {
        threads: threads.clone(),
        split,
        ..Context::default()
    })
}

fn bits(b: &Buffer) -> Vec<u32> {
    b.to_vec().unwrap().iter().map(|v| v.to_bits()).collect()
}

fn opt_bits(b: &Option<Buffer>) -> Vec<u32> {
    b.as_ref().map(bits).unwrap_or_default()
}

/// Runs `f` under each policy (inside its pool) and checks that all give the same outputs.
fn same_under_every_policy(what: &str, f: impl Fn(&Context) -> Vec<Vec<u32>> + Sync) {
    let [seq, def, eager] = contexts();
    let run = |c: &Context| c.install(|| f(c));
    let (a, b, c) = (run(&seq), run(&def), run(&eager));
    assert!(!a.is_empty() && a.iter().any(|v| !v.is_empty()), "{what}: nothing compared");
    assert_eq!(a, b, "{what}: sequential vs default");
    assert_eq!(b, c, "{what}: default vs eager");
}

/// Below one chunk, between one chunk and the default heavy threshold,
/// between the heavy and the light thresholds, above both.
const ELEMENTWISE_SIZES: [usize; 4] = [1000, 20_000, 50_000, 100_003];

#[test]
fn the_elementwise_ops_give_the_same_bits_under_every_policy() {
    same_under_every_policy("elementwise", |ctx| {
        let mut out = Vec::new();
        for n in ELEMENTWISE_SIZES {
            let x = Buffer::Cpu(values(n, 1, -2.0, 2.0));
            let y = Buffer::Cpu(values(n, 2, 0.5, 2.0));
            let g = Buffer::Cpu(wide(n, 3));
            for op in [UnaryOp::Exp, UnaryOp::Softplus, UnaryOp::Relu, UnaryOp::Square] {
                let fx = ops::unary_in(ctx, op, &x).unwrap();
                out.push(bits(&ops::unary_backward_in(ctx, op, &x, &fx, &g).unwrap()));
                out.push(bits(&fx));
            }
            for op in [ScalarOp::Mul(1.5), ScalarOp::Pow(1.7)] {
                out.push(bits(&ops::scalar_in(ctx, op, &y).unwrap()));
                out.push(bits(&ops::scalar_backward_in(ctx, op, &y, &g).unwrap()));
            }
            let s = [n];
            out.push(bits(&ops::binary_in(ctx, BinaryOp::Mul, &x, &s, &y, &s, &s).unwrap()));
            let one = Buffer::Cpu(vec![0.75]);
            out.push(bits(&ops::binary_in(ctx, BinaryOp::Add, &x, &s, &one, &[], &s).unwrap()));
            // The gradient of a broadcast scalar is a sum over all elements.
            let (ga, gb) =
                ops::binary_backward_in(ctx, BinaryOp::Mul, &x, &s, &one, &[], &g, &s, (true, true)).unwrap();
            out.push(opt_bits(&ga));
            out.push(opt_bits(&gb));
        }
        out
    });
}

#[test]
fn a_reduction_gives_the_same_bits_under_every_policy() {
    same_under_every_policy("sum_all", |ctx| {
        let mut out = Vec::new();
        for n in [0, 7, 16_384, 16_385, 20_000, 32_768, 100_003] {
            let x = Buffer::Cpu(wide(n, 4));
            out.push(bits(&ops::sum_all_in(ctx, &x).unwrap()));
            out.push(bits(&ops::sum_to_shape_in(ctx, &x, &[n], &[1]).unwrap()));
        }
        out
    });
}

#[test]
fn the_sampler_and_its_kl_give_the_same_bits_under_every_policy_forward_and_backward() {
    let prior = PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.002 };
    same_under_every_policy("sampler", |ctx| {
        let mut out = Vec::new();
        // One KL chunk, between one and two chunks (only eager splits), above two.
        for n in [3000, 6000, 3 * 4096 + 17] {
            let mu = Buffer::Cpu(values(n, 5, -0.1, 0.1));
            let rho = Buffer::Cpu(values(n, 6, -6.0, -3.0));
            let g_w = Buffer::Cpu(values(n, 7, -1.0, 1.0));
            let g_kl = Buffer::Cpu(vec![0.3]);
            let (w, kl) = ops::sample_kl_forward_in(ctx, &mu, &rho, 9, 4, prior).unwrap();
            let (gm, gr) = ops::sample_kl_backward_in(ctx, &mu, &rho, Some(&g_w), &g_kl, 9, 4, prior).unwrap();
            out.extend([bits(&w), bits(&kl), bits(&gm), bits(&gr)]);
            let (w2, kl2, factors) = ops::sample_kl_forward_saving_in(ctx, &mu, &rho, 9, 4, prior).unwrap();
            let factors = factors.expect("the CPU keeps the factors");
            let (sm, sr) = ops::sample_kl_backward_saved_in(ctx, &w2, &factors, Some(&g_w), &g_kl, prior).unwrap();
            out.extend([bits(&w2), bits(&kl2), bits(&sm), bits(&sr)]);
            out.push(bits(&ops::kl_at_in(ctx, &w, &rho, 9, 4, prior).unwrap()));
            let (aw, ar) = ops::kl_at_backward_in(ctx, &w, &rho, &g_kl, prior).unwrap();
            out.extend([bits(&aw), bits(&ar)]);
            // The separate draw, its backward and log-density, and the normals alone.
            out.push(bits(&ops::reparam_forward_in(ctx, &mu, &rho, 9, 4).unwrap()));
            let (rm, rr) = ops::reparam_backward_in(ctx, &rho, &g_w, 9, 4).unwrap();
            out.extend([bits(&rm), bits(&rr)]);
            out.push(bits(&ops::reparam_log_posterior_in(ctx, &rho, 9, 4).unwrap()));
            out.push(bits(&ops::normal_in(ctx, blitz_kernels::Device::Cpu, 9, 4, 5 * n).unwrap()));
        }
        out
    });
}

#[test]
fn gemm_gives_the_same_bits_under_every_policy() {
    same_under_every_policy("gemm", |ctx| {
        let mut out = Vec::new();
        // Below and above the default 2²² multiply-adds; split by rows and by columns.
        for (m, k, n) in [(64, 96, 80), (170, 200, 130), (40, 110, 1000), (1, 300, 200)] {
            for t in [Transpose::NN, Transpose::NT, Transpose::TN] {
                let a = Buffer::Cpu(values(m * k, 8, -1.0, 1.0));
                let b = Buffer::Cpu(values(k * n, 9, -1.0, 1.0));
                out.push(bits(&ops::gemm_in(ctx, &a, &b, 1, m, k, n, t).unwrap()));
            }
        }
        out
    });
}

#[test]
fn conv_gives_the_same_bits_under_every_policy() {
    // LeNet's first layer at batch 8 (~1.4M multiply-adds: above the default
    // 2²⁰) and at batch 1 (below it).
    let geoms = [ConvGeom::plain_2d(8, 1, 6, [28, 28], [5, 5]), ConvGeom::plain_2d(1, 3, 8, [20, 20], [3, 3])];
    for variant in [ConvVariant::Auto, ConvVariant::Direct, ConvVariant::Im2col] {
        same_under_every_policy("conv", |ctx| {
            let ctx = Context { conv: variant, ..ctx.clone() };
            let mut out = Vec::new();
            for g in geoms {
                let x = Buffer::Cpu(values(g.input_len(), 10, -1.0, 1.0));
                let w = Buffer::Cpu(values(g.weight_len(), 11, -1.0, 1.0));
                let b = Buffer::Cpu(values(g.out_channels, 12, -1.0, 1.0));
                let gy = Buffer::Cpu(values(g.output_len(), 13, -1.0, 1.0));
                out.push(bits(&ops::conv_forward_in(&ctx, &x, &w, Some(&b), &g).unwrap()));
                let (dx, dw, db) = ops::conv_backward_in(&ctx, &x, &w, &gy, &g, (true, true, true)).unwrap();
                out.extend([opt_bits(&dx), opt_bits(&dw), opt_bits(&db)]);
            }
            out
        });
    }
}

#[test]
fn the_policies_are_what_they_say() {
    let (seq, def, eager) = (ThreadSplit::sequential(), ThreadSplit::default(), ThreadSplit::eager());
    assert_eq!(def, Context::default().split);
    assert_eq!((def.heavy, def.light, def.sampler, def.gemm, def.conv), (1 << 15, 1 << 16, 1 << 13, 1 << 22, 1 << 20));
    assert!([seq.heavy, seq.light, seq.sampler, seq.gemm, seq.conv].iter().all(|&t| t == usize::MAX));
    // Eager: from more than one chunk (2¹⁴ elements, 2¹² weights), any product or convolution.
    assert_eq!(
        (eager.heavy, eager.light, eager.sampler, eager.gemm, eager.conv),
        ((1 << 14) + 1, (1 << 14) + 1, (1 << 12) + 1, 0, 0)
    );
    // The registry reports the defaults from the type and the chunk sizes as fixed.
    let t = blitz_kernels::registry::thresholds();
    let field = |f: &str| t.iter().find(|t| t.context_field == Some(f)).map(|t| t.value);
    assert_eq!(field("split.heavy"), Some(def.heavy));
    assert_eq!(field("split.light"), Some(def.light));
    assert_eq!(field("split.sampler"), Some(def.sampler));
    assert_eq!(field("split.gemm"), Some(def.gemm));
    assert_eq!(field("split.conv"), Some(def.conv));
    for fixed in ["CHUNK", "KL_CHUNK"] {
        assert!(t.iter().any(|t| t.name == fixed && t.context_field.is_none()), "{fixed}");
    }
}
