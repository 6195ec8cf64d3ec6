//! Property tests: random sequences of ops and layers on random shapes —
//! mismatched, zero-sized, out-of-range axes and indices, non-finite values —
//! must return `Ok` or a typed `Err`, never panic. Each call runs under
//! `catch_unwind`. Cases: `PROPTEST_CASES` (default 64 per property).

use blitz_autograd::{loss, ConvParams, PoolParams, Tape, Tensor, Var};
use blitz_layers::{
    AvgPool1d, BayesianConv1d, BayesianConv2d, BayesianLinear, Conv1d, Conv2d, Dropout, Flatten, Linear, MaxPool1d,
    MaxPool2d, Module, ReLU, Sequential, VariationalEstimator,
};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::panic::{catch_unwind, AssertUnwindSafe};

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Runs `f`, failing the property (with `what`) if it panics.
fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, TestCaseError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| TestCaseError::fail(format!("panic in {what}")))
}

/// A shape of rank 0..=4 with sizes 0..=4 (zero-sized included).
fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..=4, 0..=4)
}

/// Values for a shape: mostly small finite numbers, sometimes NaN or ±inf.
fn tensor(shape: &[usize], seed: u64, specials: bool) -> Tensor {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| {
            let h = (seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            match (specials, h % 97) {
                (true, 0) => f32::NAN,
                (true, 1) => f32::INFINITY,
                (true, 2) => f32::NEG_INFINITY,
                _ => ((h >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0,
            }
        })
        .collect();
    Tensor::from_vec(data, shape).expect("sizes match")
}

/// One op applied to `a` (and `b`): which one and its arguments come from `code`/`arg`.
fn apply(code: u8, arg: usize, a: &Var, b: &Var) -> blitz_autograd::Result<Var> {
    match code % 30 {
        0 => a.add(b),
        1 => a.sub(b),
        2 => a.mul(b),
        3 => a.div(b),
        4 => a.matmul(b),
        5 => a.matmul_t(b),
        6 => Var::concat(&[a, b], arg % 5),
        7 => a.sum_axis(arg % 5, arg.is_multiple_of(2)),
        8 => a.mean_axis(arg % 5, arg % 2 == 1),
        9 => a.max_axis(arg % 5, true),
        10 => a.softmax(),
        11 => a.log_softmax(),
        12 => a.reshape(&[arg % 4, (arg / 4) % 4 + 1]),
        13 => a.flatten(),
        14 => a.permute(&[arg % 3, (arg / 3) % 3, (arg / 9) % 3][..a.shape().len().min(3)]),
        15 => a.transpose(arg % 4, (arg / 4) % 4),
        16 => a.slice(arg % 4, (arg / 4) % 4, (arg / 16) % 4),
        17 => a.index_select(arg % 4, &[arg % 5, (arg / 5) % 5]),
        18 => a.gather_rows(&[arg % 5, 0]),
        19 => a.sum(),
        20 => a.mean(),
        21 => a.log(),
        22 => a.sqrt(),
        23 => a.softplus(),
        24 => a.powf(arg as f32 * 0.5 - 1.0),
        25 => a.div_scalar((arg % 3) as f32),
        26 => a.conv1d(b, None, &ConvParams::default().stride(arg % 3).padding(arg % 2)),
        27 => a.conv2d(b, None, &ConvParams::default().groups(arg % 3)),
        28 => a.max_pool2d(&PoolParams::new(arg % 3)),
        _ => a.reparam_sample(b, arg as u64, 0),
    }
}

proptest! {
    #![proptest_config(config())]

    /// A random chain of ops: each result (when Ok) feeds the next; then
    /// backward from the sum. Nothing panics.
    #[test]
    fn op_sequences_never_panic(
        sa in shape(),
        sb in shape(),
        ops in prop::collection::vec((any::<u8>(), 0usize..64), 1..8),
        seed in any::<u64>(),
        specials in any::<bool>(),
    ) {
        let tape = Tape::new(seed);
        let mut a = tape.leaf(tensor(&sa, seed, specials));
        let b = tape.leaf(tensor(&sb, seed ^ 1, specials));
        for (code, arg) in ops {
            let r = no_panic(&format!("op {} ({arg}) on {:?} and {:?}", code % 30, a.shape(), b.shape()), || {
                apply(code, arg, &a, &b)
            })?;
            if let Ok(v) = r {
                a = v;
            }
        }
        no_panic("backward", || a.sum().and_then(|s| tape.backward(&s)).map(|_| ()))?.ok();
    }

    /// Losses with random shapes and labels (out-of-range ones included).
    #[test]
    fn losses_never_panic(
        sp in shape(),
        st in shape(),
        labels in prop::collection::vec(0usize..6, 0..6),
        seed in any::<u64>(),
    ) {
        let tape = Tape::new(seed);
        let p = tape.leaf(tensor(&sp, seed, true));
        let t = tape.constant(tensor(&st, seed ^ 2, true));
        no_panic("mse", || loss::mse(&p, &t).map(|_| ()))?.ok();
        no_panic("cross_entropy", || loss::cross_entropy(&p, &labels).map(|_| ()))?.ok();
        no_panic("gaussian_nll", || loss::gaussian_nll(&p, &t, &t).map(|_| ()))?.ok();
        no_panic("bce_with_logits", || loss::bce_with_logits(&p, &t).map(|_| ()))?.ok();
    }

    /// Layers of random sizes (0 included) on inputs of random shapes, and
    /// the ELBO on them with random targets.
    #[test]
    fn layers_never_panic(
        kind in 0u8..10,
        a in 0usize..5,
        b in 0usize..5,
        k in 0usize..4,
        sx in shape(),
        seed in any::<u64>(),
        specials in any::<bool>(),
        sample_nbr in 0usize..3,
        weight in prop_oneof![Just(0.0f32), Just(0.1), Just(-1.0), Just(f32::NAN)],
    ) {
        let r = &mut StdRng::seed_from_u64(seed);
        let layer: blitz_autograd::Result<Box<dyn Module>> = no_panic("construct", || match kind {
            0 => Linear::new(a, b, k % 2 == 0, r).map(|l| Box::new(l) as Box<dyn Module>),
            1 => BayesianLinear::new(a, b, r).map(|l| Box::new(l) as Box<dyn Module>),
            2 => Conv1d::new(a, b, k, r).map(|l| Box::new(l) as Box<dyn Module>),
            3 => Conv2d::new(a, b, k, r).map(|l| Box::new(l) as Box<dyn Module>),
            4 => BayesianConv1d::new(a, b, k, r).map(|l| Box::new(l) as Box<dyn Module>),
            5 => BayesianConv2d::new(a, b, (k, a), r).map(|l| Box::new(l) as Box<dyn Module>),
            6 => Ok(Box::new(MaxPool2d::new(k)) as Box<dyn Module>),
            7 => Ok(Box::new(Sequential::new().push(MaxPool1d::new(k)).push(AvgPool1d::new(a)).push(Flatten)) as Box<dyn Module>),
            8 => Dropout::new(a as f32 / 4.0).map(|l| Box::new(l) as Box<dyn Module>),
            _ => BayesianLinear::new(a, b, r).map(|l| Box::new(Sequential::new().push(l).push(ReLU)) as Box<dyn Module>),
        })?;
        let Ok(layer) = layer else { return Ok(()) };
        let tape = Tape::new(seed);
        let x = tape.constant(tensor(&sx, seed, specials));
        let y = no_panic("forward", || layer.forward(&x))?;
        if let Ok(y) = &y {
            let target = tape.constant(tensor(y.shape(), seed ^ 3, specials));
            no_panic("sample_elbo", || {
                layer.sample_elbo(&x, &target, loss::mse, sample_nbr, weight).and_then(|l| tape.backward(&l)).map(|_| ())
            })?.ok();
        }
        let y_bad = tape.constant(tensor(&sx, seed ^ 4, specials));
        no_panic("sample_elbo (mismatched)", || layer.sample_elbo(&x, &y_bad, loss::mse, 2, 0.1).map(|_| ()))?.ok();
        no_panic("mfvi_forward", || layer.mfvi_forward(&x, sample_nbr).map(|_| ()))?.ok();
    }

    /// Tensor construction from arbitrary lengths and shapes.
    #[test]
    fn tensor_construction_never_panics(len in 0usize..30, s in shape()) {
        let r = no_panic("from_vec", || Tensor::from_vec(vec![1.0; len], &s))?;
        prop_assert_eq!(r.is_ok(), len == s.iter().product::<usize>());
        if let Ok(t) = r {
            no_panic("reshape", || t.reshape(&[len, 1]).map(|_| ()))?.ok();
            no_panic("argmax_rows", || t.argmax_rows(&blitz_kernels::Context::default()).map(|_| ()))?.ok();
        }
    }
}
