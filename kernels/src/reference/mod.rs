//! Reference variants: the executable definition of each kernel family, in
//! plain scalar Rust (no macros, no intrinsics, no `unsafe`, no threads),
//! short enough to check by reading. Every fast path is tested against them,
//! bit for bit where the design promises bits and within a stated tolerance
//! elsewhere (see each family's tests and [`crate::registry`]). They are
//! selectable like any other variant ([`crate::context`]) where a family has
//! an `ops` entry point taking a context.
//!
//! - [`reparam`]: the reparameterisation trick — Philox normals named by
//!   (seed, offset), w = mu + softplus(rho)·eps, the posterior's and the
//!   priors' log-densities, the Monte Carlo and closed-form KL, and the
//!   gradient of each; a `BayesianLinear` can run its forward pass on it
//!   (`BayesianLinear::forward_reference` in blitz-layers), and the fast
//!   sampler is tested against it (`kernels/src/cpu/reference_tests.rs`).
//! - [`gemm`], [`elementwise`], [`conv`]: the other families.
//!
//! Slices shorter than their shapes make these functions panic (by indexing):
//! they are definitions, not user-facing entry points.

pub mod conv;
pub mod elementwise;
pub mod gemm;
pub mod reparam;
