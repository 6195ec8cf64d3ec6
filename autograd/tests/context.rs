//! Tapes with different execution contexts side by side in one test: the
//! same model step on the default context and on the reference / unfused
//! variants gives the same loss and gradients (within the variants' stated
//! tolerance), and the default context is bit for bit a tape built without one.

use blitz_autograd::{Result, Tape, Tensor, Var};
use blitz_kernels::context::{
    Context, ConvVariant, ElementwiseVariant, GemmVariant, SamplerVariant, ThreadSplit, Threads,
};
use blitz_kernels::PriorSpec;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn randn(shape: &[usize], std: f32, seed: u64) -> Tensor {
    Tensor::randn(shape, 0.0, std, &mut StdRng::seed_from_u64(seed)).unwrap()
}

/// A Bayesian linear layer's step: w, kl = draw(mu, rho); loss = mean((x·wᵀ)²) + kl/N,
/// then a convolution's, on `tape`. Returns the loss and the gradients of mu, rho and the kernel.
fn step(tape: &Tape) -> Result<Vec<Vec<f32>>> {
    let x = tape.constant(randn(&[16, 13], 1.0, 1));
    let mu = tape.leaf(randn(&[50, 13], 0.1, 2));
    let rho = tape.leaf(Tensor::full(&[50, 13], -5.0).unwrap());
    let prior = PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.002 };
    let (w, kl) = mu.sample_with_kl(&rho, 42, 0, prior)?;
    let h = x.matmul_t(&w)?;
    let img = tape.constant(randn(&[2, 1, 12, 12], 1.0, 3));
    let kernel = tape.leaf(randn(&[6, 1, 5, 5], 0.2, 4));
    let conv = img.conv2d(&kernel, None, &Default::default())?;
    let loss = h.mul(&h)?.mean()?.add(&kl.mul_scalar(1.0 / 506.0)?)?.add(&conv.mul(&conv)?.mean()?)?;
    let grads = tape.backward(&loss)?;
    let g = |v: &Var| grads.wrt(v).expect("a gradient").to_vec();
    Ok(vec![loss.value().to_vec()?, g(&mu)?, g(&rho)?, g(&kernel)?])
}

fn max_rel(a: &[f32], b: &[f32]) -> f32 {
    let scale = b.iter().fold(1e-30f32, |m, v| m.max(v.abs()));
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max) / scale
}

#[test]
fn two_contexts_run_side_by_side_and_agree() {
    let plain = step(&Tape::new(0)).unwrap();
    let default = step(&Tape::new(0).with_context(Context::default())).unwrap();
    assert!(plain == default, "the default context changed the bits");
    // One thread of its own, splitting every loop it can: the tape's ops run on it with no `install` around them.
    let one_thread = Context { threads: Threads::fixed(1).unwrap(), split: ThreadSplit::eager(), ..Context::default() };
    let alone = step(&Tape::new(0).with_context(one_thread)).unwrap();
    assert!(alone == plain, "one thread changed the bits");
    let slow = Context {
        gemm: GemmVariant::Reference,
        elementwise: ElementwiseVariant::Reference,
        sampler: SamplerVariant::Unfused,
        conv: ConvVariant::Im2col,
        ..Context::default()
    };
    let other = step(&Tape::new(0).with_context(slow)).unwrap();
    for (i, what) in ["loss", "grad mu", "grad rho", "grad kernel"].iter().enumerate() {
        let err = max_rel(&other[i], &plain[i]);
        assert!(err <= 1e-5, "{what}: the reference/unfused variants differ by {err:e} (relative to the largest)");
    }
    assert!(other != plain, "different variants gave identical bits: the context did not reach the kernels");
}

#[test]
fn gradients_carry_their_tapes_context_to_the_optimizer() {
    let ctx = Context { split: ThreadSplit::sequential(), ..Context::default() };
    let tape = Tape::new(0).with_context(ctx.clone());
    let x = tape.leaf(Tensor::full(&[3], 2.0).unwrap());
    let grads = tape.backward(&x.mul(&x).unwrap().sum().unwrap()).unwrap();
    assert_eq!(grads.context(), &ctx);
    let plain = Tape::new(0);
    let one = plain.leaf(Tensor::full(&[1], 1.0).unwrap());
    assert_eq!(plain.backward(&one).unwrap().context(), &Context::default());
}
