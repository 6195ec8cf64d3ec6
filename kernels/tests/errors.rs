//! One length check at the top of every public op: with operands whose
//! lengths do not fit together, every variant of every family (each chosen
//! by the context, one family at a time) returns the same typed error, and
//! none panics (the fused sampler used to index past the shorter operand).

use blitz_kernels::context::{Context, ConvVariant, ElementwiseVariant, GemmVariant, NormalsVariant, SamplerVariant};
use blitz_kernels::{
    ops, AdamStep, BinaryOp, Buffer, ConvGeom, Error, PoolGeom, PriorSpec, ScalarOp, Transpose, UnaryOp,
};

fn buf(n: usize) -> Buffer {
    Buffer::Cpu((0..n).map(|i| 0.01 * i as f32 - 0.3).collect())
}

/// The default context and one context per variant of every CPU family.
fn every_variant() -> Vec<(String, Context)> {
    let d = Context::default;
    let mut out = vec![("default".to_string(), d())];
    out.extend(GemmVariant::ALL.iter().map(|&v| (format!("gemm {}", v.name()), Context { gemm: v, ..d() })));
    out.extend(
        ElementwiseVariant::ALL
            .iter()
            .map(|&v| (format!("elementwise {}", v.name()), Context { elementwise: v, ..d() })),
    );
    out.extend(NormalsVariant::ALL.iter().map(|&v| (format!("normals {}", v.name()), Context { normals: v, ..d() })));
    out.extend(SamplerVariant::ALL.iter().map(|&v| (format!("sampler {}", v.name()), Context { sampler: v, ..d() })));
    out.extend(ConvVariant::ALL.iter().map(|&v| (format!("conv {}", v.name()), Context { conv: v, ..d() })));
    out
}

type Call = Box<dyn Fn(&Context) -> Result<(), Error>>;

/// Every public op on operands whose lengths do not fit its sizes or each other.
fn mismatched_calls() -> Vec<(&'static str, Call)> {
    let prior = PriorSpec::Gaussian { sigma: 0.3 };
    let adam = AdamStep { step_size: 1e-3, beta1: 0.9, beta2: 0.999, eps_hat: 1e-8, weight_decay: 0.0 };
    let conv = ConvGeom::plain_2d(1, 2, 3, [6, 6], [3, 3]);
    let pool = PoolGeom { planes: 2, input: [4, 4, 1], kernel: [2, 2, 1], stride: [2, 2, 1], padding: [0; 3] };
    let (n, short) = (40, 39);
    let unit = || buf(1);
    vec![
        (
            "unary_backward",
            Box::new(move |c| ops::unary_backward_in(c, UnaryOp::Tanh, &buf(n), &buf(n), &buf(short)).map(drop)),
        ),
        (
            "scalar_backward",
            Box::new(move |c| ops::scalar_backward_in(c, ScalarOp::Pow(2.0), &buf(n), &buf(short)).map(drop)),
        ),
        (
            "binary",
            Box::new(move |c| ops::binary_in(c, BinaryOp::Mul, &buf(n), &[n], &buf(short), &[n], &[n]).map(drop)),
        ),
        (
            "binary_backward",
            Box::new(move |c| {
                ops::binary_backward_in(c, BinaryOp::Mul, &buf(n), &[n], &buf(n), &[n], &buf(short), &[n], (true, true))
                    .map(drop)
            }),
        ),
        ("add_rows", Box::new(move |c| ops::add_rows_in(c, &mut buf(n), &buf(7)))),
        ("sum_to_shape", Box::new(move |c| ops::sum_to_shape_in(c, &buf(short), &[n], &[1]).map(drop))),
        ("sum_axis", Box::new(move |c| ops::sum_axis_in(c, &buf(short), 2, 20, 1).map(drop))),
        ("expand_axis", Box::new(move |c| ops::expand_axis_in(c, &buf(short), 2, 3, 20).map(drop))),
        ("max_axis", Box::new(move |c| ops::max_axis_in(c, &buf(short), 2, 20, 1).map(drop))),
        ("max_axis_backward", Box::new(move |c| ops::max_axis_backward_in(c, &buf(2), &[0], 2, 20, 1).map(drop))),
        ("gemm", Box::new(move |c| ops::gemm_in(c, &buf(n), &buf(short), 1, 5, 8, 5, Transpose::NN).map(drop))),
        ("softmax", Box::new(move |c| ops::softmax_in(c, &buf(short), 4, false).map(drop))),
        ("softmax_backward", Box::new(move |c| ops::softmax_backward_in(c, &buf(n), &buf(short), 4, true).map(drop))),
        ("permute", Box::new(move |c| ops::permute_in(c, &buf(short), &[4, 10], &[1, 0]).map(drop))),
        ("slice_axis", Box::new(move |c| ops::slice_axis_in(c, &buf(short), 2, 20, 1, 0, 3).map(drop))),
        (
            "slice_axis_backward",
            Box::new(move |c| ops::slice_axis_backward_in(c, &buf(short), 2, 20, 1, 0, 3).map(drop)),
        ),
        ("concat_axis", Box::new(move |c| ops::concat_axis_in(c, &[&buf(n), &buf(short)], &[20, 20], 2, 1).map(drop))),
        ("index_select", Box::new(move |c| ops::index_select_in(c, &buf(short), 2, 20, 1, &[0, 1]).map(drop))),
        (
            "index_select_backward",
            Box::new(move |c| ops::index_select_backward_in(c, &buf(short), 2, 20, 1, &[0, 1]).map(drop)),
        ),
        ("gather_rows", Box::new(move |c| ops::gather_rows_in(c, &buf(short), 4, &[0; 10]).map(drop))),
        ("gather_rows_backward", Box::new(move |c| ops::gather_rows_backward_in(c, &buf(9), 4, &[0; 10]).map(drop))),
        ("reparam_forward", Box::new(move |c| ops::reparam_forward_in(c, &buf(n), &buf(short), 1, 0).map(drop))),
        (
            "reparam_forward_sigma",
            Box::new(move |c| ops::reparam_forward_sigma_in(c, &buf(n), &buf(short), 1, 0).map(drop)),
        ),
        ("reparam_backward", Box::new(move |c| ops::reparam_backward_in(c, &buf(n), &buf(short), 1, 0).map(drop))),
        (
            "sample_kl_forward",
            Box::new(move |c| ops::sample_kl_forward_in(c, &buf(n), &buf(short), 1, 0, prior).map(drop)),
        ),
        (
            "sample_kl_forward (rho longer)",
            Box::new(move |c| ops::sample_kl_forward_in(c, &buf(short), &buf(n), 1, 0, prior).map(drop)),
        ),
        (
            "sample_kl_forward_saving",
            Box::new(move |c| ops::sample_kl_forward_saving_in(c, &buf(n), &buf(short), 1, 0, prior).map(drop)),
        ),
        (
            "sample_kl_backward",
            Box::new(move |c| {
                ops::sample_kl_backward_in(c, &buf(n), &buf(short), None, &unit(), 1, 0, prior).map(drop)
            }),
        ),
        (
            "sample_kl_backward (g_w)",
            Box::new(move |c| {
                ops::sample_kl_backward_in(c, &buf(n), &buf(n), Some(&buf(short)), &unit(), 1, 0, prior).map(drop)
            }),
        ),
        (
            "sample_kl_backward (g_kl)",
            Box::new(move |c| ops::sample_kl_backward_in(c, &buf(n), &buf(n), None, &buf(2), 1, 0, prior).map(drop)),
        ),
        (
            "sample_kl_backward_saved",
            Box::new(move |c| {
                let saving = Context { sampler: SamplerVariant::FusedSaved, ..c.clone() };
                let (w, _, f) = ops::sample_kl_forward_saving_in(&saving, &buf(n), &buf(n), 1, 0, prior)?;
                let f = f.expect("a CPU draw keeps its factors");
                ops::sample_kl_backward_saved_in(c, &w, &f, Some(&buf(short)), &unit(), prior).map(drop)
            }),
        ),
        ("kl_at", Box::new(move |c| ops::kl_at_in(c, &buf(n), &buf(short), 1, 0, prior).map(drop))),
        (
            "kl_at_backward",
            Box::new(move |c| ops::kl_at_backward_in(c, &buf(n), &buf(short), &unit(), prior).map(drop)),
        ),
        (
            "kl_at_backward (g_kl)",
            Box::new(move |c| ops::kl_at_backward_in(c, &buf(n), &buf(n), &buf(3), prior).map(drop)),
        ),
        (
            "adam_step",
            Box::new(move |c| ops::adam_step_in(c, &mut buf(n), &mut buf(n), &mut buf(short), &buf(n), adam)),
        ),
        ("sgd_step", Box::new(move |c| ops::sgd_step_in(c, &mut buf(n), &mut buf(short), &buf(n), 0.1, 0.9, 0.0))),
        ("sgd_step (g)", Box::new(move |c| ops::sgd_step_in(c, &mut buf(n), &mut buf(n), &buf(short), 0.1, 0.9, 0.0))),
        (
            "conv_forward",
            Box::new(move |c| {
                ops::conv_forward_in(c, &buf(conv.input_len() - 1), &buf(conv.weight_len()), None, &conv).map(drop)
            }),
        ),
        (
            "conv_backward",
            Box::new(move |c| {
                let (x, w, gy) = (buf(conv.input_len()), buf(conv.weight_len()), buf(conv.output_len() + 1));
                ops::conv_backward_in(c, &x, &w, &gy, &conv, (true, true, true)).map(drop)
            }),
        ),
        ("max_pool_forward", Box::new(move |c| ops::max_pool_forward_in(c, &buf(31), &pool).map(drop))),
        ("max_pool_backward", Box::new(move |c| ops::max_pool_backward_in(c, &buf(32), &buf(7), &pool).map(drop))),
        ("avg_pool_forward", Box::new(move |c| ops::avg_pool_forward_in(c, &buf(33), &pool).map(drop))),
        ("avg_pool_backward", Box::new(move |c| ops::avg_pool_backward_in(c, &buf(9), &pool).map(drop))),
    ]
}

#[test]
fn every_variant_returns_the_same_typed_error_for_lengths_that_do_not_fit() {
    let contexts = every_variant();
    for (op, call) in mismatched_calls() {
        let mut first: Option<String> = None;
        for (variant, ctx) in &contexts {
            let err = match call(ctx) {
                Ok(()) => panic!("{op} under {variant}: accepted operands that do not fit"),
                Err(e) => e,
            };
            assert!(
                matches!(err, Error::ShapeMismatch { .. } | Error::InvalidShape { .. }),
                "{op} under {variant}: {err} is not a shape error"
            );
            let text = err.to_string();
            match &first {
                None => first = Some(text),
                Some(want) => assert_eq!(&text, want, "{op}: {variant} and the default give different errors"),
            }
        }
    }
}
