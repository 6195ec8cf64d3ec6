//! # A tour of the reparameterisation trick, from the formula to the fused kernel
//!
//! Six short chapters for a reader who knows Rust and calculus but not
//! Bayesian neural networks. Every code block is a doctest: `cargo test
//! --doc -p blitz` runs them (and `cargo test --workspace`, so CI does), so
//! the tour cannot drift from the code.
//!
//! 1. [`ch1_tape`]: reverse-mode automatic differentiation on a tape — a
//!    value, a Wengert list, the backward loop; checking a gradient by
//!    finite differences.
//! 2. [`ch2_trick`]: **the trick** — w = mu + sigma·eps with sigma =
//!    softplus(rho); ∂w/∂mu and ∂w/∂rho by hand, checked by `gradcheck`; why
//!    a sample of a distribution has a gradient at all.
//! 3. [`ch3_score_function`]: why not the score function (REINFORCE) — both
//!    estimators of the same gradient, their variance side by side.
//! 4. [`ch4_layer`]: from one weight to a layer — the ELBO, the KL in closed
//!    form and by Monte Carlo, the priors, and the KL weight (why BLiTZ's
//!    default makes models that do not learn).
//! 5. [`ch5_variance`]: less variance per step — Flipout and local
//!    reparameterisation, measured.
//! 6. [`ch6_fast_kernel`]: how the fast kernel does the same thing — draws
//!    named by (seed, offset), eps regenerated or two factors kept, the KL
//!    fused into the draw, the CPU/GPU bitwise contract; each step beside
//!    its reference.
//!
//! Open second, after this tour: `kernels/src/reference/reparam.rs`
//! ([`crate::kernels::reference::reparam`]), the whole trick — sampler,
//! log-densities, KL and their gradients — as plain scalar Rust with no
//! macros, intrinsics or `unsafe`. Every fast path is tested against it
//! (`kernels/src/cpu/reference_tests.rs`), and a layer runs on it with
//! [`BayesianLinear::forward_reference`](crate::layers::BayesianLinear::forward_reference).
//! From that method to the formula is four hops, one per crate layer:
//!
//! 1. `layers/src/bayesian_linear.rs`: `BayesianLinear::forward_reference`;
//! 2. `layers/src/posterior.rs`: `GaussianParam::sample_reference` (names
//!    the draw, picks the KL term);
//! 3. `autograd/src/ops/reference.rs`: [`Var::reference_sample`](crate::autograd::Var::reference_sample)
//!    and [`Var::reference_mc_kl`](crate::autograd::Var::reference_mc_kl)
//!    (the tape entries);
//! 4. `kernels/src/reference/reparam.rs`: [`sample`](crate::kernels::reference::reparam::sample),
//!    w = mu + softplus(rho)·eps, and [`normal`](crate::kernels::reference::reparam::normal).
//!
//! The measurements of chapters 3 and 5 at full size:
//! `cargo run --release --example reparam_trick -- --json`.

pub mod ch1_tape;
pub mod ch2_trick;
pub mod ch3_score_function;
pub mod ch4_layer;
pub mod ch5_variance;
pub mod ch6_fast_kernel;
