//! The ops' own tests: the kept sampler factors, and that the context's
//! thread policy and pool reach every CPU kernel.

use super::*;
use crate::context::ThreadSplit;
use crate::types::{AdamStep, BinaryOp, PriorSpec, ScalarOp, Transpose, UnaryOp};
use crate::{Context, Device};

#[test]
fn first_non_finite_gives_the_lowest_bad_index() {
    let ok = Buffer::Cpu(vec![1.0, -2.0]);
    let (nan, inf) = (Buffer::Cpu(vec![0.0, f32::NAN]), Buffer::Cpu(vec![f32::NEG_INFINITY]));
    assert_eq!(first_non_finite_in(&Context::default(), &[]).unwrap(), None);
    assert_eq!(first_non_finite_in(&Context::default(), &[&ok, &ok]).unwrap(), None);
    assert_eq!(first_non_finite_in(&Context::default(), &[&ok, &inf, &nan]).unwrap(), Some(1));
    assert_eq!(first_non_finite_in(&Context::default(), &[&nan, &ok, &inf]).unwrap(), Some(0));
}

#[test]
fn the_kept_factors_give_the_regenerating_backward_and_check_their_inputs() {
    let n = 1000;
    let mu = Buffer::Cpu((0..n).map(|i| 0.01 * (i % 17) as f32 - 0.08).collect());
    let rho = Buffer::Cpu((0..n).map(|i| -6.0 + 0.004 * i as f32).collect());
    let g_w = Buffer::Cpu(vec![0.5; n]);
    let g_kl = Buffer::Cpu(vec![0.25]);
    let prior = PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.002 };
    let (w, kl, factors) = sample_kl_forward_saving_in(&Context::default(), &mu, &rho, 9, 4, prior).unwrap();
    let (w0, kl0) = sample_kl_forward_in(&Context::default(), &mu, &rho, 9, 4, prior).unwrap();
    assert_eq!((w.to_vec().unwrap(), kl.to_vec().unwrap()), (w0.to_vec().unwrap(), kl0.to_vec().unwrap()));
    let factors = factors.expect("the CPU keeps its factors");
    let (gm, gr) = sample_kl_backward_saved_in(&Context::default(), &w, &factors, Some(&g_w), &g_kl, prior).unwrap();
    let (gm0, gr0) = sample_kl_backward_in(&Context::default(), &mu, &rho, Some(&g_w), &g_kl, 9, 4, prior).unwrap();
    assert_eq!(gm.to_vec().unwrap(), gm0.to_vec().unwrap());
    assert_eq!(gr.to_vec().unwrap(), gr0.to_vec().unwrap());
    let short = Buffer::Cpu(vec![0.5; n - 1]);
    let bad = sample_kl_backward_saved_in(&Context::default(), &w, &factors, Some(&short), &g_kl, prior);
    assert!(matches!(bad, Err(Error::ShapeMismatch { rhs, .. }) if rhs == vec![n - 1]));
    let two = Buffer::Cpu(vec![1.0, 2.0]);
    assert!(matches!(
        sample_kl_backward_saved_in(&Context::default(), &w, &factors, None, &two, prior),
        Err(Error::ShapeMismatch { .. })
    ));
    // Past the cap the draw keeps nothing (its backward regenerates).
    let big = Buffer::Cpu(vec![-5.0; MAX_KEPT_FACTORS + 1]);
    assert!(sample_kl_forward_saving_in(&Context::default(), &big, &big, 1, 0, prior).unwrap().2.is_none());
}

type Probe = Box<dyn Fn(&Context, usize) + Sync>;

fn ramp(n: usize) -> Buffer {
    Buffer::Cpu((0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.01).collect())
}

fn neg(n: usize) -> Buffer {
    Buffer::Cpu(vec![-4.0; n])
}

/// Every CPU entry point that can split a loop, as (name, a call on `n`
/// elements, a size between the eager and the default thresholds, a size
/// above the default).
fn split_probes() -> Vec<(&'static str, Probe, (usize, usize))> {
    let prior = PriorSpec::Gaussian { sigma: 0.3 };
    let one = || Buffer::Cpu(vec![0.5]);
    let (elem, kl) = ((20_000, 100_000), (6_000, 20_000));
    // 2×2 max pooling of n/64 planes of 16×16: n outputs.
    let pool = |n: usize| crate::types::PoolGeom {
        planes: n / 64,
        input: [16, 16, 1],
        kernel: [2, 2, 1],
        stride: [2, 2, 1],
        padding: [0; 3],
    };
    let adam = AdamStep { step_size: 1e-3, beta1: 0.9, beta2: 0.999, eps_hat: 1e-8, weight_decay: 0.0 };
    vec![
        ("unary", Box::new(move |c, n| drop(unary_in(c, UnaryOp::Exp, &ramp(n)))), elem),
        (
            "unary_backward",
            Box::new(move |c, n| drop(unary_backward_in(c, UnaryOp::Relu, &ramp(n), &ramp(n), &ramp(n)))),
            elem,
        ),
        ("scalar", Box::new(move |c, n| drop(scalar_in(c, ScalarOp::Mul(2.0), &ramp(n)))), elem),
        (
            "scalar_backward",
            Box::new(move |c, n| drop(scalar_backward_in(c, ScalarOp::Pow(2.0), &ramp(n), &ramp(n)))),
            elem,
        ),
        ("binary", Box::new(move |c, n| drop(binary_in(c, BinaryOp::Mul, &ramp(n), &[n], &ramp(n), &[n], &[n]))), elem),
        (
            "binary_backward",
            Box::new(move |c, n| {
                drop(binary_backward_in(
                    c,
                    BinaryOp::Mul,
                    &ramp(n),
                    &[n],
                    &ramp(1),
                    &[1],
                    &ramp(n),
                    &[n],
                    (false, true),
                ))
            }),
            elem,
        ),
        ("add_rows", Box::new(move |c, n| drop(add_rows_in(c, &mut ramp(n), &ramp(50)))), elem),
        ("sum_all", Box::new(move |c, n| drop(sum_all_in(c, &ramp(n)))), elem),
        ("sum_to_shape", Box::new(move |c, n| drop(sum_to_shape_in(c, &ramp(n), &[n], &[1]))), elem),
        ("normal", Box::new(move |c, n| drop(normal_in(c, Device::Cpu, 1, 0, n))), elem),
        ("reparam_forward", Box::new(move |c, n| drop(reparam_forward_in(c, &ramp(n), &neg(n), 1, 0))), elem),
        (
            "reparam_forward_sigma",
            Box::new(move |c, n| drop(reparam_forward_sigma_in(c, &ramp(n), &ramp(n), 1, 0))),
            elem,
        ),
        ("reparam_backward", Box::new(move |c, n| drop(reparam_backward_in(c, &neg(n), &ramp(n), 1, 0))), elem),
        ("reparam_log_posterior", Box::new(move |c, n| drop(reparam_log_posterior_in(c, &neg(n), 1, 0))), elem),
        ("sample_kl_forward", Box::new(move |c, n| drop(sample_kl_forward_in(c, &ramp(n), &neg(n), 1, 0, prior))), kl),
        (
            "sample_kl_backward",
            Box::new(move |c, n| {
                drop(sample_kl_backward_in(c, &ramp(n), &neg(n), Some(&ramp(n)), &one(), 1, 0, prior))
            }),
            kl,
        ),
        (
            "sample_kl_saved",
            Box::new(move |c, n| {
                let (w, _, f) = sample_kl_forward_saving_in(c, &ramp(n), &neg(n), 1, 0, prior).unwrap();
                drop(sample_kl_backward_saved_in(c, &w, &f.unwrap(), None, &one(), prior));
            }),
            kl,
        ),
        ("kl_at", Box::new(move |c, n| drop(kl_at_in(c, &ramp(n), &neg(n), 1, 0, prior))), kl),
        ("kl_at_backward", Box::new(move |c, n| drop(kl_at_backward_in(c, &ramp(n), &neg(n), &one(), prior))), kl),
        // m·k·n: 20·200·130 (below 2²²) and 170·200·130.
        (
            "gemm",
            Box::new(move |c, n| drop(gemm_in(c, &ramp(n * 200), &ramp(200 * 130), 1, n, 200, 130, Transpose::NN))),
            (20, 170),
        ),
        (
            "max_pool_forward",
            Box::new(move |c, n| drop(crate::ops::max_pool_forward_in(c, &ramp(pool(n).input_len()), &pool(n)))),
            elem,
        ),
        (
            "avg_pool_forward",
            Box::new(move |c, n| drop(crate::ops::avg_pool_forward_in(c, &ramp(pool(n).input_len()), &pool(n)))),
            elem,
        ),
        (
            "adam_step",
            Box::new(move |c, n| {
                drop(adam_step_in(c, &mut ramp(n), &mut ramp(n), &mut Buffer::Cpu(vec![0.1; n]), &ramp(n), adam))
            }),
            elem,
        ),
        ("scale_inplace", Box::new(move |c, n| drop(scale_inplace_in(c, &mut ramp(n), 0.5))), elem),
        ("first_non_finite", Box::new(move |c, n| drop(first_non_finite_in(c, &[&ramp(n)]))), elem),
    ]
}

/// Every CPU kernel behind an `*_in` entry point takes its split decisions
/// from the context: on a two-thread pool, with inputs between the eager
/// and the default thresholds only `ThreadSplit::eager()` splits, and above the
/// default ones `ThreadSplit::sequential()` never does (split decisions counted
/// on the calling thread: `cpu::parallel::splits`).
#[test]
fn the_split_policy_reaches_every_cpu_kernel() {
    use crate::context::{ConvVariant, Threads};
    use crate::cpu::parallel::splits_so_far;
    use crate::types::ConvGeom;
    let v = ramp;
    let threads = Threads::fixed(2).unwrap();
    let with = |split: ThreadSplit| Context { threads: threads.clone(), split, ..Context::default() };
    let (seq, def, eager) = (with(ThreadSplit::sequential()), with(ThreadSplit::default()), with(ThreadSplit::eager()));
    let ops = split_probes();
    let count = |c: &Context, op: &Probe, n: usize| {
        c.install(|| {
            let before = splits_so_far();
            op(c, n);
            splits_so_far() - before
        })
    };
    for (name, op, (mid, large)) in &ops {
        assert_eq!(count(&def, op, *mid), 0, "{name}: the default splits {mid}");
        assert!(count(&eager, op, *mid) > 0, "{name}: eager does not split {mid}");
        assert!(count(&def, op, *large) > 0, "{name}: the default does not split {large}");
        assert_eq!(count(&seq, op, *large), 0, "{name}: sequential splits {large}");
    }
    // Convolution, both CPU paths: one small image, and a batch above 2²⁰ multiply-adds.
    let small = ConvGeom::plain_2d(1, 3, 8, [20, 20], [3, 3]);
    let large = ConvGeom::plain_2d(16, 1, 6, [28, 28], [5, 5]);
    for variant in [ConvVariant::Direct, ConvVariant::Im2col] {
        let conv = |c: &Context, g: &ConvGeom| {
            let c = Context { conv: variant, ..c.clone() };
            let (x, w, gy) = (v(g.input_len()), v(g.weight_len()), v(g.output_len()));
            c.install(|| {
                let before = splits_so_far();
                crate::ops::conv_forward_in(&c, &x, &w, None, g).unwrap();
                crate::ops::conv_backward_in(&c, &x, &w, &gy, g, (true, true, true)).unwrap();
                splits_so_far() - before
            })
        };
        assert!(conv(&eager, &small) > 0, "{variant:?}: eager does not split the small convolution");
        assert!(conv(&def, &large) > 0, "{variant:?}: the default does not split the large convolution");
        assert_eq!(conv(&seq, &large), 0, "{variant:?}: sequential splits");
    }
}

/// Every public entry point, as (name, a call on small operands that fit).
fn entry_probes() -> Vec<(&'static str, Box<dyn Fn(&Context)>)> {
    let prior = PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.002 };
    let adam = AdamStep { step_size: 1e-3, beta1: 0.9, beta2: 0.999, eps_hat: 1e-8, weight_decay: 0.0 };
    let conv = crate::types::ConvGeom::plain_2d(2, 3, 4, [8, 8], [3, 3]);
    let pool =
        crate::types::PoolGeom { planes: 4, input: [8, 8, 1], kernel: [2, 2, 1], stride: [2, 2, 1], padding: [0; 3] };
    let n = 96;
    let one = || Buffer::Cpu(vec![0.5]);
    let saved = move |c: &Context| {
        let c = Context { sampler: crate::context::SamplerVariant::FusedSaved, ..c.clone() };
        sample_kl_forward_saving_in(&c, &ramp(n), &neg(n), 1, 0, prior).unwrap()
    };
    let u = |f: Box<dyn Fn(&Context)>| f;
    vec![
        ("unary", u(Box::new(move |c| drop(unary_in(c, UnaryOp::Exp, &ramp(n)).unwrap())))),
        (
            "unary_backward",
            u(Box::new(move |c| drop(unary_backward_in(c, UnaryOp::Tanh, &ramp(n), &ramp(n), &ramp(n)).unwrap()))),
        ),
        ("scalar", u(Box::new(move |c| drop(scalar_in(c, ScalarOp::Mul(2.0), &ramp(n)).unwrap())))),
        (
            "scalar_backward",
            u(Box::new(move |c| drop(scalar_backward_in(c, ScalarOp::Pow(2.0), &ramp(n), &ramp(n)).unwrap()))),
        ),
        (
            "binary",
            u(Box::new(move |c| drop(binary_in(c, BinaryOp::Mul, &ramp(n), &[n], &ramp(n), &[n], &[n]).unwrap()))),
        ),
        (
            "binary_backward",
            u(Box::new(move |c| {
                drop(
                    binary_backward_in(c, BinaryOp::Mul, &ramp(n), &[n], &ramp(1), &[1], &ramp(n), &[n], (true, true))
                        .unwrap(),
                )
            })),
        ),
        ("add_rows", u(Box::new(move |c| add_rows_in(c, &mut ramp(n), &ramp(8)).unwrap()))),
        ("sum_to_shape", u(Box::new(move |c| drop(sum_to_shape_in(c, &ramp(n), &[n], &[1]).unwrap())))),
        ("sum_all", u(Box::new(move |c| drop(sum_all_in(c, &ramp(n)).unwrap())))),
        ("sum_axis", u(Box::new(move |c| drop(sum_axis_in(c, &ramp(n), 4, 8, 3).unwrap())))),
        ("expand_axis", u(Box::new(move |c| drop(expand_axis_in(c, &ramp(12), 4, 8, 3).unwrap())))),
        ("max_axis", u(Box::new(move |c| drop(max_axis_in(c, &ramp(n), 4, 8, 3).unwrap())))),
        (
            "max_axis_backward",
            u(Box::new(move |c| drop(max_axis_backward_in(c, &ramp(12), &[1; 12], 4, 8, 3).unwrap()))),
        ),
        ("gemm", u(Box::new(move |c| drop(gemm_in(c, &ramp(48), &ramp(48), 1, 6, 8, 6, Transpose::NN).unwrap())))),
        ("softmax", u(Box::new(move |c| drop(softmax_in(c, &ramp(n), 8, false).unwrap())))),
        ("softmax_backward", u(Box::new(move |c| drop(softmax_backward_in(c, &ramp(n), &ramp(n), 8, true).unwrap())))),
        ("permute", u(Box::new(move |c| drop(permute_in(c, &ramp(n), &[8, 12], &[1, 0]).unwrap())))),
        ("slice_axis", u(Box::new(move |c| drop(slice_axis_in(c, &ramp(n), 4, 8, 3, 2, 4).unwrap())))),
        (
            "slice_axis_backward",
            u(Box::new(move |c| drop(slice_axis_backward_in(c, &ramp(48), 4, 8, 3, 2, 4).unwrap()))),
        ),
        ("concat_axis", u(Box::new(move |c| drop(concat_axis_in(c, &[&ramp(n), &ramp(n)], &[8, 8], 4, 3).unwrap())))),
        ("index_select", u(Box::new(move |c| drop(index_select_in(c, &ramp(n), 4, 8, 3, &[0, 7, 3]).unwrap())))),
        (
            "index_select_backward",
            u(Box::new(move |c| drop(index_select_backward_in(c, &ramp(36), 4, 8, 3, &[0, 7, 3]).unwrap()))),
        ),
        ("gather_rows", u(Box::new(move |c| drop(gather_rows_in(c, &ramp(n), 8, &[1; 12]).unwrap())))),
        (
            "gather_rows_backward",
            u(Box::new(move |c| drop(gather_rows_backward_in(c, &ramp(12), 8, &[1; 12]).unwrap()))),
        ),
        ("normal", u(Box::new(move |c| drop(normal_in(c, Device::Cpu, 1, 0, n).unwrap())))),
        ("reparam_forward", u(Box::new(move |c| drop(reparam_forward_in(c, &ramp(n), &neg(n), 1, 0).unwrap())))),
        (
            "reparam_forward_sigma",
            u(Box::new(move |c| drop(reparam_forward_sigma_in(c, &ramp(n), &ramp(n), 1, 0).unwrap()))),
        ),
        ("reparam_backward", u(Box::new(move |c| drop(reparam_backward_in(c, &neg(n), &ramp(n), 1, 0).unwrap())))),
        ("reparam_log_posterior", u(Box::new(move |c| drop(reparam_log_posterior_in(c, &neg(n), 1, 0).unwrap())))),
        (
            "sample_kl_forward",
            u(Box::new(move |c| drop(sample_kl_forward_in(c, &ramp(n), &neg(n), 1, 0, prior).unwrap()))),
        ),
        (
            "sample_kl_backward",
            u(Box::new(move |c| {
                drop(sample_kl_backward_in(c, &ramp(n), &neg(n), Some(&ramp(n)), &one(), 1, 0, prior).unwrap())
            })),
        ),
        (
            "sample_kl_forward_saving",
            u(Box::new(move |c| drop(sample_kl_forward_saving_in(c, &ramp(n), &neg(n), 1, 0, prior).unwrap()))),
        ),
        (
            "sample_kl_backward_saved",
            u(Box::new(move |c| {
                let (w, _, f) = saved(c);
                drop(sample_kl_backward_saved_in(c, &w, &f.unwrap(), None, &one(), prior).unwrap())
            })),
        ),
        ("kl_at", u(Box::new(move |c| drop(kl_at_in(c, &ramp(n), &neg(n), 1, 0, prior).unwrap())))),
        ("kl_at_backward", u(Box::new(move |c| drop(kl_at_backward_in(c, &ramp(n), &neg(n), &one(), prior).unwrap())))),
        (
            "adam_step",
            u(Box::new(move |c| {
                adam_step_in(c, &mut ramp(n), &mut ramp(n), &mut Buffer::Cpu(vec![0.1; n]), &ramp(n), adam).unwrap()
            })),
        ),
        (
            "sgd_step",
            u(Box::new(move |c| sgd_step_in(c, &mut ramp(n), &mut ramp(n), &ramp(n), 0.1, 0.9, 1e-4).unwrap())),
        ),
        ("scale_inplace", u(Box::new(move |c| scale_inplace_in(c, &mut ramp(n), 0.5).unwrap()))),
        ("all_finite", u(Box::new(move |c| assert!(all_finite_in(c, &ramp(n)).unwrap())))),
        ("first_non_finite", u(Box::new(move |c| assert_eq!(first_non_finite_in(c, &[&ramp(n)]).unwrap(), None)))),
        ("sum_squares_many", u(Box::new(move |c| drop(sum_squares_many_in(c, &[&ramp(n), &ramp(3)]).unwrap())))),
        ("sum_squares", u(Box::new(move |c| assert!(sum_squares_in(c, &ramp(n)).unwrap() > 0.0)))),
        (
            "conv_forward",
            u(Box::new(move |c| {
                drop(
                    conv_forward_in(c, &ramp(conv.input_len()), &ramp(conv.weight_len()), Some(&ramp(4)), &conv)
                        .unwrap(),
                )
            })),
        ),
        (
            "conv_backward",
            u(Box::new(move |c| {
                let (x, w, gy) = (ramp(conv.input_len()), ramp(conv.weight_len()), ramp(conv.output_len()));
                drop(conv_backward_in(c, &x, &w, &gy, &conv, (true, true, true)).unwrap())
            })),
        ),
        (
            "max_pool_forward",
            u(Box::new(move |c| drop(max_pool_forward_in(c, &ramp(pool.input_len()), &pool).unwrap()))),
        ),
        (
            "max_pool_backward",
            u(Box::new(move |c| {
                drop(max_pool_backward_in(c, &ramp(pool.input_len()), &ramp(pool.output_len()), &pool).unwrap())
            })),
        ),
        (
            "avg_pool_forward",
            u(Box::new(move |c| drop(avg_pool_forward_in(c, &ramp(pool.input_len()), &pool).unwrap()))),
        ),
        (
            "avg_pool_backward",
            u(Box::new(move |c| drop(avg_pool_backward_in(c, &ramp(pool.output_len()), &pool).unwrap()))),
        ),
    ]
}

/// The probes above are every public op: the `pub fn` of the family files,
/// read from their source, so that a new op without a probe fails here.
#[test]
fn every_public_op_has_an_entry_probe() {
    let sources = [
        include_str!("mod.rs"),
        include_str!("conv.rs"),
        include_str!("elementwise.rs"),
        include_str!("gemm.rs"),
        include_str!("layout.rs"),
        include_str!("optim.rs"),
        include_str!("reduce.rs"),
        include_str!("sampler/mod.rs"),
        include_str!("sampler/compose.rs"),
    ];
    let mut public: Vec<String> = sources
        .iter()
        .flat_map(|s| s.lines())
        .filter_map(|l| l.strip_prefix("pub fn "))
        .map(|rest| {
            let name = rest.split(['(', '<']).next().unwrap_or_default();
            name.strip_suffix("_in").unwrap_or(name).to_string()
        })
        .collect();
    let mut probed: Vec<String> = entry_probes().into_iter().map(|(name, _)| name.to_string()).collect();
    public.sort();
    probed.sort();
    assert!(public.len() >= 48, "the reader found only {} public ops", public.len());
    assert_eq!(public, probed, "every public op (left) has one entry probe (right)");
}

/// Every public entry point, under every variant of every CPU family, runs
/// its kernel on the context's threads, not on rayon's global pool: called
/// from the test's own thread (no `install` around it) with a pool of a size
/// no other test uses, each op enters that pool, and each op that can split
/// a loop splits it there (default variants, eager split).
#[test]
fn every_entry_point_runs_on_the_context_threads_under_every_variant() {
    use crate::context::{
        installs_on_pools_of, ConvVariant, ElementwiseVariant, GemmVariant, NormalsVariant, SamplerVariant, Threads,
    };
    use crate::cpu::parallel::splits_on_pools_of;
    let size = rayon::current_num_threads() + 5;
    let base = Context { threads: Threads::fixed(size).unwrap(), split: ThreadSplit::eager(), ..Context::default() };
    let mut contexts = vec![("default".to_string(), base.clone())];
    let b = || base.clone();
    contexts.extend(GemmVariant::ALL.iter().map(|&v| (format!("gemm {}", v.name()), Context { gemm: v, ..b() })));
    contexts.extend(
        ElementwiseVariant::ALL
            .iter()
            .map(|&v| (format!("elementwise {}", v.name()), Context { elementwise: v, ..b() })),
    );
    contexts
        .extend(NormalsVariant::ALL.iter().map(|&v| (format!("normals {}", v.name()), Context { normals: v, ..b() })));
    contexts
        .extend(SamplerVariant::ALL.iter().map(|&v| (format!("sampler {}", v.name()), Context { sampler: v, ..b() })));
    contexts.extend(ConvVariant::ALL.iter().map(|&v| (format!("conv {}", v.name()), Context { conv: v, ..b() })));
    let probes = entry_probes();
    assert_eq!(probes.len(), 48, "one probe per public op");
    for (variant, ctx) in &contexts {
        for (name, op) in &probes {
            let before = installs_on_pools_of(size);
            op(ctx);
            assert!(installs_on_pools_of(size) > before, "{name} under {variant} did not run on the context's pool");
        }
    }
    for (name, op, (mid, _)) in split_probes() {
        let before = splits_on_pools_of(size);
        op(&base, mid);
        assert!(splits_on_pools_of(size) > before, "{name} did not split on the context's pool");
    }
    let g = crate::types::ConvGeom::plain_2d(2, 3, 8, [20, 20], [3, 3]);
    let before = splits_on_pools_of(size);
    conv_forward_in(&base, &ramp(g.input_len()), &ramp(g.weight_len()), None, &g).unwrap();
    assert!(splits_on_pools_of(size) > before, "conv_forward did not split on the context's pool");
    let before = splits_on_pools_of(size);
    let pool = crate::types::PoolGeom {
        planes: 400,
        input: [16, 16, 1],
        kernel: [2, 2, 1],
        stride: [2, 2, 1],
        padding: [0; 3],
    };
    max_pool_backward_in(&base, &ramp(400 * 256), &ramp(400 * 64), &pool).unwrap();
    avg_pool_backward_in(&base, &ramp(400 * 64), &pool).unwrap();
    assert!(splits_on_pools_of(size) >= before + 2, "a pooling backward did not split on the context's pool");
}

#[test]
fn expand_axis_repeats_rows_and_fills_scalars() {
    let g = Buffer::Cpu(vec![1.0, 2.0, 3.0, 4.0]);
    // (outer 2, len 3, inner 2): each pair repeated three times.
    let e = expand_axis_in(&Context::default(), &g, 2, 3, 2).unwrap().to_vec().unwrap();
    assert_eq!(e, vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0, 3.0, 4.0]);
    // inner 1 (a sum's backward): a fill per outer element.
    assert_eq!(
        expand_axis_in(&Context::default(), &g, 4, 2, 1).unwrap().to_vec().unwrap(),
        vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0]
    );
    assert_eq!(expand_axis_in(&Context::default(), &g, 4, 0, 1).unwrap().to_vec().unwrap(), Vec::<f32>::new());
    assert!(matches!(expand_axis_in(&Context::default(), &g, 3, 2, 1), Err(Error::ShapeMismatch { .. })));
}
