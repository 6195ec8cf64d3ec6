//! # 6. How the fast kernel does the same thing
//!
//! A layer's default forward (Monte Carlo KL, scale-mixture prior) runs
//! [`Var::sample_with_kl`](crate::autograd::Var::sample_with_kl): one pass
//! over the weights that draws eps, writes w and sums the KL, on every core,
//! with AVX-512 where the CPU has it (or one CUDA kernel). It computes what
//! chapters 2 and 4 wrote down — the reference,
//! [`reference::reparam`](crate::kernels::reference::reparam) — and is
//! tested against it (`kernels/src/cpu/reference_tests.rs`,
//! `autograd/tests/reparam.rs`, `layers/tests/reference.rs`). Step by step,
//! reference first, fast path second:
//!
//! 1. **Draws are named, not generated.** A forward pass reserves n normals
//!    with [`Tape::draw`](crate::autograd::Tape::draw), which returns a name
//!    (seed, offset); normal i of that draw is a pure function of
//!    (seed, offset + i). Reference: [`normal`](crate::kernels::reference::reparam::normal).
//!    Fast: [`ops::normal_in`](crate::kernels::ops::normal_in) (`cpu/random.rs`:
//!    `fill_normal` and `for_each_normal_chunk`, which hand 64 normals at a time to the
//!    kernel's loop). Because nothing depends on a generator's state, any
//!    thread can make any element, and backward can make them again.
//! 2. **Philox** (Salmon et al. 2011): a counter-based generator, ten rounds
//!    of multiply-and-XOR on the block number under the seed. Reference:
//!    [`philox4x32_10`](crate::kernels::reference::reparam::philox4x32_10), one
//!    block. Fast: `cpu/random.rs` runs 16 blocks at once, one AVX-512
//!    register per word (the same words; tested against Random123's
//!    published answers).
//! 3. **Box-Muller** turns two uniforms into two normals,
//!    r = √(−2 ln u1), θ = 2π·u2. Its ln, sin and cos are
//!    [`fastmath`](crate::kernels::fastmath)'s, written as exactly
//!    rounded f32 operations, so the scalar, AVX2 and AVX-512 builds — and
//!    the GPU's `SamplerMath::Exact` — give the same bits. (The standard
//!    library's would differ in the last bit from one platform to another.)
//! 4. **eps is never stored.** The gradient needs eps again
//!    (∂w/∂rho = eps·sigmoid(rho)). Reference:
//!    [`sample_all_backward`](crate::kernels::reference::reparam::sample_all_backward)
//!    recomputes it from its name. Fast: the GPU does the same (it is bound
//!    by memory, so recomputing is cheaper than reading); the CPU, bound by
//!    arithmetic, keeps two factors per weight instead,
//!    a = sigmoid(rho)·eps and b = −sigmoid(rho)/sigma
//!    ([`ops::sample_kl_forward_saving_in`](crate::kernels::ops::sample_kl_forward_saving_in)),
//!    from which the backward is
//!    g_rho = g_w·a + g_kl·(b − a·p'(w)) — the reference's chain rule
//!    ([`mc_kl_term_grad`](crate::kernels::reference::reparam::mc_kl_term_grad)
//!    plus [`sample_grad`](crate::kernels::reference::reparam::sample_grad))
//!    grouped by factor.
//! 5. **The KL is fused into the draw.** Since w − mu = sigma·eps, ln q(w) =
//!    −ln sigma − eps²/2 − ln √(2π): no division, and eps is already in a
//!    register. The prior's ln p(w) (log-sum-exp for the mixture) follows in
//!    the same loop. Reference: [`mc_kl`](crate::kernels::reference::reparam::mc_kl),
//!    one weight at a time through the densities. Fast:
//!    [`ops::sample_kl_forward_in`](crate::kernels::ops::sample_kl_forward_in) (`cpu/sample_kl.rs`),
//!    whose sum runs in fixed chunks of 4096 weights (16 f32 lanes, then
//!    f64) added in chunk order: the same bits on any number of threads.
//!    The reference sums in index order, so the two agree to rounding.
//! 6. **On the tape**, the fused op is two entries (w and the KL) sharing
//!    one saved state, so their gradients are made in one pass. Reference:
//!    [`Var::reference_sample`](crate::autograd::Var::reference_sample) and
//!    [`Var::reference_mc_kl`](crate::autograd::Var::reference_mc_kl), two
//!    independent entries whose gradients add up in the backward loop.
//! 7. **CPU and GPU.** The CUDA source (`kernels/src/cuda/cu/`) repeats
//!    Philox and `fastmath` operation for operation: with
//!    `SamplerMath::Exact` a GPU draws the CPU's bits; with the default
//!    `SamplerMath::Fast` (hardware ln/sin/cos) it is within 5e-6.
//!
//! Checked here, on the CPU: the same normals and weights bit for bit, the
//! KL to rounding, the saved factors' gradient, and the same bits on one and
//! two threads.
//!
//! ```
//! use blitz::kernels::context::{Context, ThreadSplit, Threads};
//! use blitz::kernels::reference::reparam as reference;
//! use blitz::kernels::{ops, Buffer, Device, PriorSpec};
//! let n = 10_000; // more than one chunk of 4096: the threaded path runs
//! let mu: Vec<f32> = (0..n).map(|i| 0.1 * (i as f32 * 0.3).sin()).collect();
//! let rho: Vec<f32> = (0..n).map(|i| -4.0 + (i as f32 * 0.7).cos()).collect();
//! let (mu_b, rho_b) = (Buffer::Cpu(mu.clone()), Buffer::Cpu(rho.clone()));
//! let prior = PriorSpec::ScaleMixture { pi: 0.5, sigma1: 0.1, sigma2: 0.4 };
//! let (seed, offset) = (7, 12);
//! // Which variants run, on which threads, and when a loop is split over
//! // them: a context passed to every kernel, never a global switch.
//! let ctx = Context::default();
//!
//! // 1-3: the same normals.
//! let fast_eps = ops::normal_in(&ctx, Device::Cpu, seed, offset, n)?.to_vec()?;
//! let mut ref_eps = vec![0.0; n];
//! reference::normals(seed, offset, &mut ref_eps);
//! assert_eq!(fast_eps, ref_eps);
//!
//! // 4-5: one fused pass, w bit for bit, the KL to rounding.
//! let (w, kl, factors) = ops::sample_kl_forward_saving_in(&ctx, &mu_b, &rho_b, seed, offset, prior)?;
//! let factors = factors.expect("the CPU keeps the two factors");
//! let mut ref_w = vec![0.0; n];
//! reference::sample_all(&mu, &rho, seed, offset, &mut ref_w);
//! assert_eq!(w.to_vec()?, ref_w);
//! let (kl, ref_kl) = (kl.to_vec()?[0] as f64, reference::mc_kl(&mu, &rho, seed, offset, prior));
//! assert!((kl - ref_kl).abs() < 1e-5 * ref_kl.abs());
//!
//! // 4: the gradient from the two saved factors, against the reference chain rule.
//! let g_kl = 0.01; // ∂loss/∂KL: the KL weight
//! let (g_mu, g_rho) = ops::sample_kl_backward_saved_in(&ctx, &w, &factors, None, &Buffer::Cpu(vec![g_kl]), prior)?;
//! let (g_mu, g_rho) = (g_mu.to_vec()?, g_rho.to_vec()?);
//! for i in (0..n).step_by(97) {
//!     let (d_mu, d_rho) = reference::mc_kl_term_grad(mu[i], rho[i], ref_eps[i], prior);
//!     let (want_mu, want_rho) = (g_kl as f64 * d_mu, g_kl as f64 * d_rho);
//!     assert!((g_mu[i] as f64 - want_mu).abs() < 1e-4 * want_mu.abs().max(1e-3), "mu {i}");
//!     assert!((g_rho[i] as f64 - want_rho).abs() < 1e-4 * want_rho.abs().max(1e-3), "rho {i}");
//! }
//!
//! // 5: the same bits on one thread and on two, split or not.
//! let run = |threads, split| -> blitz::kernels::Result<(Vec<f32>, Vec<f32>)> {
//!     let ctx = Context { threads: Threads::fixed(threads)?, split, ..Context::default() };
//!     let (w, kl) = ops::sample_kl_forward_in(&ctx, &mu_b, &rho_b, seed, offset, prior)?;
//!     Ok((kl.to_vec()?, w.to_vec()?))
//! };
//! assert_eq!(run(1, ThreadSplit::default())?, run(2, ThreadSplit::default())?);
//! assert_eq!(run(2, ThreadSplit::sequential())?, run(2, ThreadSplit::eager())?);
//! # Ok::<(), blitz::kernels::Error>(())
//! ```
//!
//! And through a whole layer: the default forward and
//! [`BayesianLinear::forward_reference`](crate::layers::BayesianLinear::forward_reference)
//! on tapes of the same seed give the same output, bit for bit.
//!
//! ```
//! use blitz::prelude::*;
//! use rand::{rngs::StdRng, SeedableRng};
//! let layer = BayesianLinear::new(13, 50, &mut StdRng::seed_from_u64(0))?;
//! let x = Tensor::randn(&[8, 13], 0.0, 1.0, &mut StdRng::seed_from_u64(1))?;
//! let (fast, slow) = (Tape::new(5), Tape::new(5));
//! let y_fast = layer.forward(&fast.constant(x.clone()))?;
//! let y_ref = layer.forward_reference(&slow.constant(x))?;
//! assert_eq!(y_fast.value().to_vec()?, y_ref.value().to_vec()?);
//! let (kl_fast, kl_ref) = (fast.complexity()?.item()?, slow.complexity()?.item()?);
//! assert!((kl_fast - kl_ref).abs() < 1e-4 * kl_ref.abs());
//! # Ok::<(), blitz::prelude::Error>(())
//! ```
